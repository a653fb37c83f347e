//! Runs the build script's compiler (`build.rs`, included as a module) on broken shaders and
//! checks that the build fails with a message that points at the WGSL source.

#[allow(dead_code, unreachable_pub)]
#[path = "../build.rs"]
mod build_script;

use build_script::{Kind, compile_kernel, variants};

const PATH: &str = "shaders/copy.wgsl";

fn copy_source() -> &'static str {
    dsr_kernels::COPY.wgsl
}

/// 1-based number of the first line containing `needle`.
fn line_of(source: &str, needle: &str) -> usize {
    source.lines().position(|l| l.contains(needle)).expect("needle in source") + 1
}

fn compile_err(path: &str, source: &str) -> String {
    match compile_kernel(path, source) {
        Ok(k) => panic!("{path} compiled, expected an error: {k:?}"),
        Err(e) => e,
    }
}

#[test]
fn the_real_shader_compiles_to_the_embedded_table() {
    let k = compile_kernel(PATH, copy_source()).expect("copy.wgsl compiles");
    let c = dsr_kernels::COPY;
    assert_eq!(k.name, c.name);
    assert_eq!(k.entry_point, c.entry_point);
    assert_eq!(k.workgroup_size, c.workgroup_size);
    assert_eq!(k.spirv, c.spirv);
    let kinds: Vec<_> = k.bindings.iter().map(|b| b.kind).collect();
    assert_eq!(kinds, [Kind::Uniform, Kind::StorageRead, Kind::StorageReadWrite]);
}

#[test]
fn syntax_error_points_at_the_line() {
    let good = copy_source();
    let broken = good.replacen("arrayLength(&src);", "arrayLength(&src)", 1);
    assert_ne!(broken, good);
    let err = compile_err(PATH, &broken);
    // The parser reports the token after the missing `;`: the start of the next line.
    let line = line_of(good, "let dst_len");
    assert!(err.contains(&format!("{PATH}:{line}:5")), "{err}");
    assert!(err.contains("expected `;`"), "{err}");
}

#[test]
fn type_error_points_at_the_line() {
    let good = copy_source();
    let broken = good.replacen("let n = min(", "let n: f32 = min(", 1);
    assert_ne!(broken, good);
    let err = compile_err(PATH, &broken);
    let line = line_of(good, "let n = min(");
    assert!(err.contains(&format!("{PATH}:{line}:")), "{err}");
}

#[test]
fn writing_a_read_only_buffer_is_an_error_at_the_line() {
    let good = copy_source();
    let broken = good.replacen("dst[dst_offset + i] = ", "src[dst_offset + i] = ", 1);
    assert_ne!(broken, good);
    let err = compile_err(PATH, &broken);
    let line = line_of(good, "dst[dst_offset + i] = ");
    assert!(err.contains(&format!("{PATH}:{line}:")), "{err}");
}

#[test]
fn validation_error_points_at_the_declaration() {
    // Passes the parser; the validator rejects the uniform layout (array stride 4 < 16).
    let src = "struct P { a: array<u32, 4> }\n\
               @group(0) @binding(0) var<uniform> p: P;\n\
               @group(0) @binding(1) var<storage, read_write> o: array<u32>;\n\
               @compute @workgroup_size(1) fn main() { o[0] = p.a[0]; }\n";
    let err = compile_err("bad.wgsl", src);
    assert!(err.contains("bad.wgsl:"), "{err}");
    assert!(err.to_lowercase().contains("uniform"), "{err}");
}

#[test]
fn kernel_rules_are_enforced() {
    let unused = "@group(0) @binding(0) var<storage, read_write> o: array<u32>;\n\
                  @group(0) @binding(1) var<storage, read> unused: array<u32>;\n\
                  @compute @workgroup_size(64) fn main() { o[0] = 1u; }\n";
    let err = compile_err("k.wgsl", unused);
    assert!(err.starts_with("k.wgsl: error:") && err.contains("`unused`"), "{err}");

    let two = "@group(0) @binding(0) var<storage, read_write> o: array<u32>;\n\
               @compute @workgroup_size(64) fn a() { o[0] = 1u; }\n\
               @compute @workgroup_size(64) fn b() { o[0] = 2u; }\n";
    let err = compile_err("k.wgsl", two);
    assert!(err.contains("exactly one entry point"), "{err}");

    let overridden = "override N: u32 = 64u;\n\
                      @group(0) @binding(0) var<storage, read_write> o: array<u32>;\n\
                      @compute @workgroup_size(N) fn main() { o[0] = 1u; }\n";
    let err = compile_err("k.wgsl", overridden);
    assert!(err.contains("`override`"), "{err}");

    let ok = "@group(0) @binding(0) var<storage, read_write> o: array<u32>;\n\
              @compute @workgroup_size(8, 4) fn main() { o[0] = 1u; }\n";
    let err = compile_err("Bad-Name.wgsl", ok);
    assert!(err.contains("lower_snake_case"), "{err}");
    let k = compile_kernel("good_name.wgsl", ok).expect("valid kernel");
    assert_eq!((k.name.as_str(), k.workgroup_size), ("good_name", [8, 4, 1]));
}

