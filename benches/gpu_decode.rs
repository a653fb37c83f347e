//! GPU GDeflate decode throughput: the `gdeflate_decode` kernels (ash core) against the CPU
//! decoder (`dsr-gdeflate`) on the same data, in one run.
//!
//! Data: every corpus `gdeflate/*.gdf` stream (`$DSR_CORPUS`, default `../shared/corpus`),
//! plus the files named as arguments or in `$DSR_BENCH_INPUTS` (`:`-separated): tile streams
//! are used as they are, other files are compressed at the default level first. The set is
//! repeated until it decodes to `$DSR_BENCH_MIB` MiB (default 256; 8 when the Vulkan device
//! is a software rasterizer or there is none, so the run stays short).
//!
//! - **gpu KERNEL**: one row per decode kernel the device runs (`gdeflate_decode`, and
//!   `gdeflate_decode_subgroup` where the subgroup size is 32): every page of the whole data
//!   in ONE [`DecodeJob`] per kernel, made resident before timing (upload and readback are
//!   not timed), its destination poisoned. A run is `submit_decode_with` + `wait`, timed on
//!   the host, so command recording and submission are included. One warm-up run, then the
//!   output is checked against the CPU decoder (every status OK, every byte equal) before
//!   any figure is printed: a benchmark of wrong results is worthless.
//! - **cpu, 1 thread**: `dsr_gdeflate::decompress_into` on each stream, one thread.
//! - **cpu, N threads**: the same pages on every core, as `decompress_into` schedules a
//!   stream's tiles, but over all pages at once so thread start-up is paid once per run
//!   rather than once per stream.
//!
//! `$DSR_BENCH_VERIFY=0` skips the check, for ablation builds (a kernel with a part cut out,
//! to measure what that part costs): it prints a warning, and its figures are not results.
//!
//! Each engine runs `$DSR_BENCH_RUNS` times (default 9): the GPU kernels back to back after
//! 0.3 s of warm-up decoding (so the GPU is at its working clock, not ramping up from idle),
//! then the two CPU engines alternating. Figures are GB/s = 10^9 bytes of **decoded** output per second:
//! the median with the min–max spread, and the ratio to the CPU on all threads. Without a
//! usable Vulkan device the CPU rows are printed with a note. `$DSR_BENCH_DEVICE=N` picks
//! Vulkan device N (as listed by `dsr info`); `$DSR_BENCH_PER_STREAM=1` adds one row set per
//! source stream (each repeated to a share of the target size).
//!
//! Run: `cargo bench --bench gpu_decode [-- FILE...]`.

use common::{Data, Input, Result, cpu_model, env_usize, inputs, stats};
use ds_runtime::vulkan::{ContextOptions, DecodeJob, DeviceType, VulkanContext, status_error};
use dsr_gdeflate::{PageDecoder, TILE_SIZE};
use std::sync::Mutex;
use std::time::{Duration, Instant};

mod common;

/// The CPU engines.
impl Data<'_> {
    fn cpu_one_thread(&self, out: &mut [u8]) {
        for &(input, at) in &self.copies {
            dsr_gdeflate::decompress_into(&input.bytes, &mut out[at..at + input.decoded], 1)
                .unwrap_or_else(|e| panic!("{}: {e}", input.name));
        }
    }

    fn cpu_all_threads(&self, out: &mut [u8], threads: usize) {
        let mut work: Vec<(&[u8], &mut [u8])> = Vec::with_capacity(self.pages);
        let mut rest = out;
        for &(input, _) in &self.copies {
            let (mine, tail) = rest.split_at_mut(input.decoded);
            rest = tail;
            for ((range, _), dst) in input.pages.iter().zip(mine.chunks_mut(TILE_SIZE)) {
                work.push((&input.bytes[range.clone()], dst));
            }
        }
        let queue = Mutex::new(work.into_iter());
        std::thread::scope(|s| {
            for _ in 0..threads {
                s.spawn(|| {
                    let mut decoder = PageDecoder::new();
                    loop {
                        let Some((page, dst)) = queue.lock().unwrap().next() else { break };
                        decoder.decode(page, dst).expect("verified data decodes");
                    }
                });
            }
        });
    }
}

