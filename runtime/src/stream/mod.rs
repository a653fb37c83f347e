//! The streaming pipeline: requests and queues with DirectStorage semantics, executed by a
//! [`Runtime`] that reads files with io_uring (or a pread pool) into a staging ring and
//! copies or decodes into host memory (CPU) or Vulkan buffers (GPU).
//!
//! ```
//! use ds_runtime::stream::{Compression, Destination, File, HostBuffer, QueueDesc, Request,
//!     Runtime, RuntimeConfig, Source};
//! use ds_runtime::Backend;
//! # let asset: Vec<u8> = (0..1u32 << 20).map(|i| (i % 251) as u8).collect();
//! # let dir = tempfile::tempdir()?;
//! # let path = dir.path().join("texture.gdf");
//! # std::fs::write(&path, dsr_gdeflate::compress(&asset, dsr_gdeflate::Level::DEFAULT, 0)?)?;
//! let rt = Runtime::new(RuntimeConfig { backend: Backend::Cpu, ..Default::default() })?;
//! let queue = rt.create_queue(QueueDesc::default());
//! let file = File::open(&path)?; // a GDeflate tile stream of 1 MiB
//! let out = HostBuffer::new(1 << 20);
//! let ticket = queue.enqueue(Request {
//!     source: Source::whole_file(&file),
//!     destination: Destination::Host { buffer: out.clone(), offset: 0 },
//!     compression: Compression::GDeflate { uncompressed_size: 1 << 20 },
//!     tag: 7,
//!     name: "texture".into(),
//! })?;
//! queue.submit();
//! ticket.wait()?;
//! assert_eq!(out.to_vec(), asset);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! - [`request`]: the request shape ([`Source`], [`Destination`], [`Compression`]) and
//!   [`HostBuffer`];
//! - [`queue`]: [`Queue`], [`Ticket`], priorities, cancellation, error records;
//! - [`runtime`]: [`Runtime`], the scheduler and the data path;
//! - [`io`]: the io_uring and pread engines; [`staging`]: the staging ring; `sys`: the
//!   libc calls; [`stats`]: counters and the latency histogram; [`trace`]: the timeline
//!   `DSR_TRACE_PIPELINE` records.
//!
//! Design, semantics and what is not built yet: `docs/streaming.md`.

mod file;
mod host_buffer;
pub mod io;
pub mod queue;
pub mod request;
pub mod runtime;
pub mod staging;
pub mod stats;
mod sys;
mod tile_index;
pub mod trace;

pub use file::File;
pub use io::IoKind;
pub use queue::{
    Callback, Completion, ErrorRecord, FailureRecord, Priority, Queue, QueueDesc, RejectReason, Rejected,
    Ticket,
};
pub use request::{
    Compression, Destination, HostBuffer, HostBufferGuard, MemoryBytes, Request, RequestError, Source,
};
pub use runtime::{Runtime, RuntimeConfig};
pub use staging::StagingKind;
pub use stats::{LatencyHistogram, QueueStats};
pub use sys::{DioAlign, PageKind, drop_page_cache};
