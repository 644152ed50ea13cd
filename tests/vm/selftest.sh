#!/usr/bin/env bash
# selftest.sh — prove the SoftRoCE rig end to end: boot the guest (or use the
# native rxe), then check that real bytes move through rxe:
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
# Prints one line per check, then "N passed, M failed", and the wall time of
# boot + smoke + power-off. Exits 0 only if every check passed.
#
# Usage: selftest.sh [--timeout SEC]      (the --inside form is internal)
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ "${1:-}" != --inside ]; then
    timeout=600
    [ "${1:-}" = --timeout ] && timeout=${2:?}
    # Fetch first so the timing below is boot + smoke + power-off only.
    "$HERE/fetch-guest.sh" --quiet
    start=$(date +%s.%N)
    status=0
    "$HERE/run.sh" --timeout "$timeout" -- "$HERE/selftest.sh" --inside || status=$?
    end=$(date +%s.%N)
    awk -v s="$start" -v e="$end" -v m="${SANVERBS_VM:-auto}" \
        'BEGIN { printf "selftest: boot + smoke + power-off took %.1f s (SANVERBS_VM=%s)\n", e - s, m }'
    exit "$status"
fi

# ---------------------------------------------------------------- inside ---
pass=0
fail=0
LOG=$(mktemp -d /tmp/sv-selftest.XXXXXX)
t0=$(date +%s.%N)

