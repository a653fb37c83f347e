//! Canonical Huffman codes for the decoder: validation (spec 2.6) and two-level lookup tables.
//!
//! A table is indexed by the low bits of a lane's bit buffer (the next stream bits, first bit
//! in bit 0; codewords are stored bit-reversed, so the first bit read is the codeword's MSB).
//! Each [`Entry`] says how many bits the codeword has, what it means, and how many extra bits
//! follow it, so one lookup decodes a whole step (codeword + extra bits ≤ 31 bits, spec 3.2).
//! Codewords longer than the main table's index width go through one subtable; every
//! subtable has the same width (`max_len − main_bits`), which keeps construction simple and
//! the worst-case size small (at most 288 subtables of 32 entries).
//!
//! Invariant: for a code that validated, every entry reachable from the main table is
//! filled, except for the empty code, whose entries all decode to [`Kind::Empty`].

use crate::error::{CodeKind, DecodeErrorKind};
use crate::tables::{DIST_BASE, DIST_EXTRA, LEN_BASE, LEN_EXTRA, MAX_CODEWORD_LEN};

/// What a decoded symbol is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Kind {
    /// A literal byte (`value`).
    Literal = 0,
    /// A match length: `value` is the base, `extra` the extra-bit count.
    Length = 1,
    /// End of block.
    EndOfBlock = 2,
    /// A distance: `value` is the base, `extra` the extra-bit count.
    Distance = 3,
    /// A code-length symbol (`value` = 0..=18, `extra` its repeat-count bits).
    CodeLength = 4,
    /// Literal/length symbol 286 or 287 (`value` = the symbol).
    Invalid = 5,
    /// The code has no symbols.
    Empty = 6,
    /// Main-table entry pointing at a subtable (`value` = its start index).
    Subtable = 7,
}

/// One table entry, packed into a `u32`: bits 0..4 codeword length, bits 4..9 extra-bit
/// count, bits 9..12 [`Kind`], bits 16..32 value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry(u32);

impl Entry {
    const fn new(len: u32, extra: u32, kind: Kind, value: u32) -> Self {
        Self(len | (extra << 4) | ((kind as u32) << 9) | (value << 16))
    }
    /// Codeword length in bits (for a subtable pointer: the main table's width).
    #[inline(always)]
    pub(crate) const fn len(self) -> u32 {
        self.0 & 0xF
    }
    /// Extra bits after the codeword.
    #[inline(always)]
    pub(crate) const fn extra(self) -> u32 {
        (self.0 >> 4) & 0x1F
    }
    #[inline(always)]
    pub(crate) const fn kind(self) -> Kind {
        match (self.0 >> 9) & 0x7 {
            0 => Kind::Literal,
            1 => Kind::Length,
            2 => Kind::EndOfBlock,
            3 => Kind::Distance,
            4 => Kind::CodeLength,
            5 => Kind::Invalid,
            6 => Kind::Empty,
            _ => Kind::Subtable,
        }
    }
    /// The raw [`Kind`] bits, for branch-free classification in the decoder's fast path.
    #[inline(always)]
    pub(crate) const fn kind_bits(self) -> u32 {
        (self.0 >> 9) & 0x7
    }
    #[inline(always)]
    pub(crate) const fn value(self) -> u32 {
        self.0 >> 16
    }
}

/// Which alphabet a table decodes; decides each symbol's [`Entry`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Alphabet {
    LitLen,
    Distance,
    Precode,
}

impl Alphabet {
    fn code_kind(self) -> CodeKind {
        match self {
            Self::LitLen => CodeKind::LitLen,
            Self::Distance => CodeKind::Distance,
            Self::Precode => CodeKind::Precode,
        }
    }

    /// The entry for `sym` with a codeword of `len` bits.
    fn entry(self, sym: usize, len: u32) -> Entry {
        match self {
            Self::LitLen => match sym {
                0..=255 => Entry::new(len, 0, Kind::Literal, sym as u32),
                256 => Entry::new(len, 0, Kind::EndOfBlock, 0),
                257..=285 => {
                    let i = sym - 257;
                    Entry::new(len, u32::from(LEN_EXTRA[i]), Kind::Length, u32::from(LEN_BASE[i]))
                }
                _ => Entry::new(len, 0, Kind::Invalid, sym as u32),
            },
            // DIST_BASE reaches 49153 < 2^16, so the base fits the 16-bit value field.
            Self::Distance => Entry::new(len, u32::from(DIST_EXTRA[sym]), Kind::Distance, DIST_BASE[sym]),
            Self::Precode => {
                let extra = match sym {
                    16 => 2,
                    17 => 3,
                    18 => 7,
                    _ => 0,
                };
                Entry::new(len, extra, Kind::CodeLength, sym as u32)
            }
        }
    }
}

/// Main-table width per alphabet: wide enough that nearly every codeword resolves in one
/// lookup, small enough to rebuild cheaply for every dynamic block. Literal/length and
/// distance share one width so that [`BlockCodes`] can select between them by offset.
pub(crate) const MAIN_BITS: u32 = 10;
const MAIN_SIZE: usize = 1 << MAIN_BITS;
const PRECODE_MAIN_BITS: u32 = 7;

