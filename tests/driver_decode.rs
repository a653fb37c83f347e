//! The driver's GDeflate decompression (`VK_NV_memory_decompression`), the ash core's second
//! decode method: where the device has it, it must decode every corpus stream and generated
//! page exactly as the CPU decoder does, and never be the default. Where the device lacks it
//! (lavapipe in CI), asking for it must be a clear `Unsupported` error and the default method
//! must stay the checking kernel.
//!
//! Corrupt input is not tested here beyond the `driver_probe` diagnosis: on the H100 a batch of
//! corrupt pages hung the queue and undersized pages were written past their stated size
//! (docs/perf-notes.md), which is why the method is for trusted data only.

mod common;

use common::pages::{self, GUARD, GUARD_BYTE, Page, require_gpu};
use ds_runtime::gpu_decode::PageJob;
use ds_runtime::vulkan::{ContextOptions, DRIVER_DECODE, VulkanContext, VulkanError};
use std::sync::OnceLock;
use std::time::Duration;

fn context(test: &str) -> Option<&'static VulkanContext> {
    static CTX: OnceLock<Option<VulkanContext>> = OnceLock::new();
    let ctx = CTX.get_or_init(|| match VulkanContext::new(&ContextOptions::default()) {
        Ok(c) => Some(c),
        Err(e) if e.is_unavailable() && !require_gpu() => {
            eprintln!("NOTICE: driver decode tests skipped: {e} (set DSR_REQUIRE_GPU=1 to fail instead)");
            None
        }
        Err(e) => panic!("{test}: no usable Vulkan device: {e}"),
    });
    ctx.as_ref()
}

fn has_driver(ctx: &VulkanContext) -> bool {
    ctx.decode_kernels().contains(&DRIVER_DECODE)
}

/// Decodes `pages` with the driver's method in one submission, each destination 4-byte
/// aligned (the extension's rule) between [`GUARD`] bands; asserts every guard byte survived
/// and returns each page's bytes.
fn driver_decode_guarded(ctx: &VulkanContext, pages: &[Page]) -> Vec<Vec<u8>> {
    let mut jobs = Vec::with_capacity(pages.len());
    let mut at = GUARD as u64;
    for (page, n) in pages {
        jobs.push(PageJob { page, dst_offset: at, dst_size: *n as u32 });
        at = (at + *n as u64 + GUARD as u64).next_multiple_of(4);
    }
    let dst_init = vec![GUARD_BYTE; at as usize];
    let job = ctx.prepare_decode(&jobs, &dst_init).expect("prepare_decode");
    let value = ctx.submit_decode_with(&job, DRIVER_DECODE).expect("submit");
    // A decompression that never finishes fails here instead of hanging the test.
    ctx.wait(value, Duration::from_secs(60)).expect("the driver's decompression finishes");
    let (dst, statuses) = ctx.decode_results(&job).expect("results");
    assert!(statuses.iter().all(|s| s.code == dsr_kernels_status_ok()), "the driver's method marks pages OK");
    let mut inside = vec![false; dst.len()];
    for j in &jobs {
        inside[j.dst_offset as usize..(j.dst_offset + u64::from(j.dst_size)) as usize].fill(true);
    }
    let strays: Vec<usize> = (0..dst.len()).filter(|&i| !inside[i] && dst[i] != GUARD_BYTE).collect();
    assert!(
        strays.is_empty(),
        "the driver wrote {} guard bytes, first at {:?}",
        strays.len(),
        strays.first()
    );
    jobs.iter().map(|j| dst[j.dst_offset as usize..][..j.dst_size as usize].to_vec()).collect()
}

fn dsr_kernels_status_ok() -> u32 {
    ds_runtime::vulkan::dsr_kernels::gdeflate_decode::STATUS_OK
}

