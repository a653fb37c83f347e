//! Command recording and submission: a [`Batch`] of copies and kernel dispatches becomes one
//! command buffer that signals the context's timeline semaphore with the next value.
//!
//! Owns the in-flight list ([`SubmitState`]): each submission keeps its command buffer,
//! descriptor pool and a reference to every buffer it uses until the timeline reaches its
//! value; `retire` releases them.
//!
//! Synchronisation inside a batch is deliberately simple: a full compute/transfer memory
//! barrier at the start of each command buffer (orders it after earlier submissions on the
//! queue), between consecutive commands, and one to the host at the end (so a buffer read on
//! the CPU after the timeline wait sees the GPU's writes). The one exception is a command
//! marked with [`Batch::independent`]: its caller guarantees it shares no written memory with
//! the commands before it in the batch, so no barrier separates them and the GPU may run them
//! concurrently (the streaming pipeline puts many pieces' decodes in one batch this way; one
//! small dispatch alone cannot fill a large GPU). Likewise [`Batch::ordered_only_after`] lets
//! a batch leave out its leading barrier when the only unfinished submissions are ones its
//! caller named as independent of it (the pipeline's own earlier batches).

use super::buffer::{BufferInner, BufferSlice};
use super::context::{VulkanContext, lock};
use super::error::{VulkanError, vk_err};
use super::image::ImageInner;
use super::pipeline::descriptor_type;
use ash::vk;
use dsr_kernels::BindingKind;
use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A submitted command buffer and what it keeps alive.
pub(crate) struct InFlight {
    value: u64,
    cmd: vk::CommandBuffer,
    descriptor_pool: vk::DescriptorPool,
    _buffers: Vec<Arc<BufferInner>>,
    _images: Vec<Arc<ImageInner>>,
}

/// The context's submission state, behind its mutex: the command pool (externally
/// synchronised by that mutex), the in-flight list in value order, and the last value.
pub(crate) struct SubmitState {
    pub(crate) pool: vk::CommandPool,
    pub(crate) in_flight: VecDeque<InFlight>,
    pub(crate) last_value: u64,
    /// With lanes: the last value each lane's semaphore was given (context module docs).
    pub(crate) lane_values: Vec<u64>,
    /// With lanes: the lane the next unordered submission goes to.
    pub(crate) next_lane: usize,
}

impl SubmitState {
    /// Releases every submission whose value is at most `completed`.
    pub(crate) fn retire(&mut self, device: &ash::Device, completed: u64) {
        while self.in_flight.front().is_some_and(|f| f.value <= completed) {
            if let Some(f) = self.in_flight.pop_front() {
                release(device, self.pool, f.cmd, f.descriptor_pool);
            }
        }
    }
}

/// Frees a command buffer and destroys a descriptor pool (null is allowed for the latter).
fn release(
    device: &ash::Device,
    pool: vk::CommandPool,
    cmd: vk::CommandBuffer,
    descriptor_pool: vk::DescriptorPool,
) {
    // SAFETY: `cmd` was allocated from `pool` (synchronised by the state mutex the caller
    // holds) and is not pending: its submission completed or never happened.
    unsafe { device.free_command_buffers(pool, &[cmd]) };
    // SAFETY: the pool's sets were only used by `cmd`, which is not pending.
    unsafe { device.destroy_descriptor_pool(descriptor_pool, None) };
}

// The image commands come from `image.rs`: `ImageInit` moves every subresource from UNDEFINED
// to GENERAL (images stay in GENERAL); the copies' regions are checked by
// `Batch::copy_to_image` / `Batch::copy_from_image`.
pub(super) enum Cmd {
    Copy {
        src: Arc<BufferInner>,
        dst: Arc<BufferInner>,
        region: vk::BufferCopy,
    },
    Dispatch {
        pipeline: usize,
        bindings: Vec<(Arc<BufferInner>, u64, u64)>,
        groups: [u32; 3],
    },
    ImageInit {
        image: Arc<ImageInner>,
    },
    CopyToImage {
        src: Arc<BufferInner>,
        dst: Arc<ImageInner>,
        region: vk::BufferImageCopy,
    },
    CopyFromImage {
        src: Arc<ImageInner>,
        dst: Arc<BufferInner>,
        region: vk::BufferImageCopy,
    },
    /// `vkCmdDecompressMemoryNV` over regions checked by `Batch::decompress_memory` (the
    /// buffers are held so the addresses stay valid until the batch completes).
    DecompressMemory {
        src: Arc<BufferInner>,
        dst: Arc<BufferInner>,
        regions: Vec<vk::DecompressMemoryRegionNV>,
    },
}

