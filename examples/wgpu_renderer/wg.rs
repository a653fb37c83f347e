//! The wgpu renderer: an application's own wgpu device, shared with ds-runtime's wgpu backend.
//!
//! What it does ([`run`]):
//!
//! 1. Creates its own wgpu instance, adapter (the best of wgpu's Vulkan adapters) and device,
//!    with `TEXTURE_COMPRESSION_BC` where the adapter has it (otherwise RGBA8 textures, with a
//!    notice).
//! 2. Hands clones of the device and queue to ds-runtime ([`WgpuContext::adopt`]; wgpu handles
//!    are shared references, so both keep using them).
//! 3. Writes the scene's textures into a GDeflate pack in a temporary directory, reads each
//!    entry's stored bytes from the pack file (`Pack::read_stored`) and has ds-runtime decode them with its GDeflate
//!    kernel on the shared device, into ds-runtime's destination buffers
//!    ([`WgpuContext::prepare_decode_uninit`], [`WgpuContext::submit_decode`]): the wgpu
//!    backend decodes into buffers, so the renderer copies each buffer into its texture itself
//!    (one copy per row of blocks, which needs no 256-byte row pitch).
//! 4. Renders the same frame as the ash renderer in the same queue (wgpu orders submissions
//!    on a queue and tracks the buffers' and textures' states: no explicit semaphore), reads it
//!    back, checks each page's decode status, writes the PNG and compares it with the frame
//!    computed on the CPU.
//!
//! Ownership: the application owns the device and queue; ds-runtime's context holds clones
//! and owns its pipelines and its decode buffers (in each [`DecodeJob`]); the renderer's
//! textures, pipeline and buffers are its own. wgpu reference-counts everything, so any drop
//! order is valid; the jobs are kept until the frame has completed only because their
//! statuses are read after it.

use crate::common::{self, Mismatch};
use ds_runtime::pack::EntryCompression;
use ds_runtime::wgpu::wgpu;
use ds_runtime::wgpu::{DecodeJob, KernelOptions, WgpuContext};
use std::borrow::Cow;
use std::path::PathBuf;

/// What [`run`] is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the PNG goes.
    pub out: PathBuf,
    /// RGBA8 textures even where BC formats are supported (the fallback path).
    pub force_uncompressed: bool,
}

/// What [`run`] did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The adapter's name.
    pub adapter: String,
    /// Whether the textures were BC blocks (else RGBA8).
    pub bc: bool,
    /// `(entry name, bytes in the pack, bytes decoded)` per texture.
    pub textures: Vec<(String, u64, u64)>,
    /// Largest channel difference from the expected frame.
    pub max_diff: u8,
    /// The PNG written.
    pub png: PathBuf,
}

/// Why [`run`] failed.
#[derive(Debug)]
pub enum RenderError {
    /// wgpu lists no Vulkan adapter: this machine cannot render.
    NoGpu(String),
    /// wgpu or ds-runtime's wgpu backend failed (says during what).
    Gpu(String),
    /// The pack or a texture's data is wrong (says which).
    Data(String),
    /// Writing the PNG failed.
    Io(std::io::Error),
    /// The rendered frame differs from the expected one.
    Mismatch(Mismatch),
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoGpu(why) => write!(f, "no usable wgpu adapter: {why}"),
            Self::Gpu(m) => write!(f, "GPU: {m}"),
            Self::Data(m) => write!(f, "data: {m}"),
            Self::Io(e) => write!(f, "writing the PNG: {e}"),
            Self::Mismatch(m) => write!(f, "the frame is wrong: {m}"),
        }
    }
}

impl std::error::Error for RenderError {}

fn gpu<E: std::fmt::Display>(during: &'static str) -> impl Fn(E) -> RenderError {
    move |e| RenderError::Gpu(format!("{during}: {e}"))
}

