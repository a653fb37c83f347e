//! What both renderer examples (`renderer`, ash; `wgpu_renderer`, wgpu) share: the scene.
//!
//! - The textures, generated procedurally as BC1 and BC3 blocks by an encoder that emits only
//!   blocks it encodes exactly (at most two colours and two alpha values per 4×4 block, each
//!   texel using endpoint index 0 or 1, never an interpolated one, and 565 endpoint values
//!   that bit replication and float scaling expand alike), so the decoded texels do not
//!   depend on a decoder's rounding; [`decode_bc`] is the CPU decoder the expected image uses.
//! - The pack: [`build_pack`] writes the textures into a `.dsp` pack with
//!   [`ds_runtime::pack::PackWriter`], each entry GDeflate-compressed, as BC blocks or (where the
//!   device cannot sample BC formats) as RGBA8 texels.
//! - The frame: a few quads placed with glam matrices on a 256×256 target, corners on the
//!   pixel grid and texels at whole-number scales (1×, 2×, a 90° turn; texture windows on
//!   whole texels), sampled with nearest filtering, so that each pixel centre maps to exactly
//!   one texel, well inside it.
//!   [`vertices`] gives both renderers the same clip-space vertex data; [`expected_frame`]
//!   computes the image the GPU must produce from the decoded texture data (no stored image).
//! - [`compare`] (exact pixel check, with a tolerance of 1 where the blended quad's rounding
//!   enters),
//!   [`write_png`], and [`gpu_required`] (`DSR_REQUIRE_GPU=1`: no device is an error).
//!
//! Invariant: the scene is the same for both renderers, so their PNGs are identical.

use ds_runtime::pack::{EntryCompression, Pack, PackEntry, PackOptions, PackWriter};
use glam::{Mat4, Vec2, Vec3, Vec4};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Width and height of the rendered frame in pixels.
pub const FRAME: u32 = 256;
/// The clear colour (RGBA8; each value is exact in UNORM8).
pub const CLEAR: [u8; 4] = [32, 32, 48, 255];
/// Largest per-channel difference [`compare`] accepts on blended pixels (the blend's
/// rounding); elsewhere it requires an exact match.
pub const TOLERANCE: u8 = 1;

/// The one shader of both renderers (WGSL; naga compiles it to SPIR-V for the ash renderer).
/// Clip-space positions come pre-transformed ([`vertices`]); the fragment stage samples
/// `tex` with the nearest-filtering sampler `samp`.
pub const SHADER: &str = r"
struct VsOut {
    @builtin(position) pos: vec4<f32>,
    @location(0) uv: vec2<f32>,
};

@vertex
fn vs_main(@location(0) pos: vec2<f32>, @location(1) uv: vec2<f32>) -> VsOut {
    var out: VsOut;
    out.pos = vec4<f32>(pos, 0.0, 1.0);
    out.uv = uv;
    return out;
}

@group(0) @binding(0) var tex: texture_2d<f32>;
@group(0) @binding(1) var samp: sampler;

@fragment
fn fs_main(in: VsOut) -> @location(0) vec4<f32> {
    return textureSample(tex, samp, in.uv);
}
";

/// A block-compressed format the scene uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BcFormat {
    /// BC1 (RGB + 1-bit alpha, 8 bytes per 4×4 block); sampled as `BC1_RGBA_UNORM`.
    Bc1,
    /// BC3 (BC1 colour + 8-bit alpha block, 16 bytes per 4×4 block).
    Bc3,
}

impl BcFormat {
    /// Bytes per 4×4 block.
    pub fn block_bytes(self) -> usize {
        match self {
            Self::Bc1 => 8,
            Self::Bc3 => 16,
        }
    }
}

/// One procedurally generated texture.
#[derive(Debug, Clone)]
pub struct Texture {
    /// Entry name in the pack.
    pub name: &'static str,
    /// Width in texels (a multiple of 4).
    pub width: u32,
    /// Height in texels (a multiple of 4).
    pub height: u32,
    /// Its block format.
    pub format: BcFormat,
    /// The encoded blocks, row-major.
    pub blocks: Vec<u8>,
}

