//! The I/O engine: reads file ranges into staging chunks, several at a time, and reports each
//! completed read through a callback.
//!
//! Two implementations execute the same `ReadOp`s:
//! - **io_uring** (`IoKind::Uring`): one thread owns the ring; ops arrive through a channel
//!   and an eventfd wakes the thread while it waits for completions. The staging chunks are
//!   registered as fixed buffers (`READ_FIXED`) unless `RLIMIT_MEMLOCK` is too small or the
//!   kernel refuses (then plain `READ`, announced once); files are registered in a small
//!   table (plain descriptors when it is full or registration fails).
//! - **pread pool** (`IoKind::Pread`): worker threads calling `pread` — the fallback when
//!   io_uring is unavailable (`io_uring_disabled` sysctl, seccomp), announced once, and
//!   selectable with `DSR_IO=pread` so both paths can run the same requests.
//!
//! Both loop until the op's length is read or the file ends: short reads continue where they
//! stopped, `EINTR`/`EAGAIN` are retried, end of file completes the op with the bytes read so
//! far (the caller decides whether that truncates its request), and any other error completes
//! that op alone with the error. An O_DIRECT read whose short count leaves the remainder
//! misaligned finishes through the buffered descriptor.
//!
//! Page cache first: before an op marked `direct` starts, `cachestat(2)` (which starts no
//! I/O) says whether its whole range is in the page cache; if so it is read buffered (page
//! cache speed, no device I/O), else with O_DIRECT. Kernels without `cachestat` (< 6.5) read
//! every `direct` op with O_DIRECT. (A buffered `RWF_NOWAIT` probe was tried first and
//! rejected: on a miss it still starts readahead, doubling the device traffic of cold reads.)
//!
//! Invariant (soundness of the raw buffer addresses handed to the kernel): an op's staging
//! `Chunk` lease is owned by the engine from submission until its completion is reaped, so
//! the memory stays mapped and nobody else touches it while the kernel writes; if the
//! engine thread unwinds with reads in flight, their leases are leaked, never released.

use super::file::File;
use super::staging::{Chunk, StagingRing};
use super::sys;
use io_uring::{IoUring, opcode, squeue, types};
use std::collections::VecDeque;
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::FileExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;

/// Which I/O engine a runtime uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IoKind {
    /// io_uring when the kernel allows it, else the pread pool.
    Auto,
    /// io_uring, or an error when unavailable.
    Uring,
    /// The pread thread pool.
    Pread,
}

impl IoKind {
    /// `DSR_IO` (`uring`, `pread`, `auto`; anything else or unset: `Auto`).
    pub fn from_env() -> Self {
        match std::env::var("DSR_IO").as_deref() {
            Ok("uring") | Ok("io_uring") => Self::Uring,
            Ok("pread") => Self::Pread,
            _ => Self::Auto,
        }
    }
}

/// One read: `len` bytes of `file` at `offset` into `chunk` at byte `at`.
pub(crate) struct ReadOp {
    pub(crate) file: File,
    pub(crate) offset: u64,
    pub(crate) len: usize,
    /// Use the O_DIRECT descriptor (the caller checked offset, length and address alignment).
    pub(crate) direct: bool,
    pub(crate) chunk: Chunk,
    pub(crate) at: usize,
    /// The caller's identifier, returned in [`ReadDone`].
    pub(crate) token: u64,
}

/// A finished read: the op (with its chunk back) and the bytes read (fewer than `len` only
/// at end of file) or the error.
pub(crate) struct ReadDone {
    pub(crate) op: ReadOp,
    pub(crate) result: io::Result<usize>,
}

pub(crate) type DoneFn = Arc<dyn Fn(ReadDone) + Send + Sync>;

/// Prints `msg` to stderr once per `flag` per process (fallback announcements).
pub(crate) fn announce(flag: &AtomicBool, msg: &str) {
    if !flag.swap(true, Ordering::Relaxed) {
        eprintln!("ds-runtime: note: {msg}");
    }
}

