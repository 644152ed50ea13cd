/* SPDX-License-Identifier: MIT */
/* A context's cache: the verbs backend over its PD and the monitor its
 * attributes ask for. The cache core never sees the context. */

#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "ctx.h"
#include "lib/env.h"
#include "priv.h"

/* SANVERBS_CACHE_MERGE: 0/no/off/false keep overlapping registrations
 * side by side (docs/cache.md, "Merging": a merged entry is re-registered
 * whole and invalidated by a change of any of its pages, which a workload
 * of many buffers sharing pages with an ever-changing neighbour may not
 * want); default on. */
static bool env_merge_on(void)
{
	return sv_env_on("SANVERBS_CACHE_MERGE", "merging stays on");
}

/* SANVERBS_CACHE_ADMIT: "first" caches every miss, "second" a range the
 * monitor does not watch yet only at its second miss (admit.c); unset or
 * empty: second where watching new memory costs system calls
 * (userfaultfd), first otherwise. */
static enum sv_admit env_admit(void)
{
	const char *s = getenv("SANVERBS_CACHE_ADMIT");

	if (!s || !*s)
		return SV_ADMIT_AUTO;
	if (!strcasecmp(s, "first"))
		return SV_ADMIT_FIRST;
	if (!strcasecmp(s, "second"))
		return SV_ADMIT_SECOND;
	fprintf(stderr, "sanverbs: SANVERBS_CACHE_ADMIT=\"%s\" is not "
		"first|second; the default stays\n", s);
	return SV_ADMIT_AUTO;
}

static int open_monitor(void *arg, sv_invalidate_fn sink, void *sink_arg,
			struct sv_monitor **out, enum sanverbs_monitor *kind)
{
	const struct sanverbs_ctx *ctx = arg;

	return sv_monitor_open(ctx->attr.monitor, sink, sink_arg, out, kind);
}

int sv_cache_create(struct sanverbs_ctx *ctx, struct sv_cache **out)
{
	struct sv_cache_params p = {
		.max_entries = ctx->attr.cache_max_entries,
		.max_bytes = ctx->attr.cache_max_bytes,
		.merge = env_merge_on(),
		.admit = env_admit(),
		.mon_open = open_monitor,
		.mon_arg = ctx,
	};
	struct sv_cache *c;
	int ret;

	ret = sv_reg_verbs_create(ctx, &p.rb);
	if (ret)
		return ret;
	ret = sv_cache_create_core(&p, &c);
	if (ret) {
		p.rb->ops->destroy(p.rb);
		return ret;
	}
	/* Windows only pay off when the entry under them stays cached. */
	if (c->mon && c->max_entries)
		sv_reg_verbs_enable_windows(c->rb);
	*out = c;
	return 0;
}