/// A list of GPU commands, recorded into one command buffer by [`Batch::submit`]. Commands
/// run in order (full barriers between them, except before commands marked
/// [`Batch::independent`]). Every argument is checked when the command is
/// added, so `submit` fails only for Vulkan reasons.
pub struct Batch<'a> {
    pub(super) ctx: &'a VulkanContext,
    cmds: Vec<Cmd>,
    /// Per command: whether a barrier is recorded before it (always for the first).
    barrier_before: Vec<bool>,
    /// The next command added is independent of the ones before it ([`Batch::independent`]).
    next_independent: bool,
    /// [`Batch::ordered_only_after`]: the submissions the leading barrier may ignore.
    unordered_with: Option<Vec<u64>>,
}

impl std::fmt::Debug for Batch<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Batch").field("commands", &self.cmds.len()).finish_non_exhaustive()
    }
}

impl VulkanContext {
    /// An empty batch for this context.
    pub fn batch(&self) -> Batch<'_> {
        Batch {
            ctx: self,
            cmds: Vec::new(),
            barrier_before: Vec::new(),
            next_independent: false,
            unordered_with: None,
        }
    }

    pub(super) fn check_own(&self, slice: &BufferSlice<'_>) -> Result<(), VulkanError> {
        if Arc::ptr_eq(&slice.buffer.inner.shared, &self.shared) {
            Ok(())
        } else {
            Err(VulkanError::InvalidArgument("the buffer belongs to another Vulkan context".into()))
        }
    }
}

