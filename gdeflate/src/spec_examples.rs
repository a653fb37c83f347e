//! The worked examples of spec section 4 — pages the reference codec produced — as test
//! fixtures shared by the decoder's and the encoder's tests, so both are checked against
//! the same words written down once.

/// One worked example: the original bytes and the page the reference made for them.
pub(crate) struct Example {
    /// The uncompressed bytes.
    pub(crate) data: &'static [u8],
    /// The page's leading words (the rest are zero).
    pub(crate) words: &'static [u32],
    /// The page's length in words.
    pub(crate) total_words: usize,
}

impl Example {
    /// The page as bytes.
    pub(crate) fn page(&self) -> Vec<u8> {
        let mut p = vec![0u8; self.total_words * 4];
        for (chunk, w) in p.chunks_exact_mut(4).zip(self.words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        p
    }
}

/// Spec 4.1: `"A"` at level 1, a fixed block; 136 bytes.
pub(crate) const SINGLE_LITERAL: Example = Example { data: b"A", words: &[0x0000_0473], total_words: 34 };

/// Spec 4.2: `"Hello, GDeflate!"` at level 0, a stored block with a 16-bit LEN right after
/// BTYPE (no alignment, no NLEN); 192 bytes.
pub(crate) const STORED_HELLO: Example = Example {
    data: b"Hello, GDeflate!",
    words: &[
        0x0240_0081,
        0x65,
        0x6c,
        0x6c,
        0x6f,
        0x2c,
        0x20,
        0x47,
        0x44,
        0x65,
        0x66,
        0x6c,
        0x61,
        0x74,
        0x65,
        0x21,
    ],
    total_words: 48,
};

/// Spec 4.3: `"abc"` × 8 at level 12, a fixed block whose match's distance is read in the
/// tail; 152 bytes.
pub(crate) const DEFERRED_DISTANCE: Example =
    Example { data: b"abcabcabcabcabcabcabcabc", words: &[0x44b, 0x49, 0xc9, 0x89, 0x10d8], total_words: 38 };

/// Spec 4.4: 65536 zero bytes at level 1: one literal and a 65535-byte match (symbol 285
/// with 16 extra bits); 140 bytes.
pub(crate) const LONGEST_MATCH: Example =
    Example { data: &[0; 65536], words: &[0x63, 0x00ff_fca3], total_words: 35 };
