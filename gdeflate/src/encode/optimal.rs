//! Near-optimal parsing (the highest levels): for each block, choose the token sequence of
//! minimum estimated bit cost by dynamic programming over all matches the finder reports,
//! re-estimating symbol costs from the previous pass's result.
//!
//! Steps per block:
//! 1. Walk the block once with the match finder, caching every position's match list
//!    (increasing lengths). A simulated greedy parse over the same walk feeds the block
//!    split statistics, so blocks end where the reference's heuristic would end them.
//! 2. Initial costs come from the greedy parse's symbol counts (Huffman code lengths). If
//!    the greedy parse priced that way already costs more bits than storing the block, the
//!    block is handed over as literals without any DP pass (the block coder stores it).
//! 3. Each pass: backward DP `cost[i] = min(literal + cost[i+1], match(L, D) + cost[i+L])`
//!    over all cached lengths, then a forward walk gives the tokens and their counts, from
//!    which the next pass's costs are built. The last pass's tokens are written.
//!
//! Matches come from the binary-tree finder ([`BtFinder`]). After a match of at least
//! `nice_len` the finder skips the positions it covers (they get
//! empty lists), and for such a match only its full length is considered: long runs cost
//! O(1) per byte, not O(length).
//!
//! Invariant: every token sequence produced covers the block exactly (each DP choice at i
//! advances to a position ≤ the block end, and position `end` is the base case), and every
//! match is a prefix of a match the finder verified, so it is valid (spec 3.5).

use super::block::{Freqs, MAX_LITLEN_CODEWORD_LEN, len_sym, stored_bits};
use super::huffman::{HuffScratch, limited_lengths};
use super::lanes::LaneWriter;
use super::matchfind::{BtFinder, Match};
use super::parse::{BlockSink, Params};
use crate::tables::{DIST_EXTRA, FIRST_LEN_SYM, LEN_EXTRA, MAX_CODEWORD_LEN, NUM_DIST_SYMS, NUM_LITLEN_SYMS};

/// Assumed cost of a literal/length symbol the previous pass did not use (bits).
const LITLEN_NOSTAT_BITS: u32 = 13;
/// Assumed cost of a distance symbol the previous pass did not use (bits).
const DIST_NOSTAT_BITS: u32 = 10;

/// Per-page buffers of the near-optimal parser, reused across pages.
pub(crate) struct Optimal {
    /// The match finder (binary trees; see [`BtFinder`]).
    bt: BtFinder,
    /// Match lists of the block's positions, back to back.
    matches: Vec<Match>,
    /// `starts[i]..starts[i + 1]` indexes position `block_start + i`'s list in `matches`.
    starts: Vec<u32>,
    /// Minimum cost from each position of the block to its end.
    cost: Vec<u32>,
    /// Chosen step at each position: length (1 = literal) and distance.
    choice: Vec<Match>,
    freqs: Freqs,
    litlen_len: [u8; NUM_LITLEN_SYMS],
    dist_len: [u8; NUM_DIST_SYMS],
    litlen_cost: [u32; NUM_LITLEN_SYMS],
    dist_cost: [u32; NUM_DIST_SYMS],
    /// Cost of a match length 3..=258 (index = length), symbol plus extra bits.
    len_cost: [u32; 259],
    scratch: HuffScratch,
}

impl Optimal {
    pub(crate) fn new() -> Self {
        Self {
            bt: BtFinder::new(),
            matches: Vec::new(),
            starts: Vec::new(),
            cost: Vec::new(),
            choice: Vec::new(),
            freqs: Freqs::new(),
            litlen_len: [0; NUM_LITLEN_SYMS],
            dist_len: [0; NUM_DIST_SYMS],
            litlen_cost: [0; NUM_LITLEN_SYMS],
            dist_cost: [0; NUM_DIST_SYMS],
            len_cost: [0; 259],
            scratch: HuffScratch::default(),
        }
    }

    /// Parses `data` (one page) block by block and writes the blocks through `sink`.
    pub(crate) fn parse_page(&mut self, sink: &mut BlockSink, w: &mut LaneWriter, data: &[u8], p: Params) {
        self.bt.reset();
        let n = data.len();
        let mut start = 0;
        while start < n {
            let end = self.gather(sink, data, start, p);
            // Costs from the simulated greedy parse, then `passes` rounds of DP.
            let greedy_bits = self.set_costs_from_freqs_of_greedy(data, start, end);
            if greedy_bits > stored_bits(end - start) {
                // Incompressible so far (e.g. already-compressed data): the DP would only
                // refine a parse that storing beats, so skip it and let the block coder
                // price the plain literals (it picks stored blocks for such data).
                self.all_literals(end - start);
                self.emit(sink, data, start, end);
                sink.end_block(w, data, end, end == n);
                start = end;
                continue;
            }
            for pass in 0..p.passes {
                self.dp(data, start, end, p.nice_len);
                self.count_choices(data, start, end);
                if pass + 1 < p.passes {
                    self.set_costs();
                }
            }
            self.emit(sink, data, start, end);
            sink.end_block(w, data, end, end == n);
            start = end;
        }
        if n == 0 {
            sink.end_block(w, data, 0, true);
        }
    }

