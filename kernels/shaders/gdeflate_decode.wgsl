// gdeflate_decode: decodes GDeflate pages (spec `shared/spec/gdeflate.md` sections 2-3), one
// page ("tile") per workgroup of 32 invocations, invocation t = lane t.
//
// Design (spec section 9, "one group of 32 threads per tile"). Two variants are built from this
// one source (kernels/build.rs, `//#if subgroup` sections):
// - `gdeflate_decode`: every cross-lane operation (ballot, prefix sum, broadcast) goes through
//   workgroup memory and `workgroupBarrier`, never through subgroup operations, so it behaves
//   the same on any subgroup size (lavapipe 8, NVIDIA 32, AMD 32/64);
// - `gdeflate_decode_subgroup`: the hot cross-lane operations (the round's ballots, the output
//   prefix sum) are subgroup operations. It needs the workgroup to be exactly one subgroup of
//   32 (the host selects it only then; the kernel checks `subgroup_size` and reports
//   STATUS_BAD_SUBGROUP otherwise), and lane = `subgroup_invocation_id`.
// Everything else, the error semantics in particular, is shared text.
//
// The decode is the round view of spec 3.3: in every round each lane performs at most one step
// (a symbol plus its extra bits), then the lanes that fell below 32 bits refill, in lane order,
// by a ballot: lane t's word is `next + popcount(refill_mask & lanes_below(t))`. Matches are
// reserved in the round their length is decoded (output positions by prefix sum) and copied in
// the next round, when their distance is decoded, in lane order, by all 32 invocations
// (`out[P + k] = out[P - D + (k mod D)]`, spec 3.5). Matches whose source bytes are all final
// (before every match of the round, or after the previous match of the round) are copied
// together without barriers; the others follow in lane order, a storage barrier after each.
// Lanes whose step is not part of the stream (literal/length work after the end-of-block lane,
// code-length items after the last one) are rolled back.
//
// Errors follow the serial schedule exactly: within a round, the step of lane L precedes the
// refill of lane L, which precedes the step of lane L + 1. The first error in that order stops
// the tile, and the status names the same kind, details and byte offset (4 * words consumed)
// as the CPU decoder (`dsr_gdeflate::decode`).
//
// Bounds (the kernel's own contract; it is built without naga's bounds checks):
// - a tile whose source or destination range is not inside its buffer is not decoded
//   (STATUS_BAD_DESCRIPTOR); the destination may start at any byte;
// - every page word read has index < the page's word count (refills past the page are the
//   InputOverrun error, checked before the load);
// - every output byte position is < the tile's size: literal, match and stored writes are
//   checked against it before they happen (OutputOverrun), and `write_byte` checks again;
// - match sources are >= 0 (a distance beyond the bytes already assigned is an error);
// - workgroup-memory indices are bounded by construction (symbols < alphabet size, code
//   lengths <= 15, lanes < 32), each noted where it is not obvious;
// - the destination's bytes outside [dst_offset, dst_offset + dst_size) are never written:
//   bytes are OR-ed into words whose own bytes were zeroed first (atomicAnd on partial words).
// Workgroup memory is not zero-initialised (kernels/build.rs): every variable is written
// before it is read (masks at entry, tables by each block's build, per-round slots by the
// round that reads them).
// Loops: every round consumes at least one bit of the page, so a tile takes at most
// 32 * page words rounds; a round budget (STATUS_ROUND_LIMIT) enforces it anyway.

/// Host side: `dsr_kernels::DecodeParams`.
struct DecodeParams {
    /// Number of entries of `tiles` to decode.
    tile_count: u32,
}

/// One page to decode. Host side: `dsr_kernels::TileDesc`.
struct TileDesc {
    /// Byte offset of the page in `src`; a multiple of 4.
    src_offset: u32,
    /// Page size in bytes.
    src_size: u32,
    /// Byte offset of the page's output in `dst`.
    dst_offset: u32,
    /// Exact decoded size of the page, 0..=65536.
    dst_size: u32,
}

/// Outcome of one tile. Host side: `dsr_kernels::TileStatus`.
struct TileStatus {
    /// One of the STATUS_* constants.
    code: u32,
    /// Byte offset in the page of the read position when the error happened (4 * words
    /// consumed), as the CPU decoder reports it.
    offset: u32,
    /// First detail of the error (see the STATUS_* constants), else 0.
    detail0: u32,
    /// Second detail of the error, else 0.
    detail1: u32,
}

// Status codes (reflected into `dsr_kernels::gdeflate_decode`).
/// The status word was never written: the tile was not part of a dispatch.
const STATUS_NOT_RUN: u32 = 0u;
/// Decoded: the tile's destination holds exactly its bytes.
const STATUS_OK: u32 = 1u;
/// Page size not a multiple of 4 or below 128; detail0 = the size.
const STATUS_BAD_PAGE_SIZE: u32 = 2u;
/// A refill needed a word beyond the page.
const STATUS_INPUT_OVERRUN: u32 = 3u;
/// Block type 3.
const STATUS_RESERVED_BLOCK_TYPE: u32 = 4u;
/// Over-subscribed or illegally incomplete code; detail0 = CODE_*.
const STATUS_INVALID_CODE: u32 = 5u;
/// A symbol decoded from an empty code; detail0 = CODE_*.
const STATUS_EMPTY_CODE: u32 = 6u;
/// Code-length symbol 16 with no previous length.
const STATUS_REPEAT_WITHOUT_PREVIOUS: u32 = 7u;
/// The code-length sequence overshoots HLIT + HDIST.
const STATUS_CODE_LENGTH_OVERRUN: u32 = 8u;
/// The end-of-block symbol has no codeword.
const STATUS_MISSING_END_OF_BLOCK: u32 = 9u;
/// Literal/length symbol 286 or 287; detail0 = the symbol.
const STATUS_INVALID_SYMBOL: u32 = 10u;
/// Distance beyond the bytes already assigned; detail0 = distance, detail1 = position.
const STATUS_DISTANCE_TOO_FAR: u32 = 11u;
/// Output beyond the tile's size; detail0 = the size.
const STATUS_OUTPUT_OVERRUN: u32 = 12u;
/// The final block ended early; detail0 = bytes produced, detail1 = bytes expected.
const STATUS_OUTPUT_UNDERRUN: u32 = 13u;
/// The tile's source or destination range is outside its buffer, or dst_size > 65536.
const STATUS_BAD_DESCRIPTOR: u32 = 14u;
/// Internal guard: more rounds than the page has bits (a kernel bug, never bad input).
const STATUS_ROUND_LIMIT: u32 = 15u;
/// Internal guard: the subgroup variant ran with a subgroup size other than 32 (a host bug).
const STATUS_BAD_SUBGROUP: u32 = 16u;