static NOTE_NO_URING: AtomicBool = AtomicBool::new(false);
static NOTE_UNREGISTERED: AtomicBool = AtomicBool::new(false);

/// The running engine.
pub(crate) enum IoEngine {
    Uring(UringEngine),
    Pread(PreadPool),
}

impl IoEngine {
    pub(crate) fn start(
        kind: IoKind,
        ring: &Arc<StagingRing>,
        depth: u32,
        register: bool,
        done: DoneFn,
    ) -> io::Result<Self> {
        match kind {
            IoKind::Pread => Ok(Self::Pread(PreadPool::start(depth.clamp(1, 16) as usize, done))),
            IoKind::Uring => Ok(Self::Uring(UringEngine::start(ring, depth, register, done)?)),
            IoKind::Auto => match UringEngine::start(ring, depth, register, Arc::clone(&done)) {
                Ok(e) => Ok(Self::Uring(e)),
                Err(e) => {
                    announce(
                        &NOTE_NO_URING,
                        &format!("io_uring unavailable ({e}); reading with a pread thread pool"),
                    );
                    Ok(Self::Pread(PreadPool::start(depth.clamp(1, 16) as usize, done)))
                }
            },
        }
    }

    pub(crate) fn kind(&self) -> IoKind {
        match self {
            Self::Uring(_) => IoKind::Uring,
            Self::Pread(_) => IoKind::Pread,
        }
    }

    /// Whether the staging chunks are registered io_uring fixed buffers.
    pub(crate) fn fixed_buffers(&self) -> bool {
        matches!(self, Self::Uring(u) if u.fixed_buffers)
    }

    pub(crate) fn submit(&self, op: ReadOp) {
        match self {
            Self::Uring(u) => u.submit(op),
            Self::Pread(p) => p.submit(op),
        }
    }
}

/// Whether a read must fail by fault injection; completes it with EIO if so.
fn injected(op: ReadOp, done: &DoneFn) -> Option<ReadOp> {
    if op.file.injected_fault(op.offset, op.len as u64) {
        done(ReadDone { op, result: Err(io::Error::from_raw_os_error(libc::EIO)) });
        None
    } else {
        Some(op)
    }
}

// ---------------------------------------------------------------------------------------
// pread pool

pub(crate) struct PreadPool {
    tx: Option<mpsc::Sender<ReadOp>>,
    threads: Vec<JoinHandle<()>>,
}

impl PreadPool {
    fn start(threads: usize, done: DoneFn) -> Self {
        let (tx, rx) = mpsc::channel::<ReadOp>();
        let rx = Arc::new(Mutex::new(rx));
        let threads = (0..threads)
            .map(|i| {
                let rx = Arc::clone(&rx);
                let done = Arc::clone(&done);
                std::thread::Builder::new()
                    .name(format!("dsr-pread-{i}"))
                    .spawn(move || {
                        loop {
                            let op = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
                            let Ok(op) = op else { return };
                            let Some(mut op) = injected(op, &done) else { continue };
                            let result = pread_all(&mut op);
                            done(ReadDone { op, result });
                        }
                    })
                    .expect("spawning a pread thread")
            })
            .collect();
        Self { tx: Some(tx), threads }
    }

    fn submit(&self, op: ReadOp) {
        if let Some(tx) = &self.tx {
            // The workers live as long as `self`; a send cannot fail before drop.
            let _ = tx.send(op);
        }
    }
}