impl Batch<'_> {
    /// Appends a command checked by its caller (`image.rs`).
    pub(super) fn push(&mut self, cmd: Cmd) {
        // The batch's first command always gets the leading barrier (earlier submissions).
        self.barrier_before.push(self.cmds.is_empty() || !self.next_independent);
        self.next_independent = false;
        self.cmds.push(cmd);
    }

    /// Sets whether the next command added is independent of the commands already in the
    /// batch (default: not). An independent command gets no barrier before it, so the GPU may
    /// overlap it with them. The caller guarantees that it writes no memory that an earlier
    /// command of this batch reads or writes non-atomically, and reads no memory that one
    /// writes (otherwise the results are unspecified GPU data races — wrong bytes, never host
    /// memory unsafety). The batch's leading barrier still orders every command after earlier
    /// submissions, and the final barrier makes all writes visible to the host. The setting
    /// applies to the next command that is added successfully.
    pub fn independent(&mut self, yes: bool) -> &mut Self {
        self.next_independent = yes;
        self
    }

    /// Declares that this batch's first command needs no ordering against the submissions
    /// with timeline values in `values` (the caller guarantees the same as for
    /// [`Batch::independent`], against every command of those submissions). When, at submit
    /// time, every submission of the context that has not completed is one of them, the
    /// leading barrier is left out, so the batch may overlap them on the GPU; otherwise (an
    /// unfinished submission of someone else) it is recorded as usual. Submissions that
    /// completed before this one is submitted need no barrier: the host observed their end.
    /// Honoured only on contexts that own their device: on an adopted one the application
    /// submits to the queue directly, which this context cannot see.
    pub fn ordered_only_after(&mut self, values: &[u64]) -> &mut Self {
        self.unordered_with = Some(values.to_vec());
        self
    }

    /// Number of commands.
    pub fn len(&self) -> usize {
        self.cmds.len()
    }

    /// Whether no command was added.
    pub fn is_empty(&self) -> bool {
        self.cmds.is_empty()
    }

    /// Copies `src` into `dst` (same size; not overlapping when in the same buffer).
    pub fn copy(&mut self, src: BufferSlice<'_>, dst: BufferSlice<'_>) -> Result<&mut Self, VulkanError> {
        self.ctx.check_own(&src)?;
        self.ctx.check_own(&dst)?;
        if src.size != dst.size {
            return Err(VulkanError::InvalidArgument(format!(
                "copy of {} bytes into a {}-byte slice",
                src.size, dst.size
            )));
        }
        let same = Arc::ptr_eq(&src.buffer.inner, &dst.buffer.inner);
        if same && src.offset < dst.offset + dst.size && dst.offset < src.offset + src.size {
            return Err(VulkanError::InvalidArgument("copy between overlapping ranges".into()));
        }
        self.push(Cmd::Copy {
            src: Arc::clone(&src.buffer.inner),
            dst: Arc::clone(&dst.buffer.inner),
            region: vk::BufferCopy { src_offset: src.offset, dst_offset: dst.offset, size: src.size },
        });
        Ok(self)
    }

    /// Dispatches kernel `kernel` with `groups` workgroups. `bindings` are given in the order
    /// of the kernel's reflected [`dsr_kernels::KernelInfo::bindings`] (sorted by group, then
    /// binding); each is checked against its minimum size, the device's offset alignment and
    /// range limits. Workgroup counts are checked against `maxComputeWorkGroupCount`.
    pub fn dispatch(
        &mut self,
        kernel: &str,
        bindings: &[BufferSlice<'_>],
        groups: [u32; 3],
    ) -> Result<&mut Self, VulkanError> {
        let ctx = self.ctx;
        let pipeline = ctx
            .pipelines
            .iter()
            .position(|p| p.kernel().name == kernel)
            .ok_or_else(|| VulkanError::InvalidArgument(format!("no kernel named `{kernel}`")))?;
        let info = ctx.pipelines[pipeline].kernel();
        if bindings.len() != info.bindings.len() {
            return Err(VulkanError::InvalidArgument(format!(
                "kernel `{kernel}` has {} bindings, {} given",
                info.bindings.len(),
                bindings.len()
            )));
        }
        let limits = &ctx.limits;
        for (slice, b) in bindings.iter().zip(info.bindings) {
            ctx.check_own(slice)?;
            let (align, max_range) = match b.kind {
                BindingKind::Uniform => {
                    (limits.min_uniform_buffer_offset_alignment, u64::from(limits.max_uniform_buffer_range))
                }
                BindingKind::StorageRead | BindingKind::StorageReadWrite => {
                    (limits.min_storage_buffer_offset_alignment, u64::from(limits.max_storage_buffer_range))
                }
            };
            let at = format!("kernel `{kernel}` @group({}) @binding({})", b.group, b.binding);
            if slice.size < b.min_size || slice.size > max_range {
                return Err(VulkanError::InvalidArgument(format!(
                    "{at}: {} bytes bound, needs {}..={max_range}",
                    slice.size, b.min_size
                )));
            }
            if align > 0 && !slice.offset.is_multiple_of(align) {
                return Err(VulkanError::InvalidArgument(format!(
                    "{at}: offset {} is not a multiple of the device's {align}-byte alignment",
                    slice.offset
                )));
            }
        }
        for (axis, (&n, &max)) in groups.iter().zip(&limits.max_compute_work_group_count).enumerate() {
            if n > max {
                return Err(VulkanError::InvalidArgument(format!(
                    "{n} workgroups along axis {axis}, the device allows {max}"
                )));
            }
        }
        self.push(Cmd::Dispatch {
            pipeline,
            bindings: bindings.iter().map(|s| (Arc::clone(&s.buffer.inner), s.offset, s.size)).collect(),
            groups,
        });
        Ok(self)
    }

    /// Records and submits the batch; returns the timeline value that signals its completion
    /// (wait with [`VulkanContext::wait`]). Values increase by one per submission.
    pub fn submit(self) -> Result<u64, VulkanError> {
        let ctx = self.ctx;
        let device = &ctx.shared.device;
        let completed = ctx.shared.completed()?;
        let mut state = lock(&ctx.state);
        state.retire(device, completed);

        // Exactly the descriptors this batch needs, in one pool freed at retirement.
        let (mut sets, mut uniform, mut storage) = (0u32, 0u32, 0u32);
        for cmd in &self.cmds {
            if let Cmd::Dispatch { pipeline, .. } = cmd {
                let p = &ctx.pipelines[*pipeline];
                sets += p.set_layouts.len() as u32;
                for b in p.kernel().bindings {
                    match descriptor_type(b.kind) {
                        vk::DescriptorType::UNIFORM_BUFFER => uniform += 1,
                        _ => storage += 1,
                    }
                }
            }
        }
        let descriptor_pool = if sets == 0 {
            vk::DescriptorPool::null()
        } else {
            let sizes: Vec<_> = [
                (vk::DescriptorType::UNIFORM_BUFFER, uniform),
                (vk::DescriptorType::STORAGE_BUFFER, storage),
            ]
            .into_iter()
            .filter(|&(_, n)| n > 0)
            .map(|(ty, descriptor_count)| vk::DescriptorPoolSize { ty, descriptor_count })
            .collect();
            let info = vk::DescriptorPoolCreateInfo::default().max_sets(sets).pool_sizes(&sizes);
            // SAFETY: valid device and create info; destroyed by `release`.
            unsafe { device.create_descriptor_pool(&info, None) }.map_err(vk_err("vkCreateDescriptorPool"))?
        };

        let alloc = vk::CommandBufferAllocateInfo::default()
            .command_pool(state.pool)
            .level(vk::CommandBufferLevel::PRIMARY)
            .command_buffer_count(1);
        // SAFETY: the pool is externally synchronised by the state lock held here.
        let cmd = match unsafe { device.allocate_command_buffers(&alloc) } {
            Ok(v) => v[0],
            Err(result) => {
                // SAFETY: the pool was just created and nothing uses it.
                unsafe { device.destroy_descriptor_pool(descriptor_pool, None) };
                return Err(VulkanError::Vk { call: "vkAllocateCommandBuffers", result });
            }
        };

        let value = state.last_value + 1;
        // `retire` left exactly the submissions that have not completed in the list; on an
        // adopted device the application also submits to the queue directly, unseen here.
        let leading = match &self.unordered_with {
            Some(own) if ctx.owns_device() => !state.in_flight.iter().all(|f| own.contains(&f.value)),
            _ => true,
        };
        let recorded = record(ctx, cmd, descriptor_pool, &self.cmds, &self.barrier_before, leading);
        let submitted = recorded.and_then(|()| match &ctx.lanes {
            None => {
                let _queue = lock(&ctx.queue_lock);
                // SAFETY: the queue is externally synchronised by the queue lock held here;
                // `cmd` is fully recorded; the timeline value is greater than every value
                // signalled before (values are assigned under the state lock, in submission
                // order); every resource `cmd` uses is kept alive by the in-flight entry
                // pushed below.
                unsafe { submit_one(device, ctx.queue, cmd, &[], (ctx.shared.timeline, value)) }
            }
            Some(lanes) => {
                let lane = state.next_lane;
                state.next_lane = (lane + 1) % state.lane_values.len();
                let lane_value = state.lane_values[lane] + 1;
                let sems = &ctx.shared.lane_semaphores;
                // Ordered work waits for every other lane's last submission (its own lane is
                // ordered by the leading barrier).
                let waits: Vec<_> = match leading {
                    false => Vec::new(),
                    true => (state.lane_values.iter().enumerate())
                        .filter(|&(i, &v)| i != lane && v > 0)
                        .map(|(i, &v)| (sems[i], v))
                        .collect(),
                };
                let (queue, queue_lock) = &lanes.lanes[lane];
                let on_lane = {
                    let _queue = lock(queue_lock);
                    // SAFETY: as above, for the lane's queue (its own lock) and semaphore
                    // (values increase by one per submission to the lane, under the state
                    // lock); the waits name values already submitted to other lanes.
                    unsafe { submit_one(device, *queue, cmd, &waits, (sems[lane], lane_value)) }
                };
                on_lane.map(|()| {
                    state.lane_values[lane] = lane_value;
                    let joined = {
                        let _join = lock(&lanes.join.1);
                        // SAFETY: the join queue is synchronised by its lock; the submission
                        // has no commands, waits for the lane value just submitted and
                        // signals the next timeline value, in submission order.
                        unsafe {
                            submit_one(
                                device,
                                lanes.join.0,
                                vk::CommandBuffer::null(),
                                &[(sems[lane], lane_value)],
                                (ctx.shared.timeline, value),
                            )
                        }
                    };
                    if joined.is_err() {
                        // The work is on the GPU: the timeline must still reach `value`. Join
                        // on the host instead (after the earlier values, in order). Its own
                        // failure (a lost or exhausted device) is not returned: an error here
                        // would free `cmd` while it runs.
                        let _ = host_join(ctx, value, (sems[lane], lane_value));
                    }
                })
            }
        });
        if let Err(e) = submitted {
            release(device, state.pool, cmd, descriptor_pool);
            return Err(e);
        }

        state.last_value = value;
        let mut buffers = Vec::new();
        let mut images = Vec::new();
        for c in self.cmds {
            match c {
                Cmd::Copy { src, dst, .. } | Cmd::DecompressMemory { src, dst, .. } => {
                    buffers.extend([src, dst])
                }
                Cmd::Dispatch { bindings, .. } => buffers.extend(bindings.into_iter().map(|(b, _, _)| b)),
                Cmd::ImageInit { image } => images.push(image),
                Cmd::CopyToImage { src, dst, .. } => {
                    buffers.push(src);
                    images.push(dst);
                }
                Cmd::CopyFromImage { src, dst, .. } => {
                    images.push(src);
                    buffers.push(dst);
                }
            }
        }
        for b in &buffers {
            b.last_use.fetch_max(value, Ordering::AcqRel);
        }
        state.in_flight.push_back(InFlight {
            value,
            cmd,
            descriptor_pool,
            _buffers: buffers,
            _images: images,
        });
        Ok(value)
    }
}

