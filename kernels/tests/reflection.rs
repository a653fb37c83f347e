//! Checks the generated kernel table against what `shaders/*.wgsl` declares, the SPIR-V
//! against naga's SPIR-V front end, and the host structs against naga's layouter.

use core::mem::{align_of, offset_of, size_of};
use dsr_kernels::{Binding, BindingKind, COPY, COPY_PARAMS_LAYOUT, CopyParams, KERNELS, KernelInfo, kernel};
use std::collections::HashSet;

#[test]
fn copy_is_in_the_table_as_written_in_the_shader() {
    let k = kernel("copy").expect("copy kernel");
    assert_eq!(*k, COPY);
    assert_eq!(k.name, "copy");
    assert_eq!(k.entry_point, "copy");
    assert_eq!(k.workgroup_size, [256, 1, 1]);
    assert!(k.wgsl.contains("fn copy("));
    assert!(kernel("no-such-kernel").is_none());
}

#[test]
fn copy_bindings_are_exactly_params_src_dst() {
    let expected = [
        Binding { group: 0, binding: 0, kind: BindingKind::Uniform, min_size: 12 },
        Binding { group: 0, binding: 1, kind: BindingKind::StorageRead, min_size: 4 },
        Binding { group: 0, binding: 2, kind: BindingKind::StorageReadWrite, min_size: 4 },
    ];
    assert_eq!(COPY.bindings, &expected);
    assert_eq!(COPY.bindings[0].min_size, u64::from(COPY_PARAMS_LAYOUT.size));
    assert_eq!(COPY.bindings[0].min_size, size_of::<CopyParams>() as u64);
}

#[test]
fn table_is_consistent() {
    let mut names = HashSet::new();
    for k in KERNELS {
        assert!(names.insert(k.name), "duplicate kernel name {}", k.name);
        assert!(k.workgroup_size.iter().all(|&n| n >= 1), "{}", k.name);
        let keys: Vec<_> = k.bindings.iter().map(|b| (b.group, b.binding)).collect();
        assert!(keys.windows(2).all(|w| w[0] < w[1]), "{}: bindings unsorted or duplicated", k.name);
    }
}

#[test]
fn copy_params_layout_matches_naga() {
    let l = COPY_PARAMS_LAYOUT;
    assert_eq!(l.name, "CopyParams");
    assert_eq!(size_of::<CopyParams>(), l.size as usize);
    assert_eq!(align_of::<CopyParams>(), l.align as usize);
    let host = [
        ("src_offset_words", offset_of!(CopyParams, src_offset_words)),
        ("dst_offset_words", offset_of!(CopyParams, dst_offset_words)),
        ("word_count", offset_of!(CopyParams, word_count)),
    ];
    let reflected: Vec<(&str, usize)> =
        l.members.iter().map(|&(name, offset)| (name, offset as usize)).collect();
    assert_eq!(reflected, host);
}

#[test]
fn copy_params_round_trips_through_bytes() {
    let p = CopyParams { src_offset_words: 1, dst_offset_words: 2, word_count: 3 };
    let bytes = bytemuck::bytes_of(&p);
    assert_eq!(bytes.len(), 12);
    assert_eq!(&bytes[8..12], &3u32.to_ne_bytes());
}

/// Re-parses a kernel's SPIR-V with naga's SPIR-V front end and validates it.
fn reparse(k: &KernelInfo) -> naga::Module {
    let options = naga::front::spv::Options::default();
    let module = naga::front::spv::Frontend::new(k.spirv.iter().copied(), &options)
        .parse()
        .unwrap_or_else(|e| panic!("{}: SPIR-V does not parse: {e}", k.name));
    let mut validator = if k.subgroup_size == 0 {
        naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
    } else {
        let mut v = naga::valid::Validator::new(
            naga::valid::ValidationFlags::all(),
            naga::valid::Capabilities::SUBGROUP,
        );
        v.subgroup_stages(naga::valid::ShaderStages::COMPUTE)
            .subgroup_operations(naga::valid::SubgroupOperationSet::all());
        v
    };
    validator
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: re-parsed SPIR-V does not validate: {e:?}", k.name));
    module
}

