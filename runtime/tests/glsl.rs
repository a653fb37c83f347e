//! The GLSL path on a real device (lavapipe in CI): the `fill_pattern` kernel, compiled from
//! `kernels/glsl/fill_pattern.comp` by shaderc (feature `glsl`), run through the ash core.
//!
//! Without a usable Vulkan device every test here prints a notice and passes, unless
//! `DSR_REQUIRE_GPU=1` (CI), where a missing device fails the test. Errors other than "no
//! Vulkan here" always fail.

#![cfg(feature = "glsl")]

use ds_runtime::vulkan::ash::vk;
use ds_runtime::vulkan::{ContextOptions, MemoryKind, VulkanContext, VulkanError};
use dsr_kernels::glsl::FillPatternParams;
use dsr_kernels::{Binding, BindingKind, FILL_PATTERN, KERNELS};
use std::ops::Range;

fn require_gpu() -> bool {
    std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1")
}

fn context(test: &str) -> Option<VulkanContext> {
    match VulkanContext::new(&ContextOptions::default()) {
        Ok(ctx) => Some(ctx),
        Err(e) if e.is_unavailable() && !require_gpu() => {
            eprintln!("NOTICE: {test} skipped: {e} (set DSR_REQUIRE_GPU=1 to fail instead)");
            None
        }
        Err(e) if e.is_unavailable() => panic!("{test}: DSR_REQUIRE_GPU=1 but no usable Vulkan device: {e}"),
        Err(e) => panic!("{test}: {e}"),
    }
}

/// A recognisable word for position `i` of buffer `tag`.
fn word(tag: u32, i: usize) -> u32 {
    (tag << 24) ^ (i as u32).wrapping_mul(0x9e37_79b9)
}

/// Host model of the kernel: the words (of a `len`-word binding) it writes.
fn expected_fill(len: u32, p: FillPatternParams) -> Range<u32> {
    let n = p.word_count.min(len.saturating_sub(p.offset_words));
    if n == 0 { 0..0 } else { p.offset_words..p.offset_words + n }
}

const PATTERN: u32 = 0xdead_beef;

#[test]
fn fill_pattern_has_a_pipeline_built_from_its_reflection() {
    assert!(KERNELS.contains(&&FILL_PATTERN));
    assert_eq!(
        FILL_PATTERN.bindings,
        [
            Binding { group: 0, binding: 0, kind: BindingKind::Uniform, min_size: 12 },
            Binding { group: 0, binding: 1, kind: BindingKind::StorageReadWrite, min_size: 4 },
        ]
    );
    let Some(ctx) = context("fill pipeline") else { return };
    let p = ctx.pipeline("fill_pattern").expect("a pipeline for the GLSL kernel");
    assert_eq!(p.kernel(), &FILL_PATTERN);
    assert_ne!(p.pipeline(), vk::Pipeline::null());
    let types: Vec<_> = p.layout_bindings()[0].iter().map(|b| (b.binding, b.descriptor_type)).collect();
    assert_eq!(types, [(0, vk::DescriptorType::UNIFORM_BUFFER), (1, vk::DescriptorType::STORAGE_BUFFER)]);
}

#[test]
fn fill_pattern_writes_exactly_its_range_for_edge_sizes() {
    let Some(ctx) = context("fill sizes") else { return };
    for n in [1usize, 255, 256, 257, 100_000] {
        let mut dst: Vec<u32> = (0..n).map(|i| word(1, i)).collect();
        ctx.fill_words(
            &mut dst,
            FillPatternParams { offset_words: 0, word_count: n as u32, pattern: PATTERN },
        )
        .unwrap();
        let miss = dst.iter().position(|&w| w != PATTERN);
        assert_eq!(miss, None, "n = {n}: first word not written");

        // The middle third only; the rest keeps its words.
        let mut dst: Vec<u32> = (0..n).map(|i| word(2, i)).collect();
        let third = n / 3;
        let p = FillPatternParams { offset_words: third as u32, word_count: third as u32, pattern: !PATTERN };
        ctx.fill_words(&mut dst, p).unwrap();
        for (i, &w) in dst.iter().enumerate() {
            let expected = if (third..2 * third).contains(&i) { !PATTERN } else { word(2, i) };
            assert_eq!(w, expected, "n = {n}, word {i}");
        }
    }
    // An empty destination is a no-op that never reaches the GPU.
    ctx.fill_words(&mut [], FillPatternParams { offset_words: 0, word_count: 1, pattern: 1 }).unwrap();
}

