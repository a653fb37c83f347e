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
//! Two **decode methods** run a job: the kernels (`gdeflate_decode` and, where the device
//! runs it, `gdeflate_decode_subgroup`; each also as a byte-store kernel, `_bytes`, which
//! writes the output with 8-bit stores where the context enabled `storageBuffer8BitAccess`
//! and is then the default), and, where the driver offers GDeflate through
//! `VK_NV_memory_decompression`, the driver's own decompression ([`DRIVER_DECODE`]). The
//! kernels check every page and report the CPU decoder's errors. **The driver's method is for
//! trusted data only**: the extension reports no errors, and on an H100 (driver 580.159) a
//! batch of corrupt pages never completed (the queue hung past a 20 s timeout) and pages that
//! decode to more than their stated size were written past it (`tests/driver_decode.rs`,
//! `driver_probe`; docs/perf-notes.md). So it is used only when asked for: by name, or with
//! `DSR_DECODE_KERNEL=auto-unchecked`, which measures it against the kernel on this device and
//! keeps the faster ([`VulkanContext::decode_method`]). The host-side checks around it
//! (container, sizes, ranges, 4-byte alignment) are the same as the kernel's.
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
use ash::vk;
use dsr_gdeflate::{DecodeErrorKind, TileStream};
use dsr_kernels::{DecodeParams, GDEFLATE_DECODE, TileDesc, TileStatus};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::gpu_decode::{AUTO_UNCHECKED, DRIVER_DECODE};

/// Which decode method a context uses for whole jobs, and why ([`VulkanContext::decode_method`]).
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeChoice {
    /// The method: a decode kernel's name or [`DRIVER_DECODE`].
    pub method: &'static str,
    /// Why: the override, the rule, or the measurement.
    pub why: String,
    /// What the measurement found (method, GB/s of decoded output), when one was made.
    pub measured: Vec<(&'static str, f64)>,
}

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
        if kernel == DRIVER_DECODE {
            return Err(VulkanError::InvalidArgument(format!(
                "`{DRIVER_DECODE}` takes its page table on the host: use Batch::decompress_memory"
            )));
        }
        if !self.ctx.decode_kernels().contains(&kernel) {
            return Err(VulkanError::InvalidArgument(format!(
                "`{kernel}` is not a decode kernel this device runs"
            )));
        }
        let max_groups = self.ctx.limits.max_compute_work_group_count[0].max(1);
        let groups = b.tile_count.clamp(1, max_groups);
        // Every decode kernel has GDEFLATE_DECODE's bindings (reflected, same source): params,
        // tiles, src, dst, status.
        self.dispatch(kernel, &[b.params, b.tiles, b.src, b.dst, b.status], [groups, 1, 1])
    }
}

impl Batch<'_> {
    /// Records the driver's GDeflate decompression ([`DRIVER_DECODE`]) of `tiles` (offsets
    /// relative to the slices, as for [`DecodeBindings`]): each page's `src_size` bytes to its
    /// `dst_size` bytes. Checked here: the context has the method, both slices are its own,
    /// every range lies inside its slice and every address is 4-byte aligned (the extension's
    /// rules). Pages with nothing to write are left out. The driver reports no errors.
    pub fn decompress_memory(
        &mut self,
        src: BufferSlice<'_>,
        dst: BufferSlice<'_>,
        tiles: &[TileDesc],
    ) -> Result<&mut Self, VulkanError> {
        if self.ctx.memory_decompression.is_none() {
            return Err(VulkanError::Unsupported {
                what: "the driver's GDeflate decompression",
                why: format!(
                    "{} has no VK_NV_memory_decompression with GDeflate enabled here",
                    self.ctx.info.name
                ),
            });
        }
        self.ctx.check_own(&src)?;
        self.ctx.check_own(&dst)?;
        let (src_base, dst_base) = (src.buffer.inner.address, dst.buffer.inner.address);
        if src_base == 0 || dst_base == 0 {
            return Err(VulkanError::InvalidArgument("the buffers have no device address".into()));
        }
        let mut regions = Vec::with_capacity(tiles.len());
        for (i, t) in tiles.iter().enumerate() {
            let inside = |offset: u32, size: u32, slice: &BufferSlice<'_>| {
                u64::from(offset) + u64::from(size) <= slice.size()
            };
            if !inside(t.src_offset, t.src_size, &src) || !inside(t.dst_offset, t.dst_size, &dst) {
                return Err(VulkanError::InvalidArgument(format!(
                    "page {i}: {t:?} lies outside its buffers"
                )));
            }
            let src_address = src_base + src.offset() + u64::from(t.src_offset);
            let dst_address = dst_base + dst.offset() + u64::from(t.dst_offset);
            if !src_address.is_multiple_of(4) || !dst_address.is_multiple_of(4) {
                return Err(VulkanError::InvalidArgument(format!(
                    "page {i}: the driver's decompression needs 4-byte-aligned source and destination ({t:?})"
                )));
            }
            if t.dst_size == 0 {
                continue;
            }
            regions.push(vk::DecompressMemoryRegionNV {
                src_address,
                dst_address,
                compressed_size: u64::from(t.src_size),
                decompressed_size: u64::from(t.dst_size),
                decompression_method: vk::MemoryDecompressionMethodFlagsNV::GDEFLATE_1_0,
            });
        }
        self.push(super::submit::Cmd::DecompressMemory {
            src: Arc::clone(&src.buffer.inner),
            dst: Arc::clone(&dst.buffer.inner),
            regions,
        });
        Ok(self)
    }
}

