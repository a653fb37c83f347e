//! `dsr load`: one request through a streaming queue (ds_runtime::stream), into host or GPU
//! memory, read back and hashed, so the pipeline can be exercised and checked by hand.
//!
//! Prints `sha256 <hex>` (of the delivered bytes) on a line of its own, then one line with
//! the size, time and throughput (from enqueue to completion, readback excluded) and what
//! ran it (backend, I/O engine, staging memory).

use clap::{Args, ValueEnum};
use ds_runtime::Backend;
use ds_runtime::stream::{
    Compression, Destination, File, HostBuffer, IoKind, QueueDesc, Request, Runtime, RuntimeConfig, Source,
};
use sha2::{Digest, Sha256};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::Instant;

/// Where `dsr load` (and `dsr bench e2e`) deliver the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Dest {
    /// A host buffer.
    Host,
    /// A device-local Vulkan buffer (needs the vulkan backend).
    Gpu,
}

/// I/O engine choice for `dsr load`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Io {
    /// io_uring, else the pread pool.
    Auto,
    /// io_uring only.
    Uring,
    /// The pread thread pool.
    Pread,
}

#[derive(Args)]
pub struct LoadArgs {
    /// File to load.
    file: PathBuf,
    /// First byte to read.
    #[arg(long, default_value_t = 0)]
    offset: u64,
    /// Bytes to read (default: to the end of the file).
    #[arg(long)]
    size: Option<u64>,
    /// The range is a DirectStorage GDeflate tile stream: decode it.
    #[arg(long)]
    compressed: bool,
    /// Decoded size of a compressed range (default: from the stream's header; the pipeline
    /// checks it either way).
    #[arg(long)]
    uncompressed_size: Option<u64>,
    /// Destination memory.
    #[arg(long, value_enum, default_value = "host")]
    dest: Dest,
    /// Backend. auto: Vulkan on a GPU, else the CPU — except that `--dest gpu` asks for
    /// vulkan (software devices included); cpu: host destinations only.
    #[arg(short, long, default_value = "auto")]
    backend: Backend,
    /// I/O engine (default: $DSR_IO, else auto).
    #[arg(long, value_enum)]
    io: Option<Io>,
}

pub fn run(a: &LoadArgs) -> Result<(), String> {
    let path = a.file.display();
    let file = File::open(&a.file).map_err(|e| format!("{path}: cannot open: {e}"))?;
    let size = match a.size {
        Some(s) => s,
        None => file
            .len()
            .checked_sub(a.offset)
            .ok_or_else(|| format!("{path}: offset past the end of the file"))?,
    };
    let compression = if a.compressed {
        let uncompressed_size = match a.uncompressed_size {
            Some(n) => n,
            None => header_size(&a.file, a.offset)?,
        };
        Compression::GDeflate { uncompressed_size }
    } else {
        if a.uncompressed_size.is_some() {
            return Err("--uncompressed-size needs --compressed".into());
        }
        Compression::None
    };
    let backend = match (a.dest, a.backend) {
        (Dest::Gpu, Backend::Auto) => Backend::Vulkan,
        (Dest::Gpu, Backend::Cpu) => {
            return Err(
                "--dest gpu needs the vulkan backend (the cpu backend delivers into host memory)".into()
            );
        }
        (_, b) => b,
    };
    let io = match a.io {
        None => IoKind::from_env(),
        Some(Io::Auto) => IoKind::Auto,
        Some(Io::Uring) => IoKind::Uring,
        Some(Io::Pread) => IoKind::Pread,
    };
    let rt =
        Runtime::new(RuntimeConfig { backend, io, ..RuntimeConfig::default() }).map_err(|e| e.to_string())?;
    let q = rt.create_queue(QueueDesc { capacity: 1, name: "dsr load".into(), ..QueueDesc::default() });
    let out_len = match compression {
        Compression::None => size,
        Compression::GDeflate { uncompressed_size } => uncompressed_size,
    };
    let out_usize = usize::try_from(out_len).map_err(|_| format!("{out_len} bytes do not fit in memory"))?;
    let source = Source::File { file, offset: a.offset, size };
    let (destination, readback): (Destination, Readback) = match a.dest {
        Dest::Host => {
            let buffer = HostBuffer::new(out_usize);
            let b = buffer.clone();
            (Destination::Host { buffer, offset: 0 }, Box::new(move || Ok(b.to_vec())))
        }
        Dest::Gpu => gpu_destination(&rt, out_len)?,
    };
    let request =
        Request { source, destination, compression, tag: 0, name: a.file.display().to_string().into() };
    let t = Instant::now();
    let ticket = q.enqueue(request).map_err(|e| e.to_string())?;
    q.submit();
    ticket.wait().map_err(|e| format!("{path}: {e}"))?;
    let secs = t.elapsed().as_secs_f64();
    let bytes = readback()?;
    let sha: String = Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
    println!("sha256 {sha}");
    let stats = q.stats();
    println!(
        "loaded {} bytes ({} read) in {:.1} ms: {:.1} MB/s delivered; backend {}, io {:?}{}, staging {:?}, dest {:?}",
        bytes.len(),
        stats.bytes_read,
        secs * 1e3,
        bytes.len() as f64 / secs.max(1e-9) / 1e6,
        backend_name(&rt),
        rt.io_kind(),
        if rt.fixed_buffers() { " (fixed buffers)" } else { "" },
        rt.staging_kind(),
        a.dest,
    );
    Ok(())
}

fn backend_name(rt: &Runtime) -> String {
    match rt.vulkan_context() {
        Some(ctx) => format!("vulkan ({})", ctx.device_info().name),
        None => "cpu".into(),
    }
}

type Readback = Box<dyn Fn() -> Result<Vec<u8>, String>>;

fn gpu_destination(rt: &Runtime, len: u64) -> Result<(Destination, Readback), String> {
    let ctx = rt.vulkan_context().ok_or("--dest gpu: the runtime has no Vulkan device")?.clone();
    let buffer = std::sync::Arc::new(
        ctx.create_buffer(
            len.next_multiple_of(4).max(4),
            ds_runtime::vulkan::MemoryKind::DeviceLocal,
            "dsr load",
        )
        .map_err(|e| e.to_string())?,
    );
    let b = std::sync::Arc::clone(&buffer);
    let readback: Readback = Box::new(move || {
        let mut bytes = ctx.download_bytes(b.whole()).map_err(|e| e.to_string())?;
        bytes.truncate(len as usize);
        Ok(bytes)
    });
    Ok((Destination::Buffer { buffer, offset: 0 }, readback))
}

/// The uncompressed size a tile-stream header at `offset` states (the pipeline checks it
/// again against the whole header and table).
fn header_size(path: &std::path::Path, offset: u64) -> Result<u64, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut h = [0u8; 8];
    f.read_exact_at(&mut h, offset)
        .map_err(|e| format!("{}: cannot read the tile-stream header: {e}", path.display()))?;
    let tiles = u64::from(u16::from_le_bytes([h[2], h[3]]));
    let last = u64::from((u32::from_le_bytes([h[4], h[5], h[6], h[7]]) >> 2) & 0x3FFFF);
    let last = if last == 0 { dsr_gdeflate::TILE_SIZE as u64 } else { last };
    Ok(if tiles == 0 { 0 } else { (tiles - 1) * dsr_gdeflate::TILE_SIZE as u64 + last })
}
