//! The ash renderer: an application's own Vulkan instance and device, shared with ds-runtime.
//!
//! What it does ([`run`]):
//!
//! 1. Creates its own instance (Vulkan 1.2) and device: timeline semaphores on,
//!    `textureCompressionBC` where supported, one graphics queue, and for ds-runtime a queue
//!    of a compute-only family where the device has one (NVIDIA does), else the graphics
//!    queue itself (lavapipe has one family), shared under one lock.
//! 2. Hands the device to ds-runtime ([`VulkanContext::adopt`] with the queue's lock) and
//!    starts a streaming [`Runtime`] on it.
//! 3. Writes the scene's textures into a GDeflate pack in a temporary directory, and streams
//!    each entry from the pack file into a [`GpuImage`] of the runtime's context
//!    ([`Destination::Image`]; ds-runtime reads, decodes on the GPU, copies into the image).
//! 4. Records the frame (textured quads into an offscreen RGBA8 target, copied into a host
//!    buffer) and submits it to the graphics queue **waiting on the GPU** for ds-runtime's
//!    timeline semaphore to reach the requests' value ([`Ticket::timeline_value`]): no CPU
//!    wait between streaming and rendering. With separate queue families the images change
//!    family ownership (a release on ds-runtime's queue, an acquire in the frame).
//! 5. Checks every request's outcome, writes the PNG, and compares it with the frame
//!    computed on the CPU from the texture data ([`common::expected_frame`]).
//!
//! Ownership and destruction order: the application owns the instance, device and queues
//! (they are destroyed last, by [`Gpu`]'s drop); ds-runtime owns what it creates on the
//! device (its allocator, timeline semaphore, pipelines, the streamed images), destroyed when
//! the queue, the runtime, the images and the context are dropped; the renderer's own objects
//! (image views of ds-runtime's images, pipeline, target, buffers) go first ([`Frame`]'s drop,
//! after waiting for the frame's fence). Locals are declared in that order, so every exit,
//! error paths included, destroys in reverse.

use crate::common::{self, Mismatch};
use ds_runtime::Backend;
use ds_runtime::stream::{Destination, QueueDesc, Request, Runtime, RuntimeConfig, Ticket};
use ds_runtime::vulkan::ash::{self, vk};
use ds_runtime::vulkan::{AdoptDesc, DeviceFeatures, GpuImage, ImageDesc, ImageRegion, VulkanContext};
use std::borrow::Cow;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

/// What [`run`] is asked to do.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where the PNG goes.
    pub out: PathBuf,
    /// Store and sample RGBA8 textures even where BC formats are supported (the fallback path).
    pub force_uncompressed: bool,
}

/// What [`run`] did.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// The physical device's name.
    pub device: String,
    /// Whether ds-runtime submitted to the renderer's graphics queue (one family) rather than
    /// to its own compute-only queue.
    pub shared_queue: bool,
    /// Whether the textures were streamed as BC blocks (else RGBA8).
    pub bc: bool,
    /// `(entry name, bytes in the pack, bytes decoded into the image)` per texture.
    pub textures: Vec<(String, u64, u64)>,
    /// The timeline value of ds-runtime's semaphore the frame waited for on the GPU.
    pub timeline_value: u64,
    /// Largest channel difference from the expected frame.
    pub max_diff: u8,
    /// The PNG written.
    pub png: PathBuf,
}

/// Why [`run`] failed.
#[derive(Debug)]
pub enum RenderError {
    /// No Vulkan loader, driver or suitable device: this machine cannot render.
    NoGpu(String),
    /// A Vulkan call of the renderer failed.
    Vk {
        /// The call.
        call: &'static str,
        /// Its result.
        result: vk::Result,
    },
    /// Setting up ds-runtime, the pack or the shader failed (says what).
    Setup(String),
    /// A streaming request failed (names it).
    Stream(String),
    /// Writing the PNG failed.
    Io(std::io::Error),
    /// The rendered frame differs from the expected one.
    Mismatch(Mismatch),
}

impl std::fmt::Display for RenderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::NoGpu(why) => write!(f, "no usable Vulkan device: {why}"),
            Self::Vk { call, result } => write!(f, "{call} failed: {result}"),
            Self::Setup(m) => write!(f, "setup: {m}"),
            Self::Stream(m) => write!(f, "streaming: {m}"),
            Self::Io(e) => write!(f, "writing the PNG: {e}"),
            Self::Mismatch(m) => write!(f, "the frame is wrong: {m}"),
        }
    }
}

impl std::error::Error for RenderError {}

fn vk_err(call: &'static str) -> impl Fn(vk::Result) -> RenderError {
    move |result| RenderError::Vk { call, result }
}

fn setup(what: &'static str) -> impl Fn(ds_runtime::vulkan::VulkanError) -> RenderError {
    move |e| RenderError::Setup(format!("{what}: {e}"))
}

/// The application's instance and device; destroyed (device, then instance) when dropped,
/// which must be after everything made on them.
struct Gpu {
    entry: ash::Entry,
    instance: ash::Instance,
    device: Option<ash::Device>,
}

impl Drop for Gpu {
    fn drop(&mut self) {
        if let Some(device) = self.device.take() {
            // SAFETY: every object made on the device was destroyed before (declaration order
            // in `run`: ds-runtime's context, images and the renderer's `Frame` drop first)
            // and no submission is pending (the frame's fence and ds-runtime's drops waited).
            unsafe { device.destroy_device(None) };
        }
        // SAFETY: its only device was destroyed just above.
        unsafe { self.instance.destroy_instance(None) };
    }
}

/// The renderer's own Vulkan objects; destroyed on drop (null handles are skipped by Vulkan)
/// after waiting for the submitted frame.
struct Frame {
    device: ash::Device,
    fence: vk::Fence,
    submitted: bool,
    release_done: vk::Semaphore,
    /// The ownership release was submitted (it signals `release_done` with 1).
    release_submitted: bool,
    pools: Vec<vk::CommandPool>,
    memory: Vec<vk::DeviceMemory>,
    buffers: Vec<vk::Buffer>,
    images: Vec<vk::Image>,
    views: Vec<vk::ImageView>,
    sampler: vk::Sampler,
    descriptor_pool: vk::DescriptorPool,
    set_layout: vk::DescriptorSetLayout,
    pipeline_layout: vk::PipelineLayout,
    render_pass: vk::RenderPass,
    framebuffer: vk::Framebuffer,
    shader: vk::ShaderModule,
    pipeline: vk::Pipeline,
}

