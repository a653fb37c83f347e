//! Huffman code construction for the encoder: optimal length-limited code lengths (plain
//! Huffman, or package-merge when the plain code is deeper than the limit), canonical
//! codewords (spec 2.6), and the run-length coding of a dynamic block's code lengths with
//! precode symbols 16/17/18 (spec 2.4).
//!
//! Invariants of what [`limited_lengths`] returns, which the decoder's code-validity rules
//! (spec 2.6) require:
//! * no symbol used: all lengths 0 (the empty code; only ever used for distances);
//! * one symbol used: it and one other symbol get length 1 (a complete code);
//! * otherwise: a complete (Kraft sum exactly 1) code in which every used symbol has a
//!   length in `1..=max_len` and every unused symbol length 0.

/// Scratch space for [`limited_lengths`], kept by the encoder so that building codes
/// allocates nothing after the first block.
#[derive(Default)]
pub(crate) struct HuffScratch {
    /// Used symbols, sorted by increasing frequency.
    syms: Vec<u16>,
    /// The current package-merge list's weights.
    cur: Vec<u64>,
    /// The list being built.
    next: Vec<u64>,
    /// For every level, whether each item of its merged list is a leaf (1) or a package (0).
    is_leaf: Vec<u8>,
    /// Start of each level's flags in `is_leaf`.
    level_start: Vec<usize>,
    /// Plain Huffman tree: parent of each node (leaves `0..n` in `syms` order, then the
    /// internal nodes in creation order).
    parent: Vec<u16>,
    /// Plain Huffman tree: weight of each internal node (index − n).
    inner_w: Vec<u64>,
    /// Plain Huffman tree: depth of each node.
    depth: Vec<u16>,
}

/// Computes code lengths minimising `Σ freqs[s]·lens[s]` subject to `lens[s] ≤ max_len`,
/// for the symbols with nonzero frequency, with the completeness rules of the module docs.
/// `lens` must be as long as `freqs`; `2^max_len` must be at least the number of symbols.
pub(crate) fn limited_lengths(freqs: &[u32], max_len: u32, lens: &mut [u8], s: &mut HuffScratch) {
    lens.fill(0);
    s.syms.clear();
    s.syms.extend((0..freqs.len()).filter(|&i| freqs[i] > 0).map(|i| i as u16));
    let n = s.syms.len();
    if n == 0 {
        return;
    }
    if n == 1 {
        // A lone symbol would make an incomplete code; pair it with a neighbour.
        let a = usize::from(s.syms[0]);
        lens[a] = 1;
        lens[if a == 0 { 1 } else { 0 }] = 1;
        return;
    }
    // Ties broken by symbol so the result is deterministic.
    s.syms.sort_unstable_by_key(|&i| (freqs[usize::from(i)], i));

    // A plain Huffman code is optimal without a limit, hence also with one when it fits;
    // it usually does, and costs far less than package-merge.
    if !plain_lengths(freqs, max_len, lens, s) {
        package_merge(freqs, max_len, lens, s);
    }
}

/// Optimal lengths limited to `max_len` for the sorted used symbols `s.syms` (n ≥ 2);
/// `lens` must be all zero.
fn package_merge(freqs: &[u32], max_len: u32, lens: &mut [u8], s: &mut HuffScratch) {
    let n = s.syms.len();
    // Package-merge (Larmore–Hirschberg). Level 0 is the list for the deepest length
    // (leaves only); each further level merges the leaves with the pairs ("packages") of
    // the previous level's list. Selecting the 2n−2 cheapest items of the last level and
    // following the packages back down, a leaf's code length is the number of levels in
    // which it is selected; in each level the selected leaves are a prefix of the sorted
    // leaves, so counting them is enough.
    let leaf_w = |k: usize| u64::from(freqs[usize::from(s.syms[k])]);
    s.is_leaf.clear();
    s.level_start.clear();
    s.cur.clear();
    for k in 0..n {
        s.cur.push(u64::from(freqs[usize::from(s.syms[k])]));
    }
    s.level_start.push(0);
    s.is_leaf.resize(n, 1);
    for _ in 1..max_len {
        s.next.clear();
        s.level_start.push(s.is_leaf.len());
        let packages = s.cur.len() / 2;
        let (mut li, mut pi) = (0usize, 0usize);
        while li < n || pi < packages {
            let take_leaf = if pi == packages {
                true
            } else if li == n {
                false
            } else {
                leaf_w(li) <= s.cur[2 * pi] + s.cur[2 * pi + 1]
            };
            if take_leaf {
                s.next.push(leaf_w(li));
                s.is_leaf.push(1);
                li += 1;
            } else {
                s.next.push(s.cur[2 * pi] + s.cur[2 * pi + 1]);
                s.is_leaf.push(0);
                pi += 1;
            }
        }
        std::mem::swap(&mut s.cur, &mut s.next);
    }
    let mut take = 2 * n - 2;
    for level in (0..max_len as usize).rev() {
        let start = s.level_start[level];
        let flags = &s.is_leaf[start..start + take];
        let leaves = flags.iter().filter(|&&f| f == 1).count();
        for &sym in &s.syms[..leaves] {
            lens[usize::from(sym)] += 1;
        }
        take = 2 * (take - leaves);
    }
    debug_assert_eq!(take, 0);
}

