//! `dsr_file`: a read-only file requests read from ([`dsr_core::stream::File`]), opened by
//! path (with an O_DIRECT descriptor where the file system allows it) or from a descriptor the
//! caller owns (duplicated; e.g. Wine's `wine_server_handle_to_fd`). Destroying the handle
//! does not cancel requests reading the file: they hold their own reference.

use crate::{Fail, dsr_result, guard, handles, write_out};
use dsr_core::stream::File;
use std::ffi::c_char;
use std::os::fd::BorrowedFd;

/// An open file (opaque handle).
pub struct dsr_file {
    _private: [u8; 0],
}

pub(crate) struct CFile {
    pub(crate) file: File,
}

fn open_fail(what: &str, e: &std::io::Error) -> Fail {
    let code = match e.kind() {
        std::io::ErrorKind::NotFound => crate::DSR_RESULT_NOT_FOUND,
        _ => crate::DSR_RESULT_IO,
    };
    Fail::new(code, format!("{what}: {e}"))
}

/// Opens the file at `path` (a NUL-terminated path in the file system's encoding) for
/// reading, into `*out`.
///
/// Errors: `DSR_RESULT_NOT_FOUND`, `DSR_RESULT_IO` (permissions, a directory, ...).
///
/// # Safety
///
/// `path` is null (refused) or a NUL-terminated string valid for reads during the call;
/// `out` is null (refused) or valid for writing one pointer. The caller owns the new handle
/// and releases it with [`dsr_file_destroy`]. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_file_open(path: *const c_char, out: *mut *mut dsr_file) -> dsr_result {
    guard(|| {
        if path.is_null() {
            return Err(Fail::invalid("path is a null pointer"));
        }
        if out.is_null() {
            return Err(Fail::invalid("out is a null pointer"));
        }
        // SAFETY: non-null and NUL-terminated (this function's contract).
        let bytes = unsafe { std::ffi::CStr::from_ptr(path) }.to_bytes();
        let path = std::path::Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes));
        let file = File::open(path).map_err(|e| open_fail(&format!("opening {}", path.display()), &e))?;
        let h = handles::insert(handles::Object::File(std::sync::Arc::new(CFile { file })));
        // SAFETY: `out` is non-null and valid for writes (this function's contract).
        unsafe { write_out(out, h, "out") }
    })
}

/// Wraps an open, readable file descriptor. The descriptor is duplicated (`F_DUPFD_CLOEXEC`):
/// the caller keeps ownership of `fd` and may close it at once. Reads are buffered (the
/// descriptor's O_DIRECT mode cannot be known safely).
///
/// # Safety
///
/// `fd` is an open descriptor for the duration of the call; `out` is null (refused) or valid
/// for writing one pointer. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_file_open_fd(fd: i32, out: *mut *mut dsr_file) -> dsr_result {
    guard(|| {
        if fd < 0 {
            return Err(Fail::invalid(format!("file descriptor {fd} is negative")));
        }
        if out.is_null() {
            return Err(Fail::invalid("out is a null pointer"));
        }
        // SAFETY: the caller guarantees `fd` is open for the duration of this call, which is
        // as long as the borrow is used (it is duplicated at once).
        let borrowed = unsafe { BorrowedFd::borrow_raw(fd) };
        let owned = borrowed.try_clone_to_owned().map_err(|e| open_fail("duplicating the descriptor", &e))?;
        let file = File::from_std(std::fs::File::from(owned))
            .map_err(|e| open_fail("reading the descriptor's metadata", &e))?;
        let h = handles::insert(handles::Object::File(std::sync::Arc::new(CFile { file })));
        // SAFETY: `out` is non-null and valid for writes (this function's contract).
        unsafe { write_out(out, h, "out") }
    })
}

/// The file's size in bytes when it was opened.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one `uint64_t`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_file_size(file: *const dsr_file, out: *mut u64) -> dsr_result {
    guard(|| {
        let f = handles::file(file)?;
        // SAFETY: `out` is null or valid for writes (this function's contract).
        unsafe { write_out(out, f.file.len(), "out") }
    })
}

/// Releases the handle. Requests already enqueued keep reading the file; its descriptors are
/// closed when the last of them finishes. A null, destroyed or foreign handle is refused with
/// `DSR_RESULT_INVALID_ARGUMENT` (a double destroy is harmless). Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn dsr_file_destroy(file: *mut dsr_file) -> dsr_result {
    guard(|| {
        let object = handles::remove(file, "dsr_file", |o| matches!(o, handles::Object::File(_)))?;
        drop(object);
        Ok(())
    })
}
