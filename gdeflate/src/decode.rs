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
//! Speed comes from optimistic rounds that run a whole round (one step on each lane) and
//! decline anything unusual — [`fast_round`] without data-dependent branches for rounds
//! dense in matches, [`sparse_round`] for runs of literals with a few matches (a
//! branch-free literal pass, then a fix-up over the few other lanes) and [`mixed_round`]
//! where that round's copies do not fit before the page end — each written as straight-line
//! code over the 32 lanes with double-buffered lane state; declined rounds are replayed by [`serial_round`], the literal transcription of the
//! spec. Results and errors (kind and offset) are therefore always the serial ones. Short
//! matches (nearly all) are copied by one 16-byte read-modify-write.
//!
//! Invariants that make the decoder total (no panic, no unbounded loop, no out-of-bounds
//! access for any input):
//! * every step starts with ≥ 32 bits in its lane except lane 0 after an empty stored block
//!   (≥ 16), and consumes ≤ 31 (≤ 3 in that case), so bit counts never underflow;
//! * every loop iteration consumes at least one bit or advances a bounded counter, and
//!   each refill consumes a page word, so the work is bounded by page size × 32 plus output;
//! * every write is checked against the output slice's length before it happens.

use crate::error::{CodeKind, DecodeError, DecodeErrorKind};
use crate::huffman::{
    BlockCodes, DISTANCE_HALF, Entry, Kind, LENGTH_SHIFT, MAIN_BITS, NOT_LITERAL_BIT, Table,
};
use crate::tables::{
    LANES, MAX_PAGE_DECODED, MIN_PAGE_BYTES, NUM_DIST_SYMS, NUM_LITLEN_SYMS, PRECODE_ORDER,
    fixed_dist_lengths, fixed_litlen_lengths,
};

use std::sync::OnceLock;

type Result<T> = std::result::Result<T, DecodeErrorKind>;

/// The shift that puts a lane's owing bit on the distance table's index bit.
const DISTANCE_SHIFT: u32 = MAIN_BITS;

/// Zero words after a page's words (see [`Lanes::words`]).
const WORD_PAD: usize = LANES;

/// One lane's bit buffer (spec 3.2): the next `bits` stream bits, first in bit 0.
#[derive(Clone, Copy)]
struct Lane {
    buf: u64,
    bits: u64,
}

/// The lane reader of spec 3.2.
///
/// The lane state is double-buffered: `lane[cur]` is current. [`fast_round`] writes a
/// round's new state into the other half and makes it current only when it accepts the
/// round, so declining a round costs nothing.
struct Lanes<'w> {
    /// The page's words followed by [`WORD_PAD`] zero words: one round refills at most 32
    /// times, so the fast path can load `words[next]` without a branch and check for overrun
    /// once per round.
    words: &'w [u32],
    /// Number of real page words.
    nwords: usize,
    next: usize,
    lane: [[Lane; LANES]; 2],
    cur: usize,
}

impl<'w> Lanes<'w> {
    /// `words` = the page's words plus [`WORD_PAD`] trailing zero words.
    fn new(words: &'w [u32]) -> Self {
        let mut lane = [Lane { buf: 0, bits: 32 }; LANES];
        for (l, &w) in lane.iter_mut().zip(words) {
            l.buf = u64::from(w);
        }
        Self { words, nwords: words.len() - WORD_PAD, next: LANES, lane: [lane; 2], cur: 0 }
    }

    /// Removes and returns the next `k` (≤ 31) bits of lane `l`.
    #[inline(always)]
    fn take(&mut self, l: usize, k: u32) -> u32 {
        let lane = &mut self.lane[self.cur][l];
        let v = (lane.buf & ((1u64 << k) - 1)) as u32;
        lane.buf >>= k;
        lane.bits -= u64::from(k);
        v
    }

    /// Loads one word into lane `l` if it holds fewer than 32 bits.
    #[inline(always)]
    fn refill(&mut self, l: usize) -> Result<()> {
        let lane = &mut self.lane[self.cur][l];
        if lane.bits < 32 {
            if self.next >= self.nwords {
                return Err(DecodeErrorKind::InputOverrun);
            }
            lane.buf |= u64::from(self.words[self.next]) << lane.bits;
            lane.bits += 32;
            self.next += 1;
        }
        Ok(())
    }

    /// Decodes one step on lane `l`: looks up `e` (already found for the lane's bits),
    /// consumes its codeword and extra bits, and returns it with value + extra bits.
    #[inline(always)]
    fn step(&mut self, l: usize, e: Entry, code: CodeKind) -> Result<(Entry, u32)> {
        if e.kind() == Kind::Empty {
            return Err(DecodeErrorKind::EmptyCode(code));
        }
        let lane = &mut self.lane[self.cur][l];
        let v = e.value_with_extra(lane.buf);
        lane.buf >>= e.total();
        lane.bits -= u64::from(e.total());
        Ok((e, v))
    }

    /// One precode step on lane `l`.
    fn decode_precode(&mut self, l: usize, table: &Table) -> Result<(Entry, u32)> {
        let e = table.lookup(self.lane[self.cur][l].buf);
        self.step(l, e, CodeKind::Precode)
    }

    /// One literal/length (`distance == 0`) or distance (`distance == 1`) step on lane `l`.
    #[inline(always)]
    fn decode_block(&mut self, l: usize, codes: &BlockCodes, distance: u32) -> Result<(Entry, u32)> {
        let e = codes.lookup(distance, self.lane[self.cur][l].buf);
        let code = if distance == 0 { CodeKind::LitLen } else { CodeKind::Distance };
        self.step(l, e, code)
    }
}

