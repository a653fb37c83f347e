#!/usr/bin/env bash
# One device call for three copy changes on top of v12 (docs/perf-notes.md, byte-store
# kernels): v12a = the modulo of `copy_byte` only where k >= d (WGSL `select` computed it for
# every byte); v12b = v12a + eight bytes per lane per pass of `copy_together` instead of four;
# v12c = the independent matches of a round copied one after the other by `copy_match` (all
# lanes per match, no barrier between them) instead of `copy_together`'s concatenation.
# v12a is main's kernel since; v12b and v12c are docs/perf/v12b-eight-bytes-per-pass.patch and
# docs/perf/v12c-matches-one-by-one.patch on it (v12c was measured on v12, whose copy_byte it
# no longer calls). Binaries built on dev (.devpack/bins.tar.xz): dsr_v12 (the byte-store kernels' first commit),
# dsr_v12a/b/c, test_gpu_decode_v12a/b/c, kernel_stats_v12b/c; .devrun/corpus, .gl as usual.
# Usage (repository root, device machine): bash scripts/device-kernel-v12abc.sh.
set -uo pipefail
source scripts/device-env-packed.sh
nvidia-smi -L
for v in v12b v12c; do
    echo "== kernel_stats_$v"
    ./kernel_stats_"$v" 2>&1 | grep -E "gdeflate" | grep -E "Register|Shared" | head -8
done
for v in v12a v12b v12c; do
    for k in gdeflate_decode_subgroup_bytes gdeflate_decode_subgroup; do
        echo "== test_gpu_decode_$v with DSR_DECODE_KERNEL=$k"
        DSR_DECODE_KERNEL=$k ./test_gpu_decode_$v --test-threads 4 > /tmp/t.txt 2>&1
        grep -E "^test result|panicked|FAILED" /tmp/t.txt | head -8
    done
done
python3 "$REPO/scripts/sitepackages-gib.py" /tmp/sp.bin
./dsr_v12 compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf && ls -l /tmp/sp.gdf
for v in v12 v12a v12b v12c v12 v12a v12b v12c; do
    echo "== dsr_$v bench decode (site-packages GiB)"
    ./dsr_"$v" bench decode --backend vulkan --runs 9 /tmp/sp.gdf 2>&1 | grep -E "_bytes|rror" | cut -c1-200
done