impl Texture {
    /// The texels (RGBA8, row-major) the blocks decode to.
    pub fn decoded(&self) -> Vec<u8> {
        decode_bc(self.format, self.width, self.height, &self.blocks)
    }

    /// What the pack stores for it: the blocks, or (`bc == false`) the decoded RGBA8 texels.
    pub fn payload(&self, bc: bool) -> Vec<u8> {
        if bc { self.blocks.clone() } else { self.decoded() }
    }
}

/// A 5- or 6-bit endpoint value (`bits`) expanded to 8 bits by bit replication, as Mesa's
/// software decoders do.
pub fn replicate(v: u8, bits: u32) -> u8 {
    (v << (8 - bits)) | (v >> (2 * bits - 8))
}

/// The same expansion as a float decoder does it: `round(v * 255 / (2^bits - 1))`.
pub fn scale(v: u8, bits: u32) -> u8 {
    let max = (1u32 << bits) - 1;
    ((u32::from(v) * 255 * 2 + max) / (2 * max)) as u8
}

/// The value nearest to `v` (`bits` wide) whose two expansions agree ([`replicate`],
/// [`scale`]): 28 of the 32 5-bit and 54 of the 64 6-bit values. Endpoints made of such
/// values decode to the same 8-bit colour on every conforming decoder.
fn exact(v: u8, bits: u32) -> u8 {
    let max = (1u8 << bits) - 1;
    (0..=max).filter(|&c| replicate(c, bits) == scale(c, bits)).min_by_key(|&c| c.abs_diff(v)).unwrap_or(v)
}

/// RGB565 of an 8-bit colour: its top bits, nudged to values every decoder expands alike.
fn rgb565(r: u8, g: u8, b: u8) -> u16 {
    (u16::from(exact(r >> 3, 5)) << 11) | (u16::from(exact(g >> 2, 6)) << 5) | u16::from(exact(b >> 3, 5))
}

/// RGB565 to RGB8 by bit replication (for the scene's endpoints, equal to `round(v * 255 /
/// max)`, see [`rgb565`]).
pub fn expand565(c: u16) -> [u8; 3] {
    let r = ((c >> 11) & 31) as u8;
    let g = ((c >> 5) & 63) as u8;
    let b = (c & 31) as u8;
    [replicate(r, 5), replicate(g, 6), replicate(b, 5)]
}

/// One 4×4 block of at most two colours and two alpha values: texel `i` (row-major) takes
/// colour 1 where bit `i` of `color_mask` is set, else colour 0; alpha likewise.
#[derive(Debug, Clone, Copy)]
struct TwoToneBlock {
    c0: u16,
    c1: u16,
    color_mask: u16,
    a0: u8,
    a1: u8,
    alpha_mask: u16,
}

/// The BC1 colour block: endpoints as given, 2-bit index 0 or 1 per texel (exact in both of
/// BC1's modes: indices 0 and 1 always mean the endpoints).
fn encode_color(b: &TwoToneBlock, out: &mut Vec<u8>) {
    out.extend_from_slice(&b.c0.to_le_bytes());
    out.extend_from_slice(&b.c1.to_le_bytes());
    let mut indices = 0u32;
    for i in 0..16 {
        if b.color_mask >> i & 1 == 1 {
            indices |= 1 << (2 * i);
        }
    }
    out.extend_from_slice(&indices.to_le_bytes());
}

/// The BC3 alpha block: endpoints as given, 3-bit index 0 or 1 per texel (exact in both of
/// BC3's alpha modes).
fn encode_alpha(b: &TwoToneBlock, out: &mut Vec<u8>) {
    out.push(b.a0);
    out.push(b.a1);
    let mut indices = 0u64;
    for i in 0..16 {
        if b.alpha_mask >> i & 1 == 1 {
            indices |= 1 << (3 * i);
        }
    }
    out.extend_from_slice(&indices.to_le_bytes()[..6]);
}

