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
 * Usage: sanverbs-cache-bench [-q] [--callgrind]
 *   -q           quick: fewer iterations, 10k entries at most
 *   --callgrind  only the instruction-count phases, for
 *                valgrind --tool=callgrind --instr-atstart=no (see
 *                bench/run-cache-bench.sh): each phase is dumped as
 *                "<name>-<iterations>" so per-operation counts can be
 *                computed without timing noise. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "sanverbs.h"

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

#define ROUNDS 9
/* The monitor in use: some targets differ (issue text: kmod is held to
 * less overhead than userfaultfd). */
static int mon_kmod;
/* The scale test uses more, shorter rounds: its three sizes then run
 * within a few milliseconds of each other, inside one neighbour's burst
 * rather than across two. */
#define SCALE_ROUNDS 45

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "cache-bench: %s: %s\n", what, sanverbs_strerror(err));
	exit(1);
}

static void *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED)
		die("mmap", -errno);
	return p;
}

static struct sanverbs_ctx *open_ctx(size_t max_entries)
{
	struct sanverbs_ctx_attr a;
	struct sanverbs_ctx *c;
	int ret;

	sanverbs_ctx_attr_init(&a);
	if (!a.device)
		a.device = getenv("SANVERBS_RXE_DEV");
	a.cache_max_entries = max_entries;
	a.cache_max_bytes = 0;
	ret = sanverbs_ctx_open(&a, &c);
	if (ret)
		die("sanverbs_ctx_open", ret);
	return c;
}

struct spread {
	double med, lo, hi;
};

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static struct spread spread_of(const double *v, int n)
{
	double s[SCALE_ROUNDS];
	struct spread r;

	memcpy(s, v, n * sizeof(*s));
	qsort(s, n, sizeof(*s), cmp_double);
	r.med = s[n / 2];
	r.lo = s[0];
	r.hi = s[n - 1];
	return r;
}

/* The round medians above still carry the host's bursts; this estimate
 * does not: the median over all single operations of (miss - raw) of the
 * same pair, over the median raw operation, with the quartiles of that
 * difference. A burst lands in one pair and moves the median by one rank. */
static void paired(const char *what, const double *raw, const double *miss,
		   int n)
{
	double *d = malloc(2 * n * sizeof(*d)), *r = d + n, mraw;
	int i;

	if (!d)
		die("malloc", -ENOMEM);
	for (i = 0; i < n; i++) {
		d[i] = miss[i] - raw[i];
		r[i] = raw[i];
	}
	qsort(d, n, sizeof(*d), cmp_double);
	qsort(r, n, sizeof(*r), cmp_double);
	mraw = r[n / 2];
	printf("%s paired over %d ops: miss - raw = %+.2f us = %+.1f%% of "
	       "the median raw %.2f us [quartiles %+.1f%% .. %+.1f%%]\n",
	       what, n, d[n / 2] * 1e6, d[n / 2] / mraw * 100, mraw * 1e6,
	       d[n / 4] / mraw * 100, d[3 * n / 4] / mraw * 100);
	free(d);
}

/* Raw ibv_reg_mr + ibv_dereg_mr; *reg gets the time of ibv_reg_mr alone
 * (when not NULL). */
static void raw_one_split(struct ibv_pd *pd, void *p, size_t len,
			  double *reg)
{
	double t0 = reg ? now() : 0;
	struct ibv_mr *mr = ibv_reg_mr(pd, p, len, IBV_ACCESS_LOCAL_WRITE);

	if (!mr)
		die("ibv_reg_mr", -errno);
	if (reg)
		*reg = now() - t0;
	ibv_dereg_mr(mr);
}

static void raw_one(struct ibv_pd *pd, void *p, size_t len)
{
	raw_one_split(pd, p, len, NULL);
}

