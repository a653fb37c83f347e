//! [`WgpuContext`]: one wgpu device (created here or adopted from the application), its
//! queue, and one pipeline per decode kernel the device runs; [`probe`] lists the adapters.
//!
//! Invariants:
//! - Every wgpu call that can fail runs inside error scopes ([`scoped`]), so failures come
//!   back as [`WgpuError`]s and never reach wgpu's default handler, which panics (or an
//!   adopting application's handler).
//! - An adopted device keeps its own limits and features: nothing is requested from it; the
//!   kernel's needs are checked against [`::wgpu::Device::limits`] instead.
//! - A created device asks for the adapter's limits (larger storage bindings and buffers
//!   than WebGPU's defaults, the full workgroup grid), for `SUBGROUP` when a subgroup kernel
//!   variant runs on the adapter ([`super::runs_kernel`]), and for
//!   [`SPIRV_PASSTHROUGH_FEATURES`] when the adapter offers them and the options allow the
//!   SPIR-V ([`KernelOptions::kernel_source`]).
//! - Every pipeline of a context has the same [`KernelSource`], chosen once
//!   when the context is built: the SPIR-V where [`spirv_passthrough`] holds for the device
//!   (created or adopted: only the features it was created with count) and the checks are
//!   [`ShaderChecks::Trusted`], else the WGSL. [`WgpuContext::kernel_source`] says which.
//! - A created device's queue comes from the adapter's compute-only queue family where it
//!   has one (the ash core's choice; [`super::hal_device`] creates it through wgpu-hal),
//!   else from wgpu's own `request_device` (family 0, graphics + compute), also when the
//!   hal path fails or `$DSR_WGPU_QUEUE_FAMILY=default`; [`WgpuContext::queue_family`]
//!   says which and why.

use super::decode::{chosen_decode_kernel, decode_kernel, decode_kernels};
use super::error::WgpuError;
use super::hal_device;
use super::pipeline::{
    KernelPipeline, KernelSource, SPIRV_PASSTHROUGH_FEATURES, ShaderChecks, spirv_passthrough,
};
use dsr_kernels::{BindingKind, KernelInfo};
use std::sync::mpsc;
use std::time::Duration;

/// Runs `f` inside out-of-memory, validation and internal error scopes on `device`; the first
/// error wgpu reports (out of memory first) is returned as [`WgpuError::Device`].
pub(crate) fn scoped<T>(
    device: &::wgpu::Device,
    during: &'static str,
    f: impl FnOnce() -> T,
) -> Result<T, WgpuError> {
    let oom = device.push_error_scope(::wgpu::ErrorFilter::OutOfMemory);
    let validation = device.push_error_scope(::wgpu::ErrorFilter::Validation);
    let internal = device.push_error_scope(::wgpu::ErrorFilter::Internal);
    let out = f();
    // Scopes pop innermost first; the futures resolve without an executor on native wgpu.
    let internal = internal.pop();
    let validation = validation.pop();
    let oom = oom.pop();
    let errors = [oom, validation, internal].into_iter().filter_map(pollster::block_on);
    match errors.into_iter().next() {
        Some(e) => Err(WgpuError::Device { during, source: Box::new(e) }),
        None => Ok(out),
    }
}

/// A wgpu instance restricted to the Vulkan backend (the only one this build includes);
/// `WGPU_*` environment variables (e.g. `WGPU_VALIDATION`) still apply.
///
/// wgpu enables the platform's surface extensions on every instance; with
/// `VK_KHR_wayland_surface` enabled, Mesa's device-select layer looks for a Wayland
/// compositor while listing devices, and on a headless machine with `XDG_RUNTIME_DIR` unset
/// libwayland prints "error: XDG_RUNTIME_DIR is invalid or not set in the environment." to
/// stderr. Harmless (nothing fails); `XDG_RUNTIME_DIR` set to any directory, or
/// `NODEVICE_SELECT=1`, silences it. The ash core enables no surface extension.
pub(crate) fn instance() -> ::wgpu::Instance {
    let mut desc = ::wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = ::wgpu::Backends::VULKAN;
    desc.flags = ::wgpu::InstanceFlags::empty().with_env();
    ::wgpu::Instance::new(desc)
}

