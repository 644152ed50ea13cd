#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# RDMA write bandwidth and send latency: sanverbs endpoints (and the SAN
# provider's overlapped WSPRdmaWrite) vs perftest (ib_write_bw, ib_send_lat)
# on the same rxe link, interleaved so that no ratio spans more than one
# trial's minutes. Same work on both sides, stated with the figures: message
# size, iterations, requests in flight (tx depth), and signalling (one
# signaled request every CQMOD, as perftest's --cq-mod).
# Units: MiB/s (2^20 bytes) on both sides, as perftest reports.
#
# Run on an rxe host, e.g.:
#   tests/vm/run.sh --rw $PWD/build -- bench/ep-vs-perftest.sh build
# Uses the rig's two hosts (SANVERBS_NS_A/B ...) when present, else rxe0:
# in one guest that is rxe_a -> rxe_b over a veth pair (two namespaces, or
# init_net with policy routing on kernels whose rxe is not namespace-aware).
#
# A trial runs every system of a part ROUNDS times in a palindromic order
# (A B C C B A ...; the first system turns from trial to trial), so a load
# that rises or falls steadily during the trial weighs on every system
# alike. A system's figure for the trial is over all its runs: total bytes
# over total time for bandwidth (n / sum of 1/MiB/s), the mean of the runs'
# medians for latency. Each run is printed too.
#
# The SAN provider's comparison: 16 overlapped WSPRdmaWrites of 64 KiB in
# flight against ib_write_bw with the same size and depth (-t 16), once with
# perftest's own default signalling (--cq-mod 100, which perftest caps to the
# tx depth: one signaled write in 16) and once with every write signaled
# (-Q 1), which is the WSP's work: each overlapped WSPRdmaWrite is one
# signaled work request with its own completion.
#
# Every part also runs its perftest program a second time as a system of
# its own (the control, "ctl"): its ratio to the first copy, trial by trial,
# is what two identical runs differ by on this host at that moment, the
# noise floor against which every other ratio of the part is read.
#
# A run that fails (non-zero exit of either side, a timeout, no figure) is
# never dropped quietly: its trial is printed as FAILED with the reason, it
# counts in no min / median / max, the summary lists it, and the script
# exits 1. Nothing is retried.
# Env: SV_BW_SIZE (65536), SV_BW_ITERS (5000), SV_DEPTH (16), SV_CQMOD (16),
#      SV_LAT_ITERS (1000), SV_REPS (3 trials), SV_ROUNDS (2 runs of every
#      system per trial), SV_TIMEOUT (600 s per run), SV_PARTS (ep,wsp,lat:
#      which comparisons to run), SV_WSP_BASELINE (a directory holding
#      another build's libsanverbs-provider.so.1: its WSPRdmaWrite runs in
#      every trial too, to show what a provider change did)
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
ROUNDS=${SV_ROUNDS:-2}
TMO=${SV_TIMEOUT:-600}
PARTS=,${SV_PARTS:-ep,wsp,lat},
has() { [[ $PARTS == *,$1,* ]]; }
export LD_LIBRARY_PATH=$build/src:$build/provider${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ -n "${SANVERBS_NS_A:-}" ] && [ -n "${SANVERBS_IP_B:-}" ]; then
	NSA=(ip netns exec "$SANVERBS_NS_A"); NSB=(ip netns exec "$SANVERBS_NS_B")
	IPB=$SANVERBS_IP_B; DEVA=$SANVERBS_RXE_A; DEVB=$SANVERBS_RXE_B
	GIDA=$SANVERBS_GID_INDEX_A; GIDB=$SANVERBS_GID_INDEX_B
else
	NSA=(); NSB=(); IPB=${SANVERBS_RXE_IP:?no rxe link (run under tests/vm/run.sh)}
	DEVA=$SANVERBS_RXE_DEV; DEVB=$DEVA
	GIDA=$SANVERBS_RXE_GID_INDEX; GIDB=$GIDA
fi

