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
    naga::valid::Validator::new(naga::valid::ValidationFlags::all(), naga::valid::Capabilities::empty())
        .validate(&module)
        .unwrap_or_else(|e| panic!("{}: re-parsed SPIR-V does not validate: {e}", k.name));
    module
}

#[test]
fn spirv_is_well_formed_and_matches_the_table() {
    for k in KERNELS {
        assert_eq!(k.spirv[0], 0x0723_0203, "{}: SPIR-V magic", k.name);
        assert_eq!(k.spirv[1], 0x0001_0300, "{}: SPIR-V 1.3", k.name);
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
