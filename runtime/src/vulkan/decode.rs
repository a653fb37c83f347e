//! GDeflate decode on the GPU: the [`GDEFLATE_DECODE`] kernel driven through the ash core.
//!
//! A [`DecodeJob`] is a set of pages (each with its exact decoded size and its place in one
//! destination buffer) made resident on the device: page bytes, one [`TileDesc`] per page, the
//! destination and one [`TileStatus`] per page. [`VulkanContext::submit_decode`] dispatches the
//! kernel over it (one 32-invocation workgroup per page, grid-stride beyond the device's
//! workgroup limit); [`VulkanContext::decode_results`] reads back the destination and the
//! statuses, and [`status_error`] turns a status into the same [`DecodeErrorKind`] the CPU
//! decoder reports. [`VulkanContext::gdeflate_decompress`] does all of it for one tile stream.
//!
//! Invariants:
//! - The host never trusts the kernel's output blindly: a status the host cannot map (unknown
//!   code, or a page the dispatch did not reach) is a [`VulkanError::Internal`], not success.
//! - Buffers stay below 4 GiB (the kernel's byte offsets are `u32`); larger jobs are refused
//!   with [`VulkanError::InvalidArgument`] before anything is uploaded.
//! - The destination is initialised from the caller's bytes (e.g. guard patterns), or left
//!   uninitialised when the pages cover it ([`VulkanContext::prepare_decode_uninit`]); the
//!   kernel writes only inside each page's `[dst_offset, dst_offset + dst_size)`, and every
//!   byte of it when the page decodes.

use super::buffer::{BufferSlice, GpuBuffer, MemoryKind};
use super::context::VulkanContext;
use super::error::VulkanError;
use super::submit::Batch;
use crate::gpu_decode;
use dsr_gdeflate::{DecodeErrorKind, TileStream};
use dsr_kernels::{DecodeParams, GDEFLATE_DECODE, TileStatus};
use std::time::Duration;

// One page to decode: shared with the wgpu backend.
pub use crate::gpu_decode::PageJob;

/// The buffers of one decode dispatch, for callers that manage their own memory (the
/// streaming pipeline decodes straight out of its staging ring): [`Batch::decode`] records
/// the kernel over them.
///
/// - `params`: a uniform [`DecodeParams`] whose `tile_count` equals `tile_count` here;
/// - `tiles`: `tile_count` [`TileDesc`]s; offsets are bytes into `src` and `dst` (slices, so
///   relative to their starts), `src_offset` a multiple of 4, each range inside its slice;
/// - `src`: the pages, `dst`: the decoded bytes (the kernel writes only inside each tile's
///   `[dst_offset, dst_offset + dst_size)`, every byte of it when the page decodes; other
///   bytes of a shared word are preserved), `status`: `tile_count` [`TileStatus`]es, read
///   with [`status_error`] after completion.
///
/// The kernel checks every descriptor against the bound sizes itself (a bad one is
/// `STATUS_BAD_DESCRIPTOR`, never an out-of-bounds access).
#[derive(Debug, Clone, Copy)]
pub struct DecodeBindings<'a> {
    /// Uniform [`DecodeParams`].
    pub params: BufferSlice<'a>,
    /// The [`TileDesc`] table.
    pub tiles: BufferSlice<'a>,
    /// Compressed pages (whole 32-bit words).
    pub src: BufferSlice<'a>,
    /// Destination (whole 32-bit words).
    pub dst: BufferSlice<'a>,
    /// One [`TileStatus`] per tile.
    pub status: BufferSlice<'a>,
    /// Number of tiles (the table's length).
    pub tile_count: u32,
}

impl Batch<'_> {
    /// Records a GDeflate decode of `b.tile_count` pages (see [`DecodeBindings`]) with the
    /// context's [`decode_kernel`](VulkanContext::decode_kernel); the grid is sized here, from
    /// the tile count and the device's workgroup limit.
    pub fn decode(&mut self, b: &DecodeBindings<'_>) -> Result<&mut Self, VulkanError> {
        let kernel = self.ctx.decode_kernel()?;
        self.decode_with(b, kernel)
    }

    /// [`Self::decode`] with the decode kernel named `kernel` (one of
    /// [`VulkanContext::decode_kernels`]).
    pub fn decode_with(&mut self, b: &DecodeBindings<'_>, kernel: &str) -> Result<&mut Self, VulkanError> {
        if !self.ctx.decode_kernels().contains(&kernel) {
            return Err(VulkanError::InvalidArgument(format!(
                "`{kernel}` is not a decode kernel this device runs"
            )));
        }
        let max_groups = self.ctx.limits.max_compute_work_group_count[0].max(1);
        let groups = b.tile_count.clamp(1, max_groups);
        // Both variants have GDEFLATE_DECODE's bindings (reflected, same source): params,
        // tiles, src, dst, status.
        self.dispatch(kernel, &[b.params, b.tiles, b.src, b.dst, b.status], [groups, 1, 1])
    }
}

