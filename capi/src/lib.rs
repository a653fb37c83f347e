//! The C ABI of ds-runtime: `libds_runtime.so` / `libds_runtime.a` and the header
//! `include/ds_runtime.h` (generated from this crate by cbindgen; `tests/header.rs` checks the
//! committed header is current). It wraps [`dsr_core::stream`] (runtime, queues, requests,
//! cancellation, error records, statistics), the Vulkan core (device creation or adoption,
//! buffers, images, the timeline semaphore), the GDeflate codec and `.dsp` packs behind
//! DirectStorage-shaped calls.
//!
//! What this crate owns and its invariants:
//!
//! - **Handles** (`dsr_runtime*`, `dsr_queue*`, `dsr_file*`, `dsr_status_array*`,
//!   `dsr_vk_buffer*`, `dsr_vk_image*`, `dsr_pack*`) are opaque keys into one process-wide
//!   registry (`handles.rs`), never pointers to memory: a null, destroyed, foreign or wrong-kind
//!   handle is looked up, not dereferenced, and refused with `DSR_RESULT_INVALID_ARGUMENT`
//!   (double destroy included). Objects are reference-counted: a call in flight keeps its
//!   object alive while another thread destroys the handle, and a queue keeps its runtime
//!   alive.
//! - **Every entry point** returns a `dsr_result` (except the two string getters) and runs
//!   inside [`guard`]: a Rust panic becomes `DSR_RESULT_INTERNAL`, never unwinds into C.
//!   The failing call's message is kept per thread ([`dsr_last_error_message`]).
//! - **Raw memory** crosses the boundary only where the C caller states a contract in the
//!   function's `# Safety` section (memory sources and destinations live until the request
//!   completes; output pointers are valid for writes). Integer "enums" are `uint32_t`
//!   constants, so an out-of-range value from C is an `INVALID_ARGUMENT`, never UB.
//! - **Completion** of a request is reported, in this order, to its callback (if any), then
//!   to its own status slot and to the queue's status markers (`dsr_queue_enqueue_status`);
//!   a memory destination is filled before either (see `queue.rs`).
//!
//! Thread safety: every function may be called from any thread on any handle; the objects
//! lock internally. Callbacks run on a pipeline thread (or the thread calling
//! `dsr_queue_cancel` / `dsr_queue_destroy`) and must not block on the queue.

// The C names (`dsr_runtime`, `dsr_result`, ...) are the ABI; Rust style does not apply.
#![allow(non_camel_case_types)]

mod codec;
mod file;
mod handles;
mod pack;
mod queue;
mod runtime;
mod status;
mod vk;

#[cfg(test)]
mod tests;

pub use codec::*;
pub use file::*;
pub use pack::*;
pub use queue::*;
pub use runtime::*;
pub use status::*;
pub use vk::*;

use std::cell::RefCell;
use std::ffi::{CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

/// Major version of the C ABI: incremented on incompatible changes (a removed or changed
/// function, struct or constant). Check it against [`dsr_get_version`] at run time.
pub const DSR_ABI_VERSION_MAJOR: u32 = 0;
/// Minor version of the C ABI: incremented when functions or constants are added.
pub const DSR_ABI_VERSION_MINOR: u32 = 1;

/// The result of every call: `DSR_RESULT_OK` (0) or one of the `DSR_RESULT_*` error codes.
/// The message of the last failing call on a thread is [`dsr_last_error_message`].
pub type dsr_result = i32;
/// Success.
pub const DSR_RESULT_OK: dsr_result = 0;
/// A null or invalid handle or pointer, an out-of-range constant, or a malformed request
/// (range outside its source or destination, wrong sizes); the message says which.
pub const DSR_RESULT_INVALID_ARGUMENT: dsr_result = 1;
/// The file does not exist.
pub const DSR_RESULT_NOT_FOUND: dsr_result = 2;
/// An operating-system I/O error (open, read).
pub const DSR_RESULT_IO: dsr_result = 3;
/// The file ends inside the requested range.
pub const DSR_RESULT_END_OF_FILE: dsr_result = 4;
/// The GDeflate data is malformed or its header disagrees with the stated uncompressed size.
pub const DSR_RESULT_CORRUPT_DATA: dsr_result = 5;
/// The queue has no free slot (`dsr_queue_try_enqueue`, or `dsr_queue_enqueue` when waiting
/// could not help).
pub const DSR_RESULT_FULL: dsr_result = 6;
/// The request was cancelled (`dsr_queue_cancel`, or its queue was destroyed).
pub const DSR_RESULT_CANCELLED: dsr_result = 7;
/// Not available on this machine or not built yet (the message says which and why).
pub const DSR_RESULT_UNSUPPORTED: dsr_result = 8;
/// A Vulkan call or GPU allocation failed.
pub const DSR_RESULT_VULKAN: dsr_result = 9;
/// The runtime is shut down.
pub const DSR_RESULT_CLOSED: dsr_result = 10;
/// A wait ended before completion.
pub const DSR_RESULT_TIMEOUT: dsr_result = 11;
/// Not complete yet (a status slot whose requests are still running; a timeline value not
/// known yet).
pub const DSR_RESULT_NOT_READY: dsr_result = 12;
/// A bug in ds-runtime (including a caught panic); please report the message.
pub const DSR_RESULT_INTERNAL: dsr_result = 13;

/// A failed call: its code and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Fail {
    pub(crate) code: dsr_result,
    pub(crate) msg: String,
}