/// Which of a block's codes (detail0 of STATUS_INVALID_CODE / STATUS_EMPTY_CODE, and the
/// `which` argument of the table functions): the literal/length code.
const CODE_LITLEN: u32 = 0u;
/// ... the distance code.
const CODE_DISTANCE: u32 = 1u;
/// ... the code-length (precode) code.
const CODE_PRECODE: u32 = 2u;

/// Lanes per page, and invocations per workgroup.
const LANES: u32 = 32u;
/// Largest decoded size of a page.
const MAX_TILE_BYTES: u32 = 65536u;
/// Smallest legal page, in bytes.
const MIN_PAGE_BYTES: u32 = 128u;

@group(0) @binding(0) var<uniform> params: DecodeParams;
@group(0) @binding(1) var<storage, read> tiles: array<TileDesc>;
@group(0) @binding(2) var<storage, read> src: array<u32>;
@group(0) @binding(3) var<storage, read_write> dst: array<atomic<u32>>;
@group(0) @binding(4) var<storage, read_write> status: array<TileStatus>;

// ---- decode tables -------------------------------------------------------------------------
//
// A decode-table entry (u32): bits 0..4 codeword length (0 = not in the lookup table: a
// codeword longer than the table's index width, resolved canonically), 4..9 extra-bit count,
// 9..12 kind (ENTRY_*), 16..32 value (literal byte, length or distance base, code-length or
// invalid symbol).
const ENTRY_LONG: u32 = 0u;
const ENTRY_LITERAL: u32 = 1u;
const ENTRY_LENGTH: u32 = 2u;
const ENTRY_END_OF_BLOCK: u32 = 3u;
const ENTRY_INVALID: u32 = 4u;
const ENTRY_DISTANCE: u32 = 5u;
const ENTRY_CODE_LENGTH: u32 = 6u;
const ENTRY_EMPTY: u32 = 7u;

// The three tables of a block are numbered by the CODE_* constants ("which").
/// Lookup-table index widths. 9/8 rather than 10/9: the 3 KB of workgroup memory saved let
/// more workgroups reside per SM, which measured faster on an H100 than fewer long-code
/// fallbacks (docs/perf-notes.md, v5).
const LITLEN_LUT_BITS: u32 = 9u;
const DIST_LUT_BITS: u32 = 8u;
const PRECODE_LUT_BITS: u32 = 7u;
/// Offsets of the three lookup tables in `lut`, and its size. The precode table shares the
/// literal/length table's words: it is built and used only while a dynamic header's code
/// lengths are read, before the literal/length table is built over it (docs/perf-notes.md,
/// v13: every KB of workgroup memory is resident workgroups).
const LITLEN_LUT: u32 = 0u;
const DIST_LUT: u32 = LITLEN_LUT + (1u << LITLEN_LUT_BITS);
const PRECODE_LUT: u32 = LITLEN_LUT;
const LUT_SIZE: u32 = DIST_LUT + (1u << DIST_LUT_BITS);
/// Offsets of the three code-length arrays in `lens` (multiples of 4: whole words).
const LITLEN_LENS: u32 = 0u;
const DIST_LENS: u32 = 288u;
const PRECODE_LENS: u32 = 320u;
/// Words of `lens`: 339 byte entries, four per word.
const LENS_WORDS: u32 = 85u;
/// Offsets of the three symbol arrays (sorted by codeword) in `sorted` (even: whole words);
/// one slot of slack per table for the single-codeword code (see `build_table`). The precode's
/// shares the literal/length one's words, as its lookup table does.
const LITLEN_SORTED: u32 = 0u;
const DIST_SORTED: u32 = 290u;
const PRECODE_SORTED: u32 = LITLEN_SORTED;
/// Words of `sorted`: 324 16-bit entries, two per word.
const SORTED_WORDS: u32 = 162u;

/// Code lengths, per table (see the *_LENS offsets), one byte each (`lens_get`, `lens_or`):
/// entries are OR-ed into zeroed words because neighbouring entries come from different lanes.
var<workgroup> lens: array<atomic<u32>, LENS_WORDS>;
/// Lookup tables, indexed by the next LUT_BITS stream bits (first bit in bit 0).
var<workgroup> lut: array<u32, LUT_SIZE>;
/// Symbols in canonical order, per table, 16 bits each (`sorted_get`, `sorted_or`).
var<workgroup> sorted: array<atomic<u32>, SORTED_WORDS>;
/// Per table (16 entries each, index = codeword length): histogram; first canonical codeword
/// (bits 0..16) and the count used for decoding (bits 16..32); index of the first symbol in
/// `sorted`.
var<workgroup> histogram: array<atomic<u32>, 48>;
var<workgroup> code_info: array<u32, 48>;
var<workgroup> first_index: array<u32, 48>;

/// (code, detail0, detail1) of a step's error as `lane_error` holds it: code < 256 and
/// detail1 (a position in the tile) < 2^24.
fn pack_error(e: vec3<u32>) -> vec2<u32> {
    return vec2(e.x | (e.z << 8u), e.y);
}

fn unpack_error(p: vec2<u32>) -> vec3<u32> {
    return vec3(p.x & 0xffu, p.y, p.x >> 8u);
}

fn lens_get(i: u32) -> u32 {
    return (atomicLoad(&lens[i >> 2u]) >> ((i & 3u) * 8u)) & 0xffu;
}

/// Sets entry i (<= 15) of a zeroed word.
fn lens_or(i: u32, v: u32) {
    atomicOr(&lens[i >> 2u], v << ((i & 3u) * 8u));
}

fn sorted_get(i: u32) -> u32 {
    return (atomicLoad(&sorted[i >> 1u]) >> ((i & 1u) * 16u)) & 0xffffu;
}

/// Sets entry i (< 65536) of a zeroed word.
fn sorted_or(i: u32, v: u32) {
    atomicOr(&sorted[i >> 1u], v << ((i & 1u) * 16u));
}

// ---- per-round exchange ----------------------------------------------------------------------
//
// Each round publishes into slot `round % 3`, and thread 0 clears the masks of slot
// `(round + 2) % 3` after the round's barrier: that slot was last read in round - 1 (before
// this round's barrier) and is next written in round + 2 (after the next barrier). So one
// barrier per round suffices.
const MASK_REFILL: u32 = 0u;   // lane stepped and holds < 32 bits
const MASK_STOP: u32 = 1u;     // lane ends the sequence (end of block)
const MASK_ERROR: u32 = 2u;    // lane's step failed; details in `lane_error`
const MASK_KEEP: u32 = 3u;     // lane's step counts even after the stop lane (a distance)
const MASK_LENGTH: u32 = 4u;   // lane decoded a match length
var<workgroup> masks: array<atomic<u32>, 15>;   // [slot * 5 + MASK_*]
/// Per slot and lane: output advance (literal 1, match length N) or code-length run.
var<workgroup> advance: array<u32, 96>;
/// Per slot and lane: a resolved match (position, length, distance) or a code-length value.
var<workgroup> match_pos: array<u32, 96>;
var<workgroup> match_len: array<u32, 96>;
var<workgroup> match_dist: array<u32, 96>;
/// Per lane: a failed step's error, packed by `pack_error` (code and detail1 in x, detail0 in
/// y; half the memory of a vec3, whose stride is 16 bytes).
var<workgroup> lane_error: array<vec2<u32>, 32>;
/// Per slot: a value lane 0 read for everyone (block header fields, stored length).
var<workgroup> broadcast: array<u32, 3>;