impl Drop for Frame {
    fn drop(&mut self) {
        let d = &self.device;
        if self.submitted {
            // SAFETY: the fence belongs to `d` and was submitted with the frame; a failure
            // (device lost) leaves nothing running either.
            let _ = unsafe { d.wait_for_fences(&[self.fence], true, u64::MAX) };
        } else if self.release_submitted {
            // The frame failed to submit after the release: wait for the release alone.
            let semaphores = [self.release_done];
            let values = [1u64];
            let info = vk::SemaphoreWaitInfo::default().semaphores(&semaphores).values(&values);
            // SAFETY: a timeline semaphore of `d` that the submitted release signals with 1.
            let _ = unsafe { d.wait_semaphores(&info, u64::MAX) };
        }
        // Each object below belongs to `d` (or is null), and no pending GPU work uses it: the
        // frame's submission completed (waited above) and the release submission completed
        // before it (the frame waited on `release_done`).
        // SAFETY: see above.
        unsafe { d.destroy_pipeline(self.pipeline, None) };
        // SAFETY: see above.
        unsafe { d.destroy_shader_module(self.shader, None) };
        // SAFETY: see above.
        unsafe { d.destroy_framebuffer(self.framebuffer, None) };
        // SAFETY: see above.
        unsafe { d.destroy_render_pass(self.render_pass, None) };
        // SAFETY: see above.
        unsafe { d.destroy_pipeline_layout(self.pipeline_layout, None) };
        // SAFETY: see above; destroying the pool frees its sets.
        unsafe { d.destroy_descriptor_pool(self.descriptor_pool, None) };
        // SAFETY: see above.
        unsafe { d.destroy_descriptor_set_layout(self.set_layout, None) };
        // SAFETY: see above.
        unsafe { d.destroy_sampler(self.sampler, None) };
        for &v in &self.views {
            // SAFETY: see above; the views are destroyed before ds-runtime's images they view.
            unsafe { d.destroy_image_view(v, None) };
        }
        for &i in &self.images {
            // SAFETY: see above.
            unsafe { d.destroy_image(i, None) };
        }
        for &b in &self.buffers {
            // SAFETY: see above.
            unsafe { d.destroy_buffer(b, None) };
        }
        for &m in &self.memory {
            // SAFETY: see above; the images and buffers bound to it are destroyed.
            unsafe { d.free_memory(m, None) };
        }
        for &p in &self.pools {
            // SAFETY: see above; destroying the pool frees its command buffers.
            unsafe { d.destroy_command_pool(p, None) };
        }
        // SAFETY: see above.
        unsafe { d.destroy_semaphore(self.release_done, None) };
        // SAFETY: see above.
        unsafe { d.destroy_fence(self.fence, None) };
    }
}

/// The device the renderer picks, and what it found out about it.
struct Picked {
    pd: vk::PhysicalDevice,
    name: String,
    graphics_family: u32,
    compute_family: Option<u32>,
    bc_feature: bool,
}

/// The first usable physical device of the best type (discrete > integrated > virtual >
/// CPU): Vulkan 1.2, timeline semaphores, a graphics queue.
fn pick(instance: &ash::Instance) -> Result<Picked, RenderError> {
    // SAFETY: `instance` is valid.
    let pds =
        unsafe { instance.enumerate_physical_devices() }.map_err(vk_err("vkEnumeratePhysicalDevices"))?;
    let rank = |t: vk::PhysicalDeviceType| match t {
        vk::PhysicalDeviceType::DISCRETE_GPU => 0,
        vk::PhysicalDeviceType::INTEGRATED_GPU => 1,
        vk::PhysicalDeviceType::VIRTUAL_GPU => 2,
        vk::PhysicalDeviceType::CPU => 3,
        _ => 4,
    };
    let mut best: Option<(u32, Picked)> = None;
    let mut rejected = Vec::new();
    for pd in pds {
        // SAFETY: `pd` was enumerated from `instance`.
        let props = unsafe { instance.get_physical_device_properties(pd) };
        let name =
            props.device_name_as_c_str().map_or_else(|_| "?".into(), |n| n.to_string_lossy().into_owned());
        let mut v12 = vk::PhysicalDeviceVulkan12Features::default();
        let mut features = vk::PhysicalDeviceFeatures2::default().push_next(&mut v12);
        if props.api_version < vk::API_VERSION_1_2 {
            rejected.push(format!(
                "{name}: Vulkan {}.{}",
                vk::api_version_major(props.api_version),
                vk::api_version_minor(props.api_version)
            ));
            continue;
        }
        // SAFETY: `pd` belongs to `instance` (1.2 device: the 1.2 feature struct is valid).
        unsafe { instance.get_physical_device_features2(pd, &mut features) };
        let bc_feature = features.features.texture_compression_bc == vk::TRUE;
        let timeline = v12.timeline_semaphore == vk::TRUE;
        // SAFETY: `pd` belongs to `instance`.
        let families = unsafe { instance.get_physical_device_queue_family_properties(pd) };
        let graphics = families.iter().position(|f| f.queue_flags.contains(vk::QueueFlags::GRAPHICS));
        let compute = families.iter().position(|f| {
            f.queue_flags.contains(vk::QueueFlags::COMPUTE)
                && !f.queue_flags.contains(vk::QueueFlags::GRAPHICS)
        });
        let (Some(graphics), true) = (graphics, timeline) else {
            rejected.push(format!("{name}: no graphics queue or no timeline semaphores"));
            continue;
        };
        let r = rank(props.device_type);
        if best.as_ref().is_none_or(|(b, _)| r < *b) {
            let picked = Picked {
                pd,
                name,
                graphics_family: graphics as u32,
                compute_family: compute.map(|c| c as u32),
                bc_feature,
            };
            best = Some((r, picked));
        }
    }
    best.map(|(_, p)| p).ok_or_else(|| {
        RenderError::NoGpu(if rejected.is_empty() {
            "the Vulkan loader lists no devices".into()
        } else {
            format!("no device qualifies ({})", rejected.join("; "))
        })
    })
}

/// Whether the device samples and copies `format` with optimal tiling.
fn format_ok(instance: &ash::Instance, pd: vk::PhysicalDevice, format: vk::Format) -> bool {
    // SAFETY: `pd` belongs to `instance`.
    let props = unsafe { instance.get_physical_device_format_properties(pd, format) };
    props.optimal_tiling_features.contains(
        vk::FormatFeatureFlags::SAMPLED_IMAGE
            | vk::FormatFeatureFlags::TRANSFER_SRC
            | vk::FormatFeatureFlags::TRANSFER_DST,
    )
}

/// The shared shader as SPIR-V (naga, with its default Vulkan coordinate-space adjustment so
/// the WGSL's y-up clip space renders as under wgpu).
fn spirv() -> Result<Vec<u32>, RenderError> {
    let module = naga::front::wgsl::parse_str(common::SHADER)
        .map_err(|e| RenderError::Setup(format!("shader: {}", e.emit_to_string(common::SHADER))))?;
    let info =
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
            .validate(&module)
            .map_err(|e| RenderError::Setup(format!("shader validation: {e:?}")))?;
    naga::back::spv::write_vec(&module, &info, &naga::back::spv::Options::default(), None)
        .map_err(|e| RenderError::Setup(format!("shader SPIR-V: {e}")))
}

