//! GDeflate on the GPU, checked against the CPU: a tile stream decoded by ds-runtime's Vulkan
//! kernel and by the CPU decoder, the bytes compared, and the throughput of both printed.
//!
//! 1. Input: the files given (a DirectStorage GDeflate tile stream is used as is; any other
//!    file is compressed at the default level first), else the corpus's raw files concatenated
//!    into one stream, else 32 MiB of generated text-like data.
//! 2. The CPU decoder (`dsr_gdeflate::decompress`, every core) decodes it `--runs` times.
//! 3. The Vulkan device (`VulkanContext::new`: the preferred one, lavapipe included) gets the
//!    pages once (`prepare_decode_uninit`), decodes them once, and every byte and every page's
//!    status is checked against the CPU's output; only then is it timed: `--runs` decodes back to
//!    back (kernel only: the pages stay resident), and one whole `gdeflate_decompress` call
//!    (upload, decode, download) for the figure an application calling it once would see.
//! 4. Prints GB/s of decoded output (median of the runs) for each, and the ratio.
//!
//! Without a Vulkan device the GPU half is skipped with a notice (an error under
//! `DSR_REQUIRE_GPU=1`). These are demo figures from a handful of runs; the measured record is
//! `cargo bench --bench gpu_decode` and `dsr bench decode` (BENCHMARKS.md).
//!
//! Run: `cargo run --release --example gpu_decompress [-- --runs N] [FILE...]`. The tests
//! (`cargo test --workspace --release`; Cargo.toml builds this example with `test = true`) run
//! the same `run` on generated data.

use ds_runtime::vulkan::{ContextOptions, VulkanContext, status_error};
use dsr_gdeflate::{Level, TileStream};
use std::path::PathBuf;
use std::time::{Duration, Instant};

type Error = Box<dyn std::error::Error>;

/// What the demo measured.
#[derive(Debug)]
struct Report {
    decoded_bytes: usize,
    compressed_bytes: usize,
    tiles: u32,
    cpu_gbps: f64,
    /// `(device, kernel, kernel-only GB/s, whole-call GB/s)`; `None` without a Vulkan device.
    gpu: Option<(String, &'static str, f64, f64)>,
}

fn corpus() -> PathBuf {
    std::env::var_os("DSR_CORPUS")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"), PathBuf::from)
}

fn require_gpu() -> bool {
    std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1")
}

/// Text-like bytes (words, numbers, punctuation), deterministic: compresses like source code.
fn generated(len: usize) -> Vec<u8> {
    const WORDS: [&str; 12] = [
        "texture",
        "mesh",
        "{\"id\": ",
        "stream",
        "0x7f3a",
        "return",
        "queue",
        "GPU",
        "=>",
        "\n    ",
        "fn",
        "asset",
    ];
    let (mut out, mut x) = (Vec::with_capacity(len + 16), 0x2545_f491u32);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(WORDS[(x % 12) as usize].as_bytes());
        out.extend_from_slice(format!(" {} ", x >> 24).as_bytes());
    }
    out.truncate(len);
    out
}

