#!/usr/bin/env bash
# Runs on the lent GPU machine (see docs/device-notes.md): the GPU decode differential suite
# once per decode kernel the device runs, then the GPU decode benchmark of each binary given,
# in one call. Binaries are built here and carried in .devrun/ (ignored by git):
#   .devrun/test_<tag>   cargo test --release --test gpu_decode --no-run
#   .devrun/bench_<tag>  cargo bench --bench gpu_decode --no-run
# Usage (from the repository root on the device machine):
#   bash scripts/device-gpu-decode.sh TAG...      e.g. v0 v1
# Env: DSR_BENCH_MIB, DSR_BENCH_RUNS (passed on), SKIP_TESTS=1.
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" / >/dev/null; done
ldconfig
cd .devrun || exit 1
export DSR_CORPUS=$PWD/corpus DSR_REQUIRE_GPU=1
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv,noheader || true
last=${!#}
if [[ ${SKIP_TESTS:-0} != 1 && -x ./test_$last ]]; then
    for k in gdeflate_decode gdeflate_decode_subgroup; do
        echo "== tests ($last) with DSR_DECODE_KERNEL=$k"
        DSR_DECODE_KERNEL=$k ./test_"$last" --test-threads 4 2>&1 | grep -E "^test |test result|panicked" | head -20
    done
fi
for tag in "$@"; do
    echo "== bench $tag"
    ./bench_"$tag" 2>&1 | tail -"${TAIL:-8}"
done
