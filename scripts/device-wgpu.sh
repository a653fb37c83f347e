for f in .gl/*.deb; do dpkg -x $f / >/dev/null; done; ldconfig
cd .devrun; export DSR_CORPUS=$PWD/corpus DSR_REQUIRE_GPU=1 XDG_RUNTIME_DIR=/tmp
./test_wgpu 2>&1 | grep -E "^test |test result|panicked" | head -20
DSR_BENCH_RUNS=15 ./wgpu_vs_ash 2>&1 | grep -E "kernel source|PASSTHROUGH|^gdeflate|^kernel|verified"