static void reg_dereg(struct sanverbs_ctx *c, void *p, size_t len)
{
	struct sanverbs_mr *mr;
	int ret = sanverbs_mr_reg(c, p, len, SANVERBS_ACCESS_LOCAL_WRITE, &mr);

	if (ret)
		die("sanverbs_mr_reg", ret);
	sanverbs_mr_dereg(mr);
}

/* A registration the cache has to make, then forget again; *reg gets the
 * time of sanverbs_mr_reg alone (when not NULL). */
static void miss_one_split(struct sanverbs_ctx *c, void *p, size_t len,
			   double *reg)
{
	double t0 = reg ? now() : 0;
	struct sanverbs_mr *mr;
	int ret = sanverbs_mr_reg(c, p, len, SANVERBS_ACCESS_LOCAL_WRITE, &mr);

	if (ret)
		die("sanverbs_mr_reg", ret);
	if (reg)
		*reg = now() - t0;
	sanverbs_mr_dereg(mr);
	if (sanverbs_cache_invalidate(c, p, len))
		die("miss was not cached", -EPROTO);
}

static void miss_one(struct sanverbs_ctx *c, void *p, size_t len)
{
	miss_one_split(c, p, len, NULL);
}

/* Seconds per cached sanverbs_mr_reg + dereg; timed as one block, since a
 * hit is too short for a clock read around each. */
static double hit_block(struct sanverbs_ctx *c, void *p, size_t len,
			int iters)
{
	double t0;
	int i;

	reg_dereg(c, p, len);
	t0 = now();
	for (i = 0; i < iters; i++)
		reg_dereg(c, p, len);
	return (now() - t0) / iters;
}

/* Hit vs raw and miss vs raw on one buffer. Raw and miss alternate one
 * operation at a time, so slow drift cannot favour either; hits are timed
 * in a block between them. */
static void hit_miss(struct sanverbs_ctx *c, size_t len, int it, int it_hit)
{
	struct ibv_pd *pd = sanverbs_ctx_pd(c);
	double raw[ROUNDS], hit[ROUNDS], miss[ROUNDS], rh[ROUNDS], mr[ROUNDS];
	struct spread s_raw, s_hit, s_miss, s_rh, s_mr;
	double *op_raw = calloc(4 * ROUNDS * it, sizeof(double));
	double *op_miss = op_raw + ROUNDS * it;
	double *op_rreg = op_miss + ROUNDS * it, *op_mreg = op_rreg + ROUNDS * it;
	void *p = map(len);
	int r, i, k = 0;
	char what[64];

	if (!op_raw)
		die("calloc", -ENOMEM);
	for (r = 0; r < ROUNDS; r++) {
		double t0, t1, t2, traw = 0, tmiss = 0;

		for (i = 0; i < it; i++, k++) {
			t0 = now();
			raw_one_split(pd, p, len, &op_rreg[k]);
			t1 = now();
			miss_one_split(c, p, len, &op_mreg[k]);
			t2 = now();
			op_raw[k] = t1 - t0;
			op_miss[k] = t2 - t1;
			tmiss += t2 - t1;
			traw += t1 - t0;
		}
		raw[r] = traw / it;
		miss[r] = tmiss / it;
		hit[r] = hit_block(c, p, len, it_hit);
		sanverbs_cache_invalidate(c, p, len);
		rh[r] = raw[r] / hit[r];
		mr[r] = (miss[r] / raw[r] - 1) * 100;
	}
	s_raw = spread_of(raw, ROUNDS);
	s_hit = spread_of(hit, ROUNDS);
	s_miss = spread_of(miss, ROUNDS);
	s_rh = spread_of(rh, ROUNDS);
	s_mr = spread_of(mr, ROUNDS);
	printf("%4zu KiB raw reg+dereg %9.2f us [%.2f .. %.2f]\n", len >> 10,
	       s_raw.med * 1e6, s_raw.lo * 1e6, s_raw.hi * 1e6);
	printf("%4zu KiB hit           %9.0f ns [%.0f .. %.0f]  "
	       "= 1/%.0f of raw [1/%.0f .. 1/%.0f]  (target <= 1/200 at 64 KiB)\n",
	       len >> 10, s_hit.med * 1e9, s_hit.lo * 1e9, s_hit.hi * 1e9,
	       s_rh.med, s_rh.lo, s_rh.hi);
	printf("%4zu KiB miss          %9.2f us [%.2f .. %.2f]  "
	       "= %+.1f%% vs raw [%+.1f .. %+.1f]  (target <= +5%%)\n",
	       len >> 10, s_miss.med * 1e6, s_miss.lo * 1e6, s_miss.hi * 1e6,
	       s_mr.med, s_mr.lo, s_mr.hi);
	snprintf(what, sizeof(what), "%4zu KiB miss", len >> 10);
	paired(what, op_raw, op_miss, k);
	snprintf(what, sizeof(what), "%4zu KiB miss, reg call only", len >> 10);
	paired(what, op_rreg, op_mreg, k);
	free(op_raw);
	munmap(p, len);
}

