//! Device discovery: loading the Vulkan loader, creating the instance, and describing each
//! physical device ([`DeviceInfo`]) with the properties the runtime decides on.
//!
//! Owns the two entry points every other part starts from: [`load_entry`] (the only dlopen)
//! and [`create_instance`]. Invariant: a [`DeviceInfo`] is only ever filled from queries the
//! device supports (structs chained into `vkGetPhysicalDeviceProperties2` / `Features2` only
//! when the device's API version or extensions include them).

use super::error::{VulkanError, vk_err};
use ash::vk;
use std::ffi::CStr;
use std::fmt;

/// Lowest Vulkan version this layer uses (timeline semaphores and `Vulkan12Features` are core).
pub(crate) const MIN_API: u32 = vk::API_VERSION_1_2;

/// `VK_EXT_memory_decompression` is newer than the headers of ash 0.38.
const EXT_MEMORY_DECOMPRESSION: &CStr = c"VK_EXT_memory_decompression";

/// A Vulkan version number as packed by `VK_MAKE_API_VERSION`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ApiVersion(pub u32);

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let v = self.0;
        write!(f, "{}.{}.{}", vk::api_version_major(v), vk::api_version_minor(v), vk::api_version_patch(v))
    }
}

/// The kind of a physical device, in the runtime's order of preference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceType {
    /// A discrete GPU (preferred).
    Discrete,
    /// A GPU sharing the CPU's memory.
    Integrated,
    /// A virtualised GPU.
    Virtual,
    /// A software implementation on the CPU (lavapipe, SwiftShader).
    Cpu,
    /// Anything else the driver reports.
    Other,
}

impl DeviceType {
    fn from_vk(t: vk::PhysicalDeviceType) -> Self {
        match t {
            vk::PhysicalDeviceType::DISCRETE_GPU => Self::Discrete,
            vk::PhysicalDeviceType::INTEGRATED_GPU => Self::Integrated,
            vk::PhysicalDeviceType::VIRTUAL_GPU => Self::Virtual,
            vk::PhysicalDeviceType::CPU => Self::Cpu,
            _ => Self::Other,
        }
    }

    /// Lower is preferred: discrete > integrated > virtual > cpu > other.
    fn rank(self) -> u8 {
        match self {
            Self::Discrete => 0,
            Self::Integrated => 1,
            Self::Virtual => 2,
            Self::Cpu => 3,
            Self::Other => 4,
        }
    }

    /// Lower-case name for printing.
    pub fn name(self) -> &'static str {
        match self {
            Self::Discrete => "discrete GPU",
            Self::Integrated => "integrated GPU",
            Self::Virtual => "virtual GPU",
            Self::Cpu => "CPU (software)",
            Self::Other => "other",
        }
    }
}

impl fmt::Display for DeviceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// What the runtime knows about one physical device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    /// Position in `vkEnumeratePhysicalDevices` order ([`super::ContextOptions::device_index`]).
    pub index: usize,
    /// `deviceName`.
    pub name: String,
    /// `deviceType`.
    pub device_type: DeviceType,
    /// PCI-style vendor id.
    pub vendor_id: u32,
    /// Vendor-specific device id.
    pub device_id: u32,
    /// Highest Vulkan version the device supports.
    pub api_version: ApiVersion,
    /// `driverName` (empty below Vulkan 1.2).
    pub driver_name: String,
    /// `driverInfo`, usually the driver version string (empty below Vulkan 1.2).
    pub driver_info: String,
    /// Default subgroup size (0 below Vulkan 1.2, where it is not queried).
    pub subgroup_size: u32,
    /// `(min, max)` subgroup size, when subgroup size control is supported (Vulkan 1.3 or
    /// `VK_EXT_subgroup_size_control`).
    pub subgroup_size_range: Option<(u32, u32)>,
    /// Compute shaders support the subgroup operations basic, ballot, arithmetic and shuffle
    /// (what a subgroup kernel variant uses, `dsr_kernels::KernelInfo::subgroup_size`).
    pub subgroup_compute_ops: bool,
    /// Some queue family supports compute.
    pub has_compute_queue: bool,
    /// Optional features the device supports (not necessarily enabled anywhere).
    pub features: super::DeviceFeatures,
    /// `VK_NV_memory_decompression` is available.
    pub nv_memory_decompression: bool,
    /// `VK_EXT_memory_decompression` is available.
    pub ext_memory_decompression: bool,
    /// The driver decompresses GDeflate 1.0 (`VK_NV_memory_decompression` with its
    /// `memoryDecompression` feature and the GDeflate method, and `bufferDeviceAddress`): the
    /// second decode method a created context enables (`vulkan::decode`).
    pub gdeflate_memory_decompression: bool,
    /// `VK_EXT_external_memory_host` is available (staging rings can be imported).
    pub ext_external_memory_host: bool,
}