/// Builds the canonical code for `lens` (index = symbol) into `entries`: the main table at
/// `entries[main_start..main_start + 2^main_bits]` (already allocated), subtables appended at
/// the end. Validates the code as the reference does (spec 2.6): over-subscribed is invalid;
/// incomplete is valid only when empty or when a single symbol has length 1.
fn build_code(
    entries: &mut Vec<Entry>,
    main_start: usize,
    main_bits: u32,
    lens: &[u8],
    alphabet: Alphabet,
) -> Result<(), DecodeErrorKind> {
    let max_allowed = if alphabet == Alphabet::Precode { 7 } else { MAX_CODEWORD_LEN };
    let invalid = DecodeErrorKind::InvalidCode(alphabet.code_kind());
    let mut count = [0u32; 16];
    for &l in lens {
        if u32::from(l) > max_allowed {
            return Err(invalid);
        }
        count[usize::from(l)] += 1;
    }
    count[0] = 0;
    let used: u32 = count.iter().sum();

    // Kraft check: `left` = codewords still available at the current length.
    let mut left: i64 = 1;
    for &c in &count[1..] {
        left = 2 * left - i64::from(c);
        if left < 0 {
            return Err(invalid);
        }
    }

    let main_size = 1usize << main_bits;
    let main = main_start..main_start + main_size;
    if used == 0 {
        entries[main].fill(Entry::new(0, 0, Kind::Empty, 0));
        return Ok(());
    }
    if left != 0 {
        // Incomplete: legal only as a single length-1 codeword, decoded from either bit.
        if used == 1 && count[1] == 1 {
            let sym = lens.iter().position(|&l| l == 1).unwrap_or(0);
            entries[main].fill(alphabet.entry(sym, 1));
            return Ok(());
        }
        return Err(invalid);
    }
    entries[main].fill(Entry::new(0, 0, Kind::Empty, 0));

    let max_len = (1..=15u32).rev().find(|&l| count[l as usize] != 0).unwrap_or(1);
    let sub_bits = max_len.saturating_sub(main_bits);

    // First canonical codeword of each length (spec 2.6).
    let mut next_code = [0u32; 16];
    let mut code = 0u32;
    for l in 1..16 {
        code = (code + count[l - 1]) << 1;
        next_code[l] = code;
    }

    for (sym, &l) in lens.iter().enumerate() {
        let len = u32::from(l);
        if len == 0 {
            continue;
        }
        let cw = next_code[len as usize];
        next_code[len as usize] += 1;
        // Stream order is MSB-first, the buffer is LSB-first: reverse the codeword.
        let rev = cw.reverse_bits() >> (32 - len);
        let entry = alphabet.entry(sym, len);
        if len <= main_bits {
            let mut i = rev as usize;
            while i < main_size {
                entries[main_start + i] = entry;
                i += 1 << len;
            }
        } else {
            let prefix = main_start + (rev as usize & (main_size - 1));
            let link = entries[prefix];
            let start = if link.kind() == Kind::Subtable {
                link.value() as usize
            } else {
                let start = entries.len();
                entries.resize(start + (1 << sub_bits), Entry::new(0, 0, Kind::Empty, 0));
                entries[prefix] = Entry::new(sub_bits, 0, Kind::Subtable, start as u32);
                start
            };
            let mut i = (rev >> main_bits) as usize;
            while i < (1 << sub_bits) {
                entries[start + i] = entry;
                i += 1 << (len - main_bits);
            }
        }
    }
    Ok(())
}

/// A decode table for one code (used for the precode).
#[derive(Clone)]
pub(crate) struct Table {
    entries: Vec<Entry>,
    main_bits: u32,
    main_mask: u64,
    alphabet: Alphabet,
}

impl Table {
    pub(crate) fn new(alphabet: Alphabet) -> Self {
        let main_bits = if alphabet == Alphabet::Precode { PRECODE_MAIN_BITS } else { MAIN_BITS };
        Self {
            entries: Vec::with_capacity(MAIN_SIZE + 288 * 32),
            main_bits,
            main_mask: (1u64 << main_bits) - 1,
            alphabet,
        }
    }

    /// Looks up the entry for the next stream bits `bits` (first bit in bit 0).
    #[inline(always)]
    pub(crate) fn lookup(&self, bits: u64) -> Entry {
        let e = self.entries[(bits & self.main_mask) as usize];
        if e.kind() != Kind::Subtable {
            return e;
        }
        let idx = e.value() as u64 + ((bits >> self.main_bits) & ((1u64 << e.len()) - 1));
        self.entries[idx as usize]
    }

    /// Builds the table for code lengths `lens` (index = symbol); see [`build_code`].
    pub(crate) fn build(&mut self, lens: &[u8]) -> Result<(), DecodeErrorKind> {
        self.entries.clear();
        self.entries.resize(1 << self.main_bits, Entry::new(0, 0, Kind::Empty, 0));
        build_code(&mut self.entries, 0, self.main_bits, lens, self.alphabet)
    }
}

