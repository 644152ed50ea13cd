#!/bin/bash
# SPDX-License-Identifier: MIT
# guest-init.sh — stage 2 of the test guest, PID 1 after switch_root.
#
# Stage 1 (the busybox initramfs made by fetch-guest.sh) has mounted the host's
# / read-only over 9p under a tmpfs overlay and exec'd this file from it, so
# this script is always the current one from the work tree. Here we mount the
# per-run shares, connect stdout/stderr to the host, bring up rxe, run the
# caller's command and hand its exit status back through the job share.
#
# Exit status written to the job share: the command's own status, or 125 when
# the guest could not set itself up (the message says why).
# No `set -e`: as PID 1 this script must never just exit (the kernel would
# panic); every failure goes through fail(), which reports and powers off.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 022

JOB=/run/sanverbs-job
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# Uptime stamps for SANVERBS_VM_TIMING (builtins only: no process per stamp).
stamp() {
    local up
    read -r up _ </proc/uptime
    echo "$1 $up" >>"$JOB/timing" 2>/dev/null || true
}

poweroff_now() {
    sync
    # No init system: sysrq 'o' is the immediate ACPI power-off; QEMU exits.
    echo o >/proc/sysrq-trigger
    # Wait for it without exec'ing anything: the 9p root is going away, and
    # PID 1 exiting would panic. Nothing is ever typed on the console.
    while :; do read -r -t 60 _ </dev/console; done
}

finish() {
    if [ -d "$JOB" ] && [ -f "$JOB/job.sh" ]; then
        stamp end
        echo "$1" >"$JOB/rc.tmp" && mv "$JOB/rc.tmp" "$JOB/rc"
    fi
    # Close the host streams so everything written is flushed before power-off.
    exec >/dev/console 2>&1
    poweroff_now
}

fail() {
    echo "sanverbs guest: $*" >&2
    finish 125
}

mount_9p() { # TAG DIR [extra options]
    mount --mkdir -t 9p -o "trans=virtio,version=9p2000.L,msize=512000${3:+,$3}" "$1" "$2"
}

# --- basic file systems ----------------------------------------------------
# Stage 1 moved proc, sys and dev here; mount them only if it did not.
[ -d /proc/1 ] || mount -t proc proc /proc
[ -d /sys/class ] || mount -t sysfs sysfs /sys
[ -c /dev/null ] || mount -t devtmpfs devtmpfs /dev
mount --mkdir -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount --mkdir -t tmpfs -o mode=1777 tmpfs /dev/shm
# A fresh /run: the host's (seen through the overlay) holds its pid files,
# sockets and netns mounts, none of which mean anything here.
mount -t tmpfs -o mode=0755 tmpfs /run
# What udev or systemd would make on a real system: without /dev/fd, bash
# process substitution and dpkg's maintainer-script helpers fail.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd
for fd in 0:stdin 1:stdout 2:stderr; do
    [ -e "/dev/${fd#*:}" ] || ln -s "/proc/self/fd/${fd%:*}" "/dev/${fd#*:}"
done
# Stage 1 bind-mounted the cache's modules read-only; an overlay with its
# upper layer in tmpfs makes them writable like the rest of the guest (DKMS
# installs into updates/, depmod rewrites modules.dep) and leaves the cache
# untouched. Before modprobe starts, so it never sees the tree change under
# it.
read -r kver </proc/sys/kernel/osrelease
mkdir -p /run/sanverbs-modules/upper /run/sanverbs-modules/work
mount -t overlay overlay -o "lowerdir=/lib/modules/$kver,upperdir=/run/sanverbs-modules/upper,workdir=/run/sanverbs-modules/work" \
    "/lib/modules/$kver" || fail "cannot make /lib/modules/$kver writable"
