//! [`Queue`] and [`Ticket`]: DirectStorage-style request queues on a [`Runtime`](super::Runtime).
//!
//! A queue has a fixed number of **slots** (its capacity). `enqueue` puts a request in a
//! free slot and returns a [`Ticket`]; nothing runs until [`Queue::submit`], which hands every
//! enqueued request to the runtime's scheduler in enqueue order. A slot is reused once its
//! request has finished **and** its ticket is dropped (or [`Ticket::detach`]ed before).
//!
//! Backpressure: [`Queue::try_enqueue`] refuses with [`RejectReason::Full`] when no slot is
//! free; [`Queue::enqueue`] first submits the queue's enqueued requests (so it can never
//! wait on work nobody submitted) and then blocks until a slot frees, unless every occupied
//! slot already holds a finished request whose ticket is still alive — waiting could not
//! help then, and it returns `Full` too.
//!
//! Cancellation ([`Queue::cancel`]`(mask, value)`): every request of the queue not yet
//! finished with `tag & mask == value` is cancelled, DirectStorage's rule. Enqueued and
//! submitted-but-not-started requests finish at once with [`RequestError::Cancelled`]; a
//! started one issues no further reads or decodes, drops the data of reads that complete
//! after the cancel instead of decoding it, and finishes `Cancelled` when its last
//! outstanding piece returns (GPU work already submitted runs to completion). Cancellations
//! are counted in [`QueueStats::cancelled`], not as failures.
//!
//! Invariants: every slot is in exactly one state (free, enqueued, submitted, running, done);
//! a request's destination and source are held (reference-counted) by the slot until it is
//! done; completion happens once per request and is observed through the ticket, the
//! queue's callback and the statistics.

use super::request::{Request, RequestError};
use super::runtime::{Event, RtShared};
use super::stats::{Counters, QueueStats};
use std::borrow::Cow;
use std::collections::VecDeque;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

/// Scheduling priority of a queue.
///
/// **Rule**: whenever the runtime can start a piece of work (a staging chunk is free), it
/// takes it from the highest-priority queue that has work ready; queues of equal priority
/// take turns (round robin, one piece each); within a queue, requests start in submission
/// order. Priorities are strict: a low-priority queue progresses only while no queue above
/// it can use the free staging, so sustained realtime/high traffic starves lower queues.
/// Work already started is never pre-empted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum Priority {
    /// Background streaming.
    Low = 0,
    /// The default.
    #[default]
    Normal = 1,
    /// Needed soon.
    High = 2,
    /// Needed now (e.g. this frame).
    Realtime = 3,
}

/// A completed request as the queue callback sees it.
#[derive(Debug)]
pub struct Completion<'a> {
    /// The request's name.
    pub name: &'a str,
    /// The request's cancellation tag.
    pub tag: u64,
    /// Its outcome.
    pub result: &'a Result<(), RequestError>,
}

/// Called once per finished request, on a pipeline thread (or on the thread calling
/// [`Queue::cancel`] for requests it cancels before they started). It must not block on the
/// queue (enqueue with backpressure, wait on tickets): that could deadlock the pipeline.
pub type Callback = Arc<dyn Fn(&Completion<'_>) + Send + Sync>;

/// How to create a queue.
#[derive(Clone)]
pub struct QueueDesc {
    /// Slots (≥ 1): how many requests may be enqueued, in flight or finished-but-unclaimed
    /// at once.
    pub capacity: u32,
    /// Scheduling priority.
    pub priority: Priority,
    /// For diagnostics.
    pub name: Cow<'static, str>,
    /// Optional completion callback.
    pub callback: Option<Callback>,
}

impl Default for QueueDesc {
    fn default() -> Self {
        Self { capacity: 256, priority: Priority::Normal, name: Cow::Borrowed("queue"), callback: None }
    }
}

impl fmt::Debug for QueueDesc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QueueDesc")
            .field("capacity", &self.capacity)
            .field("priority", &self.priority)
            .field("name", &self.name)
            .field("callback", &self.callback.is_some())
            .finish()
    }
}

/// Why a request was refused at enqueue; the request is handed back.
#[derive(Debug)]
pub struct Rejected {
    /// Why.
    pub reason: RejectReason,
    /// The request, unchanged.
    pub request: Request,
}