/// A reusable page decoder: holds the Huffman tables and word buffer so that decoding many
/// pages allocates nothing after the first.
pub struct PageDecoder {
    words: Vec<u32>,
    codes: BlockCodes,
    precode: Table,
    lens: [u8; NUM_LITLEN_SYMS + NUM_DIST_SYMS],
}

impl Default for PageDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl PageDecoder {
    /// A decoder, ready for any page.
    pub fn new() -> Self {
        Self {
            words: Vec::with_capacity(MAX_PAGE_DECODED / 4 + 256),
            codes: BlockCodes::new(),
            precode: Table::new(),
            lens: [0; NUM_LITLEN_SYMS + NUM_DIST_SYMS],
        }
    }

    /// Decodes one page, which must produce exactly `out.len()` bytes (1..=65536).
    ///
    /// Errors carry the byte offset of the read cursor in `page` and no tile.
    pub fn decode(&mut self, page: &[u8], out: &mut [u8]) -> std::result::Result<(), DecodeError> {
        if !page.len().is_multiple_of(4) || page.len() < MIN_PAGE_BYTES {
            let len = u32::try_from(page.len()).unwrap_or(u32::MAX);
            return Err(DecodeError::new(DecodeErrorKind::BadPageSize { len }, 0));
        }
        if out.len() > MAX_PAGE_DECODED {
            let kind = DecodeErrorKind::OutputOverrun { capacity: MAX_PAGE_DECODED as u32 };
            return Err(DecodeError::new(kind, 0));
        }
        let mut words = std::mem::take(&mut self.words);
        let n = page.len() / 4;
        words.clear();
        words.extend(page.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])));
        words.resize(n + WORD_PAD, 0);
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
                1 => pos = huffman_block(lanes, fixed_codes(), out, pos)?,
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
            return Err(DecodeErrorKind::OutputUnderrun { produced: pos as u32, expected: out.len() as u32 });
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
            let (e, v) = lanes.decode_precode(c, &self.precode)?;
            let extra = (v - e.value()) as usize;
            let (value, run) = match e.value() {
                sym @ 0..=15 => (sym as u8, 1),
                16 => {
                    let prev = *lens[..filled].last().ok_or(DecodeErrorKind::RepeatWithoutPrevious)?;
                    (prev, 3 + extra)
                }
                17 => (0, 3 + extra),
                _ => (0, 11 + extra),
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

/// The decode tables of the fixed codes (spec 2.5): constants of the format, built once per
/// process and shared by every decoder rather than rebuilt (128 KB) for each.
fn fixed_codes() -> &'static BlockCodes {
    static FIXED: OnceLock<BlockCodes> = OnceLock::new();
    FIXED.get_or_init(|| {
        let mut fixed = BlockCodes::new();
        // The fixed codes are complete (checked in tables' tests): building cannot fail.
        let ok = fixed.build(&fixed_litlen_lengths(), &fixed_dist_lengths()).is_ok();
        debug_assert!(ok, "fixed codes are valid");
        fixed
    })
}

/// Spec 3.3.2: LEN from lane 0, then byte i from lane i % 32. Returns the new position.
///
/// Long stored blocks (incompressible data) take a shortcut that the schedule allows: once
/// every lane holds ≥ 32 bits (true after the first round), a lane consumes exactly 32 bits
/// per 4 rounds and refills exactly once in them, at the round `(bits − 32) / 8` — the same
/// phase every 4 rounds, since its bit count returns to where it was. So each group of 4
/// rounds (128 bytes) takes the next 32 page words, assigned to the lanes in (phase, lane)
/// order, and lane l's 4 bytes of the group are the low 32 bits of its buffer: a transpose.
fn stored_block(lanes: &mut Lanes<'_>, out: &mut [u8], pos: usize) -> Result<usize> {
    let len = lanes.take(0, 16) as usize;
    let capacity = out.len() as u32;
    let dst = out.get_mut(pos..pos + len).ok_or(DecodeErrorKind::OutputOverrun { capacity })?;
    const GROUP: usize = 4 * LANES;
    let first = len.min(LANES);
    stored_bytes(lanes, dst, 0, first)?;
    let mut done = first;
    if len - done >= GROUP {
        // Each lane's refill slot within a group: lanes ordered by (phase, lane).
        let lane_state = &mut lanes.lane[lanes.cur];
        let mut slot = [0usize; LANES];
        let mut taken = 0;
        for phase in 0..4 {
            for (l, state) in lane_state.iter().enumerate() {
                if (state.bits - 32) / 8 == phase {
                    slot[l] = taken;
                    taken += 1;
                }
            }
        }
        while len - done >= GROUP && lanes.next + LANES <= lanes.nwords {
            let group = &mut dst[done..done + GROUP];
            let words = &lanes.words[lanes.next..lanes.next + LANES];
            for (l, state) in lane_state.iter_mut().enumerate() {
                let bytes = (state.buf as u32).to_le_bytes();
                for (r, byte) in bytes.into_iter().enumerate() {
                    group[r * LANES + l] = byte;
                }
                // 32 bits out, one word in at the lane's bit count less those 32 bits.
                state.buf = (state.buf >> 32) | (u64::from(words[slot[l]]) << (state.bits - 32));
            }
            lanes.next += LANES;
            done += GROUP;
        }
    }
    // The rest (a partial group, or groups too close to the page end for the unchecked
    // loop) byte by byte, which reports a refill past the end exactly where it happens.
    stored_bytes(lanes, dst, done, len)?;
    Ok(pos + len)
}

