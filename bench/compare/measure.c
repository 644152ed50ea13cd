/* SPDX-License-Identifier: MIT */
/* Cost measures. Each is repeated o->trials times and reported as median,
 * min and max: under TCG single runs swing by tens of percent. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "compare.h"
#include "out.h"

#define BUF_LEN (64 * 1024)
#define PAGE 4096
#define MAX_TRIALS 64

static char *map_touched(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		return NULL;
	memset(p, 0, len);
	return p;
}

/* reg + dereg of an already-seen range: a hit for a cache, a full
 * registration round trip for raw verbs. */
static int reg_dereg(struct cmp_sys *s, void *addr, size_t len, int remote)
{
	struct cmp_reg r;
	int ret = s->reg(s, addr, len, remote, &r);

	if (ret)
		return ret;
	return s->dereg(s, &r);
}

/* @remote: registrations that grant the peer an rkey. A cache may refuse
 * to keep those (sanverbs does: the rkey must die with the registration),
 * so they are measured apart from local ones. */
static void measure_hit(struct cmp_sys *s, const struct cmp_opts *o,
			int remote)
{
	const char *metric = remote ? "hit_remote" : "hit";
	const unsigned int nbuf = 16;
	unsigned int iters;
	double v[MAX_TRIALS];
	unsigned int t, i;
	char *buf = map_touched(nbuf * BUF_LEN);

	if (!buf) {
		cmp_note("hit: mmap failed");
		return;
	}
	for (i = 0; i < nbuf; i++)
		if (reg_dereg(s, buf + i * BUF_LEN, BUF_LEN, remote)) {
			cmp_note("%s: registration failed", metric);
			goto out;
		}
	/* Size the loop to about 50 ms from one timed pass, so a slow path
	 * (no cache) does not take minutes and a fast one is still resolved
	 * well above the clock's granularity. */
	{
		double t0 = cmp_now(), per, want;

		for (i = 0; i < 50; i++)
			if (reg_dereg(s, buf + (i % nbuf) * BUF_LEN, BUF_LEN,
				      remote)) {
				cmp_note("%s: registration failed", metric);
				goto out;
			}
		per = (cmp_now() - t0) / 50;
		want = per > 0 ? 0.05 / per : 200000;
		iters = want < 50 ? 50 : want > 200000 ? 200000 :
			(unsigned int)want;
	}
	cmp_progress("%s cost, %u trials of %u reg+dereg", metric, o->trials,
		     iters);
	for (t = 0; t < o->trials; t++) {
		double t0;

		cmp_step(metric, BUF_LEN, t);
		t0 = cmp_now();
		for (i = 0; i < iters; i++)
			if (reg_dereg(s, buf + (i % nbuf) * BUF_LEN, BUF_LEN,
				      remote)) {
				cmp_note("%s: registration failed", metric);
				goto out;
			}
		v[t] = (cmp_now() - t0) * 1e9 / iters;
		cmp_trial(metric, BUF_LEN, t, v[t], "ns");
	}
	cmp_result(metric, BUF_LEN, v, o->trials, "ns");
out:
	munmap(buf, nbuf * BUF_LEN);
}

void cmp_measure_hit(struct cmp_sys *s, const struct cmp_opts *o)
{
	measure_hit(s, o, 0);
	measure_hit(s, o, 1);
}

/* s->reg() of @buf, its time added to *@t; nonzero (and a note) if it
 * failed. */
static int timed_reg(struct cmp_sys *s, char *buf, struct cmp_reg *r,
		     double *t)
{
	double t0 = cmp_now();

	if (s->reg(s, buf, BUF_LEN, 0, r)) {
		cmp_note("miss: registration failed");
		return -1;
	}
	*t += cmp_now() - t0;
	return 0;
}

/* The same by raw ibv_reg_mr on the system's PD, the baseline a miss is
 * paired with in its own process; nothing for a system without one
 * (UCX). */
