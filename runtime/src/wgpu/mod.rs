//! The wgpu backend: the same WGSL kernels as the ash core, run through wgpu, for machines
//! and applications where the ash core cannot run (a device without the Vulkan 1.2 features
//! it needs, or an application that renders with wgpu and hands its device over).
//!
//! This module owns everything that touches wgpu in ds-runtime (feature `wgpu`, on by
//! default; only wgpu's Vulkan backend is built):
//!
//! - [`probe`] lists wgpu's adapters ([`AdapterDesc`]) and [`pick_adapter`] prefers
//!   discrete > integrated > virtual > software, like the ash core's `pick_device`.
//! - [`WgpuContext`] **creates** a device ([`WgpuContext::new`], blocking on wgpu's futures
//!   with pollster) or **adopts** an application's `wgpu::Device` and `wgpu::Queue`
//!   ([`WgpuContext::adopt`]; safe: wgpu handles are shared references). It compiles the
//!   decode kernel from [`dsr_kernels`] (its SPIR-V or its WGSL, see below) into a
//!   [`KernelPipeline`], with bind group layouts derived from the reflected bindings
//!   ([`layout_entries`]).
//! - [`WgpuContext::gdeflate_decompress`] decodes a tile stream; [`DecodeJob`] keeps pages
//!   resident for repeated dispatches (benchmarks, batches); [`WgpuContext::encode_decode`]
//!   records the kernel over caller-managed buffers ([`DecodeBindings`]) into the caller's
//!   encoder, for the streaming pipeline; [`status_error`] maps the kernel's per-tile status
//!   to the CPU's error, through the mapping every backend shares
//!   ([`crate::gpu_decode::status_error`]).
//!
//! Invariants:
//!
//! - No second copy of a kernel: the SPIR-V is [`dsr_kernels::KernelInfo::spirv`], the WGSL
//!   [`dsr_kernels::KernelInfo::wgsl`], the binding table
//!   [`dsr_kernels::KernelInfo::bindings`]. The subgroup variant
//!   ([`dsr_kernels::GDEFLATE_DECODE_SUBGROUP`]) is used only where the device has
//!   [`wgpu::Features::SUBGROUP`] and a fixed subgroup size equal to the variant's
//!   ([`runs_kernel`]); otherwise the workgroup-memory kernel runs ([`decode_kernel`] is the
//!   one place that decides; `$DSR_DECODE_KERNEL`, as for the ash core, and
//!   [`KernelOptions::decode_kernel`] override it by name).
//! - The kernels run as the ash core runs them: where the device has
//!   [`SPIRV_PASSTHROUGH_FEATURES`], the kernels crate's SPIR-V itself through wgpu's shader
//!   passthrough ([`KernelSource::Spirv`]: barriers at workgroup memory scope, no bounds
//!   clamps, no workgroup zeroing); elsewhere the WGSL compiled by wgpu
//!   ([`KernelSource::Wgsl`]) with [`ShaderChecks::Trusted`] (no bounds clamps, no workgroup
//!   zeroing, but naga's Device-scope `storageBarrier`). Both are sound under the kernels
//!   crate's contract that every kernel bounds-checks itself; [`ShaderChecks::Checked`]
//!   (WGSL only) keeps wgpu's guards. [`WgpuContext::kernel_source`] says which runs.
//! - wgpu's Vulkan device keeps `robustBufferAccess` (and `robustBufferAccess2` where
//!   offered) enabled: wgpu 30 enables them itself, its device-creation callback
//!   (`wgpu_hal::vulkan::Adapter::open_with_callback`) may not remove features, the feature
//!   struct's fields are private, and wgpu's own WGSL path relies on `robustBufferAccess2`
//!   for its buffer bounds checks; the ash core creates its device without them.
//! - wgpu's errors never panic: each fallible wgpu call runs inside error scopes and comes
//!   back as a [`WgpuError`]. A machine without Vulkan gets no adapters, not a load failure
//!   (wgpu opens the Vulkan loader at run time, as ash's `loaded` does).
//! - A created device's queue comes from the adapter's compute-only queue family where it
//!   has one, as the ash core's does ([`WgpuContext::queue_family`]): wgpu itself always
//!   opens family 0 (graphics + compute), which ran the kernels at 0.59–0.70× of the ash
//!   core on an H100. `hal_device` creates that device through wgpu-hal's raw-device path.
//! - The only `unsafe` code is the shader-module creation in [`KernelPipeline`] (one
//!   function: the SPIR-V passthrough and the trusted WGSL module, each with its `SAFETY`)
//!   and `hal_device` (the compute-only device: the hal adapter, `vkCreateDevice`, its
//!   destruction, and the hand-over to wgpu, each with its `SAFETY`).

mod context;
mod decode;
mod error;
mod hal_device;
mod pipeline;

pub use crate::gpu_decode::PageJob;
pub use ::wgpu;
pub use context::{
    AdapterDesc, KERNEL_SOURCE_ENV, KernelOptions, QUEUE_FAMILY_ENV, QueueFamily, WgpuContext, WgpuOptions,
    device_type_name, pick_adapter, probe,
};
pub use decode::{DecodeBindings, DecodeJob, decode_kernel, decode_kernels, runs_kernel, status_error};
pub use dsr_kernels;
pub use error::WgpuError;
pub use pipeline::{
    KernelPipeline, KernelSource, SPIRV_PASSTHROUGH_FEATURES, ShaderChecks, layout_entries, spirv_passthrough,
};
