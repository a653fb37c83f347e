//! The wgpu backend against the ash core on the same GPU and the same data, in one run: the
//! same `gdeflate_decode` kernels from `dsr-kernels`, the same pages resident in device memory
//! on both sides. ash runs the kernels crate's SPIR-V; wgpu runs that same SPIR-V through its
//! shader passthrough where the device offers it (`wgpu spirv`), and, in the same run, the
//! WGSL compiled by wgpu (`wgpu wgsl`), so the passthrough's effect is a same-run ratio too.
//!
//! Data: every corpus `gdeflate/*.gdf` stream (`$DSR_CORPUS`, default `../shared/corpus`),
//! plus the files named as arguments or in `$DSR_BENCH_INPUTS` (`:`-separated): tile streams
//! are used as they are, other files are compressed at the default level first. The set is
//! repeated as often as it fits in `$DSR_BENCH_MIB` MiB of decoded bytes (default 256; 8 on
//! a software rasterizer; at least once), capped by the wgpu device's storage-binding limit.
//!
//! - Devices: the ash core on Vulkan device `$DSR_BENCH_DEVICE` (default: the one it
//!   prefers, as `dsr info` lists them); wgpu on the adapter with the same vendor and device
//!   id (`$DSR_BENCH_WGPU_ADAPTER=N` picks wgpu adapter N instead). wgpu contexts: the
//!   default one (`KernelSource::Spirv` where the adapter offers passthrough, printed), one
//!   forced to `KernelSource::Wgsl` with `ShaderChecks::Trusted` (no bounds clamps, no
//!   workgroup zeroing) when the default is SPIR-V, and with `$DSR_BENCH_WGPU_CHECKED=1` one
//!   with wgpu's own bounds checks and workgroup zeroing (`ShaderChecks::Checked`, WGSL).
//! - Kernels: every decode kernel both backends run on this device (`gdeflate_decode`, and
//!   `gdeflate_decode_subgroup` where the subgroup size is 32), compared kernel by kernel.
//! - A run is one dispatch over ALL pages (one job per engine, made resident before timing),
//!   timed on the host from submission to completion: for ash `submit_decode_with` and
//!   `wait` (descriptor set, command buffer, submit, timeline wait), for wgpu
//!   `submit_decode_with` and `wait` (bind group, encoder, submit, device poll). Upload and
//!   readback are not timed on either side.
//! - Each engine's destination is poisoned, then one run is checked against the CPU decoder
//!   (every status OK, every byte equal) before anything is timed. Then 0.3 s of untimed
//!   decoding (GPU clocks up), then `$DSR_BENCH_RUNS` (default 9) repetitions in which the
//!   engines alternate, so they see the same machine state and the GPU never idles.
//!
//! Figures are GB/s = 10^9 bytes of **decoded** output per second: the median with the
//! min–max spread, and `wgpu/ash` = wgpu's median GB/s over ash's for the same kernel (the
//! issue's target: at least 0.85).
//!
//! Run: `cargo bench --bench wgpu_vs_ash [-- FILE...]`.

use common::{Data, Input, Result, cpu_model, env_usize, inputs, stats};
use ds_runtime::gpu_decode::{TileStatus, status_error};
use ds_runtime::vulkan::{ContextOptions, DeviceType, VulkanContext};
use ds_runtime::wgpu::{
    self as dsr_wgpu, KernelOptions, KernelSource, ShaderChecks, WgpuContext, WgpuOptions,
};
use std::time::{Duration, Instant};

mod common;

/// The reference output.
impl Data<'_> {
    /// The CPU decoder's output (the reference every engine is checked against).
    fn cpu(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.decoded];
        for &(input, at) in &self.copies {
            dsr_gdeflate::decompress_into(&input.bytes, &mut out[at..at + input.decoded], 0)
                .unwrap_or_else(|e| panic!("{}: {e}", input.name));
        }
        out
    }
}

/// A row label's word for a kernel source.
fn source_label(source: KernelSource) -> &'static str {
    match source {
        KernelSource::Spirv => "spirv",
        KernelSource::Wgsl => "wgsl",
    }
}

/// One backend running one kernel over the whole data, resident.
enum Engine<'c> {
    Ash { ctx: &'c VulkanContext, job: ds_runtime::vulkan::DecodeJob },
    Wgpu { ctx: &'c WgpuContext, job: dsr_wgpu::DecodeJob },
}

/// An engine with its row label and the kernel it runs.
struct Row<'c> {
    kernel: &'static str,
    label: String,
    engine: Engine<'c>,
    times: Vec<f64>,
}

