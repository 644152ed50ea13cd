#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# System calls of the WSPRdmaWrite client against ib_write_bw -Q 1 doing the
# same work (N overlapped 64 KiB writes, 16 in flight, every one signaled):
# strace -f -c of each client, whose counts (not times: strace slows every
# call) show what the provider adds per request. Run in the rxe guest:
#   tests/vm/run.sh --rw $PWD/build -- bench/ep-wsp-syscalls.sh build [BASEDIR]
# BASEDIR: another build's libsanverbs-provider.so.1, counted as well.
# Env: SV_N (300 writes). Writes <build>/ep-wsp-syscalls/*.txt and prints
# the main lines.
set -euo pipefail
build=${1:-build}
base=${2:-}
N=${SV_N:-300}
NSA=(ip netns exec "$SANVERBS_NS_A"); NSB=(ip netns exec "$SANVERBS_NS_B")
IPB=$SANVERBS_IP_B; DEVA=$SANVERBS_RXE_A; DEVB=$SANVERBS_RXE_B
GIDA=$SANVERBS_GID_INDEX_A; GIDB=$SANVERBS_GID_INDEX_B
export LD_LIBRARY_PATH=$build/src:$build/provider
out=$build/ep-wsp-syscalls
mkdir -p "$out"
show() {
	echo "== $1 ($N writes)"
	grep -E ' (write|read|ioctl|futex|epoll_wait|epoll_ctl|getpid|process_vm_readv|total)$' "$out/$1.txt"
}
"${NSB[@]}" timeout 300 ib_write_bw -d "$DEVB" -x "$GIDB" -s 65536 -n "$N" -t 16 -Q 1 >/dev/null 2>&1 &
sp=$!
for ((i = 0; i < 600; i++)); do
	[ -n "$("${NSB[@]}" ss -Hltn 'sport = :18515')" ] && break
	sleep 0.1
done
"${NSA[@]}" strace -f -c -o "$out/perftest-Q1.txt" timeout 300 ib_write_bw -d "$DEVA" \
	-x "$GIDA" -s 65536 -n "$N" -t 16 -Q 1 "$IPB" >/dev/null
wait $sp
show perftest-Q1
wsp() { # NAME [LIBDIR]
	local fifo port sp
	# not in the build directory: a 9p share (the rig's --rw) has no fifos
	fifo=$(mktemp -u); mkfifo "$fifo"
	LD_LIBRARY_PATH=${2:+$2:}$LD_LIBRARY_PATH "${NSB[@]}" timeout 300 \
		"$build/bench/sanverbs-ep-wsp-bench" server "$IPB" >"$fifo" &
	sp=$!
	read -r port <"$fifo"
	LD_LIBRARY_PATH=${2:+$2:}$LD_LIBRARY_PATH "${NSA[@]}" strace -f -c -o "$out/$1.txt" \
		timeout 300 "$build/bench/sanverbs-ep-wsp-bench" client "$IPB" "$port" 65536 "$N" 16 >/dev/null
	wait $sp
	rm -f "$fifo"
	show "$1"
}
wsp wsp
[ -n "$base" ] && wsp wsp-baseline "$base"
exit 0