/// Plain Huffman code lengths for the sorted used symbols `s.syms` (n ≥ 2), by the
/// two-queue method: leaves come sorted, and merged nodes are created in non-decreasing
/// weight order, so the two lightest nodes are always at the heads of the two queues (ties
/// take the leaf, so the result is deterministic). Writes `lens` and returns true if no
/// length exceeds `max_len`; otherwise returns false and leaves `lens` all zero.
fn plain_lengths(freqs: &[u32], max_len: u32, lens: &mut [u8], s: &mut HuffScratch) -> bool {
    let n = s.syms.len();
    let leaf_w = |k: usize| u64::from(freqs[usize::from(s.syms[k])]);
    s.parent.clear();
    s.parent.resize(2 * n - 1, 0);
    s.inner_w.clear();
    let (mut li, mut ii) = (0usize, 0usize);
    for node in n..2 * n - 1 {
        let mut w = 0;
        for _ in 0..2 {
            // Take the lighter head: a leaf while leaves remain and it is no heavier than
            // the next unmerged internal node (one always exists when leaves run out).
            let take_leaf = li < n && (ii == s.inner_w.len() || leaf_w(li) <= s.inner_w[ii]);
            if take_leaf {
                w += leaf_w(li);
                s.parent[li] = node as u16;
                li += 1;
            } else {
                w += s.inner_w[ii];
                s.parent[n + ii] = node as u16;
                ii += 1;
            }
        }
        s.inner_w.push(w);
    }
    // Parents have higher indices than their children: one backward sweep gives depths.
    s.depth.clear();
    s.depth.resize(2 * n - 1, 0);
    for node in (0..2 * n - 2).rev() {
        s.depth[node] = s.depth[usize::from(s.parent[node])] + 1;
    }
    if s.depth[..n].iter().any(|&d| u32::from(d) > max_len) {
        return false;
    }
    for (k, &sym) in s.syms.iter().enumerate() {
        lens[usize::from(sym)] = s.depth[k] as u8;
    }
    true
}

/// Canonical codewords for `lens` (spec 2.6), returned **bit-reversed** so that putting
/// them LSB-first on a lane writes them MSB-first as the format requires.
pub(crate) fn canonical_codes(lens: &[u8], codes: &mut [u16]) {
    let mut count = [0u16; 16];
    for &l in lens {
        count[usize::from(l)] += 1;
    }
    count[0] = 0;
    let mut next = [0u16; 16];
    let mut code = 0u16;
    for l in 1..16 {
        code = (code + count[l - 1]) << 1;
        next[l] = code;
    }
    for (s, &l) in lens.iter().enumerate() {
        codes[s] = if l == 0 {
            0
        } else {
            let c = next[usize::from(l)];
            next[usize::from(l)] += 1;
            c.reverse_bits() >> (16 - u32::from(l))
        };
    }
}

/// Extra bits of precode symbol `sym` (2.4): 16 → 2, 17 → 3, 18 → 7, others 0.
#[inline]
pub(crate) fn precode_extra_bits(sym: u8) -> u32 {
    match sym {
        16 => 2,
        17 => 3,
        18 => 7,
        _ => 0,
    }
}

