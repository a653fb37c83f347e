//! Packs (`.dsp`): one file holding many named entries, each stored raw or as a DirectStorage
//! GDeflate tile stream, with a checksummed table of contents. The format is specified in
//! `docs/pack-format.md`; this module owns writing ([`PackWriter`]), validating
//! ([`Pack::open`], [`parse_image`]) and reading ([`Pack::read_entry`], or a streaming request
//! per entry through [`PackEntry::source`] and [`PackEntry::request_compression`]).
//!
//! Invariants of an opened [`Pack`] (checked by [`Pack::open`] before it returns, so readers may
//! rely on them): the header and table of contents are intact (SHA-256 checksums), the file is
//! exactly as long as the header says, every entry's stored bytes lie between the header and the
//! table of contents at an offset aligned to the pack's alignment, entries do not overlap and
//! are listed in ascending offset order, raw entries store exactly their uncompressed size,
//! names are valid ([`validate_name`]: non-empty relative `/`-separated UTF-8 paths without
//! `.`/`..` components) and unique. What is not checked at open is the entries' data: reading
//! an entry checks its tile stream (GDeflate), its size and its SHA-256.
//!
//! Safe code only; every offset and size read from a file is checked with checked arithmetic
//! before it is used, and nothing is allocated beyond what the file's length bounds.
//!
//! ```
//! use ds_runtime::pack::{EntryCompression, Pack, PackError, PackOptions, PackWriter};
//! let dir = tempfile::tempdir()?;
//! let path = dir.path().join("assets.dsp");
//! let text = b"a very compressible line of text\n".repeat(1000);
//! let mut x = 0x2545_f491_u32; // xorshift32: bytes that do not compress
//! let noise: Vec<u8> = (0..4096).map(|_| { x ^= x << 13; x ^= x >> 17; x ^= x << 5; x as u8 }).collect();
//! let mut w = PackWriter::create(&path, PackOptions::default())?;
//! w.add("text/readme.txt", &text)?;
//! w.add("noise.bin", &noise)?;
//! w.finish()?;
//!
//! let pack = Pack::open(&path)?; // header and table of contents validated
//! let readme = pack.find("text/readme.txt").unwrap();
//! assert_eq!(readme.compression, EntryCompression::GDeflate); // smaller compressed
//! assert_eq!(pack.find("noise.bin").unwrap().compression, EntryCompression::None);
//! assert_eq!(pack.read_entry(readme)?, text); // decoded, size and SHA-256 checked
//! let mut other = PackWriter::create(dir.path().join("other.dsp"), PackOptions::default())?;
//! assert!(matches!(other.add("../up", b"x"), Err(PackError::InvalidName { .. })));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use crate::stream::{Compression, File, Source};
use dsr_gdeflate::{DecodeError, DecodeErrorKind, EncodeError, Level, TileStream};
use sha2::{Digest, Sha256};
use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::io::{self, Seek, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// The eight bytes every pack starts with.
pub const MAGIC: [u8; 8] = *b"DSRPACK\0";
/// The format version this module reads and writes.
pub const VERSION: u16 = 1;
/// Size of the header at offset 0.
pub const HEADER_LEN: usize = 64;
/// Size of one table-of-contents record (the names follow the records).
pub const TOC_RECORD_LEN: usize = 64;
/// Longest entry name, in bytes.
pub const MAX_NAME_LEN: usize = 4096;
/// Most entries one pack may hold.
pub const MAX_ENTRIES: u32 = 1 << 24;
/// Smallest alignment a pack may declare (the table of contents is aligned to it as well).
pub const MIN_ALIGNMENT: u32 = 8;
/// Largest alignment a pack may declare (16 MiB).
pub const MAX_ALIGNMENT: u32 = 1 << 24;
/// The default entry alignment: O_DIRECT reads need offsets aligned to the logical block size,
/// at most 4 KiB on the file systems ds-runtime reads with O_DIRECT.
pub const DEFAULT_ALIGNMENT: u32 = 4096;
/// Largest uncompressed size a GDeflate entry can have (65535 tiles of 64 KiB).
pub const MAX_GDEFLATE_SIZE: u64 =
    dsr_gdeflate::tile_stream::MAX_TILES as u64 * dsr_gdeflate::TILE_SIZE as u64;

/// How a [`PackWriter`] stores entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackOptions {
    /// GDeflate level for compressed entries.
    pub level: Level,
    /// Threads for compressing one entry's tiles (0 = one per core).
    pub threads: usize,
    /// Alignment of every entry's offset: a power of two in
    /// [`MIN_ALIGNMENT`]`..=`[`MAX_ALIGNMENT`].
    pub alignment: u32,
}

impl PackOptions {
    /// Checks the options ([`PackError::InvalidOptions`] naming what is wrong).
    pub fn validate(&self) -> Result<(), PackError> {
        let a = self.alignment;
        if !a.is_power_of_two() || !(MIN_ALIGNMENT..=MAX_ALIGNMENT).contains(&a) {
            return Err(PackError::InvalidOptions {
                reason: format!("alignment {a} is not a power of two in {MIN_ALIGNMENT}..={MAX_ALIGNMENT}"),
            });
        }
        Ok(())
    }
}

impl Default for PackOptions {
    fn default() -> Self {
        Self { level: Level::DEFAULT, threads: 0, alignment: DEFAULT_ALIGNMENT }
    }
}

/// How an entry is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EntryCompression {
    /// The stored bytes are the entry's bytes.
    None,
    /// The stored bytes are a DirectStorage GDeflate tile stream of the entry's bytes.
    GDeflate,
}

impl EntryCompression {
    /// The code in the table of contents.
    pub const fn code(self) -> u8 {
        match self {
            Self::None => 0,
            Self::GDeflate => 1,
        }
    }

    /// The compression a table-of-contents code stands for.
    pub const fn from_code(code: u8) -> Option<Self> {
        match code {
            0 => Some(Self::None),
            1 => Some(Self::GDeflate),
            _ => None,
        }
    }

    /// `raw` or `gdeflate` (what `dsr ls` prints).
    pub const fn name(self) -> &'static str {
        match self {
            Self::None => "raw",
            Self::GDeflate => "gdeflate",
        }
    }
}

