//! GDeflate decode through the wgpu backend (the same `gdeflate_decode` WGSL kernel as the
//! ash core, compiled by wgpu) checked against the CPU reference decoder with the harness of
//! `tests/gpu_decode.rs` (`tests/common/pages.rs`): every corpus stream, generated pages at
//! every level, Microsoft's reference encoder, corrupted pages (the CPU's error kind *and*
//! byte offset), the crafted hostile pages, and proptest garbage, every destination between
//! guard bands that must survive untouched, with every decode kernel the device runs (the
//! subgroup variant too where the subgroup size is 32), and from both kernel sources: the
//! kernels crate's SPIR-V through wgpu's passthrough (the default context, where the adapter
//! offers it, as lavapipe does) and the WGSL compiled by wgpu (a second context that asks for
//! it). Plus: which source and which queue family a context runs on and says it does, a
//! device the test creates itself and hands over (adoption, with and without passthrough),
//! and caller-managed buffers at offsets (the streaming pipeline's entry).
//!
//! Runs on lavapipe in CI (`DSR_REQUIRE_GPU=1` makes a missing adapter a failure); elsewhere
//! a missing adapter prints a notice and the tests pass. Same sizes as the ash suite, other
//! seeds; pages are batched into one dispatch per test, so this costs about a second on
//! lavapipe.

mod common;

use common::pages::{self, Outcome, Page, require_gpu};
use ds_runtime::Error;
use ds_runtime::gpu_decode::{DecodeParams, PageJob, TileDesc, TileStatus};
use ds_runtime::wgpu::wgpu;
use ds_runtime::wgpu::{
    DecodeBindings, KERNEL_SOURCE_ENV, KernelOptions, KernelSource, QUEUE_FAMILY_ENV, QueueFamily,
    SPIRV_PASSTHROUGH_FEATURES, ShaderChecks, WgpuContext, WgpuError, WgpuOptions, status_error,
};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// One context per test process (device and pipeline creation cost more than most tests on
/// lavapipe).
fn context(test: &str) -> Option<&'static WgpuContext> {
    static CTX: OnceLock<Option<WgpuContext>> = OnceLock::new();
    let ctx = CTX.get_or_init(|| match WgpuContext::new(&WgpuOptions::default()) {
        Ok(c) => {
            let info = c.adapter_info();
            eprintln!(
                "wgpu adapter: {} ({:?}), kernel {}, from {}",
                info.name,
                info.device_type,
                c.decode_kernel().name,
                c.kernel_source()
            );
            Some(c)
        }
        Err(e) if e.is_unavailable() && !require_gpu() => {
            eprintln!("NOTICE: wgpu decode tests skipped: {e} (set DSR_REQUIRE_GPU=1 to fail instead)");
            None
        }
        Err(e) => panic!("{test}: no usable wgpu adapter: {e}"),
    });
    ctx.as_ref()
}

/// A context on the same adapter that compiles the WGSL ([`KernelSource::Wgsl`]), so that
/// both kernel sources run every page test; `None` when the default context already runs
/// the WGSL (or there is no adapter).
fn wgsl_context(test: &str) -> Option<&'static WgpuContext> {
    static CTX: OnceLock<Option<WgpuContext>> = OnceLock::new();
    let default = context(test)?;
    let ctx = CTX.get_or_init(|| {
        (default.kernel_source() != KernelSource::Wgsl).then(|| {
            let options = WgpuOptions {
                kernels: KernelOptions {
                    kernel_source: Some(KernelSource::Wgsl),
                    ..KernelOptions::default()
                },
                ..WgpuOptions::default()
            };
            let c = WgpuContext::new(&options).unwrap_or_else(|e| panic!("{test}: WGSL context: {e}"));
            assert_eq!(c.kernel_source(), KernelSource::Wgsl);
            c
        })
    });
    ctx.as_ref()
}

/// The default context and, where it runs the SPIR-V, the WGSL one.
fn contexts(test: &str) -> Vec<&'static WgpuContext> {
    context(test).into_iter().chain(wgsl_context(test)).collect()
}

