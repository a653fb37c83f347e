//! The ash Vulkan core on a real device (lavapipe in CI).
//!
//! Without a usable Vulkan device every test here prints a notice and passes, unless
//! `DSR_REQUIRE_GPU=1` (CI), where a missing device fails the test. Errors other than "no
//! Vulkan here" always fail.

#![cfg(feature = "vulkan")]

use ds_runtime::vulkan::ash::{self, vk};
use ds_runtime::vulkan::{
    AdoptDesc, ContextOptions, DeviceFeatures, MemoryKind, VulkanContext, VulkanError, layout_bindings,
    pick_device, probe,
};
use dsr_kernels::{BindingKind, CopyParams, KERNELS};
use std::sync::{Arc, Mutex};
use std::time::Duration;

fn require_gpu() -> bool {
    std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1")
}

/// `Some(value)`, or `None` after printing a notice when Vulkan is unavailable and not
/// required; panics on any other error.
fn available<T>(test: &str, r: Result<T, VulkanError>) -> Option<T> {
    match r {
        Ok(v) => Some(v),
        Err(e) if e.is_unavailable() && !require_gpu() => {
            eprintln!("NOTICE: {test} skipped: {e} (set DSR_REQUIRE_GPU=1 to fail instead)");
            None
        }
        Err(e) if e.is_unavailable() => panic!("{test}: DSR_REQUIRE_GPU=1 but no usable Vulkan device: {e}"),
        Err(e) => panic!("{test}: {e}"),
    }
}

fn context(test: &str) -> Option<VulkanContext> {
    available(test, VulkanContext::new(&ContextOptions::default()))
}

/// A recognisable word for position `i` of buffer `tag`.
fn word(tag: u32, i: usize) -> u32 {
    (tag << 24) ^ (i as u32).wrapping_mul(0x9e37_79b9)
}

#[test]
fn probe_finds_a_device_with_a_nonzero_subgroup_size() {
    let Some(devices) = available("probe", probe()) else { return };
    let Some(picked) = pick_device(&devices) else {
        assert!(!require_gpu(), "DSR_REQUIRE_GPU=1 but no usable device among {devices:#?}");
        eprintln!("NOTICE: probe test skipped: no usable device among {} listed", devices.len());
        return;
    };
    assert!(picked.subgroup_size > 0, "{picked:#?}");
    assert!(!picked.name.is_empty());
    assert!(picked.features.timeline_semaphore);
    if let Some((min, max)) = picked.subgroup_size_range {
        assert!(min <= picked.subgroup_size && picked.subgroup_size <= max, "{picked:#?}");
    }
}

#[test]
fn context_is_send_and_sync() {
    fn assert_send_sync<T: Send + Sync>() {}
    assert_send_sync::<VulkanContext>();
    assert_send_sync::<ds_runtime::vulkan::GpuBuffer>();
}

#[test]
fn created_context_enables_timeline_semaphores_and_owns_its_device() {
    let Some(ctx) = context("created context") else { return };
    assert!(ctx.owns_device());
    assert!(ctx.features().timeline_semaphore);
    assert!(ctx.features().is_subset_of(&ctx.device_info().features));
    // One pipeline per kernel the device runs: every kernel without subgroup operations, a
    // subgroup variant only where the device's subgroup size is the one it needs, and a
    // byte-store kernel only where the context enabled 8-bit storage.
    let eight_bit = ctx.features().storage_buffer_8bit_access;
    let runs: Vec<_> = KERNELS
        .iter()
        .filter(|k| ctx.device_info().runs_kernel(k) && (!k.storage_8bit || eight_bit))
        .map(|k| k.name)
        .collect();
    let made: Vec<_> = ctx.pipelines().iter().map(|p| p.kernel().name).collect();
    assert_eq!(made, runs);
    assert!(
        KERNELS
            .iter()
            .filter(|k| k.subgroup_size == 0 && (!k.storage_8bit || eight_bit))
            .all(|k| made.contains(&k.name))
    );
    // Where the device has 8-bit storage (lavapipe, NVIDIA, AMD, Intel), the context enables it.
    assert_eq!(eight_bit, ctx.device_info().features.storage_buffer_8bit_access);
}