impl fmt::Display for EntryCompression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One entry of a pack, as its table of contents describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackEntry {
    /// UTF-8 relative path with `/` separators, unique in the pack ([`validate_name`]).
    pub name: String,
    /// Byte offset of the stored data in the pack file (a multiple of the pack's alignment).
    pub offset: u64,
    /// Bytes stored in the pack.
    pub stored_size: u64,
    /// Bytes after decoding.
    pub uncompressed_size: u64,
    /// How the bytes are stored.
    pub compression: EntryCompression,
    /// SHA-256 of the uncompressed bytes.
    pub sha256: [u8; 32],
}

impl PackEntry {
    /// The streaming request source for this entry of `file` (an open pack file).
    pub fn source(&self, file: &File) -> Source {
        Source::File { file: file.clone(), offset: self.offset, size: self.stored_size }
    }

    /// The streaming request compression for this entry.
    pub fn request_compression(&self) -> Compression {
        match self.compression {
            EntryCompression::None => Compression::None,
            EntryCompression::GDeflate => Compression::GDeflate { uncompressed_size: self.uncompressed_size },
        }
    }

    /// The SHA-256 as 64 lowercase hex digits.
    pub fn sha256_hex(&self) -> String {
        hex(&self.sha256)
    }

    /// Checks that `data` is this entry's uncompressed content: its size, then its SHA-256.
    pub fn verify(&self, data: &[u8]) -> Result<(), PackError> {
        if data.len() as u64 != self.uncompressed_size {
            return Err(PackError::SizeMismatch {
                name: self.name.clone(),
                expected: self.uncompressed_size,
                actual: data.len() as u64,
            });
        }
        if sha256(data) != self.sha256 {
            return Err(PackError::HashMismatch { name: self.name.clone() });
        }
        Ok(())
    }

    /// Decodes this entry's stored bytes `stored` on the CPU (GDeflate on up to `threads`
    /// threads, 0 = one per core) and checks size and SHA-256.
    pub fn decode(&self, stored: &[u8], threads: usize) -> Result<Vec<u8>, PackError> {
        if stored.len() as u64 != self.stored_size {
            return Err(PackError::SizeMismatch {
                name: self.name.clone(),
                expected: self.stored_size,
                actual: stored.len() as u64,
            });
        }
        let data = match self.compression {
            EntryCompression::None => stored.to_vec(),
            EntryCompression::GDeflate => {
                let decode_err = |error| PackError::Decode { name: self.name.clone(), error };
                // Parse first: the output is allocated only once the stream's own header agrees
                // with the table of contents (the header's size is bounded by the stream's length).
                let ts = TileStream::parse(stored).map_err(decode_err)?;
                if ts.uncompressed_size() != self.uncompressed_size {
                    let kind = DecodeErrorKind::UncompressedSizeMismatch {
                        stream: ts.uncompressed_size(),
                        caller: self.uncompressed_size,
                    };
                    return Err(decode_err(DecodeError { kind, tile: None, offset: 0 }));
                }
                let mut out = vec![0u8; ts.uncompressed_size() as usize];
                dsr_gdeflate::decompress_into(stored, &mut out, threads).map_err(decode_err)?;
                out
            }
        };
        self.verify(&data)?;
        Ok(data)
    }
}

/// What went wrong writing, opening or reading a pack. `offset`s are byte offsets in the pack
/// file.
#[derive(Debug)]
#[non_exhaustive]
pub enum PackError {
    /// An I/O error; `what` says which operation on which file.
    Io {
        /// The operation.
        what: String,
        /// The error.
        error: io::Error,
    },
    /// The file does not start with [`MAGIC`]: not a pack (or a pack whose writer never
    /// finished).
    BadMagic,
    /// A pack of a format version this build does not read.
    UnsupportedVersion {
        /// The version the header states.
        version: u16,
    },
    /// Header flags this build does not know.
    UnsupportedFlags {
        /// The flags the header states.
        flags: u32,
    },
    /// The file is shorter than its header says (or than a header).
    Truncated {
        /// Bytes the pack should have.
        expected: u64,
        /// Bytes the file has.
        actual: u64,
    },
    /// The header's or the table of contents' checksum does not match its bytes.
    ChecksumMismatch {
        /// `header` or `table of contents`.
        what: &'static str,
        /// Where the checksummed bytes start.
        offset: u64,
    },
    /// A structural rule of the format is broken (a checksummed but inconsistent pack).
    Corrupt {
        /// Which rule, and the values involved.
        what: String,
        /// Where the offending field is.
        offset: u64,
    },
    /// An entry name that is not a valid relative path ([`validate_name`]).
    InvalidName {
        /// The name (lossily decoded when it is not UTF-8).
        name: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// Two entries with the same name.
    DuplicateName {
        /// The name.
        name: String,
    },
    /// Invalid [`PackOptions`].
    InvalidOptions {
        /// What is wrong.
        reason: String,
    },
    /// An entry cannot be stored as asked (e.g. GDeflate beyond 65535 tiles).
    Encode {
        /// The entry.
        name: String,
        /// The codec's error.
        error: EncodeError,
    },
    /// An entry's tile stream does not decode (or states another size than the table of
    /// contents).
    Decode {
        /// The entry.
        name: String,
        /// The decoder's error (tile and byte offset inside the entry's stored bytes).
        error: DecodeError,
    },
    /// An entry decoded to another number of bytes than the table of contents says, or its
    /// stored bytes could not be read whole.
    SizeMismatch {
        /// The entry.
        name: String,
        /// Bytes expected.
        expected: u64,
        /// Bytes found.
        actual: u64,
    },
    /// An entry's bytes do not match its SHA-256.
    HashMismatch {
        /// The entry.
        name: String,
    },
}

impl fmt::Display for PackError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Io { what, error } => write!(f, "{what}: {error}"),
            Self::BadMagic => write!(f, "not a ds-runtime pack (bad magic; expected \"DSRPACK\\0\")"),
            Self::UnsupportedVersion { version } => {
                write!(
                    f,
                    "pack format version {version} is not supported (this build reads version {VERSION})"
                )
            }
            Self::UnsupportedFlags { flags } => write!(f, "unknown pack header flags {flags:#x}"),
            Self::Truncated { expected, actual } => {
                write!(f, "truncated pack: {actual} bytes, expected {expected}")
            }
            Self::ChecksumMismatch { what, offset } => {
                write!(f, "corrupt pack: {what} checksum mismatch (bytes from offset {offset})")
            }
            Self::Corrupt { what, offset } => write!(f, "corrupt pack at offset {offset}: {what}"),
            Self::InvalidName { name, reason } => write!(f, "invalid entry name {name:?}: {reason}"),
            Self::DuplicateName { name } => write!(f, "duplicate entry name {name:?}"),
            Self::InvalidOptions { reason } => write!(f, "invalid pack options: {reason}"),
            Self::Encode { name, error } => write!(f, "entry {name:?}: {error}"),
            Self::Decode { name, error } => write!(f, "entry {name:?}: corrupt GDeflate stream: {error}"),
            Self::SizeMismatch { name, expected, actual } => {
                write!(f, "entry {name:?}: {actual} bytes, expected {expected}")
            }
            Self::HashMismatch { name } => write!(f, "entry {name:?}: SHA-256 mismatch (corrupt data)"),
        }
    }
}