#[test]
fn the_driver_method_is_offered_exactly_where_the_device_has_it_and_never_chosen_by_default() {
    let Some(ctx) = context("offered") else { return };
    assert_eq!(has_driver(ctx), ctx.device_info().gdeflate_memory_decompression);
    // `auto` (the default; CI does not set DSR_DECODE_KERNEL) keeps the checking kernel.
    if std::env::var_os(ds_runtime::vulkan::DECODE_KERNEL_ENV).is_none() {
        let choice = ctx.decode_method().expect("decode_method");
        assert_ne!(choice.method, DRIVER_DECODE, "{choice:?}");
        assert_eq!(choice.method, ctx.decode_kernel().unwrap());
    }
    if !has_driver(ctx) {
        let page = pages::generated_pages(7, 1);
        let jobs = [PageJob { page: &page[0].0, dst_offset: 0, dst_size: page[0].1 as u32 }];
        let job = ctx.prepare_decode_uninit(&jobs, page[0].1.max(1)).unwrap();
        let err = ctx.submit_decode_with(&job, DRIVER_DECODE).unwrap_err();
        assert!(matches!(err, VulkanError::Unsupported { .. }), "{err}");
        let mut batch = ctx.batch();
        let b = job.bindings();
        let err = batch.decompress_memory(b.src, b.dst, &[]).unwrap_err();
        assert!(matches!(err, VulkanError::Unsupported { .. }), "{err}");
    }
}

#[test]
fn the_driver_decodes_every_corpus_stream_to_the_manifest_bytes() {
    let Some(ctx) = context("corpus") else { return };
    if !has_driver(ctx) {
        eprintln!("NOTICE: {} has no driver GDeflate decompression", ctx.device_info().name);
        return;
    }
    for (name, stream, sha) in common::corpus_streams() {
        let ts = dsr_gdeflate::TileStream::parse(&stream).unwrap();
        if ts.num_tiles() == 0 {
            continue;
        }
        let jobs = ds_runtime::gpu_decode::stream_pages(&ts);
        let job = ctx.prepare_decode_uninit(&jobs, ts.uncompressed_size() as usize).unwrap();
        let value = ctx.submit_decode_with(&job, DRIVER_DECODE).unwrap();
        ctx.wait(value, Duration::from_secs(60)).unwrap();
        let (out, _) = ctx.decode_results(&job).unwrap();
        assert_eq!(common::sha256_hex(&out), sha, "{name}");
    }
}

#[test]
fn the_driver_decodes_generated_and_reference_pages_as_the_cpu() {
    let Some(ctx) = context("generated") else { return };
    if !has_driver(ctx) {
        return;
    }
    // 4-byte-aligned destinations only (the extension's rule; the guard layout keeps them so).
    let mut all = pages::generated_pages(0x5eed_0101, 1300);
    all.extend(pages::reference_pages(0x5eed_0102, 60));
    let out = driver_decode_guarded(ctx, &all);
    let mut decoder = dsr_gdeflate::PageDecoder::new();
    for (i, ((page, n), got)) in all.iter().zip(&out).enumerate() {
        let want = pages::cpu_decode_page(&mut decoder, page, *n).expect("valid page");
        assert!(want == *got, "page {i} ({} -> {n} bytes) differs", page.len());
    }
}

#[test]
fn the_driver_method_refuses_unaligned_destinations() {
    let Some(ctx) = context("aligned") else { return };
    if !has_driver(ctx) {
        return;
    }
    let page = pages::generated_pages(9, 1).remove(0);
    let jobs = [PageJob { page: &page.0, dst_offset: 1, dst_size: page.1 as u32 }];
    let job = ctx.prepare_decode_uninit(&jobs, page.1 + 1).unwrap();
    let err = ctx.submit_decode_with(&job, DRIVER_DECODE).unwrap_err();
    assert!(matches!(err, VulkanError::InvalidArgument(_)), "{err}");
}

