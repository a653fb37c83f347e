//! Errors of the GDeflate layer.
//!
//! One error type for decoding, [`DecodeError`]: a [`DecodeErrorKind`] saying what rule of the
//! format was broken (spec 3.10 for pages, 5.6 and 5.1–5.3 for the tile-stream container), the
//! tile it happened in (when the input was a tile stream) and the byte offset of the decoder's
//! read position in the input it was given. One for encoding, [`EncodeError`]: the encoder
//! accepts every byte sequence, so it only fails on sizes the container cannot express.

use std::fmt;

/// Which of a block's three Huffman codes a code error is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CodeKind {
    /// The code-length ("precode") code of a dynamic block header.
    Precode,
    /// The literal/length code.
    LitLen,
    /// The distance code.
    Distance,
}

impl fmt::Display for CodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Precode => "code-length",
            Self::LitLen => "literal/length",
            Self::Distance => "distance",
        })
    }
}

/// What rule of the format the input broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DecodeErrorKind {
    // ---- tile-stream container (spec 5) ----
    /// Fewer than 8 bytes: no complete tile-stream header.
    TruncatedHeader,
    /// The first two bytes are not `04 FB` (GDeflate codec id and its complement).
    BadCodecId {
        /// Byte 0 as found.
        id: u8,
        /// Byte 1 as found.
        magic: u8,
    },
    /// `tileSizeIdx` is not 1 (64 KiB tiles, the only size defined).
    UnsupportedTileSize {
        /// The field as found.
        tile_size_idx: u8,
    },
    /// Reserved header bits 20..31 are not zero.
    ReservedBitsSet,
    /// The tile table runs past the end of the input.
    TruncatedTable,
    /// A tile's offset is not 4-byte aligned, goes backwards, or points past the input.
    BadTileOffset,
    /// The input is longer or shorter than the header and table say the stream is.
    StreamLengthMismatch {
        /// Length implied by the table (`8 + 4·numTiles + offset(last) + size(last)`).
        expected: u64,
        /// Length of the input.
        actual: u64,
    },
    /// The caller's stated uncompressed size or output buffer disagrees with the stream.
    UncompressedSizeMismatch {
        /// Uncompressed size the stream's header describes.
        stream: u64,
        /// Size the caller stated or provided.
        caller: u64,
    },

    // ---- page bitstream (spec 3.10) ----
    /// The page length is not a multiple of 4 or is shorter than 128 bytes.
    BadPageSize {
        /// Length of the page in bytes.
        len: u32,
    },
    /// A lane needed a word beyond the end of the page.
    InputOverrun,
    /// A block header with BTYPE 3.
    ReservedBlockType,
    /// A Huffman code is over-subscribed or illegally incomplete.
    InvalidCode(CodeKind),
    /// A symbol was decoded from a code with no symbols (e.g. a distance in a block
    /// whose distance code is empty).
    EmptyCode(CodeKind),
    /// Code-length symbol 16 ("repeat previous") with no previous length in the block.
    RepeatWithoutPrevious,
    /// The code-length sequence went past HLIT + HDIST entries.
    CodeLengthOverrun,
    /// The literal/length code gives the end-of-block symbol no codeword.
    MissingEndOfBlock,
    /// Literal/length symbol 286 or 287.
    InvalidSymbol {
        /// The symbol decoded.
        symbol: u16,
    },
    /// A match distance reaches before the start of the page.
    DistanceTooFar {
        /// The match distance.
        distance: u32,
        /// Bytes that precede the match in the page.
        position: u32,
    },
    /// A literal, match or stored block would write past the page's expected size.
    OutputOverrun {
        /// Expected decoded size of the page.
        capacity: u32,
    },
    /// The page ended (final block done) before producing its expected size.
    OutputUnderrun {
        /// Bytes produced.
        produced: u32,
        /// Bytes expected.
        expected: u32,
    },
}

