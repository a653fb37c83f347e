//! Build script of `dsr-kernels`: compiles and reflects every built-in WGSL kernel.
//!
//! For each `shaders/<name>.wgsl` (sorted by file name) it
//!
//! 1. parses the source with naga's WGSL front end,
//! 2. validates the module with [`ValidationFlags::all`] and exactly [`CAPABILITIES`],
//! 3. checks the kernel rules: one `@compute` entry point, a literal/const workgroup size (no
//!    `override`s), and only uniform / storage buffer bindings, each used by the entry point,
//! 4. writes SPIR-V (see [`spirv_options`]) to `$OUT_DIR/<name>.spv`,
//! 5. reflects entry point, workgroup size, bindings and the layout of every struct that lives
//!    in a buffer binding, using naga's `proc::Layouter`,
//!
//! and then writes `$OUT_DIR/kernels.rs`, which `src/lib.rs` includes. Nothing about a kernel
//! is restated by hand.
//!
//! # How a shader error is reported
//!
//! Any failure fails the build. Parse and validation errors are rendered by naga's
//! `emit_to_string_with_path`, so they point at the shader line and column, e.g. (a `;`
//! removed after `let src_len = arrayLength(&src)` in `copy.wgsl`):
//!
//! ```text
//! error: failed to run custom build command for `dsr-kernels v0.1.0 (/work/main/kernels)`
//! ...
//! --- stderr
//! error: expected `;`, found "let"
//!    ┌─ /work/main/kernels/shaders/copy.wgsl:37:5
//!    │
//! 37 │     let dst_len = arrayLength(&dst);
//!    │     ^^^ expected `;`
//! ```
//!
//! Kernel-rule and SPIR-V errors are one line that starts with the shader path. The file is
//! also `#[path]`-included by `tests/build_errors.rs`, which checks these messages.
//!
//! # GLSL kernels (feature `glsl`)
//!
//! With the `glsl` feature, every `glsl/<name>.comp` is compiled by shaderc and reflected by
//! naga's SPIR-V front end into the same table; that code lives in `build_glsl.rs` (module
//! `glsl`), compiled only into the build script itself (`not(test)`: the tests that include
//! this file have no shaderc).

use naga::back::spv;
use naga::proc::{BoundsCheckPolicies, BoundsCheckPolicy, Layouter};
use naga::valid::{Capabilities, ModuleInfo, ValidationFlags, Validator};
use naga::{AddressSpace, Handle, Module, ShaderStage, StorageAccess, Type, TypeInner};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::{env, fs, process};

#[cfg(all(feature = "glsl", not(test)))]
#[path = "build_glsl.rs"]
mod glsl;

/// naga validation capabilities the kernels may use. Adding one is a decision: the Vulkan core
/// must then require the matching device feature.
pub const CAPABILITIES: Capabilities = Capabilities::empty();

/// The subgroup variant of a kernel (see [`variants`]): its name suffix, and the subgroup size
/// it needs (the workgroup must be exactly one subgroup of this size).
pub const SUBGROUP_VARIANT: &str = "subgroup";
/// The subgroup size a subgroup variant needs (GDeflate's 32 lanes).
pub const SUBGROUP_VARIANT_SIZE: u32 = 32;
/// Subgroup operations a subgroup variant may use; the Vulkan core creates its pipeline only
/// on devices that support all of them in compute shaders.
pub const SUBGROUP_OPERATIONS: naga::valid::SubgroupOperationSet = naga::valid::SubgroupOperationSet::BASIC
    .union(naga::valid::SubgroupOperationSet::BALLOT)
    .union(naga::valid::SubgroupOperationSet::ARITHMETIC)
    .union(naga::valid::SubgroupOperationSet::SHUFFLE);

/// SPIR-V version emitted: 1.3, the version core Vulkan 1.1 accepts.
pub const SPIRV_VERSION: (u8, u8) = (1, 3);

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let shader_dir = manifest_dir.join("shaders");
    println!("cargo::rerun-if-changed=build.rs");
    println!("cargo::rerun-if-changed={}", shader_dir.display());
    #[cfg(all(feature = "glsl", not(test)))]
    glsl::announce(&manifest_dir);

    if let Err(message) = run(&shader_dir, &out_dir) {
        eprintln!("{message}");
        process::exit(1);
    }
}

/// Compiles every shader of `shader_dir` and writes the `.spv` files and `kernels.rs`.
fn run(shader_dir: &Path, out_dir: &Path) -> Result<(), String> {
    let mut paths = Vec::new();
    let entries =
        fs::read_dir(shader_dir).map_err(|e| format!("error: cannot list {}: {e}", shader_dir.display()))?;
    for entry in entries {
        let path = entry.map_err(|e| format!("error: cannot list {}: {e}", shader_dir.display()))?.path();
        if path.extension().is_some_and(|ext| ext == "wgsl") {
            paths.push(path);
        }
    }
    paths.sort();
    #[cfg(all(feature = "glsl", not(test)))]
    paths.extend(glsl::kernel_paths(&shader_dir.with_file_name("glsl"))?);

    let mut kernels = Vec::new();
    let mut structs = BTreeMap::new();
    let mut errors = Vec::new();
    for path in &paths {
        let shown = path.display().to_string();
        let compiled = fs::read_to_string(path)
            .map_err(|e| format!("error: cannot read {shown}: {e}"))
            .and_then(|source| match path.extension() {
                #[cfg(all(feature = "glsl", not(test)))]
                Some(ext) if ext == glsl::EXTENSION => glsl::compile_kernel(&shown, &source).map(|k| vec![k]),
                _ => {
                    let mut all = Vec::new();
                    for (variant, text) in variants(&shown, &source)? {
                        let kernel = compile_variant(&shown, &text, variant)?;
                        let bytes = byte_kernel(&shown, &kernel)?;
                        all.push(kernel);
                        all.extend(bytes);
                    }
                    Ok(all)
                }
            });
        for kernel in compiled.unwrap_or_else(|e| {
            errors.push(e);
            Vec::new()
        }) {
            {
                if let Some(text) = &kernel.preprocessed {
                    let wgsl_path = out_dir.join(format!("{}.wgsl", kernel.name));
                    fs::write(&wgsl_path, text)
                        .map_err(|e| format!("error: cannot write {}: {e}", wgsl_path.display()))?;
                }
                let spv_path = out_dir.join(format!("{}.spv", kernel.name));
                let bytes: Vec<u8> = kernel.spirv.iter().flat_map(|w| w.to_le_bytes()).collect();
                fs::write(&spv_path, bytes)
                    .map_err(|e| format!("error: cannot write {}: {e}", spv_path.display()))?;
                if let Err(e) = merge_structs(&mut structs, &kernel) {
                    errors.push(e);
                }
                kernels.push((path.clone(), kernel));
            }
        }
    }
    if !errors.is_empty() {
        return Err(errors.join("\n"));
    }
    kernels.sort_by(|a, b| a.1.name.cmp(&b.1.name));
    if let Some(pair) = kernels.windows(2).find(|pair| pair[0].1.name == pair[1].1.name) {
        return Err(format!(
            "error: two kernels are named `{}`: {} and {}; rename one",
            pair[0].1.name,
            pair[0].0.display(),
            pair[1].0.display()
        ));
    }

    let code = generate(&kernels, &structs);
    let rs_path = out_dir.join("kernels.rs");
    fs::write(&rs_path, code).map_err(|e| format!("error: cannot write {}: {e}", rs_path.display()))
}

