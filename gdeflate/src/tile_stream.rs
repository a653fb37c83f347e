//! The DirectStorage GDeflate tile-stream container (spec section 5): parsing with every
//! check a robust reader needs (5.1–5.3, 5.6), and writing.
//!
//! Layout: an 8-byte header (`04 FB`, u16 tile count, u32 bitfield with tileSizeIdx = 1 and
//! lastTileSize), a u32 table (`table[0]` = compressed size of the last tile, `table[i]` =
//! data-area offset of tile i), then the tiles back to back. A parsed [`TileStream`] has
//! validated that every tile lies inside the input, in order, 4-byte aligned, and that the
//! input is exactly as long as the table says; pages themselves are checked when decoded.

use crate::error::{DecodeError, DecodeErrorKind, EncodeError};
use crate::tables::TILE_SIZE;
use std::ops::Range;

/// GDeflate's codec id in DirectStorage's tile-stream header.
pub const CODEC_ID: u8 = 4;
/// Header size in bytes.
pub const HEADER_LEN: usize = 8;
/// Most tiles one stream can hold (u16 count).
pub const MAX_TILES: usize = 65535;
/// The only defined tile-size index (64 KiB).
const TILE_SIZE_IDX_64K: u32 = 1;

/// Number of tiles `len` uncompressed bytes need (0 for empty input).
pub const fn tile_count(len: u64) -> u64 {
    len.div_ceil(TILE_SIZE as u64)
}

/// A validated view of a tile stream.
#[derive(Debug, Clone, Copy)]
pub struct TileStream<'a> {
    bytes: &'a [u8],
    head: StreamHead,
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// What a tile stream's header and table say, validated from the stream's first bytes alone:
/// for readers that fetch a stream piece by piece and never hold it whole.
///
/// Invariant: [`StreamHead::parse`] of a stream's prefix accepts exactly the streams
/// [`TileStream::parse`] accepts and reports the same error (kind, tile, offset) for the others
/// ([`TileStream::parse`] is this check on the whole stream).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StreamHead {
    /// Number of tiles.
    pub num_tiles: u32,
    /// Uncompressed size of the last tile, 1..=65536 (meaningless when `num_tiles == 0`).
    pub last_tile_size: u32,
    /// Offset of the first tile's page: the end of the header and table.
    pub data_start: usize,
}

impl StreamHead {
    /// Validates the header and table of a `total_len`-byte stream whose first bytes are
    /// `prefix`. `prefix` must hold `min(total_len, 8 + 4 × tiles)` bytes (more are ignored); a
    /// shorter one is reported as a truncated header or table at `prefix.len()`, never a panic.
    pub fn parse(prefix: &[u8], total_len: u64) -> Result<Self, DecodeError> {
        let err = |kind, offset: u64| DecodeError::new(kind, offset);
        if total_len < HEADER_LEN as u64 || prefix.len() < HEADER_LEN {
            return Err(err(DecodeErrorKind::TruncatedHeader, total_len.min(prefix.len() as u64)));
        }
        let (id, magic) = (prefix[0], prefix[1]);
        if id != CODEC_ID || magic != id ^ 0xFF {
            return Err(err(DecodeErrorKind::BadCodecId { id, magic }, 0));
        }
        let num_tiles = u32::from(u16::from_le_bytes([prefix[2], prefix[3]]));
        let bits = read_u32(prefix, 4);
        let tile_size_idx = bits & 3;
        if tile_size_idx != TILE_SIZE_IDX_64K {
            return Err(err(DecodeErrorKind::UnsupportedTileSize { tile_size_idx: tile_size_idx as u8 }, 4));
        }
        if bits >> 20 != 0 {
            return Err(err(DecodeErrorKind::ReservedBitsSet, 4));
        }
        let last_field = (bits >> 2) & 0x3FFFF;
        // lastTileSize is 1..=65535, or 0 for a full tile; larger values are not sizes.
        if last_field > 0xFFFF {
            return Err(err(DecodeErrorKind::ReservedBitsSet, 4));
        }
        let last_tile_size = if last_field == 0 { TILE_SIZE as u32 } else { last_field };

        let data_start = HEADER_LEN + 4 * num_tiles as usize;
        if total_len < data_start as u64 {
            return Err(err(DecodeErrorKind::TruncatedTable, total_len));
        }
        if prefix.len() < data_start {
            return Err(err(DecodeErrorKind::TruncatedTable, prefix.len() as u64));
        }
        let head = Self { num_tiles, last_tile_size, data_start };
        if num_tiles == 0 {
            if total_len != HEADER_LEN as u64 {
                let kind =
                    DecodeErrorKind::StreamLengthMismatch { expected: HEADER_LEN as u64, actual: total_len };
                return Err(err(kind, HEADER_LEN as u64));
            }
            return Ok(head);
        }

        let data_len = total_len - data_start as u64;
        let mut prev = 0u64;
        for i in 1..num_tiles {
            let off = u64::from(head.table(prefix, i));
            if !off.is_multiple_of(4) || off < prev || off > data_len {
                return Err(DecodeError {
                    kind: DecodeErrorKind::BadTileOffset,
                    tile: Some(i),
                    offset: (HEADER_LEN + 4 * i as usize) as u64,
                });
            }
            prev = off;
        }
        let expected = data_start as u64 + prev + u64::from(head.table(prefix, 0));
        if expected != total_len {
            let kind = DecodeErrorKind::StreamLengthMismatch { expected, actual: total_len };
            return Err(DecodeError { kind, tile: Some(num_tiles - 1), offset: HEADER_LEN as u64 });
        }
        Ok(head)
    }

