//! [`KernelPipeline`]: a wgpu compute pipeline built from one entry of
//! [`dsr_kernels::KERNELS`], either from the kernels crate's SPIR-V through wgpu's shader
//! passthrough ([`KernelSource::Spirv`]) or from the kernel's WGSL compiled by wgpu
//! ([`KernelSource::Wgsl`]).
//!
//! Invariants:
//! - Bind group layouts are derived from the kernel's reflected bindings by
//!   [`layout_entries`] and nothing else, for both sources; no binding is restated by hand.
//!   Groups without bindings below the highest one get empty layouts so group numbers stay
//!   positional.
//! - [`KernelSource::Spirv`] hands [`KernelInfo::spirv`] to the driver unchanged: the very
//!   module the ash core runs (barriers at workgroup memory scope, no bounds-check clamps, no
//!   workgroup zeroing, loop bounding kept). Used only on a device for which
//!   [`spirv_passthrough`] holds; [`KernelPipeline::new`] is the one `unsafe` entry point,
//!   and its `// SAFETY:` comment says why that module is valid there.
//! - [`ShaderChecks::Trusted`] compiles the WGSL as close to that as wgpu allows: no
//!   bounds-check clamps, no workgroup-memory zeroing, loop bounding and integer-division
//!   guards kept (naga's own `storageBarrier` scope stays Device; wgpu has no option for it).
//!   Both are sound because of the kernels crate's contract (every kernel bounds-checks each
//!   buffer access against `arrayLength`, indexes its workgroup arrays within bounds by
//!   construction, writes each workgroup variable before reading it, and bounds its loops).

use super::error::WgpuError;
use dsr_kernels::{BindingKind, KernelInfo};
use std::fmt;
use std::num::NonZeroU64;

/// How much wgpu guards a kernel at run time.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum ShaderChecks {
    /// As close to the ash core as WGSL through wgpu gets: no bounds-check clamps, no
    /// workgroup-memory zeroing (loop bounding and division guards kept). Sound under the kernels crate's
    /// contract: every kernel checks each buffer access against `arrayLength`, indexes its
    /// workgroup arrays within bounds by construction and writes each workgroup variable
    /// before reading it. The default.
    #[default]
    Trusted,
    /// wgpu's defaults: every buffer and array index clamped, workgroup memory zeroed at
    /// every workgroup's start. Slower; for comparison, or to rule the contract out while
    /// hunting a bug.
    Checked,
}

/// Which compiled form of the kernels a context's pipelines are built from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KernelSource {
    /// The kernels crate's SPIR-V ([`KernelInfo::spirv`]) through wgpu's shader passthrough
    /// ([`::wgpu::Features::PASSTHROUGH_SHADERS`]): byte for byte the module the ash core
    /// runs, its barriers rescoped to workgroup memory (naga's WGSL path gives
    /// `storageBarrier` Device memory scope, a GPU-wide fence on NVIDIA). Only where
    /// [`spirv_passthrough`] holds.
    Spirv,
    /// The kernel's WGSL ([`KernelInfo::wgsl`]) compiled by wgpu with the context's
    /// [`ShaderChecks`]: the fallback where passthrough is unavailable, and the only source
    /// for [`ShaderChecks::Checked`].
    Wgsl,
}

impl KernelSource {
    /// `SPIR-V passthrough` or `WGSL`, as `dsr info` and the benches print it.
    pub fn name(self) -> &'static str {
        match self {
            Self::Spirv => "SPIR-V passthrough",
            Self::Wgsl => "WGSL",
        }
    }
}

impl fmt::Display for KernelSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The device features [`KernelSource::Spirv`] needs: `PASSTHROUGH_SHADERS`, and `SUBGROUP`,
/// which wgpu's Vulkan backend offers only on a Vulkan 1.1+ device (it reads subgroup
/// properties only there), the first version that accepts the kernels crate's SPIR-V 1.3.
/// wgpu reports no Vulkan version, so `SUBGROUP` is the evidence; a device without it runs
/// the WGSL.
pub const SPIRV_PASSTHROUGH_FEATURES: ::wgpu::Features =
    ::wgpu::Features::PASSTHROUGH_SHADERS.union(::wgpu::Features::SUBGROUP);

/// Whether a device with `features` runs the kernels crate's SPIR-V
/// ([`KernelSource::Spirv`]): it was created with [`SPIRV_PASSTHROUGH_FEATURES`].
pub fn spirv_passthrough(features: ::wgpu::Features) -> bool {
    features.contains(SPIRV_PASSTHROUGH_FEATURES)
}

