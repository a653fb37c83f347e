//! GDeflate in safe Rust: the page bitstream of DirectStorage, nvCOMP and the Vulkan
//! memory-decompression extensions, and DirectStorage's tile-stream container.
//!
//! This crate is the format layer of ds-runtime and the **reference** every GPU result is
//! checked against. It owns the bitstream rules (`shared/spec/gdeflate.md` sections 2–5):
//!
//! * [`decode`]: the page decoder (32 interleaved lanes, deferred distances, every error of
//!   spec 3.10 reported as a typed [`DecodeError`]), written so that no input can make it
//!   panic, loop without bound, or touch memory outside its input and output slices;
//! * [`tile_stream`]: parsing and writing the 8-byte-header + u32-table container;
//! * [`decompress`]/[`decompress_into`]: whole tile streams, tiles decoded in parallel.
//!
//! No `unsafe` anywhere in this crate.
//!
//! ```
//! let stream: &[u8] = &[0x04, 0xFB, 0, 0, 1, 0, 0, 0]; // the zero-tile stream
//! assert!(dsr_gdeflate::decompress(stream, 1)?.is_empty());
//! # Ok::<(), dsr_gdeflate::DecodeError>(())
//! ```
#![forbid(unsafe_code)]

pub mod decode;
pub mod encode;
pub mod error;
mod huffman;
pub mod parallel;
pub mod tables;
pub mod tile_stream;

#[cfg(any(test, feature = "crafted-pages"))]
pub mod crafted;
#[cfg(test)]
mod crafted_tests;
#[cfg(test)]
mod spec_examples;

pub use decode::{PageDecoder, decode_page};
pub use encode::{
    CompressStats, Level, PageEncoder, compress, compress_bound, compress_with_stats, encode_page,
};
pub use error::{CodeKind, DecodeError, DecodeErrorKind, EncodeError};
pub use tables::{LANES, TILE_SIZE};
pub use tile_stream::{StreamHead, TileStream, tile_count, write_tile_stream};

/// Decodes the tile stream `stream` into a new buffer, on up to `threads` threads (0 = one
/// per core). The output size comes from the stream's header.
///
/// ```
/// use dsr_gdeflate::{DecodeErrorKind, Level, compress, decompress};
/// let asset = b"GDeflate: 64 KiB tiles, 32 interleaved bit streams. ".repeat(4000); // 4 tiles
/// let stream = compress(&asset, Level::BEST, 0)?;
/// assert_eq!(decompress(&stream, 0)?, asset);
/// // Bad input is a typed error naming the tile and the byte offset, never a panic.
/// let mut broken = stream.clone();
/// broken.truncate(stream.len() - 100);
/// let err = decompress(&broken, 0).unwrap_err();
/// assert!(matches!(err.kind, DecodeErrorKind::StreamLengthMismatch { .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decompress(stream: &[u8], threads: usize) -> Result<Vec<u8>, DecodeError> {
    let ts = TileStream::parse(stream)?;
    // The table needs ≥ 4 bytes and every page ≥ 128 bytes per tile, so this allocation is
    // at most ~512× the input: a hostile header cannot make it arbitrarily large.
    let mut out = vec![0u8; ts.uncompressed_size() as usize];
    decode_tiles(&ts, &mut out, threads)?;
    Ok(out)
}

/// Decodes the tile stream `stream` into `out`, which must be exactly the stream's
/// uncompressed size, on up to `threads` threads (0 = one per core).
///
/// On error, `out` holds the tiles that decoded before the failure and unspecified bytes
/// elsewhere; nothing outside `out` is touched.
///
/// ```
/// use dsr_gdeflate::{DecodeErrorKind, Level, compress, decompress_into};
/// let stream = compress(&[42u8; 100_000], Level::FASTEST, 1)?;
/// let mut out = vec![0u8; 100_000];
/// decompress_into(&stream, &mut out, 1)?;
/// assert!(out.iter().all(|&b| b == 42));
/// let err = decompress_into(&stream, &mut out[..99_999], 1).unwrap_err();
/// assert!(matches!(err.kind, DecodeErrorKind::UncompressedSizeMismatch { stream: 100_000, .. }));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decompress_into(stream: &[u8], out: &mut [u8], threads: usize) -> Result<(), DecodeError> {
    let ts = TileStream::parse(stream)?;
    if ts.uncompressed_size() != out.len() as u64 {
        let kind = DecodeErrorKind::UncompressedSizeMismatch {
            stream: ts.uncompressed_size(),
            caller: out.len() as u64,
        };
        return Err(DecodeError { kind, tile: None, offset: 0 });
    }
    decode_tiles(&ts, out, threads)
}

fn decode_tiles(ts: &TileStream<'_>, out: &mut [u8], threads: usize) -> Result<(), DecodeError> {
    let work: Vec<(u32, &mut [u8])> = (0..ts.num_tiles()).zip(out.chunks_mut(TILE_SIZE)).collect();
    parallel::try_map(work, threads, PageDecoder::new, |dec, _, (i, dst)| {
        dec.decode(ts.tile(i), dst).map_err(|e| e.in_tile(i, ts.tile_range(i).start as u64))
    })?;
    Ok(())
}
