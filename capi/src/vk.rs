//! `dsr_vk_buffer` and `dsr_vk_image`: GPU destinations made on a Vulkan runtime's device
//! ([`dsr_core::vulkan::GpuBuffer`], [`dsr_core::vulkan::GpuImage`]), their raw Vulkan handles
//! for the application's own work, and host access for checking results.
//!
//! Invariants: a buffer or image keeps its runtime (and so its device) alive; its memory is
//! freed only when the handle is destroyed **and** no GPU work in flight uses it (the core
//! holds a reference per batch), so destroying it early never makes the GPU write freed
//! memory. Raw handles returned here are valid while the `dsr_` handle lives.

use crate::runtime::{CRuntime, dsr_runtime};
use crate::{Fail, dsr_result, guard, handles, read_in, write_out};
use ash::vk::{self, Handle};
use dsr_core::vulkan::{GpuBuffer, GpuImage, ImageDesc, ImageRegion, MemoryKind};
use std::ffi::c_void;
use std::sync::Arc;

/// A Vulkan buffer of a runtime's device (opaque handle).
pub struct dsr_vk_buffer {
    _private: [u8; 0],
}

/// A Vulkan image of a runtime's device (opaque handle).
pub struct dsr_vk_image {
    _private: [u8; 0],
}

pub(crate) struct CBuffer {
    pub(crate) buffer: Arc<GpuBuffer>,
    _runtime: Arc<CRuntime>,
}

pub(crate) struct CImage {
    pub(crate) image: Arc<GpuImage>,
    runtime: Arc<CRuntime>,
}

/// Where a buffer's memory lives (`dsr_vk_buffer_create`).
pub type dsr_vk_memory = u32;
/// Device-local, not host-accessible (the usual destination).
pub const DSR_VK_MEMORY_DEVICE_LOCAL: dsr_vk_memory = 0;
/// Host-visible, written by the CPU, read by the GPU.
pub const DSR_VK_MEMORY_UPLOAD: dsr_vk_memory = 1;
/// Host-visible (cached where possible), written by the GPU, read by the CPU.
pub const DSR_VK_MEMORY_READBACK: dsr_vk_memory = 2;

/// A box of texels of one mip level and a range of array layers (like
/// `VkImageSubresourceLayers`, `VkOffset3D` and `VkExtent3D` together). Offsets and sizes are multiples of the format's block size
/// (sizes may instead reach the mip level's edge).
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct dsr_image_region {
    /// Mip level.
    pub mip_level: u32,
    /// First array layer.
    pub array_layer: u32,
    /// Number of layers (≥ 1).
    pub layer_count: u32,
    /// Offset in texels, x.
    pub x: i32,
    /// Offset in texels, y.
    pub y: i32,
    /// Offset in texels, z.
    pub z: i32,
    /// Size in texels, x.
    pub width: u32,
    /// Size in texels, y.
    pub height: u32,
    /// Size in texels, z (1 for 2D images).
    pub depth: u32,
}

impl dsr_image_region {
    pub(crate) fn to_core(self) -> ImageRegion {
        ImageRegion {
            mip_level: self.mip_level,
            array_layer: self.array_layer,
            layer_count: self.layer_count,
            offset: vk::Offset3D { x: self.x, y: self.y, z: self.z },
            extent: vk::Extent3D { width: self.width, height: self.height, depth: self.depth },
        }
    }
}

/// What `dsr_vk_image_create` makes: a device-local, optimally tiled image (transfer source
/// and destination, sampled), moved to `VK_IMAGE_LAYOUT_GENERAL` at creation.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct dsr_vk_image_desc {
    /// A `VkFormat`: 8/16/32-bit-per-channel colour formats and BC1–7 are supported.
    pub format: u32,
    /// Width of mip level 0.
    pub width: u32,
    /// Height of mip level 0.
    pub height: u32,
    /// Depth of mip level 0 (> 1 makes a 3D image; then `array_layers` must be 1).
    pub depth: u32,
    /// Mip levels (≥ 1).
    pub mip_levels: u32,
    /// Array layers (≥ 1).
    pub array_layers: u32,
}

