//! Packs (`ds_runtime::pack`): round trips of many entries (raw and GDeflate, empty, in
//! subdirectories, corpus files), alignment, and refusal of truncated, bit-flipped, garbage,
//! unfinished and duplicate-name packs with the right error; reading verifies SHA-256; entries
//! read through streaming requests.

use ds_runtime::Backend;
use ds_runtime::pack::{
    EntryCompression, HEADER_LEN, Pack, PackEntry, PackError, PackOptions, PackWriter, hex, parse_image,
    sha256,
};
use ds_runtime::stream::{Destination, HostBuffer, QueueDesc, Request, Runtime, RuntimeConfig};
use dsr_gdeflate::Level;
use std::path::{Path, PathBuf};

fn corpus() -> PathBuf {
    match std::env::var_os("DSR_CORPUS") {
        Some(p) => PathBuf::from(p),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus"),
    }
}

/// A deterministic pseudo-random generator (xorshift), so tests need no rand crate.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

/// Text-like data that compresses.
fn text(n: usize, seed: u64) -> Vec<u8> {
    let mut s = Vec::with_capacity(n);
    let mut i = seed;
    while s.len() < n {
        s.extend_from_slice(format!("asset {i} mip {} layer {};\n", i % 11, i % 7).as_bytes());
        i += 1;
    }
    s.truncate(n);
    s
}

/// (name, data, forced compression) of a varied set of entries.
fn sample_entries() -> Vec<(String, Vec<u8>, Option<EntryCompression>)> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut v: Vec<(String, Vec<u8>, Option<EntryCompression>)> = vec![
        ("empty_auto".into(), vec![], None),
        ("empty/raw".into(), vec![], Some(EntryCompression::None)),
        ("empty/gdeflate".into(), vec![], Some(EntryCompression::GDeflate)),
        ("textures/deep/dir/a.dds".into(), text(200_000, 1), None),
        ("textures/b.dds".into(), text(65_536, 2), Some(EntryCompression::GDeflate)),
        ("textures/c.dds".into(), text(65_537, 3), Some(EntryCompression::None)),
        ("random.bin".into(), rng.bytes(100_000), None),
        ("random_forced.bin".into(), rng.bytes(70_000), Some(EntryCompression::GDeflate)),
        ("one_byte".into(), vec![42], None),
        ("ünïcödé/名前.txt".into(), text(1234, 4), None),
    ];
    for i in 0..40 {
        let n = (rng.next() % 20_000) as usize;
        let data = if i % 2 == 0 { text(n, i) } else { rng.bytes(n) };
        v.push((format!("many/{i:03}.bin"), data, None));
    }
    v
}

fn write_pack(
    path: &Path,
    options: PackOptions,
    entries: &[(String, Vec<u8>, Option<EntryCompression>)],
) -> Vec<PackEntry> {
    let mut w = PackWriter::create(path, options).unwrap();
    for (name, data, c) in entries {
        let e = match c {
            Some(c) => w.add_with(name, data, *c).unwrap(),
            None => w.add(name, data).unwrap(),
        };
        assert_eq!(&e.name, name);
    }
    w.finish().unwrap()
}

#[test]
fn many_entries_round_trip_byte_exact_with_every_entry_aligned() {
    let dir = tempfile::tempdir().unwrap();
    let entries = sample_entries();
    for alignment in [8, 512, 4096, 65536] {
        let path = dir.path().join(format!("a{alignment}.dsp"));
        let options = PackOptions { level: Level::FASTEST, threads: 2, alignment };
        let written = write_pack(&path, options, &entries);
        let pack = Pack::open(&path).unwrap();
        assert_eq!(pack.entries(), &written[..]);
        assert_eq!(pack.header().alignment, alignment);
        assert_eq!(pack.entries().len(), entries.len());
        for (name, data, forced) in &entries {
            let e = pack.find(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(e.offset % u64::from(alignment), 0, "{name} at {}", e.offset);
            assert_eq!(e.uncompressed_size, data.len() as u64);
            assert_eq!(e.sha256, sha256(data));
            if let Some(c) = forced {
                assert_eq!(e.compression, *c, "{name}");
            }
            assert_eq!(&pack.read_entry(e).unwrap(), data, "{name}");
        }
        assert!(pack.find("missing").is_none());
    }
}

#[test]
fn add_compresses_what_shrinks_and_stores_the_rest_raw() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("p.dsp");
    let mut w = PackWriter::create(&path, PackOptions::default()).unwrap();
    let t = w.add("text", &text(300_000, 9)).unwrap().clone();
    assert_eq!(t.compression, EntryCompression::GDeflate);
    assert!(t.stored_size < t.uncompressed_size / 2, "{t:?}");
    let r = w.add("random", &Rng(5).bytes(300_000)).unwrap().clone();
    assert_eq!(r.compression, EntryCompression::None);
    assert_eq!(r.stored_size, 300_000);
    let e = w.add("empty", &[]).unwrap().clone();
    assert_eq!((e.compression, e.stored_size), (EntryCompression::None, 0));
    w.finish().unwrap();
    // Level 0 never shrinks anything: raw.
    let path0 = dir.path().join("p0.dsp");
    let mut w =
        PackWriter::create(&path0, PackOptions { level: Level::STORED, ..Default::default() }).unwrap();
    assert_eq!(w.add("text", &text(300_000, 9)).unwrap().compression, EntryCompression::None);
    w.finish().unwrap();
}