/// A texture's data on the device: ds-runtime's decode job (GDeflate entries) or, for an
/// entry stored raw, a buffer with its bytes.
enum Staged {
    Decoded { job: DecodeJob, stream: Vec<u8> },
    Raw(wgpu::Buffer),
}

impl Staged {
    fn buffer(&self) -> &wgpu::Buffer {
        match self {
            Self::Decoded { job, .. } => job.destination(),
            Self::Raw(b) => b,
        }
    }
}

/// Renders the frame (see the [module docs](self)).
pub fn run(options: &Options) -> Result<Outcome, RenderError> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::VULKAN;
    desc.flags = wgpu::InstanceFlags::empty().with_env();
    let instance = wgpu::Instance::new(desc);
    let adapters = pollster::block_on(instance.enumerate_adapters(wgpu::Backends::VULKAN));
    let rank = |t: wgpu::DeviceType| match t {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    };
    let adapter = adapters
        .into_iter()
        .min_by_key(|a| rank(a.get_info().device_type))
        .ok_or_else(|| RenderError::NoGpu("wgpu's Vulkan backend lists no adapter".into()))?;
    let info = adapter.get_info();
    let bc_supported = adapter.features().contains(wgpu::Features::TEXTURE_COMPRESSION_BC);
    let bc = bc_supported && !options.force_uncompressed;
    if !bc_supported {
        println!("notice: {} cannot sample BC textures; streaming them as uncompressed RGBA8", info.name);
    } else if !bc {
        println!("notice: BC formats supported but not used (uncompressed RGBA8 textures asked for)");
    }
    let device_desc = wgpu::DeviceDescriptor {
        label: Some("renderer"),
        required_features: if bc_supported {
            wgpu::Features::TEXTURE_COMPRESSION_BC
        } else {
            wgpu::Features::empty()
        },
        // The adapter's limits: the decode kernel may need more than WebGPU's defaults.
        required_limits: adapter.limits(),
        ..Default::default()
    };
    let (device, queue) =
        pollster::block_on(adapter.request_device(&device_desc)).map_err(gpu("requesting the device"))?;
    println!("adapter: {} ({:?}), device created by the renderer", info.name, info.device_type);

    // Hand the device to ds-runtime's wgpu backend.
    let ctx = WgpuContext::adopt(device.clone(), queue.clone(), &KernelOptions::default())
        .map_err(gpu("adopting the device"))?;
    println!(
        "ds-runtime: wgpu backend on the renderer's device and queue (decode kernel {}, {:?})",
        ctx.decode_kernel().name,
        ctx.kernel_source()
    );

    // The pack; each entry's stored bytes go to ds-runtime's GPU decode.
    let dir = tempfile::tempdir().map_err(|e| RenderError::Data(format!("temporary directory: {e}")))?;
    let (pack_path, pack, packed) = common::build_pack(dir.path(), bc).map_err(RenderError::Data)?;
    println!("pack: {} ({} entries, GDeflate)", pack_path.display(), packed.len());
    let mut staged = Vec::new();
    for p in &packed {
        let stored = pack
            .read_stored(&p.entry)
            .map_err(|e| RenderError::Data(format!("{}: reading the pack: {e}", p.texture.name)))?;
        staged.push(match p.entry.compression {
            EntryCompression::GDeflate => {
                let ts = dsr_gdeflate::TileStream::parse(&stored)
                    .map_err(|e| RenderError::Data(format!("{}: {e}", p.texture.name)))?;
                if ts.uncompressed_size() != p.entry.uncompressed_size {
                    return Err(RenderError::Data(format!(
                        "{}: stream and pack sizes disagree",
                        p.texture.name
                    )));
                }
                let pages = ds_runtime::gpu_decode::stream_pages(&ts);
                let job = ctx
                    .prepare_decode_uninit(&pages, p.entry.uncompressed_size as usize)
                    .map_err(gpu("preparing a decode"))?;
                ctx.submit_decode(&job).map_err(gpu("submitting a decode"))?;
                Staged::Decoded { job, stream: stored }
            }
            EntryCompression::None => Staged::Raw(
                ctx.upload_bytes(&stored, wgpu::BufferUsages::COPY_SRC, p.texture.name)
                    .map_err(gpu("uploading a raw entry"))?,
            ),
        });
    }
    let textures: Vec<(String, u64, u64)> = packed
        .iter()
        .map(|p| (p.texture.name.to_string(), p.entry.stored_size, p.entry.uncompressed_size))
        .collect();
    for (name, stored, size) in &textures {
        println!(
            "decoded: {name} ({stored} bytes in the pack -> {size} bytes {})",
            if bc { "of BC blocks" } else { "of RGBA8 texels" }
        );
    }

    let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
    let rendered = render(&device, &queue, &packed, &staged, bc);
    if let Some(e) = pollster::block_on(scope.pop()) {
        return Err(RenderError::Gpu(format!("rendering: {e}")));
    }
    let readback = rendered?;
    let bytes = u64::from(common::FRAME) * u64::from(common::FRAME) * 4;
    let rgba = ctx.download_bytes(&readback, 0, bytes).map_err(gpu("reading the frame back"))?;

    // Each page's decode status (the frame used the decoded bytes; a failed page is an error).
    for (p, s) in packed.iter().zip(&staged) {
        if let Staged::Decoded { job, stream } = s {
            let (_, statuses) = ctx.decode_results(job).map_err(gpu("reading decode statuses"))?;
            for (tile, status) in statuses.iter().enumerate() {
                if let Some(kind) = ds_runtime::wgpu::status_error(status).map_err(gpu("decode status"))? {
                    return Err(RenderError::Data(format!(
                        "{}: tile {tile} of a {}-byte stream: {kind:?}",
                        p.texture.name,
                        stream.len()
                    )));
                }
            }
        }
    }

    common::write_png(&options.out, &rgba).map_err(RenderError::Io)?;
    let sources: Vec<_> = packed.iter().map(|p| p.texture.clone()).collect();
    let expected = common::expected_frame(&sources, &common::quads());
    let max_diff = match common::compare(&expected, &rgba) {
        Ok(d) => d,
        Err(m) => {
            let path = options.out.with_extension("expected.png");
            if common::write_png(&path, &expected.rgba).is_ok() {
                eprintln!("expected frame written to {}", path.display());
            }
            return Err(RenderError::Mismatch(m));
        }
    };
    Ok(Outcome { adapter: info.name, bc, textures, max_diff, png: options.out.clone() })
}

