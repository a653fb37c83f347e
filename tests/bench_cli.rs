//! `dsr bench decode`: rows for the engines asked for, JSON that scripts can read, the same
//! bytes as the CPU decoder checked before any figure, and a clear error on a corrupt file.

mod common;

use std::process::{Command, Output};

fn dsr(args: &[&str]) -> Output {
    // wgpu's Mesa layer complains without a runtime dir; give it one.
    let dir = tempfile::tempdir().expect("temp dir");
    Command::new(env!("CARGO_BIN_EXE_dsr"))
        .args(args)
        .env("XDG_RUNTIME_DIR", dir.path())
        .output()
        .expect("run dsr")
}

fn corpus_file(name: &str) -> String {
    common::corpus_dir().join("gdeflate").join(name).display().to_string()
}

#[test]
fn bench_decode_json_has_one_row_per_file_and_engine_with_positive_rates() {
    let a = corpus_file("syn_65536.txt.lvl12.gdf");
    let b = corpus_file("oa_mc-oa.shader.lvl1.gdf");
    let out = dsr(&["bench", "decode", "--backend", "cpu", "--runs", "2", "--json", &a, &b]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).expect("utf-8");
    let rows: Vec<&str> = text.lines().filter(|l| l.trim_start().starts_with('{')).collect();
    assert_eq!(rows.len(), 2, "{text}");
    for (row, file) in rows.iter().zip([&a, &b]) {
        assert!(row.contains(&format!("\"file\": \"{file}\"")), "{row}");
        assert!(row.contains("\"engine\": \"cpu\"") && row.contains("\"runs\": 2"), "{row}");
        let median: f64 = row
            .split("\"median_gbps\": ")
            .nth(1)
            .and_then(|r| r.split(',').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("no median in {row}"));
        assert!(median > 0.0, "{row}");
        assert!(row.contains("\"vs_cpu\": 1.0000"), "{row}");
    }
    assert!(text.trim_start().starts_with('[') && text.trim_end().ends_with(']'), "{text}");
}

#[test]
fn bench_decode_on_the_gpu_is_verified_and_compared_with_the_cpu_or_refused_saying_why() {
    let a = corpus_file("wz_research.json.lvl1.gdf");
    let out = dsr(&["bench", "decode", "--backend", "cpu,vulkan", "--runs", "1", &a]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // Only a machine without a usable Vulkan device may refuse, and it says so.
        assert!(std::env::var_os("DSR_REQUIRE_GPU").is_none(), "{stderr}");
        assert!(stderr.starts_with("dsr: backend vulkan:"), "{stderr}");
        return;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let vulkan: Vec<&str> = text.lines().filter(|l| l.contains(" vulkan ")).collect();
    assert!(!vulkan.is_empty(), "{text}");
    assert!(vulkan.iter().all(|l| l.contains("gdeflate_decode")), "{text}");
}

#[test]
fn bench_decode_of_a_truncated_stream_fails_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut stream = std::fs::read(corpus_file("syn_65536.txt.lvl12.gdf")).expect("corpus");
    // Truncated: the tile table promises more bytes than the file holds.
    stream.truncate(stream.len() - 100);
    let path = dir.path().join("bad.gdf");
    std::fs::write(&path, &stream).expect("write");
    let p = path.display().to_string();
    let out = dsr(&["bench", "decode", "--backend", "cpu", "--runs", "1", &p]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.starts_with(&format!("dsr: {p}: ")), "{stderr}");
}
