//! A wgpu device on the adapter's **compute-only queue family**, created through wgpu-hal's
//! raw-device path; this module owns every Vulkan call the wgpu backend makes itself.
//!
//! Why: wgpu 30 always opens queue family 0 (graphics + compute; `open_with_callback`'s
//! family index is a `TODO` constant that the callback cannot change), while the ash core
//! picks a compute-only family where the device has one. On an H100 the decode kernels ran
//! at 0.59–0.70× of the ash core on family 0, and the ash core forced onto family 0 ran as
//! slowly, so the queue family was the cause.
//!
//! Invariants:
//! - The family choice is [`compute_only_family`], the ash core's rule (the first family
//!   with compute and without graphics); nothing else picks a family.
//! - The `VkDevice` is created on the adapter's physical device with exactly the extensions
//!   (`required_device_extensions`) and features (`physical_device_features`, added with
//!   `add_to_device_create`) that wgpu-hal's own `open` would enable for the same
//!   [`::wgpu::Features`], and one queue (index 0) of the chosen family, as `open` does.
//! - The `VkDevice` is destroyed exactly once, by the drop callback handed to
//!   `device_from_raw`: wgpu-hal runs it when its device state is dropped (after wgpu has
//!   dropped the device and everything created on it), and also when `device_from_raw`
//!   fails after taking the device; nothing here destroys it otherwise.
//! - Any failure is a reason string (the caller falls back to `request_device` and reports
//!   why); nothing here panics.
//!
//! Known deviation: wgpu-hal's buffer barriers name the vertex and fragment shader stages
//! with the compute stage for storage and uniform usages, which the Vulkan spec does not
//! allow on a queue without graphics (VUID-vkCmdPipelineBarrier-srcStageMask-06461);
//! drivers ignore stages a queue lacks, and validation layers report it.

use ::wgpu::hal::api::Vulkan;
use ash::vk;

/// The first queue family with compute and without graphics (the ash core's choice), or
/// `None` when every compute family also does graphics (lavapipe has one family).
pub(crate) fn compute_only_family(families: &[vk::QueueFamilyProperties]) -> Option<u32> {
    families
        .iter()
        .position(|q| {
            q.queue_count > 0
                && q.queue_flags.contains(vk::QueueFlags::COMPUTE)
                && !q.queue_flags.contains(vk::QueueFlags::GRAPHICS)
        })
        .map(|i| i as u32)
}

/// The adapter's compute-only queue family ([`compute_only_family`]), or why there is none
/// to use (not a Vulkan adapter, or no such family).
pub(crate) fn adapter_compute_only_family(adapter: &::wgpu::Adapter) -> Result<u32, String> {
    // SAFETY: the guard is only read (physical-device queries) and dropped here; nothing
    // created from the hal adapter outlives it or is destroyed through it.
    let hal = unsafe { adapter.as_hal::<Vulkan>() }.ok_or("not a wgpu-hal Vulkan adapter")?;
    let instance = hal.shared_instance().raw_instance();
    // SAFETY: the physical device was enumerated from this instance, which the hal adapter
    // keeps alive.
    let families = unsafe { instance.get_physical_device_queue_family_properties(hal.raw_physical_device()) };
    compute_only_family(&families).ok_or_else(|| {
        "the adapter has no compute-only queue family (every compute family does graphics)".into()
    })
}

/// Creates the device `desc` describes on `adapter` with its one queue from the adapter's
/// compute-only family, through wgpu-hal (see the module docs); returns the device, the
/// queue and the family index, or why it could not (the caller falls back to wgpu's
/// `request_device`).
///
/// `desc.required_features` must be a subset of `adapter.features()` and
/// `desc.required_limits` within `adapter.limits()` (wgpu's `request_device` checks this;
/// the hal path does not, so it is checked here too).
pub(crate) fn create_compute_only_device(
    adapter: &::wgpu::Adapter,
    desc: &::wgpu::DeviceDescriptor<'_>,
) -> Result<(::wgpu::Device, ::wgpu::Queue, u32), String> {
    let family = adapter_compute_only_family(adapter)?;
    let (device, queue) = create_device_on_family(adapter, desc, family)?;
    Ok((device, queue, family))
}

