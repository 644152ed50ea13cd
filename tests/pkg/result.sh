# SPDX-License-Identifier: MIT
# Shared by scripts/test-packages.sh (host) and tests/pkg/guest-check.sh
# (guest): one meson-style JSON line per check appended to $results, for
# scripts/test-summary.py (suite "packages"), and a "[packages] name OK"
# line on stdout. Sets failed=1 on any failure. Source it after setting
# results=FILE.
# shellcheck shell=bash disable=SC2154,SC2034  # results, failed: the caller's

us() { local t=${EPOCHREALTIME/./}; echo "$t"; }
secs() { local d=$(( $(us) - $1 )); printf '%d.%d' $((d / 1000000)) $((d % 1000000 / 100000)); }
result() { # name OK|FAIL seconds detail
	local d=${4//\\/\\\\}
	d=${d//\"/\\\"}
	d=${d//[$'\001'-$'\010'$'\t'$'\013'-$'\037']/ }
	printf '{"name": "sanverbs:packages / %s", "result": "%s", "duration": %s, "stdout": "%s"}\n' \
		"$1" "$2" "$3" "${d//$'\n'/\\n}" >>"$results"
	printf '[packages] %-22s %s (%s s)\n' "$1" "$2" "$3"
	[ "$2" = OK ] || failed=1
}
