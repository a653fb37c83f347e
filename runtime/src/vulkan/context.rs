//! [`VulkanContext`]: one device (created or adopted), its queue, allocator, timeline
//! semaphore, command pool, pipeline cache and kernel pipelines.
//!
//! Ownership: [`DeviceShared`] holds what buffers need too (loader, instance, device,
//! allocator, timeline semaphore) behind an `Arc`, so a [`super::GpuBuffer`] may outlive its
//! context; it destroys the device and instance only when it created them. The context holds
//! the rest and, on drop, waits for the last value it submitted before destroying anything.
//!
//! Queue access is externally synchronised (Vulkan's rule for `vkQueueSubmit`): every
//! submission takes the context's queue lock, which an application sharing its queue
//! supplies at adoption and takes itself around its own submissions.
//!
//! **Lanes.** A created context may submit to several queues of its family (`DSR_VK_QUEUES`,
//! default [`DEFAULT_LANES`]): a submission that needs no ordering against the unfinished
//! ones (`Batch::ordered_only_after`) goes to the next lane, so it can run beside them —
//! within one queue, submissions declared independent did not overlap on the H100, even with
//! the host-visibility barrier that ends every command buffer left out (docs/streaming.md,
//! twelfth session); on four queues they did. Each lane signals a timeline
//! semaphore of its own; a command-less submission on a separate *join* queue waits for it and
//! signals the context's timeline with the submission's value, so that timeline still
//! advances in submission order (signal operation order on one queue) and means what it
//! always meant. A submission that needs ordering waits for every other lane's last value.
//! Adopted contexts use only the application's queue.

use super::error::{VulkanError, vk_err};
use super::pipeline::KernelPipeline;
use super::probe::{self, DeviceInfo, MIN_API};
use super::submit::SubmitState;
use ash::vk;
use gpu_allocator::vulkan::{Allocator, AllocatorCreateDesc};
use gpu_allocator::{AllocationSizes, AllocatorDebugSettings};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// Most queues a created context submits to ([`lanes_wanted`]).
const MAX_LANES: usize = 8;
/// Queues a created context submits its work to unless `DSR_VK_QUEUES` says otherwise (fewer
/// where its family has fewer than `DEFAULT_LANES + 1` queues: one lane where it has one or
/// two). Four lanes, with one pipeline batch in flight on each, measured best end to end on
/// the H100 (1.15x one lane with two batches, the earlier default; docs/streaming.md, twelfth
/// session).
pub const DEFAULT_LANES: usize = 4;

/// `options.submission_queues`, else `DSR_VK_QUEUES`, else [`DEFAULT_LANES`]; at most
/// [`MAX_LANES`]. The flag says whether it was asked for (then lanes share queues where the
/// family has too few; by default there are no more than the family has queues besides the
/// join's).
fn lanes_wanted(options: &ContextOptions) -> (usize, bool) {
    let env = || std::env::var("DSR_VK_QUEUES").ok().and_then(|v| v.trim().parse::<usize>().ok());
    match options.submission_queues.or_else(env) {
        Some(n) => (n.clamp(1, MAX_LANES), true),
        None => (DEFAULT_LANES, false),
    }
}

/// Lanes a created context makes when `lanes` are wanted (`asked` for, or the default) and
/// its family has `queues` queues: asked-for lanes as asked (sharing queues where too few),
/// by default no more than the queues besides the join's.
fn lanes_made(lanes: usize, asked: bool, queues: u32) -> usize {
    if asked { lanes } else { lanes.min((queues as usize).saturating_sub(1)).max(1) }
}

/// A created context's lanes and join queue (module docs). Lane `i` submits to `lanes[i]`
/// (the queue and the lock around its submissions; lane 0 is the context's queue, and lanes
/// share queues, and locks, where the family has too few) and signals
/// `DeviceShared::lane_semaphores[i]`.
pub(crate) struct Lanes {
    pub(crate) lanes: Vec<(vk::Queue, Arc<Mutex<()>>)>,
    /// The queue whose command-less submissions signal the context's timeline.
    pub(crate) join: (vk::Queue, Arc<Mutex<()>>),
}

