//! Encoder tests: exact pages of the spec's worked examples, round trips at every level
//! through our decoder and the reference decoder (synthetic data, the corpus, proptest),
//! thread-count independence, size bounds, and compression sanity against the reference.

use super::*;
use crate::decode::PageDecoder;
use proptest::prelude::*;

/// A small deterministic PRNG (xorshift64*), so test data needs no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| (self.next() >> 56) as u8).collect()
    }
}

fn words(page: &[u8]) -> Vec<u32> {
    page.chunks_exact(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// Pseudo-English: words from a small vocabulary with punctuation and line breaks.
fn text(n: usize, seed: u64) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "the",
        "tile",
        "stream",
        "page",
        "lane",
        "decoder",
        "encoder",
        "of",
        "a",
        "and",
        "to",
        "in",
        "GPU",
        "asset",
        "texture",
        "compressed",
        "block",
        "Huffman",
        "match",
        "distance",
        "literal",
        "is",
        "for",
        "with",
        "DirectStorage",
        "runtime",
        "bits",
        "word",
        "refill",
    ];
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n + 16);
    while out.len() < n {
        let w = WORDS[(rng.next() % WORDS.len() as u64) as usize];
        out.extend_from_slice(w.as_bytes());
        out.push(match rng.next() % 16 {
            0 => b'\n',
            1 => b',',
            2 => b'.',
            _ => b' ',
        });
    }
    out.truncate(n);
    out
}

/// Runs of random bytes with random lengths, some very long.
fn runs(n: usize, seed: u64) -> Vec<u8> {
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        let b = (rng.next() >> 56) as u8;
        let len = match rng.next() % 8 {
            0 => 1 + (rng.next() % 5000) as usize,
            _ => 1 + (rng.next() % 40) as usize,
        };
        out.extend(std::iter::repeat_n(b, len));
    }
    out.truncate(n);
    out
}

/// `$DSR_CORPUS/raw`, else `../shared/corpus/raw` beside the repository, as every other corpus
/// test reads it. (Regression: this one ignored `DSR_CORPUS`, so `.ci/run` from a clone that is
/// not beside `shared/` failed here while the rest of the suite found the corpus.)
fn corpus_dir() -> std::path::PathBuf {
    match std::env::var_os("DSR_CORPUS") {
        Some(p) => std::path::PathBuf::from(p).join("raw"),
        None => std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/corpus/raw")),
    }
}

/// The corpus files (name, bytes), sorted by name. Panics if the corpus is missing, so
/// the corpus tests cannot pass vacuously.
fn corpus() -> Vec<(String, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(corpus_dir())
        .map(|d| d.filter_map(Result::ok).map(|e| e.path()).collect())
        .unwrap_or_default();
    files.sort();
    assert!(!files.is_empty(), "corpus not found at {}", corpus_dir().display());
    files
        .into_iter()
        .filter(|p| p.is_file())
        .map(|p| (p.file_name().unwrap().to_string_lossy().into_owned(), std::fs::read(&p).unwrap()))
        .collect()
}

/// Encodes `data` (≤ 65536 bytes) and checks the page decodes back through both decoders.
fn check_page(
    enc: &mut PageEncoder,
    dec: &mut PageDecoder,
    refdec: &mut gdeflate_ref::Decompressor,
    data: &[u8],
) -> usize {
    let mut page = Vec::new();
    enc.encode(data, &mut page).unwrap();
    let what = format!("level {} len {}", enc.level().get(), data.len());
    assert_eq!(page.len() % 4, 0, "{what}");
    assert!(page.len() >= 128, "{what}");
    assert!(page.len() <= data.len() + MAX_PAGE_OVERHEAD, "{what}: page {}", page.len());
    let mut out = vec![0xA5u8; data.len()];
    dec.decode(&page, &mut out).unwrap_or_else(|e| panic!("{what}: our decoder: {e}"));
    assert!(out == data, "{what}: our decoder output differs");
    if !data.is_empty() {
        out.fill(0x5A);
        refdec
            .decompress_page(&page, &mut out)
            .unwrap_or_else(|e| panic!("{what}: reference decoder: {e:?}"));
        assert!(out == data, "{what}: reference decoder output differs");
    }
    page.len()
}

