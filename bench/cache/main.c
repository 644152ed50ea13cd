/* SPDX-License-Identifier: MIT */
/* Registration-cache benchmark: every number is printed next to a baseline
 * measured in the same run on the same buffers, as a ratio.
 *   hit      sanverbs_mr_reg+dereg served by the cache vs raw
 *            ibv_reg_mr+ibv_dereg_mr (64 KiB, 4 MiB)
 *   miss     a registration the cache must make and later drop
 *            (sanverbs_mr_reg + dereg + sanverbs_cache_invalidate) vs raw,
 *            on the same range and on a fresh mapping each time; and the
 *            registration call alone (sanverbs_mr_reg on a miss vs
 *            ibv_reg_mr), timed inside the same pairs
 *   scale    hit cost with 1k, 10k, 100k cached entries, each in its own
 *            context, random lookups over all its entries
 *   threads  aggregate hit rate of 2 threads vs 1 on one context, next
 *            to a perfectly parallel control (private work per thread)
 *   inval    munmap of a cached (watched) range vs an unwatched one, and
 *            the delay from munmap's return to the callback
 *   hit_remote  re-registration with remote read/write (a memory window
 *            bound over the cached entry, unbound at dereg) vs raw
 *            ibv_reg_mr+ibv_dereg_mr with the remote bits, and vs the same
 *            context without windows (SANVERBS_CACHE_MW=0)
 * TCG guests share cores with other guests, so every comparison runs in
 * interleaved rounds (a noisy neighbour hits both sides of a round alike)
 * and prints the median of the per-round figures with their spread
 * [min .. max].
 *   fresh    the miss on fresh mappings (above), a fresh buffer used
 *            twice, and (userfaultfd) the maps read and UFFDIO_REGISTER
 *            a fresh miss adds, each timed alone
 * Usage: sanverbs-cache-bench [-q] [--callgrind] [--only LIST]
 *   -q           quick: fewer iterations, 10k entries at most
 *   --only LIST  only these phases, comma-separated: hit (hit and miss on
 *                one buffer), fresh, remote, threads, inval, scale
 *   --callgrind  only the instruction-count phases, for
 *                valgrind --tool=callgrind --instr-atstart=no (see
 *                bench/run-cache-bench.sh): each phase is dumped as
 *                "<name>-<iterations>" so per-operation counts can be
 *                computed without timing noise. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "bench.h"


#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif
#ifndef HAVE_CALLGRIND
#define CALLGRIND_START_INSTRUMENTATION
#define CALLGRIND_STOP_INSTRUMENTATION
#define CALLGRIND_TOGGLE_COLLECT
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(s) ((void)(s))
#endif

int mon_kmod;

/* Collects one phase of @iters operations as its own callgrind dump. */
#define CG_PHASE(name, iters, body)                                          \
	do {                                                                 \
		char tag_[64];                                               \
		snprintf(tag_, sizeof(tag_), "%s-%d", name, iters);          \
		CALLGRIND_ZERO_STATS;                                        \
		CALLGRIND_TOGGLE_COLLECT;                                    \
		body;                                                        \
		CALLGRIND_TOGGLE_COLLECT;                                    \
		CALLGRIND_DUMP_STATS_AT(tag_);                               \
	} while (0)

static void callgrind_phases(int quick)
{
	static const size_t steps[] = { 1000, 10000, 100000 };
	const size_t len = 64u << 10;
	const int n_ops = 200, n_hits = 5000;
	struct sanverbs_ctx *c = open_ctx(16384);
	struct ibv_pd *pd = sanverbs_ctx_pd(c);
	void *p = map(len);
	struct pop pop;
	size_t k;
	int i;

	CALLGRIND_START_INSTRUMENTATION;
	/* warm: first-call costs (lazy binding, first fault) stay out */
	raw_one(pd, p, len);
	(void)reg_drop(c, p, len); /* seen once: admitted from here on */
	miss_one(c, p, len);
	reg_dereg(c, p, len);
	CG_PHASE("raw64k", n_ops, for (i = 0; i < n_ops; i++)
					  raw_one(pd, p, len));
	CG_PHASE("miss64k", n_ops, for (i = 0; i < n_ops; i++)
					   miss_one(c, p, len));
	reg_dereg(c, p, len);
	CG_PHASE("hit64k", n_hits, for (i = 0; i < n_hits; i++)
					   reg_dereg(c, p, len));
	CALLGRIND_STOP_INSTRUMENTATION;
	sanverbs_ctx_close(c);
	munmap(p, len);
	for (k = 0; k < 3 && steps[k] <= (quick ? 10000u : 100000u); k++) {
		char name[32];

		pop_fill(&pop, steps[k]);
		snprintf(name, sizeof(name), "hit-at-%zu", steps[k]);
		CALLGRIND_START_INSTRUMENTATION;
		pop_hits(&pop, 1000, 1); /* warm */
		CG_PHASE(name, n_hits, pop_hits(&pop, n_hits, 2));
		CALLGRIND_STOP_INSTRUMENTATION;
		pop_free(&pop);
	}
}

