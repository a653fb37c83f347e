//! `dsr pack`, `dsr unpack`, `dsr verify`, `dsr ls` and `dsr info FILE`: the command-line side
//! of `.dsp` packs (`ds_runtime::pack`, format in `docs/pack-format.md`).
//!
//! - `pack` walks a directory (every regular file, sorted by entry name), compresses entries in
//!   parallel (small files one per thread, large ones tile-parallel), writes them in name order
//!   to a temporary file beside the output and renames it only once the pack is complete.
//! - `unpack` refuses packs with unsafe names at open (the format forbids `..`, absolute and
//!   empty components) and never writes through a symbolic link; every entry's SHA-256 is
//!   checked before its file is written (temporary file + rename, so no partial files; not
//!   fsynced, like tar: a sync per file made unpacking thousands of small files 20× slower).
//!   Entries are decoded and written in parallel batches (one GPU decode at a time).
//! - `verify` decodes every GDeflate entry on each backend asked for (`all`: the CPU and every
//!   GPU backend that is available here, saying which were not) and checks size and SHA-256;
//!   raw entries are read and hashed once. One line per bad entry and backend, exit 1. Reads,
//!   hashes and CPU decodes run in parallel batches.
//! - `ls` lists entries; `info FILE` describes a pack or a GDeflate tile stream.
//!
//! `--json` output is one JSON object on stdout (built with `serde_json::json!`).

use crate::{rate, read_input};
use clap::{Args, ValueEnum};
use ds_runtime::pack::{
    EntryCompression, Pack, PackEntry, PackOptions, PackWriter, PreparedEntry, prepare_entry_owned,
};
use ds_runtime::{Backend, Selection, select_backend};
use dsr_gdeflate::Level;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::json;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

#[derive(Args)]
pub struct PackArgs {
    /// Directory to pack: every regular file under it, recursively, named by its path relative
    /// to DIR with '/' separators (symbolic links and special files are skipped, with a note).
    dir: PathBuf,
    /// The pack to write (written to a temporary file beside it and renamed when complete).
    #[arg(short, long)]
    output: PathBuf,
    /// GDeflate level (0 = store every entry raw, 1 = fastest, 9 = default, 12 = best ratio).
    /// Each entry is stored compressed only when that makes it smaller.
    #[arg(short, long, default_value_t = 9, value_parser = clap::value_parser!(u32).range(0..=12))]
    level: u32,
    /// Worker threads (0 = one per core).
    #[arg(short = 't', long, default_value_t = 0)]
    threads: usize,
    /// Alignment of every entry's offset in bytes (a power of two, 8..=16777216). The default,
    /// 4096, lets the runtime read entries with O_DIRECT.
    #[arg(long, default_value_t = ds_runtime::pack::DEFAULT_ALIGNMENT)]
    alignment: u32,
    /// Print the summary as one JSON object.
    #[arg(long)]
    json: bool,
}

/// Decode engine for `dsr unpack`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UnpackBackend {
    /// Vulkan on a GPU, else wgpu on a GPU the ash core cannot use, else the CPU (with a note).
    Auto,
    /// The CPU decoder.
    Cpu,
    /// The Vulkan (ash) GPU decoder, software devices included; refused if there is none.
    Vulkan,
    /// The same kernels through wgpu; refused if there is no adapter.
    Wgpu,
}

#[derive(Args)]
pub struct UnpackArgs {
    /// The pack to unpack.
    pack: PathBuf,
    /// Directory to write the entries into (created if missing). Entries are written as
    /// DIR/NAME; existing files of the same name are replaced.
    #[arg(short, long)]
    output: PathBuf,
    /// Engine that decodes GDeflate entries.
    #[arg(short, long, value_enum, default_value = "auto")]
    backend: UnpackBackend,
    /// Worker threads for the CPU decoder (0 = one per core).
    #[arg(short = 't', long, default_value_t = 0)]
    threads: usize,
}