#[test]
fn corpus_files_round_trip_through_a_pack() {
    let raw = corpus().join("raw");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&raw)
        .unwrap_or_else(|e| panic!("corpus {}: {e}", raw.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 10, "corpus has {} raw files", files.len());
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("corpus.dsp");
    let mut w =
        PackWriter::create(&path, PackOptions { level: Level::FASTEST, ..Default::default() }).unwrap();
    let mut originals = Vec::new();
    for f in &files {
        let name = format!("raw/{}", f.file_name().unwrap().to_str().unwrap());
        let data = std::fs::read(f).unwrap();
        w.add(&name, &data).unwrap();
        originals.push((name, data));
    }
    let written = w.finish().unwrap();
    assert!(written.iter().any(|e| e.compression == EntryCompression::GDeflate));
    let pack = Pack::open(&path).unwrap();
    for (name, data) in &originals {
        assert_eq!(&pack.read_entry(pack.find(name).unwrap()).unwrap(), data, "{name}");
    }
}

fn small_pack(dir: &Path) -> (PathBuf, Vec<u8>) {
    let path = dir.join("small.dsp");
    let entries = vec![
        ("a/text.txt".to_string(), text(150_000, 7), Some(EntryCompression::GDeflate)),
        ("b/raw.bin".to_string(), Rng(3).bytes(5000), Some(EntryCompression::None)),
        ("c".to_string(), vec![], None),
    ];
    write_pack(&path, PackOptions::default(), &entries);
    let bytes = std::fs::read(&path).unwrap();
    (path, bytes)
}

fn open_bytes(dir: &Path, bytes: &[u8]) -> Result<Pack, PackError> {
    let p = dir.join("mutated.dsp");
    std::fs::write(&p, bytes).unwrap();
    let from_file = Pack::open(&p);
    // The in-memory parser agrees with open on every input.
    match (&from_file, parse_image(bytes)) {
        (Ok(p), Ok((_, e))) => assert_eq!(p.entries(), &e[..]),
        (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
        (a, b) => panic!("open {a:?} but parse_image {b:?}"),
    }
    from_file
}

#[test]
fn every_truncation_is_refused_as_truncated() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = small_pack(dir.path());
    let toc = u64::from_le_bytes(bytes[24..32].try_into().unwrap()) as usize;
    let mut cuts: Vec<usize> = (0..=HEADER_LEN + 1).collect();
    cuts.extend([4096, 4097, toc - 1, toc, toc + 1, bytes.len() - 1]);
    for cut in cuts {
        match open_bytes(dir.path(), &bytes[..cut]) {
            Err(PackError::Truncated { expected, actual }) => {
                assert_eq!(actual, cut as u64);
                assert!(expected > actual, "{cut}: {expected}");
            }
            other => panic!("cut at {cut}: {other:?}"),
        }
    }
}

#[test]
fn every_bit_flip_in_header_and_table_of_contents_is_detected() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = small_pack(dir.path());
    let toc = u64::from_le_bytes(bytes[24..32].try_into().unwrap()) as usize;
    let mut positions: Vec<usize> = (0..HEADER_LEN).collect();
    positions.extend(toc..bytes.len());
    for pos in positions {
        for bit in 0..8 {
            let mut b = bytes.clone();
            b[pos] ^= 1 << bit;
            // The in-memory parser only: a file per flip would make this test slow for nothing.
            let err = parse_image(&b).expect_err("flip accepted");
            let ok = match pos {
                0..8 => matches!(err, PackError::BadMagic),
                8..10 => matches!(err, PackError::UnsupportedVersion { .. }),
                10..HEADER_LEN => matches!(err, PackError::ChecksumMismatch { what: "header", .. }),
                _ => matches!(err, PackError::ChecksumMismatch { what: "table of contents", .. }),
            };
            assert!(ok, "byte {pos} bit {bit}: {err}");
        }
    }
    // And one through a real file.
    let mut b = bytes.clone();
    b[toc + 3] ^= 0x10;
    assert!(matches!(open_bytes(dir.path(), &b), Err(PackError::ChecksumMismatch { .. })));
}

