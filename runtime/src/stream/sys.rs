//! The operating-system calls the streaming pipeline needs and `std` does not wrap: anonymous
//! mappings for the staging ring (huge pages when available), `statx` for the O_DIRECT
//! alignment of a file, `eventfd` (wakes the io_uring thread), `posix_fadvise` (benchmarks
//! drop a file from the page cache) and `RLIMIT_MEMLOCK` (fixed-buffer registration).
//!
//! Every `unsafe` block of the pipeline that is not an io_uring submission lives here, one
//! libc call per block. Invariant: a [`Mapping`] owns its pages from `mmap` to `munmap`; the
//! raw pointer it hands out is valid for exactly that long, and the staging ring
//! ([`super::staging`]) decides who may touch which bytes.

use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd};
use std::ptr::NonNull;

/// How the pages of a staging mapping are backed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageKind {
    /// Explicit huge pages (`MAP_HUGETLB`, 2 MiB).
    HugeTlb,
    /// Normal pages with `MADV_HUGEPAGE` accepted (transparent huge pages when the kernel
    /// can).
    Transparent,
    /// Normal 4 KiB pages.
    Normal,
}

/// Anonymous, private, read-write memory from `mmap`, unmapped on drop.
pub(crate) struct Mapping {
    ptr: NonNull<u8>,
    len: usize,
    kind: PageKind,
}

// SAFETY: the mapping is plain memory owned by this value; which bytes a thread may access is
// governed by the staging ring's chunk leases, not by the mapping.
unsafe impl Send for Mapping {}
// SAFETY: as above; `&Mapping` only exposes the pointer and length.
unsafe impl Sync for Mapping {}

const HUGE: usize = 2 << 20;

impl Mapping {
    /// `len` bytes (rounded up to 2 MiB), on explicit huge pages when the system has them
    /// reserved, else on normal pages with transparent huge pages requested.
    pub(crate) fn anonymous(len: usize) -> io::Result<Self> {
        let len = len.max(1).next_multiple_of(HUGE);
        let prot = libc::PROT_READ | libc::PROT_WRITE;
        let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
        // SAFETY: a fresh anonymous mapping at an address of the kernel's choice touches no
        // existing memory; the result is checked before use.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags | libc::MAP_HUGETLB, -1, 0) };
        if p != libc::MAP_FAILED {
            if let Some(ptr) = NonNull::new(p.cast()) {
                return Ok(Self { ptr, len, kind: PageKind::HugeTlb });
            }
        }
        // SAFETY: as above, without huge pages.
        let p = unsafe { libc::mmap(std::ptr::null_mut(), len, prot, flags, -1, 0) };
        if p == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let ptr = NonNull::new(p.cast()).ok_or_else(|| io::Error::other("mmap returned null"))?;
        // SAFETY: advice on a range this mapping owns; it changes no contents.
        let thp = unsafe { libc::madvise(p, len, libc::MADV_HUGEPAGE) } == 0;
        Ok(Self { ptr, len, kind: if thp { PageKind::Transparent } else { PageKind::Normal } })
    }

    pub(crate) fn ptr(&self) -> NonNull<u8> {
        self.ptr
    }

    #[cfg_attr(not(feature = "vulkan"), allow(dead_code))]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn kind(&self) -> PageKind {
        self.kind
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the range is exactly the one `mmap` returned; nothing uses it any more (the
        // ring, and every in-flight read into it, hold the ring's `Arc`, so the last one is
        // gone).
        unsafe { libc::munmap(self.ptr.as_ptr().cast(), self.len) };
    }
}

/// O_DIRECT alignment of a file, from `statx(STATX_DIOALIGN)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DioAlign {
    /// Required alignment of the memory address (bytes).
    pub mem: u32,
    /// Required alignment of file offsets and lengths (bytes).
    pub offset: u32,
}

/// The file's O_DIRECT alignment, or `None` when the file system does not support O_DIRECT
/// for it (or the kernel cannot say).
pub(crate) fn dio_align(file: &File) -> Option<DioAlign> {
    // SAFETY: `statx` is plain data for which all-zero bytes are a valid value.
    let mut st: libc::statx = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd, a NUL-terminated empty path with AT_EMPTY_PATH (the fd itself), and a
    // properly sized out-parameter that lives across the call.
    let rc = unsafe {
        libc::statx(file.as_raw_fd(), c"".as_ptr(), libc::AT_EMPTY_PATH, libc::STATX_DIOALIGN, &mut st)
    };
    if rc != 0 || st.stx_mask & libc::STATX_DIOALIGN == 0 || st.stx_dio_mem_align == 0 {
        return None;
    }
    Some(DioAlign { mem: st.stx_dio_mem_align, offset: st.stx_dio_offset_align })
}

/// A non-blocking-free eventfd (counter starts at 0), as a `File` so reads and writes are
/// safe.
pub(crate) fn eventfd() -> io::Result<File> {
    // SAFETY: creates a new descriptor; no memory is passed.
    let fd = unsafe { libc::eventfd(0, libc::EFD_CLOEXEC) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` was just created and is owned by nobody else.
    Ok(unsafe { File::from_raw_fd(fd) })
}

/// Asks the kernel to drop `file`'s pages from the page cache (`POSIX_FADV_DONTNEED`); dirty
/// pages are not dropped, so callers that wrote the file should `sync_all` first.
pub fn drop_page_cache(file: &File) -> io::Result<()> {
    // SAFETY: advice on a valid descriptor; no memory is passed.
    let rc = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
    if rc == 0 { Ok(()) } else { Err(io::Error::from_raw_os_error(rc)) }
}

/// The soft `RLIMIT_MEMLOCK` in bytes (`u64::MAX` when unlimited or unknown).
pub(crate) fn memlock_limit() -> u64 {
    let mut r = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: valid resource id and out-parameter.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut r) };
    if rc != 0 || r.rlim_cur == libc::RLIM_INFINITY { u64::MAX } else { r.rlim_cur }
}

#[repr(C)]
struct CachestatRange {
    off: u64,
    len: u64,
}

#[repr(C)]
#[derive(Default)]
struct Cachestat {
    nr_cache: u64,
    nr_dirty: u64,
    nr_writeback: u64,
    nr_evicted: u64,
    nr_recently_evicted: u64,
}

/// `cachestat(2)`'s number (Linux 6.5+; the same on every architecture).
const SYS_CACHESTAT: libc::c_long = 451;

fn page_size() -> u64 {
    static PAGE: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    // SAFETY: `sysconf` reads a constant of the system; no memory is passed.
    *PAGE.get_or_init(|| u64::try_from(unsafe { libc::sysconf(libc::_SC_PAGESIZE) }).unwrap_or(4096).max(512))
}

/// Whether every page of `[offset, offset + len)` of `file` is in the page cache, from
/// `cachestat(2)`, which starts no I/O. `None` when the kernel cannot say (before 6.5).
pub(crate) fn is_cached(file: &File, offset: u64, len: u64) -> Option<bool> {
    let range = CachestatRange { off: offset, len };
    let mut st = Cachestat::default();
    // SAFETY: valid descriptor, pointers to properly laid out locals that live across the
    // call, flags 0 (the only defined value).
    let rc = unsafe { libc::syscall(SYS_CACHESTAT, file.as_raw_fd(), &range, &mut st, 0u32) };
    if rc != 0 {
        return None;
    }
    let page = page_size();
    let pages = (offset + len).div_ceil(page) - offset / page;
    Some(st.nr_cache >= pages)
}
