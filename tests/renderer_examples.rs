//! The renderer examples, run for real: `examples/renderer` (ash, the application's own
//! Vulkan device adopted by ds-runtime, textures streamed from a pack into images, the frame
//! waiting on ds-runtime's timeline semaphore on the GPU) and `examples/wgpu_renderer` (the
//! application's wgpu device adopted by ds-runtime's wgpu backend), each with BC textures and
//! with the uncompressed fallback. Each test renders the frame, reads the PNG back from disk
//! and checks it against the frame computed on the CPU from the texture data.
//!
//! How the examples' code runs here: `cargo test` builds examples but does not run them, so
//! this test compiles the examples' own modules into itself with `#[path]` (the shared scene,
//! `vk.rs`, `wg.rs`: the same code as the binaries, minus their argument parsing) and calls
//! their `run`. No binary is spawned and nothing depends on the target directory's layout.
//!
//! Runs on lavapipe in CI; `DSR_REQUIRE_GPU=1` makes a machine without a Vulkan device (or
//! wgpu adapter) a failure, elsewhere such a test prints a notice and passes.

// The examples' modules, as the binaries compile them (`crate::common` resolves the same).
#[path = "../examples/render_common/mod.rs"]
mod common;
#[path = "../examples/renderer/vk.rs"]
mod vk;
#[path = "../examples/wgpu_renderer/wg.rs"]
mod wg;

use std::path::Path;

fn require_gpu(what: &str, why: &str) {
    assert!(!common::gpu_required(), "DSR_REQUIRE_GPU=1 but {what} cannot run: {why}");
    eprintln!("notice: skipping {what}: {why}");
}

/// The PNG at `path`, as RGBA8 texels.
fn read_png(path: &Path) -> Vec<u8> {
    let decoder = png::Decoder::new(std::io::BufReader::new(std::fs::File::open(path).expect("open PNG")));
    let mut reader = decoder.read_info().expect("PNG header");
    let mut buf = vec![0u8; reader.output_buffer_size()];
    let info = reader.next_frame(&mut buf).expect("PNG data");
    assert_eq!((info.width, info.height), (common::FRAME, common::FRAME));
    assert_eq!(info.color_type, png::ColorType::Rgba);
    buf.truncate(info.buffer_size());
    buf
}

/// The PNG on disk matches the frame computed from the textures.
fn assert_png_matches(path: &Path) {
    let expected = common::expected_frame(&common::textures(), &common::quads());
    if let Err(m) = common::compare(&expected, &read_png(path)) {
        panic!("{}: {m}", path.display());
    }
}

fn ash_renderer(force_uncompressed: bool) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("frame.png");
    let outcome = match vk::run(&vk::Options { out: out.clone(), force_uncompressed }) {
        Ok(o) => o,
        Err(vk::RenderError::NoGpu(why)) => return require_gpu("the ash renderer", &why),
        Err(e) => panic!("ash renderer: {e}"),
    };
    vk::print(&outcome);
    assert_eq!(outcome.png, out);
    assert_eq!(outcome.textures.len(), common::textures().len());
    assert!(outcome.timeline_value > 0, "the frame must wait on a submitted timeline value");
    assert!(outcome.max_diff <= common::TOLERANCE);
    if force_uncompressed {
        assert!(!outcome.bc);
    }
    assert!(!outcome.device.is_empty());
    assert_png_matches(&out);
}

fn wgpu_renderer(force_uncompressed: bool) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("frame.png");
    let outcome = match wg::run(&wg::Options { out: out.clone(), force_uncompressed }) {
        Ok(o) => o,
        Err(wg::RenderError::NoGpu(why)) => return require_gpu("the wgpu renderer", &why),
        Err(e) => panic!("wgpu renderer: {e}"),
    };
    wg::print(&outcome);
    assert_eq!(outcome.textures.len(), common::textures().len());
    assert!(outcome.max_diff <= common::TOLERANCE);
    if force_uncompressed {
        assert!(!outcome.bc);
    }
    assert!(!outcome.adapter.is_empty());
    assert_png_matches(&out);
}

#[test]
fn ash_renderer_streams_bc_textures_from_a_pack_and_renders_the_expected_frame() {
    ash_renderer(false);
}

#[test]
fn ash_renderer_uncompressed_fallback_renders_the_same_frame() {
    ash_renderer(true);
}

#[test]
fn wgpu_renderer_decodes_bc_textures_from_a_pack_and_renders_the_expected_frame() {
    wgpu_renderer(false);
}

#[test]
fn wgpu_renderer_uncompressed_fallback_renders_the_same_frame() {
    wgpu_renderer(true);
}

