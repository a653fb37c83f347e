#!/usr/bin/env bash
# One device call: the driver's statistics for the decode kernels (examples/kernel_stats, for
# the kept kernel and the rejected v8 build), then end to end on the speed issue's GiB with the
# kept kernel, then the I/O engine cold and warm again. Binaries built on dev in
# .devpack/bins.tar.xz (dsr_base, dsr_AB, kernel_stats_base, kernel_stats_AB, io_read_AB);
# .gl the Vulkan loader. Usage (repository root, device machine): bash
# scripts/device-kernel-stats.sh; one log on stdout.
set -uo pipefail
source scripts/device-env-packed.sh
nvidia-smi -L
for v in base AB; do
    echo "== kernel_stats_$v"
    ./kernel_stats_"$v" 2>&1
done
python3 "$REPO/scripts/sitepackages-gib.py" /tmp/sp.bin
./dsr_base compress --level 9 /tmp/sp.bin -o /tmp/sp.gdf
for i in 1 2; do
    echo "== dsr_base bench e2e --dest gpu --runs 5 (site-packages GiB), try $i"
    ./dsr_base bench e2e --dest gpu --runs 5 /tmp/sp.gdf 2>&1 | tail -3 | cut -c1-220
done
echo "== dsr_base bench decode"
./dsr_base bench decode --backend vulkan --runs 9 /tmp/sp.gdf 2>&1 | grep -E "gdeflate_decode" | cut -c1-200
echo "== io_read_AB (4 GiB in /tmp, 5 runs)"
DSR_BENCH_RUNS=5 DSR_BENCH_DIR=/tmp DSR_BENCH_IO_BYTES=$((4 << 30)) ./io_read_AB 2>&1 | grep -E "^\||engine:|^#"
