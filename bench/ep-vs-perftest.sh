#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# RDMA write bandwidth and send latency: sanverbs endpoints (and the SAN
# provider's overlapped WSPRdmaWrite) vs perftest (ib_write_bw, ib_send_lat)
# on the same rxe link, interleaved trial by trial so that no ratio spans
# more than one trial's minutes. Same work on both sides, stated with the
# figures: message size, iterations, requests in flight (tx depth), and
# signalling (one signaled request every CQMOD, as perftest's --cq-mod).
# Units: MiB/s (2^20 bytes) on both sides, as perftest reports.
#
# Run on an rxe host, e.g.:
#   tests/vm/run.sh --rw $PWD/build -- bench/ep-vs-perftest.sh build
# Uses the rig's two hosts (SANVERBS_NS_A/B ...) when present, else rxe0:
# in one guest that is rxe_a -> rxe_b over a veth pair (two namespaces, or
# init_net with policy routing on kernels whose rxe is not namespace-aware).
#
# The SAN provider's comparison: 16 overlapped WSPRdmaWrites of 64 KiB in
# flight against ib_write_bw with the same size and depth (-t 16), once with
# perftest's own default signalling (--cq-mod 100, which perftest caps to the
# tx depth: one signaled write in 16) and once with every write signaled
# (-Q 1), which is the WSP's work: each overlapped WSPRdmaWrite is one
# signaled work request with its own completion. The three run in turned
# order in every trial.
# Env: SV_BW_SIZE (65536), SV_BW_ITERS (5000), SV_DEPTH (16), SV_CQMOD (16),
#      SV_LAT_ITERS (1000), SV_REPS (3), SV_PARTS (ep,wsp,lat: which
#      comparisons to run), SV_WSP_BASELINE (a directory holding another
#      build's libsanverbs-provider.so.1: its WSPRdmaWrite runs in every
#      trial too, to show what a provider change did)
set -euo pipefail
build=${1:-build}
bench=$build/bench/sanverbs-ep-bench
wspbench=$build/bench/sanverbs-ep-wsp-bench
SIZE=${SV_BW_SIZE:-65536}
BW_ITERS=${SV_BW_ITERS:-5000}
DEPTH=${SV_DEPTH:-16}
CQMOD=${SV_CQMOD:-16}
LAT_ITERS=${SV_LAT_ITERS:-1000}
REPS=${SV_REPS:-3}
PARTS=,${SV_PARTS:-ep,wsp,lat},
has() { [[ $PARTS == *,$1,* ]]; }
export LD_LIBRARY_PATH=$build/src:$build/provider${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}

if [ -n "${SANVERBS_NS_A:-}" ] && [ -n "${SANVERBS_IP_B:-}" ]; then
	NSA=(ip netns exec "$SANVERBS_NS_A"); NSB=(ip netns exec "$SANVERBS_NS_B")
	IPB=$SANVERBS_IP_B; DEVA=$SANVERBS_RXE_A; DEVB=$SANVERBS_RXE_B
	GIDA=$SANVERBS_GID_INDEX_A; GIDB=$SANVERBS_GID_INDEX_B
else
	NSA=(); NSB=(); IPB=${SANVERBS_RXE_IP:?no rxe link (run under tests/vm/run.sh)}
	DEVA=$SANVERBS_RXE_DEV; DEVB=$DEVA
	GIDA=$SANVERBS_RXE_GID_INDEX; GIDB=$GIDA
fi