/// Bytes `from..to` of the stored block `dst`, one step at a time.
fn stored_bytes(lanes: &mut Lanes<'_>, dst: &mut [u8], from: usize, to: usize) -> Result<()> {
    for (i, byte) in dst.iter_mut().enumerate().take(to).skip(from) {
        let l = i % LANES;
        *byte = lanes.take(l, 8) as u8;
        lanes.refill(l)?;
    }
    Ok(())
}

/// State of a fixed or dynamic block's data between rounds (spec 3.3.5).
struct BlockState {
    /// Bytes assigned so far in the page.
    pos: usize,
    /// Bit l set: lane l reserved a match last round and owes its distance.
    pending: u32,
    /// Lane l's reserved match starts at `start[cur][l]` and is `value[cur][l]` bytes long.
    /// A round writes every lane's position and value into the `cur ^ 1` halves (for a lane
    /// resolving a distance, the value is that distance) and flips `cur` when it is
    /// accepted. `cur` always equals [`Lanes::cur`], so that both double buffers are selected
    /// by one compile-time index in the round functions.
    start: [[u32; LANES]; 2],
    value: [[u32; LANES]; 2],
    cur: usize,
    /// `pending` before the last accepted fast round (the lanes that resolved a distance).
    last_pending: u32,
}

/// Most non-literal steps in a round for which the next round is run by [`sparse_round`].
const SPARSE_ROUND_MAX: u32 = 4;

/// Whether `mask` has at most [`SPARSE_ROUND_MAX`] bits set: that many lowest set bits
/// cleared leave nothing (cheaper than a population count on baseline x86-64, which has no
/// `popcnt`).
#[inline(always)]
fn at_most_sparse_max(mut mask: u32) -> bool {
    for _ in 0..SPARSE_ROUND_MAX {
        mask &= mask.wrapping_sub(1);
    }
    mask == 0
}

/// The kinds of optimistic round (see [`huffman_block`]).
#[derive(Clone, Copy, PartialEq, Eq)]
enum RoundKind {
    Sparse,
    Fast,
}

/// Spec 3.3.5: the compressed data of a fixed or dynamic block, and its tail. Returns the
/// new output position.
///
/// Rounds normally run on [`fast_round`]; a round it declines is replayed from the same
/// state by [`serial_round`]. Both leave identical state after a full round.
fn huffman_block(lanes: &mut Lanes<'_>, codes: &BlockCodes, out: &mut [u8], pos: usize) -> Result<usize> {
    let mut st = BlockState {
        pos,
        pending: 0,
        start: [[0; LANES]; 2],
        value: [[0; LANES]; 2],
        cur: lanes.cur,
        last_pending: 0,
    };
    // Non-literal steps (lengths + distances) in the last round decide the next round's
    // kind: a few -> the sparse round, whose fix-up then stays short; many -> the
    // branch-free round (high-entropy data is long runs of literals with sparse matches;
    // repetitive data is dense in matches).
    // Bit l: lane l's step in the last round was a length or a distance (all set after a
    // serial round).
    let mut non_literals = u32::MAX;
    loop {
        let kind = if at_most_sparse_max(non_literals) { RoundKind::Sparse } else { RoundKind::Fast };
        let accepted = if lanes.cur == 0 {
            optimistic_round::<0, 1>(kind, lanes, codes, out, &mut st)
        } else {
            optimistic_round::<1, 0>(kind, lanes, codes, out, &mut st)
        };
        if accepted {
            // Distances this round = lanes that owed one; lengths = lanes now owing one.
            // (Disjoint sets: a lane resolving a distance decodes nothing else.)
            non_literals = st.pending | st.last_pending;
        } else if serial_round(lanes, codes, out, &mut st)? {
            return Ok(st.pos);
        } else {
            non_literals = u32::MAX;
        }
    }
}

/// One optimistic round of `kind` with the double buffers' current halves `C` (= `lanes.cur`
/// = `st.cur`) and next halves `N` = 1 − `C`. Returns whether a round was accepted.
#[inline(always)]
fn optimistic_round<const C: usize, const N: usize>(
    kind: RoundKind,
    lanes: &mut Lanes<'_>,
    codes: &BlockCodes,
    out: &mut [u8],
    st: &mut BlockState,
) -> bool {
    match kind {
        // The sparse, mixed and fast rounds accept exactly the same rounds, so a declined one
        // goes straight to the serial replay. Without owed distances every lane reads the
        // literal/length table: a variant without the per-lane table selection.
        RoundKind::Sparse if st.pending == 0 => sparse_round::<C, N, false>(lanes, codes, out, st),
        RoundKind::Sparse => sparse_round::<C, N, true>(lanes, codes, out, st),
        RoundKind::Fast => fast_round::<C, N>(lanes, codes, out, st),
    }
}

/// The page words a round may refill from: one round refills at most [`LANES`] times, and
/// `words` holds [`WORD_PAD`] zero words after the page, so the window always exists for a
/// cursor within the page. Indexing it by `k % LANES` needs no bounds check.
#[inline(always)]
fn word_window(words: &[u32], next: usize) -> Option<&[u32; LANES]> {
    words.get(next..next + LANES)?.try_into().ok()
}