/// Engines `dsr verify` checks with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerifyBackend {
    /// The CPU and every GPU backend available here (those missing are named, not an error;
    /// software devices such as lavapipe count, and decode slowly).
    All,
    /// The CPU decoder.
    Cpu,
    /// The Vulkan (ash) GPU decoder; an error if there is no Vulkan device.
    Vulkan,
    /// wgpu; an error if there is no adapter.
    Wgpu,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// The pack to check.
    pack: PathBuf,
    /// Engines to decode GDeflate entries with (comma-separated). Raw entries are read and
    /// hashed once.
    #[arg(short, long, value_enum, value_delimiter = ',', default_value = "all")]
    backend: Vec<VerifyBackend>,
    /// Worker threads for the CPU decoder (0 = one per core).
    #[arg(short = 't', long, default_value_t = 0)]
    threads: usize,
    /// Print the result as one JSON object (bad entries are still listed on stderr).
    #[arg(long)]
    json: bool,
}

#[derive(Args)]
pub struct LsArgs {
    /// The pack to list.
    pack: PathBuf,
    /// Print one JSON object (header fields and every entry, with its SHA-256).
    #[arg(long)]
    json: bool,
}

fn open(path: &Path) -> Result<Pack, String> {
    Pack::open(path).map_err(|e| match e {
        ds_runtime::pack::PackError::Io { error, .. } => format!("{}: cannot open: {error}", path.display()),
        e => format!("{}: {e}", path.display()),
    })
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 { 100.0 } else { 100.0 * part as f64 / whole as f64 }
}

/// A file to pack.
struct Input {
    name: String,
    path: PathBuf,
    size: u64,
}

/// Every regular file under `dir`, named by its relative path, sorted by name. `skip` (the
/// output pack, when it lies inside `dir`) is left out.
fn collect_inputs(dir: &Path, skip: Option<&Path>) -> Result<Vec<Input>, String> {
    let meta = std::fs::metadata(dir).map_err(|e| format!("{}: cannot read: {e}", dir.display()))?;
    if !meta.is_dir() {
        return Err(format!("{}: not a directory (dsr pack takes a directory of files)", dir.display()));
    }
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((path, prefix)) = stack.pop() {
        let rd = std::fs::read_dir(&path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        for entry in rd {
            let entry = entry.map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
            let p = entry.path();
            let Some(file_name) = entry.file_name().to_str().map(str::to_string) else {
                return Err(format!(
                    "{}: file name is not valid UTF-8 (pack entry names are UTF-8; rename it)",
                    p.display()
                ));
            };
            let name = format!("{prefix}{file_name}");
            let ft = entry.file_type().map_err(|e| format!("{}: cannot read: {e}", p.display()))?;
            if ft.is_dir() {
                stack.push((p, format!("{name}/")));
            } else if ft.is_file() {
                // Only a file with the output's name can be the output: canonicalize just those.
                let is_output = |s: &Path| {
                    s.file_name() == p.file_name() && std::fs::canonicalize(&p).is_ok_and(|c| c == s)
                };
                if skip.is_some_and(is_output) {
                    continue;
                }
                ds_runtime::pack::validate_name(&name).map_err(|e| format!("{}: {e}", p.display()))?;
                let size = entry.metadata().map_err(|e| format!("{}: cannot read: {e}", p.display()))?.len();
                out.push(Input { name, path: p, size });
            } else {
                eprintln!("dsr: note: skipping {} (not a regular file)", p.display());
            }
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A progress bar on stderr, shown only when stderr is a terminal and only once the work has
/// taken half a second (quick runs, tests and CI logs stay clean).
struct Progress {
    bar: ProgressBar,
    start: Instant,
    tty: bool,
    shown: AtomicBool,
}

impl Progress {
    fn new(total: u64, what: &str) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden());
        let style = ProgressStyle::with_template(
            "{msg} [{elapsed_precise}] {wide_bar} {binary_bytes}/{binary_total_bytes} ({binary_bytes_per_sec}, {eta})",
        )
        .expect("valid template");
        bar.set_style(style);
        bar.set_message(what.to_string());
        Self {
            bar,
            start: Instant::now(),
            tty: std::io::stderr().is_terminal(),
            shown: AtomicBool::new(false),
        }
    }

    fn advance(&self, n: u64) {
        self.bar.inc(n);
        if self.tty
            && self.start.elapsed() > Duration::from_millis(500)
            && !self.shown.swap(true, Ordering::Relaxed)
        {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
    }

    fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

/// Runs `f` over every item of `items` on up to `threads` threads (0 = all cores); the results
/// in item order.
fn par_collect<T: Sync, R: Send>(items: &[T], threads: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads =
        if threads == 0 { std::thread::available_parallelism().map_or(1, |n| n.get()) } else { threads };
    let threads = threads.clamp(1, items.len().max(1));
    if threads == 1 {
        return items.iter().map(f).collect();
    }
    let results: Vec<Mutex<Option<R>>> = items.iter().map(|_| Mutex::new(None)).collect();
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let r = f(item);
                    *results[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(r);
                }
            });
        }
    });
    // Every index below items.len() was taken by exactly one worker, which stored its result
    // (a panic in `f` would have propagated out of the scope above).
    results
        .into_iter()
        .map(|m| m.into_inner().unwrap_or_else(|p| p.into_inner()).expect("every item done"))
        .collect()
}

