#!/usr/bin/env bash
# One device call for v14 (docs/perf-notes.md): v14a = v13 + every barrier of the subgroup
# kernels at Subgroup execution and memory scope (kernels/build.rs, subgroup_scoped_barriers);
# v14b = v14a without the storage barriers of the copy path (an ablation: not a valid kernel
# by the memory model, it measures what those fences cost); v14c = v14a + the tile's status in
# workgroup memory (lane 0) instead of four registers. Binaries built on dev
# (.devpack/bins.tar.xz): dsr_, test_gpu_decode_ and kernel_stats_ for v13, v14a, v14b, v14c.
# Usage (repository root, device machine): bash scripts/device-kernel-v14.sh
set -uo pipefail
source scripts/device-env-packed.sh
nvidia-smi -L
for v in v14a v14b v14c; do
    echo "== kernel_stats_$v"
    ./kernel_stats_"$v" 2>&1 | grep -E "gdeflate" | grep -E "Register|Shared" | head -8
done
for v in v14a v14b v14c; do
    echo "== test_gpu_decode_$v (every kernel the device runs)"
    ./test_gpu_decode_$v --test-threads 4 > /tmp/t.txt 2>&1
    grep -E "^test result|panicked|FAILED" /tmp/t.txt | head -12
done
python3 "$REPO/scripts/sitepackages-gib.py" /tmp/sp.bin
./dsr_v13 compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf && ls -l /tmp/sp.gdf
for v in v13 v14a v14b v14c v13 v14a v14b v14c; do
    echo "== dsr_$v bench decode (site-packages GiB)"
    ./dsr_"$v" bench decode --backend vulkan --runs 9 /tmp/sp.gdf 2>&1 | grep -E "gdeflate|rror" | cut -c1-200
done
for v in v14a v14c; do
    echo "== dsr_$v bench e2e --dest gpu (site-packages GiB)"
    ./dsr_"$v" bench e2e --dest gpu --runs 5 /tmp/sp.gdf 2>&1 | grep -E "queue|baseline|rror" | cut -c1-260
done