/// A binding's kind, mirrored by `dsr_kernels::BindingKind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `var<uniform>`.
    Uniform,
    /// `var<storage, read>`.
    StorageRead,
    /// `var<storage, read_write>`.
    StorageReadWrite,
}

/// A reflected binding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindingOut {
    /// Bind group (descriptor set).
    pub group: u32,
    /// Binding number in the group.
    pub binding: u32,
    /// Uniform or storage, and the storage access.
    pub kind: Kind,
    /// naga layouter size of the variable's type (one element for a runtime-sized array).
    pub min_size: u64,
    /// Name of the WGSL variable.
    pub var_name: String,
}

/// A reflected struct layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StructOut {
    /// Size in bytes.
    pub size: u32,
    /// Alignment in bytes.
    pub align: u32,
    /// `(member name, byte offset)` in declaration order.
    pub members: Vec<(String, u32)>,
}

/// One compiled kernel.
#[derive(Debug)]
pub struct CompiledKernel {
    /// Kernel name: the shader's file stem.
    pub name: String,
    /// Name of the `@compute` entry point.
    pub entry_point: String,
    /// `@workgroup_size`, `[x, y, z]`.
    pub workgroup_size: [u32; 3],
    /// Bindings used by the entry point, sorted by (group, binding).
    pub bindings: Vec<BindingOut>,
    /// Structs that live in buffer bindings, by WGSL name.
    pub structs: BTreeMap<String, StructOut>,
    /// SPIR-V words.
    pub spirv: Vec<u32>,
    /// Named `u32` constants of the source (see [`reflect_constants`]); empty for a variant
    /// (its constants are the base kernel's).
    pub constants: Vec<(String, u32)>,
    /// For a source with variants: the variant's suffix (`None` for the base kernel).
    pub variant: Option<&'static str>,
    /// For a source with variants: the WGSL text this kernel was compiled from (written to
    /// `$OUT_DIR/<name>.wgsl`, which `KernelInfo::wgsl` then holds).
    pub preprocessed: Option<String>,
    /// `KernelInfo::subgroup_size`: 0, or the subgroup size a subgroup variant needs.
    pub subgroup_size: u32,
    /// `KernelInfo::storage_8bit`: a byte-store kernel (see [`byte_kernel`]), which needs
    /// `storageBuffer8BitAccess` and has no WGSL of its own.
    pub storage_8bit: bool,
}

/// One kernel made from a source file: its variant suffix (`None` for the base kernel) and its
/// preprocessed text (`None`: the file itself).
pub type Variant = (Option<&'static str>, Option<String>);

/// Splits a WGSL source into its variants. A source without `//#` directives is one kernel,
/// returned as is (`None`, unchanged). A source with `//#if subgroup` … [`//#else` …]
/// `//#endif` sections (not nested; each directive alone on its line) gives two: the base
/// kernel (`None`: `#if` parts removed, `#else` parts kept) and the `subgroup` variant
/// (`Some("subgroup")`: the reverse). Removed lines become empty lines, so naga's messages
/// keep the line numbers of the file.
pub fn variants(path: &str, source: &str) -> Result<Vec<Variant>, String> {
    if !source.lines().any(|l| l.trim_start().starts_with("//#")) {
        return Ok(vec![(None, None)]);
    }
    // 0: outside, 1: in `#if`, 2: in `#else`.
    let mut state = 0;
    let (mut base, mut sub) = (String::new(), String::new());
    for (i, line) in source.lines().enumerate() {
        let directive = line.trim();
        let at = |what: &str| format!("{path}:{}: error: {what}", i + 1);
        let (b, g) = match (directive, state) {
            ("//#if subgroup", 0) => {
                state = 1;
                ("", "")
            }
            ("//#else", 1) => {
                state = 2;
                ("", "")
            }
            ("//#endif", 1 | 2) => {
                state = 0;
                ("", "")
            }
            (d, _) if d.starts_with("//#") => {
                return Err(at(&format!(
                    "unexpected directive `{d}` (only `//#if subgroup`, `//#else`, `//#endif`, not nested)"
                )));
            }
            (_, 0) => (line, line),
            (_, 1) => ("", line),
            (_, _) => (line, ""),
        };
        base.push_str(b);
        base.push('\n');
        sub.push_str(g);
        sub.push('\n');
    }
    if state != 0 {
        return Err(format!("{path}: error: `//#if subgroup` without `//#endif`"));
    }
    Ok(vec![(None, Some(base)), (Some(SUBGROUP_VARIANT), Some(sub))])
}

/// Compiles one variant from [`variants`]: `text` is its preprocessed source (`None`: the
/// file's own).
fn compile_variant(
    path: &str,
    text: &Option<String>,
    variant: Option<&'static str>,
) -> Result<CompiledKernel, String> {
    compile_with(path, text.as_deref(), variant)
}

/// The SPIR-V writer options used for every kernel.
///
/// Bounds checks: all policies are [`BoundsCheckPolicy::Unchecked`]. Every kernel checks its
/// own buffer accesses explicitly (against `arrayLength`) and that is the contract; naga adding
/// its own clamps on top would only cost instructions. The flip side: a kernel that forgets a
/// check has undefined behaviour on Vulkan unless `robustBufferAccess` is enabled. (wgpu
/// compiles the WGSL source itself, with its own policies.)
///
/// Bindings: no binding map, `fake_missing_bindings` on, so WGSL `@group(g) @binding(b)` maps
/// 1:1 to descriptor set `g`, binding `b`. Flags: `DEBUG` only (`OpName`s, for validation
/// layer messages), set explicitly so the output does not depend on the build profile.
/// Workgroup memory is **not** zero-initialised (`ZeroInitializeWorkgroupMemoryMode::None`):
/// every kernel writes each workgroup variable before reading it (a kernel rule, stated in
/// each shader), so naga's polyfill would only cost a pass over the arrays and a barrier per
/// workgroup; its `OpStore` of null into atomic arrays is also something naga's own SPIR-V
/// front end rejects, which `tests/reflection.rs` uses to re-validate the output.
/// Loops are **not** bounded by naga (`force_loop_bounding: false`): its bounding adds a 64-bit
/// iteration counter to every loop so that a driver may not assume an endless loop away, and
/// every kernel loop already terminates by construction (a kernel rule, stated in each shader:
/// the decode kernel's rounds are capped by its round budget). Measured on an H100, the
/// counters cost the decode kernel 12% (subgroup variant) to 46% (workgroup variant); see
/// docs/perf-notes.md, v6. Everything else is naga's default.
pub fn spirv_options() -> spv::Options<'static> {
    let unchecked = BoundsCheckPolicy::Unchecked;
    spv::Options {
        lang_version: SPIRV_VERSION,
        flags: spv::WriterFlags::DEBUG,
        fake_missing_bindings: true,
        capabilities: Some([spv::Capability::Shader].into_iter().collect()),
        bounds_check_policies: BoundsCheckPolicies {
            index: unchecked,
            buffer: unchecked,
            image_load: unchecked,
            binding_array: unchecked,
        },
        zero_initialize_workgroup_memory: spv::ZeroInitializeWorkgroupMemoryMode::None,
        force_loop_bounding: false,
        ..spv::Options::default()
    }
}

