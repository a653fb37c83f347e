//! [`File`]: a shareable, read-only file handle for request sources.
//!
//! A `File` is an `Arc` around the open descriptor(s): requests, the I/O engine and its
//! registered-file table each hold a clone, so a file is closed only when the last request
//! reading it is done, whatever the caller does with its own handle. Opening probes
//! `statx(STATX_DIOALIGN)`; when the file system supports O_DIRECT for the file a second
//! descriptor opened with `O_DIRECT` is kept next to the buffered one and the engine uses it
//! for reads whose offset, length and memory address meet the alignment.
//!
//! Invariant: the descriptors never change after construction (the engine may cache them by
//! identity of the `Arc`).

use super::sys::{self, DioAlign};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub(crate) struct FileInner {
    pub(crate) buffered: std::fs::File,
    pub(crate) direct: Option<(std::fs::File, DioAlign)>,
    pub(crate) len: u64,
    pub(crate) path: Option<PathBuf>,
    /// Byte ranges whose reads fail with EIO (feature `fault-injection`).
    #[cfg(feature = "fault-injection")]
    pub(crate) faults: Vec<std::ops::Range<u64>>,
    /// Most bytes one read call may return (feature `fault-injection`; `usize::MAX`: no cap).
    #[cfg(feature = "fault-injection")]
    pub(crate) max_read: usize,
}

/// A read-only file that requests read from. Cloning is cheap (an `Arc`).
#[derive(Clone)]
pub struct File {
    pub(crate) inner: Arc<FileInner>,
}

impl std::fmt::Debug for File {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("File")
            .field("path", &self.inner.path)
            .field("len", &self.inner.len)
            .field("direct", &self.inner.direct.as_ref().map(|d| d.1))
            .finish()
    }
}

impl File {
    /// Opens `path` for reading, with an O_DIRECT descriptor beside the buffered one when the
    /// file system allows it.
    pub fn open(path: impl AsRef<Path>) -> io::Result<Self> {
        let path = path.as_ref();
        let buffered = std::fs::File::open(path)?;
        let len = buffered.metadata()?.len();
        let direct = sys::dio_align(&buffered).and_then(|align| {
            let f = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_DIRECT).open(path).ok()?;
            Some((f, align))
        });
        Ok(Self::build(buffered, direct, len, Some(path.to_path_buf())))
    }

    /// Wraps an open file (buffered reads only: its O_DIRECT mode cannot be known safely).
    pub fn from_std(file: std::fs::File) -> io::Result<Self> {
        let len = file.metadata()?.len();
        Ok(Self::build(file, None, len, None))
    }

    fn build(
        buffered: std::fs::File,
        direct: Option<(std::fs::File, DioAlign)>,
        len: u64,
        path: Option<PathBuf>,
    ) -> Self {
        Self {
            inner: Arc::new(FileInner {
                buffered,
                direct,
                len,
                path,
                #[cfg(feature = "fault-injection")]
                faults: Vec::new(),
                #[cfg(feature = "fault-injection")]
                max_read: usize::MAX,
            }),
        }
    }

    /// The file's length when it was opened.
    pub fn len(&self) -> u64 {
        self.inner.len
    }

    /// Whether the file was empty when it was opened.
    pub fn is_empty(&self) -> bool {
        self.inner.len == 0
    }

    /// The path it was opened from (`None` for [`File::from_std`]).
    pub fn path(&self) -> Option<&Path> {
        self.inner.path.as_deref()
    }

    /// The O_DIRECT alignment when the file has an O_DIRECT descriptor.
    pub fn direct_io(&self) -> Option<DioAlign> {
        self.inner.direct.as_ref().map(|d| d.1)
    }

    /// For fault tests: a handle on the same file (fresh descriptors) whose reads fail with
    /// `EIO` whenever they touch one of `ranges` (byte offsets in the file), on every I/O
    /// path. Only with feature `fault-injection`.
    #[cfg(feature = "fault-injection")]
    pub fn inject_read_errors(&self, ranges: &[std::ops::Range<u64>]) -> io::Result<Self> {
        let buffered = self.inner.buffered.try_clone()?;
        let direct = match &self.inner.direct {
            Some((f, a)) => Some((f.try_clone()?, *a)),
            None => None,
        };
        let mut f = Self::build(buffered, direct, self.inner.len, self.inner.path.clone());
        if let Some(inner) = Arc::get_mut(&mut f.inner) {
            inner.faults = ranges.to_vec();
        }
        Ok(f)
    }

    /// For fault tests: a handle on the same file whose every read call (pread, io_uring
    /// read) asks for at most `max` bytes, so the engines see nothing but short reads and must
    /// continue each one where it stopped (an O_DIRECT read left misaligned finishes buffered).
    /// Only with feature `fault-injection`.
    #[cfg(feature = "fault-injection")]
    pub fn inject_short_reads(&self, max: usize) -> io::Result<Self> {
        let buffered = self.inner.buffered.try_clone()?;
        let direct = match &self.inner.direct {
            Some((f, a)) => Some((f.try_clone()?, *a)),
            None => None,
        };
        let mut f = Self::build(buffered, direct, self.inner.len, self.inner.path.clone());
        if let Some(inner) = Arc::get_mut(&mut f.inner) {
            inner.faults = self.inner.faults.clone();
            inner.max_read = max.max(1);
        }
        Ok(f)
    }

    /// Most bytes one read call may ask for (fault injection; else unlimited).
    pub(crate) fn read_cap(&self) -> usize {
        #[cfg(feature = "fault-injection")]
        {
            self.inner.max_read
        }
        #[cfg(not(feature = "fault-injection"))]
        usize::MAX
    }

    /// Whether a read of `len` bytes at `offset` must fail (fault injection).
    pub(crate) fn injected_fault(&self, _offset: u64, _len: u64) -> bool {
        #[cfg(feature = "fault-injection")]
        {
            let end = _offset.saturating_add(_len);
            self.inner.faults.iter().any(|r| r.start < end && _offset < r.end)
        }
        #[cfg(not(feature = "fault-injection"))]
        false
    }

    /// A short description for error records: the path, or `<fd N>`.
    pub(crate) fn describe(&self) -> String {
        match &self.inner.path {
            Some(p) => p.display().to_string(),
            None => {
                use std::os::fd::AsRawFd;
                format!("<fd {}>", self.inner.buffered.as_raw_fd())
            }
        }
    }
}