/// One wgpu adapter as [`probe`] sees it.
#[derive(Debug, Clone)]
pub struct AdapterDesc {
    /// Position in [`probe`]'s list ([`WgpuOptions::adapter_index`]).
    pub index: usize,
    /// wgpu's description (name, type, driver, backend, subgroup sizes).
    pub info: ::wgpu::AdapterInfo,
    /// Whether the adapter supports [`::wgpu::Features::SUBGROUP`].
    pub subgroups: bool,
    /// The adapter's limits.
    pub limits: ::wgpu::Limits,
    /// Whether it runs compute shaders (downlevel adapters may not).
    pub compute_shaders: bool,
    /// Whether it offers [`SPIRV_PASSTHROUGH_FEATURES`], so that a context created on it
    /// runs the kernels crate's SPIR-V ([`KernelSource::Spirv`]) by default.
    pub spirv_passthrough: bool,
    /// The compute-only queue family a context created on it uses, or why it uses wgpu's
    /// default family instead (see [`QueueFamily`]).
    pub compute_only_family: Result<u32, String>,
}

impl AdapterDesc {
    fn new(index: usize, adapter: &::wgpu::Adapter) -> Self {
        Self {
            index,
            info: adapter.get_info(),
            subgroups: adapter.features().contains(::wgpu::Features::SUBGROUP),
            limits: adapter.limits(),
            compute_shaders: adapter
                .get_downlevel_capabilities()
                .flags
                .contains(::wgpu::DownlevelFlags::COMPUTE_SHADERS),
            spirv_passthrough: spirv_passthrough(adapter.features()),
            compute_only_family: hal_device::adapter_compute_only_family(adapter),
        }
    }

    /// Why the runtime cannot decode on this adapter, or `None` if it can.
    pub fn unusable_reason(&self) -> Option<String> {
        if !self.compute_shaders {
            return Some("no compute shaders".into());
        }
        kernel_limits_reason(self.decode_kernel(), &self.limits)
    }

    /// The decode kernel a context on this adapter runs by default ([`decode_kernel`]).
    pub fn decode_kernel(&self) -> &'static KernelInfo {
        let features = if self.subgroups { ::wgpu::Features::SUBGROUP } else { ::wgpu::Features::empty() };
        decode_kernel(features, &self.info)
    }

    /// The kernel source a context created on this adapter uses by default
    /// ([`KernelOptions::kernel_source`] unset, [`ShaderChecks::Trusted`]).
    pub fn kernel_source(&self) -> KernelSource {
        if self.spirv_passthrough { KernelSource::Spirv } else { KernelSource::Wgsl }
    }

    /// Whether `auto` may pick it: a discrete, integrated or virtual GPU (not a software
    /// rasterizer, which runs the kernel on the CPU cores, far slower than the CPU decoder).
    pub fn is_hardware(&self) -> bool {
        matches!(
            self.info.device_type,
            ::wgpu::DeviceType::DiscreteGpu
                | ::wgpu::DeviceType::IntegratedGpu
                | ::wgpu::DeviceType::VirtualGpu
        )
    }
}

/// "discrete GPU", "CPU (software)", ... as `dsr info` prints device types.
pub fn device_type_name(t: ::wgpu::DeviceType) -> &'static str {
    match t {
        ::wgpu::DeviceType::DiscreteGpu => "discrete GPU",
        ::wgpu::DeviceType::IntegratedGpu => "integrated GPU",
        ::wgpu::DeviceType::VirtualGpu => "virtual GPU",
        ::wgpu::DeviceType::Cpu => "CPU (software)",
        ::wgpu::DeviceType::Other => "other",
    }
}

