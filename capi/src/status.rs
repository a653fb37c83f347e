//! `dsr_status_array`: DirectStorage's `IDStorageStatusArray` — a fixed number of slots, each
//! completed by a request (`dsr_request::status_array`) or by a marker
//! (`dsr_queue_enqueue_status`: every request enqueued before it on that queue), which C
//! polls or waits on.
//!
//! Slot states: idle (nothing enqueued into it yet), pending (a [`Marker`] counts the
//! requests it still waits for), done (result code, message, timeline value). Invariants: a
//! slot is pending for exactly one marker at a time (enqueueing into a pending slot is
//! refused) and only that marker completes it; completion happens after the requests'
//! destinations are written and their callbacks returned.

use crate::queue::CQueue;
use crate::{Fail, dsr_result, guard, handles, write_out};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

/// An array of status slots (opaque handle).
pub struct dsr_status_array {
    _private: [u8; 0],
}

/// `dsr_status_array_wait`: wait without a time limit.
pub const DSR_WAIT_INFINITE: u64 = u64::MAX;

/// What completes a status slot: the number of requests still running and the first failure
/// among them (see `queue.rs` for which requests a marker covers).
pub(crate) struct Marker {
    pub(crate) array: Arc<StatusArray>,
    pub(crate) index: u32,
    /// `VkSemaphore` of the queue's runtime (0 without Vulkan).
    pub(crate) semaphore: u64,
    pub(crate) state: Mutex<MarkerState>,
}

pub(crate) struct MarkerState {
    pub(crate) remaining: u32,
    pub(crate) error: Option<Fail>,
    /// Highest timeline value among the finished GPU requests it covered.
    pub(crate) timeline: u64,
}

impl Marker {
    /// One covered request finished with `result` (and GPU timeline value `timeline`, 0 if
    /// none); completes the slot after the last.
    pub(crate) fn finish_one(self: &Arc<Self>, result: &Result<(), Fail>, timeline: u64) {
        let done = {
            let mut st = self.state.lock().unwrap_or_else(PoisonError::into_inner);
            if let Err(e) = result {
                st.error.get_or_insert_with(|| e.clone());
            }
            st.timeline = st.timeline.max(timeline);
            st.remaining = st.remaining.saturating_sub(1);
            (st.remaining == 0).then(|| (st.error.clone(), st.timeline))
        };
        if let Some((error, timeline)) = done {
            self.array.complete(self, error, timeline);
        }
    }
}

pub(crate) enum Slot {
    Idle,
    Pending { marker: Arc<Marker>, queue: Weak<CQueue> },
    Done { error: Option<Fail>, semaphore: u64, timeline: u64 },
}

pub(crate) struct StatusArray {
    slots: Mutex<Vec<Slot>>,
    cond: Condvar,
}

impl StatusArray {
    fn lock(&self) -> MutexGuard<'_, Vec<Slot>> {
        self.slots.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn check(&self, index: u32) -> Result<(), Fail> {
        let n = self.lock().len();
        if index as usize >= n {
            return Err(Fail::invalid(format!("status index {index} is outside the array's {n} slots")));
        }
        Ok(())
    }

    /// Makes slot `index` pending on a new marker covering `remaining` requests; refused when
    /// out of range or still pending.
    pub(crate) fn begin(
        self: &Arc<Self>,
        index: u32,
        remaining: u32,
        error: Option<Fail>,
        semaphore: u64,
        queue: Weak<CQueue>,
    ) -> Result<Arc<Marker>, Fail> {
        let marker = Arc::new(Marker {
            array: Arc::clone(self),
            index,
            semaphore,
            state: Mutex::new(MarkerState { remaining, error, timeline: 0 }),
        });
        let mut slots = self.lock();
        let n = slots.len();
        let slot = slots
            .get_mut(index as usize)
            .ok_or_else(|| Fail::invalid(format!("status index {index} is outside the array's {n} slots")))?;
        if matches!(slot, Slot::Pending { .. }) {
            return Err(Fail::invalid(format!(
                "status slot {index} is still pending (wait for it before reusing it)"
            )));
        }
        *slot = Slot::Pending { marker: Arc::clone(&marker), queue };
        Ok(marker)
    }

