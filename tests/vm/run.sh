#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh — run a command as root on a machine that has a SoftRoCE (rxe) device.
#
# Usage: run.sh [--timeout SEC] [--rw DIR]... [--kmod PATH.ko] [--mem SIZE]
#               [--memlock KB] -- CMD [ARGS...]
#
# CMD runs with the caller's working directory and environment, with stdin
# from /dev/null and its stdout/stderr streamed to ours as it runs; run.sh
# exits with CMD's exit status. Exported to CMD:
#   SANVERBS_RXE_DEV=rxe0  SANVERBS_RXE_IP  SANVERBS_RXE_GID_INDEX
#   SANVERBS_NS_A  SANVERBS_NS_B  SANVERBS_IP_A  SANVERBS_IP_B
#   SANVERBS_RXE_A  SANVERBS_RXE_B  SANVERBS_GID_INDEX_A  SANVERBS_GID_INDEX_B
#   SANVERBS_TWOHOST_MODE  SANVERBS_IN_VM=1 (guest only)
# Options:
#   --timeout SEC  bound the whole run (default 900); on expiry exit 124
#   --rw DIR       make DIR writable in the guest at the same path, backed by
#                  the host directory (repeatable; created if missing)
#   --kmod PATH    insmod this module once rdma_rxe and the rxe devices are
#                  up; failure is fatal (status 125)
#   --mem SIZE     guest memory (default 2G)
#   --memlock KB   RLIMIT_MEMLOCK for CMD (default unlimited)
# Environment:
#   SANVERBS_VM=auto|force|never  auto (default) runs natively when this
#                  kernel has rdma_rxe, else boots the QEMU guest
#   SANVERBS_VM_DEBUG=1  stream the guest console to stderr, trace guest init
#   SANVERBS_VM_TIMING=1 report boot / set-up / command / power-off times
#   SANVERBS_VM_APPEND   extra guest kernel command-line arguments
#   SANVERBS_VM_MACHINE  QEMU machine type (default q35)
#   SANVERBS_TWOHOST=auto|netns|init_net  how the two "hosts" are made
#                  (see rxe-setup.sh; auto picks netns only where rxe is
#                  namespace-aware, which Debian's 6.1 is not)
#   SANVERBS_CACHE  where fetch-guest.sh keeps the kernel (<repo>/.cache)
# Exit status: CMD's; 124 on timeout; 125 when the rig itself failed (guest
# panic, rxe setup failure, ...), with a message on stderr saying which.
set -euo pipefail

# shellcheck source=tests/vm/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
SV_DIE_STATUS=125

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

TIMEOUT=900
MEM=2G
MEMLOCK=unlimited
KMOD=
RW=()
while [ $# -gt 0 ]; do
    case $1 in
        --timeout) TIMEOUT=${2:?--timeout needs seconds}; shift ;;
        --rw) RW+=("${2:?--rw needs a directory}"); shift ;;
        --kmod) KMOD=${2:?--kmod needs a .ko path}; shift ;;
        --mem) MEM=${2:?--mem needs a size}; shift ;;
        --memlock) MEMLOCK=${2:?--memlock needs KB}; shift ;;
        -h|--help) usage; exit 0 ;;
        --) shift; break ;;
        *) usage >&2; sv_die "unknown option: $1 (put the command after --)" ;;
    esac
    shift
done
[ $# -gt 0 ] || { usage >&2; sv_die "no command given"; }
case $TIMEOUT in ''|*[!0-9]*) sv_die "--timeout takes whole seconds" ;; esac
case $MEMLOCK in unlimited) ;; ''|*[!0-9]*) sv_die "--memlock takes KB or 'unlimited'" ;; esac
if [ -n "$KMOD" ]; then
    [ -f "$KMOD" ] || sv_die "--kmod $KMOD: no such file"
    KMOD=$(realpath "$KMOD")
fi
for i in "${!RW[@]}"; do
    mkdir -p "${RW[$i]}"
    RW[i]=$(realpath "${RW[$i]}")
done

