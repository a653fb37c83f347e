//! The streaming pipeline into Vulkan buffers: GPU copies and GPU GDeflate decodes straight
//! from the staging ring, checked byte for byte against the original data and against the
//! CPU backend's results and errors.
//!
//! Runs on lavapipe in CI (`DSR_REQUIRE_GPU=1` makes a missing device a failure); elsewhere a
//! machine without Vulkan skips with a notice. Data is kept small: lavapipe decodes at tens
//! of MB/s.
#![cfg(feature = "vulkan")]

use ds_runtime::Backend;
use ds_runtime::stream::{
    Compression, Destination, File, HostBuffer, IoKind, QueueDesc, RejectReason, Request, RequestError,
    Runtime, RuntimeConfig, Source, StagingKind,
};
use ds_runtime::vulkan::{GpuBuffer, ImageDesc, ImageRegion, MemoryKind, VulkanContext, ash::vk};
use dsr_gdeflate::Level;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

fn require_gpu() -> bool {
    std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1")
}

fn vulkan_runtime(io: IoKind) -> Option<Runtime> {
    vulkan_runtime_with(io, true)
}

fn vulkan_runtime_with(io: IoKind, import_host_memory: bool) -> Option<Runtime> {
    let config = RuntimeConfig {
        backend: Backend::Vulkan,
        io,
        import_host_memory,
        staging_bytes: 8 << 20,
        chunk_bytes: 1 << 20,
        ..RuntimeConfig::default()
    };
    match Runtime::new(config) {
        Ok(rt) => Some(rt),
        Err(e) => {
            assert!(!require_gpu(), "DSR_REQUIRE_GPU=1 but: {e}");
            eprintln!("NOTICE: Vulkan pipeline tests skipped: {e} (set DSR_REQUIRE_GPU=1 to fail instead)");
            None
        }
    }
}

fn ctx(rt: &Runtime) -> &Arc<VulkanContext> {
    rt.vulkan_context().expect("a Vulkan runtime has a context")
}

/// A device-local buffer of `len` bytes (rounded up to words) holding zeros.
fn zeroed(rt: &Runtime, len: usize) -> Arc<GpuBuffer> {
    Arc::new(ctx(rt).upload_bytes(&vec![0u8; len.next_multiple_of(4).max(4)], "test dst").unwrap())
}

fn download(rt: &Runtime, b: &GpuBuffer) -> Vec<u8> {
    ctx(rt).download_bytes(b.whole()).unwrap()
}

fn gpu_request(
    source: Source,
    compression: Compression,
    dst: &Arc<GpuBuffer>,
    offset: u64,
    tag: u64,
) -> Request {
    Request {
        source,
        destination: Destination::Buffer { buffer: Arc::clone(dst), offset },
        compression,
        tag,
        name: format!("gpu {tag}").into(),
    }
}

fn corpus() -> PathBuf {
    match std::env::var_os("DSR_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
    }
}

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }
}

fn make_data(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let words: [&[u8]; 5] = [b"vertex ", b"normal ", b"\x00\x00\x00\x00", b"uv 0.5 ", b"index "];
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        if r.below(6) == 0 {
            v.push(r.next() as u8);
        } else {
            v.extend_from_slice(words[r.below(5) as usize]);
        }
    }
    v.truncate(len);
    v
}

#[test]
fn corpus_streams_decode_on_the_gpu_byte_exact_from_the_staging_ring() {
    let Some(rt) = vulkan_runtime(IoKind::Auto) else { return };
    let q = rt.create_queue(QueueDesc { capacity: 64, ..QueueDesc::default() });
    let mut jobs = Vec::new();
    for e in std::fs::read_dir(corpus().join("gdeflate")).unwrap() {
        let p = e.unwrap().path();
        if !p.to_string_lossy().contains(".lvl1.") {
            continue; // one level per file keeps lavapipe time down
        }
        let stream = std::fs::read(&p).unwrap();
        let raw = dsr_gdeflate::decompress(&stream, 0).unwrap();
        let dst = zeroed(&rt, raw.len() + 8);
        let c = Compression::GDeflate { uncompressed_size: raw.len() as u64 };
        let t = q.enqueue(gpu_request(Source::whole_file(&File::open(&p).unwrap()), c, &dst, 3, 0)).unwrap();
        jobs.push((p, raw, dst, t));
    }
    assert!(jobs.len() >= 7);
    q.submit();
    for (p, raw, dst, t) in jobs {
        t.wait().unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        let got = download(&rt, &dst);
        assert!(got[3..3 + raw.len()] == raw[..], "{}: bytes differ", p.display());
        assert!(
            got[..3].iter().chain(&got[3 + raw.len()..]).all(|&b| b == 0),
            "{}: stray writes",
            p.display()
        );
        if !raw.is_empty() {
            assert!(t.timeline_value().is_some_and(|v| ctx(&rt).completed().unwrap() >= v));
        }
    }
}

