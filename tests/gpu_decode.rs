//! GPU GDeflate decode (the `gdeflate_decode` kernel through the ash core) checked against the
//! CPU reference decoder: every corpus stream, thousands of generated pages (our encoder at
//! every level and Microsoft's reference encoder), thousands of corrupted pages (the GPU must
//! report the CPU's error kind *and* byte offset), and proptest-generated garbage. Every page's
//! destination sits between guard bands that must survive untouched.
//!
//! Runs on lavapipe in CI (`DSR_REQUIRE_GPU=1` makes a missing device a failure); elsewhere a
//! missing Vulkan device prints a notice and the tests pass. Pages are batched into one
//! dispatch per test, so thousands of pages cost seconds even on a software rasterizer.

mod common;

use ds_runtime::vulkan::{ContextOptions, PageJob, VulkanContext, status_error};
use dsr_gdeflate::{DecodeErrorKind, Level, PageDecoder, encode_page};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

fn require_gpu() -> bool {
    std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1")
}

/// One context per test process (device creation costs more than most tests on lavapipe).
fn context(test: &str) -> Option<&'static VulkanContext> {
    static CTX: OnceLock<Option<VulkanContext>> = OnceLock::new();
    let ctx = CTX.get_or_init(|| match VulkanContext::new(&ContextOptions::default()) {
        Ok(c) => Some(c),
        Err(e) if e.is_unavailable() && !require_gpu() => {
            eprintln!("NOTICE: GPU decode tests skipped: {e} (set DSR_REQUIRE_GPU=1 to fail instead)");
            None
        }
        Err(e) => panic!("{test}: no usable Vulkan device: {e}"),
    });
    ctx.as_ref()
}

/// A deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What decoding a page gave: its bytes, or the error kind and byte offset.
type Outcome = Result<Vec<u8>, (DecodeErrorKind, u64)>;

const GUARD: usize = 64;
const GUARD_BYTE: u8 = 0xA5;

/// Decodes `pages` (page bytes, expected decoded size) in one dispatch. Destinations are laid
/// out back to back with [`GUARD`] bytes of [`GUARD_BYTE`] before, between and after them, and
/// odd offsets (so that pages share words with guard bytes); every guard byte is checked.
fn gpu_decode_pages(ctx: &VulkanContext, pages: &[(Vec<u8>, usize)]) -> Vec<Outcome> {
    let mut jobs = Vec::with_capacity(pages.len());
    let mut at = GUARD as u64;
    for (i, (page, n)) in pages.iter().enumerate() {
        jobs.push(PageJob { page, dst_offset: at, dst_size: *n as u32 });
        at += *n as u64 + GUARD as u64 + (i % 3) as u64;
    }
    let dst_init = vec![GUARD_BYTE; at as usize];
    let job = ctx.prepare_decode(&jobs, &dst_init).expect("prepare_decode");
    let value = ctx.submit_decode(&job).expect("submit_decode");
    ctx.wait(value, Duration::MAX).expect("wait");
    let (dst, statuses) = ctx.decode_results(&job).expect("decode_results");
    assert_eq!(dst.len(), dst_init.len());

    let mut inside = vec![false; dst.len()];
    for j in &jobs {
        inside[j.dst_offset as usize..(j.dst_offset + u64::from(j.dst_size)) as usize].fill(true);
    }
    let strays: Vec<usize> = (0..dst.len()).filter(|&i| !inside[i] && dst[i] != GUARD_BYTE).collect();
    assert!(
        strays.is_empty(),
        "the kernel wrote {} guard bytes, first at {:?}",
        strays.len(),
        strays.first()
    );

    jobs.iter()
        .zip(&statuses)
        .map(|(j, s)| match status_error(s).expect("a status the host understands") {
            None => Ok(dst[j.dst_offset as usize..][..j.dst_size as usize].to_vec()),
            Some(kind) => Err((kind, u64::from(s.offset))),
        })
        .collect()
}

fn cpu_decode_page(decoder: &mut PageDecoder, page: &[u8], n: usize) -> Outcome {
    let mut out = vec![0u8; n];
    decoder.decode(page, &mut out).map(|()| out).map_err(|e| (e.kind, e.offset))
}