#define SV_RW (SANVERBS_ACCESS_REMOTE_WRITE | SANVERBS_ACCESS_REMOTE_READ)

static void raw_remote_one(struct ibv_pd *pd, void *p, size_t len)
{
	struct ibv_mr *mr = ibv_reg_mr(pd, p, len,
				       IBV_ACCESS_LOCAL_WRITE |
					       IBV_ACCESS_REMOTE_WRITE |
					       IBV_ACCESS_REMOTE_READ);

	if (!mr)
		die("ibv_reg_mr", -errno);
	ibv_dereg_mr(mr);
}

static void remote_one(struct sanverbs_ctx *c, void *p, size_t len)
{
	struct sanverbs_mr *mr;
	int ret = sanverbs_mr_reg(c, p, len, SV_RW, &mr);

	if (ret)
		die("sanverbs_mr_reg (remote)", ret);
	ret = sanverbs_mr_dereg(mr);
	if (ret)
		die("sanverbs_mr_dereg (remote)", ret);
}

/* Remote re-registration of one range: raw, with windows (@c), without
 * (@nowin), one operation of each in turn so drift favours none. @nowin
 * gets a buffer of its own: two contexts are two userfaultfds, and a range
 * one of them watches cannot be registered by the other (EBUSY), which
 * would time an uncached registration instead of the old remote path. */
static void hit_remote(struct sanverbs_ctx *c, struct sanverbs_ctx *nowin,
		       size_t len, int it)
{
	struct ibv_pd *pd = sanverbs_ctx_pd(c);
	double raw[ROUNDS], win[ROUNDS], old[ROUNDS], rw[ROUNDS], ro[ROUNDS];
	struct spread s_raw, s_win, s_old, s_rw, s_ro;
	struct sanverbs_cache_stats a, b;
	void *p = map(len), *q = map(len);
	int r, i;

	remote_one(c, p, len); /* the entry the hits find */
	sanverbs_cache_stats(c, &a);
	for (r = 0; r < ROUNDS; r++) {
		double t0, t1, t2, t3, tr = 0, tw = 0, to = 0;

		for (i = 0; i < it; i++) {
			t0 = now();
			raw_remote_one(pd, p, len);
			t1 = now();
			remote_one(c, p, len);
			t2 = now();
			remote_one(nowin, q, len);
			t3 = now();
			tr += t1 - t0;
			tw += t2 - t1;
			to += t3 - t2;
		}
		raw[r] = tr / it;
		win[r] = tw / it;
		old[r] = to / it;
		rw[r] = raw[r] / win[r];
		ro[r] = raw[r] / old[r];
	}
	sanverbs_cache_stats(c, &b);
	if (b.misses != a.misses)
		die("remote re-registration missed", -EPROTO);
	s_raw = spread_of(raw, ROUNDS);
	s_win = spread_of(win, ROUNDS);
	s_old = spread_of(old, ROUNDS);
	s_rw = spread_of(rw, ROUNDS);
	s_ro = spread_of(ro, ROUNDS);
	printf("%4zu KiB raw remote reg+dereg %9.2f us [%.2f .. %.2f]\n",
	       len >> 10, s_raw.med * 1e6, s_raw.lo * 1e6, s_raw.hi * 1e6);
	printf("%4zu KiB hit_remote (window)  %9.2f us [%.2f .. %.2f]  "
	       "= 1/%.2f of raw [1/%.2f .. 1/%.2f]\n",
	       len >> 10, s_win.med * 1e6, s_win.lo * 1e6, s_win.hi * 1e6,
	       s_rw.med, s_rw.lo, s_rw.hi);
	printf("%4zu KiB remote, no windows   %9.2f us [%.2f .. %.2f]  "
	       "= 1/%.2f of raw [1/%.2f .. 1/%.2f]\n",
	       len >> 10, s_old.med * 1e6, s_old.lo * 1e6, s_old.hi * 1e6,
	       s_ro.med, s_ro.lo, s_ro.hi);
	munmap(p, len);
	munmap(q, len);
}

