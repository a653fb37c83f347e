//! `dsr_queue` and `dsr_request`: DirectStorage-style request queues over
//! [`dsr_core::stream::Queue`], with completion reported into status slots and C callbacks.
//!
//! Every enqueued request becomes an [`Entry`] holding its [`Ticket`]. The core queue calls
//! [`CQueue::on_complete`] (its queue callback) once per finished request; that finds the
//! finished entries, removes them, and *settles* each outside the lock: (1) copies a memory
//! destination's bytes from the internal buffer into the caller's memory, (2) drops the
//! ticket (the core slot is reused), (3) calls the request's C callback, (4) completes its own
//! status slot and the queue markers covering it.
//!
//! Markers (`dsr_queue_enqueue_status`, DirectStorage's `EnqueueStatus`) complete when every
//! request enqueued on the queue before them has finished; their result is the first failure
//! (cancellation included) among the requests enqueued between the previous marker and them
//! (DirectStorage's `GetHResult` rule): the first marker covering a request gets its failure,
//! later ones only wait for it, and a request that failed before any marker covered it goes
//! to the next marker.
//!
//! Invariants: an entry is removed from the table exactly once, under the table lock, by
//! whoever sees its ticket finished first (the callback, an enqueuer that finds its request
//! already finished, `reap`, or the queue's drop), and settled exactly once by that thread;
//! `settling` counts entries removed but not yet settled, so `dsr_queue_drain` returns only
//! after every status and callback of the requests it drained.

use crate::file::dsr_file;
use crate::runtime::CRuntime;
use crate::status::{Marker, StatusArray, dsr_status_array};
use crate::vk::{dsr_image_region, dsr_vk_buffer, dsr_vk_image};
use crate::{Fail, dsr_result, fill_c_array, guard, handles, read_in, write_out};
use dsr_core::stream::{
    Completion, Compression, Destination, HostBuffer, Priority, Queue, QueueDesc, RejectReason, Rejected,
    Request, RequestError, Source, Ticket,
};
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::ffi::{CString, c_char, c_void};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::Duration;

/// A request queue (opaque handle).
pub struct dsr_queue {
    _private: [u8; 0],
}

/// Scheduling priority (`dsr_queue_desc::priority`), strict: the scheduler serves the
/// highest priority with work ready; equal priorities take turns. The values are names, not
/// an order (0 is the default, `DSR_PRIORITY_NORMAL`, so a zeroed description is valid).
pub type dsr_priority = u32;
/// The default.
pub const DSR_PRIORITY_NORMAL: dsr_priority = 0;
/// Background streaming (below normal).
pub const DSR_PRIORITY_LOW: dsr_priority = 1;
/// Needed soon (above normal).
pub const DSR_PRIORITY_HIGH: dsr_priority = 2;
/// Needed now (above high).
pub const DSR_PRIORITY_REALTIME: dsr_priority = 3;

/// How to create a queue. All-zero means 256 slots, normal priority, named "queue".
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsr_queue_desc {
    /// Slots: requests enqueued, running, or finished with their outcome not yet delivered
    /// (0: 256).
    pub capacity: u32,
    /// `DSR_PRIORITY_*`.
    pub priority: dsr_priority,
    /// Name for diagnostics (NUL-terminated, copied; null: "queue").
    pub name: *const c_char,
}

/// Where a request reads from (`dsr_source::kind`).
pub type dsr_source_kind = u32;
/// `size` bytes of `file` from byte `offset`.
pub const DSR_SOURCE_FILE: dsr_source_kind = 0;
/// `size` bytes at `memory` (`offset` must be 0).
pub const DSR_SOURCE_MEMORY: dsr_source_kind = 1;

/// A request's source.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsr_source {
    /// `DSR_SOURCE_*`.
    pub kind: dsr_source_kind,
    /// `DSR_SOURCE_FILE`: the file.
    pub file: *const dsr_file,
    /// `DSR_SOURCE_MEMORY`: the bytes; must stay valid and unchanged until the request
    /// completes (its status slot or callback reports it).
    pub memory: *const c_void,
    /// `DSR_SOURCE_FILE`: first byte in the file.
    pub offset: u64,
    /// Number of bytes read.
    pub size: u64,
}

