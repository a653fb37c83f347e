//! Backend selection: which engine executes decode work, and why.
//!
//! Rules:
//!
//! - A backend asked for by name is used or refused with [`Error::Unsupported`], whose `why`
//!   names the missing capability; the runtime never substitutes another one silently.
//! - [`Backend::Vulkan`] creates a [`VulkanContext`](crate::vulkan::VulkanContext) on the
//!   device the Vulkan core prefers ([`pick_device`](crate::vulkan::pick_device): discrete >
//!   integrated > virtual > software), software rasterizers (lavapipe) included, so the GPU
//!   path runs anywhere a Vulkan driver does. Built without the `vulkan` feature, it is
//!   refused.
//! - [`Backend::Auto`] picks Vulkan on the preferred **hardware** device (discrete,
//!   integrated or virtual GPU), else the CPU, with [`Selection::is_fallback`] set and a
//!   one-line [`Selection::reason`] naming what was missing. A software Vulkan device is not
//!   picked by `auto`: it runs the kernel on the same CPU cores, far slower than the CPU
//!   decoder (`vulkan` asked for by name still uses it).
//! - [`Backend::Wgpu`] is not built yet and is refused.
//!
//! A [`Selection`] holds what it selected (for Vulkan, the created context), so
//! [`Selection::decompress`] reuses it call after call.

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

/// The Vulkan context a [`Selection`] holds (an uninhabited type without the `vulkan`
/// feature, so the field exists either way).
#[cfg(feature = "vulkan")]
type Ctx = std::sync::Arc<crate::vulkan::VulkanContext>;
#[cfg(not(feature = "vulkan"))]
type Ctx = std::convert::Infallible;

/// The outcome of [`select_backend`]: the backend, why, and (for Vulkan) the device context
/// the work runs on. Cloning is cheap and shares the context.
#[derive(Clone)]
pub struct Selection {
    /// The backend that will run the work (never [`Backend::Auto`]).
    pub backend: Backend,
    /// Why it was chosen; for a fallback, what was missing. One line, meant to be shown to
    /// the user.
    pub reason: String,
    /// Whether this is a fallback from a faster backend that is unavailable.
    pub is_fallback: bool,
    /// `Some` exactly when `backend` is [`Backend::Vulkan`].
    vulkan: Option<Ctx>,
}

impl fmt::Debug for Selection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Selection")
            .field("backend", &self.backend)
            .field("reason", &self.reason)
            .field("is_fallback", &self.is_fallback)
            .field("device", &self.device_name())
            .finish()
    }
}

#[cfg(feature = "vulkan")]
fn device_name(ctx: &Ctx) -> &str {
    &ctx.device_info().name
}
#[cfg(not(feature = "vulkan"))]
fn device_name(ctx: &Ctx) -> &str {
    match *ctx {}
}

const WGPU_WHY: &str = "the wgpu fallback decoder is not built yet (wgpu issue); use --backend cpu";

/// Resolves `requested` to a concrete backend; see the [module docs](self) for the rules.
///
/// Errors: [`Error::Unsupported`] for a named backend that is not built or has no usable
/// device (its `why` says which); [`Error::Vulkan`] when a usable Vulkan device fails to
/// initialise for a `vulkan` request. [`Backend::Auto`] never fails: it falls back to the CPU.
pub fn select_backend(requested: Backend) -> Result<Selection, Error> {
    match requested {
        Backend::Cpu => Ok(Selection::cpu("requested".into(), false)),
        Backend::Vulkan => vulkan::named(),
        Backend::Wgpu => Err(Error::Unsupported { what: "backend `wgpu`", why: WGPU_WHY.into() }),
        Backend::Auto => Ok(vulkan::auto().unwrap_or_else(|missing| Selection::cpu(missing, true))),
    }
}

impl Selection {
    fn cpu(reason: String, is_fallback: bool) -> Self {
        Self { backend: Backend::Cpu, reason, is_fallback, vulkan: None }
    }

    /// Name of the Vulkan device the work runs on (`None` unless the backend is Vulkan).
    pub fn device_name(&self) -> Option<&str> {
        self.vulkan.as_ref().map(device_name)
    }

    /// The Vulkan context the work runs on (`None` unless the backend is Vulkan), e.g. to
    /// submit [`DecodeJob`](crate::vulkan::DecodeJob)s directly.
    #[cfg(feature = "vulkan")]
    pub fn vulkan_context(&self) -> Option<&std::sync::Arc<crate::vulkan::VulkanContext>> {
        self.vulkan.as_ref()
    }

