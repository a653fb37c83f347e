//! [`GpuImage`]: a Vulkan image with memory from gpu-allocator, and buffer ↔ image copies of
//! an [`ImageRegion`] (one mip level, a range of array layers, a texel box), for the
//! streaming pipeline's image destinations (decode into a buffer, then copy into the image).
//!
//! Invariants:
//! - An image is created in `UNDEFINED` layout and moved to `GENERAL` by a batch submitted at
//!   creation; it stays in `GENERAL` for its whole life, so copies need no layout tracking
//!   (the batch's global memory barriers order them). Applications that sample it use
//!   `GENERAL` or transition it themselves after the copies' timeline values.
//! - Like buffers, an image is destroyed only when the last handle and the last in-flight
//!   batch using it are gone.
//! - Regions are checked against the image (mip, layers, bounds, block alignment) and the
//!   buffer side (size, 4-byte and texel-block alignment of the offset) before a copy is
//!   recorded; buffer data is tightly packed (`bufferRowLength = bufferImageHeight = 0`).

use super::buffer::{BufferSlice, MemoryKind};
use super::context::{DeviceShared, VulkanContext, lock};
use super::error::{VulkanError, vk_err};
use super::submit::{Batch, Cmd};
use ash::vk;
use gpu_allocator::MemoryLocation;
use gpu_allocator::vulkan::{Allocation, AllocationCreateDesc, AllocationScheme};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What [`VulkanContext::create_image`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageDesc {
    /// Texel format (one of those [`texel_block`] knows).
    pub format: vk::Format,
    /// Size of mip level 0; `depth > 1` makes a 3D image (then `array_layers` must be 1).
    pub extent: vk::Extent3D,
    /// Mip levels (≥ 1).
    pub mip_levels: u32,
    /// Array layers (≥ 1).
    pub array_layers: u32,
}

/// A box of texels of one mip level and a range of layers of an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageRegion {
    /// Mip level.
    pub mip_level: u32,
    /// First array layer.
    pub array_layer: u32,
    /// Number of layers (≥ 1).
    pub layer_count: u32,
    /// Offset of the box in texels (a multiple of the format's block size).
    pub offset: vk::Offset3D,
    /// Size of the box in texels (a multiple of the block size, or reaching the mip's edge).
    pub extent: vk::Extent3D,
}

/// `(block width, block height, bytes per block)` of the formats image destinations support:
/// 8/16/32-bit-per-channel uncompressed colour formats and the BC formats.
pub fn texel_block(format: vk::Format) -> Option<(u32, u32, u32)> {
    use vk::Format as F;
    Some(match format {
        F::R8_UNORM | F::R8_SNORM | F::R8_UINT | F::R8_SRGB => (1, 1, 1),
        F::R8G8_UNORM | F::R8G8_SNORM | F::R16_UNORM | F::R16_SFLOAT | F::R16_UINT => (1, 1, 2),
        F::R8G8B8A8_UNORM
        | F::R8G8B8A8_SRGB
        | F::R8G8B8A8_SNORM
        | F::R8G8B8A8_UINT
        | F::B8G8R8A8_UNORM
        | F::B8G8R8A8_SRGB
        | F::A2B10G10R10_UNORM_PACK32
        | F::R16G16_SFLOAT
        | F::R16G16_UNORM
        | F::R32_SFLOAT
        | F::R32_UINT
        | F::B10G11R11_UFLOAT_PACK32
        | F::E5B9G9R9_UFLOAT_PACK32 => (1, 1, 4),
        F::R16G16B16A16_SFLOAT | F::R16G16B16A16_UNORM | F::R32G32_SFLOAT | F::R32G32_UINT => (1, 1, 8),
        F::R32G32B32A32_SFLOAT | F::R32G32B32A32_UINT => (1, 1, 16),
        F::BC1_RGB_UNORM_BLOCK
        | F::BC1_RGB_SRGB_BLOCK
        | F::BC1_RGBA_UNORM_BLOCK
        | F::BC1_RGBA_SRGB_BLOCK
        | F::BC4_UNORM_BLOCK
        | F::BC4_SNORM_BLOCK => (4, 4, 8),
        F::BC2_UNORM_BLOCK
        | F::BC2_SRGB_BLOCK
        | F::BC3_UNORM_BLOCK
        | F::BC3_SRGB_BLOCK
        | F::BC5_UNORM_BLOCK
        | F::BC5_SNORM_BLOCK
        | F::BC6H_UFLOAT_BLOCK
        | F::BC6H_SFLOAT_BLOCK
        | F::BC7_UNORM_BLOCK
        | F::BC7_SRGB_BLOCK => (4, 4, 16),
        _ => return None,
    })
}

