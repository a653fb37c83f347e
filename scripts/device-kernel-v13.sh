#!/usr/bin/env bash
# One device call for v13 (docs/perf-notes.md): the decode kernel's workgroup memory cut from
# 9.3 KB to ~6.6 KB (code lengths one byte each, sorted symbols 16 bits each, the precode's
# lookup table and symbol list sharing the literal/length ones' words, first codeword and count
# in one word, errors in a vec2), so that registers, not workgroup memory, bound the resident
# workgroups per SM; and v13c = v13 + docs/perf/v12c-matches-one-by-one.patch. Binaries built
# on dev (.devpack/bins.tar.xz): dsr_, test_gpu_decode_ and kernel_stats_ for main (the kernel
# before v13), v13 and v13c; .devrun/corpus and .gl as usual.
# Usage (repository root, device machine): bash scripts/device-kernel-v13.sh
set -uo pipefail
source scripts/device-env-packed.sh
nvidia-smi -L
for v in main v13 v13c; do
    echo "== kernel_stats_$v"
    ./kernel_stats_"$v" 2>&1 | grep -E "gdeflate" | grep -E "Register|Shared" | head -8
done
for v in v13 v13c; do
    echo "== test_gpu_decode_$v (every kernel the device runs)"
    ./test_gpu_decode_$v --test-threads 4 > /tmp/t.txt 2>&1
    grep -E "^test result|panicked|FAILED|kernel" /tmp/t.txt | head -12
done
python3 "$REPO/scripts/sitepackages-gib.py" /tmp/sp.bin
./dsr_main compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf && ls -l /tmp/sp.gdf
for v in main v13 v13c main v13 v13c; do
    echo "== dsr_$v bench decode (site-packages GiB)"
    ./dsr_"$v" bench decode --backend vulkan --runs 9 /tmp/sp.gdf 2>&1 | grep -E "gdeflate|rror" | cut -c1-260
done
for v in main v13; do
    echo "== dsr_$v bench e2e --dest gpu (site-packages GiB)"
    ./dsr_"$v" bench e2e --dest gpu --runs 5 /tmp/sp.gdf 2>&1 | grep -E "GB/s|queue|baseline|rror" | cut -c1-260
done
for b in 4 8; do
    echo "== dsr_v13 bench e2e --dest gpu, DSR_GPU_BATCHES=$b"
    DSR_GPU_BATCHES=$b ./dsr_v13 bench e2e --dest gpu --runs 5 /tmp/sp.gdf 2>&1 | grep -E "queue|rror" | cut -c1-260
done