elapsed() { awk -v s="$t0" -v e="$(date +%s.%N)" 'BEGIN { printf "%5.1f", e - s }'; }
ok() { pass=$((pass + 1)); echo "[$(elapsed)s] PASS $*"; }
bad() {
    fail=$((fail + 1))
    echo "[$(elapsed)s] FAIL $*"
    local f
    for f in "$LOG"/*; do
        [ -s "$f" ] || continue
        echo "  --- ${f##*/}"
        tail -n 15 "$f" | sed 's/^/  | /'
    done
}
clean_logs() { rm -f "$LOG"/*; }

counter() { cat "/sys/class/infiniband/$1/ports/1/hw_counters/$2"; }

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

# run_pair NAME SERVER-PREFIX... -- CLIENT...: server in the background,
# client in the foreground, both bounded; logs in $LOG/NAME.{server,client}.
run_pair() {
    local name=$1 waiter=$2 arg=$3
    shift 3
    local srv=()
    while [ "$1" != -- ]; do srv+=("$1"); shift; done
    shift
    timeout 120 "${srv[@]}" >"$LOG/$name.server" 2>&1 &
    local spid=$! cst=0 sst=0
    "$waiter" "$arg" 2>>"$LOG/$name.client" || { kill "$spid" 2>/dev/null; wait "$spid" 2>/dev/null; return 1; }
    timeout 120 "$@" >>"$LOG/$name.client" 2>&1 || cst=$?
    wait "$spid" || sst=$?
    [ "$cst" -eq 0 ] && [ "$sst" -eq 0 ]
}

echo "selftest in $(uname -r) (SANVERBS_IN_VM=${SANVERBS_IN_VM:-0}): rxe0 $SANVERBS_RXE_IP gid $SANVERBS_RXE_GID_INDEX;" \
     "two hosts ($SANVERBS_TWOHOST_MODE): $SANVERBS_NS_A/$SANVERBS_RXE_A $SANVERBS_IP_A gid $SANVERBS_GID_INDEX_A," \
     "$SANVERBS_NS_B/$SANVERBS_RXE_B $SANVERBS_IP_B gid $SANVERBS_GID_INDEX_B"

# 1. device and GID -------------------------------------------------------
clean_logs
if ibv_devinfo -d "$SANVERBS_RXE_DEV" >"$LOG/devinfo" 2>&1 && grep -q 'state:.*PORT_ACTIVE' "$LOG/devinfo"; then
    ok "ibv_devinfo -d $SANVERBS_RXE_DEV: PORT_ACTIVE"
else
    bad "ibv_devinfo -d $SANVERBS_RXE_DEV"
fi
clean_logs
gidf=/sys/class/infiniband/$SANVERBS_RXE_DEV/ports/1
gid=$(cat "$gidf/gids/$SANVERBS_RXE_GID_INDEX")
gtype=$(cat "$gidf/gid_attrs/types/$SANVERBS_RXE_GID_INDEX")
# shellcheck disable=SC2086  # split the dotted quad into printf's arguments
ipgid=$(printf '0000:0000:0000:0000:0000:ffff:%02x%02x:%02x%02x' ${SANVERBS_RXE_IP//./ })
if [ "$gid" = "$ipgid" ] && [ "$gtype" = "RoCE v2" ]; then
    ok "GID index $SANVERBS_RXE_GID_INDEX is $gid ($gtype)"
else
    bad "GID index $SANVERBS_RXE_GID_INDEX is '$gid' ($gtype), wanted $ipgid (RoCE v2)"
fi

# 2. userfaultfd ------------------------------------------------------------
clean_logs
if [ "$(sysctl -n vm.unprivileged_userfaultfd)" = 0 ] && [ -c /dev/userfaultfd ] &&
   /usr/bin/python3 - >"$LOG/uffd" 2>&1 <<'EOF'
import fcntl, os, struct
fd = os.open('/dev/userfaultfd', os.O_RDWR | os.O_CLOEXEC)
uffd = fcntl.ioctl(fd, 0xAA00, os.O_CLOEXEC)        # USERFAULTFD_IOC_NEW
api = bytearray(struct.pack('QQQ', 0xAA, 0, 0))     # struct uffdio_api
fcntl.ioctl(uffd, 0xC018AA3F, api)                  # UFFDIO_API
print('UFFDIO_API features 0x%x' % struct.unpack('QQQ', api)[1])
EOF
then
    ok "/dev/userfaultfd usable, vm.unprivileged_userfaultfd=0, $(cat "$LOG/uffd")"
else
    bad "/dev/userfaultfd (vm.unprivileged_userfaultfd=$(sysctl -n vm.unprivileged_userfaultfd))"
fi

# 3. rxe0: ibv_rc_pingpong --------------------------------------------------
# 200 round trips of 4096 bytes: both sides report 2*200*4096 = 1638400 bytes.
clean_logs
before=$(counter "$SANVERBS_RXE_DEV" sent_pkts)
if run_pair pp0 wait_tcp 18515 ibv_rc_pingpong -d "$SANVERBS_RXE_DEV" -g "$SANVERBS_RXE_GID_INDEX" -n 200 -- \
       ibv_rc_pingpong -d "$SANVERBS_RXE_DEV" -g "$SANVERBS_RXE_GID_INDEX" -n 200 "$SANVERBS_RXE_IP" &&
   grep -q '^1638400 bytes in' "$LOG/pp0.client" && grep -q '^1638400 bytes in' "$LOG/pp0.server"; then
    ok "ibv_rc_pingpong on $SANVERBS_RXE_DEV: $(grep 'bytes in' "$LOG/pp0.client"), $(( $(counter "$SANVERBS_RXE_DEV" sent_pkts) - before )) packets"
else
    bad "ibv_rc_pingpong on $SANVERBS_RXE_DEV"
fi

# 4. rxe0: rping over rdma_cm -------------------------------------------------
clean_logs
if run_pair rping0 wait_cm "$SANVERBS_RXE_IP" rping -s -a "$SANVERBS_RXE_IP" -C 3 -- \
       rping -c -a "$SANVERBS_RXE_IP" -C 3 -v &&
   [ "$(grep -c 'ping data: rdma-ping-' "$LOG/rping0.client")" = 3 ]; then
    ok "rping on $SANVERBS_RXE_DEV ($SANVERBS_RXE_IP): 3 pings verified"
else
    bad "rping on $SANVERBS_RXE_DEV"
fi

# 5. two hosts ------------------------------------------------------------------
A=(ip netns exec "$SANVERBS_NS_A")
B=(ip netns exec "$SANVERBS_NS_B")
# the netdev under rxe_b: read its name through the rdma tool in B's namespace
netdev_b=$("${B[@]}" rdma link show "$SANVERBS_RXE_B/1" | sed -n 's/.* netdev \([^ ]*\).*/\1/p')
txb() { "${B[@]}" cat "/sys/class/net/$netdev_b/statistics/tx_bytes"; }

clean_logs
b0=$(txb)
if run_pair rping2 wait_cm "$SANVERBS_IP_A" "${A[@]}" rping -s -a "$SANVERBS_IP_A" -C 3 -- \
       "${B[@]}" rping -c -a "$SANVERBS_IP_A" -C 3 -v &&
   [ "$(grep -c 'ping data: rdma-ping-' "$LOG/rping2.client")" = 3 ]; then
    ok "rping $SANVERBS_NS_B -> $SANVERBS_NS_A ($SANVERBS_IP_A): 3 pings verified, $(( $(txb) - b0 )) bytes out of $netdev_b"
else
    bad "rping $SANVERBS_NS_B -> $SANVERBS_NS_A"
fi

clean_logs
if run_pair pp2 wait_tcp 18515 "${A[@]}" ibv_rc_pingpong -d "$SANVERBS_RXE_A" -g "$SANVERBS_GID_INDEX_A" -n 200 -- \
       "${B[@]}" ibv_rc_pingpong -d "$SANVERBS_RXE_B" -g "$SANVERBS_GID_INDEX_B" -n 200 "$SANVERBS_IP_A" &&
   grep -q '^1638400 bytes in' "$LOG/pp2.client" && grep -q '^1638400 bytes in' "$LOG/pp2.server"; then
    ok "ibv_rc_pingpong $SANVERBS_RXE_B -> $SANVERBS_RXE_A: $(grep 'bytes in' "$LOG/pp2.client")"
else
    bad "ibv_rc_pingpong $SANVERBS_RXE_B -> $SANVERBS_RXE_A"
fi

clean_logs
b0=$(txb)
rx0=$(counter "$SANVERBS_RXE_A" rcvd_pkts)
if run_pair bw2 wait_tcp 18515 "${A[@]}" ib_write_bw -d "$SANVERBS_RXE_A" -x "$SANVERBS_GID_INDEX_A" -s 65536 -n 200 -- \
       "${B[@]}" ib_write_bw -d "$SANVERBS_RXE_B" -x "$SANVERBS_GID_INDEX_B" -s 65536 -n 200 "$SANVERBS_IP_A"; then
    moved=$(( $(txb) - b0 ))
    bw=$(awk '$1 == 65536 && $2 == 200 { print $4 }' "$LOG/bw2.client" | head -n1)
    if [ "$moved" -ge $((200 * 65536)) ] && [ -n "$bw" ]; then
        ok "ib_write_bw $SANVERBS_RXE_B -> $SANVERBS_RXE_A: ${bw} MB/s average, $moved bytes out of $netdev_b, $(( $(counter "$SANVERBS_RXE_A" rcvd_pkts) - rx0 )) packets into $SANVERBS_RXE_A"
    else
        bad "ib_write_bw moved only $moved bytes over $netdev_b (bw '$bw')"
    fi
else
    bad "ib_write_bw $SANVERBS_RXE_B -> $SANVERBS_RXE_A"
fi

# 6. native mode of run.sh (inside the guest the kernel has rxe) -------------
clean_logs
# shellcheck disable=SC2016
if SANVERBS_VM=never "$HERE/run.sh" --timeout 60 -- sh -c \
       'test "$SANVERBS_RXE_DEV" = rxe0 && test -n "$SANVERBS_RXE_GID_INDEX" && ibv_devinfo -d rxe0 | grep -q PORT_ACTIVE && test "$(ulimit -l)" = unlimited' \
       >"$LOG/native" 2>&1; then
    ok "run.sh native mode (SANVERBS_VM=never) reuses rxe0"
else
    bad "run.sh native mode"
fi

rm -rf "$LOG"
echo "selftest: $pass passed, $fail failed"
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
