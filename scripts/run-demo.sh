#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The main job: build sanverbs and run sanverbs-demo on a real SoftRoCE
# device (inside a QEMU guest with Debian's 6.1 kernel when this kernel has
# no rxe; natively otherwise). Installs its own dependencies.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${SANVERBS_BUILD:-build}

scripts/setup-deps.sh demo
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null

tests/vm/fetch-guest.sh >/dev/null
kmod_args=()
if [ -x kmod/build.sh ]; then
	kmod_args=(--kmod "$(kmod/build.sh | tail -n 1)")
fi
exec tests/vm/run.sh --timeout 600 "${kmod_args[@]}" -- \
	"$top/$build/tools/sanverbs-demo" "$@"