fn all_levels() -> impl Iterator<Item = Level> {
    (0..=12).map(|l| Level::new(l).unwrap())
}

#[test]
fn level_constants_and_range() {
    assert_eq!(Level::STORED.get(), 0);
    assert_eq!(Level::FASTEST.get(), 1);
    assert_eq!(Level::DEFAULT.get(), 9);
    assert_eq!(Level::BEST.get(), 12);
    assert_eq!(Level::new(12).unwrap(), Level::BEST);
    assert_eq!(Level::new(13), Err(EncodeError::BadLevel { level: 13 }));
    assert!(Level::FASTEST < Level::BEST);
}

#[test]
fn pages_above_64k_are_refused() {
    let e = encode_page(&vec![0u8; 65537], Level::FASTEST).unwrap_err();
    assert_eq!(e, EncodeError::PageTooLarge { len: 65537 });
}

#[test]
fn spec_section_4_pages_are_reproduced_word_for_word() {
    // The reference's pages for spec 4.1 (fixed block, level 1), 4.2 (stored block, level 0)
    // and 4.4 (one literal + one 65535-byte match, at every parsing strategy).
    use crate::spec_examples::{Example, LONGEST_MATCH, SINGLE_LITERAL, STORED_HELLO};
    let cases: [(&Example, &[Level]); 3] = [
        (&SINGLE_LITERAL, &[Level::FASTEST]),
        (&STORED_HELLO, &[Level::STORED]),
        (&LONGEST_MATCH, &[Level::FASTEST, Level::DEFAULT, Level::BEST]),
    ];
    for (ex, levels) in cases {
        for &level in levels {
            let page = encode_page(ex.data, level).unwrap();
            assert!(page == ex.page(), "{} bytes at level {level:?}", ex.data.len());
        }
    }
}

#[test]
fn spec_4_5_random_64k_stored_is_65672_bytes() {
    let data = Rng(1).bytes(65536);
    for level in [Level::STORED, Level::FASTEST, Level::BEST] {
        let page = encode_page(&data, level).unwrap();
        assert_eq!(page.len(), 65672, "level {level:?}");
        // BFINAL 0, BTYPE 0, LEN 65535, then the first data byte (spec 4.5 layout).
        assert_eq!(words(&page)[0] & 0x7_FFFF, 0xFFFF << 3);
        assert_eq!(words(&page)[0] >> 19 & 0xFF, u32::from(data[0]));
    }
}

#[test]
fn round_trips_at_every_level() {
    let mut rng = Rng(7);
    let mut inputs: Vec<Vec<u8>> = vec![
        vec![],
        vec![0x41],
        b"A".to_vec(),
        b"Hello, GDeflate!".to_vec(),
        b"abc".repeat(8),
        vec![0; 65536],
        vec![0; 3],
        vec![0; 4],
        vec![7; 259],
        rng.bytes(65536),
        rng.bytes(1000),
        text(65536, 1),
        text(12345, 2),
        runs(65536, 3),
        runs(40000, 4),
        (0..65536u32).map(|i| (i % 251) as u8).collect(),
        (0..65536u32).map(|i| ((i * i) >> 7) as u8).collect(),
    ];
    // Half random, half text: block splitting has something to find.
    let mut mixed = rng.bytes(30000);
    mixed.extend(text(35536, 9));
    inputs.push(mixed);
    let mut dec = PageDecoder::new();
    let mut refdec = gdeflate_ref::Decompressor::new();
    for level in all_levels() {
        let mut enc = PageEncoder::new(level);
        for data in &inputs {
            check_page(&mut enc, &mut dec, &mut refdec, data);
        }
    }
}

#[test]
fn empty_page_decodes_to_nothing() {
    for level in all_levels() {
        let page = encode_page(&[], level).unwrap();
        PageDecoder::new().decode(&page, &mut []).unwrap();
    }
}

