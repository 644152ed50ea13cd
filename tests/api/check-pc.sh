#!/bin/sh
# SPDX-License-Identifier: MIT
# Description: sanverbs.pc and sanverbs-provider.pc describe the libraries
# this build makes: each carries the project version, the provider's
# requires sanverbs, and a program outside the build compiled and linked
# with nothing but `pkg-config --cflags --libs sanverbs-provider` runs
# (against the build tree's libraries, through meson's uninstalled .pc).
# usage: check-pc.sh BUILDDIR SRCDIR VERSION
set -eu
build=$1 src=$2 version=$3
export PKG_CONFIG_PATH="$build/meson-uninstalled"
fail() { echo "check-pc: $*"; exit 1; }
for pc in sanverbs sanverbs-provider; do
	v=$(pkg-config --modversion "$pc-uninstalled") ||
		fail "pkg-config does not know $pc"
	[ "$v" = "$version" ] || fail "$pc.pc says version $v, the project $version"
done
pkg-config --print-requires sanverbs-provider-uninstalled | grep -qx 'sanverbs' ||
	fail "sanverbs-provider.pc does not require sanverbs"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2046
${CC:-cc} -Wall -Werror -o "$tmp/consumer" "$src/tests/api/pc-consumer.c" \
	$(pkg-config --cflags --libs sanverbs-provider-uninstalled) ||
	fail "a program does not build with sanverbs-provider's pkg-config flags"
# In the ASan build the libraries bring the ASan runtime in after libc: a
# consumer built as a user would (no -fsanitize) still runs, as it does
# against the installed libraries.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" \
LD_LIBRARY_PATH="$build/src:$build/provider" "$tmp/consumer" ||
	fail "the program built from pkg-config flags did not run"
echo "sanverbs.pc and sanverbs-provider.pc ($version): ok"