/// Why [`Queue::enqueue`] / [`Queue::try_enqueue`] refused a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RejectReason {
    /// No free slot (see the module docs for when the blocking `enqueue` says this).
    Full,
    /// The runtime is shut down.
    Closed,
    /// The request is malformed (says what).
    Invalid(String),
    /// The request needs something this runtime does not have or that is not built.
    Unsupported {
        /// What was asked for.
        what: &'static str,
        /// Why it is not available.
        why: String,
    },
}

impl fmt::Display for RejectReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Full => f.write_str("the queue is full"),
            Self::Closed => f.write_str("the runtime is shut down"),
            Self::Invalid(m) => write!(f, "invalid request: {m}"),
            Self::Unsupported { what, why } => write!(f, "{what} is not supported: {why}"),
        }
    }
}

impl fmt::Display for Rejected {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "request `{}` rejected: {}", self.request.name, self.reason)
    }
}

impl std::error::Error for Rejected {}

/// The first failure of a queue, with the full request context, and the failure count.
#[derive(Debug, Clone, Default)]
pub struct ErrorRecord {
    /// Number of failed requests (cancellations excluded).
    pub failure_count: u64,
    /// The first failure, if any.
    pub first: Option<FailureRecord>,
}

/// One failed request, described.
#[derive(Debug, Clone)]
pub struct FailureRecord {
    /// The request's name.
    pub name: String,
    /// Its tag.
    pub tag: u64,
    /// Its source, destination and compression, as text.
    pub request: String,
    /// What went wrong.
    pub error: RequestError,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SlotState {
    Free,
    Enqueued,
    Submitted,
    Running,
    Done(Result<(), RequestError>),
}

/// Per-request execution state, reused from slot to slot (the table keeps its capacity).
#[derive(Default)]
pub(crate) struct Exec {
    /// Next source byte (stored) or next tile (GDeflate) to issue.
    pub(crate) cursor: u64,
    /// GDeflate: the header is known and `table` filled.
    pub(crate) planned: bool,
    /// GDeflate: a head read is in flight.
    pub(crate) head_pending: bool,
    pub(crate) num_tiles: u32,
    pub(crate) data_start: u64,
    pub(crate) last_tile_size: u32,
    /// The tile table as in the stream (`table[0]` = last tile's compressed size).
    pub(crate) table: Vec<u32>,
    pub(crate) outstanding: u32,
    /// Pieces whose GPU work is submitted and not yet retired.
    pub(crate) in_gpu: u32,
    pub(crate) issued_all: bool,
    pub(crate) error: Option<RequestError>,
    pub(crate) cancelled: bool,
    pub(crate) gpu_value: u64,
    /// Image destinations: the decoded output before the copy into the image.
    #[cfg(feature = "vulkan")]
    pub(crate) scratch: Option<Arc<crate::vulkan::GpuBuffer>>,
    /// Image destinations: the copy into the image was submitted.
    #[cfg(feature = "vulkan")]
    pub(crate) image_copied: bool,
    pub(crate) submitted_at: Option<Instant>,
    pub(crate) bytes_read: u64,
}

impl Exec {
    fn reset(&mut self) {
        let table = std::mem::take(&mut self.table);
        *self = Self { table, ..Self::default() };
        self.table.clear();
    }

    /// Byte range of tile `i` in the stream.
    pub(crate) fn tile_span(&self, i: u32) -> std::ops::Range<u64> {
        let t = &self.table;
        let start = if i == 0 { 0 } else { u64::from(t[i as usize]) };
        let end =
            if i + 1 == self.num_tiles { start + u64::from(t[0]) } else { u64::from(t[i as usize + 1]) };
        self.data_start + start..self.data_start + end
    }