    /// Decodes the tile stream `src` on the selected backend into a new buffer, using up to
    /// `threads` CPU threads where the backend uses the CPU (0 = one per core; the Vulkan
    /// backend ignores it). Corrupt input gives the same [`Error::Decode`] (kind, tile, byte
    /// offset) on every backend.
    pub fn decompress(&self, src: &[u8], threads: usize) -> Result<Vec<u8>, Error> {
        match (self.backend, &self.vulkan) {
            (Backend::Cpu, _) => crate::cpu::CpuBackend::new(threads).decompress(src),
            #[cfg(feature = "vulkan")]
            (Backend::Vulkan, Some(ctx)) => ctx.gdeflate_decompress(src),
            (Backend::Wgpu, _) => Err(Error::Unsupported { what: "backend `wgpu`", why: WGPU_WHY.into() }),
            (Backend::Auto | Backend::Vulkan, _) => Err(Error::Unsupported {
                what: "this selection",
                why: "resolve the backend with select_backend first".into(),
            }),
        }
    }
}

#[cfg(feature = "vulkan")]
mod vulkan {
    use super::{Backend, Selection};
    use crate::error::Error;
    use crate::vulkan::{
        ContextOptions, DeviceInfo, DeviceType, VulkanContext, VulkanError, pick_device, probe,
    };
    use std::sync::Arc;

    fn selection(ctx: VulkanContext, reason: String) -> Selection {
        Selection { backend: Backend::Vulkan, reason, is_fallback: false, vulkan: Some(Arc::new(ctx)) }
    }

    fn describe(d: &DeviceInfo) -> String {
        format!("Vulkan device {} ({})", d.name, d.device_type)
    }

    /// "No usable Vulkan device" in one line, without repeating the phrase.
    fn unavailable(e: &VulkanError) -> String {
        match e {
            VulkanError::NoDevice { why } => format!("no usable Vulkan device ({why})"),
            e => format!("no usable Vulkan device ({e})"),
        }
    }

    /// `--backend vulkan`: the preferred usable device of any type, or a refusal saying why.
    pub(super) fn named() -> Result<Selection, Error> {
        match VulkanContext::new(&ContextOptions::default()) {
            Ok(ctx) => {
                let reason = format!("requested; {}", describe(ctx.device_info()));
                Ok(selection(ctx, reason))
            }
            Err(e) if e.is_unavailable() => Err(Error::Unsupported {
                what: "backend `vulkan`",
                why: format!("{}; use --backend cpu or auto", unavailable(&e)),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// `--backend auto`: Vulkan on the preferred hardware device, or `Err(why not)`.
    pub(super) fn auto() -> Result<Selection, String> {
        let devices = probe().map_err(|e| {
            if e.is_unavailable() { unavailable(&e) } else { format!("the Vulkan device probe failed ({e})") }
        })?;
        let Some(device) = pick_device(&devices) else {
            if devices.is_empty() {
                return Err("no Vulkan device (the Vulkan loader lists none)".into());
            }
            let each: Vec<String> = devices
                .iter()
                .map(|d| format!("{}: {}", d.name, d.unusable_reason().unwrap_or_default()))
                .collect();
            return Err(format!("no usable Vulkan device ({})", each.join("; ")));
        };
        if device.device_type == DeviceType::Cpu {
            return Err(format!(
                "no hardware Vulkan device: {} is a software rasterizer, slower than the CPU decoder",
                device.name
            ));
        }
        let ctx = VulkanContext::new(&ContextOptions { device_index: Some(device.index) }).map_err(|e| {
            if e.is_unavailable() {
                unavailable(&e)
            } else {
                format!("{} could not be initialised ({e})", describe(device))
            }
        })?;
        let reason = describe(ctx.device_info());
        Ok(selection(ctx, reason))
    }
}

#[cfg(not(feature = "vulkan"))]
mod vulkan {
    use super::Selection;
    use crate::error::Error;

    const NOT_BUILT: &str = "this build has no Vulkan support (ds-runtime's cargo feature `vulkan` is off)";

    pub(super) fn named() -> Result<Selection, Error> {
        Err(Error::Unsupported { what: "backend `vulkan`", why: format!("{NOT_BUILT}; use --backend cpu") })
    }

    pub(super) fn auto() -> Result<Selection, String> {
        Err(format!("no usable Vulkan device ({NOT_BUILT})"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wgpu_is_refused_not_substituted() {
        let e = select_backend(Backend::Wgpu).unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }), "{e}");
        assert!(e.to_string().contains("wgpu"), "{e}");
    }

    #[test]
    fn cpu_is_used_when_asked_for() {
        let s = select_backend(Backend::Cpu).unwrap();
        assert_eq!((s.backend, s.is_fallback, s.device_name()), (Backend::Cpu, false, None));
        let stream = dsr_gdeflate::compress(b"abcabcabc", dsr_gdeflate::Level::DEFAULT, 1).unwrap();
        assert_eq!(s.decompress(&stream, 1).unwrap(), b"abcabcabc");
    }

    #[test]
    fn auto_picks_a_hardware_gpu_or_says_why_it_fell_back() {
        let s = select_backend(Backend::Auto).unwrap();
        assert!(!s.reason.is_empty() && !s.reason.contains('\n'), "{s:?}");
        match s.backend {
            Backend::Vulkan => {
                assert!(!s.is_fallback, "{s:?}");
                assert!(s.device_name().is_some(), "{s:?}");
            }
            Backend::Cpu => {
                assert!(s.is_fallback, "{s:?}");
                assert!(s.reason.contains("Vulkan device"), "{s:?}");
                assert!(s.device_name().is_none());
            }
            b => panic!("auto picked {b}"),
        }
        // A clone shares the context and says the same.
        assert_eq!(format!("{s:?}"), format!("{:?}", s.clone()));
    }

    #[test]
    fn names_round_trip() {
        for b in [Backend::Auto, Backend::Vulkan, Backend::Wgpu, Backend::Cpu] {
            assert_eq!(b.name().parse::<Backend>().unwrap(), b);
        }
        assert!("gpu".parse::<Backend>().is_err());
    }

    #[test]
    fn selection_is_send_and_sync() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<Selection>();
    }

    #[cfg(not(feature = "vulkan"))]
    #[test]
    fn vulkan_is_refused_without_the_feature() {
        let e = select_backend(Backend::Vulkan).unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }) && e.to_string().contains("feature"), "{e}");
    }

