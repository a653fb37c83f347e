//! `dsr bench decode` and `dsr bench e2e`: rows for the engines asked for (with each file's
//! kind), JSON that scripts can read, SVG charts with one bar per (kind, engine), the same
//! bytes as the CPU decoder checked before any figure, and a clear error on a corrupt file.

mod common;

use serde_json::Value;
use std::path::Path;
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
        assert!(row.contains("\"kind\": \"text\""), "{row}");
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

/// A compressible, non-repeating file of `len` bytes (kind `binary`: no known extension).
fn generated(dir: &Path, name: &str, len: usize) -> String {
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let bytes: Vec<u8> = (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if i % 3 == 0 { b'a' + (x % 4) as u8 } else { (i / 97) as u8 }
        })
        .collect();
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("write");
    path.display().to_string()
}

fn json_rows(out: &Output) -> Vec<Value> {
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    v.as_array().expect("an array of rows").clone()
}

/// `(number of <rect class="bar"…>, their data-group/data-series pairs)`.
fn svg_bars(svg: &str) -> Vec<(String, String)> {
    let attr = |l: &str, name: &str| -> String {
        let key = format!(" {name}=\"");
        let at = l.find(&key).unwrap_or_else(|| panic!("no {name} in {l}")) + key.len();
        l[at..].split('"').next().expect("value").to_owned()
    };
    svg.lines()
        .filter(|l| l.starts_with("<rect class=\"bar\""))
        .map(|l| (attr(l, "data-group"), attr(l, "data-series")))
        .collect()
}

fn assert_well_formed_svg(svg: &str) {
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""), "{svg}");
    assert!(svg.trim_end().ends_with("</svg>"), "{svg}");
    for tag in ["text", "rect", "svg", "title"] {
        let open = svg.matches(&format!("<{tag} ")).count() + svg.matches(&format!("<{tag}>")).count();
        let close = svg.matches(&format!("</{tag}>")).count();
        let selfclosed = svg
            .split(&format!("<{tag} "))
            .skip(1)
            .filter(|rest| rest.split('>').next().is_some_and(|t| t.ends_with('/')))
            .count();
        assert_eq!(open, close + selfclosed, "<{tag}> unbalanced in {svg}");
    }
}

#[test]
fn bench_e2e_on_the_cpu_into_host_memory_prints_verified_rows_with_kinds_and_a_chart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = corpus_file("wz_research.json.lvl1.gdf");
    let raw = common::corpus_dir().join("raw").join("assimp_Wuson.ply").display().to_string();
    let gen_file = generated(dir.path(), "generated.bin", 300_000);
    let chart = dir.path().join("e2e.svg");
    let c = chart.display().to_string();
    let out =
        dsr(&["bench", "e2e", "--backend", "cpu", "--runs", "2", "--chart", &c, &text, &raw, &gen_file]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8(out.stdout).expect("utf-8");
    assert!(table.contains("verified") && table.contains("host memory"), "{table}");
    for (file, kind) in [(&text, "text"), (&raw, "mesh"), (&gen_file, "binary")] {
        let rows: Vec<&str> = table.lines().filter(|l| l.starts_with(file.as_str())).collect();
        assert_eq!(rows.len(), 2, "baseline + cpu for {file}: {table}");
        for r in &rows {
            let cols: Vec<&str> = r[file.len()..].split_whitespace().collect();
            let at = if file == &text { 0 } else { 4 }; // "(compressed here, level 9)"
            assert_eq!(cols[at], kind, "{r}");
        }
        assert!(rows[0].contains(" baseline ") && rows[0].contains("pread + CPU decode"), "{}", rows[0]);
        assert!(rows[0].trim_end().ends_with("1.00"), "{}", rows[0]);
        assert!(rows[1].contains(" cpu ") && rows[1].contains("queue, CPU decode"), "{}", rows[1]);
        assert!(rows[1].contains("io_uring") || rows[1].contains("pread pool"), "{}", rows[1]);
    }

    let svg = std::fs::read_to_string(&chart).expect("the chart was written");
    assert_well_formed_svg(&svg);
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&chart).expect("chart").permissions());
    assert_eq!(mode & 0o777, 0o644, "a chart is readable by all");
    let bars = svg_bars(&svg);
    assert_eq!(bars.len(), 3 * 2, "one bar per (kind, method): {bars:?}");
    for kind in ["text", "mesh", "binary"] {
        for series in ["baseline", "queue cpu"] {
            assert!(bars.contains(&(kind.to_owned(), series.to_owned())), "{kind}/{series}: {bars:?}");
        }
        assert!(svg.contains(&format!(">{kind}</text>")), "group label {kind}");
    }
    assert!(svg.contains(">baseline</text>") && svg.contains(">queue cpu</text>"), "legend");
    assert!(svg.contains("GB/s") && svg.contains("command: dsr bench e2e"), "labels");
}

