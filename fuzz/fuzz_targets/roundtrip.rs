//! Round trip: `[mode byte][data…]` → `compress(data, level, 1)` → `decompress` must give
//! `data` back, and every page of the stream must decode to the same bytes with NVIDIA's
//! reference decoder (our encoder's pages are valid GDeflate, not just self-consistent).
//!
//! Mode byte: level = `(mode & 0x7F) % 13`; with bit 7 set, `data` is first repeated
//! cyclically to `65536 + data.len()` bytes, so the stream has two tiles (a full one and a
//! partial last one) and exercises the tile table and the last-tile size.
#![no_main]

use dsr_gdeflate::{Level, TileStream, compress, decompress};
use gdeflate_ref::Decompressor;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&mode, data)) = input.split_first() else {
        return;
    };
    let level = u32::from((mode & 0x7F) % 13);
    let repeated: Vec<u8>;
    let data = if mode & 0x80 != 0 && !data.is_empty() {
        repeated = data.iter().copied().cycle().take(dsr_gdeflate::TILE_SIZE + data.len()).collect();
        &repeated[..]
    } else {
        data
    };
    let lvl = Level::new(level).expect("levels 0..=12 are valid");
    let stream = compress(data, lvl, 1).expect("the encoder accepts every input under 4 GiB");
    let back = decompress(&stream, 1).unwrap_or_else(|e| {
        panic!("level {level}, {} bytes: our decoder rejects our stream: {e}", data.len())
    });
    assert!(back == data, "level {level}, {} bytes: round trip differs", data.len());

    let ts = TileStream::parse(&stream).expect("decompress succeeded, so the stream parses");
    let mut reference = Decompressor::new();
    for i in 0..ts.num_tiles() {
        let n = ts.tile_uncompressed_size(i);
        let start = i as usize * dsr_gdeflate::TILE_SIZE;
        let mut out = vec![0u8; n];
        reference.decompress_page(ts.tile(i), &mut out).unwrap_or_else(|e| {
            panic!("level {level}, {} bytes: the reference rejects tile {i}: {e:?}", data.len())
        });
        assert!(out == data[start..start + n], "level {level}: the reference decodes tile {i} differently");
    }
});