    /// Table entry `i` (`i < num_tiles`) of the stream whose prefix `prefix` was parsed:
    /// entry 0 is the last tile's compressed size, entry i > 0 tile i's data-area offset.
    pub fn table(&self, prefix: &[u8], i: u32) -> u32 {
        read_u32(prefix, HEADER_LEN + 4 * i as usize)
    }

    /// Total uncompressed size (spec 5.4).
    pub fn uncompressed_size(&self) -> u64 {
        match self.num_tiles {
            0 => 0,
            n => u64::from(n - 1) * TILE_SIZE as u64 + u64::from(self.last_tile_size),
        }
    }
}

impl<'a> TileStream<'a> {
    /// Parses and validates the header and table of `bytes`, which must be exactly one tile
    /// stream.
    ///
    /// ```
    /// use dsr_gdeflate::{Level, TileStream, compress, decode_page};
    /// let data = vec![1u8; 150_000]; // two full tiles and one of 18 928 bytes
    /// let stream = compress(&data, Level::FASTEST, 1)?;
    /// let ts = TileStream::parse(&stream)?;
    /// assert_eq!((ts.num_tiles(), ts.uncompressed_size()), (3, 150_000));
    /// assert_eq!(ts.tile_uncompressed_size(2), 150_000 - 2 * 65536);
    /// let mut last = vec![0u8; ts.tile_uncompressed_size(2)];
    /// decode_page(ts.tile(2), &mut last)?; // each tile is an independent page
    /// assert!(TileStream::parse(&stream[..stream.len() - 4]).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        Ok(Self { bytes, head: StreamHead::parse(bytes, bytes.len() as u64)? })
    }

    fn table(&self, i: u32) -> u32 {
        self.head.table(self.bytes, i)
    }

    /// The validated header.
    pub fn head(&self) -> StreamHead {
        self.head
    }

    /// Number of tiles.
    pub fn num_tiles(&self) -> u32 {
        self.head.num_tiles
    }

    /// Total uncompressed size (spec 5.4).
    pub fn uncompressed_size(&self) -> u64 {
        self.head.uncompressed_size()
    }

    /// Uncompressed size of tile `i`.
    pub fn tile_uncompressed_size(&self, i: u32) -> usize {
        if i + 1 == self.head.num_tiles { self.head.last_tile_size as usize } else { TILE_SIZE }
    }

    /// Byte range of tile `i`'s page in the stream.
    pub fn tile_range(&self, i: u32) -> Range<usize> {
        let off = if i == 0 { 0 } else { self.table(i) as usize };
        let end = if i + 1 == self.head.num_tiles {
            off + self.table(0) as usize
        } else {
            self.table(i + 1) as usize
        };
        self.head.data_start + off..self.head.data_start + end
    }

    /// Tile `i`'s page.
    pub fn tile(&self, i: u32) -> &'a [u8] {
        &self.bytes[self.tile_range(i)]
    }

    /// The whole stream.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.bytes
    }
}