#[test]
fn bench_e2e_json_rows_parse_with_the_expected_fields() {
    let a = corpus_file("syn_65536.txt.lvl12.gdf");
    let b = corpus_file("fg_cumulus_bottom1.dds.lvl1.gdf");
    let out =
        dsr(&["bench", "end-to-end", "--backend", "cpu", "--runs", "3", "--together", "--json", &a, &b]);
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 6, "{rows:?}");
    let together = "all 2 files together".to_owned();
    for (pair, (file, kind)) in rows.chunks(2).zip([(&a, "text"), (&b, "texture"), (&together, "all")]) {
        for (row, backend) in pair.iter().zip(["baseline", "cpu"]) {
            assert_eq!(row["file"], file.as_str(), "{row}");
            assert_eq!(row["kind"], kind, "{row}");
            assert_eq!(row["backend"], backend, "{row}");
            assert_eq!(row["dest"], "host", "{row}");
            assert_eq!(row["runs"], 3, "{row}");
            assert!(row["decoded_bytes"].as_u64().is_some_and(|n| n > 0), "{row}");
            assert!(row["compressed_bytes"].as_u64().is_some_and(|n| n > 0), "{row}");
            let g = |k: &str| row[k].as_f64().unwrap_or_else(|| panic!("{k} in {row}"));
            assert!(0.0 < g("min_gbps") && g("min_gbps") <= g("median_gbps"), "{row}");
            assert!(g("median_gbps") <= g("max_gbps"), "{row}");
            assert_eq!(row["device"], "cpu", "{row}");
            for k in ["method", "io", "staging"] {
                assert!(row[k].as_str().is_some_and(|s| !s.is_empty()), "{k} in {row}");
            }
        }
        assert_eq!(pair[0]["vs_baseline"].as_f64(), Some(1.0));
        assert_eq!(pair[0]["io"], "pread");
        let io = pair[1]["io"].as_str().expect("io");
        assert!(io.starts_with("io_uring") || io == "pread pool", "{io}");
        assert!(pair[1]["staging"].as_str().expect("staging").starts_with("host"), "{}", pair[1]);
    }
    // The set of both files moves both files' bytes.
    let bytes = |i: usize, k: &str| rows[i][k].as_u64().expect(k);
    for k in ["decoded_bytes", "compressed_bytes"] {
        assert_eq!(bytes(4, k), bytes(0, k) + bytes(2, k), "{k}");
        assert_eq!(bytes(5, k), bytes(4, k), "{k}");
    }
}

#[test]
fn bench_e2e_into_gpu_memory_runs_the_gpu_decode_or_is_refused_saying_why() {
    let a = corpus_file("oa_mc-oa.shader.lvl1.gdf");
    let out = dsr(&["bench", "e2e", "--backend", "vulkan", "--dest", "gpu", "--runs", "1", "--json", &a]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        // Only a machine without a usable Vulkan device may refuse, and it says so.
        assert!(std::env::var_os("DSR_REQUIRE_GPU").is_none(), "{stderr}");
        assert!(stderr.starts_with("dsr: backend vulkan:"), "{stderr}");
        return;
    }
    let rows = json_rows(&out);
    assert_eq!(rows.len(), 2, "{rows:?}");
    assert_eq!(rows[0]["backend"], "baseline");
    assert!(rows[0]["method"].as_str().expect("method").ends_with("+ upload"), "{}", rows[0]);
    assert_eq!(rows[1]["backend"], "vulkan");
    assert_eq!(rows[1]["dest"], "gpu");
    assert!(rows[1]["device"].as_str().is_some_and(|d| !d.is_empty() && d != "cpu"), "{}", rows[1]);
    assert_eq!(rows[0]["device"], rows[1]["device"], "the baseline uploads to the same device");
    assert_eq!(rows[1]["kind"], "text");
    assert!(
        rows[1]["method"].as_str().expect("method").contains("GPU decode (gdeflate_decode"),
        "{}",
        rows[1]
    );
    assert!(rows[1]["median_gbps"].as_f64().is_some_and(|g| g > 0.0), "{}", rows[1]);
}