impl std::error::Error for PackError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Io { error, .. } => Some(error),
            Self::Encode { error, .. } => Some(error),
            Self::Decode { error, .. } => Some(error),
            _ => None,
        }
    }
}

impl PackError {
    /// The name of the entry the error is about, when it is about one.
    pub fn entry_name(&self) -> Option<&str> {
        match self {
            Self::InvalidName { name, .. }
            | Self::DuplicateName { name }
            | Self::Encode { name, .. }
            | Self::Decode { name, .. }
            | Self::SizeMismatch { name, .. }
            | Self::HashMismatch { name } => Some(name),
            _ => None,
        }
    }
}

fn io_err(what: impl Into<String>) -> impl FnOnce(io::Error) -> PackError {
    let what = what.into();
    move |error| PackError::Io { what, error }
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// `bytes` as lowercase hex digits.
pub fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Checks that `name` is a valid entry name: 1..=[`MAX_NAME_LEN`] bytes, components separated
/// by single `/`s, none of them empty, `.` or `..`, no leading `/` (relative), and no NUL or
/// `\` (so that unpacking can never leave the target directory, on any platform).
pub fn validate_name(name: &str) -> Result<(), PackError> {
    let reason = if name.is_empty() {
        Some("empty")
    } else if name.len() > MAX_NAME_LEN {
        Some("longer than 4096 bytes")
    } else if name.starts_with('/') {
        Some("absolute path (names are relative to the pack)")
    } else if name.contains('\0') {
        Some("contains a NUL byte")
    } else if name.contains('\\') {
        Some("contains a backslash (names use '/' separators)")
    } else {
        name.split('/').find_map(|c| match c {
            "" => Some("empty path component (\"//\" or a trailing '/')"),
            "." => Some("'.' path component"),
            ".." => Some("'..' path component (it would leave the unpack directory)"),
            _ => None,
        })
    };
    match reason {
        Some(reason) => Err(PackError::InvalidName { name: name.to_string(), reason }),
        None => Ok(()),
    }
}

/// The header's fields (`docs/pack-format.md`, "Header").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PackHeader {
    /// Format version ([`VERSION`]).
    pub version: u16,
    /// Flags (none defined in version 1: always 0).
    pub flags: u32,
    /// Alignment of every entry offset and of the table of contents.
    pub alignment: u32,
    /// Number of entries.
    pub entry_count: u32,
    /// Offset of the table of contents.
    pub toc_offset: u64,
    /// Size of the table of contents (records and names).
    pub toc_size: u64,
    /// Size of the whole pack file.
    pub file_size: u64,
    /// The first 12 bytes of the SHA-256 of the table of contents.
    pub toc_checksum: [u8; 12],
}

