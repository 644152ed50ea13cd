#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: build sanverbs and run sanverbs-demo between two machines on
# real SoftRoCE devices: two QEMU guests joined by an Ethernet link, guest A
# on Debian 12's 6.1 kernel and guest B on Debian's 6.12, side B of the demo
# on guest B and side A (which reports) on guest A (tests/vm/run.sh --pair,
# tests/vm/peer.py pair). Installs its own dependencies.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${SANVERBS_BUILD:-build}

scripts/setup-deps.sh demo
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null

tests/vm/fetch-guest.sh --kernel all >/dev/null
ko_a=$(kmod/build.sh --kernel 6.1 | tail -n 1)
ko_b=$(kmod/build.sh --kernel 6.12 | tail -n 1)
exec tests/vm/run.sh --pair --timeout 900 \
	--kernel 6.1 --kmod "$ko_a" --kernel-b 6.12 --kmod-b "$ko_b" -- \
	/usr/bin/python3 "$top/tests/vm/peer.py" pair --timeout 600 -- \
	"$top/$build/tools/sanverbs-demo" "$@"