/// What `kernel` needs from a device's limits that `limits` lacks, or `None`. Workgroup
/// storage is not reflected; pipeline creation checks it.
fn kernel_limits_reason(kernel: &KernelInfo, limits: &::wgpu::Limits) -> Option<String> {
    let [x, y, z] = kernel.workgroup_size;
    let invocations = x.saturating_mul(y).saturating_mul(z);
    let count =
        |pred: fn(BindingKind) -> bool| kernel.bindings.iter().filter(|b| pred(b.kind)).count() as u32;
    let storage = count(|k| k != BindingKind::Uniform);
    let uniform = count(|k| k == BindingKind::Uniform);
    let groups = kernel.bindings.iter().map(|b| b.group + 1).max().unwrap_or(0);
    let checks = [
        (invocations, limits.max_compute_invocations_per_workgroup, "invocations per workgroup"),
        (x, limits.max_compute_workgroup_size_x, "workgroup size x"),
        (storage, limits.max_storage_buffers_per_shader_stage, "storage buffers per stage"),
        (uniform, limits.max_uniform_buffers_per_shader_stage, "uniform buffers per stage"),
        (groups, limits.max_bind_groups, "bind groups"),
    ];
    checks.iter().find(|(need, have, _)| need > have).map(|(need, have, what)| {
        format!("kernel `{}` needs {need} {what}, the device allows {have}", kernel.name)
    })
}

/// Preference of `auto` and of [`WgpuContext::new`] without an index: discrete > integrated >
/// virtual > software > other.
fn rank(t: ::wgpu::DeviceType) -> u32 {
    match t {
        ::wgpu::DeviceType::DiscreteGpu => 0,
        ::wgpu::DeviceType::IntegratedGpu => 1,
        ::wgpu::DeviceType::VirtualGpu => 2,
        ::wgpu::DeviceType::Cpu => 3,
        ::wgpu::DeviceType::Other => 4,
    }
}

/// The usable adapter [`WgpuContext::new`] picks by default (the first of the best type), or
/// `None`.
pub fn pick_adapter(adapters: &[AdapterDesc]) -> Option<&AdapterDesc> {
    adapters
        .iter()
        .filter(|a| a.unusable_reason().is_none())
        .min_by_key(|a| (rank(a.info.device_type), a.index))
}

fn enumerate(instance: &::wgpu::Instance) -> Vec<::wgpu::Adapter> {
    pollster::block_on(instance.enumerate_adapters(::wgpu::Backends::VULKAN))
}

/// The adapters wgpu's Vulkan backend lists (an empty list when there is no Vulkan loader or
/// driver: wgpu reports that as no adapters).
pub fn probe() -> Vec<AdapterDesc> {
    enumerate(&instance()).iter().enumerate().map(|(i, a)| AdapterDesc::new(i, a)).collect()
}

/// How a context compiles and picks its kernels (created or adopted device).
#[derive(Debug, Clone, Default)]
pub struct KernelOptions {
    /// Run-time checks in the kernels ([`ShaderChecks::Trusted`] by default).
    pub shader_checks: ShaderChecks,
    /// The default decode kernel (e.g. `gdeflate_decode` on a device that would get the
    /// subgroup variant) instead of `$DSR_DECODE_KERNEL` or [`decode_kernel`]'s choice; it
    /// must be one of [`decode_kernels`]. For benchmarks comparing backends or variants.
    pub decode_kernel: Option<String>,
    /// The compiled form of the kernels: `None` (the default) picks
    /// [`KernelSource::Spirv`] where the device has [`SPIRV_PASSTHROUGH_FEATURES`] and
    /// [`Self::shader_checks`] is [`ShaderChecks::Trusted`], else [`KernelSource::Wgsl`];
    /// `$DSR_WGPU_KERNEL_SOURCE` (`spirv` or `wgsl`) sets it where this is `None`.
    /// `Some(Spirv)` on a device without passthrough is [`WgpuError::Unsupported`], with
    /// `Checked` [`WgpuError::InvalidArgument`].
    pub kernel_source: Option<KernelSource>,
}