static int timed_raw_reg(struct cmp_sys *s, char *buf, struct ibv_mr **mr,
			 double *t)
{
	double t0 = cmp_now();

	if (!s->pd)
		return 0;
	*mr = ibv_reg_mr(s->pd, buf, BUF_LEN, IBV_ACCESS_LOCAL_WRITE);
	*t += cmp_now() - t0;
	if (!*mr) {
		cmp_note("miss: ibv_reg_mr failed");
		return -1;
	}
	return 0;
}

void cmp_measure_miss_unmap(struct cmp_sys *s, const struct cmp_opts *o)
{
	enum { NB = 32 };
	double miss[MAX_TRIALS], again[MAX_TRIALS], unmap[MAX_TRIALS],
		plain[MAX_TRIALS], paired[MAX_TRIALS];
	struct cmp_reg r[NB];
	struct ibv_mr *raw[NB];
	char *b[NB], *c[NB];
	unsigned int t;
	int i;

	cmp_progress("miss and invalidation cost, %u trials of %d buffers",
		     o->trials, NB);
	for (t = 0; t < o->trials; t++) {
		double t0, tm = 0, tr = 0, ta = 0, tu = 0, tp = 0;

		cmp_step("miss", BUF_LEN, t);
		for (i = 0; i < NB; i++) {
			b[i] = map_touched(BUF_LEN);
			c[i] = map_touched(BUF_LEN);
			if (!b[i] || !c[i]) {
				cmp_note("miss: mmap failed");
				return;
			}
		}
		/* The previous trial's unmaps left a cache deregistrations
		 * to make on its own thread (raw made its own before its
		 * unmaps, untimed): let them finish before misses are timed,
		 * as the cache bench does. */
		usleep(20000);
		/* Each miss next to a raw ibv_reg_mr of another fresh buffer
		 * in this process, in alternating order: their ratio does not
		 * carry the process's own speed, which under TCG differs by up
		 * to 2x from one process to the next. */
		for (i = 0; i < NB; i++)
			if ((!(i & 1) && timed_raw_reg(s, c[i], &raw[i], &tr)) ||
			    timed_reg(s, b[i], &r[i], &tm) ||
			    ((i & 1) && timed_raw_reg(s, c[i], &raw[i], &tr)))
				return;
		/* c[] is unmapped only after the timed unmaps: an unmap
		 * next to b[] before its second use would make that a first
		 * sight again under sanverbs' admission rule */
		for (i = 0; i < NB; i++) {
			s->dereg(s, &r[i]);
			if (s->pd)
				ibv_dereg_mr(raw[i]);
		}
		/* Its second use: a hit for a cache, a miss for raw, and for
		 * a cache that keeps a range only at its second sight
		 * (sanverbs' admission rule under userfaultfd) the miss that
		 * starts watching it. */
		for (i = 0; i < NB; i++)
			if (timed_reg(s, b[i], &r[i], &ta))
				return;
		for (i = 0; i < NB; i++)
			s->dereg(s, &r[i]);
		/* The range is now cached (or gone, for raw): unmapping it
		 * is where a monitor must invalidate. */
		for (i = 0; i < NB; i++) {
			t0 = cmp_now();
			munmap(b[i], BUF_LEN);
			tu += cmp_now() - t0;
		}
		for (i = 0; i < NB; i++)
			munmap(c[i], BUF_LEN);
		/* The same munmap on memory no system ever saw. */
		for (i = 0; i < NB; i++)
			b[i] = map_touched(BUF_LEN);
		for (i = 0; i < NB; i++) {
			t0 = cmp_now();
			munmap(b[i], BUF_LEN);
			tp += cmp_now() - t0;
		}
		miss[t] = tm * 1e9 / NB;
		paired[t] = s->pd ? tm / tr : 0;
		again[t] = ta * 1e9 / NB;
		unmap[t] = tu * 1e9 / NB;
		plain[t] = tp * 1e9 / NB;
		cmp_trial("miss", BUF_LEN, t, miss[t], "ns");
		if (s->pd)
			cmp_trial("miss_paired", BUF_LEN, t, paired[t], "x");
		cmp_trial("second_use", BUF_LEN, t, again[t], "ns");
		cmp_trial("unmap_cached", BUF_LEN, t, unmap[t], "ns");
		cmp_trial("unmap_plain", BUF_LEN, t, plain[t], "ns");
	}
	cmp_result("miss", BUF_LEN, miss, o->trials, "ns");
	if (s->pd)
		cmp_result("miss_paired", BUF_LEN, paired, o->trials, "x");
	cmp_result("second_use", BUF_LEN, again, o->trials, "ns");
	cmp_result("unmap_cached", BUF_LEN, unmap, o->trials, "ns");
	cmp_result("unmap_plain", BUF_LEN, plain, o->trials, "ns");
}