/// Creates a `size`-byte buffer (> 0) in `memory` (`DSR_VK_MEMORY_*`) on the runtime's
/// device into `*out`. `DSR_RESULT_UNSUPPORTED` on a runtime without Vulkan.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one pointer. The caller owns the new handle
/// ([`dsr_vk_buffer_destroy`]). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_vk_buffer_create(
    runtime: *const dsr_runtime,
    size: u64,
    memory: dsr_vk_memory,
    out: *mut *mut dsr_vk_buffer,
) -> dsr_result {
    guard(|| {
        let rt = handles::runtime(runtime)?;
        if out.is_null() {
            return Err(Fail::invalid("out is a null pointer"));
        }
        let kind = match memory {
            DSR_VK_MEMORY_DEVICE_LOCAL => MemoryKind::DeviceLocal,
            DSR_VK_MEMORY_UPLOAD => MemoryKind::Upload,
            DSR_VK_MEMORY_READBACK => MemoryKind::Readback,
            m => return Err(Fail::invalid(format!("unknown memory kind {m} (expected DSR_VK_MEMORY_*)"))),
        };
        let buffer = rt.vulkan()?.create_buffer(size, kind, "dsr_vk_buffer")?;
        let h = handles::insert(handles::Object::Buffer(Arc::new(CBuffer {
            buffer: Arc::new(buffer),
            _runtime: Arc::clone(&rt),
        })));
        // SAFETY: `out` is non-null and valid for writes (this function's contract).
        unsafe { write_out(out, h, "out") }
    })
}

/// Releases the handle; the memory is freed once no GPU work in flight uses it. A null,
/// destroyed or foreign handle is refused with `DSR_RESULT_INVALID_ARGUMENT`. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn dsr_vk_buffer_destroy(buffer: *mut dsr_vk_buffer) -> dsr_result {
    guard(|| {
        let object = handles::remove(buffer, "dsr_vk_buffer", |o| matches!(o, handles::Object::Buffer(_)))?;
        drop(object);
        Ok(())
    })
}

/// The buffer's `VkBuffer` (`*handle`, as a `uint64_t`) and size in bytes (`*size`); either
/// pointer may be null.
///
/// # Safety
///
/// `handle` and `size` are null or valid for writing one `uint64_t` each. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_vk_buffer_get_handle(
    buffer: *const dsr_vk_buffer,
    handle: *mut u64,
    size: *mut u64,
) -> dsr_result {
    guard(|| {
        let b = handles::buffer(buffer)?;
        if !handle.is_null() {
            // SAFETY: non-null and valid for writes (this function's contract).
            unsafe { write_out(handle, b.buffer.handle().as_raw(), "handle") }?;
        }
        if !size.is_null() {
            // SAFETY: as above.
            unsafe { write_out(size, b.buffer.size(), "size") }?;
        }
        Ok(())
    })
}

/// Copies `size` bytes from byte `offset` of a host-visible buffer (`DSR_VK_MEMORY_UPLOAD` or
/// `_READBACK`) into `dst`, after the GPU finished its last use of the buffer.
///
/// # Safety
///
/// `dst` is valid for writes of `size` bytes (null refused unless `size` is 0). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_vk_buffer_read(
    buffer: *const dsr_vk_buffer,
    offset: u64,
    dst: *mut c_void,
    size: u64,
) -> dsr_result {
    guard(|| {
        let b = handles::buffer(buffer)?;
        let out = host_slice_mut(dst, size)?;
        Ok(b.buffer.read(offset, out)?)
    })
}

/// Copies `size` bytes from `src` into a host-visible buffer at byte `offset`, after the GPU
/// finished its last use of the buffer.
///
/// # Safety
///
/// `src` is valid for reads of `size` bytes (null refused unless `size` is 0). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_vk_buffer_write(
    buffer: *const dsr_vk_buffer,
    offset: u64,
    src: *const c_void,
    size: u64,
) -> dsr_result {
    guard(|| {
        let b = handles::buffer(buffer)?;
        let len = usize::try_from(size).map_err(|_| Fail::invalid("size overflows"))?;
        if len == 0 {
            return Ok(b.buffer.write(offset, &[])?);
        }
        if src.is_null() {
            return Err(Fail::invalid("src is a null pointer"));
        }
        // SAFETY: non-null and valid for reads of `size` bytes (this function's contract).
        let data = unsafe { std::slice::from_raw_parts(src.cast::<u8>(), len) };
        Ok(b.buffer.write(offset, data)?)
    })
}