#[test]
fn copy_kernel_moves_n_words_for_edge_sizes() {
    let Some(ctx) = context("copy sizes") else { return };
    for n in [1usize, 255, 256, 257, 100_000] {
        let src: Vec<u32> = (0..n).map(|i| word(1, i)).collect();
        let mut dst: Vec<u32> = (0..n).map(|i| word(2, i)).collect();
        let params = CopyParams { src_offset_words: 0, dst_offset_words: 0, word_count: n as u32 };
        ctx.copy_words(&src, &mut dst, params).unwrap();
        assert!(
            dst == src,
            "n = {n}: first difference at {:?}",
            dst.iter().zip(&src).position(|(a, b)| a != b)
        );

        // Offsets: copy the middle third to the start; the rest of dst keeps its words.
        let mut dst: Vec<u32> = (0..n).map(|i| word(3, i)).collect();
        let third = n / 3;
        let params =
            CopyParams { src_offset_words: third as u32, dst_offset_words: 0, word_count: third as u32 };
        ctx.copy_words(&src, &mut dst, params).unwrap();
        for (i, &w) in dst.iter().enumerate() {
            let expected = if i < third { src[third + i] } else { word(3, i) };
            assert_eq!(w, expected, "n = {n}, word {i}");
        }
    }
}

/// Host model of the kernel: the words it writes.
fn expected_copy(src_len: u32, dst_len: u32, p: CopyParams) -> std::ops::Range<u32> {
    let src_avail = src_len.saturating_sub(p.src_offset_words);
    let dst_avail = dst_len.saturating_sub(p.dst_offset_words);
    let n = p.word_count.min(src_avail).min(dst_avail);
    if n == 0 { 0..0 } else { p.dst_offset_words..p.dst_offset_words + n }
}

#[test]
fn copy_kernel_never_writes_outside_its_destination_binding() {
    let Some(ctx) = context("copy bounds") else { return };
    // 256 bytes is the largest minStorageBufferOffsetAlignment Vulkan allows, so the bound
    // range can start right after the front guard on every device.
    const GUARD: usize = 64;
    const SRC: u32 = 300;
    const DST: u32 = 200;
    let src: Vec<u32> = (0..SRC as usize).map(|i| word(5, i)).collect();
    let src_buffer = ctx.upload_words(&src, "src").unwrap();
    let cases = [
        (CopyParams { src_offset_words: 0, dst_offset_words: 0, word_count: u32::MAX }, None),
        (CopyParams { src_offset_words: 0, dst_offset_words: 150, word_count: 1000 }, None),
        (CopyParams { src_offset_words: 250, dst_offset_words: 0, word_count: 1000 }, None),
        (CopyParams { src_offset_words: 0, dst_offset_words: DST, word_count: 10 }, None),
        (CopyParams { src_offset_words: 0, dst_offset_words: DST + 1, word_count: 10 }, None),
        (CopyParams { src_offset_words: SRC, dst_offset_words: 0, word_count: 10 }, None),
        (CopyParams { src_offset_words: u32::MAX, dst_offset_words: u32::MAX, word_count: u32::MAX }, None),
        (CopyParams { src_offset_words: 1, dst_offset_words: u32::MAX - 5, word_count: 100 }, None),
        (CopyParams { src_offset_words: 0, dst_offset_words: 199, word_count: u32::MAX }, Some(1)),
        // Far more invocations than words: the grid-stride loop must still stop at the end.
        (CopyParams { src_offset_words: 3, dst_offset_words: 7, word_count: u32::MAX }, Some(64)),
        (CopyParams { src_offset_words: 0, dst_offset_words: 0, word_count: 0 }, None),
    ];
    for (p, groups) in cases {
        let total = GUARD + DST as usize + GUARD;
        let init: Vec<u32> = (0..total).map(|i| word(6, i)).collect();
        let dst_buffer = ctx.upload_words(&init, "dst with guards").unwrap();
        let binding = dst_buffer.slice(GUARD as u64 * 4, u64::from(DST) * 4).unwrap();
        ctx.dispatch_copy(p, src_buffer.whole(), binding, groups).unwrap();
        let out = ctx.download_words(dst_buffer.whole()).unwrap();
        let written = expected_copy(SRC, DST, p);
        for (i, &w) in out.iter().enumerate() {
            let in_binding = i.checked_sub(GUARD).filter(|&j| j < DST as usize).map(|j| j as u32);
            let expected = match in_binding {
                Some(j) if written.contains(&j) => {
                    src[(p.src_offset_words + (j - p.dst_offset_words)) as usize]
                }
                _ => init[i],
            };
            assert_eq!(w, expected, "{p:?}, groups {groups:?}: word {i} (guard {GUARD}, binding {DST})");
        }
    }
}