/// The environment variable that overrides the decode kernel (shared with the wgpu backend).
pub use crate::gpu_decode::DECODE_KERNEL_ENV;

impl VulkanContext {
    /// The decode kernel this context dispatches: `$DSR_DECODE_KERNEL` when set (it must name
    /// a decode kernel the device runs), else the subgroup variant where the device runs it
    /// (subgroup size 32 with ballot, arithmetic and shuffle: NVIDIA, for one), else the
    /// workgroup-memory kernel, which runs everywhere.
    pub fn decode_kernel(&self) -> Result<&'static str, VulkanError> {
        let runs = self.decode_kernels();
        if let Some(name) = std::env::var_os(DECODE_KERNEL_ENV) {
            let name = name.to_string_lossy();
            return runs.iter().copied().find(|k| *k == name).ok_or_else(|| {
                VulkanError::InvalidArgument(format!(
                    "{DECODE_KERNEL_ENV}={name}: not a decode kernel this device runs ({})",
                    runs.join(", ")
                ))
            });
        }
        // The subgroup variant is listed last when the device runs it.
        Ok(runs.last().copied().unwrap_or(GDEFLATE_DECODE.name))
    }

    /// The decode kernels this device runs: `gdeflate_decode`, then
    /// `gdeflate_decode_subgroup` where the device runs it.
    pub fn decode_kernels(&self) -> Vec<&'static str> {
        [GDEFLATE_DECODE.name, dsr_kernels::GDEFLATE_DECODE_SUBGROUP.name]
            .into_iter()
            .filter(|k| self.pipeline(k).is_some())
            .collect()
    }

    /// [`Self::submit_decode`] with the decode kernel named `kernel` (one of
    /// [`Self::decode_kernels`]), e.g. to compare the variants.
    pub fn submit_decode_with(&self, job: &DecodeJob, kernel: &str) -> Result<u64, VulkanError> {
        let mut batch = self.batch();
        batch.decode_with(&job.bindings(), kernel)?;
        batch.submit()
    }
}

/// Pages resident on the device, ready to be decoded (any number of times).
pub struct DecodeJob {
    params: GpuBuffer,
    tiles: GpuBuffer,
    src: GpuBuffer,
    dst: GpuBuffer,
    status: GpuBuffer,
    tile_count: u32,
    src_bytes: u64,
    decoded_bytes: u64,
    /// Length of the caller's destination (the buffer is rounded up to whole words).
    dst_len: usize,
}

impl std::fmt::Debug for DecodeJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodeJob")
            .field("tile_count", &self.tile_count)
            .field("src_bytes", &self.src_bytes)
            .field("dst_bytes", &self.dst.size())
            .finish_non_exhaustive()
    }
}

impl DecodeJob {
    /// Number of pages.
    pub fn tile_count(&self) -> u32 {
        self.tile_count
    }

    /// Total compressed bytes of the pages.
    pub fn compressed_bytes(&self) -> u64 {
        self.src_bytes
    }

    /// Total decoded bytes of the pages (sum of their `dst_size`).
    pub fn decoded_bytes(&self) -> u64 {
        self.decoded_bytes
    }

    /// The destination buffer.
    pub fn destination(&self) -> &GpuBuffer {
        &self.dst
    }

    /// The job's buffers as [`DecodeBindings`].
    pub fn bindings(&self) -> DecodeBindings<'_> {
        DecodeBindings {
            params: self.params.whole(),
            tiles: self.tiles.whole(),
            src: self.src.whole(),
            dst: self.dst.whole(),
            status: self.status.whole(),
            tile_count: self.tile_count,
        }
    }
}