impl DeviceInfo {
    /// Whether `kernel` can run here: it uses no subgroup operations, or the device has the
    /// operations it uses in compute shaders and a fixed subgroup size equal to the one it
    /// needs (a device whose size varies, e.g. 32..64, gets the base kernel).
    pub fn runs_kernel(&self, kernel: &dsr_kernels::KernelInfo) -> bool {
        kernel.subgroup_size == 0
            || (self.subgroup_compute_ops
                && self.subgroup_size == kernel.subgroup_size
                && self.subgroup_size_range.is_none_or(|(lo, hi)| lo == hi))
    }

    /// Why [`super::VulkanContext::new`] cannot use this device, or `None` when it can.
    pub fn unusable_reason(&self) -> Option<String> {
        if self.api_version < ApiVersion(MIN_API) {
            Some(format!("Vulkan {} < 1.2", self.api_version))
        } else if !self.has_compute_queue {
            Some("no compute queue".into())
        } else if !self.features.timeline_semaphore {
            Some("no timeline semaphores".into())
        } else {
            None
        }
    }
}

/// The device [`super::VulkanContext::new`] picks by default: the first usable one of the
/// most preferred [`DeviceType`].
pub fn pick_device(devices: &[DeviceInfo]) -> Option<&DeviceInfo> {
    devices.iter().filter(|d| d.unusable_reason().is_none()).min_by_key(|d| (d.device_type.rank(), d.index))
}

/// Lists every physical device with its properties. Creates and destroys a temporary
/// instance; needs a Vulkan 1.2 loader.
pub fn probe() -> Result<Vec<DeviceInfo>, VulkanError> {
    let entry = load_entry()?;
    let instance = create_instance(&entry)?;
    let result = enumerate(&instance);
    // SAFETY: `instance` was created above, every object derived from it (none but physical
    // device handles, which need no destruction) is no longer used, and it is destroyed once.
    unsafe { instance.destroy_instance(None) };
    result
}

fn enumerate(instance: &ash::Instance) -> Result<Vec<DeviceInfo>, VulkanError> {
    // SAFETY: `instance` is a valid instance created by this module.
    let devices =
        unsafe { instance.enumerate_physical_devices() }.map_err(vk_err("vkEnumeratePhysicalDevices"))?;
    devices.iter().enumerate().map(|(i, &pd)| query_device(instance, pd, i)).collect()
}

/// Opens the system Vulkan loader (`libvulkan.so.1`).
pub(crate) fn load_entry() -> Result<ash::Entry, VulkanError> {
    // SAFETY: dlopen of the system Vulkan loader, whose initialisers are the loader's own. The
    // returned `Entry` keeps the library loaded; every context and buffer keeps a clone of it
    // (through `DeviceShared`) so no function pointer outlives the library.
    unsafe { ash::Entry::load() }.map_err(|e| VulkanError::Unsupported {
        what: "Vulkan",
        why: format!("no Vulkan loader could be opened ({e}); install libvulkan1 and a driver"),
    })
}

