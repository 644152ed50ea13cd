#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# Copies a 5 MiB random file from side A to side B with wsp-filecopy and
# compares it. Run on an rxe host:
#   tests/vm/run.sh --rw $PWD/build -- examples/run-filecopy.sh build
set -euo pipefail
build=${1:-build}
exe=$build/examples/wsp-filecopy
if [ -n "${SANVERBS_NS_A:-}" ] && [ -n "${SANVERBS_IP_B:-}" ]; then
	NSA=(ip netns exec "$SANVERBS_NS_A"); NSB=(ip netns exec "$SANVERBS_NS_B"); IPB=$SANVERBS_IP_B
else
	NSA=(); NSB=(); IPB=${SANVERBS_RXE_IP:?run under tests/vm/run.sh}
fi
tmp=$(mktemp -d)
head -c $((5 << 20)) /dev/urandom >"$tmp/in"
mkfifo "$tmp/port"
"${NSB[@]}" timeout 120 "$exe" server "$IPB" "$tmp/out" >"$tmp/port" &
spid=$!
read -r port <"$tmp/port"
"${NSA[@]}" timeout 120 "$exe" client "$IPB" "$port" "$tmp/in"
wait $spid
cmp "$tmp/in" "$tmp/out" && echo "files identical ($(stat -c %s "$tmp/out") bytes)"
rm -rf "$tmp"
