//! The lane writer: spec 3.8's serializer, which turns per-lane bit strings into page words
//! in exactly the order the decoder (spec 3.2–3.3) will load them.
//!
//! The encoder emulates the decoder's bit count per lane (`have`) and performs the same
//! `refill` calls at the same points as the decoder; each refill that would load a word
//! allocates the next page word to that lane. Bits are written straight into the words as
//! they complete, so no per-lane bit strings are kept.
//!
//! Invariants (they follow from the schedule: a step puts ≤ 31 bits and every step except a
//! stored block's LEN is followed by a refill):
//! * `have[l]` never underflows and stays ≤ 63;
//! * therefore a lane has at most two allocated words it has not filled yet, and whenever
//!   32 bits complete there is an allocated word to put them in (`unfilled[l] ≥ 1`);
//! * `nbuf[l] < 32` between calls, so `buf[l]` never overflows its 64 bits.
//!
//! Padding bits (the unwritten ends of words) are zero because every word starts as zero and
//! is written once.

use crate::tables::LANES;

/// Serializer state for one page.
pub(crate) struct LaneWriter {
    /// The page's words allocated so far (`W` of spec 3.8 is `words.len()`).
    words: Vec<u32>,
    /// Bits put on the lane and not yet stored in a word, LSB first.
    buf: [u64; LANES],
    /// Number of valid bits in `buf` (< 32 between calls).
    nbuf: [u32; LANES],
    /// The emulated decoder's bit count for the lane (spec 3.2's `n[L]`).
    have: [u32; LANES],
    /// Allocated but not yet filled word indices of the lane: `slots[l][0]` is next.
    slots: [[u32; 2]; LANES],
    /// How many entries of `slots[l]` are valid (0..=2).
    unfilled: [u8; LANES],
}

impl LaneWriter {
    pub(crate) fn new() -> Self {
        let mut w = Self {
            words: Vec::with_capacity(crate::tables::MAX_PAGE_DECODED / 4 + 4 * LANES),
            buf: [0; LANES],
            nbuf: [0; LANES],
            have: [0; LANES],
            slots: [[0; 2]; LANES],
            unfilled: [0; LANES],
        };
        w.reset();
        w
    }

    /// Starts a new page: word `l` is lane `l`'s first word (spec 3.1).
    pub(crate) fn reset(&mut self) {
        self.words.clear();
        self.words.resize(LANES, 0);
        self.buf = [0; LANES];
        self.nbuf = [0; LANES];
        self.have = [32; LANES];
        for (l, s) in self.slots.iter_mut().enumerate() {
            *s = [l as u32, 0];
        }
        self.unfilled = [1; LANES];
    }

    /// Appends the low `n` bits (n ≤ 31) of `bits` to lane `l`, LSB first. Huffman codewords
    /// are passed already bit-reversed, so this also serves `put_code` of spec 3.8.
    #[inline(always)]
    pub(crate) fn put(&mut self, l: usize, bits: u32, n: u32) {
        debug_assert!(n <= 31 && u64::from(bits) >> n == 0);
        debug_assert!(self.have[l] >= n, "lane {l} would underflow");
        self.buf[l] |= u64::from(bits) << self.nbuf[l];
        self.nbuf[l] += n;
        self.have[l] = self.have[l].wrapping_sub(n);
        if self.nbuf[l] >= 32 {
            let slot = self.slots[l][0] as usize;
            self.words[slot] = self.buf[l] as u32;
            self.slots[l][0] = self.slots[l][1];
            self.unfilled[l] -= 1;
            self.buf[l] >>= 32;
            self.nbuf[l] -= 32;
        }
    }

    /// The decoder's `refill(l)`: if the lane holds fewer than 32 bits it loads the next
    /// page word, so that word becomes the lane's.
    #[inline(always)]
    pub(crate) fn refill(&mut self, l: usize) {
        if self.have[l] < 32 {
            let w = self.words.len() as u32;
            self.words.push(0);
            self.slots[l][usize::from(self.unfilled[l])] = w;
            self.unfilled[l] += 1;
            self.have[l] += 32;
        }
    }

    /// Number of page words allocated so far.
    pub(crate) fn words(&self) -> usize {
        self.words.len()
    }

    /// Stores the lanes' partial last words and appends the page (4·W bytes, little-endian
    /// words) to `out`.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        for l in 0..LANES {
            if self.nbuf[l] > 0 {
                // `have ≥ 0` means the lane's written bits fit its allocated words.
                let slot = self.slots[l][0] as usize;
                self.words[slot] = self.buf[l] as u32;
                self.buf[l] = 0;
                self.nbuf[l] = 0;
            }
        }
        out.reserve(4 * self.words.len());
        for w in &self.words {
            out.extend_from_slice(&w.to_le_bytes());
        }
    }
}