/// Where a request's output goes (`dsr_destination::kind`).
pub type dsr_destination_kind = u32;
/// Host memory: `size` bytes at `memory` (the output must fit; it is written from the
/// start). The runtime decodes into its own buffer and copies into `memory` when the request
/// finishes, before its callback and status: one extra copy, not zero-copy yet.
pub const DSR_DESTINATION_MEMORY: dsr_destination_kind = 0;
/// A `dsr_vk_buffer` of the runtime, from byte `offset` (GDeflate needs a buffer size that
/// is a multiple of 4).
pub const DSR_DESTINATION_VK_BUFFER: dsr_destination_kind = 1;
/// A region of a `dsr_vk_image` of the runtime; the output is the region's texels, tightly
/// packed, exactly the region's size. The image stays in `VK_IMAGE_LAYOUT_GENERAL`.
pub const DSR_DESTINATION_VK_IMAGE: dsr_destination_kind = 2;

/// A request's destination.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsr_destination {
    /// `DSR_DESTINATION_*`.
    pub kind: dsr_destination_kind,
    /// `DSR_DESTINATION_MEMORY`: where to write; valid for writes of `size` bytes until the
    /// request completes, and not accessed by the caller meanwhile.
    pub memory: *mut c_void,
    /// `DSR_DESTINATION_MEMORY`: bytes available at `memory`.
    pub size: u64,
    /// `DSR_DESTINATION_VK_BUFFER`: the buffer.
    pub buffer: *const dsr_vk_buffer,
    /// `DSR_DESTINATION_VK_BUFFER`: first byte written.
    pub offset: u64,
    /// `DSR_DESTINATION_VK_IMAGE`: the image.
    pub image: *const dsr_vk_image,
    /// `DSR_DESTINATION_VK_IMAGE`: the region written.
    pub region: dsr_image_region,
}

/// How the source is compressed (`dsr_request::compression`).
pub type dsr_compression = u32;
/// Stored: the output is the source bytes.
pub const DSR_COMPRESSION_NONE: dsr_compression = 0;
/// A DirectStorage GDeflate tile stream decoding to exactly `uncompressed_size` bytes
/// (checked against its header: `DSR_RESULT_CORRUPT_DATA` on a mismatch).
pub const DSR_COMPRESSION_GDEFLATE: dsr_compression = 1;

/// What a completion callback is told; valid during the call only.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsr_completion {
    /// The request's tag.
    pub tag: u64,
    /// Its outcome.
    pub result: dsr_result,
    /// Its name (NUL-terminated; empty when it had none).
    pub name: *const c_char,
    /// What went wrong (NUL-terminated; empty on success).
    pub message: *const c_char,
}

/// Called once when a request finishes, on a pipeline thread (or the thread calling
/// `dsr_queue_cancel` / `dsr_queue_destroy`), after its destination is written and before
/// its status slot completes. It must return quickly and must not wait on queues or status
/// slots (it may enqueue with `dsr_queue_try_enqueue`).
pub type dsr_completion_fn =
    Option<unsafe extern "C" fn(user_data: *mut c_void, completion: *const dsr_completion)>;

/// One load: read `source`, decode per `compression`, write `destination`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsr_request {
    /// Where the bytes come from.
    pub source: dsr_source,
    /// Where the output goes.
    pub destination: dsr_destination,
    /// `DSR_COMPRESSION_*`.
    pub compression: dsr_compression,
    /// `DSR_COMPRESSION_GDEFLATE`: the decoded size.
    pub uncompressed_size: u64,
    /// Cancellation tag (`dsr_queue_cancel`).
    pub tag: u64,
    /// Name for diagnostics and error records (NUL-terminated, copied; may be null).
    pub name: *const c_char,
    /// Null, or a status array whose slot `status_index` this request completes.
    pub status_array: *const dsr_status_array,
    /// Slot of `status_array`.
    pub status_index: u32,
    /// Null, or called once when the request finishes (see [`dsr_completion_fn`]).
    pub callback: dsr_completion_fn,
    /// Passed to `callback`.
    pub user_data: *mut c_void,
}

/// A caller's pointer the pipeline may use on another thread: the C caller guarantees the
/// memory (or user data) stays valid until the request completes and may be used from any
/// thread (the `# Safety` contract of `dsr_queue_enqueue`).
#[derive(Clone, Copy)]
struct SendPtr(*mut c_void);
// SAFETY: see the type's docs — thread-safety of what it points to is the caller's contract.
unsafe impl Send for SendPtr {}
// SAFETY: as above; the pipeline only reads memory sources, and writes memory destinations
// from exactly one thread (the one settling the request).
unsafe impl Sync for SendPtr {}

/// The bytes of a memory source, borrowed from the C caller until the request completes.
struct CallerBytes {
    ptr: SendPtr,
    len: usize,
}