#[test]
fn bench_e2e_refuses_the_cpu_backend_for_gpu_memory() {
    let a = corpus_file("syn_65536.txt.lvl12.gdf");
    let out = dsr(&["bench", "e2e", "--backend", "cpu", "--dest", "gpu", &a]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        stderr,
        "dsr: --dest gpu needs the vulkan backend (the cpu backend delivers into host memory)\n"
    );
    assert!(out.stdout.is_empty());
}

#[test]
fn bench_e2e_of_a_corrupt_stream_fails_with_one_line_naming_the_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let good = std::fs::read(corpus_file("wz_research.json.lvl12.gdf")).expect("corpus");
    // Truncated (the table promises more), and a damaged tile body (the header still parses).
    let mut truncated = good.clone();
    truncated.truncate(good.len() / 2);
    let mut damaged = good.clone();
    let n = damaged.len();
    for b in &mut damaged[n - 200..n - 100] {
        *b ^= 0x5a;
    }
    for (name, bytes) in [("truncated.gdf", truncated), ("damaged.gdf", damaged)] {
        let path = dir.path().join(name);
        std::fs::write(&path, &bytes).expect("write");
        let p = path.display().to_string();
        let out = dsr(&["bench", "e2e", "--backend", "cpu", "--runs", "1", &p]);
        assert_eq!(out.status.code(), Some(1), "{name}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.starts_with(&format!("dsr: {p}: ")), "{stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
        assert!(out.stdout.is_empty(), "no figure for a corrupt file");
    }
}

#[test]
fn bench_decode_chart_has_one_bar_per_kind_and_engine() {
    let dir = tempfile::tempdir().expect("temp dir");
    let a = corpus_file("syn_65536.txt.lvl12.gdf");
    let b = corpus_file("wz_research.json.lvl1.gdf");
    let c = corpus_file("assimp_Wuson.ply.lvl1.gdf");
    // An XML special character in a file name reaches the chart escaped.
    let odd = dir.path().join("a&b<c>.txt");
    std::fs::write(&odd, b"hello hello hello hello".repeat(100)).expect("write");
    let o = odd.display().to_string();
    let chart = dir.path().join("decode.svg");
    let ch = chart.display().to_string();
    let out = dsr(&["bench", "decode", "--backend", "cpu", "--runs", "1", "--chart", &ch, &a, &b, &c, &o]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.lines().nth(1).is_some_and(|h| h.contains(" kind ")), "{table}");
    let svg = std::fs::read_to_string(&chart).expect("the chart was written");
    assert_well_formed_svg(&svg);
    // Three text files make one bar: their bytes over their summed times.
    assert_eq!(svg_bars(&svg), [("text".into(), "cpu".into()), ("mesh".into(), "cpu".into())]);
    assert!(
        svg.contains("a&amp;b&lt;c&gt;.txt") && !svg.contains("a&b<c>"),
        "file name escaped in the command line"
    );
}

#[test]
fn bench_decode_submissions_adds_a_verified_row_per_kernel_and_split() {
    // 44 tiles: cut into 4 submissions (fewer where the offset alignment needs coarser cuts).
    let a = corpus_file("wz_research.json.lvl1.gdf");
    let out =
        dsr(&["bench", "decode", "--backend", "vulkan", "--runs", "1", "--submissions", "1,4", "--json", &a]);
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(std::env::var_os("DSR_REQUIRE_GPU").is_none(), "{stderr}");
        assert!(stderr.starts_with("dsr: backend vulkan:"), "{stderr}");
        return;
    }
    let rows = json_rows(&out);
    let kernels: Vec<&str> = rows.iter().filter_map(|r| r["kernel"].as_str()).collect();
    let whole: Vec<&&str> = kernels.iter().filter(|k| !k.contains(" in ")).collect();
    let split: Vec<&&str> = kernels.iter().filter(|k| k.contains(" submissions")).collect();
    assert!(!whole.is_empty(), "{kernels:?}");
    // One split row per kernel ("1" adds none: it is the whole-dispatch row).
    assert_eq!(split.len(), whole.len(), "{kernels:?}");
    for (w, s) in whole.iter().zip(&split) {
        assert!(s.starts_with(&format!("{w} in ")), "{kernels:?}");
    }
    assert!(rows.iter().all(|r| r["median_gbps"].as_f64().is_some_and(|v| v > 0.0)), "{rows:?}");
}
