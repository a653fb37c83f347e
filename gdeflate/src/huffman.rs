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

/// What a decoded symbol is (the slow path's view; the fast path reads the flag bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u64)]
pub(crate) enum Kind {
    /// Main-table entry pointing at a subtable (`value` = its start index, `len` its width).
    Subtable = 0,
    /// A literal byte ([`Entry::literal`]); `value` is 1, the output it advances.
    Literal = 1,
    /// A match length: `value` is the base.
    Length = 2,
    /// A distance: `value` is the base.
    Distance = 3,
    /// End of block.
    EndOfBlock = 4,
    /// A code-length symbol (`value` = 0..=18).
    CodeLength = 5,
    /// Literal/length symbol 286 or 287 (`value` = the symbol).
    Invalid = 6,
    /// The code has no symbols.
    Empty = 7,
}

/// Flag: a main-table entry pointing at a subtable (never consumed: lookups resolve it).
pub(crate) const SUBTABLE_BIT: u64 = 1 << 7;
/// The value of the entries that end the fast path's round (end of block, symbol 286/287,
/// the empty code). A round cannot accept them: a literal/length lane advances the output
/// by at least this, past any page (at most 65536 bytes; see `decode::finish_round`), and
/// a distance lane's distance is beyond any match start.
pub(crate) const SPECIAL_VALUE: u32 = 0xFFFF;
/// Flag: the entry is anything but a literal (for the decoder's literal-only rounds).
pub(crate) const NOT_LITERAL_BIT: u64 = 1 << 15;
/// Flag: the entry is a match length. Bit 47 (≥ 31): a round collects lane l's flag into
/// bit l of a mask with one constant shift, `entry >> (47 − l)`, and one mask.
pub(crate) const LENGTH_BIT: u64 = 1 << 47;
/// Position of [`LENGTH_BIT`].
pub(crate) const LENGTH_SHIFT: u32 = 47;

/// One table entry, packed into a `u64` so that the decoder's fast path reads every field
/// with at most one shift (and uses the low byte directly as a shift count):
///
/// | bits | field |
/// |---|---|
/// | 0..6 | `total`: bits the step consumes, codeword + extra bits (≤ 31) |
/// | 7 | flag: subtable pointer |
/// | 8..12 | `len`: codeword length (subtable pointer: the subtable's index width); 12..14 zero |
/// | 15 | flag: not a literal (in the low 32 bits: tested with a 32-bit immediate; the sign of the low 16 bits, which the decoder's sparse round collects for 32 lanes at once) |
/// | 16..32 | mask of the extra bits, `(1 << extra) − 1` |
/// | 32..40 | the literal byte (symbol 286/287: the symbol − 256) |
/// | 40..43 | [`Kind`] |
/// | 47 | flag: length |
/// | 48..64 | `value`: 1 for a literal (the bytes it advances), the base of a length or distance, [`SPECIAL_VALUE`] for end of block, 286/287 and the empty code |
///
/// Bits 5 and 6 are zero, so for a resolved (non-pointer) entry the low byte is `total`,
/// and the low 6 bits of `entry >> 8` are `len`: x86 shifts mask their count to 6 bits, so
/// `wrapping_shr` by these compiles to one shift. A literal's value being its advance makes
/// "output advance = value + extra bits" hold for literals and lengths alike, which the fast
/// path exploits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry(pub(crate) u64);

impl Entry {
    const fn new(len: u32, extra: u32, kind: Kind, value: u32) -> Self {
        let (flags, literal, value) = match kind {
            Kind::Literal => (0, value, 1),
            Kind::Length => (LENGTH_BIT | NOT_LITERAL_BIT, 0, value),
            // Symbol 286/287 keeps its symbol, less 256, in the literal field.
            Kind::Invalid => (NOT_LITERAL_BIT, value.wrapping_sub(256) & 0xFF, SPECIAL_VALUE),
            Kind::EndOfBlock | Kind::Empty => (NOT_LITERAL_BIT, 0, SPECIAL_VALUE),
            Kind::Subtable => (SUBTABLE_BIT | NOT_LITERAL_BIT, 0, value),
            Kind::Distance | Kind::CodeLength => (NOT_LITERAL_BIT, 0, value),
        };
        Self(
            ((len + extra) as u64)
                | ((len as u64) << 8)
                | (((1u64 << extra) - 1) << 16)
                | ((literal as u64) << 32)
                | ((kind as u64) << 40)
                | flags
                | ((value as u64) << 48),
        )
    }
    /// Codeword length in bits (for a subtable pointer: the subtable's index width).
    #[inline(always)]
    pub(crate) const fn len(self) -> u32 {
        ((self.0 >> 8) & 0xF) as u32
    }
    /// Bits consumed by the step: codeword plus extra bits.
    #[inline(always)]
    pub(crate) const fn total(self) -> u32 {
        (self.0 & 0x3F) as u32
    }
    #[inline(always)]
    pub(crate) const fn kind(self) -> Kind {
        match (self.0 >> 40) & 0x7 {
            0 => Kind::Subtable,
            1 => Kind::Literal,
            2 => Kind::Length,
            3 => Kind::Distance,
            4 => Kind::EndOfBlock,
            5 => Kind::CodeLength,
            6 => Kind::Invalid,
            _ => Kind::Empty,
        }
    }
    #[inline(always)]
    const fn is_subtable(self) -> bool {
        self.0 & SUBTABLE_BIT != 0
    }
    /// The literal byte of a literal entry.
    #[inline(always)]
    pub(crate) const fn literal(self) -> u8 {
        (self.0 >> 32) as u8
    }
    #[inline(always)]
    pub(crate) const fn value(self) -> u32 {
        (self.0 >> 48) as u32
    }
    /// The symbol's value plus its extra bits, read from the bit buffer `b` whose low bits
    /// are the codeword.
    #[inline(always)]
    pub(crate) const fn value_with_extra(self, b: u64) -> u32 {
        // The shift count's low 6 bits are `len` (bits 12..14 of the entry are zero).
        let extra = (b.wrapping_shr((self.0 >> 8) as u32) as u32) & ((self.0 as u32) >> 16);
        self.value() + extra
    }
}