/// Locks a queue lock (poisoning ignored: it guards no data).
fn lock(m: &Mutex<()>) -> std::sync::MutexGuard<'_, ()> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Memory of a type in `bits` with `flags`, for `req`, recorded in `frame` for freeing.
fn allocate(
    frame: &mut Frame,
    props: &vk::PhysicalDeviceMemoryProperties,
    req: vk::MemoryRequirements,
    flags: vk::MemoryPropertyFlags,
) -> Result<vk::DeviceMemory, RenderError> {
    let index = (0..props.memory_type_count)
        .find(|&i| {
            req.memory_type_bits >> i & 1 == 1
                && props.memory_types[i as usize].property_flags.contains(flags)
        })
        .ok_or_else(|| RenderError::Setup(format!("no memory type with {flags:?}")))?;
    let info = vk::MemoryAllocateInfo::default().allocation_size(req.size).memory_type_index(index);
    // SAFETY: valid device and allocation info; freed by `Frame`'s drop.
    let memory = unsafe { frame.device.allocate_memory(&info, None) }.map_err(vk_err("vkAllocateMemory"))?;
    frame.memory.push(memory);
    Ok(memory)
}

/// A buffer of `size` bytes with `usage` in host-visible, coherent memory.
fn host_buffer(
    frame: &mut Frame,
    props: &vk::PhysicalDeviceMemoryProperties,
    size: u64,
    usage: vk::BufferUsageFlags,
) -> Result<(vk::Buffer, vk::DeviceMemory), RenderError> {
    let info =
        vk::BufferCreateInfo::default().size(size).usage(usage).sharing_mode(vk::SharingMode::EXCLUSIVE);
    // SAFETY: valid device and create info; destroyed by `Frame`'s drop.
    let buffer = unsafe { frame.device.create_buffer(&info, None) }.map_err(vk_err("vkCreateBuffer"))?;
    frame.buffers.push(buffer);
    // SAFETY: `buffer` belongs to the device.
    let req = unsafe { frame.device.get_buffer_memory_requirements(buffer) };
    let flags = vk::MemoryPropertyFlags::HOST_VISIBLE | vk::MemoryPropertyFlags::HOST_COHERENT;
    let memory = allocate(frame, props, req, flags)?;
    // SAFETY: fresh memory of a type the buffer allows, at offset 0, of its required size.
    unsafe { frame.device.bind_buffer_memory(buffer, memory, 0) }.map_err(vk_err("vkBindBufferMemory"))?;
    Ok((buffer, memory))
}