# perftest: server in B, client in A; prints one field of the result line
perf() { # TOOL FIELD ARGS... (retried once: under load the client can
	 # beat the server's listen, and then both sides just fail)
	local tool=$1 field=$2 try out spid i; shift 2
	for try in 1 2; do
		"${NSB[@]}" timeout 120 "$tool" -d "$DEVB" -x "$GIDB" "$@" >/dev/null 2>&1 &
		spid=$!
		# its TCP side channel (port 18515) listening, not a fixed
		# sleep: on a loaded host starting takes anything up to 30 s
		for ((i = 0; i < 300; i++)); do
			[ -n "$("${NSB[@]}" ss -Hltn 'sport = :18515' 2>/dev/null)" ] && break
			sleep 0.1
		done
		out=$("${NSA[@]}" timeout 120 "$tool" -d "$DEVA" -x "$GIDA" "$@" "$IPB" 2>/dev/null |
			awk -v f="$field" '$1 ~ /^[0-9]+$/ && NF >= 5 && $f ~ /^[0-9.]+$/ { print $f; exit }')
		wait $spid || true
		[ -n "$out" ] && break
	done
	echo "${out:-nan}"
}

ours() { # PROGRAM SERVER-ARGS -- CLIENT-ARGS (server prints its port)
	local prog=$1 fifo port spid sargs=() out; shift
	while [ "$1" != -- ]; do sargs+=("$1"); shift; done; shift
	fifo=$(mktemp -u); mkfifo "$fifo"
	"${NSB[@]}" timeout 120 "$prog" server "${sargs[@]}" >"$fifo" &
	spid=$!
	read -r port <"$fifo"
	out=$("${NSA[@]}" timeout 120 "$prog" client "$IPB" "$port" "$@" | awk '{print $2}')
	wait $spid || true
	rm -f "$fifo"
	echo "${out:-nan}"
}

stats() { # VALUES...: min median max
	printf '%s\n' "$@" | grep -v nan | sort -g |
		awk '{ a[NR] = $1 } END { if (!NR) { print "nan nan nan"; exit }
			printf "%s %s %s\n", a[1], a[int((NR + 1) / 2)], a[NR] }'
}
ratio() { awk -v s="$1" -v p="$2" 'BEGIN { if (p + 0 > 0 && s != "nan") printf "%.3f", s / p; else print "nan" }'; }

bw_p=(); bw_s=(); w_pd=(); w_p1=(); w_w=(); lat_p=(); lat_s=()
r_bw=(); r_wd=(); r_w1=(); r_lat=(); w_b=(); r_wb=(); r_bd=()
for r in $(seq 1 "$REPS"); do
	line="trial $r:"
	# one trial of every system, the order turned each time
	if has ep; then
		p=$(perf ib_write_bw 4 -s "$SIZE" -n "$BW_ITERS" -t "$DEPTH" -Q "$CQMOD")
		s=$(ours "$bench" "$IPB" "$DEVB" -- "$DEVA" bw "$SIZE" "$BW_ITERS" "$DEPTH" "$CQMOD")
		bw_p+=("$p"); bw_s+=("$s"); r_bw+=("$(ratio "$s" "$p")")
		line+=" write ${SIZE} B 1 signaled in ${CQMOD}: perftest $p MiB/s, endpoint $s MiB/s (x$(ratio "$s" "$p"));"
	fi
	if has wsp; then
		nsys=3; [ -n "${SV_WSP_BASELINE:-}" ] && nsys=4
		for ((k = 0; k < nsys; k++)); do
			case $(((r + k) % nsys)) in
			0) pd=$(perf ib_write_bw 4 -s "$SIZE" -n "$BW_ITERS" -t "$DEPTH") ;;
			1) p1=$(perf ib_write_bw 4 -s "$SIZE" -n "$BW_ITERS" -t "$DEPTH" -Q 1) ;;
			2) w=$(ours "$wspbench" "$IPB" -- "$SIZE" "$BW_ITERS" "$DEPTH") ;;
			3) wb=$(LD_LIBRARY_PATH=$SV_WSP_BASELINE:$LD_LIBRARY_PATH \
				ours "$wspbench" "$IPB" -- "$SIZE" "$BW_ITERS" "$DEPTH") ;;
			esac
		done
		w_pd+=("$pd"); w_p1+=("$p1"); w_w+=("$w")
		r_wd+=("$(ratio "$w" "$pd")"); r_w1+=("$(ratio "$w" "$p1")")
		line+=" WSPRdmaWrite $w MiB/s, ib_write_bw default $pd (x$(ratio "$w" "$pd")), -Q 1 $p1 (x$(ratio "$w" "$p1"));"
		if [ "$nsys" = 4 ]; then
			w_b+=("$wb"); r_wb+=("$(ratio "$w" "$wb")"); r_bd+=("$(ratio "$wb" "$pd")")
			line+=" baseline WSPRdmaWrite $wb (this/baseline x$(ratio "$w" "$wb"));"
		fi
	fi
	if has lat; then
		if [ $((r % 2)) -eq 1 ]; then
			lp=$(perf ib_send_lat 5 -s 2 -n "$LAT_ITERS")
			ls=$(ours "$bench" "$IPB" "$DEVB" -- "$DEVA" lat 2 "$LAT_ITERS")
		else
			ls=$(ours "$bench" "$IPB" "$DEVB" -- "$DEVA" lat 2 "$LAT_ITERS")
			lp=$(perf ib_send_lat 5 -s 2 -n "$LAT_ITERS")
		fi
		lat_p+=("$lp"); lat_s+=("$ls"); r_lat+=("$(ratio "$ls" "$lp")")
		line+=" send 2 B: perftest $lp us, endpoint $ls us (x$(ratio "$ls" "$lp"))"
	fi
	echo "$line"
