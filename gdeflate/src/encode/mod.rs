//! The GDeflate encoder: pages (spec 3.8) and DirectStorage tile streams (spec 5, 8).
//!
//! Module layout, each owning one concern:
//! * this module: the public API ([`Level`], [`PageEncoder`], [`encode_page`], [`compress`],
//!   [`compress_with_stats`], [`compress_bound`]), level parameters, and the page-level
//!   stored fallback;
//! * `matchfind`: match finders over one page (window = the page): a hash table (level 1),
//!   hash chains (levels 2–7) and binary trees (levels 8–12);
//! * `parse`: greedy/lazy parsing into tokens and block splitting;
//! * `optimal`: near-optimal (minimum estimated cost) parsing for levels 8–12;
//! * `block`: exact bit costs of stored/fixed/dynamic blocks and their serialization;
//! * `huffman`: length-limited canonical codes and code-length run-length coding;
//! * `lanes`: the lane writer that lays bits out in the decoder's refill order.
//!
//! Guarantees: every input of 0..=65536 bytes encodes (no error, no panic) to a page that
//! the spec's decoder reproduces exactly. Each block is written as whichever of
//! stored/fixed/dynamic costs fewest bits, and a page whose blocks together cost more bits
//! than storing the whole page is re-encoded as stored blocks, so a page is never more
//! than [`MAX_PAGE_OVERHEAD`] bytes larger than its input. Output depends only on the
//! input and the level (never on thread count or encoder reuse).
//!
//! ```
//! use dsr_gdeflate::{Level, compress, compress_bound, decompress};
//! let data = b"GDeflate pages, GDeflate lanes, GDeflate tiles".repeat(100);
//! let stream = compress(&data, Level::DEFAULT, 0)?;
//! assert!(stream.len() < data.len() / 10);
//! assert!(stream.len() as u64 <= compress_bound(data.len() as u64));
//! assert_eq!(decompress(&stream, 0).unwrap(), data);
//! # Ok::<(), dsr_gdeflate::EncodeError>(())
//! ```

mod block;
mod huffman;
pub(crate) mod lanes;
mod matchfind;
mod optimal;
mod parse;

#[cfg(test)]
mod tests;

use crate::error::EncodeError;
use crate::parallel::try_map;
use crate::tables::{LANES, MAX_PAGE_DECODED, TILE_SIZE};
use crate::tile_stream::{HEADER_LEN, MAX_TILES, tile_count, write_tile_stream};
use block::{stored_bits, stored_blocks, write_stored};
use lanes::LaneWriter;
use matchfind::MatchFinder;
use optimal::Optimal;
use parse::{BlockSink, Params, Strategy, parse_page};

/// Most bytes a page can be larger than its input.
///
/// A lane is given a word only when it holds < 32 bits, so it ends with ≤ 63 unused bits:
/// a page of B bits has at most `B/32 + 63` words, i.e. `B/8 + 252` bytes. The stored
/// fallback keeps B ≤ storing the page, `8n + 19` bits per 65535 bytes (≤ 2 blocks), so a
/// page is at most `n + 256.75` bytes; 260 rounds that up to whole words.
pub const MAX_PAGE_OVERHEAD: usize = 260;

/// A compression level, 0..=12. Higher levels search harder and compress better; the page
/// format is the same for every level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Level(u8);

impl Level {
    /// Stored blocks only: no compression, fastest, largest.
    pub const STORED: Level = Level(0);
    /// Fastest compression (`DSTORAGE_COMPRESSION_FASTEST`).
    pub const FASTEST: Level = Level(1);
    /// The default (`DSTORAGE_COMPRESSION_DEFAULT`).
    pub const DEFAULT: Level = Level(9);
    /// Best ratio (`DSTORAGE_COMPRESSION_BEST_RATIO`).
    pub const BEST: Level = Level(12);

    /// The level `level`; [`EncodeError::BadLevel`] above 12.
    pub fn new(level: u32) -> Result<Level, EncodeError> {
        if level <= 12 { Ok(Level(level as u8)) } else { Err(EncodeError::BadLevel { level }) }
    }

    /// The level as a number.
    pub fn get(self) -> u32 {
        u32::from(self.0)
    }

    /// Match-search parameters; `None` for level 0.
    fn params(self) -> Option<Params> {
        // (strategy, search depth, nice length, passes). Level 1 is a single-candidate hash
        // table, levels 2–4 greedy and 5–7 lazy over hash chains (depth = chain entries),
        // 8–12 near-optimal over binary trees (depth = tree nodes) like the reference
        // (spec 5.7). With binary trees a deeper search barely changes the size, while
        // optimal-parse passes do; a small nice length is both faster and, on the corpus,
        // slightly smaller (long matches are taken whole instead of re-priced per length).
        use Strategy::{Fast, Greedy, Lazy, Optimal};
        let (strategy, depth, nice_len, passes) = match self.0 {
            0 => return None,
            1 => (Fast, 1, 8, 0),
            2 => (Greedy, 6, 12, 0),
            3 => (Greedy, 12, 16, 0),
            4 => (Greedy, 24, 32, 0),
            5 => (Lazy, 16, 32, 0),
            6 => (Lazy, 32, 64, 0),
            7 => (Lazy, 100, 130, 0),
            8 => (Optimal, 24, 32, 1),
            9 => (Optimal, 32, 48, 2),
            10 => (Optimal, 48, 48, 2),
            11 => (Optimal, 48, 48, 3),
            // Level 12 trades a little depth and nice length (+0.04% size on the corpus)
            // for ~5% speed; its third pass is what keeps it smaller than level 9.
            _ => (Optimal, 16, 24, 3),
        };
        Some(Params {
            strategy,
            passes,
            depth,
            nice_len,
            // Greedy parsing takes length-3 matches even where literals would be cheaper;
            // on the corpus levels 1–4 are both smaller and faster without them.
            len3: self.0 >= 5,
        })
    }
}

