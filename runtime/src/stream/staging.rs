//! The staging ring: memory the runtime allocates once, cut into equal chunks that reads land
//! in and decoders (CPU) or copies and kernels (GPU) consume.
//!
//! Backing, in order of preference:
//! - CPU-only runtimes: an anonymous mapping (`sys::Mapping`: explicit huge pages,
//!   else transparent huge pages, else normal pages);
//! - Vulkan runtimes: the same anonymous mapping imported into Vulkan with
//!   `VK_EXT_external_memory_host`, so the GPU copies and decodes straight out of the chunk
//!   the read landed in; when the device lacks the extension (or the driver refuses the
//!   pages), a persistently mapped host-visible Vulkan buffer instead (announced once).
//!
//! Invariants:
//! - A chunk is accessed only through its `Chunk` lease, which is unique (not `Clone`) and
//!   returns the chunk to the free list when dropped. Whoever holds the lease (the I/O engine
//!   during a read, the kernel's io_uring request through it, a CPU worker, an in-flight GPU
//!   batch's owner) is the only one touching those bytes.
//! - Every lease holds an `Arc` of the ring, so the memory outlives every read, decode and
//!   GPU command using it.

use super::sys::{Mapping, PageKind};
use std::ptr::NonNull;
use std::sync::{Arc, Condvar, Mutex, PoisonError};

enum Backing {
    Host(Mapping),
    /// The imported buffer, then the mapping (the buffer also keeps it alive until its
    /// imported memory is freed).
    #[cfg(feature = "vulkan")]
    Imported(crate::vulkan::GpuBuffer, Arc<Mapping>),
    #[cfg(feature = "vulkan")]
    Vulkan(crate::vulkan::GpuBuffer),
}

#[cfg(feature = "vulkan")]
static NOTE_MAPPED_RING: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// What memory backs the ring (for logs and benchmarks).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StagingKind {
    /// An anonymous mapping with this page kind.
    Host(PageKind),
    /// An anonymous mapping with this page kind, imported into Vulkan
    /// (`VK_EXT_external_memory_host`).
    VulkanImported(PageKind),
    /// A mapped host-visible Vulkan buffer (the fallback).
    VulkanHostVisible,
}

pub(crate) struct StagingRing {
    base: NonNull<u8>,
    chunk_size: usize,
    chunks: u32,
    backing: Backing,
    free: Mutex<Vec<u32>>,
    freed: Condvar,
}

// SAFETY: the ring is raw memory plus a mutex-protected free list; access to the bytes of a
// chunk is serialised by the unique `Chunk` lease (module invariants).
unsafe impl Send for StagingRing {}
// SAFETY: as above; `&StagingRing` gives no access to chunk bytes without a lease.
unsafe impl Sync for StagingRing {}

/// A leased chunk: exclusive access to `chunk_size` bytes of the ring.
pub(crate) struct Chunk {
    ring: Arc<StagingRing>,
    index: u32,
}

impl std::fmt::Debug for Chunk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Chunk({})", self.index)
    }
}

impl StagingRing {
    /// A ring of `chunks` chunks of `chunk_size` bytes in host memory.
    pub(crate) fn host(chunk_size: usize, chunks: u32) -> std::io::Result<Arc<Self>> {
        let mapping = Mapping::anonymous(chunk_size * chunks as usize)?;
        let base = mapping.ptr();
        Ok(Self::build(base, chunk_size, chunks, Backing::Host(mapping)))
    }

    /// A ring the GPU of `ctx` reads: imported host memory, else a mapped host-visible Vulkan
    /// buffer (announced once, with the reason).
    #[cfg(feature = "vulkan")]
    pub(crate) fn vulkan(
        ctx: &crate::vulkan::VulkanContext,
        chunk_size: usize,
        chunks: u32,
        import: bool,
    ) -> Result<Arc<Self>, crate::vulkan::VulkanError> {
        let why = if !import {
            "import disabled by the configuration".into()
        } else if ctx.can_import_host_memory() {
            match Mapping::anonymous(chunk_size * chunks as usize) {
                Ok(m) => {
                    let m = Arc::new(m);
                    let keep: Arc<dyn std::any::Any + Send + Sync> = m.clone();
                    // SAFETY: the mapping is one readable and writable allocation of `m.len()`
                    // bytes that stays mapped while `keep` (held by the buffer) lives; host
                    // access to it is serialised with GPU use by the chunk leases.
                    match unsafe { ctx.import_host_memory(m.ptr(), m.len() as u64, keep) } {
                        Ok(buffer) => {
                            let base = m.ptr();
                            return Ok(Self::build(base, chunk_size, chunks, Backing::Imported(buffer, m)));
                        }
                        Err(e) => e.to_string(),
                    }
                }
                Err(e) => format!("mapping the ring failed: {e}"),
            }
        } else {
            "the device lacks VK_EXT_external_memory_host".into()
        };
        super::io::announce(
            &NOTE_MAPPED_RING,
            &format!("staging ring in mapped host-visible Vulkan memory ({why})"),
        );
        let buffer = ctx.create_buffer(
            (chunk_size * chunks as usize) as u64,
            crate::vulkan::MemoryKind::Upload,
            "ds-runtime staging ring",
        )?;
        let base = buffer.mapped_ptr().ok_or_else(|| crate::vulkan::VulkanError::Unsupported {
            what: "the staging ring",
            why: "the host-visible buffer is not mapped".into(),
        })?;
        Ok(Self::build(base, chunk_size, chunks, Backing::Vulkan(buffer)))
    }