// ---- per-invocation state --------------------------------------------------------------------
var<private> lane: u32;
/// The lane's bit buffer (spec 3.2): `nbits` valid bits, first in bit 0 of `lo`, continuing
/// into `hi`. Bits at positions >= nbits are zero.
var<private> lo: u32;
var<private> hi: u32;
var<private> nbits: u32;
/// The lane's reserved match waiting for its distance: position and length (0 = none).
var<private> pending_pos: u32;
var<private> pending_len: u32;

// Workgroup-uniform state: every invocation computes the same values from published data.
var<private> round: u32;
var<private> round_budget: u32;
/// Next unread page word (spec 3.2 `next`), page word count, first page word in `src`.
var<private> next: u32;
var<private> page_words: u32;
var<private> src_base: u32;
/// Output cursor (bytes assigned) and the tile's exact size; destination byte offset.
var<private> pos: u32;
var<private> capacity: u32;
var<private> dst_base: u32;
/// Status of the tile so far.
var<private> st_code: u32;
var<private> st_offset: u32;
var<private> st_detail0: u32;
var<private> st_detail1: u32;

fn below(t: u32) -> u32 {
    return (1u << t) - 1u;
}

/// Lanes 0..=e (all lanes when e >= 31).
fn up_to(e: u32) -> u32 {
    return select((2u << e) - 1u, 0xffffffffu, e >= 31u);
}

fn low_bits(v: u32, k: u32) -> u32 {
    return select(v & ((1u << k) - 1u), v, k >= 32u);
}

/// Lowest set bit of m, or 32 when m == 0.
fn first_lane(m: u32) -> u32 {
    return select(firstTrailingBit(m), 32u, m == 0u);
}

/// Index of the k-th (0-based) set bit of m; requires k < countOneBits(m).
fn nth_lane(m: u32, k: u32) -> u32 {
    var rest = m;
    for (var i = 0u; i < k; i++) {
        rest &= rest - 1u;
    }
    return first_lane(rest);
}

/// Removes the lane's next k (<= 31) bits.
fn take(k: u32) -> u32 {
    let v = low_bits(lo, k);
    if k > 0u {
        lo = (lo >> k) | (hi << (32u - k));
        hi = hi >> k;
        nbits -= k;
    }
    return v;
}

fn fail(code: u32, offset: u32, detail0: u32, detail1: u32) {
    st_code = code;
    st_offset = offset;
    st_detail0 = detail0;
    st_detail1 = detail1;
}

// ---- rounds ----------------------------------------------------------------------------------

/// Starts a round: the slot to publish into.
fn begin_round() -> u32 {
    return round % 3u;
}

//#if subgroup
// The round's masks are subgroup ballots, held by every lane (no workgroup memory, no clears).
var<private> mask_refill: u32;
var<private> mask_stop: u32;
var<private> mask_error: u32;
var<private> mask_keep: u32;
var<private> mask_length: u32;

/// Publishes this lane's masks for the round (call once per round, in uniform control flow,
/// before `end_round`).
fn publish(slot: u32, refill: bool, stop: bool, error: bool, keep: bool, length: bool) {
    mask_refill = subgroupBallot(refill).x;
    mask_stop = subgroupBallot(stop).x;
    mask_error = subgroupBallot(error).x;
    mask_keep = subgroupBallot(keep).x;
    mask_length = subgroupBallot(length).x;
}

/// The round's barrier (for the per-lane data the round wrote to workgroup memory).
fn end_round() {
    workgroupBarrier();
    round += 1u;
}

fn read_mask(slot: u32, which: u32) -> u32 {
    switch which {
        case 0u: { return mask_refill; }
        case 1u: { return mask_stop; }
        case 2u: { return mask_error; }
        case 3u: { return mask_keep; }
        default: { return mask_length; }
    }
}

/// The lanes whose `pred` holds (uniform control flow).
fn lanes_where(pred: bool) -> u32 {
    return subgroupBallot(pred).x;
}

/// (sum of `v` over the lanes below this one, sum over all lanes); uniform control flow.
fn lanes_scan(v: u32) -> vec2<u32> {
    return vec2(subgroupExclusiveAdd(v), subgroupAdd(v));
}
//#else
/// Publishes this lane's masks for the round (call once per round, before `end_round`).
fn publish(slot: u32, refill: bool, stop: bool, error: bool, keep: bool, length: bool) {
    let bit = 1u << lane;
    let base = slot * 5u;
    if refill { atomicOr(&masks[base + MASK_REFILL], bit); }
    if stop { atomicOr(&masks[base + MASK_STOP], bit); }
    if error { atomicOr(&masks[base + MASK_ERROR], bit); }
    if keep { atomicOr(&masks[base + MASK_KEEP], bit); }
    if length { atomicOr(&masks[base + MASK_LENGTH], bit); }
}

/// The round's barrier; afterwards the slot's data is readable. Clears the slot after next.
fn end_round() {
    workgroupBarrier();
    if lane == 0u {
        let base = ((round + 2u) % 3u) * 5u;
        for (var i = 0u; i < 5u; i++) {
            atomicStore(&masks[base + i], 0u);
        }
    }
    round += 1u;
}

fn read_mask(slot: u32, which: u32) -> u32 {
    return atomicLoad(&masks[slot * 5u + which]);
}

/// Ballot slots of `lanes_where`, used in rotation like the round masks.
var<workgroup> ballots: array<atomic<u32>, 3>;
var<private> ballot_count: u32;

/// The lanes whose `pred` holds (uniform control flow; one barrier). The slot used by the
/// previous call was read by every lane before this call's barrier and is next written two
/// calls later, after the next call's barrier, so lane 0 clears it here.
fn lanes_where(pred: bool) -> u32 {
    let s = ballot_count % 3u;
    ballot_count += 1u;
    if pred {
        atomicOr(&ballots[s], 1u << lane);
    }
    workgroupBarrier();
    let m = atomicLoad(&ballots[s]);
    if lane == 0u {
        atomicStore(&ballots[(s + 2u) % 3u], 0u);
    }
    return m;
}

/// Values of `lanes_scan`, one per lane.
var<workgroup> scan_values: array<u32, 32>;

