//! The committed C header `include/ds_runtime.h` is what cbindgen makes of the crate today,
//! and it compiles as C and as C++.

use std::path::{Path, PathBuf};
use std::process::Command;

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn generate() -> String {
    let dir = crate_dir();
    let config = cbindgen::Config::from_file(dir.join("cbindgen.toml")).expect("cbindgen.toml");
    let bindings = cbindgen::Builder::new()
        .with_crate(&dir)
        .with_config(config)
        .generate()
        .expect("cbindgen could not generate the header");
    let mut out = Vec::new();
    bindings.write(&mut out);
    String::from_utf8(out).expect("UTF-8 header")
}

#[test]
fn header_is_current() {
    let path = crate_dir().join("include/ds_runtime.h");
    let fresh = generate();
    if std::env::var_os("DSR_BLESS").is_some_and(|v| v == "1") {
        std::fs::write(&path, &fresh).expect("writing the header");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == fresh,
        "{} is out of date with capi/src: regenerate it with\n    DSR_BLESS=1 cargo test -p ds-runtime-c --test header\nand commit it",
        path.display()
    );
}

fn compiles(compiler: &str, args: &[&str], header: &Path) {
    let out = Command::new(compiler)
        .args(args)
        .arg("-I")
        .arg(header.parent().expect("include dir"))
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(b"#include <ds_runtime.h>\nint dsr_header_check;\n")?;
            child.wait_with_output()
        })
        .unwrap_or_else(|e| panic!("running {compiler}: {e}"));
    assert!(
        out.status.success(),
        "{compiler} {args:?} rejects ds_runtime.h:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn header_compiles_as_c_and_cxx_without_warnings() {
    let header = crate_dir().join("include/ds_runtime.h");
    compiles(
        "cc",
        &["-std=c11", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "-x", "c"],
        &header,
    );
    compiles(
        "c++",
        &["-std=c++17", "-Wall", "-Wextra", "-Werror", "-pedantic", "-fsyntax-only", "-x", "c++"],
        &header,
    );
}
