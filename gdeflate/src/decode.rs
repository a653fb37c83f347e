//! The page decoder: the normative serial schedule of spec 3.2–3.3 with every check of 3.10.
//!
//! A page is 32 lanes of bits interleaved in 32-bit words. [`Lanes`] is the lane reader of
//! spec 3.2: a 64-bit buffer per lane and one global cursor over the page's words; `refill`
//! loads at most one word and fails with [`DecodeErrorKind::InputOverrun`] instead of reading
//! past the page. The block loop follows 3.3 step for step, so word order is reproduced
//! exactly; matches are reserved when their length is decoded and filled when their distance
//! is decoded one round later (3.3.5), in reservation order, so every match reads only final
//! bytes (3.5).
//!
//! Invariants that make the decoder total (no panic, no unbounded loop, no out-of-bounds
//! access for any input):
//! * every step starts with ≥ 32 bits in its lane except lane 0 after an empty stored block
//!   (≥ 16), and consumes ≤ 31 (≤ 3 in that case), so bit counts never underflow;
//! * every loop iteration consumes at least one bit or advances a bounded counter, and
//!   each refill consumes a page word, so the work is bounded by page size × 32 plus output;
//! * every write is checked against the output slice's length before it happens.

use crate::error::{CodeKind, DecodeError, DecodeErrorKind};
use crate::huffman::{Alphabet, Kind, Table};
use crate::tables::{
    LANES, MAX_PAGE_DECODED, MIN_PAGE_BYTES, NUM_DIST_SYMS, NUM_LITLEN_SYMS, PRECODE_ORDER,
    fixed_dist_lengths, fixed_litlen_lengths,
};

type Result<T> = std::result::Result<T, DecodeErrorKind>;

/// The lane reader of spec 3.2.
struct Lanes<'w> {
    words: &'w [u32],
    next: usize,
    buf: [u64; LANES],
    bits: [u32; LANES],
}

impl<'w> Lanes<'w> {
    fn new(words: &'w [u32]) -> Self {
        let mut buf = [0u64; LANES];
        for (b, &w) in buf.iter_mut().zip(words) {
            *b = u64::from(w);
        }
        Self { words, next: LANES, buf, bits: [32; LANES] }
    }

    /// Removes and returns the next `k` (≤ 31) bits of lane `l`.
    #[inline(always)]
    fn take(&mut self, l: usize, k: u32) -> u32 {
        let v = (self.buf[l] & ((1u64 << k) - 1)) as u32;
        self.consume(l, k);
        v
    }

    #[inline(always)]
    fn consume(&mut self, l: usize, k: u32) {
        self.buf[l] >>= k;
        self.bits[l] -= k;
    }

    /// Loads one word into lane `l` if it holds fewer than 32 bits.
    #[inline(always)]
    fn refill(&mut self, l: usize) -> Result<()> {
        if self.bits[l] < 32 {
            let w = *self.words.get(self.next).ok_or(DecodeErrorKind::InputOverrun)?;
            self.buf[l] |= u64::from(w) << self.bits[l];
            self.bits[l] += 32;
            self.next += 1;
        }
        Ok(())
    }

    /// Decodes one symbol and its extra bits from lane `l` with `table`. Returns the entry
    /// and the extra-bit value. Errors on an empty code.
    #[inline(always)]
    fn decode(&mut self, l: usize, table: &Table, code: CodeKind) -> Result<(Kind, u32, u32)> {
        let b = self.buf[l];
        let e = table.lookup(b);
        let kind = e.kind();
        if kind == Kind::Empty {
            return Err(DecodeErrorKind::EmptyCode(code));
        }
        let (len, extra) = (e.len(), e.extra());
        let x = ((b >> len) & ((1u64 << extra) - 1)) as u32;
        self.consume(l, len + extra);
        Ok((kind, e.value(), x))
    }
}

/// A reusable page decoder: holds the Huffman tables and word buffer so that decoding many
/// pages allocates nothing after the first.
pub struct PageDecoder {
    words: Vec<u32>,
    litlen: Table,
    dist: Table,
    precode: Table,
    fixed_litlen: Table,
    fixed_dist: Table,
    lens: [u8; NUM_LITLEN_SYMS + NUM_DIST_SYMS],
}