/// [`par_collect`] of fallible work: the results, or the error of the lowest-indexed failing item.
fn par_map<T: Sync, R: Send>(
    items: &[T],
    threads: usize,
    f: impl Fn(&T) -> Result<R, String> + Sync,
) -> Result<Vec<R>, String> {
    par_collect(items, threads, f).into_iter().collect()
}

/// Consecutive runs of `entries` to process together: at most [`BATCH_BYTES`] of content each,
/// an entry of at least [`LARGE_FILE`] bytes alone (it is decoded tile-parallel instead).
fn entry_batches(entries: &[PackEntry]) -> Vec<&[PackEntry]> {
    let mut out = Vec::new();
    let mut rest = entries;
    while !rest.is_empty() {
        let mut n = 0;
        let mut bytes = 0;
        while n < rest.len() && rest[n].uncompressed_size < LARGE_FILE && bytes < BATCH_BYTES {
            bytes += rest[n].uncompressed_size;
            n += 1;
        }
        let (batch, tail) = rest.split_at(n.max(1));
        out.push(batch);
        rest = tail;
    }
    out
}

/// Threads for each entry of `batch`: all of them for a lone large entry, else one (the batch's
/// entries then run in parallel).
fn inner_threads(batch: &[PackEntry], threads: usize) -> usize {
    if batch.len() == 1 && batch[0].uncompressed_size >= LARGE_FILE { threads } else { 1 }
}

/// Files at least this large are compressed alone, tile-parallel on every thread; smaller ones
/// in batches, one file per thread.
const LARGE_FILE: u64 = 8 << 20;
/// Bytes of small files (or entries) handled per batch (bounds the memory held at once).
const BATCH_BYTES: u64 = 64 << 20;

