//! `dsr_runtime`: a [`dsr_core::stream::Runtime`] (scheduler, I/O engine, staging ring, CPU
//! workers, optionally a Vulkan device created or adopted), the capability query, and the
//! runtime's description for C.
//!
//! Invariant: a runtime lives until its handle is destroyed **and** every queue, buffer and
//! image made from it is destroyed (they hold a reference), so no object outlives what it
//! needs. Destroying it shuts the pipeline down (unfinished requests are cancelled) only
//! once the last of them is gone.

use crate::{
    DSR_ABI_VERSION_MAJOR, DSR_ABI_VERSION_MINOR, Fail, dsr_result, fill_c_array, guard, handles, read_in,
    write_out,
};
use dsr_core::Backend;
use dsr_core::stream::{IoKind, Runtime, RuntimeConfig, StagingKind};
use dsr_core::vulkan::{AdoptDesc, DeviceFeatures, VulkanContext};
use std::ffi::{c_char, c_void};
use std::sync::{Arc, Mutex};

/// The streaming runtime (opaque handle).
pub struct dsr_runtime {
    _private: [u8; 0],
}

pub(crate) struct CRuntime {
    pub(crate) rt: Runtime,
}

impl CRuntime {
    /// The Vulkan context GPU objects are made on, or `UNSUPPORTED`.
    pub(crate) fn vulkan(&self) -> Result<&Arc<VulkanContext>, Fail> {
        self.rt.vulkan_context().ok_or_else(|| {
            Fail::new(
                crate::DSR_RESULT_UNSUPPORTED,
                "this runtime has no Vulkan device (backend cpu, or auto without a hardware GPU); \
                 create it with DSR_BACKEND_VULKAN",
            )
        })
    }
}

/// Which engine executes requests (`dsr_runtime_desc::backend`).
pub type dsr_backend = u32;
/// Vulkan on a hardware GPU if there is one, else the CPU (software Vulkan is not picked).
pub const DSR_BACKEND_AUTO: dsr_backend = 0;
/// CPU only: host (memory) destinations; no Vulkan objects.
pub const DSR_BACKEND_CPU: dsr_backend = 1;
/// Vulkan (software devices such as lavapipe included): host, buffer and image destinations,
/// GDeflate decoded by the GPU kernel. Required with `dsr_runtime_desc::adopt`.
pub const DSR_BACKEND_VULKAN: dsr_backend = 2;

/// The I/O engine (`dsr_runtime_desc::io`, `dsr_runtime_info::io`).
pub type dsr_io = u32;
/// io_uring where the kernel allows it, else the pread pool (or `DSR_IO` from the
/// environment when set).
pub const DSR_IO_AUTO: dsr_io = 0;
/// io_uring, or `DSR_RESULT_UNSUPPORTED` at creation without it.
pub const DSR_IO_URING: dsr_io = 1;
/// A pool of threads calling `pread`.
pub const DSR_IO_PREAD: dsr_io = 2;

/// `dsr_runtime_desc::flags`: do not use O_DIRECT (default: used where the file allows it).
pub const DSR_RUNTIME_NO_DIRECT_IO: u32 = 1;
/// `dsr_runtime_desc::flags`: do not register the staging ring as io_uring fixed buffers.
pub const DSR_RUNTIME_NO_REGISTER_BUFFERS: u32 = 2;
/// `dsr_runtime_desc::flags`: do not import the staging ring into Vulkan with
/// `VK_EXT_external_memory_host` (use mapped Vulkan memory instead).
pub const DSR_RUNTIME_NO_HOST_IMPORT: u32 = 4;
const RUNTIME_FLAGS: u32 =
    DSR_RUNTIME_NO_DIRECT_IO | DSR_RUNTIME_NO_REGISTER_BUFFERS | DSR_RUNTIME_NO_HOST_IMPORT;

