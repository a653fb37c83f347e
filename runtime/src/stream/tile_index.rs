//! The tile-stream header and table read from the first bytes of a stream, for requests
//! whose stream is read piece by piece (the whole stream is never in memory at once).
//!
//! Invariant: [`parse_head`] accepts exactly the streams `dsr_gdeflate::TileStream::parse`
//! accepts and reports the same error (kind, tile, offset) for the others, given the first
//! `min(size, 8 + 4 × tiles)` bytes and the stream's total size: both are the codec's
//! `StreamHead::parse` (and the test below still checks it).

use dsr_gdeflate::{DecodeError, StreamHead};

/// What the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Head {
    pub(crate) num_tiles: u32,
    pub(crate) data_start: u64,
    pub(crate) last_tile_size: u32,
    pub(crate) uncompressed_size: u64,
}

/// Validates the header and table in `head` (a prefix of a `size`-byte stream) with the
/// codec's own check ([`StreamHead::parse`]) and copies the table into `table` (cleared
/// first; its capacity is reused).
pub(crate) fn parse_head(head: &[u8], size: u64, table: &mut Vec<u32>) -> Result<Head, DecodeError> {
    table.clear();
    let h = StreamHead::parse(head, size)?;
    table.extend((0..h.num_tiles).map(|i| h.table(head, i)));
    Ok(Head {
        num_tiles: h.num_tiles,
        data_start: h.data_start as u64,
        last_tile_size: h.last_tile_size,
        uncompressed_size: h.uncompressed_size(),
    })
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
