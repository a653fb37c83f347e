//! The tile-stream header and table read from the first bytes of a stream, for requests
//! whose stream is read piece by piece (the whole stream is never in memory at once).
//!
//! Invariant: [`parse_head`] accepts exactly the streams `dsr_gdeflate::TileStream::parse`
//! accepts and reports the same error (kind, tile, offset) for the others, given the first
//! `min(size, 8 + 4 × tiles)` bytes and the stream's total size (tested against it).

use dsr_gdeflate::tile_stream::HEADER_LEN;
use dsr_gdeflate::{DecodeError, DecodeErrorKind, TILE_SIZE, tile_stream::CODEC_ID};

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) num_tiles: u32,
    pub(crate) data_start: u64,
    pub(crate) last_tile_size: u32,
    pub(crate) uncompressed_size: u64,
}

fn read_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// Validates the header and table in `head` (a prefix of a `size`-byte stream) and copies
/// the table into `table` (cleared first; its capacity is reused).
pub(crate) fn parse_head(head: &[u8], size: u64, table: &mut Vec<u32>) -> Result<Head, DecodeError> {
    let err = |kind, offset: u64| DecodeError { kind, tile: None, offset };
    table.clear();
    if size < HEADER_LEN as u64 || head.len() < HEADER_LEN {
        return Err(err(DecodeErrorKind::TruncatedHeader, size.min(head.len() as u64)));
    }
    let (id, magic) = (head[0], head[1]);
    if id != CODEC_ID || magic != id ^ 0xFF {
        return Err(err(DecodeErrorKind::BadCodecId { id, magic }, 0));
    }
    let num_tiles = u32::from(u16::from_le_bytes([head[2], head[3]]));
    let bits = read_u32(head, 4);
    let tile_size_idx = bits & 3;
    if tile_size_idx != 1 {
        return Err(err(DecodeErrorKind::UnsupportedTileSize { tile_size_idx: tile_size_idx as u8 }, 4));
    }
    if bits >> 20 != 0 {
        return Err(err(DecodeErrorKind::ReservedBitsSet, 4));
    }
    let last_field = (bits >> 2) & 0x3FFFF;
    if last_field > 0xFFFF {
        return Err(err(DecodeErrorKind::ReservedBitsSet, 4));
    }
    let last_tile_size = if last_field == 0 { TILE_SIZE as u32 } else { last_field };
    let data_start = (HEADER_LEN + 4 * num_tiles as usize) as u64;
    if size < data_start {
        return Err(err(DecodeErrorKind::TruncatedTable, size));
    }
    if (head.len() as u64) < data_start {
        // The caller reads at least the largest table; a shorter prefix is a caller bug, but
        // reporting it as a truncated table keeps bad input from panicking.
        return Err(err(DecodeErrorKind::TruncatedTable, head.len() as u64));
    }
    let h = |n: u32| Head {
        num_tiles: n,
        data_start,
        last_tile_size,
        uncompressed_size: match n {
            0 => 0,
            n => u64::from(n - 1) * TILE_SIZE as u64 + u64::from(last_tile_size),
        },
    };
    if num_tiles == 0 {
        if size != HEADER_LEN as u64 {
            let kind = DecodeErrorKind::StreamLengthMismatch { expected: HEADER_LEN as u64, actual: size };
            return Err(err(kind, HEADER_LEN as u64));
        }
        return Ok(h(0));
    }
    table.extend((0..num_tiles).map(|i| read_u32(head, HEADER_LEN + 4 * i as usize)));
    let data_len = size - data_start;
    let mut prev = 0u64;
    for i in 1..num_tiles {
        let off = u64::from(table[i as usize]);
        if !off.is_multiple_of(4) || off < prev || off > data_len {
            return Err(DecodeError {
                kind: DecodeErrorKind::BadTileOffset,
                tile: Some(i),
                offset: (HEADER_LEN + 4 * i as usize) as u64,
            });
        }
        prev = off;
    }
    let expected = data_start + prev + u64::from(table[0]);
    if expected != size {
        let kind = DecodeErrorKind::StreamLengthMismatch { expected, actual: size };
        return Err(DecodeError { kind, tile: Some(num_tiles - 1), offset: HEADER_LEN as u64 });
    }
    Ok(h(num_tiles))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dsr_gdeflate::{Level, TileStream, compress};

    fn both(bytes: &[u8]) -> (Result<u64, DecodeError>, Result<u64, DecodeError>) {
        let a = TileStream::parse(bytes).map(|t| t.uncompressed_size());
        let mut table = Vec::new();
        let b = parse_head(bytes, bytes.len() as u64, &mut table).map(|h| h.uncompressed_size);
        (a, b)
    }

    #[test]
    fn parse_head_agrees_with_tile_stream_parse_on_valid_and_mangled_streams() {
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let stream = compress(&data, Level::DEFAULT, 1).unwrap();
        let (a, b) = both(&stream);
        assert_eq!(a, b);
        assert_eq!(b.unwrap(), data.len() as u64);
        // Every single-byte corruption of the header and table, and every truncation.
        let table_end = 8 + 4 * stream[2] as usize;
        for at in 0..table_end {
            for x in [1u8, 0x80, 0xFF] {
                let mut s = stream.clone();
                s[at] ^= x;
                let (a, b) = both(&s);
                assert_eq!(a, b, "byte {at} ^ {x:#x}");
            }
        }
        for len in [0, 1, 7, 8, 9, table_end - 1, table_end, table_end + 1, stream.len() - 1] {
            let (a, b) = both(&stream[..len]);
            assert_eq!(a, b, "truncated to {len}");
        }
        let (a, b) = both(&[stream.as_slice(), &[0, 0, 0, 0]].concat());
        assert_eq!(a, b, "trailing bytes");
        let empty = compress(&[], Level::DEFAULT, 1).unwrap();
        assert_eq!(both(&empty), (Ok(0), Ok(0)));
    }
}