/// The input as one tile stream, and a description of where it came from.
fn input(files: &[PathBuf]) -> Result<(Vec<u8>, String), Error> {
    if let [one] = files {
        let bytes = std::fs::read(one).map_err(|e| format!("{}: {e}", one.display()))?;
        if TileStream::parse(&bytes).is_ok() {
            return Ok((bytes, format!("{} (tile stream)", one.display())));
        }
    }
    let (raw, what) = if files.is_empty() {
        let dir = corpus().join("raw");
        let mut paths: Vec<PathBuf> = match std::fs::read_dir(&dir) {
            Ok(d) => d.filter_map(|e| e.ok().map(|e| e.path())).filter(|p| p.is_file()).collect(),
            Err(_) => Vec::new(),
        };
        paths.sort();
        if paths.is_empty() {
            (generated(32 << 20), "32 MiB of generated text-like data (no corpus found)".to_string())
        } else {
            let mut raw = Vec::new();
            for p in &paths {
                raw.extend_from_slice(&std::fs::read(p)?);
            }
            (raw, format!("the corpus's {} raw files, concatenated", paths.len()))
        }
    } else {
        let mut raw = Vec::new();
        for p in files {
            raw.extend_from_slice(&std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()))?);
        }
        (raw, format!("{} file(s), concatenated", files.len()))
    };
    let stream = dsr_gdeflate::compress(&raw, Level::DEFAULT, 0)?;
    Ok((stream, format!("{what}, compressed here at level 9")))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn run(stream: &[u8], runs: usize, verbose: bool) -> Result<Report, Error> {
    let ts = TileStream::parse(stream)?;
    let decoded_bytes = ts.uncompressed_size() as usize;
    let gbps = |secs: f64| decoded_bytes as f64 / secs / 1e9;

    // The CPU: the reference for the bytes, and the baseline for the speed.
    let expected = dsr_gdeflate::decompress(stream, 0)?;
    let mut cpu = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        let out = dsr_gdeflate::decompress(stream, 0)?;
        cpu.push(t.elapsed().as_secs_f64());
        assert!(out.len() == expected.len());
    }
    let cpu_gbps = gbps(median(cpu));

    let ctx = match VulkanContext::new(&ContextOptions::default()) {
        Ok(ctx) => ctx,
        Err(e) if e.is_unavailable() && !require_gpu() => {
            println!("notice: no usable Vulkan device ({e}); the GPU half is skipped");
            return Ok(Report {
                decoded_bytes,
                compressed_bytes: stream.len(),
                tiles: ts.num_tiles(),
                cpu_gbps,
                gpu: None,
            });
        }
        Err(e) => return Err(format!("Vulkan: {e}").into()),
    };
    let kernel = ctx.decode_kernel()?;
    if verbose {
        println!("GPU: {} (kernel {kernel})", ctx.device_info().name);
    }
    let pages = ds_runtime::gpu_decode::stream_pages(&ts);
    let job = ctx.prepare_decode_uninit(&pages, decoded_bytes.max(1))?;
    let once = || -> Result<(), Error> {
        let value = ctx.submit_decode_with(&job, kernel)?;
        ctx.wait(value, Duration::MAX)?;
        Ok(())
    };
    once()?;
    // Checked before anything is timed: every page decoded, every byte equal.
    let (out, statuses) = ctx.decode_results(&job)?;
    for (i, s) in statuses.iter().enumerate() {
        if let Some(kind) = status_error(s)? {
            return Err(format!("tile {i}: the GPU reported {kind:?}").into());
        }
    }
    if out[..decoded_bytes] != expected[..] {
        let at = out.iter().zip(&expected).position(|(a, b)| a != b).unwrap_or(0);
        return Err(format!("the GPU's output differs from the CPU's at byte {at}").into());
    }
    let mut kernel_times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let t = Instant::now();
        once()?;
        kernel_times.push(t.elapsed().as_secs_f64());
    }
    let t = Instant::now();
    let whole = ctx.gdeflate_decompress(stream)?;
    let whole_secs = t.elapsed().as_secs_f64();
    if whole != expected {
        return Err("gdeflate_decompress's output differs from the CPU's".into());
    }
    let device = ctx.device_info().name.clone();
    Ok(Report {
        decoded_bytes,
        compressed_bytes: stream.len(),
        tiles: ts.num_tiles(),
        cpu_gbps,
        gpu: Some((device, kernel, gbps(median(kernel_times)), gbps(whole_secs))),
    })
}

fn main() -> Result<(), Error> {
    let mut runs = 5usize;
    let mut files = Vec::new();
    let mut args = std::env::args_os().skip(1);
    while let Some(a) = args.next() {
        if a == "--runs" {
            runs = args
                .next()
                .and_then(|v| v.to_str()?.parse().ok())
                .filter(|&n| n > 0)
                .ok_or("--runs N (N > 0)")?;
        } else {
            files.push(PathBuf::from(a));
        }
    }
    let (stream, what) = input(&files)?;
    println!("input: {what}");
    let r = run(&stream, runs, true)?;
    println!(
        "stream: {} tiles, {} -> {} bytes (ratio {:.3})",
        r.tiles,
        r.compressed_bytes,
        r.decoded_bytes,
        r.compressed_bytes as f64 / r.decoded_bytes.max(1) as f64
    );
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("CPU decoder, {threads} threads: {:.3} GB/s (median of {runs})", r.cpu_gbps);
    if let Some((device, kernel, kernel_gbps, whole_gbps)) = &r.gpu {
        println!(
            "GPU {device}, {kernel}: {kernel_gbps:.3} GB/s (pages resident, median of {runs}), verified against the CPU"
        );
        println!("GPU whole call (upload + decode + download): {whole_gbps:.3} GB/s");
        println!(
            "GPU / CPU: {:.2}x (kernel), {:.2}x (whole call)",
            kernel_gbps / r.cpu_gbps,
            whole_gbps / r.cpu_gbps
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_gpu_decodes_a_generated_stream_exactly_as_the_cpu() {
        let stream = dsr_gdeflate::compress(&generated(3 << 20), Level::DEFAULT, 0).unwrap();
        let r = run(&stream, 1, false).unwrap();
        assert_eq!((r.decoded_bytes, r.tiles), (3 << 20, 48));
        assert!(r.cpu_gbps > 0.0);
        match &r.gpu {
            Some((_, _, kernel, whole)) => assert!(*kernel > 0.0 && *whole > 0.0),
            None => assert!(!require_gpu(), "DSR_REQUIRE_GPU=1 but the GPU half was skipped"),
        }
    }

    #[test]
    fn a_truncated_stream_is_reported_not_timed() {
        // (A flipped bit is not always detectable: deflate data has no checksum, and a flipped
        // literal decodes to other bytes. A truncated stream always is.)
        let mut stream = dsr_gdeflate::compress(&generated(1 << 20), Level::DEFAULT, 0).unwrap();
        stream.truncate(stream.len() - 100);
        assert!(run(&stream, 1, false).is_err());
    }
}