fn u16_at(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

fn u64_at(b: &[u8], at: usize) -> u64 {
    let mut x = [0u8; 8];
    x.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(x)
}

fn header_check(bytes: &[u8]) -> u32 {
    let d = sha256(&bytes[..HEADER_LEN - 4]);
    u32::from_le_bytes([d[0], d[1], d[2], d[3]])
}

fn corrupt(what: impl Into<String>, offset: u64) -> PackError {
    PackError::Corrupt { what: what.into(), offset }
}

impl PackHeader {
    /// Validates the header bytes `prefix` (the file's first bytes; at least [`HEADER_LEN`] of
    /// them unless the file is shorter) of a pack file `file_len` bytes long: magic, version,
    /// checksum, flags, alignment, limits, and that the table of contents lies inside the
    /// file right up to its end.
    pub fn parse(prefix: &[u8], file_len: u64) -> Result<Self, PackError> {
        let n = prefix.len().min(MAGIC.len());
        if prefix[..n] != MAGIC[..n] {
            return Err(PackError::BadMagic);
        }
        if prefix.len() < HEADER_LEN {
            return Err(PackError::Truncated { expected: HEADER_LEN as u64, actual: prefix.len() as u64 });
        }
        let b = &prefix[..HEADER_LEN];
        let version = u16_at(b, 8);
        if version != VERSION {
            return Err(PackError::UnsupportedVersion { version });
        }
        if u32_at(b, 60) != header_check(b) {
            return Err(PackError::ChecksumMismatch { what: "header", offset: 0 });
        }
        let header_len = u16_at(b, 10);
        if usize::from(header_len) != HEADER_LEN {
            return Err(corrupt(format!("header size {header_len}, version 1 has {HEADER_LEN}"), 10));
        }
        let mut toc_checksum = [0u8; 12];
        toc_checksum.copy_from_slice(&b[48..60]);
        let h = Self {
            version,
            flags: u32_at(b, 12),
            alignment: u32_at(b, 16),
            entry_count: u32_at(b, 20),
            toc_offset: u64_at(b, 24),
            toc_size: u64_at(b, 32),
            file_size: u64_at(b, 40),
            toc_checksum,
        };
        if h.flags != 0 {
            return Err(PackError::UnsupportedFlags { flags: h.flags });
        }
        if !h.alignment.is_power_of_two() || !(MIN_ALIGNMENT..=MAX_ALIGNMENT).contains(&h.alignment) {
            return Err(corrupt(
                format!(
                    "alignment {} is not a power of two in {MIN_ALIGNMENT}..={MAX_ALIGNMENT}",
                    h.alignment
                ),
                16,
            ));
        }
        if h.entry_count > MAX_ENTRIES {
            return Err(corrupt(format!("{} entries, at most {MAX_ENTRIES} allowed", h.entry_count), 20));
        }
        if file_len < h.file_size {
            return Err(PackError::Truncated { expected: h.file_size, actual: file_len });
        }
        if file_len > h.file_size {
            return Err(corrupt(
                format!("file is {file_len} bytes, the header says {} (trailing bytes)", h.file_size),
                40,
            ));
        }
        let data_start = align_up(HEADER_LEN as u64, u64::from(h.alignment));
        if h.toc_offset < data_start || !h.toc_offset.is_multiple_of(u64::from(h.alignment)) {
            return Err(corrupt(
                format!(
                    "table of contents offset {} is not a multiple of the alignment {} at or after {data_start}",
                    h.toc_offset, h.alignment
                ),
                24,
            ));
        }
        if h.toc_offset.checked_add(h.toc_size) != Some(h.file_size) {
            return Err(corrupt(
                format!(
                    "table of contents [{}, +{}) does not end at the end of the file ({})",
                    h.toc_offset, h.toc_size, h.file_size
                ),
                32,
            ));
        }
        let records = u64::from(h.entry_count) * TOC_RECORD_LEN as u64;
        let names_max = u64::from(h.entry_count) * MAX_NAME_LEN as u64;
        if h.toc_size < records || h.toc_size - records > names_max {
            return Err(corrupt(
                format!(
                    "table of contents of {} bytes cannot hold {} entries ({records} bytes of records + 1..={MAX_NAME_LEN} bytes per name)",
                    h.toc_size, h.entry_count
                ),
                32,
            ));
        }
        Ok(h)
    }

    /// The header's bytes (with its checksum).
    pub fn to_bytes(&self) -> [u8; HEADER_LEN] {
        let mut b = [0u8; HEADER_LEN];
        b[..8].copy_from_slice(&MAGIC);
        b[8..10].copy_from_slice(&self.version.to_le_bytes());
        b[10..12].copy_from_slice(&(HEADER_LEN as u16).to_le_bytes());
        b[12..16].copy_from_slice(&self.flags.to_le_bytes());
        b[16..20].copy_from_slice(&self.alignment.to_le_bytes());
        b[20..24].copy_from_slice(&self.entry_count.to_le_bytes());
        b[24..32].copy_from_slice(&self.toc_offset.to_le_bytes());
        b[32..40].copy_from_slice(&self.toc_size.to_le_bytes());
        b[40..48].copy_from_slice(&self.file_size.to_le_bytes());
        b[48..60].copy_from_slice(&self.toc_checksum);
        let check = header_check(&b);
        b[60..64].copy_from_slice(&check.to_le_bytes());
        b
    }
}

fn align_up(x: u64, alignment: u64) -> u64 {
    x.div_ceil(alignment) * alignment
}

/// Validates the table of contents `toc` (exactly `header.toc_size` bytes, read from
/// `header.toc_offset`) against `header`: checksum, records (compression codes, reserved bytes,
/// sizes, offsets aligned, in order, not overlapping, between the header and the table of
/// contents) and names (valid, unique, exactly filling the names area).
pub fn parse_toc(header: &PackHeader, toc: &[u8]) -> Result<Vec<PackEntry>, PackError> {
    if toc.len() as u64 != header.toc_size {
        return Err(PackError::Truncated {
            expected: header.toc_offset + header.toc_size,
            actual: header.toc_offset + toc.len() as u64,
        });
    }
    if sha256(toc)[..12] != header.toc_checksum {
        return Err(PackError::ChecksumMismatch { what: "table of contents", offset: header.toc_offset });
    }
    let count = header.entry_count as usize;
    // PackHeader::parse guarantees this; a hand-made header may not.
    if count.checked_mul(TOC_RECORD_LEN).is_none_or(|records| records > toc.len()) {
        return Err(corrupt(
            format!("table of contents of {} bytes cannot hold {count} entries", toc.len()),
            header.toc_offset,
        ));
    }
    let names = &toc[count * TOC_RECORD_LEN..];
    let names_at = header.toc_offset + (count * TOC_RECORD_LEN) as u64;
    let alignment = u64::from(header.alignment);
    let mut entries = Vec::with_capacity(count);
    let mut seen = HashSet::with_capacity(count);
    let mut name_pos = 0usize;
    let mut prev_end = HEADER_LEN as u64;
    for (i, r) in toc[..count * TOC_RECORD_LEN].chunks_exact(TOC_RECORD_LEN).enumerate() {
        let at = header.toc_offset + (i * TOC_RECORD_LEN) as u64;
        let offset = u64_at(r, 0);
        let stored_size = u64_at(r, 8);
        let uncompressed_size = u64_at(r, 16);
        let name_len = u32_at(r, 24) as usize;
        let code = r[28];
        let Some(compression) = EntryCompression::from_code(code) else {
            return Err(corrupt(format!("entry {i}: unknown compression code {code}"), at + 28));
        };
        if r[29..32] != [0, 0, 0] {
            return Err(corrupt(format!("entry {i}: reserved bytes are not zero"), at + 29));
        }
        let mut sha = [0u8; 32];
        sha.copy_from_slice(&r[32..64]);

        if name_len == 0 || name_len > MAX_NAME_LEN {
            return Err(corrupt(
                format!("entry {i}: name length {name_len} not in 1..={MAX_NAME_LEN}"),
                at + 24,
            ));
        }
        let Some(raw_name) = names.get(name_pos..name_pos + name_len) else {
            return Err(corrupt(
                format!(
                    "entry {i}: name of {name_len} bytes runs past the names area ({} bytes)",
                    names.len()
                ),
                at + 24,
            ));
        };
        name_pos += name_len;
        let name = match std::str::from_utf8(raw_name) {
            Ok(s) => s,
            Err(_) => {
                return Err(PackError::InvalidName {
                    name: String::from_utf8_lossy(raw_name).into_owned(),
                    reason: "not valid UTF-8",
                });
            }
        };
        validate_name(name)?;
        if !seen.insert(name) {
            return Err(PackError::DuplicateName { name: name.to_string() });
        }

        if !offset.is_multiple_of(alignment) {
            return Err(corrupt(
                format!("entry {name:?}: offset {offset} is not a multiple of the alignment {alignment}"),
                at,
            ));
        }
        if offset < prev_end {
            return Err(corrupt(
                format!(
                    "entry {name:?}: offset {offset} overlaps the header or the previous entry (which ends at {prev_end}); entries are stored in offset order"
                ),
                at,
            ));
        }
        let end = match offset.checked_add(stored_size) {
            Some(end) if end <= header.toc_offset => end,
            _ => {
                return Err(corrupt(
                    format!(
                        "entry {name:?}: data [{offset}, +{stored_size}) runs past the data area (which ends at {})",
                        header.toc_offset
                    ),
                    at + 8,
                ));
            }
        };
        match compression {
            EntryCompression::None if stored_size != uncompressed_size => {
                return Err(corrupt(
                    format!(
                        "raw entry {name:?}: stored size {stored_size} != uncompressed size {uncompressed_size}"
                    ),
                    at + 16,
                ));
            }
            EntryCompression::GDeflate if stored_size < dsr_gdeflate::tile_stream::HEADER_LEN as u64 => {
                return Err(corrupt(
                    format!("GDeflate entry {name:?}: {stored_size} stored bytes cannot hold a tile stream"),
                    at + 8,
                ));
            }
            EntryCompression::GDeflate if uncompressed_size > MAX_GDEFLATE_SIZE => {
                return Err(corrupt(
                    format!(
                        "GDeflate entry {name:?}: uncompressed size {uncompressed_size} exceeds a tile stream's {MAX_GDEFLATE_SIZE}"
                    ),
                    at + 16,
                ));
            }
            _ => {}
        }
        prev_end = end;
        entries.push(PackEntry {
            name: name.to_string(),
            offset,
            stored_size,
            uncompressed_size,
            compression,
            sha256: sha,
        });
    }
    if name_pos != names.len() {
        return Err(corrupt(
            format!("names area has {} bytes, the entries' names use {name_pos}", names.len()),
            names_at + name_pos as u64,
        ));
    }
    Ok(entries)
}

/// Validates a whole pack held in memory (header and table of contents; entry data is checked
/// when read, e.g. by [`PackEntry::decode`] on `&image[offset..offset + stored_size]`).
pub fn parse_image(image: &[u8]) -> Result<(PackHeader, Vec<PackEntry>), PackError> {
    let header = PackHeader::parse(image, image.len() as u64)?;
    // In bounds: PackHeader::parse checked toc_offset + toc_size == file_size == image.len().
    let toc = &image[header.toc_offset as usize..];
    let entries = parse_toc(&header, toc)?;
    Ok((header, entries))
}

/// One entry ready to be written: compressed (or not) and hashed, by [`prepare_entry`]. Made
/// apart from the [`PackWriter`] so that callers can prepare entries on several threads and add
/// them in order.
#[derive(Debug, Clone)]
pub struct PreparedEntry<'a> {
    name: String,
    stored: Cow<'a, [u8]>,
    uncompressed_size: u64,
    compression: EntryCompression,
    sha256: [u8; 32],
}