    pub(crate) fn tile_out_size(&self, i: u32) -> u32 {
        if i + 1 == self.num_tiles { self.last_tile_size } else { dsr_gdeflate::TILE_SIZE as u32 }
    }
}

pub(crate) struct Slot {
    pub(crate) state: SlotState,
    pub(crate) generation: u32,
    pub(crate) ticket_alive: bool,
    pub(crate) request: Option<Request>,
    pub(crate) exec: Exec,
}

pub(crate) struct QueueState {
    pub(crate) slots: Vec<Slot>,
    free: Vec<u32>,
    enqueued: VecDeque<u32>,
    pub(crate) submitted: VecDeque<u32>,
    /// Running requests that still have pieces to issue, in start order.
    pub(crate) issuing: VecDeque<u32>,
    /// Slots enqueued, submitted or running.
    in_progress: u32,
    pub(crate) closed: bool,
}

pub(crate) struct QueueShared {
    pub(crate) id: u64,
    pub(crate) name: Cow<'static, str>,
    pub(crate) priority: Priority,
    state: Mutex<QueueState>,
    cond: Condvar,
    pub(crate) counters: Counters,
    failures: AtomicU64,
    first_failure: Mutex<Option<FailureRecord>>,
    callback: Option<Callback>,
    pub(crate) rt: Arc<RtShared>,
}

impl QueueShared {
    pub(crate) fn lock(&self) -> MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Finishes the request in `slot` (running or not yet started) with `result`: statistics,
    /// error record, slot state; returns what the callback needs. Call with the lock held,
    /// then [`Self::after_finish`] without it.
    pub(crate) fn finish_locked(
        &self,
        st: &mut QueueState,
        slot: u32,
        result: Result<(), RequestError>,
    ) -> Option<(Request, Result<(), RequestError>)> {
        let s = &mut st.slots[slot as usize];
        let request = s.request.take()?;
        let now = Instant::now();
        if let Some(t) = s.exec.submitted_at {
            self.counters.record_latency(now - t);
        }
        self.counters.bytes_read.fetch_add(s.exec.bytes_read, Ordering::Relaxed);
        match &result {
            Ok(()) => {
                self.counters.completed.fetch_add(1, Ordering::Relaxed);
                self.counters.bytes_written.fetch_add(request.output_size(), Ordering::Relaxed);
            }
            Err(RequestError::Cancelled) => {
                self.counters.cancelled.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
                let mut first = self.first_failure.lock().unwrap_or_else(PoisonError::into_inner);
                if first.is_none() {
                    *first = Some(FailureRecord {
                        name: request.name.to_string(),
                        tag: request.tag,
                        request: format!(
                            "{:?} -> {:?}, {:?}",
                            request.source, request.destination, request.compression
                        ),
                        error: e.clone(),
                    });
                }
            }
        }
        s.state = SlotState::Done(result.clone());
        #[cfg(feature = "vulkan")]
        {
            s.exec.scratch = None;
        }
        st.in_progress -= 1;
        if !s.ticket_alive {
            s.state = SlotState::Free;
            st.free.push(slot);
        }
        st.issuing.retain(|&i| i != slot);
        Some((request, result))
    }

    /// Wakes waiters and runs the callback for a request finished by [`Self::finish_locked`].
    pub(crate) fn after_finish(&self, done: Option<(Request, Result<(), RequestError>)>) {
        self.cond.notify_all();
        if let (Some(cb), Some((req, result))) = (&self.callback, &done) {
            cb(&Completion { name: &req.name, tag: req.tag, result });
        }
        // The request (and the destination/source references it holds) is dropped here,
        // outside the queue lock.
        drop(done);
    }

    /// Cancels matching requests (see the module docs). Returns how many were matched.
    pub(crate) fn cancel(&self, mask: u64, value: u64) -> usize {
        let mut finished = Vec::new();
        let mut matched = 0;
        {
            let mut st = self.lock();
            let matches = |s: &Slot| s.request.as_ref().is_some_and(|r| r.tag & mask == value);
            for list in [0, 1] {
                let q = if list == 0 {
                    std::mem::take(&mut st.enqueued)
                } else {
                    std::mem::take(&mut st.submitted)
                };
                let mut keep = VecDeque::with_capacity(q.len());
                for i in q {
                    if matches(&st.slots[i as usize]) {
                        matched += 1;
                        finished.push(self.finish_locked(&mut st, i, Err(RequestError::Cancelled)));
                    } else {
                        keep.push_back(i);
                    }
                }
                if list == 0 { st.enqueued = keep } else { st.submitted = keep }
            }
            for i in 0..st.slots.len() as u32 {
                let s = &mut st.slots[i as usize];
                if s.state == SlotState::Running && matches(s) && !s.exec.cancelled {
                    matched += 1;
                    s.exec.cancelled = true;
                    if s.exec.outstanding == 0 {
                        let r = s.exec.error.clone().map_or(Err(RequestError::Cancelled), Err);
                        finished.push(self.finish_locked(&mut st, i, r));
                    }
                }
            }
        }
        for f in finished {
            self.after_finish(f);
        }
        self.rt.send(Event::Kick);
        matched
    }
}

/// A request queue. See the [module docs](self).
pub struct Queue {
    shared: Arc<QueueShared>,
}

impl fmt::Debug for Queue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Queue")
            .field("name", &self.shared.name)
            .field("priority", &self.shared.priority)
            .finish()
    }
}