/// Compiles one WGSL kernel. `path` is used for messages only and its file stem names the
/// kernel. Errors are complete, human-readable messages.
pub fn compile_kernel(path: &str, source: &str) -> Result<CompiledKernel, String> {
    let mut kernel = compile_with(path, Some(source), None)?;
    kernel.preprocessed = None;
    Ok(kernel)
}

/// [`compile_kernel`] for `source` (`None`: read `path`) as variant `variant`.
fn compile_with(
    path: &str,
    source: Option<&str>,
    variant: Option<&'static str>,
) -> Result<CompiledKernel, String> {
    let owned;
    let source = match source {
        Some(s) => s,
        None => {
            owned = fs::read_to_string(path).map_err(|e| format!("error: cannot read {path}: {e}"))?;
            &owned
        }
    };
    let mut name = kernel_name(path)?;
    let subgroup = variant == Some(SUBGROUP_VARIANT);
    if let Some(v) = variant {
        name = format!("{name}_{v}");
    }
    let module =
        naga::front::wgsl::parse_str(source).map_err(|e| e.emit_to_string_with_path(source, path))?;
    let capabilities = if subgroup { CAPABILITIES | Capabilities::SUBGROUP } else { CAPABILITIES };
    let mut validator = Validator::new(ValidationFlags::all(), capabilities);
    if subgroup {
        validator
            .subgroup_stages(naga::valid::ShaderStages::COMPUTE)
            .subgroup_operations(SUBGROUP_OPERATIONS);
    }
    let info = validator.validate(&module).map_err(|e| e.emit_to_string_with_path(source, path))?;

    if !module.overrides.is_empty() {
        return Err(format!(
            "{path}: error: `override` declarations are not supported (the reflected workgroup \
             size and the SPIR-V must be final)"
        ));
    }
    let ep = only_entry_point(path, &module)?;
    if ep.stage != ShaderStage::Compute {
        return Err(format!(
            "{path}: error: entry point `{}` is a {:?} shader; kernels are @compute",
            ep.name, ep.stage
        ));
    }
    let (bindings, structs) = reflect_resources(path, &module, &info)?;

    let mut options = spirv_options();
    if subgroup {
        options.capabilities = Some(
            [
                spv::Capability::Shader,
                spv::Capability::GroupNonUniform,
                spv::Capability::GroupNonUniformBallot,
                spv::Capability::GroupNonUniformArithmetic,
                spv::Capability::GroupNonUniformShuffle,
            ]
            .into_iter()
            .collect(),
        );
    }
    let spirv = spv::write_vec(
        &module,
        &info,
        &options,
        Some(&spv::PipelineOptions { shader_stage: ShaderStage::Compute, entry_point: ep.name.clone() }),
    )
    .map_err(|e| format!("{path}: error: SPIR-V generation failed: {e}"))?;
    let spirv = workgroup_scoped_barriers(spirv)
        .map_err(|e| format!("{path}: error: SPIR-V barrier scoping failed: {e}"))?;

    Ok(CompiledKernel {
        name,
        entry_point: ep.name.clone(),
        workgroup_size: ep.workgroup_size,
        bindings,
        structs,
        spirv,
        constants: if variant.is_some() { Vec::new() } else { reflect_constants(&module) },
        variant,
        preprocessed: source_is_preprocessed(path, source),
        subgroup_size: if subgroup { SUBGROUP_VARIANT_SIZE } else { 0 },
        storage_8bit: false,
    })
}

/// The text to embed for a kernel compiled from `source`: `None` when it is the file itself.
fn source_is_preprocessed(path: &str, source: &str) -> Option<String> {
    (fs::read_to_string(path).ok().as_deref() != Some(source)).then(|| source.to_owned())
}

