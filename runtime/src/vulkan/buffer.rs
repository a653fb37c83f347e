//! [`GpuBuffer`]: a `VkBuffer` with memory from gpu-allocator, and [`BufferSlice`], a range
//! of one to bind or copy.
//!
//! Invariants: a buffer is destroyed and its memory freed only when the last reference is
//! gone, and every in-flight batch holds one, so the GPU never uses freed memory. Host reads
//! and writes first wait for the last submission that used the buffer, so they never race
//! the GPU. Host-visible memory comes from gpu-allocator's `CpuToGpu` / `GpuToCpu`
//! locations, which are always `HOST_COHERENT` (no flush or invalidate needed).

use super::context::{DeviceShared, VulkanContext, lock};
use super::error::{VulkanError, vk_err};
use ash::vk;
use gpu_allocator::MemoryLocation;
use gpu_allocator::vulkan::{Allocation, AllocationCreateDesc, AllocationScheme};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where a buffer's memory lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MemoryKind {
    /// Device-local, not host-accessible: kernel inputs and outputs.
    DeviceLocal,
    /// Host-visible, written by the CPU and read by the GPU: staging uploads, parameters.
    Upload,
    /// Host-visible (cached where possible), written by the GPU and read by the CPU.
    Readback,
}

impl MemoryKind {
    fn location(self) -> MemoryLocation {
        match self {
            Self::DeviceLocal => MemoryLocation::GpuOnly,
            Self::Upload => MemoryLocation::CpuToGpu,
            Self::Readback => MemoryLocation::GpuToCpu,
        }
    }
}

pub(crate) struct BufferInner {
    pub(crate) shared: Arc<DeviceShared>,
    pub(crate) buffer: vk::Buffer,
    pub(crate) size: u64,
    kind: MemoryKind,
    /// `None` only during creation and drop.
    allocation: Mutex<Option<Allocation>>,
    /// Timeline value of the last submission that uses this buffer (0: none).
    pub(crate) last_use: AtomicU64,
    /// The buffer's device address, or 0 where the context has no device addresses (only the
    /// driver's decompression uses them).
    pub(crate) address: u64,
    /// Imported host memory (`host_import.rs`) instead of an allocation: the memory object,
    /// freed on drop, and the owner of the host pages, dropped after it.
    imported: Option<(vk::DeviceMemory, Arc<dyn std::any::Any + Send + Sync>)>,
}

impl BufferInner {
    /// A buffer bound to imported host memory; `imported` is freed (and then `keep_alive`
    /// dropped) when the last reference goes.
    pub(crate) fn from_imported(
        shared: Arc<DeviceShared>,
        buffer: vk::Buffer,
        size: u64,
        memory: vk::DeviceMemory,
        keep_alive: Arc<dyn std::any::Any + Send + Sync>,
    ) -> Self {
        Self {
            shared,
            buffer,
            size,
            kind: MemoryKind::Upload,
            allocation: Mutex::new(None),
            last_use: AtomicU64::new(0),
            address: 0,
            imported: Some((memory, keep_alive)),
        }
    }
}

impl Drop for BufferInner {
    fn drop(&mut self) {
        // No submission uses the buffer any more: each in-flight one holds a reference.
        // SAFETY: the buffer (or null, if creation failed early) belongs to `shared.device`
        // and is not in use by the GPU (see above).
        unsafe { self.shared.device.destroy_buffer(self.buffer, None) };
        let allocation = self.allocation.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let Some(a) = allocation {
            if let Some(allocator) = lock(&self.shared.allocator).as_mut() {
                // A failure here only leaks memory that the allocator's drop frees anyway.
                let _ = allocator.free(a);
            }
        }
        if let Some((memory, keep_alive)) = self.imported.take() {
            // SAFETY: the memory was imported for this buffer only, which was destroyed above
            // and is not in use by the GPU; the host pages stay alive until `keep_alive` goes,
            // right after (the import's contract: valid for the memory object's lifetime).
            unsafe { self.shared.device.free_memory(memory, None) };
            drop(keep_alive);
        }
    }
}

