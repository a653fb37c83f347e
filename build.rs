//! Build script of the `dsr` tool: stamps the build's identity (git commit, profile, target)
//! into the binary so that `dsr --version` and benchmark output say exactly what ran.
//! It never fails the build: outside a git checkout the commit reads "unknown".

use std::process::Command;

fn main() {
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .map_or_else(|| "unknown".to_string(), |s| s.trim().to_string());
    let dirty = Command::new("git")
        .args(["status", "--porcelain", "--untracked-files=no"])
        .output()
        .ok()
        .is_some_and(|o| o.status.success() && !o.stdout.is_empty());
    let profile = std::env::var("PROFILE").unwrap_or_default();
    let target = std::env::var("TARGET").unwrap_or_default();
    let dirty = if dirty { "+modified" } else { "" };
    println!("cargo:rustc-env=DSR_BUILD_INFO=commit {commit}{dirty}, {profile} build, {target}");
    // Re-stamp when HEAD moves; not on every source edit (that would rebuild on each change).
    println!("cargo:rerun-if-changed=.git/HEAD");
    println!("cargo:rerun-if-changed=.git/refs/heads");
    println!("cargo:rerun-if-changed=build.rs");
}
