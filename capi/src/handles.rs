//! The handle registry: every object handed to C lives here under a numeric key, and the
//! handle C holds *is* that key, cast to an opaque pointer type. Nothing is ever dereferenced
//! through a handle, so null, stale (destroyed), forged or wrong-kind handles are detected
//! and refused with `DSR_RESULT_INVALID_ARGUMENT` instead of being undefined behaviour.
//!
//! Invariants: keys are never reused (a 64-bit counter); an object is removed exactly once
//! (a second destroy finds nothing); lookups clone an `Arc`, so an object stays alive for
//! the calls using it even while another thread destroys its handle; objects are dropped
//! outside the registry lock (dropping a queue or runtime waits for the pipeline, whose
//! callbacks may call back into the registry).

use crate::Fail;
use crate::file::CFile;
use crate::pack::CPack;
use crate::queue::CQueue;
use crate::runtime::CRuntime;
use crate::status::StatusArray;
use crate::vk::{CBuffer, CImage};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, PoisonError};

/// One registered object.
pub(crate) enum Object {
    Runtime(Arc<CRuntime>),
    Queue(Arc<CQueue>),
    File(Arc<CFile>),
    StatusArray(Arc<StatusArray>),
    Buffer(Arc<CBuffer>),
    Image(Arc<CImage>),
    Pack(Arc<CPack>),
}

static OBJECTS: LazyLock<Mutex<HashMap<usize, Object>>> = LazyLock::new(Mutex::default);
/// Keys start high and step by 16 so handles look like (and print as) aligned pointers.
static NEXT_KEY: AtomicUsize = AtomicUsize::new(0x1000);

fn objects() -> MutexGuard<'static, HashMap<usize, Object>> {
    OBJECTS.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Registers `object`; returns its handle.
pub(crate) fn insert<H>(object: Object) -> *mut H {
    let key = NEXT_KEY.fetch_add(16, Ordering::Relaxed);
    objects().insert(key, object);
    // The key is an integer that is only ever compared, never dereferenced.
    std::ptr::without_provenance_mut(key)
}

/// Removes the object behind `handle` (named `kind` in messages) if `pick` accepts it.
pub(crate) fn remove<H>(handle: *const H, kind: &str, pick: fn(&Object) -> bool) -> Result<Object, Fail> {
    let key = key(handle, kind)?;
    let mut map = objects();
    match map.get(&key) {
        Some(o) if pick(o) => Ok(map.remove(&key).expect("present")),
        _ => Err(stale(kind)),
    }
}

fn key<H>(handle: *const H, kind: &str) -> Result<usize, Fail> {
    if handle.is_null() {
        return Err(Fail::invalid(format!("the {kind} handle is null")));
    }
    Ok(handle.addr())
}

fn stale(kind: &str) -> Fail {
    Fail::invalid(format!("not a live {kind} handle (destroyed already, or another kind of handle)"))
}

macro_rules! getter {
    ($name:ident, $variant:ident, $ty:ty, $kind:literal) => {
        /// The object behind a handle of this kind, or `INVALID_ARGUMENT`.
        pub(crate) fn $name<H>(handle: *const H) -> Result<Arc<$ty>, Fail> {
            let key = key(handle, $kind)?;
            match objects().get(&key) {
                Some(Object::$variant(o)) => Ok(Arc::clone(o)),
                _ => Err(stale($kind)),
            }
        }
    };
}

getter!(runtime, Runtime, CRuntime, "dsr_runtime");
getter!(queue, Queue, CQueue, "dsr_queue");
getter!(file, File, CFile, "dsr_file");
getter!(status_array, StatusArray, StatusArray, "dsr_status_array");
getter!(buffer, Buffer, CBuffer, "dsr_vk_buffer");
getter!(image, Image, CImage, "dsr_vk_image");
getter!(pack, Pack, CPack, "dsr_pack");
