//! What the driver made of each built-in kernel: the statistics of
//! `VK_KHR_pipeline_executable_properties` (on NVIDIA: registers per invocation, shared memory,
//! binary size; on Mesa drivers: instruction counts, spills and so on), for every Vulkan
//! device that offers the extension, printed as `device | kernel | executable | statistic |
//! value` rows.
//!
//! This is the speed issue's occupancy floor (docs/perf-notes.md): registers per invocation and
//! workgroup memory decide how many 32-invocation decode workgroups an SM holds, and with them
//! how much of a round's latency is hidden. It builds its own device (the runtime's contexts
//! do not enable the extension), from the kernels crate's SPIR-V and reflected bindings
//! exactly as the ash core does, with `CAPTURE_STATISTICS` set.
//!
//! Run: `cargo run --release --example kernel_stats` (exit status 0 and a note when no device
//! offers the extension).

use std::ffi::CStr;

use ds_runtime::vulkan::ash::{self, khr, vk};
use ds_runtime::vulkan::dsr_kernels::{KERNELS, KernelInfo};
use ds_runtime::vulkan::layout_bindings;

type Result<T> = std::result::Result<T, String>;

fn main() {
    match run() {
        Ok(0) => println!("no Vulkan device offers VK_KHR_pipeline_executable_properties"),
        Ok(_) => {}
        Err(e) => {
            eprintln!("kernel_stats: {e}");
            std::process::exit(1);
        }
    }
}

/// Prints the rows of every device with the extension; returns how many devices it reported.
fn run() -> Result<usize> {
    // SAFETY: dlopen of the system Vulkan loader; `entry` outlives every object made from it.
    let entry = unsafe { ash::Entry::load() }.map_err(|e| format!("no Vulkan loader: {e}"))?;
    let app = vk::ApplicationInfo::default().api_version(vk::API_VERSION_1_2);
    let info = vk::InstanceCreateInfo::default().application_info(&app);
    // SAFETY: valid create info; destroyed at the end of this function.
    let instance =
        unsafe { entry.create_instance(&info, None) }.map_err(|e| format!("vkCreateInstance: {e}"))?;
    let result = report_all(&instance);
    // SAFETY: every device made from the instance was destroyed by `report_device`.
    unsafe { instance.destroy_instance(None) };
    result
}

fn report_all(instance: &ash::Instance) -> Result<usize> {
    // SAFETY: valid instance.
    let devices = unsafe { instance.enumerate_physical_devices() }
        .map_err(|e| format!("vkEnumeratePhysicalDevices: {e}"))?;
    let mut reported = 0;
    println!("| device | kernel | executable | statistic | value |\n|---|---|---|---|---|");
    for pd in devices {
        // SAFETY: `pd` comes from this instance.
        let props = unsafe { instance.get_physical_device_properties(pd) };
        let name = props.device_name_as_c_str().unwrap_or(c"?").to_string_lossy().into_owned();
        // SAFETY: as above.
        let exts = unsafe { instance.enumerate_device_extension_properties(pd) }
            .map_err(|e| format!("vkEnumerateDeviceExtensionProperties: {e}"))?;
        let wanted = khr::pipeline_executable_properties::NAME;
        if !exts.iter().any(|e| e.extension_name_as_c_str() == Ok(wanted)) {
            eprintln!("{name}: no {}", wanted.to_string_lossy());
            continue;
        }
        report_device(instance, pd, &name)?;
        reported += 1;
    }
    Ok(reported)
}

/// Creates a device on `pd` with the extension, builds every kernel's pipeline with statistics
/// captured, prints them, and destroys everything it created.
fn report_device(instance: &ash::Instance, pd: vk::PhysicalDevice, name: &str) -> Result<()> {
    // SAFETY: `pd` comes from this instance.
    let families = unsafe { instance.get_physical_device_queue_family_properties(pd) };
    let family = families
        .iter()
        .position(|f| f.queue_flags.contains(vk::QueueFlags::COMPUTE))
        .ok_or_else(|| format!("{name}: no compute queue family"))? as u32;
    let priorities = [1.0];
    let queues =
        [vk::DeviceQueueCreateInfo::default().queue_family_index(family).queue_priorities(&priorities)];
    let extensions = [khr::pipeline_executable_properties::NAME.as_ptr()];
    let mut exec =
        vk::PhysicalDevicePipelineExecutablePropertiesFeaturesKHR::default().pipeline_executable_info(true);
    let info = vk::DeviceCreateInfo::default()
        .queue_create_infos(&queues)
        .enabled_extension_names(&extensions)
        .push_next(&mut exec);
    // SAFETY: valid physical device and create info (the extension is supported, its feature
    // is the only one enabled); destroyed below.
    let device = unsafe { instance.create_device(pd, &info, None) }
        .map_err(|e| format!("{name}: vkCreateDevice: {e}"))?;
    let ext = khr::pipeline_executable_properties::Device::new(instance, &device);
    let mut result = Ok(());
    for kernel in KERNELS {
        if let Err(e) = report_kernel(&device, &ext, kernel, name) {
            result = Err(e);
            break;
        }
    }
    // SAFETY: every object made from the device was destroyed by `report_kernel`.
    unsafe { device.destroy_device(None) };
    result
}