pub fn pack(a: &PackArgs) -> Result<(), String> {
    let level = Level::new(a.level).map_err(|e| e.to_string())?;
    let options = PackOptions { level, threads: a.threads, alignment: a.alignment };
    options.validate().map_err(|e| e.to_string())?;
    let start = Instant::now();
    let out_dir = match a.output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let skip = std::fs::canonicalize(out_dir).ok().map(|d| d.join(a.output.file_name().unwrap_or_default()));
    let inputs = collect_inputs(&a.dir, skip.as_deref())?;
    if inputs.is_empty() {
        return Err(format!("{}: no regular files to pack", a.dir.display()));
    }
    let total: u64 = inputs.iter().map(|i| i.size).sum();
    let fail = |e: std::io::Error| format!("{}: cannot write: {e}", a.output.display());
    let tmp = tempfile::Builder::new().prefix(".dsr-").suffix(".tmp").tempfile_in(out_dir).map_err(fail)?;
    let mut writer = PackWriter::create(tmp.path(), options).map_err(|e| e.to_string())?;
    let progress = Progress::new(total, "packing");

    let prepare = |i: &Input, threads: usize| -> Result<PreparedEntry<'static>, String> {
        let data = std::fs::read(&i.path).map_err(|e| format!("{}: cannot read: {e}", i.path.display()))?;
        let p = prepare_entry_owned(&i.name, data, None, level, threads)
            .map_err(|e| format!("{}: {e}", i.path.display()))?;
        progress.advance(i.size);
        Ok(p)
    };
    let mut rest = &inputs[..];
    while !rest.is_empty() {
        if rest[0].size >= LARGE_FILE {
            let p = prepare(&rest[0], a.threads)?;
            writer.add_prepared(p).map_err(|e| e.to_string())?;
            rest = &rest[1..];
            continue;
        }
        let mut n = 0;
        let mut bytes = 0;
        while n < rest.len() && rest[n].size < LARGE_FILE && bytes < BATCH_BYTES {
            bytes += rest[n].size;
            n += 1;
        }
        let prepared = par_map(&rest[..n], a.threads, |i| prepare(i, 1))?;
        for p in prepared {
            writer.add_prepared(p).map_err(|e| e.to_string())?;
        }
        rest = &rest[n..];
    }
    let entries = writer.finish().map_err(|e| e.to_string())?;
    progress.finish();
    tmp.persist(&a.output).map_err(|e| fail(e.error))?;
    let secs = start.elapsed().as_secs_f64();
    let file_size = std::fs::metadata(&a.output).map_err(fail)?.len();
    let gdeflate = entries.iter().filter(|e| e.compression == EntryCompression::GDeflate).count();
    let stored: u64 = entries.iter().map(|e| e.stored_size).sum();
    if a.json {
        let v = json!({
            "output": a.output.display().to_string(),
            "entries": entries.len(),
            "gdeflate_entries": gdeflate,
            "raw_entries": entries.len() - gdeflate,
            "bytes_in": total,
            "bytes_stored": stored,
            "file_size": file_size,
            "ratio": if total == 0 { 1.0 } else { file_size as f64 / total as f64 },
            "level": a.level,
            "alignment": a.alignment,
            "seconds": secs,
        });
        println!("{v}");
    } else {
        println!(
            "{} -> {}: {} entries ({gdeflate} gdeflate, {} raw), {total} -> {file_size} bytes ({:.1}%), level {}, {:.2} s, {}",
            a.dir.display(),
            a.output.display(),
            entries.len(),
            entries.len() - gdeflate,
            percent(file_size, total),
            a.level,
            secs,
            rate(total as usize, secs)
        );
    }
    Ok(())
}

/// Announces an `auto` fallback like `dsr decompress` does.
fn note_fallback(selection: &Selection) {
    if selection.is_fallback {
        let on = match selection.backend {
            Backend::Cpu => "the CPU".to_string(),
            b => format!("backend {b}"),
        };
        eprintln!("dsr: note: {}; decoding on {on}", selection.reason);
    }
}

/// `entry`'s content from its stored bytes, checked (size and SHA-256): raw entries as they
/// are, GDeflate entries decoded on `selection`.
fn decode_on(
    selection: &Selection,
    entry: &PackEntry,
    stored: Vec<u8>,
    threads: usize,
) -> Result<Vec<u8>, String> {
    match entry.compression {
        EntryCompression::None => entry.verify(&stored).map(|()| stored).map_err(|e| e.to_string()),
        EntryCompression::GDeflate => decode_gdeflate_on(selection, entry, &stored, threads),
    }
}