    /// `marker` finished: its slot is done (unless the slot was reset to another marker).
    fn complete(&self, marker: &Arc<Marker>, error: Option<Fail>, timeline: u64) {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(marker.index as usize) {
            if matches!(slot, Slot::Pending { marker: m, .. } if Arc::ptr_eq(m, marker)) {
                *slot = Slot::Done { error, semaphore: marker.semaphore, timeline };
                self.cond.notify_all();
            }
        }
    }

    /// The request `marker` was begun for was refused: the slot goes back to idle.
    pub(crate) fn abandon(&self, marker: &Arc<Marker>) {
        let mut slots = self.lock();
        if let Some(slot) = slots.get_mut(marker.index as usize) {
            if matches!(slot, Slot::Pending { marker: m, .. } if Arc::ptr_eq(m, marker)) {
                *slot = Slot::Idle;
            }
        }
    }

    /// A marker that covers nothing: done at once with `error`.
    pub(crate) fn complete_now(marker: &Arc<Marker>) {
        let (error, timeline) = {
            let st = marker.state.lock().unwrap_or_else(PoisonError::into_inner);
            (st.error.clone(), st.timeline)
        };
        marker.array.complete(marker, error, timeline);
    }

    /// The slot's outcome: `Ok(())`, its failure, `NOT_READY` while pending, `INVALID` idle.
    fn result(&self, index: u32) -> Result<(), Fail> {
        self.check(index)?;
        match &self.lock()[index as usize] {
            Slot::Idle => Err(Fail::invalid(format!("nothing was enqueued into status slot {index}"))),
            Slot::Pending { .. } => {
                Err(Fail::new(crate::DSR_RESULT_NOT_READY, format!("status slot {index} is still pending")))
            }
            Slot::Done { error: None, .. } => Ok(()),
            Slot::Done { error: Some(e), .. } => Err(e.clone()),
        }
    }
}

/// Creates an array of `capacity` (1 to 65536) idle status slots into `*out`.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one pointer. The caller owns the new handle
/// and releases it with [`dsr_status_array_destroy`]. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_status_array_create(
    capacity: u32,
    out: *mut *mut dsr_status_array,
) -> dsr_result {
    guard(|| {
        if !(1..=65536).contains(&capacity) {
            return Err(Fail::invalid(format!("status array capacity {capacity} is not in 1..=65536")));
        }
        if out.is_null() {
            return Err(Fail::invalid("out is a null pointer"));
        }
        let array = StatusArray {
            slots: Mutex::new((0..capacity).map(|_| Slot::Idle).collect()),
            cond: Condvar::new(),
        };
        let h = handles::insert(handles::Object::StatusArray(Arc::new(array)));
        // SAFETY: `out` is non-null and valid for writes (this function's contract).
        unsafe { write_out(out, h, "out") }
    })
}

/// Releases the handle. Requests and markers still pending on it keep the array alive and
/// complete into it unseen. A null, destroyed or foreign handle is refused with
/// `DSR_RESULT_INVALID_ARGUMENT`. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn dsr_status_array_destroy(array: *mut dsr_status_array) -> dsr_result {
    guard(|| {
        let object =
            handles::remove(array, "dsr_status_array", |o| matches!(o, handles::Object::StatusArray(_)))?;
        drop(object);
        Ok(())
    })
}

/// Whether slot `index` is complete (`IDStorageStatusArray::IsComplete`): `*out` is true when
/// done (successfully or not), false while pending or idle.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one `bool`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_status_array_is_complete(
    array: *const dsr_status_array,
    index: u32,
    out: *mut bool,
) -> dsr_result {
    guard(|| {
        let a = handles::status_array(array)?;
        a.check(index)?;
        let done = matches!(a.lock()[index as usize], Slot::Done { .. });
        // SAFETY: `out` is null or valid for writes (this function's contract).
        unsafe { write_out(out, done, "out") }
    })
}

/// The outcome of slot `index` (`IDStorageStatusArray::GetHResult`), returned directly:
/// `DSR_RESULT_OK` when every covered request succeeded, the first failure's code otherwise
/// (its message in [`crate::dsr_last_error_message`]), `DSR_RESULT_NOT_READY` while pending,
/// `DSR_RESULT_INVALID_ARGUMENT` for an idle slot or a bad index. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn dsr_status_array_get_result(array: *const dsr_status_array, index: u32) -> dsr_result {
    guard(|| handles::status_array(array)?.result(index))
}