/// (sum of `v` over the lanes below this one, sum over all lanes); uniform control flow, two
/// barriers (the second keeps the next call from overwriting values still being summed).
fn lanes_scan(v: u32) -> vec2<u32> {
    scan_values[lane] = v;
    workgroupBarrier();
    var below_sum = 0u;
    var total = 0u;
    for (var l = 0u; l < LANES; l++) {
        let x = scan_values[l];
        below_sum += select(0u, x, l < lane);
        total += x;
    }
    workgroupBarrier();
    return vec2(below_sum, total);
}
//#endif

/// The lane of the first refill that runs past the page among `refill_mask`'s, or 32.
fn refill_overrun_lane(refill_mask: u32) -> u32 {
    let avail = page_words - next;
    if countOneBits(refill_mask) > avail {
        return nth_lane(refill_mask, avail);
    }
    return 32u;
}

/// Performs the refills of `refill_mask` (which must not run past the page), in lane order.
fn commit_refills(refill_mask: u32) {
    if ((refill_mask >> lane) & 1u) != 0u {
        let index = next + countOneBits(refill_mask & below(lane));
        // index < page_words (refill_overrun_lane found none); src_base + index is in `src`
        // (the descriptor was checked).
        let word = src[src_base + index];
        // nbits is 1..=31 here: a step starts with >= 32 bits (>= 16 for lane 0 right after
        // a stored block's length) and takes <= 31 (8 in that case).
        lo |= word << nbits;
        hi |= word >> (32u - nbits);
        nbits += 32u;
    }
    next += countOneBits(refill_mask);
}

/// Ends a round: `err_lane` is the first lane (in lane order) whose step failed, with error
/// `err` (code, detail0, detail1), or 32 for none. In serial order a step of lane L follows
/// the refills of lanes < L, so the step error stands unless one of those refills ran past
/// the page. Without an error, performs the refills of `refill_mask`. Returns false after
/// recording the error (with the CPU decoder's byte offset).
fn settle_round(refill_mask: u32, err_lane: u32, err: vec3<u32>) -> bool {
    var refills = refill_mask;
    if err_lane < 32u {
        refills &= below(err_lane);
    }
    if refill_overrun_lane(refills) < 32u {
        fail(STATUS_INPUT_OVERRUN, 4u * page_words, 0u, 0u);
        return false;
    }
    if err_lane < 32u {
        fail(err.x, 4u * (next + countOneBits(refills & below(err_lane))), err.y, err.z);
        return false;
    }
    commit_refills(refills);
    return true;
}

/// Ends a round where only refills can fail (header fields, stored bytes, precode lengths).
fn simple_refills(slot: u32) -> bool {
    return settle_round(read_mask(slot, MASK_REFILL), 32u, vec3(0u));
}

fn spend_round() -> bool {
    if round_budget == 0u {
        fail(STATUS_ROUND_LIMIT, 4u * next, 0u, 0u);
        return false;
    }
    round_budget -= 1u;
    return true;
}

// ---- output ----------------------------------------------------------------------------------

/// The only functions that touch `dst`'s memory (with `clear_destination`). kernels/build.rs
/// makes the `_bytes` kernels from this one by replacing their bodies in the SPIR-V with 8-bit
/// stores and loads, and `clear_destination`'s with nothing (`byte_kernel`): WGSL has no byte
/// type, so here each byte is OR-ed into a zeroed word and read back by an atomic load.
fn dst_byte_store(a: u32, value: u32) {
    atomicOr(&dst[a >> 2u], (value & 0xffu) << ((a & 3u) * 8u));
}

fn dst_byte_load(a: u32) -> u32 {
    return (atomicLoad(&dst[a >> 2u]) >> ((a & 3u) * 8u)) & 0xffu;
}

fn write_byte(p: u32, value: u32) {
    if p < capacity {
        dst_byte_store(dst_base + p, value);
    }
}

fn read_byte(p: u32) -> u32 {
    return dst_byte_load(dst_base + min(p, capacity - 1u));
}

/// Zeroes the tile's destination bytes (and only those), so that bytes can be OR-ed in (the
/// `_bytes` kernels have an empty body instead: see `dst_byte_store`).
fn clear_destination() {
    if capacity == 0u {
        return;
    }
    let first_word = dst_base >> 2u;
    let last_word = (dst_base + capacity - 1u) >> 2u;
    for (var w = first_word + lane; w <= last_word; w += LANES) {
        let lo_byte = max(dst_base, w * 4u);
        let hi_byte = min(dst_base + capacity, w * 4u + 4u);
        if lo_byte == w * 4u && hi_byte == w * 4u + 4u {
            atomicStore(&dst[w], 0u);
        } else {
            let n = hi_byte - lo_byte;
            let mine = low_bits(0xffffffffu, n * 8u) << ((lo_byte & 3u) * 8u);
            atomicAnd(&dst[w], ~mine);
        }
    }
    storageBarrier();
}

/// Copies match (p, n, d) with all lanes: byte k = out[p - d + (k mod d)] (spec 3.5); every
/// source byte precedes p and must be final. No barrier: the caller orders dependent copies.
fn copy_match(p: u32, n: u32, d: u32) {
    if d >= n {
        for (var k = lane; k < n; k += LANES) {
            write_byte(p + k, read_byte(p - d + k));
        }
    } else {
        for (var k = lane; k < n; k += LANES) {
            write_byte(p + k, read_byte(p - d + (k % d)));
        }
    }
}

/// Start of each lane's match in the concatenated bytes of `copy_together`.
var<workgroup> copy_start: array<u32, 32>;

/// Where byte `j` of the concatenation of the matches of a `copy_together` group (in lane
/// order) goes and comes from: (destination position, source position), or (0xffffffff, 0)
/// past `total`. The owner is the last lane whose start is <= j (lanes outside the group have no bytes, so such a
/// lane always owns bytes and j is inside its match).
fn copy_byte(slot: u32, j: u32, total: u32) -> vec2<u32> {
    if j >= total {
        return vec2(0xffffffffu, 0u);
    }
    var owner = 0u;
    for (var step = 16u; step > 0u; step >>= 1u) {
        if copy_start[owner + step] <= j {
            owner += step;
        }
    }
    let k = j - copy_start[owner];
    let p = match_pos[slot * 32u + owner];
    let d = match_dist[slot * 32u + owner];
    // k < n; the source byte precedes p (k mod d < d). The modulo only where k >= d (a
    // self-overlapping match): `select` would compute it for every byte.
    var ks = k;
    if ks >= d {
        ks = ks % d;
    }
    return vec2(p + k, p - d + ks);
}