/// Decodes `pages` with decode kernel `kernel` in one dispatch, between guard bands
/// ([`pages::decode_pages_guarded`]).
fn wgpu_decode_pages(ctx: &WgpuContext, kernel: &str, pages: &[Page]) -> Vec<Outcome> {
    pages::decode_pages_guarded(pages, |jobs, dst_init| {
        let job = ctx.prepare_decode(jobs, dst_init).expect("prepare_decode");
        let index = ctx.submit_decode_with(&job, kernel).expect("submit_decode_with");
        ctx.wait(index, Duration::MAX).expect("wait");
        ctx.decode_results(&job).expect("decode_results")
    })
}

/// Decodes `pages` with every decode kernel the device runs (the workgroup-memory kernel,
/// and the subgroup variant where the subgroup size is 32) and compares each with the CPU.
fn assert_wgpu_matches_cpu(test: &str, ctx: &WgpuContext, pages: &[Page]) -> BTreeMap<String, usize> {
    let mut kinds = BTreeMap::new();
    for kernel in ctx.decode_kernels() {
        kinds = pages::assert_matches_cpu(
            &format!("{test} ({kernel}, {})", ctx.kernel_source()),
            pages,
            &wgpu_decode_pages(ctx, kernel, pages),
        );
    }
    kinds
}

/// [`assert_wgpu_matches_cpu`] on every context of [`contexts`] (both kernel sources); the
/// error kinds seen, which both sources must agree on (they are each compared with the CPU).
fn assert_every_source_matches_cpu(test: &str, pages: &[Page]) -> Option<BTreeMap<String, usize>> {
    let mut kinds = None;
    for ctx in contexts(test) {
        kinds = Some(assert_wgpu_matches_cpu(test, ctx, pages));
    }
    kinds
}

#[test]
fn every_corpus_stream_decodes_through_wgpu_to_the_manifest_bytes() {
    let Some(ctx) = context("corpus") else { return };
    for (name, stream, sha) in common::corpus_streams() {
        let out = ctx.gdeflate_decompress(&stream).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(common::sha256_hex(&out), sha, "{name}");
    }
}

#[test]
fn a_corrupt_stream_fails_through_wgpu_naming_the_cpu_tile_and_offset() {
    let Some(ctx) = context("corrupt stream") else { return };
    let data: Vec<u8> =
        (0..50_000u32).flat_map(|i| format!("mesh {i} lod {}\n", i % 5).into_bytes()).collect();
    let mut stream = dsr_gdeflate::compress(&data, dsr_gdeflate::Level::DEFAULT, 1).unwrap();
    let ts = dsr_gdeflate::TileStream::parse(&stream).unwrap();
    assert!(ts.num_tiles() >= 3);
    let tile2 = ts.tile_range(2).start;
    stream[tile2] = 0x07; // lane 0's first bits: BFINAL = 1, BTYPE = 3 (reserved)
    let gpu = ctx.gdeflate_decompress(&stream).unwrap_err();
    let cpu = dsr_gdeflate::decompress(&stream, 1).unwrap_err();
    assert!(matches!(gpu, Error::Decode(_)), "{gpu}");
    assert_eq!(gpu.to_string(), Error::Decode(cpu).to_string());
    assert!(gpu.to_string().contains("tile 2, byte offset"), "{gpu}");
    // A container error is the CPU's too, and nothing is dispatched.
    let short = &stream[..5];
    let cpu = dsr_gdeflate::decompress(short, 1).unwrap_err();
    assert_eq!(ctx.gdeflate_decompress(short).unwrap_err().to_string(), Error::Decode(cpu).to_string());
}

#[test]
fn generated_pages_at_every_level_decode_through_wgpu_as_on_the_cpu() {
    let pages = pages::generated_pages(0x5eed_0101, 1300);
    let Some(kinds) = assert_every_source_matches_cpu("generated", &pages) else { return };
    assert_eq!(kinds.get("ok"), Some(&pages.len()), "every generated page is valid");
}

#[test]
fn reference_encoder_pages_decode_through_wgpu_as_on_the_cpu() {
    let pages = pages::reference_pages(0x5eed_0102, 60);
    assert!(pages.len() > 250);
    let Some(kinds) = assert_every_source_matches_cpu("reference", &pages) else { return };
    assert_eq!(kinds.get("ok"), Some(&pages.len()));
}

#[test]
fn corrupted_pages_fail_through_wgpu_with_the_cpu_error_kind_and_offset() {
    let pages = pages::corrupted_pages(0x5eed_0103, 2500);
    let Some(kinds) = assert_every_source_matches_cpu("corrupted", &pages) else { return };
    let errors = kinds.keys().filter(|k| *k != "ok").count();
    assert!(errors >= 8, "only {errors} distinct error kinds exercised: {kinds:?}");
}

