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
        /// Why it is not available and what to do instead.
        why: &'static str,
    },
    /// The compressed data is malformed (names the tile and byte offset).
    Decode(dsr_gdeflate::DecodeError),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unsupported { what, why } => write!(f, "{what} is not supported: {why}"),
            Self::Decode(e) => write!(f, "corrupt GDeflate data: {e}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Decode(e) => Some(e),
            Self::Unsupported { .. } => None,
        }
    }
}

impl From<dsr_gdeflate::DecodeError> for Error {
    fn from(e: dsr_gdeflate::DecodeError) -> Self {
        Self::Decode(e)
    }
}
