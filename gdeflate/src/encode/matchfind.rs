//! The match finders over one page: hash chains (with a single-candidate hash-table mode
//! for level 1) in [`MatchFinder`], and binary trees in [`BtFinder`] for the near-optimal
//! levels.
//!
//! [`MatchFinder`] has two structures, both reused across pages (cleared, never
//! reallocated):
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

/// A match candidate: `len` bytes at distance `dist` (both ≤ 65535 within a page), with the
/// distance's symbol, which the optimal parser would otherwise recompute on every pass.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Match {
    pub(crate) len: u16,
    pub(crate) dist: u16,
    pub(crate) dsym: u8,
}

impl Match {
    #[inline(always)]
    pub(crate) fn new(len: usize, dist: usize) -> Self {
        Self { len: len as u16, dist: dist as u16, dsym: super::block::dist_sym(dist) as u8 }
    }
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

    /// The fastest level's search: the 4-byte table as a plain hash table (one candidate,
    /// no chains; `prev` is not touched). Records `p` as its bucket's latest position and
    /// returns the match with the previous one, `(length ≥ 4, distance)`, or `(0, 0)`.
    /// Positions may be visited in any increasing order (skipped ones are simply absent).
    #[inline(always)]
    pub(crate) fn find_fast(&mut self, data: &[u8], p: usize) -> (usize, usize) {
        if p + 4 > data.len() {
            return (0, 0);
        }
        let v = load_u32(data, p);
        let h = hash4(v);
        let c = self.head4[h];
        self.head4[h] = (p + 1) as u16;
        if c == 0 {
            return (0, 0);
        }
        let cand = usize::from(c) - 1;
        if load_u32(data, cand) != v {
            return (0, 0);
        }
        (4 + match_len(data, cand + 4, p + 4, data.len() - p - 4), p - cand)
    }

