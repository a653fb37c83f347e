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
use crate::huffman::{Alphabet, BlockCodes, Kind, Table};
use crate::tables::{
    LANES, MAX_PAGE_DECODED, MIN_PAGE_BYTES, NUM_DIST_SYMS, NUM_LITLEN_SYMS, PRECODE_ORDER,
    fixed_dist_lengths, fixed_litlen_lengths,
};

type Result<T> = std::result::Result<T, DecodeErrorKind>;

/// The lane reader of spec 3.2.
struct Lanes<'w> {
    /// The page's words followed by one zero word, so the fast path can load
    /// `words[min(next, nwords)]` without a branch and check for overrun once per round.
    words: &'w [u32],
    /// Number of real page words.
    nwords: usize,
    next: usize,
    buf: [u64; LANES],
    bits: [u32; LANES],
}

impl<'w> Lanes<'w> {
    /// `words` = the page's words plus one trailing zero word.
    fn new(words: &'w [u32]) -> Self {
        let mut buf = [0u64; LANES];
        for (b, &w) in buf.iter_mut().zip(words) {
            *b = u64::from(w);
        }
        Self { words, nwords: words.len() - 1, next: LANES, buf, bits: [32; LANES] }
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
            if self.next >= self.nwords {
                return Err(DecodeErrorKind::InputOverrun);
            }
            let w = self.words[self.next];
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
        self.finish_decode(l, b, table.lookup(b), code)
    }

    /// Like [`Lanes::decode`] for a block's literal/length (`distance == 0`) or distance
    /// (`distance == 1`) code.
    #[inline(always)]
    fn decode_block(&mut self, l: usize, codes: &BlockCodes, distance: usize) -> Result<(Kind, u32, u32)> {
        let b = self.buf[l];
        let code = if distance == 0 { CodeKind::LitLen } else { CodeKind::Distance };
        self.finish_decode(l, b, codes.lookup(distance, b), code)
    }

