//! Blocks: token representation, exact bit costs of the three block types, and their
//! serialization onto the lanes in the step order of spec 3.3 / 3.8.
//!
//! A block's tokens are chosen by the parser; this module decides how to write them: it
//! builds the block's dynamic codes, prices stored, fixed and dynamic encodings exactly (in
//! bits, without the per-lane word slack, which is at most a few words per page and the
//! same order for every choice), and writes the cheapest.
//!
//! Invariants the written blocks satisfy (spec 3.8 "checks an encoder must enforce"):
//! * every step puts ≤ 31 bits on its lane (a 15-bit codeword + 16 extra bits at most);
//! * symbols 286/287 are never written; lengths ≥ 258 use symbol 285;
//! * dynamic codes are complete (distance code possibly empty), EOB always has a codeword,
//!   and the run-length coded lengths total exactly HLIT + HDIST;
//! * stored blocks hold ≤ 65535 bytes each.

use super::huffman::{HuffScratch, canonical_codes, limited_lengths, precode_extra_bits, rle_code_lengths};
use super::lanes::LaneWriter;
use crate::tables::{
    DIST_EXTRA, END_OF_BLOCK, FIRST_LEN_SYM, LANES, LEN_BASE, LEN_EXTRA, MAX_CODEWORD_LEN, MAX_PRECODE_LEN,
    NUM_DIST_SYMS, NUM_LITLEN_SYMS, NUM_PRECODE_SYMS, PRECODE_ORDER, fixed_dist_lengths,
    fixed_litlen_lengths,
};

/// Longest literal/length codeword the encoder builds: 14, like the reference (spec 8).
pub(crate) const MAX_LITLEN_CODEWORD_LEN: u32 = 14;

/// Largest stored block (its LEN field is 16 bits).
pub(crate) const MAX_STORED_LEN: usize = 65535;

/// Bits of a stored block header: BFINAL, BTYPE, LEN.
const STORED_HEADER_BITS: u64 = 3 + 16;

/// A token is a `u32`: a literal byte (< 256), or a match packed as `length << 16 |
/// distance` (length ≥ 3, so every match is ≥ 3 << 16 and never mistaken for a literal;
/// length and distance are both ≤ 65535 inside a page).
pub(crate) type Token = u32;

/// Packs a match token.
#[inline(always)]
pub(crate) fn match_token(len: usize, dist: usize) -> Token {
    debug_assert!((3..=65535).contains(&len) && (1..=65535).contains(&dist));
    (len as u32) << 16 | dist as u32
}

/// Length symbol for lengths 3..=257, indexed by length (derived from `LEN_BASE`).
const LEN_SYM: [u8; 258] = {
    let mut t = [0u8; 258];
    let mut s = 0;
    while s < 28 {
        let mut k = 0;
        while k < (1 << LEN_EXTRA[s]) {
            let len = LEN_BASE[s] as usize + k;
            if len < 258 {
                t[len] = s as u8;
            }
            k += 1;
        }
        s += 1;
    }
    t
};

/// Length symbol (257..=285) for a match length 3..=65535: lengths ≥ 258 use 285 (base 3,
/// 16 extra bits) as the reference does.
#[inline(always)]
pub(crate) fn len_sym(len: usize) -> usize {
    if len < 258 { FIRST_LEN_SYM as usize + usize::from(LEN_SYM[len]) } else { 285 }
}

/// Distance symbol (0..=31) for a distance 1..=65536.
#[inline(always)]
pub(crate) fn dist_sym(dist: usize) -> usize {
    if dist <= 4 {
        dist - 1
    } else {
        // Symbols come in pairs per power of two of (dist − 1).
        let x = (dist - 1) as u32;
        let k = 31 - x.leading_zeros();
        (2 * k + ((x >> (k - 1)) & 1)) as usize
    }
}

/// Symbol frequencies of one block's tokens (EOB not included).
pub(crate) struct Freqs {
    pub(crate) litlen: [u32; NUM_LITLEN_SYMS],
    pub(crate) dist: [u32; NUM_DIST_SYMS],
}

impl Freqs {
    pub(crate) fn new() -> Self {
        Self { litlen: [0; NUM_LITLEN_SYMS], dist: [0; NUM_DIST_SYMS] }
    }

    pub(crate) fn clear(&mut self) {
        self.litlen.fill(0);
        self.dist.fill(0);
    }

    #[inline(always)]
    pub(crate) fn add_literal(&mut self, b: u8) {
        self.litlen[usize::from(b)] += 1;
    }