impl Default for Level {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// A reusable page encoder: the match finder's tables, the token buffer, the block coder's
/// code tables and the page word buffer are allocated once and reused for every page.
pub struct PageEncoder {
    level: Level,
    /// Blocks of the last page: stored, fixed, dynamic.
    blocks: [u64; 3],
    mf: MatchFinder,
    sink: BlockSink,
    opt: Optimal,
    lanes: LaneWriter,
}

impl PageEncoder {
    /// An encoder for `level`.
    pub fn new(level: Level) -> Self {
        Self {
            level,
            blocks: [0; 3],
            mf: MatchFinder::new(level.params().is_some_and(|p| p.len3)),
            sink: BlockSink::new(),
            opt: Optimal::new(),
            lanes: LaneWriter::new(),
        }
    }

    /// The encoder's level.
    pub fn level(&self) -> Level {
        self.level
    }

    /// Appends one page encoding `data` (0..=65536 bytes) to `out`. Never fails for any data
    /// of that size; [`EncodeError::PageTooLarge`] above 65536.
    pub fn encode(&mut self, data: &[u8], out: &mut Vec<u8>) -> Result<(), EncodeError> {
        if data.len() > MAX_PAGE_DECODED {
            return Err(EncodeError::PageTooLarge { len: data.len() });
        }
        self.lanes.reset();
        let stored = stored_bits(data.len());
        if let Some(params) = self.level.params() {
            let bits = parse_page(&mut self.mf, &mut self.sink, &mut self.lanes, data, &mut self.opt, params);
            self.blocks = self.sink.blocks;
            if bits > stored {
                // Blocks that were each cheapest on their own can still lose to one stored
                // run (each extra block costs a header): store the whole page.
                self.lanes.reset();
                write_stored(&mut self.lanes, data, true);
                self.blocks = [stored_blocks(data.len()) as u64, 0, 0];
            }
        } else {
            write_stored(&mut self.lanes, data, true);
            self.blocks = [stored_blocks(data.len()) as u64, 0, 0];
        }
        debug_assert!(4 * self.lanes.words() <= data.len() + MAX_PAGE_OVERHEAD);
        self.lanes.finish(out);
        Ok(())
    }
}

/// Encodes `data` (0..=65536 bytes) into one new page at `level`.
pub fn encode_page(data: &[u8], level: Level) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::new();
    PageEncoder::new(level).encode(data, &mut out)?;
    Ok(out)
}

/// Whole input → DirectStorage tile stream (64 KiB tiles, one page each, tiles encoded in
/// parallel on up to `threads` threads, 0 = all cores, output identical for any thread
/// count). Empty input gives the 8-byte zero-tile stream. [`EncodeError::TooManyTiles`]
/// beyond 65535 tiles.
pub fn compress(data: &[u8], level: Level, threads: usize) -> Result<Vec<u8>, EncodeError> {
    compress_with_stats(data, level, threads).map(|(stream, _)| stream)
}

/// What [`compress_with_stats`] did: block counts over all pages, and sizes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompressStats {
    /// Stored blocks (BTYPE 0), including whole pages stored because they did not compress.
    pub stored_blocks: u64,
    /// Blocks with the fixed codes (BTYPE 1).
    pub fixed_blocks: u64,
    /// Blocks with their own codes (BTYPE 2).
    pub dynamic_blocks: u64,
    /// Input bytes.
    pub input_bytes: u64,
    /// Bytes of the tile stream produced (header and tile table included).
    pub output_bytes: u64,
}

/// [`compress`], also reporting [`CompressStats`] (the statistics, like the stream, do not
/// depend on the thread count).
pub fn compress_with_stats(
    data: &[u8],
    level: Level,
    threads: usize,
) -> Result<(Vec<u8>, CompressStats), EncodeError> {
    let tiles = tile_count(data.len() as u64);
    if tiles > MAX_TILES as u64 {
        return Err(EncodeError::TooManyTiles { tiles });
    }
    let work: Vec<&[u8]> = data.chunks(TILE_SIZE).collect();
    let pages = try_map(
        work,
        threads,
        || PageEncoder::new(level),
        |enc, _, tile| {
            let mut page = Vec::with_capacity(tile.len() / 2 + 4 * LANES);
            enc.encode(tile, &mut page).map(|()| (page, enc.blocks))
        },
    )?;
    let mut stats = CompressStats { input_bytes: data.len() as u64, ..CompressStats::default() };
    for (_, [stored, fixed, dynamic]) in &pages {
        stats.stored_blocks += stored;
        stats.fixed_blocks += fixed;
        stats.dynamic_blocks += dynamic;
    }
    let pages: Vec<Vec<u8>> = pages.into_iter().map(|(page, _)| page).collect();
    let stream = write_tile_stream(&pages, data.len() as u64)?;
    stats.output_bytes = stream.len() as u64;
    Ok((stream, stats))
}

/// Upper bound on [`compress`]'s output size for `len` input bytes: the header, one table
/// entry per tile, and each tile's input plus [`MAX_PAGE_OVERHEAD`].
pub fn compress_bound(len: u64) -> u64 {
    let tiles = tile_count(len);
    HEADER_LEN as u64 + tiles * (4 + MAX_PAGE_OVERHEAD as u64) + len
}