fn report_kernel(
    device: &ash::Device,
    ext: &khr::pipeline_executable_properties::Device,
    kernel: &KernelInfo,
    name: &str,
) -> Result<()> {
    let mut set_layouts = Vec::new();
    let mut layout = vk::PipelineLayout::null();
    let mut pipeline = vk::Pipeline::null();
    let result = (|| {
        for set in layout_bindings(kernel) {
            let bindings: Vec<_> = set
                .iter()
                .map(|b| {
                    vk::DescriptorSetLayoutBinding::default()
                        .binding(b.binding)
                        .descriptor_type(b.descriptor_type)
                        .descriptor_count(b.count)
                        .stage_flags(b.stages)
                })
                .collect();
            let info = vk::DescriptorSetLayoutCreateInfo::default().bindings(&bindings);
            // SAFETY: valid device and create info; destroyed below.
            let l = unsafe { device.create_descriptor_set_layout(&info, None) }
                .map_err(|e| format!("vkCreateDescriptorSetLayout: {e}"))?;
            set_layouts.push(l);
        }
        let info = vk::PipelineLayoutCreateInfo::default().set_layouts(&set_layouts);
        // SAFETY: valid device; the set layouts are alive; destroyed below.
        layout = unsafe { device.create_pipeline_layout(&info, None) }
            .map_err(|e| format!("vkCreatePipelineLayout: {e}"))?;
        let module_info = vk::ShaderModuleCreateInfo::default().code(kernel.spirv);
        // SAFETY: naga produced and validated the SPIR-V at build time; destroyed below.
        let module = unsafe { device.create_shader_module(&module_info, None) }
            .map_err(|e| format!("vkCreateShaderModule: {e}"))?;
        let entry = std::ffi::CString::new(kernel.entry_point).map_err(|e| e.to_string())?;
        let stage = vk::PipelineShaderStageCreateInfo::default()
            .stage(vk::ShaderStageFlags::COMPUTE)
            .module(module)
            .name(&entry);
        let info = [vk::ComputePipelineCreateInfo::default()
            .flags(vk::PipelineCreateFlags::CAPTURE_STATISTICS_KHR)
            .stage(stage)
            .layout(layout)];
        // SAFETY: module, entry point and layout are valid for the call (the layout is the
        // kernel's reflected one); the flag is allowed because the feature is enabled.
        let created = unsafe { device.create_compute_pipelines(vk::PipelineCache::null(), &info, None) };
        // SAFETY: the module is not needed once the pipeline exists (or failed).
        unsafe { device.destroy_shader_module(module, None) };
        pipeline = created.map_err(|(_, e)| format!("vkCreateComputePipelines: {e}"))?[0];
        let pinfo = vk::PipelineInfoKHR::default().pipeline(pipeline);
        // SAFETY: the pipeline was created with CAPTURE_STATISTICS on this device.
        let executables = unsafe { ext.get_pipeline_executable_properties(&pinfo) }
            .map_err(|e| format!("vkGetPipelineExecutablePropertiesKHR: {e}"))?;
        for (i, exe) in executables.iter().enumerate() {
            let exe_name = cstr(exe.name_as_c_str());
            let einfo =
                vk::PipelineExecutableInfoKHR::default().pipeline(pipeline).executable_index(i as u32);
            // SAFETY: `i` indexes one of the pipeline's executables.
            let stats = unsafe { ext.get_pipeline_executable_statistics(&einfo) }
                .map_err(|e| format!("vkGetPipelineExecutableStatisticsKHR: {e}"))?;
            for s in stats {
                println!(
                    "| {name} | {} | {exe_name} | {} | {} |",
                    kernel.name,
                    cstr(s.name_as_c_str()),
                    value(&s)
                );
            }
        }
        Ok(())
    })();
    // SAFETY: the objects were created above on this device and are not in use (nothing was
    // dispatched); null handles are ignored.
    unsafe {
        device.destroy_pipeline(pipeline, None);
    }
    // SAFETY: as above.
    unsafe { device.destroy_pipeline_layout(layout, None) };
    for l in set_layouts {
        // SAFETY: as above.
        unsafe { device.destroy_descriptor_set_layout(l, None) };
    }
    result
}

fn cstr(s: std::result::Result<&CStr, std::ffi::FromBytesUntilNulError>) -> String {
    s.map(|c| c.to_string_lossy().into_owned()).unwrap_or_else(|_| "?".into())
}

fn value(s: &vk::PipelineExecutableStatisticKHR<'_>) -> String {
    let v = s.value;
    match s.format {
        vk::PipelineExecutableStatisticFormatKHR::BOOL32 => {
            // SAFETY: the union member read is the one `format` names.
            let b = unsafe { v.b32 };
            (b != 0).to_string()
        }
        // SAFETY: as above.
        vk::PipelineExecutableStatisticFormatKHR::INT64 => unsafe { v.i64 }.to_string(),
        // SAFETY: as above.
        vk::PipelineExecutableStatisticFormatKHR::UINT64 => unsafe { v.u64 }.to_string(),
        // SAFETY: as above.
        vk::PipelineExecutableStatisticFormatKHR::FLOAT64 => unsafe { v.f64 }.to_string(),
        _ => "?".into(),
    }
}
