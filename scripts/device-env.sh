# Sourced by the device scripts, from the repository root on the lent GPU machine: unpacks the
# carried Vulkan loader (.gl/*.deb) into /, enters the carried .devrun/ and sets what the
# suites and benches read there. Leaves the shell in .devrun/.
for f in .gl/*.deb; do dpkg -x "$f" / >/dev/null; done
ldconfig
cd .devrun || exit 1
export DSR_CORPUS=$PWD/corpus DSR_REQUIRE_GPU=1 XDG_RUNTIME_DIR=/tmp
OUT=${OUT:-/tmp}
