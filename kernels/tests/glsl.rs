//! The GLSL path (feature `glsl`): the `fill_pattern` kernel's generated table entry and host
//! struct, and the build script itself (`build.rs` + `build_glsl.rs`, with shaderc) run on
//! scratch copies of the crate's shader directories holding broken or unusual GLSL, to check
//! that it fails with messages pointing at the GLSL source line and reflects what the source
//! declares.
//!
//! The build script cannot be included here as a module like in `build_errors.rs` (shaderc is
//! a build-dependency only), so these tests run the very binary cargo built and ran for this
//! crate; its path comes from the build script (`DSR_KERNELS_BUILD_SCRIPT`).

#![cfg(feature = "glsl")]

use core::mem::{align_of, offset_of, size_of};
use dsr_kernels::glsl::FillPatternParams;
use dsr_kernels::{Binding, BindingKind, FILL_PATTERN, FILL_PATTERN_PARAMS_LAYOUT, KERNELS, kernel};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

const FILL_SOURCE: &str = include_str!("../glsl/fill_pattern.comp");

#[test]
fn fill_pattern_is_in_the_table_as_written_in_the_shader() {
    let k = kernel("fill_pattern").expect("fill_pattern kernel");
    assert_eq!(*k, FILL_PATTERN);
    assert!(KERNELS.contains(&&FILL_PATTERN));
    assert_eq!(k.entry_point, "main");
    assert_eq!(k.workgroup_size, [256, 1, 1]);
    assert_eq!(k.wgsl, "", "a GLSL kernel has no WGSL source");
    assert_eq!(&k.spirv[..2], [0x0723_0203, 0x0001_0300], "SPIR-V 1.3");
    let expected = [
        Binding { group: 0, binding: 0, kind: BindingKind::Uniform, min_size: 12 },
        Binding { group: 0, binding: 1, kind: BindingKind::StorageReadWrite, min_size: 4 },
    ];
    assert_eq!(k.bindings, &expected);
    assert_eq!(k.bindings[0].min_size, size_of::<FillPatternParams>() as u64);
}

#[test]
fn fill_pattern_params_layout_matches_the_reflection() {
    let l = FILL_PATTERN_PARAMS_LAYOUT;
    assert_eq!(l.name, "FillPatternParams");
    assert_eq!(size_of::<FillPatternParams>(), l.size as usize);
    assert_eq!(align_of::<FillPatternParams>(), l.align as usize);
    let host = [
        ("offset_words", offset_of!(FillPatternParams, offset_words)),
        ("word_count", offset_of!(FillPatternParams, word_count)),
        ("pattern", offset_of!(FillPatternParams, pattern)),
    ];
    let reflected: Vec<(&str, usize)> =
        l.members.iter().map(|&(name, offset)| (name, offset as usize)).collect();
    assert_eq!(reflected, host);
    let p = FillPatternParams { offset_words: 1, word_count: 2, pattern: 3 };
    assert_eq!(&bytemuck::bytes_of(&p)[8..12], &3u32.to_ne_bytes());
}

/// A scratch "crate": `shaders/copy.wgsl` and the given `glsl/` files, for the build script.
struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    fn new(test: &str, glsl: &[(&str, &str)]) -> Self {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dsr-kernels-glsl").join(test);
        let _ = fs::remove_dir_all(&dir);
        for sub in ["shaders", "glsl", "out"] {
            fs::create_dir_all(dir.join(sub)).expect("create scratch dir");
        }
        fs::write(dir.join("shaders/copy.wgsl"), dsr_kernels::COPY.wgsl).expect("write copy.wgsl");
        for (name, source) in glsl {
            fs::write(dir.join("glsl").join(name), source).expect("write GLSL");
        }
        Self { dir }
    }

    /// The path the build script sees (and shows) for `glsl/<name>`.
    fn glsl_path(&self, name: &str) -> String {
        self.dir.join("glsl").join(name).display().to_string()
    }

    /// Runs the build script on the scratch crate: the generated `kernels.rs`, or its stderr.
    fn build(&self) -> Result<String, String> {
        let out = Command::new(env!("DSR_KERNELS_BUILD_SCRIPT"))
            .env("CARGO_MANIFEST_DIR", &self.dir)
            .env("OUT_DIR", self.dir.join("out"))
            .output()
            .expect("run the build script");
        if out.status.success() {
            Ok(fs::read_to_string(self.dir.join("out/kernels.rs")).expect("kernels.rs written"))
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }

    fn build_err(&self) -> String {
        match self.build() {
            Ok(_) => panic!("the build script accepted {}", self.dir.display()),
            Err(e) => e,
        }
    }
}

