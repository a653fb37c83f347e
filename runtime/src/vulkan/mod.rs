//! The ash Vulkan core: devices, memory, kernel pipelines and timeline-semaphore submission.
//!
//! This module owns everything that touches Vulkan in ds-runtime (feature `vulkan`, on by
//! default), including the GPU GDeflate decode.
//!
//! - [`probe`] lists the physical devices with the properties the runtime cares about.
//! - [`VulkanContext`] either **creates** an instance and device ([`VulkanContext::new`]) or
//!   **adopts** an application's ([`VulkanContext::adopt`], raw handles; the application
//!   keeps ownership and shares its queue lock). It builds one compute pipeline per entry of
//!   [`dsr_kernels::KERNELS`], with descriptor set layouts derived from the reflected
//!   bindings, and submits [`Batch`]es that signal a timeline semaphore.
//! - [`GpuBuffer`] is memory from gpu-allocator, freed when the last handle *and* the last
//!   in-flight batch using it are gone.
//! - [`VulkanContext::copy_words`] and friends run the `copy` kernel end to end.
//! - [`VulkanContext::gdeflate_decompress`] decodes a tile stream with the `gdeflate_decode`
//!   kernel; [`DecodeJob`] keeps pages resident for repeated dispatches (benchmarks,
//!   batches), and [`status_error`] maps the kernel's per-tile status to the CPU's error.
//!
//! Invariants:
//!
//! - The Vulkan loader is opened at run time (`ash`'s `loaded` feature); a machine without
//!   one gets [`VulkanError::Unsupported`], never a link or load failure.
//! - Objects are destroyed only after the GPU is done with them: an in-flight batch holds a
//!   reference to every buffer it uses until its timeline value is reached, and dropping the
//!   context waits for the last submitted value first.
//! - Adopted handles (instance, device) are never destroyed; only objects this module
//!   created on them are.
//! - `unsafe` is confined to this module's Vulkan calls, one call per block, each with the
//!   reason it is sound; the only `unsafe fn` in the public API is
//!   [`VulkanContext::adopt`], whose contract the caller upholds.

mod buffer;
mod context;
mod copy;
mod decode;
mod error;
#[cfg(feature = "glsl")]
mod fill;
mod host_import;
mod image;
mod pipeline;
mod probe;
mod submit;

pub use ash;
pub use buffer::{BufferSlice, GpuBuffer, MemoryKind};
pub use context::{AdoptDesc, ContextOptions, DeviceFeatures, VulkanContext};
pub use decode::{
    AUTO_UNCHECKED, DECODE_KERNEL_ENV, DRIVER_DECODE, DecodeBindings, DecodeChoice, DecodeJob, DecodeSplit,
    PageJob, status_error,
};
pub use dsr_kernels;
pub use error::VulkanError;
pub use image::{GpuImage, ImageDesc, ImageRegion, texel_block};
pub use pipeline::{KernelPipeline, LayoutBinding, layout_bindings};
pub use probe::{ApiVersion, DeviceInfo, DeviceType, pick_device, probe};
pub use submit::Batch;