/// One `vkQueueSubmit` of `cmd` (none when null) that waits for the timeline values `waits`
/// (all commands wait) and signals `signal`.
///
/// # Safety
/// The caller holds `queue`'s lock; `cmd` (when not null) is fully recorded and kept alive
/// until `signal` completes; every semaphore is a timeline semaphore of `device`, each wait
/// value is signalled by work already submitted, and `signal`'s value is greater than every
/// value signalled to that semaphore before.
unsafe fn submit_one(
    device: &ash::Device,
    queue: vk::Queue,
    cmd: vk::CommandBuffer,
    waits: &[(vk::Semaphore, u64)],
    signal: (vk::Semaphore, u64),
) -> Result<(), VulkanError> {
    let cbs = [cmd];
    let wait_sems: Vec<_> = waits.iter().map(|w| w.0).collect();
    let wait_values: Vec<_> = waits.iter().map(|w| w.1).collect();
    let stages = vec![vk::PipelineStageFlags::ALL_COMMANDS; waits.len()];
    let signal_sems = [signal.0];
    let signal_values = [signal.1];
    let mut timeline = vk::TimelineSemaphoreSubmitInfo::default()
        .wait_semaphore_values(&wait_values)
        .signal_semaphore_values(&signal_values);
    let mut submit = vk::SubmitInfo::default()
        .wait_semaphores(&wait_sems)
        .wait_dst_stage_mask(&stages)
        .signal_semaphores(&signal_sems)
        .push_next(&mut timeline);
    if cmd != vk::CommandBuffer::null() {
        submit = submit.command_buffers(&cbs);
    }
    // SAFETY: the caller's contract; every pointer in `submit` outlives the call.
    unsafe { device.queue_submit(queue, &[submit], vk::Fence::null()) }.map_err(vk_err("vkQueueSubmit"))
}

