#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Runs the registration comparison (sanverbs with each monitor vs
# libfabric's MR cache vs UCX vs raw verbs, plus ib_write_bw) inside the rxe
# guest (Debian 6.1 kernel, sanverbs.ko loaded for the sv-kmod column),
# prints the ratio table and plots hit cost vs entries.
#
# Usage: bench/run-compare.sh [--build DIR] [--out DIR] [--timeout SEC]
#                             [--kmod KO | --no-kmod] [--mem SIZE]
#                             [-- SANVERBS-BENCH-ARGS...]
#   --build DIR   meson build directory (default: $SANVERBS_BUILD or build)
#   --out DIR     where results go (default: DIR/bench-results):
#                 table.txt, results.json, data/*.dat, hitcost.png
#   --timeout SEC bound on the guest run (default 2400)
#   --kmod KO     the module to load (default: built by kmod/build.sh
#                 --kernel 6.1 and copied to DIR/sanverbs-6.1.ko)
#   --no-kmod     no module: the sv-kmod column says it cannot run
#   --mem SIZE    guest memory (default 6G: every system's process is alive
#                 through the whole run, and at the top of the sweep five
#                 caches each pin 100 000 pages and hold as many rxe MRs)
# Everything after -- goes to sanverbs-bench (e.g. --quick, --trials 7).
# A peer that cannot run on rxe is named, with the reason, in the table's
# notes; the script fails only when the rig or the build is missing.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
build=${SANVERBS_BUILD:-build}
out=
timeout=2400
kmod=
nokmod=0
mem=6G
while [ $# -gt 0 ]; do
	case $1 in
	--build) build=${2:?--build needs a directory}; shift ;;
	--out) out=${2:?--out needs a directory}; shift ;;
	--timeout) timeout=${2:?--timeout needs seconds}; shift ;;
	--kmod) kmod=${2:?--kmod needs a .ko}; shift ;;
	--no-kmod) nokmod=1 ;;
	--mem) mem=${2:?--mem needs a size}; shift ;;
	--) shift; break ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "run-compare: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
case $build in /*) ;; *) build=$top/$build ;; esac
out=${out:-$build/bench-results}
case $out in /*) ;; *) out=$PWD/$out ;; esac

cli=$build/bench/sanverbs-bench
[ -x "$cli" ] || { echo "run-compare: $cli missing: build first (ninja -C $build)" >&2; exit 1; }
[ -x "$build/bench/sanverbs-compare" ] || {
	echo "run-compare: $build/bench/sanverbs-compare missing: libfabric-dev was not found at meson setup (scripts/setup-deps.sh installs it)" >&2
	exit 1
}
mkdir -p "$out/data"

kmod_args=()
if [ "$nokmod" = 0 ]; then
	if [ -z "$kmod" ]; then
		# kmod/build.sh's output directory is shared: keep a copy.
		if ko=$("$top/kmod/build.sh" --kernel 6.1 | tail -n1) && [ -f "$ko" ]; then
			kmod=$build/sanverbs-6.1.ko
			cp "$ko" "$kmod"
		else
			echo "run-compare: kmod/build.sh --kernel 6.1 failed: no sv-kmod column" >&2
		fi
	fi
	[ -n "$kmod" ] && kmod_args=(--kmod "$kmod")
fi
rm -f "$out"/data/*.dat "$out/table.txt" "$out/results.json"

# The guest sees the host read-only; only $out is writable there.
"$top/tests/vm/fetch-guest.sh" --kernel 6.1 >/dev/null
status=0
"$top/tests/vm/run.sh" --kernel 6.1 --mem "$mem" --timeout "$timeout" \
	"${kmod_args[@]}" --rw "$out" -- \
	"$cli" --data "$out/data" --json-out "$out/results.json" "$@" \
	> "$out/table.txt" || status=$?
cat "$out/table.txt"
if [ $status -ne 0 ]; then
	echo "run-compare: the bench run exited with status $status" >&2
	exit $status
fi

if command -v gnuplot >/dev/null; then
	# Fixed order, so colours and the legend read the same every run.
	systems=
	for s in sanverbs sv-kmod lf-uffd lf-memhooks ucx raw lf-nocache; do
		[ -e "$out/data/hit_entries-$s.dat" ] && systems+="$s "
	done
	rev=$(git -C "$top" rev-parse --short HEAD 2>/dev/null || echo '?')
	gnuplot -e "datadir='$out/data'; systems='$systems'; out='$out/hitcost.png'; subtitle='$(uname -m), rxe in a 2-vCPU TCG guest (Debian 6.1 kernel), commit $rev'" \
		"$top/bench/plot-hitcost.gp"
	echo "plot: $out/hitcost.png"
else
	echo "run-compare: gnuplot not installed (Debian gnuplot-nox): no plot" >&2
fi
echo "results: $out/table.txt $out/results.json"