/// A small integer hash for the patterns.
fn hash(a: u32, b: u32, c: u32) -> u32 {
    let mut h = a.wrapping_mul(0x9E37_79B1) ^ b.wrapping_mul(0x85EB_CA77) ^ c.wrapping_mul(0xC2B2_AE3D);
    h ^= h >> 15;
    h = h.wrapping_mul(0x2C1B_3C6D);
    h ^ (h >> 12)
}

fn generate(
    name: &'static str,
    width: u32,
    height: u32,
    format: BcFormat,
    block: impl Fn(u32, u32) -> TwoToneBlock,
) -> Texture {
    let mut blocks = Vec::with_capacity((width / 4 * height / 4) as usize * format.block_bytes());
    for by in 0..height / 4 {
        for bx in 0..width / 4 {
            let b = block(bx, by);
            if format == BcFormat::Bc3 {
                encode_alpha(&b, &mut blocks);
            }
            encode_color(&b, &mut blocks);
        }
    }
    Texture { name, width, height, format, blocks }
}

/// The scene's textures: a BC1 checkerboard with a colour gradient (solid blocks), a BC1
/// "glyph" texture (two colours per block, hashed bit patterns, like text), a BC3 texture
/// with stripes of alpha (two alpha values per block) for the blended quad, and a large BC1
/// atlas of glyph lines (a multi-tile GDeflate stream) of which a window is drawn.
pub fn textures() -> Vec<Texture> {
    let checker = generate("textures/checker", 64, 64, BcFormat::Bc1, |bx, by| {
        // 8×8-texel cells (2×2 blocks), solid.
        let (cx, cy) = (bx / 2, by / 2);
        let c = if (cx + cy) % 2 == 0 {
            rgb565(255 - (cx * 24) as u8, 120 + (cy * 16) as u8, 40)
        } else {
            rgb565(20, 60 + (cx * 20) as u8, 200 - (cy * 20) as u8)
        };
        TwoToneBlock { c0: c, c1: c, color_mask: 0, a0: 255, a1: 255, alpha_mask: 0 }
    });
    let glyphs = generate("textures/glyphs", 64, 32, BcFormat::Bc1, |bx, by| {
        let ink = rgb565(240, 230 - (by * 20) as u8, (bx * 16) as u8);
        let paper = rgb565(16 + (bx * 4) as u8, 24, 40 + (by * 8) as u8);
        // Hashed glyph-like bit patterns; every third block is blank paper.
        let mask = if (bx + by) % 3 == 2 { 0 } else { hash(bx, by, 7) as u16 | 0x0001 };
        TwoToneBlock { c0: paper, c1: ink, color_mask: mask, a0: 255, a1: 255, alpha_mask: 0 }
    });
    let veil = generate("textures/veil", 32, 32, BcFormat::Bc3, |bx, by| {
        let c0 = rgb565(250, 250, 250);
        let c1 = rgb565(255, (bx * 32) as u8, (by * 32) as u8);
        let color_mask = hash(bx, by, 11) as u16;
        // Diagonal stripes: alpha 1.0 and an alpha that falls off with the row.
        let alpha_mask = (0..16u16).filter(|i| (i % 4 + i / 4) % 4 < 2).fold(0, |m, i| m | 1 << i);
        TwoToneBlock { c0, c1, color_mask, a0: 255, a1: 200 - (by * 24) as u8, alpha_mask }
    });
    // A 1024×1024 atlas (512 KiB of BC1: eight 64 KiB GDeflate tiles) of glyph-like lines.
    let atlas = generate("textures/atlas", 1024, 1024, BcFormat::Bc1, |bx, by| {
        let ink = rgb565(255 - (bx / 2) as u8, 160 + (by % 24 * 4) as u8, (by / 2) as u8);
        let paper = rgb565(236, 226, 200);
        // Lines of glyphs two blocks high, one blank block row between lines, short words.
        let blank = by % 3 == 2 || hash(bx / 5, by / 3, 3).is_multiple_of(4) || bx % 5 == 4;
        let mask = if blank { 0 } else { hash(bx, by, 5) as u16 & hash(bx, by, 9) as u16 | 0x0100 };
        TwoToneBlock { c0: paper, c1: ink, color_mask: mask, a0: 255, a1: 255, alpha_mask: 0 }
    });
    vec![checker, glyphs, veil, atlas]
}