/* Miss on memory the cache has never seen: the watch has real work (the
 * anonymity check and UFFDIO_REGISTER). Each round maps 2 * @it fresh
 * buffers first, then alternates raw and miss over them, then unmaps them
 * and lets the invalidations they cause finish: so no munmap, and no
 * deregistration the cache's worker defers from one, runs between timed
 * operations (they would be timed into the next miss otherwise). */
static void fresh_miss(struct sanverbs_ctx *c, size_t len, int it)
{
	struct ibv_pd *pd = sanverbs_ctx_pd(c);
	double raw[ROUNDS], miss[ROUNDS], mr[ROUNDS], t0;
	double *op_raw = calloc(2 * ROUNDS * it, sizeof(double));
	double *op_miss = op_raw + ROUNDS * it;
	void **b = calloc(2 * (size_t)it, sizeof(*b));
	struct spread s_raw, s_miss, s_mr;
	int i, r, k = 0;
	char what[64];

	if (!op_raw || !b)
		die("calloc", -ENOMEM);
	for (r = 0; r < ROUNDS; r++) {
		raw[r] = miss[r] = 0;
		for (i = 0; i < 2 * it; i++)
			b[i] = map(len);
		for (i = 0; i < it; i++, k++) {
			t0 = now();
			raw_one(pd, b[2 * i], len);
			op_raw[k] = now() - t0;
			raw[r] += op_raw[k];
			t0 = now();
			miss_one(c, b[2 * i + 1], len);
			op_miss[k] = now() - t0;
			miss[r] += op_miss[k];
		}
		for (i = 0; i < 2 * it; i++)
			munmap(b[i], len);
		usleep(20000);
		raw[r] /= it;
		miss[r] /= it;
		mr[r] = (miss[r] / raw[r] - 1) * 100;
	}
	s_raw = spread_of(raw, ROUNDS);
	s_miss = spread_of(miss, ROUNDS);
	s_mr = spread_of(mr, ROUNDS);
	printf("%4zu KiB fresh mapping: raw %9.2f us [%.2f .. %.2f] | miss "
	       "%9.2f us [%.2f .. %.2f] = %+.1f%% vs raw [%+.1f .. %+.1f]%s\n",
	       len >> 10, s_raw.med * 1e6, s_raw.lo * 1e6, s_raw.hi * 1e6,
	       s_miss.med * 1e6, s_miss.lo * 1e6, s_miss.hi * 1e6, s_mr.med,
	       s_mr.lo, s_mr.hi,
	       len != 64u << 10 ? "" : mon_kmod ? "  (target <= +10%)" :
	       "  (target <= +25%)");
	snprintf(what, sizeof(what), "%4zu KiB fresh miss", len >> 10);
	paired(what, op_raw, op_miss, k);
	free(b);
	free(op_raw);
}