/// The caller's `size` bytes at `dst` as a slice; null is refused unless `size` is 0.
fn host_slice_mut<'a>(dst: *mut c_void, size: u64) -> Result<&'a mut [u8], Fail> {
    let len = usize::try_from(size).map_err(|_| Fail::invalid("size overflows"))?;
    if len == 0 {
        return Ok(&mut []);
    }
    if dst.is_null() {
        return Err(Fail::invalid("dst is a null pointer"));
    }
    // SAFETY: non-null; the public entry points calling this require `dst` to be valid for
    // writes of `size` bytes and not accessed elsewhere during the call.
    Ok(unsafe { std::slice::from_raw_parts_mut(dst.cast::<u8>(), len) })
}

/// Creates an image on the runtime's device into `*out` (see [`dsr_vk_image_desc`]).
/// `DSR_RESULT_UNSUPPORTED` on a runtime without Vulkan; `DSR_RESULT_INVALID_ARGUMENT` for an
/// unsupported format or empty extent.
///
/// # Safety
///
/// `desc` is null (refused) or valid for reads during the call; `out` null (refused) or valid
/// for writing one pointer. The caller owns the new handle ([`dsr_vk_image_destroy`]).
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_vk_image_create(
    runtime: *const dsr_runtime,
    desc: *const dsr_vk_image_desc,
    out: *mut *mut dsr_vk_image,
) -> dsr_result {
    guard(|| {
        let rt = handles::runtime(runtime)?;
        // SAFETY: null (refused) or valid for reads (this function's contract).
        let d = unsafe { read_in(desc, "desc") }?;
        if out.is_null() {
            return Err(Fail::invalid("out is a null pointer"));
        }
        let format = i32::try_from(d.format)
            .map_err(|_| Fail::invalid(format!("VkFormat {} is out of range", d.format)))?;
        let desc = ImageDesc {
            format: vk::Format::from_raw(format),
            extent: vk::Extent3D { width: d.width, height: d.height, depth: d.depth },
            mip_levels: d.mip_levels,
            array_layers: d.array_layers,
        };
        let image = rt.vulkan()?.create_image(&desc, "dsr_vk_image")?;
        let h = handles::insert(handles::Object::Image(Arc::new(CImage {
            image: Arc::new(image),
            runtime: Arc::clone(&rt),
        })));
        // SAFETY: `out` is non-null and valid for writes (this function's contract).
        unsafe { write_out(out, h, "out") }
    })
}

/// Releases the handle; the image is destroyed once no GPU work in flight uses it. A null,
/// destroyed or foreign handle is refused with `DSR_RESULT_INVALID_ARGUMENT`. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn dsr_vk_image_destroy(image: *mut dsr_vk_image) -> dsr_result {
    guard(|| {
        let object = handles::remove(image, "dsr_vk_image", |o| matches!(o, handles::Object::Image(_)))?;
        drop(object);
        Ok(())
    })
}

/// The image's `VkImage` (as a `uint64_t`) into `*out`. It is in `VK_IMAGE_LAYOUT_GENERAL`.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one `uint64_t`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_vk_image_get_handle(image: *const dsr_vk_image, out: *mut u64) -> dsr_result {
    guard(|| {
        let i = handles::image(image)?;
        // SAFETY: `out` is null or valid for writes (this function's contract).
        unsafe { write_out(out, i.image.handle().as_raw(), "out") }
    })
}

/// Copies the texels of `*region` (tightly packed; exactly its size in bytes, `size`) into
/// `dst`, waiting for the GPU: for checking results, not a fast path.
///
/// # Safety
///
/// `region` is null (refused) or valid for reads during the call; `dst` is valid for writes
/// of `size` bytes. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_vk_image_read(
    image: *const dsr_vk_image,
    region: *const dsr_image_region,
    dst: *mut c_void,
    size: u64,
) -> dsr_result {
    guard(|| {
        let i = handles::image(image)?;
        // SAFETY: null (refused) or valid for reads (this function's contract).
        let region = unsafe { read_in(region, "region") }?.to_core();
        let bytes = i.image.region_bytes(&region)?;
        if bytes != size {
            return Err(Fail::invalid(format!("the region holds {bytes} bytes, size is {size}")));
        }
        let out = host_slice_mut(dst, size)?;
        let texels = i.runtime.vulkan()?.download_image(&i.image, &region)?;
        out.copy_from_slice(&texels);
        Ok(())
    })
}
