#!/usr/bin/env bash
# One device call for the streaming pipeline's timeline (docs/streaming.md, "Tenth session"):
# `dsr bench e2e --dest gpu` on the speed issue's data with DSR_TRACE_PIPELINE set, under the
# default geometry and a few knobs, each trace summarised by scripts/trace-summary.py and
# returned in $OUT. Binary built on dev (.devpack/bins.tar.xz): dsr_v13t.
# Usage (repository root, device machine): bash scripts/device-e2e-trace.sh
set -uo pipefail
source scripts/device-env-packed.sh
nvidia-smi -L
python3 "$REPO/scripts/sitepackages-gib.py" /tmp/sp.bin
./dsr_v13t compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf && ls -l /tmp/sp.gdf
run() {
    local name=$1
    shift
    echo "== $name: $*"
    env "$@" DSR_TRACE_PIPELINE="$OUT/trace_$name.csv" ./dsr_v13t bench e2e --dest gpu --runs 5 /tmp/sp.gdf 2>&1 \
        | grep -E "queue|baseline|rror" | cut -c1-260
    python3 "$REPO/scripts/trace-summary.py" "$OUT/trace_$name.csv" | tail -8
}
run default X=1
run batches1 DSR_GPU_BATCHES=1
run batches4 DSR_GPU_BATCHES=4
run chunk32m DSR_CHUNK_BYTES=33554432 DSR_STAGING_BYTES=1073741824
run chunk2m DSR_CHUNK_BYTES=2097152