# Each run sets RES (its figure) or WHY (why there is none).
why() { # WHAT CLIENT-STATUS SERVER-STATUS: the reason, with each side's last error line
	local c s
	c=$(grep -v '^\s*$' "$tmp/c.err" 2>/dev/null | tail -n 1)
	s=$(grep -v '^\s*$' "$tmp/s.err" 2>/dev/null | tail -n 1)
	WHY="$1: client exit $2, server exit $3"
	[ "$2" = 124 ] || [ "$3" = 124 ] && WHY+=" (timed out after ${TMO} s)"
	WHY+="; client: ${c:-(nothing on stderr)}; server: ${s:-(nothing on stderr)}"
	return 0
}

# perftest: server in B, client in A; one field of its result line
perf() { # TOOL FIELD ARGS...
	local tool=$1 field=$2 spid i cst=0 sst=0; shift 2
	RES=; WHY=
	"${NSB[@]}" timeout "$TMO" "$tool" -d "$DEVB" -x "$GIDB" "$@" \
		>/dev/null 2>"$tmp/s.err" &
	spid=$!
	# its TCP side channel (port 18515) listening, not a fixed sleep:
	# on a loaded host starting takes anything up to 30 s
	for ((i = 0; i < 600; i++)); do
		[ -n "$("${NSB[@]}" ss -Hltn 'sport = :18515' 2>/dev/null)" ] && break
		sleep 0.1
	done
	"${NSA[@]}" timeout "$TMO" "$tool" -d "$DEVA" -x "$GIDA" "$@" "$IPB" \
		>"$tmp/c.out" 2>"$tmp/c.err" || cst=$?
	wait $spid || sst=$?
	RES=$(awk -v f="$field" '$1 ~ /^[0-9]+$/ && NF >= 5 && $f ~ /^[0-9.]+$/ { print $f; exit }' "$tmp/c.out")
	if [ "$cst" != 0 ] || [ "$sst" != 0 ] || [ -z "$RES" ]; then
		RES=; why "$tool" "$cst" "$sst"
	fi
}

ours() { # PROGRAM SERVER-ARGS -- CLIENT-ARGS (server prints its port)
	local prog=$1 fifo port=0 spid sargs=() cst=0 sst=0; shift
	while [ "$1" != -- ]; do sargs+=("$1"); shift; done; shift
	RES=; WHY=
	fifo=$tmp/port; rm -f "$fifo"; mkfifo "$fifo"
	"${NSB[@]}" timeout "$TMO" "$prog" server "${sargs[@]}" >"$fifo" 2>"$tmp/s.err" &
	spid=$!
	read -r port <"$fifo" || true
	if [ -n "$port" ]; then
		"${NSA[@]}" timeout "$TMO" "$prog" client "$IPB" "$port" "$@" \
			>"$tmp/c.out" 2>"$tmp/c.err" || cst=$?
	else
		cst=-; : >"$tmp/c.out"; : >"$tmp/c.err"
	fi
	wait $spid || sst=$?
	RES=$(awk 'NF >= 2 && $2 ~ /^[0-9.]+$/ { print $2; exit }' "$tmp/c.out")
	if [ "$cst" != 0 ] || [ "$sst" != 0 ] || [ -z "$RES" ]; then
		RES=; why "${prog##*/}" "$cst" "$sst"
	fi
}

run_sys() { # NAME: one run of that system
	case $1 in
	ep_p | ep_c) perf ib_write_bw 4 -s "$SIZE" -n "$BW_ITERS" -t "$DEPTH" -Q "$CQMOD" ;;
	ep_s) ours "$bench" "$IPB" "$DEVB" -- "$DEVA" bw "$SIZE" "$BW_ITERS" "$DEPTH" "$CQMOD" ;;
	w_pd | w_c) perf ib_write_bw 4 -s "$SIZE" -n "$BW_ITERS" -t "$DEPTH" ;;
	w_p1) perf ib_write_bw 4 -s "$SIZE" -n "$BW_ITERS" -t "$DEPTH" -Q 1 ;;
	w_w) ours "$wspbench" "$IPB" -- "$SIZE" "$BW_ITERS" "$DEPTH" ;;
	w_b) LD_LIBRARY_PATH=$SV_WSP_BASELINE:$LD_LIBRARY_PATH \
		ours "$wspbench" "$IPB" -- "$SIZE" "$BW_ITERS" "$DEPTH" ;;
	l_p | l_c) perf ib_send_lat 5 -s 2 -n "$LAT_ITERS" ;;
	l_s) ours "$bench" "$IPB" "$DEVB" -- "$DEVA" lat 2 "$LAT_ITERS" ;;
	esac
}

