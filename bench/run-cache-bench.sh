#!/usr/bin/env bash
# Runs the registration-cache benchmark in the rxe guest and prints its
# ratios. Usage: bench/run-cache-bench.sh [BUILD_DIR] [-q] [--callgrind]
#   BUILD_DIR    a configured meson build (default: build); it is rebuilt
#   -q           quick run (fewer iterations, up to 10k entries)
#   --callgrind  instead of timing, count instructions and simulated cache
#                misses per operation with callgrind (deterministic, so
#                free of the TCG timing noise); needs valgrind on the host
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${1:-build}
shift || true
build=$(realpath "$build")
cg=0
for a in "$@"; do [ "$a" = --callgrind ] && cg=1; done
ninja -C "$build" bench/sanverbs-cache-bench >/dev/null
# 111k cached pages pin 450 MiB: give the guest room for it. One boot runs
# the bench under each monitor: userfaultfd, then the kernel module's (when
# kmod/build.sh builds it for the guest kernel).
if [ "$cg" = 0 ]; then
    kmod=()
    if ko=$("$here/kmod/build.sh" 2>/dev/null | tail -1) && [ -f "$ko" ]; then
        kmod=(--kmod "$ko")
    else
        echo "run-cache-bench: kmod/build.sh failed: userfaultfd only" >&2
    fi
    bench=$build/bench/sanverbs-cache-bench
    exec "$here/tests/vm/run.sh" --timeout 3000 --mem 3G "${kmod[@]}" \
        --rw "$build" -- sh -c 'uptime; SANVERBS_MONITOR=uffd "$0" "$@" &&
            if [ -e /dev/sanverbs ]; then SANVERBS_MONITOR=kmod "$0" "$@"; fi' \
        "$bench" "$@"
fi
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 1; }
out=$build/callgrind
rm -rf "$out"
mkdir -p "$out"
"$here/tests/vm/run.sh" --timeout 3000 --mem 3G --rw "$build" -- \
    valgrind --tool=callgrind --instr-atstart=no --collect-atstart=no \
    --cache-sim=yes --callgrind-out-file="$out/cg.out" \
    "$build/bench/sanverbs-cache-bench" "$@" >"$out/log" 2>&1 ||
    { cat "$out/log" >&2; exit 1; }
# One dump per phase: "<phase>-<iterations>"; print per-operation counts.
printf '%-16s %12s %10s %10s\n' phase 'Ir/op' 'D1miss/op' 'LLmiss/op'
for f in "$out"/cg.out.*; do
    awk '/^desc: Trigger: Client Request: /{tag=$NF}
         /^events:/{for(i=2;i<=NF;i++) ev[$i]=i-1}
         /^totals:|^summary:/{for(i=2;i<=NF;i++) v[i-1]=$i}
         END{n=tag; sub(/.*-/,"",n); ph=tag; sub(/-[0-9]+$/,"",ph);
             if (n+0 == 0) exit;
             printf "%-16s %12.0f %10.1f %10.1f\n", ph, v[ev["Ir"]]/n,
                 (v[ev["D1mr"]]+v[ev["D1mw"]])/n,
                 (v[ev["DLmr"]]+v[ev["DLmw"]])/n}' "$f"
done
