//! The main demo: what ds-runtime does today, end to end, on real asset files.
//!
//! 1. Picks a decode backend (`auto`): prints which one and why (Vulkan on a hardware GPU;
//!    otherwise the CPU, with a notice naming what was missing).
//! 2. Compresses a few real game assets into DirectStorage GDeflate tile streams at the
//!    default level, and decodes them again on that backend, checking every byte.
//! 3. Decodes a stream made by Microsoft/NVIDIA's reference tool and checks it against the
//!    corpus MANIFEST's SHA-256.
//!
//! Run: `cargo run --release --example ds_demo` (optionally `-- FILE...` for your own files).

use ds_runtime::{Backend, select_backend};
use dsr_gdeflate::Level;
use std::path::PathBuf;
use std::time::Instant;

fn corpus() -> PathBuf {
    std::env::var_os("DSR_CORPUS")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"), PathBuf::from)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let selection = select_backend(Backend::Auto)?;
    if selection.is_fallback {
        println!("notice: decode backend `{}` ({})", selection.backend, selection.reason);
    } else {
        println!("decode backend: {}", selection.backend);
    }

    let mut files: Vec<PathBuf> = std::env::args_os().skip(1).map(PathBuf::from).collect();
    if files.is_empty() {
        let raw = corpus().join("raw");
        files = ["wz_research.json", "fg_cumulus_bottom1.dds", "assimp_Wuson.ply", "etr_mud_slide.wav"]
            .iter()
            .map(|n| raw.join(n))
            .filter(|p| p.exists())
            .collect();
    }
    if files.is_empty() {
        // No corpus beside the checkout: demonstrate on generated, mildly repetitive data.
        let p = std::env::temp_dir().join("ds_demo_sample.txt");
        let text: String =
            (0..20000).map(|i| format!("asset {i} mip {} layer {}\n", i % 11, i % 6)).collect();
        std::fs::write(&p, text)?;
        files.push(p);
    }

    println!(
        "\n{:<28} {:>10} {:>10} {:>7} {:>12} {:>12}",
        "file", "bytes", "packed", "ratio", "compress", "decompress"
    );
    for path in &files {
        let data = std::fs::read(path)?;
        let t = Instant::now();
        let stream = dsr_gdeflate::compress(&data, Level::DEFAULT, 0)?;
        let ct = t.elapsed().as_secs_f64();
        let t = Instant::now();
        let back = selection.decompress(&stream, 0)?;
        let dt = t.elapsed().as_secs_f64();
        assert!(back == data, "round trip mismatch for {}", path.display());
        println!(
            "{:<28} {:>10} {:>10} {:>6.1}% {:>7.0} MB/s {:>7.0} MB/s",
            path.file_name().unwrap_or_default().to_string_lossy(),
            data.len(),
            stream.len(),
            100.0 * stream.len() as f64 / data.len().max(1) as f64,
            data.len() as f64 / ct / 1e6,
            data.len() as f64 / dt / 1e6,
        );
    }
    println!("every file decoded back to its exact bytes");

    let gdf = corpus().join("gdeflate/fg_cumulus_bottom1.dds.lvl12.gdf");
    if let Ok(stream) = std::fs::read(&gdf) {
        let out = selection.decompress(&stream, 0)?;
        let digest = sha256(&out);
        let ok = digest == "b15a3d28762787109b10d071bad2e8df3ab7cea0493a28ccd7b8664aafa59cf3";
        println!(
            "\nreference-made stream {}: {} bytes, sha256 {digest} {}",
            gdf.file_name().unwrap_or_default().to_string_lossy(),
            out.len(),
            if ok { "(matches the MANIFEST)" } else { "(MISMATCH)" }
        );
        if !ok {
            return Err("reference stream decoded to the wrong bytes".into());
        }
    }
    Ok(())
}

fn sha256(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}
