#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs the Debian 12 packages a task needs, and only those:
#   setup-deps.sh demo    build the library and tools, boot the rxe guest
#   setup-deps.sh tests   (default) also the test suites, valgrind, the
#                         peers the benchmarks compare with, and what the
#                         Debian package test needs (debhelper, DKMS,
#                         lintian, pandoc)
# Idempotent: asks apt only for what is missing, so a warm machine pays
# nothing. apt's progress (each package fetched and set up) is shown.
set -euo pipefail

profile=${1:-tests}
demo=(
	build-essential pkg-config meson ninja-build
	libibverbs-dev librdmacm-dev ibverbs-providers rdma-core
	qemu-system-x86 busybox-static cpio kmod iproute2 xz-utils python3
)
tests=(
	"${demo[@]}"
	g++ check valgrind
	clang libclang-rt-14-dev
	ibverbs-utils rdmacm-utils perftest
	libfabric-dev libfabric-bin libucx-dev ucx-utils gnuplot-nox
	debhelper dh-dkms dkms lintian pandoc fakeroot man-db
)
case $profile in
demo) PKGS=("${demo[@]}") ;;
tests) PKGS=("${tests[@]}") ;;
*) echo "usage: setup-deps.sh [demo|tests]" >&2; exit 2 ;;
esac

missing=()
# dpkg-query exits 1 when it has never heard of a package (a fresh machine):
# that answer is "missing", not an error.
installed=$({ dpkg-query -W -f='${Package} ${Status}\n' "${PKGS[@]}" 2>/dev/null || true; } |
	sed -n 's/ install ok installed$//p')
for p in "${PKGS[@]}"; do
	[[ $'\n'$installed$'\n' == *$'\n'"$p"$'\n'* ]] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "setup-deps: need root to install: ${missing[*]}" >&2
	exit 1
fi
echo "setup-deps: ${#missing[@]} packages missing for the $profile: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
echo "setup-deps: apt-get update"
apt-get update -qq
# One line per package fetched and set up, so a slow mirror is visible.
apt-get install -y -q --no-install-recommends -o Dpkg::Use-Pty=0 \
	"${missing[@]}" 2>&1 |
	stdbuf -oL grep -E '^(Need to get|After this operation|Get:|Setting up|E:)' |
	stdbuf -oL sed 's/^/setup-deps: /'
exit "${PIPESTATUS[0]}"
