//! Asset streaming from a pack, end to end: what a game's loading code does with ds-runtime.
//!
//! 1. Builds a `.dsp` pack of assets in a temporary directory (the corpus's real game files,
//!    plus a few generated ones stored raw; generated data only when there is no corpus):
//!    entries GDeflate-compressed where that shrinks them, aligned to 4 KiB for O_DIRECT.
//! 2. Opens it (`ds_runtime::pack::Pack`) and starts a streaming runtime (`ds_runtime::stream`)
//!    on the backend asked for (default `auto`: Vulkan on a hardware GPU, else the CPU).
//! 3. Enqueues many requests into one queue at once, straight at the entries' offsets in the
//!    pack file: every entry whole (GDeflate entries decoded on the way), into host buffers
//!    and — on a Vulkan runtime — every other one into a device-local Vulkan buffer; plus
//!    sub-range reads of the raw entries; plus a group of prefetch requests that is cancelled by
//!    tag before it starts (DirectStorage's `CancelRequestsWithTag`); plus **one deliberately
//!    bad request** (a GDeflate entry with the wrong uncompressed size) to show the error
//!    callback and the queue's error record catching it while every other request succeeds.
//! 4. Checks every result against the pack's SHA-256 (ranges against the verified entry) and
//!    prints a short report: requests, bytes, GB/s, backend, latency, cancellations, the error
//!    record.
//!
//! Run: `cargo run --release --example asset_streaming [-- --backend auto|cpu|vulkan] [DIR]`
//! (DIR: pack your own files instead of the corpus).
//!
//! `cargo test --release --example asset_streaming` (and `cargo test --workspace --release`,
//! since Cargo.toml builds this example with `test = true`) runs the same `run` function on the
//! CPU and, where there is a Vulkan device (lavapipe in CI), on Vulkan, asserting the report.

use ds_runtime::pack::{EntryCompression, Pack, PackEntry, PackOptions, PackWriter};
use ds_runtime::stream::{
    Callback, Compression, Destination, ErrorRecord, HostBuffer, QueueDesc, QueueStats, Request,
    RequestError, Runtime, RuntimeConfig, Source,
};
use ds_runtime::{Backend, select_backend};
use dsr_gdeflate::Level;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

type Error = Box<dyn std::error::Error>;

/// Request tags: the group in the high 32 bits (what `Queue::cancel` masks on), the entry's
/// index in the low 32.
const GROUP_MASK: u64 = 0xFFFF_FFFF << 32;
const LEVEL: u64 = 1 << 32;
const PIECES: u64 = 2 << 32;
const PREFETCH: u64 = 3 << 32;
const BAD: u64 = 0xBAD << 32;

/// What the demo runs on and with.
struct Options {
    /// Streaming backend: auto, cpu or vulkan.
    backend: Backend,
    /// Files to pack (every regular file directly inside); `None`: the corpus, else generated.
    assets: Option<PathBuf>,
    /// GDeflate level of the pack.
    level: Level,
    /// Print the report.
    verbose: bool,
}

/// What happened, for the printout and the tests.
#[derive(Debug)]
struct Report {
    entries: usize,
    gdeflate_entries: usize,
    /// Requests enqueued: the bad one and the cancelled ones included.
    requests: usize,
    /// Prefetch requests cancelled by tag before they started.
    cancelled: usize,
    /// Requests into Vulkan buffers.
    gpu_requests: usize,
    succeeded: usize,
    /// Bytes delivered by the successful requests.
    bytes: u64,
    seconds: f64,
    backend: String,
    /// Completions the queue's callback saw, and how many of them failed.
    callback_completions: u64,
    callback_failures: u64,
    error_record: ErrorRecord,
    stats: QueueStats,
    /// The bad request's name.
    bad_name: String,
}

fn corpus() -> PathBuf {
    std::env::var_os("DSR_CORPUS")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"), PathBuf::from)
}