#[test]
fn spirv_is_well_formed_and_matches_the_table() {
    for k in KERNELS {
        assert_eq!(k.spirv[0], 0x0723_0203, "{}: SPIR-V magic", k.name);
        assert_eq!(k.spirv[1], 0x0001_0300, "{}: SPIR-V 1.3", k.name);
        if k.storage_8bit {
            // naga's SPIR-V front end has no 8-bit storage; these are checked against their
            // base kernel (below) and by spirv-val.
            continue;
        }
        let module = reparse(k);
        let [ep] = module.entry_points.as_slice() else {
            panic!("{}: expected one entry point", k.name);
        };
        assert_eq!(ep.name, k.entry_point);
        assert_eq!(ep.stage, naga::ShaderStage::Compute);
        assert_eq!(ep.workgroup_size, k.workgroup_size);

        let mut spv_bindings: Vec<_> = module
            .global_variables
            .iter()
            .filter_map(|(_, var)| {
                let kind = match var.space {
                    naga::AddressSpace::Uniform => BindingKind::Uniform,
                    naga::AddressSpace::Storage { access } => {
                        if access.contains(naga::StorageAccess::STORE) {
                            BindingKind::StorageReadWrite
                        } else {
                            BindingKind::StorageRead
                        }
                    }
                    _ => return None,
                };
                let rb = var.binding?;
                Some((rb.group, rb.binding, kind))
            })
            .collect();
        spv_bindings.sort_by_key(|&(g, b, _)| (g, b));
        let table: Vec<_> = k.bindings.iter().map(|b| (b.group, b.binding, b.kind)).collect();
        assert_eq!(spv_bindings, table, "{}: SPIR-V descriptor bindings", k.name);
    }
}

#[test]
fn gdeflate_decode_is_one_32_lane_workgroup_with_five_bindings() {
    use dsr_kernels::{
        DECODE_PARAMS_LAYOUT, DecodeParams, GDEFLATE_DECODE, TILE_DESC_LAYOUT, TILE_STATUS_LAYOUT,
    };
    assert_eq!(*kernel("gdeflate_decode").expect("gdeflate_decode kernel"), GDEFLATE_DECODE);
    // One invocation per lane of the page format (spec 3.1): the kernel depends on it.
    assert_eq!(GDEFLATE_DECODE.workgroup_size, [dsr_gdeflate_lanes(), 1, 1]);
    let kinds: Vec<_> = GDEFLATE_DECODE.bindings.iter().map(|b| (b.binding, b.kind)).collect();
    assert_eq!(
        kinds,
        [
            (0, BindingKind::Uniform),
            (1, BindingKind::StorageRead),
            (2, BindingKind::StorageRead),
            (3, BindingKind::StorageReadWrite),
            (4, BindingKind::StorageReadWrite),
        ]
    );
    assert_eq!(GDEFLATE_DECODE.bindings[0].min_size, size_of::<DecodeParams>() as u64);
    assert_eq!(GDEFLATE_DECODE.bindings[1].min_size, u64::from(TILE_DESC_LAYOUT.size));
    assert_eq!(GDEFLATE_DECODE.bindings[4].min_size, u64::from(TILE_STATUS_LAYOUT.size));
    assert_eq!(DECODE_PARAMS_LAYOUT.name, "DecodeParams");
}

/// The page format's lane count, as the shader declares it (reflected constant).
fn dsr_gdeflate_lanes() -> u32 {
    dsr_kernels::gdeflate_decode::LANES
}

#[test]
fn decode_structs_match_naga_member_by_member() {
    use dsr_kernels::{
        DECODE_PARAMS_LAYOUT, DecodeParams, TILE_DESC_LAYOUT, TILE_STATUS_LAYOUT, TileDesc, TileStatus,
    };
    let names = |l: &dsr_kernels::StructLayout| -> Vec<(&str, usize)> {
        l.members.iter().map(|&(n, o)| (n, o as usize)).collect()
    };
    assert_eq!(names(&DECODE_PARAMS_LAYOUT), [("tile_count", offset_of!(DecodeParams, tile_count))]);
    assert_eq!(
        names(&TILE_DESC_LAYOUT),
        [
            ("src_offset", offset_of!(TileDesc, src_offset)),
            ("src_size", offset_of!(TileDesc, src_size)),
            ("dst_offset", offset_of!(TileDesc, dst_offset)),
            ("dst_size", offset_of!(TileDesc, dst_size)),
        ]
    );
    assert_eq!(
        names(&TILE_STATUS_LAYOUT),
        [
            ("code", offset_of!(TileStatus, code)),
            ("offset", offset_of!(TileStatus, offset)),
            ("detail0", offset_of!(TileStatus, detail0)),
            ("detail1", offset_of!(TileStatus, detail1)),
        ]
    );
    assert_eq!((size_of::<TileDesc>(), align_of::<TileDesc>()), (TILE_DESC_LAYOUT.size as usize, 4));
    assert_eq!(size_of::<TileStatus>(), TILE_STATUS_LAYOUT.size as usize);
}

