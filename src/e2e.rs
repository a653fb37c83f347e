//! End to end, file → decoded GDeflate in host or GPU memory: the streaming pipeline
//! ([`Pipeline`]: one request per stream through a queue) and the baseline it is measured
//! against ([`Baseline`]: `pread` + CPU decode on all cores, + upload for GPU destinations:
//! host-visible staging buffer and a GPU copy). Shared by `dsr bench e2e` (src/bench.rs) and
//! `cargo bench --bench end_to_end` (which includes this file with `#[path]`), so both
//! measure exactly the same thing.
//!
//! Invariants: the pipeline and the baseline write to destinations of their own (so the
//! pipeline's output cannot be "verified" by bytes the baseline left there), and the
//! pipeline's destinations are filled with a poison byte when created; [`Pipeline::run`]
//! fails with the queue's first error record when any request failed.

use ds_runtime::stream::{
    Compression, Destination, File, HostBuffer, Queue, QueueDesc, Request, Runtime, Source,
};
use ds_runtime::vulkan::{GpuBuffer, MemoryKind, VulkanContext};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// One GDeflate tile stream in a file: where it is and its decoded size.
#[derive(Debug, Clone)]
pub struct Stream {
    /// The file holding it.
    pub path: PathBuf,
    /// First byte of the stream in the file.
    pub offset: u64,
    /// Compressed size (the stream's bytes in the file).
    pub size: u64,
    /// Decoded size (as the stream's header states).
    pub decoded: u64,
}

/// The byte the pipeline's destinations hold before the first run.
const POISON: u8 = 0xA5;

/// Where a pipeline delivers.
enum Outputs {
    Host(Vec<HostBuffer>),
    Gpu(Arc<VulkanContext>, Vec<Arc<GpuBuffer>>),
}

/// The streams' requests through one queue of a runtime, into destinations of their own.
pub struct Pipeline {
    queue: Queue,
    files: Vec<File>,
    streams: Vec<Stream>,
    outputs: Outputs,
}

impl Pipeline {
    /// A queue on `rt` and one destination per stream: host buffers, or (`to_gpu`)
    /// device-local buffers of the runtime's Vulkan context.
    pub fn new(rt: &Runtime, streams: &[Stream], to_gpu: bool) -> Result<Self, String> {
        let files = streams
            .iter()
            .map(|s| File::open(&s.path).map_err(|e| format!("{}: cannot open: {e}", s.path.display())))
            .collect::<Result<Vec<_>, _>>()?;
        let len = |s: &Stream| {
            usize::try_from(s.decoded).map_err(|_| format!("{} bytes do not fit in memory", s.decoded))
        };
        let outputs = if to_gpu {
            let ctx = rt.vulkan_context().ok_or("GPU destinations need the vulkan backend")?;
            let mut dst = Vec::with_capacity(streams.len());
            for s in streams {
                let size = s.decoded.next_multiple_of(4).max(4);
                let b = ctx
                    .create_buffer(size, MemoryKind::DeviceLocal, "bench e2e dst")
                    .map_err(|e| e.to_string())?;
                let poison = ctx
                    .upload_bytes(&vec![POISON; size as usize], "bench e2e poison")
                    .map_err(|e| e.to_string())?;
                let mut batch = ctx.batch();
                batch
                    .copy(poison.slice(0, size).map_err(|e| e.to_string())?, b.whole())
                    .map_err(|e| e.to_string())?;
                let v = batch.submit().map_err(|e| e.to_string())?;
                ctx.wait(v, Duration::MAX).map_err(|e| e.to_string())?;
                dst.push(Arc::new(b));
            }
            Outputs::Gpu(Arc::clone(ctx), dst)
        } else {
            let mut dst = Vec::with_capacity(streams.len());
            for s in streams {
                let b = HostBuffer::new(len(s)?);
                b.lock().fill(POISON);
                dst.push(b);
            }
            Outputs::Host(dst)
        };
        let queue =
            rt.create_queue(QueueDesc { capacity: 256, name: "bench e2e".into(), ..QueueDesc::default() });
        Ok(Self { queue, files, streams: streams.to_vec(), outputs })
    }

    /// Enqueues every stream's request, submits and waits for all of them.
    pub fn run(&self) -> Result<(), String> {
        for (i, s) in self.streams.iter().enumerate() {
            let destination = match &self.outputs {
                Outputs::Host(b) => Destination::Host { buffer: b[i].clone(), offset: 0 },
                Outputs::Gpu(_, b) => Destination::Buffer { buffer: Arc::clone(&b[i]), offset: 0 },
            };
            let request = Request {
                source: Source::File { file: self.files[i].clone(), offset: s.offset, size: s.size },
                destination,
                compression: Compression::GDeflate { uncompressed_size: s.decoded },
                tag: i as u64,
                name: s.path.display().to_string().into(),
            };
            self.queue.enqueue(request).map_err(|e| e.to_string())?.detach();
        }
        self.queue.drain();
        match self.queue.error_record() {
            r if r.failure_count == 0 => Ok(()),
            r => Err(match r.first {
                Some(f) => format!("{}: {}", f.name, f.error),
                None => format!("{} requests failed", r.failure_count),
            }),
        }
    }

