#!/usr/bin/env bash
# Runs the registration-cache benchmark in the rxe guest and prints its
# ratios. Usage: bench/run-cache-bench.sh [BUILD_DIR] [-q]
#   BUILD_DIR  a configured meson build (default: build); it is rebuilt
#   -q         quick run (fewer iterations, up to 10k entries)
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
shift || true
build=$(realpath "$build")
ninja -C "$build" bench/sanverbs-cache-bench >/dev/null
# 100k cached pages pin 400 MiB: give the guest room for it
exec "$here/tests/vm/run.sh" --timeout 1800 --mem 3G --rw "$build" -- \
    "$build/bench/sanverbs-cache-bench" "$@"
