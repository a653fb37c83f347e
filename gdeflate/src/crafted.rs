//! Hand-built pages, each breaking exactly one rule of spec 3.10, with the exact error the
//! decoder must report, plus control pages built the same way that must decode. Every
//! decoder of ds-runtime (the CPU reference here, the GPU kernels elsewhere) is tested on
//! them. Pages are assembled step by step with the encoder's lane writer (spec 3.8), calling
//! `refill` where the decoder will, so the word layout is what a real encoder would produce;
//! the control pages show the construction is sound, so each failure comes from its one flaw.
//!
//! Test support (feature `crafted-pages`), not part of the codec's API.

use crate::encode::lanes::LaneWriter;
use crate::error::{CodeKind, DecodeErrorKind as K};
use crate::tables::PRECODE_ORDER;

/// One hand-built page and what decoding it must give.
#[derive(Debug, Clone)]
pub struct CraftedPage {
    /// What the page tests.
    pub name: &'static str,
    /// The page's bytes.
    pub page: Vec<u8>,
    /// The decoded size to ask for.
    pub size: usize,
    /// The decoded bytes, or the error (kind) decoding must report.
    pub expected: Result<Vec<u8>, K>,
}

/// A page under construction, with DEFLATE's fixed-code helpers.
struct Page(LaneWriter);

impl Page {
    fn new() -> Self {
        Self(LaneWriter::new())
    }
    fn put(&mut self, l: usize, v: u32, n: u32) -> &mut Self {
        self.0.put(l, v, n);
        self
    }
    /// A Huffman codeword, sent MSB first.
    fn code(&mut self, l: usize, cw: u32, len: u32) -> &mut Self {
        self.put(l, cw.reverse_bits() >> (32 - len), len)
    }
    fn refill(&mut self, l: usize) -> &mut Self {
        self.0.refill(l);
        self
    }
    fn header(&mut self, bfinal: u32, btype: u32) -> &mut Self {
        self.put(0, bfinal, 1).put(0, btype, 2).refill(0)
    }
    /// One step on lane `l`: a fixed-code literal/length symbol, then the lane's refill.
    fn fixed(&mut self, l: usize, sym: u32) -> &mut Self {
        match sym {
            0..=143 => self.code(l, 0x30 + sym, 8),
            144..=255 => self.code(l, 0x190 + sym - 144, 9),
            256..=279 => self.code(l, sym - 256, 7),
            _ => self.code(l, 0xC0 + sym - 280, 8),
        }
    }
    /// Dynamic header up to and including the precode (spec 3.3.3 steps 1–2).
    fn dynamic(&mut self, hlit: u32, hdist: u32, pre: &[(u8, u32)]) -> &mut Self {
        let mut lens = [0u32; 19];
        for &(sym, len) in pre {
            lens[usize::from(sym)] = len;
        }
        let hclen = 1 + PRECODE_ORDER.iter().rposition(|&s| lens[usize::from(s)] != 0).unwrap();
        let hclen = hclen.max(4);
        self.header(1, 2).put(0, hlit - 257, 5).put(0, hdist - 1, 5).put(0, hclen as u32 - 4, 4).refill(0);
        for (i, &s) in PRECODE_ORDER.iter().enumerate().take(hclen) {
            self.put(i, lens[usize::from(s)], 3).refill(i);
        }
        self
    }
    /// The code-length sequence: (codeword, codeword length, extra value, extra bits) per item.
    fn lengths(&mut self, items: &[(u32, u32, u32, u32)]) -> &mut Self {
        for (c, &(cw, len, extra, nextra)) in items.iter().enumerate() {
            let l = c % 32;
            self.code(l, cw, len).put(l, extra, nextra).refill(l);
        }
        self
    }
    fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        self.0.finish(&mut out);
        out
    }
}

/// Precode {0: 00, 1: 01, 2: 10, 18: 11} and a code-length sequence giving literal 0 length
/// 1, symbols 1..=255 nothing, then `tail` (lengths of 256, 257, ... and the distances).
fn two_level_page(hlit: u32, tail: &[u32]) -> Page {
    let mut items = vec![(0b01, 2, 0, 0), (0b11, 2, 127, 7), (0b11, 2, 106, 7)];
    items.extend(tail.iter().map(|&len| (len, 2, 0, 0)));
    let mut p = Page::new();
    p.dynamic(hlit, 1, &[(0, 2), (1, 2), (2, 2), (18, 2)]).lengths(&items);
    p
}

