//! What a request is: a [`Source`], a [`Destination`], a [`Compression`], a cancellation tag
//! and a name; and [`HostBuffer`], the owned host destination, and [`RequestError`], why a
//! request failed.
//!
//! Invariants the queue relies on (checked by `Request::validate` at enqueue):
//! - the destination range `[offset, offset + output size)` lies inside the destination, so
//!   nothing outside it is ever written;
//! - destinations are owned, reference-counted objects ([`HostBuffer`], `Arc<GpuBuffer>`):
//!   the queue holds a clone until the request completes, so no destination can be freed
//!   while the pipeline writes it (there is no raw-pointer destination in the safe API);
//! - a GDeflate request's stated uncompressed size is checked against the stream's header
//!   when the header has been read (mismatch: [`RequestError::Decode`] with
//!   `UncompressedSizeMismatch`).

use super::file::File;
use dsr_gdeflate::DecodeError;
use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

pub use super::host_buffer::{HostBuffer, HostBufferGuard};

/// Bytes in memory a request can read from.
pub type MemoryBytes = Arc<dyn AsRef<[u8]> + Send + Sync>;

/// Where a request's bytes come from.
#[derive(Clone)]
pub enum Source {
    /// `size` bytes of `file` from byte `offset`.
    File {
        /// The file.
        file: File,
        /// First byte.
        offset: u64,
        /// Number of bytes.
        size: u64,
    },
    /// `size` bytes of `data` from byte `offset`.
    Memory {
        /// The bytes (shared; held until the request completes).
        data: MemoryBytes,
        /// First byte.
        offset: usize,
        /// Number of bytes.
        size: usize,
    },
}

impl Source {
    /// The whole of `file`.
    pub fn whole_file(file: &File) -> Self {
        Self::File { file: file.clone(), offset: 0, size: file.len() }
    }

    /// All of `data`.
    pub fn memory(data: MemoryBytes) -> Self {
        let size = (*data).as_ref().len();
        Self::Memory { data, offset: 0, size }
    }

    /// Number of bytes read.
    pub fn size(&self) -> u64 {
        match self {
            Self::File { size, .. } => *size,
            Self::Memory { size, .. } => *size as u64,
        }
    }
}

impl fmt::Debug for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File { file, offset, size } => write!(f, "file {} [{offset}, +{size})", file.describe()),
            Self::Memory { offset, size, .. } => write!(f, "memory [{offset}, +{size})"),
        }
    }
}

/// Where a request's (decoded) bytes go.
#[derive(Clone)]
pub enum Destination {
    /// Host memory, from byte `offset` of `buffer`.
    Host {
        /// The buffer.
        buffer: HostBuffer,
        /// First byte written.
        offset: usize,
    },
    /// A Vulkan buffer of the runtime's context, from byte `offset`. GDeflate requests into a
    /// buffer need its size to be a multiple of 4 (the decode kernel writes whole words).
    #[cfg(feature = "vulkan")]
    Buffer {
        /// The buffer (held until the request completes).
        buffer: Arc<crate::vulkan::GpuBuffer>,
        /// First byte written.
        offset: u64,
    },
    /// A region of a Vulkan image of the runtime's context: the output (its texels, tightly
    /// packed, exactly the region's size) is decoded or copied into a scratch buffer, then
    /// copied into the image (which stays in `GENERAL` layout).
    #[cfg(feature = "vulkan")]
    Image {
        /// The image (held until the request completes).
        image: Arc<crate::vulkan::GpuImage>,
        /// Mip level, layers and texel box written.
        region: crate::vulkan::ImageRegion,
    },
}

impl fmt::Debug for Destination {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Host { buffer, offset } => write!(f, "host buffer of {} bytes at {offset}", buffer.len()),
            #[cfg(feature = "vulkan")]
            Self::Buffer { buffer, offset } => write!(f, "GPU buffer of {} bytes at {offset}", buffer.size()),
            #[cfg(feature = "vulkan")]
            Self::Image { image, region } => write!(f, "image {:?}, region {region:?}", image.desc()),
        }
    }
}

/// How the source is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    /// Stored as is: the output is the source bytes.
    None,
    /// A DirectStorage GDeflate tile stream decoding to exactly `uncompressed_size` bytes.
    GDeflate {
        /// Size of the decoded output, checked against the stream's header.
        uncompressed_size: u64,
    },
}

