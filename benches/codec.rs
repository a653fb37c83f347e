//! GDeflate codec benchmark: ours (`dsr-gdeflate`) against the reference (NVIDIA's libdeflate
//! fork via `gdeflate-sys`), on the same corpus files in the same run.
//!
//! Data set: every `../shared/corpus/raw` file of at least 100 KB (the spec's aggregate,
//! section 10), each as one DirectStorage tile stream. Decode inputs are the reference's
//! level-1 and level-12 streams (byte-identical to the corpus `.gdf` files). Throughput is
//! uncompressed bytes per second, for decode and encode alike.
//!
//! Run: `cargo bench --bench codec` (add `-- decode` or `-- encode` to filter). Before the
//! encode timings it prints a size table: total compressed bytes per level, ours vs the
//! reference. `decode_scaling` and `encode_scaling` run the whole set as one stream on 1, 2,
//! 4, … threads (per-file calls hide scaling behind small files and per-call thread start-up).

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dsr_gdeflate::{Level, TileStream};
use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

struct Corpus {
    files: Vec<(String, Vec<u8>)>,
    total: u64,
}

fn corpus() -> Corpus {
    let dir = std::env::var_os("DSR_CORPUS")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"), PathBuf::from)
        .join("raw");
    let mut files: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .filter(|(_, b)| b.len() >= 100_000)
        .collect();
    files.sort();
    let total = files.iter().map(|(_, b)| b.len() as u64).sum();
    Corpus { files, total }
}

impl Corpus {
    /// The whole data set as one input (153 tiles): scaling figures measure how tiles spread
    /// over cores, not per-call thread start-up or the tile count of small files.
    fn concatenated(&self) -> Vec<u8> {
        self.files.iter().flat_map(|(_, d)| d.iter().copied()).collect()
    }
}

/// Thread counts for scaling runs: 1, 2, 4, … up to the machine's cores.
fn thread_ladder() -> Vec<usize> {
    let cores = dsr_gdeflate::parallel::effective_threads(0, usize::MAX);
    let mut ladder = vec![1];
    while *ladder.last().unwrap_or(&cores) < cores {
        ladder.push((ladder[ladder.len() - 1] * 2).min(cores));
    }
    ladder
}

/// A reference-made tile stream with what the reference decoder needs to walk it.
struct RefStream {
    stream: Vec<u8>,
    pages: Vec<(usize, usize)>,
    sizes: Vec<usize>,
    out: Vec<u8>,
}

fn reference_streams(c: &Corpus, level: i32) -> Vec<RefStream> {
    c.files
        .iter()
        .map(|(_, data)| {
            let pages = gdeflate_ref::compress_tiles(data, level).expect("reference compress");
            let stream = dsr_gdeflate::write_tile_stream(&pages, data.len() as u64).unwrap();
            let ts = TileStream::parse(&stream).unwrap();
            let pages = (0..ts.num_tiles()).map(|i| {
                let r = ts.tile_range(i);
                (r.start, r.len())
            });
            let sizes = (0..ts.num_tiles()).map(|i| ts.tile_uncompressed_size(i)).collect();
            let pages = pages.collect();
            RefStream { out: vec![0; data.len()], stream, pages, sizes }
        })
        .collect()
}

fn print_size_table(c: &Corpus) {
    eprintln!("\nTotal compressed size of {} corpus files ({} bytes raw):", c.files.len(), c.total);
    eprintln!("{:>5} {:>12} {:>12} {:>8}", "level", "ours", "reference", "ours/ref");
    for level in [0u32, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12] {
        let ours: usize = c
            .files
            .iter()
            .map(|(_, d)| dsr_gdeflate::compress(d, Level::new(level).unwrap(), 0).unwrap().len())
            .sum();
        let reference: Option<usize> = c
            .files
            .iter()
            .map(|(_, d)| {
                let pages = gdeflate_ref::compress_tiles(d, level as i32).ok()?;
                Some(dsr_gdeflate::write_tile_stream(&pages, d.len() as u64).unwrap().len())
            })
            .sum();
        match reference {
            Some(r) => eprintln!("{level:>5} {ours:>12} {r:>12} {:>8.4}", ours as f64 / r as f64),
            None => eprintln!("{level:>5} {ours:>12} {:>12} {:>8}", "failed", "-"),
        }
    }
    eprintln!();
}

