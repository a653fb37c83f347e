//! Host memory imported into Vulkan with `VK_EXT_external_memory_host`: a [`GpuBuffer`] whose
//! memory is pages the caller allocated (the streaming pipeline's staging ring), so the GPU
//! copies and decodes the very bytes the I/O engine read, with no staging copy.
//!
//! The extension is enabled on devices [`VulkanContext::new`] creates when they have it
//! (adopted devices: not used). Invariants: the imported range is aligned to
//! `minImportedHostPointerAlignment` (checked here), and the pages outlive the memory object —
//! the buffer holds the caller's `keep_alive` and drops it only after `vkFreeMemory`
//! (`BufferInner`'s drop), which happens only after the last batch using the buffer retired.

use super::buffer::{BufferInner, GpuBuffer};
use super::context::VulkanContext;
use super::error::{VulkanError, vk_err};
use ash::vk;
use std::any::Any;
use std::ptr::NonNull;
use std::sync::Arc;

/// `minImportedHostPointerAlignment` of `pd` (which has the extension).
pub(crate) fn alignment(instance: &ash::Instance, pd: vk::PhysicalDevice) -> u64 {
    let mut host = vk::PhysicalDeviceExternalMemoryHostPropertiesEXT::default();
    let mut props2 = vk::PhysicalDeviceProperties2::default().push_next(&mut host);
    // SAFETY: `pd` belongs to `instance` (1.1+, core call); the chained struct is valid for a
    // device with the extension and lives until the call returns.
    unsafe { instance.get_physical_device_properties2(pd, &mut props2) };
    host.min_imported_host_pointer_alignment.max(1)
}

impl VulkanContext {
    /// Whether host memory can be imported, as the streaming pipeline does with its staging
    /// ring: the device has `VK_EXT_external_memory_host` and the context created it.
    pub fn can_import_host_memory(&self) -> bool {
        self.host_import_alignment > 0
    }

    /// Wraps `len` bytes of host memory at `ptr` in a buffer (usable as storage buffer and copy
    /// source/destination) without copying. `keep_alive` owns the pages; the buffer drops it
    /// after freeing the imported memory.
    ///
    /// Errors: [`VulkanError::Unsupported`] without the extension or when the driver refuses
    /// the pointer; [`VulkanError::InvalidArgument`] for a misaligned or empty range.
    ///
    /// # Safety
    /// `ptr..ptr + len` is one host allocation, readable and writable, that stays mapped as
    /// long as `keep_alive` lives; the caller serialises host access with GPU use (e.g. the
    /// staging ring's chunk leases).
    pub(crate) unsafe fn import_host_memory(
        &self,
        ptr: NonNull<u8>,
        len: u64,
        keep_alive: Arc<dyn Any + Send + Sync>,
    ) -> Result<GpuBuffer, VulkanError> {
        let align = self.host_import_alignment;
        if align == 0 {
            return Err(VulkanError::Unsupported {
                what: "importing host memory",
                why: "the device lacks VK_EXT_external_memory_host (or the context was adopted)".into(),
            });
        }
        if len == 0 || !len.is_multiple_of(align) || !(ptr.as_ptr() as u64).is_multiple_of(align) {
            return Err(VulkanError::InvalidArgument(format!(
                "host import of {len} bytes at {ptr:p}: needs a non-empty range aligned to {align} bytes"
            )));
        }
        let shared = &self.shared;
        let ext = ash::ext::external_memory_host::Device::new(&shared.instance, &shared.device);
        let handle = vk::ExternalMemoryHandleTypeFlags::HOST_ALLOCATION_EXT;
        let mut host_props = vk::MemoryHostPointerPropertiesEXT::default();
        let get = ext.fp().get_memory_host_pointer_properties_ext;
        // SAFETY: the extension is enabled on the device (so the pointer was loaded); `ptr` is
        // a host allocation (caller's contract) and `host_props` lives across the call.
        unsafe { get(ext.device(), handle, ptr.as_ptr().cast(), &mut host_props) }.result().map_err(
            |result| VulkanError::Unsupported {
                what: "importing host memory",
                why: format!("vkGetMemoryHostPointerPropertiesEXT refused the pointer: {result}"),
            },
        )?;
        let mut external = vk::ExternalMemoryBufferCreateInfo::default().handle_types(handle);
        let usage = vk::BufferUsageFlags::STORAGE_BUFFER
            | vk::BufferUsageFlags::TRANSFER_SRC
            | vk::BufferUsageFlags::TRANSFER_DST;
        let info = vk::BufferCreateInfo::default()
            .size(len)
            .usage(usage)
            .sharing_mode(vk::SharingMode::EXCLUSIVE)
            .push_next(&mut external);
        // SAFETY: valid device and create info (external handle type of an enabled extension);
        // the buffer is owned by the `BufferInner` built below (or destroyed on error).
        let buffer = unsafe { shared.device.create_buffer(&info, None) }.map_err(vk_err("vkCreateBuffer"))?;
        let destroy = |e: VulkanError| {
            // SAFETY: the buffer was created above and never bound or used.
            unsafe { shared.device.destroy_buffer(buffer, None) };
            e
        };
        // SAFETY: `buffer` is a valid buffer of the device.
        let req = unsafe { shared.device.get_buffer_memory_requirements(buffer) };
        let bits = req.memory_type_bits & host_props.memory_type_bits;
        if bits == 0 || req.size > len {
            return Err(destroy(VulkanError::Unsupported {
                what: "importing host memory",
                why: format!(
                    "no memory type fits both the buffer ({:#x}, {} bytes) and the pointer ({:#x})",
                    req.memory_type_bits, req.size, host_props.memory_type_bits
                ),
            }));
        }
        let mut import = vk::ImportMemoryHostPointerInfoEXT::default()
            .handle_type(handle)
            .host_pointer(ptr.as_ptr().cast());
        let alloc = vk::MemoryAllocateInfo::default()
            .allocation_size(len)
            .memory_type_index(bits.trailing_zeros())
            .push_next(&mut import);
        // SAFETY: the memory type supports the pointer (queried above); the range is aligned
        // and stays valid while `keep_alive` lives, which the buffer holds until after the
        // memory is freed (`BufferInner`'s drop).
        let memory = unsafe { shared.device.allocate_memory(&alloc, None) }
            .map_err(|result| destroy(VulkanError::Vk { call: "vkAllocateMemory (host import)", result }))?;
        let inner = BufferInner::from_imported(Arc::clone(shared), buffer, len, memory, keep_alive);
        // SAFETY: `memory` was allocated for this unbound buffer's requirements (size ≤ len,
        // offset 0 meets any alignment, type in its bits); it is freed only by `inner`'s drop,
        // after the buffer is destroyed.
        unsafe { shared.device.bind_buffer_memory(buffer, memory, 0) }
            .map_err(vk_err("vkBindBufferMemory"))?;
        Ok(GpuBuffer { inner: Arc::new(inner) })
    }
}
