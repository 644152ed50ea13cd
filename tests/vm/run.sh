#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# run.sh — run a command as root on a machine that has a SoftRoCE (rxe) device.
#
# Usage: run.sh [--kernel K] [--timeout SEC] [--rw DIR]... [--kmod PATH.ko]
#               [--mem SIZE] [--memlock KB]
#               [--pair [--kernel-b K] [--kmod-b PATH.ko]] -- CMD [ARGS...]
#
# CMD runs with the caller's working directory and environment, with stdin
# from /dev/null and its stdout/stderr streamed to ours as it runs; run.sh
# exits with CMD's exit status. Exported to CMD:
#   SANVERBS_RXE_DEV=rxe0  SANVERBS_RXE_IP  SANVERBS_RXE_GID_INDEX
#   SANVERBS_NS_A  SANVERBS_NS_B  SANVERBS_IP_A  SANVERBS_IP_B
#   SANVERBS_RXE_A  SANVERBS_RXE_B  SANVERBS_GID_INDEX_A  SANVERBS_GID_INDEX_B
#   SANVERBS_TWOHOST_MODE  SANVERBS_IN_VM=1 (guest only)
#   SANVERBS_KMOD_KO (the --kmod module)
#   with --pair, on both guests: SANVERBS_GUEST (a or b), SANVERBS_LINK_NS,
#   SANVERBS_LINK_IP_A/B, SANVERBS_LINK_RXE_A/B, SANVERBS_LINK_GID_INDEX,
#   SANVERBS_PEER_HOST (guest B's link address, for tests/vm/peer.py)
# Options:
#   --kernel K     guest kernel: 6.1 (Debian 12) or 6.12 (default
#                  $SANVERBS_KERNEL, else 6.1); see fetch-guest.sh
#   --timeout SEC  bound the whole run (default 900); on expiry exit 124
#   --rw DIR       make DIR writable in the guest at the same path, backed by
#                  the host directory (repeatable; created if missing)
#   --kmod PATH    insmod this module once rdma_rxe and the rxe devices are
#                  up; failure is fatal (status 125)
#   --mem SIZE     guest memory (default 2G)
#   --memlock KB   RLIMIT_MEMLOCK for CMD (default unlimited)
#   --pair         boot two guests joined by an Ethernet link (QEMU socket
#                  netdev over TCP on the host's loopback): CMD runs on guest
#                  A; guest B serves tests/vm/peer.py (`peer.py run -- CMD`,
#                  `peer.py pair -- PROG`) until CMD ends. If guest B dies
#                  first, guest A is stopped and run.sh exits 125.
#   --kernel-b K   guest B's kernel (default: --kernel)
#   --kmod-b PATH  guest B's module (built for its kernel)
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
KERNEL=${SANVERBS_KERNEL:-6.1}
PAIR=0
KERNEL_B=
KMOD_B=
while [ $# -gt 0 ]; do
    case $1 in
        --kernel) KERNEL=${2:?--kernel needs 6.1 or 6.12}; shift ;;
        --pair) PAIR=1 ;;
        --kernel-b) KERNEL_B=${2:?--kernel-b needs 6.1 or 6.12}; shift ;;
        --kmod-b) KMOD_B=${2:?--kmod-b needs a .ko path}; shift ;;
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
KERNEL_B=${KERNEL_B:-$KERNEL}
for k in "$KERNEL" "$KERNEL_B"; do
    sv_kernel_known "$k" || sv_die "unknown kernel '$k' (known: ${SV_KERNELS[*]})"
done
if [ -n "$KMOD_B" ]; then
    [ "$PAIR" = 1 ] || sv_die "--kmod-b needs --pair"
    [ -f "$KMOD_B" ] || sv_die "--kmod-b $KMOD_B: no such file"
    KMOD_B=$(realpath "$KMOD_B")
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
# two guests are always guests
[ "$PAIR" = 1 ] && [ "$MODE" != never ] && MODE=force
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
        export SANVERBS_KMOD_KO=$KMOD
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
"$SV_VM_DIR/fetch-guest.sh" --quiet --kernel "$KERNEL"
[ "$PAIR" = 1 ] && "$SV_VM_DIR/fetch-guest.sh" --quiet --kernel "$KERNEL_B"
sv_need_pkgs "${SV_HOST_PKGS[@]}"
case "$SV_CACHE$SV_VM_DIR" in
    *[[:space:]]*) sv_die "paths with white space cannot go on the guest kernel command line: $SV_CACHE $SV_VM_DIR" ;;
