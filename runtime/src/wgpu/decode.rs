//! GDeflate decode through wgpu: the same `gdeflate_decode` WGSL kernel the ash core runs
//! (from `dsr_kernels`, never a copy), over buffers this module makes resident
//! ([`DecodeJob`]) or buffers the caller manages ([`DecodeBindings`], for the streaming
//! pipeline).
//!
//! Invariants:
//! - Bounds are checked as the ash core checks them: sources and destinations below 4 GiB,
//!   each binding within the device's binding-size limit and offset alignment, the grid
//!   clamped to `max_compute_workgroups_per_dimension` (the kernel strides over the tiles).
//!   The kernel also checks every descriptor against the bound sizes itself
//!   (`STATUS_BAD_DESCRIPTOR`, never an out-of-bounds access).
//! - Results are never trusted blindly: a status the host cannot map is a
//!   [`WgpuError::Internal`] (see [`crate::gpu_decode::status_error`]).
//! - Statuses start zeroed (`STATUS_NOT_RUN`, WebGPU zero-initialises buffers); the
//!   destination holds the caller's bytes (guard patterns) or zeros, and the kernel writes
//!   only inside each page's `[dst_offset, dst_offset + dst_size)`.

use super::context::{WgpuContext, scoped};
use super::error::WgpuError;
use crate::gpu_decode::{self, BUFFER_LIMIT, PageJob};
use dsr_gdeflate::{DecodeErrorKind, TileStream};
use dsr_kernels::{
    BindingKind, DecodeParams, GDEFLATE_DECODE, GDEFLATE_DECODE_SUBGROUP, KernelInfo, TileStatus,
};
use std::num::NonZeroU64;
use std::time::Duration;

/// Whether a device with `features`, on the adapter `info` describes, runs `kernel`: it uses
/// no subgroup operations, or the device has [`::wgpu::Features::SUBGROUP`] and a fixed
/// subgroup size equal to the one the kernel needs (wgpu cannot request a subgroup size, so a
/// device whose size varies, e.g. 32..64, or lavapipe's 8, gets the base kernel).
pub fn runs_kernel(kernel: &KernelInfo, features: ::wgpu::Features, info: &::wgpu::AdapterInfo) -> bool {
    // wgpu has no 8-bit storage feature to request: byte-store kernels are Vulkan-core only.
    !kernel.storage_8bit
        && (kernel.subgroup_size == 0
            || (features.contains(::wgpu::Features::SUBGROUP)
                && info.subgroup_min_size == kernel.subgroup_size
                && info.subgroup_max_size == kernel.subgroup_size))
}

/// The decode kernels a device with `features` on the adapter `info` describes runs:
/// [`GDEFLATE_DECODE`] (workgroup-memory ballots, runs everywhere), then
/// [`GDEFLATE_DECODE_SUBGROUP`] where it [runs](runs_kernel).
pub fn decode_kernels(features: ::wgpu::Features, info: &::wgpu::AdapterInfo) -> Vec<&'static KernelInfo> {
    let all: [&'static KernelInfo; 2] = [&GDEFLATE_DECODE, &GDEFLATE_DECODE_SUBGROUP];
    all.into_iter().filter(|k| !k.wgsl.is_empty() && runs_kernel(k, features, info)).collect()
}

/// The decode kernel a device with `features` on the adapter `info` describes runs by
/// default: the subgroup variant where it [runs](runs_kernel), else the workgroup-memory
/// kernel. The one place the choice is made; [`crate::gpu_decode::DECODE_KERNEL_ENV`] and
/// [`KernelOptions::decode_kernel`](super::KernelOptions::decode_kernel) override it by name.
pub fn decode_kernel(features: ::wgpu::Features, info: &::wgpu::AdapterInfo) -> &'static KernelInfo {
    decode_kernels(features, info).last().copied().unwrap_or(&GDEFLATE_DECODE)
}

