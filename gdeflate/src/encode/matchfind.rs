//! The match finder: hash chains over one page.
//!
//! Two structures, both reused across pages (cleared, never reallocated):
//! * a hash-chain finder on 4-byte prefixes: `head4[h]` is the latest position (+1, so 0
//!   means empty; only positions ≤ 65532 have 4 bytes to hash, so p + 1 fits a `u16` and
//!   the tables stay small enough for L1/L2) whose next 4 bytes hash to `h`; `prev[p]` is the distance from `p` back
//!   to the previous position with the same hash (0 = end of chain). A page is at most
//!   65536 bytes, so every chain distance fits in a `u16` and the window is the whole page;
//! * a one-entry-per-bucket table on 3-byte prefixes (`head3`), consulted only for
//!   length-3 matches, which the 4-byte chains cannot find.
//!
//! Invariants: positions are inserted in increasing order, each at most once, and every
//! stored position is below the position being searched, so every candidate distance is in
//! `1..=pos` (spec 3.5: a match never reaches before the page start). Match lengths are
//! capped by the caller's `max_len`, which is the number of bytes left in the page (never
//! more than 65535, because a match cannot start at position 0).

/// log2 of the number of 4-byte hash buckets.
const HASH4_BITS: u32 = 15;
/// log2 of the number of 3-byte hash buckets.
const HASH3_BITS: u32 = 14;

/// Length-3 matches farther than this are not worth it: their length and distance codes
/// usually cost more than three literals.
const MAX_LEN3_DISTANCE: usize = 4096;

#[inline(always)]
fn load_u32(data: &[u8], p: usize) -> u32 {
    // One bounds check and an unaligned load (callers guarantee p + 4 ≤ len).
    u32::from_le_bytes(data[p..p + 4].try_into().unwrap_or([0; 4]))
}

#[inline(always)]
fn hash4(v: u32) -> usize {
    (v.wrapping_mul(0x1E35_A7BD) >> (32 - HASH4_BITS)) as usize
}

#[inline(always)]
fn hash3(v: u32) -> usize {
    ((v << 8).wrapping_mul(0x1E35_A7BD) >> (32 - HASH3_BITS)) as usize
}

/// Length of the common prefix of `data[a..]` and `data[b..]`, at most `max` (a < b and
/// `b + max ≤ data.len()`).
#[inline(always)]
pub(crate) fn match_len(data: &[u8], a: usize, b: usize, max: usize) -> usize {
    let mut n = 0;
    while n + 8 <= max {
        let x = u64::from_le_bytes(data[a + n..a + n + 8].try_into().unwrap_or([0; 8]));
        let y = u64::from_le_bytes(data[b + n..b + n + 8].try_into().unwrap_or([0; 8]));
        let d = x ^ y;
        if d != 0 {
            return n + (d.trailing_zeros() / 8) as usize;
        }
        n += 8;
    }
    while n < max && data[a + n] == data[b + n] {
        n += 1;
    }
    n
}

/// A match candidate: `len` bytes at distance `dist` (both ≤ 65535 within a page).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Match {
    pub(crate) len: u16,
    pub(crate) dist: u16,
}

/// Hash-chain match finder over one page.
pub(crate) struct MatchFinder {
    head4: Vec<u16>,
    head3: Vec<u16>,
    prev: Vec<u16>,
    /// Every position below this has been inserted.
    next_insert: usize,
    /// Whether the 3-byte table is kept (the fastest levels skip it: length-3 matches gain
    /// little and the table costs a second random memory access per position).
    len3: bool,
}

impl MatchFinder {
    pub(crate) fn new(len3: bool) -> Self {
        Self {
            head4: vec![0; 1 << HASH4_BITS],
            head3: vec![0; 1 << HASH3_BITS],
            prev: vec![0; crate::tables::MAX_PAGE_DECODED],
            next_insert: 0,
            len3,
        }
    }

    /// Forgets the previous page.
    pub(crate) fn reset(&mut self) {
        self.head4.fill(0);
        self.head3.fill(0);
        self.next_insert = 0;
    }

    /// Inserts position `p` (which must be `next_insert`) into both tables. Returns the
    /// previous heads of its 4-byte and 3-byte buckets (position + 1, 0 = none).
    #[inline(always)]
    fn insert(&mut self, data: &[u8], p: usize) -> (u16, u16) {
        debug_assert_eq!(p, self.next_insert);
        self.next_insert = p + 1;
        if p + 4 > data.len() {
            return (0, 0);
        }
        let v = load_u32(data, p);
        let h4 = hash4(v);
        let c4 = self.head4[h4];
        // p + 4 ≤ len ≤ 65536, so p + 1 ≤ 65533 fits.
        self.head4[h4] = (p + 1) as u16;
        let mut c3 = 0;
        if self.len3 {
            let h3 = hash3(v);
            c3 = self.head3[h3];
            self.head3[h3] = (p + 1) as u16;
        }
        // p − (c4 − 1) is in 1..=65535 within a page; 0 marks the end of the chain.
        self.prev[p] = if c4 == 0 { 0 } else { (p + 1 - usize::from(c4)) as u16 };
        (c4, c3)
    }