/// Copies the decoded texels into textures, renders the quads and copies the frame into a
/// buffer (returned; `COPY_SRC`, rows of `FRAME * 4` bytes).
fn render(
    device: &wgpu::Device,
    queue: &wgpu::Queue,
    packed: &[common::PackedTexture],
    staged: &[Staged],
    bc: bool,
) -> Result<wgpu::Buffer, RenderError> {
    let mut encoder = device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: Some("frame") });
    let mut views = Vec::new();
    for (p, s) in packed.iter().zip(staged) {
        let t = &p.texture;
        let (format, block_rows, row_bytes) = match (bc, t.format) {
            (true, common::BcFormat::Bc1) => {
                (wgpu::TextureFormat::Bc1RgbaUnorm, t.height / 4, t.width / 4 * 8)
            }
            (true, common::BcFormat::Bc3) => {
                (wgpu::TextureFormat::Bc3RgbaUnorm, t.height / 4, t.width / 4 * 16)
            }
            (false, _) => (wgpu::TextureFormat::Rgba8Unorm, t.height, t.width * 4),
        };
        let texture = device.create_texture(&wgpu::TextureDescriptor {
            label: Some(t.name),
            size: wgpu::Extent3d { width: t.width, height: t.height, depth_or_array_layers: 1 },
            mip_level_count: 1,
            sample_count: 1,
            dimension: wgpu::TextureDimension::D2,
            format,
            usage: wgpu::TextureUsages::TEXTURE_BINDING | wgpu::TextureUsages::COPY_DST,
            view_formats: &[],
        });
        // One copy per row (of blocks): a single row needs no `bytes_per_row`, which wgpu
        // requires to be a multiple of 256 for multi-row copies.
        let bh = if bc { 4 } else { 1 };
        for row in 0..block_rows {
            encoder.copy_buffer_to_texture(
                wgpu::TexelCopyBufferInfo {
                    buffer: s.buffer(),
                    layout: wgpu::TexelCopyBufferLayout {
                        offset: u64::from(row) * u64::from(row_bytes),
                        bytes_per_row: None,
                        rows_per_image: None,
                    },
                },
                wgpu::TexelCopyTextureInfo {
                    texture: &texture,
                    mip_level: 0,
                    origin: wgpu::Origin3d { x: 0, y: row * bh, z: 0 },
                    aspect: wgpu::TextureAspect::All,
                },
                wgpu::Extent3d { width: t.width, height: bh, depth_or_array_layers: 1 },
            );
        }
        views.push(texture.create_view(&wgpu::TextureViewDescriptor::default()));
    }

    let shader = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("quads"),
        source: wgpu::ShaderSource::Wgsl(Cow::Borrowed(common::SHADER)),
    });
    let target_format = wgpu::TextureFormat::Rgba8Unorm;
    let attributes = wgpu::vertex_attr_array![0 => Float32x2, 1 => Float32x2];
    let pipeline = device.create_render_pipeline(&wgpu::RenderPipelineDescriptor {
        label: Some("quads"),
        layout: None,
        vertex: wgpu::VertexState {
            module: &shader,
            entry_point: Some("vs_main"),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            buffers: &[Some(wgpu::VertexBufferLayout {
                array_stride: 16,
                step_mode: wgpu::VertexStepMode::Vertex,
                attributes: &attributes,
            })],
        },
        primitive: wgpu::PrimitiveState::default(),
        depth_stencil: None,
        multisample: wgpu::MultisampleState::default(),
        fragment: Some(wgpu::FragmentState {
            module: &shader,
            entry_point: Some("fs_main"),
            compilation_options: wgpu::PipelineCompilationOptions::default(),
            // Colour: src * a + dst * (1 - a); alpha: keep the target's (the clear's 1.0).
            targets: &[Some(wgpu::ColorTargetState {
                format: target_format,
                blend: Some(wgpu::BlendState {
                    color: wgpu::BlendComponent {
                        src_factor: wgpu::BlendFactor::SrcAlpha,
                        dst_factor: wgpu::BlendFactor::OneMinusSrcAlpha,
                        operation: wgpu::BlendOperation::Add,
                    },
                    alpha: wgpu::BlendComponent {
                        src_factor: wgpu::BlendFactor::Zero,
                        dst_factor: wgpu::BlendFactor::One,
                        operation: wgpu::BlendOperation::Add,
                    },
                }),
                write_mask: wgpu::ColorWrites::ALL,
            })],
        }),
        multiview_mask: None,
        cache: None,
    });
    let sampler = device.create_sampler(&wgpu::SamplerDescriptor {
        label: Some("nearest"),
        mag_filter: wgpu::FilterMode::Nearest,
        min_filter: wgpu::FilterMode::Nearest,
        ..Default::default()
    });
    let layout = pipeline.get_bind_group_layout(0);
    let groups: Vec<wgpu::BindGroup> = views
        .iter()
        .map(|view| {
            device.create_bind_group(&wgpu::BindGroupDescriptor {
                label: None,
                layout: &layout,
                entries: &[
                    wgpu::BindGroupEntry { binding: 0, resource: wgpu::BindingResource::TextureView(view) },
                    wgpu::BindGroupEntry { binding: 1, resource: wgpu::BindingResource::Sampler(&sampler) },
                ],
            })
        })
        .collect();

    let quads = common::quads();
    let vertices = common::vertices(&quads);
    let vbytes: &[u8] = bytemuck::cast_slice(&vertices);
    let vbuf = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("quads"),
        size: vbytes.len() as u64,
        usage: wgpu::BufferUsages::VERTEX | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    queue.write_buffer(&vbuf, 0, vbytes);

    let n = common::FRAME;
    let target = device.create_texture(&wgpu::TextureDescriptor {
        label: Some("frame"),
        size: wgpu::Extent3d { width: n, height: n, depth_or_array_layers: 1 },
        mip_level_count: 1,
        sample_count: 1,
        dimension: wgpu::TextureDimension::D2,
        format: target_format,
        usage: wgpu::TextureUsages::RENDER_ATTACHMENT | wgpu::TextureUsages::COPY_SRC,
        view_formats: &[],
    });
    let target_view = target.create_view(&wgpu::TextureViewDescriptor::default());
    {
        let c = common::CLEAR.map(|v| f64::from(v) / 255.0);
        let mut pass = encoder.begin_render_pass(&wgpu::RenderPassDescriptor {
            label: Some("quads"),
            color_attachments: &[Some(wgpu::RenderPassColorAttachment {
                view: &target_view,
                depth_slice: None,
                resolve_target: None,
                ops: wgpu::Operations {
                    load: wgpu::LoadOp::Clear(wgpu::Color { r: c[0], g: c[1], b: c[2], a: c[3] }),
                    store: wgpu::StoreOp::Store,
                },
            })],
            depth_stencil_attachment: None,
            timestamp_writes: None,
            occlusion_query_set: None,
            multiview_mask: None,
        });
        pass.set_pipeline(&pipeline);
        pass.set_vertex_buffer(0, vbuf.slice(..));
        for (i, q) in quads.iter().enumerate() {
            pass.set_bind_group(0, &groups[q.texture], &[]);
            let first = 6 * i as u32;
            pass.draw(first..first + 6, 0..1);
        }
    }
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("frame readback"),
        size: u64::from(n) * u64::from(n) * 4,
        usage: wgpu::BufferUsages::COPY_DST | wgpu::BufferUsages::COPY_SRC,
        mapped_at_creation: false,
    });
    encoder.copy_texture_to_buffer(
        wgpu::TexelCopyTextureInfo {
            texture: &target,
            mip_level: 0,
            origin: wgpu::Origin3d::ZERO,
            aspect: wgpu::TextureAspect::All,
        },
        wgpu::TexelCopyBufferInfo {
            buffer: &readback,
            layout: wgpu::TexelCopyBufferLayout {
                offset: 0,
                bytes_per_row: Some(n * 4),
                rows_per_image: Some(n),
            },
        },
        wgpu::Extent3d { width: n, height: n, depth_or_array_layers: 1 },
    );
    // After ds-runtime's decode submissions on the same queue: wgpu runs them in order.
    queue.submit([encoder.finish()]);
    println!("frame: {} quads, submitted after ds-runtime's decodes on the shared queue", quads.len());
    Ok(readback)
}

/// Prints what [`run`] did.
pub fn print(outcome: &Outcome) {
    let stored: u64 = outcome.textures.iter().map(|t| t.1).sum();
    let decoded: u64 = outcome.textures.iter().map(|t| t.2).sum();
    println!("summary:");
    println!("  adapter:  {} (the renderer's own wgpu device, adopted by ds-runtime)", outcome.adapter);
    println!(
        "  textures: {} decoded from the pack as {} ({stored} bytes read, {decoded} bytes decoded on the GPU)",
        outcome.textures.len(),
        if outcome.bc { "BC1/BC3 blocks" } else { "RGBA8 texels" }
    );
    println!(
        "  checked:  {0}x{0} pixels match the frame computed on the CPU from the textures (exactly; blended pixels within 1: largest difference {1})",
        common::FRAME,
        outcome.max_diff
    );
    println!("  png:      {}", outcome.png.display());
}
