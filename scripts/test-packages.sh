#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian packages, built and checked as a distribution would:
#   1. dpkg-buildpackage -us -uc -b in a fresh copy of the sources (the
#      files git knows, as they are in the work tree; no build output);
#   2. lintian on the result: any error or warning fails;
#   3. DKMS builds the module from the sanverbs-dkms package for the guest's
#      kernel (a private dkms tree: nothing is installed on this machine).
# Writes one meson-style JSON line per check to BUILD/meson-logs/packages.json
# for scripts/test-summary.py (suite "packages") and exits non-zero if any
# check failed. The package build skips the unit suite (DEB_BUILD_OPTIONS=
# nocheck): the test command runs it on the host build already.
#
# usage: scripts/test-packages.sh [BUILD]     (BUILD default: build)
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${1:-${SANVERBS_BUILD:-build}}
case $build in /*) ;; *) build=$top/$build ;; esac
cache=${SANVERBS_CACHE:-$top/.cache}
work=$build/pkg-test
results=$build/meson-logs/packages.json
mkdir -p "$build/meson-logs"
: >"$results"
failed=0

us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
secs() { local d=$(( $(us) - $1 )); printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000)); }
result() { # name OK|FAIL seconds detail
	local d=${4//\\/\\\\}
	d=${d//\"/\\\"}
	printf '{"name": "sanverbs:packages / %s", "result": "%s", "duration": %s, "stdout": "%s"}\n' \
		"$1" "$2" "$3" "${d//$'\n'/\\n}" >>"$results"
	printf '[packages] %-22s %s (%s s)\n' "$1" "$2" "$3"
	[ "$2" = OK ] || failed=1
}

# 1. build from a fresh copy
t=$(us)
rm -rf "$work"
mkdir -p "$work/src"
if git rev-parse --git-dir >/dev/null 2>&1; then
	git ls-files -z --cached --others --exclude-standard |
		while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
		cpio -0pdm --quiet "$work/src"
else
	tar -C "$top" --exclude='./build*' --exclude=./.cache -cf - . | tar -C "$work/src" -xf -
fi
echo "[packages] dpkg-buildpackage -us -uc -b (log: $work/build.log)"
if (cd "$work/src" && DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" \
	dpkg-buildpackage -us -uc -b >"$work/build.log" 2>&1); then
	result dpkg-buildpackage OK "$(secs "$t")" "$(cd "$work" && ls ./*.deb)"
else
	result dpkg-buildpackage FAIL "$(secs "$t")" "$(tail -n 40 "$work/build.log")"
	exit 1
fi

# 2. lintian
t=$(us)
(cd "$work" && lintian --fail-on error,warning --pedantic --info \
	./*.changes >lintian.log 2>&1)
rc=$?
lint=$(grep -v '^running with root privileges' "$work/lintian.log")
[ -n "$lint" ] && printf '%s\n' "$lint" | sed 's/^/[lintian] /'
if [ "$rc" -eq 0 ]; then
	result lintian OK "$(secs "$t")" "${lint:-no tags}"
else
	result lintian FAIL "$(secs "$t")" "$lint"
fi

# 3. DKMS builds the packaged module sources for the guest kernel
t=$(us)
# the guest's kernel headers, for DKMS (the rig's default kernel)
envfile=$cache/vm/env.sh
[ -f "$cache/vm/env-6.1.sh" ] && envfile=$cache/vm/env-6.1.sh
[ -f "$envfile" ] || { tests/vm/fetch-guest.sh >&2; envfile=$cache/vm/env.sh; }
# shellcheck disable=SC1090
. "$envfile"
mkdir -p "$work/debs" "$work/dkms-src" "$work/dkms"
mv "$work"/*.deb "$work/debs/"
dpkg -x "$work"/debs/sanverbs-dkms_*.deb "$work/dkms-src"
src_dir=$(ls -d "$work"/dkms-src/usr/src/sanverbs-*)
mver=${src_dir##*/sanverbs-}
dk=(--sourcetree "$work/dkms-src/usr/src" --dkmstree "$work/dkms")
if dkms add -m sanverbs -v "$mver" "${dk[@]}" >"$work/dkms.log" 2>&1 &&
	dkms build -m sanverbs -v "$mver" -k "$SV_KVER" \
		--kernelsourcedir "$SV_KHEADERS" "${dk[@]}" >>"$work/dkms.log" 2>&1; then
	result dkms-build OK "$(secs "$t")" "sanverbs $mver for $SV_KVER"
else
	result dkms-build FAIL "$(secs "$t")" "$(tail -n 30 "$work/dkms.log"; cat "$work"/dkms/sanverbs/*/build/make.log 2>/dev/null | tail -n 20)"
fi

grep -q '"FAIL"' "$results" && failed=1
echo "[packages] done: $(grep -c '"OK"' "$results") passed, $(grep -c '"FAIL"' "$results") failed"
exit $failed