    /// Step 1: caches match lists from `start` until the split heuristic ends the block (or
    /// the page ends). Returns the block's end.
    fn gather(&mut self, sink: &mut BlockSink, data: &[u8], start: usize, p: Params) -> usize {
        let n = data.len();
        self.matches.clear();
        self.starts.clear();
        let mut pos = start;
        let mut next_observation = start;
        while pos < n {
            self.starts.push(self.matches.len() as u32);
            let before = self.matches.len();
            let best = self.bt.find_all(data, pos, p.nice_len, p.depth, &mut self.matches);
            if pos >= next_observation {
                // Greedy simulation for the split statistics (and initial costs).
                if best >= 3 {
                    sink.observe_match(best);
                    next_observation = pos + best;
                } else {
                    sink.observe_literal(data[pos]);
                    next_observation = pos + 1;
                }
            }
            pos += 1;
            if best >= p.nice_len {
                // Long match: only its full length is useful; the covered positions get
                // empty lists (and are inserted into the finder without searching).
                let last = self.matches[self.matches.len() - 1];
                self.matches.truncate(before);
                self.matches.push(last);
                let skip_end = (pos - 1 + best).min(n);
                while pos < skip_end {
                    self.starts.push(self.matches.len() as u32);
                    self.bt.skip(data, pos, p.nice_len, p.depth);
                    pos += 1;
                }
            }
            if pos >= next_observation && sink.split_due(data, start, pos) {
                break;
            }
        }
        self.starts.push(self.matches.len() as u32);
        pos
    }

    /// Chooses a literal at every position of an `n`-byte block.
    fn all_literals(&mut self, n: usize) {
        let literal = Match { len: 1, dist: 0, dsym: 0 };
        if self.choice.len() < n {
            self.choice.resize(n, literal);
        }
        self.choice[..n].fill(literal);
    }

    /// Initial costs: symbol counts of a greedy parse over the cache (longest match at each
    /// position where a token starts). Returns the greedy parse's estimated bits under
    /// those costs (codewords and extra bits, no block header).
    fn set_costs_from_freqs_of_greedy(&mut self, data: &[u8], start: usize, end: usize) -> u64 {
        self.freqs.clear();
        let mut i = start;
        while i < end {
            let k = i - start;
            let (a, b) = (self.starts[k] as usize, self.starts[k + 1] as usize);
            if a < b {
                let m = self.matches[b - 1];
                let len = usize::from(m.len).min(end - i);
                if len >= 3 {
                    self.freqs.add_match(len, usize::from(m.dist));
                    i += len;
                    continue;
                }
            }
            self.freqs.add_literal(data[i]);
            i += 1;
        }
        self.set_costs();
        let lit: u64 = self.freqs.litlen.iter().zip(&self.litlen_cost).map(|(&f, &c)| u64::from(f * c)).sum();
        let len_extra: u64 = LEN_EXTRA
            .iter()
            .zip(&self.freqs.litlen[FIRST_LEN_SYM as usize..])
            .map(|(&e, &f)| u64::from(e) * u64::from(f))
            .sum();
        let dist: u64 = self.freqs.dist.iter().zip(&self.dist_cost).map(|(&f, &c)| u64::from(f * c)).sum();
        lit + len_extra + dist
    }

    /// Costs (bits) from `self.freqs`: code lengths of a Huffman code for them, with fixed
    /// guesses for unused symbols.
    fn set_costs(&mut self) {
        self.freqs.litlen[256] = 1;
        limited_lengths(&self.freqs.litlen, MAX_LITLEN_CODEWORD_LEN, &mut self.litlen_len, &mut self.scratch);
        limited_lengths(&self.freqs.dist, MAX_CODEWORD_LEN, &mut self.dist_len, &mut self.scratch);
        for (c, &l) in self.litlen_cost.iter_mut().zip(&self.litlen_len) {
            *c = if l == 0 { LITLEN_NOSTAT_BITS } else { u32::from(l) };
        }
        for (s, (c, &l)) in self.dist_cost.iter_mut().zip(&self.dist_len).enumerate() {
            *c = if l == 0 { DIST_NOSTAT_BITS } else { u32::from(l) } + u32::from(DIST_EXTRA[s]);
        }
        for len in 3..=258 {
            let s = len_sym(len);
            self.len_cost[len] = self.litlen_cost[s] + u32::from(LEN_EXTRA[s - FIRST_LEN_SYM as usize]);
        }
    }