/// Decodes GDeflate entry `entry` from `stored` on `selection`, checking size and SHA-256.
fn decode_gdeflate_on(
    selection: &Selection,
    entry: &PackEntry,
    stored: &[u8],
    threads: usize,
) -> Result<Vec<u8>, String> {
    if selection.backend == Backend::Cpu {
        return entry.decode(stored, threads).map_err(|e| e.to_string());
    }
    let out = selection.decompress(stored, threads).map_err(|e| format!("entry {:?}: {e}", entry.name))?;
    entry.verify(&out).map_err(|e| e.to_string())?;
    Ok(out)
}

/// Creates the directories the entries of `entries` need under `root`, refusing to go through
/// a symbolic link or a file, so that the files can then be written in parallel.
fn prepare_dirs(root: &Path, entries: &[PackEntry]) -> Result<(), String> {
    let mut done = std::collections::HashSet::new();
    for e in entries {
        for (i, _) in e.name.match_indices('/') {
            let dir = &e.name[..i];
            if !done.insert(dir) {
                continue;
            }
            let path = root.join(dir);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(format!(
                        "{}: is a symbolic link; refusing to write through it",
                        path.display()
                    ));
                }
                Ok(m) if !m.is_dir() => {
                    return Err(format!(
                        "{}: exists and is not a directory (entry {:?})",
                        path.display(),
                        e.name
                    ));
                }
                Ok(_) => {}
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    std::fs::create_dir(&path)
                        .map_err(|err| format!("{}: cannot create: {err}", path.display()))?;
                }
                Err(err) => return Err(format!("{}: {err}", path.display())),
            }
        }
    }
    Ok(())
}

/// Writes `data` as entry `name` under `root` (whose directories [`prepare_dirs`] made):
/// never through a symbolic link, through a temporary file renamed into place, so a failure
/// leaves no partial file. Not synced (like tar): unpacking many small files stays fast.
fn write_entry(root: &Path, name: &str, data: &[u8]) -> Result<(), String> {
    let path = root.join(name);
    match std::fs::symlink_metadata(&path) {
        Ok(m) if m.file_type().is_symlink() => {
            return Err(format!("{}: is a symbolic link; refusing to write through it", path.display()));
        }
        Ok(m) if m.is_dir() => return Err(format!("{}: is a directory (entry {name:?})", path.display())),
        _ => {}
    }
    let dir = path.parent().unwrap_or(root);
    let fail = |e: std::io::Error| format!("{}: cannot write: {e}", path.display());
    let mut tmp = tempfile::Builder::new().prefix(".dsr-").suffix(".tmp").tempfile_in(dir).map_err(fail)?;
    std::io::Write::write_all(&mut tmp, data).map_err(fail)?;
    tmp.persist(&path).map_err(|e| fail(e.error))?;
    Ok(())
}

