//! [`VulkanError`]: what can go wrong in the Vulkan core, with the failing call named.

use ash::vk;
use std::fmt;

/// An error of the Vulkan core.
#[derive(Debug)]
#[non_exhaustive]
pub enum VulkanError {
    /// Vulkan, or something this layer needs from it, is not available here (no loader, a
    /// loader or device below Vulkan 1.2, a missing feature) or not built yet.
    Unsupported {
        /// What was asked for.
        what: &'static str,
        /// Why it is not available.
        why: String,
    },
    /// The loader works but no physical device qualifies (Vulkan 1.2+, a compute queue,
    /// timeline semaphores), or the requested device index does not exist.
    NoDevice {
        /// What was found instead.
        why: String,
    },
    /// A Vulkan call failed.
    Vk {
        /// The Vulkan function that failed, e.g. `vkCreateDevice`.
        call: &'static str,
        /// Its result code.
        result: vk::Result,
    },
    /// gpu-allocator could not provide memory.
    Alloc(gpu_allocator::AllocationError),
    /// [`super::VulkanContext::wait`] gave up before the timeline reached `value`.
    Timeout {
        /// The value waited for.
        value: u64,
        /// The timeline's value when the wait gave up.
        completed: u64,
    },
    /// The caller passed something this layer refuses (sizes, offsets, binding counts, a
    /// buffer of another context); says what and why.
    InvalidArgument(String),
    /// A kernel reported something that cannot happen if it and the host agree (an unknown
    /// status, a page the dispatch did not reach): a bug in ds-runtime, never bad input.
    Internal(String),
}

impl VulkanError {
    /// True when the error means "no usable Vulkan here" ([`Self::Unsupported`],
    /// [`Self::NoDevice`]) rather than a failure of something that should have worked.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Unsupported { .. } | Self::NoDevice { .. })
    }
}

impl fmt::Display for VulkanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported { what, why } => write!(f, "{what} is not supported: {why}"),
            Self::NoDevice { why } => write!(f, "no usable Vulkan device: {why}"),
            Self::Vk { call, result } => write!(f, "{call} failed: {result}"),
            Self::Alloc(e) => write!(f, "GPU memory allocation failed: {e}"),
            Self::Timeout { value, completed } => {
                write!(f, "timed out waiting for timeline value {value} (completed: {completed})")
            }
            Self::InvalidArgument(msg) => write!(f, "invalid argument: {msg}"),
            Self::Internal(msg) => write!(f, "internal error (please report): {msg}"),
        }
    }
}

impl std::error::Error for VulkanError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Alloc(e) => Some(e),
            _ => None,
        }
    }
}

impl From<gpu_allocator::AllocationError> for VulkanError {
    fn from(e: gpu_allocator::AllocationError) -> Self {
        Self::Alloc(e)
    }
}

/// `map_err` adapter naming the failed call: `.map_err(vk_err("vkCreateBuffer"))`.
pub(crate) fn vk_err(call: &'static str) -> impl FnOnce(vk::Result) -> VulkanError {
    move |result| VulkanError::Vk { call, result }
}
