//! `dsr bench`: throughput of any files on any backends, one table (or JSON rows, or an SVG
//! chart), so that a figure can be reproduced by anyone on any machine.
//!
//! Inputs: each FILE is a tile stream, or any other file, compressed at the default level
//! (9) first; a file that starts with the container's `04 FB` but does not parse is an
//! error. Every row carries the file's *kind* ([`file_kind`]: a content class from the
//! file name's extension), by which `--chart` groups its bars.
//!
//! `dsr bench decode`: for each file and engine — the CPU decoder on `--threads` threads,
//! every decode kernel the Vulkan device (ash core) and the wgpu adapter run — GPU pages are
//! made resident once (upload and readback are not timed), decoded once and checked against
//! the CPU decoder (every status OK, every byte equal: a figure of wrong output is never
//! printed), then decoded for 0.3 s of warm-up (so the GPU is at its working clock) and
//! `--runs` times back to back, each run timed from submission to completion on the host.
//! × = relative to the CPU row of the same file measured in the same run.
//!
//! `dsr bench e2e`: file → decoded bytes in host or GPU memory (`--dest`) through the
//! streaming pipeline (one request per file through a queue of a cpu or vulkan runtime;
//! [`crate::e2e`]), against the baseline measured in the same run: `pread` + CPU decode on
//! all cores (+ upload for `--dest gpu`). One untimed run of each first, whose delivered
//! bytes must hash (SHA-256) like the CPU decoder's output, then (`--dest gpu`) 0.3 s of
//! untimed runs to warm the GPU up, then `--runs` timed runs each, from enqueue to completion
//! (warm page cache). × = relative to the baseline row.
//! `--together` adds rows for all files at once (kind `all`): every file's request enqueued
//! before the queue is drained, the baseline taking the files one after another.
//!
//! GB/s = 10^9 decoded bytes per second: the median with the min–max spread. The chart
//! shows, per (kind, series), the median and min–max of the per-run throughput of that
//! kind's files taken together (their bytes over the sum of their times in run i).

use crate::chart::{Bar, BarChart};
use crate::e2e::{self, Baseline, Pipeline};
use crate::load::Dest;
use clap::{Args, Subcommand};
use ds_runtime::Backend;
use ds_runtime::stream::{IoKind, PageKind, Runtime, RuntimeConfig, StagingKind};
use ds_runtime::vulkan::VulkanContext;
use dsr_gdeflate::TileStream;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sha2::{Digest, Sha256};
use std::cell::Cell;
use std::fmt::Write as _;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What `dsr bench` measures.
#[derive(Subcommand)]
pub enum BenchCommand {
    /// Decode throughput of FILES on every backend (or those named), verified first.
    Decode(DecodeArgs),
    /// End-to-end throughput, file → decoded bytes in host or GPU memory through the
    /// streaming pipeline, against pread + CPU decode (+ upload), verified first.
    #[command(alias = "end-to-end")]
    E2e(E2eArgs),
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
    /// Vulkan only: also time each decode kernel with the pages cut into this many
    /// submissions, back to back and declared independent of each other, as the streaming
    /// pipeline submits its batches (repeat or comma-separate; 1 = one dispatch, always run).
    #[arg(long, value_delimiter = ',', value_parser = clap::value_parser!(u32).range(1..))]
    submissions: Vec<u32>,
    /// Print JSON (one object per row) instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write an SVG bar chart (GB/s by file kind and engine) to this path.
    #[arg(long, value_name = "PATH.svg")]
    chart: Option<PathBuf>,
    /// Tile streams (or other files, compressed at level 9 first).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Streaming-pipeline backends `dsr bench e2e` can run.
#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PipelineBackend {
    /// A cpu runtime: CPU workers decode into host memory.
    Cpu,
    /// A vulkan runtime: GPU decode into GPU memory (`--dest gpu`), or CPU workers into host
    /// memory with the staging ring imported into Vulkan (`--dest host`).
    Vulkan,
}