/// Optional device features, as supported by a device ([`DeviceInfo::features`]) or enabled on
/// a context ([`VulkanContext::features`]). Timeline semaphores are required; the rest is
/// enabled when present, for kernels to come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DeviceFeatures {
    /// `timelineSemaphore` (Vulkan 1.2), required.
    pub timeline_semaphore: bool,
    /// `shaderInt8` (Vulkan 1.2).
    pub shader_int8: bool,
    /// `storageBuffer8BitAccess` (Vulkan 1.2).
    pub storage_buffer_8bit_access: bool,
    /// `uniformAndStorageBuffer8BitAccess` (Vulkan 1.2).
    pub uniform_and_storage_buffer_8bit_access: bool,
    /// `storageBuffer16BitAccess` (Vulkan 1.1).
    pub storage_buffer_16bit_access: bool,
    /// `subgroupSizeControl` (Vulkan 1.3).
    pub subgroup_size_control: bool,
    /// `computeFullSubgroups` (Vulkan 1.3).
    pub compute_full_subgroups: bool,
    /// `bufferDeviceAddress` (Vulkan 1.2): needed by the driver's decompression method, which
    /// takes device addresses.
    pub buffer_device_address: bool,
    /// `memoryDecompression` of `VK_NV_memory_decompression` (with its extension enabled): the
    /// driver's GDeflate decompression, a second decode method (`vulkan::decode`).
    pub memory_decompression: bool,
}

impl DeviceFeatures {
    /// Whether every feature set in `self` is also set in `other`.
    pub fn is_subset_of(&self, other: &Self) -> bool {
        let a = self.as_array();
        let b = other.as_array();
        a.iter().zip(b).all(|(&x, y)| !x || y)
    }

    fn as_array(&self) -> [bool; 9] {
        [
            self.timeline_semaphore,
            self.shader_int8,
            self.storage_buffer_8bit_access,
            self.uniform_and_storage_buffer_8bit_access,
            self.storage_buffer_16bit_access,
            self.subgroup_size_control,
            self.compute_full_subgroups,
            self.buffer_device_address,
            self.memory_decompression,
        ]
    }
}

/// How [`VulkanContext::new`] chooses its device.
#[derive(Debug, Clone, Default)]
pub struct ContextOptions {
    /// Use the physical device at this index of [`super::probe`]'s list instead of the
    /// preferred one ([`super::pick_device`]).
    pub device_index: Option<usize>,
    /// Queues to submit to (lanes, module docs; 1..=8); `None`: `DSR_VK_QUEUES`, else
    /// [`DEFAULT_LANES`] (at most one fewer than the family has queues: each lane and the join
    /// get their own).
    /// Where the family has fewer queues than lanes + 1, lanes asked for share them (the
    /// semaphores work the same; only the overlap is lost).
    pub submission_queues: Option<usize>,
}

/// Raw handles of an application's Vulkan objects, for [`VulkanContext::adopt`].
#[derive(Debug, Clone, Copy)]
pub struct AdoptDesc {
    /// The application's instance (created with `apiVersion` 1.2 or higher).
    pub instance: vk::Instance,
    /// The physical device `device` was created from.
    pub physical_device: vk::PhysicalDevice,
    /// The application's device.
    pub device: vk::Device,
    /// Queue family of the queue to submit to; must support compute.
    pub queue_family_index: u32,
    /// Index of that queue within its family.
    pub queue_index: u32,
    /// The features the application enabled on `device` (at least `timeline_semaphore`).
    /// `memory_decompression` also declares that `VK_NV_memory_decompression` is enabled;
    /// with `buffer_device_address` it makes the driver's decode method available.
    pub enabled_features: DeviceFeatures,
    /// The application's `vkGetInstanceProcAddr`; `None` uses the system loader's
    /// (`libvulkan.so.1`), right when the application uses that loader too.
    pub get_instance_proc_addr: Option<vk::PFN_vkGetInstanceProcAddr>,
}

/// Locks `m`, ignoring poisoning: the data behind these mutexes is handles and counters that a
/// panic elsewhere cannot leave half-updated in a way that matters more than the panic.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What buffers and the context share; the last `Arc` to go destroys it.
pub(crate) struct DeviceShared {
    /// Keeps the loader library (and so every function pointer below) alive.
    _entry: ash::Entry,
    pub(crate) instance: ash::Instance,
    pub(crate) device: ash::Device,
    /// `None` only while the context is being built.
    pub(crate) allocator: Mutex<Option<Allocator>>,
    /// Signalled with each submission's value; null only while the context is being built.
    pub(crate) timeline: vk::Semaphore,
    /// One timeline semaphore per lane when the context has lanes (module docs), else empty.
    pub(crate) lane_semaphores: Vec<vk::Semaphore>,
    /// Whether `device` and `instance` were created here (and are destroyed here).
    owned: bool,
}

