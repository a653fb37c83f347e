//! Hostile tile streams: truncation, bit flips, wrong headers and sizes. Every one must give a
//! typed error (or, for flips that land in bits no decoder reads, the original bytes) — never a
//! panic, a hang, or a write outside the output.
//! (Page-level hand-built violations — bad tables, oversized lengths, distances before the
//! page start, symbols 286/287 — are unit tests in `gdeflate/src/crafted_tests.rs`.)

mod common;
use common::*;
use dsr_gdeflate::{DecodeErrorKind as K, decompress, decompress_into};

fn stream(name: &str) -> Vec<u8> {
    std::fs::read(corpus_dir().join("gdeflate").join(name)).unwrap()
}

#[test]
fn every_truncation_of_a_stream_is_a_typed_container_error() {
    let s = stream("oa_mc-oa.shader.lvl12.gdf"); // 2 tiles, 6028 bytes
    for cut in 0..s.len() {
        let e = decompress(&s[..cut], 1).expect_err("truncated stream accepted");
        let ok = match cut {
            0..8 => e.kind == K::TruncatedHeader,
            8..16 => e.kind == K::TruncatedTable,
            // A cut inside the data area leaves table offsets past the end (BadTileOffset)
            // or a stream shorter than its table says.
            _ => {
                e.kind == K::BadTileOffset
                    || matches!(e.kind, K::StreamLengthMismatch { actual, .. } if actual == cut as u64)
            }
        };
        assert!(ok, "cut at {cut}: {e}");
    }
}

#[test]
fn trailing_bytes_after_the_stream_are_rejected() {
    let mut s = stream("wz_research.json.lvl1.gdf");
    s.extend_from_slice(&[0; 4]);
    let e = decompress(&s, 1).unwrap_err();
    assert!(matches!(e.kind, K::StreamLengthMismatch { .. }), "{e}");
}

#[test]
fn bit_flips_give_errors_or_decodes_never_panics() {
    // Every bit of two small streams (one with dynamic blocks, one fixed-heavy texture),
    // flipped one at a time. A flip in literal bits can change output without being
    // detectable (GDeflate has no checksum), so either outcome is allowed; what is checked is
    // that decoding returns, and that errors name a tile for flips inside the data area.
    for name in ["oa_mc-oa.shader.lvl12.gdf", "fg_sea_foam.dds.lvl1.gdf"] {
        let s = stream(name);
        let tiles = u16::from_le_bytes([s[2], s[3]]) as usize;
        let data_start = 8 + 4 * tiles;
        let mut errors = 0;
        for bit in (0..s.len() * 8).step_by(3) {
            let mut b = s.clone();
            b[bit / 8] ^= 1 << (bit % 8);
            if let Err(e) = decompress(&b, 1) {
                errors += 1;
                if bit / 8 >= data_start && e.tile.is_none() {
                    panic!("{name} bit {bit}: page error without a tile: {e}");
                }
            }
        }
        assert!(errors > 0, "{name}: no flip was detected at all");
    }
}

#[test]
fn wrong_last_tile_size_is_caught_in_the_last_tile() {
    let s = stream("wz_research.json.lvl12.gdf"); // 4 tiles, last tile 6871 bytes
    let hdr = u32::from_le_bytes(s[4..8].try_into().unwrap());
    let last = (hdr >> 2) & 0x3FFFF;
    for wrong in [last - 1, last + 1, 1, 0 /* = 65536 */] {
        let mut b = s.clone();
        b[4..8].copy_from_slice(&((hdr & !(0x3FFFF << 2)) | (wrong << 2)).to_le_bytes());
        let e = decompress(&b, 0).unwrap_err();
        assert_eq!(e.tile, Some(3), "lastTileSize {wrong}: {e}");
        assert!(matches!(e.kind, K::OutputUnderrun { .. } | K::OutputOverrun { .. }), "{e}");
    }
}

#[test]
fn a_tile_swapped_for_another_decodes_to_the_wrong_size_and_is_caught() {
    // Tile table entries shifted by one page: tile boundaries no longer match pages.
    let s = stream("assimp_Wuson.ply.lvl1.gdf");
    let mut b = s.clone();
    let t2 = u32::from_le_bytes(b[12..16].try_into().unwrap());
    b[12..16].copy_from_slice(&(t2 + 4).to_le_bytes());
    let e = decompress(&b, 0).unwrap_err();
    assert!(e.tile.is_some(), "{e}");
}

#[test]
fn caller_buffer_of_the_wrong_size_is_refused_before_decoding() {
    let s = stream("oa_mc-oa.shader.lvl1.gdf");
    let mut out = vec![0u8; 66827 + 1];
    let e = decompress_into(&s, &mut out, 1).unwrap_err();
    assert_eq!(e.kind, K::UncompressedSizeMismatch { stream: 66827, caller: 66828 });
    assert!(out.iter().all(|&b| b == 0), "nothing may be written on a size mismatch");
}

#[test]
fn corrupt_tile_never_writes_outside_the_output_slice() {
    // Guard bands: decode into the middle of a larger buffer; the bands must stay intact for
    // corrupt streams as well as good ones.
    let s = stream("assimp_CesiumMilkTruck.bin.lvl12.gdf");
    let n = 113_052;
    for bit in (200 * 8..s.len() * 8).step_by(997) {
        let mut b = s.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        let mut buf = vec![0xA5u8; n + 2 * 4096];
        let _ = decompress_into(&b, &mut buf[4096..4096 + n], 2);
        assert!(buf[..4096].iter().chain(&buf[4096 + n..]).all(|&x| x == 0xA5), "bit {bit}");
    }
}

#[test]
fn errors_are_the_same_for_every_thread_count() {
    let s = stream("assimp_Wuson.ply.lvl12.gdf"); // 14 tiles
    for bit in (100 * 8..s.len() * 8).step_by(4099) {
        let mut b = s.clone();
        b[bit / 8] ^= 1 << (bit % 8);
        let one = decompress(&b, 1).err();
        for threads in [2, 3, 8] {
            assert_eq!(decompress(&b, threads).err(), one, "bit {bit}, {threads} threads");
        }
    }
}