    #[inline(always)]
    pub(crate) fn add_match(&mut self, len: usize, dist: usize) {
        self.litlen[len_sym(len)] += 1;
        self.dist[dist_sym(dist)] += 1;
    }
}

/// Codewords (bit-reversed, ready for `LaneWriter::put`) and lengths of one block's codes.
struct Codes {
    litlen_code: [u16; NUM_LITLEN_SYMS],
    litlen_len: [u8; NUM_LITLEN_SYMS],
    dist_code: [u16; NUM_DIST_SYMS],
    dist_len: [u8; NUM_DIST_SYMS],
}

impl Codes {
    fn new() -> Self {
        Self {
            litlen_code: [0; NUM_LITLEN_SYMS],
            litlen_len: [0; NUM_LITLEN_SYMS],
            dist_code: [0; NUM_DIST_SYMS],
            dist_len: [0; NUM_DIST_SYMS],
        }
    }

    fn set(&mut self, litlen_len: &[u8; NUM_LITLEN_SYMS], dist_len: &[u8; NUM_DIST_SYMS]) {
        self.litlen_len = *litlen_len;
        self.dist_len = *dist_len;
        canonical_codes(&self.litlen_len, &mut self.litlen_code);
        canonical_codes(&self.dist_len, &mut self.dist_code);
    }
}

/// The dynamic header of the block being written: trimmed counts and run-length items.
struct DynHeader {
    hlit: usize,
    hdist: usize,
    hclen: usize,
    precode_len: [u8; NUM_PRECODE_SYMS],
    precode_code: [u16; NUM_PRECODE_SYMS],
    items: Vec<(u8, u8)>,
}

/// Bits of `bytes` bytes written as stored blocks of ≤ 65535 bytes (at least one block).
pub(crate) fn stored_bits(bytes: usize) -> u64 {
    let blocks = stored_blocks(bytes) as u64;
    blocks * STORED_HEADER_BITS + 8 * bytes as u64
}

/// Builds, prices and writes blocks. Holds every buffer it needs, so writing a block
/// allocates nothing after the first page.
pub(crate) struct BlockCoder {
    fixed: Codes,
    dynamic: Codes,
    header: DynHeader,
    scratch: HuffScratch,
    litlen_len: [u8; NUM_LITLEN_SYMS],
    dist_len: [u8; NUM_DIST_SYMS],
    lens_seq: Vec<u8>,
    litlen_freq: [u32; NUM_LITLEN_SYMS],
    precode_freq: [u32; NUM_PRECODE_SYMS],
}

/// Which encoding a block was written with (counted for [`super::CompressStats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum BlockType {
    Stored,
    Fixed,
    Dynamic,
}

impl BlockCoder {
    pub(crate) fn new() -> Self {
        let mut fixed = Codes::new();
        fixed.set(&fixed_litlen_lengths(), &fixed_dist_lengths());
        Self {
            fixed,
            dynamic: Codes::new(),
            header: DynHeader {
                hlit: 257,
                hdist: 1,
                hclen: 4,
                precode_len: [0; NUM_PRECODE_SYMS],
                precode_code: [0; NUM_PRECODE_SYMS],
                items: Vec::with_capacity(NUM_LITLEN_SYMS + NUM_DIST_SYMS),
            },
            scratch: HuffScratch::default(),
            litlen_len: [0; NUM_LITLEN_SYMS],
            dist_len: [0; NUM_DIST_SYMS],
            lens_seq: Vec::with_capacity(NUM_LITLEN_SYMS + NUM_DIST_SYMS),
            litlen_freq: [0; NUM_LITLEN_SYMS],
            precode_freq: [0; NUM_PRECODE_SYMS],
        }
    }