pub(crate) struct ImageInner {
    shared: Arc<DeviceShared>,
    pub(crate) image: vk::Image,
    desc: ImageDesc,
    /// `None` only during creation and drop.
    allocation: Mutex<Option<Allocation>>,
}

impl Drop for ImageInner {
    fn drop(&mut self) {
        // No submission uses the image any more: each in-flight one holds a reference.
        // SAFETY: the image (or null, if creation failed early) belongs to `shared.device` and
        // is not in use by the GPU (see above).
        unsafe { self.shared.device.destroy_image(self.image, None) };
        let allocation = self.allocation.get_mut().unwrap_or_else(std::sync::PoisonError::into_inner).take();
        if let (Some(a), Some(allocator)) = (allocation, lock(&self.shared.allocator).as_mut()) {
            // A failure here only leaks memory that the allocator's drop frees anyway.
            let _ = allocator.free(a);
        }
    }
}

/// A device-local image, created in and kept in `GENERAL` layout; destroyed when the last
/// handle and the last in-flight batch using it are gone.
pub struct GpuImage {
    pub(crate) inner: Arc<ImageInner>,
}

impl std::fmt::Debug for GpuImage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GpuImage").field("desc", &self.inner.desc).finish_non_exhaustive()
    }
}

impl GpuImage {
    /// How it was created.
    pub fn desc(&self) -> &ImageDesc {
        &self.inner.desc
    }

    /// The Vulkan handle (valid while `self` lives).
    pub fn handle(&self) -> vk::Image {
        self.inner.image
    }

    pub(crate) fn belongs_to(&self, ctx: &VulkanContext) -> bool {
        Arc::ptr_eq(&self.inner.shared, &ctx.shared)
    }

    /// Bytes of `region`'s texels, tightly packed, after checking the region against the
    /// image (mip, layers, bounds, block alignment).
    pub fn region_bytes(&self, region: &ImageRegion) -> Result<u64, VulkanError> {
        let d = &self.inner.desc;
        let bad = |why: String| Err(VulkanError::InvalidArgument(format!("image region {region:?}: {why}")));
        let Some((bw, bh, bytes)) = texel_block(d.format) else {
            return bad(format!("format {:?} is not supported", d.format));
        };
        if region.mip_level >= d.mip_levels {
            return bad(format!("the image has {} mip levels", d.mip_levels));
        }
        if region.layer_count == 0
            || region.array_layer.checked_add(region.layer_count).is_none_or(|e| e > d.array_layers)
        {
            return bad(format!("the image has {} layers", d.array_layers));
        }
        let mip = |v: u32| (v >> region.mip_level).max(1);
        let (mw, mh, md) = (mip(d.extent.width), mip(d.extent.height), mip(d.extent.depth));
        let o = region.offset;
        let e = region.extent;
        if o.x < 0 || o.y < 0 || o.z < 0 || e.width == 0 || e.height == 0 || e.depth == 0 {
            return bad("negative offset or empty extent".into());
        }
        let (ox, oy, oz) = (o.x as u32, o.y as u32, o.z as u32);
        let fits = |off: u32, len: u32, size: u32| off.checked_add(len).is_some_and(|end| end <= size);
        if !fits(ox, e.width, mw) || !fits(oy, e.height, mh) || !fits(oz, e.depth, md) {
            return bad(format!("outside the {mw}x{mh}x{md} mip level"));
        }
        let aligned = |off: u32, len: u32, block: u32, size: u32| {
            off.is_multiple_of(block) && (len.is_multiple_of(block) || off + len == size)
        };
        if !aligned(ox, e.width, bw, mw) || !aligned(oy, e.height, bh, mh) {
            return bad(format!("not aligned to the format's {bw}x{bh} blocks"));
        }
        Ok(u64::from(e.width.div_ceil(bw))
            * u64::from(e.height.div_ceil(bh))
            * u64::from(e.depth)
            * u64::from(bytes)
            * u64::from(region.layer_count))
    }

