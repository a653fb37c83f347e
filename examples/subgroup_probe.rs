//! What the first wgpu adapter's subgroups really do, lane by lane: one workgroup of 32
//! invocations writes its `subgroup_invocation_id`, `subgroup_size`, two ballots, an exclusive
//! prefix sum of 1 and a shuffle from the next lane. On a device whose subgroups are the 32
//! invocations, every ballot covers 32 lanes and the prefix sum counts 0..=31. llvmpipe with
//! `LP_NATIVE_VECTOR_WIDTH=1024` reports a subgroup size of 32 but shows two subgroups of 16
//! (docs/perf-notes.md, "lavapipe's wide mode"), which is why the subgroup decode kernel counts
//! its invocations before it trusts the reported size.
//!
//! `LP_NATIVE_VECTOR_WIDTH=1024 cargo run --release --example subgroup_probe`

use ds_runtime::wgpu::wgpu;
use wgpu::util::DeviceExt;

const LANES: u64 = 32;
const FIELDS: u64 = 6;

const PROBE: &str = r#"
@group(0) @binding(0) var<storage, read_write> out: array<u32>;

@compute @workgroup_size(32)
fn probe(
    @builtin(local_invocation_index) local: u32,
    @builtin(subgroup_invocation_id) lane: u32,
    @builtin(subgroup_size) size: u32,
) {
    let low5 = subgroupBallot(local < 5u).x;
    let odd = subgroupBallot((local & 1u) == 1u).x;
    let below = subgroupExclusiveAdd(1u);
    let next = subgroupShuffle(local, (lane + 1u) % size);
    let o = local * 6u;
    out[o] = lane;
    out[o + 1u] = size;
    out[o + 2u] = low5;
    out[o + 3u] = odd;
    out[o + 4u] = below;
    out[o + 5u] = next;
}
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
    desc.backends = wgpu::Backends::VULKAN;
    let instance = wgpu::Instance::new(desc);
    let adapter = pollster::block_on(instance.request_adapter(&wgpu::RequestAdapterOptions::default()))?;
    if !adapter.features().contains(wgpu::Features::SUBGROUP) {
        println!("{}: no SUBGROUP feature; nothing to probe", adapter.get_info().name);
        return Ok(());
    }
    let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
        required_features: wgpu::Features::SUBGROUP,
        required_limits: adapter.limits(),
        ..Default::default()
    }))?;
    let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
        label: Some("subgroup_probe"),
        source: wgpu::ShaderSource::Wgsl(PROBE.into()),
    });
    let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
        label: Some("subgroup_probe"),
        layout: None,
        module: &module,
        entry_point: Some("probe"),
        compilation_options: Default::default(),
        cache: None,
    });
    let size = LANES * FIELDS * 4;
    let out = device.create_buffer_init(&wgpu::util::BufferInitDescriptor {
        label: Some("out"),
        contents: &vec![0u8; size as usize],
        usage: wgpu::BufferUsages::STORAGE | wgpu::BufferUsages::COPY_SRC,
    });
    let readback = device.create_buffer(&wgpu::BufferDescriptor {
        label: Some("readback"),
        size,
        usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
        mapped_at_creation: false,
    });
    let bind = device.create_bind_group(&wgpu::BindGroupDescriptor {
        label: None,
        layout: &pipeline.get_bind_group_layout(0),
        entries: &[wgpu::BindGroupEntry { binding: 0, resource: out.as_entire_binding() }],
    });
    let mut encoder = device.create_command_encoder(&Default::default());
    {
        let mut pass = encoder.begin_compute_pass(&Default::default());
        pass.set_pipeline(&pipeline);
        pass.set_bind_group(0, &bind, &[]);
        pass.dispatch_workgroups(1, 1, 1);
    }
    encoder.copy_buffer_to_buffer(&out, 0, &readback, 0, size);
    queue.submit([encoder.finish()]);
    readback.map_async(wgpu::MapMode::Read, .., |_| {});
    device.poll(wgpu::PollType::wait_indefinitely())?;
    let words: Vec<u32> = readback
        .get_mapped_range(..)?
        .chunks_exact(4)
        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
        .collect();
    println!("{} (one workgroup of {LANES})", adapter.get_info().name);
    println!("local  lane  size  ballot(local<5)  ballot(odd)  exclusive_add(1)  shuffle(next)");
    for (local, w) in words.chunks_exact(FIELDS as usize).enumerate() {
        println!(
            "{local:5}  {:4}  {:4}  {:08x}         {:08x}     {:16}  {:13}",
            w[0], w[1], w[2], w[3], w[4], w[5]
        );
    }
    let counted = words.chunks_exact(FIELDS as usize).map(|w| w[4]).max().unwrap_or(0) + 1;
    let reported = words.get(1).copied().unwrap_or(0);
    if u64::from(counted) == LANES && u64::from(reported) == LANES {
        println!("subgroups are the {LANES} invocations");
    } else {
        println!("subgroup size reported {reported}, counted {counted}");
    }
    Ok(())
}
