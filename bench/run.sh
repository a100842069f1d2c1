#!/usr/bin/env bash
# Builds podnet in Release and runs every benchmark, printing their results.
# Needs root: the benchmarks create network namespaces (and remove them when done).
#   bench/run.sh                    # 200 pods per side, podnet against the reference plugins
#   bench/run.sh --pods 500
#   bench/run.sh --reference-only   # the reference plugins alone
# Arguments go to podnet-bench-cni. PODNET_BENCH_BUILD_DIR picks the build dir (default build-release).
# Then podnet-bench-lab, in labs of its own: pods across nodes against the nodes, per backend; then
# what network policy costs (no policy, 100 and 10,000 rules) and how soon it is enforced. Its
# arguments come from PODNET_BENCH_LAB_ARGS, e.g. "--backend host-gw --rounds 9" or
# "--sections policy --policy-rounds 15".
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
build=${PODNET_BENCH_BUILD_DIR:-$repo/build-release}

cmake -S "$repo" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPODNET_TESTS=OFF >/dev/null
cmake --build "$build" -j"$(nproc)"

echo "== podnet-bench-cni: CNI ADD/DEL latency"
"$build/bench/podnet-bench-cni" "$@"

echo
echo "== podnet-bench-lab: between nodes (iperf3, round trips, propagation), per backend; policy"
# shellcheck disable=SC2086 # word splitting of the argument list is intended
"$build/bench/podnet-bench-lab" ${PODNET_BENCH_LAB_ARGS:-}
