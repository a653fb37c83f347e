//! GLSL kernels (feature `glsl`): the part of `build.rs` that compiles every `glsl/<name>.comp`
//! with shaderc and reflects it into the same [`CompiledKernel`] as a WGSL kernel, so it lands
//! in the same generated table (`KERNELS`, a `<NAME>` constant, `*_LAYOUT`s).
//!
//! For each `glsl/<name>.comp` (sorted by file name) [`compile_kernel`]
//!
//! 1. compiles the source with shaderc (glslang) as a compute shader with entry point `main`,
//!    for Vulkan 1.1 / SPIR-V 1.3 (the version the WGSL kernels target), without optimisation
//!    (the driver optimises; the `OpName`s stay, for reflection and validation-layer messages);
//!    `#include "file"` resolves against the including file's directory, `#include <file>`
//!    against `glsl/`,
//! 2. parses that SPIR-V with naga's SPIR-V front end (`spv-in`) and validates it with exactly
//!    the WGSL kernels' [`CAPABILITIES`],
//! 3. checks the same kernel rules: one compute entry point, a workgroup size fixed in the
//!    source (no specialization constants), only uniform and storage buffer bindings, each used
//!    by the entry point,
//! 4. reflects the workgroup size, bindings and struct layouts with the WGSL path's own code
//!    ([`reflect_bindings`]; GLSL `set = s, binding = b` is `@group(s) @binding(b)`).
//!
//! The embedded SPIR-V is shaderc's, unchanged; naga only reads it. One correction is made to
//! naga's reading: for SPIR-V 1.3 storage buffers naga ignores GLSL's `readonly` (glslang puts
//! `NonWritable` on the block's members), so [`read_only_bindings`] finds those in the SPIR-V
//! and they are reflected as `StorageRead`. (A test re-parsing the SPIR-V with plain naga sees
//! such a binding as read-write.)
//!
//! Bounds: as for WGSL kernels, nothing adds bounds checks; every GLSL kernel checks each
//! buffer access itself (against `.length()` of its runtime array).
//!
//! # How a shader error is reported
//!
//! Compile errors are shaderc's messages, one per line, each starting with the real path of the
//! file (or of the included file) and the line, and they fail the build:
//!
//! ```text
//! /work/main/kernels/glsl/fill_pattern.comp:40: error: 'dst_size' : undeclared identifier
//! ```
//!
//! Reflection and kernel-rule errors are one line that starts with the shader path, as for
//! WGSL. `tests/glsl.rs` runs this build script on broken kernels and checks these messages.

use super::{CAPABILITIES, CompiledKernel, SPIRV_VERSION, kernel_name, only_entry_point, reflect_resources};
use naga::front::spv as spv_in;
use naga::valid::{ValidationFlags, Validator};
use naga::{AddressSpace, ShaderStage, StorageAccess};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::{env, fs};

/// File extension of a GLSL kernel in `glsl/` (other files there, e.g. `*.glsl` includes, are
/// not kernels).
pub const EXTENSION: &str = "comp";

/// Entry point of every GLSL kernel (GLSL has no other).
const ENTRY_POINT: &str = "main";

/// Deepest `#include` nesting accepted (a guard against include cycles).
const MAX_INCLUDE_DEPTH: usize = 32;

// shaderc is asked for exactly the SPIR-V version the WGSL kernels get.
const _: () = assert!(SPIRV_VERSION.0 == 1 && SPIRV_VERSION.1 == 3);

/// Tells cargo to rerun on changes under `glsl/`, and tells the crate's tests where this build
/// script is (`DSR_KERNELS_BUILD_SCRIPT`, for `tests/glsl.rs`, which runs it on broken
/// kernels).
pub fn announce(manifest_dir: &Path) {
    println!("cargo::rerun-if-changed={}", manifest_dir.join("glsl").display());
    if let Ok(exe) = env::current_exe() {
        println!("cargo::rustc-env=DSR_KERNELS_BUILD_SCRIPT={}", exe.display());
    }
}

/// The GLSL kernels of `glsl_dir`, sorted by file name.
pub fn kernel_paths(glsl_dir: &Path) -> Result<Vec<PathBuf>, String> {
    let cannot_list = |e: std::io::Error| format!("error: cannot list {}: {e}", glsl_dir.display());
    let mut paths = Vec::new();
    for entry in fs::read_dir(glsl_dir).map_err(cannot_list)? {
        let path = entry.map_err(cannot_list)?.path();
        if path.extension().is_some_and(|ext| ext == EXTENSION) {
            paths.push(path);
        }
    }
    paths.sort();
    Ok(paths)
}