/// Gives every `OpControlBarrier` its execution scope as memory scope.
///
/// Why: WGSL's `workgroupBarrier` and `storageBarrier` synchronise the invocations of one
/// workgroup (WGSL spec, "Synchronization Built-in Functions": workgroup execution and memory
/// scope), but naga writes `storageBarrier` with **Device** memory scope, which NVIDIA's
/// compiler turns into a GPU-wide fence that waits for every outstanding write of the
/// invocation to reach device scope (measured on an H100: the decode kernel spends most of its
/// time there; see docs/perf-notes.md). A kernel never relies on a barrier to publish writes
/// to other workgroups (a dispatch's workgroups share no data), so workgroup scope is exact.
/// Execution scopes are naga's `Workgroup` or `Subgroup` constants, so the result reuses an
/// existing id. Errors only on malformed SPIR-V.
pub fn workgroup_scoped_barriers(mut words: Vec<u32>) -> Result<Vec<u32>, String> {
    const OP_CONTROL_BARRIER: u32 = 224;
    for (at, count, opcode) in instructions(&words)? {
        if opcode == OP_CONTROL_BARRIER {
            if count != 4 {
                return Err(format!("OpControlBarrier at word {at} has {count} words, expected 4"));
            }
            words[at + 2] = words[at + 1];
        }
    }
    Ok(words)
}

/// The instructions of a SPIR-V module after its 5-word header, as (first word, word count,
/// opcode). Errors only on malformed SPIR-V (a short header, a word count of 0 or past the end).
fn instructions(words: &[u32]) -> Result<Vec<(usize, usize, u32)>, String> {
    if words.len() < 5 {
        return Err("module shorter than its header".into());
    }
    let mut insts = Vec::new();
    let mut at = 5;
    while at < words.len() {
        let count = (words[at] >> 16) as usize;
        if count == 0 || at + count > words.len() {
            return Err(format!("instruction at word {at} has a bad word count {count}"));
        }
        insts.push((at, count, words[at] & 0xffff));
        at += count;
    }
    Ok(insts)
}

/// Name suffix of a byte-store kernel (see [`byte_kernel`]).
pub const BYTES_VARIANT: &str = "bytes";
/// The storage buffer a byte-store kernel writes with 8-bit stores.
pub const BYTES_BUFFER: &str = "dst";
/// The functions whose bodies [`byte_stores`] replaces. This one, `(a: u32, value: u32)`,
/// stores byte `value & 0xff` at byte address `a` of [`BYTES_BUFFER`].
pub const BYTES_STORE_FN: &str = "dst_byte_store";
/// `(a: u32) -> u32`: loads the byte at byte address `a` of [`BYTES_BUFFER`].
pub const BYTES_LOAD_FN: &str = "dst_byte_load";
/// `()`: zeroes the destination so that bytes can be OR-ed in, which byte stores do not need.
pub const BYTES_ZERO_FN: &str = "clear_destination";

/// The byte-store kernel of `kernel`, for a kernel that defines [`BYTES_STORE_FN`] (else
/// `None`): same bindings, workgroup and subgroup size, named `<name>_bytes`, whose SPIR-V is
/// [`byte_stores`] of the kernel's.
///
/// Why: WGSL has no 8-bit type, so a kernel that writes single bytes of a buffer must OR them
/// into 32-bit words with atomics, after zeroing those words, and read them back with atomic
/// loads. On NVIDIA global atomics are performed in L2 and the output is written twice (zeroes,
/// then bytes). Vulkan's `storageBuffer8BitAccess` (core 1.2, on NVIDIA, AMD, Intel and
/// lavapipe) gives plain byte stores and loads, which are what the Khronos and nvCOMP decoders
/// use. The WGSL stays the one source: the atomic kernel is what wgpu runs and what a device
/// without 8-bit storage gets; the byte-store kernel differs only in those three function bodies.
pub fn byte_kernel(path: &str, kernel: &CompiledKernel) -> Result<Option<CompiledKernel>, String> {
    let Some(spirv) =
        byte_stores(&kernel.spirv).map_err(|e| format!("{path}: error: byte-store kernel: {e}"))?
    else {
        return Ok(None);
    };
    Ok(Some(CompiledKernel {
        name: format!("{}_{BYTES_VARIANT}", kernel.name),
        entry_point: kernel.entry_point.clone(),
        workgroup_size: kernel.workgroup_size,
        bindings: kernel.bindings.clone(),
        structs: kernel.structs.clone(),
        spirv,
        constants: Vec::new(),
        variant: kernel.variant,
        preprocessed: None,
        subgroup_size: kernel.subgroup_size,
        storage_8bit: true,
    }))
}