/// Generated assets: a mesh-like text file, a texture-like file with repeating blocks, and
/// pseudo-random noise (incompressible: stored raw).
fn generated_assets() -> Vec<(String, Vec<u8>)> {
    let mesh: Vec<u8> =
        (0..40_000).flat_map(|i| format!("v {} {} {}\n", i % 97, i % 89, i % 83).into_bytes()).collect();
    let texture: Vec<u8> = (0..600_000u32).map(|i| ((i / 16) % 7 * 31 + (i % 4) * 3) as u8).collect();
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let noise: Vec<u8> = (0..300_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    vec![
        ("meshes/terrain.obj".into(), mesh),
        ("textures/ground.bin".into(), texture),
        ("audio/wind.pcm".into(), noise),
    ]
}

/// The assets to pack: `dir`'s files, else the corpus's raw files plus the generated ones,
/// else only the generated ones.
fn assets(dir: Option<&Path>) -> Result<Vec<(String, Vec<u8>)>, Error> {
    let from_dir = |dir: &Path, prefix: &str| -> Result<Vec<(String, Vec<u8>)>, Error> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let p = e?.path();
            if p.is_file() {
                let name = p.file_name().and_then(|n| n.to_str()).ok_or("file name is not UTF-8")?;
                v.push((format!("{prefix}{name}"), std::fs::read(&p)?));
            }
        }
        v.sort();
        Ok(v)
    };
    if let Some(dir) = dir {
        return from_dir(dir, "");
    }
    let mut v = match from_dir(&corpus().join("raw"), "corpus/") {
        Ok(v) => v,
        Err(_) => {
            println!("notice: no corpus at {} (set DSR_CORPUS); packing generated data", corpus().display());
            Vec::new()
        }
    };
    v.extend(generated_assets());
    Ok(v)
}

/// Where a request's output lands, to check it afterwards.
enum Output {
    Host(HostBuffer),
    Gpu(Arc<ds_runtime::vulkan::GpuBuffer>),
}

/// One enqueued request: what it should deliver (entry and byte range of its content).
struct Pending {
    entry: usize,
    range: std::ops::Range<usize>,
    output: Output,
    ticket: ds_runtime::stream::Ticket,
}

