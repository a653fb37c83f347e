//! [`HostBuffer`]: the owned host-memory destination of requests, written by several pipeline
//! workers at once in disjoint ranges.
//!
//! Why not a `Mutex<Box<[u8]>>`: requests that write one buffer (a large read cut into pieces,
//! many assets loaded into one arena) had every piece's copy or decode serialised by that one
//! lock, so host destinations were bound by a single thread's memcpy (about 4.3 GB/s on the
//! GPU machine's Xeon, where the page cache delivers 42 GB/s to 16 threads).
//!
//! The access protocol, enforced under one small mutex (`Access`):
//! - **writers** ([`HostBuffer::write_range`], pipeline only) hold a byte range; any number may
//!   be active while their ranges are pairwise disjoint — a writer whose range overlaps an
//!   active one waits for it (requests with overlapping destinations stay serialised, as with
//!   the old lock);
//! - the **exclusive** holder ([`HostBuffer::lock`], the application) has the whole buffer;
//!   it waits until no writer is active, and writers wait while it holds it.
//!
//! Invariant: every `&mut [u8]` handed out (a writer's range or the exclusive guard's whole
//! buffer) is disjoint from every other one alive, because it exists only between its
//! registration and its guard's drop, and registration checks that under the mutex. That is
//! what makes the slice construction (`HostBuffer::slice_mut`, the module's one `unsafe fn`)
//! sound. The
//! allocation lives as long as the last `HostBuffer` clone, and every guard borrows one.

use std::fmt;
use std::ops::{Deref, DerefMut, Range};
use std::ptr::NonNull;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};

/// Host memory the pipeline writes into: an owned, zero-initialised byte buffer shared
/// between the caller and the queue. Read it after the request completed
/// ([`HostBuffer::lock`], [`HostBuffer::to_vec`]); while requests write into it, `lock`
/// waits for them. Pieces of requests writing disjoint ranges of one buffer are written in
/// parallel.
#[derive(Clone)]
pub struct HostBuffer {
    inner: Arc<Inner>,
}

struct Inner {
    /// `len` bytes from `Box::<[u8]>::into_raw`, freed in `Drop`.
    ptr: NonNull<u8>,
    len: usize,
    access: Mutex<Access>,
    changed: Condvar,
}

// SAFETY: `Inner` owns its allocation like a `Box<[u8]>` (which is Send and Sync); the raw
// pointer is only turned into slices by `HostBuffer::slice_mut`, under the access protocol
// of the module docs, which gives each thread a range no other thread can touch.
unsafe impl Send for Inner {}
// SAFETY: as for Send: shared use goes through `access`, which hands out disjoint ranges.
unsafe impl Sync for Inner {}

#[derive(Default)]
struct Access {
    exclusive: bool,
    /// Ranges of the active writers, pairwise disjoint.
    writers: Vec<Range<usize>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        let whole = std::ptr::slice_from_raw_parts_mut(self.ptr.as_ptr(), self.len);
        // SAFETY: `ptr`/`len` came from `Box::into_raw` of a `Box<[u8]>` of exactly this length
        // (`HostBuffer::new`), and this is the last owner: no guard outlives its `HostBuffer`.
        drop(unsafe { Box::from_raw(whole) });
    }
}

impl fmt::Debug for HostBuffer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostBuffer({} bytes)", self.len())
    }
}

impl HostBuffer {
    /// `len` zero bytes.
    pub fn new(len: usize) -> Self {
        let raw = Box::into_raw(vec![0u8; len].into_boxed_slice());
        // `Box::into_raw` never returns null (an empty slice gets a dangling, non-null one).
        let ptr = NonNull::new(raw.cast::<u8>()).expect("Box::into_raw is non-null");
        let access = Mutex::new(Access { exclusive: false, writers: Vec::with_capacity(16) });
        Self { inner: Arc::new(Inner { ptr, len, access, changed: Condvar::new() }) }
    }

    /// Length in bytes.
    pub fn len(&self) -> usize {
        self.inner.len
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Exclusive access to the bytes (waits while the pipeline writes into them, and blocks
    /// the pipeline's writes while held).
    pub fn lock(&self) -> HostBufferGuard<'_> {
        let mut access = self.access();
        while access.exclusive || !access.writers.is_empty() {
            access = self.inner.changed.wait(access).unwrap_or_else(PoisonError::into_inner);
        }
        access.exclusive = true;
        drop(access);
        // SAFETY: the whole buffer is registered (`exclusive`, no writer) until the guard drops.
        let bytes = unsafe { self.slice_mut(0..self.inner.len) };
        HostBufferGuard { buffer: self, bytes }
    }

    /// A copy of the bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.lock().to_vec()
    }