impl Default for PageDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl PageDecoder {
    /// A decoder with the fixed codes prebuilt.
    pub fn new() -> Self {
        let mut fixed_litlen = Table::new(Alphabet::LitLen);
        let mut fixed_dist = Table::new(Alphabet::Distance);
        // The fixed codes are complete (checked in tables' tests): building cannot fail.
        let ok = fixed_litlen.build(&fixed_litlen_lengths()).is_ok()
            && fixed_dist.build(&fixed_dist_lengths()).is_ok();
        debug_assert!(ok, "fixed codes are valid");
        Self {
            words: Vec::with_capacity(MAX_PAGE_DECODED / 4 + 256),
            litlen: Table::new(Alphabet::LitLen),
            dist: Table::new(Alphabet::Distance),
            precode: Table::new(Alphabet::Precode),
            fixed_litlen,
            fixed_dist,
            lens: [0; NUM_LITLEN_SYMS + NUM_DIST_SYMS],
        }
    }

    /// Decodes one page, which must produce exactly `out.len()` bytes (1..=65536).
    ///
    /// Errors carry the byte offset of the read cursor in `page` and no tile.
    pub fn decode(&mut self, page: &[u8], out: &mut [u8]) -> std::result::Result<(), DecodeError> {
        if page.len() % 4 != 0 || page.len() < MIN_PAGE_BYTES {
            let len = u32::try_from(page.len()).unwrap_or(u32::MAX);
            return Err(DecodeError::new(DecodeErrorKind::BadPageSize { len }, 0));
        }
        if out.len() > MAX_PAGE_DECODED {
            let kind = DecodeErrorKind::OutputOverrun { capacity: MAX_PAGE_DECODED as u32 };
            return Err(DecodeError::new(kind, 0));
        }
        let mut words = std::mem::take(&mut self.words);
        words.clear();
        words.extend(page.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])));
        let mut lanes = Lanes::new(&words);
        let r = self.decode_blocks(&mut lanes, out);
        let offset = 4 * lanes.next as u64;
        self.words = words;
        r.map_err(|kind| DecodeError::new(kind, offset))
    }

    fn decode_blocks(&mut self, lanes: &mut Lanes<'_>, out: &mut [u8]) -> Result<()> {
        let mut pos = 0usize;
        loop {
            let bfinal = lanes.take(0, 1);
            let btype = lanes.take(0, 2);
            lanes.refill(0)?;
            match btype {
                0 => pos = stored_block(lanes, out, pos)?,
                1 => {
                    pos = huffman_block(lanes, &self.fixed_litlen, &self.fixed_dist, out, pos)?;
                }
                2 => {
                    self.read_dynamic_header(lanes)?;
                    pos = huffman_block(lanes, &self.litlen, &self.dist, out, pos)?;
                }
                _ => return Err(DecodeErrorKind::ReservedBlockType),
            }
            if bfinal == 1 {
                break;
            }
        }
        if pos != out.len() {
            return Err(DecodeErrorKind::OutputUnderrun {
                produced: pos as u32,
                expected: out.len() as u32,
            });
        }
        Ok(())
    }

    /// Spec 3.3.3: reads HLIT/HDIST/HCLEN, the precode, and the code-length sequence, and
    /// builds `self.litlen` and `self.dist`.
    fn read_dynamic_header(&mut self, lanes: &mut Lanes<'_>) -> Result<()> {
        let hlit = lanes.take(0, 5) as usize + 257;
        let hdist = lanes.take(0, 5) as usize + 1;
        let hclen = lanes.take(0, 4) as usize + 4;
        lanes.refill(0)?;

        let mut pre_lens = [0u8; 19];
        for (i, &sym) in PRECODE_ORDER.iter().enumerate().take(hclen) {
            pre_lens[usize::from(sym)] = lanes.take(i, 3) as u8;
            lanes.refill(i)?;
        }
        self.precode.build(&pre_lens)?;

        let total = hlit + hdist;
        let lens = &mut self.lens[..total];
        let mut filled = 0usize;
        let mut c = 0usize;
        while filled < total {
            let (_, sym, extra) = lanes.decode(c, &self.precode, CodeKind::Precode)?;
            let (value, run) = match sym {
                0..=15 => (sym as u8, 1),
                16 => {
                    let prev = *lens[..filled].last().ok_or(DecodeErrorKind::RepeatWithoutPrevious)?;
                    (prev, 3 + extra as usize)
                }
                17 => (0, 3 + extra as usize),
                _ => (0, 11 + extra as usize),
            };
            let end = filled + run;
            if end > total {
                return Err(DecodeErrorKind::CodeLengthOverrun);
            }
            lens[filled..end].fill(value);
            filled = end;
            lanes.refill(c)?;
            c = (c + 1) % LANES;
        }

        self.litlen.build(&lens[..hlit])?;
        if lens[256] == 0 {
            return Err(DecodeErrorKind::MissingEndOfBlock);
        }
        self.dist.build(&lens[hlit..])
    }
}