#[test]
fn tile_streams_round_trip_and_ignore_thread_count() {
    let mut data = text(100_000, 5);
    data.extend(vec![0u8; 65537]);
    data.extend(Rng(3).bytes(70_000));
    for level in [Level::STORED, Level::FASTEST, Level::new(6).unwrap(), Level::BEST] {
        let one = compress(&data, level, 1).unwrap();
        assert!(one.len() as u64 <= compress_bound(data.len() as u64));
        for threads in [2, 7, 0] {
            assert!(compress(&data, level, threads).unwrap() == one, "level {level:?} threads {threads}");
        }
        assert!(crate::decompress(&one, 2).unwrap() == data);
    }
    assert_eq!(compress(&[], Level::DEFAULT, 1).unwrap(), [0x04, 0xFB, 0, 0, 1, 0, 0, 0]);
    assert_eq!(compress_bound(0), 8);
    // Spec 4.7: 65537 zeros at level 1 is a 292-byte stream.
    assert_eq!(compress(&[0u8; 65537], Level::FASTEST, 1).unwrap().len(), 292);
}

#[test]
fn corpus_streams_and_stats_are_identical_for_1_2_3_8_threads() {
    // A multi-tile file with compressible and incompressible tiles (a PNG's compressed data
    // plus its headers), so pages of every block type are produced concurrently.
    let data = std::fs::read(corpus_dir().join("glmark2_crate-base.png")).unwrap();
    let text = std::fs::read(corpus_dir().join("wz_research.json")).unwrap();
    let data: Vec<u8> = [&data[..], &text[..]].concat();
    assert!(data.len() > 8 * TILE_SIZE);
    for level in [1, 4, 6, 9, 12] {
        let level = Level::new(level).unwrap();
        let (one, stats) = compress_with_stats(&data, level, 1).unwrap();
        assert_eq!(stats.input_bytes, data.len() as u64);
        assert_eq!(stats.output_bytes, one.len() as u64);
        assert!(
            stats.stored_blocks + stats.fixed_blocks + stats.dynamic_blocks >= tile_count(data.len() as u64)
        );
        for threads in [2, 3, 8] {
            let (other, other_stats) = compress_with_stats(&data, level, threads).unwrap();
            assert!(other == one, "level {level:?} threads {threads}");
            assert_eq!(other_stats, stats, "level {level:?} threads {threads}");
        }
        assert!(crate::decompress(&one, 2).unwrap() == data);
    }
}

#[test]
fn stats_count_the_blocks_written() {
    // Random: every page stored (65535 + 1 bytes = 2 blocks); zeros: one fixed block per
    // page; text: dynamic blocks only.
    let random = Rng(5).bytes(3 * TILE_SIZE);
    let (_, s) = compress_with_stats(&random, Level::FASTEST, 1).unwrap();
    assert_eq!((s.stored_blocks, s.fixed_blocks, s.dynamic_blocks), (6, 0, 0));
    let (_, s) = compress_with_stats(&random, Level::STORED, 1).unwrap();
    assert_eq!((s.stored_blocks, s.fixed_blocks, s.dynamic_blocks), (6, 0, 0));
    for level in [Level::FASTEST, Level::DEFAULT, Level::BEST] {
        let (_, s) = compress_with_stats(&vec![0u8; 2 * TILE_SIZE], level, 1).unwrap();
        assert_eq!((s.stored_blocks, s.fixed_blocks, s.dynamic_blocks), (0, 2, 0), "{level:?}");
        let (_, s) = compress_with_stats(&text(2 * TILE_SIZE, 3), level, 1).unwrap();
        assert!(s.stored_blocks == 0 && s.fixed_blocks == 0 && s.dynamic_blocks >= 2, "{level:?} {s:?}");
    }
}

