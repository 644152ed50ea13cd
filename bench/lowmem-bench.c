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

#define MIN_SECONDS 0.5
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

static void row(const char *name, size_t len, double base, double v, int src)
{
	if (v < 0)
		printf("%-22s %8zu KiB  %9s  %9s  (%s)\n", name, len >> 10, "-",
		       "-", sanverbs_strerror((int)v));
	else
		printf("%-22s %8zu KiB  %9.3f  %9.2fx  [%s]\n", name, len >> 10,
		       v, v / base, source_name(src));
}

int main(void)
{
	static const size_t sizes[] = { 64 << 10, 1 << 20, 4 << 20, 16 << 20 };
	int v = sanverbs_kmod_version(), src = 0;
	size_t i;

	printf("# lowmem allocation throughput, alloc+free cycles, >= %.1f s each\n",
	       MIN_SECONDS);
	printf("# /dev/sanverbs: %s\n",
	       v > 0 ? "loaded" : sanverbs_strerror(v));
	printf("%-22s %12s  %9s  %10s\n", "variant", "size", "GiB/s",
	       "vs mlock");
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		double base = run_mlock(len), r;

		if (base <= 0) {
			printf("mmap+mlock of %zu KiB failed: %s (raise RLIMIT_MEMLOCK)\n",
			       len >> 10, sanverbs_strerror((int)base));
			return 1;
		}
		row("mmap+mlock", len, base, base, 0);
		r = run_lowmem(len, SANVERBS_DMA_MASK_32, 0, &src);
		row("lowmem 32-bit mask", len, base, r, src);
		r = run_lowmem(len, SANVERBS_DMA_MASK_64, 0, &src);
		row("lowmem 64-bit mask", len, base, r, src);
		if (len <= (4 << 20)) {
			r = run_lowmem(len, SANVERBS_DMA_MASK_32,
				       SANVERBS_LOWMEM_CONTIGUOUS, &src);
			row("lowmem contiguous", len, base, r, src);
		}
	}
	return 0;
}
