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
//! - [`Backend::Wgpu`] creates a [`WgpuContext`](crate::wgpu::WgpuContext) on the adapter
//!   wgpu's Vulkan backend prefers ([`pick_adapter`](crate::wgpu::pick_adapter), same order),
//!   software adapters included. Built without the `wgpu` feature, it is refused.
//! - [`Backend::Auto`] tries, in order, by capability: the ash core (Vulkan) on the preferred
//!   **hardware** device (discrete, integrated or virtual GPU); then wgpu on the preferred
//!   hardware adapter, with [`Selection::is_fallback`] set and the reason naming what the ash
//!   core lacked; then the CPU, with [`Selection::is_fallback`] set and a one-line
//!   [`Selection::reason`] naming what was missing. wgpu runs on the same Vulkan devices, but
//!   needs less of them (no Vulkan 1.2, no timeline semaphores), so `auto` tries it only when
//!   the ash core saw a hardware device it could not use or set up, or could not load Vulkan
//!   at all (otherwise the reason says wgpu was not tried). Software devices are not picked
//!   by `auto`: they run the kernel on the same CPU cores, far slower than the CPU decoder
//!   (`vulkan` or `wgpu` asked for by name still use them).
//!
//! A [`Selection`] holds what it selected (for Vulkan and wgpu, the created context), so
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

/// The wgpu context a [`Selection`] holds (uninhabited without the `wgpu` feature).
#[cfg(feature = "wgpu")]
type WgpuCtx = std::sync::Arc<crate::wgpu::WgpuContext>;
#[cfg(not(feature = "wgpu"))]
type WgpuCtx = std::convert::Infallible;

/// The outcome of [`select_backend`]: the backend, why, and (for Vulkan and wgpu) the device
/// context the work runs on. Cloning is cheap and shares the context.
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
    /// `Some` exactly when `backend` is [`Backend::Wgpu`].
    wgpu: Option<WgpuCtx>,
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

#[cfg(feature = "wgpu")]
fn adapter_name(ctx: &WgpuCtx) -> &str {
    &ctx.adapter_info().name
}
#[cfg(not(feature = "wgpu"))]
fn adapter_name(ctx: &WgpuCtx) -> &str {
    match *ctx {}
}

/// Resolves `requested` to a concrete backend; see the [module docs](self) for the rules.
///
/// Errors: [`Error::Unsupported`] for a named backend that is not built or has no usable
/// device (its `why` says which); [`Error::Vulkan`] or [`Error::Wgpu`] when a usable device
/// fails to initialise for a `vulkan` or `wgpu` request. [`Backend::Auto`] never fails: it
/// falls back to wgpu, then to the CPU.
pub fn select_backend(requested: Backend) -> Result<Selection, Error> {
    match requested {
        Backend::Cpu => Ok(Selection::cpu("requested".into(), false)),
        Backend::Vulkan => vulkan::named(),
        Backend::Wgpu => wgpu::named(),
        Backend::Auto => Ok(match vulkan::auto() {
            Ok(s) => s,
            Err(ash) if !ash.wgpu_may_help => {
                Selection::cpu(format!("{}; wgpu not tried (it sees the same Vulkan devices)", ash.why), true)
            }
            Err(ash) => match wgpu::auto() {
                Ok(s) => Selection { reason: format!("{}; {}", ash.why, s.reason), is_fallback: true, ..s },
                Err(wgpu_missing) => Selection::cpu(format!("{}; {wgpu_missing}", ash.why), true),
            },
        }),
    }
}

impl Selection {
    fn cpu(reason: String, is_fallback: bool) -> Self {
        Self { backend: Backend::Cpu, reason, is_fallback, vulkan: None, wgpu: None }
    }

    /// Name of the device the work runs on: the Vulkan device or the wgpu adapter (`None`
    /// for the CPU).
    pub fn device_name(&self) -> Option<&str> {
        self.vulkan.as_ref().map(device_name).or_else(|| self.wgpu.as_ref().map(adapter_name))
    }