/// 1-based number of the first line containing `needle`.
fn line_of(source: &str, needle: &str) -> usize {
    source.lines().position(|l| l.contains(needle)).expect("needle in source") + 1
}

/// `FILL_SOURCE` with `from` replaced by `to` (which must change it).
fn fill_with(from: &str, to: &str) -> String {
    let s = FILL_SOURCE.replacen(from, to, 1);
    assert_ne!(s, FILL_SOURCE, "`{from}` not found");
    s
}

#[test]
fn the_real_kernel_builds_to_the_embedded_spirv() {
    let s = Scratch::new("real", &[("fill_pattern.comp", FILL_SOURCE)]);
    let code = s.build().expect("fill_pattern.comp builds");
    assert!(code.contains("pub const FILL_PATTERN: KernelInfo"), "{code}");
    assert!(code.contains("&[&COPY, &FILL_PATTERN]"), "{code}");
    let spv = fs::read(s.dir.join("out/fill_pattern.spv")).expect("fill_pattern.spv");
    let embedded: Vec<u8> = FILL_PATTERN.spirv.iter().flat_map(|w| w.to_le_bytes()).collect();
    assert_eq!(spv, embedded, "the build is deterministic and the table embeds its SPIR-V");
}

#[test]
fn undeclared_identifier_points_at_the_line() {
    let broken = fill_with("uint avail = offset <= dst_len", "uint avail = offset <= dst_size");
    let s = Scratch::new("undeclared", &[("fill_pattern.comp", &broken)]);
    let err = s.build_err();
    let line = line_of(&broken, "dst_size");
    let path = s.glsl_path("fill_pattern.comp");
    assert!(err.contains(&format!("{path}:{line}: error: 'dst_size' : undeclared identifier")), "{err}");
}

#[test]
fn syntax_and_type_errors_point_at_their_lines() {
    let broken = fill_with("uint n = min(params.word_count, avail);", "uint n = 1.5;");
    let broken = broken.replacen("stride = gl_NumWorkGroups.x * WORKGROUP_SIZE;", "stride = ;", 1);
    let s = Scratch::new("syntax", &[("fill_pattern.comp", &broken)]);
    let err = s.build_err();
    let path = s.glsl_path("fill_pattern.comp");
    let type_line = line_of(&broken, "uint n = 1.5;");
    assert!(err.contains(&format!("{path}:{type_line}: error:")) && err.contains("convert"), "{err}");
    let syntax_line = line_of(&broken, "stride = ;");
    assert!(err.contains(&format!("{path}:{syntax_line}: error:")) && err.contains("syntax error"), "{err}");
}

#[test]
fn writing_a_readonly_buffer_is_an_error_at_the_line() {
    let broken = fill_with("std430) buffer FillPatternDst", "std430) readonly buffer FillPatternDst");
    let s = Scratch::new("readonly-write", &[("fill_pattern.comp", &broken)]);
    let err = s.build_err();
    let line = line_of(&broken, "dst.words[offset + i] = ");
    assert!(err.contains(&format!("{}:{line}: error:", s.glsl_path("fill_pattern.comp"))), "{err}");
}

#[test]
fn errors_in_every_kernel_are_reported_not_only_the_first() {
    let a = fill_with("uint offset = params.offset_words;", "uint offset = params.offset;");
    let b = fill_with("if (n - i <= stride) {", "if (n - i <= strid) {");
    let s = Scratch::new("two-files", &[("a.comp", &a), ("b.comp", &b)]);
    let err = s.build_err();
    let line_a = line_of(&a, "params.offset;");
    let line_b = line_of(&b, "strid)");
    assert!(err.contains(&format!("{}:{line_a}: error:", s.glsl_path("a.comp"))), "{err}");
    assert!(err.contains(&format!("{}:{line_b}: error:", s.glsl_path("b.comp"))), "{err}");
}

