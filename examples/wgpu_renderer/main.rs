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

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match common::parse_args("wgpu_renderer", "wgpu_renderer.png") {
        Ok(args) => args,
        Err(code) => return code,
    };
    let options = wg::Options { out: args.out, force_uncompressed: args.force_uncompressed };
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