/// Decodes `pages` on both sides; panics naming every page whose outcomes differ. Returns the
/// CPU outcomes' error kinds by name, to show what the inputs exercised.
fn assert_gpu_matches_cpu(
    test: &str,
    ctx: &VulkanContext,
    pages: &[(Vec<u8>, usize)],
) -> BTreeMap<String, usize> {
    let gpu = gpu_decode_pages(ctx, pages);
    let mut decoder = PageDecoder::new();
    let mut kinds = BTreeMap::new();
    let mut mismatches = Vec::new();
    for (i, ((page, n), g)) in pages.iter().zip(&gpu).enumerate() {
        let c = cpu_decode_page(&mut decoder, page, *n);
        let name = match &c {
            Ok(_) => "ok".to_string(),
            Err((k, _)) => format!("{k:?}").split([' ', '(', '{']).next().unwrap_or_default().to_string(),
        };
        *kinds.entry(name).or_insert(0) += 1;
        if &c != g {
            let show = |o: &Outcome| match o {
                Ok(b) => format!("Ok({} bytes)", b.len()),
                Err(e) => format!("Err({e:?})"),
            };
            mismatches.push(format!(
                "page {i} ({} bytes → {n}): cpu {} gpu {}",
                page.len(),
                show(&c),
                show(g)
            ));
        }
    }
    eprintln!("{test}: {} pages, outcomes {kinds:?}", pages.len());
    assert!(mismatches.is_empty(), "{test}: {} mismatches:\n{}", mismatches.len(), mismatches.join("\n"));
    kinds
}

/// Inputs of the kinds assets are made of: incompressible, runs, text, structured binary,
/// and mixtures, of sizes 1..=max_len.
fn sample_input(rng: &mut Rng, max_len: usize) -> Vec<u8> {
    let len = 1 + rng.below(max_len as u64) as usize;
    let style = rng.below(6);
    let mut v = Vec::with_capacity(len);
    let words: [&[u8]; 8] =
        [b"vertex ", b"normal ", b"0.125 ", b"{\"id\": ", b"texture", b"\n", b"  ", b"-1.0 "];
    while v.len() < len {
        match style {
            0 => v.push(rng.next() as u8),
            1 => {
                let b = rng.next() as u8;
                let run = 1 + rng.below(300) as usize;
                v.extend(std::iter::repeat_n(b, run));
            }
            2 => v.extend_from_slice(words[rng.below(8) as usize]),
            3 => v.extend_from_slice(&(rng.below(1 << 12) as u32 * 3).to_le_bytes()),
            4 => {
                // Back-references at every distance, including overlapping ones.
                if v.len() > 4 && rng.below(2) == 0 {
                    let d = 1 + rng.below(v.len() as u64) as usize;
                    let n = 3 + rng.below(200) as usize;
                    for _ in 0..n {
                        v.push(v[v.len() - d]);
                    }
                } else {
                    v.push(b'a' + rng.below(4) as u8);
                }
            }
            _ => {
                if rng.below(2) == 0 {
                    v.push(rng.next() as u8);
                } else {
                    v.extend_from_slice(words[rng.below(8) as usize]);
                }
            }
        }
    }
    v.truncate(len);
    v
}

#[test]
fn every_corpus_stream_decodes_on_the_gpu_to_the_manifest_bytes() {
    let Some(ctx) = context("corpus") else { return };
    for (name, stream, sha) in common::corpus_streams() {
        let out = ctx.gdeflate_decompress(&stream).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(common::sha256_hex(&out), sha, "{name}");
    }
}

#[test]
fn generated_pages_at_every_level_decode_on_the_gpu_as_on_the_cpu() {
    let Some(ctx) = context("generated") else { return };
    let mut rng = Rng(0x5eed_0001);
    let mut pages = Vec::new();
    for i in 0..1300 {
        // Mostly small pages (cheap on lavapipe), some up to a whole tile.
        let max_len = if i % 50 == 0 { 65536 } else { 3000 };
        let input = sample_input(&mut rng, max_len);
        let level = Level::new((i % 13) as u32).unwrap();
        pages.push((encode_page(&input, level).unwrap(), input.len()));
    }
    let kinds = assert_gpu_matches_cpu("generated", ctx, &pages);
    assert_eq!(kinds.get("ok"), Some(&pages.len()), "every generated page is valid");
}