impl AsRef<[u8]> for CallerBytes {
    fn as_ref(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: `dsr_queue_enqueue`'s contract: `len` bytes at `ptr` (non-null, checked at
        // enqueue) stay valid and unchanged until the request completes, and the pipeline
        // reads them only before it completes.
        unsafe { std::slice::from_raw_parts(self.ptr.0.cast::<u8>(), self.len) }
    }
}

/// A memory destination: the internal buffer decoded into, and where to copy it.
struct CopyOut {
    buffer: HostBuffer,
    dst: SendPtr,
}

/// One enqueued, unsettled request.
struct Entry {
    ticket: Ticket,
    tag: u64,
    name: CString,
    gpu: bool,
    copy_out: Option<CopyOut>,
    own_status: Option<Arc<Marker>>,
    markers: Vec<Arc<Marker>>,
    callback: Option<(unsafe extern "C" fn(*mut c_void, *const dsr_completion), SendPtr)>,
}

struct Table {
    next_seq: u64,
    entries: BTreeMap<u64, Entry>,
    /// First failure of a request that finished with no marker covering it yet (goes to the
    /// next marker).
    unmarked_error: Option<Fail>,
    /// Entries removed and not yet settled.
    settling: u32,
}

pub(crate) struct CQueue {
    /// `Some` until the drop, which drops it first (cancelling and waiting), then settles.
    queue: Option<Queue>,
    runtime: Arc<CRuntime>,
    table: Mutex<Table>,
    settled: Condvar,
    semaphore: u64,
}

/// The C result code and message of a request outcome.
pub(crate) fn request_result(r: &Result<(), RequestError>) -> Result<(), Fail> {
    let Err(e) = r else { return Ok(()) };
    let code = match e {
        RequestError::Cancelled => crate::DSR_RESULT_CANCELLED,
        RequestError::Io { kind: std::io::ErrorKind::NotFound, .. } => crate::DSR_RESULT_NOT_FOUND,
        RequestError::Io { .. } => crate::DSR_RESULT_IO,
        RequestError::Truncated { .. } => crate::DSR_RESULT_END_OF_FILE,
        RequestError::Decode(_) => crate::DSR_RESULT_CORRUPT_DATA,
        RequestError::Gpu(_) => crate::DSR_RESULT_VULKAN,
        _ => crate::DSR_RESULT_INTERNAL,
    };
    Err(Fail::new(code, e.to_string()))
}

fn reject_fail(r: &Rejected) -> Fail {
    let code = match r.reason {
        RejectReason::Full => crate::DSR_RESULT_FULL,
        RejectReason::Closed => crate::DSR_RESULT_CLOSED,
        RejectReason::Invalid(_) => crate::DSR_RESULT_INVALID_ARGUMENT,
        RejectReason::Unsupported { .. } => crate::DSR_RESULT_UNSUPPORTED,
        _ => crate::DSR_RESULT_INTERNAL,
    };
    Fail::new(code, r.to_string())
}

impl CQueue {
    fn lock(&self) -> MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn queue(&self) -> &Queue {
        self.queue.as_ref().expect("the queue lives until the drop")
    }

    /// The core queue's callback: settles the finished entries matching `done`.
    fn on_complete(&self, done: &Completion<'_>) {
        let mut found = Vec::new();
        {
            let mut t = self.lock();
            let seqs: Vec<u64> = t
                .entries
                .iter()
                .filter(|(_, e)| e.tag == done.tag && e.name.as_bytes() == done.name.as_bytes())
                .map(|(&s, _)| s)
                .collect();
            for s in seqs {
                if let Some(r) = t.entries[&s].ticket.wait_timeout(Duration::ZERO) {
                    found.push(Self::take(&mut t, s, r));
                    break;
                }
            }
        }
        self.settle_all(found);
    }

    /// Removes entry `seq` (finished with `r`) for settling; call with the lock held.
    fn take(t: &mut Table, seq: u64, r: Result<(), RequestError>) -> (Entry, Result<(), Fail>) {
        let e = t.entries.remove(&seq).expect("present");
        let r = request_result(&r);
        if let Err(f) = &r {
            if e.markers.is_empty() {
                t.unmarked_error.get_or_insert_with(|| f.clone());
            }
        }
        t.settling += 1;
        (e, r)
    }

    /// Removes and settles every finished entry (outcomes a callback could not deliver).
    pub(crate) fn reap(&self) {
        let found = {
            let mut t = self.lock();
            let done: Vec<_> = t
                .entries
                .iter()
                .filter_map(|(&s, e)| e.ticket.wait_timeout(Duration::ZERO).map(|r| (s, r)))
                .collect();
            done.into_iter().map(|(s, r)| Self::take(&mut t, s, r)).collect()
        };
        self.settle_all(found);
    }