    /// Step 3's backward DP over positions `start..end`.
    fn dp(&mut self, data: &[u8], start: usize, end: usize, nice_len: usize) {
        let n = end - start;
        // Every entry below n is written before it is read (the DP runs backwards from the
        // base case), so the buffers only grow, and are never cleared.
        if self.cost.len() < n + 1 {
            self.cost.resize(n + 1, 0);
        }
        if self.choice.len() < n + 1 {
            self.choice.resize(n + 1, Match { len: 1, dist: 0, dsym: 0 });
        }
        self.cost[n] = 0;
        let long_len_cost = self.len_cost[258];
        let bytes = &data[start..end];
        for k in (0..n).rev() {
            let mut best = self.litlen_cost[usize::from(bytes[k])] + self.cost[k + 1];
            let mut choice = Match { len: 1, dist: 0, dsym: 0 };
            let ms = &self.matches[self.starts[k] as usize..self.starts[k + 1] as usize];
            let room = n - k;
            if ms.last().is_some_and(|m| usize::from(m.len) >= nice_len) {
                // After a long match only each match's full length is considered (see the
                // module docs), which may exceed 258.
                for m in ms {
                    let len = usize::from(m.len).min(room).max(3);
                    if len > room {
                        continue;
                    }
                    let lc = if len <= 258 { self.len_cost[len] } else { long_len_cost };
                    let c = lc + self.dist_cost[usize::from(m.dsym)] + self.cost[k + len];
                    if c < best {
                        best = c;
                        choice = Match { len: len as u16, ..*m };
                    }
                }
            } else {
                // Every length from just above the previous match's up to this match's (all
                // below nice_len ≤ 258), each with the shortest distance that reaches it.
                // The inner loop works on two equal-length slices, so it has no bounds
                // checks; ties keep the shortest length, as a plain ascending scan would.
                let mut next_len = 3;
                for m in ms {
                    let top = usize::from(m.len).min(room);
                    if top < next_len {
                        continue;
                    }
                    let lcs = &self.len_cost[next_len..=top];
                    let cs = &self.cost[k + next_len..=k + top];
                    // Minimum of (cost << 8 | offset): the smallest cost, and on ties the
                    // shortest length, in one branch-free (vectorizable) reduction. Costs are
                    // < 2^20 (≤ 14 bits per byte of a ≤ 65536-byte block, plus one match) and
                    // offsets < 256 (lengths 3..=258), so nothing overflows.
                    let packed = lcs
                        .iter()
                        .zip(cs)
                        .enumerate()
                        .map(|(i, (&lc, &c))| (lc + c) << 8 | i as u32)
                        .min()
                        .unwrap_or(u32::MAX);
                    let (mbest, mi) = (packed >> 8, (packed & 0xFF) as usize);
                    let c = mbest + self.dist_cost[usize::from(m.dsym)];
                    if c < best {
                        best = c;
                        choice = Match { len: (next_len + mi) as u16, ..*m };
                    }
                    next_len = top + 1;
                }
            }
            self.cost[k] = best;
            self.choice[k] = choice;
        }
    }

    /// Counts the symbols of the DP's chosen path into `self.freqs`.
    fn count_choices(&mut self, data: &[u8], start: usize, end: usize) {
        self.freqs.clear();
        let mut k = 0;
        while k < end - start {
            let c = self.choice[k];
            if c.len == 1 {
                self.freqs.add_literal(data[start + k]);
                k += 1;
            } else {
                self.freqs.add_match(usize::from(c.len), usize::from(c.dist));
                k += usize::from(c.len);
            }
        }
    }

    /// Hands the chosen path's tokens to the sink.
    fn emit(&self, sink: &mut BlockSink, data: &[u8], start: usize, end: usize) {
        let mut k = 0;
        while k < end - start {
            let c = self.choice[k];
            if c.len == 1 {
                sink.push_literal(data[start + k]);
                k += 1;
            } else {
                sink.push_match(usize::from(c.len), usize::from(c.dist));
                k += usize::from(c.len);
            }
        }
    }
}
