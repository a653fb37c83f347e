//! ds-runtime: moves asset bytes from storage into CPU or GPU memory, decompressing GDeflate
//! on the way, in the spirit of Microsoft DirectStorage.
//!
//! Today this crate owns **backend selection** ([`backend`]), the **CPU backend**
//! ([`cpu`]), which decodes DirectStorage GDeflate tile streams tile-parallel with the
//! reference decoder of `dsr-gdeflate`, and (feature `vulkan`, default) the **ash Vulkan
//! core** (`vulkan`: device creation or adoption, memory, kernel pipelines, timeline
//! submission) that the GPU decoder will run on. GPU decode itself, the wgpu backend, request
//! queues and the io_uring staging path are not built yet: asking for them returns
//! [`Error::Unsupported`], never a silent fallback.
//!
//! ```
//! use ds_runtime::{Backend, select_backend};
//! let picked = select_backend(Backend::Auto).unwrap();
//! assert_eq!(picked.backend, Backend::Cpu);
//! ```

pub mod backend;
pub mod cpu;
mod error;
#[cfg(feature = "vulkan")]
pub mod vulkan;

pub use backend::{Backend, Selection, select_backend};
pub use error::Error;
