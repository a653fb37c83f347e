//! Host ↔ device transfers and the `copy` kernel end to end: upload a host slice into
//! device-local memory, dispatch [`dsr_kernels::COPY`] with [`CopyParams`], read back.
//!
//! This is the template the GDeflate decode dispatch will follow (staging upload, parameter
//! buffer, dispatch sized from the reflected workgroup size, readback). The kernel clamps
//! every parameter itself; the host only sizes the grid, so tests can hand it hostile values.

use super::buffer::{BufferSlice, GpuBuffer, MemoryKind};
use super::context::VulkanContext;
use super::error::VulkanError;
use dsr_kernels::{COPY, CopyParams};
use std::time::Duration;

impl VulkanContext {
    /// A device-local buffer holding `bytes` (non-empty), filled through a staging buffer.
    /// Returns once the copy is submitted; later submissions are ordered after it.
    pub fn upload_bytes(&self, bytes: &[u8], name: &str) -> Result<GpuBuffer, VulkanError> {
        let size = bytes.len() as u64;
        let staging = self.create_buffer(size, MemoryKind::Upload, "staging upload")?;
        staging.write(0, bytes)?;
        let buffer = self.create_buffer(size, MemoryKind::DeviceLocal, name)?;
        let mut batch = self.batch();
        batch.copy(staging.whole(), buffer.whole())?;
        // The in-flight batch keeps `staging` alive until the copy completed.
        batch.submit()?;
        Ok(buffer)
    }

    /// [`Self::upload_bytes`] for 32-bit words.
    pub fn upload_words(&self, words: &[u32], name: &str) -> Result<GpuBuffer, VulkanError> {
        self.upload_bytes(bytemuck::cast_slice(words), name)
    }

    /// The bytes of `slice`, after all work submitted so far completed.
    pub fn download_bytes(&self, slice: BufferSlice<'_>) -> Result<Vec<u8>, VulkanError> {
        let readback = self.create_buffer(slice.size(), MemoryKind::Readback, "readback")?;
        let mut batch = self.batch();
        batch.copy(slice, readback.whole())?;
        let value = batch.submit()?;
        self.wait(value, Duration::MAX)?;
        let len = usize::try_from(slice.size())
            .map_err(|_| VulkanError::InvalidArgument("download larger than the address space".into()))?;
        let mut out = vec![0u8; len];
        readback.read(0, &mut out)?;
        Ok(out)
    }

    /// The words of `slice` (its size must be a multiple of 4).
    pub fn download_words(&self, slice: BufferSlice<'_>) -> Result<Vec<u32>, VulkanError> {
        if !slice.size().is_multiple_of(4) {
            return Err(VulkanError::InvalidArgument(format!("{} bytes is not whole words", slice.size())));
        }
        let bytes = self.download_bytes(slice)?;
        Ok(bytes.chunks_exact(4).map(|w| u32::from_ne_bytes([w[0], w[1], w[2], w[3]])).collect())
    }

    /// Dispatches the `copy` kernel over `src` and `dst` with `params` passed through
    /// unchanged. `groups` (workgroups along x) defaults to enough for
    /// `min(word_count, words in dst)` words (at least 1, at most the device's limit; the
    /// kernel's grid-stride loop covers any remainder). Returns the timeline value.
    pub fn dispatch_copy(
        &self,
        params: CopyParams,
        src: BufferSlice<'_>,
        dst: BufferSlice<'_>,
        groups: Option<u32>,
    ) -> Result<u64, VulkanError> {
        let params_buffer =
            self.create_buffer(size_of::<CopyParams>() as u64, MemoryKind::Upload, "copy params")?;
        params_buffer.write(0, bytemuck::bytes_of(&params))?;
        let groups = groups.unwrap_or_else(|| {
            let words = u64::from(params.word_count).min(dst.size() / 4);
            let per_group = u64::from(COPY.workgroup_size[0]);
            let max = u64::from(self.limits.max_compute_work_group_count[0]);
            words.div_ceil(per_group).clamp(1, max) as u32
        });
        let mut batch = self.batch();
        // Order of COPY.bindings (reflected): params, src, dst.
        batch.dispatch(COPY.name, &[params_buffer.whole(), src, dst], [groups, 1, 1])?;
        batch.submit()
    }

    /// Runs the `copy` kernel on host data: `dst` is uploaded, the kernel copies
    /// `min(word_count, src words after src_offset_words, dst words after dst_offset_words)`
    /// words, and the result is read back into `dst` (words the kernel does not write keep
    /// their value). Empty `src` or `dst` copy nothing and do not touch the GPU (Vulkan
    /// buffers cannot be empty).
    pub fn copy_words(&self, src: &[u32], dst: &mut [u32], params: CopyParams) -> Result<(), VulkanError> {
        if src.is_empty() || dst.is_empty() {
            return Ok(());
        }
        let src_buffer = self.upload_words(src, "copy src")?;
        let dst_buffer = self.upload_words(dst, "copy dst")?;
        self.dispatch_copy(params, src_buffer.whole(), dst_buffer.whole(), None)?;
        let out = self.download_words(dst_buffer.whole())?;
        dst.copy_from_slice(&out);
        Ok(())
    }
}
