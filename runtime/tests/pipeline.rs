//! The streaming pipeline on the CPU backend: corpus files and generated data through
//! queues, byte for byte, on both I/O engines; splitting, cancellation, bad files, injected
//! read errors and short reads, O_DIRECT and buffered reads, registered and unregistered
//! buffers, backpressure, priorities, statistics, and dropping queues and runtimes with work
//! in flight. Generated files are dropped from the page cache first, so reads take the
//! O_DIRECT path where the file system has one.

use ds_runtime::Backend;
use ds_runtime::stream::{
    Compression, Destination, File, HostBuffer, IoKind, Priority, QueueDesc, RejectReason, Request,
    RequestError, Runtime, RuntimeConfig, Source, drop_page_cache,
};
use dsr_gdeflate::{DecodeErrorKind, Level};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

fn corpus() -> PathBuf {
    match std::env::var_os("DSR_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
    }
}

/// (stream path, raw bytes) of every corpus `.gdf`.
fn corpus_pairs() -> Vec<(PathBuf, Vec<u8>)> {
    let dir = corpus().join("gdeflate");
    let mut out = Vec::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("corpus {}: {e}", dir.display())) {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let raw_name = name.trim_end_matches(".gdf").rsplit_once(".lvl").unwrap().0.to_string();
        // Synthetic streams without a raw file (syn_random_1MiB) are checked by decoding.
        let raw = match std::fs::read(corpus().join("raw").join(&raw_name)) {
            Ok(raw) => raw,
            Err(_) => dsr_gdeflate::decompress(&std::fs::read(&p).unwrap(), 1).unwrap(),
        };
        out.push((p, raw));
    }
    out.sort();
    assert!(out.len() >= 10, "corpus has only {} streams", out.len());
    out
}

fn runtime(io: IoKind) -> Runtime {
    Runtime::new(RuntimeConfig {
        backend: Backend::Cpu,
        io,
        staging_bytes: 8 << 20,
        chunk_bytes: 1 << 20,
        ..RuntimeConfig::default()
    })
    .unwrap()
}

fn host_request(
    source: Source,
    compression: Compression,
    out: &HostBuffer,
    offset: usize,
    tag: u64,
) -> Request {
    Request {
        source,
        destination: Destination::Host { buffer: out.clone(), offset },
        compression,
        tag,
        name: format!("req {tag}").into(),
    }
}

/// A deterministic pseudo-random generator (no extra dependency).
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

/// Compressible data: runs of text-like bytes with some noise.
fn make_data(len: usize, seed: u64) -> Vec<u8> {
    let mut r = Rng(seed | 1);
    let words: [&[u8]; 6] =
        [b"texture ", b"mesh ", b"0123456789", b"\x00\x00\x00\x00", b"shader ", b"GDeflate "];
    let mut v = Vec::with_capacity(len);
    while v.len() < len {
        if r.below(8) == 0 {
            v.push(r.next() as u8);
        } else {
            v.extend_from_slice(words[r.below(6) as usize]);
        }
    }
    v.truncate(len);
    v
}

#[test]
fn corpus_streams_and_raw_files_load_byte_exact_through_io_uring_and_pread() {
    for io in [IoKind::Uring, IoKind::Pread] {
        let rt = runtime(io);
        assert_eq!(rt.io_kind(), io);
        let q = rt.create_queue(QueueDesc { capacity: 64, ..QueueDesc::default() });
        let mut jobs = Vec::new();
        for (i, (path, raw)) in corpus_pairs().into_iter().enumerate() {
            let f = File::open(&path).unwrap();
            let out = HostBuffer::new(raw.len());
            let c = Compression::GDeflate { uncompressed_size: raw.len() as u64 };
            let t = q.enqueue(host_request(Source::whole_file(&f), c, &out, 0, i as u64)).unwrap();
            jobs.push((path.clone(), raw.clone(), out, t));
            // And the raw file, stored.
            let raw_path = corpus()
                .join("raw")
                .join(path.file_name().unwrap().to_string_lossy().split(".lvl").next().unwrap());
            let Ok(rawf) = File::open(&raw_path) else { continue };
            let out2 = HostBuffer::new(raw.len());
            let t2 = q
                .enqueue(host_request(
                    Source::whole_file(&rawf),
                    Compression::None,
                    &out2,
                    0,
                    1000 + i as u64,
                ))
                .unwrap();
            jobs.push((path, raw, out2, t2));
        }
        q.submit();
        for (path, raw, out, t) in jobs {
            t.wait().unwrap_or_else(|e| panic!("{io:?} {}: {e}", path.display()));
            assert!(out.to_vec() == raw, "{io:?} {}: bytes differ", path.display());
        }
        let s = q.stats();
        assert_eq!(s.failed, 0);
        assert!(s.completed >= 20 && s.latency.count() == s.completed, "{s:?}");
    }
}