    #[inline(always)]
    fn finish_decode(&mut self, l: usize, b: u64, e: crate::huffman::Entry, code: CodeKind) -> Result<(Kind, u32, u32)> {
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
    codes: BlockCodes,
    precode: Table,
    fixed: BlockCodes,
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
        let mut fixed = BlockCodes::new();
        // The fixed codes are complete (checked in tables' tests): building cannot fail.
        let ok = fixed.build(&fixed_litlen_lengths(), &fixed_dist_lengths()).is_ok();
        debug_assert!(ok, "fixed codes are valid");
        Self {
            words: Vec::with_capacity(MAX_PAGE_DECODED / 4 + 256),
            codes: BlockCodes::new(),
            precode: Table::new(Alphabet::Precode),
            fixed,
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
        words.push(0);
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
                1 => pos = huffman_block(lanes, &self.fixed, out, pos)?,
                2 => {
                    self.read_dynamic_header(lanes)?;
                    pos = huffman_block(lanes, &self.codes, out, pos)?;
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
    /// builds `self.codes`.
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

        // Check the EOB length first: building the literal/length code may fail on the same
        // lengths, and "no end of block" is the more precise diagnosis.
        if lens[256] == 0 {
            return Err(DecodeErrorKind::MissingEndOfBlock);
        }
        self.codes.build(&lens[..hlit], &lens[hlit..])
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

/// State of a fixed or dynamic block's data between rounds (spec 3.3.5).
struct BlockState {
    /// Bytes assigned so far in the page.
    pos: usize,
    /// Bit l set: lane l reserved a match last round and owes its distance.
    pending: u32,
    /// Lane l's reserved match: (start, length).
    reserved: [(usize, usize); LANES],
}

/// Spec 3.3.5: the compressed data of a fixed or dynamic block, and its tail. Returns the
/// new output position.
///
/// Rounds (one step on each of the 32 lanes) normally run on [`fast_round`]; a round it
/// declines — end of block, an error, anything unusual — is replayed from the same state by
/// [`serial_round`], the literal transcription of the spec's loop. Both leave identical
/// state after a full round, so results and errors (kind and offset) are the serial ones.
fn huffman_block(lanes: &mut Lanes<'_>, codes: &BlockCodes, out: &mut [u8], pos: usize) -> Result<usize> {
    let mut st = BlockState { pos, pending: 0, reserved: [(0, 0); LANES] };
    loop {
        if !fast_round(lanes, codes, out, &mut st)? && serial_round(lanes, codes, out, &mut st)? {
            return Ok(st.pos);
        }
    }
}

/// One round, serially, exactly as spec 3.3.5 states it. Returns `true` if the block ended
/// (end-of-block decoded and the tail run).
fn serial_round(lanes: &mut Lanes<'_>, codes: &BlockCodes, out: &mut [u8], st: &mut BlockState) -> Result<bool> {
    let cap = out.len();
    for c in 0..LANES {
        if st.pending & (1 << c) != 0 {
            resolve_match(lanes, c, codes, out, st.reserved[c])?;
            st.pending &= !(1 << c);
        } else {
            let (kind, value, extra) = lanes.decode_block(c, codes, 0)?;
            match kind {
                Kind::Literal => {
                    *out.get_mut(st.pos).ok_or(DecodeErrorKind::OutputOverrun { capacity: cap as u32 })? =
                        value as u8;
                    st.pos += 1;
                }
                Kind::Length => {
                    let n = (value + extra) as usize;
                    if st.pos + n > cap {
                        return Err(DecodeErrorKind::OutputOverrun { capacity: cap as u32 });
                    }
                    st.reserved[c] = (st.pos, n);
                    st.pending |= 1 << c;
                    st.pos += n;
                }
                Kind::EndOfBlock => {
                    lanes.refill(c)?;
                    // Tail: the other lanes resolve their pending distances in lane order
                    // starting after the EOB lane, which is reservation order.
                    for k in 1..LANES {
                        let l = (c + k) % LANES;
                        if st.pending & (1 << l) != 0 {
                            resolve_match(lanes, l, codes, out, st.reserved[l])?;
                        }
                        lanes.refill(l)?;
                    }
                    return Ok(true);
                }
                _ => return Err(DecodeErrorKind::InvalidSymbol { symbol: value as u16 }),
            }
        }
        lanes.refill(c)?;
    }
    Ok(false)
}

/// One round with the lanes' symbol lookups decoupled from the output work, so the 32
/// independent lookups overlap in the CPU. Returns `false`, having changed nothing, for a
/// round that needs [`serial_round`]: one containing anything but literals, lengths and
/// distances (end of block, invalid symbols, empty codes), a distance before the page start,
/// or output past the page's size.
///
/// Why the reordering is exact: within a round every lane reads only its own buffer, and
/// the refills happen in lane order as in the serial schedule. Matches reserved last round
/// read and write only bytes below this round's first position, and this round's literals
/// only bytes at or above it, so resolving all of last round's matches (in reservation
/// order) before writing this round's literals gives the serial result. A non-literal lane
/// also stores its (meaningless) low value byte at its position: that byte is the start of
/// a match filled next round, or the position of the next token, overwritten later.
#[inline(always)]
fn fast_round(lanes: &mut Lanes<'_>, codes: &BlockCodes, out: &mut [u8], st: &mut BlockState) -> Result<bool> {
    const LIT: u32 = Kind::Literal as u32;
    const LEN: u32 = Kind::Length as u32;
    const DIST: u32 = Kind::Distance as u32;

    let mut used = [0u32; LANES];
    let mut value = [0u32; LANES];
    let mut pos = [0usize; LANES];
    let mut lengths = 0u32;
    // Everything below is integer arithmetic on purpose: literal/length/distance mixes are
    // unpredictable, so a branch per lane would mispredict constantly.
    let mut unusual = 0u32;
    let mut p = st.pos;
    for l in 0..LANES {
        let b = lanes.buf[l];
        let owes = (st.pending >> l) & 1;
        let e = codes.lookup(owes as usize, b);
        let (len, extra) = (e.len(), e.extra());
        let v = e.value() + ((b >> len) & ((1u64 << extra) - 1)) as u32;
        let kind = e.kind_bits();
        let is_lit = u32::from(kind == LIT);
        let is_len = u32::from(kind == LEN);
        // A lane that owes a distance must decode one, and it must not reach before the page.
        let dist_ok = u32::from(kind == DIST) & u32::from(v as usize <= st.reserved[l].0);
        unusual |= (owes & (dist_ok ^ 1)) | ((owes ^ 1) & ((is_lit | is_len) ^ 1));
        used[l] = len + extra;
        value[l] = v;
        pos[l] = p;
        lengths |= is_len << l;
        p += (is_lit + (v & is_len.wrapping_neg())) as usize;
    }
    if unusual != 0 || p > out.len() {
        return Ok(false);
    }

    // Commit the bits and refill in lane order (spec 3.2), without branches.
    let mut next = lanes.next;
    for l in 0..LANES {
        let buf = lanes.buf[l] >> used[l];
        let bits = lanes.bits[l] - used[l];
        let need = u64::from(bits < 32);
        let w = u64::from(lanes.words[next.min(lanes.nwords)]);
        lanes.buf[l] = buf | ((w & need.wrapping_neg()) << bits);
        lanes.bits[l] = bits + 32 * need as u32;
        next += need as usize;
    }
    lanes.next = next;
    if next > lanes.nwords {
        return Err(DecodeErrorKind::InputOverrun);
    }

    // Last round's matches, in reservation (lane) order.
    let mut owed = st.pending;
    while owed != 0 {
        let l = owed.trailing_zeros() as usize;
        owed &= owed - 1;
        let (start, n) = st.reserved[l];
        copy_match(out, start, value[l] as usize, n);
    }

    // This round's literals and reservations.
    for l in 0..LANES {
        if let Some(b) = out.get_mut(pos[l]) {
            *b = value[l] as u8;
        }
        st.reserved[l] = (pos[l], value[l] as usize);
    }
    st.pending = lengths;
    st.pos = p;
    Ok(true)
}

/// Decodes lane `l`'s distance and fills the match reserved at `(start, len)`.
#[inline(always)]
fn resolve_match(
    lanes: &mut Lanes<'_>,
    l: usize,
    codes: &BlockCodes,
    out: &mut [u8],
    (start, len): (usize, usize),
) -> Result<()> {
    let (_, base, extra) = lanes.decode_block(l, codes, 1)?;
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
