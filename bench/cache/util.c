/* SPDX-License-Identifier: MIT */
/* Timed primitives of the cache bench: one raw registration, one miss, a
 * block of hits, and the statistics every comparison prints. */
#include <time.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void die(const char *what, int err)
{
	fprintf(stderr, "cache-bench: %s: %s\n", what, sanverbs_strerror(err));
	exit(1);
}

void *map(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (p == MAP_FAILED)
		die("mmap", -errno);
	return p;
}

struct sanverbs_ctx *open_ctx(size_t max_entries)
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


int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

struct spread spread_of(const double *v, int n)
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
void paired(const char *what, const double *raw, const double *miss,
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
void raw_one_split(struct ibv_pd *pd, void *p, size_t len,
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

void raw_one(struct ibv_pd *pd, void *p, size_t len)
{
	raw_one_split(pd, p, len, NULL);
}

void reg_dereg(struct sanverbs_ctx *c, void *p, size_t len)
{
	struct sanverbs_mr *mr;
	int ret = sanverbs_mr_reg(c, p, len, SANVERBS_ACCESS_LOCAL_WRITE, &mr);

	if (ret)
		die("sanverbs_mr_reg", ret);
	sanverbs_mr_dereg(mr);
}

/* A registration the cache has to make, then forget again; *reg gets the
 * time of sanverbs_mr_reg alone (when not NULL). */
void miss_one_split(struct sanverbs_ctx *c, void *p, size_t len,
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

void miss_one(struct sanverbs_ctx *c, void *p, size_t len)
{
	miss_one_split(c, p, len, NULL);
}

/* A registration made and dropped again, whether the cache kept it or
 * (SANVERBS_CACHE_ADMIT=second, first sight of a range) registered it
 * uncached: returns whether it had been cached. */
int reg_drop(struct sanverbs_ctx *c, void *p, size_t len)
{
	int ret;

	reg_dereg(c, p, len);
	ret = sanverbs_cache_invalidate(c, p, len);
	if (ret && ret != -ENOENT)
		die("sanverbs_cache_invalidate", ret);
	return !ret;
}

/* Seconds per cached sanverbs_mr_reg + dereg; timed as one block, since a
 * hit is too short for a clock read around each. */
double hit_block(struct sanverbs_ctx *c, void *p, size_t len,
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