impl DeviceShared {
    /// The timeline semaphore's current value.
    pub(crate) fn completed(&self) -> Result<u64, VulkanError> {
        // SAFETY: `timeline` is a timeline semaphore of `device`, alive as long as `self`.
        unsafe { self.device.get_semaphore_counter_value(self.timeline) }
            .map_err(vk_err("vkGetSemaphoreCounterValue"))
    }

    /// Waits until the timeline reaches `value` or `timeout` passes.
    pub(crate) fn wait_value(&self, value: u64, timeout: Duration) -> Result<(), VulkanError> {
        let semaphores = [self.timeline];
        let values = [value];
        let info = vk::SemaphoreWaitInfo::default().semaphores(&semaphores).values(&values);
        let nanos = u64::try_from(timeout.as_nanos()).unwrap_or(u64::MAX);
        // SAFETY: `timeline` is a timeline semaphore of `device`; `info` points at locals that
        // outlive the call. Waiting needs no external synchronisation.
        match unsafe { self.device.wait_semaphores(&info, nanos) } {
            Ok(()) => Ok(()),
            Err(vk::Result::TIMEOUT) => Err(VulkanError::Timeout { value, completed: self.completed()? }),
            Err(result) => Err(VulkanError::Vk { call: "vkWaitSemaphores", result }),
        }
    }
}

impl Drop for DeviceShared {
    fn drop(&mut self) {
        // Every buffer (each holds an `Arc` of this) and the context (which waited for its last
        // submission) are gone, so nothing below is in use by the GPU.
        // SAFETY: the semaphore (or null, which is allowed) belongs to `device`; no pending
        // submission signals it any more (see above).
        unsafe { self.device.destroy_semaphore(self.timeline, None) };
        for &s in &self.lane_semaphores {
            // SAFETY: as for the timeline: the lanes' submissions all completed.
            unsafe { self.device.destroy_semaphore(s, None) };
        }
        // Frees gpu-allocator's memory blocks; must precede vkDestroyDevice.
        drop(lock(&self.allocator).take());
        if self.owned {
            // SAFETY: the device was created by `VulkanContext::new` and every object created
            // on it has been destroyed above or by the context's drop.
            unsafe { self.device.destroy_device(None) };
            // SAFETY: the instance was created by `VulkanContext::new`; its only device was
            // just destroyed.
            unsafe { self.instance.destroy_instance(None) };
        }
    }
}

/// A Vulkan device ready to run ds-runtime's kernels. See the [module docs](super).
pub struct VulkanContext {
    pub(crate) shared: Arc<DeviceShared>,
    pub(crate) info: DeviceInfo,
    features: DeviceFeatures,
    pub(crate) limits: vk::PhysicalDeviceLimits,
    pub(crate) queue: vk::Queue,
    queue_family_index: u32,
    pub(crate) queue_lock: Arc<Mutex<()>>,
    /// More submission queues (module docs); `None`: everything goes to `queue`.
    pub(crate) lanes: Option<Lanes>,
    pub(crate) state: Mutex<SubmitState>,
    pipeline_cache: vk::PipelineCache,
    pub(crate) pipelines: Vec<KernelPipeline>,
    /// `minImportedHostPointerAlignment` when `VK_EXT_external_memory_host` is enabled (created
    /// devices that have it), else 0: see `host_import.rs`.
    pub(crate) host_import_alignment: u64,
    /// `VK_NV_memory_decompression`'s commands, when the context enabled it (features
    /// `memory_decompression` and `buffer_device_address`): the driver decode method.
    pub(crate) memory_decompression: Option<ash::nv::memory_decompression::Device>,
    /// The decode method [`Self::decode_kernel`] chose, once asked (`vulkan::decode`).
    pub(crate) decode_choice: std::sync::OnceLock<super::DecodeChoice>,
}

impl std::fmt::Debug for VulkanContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VulkanContext")
            .field("device", &self.info.name)
            .field("owned", &self.shared.owned)
            .field("features", &self.features)
            .field("queue_family_index", &self.queue_family_index)
            .field("pipelines", &self.pipelines.len())
            .finish_non_exhaustive()
    }
}