# --- native or guest? ------------------------------------------------------
# Native when this kernel can do rxe itself (module loadable or already in),
# so the same command works on an rxe-capable host. A --kmod built for the
# guest kernel only loads in the guest, so its vermagic is checked too.
native_ok() {
    [ "$(id -u)" -eq 0 ] || return 1
    [ -d /sys/module/rdma_rxe ] || modprobe -q rdma_rxe 2>/dev/null || return 1
    if [ -n "$KMOD" ]; then
        [ "$(modinfo -F vermagic "$KMOD" 2>/dev/null | cut -d' ' -f1)" = "$(uname -r)" ] || return 1
    fi
    return 0
}
MODE=${SANVERBS_VM:-auto}
case $MODE in
    force) MODE=vm ;;
    never) native_ok || sv_die "SANVERBS_VM=never but this kernel cannot run rdma_rxe (or --kmod does not match it)"
           MODE=native ;;
    auto) if native_ok; then MODE=native; else MODE=vm; fi ;;
    *) sv_die "SANVERBS_VM must be auto, force or never (got '$MODE')" ;;
esac

# --- native mode -----------------------------------------------------------
if [ "$MODE" = native ]; then
    # shellcheck source=tests/vm/rxe-setup.sh
    . "$SV_VM_DIR/rxe-setup.sh"
    envfile=$(mktemp "${TMPDIR:-/tmp}/sanverbs-rxe.XXXXXX")
    trap 'rm -f "$envfile"' EXIT
    # Serialise set-up between concurrent runs; devices persist and are reused.
    (
        flock 9
        sv_rxe_modules && sv_rxe_setup "$envfile"
    ) 9>/run/sanverbs-rxe.lock || sv_die "rxe setup failed"
    kmod_loaded=
    if [ -n "$KMOD" ]; then
        insmod "$KMOD" || sv_die "insmod $KMOD failed"
        kmod_loaded=$(modinfo -F name "$KMOD" 2>/dev/null || basename "$KMOD" .ko)
        trap 'rm -f "$envfile"; rmmod "$kmod_loaded" 2>/dev/null || true' EXIT
    fi
    while read -r _ kv; do
        export "${kv?}"
    done <"$envfile"
    ulimit -l "$MEMLOCK" || sv_die "ulimit -l $MEMLOCK failed"
    status=0
    timeout -k 10 "$TIMEOUT" "$@" </dev/null || status=$?
    [ "$status" -eq 124 ] && sv_log "timed out after $TIMEOUT s: $*"
    exit "$status"
fi

# --- guest mode ------------------------------------------------------------
"$SV_VM_DIR/fetch-guest.sh" --quiet
# shellcheck disable=SC1091
. "$SV_CACHE/env.sh"
sv_need_pkgs "${SV_HOST_PKGS[@]}"
case "$SV_MODROOT$SV_VM_DIR" in
    *[[:space:]]*) sv_die "paths with white space cannot go on the guest kernel command line: $SV_MODROOT $SV_VM_DIR" ;;
esac

# One private directory per run: the job share (exit status, job description)
# plus host-only FIFOs and logs next to it, so concurrent runs never collide.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sanverbs-vm.XXXXXX")
SHARE=$TMP/share
mkdir -m 0755 "$SHARE"
mkfifo "$TMP/out" "$TMP/err"

# job.sh is sourced by guest-init.sh; %q keeps every argument intact.
{
    printf 'SV_CWD=%q\n' "$PWD"
    printf 'SV_CMD=('; printf '%q ' "$@"; printf ')\n'
    printf 'SV_RW=('; [ "${#RW[@]}" -gt 0 ] && printf '%q ' "${RW[@]}"; printf ')\n'
    printf 'SV_KMOD=%q\n' "$KMOD"
    printf 'SV_MEMLOCK=%q\n' "$MEMLOCK"
    printf 'SV_DEBUG=%q\n' "${SANVERBS_VM_DEBUG:-0}"
    printf 'SANVERBS_TWOHOST=%q\n' "${SANVERBS_TWOHOST:-auto}"
} >"$SHARE/job.sh"
env -0 >"$SHARE/env0"

# QEMU option values escape ',' by doubling it.
qarg() { printf '%s' "${1//,/,,}"; }

