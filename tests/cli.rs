//! The `dsr` binary as a user runs it: exit codes, one-line errors, no partial output.

mod common;
use common::*;
use std::path::Path;
use std::process::{Command, Output};

fn dsr(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dsr")).args(args).output().expect("run dsr")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn stderr_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr).lines().map(str::to_string).collect()
}

#[test]
fn compress_then_decompress_restores_the_file_at_every_level() {
    let dir = tempfile::tempdir().unwrap();
    let input = corpus_dir().join("raw/wz_research.json");
    let original = std::fs::read(&input).unwrap();
    for level in ["0", "1", "9", "12"] {
        let packed = dir.path().join(format!("x{level}.gdf"));
        let back = dir.path().join(format!("x{level}.out"));
        let o = dsr(&["compress", "--level", level, s(&input), "-o", s(&packed)]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = dsr(&["decompress", "--backend", "cpu", "--threads", "2", s(&packed), "-o", s(&back)]);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(std::fs::read(&back).unwrap() == original, "level {level}");
    }
}

#[test]
fn decompress_of_a_reference_stream_matches_the_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("truck.bin");
    let gdf = corpus_dir().join("gdeflate/assimp_CesiumMilkTruck.bin.lvl12.gdf");
    let o = dsr(&["decompress", "--backend", "cpu", s(&gdf), "-o", s(&out)]);
    assert!(o.status.success());
    let row = manifest().into_iter().find(|r| r.name == "assimp_CesiumMilkTruck.bin").unwrap();
    assert_eq!(sha256_hex(&std::fs::read(&out).unwrap()), row.sha256);
}

#[test]
fn corrupt_input_fails_with_one_line_naming_tile_and_offset_and_leaves_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let mut bad = std::fs::read(corpus_dir().join("gdeflate/assimp_Wuson.ply.lvl12.gdf")).unwrap();
    let tile1 = 8 + 4 * 14 + u32::from_le_bytes(bad[12..16].try_into().unwrap()) as usize;
    bad[tile1] = 0x07; // tile 1's first block header: BFINAL=1, BTYPE=3 (reserved)
    let input = dir.path().join("bad.gdf");
    std::fs::write(&input, &bad).unwrap();

    let fresh = dir.path().join("fresh.out");
    let o = dsr(&["decompress", "--backend", "cpu", s(&input), "-o", s(&fresh)]);
    assert_eq!(o.status.code(), Some(1));
    let lines = stderr_lines(&o);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("tile 1") && lines[0].contains("byte offset"), "{}", lines[0]);
    assert!(lines[0].contains("reserved block type"), "{}", lines[0]);
    assert!(!fresh.exists(), "a failed decompress created its output");

    // An existing OUTPUT is left exactly as it was, and no temporary file stays behind.
    let existing = dir.path().join("existing.out");
    std::fs::write(&existing, b"keep me").unwrap();
    let o = dsr(&["decompress", s(&input), "-o", s(&existing)]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(std::fs::read(&existing).unwrap(), b"keep me");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn missing_input_and_not_a_stream_are_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o");
    let o = dsr(&["decompress", "/nonexistent/file.gdf", "-o", s(&out)]);
    assert_eq!(o.status.code(), Some(1));
    assert_eq!(stderr_lines(&o).iter().filter(|l| !l.contains("notice")).count(), 1);
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot read"));

    let o = dsr(&[
        "decompress",
        "--backend",
        "cpu",
        s(&corpus_dir().join("raw/wz_research.json")),
        "-o",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let lines = stderr_lines(&o);
    assert_eq!(lines.len(), 1);
    assert!(lines[0].contains("not a GDeflate tile stream"), "{}", lines[0]);
    assert!(!out.exists());
}

#[test]
fn gpu_backends_are_refused_not_silently_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let gdf = corpus_dir().join("gdeflate/oa_mc-oa.shader.lvl1.gdf");
    let out = dir.path().join("o");
    for backend in ["vulkan", "wgpu"] {
        let o = dsr(&["decompress", "--backend", backend, s(&gdf), "-o", s(&out)]);
        assert_eq!(o.status.code(), Some(1), "{backend}");
        let lines = stderr_lines(&o);
        assert_eq!(lines.len(), 1);
        assert!(lines[0].contains("not supported"), "{}", lines[0]);
        assert!(!out.exists());
    }
}

#[test]
fn auto_backend_says_which_backend_it_picked() {
    let dir = tempfile::tempdir().unwrap();
    let gdf = corpus_dir().join("gdeflate/oa_mc-oa.shader.lvl1.gdf");
    let out = dir.path().join("o");
    let o = dsr(&["decompress", s(&gdf), "-o", s(&out)]);
    assert!(o.status.success());
    let lines = stderr_lines(&o);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].contains("notice") && lines[0].contains("cpu"), "{}", lines[0]);
}