#[test]
fn crafted_hostile_pages_fail_through_wgpu_exactly_as_on_the_cpu() {
    let crafted = dsr_gdeflate::crafted::crafted_pages();
    let pages: Vec<Page> = crafted.iter().map(|c| (c.page.clone(), c.size)).collect();
    for ctx in contexts("crafted") {
        let source = ctx.kernel_source();
        for kernel in ctx.decode_kernels() {
            let gpu = wgpu_decode_pages(ctx, kernel, &pages);
            for (c, g) in crafted.iter().zip(&gpu) {
                assert_eq!(
                    g.clone().map_err(|(kind, _)| kind),
                    c.expected,
                    "{} ({kernel}, {source})",
                    c.name
                );
            }
            pages::assert_matches_cpu(&format!("crafted ({kernel}, {source})"), &pages, &gpu);
        }
    }
}

/// Runs `f` to completion on this thread (wgpu's native futures resolve when polled; the
/// test creates its device as an application would, without the runtime's helpers).
fn block_on<F: Future>(f: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = std::task::Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = std::task::Context::from_waker(&waker);
    let mut f = std::pin::pin!(f);
    loop {
        if let std::task::Poll::Ready(v) = f.as_mut().poll(&mut cx) {
            return v;
        }
        std::thread::park();
    }
}

/// An application's own device: its instance, its adapter, WebGPU's default limits, no
/// optional features.
fn application_device() -> Option<(wgpu::Device, wgpu::Queue)> {
    application_device_with(wgpu::Features::empty()).map(|(device, queue, _)| (device, queue))
}

/// [`application_device`] with the `wanted` features its adapter offers; also returns
/// whether it offered them all.
fn application_device_with(wanted: wgpu::Features) -> Option<(wgpu::Device, wgpu::Queue, bool)> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::VULKAN;
    let instance = wgpu::Instance::new(desc);
    let adapter = match block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default())) {
        Ok(a) => a,
        Err(e) if !require_gpu() => {
            eprintln!(
                "NOTICE: wgpu adoption test skipped: no adapter ({e}) (set DSR_REQUIRE_GPU=1 to fail instead)"
            );
            return None;
        }
        Err(e) => panic!("DSR_REQUIRE_GPU=1 but wgpu lists no adapter: {e}"),
    };
    let required_features = adapter.features() & wanted;
    let (device, queue) = block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        label: Some("the application's device"),
        required_features,
        ..Default::default()
    }))
    .expect("request_device");
    Some((device, queue, required_features == wanted))
}