/// Environment variable that sets [`KernelOptions::kernel_source`] where the options leave it
/// unset: `spirv` or `wgsl` (for comparing the two on one device without rebuilding).
pub const KERNEL_SOURCE_ENV: &str = "DSR_WGPU_KERNEL_SOURCE";

/// The source `options` ask for: theirs, else `$DSR_WGPU_KERNEL_SOURCE`, else `None` (auto).
fn requested_source(options: &KernelOptions) -> Result<Option<KernelSource>, WgpuError> {
    if options.kernel_source.is_some() {
        return Ok(options.kernel_source);
    }
    let value = match std::env::var(KERNEL_SOURCE_ENV) {
        Err(std::env::VarError::NotPresent) => return Ok(None),
        Err(std::env::VarError::NotUnicode(v)) => v.to_string_lossy().into_owned(),
        Ok(v) => v,
    };
    match value.to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "spirv" => Ok(Some(KernelSource::Spirv)),
        "wgsl" => Ok(Some(KernelSource::Wgsl)),
        _ => Err(WgpuError::InvalidArgument(format!(
            "{KERNEL_SOURCE_ENV}={value:?}: expected `spirv` or `wgsl`"
        ))),
    }
}

/// Environment variable that, set to `default`, makes [`WgpuContext::new`] take wgpu's own
/// queue family (graphics + compute) even where the adapter has a compute-only one (for
/// comparing the two on one device); `compute` or unset: the compute-only family.
pub const QUEUE_FAMILY_ENV: &str = "DSR_WGPU_QUEUE_FAMILY";

/// The queue family of a context's queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueueFamily {
    /// A compute-only family (compute without graphics) of the adapter, as the ash core
    /// picks, on a device created through wgpu-hal.
    ComputeOnly {
        /// The Vulkan queue family index.
        index: u32,
    },
    /// wgpu's own choice (family 0, graphics + compute; `request_device`).
    WgpuDefault {
        /// Why the compute-only family was not used.
        why: String,
    },
    /// The application's device and queue ([`WgpuContext::adopt`]); its family is not queried.
    Adopted,
}

impl std::fmt::Display for QueueFamily {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::ComputeOnly { index } => write!(f, "compute-only family {index}"),
            Self::WgpuDefault { why } => write!(f, "wgpu's default family 0 (graphics + compute): {why}"),
            Self::Adopted => write!(f, "the application's queue"),
        }
    }
}

/// Whether `$DSR_WGPU_QUEUE_FAMILY` asks for wgpu's default family.
fn default_family_requested() -> Result<bool, WgpuError> {
    let value = match std::env::var(QUEUE_FAMILY_ENV) {
        Err(std::env::VarError::NotPresent) => return Ok(false),
        Err(std::env::VarError::NotUnicode(v)) => v.to_string_lossy().into_owned(),
        Ok(v) => v,
    };
    match value.to_ascii_lowercase().as_str() {
        "" | "compute" => Ok(false),
        "default" => Ok(true),
        _ => Err(WgpuError::InvalidArgument(format!(
            "{QUEUE_FAMILY_ENV}={value:?}: expected `compute` or `default`"
        ))),
    }
}

/// How [`WgpuContext::new`] chooses its adapter and compiles the kernels.
#[derive(Debug, Clone, Default)]
pub struct WgpuOptions {
    /// Use the adapter at this index of [`probe`]'s list instead of the preferred one
    /// ([`pick_adapter`]).
    pub adapter_index: Option<usize>,
    /// Kernel compilation and choice.
    pub kernels: KernelOptions,
}