#[test]
fn bad_arguments_are_usage_errors() {
    let o = dsr(&["compress", "--level", "13", "a", "-o", "b"]);
    assert_eq!(o.status.code(), Some(2));
    let o = dsr(&["decompress", "--backend", "gpu", "a", "-o", "b"]);
    assert_eq!(o.status.code(), Some(2));
}

#[test]
fn empty_file_round_trips_through_the_zero_tile_stream() {
    let dir = tempfile::tempdir().unwrap();
    let (empty, gdf, back) = (dir.path().join("e"), dir.path().join("e.gdf"), dir.path().join("e.out"));
    std::fs::write(&empty, b"").unwrap();
    assert!(dsr(&["compress", s(&empty), "-o", s(&gdf)]).status.success());
    assert_eq!(std::fs::read(&gdf).unwrap(), [0x04, 0xFB, 0, 0, 1, 0, 0, 0]);
    assert!(dsr(&["decompress", s(&gdf), "-o", s(&back)]).status.success());
    assert!(std::fs::read(&back).unwrap().is_empty());
}

#[test]
fn compress_stats_reports_ratio_block_counts_and_speed() {
    let dir = tempfile::tempdir().unwrap();
    let line = |o: &Output, prefix: &str| {
        let out = String::from_utf8_lossy(&o.stdout).into_owned();
        out.lines().find(|l| l.starts_with(prefix)).map(str::to_string)
    };
    // Two tiles of random bytes: each page is stored as 65535 + 1 bytes, so 4 stored blocks.
    let mut x = 0x9E37_79B9_7F4A_7C15u64;
    let random: Vec<u8> = (0..131_072)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 32) as u8
        })
        .collect();
    let (input, packed) = (dir.path().join("r.bin"), dir.path().join("r.gdf"));
    std::fs::write(&input, &random).unwrap();
    let o = dsr(&["compress", "--stats", "-l", "1", "-t", "2", s(&input), "-o", s(&packed)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert_eq!(line(&o, "blocks:").as_deref(), Some("blocks: 4 stored, 0 fixed, 0 dynamic"));
    let size = std::fs::metadata(&packed).unwrap().len();
    let want = format!("ratio: {:.4} (131072 -> {size} bytes)", size as f64 / 131_072.0);
    assert_eq!(line(&o, "ratio:"), Some(want));
    assert!(line(&o, "speed:").is_some_and(|l| l.ends_with(" MB/s")));

    // Text compresses with dynamic blocks; without --stats none of the lines appear.
    let json = corpus_dir().join("raw/wz_research.json");
    let o = dsr(&["compress", "--stats", s(&json), "-o", s(&packed)]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let blocks = line(&o, "blocks:").unwrap();
    let dynamic: u64 = blocks.split(", ").nth(2).and_then(|d| d.split(' ').next()?.parse().ok()).unwrap();
    assert!(dynamic >= 1, "{blocks}");
    let o = dsr(&["compress", s(&json), "-o", s(&packed)]);
    assert!(o.status.success());
    assert!(line(&o, "blocks:").is_none() && line(&o, "ratio:").is_none());
}