/// A GPU buffer usable as storage or uniform buffer and as copy source and destination.
/// Freed when dropped and no longer used by submitted work.
pub struct GpuBuffer {
    pub(crate) inner: Arc<BufferInner>,
}

impl std::fmt::Debug for GpuBuffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuBuffer")
            .field("size", &self.inner.size)
            .field("kind", &self.inner.kind)
            .field("last_use", &self.inner.last_use.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

/// A byte range of a [`GpuBuffer`], checked to lie inside it.
#[derive(Debug, Clone, Copy)]
pub struct BufferSlice<'a> {
    pub(crate) buffer: &'a GpuBuffer,
    pub(crate) offset: u64,
    pub(crate) size: u64,
}

impl BufferSlice<'_> {
    /// Byte offset in the buffer.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Length in bytes (never 0).
    pub fn size(&self) -> u64 {
        self.size
    }
}

impl GpuBuffer {
    /// Size in bytes.
    pub fn size(&self) -> u64 {
        self.inner.size
    }

    /// Where the memory lives.
    pub fn kind(&self) -> MemoryKind {
        self.inner.kind
    }

    /// The Vulkan handle (valid while `self` lives).
    pub fn handle(&self) -> vk::Buffer {
        self.inner.buffer
    }

    /// Timeline value of the last submission using the buffer (0: never used).
    pub fn last_use(&self) -> u64 {
        self.inner.last_use.load(Ordering::Acquire)
    }

    /// The whole buffer.
    pub fn whole(&self) -> BufferSlice<'_> {
        BufferSlice { buffer: self, offset: 0, size: self.inner.size }
    }

    /// `size` bytes from `offset`; refused when empty or past the end.
    pub fn slice(&self, offset: u64, size: u64) -> Result<BufferSlice<'_>, VulkanError> {
        match offset.checked_add(size) {
            Some(end) if size > 0 && end <= self.inner.size => Ok(BufferSlice { buffer: self, offset, size }),
            _ => Err(VulkanError::InvalidArgument(format!(
                "slice {offset}+{size} of a {}-byte buffer is empty or out of bounds",
                self.inner.size
            ))),
        }
    }

    /// Copies `data` into the buffer at `offset`, after the GPU finished its last use of it.
    /// Only for [`MemoryKind::Upload`] and [`MemoryKind::Readback`] buffers.
    pub fn write(&self, offset: u64, data: &[u8]) -> Result<(), VulkanError> {
        self.with_mapped(offset, data.len(), |mapped| mapped.copy_from_slice(data))
    }

    /// Copies bytes from `offset` into `out`, after the GPU finished its last use of the
    /// buffer. Only for [`MemoryKind::Upload`] and [`MemoryKind::Readback`] buffers.
    pub fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), VulkanError> {
        self.with_mapped(offset, out.len(), |mapped| out.copy_from_slice(mapped))
    }

    /// The persistent host mapping of a host-visible buffer (`None` for device-local memory),
    /// valid as long as the buffer lives. For the streaming pipeline's staging ring, which
    /// serialises access to its bytes itself (host writes before submission, GPU reads after).
    pub(crate) fn mapped_ptr(&self) -> Option<std::ptr::NonNull<u8>> {
        lock(&self.inner.allocation).as_ref().and_then(Allocation::mapped_ptr).map(|p| p.cast())
    }

    fn with_mapped(&self, offset: u64, len: usize, f: impl FnOnce(&mut [u8])) -> Result<(), VulkanError> {
        if self.inner.kind == MemoryKind::DeviceLocal {
            return Err(VulkanError::InvalidArgument(
                "device-local buffers are not host-accessible; use upload/download".into(),
            ));
        }
        let range = usize::try_from(offset)
            .ok()
            .and_then(|start| Some(start..start.checked_add(len)?))
            .filter(|r| r.end as u64 <= self.inner.size)
            .ok_or_else(|| {
                VulkanError::InvalidArgument(format!(
                    "host access {offset}+{len} past the end of a {}-byte buffer",
                    self.inner.size
                ))
            })?;
        let last = self.last_use();
        if last > 0 {
            self.inner.shared.wait_value(last, Duration::MAX)?;
        }
        let mut allocation = lock(&self.inner.allocation);
        let mapped = allocation.as_mut().and_then(Allocation::mapped_slice_mut).ok_or_else(|| {
            VulkanError::Unsupported { what: "host access", why: "the buffer's memory is not mapped".into() }
        })?;
        f(&mut mapped[range]);
        Ok(())
    }
}

