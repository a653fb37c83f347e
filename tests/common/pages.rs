//! The differential GPU-decode harness shared by `tests/gpu_decode.rs` (ash core) and
//! `tests/wgpu_decode.rs` (wgpu): page generators (valid, reference-encoded, corrupted), the
//! guard-band layout of a batch of pages, and the comparison with the CPU reference decoder.
//! Backends plug in a closure that decodes one batch; everything else is the same code, so
//! both backends are held to exactly the same checks.

use ds_runtime::gpu_decode::{PageJob, TileStatus, status_error};
use dsr_gdeflate::{DecodeErrorKind, Level, PageDecoder, encode_page};
use std::collections::BTreeMap;

pub fn require_gpu() -> bool {
    std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1")
}

/// A deterministic generator (xorshift64*), so failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// What decoding a page gave: its bytes, or the error kind and byte offset.
pub type Outcome = Result<Vec<u8>, (DecodeErrorKind, u64)>;

/// A page and its expected decoded size.
pub type Page = (Vec<u8>, usize);

pub const GUARD: usize = 64;
pub const GUARD_BYTE: u8 = 0xA5;

/// Decodes `pages` in one dispatch through `decode` (jobs and the destination's initial
/// bytes in; destination bytes and one status per page out). Destinations are laid out back
/// to back with [`GUARD`] bytes of [`GUARD_BYTE`] before, between and after them, and odd
/// offsets (so that pages share words with guard bytes); every guard byte is checked.
pub fn decode_pages_guarded(
    pages: &[Page],
    decode: impl FnOnce(&[PageJob<'_>], &[u8]) -> (Vec<u8>, Vec<TileStatus>),
) -> Vec<Outcome> {
    let mut jobs = Vec::with_capacity(pages.len());
    let mut at = GUARD as u64;
    for (i, (page, n)) in pages.iter().enumerate() {
        jobs.push(PageJob { page, dst_offset: at, dst_size: *n as u32 });
        at += *n as u64 + GUARD as u64 + (i % 3) as u64;
    }
    let dst_init = vec![GUARD_BYTE; at as usize];
    let (dst, statuses) = decode(&jobs, &dst_init);
    assert_eq!(dst.len(), dst_init.len());
    assert_eq!(statuses.len(), jobs.len());

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

pub fn cpu_decode_page(decoder: &mut PageDecoder, page: &[u8], n: usize) -> Outcome {
    let mut out = vec![0u8; n];
    decoder.decode(page, &mut out).map(|()| out).map_err(|e| (e.kind, e.offset))
}

/// Compares `gpu` (one outcome per page of `pages`) with the CPU decoder's; panics naming
/// every page whose outcomes differ. Returns the CPU outcomes' error kinds by name, to show
/// what the inputs exercised.
pub fn assert_matches_cpu(test: &str, pages: &[Page], gpu: &[Outcome]) -> BTreeMap<String, usize> {
    assert_eq!(gpu.len(), pages.len());
    let mut decoder = PageDecoder::new();
    let mut kinds = BTreeMap::new();
    let mut mismatches = Vec::new();
    for (i, ((page, n), g)) in pages.iter().zip(gpu).enumerate() {
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
pub fn sample_input(rng: &mut Rng, max_len: usize) -> Vec<u8> {
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

/// `count` valid pages from our encoder at every level: mostly small (cheap on lavapipe),
/// every 50th up to a whole tile.
pub fn generated_pages(seed: u64, count: usize) -> Vec<Page> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|i| {
            let max_len = if i % 50 == 0 { 65536 } else { 3000 };
            let input = sample_input(&mut rng, max_len);
            let level = Level::new((i % 13) as u32).unwrap();
            (encode_page(&input, level).unwrap(), input.len())
        })
        .collect()
}

/// Pages from Microsoft's reference encoder, `per_level` tries at each of 5 levels (the
/// reference fails on some incompressible pages; those are not test data).
pub fn reference_pages(seed: u64, per_level: usize) -> Vec<Page> {
    let mut rng = Rng(seed);
    let mut pages = Vec::new();
    for level in [1, 4, 6, 9, 12] {
        let mut compressor = gdeflate_ref::Compressor::new(level).unwrap();
        for _ in 0..per_level {
            let input = sample_input(&mut rng, 4000);
            if let Ok(page) = compressor.compress_page(&input) {
                pages.push((page, input.len()));
            }
        }
    }
    pages
}

/// One corruption of a valid page: a flipped bit, a random word, a run of zero or one bits,
/// a truncation, an extension, or a wrong expected size.
pub fn corrupt(rng: &mut Rng, page: &[u8], n: usize) -> Page {
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

/// `count` corrupted pages (valid pages of up to 2000 bytes at every level, each corrupted once).
pub fn corrupted_pages(seed: u64, count: usize) -> Vec<Page> {
    let mut rng = Rng(seed);
    (0..count)
        .map(|i| {
            let input = sample_input(&mut rng, 2000);
            let page = encode_page(&input, Level::new((i % 13) as u32).unwrap()).unwrap();
            corrupt(&mut rng, &page, input.len())
        })
        .collect()
}