/// A file holding `n` GDeflate streams and a stored region, with the expected contents.
struct Fixture {
    _dir: tempfile::TempDir,
    path: PathBuf,
    /// (offset, stream length, original bytes)
    streams: Vec<(u64, u64, Vec<u8>)>,
    /// The whole file.
    file_bytes: Vec<u8>,
}

fn fixture(n: usize, max_len: usize, seed: u64) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("mixed.bin");
    let mut r = Rng(seed);
    let mut file_bytes = Vec::new();
    let mut streams = Vec::new();
    for i in 0..n {
        // Unaligned starts: streams need not be 4-byte aligned in the file.
        file_bytes.extend(std::iter::repeat_n(0xA5u8, r.below(7) as usize));
        let len = r.below(max_len as u64) as usize;
        let data = make_data(len, seed ^ ((i as u64 + 1) * 0x9E37));
        let level = if i % 3 == 0 { Level::new(1).unwrap() } else { Level::DEFAULT };
        let s = dsr_gdeflate::compress(&data, level, 1).unwrap();
        streams.push((file_bytes.len() as u64, s.len() as u64, data));
        file_bytes.extend_from_slice(&s);
    }
    file_bytes.extend(make_data(1 << 20, seed ^ 77));
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(&file_bytes).unwrap();
    // Out of the page cache, so reads take the O_DIRECT path where the file system has one
    // (cached ranges are read buffered).
    f.sync_all().unwrap();
    drop_page_cache(&f).unwrap();
    Fixture { _dir: dir, path, streams, file_bytes }
}

/// Tens of thousands of random requests (stored and GDeflate, file and memory sources,
/// random offsets and sizes) into host buffers, verified byte for byte, on one engine.
fn stress(io: IoKind, count: usize, seed: u64) {
    let fx = fixture(64, 200_000, seed);
    let rt = runtime(io);
    let q = rt.create_queue(QueueDesc { capacity: 512, ..QueueDesc::default() });
    let f = File::open(&fx.path).unwrap();
    let mem: Arc<Vec<u8>> = Arc::new(fx.file_bytes.clone());
    let mut r = Rng(seed ^ 0xDEAD);
    let mut pending = std::collections::VecDeque::new();
    let check = |(t, out, expect, offset): (ds_runtime::stream::Ticket, HostBuffer, Vec<u8>, usize)| {
        t.wait().unwrap();
        let got = out.to_vec();
        assert!(got[offset..offset + expect.len()] == expect[..], "{io:?}: bytes differ");
        assert!(got[..offset].iter().all(|&b| b == 0), "{io:?}: wrote before the range");
        assert!(got[offset + expect.len()..].iter().all(|&b| b == 0), "{io:?}: wrote past the range");
    };
    for i in 0..count {
        let from_memory = r.below(4) == 0;
        let dst_off = r.below(64) as usize;
        let (source, compression, expect) = if r.below(2) == 0 {
            let (off, len, data) = &fx.streams[r.below(fx.streams.len() as u64) as usize];
            let source = if from_memory {
                Source::Memory { data: mem.clone(), offset: *off as usize, size: *len as usize }
            } else {
                Source::File { file: f.clone(), offset: *off, size: *len }
            };
            (source, Compression::GDeflate { uncompressed_size: data.len() as u64 }, data.clone())
        } else {
            let len = 1 + r.below(if i % 100 == 0 { 1 << 21 } else { 70_000 }) as usize;
            let len = len.min(fx.file_bytes.len() - 1);
            let off = r.below((fx.file_bytes.len() - len) as u64) as usize;
            let source = if from_memory {
                Source::Memory { data: mem.clone(), offset: off, size: len }
            } else {
                Source::File { file: f.clone(), offset: off as u64, size: len as u64 }
            };
            (source, Compression::None, fx.file_bytes[off..off + len].to_vec())
        };
        let out = HostBuffer::new(dst_off + expect.len() + r.below(16) as usize);
        let t = q.enqueue(host_request(source, compression, &out, dst_off, i as u64)).unwrap();
        pending.push_back((t, out, expect, dst_off));
        if pending.len() >= 256 {
            q.submit();
            for _ in 0..128 {
                check(pending.pop_front().unwrap());
            }
        }
    }
    q.submit();
    for p in pending {
        check(p);
    }
    let s = q.stats();
    assert_eq!((s.completed, s.failed, s.cancelled), (count as u64, 0, 0));
    assert!(q.error_record().first.is_none());
}

