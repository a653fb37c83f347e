//! Host mirrors of the structs the [`GDEFLATE_DECODE`](crate::GDEFLATE_DECODE) kernel shares
//! with the host, and the kernel's status codes (reflected from the shader into
//! [`crate::gdeflate_decode`]).
//!
//! Invariant: each struct here has exactly the size, alignment and member offsets naga gives
//! its WGSL twin; the `const` block below fails the build otherwise, and `tests/reflection.rs`
//! also compares member names.

use crate::{DECODE_PARAMS_LAYOUT, TILE_DESC_LAYOUT, TILE_STATUS_LAYOUT};
use bytemuck::{Pod, Zeroable};

/// Dispatch parameters of `gdeflate_decode` (WGSL `DecodeParams`, bound as `var<uniform>`).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct DecodeParams {
    /// Number of [`TileDesc`] entries to decode.
    pub tile_count: u32,
}

/// One page for `gdeflate_decode` to decode (WGSL `TileDesc`): where it is and where its
/// bytes go. The kernel checks both ranges against its buffers.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct TileDesc {
    /// Byte offset of the page in the source buffer; a multiple of 4.
    pub src_offset: u32,
    /// Page size in bytes.
    pub src_size: u32,
    /// Byte offset of the page's decoded bytes in the destination buffer (any byte).
    pub dst_offset: u32,
    /// Exact decoded size of the page, 0..=65536.
    pub dst_size: u32,
}

/// The outcome of one tile, written by `gdeflate_decode` (WGSL `TileStatus`).
///
/// `code` is one of the `STATUS_*` constants of [`crate::gdeflate_decode`]; `offset` is the
/// byte offset in the page of the read position at the error (as the CPU decoder reports it);
/// the details depend on the code (see the shader).
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct TileStatus {
    /// `STATUS_*` code.
    pub code: u32,
    /// Read position in the page, in bytes.
    pub offset: u32,
    /// First detail of the error.
    pub detail0: u32,
    /// Second detail of the error.
    pub detail1: u32,
}

check_layout!(DecodeParams, DECODE_PARAMS_LAYOUT, [tile_count]);
check_layout!(TileDesc, TILE_DESC_LAYOUT, [src_offset, src_size, dst_offset, dst_size]);
check_layout!(TileStatus, TILE_STATUS_LAYOUT, [code, offset, detail0, detail1]);
