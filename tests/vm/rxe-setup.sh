# shellcheck shell=bash
# rxe-setup.sh — create the SoftRoCE devices the tests use. Sourced, never
# executed: by guest-init.sh inside the QEMU guest, and by run.sh directly on
# a host whose kernel has rdma_rxe (native mode). Both paths therefore give
# tests the very same devices, addresses and variables.
#
# sv_rxe_setup OUTFILE writes `export NAME=value` lines to OUTFILE:
#   SANVERBS_RXE_DEV, SANVERBS_RXE_IP, SANVERBS_RXE_GID_INDEX       (rxe0)
#   SANVERBS_NS_A/B, SANVERBS_IP_A/B, SANVERBS_RXE_A/B,
#   SANVERBS_GID_INDEX_A/B, SANVERBS_TWOHOST_MODE                   (two hosts)
# It is idempotent: devices that already exist with the right address are
# kept (native mode reuses them across runs; a second run never tears down
# what a concurrent one is using).
#
# Addresses: 198.18.0.0/15 is reserved for benchmarking (RFC 2544) and is not
# routed anywhere; every address here is a /32 or lives in a namespace we
# create, so nothing on the host's real networks is shadowed and no packet
# leaves the machine.

SV_RXE_DEV=rxe0
SV_RXE_NETDEV=sv_rxe0          # veth end that carries rxe0
SV_RXE_PEER=sv_rxe0p           # its peer: only there so the link has carrier
SV_RXE_IP=198.18.231.1
SV_NS_A=sva
SV_NS_B=svb
SV_RXE_A=rxe_a
SV_RXE_B=rxe_b
SV_NETDEV_A=sva0
SV_NETDEV_B=svb0
SV_IP_A=198.18.232.1
SV_IP_B=198.18.232.2
# Policy-routing tables used only by the init_net fallback (see below).
SV_TABLE_A=23201
SV_TABLE_B=23202

sv_rxe_msg() { printf '[sanverbs-rxe] %s\n' "$*" >&2; }

# sv_rxe_modules: load what rxe, uverbs and rdma_cm user space need. rdma-core's
# udev rules normally do this; there is no udev in the guest.
sv_rxe_modules() {
    local m
    for m in rdma_rxe ib_uverbs rdma_ucm veth; do
        modprobe "$m" || { sv_rxe_msg "modprobe $m failed"; return 1; }
    done
}