impl VulkanContext {
    /// Creates an instance and a device: the device of `options.device_index`, or the
    /// preferred usable one (discrete > integrated > virtual > cpu), with one compute queue,
    /// timeline semaphores, and the optional [`DeviceFeatures`] it supports.
    ///
    /// Errors: [`VulkanError::Unsupported`] without a Vulkan 1.2 loader,
    /// [`VulkanError::NoDevice`] without a usable device.
    pub fn new(options: &ContextOptions) -> Result<Self, VulkanError> {
        let entry = probe::load_entry()?;
        let instance = probe::create_instance(&entry)?;
        let (lanes, asked) = lanes_wanted(options);
        match create_device(&instance, options, lanes) {
            Ok((pd, device, info, features, family, queues)) => {
                let shared = DeviceShared {
                    _entry: entry,
                    instance,
                    device,
                    allocator: Mutex::new(None),
                    timeline: vk::Semaphore::null(),
                    lane_semaphores: Vec::new(),
                    owned: true,
                };
                let lock = Arc::new(Mutex::new(()));
                let host_import = info.ext_external_memory_host;
                let mut ctx = Self::finish(shared, pd, info, features, family, 0, lock)?;
                let lanes = lanes_made(lanes, asked, queues);
                if lanes > 1 {
                    ctx.add_lanes(lanes, queues)?;
                }
                if host_import {
                    // Enabled by `create_device`; the streaming pipeline imports its ring.
                    ctx.host_import_alignment = super::host_import::alignment(&ctx.shared.instance, pd);
                }
                Ok(ctx)
            }
            Err(e) => {
                // SAFETY: created above; nothing was created from it (device creation failed
                // or was not attempted).
                unsafe { instance.destroy_instance(None) };
                Err(e)
            }
        }
    }

    /// Wraps an application's instance, device and queue. The application keeps ownership:
    /// dropping the context (and its buffers) destroys only what the context created on the
    /// device (allocations, semaphore, pipelines, pools), never the device or instance.
    /// Submissions take `queue_lock`; the application must hold the same lock around its own
    /// use of that queue.
    ///
    /// Checked here: the physical device belongs to the instance, supports Vulkan 1.2 and
    /// timeline semaphores, the queue family supports compute, the queue index exists, and
    /// `enabled_features` (which must include timeline semaphores) are supported.
    ///
    /// # Safety
    ///
    /// - The handles are valid, `device` was created from `physical_device` of `instance`
    ///   with at least `desc.enabled_features` enabled and a queue at
    ///   `(queue_family_index, queue_index)`; `instance` was created with `apiVersion` ≥ 1.2.
    /// - `desc.get_instance_proc_addr` (or the system loader's, when `None`) is the loader
    ///   function the instance was created through.
    /// - The instance and device outlive the context **and** every [`super::GpuBuffer`] made
    ///   from it.
    /// - Every other use of the queue by the application is done while holding `queue_lock`.
    pub unsafe fn adopt(desc: &AdoptDesc, queue_lock: Arc<Mutex<()>>) -> Result<Self, VulkanError> {
        let entry = match desc.get_instance_proc_addr {
            Some(get_instance_proc_addr) => {
                // SAFETY: the caller guarantees this is the loader's vkGetInstanceProcAddr.
                unsafe { ash::Entry::from_static_fn(ash::StaticFn { get_instance_proc_addr }) }
            }
            None => probe::load_entry()?,
        };
        // SAFETY: the caller guarantees `desc.instance` is a valid instance created through
        // `entry`'s vkGetInstanceProcAddr.
        let instance = unsafe { ash::Instance::load(entry.static_fn(), desc.instance) };
        // SAFETY: `instance` is valid (caller's contract).
        let physical =
            unsafe { instance.enumerate_physical_devices() }.map_err(vk_err("vkEnumeratePhysicalDevices"))?;
        let index = physical.iter().position(|&p| p == desc.physical_device).ok_or_else(|| {
            VulkanError::InvalidArgument("the physical device does not belong to the instance".into())
        })?;
        let info = probe::query_device(&instance, desc.physical_device, index)?;
        if let Some(why) = info.unusable_reason() {
            return Err(VulkanError::Unsupported { what: "the adopted device", why });
        }
        if !desc.enabled_features.timeline_semaphore {
            return Err(VulkanError::Unsupported {
                what: "the adopted device",
                why: "timeline semaphores must be enabled on it".into(),
            });
        }
        if !desc.enabled_features.is_subset_of(&info.features) {
            return Err(VulkanError::InvalidArgument(format!(
                "enabled_features {:?} include features the device does not support ({:?})",
                desc.enabled_features, info.features
            )));
        }
        // SAFETY: `physical_device` belongs to `instance` (checked above).
        let families = unsafe { instance.get_physical_device_queue_family_properties(desc.physical_device) };
        let family = families.get(desc.queue_family_index as usize).ok_or_else(|| {
            VulkanError::InvalidArgument(format!("no queue family {}", desc.queue_family_index))
        })?;
        if !family.queue_flags.contains(vk::QueueFlags::COMPUTE) || desc.queue_index >= family.queue_count {
            return Err(VulkanError::InvalidArgument(format!(
                "queue {} of family {} does not exist or does not support compute",
                desc.queue_index, desc.queue_family_index
            )));
        }
        // SAFETY: `desc.device` is a valid device of `instance` (caller's contract).
        let device = unsafe { ash::Device::load(instance.fp_v1_0(), desc.device) };
        let shared = DeviceShared {
            _entry: entry,
            instance,
            device,
            allocator: Mutex::new(None),
            timeline: vk::Semaphore::null(),
            lane_semaphores: Vec::new(),
            owned: false,
        };
        Self::finish(
            shared,
            desc.physical_device,
            info,
            desc.enabled_features,
            desc.queue_family_index,
            desc.queue_index,
            queue_lock,
        )
    }

