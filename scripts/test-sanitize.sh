#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The sanitizer and fuzzing part of the test command:
#   1. an ASan+UBSan build (gcc, LeakSanitizer included) in build-asan/
#   2. the unit suite under it on the host
#   3. the rxe and kmod suites under it in ONE guest boot
#   4. every libFuzzer target tests/fuzz/fuzz-*.c, built with clang in
#      build-fuzz/, fuzzed for SANVERBS_FUZZ_SECONDS in all (default 60)
#      from its seed corpus tests/fuzz/corpus/NAME/ (new inputs go to a
#      scratch directory, never into the tree)
# Any sanitizer report fails the test that produced it. Results are meson
# JSON test logs in build-asan/meson-logs/: host-asan.json, guest-asan.json
# and fuzz.json, read by scripts/test-summary.py.
# usage: scripts/test-sanitize.sh [--kmod PATH.ko]
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
asan=${SANVERBS_ASAN_BUILD:-build-asan}
fuzz=${SANVERBS_FUZZ_BUILD:-build-fuzz}
seconds=${SANVERBS_FUZZ_SECONDS:-60}
kmod_args=()
if [ "${1:-}" = --kmod ]; then
	kmod_args=(--kmod "$2")
	# test-kmod-ioctl reloads the module from it
	export SANVERBS_KMOD_KO=$2
fi
status=0
t0=$(date +%s)

say() { printf -- '---- %s\n' "$*"; }

say "ASan+UBSan build ($asan)"
if [ -f "$asan/build.ninja" ]; then
	meson setup --reconfigure "$asan" >/dev/null
else
	meson setup "$asan" -Db_sanitize=address,undefined -Db_lundef=false \
		>/dev/null
fi
ninja -C "$asan" >/dev/null
rm -f "$asan"/meson-logs/{host,guest}-asan.json "$asan"/meson-logs/fuzz.json

say "unit suite under ASan+UBSan on the host"
meson test -C "$asan" --no-rebuild --setup=asan --suite unit \
	--print-errorlogs --logbase host || status=1

say "rxe and kmod suites under ASan+UBSan in the guest"
# The stress test's full length runs in the plain build (run-tests.sh);
# under ASan a shorter mix keeps the step in budget.
export SV_STRESS_OPS=${SV_STRESS_OPS_ASAN:-5000}
tests/vm/run.sh --timeout "${SANVERBS_GUEST_TIMEOUT:-1800}" \
	--rw "$top/$asan" "${kmod_args[@]}" -- \
	meson test -C "$asan" --no-rebuild --setup=asan --suite rxe \
	--suite kmod --print-errorlogs --logbase guest || status=1

say "libFuzzer targets ($fuzz, ${seconds}s in all)"
targets=()
for f in tests/fuzz/fuzz-*.c; do
	[ -e "$f" ] && targets+=("$(basename "$f" .c)")
done
log="$asan/meson-logs/fuzz.json"
: >"$log"
if [ ${#targets[@]} -gt 0 ]; then
	if [ ! -f "$fuzz/build.ninja" ]; then
		CC=clang meson setup "$fuzz" -Dfuzz=true -Dtests=disabled \
			-Db_sanitize=address,undefined -Db_lundef=false >/dev/null
	else
		meson setup --reconfigure "$fuzz" >/dev/null
	fi
	ninja -C "$fuzz" "${targets[@]/#/tests/fuzz/}" >/dev/null
	each=$(( seconds / ${#targets[@]} ))
	[ "$each" -lt 10 ] && each=10
	scratch=$(mktemp -d)
	trap 'rm -rf "$scratch"' EXIT
	for t in "${targets[@]}"; do
		corpus=tests/fuzz/corpus/${t#fuzz-}
		mkdir -p "$scratch/$t"
		s=$(date +%s.%N)
		if ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
		   "$fuzz/tests/fuzz/$t" -max_total_time="$each" -rss_limit_mb=2048 \
		   -artifact_prefix="$scratch/$t-" "$scratch/$t" "$corpus" \
		   >"$scratch/$t.log" 2>&1; then
			res=OK
		else
			res=FAIL
			status=1
			tail -n 40 "$scratch/$t.log"
			cp "$scratch/$t"-* "$asan/meson-logs/" 2>/dev/null || true
		fi
		runs=$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$scratch/$t.log")
		printf '%s: %s, %s runs in %ss\n' "$t" "$res" "${runs:-?}" "$each"
		python3 -c 'import json, sys, time; print(json.dumps({
			"name": "sanverbs:fuzz / " + sys.argv[1],
			"result": sys.argv[2],
			"duration": time.time() - float(sys.argv[3])}))' \
			"$t" "$res" "$s" >>"$log"
	done
fi
say "sanitizers and fuzzing took $(( $(date +%s) - t0 ))s"
exit $status