/// Rewrites a naga SPIR-V module so that [`BYTES_BUFFER`] is written and read with 8-bit
/// stores and loads: `None` when the module has no [`BYTES_STORE_FN`].
///
/// Adds `StorageBuffer8BitAccess` (and `SPV_KHR_8bit_storage`, the module being SPIR-V 1.3), a
/// second variable on the buffer's descriptor set and binding typed as a runtime array of
/// bytes (aliasing a descriptor with a compatible type is valid Vulkan), and replaces the
/// bodies of [`BYTES_STORE_FN`] (an `OpAccessChain` to the byte, `OpUConvert`, `OpStore`),
/// [`BYTES_LOAD_FN`] (`OpLoad`, `OpUConvert`) and [`BYTES_ZERO_FN`] (nothing). Then checks
/// that no instruction reaches the word-typed variable's memory any more (no load, store,
/// atomic or call through a pointer derived from it; `OpArrayLength` and naga's unused hoisted
/// access chains remain), so the two never alias in use. Errors on anything unexpected: a missing
/// function, a signature other than `(u32, u32)`, `(u32) -> u32` and `()`, a buffer without
/// its binding.
pub fn byte_stores(words: &[u32]) -> Result<Option<Vec<u32>>, String> {
    const OP_EXTENSION: u32 = 10;
    const OP_CAPABILITY: u32 = 17;
    const OP_NAME: u32 = 5;
    const OP_MEMBER_NAME: u32 = 6;
    const OP_TYPE_INT: u32 = 21;
    const OP_TYPE_RUNTIME_ARRAY: u32 = 29;
    const OP_TYPE_STRUCT: u32 = 30;
    const OP_TYPE_POINTER: u32 = 32;
    const OP_CONSTANT: u32 = 43;
    const OP_FUNCTION: u32 = 54;
    const OP_FUNCTION_PARAMETER: u32 = 55;
    const OP_FUNCTION_END: u32 = 56;
    const OP_VARIABLE: u32 = 59;
    const OP_LOAD: u32 = 61;
    const OP_STORE: u32 = 62;
    const OP_FUNCTION_CALL: u32 = 57;
    const OP_ACCESS_CHAIN: u32 = 65;
    const OP_IN_BOUNDS_ACCESS_CHAIN: u32 = 66;
    const OP_PTR_ACCESS_CHAIN: u32 = 67;
    const OP_DECORATE: u32 = 71;
    const OP_MEMBER_DECORATE: u32 = 72;
    const OP_COPY_OBJECT: u32 = 83;
    const OP_UCONVERT: u32 = 113;
    const OP_ATOMIC_STORE: u32 = 228;
    const OP_LABEL: u32 = 248;
    const OP_RETURN: u32 = 253;
    const OP_RETURN_VALUE: u32 = 254;
    const CAPABILITY_STORAGE_BUFFER_8BIT_ACCESS: u32 = 4448;
    const STORAGE_CLASS_STORAGE_BUFFER: u32 = 12;
    const DECORATION_BLOCK: u32 = 2;
    const DECORATION_ARRAY_STRIDE: u32 = 6;
    const DECORATION_BINDING: u32 = 33;
    const DECORATION_DESCRIPTOR_SET: u32 = 34;
    const DECORATION_OFFSET: u32 = 35;

    fn inst(opcode: u32, operands: &[u32]) -> Vec<u32> {
        let mut v = vec![((operands.len() as u32 + 1) << 16) | opcode];
        v.extend_from_slice(operands);
        v
    }
    fn string_words(s: &str) -> Vec<u32> {
        let mut bytes = s.as_bytes().to_vec();
        bytes.resize(bytes.len() / 4 * 4 + 4, 0);
        bytes.chunks(4).map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
    }
    fn literal_string(w: &[u32]) -> String {
        let bytes: Vec<u8> = w.iter().flat_map(|x| x.to_le_bytes()).take_while(|&b| b != 0).collect();
        String::from_utf8_lossy(&bytes).into_owned()
    }

    let insts = instructions(words)?;
    let operands = |i: usize| &words[insts[i].0 + 1..insts[i].0 + insts[i].1];
    let named = |name: &str| {
        insts.iter().enumerate().find_map(|(i, &(_, _, op))| {
            (op == OP_NAME && literal_string(&operands(i)[1..]) == name).then(|| operands(i)[0])
        })
    };
    let Some(store_fn) = named(BYTES_STORE_FN) else { return Ok(None) };
    let missing = |what: &str| format!("the module has no `{what}`");
    let load_fn = named(BYTES_LOAD_FN).ok_or_else(|| missing(BYTES_LOAD_FN))?;
    let zero_fn = named(BYTES_ZERO_FN).ok_or_else(|| missing(BYTES_ZERO_FN))?;
    let buffer = named(BYTES_BUFFER).ok_or_else(|| missing(BYTES_BUFFER))?;
    let decoration = |which: u32| {
        insts.iter().enumerate().find_map(|(i, &(_, _, op))| {
            let o = operands(i);
            (op == OP_DECORATE && o.len() == 3 && o[0] == buffer && o[1] == which).then(|| o[2])
        })
    };
    let set = decoration(DECORATION_DESCRIPTOR_SET).ok_or_else(|| missing("DescriptorSet of the buffer"))?;
    let binding = decoration(DECORATION_BINDING).ok_or_else(|| missing("Binding of the buffer"))?;
    let uint = insts
        .iter()
        .enumerate()
        .find_map(|(i, &(_, _, op))| {
            (op == OP_TYPE_INT && operands(i)[1..] == [32, 0]).then(|| operands(i)[0])
        })
        .ok_or_else(|| missing("OpTypeInt 32 0"))?;

    let mut bound = words[3];
    let mut fresh = || {
        bound += 1;
        bound - 1
    };
    let (u8_type, array, block, block_ptr, byte_ptr, zero, var) =
        (fresh(), fresh(), fresh(), fresh(), fresh(), fresh(), fresh());

    // The replacement bodies (after the kept `OpFunctionParameter`s), given the parameter ids.
    let store_body = |params: &[u32], fresh: &mut dyn FnMut() -> u32| {
        let (label, ptr, byte) = (fresh(), fresh(), fresh());
        [
            inst(OP_LABEL, &[label]),
            inst(OP_ACCESS_CHAIN, &[byte_ptr, ptr, var, zero, params[0]]),
            inst(OP_UCONVERT, &[u8_type, byte, params[1]]),
            inst(OP_STORE, &[ptr, byte]),
            inst(OP_RETURN, &[]),
        ]
        .concat()
    };
    let load_body = |params: &[u32], fresh: &mut dyn FnMut() -> u32| {
        let (label, ptr, byte, value) = (fresh(), fresh(), fresh(), fresh());
        [
            inst(OP_LABEL, &[label]),
            inst(OP_ACCESS_CHAIN, &[byte_ptr, ptr, var, zero, params[0]]),
            inst(OP_LOAD, &[u8_type, byte, ptr]),
            inst(OP_UCONVERT, &[uint, value, byte]),
            inst(OP_RETURN_VALUE, &[value]),
        ]
        .concat()
    };

    let last_of = |ops: &[u32]| insts.iter().rposition(|&(_, _, op)| ops.contains(&op));
    let last_capability = last_of(&[OP_CAPABILITY]).ok_or_else(|| missing("OpCapability"))?;
    let last_decoration = last_of(&[OP_DECORATE, OP_MEMBER_DECORATE]).ok_or_else(|| missing("OpDecorate"))?;
    let first_function =
        insts.iter().position(|&(_, _, op)| op == OP_FUNCTION).ok_or_else(|| missing("OpFunction"))?;
    let replaced_fns = [store_fn, load_fn, zero_fn];
    // Instructions of the bodies that are replaced (after their parameters).
    let mut in_old_body = vec![false; insts.len()];
    let mut inside = false;
    for (j, &(_, _, op)) in insts.iter().enumerate() {
        if op == OP_FUNCTION {
            inside = replaced_fns.contains(&operands(j)[1]);
        } else if op == OP_FUNCTION_END {
            inside = false;
        } else if inside && op != OP_FUNCTION_PARAMETER {
            in_old_body[j] = true;
        }
    }
    // Ids only those bodies define (their locals, e.g. `clear_destination`'s `w`): names and
    // decorations of them must go too. A result id is operand 0 or 1 of its instruction; an id
    // defined elsewhere appears there in some instruction that stays.
    let debug_or_annotation =
        |op: u32| matches!(op, OP_NAME | OP_MEMBER_NAME | OP_DECORATE | OP_MEMBER_DECORATE);
    let head = |j: usize| operands(j).iter().take(2).copied().collect::<Vec<u32>>();
    let kept: std::collections::HashSet<u32> = (0..insts.len())
        .filter(|&j| !in_old_body[j] && !debug_or_annotation(insts[j].2))
        .flat_map(head)
        .collect();
    let orphans: std::collections::HashSet<u32> =
        (0..insts.len()).filter(|&j| in_old_body[j]).flat_map(head).filter(|id| !kept.contains(id)).collect();

    let mut out = words[..5].to_vec();
    let mut replaced = Vec::new();
    let mut derived = vec![buffer];
    let mut i = 0;
    while i < insts.len() {
        let (start, count, op) = insts[i];
        if i == first_function {
            out.extend(inst(OP_TYPE_INT, &[u8_type, 8, 0]));
            out.extend(inst(OP_TYPE_RUNTIME_ARRAY, &[array, u8_type]));
            out.extend(inst(OP_TYPE_STRUCT, &[block, array]));
            out.extend(inst(OP_TYPE_POINTER, &[block_ptr, STORAGE_CLASS_STORAGE_BUFFER, block]));
            out.extend(inst(OP_TYPE_POINTER, &[byte_ptr, STORAGE_CLASS_STORAGE_BUFFER, u8_type]));
            out.extend(inst(OP_CONSTANT, &[uint, zero, 0]));
            out.extend(inst(OP_VARIABLE, &[block_ptr, var, STORAGE_CLASS_STORAGE_BUFFER]));
        }
        let function = (op == OP_FUNCTION).then(|| operands(i)[1]);
        if debug_or_annotation(op) && operands(i).first().is_some_and(|id| orphans.contains(id)) {
            i += 1;
            continue;
        }
        if let Some(id) = function.filter(|id| replaced_fns.contains(id)) {
            let (name, arity) = match id {
                _ if id == store_fn => (BYTES_STORE_FN, 2),
                _ if id == load_fn => (BYTES_LOAD_FN, 1),
                _ => (BYTES_ZERO_FN, 0),
            };
            let end = (i..insts.len())
                .find(|&j| insts[j].2 == OP_FUNCTION_END)
                .ok_or_else(|| format!("`{name}` has no OpFunctionEnd"))?;
            // OpFunctionParameter: (type, id).
            let typed: Vec<(u32, u32)> = (i + 1..end)
                .take_while(|&j| insts[j].2 == OP_FUNCTION_PARAMETER)
                .map(|j| (operands(j)[0], operands(j)[1]))
                .collect();
            let params: Vec<u32> = typed.iter().map(|p| p.1).collect();
            let returns = operands(i)[0];
            let signature_ok = typed.len() == arity
                && typed.iter().all(|p| p.0 == uint)
                && (id != load_fn || returns == uint);
            if !signature_ok {
                return Err(format!("`{name}` does not have the expected signature"));
            }
            out.extend_from_slice(&words[start..insts[i + params.len()].0 + insts[i + params.len()].1]);
            let body = match id {
                _ if id == store_fn => store_body(&params, &mut fresh),
                _ if id == load_fn => load_body(&params, &mut fresh),
                _ => [inst(OP_LABEL, &[fresh()]), inst(OP_RETURN, &[])].concat(),
            };
            out.extend(body);
            out.extend(inst(OP_FUNCTION_END, &[]));
            replaced.push(name);
            i = end + 1;
            continue;
        }
        if i > first_function {
            // Pointers into the word-typed buffer (naga hoists an unused `OpAccessChain` to its
            // array into every function that calls one of the three), and any memory access
            // through one outside the replaced bodies.
            let o = operands(i);
            let from = |k: usize| o.get(k).is_some_and(|id| derived.contains(id));
            let reaches = match op {
                OP_ACCESS_CHAIN | OP_IN_BOUNDS_ACCESS_CHAIN | OP_PTR_ACCESS_CHAIN | OP_COPY_OBJECT => {
                    if from(2) {
                        derived.push(o[1]);
                    }
                    false
                }
                OP_LOAD => from(2),
                OP_STORE | OP_ATOMIC_STORE => from(0),
                OP_FUNCTION_CALL => (3..o.len()).any(from),
                227..=242 => from(2),
                _ => false,
            };
            if reaches {
                return Err(format!(
                    "instruction {op} at word {start} reaches `{BYTES_BUFFER}` outside `{BYTES_STORE_FN}`, \
                     `{BYTES_LOAD_FN}` and `{BYTES_ZERO_FN}`"
                ));
            }
        }
        out.extend_from_slice(&words[start..start + count]);
        if i == last_capability {
            out.extend(inst(OP_CAPABILITY, &[CAPABILITY_STORAGE_BUFFER_8BIT_ACCESS]));
            out.extend(inst(OP_EXTENSION, &string_words("SPV_KHR_8bit_storage")));
        }
        if i == last_decoration {
            out.extend(inst(OP_DECORATE, &[array, DECORATION_ARRAY_STRIDE, 1]));
            out.extend(inst(OP_DECORATE, &[block, DECORATION_BLOCK]));
            out.extend(inst(OP_MEMBER_DECORATE, &[block, 0, DECORATION_OFFSET, 0]));
            out.extend(inst(OP_DECORATE, &[var, DECORATION_DESCRIPTOR_SET, set]));
            out.extend(inst(OP_DECORATE, &[var, DECORATION_BINDING, binding]));
        }
        i += 1;
    }
    if replaced.len() != 3 {
        return Err(format!("replaced {replaced:?}, expected the three functions"));
    }
    out[3] = bound;
    Ok(Some(out))
}