/// `dsr_vk_adopt_desc::enabled_features` bits: the optional device features the application
/// enabled on its device. `DSR_VK_FEATURE_TIMELINE_SEMAPHORE` is required.
pub const DSR_VK_FEATURE_TIMELINE_SEMAPHORE: u32 = 1;
/// `shaderInt8`.
pub const DSR_VK_FEATURE_SHADER_INT8: u32 = 2;
/// `storageBuffer8BitAccess`.
pub const DSR_VK_FEATURE_STORAGE_BUFFER_8BIT: u32 = 4;
/// `uniformAndStorageBuffer8BitAccess`.
pub const DSR_VK_FEATURE_UNIFORM_AND_STORAGE_BUFFER_8BIT: u32 = 8;
/// `storageBuffer16BitAccess`.
pub const DSR_VK_FEATURE_STORAGE_BUFFER_16BIT: u32 = 16;
/// `subgroupSizeControl`.
pub const DSR_VK_FEATURE_SUBGROUP_SIZE_CONTROL: u32 = 32;
/// `computeFullSubgroups`.
pub const DSR_VK_FEATURE_COMPUTE_FULL_SUBGROUPS: u32 = 64;
/// `bufferDeviceAddress` (Vulkan 1.2); with `DSR_VK_FEATURE_MEMORY_DECOMPRESSION`, the driver's
/// GDeflate decode method becomes available to the runtime.
pub const DSR_VK_FEATURE_BUFFER_DEVICE_ADDRESS: u32 = 128;
/// `memoryDecompression` of `VK_NV_memory_decompression`, whose extension the application
/// enabled on its device too (requires `DSR_VK_FEATURE_BUFFER_DEVICE_ADDRESS` to be used).
pub const DSR_VK_FEATURE_MEMORY_DECOMPRESSION: u32 = 256;
const VK_FEATURES: u32 = 511;

/// The application's `vkGetInstanceProcAddr` (`PFN_vkGetInstanceProcAddr`).
pub type dsr_vk_get_instance_proc_addr =
    Option<unsafe extern "C" fn(instance: *mut c_void, name: *const c_char) -> *mut c_void>;

/// An application's Vulkan objects for the runtime to adopt ("bring your own device", e.g.
/// vkd3d-proton's): the runtime creates its allocations, semaphore, pools and pipelines on
/// `device` and submits to the given queue, and never destroys the instance or device.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsr_vk_adopt_desc {
    /// `VkInstance`, created with `apiVersion` ≥ 1.2.
    pub instance: *mut c_void,
    /// `VkPhysicalDevice` of `instance` that `device` was created from.
    pub physical_device: *mut c_void,
    /// `VkDevice`.
    pub device: *mut c_void,
    /// Queue family of the queue the runtime submits to (must support compute).
    pub queue_family_index: u32,
    /// Index of that queue in its family. Give the runtime a queue the application does not
    /// submit to itself; otherwise wrap every own submission to it in
    /// [`dsr_runtime_with_vk_queue_lock`].
    pub queue_index: u32,
    /// `DSR_VK_FEATURE_*` bits the application enabled on `device`
    /// (`DSR_VK_FEATURE_TIMELINE_SEMAPHORE` required).
    pub enabled_features: u32,
    /// The application's `vkGetInstanceProcAddr`; null uses the system loader's
    /// (`libvulkan.so.1`), right when the application uses that loader too.
    pub get_instance_proc_addr: dsr_vk_get_instance_proc_addr,
}

/// How to create a runtime. All-zero (`dsr_runtime_desc d = {0};`) means the defaults.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsr_runtime_desc {
    /// `DSR_BACKEND_*`.
    pub backend: dsr_backend,
    /// `DSR_IO_*`.
    pub io: dsr_io,
    /// `DSR_RUNTIME_*` bits.
    pub flags: u32,
    /// io_uring reads in flight (0: 32).
    pub io_depth: u32,
    /// CPU worker threads (0: one per core).
    pub cpu_threads: u32,
    /// Staging memory in bytes (0: `DSR_STAGING_BYTES`, else 64 MiB on the CPU backend and
    /// 512 MiB on Vulkan).
    pub staging_bytes: u64,
    /// Staging chunk size in bytes (0: `DSR_CHUNK_BYTES`, else 4 MiB / 8 MiB; at least
    /// 512 KiB).
    pub chunk_bytes: u64,
    /// Null, or the application's Vulkan device to adopt (needs `DSR_BACKEND_VULKAN`); read
    /// during the call only.
    pub adopt: *const dsr_vk_adopt_desc,
}

