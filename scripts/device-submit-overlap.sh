#!/usr/bin/env bash
# One device call: do separate submissions overlap on the GPU? The speed issue's data decoded
# as one dispatch and as 2, 8 and 44 back-to-back submissions (`dsr bench decode
# --submissions`) on one queue and on 4 (DSR_VK_QUEUES), then end to end with 1, 2 and 4
# pipeline batches in flight; on one queue also without the trailing host-visibility barrier
# of every command buffer (DSR_ABLATE_HOST_BARRIER: an ablation build only, dsrB, not valid
# by the memory model). Binary built on dev (.devpack/bins.tar.xz).
# Usage (repository root, device machine): bash scripts/device-submit-overlap.sh
set -uo pipefail
source scripts/device-env-packed.sh
python3 "$REPO/scripts/sitepackages-gib.py" /tmp/sp.bin
./dsrB_dsr compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf
for cfg in "DSR_VK_QUEUES=1" "DSR_VK_QUEUES=1 DSR_ABLATE_HOST_BARRIER=1" "DSR_VK_QUEUES=4"; do
    echo "== decode, $cfg"
    env $cfg ./dsrB_dsr bench decode --backend vulkan --runs 9 --submissions 2,8,44 /tmp/sp.gdf 2>&1 | grep -E "vulkan|rror" | sed 's/  */ /g' | cut -c1-200
done
for cfg in "DSR_VK_QUEUES=1 DSR_GPU_BATCHES=1" "DSR_VK_QUEUES=1 DSR_GPU_BATCHES=2" "DSR_VK_QUEUES=1 DSR_GPU_BATCHES=4 DSR_ABLATE_HOST_BARRIER=1" \
           "DSR_VK_QUEUES=2 DSR_GPU_BATCHES=2" "DSR_VK_QUEUES=4 DSR_GPU_BATCHES=4" "DSR_VK_QUEUES=4 DSR_GPU_BATCHES=8" "DSR_VK_QUEUES=8 DSR_GPU_BATCHES=16"; do
    tag=$(echo "$cfg" | tr -cd '0-9A-Z_ ' | tr ' ' '_')
    echo "== e2e, $cfg"
    env $cfg DSR_TRACE_PIPELINE=$OUT/e2e_$tag.csv ./dsrB_dsr bench e2e --dest gpu --runs 5 /tmp/sp.gdf 2>&1 | grep -E "queue|baseline|rror" | sed 's/  */ /g' | cut -c1-220
done
for f in "$OUT"/*.csv; do echo "== $f"; python3 "$REPO/scripts/trace-summary.py" "$f" | grep -A1 '^run: [1-9][0-9]' | tail -2; done