#[test]
fn decode_status_codes_are_distinct_and_ok_is_not_the_zeroed_value() {
    use dsr_kernels::gdeflate_decode as k;
    let codes = [
        k::STATUS_NOT_RUN,
        k::STATUS_OK,
        k::STATUS_BAD_PAGE_SIZE,
        k::STATUS_INPUT_OVERRUN,
        k::STATUS_RESERVED_BLOCK_TYPE,
        k::STATUS_INVALID_CODE,
        k::STATUS_EMPTY_CODE,
        k::STATUS_REPEAT_WITHOUT_PREVIOUS,
        k::STATUS_CODE_LENGTH_OVERRUN,
        k::STATUS_MISSING_END_OF_BLOCK,
        k::STATUS_INVALID_SYMBOL,
        k::STATUS_DISTANCE_TOO_FAR,
        k::STATUS_OUTPUT_OVERRUN,
        k::STATUS_OUTPUT_UNDERRUN,
        k::STATUS_BAD_DESCRIPTOR,
        k::STATUS_ROUND_LIMIT,
    ];
    assert_eq!(codes.iter().collect::<HashSet<_>>().len(), codes.len());
    // A status buffer the kernel never wrote (zeroed) must not read as success.
    assert_eq!(k::STATUS_NOT_RUN, 0);
    assert_ne!(k::STATUS_OK, 0);
}

#[test]
fn the_subgroup_decode_variant_differs_from_the_base_only_in_its_cross_lane_sections() {
    use dsr_kernels::{GDEFLATE_DECODE, GDEFLATE_DECODE_SUBGROUP};
    let (base, sub) = (GDEFLATE_DECODE, GDEFLATE_DECODE_SUBGROUP);
    assert_eq!(base.subgroup_size, 0);
    assert_eq!(sub.subgroup_size, dsr_gdeflate_lanes());
    assert_eq!(sub.entry_point, base.entry_point);
    assert_eq!(sub.workgroup_size, base.workgroup_size);
    assert_eq!(sub.bindings, base.bindings);
    // Both are preprocessed from one file: same line count, no directive left, subgroup
    // builtins only in the variant.
    assert_eq!(base.wgsl.lines().count(), sub.wgsl.lines().count());
    for k in [base, sub] {
        let directive = k.wgsl.lines().any(|l| l.trim_start().starts_with("//#"));
        assert!(!directive, "{}: a directive survived preprocessing", k.name);
    }
    assert!(!base.wgsl.contains("subgroupBallot"));
    assert!(sub.wgsl.contains("subgroupBallot") && sub.wgsl.contains("subgroupExclusiveAdd"));
    // Only subgroup variants need a subgroup size.
    for k in KERNELS {
        let subgroup = k.name.ends_with("_subgroup") || k.name.ends_with("_subgroup_bytes");
        assert_eq!(k.subgroup_size != 0, subgroup, "{}", k.name);
    }
}

/// Regression (docs/perf-notes.md, v2): naga writes `storageBarrier` with Device memory scope,
/// a GPU-wide fence on NVIDIA that cost the decode kernel a quarter of its time; build.rs
/// rescopes every control barrier to its execution scope. If naga's output or the pass
/// changes, this fails.
#[test]
fn every_control_barrier_has_its_execution_scope_as_memory_scope() {
    const OP_CONTROL_BARRIER: u32 = 224;
    for k in KERNELS {
        let barriers = instructions(k.spirv, OP_CONTROL_BARRIER);
        for (i, o) in barriers.iter().enumerate() {
            assert_eq!(o[1], o[0], "{}: barrier {i}", k.name);
        }
        let barriers = barriers.len();
        if k.name.starts_with("gdeflate_decode") {
            assert!(barriers > 0, "{}: the decode kernel synchronises its lanes", k.name);
        }
    }
}

