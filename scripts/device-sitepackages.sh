#!/usr/bin/env bash
# Issue 7's reference data on the lent GPU machine: the first 1 GiB of the files of its Python
# site-packages (regular files, sorted by path, concatenated), compressed into one GDeflate
# tile stream at level 9 by `dsr compress` (ours; the issue used the reference encoder at
# level 9, whose output is within 0.4% of ours in size), then decoded by the GPU decode bench
# (corpus left out). Binaries are carried in .devrun/ (ignored by git): dsr, bench_<tag>.
# Usage (repository root, device machine): bash scripts/device-sitepackages.sh TAG...
set -euo pipefail
for f in .gl/*.deb; do dpkg -x "$f" / >/dev/null; done
ldconfig
cd .devrun
python3 ../scripts/sitepackages-gib.py /tmp/sp.bin
time ./dsr compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf
ls -l /tmp/sp.bin /tmp/sp.gdf
for tag in "$@"; do
    echo "== bench $tag (site-packages, 1 GiB)"
    DSR_CORPUS=/nonexistent DSR_BENCH_INPUTS=/tmp/sp.gdf DSR_BENCH_MIB=1024 DSR_BENCH_RUNS=${DSR_BENCH_RUNS:-7} ./bench_"$tag" 2>&1 | tail -"${TAIL:-6}"
done