/// The environment variable that overrides the decode kernel (shared with the wgpu backend).
pub use crate::gpu_decode::DECODE_KERNEL_ENV;

impl VulkanContext {
    /// The decode kernel this context dispatches for [`Batch::decode`] (the streaming
    /// pipeline): `$DSR_DECODE_KERNEL` when it names a decode kernel the device runs, else
    /// the subgroup variant where the device runs it (subgroup size 32 with ballot, arithmetic
    /// and shuffle: NVIDIA, for one), else the workgroup-memory kernel, which runs everywhere;
    /// each as its byte-store kernel (`_bytes`) where the context enabled 8-bit storage.
    /// `$DSR_DECODE_KERNEL` naming anything else than a method of this device
    /// ([`Self::decode_kernels`], `auto`, [`AUTO_UNCHECKED`]) is an error.
    pub fn decode_kernel(&self) -> Result<&'static str, VulkanError> {
        match self.decode_override()? {
            Some(name) if name != DRIVER_DECODE && name != AUTO_UNCHECKED => Ok(name),
            _ => Ok(self.rule_kernel()),
        }
    }

    /// The first of these the device runs: the subgroup variant's byte-store kernel, the
    /// subgroup variant, the byte-store kernel, the workgroup-memory kernel (which runs
    /// everywhere). Byte stores first: on an H100 they decode 1.16x (subgroup variant) and
    /// 1.08x (workgroup variant) faster than the atomic OR of the same kernel
    /// (docs/perf-notes.md, v12); they need `storageBuffer8BitAccess` enabled.
    fn rule_kernel(&self) -> &'static str {
        [
            dsr_kernels::GDEFLATE_DECODE_SUBGROUP_BYTES.name,
            dsr_kernels::GDEFLATE_DECODE_SUBGROUP.name,
            dsr_kernels::GDEFLATE_DECODE_BYTES.name,
        ]
        .into_iter()
        .find(|k| self.pipeline(k).is_some())
        .unwrap_or(GDEFLATE_DECODE.name)
    }

    /// `$DSR_DECODE_KERNEL`: `Ok(None)` when unset or `auto`, `Ok(Some(AUTO_UNCHECKED))`, or a
    /// method of this device.
    fn decode_override(&self) -> Result<Option<&'static str>, VulkanError> {
        let Some(name) = std::env::var_os(DECODE_KERNEL_ENV) else { return Ok(None) };
        let name = name.to_string_lossy();
        if name == "auto" {
            return Ok(None);
        }
        if name == AUTO_UNCHECKED {
            return Ok(Some(AUTO_UNCHECKED));
        }
        let runs = self.decode_kernels();
        runs.iter().copied().find(|k| *k == name).map(Some).ok_or_else(|| {
            VulkanError::InvalidArgument(format!(
                "{DECODE_KERNEL_ENV}={name}: not a decode method this device runs ({}, auto, {AUTO_UNCHECKED})",
                runs.join(", ")
            ))
        })
    }

    /// The decode method whole jobs use ([`Self::submit_decode`],
    /// [`Self::gdeflate_decompress`]), chosen once per context: `$DSR_DECODE_KERNEL` when it
    /// names a method; with [`AUTO_UNCHECKED`], the fastest of the kernel and the driver's
    /// method measured here on a synthetic job (the driver's only where the device has it);
    /// otherwise (`auto`, the default) the kernel of [`Self::decode_kernel`], which checks every
    /// page.
    pub fn decode_method(&self) -> Result<&DecodeChoice, VulkanError> {
        let over = self.decode_override()?;
        Ok(self.decode_choice.get_or_init(|| match over {
            Some(AUTO_UNCHECKED) => {
                let kernel = self.rule_kernel();
                if self.memory_decompression.is_none() {
                    return DecodeChoice {
                        method: kernel,
                        why: format!("{AUTO_UNCHECKED}: the device has no driver decompression"),
                        measured: Vec::new(),
                    };
                }
                match self.measure_methods(&[kernel, DRIVER_DECODE]) {
                    Ok(measured) => {
                        let best = measured.iter().max_by(|a, b| a.1.total_cmp(&b.1)).map_or(kernel, |m| m.0);
                        DecodeChoice {
                            method: best,
                            why: format!("{AUTO_UNCHECKED}: fastest measured here"),
                            measured,
                        }
                    }
                    Err(e) => DecodeChoice {
                        method: kernel,
                        why: format!("{AUTO_UNCHECKED}: measurement failed ({e}); the kernel"),
                        measured: Vec::new(),
                    },
                }
            }
            Some(name) => DecodeChoice {
                method: name,
                why: format!("{DECODE_KERNEL_ENV}={name}"),
                measured: Vec::new(),
            },
            None => DecodeChoice {
                method: self.rule_kernel(),
                why: "the kernel (checks every page)".into(),
                measured: Vec::new(),
            },
        }))
    }

    /// GB/s of decoded output of each of `methods` on a synthetic job (16 MiB of text-like
    /// data at level 1), runs interleaved so that clock changes affect all alike; best of 5.
    fn measure_methods(&self, methods: &[&'static str]) -> Result<Vec<(&'static str, f64)>, VulkanError> {
        let data = calibration_data(1 << 20);
        let stream = dsr_gdeflate::compress(&data, dsr_gdeflate::Level::FASTEST, 0)
            .map_err(|e| VulkanError::Internal(format!("calibration data: {e}")))?;
        let ts = TileStream::parse(&stream)
            .map_err(|e| VulkanError::Internal(format!("calibration data: {e}")))?;
        let one = gpu_decode::stream_pages(&ts);
        const COPIES: u64 = 16;
        let len = data.len() as u64;
        let pages: Vec<PageJob<'_>> = (0..COPIES)
            .flat_map(|c| one.iter().map(move |p| PageJob { dst_offset: p.dst_offset + c * len, ..*p }))
            .collect();
        let job = self.prepare_decode_uninit(&pages, data.len() * COPIES as usize)?;
        let mut best = vec![f64::INFINITY; methods.len()];
        for round in 0..6 {
            for (i, m) in methods.iter().enumerate() {
                let start = Instant::now();
                let value = self.submit_decode_with(&job, m)?;
                self.wait(value, Duration::from_secs(10))?;
                if round > 0 {
                    best[i] = best[i].min(start.elapsed().as_secs_f64());
                }
            }
        }
        Ok(methods.iter().zip(best).map(|(m, t)| (*m, job.decoded_bytes() as f64 / t / 1e9)).collect())
    }

    /// The decode methods this device runs: `gdeflate_decode`, then
    /// `gdeflate_decode_subgroup` where the device runs it, then their byte-store kernels
    /// (`gdeflate_decode_bytes`, `gdeflate_decode_subgroup_bytes`) where the context enabled
    /// 8-bit storage, then [`DRIVER_DECODE`] where the context enabled the driver's GDeflate
    /// decompression.
    pub fn decode_kernels(&self) -> Vec<&'static str> {
        let mut runs: Vec<_> = [
            GDEFLATE_DECODE.name,
            dsr_kernels::GDEFLATE_DECODE_SUBGROUP.name,
            dsr_kernels::GDEFLATE_DECODE_BYTES.name,
            dsr_kernels::GDEFLATE_DECODE_SUBGROUP_BYTES.name,
        ]
        .into_iter()
        .filter(|k| self.pipeline(k).is_some())
        .collect();
        if self.memory_decompression.is_some() {
            runs.push(DRIVER_DECODE);
        }
        runs
    }

    /// [`Self::submit_decode`] with the decode method named `kernel` (one of
    /// [`Self::decode_kernels`]), e.g. to compare them. The driver's method marks every page
    /// OK: it reports no errors.
    pub fn submit_decode_with(&self, job: &DecodeJob, kernel: &str) -> Result<u64, VulkanError> {
        let mut batch = self.batch();
        if kernel == DRIVER_DECODE {
            let ok = job.ok_status.as_ref().ok_or_else(|| VulkanError::Unsupported {
                what: "the driver's GDeflate decompression",
                why: format!(
                    "{} has no VK_NV_memory_decompression with GDeflate enabled here",
                    self.info.name
                ),
            })?;
            batch.copy(ok.whole(), job.status.whole())?;
            batch.independent(true).decompress_memory(job.src.whole(), job.dst.whole(), &job.tiles_host)?;
        } else {
            batch.decode_with(&job.bindings(), kernel)?;
        }
        batch.submit()
    }
}