/* xorshift: the same sequence for every entry count */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

struct pop {
	struct sanverbs_ctx *c;
	uint8_t *base;
	size_t n;
	long pg;
	uint64_t fill_misses; /* misses once filled */
};

/* A context holding @n cached entries, one per page of its own mapping
 * (each context has its own monitor, so the mappings must not overlap). */
static void pop_fill(struct pop *p, size_t n)
{
	struct sanverbs_cache_stats st;
	double t0 = now();
	size_t i;
	int pass;

	p->pg = sysconf(_SC_PAGESIZE);
	p->n = n;
	p->c = open_ctx(2 * n);
	p->base = map(n * p->pg);
	for (pass = 0; pass < 3; pass++) {
		/* a second pass re-registers what the monitor invalidated
		 * meanwhile (the module's notifier reports some changes of
		 * neighbouring pages too: never stale, but not cached) */
		for (i = 0; i < n; i++)
			reg_dereg(p->c, p->base + i * p->pg, 64);
		sanverbs_cache_stats(p->c, &st);
		if (st.entries == n)
			break;
		printf("  fill of %zu: %zu entries after pass %d, again\n", n,
		       (size_t)st.entries, pass + 1);
	}
	if (st.entries != n) {
		fprintf(stderr, "cache-bench: %zu entries cached of %zu "
			"(uncached %llu, evictions %llu)\n", (size_t)st.entries,
			n, (unsigned long long)st.uncached,
			(unsigned long long)st.evictions);
		die("entry count after fill", -EPROTO);
	}
	p->fill_misses = st.misses;
	fprintf(stderr, "  filled %zu entries in %.1f s\n", n, now() - t0);
}

static void pop_free(struct pop *p)
{
	sanverbs_ctx_close(p->c);
	munmap(p->base, p->n * p->pg);
}

/* @iters hits, each on an entry picked at random among all of them. */
static void __attribute__((noinline))
pop_hits(struct pop *p, int iters, uint64_t seed)
{
	int i;

	for (i = 0; i < iters; i++)
		reg_dereg(p->c, p->base + (rnd(&seed) % p->n) * p->pg + 8, 32);
}

static void scale(size_t max_n, int iters)
{
	static const size_t steps[] = { 1000, 10000, 100000 };
	double cost[3][SCALE_ROUNDS], ratio[3][SCALE_ROUNDS], t0;
	struct sanverbs_cache_stats st1;
	struct pop pops[3];
	size_t k, i, n = 0;
	int r;

	for (k = 0; k < 3 && steps[k] <= max_n; k++)
		pop_fill(&pops[n++], steps[k]);
	iters = iters * ROUNDS / SCALE_ROUNDS;
	for (r = 0; r < SCALE_ROUNDS; r++) {
		for (i = 0; i < n; i++) {
			/* forward, then backward: no size always goes first */
			k = r & 1 ? n - 1 - i : i;
			t0 = now();
			pop_hits(&pops[k], iters, 0x9e3779b97f4a7c15ull + r);
			cost[k][r] = (now() - t0) / iters;
		}
		for (k = 0; k < n; k++)
			ratio[k][r] = cost[k][r] / cost[0][r];
	}
	for (k = 0; k < n; k++) {
		struct spread sc = spread_of(cost[k], SCALE_ROUNDS);
		struct spread sr = spread_of(ratio[k], SCALE_ROUNDS);

		sanverbs_cache_stats(pops[k].c, &st1);
		printf("hit at %6zu entries: %6.0f ns [%.0f .. %.0f] = %.2fx "
		       "the cost at 1k [%.2f .. %.2f]%s\n",
		       steps[k], sc.med * 1e9, sc.lo * 1e9, sc.hi * 1e9, sr.med,
		       sr.lo, sr.hi,
		       steps[k] == 100000 ? "  (target <= 2x)" : "");
		/* a lookup that missed timed a registration, not a hit: say
		 * how many (the module's monitor invalidates a few idle
		 * entries; userfaultfd none) */
		if (st1.misses != pops[k].fill_misses)
			printf("  (%llu of the lookups at %zu entries missed: "
			       "entries the monitor invalidated meanwhile)\n",
			       (unsigned long long)(st1.misses -
						    pops[k].fill_misses),
			       steps[k]);
	}
	for (k = 0; k < n; k++)
		pop_free(&pops[k]);
}