#[test]
fn struct_names_are_converted() {
    assert_eq!(build_script::screaming_snake("CopyParams"), "COPY_PARAMS");
    assert_eq!(build_script::screaming_snake("Gd2Header"), "GD2_HEADER");
}

#[test]
fn variant_directives_must_be_balanced_and_known() {
    let err = variants("k.wgsl", "fn f() {}\n//#if subgroup\nfn g() {}\n").unwrap_err();
    assert!(err.contains("k.wgsl: error: `//#if subgroup` without `//#endif`"), "{err}");
    let err = variants("k.wgsl", "//#if subgroup\n//#if subgroup\n//#endif\n").unwrap_err();
    assert!(err.starts_with("k.wgsl:2: error: unexpected directive `//#if subgroup`"), "{err}");
    let err = variants("k.wgsl", "//#ifdef X\n").unwrap_err();
    assert!(err.starts_with("k.wgsl:1: error: unexpected directive `//#ifdef X`"), "{err}");
}

#[test]
fn variants_keep_line_numbers_and_pick_their_sections() {
    let src = "a\n//#if subgroup\nsub\n//#else\nbase\n//#endif\nz\n";
    let v = variants("k.wgsl", src).expect("balanced");
    let [(None, Some(base)), (Some("subgroup"), Some(sub))] = v.as_slice() else {
        panic!("expected a base and a subgroup variant: {v:?}");
    };
    assert_eq!(base, "a\n\n\n\nbase\n\nz\n");
    assert_eq!(sub, "a\n\nsub\n\n\n\nz\n");
    // No directive: one kernel, the file itself.
    assert_eq!(variants("k.wgsl", "a\n").unwrap(), vec![(None, None)]);
}

/// A small kernel with the three byte-access functions of the byte-store pass
/// (`build.rs`, `byte_stores`); `extra` goes into the entry point.
fn byte_kernel_source(extra: &str) -> String {
    format!(
        "@group(0) @binding(0) var<storage, read_write> dst: array<atomic<u32>>;
fn dst_byte_store(a: u32, value: u32) {{ atomicOr(&dst[a >> 2u], (value & 0xffu) << ((a & 3u) * 8u)); }}
fn dst_byte_load(a: u32) -> u32 {{ return (atomicLoad(&dst[a >> 2u]) >> ((a & 3u) * 8u)) & 0xffu; }}
fn clear_destination() {{ atomicStore(&dst[0], 0u); }}
@compute @workgroup_size(32)
fn main(@builtin(local_invocation_index) i: u32) {{
    clear_destination();
    dst_byte_store(i + 1u, dst_byte_load(i));
    {extra}
}}
"
    )
}

#[test]
fn byte_store_pass_leaves_kernels_without_the_byte_functions_alone() {
    let k = compile_kernel(PATH, copy_source()).expect("copy.wgsl compiles");
    assert!(build_script::byte_kernel(PATH, &k).expect("no error").is_none());
}

#[test]
fn byte_store_pass_makes_a_byte_kernel_of_one_that_uses_dst_only_through_them() {
    let k = compile_kernel("shaders/bytes.wgsl", &byte_kernel_source("")).expect("compiles");
    let b = build_script::byte_kernel("shaders/bytes.wgsl", &k).expect("no error").expect("a byte kernel");
    assert_eq!((b.name.as_str(), b.storage_8bit), ("bytes_bytes", true));
    assert_eq!(b.bindings, k.bindings);
    assert_ne!(b.spirv, k.spirv);
}

#[test]
fn byte_store_pass_refuses_a_kernel_that_reaches_dst_elsewhere() {
    let source = byte_kernel_source("atomicAdd(&dst[i], 1u);");
    let k = compile_kernel("shaders/bytes.wgsl", &source).expect("compiles");
    let err = build_script::byte_kernel("shaders/bytes.wgsl", &k).expect_err("dst used outside");
    assert!(err.starts_with("shaders/bytes.wgsl: error: byte-store kernel:"), "{err}");
    assert!(err.contains("reaches `dst` outside"), "{err}");
}

#[test]
fn byte_store_pass_refuses_a_kernel_missing_one_of_the_functions() {
    let source = byte_kernel_source("").replace("dst_byte_load", "other_load");
    let k = compile_kernel("shaders/bytes.wgsl", &source).expect("compiles");
    let err = build_script::byte_kernel("shaders/bytes.wgsl", &k).expect_err("no load function");
    assert!(err.contains("the module has no `dst_byte_load`"), "{err}");
}