    /// The Vulkan context the work runs on (`None` unless the backend is Vulkan), e.g. to
    /// submit [`DecodeJob`](crate::vulkan::DecodeJob)s directly.
    #[cfg(feature = "vulkan")]
    pub fn vulkan_context(&self) -> Option<&std::sync::Arc<crate::vulkan::VulkanContext>> {
        self.vulkan.as_ref()
    }

    /// The wgpu context the work runs on (`None` unless the backend is wgpu).
    #[cfg(feature = "wgpu")]
    pub fn wgpu_context(&self) -> Option<&std::sync::Arc<crate::wgpu::WgpuContext>> {
        self.wgpu.as_ref()
    }

    /// Decodes the tile stream `src` on the selected backend into a new buffer, using up to
    /// `threads` CPU threads where the backend uses the CPU (0 = one per core; the GPU
    /// backends ignore it). Corrupt input gives the same [`Error::Decode`] (kind, tile, byte
    /// offset) on every backend.
    pub fn decompress(&self, src: &[u8], threads: usize) -> Result<Vec<u8>, Error> {
        match (self.backend, &self.vulkan, &self.wgpu) {
            (Backend::Cpu, _, _) => crate::cpu::CpuBackend::new(threads).decompress(src),
            #[cfg(feature = "vulkan")]
            (Backend::Vulkan, Some(ctx), _) => ctx.gdeflate_decompress(src),
            #[cfg(feature = "wgpu")]
            (Backend::Wgpu, _, Some(ctx)) => ctx.gdeflate_decompress(src),
            (Backend::Auto | Backend::Vulkan | Backend::Wgpu, _, _) => Err(Error::Unsupported {
                what: "this selection",
                why: "resolve the backend with select_backend first".into(),
            }),
        }
    }
}

/// Why `auto` did not pick the ash core, and whether wgpu might run where it could not.
struct AshMissing {
    /// One line, shown to the user.
    why: String,
    /// False when wgpu would see no better device (no Vulkan devices at all, or only
    /// software ones), so probing it would only cost time.
    wgpu_may_help: bool,
}

#[cfg(feature = "vulkan")]
mod vulkan {
    use super::{AshMissing, Backend, Selection};
    use crate::error::Error;
    use crate::vulkan::{
        ContextOptions, DeviceInfo, DeviceType, VulkanContext, VulkanError, pick_device, probe,
    };
    use std::sync::Arc;

    fn selection(ctx: VulkanContext, reason: String) -> Selection {
        Selection {
            backend: Backend::Vulkan,
            reason,
            is_fallback: false,
            vulkan: Some(Arc::new(ctx)),
            wgpu: None,
        }
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

    /// `--backend auto`: Vulkan on the preferred hardware device, or why not.
    pub(super) fn auto() -> Result<Selection, AshMissing> {
        let devices = probe().map_err(|e| match e.is_unavailable() {
            // No loader or no Vulkan 1.2 instance: wgpu's Vulkan backend may still run.
            true => AshMissing { why: unavailable(&e), wgpu_may_help: true },
            false => AshMissing { why: format!("the Vulkan device probe failed ({e})"), wgpu_may_help: true },
        })?;
        // wgpu runs on the same Vulkan devices: it can only help with a hardware device the
        // ash core cannot use (below Vulkan 1.2, no timeline semaphores, failed set-up).
        let hardware_seen =
            devices.iter().any(|d| !matches!(d.device_type, DeviceType::Cpu | DeviceType::Other));
        let Some(device) = pick_device(&devices) else {
            if devices.is_empty() {
                let why = "no Vulkan device (the Vulkan loader lists none)".into();
                return Err(AshMissing { why, wgpu_may_help: false });
            }
            let each: Vec<String> = devices
                .iter()
                .map(|d| format!("{}: {}", d.name, d.unusable_reason().unwrap_or_default()))
                .collect();
            let why = format!("no usable Vulkan device ({})", each.join("; "));
            return Err(AshMissing { why, wgpu_may_help: hardware_seen });
        };
        if device.device_type == DeviceType::Cpu {
            let why = format!(
                "no hardware Vulkan device: {} is a software rasterizer, slower than the CPU decoder",
                device.name
            );
            return Err(AshMissing { why, wgpu_may_help: hardware_seen });
        }
        let ctx =
            VulkanContext::new(&ContextOptions { device_index: Some(device.index), ..Default::default() })
                .map_err(|e| {
                    let why = if e.is_unavailable() {
                        unavailable(&e)
                    } else {
                        format!("{} could not be initialised ({e})", describe(device))
                    };
                    AshMissing { why, wgpu_may_help: true }
                })?;
        let reason = describe(ctx.device_info());
        Ok(selection(ctx, reason))
    }
}

#[cfg(not(feature = "vulkan"))]
mod vulkan {
    use super::{AshMissing, Selection};
    use crate::error::Error;

