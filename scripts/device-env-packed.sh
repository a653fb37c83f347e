# Sourced by the device scripts whose binaries travel packed (.devpack/bins.tar.xz, which keeps
# a set of builds under the carry limit), from the repository root on the lent GPU machine:
# unpacks the carried Vulkan loader (.gl/*.deb) into /, the binaries into /tmp/r, links the
# carried corpus (.devrun/corpus, where carried) there and sets what the suites and benches
# read. Leaves the shell in /tmp/r, with REPO the repository root. (scripts/device-env.sh is
# the same for binaries carried unpacked in .devrun/.)
REPO=$PWD
for f in .gl/*.deb; do dpkg -x "$f" / >/dev/null; done
ldconfig
mkdir -p /tmp/r && cd /tmp/r || exit 1
xz -dc "$REPO/.devpack/bins.tar.xz" | tar xf -
ln -sfn "$REPO/.devrun/corpus" corpus
export DSR_CORPUS=$PWD/corpus DSR_REQUIRE_GPU=1 XDG_RUNTIME_DIR=/tmp
