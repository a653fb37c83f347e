//! The main demo: what ds-runtime does today, end to end, on real asset files.
//!
//! 1. Picks a decode backend (`auto`): prints which one and why (Vulkan on a hardware GPU;
//!    otherwise the CPU, with a notice naming what was missing).
//! 2. Compresses a few real game assets into DirectStorage GDeflate tile streams at the
//!    default level, and decodes them again on that backend, checking every byte.
//! 3. Decodes a stream made by Microsoft/NVIDIA's reference tool and checks it against the
//!    corpus MANIFEST's SHA-256.
//! 4. Reads the first file through a streaming queue (`ds_runtime::stream`) twice — raw, and
//!    as its GDeflate tile stream decoded on the way — and prints both results.
//!
//! Run: `cargo run --release --example ds_demo` (optionally `-- FILE...` for your own files).
//! `cargo test --workspace --release` runs it too (Cargo.toml builds it with `test = true`;
//! the test below calls `run`, the same code as `main`).

use ds_runtime::stream::{
    Compression, Destination, File, HostBuffer, QueueDesc, Request, Runtime, RuntimeConfig, Source,
};
use ds_runtime::{Backend, Selection, select_backend};
use dsr_gdeflate::Level;
use std::path::PathBuf;
use std::time::Instant;

fn corpus() -> PathBuf {
    std::env::var_os("DSR_CORPUS")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus"), PathBuf::from)
}

type Error = Box<dyn std::error::Error>;

fn main() -> Result<(), Error> {
    run(std::env::args_os().skip(1).map(PathBuf::from).collect())
}

/// The demo on `files` (none: a few corpus assets, else generated data).
fn run(mut files: Vec<PathBuf>) -> Result<(), Error> {
    let selection = select_backend(Backend::Auto)?;
    if selection.is_fallback {
        println!("notice: decode backend `{}` ({})", selection.backend, selection.reason);
    } else {
        println!("decode backend: {}", selection.backend);
    }

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
    queue_reads(&selection, &files[0])
}

/// Reads `path` through a streaming queue, raw and as a GDeflate tile stream, and prints both.
fn queue_reads(selection: &Selection, path: &std::path::Path) -> Result<(), Error> {
    let data = std::fs::read(path)?;
    let dir = tempfile::tempdir()?;
    let gdf = dir.path().join("asset.gdf");
    std::fs::write(&gdf, dsr_gdeflate::compress(&data, Level::DEFAULT, 0)?)?;
    // The runtime runs on the device `auto` picked (its Vulkan context), else on the CPU.
    let config = RuntimeConfig { backend: Backend::Cpu, ..RuntimeConfig::default() };
    let rt = match selection.vulkan_context() {
        Some(ctx) => Runtime::with_vulkan(ctx.clone(), RuntimeConfig { backend: Backend::Vulkan, ..config })?,
        None => Runtime::new(config)?,
    };
    let queue = rt.create_queue(QueueDesc { capacity: 2, name: "ds_demo".into(), ..QueueDesc::default() });
    let (raw_file, gdf_file) = (File::open(path)?, File::open(&gdf)?);
    let (raw_out, gdf_out) = (HostBuffer::new(data.len()), HostBuffer::new(data.len()));
    let t = Instant::now();
    let raw = queue.enqueue(Request {
        source: Source::whole_file(&raw_file),
        destination: Destination::Host { buffer: raw_out.clone(), offset: 0 },
        compression: Compression::None,
        tag: 1,
        name: "raw read".into(),
    })?;
    let compressed = queue.enqueue(Request {
        source: Source::whole_file(&gdf_file),
        destination: Destination::Host { buffer: gdf_out.clone(), offset: 0 },
        compression: Compression::GDeflate { uncompressed_size: data.len() as u64 },
        tag: 2,
        name: "compressed read".into(),
    })?;
    queue.submit();
    raw.wait()?;
    compressed.wait()?;
    let ms = t.elapsed().as_secs_f64() * 1e3;
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    println!(
        "\nthrough a streaming queue ({:?} I/O, {} backend), {:.1} ms for both:",
        rt.io_kind(),
        if rt.vulkan_context().is_some() { "vulkan" } else { "cpu" },
        ms
    );
    for (what, out, read) in [("raw", &raw_out, raw_file.len()), ("compressed", &gdf_out, gdf_file.len())] {
        let got = out.to_vec();
        let same = got == data;
        println!(
            "  {what:<10} read of {name}: {read} bytes read -> {} bytes, sha256 {} {}",
            got.len(),
            sha256(&got),
            if same { "(matches the file)" } else { "(MISMATCH)" }
        );
        if !same {
            return Err(format!("{what} queue read delivered the wrong bytes").into());
        }
    }
    Ok(())
}

fn sha256(data: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    Sha256::digest(data).iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_main_demo_runs_end_to_end() {
        super::run(Vec::new()).expect("ds_demo");
    }
}