/// The bind group layout entries of `kernel`: index = group number, each sorted by binding.
/// `min_binding_size` is the reflected [`dsr_kernels::Binding::min_size`].
pub fn layout_entries(kernel: &KernelInfo) -> Vec<Vec<::wgpu::BindGroupLayoutEntry>> {
    let groups = kernel.bindings.iter().map(|b| b.group as usize + 1).max().unwrap_or(0);
    let mut out = vec![Vec::new(); groups];
    for b in kernel.bindings {
        let ty = match b.kind {
            BindingKind::Uniform => ::wgpu::BufferBindingType::Uniform,
            BindingKind::StorageRead => ::wgpu::BufferBindingType::Storage { read_only: true },
            BindingKind::StorageReadWrite => ::wgpu::BufferBindingType::Storage { read_only: false },
        };
        out[b.group as usize].push(::wgpu::BindGroupLayoutEntry {
            binding: b.binding,
            visibility: ::wgpu::ShaderStages::COMPUTE,
            ty: ::wgpu::BindingType::Buffer {
                ty,
                has_dynamic_offset: false,
                min_binding_size: NonZeroU64::new(b.min_size),
            },
            count: None,
        });
    }
    for group in &mut out {
        group.sort_by_key(|e| e.binding);
    }
    out
}

/// A kernel's compute pipeline and bind group layouts.
#[derive(Debug)]
pub struct KernelPipeline {
    kernel: &'static KernelInfo,
    source: KernelSource,
    pub(crate) layouts: Vec<::wgpu::BindGroupLayout>,
    pub(crate) pipeline: ::wgpu::ComputePipeline,
}

/// `kernel`'s shader module from `source`: the one `unsafe` entry point of the wgpu backend
/// (both sources skip checks wgpu would otherwise add, so both calls are `unsafe` in wgpu).
/// The caller has checked that the source exists and that [`KernelSource::Spirv`] is only
/// asked of a device where [`spirv_passthrough`] holds, with [`ShaderChecks::Trusted`].
fn shader_module(
    device: &::wgpu::Device,
    kernel: &'static KernelInfo,
    source: KernelSource,
    checks: ShaderChecks,
) -> ::wgpu::ShaderModule {
    match (source, checks) {
        (KernelSource::Spirv, _) => {
            debug_assert!(spirv_passthrough(device.features()) && checks == ShaderChecks::Trusted);
            let entry = ::wgpu::PassthroughShaderEntryPoint {
                name: kernel.entry_point.into(),
                workgroup_size: kernel.workgroup_size.into(),
            };
            let desc = ::wgpu::ShaderModuleDescriptorPassthrough {
                label: Some(kernel.name),
                entry_points: vec![entry].into(),
                spirv: Some(kernel.spirv.into()),
                ..Default::default()
            };
            // SAFETY: wgpu hands these words to vkCreateShaderModule unvalidated, so they must
            // be a valid SPIR-V module this device accepts, whose interface matches the
            // pipeline layout, and which never accesses memory out of bounds:
            // - valid: dsr_kernels' build.rs writes it with naga from WGSL that naga's
            //   validator accepted (ValidationFlags::all), and only rewrites each
            //   OpControlBarrier's memory-scope operand to its execution-scope id, an existing
            //   constant (`workgroup_scoped_barriers`); kernels/tests/reflection.rs parses the
            //   result back with naga's SPIR-V front end and validates it again. It is the
            //   module the ash core creates from the same static.
            // - accepted: SPIR-V 1.3 needs Vulkan 1.1, which `SUBGROUP` on the device proves
            //   (see `SPIRV_PASSTHROUGH_FEATURES`); its capabilities are `Shader`, plus the
            //   GroupNonUniform ones only in the subgroup variant, which runs only on a device
            //   with `SUBGROUP` (`runs_kernel`), which enables Vulkan's subgroup operations.
            // - interface: the layout built below comes from `kernel.bindings`, which the
            //   kernels crate reflects from the same naga module the SPIR-V is written from;
            //   the entry point is `kernel.entry_point`, reflected likewise.
            // - bounds: the module has no bounds-check clamps; every dsr_kernels kernel checks
            //   each buffer access against `arrayLength` (Vulkan's OpArrayLength of the bound
            //   range), indexes its workgroup arrays within bounds by construction, writes each
            //   workgroup variable before reading it and bounds its loops (naga's loop bounding
            //   is kept), the kernels crate's contract that the ash core already relies on.
            unsafe { device.create_shader_module_passthrough(desc) }
        }
        (KernelSource::Wgsl, ShaderChecks::Checked) => {
            device.create_shader_module(::wgpu::ShaderModuleDescriptor {
                label: Some(kernel.name),
                source: ::wgpu::ShaderSource::Wgsl(kernel.wgsl.into()),
            })
        }
        (KernelSource::Wgsl, ShaderChecks::Trusted) => {
            let desc = ::wgpu::ShaderModuleDescriptor {
                label: Some(kernel.name),
                source: ::wgpu::ShaderSource::Wgsl(kernel.wgsl.into()),
            };
            let mut runtime = ::wgpu::ShaderRuntimeChecks::checked();
            runtime.bounds_checks = false;
            // SAFETY: only bounds checks are dropped (loop bounding and division guards
            // stay, as in the ash core's SPIR-V), and `kernel` is one of dsr_kernels' WGSL
            // kernels, each of which checks every buffer access against `arrayLength` and
            // indexes its fixed-size arrays within bounds by construction (the kernels
            // crate's invariant; see the module docs).
            unsafe { device.create_shader_module_trusted(desc, runtime) }
        }
    }
}