/* Whether phase @name runs: every one without --only. */
static int want(const char *only, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	if (!only)
		return 1;
	for (p = only; (p = strstr(p, name)); p += n)
		if ((p == only || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	const char *only = NULL;
	int quick = 0, cg = 0, i;
	static const size_t sizes[] = { 64u << 10, 4u << 20 };
	struct sanverbs_cache_stats st;
	struct sanverbs_ctx *c;
	int it_raw, it_hit;
	size_t k;

	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-q"))
			quick = 1;
		else if (!strcmp(argv[i], "--callgrind"))
			cg = 1;
		else if (!strcmp(argv[i], "--only") && i + 1 < argc)
			only = argv[++i];
		else {
			fprintf(stderr, "usage: %s [-q] [--callgrind] "
				"[--only LIST]\n", argv[0]);
			return 2;
		}
	}
	/* per round */
	it_raw = quick ? 10 : 40;
	it_hit = quick ? 3000 : 20000;
	/* run.sh streams our output: show progress as it comes */
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (cg) {
		callgrind_phases(quick);
		return 0;
	}
	c = open_ctx(16384);
	sanverbs_cache_stats(c, &st);
	printf("sanverbs cache bench on %s, monitor %s%s; %d interleaved "
	       "rounds, median [min .. max]\n",
	       sanverbs_ctx_device_name(c),
	       st.monitor == SANVERBS_MONITOR_UFFD ? "userfaultfd" :
	       st.monitor == SANVERBS_MONITOR_KMOD ? "kmod" : "none",
	       st.flags & SANVERBS_CACHE_F_UFFD_USER_MODE ? " (user-mode only)"
							  : "",
	       ROUNDS);
	if (st.monitor == SANVERBS_MONITOR_NONE)
		die("no monitor, no cache", -ENOTSUP);
	mon_kmod = st.monitor == SANVERBS_MONITOR_KMOD;

	for (k = 0; k < 2; k++) {
		int it = sizes[k] > (1u << 20) ? it_raw / 5 + 1 : it_raw;

		if (want(only, "hit"))
			hit_miss(c, sizes[k], it, it_hit);
		if (want(only, "fresh")) {
			fresh_miss(c, sizes[k], it, 0);
			fresh_miss(c, sizes[k], it, 1);
			fresh_twice(c, sizes[k], it);
		}
	}
	if (want(only, "fresh") && !mon_kmod)
		uffd_parts(c, it_raw);
	sanverbs_cache_stats(c, &st);
	if (!want(only, "remote")) {
	} else if (st.flags & SANVERBS_CACHE_F_REMOTE_MW) {
		struct sanverbs_ctx *nowin;

		/* read once, at the context's creation */
		setenv("SANVERBS_CACHE_MW", "0", 1);
		nowin = open_ctx(16384);
		unsetenv("SANVERBS_CACHE_MW");
		for (k = 0; k < 2; k++)
			hit_remote(c, nowin, sizes[k], quick ? 20 : 100);
		sanverbs_ctx_close(nowin);
	} else {
		printf("hit_remote: no memory windows on this context\n");
	}
	if (want(only, "threads"))
		multi_thread(c, it_hit);
	if (want(only, "inval"))
		invalidation(c, quick ? 50 : 200);
	sanverbs_ctx_close(c);
	if (want(only, "scale"))
		scale(quick ? 10000 : 100000, quick ? 3000 : 20000);
	return 0;
}