/// Requests at random offsets, sizes, compressions and sources into one GPU buffer and into
/// host buffers on a CPU runtime: both equal the expected bytes, so they equal each other.
fn random_requests(io: IoKind, import: bool, count: usize, seed: u64) {
    let Some(rt) = vulkan_runtime_with(io, import) else { return };
    let cpu = Runtime::new(RuntimeConfig {
        backend: Backend::Cpu,
        io,
        staging_bytes: 4 << 20,
        chunk_bytes: 1 << 20,
        ..Default::default()
    })
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.bin");
    let mut r = Rng(seed);
    let mut file_bytes = Vec::new();
    let mut streams = Vec::new();
    for i in 0..24 {
        file_bytes.extend(std::iter::repeat_n(0x3Cu8, r.below(5) as usize));
        let data = make_data(r.below(150_000) as usize, seed + i);
        let s = dsr_gdeflate::compress(&data, Level::new(1 + (i as u32 % 12)).unwrap(), 1).unwrap();
        streams.push((file_bytes.len() as u64, s.len() as u64, data));
        file_bytes.extend_from_slice(&s);
    }
    file_bytes.extend(make_data(300_000, seed ^ 5));
    std::fs::File::create(&path).unwrap().write_all(&file_bytes).unwrap();
    let f = File::open(&path).unwrap();
    let mem: Arc<Vec<u8>> = Arc::new(file_bytes.clone());

    let mut plan = Vec::new(); // (source, compression, expected)
    for _ in 0..count {
        let from_memory = r.below(4) == 0;
        if r.below(3) == 0 {
            let (off, len, data) = &streams[r.below(streams.len() as u64) as usize];
            let src = if from_memory {
                Source::Memory { data: mem.clone(), offset: *off as usize, size: *len as usize }
            } else {
                Source::File { file: f.clone(), offset: *off, size: *len }
            };
            plan.push((src, Compression::GDeflate { uncompressed_size: data.len() as u64 }, data.clone()));
        } else {
            let len = 1 + r.below(20_000) as usize;
            let off = r.below((file_bytes.len() - len) as u64) as usize;
            let src = if from_memory {
                Source::Memory { data: mem.clone(), offset: off, size: len }
            } else {
                Source::File { file: f.clone(), offset: off as u64, size: len as u64 }
            };
            plan.push((src, Compression::None, file_bytes[off..off + len].to_vec()));
        }
    }
    // Disjoint ranges of one buffer, random gaps, unaligned offsets.
    let mut offsets = Vec::new();
    let mut at = 0u64;
    for (_, _, e) in &plan {
        at += r.below(9);
        offsets.push(at);
        at += e.len() as u64;
    }
    let total = at as usize + 16;
    let gpu_dst = zeroed(&rt, total);
    let host_dst = HostBuffer::new(total);
    let gq = rt.create_queue(QueueDesc { capacity: 256, ..QueueDesc::default() });
    let cq = cpu.create_queue(QueueDesc { capacity: 256, ..QueueDesc::default() });
    for (i, ((src, c, _), off)) in plan.iter().zip(&offsets).enumerate() {
        gq.enqueue(gpu_request(src.clone(), *c, &gpu_dst, *off, i as u64)).unwrap().detach();
        let host = Request {
            source: src.clone(),
            destination: Destination::Host { buffer: host_dst.clone(), offset: *off as usize },
            compression: *c,
            tag: i as u64,
            name: "host".into(),
        };
        cq.enqueue(host).unwrap().detach();
    }
    gq.drain();
    cq.drain();
    assert_eq!((gq.stats().completed, gq.stats().failed), (count as u64, 0), "{:?}", gq.error_record());
    assert_eq!((cq.stats().completed, cq.stats().failed), (count as u64, 0), "{:?}", cq.error_record());
    let mut expected = vec![0u8; total];
    for ((_, _, e), off) in plan.iter().zip(&offsets) {
        expected[*off as usize..*off as usize + e.len()].copy_from_slice(e);
    }
    let got = download(&rt, &gpu_dst);
    let first_diff = got.iter().zip(&expected).position(|(a, b)| a != b);
    assert!(first_diff.is_none(), "{io:?}: GPU destination differs at byte {first_diff:?}");
    assert!(host_dst.to_vec()[..total] == expected[..], "{io:?}: host destination differs");
}

