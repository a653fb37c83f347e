#!/usr/bin/env bash
# The streaming pipeline on the lent GPU machine: its Vulkan tests, then the I/O engine and
# end-to-end benches (binaries built here, carried in .devrun/; full logs in $OUT).
# Usage (repository root, device machine): bash scripts/device-streaming.sh
set -uo pipefail
source scripts/device-env.sh
df -h /tmp | tail -1
./test_pipeline_vulkan --test-threads 4 2>&1 | grep -E "test result|panicked"
./test_pipeline --test-threads 8 2>&1 | grep -E "test result|panicked"
DSR_BENCH_RUNS=${RUNS:-3} DSR_BENCH_DIR=/tmp DSR_BENCH_IO_BYTES=$((4 << 30)) ./io_read > "$OUT/io_read.txt" 2>&1
tail -14 "$OUT/io_read.txt"
DSR_BENCH_RUNS=${RUNS:-3} DSR_BENCH_DIR=/tmp DSR_BENCH_E2E_BYTES=$((4 << 30)) ./end_to_end > "$OUT/e2e.txt" 2>&1
tail -14 "$OUT/e2e.txt"
DSR_BENCH_RUNS=${RUNS:-3} DSR_CHUNK_BYTES=$((64 << 20)) DSR_STAGING_BYTES=$((1 << 30)) DSR_BENCH_DIR=/tmp \
    DSR_BENCH_E2E_BYTES=$((4 << 30)) ./end_to_end > "$OUT/e2e_64m.txt" 2>&1
tail -14 "$OUT/e2e_64m.txt"