/// Waits until ds-runtime has submitted all GPU work of `ticket` and returns its timeline
/// value (a wait for the submission, not for the GPU), or the request's error.
fn submitted_value(ticket: &Ticket, name: &str) -> Result<u64, RenderError> {
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        if let Some(v) = ticket.timeline_value() {
            return Ok(v);
        }
        if let Some(Err(e)) = ticket.poll() {
            return Err(RenderError::Stream(format!("{name}: {e}")));
        }
        if Instant::now() > deadline {
            return Err(RenderError::Stream(format!("{name}: not submitted to the GPU after 120 s")));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Renders the frame (see the [module docs](self)).
pub fn run(options: &Options) -> Result<Outcome, RenderError> {
    // SAFETY: loads the system's Vulkan loader (libvulkan.so.1); its initialisers are trusted
    // like any system library's.
    let entry =
        unsafe { ash::Entry::load() }.map_err(|e| RenderError::NoGpu(format!("no Vulkan loader ({e})")))?;
    let app = vk::ApplicationInfo::default()
        .application_name(c"ds-runtime renderer example")
        .api_version(vk::API_VERSION_1_2);
    let create = vk::InstanceCreateInfo::default().application_info(&app);
    // SAFETY: valid create info; the instance is destroyed by `Gpu`'s drop.
    let instance = match unsafe { entry.create_instance(&create, None) } {
        Ok(i) => i,
        Err(vk::Result::ERROR_INCOMPATIBLE_DRIVER) => {
            return Err(RenderError::NoGpu("no Vulkan 1.2 driver (VK_ERROR_INCOMPATIBLE_DRIVER)".into()));
        }
        Err(result) => return Err(RenderError::Vk { call: "vkCreateInstance", result }),
    };
    let mut gpu = Gpu { entry, instance, device: None };
    let picked = pick(&gpu.instance)?;

    let bc_formats = [vk::Format::BC1_RGBA_UNORM_BLOCK, vk::Format::BC3_UNORM_BLOCK];
    let bc_supported =
        picked.bc_feature && bc_formats.iter().all(|&f| format_ok(&gpu.instance, picked.pd, f));
    let bc = bc_supported && !options.force_uncompressed;
    if !bc_supported {
        println!(
            "notice: {} cannot sample BC1/BC3 textures; streaming them as uncompressed RGBA8",
            picked.name
        );
    } else if !bc {
        println!("notice: BC formats supported but not used (uncompressed RGBA8 textures asked for)");
    }

    // The device: a graphics queue, and a compute-only queue for ds-runtime where one exists.
    let priorities = [1.0f32];
    let mut queue_infos = vec![
        vk::DeviceQueueCreateInfo::default()
            .queue_family_index(picked.graphics_family)
            .queue_priorities(&priorities),
    ];
    if let Some(c) = picked.compute_family {
        queue_infos
            .push(vk::DeviceQueueCreateInfo::default().queue_family_index(c).queue_priorities(&priorities));
    }
    let core = vk::PhysicalDeviceFeatures::default().texture_compression_bc(bc_supported);
    let mut v12 = vk::PhysicalDeviceVulkan12Features::default().timeline_semaphore(true);
    let device_info = vk::DeviceCreateInfo::default()
        .queue_create_infos(&queue_infos)
        .enabled_features(&core)
        .push_next(&mut v12);
    // SAFETY: `picked.pd` belongs to the instance; the enabled features are supported
    // (checked by `pick`); the device is destroyed by `Gpu`'s drop, after everything on it.
    let device = unsafe { gpu.instance.create_device(picked.pd, &device_info, None) }
        .map_err(vk_err("vkCreateDevice"))?;
    gpu.device = Some(device.clone());
    // SAFETY: the device was created with one queue of the graphics family.
    let graphics_queue = unsafe { device.get_device_queue(picked.graphics_family, 0) };
    let graphics_lock = Arc::new(Mutex::new(()));
    let (ds_family, ds_lock) = match picked.compute_family {
        Some(c) => (c, Arc::new(Mutex::new(()))),
        None => (picked.graphics_family, Arc::clone(&graphics_lock)),
    };
    let shared_queue = picked.compute_family.is_none();
    println!("device: {} (created by the renderer: Vulkan 1.2, timeline semaphores)", picked.name);
    if shared_queue {
        println!(
            "queues: one queue family ({}): ds-runtime submits to the renderer's graphics queue, both under one lock",
            picked.graphics_family
        );
    } else {
        println!(
            "queues: graphics family {}, ds-runtime on compute-only family {ds_family} (its own queue and lock)",
            picked.graphics_family
        );
    }

    // Hand the device to ds-runtime.
    let desc = AdoptDesc {
        instance: gpu.instance.handle(),
        physical_device: picked.pd,
        device: device.handle(),
        queue_family_index: ds_family,
        queue_index: 0,
        enabled_features: DeviceFeatures { timeline_semaphore: true, ..DeviceFeatures::default() },
        get_instance_proc_addr: Some(gpu.entry.static_fn().get_instance_proc_addr),
    };
    // SAFETY: the handles are this function's live instance, its physical device and the
    // device created from it with timeline semaphores and a queue at (ds_family, 0); the
    // instance was created with API 1.2 through `gpu.entry`'s loader; `gpu` (declared before
    // the context) outlives it and its images; the renderer submits to a shared queue only
    // under `ds_lock` (the same `Arc` as `graphics_lock`) and never to ds-runtime's own
    // compute queue without `ctx.queue_lock()`.
    let ctx =
        Arc::new(unsafe { VulkanContext::adopt(&desc, ds_lock) }.map_err(setup("adopting the device"))?);
    let config = RuntimeConfig {
        backend: Backend::Vulkan,
        staging_bytes: 8 << 20,
        chunk_bytes: 1 << 20,
        ..RuntimeConfig::default()
    };
    let rt = Runtime::with_vulkan(Arc::clone(&ctx), config)
        .map_err(|e| RenderError::Setup(format!("starting the streaming runtime: {e}")))?;

    // The pack, and the streaming into ds-runtime's images.
    let dir = tempfile::tempdir().map_err(|e| RenderError::Setup(format!("temporary directory: {e}")))?;
    let (pack_path, pack, packed) = common::build_pack(dir.path(), bc).map_err(RenderError::Setup)?;
    println!("pack: {} ({} entries, GDeflate)", pack_path.display(), packed.len());
    let images = packed
        .iter()
        .map(|p| {
            let t = &p.texture;
            let format = match (bc, t.format) {
                (true, common::BcFormat::Bc1) => vk::Format::BC1_RGBA_UNORM_BLOCK,
                (true, common::BcFormat::Bc3) => vk::Format::BC3_UNORM_BLOCK,
                (false, _) => vk::Format::R8G8B8A8_UNORM,
            };
            let desc = ImageDesc {
                format,
                extent: vk::Extent3D { width: t.width, height: t.height, depth: 1 },
                mip_levels: 1,
                array_layers: 1,
            };
            ctx.create_image(&desc, t.name).map(Arc::new).map_err(setup("creating a texture image"))
        })
        .collect::<Result<Vec<Arc<GpuImage>>, _>>()?;
    let queue = rt.create_queue(QueueDesc::default());
    let mut tickets = Vec::new();
    for (i, (p, image)) in packed.iter().zip(&images).enumerate() {
        let region = whole(&p.texture);
        let request = Request {
            source: p.entry.source(pack.file()),
            destination: Destination::Image { image: Arc::clone(image), region },
            compression: p.entry.request_compression(),
            tag: i as u64,
            name: Cow::Borrowed(p.texture.name),
        };
        tickets.push(
            queue.enqueue(request).map_err(|e| RenderError::Stream(format!("{}: {e}", p.texture.name)))?,
        );
    }
    queue.submit();
    let mut timeline_value = 0;
    for (t, p) in tickets.iter().zip(&packed) {
        timeline_value = timeline_value.max(submitted_value(t, p.texture.name)?);
    }
    let ds_timeline = queue
        .timeline_semaphore()
        .ok_or_else(|| RenderError::Setup("the runtime has no Vulkan timeline semaphore".into()))?;
    let textures: Vec<(String, u64, u64)> = packed
        .iter()
        .map(|p| (p.texture.name.to_string(), p.entry.stored_size, p.entry.uncompressed_size))
        .collect();
    for (name, stored, size) in &textures {
        println!(
            "streamed: {name} ({} bytes in the pack -> {size} bytes {})",
            stored,
            if bc { "of BC blocks" } else { "of RGBA8 texels" }
        );
    }

    // The renderer's own objects.
    let mut frame = Frame {
        device: device.clone(),
        fence: vk::Fence::null(),
        submitted: false,
        release_done: vk::Semaphore::null(),
        release_submitted: false,
        pools: Vec::new(),
        memory: Vec::new(),
        buffers: Vec::new(),
        images: Vec::new(),
        views: Vec::new(),
        sampler: vk::Sampler::null(),
        descriptor_pool: vk::DescriptorPool::null(),
        set_layout: vk::DescriptorSetLayout::null(),
        pipeline_layout: vk::PipelineLayout::null(),
        render_pass: vk::RenderPass::null(),
        framebuffer: vk::Framebuffer::null(),
        shader: vk::ShaderModule::null(),
        pipeline: vk::Pipeline::null(),
    };
    let rgba = render(
        &gpu,
        &picked,
        &mut frame,
        &ctx,
        &images,
        graphics_queue,
        &graphics_lock,
        ds_timeline,
        timeline_value,
    )?;

    // The requests' outcomes (decode errors are known only here), then the check.
    for (t, p) in tickets.iter().zip(&packed) {
        t.wait().map_err(|e| RenderError::Stream(format!("{}: {e}", p.texture.name)))?;
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
    Ok(Outcome {
        device: picked.name,
        shared_queue,
        bc,
        textures,
        timeline_value,
        max_diff,
        png: options.out.clone(),
    })
}

/// The whole of `t`'s mip 0.
fn whole(t: &common::Texture) -> ImageRegion {
    ImageRegion {
        mip_level: 0,
        array_layer: 0,
        layer_count: 1,
        offset: vk::Offset3D::default(),
        extent: vk::Extent3D { width: t.width, height: t.height, depth: 1 },
    }
}

fn color_range() -> vk::ImageSubresourceRange {
    vk::ImageSubresourceRange {
        aspect_mask: vk::ImageAspectFlags::COLOR,
        base_mip_level: 0,
        level_count: 1,
        base_array_layer: 0,
        layer_count: 1,
    }
}

/// Builds the pipeline and target, records and submits the frame (waiting on ds-runtime's
/// timeline on the GPU), waits for its fence and returns the frame's RGBA8 texels.
#[allow(clippy::too_many_arguments)]
fn render(
    gpu: &Gpu,
    picked: &Picked,
    frame: &mut Frame,
    ctx: &VulkanContext,
    images: &[Arc<GpuImage>],
    graphics_queue: vk::Queue,
    graphics_lock: &Mutex<()>,
    ds_timeline: vk::Semaphore,
    timeline_value: u64,
) -> Result<Vec<u8>, RenderError> {
    let device = frame.device.clone();
    let n = common::FRAME;
    // SAFETY: `picked.pd` belongs to the instance.
    let memory_props = unsafe { gpu.instance.get_physical_device_memory_properties(picked.pd) };

    // Target image (RGBA8, colour attachment, copied out), its memory and view.
    let target_info = vk::ImageCreateInfo::default()
        .image_type(vk::ImageType::TYPE_2D)
        .format(vk::Format::R8G8B8A8_UNORM)
        .extent(vk::Extent3D { width: n, height: n, depth: 1 })
        .mip_levels(1)
        .array_layers(1)
        .samples(vk::SampleCountFlags::TYPE_1)
        .tiling(vk::ImageTiling::OPTIMAL)
        .usage(vk::ImageUsageFlags::COLOR_ATTACHMENT | vk::ImageUsageFlags::TRANSFER_SRC)
        .sharing_mode(vk::SharingMode::EXCLUSIVE)
        .initial_layout(vk::ImageLayout::UNDEFINED);
    // SAFETY: valid device and create info; destroyed by `Frame`'s drop.
    let target = unsafe { device.create_image(&target_info, None) }.map_err(vk_err("vkCreateImage"))?;
    frame.images.push(target);
    // SAFETY: `target` belongs to the device.
    let req = unsafe { device.get_image_memory_requirements(target) };
    let memory = allocate(frame, &memory_props, req, vk::MemoryPropertyFlags::DEVICE_LOCAL)?;
    // SAFETY: fresh memory of an allowed type and the image's size, bound once.
    unsafe { device.bind_image_memory(target, memory, 0) }.map_err(vk_err("vkBindImageMemory"))?;
    let view_info = |image: vk::Image, format: vk::Format| {
        vk::ImageViewCreateInfo::default()
            .image(image)
            .view_type(vk::ImageViewType::TYPE_2D)
            .format(format)
            .subresource_range(color_range())
    };
    // SAFETY: `target` is a bound image of the device; the view is destroyed by `Frame`'s drop.
    let target_view =
        unsafe { device.create_image_view(&view_info(target, vk::Format::R8G8B8A8_UNORM), None) }
            .map_err(vk_err("vkCreateImageView"))?;
    frame.views.push(target_view);

    // Views of ds-runtime's images (they stay in GENERAL layout) and a nearest sampler.
    let mut texture_views = Vec::new();
    for image in images {
        // SAFETY: the image belongs to the adopted device (ds-runtime's context) and outlives
        // the view: `Frame` (declared after the images in `run`) drops first.
        let view = unsafe { device.create_image_view(&view_info(image.handle(), image.desc().format), None) }
            .map_err(vk_err("vkCreateImageView"))?;
        frame.views.push(view);
        texture_views.push(view);
    }
    let sampler_info = vk::SamplerCreateInfo::default()
        .mag_filter(vk::Filter::NEAREST)
        .min_filter(vk::Filter::NEAREST)
        .mipmap_mode(vk::SamplerMipmapMode::NEAREST)
        .address_mode_u(vk::SamplerAddressMode::CLAMP_TO_EDGE)
        .address_mode_v(vk::SamplerAddressMode::CLAMP_TO_EDGE)
        .address_mode_w(vk::SamplerAddressMode::CLAMP_TO_EDGE)
        .max_lod(0.0);
    // SAFETY: valid device and create info; destroyed by `Frame`'s drop.
    frame.sampler =
        unsafe { device.create_sampler(&sampler_info, None) }.map_err(vk_err("vkCreateSampler"))?;

    // Descriptors: set 0 = (binding 0 sampled image, binding 1 sampler), one set per texture.
    let bindings = [
        vk::DescriptorSetLayoutBinding::default()
            .binding(0)
            .descriptor_type(vk::DescriptorType::SAMPLED_IMAGE)
            .descriptor_count(1)
            .stage_flags(vk::ShaderStageFlags::FRAGMENT),
        vk::DescriptorSetLayoutBinding::default()
            .binding(1)
            .descriptor_type(vk::DescriptorType::SAMPLER)
            .descriptor_count(1)
            .stage_flags(vk::ShaderStageFlags::FRAGMENT),
    ];
    // SAFETY: valid device and create info; destroyed by `Frame`'s drop.
    frame.set_layout = unsafe {
        device.create_descriptor_set_layout(
            &vk::DescriptorSetLayoutCreateInfo::default().bindings(&bindings),
            None,
        )
    }
    .map_err(vk_err("vkCreateDescriptorSetLayout"))?;
    let count = images.len() as u32;
    let sizes = [
        vk::DescriptorPoolSize { ty: vk::DescriptorType::SAMPLED_IMAGE, descriptor_count: count },
        vk::DescriptorPoolSize { ty: vk::DescriptorType::SAMPLER, descriptor_count: count },
    ];
    // SAFETY: valid device and create info; destroyed by `Frame`'s drop.
    frame.descriptor_pool = unsafe {
        device.create_descriptor_pool(
            &vk::DescriptorPoolCreateInfo::default().max_sets(count).pool_sizes(&sizes),
            None,
        )
    }
    .map_err(vk_err("vkCreateDescriptorPool"))?;
    let layouts = vec![frame.set_layout; images.len()];
    let alloc =
        vk::DescriptorSetAllocateInfo::default().descriptor_pool(frame.descriptor_pool).set_layouts(&layouts);
    // SAFETY: the pool has room for these sets of this layout.
    let sets =
        unsafe { device.allocate_descriptor_sets(&alloc) }.map_err(vk_err("vkAllocateDescriptorSets"))?;
    for (&set, &view) in sets.iter().zip(&texture_views) {
        let image_info =
            [vk::DescriptorImageInfo::default().image_view(view).image_layout(vk::ImageLayout::GENERAL)];
        let sampler_info = [vk::DescriptorImageInfo::default().sampler(frame.sampler)];
        let writes = [
            vk::WriteDescriptorSet::default()
                .dst_set(set)
                .dst_binding(0)
                .descriptor_type(vk::DescriptorType::SAMPLED_IMAGE)
                .image_info(&image_info),
            vk::WriteDescriptorSet::default()
                .dst_set(set)
                .dst_binding(1)
                .descriptor_type(vk::DescriptorType::SAMPLER)
                .image_info(&sampler_info),
        ];
        // SAFETY: the set, view and sampler are live objects of the device; the set is not in
        // use by any command buffer yet.
        unsafe { device.update_descriptor_sets(&writes, &[]) };
    }

    // Render pass: clear, draw, end in TRANSFER_SRC_OPTIMAL for the copy out.
    let attachment = [vk::AttachmentDescription::default()
        .format(vk::Format::R8G8B8A8_UNORM)
        .samples(vk::SampleCountFlags::TYPE_1)
        .load_op(vk::AttachmentLoadOp::CLEAR)
        .store_op(vk::AttachmentStoreOp::STORE)
        .stencil_load_op(vk::AttachmentLoadOp::DONT_CARE)
        .stencil_store_op(vk::AttachmentStoreOp::DONT_CARE)
        .initial_layout(vk::ImageLayout::UNDEFINED)
        .final_layout(vk::ImageLayout::TRANSFER_SRC_OPTIMAL)];
    let color_ref =
        [vk::AttachmentReference { attachment: 0, layout: vk::ImageLayout::COLOR_ATTACHMENT_OPTIMAL }];
    let subpass = [vk::SubpassDescription::default()
        .pipeline_bind_point(vk::PipelineBindPoint::GRAPHICS)
        .color_attachments(&color_ref)];
    let dependency = [vk::SubpassDependency::default()
        .src_subpass(0)
        .dst_subpass(vk::SUBPASS_EXTERNAL)
        .src_stage_mask(vk::PipelineStageFlags::COLOR_ATTACHMENT_OUTPUT)
        .dst_stage_mask(vk::PipelineStageFlags::TRANSFER)
        .src_access_mask(vk::AccessFlags::COLOR_ATTACHMENT_WRITE)
        .dst_access_mask(vk::AccessFlags::TRANSFER_READ)];
    let rp_info = vk::RenderPassCreateInfo::default()
        .attachments(&attachment)
        .subpasses(&subpass)
        .dependencies(&dependency);
    // SAFETY: valid device and create info; destroyed by `Frame`'s drop.
    frame.render_pass =
        unsafe { device.create_render_pass(&rp_info, None) }.map_err(vk_err("vkCreateRenderPass"))?;
    let fb_views = [target_view];
    let fb_info = vk::FramebufferCreateInfo::default()
        .render_pass(frame.render_pass)
        .attachments(&fb_views)
        .width(n)
        .height(n)
        .layers(1);
    // SAFETY: valid device; the render pass and view are live and compatible.
    frame.framebuffer =
        unsafe { device.create_framebuffer(&fb_info, None) }.map_err(vk_err("vkCreateFramebuffer"))?;

    // Pipeline.
    let code = spirv()?;
    // SAFETY: `code` is SPIR-V that naga generated from validated WGSL.
    frame.shader =
        unsafe { device.create_shader_module(&vk::ShaderModuleCreateInfo::default().code(&code), None) }
            .map_err(vk_err("vkCreateShaderModule"))?;
    let set_layouts = [frame.set_layout];
    // SAFETY: valid device; the set layout is live.
    frame.pipeline_layout = unsafe {
        device
            .create_pipeline_layout(&vk::PipelineLayoutCreateInfo::default().set_layouts(&set_layouts), None)
    }
    .map_err(vk_err("vkCreatePipelineLayout"))?;
    let stages = [
        vk::PipelineShaderStageCreateInfo::default()
            .stage(vk::ShaderStageFlags::VERTEX)
            .module(frame.shader)
            .name(c"vs_main"),
        vk::PipelineShaderStageCreateInfo::default()
            .stage(vk::ShaderStageFlags::FRAGMENT)
            .module(frame.shader)
            .name(c"fs_main"),
    ];
    let vb = [vk::VertexInputBindingDescription {
        binding: 0,
        stride: 16,
        input_rate: vk::VertexInputRate::VERTEX,
    }];
    let attrs = [
        vk::VertexInputAttributeDescription {
            location: 0,
            binding: 0,
            format: vk::Format::R32G32_SFLOAT,
            offset: 0,
        },
        vk::VertexInputAttributeDescription {
            location: 1,
            binding: 0,
            format: vk::Format::R32G32_SFLOAT,
            offset: 8,
        },
    ];
    let vertex_input = vk::PipelineVertexInputStateCreateInfo::default()
        .vertex_binding_descriptions(&vb)
        .vertex_attribute_descriptions(&attrs);
    let assembly =
        vk::PipelineInputAssemblyStateCreateInfo::default().topology(vk::PrimitiveTopology::TRIANGLE_LIST);
    let viewport =
        [vk::Viewport { x: 0.0, y: 0.0, width: n as f32, height: n as f32, min_depth: 0.0, max_depth: 1.0 }];
    let scissor =
        [vk::Rect2D { offset: vk::Offset2D::default(), extent: vk::Extent2D { width: n, height: n } }];
    let viewport_state =
        vk::PipelineViewportStateCreateInfo::default().viewports(&viewport).scissors(&scissor);
    let raster = vk::PipelineRasterizationStateCreateInfo::default()
        .polygon_mode(vk::PolygonMode::FILL)
        .cull_mode(vk::CullModeFlags::NONE)
        .front_face(vk::FrontFace::COUNTER_CLOCKWISE)
        .line_width(1.0);
    let multisample =
        vk::PipelineMultisampleStateCreateInfo::default().rasterization_samples(vk::SampleCountFlags::TYPE_1);
    // Colour: src * a + dst * (1 - a); alpha: keep the target's (the clear's 1.0).
    let blend_attachment = [vk::PipelineColorBlendAttachmentState::default()
        .blend_enable(true)
        .src_color_blend_factor(vk::BlendFactor::SRC_ALPHA)
        .dst_color_blend_factor(vk::BlendFactor::ONE_MINUS_SRC_ALPHA)
        .color_blend_op(vk::BlendOp::ADD)
        .src_alpha_blend_factor(vk::BlendFactor::ZERO)
        .dst_alpha_blend_factor(vk::BlendFactor::ONE)
        .alpha_blend_op(vk::BlendOp::ADD)
        .color_write_mask(vk::ColorComponentFlags::RGBA)];
    let blend = vk::PipelineColorBlendStateCreateInfo::default().attachments(&blend_attachment);
    let pipeline_info = [vk::GraphicsPipelineCreateInfo::default()
        .stages(&stages)
        .vertex_input_state(&vertex_input)
        .input_assembly_state(&assembly)
        .viewport_state(&viewport_state)
        .rasterization_state(&raster)
        .multisample_state(&multisample)
        .color_blend_state(&blend)
        .layout(frame.pipeline_layout)
        .render_pass(frame.render_pass)
        .subpass(0)];
    // SAFETY: valid device; every referenced object is live and the state is complete for a
    // pipeline without dynamic state, depth or stencil.
    frame.pipeline =
        unsafe { device.create_graphics_pipelines(vk::PipelineCache::null(), &pipeline_info, None) }
            .map_err(|(_, result)| RenderError::Vk { call: "vkCreateGraphicsPipelines", result })?[0];

    // Vertex buffer (host-visible) and readback buffer.
    let quads = common::quads();
    let verts = common::vertices(&quads);
    let vbytes: &[u8] = bytemuck::cast_slice(&verts);
    let (vbuf, vmem) =
        host_buffer(frame, &memory_props, vbytes.len() as u64, vk::BufferUsageFlags::VERTEX_BUFFER)?;
    // SAFETY: host-visible memory of at least `vbytes.len()` bytes, not mapped elsewhere.
    let ptr = unsafe { device.map_memory(vmem, 0, vk::WHOLE_SIZE, vk::MemoryMapFlags::empty()) }
        .map_err(vk_err("vkMapMemory"))?;
    // SAFETY: `ptr` maps at least `vbytes.len()` bytes that nothing else accesses.
    unsafe { std::ptr::copy_nonoverlapping(vbytes.as_ptr(), ptr.cast::<u8>(), vbytes.len()) };
    // SAFETY: mapped above; coherent memory needs no flush.
    unsafe { device.unmap_memory(vmem) };
    let frame_bytes = u64::from(n) * u64::from(n) * 4;
    let (readback, rmem) =
        host_buffer(frame, &memory_props, frame_bytes, vk::BufferUsageFlags::TRANSFER_DST)?;

    // Separate families: ds-runtime's images change ownership from its compute family to the
    // graphics family (Vulkan's rule for EXCLUSIVE images): the release runs on ds-runtime's
    // queue after its copies (it waits for their timeline value), under its queue lock.
    let separate = picked.compute_family.is_some();
    let ownership = |src: u32, dst: u32, src_access, dst_access| -> Vec<vk::ImageMemoryBarrier<'static>> {
        images
            .iter()
            .map(|image| {
                vk::ImageMemoryBarrier::default()
                    .src_access_mask(src_access)
                    .dst_access_mask(dst_access)
                    .old_layout(vk::ImageLayout::GENERAL)
                    .new_layout(vk::ImageLayout::GENERAL)
                    .src_queue_family_index(src)
                    .dst_queue_family_index(dst)
                    .image(image.handle())
                    .subresource_range(color_range())
            })
            .collect()
    };
    let mut wait_semaphores = vec![ds_timeline];
    let mut wait_values = vec![timeline_value];
    let mut wait_stages = vec![vk::PipelineStageFlags::FRAGMENT_SHADER];
    if separate {
        let ds_family = ctx.queue_family_index();
        let mut sem_type = vk::SemaphoreTypeCreateInfo::default().semaphore_type(vk::SemaphoreType::TIMELINE);
        // SAFETY: valid device with timeline semaphores; destroyed by `Frame`'s drop.
        frame.release_done = unsafe {
            device.create_semaphore(&vk::SemaphoreCreateInfo::default().push_next(&mut sem_type), None)
        }
        .map_err(vk_err("vkCreateSemaphore"))?;
        let pool_info = vk::CommandPoolCreateInfo::default().queue_family_index(ds_family);
        // SAFETY: valid device and family; destroyed by `Frame`'s drop.
        let pool =
            unsafe { device.create_command_pool(&pool_info, None) }.map_err(vk_err("vkCreateCommandPool"))?;
        frame.pools.push(pool);
        let cmd = one_command_buffer(&device, pool)?;
        let release = ownership(
            ds_family,
            picked.graphics_family,
            vk::AccessFlags::TRANSFER_WRITE,
            vk::AccessFlags::empty(),
        );
        // SAFETY: `cmd` is recording; the barriers name live images of the device.
        unsafe {
            device.cmd_pipeline_barrier(
                cmd,
                vk::PipelineStageFlags::TRANSFER,
                vk::PipelineStageFlags::BOTTOM_OF_PIPE,
                vk::DependencyFlags::empty(),
                &[],
                &[],
                &release,
            )
        };
        // SAFETY: `cmd` is recording.
        unsafe { device.end_command_buffer(cmd) }.map_err(vk_err("vkEndCommandBuffer"))?;
        let cmds = [cmd];
        let waits = [ds_timeline];
        let wait_vals = [timeline_value];
        let stages = [vk::PipelineStageFlags::TRANSFER];
        let signals = [frame.release_done];
        let signal_vals = [1u64];
        let mut timeline_info = vk::TimelineSemaphoreSubmitInfo::default()
            .wait_semaphore_values(&wait_vals)
            .signal_semaphore_values(&signal_vals);
        let submit = [vk::SubmitInfo::default()
            .wait_semaphores(&waits)
            .wait_dst_stage_mask(&stages)
            .command_buffers(&cmds)
            .signal_semaphores(&signals)
            .push_next(&mut timeline_info)];
        // SAFETY: ds-runtime's queue (family `ds_family`, index 0) is submitted to only under
        // its lock, held here; every handle in `submit` is live until the frame's fence
        // (which waits on `release_done`) has been waited for.
        let ds_queue = unsafe { device.get_device_queue(ds_family, 0) };
        let guard = lock(ctx.queue_lock());
        // SAFETY: see above.
        unsafe { device.queue_submit(ds_queue, &submit, vk::Fence::null()) }
            .map_err(vk_err("vkQueueSubmit"))?;
        drop(guard);
        frame.release_submitted = true;
        wait_semaphores.push(frame.release_done);
        wait_values.push(1);
        wait_stages.push(vk::PipelineStageFlags::FRAGMENT_SHADER);
    }

    // The frame's command buffer.
    let pool_info = vk::CommandPoolCreateInfo::default().queue_family_index(picked.graphics_family);
    // SAFETY: valid device and family; destroyed by `Frame`'s drop.
    let pool =
        unsafe { device.create_command_pool(&pool_info, None) }.map_err(vk_err("vkCreateCommandPool"))?;
    frame.pools.push(pool);
    let cmd = one_command_buffer(&device, pool)?;
    if separate {
        let acquire = ownership(
            ctx.queue_family_index(),
            picked.graphics_family,
            vk::AccessFlags::empty(),
            vk::AccessFlags::SHADER_READ,
        );
        // SAFETY: `cmd` is recording; the acquire matches the release above.
        unsafe {
            device.cmd_pipeline_barrier(
                cmd,
                vk::PipelineStageFlags::FRAGMENT_SHADER,
                vk::PipelineStageFlags::FRAGMENT_SHADER,
                vk::DependencyFlags::empty(),
                &[],
                &[],
                &acquire,
            )
        };
    }
    let clear = [vk::ClearValue {
        color: vk::ClearColorValue { float32: common::CLEAR.map(|c| f32::from(c) / 255.0) },
    }];
    let begin = vk::RenderPassBeginInfo::default()
        .render_pass(frame.render_pass)
        .framebuffer(frame.framebuffer)
        .render_area(scissor[0])
        .clear_values(&clear);
    // SAFETY: `cmd` is recording, outside a render pass; render pass and framebuffer are live.
    unsafe { device.cmd_begin_render_pass(cmd, &begin, vk::SubpassContents::INLINE) };
    // SAFETY: `cmd` is recording inside a compatible render pass.
    unsafe { device.cmd_bind_pipeline(cmd, vk::PipelineBindPoint::GRAPHICS, frame.pipeline) };
    // SAFETY: `cmd` is recording; `vbuf` is a live vertex buffer.
    unsafe { device.cmd_bind_vertex_buffers(cmd, 0, &[vbuf], &[0]) };
    for (i, q) in quads.iter().enumerate() {
        // SAFETY: `cmd` is recording; the set matches the pipeline layout's set 0.
        unsafe {
            device.cmd_bind_descriptor_sets(
                cmd,
                vk::PipelineBindPoint::GRAPHICS,
                frame.pipeline_layout,
                0,
                &[sets[q.texture]],
                &[],
            )
        };
        // SAFETY: `cmd` is recording with pipeline, vertex buffer and set bound; the vertex
        // range lies in the buffer (six vertices per quad).
        unsafe { device.cmd_draw(cmd, 6, 1, 6 * i as u32, 0) };
    }
    // SAFETY: `cmd` is inside the render pass begun above.
    unsafe { device.cmd_end_render_pass(cmd) };
    let copy = [vk::BufferImageCopy {
        buffer_offset: 0,
        buffer_row_length: 0,
        buffer_image_height: 0,
        image_subresource: vk::ImageSubresourceLayers {
            aspect_mask: vk::ImageAspectFlags::COLOR,
            mip_level: 0,
            base_array_layer: 0,
            layer_count: 1,
        },
        image_offset: vk::Offset3D::default(),
        image_extent: vk::Extent3D { width: n, height: n, depth: 1 },
    }];
    // SAFETY: `cmd` is recording; the target is in TRANSFER_SRC_OPTIMAL (the render pass's
    // final layout, ordered by its dependency), the buffer holds the whole frame.
    unsafe {
        device.cmd_copy_image_to_buffer(cmd, target, vk::ImageLayout::TRANSFER_SRC_OPTIMAL, readback, &copy)
    };
    let to_host = [vk::BufferMemoryBarrier::default()
        .src_access_mask(vk::AccessFlags::TRANSFER_WRITE)
        .dst_access_mask(vk::AccessFlags::HOST_READ)
        .src_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
        .dst_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
        .buffer(readback)
        .offset(0)
        .size(vk::WHOLE_SIZE)];
    // SAFETY: `cmd` is recording outside a render pass.
    unsafe {
        device.cmd_pipeline_barrier(
            cmd,
            vk::PipelineStageFlags::TRANSFER,
            vk::PipelineStageFlags::HOST,
            vk::DependencyFlags::empty(),
            &[],
            &to_host,
            &[],
        )
    };
    // SAFETY: `cmd` is recording.
    unsafe { device.end_command_buffer(cmd) }.map_err(vk_err("vkEndCommandBuffer"))?;

    // Submit: the GPU waits for ds-runtime's timeline value before the fragment shader reads
    // the textures (the semaphore wait also makes ds-runtime's copies visible).
    // SAFETY: valid device; destroyed by `Frame`'s drop.
    frame.fence = unsafe { device.create_fence(&vk::FenceCreateInfo::default(), None) }
        .map_err(vk_err("vkCreateFence"))?;
    let cmds = [cmd];
    let mut timeline_info = vk::TimelineSemaphoreSubmitInfo::default().wait_semaphore_values(&wait_values);
    let submit = [vk::SubmitInfo::default()
        .wait_semaphores(&wait_semaphores)
        .wait_dst_stage_mask(&wait_stages)
        .command_buffers(&cmds)
        .push_next(&mut timeline_info)];
    {
        // Where there is one family the graphics queue is ds-runtime's queue too: submit
        // under ds-runtime's queue lock, which is the renderer's own (handed over at
        // adoption); otherwise under the renderer's lock of its graphics queue.
        let queue_lock: &Mutex<()> = if separate {
            graphics_lock
        } else {
            debug_assert!(std::ptr::eq(ctx.queue_lock().as_ref(), graphics_lock));
            ctx.queue_lock()
        };
        let _guard = lock(queue_lock);
        // SAFETY: the queue is used under its lock; every handle in `submit` stays live until
        // the fence has signalled (`Frame`'s drop waits for it).
        unsafe { device.queue_submit(graphics_queue, &submit, frame.fence) }
            .map_err(vk_err("vkQueueSubmit"))?;
    }
    frame.submitted = true;
    println!(
        "frame: {} quads, the graphics submission waits on the GPU for ds-runtime's timeline semaphore to reach {timeline_value}",
        quads.len()
    );
    // SAFETY: the fence was submitted above.
    unsafe { device.wait_for_fences(&[frame.fence], true, u64::MAX) }.map_err(vk_err("vkWaitForFences"))?;

    let mut rgba = vec![0u8; frame_bytes as usize];
    // SAFETY: host-visible coherent memory of `frame_bytes` bytes, written by the completed
    // copy (made host-visible by the barrier), not mapped elsewhere.
    let ptr = unsafe { device.map_memory(rmem, 0, vk::WHOLE_SIZE, vk::MemoryMapFlags::empty()) }
        .map_err(vk_err("vkMapMemory"))?;
    // SAFETY: `ptr` maps at least `frame_bytes` bytes.
    unsafe { std::ptr::copy_nonoverlapping(ptr.cast::<u8>(), rgba.as_mut_ptr(), rgba.len()) };
    // SAFETY: mapped above.
    unsafe { device.unmap_memory(rmem) };
    Ok(rgba)
}

/// A primary command buffer of `pool`, begun for one submission.
fn one_command_buffer(device: &ash::Device, pool: vk::CommandPool) -> Result<vk::CommandBuffer, RenderError> {
    let info = vk::CommandBufferAllocateInfo::default()
        .command_pool(pool)
        .level(vk::CommandBufferLevel::PRIMARY)
        .command_buffer_count(1);
    // SAFETY: `pool` is a live pool of the device; freed with it.
    let cmd =
        unsafe { device.allocate_command_buffers(&info) }.map_err(vk_err("vkAllocateCommandBuffers"))?[0];
    let begin = vk::CommandBufferBeginInfo::default().flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT);
    // SAFETY: `cmd` is a fresh command buffer in the initial state.
    unsafe { device.begin_command_buffer(cmd, &begin) }.map_err(vk_err("vkBeginCommandBuffer"))?;
    Ok(cmd)
}

/// Prints what [`run`] did.
pub fn print(outcome: &Outcome) {
    let stored: u64 = outcome.textures.iter().map(|t| t.1).sum();
    let decoded: u64 = outcome.textures.iter().map(|t| t.2).sum();
    println!("summary:");
    println!("  device:   {} (the renderer's own VkDevice, adopted by ds-runtime)", outcome.device);
    println!(
        "  queues:   {}",
        if outcome.shared_queue {
            "one queue shared by the renderer and ds-runtime under one lock"
        } else {
            "ds-runtime on its own compute-only queue; images handed to the graphics family"
        }
    );
    println!(
        "  textures: {} streamed from the pack as {} ({stored} bytes read, {decoded} bytes decoded on the GPU)",
        outcome.textures.len(),
        if outcome.bc { "BC1/BC3 blocks" } else { "RGBA8 texels" }
    );
    println!(
        "  sync:     the frame's submission waited on the GPU for timeline value {}",
        outcome.timeline_value
    );
    println!(
        "  checked:  {0}x{0} pixels match the frame computed on the CPU from the textures (exactly; blended pixels within 1: largest difference {1})",
        common::FRAME,
        outcome.max_diff
    );
    println!("  png:      {}", outcome.png.display());
}
