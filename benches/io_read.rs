//! Raw read throughput of the streaming pipeline's I/O engine against baselines measured in
//! the same run, warm (page cache) and cold (`posix_fadvise(DONTNEED)` before each run).
//!
//! Methods (all read the whole file; bytes land in host memory):
//! - `engine io_uring O_DIRECT`, `engine io_uring buffered`, `engine pread pool`: the
//!   pipeline (`ds_runtime::stream`) on the CPU backend, one request per 8 MiB into one host
//!   buffer (so its figure includes the staging → destination copy);
//! - `baseline pread loop`: one thread, sequential 1 MiB buffered `pread`s into one buffer;
//! - `baseline fio-style O_DIRECT`: 4 threads × sequential 1 MiB O_DIRECT `pread`s (fio
//!   `--direct=1 --bs=1M --numjobs=4 --rw=read`, psync engine), into aligned buffers;
//! - `reference: parallel pread`: one thread per core, 8 MiB buffered `pread`s straight into
//!   the destination — what the page cache delivers at most, not a baseline of the target.
//!
//! Environment: `DSR_BENCH_FILE` (read this file instead of generating one),
//! `DSR_BENCH_IO_BYTES` (size of the generated file, default 256 MiB), `DSR_BENCH_RUNS`
//! (default 5), `DSR_BENCH_DIR` (where to generate it; default the system temp dir — use a
//! directory on the disk under test, not tmpfs).
//!
//! Run: `cargo bench --bench io_read`.

use ds_runtime::Backend;
use ds_runtime::stream::{
    Compression, Destination, File, HostBuffer, IoKind, QueueDesc, Request, Runtime, RuntimeConfig, Source,
    drop_page_cache,
};
use std::io::Write;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    format!("{cpu}, {cores} threads, Linux {}", kernel.trim())
}

/// Runs `f` `runs` times (after `prepare`), returns seconds per run.
fn measure(runs: u64, mut prepare: impl FnMut(), mut f: impl FnMut()) -> Vec<f64> {
    (0..runs)
        .map(|_| {
            prepare();
            let t = Instant::now();
            f();
            t.elapsed().as_secs_f64()
        })
        .collect()
}

fn stats(secs: &[f64], bytes: u64) -> (f64, f64, f64) {
    let mut r: Vec<f64> = secs.iter().map(|s| bytes as f64 / s / 1e9).collect();
    r.sort_by(f64::total_cmp);
    (r[r.len() / 2], r[0], r[r.len() - 1])
}

fn engine_read(rt: &Runtime, file: &File, out: &HostBuffer) {
    let q = rt.create_queue(QueueDesc { capacity: 64, ..QueueDesc::default() });
    let step = 8u64 << 20;
    let mut off = 0;
    while off < file.len() {
        let size = step.min(file.len() - off);
        let r = Request {
            source: Source::File { file: file.clone(), offset: off, size },
            destination: Destination::Host { buffer: out.clone(), offset: off as usize },
            compression: Compression::None,
            tag: 0,
            name: "bench".into(),
        };
        q.enqueue(r).expect("enqueue").detach();
        off += size;
    }
    q.drain();
    let s = q.stats();
    assert_eq!(s.failed, 0, "{:?}", q.error_record());
}

fn pread_loop(path: &Path, out: &mut [u8]) {
    let f = std::fs::File::open(path).unwrap();
    let mut off = 0;
    while off < out.len() {
        let end = (off + (1 << 20)).min(out.len());
        let n = f.read_at(&mut out[off..end], off as u64).unwrap();
        assert!(n > 0);
        off += n;
    }
}

/// What the page cache can deliver at most to one process: `threads` threads `pread` 8 MiB
/// pieces (taken in order from a shared counter) straight into its part of `out`. Not a
/// baseline of the target (the issue names the two above); it bounds every buffered reader,
/// the end-to-end pipeline's page-cache reads included.
fn parallel_pread(path: &Path, out: &mut [u8], threads: usize) {
    const PIECE: usize = 8 << 20;
    let f = std::fs::File::open(path).unwrap();
    let pieces: Vec<std::sync::Mutex<&mut [u8]>> = out.chunks_mut(PIECE).map(std::sync::Mutex::new).collect();
    let next = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(piece) = pieces.get(i) else { break };
                    let mut buf = piece.lock().unwrap();
                    let mut done = 0;
                    while done < buf.len() {
                        let n = f.read_at(&mut buf[done..], (i * PIECE + done) as u64).unwrap();
                        assert!(n > 0);
                        done += n;
                    }
                }
            });
        }
    });
}

/// 4 jobs, each reading its quarter sequentially with 1 MiB O_DIRECT preads (fio psync).
fn fio_direct(path: &Path, len: u64) {
    const BS: usize = 1 << 20;
    let jobs = 4u64;
    let per = len.div_ceil(jobs).next_multiple_of(BS as u64);
    std::thread::scope(|s| {
        for j in 0..jobs {
            s.spawn(move || {
                let f =
                    std::fs::OpenOptions::new().read(true).custom_flags(libc_o_direct()).open(path).unwrap();
                // A 4 KiB-aligned buffer: over-allocate and offset.
                let mut raw = vec![0u8; BS + 4096];
                let at = raw.as_ptr().align_offset(4096);
                let buf = &mut raw[at..at + BS];
                let (mut off, end) = (j * per, ((j + 1) * per).min(len));
                while off < end {
                    let n = f.read_at(buf, off).unwrap();
                    if n == 0 {
                        break;
                    }
                    off += n as u64;
                }
            });
        }
    });
}