/// The kernel name of the shader at `path`: its file stem, which must be a lower_snake_case
/// identifier (it names the generated constant).
fn kernel_name(path: &str) -> Result<String, String> {
    let name = Path::new(path).file_stem().and_then(|s| s.to_str()).unwrap_or_default().to_owned();
    let is_ident = name.starts_with(|c: char| c.is_ascii_lowercase())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if is_ident {
        Ok(name)
    } else {
        Err(format!(
            "{path}: error: kernel file names must be lower_snake_case identifiers (`{name}` is not)"
        ))
    }
}

/// The module's entry point, which must be its only one.
fn only_entry_point<'m>(path: &str, module: &'m Module) -> Result<&'m naga::EntryPoint, String> {
    match module.entry_points.as_slice() {
        [ep] => Ok(ep),
        eps => Err(format!(
            "{path}: error: a kernel file must have exactly one entry point, found {}",
            eps.len()
        )),
    }
}

/// The bindings of the module's only entry point and the layouts of the structs they hold.
fn reflect_resources(
    path: &str,
    module: &Module,
    info: &ModuleInfo,
) -> Result<(Vec<BindingOut>, BTreeMap<String, StructOut>), String> {
    let mut layouter = Layouter::default();
    layouter.update(module.to_ctx()).map_err(|e| format!("{path}: error: layout: {e}"))?;
    let mut bindings = Vec::new();
    let mut structs = BTreeMap::new();
    reflect_bindings(path, module, info, &layouter, &mut bindings, &mut structs)?;
    Ok((bindings, structs))
}

