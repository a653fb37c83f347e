#!/usr/bin/env bash
# One device call for the decode kernel's v10 attempt (docs/perf-notes.md): the subgroup
# variant's per-round lane data (advance, match, error, copy starts) in registers read through
# shuffles instead of workgroup memory, and no workgroup barrier in a data round (v10b keeps
# that barrier, to tell the two apart); v11 = v10 + match copies by destination words (one
# atomic OR and one or two loads per word instead of per byte). The driver's statistics, the
# differential suite on both kernel variants, `dsr bench decode` on the speed issue's
# site-packages GiB with the builds alternated (base = the kernel before v10, same run), then
# end to end for base and v11.
# The kernels: base = main's; v10 = main + docs/perf/v10-lane-registers.patch; v11 = v10 +
# docs/perf/v11-word-copies.patch; v10b = v10 with `workgroupBarrier()` back in the subgroup
# variant's `end_data_round`. Binaries built on dev: .devpack/bins.tar.xz holds dsr_*,
# kernel_stats_*, test_gpu_decode_v10 and _v11 (the `gpu_decode` test binary of each build);
# .devrun/corpus is a copy of shared/corpus; .gl the Vulkan loader.
# Usage (repository root, device machine): bash scripts/device-kernel-v10.sh; one log on stdout.
set -uo pipefail
source scripts/device-env-packed.sh
nvidia-smi -L
for v in base v10 v11; do
    echo "== kernel_stats_$v"
    ./kernel_stats_"$v" 2>&1 | grep -E "gdeflate" | grep -iE "regist|shared|spill|stack|local" | head -16
done
for t in v10 v11; do
    for k in gdeflate_decode_subgroup gdeflate_decode; do
        echo "== test_gpu_decode_$t with DSR_DECODE_KERNEL=$k"
        DSR_DECODE_KERNEL=$k ./test_gpu_decode_$t --test-threads 4 > /tmp/t_$k.txt 2>&1
        grep -E "^test result|panicked|FAILED" /tmp/t_$k.txt | head -8
    done
done
python3 "$REPO/scripts/sitepackages-gib.py" /tmp/sp.bin
./dsr_base compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf && ls -l /tmp/sp.bin /tmp/sp.gdf
for v in base v10 v10b v11 base v10 v10b v11; do
    echo "== dsr_$v bench decode (site-packages GiB)"
    ./dsr_"$v" bench decode --backend vulkan --runs 9 /tmp/sp.gdf 2>&1 | grep -E "gdeflate|rror" | cut -c1-200
done
for v in base v11; do
    echo "== dsr_$v bench decode (corpus lvl12 streams)"
    ./dsr_"$v" bench decode --backend vulkan --runs 9 corpus/gdeflate/*.lvl12.gdf 2>&1 | grep -E "vulkan|rror" | cut -c1-200 | tail -20
done
for v in base v11; do
    echo "== dsr_$v bench e2e --dest gpu --runs 5 (site-packages GiB)"
    ./dsr_"$v" bench e2e --dest gpu --runs 5 /tmp/sp.gdf 2>&1 | tail -3 | cut -c1-220
done