    /// Inserts every position from `next_insert` up to (not including) `end`.
    #[inline]
    pub(crate) fn skip_to(&mut self, data: &[u8], end: usize) {
        let end = end.min(data.len());
        while self.next_insert < end {
            self.insert(data, self.next_insert);
        }
    }

    /// Inserts position `p` (all earlier positions must be inserted) and returns the longest
    /// match for it that is longer than `best_len`, as `(length, distance)`, or `(0, 0)`.
    /// Searches at most `depth` chain entries and stops early at `nice_len`; `max_len` caps
    /// the length (bytes left in the page).
    #[inline]
    pub(crate) fn find(
        &mut self,
        data: &[u8],
        p: usize,
        mut best_len: usize,
        max_len: usize,
        nice_len: usize,
        depth: u32,
    ) -> (usize, usize) {
        self.skip_to(data, p);
        let (c4, c3) = self.insert(data, p);
        if max_len < 3 || p + 4 > data.len() {
            return (0, 0);
        }
        let nice_len = nice_len.min(max_len);
        let mut best_dist = 0;
        let start_best = best_len;

        // Length-3 candidate from the 3-byte table (only when nothing better is known).
        if best_len < 3 && c3 != 0 {
            let cand = usize::from(c3) - 1;
            let dist = p - cand;
            if dist <= MAX_LEN3_DISTANCE
                && data[cand] == data[p]
                && data[cand + 1] == data[p + 1]
                && data[cand + 2] == data[p + 2]
            {
                best_len = 3;
                best_dist = dist;
            }
        }

        if c4 == 0 || max_len < 4 {
            return if best_len > start_best { (best_len, best_dist) } else { (0, 0) };
        }
        let mut cand = usize::from(c4) - 1;
        let mut depth = depth;
        let want4 = load_u32(data, p);
        loop {
            // Cheap filter: a candidate can only beat `best_len` if its byte at that offset
            // matches, and every candidate shares the hash but not necessarily 4 bytes.
            if best_len < max_len
                && data[cand + best_len] == data[p + best_len]
                && load_u32(data, cand) == want4
            {
                let len = 4 + match_len(data, cand + 4, p + 4, max_len - 4);
                if len > best_len {
                    best_len = len;
                    best_dist = p - cand;
                    if len >= nice_len {
                        break;
                    }
                }
            }
            depth -= 1;
            let d = self.prev[cand];
            if depth == 0 || d == 0 {
                break;
            }
            cand -= usize::from(d);
        }
        if best_len > start_best { (best_len, best_dist) } else { (0, 0) }
    }

    /// Inserts position `p` (all earlier positions must be inserted) and appends to `out`
    /// the matches found for it in order of strictly increasing length (and so
    /// non-decreasing distance): for any length up to a listed match's length and above
    /// the previous one's, that match has the smallest distance found. Searches at most
    /// `depth` chain entries, stops at `nice_len`, caps lengths at `max_len`. Returns the
    /// longest length found (0 if none).
    pub(crate) fn find_all(
        &mut self,
        data: &[u8],
        p: usize,
        max_len: usize,
        nice_len: usize,
        depth: u32,
        out: &mut Vec<Match>,
    ) -> usize {
        self.skip_to(data, p);
        let (c4, c3) = self.insert(data, p);
        if max_len < 3 || p + 4 > data.len() {
            return 0;
        }
        let nice_len = nice_len.min(max_len);
        let mut best_len = 2;
        if c3 != 0 {
            let cand = usize::from(c3) - 1;
            if data[cand] == data[p] && data[cand + 1] == data[p + 1] && data[cand + 2] == data[p + 2] {
                best_len = 3;
                out.push(Match { len: 3, dist: (p - cand) as u16 });
            }
        }
        if c4 == 0 || max_len < 4 {
            return if best_len >= 3 { best_len } else { 0 };
        }
        let mut cand = usize::from(c4) - 1;
        let mut depth = depth;
        let want4 = load_u32(data, p);
        loop {
            if data[cand + best_len] == data[p + best_len] && load_u32(data, cand) == want4 {
                let len = 4 + match_len(data, cand + 4, p + 4, max_len - 4);
                if len > best_len {
                    best_len = len;
                    out.push(Match { len: len as u16, dist: (p - cand) as u16 });
                    if len >= nice_len {
                        break;
                    }
                }
            }
            depth -= 1;
            let d = self.prev[cand];
            if depth == 0 || d == 0 {
                break;
            }
            cand -= usize::from(d);
        }
        if best_len >= 3 { best_len } else { 0 }
    }
}