/// A round for data with sparse matches, in two passes: a branch-free literal pass (lookup,
/// byte at the round's position + lane, bits and refill; the owed distances' lanes read the
/// distance table), then, only if some lane decoded something else, a fix-up over those
/// lanes alone: each non-literal's value, reservation and advance, and the literal bytes
/// between them moved to their positions (one 32-byte copy per run of literals from a copy
/// of the round's bytes). Accepts exactly what [`mixed_round`] accepts, with the same state
/// (same argument for exactness as [`fast_round`]: bytes written at or above the round's
/// first position are rewritten before anything reads them); near the page end, where the
/// 32-byte copies do not fit, the round is left to [`mixed_round`].
#[inline(never)]
fn sparse_round<const C: usize, const N: usize, const OWING: bool>(
    lanes: &mut Lanes<'_>,
    codes: &BlockCodes,
    out: &mut [u8],
    st: &mut BlockState,
) -> bool {
    let pos = st.pos;
    let Some(dst) = out.get_mut(pos..pos + LANES) else {
        return mixed_round::<C, N, OWING>(lanes, codes, out, st);
    };
    let Ok(dst) = <&mut [u8; LANES]>::try_from(dst) else { return false };
    let Some(win) = word_window(lanes.words, lanes.next) else { return false };
    let pending = st.pending;
    let [now, then] = &mut lanes.lane;
    let (now, then) = if C == 0 { (&*now, then) } else { (&*then, now) };
    // Lane l's owing bit is at bit 10 (= the distance table's index bit) when its turn comes.
    let owing = (pending as usize) << DISTANCE_SHIFT;
    // The low 16 bits of each lane's entry, for its not-a-literal flag.
    let mut kinds = [0u16; LANES];
    let mut k = 0usize;
    // Lane l's owing bit, shifted down one lane per step.
    let mut owing_now = owing;
    let mut step = |l: usize| {
        let half = if OWING { owing_now & DISTANCE_HALF } else { 0 };
        owing_now >>= 1;
        let e = codes.lookup_in(half, now[l].buf);
        dst[l] = e.literal();
        kinds[l] = e.0 as u16;
        then[l] = consume_and_refill(now[l], e, win, &mut k);
    };
    // Four lanes per iteration (a rolled loop: the compiler does not unroll this one).
    for l in (0..LANES).step_by(4) {
        step(l);
        step(l + 1);
        step(l + 2);
        step(l + 3);
    }
    let mut others = not_literal_lanes(&kinds);
    if others == 0 {
        // All literals (so no lane owed a distance): the bytes are in place.
        if lanes.next + k > lanes.nwords {
            return false;
        }
        lanes.cur = N;
        lanes.next += k;
        st.cur = N;
        st.last_pending = 0;
        st.pending = 0;
        st.pos += LANES;
        return true;
    }
    // Non-literal lanes that owed no distance decoded a length (or a special entry, whose
    // advance declines the round).
    let lengths = others & !pending;
    let mut bytes = [0u8; 2 * LANES];
    bytes[..LANES].copy_from_slice(dst);
    let (next_start, next_value) = (&mut st.start[N], &mut st.value[N]);
    let mut p = pos;
    let mut from = 0usize;
    while others != 0 {
        let l = others.trailing_zeros() as usize;
        others &= others - 1;
        // The literals of lanes from..l, then lane l's token at the position after them.
        let Some(run) = out.get_mut(p..p + LANES) else {
            return mixed_round::<C, N, OWING>(lanes, codes, out, st);
        };
        run.copy_from_slice(&bytes[from..from + LANES]);
        p += l - from;
        let b = now[l].buf;
        let half = if OWING { (owing >> l) & DISTANCE_HALF } else { 0 };
        let e = codes.lookup_in(half, b);
        let v = e.value_with_extra(b);
        // A length lane's reservation, or a distance travelling to the copy loop.
        next_start[l] = p as u32;
        next_value[l] = v;
        // A length advances by its length, a distance by nothing (a special entry's advance
        // declines the round, see `finish_round`).
        p += if half == 0 { v as usize } else { 0 };
        from = l + 1;
    }
    let Some(run) = out.get_mut(p..p + LANES) else {
        return mixed_round::<C, N, OWING>(lanes, codes, out, st);
    };
    run.copy_from_slice(&bytes[from..from + LANES]);
    p += LANES - from;
    finish_round::<C, N>(lanes, st, out, lengths, p, k)
}

/// Bit l set: lane l's entry (low 16 bits `kinds[l]`) is not a literal (bit 15, see
/// [`NOT_LITERAL_BIT`]). Eight lanes per multiply: of two 64-bit words of four lanes, the
/// first's flags move to bits 11, 27, 43, 59 and the second's stay at 15, 31, 47, 63; the
/// multiply takes them to bits 56..59 and 60..63 (the partial products land on distinct
/// bits below 56 or past 63, so nothing carries into them).
#[inline(always)]
fn not_literal_lanes(kinds: &[u16; LANES]) -> u32 {
    const _: () = assert!(NOT_LITERAL_BIT == 1 << 15);
    const GATHER: u64 = 1 | 1 << 15 | 1 << 30 | 1 << 45;
    const FLAGS: u64 = 0x8000_8000_8000_8000;
    let word =
        |q: &[u16]| u64::from(q[0]) | u64::from(q[1]) << 16 | u64::from(q[2]) << 32 | u64::from(q[3]) << 48;
    let mut mask = 0u32;
    for (j, q) in kinds.chunks_exact(8).enumerate() {
        let flags = (word(&q[..4]) & FLAGS) >> 4 | (word(&q[4..]) & FLAGS);
        mask |= ((flags.wrapping_mul(GATHER) >> 56) as u32) << (8 * j);
    }
    mask
}