#[test]
fn two_thousand_random_requests_into_a_gpu_buffer_match_the_cpu_backend_via_io_uring() {
    random_requests(IoKind::Uring, true, 2000, 0xC0FFEE);
}

#[test]
fn the_mapped_vulkan_memory_ring_fallback_gives_the_same_bytes() {
    random_requests(IoKind::Uring, false, 300, 0xFA11);
}

#[test]
fn the_staging_ring_is_imported_host_memory_where_the_device_allows_it() {
    let Some(rt) = vulkan_runtime(IoKind::Auto) else { return };
    let imported = matches!(rt.staging_kind(), StagingKind::VulkanImported(_));
    assert_eq!(imported, ctx(&rt).can_import_host_memory(), "{:?}", rt.staging_kind());
    let Some(fallback) = vulkan_runtime_with(IoKind::Auto, false) else { return };
    assert_eq!(fallback.staging_kind(), StagingKind::VulkanHostVisible);
}

#[test]
fn random_requests_into_a_gpu_buffer_match_the_cpu_backend_via_pread() {
    random_requests(IoKind::Pread, true, 500, 0xBEEF);
}

#[test]
fn a_highly_compressible_stream_decodes_in_large_dispatches() {
    // 600 tiles of tiny pages fit one 1 MiB chunk: one GPU dispatch of 600 tiles (the CPU
    // path cuts the same stream into jobs of at most 256 tiles).
    let Some(rt) = vulkan_runtime(IoKind::Auto) else { return };
    let data: Vec<u8> =
        (0..600u32 * 65536).map(|i| if i % 65536 == 7 { (i / 65536) as u8 } else { 0 }).collect();
    let stream = dsr_gdeflate::compress(&data, Level::DEFAULT, 0).unwrap();
    assert!(stream.len() < 1 << 19, "{} bytes", stream.len());
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("zeros.gdf");
    std::fs::write(&p, &stream).unwrap();
    let q = rt.create_queue(QueueDesc::default());
    let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
    let dst = zeroed(&rt, data.len());
    let host = HostBuffer::new(data.len());
    let f = File::open(&p).unwrap();
    let t1 = q.enqueue(gpu_request(Source::whole_file(&f), c, &dst, 0, 1)).unwrap();
    let t2 = q
        .enqueue(Request {
            source: Source::whole_file(&f),
            destination: Destination::Host { buffer: host.clone(), offset: 0 },
            compression: c,
            tag: 2,
            name: "host".into(),
        })
        .unwrap();
    q.submit();
    t1.wait().unwrap();
    t2.wait().unwrap();
    assert!(download(&rt, &dst)[..data.len()] == data[..]);
    assert!(host.to_vec() == data);
}

#[test]
fn a_corrupt_page_on_the_gpu_reports_the_cpu_decoders_error_and_spares_other_requests() {
    let Some(rt) = vulkan_runtime(IoKind::Auto) else { return };
    let data = make_data(300_000, 99);
    let good = dsr_gdeflate::compress(&data, Level::DEFAULT, 1).unwrap();
    let mut bad = good.clone();
    let r = dsr_gdeflate::TileStream::parse(&good).unwrap().tile_range(2);
    for b in &mut bad[r.start + 4..r.start + 60] {
        *b = b.wrapping_mul(31) ^ 0xC3;
    }
    let expected = dsr_gdeflate::decompress(&bad, 1).unwrap_err();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.gdf");
    std::fs::write(&p, &bad).unwrap();
    let q = rt.create_queue(QueueDesc::default());
    let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
    let d1 = zeroed(&rt, data.len());
    let d2 = zeroed(&rt, data.len());
    let t_bad = q.enqueue(gpu_request(Source::whole_file(&File::open(&p).unwrap()), c, &d1, 0, 1)).unwrap();
    let t_good = q.enqueue(gpu_request(Source::memory(Arc::new(good)), c, &d2, 0, 2)).unwrap();
    q.submit();
    assert_eq!(t_bad.wait(), Err(RequestError::Decode(expected)));
    t_good.wait().unwrap();
    assert!(download(&rt, &d2)[..data.len()] == data[..]);
    assert_eq!(q.error_record().failure_count, 1);
}

