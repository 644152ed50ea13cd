/* SPDX-License-Identifier: MIT */
/* What the MDL layer costs over the bare system calls it wraps, measured in
 * one run on this machine and printed as ratios (no device needed):
 *   lock     probe_and_lock + unlock   vs  madvise(POPULATE) + mlock + munlock
 *   lock+pfn the same with the page-frame array read in between
 *   relock   the same on a page another MDL already holds (counted path)
 *   sysaddr  lock + pool system address + unlock  vs  lock + unlock
 *   safe     sanverbs_safe_read  vs  memcpy, small and large copies
 * The host is shared and noisy: the two sides of a ratio run in
 * alternating short blocks and the figure is the median of the per-block
 * ratios, so a ratio never spans more than two blocks of host weather.
 * Usage: sanverbs-mdl-bench [iterations per round] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "sanverbs.h"

#define ROUNDS 7
#define BLOCKS 31

static double min2(double a, double b)
{
	return a < b ? a : b;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void die(const char *what, int ret)
{
	fprintf(stderr, "mdl-bench: %s: %s\n", what, sanverbs_strerror(ret));
	exit(1);
}

static double bench_raw(char *p, size_t len, long n)
{
	double t = now();
	long i;

	for (i = 0; i < n; i++) {
		if (madvise(p, len, MADV_POPULATE_WRITE) || mlock(p, len) ||
		    munlock(p, len))
			die("raw", -1);
	}
	return (now() - t) / n;
}

enum mdl_extra { PLAIN, SYSADDR, PFNS };

static double bench_mdl(void *p, size_t len, long n, enum mdl_extra extra)
{
	struct sanverbs_mdl *m;
	double t;
	long i;
	int ret;

	if ((ret = sanverbs_mdl_create(NULL, p, len, &m)))
		die("mdl_create", ret);
	t = now();
	for (i = 0; i < n; i++) {
		void *sys;

		if ((ret = sanverbs_mdl_probe_and_lock(
			     m, SANVERBS_IO_WRITE_ACCESS)))
			die("probe_and_lock", ret);
		if (extra == SYSADDR &&
		    (ret = sanverbs_mdl_system_address(
			     m, SANVERBS_PAGE_PRIORITY_HIGH, &sys)))
			die("system_address", ret);
		if (extra == PFNS && !sanverbs_mdl_pfns(m))
			die("pfns", -22);
		if ((ret = sanverbs_mdl_unlock(m)))
			die("unlock", ret);
	}
	t = (now() - t) / n;
	sanverbs_mdl_free(m);
	return t;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Median of per-block ratios and of each side's per-block times. */
struct interleaved {
	double a, b, ratio;
};

static struct interleaved summarize(double *a, double *b, int blocks)
{
	double r[BLOCKS];
	struct interleaved s;
	int i;

	for (i = 0; i < blocks; i++)
		r[i] = b[i] / a[i];
	qsort(a, blocks, sizeof(*a), cmp_double);
	qsort(b, blocks, sizeof(*b), cmp_double);
	qsort(r, blocks, sizeof(*r), cmp_double);
	s.a = a[blocks / 2];
	s.b = b[blocks / 2];
	s.ratio = r[blocks / 2];
	return s;
}

static double bench_copy(void *dst, const void *src, size_t len, long n,
			 int safe)
{
	double t = now();
	long i;

	for (i = 0; i < n; i++) {
		if (safe) {
			if (sanverbs_safe_read(dst, src, len))
				die("safe_read", -1);
		} else {
			memcpy(dst, src, len);
			__asm__ volatile("" : : "r"(dst) : "memory");
		}
	}
	return (now() - t) / n;
}

/* Alternates blocks of the baseline and of the MDL path (ABBA order, so
 * neither side always runs second) and summarizes them. */
static struct interleaved pair(char *raw_p, char *mdl_p, size_t len, long n,
			       int raw_is_mdl, enum mdl_extra extra)
{
	double a[BLOCKS], b[BLOCKS];
	int i;

	for (i = 0; i < BLOCKS; i++) {
		double x, y;

		if (i & 1) {
			y = bench_mdl(mdl_p, len, n, extra);
			x = raw_is_mdl ? bench_mdl(raw_p, len, n, PLAIN)
				       : bench_raw(raw_p, len, n);
		} else {
			x = raw_is_mdl ? bench_mdl(raw_p, len, n, PLAIN)
				       : bench_raw(raw_p, len, n);
			y = bench_mdl(mdl_p, len, n, extra);
		}
		a[i] = x;
		b[i] = y;
	}
	return summarize(a, b, BLOCKS);
}

static void print_pair(const char *what, const char *an, const char *bn,
		       struct interleaved s)
{
	printf("%-8s %-6s %8.2f us  %-12s %8.2f us  ratio %.2f\n", what, an,
	       s.a * 1e6, bn, s.b * 1e6, s.ratio);
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 10;
	const size_t len = 64 * 1024;
	struct sanverbs_pool *pool;
	struct sanverbs_mdl *holder;
	char *anon, *buf, *dst;
	int ret, r;
	size_t sizes[] = { 64, 4096, 65536 }, i;

	anon = mmap(NULL, len, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = malloc(len);
	if (anon == MAP_FAILED || !dst)
		die("alloc", -12);
	if ((ret = sanverbs_pool_create(NULL, 2 * len, 0, &pool)))
		die("pool_create", ret);
	if ((ret = sanverbs_pool_alloc(pool, len, (void **)&buf)))
		die("pool_alloc", ret);

	printf("mdl-bench: %d interleaved blocks of %ld iterations, %zu KiB "
	       "ranges; medians, ratio = median of per-block ratios\n",
	       BLOCKS, n, len / 1024);
	print_pair("lock", "raw", "mdl",
		   pair(anon, anon, len, n, 0, PLAIN));
	print_pair("lock+pfn", "raw", "mdl+pfns",
		   pair(anon, anon, len, n, 0, PFNS));

	/* another MDL holds the pages: lock/unlock only count */
	if ((ret = sanverbs_mdl_create(NULL, anon, len, &holder)) ||
	    (ret = sanverbs_mdl_probe_and_lock(holder,
					       SANVERBS_IO_READ_ACCESS)))
		die("holder", ret);
	print_pair("relock", "raw", "mdl", pair(anon, anon, len, n, 0, PLAIN));
	sanverbs_mdl_unlock(holder);
	sanverbs_mdl_free(holder);

	print_pair("sysaddr", "lock", "lock+sysaddr",
		   pair(buf, buf, len, n, 1, SYSADDR));

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double c = 1e9, s = 1e9;

		for (r = 0; r < ROUNDS; r++) {
			c = min2(c, bench_copy(dst, anon, sizes[i], n * 100, 0));
			s = min2(s, bench_copy(dst, anon, sizes[i], n * 100, 1));
		}
		printf("safe    %6zu B  memcpy %8.3f us  safe_read %8.3f us  "
		       "ratio %.1f (best of %d)\n",
		       sizes[i], c * 1e6, s * 1e6, s / c, ROUNDS);
	}
	sanverbs_pool_free(pool, buf);
	sanverbs_pool_destroy(pool);
	munmap(anon, len);
	free(dst);
	return 0;
}