/// A round for data with sparse matches: like [`fast_round`] (same double-buffered state,
/// same validation, same argument for exactness), but literals take a predictable branch
/// and only lengths and distances take the slow side. Cheaper than the branch-free round
/// when a round holds few non-literals, costlier when it holds many.
#[inline(never)]
fn mixed_round<const C: usize, const N: usize, const OWING: bool>(
    lanes: &mut Lanes<'_>,
    codes: &BlockCodes,
    out: &mut [u8],
    st: &mut BlockState,
) -> bool {
    let Some(win) = word_window(lanes.words, lanes.next) else { return false };
    let pending = st.pending;
    let [now, then] = &mut lanes.lane;
    let (now, then) = if C == 0 { (&*now, then) } else { (&*then, now) };
    let (next_start, next_value) = (&mut st.start[N], &mut st.value[N]);

    // Bit l of `lengths`: lane l decoded a length.
    let mut lengths = 0u32;
    // Lane l's owing bit is at bit 10 (= the distance table's index bit) when its turn comes.
    let mut owing = (pending as usize) << DISTANCE_SHIFT;
    let mut p = st.pos;
    let mut k = 0usize;
    let mut step = |l: usize| {
        let Lane { buf: b, bits } = now[l];
        let half = if OWING { owing & DISTANCE_HALF } else { 0 };
        owing >>= 1;
        let e = codes.lookup_in(half, b);
        then[l] = consume_and_refill(Lane { buf: b, bits }, e, win, &mut k);

        // Every lane stores its literal byte field (see `fast_round`); literals just advance.
        if let Some(byte) = out.get_mut(p) {
            *byte = e.literal();
        }
        if e.0 & NOT_LITERAL_BIT != 0 {
            let v = e.value_with_extra(b);
            lengths |= ((e.0 >> LENGTH_SHIFT) as u32 & 1) << l;
            // A length lane's reservation, or a distance travelling to the copy loop.
            next_start[l] = p as u32;
            next_value[l] = v;
            // A length advances by its length, a distance by nothing (a special entry's
            // advance declines the round, see `finish_round`); the 1 below is taken back.
            p = p.wrapping_sub(1).wrapping_add(if half == 0 { v as usize } else { 0 });
        }
        p = p.wrapping_add(1);
    };
    // Two lanes per iteration (the compiler then unrolls the whole round).
    for l in (0..LANES).step_by(2) {
        step(l);
        step(l + 1);
    }
    finish_round::<C, N>(lanes, st, out, lengths, p, k)
}

/// One round, serially, exactly as spec 3.3.5 states it. Returns `true` if the block ended
/// (end-of-block decoded and the tail run).
fn serial_round(
    lanes: &mut Lanes<'_>,
    codes: &BlockCodes,
    out: &mut [u8],
    st: &mut BlockState,
) -> Result<bool> {
    let cap = out.len();
    let cur = st.cur;
    for c in 0..LANES {
        if st.pending & (1 << c) != 0 {
            resolve_match(lanes, c, codes, out, reserved(st, c))?;
            st.pending &= !(1 << c);
        } else {
            let (e, v) = lanes.decode_block(c, codes, 0)?;
            match e.kind() {
                Kind::Literal => {
                    *out.get_mut(st.pos).ok_or(DecodeErrorKind::OutputOverrun { capacity: cap as u32 })? =
                        e.literal();
                    st.pos += 1;
                }
                Kind::Length => {
                    let n = v as usize;
                    if st.pos + n > cap {
                        return Err(DecodeErrorKind::OutputOverrun { capacity: cap as u32 });
                    }
                    st.start[cur][c] = st.pos as u32;
                    st.value[cur][c] = v;
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
                            resolve_match(lanes, l, codes, out, reserved(st, l))?;
                        }
                        lanes.refill(l)?;
                    }
                    return Ok(true);
                }
                _ => {
                    let symbol = 256 + u16::from(e.literal());
                    return Err(DecodeErrorKind::InvalidSymbol { symbol });
                }
            }
        }
        lanes.refill(c)?;
    }
    Ok(false)
}

/// Lane `l`'s current reservation `(start, length)`.
#[inline(always)]
fn reserved(st: &BlockState, l: usize) -> (usize, usize) {
    (st.start[st.cur][l] as usize, st.value[st.cur][l] as usize)
}

