/* SPDX-License-Identifier: MIT */
/* Allocation throughput of low-memory buffers: sanverbs_lowmem_alloc()
 * (paged and contiguous, through /dev/sanverbs when loaded) against plain
 * mmap()+mlock() of the same size, measured in the same run. Both hand out
 * resident, zeroed memory, so the ratio is the price of the 4 GiB bound.
 * Prints GiB/s per variant and the ratio to the mmap+mlock baseline. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "sanverbs.h"

#define MIN_SECONDS 0.2
#define MAX_ITERS 100000

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* GiB/s of alloc+free cycles of @len; < 0 (negative errno) if one fails. */
static double run_mlock(size_t len)
{
	double t0 = now(), t;
	unsigned long n = 0;

	do {
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (p == MAP_FAILED)
			return -errno;
		if (mlock(p, len)) {
			munmap(p, len);
			return -errno;
		}
		munmap(p, len);
		n++;
		t = now() - t0;
	} while (t < MIN_SECONDS && n < MAX_ITERS);
	return (double)len * n / t / (1 << 30);
}

static double run_lowmem(size_t len, uint64_t mask, unsigned int flags,
			 int *source)
{
	double t0 = now(), t;
	unsigned long n = 0;
	int ret;

	do {
		struct sanverbs_lowmem *b;

		ret = sanverbs_lowmem_alloc(len, mask, flags, &b);
		if (ret)
			return ret;
		*source = sanverbs_lowmem_source(b);
		sanverbs_lowmem_free(b);
		n++;
		t = now() - t0;
	} while (t < MIN_SECONDS && n < MAX_ITERS);
	return (double)len * n / t / (1 << 30);
}

static const char *source_name(int s)
{
	switch (s) {
	case SANVERBS_LOWMEM_KMOD_DMA32: return "kmod-dma32";
	case SANVERBS_LOWMEM_KMOD_ANY: return "kmod-any";
	case SANVERBS_LOWMEM_PINNED: return "mlock-fallback";
	default: return "baseline";
	}
}

#define ROUNDS 5
#define NVAR 4

static const char *const names[NVAR] = { "mmap+mlock", "lowmem 32-bit mask",
					  "lowmem 64-bit mask",
					  "lowmem contiguous" };

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double one(int v, size_t len, int *src)
{
	switch (v) {
	case 0:
		return run_mlock(len);
	case 1:
		return run_lowmem(len, SANVERBS_DMA_MASK_32, 0, src);
	case 2:
		return run_lowmem(len, SANVERBS_DMA_MASK_64, 0, src);
	default:
		return run_lowmem(len, SANVERBS_DMA_MASK_32,
				  SANVERBS_LOWMEM_CONTIGUOUS, src);
	}
}

int main(void)
{
	static const size_t sizes[] = { 64 << 10, 1 << 20, 4 << 20, 16 << 20 };
	int ver = sanverbs_kmod_version();
	size_t i;

	printf("# lowmem allocation throughput: alloc+free cycles of resident, zeroed memory\n");
	printf("# %d interleaved rounds of >= %.1f s per variant; median GiB/s; ratio to mmap+mlock\n",
	       ROUNDS, MIN_SECONDS);
	printf("# /dev/sanverbs: %s\n",
	       ver > 0 ? "loaded" : sanverbs_strerror(ver));
	printf("%-20s %10s %9s %9s  %s\n", "variant", "size", "GiB/s",
	       "vs mlock", "source");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		double r[NVAR][ROUNDS], med[NVAR];
		int src[NVAR] = { 0 }, err[NVAR] = { 0 }, v, k;
		size_t len = sizes[i];

		/* Interleaved so that a noisy neighbour hits every variant. */
		for (k = 0; k < ROUNDS; k++)
			for (v = 0; v < NVAR; v++) {
				if (v == 3 && len > (4u << 20)) {
					err[v] = -EINVAL;
					continue;
				}
				r[v][k] = one(v, len, &src[v]);
				if (r[v][k] < 0)
					err[v] = (int)r[v][k];
			}
		for (v = 0; v < NVAR; v++) {
			if (err[v])
				continue;
			qsort(r[v], ROUNDS, sizeof(double), cmp_double);
			med[v] = r[v][ROUNDS / 2];
		}
		if (err[0]) {
			printf("mmap+mlock of %zu KiB failed: %s (raise RLIMIT_MEMLOCK)\n",
			       len >> 10, sanverbs_strerror(err[0]));
			return 1;
		}
		for (v = 0; v < NVAR; v++) {
			if (err[v])
				printf("%-20s %6zu KiB %9s %9s  (%s)\n", names[v],
				       len >> 10, "-", "-",
				       sanverbs_strerror(err[v]));
			else
				printf("%-20s %6zu KiB %9.3f %8.2fx  %s\n",
				       names[v], len >> 10, med[v],
				       med[v] / med[0], source_name(src[v]));
		}
	}
	return 0;
}
