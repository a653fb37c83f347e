//! [`Runtime`]: the threads and memory behind the queues — the scheduler, the I/O engine,
//! the CPU workers and (Vulkan) the GPU completion thread — and the data path of a request.
//!
//! Data path. The scheduler cuts each running request into **pieces** that fit one staging
//! chunk (payload = chunk size − 8 KiB of O_DIRECT slack):
//! - stored data: consecutive byte ranges;
//! - GDeflate from a file: first a *head* read of up to one payload (the 8-byte header and
//!   the tile table, validated like `TileStream::parse` and checked against the stated
//!   uncompressed size); a stream that fits the head is decoded from it directly, a larger
//!   one is re-read as groups of whole tiles (≤ one payload of pages; ≤ 4096 tiles for the
//!   GPU, ≤ 256 for the CPU);
//! - GDeflate from memory: the header is parsed in place, then the same tile groups.
//!
//! A piece reads into its chunk (io_uring or pread; O_DIRECT when the file has an O_DIRECT
//! descriptor with ≤ 4 KiB alignment and, for GPU decode, the stream is 4-byte aligned in
//! the file), then: host destinations are written by a CPU worker (memcpy, or the reference
//! page decoder); Vulkan destinations get one command — a copy or a decode dispatch that
//! reads straight from the chunk (the ring is host memory imported into Vulkan, or Vulkan
//! memory) — in a batch shared with the other GPU pieces ready at the same time (submitted
//! while fewer than one per lane of the context run, no barriers between independent pieces), and the
//! GPU completion thread waits for its timeline value and checks the page statuses.
//! Memory sources skip the read: host destinations are processed from the caller's bytes,
//! GPU ones are first copied into a chunk. Image destinations go through a scratch buffer the size of the
//! output and one final copy into the image region after the last piece. Reads, CPU work and
//! GPU work of different pieces overlap; the number of chunks bounds what is in flight.
//!
//! Allocation: queues, slots, the staging ring, per-chunk GPU descriptor buffers and the
//! scheduler's tables are allocated up front and reused. Not yet allocation-free: the
//! channels between threads (amortised blocks), the Vulkan core's per-batch command buffer
//! and descriptor pool, failure records, and cancellation.
//!
//! Shutdown: dropping the runtime closes every queue (enqueue → `Closed`), cancels what has
//! not finished, waits for every piece in flight (reads, CPU work, GPU work) to return, then
//! stops the threads. Requests hold their destinations, so nothing is freed under the
//! pipeline even when queues and tickets are dropped in any order.

use super::file::File;
use super::io::{DoneFn, IoEngine, IoKind, ReadDone, ReadOp};
use super::queue::{Queue, QueueDesc, QueueShared, QueueState, RejectReason};
use super::request::{Compression, Destination, HostBuffer, MemoryBytes, Request, RequestError, Source};
use super::staging::{Chunk, StagingKind, StagingRing};
use super::trace::{self, Event as TraceEvent};
use crate::backend::Backend;
use crate::error::Error;
use dsr_gdeflate::{DecodeError, DecodeErrorKind, PageDecoder, TILE_SIZE};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, mpsc};
use std::thread::JoinHandle;

#[cfg(feature = "vulkan")]
use crate::vulkan::{GpuBuffer, VulkanContext};

/// Most tiles one piece decodes on the GPU: one dispatch, so large (a big GPU needs thousands
/// of 32-lane workgroups in flight, and every batch starts with a full barrier).
const MAX_TILES_PER_PIECE: u32 = 4096;
/// Most tiles one piece decodes on the CPU (one worker, under the destination's lock): small
/// enough to spread a request over the workers.
const MAX_CPU_TILES_PER_PIECE: u32 = 256;
/// Batches of the pipeline on the GPU at once, per lane of the Vulkan context
/// ([`VulkanContext::submission_queues`]). Pieces ready while that many run wait and are
/// submitted together, as one batch, when one retires: batches grow with the load (one
/// dispatch of a few hundred tiles cannot fill a large GPU). Independent submissions on one
/// queue did not overlap on the H100, so a second batch per lane only adds a boundary: one
/// batch per lane was measured best (docs/streaming.md, twelfth session).
#[cfg(feature = "vulkan")]
const GPU_BATCHES_PER_LANE: usize = 1;

/// `GPU_BATCHES_PER_LANE` per lane of a context with `lanes` lanes, or `DSR_GPU_BATCHES`
/// (1..=16) for tuning experiments.
#[cfg(feature = "vulkan")]
fn max_gpu_batches(lanes: usize) -> usize {
    env_usize("DSR_GPU_BATCHES").map_or(lanes.max(1) * GPU_BATCHES_PER_LANE, |n| n.clamp(1, 16))
}
/// Slack per chunk for O_DIRECT alignment of both ends of a read.
const DIO_SLACK: usize = 8192;
/// Largest O_DIRECT alignment the slack covers.
const MAX_DIO_ALIGN: u64 = 4096;
/// Smallest chunk: a head read must hold the largest tile table (8 + 4 × 65535 bytes).
const MIN_CHUNK: usize = 512 << 10;

/// How to build a [`Runtime`].
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Which backend: `Cpu` (host destinations only), `Vulkan` (host and GPU destinations;
    /// GPU copies and decodes), `Auto` (as [`crate::select_backend`] decides). `Wgpu` is not
    /// supported by the pipeline.
    pub backend: Backend,
    /// Total staging memory in bytes; 0 (the default) = `DSR_STAGING_BYTES`, else 64 MiB on
    /// the CPU backend and 512 MiB on Vulkan.
    pub staging_bytes: usize,
    /// Chunk size in bytes (at least 512 KiB, rounded up to 64 KiB); 0 (the default) =
    /// `DSR_CHUNK_BYTES`, else 4 MiB on the CPU backend and 8 MiB on Vulkan. A GPU decode
    /// dispatch covers at most one chunk of pages (≤ 4096 tiles), but the pieces ready
    /// together go to the GPU in one batch of concurrent dispatches, so the number of chunks
    /// (what can be in flight) matters more than their size.
    pub chunk_bytes: usize,
    /// The I/O engine (default: `DSR_IO`, else io_uring with pread fallback).
    pub io: IoKind,
    /// Reads in flight in the I/O engine (default: `DSR_IO_DEPTH`, else 32).
    pub io_depth: u32,
    /// Use O_DIRECT where the file allows it (default true; `DSR_DIRECT_IO=0` turns it off).
    pub direct_io: bool,
    /// CPU worker threads (0 = one per core).
    pub cpu_threads: usize,
    /// Register the staging chunks as io_uring fixed buffers (default true; false reads
    /// into unregistered buffers, the fallback for a small `RLIMIT_MEMLOCK`).
    pub register_buffers: bool,
    /// Vulkan runtimes: import the staging ring with `VK_EXT_external_memory_host` when the
    /// device has it (default true; false puts it in mapped host-visible Vulkan memory, the
    /// fallback for devices without the extension).
    pub import_host_memory: bool,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            backend: Backend::Auto,
            staging_bytes: 0,
            chunk_bytes: 0,
            io: IoKind::from_env(),
            io_depth: env_usize("DSR_IO_DEPTH").map_or(32, |d| d.clamp(1, 1024) as u32),
            direct_io: std::env::var("DSR_DIRECT_IO").map_or(true, |v| v != "0"),
            cpu_threads: 0,
            register_buffers: true,
            import_host_memory: true,
        }
    }
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok()?.parse().ok()
}