    fn settle_all(&self, found: Vec<(Entry, Result<(), Fail>)>) {
        if found.is_empty() {
            return;
        }
        let n = found.len() as u32;
        for (e, r) in found {
            settle(e, r);
        }
        self.lock().settling -= n;
        self.settled.notify_all();
    }

    /// The highest timeline value of the unsettled GPU requests `marker` covers, or why
    /// there is none yet.
    pub(crate) fn timeline_of(&self, marker: &Arc<Marker>) -> Result<u64, String> {
        let t = self.lock();
        let mut value = 0;
        for e in t.entries.values() {
            let covers = e.own_status.as_ref().is_some_and(|m| Arc::ptr_eq(m, marker))
                || e.markers.iter().any(|m| Arc::ptr_eq(m, marker));
            if !covers {
                continue;
            }
            if !e.gpu {
                return Err("it covers a request with a host destination (no semaphore covers it)".into());
            }
            value = value.max(e.ticket.timeline_value().ok_or("GPU work not submitted yet")?);
        }
        Ok(value)
    }
}

/// Delivers one finished request: memory copy, ticket, callback, status slots.
fn settle(e: Entry, mut r: Result<(), Fail>) {
    if r.is_ok() {
        if let Some(c) = &e.copy_out {
            let src = c.buffer.lock();
            // SAFETY: `dsr_queue_enqueue`'s contract: the destination is valid for writes of
            // `destination.size` bytes until the request completes (which is after this), not
            // accessed by the caller meanwhile; `src.len()` (the output size) ≤ that size,
            // checked at enqueue; the internal buffer does not overlap caller memory.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), c.dst.0.cast::<u8>(), src.len()) };
        }
    }
    let timeline = if e.gpu && r.is_ok() { e.ticket.timeline_value().unwrap_or(0) } else { 0 };
    drop(e.ticket);
    if let Some((f, user)) = e.callback {
        let message = CString::new(r.as_ref().err().map(|f| f.msg.replace('\0', " ")).unwrap_or_default())
            .unwrap_or_default();
        let c = dsr_completion {
            tag: e.tag,
            result: r.as_ref().err().map_or(crate::DSR_RESULT_OK, |f| f.code),
            name: e.name.as_ptr(),
            message: message.as_ptr(),
        };
        // SAFETY: `f` is the caller's callback, callable from any thread with its user data
        // (`dsr_queue_enqueue`'s contract); `c` and the strings it points at outlive the call.
        let called = std::panic::catch_unwind(|| unsafe { f(user.0, &c) });
        if called.is_err() {
            r = Err(Fail::new(crate::DSR_RESULT_INTERNAL, "the completion callback panicked"));
        }
    }
    if let Some(m) = &e.own_status {
        m.finish_one(&r, timeline);
    }
    // DirectStorage's rule: a status entry reports the requests between it and the previous
    // entry, so only the first marker covering a request (its epoch's) gets its failure;
    // later markers only wait for it.
    for (i, m) in e.markers.iter().enumerate() {
        m.finish_one(if i == 0 { &r } else { &Ok(()) }, timeline);
    }
}

impl Drop for CQueue {
    /// Drops the core queue first (cancels what has not finished and waits for the pieces in
    /// flight), then settles everything: every status slot and callback gets its outcome.
    fn drop(&mut self) {
        drop(self.queue.take());
        let mut t = self.lock();
        let entries = std::mem::take(&mut t.entries);
        drop(t);
        for (_, e) in entries {
            let r = e.ticket.wait_timeout(Duration::ZERO).unwrap_or(Err(RequestError::Cancelled));
            settle(e, request_result(&r));
        }
    }
}

