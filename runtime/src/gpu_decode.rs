//! What the GPU backends ([`crate::vulkan`], the ash core, and [`crate::wgpu`]) share about
//! the `gdeflate_decode` kernel: the page description ([`PageJob`]), the packing of pages
//! into the kernel's source buffer and descriptor table, and the mapping of the kernel's
//! per-tile status to the CPU decoder's error ([`status_error`]).
//!
//! Invariants:
//! - One mapping from kernel status to [`DecodeErrorKind`] for every backend, so a corrupt
//!   page gives the same error (kind, details, byte offset) on the CPU, ash and wgpu.
//! - A status that cannot come from a correct dispatch (a page not reached, a rejected
//!   descriptor, the round limit, an unknown code) is a [`StatusFault`], which each backend
//!   reports as its internal error, never as success or as a decode error.
//! - Packed sources and destinations stay below 4 GiB (the kernel's byte offsets are `u32`);
//!   larger jobs are refused before anything is uploaded.

use dsr_gdeflate::{CodeKind, DecodeError, DecodeErrorKind, TILE_SIZE, TileStream};
use dsr_kernels::gdeflate_decode as k;
pub use dsr_kernels::{DecodeParams, TileDesc, TileStatus};
use std::fmt;

/// Environment variable that names the decode kernel to use instead of the automatic choice
/// (`gdeflate_decode` or `gdeflate_decode_subgroup`), for benchmarks and tests that compare
/// the variants on one device; every GPU backend honours it.
pub const DECODE_KERNEL_ENV: &str = "DSR_DECODE_KERNEL";

/// Name of the Vulkan driver's decode method (`VK_NV_memory_decompression`, GDeflate 1.0),
/// which the ash core lists among its decode methods where the device has it. It checks
/// nothing inside a page (see `vulkan::decode`). Backends that cannot run it (wgpu) treat it
/// in [`DECODE_KERNEL_ENV`] like `auto`.
pub const DRIVER_DECODE: &str = "nv_memory_decompression";

/// [`DECODE_KERNEL_ENV`] value that lets the ash core choose its decode method by measurement
/// among every method of the device, the driver's unchecked one included; `auto` (like unset)
/// keeps the checking kernel. Backends without a choice to measure treat both like unset.
pub const AUTO_UNCHECKED: &str = "auto-unchecked";

/// Whether a [`DECODE_KERNEL_ENV`] value leaves the kernel choice to the backend (`auto`,
/// [`AUTO_UNCHECKED`], or the driver's method on a backend that only runs kernels).
pub fn is_automatic_kernel_choice(value: &str) -> bool {
    matches!(value, "auto" | AUTO_UNCHECKED | DRIVER_DECODE)
}

/// One page to decode: its bytes and where its decoded bytes go.
#[derive(Debug, Clone, Copy)]
pub struct PageJob<'a> {
    /// The compressed page (spec section 3).
    pub page: &'a [u8],
    /// Byte offset of the page's output in the destination buffer.
    pub dst_offset: u64,
    /// Exact decoded size of the page (0..=65536).
    pub dst_size: u32,
}

/// A kernel status that means the dispatch itself went wrong (a bug in ds-runtime, never bad
/// input); each backend wraps it in its internal error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusFault {
    /// `STATUS_NOT_RUN`: the dispatch did not reach the page.
    NotRun,
    /// `STATUS_BAD_DESCRIPTOR`: the kernel rejected the page's descriptor.
    BadDescriptor,
    /// `STATUS_ROUND_LIMIT`: the kernel's round budget ran out.
    RoundLimit,
    /// `STATUS_BAD_SUBGROUP`: the subgroup variant ran with another subgroup size than it
    /// needs (the host picked it for a device it does not fit).
    BadSubgroup,
    /// A status code the host does not know.
    UnknownStatus(u32),
    /// An error status naming a code kind the host does not know.
    UnknownCodeKind(u32),
}

impl fmt::Display for StatusFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotRun => f.write_str("the decode dispatch did not reach every page"),
            Self::BadDescriptor => f.write_str("the decode kernel rejected a page descriptor"),
            Self::RoundLimit => f.write_str("the decode kernel hit its round limit"),
            Self::BadSubgroup => {
                write!(f, "the subgroup decode kernel ran with a subgroup size other than {}", k::LANES)
            }
            Self::UnknownStatus(c) => write!(f, "decode kernel reported unknown status {c}"),
            Self::UnknownCodeKind(c) => write!(f, "decode kernel reported unknown code kind {c}"),
        }
    }
}

impl std::error::Error for StatusFault {}