impl Drop for PreadPool {
    fn drop(&mut self) {
        self.tx = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Most bytes one read call asks for: the file's injected cap (fault tests), kept a multiple
/// of the O_DIRECT alignment for direct reads (the kernel refuses others with EINVAL).
fn read_cap(file: &File, direct: bool) -> usize {
    let cap = file.read_cap();
    match (&file.inner.direct, direct) {
        (Some((_, a)), true) if cap != usize::MAX => {
            let a = a.offset.max(a.mem) as usize;
            (cap / a * a).max(a)
        }
        _ => cap,
    }
}

/// Reads `op.len` bytes (fewer at end of file), retrying EINTR/EAGAIN and short reads.
fn pread_all(op: &mut ReadOp) -> io::Result<usize> {
    let (offset, len, at, direct) = (op.offset, op.len, op.at, op.direct);
    let file = op.file.clone();
    let buf = &mut op.chunk.bytes_mut()[at..at + len];
    let mut done = 0;
    let mut use_direct = direct;
    if direct && sys::is_cached(&file.inner.buffered, offset, len as u64) == Some(true) {
        use_direct = false; // page cache first (see the module docs)
    }
    while done < len {
        let f = match (&file.inner.direct, use_direct) {
            (Some((d, _)), true) => d,
            _ => &file.inner.buffered,
        };
        let end = len.min(done.saturating_add(read_cap(&file, use_direct)));
        match f.read_at(&mut buf[done..end], offset + done as u64) {
            Ok(0) => break,
            Ok(n) => {
                done += n;
                if let Some((_, a)) = &file.inner.direct {
                    use_direct &= done.is_multiple_of(a.offset.max(a.mem) as usize);
                }
            }
            Err(e) if matches!(e.kind(), io::ErrorKind::Interrupted | io::ErrorKind::WouldBlock) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(done)
}

// ---------------------------------------------------------------------------------------
// io_uring

/// Smallest buffered read sent to io_uring's workers (see `UringWorker::issue`). 2 MiB: every
/// full-chunk read goes (a payload is the chunk less 8 KiB of O_DIRECT slack, so a 4 MiB
/// threshold let the CPU runtime's 4 MiB chunks, 4 MiB − 8 KiB reads, stay inline on the
/// engine's one thread), while the corpus's streams, all ≤ 1 MiB, stay inline.
const ASYNC_MIN_READ: usize = 2 << 20;

/// Whether large buffered reads go to io_uring's workers (`IOSQE_ASYNC`): yes unless
/// `DSR_IO_ASYNC=0`.
fn async_buffered() -> bool {
    static ASYNC: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *ASYNC.get_or_init(|| std::env::var_os("DSR_IO_ASYNC").is_none_or(|v| v != "0"))
}

pub(crate) struct UringEngine {
    tx: Option<mpsc::Sender<ReadOp>>,
    wake: std::fs::File,
    thread: Option<JoinHandle<()>>,
    fixed_buffers: bool,
}

const WAKE: u64 = u64::MAX;
const FILE_SLOTS: u32 = 64;

impl UringEngine {
    fn start(ring: &Arc<StagingRing>, depth: u32, register: bool, done: DoneFn) -> io::Result<Self> {
        let depth = depth.clamp(1, 1024);
        let uring = IoUring::new((depth + 2).next_power_of_two())?;
        let wanted = ring.chunk_size() as u64 * u64::from(ring.chunks());
        let iovecs = ring.iovecs();
        let registered = if register {
            // SAFETY: every iovec is a chunk of the ring's live allocation; the engine thread
            // keeps an `Arc` of the ring (below) and so the memory outlives the
            // registration, which ends when the `IoUring` is dropped by that thread.
            unsafe { uring.submitter().register_buffers(&iovecs) }
        } else {
            Err(io::Error::other("disabled by the configuration"))
        };
        let fixed_buffers = match registered {
            Ok(()) => true,
            Err(e) => {
                // Pinning counts against RLIMIT_MEMLOCK (without CAP_IPC_LOCK).
                announce(
                    &NOTE_UNREGISTERED,
                    &format!(
                        "registering the {wanted}-byte staging ring with io_uring failed ({e}; RLIMIT_MEMLOCK is {} bytes); reading into unregistered buffers",
                        sys::memlock_limit()
                    ),
                );
                false
            }
        };
        let fixed_files = uring.submitter().register_files_sparse(FILE_SLOTS).is_ok();
        let wake = sys::eventfd()?;
        let wake_rx = wake.try_clone()?;
        let (tx, rx) = mpsc::channel();
        let ring_ref = Arc::clone(ring);
        let thread = std::thread::Builder::new().name("dsr-io-uring".into()).spawn(move || {
            let mut w = UringWorker {
                uring,
                ring: ring_ref,
                depth: depth as usize,
                fixed_buffers,
                files: if fixed_files { (0..FILE_SLOTS).map(|_| None).collect() } else { Vec::new() },
                tick: 0,
                slab: Slab { ops: Vec::new(), free: Vec::new(), live: 0 },
                pending: VecDeque::new(),
                wake: wake_rx,
                wake_buf: Box::new([0u8; 8]),
                wake_armed: false,
                done,
                cqes: Vec::with_capacity(depth as usize + 1),
            };
            w.run(rx);
        })?;
        Ok(Self { tx: Some(tx), wake, thread: Some(thread), fixed_buffers })
    }

    fn submit(&self, op: ReadOp) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(op);
            // Wakes the thread if it waits for completions; a failed write only delays.
            let _ = (&self.wake).write_all(&1u64.to_ne_bytes());
        }
    }
}

impl Drop for UringEngine {
    fn drop(&mut self) {
        self.tx = None;
        let _ = (&self.wake).write_all(&1u64.to_ne_bytes());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct InFlight {
    op: ReadOp,
    done: usize,
    use_direct: bool,
    file_slot: Option<u32>,
    /// Which descriptor `file_slot` holds (direct or buffered).
    slot_direct: bool,
}

/// In-flight ops by user_data. Dropping it with ops in flight (only on unwinding) leaks
/// their leases: the kernel may still write into those chunks.
struct Slab {
    ops: Vec<Option<InFlight>>,
    free: Vec<usize>,
    live: usize,
}

impl Drop for Slab {
    fn drop(&mut self) {
        for f in self.ops.drain(..).flatten() {
            std::mem::forget(f);
        }
    }
}

struct UringWorker {
    uring: IoUring,
    /// Keeps the registered memory alive as long as the ring.
    #[allow(dead_code)]
    ring: Arc<StagingRing>,
    depth: usize,
    fixed_buffers: bool,
    /// Registered-file table: (file, direct descriptor?, users in flight, last use).
    files: Vec<Option<(File, bool, u32, u64)>>,
    tick: u64,
    slab: Slab,
    pending: VecDeque<ReadOp>,
    wake: std::fs::File,
    wake_buf: Box<[u8; 8]>,
    wake_armed: bool,
    done: DoneFn,
    /// Completions of one reap (reused).
    cqes: Vec<(u64, i32)>,
}

/// Pushes one SQE.
///
/// # Safety
/// `buf..buf+len` must stay valid and untouched by anyone else until the SQE's completion is
/// reaped (the worker keeps the owning lease, or the eventfd buffer, until then).
unsafe fn push(uring: &mut IoUring, entry: &squeue::Entry) -> bool {
    // SAFETY: the caller upholds the buffer contract above; the entry is fully built.
    unsafe { uring.submission().push(entry) }.is_ok()
}

impl UringWorker {
    fn run(&mut self, rx: mpsc::Receiver<ReadOp>) {
        let mut closing = false;
        loop {
            loop {
                match rx.try_recv() {
                    Ok(op) => self.pending.push_back(op),
                    Err(mpsc::TryRecvError::Empty) => break,
                    Err(mpsc::TryRecvError::Disconnected) => {
                        closing = true;
                        break;
                    }
                }
            }
            while self.slab.live < self.depth {
                let Some(op) = self.pending.pop_front() else { break };
                let Some(op) = injected(op, &self.done) else { continue };
                self.start(op);
            }
            if self.slab.live == 0 {
                if closing {
                    break;
                }
                match rx.recv() {
                    Ok(op) => {
                        self.pending.push_back(op);
                        continue;
                    }
                    Err(_) => break,
                }
            }
            if !self.wake_armed {
                let e = opcode::Read::new(types::Fd(self.wake.as_raw_fd()), self.wake_buf.as_mut_ptr(), 8)
                    .build()
                    .user_data(WAKE);
                // SAFETY: `wake_buf` is owned by the worker and outlives the SQE: the worker
                // completes it before exiting (end of `run`).
                self.wake_armed = unsafe { push(&mut self.uring, &e) };
            }
            match self.uring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) || e.raw_os_error() == Some(libc::EBUSY) => {}
                Err(e) => {
                    // The ring itself failed: fail everything in flight is impossible (the
                    // kernel may still own the buffers), so report and keep reaping.
                    eprintln!("ds-runtime: io_uring_enter failed: {e}");
                }
            }
            self.reap();
        }
        // Complete the armed eventfd read so the kernel no longer references `wake_buf`.
        while self.wake_armed {
            let _ = (&self.wake).write_all(&1u64.to_ne_bytes());
            let _ = self.uring.submit_and_wait(1);
            self.reap();
        }
    }

    fn file_slot(&mut self, file: &File, direct: bool) -> Option<u32> {
        if self.files.is_empty() {
            return None;
        }
        self.tick += 1;
        let tick = self.tick;
        if let Some(i) = self.files.iter().position(|s| {
            s.as_ref().is_some_and(|(f, d, _, _)| *d == direct && Arc::ptr_eq(&f.inner, &file.inner))
        }) {
            if let Some(s) = self.files[i].as_mut() {
                s.2 += 1;
                s.3 = tick;
            }
            return Some(i as u32);
        }
        // A free slot, else the least recently used one nobody has in flight.
        let victim = self.files.iter().position(Option::is_none).or_else(|| {
            self.files
                .iter()
                .enumerate()
                .filter(|(_, s)| s.as_ref().is_some_and(|s| s.2 == 0))
                .min_by_key(|(_, s)| s.as_ref().map_or(0, |s| s.3))
                .map(|(i, _)| i)
        })?;
        let fd = match (&file.inner.direct, direct) {
            (Some((d, _)), true) => d.as_raw_fd(),
            _ => file.inner.buffered.as_raw_fd(),
        };
        self.uring.submitter().register_files_update(victim as u32, &[fd]).ok()?;
        self.files[victim] = Some((file.clone(), direct, 1, tick));
        Some(victim as u32)
    }

    fn start(&mut self, op: ReadOp) {
        // Page cache first (see the module docs).
        let use_direct = op.direct
            && op.file.inner.direct.is_some()
            && sys::is_cached(&op.file.inner.buffered, op.offset, op.len as u64) != Some(true);
        let file_slot = self.file_slot(&op.file, use_direct);
        let f = InFlight { op, done: 0, use_direct, file_slot, slot_direct: use_direct };
        let id = match self.slab.free.pop() {
            Some(id) => {
                self.slab.ops[id] = Some(f);
                id
            }
            None => {
                self.slab.ops.push(Some(f));
                self.slab.ops.len() - 1
            }
        };
        self.slab.live += 1;
        self.issue(id);
    }

    /// Pushes the SQE for the unread remainder of op `id`.
    fn issue(&mut self, id: usize) {
        let Some(f) = self.slab.ops[id].as_mut() else { return };
        let remaining = (f.op.len - f.done).min(read_cap(&f.op.file, f.use_direct));
        let buf = f.op.chunk.ptr().wrapping_add(f.op.at + f.done);
        let offset = f.op.offset + f.done as u64;
        let len = u32::try_from(remaining).unwrap_or(!4095);
        let fd = match (&f.op.file.inner.direct, f.use_direct) {
            (Some((d, _)), true) => d.as_raw_fd(),
            _ => f.op.file.inner.buffered.as_raw_fd(),
        };
        // The registered slot holds the descriptor of the mode the op started with.
        let slot = f.file_slot.filter(|_| f.use_direct == f.slot_direct);
        let index = f.op.chunk.index() as u16;
        let entry = match (slot, self.fixed_buffers) {
            (Some(s), true) => {
                opcode::ReadFixed::new(types::Fixed(s), buf, len, index).offset(offset).build()
            }
            (Some(s), false) => opcode::Read::new(types::Fixed(s), buf, len).offset(offset).build(),
            (None, true) => opcode::ReadFixed::new(types::Fd(fd), buf, len, index).offset(offset).build(),
            (None, false) => opcode::Read::new(types::Fd(fd), buf, len).offset(offset).build(),
        }
        .user_data(id as u64);
        // A buffered read of cached pages completes inline, inside `io_uring_enter`, on this one
        // thread: every cached byte would be copied by it alone. Forcing large ones to
        // io_uring's workers lets the reads in flight copy in parallel (H100 host, `end_to_end`
        // warm, 8 MiB reads: 8.7-9.2 -> 11.6-12.8 GB/s decoded). Small ones stay inline:
        // their copy is short, and the hop to a worker only adds latency (with a 1 MiB threshold
        // the corpus's 15 streams, 1.8 MB, whose largest, 1 MiB, went to a worker: 1.14-1.17 ->
        // 0.93 GB/s). O_DIRECT reads are
        // asynchronous anyway. `DSR_IO_ASYNC=0` turns it off, for comparison.
        let to_workers = !f.use_direct && remaining >= ASYNC_MIN_READ && async_buffered();
        let entry = if to_workers { entry.flags(squeue::Flags::ASYNC) } else { entry };
        // SAFETY: `buf..buf+len` is inside the op's chunk (at + len ≤ chunk size, checked by
        // the scheduler), whose lease the slab owns until this op's completion is reaped.
        let pushed = unsafe { push(&mut self.uring, &entry) };
        if !pushed {
            // The SQ holds depth + 2 entries and at most depth + 1 are outstanding; flush and
            // retry once rather than lose the op.
            let _ = self.uring.submit();
            // SAFETY: as above.
            let again = unsafe { push(&mut self.uring, &entry) };
            if !again {
                self.finish(id, Err(io::Error::other("io_uring submission queue full")));
            }
        }
    }

    fn finish(&mut self, id: usize, result: io::Result<usize>) {
        if let Some(f) = self.slab.ops[id].take() {
            self.slab.free.push(id);
            self.slab.live -= 1;
            if let Some(s) = f.file_slot.and_then(|s| self.files.get_mut(s as usize)).and_then(Option::as_mut)
            {
                s.2 -= 1;
            }
            (self.done)(ReadDone { op: f.op, result });
        }
    }

    fn reap(&mut self) {
        let mut events = std::mem::take(&mut self.cqes);
        events.clear();
        events.extend(self.uring.completion().map(|cqe| (cqe.user_data(), cqe.result())));
        for &(ud, res) in &events {
            if ud == WAKE {
                self.wake_armed = false;
                continue;
            }
            let id = ud as usize;
            let Some(f) = self.slab.ops.get_mut(id).and_then(Option::as_mut) else { continue };
            if res == -libc::EINTR || res == -libc::EAGAIN {
                self.issue(id);
            } else if res < 0 {
                self.finish(id, Err(io::Error::from_raw_os_error(-res)));
            } else if res == 0 {
                let n = f.done;
                self.finish(id, Ok(n));
            } else {
                f.done += res as usize;
                if f.done >= f.op.len {
                    let n = f.done.min(f.op.len);
                    self.finish(id, Ok(n));
                } else {
                    if let Some((_, a)) = &f.op.file.inner.direct {
                        f.use_direct &= f.done.is_multiple_of(a.offset.max(a.mem) as usize);
                    }
                    self.issue(id);
                }
            }
        }
        self.cqes = events;
    }
}