/// Creates an instance for Vulkan 1.2 or 1.3 (the highest the loader supports), no layers,
/// no extensions.
pub(crate) fn create_instance(entry: &ash::Entry) -> Result<ash::Instance, VulkanError> {
    // SAFETY: `entry` holds valid global function pointers from the loader.
    let loader = unsafe { entry.try_enumerate_instance_version() }
        .map_err(vk_err("vkEnumerateInstanceVersion"))?
        .unwrap_or(vk::API_VERSION_1_0);
    if loader < MIN_API {
        return Err(VulkanError::Unsupported {
            what: "Vulkan",
            why: format!("the Vulkan loader supports {}, the runtime needs 1.2", ApiVersion(loader)),
        });
    }
    let api_version = loader.min(vk::API_VERSION_1_3);
    let app = vk::ApplicationInfo::default()
        .application_name(c"ds-runtime")
        .engine_name(c"ds-runtime")
        .api_version(api_version);
    let create_info = vk::InstanceCreateInfo::default().application_info(&app);
    // SAFETY: `create_info` and what it points to are valid for the call; no layers or
    // extensions are requested. The instance is destroyed by its owner (probe or
    // `DeviceShared`).
    unsafe { entry.create_instance(&create_info, None) }.map_err(|result| match result {
        vk::Result::ERROR_INCOMPATIBLE_DRIVER => {
            VulkanError::NoDevice { why: "the Vulkan loader found no compatible driver (ICD)".into() }
        }
        result => VulkanError::Vk { call: "vkCreateInstance", result },
    })
}

/// Describes `pd`. `instance` must be a Vulkan 1.1+ instance (as made by [`create_instance`]
/// or checked by adoption).
pub(crate) fn query_device(
    instance: &ash::Instance,
    pd: vk::PhysicalDevice,
    index: usize,
) -> Result<DeviceInfo, VulkanError> {
    // SAFETY: `pd` was enumerated from (or, when adopted, belongs to) `instance`.
    let exts = unsafe { instance.enumerate_device_extension_properties(pd) }
        .map_err(vk_err("vkEnumerateDeviceExtensionProperties"))?;
    let has_ext = |name: &CStr| exts.iter().any(|e| e.extension_name_as_c_str() == Ok(name));
    // SAFETY: as above.
    let queues = unsafe { instance.get_physical_device_queue_family_properties(pd) };
    // SAFETY: as above.
    let base = unsafe { instance.get_physical_device_properties(pd) };
    let api = base.api_version;
    let has_size_control = api >= vk::API_VERSION_1_3 || has_ext(ash::ext::subgroup_size_control::NAME);

    let mut v11 = vk::PhysicalDeviceVulkan11Properties::default();
    let mut driver = vk::PhysicalDeviceDriverProperties::default();
    let mut size_control = vk::PhysicalDeviceSubgroupSizeControlProperties::default();
    let mut props2 = vk::PhysicalDeviceProperties2::default();
    // Chain only what the device supports (Vulkan11Properties and DriverProperties are core in
    // 1.2; subgroup size control is core in 1.3 or the EXT).
    if api >= vk::API_VERSION_1_2 {
        props2 = props2.push_next(&mut v11).push_next(&mut driver);
    }
    if has_size_control {
        props2 = props2.push_next(&mut size_control);
    }
    // SAFETY: `pd` belongs to `instance` (1.1+, so the call is core); every chained struct is
    // supported by the device (checked above) and lives until the call returns.
    unsafe { instance.get_physical_device_properties2(pd, &mut props2) };

    let nv_memory_decompression = has_ext(ash::nv::memory_decompression::NAME);
    let features = supported_features(instance, pd, api, nv_memory_decompression);
    let is_12 = api >= vk::API_VERSION_1_2;
    Ok(DeviceInfo {
        index,
        name: c_str(base.device_name_as_c_str()),
        device_type: DeviceType::from_vk(base.device_type),
        vendor_id: base.vendor_id,
        device_id: base.device_id,
        api_version: ApiVersion(api),
        driver_name: if is_12 { c_str(driver.driver_name_as_c_str()) } else { String::new() },
        driver_info: if is_12 { c_str(driver.driver_info_as_c_str()) } else { String::new() },
        subgroup_size: if is_12 { v11.subgroup_size } else { 0 },
        subgroup_size_range: has_size_control
            .then_some((size_control.min_subgroup_size, size_control.max_subgroup_size)),
        subgroup_compute_ops: is_12
            && v11.subgroup_supported_stages.contains(vk::ShaderStageFlags::COMPUTE)
            && v11.subgroup_supported_operations.contains(
                vk::SubgroupFeatureFlags::BASIC
                    | vk::SubgroupFeatureFlags::BALLOT
                    | vk::SubgroupFeatureFlags::ARITHMETIC
                    | vk::SubgroupFeatureFlags::SHUFFLE,
            ),
        has_compute_queue: queues.iter().any(|q| q.queue_flags.contains(vk::QueueFlags::COMPUTE)),
        features,
        nv_memory_decompression,
        gdeflate_memory_decompression: nv_memory_decompression
            && features.memory_decompression
            && features.buffer_device_address
            && gdeflate_method(instance, pd),
        ext_memory_decompression: has_ext(EXT_MEMORY_DECOMPRESSION),
        ext_external_memory_host: has_ext(ash::ext::external_memory_host::NAME),
    })
}