/// The CPU decoder's error for a kernel status: `Ok(None)` for success, `Ok(Some(kind))` for
/// a page error, `Err` for a status that means the dispatch itself went wrong.
pub fn status_error(s: &TileStatus) -> Result<Option<DecodeErrorKind>, StatusFault> {
    let code_kind = |c: u32| match c {
        k::CODE_PRECODE => Ok(CodeKind::Precode),
        k::CODE_LITLEN => Ok(CodeKind::LitLen),
        k::CODE_DISTANCE => Ok(CodeKind::Distance),
        _ => Err(StatusFault::UnknownCodeKind(c)),
    };
    let kind = match s.code {
        k::STATUS_OK => return Ok(None),
        k::STATUS_BAD_PAGE_SIZE => DecodeErrorKind::BadPageSize { len: s.detail0 },
        k::STATUS_INPUT_OVERRUN => DecodeErrorKind::InputOverrun,
        k::STATUS_RESERVED_BLOCK_TYPE => DecodeErrorKind::ReservedBlockType,
        k::STATUS_INVALID_CODE => DecodeErrorKind::InvalidCode(code_kind(s.detail0)?),
        k::STATUS_EMPTY_CODE => DecodeErrorKind::EmptyCode(code_kind(s.detail0)?),
        k::STATUS_REPEAT_WITHOUT_PREVIOUS => DecodeErrorKind::RepeatWithoutPrevious,
        k::STATUS_CODE_LENGTH_OVERRUN => DecodeErrorKind::CodeLengthOverrun,
        k::STATUS_MISSING_END_OF_BLOCK => DecodeErrorKind::MissingEndOfBlock,
        k::STATUS_INVALID_SYMBOL => DecodeErrorKind::InvalidSymbol { symbol: s.detail0 as u16 },
        k::STATUS_DISTANCE_TOO_FAR => {
            DecodeErrorKind::DistanceTooFar { distance: s.detail0, position: s.detail1 }
        }
        k::STATUS_OUTPUT_OVERRUN => DecodeErrorKind::OutputOverrun { capacity: s.detail0 },
        k::STATUS_OUTPUT_UNDERRUN => {
            DecodeErrorKind::OutputUnderrun { produced: s.detail0, expected: s.detail1 }
        }
        k::STATUS_NOT_RUN => return Err(StatusFault::NotRun),
        k::STATUS_BAD_DESCRIPTOR => return Err(StatusFault::BadDescriptor),
        k::STATUS_ROUND_LIMIT => return Err(StatusFault::RoundLimit),
        k::STATUS_BAD_SUBGROUP => return Err(StatusFault::BadSubgroup),
        c => return Err(StatusFault::UnknownStatus(c)),
    };
    Ok(Some(kind))
}

/// Largest source or destination of one decode job, in bytes: the kernel's offsets are `u32`.
pub(crate) const BUFFER_LIMIT: u64 = u32::MAX as u64;

/// Pages packed for the kernel: every page at a 4-byte-aligned offset of `src`, and its
/// [`TileDesc`].
#[derive(Debug)]
pub(crate) struct PackedPages {
    /// The pages back to back, each padded to whole words; at least one word (bindings
    /// cannot be empty).
    pub src: Vec<u8>,
    /// One descriptor per page.
    pub tiles: Vec<TileDesc>,
    /// Number of pages.
    pub tile_count: u32,
    /// Bytes of `src` before padding to at least one word.
    pub src_bytes: u64,
    /// Sum of the pages' `dst_size`.
    pub decoded_bytes: u64,
}