pub fn unpack(a: &UnpackArgs) -> Result<(), String> {
    let start = Instant::now();
    let pack = open(&a.pack)?;
    let backend = match a.backend {
        UnpackBackend::Auto => Backend::Auto,
        UnpackBackend::Cpu => Backend::Cpu,
        UnpackBackend::Vulkan => Backend::Vulkan,
        UnpackBackend::Wgpu => Backend::Wgpu,
    };
    let selection = select_backend(backend).map_err(|e| e.to_string())?;
    note_fallback(&selection);
    std::fs::create_dir_all(&a.output).map_err(|e| format!("{}: cannot create: {e}", a.output.display()))?;
    prepare_dirs(&a.output, pack.entries())?;
    let total: u64 = pack.entries().iter().map(|e| e.uncompressed_size).sum();
    let progress = Progress::new(total, "unpacking");
    let in_pack = |err: String| format!("{}: {err}", a.pack.display());
    for batch in entry_batches(pack.entries()) {
        let threads = inner_threads(batch, a.threads);
        let unpack_one = |e: &PackEntry, data: Vec<u8>| -> Result<(), String> {
            write_entry(&a.output, &e.name, &data)?;
            progress.advance(e.uncompressed_size);
            Ok(())
        };
        if selection.backend == Backend::Cpu {
            // Read, decode, check and write the batch's entries in parallel.
            par_map(batch, a.threads, |e| {
                let stored = pack.read_stored(e).map_err(|err| in_pack(err.to_string()))?;
                unpack_one(e, decode_on(&selection, e, stored, threads).map_err(in_pack)?)
            })?;
        } else {
            // One GPU decode at a time; reads and writes around it in parallel.
            let stored =
                par_map(batch, a.threads, |e| pack.read_stored(e).map_err(|err| in_pack(err.to_string())))?;
            let mut decoded = Vec::with_capacity(batch.len());
            for (e, stored) in batch.iter().zip(stored) {
                decoded.push(decode_on(&selection, e, stored, threads).map_err(in_pack)?);
            }
            let work: Vec<(&PackEntry, Vec<u8>)> = batch.iter().zip(decoded).collect();
            par_map(&work, a.threads, |(e, data)| {
                write_entry(&a.output, &e.name, data)?;
                progress.advance(e.uncompressed_size);
                Ok(())
            })?;
        }
    }
    progress.finish();
    let secs = start.elapsed().as_secs_f64();
    let device = selection.device_name().map(|d| format!(" ({d})")).unwrap_or_default();
    println!(
        "{} -> {}: {} entries, {total} bytes, every SHA-256 verified, backend {}{device}, {:.2} s, {}",
        a.pack.display(),
        a.output.display(),
        pack.entries().len(),
        selection.backend,
        secs,
        rate(total as usize, secs)
    );
    Ok(())
}

/// A bad entry found by `dsr verify`.
struct Bad {
    name: String,
    backend: &'static str,
    error: String,
}