/// A [`DecodeJob`] cut into consecutive tile ranges, each decoded by a submission of its own
/// ([`VulkanContext::submit_decode_split`]): measures what the streaming pipeline's separate
/// batches cost against one dispatch of the same pages (`dsr bench decode --submissions`).
/// Holds one [`DecodeParams`] per range, at the device's uniform offset alignment.
pub struct DecodeSplit {
    params: GpuBuffer,
    stride: u64,
    /// `(first tile, tile count)` of each submission.
    ranges: Vec<(u32, u32)>,
    /// Tile count of the job the split was cut for: a split covers exactly one job's tiles.
    tile_count: u32,
}

impl std::fmt::Debug for DecodeSplit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DecodeSplit").field("ranges", &self.ranges).finish_non_exhaustive()
    }
}

impl DecodeSplit {
    /// Number of submissions.
    pub fn submissions(&self) -> usize {
        self.ranges.len()
    }
}

impl VulkanContext {
    /// Cuts `job` into at most `parts` ranges of (nearly) equal tile counts. Range starts are
    /// multiples of the smallest tile count whose table and status offsets meet
    /// `minStorageBufferOffsetAlignment`, so a job may get fewer ranges than asked for.
    pub fn prepare_decode_split(&self, job: &DecodeJob, parts: u32) -> Result<DecodeSplit, VulkanError> {
        if parts == 0 {
            return Err(VulkanError::InvalidArgument("a split needs at least one submission".into()));
        }
        let align = self.limits.min_storage_buffer_offset_alignment.max(1);
        let granule = (1..=align.max(1))
            .find(|g| {
                (g * size_of::<TileDesc>() as u64).is_multiple_of(align)
                    && (g * size_of::<TileStatus>() as u64).is_multiple_of(align)
            })
            .unwrap_or(align) as u32;
        let n = job.tile_count;
        let per = n.div_ceil(parts).next_multiple_of(granule).max(granule);
        let ranges: Vec<_> = (0..n).step_by(per as usize).map(|first| (first, per.min(n - first))).collect();
        let stride = (size_of::<DecodeParams>() as u64)
            .next_multiple_of(self.limits.min_uniform_buffer_offset_alignment.max(1));
        let params = self.create_buffer(
            stride * ranges.len().max(1) as u64,
            MemoryKind::Upload,
            "decode split params",
        )?;
        for (i, &(_, count)) in ranges.iter().enumerate() {
            params.write(i as u64 * stride, bytemuck::bytes_of(&DecodeParams { tile_count: count }))?;
        }
        Ok(DecodeSplit { params, stride, ranges, tile_count: n })
    }

