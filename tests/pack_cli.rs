//! `dsr pack`, `unpack`, `verify`, `ls` and `info FILE` as a user runs them: byte-exact round
//! trips of corpus and generated files, `--json` that parses, corrupt packs reported per entry,
//! unsafe entry names and symbolic links refused, one-line errors with exit 1.

mod common;
use common::*;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dsr_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dsr"));
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run dsr")
}

fn dsr(args: &[&str]) -> Output {
    dsr_env(args, &[])
}

/// Hides every Vulkan driver from the loader (as in tests/cli.rs).
const NO_VULKAN: &[(&str, &str)] = &[
    ("VK_DRIVER_FILES", "/nonexistent/dsr-no-icd.json"),
    ("VK_ICD_FILENAMES", "/nonexistent/dsr-no-icd.json"),
];

fn require_gpu() -> bool {
    std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1")
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout: {}\nstderr: {}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// stderr lines that are not Mesa's harmless `XDG_RUNTIME_DIR` notice (printed when wgpu
/// starts on a headless machine).
fn stderr_lines(o: &Output) -> Vec<String> {
    String::from_utf8_lossy(&o.stderr)
        .lines()
        .filter(|l| !l.contains("XDG_RUNTIME_DIR"))
        .map(str::to_string)
        .collect()
}

/// Exit 1 and exactly one stderr line, starting `dsr: `; returns it.
fn one_line_error(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(1), "stdout: {}", String::from_utf8_lossy(&o.stdout));
    let lines = stderr_lines(o);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(lines[0].starts_with("dsr: "), "{}", lines[0]);
    lines[0].clone()
}

/// A directory of corpus raw files (top level), generated files in nested subdirectories and
/// an empty file. Returns (relative name, bytes) of every file.
fn make_tree(root: &Path) -> Vec<(String, Vec<u8>)> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(corpus_dir().join("raw")).expect("corpus raw/") {
        let p = e.unwrap().path();
        files.push((p.file_name().unwrap().to_str().unwrap().to_string(), std::fs::read(&p).unwrap()));
    }
    assert!(files.len() >= 10, "corpus raw/ has {} files", files.len());
    let text: Vec<u8> = (0..30_000).flat_map(|i| format!("mesh {i} lod {}\n", i % 5).into_bytes()).collect();
    let mut x = 0x1234_5678_9abc_def0u64;
    let noise: Vec<u8> = (0..150_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect();
    files.push(("levels/one/meshes.txt".into(), text.clone()));
    files.push(("levels/one/noise.bin".into(), noise));
    files.push(("levels/two/deeper/still/text.txt".into(), text[..70_000].to_vec()));
    files.push(("empty.dat".into(), Vec::new()));
    for (name, data) in &files {
        let p = root.join(name);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, data).unwrap();
    }
    files.sort();
    files
}

fn pack_tree(dir: &Path) -> (PathBuf, Vec<(String, Vec<u8>)>) {
    let input = dir.join("in");
    let files = make_tree(&input);
    let pack = dir.join("assets.dsp");
    let o = dsr(&["pack", s(&input), "-o", s(&pack), "--level", "1", "--threads", "2"]);
    let out = ok(&o);
    assert!(out.contains(&format!("{} entries", files.len())), "{out}");
    // Not a terminal: no progress bar, nothing at all on stderr.
    assert!(o.stderr.is_empty(), "{}", String::from_utf8_lossy(&o.stderr));
    (pack, files)
}

fn ls_json(pack: &Path) -> Value {
    serde_json::from_str(&ok(&dsr(&["ls", "--json", s(pack)]))).expect("ls --json is JSON")
}

#[test]
fn pack_ls_verify_unpack_round_trip_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (pack, files) = pack_tree(dir.path());

    // ls: every file, sorted by name, with its size; the table has a totals line.
    let table = ok(&dsr(&["ls", s(&pack)]));
    for (name, data) in &files {
        let line = table
            .lines()
            .find(|l| l.ends_with(&format!(" {name}")))
            .unwrap_or_else(|| panic!("{name}: {table}"));
        assert!(line.split_whitespace().nth(2) == Some(&data.len().to_string()), "{line}");
    }
    assert!(table.contains(&format!("{} entries: ", files.len())), "{table}");
    let v = ls_json(&pack);
    let entries = v["entries"].as_array().unwrap();
    let names: Vec<&str> = entries.iter().map(|e| e["name"].as_str().unwrap()).collect();
    let expected: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, expected);
    for ((_, data), e) in files.iter().zip(entries) {
        assert_eq!(e["uncompressed_size"].as_u64(), Some(data.len() as u64));
        assert_eq!(e["sha256"].as_str(), Some(sha256_hex(data).as_str()));
        assert_eq!(e["offset"].as_u64().unwrap() % 4096, 0);
    }
    assert!(entries.iter().any(|e| e["compression"] == "gdeflate"));
    assert!(entries.iter().any(|e| e["compression"] == "raw"));

    let out = ok(&dsr(&["verify", "--backend", "cpu", s(&pack)]));
    assert!(out.contains(&format!("{} entries OK", files.len())) && out.contains("checked on cpu"), "{out}");

    let dest = dir.path().join("out");
    ok(&dsr(&["unpack", "--backend", "cpu", s(&pack), "-o", s(&dest)]));
    for (name, data) in &files {
        assert!(std::fs::read(dest.join(name)).unwrap() == *data, "{name} differs after unpack");
    }
}