/// Reflects the resource bindings of the module's only entry point.
fn reflect_bindings(
    path: &str,
    module: &Module,
    info: &ModuleInfo,
    layouter: &Layouter,
    bindings: &mut Vec<BindingOut>,
    structs: &mut BTreeMap<String, StructOut>,
) -> Result<(), String> {
    let ep_info = info.get_entry_point(0);
    for (handle, var) in module.global_variables.iter() {
        let var_name = var.name.clone().unwrap_or_else(|| "<unnamed>".to_owned());
        let kind = match var.space {
            AddressSpace::Uniform => Kind::Uniform,
            AddressSpace::Storage { access } if access == StorageAccess::LOAD => Kind::StorageRead,
            AddressSpace::Storage { access }
                if access.contains(StorageAccess::LOAD | StorageAccess::STORE) =>
            {
                Kind::StorageReadWrite
            }
            AddressSpace::Private | AddressSpace::WorkGroup => continue,
            space => {
                return Err(format!(
                    "{path}: error: `{var_name}`: {space:?} variables are not supported in \
                     kernels (only var<uniform>, var<storage, read> and var<storage, read_write>)"
                ));
            }
        };
        let Some(rb) = var.binding else {
            return Err(format!("{path}: error: `{var_name}` has no @group/@binding"));
        };
        if ep_info[handle].is_empty() {
            return Err(format!(
                "{path}: error: binding `{var_name}` (@group({}) @binding({})) is declared but \
                 not used by the entry point; remove it",
                rb.group, rb.binding
            ));
        }
        bindings.push(BindingOut {
            group: rb.group,
            binding: rb.binding,
            kind,
            min_size: u64::from(layouter[var.ty].size),
            var_name,
        });
        collect_structs(path, module, layouter, var.ty, structs)?;
    }
    bindings.sort_by_key(|b| (b.group, b.binding));
    Ok(())
}

/// Records the layout of every struct reachable from `ty` (through struct members and arrays).
fn collect_structs(
    path: &str,
    module: &Module,
    layouter: &Layouter,
    ty: Handle<Type>,
    out: &mut BTreeMap<String, StructOut>,
) -> Result<(), String> {
    match module.types[ty].inner {
        TypeInner::Struct { ref members, .. } => {
            let Some(name) = module.types[ty].name.clone() else {
                return Err(format!("{path}: error: unnamed struct in a buffer binding"));
            };
            let layout = layouter[ty];
            let reflected = StructOut {
                size: layout.size,
                align: layout.alignment * 1,
                members: members.iter().map(|m| (m.name.clone().unwrap_or_default(), m.offset)).collect(),
            };
            out.insert(name, reflected);
            for member in members {
                collect_structs(path, module, layouter, member.ty, out)?;
            }
            Ok(())
        }
        TypeInner::Array { base, .. } => collect_structs(path, module, layouter, base, out),
        _ => Ok(()),
    }
}

/// Adds a kernel's structs to the crate-wide set; one name must mean one layout.
fn merge_structs(all: &mut BTreeMap<String, StructOut>, kernel: &CompiledKernel) -> Result<(), String> {
    for (name, layout) in &kernel.structs {
        match all.get(name) {
            Some(existing) if existing != layout => {
                return Err(format!(
                    "error: struct `{name}` has different layouts in different kernels \
                     ({existing:?} vs {layout:?} in `{}`); rename one",
                    kernel.name
                ));
            }
            Some(_) => {}
            None => {
                all.insert(name.clone(), layout.clone());
            }
        }
    }
    Ok(())
}

/// `CopyParams` → `COPY_PARAMS`.
pub fn screaming_snake(name: &str) -> String {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in name.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        out.push(c.to_ascii_uppercase());
    }
    out
}