    /// Records `p` in the fast table without searching (see [`MatchFinder::find_fast`]).
    #[inline(always)]
    pub(crate) fn insert_fast(&mut self, data: &[u8], p: usize) {
        if p + 4 <= data.len() {
            self.head4[hash4(load_u32(data, p))] = (p + 1) as u16;
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
}

/// log2 of the number of 4-byte hash buckets (tree roots) of [`BtFinder`].
const BT_HASH4_BITS: u32 = 16;

#[inline(always)]
fn bt_hash4(v: u32) -> usize {
    (v.wrapping_mul(0x1E35_A7BD) >> (32 - BT_HASH4_BITS)) as usize
}

/// Binary-tree match finder over one page (libdeflate's `bt_matchfinder`), used by the
/// near-optimal parser.
///
/// Each 4-byte hash bucket holds a binary search tree of the earlier positions with that
/// hash, ordered by the bytes that follow them (lexicographically), with the most recent
/// position at the root. Searching for position `p` walks down from the root and, in the
/// same walk, re-roots the tree at `p` (the nodes passed are split into `p`'s lesser and
/// greater subtrees). The walk's path only holds positions whose suffixes are the closest
/// to `p`'s, so it finds the longest matches after far fewer candidates than a hash chain,
/// and lengths found along it only grow, with distances growing too (children are older
/// than their parents). Positions covered by a long match must still be inserted
/// ([`BtFinder::skip`]): a tree that misses them would mis-order later searches.
///
/// Tables: `head4`/`head3` as in [`MatchFinder`] (position + 1, 0 = empty; `head3` gives
/// the latest length-3 candidate); `child[2p]`/`child[2p + 1]` are the lesser/greater
/// children of node `p` (position + 1, 0 = none). Every inserted position gets both child
/// links written before anyone can reach it, so `child` is never cleared; only the heads are
/// reset per page. Positions need 4 bytes to hash, so only positions ≤ 65532 are inserted.
pub(crate) struct BtFinder {
    head4: Vec<u16>,
    head3: Vec<u16>,
    child: Vec<u16>,
}

impl BtFinder {
    /// An empty finder; its tables are allocated by the first [`BtFinder::reset`], so
    /// encoders of the levels that never use it pay nothing.
    pub(crate) fn new() -> Self {
        Self { head4: Vec::new(), head3: Vec::new(), child: Vec::new() }
    }

    /// Forgets the previous page.
    pub(crate) fn reset(&mut self) {
        if self.head4.is_empty() {
            self.head4 = vec![0; 1 << BT_HASH4_BITS];
            self.head3 = vec![0; 1 << HASH3_BITS];
            self.child = vec![0; 2 * crate::tables::MAX_PAGE_DECODED];
        } else {
            self.head4.fill(0);
            self.head3.fill(0);
        }
    }

    /// Inserts position `p` (positions must be visited in increasing order, each once) and
    /// appends its matches to `out` in strictly increasing lengths, each with the smallest
    /// distance seen for it (and so non-decreasing distances). Visits at most
    /// `depth` tree nodes and stops at `nice_len`. Returns the longest length (0 if none).
    pub(crate) fn find_all(
        &mut self,
        data: &[u8],
        p: usize,
        nice_len: usize,
        depth: u32,
        out: &mut Vec<Match>,
    ) -> usize {
        let best = self.search::<true>(data, p, nice_len, depth, out);
        if best >= 3 { best } else { 0 }
    }

    /// Inserts position `p` without reporting matches (for positions inside a chosen match).
    pub(crate) fn skip(&mut self, data: &[u8], p: usize, nice_len: usize, depth: u32) {
        let mut none = Vec::new();
        self.search::<false>(data, p, nice_len, depth, &mut none);
    }

    #[inline(always)]
    fn search<const RECORD: bool>(
        &mut self,
        data: &[u8],
        p: usize,
        nice_len: usize,
        depth: u32,
        out: &mut Vec<Match>,
    ) -> usize {
        let n = data.len();
        if p + 4 > n {
            return 0;
        }
        // Skipped positions compare no further than nice_len: beyond it the tree order does
        // not matter (a node that long a match is replaced), and in long runs an uncapped
        // compare would scan to the page end from every position.
        let max_len = if RECORD { n - p } else { (n - p).min(nice_len.max(4)) };
        // nice_len ≥ 4 (level parameters) and max_len ≥ 4, so a recorded length-3 match can
        // never reach it: every byte compare below stays inside the page (see the return at
        // `len >= nice_len`, which any length reaching `max_len` takes).
        let nice_len = nice_len.clamp(4, max_len);
        let v = load_u32(data, p);
        let mut best_len = 2;
        let tag = (p + 1) as u16;

        let h3 = hash3(v);
        let c3 = self.head3[h3];
        self.head3[h3] = tag;
        if RECORD && c3 != 0 {
            let c = usize::from(c3) - 1;
            if data[c] == data[p] && data[c + 1] == data[p + 1] && data[c + 2] == data[p + 2] {
                best_len = 3;
                out.push(Match::new(3, p - c));
            }
        }

        let h4 = bt_hash4(v);
        let mut cur = self.head4[h4];
        self.head4[h4] = tag;
        // Where the next lesser / greater node gets linked (initially p's own slots).
        let mut lt = 2 * p;
        let mut gt = 2 * p + 1;
        // Common prefix lengths known for the lesser / greater side: every node below on
        // that side shares at least that many bytes with p, so compares can start there.
        let (mut best_lt, mut best_gt, mut len) = (0usize, 0usize, 0usize);
        let mut depth = depth;
        while cur != 0 {
            let c = usize::from(cur) - 1;
            if data[c + len] == data[p + len] {
                len += 1 + match_len(data, c + len + 1, p + len + 1, max_len - len - 1);
                if !RECORD || len > best_len {
                    if RECORD {
                        best_len = len;
                        out.push(Match::new(len, p - c));
                    }
                    if len >= nice_len {
                        // p's suffix equals c's for as far as it matters: p takes c's place.
                        self.child[lt] = self.child[2 * c];
                        self.child[gt] = self.child[2 * c + 1];
                        return best_len;
                    }
                }
            }
            if data[c + len] < data[p + len] {
                self.child[lt] = cur;
                lt = 2 * c + 1;
                cur = self.child[lt];
                best_lt = len;
                len = len.min(best_gt);
            } else {
                self.child[gt] = cur;
                gt = 2 * c;
                cur = self.child[gt];
                best_gt = len;
                len = len.min(best_lt);
            }
            depth -= 1;
            if depth == 0 {
                break;
            }
        }
        self.child[lt] = 0;
        self.child[gt] = 0;
        best_len
    }
}