# Loading ib_core, rdma_cm and rxe is the slowest step of the boot (~2 s of
# module linking under TCG): start it now, on the other vCPU, and collect it
# before the devices are made.
# shellcheck source=tests/vm/rxe-setup.sh
. "$VM_DIR/rxe-setup.sh"
sv_rxe_modules &
modprobe_pid=$!
mount_9p svjob "$JOB" cache=none || fail "cannot mount the job share"
[ -f "$JOB/job.sh" ] || fail "no job.sh in the job share"
stamp stage2
# Defines SV_CWD, SV_CMD (array), SV_RW (array), SV_KMOD, SV_MEMLOCK, SV_DEBUG,
# SV_KHEADERS, SANVERBS_TWOHOST (read by sv_rxe_setup) and, in a pair,
# SV_GUEST (a or b) and SV_LINK_MAC.
# shellcheck disable=SC1091
. "$JOB/job.sh"
# This kernel's headers (unpacked in the cache) where DKMS and any
# out-of-tree build look for them, as linux-headers-<ver> would link them.
if [ -n "${SV_KHEADERS:-}" ] && [ ! -e "/lib/modules/$kver/build" ]; then
    ln -s "$SV_KHEADERS" "/lib/modules/$kver/build"
fi

# --- host streams ----------------------------------------------------------
# virtio-serial ports named sv.stdout / sv.stderr are FIFOs on the host that
# run.sh copies to its own stdout/stderr as data arrives. There is no udev,
# so find the device node by the port name in sysfs.
port_dev() {
    local p i name
    for ((i = 0; i < 200; i++)); do
        for p in /sys/class/virtio-ports/*; do
            name=
            read -r name <"$p/name" 2>/dev/null || true
            [ "$name" = "$1" ] && [ -c "/dev/${p##*/}" ] && { echo "/dev/${p##*/}"; return 0; }
        done
        sleep 0.05
    done
    return 1
}
out=$(port_dev sv.stdout) || fail "no sv.stdout virtio port"
err=$(port_dev sv.stderr) || fail "no sv.stderr virtio port"
exec >"$out" 2>"$err" </dev/null
if [ "${SV_DEBUG:-0}" = 1 ]; then
    PS4='+ ${EPOCHREALTIME} '
    set -x
fi

# --- writable shares -------------------------------------------------------
# Each --rw DIR is its own 9p share, mounted at the same path over the
# read-only view, so meson logs and build outputs land on the host.
# cache=mmap: reads and writes still go straight to the host, but
# mmap(MAP_SHARED, PROT_WRITE) works (with cache=none it fails with EINVAL).
i=0
for d in "${SV_RW[@]}"; do
    mount_9p "svrw$i" "$d" cache=mmap || fail "cannot mount --rw $d"
    i=$((i + 1))
done

echo "sanverbs-vm${SV_GUEST:+-$SV_GUEST}" >/proc/sys/kernel/hostname

# --- RDMA ------------------------------------------------------------------
wait "$modprobe_pid" || fail "cannot load the rxe modules"
sv_rxe_setup "$JOB/rxe.env" || fail "rxe setup failed"
if [ -n "${SV_GUEST:-}" ]; then
    modprobe virtio_net || fail "cannot load virtio_net"
    sv_rxe_link_setup "$SV_GUEST" "$SV_LINK_MAC" "$JOB/rxe.env" || fail "link set-up failed"
fi
if [ -n "${SV_KMOD:-}" ]; then
    # After rdma_rxe and its devices, so a module that uses ib_core finds it
    # loaded and sees rxe0, rxe_a and rxe_b whether it walks the devices at
    # init or registers an ib_client.
    insmod "$SV_KMOD" || fail "insmod $SV_KMOD failed"
fi

[ -c /dev/userfaultfd ] || fail "/dev/userfaultfd missing in the guest"

# --- the command -----------------------------------------------------------
# The caller's environment (NUL-separated, any names) plus ours; `env -i` so
# host-only values like a stale PWD do not leak in.
envs=()
while IFS= read -r -d '' kv; do
    case $kv in
        PWD=*|OLDPWD=*|SHLVL=*|_=*|BASH_FUNC_*) ;;
        *) envs+=("$kv") ;;
    esac
done <"$JOB/env0"
while read -r _ kv; do
    envs+=("$kv")
done <"$JOB/rxe.env"
envs+=(SANVERBS_IN_VM=1 "PWD=$SV_CWD")
# the module this guest loaded, for tests that unload and reload it
[ -n "${SV_KMOD:-}" ] && envs+=("SANVERBS_KMOD_KO=$SV_KMOD")

cd "$SV_CWD" || fail "cannot cd to $SV_CWD in the guest"
ulimit -l "${SV_MEMLOCK:-unlimited}" || fail "ulimit -l ${SV_MEMLOCK:-unlimited} failed"
set +x
stamp cmd
env -i "${envs[@]}" "${SV_CMD[@]}"
finish $?
