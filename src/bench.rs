//! `dsr bench decode`: GDeflate decode throughput of any files on any backends, one table (or
//! JSON), so that a figure can be reproduced by anyone on any GPU.
//!
//! For each file (a tile stream, or any other file, compressed at the default level first;
//! a file that starts with the container's `04 FB` but does not parse is an error)
//! and each engine: the CPU decoder on `--threads` threads, and every decode kernel the
//! Vulkan device (ash core) and the wgpu adapter run. GPU pages are made resident once (upload
//! and readback are not timed), decoded once and checked against the CPU decoder (every
//! status OK, every byte equal: a figure of wrong output is never printed), then decoded for
//! 0.3 s of warm-up (so the GPU is at its working clock) and `--runs` times back to back, each
//! run timed from submission to completion on the host. GB/s = 10^9 decoded bytes per second:
//! the median with the min–max spread, and × = relative to the CPU row of the same file
//! measured in the same run.

use clap::{Args, Subcommand};
use dsr_gdeflate::TileStream;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What `dsr bench` measures.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Decode throughput of FILES on every backend (or those named), verified first.
    Decode(DecodeArgs),
}

/// Engines `dsr bench decode` can run.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// The CPU decoder (`--threads`).
    Cpu,
    /// Every decode kernel the preferred Vulkan device runs (ash core).
    Vulkan,
    /// Every decode kernel the preferred wgpu adapter runs.
    Wgpu,
}

