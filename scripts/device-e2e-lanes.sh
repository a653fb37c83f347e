#!/usr/bin/env bash
# One device call: lanes (DSR_VK_QUEUES) on NVIDIA. First the Vulkan suites with 4 lanes
# (runtime/tests/{vulkan,pipeline_vulkan}.rs, tests/gpu_decode.rs: t_* binaries), then end to
# end on the speed issue's GiB (one stream, and 64 streams of 16 MiB together) for lanes x
# batches in flight, configurations alternated over two rounds, then the decode split rows on
# one queue (the twelfth session's first call lost them; its four-lane rows stand). Binaries built on dev (.devpack/bins.tar.xz: dsr_main, t_*), corpus
# carried (.devrun/corpus). Usage (repository root, device machine):
# bash scripts/device-e2e-lanes.sh; the log is also written to $OUT/log.txt.
set -uo pipefail
source scripts/device-env-packed.sh
exec > >(tee "$OUT/log.txt") 2>&1
for t in t_vulkan t_pipeline_vulkan t_gpu_decode; do
    echo "== DSR_VK_QUEUES=4 $t"
    DSR_VK_QUEUES=4 ./$t --test-threads 1 2>&1 | grep -E "^test |test result|panicked" | grep -v " ok$"
done
python3 "$REPO/scripts/sitepackages-gib.py" /tmp/sp.bin
./dsr_main compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf
mkdir -p /tmp/parts && split -b 16M -d -a 2 /tmp/sp.bin /tmp/parts/p
# Wait for these pids only: a bare `wait` also waits for the tee above and never returns
# (that cost the twelfth session's second call its 600 s).
pids=()
for f in /tmp/parts/p??; do ./dsr_main compress --level 9 "$f" -o "$f.gdf" > /dev/null & pids+=($!); done
wait "${pids[@]}"
for round in 1 2; do
    for cfg in "1 2" "4 4" "2 2" "4 2" "3 3"; do
        set -- $cfg
        echo "== one stream, DSR_VK_QUEUES=$1 DSR_GPU_BATCHES=$2 (round $round)"
        DSR_VK_QUEUES=$1 DSR_GPU_BATCHES=$2 DSR_TRACE_PIPELINE=$OUT/one_q$1_b$2.csv ./dsr_main bench e2e --dest gpu --runs 5 /tmp/sp.gdf 2>&1 | grep -E "queue|baseline|rror" | sed 's/  */ /g' | cut -c1-200
    done
    for cfg in "1 2" "4 4"; do
        set -- $cfg
        echo "== 64 streams together, DSR_VK_QUEUES=$1 DSR_GPU_BATCHES=$2 (round $round)"
        DSR_VK_QUEUES=$1 DSR_GPU_BATCHES=$2 ./dsr_main bench e2e --dest gpu --together --runs 5 /tmp/parts/p??.gdf 2>&1 | grep -E "queue|baseline|rror" | sed 's/  */ /g' | cut -c1-200
    done
done
echo "== decode split rows, DSR_VK_QUEUES=1"
DSR_VK_QUEUES=1 ./dsr_main bench decode --backend vulkan --runs 9 --submissions 2,8,44 /tmp/sp.gdf 2>&1 | grep -E "subgroup_bytes|rror" | sed 's/  */ /g' | cut -c1-200
for f in "$OUT"/*.csv; do echo "== $f"; python3 "$REPO/scripts/trace-summary.py" "$f" | grep -A1 '^run: [1-9][0-9]' | tail -2; done
