#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The installed packages, checked as a user would meet them, in a test
# guest (tests/vm/run.sh: its root is a tmpfs overlay over the host's, so
# nothing here reaches the host's dpkg database or /usr):
#   guest-dpkg-install  one dpkg -i of all five packages (one pass over
#                       this machine's large dpkg database, which is slow
#                       under TCG); sanverbs-dkms's postinst runs DKMS;
#   guest-dkms-install  DKMS has the module installed for the running kernel
#                       under updates/dkms;
#   guest-kmod-load     modprobe loads that module and /dev/sanverbs appears;
#   guest-pkg-config    a program outside the tree builds with nothing but
#                       `pkg-config --cflags --libs sanverbs-provider` and
#                       links the installed libraries;
#   guest-rdma-write    that program moves bytes on rxe through the installed
#                       libraries with the DKMS module as cache monitor;
#   guest-man-pages     `man -w` finds an installed page for every function
#                       of both version scripts, and sanverbs(1),
#                       sanverbs-demo(1).
# With DKMS_TARBALL (`dkms mktarball` of the host's DKMS build of the same
# package for this kernel, scripts/test-packages.sh step 3), the postinst
# loads that build, as DKMS does with prebuilt modules shipped beside the
# sources, and only installs it: compiling the module under TCG takes 10-15
# minutes (857 s measured at a load of ~20). Without it, the postinst
# compiles here as on a user's machine.
# Results go to RESULTS as in scripts/test-packages.sh.
#
# usage: tests/pkg/guest-check.sh DEBDIR RESULTS [DKMS_TARBALL]
#        (in the guest, as root)
set -uo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
debs=$1
results=$2 # for result()
tarball=${3:-}
failed=0
# shellcheck source=tests/pkg/result.sh
. "$top/tests/pkg/result.sh"

if [ "${SANVERBS_IN_VM:-}" != 1 ]; then
	echo "guest-check.sh installs packages: it runs only in the test guest" >&2
	exit 2
fi
# Only what the packages installed may be found: nothing from the build
# tree, the caller's environment or a local prefix.
unset LD_LIBRARY_PATH LD_PRELOAD PKG_CONFIG_PATH PKG_CONFIG_LIBDIR MANPATH \
	CPATH LIBRARY_PATH C_INCLUDE_PATH
export DEBIAN_FRONTEND=noninteractive
tmp=$(mktemp -d)
kver=$(uname -r)

# man-db's trigger re-indexes every page on the machine (minutes under
# TCG); `man -w` searches the directories and needs no index.
rm -f /var/lib/man-db/auto-update

pkg_state() { dpkg-query -W -f '${Package} ${Status}\n' "$@" 2>&1; }

# 1. all five packages in one dpkg run
t=$(us)
pkgs=(libsanverbs1 libsanverbs-provider1 libsanverbs-dev sanverbs-tools sanverbs-dkms)
files=()
for p in "${pkgs[@]}"; do files+=("$debs/${p}_"*.deb); done
how="built by the postinst"
if [ -n "$tarball" ]; then
	mver=$(dpkg-deb -f "$debs"/sanverbs-dkms_*.deb Version)
	mkdir -p /usr/share/sanverbs-dkms
	cp "$tarball" "/usr/share/sanverbs-dkms/sanverbs-${mver%%-*}.dkms.tar.gz"
	how="the host's DKMS build, loaded by the postinst"
fi
# --force-unsafe-io: no fsync per file; this root is thrown away anyway.
# dpkg.log is the host's, seen through the overlay: only our lines count.
logged=$(wc -l </var/log/dpkg.log 2>/dev/null || echo 0)
if dpkg --force-unsafe-io -i "${files[@]}" >"$tmp/dpkg.log" 2>&1 &&
	! pkg_state "${pkgs[@]}" | grep -qv ' install ok installed$'; then
	result guest-dpkg-install OK "$(secs "$t")" "$(pkg_state "${pkgs[@]}"; cat "$tmp/dpkg.log"
		tail -n +$((logged + 1)) /var/log/dpkg.log | grep -E ' (status installed|trigproc) ')"
else
	result guest-dpkg-install FAIL "$(secs "$t")" "$(tail -n 40 "$tmp/dpkg.log"; pkg_state "${pkgs[@]}")"
fi

# 2. DKMS installed the module for this kernel
t=$(us)
ko=/lib/modules/$kver/updates/dkms/sanverbs.ko
if dkms status sanverbs -k "$kver" | grep -q ': installed' && [ -f "$ko" ]; then
	result guest-dkms-install OK "$(secs "$t")" "$(dkms status sanverbs) ($how)"
