#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite, from a fresh Debian 12 machine (as root):
#   1. install dependencies (scripts/setup-deps.sh)
#   2. build with -Werror
#   3. unit suite on the host, and again under valgrind
#   4. build the kernel module against Debian's 6.1 headers
#   5. rxe and kmod suites on a real SoftRoCE device: inside a QEMU guest
#      running Debian's 6.1 kernel (or natively if this kernel has rxe)
#   6. the Debian packages: dpkg-buildpackage, lintian, and in the guest
#      install them, DKMS, pkg-config builds on rxe, man -w
#      (scripts/test-packages.sh)
#   7. one summary over all of it, ending in "N passed, N failed, N skipped"
# Exit status is non-zero if anything failed, or if a device suite skipped.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${SANVERBS_BUILD:-build}
logs=()
status=0

step() { printf '\n==== %s\n' "$*"; }

step "dependencies"
scripts/setup-deps.sh

step "build ($build)"
if [ -f "$build/build.ninja" ]; then
	meson setup --reconfigure "$build" --werror >/dev/null
else
	meson setup "$build" --werror
fi
ninja -C "$build"

step "unit suite on the host"
rm -f "$build"/meson-logs/{host,unit-valgrind,guest}.json
meson test -C "$build" --no-rebuild --suite unit --print-errorlogs \
	--logbase host || status=1
logs+=("$build/meson-logs/host.json")

step "unit suite under valgrind"
meson test -C "$build" --no-rebuild --suite unit --setup=valgrind \
	--print-errorlogs --logbase unit || status=1
# meson appends the setup name to the log base
logs+=("$build/meson-logs/unit-valgrind.json")

step "guest kernel, modules and headers (Debian 6.1)"
tests/vm/fetch-guest.sh

kmod_args=()
if [ -x kmod/build.sh ]; then
	step "kernel module"
	ko=$(kmod/build.sh | tail -n 1)
	kmod_args=(--kmod "$ko")
fi

step "device suites (rxe, kmod) on SoftRoCE"
tests/vm/run.sh --timeout "${SANVERBS_GUEST_TIMEOUT:-1800}" \
	--rw "$top/$build" "${kmod_args[@]}" -- \
	meson test -C "$build" --no-rebuild --suite rxe --suite kmod \
	--print-errorlogs --logbase guest || status=1
logs+=("$build/meson-logs/guest.json")

expect=(--expect-suite unit --expect-suite unit+vg --expect-suite rxe)
[ ${#kmod_args[@]} -gt 0 ] && expect+=(--expect-suite kmod)

step "Debian packages: build, lintian, install and use them in the guest"
scripts/test-packages.sh "$build" || status=1
logs+=("$build/meson-logs/packages.json")
expect+=(--expect-suite packages)

scripts/test-summary.py --no-device-skips "${expect[@]}" "${logs[@]}" ||
	status=1
exit $status