# shellcheck disable=SC2054  # commas here are QEMU's, not array separators
QEMU=(qemu-system-x86_64
    -accel tcg -cpu max -M "${SANVERBS_VM_MACHINE:-q35}" -smp 2 -m "$MEM"
    -nodefaults -no-user-config -display none -no-reboot
    -kernel "$(qarg "$SV_VMLINUX")" -initrd "$(qarg "$SV_INITRD")"
    -append "console=ttyS0 panic=-1 quiet loglevel=${SANVERBS_VM_LOGLEVEL:-$([ "${SANVERBS_VM_DEBUG:-0}" = 1 ] && echo 7 || echo 4)} sv_kver=$SV_KVER sv_modroot=$SV_MODROOT sv_stage2=$SV_VM_DIR/guest-init.sh ${SANVERBS_VM_APPEND:-}"
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
    -virtfs "local,path=$(qarg "$SHARE"),mount_tag=svjob,security_model=none"
    -device virtio-serial-pci
    -chardev "file,id=svout,path=$(qarg "$TMP/out")" -device virtserialport,chardev=svout,name=sv.stdout
    -chardev "file,id=sverr,path=$(qarg "$TMP/err")" -device virtserialport,chardev=sverr,name=sv.stderr
)
for i in "${!RW[@]}"; do
    QEMU+=(-virtfs "local,path=$(qarg "${RW[$i]}"),mount_tag=svrw$i,security_model=none,multidevs=remap")
done
# The console (kernel messages, stage 1) goes to a log shown on failure; with
# SANVERBS_VM_DEBUG=1 to our stderr, appended so a redirected log survives.
if [ "${SANVERBS_VM_DEBUG:-0}" = 1 ]; then
    # QEMU's own stderr goes to qemu.log: hand it ours under another number.
    exec {dbgfd}>&2
    QEMU+=(-chardev "file,id=con,path=/dev/fd/$dbgfd,append=on" -serial chardev:con)
else
    QEMU+=(-chardev "file,id=con,path=$(qarg "$TMP/console.log")" -serial chardev:con)
fi

# Copy the guest's streams to ours as they arrive.
cat "$TMP/out" &
cat_out=$!
cat "$TMP/err" >&2 &
cat_err=$!
qpid=
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
    # Release readers still blocked in open() if QEMU never opened the FIFOs:
    # O_RDWR never blocks and counts as the writer they wait for.
    local f fd
    for f in "$TMP/out" "$TMP/err"; do
        [ -p "$f" ] && { exec {fd}<>"$f"; exec {fd}>&-; }
    done
    wait "$cat_out" "$cat_err" 2>/dev/null || true
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

start=$(date +%s.%N)
timeout -k 10 "$TIMEOUT" "${QEMU[@]}" 2>"$TMP/qemu.log" &
qpid=$!
qstatus=0
wait "$qpid" || qstatus=$?
qpid=
elapsed=$(awk -v s="$start" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')

show_logs() {
    if [ -s "$TMP/console.log" ]; then
        sv_log "last guest console lines:"
        tail -n 40 "$TMP/console.log" | tr -d '\r' | sed 's/^/  console| /' >&2
    fi
    if [ -s "$TMP/qemu.log" ]; then
        sv_log "qemu said:"
        sed 's/^/  qemu| /' "$TMP/qemu.log" >&2
    fi
}

if [ -f "$SHARE/rc" ]; then
    rc=$(cat "$SHARE/rc")
    [ "$rc" = 125 ] && show_logs
    if [ "${SANVERBS_VM_TIMING:-0}" = 1 ] && grep -q '^cmd ' "$SHARE/timing" 2>/dev/null; then
        # guest uptimes: stage2 starts, the command starts, the command ends
        awk -v total="$elapsed" '{ t[$1] = $2 } END {
            printf "[sanverbs-vm] timing: total %.1fs = boot to stage 2 %.1fs + rxe set-up %.1fs + command %.1fs + power-off %.1fs\n",
                total, t["stage2"], t["cmd"] - t["stage2"], t["end"] - t["cmd"], total - t["end"] }' "$SHARE/timing" >&2
    fi
    exit "$rc"
fi
if [ "$qstatus" -eq 124 ] || [ "$qstatus" -eq 137 ]; then
    show_logs
    sv_log "timed out after $TIMEOUT s (guest killed): $*"
    exit 124
fi
show_logs
sv_log "guest ended after ${elapsed}s without an exit status (guest panic or crash, or QEMU failed; qemu status $qstatus): $*"
exit 125