/// Creates a queue on `runtime` into `*out` (`desc` null: 256 slots, normal priority).
///
/// # Safety
///
/// `desc` is null or valid for reads during the call (and `desc->name` null or
/// NUL-terminated); `out` is null (refused) or valid for writing one pointer. The caller owns
/// the new handle ([`dsr_queue_destroy`]); the queue keeps its runtime alive. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_queue_create(
    runtime: *const crate::runtime::dsr_runtime,
    desc: *const dsr_queue_desc,
    out: *mut *mut dsr_queue,
) -> dsr_result {
    guard(|| {
        let rt = handles::runtime(runtime)?;
        if out.is_null() {
            return Err(Fail::invalid("out is a null pointer"));
        }
        let (capacity, priority, name) = if desc.is_null() {
            (256, Priority::Normal, "queue".to_owned())
        } else {
            // SAFETY: non-null and valid for reads (this function's contract).
            let d = unsafe { read_in(desc, "desc") }?;
            let priority = match d.priority {
                DSR_PRIORITY_LOW => Priority::Low,
                DSR_PRIORITY_NORMAL => Priority::Normal,
                DSR_PRIORITY_HIGH => Priority::High,
                DSR_PRIORITY_REALTIME => Priority::Realtime,
                p => return Err(Fail::invalid(format!("unknown priority {p} (expected DSR_PRIORITY_*)"))),
            };
            // SAFETY: null or NUL-terminated (this function's contract).
            let name = unsafe { crate::c_text(d.name) }.unwrap_or_else(|| "queue".into());
            (if d.capacity == 0 { 256 } else { d.capacity }, priority, name)
        };
        let q = Arc::new_cyclic(|weak: &Weak<CQueue>| {
            let weak = weak.clone();
            let callback: dsr_core::stream::Callback = Arc::new(move |done: &Completion<'_>| {
                if let Some(q) = weak.upgrade() {
                    // A panic here would unwind into the pipeline's thread: report and go on.
                    if std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| q.on_complete(done))).is_err()
                    {
                        eprintln!("ds-runtime C ABI: internal error settling request `{}`", done.name);
                    }
                    // If `dsr_queue_destroy` ran meanwhile, this may be the last reference:
                    // dropping the queue waits for the pipeline, which this thread is part
                    // of, so the drop goes to a thread of its own.
                    if let Some(last) = Arc::into_inner(q) {
                        // ManuallyDrop: if no thread can be started, the queue leaks rather
                        // than being dropped here.
                        let last = std::mem::ManuallyDrop::new(last);
                        let spawned = std::thread::Builder::new()
                            .name("dsr-queue-drop".into())
                            .spawn(move || drop(std::mem::ManuallyDrop::into_inner(last)));
                        if let Err(e) = spawned {
                            eprintln!("ds-runtime C ABI: cannot drop a destroyed queue ({e}); leaking it");
                        }
                    }
                }
            });
            let queue = rt.rt.create_queue(QueueDesc {
                capacity,
                priority,
                name: Cow::Owned(name),
                callback: Some(callback),
            });
            let semaphore = {
                use ash::vk::Handle;
                queue.timeline_semaphore().map_or(0, |s| s.as_raw())
            };
            CQueue {
                queue: Some(queue),
                runtime: Arc::clone(&rt),
                table: Mutex::new(Table {
                    next_seq: 0,
                    entries: BTreeMap::new(),
                    unmarked_error: None,
                    settling: 0,
                }),
                settled: Condvar::new(),
                semaphore,
            }
        });
        let h = handles::insert(handles::Object::Queue(q));
        // SAFETY: `out` is non-null and valid for writes (this function's contract).
        unsafe { write_out(out, h, "out") }
    })
}

/// Releases the handle. Unfinished requests are cancelled (`DSR_RESULT_CANCELLED`), pieces in
/// flight are waited for, and every request's callback and status slot get their outcome
/// before this returns (unless another thread is still inside a call on this queue: then when
/// that call returns). A null, destroyed or foreign handle is refused with
/// `DSR_RESULT_INVALID_ARGUMENT`. Thread-safe; not from a callback.
#[unsafe(no_mangle)]
pub extern "C" fn dsr_queue_destroy(queue: *mut dsr_queue) -> dsr_result {
    guard(|| {
        let object = handles::remove(queue, "dsr_queue", |o| matches!(o, handles::Object::Queue(_)))?;
        drop(object);
        Ok(())
    })
}