impl Row<'_> {
    /// One dispatch over all pages, submitted and waited for.
    fn run(&self) -> Result<()> {
        match &self.engine {
            Engine::Ash { ctx, job } => {
                let value = ctx.submit_decode_with(job, self.kernel)?;
                ctx.wait(value, Duration::MAX)?;
            }
            Engine::Wgpu { ctx, job } => {
                let index = ctx.submit_decode_with(job, self.kernel)?;
                ctx.wait(index, Duration::MAX)?;
            }
        }
        Ok(())
    }

    fn results(&self) -> Result<(Vec<u8>, Vec<TileStatus>)> {
        Ok(match &self.engine {
            Engine::Ash { ctx, job } => ctx.decode_results(job)?,
            Engine::Wgpu { ctx, job } => ctx.decode_results(job)?,
        })
    }

    /// Checks this engine's output (after one run) against the CPU decoder's `expected`.
    fn verify(&self, expected: &[u8]) -> Result<()> {
        let (dst, statuses) = self.results()?;
        for (i, s) in statuses.iter().enumerate() {
            if let Some(kind) = status_error(s)? {
                return Err(
                    format!("{}: page {i} failed: {kind} (byte offset {})", self.label, s.offset).into()
                );
            }
        }
        if dst.len() != expected.len() {
            return Err(format!(
                "{}: output is {} bytes, expected {}",
                self.label,
                dst.len(),
                expected.len()
            )
            .into());
        }
        if let Some(at) = dst.iter().zip(expected).position(|(g, c)| g != c) {
            return Err(format!("{}: output differs from the CPU decoder's at byte {at}", self.label).into());
        }
        Ok(())
    }
}

/// The wgpu adapter on the same GPU as the ash core's device.
fn matching_adapter(ash: &VulkanContext) -> Result<usize> {
    let adapters = dsr_wgpu::probe();
    if let Some(i) = env_usize("DSR_BENCH_WGPU_ADAPTER")? {
        return if i < adapters.len() {
            Ok(i)
        } else {
            Err(format!("DSR_BENCH_WGPU_ADAPTER={i}: wgpu lists {} adapters", adapters.len()).into())
        };
    }
    let d = ash.device_info();
    let same = |a: &&dsr_wgpu::AdapterDesc| a.info.vendor == d.vendor_id && a.info.device == d.device_id;
    adapters
        .iter()
        .filter(same)
        .find(|a| a.info.name == d.name)
        .or_else(|| adapters.iter().find(same))
        .map(|a| a.index)
        .ok_or_else(|| {
            format!("no wgpu adapter for Vulkan device {} (set DSR_BENCH_WGPU_ADAPTER)", d.name).into()
        })
}