#[test]
fn includes_resolve_and_their_errors_point_at_the_included_file() {
    let main = "#version 450\n\
                #include \"common.glsl\"\n\
                layout(local_size_x = 64) in;\n\
                layout(set = 0, binding = 0) buffer Out { uint w[]; } o;\n\
                void main() { if (o.w.length() > 0) { o.w[0] = MAGIC; } }\n";
    let good = "// shared\nconst uint MAGIC = 7u;\n";
    let s = Scratch::new("include-ok", &[("inc.comp", main), ("common.glsl", good)]);
    let code = s.build().expect("a kernel with an #include builds");
    assert!(code.contains("pub const INC: KernelInfo"), "{code}");
    assert!(!code.contains("COMMON"), "`.glsl` files are includes, not kernels:\n{code}");

    let bad = "// shared\nconst uint MAGIC = nope;\n";
    let s = Scratch::new("include-bad", &[("inc.comp", main), ("common.glsl", bad)]);
    let err = s.build_err();
    assert!(err.contains(&format!("{}:2: error: 'nope'", s.glsl_path("common.glsl"))), "{err}");

    let s = Scratch::new("include-missing", &[("inc.comp", main)]);
    let err = s.build_err();
    assert!(err.contains(&format!("{}:2: error:", s.glsl_path("inc.comp"))), "{err}");
    assert!(err.contains("common.glsl"), "{err}");
}

#[test]
fn bindings_sets_readonly_and_layouts_are_reflected() {
    let src = "#version 450\n\
               layout(local_size_x = 8, local_size_y = 2) in;\n\
               layout(set = 0, binding = 0) readonly buffer Src { uint w[]; } src;\n\
               layout(set = 1, binding = 3) buffer Dst { uint w[]; };\n\
               layout(set = 0, binding = 1) uniform Params { uint x; uvec4 y; } params;\n\
               shared uint tmp[16];\n\
               void main() {\n\
                   tmp[gl_LocalInvocationIndex] = src.w.length() > 0 ? src.w[0] : 0u;\n\
                   barrier();\n\
                   if (w.length() > 0) { w[0] = tmp[0] + params.x + params.y.w; }\n\
               }\n";
    let s = Scratch::new("reflect", &[("two_sets.comp", src)]);
    let code = s.build().expect("valid kernel");
    for expected in [
        "workgroup_size: [8, 2, 1]",
        "Binding { group: 0, binding: 0, kind: BindingKind::StorageRead, min_size: 4 }",
        "Binding { group: 0, binding: 1, kind: BindingKind::Uniform, min_size: 32 }",
        "Binding { group: 1, binding: 3, kind: BindingKind::StorageReadWrite, min_size: 4 }",
        "/// - `@group(1) @binding(3)` `Dst`: StorageReadWrite",
        "/// Layout of the GLSL block `Params` as naga lays it out: 32 bytes, aligned to 16.",
        "members: &[(\"x\", 0), (\"y\", 16)]",
        "/// Layout of the WGSL struct `CopyParams`",
    ] {
        assert!(code.contains(expected), "missing `{expected}` in:\n{code}");
    }
}

#[test]
fn kernel_rules_are_enforced() {
    let unused = "#version 450\n\
                  layout(local_size_x = 64) in;\n\
                  layout(set = 0, binding = 0) buffer Out { uint w[]; } o;\n\
                  layout(set = 0, binding = 1) buffer Unused { uint w[]; } unused;\n\
                  void main() { o.w[0] = 1u; }\n";
    let s = Scratch::new("unused", &[("k.comp", unused)]);
    let err = s.build_err();
    assert!(
        err.starts_with(&format!("{}: error:", s.glsl_path("k.comp"))) && err.contains("`unused`"),
        "{err}"
    );

    let spec = "#version 450\n\
                layout(local_size_x_id = 0) in;\n\
                layout(set = 0, binding = 0) buffer Out { uint w[]; } o;\n\
                void main() { o.w[0] = 1u; }\n";
    let err = Scratch::new("spec", &[("k.comp", spec)]).build_err();
    assert!(err.contains("specialization constants"), "{err}");

    let image = "#version 450\n\
                 layout(local_size_x = 1) in;\n\
                 layout(set = 0, binding = 0, r32ui) uniform uimage2D img;\n\
                 void main() { imageStore(img, ivec2(0), uvec4(1u)); }\n";
    let err = Scratch::new("image", &[("k.comp", image)]).build_err();
    assert!(err.contains("`img`") && err.contains("not supported"), "{err}");

    let ok = "#version 450\n\
              layout(local_size_x = 1) in;\n\
              layout(set = 0, binding = 0) buffer Out { uint w[]; } o;\n\
              void main() { o.w[0] = 1u; }\n";
    let err = Scratch::new("bad-name", &[("Bad-Name.comp", ok)]).build_err();
    assert!(err.contains("lower_snake_case"), "{err}");
    let err = Scratch::new("duplicate", &[("copy.comp", ok)]).build_err();
    assert!(err.contains("two kernels are named `copy`"), "{err}");
    let err = Scratch::new("nul", &[("k.comp", "#version 450\0")]).build_err();
    assert!(err.contains("NUL"), "{err}");
}
