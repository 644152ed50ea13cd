# SPDX-License-Identifier: MIT
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
#   SANVERBS_RXE_IP6, SANVERBS_IP6_A/B                              (IPv6)
# It is idempotent: devices that already exist with the right address are
# kept (native mode reuses them across runs; a second run never tears down
# what a concurrent one is using).
#
# Every process costs ~0.1-1 s under TCG on a busy host, so the set-up reads
# the current state once (ip link, ip rule, rdma link), applies the changes
# in one `ip -batch` and one `rdma -batch`, and reads sysfs with builtins.
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
# Policy-routing tables and rule priorities used by the init_net two-host mode.
SV_TABLE_A=23201
SV_TABLE_B=23202
# IPv6 next to each IPv4 address (RoCEv2 GIDs of their own): unique local
# fd00:5a:<the IPv4 third octet>::/64, added with nodad so that they are
# usable (and their GIDs present) at once instead of after DAD.
SV_RXE_IP6=fd00:5a:231::1
SV_IP6_A=fd00:5a:232::1
SV_IP6_B=fd00:5a:232::2

sv_rxe_msg() { printf '[sanverbs-rxe] %s\n' "$*" >&2; }

# sv_rxe_modules: load what rxe, uverbs and rdma_cm user space need. rdma-core's
# udev rules normally do this; there is no udev in the guest.
sv_rxe_modules() {
    modprobe -a rdma_rxe ib_uverbs rdma_ucm veth || { sv_rxe_msg "modprobe rdma_rxe ib_uverbs rdma_ucm veth failed"; return 1; }
}