struct mt_arg {
	struct sanverbs_ctx *c;
	void *p;
	int iters;
	int control;
	pthread_barrier_t *go;
	double secs;
};

/* The perfectly parallel control: per iteration about the work of a hit
 * (a few dozen dependent integer steps and one store) on the thread's own
 * cache line, sharing nothing with the other thread. */
static void __attribute__((noinline)) control_block(uint64_t *line, int iters)
{
	uint64_t x = (uintptr_t)line | 1;
	int i, k;

	for (i = 0; i < iters; i++) {
		for (k = 0; k < 24; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
		}
		line[i & 7] = x;
		__asm__ volatile("" : : "r"(line) : "memory");
	}
}

static void *mt_thread(void *arg)
{
	struct mt_arg *a = arg;
	double t0;

	if (!a->control)
		reg_dereg(a->c, a->p, 64u << 10);
	pthread_barrier_wait(a->go);
	t0 = now();
	if (a->control)
		control_block(a->p, a->iters);
	else
		hit_block(a->c, a->p, 64u << 10, a->iters);
	a->secs = now() - t0;
	return NULL;
}

/* Aggregate rate of @nt threads: hits on @c, or the control. */
static double mt_rate(struct sanverbs_ctx *c, void **bufs, int nt,
		      int iters, int control)
{
	pthread_barrier_t go;
	struct mt_arg a[2];
	pthread_t th[2];
	double slow = 0;
	int t;

	pthread_barrier_init(&go, NULL, nt);
	for (t = 0; t < nt; t++) {
		a[t] = (struct mt_arg){ c, bufs[t], iters, control, &go, 0 };
		if (pthread_create(&th[t], NULL, mt_thread, &a[t]))
			die("pthread_create", -EAGAIN);
	}
	for (t = 0; t < nt; t++) {
		pthread_join(th[t], NULL);
		if (a[t].secs > slow)
			slow = a[t].secs;
	}
	pthread_barrier_destroy(&go);
	return nt * (double)iters / slow;
}

/* Hits from 1 and from 2 threads on one context (each its own buffer, so
 * only the cache is shared), next to the same thread counts running the
 * control: 2 threads over 1 for each, and the hits' scaling as a fraction
 * of the control's, all from the same rounds. */
