//! Pack parsing robustness: arbitrary bytes given to `ds_runtime::pack::parse_image` (what
//! `Pack::open` runs on a file's header and table of contents) must never panic, loop or
//! allocate beyond the input; a success must satisfy every invariant the module documents.
//!
//! Each input is parsed twice: as it is (the magic, version and checksum checks), and with the
//! header's and table of contents' checksums recomputed first, so that mutated seeds reach the
//! structural checks behind the checksums (offsets, sizes, order, names) instead of stopping at
//! a checksum mismatch. For every accepted pack, each entry is decoded from the input
//! (`PackEntry::decode`: GDeflate parse and decode, size, SHA-256), which must not panic.
#![no_main]

use ds_runtime::pack::{EntryCompression, HEADER_LEN, PackEntry, PackHeader, parse_image, validate_name};
use libfuzzer_sys::fuzz_target;
use sha2::{Digest, Sha256};
use std::collections::HashSet;

fuzz_target!(|data: &[u8]| {
    check(data);
    if data.len() >= HEADER_LEN {
        let mut sealed = data.to_vec();
        let toc_offset = u64::from_le_bytes(sealed[24..32].try_into().unwrap());
        let toc = usize::try_from(toc_offset).ok().filter(|&at| at <= sealed.len());
        if let Some(at) = toc {
            let d = Sha256::digest(&sealed[at..]);
            sealed[48..60].copy_from_slice(&d[..12]);
        }
        let d = Sha256::digest(&sealed[..HEADER_LEN - 4]);
        sealed[60..64].copy_from_slice(&d[..4]);
        check(&sealed);
    }
});

fn check(image: &[u8]) {
    let Ok((header, entries)) = parse_image(image) else {
        return;
    };
    invariants(image, &header, &entries);
    for e in &entries {
        let stored = &image[e.offset as usize..(e.offset + e.stored_size) as usize];
        if let Ok(out) = e.decode(stored, 1) {
            assert_eq!(out.len() as u64, e.uncompressed_size, "{}: decoded size", e.name);
        }
    }
}

fn invariants(image: &[u8], h: &PackHeader, entries: &[PackEntry]) {
    assert_eq!(h.file_size, image.len() as u64);
    assert_eq!(entries.len(), h.entry_count as usize);
    assert!(h.alignment.is_power_of_two());
    let mut names = HashSet::new();
    let mut prev_end = HEADER_LEN as u64;
    for e in entries {
        validate_name(&e.name).expect("accepted an invalid name");
        assert!(names.insert(e.name.as_str()), "duplicate name {}", e.name);
        assert!(e.offset.is_multiple_of(u64::from(h.alignment)), "{} misaligned", e.name);
        assert!(e.offset >= prev_end, "{} overlaps", e.name);
        let end = e.offset.checked_add(e.stored_size).expect("extent overflows");
        assert!(end <= h.toc_offset, "{} past the data area", e.name);
        if e.compression == EntryCompression::None {
            assert_eq!(e.stored_size, e.uncompressed_size);
        }
        prev_end = end;
    }
}
