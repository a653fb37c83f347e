//! [`KernelPipeline`]: a compute pipeline built from one entry of [`dsr_kernels::KERNELS`].
//!
//! Invariant: descriptor set layouts are derived from the kernel's reflected bindings by
//! [`layout_bindings`] and nothing else; no binding is restated by hand. WGSL
//! `@group(g) @binding(b)` is descriptor set `g`, binding `b` (the kernels crate's SPIR-V
//! contract); groups without bindings below the highest one get empty set layouts so set
//! numbers stay positional.

use super::error::{VulkanError, vk_err};
use ash::vk;
use dsr_kernels::{BindingKind, KernelInfo};
use std::ffi::CString;

/// One binding of a descriptor set layout, as created for a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LayoutBinding {
    /// Descriptor set (WGSL `@group`).
    pub set: u32,
    /// Binding number (WGSL `@binding`).
    pub binding: u32,
    /// `UNIFORM_BUFFER` for `var<uniform>`, `STORAGE_BUFFER` for `var<storage, ..>`.
    pub descriptor_type: vk::DescriptorType,
    /// Number of descriptors (1: the kernels bind no arrays of buffers).
    pub count: u32,
    /// Always `COMPUTE`.
    pub stages: vk::ShaderStageFlags,
}

/// The descriptor set layouts of `kernel`: index = set number, each sorted by binding.
pub fn layout_bindings(kernel: &KernelInfo) -> Vec<Vec<LayoutBinding>> {
    let sets = kernel.bindings.iter().map(|b| b.group as usize + 1).max().unwrap_or(0);
    let mut out = vec![Vec::new(); sets];
    for b in kernel.bindings {
        out[b.group as usize].push(LayoutBinding {
            set: b.group,
            binding: b.binding,
            descriptor_type: descriptor_type(b.kind),
            count: 1,
            stages: vk::ShaderStageFlags::COMPUTE,
        });
    }
    for set in &mut out {
        set.sort_by_key(|b| b.binding);
    }
    out
}

pub(crate) fn descriptor_type(kind: BindingKind) -> vk::DescriptorType {
    match kind {
        BindingKind::Uniform => vk::DescriptorType::UNIFORM_BUFFER,
        BindingKind::StorageRead | BindingKind::StorageReadWrite => vk::DescriptorType::STORAGE_BUFFER,
    }
}

/// A kernel's compute pipeline, pipeline layout and descriptor set layouts. Owned and
/// destroyed by its [`super::VulkanContext`].
#[derive(Debug)]
pub struct KernelPipeline {
    kernel: &'static KernelInfo,
    bindings: Vec<Vec<LayoutBinding>>,
    pub(crate) set_layouts: Vec<vk::DescriptorSetLayout>,
    pub(crate) layout: vk::PipelineLayout,
    pub(crate) pipeline: vk::Pipeline,
}

impl KernelPipeline {
    /// Builds the pipeline of `kernel`. On error, destroys what it created.
    pub(crate) fn new(
        device: &ash::Device,
        cache: vk::PipelineCache,
        kernel: &'static KernelInfo,
    ) -> Result<Self, VulkanError> {
        let mut p = Self {
            kernel,
            bindings: layout_bindings(kernel),
            set_layouts: Vec::new(),
            layout: vk::PipelineLayout::null(),
            pipeline: vk::Pipeline::null(),
        };
        let result = p.build(device, cache);
        if result.is_err() {
            p.destroy(device);
        }
        result.map(|()| p)
    }

    fn build(&mut self, device: &ash::Device, cache: vk::PipelineCache) -> Result<(), VulkanError> {
        for set in &self.bindings {
            let vk_bindings: Vec<_> = set
                .iter()
                .map(|b| {
                    vk::DescriptorSetLayoutBinding::default()
                        .binding(b.binding)
                        .descriptor_type(b.descriptor_type)
                        .descriptor_count(b.count)
                        .stage_flags(b.stages)
                })
                .collect();
            let info = vk::DescriptorSetLayoutCreateInfo::default().bindings(&vk_bindings);
            // SAFETY: valid device and create info; destroyed by `destroy`.
            let layout = unsafe { device.create_descriptor_set_layout(&info, None) }
                .map_err(vk_err("vkCreateDescriptorSetLayout"))?;
            self.set_layouts.push(layout);
        }
        let info = vk::PipelineLayoutCreateInfo::default().set_layouts(&self.set_layouts);
        // SAFETY: valid device; the set layouts are alive; destroyed by `destroy`.
        self.layout = unsafe { device.create_pipeline_layout(&info, None) }
            .map_err(vk_err("vkCreatePipelineLayout"))?;

        let module_info = vk::ShaderModuleCreateInfo::default().code(self.kernel.spirv);
        // SAFETY: the SPIR-V was produced and validated by naga at build time (and re-parsed by
        // the kernels crate's tests); destroyed right after pipeline creation.
        let module = unsafe { device.create_shader_module(&module_info, None) }
            .map_err(vk_err("vkCreateShaderModule"))?;
        let entry = CString::new(self.kernel.entry_point).map_err(|_| {
            VulkanError::InvalidArgument(format!("entry point of `{}` contains NUL", self.kernel.name))
        });
        let created = entry.and_then(|entry| {
            let stage = vk::PipelineShaderStageCreateInfo::default()
                .stage(vk::ShaderStageFlags::COMPUTE)
                .module(module)
                .name(&entry);
            let info = [vk::ComputePipelineCreateInfo::default().stage(stage).layout(self.layout)];
            // SAFETY: module, entry point name and layout are valid and outlive the call; the
            // layout matches the shader's bindings (derived from its reflection); the cache was
            // created without EXTERNALLY_SYNCHRONIZED, so the driver synchronises it.
            unsafe { device.create_compute_pipelines(cache, &info, None) }
                .map_err(|(_, result)| VulkanError::Vk { call: "vkCreateComputePipelines", result })
        });
        // SAFETY: the module is no longer needed once the pipeline exists (or failed).
        unsafe { device.destroy_shader_module(module, None) };
        self.pipeline = created?.first().copied().unwrap_or_default();
        Ok(())
    }

    /// Destroys the Vulkan objects (null handles are skipped by Vulkan).
    pub(crate) fn destroy(&self, device: &ash::Device) {
        // SAFETY: the context calls this only when no submission using the pipeline is
        // pending (after waiting for its last value), or during failed creation.
        unsafe { device.destroy_pipeline(self.pipeline, None) };
        // SAFETY: as above; the pipeline using the layout is destroyed.
        unsafe { device.destroy_pipeline_layout(self.layout, None) };
        for &l in &self.set_layouts {
            // SAFETY: as above; descriptor sets allocated with it were freed with their pools.
            unsafe { device.destroy_descriptor_set_layout(l, None) };
        }
    }

    /// The kernel this pipeline runs.
    pub fn kernel(&self) -> &'static KernelInfo {
        self.kernel
    }

    /// The bindings of each descriptor set layout (index = set number).
    pub fn layout_bindings(&self) -> &[Vec<LayoutBinding>] {
        &self.bindings
    }

    /// The Vulkan descriptor set layouts (index = set number).
    pub fn descriptor_set_layouts(&self) -> &[vk::DescriptorSetLayout] {
        &self.set_layouts
    }

    /// The Vulkan pipeline layout.
    pub fn pipeline_layout(&self) -> vk::PipelineLayout {
        self.layout
    }

    /// The Vulkan compute pipeline.
    pub fn pipeline(&self) -> vk::Pipeline {
        self.pipeline
    }
}