#[test]
fn auto_unchecked_picks_the_fastest_method_it_measured() {
    let Some(ctx) = context("auto-unchecked") else { return };
    let env = std::env::var(ds_runtime::vulkan::DECODE_KERNEL_ENV).ok();
    if env.as_deref() != Some(ds_runtime::vulkan::AUTO_UNCHECKED) {
        // Only meaningful with the override set for this process (scripts/device-driver.sh).
        return;
    }
    let choice = ctx.decode_method().expect("decode_method").clone();
    eprintln!("{}: decode method {choice:?}", ctx.device_info().name);
    if has_driver(ctx) {
        assert_eq!(choice.measured.len(), 2, "{choice:?}");
        let best = choice.measured.iter().max_by(|a, b| a.1.total_cmp(&b.1)).unwrap();
        assert_eq!(choice.method, best.0, "{choice:?}");
        assert!(choice.measured.iter().all(|m| m.1.is_finite() && m.1 > 0.0), "{choice:?}");
    } else {
        assert_eq!(choice.method, ctx.decode_kernel().unwrap());
    }
}

/// Device diagnosis only (scripts/device-driver.sh): `DSR_DRIVER_PROBE=KIND:ALIGN` decodes one
/// kind of pages (`gen`, `ref`, `corrupt`, `under`) with every destination aligned to ALIGN
/// bytes and reports whether the driver finished within 20 s. Does nothing when unset.
#[test]
fn driver_probe() {
    let Ok(spec) = std::env::var("DSR_DRIVER_PROBE") else { return };
    let Some(ctx) = context("probe") else { return };
    if !has_driver(ctx) {
        return;
    }
    let (kind, align) = spec.split_once(':').unwrap();
    let align: u64 = align.parse().unwrap();
    let all: Vec<Page> = match kind {
        "gen" => pages::generated_pages(0x5eed_0101, 1300),
        "ref" => pages::reference_pages(0x5eed_0102, 60),
        "corrupt" => pages::corrupted_pages(0x5eed_0103, 2500),
        "under" => pages::generated_pages(0x5eed_0104, 300).into_iter().map(|(p, n)| (p, n / 3)).collect(),
        _ => panic!("{kind}"),
    };
    let mut jobs = Vec::new();
    let mut at = align.max(GUARD as u64);
    for (page, n) in &all {
        jobs.push(PageJob { page, dst_offset: at, dst_size: *n as u32 });
        at = (at + *n as u64 + GUARD as u64).next_multiple_of(align);
    }
    let dst_init = vec![GUARD_BYTE; at as usize];
    let job = ctx.prepare_decode(&jobs, &dst_init).unwrap();
    let t = std::time::Instant::now();
    let value = ctx.submit_decode_with(&job, DRIVER_DECODE).unwrap();
    let r = ctx.wait(value, Duration::from_secs(20));
    eprintln!("PROBE {spec}: {} pages, wait {:?} after {:?}", all.len(), r.as_ref().map(|_| ()), t.elapsed());
    if r.is_ok() {
        let (dst, _) = ctx.decode_results(&job).unwrap();
        let mut decoder = dsr_gdeflate::PageDecoder::new();
        let (mut same, mut strays) = (0, 0);
        let mut inside = vec![false; dst.len()];
        for (j, (page, n)) in jobs.iter().zip(&all) {
            inside[j.dst_offset as usize..(j.dst_offset + u64::from(j.dst_size)) as usize].fill(true);
            if pages::cpu_decode_page(&mut decoder, page, *n)
                .is_ok_and(|w| w == dst[j.dst_offset as usize..][..*n])
            {
                same += 1;
            }
        }
        for (i, b) in dst.iter().enumerate() {
            if !inside[i] && *b != GUARD_BYTE {
                strays += 1;
            }
        }
        eprintln!("PROBE {spec}: {same} pages equal to the CPU's, {strays} guard bytes written");
    }
    // Leave without destroying a hung device (process exit tears it down).
    if r.is_err() {
        std::process::exit(0);
    }
}