/// A wgpu device and queue with the decode kernel's pipeline. `Send + Sync`; share it behind
/// an `Arc`.
#[derive(Debug)]
pub struct WgpuContext {
    pub(crate) device: ::wgpu::Device,
    pub(crate) queue: ::wgpu::Queue,
    info: ::wgpu::AdapterInfo,
    pub(crate) limits: ::wgpu::Limits,
    features: ::wgpu::Features,
    checks: ShaderChecks,
    source: KernelSource,
    /// One pipeline per decode kernel the device runs ([`decode_kernels`]).
    pub(crate) decode: Vec<KernelPipeline>,
    /// The default one's index in `decode`.
    default_decode: usize,
    queue_family: QueueFamily,
}

impl WgpuContext {
    /// Creates a device on the preferred usable adapter (or `options.adapter_index`),
    /// software adapters included, blocking (pollster) until wgpu has it.
    ///
    /// Errors: [`WgpuError::NoAdapter`] when none qualifies (the reasons listed),
    /// [`WgpuError::RequestDevice`], or a pipeline that fails to build.
    pub fn new(options: &WgpuOptions) -> Result<Self, WgpuError> {
        let instance = instance();
        let adapters = enumerate(&instance);
        let descs: Vec<AdapterDesc> =
            adapters.iter().enumerate().map(|(i, a)| AdapterDesc::new(i, a)).collect();
        let chosen = match options.adapter_index {
            Some(i) => {
                let d = descs.get(i).ok_or_else(|| WgpuError::NoAdapter {
                    why: format!("adapter index {i} requested, wgpu lists {}", descs.len()),
                })?;
                if let Some(why) = d.unusable_reason() {
                    return Err(WgpuError::NoAdapter { why: format!("{}: {why}", d.info.name) });
                }
                d
            }
            None => pick_adapter(&descs).ok_or_else(|| WgpuError::NoAdapter {
                why: if descs.is_empty() {
                    "wgpu's Vulkan backend lists no adapter".into()
                } else {
                    let each: Vec<String> = descs
                        .iter()
                        .map(|d| format!("{}: {}", d.info.name, d.unusable_reason().unwrap_or_default()))
                        .collect();
                    each.join("; ")
                },
            })?,
        };
        let adapter = &adapters[chosen.index];
        // SUBGROUP only when a decode kernel the device would run needs it.
        let needs_subgroups =
            decode_kernels(adapter.features(), &chosen.info).iter().any(|k| k.subgroup_size != 0);
        let mut required_features =
            if needs_subgroups { ::wgpu::Features::SUBGROUP } else { ::wgpu::Features::empty() };
        // The SPIR-V's features where the adapter offers them and the options may use them.
        let may_use_spirv = options.kernels.shader_checks == ShaderChecks::Trusted
            && requested_source(&options.kernels)? != Some(KernelSource::Wgsl);
        if may_use_spirv && chosen.spirv_passthrough {
            required_features |= SPIRV_PASSTHROUGH_FEATURES;
        }
        let desc = ::wgpu::DeviceDescriptor {
            label: Some("ds-runtime"),
            required_features,
            // Everything the adapter offers: storage bindings and buffers up to its maximum
            // (WebGPU's defaults stop at 128/256 MiB) and its full workgroup grid.
            required_limits: adapter.limits(),
            ..Default::default()
        };
        // The compute-only family where the adapter has one; wgpu's own device otherwise.
        let compute_only = match default_family_requested()? {
            true => Err(format!("{QUEUE_FAMILY_ENV}=default")),
            false => hal_device::create_compute_only_device(adapter, &desc),
        };
        let (device, queue, family) = match compute_only {
            Ok((device, queue, index)) => (device, queue, QueueFamily::ComputeOnly { index }),
            Err(why) => {
                let (device, queue) =
                    pollster::block_on(adapter.request_device(&desc)).map_err(WgpuError::RequestDevice)?;
                (device, queue, QueueFamily::WgpuDefault { why })
            }
        };
        Self::build(device, queue, &options.kernels, family)
    }