/// Packs `pages` for a `dst_len`-byte destination, refusing (with the reason) an empty job,
/// a page whose destination range is not inside `[0, dst_len)` or exceeds a tile, and
/// sources or a destination of 4 GiB or more.
pub(crate) fn pack_pages(pages: &[PageJob<'_>], dst_len: usize) -> Result<PackedPages, String> {
    if pages.is_empty() {
        return Err("a decode job needs at least one page".into());
    }
    let tile_count = u32::try_from(pages.len()).map_err(|_| "more than 2^32 pages".to_string())?;
    if dst_len as u64 > BUFFER_LIMIT || dst_len == 0 {
        return Err(format!("destination of {dst_len} bytes (must be 1 byte to 4 GiB)"));
    }
    let mut src = Vec::new();
    let mut tiles = Vec::with_capacity(pages.len());
    let mut decoded_bytes = 0u64;
    for (i, p) in pages.iter().enumerate() {
        let end = p.dst_offset.checked_add(u64::from(p.dst_size));
        if p.dst_size as usize > TILE_SIZE || end.is_none_or(|e| e > dst_len as u64) {
            return Err(format!(
                "page {i}: destination {}+{} is not inside the {dst_len}-byte destination (or exceeds 65536)",
                p.dst_offset, p.dst_size
            ));
        }
        let src_offset = src.len() as u64;
        src.extend_from_slice(p.page);
        // Pages of a bad size still get a 4-byte-aligned slot; the kernel rejects them.
        src.resize(src.len().next_multiple_of(4), 0);
        if src.len() as u64 > BUFFER_LIMIT {
            return Err("decode job sources exceed 4 GiB".into());
        }
        tiles.push(TileDesc {
            src_offset: src_offset as u32,
            src_size: p.page.len() as u32,
            dst_offset: p.dst_offset as u32,
            dst_size: p.dst_size,
        });
        decoded_bytes += u64::from(p.dst_size);
    }
    let src_bytes = src.len() as u64;
    if src.is_empty() {
        src.resize(4, 0);
    }
    Ok(PackedPages { src, tiles, tile_count, src_bytes, decoded_bytes })
}

/// The pages of a tile stream, each decoding to its place in the stream's output (tiles
/// cover the output exactly).
pub fn stream_pages<'a>(ts: &TileStream<'a>) -> Vec<PageJob<'a>> {
    (0..ts.num_tiles())
        .map(|i| PageJob {
            page: ts.tile(i),
            dst_offset: u64::from(i) * TILE_SIZE as u64,
            dst_size: ts.tile_uncompressed_size(i) as u32,
        })
        .collect()
}

/// The first page error of a decoded tile stream, as the CPU decoder reports it (tile and
/// byte offset in the stream), or the backend's error `fault` for a status that is no page
/// outcome.
pub(crate) fn stream_outcome<E>(
    ts: &TileStream<'_>,
    statuses: &[TileStatus],
    fault: impl Fn(StatusFault) -> E,
) -> Result<(), crate::Error>
where
    crate::Error: From<E>,
{
    if statuses.len() != ts.num_tiles() as usize {
        return Err(fault(StatusFault::NotRun).into());
    }
    for (i, s) in statuses.iter().enumerate() {
        if let Some(kind) = status_error(s).map_err(&fault)? {
            let start = ts.tile_range(i as u32).start as u64;
            return Err(
                DecodeError { kind, tile: Some(i as u32), offset: start + u64::from(s.offset) }.into()
            );
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_the_cpu_error_kinds_or_to_faults() {
        let st = |code, detail0, detail1| TileStatus { code, offset: 8, detail0, detail1 };
        assert_eq!(status_error(&st(k::STATUS_OK, 0, 0)), Ok(None));
        assert_eq!(
            status_error(&st(k::STATUS_INVALID_CODE, k::CODE_DISTANCE, 0)),
            Ok(Some(DecodeErrorKind::InvalidCode(CodeKind::Distance)))
        );
        assert_eq!(
            status_error(&st(k::STATUS_OUTPUT_UNDERRUN, 3, 9)),
            Ok(Some(DecodeErrorKind::OutputUnderrun { produced: 3, expected: 9 }))
        );
        assert_eq!(status_error(&st(k::STATUS_NOT_RUN, 0, 0)), Err(StatusFault::NotRun));
        assert_eq!(status_error(&st(k::STATUS_BAD_SUBGROUP, 0, 0)), Err(StatusFault::BadSubgroup));
        assert_eq!(status_error(&st(k::STATUS_EMPTY_CODE, 77, 0)), Err(StatusFault::UnknownCodeKind(77)));
        assert_eq!(status_error(&st(0xDEAD, 0, 0)), Err(StatusFault::UnknownStatus(0xDEAD)));
    }

    #[test]
    fn packing_aligns_pages_and_refuses_destinations_outside_the_buffer() {
        let a = [1u8; 130];
        let b = [2u8; 128];
        let pages = [
            PageJob { page: &a, dst_offset: 1, dst_size: 10 },
            PageJob { page: &b, dst_offset: 11, dst_size: 5 },
        ];
        let p = pack_pages(&pages, 16).unwrap();
        assert_eq!((p.tile_count, p.src_bytes, p.decoded_bytes, p.src.len()), (2, 260, 15, 260));
        assert_eq!(p.tiles[1], TileDesc { src_offset: 132, src_size: 128, dst_offset: 11, dst_size: 5 });
        assert!(pack_pages(&pages, 15).unwrap_err().contains("page 1"));
        assert!(pack_pages(&[], 16).is_err());
        assert!(pack_pages(&pages, 0).is_err());
    }
}
