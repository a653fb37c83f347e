//! [`WgpuError`]: what can go wrong in the wgpu backend, with the failing step named.

use std::fmt;

/// An error of the wgpu backend.
#[derive(Debug)]
#[non_exhaustive]
pub enum WgpuError {
    /// Something this backend needs is not available here (a limit or feature the kernel
    /// needs, a kernel without WGSL) or not built.
    Unsupported {
        /// What was asked for.
        what: &'static str,
        /// Why it is not available.
        why: String,
    },
    /// wgpu lists no adapter that qualifies, or the requested adapter index does not exist.
    NoAdapter {
        /// What was found instead.
        why: String,
    },
    /// The adapter refused to create a device.
    RequestDevice(::wgpu::RequestDeviceError),
    /// wgpu reported an error (validation, out of memory, internal) while this backend did
    /// `during`; caught by an error scope rather than wgpu's panicking default handler.
    Device {
        /// The step that failed, e.g. `create the decode pipeline`.
        during: &'static str,
        /// wgpu's error (boxed to keep this enum small).
        source: Box<::wgpu::Error>,
    },
    /// Mapping a readback buffer failed.
    Map(::wgpu::BufferAsyncError),
    /// Waiting for a submission failed or timed out ([`::wgpu::PollError::Timeout`]).
    Poll(::wgpu::PollError),
    /// The caller passed something this layer refuses (sizes, offsets, usages, binding
    /// counts); says what and why.
    InvalidArgument(String),
    /// A kernel reported something that cannot happen if it and the host agree (an unknown
    /// status, a page the dispatch did not reach): a bug in ds-runtime, never bad input.
    Internal(String),
}

impl WgpuError {
    /// True when the error means "no usable wgpu adapter here" ([`Self::Unsupported`],
    /// [`Self::NoAdapter`], a device the adapter cannot create) rather than a failure of
    /// something that should have worked.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unsupported { .. } | Self::NoAdapter { .. } | Self::RequestDevice(_))
    }

    /// Whether wgpu ran out of (device or host) memory.
    pub fn is_out_of_memory(&self) -> bool {
        matches!(self, Self::Device { source, .. } if matches!(**source, ::wgpu::Error::OutOfMemory { .. }))
    }
}

impl fmt::Display for WgpuError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported { what, why } => write!(f, "{what} is not supported: {why}"),
            Self::NoAdapter { why } => write!(f, "no usable wgpu adapter: {why}"),
            Self::RequestDevice(e) => write!(f, "the wgpu adapter refused to create a device: {e}"),
            Self::Device { during, source } => match **source {
                ::wgpu::Error::OutOfMemory { .. } => write!(f, "out of memory while trying to {during}"),
                ref e => write!(f, "failed to {during}: {e}"),
            },
            Self::Map(e) => write!(f, "mapping a readback buffer failed: {e}"),
            Self::Poll(e) => write!(f, "waiting for the GPU failed: {e}"),
            Self::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Self::Internal(msg) => write!(f, "internal error (please report): {msg}"),
        }
    }
}

impl std::error::Error for WgpuError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::RequestDevice(e) => Some(e),
            Self::Device { source, .. } => Some(&**source),
            Self::Map(e) => Some(e),
            Self::Poll(e) => Some(e),
            _ => None,
        }
    }
}

impl From<crate::gpu_decode::StatusFault> for WgpuError {
    fn from(f: crate::gpu_decode::StatusFault) -> Self {
        Self::Internal(f.to_string())
    }
}
