#!/usr/bin/env bash
# Configures and builds podnet into build/ (or $1) with extra CMake flags from the rest.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
cmake -S . -B "$dir" -G Ninja "$@" >/dev/null
cmake --build "$dir" -j"$(nproc)"