/// Decodes BC1/BC3 blocks into RGBA8 texels (row-major), as the Vulkan/D3D specification
/// describes them (interpolated BC1 colours and BC3 alpha values rounded to nearest; the
/// scene's blocks use none).
pub fn decode_bc(format: BcFormat, width: u32, height: u32, blocks: &[u8]) -> Vec<u8> {
    let (w, h) = (width as usize, height as usize);
    let mut out = vec![0u8; w * h * 4];
    let bb = format.block_bytes();
    for (n, block) in blocks.chunks_exact(bb).enumerate().take((w / 4) * (h / 4)) {
        let (bx, by) = (n % (w / 4), n / (w / 4));
        let (alpha, color) = match format {
            BcFormat::Bc1 => (None, block),
            BcFormat::Bc3 => (Some(&block[..8]), &block[8..]),
        };
        let c0 = u16::from_le_bytes([color[0], color[1]]);
        let c1 = u16::from_le_bytes([color[2], color[3]]);
        let (e0, e1) = (expand565(c0), expand565(c1));
        let mix = |a: u8, b: u8, wa: u32, wb: u32| {
            ((u32::from(a) * wa + u32::from(b) * wb + (wa + wb) / 2) / (wa + wb)) as u8
        };
        let lerp = |wa: u32, wb: u32| -> [u8; 4] {
            [mix(e0[0], e1[0], wa, wb), mix(e0[1], e1[1], wa, wb), mix(e0[2], e1[2], wa, wb), 255]
        };
        // BC3's colour block is always in four-colour mode.
        let four = c0 > c1 || format == BcFormat::Bc3;
        let palette = [
            [e0[0], e0[1], e0[2], 255],
            [e1[0], e1[1], e1[2], 255],
            if four { lerp(2, 1) } else { lerp(1, 1) },
            if four { lerp(1, 2) } else { [0, 0, 0, 0] },
        ];
        let indices = u32::from_le_bytes([color[4], color[5], color[6], color[7]]);
        let alphas = alpha.map(|a| {
            let (a0, a1) = (a[0], a[1]);
            let mut bits = [0u8; 8];
            bits[..6].copy_from_slice(&a[2..8]);
            let table: [u8; 8] = if a0 > a1 {
                std::array::from_fn(|i| match i {
                    0 => a0,
                    1 => a1,
                    _ => mix(a0, a1, 8 - i as u32, i as u32 - 1),
                })
            } else {
                std::array::from_fn(|i| match i {
                    0 => a0,
                    1 => a1,
                    6 => 0,
                    7 => 255,
                    _ => mix(a0, a1, 6 - i as u32, i as u32 - 1),
                })
            };
            (u64::from_le_bytes(bits), table)
        });
        for i in 0..16 {
            let mut texel = palette[(indices >> (2 * i) & 3) as usize];
            if let Some((bits, table)) = alphas {
                texel[3] = table[(bits >> (3 * i) & 7) as usize];
            }
            let (x, y) = (bx * 4 + i % 4, by * 4 + i / 4);
            out[(y * w + x) * 4..][..4].copy_from_slice(&texel);
        }
    }
    out
}