#[test]
fn timeline_values_increase_and_wait_returns() {
    let Some(ctx) = context("timeline") else { return };
    assert_eq!(ctx.last_submitted(), 0);
    // Waiting for what was never submitted would hang forever: refused.
    assert!(matches!(ctx.wait(1, Duration::from_millis(1)), Err(VulkanError::InvalidArgument(_))));
    let src = ctx.upload_words(&[1, 2, 3, 4], "src").unwrap();
    let dst = ctx.create_buffer(16, MemoryKind::DeviceLocal, "dst").unwrap();
    let first = ctx.last_submitted();
    let mut values = Vec::new();
    for _ in 0..5 {
        let p = CopyParams { src_offset_words: 0, dst_offset_words: 0, word_count: 4 };
        values.push(ctx.dispatch_copy(p, src.whole(), dst.whole(), None).unwrap());
    }
    let empty = ctx.batch().submit().unwrap();
    values.push(empty);
    for (k, v) in values.iter().enumerate() {
        assert_eq!(*v, first + 1 + k as u64, "values increase by one per submission");
    }
    assert_eq!(ctx.last_submitted(), empty);
    for &v in values.iter().rev() {
        ctx.wait(v, Duration::from_secs(60)).unwrap();
        assert!(ctx.completed().unwrap() >= v);
    }
    ctx.wait(empty, Duration::ZERO).unwrap();
    assert_eq!(dst.last_use(), values[4]);
    assert_eq!(ctx.download_words(dst.whole()).unwrap(), [1, 2, 3, 4]);
}

#[test]
fn buffers_outlive_their_context() {
    let Some(ctx) = context("buffer lifetime") else { return };
    let b = ctx.create_buffer(64, MemoryKind::Upload, "survivor").unwrap();
    let d = ctx.upload_words(&[7; 16], "in flight at drop").unwrap();
    drop(ctx); // waits for the upload, keeps the device for `b` and `d`
    b.write(8, &[1, 2, 3]).unwrap();
    let mut out = [0u8; 4];
    b.read(7, &mut out).unwrap();
    assert_eq!(out, [0, 1, 2, 3]);
    drop(d);
}

#[test]
fn bad_arguments_are_refused_before_recording() {
    let Some(ctx) = context("bad arguments") else { return };
    let small = ctx.create_buffer(4, MemoryKind::DeviceLocal, "small").unwrap();
    let big = ctx.create_buffer(1024, MemoryKind::DeviceLocal, "big").unwrap();
    let invalid = |r: Result<_, VulkanError>| matches!(r, Err(VulkanError::InvalidArgument(_)));
    let mut batch = ctx.batch();
    // Wrong binding count, unknown kernel, uniform smaller than CopyParams, misaligned offset.
    assert!(invalid(batch.dispatch("copy", &[big.whole()], [1, 1, 1]).map(|_| ())));
    assert!(invalid(batch.dispatch("nope", &[], [1, 1, 1]).map(|_| ())));
    assert!(invalid(
        batch.dispatch("copy", &[small.whole(), big.whole(), big.whole()], [1, 1, 1]).map(|_| ())
    ));
    let misaligned = big.slice(4, 64).unwrap();
    assert!(invalid(batch.dispatch("copy", &[big.whole(), misaligned, big.whole()], [1, 1, 1]).map(|_| ())));
    assert!(invalid(
        batch.dispatch("copy", &[big.whole(), big.whole(), big.whole()], [u32::MAX, 1, 1]).map(|_| ())
    ));
    // Copies: size mismatch, overlap; slices past the end; host access to device-local memory.
    assert!(invalid(batch.copy(small.whole(), big.whole()).map(|_| ())));
    assert!(invalid(batch.copy(big.slice(0, 8).unwrap(), big.slice(4, 8).unwrap()).map(|_| ())));
    assert!(batch.is_empty());
    assert!(invalid(big.slice(1000, 100).map(|_| ())));
    assert!(invalid(big.slice(0, 0).map(|_| ())));
    assert!(invalid(big.write(0, &[1])));
    assert!(invalid(ctx.create_buffer(0, MemoryKind::Upload, "empty").map(|_| ())));
    // Buffers of another context.
    let Some(other) = context("bad arguments (second context)") else { return };
    let foreign = other.create_buffer(1024, MemoryKind::DeviceLocal, "foreign").unwrap();
    assert!(invalid(batch.copy(foreign.whole(), big.whole()).map(|_| ())));
}