# sv_rxe_gid_index DEV IP: index of the RoCEv2 GID that is IP mapped into
# IPv6 (::ffff:a.b.c.d). Index 1 on a fresh device, but an IPv6 link-local
# GID can take the slot first, so look it up instead of assuming.
sv_rxe_gid_index() {
    local dev=$1 ip=$2 want gdir f idx gid type
    # ::ffff:198.18.231.1 as the 8 groups sysfs prints
    # shellcheck disable=SC2086  # split the dotted quad into printf's arguments
    want=$(printf '0000:0000:0000:0000:0000:ffff:%02x%02x:%02x%02x' ${ip//./ })
    gdir=/sys/class/infiniband/$dev/ports/1
    # sysfs of the rdma device is global (shared netns mode), readable from init_net
    for f in "$gdir"/gids/*; do
        idx=${f##*/}
        gid=$(cat "$f" 2>/dev/null) || continue
        [ "$gid" = "$want" ] || continue
        type=$(cat "$gdir/gid_attrs/types/$idx" 2>/dev/null) || continue
        if [ "$type" = "RoCE v2" ]; then
            echo "$idx"
            return 0
        fi
    done
    return 1
}

# sv_rxe_wait DEV IP: wait (bounded) for port 1 ACTIVE and the IPv4 GID.
sv_rxe_wait() {
    local dev=$1 ip=$2 state
    for _ in $(seq 1 200); do
        state=$(cat "/sys/class/infiniband/$dev/ports/1/state" 2>/dev/null || true)
        if [ "$state" = "4: ACTIVE" ] && sv_rxe_gid_index "$dev" "$ip" >/dev/null; then
            return 0
        fi
        sleep 0.05
    done
    sv_rxe_msg "$dev: port not ACTIVE with an IPv4 RoCEv2 GID for $ip after 10 s (state '${state:-none}')"
    return 1
}

# sv_rxe_netdev_of DEV [NS]: the netdev an rxe device sits on ('' if none).
# rdma link only names the netdev when asked from the netdev's namespace.
sv_rxe_netdev_of() {
    if [ -n "${2:-}" ]; then
        ip netns exec "$2" rdma link show "$1/1" 2>/dev/null
    else
        rdma link show "$1/1" 2>/dev/null
    fi | sed -n 's/.* netdev \([^ ]*\).*/\1/p'
}

# sv_rxe_add DEV NETDEV [NS]: rdma link add, unless already there on NETDEV.
sv_rxe_add() {
    local dev=$1 netdev=$2 ns=${3:-} cur
    cur=$(sv_rxe_netdev_of "$dev" "$ns")
    if [ -n "$cur" ]; then
        [ "$cur" = "$netdev" ] && return 0
        sv_rxe_msg "$dev exists on netdev $cur, expected $netdev"
        return 1
    fi
    if [ -n "$ns" ]; then
        ip netns exec "$ns" rdma link add "$dev" type rxe netdev "$netdev"
    else
        rdma link add "$dev" type rxe netdev "$netdev"
    fi
}

# --- rxe0: one device for single-node tests (loopback through rxe) ----------
sv_rxe_setup_single() {
    if ! ip link show "$SV_RXE_NETDEV" >/dev/null 2>&1; then
        ip link add "$SV_RXE_NETDEV" type veth peer name "$SV_RXE_PEER" || return 1
    fi
    ip addr replace "$SV_RXE_IP/32" dev "$SV_RXE_NETDEV" || return 1
    ip link set "$SV_RXE_PEER" up && ip link set "$SV_RXE_NETDEV" up || return 1
    sv_rxe_add "$SV_RXE_DEV" "$SV_RXE_NETDEV" || return 1
    sv_rxe_wait "$SV_RXE_DEV" "$SV_RXE_IP"
}

# --- two "hosts" -----------------------------------------------------------
# Wanted: namespaces sva and svb joined by a veth pair, rxe_a and rxe_b on the
# two ends. Measured on Debian's 6.1 kernel: the devices come up ACTIVE in the
# namespaces, but no traffic passes (rping: RDMA_CM_EVENT_UNREACHABLE,
# ibv_rc_pingpong: local QP operation error), because 6.1's rxe opens its UDP
# socket (port 4791) in init_net only and routes with
# ip_route_output_key(&init_net, ...). Kernels whose rxe is namespace-aware
# (drivers/infiniband/sw/rxe/rxe_ns.c, symbol rxe_ns_pernet_sk4) get the real
# namespaces; on the others both ends stay in init_net (below).
sv_rxe_netns_aware() {
    grep -qw rxe_ns_pernet_sk4 /proc/kallsyms 2>/dev/null
}

sv_twohost_netns() {
    local ns
    for ns in "$SV_NS_A" "$SV_NS_B"; do
        [ -e "/run/netns/$ns" ] || ip netns add "$ns" || return 1
        ip -n "$ns" link set lo up || return 1
    done
    if ! ip -n "$SV_NS_A" link show "$SV_NETDEV_A" >/dev/null 2>&1; then
        ip link add "$SV_NETDEV_A" netns "$SV_NS_A" type veth peer name "$SV_NETDEV_B" netns "$SV_NS_B" || return 1
    fi
    ip -n "$SV_NS_A" addr replace "$SV_IP_A/24" dev "$SV_NETDEV_A" || return 1
    ip -n "$SV_NS_B" addr replace "$SV_IP_B/24" dev "$SV_NETDEV_B" || return 1
    ip -n "$SV_NS_A" link set "$SV_NETDEV_A" up && ip -n "$SV_NS_B" link set "$SV_NETDEV_B" up || return 1
    sv_rxe_add "$SV_RXE_A" "$SV_NETDEV_A" "$SV_NS_A" || return 1
    sv_rxe_add "$SV_RXE_B" "$SV_NETDEV_B" "$SV_NS_B" || return 1
}

# init_net fallback: the veth pair stays in init_net, sva0 holds IP_A (rxe_a)
# and svb0 holds IP_B (rxe_b). Both addresses are local, so by default the
# kernel would hand A->B traffic to lo, and rxe drops packets that arrive on
# a netdev without an rxe device. Policy routing sends it over the veth:
#   - "iif lo to B" (lookups for locally generated packets) -> out sva0, and
#     "iif lo to A" -> out svb0, so each side reaches the other over the wire;
#   - "oif sva0 to B" / "oif svb0 to A": rdma_cm checks an incoming connect
#     request with a bare fib_lookup(oif=<netdev>, iif=0) from the listening
#     address to the peer (validate_ipv4_net_dev in cma.c); without these it
#     finds no route and rejects with IB_CM_REJ_CONSUMER_DEFINED (28);
#   - the 'local' rule moves from priority 0 to 1000 so these come first;
#     packets arriving on the veth (iif sva0/svb0) still hit 'local';
#   - accept_local=1 and rp_filter=0 on the pair, since each side's source
#     address is also local to the receiver (ARP and IP input need that).
# The names sva/svb are still made, as aliases of this namespace
# (ip netns attach), so `ip netns exec "$SANVERBS_NS_A" CMD` works the same
# in both modes.
sv_rxe_rule() { # PREF SELECTOR... : add unless present
    local pref=$1
    shift
    ip rule show pref "$pref" | grep -q . || ip rule add pref "$pref" "$@"
}

sv_twohost_initnet() {
    local ns me
    if ! ip link show "$SV_NETDEV_A" >/dev/null 2>&1; then
        ip link add "$SV_NETDEV_A" type veth peer name "$SV_NETDEV_B" || return 1
    fi
    for d in "$SV_NETDEV_A" "$SV_NETDEV_B"; do
        sysctl -qw "net.ipv4.conf.$d.accept_local=1" "net.ipv4.conf.$d.rp_filter=0" || return 1
    done
    # rp_filter is the max of 'all' and the device's value
    [ "$(sysctl -n net.ipv4.conf.all.rp_filter)" = 0 ] || sysctl -qw net.ipv4.conf.all.rp_filter=0
    ip addr replace "$SV_IP_A/32" dev "$SV_NETDEV_A" || return 1
    ip addr replace "$SV_IP_B/32" dev "$SV_NETDEV_B" || return 1
    ip link set "$SV_NETDEV_A" up && ip link set "$SV_NETDEV_B" up || return 1
    ip route replace "$SV_IP_B/32" dev "$SV_NETDEV_A" src "$SV_IP_A" table "$SV_TABLE_A" || return 1
    ip route replace "$SV_IP_A/32" dev "$SV_NETDEV_B" src "$SV_IP_B" table "$SV_TABLE_B" || return 1
    sv_rxe_rule 23200 iif lo to "$SV_IP_B/32" lookup "$SV_TABLE_A" || return 1
    sv_rxe_rule 23201 iif lo to "$SV_IP_A/32" lookup "$SV_TABLE_B" || return 1
    sv_rxe_rule 23202 oif "$SV_NETDEV_A" to "$SV_IP_B/32" lookup "$SV_TABLE_A" || return 1
    sv_rxe_rule 23203 oif "$SV_NETDEV_B" to "$SV_IP_A/32" lookup "$SV_TABLE_B" || return 1
    # The rules above sit at 23200+, so 'local' must come after them.
    if ip rule show pref 0 | grep -q 'lookup local'; then
        sv_rxe_rule 23299 lookup local || return 1
        ip rule del pref 0 lookup local || return 1
    fi
    sv_rxe_add "$SV_RXE_A" "$SV_NETDEV_A" || return 1
    sv_rxe_add "$SV_RXE_B" "$SV_NETDEV_B" || return 1
    me=$(stat -L -c %i /proc/self/ns/net)
    for ns in "$SV_NS_A" "$SV_NS_B"; do
        if [ -e "/run/netns/$ns" ]; then
            [ "$(stat -L -c %i "/run/netns/$ns")" = "$me" ] && continue
            sv_rxe_msg "/run/netns/$ns exists and is another namespace; remove it (ip netns del $ns)"
            return 1
        fi
        ip netns attach "$ns" $$ || return 1
    done
}

# sv_rxe_setup OUTFILE: everything, then the variables for the tests.
# SANVERBS_TWOHOST=netns|init_net overrides the choice of two-host mode.
sv_rxe_setup() {
    local out=$1 gid gid_a gid_b mode
    sv_rxe_setup_single || return 1
    gid=$(sv_rxe_gid_index "$SV_RXE_DEV" "$SV_RXE_IP") || return 1

    mode=${SANVERBS_TWOHOST:-auto}
    if [ "$mode" = auto ]; then
        if sv_rxe_netns_aware; then mode=netns; else mode=init_net; fi
    fi
    case $mode in
        netns) sv_twohost_netns || return 1 ;;
        init_net) sv_twohost_initnet || return 1 ;;
        *) sv_rxe_msg "SANVERBS_TWOHOST must be auto, netns or init_net"; return 1 ;;
    esac
    sv_rxe_wait "$SV_RXE_A" "$SV_IP_A" && sv_rxe_wait "$SV_RXE_B" "$SV_IP_B" || return 1
    gid_a=$(sv_rxe_gid_index "$SV_RXE_A" "$SV_IP_A") || return 1
    gid_b=$(sv_rxe_gid_index "$SV_RXE_B" "$SV_IP_B") || return 1
    {
        echo "export SANVERBS_RXE_DEV=$SV_RXE_DEV"
        echo "export SANVERBS_RXE_IP=$SV_RXE_IP"
        echo "export SANVERBS_RXE_GID_INDEX=$gid"
        echo "export SANVERBS_NS_A=$SV_NS_A"
        echo "export SANVERBS_NS_B=$SV_NS_B"
        echo "export SANVERBS_IP_A=$SV_IP_A"
        echo "export SANVERBS_IP_B=$SV_IP_B"
        echo "export SANVERBS_RXE_A=$SV_RXE_A"
        echo "export SANVERBS_RXE_B=$SV_RXE_B"
        echo "export SANVERBS_GID_INDEX_A=$gid_a"
        echo "export SANVERBS_GID_INDEX_B=$gid_b"
        echo "export SANVERBS_TWOHOST_MODE=$mode"
    } >"$out"
}