impl Fail {
    pub(crate) fn new(code: dsr_result, msg: impl Into<String>) -> Self {
        Self { code, msg: msg.into() }
    }

    pub(crate) fn invalid(msg: impl Into<String>) -> Self {
        Self::new(DSR_RESULT_INVALID_ARGUMENT, msg)
    }
}

impl From<dsr_core::Error> for Fail {
    fn from(e: dsr_core::Error) -> Self {
        use dsr_core::Error as E;
        let code = match &e {
            E::Unsupported { .. } => DSR_RESULT_UNSUPPORTED,
            E::Decode(_) => DSR_RESULT_CORRUPT_DATA,
            E::Vulkan(v) => return Fail::from_vulkan(v),
            E::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => DSR_RESULT_NOT_FOUND,
            E::Io { .. } => DSR_RESULT_IO,
            _ => DSR_RESULT_INTERNAL,
        };
        Self::new(code, e.to_string())
    }
}

impl From<dsr_core::vulkan::VulkanError> for Fail {
    fn from(e: dsr_core::vulkan::VulkanError) -> Self {
        Self::from_vulkan(&e)
    }
}

impl Fail {
    fn from_vulkan(e: &dsr_core::vulkan::VulkanError) -> Self {
        use dsr_core::vulkan::VulkanError as V;
        let code = match e {
            _ if e.is_unavailable() => DSR_RESULT_UNSUPPORTED,
            V::InvalidArgument(_) => DSR_RESULT_INVALID_ARGUMENT,
            V::Timeout { .. } => DSR_RESULT_TIMEOUT,
            V::Internal(_) => DSR_RESULT_INTERNAL,
            _ => DSR_RESULT_VULKAN,
        };
        Self::new(code, format!("Vulkan: {e}"))
    }
}

thread_local! {
    /// The message of the last failing call on this thread (empty: none yet).
    static LAST_ERROR: RefCell<CString> = RefCell::new(CString::default());
}

pub(crate) fn set_last_error(msg: &str) {
    let c = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
    LAST_ERROR.with(|e| *e.borrow_mut() = c);
}

/// Runs an entry point's body: `Ok` → `DSR_RESULT_OK`; `Err` → its code, message kept for
/// [`dsr_last_error_message`]; a panic → `DSR_RESULT_INTERNAL` (it never crosses into C).
pub(crate) fn guard(f: impl FnOnce() -> Result<(), Fail>) -> dsr_result {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(())) => DSR_RESULT_OK,
        Ok(Err(fail)) => {
            set_last_error(&fail.msg);
            fail.code
        }
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".into());
            set_last_error(&format!("internal error (a panic was stopped at the C boundary): {what}"));
            DSR_RESULT_INTERNAL
        }
    }
}

/// Writes `value` through the output pointer `out`; null is an invalid argument.
///
/// # Safety
///
/// `out` is null or valid for a write of `T` (the entry point's contract).
pub(crate) unsafe fn write_out<T>(out: *mut T, value: T, what: &str) -> Result<(), Fail> {
    if out.is_null() {
        return Err(Fail::invalid(format!("{what} is a null pointer")));
    }
    // SAFETY: non-null, and valid for writes by the caller's contract; `write` does not read
    // or drop the (possibly uninitialised) old value.
    unsafe { out.write(value) };
    Ok(())
}

/// Reads the input struct `*p`; null is an invalid argument.
///
/// # Safety
///
/// `p` is null or points at an initialised `T` valid for reads during the call.
pub(crate) unsafe fn read_in<'a, T>(p: *const T, what: &str) -> Result<&'a T, Fail> {
    // SAFETY: the caller's contract: null (handled) or a valid, initialised `T`.
    unsafe { p.as_ref() }.ok_or_else(|| Fail::invalid(format!("{what} is a null pointer")))
}

