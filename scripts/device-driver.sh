#!/usr/bin/env bash
# The driver's decode method (VK_NV_memory_decompression) on the lent GPU machine: dsr info,
# the driver and kernel differential tests, the auto-unchecked choice, then the GPU decode bench
# (every decode method the device runs, the driver's included) on issue 7's site-packages data
# (built as scripts/device-sitepackages.sh does) and on the corpus repeated to 1 GiB, and
# `dsr bench decode` on the site-packages stream. Binaries are carried in .devrun/ (ignored
# by git): dsr, test_driver, test_gpu_decode, bench_nv.
# Usage (repository root, device machine): bash scripts/device-driver.sh
set -uo pipefail
for f in .gl/*.deb; do dpkg -x "$f" / >/dev/null; done
ldconfig
cd .devrun || exit 1
export DSR_CORPUS=$PWD/corpus DSR_REQUIRE_GPU=1 XDG_RUNTIME_DIR=/tmp
./dsr info 2>&1 | sed -n 1,14p
echo "== driver tests"; ./test_driver 2>&1 | grep -E "test |test result|panicked|NOTICE"
echo "== auto-unchecked"; DSR_DECODE_KERNEL=auto-unchecked ./test_driver --nocapture auto_unchecked 2>&1 | grep -E "decode method|test result|panicked"
echo "== kernel tests"; ./test_gpu_decode 2>&1 | grep -E "test result|panicked"
if [[ ! -f /tmp/sp.gdf ]]; then
    python3 ../scripts/sitepackages-gib.py /tmp/sp.bin
    ./dsr compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf
fi
ls -l /tmp/sp.bin /tmp/sp.gdf
echo "== bench: site-packages 1 GiB"
DSR_CORPUS=/nonexistent DSR_BENCH_INPUTS=/tmp/sp.gdf DSR_BENCH_MIB=1024 DSR_BENCH_RUNS=${RUNS:-9} ./bench_nv 2>&1 | tail -8
echo "== bench: corpus repeated to 1 GiB"
DSR_BENCH_MIB=1024 DSR_BENCH_RUNS=${RUNS:-9} ./bench_nv 2>&1 | tail -8
echo "== dsr bench decode (site-packages)"
./dsr bench decode --backend vulkan --runs ${RUNS:-9} /tmp/sp.gdf 2>&1 | tail -8