fn region(
    mip_level: u32,
    array_layer: u32,
    layer_count: u32,
    offset: [i32; 2],
    extent: [u32; 2],
) -> ImageRegion {
    ImageRegion {
        mip_level,
        array_layer,
        layer_count,
        offset: vk::Offset3D { x: offset[0], y: offset[1], z: 0 },
        extent: vk::Extent3D { width: extent[0], height: extent[1], depth: 1 },
    }
}

#[test]
fn image_regions_are_filled_from_stored_and_gdeflate_sources_through_a_scratch_buffer() {
    let Some(rt) = vulkan_runtime(IoKind::Auto) else { return };
    let ctx = Arc::clone(ctx(&rt));
    let desc = ImageDesc {
        format: vk::Format::R8G8B8A8_UNORM,
        extent: vk::Extent3D { width: 1024, height: 512, depth: 1 },
        mip_levels: 3,
        array_layers: 2,
    };
    let image = Arc::new(ctx.create_image(&desc, "test image").unwrap());
    let dir = tempfile::tempdir().unwrap();
    // (region, data, compressed?, from file?)
    let regions = [
        region(0, 0, 1, [0, 0], [1024, 512]), // 2 MiB: several pieces of a 1 MiB-chunk ring
        region(0, 1, 1, [0, 0], [1024, 512]),
        region(1, 0, 2, [64, 32], [128, 64]),
        region(2, 1, 1, [255, 127], [1, 1]), // the last texel of the smallest mip
    ];
    let q = rt.create_queue(QueueDesc::default());
    let mut expect = Vec::new();
    for (i, r) in regions.iter().enumerate() {
        let bytes = image.region_bytes(r).unwrap() as usize;
        let data = make_data(bytes, 1000 + i as u64);
        let compressed = i % 2 == 1;
        let payload =
            if compressed { dsr_gdeflate::compress(&data, Level::DEFAULT, 1).unwrap() } else { data.clone() };
        let p = dir.path().join(format!("r{i}"));
        std::fs::write(&p, &payload).unwrap();
        let source = if i == 2 {
            Source::memory(Arc::new(payload))
        } else {
            Source::whole_file(&File::open(&p).unwrap())
        };
        let compression = if compressed {
            Compression::GDeflate { uncompressed_size: bytes as u64 }
        } else {
            Compression::None
        };
        let req = Request {
            source,
            destination: Destination::Image { image: Arc::clone(&image), region: *r },
            compression,
            tag: i as u64,
            name: format!("region {i}").into(),
        };
        expect.push((q.enqueue(req).unwrap(), *r, data));
    }
    q.submit();
    for (t, r, data) in expect {
        t.wait().unwrap_or_else(|e| panic!("{r:?}: {e}"));
        assert!(t.timeline_value().is_some_and(|v| ctx.completed().unwrap() >= v));
        assert!(ctx.download_image(&image, &r).unwrap() == data, "{r:?}: texels differ");
    }
}

