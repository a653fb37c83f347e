//! [`HostBuffer`]: the owned host-memory destination of requests, written by several pipeline
//! workers at once in disjoint ranges.
//!
//! Why not a `Mutex<Box<[u8]>>`: requests that write one buffer (a large read cut into pieces,
//! many assets loaded into one arena) had every piece's copy or decode serialised by that one
//! lock, so host destinations were bound by a single thread's memcpy (about 4.3 GB/s on the
//! GPU machine's Xeon, where the page cache delivers 42 GB/s to 16 threads).
//!
//! The access protocol: a guard holds a byte range, registered in `Inner::held` under its
//! mutex; a range is registered only once no held range overlaps it (otherwise the caller waits),
//! and is removed when its guard drops. Pipeline writers ([`HostBuffer::write_range`]) hold
//! their pieces' ranges, so pieces of disjoint ranges are written in parallel and requests
//! with overlapping destinations stay serialised, as with the old lock; the application's
//! [`HostBuffer::lock`] holds the whole buffer, so it waits for every writer and every writer
//! waits for it.
//!
//! Invariant: every `&mut [u8]` handed out is the held range of a live guard, and held ranges
//! are pairwise disjoint. That is what makes the slice construction in `HostBuffer::hold`
//! sound. The allocation lives as long as the last
//! `HostBuffer` clone, and every guard borrows one.

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
    /// The ranges of the live guards, pairwise disjoint.
    held: Mutex<Vec<Range<usize>>>,
    /// Signalled whenever a guard drops.
    released: Condvar,
}

// SAFETY: `Inner` owns its allocation like a `Box<[u8]>` (which is Send and Sync); the raw
// pointer is only turned into slices by `HostBuffer::hold`, under the access protocol of the
// module docs, which gives each thread a range no other thread can touch.
unsafe impl Send for Inner {}
// SAFETY: as for Send: shared use goes through `held`, which hands out disjoint ranges.
unsafe impl Sync for Inner {}

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
        let held = Mutex::new(Vec::with_capacity(16));
        Self { inner: Arc::new(Inner { ptr, len, held, released: Condvar::new() }) }
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
        self.hold(0..self.inner.len)
    }

    /// A copy of the bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        self.lock().to_vec()
    }

    /// Write access to `range` for one pipeline piece: waits while [`HostBuffer::lock`] is
    /// held or another writer's range overlaps it. `None` if `range` is not inside the buffer.
    pub(crate) fn write_range(&self, range: Range<usize>) -> Option<HostBufferGuard<'_>> {
        (range.start <= range.end && range.end <= self.inner.len).then(|| self.hold(range))
    }

    fn held(&self) -> MutexGuard<'_, Vec<Range<usize>>> {
        self.inner.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Waits until no held range overlaps `range` (inside the buffer), registers it and hands
    /// out its bytes.
    fn hold(&self, range: Range<usize>) -> HostBufferGuard<'_> {
        // Both callers pass ranges inside the buffer; the slice below relies on it.
        assert!(range.start <= range.end && range.end <= self.inner.len, "range outside the buffer");
        let mut held = self.held();
        while held.iter().any(|h| h.start < range.end && range.start < h.end) {
            held = self.inner.released.wait(held).unwrap_or_else(PoisonError::into_inner);
        }
        held.push(range.clone());
        drop(held);
        let start = self.inner.ptr.as_ptr().wrapping_add(range.start);
        // SAFETY: `range` is inside the allocation (asserted above), which lives as long as
        // `self` and so as the guard's borrow; it is registered, disjoint from every other held
        // range, until the guard drops (module docs, invariant), so no other live slice
        // overlaps this one.
        let bytes = unsafe { std::slice::from_raw_parts_mut(start, range.end - range.start) };
        HostBufferGuard { buffer: self, bytes, range }
    }
}

/// A held range of a [`HostBuffer`]: the whole buffer from [`HostBuffer::lock`], or one
/// pipeline piece's range; derefs to its bytes and releases the range when dropped.
pub struct HostBufferGuard<'a> {
    buffer: &'a HostBuffer,
    bytes: &'a mut [u8],
    range: Range<usize>,
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
        let mut held = self.buffer.held();
        if let Some(i) = held.iter().position(|h| *h == self.range) {
            held.swap_remove(i);
        }
        drop(held);
        self.buffer.inner.released.notify_all();
    }
}

impl fmt::Debug for HostBufferGuard<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HostBufferGuard({:?} of {} bytes)", self.range, self.buffer.len())
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
