//! A small headless renderer that shares its own Vulkan device with ds-runtime: it streams
//! GDeflate-compressed BC textures from a pack file straight into images on its device
//! (ds-runtime decodes on the GPU), renders a frame of textured quads that waits on the GPU
//! for ds-runtime's timeline semaphore, writes it as a PNG and checks it against the frame
//! computed on the CPU from the texture data. See `vk.rs` for the device-sharing rules and
//! `examples/README.md`.
//!
//! Run: `cargo run --release --example renderer -- --out frame.png`
//!
//! Without any Vulkan device it prints a notice and exits 0 (it cannot render), unless
//! `DSR_REQUIRE_GPU=1`, which makes that an error. Exits 1 when the frame is wrong.

#[path = "../render_common/mod.rs"]
mod common;
mod vk;

use std::process::ExitCode;

fn main() -> ExitCode {
    let args = match common::parse_args("renderer", "renderer.png") {
        Ok(args) => args,
        Err(code) => return code,
    };
    let options = vk::Options { out: args.out, force_uncompressed: args.force_uncompressed };
    match vk::run(&options) {
        Ok(outcome) => {
            vk::print(&outcome);
            ExitCode::SUCCESS
        }
        Err(vk::RenderError::NoGpu(why)) if !common::gpu_required() => {
            println!("notice: cannot render here, no usable Vulkan device ({why}); nothing to do");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