#[test]
fn bad_and_unsupported_destinations_are_refused_with_a_reason() {
    let Some(rt) = vulkan_runtime(IoKind::Auto) else { return };
    let q = rt.create_queue(QueueDesc::default());
    let src = Source::memory(Arc::new(vec![1u8; 64]));
    let desc = ImageDesc {
        format: vk::Format::R8G8B8A8_UNORM,
        extent: vk::Extent3D { width: 4, height: 4, depth: 1 },
        mip_levels: 1,
        array_layers: 1,
    };
    let image = Arc::new(ctx(&rt).create_image(&desc, "x").unwrap());
    let image_request = |r: ImageRegion| Request {
        source: src.clone(),
        destination: Destination::Image { image: Arc::clone(&image), region: r },
        compression: Compression::None,
        tag: 0,
        name: "image".into(),
    };
    // 64 bytes = 4x4 RGBA8: a 2x2 region does not match, a region outside the image is refused.
    for r in
        [region(0, 0, 1, [0, 0], [2, 2]), region(0, 0, 1, [2, 2], [4, 4]), region(1, 0, 1, [0, 0], [4, 4])]
    {
        let rej = q.try_enqueue(image_request(r)).unwrap_err();
        assert!(matches!(rej.reason, RejectReason::Invalid(_)), "{r:?}: {rej}");
    }
    let t = q.try_enqueue(image_request(region(0, 0, 1, [0, 0], [4, 4]))).unwrap();
    q.submit();
    t.wait().unwrap();
    // GPU destinations on a CPU runtime.
    let cpu = Runtime::new(RuntimeConfig {
        backend: Backend::Cpu,
        staging_bytes: 1 << 20,
        chunk_bytes: 512 << 10,
        ..Default::default()
    })
    .unwrap();
    let cq = cpu.create_queue(QueueDesc::default());
    let buf = Arc::new(ctx(&rt).create_buffer(64, MemoryKind::DeviceLocal, "x").unwrap());
    let r = cq.try_enqueue(gpu_request(src.clone(), Compression::None, &buf, 0, 0)).unwrap_err();
    assert!(matches!(r.reason, RejectReason::Unsupported { what: "GPU destinations", .. }), "{r}");
    let r = cq.try_enqueue(image_request(region(0, 0, 1, [0, 0], [4, 4]))).unwrap_err();
    assert!(matches!(r.reason, RejectReason::Unsupported { what: "image destinations", .. }), "{r}");
}

#[test]
fn dropping_a_vulkan_runtime_with_gpu_work_in_flight_finishes_every_ticket() {
    let Some(rt) = vulkan_runtime(IoKind::Auto) else { return };
    let data = make_data(200_000, 7);
    let stream = Arc::new(dsr_gdeflate::compress(&data, Level::DEFAULT, 1).unwrap());
    let q = rt.create_queue(QueueDesc { capacity: 64, ..QueueDesc::default() });
    let mut ts = Vec::new();
    for i in 0..48 {
        let dst = zeroed(&rt, data.len());
        let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
        ts.push((q.enqueue(gpu_request(Source::memory(stream.clone()), c, &dst, 0, i)).unwrap(), dst));
    }
    q.submit();
    let ctx = Arc::clone(ctx(&rt));
    drop(rt);
    for (t, dst) in ts {
        match t.poll().expect("finished") {
            Ok(()) => assert!(ctx.download_bytes(dst.whole()).unwrap()[..data.len()] == data[..]),
            Err(e) => assert_eq!(e, RequestError::Cancelled),
        }
    }
}

// GPU pieces wait in the scheduler until fewer than two of its batches run, and are then
// submitted together: a cancel must reach pieces that are waiting (they decode nothing), every
// ticket must still finish, and the queue must work afterwards.
#[test]
fn cancelling_gpu_requests_while_pieces_wait_for_a_batch_finishes_every_ticket() {
    let Some(rt) = vulkan_runtime(IoKind::Auto) else { return };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("streams.bin");
    let data = make_data(300_000, 11);
    let stream = dsr_gdeflate::compress(&data, Level::DEFAULT, 1).unwrap();
    std::fs::File::create(&path).unwrap().write_all(&stream).unwrap();
    let f = File::open(&path).unwrap();
    let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
    let src = || Source::File { file: f.clone(), offset: 0, size: stream.len() as u64 };
    let q = rt.create_queue(QueueDesc { capacity: 64, ..QueueDesc::default() });
    let mut ts = Vec::new();
    for i in 0..40 {
        let dst = zeroed(&rt, data.len());
        ts.push((q.enqueue(gpu_request(src(), c, &dst, 0, i % 2)).unwrap(), dst));
    }
    q.submit();
    q.cancel(1, 1); // odd tags
    for (i, (t, dst)) in ts.into_iter().enumerate() {
        match t.wait() {
            Ok(()) => assert!(download(&rt, &dst)[..data.len()] == data[..], "request {i}: wrong bytes"),
            Err(e) => {
                assert_eq!(e, RequestError::Cancelled, "request {i}");
                assert_eq!(i % 2, 1, "request {i} has an even tag and was not cancelled");
            }
        }
    }
    let dst = zeroed(&rt, data.len());
    let t = q.enqueue(gpu_request(src(), c, &dst, 0, 8)).unwrap();
    q.submit();
    t.wait().unwrap();
    assert!(download(&rt, &dst)[..data.len()] == data[..], "the queue works after the cancel");
}
