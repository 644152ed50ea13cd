/* SPDX-License-Identifier: MIT */
/* Registration-cache benchmark: every number is printed next to a baseline
 * measured in the same run on the same buffers, as a ratio.
 *   hit      sanverbs_mr_reg+dereg served by the cache vs raw
 *            ibv_reg_mr+ibv_dereg_mr (64 KiB, 4 MiB)
 *   miss     a registration the cache must make and later drop
 *            (sanverbs_mr_reg + dereg + sanverbs_cache_invalidate) vs raw
 *   scale    hit cost with 1k, 10k, 100k cached entries vs 1k
 *   inval    munmap of a cached (watched) range vs an unwatched one, and
 *            the delay from munmap's return to the callback
 * Usage: sanverbs-cache-bench [-q] (quick: fewer iterations, 10k max). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "sanverbs.h"

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#define ROUNDS 7

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

/* Seconds per raw ibv_reg_mr + ibv_dereg_mr. */
static double raw_cost(struct ibv_pd *pd, void *p, size_t len, int iters)
{
	double t0 = now();
	int i;

	for (i = 0; i < iters; i++) {
		struct ibv_mr *mr = ibv_reg_mr(pd, p, len,
					       IBV_ACCESS_LOCAL_WRITE);

		if (!mr)
			die("ibv_reg_mr", -errno);
		ibv_dereg_mr(mr);
	}
	return (now() - t0) / iters;
}

static void reg_dereg(struct sanverbs_ctx *c, void *p, size_t len)
{
	struct sanverbs_mr *mr;
	int ret = sanverbs_mr_reg(c, p, len, SANVERBS_ACCESS_LOCAL_WRITE, &mr);

	if (ret)
		die("sanverbs_mr_reg", ret);
	sanverbs_mr_dereg(mr);
}

/* Seconds per cached sanverbs_mr_reg + dereg. */
static double hit_cost(struct sanverbs_ctx *c, void *p, size_t len, int iters)
{
	double t0;
	int i;

	reg_dereg(c, p, len);
	t0 = now();
	for (i = 0; i < iters; i++)
		reg_dereg(c, p, len);
	return (now() - t0) / iters;
}

/* Seconds per registration the cache makes and drops again. */
static double miss_cost(struct sanverbs_ctx *c, void *p, size_t len,
			int iters)
{
	double t0 = now();
	int i;

	for (i = 0; i < iters; i++) {
		reg_dereg(c, p, len);
		sanverbs_cache_invalidate(c, p, len);
	}
	return (now() - t0) / iters;
}

/* Same, on a fresh mapping each time: the watch has real work to do.
 * Mapping and unmapping are outside both timings. */
static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v)
{
	qsort(v, ROUNDS, sizeof(*v), cmp_double);
	return v[ROUNDS / 2];
}