/// Run-length codes the code-length sequence `lens` into precode items `(symbol, extra)`:
/// zero runs with 17/18, repeats of a nonzero length with 16 after one explicit copy. The
/// items produce exactly `lens.len()` lengths (no overshoot).
pub(crate) fn rle_code_lengths(lens: &[u8], items: &mut Vec<(u8, u8)>) {
    items.clear();
    let mut i = 0;
    while i < lens.len() {
        let v = lens[i];
        let mut run = lens[i..].iter().take_while(|&&x| x == v).count();
        i += run;
        if v == 0 {
            while run >= 11 {
                let r = run.min(138);
                items.push((18, (r - 11) as u8));
                run -= r;
            }
            if run >= 3 {
                items.push((17, (run - 3) as u8));
                run = 0;
            }
        } else if run >= 4 {
            items.push((v, 0));
            run -= 1;
            while run >= 3 {
                let r = run.min(6);
                items.push((16, (r - 3) as u8));
                run -= r;
            }
        }
        items.extend(std::iter::repeat_n((v, 0), run));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kraft(lens: &[u8], max: u32) -> u64 {
        lens.iter().filter(|&&l| l > 0).map(|&l| 1u64 << (max - u32::from(l))).sum()
    }

    #[test]
    fn lengths_are_complete_limited_and_optimal_on_small_cases() {
        let mut s = HuffScratch::default();
        // Fibonacci weights force a deep tree; the limit must cut it.
        let mut fib = vec![1u32, 1];
        while fib.len() < 30 {
            let k = fib.len();
            fib.push(fib[k - 1] + fib[k - 2]);
        }
        for max in [7u32, 10, 15] {
            let mut lens = vec![0u8; fib.len()];
            limited_lengths(&fib, max, &mut lens, &mut s);
            assert!(lens.iter().all(|&l| (1..=max as u8).contains(&l)), "{lens:?}");
            assert_eq!(kraft(&lens, 15), 1 << 15, "max {max}: {lens:?}");
        }
        // Unlimited case equals plain Huffman cost: weights 1,1,2,3,5 -> cost 25.
        let f = [1u32, 1, 2, 3, 5];
        let mut lens = [0u8; 5];
        limited_lengths(&f, 15, &mut lens, &mut s);
        let cost: u32 = f.iter().zip(&lens).map(|(&f, &l)| f * u32::from(l)).sum();
        assert_eq!(cost, 25);
    }

    #[test]
    fn plain_huffman_costs_what_package_merge_costs() {
        let mut s = HuffScratch::default();
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for round in 0..200 {
            let n = 2 + round % 287;
            let f: Vec<u32> = (0..n)
                .map(|_| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                    let r = (seed >> 33) as u32;
                    if r.is_multiple_of(4) { 0 } else { r % (1 + (round as u32 * 37) % 5000) }
                })
                .collect();
            let mut a = vec![0u8; n];
            limited_lengths(&f, 15, &mut a, &mut s);
            // The same symbols through package-merge alone.
            let mut b = vec![0u8; n];
            if s.syms.len() >= 2 {
                package_merge(&f, 15, &mut b, &mut s);
            } else {
                b.copy_from_slice(&a);
            }
            let cost = |l: &[u8]| f.iter().zip(l).map(|(&f, &l)| u64::from(f) * u64::from(l)).sum::<u64>();
            assert_eq!(cost(&a), cost(&b), "round {round}");
            if s.syms.len() >= 2 {
                assert_eq!(kraft(&a, 15), 1 << 15, "round {round}");
                assert!(a.iter().zip(&f).all(|(&l, &f)| (l > 0) == (f > 0) && l <= 15));
            }
        }
    }

    #[test]
    fn zero_and_one_symbol_cases() {
        let mut s = HuffScratch::default();
        let mut lens = [9u8; 32];
        limited_lengths(&[0; 32], 15, &mut lens, &mut s);
        assert!(lens.iter().all(|&l| l == 0));
        let mut f = [0u32; 32];
        f[0] = 7;
        limited_lengths(&f, 15, &mut lens, &mut s);
        assert_eq!((lens[0], lens[1]), (1, 1));
        assert_eq!(kraft(&lens, 15), 1 << 15);
        f = [0; 32];
        f[5] = 1;
        limited_lengths(&f, 15, &mut lens, &mut s);
        assert_eq!((lens[0], lens[5]), (1, 1));
    }

    #[test]
    fn canonical_codes_match_rfc1951_example() {
        // RFC 1951 3.2.2: lengths (3,3,3,3,3,2,4,4) -> 010,011,100,101,110,00,1110,1111.
        let lens = [3u8, 3, 3, 3, 3, 2, 4, 4];
        let mut codes = [0u16; 8];
        canonical_codes(&lens, &mut codes);
        let want = [0b010u16, 0b011, 0b100, 0b101, 0b110, 0b00, 0b1110, 0b1111];
        for i in 0..8 {
            let l = u32::from(lens[i]);
            assert_eq!(codes[i], want[i].reverse_bits() >> (16 - l), "symbol {i}");
        }
    }

    #[test]
    fn rle_reproduces_the_sequence_exactly() {
        let mut items = Vec::new();
        let seqs: [&[u8]; 5] = [
            &[0; 300],
            &[8; 20],
            &[1, 2, 2, 2, 2, 0, 0, 0, 5, 5, 5],
            &[7, 7, 7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 4],
            &[],
        ];
        for seq in seqs {
            rle_code_lengths(seq, &mut items);
            let mut out: Vec<u8> = Vec::new();
            for &(sym, extra) in &items {
                match sym {
                    0..=15 => out.push(sym),
                    16 => {
                        let p = *out.last().unwrap();
                        out.extend(std::iter::repeat_n(p, 3 + usize::from(extra)));
                    }
                    17 => out.extend(std::iter::repeat_n(0, 3 + usize::from(extra))),
                    _ => out.extend(std::iter::repeat_n(0, 11 + usize::from(extra))),
                }
                assert!(u32::from(extra) < (1 << precode_extra_bits(sym)).max(1));
            }
            assert_eq!(out, seq);
        }
    }
}