impl KernelPipeline {
    /// Builds `kernel`'s pipeline on `device` from `source` ([`KernelSource::Spirv`] only on
    /// a device where [`spirv_passthrough`] holds, and only with [`ShaderChecks::Trusted`]:
    /// the SPIR-V has no wgpu checks to keep). wgpu's own errors (a limit the device lacks,
    /// e.g. workgroup storage) come back as [`WgpuError::Device`], not as a panic.
    pub(crate) fn new(
        device: &::wgpu::Device,
        kernel: &'static KernelInfo,
        source: KernelSource,
        checks: ShaderChecks,
    ) -> Result<Self, WgpuError> {
        match source {
            KernelSource::Wgsl if kernel.wgsl.is_empty() => {
                return Err(WgpuError::Unsupported {
                    what: "a kernel without WGSL",
                    why: format!(
                        "kernel `{}` has only SPIR-V (a GLSL kernel); wgpu compiles WGSL kernels",
                        kernel.name
                    ),
                });
            }
            KernelSource::Spirv if kernel.spirv.is_empty() => {
                return Err(WgpuError::Unsupported {
                    what: "a kernel without SPIR-V",
                    why: format!("kernel `{}` has no SPIR-V", kernel.name),
                });
            }
            KernelSource::Spirv if checks == ShaderChecks::Checked => {
                return Err(WgpuError::InvalidArgument(format!(
                    "kernel `{}`: {} cannot add wgpu's checks (ShaderChecks::Checked); use WGSL",
                    kernel.name,
                    KernelSource::Spirv
                )));
            }
            KernelSource::Spirv if !spirv_passthrough(device.features()) => {
                return Err(WgpuError::Unsupported {
                    what: "SPIR-V passthrough",
                    why: format!(
                        "the device was not created with {:?}",
                        SPIRV_PASSTHROUGH_FEATURES.difference(device.features())
                    ),
                });
            }
            KernelSource::Spirv | KernelSource::Wgsl => {}
        }
        super::context::scoped(device, "create the kernel pipeline", || {
            let module = shader_module(device, kernel, source, checks);
            let layouts: Vec<::wgpu::BindGroupLayout> = layout_entries(kernel)
                .iter()
                .map(|entries| {
                    device.create_bind_group_layout(&::wgpu::BindGroupLayoutDescriptor {
                        label: Some(kernel.name),
                        entries,
                    })
                })
                .collect();
            let refs: Vec<Option<&::wgpu::BindGroupLayout>> = layouts.iter().map(Some).collect();
            let layout = device.create_pipeline_layout(&::wgpu::PipelineLayoutDescriptor {
                label: Some(kernel.name),
                bind_group_layouts: &refs,
                immediate_size: 0,
            });
            let pipeline = device.create_compute_pipeline(&::wgpu::ComputePipelineDescriptor {
                label: Some(kernel.name),
                layout: Some(&layout),
                module: &module,
                entry_point: Some(kernel.entry_point),
                compilation_options: ::wgpu::PipelineCompilationOptions {
                    constants: &[],
                    // Kernels write every workgroup variable before reading it (the kernels
                    // crate's rule); the ash core's SPIR-V does not zero either. (wgpu ignores
                    // this for a passthrough module, which it does not rewrite.)
                    zero_initialize_workgroup_memory: checks == ShaderChecks::Checked,
                },
                cache: None,
            });
            Self { kernel, source, layouts, pipeline }
        })
    }

    /// The compiled form this pipeline was built from.
    pub fn source(&self) -> KernelSource {
        self.source
    }