#[test]
fn reference_encoder_pages_decode_on_the_gpu_as_on_the_cpu() {
    let Some(ctx) = context("reference") else { return };
    let mut rng = Rng(0x5eed_0002);
    let mut pages = Vec::new();
    for level in [1, 4, 6, 9, 12] {
        let mut compressor = gdeflate_ref::Compressor::new(level).unwrap();
        for _ in 0..60 {
            let input = sample_input(&mut rng, 4000);
            // The reference fails on some incompressible pages; those are not test data.
            if let Ok(page) = compressor.compress_page(&input) {
                pages.push((page, input.len()));
            }
        }
    }
    assert!(pages.len() > 250);
    let kinds = assert_gpu_matches_cpu("reference", ctx, &pages);
    assert_eq!(kinds.get("ok"), Some(&pages.len()));
}

/// One corruption of a valid page: a flipped bit, a random word, a run of zero or one bits,
/// a truncation, an extension, or a wrong expected size.
fn corrupt(rng: &mut Rng, page: &[u8], n: usize) -> (Vec<u8>, usize) {
    let mut p = page.to_vec();
    let mut n = n;
    match rng.below(7) {
        0 => {
            for _ in 0..1 + rng.below(3) {
                let bit = rng.below(p.len() as u64 * 8) as usize;
                p[bit / 8] ^= 1 << (bit % 8);
            }
        }
        1 => {
            let w = rng.below(p.len() as u64 / 4) as usize * 4;
            p[w..w + 4].copy_from_slice(&(rng.next() as u32).to_le_bytes());
        }
        2 => {
            let start = rng.below(p.len() as u64) as usize;
            let end = (start + 1 + rng.below(64) as usize).min(p.len());
            let fill = if rng.below(2) == 0 { 0 } else { 0xFF };
            p[start..end].fill(fill);
        }
        3 => {
            let keep = rng.below(p.len() as u64) as usize;
            p.truncate(keep);
        }
        4 => p.extend(std::iter::repeat_n(0u8, 4 * (1 + rng.below(8) as usize))),
        5 => n = if n > 0 && rng.below(2) == 0 { n - 1 } else { (n + 1).min(65536) },
        _ => {
            // A random header region: scribble over the first words (block headers, code lengths).
            for b in p.iter_mut().take(4 * 40) {
                if rng.below(8) == 0 {
                    *b = rng.next() as u8;
                }
            }
        }
    }
    (p, n)
}

#[test]
fn corrupted_pages_fail_on_the_gpu_with_the_cpu_error_kind_and_offset() {
    let Some(ctx) = context("corrupted") else { return };
    let mut rng = Rng(0x5eed_0003);
    let mut pages = Vec::new();
    for i in 0..2500 {
        let input = sample_input(&mut rng, 2000);
        let page = encode_page(&input, Level::new((i % 13) as u32).unwrap()).unwrap();
        pages.push(corrupt(&mut rng, &page, input.len()));
    }
    let kinds = assert_gpu_matches_cpu("corrupted", ctx, &pages);
    // The corruptions must reach the decoder's checks, not just one of them.
    let errors = kinds.keys().filter(|k| *k != "ok").count();
    assert!(errors >= 8, "only {errors} distinct error kinds exercised: {kinds:?}");
}

#[test]
fn crafted_hostile_pages_fail_on_the_gpu_exactly_as_on_the_cpu() {
    let Some(ctx) = context("crafted") else { return };
    let crafted = dsr_gdeflate::crafted::crafted_pages();
    let pages: Vec<(Vec<u8>, usize)> = crafted.iter().map(|c| (c.page.clone(), c.size)).collect();
    let gpu = gpu_decode_pages(ctx, &pages);
    for (c, g) in crafted.iter().zip(gpu) {
        assert_eq!(g.map_err(|(kind, _)| kind), c.expected, "{}", c.name);
    }
    assert_gpu_matches_cpu("crafted", ctx, &pages);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary words as pages (of legal sizes, so that decoding starts), with arbitrary
    /// expected sizes, 48 pages per dispatch.
    #[test]
    fn arbitrary_pages_decode_on_the_gpu_exactly_as_on_the_cpu(
        pages in prop::collection::vec(
            (prop::collection::vec(any::<u32>(), 32..400), 0usize..=65536),
            48,
        ),
    ) {
        let pages: Vec<(Vec<u8>, usize)> =
            pages.into_iter().map(|(w, n)| (w.iter().flat_map(|w| w.to_le_bytes()).collect(), n)).collect();
        let Some(ctx) = context("proptest") else { return Ok(()) };
        assert_gpu_matches_cpu("proptest", ctx, &pages);
    }
}