fn run(opts: &Options) -> Result<Report, Error> {
    // 1. The pack.
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("assets.dsp");
    let files = assets(opts.assets.as_deref())?;
    if files.is_empty() {
        return Err("no assets to pack".into());
    }
    let mut writer = PackWriter::create(&path, PackOptions { level: opts.level, ..PackOptions::default() })?;
    for (name, data) in &files {
        // Generated audio is stored raw on purpose (it would not shrink anyway).
        if name.starts_with("audio/") {
            writer.add_with(name, data, EntryCompression::None)?;
        } else {
            writer.add(name, data)?;
        }
    }
    writer.finish()?;
    let pack = Pack::open(&path)?;
    let entries = pack.entries();
    let gdeflate_entries = entries.iter().filter(|e| e.compression == EntryCompression::GDeflate).count();
    let stored: u64 = entries.iter().map(|e| e.stored_size).sum();
    let total: u64 = entries.iter().map(|e| e.uncompressed_size).sum();

    // 2. The runtime: the backend's selection says what it picked and why.
    let selection = select_backend(opts.backend)?;
    let config = RuntimeConfig { backend: Backend::Cpu, ..RuntimeConfig::default() };
    let (rt, backend) = match runtime_for(&selection, config)? {
        Some(rt) => (rt, format!("vulkan ({})", selection.device_name().unwrap_or("?"))),
        None => {
            let rt = Runtime::new(RuntimeConfig { backend: Backend::Cpu, ..RuntimeConfig::default() })?;
            if selection.backend != Backend::Cpu || selection.is_fallback {
                println!("notice: streaming on the CPU ({})", selection.reason);
            }
            (rt, "cpu".to_string())
        }
    };

    // 3. The requests, all in one queue, counted by its callback as they finish.
    let completions = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let callback: Callback = {
        let (completions, failures) = (Arc::clone(&completions), Arc::clone(&failures));
        Arc::new(move |c| {
            completions.fetch_add(1, Ordering::Relaxed);
            if c.result.is_err() {
                failures.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    let ranges_per_raw = 16;
    let raw_big =
        entries.iter().filter(|e| e.compression == EntryCompression::None && e.stored_size >= 4096).count();
    let capacity = (entries.len() + ranges_per_raw * raw_big + gdeflate_entries + 1) as u32;
    let queue = rt.create_queue(QueueDesc {
        capacity,
        name: "asset_streaming".into(),
        callback: Some(callback),
        ..QueueDesc::default()
    });
    let t = Instant::now();
    let mut pending = Vec::new();
    let mut gpu_requests = 0;
    for (i, e) in entries.iter().enumerate() {
        let size = e.uncompressed_size as usize;
        let to_gpu = i % 2 == 1 && size > 0;
        let (destination, output) = destination(&rt, size, to_gpu)?;
        gpu_requests += usize::from(!matches!(output, Output::Host(_)));
        let request = Request {
            source: e.source(pack.file()),
            destination,
            compression: e.request_compression(),
            tag: LEVEL | i as u64,
            name: e.name.clone().into(),
        };
        let ticket = queue.enqueue(request).map_err(|r| r.to_string())?;
        pending.push(Pending { entry: i, range: 0..size, output, ticket });
        // Raw entries can also be read in pieces, straight at their offsets in the pack.
        if e.compression == EntryCompression::None && e.stored_size >= 4096 {
            // Uneven pieces at unaligned offsets: the runtime pads O_DIRECT reads itself.
            let piece = size / ranges_per_raw;
            for k in 0..ranges_per_raw {
                let start = (k * piece).saturating_sub(k * 7);
                let range = start..if k + 1 == ranges_per_raw { size } else { (k + 1) * piece + k };
                let out = HostBuffer::new(range.len());
                let request = Request {
                    source: Source::File {
                        file: pack.file().clone(),
                        offset: e.offset + range.start as u64,
                        size: range.len() as u64,
                    },
                    destination: Destination::Host { buffer: out.clone(), offset: 0 },
                    compression: Compression::None,
                    tag: PIECES | i as u64,
                    name: format!("{} [{}..{}]", e.name, range.start, range.end).into(),
                };
                let ticket = queue.enqueue(request).map_err(|r| r.to_string())?;
                pending.push(Pending { entry: i, range, output: Output::Host(out), ticket });
            }
        }
    }
    // The deliberately bad request: a GDeflate entry whose stated size is one byte too large.
    // The runtime checks it against the tile stream's header and fails this request only.
    let victim =
        entries.iter().find(|e| e.compression == EntryCompression::GDeflate).ok_or("no GDeflate entry")?;
    let bad_name = format!("bad: {} with a wrong uncompressed size", victim.name);
    let bad_out = HostBuffer::new(victim.uncompressed_size as usize + 1);
    let bad_ticket = queue
        .enqueue(Request {
            source: victim.source(pack.file()),
            destination: Destination::Host { buffer: bad_out, offset: 0 },
            compression: Compression::GDeflate { uncompressed_size: victim.uncompressed_size + 1 },
            tag: BAD,
            name: bad_name.clone().into(),
        })
        .map_err(|r| r.to_string())?;
    // A prefetch of every GDeflate entry for a level the player has just left: enqueued, then
    // cancelled by its tag group before submission, so none of it is read.
    let mut prefetch = Vec::new();
    for (i, e) in entries.iter().enumerate().filter(|(_, e)| e.compression == EntryCompression::GDeflate) {
        let request = Request {
            source: e.source(pack.file()),
            destination: Destination::Host {
                buffer: HostBuffer::new(e.uncompressed_size as usize),
                offset: 0,
            },
            compression: e.request_compression(),
            tag: PREFETCH | i as u64,
            name: format!("prefetch {}", e.name).into(),
        };
        prefetch.push(queue.enqueue(request).map_err(|r| r.to_string())?);
    }
    let cancelled = queue.cancel(GROUP_MASK, PREFETCH);
    if cancelled != prefetch.len() {
        return Err(format!("cancel matched {cancelled} requests, {} were enqueued", prefetch.len()).into());
    }
    for ticket in &prefetch {
        if ticket.wait() != Err(RequestError::Cancelled) {
            return Err("a cancelled prefetch request did not finish as cancelled".into());
        }
    }
    let requests = pending.len() + 1 + prefetch.len();
    queue.submit();

    // 4. Wait, then check every result against the pack's SHA-256.
    let bad_result = bad_ticket.wait();
    let mut succeeded = 0;
    let mut bytes = 0u64;
    let mut results = Vec::with_capacity(pending.len());
    for p in pending {
        p.ticket.wait().map_err(|err| format!("{}: {err}", entries[p.entry].name))?;
        results.push(p);
    }
    let seconds = t.elapsed().as_secs_f64();
    let mut verified: Vec<Option<Vec<u8>>> = vec![None; entries.len()];
    for p in &results {
        let e: &PackEntry = &entries[p.entry];
        let got = read_back(&rt, &p.output, p.range.len())?;
        if p.range.len() == e.uncompressed_size as usize {
            e.verify(&got)?;
        } else {
            // A piece: compare with the entry read and verified on the CPU.
            let whole = match &mut verified[p.entry] {
                Some(v) => v,
                slot => slot.insert(pack.read_entry(e)?),
            };
            if got[..] != whole[p.range.clone()] {
                return Err(format!("{}: bytes {:?} differ", e.name, p.range).into());
            }
        }
        succeeded += 1;
        bytes += got.len() as u64;
    }
    match bad_result {
        Err(RequestError::Decode(_)) => {}
        other => return Err(format!("the bad request should fail with a decode error, got {other:?}").into()),
    }

    let report = Report {
        entries: entries.len(),
        gdeflate_entries,
        requests,
        cancelled,
        gpu_requests,
        succeeded,
        bytes,
        seconds,
        backend,
        callback_completions: completions.load(Ordering::Relaxed),
        callback_failures: failures.load(Ordering::Relaxed),
        error_record: queue.error_record(),
        stats: queue.stats(),
        bad_name,
    };
    if opts.verbose {
        println!(
            "pack: {} entries ({} gdeflate, {} raw), {total} bytes -> {stored} stored ({:.1}%), every entry at a 4 KiB-aligned offset",
            report.entries,
            report.gdeflate_entries,
            report.entries - report.gdeflate_entries,
            100.0 * stored as f64 / total.max(1) as f64,
        );
        println!(
            "runtime: backend {}, io {:?}{}, staging {:?}",
            report.backend,
            rt.io_kind(),
            if rt.fixed_buffers() { " (fixed buffers)" } else { "" },
            rt.staging_kind()
        );
        println!(
            "requests: {} in one queue ({} whole entries, {} into Vulkan buffers; {} range reads; {} prefetches cancelled by tag; 1 deliberately bad)",
            report.requests,
            report.entries,
            report.gpu_requests,
            report.requests - report.entries - report.cancelled - 1,
            report.cancelled
        );
        println!(
            "done: {} succeeded, {} failed; {} bytes delivered in {:.3} s = {:.2} GB/s; every result matches the pack's SHA-256",
            report.succeeded,
            report.requests - report.succeeded - report.cancelled,
            report.bytes,
            report.seconds,
            report.bytes as f64 / report.seconds.max(1e-9) / 1e9
        );
        let st = &report.stats;
        let p = |q| st.latency.quantile_upper_us(q).map_or("-".to_string(), |us| format!("<{us} µs"));
        println!(
            "queue stats: {} completed, {} failed, {} cancelled; {} bytes read, {} written; latency p50 {}, p99 {}",
            st.completed,
            st.failed,
            st.cancelled,
            st.bytes_read,
            st.bytes_written,
            p(0.5),
            p(0.99)
        );
        println!(
            "callback: {} completions, {} failed (cancelled ones included)",
            report.callback_completions, report.callback_failures
        );
        match &report.error_record.first {
            Some(f) => println!(
                "error record: {} failure(s); first: `{}` (tag {:#x}, {}): {}",
                report.error_record.failure_count, f.name, f.tag, f.request, f.error
            ),
            None => println!("error record: empty"),
        }
    }
    Ok(report)
}

/// A Vulkan runtime on the selection's device, or `None` when the selection is not Vulkan.
fn runtime_for(selection: &ds_runtime::Selection, config: RuntimeConfig) -> Result<Option<Runtime>, Error> {
    match selection.vulkan_context() {
        Some(ctx) => Ok(Some(Runtime::with_vulkan(
            Arc::clone(ctx),
            RuntimeConfig { backend: Backend::Vulkan, ..config },
        )?)),
        None => Ok(None),
    }
}

/// A destination of `size` bytes: a device-local Vulkan buffer when `to_gpu` and the runtime
/// has a Vulkan context, else a host buffer.
fn destination(rt: &Runtime, size: usize, to_gpu: bool) -> Result<(Destination, Output), Error> {
    if let (true, Some(ctx)) = (to_gpu, rt.vulkan_context()) {
        // GDeflate into a GPU buffer needs a whole number of words.
        let len = (size as u64).next_multiple_of(4);
        let buffer =
            Arc::new(ctx.create_buffer(len, ds_runtime::vulkan::MemoryKind::DeviceLocal, "asset")?);
        return Ok((Destination::Buffer { buffer: Arc::clone(&buffer), offset: 0 }, Output::Gpu(buffer)));
    }
    let buffer = HostBuffer::new(size);
    Ok((Destination::Host { buffer: buffer.clone(), offset: 0 }, Output::Host(buffer)))
}

fn read_back(rt: &Runtime, output: &Output, len: usize) -> Result<Vec<u8>, Error> {
    match output {
        Output::Host(b) => Ok(b.to_vec()),
        Output::Gpu(b) => {
            let ctx = rt.vulkan_context().ok_or("a GPU output without a Vulkan runtime")?;
            let mut v = ctx.download_bytes(b.whole())?;
            v.truncate(len);
            Ok(v)
        }
    }
}

fn main() -> Result<(), Error> {
    let mut backend = Backend::Auto;
    let mut assets = None;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--backend" => backend = args.next().ok_or("--backend needs a value")?.parse()?,
            "-h" | "--help" => {
                println!("usage: asset_streaming [--backend auto|cpu|vulkan] [DIR]");
                return Ok(());
            }
            _ => assets = Some(PathBuf::from(a)),
        }
    }
    let report = run(&Options { backend, assets, level: Level::DEFAULT, verbose: true })?;
    let first = report.error_record.first.as_ref().map(|f| f.name.as_str());
    if report.succeeded + report.cancelled + 1 != report.requests || first != Some(report.bad_name.as_str()) {
        return Err("requests other than the deliberately bad one failed".into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn require_gpu() -> bool {
        std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1")
    }

    fn check(report: &Report) {
        assert!(report.entries >= 10, "{report:?}");
        assert!(report.gdeflate_entries > 0 && report.gdeflate_entries < report.entries, "{report:?}");
        assert!(report.requests > report.entries + 1, "range reads were made: {report:?}");
        assert_eq!(report.cancelled, report.gdeflate_entries, "{report:?}");
        assert_eq!(
            report.succeeded + report.cancelled + 1,
            report.requests,
            "all but the bad and cancelled: {report:?}"
        );
        assert_eq!(report.callback_completions, report.requests as u64);
        // The callback sees a cancelled request as finished with an error too.
        assert_eq!(report.callback_failures, 1 + report.cancelled as u64);
        let st = &report.stats;
        assert_eq!(
            (st.completed, st.failed, st.cancelled),
            (report.succeeded as u64, 1, report.cancelled as u64)
        );
        assert!(st.bytes_written >= report.bytes, "{st:?}");
        assert_eq!(report.error_record.failure_count, 1);
        let first = report.error_record.first.as_ref().expect("the error record holds the bad request");
        assert_eq!(first.name, report.bad_name);
        assert!(matches!(first.error, RequestError::Decode(_)), "{first:?}");
        assert!(report.bytes > 1_000_000, "{report:?}");
    }

    #[test]
    fn the_demo_streams_every_pack_entry_on_the_cpu_and_records_the_one_bad_request() {
        let report =
            run(&Options { backend: Backend::Cpu, assets: None, level: Level::FASTEST, verbose: true })
                .expect("the demo runs");
        assert_eq!(report.backend, "cpu");
        assert_eq!(report.gpu_requests, 0);
        check(&report);
    }

    #[test]
    fn the_demo_streams_into_vulkan_buffers_where_there_is_a_device() {
        let opts = Options { backend: Backend::Vulkan, assets: None, level: Level::FASTEST, verbose: true };
        let report = match run(&opts) {
            Ok(r) => r,
            Err(e) if e.to_string().contains("not supported") && !require_gpu() => {
                eprintln!("NOTICE: Vulkan demo skipped: {e} (set DSR_REQUIRE_GPU=1 to fail instead)");
                return;
            }
            Err(e) => panic!("{e}"),
        };
        assert!(report.backend.starts_with("vulkan"), "{report:?}");
        assert!(report.gpu_requests > 0, "{report:?}");
        check(&report);
    }
}
