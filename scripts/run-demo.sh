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
# The module's build directory is shared by every checkout using this
# cache: run from copies, so that a rebuild elsewhere cannot change a .ko
# while a guest loads it.
for k in 6.1 6.12; do
	ko=$(kmod/build.sh --kernel "$k" | tail -n 1)
	cp "$ko" "$build/sanverbs-$k.ko.tmp"
	mv "$build/sanverbs-$k.ko.tmp" "$build/sanverbs-$k.ko"
done
ko_a=$build/sanverbs-6.1.ko
ko_b=$build/sanverbs-6.12.ko
exec tests/vm/run.sh --pair --timeout 900 \
	--kernel 6.1 --kmod "$ko_a" --kernel-b 6.12 --kmod-b "$ko_b" -- \
	/usr/bin/python3 "$top/tests/vm/peer.py" pair --timeout 600 -- \
	"$top/$build/tools/sanverbs-demo" "$@"
