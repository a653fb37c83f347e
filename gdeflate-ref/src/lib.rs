//! Test oracle: NVIDIA's reference GDeflate codec (the libdeflate fork vendored by
//! `gdeflate-sys` 0.4.1), wrapped so that tests, benchmarks and fuzz targets can use it
//! without touching `unsafe`.
//!
//! This crate owns every `unsafe` call into the reference library. Each FFI call sits in one
//! method below with its `// SAFETY:` reason. The wrapper also neutralises the reference's
//! known hazards (spec section 11):
//!
//! * compressing 0 bytes crashes the library: [`Compressor::compress_page`] refuses it;
//! * at level 0 the compressor writes past its own bound: the output buffer gets a generous
//!   margin and the returned size is checked against the buffer;
//! * the decompressor never bounds-checks its reads against the page end: every page is
//!   copied into a buffer followed by [`READ_PADDING`] zero bytes, which bounds any overread
//!   (see [`Decompressor::decompress_page`]);
//! * the decompressor adds to `*actual` without clearing it, and reports no short output:
//!   the wrapper initialises it and compares it with the expected size itself.

use gdeflate_sys as sys;
use std::ffi::c_void;
use std::ptr::NonNull;

/// Zero bytes placed after every page handed to the reference decoder. Over zero bits the
/// reference can only (a) emit output, bounded by the page's 64 KiB capacity at ≥ 1 byte per
/// ≤ 15 bits, or (b) end blocks and start empty stored blocks, which its stored-block input
/// check stops. 256 KiB covers both with a wide margin.
pub const READ_PADDING: usize = 256 * 1024;

/// Largest page input (one 64 KiB tile).
pub const PAGE_SIZE: usize = 65536;

/// Why the reference codec refused something.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefError {
    /// Input length outside 1..=65536 for one page.
    BadInputLength,
    /// Level outside 0..=12, or the library could not allocate its state.
    BadLevel,
    /// The reference compressor returned 0 (it fails on some incompressible pages).
    CompressFailed,
    /// The reference decompressor returned `LIBDEFLATE_BAD_DATA`.
    BadData,
    /// The reference decompressor ran out of output space.
    InsufficientSpace,
    /// The page decoded successfully but to a different size than expected.
    WrongSize {
        /// Bytes produced.
        produced: usize,
    },
    /// Any other result code.
    Other(i32),
}

/// The reference page compressor at one level.
pub struct Compressor {
    raw: NonNull<sys::libdeflate_gdeflate_compressor>,
    level: i32,
}

impl Compressor {
    /// A compressor at `level` (0..=12).
    pub fn new(level: i32) -> Result<Self, RefError> {
        if !(0..=12).contains(&level) {
            return Err(RefError::BadLevel);
        }
        // SAFETY: plain allocation call; a null return is handled below.
        let raw = unsafe { sys::libdeflate_alloc_gdeflate_compressor(level) };
        NonNull::new(raw).map(|raw| Self { raw, level }).ok_or(RefError::BadLevel)
    }

    /// Compresses 1..=65536 bytes into one raw page.
    pub fn compress_page(&mut self, data: &[u8]) -> Result<Vec<u8>, RefError> {
        if data.is_empty() || data.len() > PAGE_SIZE {
            return Err(RefError::BadInputLength);
        }
        let mut npages = 0usize;
        // SAFETY: `self.raw` is a live compressor; `npages` is a valid out-pointer.
        let bound =
            unsafe { sys::libdeflate_gdeflate_compress_bound(self.raw.as_ptr(), data.len(), &mut npages) };
        if npages != 1 {
            return Err(RefError::BadInputLength);
        }
        // Level 0 is known to write past `bound`; give every level a full extra page of room.
        let mut out = vec![0u8; bound + PAGE_SIZE + 1024];
        let mut page =
            sys::libdeflate_gdeflate_out_page { data: out.as_mut_ptr().cast::<c_void>(), nbytes: out.len() };
        // SAFETY: `data` is valid for `data.len()` bytes (1..=65536, one page as checked
        // above); `page` describes `out`, writable for `out.len()` bytes, which exceeds the
        // library's bound by a full page.
        let n = unsafe {
            sys::libdeflate_gdeflate_compress(
                self.raw.as_ptr(),
                data.as_ptr().cast::<c_void>(),
                data.len(),
                &mut page,
                1,
            )
        };
        if n == 0 || n > out.len() {
            return Err(RefError::CompressFailed);
        }
        out.truncate(n);
        Ok(out)
    }

    /// The level this compressor was made for.
    pub fn level(&self) -> i32 {
        self.level
    }
}

impl Drop for Compressor {
    fn drop(&mut self) {
        // SAFETY: `raw` came from `libdeflate_alloc_gdeflate_compressor` and is freed once.
        unsafe { sys::libdeflate_free_gdeflate_compressor(self.raw.as_ptr()) }
    }
}

/// The reference page decompressor, with its padded input buffer.
pub struct Decompressor {
    raw: NonNull<sys::libdeflate_gdeflate_decompressor>,
    padded: Vec<u8>,
}

impl Decompressor {
    /// A new decompressor.
    pub fn new() -> Self {
        // SAFETY: plain allocation call; a null return is handled below.
        let raw = unsafe { sys::libdeflate_alloc_gdeflate_decompressor() };
        let raw = NonNull::new(raw).expect("libdeflate_alloc_gdeflate_decompressor: out of memory");
        Self { raw, padded: Vec::new() }
    }

