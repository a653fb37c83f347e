#!/usr/bin/env bash
# One device call: the pipeline's batches in flight (DSR_GPU_BATCHES 1 and 2) end to end on
# the speed issue's data as one stream and as 64 streams of 16 MiB (decoded) read together,
# each traced (scripts/trace-summary.py). Binary built on dev (.devpack/bins.tar.xz): dsr_v13t.
# Usage (repository root, device machine): bash scripts/device-e2e-batches.sh
set -uo pipefail
source scripts/device-env-packed.sh
python3 "$REPO/scripts/sitepackages-gib.py" /tmp/sp.bin
./dsr_v13t compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf
mkdir -p /tmp/parts && split -b 16M -d -a 2 /tmp/sp.bin /tmp/parts/p
for f in /tmp/parts/p??; do ./dsr_v13t compress --level 9 "$f" -o "$f.gdf" > /dev/null & done; wait
for round in 1 2; do  # (rerun after the bench warm-up: dsr_v13t then warms the GPU for 0.3 s)
    for b in 2 1; do
        echo "== DSR_GPU_BATCHES=$b, one stream (round $round)"
        DSR_GPU_BATCHES=$b DSR_TRACE_PIPELINE=$OUT/one_b$b.csv ./dsr_v13t bench e2e --dest gpu --runs 5 /tmp/sp.gdf 2>&1 | grep -E "queue|rror" | cut -c1-260
        echo "== DSR_GPU_BATCHES=$b, 64 streams together (round $round)"
        DSR_GPU_BATCHES=$b DSR_TRACE_PIPELINE=$OUT/many_b$b.csv ./dsr_v13t bench e2e --dest gpu --together --runs 5 /tmp/parts/p??.gdf 2>&1 | grep -E "queue|baseline|rror" | cut -c1-260
    done
done
for f in "$OUT"/*.csv; do echo "== $f"; python3 "$REPO/scripts/trace-summary.py" "$f" | grep -A1 '^run: [1-9][0-9]' | tail -4; done