/// The optional features of [`super::DeviceFeatures`] that `pd` supports (all false below
/// Vulkan 1.2, which the runtime does not use).
pub(crate) fn supported_features(
    instance: &ash::Instance,
    pd: vk::PhysicalDevice,
    api: u32,
    nv_memory_decompression: bool,
) -> super::DeviceFeatures {
    if api < vk::API_VERSION_1_2 {
        return super::DeviceFeatures::default();
    }
    let mut v11 = vk::PhysicalDeviceVulkan11Features::default();
    let mut v12 = vk::PhysicalDeviceVulkan12Features::default();
    let mut v13 = vk::PhysicalDeviceVulkan13Features::default();
    let mut f2 = vk::PhysicalDeviceFeatures2::default().push_next(&mut v11).push_next(&mut v12);
    if api >= vk::API_VERSION_1_3 {
        f2 = f2.push_next(&mut v13);
    }
    let mut decompression = vk::PhysicalDeviceMemoryDecompressionFeaturesNV::default();
    if nv_memory_decompression {
        f2 = f2.push_next(&mut decompression);
    }
    // SAFETY: `pd` belongs to `instance` (1.1+); the chained structs are core in the device's
    // version (1.3 only chained for 1.3 devices) or of an extension the device has, and live
    // until the call returns.
    unsafe { instance.get_physical_device_features2(pd, &mut f2) };
    super::DeviceFeatures {
        timeline_semaphore: v12.timeline_semaphore == vk::TRUE,
        shader_int8: v12.shader_int8 == vk::TRUE,
        storage_buffer_8bit_access: v12.storage_buffer8_bit_access == vk::TRUE,
        uniform_and_storage_buffer_8bit_access: v12.uniform_and_storage_buffer8_bit_access == vk::TRUE,
        storage_buffer_16bit_access: v11.storage_buffer16_bit_access == vk::TRUE,
        subgroup_size_control: v13.subgroup_size_control == vk::TRUE,
        compute_full_subgroups: v13.compute_full_subgroups == vk::TRUE,
        buffer_device_address: v12.buffer_device_address == vk::TRUE,
        memory_decompression: decompression.memory_decompression == vk::TRUE,
    }
}

/// Whether the driver's memory decompression offers GDeflate 1.0; call only for devices with
/// `VK_NV_memory_decompression`.
fn gdeflate_method(instance: &ash::Instance, pd: vk::PhysicalDevice) -> bool {
    let mut props = vk::PhysicalDeviceMemoryDecompressionPropertiesNV::default();
    let mut props2 = vk::PhysicalDeviceProperties2::default().push_next(&mut props);
    // SAFETY: `pd` belongs to `instance` (1.1+); the chained struct is of an extension the
    // device has (the caller's contract) and lives until the call returns.
    unsafe { instance.get_physical_device_properties2(pd, &mut props2) };
    props.decompression_methods.contains(vk::MemoryDecompressionMethodFlagsNV::GDEFLATE_1_0)
}

fn c_str(s: Result<&CStr, std::ffi::FromBytesUntilNulError>) -> String {
    s.map(|s| s.to_string_lossy().into_owned()).unwrap_or_default()
}
