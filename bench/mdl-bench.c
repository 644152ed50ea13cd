/* SPDX-License-Identifier: MIT */
/* What the MDL layer costs over the bare system calls it wraps, measured in
 * one run on this machine and printed as ratios (no device needed):
 *   lock     probe_and_lock + unlock   vs  madvise(POPULATE) + mlock + munlock
 *   relock   the same on a page another MDL already holds (counted path)
 *   sysaddr  lock + pool system address + unlock  vs  lock + unlock
 *   safe     sanverbs_safe_read  vs  memcpy, small and large copies
 * The host is shared and noisy: each figure is the best of ROUNDS rounds,
 * and the two sides of a ratio are measured in alternating rounds.
 * Usage: sanverbs-mdl-bench [iterations per round] */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "sanverbs.h"

#define ROUNDS 7

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

static double bench_mdl(void *p, size_t len, long n, int sysaddr)
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
		if (sysaddr &&
		    (ret = sanverbs_mdl_system_address(
			     m, SANVERBS_PAGE_PRIORITY_HIGH, &sys)))
			die("system_address", ret);
		if ((ret = sanverbs_mdl_unlock(m)))
			die("unlock", ret);
	}
	t = (now() - t) / n;
	sanverbs_mdl_free(m);
	return t;
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

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 300;
	const size_t len = 64 * 1024;
	struct sanverbs_pool *pool;
	struct sanverbs_mdl *holder;
	char *anon, *buf, *dst;
	double raw, mdl, relock, plain, sys;
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

	printf("mdl-bench: best of %d rounds of %ld iterations, %zu KiB "
	       "ranges\n", ROUNDS, n, len / 1024);
	raw = mdl = relock = plain = sys = 1e9;
	for (r = 0; r < ROUNDS; r++) {
		raw = min2(raw, bench_raw(anon, len, n));
		mdl = min2(mdl, bench_mdl(anon, len, n, 0));
	}
	printf("lock    raw %8.2f us  mdl %8.2f us  ratio %.2f\n", raw * 1e6,
	       mdl * 1e6, mdl / raw);

	/* another MDL holds the pages: lock/unlock only count */
	if ((ret = sanverbs_mdl_create(NULL, anon, len, &holder)) ||
	    (ret = sanverbs_mdl_probe_and_lock(holder,
					       SANVERBS_IO_READ_ACCESS)))
		die("holder", ret);
	for (r = 0; r < ROUNDS; r++)
		relock = min2(relock, bench_mdl(anon, len, n, 0));
	printf("relock  raw %8.2f us  mdl %8.2f us  ratio %.2f\n", raw * 1e6,
	       relock * 1e6, relock / raw);
	sanverbs_mdl_unlock(holder);
	sanverbs_mdl_free(holder);

	for (r = 0; r < ROUNDS; r++) {
		plain = min2(plain, bench_mdl(buf, len, n, 0));
		sys = min2(sys, bench_mdl(buf, len, n, 1));
	}
	printf("sysaddr lock %8.2f us  lock+sysaddr %8.2f us  ratio %.2f\n",
	       plain * 1e6, sys * 1e6, sys / plain);

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double c = 1e9, s = 1e9;

		for (r = 0; r < ROUNDS; r++) {
			c = min2(c, bench_copy(dst, anon, sizes[i], n * 10, 0));
			s = min2(s, bench_copy(dst, anon, sizes[i], n * 10, 1));
		}
		printf("safe    %6zu B  memcpy %8.3f us  safe_read %8.3f us  "
		       "ratio %.1f\n",
		       sizes[i], c * 1e6, s * 1e6, s / c);
	}
	sanverbs_pool_free(pool, buf);
	sanverbs_pool_destroy(pool);
	munmap(anon, len);
	free(dst);
	return 0;
}