    fn build(base: NonNull<u8>, chunk_size: usize, chunks: u32, backing: Backing) -> Arc<Self> {
        Arc::new(Self {
            base,
            chunk_size,
            chunks,
            backing,
            free: Mutex::new((0..chunks).rev().collect()),
            freed: Condvar::new(),
        })
    }

    pub(crate) fn kind(&self) -> StagingKind {
        match &self.backing {
            Backing::Host(m) => StagingKind::Host(m.kind()),
            #[cfg(feature = "vulkan")]
            Backing::Imported(_, m) => StagingKind::VulkanImported(m.kind()),
            #[cfg(feature = "vulkan")]
            Backing::Vulkan(_) => StagingKind::VulkanHostVisible,
        }
    }

    pub(crate) fn chunk_size(&self) -> usize {
        self.chunk_size
    }

    pub(crate) fn chunks(&self) -> u32 {
        self.chunks
    }

    /// Base address and length of every chunk, for io_uring buffer registration (index =
    /// chunk index).
    pub(crate) fn iovecs(&self) -> Vec<libc::iovec> {
        (0..self.chunks)
            .map(|i| libc::iovec {
                iov_base: self.base.as_ptr().wrapping_add(i as usize * self.chunk_size).cast(),
                iov_len: self.chunk_size,
            })
            .collect()
    }

    /// The Vulkan buffer backing the ring, when it is one.
    #[cfg(feature = "vulkan")]
    pub(crate) fn gpu_buffer(&self) -> Option<&crate::vulkan::GpuBuffer> {
        match &self.backing {
            Backing::Vulkan(b) | Backing::Imported(b, _) => Some(b),
            Backing::Host(_) => None,
        }
    }

    /// A free chunk, or `None` when all are leased.
    pub(crate) fn try_acquire(self: &Arc<Self>) -> Option<Chunk> {
        let index = self.free.lock().unwrap_or_else(PoisonError::into_inner).pop()?;
        Some(Chunk { ring: Arc::clone(self), index })
    }

    /// Number of free chunks.
    pub(crate) fn free_chunks(&self) -> usize {
        self.free.lock().unwrap_or_else(PoisonError::into_inner).len()
    }
}

impl Chunk {
    pub(crate) fn index(&self) -> u32 {
        self.index
    }

    /// Byte offset of the chunk in the ring.
    #[cfg_attr(not(feature = "vulkan"), allow(dead_code))]
    pub(crate) fn ring_offset(&self) -> u64 {
        u64::from(self.index) * self.ring.chunk_size as u64
    }

    #[cfg_attr(not(feature = "vulkan"), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.ring.chunk_size
    }

    /// The chunk's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        // SAFETY: the chunk lies inside the ring's allocation (index < chunks), which lives as
        // long as `self.ring`; the lease is unique, so nothing writes these bytes while this
        // borrow of the lease lives.
        unsafe { std::slice::from_raw_parts(self.ptr(), self.ring.chunk_size) }
    }

    /// The chunk's bytes, mutably.
    pub(crate) fn bytes_mut(&mut self) -> &mut [u8] {
        // SAFETY: as in `bytes`; `&mut self` makes this the only access.
        unsafe { std::slice::from_raw_parts_mut(self.ptr(), self.ring.chunk_size) }
    }

    /// The chunk's base address, for reads the kernel performs on the lease holder's behalf.
    pub(crate) fn ptr(&self) -> *mut u8 {
        self.ring.base.as_ptr().wrapping_add(self.index as usize * self.ring.chunk_size)
    }
}

impl Drop for Chunk {
    fn drop(&mut self) {
        self.ring.free.lock().unwrap_or_else(PoisonError::into_inner).push(self.index);
        self.ring.freed.notify_all();
    }
}