fn config(desc: &dsr_runtime_desc) -> Result<RuntimeConfig, Fail> {
    let mut c = RuntimeConfig {
        backend: match desc.backend {
            DSR_BACKEND_AUTO => Backend::Auto,
            DSR_BACKEND_CPU => Backend::Cpu,
            DSR_BACKEND_VULKAN => Backend::Vulkan,
            b => {
                return Err(Fail::invalid(format!(
                    "unknown backend {b} (expected a DSR_BACKEND_* constant)"
                )));
            }
        },
        ..RuntimeConfig::default()
    };
    match desc.io {
        DSR_IO_AUTO => {}
        DSR_IO_URING => c.io = IoKind::Uring,
        DSR_IO_PREAD => c.io = IoKind::Pread,
        i => return Err(Fail::invalid(format!("unknown I/O engine {i} (expected a DSR_IO_* constant)"))),
    }
    if desc.flags & !RUNTIME_FLAGS != 0 {
        return Err(Fail::invalid(format!("unknown runtime flags {:#x}", desc.flags & !RUNTIME_FLAGS)));
    }
    if desc.flags & DSR_RUNTIME_NO_DIRECT_IO != 0 {
        c.direct_io = false;
    }
    c.register_buffers = desc.flags & DSR_RUNTIME_NO_REGISTER_BUFFERS == 0;
    c.import_host_memory = desc.flags & DSR_RUNTIME_NO_HOST_IMPORT == 0;
    if desc.io_depth > 0 {
        c.io_depth = desc.io_depth;
    }
    c.cpu_threads = desc.cpu_threads as usize;
    let size = |v: u64, what: &str| {
        usize::try_from(v).map_err(|_| Fail::invalid(format!("{what} {v} does not fit this machine")))
    };
    c.staging_bytes = size(desc.staging_bytes, "staging_bytes")?;
    c.chunk_bytes = size(desc.chunk_bytes, "chunk_bytes")?;
    Ok(c)
}

fn features(bits: u32) -> Result<DeviceFeatures, Fail> {
    if bits & !VK_FEATURES != 0 {
        return Err(Fail::invalid(format!("unknown DSR_VK_FEATURE bits {:#x}", bits & !VK_FEATURES)));
    }
    let on = |b: u32| bits & b != 0;
    Ok(DeviceFeatures {
        timeline_semaphore: on(DSR_VK_FEATURE_TIMELINE_SEMAPHORE),
        shader_int8: on(DSR_VK_FEATURE_SHADER_INT8),
        storage_buffer_8bit_access: on(DSR_VK_FEATURE_STORAGE_BUFFER_8BIT),
        uniform_and_storage_buffer_8bit_access: on(DSR_VK_FEATURE_UNIFORM_AND_STORAGE_BUFFER_8BIT),
        storage_buffer_16bit_access: on(DSR_VK_FEATURE_STORAGE_BUFFER_16BIT),
        subgroup_size_control: on(DSR_VK_FEATURE_SUBGROUP_SIZE_CONTROL),
        compute_full_subgroups: on(DSR_VK_FEATURE_COMPUTE_FULL_SUBGROUPS),
        buffer_device_address: on(DSR_VK_FEATURE_BUFFER_DEVICE_ADDRESS),
        memory_decompression: on(DSR_VK_FEATURE_MEMORY_DECOMPRESSION),
    })
}

/// Adopts the application's device described by `a`.
///
/// # Safety
///
/// The handles in `a` satisfy [`VulkanContext::adopt`]'s contract (the caller's contract of
/// [`dsr_runtime_create`]).
unsafe fn adopt(a: &dsr_vk_adopt_desc) -> Result<VulkanContext, Fail> {
    use ash::vk::Handle;
    if a.instance.is_null() || a.physical_device.is_null() || a.device.is_null() {
        return Err(Fail::invalid("adopt: instance, physical_device and device must not be null"));
    }
    let get_instance_proc_addr = a.get_instance_proc_addr.map(|f| {
        // SAFETY: `PFN_vkGetInstanceProcAddr` is `extern "system" fn(VkInstance, const char*)
        // -> PFN_vkVoidFunction`; on the platforms this library builds for (Linux) "system"
        // is the C ABI, `VkInstance` is a pointer-sized handle and the returned function
        // pointer is pointer-sized with null for "none", exactly the C signature declared
        // here, so the two function pointer types are interchangeable.
        unsafe {
            std::mem::transmute::<
                unsafe extern "C" fn(*mut c_void, *const c_char) -> *mut c_void,
                ash::vk::PFN_vkGetInstanceProcAddr,
            >(f)
        }
    });
    let desc = AdoptDesc {
        instance: ash::vk::Instance::from_raw(a.instance as u64),
        physical_device: ash::vk::PhysicalDevice::from_raw(a.physical_device as u64),
        device: ash::vk::Device::from_raw(a.device as u64),
        queue_family_index: a.queue_family_index,
        queue_index: a.queue_index,
        enabled_features: features(a.enabled_features)?,
        get_instance_proc_addr,
    };
    // SAFETY: the caller of `dsr_runtime_create` guarantees the handles are valid, outlive
    // the runtime and every object made from it, and that the application's own use of the
    // queue holds the queue lock (`dsr_runtime_with_vk_queue_lock`) or does not happen.
    Ok(unsafe { VulkanContext::adopt(&desc, Arc::new(Mutex::new(()))) }?)
}