/// One load: read `source`, decode per `compression`, write into `destination`.
#[derive(Clone)]
pub struct Request {
    /// Where the bytes come from.
    pub source: Source,
    /// Where the output goes.
    pub destination: Destination,
    /// How the source is compressed.
    pub compression: Compression,
    /// Cancellation tag: [`super::Queue::cancel`]`(mask, value)` cancels the requests with
    /// `tag & mask == value`.
    pub tag: u64,
    /// A name for diagnostics (error records); `Cow::Borrowed` costs nothing.
    pub name: Cow<'static, str>,
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("name", &self.name)
            .field("source", &self.source)
            .field("destination", &self.destination)
            .field("compression", &self.compression)
            .field("tag", &format_args!("{:#x}", self.tag))
            .finish()
    }
}

impl Request {
    /// Number of bytes written to the destination.
    pub fn output_size(&self) -> u64 {
        match self.compression {
            Compression::None => self.source.size(),
            Compression::GDeflate { uncompressed_size } => uncompressed_size,
        }
    }

    /// Checks the request's shape (see the module invariants); `Err` says what is wrong.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if let Source::Memory { data, offset, size } = &self.source {
            let len = (**data).as_ref().len();
            if offset.checked_add(*size).is_none_or(|end| end > len) {
                return Err(format!("memory source [{offset}, +{size}) is outside its {len} bytes"));
            }
        }
        if let Source::File { offset, size, .. } = &self.source {
            if offset.checked_add(*size).is_none() {
                return Err(format!("file range {offset}+{size} overflows"));
            }
        }
        let out = self.output_size();
        let (offset, capacity) = match &self.destination {
            Destination::Host { buffer, offset } => (*offset as u64, buffer.len() as u64),
            #[cfg(feature = "vulkan")]
            Destination::Buffer { buffer, offset } => {
                if matches!(self.compression, Compression::GDeflate { .. }) && buffer.size() % 4 != 0 {
                    return Err(format!(
                        "GDeflate into a GPU buffer needs a size that is a multiple of 4 ({} bytes)",
                        buffer.size()
                    ));
                }
                (*offset, buffer.size())
            }
            #[cfg(feature = "vulkan")]
            Destination::Image { image, region } => {
                let bytes = image.region_bytes(region).map_err(|e| e.to_string())?;
                if bytes != out {
                    return Err(format!("{out} output bytes for an image region of {bytes} bytes"));
                }
                return Ok(());
            }
        };
        if offset.checked_add(out).is_none_or(|end| end > capacity) {
            return Err(format!(
                "{out} output bytes at offset {offset} do not fit a {capacity}-byte destination"
            ));
        }
        Ok(())
    }
}

/// Why a request did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RequestError {
    /// Cancelled by [`super::Queue::cancel`] or by dropping its queue or runtime.
    Cancelled,
    /// A read failed (`errno` when the OS gave one), at `offset` in the file.
    Io {
        /// The error kind.
        kind: std::io::ErrorKind,
        /// The OS error number, if any.
        errno: Option<i32>,
        /// File offset of the failed read.
        offset: u64,
    },
    /// The file ended before the requested range: `offset` is where the data stopped.
    Truncated {
        /// First missing byte (file offset).
        offset: u64,
    },
    /// The compressed data is malformed (tile and byte offset in the stream), or its header
    /// disagrees with the stated uncompressed size.
    Decode(DecodeError),
    /// The GPU work failed (message of the Vulkan error).
    Gpu(String),
    /// A bug in ds-runtime (says what); please report it.
    Internal(String),
}

impl fmt::Display for RequestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cancelled => f.write_str("cancelled"),
            Self::Io { kind, errno, offset } => match errno {
                Some(e) => write!(
                    f,
                    "read at offset {offset} failed: {} ({kind})",
                    std::io::Error::from_raw_os_error(*e)
                ),
                None => write!(f, "read at offset {offset} failed: {kind}"),
            },
            Self::Truncated { offset } => write!(f, "the file ends at offset {offset}, inside the request"),
            Self::Decode(e) => write!(f, "corrupt GDeflate data: {e}"),
            Self::Gpu(m) => write!(f, "GPU: {m}"),
            Self::Internal(m) => write!(f, "internal error (please report): {m}"),
        }
    }
}

impl std::error::Error for RequestError {}

impl RequestError {
    pub(crate) fn io(e: &std::io::Error, offset: u64) -> Self {
        Self::Io { kind: e.kind(), errno: e.raw_os_error(), offset }
    }
}
