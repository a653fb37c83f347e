//! Per-file decode table: ours (`dsr-gdeflate`, one thread) against the reference decoder
//! (gdeflate-sys) on each corpus file of at least 100 KB, at levels 1 and 12, in one run.
//!
//! Each cell is the median of 9 timed repetitions (each repetition decodes the file enough
//! times to take ≥ 20 ms), with the spread (min–max) in brackets; ours and the reference
//! alternate within every repetition so both see the same machine state. The last row is
//! the aggregate (total bytes / total time), the figure the codec's targets are stated in.
//!
//! Run: `cargo bench --bench decode_files`.

use dsr_gdeflate::TileStream;
use std::path::PathBuf;
use std::time::Instant;

const REPS: usize = 9;

fn median_spread(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

fn main() {
    // `cargo bench` passes `--bench`; any other argument filters file names.
    let filter: Vec<String> = std::env::args().skip(1).filter(|a| !a.starts_with("--")).collect();
    let dir = std::env::var_os("DSR_CORPUS")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"), PathBuf::from)
        .join("raw");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| std::fs::metadata(p).map(|m| m.len() >= 100_000).unwrap_or(false))
        .filter(|p| filter.is_empty() || filter.iter().any(|f| p.to_string_lossy().contains(f.as_str())))
        .collect();
    files.sort();

    println!(
        "{:<30} {:>3} {:>6} {:>26} {:>26} {:>6}",
        "file", "lvl", "ratio", "reference MB/s", "dsr MB/s", "x"
    );
    for level in [1, 12] {
        let (mut ref_total, mut ours_total, mut bytes_total) = (0.0, 0.0, 0usize);
        for path in &files {
            let data = std::fs::read(path).unwrap();
            let pages = gdeflate_ref::compress_tiles(&data, level).expect("reference compress");
            let stream = dsr_gdeflate::write_tile_stream(&pages, data.len() as u64).unwrap();
            let ts = TileStream::parse(&stream).unwrap();
            let ranges: Vec<(usize, usize)> =
                (0..ts.num_tiles()).map(|i| ts.tile_range(i)).map(|r| (r.start, r.len())).collect();
            let sizes: Vec<usize> = (0..ts.num_tiles()).map(|i| ts.tile_uncompressed_size(i)).collect();
            let mut out = vec![0u8; data.len()];
            let mut reference = gdeflate_ref::Decompressor::new();
            let inner = (20_000_000 / data.len()).max(1);
            let (mut r, mut o) = (Vec::new(), Vec::new());
            for _ in 0..REPS {
                let t = Instant::now();
                for _ in 0..inner {
                    reference.decompress_pages(&stream, &ranges, &sizes, &mut out).unwrap();
                }
                r.push(t.elapsed().as_secs_f64() / inner as f64);
                let t = Instant::now();
                for _ in 0..inner {
                    dsr_gdeflate::decompress_into(&stream, &mut out, 1).unwrap();
                }
                o.push(t.elapsed().as_secs_f64() / inner as f64);
            }
            assert!(out == data, "{}: decoded bytes differ", path.display());
            let mbps = |t: f64| data.len() as f64 / t / 1e6;
            let ((rm, rlo, rhi), (om, olo, ohi)) = (median_spread(r), median_spread(o));
            println!(
                "{:<30} {:>3} {:>6.3} {:>7.0} [{:>6.0}–{:>6.0}]  {:>7.0} [{:>6.0}–{:>6.0}]  {:>5.2}",
                path.file_name().unwrap().to_string_lossy(),
                level,
                stream.len() as f64 / data.len() as f64,
                mbps(rm),
                mbps(rhi),
                mbps(rlo),
                mbps(om),
                mbps(ohi),
                mbps(olo),
                rm / om
            );
            ref_total += rm;
            ours_total += om;
            bytes_total += data.len();
        }
        println!(
            "{:<30} {:>3} {:>6} {:>7.0} {:>16} {:>7.0} {:>16} {:>5.2}",
            "aggregate",
            level,
            "",
            bytes_total as f64 / ref_total / 1e6,
            "",
            bytes_total as f64 / ours_total / 1e6,
            "",
            ref_total / ours_total
        );
    }
}