    fn copy_region(&self, buffer_offset: u64, region: &ImageRegion) -> vk::BufferImageCopy {
        vk::BufferImageCopy {
            buffer_offset,
            buffer_row_length: 0,
            buffer_image_height: 0,
            image_subresource: vk::ImageSubresourceLayers {
                aspect_mask: vk::ImageAspectFlags::COLOR,
                mip_level: region.mip_level,
                base_array_layer: region.array_layer,
                layer_count: region.layer_count,
            },
            image_offset: region.offset,
            image_extent: region.extent,
        }
    }
}

/// Records the `UNDEFINED → GENERAL` transition of every subresource of `image`.
pub(crate) fn record_init(device: &ash::Device, cmd: vk::CommandBuffer, image: &ImageInner) {
    let d = &image.desc;
    let barrier = [vk::ImageMemoryBarrier::default()
        .src_access_mask(vk::AccessFlags::empty())
        .dst_access_mask(vk::AccessFlags::TRANSFER_READ | vk::AccessFlags::TRANSFER_WRITE)
        .old_layout(vk::ImageLayout::UNDEFINED)
        .new_layout(vk::ImageLayout::GENERAL)
        .src_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
        .dst_queue_family_index(vk::QUEUE_FAMILY_IGNORED)
        .image(image.image)
        .subresource_range(vk::ImageSubresourceRange {
            aspect_mask: vk::ImageAspectFlags::COLOR,
            base_mip_level: 0,
            level_count: d.mip_levels,
            base_array_layer: 0,
            layer_count: d.array_layers,
        })];
    // SAFETY: `cmd` is recording (called from `record`, under the state lock); the image is
    // alive (the batch holds it) and its whole range is transitioned before any other use
    // (this command is submitted by `create_image` before the image is handed out).
    unsafe {
        device.cmd_pipeline_barrier(
            cmd,
            vk::PipelineStageFlags::TOP_OF_PIPE,
            vk::PipelineStageFlags::TRANSFER | vk::PipelineStageFlags::COMPUTE_SHADER,
            vk::DependencyFlags::empty(),
            &[],
            &[],
            &barrier,
        )
    };
}

impl VulkanContext {
    /// Creates a device-local image (transfer source and destination, sampled) and submits
    /// its transition to `GENERAL`; later submissions are ordered after it.
    pub fn create_image(&self, desc: &ImageDesc, name: &str) -> Result<GpuImage, VulkanError> {
        let e = desc.extent;
        if texel_block(desc.format).is_none()
            || e.width == 0
            || e.height == 0
            || e.depth == 0
            || desc.mip_levels == 0
            || desc.array_layers == 0
            || (e.depth > 1 && desc.array_layers > 1)
        {
            return Err(VulkanError::InvalidArgument(format!("unsupported image description {desc:?}")));
        }
        let shared = &self.shared;
        let info = vk::ImageCreateInfo::default()
            .image_type(if e.depth > 1 { vk::ImageType::TYPE_3D } else { vk::ImageType::TYPE_2D })
            .format(desc.format)
            .extent(e)
            .mip_levels(desc.mip_levels)
            .array_layers(desc.array_layers)
            .samples(vk::SampleCountFlags::TYPE_1)
            .tiling(vk::ImageTiling::OPTIMAL)
            .usage(
                vk::ImageUsageFlags::TRANSFER_SRC
                    | vk::ImageUsageFlags::TRANSFER_DST
                    | vk::ImageUsageFlags::SAMPLED,
            )
            .sharing_mode(vk::SharingMode::EXCLUSIVE)
            .initial_layout(vk::ImageLayout::UNDEFINED);
        // SAFETY: valid device and create info; the image is owned by the `ImageInner` built
        // right after, whose drop destroys it.
        let image = unsafe { shared.device.create_image(&info, None) }.map_err(vk_err("vkCreateImage"))?;
        let inner =
            ImageInner { shared: Arc::clone(shared), image, desc: *desc, allocation: Mutex::new(None) };
        // SAFETY: `image` is a valid image of the device.
        let requirements = unsafe { shared.device.get_image_memory_requirements(image) };
        let allocation = lock(&shared.allocator)
            .as_mut()
            .ok_or_else(|| VulkanError::Unsupported { what: "allocation", why: "no allocator".into() })?
            .allocate(&AllocationCreateDesc {
                name,
                requirements,
                location: MemoryLocation::GpuOnly,
                linear: false,
                allocation_scheme: AllocationScheme::GpuAllocatorManaged,
            })?;
        // SAFETY: the memory handle is only bound to `image` below; the allocation is freed
        // only after the image is destroyed (`ImageInner::drop`).
        let memory = unsafe { allocation.memory() };
        let offset = allocation.offset();
        *lock(&inner.allocation) = Some(allocation);
        // SAFETY: `memory` at `offset` was allocated for this unbound image's requirements and
        // stays allocated until `inner` drops, after the image is destroyed.
        unsafe { shared.device.bind_image_memory(image, memory, offset) }
            .map_err(vk_err("vkBindImageMemory"))?;
        let img = GpuImage { inner: Arc::new(inner) };
        let mut batch = self.batch();
        batch.push(Cmd::ImageInit { image: Arc::clone(&img.inner) });
        batch.submit()?;
        Ok(img)
    }