/// Writes a tile stream from pages already compressed, tile by tile, from an input of
/// `uncompressed_len` bytes (which fixes the last tile's size).
///
/// The pages must be one per tile (`tile_count(uncompressed_len)` of them), each a multiple of
/// 4 bytes long. Empty input gives the 8-byte zero-tile stream `04 FB 00 00 01 00 00 00`.
///
/// ```
/// use dsr_gdeflate::{Level, TILE_SIZE, decompress, encode_page, write_tile_stream};
/// let data = vec![9u8; TILE_SIZE + 10];
/// let pages = [encode_page(&data[..TILE_SIZE], Level::DEFAULT)?,
///              encode_page(&data[TILE_SIZE..], Level::DEFAULT)?];
/// let stream = write_tile_stream(&pages, data.len() as u64)?;
/// assert_eq!(&stream[..2], &[0x04, 0xFB]);
/// assert_eq!(decompress(&stream, 1)?, data);
/// assert_eq!(write_tile_stream::<&[u8]>(&[], 0)?, [0x04, 0xFB, 0, 0, 1, 0, 0, 0]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn write_tile_stream<P: AsRef<[u8]>>(pages: &[P], uncompressed_len: u64) -> Result<Vec<u8>, EncodeError> {
    let tiles = tile_count(uncompressed_len);
    if tiles > MAX_TILES as u64 {
        return Err(EncodeError::TooManyTiles { tiles });
    }
    assert_eq!(pages.len() as u64, tiles, "one page per tile");
    let last = (uncompressed_len % TILE_SIZE as u64) as u32; // 0 = full last tile
    let total: usize = pages.iter().map(|p| p.as_ref().len()).sum();
    let mut out = Vec::with_capacity(HEADER_LEN + 4 * pages.len() + total);
    out.extend_from_slice(&[CODEC_ID, CODEC_ID ^ 0xFF]);
    out.extend_from_slice(&(tiles as u16).to_le_bytes());
    out.extend_from_slice(&(TILE_SIZE_IDX_64K | (last << 2)).to_le_bytes());
    let mut offset = 0u32;
    for (i, p) in pages.iter().enumerate() {
        let len = p.as_ref().len();
        assert!(len.is_multiple_of(4), "pages are whole words");
        let entry = if i == 0 { pages[pages.len() - 1].as_ref().len() as u32 } else { offset };
        out.extend_from_slice(&entry.to_le_bytes());
        offset += len as u32;
    }
    for p in pages {
        out.extend_from_slice(p.as_ref());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_input_is_the_eight_byte_zero_tile_stream() {
        let s = write_tile_stream::<&[u8]>(&[], 0).unwrap();
        assert_eq!(s, [0x04, 0xFB, 0, 0, 1, 0, 0, 0]);
        let t = TileStream::parse(&s).unwrap();
        assert_eq!((t.num_tiles(), t.uncompressed_size()), (0, 0));
    }

    #[test]
    fn spec_4_7_two_tile_layout() {
        // Spec 4.7: 65537 zero bytes -> table[0] = 136 (last tile size), table[1] = 140.
        let (a, b) = (vec![0u8; 140], vec![0u8; 136]);
        let s = write_tile_stream(&[&a[..], &b[..]], 65537).unwrap();
        assert_eq!(&s[..16], &[0x04, 0xFB, 2, 0, 5, 0, 0, 0, 0x88, 0, 0, 0, 0x8C, 0, 0, 0]);
        let t = TileStream::parse(&s).unwrap();
        assert_eq!(t.uncompressed_size(), 65537);
        assert_eq!(t.tile_range(0), 16..156);
        assert_eq!(t.tile_range(1), 156..292);
        assert_eq!(t.tile_uncompressed_size(1), 1);
    }

    #[test]
    fn spec_4_8_full_last_tile_is_size_field_zero() {
        let p = vec![0u8; 65672];
        let s = write_tile_stream(&[&p[..]], 65536).unwrap();
        assert_eq!(&s[..8], &[0x04, 0xFB, 1, 0, 1, 0, 0, 0]);
        assert_eq!(TileStream::parse(&s).unwrap().tile_uncompressed_size(0), 65536);
    }

    #[test]
    fn header_and_table_errors_have_their_kinds() {
        let p = [0u8; 128];
        let good = write_tile_stream(&[&p[..], &p[..]], 70000).unwrap();
        let kind = |b: &[u8]| TileStream::parse(b).unwrap_err().kind;
        assert_eq!(kind(&good[..5]), DecodeErrorKind::TruncatedHeader);
        assert_eq!(kind(&good[..10]), DecodeErrorKind::TruncatedTable);
        let mut b = good.clone();
        b[1] = 0xFA;
        assert!(matches!(kind(&b), DecodeErrorKind::BadCodecId { .. }));
        let mut b = good.clone();
        b[4] = (b[4] & !3) | 2;
        assert!(matches!(kind(&b), DecodeErrorKind::UnsupportedTileSize { tile_size_idx: 2 }));
        let mut b = good.clone();
        b[7] = 0x10;
        assert_eq!(kind(&b), DecodeErrorKind::ReservedBitsSet);
        let mut b = good.clone();
        b[12] = 2; // tile 1 offset 130: misaligned
        assert_eq!(kind(&b), DecodeErrorKind::BadTileOffset);
        let mut b = good.clone();
        b.push(0);
        assert!(matches!(kind(&b), DecodeErrorKind::StreamLengthMismatch { .. }));
        assert!(matches!(kind(&good[..good.len() - 4]), DecodeErrorKind::StreamLengthMismatch { .. }));
    }

    #[test]
    fn too_many_tiles_is_an_error_not_a_wrap() {
        let e = write_tile_stream::<&[u8]>(&[], 65536 * 65536).unwrap_err();
        assert_eq!(e, EncodeError::TooManyTiles { tiles: 65536 });
    }
}