impl VulkanContext {
    /// Uploads `pages` and builds their descriptors. The destination buffer is
    /// `dst_init.len()` bytes, initialised with `dst_init` (which must cover every page's
    /// destination range; use zeros, or a guard pattern to detect stray writes).
    pub fn prepare_decode(&self, pages: &[PageJob<'_>], dst_init: &[u8]) -> Result<DecodeJob, VulkanError> {
        self.prepare(pages, dst_init.len(), Some(dst_init))
    }

    /// [`Self::prepare_decode`] with a `dst_len`-byte destination left uninitialised (device
    /// memory only, nothing uploaded): for jobs whose pages cover the destination, where the
    /// kernel writes every byte of a page that decodes.
    pub fn prepare_decode_uninit(
        &self,
        pages: &[PageJob<'_>],
        dst_len: usize,
    ) -> Result<DecodeJob, VulkanError> {
        self.prepare(pages, dst_len, None)
    }

    fn prepare(
        &self,
        pages: &[PageJob<'_>],
        dst_len: usize,
        dst_init: Option<&[u8]>,
    ) -> Result<DecodeJob, VulkanError> {
        let packed = gpu_decode::pack_pages(pages, dst_len).map_err(VulkanError::InvalidArgument)?;
        // Whole words: the kernel's destination is an array of u32.
        let dst = match dst_init {
            Some(bytes) => {
                let mut words = bytes.to_vec();
                words.resize(dst_len.next_multiple_of(4), 0);
                self.upload_bytes(&words, "decode dst")?
            }
            None => {
                self.create_buffer(dst_len.next_multiple_of(4) as u64, MemoryKind::DeviceLocal, "decode dst")?
            }
        };
        let params = DecodeParams { tile_count: packed.tile_count };
        let params_buffer =
            self.create_buffer(size_of::<DecodeParams>() as u64, MemoryKind::Upload, "decode params")?;
        params_buffer.write(0, bytemuck::bytes_of(&params))?;
        let status_init = vec![TileStatus::default(); pages.len()];
        Ok(DecodeJob {
            params: params_buffer,
            tiles: self.upload_bytes(bytemuck::cast_slice(&packed.tiles), "decode tiles")?,
            src: self.upload_bytes(&packed.src, "decode src")?,
            dst,
            status: self.upload_bytes(bytemuck::cast_slice(&status_init), "decode status")?,
            tile_count: packed.tile_count,
            src_bytes: packed.src_bytes,
            decoded_bytes: packed.decoded_bytes,
            dst_len,
        })
    }

    /// Dispatches the decode of every page of `job`; returns the timeline value that signals
    /// completion. Statuses start zeroed (`STATUS_NOT_RUN`) when the job is prepared, and every
    /// dispatch rewrites the status of each page it decodes.
    pub fn submit_decode(&self, job: &DecodeJob) -> Result<u64, VulkanError> {
        let mut batch = self.batch();
        batch.decode(&job.bindings())?;
        batch.submit()
    }

    /// After the decode completed: the destination bytes (the `dst_init` length) and one
    /// status per page.
    pub fn decode_results(&self, job: &DecodeJob) -> Result<(Vec<u8>, Vec<TileStatus>), VulkanError> {
        let mut dst = self.download_bytes(job.dst.whole())?;
        let status_bytes = self.download_bytes(job.status.whole())?;
        let statuses = status_bytes
            .chunks_exact(size_of::<TileStatus>())
            .map(bytemuck::pod_read_unaligned::<TileStatus>)
            .collect();
        dst.truncate(job.dst_len);
        Ok((dst, statuses))
    }

    /// Decodes the DirectStorage tile stream `stream` on the GPU into a new buffer. The
    /// container is parsed (and rejected) on the host exactly as by the CPU decoder; page
    /// errors carry the tile and the byte offset in the stream, as the CPU decoder's do.
    pub fn gdeflate_decompress(&self, stream: &[u8]) -> Result<Vec<u8>, crate::Error> {
        let ts = TileStream::parse(stream)?;
        let size = ts.uncompressed_size();
        if ts.num_tiles() == 0 {
            return Ok(Vec::new());
        }
        // Tiles cover the output exactly: nothing to initialise.
        let job = self.prepare_decode_uninit(&gpu_decode::stream_pages(&ts), size as usize)?;
        let value = self.submit_decode(&job)?;
        self.wait(value, Duration::MAX)?;
        let (mut out, statuses) = self.decode_results(&job)?;
        gpu_decode::stream_outcome(&ts, &statuses, VulkanError::from)?;
        out.truncate(size as usize);
        Ok(out)
    }
}

/// The CPU decoder's error for a kernel status: `Ok(None)` for success, `Ok(Some(kind))` for
/// a page error, `Err` for a status that means the dispatch itself went wrong.
pub fn status_error(s: &TileStatus) -> Result<Option<DecodeErrorKind>, VulkanError> {
    // One mapping for every backend (crate::gpu_decode); its faults are internal errors here.
    gpu_decode::status_error(s).map_err(VulkanError::from)
}

/// A status no page outcome explains is a fault of the dispatch: an internal error.
impl From<gpu_decode::StatusFault> for VulkanError {
    fn from(f: gpu_decode::StatusFault) -> Self {
        VulkanError::Internal(f.to_string())
    }
}
