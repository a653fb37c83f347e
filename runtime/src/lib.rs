//! ds-runtime: moves asset bytes from storage into CPU or GPU memory, decompressing GDeflate
//! on the way, in the spirit of Microsoft DirectStorage.
//!
//! Today this crate owns **backend selection** ([`backend`]), the **CPU backend**
//! ([`cpu`]), which decodes DirectStorage GDeflate tile streams tile-parallel with the
//! reference decoder of `dsr-gdeflate`, and (feature `vulkan`, default) the **ash Vulkan
//! core** (`vulkan`: device creation or adoption, memory, kernel pipelines, timeline
//! submission) with the GPU GDeflate decoder, which backend `vulkan` (and `auto` on a GPU)
//! runs. The wgpu backend, request queues and the io_uring staging path are not built yet:
//! asking for them returns [`Error::Unsupported`], never a silent fallback.
//!
//! ```
//! use ds_runtime::{Backend, select_backend};
//! let picked = select_backend(Backend::Auto).unwrap(); // Vulkan on a GPU, else the CPU
//! if picked.is_fallback {
//!     eprintln!("note: {}; decoding on the {}", picked.reason, picked.backend);
//! }
//! let stream = dsr_gdeflate::compress(b"hello hello hello", dsr_gdeflate::Level::DEFAULT, 0).unwrap();
//! assert_eq!(picked.decompress(&stream, 0).unwrap(), b"hello hello hello");
//! ```

pub mod backend;
pub mod cpu;
mod error;
#[cfg(feature = "vulkan")]
pub mod vulkan;

pub use backend::{Backend, Selection, select_backend};
pub use error::Error;