/// One quad of the scene: which texture, and where (a glam matrix from the unit square, with
/// texture coordinates `(0,0)`–`(1,1)`, to pixel coordinates, y down).
#[derive(Debug, Clone, Copy)]
pub struct Quad {
    /// Index into [`textures`].
    pub texture: usize,
    /// Unit square → pixels.
    pub model: Mat4,
    /// The texture window shown: normalised coordinates of its top-left and bottom-right
    /// corners (the unit square's `(0,0)` and `(1,1)`).
    pub window: [Vec2; 2],
}

/// The quads in drawing order: the checkerboard at 2×, the glyphs at 1× and at 2× turned by
/// 90°, the BC3 veil at 2× blended over the checkerboard's corner and the background, the
/// checkerboard again at 1×, and a 160×64-texel window of the 1024×1024 atlas at 1×.
pub fn quads() -> Vec<Quad> {
    let whole = [Vec2::ZERO, Vec2::ONE];
    let place = |texture: usize, x: f32, y: f32, w: f32, h: f32, turns: f32, window: [Vec2; 2]| {
        // Scale to the quad's size, turn by `turns` quarter turns about its centre, move so
        // that its (turned) top-left corner lands at (x, y).
        let turned = turns % 2.0 == 1.0;
        let (bw, bh) = if turned { (h, w) } else { (w, h) };
        let model = Mat4::from_translation(Vec3::new(x + bw / 2.0, y + bh / 2.0, 0.0))
            * Mat4::from_rotation_z(turns * std::f32::consts::FRAC_PI_2)
            * Mat4::from_translation(Vec3::new(-w / 2.0, -h / 2.0, 0.0))
            * Mat4::from_scale(Vec3::new(w, h, 1.0));
        Quad { texture, model, window }
    };
    // Atlas texels (400, 600)..(560, 664): whole texels, so each pixel centre maps to one.
    let atlas = [Vec2::new(400.0, 600.0) / 1024.0, Vec2::new(560.0, 664.0) / 1024.0];
    vec![
        place(0, 8.0, 8.0, 128.0, 128.0, 0.0, whole),
        place(1, 144.0, 8.0, 64.0, 32.0, 0.0, whole),
        place(1, 152.0, 48.0, 128.0, 64.0, 1.0, whole),
        place(2, 96.0, 104.0, 64.0, 64.0, 0.0, whole),
        place(0, 8.0, 184.0, 64.0, 64.0, 0.0, whole),
        place(3, 88.0, 184.0, 160.0, 64.0, 0.0, atlas),
    ]
}

/// Pixels → clip space (WGSL convention: y up, so pixel row 0 is at clip y = +1).
pub fn projection() -> Mat4 {
    Mat4::orthographic_rh(0.0, FRAME as f32, FRAME as f32, 0.0, -1.0, 1.0)
}

/// Vertex data of the quads: six vertices (two triangles) per quad, each `[x, y, u, v]` with
/// `(x, y)` in clip space; quad `i` is vertices `6i..6i+6`.
pub fn vertices(quads: &[Quad]) -> Vec<[f32; 4]> {
    let corners = [Vec2::new(0.0, 0.0), Vec2::new(1.0, 0.0), Vec2::new(1.0, 1.0), Vec2::new(0.0, 1.0)];
    let mut out = Vec::with_capacity(quads.len() * 6);
    for q in quads {
        let mvp = projection() * q.model;
        for &i in &[0usize, 1, 2, 0, 2, 3] {
            let c = corners[i];
            let p = mvp * Vec4::new(c.x, c.y, 0.0, 1.0);
            let uv = q.window[0] + c * (q.window[1] - q.window[0]);
            out.push([p.x / p.w, p.y / p.w, uv.x, uv.y]);
        }
    }
    out
}

/// The frame the GPU must render, computed on the CPU from the decoded textures.
#[derive(Debug, Clone)]
pub struct Expected {
    /// RGBA8 texels, row-major.
    pub rgba: Vec<u8>,
    /// Per pixel: whether a translucent texel was blended into it (there the GPU's blend
    /// rounding may differ by [`TOLERANCE`]; every other pixel must match exactly).
    pub blended: Vec<bool>,
}

