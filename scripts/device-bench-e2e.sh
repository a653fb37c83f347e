#!/usr/bin/env bash
# `dsr bench e2e` on the lent GPU machine: one file per kind (corpus raw files of that kind
# concatenated, repeated to $MIB MiB; compressed at level 9 by dsr itself), into GPU memory
# and into host memory, each with its chart; logs and charts in $OUT.
# Carried (ignored paths): target/gl (the Vulkan loader .debs) and target/devbench (a stripped
# release `dsr` built on dev, and the corpus raw files in raw/).
# Usage (repository root, device machine): bash scripts/device-bench-e2e.sh
# (also runs on dev, e.g. MIB=8 RUNS=1, where the loader is installed and nothing is unpacked).
set -uo pipefail
# The Vulkan loader, only where there is none (the device machine; never on dev).
if ! ldconfig -p | grep -q libvulkan.so.1; then
    for f in target/gl/*.deb; do dpkg -x "$f" / >/dev/null; done
    ldconfig
fi
export XDG_RUNTIME_DIR=/tmp
OUT=${OUT:-/tmp}
MIB=${MIB:-256}
RUNS=${RUNS:-5}
B=$PWD/target/devbench
W=/tmp/dsr-bench-e2e
mkdir -p "$W"
trap 'rm -rf "$W"' EXIT
# build_file NAME FILES...: FILES concatenated, repeated until the result is $MIB MiB.
build_file() {
    local out=$W/$1
    shift
    : >"$out"
    while (($(stat -c %s "$out") < MIB << 20)); do cat "$@" >>"$out"; done
    truncate -s $((MIB << 20)) "$out"
}
build_file textures.dds "$B"/raw/ds_Stonewall_diffuseIBL.dds "$B"/raw/fg_cumulus_bottom1.dds "$B"/raw/fg_sea_foam.dds
build_file sounds.wav "$B"/raw/etr_mud_slide.wav
build_file meshes.ply "$B"/raw/assimp_Wuson.ply "$B"/raw/oa_sorceress_upper.md3
build_file texts.json "$B"/raw/wz_research.json "$B"/raw/oa_mc-oa.shader "$B"/raw/syn_65536.txt
build_file buffers.bin "$B"/raw/assimp_CesiumMilkTruck.bin
nproc
"$B"/dsr info | grep -E "^  \[|usable|auto picks" | head -8
files=("$W"/textures.dds "$W"/sounds.wav "$W"/meshes.ply "$W"/texts.json "$W"/buffers.bin)
"$B"/dsr bench e2e --dest gpu --together --runs "$RUNS" --chart "$OUT/e2e-gpu.svg" "${files[@]}" | tee "$OUT/e2e-gpu.txt"
"$B"/dsr bench e2e --dest host --together --runs "$RUNS" --chart "$OUT/e2e-host.svg" "${files[@]}" | tee "$OUT/e2e-host.txt"