/// The check the renderers rely on rejects a frame off by one in an opaque pixel or by two in
/// a blended one, a quad moved by a pixel and a texture window moved by a texel.
#[test]
fn frame_check_rejects_a_changed_pixel() {
    let expected = common::expected_frame(&common::textures(), &common::quads());
    assert_eq!(common::compare(&expected, &expected.rgba), Ok(0));
    // Off by one in an opaque pixel: rejected (exact there).
    let n = common::FRAME as usize;
    let (x, y) = (37, 100);
    assert!(!expected.blended[y * n + x]);
    let mut off = expected.rgba.clone();
    off[(y * n + x) * 4 + 1] ^= 1;
    let m = common::compare(&expected, &off).unwrap_err();
    assert_eq!((m.pixels, m.first[0].0, m.first[0].1), (1, x as u32, y as u32));
    // Off by one in a blended pixel: accepted; by two: rejected.
    let b = expected.blended.iter().position(|&b| b).expect("the veil blends");
    let mut off = expected.rgba.clone();
    off[b * 4] = off[b * 4].wrapping_add(1);
    assert_eq!(common::compare(&expected, &off), Ok(1));
    off[b * 4] = off[b * 4].wrapping_add(1);
    assert_eq!(common::compare(&expected, &off).unwrap_err().pixels, 1);
    // A quad shifted by one pixel, or a window shifted by one texel, changes many pixels.
    let mut quads = common::quads();
    quads[1].model = glam::Mat4::from_translation(glam::Vec3::X) * quads[1].model;
    let shifted = common::expected_frame(&common::textures(), &quads);
    assert!(common::compare(&expected, &shifted.rgba).unwrap_err().pixels > 10);
    let mut quads = common::quads();
    let atlas = quads.len() - 1;
    let texel = glam::Vec2::new(1.0 / 1024.0, 0.0);
    quads[atlas].window = [quads[atlas].window[0] + texel, quads[atlas].window[1] + texel];
    let shifted = common::expected_frame(&common::textures(), &quads);
    assert!(common::compare(&expected, &shifted.rgba).unwrap_err().pixels > 100);
}

/// The CPU decoder follows the BC1 specification on a hand-made block (not one of the
/// encoder's): red and blue endpoints, all four indices, four-colour mode.
#[test]
fn bc1_decoder_matches_the_specification_on_a_known_block() {
    // c0 = pure red (0xF800) > c1 = pure blue (0x001F): four-colour mode; row y uses index y.
    let mut block = Vec::new();
    block.extend_from_slice(&0xF800u16.to_le_bytes());
    block.extend_from_slice(&0x001Fu16.to_le_bytes());
    block.extend_from_slice(&[0b0000_0000, 0b0101_0101, 0b1010_1010, 0b1111_1111]);
    let texels = common::decode_bc(common::BcFormat::Bc1, 4, 4, &block);
    let row = |y: usize| &texels[y * 16..y * 16 + 4];
    assert_eq!(row(0), [255, 0, 0, 255]);
    assert_eq!(row(1), [0, 0, 255, 255]);
    assert_eq!(row(2), [170, 0, 85, 255]);
    assert_eq!(row(3), [85, 0, 170, 255]);
}

/// The generated textures decode to at most two colours per 4×4 block, each an endpoint (the
/// encoder's exactness claim), and the BC3 texture has alpha below 1 (the blended quad).
#[test]
fn generated_blocks_use_only_their_endpoints() {
    for t in common::textures() {
        let texels = t.decoded();
        for by in 0..t.height as usize / 4 {
            for bx in 0..t.width as usize / 4 {
                let mut seen = std::collections::BTreeSet::new();
                for i in 0..16 {
                    let (x, y) = (bx * 4 + i % 4, by * 4 + i / 4);
                    let o = (y * t.width as usize + x) * 4;
                    seen.insert([texels[o], texels[o + 1], texels[o + 2]]);
                }
                assert!(seen.len() <= 2, "{} block ({bx},{by}): {} colours", t.name, seen.len());
            }
        }
        if t.format == common::BcFormat::Bc3 {
            assert!(texels.chunks_exact(4).any(|p| p[3] < 255));
        }
    }
}

/// Every endpoint colour of the generated textures expands to the same 8-bit value by bit
/// replication (Mesa) and by float scaling (hardware decoders), so the expected frame holds
/// on any conforming decoder; and the check is not vacuous (some 5-bit values differ).
#[test]
fn endpoints_expand_alike_by_bit_replication_and_by_scaling() {
    assert_ne!(common::replicate(3, 5), common::scale(3, 5));
    for t in common::textures() {
        let bb = t.format.block_bytes();
        for block in t.blocks.chunks_exact(bb) {
            let color = &block[bb - 8..];
            for c in [u16::from_le_bytes([color[0], color[1]]), u16::from_le_bytes([color[2], color[3]])] {
                let (r, g, b) = (((c >> 11) & 31) as u8, ((c >> 5) & 63) as u8, (c & 31) as u8);
                assert_eq!(common::replicate(r, 5), common::scale(r, 5), "{}: red {r}", t.name);
                assert_eq!(common::replicate(g, 6), common::scale(g, 6), "{}: green {g}", t.name);
                assert_eq!(common::replicate(b, 5), common::scale(b, 5), "{}: blue {b}", t.name);
            }
        }
    }
}