/// One round in a single pass over the lanes, optimistically: each lane's lookup, bit
/// consumption, refill, literal store and match reservation happen together, with no
/// data-dependent branch; the round is validated at the end. Returns `false`, leaving the
/// current lane state and reservations untouched, for a round that [`serial_round`] must
/// replay: one containing anything but literals, lengths and distances (end of block,
/// invalid symbols, empty codes), a distance before the page start, output past the page's
/// size, or a refill past the page's end.
///
/// Why this is exact:
/// * within a round each lane reads only its own buffer, and refills happen in lane order as
///   in the serial schedule, so every lane's bits are the serial ones;
/// * matches reserved last round read and write only bytes below this round's first
///   position; this round's literals write only at or above it. So last round's matches can
///   be resolved after the pass, in reservation (lane) order, with the serial result;
/// * every lane stores its literal byte field at its position (meaningless for a
///   non-literal): that byte is the start of a match filled next round, or the position of
///   the next token, written later. Bytes a declined round wrote are likewise at or above its
///   first position and are rewritten by the replay before anything reads them, and copies a
///   declined round already made are redone identically;
/// * new lane state and reservations go to the other halves of the double buffers and only
///   become current when the round is accepted.
///
/// The pass is written for few live registers and no per-lane loop state: the halves are
/// compile-time indices (`C`, `N`), refills read a fixed 32-word window, and the lanes are
/// stepped two per iteration, which the compiler unrolls into 32 straight-line steps whose
/// lane offsets and flag shifts are constants.
#[inline(never)]
fn fast_round<const C: usize, const N: usize>(
    lanes: &mut Lanes<'_>,
    codes: &BlockCodes,
    out: &mut [u8],
    st: &mut BlockState,
) -> bool {
    let Some(win) = word_window(lanes.words, lanes.next) else { return false };
    let [now, then] = &mut lanes.lane;
    let (now, then) = if C == 0 { (&*now, then) } else { (&*then, now) };
    let (next_start, next_value) = (&mut st.start[N], &mut st.value[N]);

    // Lane l's owing bit is at bit 10 (= the distance table's index bit) when its turn comes.
    let owing = (st.pending as usize) << DISTANCE_SHIFT;
    let mut lengths = 0u32;
    let mut p = st.pos;
    let mut k = 0usize;
    // `l` is a constant in each unrolled step, so the shifts by it are immediates.
    let mut step = |l: usize| {
        let Lane { buf: b, bits } = now[l];
        let half = (owing >> l) & DISTANCE_HALF;
        let e = codes.lookup_in(half, b);
        lengths |= ((e.0 >> (LENGTH_SHIFT - l as u32)) as u32) & (1 << l);
        let v = e.value_with_extra(b);
        if let Some(byte) = out.get_mut(p) {
            *byte = e.literal();
        }
        // For a length lane this is its reservation; for a lane resolving a distance, the
        // distance travels here to the copy loop.
        next_start[l] = p as u32;
        next_value[l] = v;
        // Literal: value 1; length: its length; a lane resolving a distance adds nothing.
        p += if half == 0 { v as usize } else { 0 };
        then[l] = consume_and_refill(Lane { buf: b, bits }, e, win, &mut k);
    };
    // Two lanes per iteration (the compiler then unrolls the whole round, so every lane's
    // offsets are constants).
    for l in (0..LANES).step_by(2) {
        step(l);
        step(l + 1);
    }
    finish_round::<C, N>(lanes, st, out, lengths, p, k)
}

/// The common end of [`fast_round`] and [`mixed_round`], given the lanes that decoded a
/// length (bit l of `lengths`), the next position `p` and the number of words `k` the round
/// refilled. Declines (returns `false`, nothing current changed) on output past the page, a
/// refill past the page, or a distance before the page start — which includes every round
/// in which a lane decoded a special entry (end of block, symbol 286/287, the empty code):
/// such an entry's value is [`crate::huffman::SPECIAL_VALUE`] = 65535, so on a literal/length lane it
/// advances `p` to at least the round's start + 65535 + the other 31 lanes' advances: past
/// 65536 ≥ `out.len()` whenever the start is ≥ 2, and when it is below 3 no lane owes a
/// distance (a reservation is ≥ 3 bytes), so the other lanes add ≥ 31; on a distance lane it
/// is a distance of 65535, beyond any match start (≤ 65533). Every lane otherwise decoded
/// what its table allows in a normal round: the literal/length table yields literals,
/// lengths or specials, the distance table distances or specials. Otherwise resolves last
/// round's matches in reservation (lane) order and makes the round's state current.
#[inline(always)]
fn finish_round<const C: usize, const N: usize>(
    lanes: &mut Lanes<'_>,
    st: &mut BlockState,
    out: &mut [u8],
    lengths: u32,
    p: usize,
    k: usize,
) -> bool {
    if p > out.len() || lanes.next + k > lanes.nwords {
        return false;
    }
    let pending = st.pending;
    let mut owed = pending;
    while owed != 0 {
        let l = owed.trailing_zeros() as usize;
        owed &= owed - 1;
        let (start, n) = (st.start[C][l] as usize, st.value[C][l] as usize);
        // The distance lane's pass stored its distance as its value.
        let d = st.value[N][l] as usize;
        if d > start {
            return false;
        }
        copy_match(out, start, d, n);
    }
    lanes.cur = N;
    lanes.next += k;
    st.cur = N;
    st.last_pending = pending;
    st.pending = lengths;
    st.pos = p;
    true
}

/// A lane after a step that consumed the resolved entry `e`'s bits, refilled as spec 3.2
/// says (one word, the round's `win[*k]`, if fewer than 32 bits remain) without a branch. A
/// refill past the page reads one of the zero pad words; the round checks the cursor
/// against the page afterwards.
///
/// The lane holds 32..=63 bits and `e` consumes at most 31, so `bits` is 1..=63 and the
/// count after a refill is `bits | 32`. The refill mask is spelled as a comparison (`cmp` +
/// `sbb`): as the sign of `bits − 32`, the compiler reassociated it in the rolled loops and
/// computed `bits` twice. `*k` ≤ 31 whenever a word is read (at most 32 lanes refill); the
/// mask only spares a bounds check.
#[inline(always)]
fn consume_and_refill(lane: Lane, e: Entry, win: &[u32; LANES], k: &mut usize) -> Lane {
    // A resolved entry's low byte is its `total`, and shifts use the count's low 6 bits.
    let bits = lane.bits.wrapping_sub(u64::from(e.0 as u8));
    let refill = 0u64.wrapping_sub(u64::from(bits < 32));
    let w = u64::from(win[*k % LANES]) & refill;
    *k = k.wrapping_sub(refill as usize);
    Lane { buf: lane.buf.wrapping_shr(e.0 as u32) | w.wrapping_shl(bits as u32), bits: bits | 32 }
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
    let (_, d) = lanes.decode_block(l, codes, 1)?;
    let d = d as usize;
    if d > start {
        return Err(DecodeErrorKind::DistanceTooFar { distance: d as u32, position: start as u32 });
    }
    copy_match(out, start, d, len);
    Ok(())
}