fn main() -> Result<()> {
    let runs = env_usize("DSR_BENCH_RUNS")?.unwrap_or(9).max(1);
    let device_index = env_usize("DSR_BENCH_DEVICE")?;
    let ash = match VulkanContext::new(&ContextOptions { device_index, ..Default::default() }) {
        Ok(ctx) => ctx,
        Err(e) if e.is_unavailable() => {
            println!("wgpu vs ash: no usable Vulkan device ({e}); nothing to compare");
            return Ok(());
        }
        Err(e) => return Err(e.into()),
    };
    let adapter_index = Some(matching_adapter(&ash)?);
    let wgpu_ctx = |checks, kernel_source| {
        WgpuContext::new(&WgpuOptions {
            adapter_index,
            kernels: KernelOptions { shader_checks: checks, decode_kernel: None, kernel_source },
        })
    };
    // The default context: the SPIR-V where the adapter offers passthrough (or as
    // $DSR_WGPU_KERNEL_SOURCE says), else the WGSL.
    let trusted = wgpu_ctx(ShaderChecks::Trusted, None)?;
    let wgsl = match trusted.kernel_source() {
        KernelSource::Spirv => Some(wgpu_ctx(ShaderChecks::Trusted, Some(KernelSource::Wgsl))?),
        KernelSource::Wgsl => None,
    };
    let checked = match std::env::var_os("DSR_BENCH_WGPU_CHECKED").is_some_and(|v| v == "1") {
        true => Some(wgpu_ctx(ShaderChecks::Checked, Some(KernelSource::Wgsl))?),
        false => None,
    };

    let d = ash.device_info();
    let software = d.device_type == DeviceType::Cpu;
    let mut mib = env_usize("DSR_BENCH_MIB")?.unwrap_or(if software { 8 } else { 256 });
    let binding_mib = (trusted.limits().max_storage_buffer_binding_size >> 20) as usize;
    if mib > binding_mib {
        println!(
            "note: DSR_BENCH_MIB={mib} exceeds the wgpu device's {binding_mib} MiB storage binding; using {binding_mib}"
        );
        mib = binding_mib;
    }
    let inputs = inputs()?;
    let all: Vec<&Input> = inputs.iter().collect();
    let data = Data::repeat_below(&all, mib << 20);

    println!(
        "wgpu vs ash: the same GDeflate decode kernels on the same GPU (cargo bench --bench wgpu_vs_ash)"
    );
    println!("CPU: {}, {} threads", cpu_model(), std::thread::available_parallelism().map_or(1, |n| n.get()));
    println!(
        "ash:  {} ({}), Vulkan {}, driver {} ({}), subgroup size {}",
        d.name, d.device_type, d.api_version, d.driver_name, d.driver_info, d.subgroup_size
    );
    let w = trusted.adapter_info();
    println!(
        "wgpu: {} ({}, {:?}), driver {} ({}), subgroup size {}..={}, device feature SUBGROUP {}, \
         PASSTHROUGH_SHADERS {}, kernels {}",
        w.name,
        dsr_wgpu::device_type_name(w.device_type),
        w.backend,
        w.driver,
        w.driver_info,
        w.subgroup_min_size,
        w.subgroup_max_size,
        if trusted.features().contains(dsr_wgpu::wgpu::Features::SUBGROUP) { "on" } else { "off" },
        if trusted.features().contains(dsr_wgpu::wgpu::Features::PASSTHROUGH_SHADERS) { "on" } else { "off" },
        trusted.decode_kernels().join(", ")
    );
    println!(
        "wgpu queue: {} (compute-only: {}; ${}=default for wgpu's own family 0)",
        trusted.queue_family(),
        if trusted.uses_compute_only_queue() { "yes" } else { "no" },
        dsr_wgpu::QUEUE_FAMILY_ENV
    );
    println!(
        "wgpu kernel source: {} (row `wgpu {}`){}",
        trusted.kernel_source(),
        source_label(trusted.kernel_source()),
        match wgsl {
            Some(_) => "; row `wgpu wgsl`: the WGSL compiled by wgpu, ShaderChecks::Trusted",
            None => "; the adapter offers no SPIR-V passthrough (or it was turned off), no SPIR-V row",
        }
    );
    if software {
        println!(
            "note: a software rasterizer: its figures say nothing about GPU performance, only the ratio does"
        );
    }
    println!(
        "data: {} streams × {} copies, {} tiles; {} bytes compressed -> {} bytes decoded ({:.1} MiB)",
        inputs.len(),
        data.copies.len() / inputs.len(),
        data.pages,
        data.compressed,
        data.decoded,
        data.decoded as f64 / 1048576.0
    );

    // Kernels both backends run here, compared kernel by kernel.
    let wgpu_kernels = trusted.decode_kernels();
    let mut kernels = Vec::new();
    for k in ash.decode_kernels() {
        if wgpu_kernels.contains(&k) {
            kernels.push(k);
        } else {
            println!("note: {k} runs on ash only here (wgpu runs {}); not compared", wgpu_kernels.join(", "));
        }
    }

    let expected = data.cpu();
    let jobs = data.page_jobs();
    let poison = vec![0xA5u8; data.decoded];
    let mut rows = Vec::new();
    for &kernel in &kernels {
        rows.push(Row {
            kernel,
            label: "ash".into(),
            engine: Engine::Ash { ctx: &ash, job: ash.prepare_decode(&jobs, &poison)? },
            times: Vec::new(),
        });
        let main_label = format!("wgpu {}", source_label(trusted.kernel_source()));
        let contexts = [
            (main_label.as_str(), Some(&trusted)),
            ("wgpu wgsl", wgsl.as_ref()),
            ("wgpu wgsl checked", checked.as_ref()),
        ];
        for (label, ctx) in contexts {
            if let Some(ctx) = ctx {
                rows.push(Row {
                    kernel,
                    label: label.into(),
                    engine: Engine::Wgpu { ctx, job: ctx.prepare_decode(&jobs, &poison)? },
                    times: Vec::new(),
                });
            }
        }
    }
    drop(poison);
    for row in &rows {
        row.run()?;
        row.verify(&expected).map_err(|e| format!("{}: {e}", row.kernel))?;
    }
    println!(
        "verified: every engine's output equals the CPU decoder's ({} tiles, {} bytes)",
        data.pages, data.decoded
    );
    drop(expected);

    let warm = Instant::now();
    while warm.elapsed() < Duration::from_millis(300) {
        for row in &rows {
            row.run()?;
        }
    }
    for _ in 0..runs {
        for row in &mut rows {
            let t = Instant::now();
            row.run()?;
            row.times.push(t.elapsed().as_secs_f64());
        }
    }

    println!(
        "runs: {runs} per engine after 0.3 s of warm-up, engines alternating; submit → complete, no \
         upload/readback; GB/s = 10^9 decoded bytes/s, median [min–max]; wgpu/ash = median GB/s ratio, same kernel"
    );
    println!();
    println!("{:<26} {:<18} {:>9} {:>19} {:>9}", "kernel", "engine", "GB/s", "[min–max]", "wgpu/ash");
    let gbps = |secs: f64| data.decoded as f64 / secs / 1e9;
    let mut ash_median = 0.0;
    for row in rows {
        let (median, lo, hi) = stats(row.times);
        let ratio = match row.engine {
            Engine::Ash { .. } => {
                ash_median = median;
                "".to_string()
            }
            Engine::Wgpu { .. } => format!("{:.3}", ash_median / median),
        };
        let spread = format!("[{:.3}–{:.3}]", gbps(hi), gbps(lo));
        println!("{:<26} {:<18} {:>9.3} {spread:>19} {ratio:>9}", row.kernel, row.label, gbps(median));
    }
    Ok(())
}