/// `dsr bench decode` arguments.
#[derive(Args)]
pub struct DecodeArgs {
    /// Engines to run (repeat or comma-separate; default: all that are available here).
    #[arg(short, long, value_delimiter = ',')]
    backend: Vec<Engine>,
    /// Timed runs per engine (after the warm-up).
    #[arg(short, long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Threads of the CPU decoder (0 = one per core).
    #[arg(short = 't', long, default_value_t = 0)]
    threads: usize,
    /// Print JSON (one object per row) instead of the table.
    #[arg(long)]
    json: bool,
    /// Tile streams (or other files, compressed at level 9 first).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// One measured engine on one file.
struct Row {
    file: String,
    engine: &'static str,
    kernel: String,
    device: String,
    tiles: usize,
    compressed: usize,
    decoded: usize,
    secs: Vec<f64>,
}

impl Row {
    fn gbps(&self) -> (f64, f64, f64) {
        let mut v: Vec<f64> = self.secs.iter().map(|s| self.decoded as f64 / s / 1e9).collect();
        v.sort_by(f64::total_cmp);
        (v[v.len() / 2], v[0], v[v.len() - 1])
    }
}

/// Runs `dsr bench …`.
pub fn run(cmd: &BenchCommand) -> Result<(), String> {
    let BenchCommand::Decode(args) = cmd;
    let all = args.backend.is_empty();
    let wants = |e: Engine| all || args.backend.contains(&e);
    let mut notes = Vec::new();

    let vulkan = if wants(Engine::Vulkan) {
        match ds_runtime::vulkan::VulkanContext::new(&Default::default()) {
            Ok(c) => Some(c),
            Err(e) if all => {
                notes.push(format!("vulkan: not measured ({e})"));
                None
            }
            Err(e) => return Err(format!("backend vulkan: {e}")),
        }
    } else {
        None
    };
    let wgpu = if wants(Engine::Wgpu) {
        match ds_runtime::wgpu::WgpuContext::new(&Default::default()) {
            Ok(c) => Some(c),
            Err(e) if all => {
                notes.push(format!("wgpu: not measured ({e})"));
                None
            }
            Err(e) => return Err(format!("backend wgpu: {e}")),
        }
    } else {
        None
    };

    let mut rows = Vec::new();
    for path in &args.files {
        let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
        // A file that starts like a tile stream (`04 FB`) is one, and must parse.
        let (stream, name) = match TileStream::parse(&bytes) {
            Ok(_) => (bytes, path.display().to_string()),
            Err(e) if bytes.starts_with(&[0x04, 0xfb]) => return Err(format!("{}: {e}", path.display())),
            Err(_) => {
                let s = dsr_gdeflate::compress(&bytes, dsr_gdeflate::Level::DEFAULT, 0)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
                (s, format!("{} (compressed here, level 9)", path.display()))
            }
        };
        let ts = TileStream::parse(&stream).map_err(|e| format!("{name}: {e}"))?;
        let decoded = ts.uncompressed_size() as usize;
        let expected = dsr_gdeflate::decompress(&stream, 0).map_err(|e| format!("{name}: {e}"))?;
        if ts.num_tiles() == 0 {
            notes.push(format!("{name}: no tiles; left out"));
            continue;
        }
        let pages = ds_runtime::gpu_decode::stream_pages(&ts);
        let row = |engine, kernel: &str, device: &str, secs| Row {
            file: name.clone(),
            engine,
            kernel: kernel.to_owned(),
            device: device.to_owned(),
            tiles: pages.len(),
            compressed: stream.len(),
            decoded,
            secs,
        };

        if wants(Engine::Cpu) {
            let mut out = vec![0u8; decoded];
            let secs = time(args.runs, None, || {
                dsr_gdeflate::decompress_into(&stream, &mut out, args.threads).map_err(|e| e.to_string())
            })?;
            if out != expected {
                return Err(format!("{name}: the CPU decoder's output differs between runs"));
            }
            let threads = if args.threads == 0 {
                std::thread::available_parallelism().map_or(1, |n| n.get())
            } else {
                args.threads
            };
            rows.push(row("cpu", &format!("{threads} threads"), "cpu", secs));
        }
        if let Some(ctx) = &vulkan {
            let device = ctx.device_info().name.clone();
            for kernel in ctx.decode_kernels() {
                let job = ctx.prepare_decode_uninit(&pages, decoded).map_err(|e| e.to_string())?;
                let once = || -> Result<(), String> {
                    let v = ctx.submit_decode_with(&job, kernel).map_err(|e| e.to_string())?;
                    ctx.wait(v, Duration::MAX).map_err(|e| e.to_string())
                };
                once()?;
                let (out, statuses) = ctx.decode_results(&job).map_err(|e| e.to_string())?;
                check(&name, "vulkan", kernel, &out, &expected, statuses.iter().map(|s| s.code))?;
                rows.push(row("vulkan", kernel, &device, time(args.runs, Some(WARM_UP), once)?));
            }
        }
        if let Some(ctx) = &wgpu {
            let device = ctx.adapter_info().name.clone();
            for kernel in ctx.decode_kernels() {
                let job = ctx.prepare_decode_uninit(&pages, decoded).map_err(|e| e.to_string())?;
                let once = || -> Result<(), String> {
                    let i = ctx.submit_decode_with(&job, kernel).map_err(|e| e.to_string())?;
                    ctx.wait(i, Duration::MAX).map_err(|e| e.to_string())
                };
                once()?;
                let (out, statuses) = ctx.decode_results(&job).map_err(|e| e.to_string())?;
                check(&name, "wgpu", kernel, &out, &expected, statuses.iter().map(|s| s.code))?;
                rows.push(row("wgpu", kernel, &device, time(args.runs, Some(WARM_UP), once)?));
            }
        }
    }
    print!("{}", if args.json { json(&rows) } else { table(&rows, args.runs) });
    for n in notes {
        eprintln!("dsr: note: {n}");
    }
    Ok(())
}

/// GPU warm-up before the timed runs (an idle GPU starts at a low clock).
const WARM_UP: Duration = Duration::from_millis(300);

/// Runs `f` for `warm_up` (at least once), then `runs` timed times.
fn time(
    runs: u32,
    warm_up: Option<Duration>,
    mut f: impl FnMut() -> Result<(), String>,
) -> Result<Vec<f64>, String> {
    let start = Instant::now();
    loop {
        f()?;
        if start.elapsed() >= warm_up.unwrap_or_default() {
            break;
        }
    }
    let mut secs = Vec::with_capacity(runs as usize);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        secs.push(t.elapsed().as_secs_f64());
    }
    Ok(secs)
}

