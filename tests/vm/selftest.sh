#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# selftest.sh — prove the SoftRoCE rig end to end, on each guest kernel and in
# both modes. One guest per kernel (or the native rxe), checking that real
# bytes move through rxe:
#   - ibv_devinfo -d rxe0 shows PORT_ACTIVE; the exported GID index is the
#     IPv4-mapped RoCEv2 one
#   - /dev/userfaultfd works (USERFAULTFD_IOC_NEW + UFFDIO_API) while
#     vm.unprivileged_userfaultfd stays 0
#   - ibv_rc_pingpong and rping (rdma_cm) on rxe0
#   - the two-"host" pair: rping, ibv_rc_pingpong, ib_write_bw from
#     SANVERBS_NS_B/rxe_b to SANVERBS_NS_A/rxe_a, with the bytes seen crossing
#     the veth pair
#   - run.sh's native path (SANVERBS_VM=never) inside the guest, which reuses
#     the devices already there
# Then two guests (run.sh --pair, guest A on 6.1 and guest B on 6.12):
#   - guest B answers peer.py and runs its own kernel; both link devices put
#     the IPv4 GID at the same index
#   - rping and ib_write_bw from guest A's rxe_ga to guest B's rxe_gb, with
#     the bytes seen leaving guest A's NIC
#   - a two-host program (--side=a on A, --side=b on B) gives both statuses
#   - guest B crashing mid-run: run.sh stops guest A and exits 125, bounded
# Prints one line per check, then "N passed, M failed", and the wall time of
# each boot. Exits 0 only if every check passed.
#
# Usage: selftest.sh [--timeout SEC] [--kernel 6.1|6.12|all] [--mode single|pair|all]
#   (defaults: all kernels, all modes; the --inside forms are internal)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ "${1:-}" != --inside ] && [ "${1:-}" != --inside-pair ]; then
    timeout=600 kernels=(6.1 6.12) mode=all
    while [ $# -gt 0 ]; do
        case $1 in
            --timeout) timeout=${2:?}; shift ;;
            --kernel) [ "$2" = all ] || kernels=("$2"); shift ;;
            --mode) mode=${2:?}; shift ;;
            *) echo "usage: selftest.sh [--timeout SEC] [--kernel 6.1|6.12|all] [--mode single|pair|all]" >&2; exit 2 ;;
        esac
        shift
    done
    # Fetch first so the timings below are boot + checks + power-off only.
    "$HERE/fetch-guest.sh" --quiet --kernel all
    total_pass=0 total_fail=0
    out=$(mktemp /tmp/sv-selftest-out.XXXXXX)
    trap 'rm -f "$out"' EXIT
    # boot LABEL RUN.SH-ARGS...: one boot; its checks' totals are added up,
    # and a boot that printed no totals counts as one failure
    boot() {
        local label=$1 start st=0 p f
        shift
        start=$(date +%s.%N)
        "$HERE/run.sh" --timeout "$timeout" "$@" 2>&1 | tee "$out" || st=$?
        read -r p f < <(sed -n 's/^\([0-9]*\) passed, \([0-9]*\) failed$/\1 \2/p' "$out" | tail -n1) || true
        if [ -z "${p:-}" ]; then p=0 f=1; echo "FAIL $label: no result (run.sh status $st)"; fi
        [ "$st" -ne 0 ] && [ "$f" -eq 0 ] && { f=1; echo "FAIL $label: run.sh status $st"; }
        total_pass=$((total_pass + p)) total_fail=$((total_fail + f))
        awk -v s="$start" -v e="$(date +%s.%N)" -v l="$label" -v m="${SANVERBS_VM:-auto}" \
            'BEGIN { printf "selftest: %s: boot + checks + power-off took %.1f s (SANVERBS_VM=%s)\n", l, e - s, m }'
    }
    if [ "$mode" != pair ]; then
        for k in "${kernels[@]}"; do
            boot "one guest, $k" --kernel "$k" -- "$HERE/selftest.sh" --inside
        done
    fi
    if [ "$mode" != single ]; then
        boot "two guests, 6.1 + 6.12" --pair --kernel 6.1 --kernel-b 6.12 -- "$HERE/selftest.sh" --inside-pair
        # Guest B crashes (sysrq c, and panic=-1 with -no-reboot ends its
        # QEMU) while guest A waits: run.sh must stop A and say so, quickly.
        start=$(date +%s)
        st=0
        # shellcheck disable=SC2016  # expanded by the inner shell
        "$HERE/run.sh" --timeout 400 --pair --kernel 6.1 --kernel-b 6.12 -- sh -c \
            '/usr/bin/python3 "$1/peer.py" run --timeout 30 -- sh -c "echo 1 >/proc/sys/kernel/panic_on_oops; echo c >/proc/sysrq-trigger" >/dev/null 2>&1; sleep 300' \
            sh "$HERE" >"$out" 2>&1 || st=$?
        took=$(($(date +%s) - start))
        if [ "$st" = 125 ] && [ "$took" -lt 300 ] && grep -q 'guest B ended' "$out"; then
            total_pass=$((total_pass + 1))
            echo "PASS guest B crashing stops the pair: status 125 after ${took}s: $(grep -m1 'guest B ended' "$out")"
        else
            total_fail=$((total_fail + 1))
            echo "FAIL guest B crashing: status $st after ${took}s"
            tail -n 20 "$out" | sed 's/^/  | /'
        fi
    fi
    echo "$total_pass passed, $total_fail failed"
    [ "$total_fail" -eq 0 ]
    exit