#[test]
fn pipeline_descriptor_layouts_match_the_reflected_bindings() {
    // The derivation itself, without a device.
    let copy = layout_bindings(&dsr_kernels::COPY);
    let types: Vec<_> = copy[0].iter().map(|b| (b.set, b.binding, b.descriptor_type)).collect();
    assert_eq!(
        types,
        [
            (0, 0, vk::DescriptorType::UNIFORM_BUFFER),
            (0, 1, vk::DescriptorType::STORAGE_BUFFER),
            (0, 2, vk::DescriptorType::STORAGE_BUFFER)
        ]
    );
    let Some(ctx) = context("pipeline layouts") else { return };
    for p in ctx.pipelines() {
        let k = p.kernel();
        let sets = p.layout_bindings();
        assert_eq!(p.descriptor_set_layouts().len(), sets.len(), "{}", k.name);
        assert!(p.descriptor_set_layouts().iter().all(|&l| l != vk::DescriptorSetLayout::null()));
        assert_ne!(p.pipeline(), vk::Pipeline::null());
        assert_eq!(sets.iter().map(Vec::len).sum::<usize>(), k.bindings.len(), "{}", k.name);
        for b in k.bindings {
            let lb =
                sets[b.group as usize].iter().find(|l| l.binding == b.binding).expect("binding in layout");
            let ty = match b.kind {
                BindingKind::Uniform => vk::DescriptorType::UNIFORM_BUFFER,
                BindingKind::StorageRead | BindingKind::StorageReadWrite => {
                    vk::DescriptorType::STORAGE_BUFFER
                }
            };
            assert_eq!((lb.set, lb.descriptor_type, lb.count), (b.group, ty, 1), "{}: {b:?}", k.name);
            assert_eq!(lb.stages, vk::ShaderStageFlags::COMPUTE);
        }
    }
    assert!(ctx.pipeline("copy").is_some());
    // The cache holds at least its header once pipelines were built.
    assert!(ctx.pipeline_cache_data().unwrap().len() >= 16);
}

/// An instance and device made by the "application" (this test), destroyed by it too.
struct AppDevice {
    _entry: ash::Entry,
    instance: ash::Instance,
    physical_device: vk::PhysicalDevice,
    device: ash::Device,
    family: u32,
}

impl AppDevice {
    fn new() -> Result<Self, VulkanError> {
        let picked_index = {
            let devices = probe()?;
            pick_device(&devices)
                .ok_or_else(|| VulkanError::NoDevice { why: "no usable device".into() })?
                .index
        };
        // SAFETY: dlopen of the system Vulkan loader; `entry` outlives every use (field of Self).
        let entry = unsafe { ash::Entry::load() }
            .map_err(|e| VulkanError::Unsupported { what: "Vulkan", why: e.to_string() })?;
        let app = vk::ApplicationInfo::default().api_version(vk::API_VERSION_1_2);
        let info = vk::InstanceCreateInfo::default().application_info(&app);
        // SAFETY: valid create info; destroyed in Drop.
        let instance = unsafe { entry.create_instance(&info, None) }.expect("vkCreateInstance");
        // SAFETY: valid instance.
        let physical_device =
            unsafe { instance.enumerate_physical_devices() }.expect("devices")[picked_index];
        // SAFETY: the physical device belongs to the instance.
        let families = unsafe { instance.get_physical_device_queue_family_properties(physical_device) };
        let family =
            families.iter().position(|q| q.queue_flags.contains(vk::QueueFlags::COMPUTE)).expect("compute")
                as u32;
        let priorities = [1.0];
        let queues =
            [vk::DeviceQueueCreateInfo::default().queue_family_index(family).queue_priorities(&priorities)];
        let mut v12 = vk::PhysicalDeviceVulkan12Features::default().timeline_semaphore(true);
        let create = vk::DeviceCreateInfo::default().queue_create_infos(&queues).push_next(&mut v12);
        // SAFETY: the picked device supports Vulkan 1.2 and timeline semaphores (pick_device);
        // destroyed in Drop.
        let device =
            unsafe { instance.create_device(physical_device, &create, None) }.expect("vkCreateDevice");
        Ok(Self { _entry: entry, instance, physical_device, device, family })
    }

    fn desc(&self) -> AdoptDesc {
        AdoptDesc {
            instance: self.instance.handle(),
            physical_device: self.physical_device,
            device: self.device.handle(),
            queue_family_index: self.family,
            queue_index: 0,
            enabled_features: DeviceFeatures { timeline_semaphore: true, ..DeviceFeatures::default() },
            get_instance_proc_addr: None,
        }
    }
}

impl Drop for AppDevice {
    fn drop(&mut self) {
        // SAFETY: every context adopting the device, and its buffers, are gone by now.
        unsafe { self.device.destroy_device(None) };
        // SAFETY: its only device was destroyed just above.
        unsafe { self.instance.destroy_instance(None) };
    }
}