/// Spec 3.3.2: LEN from lane 0, then byte i from lane i % 32. Returns the new position.
fn stored_block(lanes: &mut Lanes<'_>, out: &mut [u8], pos: usize) -> Result<usize> {
    let len = lanes.take(0, 16) as usize;
    let capacity = out.len() as u32;
    let dst = out.get_mut(pos..pos + len).ok_or(DecodeErrorKind::OutputOverrun { capacity })?;
    for (i, byte) in dst.iter_mut().enumerate() {
        let l = i % LANES;
        *byte = lanes.take(l, 8) as u8;
        lanes.refill(l)?;
    }
    Ok(pos + len)
}

/// Spec 3.3.5: the compressed data of a fixed or dynamic block, and its tail. Returns the
/// new output position.
fn huffman_block(
    lanes: &mut Lanes<'_>,
    litlen: &Table,
    dist: &Table,
    out: &mut [u8],
    mut pos: usize,
) -> Result<usize> {
    let cap = out.len();
    // Lane l has a reserved match (start, length) waiting for its distance iff bit l is set.
    let mut pending = 0u32;
    let mut reserved = [(0usize, 0usize); LANES];
    let mut c = 0usize;
    loop {
        if pending & (1 << c) != 0 {
            resolve_match(lanes, c, dist, out, reserved[c])?;
            pending &= !(1 << c);
        } else {
            let (kind, value, extra) = lanes.decode(c, litlen, CodeKind::LitLen)?;
            match kind {
                Kind::Literal => {
                    *out.get_mut(pos).ok_or(DecodeErrorKind::OutputOverrun { capacity: cap as u32 })? =
                        value as u8;
                    pos += 1;
                }
                Kind::Length => {
                    let n = (value + extra) as usize;
                    if pos + n > cap {
                        return Err(DecodeErrorKind::OutputOverrun { capacity: cap as u32 });
                    }
                    reserved[c] = (pos, n);
                    pending |= 1 << c;
                    pos += n;
                }
                Kind::EndOfBlock => {
                    lanes.refill(c)?;
                    // Tail: the remaining lanes resolve their pending distances in lane order
                    // starting after the EOB lane, which is reservation order.
                    for k in 1..LANES {
                        let l = (c + k) % LANES;
                        if pending & (1 << l) != 0 {
                            resolve_match(lanes, l, dist, out, reserved[l])?;
                        }
                        lanes.refill(l)?;
                    }
                    return Ok(pos);
                }
                _ => return Err(DecodeErrorKind::InvalidSymbol { symbol: value as u16 }),
            }
        }
        lanes.refill(c)?;
        c = (c + 1) % LANES;
    }
}

/// Decodes lane `l`'s distance and fills the match reserved at `(start, len)`.
#[inline(always)]
fn resolve_match(
    lanes: &mut Lanes<'_>,
    l: usize,
    dist: &Table,
    out: &mut [u8],
    (start, len): (usize, usize),
) -> Result<()> {
    let (_, base, extra) = lanes.decode(l, dist, CodeKind::Distance)?;
    let d = (base + extra) as usize;
    if d > start {
        return Err(DecodeErrorKind::DistanceTooFar { distance: d as u32, position: start as u32 });
    }
    copy_match(out, start, d, len);
    Ok(())
}

/// `out[p + k] = out[p − d + (k mod d)]` for k in 0..n (spec 3.5), for 1 ≤ d ≤ p and
/// p + n ≤ out.len() (checked by the callers; violating it panics, it cannot corrupt).
#[inline(always)]
fn copy_match(out: &mut [u8], p: usize, d: usize, n: usize) {
    if n <= 16 {
        // Short matches dominate; a forward byte loop also handles any overlap (d < n).
        for k in p..p + n {
            out[k] = out[k - d];
        }
    } else if d >= n {
        out.copy_within(p - d..p - d + n, p);
    } else {
        // Overlapping: lay down one period, then double the periodic prefix.
        out.copy_within(p - d..p, p);
        let mut done = d;
        while done < n {
            let chunk = done.min(n - done);
            out.copy_within(p..p + chunk, p + done);
            done += chunk;
        }
    }
}

