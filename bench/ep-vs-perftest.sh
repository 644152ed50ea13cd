#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# RDMA write bandwidth and send latency: sanverbs endpoints vs perftest
# (ib_write_bw, ib_send_lat) on the same rxe link, in the same run, with the
# same message size, iteration count and queue depth. Prints each number and
# the ratio sanverbs/perftest (bandwidth: higher is better; latency: lower).
#
# Run on an rxe host, e.g.:
#   tests/vm/run.sh --rw $PWD/build -- bench/ep-vs-perftest.sh build
# Uses the rig's two hosts (SANVERBS_NS_A/B ...) when present, else rxe0.
# Env: SV_BW_SIZE (65536), SV_BW_ITERS (2000), SV_LAT_ITERS (1000), SV_REPS (3)
set -euo pipefail
build=${1:-build}
bench=$build/bench/sanverbs-ep-bench
SIZE=${SV_BW_SIZE:-65536}
BW_ITERS=${SV_BW_ITERS:-2000}
LAT_ITERS=${SV_LAT_ITERS:-1000}
REPS=${SV_REPS:-3}

if [ -n "${SANVERBS_NS_A:-}" ] && [ -n "${SANVERBS_IP_B:-}" ]; then
	NSA=(ip netns exec "$SANVERBS_NS_A"); NSB=(ip netns exec "$SANVERBS_NS_B")
	IPB=$SANVERBS_IP_B; DEVA=$SANVERBS_RXE_A; DEVB=$SANVERBS_RXE_B
	GIDA=$SANVERBS_GID_INDEX_A; GIDB=$SANVERBS_GID_INDEX_B
else
	NSA=(); NSB=(); IPB=${SANVERBS_RXE_IP:?no rxe link (run under tests/vm/run.sh)}
	DEVA=$SANVERBS_RXE_DEV; DEVB=$DEVA
	GIDA=$SANVERBS_RXE_GID_INDEX; GIDB=$GIDA
fi

# perftest: server in B, client in A; prints the BW average / t_typical line
perf() { # TOOL FIELD ARGS... (retried once: under load the client can
	 # beat the server's listen, and then both sides just fail)
	local tool=$1 field=$2 try out spid; shift 2
	for try in 1 2; do
		"${NSB[@]}" timeout 60 "$tool" -d "$DEVB" -x "$GIDB" "$@" >/dev/null 2>&1 &
		spid=$!
		sleep 2
		out=$("${NSA[@]}" timeout 60 "$tool" -d "$DEVA" -x "$GIDA" "$@" "$IPB" 2>/dev/null |
			awk -v f="$field" '$1 ~ /^[0-9]+$/ && NF >= 5 && $f ~ /^[0-9.]+$/ { print $f; exit }')
		wait $spid || true
		[ -n "$out" ] && break
	done
	echo "${out:-nan}"
}

ours() { # MODE SIZE ITERS
	local fifo port spid
	fifo=$(mktemp -u); mkfifo "$fifo"
	"${NSB[@]}" timeout 120 "$bench" server "$IPB" "$DEVB" >"$fifo" &
	spid=$!
	read -r port <"$fifo"
	"${NSA[@]}" timeout 120 "$bench" client "$IPB" "$port" "$DEVA" "$@"
	wait $spid || true
	rm -f "$fifo"
}

median() { grep -v nan | sort -g | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }

bw_p=(); bw_s=(); lat_p=(); lat_s=()
for r in $(seq 1 "$REPS"); do
	# alternate the order so drift on the shared host hits both equally
	if [ $((r % 2)) -eq 1 ]; then
		bw_p+=("$(perf ib_write_bw 4 -s "$SIZE" -n "$BW_ITERS" -t 128)")
		bw_s+=("$(ours bw "$SIZE" "$BW_ITERS" | awk '{print $2}')")
	else
		bw_s+=("$(ours bw "$SIZE" "$BW_ITERS" | awk '{print $2}')")
		bw_p+=("$(perf ib_write_bw 4 -s "$SIZE" -n "$BW_ITERS" -t 128)")
	fi
	lat_p+=("$(perf ib_send_lat 5 -s 2 -n "$LAT_ITERS")")
	lat_s+=("$(ours lat 2 "$LAT_ITERS" | awk '{print $2}')")
done
mbp=$(printf '%s\n' "${bw_p[@]}" | median); mbs=$(printf '%s\n' "${bw_s[@]}" | median)
mlp=$(printf '%s\n' "${lat_p[@]}" | median); mls=$(printf '%s\n' "${lat_s[@]}" | median)
echo "link: ${DEVA} -> ${DEVB} (${IPB}), ${REPS} reps, medians"
echo "RDMA write ${SIZE} B x ${BW_ITERS}, depth 128: perftest ${mbp} MB/s (${bw_p[*]}), sanverbs ${mbs} MB/s (${bw_s[*]})"
awk -v s="$mbs" -v p="$mbp" 'BEGIN { printf "  bandwidth ratio sanverbs/perftest = %.3f (target >= 0.95)\n", s / p }'
echo "send 2 B x ${LAT_ITERS}, one-way typical: perftest ${mlp} us (${lat_p[*]}), sanverbs ${mls} us (${lat_s[*]})"
awk -v s="$mls" -v p="$mlp" 'BEGIN { printf "  latency ratio sanverbs/perftest = %.3f (lower is better)\n", s / p }'
