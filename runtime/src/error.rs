//! The runtime layer's error type.

use std::fmt;

/// What can go wrong in the runtime layer.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// A capability that is not built (yet) or not available on this machine.
    Unsupported {
        /// What was asked for.
        what: &'static str,
        /// Why it is not available (for a backend: which capability is missing) and what to
        /// do instead.
        why: String,
    },
    /// The compressed data is malformed (names the tile and byte offset).
    Decode(dsr_gdeflate::DecodeError),
    /// The Vulkan core failed (boxed to keep `Error` small).
    #[cfg(feature = "vulkan")]
    Vulkan(Box<crate::vulkan::VulkanError>),
    /// The wgpu backend failed (boxed to keep `Error` small).
    #[cfg(feature = "wgpu")]
    Wgpu(Box<crate::wgpu::WgpuError>),
    /// An operating-system call of the streaming pipeline failed (`what` names it).
    Io {
        /// What was being done, e.g. "mapping the staging ring".
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported { what, why } => write!(f, "{what} is not supported: {why}"),
            Self::Decode(e) => write!(f, "corrupt GDeflate data: {e}"),
            #[cfg(feature = "vulkan")]
            Self::Vulkan(e) => write!(f, "Vulkan: {e}"),
            #[cfg(feature = "wgpu")]
            Self::Wgpu(e) => write!(f, "wgpu: {e}"),
            Self::Io { what, source } => write!(f, "{what}: {source}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decode(e) => Some(e),
            #[cfg(feature = "vulkan")]
            Self::Vulkan(e) => Some(e),
            #[cfg(feature = "wgpu")]
            Self::Wgpu(e) => Some(e),
            Self::Io { source, .. } => Some(source),
            Self::Unsupported { .. } => None,
        }
    }
}

impl From<dsr_gdeflate::DecodeError> for Error {
    fn from(e: dsr_gdeflate::DecodeError) -> Self {
        Self::Decode(e)
    }
}

#[cfg(feature = "vulkan")]
impl From<crate::vulkan::VulkanError> for Error {
    fn from(e: crate::vulkan::VulkanError) -> Self {
        Self::Vulkan(Box::new(e))
    }
}

#[cfg(feature = "wgpu")]
impl From<crate::wgpu::WgpuError> for Error {
    fn from(e: crate::wgpu::WgpuError) -> Self {
        Self::Wgpu(Box::new(e))
    }
}