/// Copies the matches of `group` (lanes of `slot` whose match reads no byte another match of
/// the group writes) at once: their bytes, concatenated in lane order, are spread over the
/// lanes, four per lane per pass with the four reads issued before the writes, so a pass
/// waits for memory once instead of once per match. Uniform control flow.
fn copy_together(slot: u32, group: u32) {
    let mine = ((group >> lane) & 1u) != 0u;
    let scan = lanes_scan(select(0u, match_len[slot * 32u + lane], mine));
    copy_start[lane] = scan.x;
    workgroupBarrier();
    let total = scan.y;
    for (var base = lane; base < total; base += 4u * LANES) {
        let a = copy_byte(slot, base, total);
        let b = copy_byte(slot, base + LANES, total);
        let c = copy_byte(slot, base + 2u * LANES, total);
        let e = copy_byte(slot, base + 3u * LANES, total);
        let va = read_byte(a.y);
        let vb = read_byte(b.y);
        let vc = read_byte(c.y);
        let ve = read_byte(e.y);
        write_byte(a.x, va);
        write_byte(b.x, vb);
        write_byte(c.x, vc);
        write_byte(e.x, ve);
    }
}

// ---- code construction -----------------------------------------------------------------------

fn lut_bits(which: u32) -> u32 {
    return select(select(PRECODE_LUT_BITS, DIST_LUT_BITS, which == CODE_DISTANCE), LITLEN_LUT_BITS, which == CODE_LITLEN);
}

fn lut_base(which: u32) -> u32 {
    return select(select(PRECODE_LUT, DIST_LUT, which == CODE_DISTANCE), LITLEN_LUT, which == CODE_LITLEN);
}

fn sorted_base(which: u32) -> u32 {
    return select(select(PRECODE_SORTED, DIST_SORTED, which == CODE_DISTANCE), LITLEN_SORTED, which == CODE_LITLEN);
}

fn make_entry(kind: u32, len: u32, extra: u32, value: u32) -> u32 {
    return len | (extra << 4u) | (kind << 9u) | (value << 16u);
}

/// The entry of symbol `sym` (< the alphabet's size) with a codeword of `len` bits.
fn symbol_entry(which: u32, sym: u32, len: u32) -> u32 {
    if which == CODE_LITLEN {
        if sym < 256u {
            return make_entry(ENTRY_LITERAL, len, 0u, sym);
        }
        if sym == 256u {
            return make_entry(ENTRY_END_OF_BLOCK, len, 0u, 0u);
        }
        if sym < 285u {
            // Symbols 257..=284: 8 of 0 extra bits, then 4 each of 1..=5 (spec 2.2).
            let i = sym - 257u;
            if i < 8u {
                return make_entry(ENTRY_LENGTH, len, 0u, 3u + i);
            }
            let extra = (i >> 2u) - 1u;
            return make_entry(ENTRY_LENGTH, len, extra, ((4u + (i & 3u)) << extra) + 3u);
        }
        if sym == 285u {
            return make_entry(ENTRY_LENGTH, len, 16u, 3u);
        }
        return make_entry(ENTRY_INVALID, len, 0u, sym);
    }
    if which == CODE_DISTANCE {
        if sym < 4u {
            return make_entry(ENTRY_DISTANCE, len, 0u, sym + 1u);
        }
        let extra = (sym >> 1u) - 1u;
        return make_entry(ENTRY_DISTANCE, len, extra, ((2u + (sym & 1u)) << extra) + 1u);
    }
    let extra = select(select(select(0u, 7u, sym == 18u), 3u, sym == 17u), 2u, sym == 16u);
    return make_entry(ENTRY_CODE_LENGTH, len, extra, sym);
}

/// Builds table `which` from its `nsyms` code lengths in `lens` (spec 2.6), validated as the
/// CPU decoder does: over-subscribed is invalid; incomplete is valid only when empty or a
/// single codeword of length 1 (which then decodes from either bit). Returns false when the
/// code is invalid (all invocations agree). Called in uniform control flow.
fn build_table(which: u32, lens_base: u32, nsyms: u32) -> bool {
    let tb = which * 16u;
    let sb = sorted_base(which);
    if lane < 16u {
        atomicStore(&histogram[tb + lane], 0u);
    }
    // The table's `sorted` words (nsyms + 1 entries from the even sb), zeroed for `sorted_or`.
    for (var w = sb / 2u + lane; w < (sb + nsyms + 2u) / 2u; w += LANES) {
        atomicStore(&sorted[w], 0u);
    }
    workgroupBarrier();
    for (var s = lane; s < nsyms; s += LANES) {
        let l = lens_get(lens_base + s);
        if l != 0u {
            // l <= 15: lengths come from 3-bit fields or code-length symbols 0..=15.
            atomicAdd(&histogram[tb + l], 1u);
        }
    }
    workgroupBarrier();

    // Every invocation validates (same result everywhere) and lane l keeps length l's data.
    var left = 1i;
    var used = 0u;
    var code = 0u;
    var index = 0u;
    var my_first = 0u;
    var my_index = 0u;
    var my_count = 0u;
    for (var l = 1u; l < 16u; l++) {
        let c = atomicLoad(&histogram[tb + l]);
        left = 2i * left - i32(c);
        if left < 0i {
            return false;
        }
        if l == lane {
            my_first = code;
            my_index = index;
            my_count = c;
        }
        used += c;
        index += c;
        code = (code + c) << 1u;
    }
    let count1 = atomicLoad(&histogram[tb + 1u]);
    let single = left != 0i && used == 1u && count1 == 1u;
    if left != 0i && used != 0u && !single {
        return false;
    }
    if lane >= 1u && lane < 16u {
        // my_first <= 2^15 (a first codeword of length <= 15, or one past the last) and the
        // count <= 288: both fit 16 bits. The single length-1 codeword also answers for the
        // other first bit.
        code_info[tb + lane] = my_first | (select(my_count, 2u, single && lane == 1u) << 16u);
        first_index[tb + lane] = my_index;
    }
    // Lane l lists the symbols of length l in symbol order (canonical order within a length),
    // four code lengths per `lens` word (entries past nsyms are zero or skipped).
    if lane >= 1u && lane < 16u && my_count != 0u {
        var k = my_index;
        for (var w = 0u; w * 4u < nsyms; w++) {
            let word = atomicLoad(&lens[lens_base / 4u + w]);
            for (var b = 0u; b < 4u; b++) {
                let s = w * 4u + b;
                if s < nsyms && ((word >> (b * 8u)) & 0xffu) == lane {
                    sorted_or(sb + k, s);
                    k += 1u;
                }
            }
        }
        if single {
            sorted_or(sb + 1u, sorted_get(sb));
        }
    }
    workgroupBarrier();

    let bits = lut_bits(which);
    let base = lut_base(which);
    for (var i = lane; i < (1u << bits); i += LANES) {
        var entry = make_entry(ENTRY_EMPTY, 0u, 0u, 0u);
        if used != 0u {
            entry = make_entry(ENTRY_LONG, 0u, 0u, 0u);
            // The first `l` stream bits as a codeword (first bit = most significant).
            let rev = reverseBits(i) >> (32u - bits);
            for (var l = 1u; l <= bits; l++) {
                let cw = rev >> (bits - l);
                let info = code_info[tb + l];
                let rank = cw - (info & 0xffffu);
                if rank < (info >> 16u) {
                    entry = symbol_entry(which, sorted_get(sb + first_index[tb + l] + rank), l);
                    break;
                }
            }
        }
        lut[base + i] = entry;
    }
    workgroupBarrier();
    return true;
}

