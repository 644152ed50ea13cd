#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# build.sh — build kmod/sanverbs.ko for the test guest's kernel and print the
# path of the .ko on stdout (the only thing printed there).
#
# Usage: kmod/build.sh [--kernel 6.1|6.12] [KDIR]
#   KDIR defaults to $SV_KHEADERS of the guest kernel named by --kernel
#   (default $SANVERBS_KERNEL, else 6.1), from .cache/vm/env-<kernel>.sh
#   written by tests/vm/fetch-guest.sh (run here when that file is missing,
#   its output sent to stderr so stdout stays the .ko path). The build happens
#   in a copy of the sources under .cache/kmod/<kernel version>/ so the source
#   tree stays clean and builds for other kernels do not collide.
# Warnings fail the build.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
kernel=${SANVERBS_KERNEL:-6.1}
if [ "${1:-}" = --kernel ]; then
    kernel=${2:?--kernel needs 6.1 or 6.12}
    shift 2
fi
kdir=${1:-}
if [ -z "$kdir" ]; then
    envfile=${SANVERBS_CACHE:-$repo/.cache}/vm/env-$kernel.sh
    [ -f "$envfile" ] || "$repo/tests/vm/fetch-guest.sh" --kernel "$kernel" >&2
    # shellcheck disable=SC1090
    . "$envfile"
    kdir=$SV_KHEADERS
else
    SV_KVER=
fi
[ -f "$kdir/Makefile" ] || { echo "build.sh: $kdir is not a kernel build tree" >&2; exit 1; }
kver=${SV_KVER:-$(basename "$kdir")}

out=${SANVERBS_CACHE:-$repo/.cache}/kmod/$kver
mkdir -p "$out"
cp "$here"/Kbuild "$here"/*.c "$here"/*.h "$out"/
log=$out/build.log
if ! make -C "$kdir" M="$out" KCFLAGS=-Werror modules >"$log" 2>&1; then
    cat "$log" >&2
    echo "build.sh: module build failed (log: $log)" >&2
    exit 1
fi
if grep -qi 'warning:' "$log"; then
    grep -i -B2 -A4 'warning:' "$log" >&2
    echo "build.sh: warnings in the module build (log: $log)" >&2
    exit 1
fi
echo "$out/sanverbs.ko"