done
echo "link: ${DEVA} -> ${DEVB} (${IPB}, ${SANVERBS_TWOHOST_MODE:-one device}), ${REPS} interleaved trials, min / median / max"
echo "Absolute figures under QEMU/TCG are 10-100x below hardware; the ratios are the result."
if has ep; then
	echo "RDMA write ${SIZE} B x ${BW_ITERS}, ${DEPTH} in flight, one signaled every ${CQMOD}:"
	echo "  perftest ib_write_bw  MiB/s: $(stats "${bw_p[@]}")"
	echo "  sanverbs endpoint     MiB/s: $(stats "${bw_s[@]}")"
	echo "  ratio endpoint/perftest per trial: ${r_bw[*]} -> $(stats "${r_bw[@]}") (target >= 0.95)"
fi
if has wsp; then
	echo "RDMA write ${SIZE} B x ${BW_ITERS}, ${DEPTH} in flight (MiB/s = 2^20 B/s):"
	echo "  perftest ib_write_bw -t ${DEPTH} (default signalling: 1 in ${DEPTH}) MiB/s: $(stats "${w_pd[@]}")"
	echo "  perftest ib_write_bw -t ${DEPTH} -Q 1 (every write signaled)  MiB/s: $(stats "${w_p1[@]}")"
	echo "  overlapped WSPRdmaWrite, polled (every write signaled)   MiB/s: $(stats "${w_w[@]}")"
	echo "  ratio WSP/ib_write_bw default per trial: ${r_wd[*]} -> $(stats "${r_wd[@]}") (target >= 0.90)"
	echo "  ratio WSP/ib_write_bw -Q 1 per trial:    ${r_w1[*]} -> $(stats "${r_w1[@]}")"
	if [ ${#w_b[@]} -gt 0 ]; then
		echo "  baseline provider ($SV_WSP_BASELINE) WSPRdmaWrite MiB/s: $(stats "${w_b[@]}")"
		echo "  ratio baseline/ib_write_bw default per trial: ${r_bd[*]} -> $(stats "${r_bd[@]}")"
		echo "  ratio this/baseline provider per trial: ${r_wb[*]} -> $(stats "${r_wb[@]}")"
	fi
fi
if has lat; then
	echo "send 2 B x ${LAT_ITERS} ping-pong, one-way typical (median) latency:"
	echo "  perftest ib_send_lat  us: $(stats "${lat_p[@]}")"
	echo "  sanverbs endpoint     us: $(stats "${lat_s[@]}")"
	echo "  ratio endpoint/perftest per trial: ${r_lat[*]} -> $(stats "${r_lat[@]}") (target <= 1.1 in every trial)"
fi