#[test]
fn twenty_thousand_random_requests_are_byte_exact_through_io_uring() {
    stress(IoKind::Uring, 20_000, 0x1234_5678);
}

#[test]
fn twenty_thousand_random_requests_are_byte_exact_through_pread() {
    stress(IoKind::Pread, 20_000, 0x1234_5678);
}

#[test]
fn unregistered_io_uring_buffers_and_buffered_reads_give_the_same_bytes() {
    let fx = fixture(16, 200_000, 0x77);
    for (register, direct_io) in [(false, true), (true, false), (false, false)] {
        let rt = Runtime::new(RuntimeConfig {
            backend: Backend::Cpu,
            io: IoKind::Uring,
            register_buffers: register,
            direct_io,
            staging_bytes: 4 << 20,
            chunk_bytes: 1 << 20,
            ..RuntimeConfig::default()
        })
        .unwrap();
        assert_eq!(rt.fixed_buffers(), register);
        let q = rt.create_queue(QueueDesc::default());
        let f = File::open(&fx.path).unwrap();
        let mut ts = Vec::new();
        for (i, (off, len, data)) in fx.streams.iter().enumerate() {
            let out = HostBuffer::new(data.len());
            let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
            let src = Source::File { file: f.clone(), offset: *off, size: *len };
            ts.push((q.enqueue(host_request(src, c, &out, 0, i as u64)).unwrap(), out, data.clone()));
        }
        let all = HostBuffer::new(fx.file_bytes.len());
        let t = q.enqueue(host_request(Source::whole_file(&f), Compression::None, &all, 0, 99)).unwrap();
        q.submit();
        for (t, out, data) in ts {
            t.wait().unwrap();
            assert!(out.to_vec() == data, "register {register}, direct {direct_io}");
        }
        t.wait().unwrap();
        assert!(all.to_vec() == fx.file_bytes);
    }
}