pub(crate) enum Event {
    AddQueue(Arc<QueueShared>),
    RemoveQueue(u64),
    Kick,
    Read(ReadDone),
    Cpu(Piece),
    #[cfg(feature = "vulkan")]
    Gpu(Piece),
    Shutdown,
}

/// What the runtime shares with its queues.
pub(crate) struct RtShared {
    tx: Mutex<Option<mpsc::Sender<Event>>>,
    #[cfg(feature = "vulkan")]
    pub(crate) vulkan: Option<Arc<VulkanContext>>,
    closed: AtomicBool,
    /// The scheduler is gone (set when its thread ends, normally or by panicking).
    pub(crate) dead: AtomicBool,
    next_queue: AtomicU64,
}

impl RtShared {
    pub(crate) fn send(&self, ev: Event) {
        if let Some(tx) = self.tx.lock().unwrap_or_else(PoisonError::into_inner).as_ref() {
            let _ = tx.send(ev);
        }
    }

    /// Whether this runtime can execute `req` at all.
    pub(crate) fn check_capabilities(&self, req: &Request) -> Result<(), RejectReason> {
        if self.closed.load(Ordering::Acquire) {
            return Err(RejectReason::Closed);
        }
        match &req.destination {
            Destination::Host { .. } => Ok(()),
            #[cfg(feature = "vulkan")]
            Destination::Buffer { buffer, .. } => match &self.vulkan {
                None => Err(RejectReason::Unsupported {
                    what: "GPU destinations",
                    why: "this runtime has no Vulkan context (backend cpu); create it with backend vulkan"
                        .into(),
                }),
                Some(ctx) if !Arc::ptr_eq(&buffer.inner.shared, &ctx.shared) => Err(RejectReason::Invalid(
                    "the destination buffer belongs to another Vulkan context".into(),
                )),
                Some(_) => Ok(()),
            },
            #[cfg(feature = "vulkan")]
            Destination::Image { image, .. } => match &self.vulkan {
                None => Err(RejectReason::Unsupported {
                    what: "image destinations",
                    why: "this runtime has no Vulkan context (backend cpu); create it with backend vulkan"
                        .into(),
                }),
                Some(ctx) if !image.belongs_to(ctx) => Err(RejectReason::Invalid(
                    "the destination image belongs to another Vulkan context".into(),
                )),
                Some(_) => Ok(()),
            },
        }
    }
}

/// The streaming runtime. See the [module docs](self).
pub struct Runtime {
    shared: Arc<RtShared>,
    scheduler: Option<JoinHandle<()>>,
    io_kind: IoKind,
    fixed_buffers: bool,
    staging: StagingKind,
    chunk_bytes: usize,
    chunks: u32,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("io", &self.io_kind)
            .field("fixed_buffers", &self.fixed_buffers)
            .field("staging", &self.staging)
            .field("chunk_bytes", &self.chunk_bytes)
            .field("chunks", &self.chunks)
            .finish_non_exhaustive()
    }
}

impl Runtime {
    /// Starts a runtime (see [`RuntimeConfig`]).
    ///
    /// Errors: [`Error::Unsupported`] for the `wgpu` backend, a named backend that is not
    /// available, or `IoKind::Uring` without io_uring; [`Error::Io`] when the staging memory
    /// or a thread cannot be had; [`Error::Vulkan`] when the ring's GPU memory fails.
    pub fn new(config: RuntimeConfig) -> Result<Self, Error> {
        match config.backend {
            Backend::Cpu => Self::build(config, None),
            Backend::Wgpu => Err(Error::Unsupported {
                what: "the streaming pipeline on wgpu",
                why: "queues run on the cpu and vulkan backends".into(),
            }),
            Backend::Vulkan | Backend::Auto => {
                let sel = crate::select_backend(config.backend)?;
                #[cfg(feature = "vulkan")]
                if let Some(ctx) = sel.vulkan_context() {
                    return Self::build(config, Some(Arc::clone(ctx)));
                }
                let _ = sel;
                Self::build(config, None)
            }
        }
    }

    /// Starts a runtime on an existing Vulkan context (e.g. an adopted device).
    #[cfg(feature = "vulkan")]
    pub fn with_vulkan(ctx: Arc<VulkanContext>, config: RuntimeConfig) -> Result<Self, Error> {
        Self::build(config, Some(ctx))
    }