/// `dsr bench e2e` arguments.
#[derive(Args)]
pub struct E2eArgs {
    /// Pipeline backends to run (repeat or comma-separate; default: cpu and vulkan for
    /// `--dest host` (vulkan when available), vulkan for `--dest gpu`).
    #[arg(short, long, value_delimiter = ',')]
    backend: Vec<PipelineBackend>,
    /// Timed runs per method (after one verified, untimed run).
    #[arg(short, long, default_value_t = 5, value_parser = clap::value_parser!(u32).range(1..))]
    runs: u32,
    /// Where the decoded bytes go: host memory, or device-local GPU memory (vulkan only).
    #[arg(long, value_enum, default_value = "host")]
    dest: Dest,
    /// Print JSON (one object per row) instead of the table.
    #[arg(long)]
    json: bool,
    /// Also write an SVG bar chart (GB/s by file kind and method) to this path.
    #[arg(long, value_name = "PATH.svg")]
    chart: Option<PathBuf>,
    /// Also measure all FILES at once (kind `all`): their requests enqueued together, so the
    /// pipeline overlaps them; the baseline takes them one after another.
    #[arg(long)]
    together: bool,
    /// Tile streams (or other files, compressed at level 9 into a temporary file first).
    #[arg(required = true)]
    files: Vec<PathBuf>,
}

/// Runs `dsr bench …`.
pub fn run(cmd: &BenchCommand) -> Result<(), String> {
    match cmd {
        BenchCommand::Decode(args) => decode(args),
        BenchCommand::E2e(args) => end_to_end(args),
    }
}

/// The content class of a file, from the last extension of its name once the container's
/// suffixes are taken off (`.gdf`, `.gdeflate`, `.lvlN`: `tree.dds.lvl9.gdf` is a texture):
/// `texture`, `audio`, `mesh`, `text` (text formats, shaders and scripts included), else
/// `binary` (no extension, or one not listed here).
pub fn file_kind(path: &Path) -> &'static str {
    let name = path.file_name().map(|n| n.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let mut exts: Vec<&str> = name.split('.').skip(1).collect();
    while let Some(&last) = exts.last() {
        let level =
            last.strip_prefix("lvl").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if last == "gdf" || last == "gdeflate" || level {
            exts.pop();
        } else {
            break;
        }
    }
    match exts.last().copied().unwrap_or("") {
        "dds" | "ktx" | "ktx2" | "png" | "jpg" | "jpeg" | "tga" | "bmp" | "gif" | "exr" | "hdr" | "basis"
        | "astc" | "pkm" | "pvr" | "webp" | "tif" | "tiff" => "texture",
        "wav" | "ogg" | "mp3" | "flac" | "opus" | "wem" | "bank" | "aif" | "aiff" | "m4a" => "audio",
        "ply" | "obj" | "fbx" | "gltf" | "glb" | "md2" | "md3" | "md5mesh" | "mdl" | "stl" | "dae"
        | "3ds" | "blend" | "mesh" => "mesh",
        "txt" | "json" | "xml" | "csv" | "md" | "html" | "htm" | "yaml" | "yml" | "toml" | "ini" | "cfg"
        | "shader" | "glsl" | "hlsl" | "wgsl" | "vert" | "frag" | "comp" | "lua" | "js" | "py" | "c"
        | "h" | "cpp" | "rs" | "log" | "material" => "text",
        _ => "binary",
    }
}

/// FILE as a tile stream: the file itself when it is one (it must parse when it starts like
/// one, `04 FB`), else its bytes compressed at level 9. Also its display name and whether it
/// was compressed here.
fn tile_stream(path: &Path) -> Result<(Vec<u8>, String, bool), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    match TileStream::parse(&bytes) {
        Ok(_) => Ok((bytes, path.display().to_string(), false)),
        Err(e) if bytes.starts_with(&[0x04, 0xfb]) => Err(format!("{}: {e}", path.display())),
        Err(_) => {
            let s = dsr_gdeflate::compress(&bytes, dsr_gdeflate::Level::DEFAULT, 0)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok((s, format!("{} (compressed here, level 9)", path.display()), true))
        }
    }
}

/// A progress bar on stderr, drawn only when stderr is a terminal and only once the run has
/// taken more than half a second (so quick runs, tests and CI logs stay clean). Cleared when
/// done or dropped.
struct Progress {
    bar: Option<ProgressBar>,
    start: Instant,
    shown: Cell<bool>,
}