#[test]
fn the_pack_is_the_same_bytes_for_any_thread_count() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    make_tree(&input);
    let packs: Vec<Vec<u8>> = ["1", "3", "0"]
        .iter()
        .map(|t| {
            let pack = dir.path().join(format!("t{t}.dsp"));
            ok(&dsr(&["pack", "--level", "1", "--threads", t, s(&input), "-o", s(&pack)]));
            std::fs::read(&pack).unwrap()
        })
        .collect();
    assert!(packs[0] == packs[1] && packs[1] == packs[2], "packs differ between thread counts");
}

#[test]
fn json_outputs_parse_and_agree_with_the_pack() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    let files = make_tree(&input);
    let pack = dir.path().join("p.dsp");
    let out = ok(&dsr(&["pack", "--json", "--level", "1", "--alignment", "512", s(&input), "-o", s(&pack)]));
    let summary: Value = serde_json::from_str(&out).expect("pack --json is JSON");
    assert_eq!(summary["entries"].as_u64(), Some(files.len() as u64));
    let total: u64 = files.iter().map(|(_, d)| d.len() as u64).sum();
    assert_eq!(summary["bytes_in"].as_u64(), Some(total));
    assert_eq!(summary["file_size"].as_u64(), Some(std::fs::metadata(&pack).unwrap().len()));
    assert_eq!(summary["alignment"].as_u64(), Some(512));
    let ls = ls_json(&pack);
    assert_eq!(ls["alignment"].as_u64(), Some(512));
    assert!(ls["entries"].as_array().unwrap().iter().all(|e| e["offset"].as_u64().unwrap() % 512 == 0));

    let v: Value = serde_json::from_str(&ok(&dsr(&["verify", "--json", s(&pack)]))).expect("verify --json");
    assert_eq!(v["ok"], true);
    assert_eq!(v["entries"].as_u64(), Some(files.len() as u64));
    let checked: Vec<&str> = v["backends"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["checked"] == true)
        .map(|b| b["backend"].as_str().unwrap())
        .collect();
    assert!(checked.contains(&"cpu"), "{v}");
    if require_gpu() {
        // lavapipe in CI: both GPU backends run the decode kernels on every GDeflate entry.
        assert!(checked.contains(&"vulkan") && checked.contains(&"wgpu"), "{v}");
    }
}

/// Flips one byte in the middle of entry `name`'s stored data.
fn corrupt_entry(pack: &Path, name: &str) {
    let v = ls_json(pack);
    let e = v["entries"].as_array().unwrap().iter().find(|e| e["name"] == name).unwrap();
    let at = e["offset"].as_u64().unwrap() + e["stored_size"].as_u64().unwrap() / 2;
    let mut bytes = std::fs::read(pack).unwrap();
    bytes[at as usize] ^= 0x5A;
    std::fs::write(pack, bytes).unwrap();
}

