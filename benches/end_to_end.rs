//! End to end: files → decoded GDeflate in GPU memory through a streaming queue (io_uring
//! into the staging ring, GPU decode straight from it), against the baseline measured in the
//! same run: pread + CPU decode (all cores) + upload (host-visible staging buffer, GPU copy).
//!
//! Data sets: the corpus (`gdeflate/*.gdf`, one request per file) and a large mixed file
//! (corpus raw files concatenated and cut into 8 MiB pieces, each compressed as one stream,
//! repeated until the decoded size reaches `DSR_BENCH_E2E_BYTES`, default 64 MiB; one
//! request per stream). Outputs are verified against the CPU decoder once per data set.
//!
//! Environment: `DSR_BENCH_RUNS` (default 5), `DSR_BENCH_E2E_BYTES`, `DSR_BENCH_DIR` (where
//! the large file is generated), `DSR_BENCH_COLD=1` (drop the files from the page cache
//! before every run), `DSR_REQUIRE_GPU=1` (fail instead of skipping without Vulkan).
//!
//! Run: `cargo bench --bench end_to_end`.

// The pipeline, the baseline and their statistics are `dsr bench e2e`'s, so both measure
// exactly the same thing.
#[path = "../src/e2e.rs"]
#[allow(dead_code)] // the host-destination parts serve `dsr bench e2e`
mod e2e;

use ds_runtime::Backend;
use ds_runtime::stream::{Runtime, RuntimeConfig, drop_page_cache};
use e2e::{Baseline, Pipeline, Stream, gbps};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn corpus() -> PathBuf {
    match std::env::var_os("DSR_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"),
    }
}

fn corpus_streams() -> Vec<Stream> {
    let mut v: Vec<Stream> = std::fs::read_dir(corpus().join("gdeflate"))
        .expect("corpus")
        .map(|e| {
            let path = e.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let decoded = dsr_gdeflate::TileStream::parse(&bytes).unwrap().uncompressed_size();
            Stream { path, offset: 0, size: bytes.len() as u64, decoded }
        })
        .filter(|s| s.decoded > 0)
        .collect();
    v.sort_by(|a, b| a.path.cmp(&b.path));
    v
}

fn mixed_file(dir: &std::path::Path, target: u64) -> Vec<Stream> {
    let mut raw = Vec::new();
    let mut names: Vec<_> =
        std::fs::read_dir(corpus().join("raw")).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    for p in names {
        raw.extend(std::fs::read(p).unwrap());
    }
    let piece = 8usize << 20;
    let distinct: Vec<(Vec<u8>, u64)> = raw
        .chunks(piece)
        .map(|c| (dsr_gdeflate::compress(c, dsr_gdeflate::Level::DEFAULT, 0).unwrap(), c.len() as u64))
        .collect();
    let path = dir.join("mixed.gdf.pack");
    let mut file = Vec::new();
    let mut streams = Vec::new();
    let mut decoded = 0;
    'fill: loop {
        for (s, d) in &distinct {
            if decoded >= target {
                break 'fill;
            }
            streams.push(Stream {
                path: path.clone(),
                offset: file.len() as u64,
                size: s.len() as u64,
                decoded: *d,
            });
            file.extend_from_slice(s);
            decoded += d;
        }
    }
    std::fs::write(&path, &file).unwrap();
    streams
}

fn main() {
    let runs = env_u64("DSR_BENCH_RUNS", 5).max(1);
    let cold = std::env::var_os("DSR_BENCH_COLD").is_some_and(|v| v == "1");
    let rt = match Runtime::new(RuntimeConfig { backend: Backend::Vulkan, ..RuntimeConfig::default() }) {
        Ok(rt) => rt,
        Err(e) => {
            assert!(std::env::var_os("DSR_REQUIRE_GPU").is_none_or(|v| v != "1"), "DSR_REQUIRE_GPU=1: {e}");
            println!("NOTE: end_to_end skipped: {e}");
            return;
        }
    };
    let ctx = Arc::clone(rt.vulkan_context().unwrap());
    let dir = match std::env::var_os("DSR_BENCH_DIR") {
        Some(d) => tempfile::tempdir_in(d).unwrap(),
        None => tempfile::tempdir().unwrap(),
    };
    let target = env_u64("DSR_BENCH_E2E_BYTES", 64 << 20);
    println!(
        "# end_to_end: file -> decoded GDeflate in GPU memory, {runs} runs per method, {} cache",
        if cold { "cold" } else { "warm" }
    );
    println!("device: {} ({:?})", ctx.device_info().name, ctx.device_info().device_type);
    println!(
        "command: cargo bench --bench end_to_end (DSR_BENCH_E2E_BYTES={target}, DSR_BENCH_RUNS={runs}{})",
        if cold { ", DSR_BENCH_COLD=1" } else { "" }
    );
    println!(
        "pipeline: io {:?}, fixed buffers {}, staging {:?}, {} x {} MiB chunks, decode kernel {}",
        rt.io_kind(),
        rt.fixed_buffers(),
        rt.staging_kind(),
        rt.staging_geometry().1,
        rt.staging_geometry().0 >> 20,
        ctx.decode_kernel().unwrap_or("?")
    );
    println!("| data | method | decoded GB/s median | min–max | compressed GB/s | ratio vs baseline |");
    println!("|---|---|---|---|---|---|");
    for (name, streams) in
        [("corpus .gdf files", corpus_streams()), ("large mixed file", mixed_file(dir.path(), target))]
    {
        let decoded: u64 = streams.iter().map(|s| s.decoded).sum();
        let compressed: u64 = streams.iter().map(|s| s.size).sum();
        let pipeline = Pipeline::new(&rt, &streams, true).unwrap();
        let mut base = Baseline::new(&streams, Some(&ctx)).unwrap();
        let drop_cache = || {
            if cold {
                for s in &streams {
                    let _ = drop_page_cache(&std::fs::File::open(&s.path).unwrap());
                }
            }
        };
        // Warm up both (page cache, pipelines, allocations) and verify the pipeline's output
        // (its own destinations, poisoned when created) against the CPU decoder's.
        base.run().unwrap();
        pipeline.run().unwrap();
        for i in 0..streams.len() {
            assert!(pipeline.delivered(i).unwrap() == base.decoded(i), "{name}: stream {i} differs");
        }
        let time = |f: &mut dyn FnMut()| -> Vec<f64> {
            (0..runs)
                .map(|_| {
                    drop_cache();
                    let t = Instant::now();
                    f();
                    t.elapsed().as_secs_f64()
                })
                .collect()
        };
        let b = time(&mut || base.run().unwrap());
        let p = time(&mut || pipeline.run().unwrap());
        let (bm, bl, bh) = gbps(&b, decoded);
        let (pm, pl, ph) = gbps(&p, decoded);
        let label = format!(
            "{name}: {} streams, {:.1} MB -> {:.1} MB",
            streams.len(),
            compressed as f64 / 1e6,
            decoded as f64 / 1e6
        );
        println!(
            "| {label} | pread + CPU decode + upload | {bm:.3} | {bl:.3}–{bh:.3} | {:.3} | 1.00 |",
            bm * compressed as f64 / decoded as f64
        );
        println!(
            "| {label} | queue: io_uring + GPU decode | {pm:.3} | {pl:.3}–{ph:.3} | {:.3} | {:.2} |",
            pm * compressed as f64 / decoded as f64,
            pm / bm
        );
    }
    println!("\nverified: every pipeline output equals the CPU decoder's");
}