    /// Decodes one raw page that must produce exactly `out.len()` bytes (1..=65536).
    pub fn decompress_page(&mut self, page: &[u8], out: &mut [u8]) -> Result<(), RefError> {
        if out.is_empty() || out.len() > PAGE_SIZE {
            return Err(RefError::BadInputLength);
        }
        self.padded.clear();
        self.padded.extend_from_slice(page);
        self.padded.resize(page.len() + READ_PADDING, 0);
        self.decode_padded(0, page.len(), out)
    }

    /// Decodes many pages stored back to back in `data` (e.g. a tile stream's data area):
    /// `pages[i] = (start, len)` in `data`, page i producing exactly the i-th `out_sizes`
    /// bytes, concatenated into `out`. The whole of `data` is copied once into the padded
    /// buffer, so a benchmark pays one memcpy per stream rather than a 256 KiB zero-fill per
    /// page. An over-reading malformed page reads later pages and then the zero padding, which
    /// bounds it as in [`Decompressor::decompress_page`].
    pub fn decompress_pages(
        &mut self,
        data: &[u8],
        pages: &[(usize, usize)],
        out_sizes: &[usize],
        out: &mut [u8],
    ) -> Result<(), RefError> {
        if pages.len() != out_sizes.len() || out_sizes.iter().sum::<usize>() != out.len() {
            return Err(RefError::BadInputLength);
        }
        self.padded.clear();
        self.padded.extend_from_slice(data);
        self.padded.resize(data.len() + READ_PADDING, 0);
        let mut at = 0;
        for (&(start, len), &size) in pages.iter().zip(out_sizes) {
            if start.checked_add(len).is_none_or(|end| end > data.len()) || size == 0 || size > PAGE_SIZE {
                return Err(RefError::BadInputLength);
            }
            self.decode_padded(start, len, &mut out[at..at + size])?;
            at += size;
        }
        Ok(())
    }

    /// Decodes `self.padded[start..start + len]`, which is followed by at least
    /// `READ_PADDING` bytes of the padded buffer, into `out` (1..=65536 bytes).
    fn decode_padded(&mut self, start: usize, len: usize, out: &mut [u8]) -> Result<(), RefError> {
        assert!(start + len + READ_PADDING <= self.padded.len() && !out.is_empty() && out.len() <= PAGE_SIZE);
        let mut in_page = sys::libdeflate_gdeflate_in_page {
            data: self.padded[start..].as_ptr().cast::<c_void>(),
            nbytes: len,
        };
        let mut actual = 0usize;
        // SAFETY: `in_page` points at `len` bytes followed by at least READ_PADDING readable
        // bytes ending in zeros (asserted above), which bounds the library's unchecked
        // overreads (module docs); `out` is writable for `out.len()` bytes and the library is
        // told so; `actual` is a valid out-pointer initialised to 0 (the library adds to it).
        let res = unsafe {
            sys::libdeflate_gdeflate_decompress(
                self.raw.as_ptr(),
                &mut in_page,
                1,
                out.as_mut_ptr().cast::<c_void>(),
                out.len(),
                &mut actual,
            )
        };
        match res {
            sys::libdeflate_result_LIBDEFLATE_SUCCESS if actual == out.len() => Ok(()),
            sys::libdeflate_result_LIBDEFLATE_SUCCESS => Err(RefError::WrongSize { produced: actual }),
            sys::libdeflate_result_LIBDEFLATE_BAD_DATA => Err(RefError::BadData),
            sys::libdeflate_result_LIBDEFLATE_INSUFFICIENT_SPACE => Err(RefError::InsufficientSpace),
            other => Err(RefError::Other(other)),
        }
    }
}

impl Default for Decompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Decompressor {
    fn drop(&mut self) {
        // SAFETY: `raw` came from `libdeflate_alloc_gdeflate_decompressor` and is freed once.
        unsafe { sys::libdeflate_free_gdeflate_decompressor(self.raw.as_ptr()) }
    }
}

// SAFETY: the library state is plain heap memory with no thread affinity, used only through
// `&mut self`; moving it to another thread is sound. It is not `Sync`.
unsafe impl Send for Compressor {}
// SAFETY: as for `Compressor`.
unsafe impl Send for Decompressor {}

/// Compresses `data` tile by tile (64 KiB pages) with the reference at `level`.
/// Returns one page per tile; empty input gives no pages.
pub fn compress_tiles(data: &[u8], level: i32) -> Result<Vec<Vec<u8>>, RefError> {
    let mut c = Compressor::new(level)?;
    data.chunks(PAGE_SIZE).map(|tile| c.compress_page(tile)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_round_trips_a_page() {
        let data: Vec<u8> = (0..5000u32).map(|i| (i * 7 % 251) as u8).collect();
        let page = Compressor::new(6).unwrap().compress_page(&data).unwrap();
        let mut out = vec![0u8; data.len()];
        Decompressor::new().decompress_page(&page, &mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn reference_reports_wrong_size_instead_of_success() {
        let page = Compressor::new(1).unwrap().compress_page(b"hello").unwrap();
        let mut out = vec![0u8; 10];
        assert_eq!(
            Decompressor::new().decompress_page(&page, &mut out),
            Err(RefError::WrongSize { produced: 5 })
        );
    }

    #[test]
    fn garbage_pages_are_rejected_without_reading_out_of_bounds() {
        // All-zero and all-one pages of minimum size: the reference over-reads into the padding.
        let mut d = Decompressor::new();
        let mut out = vec![0u8; PAGE_SIZE];
        for fill in [0u8, 0xFF] {
            assert!(d.decompress_page(&[fill; 128], &mut out).is_err());
        }
    }
}