/// The default decode kernel of a context: `name` when given, else
/// `$DSR_DECODE_KERNEL` when set, else [`decode_kernel`]; a name must be one of
/// [`decode_kernels`].
pub(crate) fn chosen_decode_kernel(
    name: Option<&str>,
    features: ::wgpu::Features,
    info: &::wgpu::AdapterInfo,
) -> Result<&'static KernelInfo, WgpuError> {
    // `auto`, `auto-unchecked` and the Vulkan driver's method leave the choice to this backend.
    let env = std::env::var(gpu_decode::DECODE_KERNEL_ENV)
        .ok()
        .filter(|v| !gpu_decode::is_automatic_kernel_choice(v));
    let (name, from) = match (name, env.as_deref()) {
        (Some(n), _) => (n, "decode kernel"),
        (None, Some(n)) => (n, gpu_decode::DECODE_KERNEL_ENV),
        (None, None) => return Ok(decode_kernel(features, info)),
    };
    let runs = decode_kernels(features, info);
    runs.iter().copied().find(|k| k.name == name).ok_or_else(|| {
        let names: Vec<&str> = runs.iter().map(|k| k.name).collect();
        WgpuError::InvalidArgument(format!(
            "{from} `{name}`: not a decode kernel this device runs ({})",
            names.join(", ")
        ))
    })
}

/// The CPU decoder's error for a kernel status: `Ok(None)` for success, `Ok(Some(kind))` for
/// a page error, `Err` ([`WgpuError::Internal`]) for a status that means the dispatch itself
/// went wrong.
pub fn status_error(s: &TileStatus) -> Result<Option<DecodeErrorKind>, WgpuError> {
    gpu_decode::status_error(s).map_err(WgpuError::from)
}

/// The buffers of one decode dispatch, for callers that manage their own memory:
/// [`WgpuContext::encode_decode`] records the kernel over them into the caller's encoder.
///
/// - `params`: a uniform [`DecodeParams`] whose `tile_count` equals `tile_count` here;
/// - `tiles`: `tile_count` [`dsr_kernels::TileDesc`]s; offsets are bytes into `src` and
///   `dst` (slices, so relative to their starts), `src_offset` a multiple of 4;
/// - `src`: the pages, `dst`: the decoded bytes (the kernel writes only inside each tile's
///   range, every byte of it when the page decodes; other bytes of a shared word are
///   preserved), `status`: `tile_count` [`TileStatus`]es, read with [`status_error`].
///
/// Slices need the usages their kind implies (`UNIFORM` or `STORAGE`), offsets aligned to
/// the device's `min_*_buffer_offset_alignment`, and storage sizes in whole words. `dst` and
/// `status` (the writable bindings) must each lie in a buffer that no other binding of the
/// dispatch uses, even at another range: WebGPU makes a writable storage buffer exclusive
/// within a dispatch (read-only `tiles` and `src` may share one buffer).
#[derive(Debug, Clone, Copy)]
pub struct DecodeBindings<'a> {
    /// Uniform [`DecodeParams`].
    pub params: ::wgpu::BufferSlice<'a>,
    /// The [`dsr_kernels::TileDesc`] table.
    pub tiles: ::wgpu::BufferSlice<'a>,
    /// Compressed pages (whole 32-bit words).
    pub src: ::wgpu::BufferSlice<'a>,
    /// Destination (whole 32-bit words).
    pub dst: ::wgpu::BufferSlice<'a>,
    /// One [`TileStatus`] per tile.
    pub status: ::wgpu::BufferSlice<'a>,
    /// Number of tiles (the table's length).
    pub tile_count: u32,
}

/// Pages resident on the device, ready to be decoded (any number of times).
pub struct DecodeJob {
    params: ::wgpu::Buffer,
    tiles: ::wgpu::Buffer,
    src: ::wgpu::Buffer,
    dst: ::wgpu::Buffer,
    status: ::wgpu::Buffer,
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

    /// The destination buffer (`STORAGE | COPY_SRC | COPY_DST`).
    pub fn destination(&self) -> &::wgpu::Buffer {
        &self.dst
    }