/// Creates a runtime (`desc` null: the defaults) into `*out`.
///
/// Errors: `DSR_RESULT_UNSUPPORTED` (a named backend or I/O engine that is not available
/// here, e.g. `DSR_BACKEND_VULKAN` without a Vulkan 1.2 device), `DSR_RESULT_INVALID_ARGUMENT`
/// (unknown constants; adoption checks), `DSR_RESULT_IO` (staging memory, threads),
/// `DSR_RESULT_VULKAN`.
///
/// # Safety
///
/// `desc` is null or valid for reads during the call (and so is `desc->adopt` when set);
/// `out` is null (refused) or valid for writing one pointer. With `desc->adopt`: its handles
/// are valid, `device` was created from `physical_device` of `instance` with at least the
/// declared features and a queue at `(queue_family_index, queue_index)`; they outlive the
/// runtime **and** every queue, buffer and image made from it; the application does not use
/// that queue except inside [`dsr_runtime_with_vk_queue_lock`]. The caller owns the new
/// handle and releases it with [`dsr_runtime_destroy`]. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_runtime_create(
    desc: *const dsr_runtime_desc,
    out: *mut *mut dsr_runtime,
) -> dsr_result {
    guard(|| {
        if out.is_null() {
            return Err(Fail::invalid("out is a null pointer"));
        }
        let default = dsr_runtime_desc {
            backend: DSR_BACKEND_AUTO,
            io: DSR_IO_AUTO,
            flags: 0,
            io_depth: 0,
            cpu_threads: 0,
            staging_bytes: 0,
            chunk_bytes: 0,
            adopt: std::ptr::null(),
        };
        let desc = if desc.is_null() {
            &default
        } else {
            // SAFETY: non-null and valid for reads (this function's contract).
            unsafe { read_in(desc, "desc") }?
        };
        let config = config(desc)?;
        let rt = if desc.adopt.is_null() {
            Runtime::new(config)?
        } else {
            if config.backend != Backend::Vulkan {
                return Err(Fail::invalid("adopting a Vulkan device needs backend DSR_BACKEND_VULKAN"));
            }
            // SAFETY: non-null and valid for reads (this function's contract).
            let a = unsafe { read_in(desc.adopt, "desc->adopt") }?;
            // SAFETY: the adopted handles meet `adopt`'s contract (this function's contract).
            let ctx = unsafe { adopt(a) }?;
            Runtime::with_vulkan(Arc::new(ctx), config)?
        };
        let h = handles::insert(handles::Object::Runtime(Arc::new(CRuntime { rt })));
        // SAFETY: `out` is non-null and valid for writes (this function's contract).
        unsafe { write_out(out, h, "out") }
    })
}

/// Releases the handle. The runtime shuts down (cancelling what has not finished, waiting
/// for reads and GPU work in flight) once its queues, buffers and images are destroyed too.
/// A null, destroyed or foreign handle is refused with `DSR_RESULT_INVALID_ARGUMENT`.
/// Thread-safe; must not be called from a completion callback.
#[unsafe(no_mangle)]
pub extern "C" fn dsr_runtime_destroy(runtime: *mut dsr_runtime) -> dsr_result {
    guard(|| {
        let object = handles::remove(runtime, "dsr_runtime", |o| matches!(o, handles::Object::Runtime(_)))?;
        drop(object);
        Ok(())
    })
}

/// What backs the staging ring (`dsr_runtime_info::staging`).
pub type dsr_staging = u32;
/// Anonymous host memory (CPU runtimes).
pub const DSR_STAGING_HOST: dsr_staging = 0;
/// Anonymous host memory imported into Vulkan (`VK_EXT_external_memory_host`): the GPU
/// copies and decodes straight from the pages io_uring reads into.
pub const DSR_STAGING_VULKAN_IMPORTED: dsr_staging = 1;
/// Mapped host-visible Vulkan memory (the fallback without the extension).
pub const DSR_STAGING_VULKAN_HOST_VISIBLE: dsr_staging = 2;