/// Builds the core request of `r` and what settling it needs.
///
/// # Safety
///
/// As `dsr_queue_enqueue`: `r.name` null or NUL-terminated.
unsafe fn build(r: &dsr_request) -> Result<(Request, Option<CopyOut>, bool), Fail> {
    let compression = match r.compression {
        DSR_COMPRESSION_NONE => Compression::None,
        DSR_COMPRESSION_GDEFLATE => Compression::GDeflate { uncompressed_size: r.uncompressed_size },
        c => return Err(Fail::invalid(format!("unknown compression {c} (expected DSR_COMPRESSION_*)"))),
    };
    let s = &r.source;
    let source = match s.kind {
        DSR_SOURCE_FILE => {
            let f = handles::file(s.file)?;
            Source::File { file: f.file.clone(), offset: s.offset, size: s.size }
        }
        DSR_SOURCE_MEMORY => {
            if s.offset != 0 {
                return Err(Fail::invalid("a memory source reads from `memory`: its offset must be 0"));
            }
            if s.memory.is_null() && s.size > 0 {
                return Err(Fail::invalid("memory source is a null pointer"));
            }
            let len = usize::try_from(s.size).map_err(|_| Fail::invalid("memory source size overflows"))?;
            let data: dsr_core::stream::MemoryBytes =
                Arc::new(CallerBytes { ptr: SendPtr(s.memory.cast_mut()), len });
            Source::Memory { data, offset: 0, size: len }
        }
        k => return Err(Fail::invalid(format!("unknown source kind {k} (expected DSR_SOURCE_*)"))),
    };
    let output = match compression {
        Compression::None => s.size,
        Compression::GDeflate { uncompressed_size } => uncompressed_size,
    };
    let d = &r.destination;
    let mut copy_out = None;
    let mut gpu = true;
    let destination = match d.kind {
        DSR_DESTINATION_MEMORY => {
            gpu = false;
            if d.size < output {
                return Err(Fail::invalid(format!(
                    "{output} output bytes do not fit the {}-byte memory destination",
                    d.size
                )));
            }
            if d.memory.is_null() && output > 0 {
                return Err(Fail::invalid("memory destination is a null pointer"));
            }
            let len = usize::try_from(output).map_err(|_| Fail::invalid("output size overflows"))?;
            let buffer = HostBuffer::new(len);
            copy_out = Some(CopyOut { buffer: buffer.clone(), dst: SendPtr(d.memory) });
            Destination::Host { buffer, offset: 0 }
        }
        DSR_DESTINATION_VK_BUFFER => {
            let b = handles::buffer(d.buffer)?;
            Destination::Buffer { buffer: Arc::clone(&b.buffer), offset: d.offset }
        }
        DSR_DESTINATION_VK_IMAGE => {
            let i = handles::image(d.image)?;
            Destination::Image { image: Arc::clone(&i.image), region: d.region.to_core() }
        }
        k => return Err(Fail::invalid(format!("unknown destination kind {k} (expected DSR_DESTINATION_*)"))),
    };
    // SAFETY: null or NUL-terminated (the caller's contract).
    let name = unsafe { crate::c_text(r.name) }.unwrap_or_default();
    Ok((Request { source, destination, compression, tag: r.tag, name: Cow::Owned(name) }, copy_out, gpu))
}

/// Enqueues `*request`.
///
/// # Safety
///
/// `request` is null (refused) or valid for reads during the call; `request->name` is null or
/// NUL-terminated. A memory source stays valid and unchanged, and a memory destination valid
/// for writes of `destination.size` bytes and untouched by the caller, until the request
/// completes (its callback is called or its status slot completes; cancellation and
/// `dsr_queue_destroy` complete it too). `callback` and `user_data` may be used from any
/// thread until then.
unsafe fn enqueue(queue: *const dsr_queue, request: *const dsr_request, block: bool) -> Result<(), Fail> {
    let q = handles::queue(queue)?;
    // SAFETY: null (refused) or valid for reads (the caller's contract).
    let r = unsafe { read_in(request, "request") }?;
    // SAFETY: the caller's contract (see above).
    let (req, copy_out, gpu) = unsafe { build(r) }?;
    let name = CString::new(req.name.replace('\0', " ")).unwrap_or_default();
    // The status slot turns pending before the request can run, so its completion cannot be
    // missed; it goes back to idle when the request is refused.
    let own_status = match r.status_array.is_null() {
        true => None,
        false => Some(handles::status_array(r.status_array)?.begin(
            r.status_index,
            1,
            None,
            q.semaphore,
            Arc::downgrade(&q),
        )?),
    };
    let enqueued = if block { q.queue().enqueue(req) } else { q.queue().try_enqueue(req) };
    let ticket = match enqueued {
        Ok(t) => t,
        Err(rejected) => {
            if let Some(m) = &own_status {
                m.array.abandon(m);
            }
            return Err(reject_fail(&rejected));
        }
    };
    let mut t = q.lock();
    let seq = t.next_seq;
    t.next_seq += 1;
    let callback = r.callback.map(|f| (f, SendPtr(r.user_data)));
    t.entries.insert(
        seq,
        Entry { ticket, tag: r.tag, name, gpu, copy_out, own_status, markers: Vec::new(), callback },
    );
    // Enqueued requests start only at submit, but another thread may have submitted or
    // cancelled it already, before it was in the table for the callback to find.
    let found = match t.entries[&seq].ticket.wait_timeout(Duration::ZERO) {
        Some(r) => vec![CQueue::take(&mut t, seq, r)],
        None => Vec::new(),
    };
    drop(t);
    q.settle_all(found);
    Ok(())
}

