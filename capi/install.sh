#!/usr/bin/env bash
# Installs ds-runtime's C library into PREFIX, without make:
#   PREFIX/lib/libds_runtime.so, PREFIX/lib/libds_runtime.a (when built),
#   PREFIX/include/ds_runtime.h, PREFIX/lib/pkgconfig/ds_runtime.pc
#
# Usage: cargo build --release -p ds-runtime-c && capi/install.sh PREFIX
# The library is taken from $DSR_LIB_DIR, else ${CARGO_TARGET_DIR:-<repo>/target}/release.
set -euo pipefail

if [[ $# -ne 1 ]]; then
    echo "usage: $0 PREFIX" >&2
    exit 2
fi
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
prefix=$(mkdir -p "$1" && cd "$1" && pwd)
lib_dir=${DSR_LIB_DIR:-${CARGO_TARGET_DIR:-$repo/target}/release}
if [[ ! -f $lib_dir/libds_runtime.so ]]; then
    echo "$lib_dir/libds_runtime.so not found: run cargo build --release -p ds-runtime-c first" >&2
    exit 1
fi
# The workspace version (first `version = "..."` of [workspace.package]).
version=$(sed -n '/^\[workspace.package\]/,/^\[/{s/^version *= *"\(.*\)"/\1/p}' "$repo/Cargo.toml" | head -n1)

install -d "$prefix/lib/pkgconfig" "$prefix/include"
install -m 0755 "$lib_dir/libds_runtime.so" "$prefix/lib/"
if [[ -f $lib_dir/libds_runtime.a ]]; then
    install -m 0644 "$lib_dir/libds_runtime.a" "$prefix/lib/"
fi
install -m 0644 "$here/include/ds_runtime.h" "$prefix/include/"
sed -e "s|@PREFIX@|$prefix|g" -e "s|@VERSION@|${version:-0.0.0}|g" "$here/ds_runtime.pc.in" \
    >"$prefix/lib/pkgconfig/ds_runtime.pc"
echo "installed ds_runtime $version into $prefix (PKG_CONFIG_PATH=$prefix/lib/pkgconfig)"