/// Compiles and reflects one GLSL kernel. `path` must be the file's real path: shaderc puts it
/// (and resolves `#include "..."` against its directory) in every message. Errors are
/// complete, human-readable messages.
pub fn compile_kernel(path: &str, source: &str) -> Result<CompiledKernel, String> {
    let name = kernel_name(path)?;
    let spirv = compile_glsl(path, source)?;
    let version = (u32::from(SPIRV_VERSION.0) << 16) | (u32::from(SPIRV_VERSION.1) << 8);
    if spirv.get(1) != Some(&version) {
        return Err(format!(
            "{path}: error: shaderc did not produce SPIR-V {}.{} (header {:x?})",
            SPIRV_VERSION.0,
            SPIRV_VERSION.1,
            spirv.get(..2)
        ));
    }

    let options = spv_in::Options {
        adjust_coordinate_space: false,
        strict_capabilities: true,
        block_ctx_dump_prefix: None,
    };
    let mut module = spv_in::Frontend::new(spirv.iter().copied(), &options).parse().map_err(|e| {
        format!(
            "{path}: error: naga's SPIR-V front end cannot read the compiled kernel, so it cannot be \
             reflected: {}",
            chain(&e)
        )
    })?;
    if !module.overrides.is_empty() {
        return Err(format!(
            "{path}: error: specialization constants (`constant_id`, `local_size_x_id`, ...) are not \
             supported (the reflected workgroup size and the SPIR-V must be final)"
        ));
    }
    let read_only = read_only_bindings(&spirv);
    for (_, var) in module.global_variables.iter_mut() {
        if let (AddressSpace::Storage { access }, Some(rb)) = (&mut var.space, var.binding) {
            if read_only.contains(&(rb.group, rb.binding)) {
                *access = StorageAccess::LOAD;
            }
        }
        // A block without an instance name (`buffer Words { uint w[]; };`) goes by its block name.
        if var.name.as_deref().is_none_or(str::is_empty) {
            var.name = module.types[var.ty].name.clone();
        }
    }

    let info = Validator::new(ValidationFlags::all(), CAPABILITIES).validate(&module).map_err(|e| {
        format!(
            "{path}: error: naga rejects the compiled kernel (validation with the kernels' \
             capabilities {CAPABILITIES:?}): {}",
            chain(e.as_inner())
        )
    })?;
    let ep = only_entry_point(path, &module)?;
    if ep.stage != ShaderStage::Compute || ep.name != ENTRY_POINT {
        return Err(format!(
            "{path}: error: entry point `{}` is a {:?} shader; GLSL kernels are compute shaders \
             with entry point `{ENTRY_POINT}`",
            ep.name, ep.stage
        ));
    }

    let (bindings, structs) = reflect_resources(path, &module, &info)?;

    Ok(CompiledKernel {
        name,
        entry_point: ep.name.clone(),
        workgroup_size: ep.workgroup_size,
        bindings,
        structs,
        spirv,
        // SPIR-V keeps no names for constants: nothing to reflect.
        constants: Vec::new(),
        variant: None,
        preprocessed: None,
        subgroup_size: 0,
        storage_8bit: false,
    })
}

/// GLSL → SPIR-V words with shaderc. Errors are shaderc's messages (`path:line: error: ...`).
fn compile_glsl(path: &str, source: &str) -> Result<Vec<u32>, String> {
    if source.contains('\0') || path.contains('\0') {
        return Err(format!("{path}: error: the path or the source contains a NUL byte"));
    }
    let shaderc_err = |e: shaderc::Error| format!("{path}: error: shaderc: {e}");
    let compiler = shaderc::Compiler::new().map_err(shaderc_err)?;
    let mut options = shaderc::CompileOptions::new().map_err(shaderc_err)?;
    options.set_source_language(shaderc::SourceLanguage::GLSL);
    options.set_target_env(shaderc::TargetEnv::Vulkan, shaderc::EnvVersion::Vulkan1_1 as u32);
    options.set_target_spirv(shaderc::SpirvVersion::V1_3);
    options.set_optimization_level(shaderc::OptimizationLevel::Zero);
    let kernel_dir = Path::new(path).parent().unwrap_or(Path::new(".")).to_owned();
    options.set_include_callback(move |requested, kind, requesting, depth| {
        include(&kernel_dir, requested, kind, requesting, depth)
    });

    let artifact = compiler
        .compile_into_spirv(source, shaderc::ShaderKind::Compute, path, ENTRY_POINT, Some(&options))
        .map_err(|e| match e {
            // One `path:line: error: message` per line, as glslang reports them.
            shaderc::Error::CompilationError(_, messages) => messages.trim_end().to_owned(),
            e => shaderc_err(e),
        })?;
    for line in artifact.get_warning_messages().lines() {
        println!("cargo::warning={line}");
    }
    Ok(artifact.as_binary().to_vec())
}

