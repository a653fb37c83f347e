//! The renderer example through ds-runtime's wgpu backend: the application's own wgpu device
//! and queue, handed to ds-runtime (`WgpuContext::adopt`), which decodes the GDeflate textures
//! of a pack on that device; the renderer copies them into its textures, renders the same
//! frame as the ash `renderer` example, writes a PNG and checks it against the frame computed
//! on the CPU. See `wg.rs` and `examples/README.md`.
//!
//! Run: `cargo run --release --example wgpu_renderer -- --out frame.png`
//!
//! Without any wgpu (Vulkan) adapter it prints a notice and exits 0, unless
//! `DSR_REQUIRE_GPU=1`, which makes that an error. Exits 1 when the frame is wrong.

#[path = "../render_common/mod.rs"]
mod common;
mod wg;

use std::path::PathBuf;
use std::process::ExitCode;

fn main() -> ExitCode {
    let mut options = wg::Options { out: PathBuf::from("wgpu_renderer.png"), force_uncompressed: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => match args.next() {
                Some(path) => options.out = PathBuf::from(path),
                None => return usage("--out needs a path"),
            },
            "--uncompressed" => options.force_uncompressed = true,
            "-h" | "--help" => {
                println!("usage: wgpu_renderer [--out FRAME.png] [--uncompressed]");
                return ExitCode::SUCCESS;
            }
            other => return usage(&format!("unknown argument `{other}`")),
        }
    }
    match wg::run(&options) {
        Ok(outcome) => {
            wg::print(&outcome);
            ExitCode::SUCCESS
        }
        Err(wg::RenderError::NoGpu(why)) if !common::gpu_required() => {
            println!("notice: cannot render here, no wgpu adapter ({why}); nothing to do");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn usage(why: &str) -> ExitCode {
    eprintln!("error: {why}\nusage: wgpu_renderer [--out FRAME.png] [--uncompressed]");
    ExitCode::from(2)
}
