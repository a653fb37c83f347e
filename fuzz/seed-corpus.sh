#!/usr/bin/env bash
# Seeds fuzz/corpus/<target>/ from the shared GDeflate corpus (read-only, never modified).
#
#   bash fuzz/seed-corpus.sh [CORPUS_DIR]      # default: ../shared/corpus beside the repo
#
# * decode:       every tile stream (*.gdf) up to 256 KiB whole, plus every page in the
#                 `[size-1: u16 LE][page]` layout that decode and differential share;
# * differential: every page of every *.gdf as `[size-1: u16 LE][page]`;
# * roundtrip:    `[mode][first ≤4095 bytes]` of every raw file, at levels 0, 1, 6, 12, and 9
#                 with bit 7 set (two-tile input; see fuzz_targets/roundtrip.rs).
# * pack_open:    small packs (.dsp) of the first ≤3000 bytes of a few raw files (nested names,
#                 an empty entry; raw and GDeflate entries; alignments 8 and 4096), written by
#                 the `dsr` binary ($DSR_BIN, else target/release/dsr, as the test stage leaves
#                 it); without one, a note and no pack seeds.
#
# Seeds are named by content (sha1) so re-running is idempotent. fuzz/corpus is gitignored:
# nothing here is committed. Needs only bash and coreutils (od, dd, sha1sum).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
src=${1:-${DSR_CORPUS:-$here/../../shared/corpus}}
[[ -d $src/gdeflate ]] || { echo "seed-corpus: no $src/gdeflate" >&2; exit 1; }
out=$here/corpus
mkdir -p "$out/decode" "$out/differential" "$out/roundtrip" "$out/pack_open"

tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT

# put DIR: move $tmp to DIR/<sha1>.
put() {
    local h
    h=$(sha1sum "$tmp" | cut -c1-40)
    cp "$tmp" "$1/$h"
}

u16le() { printf "\\x$(printf %02x $(($1 & 255)))\\x$(printf %02x $(($1 >> 8)))"; }

pages=0 streams=0 raws=0
for gdf in "$src"/gdeflate/*.gdf; do
    size=$(stat -c %s "$gdf")
    if ((size <= 262144)); then
        cp "$gdf" "$tmp" && put "$out/decode" && streams=$((streams + 1))
    fi
    ((size >= 8)) || continue
    read -r n bits < <(od -An -v -tu2 -j2 -N2 "$gdf" | tr -d '\n'; echo -n ' '; od -An -v -tu4 -j4 -N4 "$gdf")
    ((n > 0)) || continue
    last=$(((bits >> 2) & 0x3FFFF))
    ((last != 0)) || last=65536
    mapfile -t table < <(od -An -v -tu4 -w4 -j8 -N$((4 * n)) "$gdf" | tr -d ' ')
    data=$((8 + 4 * n))
    for ((i = 0; i < n; i++)); do
        off=$((i == 0 ? 0 : table[i]))
        if ((i + 1 == n)); then len=${table[0]} usize=$last; else len=$((table[i + 1] - off)) usize=65536; fi
        { u16le $((usize - 1)); dd if="$gdf" bs=65536 iflag=skip_bytes,count_bytes skip=$((data + off)) count="$len" status=none; } >"$tmp"
        put "$out/differential"
        put "$out/decode"
        pages=$((pages + 1))
    done
done

for raw in "$src"/raw/*; do
    [[ -f $raw ]] || continue
    for level in 0 1 6 12 $((0x80 | 9)); do
        { printf "\\x$(printf %02x $level)"; dd if="$raw" bs=4095 count=1 status=none; } >"$tmp"
        put "$out/roundtrip"
    done
    raws=$((raws + 1))
done

packs=0
dsr=${DSR_BIN:-$here/../target/release/dsr}
if [[ -x $dsr ]]; then
    tree=$(mktemp -d)
    trap 'rm -f "$tmp"; rm -rf "$tree"' EXIT
    mkdir -p "$tree/in/textures/ui" "$tree/in/audio"
    i=0
    for raw in "$src"/raw/*; do
        [[ -f $raw ]] || continue
        case $((i % 3)) in
            0) dir=$tree/in ;;
            1) dir=$tree/in/textures/ui ;;
            *) dir=$tree/in/audio ;;
        esac
        head -c 3000 "$raw" >"$dir/$(basename "$raw")"
        i=$((i + 1))
        ((i < 6)) || break
    done
    : >"$tree/in/empty.bin"
    for args in "--level 1 --alignment 8" "--level 0 --alignment 8" "--level 9 --alignment 4096"; do
        # shellcheck disable=SC2086 # word splitting of the option list is intended
        "$dsr" pack "$tree/in" -o "$tmp" $args >/dev/null
        put "$out/pack_open"
        packs=$((packs + 1))
    done
else
    echo "seed-corpus: no dsr binary at $dsr (build it or set DSR_BIN): no pack_open seeds" >&2
fi

echo "seed-corpus: $streams streams, $pages pages, $raws raw files, $packs packs from $src -> $out"