pub fn verify(a: &VerifyArgs) -> Result<(), String> {
    let start = Instant::now();
    let pack = open(&a.pack)?;
    let mut asked: Vec<VerifyBackend> = Vec::new();
    for b in &a.backend {
        if !asked.contains(b) {
            asked.push(*b);
        }
    }
    let all = asked.contains(&VerifyBackend::All);
    let mut wanted: Vec<(Backend, bool)> = Vec::new(); // (backend, asked for by name)
    for (b, v) in [
        (Backend::Cpu, VerifyBackend::Cpu),
        (Backend::Vulkan, VerifyBackend::Vulkan),
        (Backend::Wgpu, VerifyBackend::Wgpu),
    ] {
        if asked.contains(&v) {
            wanted.push((b, true));
        } else if all {
            wanted.push((b, false));
        }
    }
    let mut selections = Vec::new();
    let mut missing = Vec::new();
    for (b, named) in wanted {
        match select_backend(b) {
            Ok(s) => selections.push(s),
            Err(e) if named => return Err(format!("--backend {b}: {e}")),
            Err(e) => missing.push((b, e.to_string())),
        }
    }
    let mut bad: Vec<Bad> = Vec::new();
    let total: u64 = pack.entries().iter().map(|e| e.uncompressed_size).sum();
    let passes = selections.len().max(1) as u64;
    let progress = Progress::new(total * passes, "verifying");
    let bad_entry =
        |e: &PackEntry, backend: &'static str, error: String| Bad { name: e.name.clone(), backend, error };
    for batch in entry_batches(pack.entries()) {
        let threads = inner_threads(batch, a.threads);
        // In parallel: read each entry; check raw ones; decode GDeflate ones on the CPU when
        // it is one of the backends. Each gives its stored bytes (for the GPU passes) and its
        // bad-entry lines.
        let checked = par_collect(batch, a.threads, |e| {
            let stored = match pack.read_stored(e) {
                Ok(s) => s,
                Err(err) => return (None, vec![bad_entry(e, "read", err.to_string())]),
            };
            let mut bads = Vec::new();
            if e.compression == EntryCompression::None {
                if let Err(err) = e.verify(&stored) {
                    bads.push(bad_entry(e, "read", err.to_string()));
                }
                progress.advance(e.uncompressed_size * passes);
                return (None, bads);
            }
            for s in selections.iter().filter(|s| s.backend == Backend::Cpu) {
                if let Err(error) = decode_gdeflate_on(s, e, &stored, threads) {
                    bads.push(bad_entry(e, s.backend.name(), error));
                }
                progress.advance(e.uncompressed_size);
            }
            (Some(stored), bads)
        });
        // Then every GDeflate entry on each GPU backend, one decode at a time.
        let mut gpu_bads = Vec::new();
        for (e, (stored, bads)) in batch.iter().zip(checked) {
            bad.extend(bads);
            let Some(stored) = stored else { continue };
            for s in selections.iter().filter(|s| s.backend != Backend::Cpu) {
                if let Err(error) = decode_gdeflate_on(s, e, &stored, threads) {
                    gpu_bads.push(bad_entry(e, s.backend.name(), error));
                }
                progress.advance(e.uncompressed_size);
            }
        }
        bad.extend(gpu_bads);
    }
    progress.finish();
    let secs = start.elapsed().as_secs_f64();
    for b in &bad {
        // The errors name the entry themselves; the line names it once.
        let prefix = format!("entry {:?}: ", b.name);
        let error = b.error.strip_prefix(&prefix).unwrap_or(&b.error);
        eprintln!("dsr: {}: bad entry {:?} ({}): {error}", a.pack.display(), b.name, b.backend);
    }
    let checked: Vec<String> = selections
        .iter()
        .map(|s| match s.device_name() {
            Some(d) => format!("{} ({d})", s.backend),
            None => s.backend.to_string(),
        })
        .collect();
    if a.json {
        let backends: Vec<serde_json::Value> = selections
            .iter()
            .map(|s| json!({"backend": s.backend.name(), "checked": true, "device": s.device_name()}))
            .chain(
                missing.iter().map(|(b, why)| json!({"backend": b.name(), "checked": false, "reason": why})),
            )
            .collect();
        let bad_json: Vec<serde_json::Value> =
            bad.iter().map(|b| json!({"name": b.name, "backend": b.backend, "error": b.error})).collect();
        let v = json!({
            "pack": a.pack.display().to_string(),
            "entries": pack.entries().len(),
            "bytes": total,
            "ok": bad.is_empty(),
            "backends": backends,
            "bad": bad_json,
            "seconds": secs,
        });
        println!("{v}");
    } else if bad.is_empty() {
        let not: String = missing.iter().map(|(b, why)| format!("; {b} not available: {why}")).collect();
        println!(
            "{}: {} entries OK ({total} bytes), checked on {}{not}",
            a.pack.display(),
            pack.entries().len(),
            checked.join(", ")
        );
    }
    if bad.is_empty() {
        Ok(())
    } else {
        let names: std::collections::BTreeSet<&str> = bad.iter().map(|b| b.name.as_str()).collect();
        Err(format!("{}: {} of {} entries bad", a.pack.display(), names.len(), pack.entries().len()))
    }
}

