//! Parsing: turning a page into literal/match tokens (greedy or lazy matching over the hash
//! chains of [`super::matchfind`]) and cutting the token stream into blocks.
//!
//! Block splitting follows the reference's heuristic (libdeflate's "block split
//! statistics"): symbols are sorted into ten coarse observation classes; every 512
//! observations the new class distribution is compared with the block's so far, and the
//! block ends when they differ enough. A block is only ended when at least
//! [`MIN_BLOCK_LEN`] input bytes are on both sides of the split, so a page has at most
//! six blocks and a block's header cost stays small relative to its data.
//!
//! Invariant: the tokens of the blocks of a page, in order, reproduce the page exactly;
//! every match has length 3..=65535, distance 1..=position, and ends inside the page.

use super::block::{BlockCoder, BlockType, Freqs, Token, match_token, stored_blocks};
use super::lanes::LaneWriter;
use super::matchfind::MatchFinder;
use super::optimal::Optimal;

/// Fewest input bytes on either side of a block split (the reference's value).
const MIN_BLOCK_LEN: usize = 10_000;

/// Observations between two split checks.
const OBSERVATIONS_PER_CHECK: u32 = 512;

const NUM_LITERAL_CLASSES: usize = 8;
const NUM_CLASSES: usize = NUM_LITERAL_CLASSES + 2;

/// How a level chooses tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Strategy {
    /// Take the one hash-table candidate's match, if any (see [`fast`]).
    Fast,
    /// Take the longest match at each position.
    Greedy,
    /// Look one position ahead before taking a match.
    Lazy,
    /// Minimum-cost parse per block (see [`super::optimal`]).
    Optimal,
}

/// How one level searches for matches.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Params {
    pub(crate) strategy: Strategy,
    /// Cost-estimation passes of the optimal parser.
    pub(crate) passes: u32,
    /// Most hash-chain entries examined per search.
    pub(crate) depth: u32,
    /// A match at least this long ends the search (and the lazy look-ahead).
    pub(crate) nice_len: usize,
    /// Whether length-3 matches are searched for.
    pub(crate) len3: bool,
}

/// Block-split statistics (see module docs).
struct SplitStats {
    new_obs: [u32; NUM_CLASSES],
    obs: [u32; NUM_CLASSES],
    num_new: u32,
    num: u32,
}

impl SplitStats {
    fn new() -> Self {
        Self { new_obs: [0; NUM_CLASSES], obs: [0; NUM_CLASSES], num_new: 0, num: 0 }
    }

    #[inline(always)]
    fn literal(&mut self, b: u8) {
        // Classes by the top two bits and the lowest bit of the byte.
        self.new_obs[usize::from(((b >> 5) & 0x6) | (b & 1))] += 1;
        self.num_new += 1;
    }

    #[inline(always)]
    fn matched(&mut self, len: usize) {
        self.new_obs[NUM_LITERAL_CLASSES + usize::from(len >= 9)] += 1;
        self.num_new += 1;
    }

    /// Whether a check is due and a split here would leave ≥ MIN_BLOCK_LEN bytes each side.
    #[inline(always)]
    fn ready(&self, block_len: usize, remaining: usize) -> bool {
        self.num_new >= OBSERVATIONS_PER_CHECK && block_len >= MIN_BLOCK_LEN && remaining >= MIN_BLOCK_LEN
    }

    /// Compares new observations with the block's; true = end the block here. Otherwise the
    /// new observations join the block's.
    fn should_split(&mut self, block_len: usize) -> bool {
        if self.num > 0 {
            let mut delta = 0u64;
            for i in 0..NUM_CLASSES {
                let expected = u64::from(self.obs[i]) * u64::from(self.num_new);
                let actual = u64::from(self.new_obs[i]) * u64::from(self.num);
                delta += expected.abs_diff(actual);
            }
            let num = u64::from(self.num);
            // Longer blocks split more readily (their header is amortised already).
            if delta + (block_len as u64 / 4096) * num >= u64::from(OBSERVATIONS_PER_CHECK) * 200 / 512 * num
            {
                return true;
            }
        }
        for i in 0..NUM_CLASSES {
            self.obs[i] += self.new_obs[i];
            self.new_obs[i] = 0;
        }
        self.num += self.num_new;
        self.num_new = 0;
        false
    }

