//! The fixed alphabets of GDeflate (spec section 2): length and distance bases and
//! extra-bit counts, the precode transmission order, and the fixed Huffman code lengths.
//!
//! Everything here is a constant of the format; the decoder and the encoder both read it
//! from this one place so the two can never disagree.

/// Number of interleaved bit streams ("lanes") in every page (spec 3.1).
pub const LANES: usize = 32;

/// Uncompressed size of every tile of a tile stream except possibly the last (spec 5.4).
pub const TILE_SIZE: usize = 65536;

/// Largest number of decoded bytes one page may hold (spec 3.9).
pub const MAX_PAGE_DECODED: usize = TILE_SIZE;

/// Smallest legal compressed page: 32 words (spec 3.6).
pub const MIN_PAGE_BYTES: usize = 4 * LANES;

/// Literal/length alphabet size, including the never-valid symbols 286 and 287 (spec 2.2).
pub const NUM_LITLEN_SYMS: usize = 288;

/// Distance alphabet size; symbols 30 and 31 are valid in GDeflate (spec 2.3).
pub const NUM_DIST_SYMS: usize = 32;

/// Code-length ("precode") alphabet size (spec 2.4).
pub const NUM_PRECODE_SYMS: usize = 19;

/// End-of-block symbol.
pub const END_OF_BLOCK: u16 = 256;

/// First length symbol.
pub const FIRST_LEN_SYM: u16 = 257;

/// Longest literal/length or distance codeword (spec 2.6).
pub const MAX_CODEWORD_LEN: u32 = 15;

/// Longest precode codeword (spec 2.4).
pub const MAX_PRECODE_LEN: u32 = 7;

/// Order in which the 3-bit precode lengths are transmitted (spec 2.4).
pub const PRECODE_ORDER: [u8; NUM_PRECODE_SYMS] =
    [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15];

/// Base match length of length symbols 257..=285 (index = symbol − 257). Symbol 285 is
/// base 3 with 16 extra bits (DEFLATE64 convention, spec 2.2), not DEFLATE's fixed 258.
pub const LEN_BASE: [u16; 29] = [
    3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195,
    227, 3,
];

/// Extra bits of length symbols 257..=285 (index = symbol − 257).
pub const LEN_EXTRA: [u8; 29] =
    [0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 16];

/// Base distance of distance symbols 0..=31 (spec 2.3).
pub const DIST_BASE: [u32; NUM_DIST_SYMS] = [
    1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073,
    4097, 6145, 8193, 12289, 16385, 24577, 32769, 49153,
];

/// Extra bits of distance symbols 0..=31.
pub const DIST_EXTRA: [u8; NUM_DIST_SYMS] = [
    0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13, 14, 14,
];

/// Code lengths of the fixed literal/length code (spec 2.5).
pub const fn fixed_litlen_lengths() -> [u8; NUM_LITLEN_SYMS] {
    let mut lens = [0u8; NUM_LITLEN_SYMS];
    let mut s = 0;
    while s < NUM_LITLEN_SYMS {
        lens[s] = match s {
            0..=143 => 8,
            144..=255 => 9,
            256..=279 => 7,
            _ => 8,
        };
        s += 1;
    }
    lens
}

/// Code lengths of the fixed distance code: all 32 symbols have length 5 (spec 2.5).
pub const fn fixed_dist_lengths() -> [u8; NUM_DIST_SYMS] {
    [5; NUM_DIST_SYMS]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_symbol_ranges_are_contiguous_up_to_258() {
        // Symbols 257..=284 must tile 3..=258 without gaps or overlaps (284 + 31 = 258).
        let mut next = 3u32;
        for i in 0..28 {
            assert_eq!(u32::from(LEN_BASE[i]), next, "symbol {}", 257 + i);
            next += 1 << LEN_EXTRA[i];
        }
        assert_eq!(next - 1, 258);
        // 285 covers 3..=65538 on its own.
        assert_eq!((LEN_BASE[28], LEN_EXTRA[28]), (3, 16));
    }

    #[test]
    fn distance_symbols_tile_1_to_65536() {
        let mut next = 1u32;
        for s in 0..NUM_DIST_SYMS {
            assert_eq!(DIST_BASE[s], next, "symbol {s}");
            next += 1 << DIST_EXTRA[s];
        }
        assert_eq!(next - 1, 65536);
    }

    #[test]
    fn fixed_codes_are_complete() {
        let kraft = |lens: &[u8]| -> u64 { lens.iter().map(|&l| 1u64 << (15 - l)).sum() };
        assert_eq!(kraft(&fixed_litlen_lengths()), 1 << 15);
        assert_eq!(kraft(&fixed_dist_lengths()), 1 << 15);
    }
}