static void multi_thread(struct sanverbs_ctx *c, int iters)
{
	double rate[2][ROUNDS], ctl[2][ROUNDS], sp[ROUNDS], cp[ROUNDS];
	double frac[ROUNDS], t0, per_hit, per_ctl;
	struct spread s1, s2, ss, cs, fs;
	void *bufs[2] = { map(64u << 10), map(64u << 10) };
	void *lines[2] = { map(4096), map(4096) };
	int r, nt, citers;

	/* the control runs about as long as the hits */
	reg_dereg(c, bufs[0], 64u << 10);
	per_hit = hit_block(c, bufs[0], 64u << 10, iters / 10);
	t0 = now();
	control_block(lines[0], iters / 10);
	per_ctl = (now() - t0) / (iters / 10);
	citers = (int)(iters * per_hit / per_ctl);
	if (citers < 100)
		citers = 100;
	for (r = 0; r < ROUNDS; r++) {
		for (nt = 1; nt <= 2; nt++) {
			int k = (nt + r) & 1; /* alternate which goes first */

			if (k) {
				ctl[nt - 1][r] = mt_rate(c, lines, nt, citers, 1);
				rate[nt - 1][r] = mt_rate(c, bufs, nt, iters, 0);
			} else {
				rate[nt - 1][r] = mt_rate(c, bufs, nt, iters, 0);
				ctl[nt - 1][r] = mt_rate(c, lines, nt, citers, 1);
			}
		}
		sp[r] = rate[1][r] / rate[0][r];
		cp[r] = ctl[1][r] / ctl[0][r];
		frac[r] = sp[r] / cp[r];
	}
	s1 = spread_of(rate[0], ROUNDS);
	s2 = spread_of(rate[1], ROUNDS);
	ss = spread_of(sp, ROUNDS);
	cs = spread_of(cp, ROUNDS);
	fs = spread_of(frac, ROUNDS);
	printf("hits/s, 1 thread: %.0fk [%.0fk .. %.0fk]; 2 threads: %.0fk "
	       "[%.0fk .. %.0fk] = %.2fx [%.2f .. %.2f]\n",
	       s1.med / 1e3, s1.lo / 1e3, s1.hi / 1e3, s2.med / 1e3,
	       s2.lo / 1e3, s2.hi / 1e3, ss.med, ss.lo, ss.hi);
	printf("parallel control, 2 threads / 1: %.2fx [%.2f .. %.2f]; hits "
	       "scale %.2f of it [%.2f .. %.2f]  (target >= 0.9)\n",
	       cs.med, cs.lo, cs.hi, fs.med, fs.lo, fs.hi);
	munmap(bufs[0], 64u << 10);
	munmap(bufs[1], 64u << 10);
	munmap(lines[0], 4096);
	munmap(lines[1], 4096);
}

static atomic_int cb_fired;
static double cb_time;

static void on_change(void *arg, void *addr, size_t len)
{
	(void)arg;
	(void)addr;
	(void)len;
	cb_time = now();
	atomic_store(&cb_fired, 1);
}

static void invalidation(struct sanverbs_ctx *c, int iters)
{
	const size_t len = 64u << 10;
	double plain = 0, watched = 0, delay = 0, t0, t1, end;
	int i;

	sanverbs_cache_set_callback(c, on_change, NULL);
	for (i = 0; i < iters; i++) {
		void *p = map(len);

		t0 = now();
		munmap(p, len);
		plain += now() - t0;

		p = map(len);
		reg_dereg(c, p, len);
		atomic_store(&cb_fired, 0);
		t0 = now();
		munmap(p, len);
		t1 = now();
		watched += t1 - t0;
		end = t1 + 5;
		while (!atomic_load(&cb_fired) && now() < end)
			;
		if (!atomic_load(&cb_fired))
			die("callback never came", -ETIMEDOUT);
		delay += cb_time > t1 ? cb_time - t1 : 0;
	}
	sanverbs_cache_set_callback(c, NULL, NULL);
	printf("munmap 64 KiB unwatched:      %8.3f us\n",
	       plain / iters * 1e6);
	printf("munmap 64 KiB cached/watched: %8.3f us  (%.2fx unwatched; "
	       "target <= %dx)\n",
	       watched / iters * 1e6, watched / plain, mon_kmod ? 2 : 3);
	printf("munmap return -> callback:    %8.3f us  (%.2fx an unwatched "
	       "munmap)\n",
	       delay / iters * 1e6, delay / plain);
}

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

int main(int argc, char **argv)
{
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
		else {
			fprintf(stderr, "usage: %s [-q] [--callgrind]\n",
				argv[0]);
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

		hit_miss(c, sizes[k], it, it_hit);
		fresh_miss(c, sizes[k], it);
	}
	sanverbs_cache_stats(c, &st);
	if (st.flags & SANVERBS_CACHE_F_REMOTE_MW) {
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
	multi_thread(c, it_hit);
	invalidation(c, quick ? 50 : 200);
	sanverbs_ctx_close(c);
	scale(quick ? 10000 : 100000, quick ? 3000 : 20000);
	return 0;
}