impl PreparedEntry<'_> {
    /// The entry's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How it will be stored.
    pub fn compression(&self) -> EntryCompression {
        self.compression
    }

    /// Bytes it will store.
    pub fn stored_size(&self) -> u64 {
        self.stored.len() as u64
    }

    /// Bytes of its content.
    pub fn uncompressed_size(&self) -> u64 {
        self.uncompressed_size
    }

    /// The same entry, owning its stored bytes.
    pub fn into_owned(self) -> PreparedEntry<'static> {
        PreparedEntry { stored: Cow::Owned(self.stored.into_owned()), ..self }
    }
}

/// Hashes `data` and stores it as `compression` asks: `Some(None)` raw, `Some(GDeflate)` as a
/// tile stream at `level` (on up to `threads` threads), `None` as a tile stream when that is
/// smaller than the data, else raw. Checks the name ([`validate_name`]), not its uniqueness.
pub fn prepare_entry<'a>(
    name: &str,
    data: &'a [u8],
    compression: Option<EntryCompression>,
    level: Level,
    threads: usize,
) -> Result<PreparedEntry<'a>, PackError> {
    prepare(name, Cow::Borrowed(data), compression, level, threads)
}

/// [`prepare_entry`] taking the data by value (a raw entry keeps it without copying).
pub fn prepare_entry_owned(
    name: &str,
    data: Vec<u8>,
    compression: Option<EntryCompression>,
    level: Level,
    threads: usize,
) -> Result<PreparedEntry<'static>, PackError> {
    prepare(name, Cow::Owned(data), compression, level, threads)
}

fn prepare<'a>(
    name: &str,
    data: Cow<'a, [u8]>,
    compression: Option<EntryCompression>,
    level: Level,
    threads: usize,
) -> Result<PreparedEntry<'a>, PackError> {
    validate_name(name)?;
    let sha256 = sha256(&data);
    let uncompressed_size = data.len() as u64;
    let compress = |data: &[u8]| {
        dsr_gdeflate::compress(data, level, threads)
            .map_err(|error| PackError::Encode { name: name.to_string(), error })
    };
    let (stored, compression) = match compression {
        Some(EntryCompression::None) => (data, EntryCompression::None),
        Some(EntryCompression::GDeflate) => (Cow::Owned(compress(&data)?), EntryCompression::GDeflate),
        // Level 0 writes stored blocks (never smaller), empty data an 8-byte stream, and
        // beyond 65535 tiles a tile stream cannot hold the data: raw in all three cases.
        None if level == Level::STORED || data.is_empty() || uncompressed_size > MAX_GDEFLATE_SIZE => {
            (data, EntryCompression::None)
        }
        None => {
            let stream = compress(&data)?;
            if stream.len() < data.len() {
                (Cow::Owned(stream), EntryCompression::GDeflate)
            } else {
                (data, EntryCompression::None)
            }
        }
    };
    Ok(PreparedEntry { name: name.to_string(), stored, uncompressed_size, compression, sha256 })
}