    /// Write access to `range` for one pipeline piece: waits while the exclusive lock is held
    /// or an active writer's range overlaps it. `None` if `range` is not inside the buffer.
    pub(crate) fn write_range(&self, range: Range<usize>) -> Option<HostRange<'_>> {
        if range.start > range.end || range.end > self.inner.len {
            return None;
        }
        let mut access = self.access();
        while access.exclusive || access.writers.iter().any(|w| w.start < range.end && range.start < w.end) {
            access = self.inner.changed.wait(access).unwrap_or_else(PoisonError::into_inner);
        }
        access.writers.push(range.clone());
        drop(access);
        // SAFETY: `range` is inside the buffer (checked above) and registered, disjoint from
        // every other writer's and with no exclusive holder, until the `HostRange` drops.
        let bytes = unsafe { self.slice_mut(range.clone()) };
        Some(HostRange { buffer: self, bytes, range })
    }

    fn access(&self) -> MutexGuard<'_, Access> {
        self.inner.access.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The bytes of `range`.
    ///
    /// # Safety
    /// `range` is inside the buffer, and the caller has registered it under `access` (as a
    /// writer's range, or the whole buffer as the exclusive holder) for as long as the slice
    /// lives: then no other live slice overlaps it (module docs, invariant).
    // A `&mut` from `&self` is the point: the exclusivity comes from the access protocol
    // (registration under `access`), not from the borrow, and the contract above says so.
    #[allow(clippy::mut_from_ref)]
    unsafe fn slice_mut(&self, range: Range<usize>) -> &mut [u8] {
        debug_assert!(range.start <= range.end && range.end <= self.inner.len);
        let start = self.inner.ptr.as_ptr().wrapping_add(range.start);
        // SAFETY: in bounds of the allocation, which lives as long as `self` and so as the
        // returned borrow; exclusive for its lifetime by the caller's contract.
        unsafe { std::slice::from_raw_parts_mut(start, range.end - range.start) }
    }
}

/// Exclusive access to a [`HostBuffer`]'s bytes ([`HostBuffer::lock`]); derefs to `[u8]`.
pub struct HostBufferGuard<'a> {
    buffer: &'a HostBuffer,
    bytes: &'a mut [u8],
}

impl Deref for HostBufferGuard<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes
    }
}

impl DerefMut for HostBufferGuard<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.bytes
    }
}

impl Drop for HostBufferGuard<'_> {
    fn drop(&mut self) {
        self.buffer.access().exclusive = false;
        self.buffer.inner.changed.notify_all();
    }
}

impl fmt::Debug for HostBufferGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostBufferGuard({} bytes)", self.bytes.len())
    }
}

/// One writer's range of a [`HostBuffer`] ([`HostBuffer::write_range`]); derefs to the
/// range's bytes.
pub(crate) struct HostRange<'a> {
    buffer: &'a HostBuffer,
    bytes: &'a mut [u8],
    range: Range<usize>,
}

impl Deref for HostRange<'_> {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.bytes
    }
}

impl DerefMut for HostRange<'_> {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.bytes
    }
}

impl Drop for HostRange<'_> {
    fn drop(&mut self) {
        let mut access = self.buffer.access();
        if let Some(i) = access.writers.iter().position(|w| *w == self.range) {
            access.writers.swap_remove(i);
        }
        drop(access);
        self.buffer.inner.changed.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::time::Duration;

    #[test]
    fn disjoint_writers_run_at_the_same_time_and_each_range_gets_its_bytes() {
        let buf = HostBuffer::new(64 * 1024);
        let barrier = std::sync::Barrier::new(8);
        std::thread::scope(|s| {
            for t in 0..8u8 {
                let (buf, barrier) = (&buf, &barrier);
                s.spawn(move || {
                    let at = usize::from(t) * 8192;
                    let mut w = buf.write_range(at..at + 8192).unwrap();
                    // All eight hold their ranges at once: with one lock this would deadlock.
                    barrier.wait();
                    w.fill(t + 1);
                });
            }
        });
        let bytes = buf.to_vec();
        for (i, b) in bytes.iter().enumerate() {
            assert_eq!(usize::from(*b), i / 8192 + 1, "byte {i}");
        }
    }

    #[test]
    fn an_overlapping_writer_waits_for_the_active_one() {
        let buf = HostBuffer::new(100);
        let first = buf.write_range(10..50).unwrap();
        let second_done = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut w = buf.write_range(40..60).unwrap();
                w.fill(2);
                second_done.store(true, Ordering::SeqCst);
            });
            std::thread::sleep(Duration::from_millis(50));
            assert!(!second_done.load(Ordering::SeqCst), "overlapping writer ran while the first was active");
            let mut first = first;
            first.fill(1);
            drop(first);
        });
        assert!(second_done.load(Ordering::SeqCst));
        let v = buf.to_vec();
        assert!(v[10..40].iter().all(|&b| b == 1) && v[40..60].iter().all(|&b| b == 2));
        assert!(v[..10].iter().chain(&v[60..]).all(|&b| b == 0));
    }

    #[test]
    fn lock_waits_for_writers_and_writers_wait_for_lock() {
        let buf = HostBuffer::new(16);
        let w = buf.write_range(0..4).unwrap();
        let locked = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                let g = buf.lock();
                locked.store(true, Ordering::SeqCst);
                assert_eq!(&g[..4], &[7; 4]);
            });
            std::thread::sleep(Duration::from_millis(50));
            assert!(!locked.load(Ordering::SeqCst), "lock() returned while a writer was active");
            let mut w = w;
            w.fill(7);
        });
        let guard = buf.lock();
        let wrote = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                buf.write_range(8..12).unwrap().fill(1);
                wrote.store(true, Ordering::SeqCst);
            });
            std::thread::sleep(Duration::from_millis(50));
            assert!(!wrote.load(Ordering::SeqCst), "a writer ran while lock() was held");
            drop(guard);
        });
        assert_eq!(buf.to_vec()[8..12], [1; 4]);
    }

    #[test]
    fn ranges_outside_the_buffer_are_refused() {
        let buf = HostBuffer::new(8);
        assert!(buf.write_range(4..9).is_none());
        #[allow(clippy::reversed_empty_ranges)] // the point of the test
        let backwards = 6..5;
        assert!(buf.write_range(backwards).is_none());
        assert!(buf.write_range(8..8).is_some());
        assert!(HostBuffer::new(0).write_range(0..0).is_some());
        assert!(HostBuffer::new(0).to_vec().is_empty());
    }
}