/// The expected frame: for each pixel centre, each quad in order maps it back to its unit
/// square (the inverse of its matrix), then into its texture window; a covered pixel takes
/// the nearest texel, blended `src * a + dst * (1 - a)` (colour) over what is there, alpha
/// kept at the clear's 1.0.
pub fn expected_frame(textures: &[Texture], quads: &[Quad]) -> Expected {
    let decoded: Vec<Vec<u8>> = textures.iter().map(Texture::decoded).collect();
    let n = FRAME as usize;
    let mut rgba: Vec<u8> = CLEAR.iter().copied().cycle().take(n * n * 4).collect();
    let mut blended = vec![false; n * n];
    for q in quads {
        let inv = q.model.inverse();
        let t = &textures[q.texture];
        let texels = &decoded[q.texture];
        for py in 0..n {
            for px in 0..n {
                let local = inv.transform_point3(Vec3::new(px as f32 + 0.5, py as f32 + 0.5, 0.0));
                if !(0.0..1.0).contains(&local.x) || !(0.0..1.0).contains(&local.y) {
                    continue;
                }
                let uv = q.window[0] + Vec2::new(local.x, local.y) * (q.window[1] - q.window[0]);
                let tx = ((uv.x * t.width as f32) as usize).min(t.width as usize - 1);
                let ty = ((uv.y * t.height as f32) as usize).min(t.height as usize - 1);
                let src = &texels[(ty * t.width as usize + tx) * 4..][..4];
                let dst = &mut rgba[(py * n + px) * 4..][..4];
                let a = f32::from(src[3]) / 255.0;
                for c in 0..3 {
                    let v = f32::from(src[c]) / 255.0 * a + f32::from(dst[c]) / 255.0 * (1.0 - a);
                    dst[c] = (v * 255.0).round() as u8;
                }
                if src[3] != 255 {
                    blended[py * n + px] = true;
                }
            }
        }
    }
    Expected { rgba, blended }
}

/// A mismatch between the rendered and the expected frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    /// Pixels that differ in some channel (by more than [`TOLERANCE`] where blended).
    pub pixels: usize,
    /// The first few: `(x, y, expected, got)`.
    pub first: Vec<(u32, u32, [u8; 4], [u8; 4])>,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} pixel(s) differ from the expected frame (exact match required, {TOLERANCE} where blended)",
            self.pixels
        )?;
        for (x, y, e, g) in &self.first {
            write!(f, "; ({x},{y}) expected {e:?} got {g:?}")?;
        }
        Ok(())
    }
}

/// Checks the RGBA8 frame `got` against `expected`: exactly, except within [`TOLERANCE`] per
/// channel on blended pixels. Returns the largest channel difference seen.
pub fn compare(expected: &Expected, got: &[u8]) -> Result<u8, Mismatch> {
    if expected.rgba.len() != got.len() {
        return Err(Mismatch { pixels: expected.rgba.len() / 4, first: Vec::new() });
    }
    let mut max = 0u8;
    let mut bad = Mismatch { pixels: 0, first: Vec::new() };
    for (i, (e, g)) in expected.rgba.chunks_exact(4).zip(got.chunks_exact(4)).enumerate() {
        let d = e.iter().zip(g).map(|(a, b)| a.abs_diff(*b)).max().unwrap_or(0);
        max = max.max(d);
        if d > if expected.blended[i] { TOLERANCE } else { 0 } {
            bad.pixels += 1;
            if bad.first.len() < 4 {
                let i = i as u32;
                bad.first.push((i % FRAME, i / FRAME, [e[0], e[1], e[2], e[3]], [g[0], g[1], g[2], g[3]]));
            }
        }
    }
    if bad.pixels == 0 { Ok(max) } else { Err(bad) }
}

