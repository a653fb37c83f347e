#!/usr/bin/env bash
# One device call for the decode kernel's v9 attempt (docs/perf-notes.md): the driver's
# statistics for the kernels (examples/kernel_stats: registers, shared memory), the
# differential suite for each build (C = Workgroup-scoped output atomics, loads and stores;
# CL = loads only), `dsr bench decode` on the speed issue's site-packages GiB and the corpus
# bench with the builds alternated (base = the kernel before v9, same run), then end to end
# with the C build.
# Binaries built on dev: .devpack/bins.tar.xz holds dsr_*, kernel_stats_*, test_gpu_decode_*,
# gpu_decode_* (the bench); .devrun/corpus is a copy of shared/corpus; .gl the Vulkan loader.
# Usage (repository root, device machine): bash scripts/device-kernel-v9.sh; one log on stdout.
set -uo pipefail
source scripts/device-env-packed.sh
nvidia-smi -L
for v in base C; do
    echo "== kernel_stats_$v"
    ./kernel_stats_"$v" 2>&1 | head -80
done
for v in C CL; do
    echo "== test_gpu_decode_$v"
    ./test_gpu_decode_"$v" --test-threads 4 > /tmp/t_$v.txt 2>&1
    grep -E "^test result|panicked|FAILED" /tmp/t_$v.txt | head -8
done
python3 "$REPO/scripts/sitepackages-gib.py" /tmp/sp.bin
./dsr_base compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf && ls -l /tmp/sp.bin /tmp/sp.gdf
for v in base C CL base C CL; do
    echo "== dsr_$v bench decode (site-packages GiB)"
    ./dsr_"$v" bench decode --backend vulkan --runs 9 /tmp/sp.gdf 2>&1 | grep -E "gdeflate|rror" | cut -c1-200
done
for v in base C base C; do
    echo "== gpu_decode_$v (corpus set)"
    DSR_BENCH_RUNS=11 ./gpu_decode_"$v" 2>&1 | grep -E "^\|" | grep -v -i cpu
done
for v in base C; do
    echo "== dsr_$v bench e2e --dest gpu --runs 5 (site-packages GiB)"
    ./dsr_"$v" bench e2e --dest gpu --runs 5 /tmp/sp.gdf 2>&1 | tail -3 | cut -c1-220
done