/// [`create_compute_only_device`] on queue family `family` of the adapter, whichever it is
/// (the tests run it on lavapipe's one family, to exercise the raw-device path there);
/// `family` must be one of the adapter's queue families.
pub(crate) fn create_device_on_family(
    adapter: &::wgpu::Adapter,
    desc: &::wgpu::DeviceDescriptor<'_>,
    family: u32,
) -> Result<(::wgpu::Device, ::wgpu::Queue), String> {
    let features = desc.required_features;
    let missing = features - adapter.features();
    if !missing.is_empty() {
        return Err(format!("the adapter lacks features {missing:?}"));
    }
    if !desc.required_limits.check_limits(&adapter.limits()) {
        return Err("the adapter's limits do not cover the requested limits".into());
    }
    let open = {
        // SAFETY: the guard is dropped at the end of this block, before wgpu takes the hal
        // device; the hal adapter is only used to create a device on itself.
        let hal = unsafe { adapter.as_hal::<Vulkan>() }.ok_or("not a wgpu-hal Vulkan adapter")?;
        let instance = hal.shared_instance().raw_instance();
        let extensions = hal.required_device_extensions(features);
        let mut phd_features = hal.physical_device_features(&extensions, features);
        let names: Vec<*const std::ffi::c_char> = extensions.iter().map(|e| e.as_ptr()).collect();
        let priorities = [1.0f32];
        let queues =
            [vk::DeviceQueueCreateInfo::default().queue_family_index(family).queue_priorities(&priorities)];
        let info =
            vk::DeviceCreateInfo::default().queue_create_infos(&queues).enabled_extension_names(&names);
        let info = phd_features.add_to_device_create(info);
        // SAFETY: the physical device belongs to this instance; `info` and everything it
        // points to (queue infos, priorities, extension names with 'static storage, the
        // feature structs chained by `add_to_device_create`) live until the call returns.
        let raw = unsafe { instance.create_device(hal.raw_physical_device(), &info, None) }
            .map_err(|e| format!("vkCreateDevice with a queue of family {family}: {e}"))?;
        let owned = raw.clone();
        let destroy: ::wgpu::hal::DropCallback = Box::new(move || {
            // SAFETY: wgpu-hal calls the drop callback once, when its device state is dropped
            // (every object it created on the device destroyed first) or when
            // `device_from_raw` fails; the device is not used after that.
            unsafe { owned.destroy_device(None) }
        });
        // SAFETY: `raw` was created from this adapter's physical device with queue family
        // `family` (queue 0), exactly `extensions` (= `required_device_extensions(features)`)
        // and the features of `physical_device_features(&extensions, features)`; with a drop
        // callback wgpu-hal does not destroy the device itself, and the callback keeps it
        // valid until it runs.
        unsafe {
            hal.device_from_raw(
                raw,
                Some(destroy),
                &extensions,
                features,
                &desc.required_limits,
                &desc.memory_hints,
                family,
                0,
            )
        }
        .map_err(|e| format!("wgpu-hal rejected the raw device: {e}"))?
    };
    // SAFETY: `open` was created from this adapter's hal adapter with exactly
    // `desc.required_features` (so they are a subset of the device's features).
    let (device, queue) = unsafe { adapter.create_device_from_hal::<Vulkan>(open, desc) }
        .map_err(|e| format!("wgpu did not take the hal device: {e}"))?;
    Ok((device, queue))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn family(flags: vk::QueueFlags) -> vk::QueueFamilyProperties {
        vk::QueueFamilyProperties { queue_flags: flags, queue_count: 1, ..Default::default() }
    }

    #[test]
    fn the_first_compute_family_without_graphics_is_chosen_even_after_a_graphics_one() {
        use vk::QueueFlags as F;
        // An H100's list: graphics+compute+transfer, transfer only, compute+transfer, ...
        let h100 = [
            family(F::GRAPHICS | F::COMPUTE | F::TRANSFER),
            family(F::TRANSFER),
            family(F::COMPUTE | F::TRANSFER),
            family(F::COMPUTE | F::TRANSFER),
        ];
        assert_eq!(compute_only_family(&h100), Some(2));
        let first = [family(F::COMPUTE), family(F::GRAPHICS | F::COMPUTE)];
        assert_eq!(compute_only_family(&first), Some(0));
    }

    #[test]
    fn without_a_compute_only_family_there_is_no_choice_and_wgpu_keeps_its_own() {
        use vk::QueueFlags as F;
        // lavapipe: one graphics+compute family.
        assert_eq!(compute_only_family(&[family(F::GRAPHICS | F::COMPUTE | F::TRANSFER)]), None);
        // Transfer-only and graphics-only families are not compute families.
        assert_eq!(compute_only_family(&[family(F::GRAPHICS | F::COMPUTE), family(F::TRANSFER)]), None);
        let empty = vk::QueueFamilyProperties { queue_count: 0, ..family(F::COMPUTE) };
        assert_eq!(compute_only_family(&[family(F::GRAPHICS | F::COMPUTE), empty]), None);
        assert_eq!(compute_only_family(&[]), None);
    }
}