# sv_rxe_gid_index DEV IP: index of the RoCEv2 GID that is IP mapped into
# IPv6 (::ffff:a.b.c.d). Index 1 on a fresh device, but an IPv6 link-local
# GID can take the slot first, so look it up instead of assuming. The rdma
# device's sysfs is global (shared netns mode), so this works from init_net
# for devices in other namespaces too.
sv_rxe_gid_index() {
    local dev=$1 ip=$2 want gdir i gid type
    if [[ $ip == *:* ]]; then
        want=$(sv_rxe_ip6_full "$ip")
    else
        # shellcheck disable=SC2086  # split the dotted quad into printf's arguments
        printf -v want '0000:0000:0000:0000:0000:ffff:%02x%02x:%02x%02x' ${ip//./ }
    fi
    gdir=/sys/class/infiniband/$dev/ports/1
    # The table has hundreds of slots; addresses fill the first few.
    for ((i = 0; i < 32; i++)); do
        [ -e "$gdir/gids/$i" ] || break
        read -r gid <"$gdir/gids/$i" 2>/dev/null || continue
        [ "$gid" = "$want" ] || continue
        read -r type <"$gdir/gid_attrs/types/$i" 2>/dev/null || continue
        if [ "$type" = "RoCE v2" ]; then
            echo "$i"
            return 0
        fi
    done
    return 1
}

# sv_rxe_ip6_full IP6: the address as sysfs spells a GID (8 groups of 4).
sv_rxe_ip6_full() {
    local head=${1%%::*} tail='' g=() h t i out=
    [[ $1 == *::* ]] && tail=${1#*::}
    IFS=: read -ra h <<<"$head"
    IFS=: read -ra t <<<"$tail"
    g=("${h[@]}")
    for ((i = ${#h[@]} + ${#t[@]}; i < 8; i++)); do g+=(0); done
    g+=("${t[@]}")
    for i in "${g[@]}"; do printf -v i '%04x' "0x$i"; out+=$i:; done
    echo "${out%:}"
}

# sv_rxe_wait DEV IP...: wait (bounded, 10 s) until each DEV has port 1
# ACTIVE and the RoCEv2 GID of its IP, IPv4 or IPv6 (pairs of arguments).
sv_rxe_wait() {
    local try k dev ip state pending args=("$@")
    for ((try = 0; try < 200; try++)); do
        pending=
        for ((k = 0; k < ${#args[@]}; k += 2)); do
            dev=${args[k]} ip=${args[k + 1]} state=
            read -r state <"/sys/class/infiniband/$dev/ports/1/state" 2>/dev/null || true
            if [ "$state" != "4: ACTIVE" ] || ! sv_rxe_gid_index "$dev" "$ip" >/dev/null; then
                pending="$dev (state '${state:-none}', IP $ip)"
                break
            fi
        done
        [ -z "$pending" ] && return 0
        sleep 0.05
    done
    sv_rxe_msg "not ACTIVE with a RoCEv2 GID of its IP after 10 s: $pending"
    return 1
}

# --- two "hosts" -----------------------------------------------------------
# Wanted: namespaces sva and svb joined by a veth pair, rxe_a and rxe_b on the
# two ends. Measured on Debian's 6.1 kernel: the devices come up ACTIVE in the
# namespaces, but no traffic passes (rping: RDMA_CM_EVENT_UNREACHABLE,
# ibv_rc_pingpong: local QP operation error), because 6.1's rxe opens its UDP
# socket (port 4791) in init_net only and routes with
# ip_route_output_key(&init_net, ...). Kernels whose rxe is namespace-aware
# (drivers/infiniband/sw/rxe/rxe_ns.c, symbol rxe_ns_pernet_sk4) get the real
# namespaces; on the others both ends stay in init_net:
#
# init_net mode: the veth pair stays in init_net, sva0 holds IP_A (rxe_a) and
# svb0 holds IP_B (rxe_b). Both addresses are local, so by default the kernel
# would hand A->B traffic to lo, and rxe drops packets that arrive on a
# netdev without an rxe device. Policy routing sends it over the veth:
#   - "iif lo to B" (lookups for locally generated packets) -> out sva0, and
#     "iif lo to A" -> out svb0, so each side reaches the other over the wire;
#   - "oif sva0 to B" / "oif svb0 to A": rdma_cm checks an incoming connect
#     request with a bare fib_lookup(oif=<netdev>, iif=0) from the listening
#     address to the peer (validate_ipv4_net_dev in cma.c); without these it
#     finds no route and rejects with IB_CM_REJ_CONSUMER_DEFINED (28);
#   - the 'local' rule moves from priority 0 to 23299 so these come first;
#     packets arriving on the veth (iif sva0/svb0) still hit 'local';
#   - accept_local=1 and rp_filter=0 on the pair, since each side's source
#     address is also local to the receiver (ARP and IP input need that).
# The names sva/svb are still made, as aliases of this namespace
# (ip netns attach), so `ip netns exec "$SANVERBS_NS_A" CMD` works the same
# in both modes. A process in "host B" that connects to IP_A without binding
# gets source IP_B and rxe_b; to loop back to its own address use rxe0.
sv_rxe_netns_aware() {
    grep -qw rxe_ns_pernet_sk4 /proc/kallsyms 2>/dev/null
}

# sv_rxe_setup OUTFILE: everything, then the variables for the tests.
# SANVERBS_TWOHOST=netns|init_net overrides the choice of two-host mode.
sv_rxe_setup() {
    local out=$1 mode links rules rules6 rlinks gid gid_a gid_b ns d probe=
    local ipb=() ipb6=() rdb=()

    mode=${SANVERBS_TWOHOST:-auto}
    case $mode in
        # grepping kallsyms takes a while under TCG: overlap it with the reads
        auto) sv_rxe_netns_aware & probe=$! ;;
        netns|init_net) ;;
        *) sv_rxe_msg "SANVERBS_TWOHOST must be auto, netns or init_net"; return 1 ;;
    esac

    # Current state, read once. "N: name@peer: <...>" / "N: name: <...>"
    links=$(ip -o link show) || return 1
    rules=$(ip rule show) || return 1
    rules6=$(ip -6 rule show) || return 1
    rlinks=$(rdma link show) || return 1
    if [ -n "$probe" ]; then
        if wait "$probe"; then mode=netns; else mode=init_net; fi
    fi
    has_link() { [[ $links == *": $1@"* || $links == *": $1:"* ]]; }
    has_rule() { [[ $'\n'$rules == *$'\n'"$1:"* ]]; }
    has_rule6() { [[ $'\n'$rules6 == *$'\n'"$1:"* ]]; }
    # rdma link names the netdev only when asked from the netdev's namespace.
    rxe_on() { # DEV NETDEV [NS]: 0 present on NETDEV, 1 absent, 2 elsewhere
        local l
        if [ -n "${3:-}" ]; then
            l=$(ip netns exec "$3" rdma link show "$1/1" 2>/dev/null) || return 1
        else
            while IFS= read -r l; do
                [[ $l == "link $1/1 "* ]] && break
                l=
            done <<<"$rlinks"
            [ -n "$l" ] || return 1
        fi
        [[ $l == *" netdev $2 "* || $l == *" netdev $2" ]] && return 0
        sv_rxe_msg "$1 exists but not on $2: $l"
        return 2
    }
    want_rxe() { # DEV NETDEV [NS]
        local st=0
        rxe_on "$@" || st=$?
        case $st in
            0) ;;
            1) if [ -n "${3:-}" ]; then
                   ip netns exec "$3" rdma link add "$1" type rxe netdev "$2" || return 1
               else
                   rdb+=("link add $1 type rxe netdev $2")
               fi ;;
            *) return 1 ;;
        esac
    }

    # rxe0: one device for single-node tests (loopback inside rxe).
    ipb+=("link set lo up")
    has_link "$SV_RXE_NETDEV" || ipb+=("link add $SV_RXE_NETDEV type veth peer name $SV_RXE_PEER")
    ipb+=("addr replace $SV_RXE_IP/32 dev $SV_RXE_NETDEV"
          "addr replace $SV_RXE_IP6/128 dev $SV_RXE_NETDEV nodad"
          "link set $SV_RXE_PEER up" "link set $SV_RXE_NETDEV up")

    if [ "$mode" = init_net ]; then
        has_link "$SV_NETDEV_A" || ipb+=("link add $SV_NETDEV_A type veth peer name $SV_NETDEV_B")
        ipb+=("addr replace $SV_IP_A/32 dev $SV_NETDEV_A"
              "addr replace $SV_IP_B/32 dev $SV_NETDEV_B"
              "link set $SV_NETDEV_A up" "link set $SV_NETDEV_B up"
              "route replace $SV_IP_B/32 dev $SV_NETDEV_A src $SV_IP_A table $SV_TABLE_A"
              "route replace $SV_IP_A/32 dev $SV_NETDEV_B src $SV_IP_B table $SV_TABLE_B"
              "addr replace $SV_IP6_A/128 dev $SV_NETDEV_A nodad"
              "addr replace $SV_IP6_B/128 dev $SV_NETDEV_B nodad")
        has_rule 23200 || ipb+=("rule add pref 23200 iif lo to $SV_IP_B/32 lookup $SV_TABLE_A")
        has_rule 23201 || ipb+=("rule add pref 23201 iif lo to $SV_IP_A/32 lookup $SV_TABLE_B")
        has_rule 23202 || ipb+=("rule add pref 23202 oif $SV_NETDEV_A to $SV_IP_B/32 lookup $SV_TABLE_A")
        has_rule 23203 || ipb+=("rule add pref 23203 oif $SV_NETDEV_B to $SV_IP_A/32 lookup $SV_TABLE_B")
        if [[ $'\n'$rules == *$'\n'"0:"*"lookup local"* ]]; then
            has_rule 23299 || ipb+=("rule add pref 23299 lookup local")
            ipb+=("rule del pref 0 lookup local")
        fi
        # the same for IPv6, in a batch of its own (after the addresses)
        ipb6+=("route replace $SV_IP6_B/128 dev $SV_NETDEV_A src $SV_IP6_A table $SV_TABLE_A"
               "route replace $SV_IP6_A/128 dev $SV_NETDEV_B src $SV_IP6_B table $SV_TABLE_B")
        has_rule6 23200 || ipb6+=("rule add pref 23200 iif lo to $SV_IP6_B/128 lookup $SV_TABLE_A"
                                  "rule add pref 23201 iif lo to $SV_IP6_A/128 lookup $SV_TABLE_B"
                                  "rule add pref 23202 oif $SV_NETDEV_A to $SV_IP6_B/128 lookup $SV_TABLE_A"
                                  "rule add pref 23203 oif $SV_NETDEV_B to $SV_IP6_A/128 lookup $SV_TABLE_B")
        if [[ $'\n'$rules6 == *$'\n'"0:"*"lookup local"* ]]; then
            has_rule6 23299 || ipb6+=("rule add pref 23299 lookup local")
            ipb6+=("rule del pref 0 lookup local")
        fi
        for ns in "$SV_NS_A" "$SV_NS_B"; do
            if [ -e "/run/netns/$ns" ]; then
                # -ef: same device and inode, i.e. already an alias of ours
                [[ /run/netns/$ns -ef /proc/self/ns/net ]] && continue
                sv_rxe_msg "/run/netns/$ns is another namespace; remove it (ip netns del $ns) or set SANVERBS_TWOHOST=netns"
                return 1
            fi
            ipb+=("netns attach $ns $$")
        done
    fi

    printf '%s\n' "${ipb[@]}" | ip -batch - || { sv_rxe_msg "ip -batch failed"; return 1; }
    if [ "${#ipb6[@]}" -gt 0 ]; then
        printf '%s\n' "${ipb6[@]}" | ip -6 -batch - || { sv_rxe_msg "ip -6 -batch failed"; return 1; }
    fi

    if [ "$mode" = init_net ]; then
        for d in "$SV_NETDEV_A" "$SV_NETDEV_B"; do
            echo 1 >"/proc/sys/net/ipv4/conf/$d/accept_local" &&
                echo 0 >"/proc/sys/net/ipv4/conf/$d/rp_filter" || return 1
        done
        # the effective rp_filter is the max of 'all' and the device's value
        echo 0 >/proc/sys/net/ipv4/conf/all/rp_filter || return 1
        want_rxe "$SV_RXE_A" "$SV_NETDEV_A" || return 1
        want_rxe "$SV_RXE_B" "$SV_NETDEV_B" || return 1
    else
        for ns in "$SV_NS_A" "$SV_NS_B"; do
            [ -e "/run/netns/$ns" ] || ip netns add "$ns" || return 1
            ip -n "$ns" link set lo up || return 1
        done
        if ! ip -n "$SV_NS_A" link show "$SV_NETDEV_A" >/dev/null 2>&1; then
            ip link add "$SV_NETDEV_A" netns "$SV_NS_A" type veth peer name "$SV_NETDEV_B" netns "$SV_NS_B" || return 1
        fi
        ip -n "$SV_NS_A" addr replace "$SV_IP_A/24" dev "$SV_NETDEV_A" &&
            ip -n "$SV_NS_B" addr replace "$SV_IP_B/24" dev "$SV_NETDEV_B" &&
            ip -n "$SV_NS_A" addr replace "$SV_IP6_A/64" dev "$SV_NETDEV_A" nodad &&
            ip -n "$SV_NS_B" addr replace "$SV_IP6_B/64" dev "$SV_NETDEV_B" nodad &&
            ip -n "$SV_NS_A" link set "$SV_NETDEV_A" up &&
            ip -n "$SV_NS_B" link set "$SV_NETDEV_B" up || return 1
        want_rxe "$SV_RXE_A" "$SV_NETDEV_A" "$SV_NS_A" || return 1
        want_rxe "$SV_RXE_B" "$SV_NETDEV_B" "$SV_NS_B" || return 1
    fi
    want_rxe "$SV_RXE_DEV" "$SV_RXE_NETDEV" || return 1
    if [ "${#rdb[@]}" -gt 0 ]; then
        printf '%s\n' "${rdb[@]}" | rdma -b - || { sv_rxe_msg "rdma link add failed"; return 1; }
    fi

    sv_rxe_wait "$SV_RXE_DEV" "$SV_RXE_IP" "$SV_RXE_A" "$SV_IP_A" "$SV_RXE_B" "$SV_IP_B" \
        "$SV_RXE_DEV" "$SV_RXE_IP6" "$SV_RXE_A" "$SV_IP6_A" "$SV_RXE_B" "$SV_IP6_B" || return 1
    gid=$(sv_rxe_gid_index "$SV_RXE_DEV" "$SV_RXE_IP") &&
        gid_a=$(sv_rxe_gid_index "$SV_RXE_A" "$SV_IP_A") &&
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
        echo "export SANVERBS_RXE_IP6=$SV_RXE_IP6"
        echo "export SANVERBS_IP6_A=$SV_IP6_A"
        echo "export SANVERBS_IP6_B=$SV_IP6_B"
    } >"$out"
}

# --- two guests (run.sh --pair) ---------------------------------------------
# Each guest of a pair has, besides everything above, a virtio NIC whose
# frames QEMU carries to the other guest's NIC over a TCP stream on the host's
# loopback (-netdev socket,listen=|connect=): a real Ethernet link between two
# kernels. The NIC gets the guest's link address and an rxe device of its
# own (rxe_ga on guest A, rxe_gb on guest B). "svlink" names this network
# namespace in both guests, so programs that enter SANVERBS_NS_A/B stay here.
SV_LINK_NS=svlink
SV_LINK_IP_A=198.18.233.1
SV_LINK_IP_B=198.18.233.2
SV_LINK_RXE_A=rxe_ga
SV_LINK_RXE_B=rxe_gb
SV_LINK_IP6_A=fd00:5a:233::1
SV_LINK_IP6_B=fd00:5a:233::2

# sv_rxe_link_setup GUEST MAC OUTFILE: GUEST is a or b; appends the link
# variables to OUTFILE.
sv_rxe_link_setup() {
    local guest=$1 mac=$2 out=$3 n dev='' addr ip ip6 rxe other gid try
    if [ "$guest" = a ]; then
        ip=$SV_LINK_IP_A ip6=$SV_LINK_IP6_A rxe=$SV_LINK_RXE_A other=$SV_LINK_IP_B
    else
        ip=$SV_LINK_IP_B ip6=$SV_LINK_IP6_B rxe=$SV_LINK_RXE_B other=$SV_LINK_IP_A
    fi
    # no udev: find the NIC by the MAC run.sh gave it (it may take a moment
    # for virtio_net to probe)
    for ((try = 0; try < 100; try++)); do
        for n in /sys/class/net/*; do
            read -r addr <"$n/address" 2>/dev/null || continue
            [ "$addr" = "$mac" ] && dev=${n##*/}
        done
        [ -n "$dev" ] && break
        sleep 0.05
    done
    [ -n "$dev" ] || { sv_rxe_msg "no NIC with MAC $mac"; return 1; }
    printf '%s\n' "addr replace $ip/24 dev $dev" "addr replace $ip6/64 dev $dev nodad" "link set $dev up" \
        "netns attach $SV_LINK_NS $$" | ip -batch - || { sv_rxe_msg "link set-up of $dev failed"; return 1; }
    echo 0 >"/proc/sys/net/ipv4/conf/$dev/rp_filter" || return 1
    rdma link add "$rxe" type rxe netdev "$dev" || { sv_rxe_msg "rdma link add $rxe failed"; return 1; }
    sv_rxe_wait "$rxe" "$ip" "$rxe" "$ip6" || return 1
    gid=$(sv_rxe_gid_index "$rxe" "$ip") || return 1
    {
        echo "export SANVERBS_GUEST=$guest"
        echo "export SANVERBS_LINK_NS=$SV_LINK_NS"
        echo "export SANVERBS_LINK_IP_A=$SV_LINK_IP_A"
        echo "export SANVERBS_LINK_IP_B=$SV_LINK_IP_B"
        echo "export SANVERBS_LINK_RXE_A=$SV_LINK_RXE_A"
        echo "export SANVERBS_LINK_RXE_B=$SV_LINK_RXE_B"
        echo "export SANVERBS_LINK_IP6_A=$SV_LINK_IP6_A"
        echo "export SANVERBS_LINK_IP6_B=$SV_LINK_IP6_B"
        # this guest's device only: the other guest's is not visible here
        # (both are fresh devices; the selftest compares them)
        echo "export SANVERBS_LINK_GID_INDEX=$gid"
        echo "export SANVERBS_PEER_HOST=$([ "$guest" = a ] && echo "$other" || echo "$ip")"
    } >>"$out"
}