    /// Common tail of `new` and `adopt`: allocator, semaphore, queue, pool, pipelines. On
    /// error everything made so far is destroyed by the drops of `shared` and the context.
    fn finish(
        mut shared: DeviceShared,
        physical_device: vk::PhysicalDevice,
        info: DeviceInfo,
        features: DeviceFeatures,
        queue_family_index: u32,
        queue_index: u32,
        queue_lock: Arc<Mutex<()>>,
    ) -> Result<Self, VulkanError> {
        let allocator = Allocator::new(&AllocatorCreateDesc {
            instance: shared.instance.clone(),
            device: shared.device.clone(),
            physical_device,
            debug_settings: AllocatorDebugSettings::default(),
            // Device addresses only where the driver's decompression takes them.
            buffer_device_address: features.buffer_device_address,
            allocation_sizes: AllocationSizes::default(),
        })?;
        *lock(&shared.allocator) = Some(allocator);

        // Destroyed by `DeviceShared`.
        shared.timeline = create_timeline(&shared.device)?;

        // SAFETY: the queue exists (created by `create_device`, or checked by `adopt`).
        let queue = unsafe { shared.device.get_device_queue(queue_family_index, queue_index) };
        // SAFETY: `physical_device` belongs to the instance.
        let limits = unsafe { shared.instance.get_physical_device_properties(physical_device) }.limits;

        let mut ctx = Self {
            shared: Arc::new(shared),
            info,
            features,
            limits,
            queue,
            queue_family_index,
            queue_lock,
            lanes: None,
            state: Mutex::new(SubmitState {
                pool: vk::CommandPool::null(),
                in_flight: VecDeque::new(),
                last_value: 0,
                lane_values: Vec::new(),
                next_lane: 0,
            }),
            pipeline_cache: vk::PipelineCache::null(),
            pipelines: Vec::new(),
            host_import_alignment: 0,
            memory_decompression: None,
            decode_choice: std::sync::OnceLock::new(),
        };
        if features.memory_decompression && features.buffer_device_address {
            ctx.memory_decompression =
                Some(ash::nv::memory_decompression::Device::new(&ctx.shared.instance, &ctx.shared.device));
        }
        let device = &ctx.shared.device;

        let pool_info = vk::CommandPoolCreateInfo::default()
            .flags(vk::CommandPoolCreateFlags::TRANSIENT)
            .queue_family_index(queue_family_index);
        // SAFETY: valid device and family; destroyed in `Drop for VulkanContext`.
        let pool =
            unsafe { device.create_command_pool(&pool_info, None) }.map_err(vk_err("vkCreateCommandPool"))?;
        lock(&ctx.state).pool = pool;

        // SAFETY: valid device, empty initial data; destroyed in `Drop for VulkanContext`.
        ctx.pipeline_cache =
            unsafe { device.create_pipeline_cache(&vk::PipelineCacheCreateInfo::default(), None) }
                .map_err(vk_err("vkCreatePipelineCache"))?;

        let mut pipelines = Vec::with_capacity(dsr_kernels::KERNELS.len());
        // Kernels the device cannot run (a subgroup variant on a device with another subgroup
        // size, a byte-store kernel without 8-bit storage enabled) get no pipeline; their base
        // kernel stands in (`decode_kernel`).
        let runs = |k: &&&dsr_kernels::KernelInfo| {
            ctx.info.runs_kernel(k) && (!k.storage_8bit || ctx.features.storage_buffer_8bit_access)
        };
        for kernel in dsr_kernels::KERNELS.iter().filter(runs) {
            match KernelPipeline::new(device, ctx.pipeline_cache, kernel) {
                Ok(p) => pipelines.push(p),
                Err(e) => {
                    for p in &pipelines {
                        p.destroy(device);
                    }
                    return Err(e);
                }
            }
        }
        ctx.pipelines = pipelines;
        Ok(ctx)
    }