/* xorshift: a random walk over the entries defeats any "last hit" shortcut
 * a cache may have, so the cost measured is the lookup structure's. */
static uint32_t rnd(uint32_t *s)
{
	uint32_t x = *s;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	return *s = x;
}

void cmp_measure_entries(struct cmp_sys *s, const struct cmp_opts *o)
{
	static const unsigned int steps[] = { 1000, 2000, 5000, 10000, 20000,
					      50000, 100000, 200000 };
	struct ibv_device_attr da;
	unsigned int max = o->max_entries, have = 0, k, t, i;
	unsigned int iters = o->quick ? 1000 : 5000;
	double v[MAX_TRIALS];
	uint32_t seed = 12345;
	char *base;

	if (!s->cached) {
		cmp_note("hit-vs-entries: no cache behind this system, every "
			 "registration is a full ibv_reg_mr; see 'hit'");
		return;
	}
	/* rxe caps MRs per device; leave room for the peer's own. */
	if (s->verbs && !ibv_query_device(s->verbs, &da) && da.max_mr > 256 &&
	    max > (unsigned int)da.max_mr - 256) {
		max = (unsigned int)da.max_mr - 256;
		cmp_note("hit-vs-entries: capped at %u entries (device max_mr "
			 "%d)", max, da.max_mr);
	}
	base = map_touched((size_t)max * PAGE);
	if (!base) {
		cmp_note("hit-vs-entries: cannot map %u pages", max);
		return;
	}
	for (k = 0; k < sizeof(steps) / sizeof(steps[0]) && steps[k] <= max;
	     k++) {
		double t0 = cmp_now();

		/* twice: a cache may keep a range only at its second
		 * sight (sanverbs' admission rule under userfaultfd) */
		for (; have < steps[k]; have++)
			if (reg_dereg(s, base + (size_t)have * PAGE, PAGE, 0) ||
			    reg_dereg(s, base + (size_t)have * PAGE, PAGE, 0)) {
				cmp_note("hit-vs-entries: registration %u "
					 "failed", have);
				goto out;
			}
		cmp_progress("hit cost with %u entries cached (filled in "
			     "%.1f s)", have, cmp_now() - t0);
		for (t = 0; t < o->trials; t++) {
			cmp_step("hit_entries", have, t);
			t0 = cmp_now();
			for (i = 0; i < iters; i++)
				if (reg_dereg(s, base + (size_t)(rnd(&seed) %
						have) * PAGE, PAGE, 0)) {
					cmp_note("hit-vs-entries: lookup "
						 "failed");
					goto out;
				}
			v[t] = (cmp_now() - t0) * 1e9 / iters;
			cmp_trial("hit_entries", have, t, v[t], "ns");
		}
		cmp_result("hit_entries", have, v, o->trials, "ns");
	}
out:
	munmap(base, (size_t)max * PAGE);
}

struct thr {
	struct cmp_sys *s;
	char *buf;
	unsigned int iters;
	int err;
	pthread_barrier_t *bar;
};

static void *thr_main(void *arg)
{
	struct thr *t = arg;
	unsigned int i;

	pthread_barrier_wait(t->bar);
	for (i = 0; i < t->iters && !t->err; i++)
		t->err = reg_dereg(t->s, t->buf + (i % 8) * BUF_LEN, BUF_LEN,
				   0);
	return NULL;
}