/// Renders `kernels.rs`.
pub fn generate(kernels: &[(PathBuf, CompiledKernel)], structs: &BTreeMap<String, StructOut>) -> String {
    let mut s = String::new();
    // `write!` into a `String` cannot fail.
    let mut w = |args: std::fmt::Arguments<'_>| s.write_fmt(args).expect("write to String");
    w(format_args!("// @generated by kernels/build.rs (naga) from kernels/shaders/*.wgsl. Do not edit.\n"));
    if kernels.iter().any(|(path, _)| path.extension().is_some_and(|ext| ext != "wgsl")) {
        w(format_args!("// GLSL kernels: from kernels/glsl/*.comp, compiled by shaderc (feature `glsl`).\n"));
    }
    w(format_args!("\n"));

    for (path, k) in kernels {
        let ident = k.name.to_ascii_uppercase();
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        // A GLSL kernel (feature `glsl`) has no WGSL source: its `wgsl` is empty.
        let is_wgsl = path.extension().is_some_and(|ext| ext == "wgsl");
        let dir = if is_wgsl { "shaders" } else { "glsl" };
        let [x, y, z] = k.workgroup_size;
        w(format_args!(
            "/// The `{}` kernel, from `{dir}/{file}`: entry point `{}`, workgroup size \
             {x}×{y}×{z}.\n///\n",
            k.name, k.entry_point
        ));
        if k.storage_8bit {
            w(format_args!(
                "/// The byte-store kernel of `{}` (`build.rs`, `byte_kernel`): its SPIR-V writes and \
                 reads `{BYTES_BUFFER}` with 8-bit stores and loads (needs `storageBuffer8BitAccess`); \
                 no WGSL of its own.\n///\n",
                k.name.strip_suffix(&format!("_{BYTES_VARIANT}")).unwrap_or(&k.name)
            ));
        } else if let Some(v) = k.variant {
            w(format_args!(
                "/// The `{v}` variant of the source's `//#if {v}` sections (preprocessed text in \
                 `$OUT_DIR/{}.wgsl`); subgroup size {}.\n///\n",
                k.name, k.subgroup_size
            ));
        } else if k.preprocessed.is_some() {
            w(format_args!(
                "/// The base variant (`//#else` sections; preprocessed text in `$OUT_DIR/{}.wgsl`).\n///\n",
                k.name
            ));
        }
        if !is_wgsl {
            w(format_args!(
                "/// A GLSL kernel, compiled by shaderc (feature `glsl`): it has no WGSL source, so \
                 `wgsl` is empty.\n///\n"
            ));
        }
        w(format_args!("/// Bindings:\n"));
        for b in &k.bindings {
            w(format_args!(
                "/// - `@group({}) @binding({})` `{}`: {:?}, at least {} bytes\n",
                b.group, b.binding, b.var_name, b.kind, b.min_size
            ));
        }
        w(format_args!(
            "pub const {ident}: KernelInfo = KernelInfo {{\n    name: {:?},\n    entry_point: {:?},\n    \
             workgroup_size: [{x}, {y}, {z}],\n    bindings: &[\n",
            k.name, k.entry_point
        ));
        for b in &k.bindings {
            w(format_args!(
                "        Binding {{ group: {}, binding: {}, kind: BindingKind::{:?}, min_size: {} }},\n",
                b.group, b.binding, b.kind, b.min_size
            ));
        }
        // Byte-store and GLSL kernels have no WGSL of their own.
        let wgsl = if k.storage_8bit || !is_wgsl {
            "\"\"".into()
        } else if k.preprocessed.is_some() {
            format!("include_str!(concat!(env!(\"OUT_DIR\"), \"/{}.wgsl\"))", k.name)
        } else {
            format!("include_str!({:?})", path.display().to_string())
        };
        w(format_args!(
            "    ],\n    subgroup_size: {},\n    storage_8bit: {},\n    wgsl: {wgsl},\n    spirv: &[",
            k.subgroup_size, k.storage_8bit
        ));
        for (i, word) in k.spirv.iter().enumerate() {
            let sep = if i % 8 == 0 { "\n        " } else { " " };
            w(format_args!("{sep}{word:#010x},"));
        }
        w(format_args!("\n    ],\n}};\n\n"));
    }

    w(format_args!("/// Every built-in kernel, sorted by name.\npub const KERNELS: &[&KernelInfo] = &["));
    let list: Vec<String> =
        kernels.iter().map(|(_, k)| format!("&{}", k.name.to_ascii_uppercase())).collect();
    w(format_args!("{}];\n\n", list.join(", ")));

    let glsl_blocks: Vec<&String> = kernels
        .iter()
        .filter(|(path, _)| path.extension().is_some_and(|ext| ext != "wgsl"))
        .flat_map(|(_, k)| k.structs.keys())
        .collect();
    for (name, layout) in structs {
        let what = if glsl_blocks.contains(&name) { "GLSL block" } else { "WGSL struct" };
        w(format_args!(
            "/// Layout of the {what} `{name}` as naga lays it out: {} bytes, aligned to {}.\n\
             pub const {}_LAYOUT: StructLayout = StructLayout {{\n    name: {name:?},\n    \
             size: {},\n    align: {},\n    members: &[",
            layout.size,
            layout.align,
            screaming_snake(name),
            layout.size,
            layout.align
        ));
        let members: Vec<String> =
            layout.members.iter().map(|(member, offset)| format!("({member:?}, {offset})")).collect();
        w(format_args!("{}],\n}};\n\n", members.join(", ")));
    }
    for (_, k) in kernels.iter().filter(|(_, k)| !k.constants.is_empty()) {
        s.push_str(&generate_constants(&k.name, &k.constants));
    }
    s
}

/// The module-scope `const`s of a WGSL kernel whose name is SCREAMING_SNAKE_CASE and whose type
/// is `u32` (status codes, limits, table sizes), in declaration order.
pub fn reflect_constants(module: &Module) -> Vec<(String, u32)> {
    let screaming = |n: &str| n.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    module
        .constants
        .iter()
        .filter_map(|(_, c)| {
            let name = c.name.as_deref().filter(|n| screaming(n))?;
            match module.global_expressions[c.init] {
                naga::Expression::Literal(naga::Literal::U32(v)) => Some((name.to_owned(), v)),
                _ => None,
            }
        })
        .collect()
}

/// Renders `pub mod <kernel> { pub const NAME: u32 = value; ... }`.
pub fn generate_constants(kernel: &str, constants: &[(String, u32)]) -> String {
    let mut s = format!(
        "/// The `u32` constants of the `{kernel}` kernel's WGSL source (status codes, limits, \
         table layout), as declared there.\npub mod {kernel} {{\n"
    );
    for (name, value) in constants {
        // `write!` into a `String` cannot fail.
        writeln!(s, "    /// `{name}` of the shader.\n    pub const {name}: u32 = {value};")
            .expect("write to String");
    }
    s.push_str("}\n\n");
    s
}