    const NOT_BUILT: &str = "this build has no Vulkan support (ds-runtime's cargo feature `vulkan` is off)";

    pub(super) fn named() -> Result<Selection, Error> {
        Err(Error::Unsupported { what: "backend `vulkan`", why: format!("{NOT_BUILT}; use --backend cpu") })
    }

    pub(super) fn auto() -> Result<Selection, AshMissing> {
        Err(AshMissing { why: format!("no usable Vulkan device ({NOT_BUILT})"), wgpu_may_help: true })
    }
}

#[cfg(feature = "wgpu")]
mod wgpu {
    use super::{Backend, Selection};
    use crate::error::Error;
    use crate::wgpu::{AdapterDesc, WgpuContext, WgpuError, WgpuOptions, device_type_name, probe};
    use std::sync::Arc;

    fn selection(ctx: WgpuContext, reason: String) -> Selection {
        Selection {
            backend: Backend::Wgpu,
            reason,
            is_fallback: false,
            vulkan: None,
            wgpu: Some(Arc::new(ctx)),
        }
    }

    fn describe(ctx: &WgpuContext) -> String {
        let info = ctx.adapter_info();
        format!(
            "wgpu adapter {} ({}, kernel {})",
            info.name,
            device_type_name(info.device_type),
            ctx.decode_kernel().name
        )
    }

    /// `--backend wgpu`: the preferred usable adapter of any type, or a refusal saying why.
    pub(super) fn named() -> Result<Selection, Error> {
        match WgpuContext::new(&WgpuOptions::default()) {
            Ok(ctx) => {
                let reason = format!("requested; {}", describe(&ctx));
                Ok(selection(ctx, reason))
            }
            Err(e) if e.is_unavailable() => Err(Error::Unsupported {
                what: "backend `wgpu`",
                why: format!("{e}; use --backend cpu or auto"),
            }),
            Err(e) => Err(e.into()),
        }
    }

    /// `auto`'s second choice: wgpu on the preferred hardware adapter, or `Err(why not)`.
    pub(super) fn auto() -> Result<Selection, String> {
        let adapters = probe();
        let usable: Vec<&AdapterDesc> = adapters.iter().filter(|a| a.unusable_reason().is_none()).collect();
        let Some(best) = crate::wgpu::pick_adapter(&adapters).filter(|a| a.is_hardware()) else {
            return Err(if adapters.is_empty() {
                "wgpu: no adapter either".to_string()
            } else if let Some(soft) = usable.first() {
                format!(
                    "wgpu: no hardware adapter either ({} is {})",
                    soft.info.name,
                    device_type_name(soft.info.device_type)
                )
            } else {
                let each: Vec<String> = adapters
                    .iter()
                    .map(|a| format!("{}: {}", a.info.name, a.unusable_reason().unwrap_or_default()))
                    .collect();
                format!("wgpu: no usable adapter ({})", each.join("; "))
            });
        };
        let options = WgpuOptions { adapter_index: Some(best.index), ..WgpuOptions::default() };
        let ctx = WgpuContext::new(&options)
            .map_err(|e: WgpuError| format!("wgpu: {} could not be initialised ({e})", best.info.name))?;
        let reason = describe(&ctx);
        Ok(selection(ctx, reason))
    }
}

#[cfg(not(feature = "wgpu"))]
mod wgpu {
    use super::Selection;
    use crate::error::Error;