#[test]
fn adopted_device_works_and_survives_the_context() {
    let Some(app) = available("adoption", AppDevice::new()) else { return };
    let queue_lock = Arc::new(Mutex::new(()));
    // Without timeline semaphores declared enabled, adoption is refused.
    let mut no_timeline = app.desc();
    no_timeline.enabled_features.timeline_semaphore = false;
    // SAFETY: valid handles owned by `app`, which outlives the attempt.
    let refused = unsafe { VulkanContext::adopt(&no_timeline, Arc::clone(&queue_lock)) };
    assert!(matches!(refused, Err(VulkanError::Unsupported { .. })));

    // SAFETY: the handles are valid and created as `desc` says; `app` outlives the context and
    // its buffers (dropped below before `app`); nothing else uses the queue.
    let ctx = unsafe { VulkanContext::adopt(&app.desc(), Arc::clone(&queue_lock)) }.expect("adopt");
    assert!(!ctx.owns_device());
    assert!(Arc::ptr_eq(ctx.queue_lock(), &queue_lock));
    let src: Vec<u32> = (0..1000).map(|i| word(9, i)).collect();
    let mut dst = vec![0u32; 1000];
    ctx.copy_words(&src, &mut dst, CopyParams { src_offset_words: 0, dst_offset_words: 0, word_count: 1000 })
        .unwrap();
    assert_eq!(dst, src);
    drop(ctx);

    // The device is still alive and usable by its owner: create and use objects on it.
    // SAFETY: the device is valid (owned by `app`), no other thread uses it.
    unsafe { app.device.device_wait_idle() }.expect("device still alive after the context");
    let info = vk::BufferCreateInfo::default().size(64).usage(vk::BufferUsageFlags::STORAGE_BUFFER);
    // SAFETY: valid device and create info; destroyed right below.
    let buffer = unsafe { app.device.create_buffer(&info, None) }.expect("vkCreateBuffer after the context");
    // SAFETY: created above, unused.
    unsafe { app.device.destroy_buffer(buffer, None) };
    // A second adoption of the same device works too.
    // SAFETY: as for the first adoption.
    let again = unsafe { VulkanContext::adopt(&app.desc(), queue_lock) }.expect("adopt again");
    drop(again);
    drop(app); // destroys device and instance (the test's own)
}

/// Lanes (several submission queues, `ContextOptions::submission_queues`): ordered
/// submissions on different lanes wait for each other, independent ones may overlap, and the
/// timeline still advances by one per submission, in order. On a family with one queue
/// (lavapipe) the lanes share it and this checks the semaphore chain (lane → join →
/// timeline); on the H100 they are separate queues.
#[test]
fn lanes_keep_ordered_submissions_in_order_and_the_timeline_monotonic() {
    let options = ContextOptions { submission_queues: Some(3), ..Default::default() };
    let Some(ctx) = available("lanes", VulkanContext::new(&options)) else { return };
    assert_eq!(ctx.submission_queues(), 3);
    let n = 1 << 18;
    let words: Vec<u32> = (0..n).map(|i| word(5, i)).collect();
    let a = ctx.upload_words(&words, "a").unwrap();
    let bufs: Vec<_> = (0..4)
        .map(|i| ctx.create_buffer(4 * n as u64, MemoryKind::DeviceLocal, &format!("b{i}")).unwrap())
        .collect();
    // A chain a → b0 → b1 → b2 → b3, one submission each (so each on the next lane): every
    // step reads what the previous submission wrote.
    let mut values = Vec::new();
    let mut src = &a;
    for b in &bufs {
        let mut batch = ctx.batch();
        batch.copy(src.whole(), b.whole()).unwrap();
        values.push(batch.submit().unwrap());
        src = b;
    }
    // Independent pieces: quarters of `a` into `e`, each declared independent of the others.
    let e = ctx.create_buffer(4 * n as u64, MemoryKind::DeviceLocal, "e").unwrap();
    let quarter = n as u64;
    let mut own = Vec::new();
    for q in 0..4 {
        let mut batch = ctx.batch();
        batch.copy(a.slice(q * quarter, quarter).unwrap(), e.slice(q * quarter, quarter).unwrap()).unwrap();
        batch.ordered_only_after(&own);
        let v = batch.submit().unwrap();
        own.push(v);
        values.push(v);
    }
    for w in values.windows(2) {
        assert_eq!(w[1], w[0] + 1, "values increase by one per submission: {values:?}");
    }
    ctx.wait(*values.last().unwrap(), Duration::from_secs(60)).unwrap();
    assert!(values.iter().all(|&v| ctx.completed().unwrap() >= v));
    assert_eq!(ctx.download_words(bufs[3].whole()).unwrap(), words, "the chain's last copy saw every step");
    assert_eq!(ctx.download_words(e.whole()).unwrap(), words);
}