/// Buffered reads of 4 MiB or more go to io_uring's workers (`IOSQE_ASYNC`, io.rs), smaller
/// ones complete inline: both kinds, in flight together, cached and uncached, must give the
/// file's bytes.
#[test]
fn large_buffered_reads_sent_to_io_urings_workers_are_byte_exact() {
    let data = make_data(40 << 20, 0x5eed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("large.bin");
    std::fs::write(&path, &data).unwrap();
    for registered in [true, false] {
        let rt = Runtime::new(RuntimeConfig {
            backend: Backend::Cpu,
            io: IoKind::Uring,
            register_buffers: registered,
            direct_io: false,
            staging_bytes: 32 << 20,
            chunk_bytes: 8 << 20,
            ..RuntimeConfig::default()
        })
        .unwrap();
        let q = rt.create_queue(QueueDesc::default());
        let f = File::open(&path).unwrap();
        let _ = drop_page_cache(&std::fs::File::open(&path).unwrap());
        // Whole file (8 MiB pieces: to the workers), and ranges of 3 MiB (inline) and 5 MiB
        // (one 5 MiB read: to the workers) at odd offsets.
        let mut ts = Vec::new();
        let all = HostBuffer::new(data.len());
        ts.push((
            q.enqueue(host_request(Source::whole_file(&f), Compression::None, &all, 0, 0)).unwrap(),
            all,
            0,
            data.len(),
        ));
        for (i, (off, len)) in [(1_000_003usize, 3usize << 20), (7_777_777, 5 << 20), (33 << 20, 7 << 20)]
            .into_iter()
            .enumerate()
        {
            let out = HostBuffer::new(len);
            let src = Source::File { file: f.clone(), offset: off as u64, size: len as u64 };
            ts.push((
                q.enqueue(host_request(src, Compression::None, &out, 0, 1 + i as u64)).unwrap(),
                out,
                off,
                len,
            ));
        }
        q.submit();
        for (t, out, off, len) in ts {
            t.wait().unwrap();
            assert!(out.to_vec() == data[off..off + len], "registered {registered}: {off}+{len}");
        }
    }
}

#[test]
fn o_direct_is_used_where_the_file_system_allows_it() {
    let fx = fixture(1, 10, 0x78);
    let f = File::open(&fx.path).unwrap();
    let Some(a) = f.direct_io() else {
        eprintln!("NOTICE: {} has no O_DIRECT support here; buffered reads only", fx.path.display());
        return;
    };
    assert!(a.mem.is_power_of_two() && a.offset.is_power_of_two(), "{a:?}");
    // An unaligned range read with O_DIRECT reads the aligned span around it.
    let rt = runtime(IoKind::Uring);
    let q = rt.create_queue(QueueDesc::default());
    let out = HostBuffer::new(10_000);
    let t = q
        .enqueue(host_request(
            Source::File { file: f, offset: 1001, size: 10_000 },
            Compression::None,
            &out,
            0,
            0,
        ))
        .unwrap();
    q.submit();
    t.wait().unwrap();
    assert!(out.to_vec() == fx.file_bytes[1001..11_001]);
    let align = u64::from(a.mem.max(a.offset));
    assert_eq!(q.stats().bytes_read, (11_001u64).next_multiple_of(align) - 1001 / align * align);
}

#[test]
fn requests_larger_than_the_staging_ring_are_split() {
    // Ring: 2 chunks of 512 KiB; requests of several MiB.
    let fx = fixture(1, 1, 5);
    let big = make_data(5 << 20, 9);
    let stream = dsr_gdeflate::compress(&big, Level::DEFAULT, 0).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let sp = dir.path().join("big.gdf");
    std::fs::write(&sp, &stream).unwrap();
    for io in [IoKind::Uring, IoKind::Pread] {
        let rt = Runtime::new(RuntimeConfig {
            backend: Backend::Cpu,
            io,
            staging_bytes: 1 << 20,
            chunk_bytes: 512 << 10,
            ..RuntimeConfig::default()
        })
        .unwrap();
        assert_eq!(rt.staging_geometry(), (512 << 10, 2));
        let q = rt.create_queue(QueueDesc::default());
        let out = HostBuffer::new(big.len());
        let c = Compression::GDeflate { uncompressed_size: big.len() as u64 };
        let t =
            q.enqueue(host_request(Source::whole_file(&File::open(&sp).unwrap()), c, &out, 0, 1)).unwrap();
        let raw = HostBuffer::new(fx.file_bytes.len());
        let f = File::open(&fx.path).unwrap();
        let t2 = q.enqueue(host_request(Source::whole_file(&f), Compression::None, &raw, 0, 2)).unwrap();
        q.submit();
        t.wait().unwrap();
        t2.wait().unwrap();
        assert!(out.to_vec() == big);
        assert!(raw.to_vec() == fx.file_bytes);
    }
}

#[test]
fn cancel_before_submit_cancels_exactly_the_matching_tags() {
    let fx = fixture(8, 100_000, 3);
    let rt = runtime(IoKind::Auto);
    let q = rt.create_queue(QueueDesc::default());
    let f = File::open(&fx.path).unwrap();
    let mut ts = Vec::new();
    for i in 0..40u64 {
        let (off, len, data) = &fx.streams[(i % 8) as usize];
        let out = HostBuffer::new(data.len());
        let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
        let src = Source::File { file: f.clone(), offset: *off, size: *len };
        // Tag: low byte = group (i % 4), high bits = i.
        ts.push((
            i,
            q.enqueue(host_request(src, c, &out, 0, (i << 8) | (i % 4))).unwrap(),
            out,
            data.clone(),
        ));
    }
    // Cancel group 2 (DirectStorage: tag & mask == value).
    assert_eq!(q.cancel(0xFF, 2), 10);
    q.submit();
    for (i, t, out, data) in ts {
        if i % 4 == 2 {
            assert_eq!(t.wait(), Err(RequestError::Cancelled));
        } else {
            t.wait().unwrap();
            assert!(out.to_vec() == data);
        }
    }
    let s = q.stats();
    assert_eq!((s.completed, s.cancelled, s.failed), (30, 10, 0));
    assert_eq!(q.error_record().failure_count, 0, "cancellations are not failures");
}

#[test]
fn cancel_in_flight_stops_the_remaining_work_and_spares_other_tags() {
    let fx = fixture(16, 300_000, 11);
    // A small ring so most requests are still queued or mid-way when the cancel comes.
    let rt = Runtime::new(RuntimeConfig {
        backend: Backend::Cpu,
        io: IoKind::Auto,
        staging_bytes: 1 << 20,
        chunk_bytes: 512 << 10,
        cpu_threads: 1,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let q = rt.create_queue(QueueDesc { capacity: 1024, ..QueueDesc::default() });
    let f = File::open(&fx.path).unwrap();
    let mut ts = Vec::new();
    for i in 0..600u64 {
        let (off, len, data) = &fx.streams[(i % 16) as usize];
        let out = HostBuffer::new(data.len());
        let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
        let src = Source::File { file: f.clone(), offset: *off, size: *len };
        ts.push((i, q.enqueue(host_request(src, c, &out, 0, i % 2)).unwrap(), out, data.clone()));
    }
    q.submit();
    std::thread::sleep(Duration::from_millis(20));
    q.cancel(1, 1);
    let mut cancelled = 0;
    for (i, t, out, data) in ts {
        match t.wait() {
            Ok(()) => assert!(out.to_vec() == data, "request {i}: a completed request has wrong bytes"),
            Err(RequestError::Cancelled) => {
                assert_eq!(i % 2, 1, "request {i} has tag 0 and was cancelled");
                cancelled += 1;
            }
            Err(e) => panic!("request {i}: {e}"),
        }
    }
    assert!(cancelled > 100, "only {cancelled} of 300 tagged requests were still cancellable");
    assert_eq!(q.stats().cancelled, cancelled);
}

#[test]
fn truncated_missing_and_unreadable_files_fail_only_their_own_request() {
    let fx = fixture(4, 100_000, 21);
    let rt = runtime(IoKind::Auto);
    let q = rt.create_queue(QueueDesc::default());
    let f = File::open(&fx.path).unwrap();
    assert_eq!(
        File::open(fx.path.with_extension("missing")).unwrap_err().kind(),
        std::io::ErrorKind::NotFound
    );
    let len = fx.file_bytes.len() as u64;
    let good_out = HostBuffer::new(1000);
    let good = q
        .enqueue(host_request(
            Source::File { file: f.clone(), offset: 10, size: 1000 },
            Compression::None,
            &good_out,
            0,
            1,
        ))
        .unwrap();
    // Past the end of the file.
    let trunc_out = HostBuffer::new(5000);
    let trunc = q
        .enqueue(host_request(
            Source::File { file: f.clone(), offset: len - 100, size: 5000 },
            Compression::None,
            &trunc_out,
            0,
            2,
        ))
        .unwrap();
    // A truncated stream: the stream's table says it is longer than the request.
    let (off, slen, data) = &fx.streams[1];
    let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
    let tstream = q
        .enqueue(host_request(
            Source::File { file: f.clone(), offset: *off, size: slen - 4 },
            c,
            &HostBuffer::new(data.len()),
            0,
            3,
        ))
        .unwrap();
    // A directory cannot be read (EISDIR), even by root.
    let dir = File::open(fx.path.parent().unwrap()).unwrap();
    let unreadable = q
        .enqueue(host_request(
            Source::File { file: dir, offset: 0, size: 100 },
            Compression::None,
            &HostBuffer::new(100),
            0,
            4,
        ))
        .unwrap();
    // Wrong stated size.
    let c = Compression::GDeflate { uncompressed_size: data.len() as u64 + 1 };
    let wrong = q
        .enqueue(host_request(
            Source::File { file: f.clone(), offset: *off, size: *slen },
            c,
            &HostBuffer::new(data.len() + 1),
            0,
            5,
        ))
        .unwrap();
    q.submit();
    good.wait().unwrap();
    assert!(good_out.to_vec() == fx.file_bytes[10..1010]);
    assert_eq!(trunc.wait(), Err(RequestError::Truncated { offset: len }));
    match tstream.wait() {
        Err(RequestError::Decode(e)) => {
            assert!(matches!(e.kind, DecodeErrorKind::StreamLengthMismatch { .. }), "{e}")
        }
        other => panic!("{other:?}"),
    }
    match unreadable.wait() {
        Err(RequestError::Io { errno: Some(libc_eisdir), .. }) => assert_eq!(libc_eisdir, 21),
        other => panic!("{other:?}"),
    }
    match wrong.wait() {
        Err(RequestError::Decode(e)) => {
            assert!(matches!(e.kind, DecodeErrorKind::UncompressedSizeMismatch { .. }), "{e}")
        }
        other => panic!("{other:?}"),
    }
    let rec = q.error_record();
    assert_eq!(rec.failure_count, 4);
    // Which failure came first depends on timing; it is one of the four, fully described.
    let first = rec.first.unwrap();
    assert!(["req 2", "req 3", "req 4", "req 5"].contains(&first.name.as_str()), "{first:?}");
    assert!(first.request.starts_with("file /") && first.request.contains("host buffer"), "{first:?}");
}

#[test]
fn injected_read_errors_fail_only_the_requests_that_touch_them_on_both_engines() {
    let fx = fixture(8, 150_000, 31);
    for io in [IoKind::Uring, IoKind::Pread] {
        let rt = runtime(io);
        let q = rt.create_queue(QueueDesc::default());
        let f = File::open(&fx.path).unwrap();
        let (bad_off, bad_len, _) = fx.streams[3];
        #[allow(clippy::single_range_in_vec_init)] // one failing byte range is the point
        let faulty = f.inject_read_errors(&[bad_off + bad_len / 2..bad_off + bad_len / 2 + 1]).unwrap();
        let mut ts = Vec::new();
        for (i, (off, len, data)) in fx.streams.iter().enumerate() {
            let out = HostBuffer::new(data.len());
            let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
            let src = Source::File { file: faulty.clone(), offset: *off, size: *len };
            ts.push((i, q.enqueue(host_request(src, c, &out, 0, i as u64)).unwrap(), out, data.clone()));
        }
        q.submit();
        for (i, t, out, data) in ts {
            if i == 3 {
                match t.wait() {
                    Err(RequestError::Io { errno: Some(5), .. }) => {}
                    other => panic!("{io:?}: {other:?}"),
                }
            } else {
                t.wait().unwrap_or_else(|e| panic!("{io:?} stream {i}: {e}"));
                assert!(out.to_vec() == data);
            }
        }
        let rec = q.error_record();
        assert_eq!(rec.failure_count, 1);
        assert_eq!(rec.first.unwrap().name, "req 3");
    }
}

#[test]
fn short_reads_are_continued_where_they_stopped_on_both_engines() {
    let fx = fixture(8, 150_000, 91);
    for io in [IoKind::Uring, IoKind::Pread] {
        // Every read call short: 1000 bytes buffered (O_DIRECT calls are rounded to the
        // alignment, 512 here), 4096 both ways.
        for cap in [1000usize, 4096] {
            let rt = runtime(io);
            let q = rt.create_queue(QueueDesc::default());
            let f = File::open(&fx.path).unwrap().inject_short_reads(cap).unwrap();
            let mut ts = Vec::new();
            for (i, (off, len, data)) in fx.streams.iter().enumerate() {
                let out = HostBuffer::new(data.len());
                let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
                let src = Source::File { file: f.clone(), offset: *off, size: *len };
                ts.push((q.enqueue(host_request(src, c, &out, 0, i as u64)).unwrap(), out, data.clone()));
            }
            let all = HostBuffer::new(fx.file_bytes.len() - 777);
            let src = Source::File { file: f.clone(), offset: 777, size: all.len() as u64 };
            let t = q.enqueue(host_request(src, Compression::None, &all, 0, 99)).unwrap();
            q.submit();
            for (t, out, data) in ts {
                t.wait().unwrap_or_else(|e| panic!("{io:?} cap {cap}: {e}"));
                assert!(out.to_vec() == data, "{io:?} cap {cap}");
            }
            t.wait().unwrap();
            assert!(all.to_vec() == fx.file_bytes[777..], "{io:?} cap {cap}");
            drop_page_cache(&std::fs::File::open(&fx.path).unwrap()).unwrap();
        }
    }
}

#[test]
fn a_full_queue_refuses_try_enqueue_and_enqueue_submits_then_waits() {
    let fx = fixture(2, 50_000, 41);
    let rt = runtime(IoKind::Auto);
    let q = rt.create_queue(QueueDesc { capacity: 4, ..QueueDesc::default() });
    let f = File::open(&fx.path).unwrap();
    let req = |i: u64, out: &HostBuffer| {
        host_request(
            Source::File { file: f.clone(), offset: i * 100, size: 100 },
            Compression::None,
            out,
            0,
            i,
        )
    };
    let outs: Vec<HostBuffer> = (0..8).map(|_| HostBuffer::new(100)).collect();
    let mut ts: Vec<_> = (0..4).map(|i| q.try_enqueue(req(i, &outs[i as usize])).unwrap()).collect();
    let rejected = q.try_enqueue(req(4, &outs[4])).unwrap_err();
    assert_eq!(rejected.reason, RejectReason::Full);
    assert_eq!(rejected.request.tag, 4, "the request comes back");
    // Blocking enqueue: submits the four, and waits for one to finish... but all four are
    // held by live tickets once done, so it must say Full rather than hang.
    for t in &ts {
        let _ = t; // keep alive
    }
    let r = q.enqueue(req(5, &outs[5]));
    match r {
        Err(rej) => assert_eq!(rej.reason, RejectReason::Full),
        Ok(_) => panic!("a queue whose slots are all held by live tickets accepted a fifth request"),
    }
    // Dropping a finished ticket frees its slot.
    ts.remove(0).wait().unwrap();
    let t5 = q.enqueue(req(5, &outs[5])).unwrap();
    q.submit();
    t5.wait().unwrap();
    assert!(outs[5].to_vec() == fx.file_bytes[500..600]);
    drop((ts, t5));
    // Detached tickets free their slots on completion: many more requests than slots.
    for i in 0..200u64 {
        q.enqueue(req(i % 8, &outs[(i % 8) as usize])).unwrap().detach();
    }
    q.drain();
    assert_eq!(q.stats().completed, 4 + 1 + 200);
}

#[test]
fn a_realtime_queue_overtakes_a_flooded_low_priority_queue() {
    let fx = fixture(4, 200_000, 51);
    let rt = Runtime::new(RuntimeConfig {
        backend: Backend::Cpu,
        staging_bytes: 1 << 20,
        chunk_bytes: 512 << 10,
        cpu_threads: 1,
        ..RuntimeConfig::default()
    })
    .unwrap();
    let order = Arc::new(AtomicU64::new(0));
    let low_last = Arc::new(AtomicU64::new(0));
    let rt_done = Arc::new(AtomicU64::new(0));
    let (o1, l1) = (order.clone(), low_last.clone());
    let low = rt.create_queue(QueueDesc {
        capacity: 512,
        priority: Priority::Low,
        name: "low".into(),
        callback: Some(Arc::new(move |_| l1.store(o1.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst))),
    });
    let (o2, r2) = (order.clone(), rt_done.clone());
    let real = rt.create_queue(QueueDesc {
        capacity: 8,
        priority: Priority::Realtime,
        name: "realtime".into(),
        callback: Some(Arc::new(move |_| r2.store(o2.fetch_add(1, Ordering::SeqCst), Ordering::SeqCst))),
    });
    let f = File::open(&fx.path).unwrap();
    for i in 0..400u64 {
        let (off, len, data) = &fx.streams[(i % 4) as usize];
        let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
        let src = Source::File { file: f.clone(), offset: *off, size: *len };
        low.enqueue(host_request(src, c, &HostBuffer::new(data.len()), 0, i)).unwrap().detach();
    }
    low.submit();
    std::thread::sleep(Duration::from_millis(5));
    let (off, len, data) = &fx.streams[0];
    let out = HostBuffer::new(data.len());
    let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
    let t = real
        .enqueue(host_request(Source::File { file: f.clone(), offset: *off, size: *len }, c, &out, 0, 9))
        .unwrap();
    real.submit();
    t.wait().unwrap();
    low.drain();
    assert!(out.to_vec() == *data);
    let (r, l) = (rt_done.load(Ordering::SeqCst), low_last.load(Ordering::SeqCst));
    assert!(r < l, "the realtime request finished {r}th, the last low one {l}th");
    assert!(r < 100, "the realtime request finished only {r}th of 401");
}

#[test]
fn dropping_queues_and_the_runtime_mid_flight_finishes_every_ticket() {
    let fx = fixture(8, 200_000, 61);
    for io in [IoKind::Uring, IoKind::Pread] {
        // Drop the queue first, with tickets alive.
        let rt = runtime(io);
        let f = File::open(&fx.path).unwrap();
        let q = rt.create_queue(QueueDesc { capacity: 300, ..QueueDesc::default() });
        let mut ts = Vec::new();
        for i in 0..300u64 {
            let (off, len, data) = &fx.streams[(i % 8) as usize];
            let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
            let out = HostBuffer::new(data.len());
            let src = Source::File { file: f.clone(), offset: *off, size: *len };
            ts.push((q.enqueue(host_request(src, c, &out, 0, i)).unwrap(), out, data.clone()));
        }
        q.submit();
        drop(q);
        for (t, out, data) in &ts {
            match t.poll().expect("dropping a queue finishes its requests") {
                Ok(()) => assert!(out.to_vec() == *data),
                Err(e) => assert_eq!(e, RequestError::Cancelled),
            }
        }
        // Then the runtime, with a queue and tickets alive.
        let q = rt.create_queue(QueueDesc { capacity: 300, ..QueueDesc::default() });
        let mut ts = Vec::new();
        for i in 0..300u64 {
            let (off, len, data) = &fx.streams[(i % 8) as usize];
            let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
            let out = HostBuffer::new(data.len());
            let src = Source::File { file: f.clone(), offset: *off, size: *len };
            ts.push((q.enqueue(host_request(src, c, &out, 0, i)).unwrap(), out, data.clone()));
        }
        q.submit();
        drop(rt);
        for (t, out, data) in &ts {
            match t
                .wait_timeout(Duration::from_secs(10))
                .expect("dropping the runtime finishes every request")
            {
                Ok(()) => assert!(out.to_vec() == *data),
                Err(e) => assert_eq!(e, RequestError::Cancelled),
            }
        }
        let (off, len, data) = &fx.streams[0];
        let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
        let src = Source::File { file: f.clone(), offset: *off, size: *len };
        let rej = q.enqueue(host_request(src, c, &HostBuffer::new(data.len()), 0, 1)).unwrap_err();
        assert_eq!(rej.reason, RejectReason::Closed);
        drop(q);
    }
}

#[test]
fn invalid_requests_are_refused_at_enqueue() {
    let rt = runtime(IoKind::Auto);
    let q = rt.create_queue(QueueDesc::default());
    let mem: Arc<Vec<u8>> = Arc::new(vec![1; 100]);
    let small = HostBuffer::new(10);
    let r = q
        .try_enqueue(host_request(Source::memory(mem.clone()), Compression::None, &small, 0, 0))
        .unwrap_err();
    assert!(matches!(r.reason, RejectReason::Invalid(_)), "{r}");
    let r = q
        .try_enqueue(host_request(
            Source::Memory { data: mem, offset: 90, size: 20 },
            Compression::None,
            &HostBuffer::new(20),
            0,
            0,
        ))
        .unwrap_err();
    assert!(matches!(r.reason, RejectReason::Invalid(_)), "{r}");
}

#[test]
fn corrupt_pages_report_the_cpu_decoders_tile_and_offset() {
    let data = make_data(400_000, 71);
    let mut stream = dsr_gdeflate::compress(&data, Level::DEFAULT, 1).unwrap();
    let ts = dsr_gdeflate::TileStream::parse(&stream).unwrap();
    let r = ts.tile_range(3);
    for b in &mut stream[r.start + 8..r.start + 40] {
        *b ^= 0x5A;
    }
    let expected = dsr_gdeflate::decompress(&stream, 1).unwrap_err();
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.gdf");
    std::fs::write(&p, &stream).unwrap();
    let rt = runtime(IoKind::Auto);
    let q = rt.create_queue(QueueDesc::default());
    let c = Compression::GDeflate { uncompressed_size: data.len() as u64 };
    let out = HostBuffer::new(data.len());
    let t1 = q.enqueue(host_request(Source::whole_file(&File::open(&p).unwrap()), c, &out, 0, 1)).unwrap();
    let t2 = q.enqueue(host_request(Source::memory(Arc::new(stream)), c, &out, 0, 2)).unwrap();
    q.submit();
    assert_eq!(t1.wait(), Err(RequestError::Decode(expected)));
    assert_eq!(t2.wait(), Err(RequestError::Decode(expected)));
}
