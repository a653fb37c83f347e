//! ds-runtime's built-in GPU compute kernels.
//!
//! This crate owns the kernels' **source** (`shaders/*.wgsl`, written once, in WGSL) and
//! everything derived from it at build time by naga in `build.rs`: validation, **SPIR-V** for
//! the Vulkan (ash) core, and **reflection** of each kernel's entry point, workgroup size and
//! bindings into [`KernelInfo`] constants, plus the layout of every struct that lives in a
//! buffer binding ([`StructLayout`]). wgpu compiles the same WGSL source ([`KernelInfo::wgsl`]).
//! It owns no GPU code: nothing here creates devices, pipelines or buffers.
//!
//! Invariants:
//!
//! - Nothing about a kernel is restated by hand: [`KERNELS`], the per-kernel constants (e.g.
//!   [`COPY`]) and the `*_LAYOUT` constants are generated. Only the host mirrors of shader
//!   structs (e.g. [`CopyParams`]) are written here, and their size and field offsets are
//!   checked against the reflected layout at compile time and by the tests.
//! - Every shader in `shaders/` parses and validates, or the crate does not build; errors point
//!   at the WGSL line (see `build.rs` for an example).
//! - One file = one kernel: one `@compute` entry point, named after the file stem; workgroup
//!   size fixed in the shader (no `override`s); bindings only `var<uniform>`,
//!   `var<storage, read>` and `var<storage, read_write>`, all used by the entry point.
//! - Every kernel loop terminates by construction (bounded counts, or a budget such as the
//!   decode kernel's round limit): the SPIR-V carries no loop-bounding counters (see
//!   `build.rs`, `spirv_options`).
//! - Every kernel bounds-checks each buffer access itself. The SPIR-V is emitted with naga's
//!   *unchecked* bounds-check policy, so these explicit checks are the only protection on
//!   Vulkan without `robustBufferAccess`.
//! - SPIR-V targets version 1.3 (Vulkan 1.1) with only the `Shader` capability; WGSL
//!   `@group(g) @binding(b)` is descriptor set `g`, binding `b`.
//!
//! ```
//! let copy = dsr_kernels::kernel("copy").unwrap();
//! assert_eq!(copy.workgroup_size, [256, 1, 1]);
//! assert_eq!(copy.spirv[0], 0x0723_0203);
//! ```

use bytemuck::{Pod, Zeroable};
use core::fmt;

/// A built-in compute kernel, as reflected from its WGSL source by naga at build time.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KernelInfo {
    /// Kernel name: the shader's file stem (`copy` for `shaders/copy.wgsl`).
    pub name: &'static str,
    /// Name of the `@compute` entry point, in WGSL and in SPIR-V.
    pub entry_point: &'static str,
    /// `@workgroup_size` as `[x, y, z]` (unspecified dimensions are 1).
    pub workgroup_size: [u32; 3],
    /// Resource bindings used by the entry point, sorted by `(group, binding)`.
    pub bindings: &'static [Binding],
    /// 0 when the kernel uses no subgroup operations. Otherwise the kernel is a subgroup
    /// variant (built from a source's `//#if subgroup` sections, see `build.rs`): its
    /// workgroup must be exactly one subgroup of this size, and the device must support the
    /// subgroup operations basic, ballot, arithmetic and shuffle in compute shaders. Hosts
    /// create and pick it only then, and fall back to the base kernel (same name without the
    /// `_subgroup` suffix) otherwise.
    pub subgroup_size: u32,
    /// A byte-store kernel (`<base>_bytes`, made by `build.rs` from the base kernel's SPIR-V):
    /// it writes and reads its `dst` buffer with 8-bit stores and loads, so the Vulkan device
    /// must have `storageBuffer8BitAccess` enabled; it has no WGSL (`wgsl` is empty), and
    /// hosts without that feature (wgpu among them) use the base kernel.
    pub storage_8bit: bool,
    /// The WGSL source, for wgpu. Empty for a GLSL kernel (feature `glsl`, module `glsl`) and
    /// for a byte-store kernel, which have only SPIR-V.
    pub wgsl: &'static str,
    /// SPIR-V words (little-endian when written to a file), for Vulkan.
    pub spirv: &'static [u32],
}

