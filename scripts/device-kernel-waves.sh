#!/usr/bin/env bash
# One device call for the decode kernel's v8 attempt (docs/perf-notes.md): the differential
# suite for each build (AB = match-copy waves + refill window, A = waves only, B = window only),
# `dsr bench decode` on the speed issue's site-packages GiB with the builds alternated
# (base = the kernel before v8, same run), the corpus bench (base vs AB), then the streaming
# figures of the I/O issue and the other GPU suites with the AB build.
# Binaries built on dev: .devpack/bins.tar.xz holds dsr_*, test_*_*, gpu_decode_* (the bench),
# io_read_AB, end_to_end_AB; .devrun/corpus is a copy of shared/corpus; .gl the Vulkan loader.
# Usage (repository root, device machine): bash scripts/device-kernel-waves.sh; logs in $OUT.
set -uo pipefail
OUT=${OUT:-/tmp}
source scripts/device-env-packed.sh
nvidia-smi -L
./dsr_AB info 2>&1 | grep -E "auto picks|subgroup size" | head -3
for v in AB A B; do
    echo "== test_gpu_decode_$v"
    ./test_gpu_decode_"$v" --test-threads 4 > "$OUT/test_gpu_decode_$v.txt" 2>&1
    grep -E "^test result|panicked|FAILED" "$OUT/test_gpu_decode_$v.txt" | head -5
done
python3 "$REPO/scripts/sitepackages-gib.py" /tmp/sp.bin
./dsr_base compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf && ls -l /tmp/sp.bin /tmp/sp.gdf
for v in base AB A B base AB A B; do
    echo "== dsr_$v bench decode (site-packages GiB)"
    ./dsr_"$v" bench decode --backend vulkan --runs 9 /tmp/sp.gdf 2>&1 | grep -E "gdeflate|error|Error" | tee -a "$OUT/decode_$v.txt"
done
for v in base AB base AB; do
    echo "== gpu_decode_$v (corpus set, 256 MiB)"
    DSR_BENCH_RUNS=11 ./gpu_decode_"$v" 2>&1 | grep -E "^\|" | grep -v -i cpu | tee -a "$OUT/bench_$v.txt"
done
echo "== dsr bench e2e --dest gpu (base, AB, base, AB)"
for v in base AB base AB; do
    ./dsr_"$v" bench e2e --dest gpu --runs 5 /tmp/sp.gdf > "$OUT/e2e_sp_$v.txt" 2>&1
    echo "-- $v"; grep -E "gpu|GB/s" "$OUT/e2e_sp_$v.txt" | tail -4
done
for t in test_pipeline_vulkan_AB test_vulkan_AB test_wgpu_decode_AB; do
    echo "== $t"
    ./"$t" --test-threads 4 > "$OUT/$t.txt" 2>&1
    grep -E "^test result|panicked|FAILED" "$OUT/$t.txt" | head -5
done
echo "== io_read_AB (4 GiB in /tmp, 3 runs)"
DSR_BENCH_RUNS=3 DSR_BENCH_DIR=/tmp DSR_BENCH_IO_BYTES=$((4 << 30)) ./io_read_AB > "$OUT/io_read.txt" 2>&1
grep -E "^\||engine:" "$OUT/io_read.txt"
echo "== end_to_end_AB (4 GiB, warm, 3 runs)"
DSR_BENCH_RUNS=3 DSR_BENCH_DIR=/tmp DSR_BENCH_E2E_BYTES=$((4 << 30)) ./end_to_end_AB > "$OUT/e2e.txt" 2>&1
tail -12 "$OUT/e2e.txt"