    /// The kernel this pipeline runs.
    pub fn kernel(&self) -> &'static KernelInfo {
        self.kernel
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every kernel, the subgroup variant included, builds through wgpu where the adapter
    /// has subgroups: its WGSL (naga's WGSL front end, wgpu's validation and SPIR-V, the
    /// driver) in both check modes, and its SPIR-V through passthrough where the adapter
    /// offers it; whether or not this device's subgroup size lets the variant run. Catches a
    /// kernel that only the kernels crate's own naga options accept, or SPIR-V the driver
    /// refuses.
    #[test]
    fn every_kernel_builds_through_wgpu_from_wgsl_and_from_spirv() {
        let require_gpu = std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1");
        let instance = super::super::context::instance();
        let Ok(adapter) =
            pollster::block_on(instance.request_adapter(&::wgpu::RequestAdapterOptions::default()))
        else {
            assert!(!require_gpu, "DSR_REQUIRE_GPU=1 but wgpu lists no adapter");
            eprintln!("NOTICE: wgpu kernel compile test skipped: no adapter");
            return;
        };
        let offered = adapter.features();
        let required_features =
            offered & (::wgpu::Features::SUBGROUP | ::wgpu::Features::PASSTHROUGH_SHADERS);
        let (device, _queue) = pollster::block_on(adapter.request_device(&::wgpu::DeviceDescriptor {
            required_features,
            required_limits: adapter.limits(),
            ..Default::default()
        }))
        .expect("request_device");
        let subgroups = required_features.contains(::wgpu::Features::SUBGROUP);
        let passthrough = spirv_passthrough(device.features());
        let mut built = Vec::new();
        for kernel in dsr_kernels::KERNELS.iter() {
            // Byte-store kernels need 8-bit storage, which wgpu cannot enable.
            if (kernel.subgroup_size != 0 && !subgroups) || kernel.storage_8bit {
                continue;
            }
            let mut modes = Vec::new();
            if !kernel.wgsl.is_empty() {
                modes.extend([
                    (KernelSource::Wgsl, ShaderChecks::Trusted),
                    (KernelSource::Wgsl, ShaderChecks::Checked),
                ]);
            }
            if passthrough && !kernel.spirv.is_empty() {
                modes.push((KernelSource::Spirv, ShaderChecks::Trusted));
            }
            for (source, checks) in modes {
                let p = KernelPipeline::new(&device, kernel, source, checks)
                    .unwrap_or_else(|e| panic!("{} ({source}, {checks:?}): {e}", kernel.name));
                assert_eq!(p.layouts.len(), layout_entries(kernel).len());
                assert_eq!(p.source(), source);
                built.push(format!("{} ({source}, {checks:?})", kernel.name));
            }
        }
        eprintln!("built through wgpu: {built:?}");
        assert!(built.iter().any(|b| b.starts_with(&format!("{} (WGSL", dsr_kernels::GDEFLATE_DECODE.name))));
        if passthrough {
            assert!(
                built.contains(&format!(
                    "{} (SPIR-V passthrough, Trusted)",
                    dsr_kernels::GDEFLATE_DECODE.name
                ))
            );
        }
        // SPIR-V with wgpu's checks does not exist: refused, not silently unchecked.
        if passthrough {
            match KernelPipeline::new(
                &device,
                &dsr_kernels::GDEFLATE_DECODE,
                KernelSource::Spirv,
                ShaderChecks::Checked,
            ) {
                Err(WgpuError::InvalidArgument(msg)) => assert!(msg.contains("Checked"), "{msg}"),
                other => panic!("expected a refusal, got {other:?}"),
            }
        }
    }

    /// A device created without `PASSTHROUGH_SHADERS` gets a clear `Unsupported` for the
    /// SPIR-V, before wgpu is asked (whose default handler would panic).
    #[test]
    fn spirv_on_a_device_without_passthrough_is_unsupported() {
        let instance = super::super::context::instance();
        let Ok(adapter) =
            pollster::block_on(instance.request_adapter(&::wgpu::RequestAdapterOptions::default()))
        else {
            eprintln!("NOTICE: skipped: no adapter");
            return;
        };
        let (device, _queue) =
            pollster::block_on(adapter.request_device(&::wgpu::DeviceDescriptor::default()))
                .expect("request_device");
        assert!(!device.features().contains(::wgpu::Features::PASSTHROUGH_SHADERS));
        match KernelPipeline::new(
            &device,
            &dsr_kernels::GDEFLATE_DECODE,
            KernelSource::Spirv,
            ShaderChecks::Trusted,
        ) {
            Err(e @ WgpuError::Unsupported { .. }) => {
                assert!(e.to_string().contains("PASSTHROUGH_SHADERS"), "{e}")
            }
            other => panic!("expected Unsupported, got {other:?}"),
        }
    }
}