/// `out[p + k] = out[p − d + (k mod d)]` for k in 0..n (spec 3.5), for 1 ≤ d ≤ p,
/// 3 ≤ n and p + n ≤ out.len() (checked by the callers; violating it panics, it cannot
/// corrupt). Writes exactly `out[p..p + n]`: bytes after the match may already hold later
/// tokens.
#[inline(always)]
fn copy_match(out: &mut [u8], p: usize, d: usize, n: usize) {
    if d >= n && n <= 16 {
        // One 16-byte read-modify-write: the first n bytes from the source, the rest
        // written back unchanged. The source lies wholly before the destination (d ≥ n), so
        // the bytes taken from it are final. One bounds check (the region from the source
        // to the end of the 16-byte window), no branch on n.
        if let Some(region) = out.get_mut(p - d..p + 16) {
            let src = u64x2(&region[..16]);
            let (_, dst) = region.split_at_mut(d);
            let keep = u64x2(dst);
            let [m0, m1] = COPY_MASKS[n];
            let lo = keep[0] ^ ((src[0] ^ keep[0]) & m0);
            let hi = keep[1] ^ ((src[1] ^ keep[1]) & m1);
            dst[..8].copy_from_slice(&lo.to_le_bytes());
            dst[8..16].copy_from_slice(&hi.to_le_bytes());
            return;
        }
    }
    copy_match_general(out, p, d, n);
}

/// `COPY_MASKS[n]`: the low `n` bytes of a 16-byte little-endian value set, as two `u64`s.
const COPY_MASKS: [[u64; 2]; 17] = {
    let mut m = [[0u64; 2]; 17];
    let mut n = 1;
    while n <= 16 {
        m[n][0] = if n >= 8 { u64::MAX } else { (1u64 << (8 * n)) - 1 };
        m[n][1] = if n <= 8 {
            0
        } else if n == 16 {
            u64::MAX
        } else {
            (1u64 << (8 * (n - 8))) - 1
        };
        n += 1;
    }
    m
};

/// The first 16 bytes of `b` (which holds at least 16) as two little-endian `u64`s.
#[inline(always)]
fn u64x2(b: &[u8]) -> [u64; 2] {
    let lo: [u8; 8] = b[..8].try_into().unwrap_or([0; 8]);
    let hi: [u8; 8] = b[8..16].try_into().unwrap_or([0; 8]);
    [u64::from_le_bytes(lo), u64::from_le_bytes(hi)]
}

/// [`copy_match`] for overlapping matches, matches longer than 16 bytes, and matches
/// within 16 bytes of the page end.
#[inline(never)]
fn copy_match_general(out: &mut [u8], p: usize, d: usize, n: usize) {
    let s = p - d;
    if d >= n && n <= 16 {
        // Two overlapping fixed-size windows cover any length in (w, 2w]; the source lies
        // wholly before the destination (d ≥ n), so neither window reads what the other wrote.
        match n {
            0..=4 => {
                let (a, b) = (window::<2>(out, s), window::<2>(out, s + n - 2));
                out[p..p + 2].copy_from_slice(&a);
                out[p + n - 2..p + n].copy_from_slice(&b);
            }
            5..=8 => {
                let (a, b) = (window::<4>(out, s), window::<4>(out, s + n - 4));
                out[p..p + 4].copy_from_slice(&a);
                out[p + n - 4..p + n].copy_from_slice(&b);
            }
            _ => {
                let (a, b) = (window::<8>(out, s), window::<8>(out, s + n - 8));
                out[p..p + 8].copy_from_slice(&a);
                out[p + n - 8..p + n].copy_from_slice(&b);
            }
        }
    } else if d >= n {
        out.copy_within(s..s + n, p);
    } else if d == 1 {
        let byte = out[s];
        out[p..p + n].fill(byte);
    } else if d >= 8 {
        // Overlapping but at least a word apart: 8-byte chunks in order read only bytes
        // already final; the last chunk is aligned to the end.
        let mut k = 0;
        while k + 8 < n {
            let w = window::<8>(out, s + k);
            out[p + k..p + k + 8].copy_from_slice(&w);
            k += 8;
        }
        let w = window::<8>(out, s + n - 8);
        out[p + n - 8..p + n].copy_from_slice(&w);
    } else {
        // Short period: lay down one period, then double the periodic prefix.
        out.copy_within(s..p, p);
        let mut done = d;
        while done < n {
            let chunk = done.min(n - done);
            out.copy_within(p..p + chunk, p + done);
            done += chunk;
        }
    }
}

/// The `W` bytes at `out[at..]`, as a fixed-size copy the compiler turns into one load.
#[inline(always)]
fn window<const W: usize>(out: &[u8], at: usize) -> [u8; W] {
    let mut w = [0u8; W];
    w.copy_from_slice(&out[at..at + W]);
    w
}