impl Queue {
    pub(crate) fn new(rt: &Arc<RtShared>, desc: QueueDesc, id: u64) -> Self {
        let capacity = desc.capacity.max(1);
        let slots = (0..capacity)
            .map(|_| Slot {
                state: SlotState::Free,
                generation: 0,
                ticket_alive: false,
                request: None,
                exec: Exec::default(),
            })
            .collect();
        let cap = capacity as usize;
        let shared = Arc::new(QueueShared {
            id,
            name: desc.name,
            priority: desc.priority,
            state: Mutex::new(QueueState {
                slots,
                free: (0..capacity).rev().collect(),
                enqueued: VecDeque::with_capacity(cap),
                submitted: VecDeque::with_capacity(cap),
                issuing: VecDeque::with_capacity(cap),
                in_progress: 0,
                closed: false,
            }),
            cond: Condvar::new(),
            counters: Counters::default(),
            failures: AtomicU64::new(0),
            first_failure: Mutex::new(None),
            callback: desc.callback,
            rt: Arc::clone(rt),
        });
        rt.send(Event::AddQueue(Arc::clone(&shared)));
        Self { shared }
    }

    /// The queue's name.
    pub fn name(&self) -> &str {
        &self.shared.name
    }

    /// Adds `request`, blocking while the queue is full (see the module docs); returns its
    /// ticket. The request runs after the next [`Self::submit`].
    pub fn enqueue(&self, request: Request) -> Result<Ticket, Box<Rejected>> {
        self.enqueue_inner(request, true)
    }

    /// Adds `request` or refuses with [`RejectReason::Full`] at once.
    pub fn try_enqueue(&self, request: Request) -> Result<Ticket, Box<Rejected>> {
        self.enqueue_inner(request, false)
    }

    fn enqueue_inner(&self, request: Request, block: bool) -> Result<Ticket, Box<Rejected>> {
        let reject = |reason, request| Err(Box::new(Rejected { reason, request }));
        if let Err(m) = request.validate() {
            return reject(RejectReason::Invalid(m), request);
        }
        if let Err(reason) = self.shared.rt.check_capabilities(&request) {
            return reject(reason, request);
        }
        let q = &self.shared;
        let mut st = q.lock();
        let slot = loop {
            if st.closed {
                return reject(RejectReason::Closed, request);
            }
            if let Some(i) = st.free.pop() {
                break i;
            }
            if !block {
                return reject(RejectReason::Full, request);
            }
            if !st.enqueued.is_empty() {
                Self::submit_locked(&mut st);
                q.rt.send(Event::Kick);
            }
            if st.in_progress == 0 {
                return reject(RejectReason::Full, request);
            }
            st = q.cond.wait(st).unwrap_or_else(PoisonError::into_inner);
        };
        let s = &mut st.slots[slot as usize];
        s.generation = s.generation.wrapping_add(1);
        s.state = SlotState::Enqueued;
        s.ticket_alive = true;
        s.request = Some(request);
        s.exec.reset();
        let generation = s.generation;
        st.enqueued.push_back(slot);
        st.in_progress += 1;
        Ok(Ticket { queue: Arc::clone(q), slot, generation })
    }

    fn submit_locked(st: &mut QueueState) {
        let now = Instant::now();
        while let Some(i) = st.enqueued.pop_front() {
            let s = &mut st.slots[i as usize];
            s.state = SlotState::Submitted;
            s.exec.submitted_at = Some(now);
            st.submitted.push_back(i);
        }
    }

    /// Hands every enqueued request to the runtime, in enqueue order.
    pub fn submit(&self) {
        Self::submit_locked(&mut self.shared.lock());
        self.shared.rt.send(Event::Kick);
    }