    const NOT_BUILT: &str = "this build has no wgpu support (ds-runtime's cargo feature `wgpu` is off)";

    pub(super) fn named() -> Result<Selection, Error> {
        Err(Error::Unsupported { what: "backend `wgpu`", why: format!("{NOT_BUILT}; use --backend cpu") })
    }

    pub(super) fn auto() -> Result<Selection, String> {
        Err(format!("wgpu: {NOT_BUILT}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(not(feature = "wgpu"))]
    #[test]
    fn wgpu_is_refused_without_the_feature() {
        let e = select_backend(Backend::Wgpu).unwrap_err();
        assert!(matches!(e, Error::Unsupported { .. }) && e.to_string().contains("feature `wgpu`"), "{e}");
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
            Backend::Wgpu => {
                // Only where the ash core cannot run: a fallback naming both.
                assert!(s.is_fallback, "{s:?}");
                assert!(s.reason.contains("Vulkan device") && s.reason.contains("wgpu adapter"), "{s:?}");
                assert!(s.device_name().is_some(), "{s:?}");
            }
            Backend::Cpu => {
                assert!(s.is_fallback, "{s:?}");
                assert!(s.reason.contains("Vulkan device") && s.reason.contains("wgpu"), "{s:?}");
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
    #[cfg(any(feature = "vulkan", feature = "wgpu"))]
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

    #[cfg(feature = "wgpu")]
    #[test]
    fn wgpu_decodes_like_the_cpu_when_an_adapter_exists_or_is_refused_saying_why() {
        let require_gpu = std::env::var_os("DSR_REQUIRE_GPU").is_some_and(|v| v == "1");
        let s = match select_backend(Backend::Wgpu) {
            Ok(s) => s,
            Err(e @ Error::Unsupported { .. }) => {
                assert!(!require_gpu, "DSR_REQUIRE_GPU=1 but backend wgpu was refused: {e}");
                assert!(e.to_string().contains("no usable wgpu adapter"), "{e}");
                eprintln!("NOTICE: backend wgpu test skipped: {e} (set DSR_REQUIRE_GPU=1 to fail instead)");
                return;
            }
            Err(e) => panic!("backend wgpu: {e}"),
        };
        assert_eq!(s.backend, Backend::Wgpu);
        assert!(!s.is_fallback);
        assert!(s.wgpu_context().is_some() && s.device_name().is_some(), "{s:?}");
        assert!(s.reason.starts_with("requested; wgpu adapter "), "{s:?}");

        let (data, stream, bad) = good_and_corrupt_streams();
        assert!(s.decompress(&stream, 0).unwrap() == data, "wgpu decode differs from the input");
        let gpu = s.decompress(&bad, 0).unwrap_err();
        let cpu = select_backend(Backend::Cpu).unwrap().decompress(&bad, 2).unwrap_err();
        assert!(matches!(gpu, Error::Decode(_)), "{gpu}");
        assert_eq!(gpu.to_string(), cpu.to_string());
        assert!(cpu.to_string().contains("tile 1, byte offset"), "{cpu}");
        let again = s.clone();
        assert!(std::sync::Arc::ptr_eq(again.wgpu_context().unwrap(), s.wgpu_context().unwrap()));
        assert_eq!(again.decompress(&[0x04, 0xFB, 0, 0, 1, 0, 0, 0], 0).unwrap(), b"");
    }
}
