//! `dsr`: ds-runtime's command-line tool.
//!
//! Today: `compress` (any file → DirectStorage GDeflate tile stream), `decompress`
//! (tile stream → original bytes, on the CPU, on a Vulkan device through the ash core, or
//! through wgpu), `info` (Vulkan devices, wgpu adapters, backend choice; or a pack or tile
//! stream), `load`, `bench`, and the pack commands `pack`, `unpack`, `verify`, `ls`
//! (`src/pack.rs`). Errors print
//! one line naming the problem (for corrupt streams: the tile and byte offset, the same on
//! every backend) and exit with status 1; the output file is written to a temporary file
//! beside it and renamed only on success, so a failure never leaves a partial or truncated
//! OUTPUT behind.

mod bench;
mod chart;
mod e2e;
mod load;
mod pack;

use clap::{Args, Parser, Subcommand};
use ds_runtime::{Backend, select_backend};
use dsr_gdeflate::Level;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

#[derive(Parser)]
#[command(
    name = "dsr",
    version = concat!(env!("CARGO_PKG_VERSION"), " (", env!("DSR_BUILD_INFO"), ")"),
    about = "ds-runtime: GPU-first asset streaming for Linux (GDeflate, DirectStorage semantics)",
    long_about = None,
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Compress a file into a DirectStorage GDeflate tile stream (64 KiB tiles).
    Compress(CompressArgs),
    /// Decompress a DirectStorage GDeflate tile stream back to the original bytes.
    Decompress(DecompressArgs),
    /// List the Vulkan devices and wgpu adapters, and say which backend `auto` picks; with a
    /// FILE, describe that pack (.dsp) or GDeflate tile stream instead.
    Info(InfoArgs),
    /// Load a file range through a streaming queue into host or GPU memory, read it back and
    /// print its SHA-256 and the throughput.
    Load(load::LoadArgs),
    /// Measure any files: `decode` (decode alone, every backend) or `e2e` (file -> host or GPU
    /// memory through the streaming pipeline); a table, `--json` rows, `--chart PATH.svg`.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Pack every file under a directory into one .dsp pack (entries GDeflate-compressed when
    /// that shrinks them, aligned for O_DIRECT, SHA-256 each): `dsr pack DIR -o FILE.dsp`.
    Pack(pack::PackArgs),
    /// Extract every entry of a pack into a directory, checking each SHA-256:
    /// `dsr unpack FILE.dsp -o DIR`.
    Unpack(pack::UnpackArgs),
    /// Check every entry of a pack (decode on the CPU and the GPU backends, size and SHA-256);
    /// exit 1 with one line per bad entry.
    Verify(pack::VerifyArgs),
    /// List a pack's entries: offset, stored size, size, ratio, compression, name.
    Ls(pack::LsArgs),
}

#[derive(Args)]
struct InfoArgs {
    /// A pack or a GDeflate tile stream to describe (without it: devices and backends).
    file: Option<PathBuf>,
}

#[derive(Args)]
struct CompressArgs {
    /// Compression level: 0 = stored only, 1 = fastest, 9 = default, 12 = best ratio.
    #[arg(short, long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(0..=12))]
    level: u32,
    /// Worker threads (0 = one per core).
    #[arg(short = 't', long, default_value_t = 0)]
    threads: usize,
    /// Also print the ratio, the counts of stored/fixed/dynamic blocks over all tiles, and
    /// the speed.
    #[arg(long)]
    stats: bool,
    /// File to compress.
    input: PathBuf,
    /// Where to write the tile stream.
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Args)]
struct DecompressArgs {
    /// Decode engine. auto: Vulkan (ash core) on a GPU, else wgpu on a GPU the ash core
    /// cannot use, else the CPU (with a note saying what was missing); vulkan: the preferred
    /// Vulkan device, software ones (lavapipe) included; wgpu: the same kernels through wgpu
    /// on the preferred adapter, software ones included; cpu: the CPU decoder. A named
    /// backend that cannot run is refused (exit 1), never substituted.
    #[arg(short, long, default_value = "auto")]
    backend: Backend,
    /// Worker threads for the CPU backend (0 = one per core; ignored by vulkan and wgpu).
    #[arg(short = 't', long, default_value_t = 0)]
    threads: usize,
    /// Tile stream to decompress.
    input: PathBuf,
    /// Where to write the decompressed bytes.
    #[arg(short, long)]
    output: PathBuf,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compress(a) => compress(&a),
        Command::Decompress(a) => decompress(&a),
        Command::Info(InfoArgs { file: None }) => info(),
        Command::Info(InfoArgs { file: Some(f) }) => pack::info_file(&f),
        Command::Load(a) => load::run(&a),
        Command::Bench(b) => bench::run(&b),
        Command::Pack(a) => pack::pack(&a),
        Command::Unpack(a) => pack::unpack(&a),
        Command::Verify(a) => pack::verify(&a),
        Command::Ls(a) => pack::ls(&a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(msg) => {
            eprintln!("dsr: {msg}");
            ExitCode::FAILURE
        }
    }
}