    /// Cancels the unfinished requests with `tag & mask == value` (see the module docs);
    /// returns how many matched.
    ///
    /// ```
    /// use ds_runtime::Backend;
    /// use ds_runtime::stream::{Compression, Destination, HostBuffer, QueueDesc, Request,
    ///     RequestError, Runtime, RuntimeConfig, Source};
    /// use std::sync::Arc;
    /// let rt = Runtime::new(RuntimeConfig { backend: Backend::Cpu, ..Default::default() })?;
    /// let queue = rt.create_queue(QueueDesc::default());
    /// let data: ds_runtime::stream::MemoryBytes = Arc::new(vec![7u8; 4096]);
    /// let load = |tag: u64| Request {
    ///     source: Source::memory(data.clone()),
    ///     destination: Destination::Host { buffer: HostBuffer::new(4096), offset: 0 },
    ///     compression: Compression::None,
    ///     tag,
    ///     name: "level".into(),
    /// };
    /// // Tags: the high 32 bits name a level, the low bits an asset of it.
    /// let level_1 = queue.enqueue(load((1 << 32) | 5))?;
    /// let level_2 = queue.enqueue(load((2 << 32) | 5))?;
    /// assert_eq!(queue.cancel(!0 << 32, 2 << 32), 1); // every asset of level 2
    /// queue.submit();
    /// assert_eq!(level_1.wait(), Ok(()));
    /// assert_eq!(level_2.wait(), Err(RequestError::Cancelled));
    /// assert_eq!(queue.stats().cancelled, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn cancel(&self, mask: u64, value: u64) -> usize {
        self.shared.cancel(mask, value)
    }

    /// Number of requests enqueued, submitted or running.
    pub fn in_progress(&self) -> u32 {
        self.shared.lock().in_progress
    }

    /// Submits and waits until no request is enqueued, submitted or running.
    pub fn drain(&self) {
        self.submit();
        let mut st = self.shared.lock();
        while st.in_progress > 0 && !st.closed {
            st = self.shared.cond.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// A snapshot of the statistics.
    pub fn stats(&self) -> QueueStats {
        self.shared.counters.snapshot()
    }

    /// The failure count and the first failure.
    ///
    /// ```
    /// use ds_runtime::Backend;
    /// use ds_runtime::stream::{Compression, Destination, HostBuffer, QueueDesc, Request,
    ///     RequestError, Runtime, RuntimeConfig, Source};
    /// use std::sync::Arc;
    /// let rt = Runtime::new(RuntimeConfig { backend: Backend::Cpu, ..Default::default() })?;
    /// let queue = rt.create_queue(QueueDesc::default());
    /// let not_gdeflate: ds_runtime::stream::MemoryBytes = Arc::new(vec![0xAB; 256]);
    /// let ticket = queue.enqueue(Request {
    ///     source: Source::memory(not_gdeflate),
    ///     destination: Destination::Host { buffer: HostBuffer::new(1024), offset: 0 },
    ///     compression: Compression::GDeflate { uncompressed_size: 1024 },
    ///     tag: 3,
    ///     name: "broken.gdf".into(),
    /// })?;
    /// queue.submit();
    /// assert!(matches!(ticket.wait(), Err(RequestError::Decode(_))));
    /// let record = queue.error_record();
    /// assert_eq!(record.failure_count, 1);
    /// let first = record.first.unwrap();
    /// assert_eq!((first.name.as_str(), first.tag), ("broken.gdf", 3));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn error_record(&self) -> ErrorRecord {
        ErrorRecord {
            failure_count: self.shared.failures.load(Ordering::Relaxed),
            first: self.shared.first_failure.lock().unwrap_or_else(PoisonError::into_inner).clone(),
        }
    }

    /// The Vulkan timeline semaphore that GPU work of this queue's runtime signals (see
    /// [`Ticket::timeline_value`]), when the runtime has a Vulkan context.
    #[cfg(feature = "vulkan")]
    pub fn timeline_semaphore(&self) -> Option<ash::vk::Semaphore> {
        self.shared.rt.vulkan.as_ref().map(|c| c.shared.timeline)
    }
}

impl Drop for Queue {
    /// Cancels everything unfinished and waits for the pieces already in flight to return,
    /// so no work of this queue outlives it.
    fn drop(&mut self) {
        self.shared.cancel(0, 0);
        let mut st = self.shared.lock();
        while st.in_progress > 0 && !st.closed {
            st = self.shared.cond.wait(st).unwrap_or_else(PoisonError::into_inner);
        }
        drop(st);
        self.shared.rt.send(Event::RemoveQueue(self.shared.id));
    }
}

