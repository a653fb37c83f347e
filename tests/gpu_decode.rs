//! GPU GDeflate decode (every decode kernel the device runs, through the ash core: atomic and
//! byte-store, workgroup and subgroup variants; or the one `DSR_DECODE_KERNEL` names) checked
//! against the CPU reference decoder: every corpus stream, thousands of generated pages (our encoder at
//! every level and Microsoft's reference encoder), thousands of corrupted pages (the GPU must
//! report the CPU's error kind *and* byte offset), and proptest-generated garbage. Every page's
//! destination sits between guard bands that must survive untouched.
//!
//! Runs on lavapipe in CI (`DSR_REQUIRE_GPU=1` makes a missing device a failure); elsewhere a
//! missing Vulkan device prints a notice and the tests pass. Pages are batched into one
//! dispatch per test, so thousands of pages cost seconds even on a software rasterizer.

mod common;

use common::pages::{self, Outcome, Page, require_gpu};
use ds_runtime::vulkan::{ContextOptions, VulkanContext};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

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

/// The decode kernels under test: the one `$DSR_DECODE_KERNEL` names, or else every decode
/// kernel the device runs (the atomic and the byte-store kernels, and the subgroup variants
/// where the device runs them; not the driver's method, which reports no errors).
fn kernels(ctx: &VulkanContext) -> Vec<&'static str> {
    if std::env::var_os(ds_runtime::vulkan::DECODE_KERNEL_ENV).is_some() {
        return vec![ctx.decode_kernel().expect("DSR_DECODE_KERNEL")];
    }
    let all: Vec<_> =
        ctx.decode_kernels().into_iter().filter(|k| *k != ds_runtime::vulkan::DRIVER_DECODE).collect();
    assert!(all.contains(&ds_runtime::vulkan::dsr_kernels::GDEFLATE_DECODE.name), "{all:?}");
    all
}

/// Decodes `pages` with `kernel` in one dispatch, between guard bands
/// ([`pages::decode_pages_guarded`]).
fn gpu_decode_pages(ctx: &VulkanContext, kernel: &str, pages: &[Page]) -> Vec<Outcome> {
    pages::decode_pages_guarded(pages, |jobs, dst_init| {
        let job = ctx.prepare_decode(jobs, dst_init).expect("prepare_decode");
        let value = ctx.submit_decode_with(&job, kernel).expect("submit_decode_with");
        ctx.wait(value, Duration::MAX).expect("wait");
        ctx.decode_results(&job).expect("decode_results")
    })
}

/// Decodes `pages` with every kernel under test and on the CPU; panics naming every page
/// whose outcomes differ (and the kernel). Returns the CPU outcomes' error kinds by name, to
/// show what the inputs exercised.
fn assert_gpu_matches_cpu(test: &str, ctx: &VulkanContext, pages: &[Page]) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for kernel in kernels(ctx) {
        kinds = pages::assert_matches_cpu(
            &format!("{test} ({kernel})"),
            pages,
            &gpu_decode_pages(ctx, kernel, pages),
        );
    }
    kinds
}

#[test]
fn every_corpus_stream_decodes_on_the_gpu_to_the_manifest_bytes() {
    let Some(ctx) = context("corpus") else { return };
    for (name, stream, sha) in common::corpus_streams() {
        let out = ctx.gdeflate_decompress(&stream).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(common::sha256_hex(&out), sha, "{name}");
        // And every page of it with every kernel under test, against the CPU.
        let ts = dsr_gdeflate::TileStream::parse(&stream).unwrap_or_else(|e| panic!("{name}: {e}"));
        let pages: Vec<(Vec<u8>, usize)> =
            (0..ts.num_tiles()).map(|i| (ts.tile(i).to_vec(), ts.tile_uncompressed_size(i))).collect();
        if !pages.is_empty() {
            assert_gpu_matches_cpu(&name, ctx, &pages);
        }
    }
}

#[test]
fn generated_pages_at_every_level_decode_on_the_gpu_as_on_the_cpu() {
    let Some(ctx) = context("generated") else { return };
    let pages = pages::generated_pages(0x5eed_0001, 1300);
    let kinds = assert_gpu_matches_cpu("generated", ctx, &pages);
    assert_eq!(kinds.get("ok"), Some(&pages.len()), "every generated page is valid");
}

/// The split bench (`dsr bench decode --submissions`) decodes a job as several submissions
/// declared independent of each other; every page must come out as in one dispatch (errors
/// too), and a split cut for a job of another tile count is refused rather than decoding part
/// of the job (the 45b93f0 review found `submit_decode_split` did not check it).
#[test]
fn split_submissions_decode_every_page_as_the_cpu_and_refuse_another_jobs_split() {
    let Some(ctx) = context("split") else { return };
    let mut pages = pages::generated_pages(0x5eed_0005, 300);
    pages.extend(pages::corrupted_pages(0x5eed_0006, 100));
    let kernel = ds_runtime::vulkan::dsr_kernels::GDEFLATE_DECODE.name;
    for parts in [2, 7] {
        let outcomes = pages::decode_pages_guarded(&pages, |jobs, dst_init| {
            let job = ctx.prepare_decode(jobs, dst_init).expect("prepare_decode");
            let split = ctx.prepare_decode_split(&job, parts).expect("prepare_decode_split");
            assert!(split.submissions() > 1, "{parts} parts of {} pages gave one submission", jobs.len());
            let value = ctx.submit_decode_split(&job, &split, kernel).expect("submit_decode_split");
            ctx.wait(value, Duration::MAX).expect("wait");

            // A split of a job one page shorter fits this job's buffers: only the tile-count
            // check stops it from leaving the last page undecoded.
            let short = ctx.prepare_decode(&jobs[..jobs.len() - 1], dst_init).expect("prepare_decode");
            let short_split = ctx.prepare_decode_split(&short, parts).expect("prepare_decode_split");
            let refused = ctx.submit_decode_split(&job, &short_split, kernel);
            assert!(
                matches!(&refused, Err(ds_runtime::vulkan::VulkanError::InvalidArgument(m)) if m.contains("split cut for")),
                "{refused:?}"
            );
            ctx.decode_results(&job).expect("decode_results")
        });
        pages::assert_matches_cpu(&format!("split into {parts}"), &pages, &outcomes);
    }
}

#[test]
fn reference_encoder_pages_decode_on_the_gpu_as_on_the_cpu() {
    let Some(ctx) = context("reference") else { return };
    let pages = pages::reference_pages(0x5eed_0002, 60);
    assert!(pages.len() > 250);
    let kinds = assert_gpu_matches_cpu("reference", ctx, &pages);
    assert_eq!(kinds.get("ok"), Some(&pages.len()));
}

#[test]
fn corrupted_pages_fail_on_the_gpu_with_the_cpu_error_kind_and_offset() {
    let Some(ctx) = context("corrupted") else { return };
    let pages = pages::corrupted_pages(0x5eed_0003, 2500);
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
    for kernel in kernels(ctx) {
        let gpu = gpu_decode_pages(ctx, kernel, &pages);
        for (c, g) in crafted.iter().zip(gpu) {
            assert_eq!(g.map_err(|(kind, _)| kind), c.expected, "{} ({kernel})", c.name);
        }
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