/// Every crafted page: one per rule of spec 3.10 that a page can break, and the controls.
pub fn crafted_pages() -> Vec<CraftedPage> {
    let mut v = Vec::new();
    let mut add = |name, page: Vec<u8>, size, expected| v.push(CraftedPage { name, page, size, expected });

    // a b c + match(3, distance 3): lanes 0-2 literals, lane 3 length, lane 4 EOB, tail: lane
    // 3's distance (fixed distance code 2 = distance 3).
    let mut p = Page::new();
    p.header(1, 1);
    for (l, &b) in b"abc".iter().enumerate() {
        p.fixed(l, u32::from(b)).refill(l);
    }
    p.fixed(3, 257).refill(3).fixed(4, 256).refill(4);
    p.code(3, 2, 5).refill(3);
    add("control: fixed block with a match", p.finish(), 6, Ok(b"abcabc".to_vec()));

    // 'a', then match(3, distance 2) at position 1: reaches one byte before the page.
    let mut p = Page::new();
    p.header(1, 1).fixed(0, u32::from(b'a')).refill(0).fixed(1, 257).refill(1).fixed(2, 256).refill(2);
    p.code(1, 1, 5).refill(1);
    add("distance before the page start", p.finish(), 4, Err(K::DistanceTooFar { distance: 2, position: 1 }));

    // Symbol 285 with 16 extra bits = 100 -> length 103 at position 1 of a 10-byte page.
    let mut p = Page::new();
    p.header(1, 1).fixed(0, u32::from(b'a')).refill(0).fixed(1, 285).put(1, 100, 16).refill(1);
    add("match longer than the page", p.finish(), 10, Err(K::OutputOverrun { capacity: 10 }));

    for (name, sym) in [("literal/length symbol 286", 286), ("literal/length symbol 287", 287)] {
        let mut p = Page::new();
        p.header(1, 1).fixed(0, sym).refill(0);
        add(name, p.finish(), 10, Err(K::InvalidSymbol { symbol: sym as u16 }));
    }

    let mut p = Page::new();
    p.header(1, 0).put(0, 20, 16);
    add("stored block longer than the page", p.finish(), 10, Err(K::OutputOverrun { capacity: 10 }));

    let mut p = Page::new();
    p.dynamic(257, 1, &[(16, 1), (17, 1), (18, 1), (0, 1)]);
    add("over-subscribed precode", p.finish(), 10, Err(K::InvalidCode(CodeKind::Precode)));

    // Precode {0: "0", 16: "1"}; the first code-length symbol is 16.
    let mut p = Page::new();
    p.dynamic(257, 1, &[(16, 1), (0, 1)]).lengths(&[(1, 1, 0, 2)]);
    add("repeat with no previous length", p.finish(), 10, Err(K::RepeatWithoutPrevious));

    // Precode {0: "0", 18: "1"}; 138 + 138 zeros > 257 + 1.
    let mut p = Page::new();
    p.dynamic(257, 1, &[(18, 1), (0, 1)]).lengths(&[(1, 1, 127, 7), (1, 1, 127, 7)]);
    add("code lengths overrun HLIT + HDIST", p.finish(), 10, Err(K::CodeLengthOverrun));

    // 138 + 120 = 258 zero lengths: a valid (empty) sequence, but no codeword for symbol 256.
    let mut p = Page::new();
    p.dynamic(257, 1, &[(18, 1), (0, 1)]).lengths(&[(1, 1, 127, 7), (1, 1, 109, 7)]);
    add("literal/length code without end of block", p.finish(), 10, Err(K::MissingEndOfBlock));

    // Precode {0: "0", 1: "1"}; 258 lengths of 1: 257 literal/length codewords of length 1.
    let items = vec![(1, 1, 0, 0); 258];
    let mut p = Page::new();
    p.dynamic(257, 1, &[(0, 1), (1, 1)]).lengths(&items);
    add("over-subscribed literal/length code", p.finish(), 10, Err(K::InvalidCode(CodeKind::LitLen)));

    // Literal/length {0: "0", 256: "1"} is complete; the distance code's only codeword has
    // length 2, which is incomplete and not the one-symbol-of-length-1 exception.
    let p = two_level_page(257, &[1, 2]).finish();
    add("incomplete distance code", p, 10, Err(K::InvalidCode(CodeKind::Distance)));

    // Literal/length {0: "0", 256: "10", 257: "11"}; no distance lengths at all (legal until
    // a distance is needed). Data: literal 0, then a length, then EOB: the tail must decode
    // lane 1's distance from the empty code.
    let mut p = two_level_page(258, &[2, 2, 0]);
    p.code(0, 0, 1).refill(0).code(1, 0b11, 2).refill(1).code(2, 0b10, 2).refill(2);
    add("distance from an empty distance code", p.finish(), 4, Err(K::EmptyCode(CodeKind::Distance)));

    // The previous page with its flaw removed (symbol 0 gets length 1: distance 1): it
    // decodes to four zero bytes, so the failure above comes from the empty code alone.
    let mut p = two_level_page(258, &[2, 2, 1]);
    p.code(0, 0, 1).refill(0).code(1, 0b11, 2).refill(1).code(2, 0b10, 2).refill(2);
    p.code(1, 0, 1).refill(1);
    add("control: the empty-distance page with a distance code", p.finish(), 4, Ok(vec![0; 4]));
    v
}