/// The handle of one enqueued request: poll or wait for its outcome. Dropping it lets the
/// queue reuse the slot once the request finished (the request still runs).
pub struct Ticket {
    queue: Arc<QueueShared>,
    slot: u32,
    generation: u32,
}

impl fmt::Debug for Ticket {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ticket").field("queue", &self.queue.name).field("slot", &self.slot).finish()
    }
}

impl Ticket {
    fn state<'a>(&self, st: &'a QueueState) -> &'a Slot {
        let s = &st.slots[self.slot as usize];
        debug_assert_eq!(s.generation, self.generation);
        s
    }

    /// The outcome, if the request finished.
    pub fn poll(&self) -> Option<Result<(), RequestError>> {
        match &self.state(&self.queue.lock()).state {
            SlotState::Done(r) => Some(r.clone()),
            _ => None,
        }
    }

    /// Waits for the outcome. Does not submit: wait only on submitted requests.
    pub fn wait(&self) -> Result<(), RequestError> {
        self.wait_timeout(Duration::MAX).unwrap_or(Err(RequestError::Cancelled))
    }

    /// Waits at most `timeout`; `None` if the request has not finished by then.
    pub fn wait_timeout(&self, timeout: Duration) -> Option<Result<(), RequestError>> {
        let deadline = Instant::now().checked_add(timeout);
        let mut st = self.queue.lock();
        loop {
            if let SlotState::Done(r) = &self.state(&st).state {
                return Some(r.clone());
            }
            if st.closed && self.state(&st).state != SlotState::Running {
                return Some(Err(RequestError::Cancelled));
            }
            if self.queue.rt.dead.load(Ordering::Acquire) {
                // The scheduler is gone with this request unfinished (it panicked).
                return Some(Err(RequestError::Internal("the pipeline's scheduler stopped".into())));
            }
            st = match deadline {
                None => self.queue.cond.wait(st).unwrap_or_else(PoisonError::into_inner),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return None;
                    }
                    self.queue.cond.wait_timeout(st, left).unwrap_or_else(PoisonError::into_inner).0
                }
            };
        }
    }

    /// For GPU destinations: the timeline value (of [`Queue::timeline_semaphore`]) whose
    /// completion means the request's GPU work is done, once all of it has been submitted;
    /// a renderer can wait on it on the GPU instead of waiting for the ticket. The status
    /// (decode errors) is known only through the ticket.
    pub fn timeline_value(&self) -> Option<u64> {
        let st = self.queue.lock();
        let s = self.state(&st);
        let e = &s.exec;
        let submitted = match &s.state {
            SlotState::Done(r) => r.is_ok(),
            SlotState::Running => {
                // Image destinations: only once the final copy into the image is submitted.
                #[cfg(feature = "vulkan")]
                let image_done = e.image_copied
                    || !s
                        .request
                        .as_ref()
                        .is_some_and(|r| matches!(r.destination, super::Destination::Image { .. }));
                #[cfg(not(feature = "vulkan"))]
                let image_done = true;
                e.issued_all && e.outstanding == e.in_gpu && e.error.is_none() && image_done
            }
            _ => false,
        };
        (submitted && e.gpu_value > 0).then_some(e.gpu_value)
    }

    /// Lets the queue reuse the slot as soon as the request finishes; the outcome is then
    /// seen only through the callback, the statistics and the error record.
    pub fn detach(self) {}
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let mut st = self.queue.lock();
        let done = matches!(st.slots[self.slot as usize].state, SlotState::Done(_));
        let s = &mut st.slots[self.slot as usize];
        s.ticket_alive = false;
        if done {
            s.state = SlotState::Free;
            st.free.push(self.slot);
            drop(st);
            self.queue.cond.notify_all();
        }
    }
}

impl QueueState {
    /// The next request to start, moved from `submitted` to running.
    pub(crate) fn start_next(&mut self) -> Option<u32> {
        let i = self.submitted.pop_front()?;
        self.slots[i as usize].state = SlotState::Running;
        self.issuing.push_back(i);
        Some(i)
    }

    /// Marks the queue closed and finishes every not-yet-started request as cancelled.
    pub(crate) fn close(&mut self) {
        self.closed = true;
    }
}
