//! Differential: our page decoder against NVIDIA's reference decoder (`gdeflate-ref`).
//!
//! Input layout `[size: u16 LE][page bytes…]`: the page must decode to exactly `size + 1`
//! bytes (1..=65536).
//!
//! * Ours accepts ⇒ the reference accepts with identical bytes.
//! * The reference accepts and ours rejects ⇒ allowed only for the strictness differences the
//!   spec documents (see `reference_may_accept`); any other error kind is a bug in one of the
//!   two decoders and panics.
//! * Both reject ⇒ fine (the error kinds are not comparable).
#![no_main]

use dsr_gdeflate::{DecodeErrorKind, PageDecoder};
use gdeflate_ref::{Decompressor, RefError};
use libfuzzer_sys::fuzz_target;

/// The checks ours makes and the reference does not (`shared/spec/gdeflate.md`; spec 3.10:
/// "The reference CPU decoder checks only a subset (distances, output capacity, code
/// validity, stored LEN vs. remaining input)"). For these, the reference may decode a page
/// that ours rejects:
///
/// * `BadPageSize` — page length not a multiple of 4 or < 128 (3.1, 3.6, 3.10): the
///   reference takes any length.
/// * `InputOverrun` — a refill past the end of the page (3.2, 3.6, 3.10): the reference never
///   bounds-checks refills and reads on (into the wrapper's zero padding, spec 11).
/// * `InvalidSymbol { 286 | 287 }` — literal/length symbols 286/287 (2.2, 3.10): the
///   reference treats them like 285.
/// * `CodeLengthOverrun` — the code-length sequence overshoots HLIT + HDIST (3.3.3 step 4,
///   3.10): the reference silently ignores the overshoot.
/// * `EmptyCode(_)` — a symbol decoded from an empty code, e.g. a distance in a block without
///   distance codes (2.6, 3.10): the reference's table for an empty code decodes symbol 0
///   with a 1-bit codeword (libdeflate `build_decode_table`), so it carries on.
///
/// Everything else in 3.10 the reference checks too (BTYPE 3, code validity, repeat without
/// previous length, distance before the page start, output capacity, final size) or cannot
/// get past (a block whose EOB has no codeword never ends), so any other disagreement panics.
fn reference_may_accept(kind: DecodeErrorKind) -> bool {
    matches!(
        kind,
        DecodeErrorKind::BadPageSize { .. }
            | DecodeErrorKind::InputOverrun
            | DecodeErrorKind::InvalidSymbol { symbol: 286 | 287 }
            | DecodeErrorKind::CodeLengthOverrun
            | DecodeErrorKind::EmptyCode(_)
    )
}

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let size = usize::from(u16::from_le_bytes([data[0], data[1]])) + 1;
    let page = &data[2..];
    // Fresh decoders for every input, so that a failure reproduces from its input alone.
    let mut ours = vec![0u8; size];
    let ours_res = PageDecoder::new().decode(page, &mut ours);
    let mut theirs = vec![0u8; size];
    let ref_res = Decompressor::new().decompress_page(page, &mut theirs);
    match (ours_res, ref_res) {
        (Ok(()), Ok(())) => {
            assert!(ours == theirs, "both accept a {}-byte page but the output differs", page.len())
        }
        (Ok(()), Err(r)) => {
            panic!("ours accepts a {}-byte page to {size} bytes, the reference rejects it: {r:?}", page.len())
        }
        (Err(e), Ok(())) => assert!(
            reference_may_accept(e.kind),
            "the reference accepts a {}-byte page to {size} bytes, ours rejects it with an \
             error the reference also checks: {e}",
            page.len()
        ),
        (Err(_), Err(RefError::BadInputLength)) => unreachable!("size is 1..=65536"),
        (Err(_), Err(_)) => {}
    }
});