/// The entry for the lane's next symbol of table `which` (bits not consumed). Needs >= 15
/// valid bits in `lo`.
fn peek_symbol(which: u32) -> u32 {
    let bits = lut_bits(which);
    let entry = lut[lut_base(which) + low_bits(lo, bits)];
    if (entry & 15u) != 0u || ((entry >> 9u) & 7u) == ENTRY_EMPTY {
        return entry;
    }
    // Codeword longer than the lookup table: canonical decoding of the next 15 bits.
    let tb = which * 16u;
    let rev15 = reverseBits(lo) >> 17u;
    for (var l = bits + 1u; l <= 15u; l++) {
        let cw = rev15 >> (15u - l);
        let info = code_info[tb + l];
        let rank = cw - (info & 0xffffu);
        if rank < (info >> 16u) {
            return symbol_entry(which, sorted_get(sorted_base(which) + first_index[tb + l] + rank), l);
        }
    }
    // Unreachable for a complete code (every 15-bit string has a codeword).
    return make_entry(ENTRY_EMPTY, 0u, 0u, 0u);
}

fn entry_kind(e: u32) -> u32 {
    return (e >> 9u) & 7u;
}

/// Consumes the entry's codeword and extra bits; returns value + extra bits.
fn consume(e: u32) -> u32 {
    let len = e & 15u;
    let extra = (e >> 4u) & 31u;
    let v = (e >> 16u) + low_bits(lo >> len, extra);
    take(len + extra);
    return v;
}

fn fixed_litlen_length(sym: u32) -> u32 {
    if sym < 144u { return 8u; }
    if sym < 256u { return 9u; }
    if sym < 280u { return 7u; }
    return 8u;
}

// ---- blocks ----------------------------------------------------------------------------------

/// Spec 3.3.2. Returns false on error.
fn stored_block() -> bool {
    var slot = begin_round();
    if lane == 0u {
        broadcast[slot] = take(16u);
    }
    // Not a refill round: lane 0 takes its first byte without refilling (spec 3.3.2).
    end_round();
    let len = broadcast[slot];
    if pos + len > capacity {
        fail(STATUS_OUTPUT_OVERRUN, 4u * next, capacity, 0u);
        return false;
    }
    for (var done = 0u; done < len; done += LANES) {
        if !spend_round() {
            return false;
        }
        slot = begin_round();
        let working = lane < len - done;
        if working {
            write_byte(pos + done + lane, take(8u));
        }
        publish(slot, working && nbits < 32u, false, false, false, false);
        end_round();
        if !simple_refills(slot) {
            return false;
        }
    }
    pos += len;
    return true;
}

/// Spec 3.3.3: reads the dynamic header and builds the literal/length and distance tables.
fn dynamic_header() -> bool {
    // The precode's `lens` words, zeroed for `lens_or` (the header round's barrier orders it).
    if lane < LENS_WORDS - PRECODE_LENS / 4u {
        atomicStore(&lens[PRECODE_LENS / 4u + lane], 0u);
    }
    var slot = begin_round();
    if lane == 0u {
        let hlit = take(5u) + 257u;
        let hdist = take(5u) + 1u;
        let hclen = take(4u) + 4u;
        broadcast[slot] = hlit | (hdist << 9u) | (hclen << 15u);
    }
    publish(slot, lane == 0u && nbits < 32u, false, false, false, false);
    end_round();
    let fields = broadcast[slot];
    let hlit = fields & 511u;
    let hdist = (fields >> 9u) & 63u;
    let hclen = fields >> 15u;
    if !simple_refills(slot) {
        return false;
    }

    // Precode lengths: lane i reads the length of symbol ORDER[i]; every entry is written.
    slot = begin_round();
    if lane < 19u {
        var v = 0u;
        if lane < hclen {
            v = take(3u);
        }
        let order = array<u32, 19>(16u, 17u, 18u, 0u, 8u, 7u, 9u, 6u, 10u, 5u, 11u, 4u, 12u, 3u, 13u, 2u, 14u, 1u, 15u);
        lens_or(PRECODE_LENS + order[lane], v);
    }
    publish(slot, lane < hclen && nbits < 32u, false, false, false, false);
    end_round();
    if !simple_refills(slot) {
        return false;
    }
    // The code-length sequence writes only its HLIT + HDIST entries, OR-ed in: clear all
    // (build_table's first barrier orders the clears before them).
    for (var w = lane; w < PRECODE_LENS / 4u; w += LANES) {
        atomicStore(&lens[w], 0u);
    }
    if !build_table(CODE_PRECODE, PRECODE_LENS, 19u) {
        fail(STATUS_INVALID_CODE, 4u * next, CODE_PRECODE, 0u);
        return false;
    }

    // Code-length sequence: each round, lane c decodes one item; positions by prefix sum.
    let total = hlit + hdist;
    var filled = 0u;
    var prev = 0xffffffffu; // last length of the sequence so far (none yet)
    loop {
        if !spend_round() {
            return false;
        }
        slot = begin_round();
        let save_lo = lo;
        let save_hi = hi;
        let save_nbits = nbits;
        let e = peek_symbol(CODE_PRECODE);
        var error = false;
        var run = 0u;
        var value = 0u;
        if entry_kind(e) == ENTRY_EMPTY {
            error = true;
            lane_error[lane] = pack_error(vec3(STATUS_EMPTY_CODE, CODE_PRECODE, 0u));
        } else {
            let v = consume(e);
            let sym = e >> 16u;
            if sym < 16u {
                run = 1u;
                value = sym;
            } else if sym == 16u {
                run = v - 16u + 3u;
                value = 16u; // resolved below from the lanes before
            } else if sym == 17u {
                run = v - 17u + 3u;
            } else {
                run = v - 18u + 11u;
            }
        }
        advance[slot * 32u + lane] = run;
        match_len[slot * 32u + lane] = value;
        publish(slot, !error && nbits < 32u, false, error, false, false);
        end_round();

        // Walk the lanes in order: positions, values of repeats, the last item, the first error.
        let error_mask = read_mask(slot, MASK_ERROR);
        var acc = filled;
        var last = prev;
        var my_start = 0u;
        var my_value = 0u;
        var stop_lane = 32u;
        var err_lane = 32u;
        var err = vec3(0u);
        for (var l = 0u; l < 32u; l++) {
            if ((error_mask >> l) & 1u) != 0u {
                err_lane = l;
                err = unpack_error(lane_error[l]);
                break;
            }
            var v = match_len[slot * 32u + l];
            if v == 16u {
                if last == 0xffffffffu {
                    err_lane = l;
                    err = vec3(STATUS_REPEAT_WITHOUT_PREVIOUS, 0u, 0u);
                    break;
                }
                v = last;
            }
            let r = advance[slot * 32u + l];
            if acc + r > total {
                err_lane = l;
                err = vec3(STATUS_CODE_LENGTH_OVERRUN, 0u, 0u);
                break;
            }
            if l == lane {
                my_start = acc;
                my_value = v;
            }
            acc += r;
            last = v;
            if acc == total {
                stop_lane = l;
                break;
            }
        }
        let valid = up_to(min(stop_lane, err_lane));
        if !settle_round(read_mask(slot, MASK_REFILL) & valid, err_lane, err) {
            return false;
        }
        if ((valid >> lane) & 1u) == 0u {
            lo = save_lo;
            hi = save_hi;
            nbits = save_nbits;
        } else {
            // my_start + run <= total <= 320: the sequence maps onto the two length arrays.
            for (var i = 0u; i < run; i++) {
                let k = my_start + i;
                lens_or(select(DIST_LENS + k - hlit, LITLEN_LENS + k, k < hlit), my_value);
            }
        }
        filled = acc;
        prev = last;
        if stop_lane < 32u {
            break;
        }
    }
    workgroupBarrier();
    if lens_get(LITLEN_LENS + 256u) == 0u {
        fail(STATUS_MISSING_END_OF_BLOCK, 4u * next, 0u, 0u);
        return false;
    }
    if !build_table(CODE_LITLEN, LITLEN_LENS, hlit) {
        fail(STATUS_INVALID_CODE, 4u * next, CODE_LITLEN, 0u);
        return false;
    }
    if !build_table(CODE_DISTANCE, DIST_LENS, hdist) {
        fail(STATUS_INVALID_CODE, 4u * next, CODE_DISTANCE, 0u);
        return false;
    }
    return true;
}