/// After a failed join submission: waits for the timeline's previous value and for the lane's
/// value, then signals `value` on the timeline from the host (so it still advances in order).
fn host_join(ctx: &VulkanContext, value: u64, lane: (vk::Semaphore, u64)) -> Result<(), VulkanError> {
    let device = &ctx.shared.device;
    let sems = [ctx.shared.timeline, lane.0];
    let values = [value - 1, lane.1];
    let info = vk::SemaphoreWaitInfo::default().semaphores(&sems).values(&values);
    // SAFETY: both are timeline semaphores of `device`; the values were submitted.
    unsafe { device.wait_semaphores(&info, u64::MAX) }.map_err(vk_err("vkWaitSemaphores"))?;
    let signal = vk::SemaphoreSignalInfo::default().semaphore(ctx.shared.timeline).value(value);
    // SAFETY: `value` is greater than the timeline's current value (it reached `value - 1`,
    // and nothing else signals `value` or more: its join failed).
    unsafe { device.signal_semaphore(&signal) }.map_err(vk_err("vkSignalSemaphore"))
}

/// Global memory barrier between compute/transfer work and `dst_stage` / `dst_access`.
fn barrier(
    device: &ash::Device,
    cmd: vk::CommandBuffer,
    dst_stage: vk::PipelineStageFlags,
    dst_access: vk::AccessFlags,
) {
    let barrier = [vk::MemoryBarrier::default()
        .src_access_mask(vk::AccessFlags::SHADER_WRITE | vk::AccessFlags::TRANSFER_WRITE)
        .dst_access_mask(dst_access)];
    // SAFETY: `cmd` is in the recording state (callers are inside `record`), externally
    // synchronised by the state lock.
    unsafe {
        device.cmd_pipeline_barrier(
            cmd,
            vk::PipelineStageFlags::COMPUTE_SHADER | vk::PipelineStageFlags::TRANSFER,
            dst_stage,
            vk::DependencyFlags::empty(),
            &barrier,
            &[],
            &[],
        )
    };
}