fn read_input(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))
}

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, renamed
/// over `path` once complete. On any failure the temporary file is removed.
fn write_output(path: &Path, bytes: &[u8]) -> Result<(), String> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let fail = |e: std::io::Error| format!("{}: cannot write: {e}", path.display());
    let mut tmp = tempfile::Builder::new().prefix(".dsr-").suffix(".tmp").tempfile_in(dir).map_err(fail)?;
    tmp.write_all(bytes).map_err(fail)?;
    tmp.as_file().sync_all().map_err(fail)?;
    tmp.persist(path).map_err(|e| fail(e.error))?;
    Ok(())
}

fn rate(bytes: usize, secs: f64) -> String {
    format!("{:.1} MB/s", bytes as f64 / secs.max(1e-9) / 1e6)
}

fn compress(a: &CompressArgs) -> Result<(), String> {
    let level = Level::new(a.level).map_err(|e| e.to_string())?;
    let input = read_input(&a.input)?;
    let t = Instant::now();
    let (stream, stats) = dsr_gdeflate::compress_with_stats(&input, level, a.threads)
        .map_err(|e| format!("{}: {e}", a.input.display()))?;
    let secs = t.elapsed().as_secs_f64();
    write_output(&a.output, &stream)?;
    let ratio = if input.is_empty() { 1.0 } else { stream.len() as f64 / input.len() as f64 };
    println!(
        "{} -> {}: {} -> {} bytes ({:.1}%), level {}, {} tiles, {}",
        a.input.display(),
        a.output.display(),
        input.len(),
        stream.len(),
        ratio * 100.0,
        a.level,
        dsr_gdeflate::tile_count(input.len() as u64),
        rate(input.len(), secs)
    );
    if a.stats {
        let ratio =
            if stats.input_bytes == 0 { 1.0 } else { stats.output_bytes as f64 / stats.input_bytes as f64 };
        println!("ratio: {ratio:.4} ({} -> {} bytes)", stats.input_bytes, stats.output_bytes);
        println!(
            "blocks: {} stored, {} fixed, {} dynamic",
            stats.stored_blocks, stats.fixed_blocks, stats.dynamic_blocks
        );
        println!("speed: {}", rate(input.len(), secs));
    }
    Ok(())
}

fn decompress(a: &DecompressArgs) -> Result<(), String> {
    let input = read_input(&a.input)?;
    let selection = select_backend(a.backend).map_err(|e| e.to_string())?;
    if selection.is_fallback {
        let on = match selection.backend {
            Backend::Cpu => "the CPU".to_string(),
            b => format!("backend {b}"),
        };
        eprintln!("dsr: note: {}; decoding on {on}", selection.reason);
    }
    let t = Instant::now();
    let out = selection.decompress(&input, a.threads).map_err(|e| format!("{}: {e}", a.input.display()))?;
    let secs = t.elapsed().as_secs_f64();
    write_output(&a.output, &out)?;
    let device = selection.device_name().map(|d| format!(" ({d})")).unwrap_or_default();
    println!(
        "{} -> {}: {} -> {} bytes, backend {}{device}, {}",
        a.input.display(),
        a.output.display(),
        input.len(),
        out.len(),
        selection.backend,
        rate(out.len(), secs)
    );
    Ok(())
}