/// Decodes one raw page into `out`, which must be exactly its decoded size (1..=65536).
/// Convenience for one-off use; reuse a [`PageDecoder`] for many pages.
///
/// ```
/// use dsr_gdeflate::{Level, decode_page, encode_page};
/// let tile = b"one page is at most one 64 KiB tile ".repeat(100);
/// let page = encode_page(&tile, Level::DEFAULT)?; // whole 32-bit words, 32 lanes
/// assert_eq!(page.len() % 4, 0);
/// let mut out = vec![0u8; tile.len()];
/// decode_page(&page, &mut out)?;
/// assert_eq!(out, tile);
/// // A page that decodes to more bytes than `out` holds is an error, not an overrun.
/// assert!(decode_page(&page, &mut out[..100]).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn decode_page(page: &[u8], out: &mut [u8]) -> std::result::Result<(), DecodeError> {
    PageDecoder::new().decode(page, out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec_examples::{DEFERRED_DISTANCE, LONGEST_MATCH, SINGLE_LITERAL, STORED_HELLO};

    fn words_to_page(words: &[u32], total_words: usize) -> Vec<u8> {
        let mut p = vec![0u8; total_words * 4];
        for (chunk, w) in p.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&w.to_le_bytes());
        }
        p
    }

    #[test]
    fn spec_section_4_pages_decode_to_their_bytes() {
        // 4.1 fixed block, 4.2 stored block without alignment or NLEN, 4.3 a distance read in
        // the tail, 4.4 the longest match (symbol 285 with 16 extra bits).
        for ex in [&SINGLE_LITERAL, &STORED_HELLO, &DEFERRED_DISTANCE, &LONGEST_MATCH] {
            let mut out = vec![0xAAu8; ex.data.len()];
            decode_page(&ex.page(), &mut out).unwrap();
            assert!(out == ex.data, "{} bytes", ex.data.len());
        }
    }

    #[test]
    fn pages_with_missing_words_are_an_input_overrun_not_a_panic() {
        // Spec 4.1's page needs 34 words; give it 33.
        let page = SINGLE_LITERAL.page();
        let page = &page[..page.len() - 4];
        let e = decode_page(page, &mut [0u8; 1]).unwrap_err();
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
        let e = decode_page(&SINGLE_LITERAL.page(), &mut [0u8; 2]).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::OutputUnderrun { produced: 1, expected: 2 });
        let e = decode_page(&DEFERRED_DISTANCE.page(), &mut [0u8; 10]).unwrap_err();
        assert_eq!(e.kind, DecodeErrorKind::OutputOverrun { capacity: 10 });
    }

    #[test]
    fn stored_blocks_of_every_boundary_length_decode_and_truncations_are_overruns() {
        // The stored path has three regimes (first round byte by byte, 128-byte groups by
        // transpose, the rest byte by byte); cover every boundary between them, and pages cut
        // short inside each, where the group loop must hand over before reading past the end.
        let mut enc = crate::encode::PageEncoder::new(crate::encode::Level::STORED);
        let mut state = 0x2545_f491_u32;
        for len in [1, 2, 31, 32, 33, 127, 128, 159, 160, 161, 288, 289, 1000, 4096, 4097, 65535, 65536] {
            let data: Vec<u8> = (0..len)
                .map(|_| {
                    state ^= state << 13;
                    state ^= state >> 17;
                    state ^= state << 5;
                    state as u8
                })
                .collect();
            let mut page = Vec::new();
            enc.encode(&data, &mut page).unwrap();
            let mut out = vec![0u8; len];
            decode_page(&page, &mut out).unwrap();
            assert!(out == data, "len {len}");
            for cut in [4, 132, (page.len() / 2) & !3] {
                if cut >= page.len() || page.len() - cut < MIN_PAGE_BYTES {
                    continue;
                }
                let e = decode_page(&page[..page.len() - cut], &mut out).unwrap_err();
                assert_eq!(e.kind, DecodeErrorKind::InputOverrun, "len {len}, cut {cut}");
            }
        }
    }

    #[test]
    fn not_literal_lanes_gathers_bit_15_of_every_lane() {
        let mut state = 0x9E37_79B9_u32;
        for _ in 0..2000 {
            let mut kinds = [0u16; LANES];
            for k in &mut kinds {
                state ^= state << 13;
                state ^= state >> 17;
                state ^= state << 5;
                *k = state as u16;
            }
            let naive = kinds.iter().enumerate().fold(0u32, |m, (l, &k)| m | u32::from(k >> 15) << l);
            assert_eq!(not_literal_lanes(&kinds), naive);
        }
        assert_eq!(not_literal_lanes(&[0xFFFF; LANES]), u32::MAX);
        assert_eq!(not_literal_lanes(&[0x7FFF; LANES]), 0);
    }

    #[test]
    fn at_most_sparse_max_counts_bits() {
        for mask in [0u32, 1, 3, 0xF, 0x1F, 0x8000_0001, 0x8421_0000, 0x8421_0001, u32::MAX] {
            assert_eq!(at_most_sparse_max(mask), mask.count_ones() <= SPARSE_ROUND_MAX, "{mask:#x}");
        }
    }

    #[test]
    fn short_copies_write_exactly_their_bytes() {
        // Matches of up to 16 bytes with room after them take the 16-byte read-modify-write;
        // the bytes after the match (later tokens) must come through unchanged.
        for d in 1..40usize {
            for n in 3..=20usize {
                let mut out: Vec<u8> = (0..d as u8).chain(std::iter::repeat_n(0xEE, n)).collect();
                out.extend((0..32u8).map(|b| b ^ 0x5A));
                let tail = out[d + n..].to_vec();
                copy_match(&mut out, d, d, n);
                for k in 0..n {
                    assert_eq!(out[d + k], out[k % d], "d={d} n={n} k={k}");
                }
                assert_eq!(out[d + n..], tail[..], "d={d} n={n}");
            }
        }
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