    /// Decodes `job` with the kernel named `kernel` as `split`'s submissions, back to back,
    /// each declared independent of the earlier ones ([`Batch::ordered_only_after`]: they
    /// decode disjoint pages), so the GPU may overlap them as it overlaps the pipeline's
    /// batches. Returns the last submission's timeline value (signal order makes it the end
    /// of all of them).
    pub fn submit_decode_split(
        &self,
        job: &DecodeJob,
        split: &DecodeSplit,
        kernel: &str,
    ) -> Result<u64, VulkanError> {
        // A split cut for another job would decode only part of this one, or index past it.
        if split.tile_count != job.tile_count {
            return Err(VulkanError::InvalidArgument(format!(
                "a split cut for {} tiles used on a job of {} tiles",
                split.tile_count, job.tile_count
            )));
        }
        let mut values = Vec::with_capacity(split.ranges.len());
        for (i, &(first, count)) in split.ranges.iter().enumerate() {
            let tile = size_of::<TileDesc>() as u64;
            let status = size_of::<TileStatus>() as u64;
            let b = DecodeBindings {
                params: split.params.slice(i as u64 * split.stride, size_of::<DecodeParams>() as u64)?,
                tiles: job.tiles.slice(u64::from(first) * tile, u64::from(count) * tile)?,
                src: job.src.whole(),
                dst: job.dst.whole(),
                status: job.status.slice(u64::from(first) * status, u64::from(count) * status)?,
                tile_count: count,
            };
            let mut batch = self.batch();
            batch.ordered_only_after(&values);
            batch.decode_with(&b, kernel)?;
            values.push(batch.submit()?);
        }
        values.last().copied().ok_or_else(|| VulkanError::InvalidArgument("an empty split".into()))
    }
}

