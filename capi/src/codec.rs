//! The GDeflate codec on the CPU (`dsr-gdeflate`) for C: DirectStorage's
//! `IDStorageCompressionCodec` (`CompressBuffer`, `DecompressBuffer`, `CompressBufferBound`)
//! as plain functions, plus the stream header's uncompressed size. Tile-parallel on up to
//! `threads` threads (0: one per core); output identical for any thread count.

use crate::{Fail, dsr_result, guard, write_out};
use std::ffi::c_void;

/// `dsr_gdeflate_compress` level: stored blocks only.
pub const DSR_GDEFLATE_LEVEL_STORED: u32 = 0;
/// Fastest compression (`DSTORAGE_COMPRESSION_FASTEST`).
pub const DSR_GDEFLATE_LEVEL_FASTEST: u32 = 1;
/// The default (`DSTORAGE_COMPRESSION_DEFAULT`).
pub const DSR_GDEFLATE_LEVEL_DEFAULT: u32 = 9;
/// Best ratio (`DSTORAGE_COMPRESSION_BEST_RATIO`).
pub const DSR_GDEFLATE_LEVEL_BEST: u32 = 12;

/// The caller's `size` bytes at `p` (null only when `size` is 0).
///
/// # Safety
///
/// `p` is valid for reads of `size` bytes during the call.
unsafe fn input<'a>(p: *const c_void, size: u64, what: &str) -> Result<&'a [u8], Fail> {
    let len = usize::try_from(size).map_err(|_| Fail::invalid(format!("{what} size overflows")))?;
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(Fail::invalid(format!("{what} is a null pointer")));
    }
    // SAFETY: non-null and valid for reads of `len` bytes (the caller's contract).
    Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}

/// The caller's `size` writable bytes at `p` (null only when `size` is 0).
///
/// # Safety
///
/// `p` is valid for writes of `size` bytes during the call and not otherwise accessed.
unsafe fn output<'a>(p: *mut c_void, size: u64, what: &str) -> Result<&'a mut [u8], Fail> {
    let len = usize::try_from(size).map_err(|_| Fail::invalid(format!("{what} size overflows")))?;
    if len == 0 {
        return Ok(&mut []);
    }
    if p.is_null() {
        return Err(Fail::invalid(format!("{what} is a null pointer")));
    }
    // SAFETY: non-null, valid for writes of `len` bytes, unaliased (the caller's contract).
    Ok(unsafe { std::slice::from_raw_parts_mut(p.cast::<u8>(), len) })
}

/// The most bytes `dsr_gdeflate_compress` can produce for `size` input bytes
/// (`CompressBufferBound`), into `*out`.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one `uint64_t`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_gdeflate_compress_bound(size: u64, out: *mut u64) -> dsr_result {
    // SAFETY: `out` is null or valid for writes (this function's contract).
    guard(|| unsafe { write_out(out, dsr_gdeflate::compress_bound(size), "out") })
}

/// Compresses `src_size` bytes at `src` into a DirectStorage GDeflate tile stream at `dst`
/// (`CompressBuffer`), at `level` (0–12, `DSR_GDEFLATE_LEVEL_*`); `*out_size` receives the
/// stream's size. When `dst_capacity` is too small, returns `DSR_RESULT_FULL` with the needed
/// size in `*out_size` and writes nothing (`dsr_gdeflate_compress_bound` is always enough).
/// More than 65535 tiles (4 GiB − 64 KiB) is `DSR_RESULT_INVALID_ARGUMENT`.
///
/// # Safety
///
/// `src` is valid for reads of `src_size` bytes and `dst` for writes of `dst_capacity` bytes
/// (either may be null when its size is 0), not overlapping; `out_size` is null (refused) or
/// valid for writing one `uint64_t`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_gdeflate_compress(
    src: *const c_void,
    src_size: u64,
    level: u32,
    threads: u32,
    dst: *mut c_void,
    dst_capacity: u64,
    out_size: *mut u64,
) -> dsr_result {
    guard(|| {
        if out_size.is_null() {
            return Err(Fail::invalid("out_size is a null pointer"));
        }
        // SAFETY: valid for reads of `src_size` bytes (this function's contract).
        let data = unsafe { input(src, src_size, "src") }?;
        let level = dsr_gdeflate::Level::new(level).map_err(|e| Fail::invalid(e.to_string()))?;
        let stream = dsr_gdeflate::compress(data, level, threads as usize)
            .map_err(|e| Fail::invalid(e.to_string()))?;
        // SAFETY: `out_size` is non-null and valid for writes (this function's contract).
        unsafe { write_out(out_size, stream.len() as u64, "out_size") }?;
        if stream.len() as u64 > dst_capacity {
            return Err(Fail::new(
                crate::DSR_RESULT_FULL,
                format!("the stream needs {} bytes, dst holds {dst_capacity}", stream.len()),
            ));
        }
        // SAFETY: valid for writes of `dst_capacity` ≥ `stream.len()` bytes (checked above;
        // this function's contract).
        let out = unsafe { output(dst, stream.len() as u64, "dst") }?;
        out.copy_from_slice(&stream);
        Ok(())
    })
}

/// The uncompressed size a GDeflate tile stream's header states, into `*out`; the header and
/// tile table are validated (`DSR_RESULT_CORRUPT_DATA` when malformed or truncated).
///
/// # Safety
///
/// `src` is valid for reads of `src_size` bytes (the whole stream); `out` is null (refused)
/// or valid for writing one `uint64_t`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_gdeflate_uncompressed_size(
    src: *const c_void,
    src_size: u64,
    out: *mut u64,
) -> dsr_result {
    guard(|| {
        // SAFETY: valid for reads of `src_size` bytes (this function's contract).
        let stream = unsafe { input(src, src_size, "src") }?;
        let ts = dsr_gdeflate::TileStream::parse(stream)
            .map_err(|e| Fail::new(crate::DSR_RESULT_CORRUPT_DATA, format!("corrupt GDeflate data: {e}")))?;
        // SAFETY: `out` is null or valid for writes (this function's contract).
        unsafe { write_out(out, ts.uncompressed_size(), "out") }
    })
}

/// Decodes the GDeflate tile stream at `src` into `dst` (`DecompressBuffer`), which must hold
/// exactly the stream's uncompressed size (`dsr_gdeflate_uncompressed_size`); malformed data
/// or another size is `DSR_RESULT_CORRUPT_DATA`. Nothing outside `dst` is written; on error
/// `dst`'s contents are unspecified.
///
/// # Safety
///
/// `src` is valid for reads of `src_size` bytes and `dst` for writes of `dst_size` bytes
/// (either may be null when its size is 0), not overlapping. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_gdeflate_decompress(
    src: *const c_void,
    src_size: u64,
    threads: u32,
    dst: *mut c_void,
    dst_size: u64,
) -> dsr_result {
    guard(|| {
        // SAFETY: valid for reads of `src_size` bytes (this function's contract).
        let stream = unsafe { input(src, src_size, "src") }?;
        // SAFETY: valid for writes of `dst_size` bytes, unaliased (this function's contract).
        let out = unsafe { output(dst, dst_size, "dst") }?;
        dsr_gdeflate::decompress_into(stream, out, threads as usize)
            .map_err(|e| Fail::new(crate::DSR_RESULT_CORRUPT_DATA, format!("corrupt GDeflate data: {e}")))
    })
}