/// Writes an RGBA8 `FRAME`×`FRAME` image as a PNG.
pub fn write_png(path: &Path, rgba: &[u8]) -> Result<(), std::io::Error> {
    let file = std::io::BufWriter::new(std::fs::File::create(path)?);
    let mut encoder = png::Encoder::new(file, FRAME, FRAME);
    encoder.set_color(png::ColorType::Rgba);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder.write_header().map_err(std::io::Error::other)?;
    writer.write_image_data(rgba).map_err(std::io::Error::other)?;
    writer.finish().map_err(std::io::Error::other)
}

/// One texture as stored in the pack.
#[derive(Debug, Clone)]
pub struct PackedTexture {
    /// The texture.
    pub texture: Texture,
    /// Its pack entry.
    pub entry: PackEntry,
}

/// Writes the textures into `dir/textures.dsp` (BC blocks when `bc`, else RGBA8 texels), each
/// entry GDeflate-compressed, then opens the pack (header, table of contents) and checks each
/// entry on the CPU (`read_entry`: size and SHA-256) against what was written.
pub fn build_pack(dir: &Path, bc: bool) -> Result<(PathBuf, Pack, Vec<PackedTexture>), String> {
    let path = dir.join("textures.dsp");
    let textures = textures();
    let mut writer = PackWriter::create(&path, PackOptions::default()).map_err(|e| format!("pack: {e}"))?;
    for t in &textures {
        writer
            .add_with(t.name, &t.payload(bc), EntryCompression::GDeflate)
            .map_err(|e| format!("pack entry {}: {e}", t.name))?;
    }
    writer.finish().map_err(|e| format!("pack: {e}"))?;
    let pack = Pack::open(&path).map_err(|e| format!("opening the pack: {e}"))?;
    let mut packed = Vec::new();
    for t in textures {
        let entry = pack.find(t.name).ok_or_else(|| format!("pack lacks {}", t.name))?.clone();
        let bytes = pack.read_entry(&entry).map_err(|e| format!("pack entry {}: {e}", t.name))?;
        if bytes != t.payload(bc) {
            return Err(format!("pack entry {} reads back different bytes", t.name));
        }
        packed.push(PackedTexture { texture: t, entry });
    }
    Ok((path, pack, packed))
}

/// Whether `DSR_REQUIRE_GPU=1` is set: then a machine without a usable device is an error,
/// not a notice.
pub fn gpu_required() -> bool {
    std::env::var("DSR_REQUIRE_GPU").is_ok_and(|v| v == "1")
}

/// The renderers' command line: `[--out FRAME.png] [--uncompressed]`.
// tests/renderer_examples.rs includes this module too, and has no command line to parse.
#[cfg_attr(test, allow(dead_code))]
#[derive(Debug)]
pub struct Args {
    /// Where the PNG goes.
    pub out: PathBuf,
    /// `--uncompressed`: RGBA8 textures even where the device samples BC formats.
    pub force_uncompressed: bool,
}

/// Parses the command line of `program` (`default_out` when there is no `--out`). `Err` is the
/// exit code to leave with: 0 after `--help`, 2 after a usage error (both printed).
#[cfg_attr(test, allow(dead_code))]
pub fn parse_args(program: &str, default_out: &str) -> Result<Args, ExitCode> {
    let usage_line = format!("usage: {program} [--out FRAME.png] [--uncompressed]");
    let usage = |why: &str| {
        eprintln!("error: {why}\n{usage_line}");
        ExitCode::from(2)
    };
    let mut parsed = Args { out: default_out.into(), force_uncompressed: false };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--out" => match args.next() {
                Some(path) => parsed.out = path.into(),
                None => return Err(usage("--out needs a path")),
            },
            "--uncompressed" => parsed.force_uncompressed = true,
            "-h" | "--help" => {
                println!("{usage_line}");
                return Err(ExitCode::SUCCESS);
            }
            other => return Err(usage(&format!("unknown argument `{other}`"))),
        }
    }
    Ok(parsed)
}