const fn libc_o_direct() -> i32 {
    0o40000 // O_DIRECT on x86_64 and aarch64 Linux
}

fn main() {
    let runs = env_u64("DSR_BENCH_RUNS", 5).max(1);
    let (_tmp, path): (Option<tempfile::TempDir>, PathBuf) = match std::env::var_os("DSR_BENCH_FILE") {
        Some(p) => (None, PathBuf::from(p)),
        None => {
            let len = env_u64("DSR_BENCH_IO_BYTES", 256 << 20);
            let dir = match std::env::var_os("DSR_BENCH_DIR") {
                Some(d) => tempfile::tempdir_in(d).unwrap(),
                None => tempfile::tempdir().unwrap(),
            };
            let p = dir.path().join("io_read.bin");
            let mut f = std::io::BufWriter::new(std::fs::File::create(&p).unwrap());
            let mut x = 0x9E37_79B9_7F4A_7C15u64;
            let mut block = vec![0u8; 1 << 20];
            let mut left = len;
            while left > 0 {
                for w in block.chunks_exact_mut(8) {
                    x ^= x << 13;
                    x ^= x >> 7;
                    x ^= x << 17;
                    w.copy_from_slice(&x.to_le_bytes());
                }
                let n = left.min(block.len() as u64) as usize;
                f.write_all(&block[..n]).unwrap();
                left -= n as u64;
            }
            f.into_inner().unwrap().sync_all().unwrap();
            (Some(dir), p)
        }
    };
    let file = File::open(&path).unwrap();
    let len = file.len();
    println!("# io_read: {} ({len} bytes), {runs} runs per method", path.display());
    println!("machine: {}", machine());
    println!("command: cargo bench --bench io_read (DSR_BENCH_IO_BYTES={len}, DSR_BENCH_RUNS={runs})");
    println!("O_DIRECT alignment: {:?}", file.direct_io());

    let rt = |io, direct_io| {
        Runtime::new(RuntimeConfig { backend: Backend::Cpu, io, direct_io, ..RuntimeConfig::default() })
            .unwrap()
    };
    let uring_direct = rt(IoKind::Uring, true);
    let uring_buffered = rt(IoKind::Uring, false);
    let pread_pool = rt(IoKind::Pread, true);
    println!(
        "engine: staging {:?}, {} x {} MiB chunks, io_uring fixed buffers: {}",
        uring_direct.staging_kind(),
        uring_direct.staging_geometry().1,
        uring_direct.staging_geometry().0 >> 20,
        uring_direct.fixed_buffers()
    );
    let out = HostBuffer::new(len as usize);
    let mut plain = vec![0u8; len as usize];

    let mut cold_ok = true;
    let fh = std::fs::File::open(&path).unwrap();
    let mut drop_cache = || {
        if let Err(e) = drop_page_cache(&fh) {
            if cold_ok {
                println!("NOTE: could not drop the page cache ({e}); 'cold' figures are warm");
            }
            cold_ok = false;
        }
    };
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    for cache in ["warm", "cold"] {
        println!("\n## {cache} cache");
        println!("| method | median GB/s | min–max GB/s | ratio vs best baseline |");
        println!("|---|---|---|---|");
        let cold = cache == "cold";
        let mut results: Vec<(&str, Vec<f64>)> = Vec::new();
        let mut prep = |cold: bool| {
            if cold {
                drop_cache();
            }
        };
        if !cold {
            pread_loop(&path, &mut plain); // fill the page cache
        }
        results.push((
            "baseline pread loop (1 MiB)",
            measure(runs, || prep(cold), || pread_loop(&path, &mut plain)),
        ));
        results.push((
            "baseline fio-style O_DIRECT (4 jobs x 1 MiB)",
            measure(runs, || prep(cold), || fio_direct(&path, len)),
        ));
        results.push((
            "engine io_uring O_DIRECT",
            measure(runs, || prep(cold), || engine_read(&uring_direct, &file, &out)),
        ));
        results.push((
            "engine io_uring buffered",
            measure(runs, || prep(cold), || engine_read(&uring_buffered, &file, &out)),
        ));
        results.push((
            "engine pread pool",
            measure(runs, || prep(cold), || engine_read(&pread_pool, &file, &out)),
        ));
        results.push((
            if threads == 1 {
                "reference: parallel pread (1 thread)"
            } else {
                "reference: parallel pread (all threads)"
            },
            measure(runs, || prep(cold), || parallel_pread(&path, &mut plain, threads)),
        ));
        // The target's baselines are the first two rows; the reference row only bounds them.
        let best_baseline = results[..2].iter().map(|(_, s)| stats(s, len).0).fold(0.0, f64::max);
        for (name, secs) in &results {
            let (med, lo, hi) = stats(secs, len);
            println!("| {name} | {med:.2} | {lo:.2}–{hi:.2} | {:.2} |", med / best_baseline);
        }
    }
    // Correctness of what was measured.
    assert!(out.to_vec() == plain, "the engine delivered different bytes than pread");
    println!("\nverified: the engine's bytes equal the pread loop's");
}