combine() { # bw|lat VALUES...: the trial's figure over its runs
	local kind=$1; shift
	printf '%s\n' "$@" | awk -v k="$kind" '{ n++; s += (k == "bw" ? 1 / $1 : $1) }
		END { printf "%.2f", k == "bw" ? n / s : s / n }'
}

stats() { # VALUES...: min median max of the trials that have a figure
	printf '%s\n' "$@" | grep -v -e nan -e FAILED | sort -g |
		awk '{ a[NR] = $1 } END { if (!NR) { print "nan nan nan"; exit }
			printf "%s %s %s\n", a[1], a[int((NR + 1) / 2)], a[NR] }'
}
ratio() { awk -v s="$1" -v p="$2" 'BEGIN { if (p + 0 > 0 && s + 0 > 0) printf "%.3f", s / p; else print "nan" }'; }

declare -A FIG   # FIG[name,trial]: the trial's figure, or nan
declare -A RUNS  # RUNS[name,trial]: its runs, as printed
failures=()

# trial TRIAL KIND NAME...: every system ROUNDS times, palindromic order
trial() {
	local t=$1 kind=$2 order=() seq=() i j n name vals; shift 2
	declare -A got bad
	n=$#
	for ((i = 0; i < n; i++)); do
		j=$(((i + t - 1) % n + 1))
		order+=("${!j}")
	done
	for ((j = 0; j < ROUNDS; j++)); do
		if ((j % 2 == 0)); then
			seq+=("${order[@]}")
		else
			for ((i = n - 1; i >= 0; i--)); do seq+=("${order[i]}"); done
		fi
	done
	for name in "${seq[@]}"; do
		run_sys "$name"
		if [ -n "$RES" ]; then
			got[$name]+=" $RES"
		else
			bad[$name]=1; got[$name]+=" FAILED"
			failures+=("trial $t, $name: $WHY")
			echo "trial $t: $name run FAILED: $WHY" >&2
		fi
	done
	for name in "$@"; do
		vals=${got[$name]# }
		RUNS[$name,$t]=$vals
		if [ -n "${bad[$name]:-}" ]; then
			FIG[$name,$t]=nan
		else
			# shellcheck disable=SC2086
			FIG[$name,$t]=$(combine "$kind" $vals)
		fi
	done
}

fig() { # NAME TRIAL: "figure [runs]"
	if [ "${FIG[$1,$2]}" = nan ]; then
		echo "FAILED [${RUNS[$1,$2]}]"
	else
		echo "${FIG[$1,$2]} [${RUNS[$1,$2]}]"
	fi
}
col() { local name=$1 t; for ((t = 1; t <= REPS; t++)); do echo "${FIG[$name,$t]}"; done; }
rcol() { local t; for ((t = 1; t <= REPS; t++)); do ratio "${FIG[$1,$t]}" "${FIG[$2,$t]}"; echo; done; }

for ((r = 1; r <= REPS; r++)); do
	line="trial $r:"
	if has ep; then
		trial "$r" bw ep_p ep_s ep_c
		line+=" write ${SIZE} B 1 signaled in ${CQMOD}: perftest $(fig ep_p "$r") MiB/s,"
		line+=" endpoint $(fig ep_s "$r") MiB/s (x$(ratio "${FIG[ep_s,$r]}" "${FIG[ep_p,$r]}"));"
	fi
	if has wsp; then
		if [ -n "${SV_WSP_BASELINE:-}" ]; then
			trial "$r" bw w_pd w_p1 w_w w_c w_b
		else
			trial "$r" bw w_pd w_p1 w_w w_c
		fi
		line+=" WSPRdmaWrite $(fig w_w "$r") MiB/s, ib_write_bw default $(fig w_pd "$r") (x$(ratio "${FIG[w_w,$r]}" "${FIG[w_pd,$r]}")),"
		line+=" -Q 1 $(fig w_p1 "$r") (x$(ratio "${FIG[w_w,$r]}" "${FIG[w_p1,$r]}"));"
		if [ -n "${SV_WSP_BASELINE:-}" ]; then
			line+=" baseline WSPRdmaWrite $(fig w_b "$r") (this/baseline x$(ratio "${FIG[w_w,$r]}" "${FIG[w_b,$r]}"));"
		fi
	fi
	if has lat; then
		trial "$r" lat l_p l_s l_c
		line+=" send 2 B: perftest $(fig l_p "$r") us, endpoint $(fig l_s "$r") us (x$(ratio "${FIG[l_s,$r]}" "${FIG[l_p,$r]}"))"
	fi
	echo "$line"
done

# shellcheck disable=SC2046
{
echo "link: ${DEVA} -> ${DEVB} (${IPB}, ${SANVERBS_TWOHOST_MODE:-one device}), ${REPS} trials of ${ROUNDS} runs per system (palindromic order), min / median / max over trials"
echo "Absolute figures under QEMU/TCG are 10-100x below hardware; the ratios are the result."
if has ep; then
	echo "RDMA write ${SIZE} B x ${BW_ITERS}, ${DEPTH} in flight, one signaled every ${CQMOD}:"
	echo "  perftest ib_write_bw  MiB/s: $(stats $(col ep_p))"
	echo "  sanverbs endpoint     MiB/s: $(stats $(col ep_s))"
	echo "  ratio endpoint/perftest per trial: $(rcol ep_s ep_p | xargs) -> $(stats $(rcol ep_s ep_p)) (target >= 0.95)"
	echo "  control: ib_write_bw again / ib_write_bw per trial: $(rcol ep_c ep_p | xargs) -> $(stats $(rcol ep_c ep_p)) (noise floor, ideally 1)"
fi
if has wsp; then
	echo "RDMA write ${SIZE} B x ${BW_ITERS}, ${DEPTH} in flight (MiB/s = 2^20 B/s):"
	echo "  perftest ib_write_bw -t ${DEPTH} (default signalling: 1 in ${DEPTH}) MiB/s: $(stats $(col w_pd))"
	echo "  perftest ib_write_bw -t ${DEPTH} -Q 1 (every write signaled)  MiB/s: $(stats $(col w_p1))"
	echo "  overlapped WSPRdmaWrite, polled (every write signaled)   MiB/s: $(stats $(col w_w))"
	echo "  ratio WSP/ib_write_bw default per trial: $(rcol w_w w_pd | xargs) -> $(stats $(rcol w_w w_pd)) (target >= 0.90)"
	echo "  ratio WSP/ib_write_bw -Q 1 per trial:    $(rcol w_w w_p1 | xargs) -> $(stats $(rcol w_w w_p1)) (same signalling)"
	echo "  control: ib_write_bw default again / ib_write_bw default per trial: $(rcol w_c w_pd | xargs) -> $(stats $(rcol w_c w_pd)) (noise floor, ideally 1)"
	if [ -n "${SV_WSP_BASELINE:-}" ]; then
		echo "  baseline provider ($SV_WSP_BASELINE) WSPRdmaWrite MiB/s: $(stats $(col w_b))"
		echo "  ratio baseline/ib_write_bw default per trial: $(rcol w_b w_pd | xargs) -> $(stats $(rcol w_b w_pd))"
		echo "  ratio this/baseline provider per trial: $(rcol w_w w_b | xargs) -> $(stats $(rcol w_w w_b))"
	fi
fi
if has lat; then
	echo "send 2 B x ${LAT_ITERS} ping-pong, one-way typical (median) latency:"
	echo "  perftest ib_send_lat  us: $(stats $(col l_p))"
	echo "  sanverbs endpoint     us: $(stats $(col l_s))"
	echo "  ratio endpoint/perftest per trial: $(rcol l_s l_p | xargs) -> $(stats $(rcol l_s l_p)) (target <= 1.1 in every trial)"
	echo "  control: ib_send_lat again / ib_send_lat per trial: $(rcol l_c l_p | xargs) -> $(stats $(rcol l_c l_p)) (noise floor, ideally 1)"
fi
}
if [ ${#failures[@]} -gt 0 ]; then
	echo "FAILED runs: ${#failures[@]} (their trials count in no figure above):"
	printf '  %s\n' "${failures[@]}"
	exit 1
fi
echo "failed runs: none"