/// What a runtime runs on.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsr_runtime_info {
    /// `DSR_BACKEND_CPU` or `DSR_BACKEND_VULKAN` (never auto).
    pub backend: dsr_backend,
    /// `DSR_IO_URING` or `DSR_IO_PREAD`.
    pub io: dsr_io,
    /// `DSR_STAGING_*`.
    pub staging: dsr_staging,
    /// Whether the staging chunks are registered io_uring fixed buffers.
    pub fixed_buffers: bool,
    /// Whether the Vulkan device was adopted (false: created by the runtime, or none).
    pub adopted_device: bool,
    /// Staging chunk size in bytes.
    pub chunk_bytes: u64,
    /// Number of staging chunks.
    pub chunks: u32,
    /// Queue family the runtime submits to (Vulkan runtimes).
    pub vk_queue_family_index: u32,
    /// The `VkDevice` (Vulkan runtimes; null otherwise).
    pub vk_device: *mut c_void,
    /// The Vulkan device's name (empty for CPU runtimes), NUL-terminated.
    pub device_name: [c_char; 256],
}

/// Describes `runtime` into `*out`.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one `dsr_runtime_info`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_runtime_get_info(
    runtime: *const dsr_runtime,
    out: *mut dsr_runtime_info,
) -> dsr_result {
    guard(|| {
        use ash::vk::Handle;
        let r = handles::runtime(runtime)?;
        let (chunk_bytes, chunks) = r.rt.staging_geometry();
        let mut info = dsr_runtime_info {
            backend: DSR_BACKEND_CPU,
            io: if r.rt.io_kind() == IoKind::Uring { DSR_IO_URING } else { DSR_IO_PREAD },
            staging: match r.rt.staging_kind() {
                StagingKind::Host(_) => DSR_STAGING_HOST,
                StagingKind::VulkanImported(_) => DSR_STAGING_VULKAN_IMPORTED,
                StagingKind::VulkanHostVisible => DSR_STAGING_VULKAN_HOST_VISIBLE,
            },
            fixed_buffers: r.rt.fixed_buffers(),
            adopted_device: false,
            chunk_bytes: chunk_bytes as u64,
            chunks,
            vk_queue_family_index: 0,
            vk_device: std::ptr::null_mut(),
            device_name: [0; 256],
        };
        if let Some(ctx) = r.rt.vulkan_context() {
            info.backend = DSR_BACKEND_VULKAN;
            info.adopted_device = !ctx.owns_device();
            info.vk_queue_family_index = ctx.queue_family_index();
            info.vk_device = ctx.device().handle().as_raw() as *mut c_void;
            fill_c_array(&mut info.device_name, &ctx.device_info().name);
        }
        // SAFETY: `out` is null or valid for writes (this function's contract).
        unsafe { write_out(out, info, "out") }
    })
}

/// Called by [`dsr_runtime_with_vk_queue_lock`] while the runtime's queue lock is held.
pub type dsr_locked_fn = Option<unsafe extern "C" fn(user_data: *mut c_void)>;

/// Runs `f(user_data)` while holding the lock the runtime takes around its own submissions to
/// its Vulkan queue: for an application that shares the adopted queue, every one of its own
/// `vkQueueSubmit` / `vkQueueWaitIdle` / ... on that queue goes inside `f`.
/// `DSR_RESULT_UNSUPPORTED` on a runtime without Vulkan.
///
/// # Safety
///
/// `f` is a valid function (null is refused) that does not call back into this runtime's
/// queues (the lock is not reentrant) and returns normally. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_runtime_with_vk_queue_lock(
    runtime: *const dsr_runtime,
    f: dsr_locked_fn,
    user_data: *mut c_void,
) -> dsr_result {
    guard(|| {
        let r = handles::runtime(runtime)?;
        let f = f.ok_or_else(|| Fail::invalid("f is a null function pointer"))?;
        let ctx = r.vulkan()?;
        let _held = ctx.queue_lock().lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        // SAFETY: `f` is a valid function taking `user_data` (this function's contract).
        unsafe { f(user_data) };
        Ok(())
    })
}