impl Progress {
    fn new(total: u64) -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
            if let Ok(style) =
                ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} runs  {wide_msg}")
            {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        Self { bar, start: Instant::now(), shown: Cell::new(false) }
    }

    /// What is being measured now.
    fn message(&self, msg: String) {
        if let Some(bar) = &self.bar {
            bar.set_message(msg);
            self.tick();
        }
    }

    /// One timed run done.
    fn inc(&self) {
        if let Some(bar) = &self.bar {
            bar.inc(1);
            self.tick();
        }
    }

    /// Shows the bar once the run has taken long enough.
    fn tick(&self) {
        if let Some(bar) = &self.bar
            && !self.shown.get()
            && self.start.elapsed() > Duration::from_millis(500)
        {
            self.shown.set(true);
            bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// One measured engine on one file (`dsr bench decode`).
struct Row {
    file: String,
    kind: &'static str,
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
        e2e::gbps(&self.secs, self.decoded as u64)
    }
}

fn decode(args: &DecodeArgs) -> Result<(), String> {
    let all = args.backend.is_empty();
    let wants = |e: Engine| all || args.backend.contains(&e);
    let mut notes = Vec::new();

    let vulkan = if wants(Engine::Vulkan) {
        match VulkanContext::new(&Default::default()) {
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

    let engines = usize::from(wants(Engine::Cpu))
        + vulkan.as_ref().map_or(0, |c| {
            c.decode_kernels().len() * (1 + args.submissions.iter().filter(|&&n| n > 1).count())
        })
        + wgpu.as_ref().map_or(0, |c| c.decode_kernels().len());
    let progress = Progress::new((engines * args.files.len()) as u64 * u64::from(args.runs));
    let mut rows = Vec::new();
    for path in &args.files {
        progress.message(format!("{}: reading", path.display()));
        let (stream, name, _) = tile_stream(path)?;
        let kind = file_kind(path);
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
            kind,
            engine,
            kernel: kernel.to_owned(),
            device: device.to_owned(),
            tiles: pages.len(),
            compressed: stream.len(),
            decoded,
            secs,
        };

        if wants(Engine::Cpu) {
            progress.message(format!("{}: cpu", path.display()));
            let mut out = vec![0u8; decoded];
            let secs = time(args.runs, None, &progress, || {
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
                progress.message(format!("{}: vulkan {kernel}", path.display()));
                let job = ctx.prepare_decode_uninit(&pages, decoded).map_err(|e| e.to_string())?;
                let once = || -> Result<(), String> {
                    let v = ctx.submit_decode_with(&job, kernel).map_err(|e| e.to_string())?;
                    ctx.wait(v, Duration::MAX).map_err(|e| e.to_string())
                };
                once()?;
                let (out, statuses) = ctx.decode_results(&job).map_err(|e| e.to_string())?;
                check(&name, "vulkan", kernel, &out, &expected, statuses.iter().map(|s| s.code))?;
                rows.push(row("vulkan", kernel, &device, time(args.runs, Some(WARM_UP), &progress, once)?));
                if kernel == ds_runtime::vulkan::DRIVER_DECODE {
                    continue;
                }
                for &parts in args.submissions.iter().filter(|&&n| n > 1) {
                    let split = ctx.prepare_decode_split(&job, parts).map_err(|e| e.to_string())?;
                    let label = format!("{kernel} in {} submissions", split.submissions());
                    progress.message(format!("{}: vulkan {label}", path.display()));
                    let once = || -> Result<(), String> {
                        let v = ctx.submit_decode_split(&job, &split, kernel).map_err(|e| e.to_string())?;
                        ctx.wait(v, Duration::MAX).map_err(|e| e.to_string())
                    };
                    let (out, statuses) = {
                        // A guard-filled destination: the check sees this decode's bytes only.
                        let job2 =
                            ctx.prepare_decode(&pages, &vec![0xa5; decoded]).map_err(|e| e.to_string())?;
                        let v = ctx.submit_decode_split(&job2, &split, kernel).map_err(|e| e.to_string())?;
                        ctx.wait(v, Duration::MAX).map_err(|e| e.to_string())?;
                        ctx.decode_results(&job2).map_err(|e| e.to_string())?
                    };
                    check(&name, "vulkan", &label, &out, &expected, statuses.iter().map(|s| s.code))?;
                    rows.push(row(
                        "vulkan",
                        &label,
                        &device,
                        time(args.runs, Some(WARM_UP), &progress, once)?,
                    ));
                }
            }
        }
        if let Some(ctx) = &wgpu {
            let device = ctx.adapter_info().name.clone();
            for kernel in ctx.decode_kernels() {
                progress.message(format!("{}: wgpu {kernel}", path.display()));
                let job = ctx.prepare_decode_uninit(&pages, decoded).map_err(|e| e.to_string())?;
                let once = || -> Result<(), String> {
                    let i = ctx.submit_decode_with(&job, kernel).map_err(|e| e.to_string())?;
                    ctx.wait(i, Duration::MAX).map_err(|e| e.to_string())
                };
                once()?;
                let (out, statuses) = ctx.decode_results(&job).map_err(|e| e.to_string())?;
                check(&name, "wgpu", kernel, &out, &expected, statuses.iter().map(|s| s.code))?;
                rows.push(row("wgpu", kernel, &device, time(args.runs, Some(WARM_UP), &progress, once)?));
            }
        }
    }
    drop(progress);
    if let Some(path) = &args.chart {
        let mut devices: Vec<&str> = Vec::new();
        for r in rows.iter().filter(|r| r.engine != "cpu") {
            if !devices.contains(&r.device.as_str()) {
                devices.push(&r.device);
            }
        }
        // One series per engine, or per engine and kernel where an engine ran several.
        let series = |r: &Row| {
            let kernels = rows.iter().filter(|o| o.engine == r.engine && o.kernel != r.kernel).count();
            if kernels == 0 { r.engine.to_owned() } else { format!("{} {}", r.engine, r.kernel) }
        };
        let chart = chart(
            "GDeflate decode throughput (verified against the CPU decoder)",
            &devices,
            rows.iter().map(|r| (r.kind, series(r), r.decoded as u64, r.secs.as_slice())),
        );
        write_chart(path, &chart)?;
    }
    print!("{}", if args.json { decode_json(&rows) } else { decode_table(&rows, args.runs) });
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
    progress: &Progress,
    mut f: impl FnMut() -> Result<(), String>,
) -> Result<Vec<f64>, String> {
    let start = Instant::now();
    loop {
        f()?;
        progress.tick();
        if start.elapsed() >= warm_up.unwrap_or_default() {
            break;
        }
    }
    timed(runs, progress, f)
}

/// `runs` timed calls of `f`.
fn timed(
    runs: u32,
    progress: &Progress,
    mut f: impl FnMut() -> Result<(), String>,
) -> Result<Vec<f64>, String> {
    let mut secs = Vec::with_capacity(runs as usize);
    for _ in 0..runs {
        let t = Instant::now();
        f()?;
        secs.push(t.elapsed().as_secs_f64());
        progress.inc();
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

fn decode_table(rows: &[Row], runs: u32) -> String {
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
        "{:<width$} {:<7} {:<7} {:<26} {:<28} {:>6} {:>9} {:>19} {:>7}",
        "file", "kind", "engine", "kernel", "device", "tiles", "GB/s", "[min–max]", "×"
    );
    for r in rows {
        let (med, lo, hi) = r.gbps();
        let ratio = cpu_median(rows, &r.file).map_or_else(|| "-".to_owned(), |c| format!("{:.2}", med / c));
        let _ = writeln!(
            s,
            "{:<width$} {:<7} {:<7} {:<26} {:<28} {:>6} {:>9.3} {:>19} {:>7}",
            r.file,
            r.kind,
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

fn decode_json(rows: &[Row]) -> String {
    let mut s = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let (med, lo, hi) = r.gbps();
        let ratio =
            cpu_median(rows, &r.file).map_or_else(|| "null".to_owned(), |c| format!("{:.4}", med / c));
        let _ = writeln!(
            s,
            "  {{\"file\": {}, \"kind\": {}, \"engine\": {}, \"kernel\": {}, \"device\": {}, \"tiles\": {}, \
             \"compressed_bytes\": {}, \"decoded_bytes\": {}, \"runs\": {}, \"median_gbps\": {med:.4}, \
             \"min_gbps\": {lo:.4}, \"max_gbps\": {hi:.4}, \"vs_cpu\": {ratio}}}{}",
            json_str(&r.file),
            json_str(r.kind),
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

/// One measured method on one file (`dsr bench e2e`).
struct E2eRow {
    file: String,
    kind: &'static str,
    /// `baseline`, `cpu` or `vulkan`.
    backend: &'static str,
    method: String,
    /// `cpu`, or the Vulkan device of a vulkan runtime or of the GPU baseline's upload.
    device: String,
    io: String,
    staging: String,
    compressed: u64,
    decoded: u64,
    secs: Vec<f64>,
}

/// The I/O engine a runtime runs, in words.
fn io_name(rt: &Runtime) -> String {
    let fixed = if rt.fixed_buffers() { " (fixed buffers)" } else { "" };
    match rt.io_kind() {
        IoKind::Uring | IoKind::Auto => format!("io_uring{fixed}"),
        IoKind::Pread => "pread pool".into(),
    }
}

/// A runtime's staging ring, in words.
fn staging_name(rt: &Runtime) -> String {
    let pages = |p: PageKind| match p {
        PageKind::HugeTlb => "huge pages",
        PageKind::Transparent => "THP",
        PageKind::Normal => "4 KiB pages",
    };
    let (chunk, chunks) = rt.staging_geometry();
    let kind = match rt.staging_kind() {
        StagingKind::Host(p) => format!("host, {}", pages(p)),
        StagingKind::VulkanImported(p) => format!("host imported into Vulkan, {}", pages(p)),
        StagingKind::VulkanHostVisible => "Vulkan host-visible".into(),
    };
    format!("{kind}, {chunks} x {} MiB", chunk >> 20)
}

/// What every measurement of one `dsr bench e2e` shares.
struct E2eSetup<'a> {
    /// The pipelines' runtimes, by backend name.
    runtimes: Vec<(&'static str, &'a Runtime)>,
    /// The vulkan runtime's context (the GPU baseline uploads with it).
    ctx: Option<&'a Arc<VulkanContext>>,
    to_gpu: bool,
    runs: u32,
    baseline_method: String,
}

/// The streams of one row set (a file, or every file with `--together`).
struct E2eSet<'a> {
    /// The `file` column.
    label: String,
    kind: &'static str,
    streams: &'a [e2e::Stream],
    /// Each stream's display name and the SHA-256 of its CPU-decoded bytes.
    names: &'a [String],
    want: &'a [[u8; 32]],
}

/// The baseline and every pipeline on `set`: one untimed run each whose output must hash
/// like the CPU decoder's, then `setup.runs` timed runs.
fn measure(setup: &E2eSetup<'_>, progress: &Progress, set: &E2eSet<'_>) -> Result<Vec<E2eRow>, String> {
    let label = &set.label;
    let decoded: u64 = set.streams.iter().map(|s| s.decoded).sum();
    let row = |backend, method: String, on_gpu: bool, io: String, staging: String, secs| E2eRow {
        file: label.clone(),
        kind: set.kind,
        backend,
        method,
        device: match setup.ctx {
            Some(c) if on_gpu => c.device_info().name.clone(),
            _ => "cpu".to_owned(),
        },
        io,
        staging,
        compressed: set.streams.iter().map(|s| s.size).sum(),
        decoded,
        secs,
    };
    let verify = |who: &str, i: usize, bytes: &[u8]| {
        if Sha256::digest(bytes)[..] == set.want[i] {
            Ok(())
        } else {
            Err(format!(
                "{}: {who}: the delivered bytes differ from the CPU decoder's output (SHA-256)",
                set.names[i]
            ))
        }
    };
    let mut rows = Vec::new();

    progress.message(format!("{label}: baseline"));
    let mut base = Baseline::new(set.streams, if setup.to_gpu { setup.ctx } else { None })?;
    base.run()?;
    for i in 0..set.streams.len() {
        verify("baseline", i, base.decoded(i))?;
    }
    // GPU destinations: the baseline's upload and the pipeline's decode are timed after the
    // same warm-up as `dsr bench decode`'s, so that the GPU runs at its working clock (without
    // it the first runs after the CPU-bound verification ran 2-3x slower: docs/streaming.md).
    let warm_up = setup.to_gpu.then_some(WARM_UP);
    let secs = time(setup.runs, warm_up, progress, || base.run())?;
    let staging = if setup.to_gpu { "upload buffer" } else { "-" };
    rows.push(row(
        "baseline",
        setup.baseline_method.clone(),
        setup.to_gpu,
        "pread".into(),
        staging.into(),
        secs,
    ));
    drop(base);

    for &(backend, rt) in &setup.runtimes {
        progress.message(format!("{label}: {backend}"));
        let fail = |e: String| format!("{label}: {backend}: {e}");
        let p = Pipeline::new(rt, set.streams, setup.to_gpu).map_err(fail)?;
        p.run().map_err(fail)?;
        for i in 0..set.streams.len() {
            verify(backend, i, &p.delivered(i)?)?;
        }
        let secs = time(setup.runs, warm_up, progress, || p.run()).map_err(fail)?;
        let method = match rt.vulkan_context() {
            Some(c) if setup.to_gpu => format!("queue, GPU decode ({})", c.decode_kernel().unwrap_or("?")),
            _ => "queue, CPU decode".to_owned(),
        };
        let on_gpu = rt.vulkan_context().is_some();
        rows.push(row(backend, method, on_gpu, io_name(rt), staging_name(rt), secs));
    }
    Ok(rows)
}

fn end_to_end(args: &E2eArgs) -> Result<(), String> {
    let to_gpu = args.dest == Dest::Gpu;
    let all = args.backend.is_empty();
    let asked = |b: PipelineBackend| args.backend.contains(&b);
    if to_gpu && asked(PipelineBackend::Cpu) {
        return Err("--dest gpu needs the vulkan backend (the cpu backend delivers into host memory)".into());
    }
    let mut notes = Vec::new();
    let cpu = if (all && !to_gpu) || asked(PipelineBackend::Cpu) {
        let rt = Runtime::new(RuntimeConfig { backend: Backend::Cpu, ..RuntimeConfig::default() });
        Some(rt.map_err(|e| format!("backend cpu: {e}"))?)
    } else {
        None
    };
    let vulkan = if all || asked(PipelineBackend::Vulkan) {
        match Runtime::new(RuntimeConfig { backend: Backend::Vulkan, ..RuntimeConfig::default() }) {
            Ok(rt) => Some(rt),
            Err(e) if all && !to_gpu => {
                notes.push(format!("vulkan: not measured ({e})"));
                None
            }
            Err(e) => return Err(format!("backend vulkan: {e}")),
        }
    } else {
        None
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let setup = E2eSetup {
        runtimes: [("cpu", cpu.as_ref()), ("vulkan", vulkan.as_ref())]
            .into_iter()
            .filter_map(|(n, r)| Some((n, r?)))
            .collect(),
        ctx: vulkan.as_ref().and_then(|rt| rt.vulkan_context()),
        to_gpu,
        runs: args.runs,
        baseline_method: if to_gpu {
            format!("pread + CPU decode ({threads} threads) + upload")
        } else {
            format!("pread + CPU decode ({threads} threads)")
        },
    };

    let tmp = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let sets = args.files.len() as u64 + u64::from(args.together);
    let progress = Progress::new((1 + setup.runtimes.len() as u64) * sets * u64::from(args.runs));
    let mut rows = Vec::new();
    let (mut streams, mut names, mut want) = (Vec::new(), Vec::new(), Vec::new());
    for (index, path) in args.files.iter().enumerate() {
        progress.message(format!("{}: reading", path.display()));
        let (stream, name, compressed_here) = tile_stream(path)?;
        let kind = file_kind(path);
        let ts = TileStream::parse(&stream).map_err(|e| format!("{name}: {e}"))?;
        let expected = dsr_gdeflate::decompress(&stream, 0).map_err(|e| format!("{name}: {e}"))?;
        if ts.num_tiles() == 0 {
            notes.push(format!("{name}: no tiles; left out"));
            continue;
        }
        let hash: [u8; 32] = Sha256::digest(&expected).into();
        drop(expected);
        let stream_path = if compressed_here {
            let p = tmp.path().join(format!("{index}.gdf"));
            std::fs::write(&p, &stream).map_err(|e| format!("{}: {e}", p.display()))?;
            p
        } else {
            path.clone()
        };
        let s = e2e::Stream {
            path: stream_path,
            offset: 0,
            size: stream.len() as u64,
            decoded: ts.uncompressed_size(),
        };
        drop(stream);
        let set = E2eSet {
            label: name.clone(),
            kind,
            streams: std::slice::from_ref(&s),
            names: std::slice::from_ref(&name),
            want: std::slice::from_ref(&hash),
        };
        rows.extend(measure(&setup, &progress, &set)?);
        streams.push(s);
        names.push(name);
        want.push(hash);
    }
    if args.together && !streams.is_empty() {
        let set = E2eSet {
            label: format!("all {} files together", streams.len()),
            kind: "all",
            streams: &streams,
            names: &names,
            want: &want,
        };
        rows.extend(measure(&setup, &progress, &set)?);
    }
    drop(progress);

    let device = setup.ctx.map(|c| c.device_info().name.clone());
    let devices: Vec<&str> = device.iter().map(String::as_str).collect();
    if let Some(path) = &args.chart {
        let title = format!(
            "End to end: file → decoded bytes in {} memory (verified)",
            if to_gpu { "GPU" } else { "host" }
        );
        // The `all` rows are the files again: their own group, never summed into a kind.
        let chart = chart(
            &title,
            &devices,
            rows.iter().map(|r| {
                let series = if r.backend == "baseline" {
                    "baseline".to_owned()
                } else {
                    format!("queue {}", r.backend)
                };
                (r.kind, series, r.decoded, r.secs.as_slice())
            }),
        );
        write_chart(path, &chart)?;
    }
    print!(
        "{}",
        if args.json { e2e_json(&rows, args.dest) } else { e2e_table(&rows, args.runs, args.dest, &devices) }
    );
    for n in notes {
        eprintln!("dsr: note: {n}");
    }
    Ok(())
}

/// The baseline row of `file`'s median GB/s, for the × column.
fn baseline_median(rows: &[E2eRow], file: &str) -> Option<f64> {
    rows.iter().find(|r| r.file == file && r.backend == "baseline").map(|r| e2e::gbps(&r.secs, r.decoded).0)
}

fn e2e_table(rows: &[E2eRow], runs: u32, dest: Dest, devices: &[&str]) -> String {
    let mut s = String::new();
    let width = rows.iter().map(|r| r.file.chars().count()).max().unwrap_or(4).max(4);
    let mwidth = rows.iter().map(|r| r.method.chars().count()).max().unwrap_or(6).max(6);
    let swidth = rows.iter().map(|r| r.staging.chars().count()).max().unwrap_or(7).max(7);
    let iwidth = rows.iter().map(|r| r.io.chars().count()).max().unwrap_or(2).max(2);
    let _ = writeln!(
        s,
        "End to end, file -> decoded bytes in {} memory, one request per file, verified (SHA-256 of the \
         delivered bytes = the CPU decoder's) before timing; {runs} runs per method, warm page cache; \
         GB/s = 10^9 decoded bytes/s, median [min–max]; × = relative to the baseline row",
        if dest == Dest::Gpu { "GPU" } else { "host" }
    );
    let _ = writeln!(
        s,
        "machine: {}{}",
        machine(),
        devices.iter().map(|d| format!("; device: {d}")).collect::<String>()
    );
    let _ = writeln!(
        s,
        "{:<width$} {:<7} {:<8} {:<mwidth$} {:<iwidth$} {:<swidth$} {:>9} {:>19} {:>7}",
        "file", "kind", "backend", "method", "io", "staging", "GB/s", "[min–max]", "×"
    );
    for r in rows {
        let (med, lo, hi) = e2e::gbps(&r.secs, r.decoded);
        let ratio =
            baseline_median(rows, &r.file).map_or_else(|| "-".to_owned(), |b| format!("{:.2}", med / b));
        let _ = writeln!(
            s,
            "{:<width$} {:<7} {:<8} {:<mwidth$} {:<iwidth$} {:<swidth$} {:>9.3} {:>19} {:>7}",
            r.file,
            r.kind,
            r.backend,
            r.method,
            r.io,
            r.staging,
            med,
            format!("[{lo:.3}–{hi:.3}]"),
            ratio
        );
    }
    s
}

fn e2e_json(rows: &[E2eRow], dest: Dest) -> String {
    let dest = if dest == Dest::Gpu { "gpu" } else { "host" };
    let mut s = String::from("[\n");
    for (i, r) in rows.iter().enumerate() {
        let (med, lo, hi) = e2e::gbps(&r.secs, r.decoded);
        let ratio =
            baseline_median(rows, &r.file).map_or_else(|| "null".to_owned(), |b| format!("{:.4}", med / b));
        let _ = writeln!(
            s,
            "  {{\"file\": {}, \"kind\": {}, \"backend\": {}, \"method\": {}, \"device\": {}, \"io\": {}, \
             \"staging\": {}, \
             \"dest\": \"{dest}\", \"compressed_bytes\": {}, \"decoded_bytes\": {}, \"runs\": {}, \
             \"median_gbps\": {med:.4}, \"min_gbps\": {lo:.4}, \"max_gbps\": {hi:.4}, \"vs_baseline\": {ratio}}}{}",
            json_str(&r.file),
            json_str(r.kind),
            json_str(r.backend),
            json_str(&r.method),
            json_str(&r.device),
            json_str(&r.io),
            json_str(&r.staging),
            r.compressed,
            r.decoded,
            r.secs.len(),
            if i + 1 < rows.len() { "," } else { "" }
        );
    }
    s.push_str("]\n");
    s
}

/// The CPU model and thread count, from /proc/cpuinfo.
fn machine() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, m)| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!("{model}, {threads} threads")
}

/// A chart of `rows` = `(kind, series, decoded bytes, seconds of each run)`: groups are the
/// kinds and series in order of first appearance; each bar aggregates the rows of its
/// (kind, series): per run i, their bytes over the sum of their times in run i.
fn chart<'a>(
    title: &str,
    devices: &[&str],
    rows: impl Iterator<Item = (&'static str, String, u64, &'a [f64])>,
) -> BarChart {
    let mut groups: Vec<&str> = Vec::new();
    let mut series: Vec<String> = Vec::new();
    let mut sums: Vec<(usize, usize, u64, Vec<f64>)> = Vec::new();
    for (kind, name, bytes, secs) in rows {
        let g = groups.iter().position(|k| *k == kind).unwrap_or_else(|| {
            groups.push(kind);
            groups.len() - 1
        });
        let s = series.iter().position(|n| *n == name).unwrap_or_else(|| {
            series.push(name);
            series.len() - 1
        });
        match sums.iter_mut().find(|(sg, ss, ..)| (*sg, *ss) == (g, s)) {
            Some((.., total, times)) => {
                *total += bytes;
                for (t, x) in times.iter_mut().zip(secs) {
                    *t += x;
                }
            }
            None => sums.push((g, s, bytes, secs.to_vec())),
        }
    }
    let mut values = vec![vec![None; series.len()]; groups.len()];
    for (g, s, bytes, times) in sums {
        let (median, min, max) = e2e::gbps(&times, bytes);
        values[g][s] = Some(Bar { median, min, max });
    }
    let command =
        std::env::args().map(|a| if a.contains(' ') { format!("'{a}'") } else { a }).collect::<Vec<_>>();
    let mut subtitle = vec![format!("machine: {}", machine())];
    if !devices.is_empty() {
        subtitle.push(format!("device: {}", devices.join(", ")));
    }
    subtitle.push(format!("command: dsr {}", command.get(1..).unwrap_or_default().join(" ")));
    BarChart {
        title: title.to_owned(),
        subtitle,
        value_label: "GB/s decoded (median, min–max whisker)".into(),
        group_label: "file kind".into(),
        groups: groups.into_iter().map(str::to_owned).collect(),
        series,
        values,
    }
}

/// Writes the chart atomically (see `write_output`), readable by all (`write_output`'s temporary
/// file is private, 0600; a chart is made to be shared).
fn write_chart(path: &Path, chart: &BarChart) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    crate::write_output(path, chart.to_svg().as_bytes())?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o644))
        .map_err(|e| format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_kinds_come_from_the_extension_under_the_container_suffixes() {
        for (name, kind) in [
            ("fg_cumulus_bottom1.dds.lvl12.gdf", "texture"),
            ("wz_page-90-green-urban.ktx2", "texture"),
            ("etr_mud_slide.wav", "audio"),
            ("assimp_Wuson.ply.lvl1.gdf", "mesh"),
            ("oa_sorceress_upper.md3", "mesh"),
            ("syn_65536.txt.lvl12.gdf", "text"),
            ("oa_mc-oa.shader.lvl1.gdf", "text"),
            ("dir.d/WZ_RESEARCH.JSON", "text"),
            ("assimp_CesiumMilkTruck.bin.lvl1.gdf", "binary"),
            ("archive.gdf", "binary"),
            ("noext", "binary"),
            (".hidden", "binary"),
            ("x.lvl", "binary"),
        ] {
            assert_eq!(file_kind(Path::new(name)), kind, "{name}");
        }
    }

    #[test]
    fn the_chart_aggregates_the_files_of_a_kind_run_by_run() {
        // Two text files on the cpu: 1 GB in 1 s + 1 GB in 3 s = 2 GB in 4 s in run 0.
        let a = [1.0, 0.5];
        let b = [3.0, 1.5];
        let c = [1.0, 1.0];
        let rows = vec![
            ("text", "cpu".to_owned(), 1_000_000_000, &a[..]),
            ("text", "cpu".to_owned(), 1_000_000_000, &b[..]),
            ("mesh", "vulkan".to_owned(), 2_000_000_000, &c[..]),
        ];
        let chart = chart("t", &[], rows.into_iter());
        assert_eq!(chart.groups, ["text", "mesh"]);
        assert_eq!(chart.series, ["cpu", "vulkan"]);
        let text = chart.values[0][0].expect("text/cpu");
        assert_eq!((text.min, text.max), (0.5, 1.0));
        assert_eq!(chart.values[0][1], None);
        assert_eq!(chart.values[1][0], None);
        assert_eq!(chart.values[1][1].map(|b| b.median), Some(2.0));
    }
}