esac

# One private directory per run: per guest the job share (exit status, job
# description) plus host-only FIFOs and logs next to it, so concurrent runs
# never collide.
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sanverbs-vm.XXXXXX")

# QEMU option values escape ',' by doubling it.
qarg() { printf '%s' "${1//,/,,}"; }

# The pair's link: guest A's QEMU listens on a TCP port of the host's
# loopback and guest B's connects to it; Ethernet frames go through that
# stream. Not UDP (-netdev socket,udp=): on a loaded host the receiving
# QEMU drains its socket too late, the kernel drops datagrams (measured:
# 141512 of 351725 in one run, RcvbufErrors) and rxe stalls in
# retransmissions; TCP loses nothing and pushes back instead. A free port,
# asked of the kernel.
if [ "$PAIR" = 1 ]; then
    LINK_PORT=$(/usr/bin/python3 -c '
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
fi

# start_guest NAME KERNEL KMOD CMD...: prepares $TMP/NAME and starts its QEMU
# in the background; its pid goes to QPID_<NAME>, its output to our stdout
# (guest A, or the only guest) or, prefixed, to our stderr (guest B).
CAT_PIDS=()
start_guest() {
    local name=$1 kernel=$2 kmod=$3 dir=$TMP/$1 i guest='' mac='' loglevel
    shift 3
    mkdir -p "$dir"
    mkdir -m 0755 "$dir/share"
    mkfifo "$dir/out" "$dir/err"
    # shellcheck disable=SC1090
    . "$(sv_kernel_env "$kernel")"
    if [ "$PAIR" = 1 ]; then
        guest=$name
        mac=52:54:00:53:56:$([ "$name" = a ] && echo 0a || echo 0b)
    fi
    # job.sh is sourced by guest-init.sh; %q keeps every argument intact.
    {
        printf 'SV_CWD=%q\n' "$PWD"
        printf 'SV_CMD=('; printf '%q ' "$@"; printf ')\n'
        printf 'SV_RW=('; [ "${#RW[@]}" -gt 0 ] && printf '%q ' "${RW[@]}"; printf ')\n'
        printf 'SV_KMOD=%q\n' "$kmod"
        printf 'SV_KHEADERS=%q\n' "$SV_KHEADERS"
        printf 'SV_MEMLOCK=%q\n' "$MEMLOCK"
        printf 'SV_DEBUG=%q\n' "${SANVERBS_VM_DEBUG:-0}"
        printf 'SV_GUEST=%q\n' "$guest"
        printf 'SV_LINK_MAC=%q\n' "$mac"
        printf 'SANVERBS_TWOHOST=%q\n' "${SANVERBS_TWOHOST:-auto}"
    } >"$dir/share/job.sh"
    env -0 >"$dir/share/env0"
    loglevel=${SANVERBS_VM_LOGLEVEL:-$([ "${SANVERBS_VM_DEBUG:-0}" = 1 ] && echo 7 || echo 4)}
    # no_timer_check: on a loaded host the boot-time check that the timer
    # interrupt arrives through the IO-APIC can time out under TCG, and the
    # kernel panics ("IO-APIC + timer doesn't work!", seen on 6.12).
    # shellcheck disable=SC2054  # commas here are QEMU's, not array separators
    local q=(qemu-system-x86_64
        -accel tcg -cpu max -M "${SANVERBS_VM_MACHINE:-q35}" -smp 2 -m "$MEM"
        -nodefaults -no-user-config -display none -no-reboot
        -kernel "$(qarg "$SV_VMLINUX")" -initrd "$(qarg "$SV_INITRD")"
        -append "console=ttyS0 panic=-1 quiet no_timer_check loglevel=$loglevel sv_kver=$SV_KVER sv_modroot=$SV_MODROOT sv_stage2=$SV_VM_DIR/guest-init.sh ${SANVERBS_VM_APPEND:-}"
        -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap
        -virtfs "local,path=$(qarg "$dir/share"),mount_tag=svjob,security_model=none"
        -device virtio-serial-pci
        -chardev "file,id=svout,path=$(qarg "$dir/out")" -device virtserialport,chardev=svout,name=sv.stdout
        -chardev "file,id=sverr,path=$(qarg "$dir/err")" -device virtserialport,chardev=sverr,name=sv.stderr
    )
    for i in "${!RW[@]}"; do
        q+=(-virtfs "local,path=$(qarg "${RW[$i]}"),mount_tag=svrw$i,security_model=none,multidevs=remap")
    done
    if [ -n "$guest" ]; then
        if [ "$name" = a ]; then
            q+=(-netdev "socket,id=link,listen=127.0.0.1:$LINK_PORT")
        else
            q+=(-netdev "socket,id=link,connect=127.0.0.1:$LINK_PORT")
        fi
        q+=(-device "virtio-net-pci,netdev=link,mac=$mac")
    fi
    # The console (kernel messages, stage 1) goes to a log shown on failure;
    # with SANVERBS_VM_DEBUG=1 to our stderr, appended so a redirected log
    # survives.
    if [ "${SANVERBS_VM_DEBUG:-0}" = 1 ]; then
        # QEMU's own stderr goes to qemu.log: hand it ours under another number.
        local dbgfd
        exec {dbgfd}>&2
        q+=(-chardev "file,id=con,path=/dev/fd/$dbgfd,append=on" -serial chardev:con)
    else
        q+=(-chardev "file,id=con,path=$(qarg "$dir/console.log")" -serial chardev:con)
    fi
    # Copy the guest's streams to ours as they arrive.
    if [ "$name" = b ]; then
        sed -u 's/^/[guest B] /' <"$dir/out" >&2 &
        CAT_PIDS+=($!)
        sed -u 's/^/[guest B] /' <"$dir/err" >&2 &
    else
        cat "$dir/out" &
        CAT_PIDS+=($!)
        cat "$dir/err" >&2 &
    fi
    CAT_PIDS+=($!)
    date +%s.%N >"$dir/start"
    timeout -k 10 "$TIMEOUT" "${q[@]}" 2>"$dir/qemu.log" &
    printf -v "QPID_$name" %s $!
}

QPID_a='' QPID_b=''
# shellcheck disable=SC2317  # reached through the EXIT trap
cleanup() {
    local p f fd
    for p in "$QPID_a" "$QPID_b"; do
        [ -n "$p" ] && kill "$p" 2>/dev/null
    done
    # Release readers still blocked in open() if QEMU never opened the FIFOs:
    # O_RDWR never blocks and counts as the writer they wait for.
    for f in "$TMP"/*/out "$TMP"/*/err; do
        [ -p "$f" ] && { exec {fd}<>"$f"; exec {fd}>&-; }
    done
    [ "${#CAT_PIDS[@]}" -gt 0 ] && wait "${CAT_PIDS[@]}" 2>/dev/null
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# show_logs NAME: the guest's last console lines and QEMU's messages
show_logs() {
    local dir=$TMP/$1 who=${2:-}
    if [ -s "$dir/console.log" ]; then
        sv_log "last ${who}console lines:"
        tail -n 40 "$dir/console.log" | tr -d '\r' | sed 's/^/  console| /' >&2
    fi
    if [ -s "$dir/qemu.log" ]; then
        sv_log "${who}qemu said:"
        sed 's/^/  qemu| /' "$dir/qemu.log" >&2
    fi
}

# timing NAME: SANVERBS_VM_TIMING's line from the guest's uptime stamps
timing() {
    local dir=$TMP/$1 elapsed
    [ "${SANVERBS_VM_TIMING:-0}" = 1 ] && grep -q '^cmd ' "$dir/share/timing" 2>/dev/null || return 0
    elapsed=$(awk -v s="$(cat "$dir/start")" -v e="$(date +%s.%N)" 'BEGIN { printf "%.1f", e - s }')
    # guest uptimes: stage2 starts, the command starts, the command ends
    awk -v total="$elapsed" -v who="${2:-}" '{ t[$1] = $2 } END {
        printf "[sanverbs-vm] %stiming: total %.1fs = boot to stage 2 %.1fs + rxe set-up %.1fs + command %.1fs + power-off %.1fs\n",
            who, total, t["stage2"], t["cmd"] - t["stage2"], t["end"] - t["cmd"], total - t["end"] }' "$dir/share/timing" >&2
}

# result NAME QEMU_STATUS WHO: the guest's exit status; says why when the
# guest gave none
result() {
    local dir=$TMP/$1 qstatus=$2 who=${3:-} rc what=$CMD_TEXT
    # guest B of a pair runs the request server, not the caller's command
    [ "$1" = b ] && what="peer.py serve (guest B's request server)"
    if [ -f "$dir/share/rc" ]; then
        rc=$(cat "$dir/share/rc")
        [ "$rc" = 125 ] && show_logs "$1" "$who"
        timing "$1" "$who"
        echo "$rc"
        return
    fi
    show_logs "$1" "$who"
    if [ "$qstatus" -eq 124 ] || [ "$qstatus" -eq 137 ]; then
        sv_log "${who}timed out after $TIMEOUT s (guest killed): $what"
        echo 124
        return
    fi
    sv_log "${who}ended without an exit status (guest panic or crash, or QEMU failed; qemu status $qstatus): $what"
    echo 125
}
CMD_TEXT="$*"

if [ "$PAIR" = 0 ]; then
    start_guest a "$KERNEL" "$KMOD" "$@"
    qstatus=0
    wait "$QPID_a" || qstatus=$?
    QPID_a=
    exit "$(result a "$qstatus")"
fi

# A pair: guest B serves peer.py requests until guest A's command is done.
# Guest A's QEMU must listen on the link before guest B's connects.
start_guest a "$KERNEL" "$KMOD" "$@"
for ((i = 0; i < 300; i++)); do
    ss -Hltn "sport = :$LINK_PORT" | grep -q . && break
    kill -0 "$QPID_a" 2>/dev/null || break
    sleep 0.1
done
start_guest b "$KERNEL_B" "$KMOD_B" /usr/bin/python3 "$SV_VM_DIR/peer.py" serve --stop-file /run/sanverbs-job/stop
first=
qstatus=0
wait -n -p first "$QPID_a" "$QPID_b" || qstatus=$?
if [ "$first" = "$QPID_b" ]; then
    # Guest B must outlive guest A's command: whatever it says, the pair is
    # broken. Stop guest A now instead of letting it wait for its peer.
    QPID_b=
    rc_b=$(result b "$qstatus" "guest B ($KERNEL_B): ")
    sv_log "guest B ended (status $rc_b) while guest A was still running: stopping guest A"
    kill "$QPID_a" 2>/dev/null
    wait "$QPID_a" 2>/dev/null || true
    QPID_a=
    exit 125
fi
QPID_a=
rc_a=$(result a "$qstatus" "guest A ($KERNEL): ")
# Guest B powers off once told to stop; bounded like everything else.
: >"$TMP/b/share/stop"
for ((i = 0; i < 600; i++)); do
    kill -0 "$QPID_b" 2>/dev/null || break
    sleep 0.1
done
qstatus_b=0
if kill -0 "$QPID_b" 2>/dev/null; then
    kill "$QPID_b" 2>/dev/null
    sv_log "guest B did not power off within 60 s of being asked: killed"
fi
wait "$QPID_b" || qstatus_b=$?
QPID_b=
rc_b=$(result b "$qstatus_b" "guest B ($KERNEL_B): ")
sv_log "pair: guest A ($KERNEL) exit $rc_a, guest B ($KERNEL_B) exit $rc_b"
if [ "$rc_a" != 0 ]; then
    exit "$rc_a"
fi
[ "$rc_b" = 0 ] || exit 125
exit 0