    fn start_block(&mut self) {
        // Like the reference: each block's statistics start empty.
        *self = Self::new();
    }
}

/// Collects tokens of the current block and writes finished blocks.
pub(crate) struct BlockSink {
    pub(crate) tokens: Vec<Token>,
    freqs: Freqs,
    stats: SplitStats,
    /// Input position where the current block starts.
    block_start: usize,
    /// Bits written so far on this page.
    pub(crate) bits: u64,
    /// Blocks written so far on this page: stored, fixed, dynamic.
    pub(crate) blocks: [u64; 3],
    pub(crate) coder: BlockCoder,
}

impl BlockSink {
    pub(crate) fn new() -> Self {
        Self {
            tokens: Vec::with_capacity(crate::tables::MAX_PAGE_DECODED + 1),
            freqs: Freqs::new(),
            stats: SplitStats::new(),
            block_start: 0,
            bits: 0,
            blocks: [0; 3],
            coder: BlockCoder::new(),
        }
    }

    fn reset(&mut self) {
        self.tokens.clear();
        self.freqs.clear();
        self.stats = SplitStats::new();
        self.block_start = 0;
        self.bits = 0;
        self.blocks = [0; 3];
    }

    /// Adds a literal token without feeding the split statistics.
    #[inline(always)]
    pub(crate) fn push_literal(&mut self, b: u8) {
        self.tokens.push(Token::from(b));
        self.freqs.add_literal(b);
    }

    /// Adds a match token without feeding the split statistics.
    #[inline(always)]
    pub(crate) fn push_match(&mut self, len: usize, dist: usize) {
        self.tokens.push(match_token(len, dist));
        self.freqs.add_match(len, dist);
    }

    /// Feeds a literal to the split statistics only.
    #[inline(always)]
    pub(crate) fn observe_literal(&mut self, b: u8) {
        self.stats.literal(b);
    }

    /// Feeds a match to the split statistics only.
    #[inline(always)]
    pub(crate) fn observe_match(&mut self, len: usize) {
        self.stats.matched(len);
    }

    /// Whether a block that started at `block_start` should end at `pos` (statistics are
    /// reset for the next block when it should).
    #[inline(always)]
    pub(crate) fn split_due(&mut self, data: &[u8], block_start: usize, pos: usize) -> bool {
        let due = self.stats.ready(pos - block_start, data.len() - pos)
            && self.stats.should_split(pos - block_start);
        if due {
            self.stats.start_block();
        }
        due
    }

    #[inline(always)]
    fn literal(&mut self, b: u8) {
        self.tokens.push(Token::from(b));
        self.freqs.add_literal(b);
        self.stats.literal(b);
    }

    #[inline(always)]
    fn matched(&mut self, len: usize, dist: usize) {
        self.tokens.push(match_token(len, dist));
        self.freqs.add_match(len, dist);
        self.stats.matched(len);
    }

    /// Called at a token boundary `pos`: ends the block there if the statistics say so.
    #[inline(always)]
    fn maybe_split(&mut self, w: &mut LaneWriter, data: &[u8], pos: usize) {
        if self.stats.ready(pos - self.block_start, data.len() - pos)
            && self.stats.should_split(pos - self.block_start)
        {
            self.end_block(w, data, pos, false);
            self.stats.start_block();
        }
    }

    pub(crate) fn end_block(&mut self, w: &mut LaneWriter, data: &[u8], pos: usize, last: bool) {
        let bytes = &data[self.block_start..pos];
        let (bits, kind) = self.coder.write_block(w, bytes, &self.tokens, &self.freqs, last);
        self.bits += bits;
        match kind {
            BlockType::Stored => self.blocks[0] += stored_blocks(bytes.len()) as u64,
            BlockType::Fixed => self.blocks[1] += 1,
            BlockType::Dynamic => self.blocks[2] += 1,
        }
        self.tokens.clear();
        self.freqs.clear();
        self.block_start = pos;
    }
}