    /// Sets up `lanes` lanes and the join queue over the `created` queues of the family
    /// (`created` = lanes + 1 where the family has them: each lane its own queue, the join the
    /// last; else lane `i` on queue `i % created`, the join on the last), each lane with a
    /// timeline semaphore.
    fn add_lanes(&mut self, lanes: usize, created: u32) -> Result<(), VulkanError> {
        let device = &self.shared.device;
        let mut semaphores = Vec::with_capacity(lanes);
        for _ in 0..lanes {
            match create_timeline(device) {
                Ok(s) => semaphores.push(s),
                Err(e) => {
                    for s in semaphores {
                        // SAFETY: created just above, never used.
                        unsafe { device.destroy_semaphore(s, None) };
                    }
                    return Err(e);
                }
            }
        }
        let mut queues = vec![(self.queue, Arc::clone(&self.queue_lock))];
        for i in 1..created {
            // SAFETY: `create_device` created `created` queues in the family.
            let queue = unsafe { device.get_device_queue(self.queue_family_index, i) };
            queues.push((queue, Arc::new(Mutex::new(()))));
        }
        let lanes_q = (0..lanes).map(|i| queues[i % queues.len()].clone()).collect();
        let join = queues[queues.len() - 1].clone();
        // The context is not shared yet (`new` returns it after this): no submission can race.
        let shared = Arc::get_mut(&mut self.shared)
            .ok_or_else(|| VulkanError::Internal("lanes added to a shared context".into()))?;
        shared.lane_semaphores = semaphores;
        self.lanes = Some(Lanes { lanes: lanes_q, join });
        lock(&self.state).lane_values = vec![0; lanes];
        Ok(())
    }

    /// Number of queues work is submitted to (lanes; 1 without them, and for adopted
    /// devices).
    pub fn submission_queues(&self) -> usize {
        self.shared.lane_semaphores.len().max(1)
    }

    /// The device's properties, as [`super::probe`] reports them.
    pub fn device_info(&self) -> &DeviceInfo {
        &self.info
    }

    /// The optional features enabled on the device (for an adopted device: as declared in
    /// [`AdoptDesc::enabled_features`]).
    pub fn features(&self) -> &DeviceFeatures {
        &self.features
    }

    /// Whether the context created its device (`false`: adopted).
    pub fn owns_device(&self) -> bool {
        self.shared.owned
    }

    /// The queue family submissions go to.
    pub fn queue_family_index(&self) -> u32 {
        self.queue_family_index
    }

    /// The lock taken around every submission to the queue.
    pub fn queue_lock(&self) -> &Arc<Mutex<()>> {
        &self.queue_lock
    }

    /// The ash device, for applications recording their own work against the context's
    /// buffers.
    pub fn device(&self) -> &ash::Device {
        &self.shared.device
    }

    /// One pipeline per kernel of [`dsr_kernels::KERNELS`] that the device runs
    /// ([`DeviceInfo::runs_kernel`]), in the same order.
    pub fn pipelines(&self) -> &[KernelPipeline] {
        &self.pipelines
    }

    /// The pipeline of the kernel named `name`.
    pub fn pipeline(&self, name: &str) -> Option<&KernelPipeline> {
        self.pipelines.iter().find(|p| p.kernel().name == name)
    }

    /// The pipeline cache's contents (`vkGetPipelineCacheData`), e.g. to persist them.
    pub fn pipeline_cache_data(&self) -> Result<Vec<u8>, VulkanError> {
        // SAFETY: the cache belongs to the device; reading it needs no external sync.
        unsafe { self.shared.device.get_pipeline_cache_data(self.pipeline_cache) }
            .map_err(vk_err("vkGetPipelineCacheData"))
    }

    /// The timeline value of the most recent submission (0 before the first).
    pub fn last_submitted(&self) -> u64 {
        lock(&self.state).last_value
    }

    /// The timeline value the GPU has completed.
    pub fn completed(&self) -> Result<u64, VulkanError> {
        self.shared.completed()
    }