/// Decodes one raw page into `out`, which must be exactly its decoded size (1..=65536).
/// Convenience for one-off use; reuse a [`PageDecoder`] for many pages.
pub fn decode_page(page: &[u8], out: &mut [u8]) -> std::result::Result<(), DecodeError> {
    PageDecoder::new().decode(page, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words_to_page(words: &[u32], total_words: usize) -> Vec<u8> {
        let mut p = vec![0u8; total_words * 4];
        for (i, w) in words.iter().enumerate() {
            p[4 * i..4 * i + 4].copy_from_slice(&w.to_le_bytes());
        }
        p
    }

    #[test]
    fn spec_4_1_single_literal_fixed_block() {
        let page = words_to_page(&[0x0000_0473], 34);
        let mut out = [0u8; 1];
        decode_page(&page, &mut out).unwrap();
        assert_eq!(&out, b"A");
    }

    #[test]
    fn spec_4_2_stored_block_without_alignment_or_nlen() {
        let w = [
            0x0240_0081, 0x65, 0x6c, 0x6c, 0x6f, 0x2c, 0x20, 0x47, 0x44, 0x65, 0x66, 0x6c, 0x61,
            0x74, 0x65, 0x21,
        ];
        let page = words_to_page(&w, 48);
        let mut out = [0u8; 16];
        decode_page(&page, &mut out).unwrap();
        assert_eq!(&out, b"Hello, GDeflate!");
    }

    #[test]
    fn spec_4_3_deferred_distance_in_the_tail() {
        let page = words_to_page(&[0x44b, 0x49, 0xc9, 0x89, 0x10d8], 38);
        let mut out = [0u8; 24];
        decode_page(&page, &mut out).unwrap();
        assert_eq!(&out[..], b"abcabcabcabcabcabcabcabc");
    }

    #[test]
    fn spec_4_4_longest_match_uses_285_with_16_extra_bits() {
        let page = words_to_page(&[0x63, 0x00ff_fca3], 35);
        let mut out = vec![0xAAu8; 65536];
        decode_page(&page, &mut out).unwrap();
        assert!(out.iter().all(|&b| b == 0));
    }

    #[test]
    fn pages_with_missing_words_are_an_input_overrun_not_a_panic() {
        // Spec 4.1's page needs 34 words; give it 33.
        let page = words_to_page(&[0x0000_0473], 33);
        let e = decode_page(&page, &mut [0u8; 1]).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::InputOverrun);
        assert_eq!(e.offset, 33 * 4);
    }

    #[test]
    fn page_size_rules() {
        let e = decode_page(&[0u8; 124], &mut [0u8; 1]).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::BadPageSize { len: 124 });
        let e = decode_page(&[0u8; 130], &mut [0u8; 1]).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::BadPageSize { len: 130 });
    }

    #[test]
    fn reserved_block_type_is_rejected() {
        // BFINAL=1, BTYPE=3.
        let page = words_to_page(&[0b111], 40);
        let e = decode_page(&page, &mut [0u8; 1]).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::ReservedBlockType);
    }

    #[test]
    fn wrong_expected_size_is_an_underrun_or_overrun() {
        let page = words_to_page(&[0x0000_0473], 34);
        let e = decode_page(&page, &mut [0u8; 2]).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::OutputUnderrun { produced: 1, expected: 2 });
        let page = words_to_page(&[0x44b, 0x49, 0xc9, 0x89, 0x10d8], 38);
        let e = decode_page(&page, &mut [0u8; 10]).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::OutputOverrun { capacity: 10 });
    }

    #[test]
    fn overlapping_copies_follow_the_closed_form() {
        for d in 1..40usize {
            for n in [3usize, 15, 16, 17, 100, 1000] {
                let mut out: Vec<u8> = (0..d as u8).chain(std::iter::repeat_n(0xEE, n)).collect();
                copy_match(&mut out, d, d, n);
                for k in 0..n {
                    assert_eq!(out[d + k], out[k % d], "d={d} n={n} k={k}");
                }
            }
        }
    }
}