/// The GPU's output against the CPU decoder's.
fn check(
    file: &str,
    engine: &str,
    kernel: &str,
    out: &[u8],
    expected: &[u8],
    mut codes: impl Iterator<Item = u32>,
) -> Result<(), String> {
    let ok = ds_runtime::vulkan::dsr_kernels::gdeflate_decode::STATUS_OK;
    if let Some((tile, code)) = codes.by_ref().enumerate().find(|&(_, c)| c != ok) {
        return Err(format!("{file}: {engine} {kernel}: tile {tile} has status {code}, not OK"));
    }
    if let Some(at) = out.iter().zip(expected).position(|(a, b)| a != b) {
        return Err(format!("{file}: {engine} {kernel}: output differs from the CPU decoder's at byte {at}"));
    }
    if out.len() < expected.len() {
        return Err(format!("{file}: {engine} {kernel}: output is short"));
    }
    Ok(())
}

/// The CPU row of `file`'s median GB/s, for the × column.
fn cpu_median(rows: &[Row], file: &str) -> Option<f64> {
    rows.iter().find(|r| r.file == file && r.engine == "cpu").map(|r| r.gbps().0)
}

fn table(rows: &[Row], runs: u32) -> String {
    let mut s = String::new();
    let width = rows.iter().map(|r| r.file.chars().count()).max().unwrap_or(4).max(4);
    // `write!` into a `String` cannot fail.
    let _ = writeln!(
        s,
        "GDeflate decode, verified against the CPU decoder; {runs} runs per engine (GPU after 0.3 s of \
         warm-up); GB/s = 10^9 decoded bytes/s, median [min–max]; × = relative to the CPU row"
    );
    let _ = writeln!(
        s,
        "{:<width$} {:<7} {:<26} {:<28} {:>6} {:>9} {:>19} {:>7}",
        "file", "engine", "kernel", "device", "tiles", "GB/s", "[min–max]", "×"
    );
    for r in rows {
        let (med, lo, hi) = r.gbps();
        let ratio = cpu_median(rows, &r.file).map_or_else(|| "-".to_owned(), |c| format!("{:.2}", med / c));
        let _ = writeln!(
            s,
            "{:<width$} {:<7} {:<26} {:<28} {:>6} {:>9.3} {:>19} {:>7}",
            r.file,
            r.engine,
            r.kernel,
            r.device,
            r.tiles,
            med,
            format!("[{lo:.3}–{hi:.3}]"),
            ratio
        );
    }
    s
}

fn json_str(v: &str) -> String {
    let mut s = String::from('"');
    for c in v.chars() {
        match c {
            '"' => s.push_str("\\\""),
            '\\' => s.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(s, "\\u{:04x}", c as u32);
            }
            c => s.push(c),
        }
    }
    s.push('"');
    s
}

fn json(rows: &[Row]) -> String {
    let mut s = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let (med, lo, hi) = r.gbps();
        let ratio =
            cpu_median(rows, &r.file).map_or_else(|| "null".to_owned(), |c| format!("{:.4}", med / c));
        let _ = writeln!(
            s,
            "  {{\"file\": {}, \"engine\": {}, \"kernel\": {}, \"device\": {}, \"tiles\": {}, \
             \"compressed_bytes\": {}, \"decoded_bytes\": {}, \"runs\": {}, \"median_gbps\": {med:.4}, \
             \"min_gbps\": {lo:.4}, \"max_gbps\": {hi:.4}, \"vs_cpu\": {ratio}}}{}",
            json_str(&r.file),
            json_str(r.engine),
            json_str(&r.kernel),
            json_str(&r.device),
            r.tiles,
            r.compressed,
            r.decoded,
            r.secs.len(),
            if i + 1 < rows.len() { "," } else { "" }
        );
    }
    s.push_str("]\n");
    s
}
