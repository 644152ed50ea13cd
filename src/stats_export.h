/* SPDX-License-Identifier: MIT */
/* Cache counters for `sanverbs stat`: with SANVERBS_STATS=1 every open
 * context is listed on one per-process unix socket (abstract name
 * "sanverbs.<pid>"), served by one small thread that lives while at least
 * one such context is open. Protocol: the client connects, the server
 * writes a text snapshot and closes:
 *     sanverbs-stats 1
 *     pid <pid>
 *     ctx <index> <device>
 *     <counter> <value>      (hits, misses, ... as sanverbs_cache_stats)
 *     ...
 *     end
 * Only the same user (or root) is answered. */
#ifndef SV_STATS_EXPORT_H
#define SV_STATS_EXPORT_H

#include <stddef.h>

struct sanverbs_ctx;

#define SV_STATS_SOCK_PREFIX "sanverbs."
#define SV_STATS_PROTO "sanverbs-stats 1"

/* Both are no-ops unless SANVERBS_STATS=1; failures only cost the stats
 * (said once on stderr), never the context. */
void sv_stats_export_add(struct sanverbs_ctx *ctx);
void sv_stats_export_remove(struct sanverbs_ctx *ctx);

/* Writes the snapshot of every listed context into @buf (NUL-terminated);
 * returns its length. Exposed for the unit test of the format. */
size_t sv_stats_export_snapshot(char *buf, size_t len);

#endif
