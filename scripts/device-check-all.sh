#!/usr/bin/env bash
# One device call that takes the streaming figures and re-checks everything on the lent GPU
# machine: the I/O engine (warm and cold, with the page cache's parallel-read ceiling),
# `dsr bench decode` / `dsr bench e2e --dest gpu` on the speed issue's data (the first 1 GiB
# of the machine's Python site-packages, scripts/sitepackages-gib.py), the GPU test suites
# (decode, wgpu, Vulkan core, pipeline), then end to end on the large mixed file.
# Binaries built on dev, carried in .devrun/ (ignored by git): dsr, test_* and the benches
# io_read and end_to_end; .devrun/corpus is a copy of shared/corpus; .gl the Vulkan loader.
# Usage (repository root, device machine): bash scripts/device-check-all.sh; logs in $OUT.
# Ordered by what matters most when device time is short: the I/O figures, the speed issue's
# data, the suites, then the large mixed file.
set -uo pipefail
source scripts/device-env.sh
RUNS=${RUNS:-3}
nvidia-smi -L
./dsr info 2>&1 | grep -E "auto picks|subgroup|H100|H200" | head -5
echo "== io_read (4 GiB in /tmp, $RUNS runs)"
DSR_BENCH_RUNS=$RUNS DSR_BENCH_DIR=/tmp DSR_BENCH_IO_BYTES=$((4 << 30)) ./io_read > "$OUT/io_read.txt" 2>&1
grep -E "^\||^#|machine|engine:" "$OUT/io_read.txt"
echo "== site-packages GiB"
python3 ../scripts/sitepackages-gib.py /tmp/sp.bin
./dsr compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf && ls -l /tmp/sp.bin /tmp/sp.gdf
./dsr bench decode --backend vulkan --runs 7 /tmp/sp.gdf 2>&1 | tail -6
./dsr bench e2e --dest gpu --runs 5 /tmp/sp.gdf > "$OUT/e2e_sp.txt" 2>&1
tail -8 "$OUT/e2e_sp.txt"
for t in test_*; do
    echo "== $t"
    ./"$t" --test-threads 4 > "$OUT/$t.txt" 2>&1
    grep -E "^test result|panicked|FAILED" "$OUT/$t.txt" | head -5
done
echo "== end_to_end (4 GiB, warm, $RUNS runs)"
DSR_BENCH_RUNS=$RUNS DSR_BENCH_DIR=/tmp DSR_BENCH_E2E_BYTES=$((4 << 30)) ./end_to_end > "$OUT/e2e.txt" 2>&1
tail -12 "$OUT/e2e.txt"