impl VulkanContext {
    /// Creates a buffer of `size` bytes (> 0) in `kind` memory. `name` labels the allocation
    /// in gpu-allocator's reports.
    pub fn create_buffer(&self, size: u64, kind: MemoryKind, name: &str) -> Result<GpuBuffer, VulkanError> {
        if size == 0 {
            return Err(VulkanError::InvalidArgument("buffers cannot be empty".into()));
        }
        let shared = &self.shared;
        let mut usage = vk::BufferUsageFlags::STORAGE_BUFFER
            | vk::BufferUsageFlags::UNIFORM_BUFFER
            | vk::BufferUsageFlags::TRANSFER_SRC
            | vk::BufferUsageFlags::TRANSFER_DST;
        let addressed = self.features().buffer_device_address;
        if addressed {
            usage |= vk::BufferUsageFlags::SHADER_DEVICE_ADDRESS;
        }
        let info =
            vk::BufferCreateInfo::default().size(size).usage(usage).sharing_mode(vk::SharingMode::EXCLUSIVE);
        // SAFETY: valid device and create info; the buffer is owned by the `BufferInner` built
        // right after, whose drop destroys it.
        let buffer = unsafe { shared.device.create_buffer(&info, None) }.map_err(vk_err("vkCreateBuffer"))?;
        let mut inner = BufferInner {
            shared: Arc::clone(shared),
            buffer,
            size,
            kind,
            allocation: Mutex::new(None),
            last_use: AtomicU64::new(0),
            address: 0,
            imported: None,
        };
        // SAFETY: `buffer` is a valid buffer of the device.
        let requirements = unsafe { shared.device.get_buffer_memory_requirements(buffer) };
        let allocation = lock(&shared.allocator)
            .as_mut()
            .ok_or_else(|| VulkanError::Unsupported { what: "allocation", why: "no allocator".into() })?
            .allocate(&AllocationCreateDesc {
                name,
                requirements,
                location: kind.location(),
                linear: true,
                allocation_scheme: AllocationScheme::GpuAllocatorManaged,
            })?;
        // SAFETY: the memory handle is only bound to `buffer` below, and the allocation is freed
        // only after the buffer is destroyed (`BufferInner::drop`).
        let memory = unsafe { allocation.memory() };
        let offset = allocation.offset();
        *lock(&inner.allocation) = Some(allocation);
        // SAFETY: `memory` at `offset` was allocated for `requirements` of this unbound buffer
        // (gpu-allocator honours size, alignment and memory type bits); it stays allocated until
        // `inner` is dropped, after the buffer is destroyed.
        unsafe { shared.device.bind_buffer_memory(buffer, memory, offset) }
            .map_err(vk_err("vkBindBufferMemory"))?;
        if addressed {
            let info = vk::BufferDeviceAddressInfo::default().buffer(buffer);
            // SAFETY: `buffer` was created with SHADER_DEVICE_ADDRESS usage on a device with
            // `bufferDeviceAddress` enabled, and is bound to memory allocated with the device
            // address flag (gpu-allocator's `buffer_device_address`, set for such contexts).
            inner.address = unsafe { shared.device.get_buffer_device_address(&info) };
        }
        Ok(GpuBuffer { inner: Arc::new(inner) })
    }
}