pub fn ls(a: &LsArgs) -> Result<(), String> {
    let pack = open(&a.pack)?;
    let entries = pack.entries();
    if a.json {
        let list: Vec<serde_json::Value> = entries
            .iter()
            .map(|e| {
                json!({
                    "name": e.name,
                    "offset": e.offset,
                    "stored_size": e.stored_size,
                    "uncompressed_size": e.uncompressed_size,
                    "compression": e.compression.name(),
                    "sha256": e.sha256_hex(),
                })
            })
            .collect();
        let h = pack.header();
        println!(
            "{}",
            json!({"pack": a.pack.display().to_string(), "version": h.version, "alignment": h.alignment,
                   "file_size": h.file_size, "entries": list})
        );
        return Ok(());
    }
    println!("{:>12} {:>12} {:>12} {:>7}  {:<11} name", "offset", "stored", "size", "ratio", "compression");
    for e in entries {
        println!(
            "{:>12} {:>12} {:>12} {:>6.1}%  {:<11} {}",
            e.offset,
            e.stored_size,
            e.uncompressed_size,
            percent(e.stored_size, e.uncompressed_size),
            e.compression.name(),
            e.name
        );
    }
    let stored: u64 = entries.iter().map(|e| e.stored_size).sum();
    let size: u64 = entries.iter().map(|e| e.uncompressed_size).sum();
    println!(
        "{} entries: {stored} bytes stored, {size} uncompressed ({:.1}%), pack file {} bytes",
        entries.len(),
        percent(stored, size),
        pack.header().file_size
    );
    Ok(())
}

/// `dsr info FILE`: a pack's header and totals, or a tile stream's tiles and sizes.
pub fn info_file(path: &Path) -> Result<(), String> {
    let mut prefix = [0u8; 8];
    let n = {
        use std::io::Read;
        let mut f = std::fs::File::open(path).map_err(|e| format!("{}: cannot read: {e}", path.display()))?;
        let mut n = 0;
        while n < prefix.len() {
            match f.read(&mut prefix[n..]) {
                Ok(0) => break,
                Ok(k) => n += k,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => return Err(format!("{}: cannot read: {e}", path.display())),
            }
        }
        n
    };
    if n == prefix.len() && prefix == ds_runtime::pack::MAGIC {
        return info_pack(path);
    }
    let bytes = read_input(path)?;
    match dsr_gdeflate::TileStream::parse(&bytes) {
        Ok(ts) => {
            let tiles = ts.num_tiles();
            let sizes: Vec<usize> = (0..tiles).map(|i| ts.tile(i).len()).collect();
            println!("{}: DirectStorage GDeflate tile stream", path.display());
            println!(
                "  tiles: {tiles} of 64 KiB (last tile {} bytes)",
                if tiles == 0 { 0 } else { ts.tile_uncompressed_size(tiles - 1) }
            );
            println!(
                "  size: {} bytes -> {} bytes uncompressed ({:.1}%)",
                bytes.len(),
                ts.uncompressed_size(),
                percent(bytes.len() as u64, ts.uncompressed_size())
            );
            if let (Some(min), Some(max)) = (sizes.iter().min(), sizes.iter().max()) {
                println!(
                    "  compressed tile sizes: min {min}, max {max}, mean {:.0} bytes",
                    sizes.iter().sum::<usize>() as f64 / sizes.len() as f64
                );
            }
            Ok(())
        }
        Err(e) => Err(format!(
            "{}: neither a ds-runtime pack nor a GDeflate tile stream (as a tile stream: {e})",
            path.display()
        )),
    }
}

fn info_pack(path: &Path) -> Result<(), String> {
    let pack = open(path)?;
    let h = pack.header();
    let entries = pack.entries();
    let stored: u64 = entries.iter().map(|e| e.stored_size).sum();
    let size: u64 = entries.iter().map(|e| e.uncompressed_size).sum();
    let gdeflate = entries.iter().filter(|e| e.compression == EntryCompression::GDeflate).count();
    println!("{}: ds-runtime pack, format version {}", path.display(), h.version);
    println!("  file size: {} bytes, alignment {}, flags {:#x}", h.file_size, h.alignment, h.flags);
    println!("  table of contents: offset {}, {} bytes, checksum ok", h.toc_offset, h.toc_size);
    println!("  entries: {} ({gdeflate} gdeflate, {} raw)", entries.len(), entries.len() - gdeflate);
    println!("  data: {stored} bytes stored, {size} uncompressed ({:.1}%)", percent(stored, size));
    println!("  (entry data is checked by `dsr verify`)");
    Ok(())
}
