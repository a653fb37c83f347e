//! `dsr info`: lists Vulkan devices and wgpu adapters when there are some, says so plainly
//! when there are none, and exits 0 either way.

use std::process::{Command, Output};

fn dsr_info(env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_dsr"));
    cmd.arg("info");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("run dsr info")
}

/// The `auto picks: …` line.
fn auto_line(out: &str) -> &str {
    let lines: Vec<&str> = out.lines().filter(|l| l.starts_with("auto picks: ")).collect();
    assert_eq!(lines.len(), 1, "{out}");
    lines[0]
}

#[test]
fn info_lists_devices_and_the_auto_backend() {
    let o = dsr_info(&[]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("CPU decoder: ") && out.contains(" threads"), "{out}");
    let auto = auto_line(&out);
    if out.contains("Vulkan: not available") {
        assert!(std::env::var_os("DSR_REQUIRE_GPU").is_none_or(|v| v != "1"), "DSR_REQUIRE_GPU=1: {out}");
        assert!(auto.starts_with("auto picks: cpu (no usable Vulkan device"), "{auto}");
        eprintln!("NOTICE: no Vulkan device here; only the no-device output was checked");
        return;
    }
    // Per device: subgroup size (and its range or its absence), the decompression extensions.
    for key in
        ["subgroup size ", "size control", "VK_NV_memory_decompression ", "VK_EXT_memory_decompression "]
    {
        assert!(out.contains(key), "{key}: {out}");
    }
    assert!(out.contains("usable; --backend vulkan uses this device"), "{out}");
    // wgpu's adapters: the same Vulkan devices through wgpu, with the kernel each would run.
    assert!(out.contains("wgpu adapters (Vulkan backend): "), "{out}");
    assert!(out.contains("decode kernel gdeflate_decode"), "{out}");
    assert!(out.contains("usable; --backend wgpu uses this adapter"), "{out}");
    // auto: a hardware device, or the CPU saying that only a software one exists.
    let software = out.contains("type CPU (software)");
    let hardware =
        ["discrete GPU", "integrated GPU", "virtual GPU"].iter().any(|t| out.contains(&format!("type {t}")));
    if hardware {
        assert!(auto.starts_with("auto picks: vulkan (device "), "{auto}");
    } else if software {
        assert!(auto.starts_with("auto picks: cpu (no hardware Vulkan device: "), "{auto}");
        assert!(auto.contains("software rasterizer"), "{auto}");
    }
}

#[test]
fn info_without_a_vulkan_driver_says_so_and_exits_0() {
    // The loader honours these (VK_DRIVER_FILES since 1.3.207, VK_ICD_FILENAMES before).
    let missing = "/nonexistent/dsr-no-icd.json";
    let o = dsr_info(&[("VK_DRIVER_FILES", missing), ("VK_ICD_FILENAMES", missing)]);
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success(), "{out}\n{}", String::from_utf8_lossy(&o.stderr));
    assert!(out.contains("Vulkan: not available"), "{out}");
    assert!(out.contains("wgpu adapters (Vulkan backend): 0"), "{out}");
    assert!(auto_line(&out).starts_with("auto picks: cpu (no usable Vulkan device ("), "{out}");
}
