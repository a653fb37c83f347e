#!/usr/bin/env bash
# End-to-end only (see device-streaming.sh): the pipeline's Vulkan tests, then end_to_end with
# the default staging ring and two other geometries; full logs in $OUT.
set -uo pipefail
source scripts/device-env.sh
for i in 1 2 3; do ./test_pipeline_vulkan --test-threads 4 2>&1 | grep -E "test result|panicked"; done
run() { # tag env...
    local tag=$1; shift
    env "$@" DSR_BENCH_RUNS=${RUNS:-3} DSR_BENCH_DIR=/tmp DSR_BENCH_E2E_BYTES=$((4 << 30)) ./end_to_end > "$OUT/e2e_$tag.txt" 2>&1
    grep -E "pipeline:|large mixed|corpus .gdf" "$OUT/e2e_$tag.txt"
}
run default
run ring1g DSR_STAGING_BYTES=$((1 << 30)) DSR_CHUNK_BYTES=$((8 << 20))
run ring256m16 DSR_STAGING_BYTES=$((256 << 20)) DSR_CHUNK_BYTES=$((16 << 20))