/// Words of every instruction with `opcode` in `words` (a SPIR-V module), operands only.
fn instructions(words: &[u32], opcode: u32) -> Vec<Vec<u32>> {
    let (mut at, mut found) = (5, Vec::new());
    while at < words.len() {
        let count = (words[at] >> 16) as usize;
        assert!(count > 0 && at + count <= words.len(), "malformed SPIR-V at word {at}");
        if words[at] & 0xffff == opcode {
            found.push(words[at + 1..at + count].to_vec());
        }
        at += count;
    }
    found
}

/// The byte-store kernels (kernels/build.rs, `byte_kernel`) are their base kernels with 8-bit
/// output access: same entry point, workgroup, subgroup size and bindings, no WGSL of their
/// own, `StorageBuffer8BitAccess` declared (and only by them), one 8-bit integer type, and the
/// output binding declared twice (the word view, now only measured by `OpArrayLength`, and
/// the byte view).
#[test]
fn every_byte_store_kernel_is_its_base_kernel_with_8bit_output_access() {
    const OP_CAPABILITY: u32 = 17;
    const OP_TYPE_INT: u32 = 21;
    const OP_DECORATE: u32 = 71;
    const STORAGE_BUFFER_8BIT_ACCESS: u32 = 4448;
    const BINDING: u32 = 33;
    let bytes: Vec<_> = KERNELS.iter().filter(|k| k.storage_8bit).collect();
    let names: Vec<_> = bytes.iter().map(|k| k.name).collect();
    assert_eq!(names, ["gdeflate_decode_bytes", "gdeflate_decode_subgroup_bytes"]);
    for k in KERNELS {
        let caps = instructions(k.spirv, OP_CAPABILITY);
        assert_eq!(caps.contains(&vec![STORAGE_BUFFER_8BIT_ACCESS]), k.storage_8bit, "{}", k.name);
        let eight = instructions(k.spirv, OP_TYPE_INT).iter().filter(|o| o[1] == 8).count();
        assert_eq!(eight, usize::from(k.storage_8bit), "{}", k.name);
    }
    for k in bytes {
        let base = kernel(k.name.strip_suffix("_bytes").expect("suffix")).expect("base kernel");
        assert!(!base.storage_8bit);
        assert_eq!(k.entry_point, base.entry_point);
        assert_eq!(k.workgroup_size, base.workgroup_size);
        assert_eq!(k.subgroup_size, base.subgroup_size);
        assert_eq!(k.bindings, base.bindings);
        assert!(k.wgsl.is_empty(), "{}", k.name);
        let dst_binding = 3;
        let on = |m: &KernelInfo| {
            instructions(m.spirv, OP_DECORATE)
                .iter()
                .filter(|o| o[1] == BINDING && o[2] == dst_binding)
                .count()
        };
        assert_eq!((on(base), on(k)), (1, 2), "{}: variables on the output binding", k.name);
    }
}

/// Every kernel's SPIR-V passes the Khronos validator (`spirv-val` of SPIRV-Tools, for Vulkan
/// 1.2): in particular the byte-store kernels, which kernels/build.rs writes by hand and
/// naga cannot re-read. Skipped with a notice where `spirv-val` is not installed, except with
/// `DSR_REQUIRE_GPU=1` (CI, whose `.ci/run` installs `spirv-tools`), where that fails.
#[test]
fn every_kernel_passes_spirv_val() {
    let dir = std::env::temp_dir().join(format!("dsr-spirv-val-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    for k in KERNELS {
        let path = dir.join(format!("{}.spv", k.name));
        let bytes: Vec<u8> = k.spirv.iter().flat_map(|w| w.to_le_bytes()).collect();
        std::fs::write(&path, bytes).expect("write SPIR-V");
        let out = match std::process::Command::new("spirv-val")
            .arg("--target-env")
            .arg("vulkan1.2")
            .arg(&path)
            .output()
        {
            Ok(out) => out,
            Err(e) if std::env::var("DSR_REQUIRE_GPU").as_deref() != Ok("1") => {
                eprintln!("NOTICE: spirv-val not run ({e}); install spirv-tools");
                return;
            }
            Err(e) => panic!("spirv-val: {e} (DSR_REQUIRE_GPU=1: install spirv-tools)"),
        };
        assert!(out.status.success(), "{}: {}", k.name, String::from_utf8_lossy(&out.stderr));
    }
    let _ = std::fs::remove_dir_all(&dir);
}