    /// Two tiles of text, and the same stream with tile 1's first block header turned into
    /// the reserved block type 3.
    #[cfg(feature = "vulkan")]
    fn good_and_corrupt_streams() -> (Vec<u8>, Vec<u8>, Vec<u8>) {
        let data: Vec<u8> =
            (0..100_000u32).flat_map(|i| format!("asset {i} mip {}\n", i % 7).into_bytes()).collect();
        let stream = dsr_gdeflate::compress(&data, dsr_gdeflate::Level::DEFAULT, 1).unwrap();
        let tile1 = dsr_gdeflate::TileStream::parse(&stream).unwrap().tile_range(1).start;
        let mut bad = stream.clone();
        bad[tile1] = 0x07; // lane 0's first bits: BFINAL = 1, BTYPE = 3
        (data, stream, bad)
    }

    #[cfg(feature = "vulkan")]
    #[test]
    fn vulkan_decodes_like_the_cpu_when_a_device_exists_or_is_refused_saying_why() {
        let require_gpu = std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1");
        let s = match select_backend(Backend::Vulkan) {
            Ok(s) => s,
            Err(e @ Error::Unsupported { .. }) => {
                assert!(!require_gpu, "DSR_REQUIRE_GPU=1 but backend vulkan was refused: {e}");
                assert!(e.to_string().contains("no usable Vulkan device"), "{e}");
                eprintln!("NOTICE: backend vulkan test skipped: {e} (set DSR_REQUIRE_GPU=1 to fail instead)");
                return;
            }
            Err(e) => panic!("backend vulkan: {e}"),
        };
        assert_eq!(s.backend, Backend::Vulkan);
        assert!(!s.is_fallback);
        assert!(s.vulkan_context().is_some() && s.device_name().is_some(), "{s:?}");
        assert!(s.reason.contains("Vulkan device"), "{s:?}");

        let (data, stream, bad) = good_and_corrupt_streams();
        assert!(s.decompress(&stream, 0).unwrap() == data, "GPU decode differs from the input");
        let gpu = s.decompress(&bad, 0).unwrap_err();
        let cpu = select_backend(Backend::Cpu).unwrap().decompress(&bad, 2).unwrap_err();
        assert!(matches!(gpu, Error::Decode(_)), "{gpu}");
        assert_eq!(gpu.to_string(), cpu.to_string());
        assert!(cpu.to_string().contains("tile 1, byte offset"), "{cpu}");
        // The context is reused, not re-created, by a clone.
        let again = s.clone();
        assert!(std::sync::Arc::ptr_eq(again.vulkan_context().unwrap(), s.vulkan_context().unwrap()));
        assert_eq!(again.decompress(&[0x04, 0xFB, 0, 0, 1, 0, 0, 0], 0).unwrap(), b"");
    }
}
