#version 450
// fill_pattern: dst[offset_words + i] = pattern for i in 0..word_count. A GLSL kernel (cargo
// feature `glsl`), compiled by shaderc at build time; GPU decode tests paint guard bands with it.
//
// Bounds: every write is checked against the length of the bound `dst` range. The number of
// words actually written is min(word_count, words of dst after offset_words); an offset past
// the end writes nothing. No parameter value, and no dispatch size, can make this kernel write
// outside its binding.
//
// Dispatch: any number of workgroups along x covers any word count (grid-stride loop).
// Workgroups with y or z != 0 do nothing, so a 2D/3D dispatch is wasteful but harmless.

#define WORKGROUP_SIZE 256u

layout(local_size_x = WORKGROUP_SIZE) in;

// Host side: `dsr_kernels::glsl::FillPatternParams` (its layout is checked against this block).
layout(set = 0, binding = 0, std140) uniform FillPatternParams {
    // First word written in `dst`.
    uint offset_words;
    // Number of words to write (clamped to what `dst` holds after the offset).
    uint word_count;
    // The 32-bit word written.
    uint pattern;
} params;

layout(set = 0, binding = 1, std430) buffer FillPatternDst {
    uint words[];
} dst;

void main() {
    if (gl_GlobalInvocationID.y != 0u || gl_GlobalInvocationID.z != 0u) {
        return;
    }

    // .length() is an int; the bound range holds at most 2^32 - 1 words, so uint() is exact.
    uint dst_len = uint(dst.words.length());
    uint offset = params.offset_words;
    // Words available behind the offset; 0 when the offset is past the end.
    uint avail = offset <= dst_len ? dst_len - offset : 0u;
    uint n = min(params.word_count, avail);

    // Invocations in the whole grid. Saturates instead of wrapping when more than
    // 2^32 / WORKGROUP_SIZE workgroups are dispatched (each invocation then writes at most one
    // word; gl_GlobalInvocationID wraps there, so some words are written twice, with the same
    // value).
    uint stride = 0xffffffffu;
    if (gl_NumWorkGroups.x <= 0xffffffffu / WORKGROUP_SIZE) {
        stride = gl_NumWorkGroups.x * WORKGROUP_SIZE;
    }

    // Invariant: i < n, so offset + i < dst_len.
    for (uint i = gl_GlobalInvocationID.x; i < n; i += stride) {
        dst.words[offset + i] = params.pattern;
        // Stop when the next index would reach n; this also keeps i + stride from wrapping.
        if (n - i <= stride) {
            break;
        }
    }
}
