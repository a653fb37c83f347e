#!/usr/bin/env bash
# One device call for the decode kernel's v12 attempt (docs/perf-notes.md): the byte-store
# kernels (`gdeflate_decode_bytes`, `gdeflate_decode_subgroup_bytes`, made by kernels/build.rs
# from the atomic kernels' SPIR-V: 8-bit stores and loads of the output, no zeroing pass). One
# build has all four kernels, so `dsr bench decode` times them side by side in one run. The
# driver's statistics, the differential suite on each kernel, `dsr bench decode` on the speed
# issue's site-packages GiB (twice) and on the corpus level-12 streams, then end to end with
# the atomic and the byte-store subgroup kernel.
# Binaries built on dev: .devpack/bins.tar.xz holds dsr_v12, kernel_stats_v12 and
# test_gpu_decode_v12 (the `gpu_decode` test binary); .devrun/corpus is a copy of
# shared/corpus; .gl the Vulkan loader.
# Usage (repository root, device machine): bash scripts/device-kernel-v12.sh; one log on stdout.
set -uo pipefail
source scripts/device-env-packed.sh
nvidia-smi -L
echo "== kernel_stats_v12"
./kernel_stats_v12 2>&1 | head -60
for k in gdeflate_decode_subgroup_bytes gdeflate_decode_bytes gdeflate_decode_subgroup gdeflate_decode; do
    echo "== test_gpu_decode_v12 with DSR_DECODE_KERNEL=$k"
    DSR_DECODE_KERNEL=$k ./test_gpu_decode_v12 --test-threads 4 > /tmp/t_$k.txt 2>&1
    grep -E "^test result|panicked|FAILED" /tmp/t_$k.txt | head -8
done
python3 "$REPO/scripts/sitepackages-gib.py" /tmp/sp.bin
./dsr_v12 compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf && ls -l /tmp/sp.bin /tmp/sp.gdf
for i in 1 2; do
    echo "== dsr_v12 bench decode (site-packages GiB), try $i"
    ./dsr_v12 bench decode --backend vulkan --runs 9 /tmp/sp.gdf 2>&1 | grep -E "gdeflate|rror" | cut -c1-200
done
echo "== dsr_v12 bench decode (corpus lvl12 streams)"
./dsr_v12 bench decode --backend vulkan --runs 9 corpus/gdeflate/*.lvl12.gdf 2>&1 | grep -E "vulkan|rror" | cut -c1-200 | tail -64
for k in gdeflate_decode_subgroup gdeflate_decode_subgroup_bytes; do
    echo "== DSR_DECODE_KERNEL=$k dsr_v12 bench e2e --dest gpu --runs 5 (site-packages GiB)"
    DSR_DECODE_KERNEL=$k ./dsr_v12 bench e2e --dest gpu --runs 5 /tmp/sp.gdf 2>&1 | tail -3 | cut -c1-220
done
