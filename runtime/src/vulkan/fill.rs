//! The `fill_pattern` kernel end to end (feature `glsl`): paint a 32-bit word over a range of a
//! buffer, e.g. guard bands around a decode destination that a test later checks untouched.
//!
//! `fill_pattern` is a GLSL kernel ([`dsr_kernels::glsl`]): it is in [`dsr_kernels::KERNELS`]
//! when the feature is on, so the context built its pipeline like any other's, and it is
//! dispatched through [`super::Batch::dispatch`] like `copy`. The kernel clamps every parameter
//! itself (against the bound range's length); the host only sizes the grid, so tests can hand
//! it hostile values.

use super::buffer::BufferSlice;
use super::buffer::MemoryKind;
use super::context::VulkanContext;
use super::error::VulkanError;
use dsr_kernels::FILL_PATTERN;
use dsr_kernels::glsl::FillPatternParams;

impl VulkanContext {
    /// Dispatches the `fill_pattern` kernel over `dst` with `params` passed through unchanged:
    /// it writes `params.pattern` into `min(word_count, words of dst after offset_words)` words
    /// of `dst` from word `offset_words` on (word 0 = the slice's first word). `groups`
    /// (workgroups along x) defaults to enough for that many words (at least 1, at most the
    /// device's limit; the kernel's grid-stride loop covers any remainder). Returns the
    /// timeline value.
    pub fn dispatch_fill(
        &self,
        params: FillPatternParams,
        dst: BufferSlice<'_>,
        groups: Option<u32>,
    ) -> Result<u64, VulkanError> {
        let params_buffer =
            self.create_buffer(size_of::<FillPatternParams>() as u64, MemoryKind::Upload, "fill params")?;
        params_buffer.write(0, bytemuck::bytes_of(&params))?;
        let groups = groups.unwrap_or_else(|| {
            let words = (dst.size() / 4).saturating_sub(u64::from(params.offset_words));
            let words = u64::from(params.word_count).min(words);
            let per_group = u64::from(FILL_PATTERN.workgroup_size[0]);
            let max = u64::from(self.limits.max_compute_work_group_count[0]);
            words.div_ceil(per_group).clamp(1, max) as u32
        });
        let mut batch = self.batch();
        // Order of FILL_PATTERN.bindings (reflected): params, dst.
        batch.dispatch(FILL_PATTERN.name, &[params_buffer.whole(), dst], [groups, 1, 1])?;
        batch.submit()
    }

    /// Runs the `fill_pattern` kernel on host data: `dst` is uploaded, the kernel writes
    /// `params.pattern` into `min(word_count, words after offset_words)` words from
    /// `offset_words` on, and the result is read back into `dst` (other words keep their
    /// value). An empty `dst` writes nothing and does not touch the GPU (Vulkan buffers cannot
    /// be empty).
    pub fn fill_words(&self, dst: &mut [u32], params: FillPatternParams) -> Result<(), VulkanError> {
        if dst.is_empty() {
            return Ok(());
        }
        let dst_buffer = self.upload_words(dst, "fill dst")?;
        self.dispatch_fill(params, dst_buffer.whole(), None)?;
        let out = self.download_words(dst_buffer.whole())?;
        dst.copy_from_slice(&out);
        Ok(())
    }
}