#[test]
fn verify_of_a_corrupt_pack_exits_1_naming_each_bad_entry() {
    let dir = tempfile::tempdir().unwrap();
    let (pack, files) = pack_tree(dir.path());
    let v = ls_json(&pack);
    let kind = |n: &str| {
        v["entries"].as_array().unwrap().iter().find(|e| e["name"] == n).unwrap()["compression"].clone()
    };
    assert_eq!(kind("levels/one/meshes.txt"), "gdeflate");
    assert_eq!(kind("levels/one/noise.bin"), "raw");
    corrupt_entry(&pack, "levels/one/meshes.txt");
    corrupt_entry(&pack, "levels/one/noise.bin");

    for backend in ["cpu", "all"] {
        let o = dsr(&["verify", "--backend", backend, s(&pack)]);
        assert_eq!(o.status.code(), Some(1), "{backend}");
        let lines = stderr_lines(&o);
        let bad: Vec<&String> = lines.iter().filter(|l| l.contains("bad entry")).collect();
        assert!(bad.iter().any(|l| l.contains("\"levels/one/meshes.txt\" (cpu)")), "{lines:?}");
        assert!(
            bad.iter().any(|l| l.contains("\"levels/one/noise.bin\" (read)") && l.contains("SHA-256")),
            "{lines:?}"
        );
        assert!(bad.iter().all(|l| l.contains("meshes.txt") || l.contains("noise.bin")), "{lines:?}");
        if backend == "all" && require_gpu() {
            assert!(bad.iter().any(|l| l.contains("meshes.txt\" (vulkan)")), "{lines:?}");
            assert!(bad.iter().any(|l| l.contains("meshes.txt\" (wgpu)")), "{lines:?}");
        }
        let last = lines.last().unwrap();
        assert!(last.ends_with(&format!("2 of {} entries bad", files.len())), "{last}");
    }
    let o = dsr(&["verify", "--json", "--backend", "cpu", s(&pack)]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).expect("verify --json on a bad pack");
    assert_eq!(v["ok"], false);
    assert_eq!(v["bad"].as_array().unwrap().len(), 2);

    // unpack refuses too, naming the entry, and writes no partial file for it.
    let dest = dir.path().join("out");
    let line = one_line_error(&dsr(&["unpack", "--backend", "cpu", s(&pack), "-o", s(&dest)]));
    assert!(line.contains("levels/one/meshes.txt"), "{line}");
    assert!(!dest.join("levels/one/meshes.txt").exists());
}

#[test]
fn a_gpu_backend_asked_for_by_name_but_missing_is_an_error_and_all_says_what_it_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (pack, _) = pack_tree(dir.path());
    let line = one_line_error(&dsr_env(&["verify", "--backend", "vulkan", s(&pack)], NO_VULKAN));
    assert!(line.contains("vulkan") && line.contains("not supported"), "{line}");
    let out = ok(&dsr_env(&["verify", s(&pack)], NO_VULKAN));
    assert!(out.contains("checked on cpu;") && out.contains("vulkan not available"), "{out}");
}

#[test]
fn unpack_on_the_gpu_backends_is_byte_exact() {
    let dir = tempfile::tempdir().unwrap();
    let (pack, files) = pack_tree(dir.path());
    for backend in ["vulkan", "wgpu"] {
        let dest = dir.path().join(backend);
        let o = dsr(&["unpack", "--backend", backend, s(&pack), "-o", s(&dest)]);
        if !o.status.success()
            && String::from_utf8_lossy(&o.stderr).contains("not supported")
            && !require_gpu()
        {
            eprintln!(
                "NOTICE: unpack --backend {backend} skipped: no device (set DSR_REQUIRE_GPU=1 to fail)"
            );
            continue;
        }
        let out = ok(&o);
        assert!(out.contains(&format!("backend {backend}")), "{out}");
        for (name, data) in &files {
            assert!(std::fs::read(dest.join(name)).unwrap() == *data, "{backend}: {name}");
        }
    }
}

/// Rewrites entry `from`'s name in the names area (same length) and recomputes the checksums,
/// as a hostile pack would.
fn rename_entry(pack: &Path, from: &str, to: &str) {
    use sha2::{Digest, Sha256};
    assert_eq!(from.len(), to.len());
    let mut b = std::fs::read(pack).unwrap();
    let toc = u64::from_le_bytes(b[24..32].try_into().unwrap()) as usize;
    let at = toc + b[toc..].windows(from.len()).position(|w| w == from.as_bytes()).expect("name in the TOC");
    b[at..at + to.len()].copy_from_slice(to.as_bytes());
    let d = Sha256::digest(&b[toc..]);
    b[48..60].copy_from_slice(&d[..12]);
    let d = Sha256::digest(&b[..60]);
    b[60..64].copy_from_slice(&d[..4]);
    std::fs::write(pack, b).unwrap();
}

#[test]
fn path_traversal_and_absolute_names_are_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("aa")).unwrap();
    std::fs::write(input.join("aa/evil"), b"payload").unwrap();
    std::fs::write(input.join("fine.txt"), b"fine").unwrap();
    for (bad, why) in [("../evil", "'..'"), ("/a/evil", "absolute")] {
        let pack = dir.path().join("p.dsp");
        ok(&dsr(&["pack", s(&input), "-o", s(&pack)]));
        rename_entry(&pack, "aa/evil", bad);
        let dest = dir.path().join("deep/out");
        let line = one_line_error(&dsr(&["unpack", s(&pack), "-o", s(&dest)]));
        assert!(line.contains("invalid entry name") && line.contains(why), "{line}");
        assert!(!dest.exists(), "unpack created its output before refusing");
        assert!(!dir.path().join("deep/evil").exists() && !Path::new("/a/evil").exists());
        for cmd in ["ls", "verify"] {
            let line = one_line_error(&dsr(&[cmd, s(&pack)]));
            assert!(line.contains("invalid entry name"), "{cmd}: {line}");
        }
    }
}