    #[cfg(feature = "vulkan")]
    fn build(config: RuntimeConfig, vulkan: Option<Arc<VulkanContext>>) -> Result<Self, Error> {
        let (chunk_bytes, chunks) = geometry(&config, vulkan.is_some());
        let (ring, gpu) = match &vulkan {
            Some(ctx) => {
                let ring = StagingRing::vulkan(ctx, chunk_bytes, chunks, config.import_host_memory)?;
                let res = (0..chunks)
                    .map(|_| {
                        ctx.create_buffer(
                            GPU_RES_BYTES,
                            crate::vulkan::MemoryKind::Upload,
                            "piece descriptors",
                        )
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                (ring, Some(GpuShared { ctx: Arc::clone(ctx), res: Arc::new(res) }))
            }
            None => (host_ring(chunk_bytes, chunks)?, None),
        };
        Self::start(config, ring, vulkan, gpu)
    }

    #[cfg(not(feature = "vulkan"))]
    fn build(config: RuntimeConfig, _vulkan: Option<std::convert::Infallible>) -> Result<Self, Error> {
        let (chunk_bytes, chunks) = geometry(&config, false);
        let ring = host_ring(chunk_bytes, chunks)?;
        Self::start(config, ring, None, None)
    }

    fn start(
        config: RuntimeConfig,
        ring: Arc<StagingRing>,
        #[cfg(feature = "vulkan")] vulkan: Option<Arc<VulkanContext>>,
        #[cfg(not(feature = "vulkan"))] _vulkan: Option<std::convert::Infallible>,
        gpu: Option<GpuShared>,
    ) -> Result<Self, Error> {
        let (tx, rx) = mpsc::channel();
        let shared = Arc::new(RtShared {
            tx: Mutex::new(Some(tx.clone())),
            #[cfg(feature = "vulkan")]
            vulkan,
            closed: AtomicBool::new(false),
            dead: AtomicBool::new(false),
            next_queue: AtomicU64::new(0),
        });
        let done_tx = Mutex::new(tx.clone());
        let done: DoneFn = Arc::new(move |d| {
            let _ = done_tx.lock().unwrap_or_else(PoisonError::into_inner).send(Event::Read(d));
        });
        let engine = IoEngine::start(config.io, &ring, config.io_depth, config.register_buffers, done)
            .map_err(|e| match config.io {
                IoKind::Uring => Error::Unsupported { what: "the io_uring engine", why: e.to_string() },
                _ => Error::Io { what: "starting the I/O engine", source: e },
            })?;
        let io_kind = engine.kind();
        let fixed_buffers = engine.fixed_buffers();
        let threads = dsr_gdeflate::parallel::effective_threads(config.cpu_threads, usize::MAX);
        let (cpu_tx, cpu_rx) = mpsc::channel::<Piece>();
        let cpu_rx = Arc::new(Mutex::new(cpu_rx));
        let mut workers = Vec::new();
        for i in 0..threads {
            let rx = Arc::clone(&cpu_rx);
            let tx = tx.clone();
            workers.push(spawn(format!("dsr-cpu-{i}"), move || cpu_worker(&rx, &tx))?);
        }
        #[cfg(feature = "vulkan")]
        let gpu_batch_limit = max_gpu_batches(gpu.as_ref().map_or(1, |g| g.ctx.submission_queues()));
        #[cfg(feature = "vulkan")]
        let gpu_side = match &gpu {
            Some(g) => {
                let (gtx, grx) = mpsc::channel::<(u64, Piece)>();
                let g2 = g.clone();
                let tx = tx.clone();
                workers.push(spawn("dsr-gpu-wait".into(), move || gpu_waiter(&g2, &grx, &tx))?);
                Some((g.clone(), gtx))
            }
            None => None,
        };
        #[cfg(not(feature = "vulkan"))]
        let _ = gpu;
        drop(tx);
        let payload = ring.chunk_size() - DIO_SLACK;
        let (chunk_bytes, chunks) = (ring.chunk_size(), ring.chunks());
        let staging = ring.kind();
        let sched = Scheduler {
            rt: Arc::clone(&shared),
            rx,
            queues: Vec::new(),
            rr: [0; 4],
            ring,
            io: Some(engine),
            reads: Vec::new(),
            free_reads: Vec::new(),
            cpu_tx: Some(cpu_tx),
            #[cfg(feature = "vulkan")]
            gpu: gpu_side,
            #[cfg(feature = "vulkan")]
            descs: Vec::with_capacity(MAX_TILES_PER_PIECE as usize),
            #[cfg(feature = "vulkan")]
            pending_gpu: Vec::with_capacity(chunks as usize + 1),
            #[cfg(feature = "vulkan")]
            recorded: Vec::with_capacity(chunks as usize + 1),
            #[cfg(feature = "vulkan")]
            gpu_batches: std::collections::VecDeque::with_capacity(gpu_batch_limit + 1),
            #[cfg(feature = "vulkan")]
            gpu_batch_limit,
            in_flight: 0,
            cpu_in_flight: 0,
            max_cpu_in_flight: 2 * threads + 2,
            payload,
            // O_DIRECT into driver-mapped Vulkan memory can fail (pages the kernel cannot pin
            // for DMA); the fallback ring is read buffered.
            direct_io: config.direct_io && staging != StagingKind::VulkanHostVisible,
            shutting_down: false,
            workers,
        };
        let scheduler = spawn("dsr-scheduler".into(), move || sched.run())?;
        Ok(Self { shared, scheduler: Some(scheduler), io_kind, fixed_buffers, staging, chunk_bytes, chunks })
    }

    /// A new queue on this runtime.
    pub fn create_queue(&self, desc: QueueDesc) -> Queue {
        let id = self.shared.next_queue.fetch_add(1, Ordering::Relaxed);
        Queue::new(&self.shared, desc, id)
    }

    /// The I/O engine in use (`Uring` or `Pread`).
    pub fn io_kind(&self) -> IoKind {
        self.io_kind
    }

    /// Whether the staging chunks are registered io_uring fixed buffers.
    pub fn fixed_buffers(&self) -> bool {
        self.fixed_buffers
    }

    /// What backs the staging ring.
    pub fn staging_kind(&self) -> StagingKind {
        self.staging
    }

    /// Chunk size and number of chunks of the staging ring.
    pub fn staging_geometry(&self) -> (usize, u32) {
        (self.chunk_bytes, self.chunks)
    }

    /// The Vulkan context GPU destinations must belong to (`None`: host destinations only).
    #[cfg(feature = "vulkan")]
    pub fn vulkan_context(&self) -> Option<&Arc<VulkanContext>> {
        self.shared.vulkan.as_ref()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shared.closed.store(true, Ordering::Release);
        self.shared.send(Event::Shutdown);
        if let Some(s) = self.scheduler.take() {
            let _ = s.join();
        }
        *self.shared.tx.lock().unwrap_or_else(PoisonError::into_inner) = None;
        trace::flush();
    }
}

fn geometry(config: &RuntimeConfig, vulkan: bool) -> (usize, u32) {
    let pick = |set: usize, env: &str, cpu: usize, gpu: usize| match set {
        0 => env_usize(env).unwrap_or(if vulkan { gpu } else { cpu }),
        n => n,
    };
    // Vulkan: 64 chunks, so that many pieces can be read while the GPU decodes and be
    // submitted together (`max_gpu_batches`); a chunk holds one typical tile stream whole.
    let chunk = pick(config.chunk_bytes, "DSR_CHUNK_BYTES", 4 << 20, 8 << 20);
    let staging = pick(config.staging_bytes, "DSR_STAGING_BYTES", 64 << 20, 512 << 20);
    let chunk = chunk.max(MIN_CHUNK).next_multiple_of(64 << 10);
    let chunks = (staging / chunk).clamp(2, 4096) as u32;
    (chunk, chunks)
}

fn host_ring(chunk_bytes: usize, chunks: u32) -> Result<Arc<StagingRing>, Error> {
    StagingRing::host(chunk_bytes, chunks)
        .map_err(|e| Error::Io { what: "mapping the staging ring", source: e })
}

fn spawn(name: String, f: impl FnOnce() + Send + 'static) -> Result<JoinHandle<()>, Error> {
    std::thread::Builder::new()
        .name(name)
        .spawn(f)
        .map_err(|e| Error::Io { what: "spawning a pipeline thread", source: e })
}

// ---------------------------------------------------------------------------------------
// Pieces

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PieceKind {
    /// GDeflate header + table (and maybe the whole stream).
    Head,
    /// Stored bytes.
    Copy,
    /// Tiles `first..first + count`.
    Decode { first: u32, count: u32 },
    /// Image destinations: the scratch buffer (all pieces done) into the image region.
    #[cfg(feature = "vulkan")]
    ImageCopy,
}

#[derive(Clone)]
pub(crate) enum Src {
    File(File),
    Memory(MemoryBytes),
}

#[derive(Clone)]
pub(crate) enum Dst {
    Host(HostBuffer),
    #[cfg(feature = "vulkan")]
    Gpu(Arc<GpuBuffer>),
}

/// A unit of work: one chunk's worth of a request.
pub(crate) struct Piece {
    q: Arc<QueueShared>,
    slot: u32,
    kind: PieceKind,
    src: Src,
    /// Absolute offset of the request's first source byte (file or memory).
    src_base: u64,
    /// Source bytes of this piece, relative to the request's source.
    span: (u64, u64),
    dst: Dst,
    /// Absolute offset of the request's first output byte in the destination.
    dst_base: u64,
    /// Output bytes of this piece, relative to the request's output.
    out: (u64, u64),
    chunk: Option<Chunk>,
    /// Where the piece's source bytes start in the chunk.
    at: usize,
    outcome: Result<(), RequestError>,
    /// GPU decode: (tile index within the piece, kind, offset in page) of the first failure.
    #[cfg(feature = "vulkan")]
    gpu_page_error: Option<(u32, DecodeErrorKind, u32)>,
}

impl Piece {
    fn is_host(&self) -> bool {
        matches!(self.dst, Dst::Host(_))
    }
}

// ---------------------------------------------------------------------------------------
// Scheduler

#[cfg(feature = "vulkan")]
#[derive(Clone)]
struct GpuShared {
    ctx: Arc<VulkanContext>,
    /// Per chunk: params at 0, tile descriptors at `TILES_AT`, statuses at `STATUS_AT`.
    res: Arc<Vec<GpuBuffer>>,
}
#[cfg(not(feature = "vulkan"))]
struct GpuShared;

#[cfg(feature = "vulkan")]
const TILES_AT: u64 = 256;
#[cfg(feature = "vulkan")]
const STATUS_AT: u64 = TILES_AT + MAX_TILES_PER_PIECE as u64 * 16;
#[cfg(feature = "vulkan")]
const GPU_RES_BYTES: u64 = STATUS_AT + MAX_TILES_PER_PIECE as u64 * 16;

struct Scheduler {
    rt: Arc<RtShared>,
    rx: mpsc::Receiver<Event>,
    queues: Vec<Arc<QueueShared>>,
    rr: [usize; 4],
    ring: Arc<StagingRing>,
    io: Option<IoEngine>,
    /// Pieces whose read is in flight, by token.
    reads: Vec<Option<Piece>>,
    free_reads: Vec<usize>,
    cpu_tx: Option<mpsc::Sender<Piece>>,
    #[cfg(feature = "vulkan")]
    gpu: Option<(GpuShared, mpsc::Sender<(u64, Piece)>)>,
    #[cfg(feature = "vulkan")]
    descs: Vec<dsr_kernels::TileDesc>,
    /// GPU pieces waiting for the next batch ([`Scheduler::flush_gpu`]).
    #[cfg(feature = "vulkan")]
    pending_gpu: Vec<Piece>,
    /// Scratch list of the pieces recorded into the batch being built.
    #[cfg(feature = "vulkan")]
    recorded: Vec<Piece>,
    /// Timeline values of the pipeline's batches that may still be running, oldest first.
    #[cfg(feature = "vulkan")]
    gpu_batches: std::collections::VecDeque<u64>,
    /// Most of `gpu_batches` at once ([`max_gpu_batches`]).
    #[cfg(feature = "vulkan")]
    gpu_batch_limit: usize,
    in_flight: usize,
    cpu_in_flight: usize,
    max_cpu_in_flight: usize,
    payload: usize,
    direct_io: bool,
    shutting_down: bool,
    workers: Vec<JoinHandle<()>>,
}

impl Drop for Scheduler {
    /// Closes every queue and marks the runtime dead, so nobody waits for a scheduler that is
    /// gone: after a normal shutdown every request has finished; if this thread panicked,
    /// tickets of requests it was running report `Internal` instead of waiting forever.
    fn drop(&mut self) {
        self.rt.dead.store(true, Ordering::Release);
        for q in &self.queues {
            q.lock().close();
            q.after_finish(None);
        }
    }
}

/// What `plan` found for a request.
enum Step {
    Piece(Box<Piece>),
    /// Nothing to issue now for this request (head pending / all issued); look further.
    Skip,
    /// The next piece needs a chunk and none is free.
    NoChunk,
    /// The request is finished (completed with no piece outstanding).
    Finished(Option<(Request, Result<(), RequestError>)>),
}

impl Scheduler {
    fn run(mut self) {
        loop {
            let Ok(ev) = self.rx.recv() else { break };
            self.handle(ev);
            while let Ok(ev) = self.rx.try_recv() {
                self.handle(ev);
            }
            if !self.shutting_down {
                loop {
                    self.schedule();
                    if !self.flush_gpu() {
                        break;
                    }
                }
            } else {
                self.flush_gpu();
                if self.in_flight == 0 {
                    break;
                }
            }
        }
        // Every queue is closed by `Drop for Scheduler` (also when this thread unwinds).
        // Stop the engine (joins its thread) and the workers.
        self.io = None;
        self.cpu_tx = None;
        #[cfg(feature = "vulkan")]
        {
            self.gpu = None;
        }
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
    }

    fn handle(&mut self, ev: Event) {
        match ev {
            Event::AddQueue(q) => {
                if self.shutting_down {
                    q.lock().close();
                }
                self.queues.push(q);
                self.queues.sort_by_key(|q| std::cmp::Reverse(q.priority));
            }
            Event::RemoveQueue(id) => self.queues.retain(|q| q.id != id),
            Event::Kick => {}
            Event::Shutdown => {
                self.shutting_down = true;
                for q in &self.queues {
                    q.lock().close();
                }
                for q in self.queues.clone() {
                    q.cancel(0, 0);
                }
            }
            Event::Read(d) => self.read_done(d),
            Event::Cpu(p) => {
                self.cpu_in_flight -= 1;
                #[cfg(feature = "vulkan")]
                if p.outcome.is_ok() && !p.is_host() {
                    // Memory source staged into the chunk: now the GPU part.
                    self.gpu_submit(p);
                    return;
                }
                let outcome = p.outcome.clone();
                self.piece_done(p, outcome);
            }
            #[cfg(feature = "vulkan")]
            Event::Gpu(p) => {
                let mut outcome = p.outcome.clone();
                let mut st = p.q.lock();
                let e = &mut st.slots[p.slot as usize].exec;
                e.in_gpu -= 1;
                if let (Some((i, kind, off)), PieceKind::Decode { first, .. }) = (p.gpu_page_error, p.kind) {
                    let t = first + i;
                    let start = e.tile_span(t).start;
                    outcome = Err(RequestError::Decode(DecodeError {
                        kind,
                        tile: Some(t),
                        offset: start + u64::from(off),
                    }));
                }
                drop(st);
                self.piece_done(p, outcome);
            }
        }
    }

    /// Issues pieces while staging and worker capacity allow, by the priority rule.
    fn schedule(&mut self) {
        'outer: loop {
            let mut i = 0;
            while i < self.queues.len() {
                let prio = self.queues[i].priority;
                let class_end = self.queues[i..]
                    .iter()
                    .position(|q| q.priority != prio)
                    .map_or(self.queues.len(), |n| i + n);
                let n = class_end - i;
                let start = self.rr[prio as usize] % n;
                for k in 0..n {
                    let q = Arc::clone(&self.queues[i + (start + k) % n]);
                    if self.try_issue(&q) {
                        self.rr[prio as usize] = (start + k + 1) % n;
                        continue 'outer;
                    }
                }
                i = class_end;
            }
            break;
        }
    }

    /// Issues one piece of `q`'s running or next request; false when it has nothing ready.
    fn try_issue(&mut self, q: &Arc<QueueShared>) -> bool {
        let mut finished = Vec::new();
        let mut issued = None;
        {
            let mut st = q.lock();
            let mut idx = 0;
            loop {
                let slot = match st.issuing.get(idx) {
                    Some(&s) => s,
                    None => match st.start_next() {
                        Some(s) => s,
                        None => break,
                    },
                };
                match self.plan(q, &mut st, slot) {
                    Step::Piece(p) => {
                        issued = Some(p);
                        break;
                    }
                    Step::Skip => idx += 1,
                    Step::NoChunk => break,
                    Step::Finished(f) => finished.push(f),
                }
                // `Finished` removed the slot from `issuing`: same index again.
            }
        }
        for f in finished {
            q.after_finish(f);
        }
        match issued {
            Some(p) => {
                self.issue(*p);
                true
            }
            None => false,
        }
    }

    /// The next piece of the request in `slot`, or why there is none.
    fn plan(&mut self, q: &Arc<QueueShared>, st: &mut QueueState, slot: u32) -> Step {
        let payload = self.payload as u64;
        let s = &mut st.slots[slot as usize];
        let Some(req) = s.request.as_ref() else { return Step::Skip };
        let e = &mut s.exec;
        let stop = e.cancelled || e.error.is_some() || e.issued_all;
        if stop {
            if e.outstanding == 0 {
                let r = match (&e.error, e.cancelled) {
                    (Some(err), _) => Err(err.clone()),
                    (None, true) => Err(RequestError::Cancelled),
                    (None, false) => Ok(()),
                };
                return Step::Finished(q.finish_locked(st, slot, r));
            }
            let pos = st.issuing.iter().position(|&i| i == slot);
            if let Some(p) = pos {
                st.issuing.remove(p);
            }
            return Step::Finished(None);
        }
        let (src, src_base) = match &req.source {
            Source::File { file, offset, .. } => (Src::File(file.clone()), *offset),
            Source::Memory { data, offset, .. } => (Src::Memory(Arc::clone(data)), *offset as u64),
        };
        let (dst, dst_base) = match &req.destination {
            Destination::Host { buffer, offset } => (Dst::Host(buffer.clone()), *offset as u64),
            #[cfg(feature = "vulkan")]
            Destination::Buffer { buffer, offset } => (Dst::Gpu(Arc::clone(buffer)), *offset),
            #[cfg(feature = "vulkan")]
            Destination::Image { .. } => {
                // The output goes to a scratch buffer first; the image copy follows the last
                // piece (`piece_done`). One allocation per image request (not pooled yet).
                if e.scratch.is_none() {
                    let len = req.output_size().next_multiple_of(4).max(4);
                    let made = self.gpu.as_ref().map(|(g, _)| {
                        g.ctx.create_buffer(
                            len,
                            crate::vulkan::MemoryKind::DeviceLocal,
                            "image destination scratch",
                        )
                    });
                    match made {
                        Some(Ok(b)) => e.scratch = Some(Arc::new(b)),
                        Some(Err(err)) => {
                            e.error = Some(RequestError::Gpu(err.to_string()));
                            return self.plan(q, st, slot);
                        }
                        None => {
                            e.error = Some(RequestError::Internal("image destination without a GPU".into()));
                            return self.plan(q, st, slot);
                        }
                    }
                }
                match &e.scratch {
                    Some(b) => (Dst::Gpu(Arc::clone(b)), 0),
                    None => return Step::Skip,
                }
            }
        };
        let size = req.source.size();
        let needs_chunk = matches!(src, Src::File(_)) || !matches!(dst, Dst::Host(_));
        if needs_chunk && self.ring.free_chunks() == 0 {
            return Step::NoChunk;
        }
        if !needs_chunk && self.cpu_in_flight >= self.max_cpu_in_flight {
            return Step::NoChunk;
        }
        let (kind, span, out) = match req.compression {
            Compression::None => {
                if e.cursor >= size {
                    e.issued_all = true;
                    return self.plan(q, st, slot);
                }
                let len = (size - e.cursor).min(payload);
                let r = (e.cursor, len);
                e.cursor += len;
                (PieceKind::Copy, r, r)
            }
            Compression::GDeflate { uncompressed_size } => {
                if !e.planned {
                    match &src {
                        Src::Memory(data) => {
                            let bytes = &(**data).as_ref()[src_base as usize..(src_base + size) as usize];
                            if let Err(err) = plan_from_head(e, bytes, size, uncompressed_size) {
                                e.error = Some(err);
                            }
                            return self.plan(q, st, slot);
                        }
                        Src::File(_) => {
                            if e.head_pending {
                                return Step::Skip;
                            }
                            e.head_pending = true;
                            (PieceKind::Head, (0, size.min(payload)), (0, 0))
                        }
                    }
                } else {
                    if e.cursor >= u64::from(e.num_tiles) {
                        e.issued_all = true;
                        return self.plan(q, st, slot);
                    }
                    let first = e.cursor as u32;
                    let start = e.tile_span(first).start;
                    let mut count = 0;
                    let mut out_len = 0u64;
                    let max_tiles = if matches!(dst, Dst::Host(_)) {
                        MAX_CPU_TILES_PER_PIECE
                    } else {
                        MAX_TILES_PER_PIECE
                    };
                    while first + count < e.num_tiles && count < max_tiles {
                        let sp = e.tile_span(first + count);
                        if sp.end - start > payload {
                            break;
                        }
                        out_len += u64::from(e.tile_out_size(first + count));
                        count += 1;
                    }
                    if count == 0 {
                        let sp = e.tile_span(first);
                        e.error = Some(RequestError::Decode(DecodeError {
                            kind: DecodeErrorKind::BadPageSize { len: (sp.end - sp.start) as u32 },
                            tile: Some(first),
                            offset: sp.start,
                        }));
                        return self.plan(q, st, slot);
                    }
                    e.cursor += u64::from(count);
                    let end = e.tile_span(first + count - 1).end;
                    let out_start = u64::from(first) * TILE_SIZE as u64;
                    (PieceKind::Decode { first, count }, (start, end - start), (out_start, out_len))
                }
            }
        };
        e.outstanding += 1;
        let chunk = if needs_chunk { self.ring.try_acquire() } else { None };
        Step::Piece(Box::new(Piece {
            q: Arc::clone(q),
            slot,
            kind,
            src,
            src_base,
            span,
            dst,
            dst_base,
            out,
            chunk,
            at: 0,
            outcome: Ok(()),
            #[cfg(feature = "vulkan")]
            gpu_page_error: None,
        }))
    }

    /// Starts a planned piece: a read, or CPU work for memory sources.
    fn issue(&mut self, mut p: Piece) {
        self.in_flight += 1;
        match &p.src {
            Src::Memory(_) => self.send_to_cpu(p),
            Src::File(file) => {
                let file = file.clone();
                let off = p.src_base + p.span.0;
                let len = p.span.1;
                let gpu_decode = !p.is_host() && matches!(p.kind, PieceKind::Decode { .. } | PieceKind::Head);
                let align = file
                    .direct_io()
                    .map(|a| u64::from(a.mem.max(a.offset)))
                    .filter(|&a| self.direct_io && a <= MAX_DIO_ALIGN && a.is_power_of_two())
                    .filter(|_| !gpu_decode || off.is_multiple_of(4));
                let (read_off, read_len, at, direct) = match align {
                    Some(a) => {
                        let s = off / a * a;
                        let e = (off + len).next_multiple_of(a);
                        (s, (e - s) as usize, (off - s) as usize, true)
                    }
                    None => (off, len as usize, 0, false),
                };
                p.at = at;
                let Some(chunk) = p.chunk.take() else {
                    self.piece_done(p, Err(RequestError::Internal("file piece without a chunk".into())));
                    return;
                };
                let token = match self.free_reads.pop() {
                    Some(t) => t,
                    None => {
                        self.reads.push(None);
                        self.reads.len() - 1
                    }
                };
                self.reads[token] = Some(p);
                trace::record(TraceEvent::ReadIssued, u64::from(chunk.index()), read_len as u64, read_off);
                let op = ReadOp {
                    file,
                    offset: read_off,
                    len: read_len,
                    direct,
                    chunk,
                    at: 0,
                    token: token as u64,
                };
                if let Some(io) = &self.io {
                    io.submit(op);
                }
            }
        }
    }

    fn send_to_cpu(&mut self, p: Piece) {
        self.cpu_in_flight += 1;
        if let Some(tx) = &self.cpu_tx {
            let _ = tx.send(p);
        }
    }

    fn read_done(&mut self, d: ReadDone) {
        let token = d.op.token as usize;
        let Some(mut p) = self.reads.get_mut(token).and_then(Option::take) else { return };
        self.free_reads.push(token);
        let ReadDone { op, result } = d;
        let n_read = result.as_ref().map_or(0, |&n| n as u64);
        trace::record(TraceEvent::ReadDone, u64::from(op.chunk.index()), n_read, op.offset);
        p.chunk = Some(op.chunk);
        let need = p.at + p.span.1 as usize;
        let outcome = match result {
            Ok(n) => {
                p.q.lock().slots[p.slot as usize].exec.bytes_read += n as u64;
                if n < need { Err(RequestError::Truncated { offset: op.offset + n as u64 }) } else { Ok(()) }
            }
            Err(e) => Err(RequestError::io(&e, op.offset)),
        };
        if outcome.is_err() {
            self.piece_done(p, outcome);
            return;
        }
        if p.q.lock().slots[p.slot as usize].exec.cancelled {
            // Cancelled while reading: drop the data, decode nothing.
            self.piece_done(p, Err(RequestError::Cancelled));
            return;
        }
        if p.kind == PieceKind::Head {
            self.head_done(p);
            return;
        }
        self.route(p);
    }

    /// Data is in the chunk: hand it to the CPU or the GPU.
    fn route(&mut self, p: Piece) {
        if p.is_host() {
            self.send_to_cpu(p);
        } else {
            #[cfg(feature = "vulkan")]
            self.gpu_submit(p);
        }
    }

    /// The header and table of a GDeflate file request arrived.
    fn head_done(&mut self, mut p: Piece) {
        let payload = self.payload as u64;
        let q = Arc::clone(&p.q);
        let mut st = q.lock();
        let s = &mut st.slots[p.slot as usize];
        let Some(req) = s.request.as_ref() else {
            drop(st);
            self.piece_done(p, Err(RequestError::Cancelled));
            return;
        };
        let size = req.source.size();
        let Compression::GDeflate { uncompressed_size } = req.compression else { return };
        let e = &mut s.exec;
        e.head_pending = false;
        let head = match &p.chunk {
            Some(c) => &c.bytes()[p.at..p.at + p.span.1 as usize],
            None => &[][..],
        };
        if let Err(err) = plan_from_head(e, head, size, uncompressed_size) {
            drop(st);
            self.piece_done(p, Err(err));
            return;
        }
        // The whole stream is in the chunk: decode it from there.
        let n = e.num_tiles;
        let max_tiles = if p.is_host() { MAX_CPU_TILES_PER_PIECE } else { MAX_TILES_PER_PIECE };
        if n > 0 && size <= payload && n <= max_tiles {
            let start = e.tile_span(0).start;
            e.cursor = u64::from(n);
            e.issued_all = true;
            let sum: u64 = (0..n).map(|i| u64::from(e.tile_out_size(i))).sum();
            p.kind = PieceKind::Decode { first: 0, count: n };
            p.at += start as usize;
            p.span = (start, size - start);
            p.out = (0, sum);
            drop(st);
            self.route(p);
            return;
        }
        drop(st);
        self.piece_done(p, Ok(()));
    }

    /// A piece finished with `outcome`; finishes its request when it was the last.
    fn piece_done(&mut self, mut p: Piece, outcome: Result<(), RequestError>) {
        self.in_flight -= 1;
        if trace::enabled() {
            let chunk = p.chunk.as_ref().map_or(u64::MAX, |c| u64::from(c.index()));
            trace::record(TraceEvent::PieceDone, chunk, u64::from(outcome.is_ok()), 0);
        }
        drop(p.chunk.take());
        let q = Arc::clone(&p.q);
        #[cfg(feature = "vulkan")]
        let mut image_copy = None;
        let done = {
            let mut st = q.lock();
            let s = &mut st.slots[p.slot as usize];
            let e = &mut s.exec;
            e.outstanding -= 1;
            if let Err(err) = outcome {
                if err != RequestError::Cancelled && e.error.is_none() {
                    e.error = Some(err);
                }
            }
            let last = e.outstanding == 0 && (e.issued_all || e.error.is_some() || e.cancelled);
            // Image destinations: after the last piece, one more GPU step — the copy from the
            // scratch buffer into the image — before the request finishes.
            #[cfg(feature = "vulkan")]
            if last && e.error.is_none() && !e.cancelled && !e.image_copied {
                if let (Some(req), Some(scratch)) = (&s.request, &e.scratch) {
                    if matches!(req.destination, Destination::Image { .. }) {
                        e.image_copied = true;
                        e.outstanding += 1;
                        image_copy = Some(Piece {
                            q: Arc::clone(&q),
                            slot: p.slot,
                            kind: PieceKind::ImageCopy,
                            src: p.src.clone(),
                            src_base: 0,
                            span: (0, 0),
                            dst: Dst::Gpu(Arc::clone(scratch)),
                            dst_base: 0,
                            out: (0, req.output_size()),
                            chunk: None,
                            at: 0,
                            outcome: Ok(()),
                            gpu_page_error: None,
                        });
                    }
                }
            }
            #[cfg(feature = "vulkan")]
            let last = last && image_copy.is_none();
            if last {
                let e = &st.slots[p.slot as usize].exec;
                let r = match (&e.error, e.cancelled) {
                    (Some(err), _) => Err(err.clone()),
                    (None, true) => Err(RequestError::Cancelled),
                    (None, false) => Ok(()),
                };
                q.finish_locked(&mut st, p.slot, r)
            } else {
                None
            }
        };
        drop(p);
        #[cfg(feature = "vulkan")]
        if let Some(c) = image_copy {
            self.in_flight += 1;
            self.gpu_submit(c);
        }
        q.after_finish(done);
    }

    /// Without Vulkan there is no GPU work to submit.
    #[cfg(not(feature = "vulkan"))]
    fn flush_gpu(&mut self) -> bool {
        false
    }

    /// Queues the GPU work of a piece whose source is in its chunk; [`Self::flush_gpu`]
    /// submits it.
    #[cfg(feature = "vulkan")]
    fn gpu_submit(&mut self, p: Piece) {
        self.pending_gpu.push(p);
    }

    /// Submits every pending GPU piece as one batch, unless `gpu_batch_limit` of the
    /// pipeline's batches are still running: then the pieces wait (and more join them) until
    /// one retires — the GPU waiter's event for it wakes the scheduler, which calls this
    /// again. Returns whether a piece finished here (a failure or a cancellation), so the
    /// caller schedules again for the chunk it freed.
    #[cfg(feature = "vulkan")]
    fn flush_gpu(&mut self) -> bool {
        let mut finished = false;
        while !self.pending_gpu.is_empty() {
            let Some((g, _)) = &self.gpu else {
                for p in std::mem::take(&mut self.pending_gpu) {
                    self.piece_done(p, Err(RequestError::Internal("GPU piece without a GPU".into())));
                }
                return true;
            };
            let g = g.clone();
            match g.ctx.completed() {
                Ok(done) => {
                    while self.gpu_batches.front().is_some_and(|&v| v <= done) {
                        self.gpu_batches.pop_front();
                    }
                }
                // Submitting will report the device's error for each piece.
                Err(_) => self.gpu_batches.clear(),
            }
            if self.gpu_batches.len() >= self.gpu_batch_limit {
                trace::record(
                    TraceEvent::BatchDeferred,
                    self.pending_gpu.len() as u64,
                    self.gpu_batches.len() as u64,
                    0,
                );
                break;
            }
            let mut pieces = std::mem::take(&mut self.pending_gpu);
            finished |= self.submit_batch(&g, &mut pieces);
            if self.pending_gpu.is_empty() {
                // Keep the allocation for the next round.
                self.pending_gpu = pieces;
            }
        }
        finished
    }

    /// Records `pieces` (drained) into one batch — each data piece's copy or decode marked
    /// independent of the others: they write disjoint destination ranges and statuses, and
    /// only read their own chunk and descriptors — and submits it. Returns whether a piece
    /// finished here.
    #[cfg(feature = "vulkan")]
    fn submit_batch(&mut self, g: &GpuShared, pieces: &mut Vec<Piece>) -> bool {
        let mut finished = false;
        let mut batch = g.ctx.batch();
        let mut recorded = std::mem::take(&mut self.recorded);
        // The previous recorded command was an unaligned copy: the next one needs a barrier.
        let mut after_ordered = false;
        // Whether every recorded command is independent of the pipeline's running batches
        // too, so the batch may leave out its leading barrier (`ordered_only_after`).
        let mut overlap_ok = true;
        for p in pieces.drain(..) {
            if p.q.lock().slots[p.slot as usize].exec.cancelled {
                // Cancelled while waiting for a batch: decode nothing.
                self.piece_done(p, Err(RequestError::Cancelled));
                finished = true;
                continue;
            }
            // A copy whose ends are not word-aligned may share a destination word with a
            // neighbouring piece's decode (which writes partial words atomically, the copy
            // does not): it is ordered after the commands before it and before the ones after.
            let out = p.dst_base + p.out.0;
            let shares_words = p.kind == PieceKind::Copy && (out % 4 != 0 || (out + p.out.1) % 4 != 0);
            let ordered = p.kind == PieceKind::ImageCopy || shares_words || after_ordered;
            batch.independent(!ordered);
            match self.record_gpu(g, &mut batch, &p) {
                Ok(()) => {
                    after_ordered = shares_words;
                    // An image copy reads what earlier batches wrote; an unaligned copy may
                    // share a word with a running batch's decode.
                    overlap_ok &= p.kind != PieceKind::ImageCopy && !shares_words;
                    recorded.push(p);
                }
                Err(err) => {
                    self.piece_done(p, Err(err));
                    finished = true;
                }
            }
        }
        if !recorded.is_empty() {
            if overlap_ok {
                // The pipeline's running batches decode other chunks into other ranges; the
                // chunks and descriptor buffers in this batch are not used by them (a chunk
                // returns to the ring only after its batch retired).
                self.gpu_batches.make_contiguous();
                batch.ordered_only_after(self.gpu_batches.as_slices().0);
            }
            match batch.submit() {
                Ok(value) => {
                    self.gpu_batches.push_back(value);
                    if trace::enabled() {
                        let tiles: u64 = recorded
                            .iter()
                            .map(|p| match p.kind {
                                PieceKind::Decode { count, .. } => u64::from(count),
                                _ => 0,
                            })
                            .sum();
                        trace::record(TraceEvent::BatchSubmitted, value, recorded.len() as u64, tiles);
                    }
                    for p in recorded.drain(..) {
                        {
                            let mut st = p.q.lock();
                            let e = &mut st.slots[p.slot as usize].exec;
                            e.in_gpu += 1;
                            e.gpu_value = e.gpu_value.max(value);
                        }
                        if let Some((_, tx)) = &self.gpu {
                            let _ = tx.send((value, p));
                        }
                    }
                }
                Err(err) => {
                    let err = RequestError::Gpu(err.to_string());
                    for p in recorded.drain(..) {
                        self.piece_done(p, Err(err.clone()));
                    }
                    finished = true;
                }
            }
        }
        self.recorded = recorded;
        finished
    }

    /// Records the GPU work of one piece — exactly one command — into `batch`.
    #[cfg(feature = "vulkan")]
    fn record_gpu(
        &mut self,
        g: &GpuShared,
        batch: &mut crate::vulkan::Batch<'_>,
        p: &Piece,
    ) -> Result<(), RequestError> {
        use crate::vulkan::DecodeBindings;
        use dsr_kernels::{DecodeParams, TileDesc, TileStatus};
        let gpu_err = |e: crate::vulkan::VulkanError| RequestError::Gpu(e.to_string());
        if p.kind == PieceKind::ImageCopy {
            let Dst::Gpu(scratch) = &p.dst else {
                return Err(RequestError::Internal("image copy without a GPU or scratch buffer".into()));
            };
            let st = p.q.lock();
            let Some(Destination::Image { image, region }) =
                st.slots[p.slot as usize].request.as_ref().map(|r| &r.destination)
            else {
                return Err(RequestError::Internal("image copy for a request without an image".into()));
            };
            batch
                .copy_to_image(scratch.slice(0, p.out.1.max(1)).map_err(gpu_err)?, image, region)
                .map_err(gpu_err)?;
            return Ok(());
        }
        let (Some(chunk), Dst::Gpu(dst)) = (&p.chunk, &p.dst) else {
            return Err(RequestError::Internal("GPU piece without a GPU, chunk or GPU destination".into()));
        };
        let ring = self
            .ring
            .gpu_buffer()
            .ok_or_else(|| RequestError::Internal("staging ring is not GPU memory".into()))?;
        let ctx = &g.ctx;
        match p.kind {
            PieceKind::Copy => {
                let src = ring.slice(chunk.ring_offset() + p.at as u64, p.span.1).map_err(gpu_err)?;
                let d = dst.slice(p.dst_base + p.out.0, p.out.1).map_err(gpu_err)?;
                batch.copy(src, d).map_err(gpu_err)?;
            }
            PieceKind::Decode { first, count } => {
                let res = &g.res[chunk.index() as usize];
                let align = ctx.limits.min_storage_buffer_offset_alignment.max(4);
                let out_start = p.dst_base + p.out.0;
                let slice_start = out_start / align * align;
                let slice_end = (out_start + p.out.1).next_multiple_of(4).max(slice_start + 4);
                self.descs.clear();
                {
                    let st = p.q.lock();
                    let e = &st.slots[p.slot as usize].exec;
                    for i in 0..count {
                        let t = first + i;
                        let sp = e.tile_span(t);
                        let dst_abs = p.dst_base + u64::from(t) * TILE_SIZE as u64;
                        self.descs.push(TileDesc {
                            src_offset: (p.at as u64 + sp.start - p.span.0) as u32,
                            src_size: (sp.end - sp.start) as u32,
                            dst_offset: (dst_abs - slice_start) as u32,
                            dst_size: e.tile_out_size(t),
                        });
                    }
                }
                let params = DecodeParams { tile_count: count };
                res.write(0, bytemuck::bytes_of(&params)).map_err(gpu_err)?;
                res.write(TILES_AT, bytemuck::cast_slice(&self.descs)).map_err(gpu_err)?;
                let zeros = [TileStatus::default(); 64];
                let mut at = 0u64;
                let status_len = u64::from(count) * size_of::<TileStatus>() as u64;
                while at < status_len {
                    let n = (status_len - at).min(size_of_val(&zeros) as u64);
                    res.write(STATUS_AT + at, &bytemuck::cast_slice(&zeros)[..n as usize])
                        .map_err(gpu_err)?;
                    at += n;
                }
                let bindings = DecodeBindings {
                    params: res.slice(0, size_of::<DecodeParams>() as u64).map_err(gpu_err)?,
                    tiles: res
                        .slice(TILES_AT, u64::from(count) * size_of::<TileDesc>() as u64)
                        .map_err(gpu_err)?,
                    src: ring.slice(chunk.ring_offset(), chunk.len() as u64).map_err(gpu_err)?,
                    dst: dst.slice(slice_start, slice_end - slice_start).map_err(gpu_err)?,
                    status: res.slice(STATUS_AT, status_len).map_err(gpu_err)?,
                    tile_count: count,
                };
                batch.decode(&bindings).map_err(gpu_err)?;
            }
            PieceKind::Head | PieceKind::ImageCopy => {
                return Err(RequestError::Internal("head or image piece recorded as data".into()));
            }
        }
        Ok(())
    }
}

/// Parses a GDeflate header and table from `head` (the first bytes of a `size`-byte stream)
/// into `e`, with the checks and errors of `TileStream::parse`, and checks the stated
/// uncompressed size.
fn plan_from_head(
    e: &mut super::queue::Exec,
    head: &[u8],
    size: u64,
    uncompressed_size: u64,
) -> Result<(), RequestError> {
    let h = super::tile_index::parse_head(head, size, &mut e.table).map_err(RequestError::Decode)?;
    if h.uncompressed_size != uncompressed_size {
        return Err(RequestError::Decode(DecodeError {
            kind: DecodeErrorKind::UncompressedSizeMismatch {
                stream: h.uncompressed_size,
                caller: uncompressed_size,
            },
            tile: None,
            offset: 0,
        }));
    }
    e.num_tiles = h.num_tiles;
    e.data_start = h.data_start;
    e.last_tile_size = h.last_tile_size;
    e.planned = true;
    e.cursor = 0;
    Ok(())
}

// ---------------------------------------------------------------------------------------
// CPU workers and the GPU completion thread

fn cpu_worker(rx: &Mutex<mpsc::Receiver<Piece>>, tx: &mpsc::Sender<Event>) {
    let mut decoder = PageDecoder::new();
    let mut spans: Vec<(u64, u64, u32)> = Vec::new();
    loop {
        let p = rx.lock().unwrap_or_else(PoisonError::into_inner).recv();
        let Ok(mut p) = p else { return };
        // A panic here would be a ds-runtime bug; it fails this piece instead of losing it
        // (which would leave its request unfinished forever).
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cpu_process(&mut p, &mut decoder, &mut spans)
        }));
        p.outcome = r.unwrap_or_else(|_| {
            decoder = PageDecoder::new();
            Err(RequestError::Internal("a CPU worker panicked".into()))
        });
        if tx.send(Event::Cpu(p)).is_err() {
            return;
        }
    }
}

