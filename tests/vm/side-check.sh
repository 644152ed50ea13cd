#!/bin/sh
# SPDX-License-Identifier: MIT
# side-check.sh — the smallest program under the two-host --side convention,
# for selftest.sh: peer.py pair must run side B on guest B and side A on
# guest A, both with the pair's link variables. Side B exits 3 on purpose,
# so the selftest can tell that the status reported is really side B's.
echo "$1 on $(uname -r): A $SANVERBS_IP_A/$SANVERBS_RXE_A, B $SANVERBS_IP_B/$SANVERBS_RXE_B"
case $1 in
    --side=b) [ "$SANVERBS_IP_B" = "$SANVERBS_LINK_IP_B" ] && [ "$SANVERBS_GUEST" = b ] && exit 3 ;;
    --side=a) [ "$SANVERBS_IP_A" = "$SANVERBS_LINK_IP_A" ] && [ "$SANVERBS_GUEST" = a ] && exit 0 ;;
esac
exit 9