    /// The texels of `region` of `image`, tightly packed, after all work submitted so far.
    pub fn download_image(&self, image: &GpuImage, region: &ImageRegion) -> Result<Vec<u8>, VulkanError> {
        let bytes = image.region_bytes(region)?;
        let readback =
            self.create_buffer(bytes.next_multiple_of(4), MemoryKind::Readback, "image readback")?;
        let mut batch = self.batch();
        batch.copy_from_image(image, region, readback.whole())?;
        let value = batch.submit()?;
        self.wait(value, Duration::MAX)?;
        let mut out = vec![0u8; bytes as usize];
        readback.read(0, &mut out)?;
        Ok(out)
    }
}

impl Batch<'_> {
    fn check_image(
        &self,
        image: &GpuImage,
        region: &ImageRegion,
        buffer: &BufferSlice<'_>,
    ) -> Result<(), VulkanError> {
        if !image.belongs_to(self.ctx) || !Arc::ptr_eq(&buffer.buffer.inner.shared, &self.ctx.shared) {
            return Err(VulkanError::InvalidArgument(
                "the image or buffer belongs to another Vulkan context".into(),
            ));
        }
        let bytes = image.region_bytes(region)?;
        let block = texel_block(image.desc().format).map_or(4, |b| b.2);
        if buffer.size < bytes
            || !buffer.offset.is_multiple_of(4)
            || !buffer.offset.is_multiple_of(u64::from(block))
        {
            return Err(VulkanError::InvalidArgument(format!(
                "buffer side {}+{} of a {bytes}-byte image region: too small, or offset not a multiple of 4 and of {block}",
                buffer.offset, buffer.size
            )));
        }
        Ok(())
    }

    /// Copies the tightly packed texels at the start of `src` into `region` of `dst`.
    pub fn copy_to_image(
        &mut self,
        src: BufferSlice<'_>,
        dst: &GpuImage,
        region: &ImageRegion,
    ) -> Result<&mut Self, VulkanError> {
        self.check_image(dst, region, &src)?;
        self.push(Cmd::CopyToImage {
            src: Arc::clone(&src.buffer.inner),
            dst: Arc::clone(&dst.inner),
            region: dst.copy_region(src.offset, region),
        });
        Ok(self)
    }

    /// Copies `region` of `src` into the start of `dst`, tightly packed.
    pub fn copy_from_image(
        &mut self,
        src: &GpuImage,
        region: &ImageRegion,
        dst: BufferSlice<'_>,
    ) -> Result<&mut Self, VulkanError> {
        self.check_image(src, region, &dst)?;
        self.push(Cmd::CopyFromImage {
            src: Arc::clone(&src.inner),
            dst: Arc::clone(&dst.buffer.inner),
            region: src.copy_region(dst.offset, region),
        });
        Ok(self)
    }
}
