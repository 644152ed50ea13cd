#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The whole test suite, from a fresh Debian 12 machine (as root):
#   1. install dependencies (scripts/setup-deps.sh)
#   2. build with -Werror
#   3. unit suite on the host, and again under valgrind
#   4. fetch two guest kernels, Debian 12's 6.1 and Debian's 6.12 LTS, and
#      build the kernel module against each one's headers
#   5. on real SoftRoCE devices, in one boot of two QEMU guests joined by an
#      Ethernet link (guest A on 6.1, guest B on 6.12; tests/vm/device-suites.sh):
#      the rxe and kmod suites on each kernel, then the two-host programs
#      with side A on guest A and side B on guest B
#   6. the unit suite under ASan+UBSan on the host, the rxe and kmod suites
#      under them in a 6.1 guest, and the fuzz targets for a bounded time
#      (scripts/test-sanitize.sh)
#   7. the Debian packages: dpkg-buildpackage in a fresh copy, lintian, a
#      DKMS build of the packaged module (scripts/test-packages.sh)
#   8. one summary over all of it, ending in "N passed, N failed, N skipped",
#      each device suite named with its kernel
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

step "guest kernels, modules and headers (6.1 and 6.12)"
tests/vm/fetch-guest.sh --kernel all
# shellcheck disable=SC1090  # written by fetch-guest.sh
kver() { (. "${SANVERBS_CACHE:-$top/.cache}/vm/env-$1.sh" && echo "$SV_KVER"); }
kver_a=$(kver 6.1)
kver_b=$(kver 6.12)

step "kernel module for $kver_a and $kver_b"
ko_a=$(kmod/build.sh --kernel 6.1 | tail -n 1)
ko_b=$(kmod/build.sh --kernel 6.12 | tail -n 1)

step "device suites on two guests ($kver_a, $kver_b)"
rm -f "$build"/meson-logs/{dev-a,dev-b,twohost}.json "$build"/meson-logs/twohost-*.json
tests/vm/run.sh --pair --timeout "${SANVERBS_GUEST_TIMEOUT:-2400}" \
	--kernel 6.1 --kmod "$ko_a" --kernel-b 6.12 --kmod-b "$ko_b" \
	--rw "$top/$build" -- tests/vm/device-suites.sh "$top/$build" || status=1
logs+=("$kver_a=$build/meson-logs/dev-a.json"
       "$kver_b=$build/meson-logs/dev-b.json"
       "two guests $kver_a+$kver_b=$build/meson-logs/twohost.json")

step "ASan+UBSan (unit on the host, rxe and kmod in a $kver_a guest); fuzzing"
scripts/test-sanitize.sh --kmod "$ko_a" || status=1
logs+=(build-asan/meson-logs/{host-asan,guest-asan,fuzz}.json)

expect=(--expect-suite unit --expect-suite unit+vg)
for k in "$kver_a" "$kver_b"; do
	expect+=(--expect-suite "rxe@$k" --expect-suite "kmod@$k")
done
expect+=(--expect-suite "rxe@two guests $kver_a+$kver_b")
expect+=(--expect-suite unit+asan --expect-suite rxe+asan --expect-suite kmod+asan)
expect+=(--expect-suite fuzz)

step "Debian packages: build, lintian, DKMS"
scripts/test-packages.sh "$build" || status=1
logs+=("$build/meson-logs/packages.json")
expect+=(--expect-suite packages)

scripts/test-summary.py --no-device-skips "${expect[@]}" "${logs[@]}" ||
	status=1
exit $status