/// Deterministic text-like bytes (words from a small vocabulary, spaces, numbers): compresses
/// about as well as source code or JSON, so the measurement sees typical matches and literals.
fn calibration_data(len: usize) -> Vec<u8> {
    const WORDS: [&str; 16] = [
        "the", "asset", "texture", "stream", "queue", "request", "{\"id\":", "0x7f3a", "mesh", "fn",
        "return", "value", "buffer", "GPU", "=>", "\n    ",
    ];
    let mut out = Vec::with_capacity(len + 16);
    let mut x: u32 = 0x9E37_79B9;
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out.extend_from_slice(WORDS[(x % 16) as usize].as_bytes());
        if x & 0x300 == 0 {
            out.extend_from_slice(format!("{}", x >> 20).as_bytes());
        }
        out.push(b' ');
    }
    out.truncate(len);
    out
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
    /// The descriptors, for the driver's method (which takes its regions on the host).
    tiles_host: Vec<TileDesc>,
    /// Every page's status `STATUS_OK`, copied over the statuses by the driver's method (which
    /// reports none); only on contexts that have it.
    ok_status: Option<GpuBuffer>,
    /// Every page's source and destination are 4-byte aligned, as the driver's method needs.
    driver_aligned: bool,
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

    /// Whether the driver's method ([`DRIVER_DECODE`]) can take this job: every page's
    /// destination is 4-byte aligned (sources always are). [`VulkanContext::submit_decode`]
    /// decodes other jobs with the kernel even where the driver's method was chosen.
    pub fn driver_aligned(&self) -> bool {
        self.driver_aligned
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
        let ok_status = match self.memory_decompression {
            Some(_) => {
                let ok =
                    TileStatus { code: dsr_kernels::gdeflate_decode::STATUS_OK, ..TileStatus::default() };
                Some(self.upload_bytes(bytemuck::cast_slice(&vec![ok; pages.len()]), "decode ok status")?)
            }
            None => None,
        };
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
            driver_aligned: packed.tiles.iter().all(|t| t.dst_offset.is_multiple_of(4)),
            tiles_host: packed.tiles,
            ok_status,
        })
    }

    /// Decodes every page of `job` with the context's [`decode_method`](Self::decode_method);
    /// returns the timeline value that signals completion. Statuses start zeroed
    /// (`STATUS_NOT_RUN`) when the job is prepared, and every decode rewrites the status of
    /// each page it decodes.
    pub fn submit_decode(&self, job: &DecodeJob) -> Result<u64, VulkanError> {
        match self.decode_method()?.method {
            DRIVER_DECODE if !job.driver_aligned => self.submit_decode_with(job, self.rule_kernel()),
            method => self.submit_decode_with(job, method),
        }
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
    ///
    /// ```
    /// use ds_runtime::vulkan::{ContextOptions, VulkanContext};
    /// let data: Vec<u8> = (0..200_000u32).map(|i| (i / 7 % 256) as u8).collect();
    /// let stream = dsr_gdeflate::compress(&data, dsr_gdeflate::Level::DEFAULT, 0)?;
    /// match VulkanContext::new(&ContextOptions::default()) {
    ///     Ok(ctx) => {
    ///         println!("decoding with {} on {}", ctx.decode_kernel()?, ctx.device_info().name);
    ///         assert_eq!(ctx.gdeflate_decompress(&stream)?, data);
    ///         let mut bad = stream.clone();
    ///         bad[40..60].fill(0xFF); // inside the first page
    ///         let err = ctx.gdeflate_decompress(&bad).unwrap_err();
    ///         println!("{err}"); // the same error (tile, offset) as dsr_gdeflate::decompress
    ///     }
    /// #   Err(e) if std::env::var_os("DSR_REQUIRE_GPU").is_some() => return Err(e.into()),
    ///     Err(e) => println!("no Vulkan device: {e}"), // Unsupported (no loader) or NoDevice
    /// }
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
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