fi

# ---------------------------------------------------------------- inside ---
pass=0
fail=0
LOG=$(mktemp -d /tmp/sv-selftest.XXXXXX)
t0=$EPOCHREALTIME

elapsed() { awk -v s="$t0" -v e="$EPOCHREALTIME" 'BEGIN { printf "%5.1f", e - s }'; }
show_logs() {
    local f
    for f in "$LOG"/*; do
        [ -s "$f" ] || continue
        echo "  --- ${f##*/} (error lines, then the end)"
        { grep -iE 'error|fail|unable|couldn|exceeded|timed? ?out' "$f" | head -n 5; tail -n 8 "$f"; } | sed 's/^/  | /'
    done
}

# check DESCRIPTION FUNCTION: a check passes if FUNCTION returns 0; it may
# set $msg to details for the PASS line. Under TCG on a busy host an RC QP
# can miss its ack timeout (ibv_rc_pingpong hard-codes 67 ms), so a failed
# check is run once more and its PASS line says so.
check() {
    local desc=$1 fn=$2 try
    for try in 1 2; do
        rm -f "$LOG"/*
        msg=
        if "$fn"; then
            pass=$((pass + 1))
            echo "[$(elapsed)s] PASS $desc${msg:+: $msg}$([ "$try" = 2 ] && echo ' (second try)')"
            return 0
        fi
        if [ "$try" = 1 ]; then
            echo "[$(elapsed)s] retry $desc${msg:+ ($msg)}"
            show_logs
        fi
    done
    fail=$((fail + 1))
    echo "[$(elapsed)s] FAIL $desc${msg:+: $msg}"
    show_logs
    return 0
}

counter() { local v; read -r v <"/sys/class/infiniband/$1/ports/1/hw_counters/$2"; echo "$v"; }

# wait_tcp PORT: until something listens (ibv_rc_pingpong/perftest exchange
# QP numbers over TCP first), so the client never races the server.
wait_tcp() {
    for _ in $(seq 1 200); do
        ss -Hltn "sport = :$1" | grep -q . && return 0
        sleep 0.05
    done
    echo "nothing listens on TCP $1" >&2
    return 1
}
# wait_cm IP: until an rdma_cm id listens on IP (rping has no TCP socket).
wait_cm() {
    for _ in $(seq 1 200); do
        rdma resource show cm_id 2>/dev/null | grep 'state LISTEN' | grep -q "src-addr $1:" && return 0
        sleep 0.05
    done
    echo "no rdma_cm listener on $1" >&2
    return 1
}

# run_pair NAME WAITER ARG SERVER... -- CLIENT...: server in the background,
# client in the foreground once WAITER ARG sees the server listening, both
# bounded; output in $LOG/NAME.server and $LOG/NAME.client.
run_pair() {
    local name=$1 waiter=$2 arg=$3
    shift 3
    local srv=()
    while [ "$1" != -- ]; do srv+=("$1"); shift; done
    shift
    timeout 120 "${srv[@]}" >"$LOG/$name.server" 2>&1 &
    local spid=$! cst=0 sst=0
    if ! "$waiter" "$arg" 2>>"$LOG/$name.client"; then
        kill "$spid" 2>/dev/null
        wait "$spid" 2>/dev/null
        return 1
    fi
    timeout 120 "$@" >>"$LOG/$name.client" 2>&1 || cst=$?
    wait "$spid" || sst=$?
    [ "$cst" -eq 0 ] && [ "$sst" -eq 0 ]
}

A=(ip netns exec "$SANVERBS_NS_A")
B=(ip netns exec "$SANVERBS_NS_B")
# the netdev under rxe_b, named by the rdma tool in B's namespace
netdev_b=$("${B[@]}" rdma link show "$SANVERBS_RXE_B/1" | sed -n 's/.* netdev \([^ ]*\).*/\1/p')
txb() { "${B[@]}" cat "/sys/class/net/$netdev_b/statistics/tx_bytes"; }

# --- the checks --------------------------------------------------------------
t_devinfo() {
    ibv_devinfo -d "$SANVERBS_RXE_DEV" >"$LOG/devinfo" 2>&1 && grep -q 'state:.*PORT_ACTIVE' "$LOG/devinfo"
}

t_gid() {
    local f=/sys/class/infiniband/$SANVERBS_RXE_DEV/ports/1 gid gtype want
    read -r gid <"$f/gids/$SANVERBS_RXE_GID_INDEX"
    read -r gtype <"$f/gid_attrs/types/$SANVERBS_RXE_GID_INDEX"
    # shellcheck disable=SC2086  # split the dotted quad into printf's arguments
    printf -v want '0000:0000:0000:0000:0000:ffff:%02x%02x:%02x%02x' ${SANVERBS_RXE_IP//./ }
    msg="$gid ($gtype)"
    [ "$gid" = "$want" ] && [ "$gtype" = "RoCE v2" ]
}

t_uffd() {
    local knob
    read -r knob </proc/sys/vm/unprivileged_userfaultfd
    msg="vm.unprivileged_userfaultfd=$knob"
    [ "$knob" = 0 ] && [ -c /dev/userfaultfd ] || return 1
    # /usr/bin/python3: a pyenv shim first on PATH costs tens of seconds under TCG
    /usr/bin/python3 - >"$LOG/uffd" 2>&1 <<'EOF' || return 1
import fcntl, os, struct
fd = os.open('/dev/userfaultfd', os.O_RDWR | os.O_CLOEXEC)
uffd = fcntl.ioctl(fd, 0xAA00, os.O_CLOEXEC)        # USERFAULTFD_IOC_NEW
api = bytearray(struct.pack('QQQ', 0xAA, 0, 0))     # struct uffdio_api
fcntl.ioctl(uffd, 0xC018AA3F, api)                  # UFFDIO_API
print('UFFDIO_API features 0x%x' % struct.unpack('QQQ', api)[1])
EOF
    msg="$msg, $(cat "$LOG/uffd")"
}

# 100 round trips of 4096 bytes: both sides report 2*100*4096 = 819200 bytes.
t_pp0() {
    local before
    before=$(counter "$SANVERBS_RXE_DEV" sent_pkts)
    run_pair pp0 wait_tcp 18515 ibv_rc_pingpong -d "$SANVERBS_RXE_DEV" -g "$SANVERBS_RXE_GID_INDEX" -n 100 -- \
        ibv_rc_pingpong -d "$SANVERBS_RXE_DEV" -g "$SANVERBS_RXE_GID_INDEX" -n 100 "$SANVERBS_RXE_IP" &&
        grep -q '^819200 bytes in' "$LOG/pp0.client" && grep -q '^819200 bytes in' "$LOG/pp0.server" || return 1
    msg="$(grep 'bytes in' "$LOG/pp0.client"), $(($(counter "$SANVERBS_RXE_DEV" sent_pkts) - before)) packets"
}

t_rping0() {
    run_pair rping0 wait_cm "$SANVERBS_RXE_IP" rping -s -a "$SANVERBS_RXE_IP" -C 3 -- \
        rping -c -a "$SANVERBS_RXE_IP" -C 3 -v &&
        [ "$(grep -c 'ping data: rdma-ping-' "$LOG/rping0.client")" = 3 ] || return 1
    msg="3 pings verified"
}

t_rping2() {
    local b0
    b0=$(txb)
    run_pair rping2 wait_cm "$SANVERBS_IP_A" "${A[@]}" rping -s -a "$SANVERBS_IP_A" -C 3 -- \
        "${B[@]}" rping -c -a "$SANVERBS_IP_A" -C 3 -v &&
        [ "$(grep -c 'ping data: rdma-ping-' "$LOG/rping2.client")" = 3 ] || return 1
    msg="3 pings verified, $(($(txb) - b0)) bytes out of $netdev_b"
}

t_pp2() {
    run_pair pp2 wait_tcp 18515 "${A[@]}" ibv_rc_pingpong -d "$SANVERBS_RXE_A" -g "$SANVERBS_GID_INDEX_A" -n 100 -- \
        "${B[@]}" ibv_rc_pingpong -d "$SANVERBS_RXE_B" -g "$SANVERBS_GID_INDEX_B" -n 100 "$SANVERBS_IP_A" &&
        grep -q '^819200 bytes in' "$LOG/pp2.client" && grep -q '^819200 bytes in' "$LOG/pp2.server" || return 1
    msg=$(grep 'bytes in' "$LOG/pp2.client")
}

# 100 RDMA writes of 64 KiB. -u 20: QP ack timeout 4.096 us * 2^20 = 4.3 s
# instead of perftest's 67 ms, which rxe under TCG on a busy host can miss
# ("transport retry counter exceeded").
t_bw2() {
    local b0 rx0 moved bw
    b0=$(txb)
    rx0=$(counter "$SANVERBS_RXE_A" rcvd_pkts)
    run_pair bw2 wait_tcp 18515 "${A[@]}" ib_write_bw -d "$SANVERBS_RXE_A" -x "$SANVERBS_GID_INDEX_A" -s 65536 -n 100 -u 20 -- \
        "${B[@]}" ib_write_bw -d "$SANVERBS_RXE_B" -x "$SANVERBS_GID_INDEX_B" -s 65536 -n 100 -u 20 "$SANVERBS_IP_A" || return 1
    moved=$(($(txb) - b0))
    bw=$(awk '$1 == 65536 && $2 == 100 { print $4 }' "$LOG/bw2.client" | head -n1)
    msg="${bw:-?} MB/s average, $moved bytes out of $netdev_b, $(($(counter "$SANVERBS_RXE_A" rcvd_pkts) - rx0)) packets into $SANVERBS_RXE_A"
    [ "$moved" -ge $((100 * 65536)) ] && [ -n "$bw" ]
}

# run.sh's native path: inside the guest the kernel has rxe, so the nested
# run.sh must not boot another guest and must reuse the devices.
t_native() {
    # shellcheck disable=SC2016  # expanded by the inner shell
    SANVERBS_VM=never "$HERE/run.sh" --timeout 60 -- sh -c \
        'test "$SANVERBS_RXE_DEV" = rxe0 && test -n "$SANVERBS_RXE_GID_INDEX" && test "$(ulimit -l)" = unlimited &&
         ibv_devinfo -d rxe0 | grep -q PORT_ACTIVE' >"$LOG/native" 2>&1
}

# --- two guests (--inside-pair, on guest A) ----------------------------------
PEER=(/usr/bin/python3 "$HERE/peer.py")
link_dev_a=$(ip -o addr show to "${SANVERBS_LINK_IP_A:-0.0.0.0}" 2>/dev/null | awk '{ print $2; exit }')
txa() { cat "/sys/class/net/$link_dev_a/statistics/tx_bytes"; }

# retry CMD...: a client on guest A, run again (bounded, 60 s) until the
# server started on guest B through peer.py listens
retry() {
    local end=$((SECONDS + 60))
    until "$@"; do
        [ "$SECONDS" -lt "$end" ] || return 1
        sleep 1
    done
}

# on_b NAME CMD...: CMD on guest B in the background, output in $LOG/NAME.b
on_b() {
    local name=$1
    shift
    "${PEER[@]}" run --timeout 150 -- "$@" >"$LOG/$name.b" 2>&1 &
    BPID=$!
}

t_peer() {
    local kb ka
    ka=$(uname -r)
    kb=$("${PEER[@]}" run --timeout 60 -- uname -r 2>"$LOG/peer") || return 1
    msg="guest A runs $ka, guest B runs $kb"
    [ -n "$kb" ]
}

t_link_gid() {
    local gb
    # guest B's own value of the variable (peer.py keeps B's rig variables)
    # shellcheck disable=SC2016  # expanded on guest B
    gb=$("${PEER[@]}" run --timeout 60 -- sh -c 'echo "$SANVERBS_LINK_GID_INDEX"' 2>"$LOG/gid") || return 1
    msg="A $SANVERBS_LINK_GID_INDEX, B $gb"
    [ "$gb" = "$SANVERBS_LINK_GID_INDEX" ]
}

t_link_rping() {
    on_b rping rping -s -a "$SANVERBS_LINK_IP_B" -C 3
    retry rping -c -a "$SANVERBS_LINK_IP_B" -C 3 -v >"$LOG/rping.a" 2>&1 || { wait "$BPID"; return 1; }
    wait "$BPID" || return 1
    [ "$(grep -c 'ping data: rdma-ping-' "$LOG/rping.a")" = 3 ] || return 1
    msg="3 pings verified, guest A -> guest B"
}

# 100 RDMA writes of 64 KiB from guest A to guest B, -u 20 as above.
t_link_bw() {
    local a0 moved bw
    a0=$(txa)
    on_b bw ib_write_bw -d "$SANVERBS_LINK_RXE_B" -x "$SANVERBS_LINK_GID_INDEX" -s 65536 -n 100 -u 20
    retry ib_write_bw -d "$SANVERBS_LINK_RXE_A" -x "$SANVERBS_LINK_GID_INDEX" -s 65536 -n 100 -u 20 \
        "$SANVERBS_LINK_IP_B" >"$LOG/bw.a" 2>&1 || { wait "$BPID"; return 1; }
    wait "$BPID" || return 1
    moved=$(($(txa) - a0))
    bw=$(awk '$1 == 65536 && $2 == 100 { print $4 }' "$LOG/bw.a" | head -n1)
    msg="${bw:-?} MB/s average, $moved bytes out of guest A's $link_dev_a"
    [ "$moved" -ge $((100 * 65536)) ] && [ -n "$bw" ]
}

# A two-host program (side-check.sh) through peer.py pair: side B exits 3,
# which must come back as side B's status.
t_link_pair() {
    local out
    out=$("${PEER[@]}" pair --timeout 60 -- "$HERE/side-check.sh" 2>&1)
    echo "$out" >"$LOG/pair"
    msg=$(echo "$out" | grep '^two hosts:')
    [[ $msg == *"side A exit 0"*"side B exit 3"* ]]
}

if [ "$1" = --inside-pair ]; then
    echo "selftest (pair) in guest A $(uname -r): link $SANVERBS_LINK_RXE_A $SANVERBS_LINK_IP_A ($link_dev_a)" \
         "-> guest B $SANVERBS_LINK_RXE_B $SANVERBS_LINK_IP_B, gid $SANVERBS_LINK_GID_INDEX"
    check "guest B answers peer.py" t_peer
    check "both link devices have the IPv4 GID at index $SANVERBS_LINK_GID_INDEX" t_link_gid
    check "rping guest A -> guest B ($SANVERBS_LINK_IP_B)" t_link_rping
    check "ib_write_bw $SANVERBS_LINK_RXE_A -> $SANVERBS_LINK_RXE_B" t_link_bw
    check "peer.py pair: side A on guest A, side B on guest B, both statuses" t_link_pair
    rm -rf "$LOG"
    echo "$pass passed, $fail failed"
    [ "$fail" -eq 0 ]
    exit
fi

echo "selftest in $(uname -r) (SANVERBS_IN_VM=${SANVERBS_IN_VM:-0}): rxe0 $SANVERBS_RXE_IP gid $SANVERBS_RXE_GID_INDEX;" \
     "two hosts ($SANVERBS_TWOHOST_MODE): $SANVERBS_NS_A/$SANVERBS_RXE_A $SANVERBS_IP_A gid $SANVERBS_GID_INDEX_A," \
     "$SANVERBS_NS_B/$SANVERBS_RXE_B $SANVERBS_IP_B gid $SANVERBS_GID_INDEX_B"
check "ibv_devinfo -d $SANVERBS_RXE_DEV shows PORT_ACTIVE" t_devinfo
check "GID index $SANVERBS_RXE_GID_INDEX is the IPv4-mapped RoCEv2 GID" t_gid
check "/dev/userfaultfd usable" t_uffd
check "ibv_rc_pingpong on $SANVERBS_RXE_DEV" t_pp0
check "rping on $SANVERBS_RXE_DEV ($SANVERBS_RXE_IP)" t_rping0
check "rping $SANVERBS_NS_B -> $SANVERBS_NS_A ($SANVERBS_IP_A)" t_rping2
check "ibv_rc_pingpong $SANVERBS_RXE_B -> $SANVERBS_RXE_A" t_pp2
check "ib_write_bw $SANVERBS_RXE_B -> $SANVERBS_RXE_A" t_bw2
check "run.sh native mode (SANVERBS_VM=never) reuses rxe0" t_native

rm -rf "$LOG"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