/// Spec 2.5: the fixed codes (always valid).
fn fixed_tables() {
    // Whole words: the fixed lengths change only at multiples of 4 (144, 256, 280).
    for (var w = lane; w < 72u; w += LANES) {
        atomicStore(&lens[LITLEN_LENS / 4u + w], fixed_litlen_length(4u * w) * 0x01010101u);
    }
    if lane < 8u {
        atomicStore(&lens[DIST_LENS / 4u + lane], 0x05050505u);
    }
    build_table(CODE_LITLEN, LITLEN_LENS, 288u);
    build_table(CODE_DISTANCE, DIST_LENS, 32u);
}

/// Spec 3.3.5: the compressed data of a fixed or dynamic block, in rounds. Returns false on
/// error.
fn huffman_data() -> bool {
    var ended = false;
    loop {
        if !spend_round() {
            return false;
        }
        let slot = begin_round();
        let save_lo = lo;
        let save_hi = hi;
        let save_nbits = nbits;
        let is_dist = pending_len != 0u;
        let working = is_dist || !ended;
        var kind = ENTRY_EMPTY;
        var value = 0u;
        var error = false;
        if working {
            if is_dist {
                let e = peek_symbol(CODE_DISTANCE);
                if entry_kind(e) == ENTRY_EMPTY {
                    error = true;
                    lane_error[lane] = pack_error(vec3(STATUS_EMPTY_CODE, CODE_DISTANCE, 0u));
                } else {
                    kind = ENTRY_DISTANCE;
                    value = consume(e);
                    if value > pending_pos {
                        error = true;
                        lane_error[lane] = pack_error(vec3(STATUS_DISTANCE_TOO_FAR, value, pending_pos));
                    }
                }
            } else {
                let e = peek_symbol(CODE_LITLEN);
                kind = entry_kind(e);
                if kind == ENTRY_EMPTY {
                    error = true;
                    lane_error[lane] = pack_error(vec3(STATUS_EMPTY_CODE, CODE_LITLEN, 0u));
                } else if kind == ENTRY_INVALID {
                    error = true;
                    lane_error[lane] = pack_error(vec3(STATUS_INVALID_SYMBOL, e >> 16u, 0u));
                } else {
                    value = consume(e);
                }
            }
        }
        var adv = 0u;
        if !error && (kind == ENTRY_LITERAL) {
            adv = 1u;
        }
        if !error && (kind == ENTRY_LENGTH) {
            adv = value;
        }
        advance[slot * 32u + lane] = adv;
        if is_dist && !error {
            match_pos[slot * 32u + lane] = pending_pos;
            match_len[slot * 32u + lane] = pending_len;
            match_dist[slot * 32u + lane] = value;
        }
        let stepped = working && !error;
        publish(
            slot,
            stepped && nbits < 32u,
            stepped && kind == ENTRY_END_OF_BLOCK,
            working && error,
            is_dist,
            stepped && kind == ENTRY_LENGTH,
        );
        end_round();

        let stop = first_lane(read_mask(slot, MASK_STOP));
        let keep = read_mask(slot, MASK_KEEP);
        let valid = up_to(stop) | keep;
        // Output positions in lane order; the first lane that would write past the tile.
//#if subgroup
        let counted = select(0u, adv, ((valid >> lane) & 1u) != 0u);
        let my_pos = pos + subgroupExclusiveAdd(counted);
        let acc = pos + subgroupAdd(counted);
        let overflow_lane = first_lane(subgroupBallot(my_pos + counted > capacity).x);
//#else
        var acc = pos;
        var my_pos = pos;
        var overflow_lane = 32u;
        for (var l = 0u; l < 32u; l++) {
            if ((valid >> l) & 1u) != 0u {
                let a = advance[slot * 32u + l];
                if l == lane {
                    my_pos = acc;
                }
                if overflow_lane == 32u && acc + a > capacity {
                    overflow_lane = l;
                }
                acc += a;
            }
        }
//#endif
        let error_mask = read_mask(slot, MASK_ERROR) & valid;
        let err_lane = min(first_lane(error_mask), overflow_lane);
        // A lane either failed its step or (having decoded) overflowed the tile, not both.
        var err = vec3(STATUS_OUTPUT_OVERRUN, capacity, 0u);
        if err_lane < 32u && ((error_mask >> err_lane) & 1u) != 0u {
            err = unpack_error(lane_error[err_lane]);
        }
        if !settle_round(read_mask(slot, MASK_REFILL) & valid, err_lane, err) {
            return false;
        }

        let mine = ((valid >> lane) & 1u) != 0u;
        if working && !mine {
            // Literal/length work after the end-of-block lane is not part of the stream.
            lo = save_lo;
            hi = save_hi;
            nbits = save_nbits;
        } else if mine {
            if kind == ENTRY_LITERAL {
                write_byte(my_pos, value);
            }
            if is_dist {
                pending_len = 0u;
            }
            if kind == ENTRY_LENGTH {
                pending_pos = my_pos;
                pending_len = value;
            }
        }
        // Matches whose distance arrived this round (reserved last round, so every byte before
        // the first of them is final: literals and older matches). A match reads only
        // [p - d, p - d + min(n, d)); it is independent when that range ends before the first
        // match of the round or starts after the previous one (lane order = position order),
        // i.e. it reads no byte another match of this round writes. Independent matches are
        // copied together; the rest follow in lane order, each followed by a storage barrier.
        storageBarrier();
        var independent = false;
        if ((keep >> lane) & 1u) != 0u {
            let first = firstTrailingBit(keep);
            let p = match_pos[slot * 32u + lane];
            let n = match_len[slot * 32u + lane];
            let d = match_dist[slot * 32u + lane];
            let source_end = p - d + min(n, d);
            let earlier = keep & below(lane);
            if source_end <= match_pos[slot * 32u + first] {
                independent = true;
            } else if earlier != 0u {
                let prev = firstLeadingBit(earlier);
                independent = p - d >= match_pos[slot * 32u + prev] + match_len[slot * 32u + prev];
            }
        }
        let together = lanes_where(independent);
        if together != 0u {
            copy_together(slot, together);
        }
        var todo = keep & ~together;
        while todo != 0u {
            let l = firstTrailingBit(todo);
            todo &= todo - 1u;
            // A dependent match reads bytes earlier matches wrote: they must be complete.
            storageBarrier();
            copy_match(match_pos[slot * 32u + l], match_len[slot * 32u + l], match_dist[slot * 32u + l]);
        }
        pos = acc;
        let lengths = read_mask(slot, MASK_LENGTH) & valid;
        if ended || (stop < 32u && lengths == 0u) {
            return true;
        }
        if stop < 32u {
            // Lanes before the end-of-block lane that reserved a match get one more round.
            ended = true;
        }
    }
    return true;
}

