//! The CPU backend: DirectStorage GDeflate tile streams decoded tile-parallel by the
//! reference decoder, and uncompressed copies.
//!
//! Invariant: on success the destination holds exactly the stream's bytes; on error the
//! destination's contents are unspecified but nothing outside it is written.

use crate::error::Error;

/// Executes decode work on CPU threads.
#[derive(Debug, Clone, Copy)]
pub struct CpuBackend {
    threads: usize,
}

impl CpuBackend {
    /// A CPU backend using up to `threads` threads (0 = one per core).
    pub fn new(threads: usize) -> Self {
        Self { threads }
    }

    /// Decodes the tile stream `src` into `dst`, which must be its exact uncompressed size.
    pub fn decompress_into(&self, src: &[u8], dst: &mut [u8]) -> Result<(), Error> {
        dsr_gdeflate::decompress_into(src, dst, self.threads).map_err(Error::from)
    }

    /// Decodes the tile stream `src` into a new buffer sized from its header.
    pub fn decompress(&self, src: &[u8]) -> Result<Vec<u8>, Error> {
        dsr_gdeflate::decompress(src, self.threads).map_err(Error::from)
    }
}