/// Enqueues `*request`, waiting while the queue is full (it first submits the queue's
/// enqueued requests, so it never waits on work nobody submitted). Returns
/// `DSR_RESULT_FULL` only when waiting could not help; `DSR_RESULT_INVALID_ARGUMENT` or
/// `DSR_RESULT_UNSUPPORTED` for a request the runtime refuses (ranges, sizes, a GPU
/// destination on a CPU runtime, an object of another runtime). Nothing runs before
/// [`dsr_queue_submit`].
///
/// # Safety
///
/// `request` is null (refused) or valid for reads during the call; `request->name` null or
/// NUL-terminated. Until the request completes (its callback is called or its status slot
/// completes — cancellation and `dsr_queue_destroy` complete it too): a memory source stays
/// valid and unchanged; a memory destination stays valid for writes of `destination.size`
/// bytes and the caller does not access it; `callback` may be called with `user_data` from
/// any thread. Thread-safe; not from a callback (use [`dsr_queue_try_enqueue`] there).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_queue_enqueue(
    queue: *const dsr_queue,
    request: *const dsr_request,
) -> dsr_result {
    // SAFETY: this function's contract is `enqueue`'s.
    guard(|| unsafe { enqueue(queue, request, true) })
}

/// As [`dsr_queue_enqueue`], but returns `DSR_RESULT_FULL` at once when no slot is free.
///
/// # Safety
///
/// As [`dsr_queue_enqueue`]. Thread-safe; may be called from a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_queue_try_enqueue(
    queue: *const dsr_queue,
    request: *const dsr_request,
) -> dsr_result {
    // SAFETY: this function's contract is `enqueue`'s.
    guard(|| unsafe { enqueue(queue, request, false) })
}

/// Enqueues a status marker (`IDStorageQueue::EnqueueStatus`): slot `index` of `array`
/// completes when every request enqueued on this queue before it has finished; its result is
/// the first failure (cancellation included) among the requests enqueued between the previous
/// marker and this one. It completes at once when no earlier request is unfinished. Refused
/// (`DSR_RESULT_INVALID_ARGUMENT`) when the slot is still pending. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn dsr_queue_enqueue_status(
    queue: *const dsr_queue,
    array: *const dsr_status_array,
    index: u32,
) -> dsr_result {
    guard(|| {
        let q = handles::queue(queue)?;
        let a: Arc<StatusArray> = handles::status_array(array)?;
        let mut t = q.lock();
        let remaining = u32::try_from(t.entries.len()).unwrap_or(u32::MAX);
        let error = t.unmarked_error.clone();
        let marker = a.begin(index, remaining, error, q.semaphore, Arc::downgrade(&q))?;
        t.unmarked_error = None;
        for e in t.entries.values_mut() {
            e.markers.push(Arc::clone(&marker));
        }
        drop(t);
        if remaining == 0 {
            StatusArray::complete_now(&marker);
        }
        Ok(())
    })
}

/// Starts every enqueued request, in enqueue order (`IDStorageQueue::Submit`). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn dsr_queue_submit(queue: *const dsr_queue) -> dsr_result {
    guard(|| {
        handles::queue(queue)?.queue().submit();
        Ok(())
    })
}

/// Submits and waits until every request enqueued before this call has finished and been
/// delivered (destinations written, callbacks returned, status slots completed).
/// Thread-safe; not from a callback.
#[unsafe(no_mangle)]
pub extern "C" fn dsr_queue_drain(queue: *const dsr_queue) -> dsr_result {
    guard(|| {
        let q = handles::queue(queue)?;
        let upto = q.lock().next_seq;
        q.queue().drain();
        q.reap();
        let mut t = q.lock();
        while t.settling > 0 || t.entries.range(..upto).next().is_some() {
            t = q
                .settled
                .wait_timeout(t, Duration::from_millis(100))
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            if t.entries.range(..upto).next().is_some() {
                drop(t);
                q.reap();
                t = q.lock();
            }
        }
        Ok(())
    })
}

/// Cancels every unfinished request of the queue with `tag & mask == value`
/// (`IDStorageQueue::CancelRequestsWithTag`; `mask = value = 0` cancels all); `*matched`
/// (if not null) receives how many matched. Not-yet-started requests finish at once with
/// `DSR_RESULT_CANCELLED`; started ones stop issuing reads and finish when their pieces in
/// flight return.
///
/// # Safety
///
/// `matched` is null or valid for writing one `uint32_t`. Thread-safe; not from a callback.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_queue_cancel(
    queue: *const dsr_queue,
    mask: u64,
    value: u64,
    matched: *mut u32,
) -> dsr_result {
    guard(|| {
        let q = handles::queue(queue)?;
        let n = q.queue().cancel(mask, value);
        if !matched.is_null() {
            // SAFETY: non-null and valid for writes (this function's contract).
            unsafe { write_out(matched, u32::try_from(n).unwrap_or(u32::MAX), "matched") }?;
        }
        Ok(())
    })
}