else
	result guest-dkms-install FAIL "$(secs "$t")" "$(dkms status 2>&1; ls -l "$ko" 2>&1
		cat /var/lib/dkms/sanverbs/*/build/make.log 2>/dev/null | tail -n 20)"
fi

# 3. load it the way the system would (modules.dep as DKMS left it)
t=$(us)
if out=$(modprobe sanverbs 2>&1) && [ "$(modinfo -n sanverbs 2>&1)" = "$ko" ] &&
	grep -q '^sanverbs ' /proc/modules && [ -c /dev/sanverbs ]; then
	result guest-kmod-load OK "$(secs "$t")" "$ko; $(ls -l /dev/sanverbs)"
else
	result guest-kmod-load FAIL "$(secs "$t")" "$out; modinfo -n: $(modinfo -n sanverbs 2>&1); $(ls -l /dev/sanverbs 2>&1)"
fi

# 4. an outside program, built from the installed .pc files alone
t=$(us)
cflags=$(pkg-config --cflags --libs sanverbs-provider 2>&1)
ver=$(pkg-config --modversion sanverbs 2>&1)
pver=$(dpkg-query -W -f '${Version}' libsanverbs1 2>&1)
# shellcheck disable=SC2086
if cc -Wall -Werror -o "$tmp/pkg-consumer" "$top/tests/pkg/pkg-consumer.c" \
	$cflags >"$tmp/cc.log" 2>&1; then
	# the libraries the loader picks must be files of the packages
	# (realpath: with merged /usr the loader reports /lib/... paths, dpkg
	# knows /usr/lib/...)
	linked=$(ldd "$tmp/pkg-consumer" | awk '/libsanverbs/ { print $3 }')
	# shellcheck disable=SC2046,SC2086
	owners=$(dpkg -S $(realpath -e $linked) 2>&1)
	if [ "$(wc -w <<<"$linked")" = 2 ] && [ "${pver%%-*}" = "$ver" ] &&
		grep -q '^libsanverbs1:' <<<"$owners" &&
		grep -q '^libsanverbs-provider1:' <<<"$owners"; then
		result guest-pkg-config OK "$(secs "$t")" "sanverbs.pc $ver; $cflags; $owners"
	else
		result guest-pkg-config FAIL "$(secs "$t")" "pc $ver, package $pver; linked: $linked; $owners"
	fi
else
	result guest-pkg-config FAIL "$(secs "$t")" "$cflags; $(cat "$tmp/cc.log")"
fi

# 5. real bytes through the installed libraries and the DKMS module
t=$(us)
if [ -x "$tmp/pkg-consumer" ]; then
	"$tmp/pkg-consumer" "$SANVERBS_RXE_DEV" "$SANVERBS_RXE_IP" >"$tmp/run.log" 2>&1
	rc=$?
	sed 's/^/[pkg-consumer] /' "$tmp/run.log"
	[ "$rc" = 0 ] && r=OK || r=FAIL
	result guest-rdma-write "$r" "$(secs "$t")" "$(cat "$tmp/run.log")"
else
	result guest-rdma-write FAIL "$(secs "$t")" "no program: guest-pkg-config failed"
fi

# 6. man FUNCTION for each exported function, against the installed pages
t=$(us)
# the libc functions libsanverbs interposes are exported but not its API
# (tests/api/check-api.py leaves them out the same way)
interposed=' mprotect pkey_mprotect shmat munmap '
# a symbol is a line `name;` once the comments are gone
fns=$(perl -0777 -ne 's{/\*.*?\*/}{}gs; print "$1\n" while /^\s*(\w+)\s*;/mg' \
	"$top/src/libsanverbs.map" "$top/provider/libsanverbs-provider.map")
names=()
for f in $fns; do [[ $interposed == *" $f "* ]] || names+=("$f"); done
# One man process per section (a process start costs up to a second here).
# man -w prints one path per name it finds, in order, with a link already
# resolved to its target page, and "No manual entry for NAME" for the rest:
# every name found and every path a file of the right package.
declare -A owner
while read -r p; do owner[$p]=libsanverbs-dev; done < <(dpkg -L libsanverbs-dev)
while read -r p; do owner[$p]=sanverbs-tools; done < <(dpkg -L sanverbs-tools)
bad=() paths=0
while read -r p; do
	paths=$((paths + 1))
	[ "${owner[$p]:-}" = libsanverbs-dev ] || bad+=("$p (not libsanverbs-dev's)")
done < <(man -w 3 "${names[@]}" 2>"$tmp/man.err")
while read -r p; do
	paths=$((paths + 1))
	[ "${owner[$p]:-}" = sanverbs-tools ] || bad+=("$p (not sanverbs-tools')")
done < <(man -w 1 sanverbs sanverbs-demo 2>>"$tmp/man.err")
while read -r line; do bad+=("$line"); done <"$tmp/man.err"
n=$((${#names[@]} + 2))
# the two scripts list over a hundred functions: a parse that found next
# to none must not pass
if [ "${#names[@]}" -gt 100 ] && [ "$paths" = "$n" ] && [ "${#bad[@]}" = 0 ]; then
	result guest-man-pages OK "$(secs "$t")" "$n names, each an installed page"
else
	result guest-man-pages FAIL "$(secs "$t")" "$n names, $paths pages found; $(printf '%s\n' "${bad[@]}")"
fi
echo "[packages] guest: man -w for $n names: $paths pages, ${#bad[@]} problems"

rm -rf "$tmp"
exit $failed
