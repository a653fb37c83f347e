//! Backend selection: which engine executes decode work, and why.
//!
//! Rule for [`Backend::Auto`]: the first *available* of Vulkan (ash) → wgpu → CPU. A backend
//! asked for by name is used or refused with [`Error::Unsupported`]; the runtime never
//! substitutes another one silently. Every [`Selection`] carries the reason, so tools can
//! print it.

use crate::error::Error;
use std::fmt;
use std::str::FromStr;

/// A decode engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backend {
    /// Pick the best available backend.
    Auto,
    /// Vulkan compute through the ash core.
    Vulkan,
    /// wgpu compute (fallback for devices or applications without the ash core).
    Wgpu,
    /// The CPU reference decoder, tile-parallel.
    Cpu,
}

impl Backend {
    /// Name as used on command lines and in logs.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Vulkan => "vulkan",
            Self::Wgpu => "wgpu",
            Self::Cpu => "cpu",
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Backend {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "vulkan" => Ok(Self::Vulkan),
            "wgpu" => Ok(Self::Wgpu),
            "cpu" => Ok(Self::Cpu),
            _ => Err(format!("unknown backend `{s}` (expected auto, vulkan, wgpu or cpu)")),
        }
    }
}

/// The outcome of [`select_backend`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// The backend that will run the work (never [`Backend::Auto`]).
    pub backend: Backend,
    /// Why it was chosen; for a fallback, what was missing. Meant to be shown to the user.
    pub reason: String,
    /// Whether this is a fallback from a faster backend that is unavailable.
    pub is_fallback: bool,
}

const VULKAN_WHY: &str = "the Vulkan compute decoder is not built yet (GPU-decode issue); use --backend cpu";
const WGPU_WHY: &str = "the wgpu fallback decoder is not built yet (wgpu issue); use --backend cpu";

/// Resolves `requested` to a concrete backend.
pub fn select_backend(requested: Backend) -> Result<Selection, Error> {
    match requested {
        Backend::Cpu => {
            Ok(Selection { backend: Backend::Cpu, reason: "requested".into(), is_fallback: false })
        }
        Backend::Vulkan => Err(Error::Unsupported { what: "backend `vulkan`", why: VULKAN_WHY }),
        Backend::Wgpu => Err(Error::Unsupported { what: "backend `wgpu`", why: WGPU_WHY }),
        Backend::Auto => Ok(Selection {
            backend: Backend::Cpu,
            reason: "no GPU decode backend is built into this version yet; using the CPU decoder".into(),
            is_fallback: true,
        }),
    }
}

impl Selection {
    /// Decodes the tile stream `src` on the selected backend into a new buffer, using up to
    /// `threads` CPU threads where the backend uses the CPU (0 = one per core).
    pub fn decompress(&self, src: &[u8], threads: usize) -> Result<Vec<u8>, Error> {
        match self.backend {
            Backend::Cpu => crate::cpu::CpuBackend::new(threads).decompress(src),
            Backend::Vulkan => Err(Error::Unsupported { what: "backend `vulkan`", why: VULKAN_WHY }),
            Backend::Wgpu => Err(Error::Unsupported { what: "backend `wgpu`", why: WGPU_WHY }),
            Backend::Auto => Err(Error::Unsupported {
                what: "backend `auto`",
                why: "resolve it with select_backend first",
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn named_gpu_backends_are_refused_not_substituted() {
        for b in [Backend::Vulkan, Backend::Wgpu] {
            assert!(matches!(select_backend(b), Err(Error::Unsupported { .. })), "{b}");
        }
    }

    #[test]
    fn auto_says_it_fell_back_and_why() {
        let s = select_backend(Backend::Auto).unwrap();
        assert_eq!(s.backend, Backend::Cpu);
        assert!(s.is_fallback);
        assert!(s.reason.contains("CPU"));
    }

    #[test]
    fn names_round_trip() {
        for b in [Backend::Auto, Backend::Vulkan, Backend::Wgpu, Backend::Cpu] {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
        }
        assert!("gpu".parse::<Backend>().is_err());
    }
}
