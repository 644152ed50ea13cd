#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The Debian packages, built and checked as a distribution would:
#   1. dpkg-buildpackage -us -uc -b in a fresh copy of the sources (the
#      files git knows, as they are in the work tree; no build output);
#   2. lintian on the result: any error or warning fails;
#   3. DKMS builds the module from the sanverbs-dkms package for the guest's
#      kernel (a private dkms tree: nothing is installed on this machine);
#   4. in one 6.1 test guest (whose root is a throw-away overlay of this
#      machine's), the packages are installed with dpkg, DKMS builds and
#      loads the module, a program built from the installed pkg-config
#      files moves bytes on rxe, and `man -w` finds every function's page
#      (tests/pkg/guest-check.sh).
# Writes one meson-style JSON line per check to BUILD/meson-logs/packages.json
# for scripts/test-summary.py (suite "packages") and exits non-zero if any
# check failed. The package build skips the unit suite (DEB_BUILD_OPTIONS=
# nocheck): the test command runs it on the host build already.
#
# usage: scripts/test-packages.sh [BUILD]     (BUILD default: build)
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top" || exit 1
build=${1:-${SANVERBS_BUILD:-build}}
case $build in /*) ;; *) build=$top/$build ;; esac
cache=${SANVERBS_CACHE:-$top/.cache}
work=$build/pkg-test
results=$build/meson-logs/packages.json
mkdir -p "$build/meson-logs"
: >"$results"
failed=0
# shellcheck source=tests/pkg/result.sh
. "$top/tests/pkg/result.sh"

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
		--kernelsourcedir "$SV_KHEADERS" "${dk[@]}" >>"$work/dkms.log" 2>&1 &&
	dkms mktarball -m sanverbs -v "$mver" -k "$SV_KVER" "${dk[@]}" \
		--archive "sanverbs-$mver.dkms.tar.gz" >>"$work/dkms.log" 2>&1; then
	result dkms-build OK "$(secs "$t")" "sanverbs $mver for $SV_KVER"
else
	result dkms-build FAIL "$(secs "$t")" "$(tail -n 30 "$work/dkms.log"; cat "$work"/dkms/sanverbs/*/build/make.log 2>/dev/null | tail -n 20)"
fi

# 4. the installed packages, in a guest. SANVERBS_VM=force: on a host with
# rxe, run.sh would otherwise run natively and dpkg would install here.
# The guest's DKMS installs step 3's build (its mktarball) instead of
# compiling again under TCG (10-15 minutes);
# SANVERBS_PKG_GUEST_DKMS=build has the postinst compile in the guest.
t=$(us)
tarball=$work/dkms/sanverbs/$mver/tarball/sanverbs-$mver.dkms.tar.gz
[ "${SANVERBS_PKG_GUEST_DKMS:-}" = build ] && tarball=
if [ -n "$tarball" ] && [ ! -f "$tarball" ]; then
	result guest-check FAIL 0 "no DKMS build from step 3 to install in the guest"
else
	echo "[packages] installing the packages in a $SV_KVER guest"
	SANVERBS_VM=force tests/vm/run.sh --kernel 6.1 --timeout "${SANVERBS_PKG_GUEST_TIMEOUT:-1200}" \
		--rw "$build" -- tests/pkg/guest-check.sh "$work/debs" "$results" "$tarball"
	rc=$?
	# guest-check.sh records its six checks itself; a guest that died,
	# timed out or never got there leaves fewer: a failure of its own
	ran=$(grep -c '"sanverbs:packages / guest-' "$results")
	if [ "$ran" -lt 6 ]; then
		result guest-check FAIL "$(secs "$t")" "run.sh exit $rc; $ran of 6 guest checks reported"
	fi
	echo "[packages] guest: $(secs "$t") s, boot and power-off included (run.sh exit $rc)"
fi

grep -q '"FAIL"' "$results" && failed=1
echo "[packages] done: $(grep -c '"OK"' "$results") passed, $(grep -c '"FAIL"' "$results") failed"
exit $failed