/// Decodes the workgroup's tile; the result is in st_*.
fn decode_tile() {
    // Reader init (spec 3.2): lane L starts with page word L.
    lo = src[src_base + lane];
    hi = 0u;
    nbits = 32u;
    next = LANES;
    pending_len = 0u;
    pending_pos = 0u;
    pos = 0u;
    clear_destination();
    loop {
        if !spend_round() {
            return;
        }
        let slot = begin_round();
        if lane == 0u {
            let bfinal = take(1u);
            let btype = take(2u);
            broadcast[slot] = bfinal | (btype << 1u);
        }
        publish(slot, lane == 0u && nbits < 32u, false, false, false, false);
        end_round();
        let header = broadcast[slot];
        if !simple_refills(slot) {
            return;
        }
        let btype = header >> 1u;
        if btype == 0u {
            if !stored_block() {
                return;
            }
        } else if btype == 3u {
            fail(STATUS_RESERVED_BLOCK_TYPE, 4u * next, 0u, 0u);
            return;
        } else {
            if btype == 1u {
                fixed_tables();
            } else if !dynamic_header() {
                return;
            }
            if !huffman_data() {
                return;
            }
        }
        if (header & 1u) != 0u {
            break;
        }
    }
    if pos != capacity {
        fail(STATUS_OUTPUT_UNDERRUN, 4u * next, pos, capacity);
        return;
    }
    st_code = STATUS_OK;
    st_offset = 4u * next;
}

@compute @workgroup_size(32)
fn gdeflate_decode(
    @builtin(local_invocation_index) local: u32,
    @builtin(workgroup_id) group: vec3<u32>,
    @builtin(num_workgroups) groups: vec3<u32>,
//#if subgroup
    @builtin(subgroup_invocation_id) subgroup_lane: u32,
    @builtin(subgroup_size) subgroup_size: u32,
//#endif
) {
//#if subgroup
    lane = subgroup_lane;
    // The subgroup must really be the 32 invocations: llvmpipe with LP_NATIVE_VECTOR_WIDTH=1024
    // reports a subgroup size of 32 but runs subgroups of 16 (Mesa 22.3 and 25.0), which the
    // count catches (docs/perf-notes.md, "lavapipe's wide mode"); so does lane numbering that
    // differs from the workgroup's. The same answer in every lane.
    let lanes_fit = subgroup_size == LANES && subgroupAdd(select(0u, 1u, subgroup_lane == local)) == LANES;
//#else
    lane = local;
    let lanes_fit = true;
    if lane < 3u {
        atomicStore(&ballots[lane], 0u);
    }
    ballot_count = 0u;
//#endif
    if lane < 15u {
        atomicStore(&masks[lane], 0u);
    }
    round = 0u;
    workgroupBarrier();
    if group.y != 0u || group.z != 0u {
        return;
    }
    if !lanes_fit {
        for (var tile = group.x * LANES + local; tile < params.tile_count && tile < arrayLength(&status); tile += LANES * groups.x) {
            status[tile] = TileStatus(STATUS_BAD_SUBGROUP, 0u, 0u, 0u);
        }
        return;
    }
    let src_words = arrayLength(&src);
    let dst_bytes = arrayLength(&dst) * 4u; // buffers are < 4 GiB (checked by the host)
    for (var tile = group.x; tile < params.tile_count && tile < arrayLength(&tiles); tile += groups.x) {
        let desc = tiles[tile];
        st_code = STATUS_OK;
        st_offset = 0u;
        st_detail0 = 0u;
        st_detail1 = 0u;
        let src_ok = (desc.src_offset & 3u) == 0u && desc.src_offset / 4u <= src_words
            && desc.src_size / 4u <= src_words - desc.src_offset / 4u;
        let dst_ok = desc.dst_size <= MAX_TILE_BYTES && desc.dst_offset <= dst_bytes
            && desc.dst_size <= dst_bytes - desc.dst_offset;
        if !src_ok || !dst_ok {
            fail(STATUS_BAD_DESCRIPTOR, 0u, 0u, 0u);
        } else if (desc.src_size & 3u) != 0u || desc.src_size < MIN_PAGE_BYTES {
            fail(STATUS_BAD_PAGE_SIZE, 0u, desc.src_size, 0u);
        } else {
            src_base = desc.src_offset / 4u;
            page_words = desc.src_size / 4u;
            dst_base = desc.dst_offset;
            capacity = desc.dst_size;
            round_budget = 32u * page_words + 64u;
            decode_tile();
        }
        if lane == 0u && tile < arrayLength(&status) {
            status[tile] = TileStatus(st_code, st_offset, st_detail0, st_detail1);
        }
        // The next tile reuses every workgroup array.
        workgroupBarrier();
        if tile > 0xffffffffu - groups.x {
            break;
        }
    }
}