void cmp_measure_threads(struct cmp_sys *s, const struct cmp_opts *o)
{
	unsigned int iters = s->cached ? (o->quick ? 1000 : 10000) : 200;
	unsigned int n, t, i;

	for (n = 1; n <= o->threads_max; n *= 2) {
		double v[MAX_TRIALS];
		struct thr th[64];
		pthread_t tid[64];
		pthread_barrier_t bar;

		cmp_progress("hits from %u thread(s), %u trials", n, o->trials);
		for (i = 0; i < n; i++) {
			th[i] = (struct thr){ s, map_touched(8 * BUF_LEN),
					      iters, 0, &bar };
			if (!th[i].buf) {
				cmp_note("threads: mmap failed");
				return;
			}
			for (t = 0; t < 8; t++)
				reg_dereg(s, th[i].buf + t * BUF_LEN, BUF_LEN, 0);
		}
		for (t = 0; t < o->trials; t++) {
			double t0;
			int err = 0;

			cmp_step("mt_hit", n, t);
			pthread_barrier_init(&bar, NULL, n + 1);
			for (i = 0; i < n; i++)
				pthread_create(&tid[i], NULL, thr_main, &th[i]);
			pthread_barrier_wait(&bar);
			t0 = cmp_now();
			for (i = 0; i < n; i++) {
				pthread_join(tid[i], NULL);
				err |= th[i].err;
			}
			v[t] = (double)n * iters / (cmp_now() - t0);
			pthread_barrier_destroy(&bar);
			if (err) {
				cmp_note("threads: registration failed");
				return;
			}
			cmp_trial("mt_hit", n, t, v[t], "ops/s");
		}
		cmp_result("mt_hit", n, v, o->trials, "ops/s");
		for (i = 0; i < n; i++)
			munmap(th[i].buf, 8 * BUF_LEN);
		if (n >= 64)
			break;
	}
}

void cmp_measure_write_bw(struct cmp_sys *s, struct cmp_peer *peer,
			  const struct cmp_opts *o)
{
	const size_t len = 1 << 20, msg = BUF_LEN;
	unsigned int count = o->quick ? 64 : 512, t;
	double v[MAX_TRIALS];
	struct cmp_reg rs, rd;
	char *src = map_touched(len), *dst = map_touched(len);
	size_t off;

	if (!src || !dst || s->reg(s, src, len, 0, &rs)) {
		cmp_note("write_bw: cannot set up buffers");
		return;
	}
	if (s->reg(s, dst, len, 1, &rd)) {
		cmp_note("write_bw: cannot register the target");
		s->dereg(s, &rs);
		return;
	}
	for (off = 0; off < msg; off++)
		src[off] = (char)(off * 7 + 3);
	cmp_progress("RDMA write bandwidth, %u x %zu B, %u trials", count, msg,
		     o->trials);
	for (t = 0; t < o->trials; t++) {
		double bps;

		cmp_step("write_bw", (long)msg, t);
		bps = cmp_peer_write_bw(peer, src, rs.lkey, msg,
					(uintptr_t)dst, rd.rkey, count, 16);

		if (bps < 0) {
			cmp_note("write_bw: RDMA write failed (%s)",
				 strerror((int)-bps));
			goto out;
		}
		/* MiB/s, as perftest's "MB/sec" */
		v[t] = bps / 1048576.0;
		cmp_trial("write_bw", (long)msg, t, v[t], "MiB/s");
	}
	/* Bandwidth of writes that did not land would be meaningless. */
	for (off = 0; off < msg; off++)
		if (dst[off] != src[off]) {
			cmp_note("write_bw: byte %zu did not land", off);
			goto out;
		}
	cmp_result("write_bw", (long)msg, v, o->trials, "MiB/s");
out:
	s->dereg(s, &rs);
	s->dereg(s, &rd);
	munmap(src, len);
	munmap(dst, len);
}
