#!/bin/bash
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
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
umask 022

JOB=/run/sanverbs-job
VM_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

poweroff_now() {
    sync
    # No init system: sysrq 'o' is the immediate ACPI power-off; QEMU exits.
    echo o >/proc/sysrq-trigger
    sleep 60
}

finish() {
    if [ -d "$JOB" ] && mountpoint -q "$JOB"; then
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
    mount -t 9p -o "trans=virtio,version=9p2000.L,msize=512000${3:+,$3}" "$1" "$2"
}

# --- basic file systems ----------------------------------------------------
mountpoint -q /proc || mount -t proc proc /proc
mountpoint -q /sys || mount -t sysfs sysfs /sys
mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
mount -t tmpfs -o mode=1777 tmpfs /dev/shm
# A fresh /run: the host's (seen through the overlay) holds its pid files,
# sockets and netns mounts, none of which mean anything here.
mount -t tmpfs -o mode=0755 tmpfs /run
mkdir -p "$JOB"
mount_9p svjob "$JOB" cache=none || fail "cannot mount the job share"
[ -f "$JOB/job.sh" ] || fail "no job.sh in the job share"
# Defines SV_CWD, SV_CMD (array), SV_RW (array), SV_KMOD, SV_MEMLOCK, SV_DEBUG.
# shellcheck disable=SC1091
. "$JOB/job.sh"

# --- host streams ----------------------------------------------------------
# virtio-serial ports named sv.stdout / sv.stderr are FIFOs on the host that
# run.sh copies to its own stdout/stderr as data arrives. There is no udev,
# so find the device node by the port name in sysfs.
port_dev() {
    local p i
    for i in $(seq 1 100); do
        for p in /sys/class/virtio-ports/*; do
            [ -f "$p/name" ] && [ "$(cat "$p/name")" = "$1" ] && [ -c "/dev/${p##*/}" ] &&
                { echo "/dev/${p##*/}"; return 0; }
        done
        sleep 0.05
    done
    return 1
}
out=$(port_dev sv.stdout) || fail "no sv.stdout virtio port"
err=$(port_dev sv.stderr) || fail "no sv.stderr virtio port"
exec >"$out" 2>"$err" </dev/null
[ "${SV_DEBUG:-0}" = 1 ] && set -x

# --- writable shares -------------------------------------------------------
# Each --rw DIR is its own 9p share, mounted at the same path over the
# read-only view, so meson logs and build outputs land on the host.
i=0
for d in "${SV_RW[@]}"; do
    mkdir -p "$d" || fail "cannot create mount point $d"
    mount_9p "svrw$i" "$d" cache=none || fail "cannot mount --rw $d"
    i=$((i + 1))
done

hostname sanverbs-vm
ip link set lo up

# --- RDMA ------------------------------------------------------------------
# shellcheck source=tests/vm/rxe-setup.sh
. "$VM_DIR/rxe-setup.sh"
sv_rxe_modules || fail "cannot load the rxe modules"
if [ -n "${SV_KMOD:-}" ]; then
    # After rdma_rxe so a module that uses ib_core finds it loaded.
    insmod "$SV_KMOD" || fail "insmod $SV_KMOD failed"
fi
sv_rxe_setup "$JOB/rxe.env" || fail "rxe setup failed"

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

cd "$SV_CWD" || fail "cannot cd to $SV_CWD in the guest"
ulimit -l "${SV_MEMLOCK:-unlimited}" || fail "ulimit -l ${SV_MEMLOCK:-unlimited} failed"
set +x
env -i "${envs[@]}" "${SV_CMD[@]}"
finish $?