/// Checks the GPU's output of `job` against the CPU decoder's `expected`.
fn verify(ctx: &VulkanContext, job: &DecodeJob, data: &Data<'_>, expected: &[u8]) -> Result<()> {
    let (dst, statuses) = ctx.decode_results(job)?;
    let owner = |page: usize| {
        let mut first = 0;
        for &(input, _) in &data.copies {
            if page < first + input.pages.len() {
                return format!("{} tile {}", input.name, page - first);
            }
            first += input.pages.len();
        }
        format!("page {page}")
    };
    for (i, s) in statuses.iter().enumerate() {
        if let Some(kind) = status_error(s)? {
            return Err(
                format!("GPU decode failed on {}: {kind} (byte offset {})", owner(i), s.offset).into()
            );
        }
    }
    if dst.len() != expected.len() {
        return Err(format!("GPU output is {} bytes, expected {}", dst.len(), expected.len()).into());
    }
    if let Some(at) = dst.iter().zip(expected).position(|(g, c)| g != c) {
        let (input, start) =
            data.copies.iter().rev().find(|(_, start)| *start <= at).expect("offset 0 exists");
        return Err(format!(
            "GPU output differs from the CPU decoder's at byte {at} ({} byte {})",
            input.name,
            at - start
        )
        .into());
    }
    Ok(())
}

/// Times every engine over `data`, verifying first; returns `(engine, seconds per run)`.
fn measure(
    ctx: Option<&VulkanContext>,
    data: &Data<'_>,
    runs: usize,
    threads: usize,
) -> Result<Vec<(String, Vec<f64>)>> {
    let mut expected = vec![0u8; data.decoded];
    data.cpu_one_thread(&mut expected);
    let mut out = vec![0u8; data.decoded];
    data.cpu_all_threads(&mut out, threads);
    if out != expected {
        return Err("the CPU decoder's multi-threaded output differs from its one-thread output".into());
    }

    // One job per decode kernel the device runs (both variants where it runs the subgroup
    // one), each with its own destination poisoned first, so a kernel that skipped bytes
    // cannot pass on another's output.
    let mut jobs = Vec::new();
    if let Some(ctx) = ctx {
        let poison = vec![0xA5u8; data.decoded];
        for kernel in ctx.decode_kernels() {
            let job = ctx.prepare_decode(&data.page_jobs(), &poison)?;
            if kernel == ds_runtime::vulkan::DRIVER_DECODE && !job.driver_aligned() {
                println!(
                    "note: {kernel} skipped: this data's layout has destinations that are not 4-byte aligned"
                );
                continue;
            }
            let value = ctx.submit_decode_with(&job, kernel)?; // warm-up
            ctx.wait(value, Duration::MAX)?;
            if std::env::var_os("DSR_BENCH_VERIFY").is_some_and(|v| v == "0") {
                // Ablation builds only (kernels with parts cut out to see what they cost).
                println!(
                    "WARNING: {kernel}: output NOT verified (DSR_BENCH_VERIFY=0): figures are not results"
                );
            } else {
                verify(ctx, &job, data, &expected).map_err(|e| format!("{kernel}: {e}"))?;
            }
            jobs.push((kernel, job, Vec::new()));
        }
    }
    drop(expected);

    // GPU runs back to back, per kernel, after at least WARM_UP of decoding: a GPU left idle
    // while the CPU rows run drops its clocks (an H100 idles at 345 MHz and takes a while to
    // reach 1980), and a run that starts cold measures the clock ramp, not the kernel (this
    // bench alternated GPU and CPU runs before and saw 3-4x spreads).
    const WARM_UP: Duration = Duration::from_millis(300);
    for (kernel, job, times) in &mut jobs {
        let ctx = ctx.expect("jobs exist only with a context");
        let start = Instant::now();
        while start.elapsed() < WARM_UP {
            let value = ctx.submit_decode_with(job, kernel)?;
            ctx.wait(value, Duration::MAX)?;
        }
        for _ in 0..runs {
            let t = Instant::now();
            let value = ctx.submit_decode_with(job, kernel)?;
            ctx.wait(value, Duration::MAX)?;
            times.push(t.elapsed().as_secs_f64());
        }
    }
    let (mut one, mut all) = (Vec::new(), Vec::new());
    for _ in 0..runs {
        let t = Instant::now();
        data.cpu_one_thread(&mut out);
        one.push(t.elapsed().as_secs_f64());
        let t = Instant::now();
        data.cpu_all_threads(&mut out, threads);
        all.push(t.elapsed().as_secs_f64());
    }
    let mut rows = Vec::new();
    for (kernel, _, times) in jobs {
        rows.push((format!("gpu {kernel}"), times));
    }
    rows.push(("cpu, 1 thread".to_string(), one));
    rows.push((format!("cpu, {threads} threads"), all));
    Ok(rows)
}