    /// Writes one block holding `tokens`, which encode exactly `bytes` (the block's input),
    /// with symbol counts `freqs`, as whichever of stored/fixed/dynamic costs fewest bits.
    /// Returns the bits written.
    pub(crate) fn write_block(
        &mut self,
        w: &mut LaneWriter,
        bytes: &[u8],
        tokens: &[Token],
        freqs: &Freqs,
        last: bool,
    ) -> (u64, BlockType) {
        self.litlen_freq = freqs.litlen;
        self.litlen_freq[usize::from(END_OF_BLOCK)] = 1;
        let f = &self.litlen_freq;

        // Extra bits are the same for fixed and dynamic codes.
        let mut extra = 0u64;
        for (s, &e) in LEN_EXTRA.iter().enumerate() {
            extra += u64::from(f[FIRST_LEN_SYM as usize + s]) * u64::from(e);
        }
        for (s, &e) in DIST_EXTRA.iter().enumerate() {
            extra += u64::from(freqs.dist[s]) * u64::from(e);
        }
        let fixed = &self.fixed;
        let fixed_cost =
            3 + extra + code_bits(f, &fixed.litlen_len) + code_bits(&freqs.dist, &fixed.dist_len);
        let stored_cost = stored_bits(bytes.len());

        limited_lengths(f, MAX_LITLEN_CODEWORD_LEN, &mut self.litlen_len, &mut self.scratch);
        limited_lengths(&freqs.dist, MAX_CODEWORD_LEN, &mut self.dist_len, &mut self.scratch);
        let data_cost =
            code_bits(&self.litlen_freq, &self.litlen_len) + code_bits(&freqs.dist, &self.dist_len);
        let dyn_cost = 3 + self.plan_header() + extra + data_cost;

        if stored_cost < fixed_cost.min(dyn_cost) {
            write_stored(w, bytes, last);
            (stored_cost, BlockType::Stored)
        } else if fixed_cost <= dyn_cost {
            put_block_header(w, last, 1);
            write_data(w, &self.fixed, tokens);
            (fixed_cost, BlockType::Fixed)
        } else {
            self.dynamic.set(&self.litlen_len, &self.dist_len);
            put_block_header(w, last, 2);
            self.write_dyn_header(w);
            write_data(w, &self.dynamic, tokens);
            (dyn_cost, BlockType::Dynamic)
        }
    }

    /// From `litlen_len`/`dist_len`, works out HLIT/HDIST, the run-length items, the precode
    /// and HCLEN. Returns the header's size in bits after BFINAL/BTYPE.
    fn plan_header(&mut self) -> u64 {
        let h = &mut self.header;
        h.hlit = 257 + self.litlen_len[257..].iter().rposition(|&l| l != 0).map_or(0, |i| i + 1);
        h.hdist = 1 + self.dist_len[1..].iter().rposition(|&l| l != 0).map_or(0, |i| i + 1);
        self.lens_seq.clear();
        self.lens_seq.extend_from_slice(&self.litlen_len[..h.hlit]);
        self.lens_seq.extend_from_slice(&self.dist_len[..h.hdist]);
        rle_code_lengths(&self.lens_seq, &mut h.items);

        self.precode_freq = [0; NUM_PRECODE_SYMS];
        for &(sym, _) in &h.items {
            self.precode_freq[usize::from(sym)] += 1;
        }
        limited_lengths(&self.precode_freq, MAX_PRECODE_LEN, &mut h.precode_len, &mut self.scratch);
        canonical_codes(&h.precode_len, &mut h.precode_code);
        h.hclen = 4.max(
            PRECODE_ORDER.iter().rposition(|&s| h.precode_len[usize::from(s)] != 0).map_or(0, |i| i + 1),
        );
        let items: u64 = h
            .items
            .iter()
            .map(|&(s, _)| u64::from(h.precode_len[usize::from(s)]) + u64::from(precode_extra_bits(s)))
            .sum();
        14 + 3 * h.hclen as u64 + items
    }

    /// Spec 3.3.3 / 3.8 "dynamic": counts on lane 0, precode lengths on lanes 0..HCLEN,
    /// then the run-length items dealt to lanes 0, 1, 2, … one per step.
    fn write_dyn_header(&self, w: &mut LaneWriter) {
        let h = &self.header;
        let counts = (h.hlit - 257) | (h.hdist - 1) << 5 | (h.hclen - 4) << 10;
        w.put(0, counts as u32, 14);
        w.refill(0);
        for (i, &sym) in PRECODE_ORDER.iter().enumerate().take(h.hclen) {
            w.put(i, u32::from(h.precode_len[usize::from(sym)]), 3);
            w.refill(i);
        }
        let mut c = 0;
        for &(sym, extra) in &h.items {
            let s = usize::from(sym);
            let n = u32::from(h.precode_len[s]);
            let bits = u32::from(h.precode_code[s]) | u32::from(extra) << n;
            w.put(c, bits, n + precode_extra_bits(sym));
            w.refill(c);
            c = (c + 1) % LANES;
        }
    }
}

/// Bits of the codewords of symbols with frequencies `freqs` and code lengths `lens`.
fn code_bits(freqs: &[u32], lens: &[u8]) -> u64 {
    freqs.iter().zip(lens).map(|(&f, &l)| u64::from(f) * u64::from(l)).sum()
}

/// BFINAL and BTYPE on lane 0, then the decoder's `refill(0)` (spec 3.3.1).
fn put_block_header(w: &mut LaneWriter, last: bool, btype: u32) {
    w.put(0, u32::from(last) | btype << 1, 3);
    w.refill(0);
}