#[test]
fn corpus_round_trips_at_every_level() {
    let files = corpus();
    let mut dec = PageDecoder::new();
    let mut refdec = gdeflate_ref::Decompressor::new();
    for level in all_levels() {
        let mut enc = PageEncoder::new(level);
        for (name, data) in &files {
            // Every tile of the smaller files; every 4th tile of the big ones keeps this fast.
            let step = if data.len() > 1 << 20 { 4 } else { 1 };
            for tile in data.chunks(TILE_SIZE).step_by(step) {
                let mut page = Vec::new();
                enc.encode(tile, &mut page).unwrap();
                let mut out = vec![0u8; tile.len()];
                dec.decode(&page, &mut out).unwrap_or_else(|e| panic!("{name} level {level:?}: {e}"));
                assert!(out == tile, "{name} level {level:?}");
                refdec.decompress_page(&page, &mut out).unwrap_or_else(|e| panic!("{name} {level:?}: {e:?}"));
                assert!(out == tile, "{name} level {level:?} (reference decoder)");
            }
        }
    }
}

#[test]
fn text_compresses_below_half_and_levels_are_ordered() {
    let data = text(65536 * 3, 11);
    let size = |l: u32| compress(&data, Level::new(l).unwrap(), 1).unwrap().len();
    let (s1, s6, s12) = (size(1), size(6), size(12));
    assert!(s1 < data.len() / 2, "level 1: {s1}");
    assert!(s12 <= s6 && s6 <= s1, "{s1} {s6} {s12}");
}

/// Total compressed sizes on the corpus, ours vs the reference; printed with --nocapture.
#[test]
fn corpus_sizes_against_the_reference() {
    let files = corpus();
    let raw: usize = files.iter().map(|(_, d)| d.len()).sum();
    let mut ours = Vec::new();
    for l in [0u32, 1, 6, 9, 12] {
        let (mut o, mut r) = (0usize, 0usize);
        for (_, data) in &files {
            o += compress(data, Level::new(l).unwrap(), 0).unwrap().len();
            if let Ok(pages) = gdeflate_ref::compress_tiles(data, l as i32) {
                // Same container overhead as ours: header + table.
                r += 8 + 4 * pages.len() + pages.iter().map(Vec::len).sum::<usize>();
            }
        }
        println!(
            "level {l:2}: ours {o:>10}  reference {r:>10}  ({:+.2}%)  raw {raw}",
            100.0 * (o as f64 / r as f64 - 1.0)
        );
        ours.push(o);
    }
    assert!(ours[0] > raw && ours[0] < raw + raw / 100 + 4096, "level 0 is stored");
    assert!(ours[4] < ours[1] - ours[1] / 50, "level 12 well below level 1");
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn proptest_tile_streams_round_trip(
        level in 0u32..=12,
        seed in any::<u64>(),
        len in 0usize..200_000,
        kind in 0u8..4,
    ) {
        let data = match kind {
            0 => Rng(seed | 1).bytes(len),
            1 => text(len, seed),
            2 => runs(len, seed),
            _ => {
                // Small alphabet: many short matches at all distances.
                let mut r = Rng(seed | 1);
                (0..len).map(|_| b"ab\0\xff"[(r.next() % 4) as usize]).collect()
            }
        };
        let s = compress(&data, Level::new(level).unwrap(), 2).unwrap();
        prop_assert!(s.len() as u64 <= compress_bound(data.len() as u64));
        prop_assert!(crate::decompress(&s, 2).unwrap() == data);
        let ts = crate::TileStream::parse(&s).unwrap();
        let mut refdec = gdeflate_ref::Decompressor::new();
        for (i, tile) in data.chunks(TILE_SIZE).enumerate() {
            let mut out = vec![0u8; tile.len()];
            prop_assert!(refdec.decompress_page(ts.tile(i as u32), &mut out).is_ok());
            prop_assert!(out == tile);
        }
    }

    #[test]
    fn proptest_arbitrary_pages_round_trip(
        level in 0u32..=12,
        data in proptest::collection::vec(any::<u8>(), 0..3000),
    ) {
        let mut page = Vec::new();
        PageEncoder::new(Level::new(level).unwrap()).encode(&data, &mut page).unwrap();
        let mut out = vec![0u8; data.len()];
        PageDecoder::new().decode(&page, &mut out).unwrap();
        prop_assert_eq!(out, data);
    }
}