fn cpu_process(
    p: &mut Piece,
    decoder: &mut PageDecoder,
    spans: &mut Vec<(u64, u64, u32)>,
) -> Result<(), RequestError> {
    let len = p.span.1 as usize;
    // GPU destination from memory: stage into the chunk.
    if !p.is_host() {
        let Src::Memory(data) = &p.src else { return Ok(()) };
        let start = (p.src_base + p.span.0) as usize;
        let src = &(**data).as_ref()[start..start + len];
        if let Some(c) = p.chunk.as_mut() {
            c.bytes_mut()[..len].copy_from_slice(src);
        }
        p.at = 0;
        let mut st = p.q.lock();
        st.slots[p.slot as usize].exec.bytes_read += len as u64;
        return Ok(());
    }
    #[allow(irrefutable_let_patterns)] // without feature `vulkan`, `Host` is the only variant
    let Dst::Host(host) = &p.dst else { return Ok(()) };
    let src: &[u8] = match (&p.chunk, &p.src) {
        (Some(c), _) => &c.bytes()[p.at..p.at + len],
        (None, Src::Memory(data)) => {
            let start = (p.src_base + p.span.0) as usize;
            let mut st = p.q.lock();
            st.slots[p.slot as usize].exec.bytes_read += len as u64;
            drop(st);
            &(**data).as_ref()[start..start + len]
        }
        (None, Src::File(_)) => return Err(RequestError::Internal("file piece without data".into())),
    };
    let out_start = (p.dst_base + p.out.0) as usize;
    // Pieces writing disjoint ranges of one buffer run in parallel (`HostBuffer::write_range`).
    let out_of_range =
        || RequestError::Internal(format!("piece output outside its host buffer at {out_start}"));
    match p.kind {
        PieceKind::Copy => {
            host.write_range(out_start..out_start + len).ok_or_else(out_of_range)?.copy_from_slice(src);
            Ok(())
        }
        PieceKind::Decode { first, count } => {
            spans.clear();
            {
                let st = p.q.lock();
                let e = &st.slots[p.slot as usize].exec;
                spans.extend((first..first + count).map(|t| {
                    let sp = e.tile_span(t);
                    (sp.start, sp.end, e.tile_out_size(t))
                }));
            }
            let total: usize = spans.iter().map(|&(_, _, n)| n as usize).sum();
            let mut out = host.write_range(out_start..out_start + total).ok_or_else(out_of_range)?;
            let mut o = 0;
            for (i, &(s, e, n)) in spans.iter().enumerate() {
                let page = &src[(s - p.span.0) as usize..(e - p.span.0) as usize];
                decoder.decode(page, &mut out[o..o + n as usize]).map_err(|err| {
                    RequestError::Decode(DecodeError {
                        kind: err.kind,
                        tile: Some(first + i as u32),
                        offset: s + err.offset,
                    })
                })?;
                o += n as usize;
            }
            Ok(())
        }
        PieceKind::Head => Ok(()),
        #[cfg(feature = "vulkan")]
        PieceKind::ImageCopy => Err(RequestError::Internal("image copy on the CPU".into())),
    }
}

