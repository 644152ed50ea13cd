#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# device-suites.sh — the device part of scripts/run-tests.sh, run on guest A
# of a pair (tests/vm/run.sh --pair): one boot of two guests for everything.
#   1. the rxe and kmod suites on guest A's kernel     (testlog dev-a)
#   2. the same suites on guest B's kernel, through peer.py run (dev-b)
#   3. the two-host programs with side A on guest A and side B on guest B,
#      through peer.py pair                            (testlog twohost)
# Each step runs even if an earlier one failed; exits 1 if any failed.
#
# Usage: device-suites.sh BUILD_DIR [TWO_HOST_TEST...]
#   TWO_HOST_TEST  meson test names of programs that follow the --side
#                  convention (default: test-ep test-ep-cdata test-wsp
#                  test-switch test-switch-kmod: the switch under each monitor)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:?usage: device-suites.sh BUILD_DIR [TWO_HOST_TEST...]}
shift
twohost=("$@")
[ ${#twohost[@]} -gt 0 ] || twohost=(test-ep test-ep-cdata test-wsp test-switch test-switch-kmod)
peer=(/usr/bin/python3 "$here/peer.py")
status=0

step() { printf '\n==== %s\n' "$*"; }

step "rxe and kmod suites on guest A (kernel $(uname -r))"
meson test -C "$build" --no-rebuild --suite rxe --suite kmod \
	--print-errorlogs --logbase dev-a || status=1

step "rxe and kmod suites on guest B"
# The stress test's full length (30,000 operations per monitor) runs on
# guest A; on B it runs a shorter mix, to keep the whole command in budget.
# shellcheck disable=SC2016  # expanded on guest B
"${peer[@]}" run -- sh -c 'echo "guest B: kernel $(uname -r)"; exec "$@"' sh \
	env SV_STRESS_OPS="${SV_STRESS_OPS_B:-5000}" \
	meson test -C "$build" --no-rebuild --suite rxe --suite kmod \
	--print-errorlogs --logbase dev-b || status=1

step "two-host programs: side A on guest A, side B on guest B (${twohost[*]})"
rm -f "$build"/meson-logs/twohost*.json
meson test -C "$build" --no-rebuild --print-errorlogs --logbase twohost \
	--wrapper "${peer[*]} pair --" "${twohost[@]}" || status=1
# meson appends the wrapper's name to the log base (twohost-python3.json)
for f in "$build"/meson-logs/twohost-*.json; do
	[ -f "$f" ] && mv -f "$f" "$build/meson-logs/twohost.json"
done
exit $status
