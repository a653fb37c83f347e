//! Decoder profiling harness: ours against the reference decoder on the corpus aggregate, for
//! instruction counts under callgrind (deterministic, unaffected by other processes) and
//! quick wall-clock checks. Not a benchmark of record (that is `benches/codec.rs`).
//!
//! ```text
//! cargo build --release -p dsr-gdeflate --example decode_profile
//! decode_profile prep DIR                    # reference tile streams, levels 1 and 12
//! decode_profile ours|ref DIR LEVEL [N] [F]  # decode N times (files whose name contains F)
//! decode_profile both DIR LEVEL [N] [F]      # alternate, print min/median MB/s and ratio
//! valgrind --tool=callgrind --dump-instr=no --callgrind-out-file=/dev/null \
//!     --toggle-collect='*decompress_into*' decode_profile ours DIR 12 1   # ours
//! valgrind ... --toggle-collect='*decompress_pages*' decode_profile ref DIR 12 1  # reference
//! ```
//!
//! The data set is the codec benchmark's: corpus files (`../shared/corpus/raw`, or
//! `DSR_CORPUS/raw`) of at least 100 KB.

use dsr_gdeflate::TileStream;
use std::path::PathBuf;
use std::time::Instant;

struct Stream {
    stream: Vec<u8>,
    out: Vec<u8>,
    pages: Vec<(usize, usize)>,
    sizes: Vec<usize>,
}

fn usage() -> ! {
    eprintln!("usage: decode_profile prep DIR | (ours|ref|both) DIR LEVEL [N] [FILTER]");
    std::process::exit(2)
}

fn prep(dir: &PathBuf) {
    let corpus = std::env::var_os("DSR_CORPUS")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"), PathBuf::from)
        .join("raw");
    std::fs::create_dir_all(dir).expect("create the stream directory");
    for entry in std::fs::read_dir(&corpus).expect("read the corpus") {
        let path = entry.expect("corpus entry").path();
        let data = std::fs::read(&path).expect("read a corpus file");
        if data.len() < 100_000 {
            continue;
        }
        for level in [1, 12] {
            let pages = gdeflate_ref::compress_tiles(&data, level).expect("reference compress");
            let stream = dsr_gdeflate::write_tile_stream(&pages, data.len() as u64).expect("tile stream");
            let name = format!("{}.l{level}", path.file_name().unwrap_or_default().to_string_lossy());
            std::fs::write(dir.join(name), stream).expect("write a stream");
        }
    }
}

fn load(dir: &PathBuf, level: &str, filter: &str) -> Vec<Stream> {
    let suffix = format!(".l{level}");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read the stream directory")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            let name = p.to_string_lossy();
            name.ends_with(&suffix) && name.contains(filter)
        })
        .collect();
    paths.sort();
    paths
        .iter()
        .map(|p| {
            let stream = std::fs::read(p).expect("read a stream");
            let ts = TileStream::parse(&stream).expect("a valid tile stream");
            let pages = (0..ts.num_tiles()).map(|i| ts.tile_range(i)).map(|r| (r.start, r.len())).collect();
            let sizes = (0..ts.num_tiles()).map(|i| ts.tile_uncompressed_size(i)).collect();
            let out = vec![0u8; ts.uncompressed_size() as usize];
            Stream { stream, out, pages, sizes }
        })
        .collect()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let (Some(mode), Some(dir)) = (args.get(1), args.get(2)) else { usage() };
    let dir = PathBuf::from(dir);
    if mode == "prep" {
        prep(&dir);
        return;
    }
    let Some(level) = args.get(3) else { usage() };
    let n: usize = args.get(4).map_or(1, |s| s.parse().unwrap_or_else(|_| usage())).max(1);
    let filter = args.get(5).map_or("", String::as_str);
    let mut streams = load(&dir, level, filter);
    let total: usize = streams.iter().map(|s| s.out.len()).sum();
    let mut reference = gdeflate_ref::Decompressor::new();
    let mut run = |ours: bool| {
        let t = Instant::now();
        for s in &mut streams {
            if ours {
                dsr_gdeflate::decompress_into(&s.stream, &mut s.out, 1).expect("decode");
            } else {
                reference.decompress_pages(&s.stream, &s.pages, &s.sizes, &mut s.out).expect("decode");
            }
        }
        t.elapsed().as_secs_f64()
    };
    match mode.as_str() {
        "ours" | "ref" => (0..n).for_each(|_| {
            run(mode == "ours");
        }),
        "both" => {
            let (mut r, mut o): (Vec<f64>, Vec<f64>) = (0..n).map(|_| (run(false), run(true))).unzip();
            r.sort_by(f64::total_cmp);
            o.sort_by(f64::total_cmp);
            let mb = |t: f64| total as f64 / t / 1e6;
            println!(
                "level {level}: reference min {:.1} median {:.1} MB/s | dsr min {:.1} median {:.1} MB/s | \
                 dsr/ref (min) {:.3} (median) {:.3}",
                mb(r[0]),
                mb(r[n / 2]),
                mb(o[0]),
                mb(o[n / 2]),
                r[0] / o[0],
                r[n / 2] / o[n / 2]
            );
        }
        _ => usage(),
    }
}
