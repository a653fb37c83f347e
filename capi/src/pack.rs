//! `dsr_pack`: a `.dsp` pack ([`dsr_core::pack::Pack`], docs/pack-format.md) opened and
//! validated (header, table of contents), its entries described for C so each becomes a
//! request (`source` = the pack's file at the entry's offset and stored size, `compression`
//! and `uncompressed_size` from the entry), and the entries' SHA-256 checked on demand.
//!
//! Invariant: entry names handed to C point into the `CPack`, which lives at least as long
//! as its handle.

use crate::file::{CFile, dsr_file};
use crate::{Fail, dsr_result, guard, handles, write_out};
use dsr_core::pack::{EntryCompression, Pack, PackError};
use std::ffi::{CString, c_char, c_void};
use std::sync::Arc;

/// An open pack (opaque handle).
pub struct dsr_pack {
    _private: [u8; 0],
}

pub(crate) struct CPack {
    pack: Pack,
    names: Vec<CString>,
}

/// One entry of a pack.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsr_pack_entry {
    /// The entry's name (NUL-terminated UTF-8 relative path); valid until the pack handle is
    /// destroyed.
    pub name: *const c_char,
    /// Byte offset of the stored data in the pack file (the request's `source.offset`).
    pub offset: u64,
    /// Bytes stored (the request's `source.size`).
    pub stored_size: u64,
    /// Bytes after decoding (the request's `uncompressed_size` and output size).
    pub uncompressed_size: u64,
    /// `DSR_COMPRESSION_NONE` or `DSR_COMPRESSION_GDEFLATE` (the request's `compression`).
    pub compression: crate::queue::dsr_compression,
    /// SHA-256 of the uncompressed bytes.
    pub sha256: [u8; 32],
}

fn pack_fail(e: &PackError) -> Fail {
    let code = match e {
        PackError::Io { error, .. } if error.kind() == std::io::ErrorKind::NotFound => {
            crate::DSR_RESULT_NOT_FOUND
        }
        PackError::Io { .. } => crate::DSR_RESULT_IO,
        PackError::UnsupportedVersion { .. } | PackError::UnsupportedFlags { .. } => {
            crate::DSR_RESULT_UNSUPPORTED
        }
        _ => crate::DSR_RESULT_CORRUPT_DATA,
    };
    Fail::new(code, e.to_string())
}

fn entry_at(p: &CPack, index: u32) -> Result<&dsr_core::pack::PackEntry, Fail> {
    let n = p.pack.entries().len();
    p.pack
        .entries()
        .get(index as usize)
        .ok_or_else(|| Fail::invalid(format!("entry index {index} is outside the pack's {n} entries")))
}

/// Opens and validates the pack at `path` (header, table of contents) into `*out`.
///
/// Errors: `DSR_RESULT_NOT_FOUND`, `DSR_RESULT_IO`, `DSR_RESULT_CORRUPT_DATA` (not a pack,
/// truncated, checksum or structure broken), `DSR_RESULT_UNSUPPORTED` (a newer format).
///
/// # Safety
///
/// `path` is null (refused) or NUL-terminated; `out` is null (refused) or valid for writing
/// one pointer. The caller owns the new handle ([`dsr_pack_destroy`]). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_pack_open(path: *const c_char, out: *mut *mut dsr_pack) -> dsr_result {
    guard(|| {
        if path.is_null() || out.is_null() {
            return Err(Fail::invalid("path and out must not be null"));
        }
        // SAFETY: non-null and NUL-terminated (this function's contract).
        let bytes = unsafe { std::ffi::CStr::from_ptr(path) }.to_bytes();
        let path = std::path::Path::new(<std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(bytes));
        let pack = Pack::open(path).map_err(|e| pack_fail(&e))?;
        let names = pack
            .entries()
            .iter()
            .map(|e| CString::new(e.name.as_str()).unwrap_or_default())
            .collect::<Vec<_>>();
        let h = handles::insert(handles::Object::Pack(Arc::new(CPack { pack, names })));
        // SAFETY: `out` is non-null and valid for writes (this function's contract).
        unsafe { write_out(out, h, "out") }
    })
}