fn decode(cr: &mut Criterion) {
    let c = corpus();
    let all = dsr_gdeflate::parallel::effective_threads(0, usize::MAX);
    for level in [1, 12] {
        let mut streams = reference_streams(&c, level);
        let mut g = cr.benchmark_group(format!("decode/level{level}"));
        g.throughput(Throughput::Bytes(c.total));
        g.bench_function("reference/1", |b| {
            let mut d = gdeflate_ref::Decompressor::new();
            b.iter(|| {
                for s in &mut streams {
                    d.decompress_pages(&s.stream, &s.pages, &s.sizes, &mut s.out).unwrap();
                }
                black_box(&streams);
            });
        });
        for threads in [1, all] {
            g.bench_function(BenchmarkId::new("dsr", threads), |b| {
                b.iter(|| {
                    for s in &mut streams {
                        dsr_gdeflate::decompress_into(&s.stream, &mut s.out, threads).unwrap();
                    }
                    black_box(&streams);
                });
            });
        }
        g.finish();
    }
}

/// Thread scaling over tiles: the whole data set as one tile stream (153 tiles),
/// decoded with 1, 2, 4, … threads up to the machine's cores, so per-call thread start-up is
/// amortised and the figure measures how tiles spread over cores.
fn decode_scaling(cr: &mut Criterion) {
    let c = corpus();
    let all = c.concatenated();
    let stream = dsr_gdeflate::write_tile_stream(
        &gdeflate_ref::compress_tiles(&all, 12).expect("reference compress"),
        all.len() as u64,
    )
    .unwrap();
    let mut out = vec![0u8; all.len()];
    let mut g = cr.benchmark_group("decode_scaling/level12");
    g.throughput(Throughput::Bytes(all.len() as u64));
    for threads in thread_ladder() {
        g.bench_function(BenchmarkId::new("dsr", threads), |b| {
            b.iter(|| dsr_gdeflate::decompress_into(&stream, &mut out, threads).unwrap());
        });
    }
    g.finish();
}

/// Encoder thread scaling over tiles: the whole data set as one input (153 tiles), at the
/// fastest, the stored and the best level, on 1, 2, 4, … threads up to the machine's cores.
fn encode_scaling(cr: &mut Criterion) {
    let c = corpus();
    let all = c.concatenated();
    for level in [0u32, 1, 12] {
        let mut g = cr.benchmark_group(format!("encode_scaling/level{level}"));
        g.throughput(Throughput::Bytes(all.len() as u64));
        g.sample_size(10);
        let lvl = Level::new(level).unwrap();
        for threads in thread_ladder() {
            g.bench_function(BenchmarkId::new("dsr", threads), |b| {
                b.iter(|| black_box(dsr_gdeflate::compress(&all, lvl, threads).unwrap()));
            });
        }
        g.finish();
    }
}

fn encode(cr: &mut Criterion) {
    let c = corpus();
    print_size_table(&c);
    let all = dsr_gdeflate::parallel::effective_threads(0, usize::MAX);
    for level in 0u32..=12 {
        let mut g = cr.benchmark_group(format!("encode/level{level}"));
        g.throughput(Throughput::Bytes(c.total));
        // 13 levels × 3 variants: fewer samples keep the whole group to a few minutes.
        g.sample_size(10);
        g.bench_function("reference/1", |b| {
            let mut comp = gdeflate_ref::Compressor::new(level as i32).unwrap();
            b.iter(|| {
                for (_, d) in &c.files {
                    for tile in d.chunks(65536) {
                        black_box(comp.compress_page(tile).unwrap());
                    }
                }
            });
        });
        for threads in [1, all] {
            g.bench_function(BenchmarkId::new("dsr", threads), |b| {
                let lvl = Level::new(level).unwrap();
                b.iter(|| {
                    for (_, d) in &c.files {
                        black_box(dsr_gdeflate::compress(d, lvl, threads).unwrap());
                    }
                });
            });
        }
        g.finish();
    }
}

fn config() -> Criterion {
    Criterion::default()
        .sample_size(15)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! { name = benches; config = config(); targets = decode, decode_scaling, encode, encode_scaling }
criterion_main!(benches);