    /// The bytes delivered for stream `i` (read back from the GPU for GPU destinations).
    pub fn delivered(&self, i: usize) -> Result<Vec<u8>, String> {
        match &self.outputs {
            Outputs::Host(b) => Ok(b[i].to_vec()),
            Outputs::Gpu(ctx, b) => {
                let mut bytes = ctx.download_bytes(b[i].whole()).map_err(|e| e.to_string())?;
                bytes.truncate(self.streams[i].decoded as usize);
                Ok(bytes)
            }
        }
    }
}

/// The upload half of the GPU baseline.
struct Upload {
    ctx: Arc<VulkanContext>,
    staging: Vec<GpuBuffer>,
    dst: Vec<GpuBuffer>,
}

/// The baseline: for each stream in turn, `pread` it whole, decode it on the CPU (all
/// cores), and for GPU destinations write it into a host-visible staging buffer and copy
/// that into device-local memory (waiting once, for the last copy).
pub struct Baseline {
    files: Vec<std::fs::File>,
    streams: Vec<Stream>,
    compressed: Vec<Vec<u8>>,
    decoded: Vec<Vec<u8>>,
    upload: Option<Upload>,
}

impl Baseline {
    /// Buffers for `streams`; `gpu`: upload into device-local buffers of that context.
    pub fn new(streams: &[Stream], gpu: Option<&Arc<VulkanContext>>) -> Result<Self, String> {
        let files = streams
            .iter()
            .map(|s| {
                std::fs::File::open(&s.path).map_err(|e| format!("{}: cannot open: {e}", s.path.display()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        let upload = match gpu {
            None => None,
            Some(ctx) => {
                let mut staging = Vec::with_capacity(streams.len());
                let mut dst = Vec::with_capacity(streams.len());
                for s in streams {
                    let size = s.decoded.max(4);
                    staging.push(
                        ctx.create_buffer(size, MemoryKind::Upload, "bench e2e staging")
                            .map_err(|e| e.to_string())?,
                    );
                    dst.push(
                        ctx.create_buffer(size, MemoryKind::DeviceLocal, "bench e2e baseline dst")
                            .map_err(|e| e.to_string())?,
                    );
                }
                Some(Upload { ctx: Arc::clone(ctx), staging, dst })
            }
        };
        Ok(Self {
            files,
            streams: streams.to_vec(),
            compressed: streams.iter().map(|s| vec![0u8; s.size as usize]).collect(),
            decoded: streams.iter().map(|s| vec![0u8; s.decoded as usize]).collect(),
            upload,
        })
    }

    /// One pass over every stream.
    pub fn run(&mut self) -> Result<(), String> {
        let mut last = None;
        for (i, s) in self.streams.iter().enumerate() {
            let name = || s.path.display();
            self.files[i]
                .read_exact_at(&mut self.compressed[i], s.offset)
                .map_err(|e| format!("{}: {e}", name()))?;
            dsr_gdeflate::decompress_into(&self.compressed[i], &mut self.decoded[i], 0)
                .map_err(|e| format!("{}: {e}", name()))?;
            if let Some(up) = &self.upload {
                up.staging[i].write(0, &self.decoded[i]).map_err(|e| e.to_string())?;
                let mut batch = up.ctx.batch();
                let (src, dst) = (up.staging[i].slice(0, s.decoded), up.dst[i].slice(0, s.decoded));
                batch
                    .copy(src.map_err(|e| e.to_string())?, dst.map_err(|e| e.to_string())?)
                    .map_err(|e| e.to_string())?;
                last = Some(batch.submit().map_err(|e| e.to_string())?);
            }
        }
        if let (Some(up), Some(v)) = (&self.upload, last) {
            up.ctx.wait(v, Duration::MAX).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// Stream `i` as the CPU decoder decoded it in the last run.
    pub fn decoded(&self, i: usize) -> &[u8] {
        &self.decoded[i]
    }
}

/// GB/s (10^9 bytes per second) of `bytes` moved in each of `secs`: median, min, max.
pub fn gbps(secs: &[f64], bytes: u64) -> (f64, f64, f64) {
    let mut r: Vec<f64> = secs.iter().map(|s| bytes as f64 / s / 1e9).collect();
    r.sort_by(f64::total_cmp);
    (r[r.len() / 2], r[0], r[r.len() - 1])
}