/// `dsr_capabilities_info::flags`: the CPU backend (always).
pub const DSR_CAP_CPU: u32 = 1;
/// A Vulkan device the runtime can use (Vulkan 1.2, compute queue, timeline semaphores);
/// `DSR_BACKEND_VULKAN` works.
pub const DSR_CAP_VULKAN: u32 = 2;
/// That device is a hardware GPU (`DSR_BACKEND_AUTO` picks Vulkan).
pub const DSR_CAP_VULKAN_HARDWARE: u32 = 4;
/// GPU GDeflate decode kernel (built in; runs wherever `DSR_CAP_VULKAN` is set).
pub const DSR_CAP_GPU_DECODE: u32 = 8;
/// The device runs the subgroup variant of the decode kernel (fixed subgroup size 32).
pub const DSR_CAP_GPU_DECODE_SUBGROUP: u32 = 16;
/// `VK_EXT_external_memory_host`: the staging ring is imported, the GPU reads it directly.
pub const DSR_CAP_EXTERNAL_MEMORY_HOST: u32 = 32;
/// io_uring is available to this process (else reads use the pread pool).
pub const DSR_CAP_IO_URING: u32 = 64;
/// The pread pool (always).
pub const DSR_CAP_PREAD: u32 = 128;
/// Adoption of an application's Vulkan device (`dsr_vk_adopt_desc`; built in).
pub const DSR_CAP_VULKAN_ADOPT: u32 = 256;
/// Vulkan buffer and image-region destinations (with `DSR_CAP_VULKAN`).
pub const DSR_CAP_GPU_DESTINATIONS: u32 = 512;

/// What this machine and library can do.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct dsr_capabilities_info {
    /// The library's `DSR_ABI_VERSION_MAJOR`.
    pub abi_major: u32,
    /// The library's `DSR_ABI_VERSION_MINOR`.
    pub abi_minor: u32,
    /// `DSR_CAP_*` bits.
    pub flags: u32,
    /// The Vulkan device `DSR_BACKEND_VULKAN` would use (empty without one), NUL-terminated.
    pub vulkan_device_name: [c_char; 256],
    /// Why there is no usable Vulkan device (empty when there is one), NUL-terminated.
    pub vulkan_unavailable_reason: [c_char; 256],
}

/// Probes the machine (Vulkan devices, io_uring) into `*out`. Creates and destroys a Vulkan
/// instance and a tiny io_uring; takes milliseconds, so call it once.
///
/// # Safety
///
/// `out` is null (refused) or valid for writing one `dsr_capabilities_info`. Thread-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dsr_capabilities(out: *mut dsr_capabilities_info) -> dsr_result {
    guard(|| {
        let mut info = dsr_capabilities_info {
            abi_major: DSR_ABI_VERSION_MAJOR,
            abi_minor: DSR_ABI_VERSION_MINOR,
            flags: DSR_CAP_CPU | DSR_CAP_PREAD | DSR_CAP_VULKAN_ADOPT,
            vulkan_device_name: [0; 256],
            vulkan_unavailable_reason: [0; 256],
        };
        if io_uring::IoUring::new(2).is_ok() {
            info.flags |= DSR_CAP_IO_URING;
        }
        match dsr_core::vulkan::probe() {
            Ok(devices) => match dsr_core::vulkan::pick_device(&devices) {
                Some(d) => {
                    info.flags |= DSR_CAP_VULKAN | DSR_CAP_GPU_DECODE | DSR_CAP_GPU_DESTINATIONS;
                    if d.device_type != dsr_core::vulkan::DeviceType::Cpu {
                        info.flags |= DSR_CAP_VULKAN_HARDWARE;
                    }
                    if d.ext_external_memory_host {
                        info.flags |= DSR_CAP_EXTERNAL_MEMORY_HOST;
                    }
                    let subgroup = dsr_core::vulkan::dsr_kernels::KERNELS.iter().any(|k| {
                        k.subgroup_size > 0 && k.name.starts_with("gdeflate_decode") && d.runs_kernel(k)
                    });
                    if subgroup {
                        info.flags |= DSR_CAP_GPU_DECODE_SUBGROUP;
                    }
                    fill_c_array(&mut info.vulkan_device_name, &d.name);
                }
                None => {
                    let why: Vec<_> = devices
                        .iter()
                        .map(|d| format!("{}: {}", d.name, d.unusable_reason().unwrap_or_default()))
                        .collect();
                    let why = if why.is_empty() { "no physical devices".into() } else { why.join("; ") };
                    fill_c_array(&mut info.vulkan_unavailable_reason, &why);
                }
            },
            Err(e) => fill_c_array(&mut info.vulkan_unavailable_reason, &e.to_string()),
        }
        // SAFETY: `out` is null or valid for writes (this function's contract).
        unsafe { write_out(out, info, "out") }
    })
}