static void fresh_miss(struct sanverbs_ctx *c, size_t len, int iters)
{
	double raw[ROUNDS], miss[ROUNDS], t0;
	int i, r;

	for (r = 0; r < ROUNDS; r++) {
		raw[r] = miss[r] = 0;
		for (i = 0; i < iters / ROUNDS + 1; i++) {
			void *p = map(len);

			raw[r] += raw_cost(sanverbs_ctx_pd(c), p, len, 1);
			munmap(p, len);
			p = map(len);
			t0 = now();
			reg_dereg(c, p, len);
			sanverbs_cache_invalidate(c, p, len);
			miss[r] += now() - t0;
			munmap(p, len);
		}
		raw[r] /= iters / ROUNDS + 1;
		miss[r] /= iters / ROUNDS + 1;
	}
	printf("%4zu KiB fresh mapping: raw %10.3f us | miss %10.3f us = "
	       "%+.1f%% vs raw\n",
	       len >> 10, median(raw) * 1e6, median(miss) * 1e6,
	       (median(miss) / median(raw) - 1) * 100);
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Hit cost at growing entry counts: one cached page per entry. */
static void scale(size_t max_n, int iters)
{
	static const size_t steps[] = { 1000, 10000, 100000 };
	const long pg = sysconf(_SC_PAGESIZE);
	struct sanverbs_ctx *c = open_ctx(2 * max_n);
	struct sanverbs_cache_stats st;
	uint8_t *base = map(max_n * pg);
	double cost[3] = { 0 };
	size_t have = 0, s;
	double t0;
	int i;

	for (s = 0; s < 3 && steps[s] <= max_n; s++) {
		t0 = now();
		for (; have < steps[s]; have++)
			reg_dereg(c, base + have * pg, 64);
		fprintf(stderr, "  filled %zu entries in %.1f s\n", have,
			now() - t0);
		/* random entries: no help from a hot path through the tree */
		t0 = now();
		for (i = 0; i < iters; i++)
			reg_dereg(c, base + (rnd() % have) * pg + 8, 32);
		cost[s] = (now() - t0) / iters;
		sanverbs_cache_stats(c, &st);
		printf("hit cost at %6zu entries: %8.3f us  (%.2fx the cost at "
		       "1k)  [entries %llu]\n",
		       steps[s], cost[s] * 1e6, cost[s] / cost[0],
		       (unsigned long long)st.entries);
	}
	sanverbs_ctx_close(c);
	munmap(base, max_n * pg);
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
	printf("munmap 64 KiB cached/watched: %8.3f us  (%.2fx unwatched)\n",
	       watched / iters * 1e6, watched / plain);
	printf("munmap return -> callback:    %8.3f us  (%.2fx an unwatched "
	       "munmap)\n",
	       delay / iters * 1e6, delay / plain);
}

int main(int argc, char **argv)
{
	int quick = argc > 1 && !strcmp(argv[1], "-q");
	int it_raw = quick ? 50 : 300, it_hit = quick ? 20000 : 200000;
	static const size_t sizes[] = { 64u << 10, 4u << 20 };
	struct sanverbs_cache_stats st;
	struct sanverbs_ctx *c;
	size_t k;

	/* run.sh streams our output: show progress as it comes */
	setvbuf(stdout, NULL, _IOLBF, 0);
	c = open_ctx(16384);
	sanverbs_cache_stats(c, &st);
	printf("sanverbs cache bench on %s, monitor %s%s\n",
	       sanverbs_ctx_device_name(c),
	       st.monitor == SANVERBS_MONITOR_UFFD ? "userfaultfd" :
	       st.monitor == SANVERBS_MONITOR_KMOD ? "kmod" : "none",
	       st.flags & SANVERBS_CACHE_F_UFFD_USER_MODE ? " (user-mode only)"
							  : "");
	if (st.monitor == SANVERBS_MONITOR_NONE)
		die("no monitor, no cache", -ENOTSUP);

	for (k = 0; k < 2; k++) {
		size_t len = sizes[k];
		void *p = map(len);
		int it = len > (1u << 20) ? it_raw / 5 : it_raw, r;
		double raw[ROUNDS], hit[ROUNDS], miss[ROUNDS];
		double mraw, mhit, mmiss;

		/* Rounds interleave the three so a noisy neighbour (TCG
		 * guests share cores) hits all alike; medians then. */
		for (r = 0; r < ROUNDS; r++) {
			raw[r] = raw_cost(sanverbs_ctx_pd(c), p, len, it);
			hit[r] = hit_cost(c, p, len, it_hit / ROUNDS);
			sanverbs_cache_invalidate(c, p, len);
			miss[r] = miss_cost(c, p, len, it);
		}
		mraw = median(raw);
		mhit = median(hit);
		mmiss = median(miss);
		printf("%4zu KiB: raw reg+dereg %10.3f us | hit %8.3f us = "
		       "1/%.0f of raw | miss %10.3f us = %+.1f%% vs raw\n",
		       len >> 10, mraw * 1e6, mhit * 1e6, mraw / mhit,
		       mmiss * 1e6, (mmiss / mraw - 1) * 100);
		sanverbs_cache_flush(c);
		munmap(p, len);
		fresh_miss(c, len, it);
	}
	invalidation(c, quick ? 50 : 300);
	sanverbs_ctx_close(c);
	scale(quick ? 10000 : 100000, quick ? 20000 : 200000);
	return 0;
}