    fn bindings(&self) -> DecodeBindings<'_> {
        DecodeBindings {
            params: self.params.slice(..),
            tiles: self.tiles.slice(..),
            src: self.src.slice(..),
            dst: self.dst.slice(..),
            status: self.status.slice(..),
            tile_count: self.tile_count,
        }
    }
}

use ::wgpu::BufferUsages as U;

impl WgpuContext {
    /// Uploads `pages` and builds their descriptors. The destination buffer is
    /// `dst_init.len()` bytes, initialised with `dst_init` (which must cover every page's
    /// destination range; use zeros, or a guard pattern to detect stray writes).
    pub fn prepare_decode(&self, pages: &[PageJob<'_>], dst_init: &[u8]) -> Result<DecodeJob, WgpuError> {
        self.prepare(pages, dst_init.len(), Some(dst_init))
    }

    /// [`Self::prepare_decode`] with a `dst_len`-byte destination that is not uploaded (wgpu
    /// zero-fills it on the device before its first use): for jobs whose pages cover the
    /// destination.
    pub fn prepare_decode_uninit(
        &self,
        pages: &[PageJob<'_>],
        dst_len: usize,
    ) -> Result<DecodeJob, WgpuError> {
        self.prepare(pages, dst_len, None)
    }

    fn prepare(
        &self,
        pages: &[PageJob<'_>],
        dst_len: usize,
        dst_init: Option<&[u8]>,
    ) -> Result<DecodeJob, WgpuError> {
        let packed = gpu_decode::pack_pages(pages, dst_len).map_err(WgpuError::InvalidArgument)?;
        let dst_words = dst_len.next_multiple_of(4) as u64;
        let status_bytes = (pages.len() * size_of::<TileStatus>()) as u64;
        let max = self.limits.max_storage_buffer_binding_size.min(BUFFER_LIMIT);
        let tile_bytes = (packed.tiles.len() * size_of::<dsr_kernels::TileDesc>()) as u64;
        let sizes = [
            ("sources", packed.src.len() as u64),
            ("destination", dst_words),
            ("descriptor table", tile_bytes),
            ("status table", status_bytes),
        ];
        for (what, size) in sizes {
            if size > max {
                return Err(WgpuError::InvalidArgument(format!(
                    "decode job {what} of {size} bytes exceed the device's {max}-byte storage binding limit"
                )));
            }
        }
        let dst = match dst_init {
            Some(bytes) => self.upload_bytes(bytes, U::STORAGE | U::COPY_SRC | U::COPY_DST, "decode dst")?,
            None => self.create_buffer(dst_words, U::STORAGE | U::COPY_SRC | U::COPY_DST, "decode dst")?,
        };
        let params = DecodeParams { tile_count: packed.tile_count };
        Ok(DecodeJob {
            params: self.upload_bytes(
                bytemuck::bytes_of(&params),
                U::UNIFORM | U::COPY_DST,
                "decode params",
            )?,
            tiles: self.upload_bytes(
                bytemuck::cast_slice(&packed.tiles),
                U::STORAGE | U::COPY_DST,
                "decode tiles",
            )?,
            src: self.upload_bytes(&packed.src, U::STORAGE | U::COPY_DST, "decode src")?,
            dst,
            status: self.create_buffer(
                status_bytes,
                U::STORAGE | U::COPY_SRC | U::COPY_DST,
                "decode status",
            )?,
            tile_count: packed.tile_count,
            src_bytes: packed.src_bytes,
            decoded_bytes: packed.decoded_bytes,
            dst_len,
        })
    }

    /// Checks `slices` against `kernel`'s reflected bindings and the device's limits, as the
    /// ash core's `Batch::dispatch` does.
    fn check_bindings(
        &self,
        kernel: &KernelInfo,
        slices: &[::wgpu::BufferSlice<'_>],
    ) -> Result<(), WgpuError> {
        if slices.len() != kernel.bindings.len() {
            return Err(WgpuError::InvalidArgument(format!(
                "kernel `{}` has {} bindings, {} given",
                kernel.name,
                kernel.bindings.len(),
                slices.len()
            )));
        }
        let l = &self.limits;
        for (slice, b) in slices.iter().zip(kernel.bindings) {
            let (usage, align, max_range) = match b.kind {
                BindingKind::Uniform => {
                    (U::UNIFORM, l.min_uniform_buffer_offset_alignment, l.max_uniform_buffer_binding_size)
                }
                BindingKind::StorageRead | BindingKind::StorageReadWrite => {
                    (U::STORAGE, l.min_storage_buffer_offset_alignment, l.max_storage_buffer_binding_size)
                }
            };
            // The kernel's offsets are u32 and it computes byte sizes from word counts.
            let max_range = max_range.min(BUFFER_LIMIT & !3);
            let at = format!("kernel `{}` @group({}) @binding({})", kernel.name, b.group, b.binding);
            let (offset, size) = (slice.offset(), slice.size());
            if !slice.buffer().usage().contains(usage) {
                return Err(WgpuError::InvalidArgument(format!("{at}: the buffer lacks usage {usage:?}")));
            }
            if size < b.min_size || size > max_range {
                return Err(WgpuError::InvalidArgument(format!(
                    "{at}: {size} bytes bound, needs {}..={max_range}",
                    b.min_size
                )));
            }
            if b.kind != BindingKind::Uniform && !size.is_multiple_of(4) {
                return Err(WgpuError::InvalidArgument(format!("{at}: {size} bytes bound, not whole words")));
            }
            if align > 0 && !offset.is_multiple_of(u64::from(align)) {
                return Err(WgpuError::InvalidArgument(format!(
                    "{at}: offset {offset} is not a multiple of the device's {align}-byte alignment"
                )));
            }
        }
        // WebGPU's usage scope: a buffer bound writable is exclusive within the dispatch.
        for (i, (slice, b)) in slices.iter().zip(kernel.bindings).enumerate() {
            if b.kind != BindingKind::StorageReadWrite {
                continue;
            }
            if let Some(j) = (0..slices.len()).find(|&j| j != i && slices[j].buffer() == slice.buffer()) {
                let other = &kernel.bindings[j];
                return Err(WgpuError::InvalidArgument(format!(
                    "kernel `{}` @binding({}) is writable, and its buffer is also bound at @binding({}): \
                     WebGPU makes a writable storage buffer exclusive within a dispatch",
                    kernel.name, b.binding, other.binding
                )));
            }
        }
        Ok(())
    }

    /// Records a GDeflate decode of `b.tile_count` pages (see [`DecodeBindings`]) with the
    /// context's [`decode_kernel`](WgpuContext::decode_kernel) into `encoder`, in its own
    /// compute pass; the grid is sized here, from the tile count and the device's workgroup
    /// limit. The caller submits the encoder.
    pub fn encode_decode(
        &self,
        encoder: &mut ::wgpu::CommandEncoder,
        b: &DecodeBindings<'_>,
    ) -> Result<(), WgpuError> {
        self.encode_decode_with(encoder, b, self.decode_kernel().name)
    }

    /// [`Self::encode_decode`] with the decode kernel named `kernel` (one of
    /// [`Self::decode_kernels`]).
    pub fn encode_decode_with(
        &self,
        encoder: &mut ::wgpu::CommandEncoder,
        b: &DecodeBindings<'_>,
        kernel: &str,
    ) -> Result<(), WgpuError> {
        let pipeline = self.decode_pipeline(kernel)?;
        // Both variants have GDEFLATE_DECODE's bindings (reflected, same source): params,
        // tiles, src, dst, status.
        let slices = [b.params, b.tiles, b.src, b.dst, b.status];
        self.check_bindings(pipeline.kernel(), &slices)?;
        let kernel = pipeline.kernel();
        let groups = b.tile_count.clamp(1, self.limits.max_compute_workgroups_per_dimension.max(1));
        scoped(&self.device, "record the decode dispatch", || {
            let bind_groups: Vec<::wgpu::BindGroup> = pipeline
                .layouts
                .iter()
                .enumerate()
                .map(|(group, layout)| {
                    let entries: Vec<::wgpu::BindGroupEntry<'_>> = kernel
                        .bindings
                        .iter()
                        .zip(&slices)
                        .filter(|(binding, _)| binding.group as usize == group)
                        .map(|(binding, slice)| ::wgpu::BindGroupEntry {
                            binding: binding.binding,
                            resource: ::wgpu::BindingResource::Buffer(::wgpu::BufferBinding {
                                buffer: slice.buffer(),
                                offset: slice.offset(),
                                size: NonZeroU64::new(slice.size()),
                            }),
                        })
                        .collect();
                    self.device.create_bind_group(&::wgpu::BindGroupDescriptor {
                        label: Some(kernel.name),
                        layout,
                        entries: &entries,
                    })
                })
                .collect();
            let mut pass = encoder.begin_compute_pass(&::wgpu::ComputePassDescriptor {
                label: Some(kernel.name),
                timestamp_writes: None,
            });
            pass.set_pipeline(&pipeline.pipeline);
            for (i, group) in bind_groups.iter().enumerate() {
                pass.set_bind_group(i as u32, group, &[]);
            }
            pass.dispatch_workgroups(groups, 1, 1);
        })
    }

    /// Dispatches the decode of every page of `job`; returns the submission to
    /// [`Self::wait`] for. Every dispatch rewrites the status of each page it decodes.
    pub fn submit_decode(&self, job: &DecodeJob) -> Result<::wgpu::SubmissionIndex, WgpuError> {
        self.submit_decode_with(job, self.decode_kernel().name)
    }

    /// [`Self::submit_decode`] with the decode kernel named `kernel` (one of
    /// [`Self::decode_kernels`]), e.g. to compare the variants.
    pub fn submit_decode_with(
        &self,
        job: &DecodeJob,
        kernel: &str,
    ) -> Result<::wgpu::SubmissionIndex, WgpuError> {
        let mut encoder =
            self.device.create_command_encoder(&::wgpu::CommandEncoderDescriptor { label: Some("decode") });
        self.encode_decode_with(&mut encoder, &job.bindings(), kernel)?;
        scoped(&self.device, "submit the decode", || self.queue.submit([encoder.finish()]))
    }

    /// After the decode completed: the destination bytes (the `dst_init` length) and one
    /// status per page.
    pub fn decode_results(&self, job: &DecodeJob) -> Result<(Vec<u8>, Vec<TileStatus>), WgpuError> {
        let mut dst = self.download_bytes(&job.dst, 0, job.dst.size())?;
        let status_bytes = self.download_bytes(&job.status, 0, job.status.size())?;
        let statuses = status_bytes
            .chunks_exact(size_of::<TileStatus>())
            .take(job.tile_count as usize)
            .map(bytemuck::pod_read_unaligned::<TileStatus>)
            .collect();
        dst.truncate(job.dst_len);
        Ok((dst, statuses))
    }

    /// Decodes the DirectStorage tile stream `stream` through wgpu into a new buffer. The
    /// container is parsed (and rejected) on the host exactly as by the CPU decoder; page
    /// errors carry the tile and the byte offset in the stream, as the CPU decoder's do.
    pub fn gdeflate_decompress(&self, stream: &[u8]) -> Result<Vec<u8>, crate::Error> {
        let ts = TileStream::parse(stream)?;
        let size = ts.uncompressed_size() as usize;
        if ts.num_tiles() == 0 {
            return Ok(Vec::new());
        }
        // Tiles cover the output exactly: nothing to initialise.
        let job = self.prepare_decode_uninit(&gpu_decode::stream_pages(&ts), size)?;
        let index = self.submit_decode(&job)?;
        self.wait(index, Duration::MAX)?;
        let (mut out, statuses) = self.decode_results(&job)?;
        gpu_decode::stream_outcome(&ts, &statuses, WgpuError::from)?;
        out.truncate(size);
        Ok(out)
    }
}
