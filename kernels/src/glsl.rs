//! GLSL kernels (cargo feature `glsl`): compute shaders written in GLSL, compiled to SPIR-V by
//! shaderc at build time, and their host-side parameter structs.
//!
//! Every `glsl/<name>.comp` of this crate becomes a kernel like the WGSL ones: a generated
//! `<NAME>` constant (e.g. [`FILL_PATTERN`](crate::FILL_PATTERN)) in [`KERNELS`](crate::KERNELS),
//! so the Vulkan core builds its pipeline like any other, and a `*_LAYOUT` constant for each
//! block in a buffer binding. What differs from a WGSL kernel:
//!
//! - the entry point is `main`; GLSL `layout(set = s, binding = b)` is `@group(s) @binding(b)`
//!   in the reflected [`Binding`](crate::Binding)s;
//! - [`KernelInfo::wgsl`](crate::KernelInfo::wgsl) is empty: there is no WGSL source, so the
//!   wgpu backend cannot run these kernels (Vulkan runs their SPIR-V);
//! - the SPIR-V is glslang's (Vulkan 1.1 / SPIR-V 1.3, unoptimised), and naga's SPIR-V front end
//!   only reflects it: entry point, workgroup size, bindings (`uniform` blocks, `buffer` blocks,
//!   `readonly` ones as read-only storage) and block layouts. Rules, as for WGSL: one compute
//!   shader per file named after the file stem, a fixed `local_size` (no specialization
//!   constants), only uniform and storage buffers, each used; naga must accept the module with
//!   the WGSL kernels' (empty) capability set, so e.g. subgroup operations or 8/16-bit types
//!   are refused until the Vulkan core requires the device features they need;
//! - compile errors come from shaderc as `path:line: error: message`, pointing at the GLSL line
//!   (of the included file, for an error in an `#include`), and fail the build.
//!
//! As for WGSL kernels, nothing adds bounds checks: each kernel checks every buffer access
//! itself (against `.length()` of the runtime array), and the host mirror of each parameter
//! block is checked against the reflected layout at compile time.
//!
//! Building needs shaderc: the README's "GLSL kernels" section says how (a system package, or
//! a source build with cmake, ninja and python3).

use crate::FILL_PATTERN_PARAMS_LAYOUT;
use bytemuck::{Pod, Zeroable};

/// Parameters of the [`FILL_PATTERN`](crate::FILL_PATTERN) kernel (GLSL block
/// `FillPatternParams`, bound as a `uniform` block at set 0, binding 0).
///
/// Writes `pattern` into `min(word_count, words of dst after offset_words)` words of `dst`
/// starting at word `offset_words`; out-of-range values write less (or nothing), never out of
/// bounds.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct FillPatternParams {
    /// First word written in `dst`.
    pub offset_words: u32,
    /// Number of words to write.
    pub word_count: u32,
    /// The 32-bit word written.
    pub pattern: u32,
}

// `tests/glsl.rs` also checks member names.
check_layout!(FillPatternParams, FILL_PATTERN_PARAMS_LAYOUT, [offset_words, word_count, pattern]);