const EMPTY: Entry = Entry::new(0, 0, Kind::Empty, 0);

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
/// The offset of the distance main table in [`BlockCodes`]: the index bit that selects it.
pub(crate) const DISTANCE_HALF: usize = MAIN_SIZE;
const PRECODE_BITS: u32 = 7;

/// Capacity of [`BlockCodes`]: two main tables plus the worst case of subtables (one of
/// 2^5 entries per literal/length or distance symbol with a codeword longer than
/// `MAIN_BITS`: 320 · 32 = 10240), rounded up to a power of two so that masked indices need
/// no bounds checks.
const CODES_CAP: usize = 16384;
const _: () = assert!(2 * MAIN_SIZE + 320 * (1 << (MAX_CODEWORD_LEN - MAIN_BITS)) <= CODES_CAP);

/// Builds the canonical code for `lens` (index = symbol) into `entries`: the main table at
/// `entries[main_start..main_start + 2^main_bits]`, subtables at `*next_free` onwards (which
/// advances). Validates the code as the reference does (spec 2.6): over-subscribed is
/// invalid; incomplete is valid only when empty or when a single symbol has length 1.
fn build_code(
    entries: &mut [Entry],
    next_free: &mut usize,
    main_start: usize,
    main_bits: u32,
    lens: &[u8],
    alphabet: Alphabet,
) -> Result<(), DecodeErrorKind> {
    let max_allowed = if alphabet == Alphabet::Precode { PRECODE_BITS } else { MAX_CODEWORD_LEN };
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
        entries[main].fill(EMPTY);
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
    entries[main].fill(EMPTY);

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
            let start = if link.is_subtable() {
                link.value() as usize
            } else {
                let start = *next_free;
                *next_free += 1 << sub_bits;
                entries[start..*next_free].fill(EMPTY);
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

/// The precode's decode table: 7-bit codewords, one level.
#[derive(Clone)]
pub(crate) struct Table {
    entries: [Entry; 1 << PRECODE_BITS],
}

impl Table {
    pub(crate) fn new() -> Self {
        Self { entries: [EMPTY; 1 << PRECODE_BITS] }
    }

    /// Looks up the entry for the next stream bits `bits` (first bit in bit 0).
    #[inline(always)]
    pub(crate) fn lookup(&self, bits: u64) -> Entry {
        self.entries[bits as usize & ((1 << PRECODE_BITS) - 1)]
    }

    /// Builds the table for precode lengths `lens` (index = symbol); see [`build_code`].
    pub(crate) fn build(&mut self, lens: &[u8]) -> Result<(), DecodeErrorKind> {
        let mut unused = 1 << PRECODE_BITS;
        build_code(&mut self.entries, &mut unused, 0, PRECODE_BITS, lens, Alphabet::Precode)
    }
}

/// The literal/length and distance codes of one block in a single entry array: the
/// literal/length main table at 0, the distance main table at `MAIN_SIZE`, subtables after.
/// A lane that owes a distance selects the second half by offset, without a branch.
#[derive(Clone)]
pub(crate) struct BlockCodes {
    entries: Box<[Entry; CODES_CAP]>,
}

impl BlockCodes {
    pub(crate) fn new() -> Self {
        Self { entries: Box::new([EMPTY; CODES_CAP]) }
    }

    /// Builds both codes; distance lengths may be empty (a block without matches).
    pub(crate) fn build(&mut self, litlen: &[u8], dist: &[u8]) -> Result<(), DecodeErrorKind> {
        let mut next_free = 2 * MAIN_SIZE;
        let e = &mut self.entries[..];
        build_code(e, &mut next_free, 0, MAIN_BITS, litlen, Alphabet::LitLen)?;
        build_code(e, &mut next_free, MAIN_SIZE, MAIN_BITS, dist, Alphabet::Distance)
    }

    /// Looks up the next symbol of bits `bits`: a literal/length when `distance == 0`, a
    /// distance when `distance == 1`. Indices are masked into the fixed-size array, so no
    /// bounds check is needed (entries are in range by construction).
    #[inline(always)]
    pub(crate) fn lookup(&self, distance: u32, bits: u64) -> Entry {
        self.lookup_in(((distance as usize) & 1) << MAIN_BITS, bits)
    }

    /// [`Self::lookup`] with the table selected by `half`: 0 for literal/length, bit
    /// [`MAIN_BITS`] (= [`DISTANCE_HALF`]) set for distance; other bits are ignored.
    #[inline(always)]
    pub(crate) fn lookup_in(&self, half: usize, bits: u64) -> Entry {
        let main = (half & DISTANCE_HALF) | (bits as usize & (MAIN_SIZE - 1));
        let e = self.entries[main];
        if !e.is_subtable() {
            return e;
        }
        let sub = e.value() as usize + ((bits >> MAIN_BITS) as usize & ((1usize << e.len()) - 1));
        self.entries[sub & (CODES_CAP - 1)]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tables::{fixed_dist_lengths, fixed_litlen_lengths};

    fn decode_all(t: &BlockCodes, which: u32, alphabet: Alphabet, lens: &[u8]) {
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
            let e = t.lookup(which, rev | (0xABCDu64 << l));
            assert_eq!(e.len(), u32::from(l), "symbol {sym}");
            let expect = alphabet.entry(sym, u32::from(l));
            assert_eq!(e, expect, "symbol {sym}");
        }
    }

    fn litlen_only(lens: &[u8]) -> BlockCodes {
        let mut t = BlockCodes::new();
        t.build(lens, &[]).unwrap();
        t
    }

    #[test]
    fn fixed_codes_decode_every_symbol() {
        let (lit, dist) = (fixed_litlen_lengths(), fixed_dist_lengths());
        let mut t = BlockCodes::new();
        t.build(&lit, &dist).unwrap();
        decode_all(&t, 0, Alphabet::LitLen, &lit);
        decode_all(&t, 1, Alphabet::Distance, &dist);
    }

    #[test]
    fn long_codewords_go_through_subtables() {
        // A complete code with lengths 1..=14 and two of 15 (a "staircase"), in both halves.
        let mut lens = vec![0u8; 288];
        for (i, l) in (1..=15u8).enumerate() {
            lens[i] = l;
        }
        lens[15] = 15;
        let mut t = BlockCodes::new();
        t.build(&lens, &lens[..32]).unwrap();
        decode_all(&t, 0, Alphabet::LitLen, &lens);
        decode_all(&t, 1, Alphabet::Distance, &lens[..32]);
    }

    #[test]
    fn entry_fields_hold_value_extra_and_total() {
        // Length symbol 284: base 227, 5 extra bits; with extra = 31 it means 258 (spec 2.2).
        let e = Alphabet::LitLen.entry(284, 8);
        assert_eq!((e.kind(), e.len(), e.total(), e.value()), (Kind::Length, 8, 13, 227));
        assert_eq!(e.value_with_extra(0b11111 << 8 | 0xAB), 258);
        let e = Alphabet::Distance.entry(31, 5);
        assert_eq!((e.kind(), e.total(), e.value_with_extra(0x3FFF << 5)), (Kind::Distance, 19, 65536));
    }

    #[test]
    fn oversubscribed_and_incomplete_codes_are_rejected() {
        let mut t = BlockCodes::new();
        let lit = fixed_litlen_lengths();
        let err = Err(DecodeErrorKind::InvalidCode(CodeKind::Distance));
        assert_eq!(t.build(&lit, &[1, 1, 1]), err);
        assert_eq!(t.build(&lit, &[2, 2, 2]), err);
        // A single codeword of length 2 is incomplete and not the allowed special case.
        assert_eq!(t.build(&lit, &[0, 2]), err);
        assert_eq!(t.build(&[1, 1, 1], &[]), Err(DecodeErrorKind::InvalidCode(CodeKind::LitLen)));
        let mut p = Table::new();
        assert_eq!(p.build(&[1, 1, 1]), Err(DecodeErrorKind::InvalidCode(CodeKind::Precode)));
        assert_eq!(p.build(&[8, 1]), Err(DecodeErrorKind::InvalidCode(CodeKind::Precode)));
    }

    #[test]
    fn single_length_one_symbol_decodes_from_either_bit() {
        let mut t = BlockCodes::new();
        t.build(&fixed_litlen_lengths(), &[0, 0, 0, 1]).unwrap();
        for bits in [0u64, 1, 0x55, 0xFFFF] {
            let e = t.lookup(1, bits);
            assert_eq!((e.kind(), e.value(), e.len()), (Kind::Distance, DIST_BASE[3], 1));
        }
    }

    #[test]
    fn empty_code_decodes_to_empty() {
        let t = litlen_only(&fixed_litlen_lengths());
        assert_eq!(t.lookup(1, 0x1234).kind(), Kind::Empty);
        assert_ne!(t.lookup(0, 0x1234).kind(), Kind::Empty);
    }
}