/// Releases the handle (entry names obtained from it become invalid). Requests reading the
/// pack keep its file open. A null, destroyed or foreign handle is refused with
/// `DSR_RESULT_INVALID_ARGUMENT`. Thread-safe.
#[unsafe(no_mangle)]
pub extern "C" fn dsr_pack_destroy(pack: *mut dsr_pack) -> dsr_result {
    guard(|| {
        let object = handles::remove(pack, "dsr_pack", |o| matches!(o, handles::Object::Pack(_)))?;
        drop(object);
        Ok(())
    })
}

/// The number of entries into `*out`.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one `uint32_t`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_pack_entry_count(pack: *const dsr_pack, out: *mut u32) -> dsr_result {
    guard(|| {
        let p = handles::pack(pack)?;
        let n = u32::try_from(p.pack.entries().len()).unwrap_or(u32::MAX);
        // SAFETY: `out` is null or valid for writes (this function's contract).
        unsafe { write_out(out, n, "out") }
    })
}

/// Entry `index` (0-based, in offset order) into `*out`.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one `dsr_pack_entry`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_pack_get_entry(
    pack: *const dsr_pack,
    index: u32,
    out: *mut dsr_pack_entry,
) -> dsr_result {
    guard(|| {
        let p = handles::pack(pack)?;
        let e = entry_at(&p, index)?;
        let entry = dsr_pack_entry {
            name: p.names[index as usize].as_ptr(),
            offset: e.offset,
            stored_size: e.stored_size,
            uncompressed_size: e.uncompressed_size,
            compression: match e.compression {
                EntryCompression::None => crate::DSR_COMPRESSION_NONE,
                EntryCompression::GDeflate => crate::DSR_COMPRESSION_GDEFLATE,
            },
            sha256: e.sha256,
        };
        // SAFETY: `out` is null or valid for writes (this function's contract).
        unsafe { write_out(out, entry, "out") }
    })
}

/// The index of the entry called `name` into `*out`; `DSR_RESULT_NOT_FOUND` when there is
/// none.
///
/// # Safety
///
/// `name` is null (refused) or NUL-terminated; `out` is null (refused) or valid for writing
/// one `uint32_t`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_pack_find(
    pack: *const dsr_pack,
    name: *const c_char,
    out: *mut u32,
) -> dsr_result {
    guard(|| {
        let p = handles::pack(pack)?;
        // SAFETY: null or NUL-terminated (this function's contract).
        let name = unsafe { crate::c_text(name) }.ok_or_else(|| Fail::invalid("name is a null pointer"))?;
        let found = p.pack.entries().iter().position(|e| e.name == name);
        let index =
            found.ok_or_else(|| Fail::new(crate::DSR_RESULT_NOT_FOUND, format!("no entry {name:?}")))?;
        // SAFETY: `out` is null or valid for writes (this function's contract).
        unsafe { write_out(out, index as u32, "out") }
    })
}

/// A new `dsr_file` handle on the pack's file, for the `source.file` of requests reading its
/// entries, into `*out` (the caller destroys it with `dsr_file_destroy`).
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one pointer. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_pack_get_file(pack: *const dsr_pack, out: *mut *mut dsr_file) -> dsr_result {
    guard(|| {
        let p = handles::pack(pack)?;
        if out.is_null() {
            return Err(Fail::invalid("out is a null pointer"));
        }
        let h = handles::insert(handles::Object::File(Arc::new(CFile { file: p.pack.file().clone() })));
        // SAFETY: `out` is non-null and valid for writes (this function's contract).
        unsafe { write_out(out, h, "out") }
    })
}

/// Checks that the `size` bytes at `data` are entry `index`'s content (size, then SHA-256):
/// `DSR_RESULT_OK`, or `DSR_RESULT_CORRUPT_DATA` naming the entry.
///
/// # Safety
///
/// `data` is valid for reads of `size` bytes (null only when `size` is 0). Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_pack_verify_entry(
    pack: *const dsr_pack,
    index: u32,
    data: *const c_void,
    size: u64,
) -> dsr_result {
    guard(|| {
        let p = handles::pack(pack)?;
        let e = entry_at(&p, index)?;
        let len = usize::try_from(size).map_err(|_| Fail::invalid("size overflows"))?;
        let bytes: &[u8] = if len == 0 {
            &[]
        } else if data.is_null() {
            return Err(Fail::invalid("data is a null pointer"));
        } else {
            // SAFETY: non-null and valid for reads of `size` bytes (this function's contract).
            unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) }
        };
        e.verify(bytes).map_err(|e| pack_fail(&e))
    })
}