fn print_rows(label: &str, width: usize, decoded: usize, rows: Vec<(String, Vec<f64>)>) {
    let gbps = |secs: f64| decoded as f64 / secs / 1e9;
    let base = rows.last().map(|(_, t)| stats(t.clone()).0).unwrap_or(1.0);
    for (engine, times) in rows {
        let (median, lo, hi) = stats(times);
        let spread = format!("[{:.3}–{:.3}]", gbps(hi), gbps(lo));
        println!("{label:<width$} {engine:<40} {:>9.3} {spread:>19} {:>8.2}", gbps(median), base / median);
    }
}

fn main() -> Result<()> {
    let runs = env_usize("DSR_BENCH_RUNS")?.unwrap_or(9).max(1);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let device_index = env_usize("DSR_BENCH_DEVICE")?;
    let (ctx, no_gpu) = match VulkanContext::new(&ContextOptions { device_index, ..Default::default() }) {
        Ok(ctx) => (Some(ctx), String::new()),
        Err(e) if e.is_unavailable() => (None, e.to_string()),
        Err(e) => return Err(e.into()),
    };
    let software = ctx.as_ref().is_none_or(|c| c.device_info().device_type == DeviceType::Cpu);
    let mib = env_usize("DSR_BENCH_MIB")?.unwrap_or(if software { 8 } else { 256 });
    if mib >= 4096 {
        return Err(format!("DSR_BENCH_MIB={mib}: a decode job holds less than 4 GiB").into());
    }
    let inputs = inputs()?;
    let all: Vec<&Input> = inputs.iter().collect();
    let data = Data::repeat(&all, mib << 20);

    println!("GPU GDeflate decode vs the CPU decoder (cargo bench --bench gpu_decode)");
    println!("CPU: {}, {threads} threads", cpu_model());
    match &ctx {
        Some(c) => {
            let d = c.device_info();
            println!(
                "GPU: {} ({}), Vulkan {}, driver {} ({}), subgroup size {}",
                d.name, d.device_type, d.api_version, d.driver_name, d.driver_info, d.subgroup_size
            );
            if d.device_type == DeviceType::Cpu {
                println!("note: a software rasterizer: its figures say nothing about GPU performance");
            }
        }
        None => println!("GPU: none ({no_gpu}); only the CPU rows are measured"),
    }
    println!(
        "data: {} streams × {} copies = {} streams, {} tiles; {} bytes compressed -> {} bytes decoded \
         ({:.1} MiB, ratio {:.3})",
        inputs.len(),
        data.copies.len() / inputs.len(),
        data.copies.len(),
        data.pages,
        data.compressed,
        data.decoded,
        data.decoded as f64 / 1048576.0,
        data.compressed as f64 / data.decoded as f64
    );
    for input in &inputs {
        println!(
            "  {:<44} {:>5} tiles {:>10} -> {:>10} bytes",
            input.name,
            input.pages.len(),
            input.pages.iter().map(|(r, _)| r.len()).sum::<usize>(),
            input.decoded
        );
    }
    println!(
        "runs: {runs} per engine (GPU: back to back after 0.3 s of warm-up); GB/s = 10^9 decoded bytes/s, \
         median [min–max]; × = speed relative to the CPU on all threads"
    );
    let rows = measure(ctx.as_ref(), &data, runs, threads)?;
    if let Some(ctx) = &ctx {
        println!(
            "verified: every GPU kernel's output ({}) equals the CPU decoder's ({} tiles OK, {} bytes)",
            ctx.decode_kernels().join(", "),
            data.pages,
            data.decoded
        );
    }
    println!();
    let width = inputs.iter().map(|i| i.name.chars().count()).max().unwrap_or(0).max(4);
    println!("{:<width$} {:<40} {:>9} {:>19} {:>8}", "data", "engine", "GB/s", "[min–max]", "×");
    print_rows("all", width, data.decoded, rows);

    if std::env::var_os("DSR_BENCH_PER_STREAM").is_some_and(|v| v == "1") {
        let share = (mib << 20) / inputs.len();
        for input in &inputs {
            let data = Data::repeat(&[input], share);
            let rows = measure(ctx.as_ref(), &data, runs, threads)?;
            print_rows(&input.name, width, data.decoded, rows);
        }
    }
    Ok(())
}