#[test]
fn corrupt_entry_data_fails_that_entry_only_when_read() {
    let dir = tempfile::tempdir().unwrap();
    let (_, bytes) = small_pack(dir.path());
    let pristine = parse_image(&bytes).unwrap().1;
    for victim in pristine.iter().filter(|e| e.stored_size > 0) {
        for at in [0, victim.stored_size / 2, victim.stored_size - 1] {
            let mut b = bytes.clone();
            b[(victim.offset + at) as usize] ^= 0x01;
            let pack = open_bytes(dir.path(), &b).expect("the data is not checked at open");
            for e in pack.entries() {
                let r = pack.read_entry(e);
                if e.name != victim.name {
                    r.unwrap_or_else(|err| {
                        panic!("{} failed after corrupting {}: {err}", e.name, victim.name)
                    });
                    continue;
                }
                let err = match r {
                    Err(err) => err,
                    // Flipping a padding bit at the end of a GDeflate page changes no output
                    // byte: then the read must give exactly the original bytes.
                    Ok(data)
                        if victim.compression == EntryCompression::GDeflate
                            && at == victim.stored_size - 1 =>
                    {
                        assert!(sha256(&data) == victim.sha256, "{}: wrong bytes accepted", victim.name);
                        continue;
                    }
                    Ok(_) => panic!("{}: corrupt at {at}, read back without error", victim.name),
                };
                match victim.compression {
                    EntryCompression::None => assert!(matches!(err, PackError::HashMismatch { .. }), "{err}"),
                    EntryCompression::GDeflate => assert!(
                        matches!(err, PackError::HashMismatch { .. } | PackError::Decode { .. }),
                        "{err}"
                    ),
                }
            }
        }
    }
}

#[test]
fn garbage_unfinished_and_foreign_files_are_refused_as_bad_magic() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = Rng(77);
    for n in [1, 7, 8, 63, 64, 65, 4096, 100_000] {
        assert!(
            matches!(open_bytes(dir.path(), &rng.bytes(n)), Err(PackError::BadMagic)),
            "{n} random bytes"
        );
    }
    // A GDeflate tile stream is not a pack.
    let stream = dsr_gdeflate::compress(&text(10_000, 1), Level::FASTEST, 1).unwrap();
    assert!(matches!(open_bytes(dir.path(), &stream), Err(PackError::BadMagic)));
    // A writer dropped before finish() leaves a file without a header.
    let path = dir.path().join("unfinished.dsp");
    let mut w = PackWriter::create(&path, PackOptions::default()).unwrap();
    w.add("a", &text(10_000, 1)).unwrap();
    drop(w);
    assert!(matches!(Pack::open(&path), Err(PackError::BadMagic)));
    // A missing file is an I/O error naming it.
    let err = Pack::open(dir.path().join("nope.dsp")).unwrap_err();
    assert!(matches!(err, PackError::Io { .. }) && err.to_string().contains("nope.dsp"), "{err}");
}

#[test]
fn duplicate_and_invalid_names_are_refused_by_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = PackWriter::create(dir.path().join("n.dsp"), PackOptions::default()).unwrap();
    w.add("a/b", b"1").unwrap();
    assert!(matches!(w.add("a/b", b"2"), Err(PackError::DuplicateName { name }) if name == "a/b"));
    assert!(matches!(w.add_with("a/b", b"2", EntryCompression::None), Err(PackError::DuplicateName { .. })));
    for bad in ["", "/etc/passwd", "../up", "a/../../up", "a//b", "a/", "./a", "c:\\x", "nul\0"] {
        assert!(matches!(w.add(bad, b"x"), Err(PackError::InvalidName { .. })), "{bad:?}");
    }
    let entries = w.finish().unwrap();
    assert_eq!(entries.len(), 1, "refused entries left nothing behind");
    let pack = Pack::open(dir.path().join("n.dsp")).unwrap();
    assert_eq!(pack.read_entry(&pack.entries()[0]).unwrap(), b"1");
}

#[test]
fn invalid_alignments_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for alignment in [0, 1, 4, 3000, 1 << 25] {
        let r = PackWriter::create(dir.path().join("x.dsp"), PackOptions { alignment, ..Default::default() });
        assert!(matches!(r, Err(PackError::InvalidOptions { .. })), "{alignment}");
    }
}

#[test]
fn an_empty_pack_opens_with_no_entries() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("empty.dsp");
    assert!(PackWriter::create(&path, PackOptions::default()).unwrap().finish().unwrap().is_empty());
    let pack = Pack::open(&path).unwrap();
    assert!(pack.entries().is_empty());
    assert_eq!(pack.header().file_size, std::fs::metadata(&path).unwrap().len());
}

#[test]
fn entries_stream_through_a_queue_into_host_buffers() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.dsp");
    let entries = sample_entries();
    write_pack(&path, PackOptions { level: Level::FASTEST, ..Default::default() }, &entries);
    let pack = Pack::open(&path).unwrap();
    let rt = Runtime::new(RuntimeConfig { backend: Backend::Cpu, ..RuntimeConfig::default() }).unwrap();
    let queue = rt.create_queue(QueueDesc::default());
    let mut pending = Vec::new();
    for e in pack.entries() {
        let out = HostBuffer::new(e.uncompressed_size as usize);
        let ticket = queue
            .enqueue(Request {
                source: e.source(pack.file()),
                destination: Destination::Host { buffer: out.clone(), offset: 0 },
                compression: e.request_compression(),
                tag: 0,
                name: e.name.clone().into(),
            })
            .unwrap();
        pending.push((e, out, ticket));
    }
    queue.submit();
    for (e, out, ticket) in pending {
        ticket.wait().unwrap_or_else(|err| panic!("{}: {err}", e.name));
        let got = out.to_vec();
        e.verify(&got).unwrap();
        assert_eq!(hex(&sha256(&got)), e.sha256_hex());
    }
}