/// Waits until slot `index` is complete or `timeout_ns` nanoseconds passed
/// (`DSR_WAIT_INFINITE`: no limit; 0: poll), then returns like
/// [`dsr_status_array_get_result`]; `DSR_RESULT_TIMEOUT` when time ran out. An idle slot is
/// refused (`DSR_RESULT_INVALID_ARGUMENT`: nothing could complete it). Waits only for
/// submitted work: call `dsr_queue_submit` first. Thread-safe; not from a callback.
#[unsafe(no_mangle)]
pub extern "C" fn dsr_status_array_wait(
    array: *const dsr_status_array,
    index: u32,
    timeout_ns: u64,
) -> dsr_result {
    guard(|| {
        let a = handles::status_array(array)?;
        a.check(index)?;
        let deadline =
            (timeout_ns != DSR_WAIT_INFINITE).then(|| Instant::now() + Duration::from_nanos(timeout_ns));
        loop {
            let queue = {
                let slots = a.lock();
                match &slots[index as usize] {
                    Slot::Pending { queue, .. } => queue.clone(),
                    _ => break,
                }
            };
            let left = match deadline {
                None => Duration::from_millis(100),
                Some(d) => {
                    let left = d.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(Fail::new(
                            crate::DSR_RESULT_TIMEOUT,
                            format!("status slot {index} is still pending"),
                        ));
                    }
                    left.min(Duration::from_millis(100))
                }
            };
            {
                let slots = a.lock();
                if matches!(slots[index as usize], Slot::Pending { .. }) {
                    drop(a.cond.wait_timeout(slots, left).unwrap_or_else(PoisonError::into_inner));
                }
            }
            // Every ~100 ms, collect outcomes the completion callback could not deliver (a
            // pipeline that stopped): `reap` settles each finished request once.
            if let Some(q) = queue.upgrade() {
                q.reap();
            }
        }
        a.result(index)
    })
}

/// For a slot whose covered requests write GPU destinations: the runtime's timeline
/// `VkSemaphore` (`*semaphore`, a `uint64_t` holding the handle) and the value (`*value`)
/// whose completion on the GPU means their GPU work is done — a renderer waits on it
/// (`VkTimelineSemaphoreSubmitInfo` / `vkWaitSemaphores`) instead of on the CPU. The outcome
/// (e.g. a decode error) is still only known through [`dsr_status_array_get_result`].
///
/// Returns `DSR_RESULT_NOT_READY` while some covered request's GPU work is not submitted
/// yet, or when a covered request writes host memory (no semaphore covers it); a done slot
/// gives the highest value of its GPU requests (0 when there were none).
///
/// # Safety
///
/// `semaphore` and `value` are null (refused) or valid for writing one `uint64_t` each.
/// Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_status_array_get_timeline(
    array: *const dsr_status_array,
    index: u32,
    semaphore: *mut u64,
    value: *mut u64,
) -> dsr_result {
    guard(|| {
        if semaphore.is_null() || value.is_null() {
            return Err(Fail::invalid("semaphore and value must not be null"));
        }
        let a = handles::status_array(array)?;
        a.check(index)?;
        let (marker, queue) = match &a.lock()[index as usize] {
            Slot::Idle => {
                return Err(Fail::invalid(format!("nothing was enqueued into status slot {index}")));
            }
            Slot::Done { semaphore: s, timeline, .. } => {
                let (s, t) = (*s, *timeline);
                // SAFETY: both non-null and valid for writes (this function's contract).
                unsafe { write_out(semaphore, s, "semaphore") }?;
                // SAFETY: as above.
                return unsafe { write_out(value, t, "value") };
            }
            Slot::Pending { marker, queue } => (Arc::clone(marker), queue.clone()),
        };
        let not_ready =
            |why: &str| Fail::new(crate::DSR_RESULT_NOT_READY, format!("status slot {index}: {why}"));
        let q = queue.upgrade().ok_or_else(|| not_ready("its queue is being destroyed"))?;
        let pending = q.timeline_of(&marker).map_err(|why| not_ready(&why))?;
        let done = marker.state.lock().unwrap_or_else(PoisonError::into_inner).timeline;
        // SAFETY: both non-null and valid for writes (this function's contract).
        unsafe { write_out(semaphore, marker.semaphore, "semaphore") }?;
        // SAFETY: as above.
        unsafe { write_out(value, pending.max(done), "value") }
    })
}
