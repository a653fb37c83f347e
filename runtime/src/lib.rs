//! ds-runtime: moves asset bytes from storage into CPU or GPU memory, decompressing GDeflate
//! on the way, in the spirit of Microsoft DirectStorage.
//!
//! Today this crate owns **backend selection** ([`backend`]), the **CPU backend**
//! ([`cpu`]), which decodes DirectStorage GDeflate tile streams tile-parallel with the
//! reference decoder of `dsr-gdeflate`, and (feature `vulkan`, default) the **ash Vulkan
//! core** (`vulkan`: device creation or adoption, memory, kernel pipelines, timeline
//! submission) with the GPU GDeflate decoder, which backend `vulkan` (and `auto` on a GPU)
//! runs, and (feature `wgpu`, default) the **wgpu backend** (`wgpu`: the same WGSL kernels
//! through wgpu, on a device it creates or one an application hands over), which backend
//! `wgpu` runs and `auto` falls back to where the ash core cannot run. [`gpu_decode`] is
//! what the two GPU backends share (page jobs, kernel status → CPU error). [`stream`] is the
//! streaming pipeline: DirectStorage-style request queues, io_uring reads into a staging ring,
//! CPU or Vulkan copies and decodes into host or GPU memory (`docs/streaming.md`). What is not
//! built returns [`Error::Unsupported`], never a silent fallback. [`pack`] is the `.dsp` pack
//! format (many named entries, raw or GDeflate, aligned for O_DIRECT, checksummed table of
//! contents; `docs/pack-format.md`) whose entries are read through [`stream`] requests.
//!
//! ```
//! use ds_runtime::{Backend, select_backend};
//! let picked = select_backend(Backend::Auto).unwrap(); // Vulkan, else wgpu, on a GPU; else the CPU
//! if picked.is_fallback {
//!     eprintln!("note: {}; decoding on the {}", picked.reason, picked.backend);
//! }
//! let stream = dsr_gdeflate::compress(b"hello hello hello", dsr_gdeflate::Level::DEFAULT, 0).unwrap();
//! assert_eq!(picked.decompress(&stream, 0).unwrap(), b"hello hello hello");
//! ```

pub mod backend;
pub mod cpu;
mod error;
#[cfg(any(feature = "vulkan", feature = "wgpu"))]
pub mod gpu_decode;
pub mod pack;
pub mod stream;
#[cfg(feature = "vulkan")]
pub mod vulkan;
#[cfg(feature = "wgpu")]
pub mod wgpu;

pub use backend::{Backend, Selection, select_backend};
pub use error::Error;