/// The kernel source a context says it runs is the one the rule gives: the kernels crate's
/// SPIR-V through passthrough exactly where the device has `PASSTHROUGH_SHADERS` and
/// `SUBGROUP` (on a created device: where the adapter offers them, as `dsr info` predicts;
/// on an adopted one: where the application enabled them), the WGSL elsewhere or when
/// asked; SPIR-V that cannot run is refused, not replaced. Both sources decode correctly
/// (the page tests run both; here a stream through each adopted device).
#[test]
fn the_context_runs_spirv_through_passthrough_where_the_device_has_it_and_says_which() {
    let Some(ctx) = context("kernel source") else { return };
    let adapters = ds_runtime::wgpu::probe();
    let picked = ds_runtime::wgpu::pick_adapter(&adapters).expect("the context's adapter");
    let spirv_offered = picked.spirv_passthrough;
    eprintln!(
        "adapter {}: SPIR-V passthrough offered: {spirv_offered}; default context runs {}",
        picked.info.name,
        ctx.kernel_source()
    );
    if std::env::var_os(KERNEL_SOURCE_ENV).is_none() {
        assert_eq!(ctx.kernel_source(), picked.kernel_source(), "dsr info's prediction");
        let expected = if spirv_offered { KernelSource::Spirv } else { KernelSource::Wgsl };
        assert_eq!(ctx.kernel_source(), expected);
        assert_eq!(ctx.features().contains(SPIRV_PASSTHROUGH_FEATURES), spirv_offered);
    }
    assert_eq!(ctx.shader_checks(), ShaderChecks::Trusted);
    if let Some(wgsl) = wgsl_context("kernel source") {
        assert_eq!(wgsl.kernel_source(), KernelSource::Wgsl);
        // Asked for the WGSL, the device was not given passthrough.
        assert!(!wgsl.features().contains(wgpu::Features::PASSTHROUGH_SHADERS));
    }
    // wgpu's checks exist only in the WGSL: Checked never runs the SPIR-V...
    let checked = KernelOptions { shader_checks: ShaderChecks::Checked, ..KernelOptions::default() };
    if std::env::var_os(KERNEL_SOURCE_ENV).is_none() {
        let c =
            WgpuContext::new(&WgpuOptions { kernels: checked.clone(), ..WgpuOptions::default() }).unwrap();
        assert_eq!(c.kernel_source(), KernelSource::Wgsl);
    }
    // ... and asking for both is refused.
    let both = KernelOptions { kernel_source: Some(KernelSource::Spirv), ..checked };
    match WgpuContext::new(&WgpuOptions { kernels: both, ..WgpuOptions::default() }) {
        Err(WgpuError::InvalidArgument(msg)) => assert!(msg.contains("Checked"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    let data: Vec<u8> = (0..30_000u32).flat_map(|i| format!("vertex {i:06}\n").into_bytes()).collect();
    let stream = dsr_gdeflate::compress(&data, dsr_gdeflate::Level::DEFAULT, 1).unwrap();
    // An adopted device without the features runs the WGSL; SPIR-V asked of it is Unsupported.
    let (device, queue) = application_device().expect("the adapter the context found");
    let plain = WgpuContext::adopt(device.clone(), queue.clone(), &KernelOptions::default()).unwrap();
    if std::env::var_os(KERNEL_SOURCE_ENV).is_none() {
        assert_eq!(plain.kernel_source(), KernelSource::Wgsl);
    }
    assert!(plain.gdeflate_decompress(&stream).unwrap() == data);
    let spirv = KernelOptions { kernel_source: Some(KernelSource::Spirv), ..KernelOptions::default() };
    match WgpuContext::adopt(device, queue, &spirv) {
        Err(e @ WgpuError::Unsupported { .. }) => assert!(e.is_unavailable(), "{e}"),
        other => panic!("expected Unsupported, got {other:?}"),
    }
    // An adopted device the application created with them runs the SPIR-V.
    let (device, queue, all) = application_device_with(SPIRV_PASSTHROUGH_FEATURES).unwrap();
    if device.adapter_info().name == picked.info.name {
        assert_eq!(all, spirv_offered, "the same adapter offers the same features");
    }
    if all {
        let adopted = WgpuContext::adopt(device, queue, &spirv).expect("adopt with SPIR-V");
        assert_eq!(adopted.kernel_source(), KernelSource::Spirv);
        assert!(adopted.gdeflate_decompress(&stream).unwrap() == data, "SPIR-V on an adopted device");
    }
}

/// A created context's queue comes from the adapter's compute-only family where it has one
/// (the ash core's choice: wgpu's own family 0, graphics + compute, ran the kernels at
/// 0.59–0.70× of the ash core on an H100), else from wgpu's default family, and the context
/// says which, as `dsr info` predicts; lavapipe has one graphics + compute family, so there
/// the fallback runs (and this context decodes, as every page test checks).
#[test]
fn a_created_context_uses_the_compute_only_queue_family_where_the_adapter_has_one_and_says_which() {
    let Some(ctx) = context("queue family") else { return };
    let adapters = ds_runtime::wgpu::probe();
    let picked = ds_runtime::wgpu::pick_adapter(&adapters).expect("the context's adapter");
    eprintln!("adapter {}: queue {}", picked.info.name, ctx.queue_family());
    assert!(!ctx.is_adopted());
    assert_eq!(ctx.uses_compute_only_queue(), matches!(ctx.queue_family(), QueueFamily::ComputeOnly { .. }));
    if std::env::var_os(QUEUE_FAMILY_ENV).is_none() {
        match (&picked.compute_only_family, ctx.queue_family()) {
            (Ok(predicted), QueueFamily::ComputeOnly { index }) => assert_eq!(predicted, index),
            (Err(predicted), QueueFamily::WgpuDefault { why }) => assert_eq!(predicted, why),
            (predicted, actual) => panic!("dsr info predicts {predicted:?}, the context uses {actual}"),
        }
    }
    if picked.info.driver.to_ascii_lowercase().contains("llvmpipe") {
        match ctx.queue_family() {
            QueueFamily::WgpuDefault { why } => {
                assert!(why.contains("no compute-only queue family"), "{why}")
            }
            other => panic!("lavapipe has one graphics + compute family, the context says {other}"),
        }
    }
    let Some((device, queue)) = application_device() else { return };
    let adopted = WgpuContext::adopt(device, queue, &KernelOptions::default()).expect("adopt");
    assert_eq!(adopted.queue_family(), &QueueFamily::Adopted);
    assert!(adopted.is_adopted() && !adopted.uses_compute_only_queue());
}

#[test]
fn wgpu_decodes_on_a_device_the_application_created_and_handed_over() {
    let Some((device, queue)) = application_device() else { return };
    let ctx = WgpuContext::adopt(device.clone(), queue.clone(), &KernelOptions::default()).expect("adopt");
    assert!(ctx.is_adopted());
    // The adopted device keeps its own limits: nothing was requested from it.
    assert_eq!(ctx.limits().max_storage_buffer_binding_size, device.limits().max_storage_buffer_binding_size);

    let data: Vec<u8> = (0..40_000u32).flat_map(|i| format!("texel {i:08x}\n").into_bytes()).collect();
    let stream = dsr_gdeflate::compress(&data, dsr_gdeflate::Level::new(4).unwrap(), 1).unwrap();
    assert!(
        ctx.gdeflate_decompress(&stream).unwrap() == data,
        "adopted-device decode differs from the input"
    );
    let pages = pages::generated_pages(0x5eed_0104, 40);
    assert_wgpu_matches_cpu("adopted", &ctx, &pages);

    // A job beyond the device's storage binding limit (WebGPU's default 128 MiB here) is
    // refused before anything is uploaded, not handed to wgpu.
    let page = dsr_gdeflate::encode_page(b"x", dsr_gdeflate::Level::DEFAULT).unwrap();
    let limit = device.limits().max_storage_buffer_binding_size;
    let too_big = usize::try_from(limit + 4).unwrap();
    let job = [PageJob { page: &page, dst_offset: 0, dst_size: 1 }];
    match ctx.prepare_decode_uninit(&job, too_big) {
        Err(WgpuError::InvalidArgument(msg)) => assert!(msg.contains("storage binding limit"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }

    // The application's handles still work after the runtime lets go of its clones.
    drop(ctx);
    let buffer = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("the application's buffer"),
        size: 16,
        usage: wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    queue.write_buffer(&buffer, 0, &[1; 16]);
    let index = queue.submit([]);
    device.poll(wgpu::PollType::Wait { submission_index: Some(index), timeout: None }).expect("poll");
}

/// Rounds `n` up to the device's storage offset alignment.
fn aligned(ctx: &WgpuContext, n: u64) -> u64 {
    n.next_multiple_of(u64::from(ctx.limits().min_storage_buffer_offset_alignment))
}

#[test]
fn caller_managed_buffers_decode_at_aligned_offsets_and_misaligned_ones_are_refused() {
    let Some(ctx) = context("caller-managed") else { return };
    let pages = pages::generated_pages(0x5eed_0105, 5);
    // One arena buffer holding the table and the pages at aligned offsets, as a staging ring
    // would; the writable destination and statuses have their own buffers (WebGPU makes a
    // writable storage buffer exclusive within a dispatch).
    let mut tiles = Vec::new();
    let mut src = Vec::new();
    let mut dst_len = 0u64;
    for (page, n) in &pages {
        tiles.push(TileDesc {
            src_offset: src.len() as u32,
            src_size: page.len() as u32,
            dst_offset: dst_len as u32,
            dst_size: *n as u32,
        });
        src.extend_from_slice(page);
        src.resize(src.len().next_multiple_of(4), 0);
        dst_len += *n as u64;
    }
    let tiles_at = 0;
    let src_at = aligned(ctx, (tiles.len() * size_of::<TileDesc>()) as u64);
    let arena_len = aligned(ctx, src_at + src.len() as u64);
    let status_len = (pages.len() * size_of::<TileStatus>()) as u64;
    let mut arena = vec![0u8; arena_len as usize];
    // TileDesc is four little-endian u32s (layout checked against the shader by dsr-kernels).
    let tile_bytes: Vec<u8> = tiles
        .iter()
        .flat_map(|t| [t.src_offset, t.src_size, t.dst_offset, t.dst_size])
        .flat_map(u32::to_le_bytes)
        .collect();
    arena[..tile_bytes.len()].copy_from_slice(&tile_bytes);
    arena[src_at as usize..][..src.len()].copy_from_slice(&src);
    let usage = wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC | wgpu::BufferUsages::COPY_DST;
    let arena = ctx.upload_bytes(&arena, usage, "arena").unwrap();
    let params = DecodeParams { tile_count: pages.len() as u32 };
    let params =
        ctx.upload_bytes(&params.tile_count.to_le_bytes(), wgpu::BufferUsages::UNIFORM, "params").unwrap();
    let dst = ctx.create_buffer(dst_len, usage, "dst").unwrap();
    let status = ctx.create_buffer(status_len, usage, "status").unwrap();
    let bindings = DecodeBindings {
        params: params.slice(..),
        tiles: arena.slice(tiles_at..src_at),
        src: arena.slice(src_at..src_at + src.len() as u64),
        dst: dst.slice(..),
        status: status.slice(..),
        tile_count: pages.len() as u32,
    };
    let mut encoder = ctx.device().create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
    ctx.encode_decode(&mut encoder, &bindings).expect("encode_decode");
    let index = ctx.queue().submit([encoder.finish()]);
    ctx.wait(index, Duration::MAX).unwrap();
    let statuses = ctx.download_bytes(&status, 0, status_len).unwrap();
    let out = ctx.download_bytes(&dst, 0, dst.size()).unwrap();
    let mut at = 0;
    let mut decoder = dsr_gdeflate::PageDecoder::new();
    for (i, ((page, n), s)) in pages.iter().zip(statuses.chunks_exact(size_of::<TileStatus>())).enumerate() {
        let s = TileStatus {
            code: u32::from_le_bytes(s[0..4].try_into().unwrap()),
            offset: u32::from_le_bytes(s[4..8].try_into().unwrap()),
            detail0: u32::from_le_bytes(s[8..12].try_into().unwrap()),
            detail1: u32::from_le_bytes(s[12..16].try_into().unwrap()),
        };
        assert_eq!(status_error(&s).unwrap(), None, "page {i}");
        assert_eq!(Ok(out[at..at + n].to_vec()), pages::cpu_decode_page(&mut decoder, page, *n), "page {i}");
        at += n;
    }

    // A slice at an offset the device does not allow is refused by the runtime, before wgpu
    // (whose default handler would panic) sees it.
    let misaligned = DecodeBindings { src: arena.slice(src_at + 4..src_at + src.len() as u64), ..bindings };
    let mut encoder = ctx.device().create_command_encoder(&wgpu::CommandEncoderDescriptor::default());
    match ctx.encode_decode(&mut encoder, &misaligned) {
        Err(WgpuError::InvalidArgument(msg)) => assert!(msg.contains("alignment"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // So is a writable binding sharing its buffer with another binding (WebGPU's usage
    // scope), which wgpu would only report when the caller finishes the encoder.
    let shared = DecodeBindings { status: arena.slice(src_at..src_at + status_len), ..bindings };
    match ctx.encode_decode(&mut encoder, &shared) {
        Err(WgpuError::InvalidArgument(msg)) => assert!(msg.contains("exclusive"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    // So is a buffer without the usage its binding needs.
    let wrong_usage = DecodeBindings { params: arena.slice(..16), ..bindings };
    match ctx.encode_decode(&mut encoder, &wrong_usage) {
        Err(WgpuError::InvalidArgument(msg)) => assert!(msg.contains("usage"), "{msg}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 16, failure_persistence: None, ..ProptestConfig::default() })]

    /// Arbitrary words as pages (of legal sizes, so that decoding starts), with arbitrary
    /// expected sizes, 48 pages per dispatch.
    #[test]
    fn arbitrary_pages_decode_through_wgpu_exactly_as_on_the_cpu(
        pages in prop::collection::vec(
            (prop::collection::vec(any::<u32>(), 32..400), 0usize..=65536),
            48,
        ),
    ) {
        let pages: Vec<Page> =
            pages.into_iter().map(|(w, n)| (w.iter().flat_map(|w| w.to_le_bytes()).collect(), n)).collect();
        assert_every_source_matches_cpu("proptest", &pages);
    }
}