/// Writes a pack: entries are appended as they are added, each at the next offset aligned to
/// [`PackOptions::alignment`]; [`PackWriter::finish`] appends the table of contents and writes
/// the header. Until `finish` returns, the file's header is all zeros, so an unfinished pack is
/// refused by [`Pack::open`] ([`PackError::BadMagic`]).
pub struct PackWriter {
    out: io::BufWriter<std::fs::File>,
    path: PathBuf,
    options: PackOptions,
    pos: u64,
    entries: Vec<PackEntry>,
    names: HashSet<String>,
}

impl fmt::Debug for PackWriter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PackWriter")
            .field("path", &self.path)
            .field("options", &self.options)
            .field("entries", &self.entries.len())
            .field("pos", &self.pos)
            .finish()
    }
}

impl PackWriter {
    /// Creates (or truncates) the pack file at `path`.
    pub fn create(path: impl AsRef<Path>, options: PackOptions) -> Result<Self, PackError> {
        options.validate()?;
        let path = path.as_ref().to_path_buf();
        let file =
            std::fs::File::create(&path).map_err(io_err(format!("{}: cannot create", path.display())))?;
        let mut w = Self {
            out: io::BufWriter::with_capacity(1 << 20, file),
            path,
            options,
            pos: 0,
            entries: Vec::new(),
            names: HashSet::new(),
        };
        // Placeholder header (zeros: no magic) until finish().
        w.write(&[0u8; HEADER_LEN])?;
        Ok(w)
    }

    /// The options the pack is written with.
    pub fn options(&self) -> &PackOptions {
        &self.options
    }

    /// The entries added so far.
    pub fn entries(&self) -> &[PackEntry] {
        &self.entries
    }

    fn write(&mut self, bytes: &[u8]) -> Result<(), PackError> {
        self.out.write_all(bytes).map_err(io_err(format!("{}: cannot write", self.path.display())))?;
        self.pos += bytes.len() as u64;
        Ok(())
    }

    fn pad_to(&mut self, alignment: u64) -> Result<(), PackError> {
        const ZEROS: [u8; 4096] = [0; 4096];
        let mut pad = align_up(self.pos, alignment) - self.pos;
        while pad > 0 {
            let n = pad.min(ZEROS.len() as u64) as usize;
            self.write(&ZEROS[..n])?;
            pad -= n as u64;
        }
        Ok(())
    }

    /// Compresses `data` (GDeflate at `options.level`; stored raw when that does not shrink it)
    /// and appends it as entry `name`.
    pub fn add(&mut self, name: &str, data: &[u8]) -> Result<&PackEntry, PackError> {
        self.check_new_name(name)?;
        let prepared = prepare_entry(name, data, None, self.options.level, self.options.threads)?;
        self.add_prepared(prepared)
    }

    /// Same as [`PackWriter::add`], forcing the entry's compression.
    pub fn add_with(
        &mut self,
        name: &str,
        data: &[u8],
        compression: EntryCompression,
    ) -> Result<&PackEntry, PackError> {
        self.check_new_name(name)?;
        let prepared =
            prepare_entry(name, data, Some(compression), self.options.level, self.options.threads)?;
        self.add_prepared(prepared)
    }

    fn check_new_name(&self, name: &str) -> Result<(), PackError> {
        validate_name(name)?;
        if self.names.contains(name) {
            return Err(PackError::DuplicateName { name: name.to_string() });
        }
        if self.entries.len() >= MAX_ENTRIES as usize {
            return Err(PackError::InvalidOptions {
                reason: format!("a pack holds at most {MAX_ENTRIES} entries"),
            });
        }
        Ok(())
    }

    /// Appends an entry made by [`prepare_entry`].
    pub fn add_prepared(&mut self, entry: PreparedEntry<'_>) -> Result<&PackEntry, PackError> {
        self.check_new_name(&entry.name)?;
        self.pad_to(u64::from(self.options.alignment))?;
        let offset = self.pos;
        self.write(&entry.stored)?;
        self.names.insert(entry.name.clone());
        self.entries.push(PackEntry {
            name: entry.name,
            offset,
            stored_size: entry.stored.len() as u64,
            uncompressed_size: entry.uncompressed_size,
            compression: entry.compression,
            sha256: entry.sha256,
        });
        Ok(self.entries.last().expect("just pushed"))
    }

    /// Writes the table of contents and header, and syncs the file; the pack is complete only
    /// after this. Returns the entries.
    pub fn finish(mut self) -> Result<Vec<PackEntry>, PackError> {
        self.pad_to(u64::from(self.options.alignment))?;
        let toc_offset = self.pos;
        let names_len: usize = self.entries.iter().map(|e| e.name.len()).sum();
        let mut toc = Vec::with_capacity(self.entries.len() * TOC_RECORD_LEN + names_len);
        for e in &self.entries {
            toc.extend_from_slice(&e.offset.to_le_bytes());
            toc.extend_from_slice(&e.stored_size.to_le_bytes());
            toc.extend_from_slice(&e.uncompressed_size.to_le_bytes());
            toc.extend_from_slice(&(e.name.len() as u32).to_le_bytes());
            toc.extend_from_slice(&[e.compression.code(), 0, 0, 0]);
            toc.extend_from_slice(&e.sha256);
        }
        for e in &self.entries {
            toc.extend_from_slice(e.name.as_bytes());
        }
        self.write(&toc)?;
        let mut toc_checksum = [0u8; 12];
        toc_checksum.copy_from_slice(&sha256(&toc)[..12]);
        let header = PackHeader {
            version: VERSION,
            flags: 0,
            alignment: self.options.alignment,
            entry_count: self.entries.len() as u32,
            toc_offset,
            toc_size: toc.len() as u64,
            file_size: self.pos,
            toc_checksum,
        };
        let fail = io_err(format!("{}: cannot write", self.path.display()));
        let mut file = self.out.into_inner().map_err(|e| e.into_error()).map_err(fail)?;
        let fail = io_err(format!("{}: cannot write the header", self.path.display()));
        file.seek(io::SeekFrom::Start(0)).map_err(fail)?;
        let fail = io_err(format!("{}: cannot write the header", self.path.display()));
        file.write_all(&header.to_bytes()).map_err(fail)?;
        file.sync_all().map_err(io_err(format!("{}: cannot sync", self.path.display())))?;
        Ok(self.entries)
    }
}

