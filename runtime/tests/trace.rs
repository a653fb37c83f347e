//! `DSR_TRACE_PIPELINE` (runtime/src/stream/trace.rs): its own test binary, because the
//! variable is read once per process.

use ds_runtime::Backend;
use ds_runtime::stream::{
    Compression, Destination, File, HostBuffer, QueueDesc, Request, Runtime, RuntimeConfig, Source,
};

#[test]
fn a_traced_runtime_writes_every_read_and_piece_of_its_requests_when_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let trace = dir.path().join("trace.csv");
    // SAFETY: the binary's only test sets it before starting any thread of its own (the test
    // harness's threads do not touch the environment).
    unsafe { std::env::set_var("DSR_TRACE_PIPELINE", &trace) };
    // Incompressible, so that the stream spans several chunks.
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..3u32 << 20)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 56) as u8
        })
        .collect();
    let path = dir.path().join("asset.gdf");
    std::fs::write(&path, dsr_gdeflate::compress(&data, dsr_gdeflate::Level::DEFAULT, 0).unwrap()).unwrap();
    let rt = Runtime::new(RuntimeConfig {
        backend: Backend::Cpu,
        chunk_bytes: 512 << 10,
        staging_bytes: 4 << 20,
        ..Default::default()
    })
    .unwrap();
    let queue = rt.create_queue(QueueDesc::default());
    let file = File::open(&path).unwrap();
    let out = HostBuffer::new(data.len());
    let ticket = queue
        .enqueue(Request {
            source: Source::whole_file(&file),
            destination: Destination::Host { buffer: out.clone(), offset: 0 },
            compression: Compression::GDeflate { uncompressed_size: data.len() as u64 },
            tag: 1,
            name: "traced".into(),
        })
        .unwrap();
    queue.submit();
    ticket.wait().unwrap();
    assert_eq!(out.to_vec(), data);
    assert!(!trace.exists(), "the trace is written when the runtime is dropped, not before");
    drop(queue);
    drop(rt);

    let text = std::fs::read_to_string(&trace).unwrap();
    let count = |event: &str| text.lines().filter(|l| l.split(',').nth(1) == Some(event)).count();
    // A 3 MiB stream in 512 KiB chunks: a head read, then several groups of tiles.
    let issued = count("read_issued");
    assert!(issued >= 3, "{issued} reads traced:\n{text}");
    assert_eq!(count("read_done"), issued, "{text}");
    assert_eq!(count("piece_done"), issued, "{text}");
    let mut last = 0u64;
    for line in text.lines() {
        let f: Vec<&str> = line.split(',').collect();
        assert_eq!(f.len(), 5, "{line}");
        let t: u64 = f[0].parse().unwrap();
        assert!(t >= last, "timestamps go forward: {line}");
        last = t;
    }
}