    /// Waits until the submission of timeline value `value` (and every earlier one) has
    /// completed, for at most `timeout` (`Duration::MAX`: no limit), then releases the
    /// resources of completed submissions.
    ///
    /// Errors: [`VulkanError::Timeout`]; [`VulkanError::InvalidArgument`] for a value never
    /// submitted (the wait could never end).
    pub fn wait(&self, value: u64, timeout: Duration) -> Result<(), VulkanError> {
        let last = self.last_submitted();
        if value > last {
            return Err(VulkanError::InvalidArgument(format!(
                "timeline value {value} was never submitted (last submitted: {last})"
            )));
        }
        self.shared.wait_value(value, timeout)?;
        let completed = self.shared.completed()?;
        lock(&self.state).retire(&self.shared.device, completed);
        Ok(())
    }
}

/// A timeline semaphore at 0 on `device` (which has timeline semaphores enabled: required of
/// every context); the caller destroys it.
fn create_timeline(device: &ash::Device) -> Result<vk::Semaphore, VulkanError> {
    let mut timeline_info =
        vk::SemaphoreTypeCreateInfo::default().semaphore_type(vk::SemaphoreType::TIMELINE).initial_value(0);
    let create = vk::SemaphoreCreateInfo::default().push_next(&mut timeline_info);
    // SAFETY: `device` is valid with timeline semaphores enabled; `create` outlives the call.
    unsafe { device.create_semaphore(&create, None) }.map_err(vk_err("vkCreateSemaphore"))
}

/// Chooses the physical device and creates the logical device with its compute queues (one,
/// or up to `lanes` + 1 as the family allows, where more than one lane is wanted).
fn create_device(
    instance: &ash::Instance,
    options: &ContextOptions,
    lanes: usize,
) -> Result<(vk::PhysicalDevice, ash::Device, DeviceInfo, DeviceFeatures, u32, u32), VulkanError> {
    // SAFETY: `instance` is valid.
    let physical =
        unsafe { instance.enumerate_physical_devices() }.map_err(vk_err("vkEnumeratePhysicalDevices"))?;
    let infos = physical
        .iter()
        .enumerate()
        .map(|(i, &pd)| probe::query_device(instance, pd, i))
        .collect::<Result<Vec<_>, _>>()?;
    let info = match options.device_index {
        Some(i) => {
            let info = infos.get(i).ok_or_else(|| VulkanError::NoDevice {
                why: format!("device index {i} requested, {} device(s) present", infos.len()),
            })?;
            if let Some(why) = info.unusable_reason() {
                return Err(VulkanError::NoDevice { why: format!("device {i} ({}): {why}", info.name) });
            }
            info
        }
        None => probe::pick_device(&infos).ok_or_else(|| VulkanError::NoDevice {
            why: if infos.is_empty() {
                "the Vulkan loader lists no physical devices".into()
            } else {
                let each: Vec<_> = infos
                    .iter()
                    .map(|d| format!("{}: {}", d.name, d.unusable_reason().unwrap_or_default()))
                    .collect();
                format!("none qualifies ({})", each.join("; "))
            },
        })?,
    };
    let pd = physical[info.index];

    // SAFETY: `pd` was enumerated from `instance`.
    let families = unsafe { instance.get_physical_device_queue_family_properties(pd) };
    // A compute family without graphics is the dedicated (async) compute queue: prefer it.
    let is_compute = |q: &vk::QueueFamilyProperties| q.queue_flags.contains(vk::QueueFlags::COMPUTE);
    let family = families
        .iter()
        .position(|q| is_compute(q) && !q.queue_flags.contains(vk::QueueFlags::GRAPHICS))
        .or_else(|| families.iter().position(is_compute))
        .ok_or_else(|| VulkanError::NoDevice { why: format!("{}: no compute queue", info.name) })?;
    // Lanes (module docs) need their queues and one more for the join, else one queue.
    let queues = if lanes > 1 { families[family].queue_count.min(lanes as u32 + 1) } else { 1 };
    let family =
        u32::try_from(family).map_err(|_| VulkanError::NoDevice { why: "queue family index".into() })?;

    // Enable exactly what is supported of the optional features; timeline is required. The
    // driver's decompression (and the device addresses it takes) only where it does GDeflate.
    let mut f = info.features;
    f.memory_decompression &= info.gdeflate_memory_decompression;
    f.buffer_device_address &= info.gdeflate_memory_decompression;
    debug_assert!(f.timeline_semaphore && info.api_version.0 >= MIN_API);
    let mut v11 = vk::PhysicalDeviceVulkan11Features::default()
        .storage_buffer16_bit_access(f.storage_buffer_16bit_access);
    let mut v12 = vk::PhysicalDeviceVulkan12Features::default()
        .timeline_semaphore(true)
        .shader_int8(f.shader_int8)
        .storage_buffer8_bit_access(f.storage_buffer_8bit_access)
        .uniform_and_storage_buffer8_bit_access(f.uniform_and_storage_buffer_8bit_access)
        .buffer_device_address(f.buffer_device_address);
    let mut v13 = vk::PhysicalDeviceVulkan13Features::default()
        .subgroup_size_control(f.subgroup_size_control)
        .compute_full_subgroups(f.compute_full_subgroups);
    let priorities = vec![1.0f32; queues as usize];
    let queue_info =
        [vk::DeviceQueueCreateInfo::default().queue_family_index(family).queue_priorities(&priorities)];
    let mut create = vk::DeviceCreateInfo::default()
        .queue_create_infos(&queue_info)
        .push_next(&mut v11)
        .push_next(&mut v12);
    // `supported_features` reports 1.3 features only for 1.3 devices, so chaining is valid.
    if f.subgroup_size_control || f.compute_full_subgroups {
        create = create.push_next(&mut v13);
    }
    let mut decompression =
        vk::PhysicalDeviceMemoryDecompressionFeaturesNV::default().memory_decompression(true);
    if f.memory_decompression {
        create = create.push_next(&mut decompression);
    }
    // VK_EXT_external_memory_host where present: the streaming pipeline imports its staging
    // ring so the GPU reads the memory the I/O engine writes (host_import.rs).
    // VK_NV_memory_decompression where it does GDeflate: the second decode method.
    let mut extensions = Vec::new();
    if info.ext_external_memory_host {
        extensions.push(ash::ext::external_memory_host::NAME.as_ptr());
    }
    if f.memory_decompression {
        extensions.push(ash::nv::memory_decompression::NAME.as_ptr());
    }
    create = create.enabled_extension_names(&extensions);
    // SAFETY: `pd` belongs to `instance`; every enabled feature and extension is supported
    // (queried above); the chained structs are core in the device's version; pointers outlive
    // the call. The device is handed to `DeviceShared`, whose drop destroys it (nothing here
    // fails after this).
    let device = unsafe { instance.create_device(pd, &create, None) }.map_err(vk_err("vkCreateDevice"))?;
    Ok((pd, device, info.clone(), f, family, queues))
}