    /// Adopts an application's device and queue (wgpu handles are shared references: the
    /// application keeps using its own clones). The decode kernel's subgroup variant is used
    /// only when the device was created with [`::wgpu::Features::SUBGROUP`] (and its
    /// adapter's subgroup size is the variant's, see [`super::runs_kernel`]); the device's
    /// limits must cover the kernel's needs (otherwise [`WgpuError::Unsupported`]), and for
    /// jobs beyond WebGPU's default 128 MiB storage binding the application must have asked
    /// for a larger `max_storage_buffer_binding_size`. The kernels crate's SPIR-V runs only
    /// when the device was created with [`SPIRV_PASSTHROUGH_FEATURES`] (nothing is enabled on
    /// an adopted device); otherwise the WGSL ([`Self::kernel_source`] says which).
    pub fn adopt(
        device: ::wgpu::Device,
        queue: ::wgpu::Queue,
        options: &KernelOptions,
    ) -> Result<Self, WgpuError> {
        Self::build(device, queue, options, QueueFamily::Adopted)
    }

    fn build(
        device: ::wgpu::Device,
        queue: ::wgpu::Queue,
        options: &KernelOptions,
        queue_family: QueueFamily,
    ) -> Result<Self, WgpuError> {
        let limits = device.limits();
        let features = device.features();
        let info = device.adapter_info();
        let default = chosen_decode_kernel(options.decode_kernel.as_deref(), features, &info)?;
        let kernels = decode_kernels(features, &info);
        if let Some(why) = kernels.iter().find_map(|k| kernel_limits_reason(k, &limits)) {
            return Err(WgpuError::Unsupported { what: "this wgpu device", why });
        }
        let checks = options.shader_checks;
        let source = match requested_source(options)? {
            Some(source) => source,
            None if checks == ShaderChecks::Trusted && spirv_passthrough(features) => KernelSource::Spirv,
            None => KernelSource::Wgsl,
        };
        let decode = kernels
            .iter()
            .map(|k| KernelPipeline::new(&device, k, source, checks))
            .collect::<Result<Vec<_>, _>>()?;
        let default_decode = kernels.iter().position(|k| k.name == default.name).unwrap_or(0);
        Ok(Self {
            device,
            queue,
            info,
            limits,
            features,
            checks,
            source,
            decode,
            default_decode,
            queue_family,
        })
    }

    /// The adapter the device belongs to.
    pub fn adapter_info(&self) -> &::wgpu::AdapterInfo {
        &self.info
    }

    /// The device's limits (as requested at creation, or the adopted device's).
    pub fn limits(&self) -> &::wgpu::Limits {
        &self.limits
    }

    /// The device's features.
    pub fn features(&self) -> ::wgpu::Features {
        self.features
    }

    /// The run-time checks the kernels were compiled with ([`ShaderChecks::Trusted`] for
    /// [`KernelSource::Spirv`]: the kernels crate compiled it without wgpu's checks).
    pub fn shader_checks(&self) -> ShaderChecks {
        self.checks
    }

    /// Which compiled form of the kernels this context's pipelines run: the kernels crate's
    /// SPIR-V through wgpu's passthrough, or the WGSL compiled by wgpu (see
    /// [`KernelOptions::kernel_source`]).
    pub fn kernel_source(&self) -> KernelSource {
        self.source
    }

