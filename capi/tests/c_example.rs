//! `examples/c/load.c` builds with a C compiler against `include/ds_runtime.h` and the
//! shared library (`libds_runtime.so`), and runs: raw read and GDeflate decode into host
//! memory checked against each other, cancellation, error record, statistics; with
//! `DSR_REQUIRE_GPU=1` (CI, lavapipe) also the Vulkan-buffer path, which must not skip.
//! The installed pkg-config file works too (`capi/install.sh` into a temporary prefix).
//!
//! Cargo does not build a package's cdylib for its integration tests, so the test runs
//! `cargo build -p ds-runtime-c` for the profile it was built with (a no-op when the library
//! is current) and finds the library in that profile's directory of the target dir.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn require_gpu() -> bool {
    std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1")
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("workspace root").to_path_buf()
}

/// Builds the shared library and returns the directory holding `libds_runtime.so`: this test
/// binary lives in `<target>/<profile>/deps/`.
fn shared_library_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe.parent().and_then(Path::parent).expect("<target>/<profile>").to_path_buf();
    let target = profile_dir.parent().expect("<target>").to_path_buf();
    let profile = profile_dir.file_name().and_then(|n| n.to_str()).expect("profile name").to_owned();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "-p", "ds-runtime-c", "--lib"])
        .current_dir(workspace())
        .env("CARGO_TARGET_DIR", &target);
    match profile.as_str() {
        "debug" => {}
        "release" => {
            cmd.arg("--release");
        }
        other => {
            cmd.args(["--profile", other]);
        }
    }
    let status = cmd.status().expect("running cargo build");
    assert!(status.success(), "cargo build -p ds-runtime-c failed");
    let lib = profile_dir.join("libds_runtime.so");
    assert!(lib.exists(), "{} not found after building", lib.display());
    profile_dir
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    eprintln!(
        "$ {cmd:?}\n--- stdout\n{}--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// A compressible, non-trivial input spanning more than one staging chunk on the CPU
/// backend's default 4 MiB chunks, and its GDeflate tile stream.
fn inputs(dir: &Path) -> (PathBuf, PathBuf) {
    let mut data = Vec::with_capacity(5_000_003);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    let words: [&[u8]; 6] = [b"texture ", b"vertex ", b"normal ", b"uv ", b"\0\x01\x02\x03", b"shader "];
    while data.len() < 5_000_003 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data.extend_from_slice(words[(x % 6) as usize]);
        data.push((x >> 32) as u8);
    }
    data.truncate(5_000_003);
    let stream = dsr_gdeflate::compress(&data, dsr_gdeflate::Level::DEFAULT, 0).expect("compress");
    let original = dir.join("original.bin");
    let gdf = dir.join("stream.gdf");
    std::fs::write(&original, &data).expect("write original");
    std::fs::write(&gdf, &stream).expect("write stream");
    (gdf, original)
}

fn compile(dir: &Path, extra: &[String]) -> PathBuf {
    let exe = dir.join("load");
    let mut cmd = Command::new("cc");
    cmd.args(["-std=c11", "-Wall", "-Wextra", "-Werror", "-o"])
        .arg(&exe)
        .arg(workspace().join("examples/c/load.c"));
    cmd.args(extra);
    let out = run(&mut cmd);
    assert!(out.status.success(), "examples/c/load.c does not compile");
    exe
}

fn expect_lines(out: &Output, lines: &[&str]) {
    let stdout = String::from_utf8_lossy(&out.stdout);
    for l in lines {
        assert!(stdout.contains(l), "the output lacks `{l}`");
    }
}

#[test]
fn c_example_builds_and_runs() {
    let lib_dir = shared_library_dir();
    let tmp = tempfile::tempdir().expect("tempdir");
    let (gdf, original) = inputs(tmp.path());
    let include = workspace().join("capi/include");
    let exe = compile(
        tmp.path(),
        &[format!("-I{}", include.display()), format!("-L{}", lib_dir.display()), "-lds_runtime".into()],
    );
    let common = [
        "raw read: OK, 5000003 bytes",
        "gdeflate decode: OK",
        "matches the raw copy",
        "memory source: OK",
        "cancelled: 3 of 3 (callbacks saw 3)",
        "error record: 1 failure, first `bad-size` DSR_RESULT_CORRUPT_DATA",
        "all checks passed",
    ];
    let cpu = run(Command::new(&exe).arg(&gdf).arg(&original).arg("cpu").env("LD_LIBRARY_PATH", &lib_dir));
    assert_eq!(cpu.status.code(), Some(0), "load.c failed on the CPU runtime");
    expect_lines(&cpu, &common);
    expect_lines(&cpu, &["backend=cpu", "stats: completed=3 failed=1 cancelled=3"]);

    let gpu = run(Command::new(&exe).arg(&gdf).arg(&original).arg("vulkan").env("LD_LIBRARY_PATH", &lib_dir));
    if gpu.status.code() == Some(77) && !require_gpu() {
        eprintln!(
            "NOTICE: the Vulkan part of load.c skipped: no device (set DSR_REQUIRE_GPU=1 to fail instead)"
        );
        return;
    }
    assert_eq!(gpu.status.code(), Some(0), "load.c failed on the Vulkan runtime");
    expect_lines(&gpu, &common);
    expect_lines(&gpu, &["backend=vulkan", "vulkan buffer: OK, decoded on the GPU", "stats: completed=4"]);
}

#[test]
fn installed_pkg_config_file_builds_the_example() {
    let lib_dir = shared_library_dir();
    let prefix = tempfile::tempdir().expect("tempdir");
    let out = run(Command::new("bash")
        .arg(workspace().join("capi/install.sh"))
        .arg(prefix.path())
        .env("DSR_LIB_DIR", &lib_dir));
    assert!(out.status.success(), "capi/install.sh failed");
    let pc_dir = prefix.path().join("lib/pkgconfig");
    let flags = run(Command::new("pkg-config")
        .args(["--cflags", "--libs", "ds_runtime"])
        .env("PKG_CONFIG_PATH", &pc_dir));
    assert!(flags.status.success(), "pkg-config does not accept ds_runtime.pc");
    let flags = String::from_utf8(flags.stdout).expect("UTF-8 flags");
    let prefix_str = prefix.path().display().to_string();
    assert!(flags.contains(&format!("-I{prefix_str}/include")), "cflags: {flags}");
    assert!(
        flags.contains(&format!("-L{prefix_str}/lib")) && flags.contains("-lds_runtime"),
        "libs: {flags}"
    );
    let exe = compile(prefix.path(), &flags.split_whitespace().map(str::to_owned).collect::<Vec<_>>());
    let (gdf, original) = inputs(prefix.path());
    let ran = run(Command::new(&exe)
        .arg(&gdf)
        .arg(&original)
        .arg("cpu")
        .env("LD_LIBRARY_PATH", prefix.path().join("lib")));
    assert_eq!(ran.status.code(), Some(0), "load.c built through pkg-config failed");
    expect_lines(&ran, &["all checks passed"]);
}