impl Drop for VulkanContext {
    fn drop(&mut self) {
        let device = &self.shared.device;
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        if state.last_value > 0 {
            match self.shared.wait_value(state.last_value, Duration::MAX) {
                // After device loss every submission counts as complete (Vulkan spec, "Lost
                // Device"), so destroying is allowed.
                Ok(()) | Err(VulkanError::Vk { result: vk::Result::ERROR_DEVICE_LOST, .. }) => {}
                Err(_) => {
                    // Work may still be running: leak everything rather than destroy objects
                    // in use. The leaked in-flight list keeps `DeviceShared` alive too.
                    std::mem::forget(std::mem::take(&mut state.in_flight));
                    std::mem::forget(Arc::clone(&self.shared));
                    return;
                }
            }
        }
        if let Some(lanes) = &self.lanes {
            // The timeline reached the last value, yet a lane's queue may still be finishing
            // that submission (lavapipe's queue threads were seen touching freed objects):
            // idle every queue before anything is destroyed.
            for (queue, queue_lock) in lanes.lanes.iter().chain([&lanes.join]) {
                let _queue = lock(queue_lock);
                // SAFETY: the queue is externally synchronised by its lock, held here.
                let _ = unsafe { device.queue_wait_idle(*queue) };
            }
        }
        state.retire(device, u64::MAX);
        // SAFETY: all command buffers from the pool completed (waited above) and were freed.
        unsafe { device.destroy_command_pool(state.pool, None) };
        for p in &self.pipelines {
            p.destroy(device);
        }
        // SAFETY: no pipeline creation is in progress (`&mut self`); null is allowed.
        unsafe { device.destroy_pipeline_cache(self.pipeline_cache, None) };
    }
}

#[cfg(test)]
mod tests {
    use super::{DEFAULT_LANES, lanes_made};

    #[test]
    fn default_lanes_leave_the_join_a_queue_and_asked_lanes_are_kept() {
        assert_eq!(lanes_made(DEFAULT_LANES, false, 16), DEFAULT_LANES);
        assert_eq!(lanes_made(DEFAULT_LANES, false, 3), 2);
        // lavapipe's one queue, and a family of two: one lane, no join queue of its own.
        assert_eq!(lanes_made(DEFAULT_LANES, false, 1), 1);
        assert_eq!(lanes_made(DEFAULT_LANES, false, 2), 1);
        assert_eq!(lanes_made(3, true, 1), 3);
    }
}
