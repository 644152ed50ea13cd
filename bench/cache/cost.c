/* SPDX-License-Identifier: MIT */
/* Hits, misses and remote re-registrations against raw verbs, in
 * interleaved rounds on the same buffers. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"

/* Hit vs raw and miss vs raw on one buffer. Raw and miss alternate one
 * operation at a time, so slow drift cannot favour either; hits are timed
 * in a block between them. */
void hit_miss(struct sanverbs_ctx *c, size_t len, int it, int it_hit)
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
	/* seen once: every miss below is cached whatever the admission */
	(void)reg_drop(c, p, len);
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
	       "= %+.1f%% vs raw [%+.1f .. %+.1f]  (target at 64 KiB: <= +25%% uffd, <= +10%% kmod)\n",
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
void hit_remote(struct sanverbs_ctx *c, struct sanverbs_ctx *nowin,
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

/* Unmaps @p; with @keep, a PROT_NONE placeholder then holds the range so
 * the kernel cannot hand it out again (a VMA each, no memory). */
static void unmap_keep(void *p, size_t len, void **keep, int *nkeep)
{
	munmap(p, len);
	if (!keep)
		return;
	keep[*nkeep] = mmap(p, len, PROT_NONE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			    -1, 0);
	if (keep[*nkeep] != MAP_FAILED)
		(*nkeep)++;
}

/* Miss on memory the cache has never seen: the watch has real work (the
 * anonymity check and UFFDIO_REGISTER). Each round maps 2 * @it fresh
 * buffers first, then alternates raw and miss over them, then unmaps them
 * and lets the invalidations they cause finish: so no munmap, and no
 * deregistration the cache's worker defers from one, runs between timed
 * operations (they would be timed into the next miss otherwise). The
 * kernel hands the next round the addresses just freed; with @new_addr
 * they stay reserved instead, so every buffer is at an address the cache
 * never saw either (the admission rule tells ranges by address). */
void fresh_miss(struct sanverbs_ctx *c, size_t len, int it, int new_addr)
{
	void **keep = new_addr ? calloc(2 * ROUNDS * (size_t)it,
					sizeof(*keep)) : NULL;
	int nkeep = 0;
	struct ibv_pd *pd = sanverbs_ctx_pd(c);
	double raw[ROUNDS], miss[ROUNDS], mr[ROUNDS], t0;
	double *op_raw = calloc(2 * ROUNDS * it, sizeof(double));
	double *op_miss = op_raw + ROUNDS * it;
	void **b = calloc(2 * (size_t)it, sizeof(*b));
	struct spread s_raw, s_miss, s_mr;
	int i, r, k = 0, cached = 0;
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
			cached += reg_drop(c, b[2 * i + 1], len);
			op_miss[k] = now() - t0;
			miss[r] += op_miss[k];
		}
		for (i = 0; i < 2 * it; i++)
			unmap_keep(b[i], len, keep, &nkeep);
		usleep(20000);
		raw[r] /= it;
		miss[r] /= it;
		mr[r] = (miss[r] / raw[r] - 1) * 100;
	}
	s_raw = spread_of(raw, ROUNDS);
	s_miss = spread_of(miss, ROUNDS);
	s_mr = spread_of(mr, ROUNDS);
	printf("%4zu KiB fresh mapping%s: raw %9.2f us [%.2f .. %.2f] | miss "
	       "%9.2f us [%.2f .. %.2f] = %+.1f%% vs raw [%+.1f .. %+.1f]%s\n",
	       len >> 10, new_addr ? ", new address" : "", s_raw.med * 1e6, s_raw.lo * 1e6, s_raw.hi * 1e6,
	       s_miss.med * 1e6, s_miss.lo * 1e6, s_miss.hi * 1e6, s_mr.med,
	       s_mr.lo, s_mr.hi,
	       len != 64u << 10 ? "" : mon_kmod ? "  (target <= +10%)" :
	       "  (target <= +25%)");
	printf("%4zu KiB fresh mapping%s: %d of %d misses were cached\n",
	       len >> 10, new_addr ? ", new address" : "", cached, k);
	snprintf(what, sizeof(what), "%4zu KiB fresh miss%s", len >> 10,
		 new_addr ? ", new address" : "");
	paired(what, op_raw, op_miss, k);
	for (i = 0; i < nkeep; i++)
		munmap(keep[i], len);
	free(keep);
	free(b);
	free(op_raw);
}

/* A fresh buffer, at an address no earlier round used, used twice as a
 * reused one is: reg+dereg, reg+dereg, then dropped (the invalidation's deregistration is timed, as raw's
 * second deregistration is), against raw reg+dereg twice. Whatever the
 * cache does on first sight (watch and cache, or register uncached and
 * remember), this is what the first two uses of a buffer cost. */
void fresh_twice(struct sanverbs_ctx *c, size_t len, int it)
{
	struct ibv_pd *pd = sanverbs_ctx_pd(c);
	double raw[ROUNDS], two[ROUNDS], tr[ROUNDS], t0;
	double *op_raw = calloc(2 * ROUNDS * it, sizeof(double));
	double *op_two = op_raw + ROUNDS * it;
	void **b = calloc(2 * (size_t)it, sizeof(*b));
	struct spread s_raw, s_two, s_tr;
	void **keep = calloc(2 * ROUNDS * (size_t)it, sizeof(*keep));
	int i, r, k = 0, cached = 0, nkeep = 0;
	char what[64];

	if (!op_raw || !b || !keep)
		die("calloc", -ENOMEM);
	for (r = 0; r < ROUNDS; r++) {
		raw[r] = two[r] = 0;
		for (i = 0; i < 2 * it; i++)
			b[i] = map(len);
		for (i = 0; i < it; i++, k++) {
			t0 = now();
			raw_one(pd, b[2 * i], len);
			raw_one(pd, b[2 * i], len);
			op_raw[k] = now() - t0;
			raw[r] += op_raw[k];
			t0 = now();
			reg_dereg(c, b[2 * i + 1], len);
			cached += reg_drop(c, b[2 * i + 1], len);
			op_two[k] = now() - t0;
			two[r] += op_two[k];
		}
		for (i = 0; i < 2 * it; i++)
			unmap_keep(b[i], len, keep, &nkeep);
		usleep(20000);
		tr[r] = (two[r] / raw[r] - 1) * 100;
		raw[r] /= it;
		two[r] /= it;
	}
	s_raw = spread_of(raw, ROUNDS);
	s_two = spread_of(two, ROUNDS);
	s_tr = spread_of(tr, ROUNDS);
	printf("%4zu KiB fresh, used twice: raw %9.2f us [%.2f .. %.2f] | "
	       "sanverbs %9.2f us [%.2f .. %.2f] = %+.1f%% vs raw [%+.1f .. "
	       "%+.1f]; cached at the 2nd use: %d of %d\n",
	       len >> 10, s_raw.med * 1e6, s_raw.lo * 1e6, s_raw.hi * 1e6,
	       s_two.med * 1e6, s_two.lo * 1e6, s_two.hi * 1e6, s_tr.med,
	       s_tr.lo, s_tr.hi, cached, k);
	snprintf(what, sizeof(what), "%4zu KiB fresh, used twice", len >> 10);
	paired(what, op_raw, op_two, k);
	for (i = 0; i < nkeep; i++)
		munmap(keep[i], len);
	free(keep);
	free(b);
	free(op_raw);
}