/// Global memory barrier from every command to every command (around the driver's
/// decompression, which has no stage of its own).
fn full_barrier(device: &ash::Device, cmd: vk::CommandBuffer) {
    let barrier = [vk::MemoryBarrier::default()
        .src_access_mask(vk::AccessFlags::MEMORY_WRITE)
        .dst_access_mask(vk::AccessFlags::MEMORY_READ | vk::AccessFlags::MEMORY_WRITE)];
    // SAFETY: `cmd` is in the recording state (callers are inside `record`), externally
    // synchronised by the state lock.
    unsafe {
        device.cmd_pipeline_barrier(
            cmd,
            vk::PipelineStageFlags::ALL_COMMANDS,
            vk::PipelineStageFlags::ALL_COMMANDS,
            vk::DependencyFlags::empty(),
            &barrier,
            &[],
            &[],
        )
    };
}

/// Records `cmds` into `cmd`, allocating descriptor sets from `descriptor_pool`.
fn record(
    ctx: &VulkanContext,
    cmd: vk::CommandBuffer,
    descriptor_pool: vk::DescriptorPool,
    cmds: &[Cmd],
    barrier_before: &[bool],
    leading: bool,
) -> Result<(), VulkanError> {
    let device = &ctx.shared.device;
    let begin = vk::CommandBufferBeginInfo::default().flags(vk::CommandBufferUsageFlags::ONE_TIME_SUBMIT);
    // SAFETY: `cmd` was just allocated (initial state), synchronised by the state lock.
    unsafe { device.begin_command_buffer(cmd, &begin) }.map_err(vk_err("vkBeginCommandBuffer"))?;
    let gpu_stages = vk::PipelineStageFlags::COMPUTE_SHADER | vk::PipelineStageFlags::TRANSFER;
    let gpu_access = vk::AccessFlags::SHADER_READ
        | vk::AccessFlags::SHADER_WRITE
        | vk::AccessFlags::UNIFORM_READ
        | vk::AccessFlags::TRANSFER_READ
        | vk::AccessFlags::TRANSFER_WRITE;
    for (i, (c, &b)) in cmds.iter().zip(barrier_before).enumerate() {
        // Orders this command after everything before it, in this and earlier submissions
        // (skipped only for commands marked `independent`, and for the first only as
        // `Batch::ordered_only_after` allows).
        if b && (i > 0 || leading) {
            barrier(device, cmd, gpu_stages, gpu_access);
        }
        match c {
            Cmd::Copy { src, dst, region } => {
                // SAFETY: recording state; both buffers are alive (the batch holds them) and
                // the region lies inside both (checked by `Batch::copy`).
                unsafe { device.cmd_copy_buffer(cmd, src.buffer, dst.buffer, &[*region]) };
            }
            Cmd::Dispatch { pipeline, bindings, groups } => {
                let p = &ctx.pipelines[*pipeline];
                let alloc = vk::DescriptorSetAllocateInfo::default()
                    .descriptor_pool(descriptor_pool)
                    .set_layouts(&p.set_layouts);
                // SAFETY: the pool was sized for every set of this batch and is used only here,
                // under the state lock.
                let sets = unsafe { device.allocate_descriptor_sets(&alloc) }
                    .map_err(vk_err("vkAllocateDescriptorSets"))?;
                let infos: Vec<_> = bindings
                    .iter()
                    .map(|(b, offset, range)| {
                        [vk::DescriptorBufferInfo { buffer: b.buffer, offset: *offset, range: *range }]
                    })
                    .collect();
                let writes: Vec<_> = p
                    .kernel()
                    .bindings
                    .iter()
                    .zip(&infos)
                    .map(|(b, info)| {
                        vk::WriteDescriptorSet::default()
                            .dst_set(sets[b.group as usize])
                            .dst_binding(b.binding)
                            .descriptor_type(descriptor_type(b.kind))
                            .buffer_info(info)
                    })
                    .collect();
                // SAFETY: the sets are fresh (not in use); each write matches its layout binding
                // (same reflection) and names a live buffer range validated by `dispatch`.
                unsafe { device.update_descriptor_sets(&writes, &[]) };
                // SAFETY: recording state; the pipeline is alive until the context drops, after
                // this submission completed.
                unsafe { device.cmd_bind_pipeline(cmd, vk::PipelineBindPoint::COMPUTE, p.pipeline) };
                // SAFETY: recording state; the sets match the pipeline layout's set layouts.
                unsafe {
                    device.cmd_bind_descriptor_sets(
                        cmd,
                        vk::PipelineBindPoint::COMPUTE,
                        p.layout,
                        0,
                        &sets,
                        &[],
                    )
                };
                // SAFETY: recording state; pipeline and every set bound above; counts checked
                // against maxComputeWorkGroupCount by `dispatch`.
                unsafe { device.cmd_dispatch(cmd, groups[0], groups[1], groups[2]) };
            }
            Cmd::DecompressMemory { regions, .. } => {
                let ext = ctx.memory_decompression.as_ref().ok_or_else(|| {
                    VulkanError::Internal("a decompression was recorded on a context without it".into())
                })?;
                // The extension names no pipeline stage of its own (VK_EXT_memory_decompression
                // added one later): order it against everything, on both sides.
                full_barrier(device, cmd);
                // SAFETY: recording state; the extension is enabled (its loader exists only
                // then); every region lies inside the two buffers the batch holds, with
                // 4-byte-aligned addresses and the GDeflate method (`Batch::decompress_memory`).
                unsafe { ext.cmd_decompress_memory(cmd, regions) };
                full_barrier(device, cmd);
            }
            Cmd::ImageInit { image } => super::image::record_init(device, cmd, image),
            Cmd::CopyToImage { src, dst, region } => {
                // SAFETY: recording state; the buffer and image are alive (the batch holds
                // them), the image is in GENERAL (initialised at creation, ordered before by
                // the barriers) and the region lies inside both (checked by `copy_to_image`).
                unsafe {
                    device.cmd_copy_buffer_to_image(
                        cmd,
                        src.buffer,
                        dst.image,
                        vk::ImageLayout::GENERAL,
                        &[*region],
                    )
                };
            }
            Cmd::CopyFromImage { src, dst, region } => {
                // SAFETY: as for `CopyToImage`, in the other direction (`copy_from_image`).
                unsafe {
                    device.cmd_copy_image_to_buffer(
                        cmd,
                        src.image,
                        vk::ImageLayout::GENERAL,
                        dst.buffer,
                        &[*region],
                    )
                };
            }
        }
    }
    // Makes the batch's writes visible to host reads after the timeline wait.
    barrier(device, cmd, vk::PipelineStageFlags::HOST, vk::AccessFlags::HOST_READ);
    // SAFETY: recording state, synchronised by the state lock.
    unsafe { device.end_command_buffer(cmd) }.map_err(vk_err("vkEndCommandBuffer"))
}
