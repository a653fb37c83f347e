//! Decoder robustness: arbitrary bytes must never make the decoder panic (errors are fine).
//!
//! * The whole input is a tile stream for `decompress`. On success the stream must parse and
//!   the output must be exactly its `uncompressed_size()`.
//! * The input is also read as `[size: u16 LE][page bytes…]` (the `differential` target's
//!   layout, so the two share seeds): `decode_page(page, out)` with `out.len() = size + 1`
//!   (1..=65536); then through one reused `PageDecoder`, first with another output size and
//!   then with `size` again, which must give the same result (no state leaks between calls).
//! * Error offsets are read positions inside the input they describe (`DecodeError::offset`).
#![no_main]

use dsr_gdeflate::{PageDecoder, TileStream, decode_page, decompress};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match decompress(data, 1) {
        Ok(out) => {
            let ts = TileStream::parse(data).expect("decompress succeeded but TileStream::parse failed");
            assert_eq!(out.len() as u64, ts.uncompressed_size(), "output length != uncompressed_size()");
        }
        Err(e) => assert!(
            e.offset <= data.len() as u64,
            "stream error offset {} past input of {}: {e}",
            e.offset,
            data.len()
        ),
    }

    if data.len() < 2 {
        return;
    }
    let size = usize::from(u16::from_le_bytes([data[0], data[1]])) + 1;
    let page = &data[2..];
    let mut out = vec![0u8; size];
    let first = decode_page(page, &mut out);
    if let Err(e) = first {
        assert!(
            e.offset <= page.len() as u64,
            "page error offset {} past page of {}: {e}",
            e.offset,
            page.len()
        );
        assert_eq!(e.tile, None, "page errors carry no tile");
    }

    // A reused decoder: first the page with a neighbouring output size (a different outcome,
    // often), then with `size` again; no state may leak from one call into the next.
    let mut dec = PageDecoder::new();
    let other = if size == 1 { 2 } else { size - 1 };
    let _ = dec.decode(page, &mut vec![0u8; other]);
    let mut again = vec![0u8; size];
    let second = dec.decode(page, &mut again);
    assert_eq!(first, second, "reused PageDecoder disagrees with a fresh one");
    if first.is_ok() {
        assert!(out == again, "reused PageDecoder produced different bytes");
    }
});