impl fmt::Display for DecodeErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::TruncatedHeader => write!(f, "truncated tile-stream header (fewer than 8 bytes)"),
            Self::BadCodecId { id, magic } => {
                write!(f, "not a GDeflate tile stream: header starts {id:02X} {magic:02X}, expected 04 FB")
            }
            Self::UnsupportedTileSize { tile_size_idx } => {
                write!(f, "unsupported tile size index {tile_size_idx} (only 1 = 64 KiB is defined)")
            }
            Self::ReservedBitsSet => write!(f, "reserved header bits are set"),
            Self::TruncatedTable => write!(f, "tile table runs past the end of the input"),
            Self::BadTileOffset => {
                write!(f, "tile offset is misaligned, out of order or past the end of the input")
            }
            Self::StreamLengthMismatch { expected, actual } => {
                write!(f, "stream is {actual} bytes but its header and table describe {expected} bytes")
            }
            Self::UncompressedSizeMismatch { stream, caller } => {
                write!(f, "stream decodes to {stream} bytes but {caller} bytes were expected")
            }
            Self::BadPageSize { len } => {
                write!(f, "page of {len} bytes (must be a multiple of 4 and at least 128)")
            }
            Self::InputOverrun => write!(f, "bit stream needs data beyond the end of the page"),
            Self::ReservedBlockType => write!(f, "reserved block type 3"),
            Self::InvalidCode(k) => write!(f, "invalid {k} code (over-subscribed or incomplete)"),
            Self::EmptyCode(k) => write!(f, "symbol decoded from an empty {k} code"),
            Self::RepeatWithoutPrevious => {
                write!(f, "code-length repeat (16) with no previous length")
            }
            Self::CodeLengthOverrun => write!(f, "code lengths overrun HLIT + HDIST"),
            Self::MissingEndOfBlock => write!(f, "literal/length code has no end-of-block symbol"),
            Self::InvalidSymbol { symbol } => write!(f, "invalid literal/length symbol {symbol}"),
            Self::DistanceTooFar { distance, position } => write!(
                f,
                "match distance {distance} reaches before the start of the page (at position {position})"
            ),
            Self::OutputOverrun { capacity } => {
                write!(f, "data runs past the page's expected size of {capacity} bytes")
            }
            Self::OutputUnderrun { produced, expected } => {
                write!(f, "page decodes to {produced} bytes, expected {expected}")
            }
        }
    }
}

/// A decoding failure: what went wrong, in which tile, and where.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct DecodeError {
    /// What rule of the format was broken.
    pub kind: DecodeErrorKind,
    /// Index of the tile in the tile stream, when the input was a tile stream and the error
    /// is inside (or about) one tile.
    pub tile: Option<u32>,
    /// Byte offset in the input given to the failing call (the whole stream for tile-stream
    /// functions, the page for page functions). For bitstream errors this is the decoder's
    /// read position: the end of the last word it had loaded.
    pub offset: u64,
}

impl DecodeError {
    pub(crate) const fn new(kind: DecodeErrorKind, offset: u64) -> Self {
        Self { kind, tile: None, offset }
    }

    /// The same error, placed in tile `tile` whose page starts at `page_start` in the stream.
    pub(crate) const fn in_tile(mut self, tile: u32, page_start: u64) -> Self {
        self.tile = Some(tile);
        self.offset += page_start;
        self
    }
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.tile {
            Some(t) => write!(f, "tile {t}, byte offset {}: {}", self.offset, self.kind),
            None => write!(f, "byte offset {}: {}", self.offset, self.kind),
        }
    }
}

impl std::error::Error for DecodeError {}

/// An encoding failure. The encoder accepts every byte sequence; these are the sizes and
/// settings the format cannot express.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum EncodeError {
    /// A page holds at most 65536 bytes.
    PageTooLarge {
        /// Bytes given.
        len: usize,
    },
    /// A tile stream holds at most 65535 tiles (just under 4 GiB).
    TooManyTiles {
        /// Tiles the input would need.
        tiles: u64,
    },
    /// Compression levels are 0 (stored only) to 12.
    BadLevel {
        /// Level asked for.
        level: u32,
    },
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::PageTooLarge { len } => write!(f, "page input of {len} bytes exceeds 65536"),
            Self::TooManyTiles { tiles } => write!(
                f,
                "input needs {tiles} tiles, a tile stream holds at most 65535 (split it into several streams)"
            ),
            Self::BadLevel { level } => write!(f, "compression level {level} is not in 0..=12"),
        }
    }
}

impl std::error::Error for EncodeError {}