/// The UTF-8 (lossy) text of a C string; `None` for null.
///
/// # Safety
///
/// `s` is null or a NUL-terminated string valid for reads during the call.
pub(crate) unsafe fn c_text(s: *const c_char) -> Option<String> {
    if s.is_null() {
        return None;
    }
    // SAFETY: non-null and NUL-terminated by the caller's contract.
    let c = unsafe { std::ffi::CStr::from_ptr(s) };
    Some(c.to_string_lossy().into_owned())
}

/// Copies `text` into the fixed C array `dst`, truncated on a UTF-8 boundary, NUL-terminated.
pub(crate) fn fill_c_array(dst: &mut [c_char], text: &str) {
    let Some(room) = dst.len().checked_sub(1) else { return };
    let mut end = text.len().min(room);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    for (d, &b) in dst.iter_mut().zip(&text.as_bytes()[..end]) {
        *d = b as c_char;
    }
    dst[end..].fill(0);
}

/// Library version: the ABI version this library implements and the ds-runtime release.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub struct dsr_version {
    /// [`DSR_ABI_VERSION_MAJOR`] of the library (compare with the header's macro).
    pub abi_major: u32,
    /// [`DSR_ABI_VERSION_MINOR`] of the library (≥ the header's for every function it declares).
    pub abi_minor: u32,
    /// ds-runtime release, major.
    pub major: u32,
    /// ds-runtime release, minor.
    pub minor: u32,
    /// ds-runtime release, patch.
    pub patch: u32,
}

/// The library's version, to check against the header's `DSR_ABI_VERSION_MAJOR/MINOR`.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one `dsr_version`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_get_version(out: *mut dsr_version) -> dsr_result {
    guard(|| {
        let num = |s: &str| s.parse().unwrap_or(0);
        let v = dsr_version {
            abi_major: DSR_ABI_VERSION_MAJOR,
            abi_minor: DSR_ABI_VERSION_MINOR,
            major: num(env!("CARGO_PKG_VERSION_MAJOR")),
            minor: num(env!("CARGO_PKG_VERSION_MINOR")),
            patch: num(env!("CARGO_PKG_VERSION_PATCH")),
        };
        // SAFETY: `out` is null or valid for writes (this function's contract).
        unsafe { write_out(out, v, "out") }
    })
}

/// A static, human-readable name for a result code (`"DSR_RESULT_FULL"`, ...; unknown codes
/// give `"DSR_RESULT_UNKNOWN"`). Never null; the string lives as long as the library.
#[unsafe(no_mangle)]
pub extern "C" fn dsr_result_string(result: dsr_result) -> *const c_char {
    let s: &'static std::ffi::CStr = match result {
        DSR_RESULT_OK => c"DSR_RESULT_OK",
        DSR_RESULT_INVALID_ARGUMENT => c"DSR_RESULT_INVALID_ARGUMENT",
        DSR_RESULT_NOT_FOUND => c"DSR_RESULT_NOT_FOUND",
        DSR_RESULT_IO => c"DSR_RESULT_IO",
        DSR_RESULT_END_OF_FILE => c"DSR_RESULT_END_OF_FILE",
        DSR_RESULT_CORRUPT_DATA => c"DSR_RESULT_CORRUPT_DATA",
        DSR_RESULT_FULL => c"DSR_RESULT_FULL",
        DSR_RESULT_CANCELLED => c"DSR_RESULT_CANCELLED",
        DSR_RESULT_UNSUPPORTED => c"DSR_RESULT_UNSUPPORTED",
        DSR_RESULT_VULKAN => c"DSR_RESULT_VULKAN",
        DSR_RESULT_CLOSED => c"DSR_RESULT_CLOSED",
        DSR_RESULT_TIMEOUT => c"DSR_RESULT_TIMEOUT",
        DSR_RESULT_NOT_READY => c"DSR_RESULT_NOT_READY",
        DSR_RESULT_INTERNAL => c"DSR_RESULT_INTERNAL",
        _ => c"DSR_RESULT_UNKNOWN",
    };
    s.as_ptr()
}

/// The message of the last call **on this thread** that returned an error (`""` if none
/// has). Successful calls leave it unchanged. Never null; the string stays valid until the
/// next failing `dsr_*` call on this thread (copy it to keep it).
#[unsafe(no_mangle)]
pub extern "C" fn dsr_last_error_message() -> *const c_char {
    // The CString's heap buffer does not move while it is stored in the thread-local, and it
    // is replaced only by a later failing call on this same thread.
    LAST_ERROR.with(|e| e.borrow().as_ptr())
}
