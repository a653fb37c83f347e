//! `dsr load`: the streaming pipeline by hand. The printed SHA-256 must equal the MANIFEST's
//! for whole files and compressed streams, and the hash of the exact slice for ranges, on
//! both destinations and both I/O engines; failures exit 1 with one line.

mod common;
use common::*;
use std::process::{Command, Output};

fn dsr(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dsr"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run dsr")
}

/// The hash `dsr load` printed (panics with its output when there is none).
fn printed_sha(o: &Output) -> String {
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "dsr load failed: {}{}", out, String::from_utf8_lossy(&o.stderr));
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("sha256 ")).collect();
    assert_eq!(lines.len(), 1, "{out}");
    assert!(out.contains("MB/s"), "no throughput: {out}");
    lines[0]["sha256 ".len()..].to_string()
}

fn require_gpu() -> bool {
    std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1")
}

/// Whether a `--dest gpu` run was refused for want of a Vulkan device (skips, or fails under
/// `DSR_REQUIRE_GPU=1`).
fn no_vulkan(o: &Output) -> bool {
    let err = String::from_utf8_lossy(&o.stderr);
    if o.status.success() || !err.contains("no usable Vulkan device") && !err.contains("not supported") {
        return false;
    }
    assert!(!require_gpu(), "DSR_REQUIRE_GPU=1 but: {err}");
    eprintln!("NOTICE: dsr load --dest gpu skipped: {} (set DSR_REQUIRE_GPU=1 to fail instead)", err.trim());
    true
}

#[test]
fn load_prints_the_manifest_sha256_of_compressed_streams_and_raw_files() {
    let rows = manifest();
    let dir = corpus_dir();
    let mut checked = 0;
    for row in rows.iter().filter(|r| r.size > 0 && r.size < 2_000_000).take(6) {
        for io in ["uring", "pread"] {
            let raw = dir.join("raw").join(&row.name);
            if raw.exists() {
                let o = dsr(&["load", raw.to_str().unwrap(), "--backend", "cpu", "--io", io], &[]);
                assert_eq!(printed_sha(&o), row.sha256, "{} raw via {io}", row.name);
            }
            let gdf = dir.join("gdeflate").join(format!("{}.lvl12.gdf", row.name));
            if gdf.exists() {
                let o = dsr(
                    &["load", gdf.to_str().unwrap(), "--compressed", "--backend", "cpu", "--io", io],
                    &[],
                );
                assert_eq!(printed_sha(&o), row.sha256, "{} lvl12 via {io}", row.name);
                checked += 1;
            }
        }
    }
    assert!(checked >= 4, "only {checked} streams checked");
}

#[test]
fn load_of_a_range_prints_the_hash_of_exactly_that_slice() {
    let raw = corpus_dir().join("raw/etr_mud_slide.wav");
    let bytes = std::fs::read(&raw).unwrap();
    for (off, size) in [(0usize, 1usize), (1001, 100_000), (4096, 65536), (bytes.len() - 7, 7)] {
        let o = dsr(
            &[
                "load",
                raw.to_str().unwrap(),
                "--offset",
                &off.to_string(),
                "--size",
                &size.to_string(),
                "--backend",
                "cpu",
            ],
            &[],
        );
        assert_eq!(printed_sha(&o), sha256_hex(&bytes[off..off + size]), "{off}+{size}");
    }
    // A compressed stream embedded at an unaligned offset of a larger file.
    let stream = std::fs::read(corpus_dir().join("gdeflate/wz_research.json.lvl1.gdf")).unwrap();
    let original = dsr_gdeflate::decompress(&stream, 1).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("pack.bin");
    std::fs::write(&p, [&[7u8; 13][..], &stream, &[9u8; 100]].concat()).unwrap();
    let o = dsr(
        &[
            "load",
            p.to_str().unwrap(),
            "--offset",
            "13",
            "--size",
            &stream.len().to_string(),
            "--compressed",
            "--backend",
            "cpu",
        ],
        &[],
    );
    assert_eq!(printed_sha(&o), sha256_hex(&original));
}

#[test]
fn load_into_gpu_memory_prints_the_same_hash() {
    let row = manifest().into_iter().find(|r| r.name == "fg_cumulus_bottom1.dds").expect("corpus row");
    let dir = corpus_dir();
    let gdf = dir.join("gdeflate/fg_cumulus_bottom1.dds.lvl1.gdf");
    let o = dsr(&["load", gdf.to_str().unwrap(), "--compressed", "--dest", "gpu"], &[]);
    if no_vulkan(&o) {
        return;
    }
    assert_eq!(printed_sha(&o), row.sha256);
    let raw = dir.join("raw/fg_cumulus_bottom1.dds");
    let o =
        dsr(&["load", raw.to_str().unwrap(), "--dest", "gpu", "--backend", "vulkan", "--io", "pread"], &[]);
    assert_eq!(printed_sha(&o), row.sha256);
}

#[test]
fn load_failures_exit_1_with_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let raw = corpus_dir().join("raw/wz_research.json");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["load".into(), dir.path().join("missing").display().to_string()], "cannot open"),
        (
            vec!["load".into(), raw.display().to_string(), "--offset".into(), "999999999".into()],
            "past the end",
        ),
        (
            vec![
                "load".into(),
                raw.display().to_string(),
                "--size".into(),
                "999999999".into(),
                "--backend".into(),
                "cpu".into(),
            ],
            "ends at offset",
        ),
        (
            vec![
                "load".into(),
                raw.display().to_string(),
                "--compressed".into(),
                "--backend".into(),
                "cpu".into(),
            ],
            "GDeflate",
        ),
        (
            vec![
                "load".into(),
                raw.display().to_string(),
                "--dest".into(),
                "gpu".into(),
                "--backend".into(),
                "cpu".into(),
            ],
            "vulkan",
        ),
    ];
    for (args, needle) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let o = dsr(&args, &[]);
        let err = String::from_utf8_lossy(&o.stderr);
        let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("dsr: ")).collect();
        assert_eq!(o.status.code(), Some(1), "{args:?}: {err}");
        assert_eq!(lines.len(), 1, "{args:?}: {err}");
        assert!(lines[0].contains(needle), "{args:?}: {err}");
        assert!(!String::from_utf8_lossy(&o.stdout).contains("sha256 "), "{args:?}");
    }
}