/// Number of stored blocks [`write_stored`] writes for `bytes` bytes.
pub(crate) fn stored_blocks(bytes: usize) -> usize {
    bytes.div_ceil(MAX_STORED_LEN).max(1)
}

/// Writes `bytes` as stored blocks of ≤ 65535 bytes (an empty input gives one empty block);
/// only the final piece carries BFINAL = `last`. Spec 3.3.2: LEN right after the header on
/// lane 0, byte i on lane i % 32, each followed by the decoder's refill.
pub(crate) fn write_stored(w: &mut LaneWriter, bytes: &[u8], last: bool) {
    let pieces = stored_blocks(bytes.len());
    for k in 0..pieces {
        let piece =
            &bytes[(k * MAX_STORED_LEN).min(bytes.len())..((k + 1) * MAX_STORED_LEN).min(bytes.len())];
        put_block_header(w, last && k + 1 == pieces, 0);
        w.put(0, piece.len() as u32, 16);
        for (i, &b) in piece.iter().enumerate() {
            let l = i % LANES;
            w.put(l, u32::from(b), 8);
            w.refill(l);
        }
    }
}

/// Spec 3.3.5 / 3.8 "data": tokens dealt to lanes in order, a match's distance deferred to
/// the lane's next step, then EOB and the tail that flushes pending distances.
fn write_data(w: &mut LaneWriter, codes: &Codes, tokens: &[Token]) {
    // Bit l set: lane l owes a distance, whose bits are `pending[l]`.
    let mut owed = 0u32;
    let mut pending = [(0u32, 0u32); LANES];
    let mut c = 0usize;
    let put_dist = |w: &mut LaneWriter, pending: &[(u32, u32); LANES], l: usize| {
        let (bits, n) = pending[l];
        w.put(l, bits, n);
        w.refill(l);
    };
    for &t in tokens {
        while owed & (1 << c) != 0 {
            put_dist(w, &pending, c);
            owed &= !(1 << c);
            c = (c + 1) % LANES;
        }
        if t < 256 {
            let s = t as usize;
            w.put(c, u32::from(codes.litlen_code[s]), u32::from(codes.litlen_len[s]));
        } else {
            let (len, dist) = ((t >> 16) as usize, (t & 0xFFFF) as usize);
            let s = len_sym(len);
            let n = u32::from(codes.litlen_len[s]);
            let e = s - FIRST_LEN_SYM as usize;
            let extra = (len - usize::from(LEN_BASE[e])) as u32;
            w.put(c, u32::from(codes.litlen_code[s]) | extra << n, n + u32::from(LEN_EXTRA[e]));
            let d = dist_sym(dist);
            let dn = u32::from(codes.dist_len[d]);
            let dextra = (dist - crate::tables::DIST_BASE[d] as usize) as u32;
            pending[c] = (u32::from(codes.dist_code[d]) | dextra << dn, dn + u32::from(DIST_EXTRA[d]));
            owed |= 1 << c;
        }
        w.refill(c);
        c = (c + 1) % LANES;
    }
    while owed & (1 << c) != 0 {
        put_dist(w, &pending, c);
        owed &= !(1 << c);
        c = (c + 1) % LANES;
    }
    let eob = usize::from(END_OF_BLOCK);
    w.put(c, u32::from(codes.litlen_code[eob]), u32::from(codes.litlen_len[eob]));
    w.refill(c);
    for k in 1..LANES {
        let l = (c + k) % LANES;
        if owed & (1 << l) != 0 {
            w.put(l, pending[l].0, pending[l].1);
        }
        w.refill(l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::DIST_BASE;

    #[test]
    fn symbol_lookups_agree_with_the_tables() {
        for len in 3..=65535usize {
            let s = len_sym(len);
            assert!((257..=285).contains(&s));
            let e = s - 257;
            let base = usize::from(LEN_BASE[e]);
            assert!(len >= base && len - base < 1 << LEN_EXTRA[e], "len {len}");
            assert_eq!(s == 285, len >= 258, "len {len}");
        }
        for dist in 1..=65536usize {
            let d = dist_sym(dist);
            let base = DIST_BASE[d] as usize;
            assert!(dist >= base && dist - base < 1 << DIST_EXTRA[d], "dist {dist}");
        }
    }

    #[test]
    fn stored_bits_counts_headers_per_65535_bytes() {
        assert_eq!(stored_bits(0), 19);
        assert_eq!(stored_bits(1), 27);
        assert_eq!(stored_bits(65535), 19 + 8 * 65535);
        assert_eq!(stored_bits(65536), 38 + 8 * 65536);
    }
}
