//! The shared corpus: real files and reference streams made by Microsoft's and NVIDIA's codec.

mod common;
use common::*;

#[test]
fn every_reference_stream_decodes_to_the_manifest_sha256() {
    for (name, stream, want) in corpus_streams() {
        for threads in [1, 0] {
            let out = dsr_gdeflate::decompress(&stream, threads).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert_eq!(sha256_hex(&out), want, "{name} (threads {threads})");
        }
    }
}

#[test]
fn raw_files_match_their_manifest_sha256() {
    for (row, bytes) in corpus_raw() {
        assert_eq!(bytes.len() as u64, row.size, "{}", row.name);
        assert_eq!(sha256_hex(&bytes), row.sha256, "{}", row.name);
    }
}

#[test]
fn reference_pages_in_our_container_reproduce_the_manifest_streams_byte_for_byte() {
    // The reference page encoder is deterministic and the same code that made the corpus
    // (corpus README): wrapping its pages with our tile-stream writer must give the exact file.
    for (row, bytes) in corpus_raw() {
        for (level, want) in [(1, &row.lvl1_sha256), (12, &row.lvl12_sha256)] {
            let pages = gdeflate_ref::compress_tiles(&bytes, level)
                .unwrap_or_else(|e| panic!("{} level {level}: reference failed: {e:?}", row.name));
            let stream = dsr_gdeflate::write_tile_stream(&pages, bytes.len() as u64).unwrap();
            assert_eq!(&sha256_hex(&stream), want, "{} level {level}", row.name);
            let back = dsr_gdeflate::decompress(&stream, 0).unwrap();
            assert!(back == bytes, "{} level {level}: round trip", row.name);
        }
    }
}