    /// The decode kernel this context dispatches by default: the one named in
    /// [`KernelOptions::decode_kernel`] or `$DSR_DECODE_KERNEL`, else the subgroup variant
    /// where the device runs it, else the workgroup-memory kernel ([`decode_kernel`]).
    pub fn decode_kernel(&self) -> &'static KernelInfo {
        self.decode[self.default_decode].kernel()
    }

    /// The decode kernels this device runs: `gdeflate_decode`, then
    /// `gdeflate_decode_subgroup` where the device runs it.
    pub fn decode_kernels(&self) -> Vec<&'static str> {
        self.decode.iter().map(|p| p.kernel().name).collect()
    }

    pub(crate) fn decode_pipeline(&self, name: &str) -> Result<&KernelPipeline, WgpuError> {
        self.decode.iter().find(|p| p.kernel().name == name).ok_or_else(|| {
            WgpuError::InvalidArgument(format!("`{name}` is not a decode kernel this device runs"))
        })
    }

    /// Whether the device and queue were handed over by the application.
    pub fn is_adopted(&self) -> bool {
        self.queue_family == QueueFamily::Adopted
    }

    /// The queue family of the context's queue: the adapter's compute-only family where it
    /// has one, else wgpu's default (with the reason), or the application's queue.
    pub fn queue_family(&self) -> &QueueFamily {
        &self.queue_family
    }

    /// Whether the queue is from a compute-only family ([`QueueFamily::ComputeOnly`]).
    pub fn uses_compute_only_queue(&self) -> bool {
        matches!(self.queue_family, QueueFamily::ComputeOnly { .. })
    }

    /// The device.
    pub fn device(&self) -> &::wgpu::Device {
        &self.device
    }

    /// The queue.
    pub fn queue(&self) -> &::wgpu::Queue {
        &self.queue
    }

    /// Blocks until submission `index` has completed, or `timeout` has passed
    /// ([`Duration::MAX`]: no limit; a timeout is [`WgpuError::Poll`] with
    /// [`::wgpu::PollError::Timeout`]).
    pub fn wait(&self, index: ::wgpu::SubmissionIndex, timeout: Duration) -> Result<(), WgpuError> {
        let timeout = (timeout != Duration::MAX).then_some(timeout);
        self.device
            .poll(::wgpu::PollType::Wait { submission_index: Some(index), timeout })
            .map(drop)
            .map_err(WgpuError::Poll)
    }

    /// A new buffer of `bytes` (padded with zeros to whole words), with `usage`.
    pub fn upload_bytes(
        &self,
        bytes: &[u8],
        usage: ::wgpu::BufferUsages,
        label: &str,
    ) -> Result<::wgpu::Buffer, WgpuError> {
        use ::wgpu::util::DeviceExt;
        self.check_size(bytes.len() as u64, label)?;
        scoped(&self.device, "create and fill a buffer", || {
            self.device.create_buffer_init(&::wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage,
            })
        })
    }

    /// A new zero-filled buffer of `size` bytes (rounded up to whole words; WebGPU
    /// zero-initialises buffers), with `usage`.
    pub fn create_buffer(
        &self,
        size: u64,
        usage: ::wgpu::BufferUsages,
        label: &str,
    ) -> Result<::wgpu::Buffer, WgpuError> {
        self.check_size(size, label)?;
        scoped(&self.device, "create a buffer", || {
            self.device.create_buffer(&::wgpu::BufferDescriptor {
                label: Some(label),
                size: size.next_multiple_of(4).max(4),
                usage,
                mapped_at_creation: false,
            })
        })
    }

    fn check_size(&self, size: u64, label: &str) -> Result<(), WgpuError> {
        if size > self.limits.max_buffer_size {
            return Err(WgpuError::InvalidArgument(format!(
                "{label}: {size} bytes, the device's largest buffer is {} bytes",
                self.limits.max_buffer_size
            )));
        }
        Ok(())
    }

    /// Copies `size` bytes of `buffer` from `offset` (both multiples of 4; the buffer needs
    /// [`::wgpu::BufferUsages::COPY_SRC`]) back to the host, after the work already submitted.
    pub fn download_bytes(
        &self,
        buffer: &::wgpu::Buffer,
        offset: u64,
        size: u64,
    ) -> Result<Vec<u8>, WgpuError> {
        if !offset.is_multiple_of(4)
            || !size.is_multiple_of(4)
            || offset.checked_add(size).is_none_or(|e| e > buffer.size())
        {
            return Err(WgpuError::InvalidArgument(format!(
                "readback of {size} bytes at {offset} from a {}-byte buffer (whole words inside the buffer)",
                buffer.size()
            )));
        }
        if size == 0 {
            return Ok(Vec::new());
        }
        let staging = self.create_buffer(
            size,
            ::wgpu::BufferUsages::MAP_READ | ::wgpu::BufferUsages::COPY_DST,
            "readback",
        )?;
        let (tx, rx) = mpsc::channel();
        let index = scoped(&self.device, "read a buffer back", || {
            let mut encoder = self
                .device
                .create_command_encoder(&::wgpu::CommandEncoderDescriptor { label: Some("readback") });
            encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, size);
            let index = self.queue.submit([encoder.finish()]);
            staging.map_async(::wgpu::MapMode::Read, .., move |r| {
                // The receiver outlives the wait below; a send error cannot happen.
                let _ = tx.send(r);
            });
            index
        })?;
        self.wait(index, Duration::MAX)?;
        // The map resolves with the copy's submission; poll once more if wgpu has not run the
        // callback yet.
        let mapped = match rx.try_recv() {
            Ok(r) => r,
            Err(_) => {
                self.device.poll(::wgpu::PollType::wait_indefinitely()).map_err(WgpuError::Poll)?;
                rx.recv().map_err(|_| WgpuError::Internal("wgpu dropped a buffer map callback".into()))?
            }
        };
        mapped.map_err(WgpuError::Map)?;
        let bytes = staging
            .get_mapped_range(..)
            .map_err(|e| WgpuError::Internal(format!("mapped readback buffer: {e}")))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The raw-device path ([`hal_device::create_device_on_family`]) run on family 0, which
    /// every adapter has (lavapipe has no compute-only family, so [`WgpuContext::new`] never
    /// takes the path there): wgpu takes the device, the kernels decode on it, and dropping
    /// two such contexts in turn (each `VkDevice` destroyed once, by wgpu-hal's drop
    /// callback) leaves the adapter usable.
    #[test]
    fn a_device_created_through_wgpu_hal_decodes_and_is_destroyed_with_the_context() {
        let instance = instance();
        let adapters = enumerate(&instance);
        let descs: Vec<AdapterDesc> =
            adapters.iter().enumerate().map(|(i, a)| AdapterDesc::new(i, a)).collect();
        let Some(chosen) = pick_adapter(&descs) else {
            assert!(std::env::var_os("DSR_REQUIRE_GPU").is_none_or(|v| v != "1"), "no usable wgpu adapter");
            eprintln!("NOTICE: skipped: no usable wgpu adapter");
            return;
        };
        let adapter = &adapters[chosen.index];
        let data: Vec<u8> = (0..20_000u32).flat_map(|i| format!("tile {i:05}\n").into_bytes()).collect();
        let stream = dsr_gdeflate::compress(&data, dsr_gdeflate::Level::DEFAULT, 1).unwrap();
        for round in 0..2 {
            let desc = ::wgpu::DeviceDescriptor {
                label: Some("ds-runtime test: wgpu-hal device"),
                required_features: adapter.features() & SPIRV_PASSTHROUGH_FEATURES,
                required_limits: adapter.limits(),
                ..Default::default()
            };
            let (device, queue) = hal_device::create_device_on_family(adapter, &desc, 0)
                .unwrap_or_else(|why| panic!("round {round}: {why}"));
            let family = QueueFamily::WgpuDefault { why: "test: the raw-device path on family 0".into() };
            let ctx = WgpuContext::build(device, queue, &KernelOptions::default(), family).unwrap();
            assert_eq!(ctx.features(), desc.required_features);
            assert!(
                ctx.gdeflate_decompress(&stream).unwrap() == data,
                "round {round}: decode on the hal device"
            );
            drop(ctx);
        }
        // A device whose features the adapter lacks is refused before any Vulkan call.
        let too_much =
            ::wgpu::DeviceDescriptor { required_features: ::wgpu::Features::all(), ..Default::default() };
        let refused = hal_device::create_device_on_family(adapter, &too_much, 0).map(drop);
        assert!(refused.is_err_and(|why| why.contains("lacks features")));
    }
}