/// `dsr info`: the Vulkan devices as the runtime's Vulkan core sees them, the adapters as
/// its wgpu backend sees them, and the backend `auto` picks. No Vulkan loader or driver is a
/// normal answer (exit 0), not an error.
fn info() -> Result<(), String> {
    use ds_runtime::vulkan::{self, DeviceInfo};
    println!("dsr {} ({})", env!("CARGO_PKG_VERSION"), env!("DSR_BUILD_INFO"));
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    match vulkan::probe() {
        Err(e) if e.is_unavailable() => println!("Vulkan: not available: {e}"),
        Err(e) => return Err(format!("Vulkan probe failed: {e}")),
        Ok(devices) => {
            let picked = vulkan::pick_device(&devices).map(|d| d.index);
            println!("Vulkan devices: {}", devices.len());
            for d in &devices {
                let DeviceInfo { index, name, device_type, api_version, .. } = d;
                println!("  [{index}] {name}");
                println!(
                    "      type {device_type}, Vulkan {api_version}, vendor {:#06x}, device {:#06x}",
                    d.vendor_id, d.device_id
                );
                println!("      driver {} ({})", d.driver_name, d.driver_info);
                let range = match d.subgroup_size_range {
                    Some((min, max)) => format!(", size control {min}..={max}"),
                    None => ", no size control".into(),
                };
                println!("      subgroup size {}{range}", d.subgroup_size);
                let f = &d.features;
                println!(
                    "      timeline semaphores {}, shaderInt8 {}, 8-bit storage {}, 16-bit storage {}, \
                     compute queue {}",
                    yes_no(f.timeline_semaphore),
                    yes_no(f.shader_int8),
                    yes_no(f.storage_buffer_8bit_access),
                    yes_no(f.storage_buffer_16bit_access),
                    yes_no(d.has_compute_queue)
                );
                println!(
                    "      VK_NV_memory_decompression {}, VK_EXT_memory_decompression {}, \
                     VK_EXT_external_memory_host {}",
                    yes_no(d.nv_memory_decompression),
                    yes_no(d.ext_memory_decompression),
                    yes_no(d.ext_external_memory_host)
                );
                if d.gdeflate_memory_decompression {
                    println!(
                        "      driver GDeflate decompression: yes (decode method `{}`; it checks nothing inside \
                         a page, so only when asked: DSR_DECODE_KERNEL={} or {})",
                        vulkan::DRIVER_DECODE,
                        vulkan::DRIVER_DECODE,
                        vulkan::AUTO_UNCHECKED
                    );
                }
                match (d.unusable_reason(), picked == Some(*index)) {
                    (Some(why), _) => println!("      not usable by the runtime: {why}"),
                    (None, true) => println!("      usable; --backend vulkan uses this device"),
                    (None, false) => println!("      usable"),
                }
            }
        }
    }
    wgpu_info();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!("CPU decoder: {threads} threads");
    println!("auto order: vulkan (hardware device) > wgpu (hardware adapter the ash core cannot use) > cpu");
    let auto = select_backend(Backend::Auto).map_err(|e| e.to_string())?;
    match auto.device_name() {
        Some(device) if auto.is_fallback => {
            println!("auto picks: {} (device {device}; {})", auto.backend, auto.reason)
        }
        Some(device) => println!("auto picks: {} (device {device})", auto.backend),
        None => println!("auto picks: {} ({})", auto.backend, auto.reason),
    }
    Ok(())
}

/// The `dsr info` section on wgpu's adapters (its Vulkan backend, the only one built).
fn wgpu_info() {
    use ds_runtime::wgpu::{self, device_type_name};
    let adapters = wgpu::probe();
    let picked = wgpu::pick_adapter(&adapters).map(|a| a.index);
    println!("wgpu adapters (Vulkan backend): {}", adapters.len());
    for a in &adapters {
        let i = &a.info;
        println!("  [{}] {}", a.index, i.name);
        println!(
            "      type {}, vendor {:#06x}, device {:#06x}, driver {} ({})",
            device_type_name(i.device_type),
            i.vendor,
            i.device,
            i.driver,
            i.driver_info
        );
        println!(
            "      subgroup size {}..={}, SUBGROUP feature {}, decode kernel {}",
            i.subgroup_min_size,
            i.subgroup_max_size,
            if a.subgroups { "yes" } else { "no" },
            a.decode_kernel().name
        );
        println!(
            "      kernels from {}{}",
            a.kernel_source(),
            if a.spirv_passthrough {
                " (the kernels crate's SPIR-V, as the ash core runs it)"
            } else {
                " (compiled by wgpu; the adapter lacks PASSTHROUGH_SHADERS or SUBGROUP)"
            }
        );
        match &a.compute_only_family {
            Ok(index) => println!("      queue: compute-only family {index} (as the ash core picks)"),
            Err(why) => println!("      queue: wgpu's default family 0 (graphics + compute): {why}"),
        }
        println!(
            "      max storage binding {} bytes, max buffer {} bytes, workgroup storage {} bytes",
            a.limits.max_storage_buffer_binding_size,
            a.limits.max_buffer_size,
            a.limits.max_compute_workgroup_storage_size
        );
        match (a.unusable_reason(), picked == Some(a.index)) {
            (Some(why), _) => println!("      not usable by the runtime: {why}"),
            (None, true) => println!("      usable; --backend wgpu uses this adapter"),
            (None, false) => println!("      usable"),
        }
    }
}
