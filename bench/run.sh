#!/usr/bin/env bash
# Builds podnet in Release and runs every benchmark, printing their results.
# Needs root: the benchmarks create network namespaces (and remove them when done).
#   bench/run.sh                    # 200 pods per side, podnet against the reference plugins
#   bench/run.sh --pods 500
#   bench/run.sh --reference-only   # the reference plugins alone
# Arguments go to podnet-bench-cni. PODNET_BENCH_BUILD_DIR picks the build dir (default build-release).
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${PODNET_BENCH_BUILD_DIR:-$repo/build-release}

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPODNET_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"

echo "== podnet-bench-cni: CNI ADD/DEL latency"
"$build/bench/podnet-bench-cni" "$@"