/// shaderc's include callback: `#include "file"` is looked up beside the including file,
/// `#include <file>` in the kernels' directory.
fn include(
    kernel_dir: &Path,
    requested: &str,
    kind: shaderc::IncludeType,
    requesting: &str,
    depth: usize,
) -> shaderc::IncludeCallbackResult {
    if depth > MAX_INCLUDE_DEPTH {
        return Err(format!("#include nested deeper than {MAX_INCLUDE_DEPTH} (a cycle?)"));
    }
    let base = match kind {
        shaderc::IncludeType::Relative => Path::new(requesting).parent().unwrap_or(kernel_dir),
        shaderc::IncludeType::Standard => kernel_dir,
    };
    let path = base.join(requested);
    let content = fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if content.contains('\0') {
        return Err(format!("{} contains a NUL byte", path.display()));
    }
    println!("cargo::rerun-if-changed={}", path.display());
    Ok(shaderc::ResolvedInclude { resolved_name: path.display().to_string(), content })
}

/// The `(set, binding)` of every buffer variable that is read-only in `spirv`: decorated
/// `NonWritable` itself, or a block whose members all are (what glslang emits for GLSL
/// `readonly buffer`). Malformed SPIR-V yields what was found before the damage.
fn read_only_bindings(spirv: &[u32]) -> BTreeSet<(u32, u32)> {
    const OP_TYPE_STRUCT: u32 = 30;
    const OP_TYPE_POINTER: u32 = 32;
    const OP_VARIABLE: u32 = 59;
    const OP_DECORATE: u32 = 71;
    const OP_MEMBER_DECORATE: u32 = 72;
    const NON_WRITABLE: u32 = 24;
    const BINDING: u32 = 33;
    const DESCRIPTOR_SET: u32 = 34;

    let mut non_writable = BTreeSet::new();
    let mut non_writable_members: BTreeMap<u32, BTreeSet<u32>> = BTreeMap::new();
    let mut sets = BTreeMap::new();
    let mut binding_numbers = BTreeMap::new();
    let mut member_counts = BTreeMap::new();
    let mut pointees = BTreeMap::new();
    let mut variables = Vec::new();
    // Instructions start after the 5-word header; each begins with (word count << 16) | opcode.
    let mut rest = spirv.get(5..).unwrap_or_default();
    while let Some(&first) = rest.first() {
        let count = (first >> 16) as usize;
        let Some(inst) = rest.get(..count).filter(|_| count > 0) else { break };
        match (first & 0xffff, inst) {
            (OP_DECORATE, &[_, id, NON_WRITABLE, ..]) => {
                non_writable.insert(id);
            }
            (OP_DECORATE, &[_, id, DESCRIPTOR_SET, set, ..]) => {
                sets.insert(id, set);
            }
            (OP_DECORATE, &[_, id, BINDING, binding, ..]) => {
                binding_numbers.insert(id, binding);
            }
            (OP_MEMBER_DECORATE, &[_, id, member, NON_WRITABLE, ..]) => {
                non_writable_members.entry(id).or_default().insert(member);
            }
            (OP_TYPE_STRUCT, &[_, id, ref members @ ..]) => {
                member_counts.insert(id, members.len());
            }
            (OP_TYPE_POINTER, &[_, id, _class, pointee, ..]) => {
                pointees.insert(id, pointee);
            }
            (OP_VARIABLE, &[_, ty, id, ..]) => variables.push((id, ty)),
            _ => {}
        }
        rest = &rest[count..];
    }

    let mut out = BTreeSet::new();
    for (var, ty) in variables {
        let (Some(&set), Some(&binding)) = (sets.get(&var), binding_numbers.get(&var)) else { continue };
        let block = pointees.get(&ty).copied().unwrap_or_default();
        let all_members = match (member_counts.get(&block), non_writable_members.get(&block)) {
            (Some(&n), Some(members)) => n > 0 && members.len() == n,
            _ => false,
        };
        if non_writable.contains(&var) || all_members {
            out.insert((set, binding));
        }
    }
    out
}

/// `e` and its sources, `: `-separated.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut source = e.source();
    while let Some(inner) = source {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        source = inner.source();
    }
    s
}