#[cfg(feature = "vulkan")]
fn gpu_waiter(g: &GpuShared, rx: &mpsc::Receiver<(u64, Piece)>, tx: &mpsc::Sender<Event>) {
    use dsr_kernels::TileStatus;
    let mut status = vec![0u8; MAX_TILES_PER_PIECE as usize * size_of::<TileStatus>()];
    let mut last_retired = 0;
    while let Ok((value, mut p)) = rx.recv() {
        p.outcome = match g.ctx.wait(value, std::time::Duration::MAX) {
            Err(e) => Err(RequestError::Gpu(e.to_string())),
            Ok(()) => Ok(()),
        };
        if value != last_retired {
            trace::record(TraceEvent::BatchRetired, value, 0, 0);
            last_retired = value;
        }
        if let (Ok(()), PieceKind::Decode { count, .. }, Some(chunk)) = (&p.outcome, p.kind, &p.chunk) {
            let n = count as usize * size_of::<TileStatus>();
            match g.res[chunk.index() as usize].read(STATUS_AT, &mut status[..n]) {
                Err(e) => p.outcome = Err(RequestError::Gpu(e.to_string())),
                Ok(()) => {
                    for (i, s) in status[..n].chunks_exact(size_of::<TileStatus>()).enumerate() {
                        let s: TileStatus = bytemuck::pod_read_unaligned(s);
                        match crate::vulkan::status_error(&s) {
                            Ok(None) => {}
                            Ok(Some(kind)) => {
                                p.gpu_page_error = Some((i as u32, kind, s.offset));
                                break;
                            }
                            Err(e) => {
                                p.outcome = Err(RequestError::Gpu(e.to_string()));
                                break;
                            }
                        }
                    }
                }
            }
        }
        if tx.send(Event::Gpu(p)).is_err() {
            return;
        }
    }
}
