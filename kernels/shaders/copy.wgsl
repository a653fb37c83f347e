// copy: dst[dst_offset_words + i] = src[src_offset_words + i] for i in 0..word_count.
//
// Bounds: every access is checked against arrayLength() of its buffer. The number of words
// actually copied is min(word_count, words left in src after the offset, words left in dst
// after the offset); an offset past the end of its buffer copies nothing. No parameter value,
// and no dispatch size, can make this kernel read or write outside its bindings.
//
// Dispatch: any number of workgroups along x covers any word count (grid-stride loop).
// Workgroups with y or z != 0 do nothing, so a 2D/3D dispatch is wasteful but harmless.

/// Host side: `dsr_kernels::CopyParams` (its layout is checked against this struct).
struct CopyParams {
    /// First word read from `src`.
    src_offset_words: u32,
    /// First word written in `dst`.
    dst_offset_words: u32,
    /// Number of words to copy (clamped to what both buffers hold).
    word_count: u32,
}

const WORKGROUP_SIZE: u32 = 256u;

@group(0) @binding(0) var<uniform> params: CopyParams;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;

@compute @workgroup_size(WORKGROUP_SIZE)
fn copy(
    @builtin(global_invocation_id) gid: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
) {
    if gid.y != 0u || gid.z != 0u {
        return;
    }

    let src_len = arrayLength(&src);
    let dst_len = arrayLength(&dst);
    let src_offset = params.src_offset_words;
    let dst_offset = params.dst_offset_words;
    // Words available behind each offset; 0 when the offset is past the end.
    let src_avail = select(0u, src_len - src_offset, src_offset <= src_len);
    let dst_avail = select(0u, dst_len - dst_offset, dst_offset <= dst_len);
    let n = min(params.word_count, min(src_avail, dst_avail));

    // Invocations in the whole grid. Saturates instead of wrapping when more than
    // 2^32 / WORKGROUP_SIZE workgroups are dispatched (each invocation then copies at most
    // one word; global_invocation_id wraps there, so some words are written twice with the
    // same value).
    var stride = 0xffffffffu;
    if groups.x <= 0xffffffffu / WORKGROUP_SIZE {
        stride = groups.x * WORKGROUP_SIZE;
    }

    // Invariant: i < n, so src_offset + i < src_len and dst_offset + i < dst_len.
    for (var i = gid.x; i < n; i += stride) {
        dst[dst_offset + i] = src[src_offset + i];
        // Stop when the next index would reach n; this also keeps i + stride from wrapping.
        if n - i <= stride {
            break;
        }
    }
}
