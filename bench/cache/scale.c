/* SPDX-License-Identifier: MIT */
/* Hit cost vs cached entries, hits from two threads next to a perfectly
 * parallel control, and what invalidation costs the unmapping thread. */
#include <pthread.h>
#include <stdatomic.h>
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

/* xorshift: the same sequence for every entry count */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}


/* A context holding @n cached entries, one per page of its own mapping
 * (each context has its own monitor, so the mappings must not overlap). */
void pop_fill(struct pop *p, size_t n)
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

void pop_free(struct pop *p)
{
	sanverbs_ctx_close(p->c);
	munmap(p->base, p->n * p->pg);
}

/* @iters hits, each on an entry picked at random among all of them. */
void __attribute__((noinline))
pop_hits(struct pop *p, int iters, uint64_t seed)
{
	int i;

	for (i = 0; i < iters; i++)
		reg_dereg(p->c, p->base + (rnd(&seed) % p->n) * p->pg + 8, 32);
}

void scale(size_t max_n, int iters)
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
void multi_thread(struct sanverbs_ctx *c, int iters)
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

static int raw_munmap(void *p, size_t len)
{
	return (int)syscall(SYS_munmap, p, len);
}

/* munmap() of a cached range by @unmap, then the wait for its callback;
 * returns the unmap's time and adds the callback's delay to *@delay. */
static double unmap_watched(struct sanverbs_ctx *c, size_t len,
			    int (*unmap)(void *, size_t), double *delay)
{
	void *p = map(len);
	double t0, t1, end;

	/* twice: cached whatever the admission rule */
	reg_dereg(c, p, len);
	reg_dereg(c, p, len);
	atomic_store(&cb_fired, 0);
	t0 = now();
	unmap(p, len);
	t1 = now();
	end = t1 + 5;
	while (!atomic_load(&cb_fired) && now() < end)
		;
	if (!atomic_load(&cb_fired))
		die("callback never came", -ETIMEDOUT);
	*delay += cb_time > t1 ? cb_time - t1 : 0;
	return t1 - t0;
}

void invalidation(struct sanverbs_ctx *c, int iters)
{
	const size_t len = 64u << 10;
	double plain = 0, watched = 0, sys = 0, delay = 0, sdelay = 0, t0;
	double *op_p = calloc(3 * (size_t)iters, sizeof(double));
	double *op_w = op_p + iters, *op_s = op_w + iters;
	int i;

	if (!op_p)
		die("calloc", -ENOMEM);
	sanverbs_cache_set_callback(c, on_change, NULL);
	for (i = 0; i < iters; i++) {
		void *p = map(len);

		t0 = now();
		munmap(p, len);
		op_p[i] = now() - t0;
		plain += op_p[i];
		op_w[i] = unmap_watched(c, len, munmap, &delay);
		watched += op_w[i];
		/* by raw syscall(2): userfaultfd's event path, which the
		 * library's munmap() spares (the module sees both alike) */
		op_s[i] = unmap_watched(c, len, raw_munmap, &sdelay);
		sys += op_s[i];
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
	printf("the same by syscall(2):       %8.3f us  (%.2fx unwatched), "
	       "callback after %.3f us\n", sys / iters * 1e6, sys / plain,
	       sdelay / iters * 1e6);
	/* The means above take every burst of the host in; the medians of
	 * the single operations do not. */
	qsort(op_p, iters, sizeof(double), cmp_double);
	qsort(op_w, iters, sizeof(double), cmp_double);
	qsort(op_s, iters, sizeof(double), cmp_double);
	printf("munmap 64 KiB median of %d: unwatched %.3f us, watched %.3f us"
	       " = %.2fx [quartiles %.3f .. %.3f us watched]\n", iters,
	       op_p[iters / 2] * 1e6, op_w[iters / 2] * 1e6,
	       op_w[iters / 2] / op_p[iters / 2], op_w[iters / 4] * 1e6,
	       op_w[3 * iters / 4] * 1e6);
	printf("munmap 64 KiB median of %d by syscall(2): watched %.3f us = "
	       "%.2fx unwatched\n", iters, op_s[iters / 2] * 1e6,
	       op_s[iters / 2] / op_p[iters / 2]);
	free(op_p);
}