impl fmt::Debug for KernelInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KernelInfo")
            .field("name", &self.name)
            .field("entry_point", &self.entry_point)
            .field("workgroup_size", &self.workgroup_size)
            .field("subgroup_size", &self.subgroup_size)
            .field("bindings", &self.bindings)
            .field("wgsl_bytes", &self.wgsl.len())
            .field("spirv_words", &self.spirv.len())
            .finish()
    }
}

/// One resource binding of a kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Binding {
    /// Bind group (Vulkan descriptor set).
    pub group: u32,
    /// Binding number within the group.
    pub binding: u32,
    /// What kind of buffer is bound.
    pub kind: BindingKind,
    /// Smallest valid buffer size in bytes: the size of the variable's type, counting one
    /// element for a runtime-sized array (WebGPU's `minBindingSize`).
    pub min_size: u64,
}

/// The kind of buffer a [`Binding`] expects.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BindingKind {
    /// `var<uniform>`: a uniform buffer.
    Uniform,
    /// `var<storage, read>`: a read-only storage buffer.
    StorageRead,
    /// `var<storage, read_write>`: a read-write storage buffer.
    StorageReadWrite,
}

/// The layout of a WGSL struct that lives in a buffer binding, from naga's layouter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StructLayout {
    /// The WGSL struct name.
    pub name: &'static str,
    /// Size in bytes.
    pub size: u32,
    /// Alignment in bytes.
    pub align: u32,
    /// `(member name, byte offset)`, in declaration order.
    pub members: &'static [(&'static str, u32)],
}

include!(concat!(env!("OUT_DIR"), "/kernels.rs"));

/// Compile-time guard that a host mirror of a shader struct has exactly the size, alignment
/// and member offsets naga reflected (`check_layout!(Type, TYPE_LAYOUT, [field, ...])`, the
/// fields in declaration order).
macro_rules! check_layout {
    ($ty:ty, $layout:expr, [$($field:ident),*]) => {
        const _: () = {
            let l = $layout;
            let offsets = [$(core::mem::offset_of!($ty, $field)),*];
            assert!(l.members.len() == offsets.len());
            assert!(core::mem::size_of::<$ty>() == l.size as usize);
            assert!(core::mem::align_of::<$ty>() == l.align as usize);
            let mut i = 0;
            while i < offsets.len() {
                assert!(offsets[i] == l.members[i].1 as usize);
                i += 1;
            }
        };
    };
}

mod decode;
pub use decode::{DecodeParams, TileDesc, TileStatus};

#[cfg(feature = "glsl")]
pub mod glsl;

/// Looks a kernel up by [`KernelInfo::name`].
pub fn kernel(name: &str) -> Option<&'static KernelInfo> {
    KERNELS.iter().copied().find(|k| k.name == name)
}

/// Parameters of the [`COPY`] kernel (WGSL `CopyParams`, bound as `var<uniform>`).
///
/// Copies `min(word_count, words of src after src_offset_words, words of dst after
/// dst_offset_words)` 32-bit words; out-of-range values copy less (or nothing), never out of
/// bounds.
#[repr(C)]
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Pod, Zeroable)]
pub struct CopyParams {
    /// First word read from `src`.
    pub src_offset_words: u32,
    /// First word written in `dst`.
    pub dst_offset_words: u32,
    /// Number of words to copy.
    pub word_count: u32,
}

// `tests/reflection.rs` also checks member names.
check_layout!(CopyParams, COPY_PARAMS_LAYOUT, [src_offset_words, dst_offset_words, word_count]);