/// The literal/length and distance codes of one block in a single entry array: the
/// literal/length main table at 0, the distance main table at `MAIN_SIZE`, subtables after.
/// A lane that owes a distance selects the second half by offset, without a branch.
#[derive(Clone)]
pub(crate) struct BlockCodes {
    entries: Vec<Entry>,
}

impl BlockCodes {
    pub(crate) fn new() -> Self {
        Self { entries: Vec::with_capacity(2 * MAIN_SIZE + 320 * 32) }
    }

    /// Builds both codes; distance lengths may be empty (a block without matches).
    pub(crate) fn build(&mut self, litlen: &[u8], dist: &[u8]) -> Result<(), DecodeErrorKind> {
        self.entries.clear();
        self.entries.resize(2 * MAIN_SIZE, Entry::new(0, 0, Kind::Empty, 0));
        build_code(&mut self.entries, 0, MAIN_BITS, litlen, Alphabet::LitLen)?;
        build_code(&mut self.entries, MAIN_SIZE, MAIN_BITS, dist, Alphabet::Distance)
    }

    /// Looks up the next symbol of bits `bits`: a literal/length when `distance == 0`, a
    /// distance when `distance == 1`.
    #[inline(always)]
    pub(crate) fn lookup(&self, distance: usize, bits: u64) -> Entry {
        let e = self.entries[(distance << MAIN_BITS) | (bits as usize & (MAIN_SIZE - 1))];
        if e.kind() != Kind::Subtable {
            return e;
        }
        let idx = e.value() as usize + ((bits >> MAIN_BITS) as usize & ((1usize << e.len()) - 1));
        self.entries[idx]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{fixed_dist_lengths, fixed_litlen_lengths};

    fn decode_all(t: &Table, lens: &[u8]) {
        // Every symbol's canonical codeword must decode back to it.
        let mut count = [0u32; 16];
        for &l in lens {
            count[l as usize] += 1;
        }
        count[0] = 0;
        let mut next = [0u32; 16];
        let mut code = 0;
        for l in 1..16 {
            code = (code + count[l - 1]) << 1;
            next[l] = code;
        }
        for (sym, &l) in lens.iter().enumerate() {
            if l == 0 {
                continue;
            }
            let cw = next[l as usize];
            next[l as usize] += 1;
            let rev = u64::from(cw.reverse_bits() >> (32 - u32::from(l)));
            // Garbage above the codeword must not matter.
            let e = t.lookup(rev | (0xABCDu64 << l));
            assert_eq!(e.len(), u32::from(l), "symbol {sym}");
            let expect = t.alphabet.entry(sym, u32::from(l));
            assert_eq!(e, expect, "symbol {sym}");
        }
    }

    #[test]
    fn fixed_codes_decode_every_symbol() {
        let mut t = Table::new(Alphabet::LitLen);
        let lens = fixed_litlen_lengths();
        t.build(&lens).unwrap();
        decode_all(&t, &lens);
        let mut d = Table::new(Alphabet::Distance);
        let dl = fixed_dist_lengths();
        d.build(&dl).unwrap();
        decode_all(&d, &dl);
    }

    #[test]
    fn long_codewords_go_through_subtables() {
        // A complete code with lengths 1..=14 and two of 15 (a "staircase").
        let mut lens = vec![0u8; 288];
        for (i, l) in (1..=15u8).enumerate() {
            lens[i] = l;
        }
        lens[15] = 15;
        let mut t = Table::new(Alphabet::LitLen);
        t.build(&lens).unwrap();
        decode_all(&t, &lens);
    }

    #[test]
    fn oversubscribed_and_incomplete_codes_are_rejected() {
        let mut t = Table::new(Alphabet::Distance);
        assert_eq!(t.build(&[1, 1, 1]), Err(DecodeErrorKind::InvalidCode(CodeKind::Distance)));
        assert_eq!(t.build(&[2, 2, 2]), Err(DecodeErrorKind::InvalidCode(CodeKind::Distance)));
        // A single codeword of length 2 is incomplete and not the allowed special case.
        assert_eq!(t.build(&[0, 2]), Err(DecodeErrorKind::InvalidCode(CodeKind::Distance)));
    }

    #[test]
    fn single_length_one_symbol_decodes_from_either_bit() {
        let mut t = Table::new(Alphabet::Distance);
        t.build(&[0, 0, 0, 1]).unwrap();
        for bits in [0u64, 1, 0x55, 0xFFFF] {
            let e = t.lookup(bits);
            assert_eq!((e.kind(), e.value(), e.len()), (Kind::Distance, DIST_BASE[3], 1));
        }
    }

    #[test]
    fn empty_code_decodes_to_empty() {
        let mut t = Table::new(Alphabet::Distance);
        t.build(&[0; 32]).unwrap();
        assert_eq!(t.lookup(0x1234).kind(), Kind::Empty);
    }
}
