#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Installs every Debian 12 package the build, the tests, the guest rig and the
# benchmarks need. Idempotent: asks apt only for what is missing, so a warm
# machine pays nothing.
set -euo pipefail

PKGS=(
	build-essential g++ pkg-config meson ninja-build
	libibverbs-dev librdmacm-dev ibverbs-providers rdma-core
	ibverbs-utils rdmacm-utils perftest
	check valgrind
	qemu-system-x86 busybox-static cpio kmod iproute2 xz-utils python3
	libfabric-dev libfabric-bin libucx-dev ucx-utils gnuplot-nox
)

missing=()
for p in "${PKGS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
	echo "setup-deps: need root to install: ${missing[*]}" >&2
	exit 1
fi
echo "setup-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