#[test]
fn fill_pattern_never_writes_outside_its_binding_whatever_the_params() {
    let Some(ctx) = context("fill bounds") else { return };
    // 256 bytes is the largest minStorageBufferOffsetAlignment Vulkan allows, so the bound
    // range can start right after the front guard on every device.
    const GUARD: usize = 64;
    const LEN: u32 = 200;
    let p = |offset_words, word_count| FillPatternParams { offset_words, word_count, pattern: PATTERN };
    let cases = [
        (p(0, u32::MAX), None),
        (p(0, LEN), None),
        (p(150, 1000), None),
        (p(LEN - 1, u32::MAX), Some(1)),
        (p(LEN, 10), None),
        (p(LEN + 1, 10), None),
        (p(u32::MAX, u32::MAX), None),
        // offset + count overflows u32.
        (p(u32::MAX - 5, 100), None),
        (p(7, u32::MAX - 3), None),
        // Far more invocations than words: the grid-stride loop must still stop at the end.
        (p(3, u32::MAX), Some(64)),
        // One workgroup for every word: the loop runs many strides.
        (p(0, LEN), Some(1)),
        (p(0, 0), None),
    ];
    for (params, groups) in cases {
        let total = GUARD + LEN as usize + GUARD;
        let init: Vec<u32> = (0..total).map(|i| word(6, i)).collect();
        let dst = ctx.upload_words(&init, "dst with guards").unwrap();
        let binding = dst.slice(GUARD as u64 * 4, u64::from(LEN) * 4).unwrap();
        ctx.dispatch_fill(params, binding, groups).unwrap();
        let out = ctx.download_words(dst.whole()).unwrap();
        let written = expected_fill(LEN, params);
        for (i, &w) in out.iter().enumerate() {
            let in_binding = i.checked_sub(GUARD).filter(|&j| j < LEN as usize).map(|j| j as u32);
            let expected = match in_binding {
                Some(j) if written.contains(&j) => PATTERN,
                _ => init[i],
            };
            assert_eq!(w, expected, "{params:?}, groups {groups:?}: word {i} (guard {GUARD}, binding {LEN})");
        }
    }
}

#[test]
fn fill_pattern_ignores_workgroups_off_the_x_axis_and_paints_guard_bands() {
    let Some(ctx) = context("fill 3d dispatch") else { return };
    // A 2×3×2 grid over one buffer: workgroups with y or z != 0 write nothing, the rest fill.
    let init: Vec<u32> = (0..1000).map(|i| word(7, i)).collect();
    let dst = ctx.upload_words(&init, "dst").unwrap();
    let params = ctx.create_buffer(12, MemoryKind::Upload, "params").unwrap();
    let p = FillPatternParams { offset_words: 10, word_count: 900, pattern: PATTERN };
    params.write(0, bytemuck::bytes_of(&p)).unwrap();
    let mut batch = ctx.batch();
    batch.dispatch("fill_pattern", &[params.whole(), dst.whole()], [2, 3, 2]).unwrap();
    // The use it is made for: guard bands on both sides of a region, in one more dispatch each.
    batch.submit().unwrap();
    let guard = |offset_words, pattern| FillPatternParams { offset_words, word_count: 10, pattern };
    ctx.dispatch_fill(guard(0, 0x6a6a_6a6a), dst.whole(), None).unwrap();
    ctx.dispatch_fill(guard(910, 0x6a6a_6a6a), dst.whole(), None).unwrap();
    let out = ctx.download_words(dst.whole()).unwrap();
    for (i, &w) in out.iter().enumerate() {
        let expected = match i {
            0..10 | 910..920 => 0x6a6a_6a6a,
            10..910 => PATTERN,
            _ => init[i],
        };
        assert_eq!(w, expected, "word {i}");
    }
}

#[test]
fn fill_pattern_arguments_are_checked_by_the_batch() {
    let Some(ctx) = context("fill arguments") else { return };
    let params = ctx.create_buffer(8, MemoryKind::Upload, "short params").unwrap();
    let dst = ctx.create_buffer(64, MemoryKind::DeviceLocal, "dst").unwrap();
    let invalid = |r: Result<(), VulkanError>| matches!(r, Err(VulkanError::InvalidArgument(_)));
    let mut batch = ctx.batch();
    // A parameter block shorter than the reflected 12 bytes, a missing binding.
    assert!(invalid(batch.dispatch("fill_pattern", &[params.whole(), dst.whole()], [1, 1, 1]).map(|_| ())));
    assert!(invalid(batch.dispatch("fill_pattern", &[dst.whole()], [1, 1, 1]).map(|_| ())));
    assert!(batch.is_empty());
}