/// Parses `data` (one page) with `params` and writes its blocks to `w`. Returns the bits
/// written.
pub(crate) fn parse_page(
    mf: &mut MatchFinder,
    sink: &mut BlockSink,
    w: &mut LaneWriter,
    data: &[u8],
    opt: &mut Optimal,
    params: Params,
) -> u64 {
    sink.reset();
    match params.strategy {
        Strategy::Fast => {
            mf.reset();
            fast(mf, sink, w, data);
        }
        Strategy::Greedy => {
            mf.reset();
            greedy(mf, sink, w, data, params);
        }
        Strategy::Lazy => {
            mf.reset();
            lazy(mf, sink, w, data, params);
        }
        Strategy::Optimal => {
            // Writes every block itself, the last one included.
            opt.parse_page(sink, w, data, params);
            return sink.bits;
        }
    }
    sink.end_block(w, data, data.len(), true);
    sink.bits
}

/// Positions inside a match that are entered into the hash table (its first ones): more
/// costs time on long matches and gains little.
const FAST_INSERTS_PER_MATCH: usize = 2;

/// After this many literals in a row, the fast parser starts stepping over bytes.
const FAST_SKIP_AFTER: usize = 128;

/// The fastest parse: one hash-table candidate per position, greedy, length ≥ 4.
///
/// On data without matches it looks for them less and less often: after
/// [`FAST_SKIP_AFTER`] literals in a row, it searches only every `1 + misses / 128`-th
/// position (the bytes stepped over are literals; the next match found resets the step).
/// On the corpus, 128 costs +0.9% size against the reference's level 1 (64: +1.8%) and
/// runs about 1.6× its speed.
/// Incompressible data is then mostly copied into literals, and ends up in stored blocks.
fn fast(mf: &mut MatchFinder, sink: &mut BlockSink, w: &mut LaneWriter, data: &[u8]) {
    let n = data.len();
    let mut pos = 0;
    let mut misses = 0;
    while pos < n {
        let (len, dist) = mf.find_fast(data, pos);
        if len >= 4 {
            sink.matched(len, dist);
            for q in pos + 1..(pos + 1 + FAST_INSERTS_PER_MATCH).min(pos + len) {
                mf.insert_fast(data, q);
            }
            pos += len;
            misses = 0;
        } else {
            let step = if misses < FAST_SKIP_AFTER { 1 } else { 1 + misses / FAST_SKIP_AFTER };
            let end = (pos + step).min(n);
            for &b in &data[pos..end] {
                sink.literal(b);
            }
            misses += end - pos;
            pos = end;
        }
        sink.maybe_split(w, data, pos);
    }
}

fn greedy(mf: &mut MatchFinder, sink: &mut BlockSink, w: &mut LaneWriter, data: &[u8], p: Params) {
    let n = data.len();
    let mut pos = 0;
    while pos < n {
        let (len, dist) = mf.find(data, pos, 2, n - pos, p.nice_len, p.depth);
        if len >= 3 {
            sink.matched(len, dist);
            pos += len;
            mf.skip_to(data, pos);
        } else {
            sink.literal(data[pos]);
            pos += 1;
        }
        sink.maybe_split(w, data, pos);
    }
}

fn lazy(mf: &mut MatchFinder, sink: &mut BlockSink, w: &mut LaneWriter, data: &[u8], p: Params) {
    let n = data.len();
    let mut pos = 0;
    while pos < n {
        let (mut len, mut dist) = mf.find(data, pos, 2, n - pos, p.nice_len, p.depth);
        if len < 3 {
            sink.literal(data[pos]);
            pos += 1;
            sink.maybe_split(w, data, pos);
            continue;
        }
        // Look one position ahead: if a longer match starts there, the current byte is
        // better sent as a literal.
        while len < p.nice_len && pos + 1 < n {
            let (next_len, next_dist) = mf.find(data, pos + 1, len, n - pos - 1, p.nice_len, p.depth);
            if next_len <= len {
                break;
            }
            sink.literal(data[pos]);
            pos += 1;
            len = next_len;
            dist = next_dist;
        }
        sink.matched(len, dist);
        pos += len;
        mf.skip_to(data, pos);
        sink.maybe_split(w, data, pos);
    }
}
