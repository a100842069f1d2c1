#!/usr/bin/env bash
# The whole test suite, as CI runs it: install, build, then
#   1. the unit and kernel tests under AddressSanitizer + UndefinedBehaviorSanitizer (not the
#      lab suites, label "lab": they build whole clusters and would double CI's time),
#   2. the fuzz targets, briefly,
#   3. every test on the normal build, the lab suites too (its ctest summary is printed last).
# Each build sets the options it relies on (scripts/demo.sh configures build/ without tests), and
# a ctest run that finds no test fails.
# Needs root: kernel tests create throwaway network namespaces.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then
  echo "scripts/test.sh must run as root (kernel tests create network namespaces)" >&2
  exit 1
fi
scripts/install-deps.sh
# etcd 3.6, kube-apiserver, kube-controller-manager and kubectl for the tests labelled k8s: built
# once per version (long, the first time) and cached outside the tree.
scripts/k8s-tools.sh

# Runs ctest in build directory $1; when tests fail, prints each failing test's output once more
# at the end (the last lines of a long log are what a reader sees first) and fails.
run_tests() {
  local dir=$1
  shift
  if ctest --test-dir "$dir" --output-on-failure --no-tests=error -j2 --timeout 600 "$@"; then
    return 0
  fi
  echo "== output of the failing tests in $dir, again"
  local failed
  failed=$(sed -e 's/^[0-9]*://' "$dir/Testing/Temporary/LastTestsFailed.log" 2>/dev/null || true)
  while IFS= read -r name; do
    [ -n "$name" ] || continue
    echo "-- $name"
    awk -v name="$name" '
      $0 ~ /^[0-9]+\/[0-9]+ Testing: / { sub(/^[0-9]+\/[0-9]+ Testing: /, ""); on = ($0 == name); next }
      on && /^<end of output>/ { on = 0 }
      on' "$dir/Testing/Temporary/LastTest.log" | tail -80
  done <<<"$failed"
  return 8
}

echo "== sanitizer build (ASan + UBSan)"
scripts/build.sh build-asan -DPODNET_SANITIZE=ON -DPODNET_TESTS=ON -DPODNET_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=Debug
ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 run_tests build-asan -LE lab

echo "== fuzz targets"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -G Ninja -DPODNET_FUZZ=ON -DPODNET_TESTS=OFF \
  -DPODNET_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-fuzz -j"$(nproc)" --target fuzz_cni_config fuzz_cni_args fuzz_manifest fuzz_policy
for target in build-fuzz/fuzz/fuzz_*; do
  [ -x "$target" ] || continue
  name=$(basename "$target")
  corpus=$(mktemp -d)  # a scratch copy: the checked-in seeds stay as they are
  cp "fuzz/corpus/${name#fuzz_}"/* "$corpus"/ 2>/dev/null || true
  echo "-- $name (30 s)"
  "$target" -max_total_time=30 -print_final_stats=1 "$corpus" 2>&1 | tail -3
  rm -rf "$corpus"
done

echo "== tests"
scripts/build.sh build -DPODNET_SANITIZE=OFF -DPODNET_TESTS=ON -DPODNET_BENCH=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo
run_tests build