/// An open, validated pack (see the module invariants). Cloning shares the open file.
#[derive(Debug, Clone)]
pub struct Pack {
    file: File,
    header: PackHeader,
    entries: Vec<PackEntry>,
    index: HashMap<String, usize>,
}

impl Pack {
    /// Opens the pack at `path` and validates its header and table of contents.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, PackError> {
        let path = path.as_ref();
        let file = File::open(path).map_err(io_err(format!("{}: cannot open", path.display())))?;
        Self::from_file(file)
    }

    /// Validates the pack in an already open file.
    pub fn from_file(file: File) -> Result<Self, PackError> {
        let what = || match file.path() {
            Some(p) => format!("{}: cannot read", p.display()),
            None => "pack: cannot read".to_string(),
        };
        let len = file.len();
        let mut prefix = vec![0u8; HEADER_LEN.min(len as usize)];
        read_exact_at(&file, &mut prefix, 0).map_err(io_err(what()))?;
        let header = PackHeader::parse(&prefix, len)?;
        // Bounded by the file's length (PackHeader::parse checked toc_offset + toc_size == len).
        let mut toc = vec![0u8; header.toc_size as usize];
        read_exact_at(&file, &mut toc, header.toc_offset).map_err(io_err(what()))?;
        let entries = parse_toc(&header, &toc)?;
        let index = entries.iter().enumerate().map(|(i, e)| (e.name.clone(), i)).collect();
        Ok(Self { file, header, entries, index })
    }

    /// The header.
    pub fn header(&self) -> &PackHeader {
        &self.header
    }

    /// The entries, in offset order.
    pub fn entries(&self) -> &[PackEntry] {
        &self.entries
    }

    /// The entry called `name`.
    pub fn find(&self, name: &str) -> Option<&PackEntry> {
        self.index.get(name).map(|&i| &self.entries[i])
    }

    /// The open pack file (for streaming requests: [`PackEntry::source`]).
    pub fn file(&self) -> &File {
        &self.file
    }

    /// Reads `entry`'s stored bytes as they are in the file.
    pub fn read_stored(&self, entry: &PackEntry) -> Result<Vec<u8>, PackError> {
        let end = entry.offset.checked_add(entry.stored_size);
        if end.is_none_or(|end| end > self.file.len()) {
            return Err(corrupt(format!("entry {:?} lies outside the pack", entry.name), entry.offset));
        }
        let mut stored = vec![0u8; entry.stored_size as usize];
        match read_exact_at(&self.file, &mut stored, entry.offset) {
            Ok(()) => Ok(stored),
            // The file shrank after it was opened.
            Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => {
                Err(PackError::Truncated { expected: self.header.file_size, actual: entry.offset })
            }
            Err(e) => Err(PackError::Io { what: format!("entry {:?}: cannot read", entry.name), error: e }),
        }
    }

    /// Reads and decodes one entry on the CPU, checking size and SHA-256.
    pub fn read_entry(&self, entry: &PackEntry) -> Result<Vec<u8>, PackError> {
        self.read_entry_threads(entry, 0)
    }

    /// [`Pack::read_entry`] decoding on up to `threads` threads (0 = one per core).
    pub fn read_entry_threads(&self, entry: &PackEntry, threads: usize) -> Result<Vec<u8>, PackError> {
        let stored = self.read_stored(entry)?;
        match entry.compression {
            // The stored bytes are the content: check them in place rather than copy them.
            EntryCompression::None => entry.verify(&stored).map(|()| stored),
            EntryCompression::GDeflate => entry.decode(&stored, threads),
        }
    }
}

fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    file.inner.buffered.read_exact_at(buf, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pack image of `entries` (name, data, compression) written through `PackWriter`.
    fn image(entries: &[(&str, &[u8], EntryCompression)]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.dsp");
        let mut w = PackWriter::create(&path, PackOptions { alignment: 64, ..Default::default() }).unwrap();
        for (name, data, c) in entries {
            w.add_with(name, data, *c).unwrap();
        }
        w.finish().unwrap();
        std::fs::read(&path).unwrap()
    }

    /// Recomputes the table of contents' and header's checksums after an edit, so that the
    /// structural checks behind them are reached.
    fn reseal(img: &mut [u8]) {
        let toc_offset = u64_at(img, 24) as usize;
        let d = sha256(&img[toc_offset..]);
        img[48..60].copy_from_slice(&d[..12]);
        let check = header_check(img);
        img[60..64].copy_from_slice(&check.to_le_bytes());
    }

    fn two() -> Vec<u8> {
        image(&[
            ("a/x.bin", b"hello hello hello hello", EntryCompression::GDeflate),
            ("b", b"raw", EntryCompression::None),
        ])
    }

    fn toc_at(img: &[u8]) -> usize {
        u64_at(img, 24) as usize
    }

    fn corrupt_what(r: Result<(PackHeader, Vec<PackEntry>), PackError>) -> String {
        match r {
            Err(PackError::Corrupt { what, .. }) => what,
            other => panic!("expected Corrupt, got {other:?}"),
        }
    }

    #[test]
    fn a_written_image_parses_back_to_its_entries() {
        let img = two();
        let (h, e) = parse_image(&img).unwrap();
        assert_eq!(h.entry_count, 2);
        assert_eq!(e[0].name, "a/x.bin");
        assert_eq!(e[1].compression, EntryCompression::None);
        let stored = &img[e[0].offset as usize..][..e[0].stored_size as usize];
        assert_eq!(e[0].decode(stored, 1).unwrap(), b"hello hello hello hello");
    }

    #[test]
    fn overlapping_entries_are_refused() {
        let mut img = two();
        let toc = toc_at(&img);
        let first = u64_at(&img, toc);
        img[toc + TOC_RECORD_LEN..][..8].copy_from_slice(&first.to_le_bytes());
        reseal(&mut img);
        assert!(corrupt_what(parse_image(&img)).contains("overlaps"));
    }

    #[test]
    fn misaligned_entries_are_refused() {
        let mut img = two();
        let toc = toc_at(&img);
        let off = u64_at(&img, toc + TOC_RECORD_LEN) + 1;
        img[toc + TOC_RECORD_LEN..][..8].copy_from_slice(&off.to_le_bytes());
        reseal(&mut img);
        assert!(corrupt_what(parse_image(&img)).contains("not a multiple of the alignment"));
    }

    #[test]
    fn entries_past_the_data_area_and_overflowing_sizes_are_refused() {
        for size in [u64::MAX, u64::MAX - 63, 1 << 40] {
            let mut img = two();
            let toc = toc_at(&img);
            // Raw entry "b": stored and uncompressed size together, so only the bounds fail.
            img[toc + TOC_RECORD_LEN + 8..][..8].copy_from_slice(&size.to_le_bytes());
            img[toc + TOC_RECORD_LEN + 16..][..8].copy_from_slice(&size.to_le_bytes());
            reseal(&mut img);
            assert!(corrupt_what(parse_image(&img)).contains("runs past the data area"), "{size}");
        }
    }

    #[test]
    fn raw_entries_must_store_their_uncompressed_size() {
        let mut img = two();
        let toc = toc_at(&img);
        img[toc + TOC_RECORD_LEN + 16] ^= 1;
        reseal(&mut img);
        assert!(corrupt_what(parse_image(&img)).contains("stored size"));
    }

    #[test]
    fn unknown_compression_codes_and_reserved_bytes_are_refused() {
        let mut img = two();
        let toc = toc_at(&img);
        img[toc + 28] = 7;
        reseal(&mut img);
        assert!(corrupt_what(parse_image(&img)).contains("unknown compression code 7"));
        let mut img = two();
        img[toc + 30] = 1;
        reseal(&mut img);
        assert!(corrupt_what(parse_image(&img)).contains("reserved"));
    }

    #[test]
    fn names_must_be_valid_utf8_and_unique_and_fill_the_names_area() {
        // "b" -> invalid UTF-8.
        let mut img = two();
        let last = img.len() - 1;
        img[last] = 0xFF;
        reseal(&mut img);
        assert!(matches!(parse_image(&img), Err(PackError::InvalidName { reason: "not valid UTF-8", .. })));
        // Same names: rename "a/x.bin" to "b/x.bin"? Make two entries named "b" instead.
        let mut img = image(&[("a", b"1", EntryCompression::None), ("b", b"2", EntryCompression::None)]);
        let last = img.len() - 2;
        img[last] = b'b';
        reseal(&mut img);
        assert!(matches!(parse_image(&img), Err(PackError::DuplicateName { name }) if name == "b"));
        // A name length that leaves names-area bytes unused.
        let mut img = two();
        let toc = toc_at(&img);
        img[toc + 24] -= 1;
        reseal(&mut img);
        assert!(corrupt_what(parse_image(&img)).contains("names area"));
        // Traversal names, even with valid checksums.
        let mut img = image(&[("ab", b"1", EntryCompression::None)]);
        let n = img.len();
        img[n - 2..].copy_from_slice(b"..");
        reseal(&mut img);
        assert!(matches!(parse_image(&img), Err(PackError::InvalidName { .. })));
    }

    #[test]
    fn header_fields_are_checked_behind_the_checksum() {
        let reseal_header = |img: &mut [u8]| {
            let check = header_check(img);
            img[60..64].copy_from_slice(&check.to_le_bytes());
        };
        let mut img = two();
        img[12] = 1;
        reseal_header(&mut img);
        assert!(matches!(parse_image(&img), Err(PackError::UnsupportedFlags { flags: 1 })));
        let mut img = two();
        img[16..20].copy_from_slice(&48u32.to_le_bytes());
        reseal_header(&mut img);
        assert!(corrupt_what(parse_image(&img)).contains("alignment 48"));
        let mut img = two();
        img[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
        reseal_header(&mut img);
        assert!(corrupt_what(parse_image(&img)).contains("entries, at most"));
        let mut img = two();
        img[20..24].copy_from_slice(&1000u32.to_le_bytes());
        reseal_header(&mut img);
        assert!(corrupt_what(parse_image(&img)).contains("cannot hold 1000 entries"));
        let mut img = two();
        img[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
        reseal_header(&mut img);
        assert!(corrupt_what(parse_image(&img)).contains("does not end at the end of the file"));
        let mut img = two();
        img.extend_from_slice(&[0; 8]);
        assert!(corrupt_what(parse_image(&img)).contains("trailing bytes"));
    }

    #[test]
    fn a_gdeflate_entry_whose_stream_states_another_size_fails_with_a_decode_error() {
        let img = two();
        let (_, mut e) = parse_image(&img).unwrap();
        e[0].uncompressed_size += 1;
        let stored = &img[e[0].offset as usize..][..e[0].stored_size as usize];
        let err = e[0].decode(stored, 1).unwrap_err();
        assert!(matches!(
            err,
            PackError::Decode {
                error: DecodeError { kind: DecodeErrorKind::UncompressedSizeMismatch { .. }, .. },
                ..
            }
        ));
    }

    #[test]
    fn names_are_validated() {
        for ok in ["a", "a/b/c.dds", "x y/ü.txt", ".hidden/a", "a..b"] {
            validate_name(ok).unwrap();
        }
        for bad in ["", "/a", "a//b", "a/", "./a", "a/./b", "..", "a/../b", "a\\b", "a\0b"] {
            assert!(matches!(validate_name(bad), Err(PackError::InvalidName { .. })), "{bad:?}");
        }
        assert!(validate_name(&"a".repeat(MAX_NAME_LEN + 1)).is_err());
    }
}
