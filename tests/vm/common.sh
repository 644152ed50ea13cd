# SPDX-License-Identifier: MIT
# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are for the scripts that source this
# Helpers shared by the tests/vm scripts. Sourced, never executed.
#
# Kept in one place so fetch-guest.sh, run.sh and selftest.sh agree on where
# the cache lives and on how missing Debian packages are installed: a fresh
# machine (CI, a new developer box) has none of them, and the scripts must
# bring in what they need themselves.

SV_VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SV_REPO=$(cd "$SV_VM_DIR/../.." && pwd)
SV_CACHE=${SANVERBS_CACHE:-$SV_REPO/.cache}/vm

sv_log() { printf '[sanverbs-vm] %s\n' "$*" >&2; }
sv_die() { printf '[sanverbs-vm] error: %s\n' "$*" >&2; exit "${SV_DIE_STATUS:-1}"; }

# sv_need_pkgs PKG...: install the Debian packages that are not installed yet.
# dpkg-query rather than `command -v` because some needs are not commands
# (busybox-static vs the dynamic busybox both give /bin/busybox, and only the
# static one can go into an initramfs as-is).
sv_need_pkgs() {
    local missing=() p installed
    # one dpkg-query for all: run.sh calls this on every run
    # dpkg-query fails when any of them is unknown: the sed output still counts
    installed=$(dpkg-query -W -f='${Package} ${Status}\n' "$@" 2>/dev/null | sed -n 's/ install ok installed$//p' || true)
    for p in "$@"; do
        [[ $'\n'$installed$'\n' == *$'\n'"$p"$'\n'* ]] || missing+=("$p")
    done
    [ "${#missing[@]}" -eq 0 ] && return 0
    [ "$(id -u)" -eq 0 ] || sv_die "missing packages (${missing[*]}) and not root to install them"
    sv_log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    # A fresh machine may have no package lists at all: update once on failure.
    if ! apt-get install -y --no-install-recommends "${missing[@]}" >&2; then
        apt-get update >&2
        apt-get install -y --no-install-recommends "${missing[@]}" >&2
    fi
}

# Packages the host needs to boot the guest and that the guest itself uses:
# the guest runs the host's binaries from the read-only 9p root, so the RDMA
# user space (rdma-core providers, ibverbs-utils, perftest, rping) must be
# installed on the host even though the host kernel has no RDMA stack.
SV_HOST_PKGS=(qemu-system-x86 busybox-static cpio kmod rdma-core ibverbs-providers
              ibverbs-utils perftest rdmacm-utils iproute2 python3 xz-utils coreutils
              util-linux)

# The guest kernels the rig knows (fetch-guest.sh --kernel): Debian 12's 6.1
# and Debian's 6.12 LTS (see fetch-guest.sh for where each comes from).
SV_KERNELS=(6.1 6.12)
sv_kernel_known() { [[ " ${SV_KERNELS[*]} " == *" $1 "* ]]; }
# sv_kernel_env K: the env file fetch-guest.sh writes for kernel K
sv_kernel_env() { echo "$SV_CACHE/env-$1.sh"; }