/// A queue's failure count and first failure (`DSTORAGE_ERROR_RECORD`). Cancellations are
/// not failures.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsr_error_record {
    /// Failed requests so far.
    pub failure_count: u64,
    /// Whether `first_*` describe a failure (false while `failure_count` is 0).
    pub has_failure: bool,
    /// The first failure's code.
    pub first_result: dsr_result,
    /// Its tag.
    pub first_tag: u64,
    /// Its name (NUL-terminated, truncated).
    pub first_name: [c_char; 256],
    /// Its source, destination and compression, as text (NUL-terminated, truncated).
    pub first_request: [c_char; 512],
    /// What went wrong (NUL-terminated, truncated).
    pub first_message: [c_char; 512],
}

/// The queue's error record (`IDStorageQueue::RetrieveErrorRecord`) into `*out`.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one `dsr_error_record`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_queue_get_error_record(
    queue: *const dsr_queue,
    out: *mut dsr_error_record,
) -> dsr_result {
    guard(|| {
        let q = handles::queue(queue)?;
        let rec = q.queue().error_record();
        let mut r = dsr_error_record {
            failure_count: rec.failure_count,
            has_failure: false,
            first_result: crate::DSR_RESULT_OK,
            first_tag: 0,
            first_name: [0; 256],
            first_request: [0; 512],
            first_message: [0; 512],
        };
        if let Some(f) = &rec.first {
            r.has_failure = true;
            let fail = request_result(&Err(f.error.clone())).err().unwrap_or_else(|| Fail::new(0, ""));
            r.first_result = fail.code;
            r.first_tag = f.tag;
            fill_c_array(&mut r.first_name, &f.name);
            fill_c_array(&mut r.first_request, &f.request);
            fill_c_array(&mut r.first_message, &fail.msg);
        }
        // SAFETY: `out` is null or valid for writes (this function's contract).
        unsafe { write_out(out, r, "out") }
    })
}

/// A snapshot of a queue's statistics.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsr_queue_stats {
    /// Requests completed successfully.
    pub completed: u64,
    /// Requests failed (cancellations not counted).
    pub failed: u64,
    /// Requests cancelled.
    pub cancelled: u64,
    /// Bytes read from sources (with O_DIRECT alignment padding and GDeflate header reads).
    pub bytes_read: u64,
    /// Bytes written into destinations by successful requests.
    pub bytes_written: u64,
    /// Requests in the queue (enqueued, submitted or running).
    pub in_progress: u64,
    /// `latency_us[i]`: requests whose submit → completion latency was in
    /// `[2^i, 2^(i+1))` µs (bucket 0 also counts < 1 µs, the last everything above).
    pub latency_us: [u64; 32],
}

/// The queue's statistics (`IDStorageQueue::Query`-like) into `*out`.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one `dsr_queue_stats`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_queue_get_stats(
    queue: *const dsr_queue,
    out: *mut dsr_queue_stats,
) -> dsr_result {
    guard(|| {
        let q = handles::queue(queue)?;
        let s = q.queue().stats();
        let stats = dsr_queue_stats {
            completed: s.completed,
            failed: s.failed,
            cancelled: s.cancelled,
            bytes_read: s.bytes_read,
            bytes_written: s.bytes_written,
            in_progress: u64::from(q.queue().in_progress()),
            latency_us: s.latency.buckets,
        };
        // SAFETY: `out` is null or valid for writes (this function's contract).
        unsafe { write_out(out, stats, "out") }
    })
}

/// The timeline `VkSemaphore` (as a `uint64_t` handle) the GPU work of this queue's runtime
/// signals; wait for the values `dsr_status_array_get_timeline` gives.
/// `DSR_RESULT_UNSUPPORTED` on a CPU runtime.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one `uint64_t`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_queue_get_timeline_semaphore(
    queue: *const dsr_queue,
    out: *mut u64,
) -> dsr_result {
    guard(|| {
        let q = handles::queue(queue)?;
        q.runtime.vulkan()?;
        // SAFETY: `out` is null or valid for writes (this function's contract).
        unsafe { write_out(out, q.semaphore, "out") }
    })
}