#[test]
fn unpack_never_writes_through_a_symbolic_link() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in");
    std::fs::create_dir_all(input.join("sub")).unwrap();
    std::fs::write(input.join("sub/file"), b"data").unwrap();
    let pack = dir.path().join("p.dsp");
    ok(&dsr(&["pack", s(&input), "-o", s(&pack)]));
    let dest = dir.path().join("out");
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(&dest).unwrap();
    std::fs::create_dir_all(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, dest.join("sub")).unwrap();
    let line = one_line_error(&dsr(&["unpack", "--backend", "cpu", s(&pack), "-o", s(&dest)]));
    assert!(line.contains("symbolic link"), "{line}");
    assert!(!elsewhere.join("file").exists());
}

#[test]
fn an_entry_that_is_also_a_directory_of_another_is_refused_in_one_line() {
    use ds_runtime::pack::{PackOptions, PackWriter};
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("clash.dsp");
    let mut w = PackWriter::create(&pack, PackOptions::default()).unwrap();
    w.add("x", b"a file").unwrap();
    w.add("x/y", b"and a file inside it").unwrap();
    w.finish().unwrap();
    let line =
        one_line_error(&dsr(&["unpack", "--backend", "cpu", s(&pack), "-o", s(&dir.path().join("out"))]));
    assert!(line.contains("is a directory") && line.contains("\"x\""), "{line}");
}

#[test]
fn pack_errors_are_one_line_and_leave_no_output() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("o.dsp");
    let line = one_line_error(&dsr(&["pack", s(&dir.path().join("missing")), "-o", s(&out)]));
    assert!(line.contains("missing") && line.contains("cannot read"), "{line}");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let line = one_line_error(&dsr(&["pack", s(&empty), "-o", s(&out)]));
    assert!(line.contains("no regular files"), "{line}");
    let line = one_line_error(&dsr(&["pack", s(&empty), "-o", s(&out), "--alignment", "3000"]));
    assert!(line.contains("alignment 3000"), "{line}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, vec![std::ffi::OsString::from("empty")], "nothing written");
    // Not a pack: one line saying so.
    let junk = dir.path().join("junk.dsp");
    std::fs::write(&junk, b"hello, definitely not a pack").unwrap();
    let line = one_line_error(&dsr(&["ls", s(&junk)]));
    assert!(line.contains("not a ds-runtime pack"), "{line}");
}

#[test]
fn packing_into_the_directory_being_packed_leaves_the_pack_out() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), b"aaaa").unwrap();
    let pack = dir.path().join("self.dsp");
    ok(&dsr(&["pack", s(dir.path()), "-o", s(&pack)]));
    ok(&dsr(&["pack", s(dir.path()), "-o", s(&pack)]));
    let v = ls_json(&pack);
    let names: Vec<&str> =
        v["entries"].as_array().unwrap().iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["a.txt"]);
}

#[test]
fn info_describes_a_pack_or_a_tile_stream_and_refuses_other_files() {
    let dir = tempfile::tempdir().unwrap();
    let (pack, files) = pack_tree(dir.path());
    let out = ok(&dsr(&["info", s(&pack)]));
    assert!(out.contains("ds-runtime pack, format version 1"), "{out}");
    assert!(out.contains(&format!("entries: {} (", files.len())) && out.contains("alignment 4096"), "{out}");
    let gdf = corpus_dir().join("gdeflate/fg_sea_foam.dds.lvl12.gdf");
    let out = ok(&dsr(&["info", s(&gdf)]));
    assert!(
        out.contains("GDeflate tile stream") && out.contains("tiles: 1 ") && out.contains("43832"),
        "{out}"
    );
    let line = one_line_error(&dsr(&["info", s(&corpus_dir().join("raw/wz_research.json"))]));
    assert!(line.contains("neither a ds-runtime pack nor a GDeflate tile stream"), "{line}");
    // A truncated pack: the pack error, not the tile-stream one.
    let bytes = std::fs::read(&pack).unwrap();
    std::fs::write(&pack, &bytes[..bytes.len() - 10]).unwrap();
    let line = one_line_error(&dsr(&["info", s(&pack)]));
    assert!(line.contains("truncated pack"), "{line}");
}
