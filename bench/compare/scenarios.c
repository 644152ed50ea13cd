/* SPDX-License-Identifier: MIT */
/* Stale-hit scenarios. Each run: register a range for local access and
 * release it (so a cache keeps it), change what is mapped at that address,
 * register the same range again, and have the HCA put a pattern into it: an
 * RDMA READ whose local buffer is that second registration's lkey. Then
 * look at the address. A completed transfer whose bytes are not in the
 * pages now mapped there went to the old, still-pinned pages: a stale hit,
 * i.e. silent data loss for the application.
 *
 * A last check, "rkey after dereg", registers with remote write, releases
 * the registration and lets the peer RDMA-write with the old rkey: a write
 * that lands means the peer kept access to memory the application gave
 * back (counted in the same "stale" column: a wrong outcome).
 *
 * A system whose protection domain no QP of ours can reach (UCX) gets the
 * same scenarios without the transfer: a second registration that returns
 * the very handle and key of the first, after the pages changed, can only
 * point at the old pages (rxe has no on-demand paging). That is an
 * inference, reported as such, not a proof by RDMA. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <unistd.h>

#include "compare.h"
#include "out.h"

#define LEN (64 * 1024)
#define PAGE 4096

enum outcome { OK, STALE, ERR, SKIP };

struct region {
	char *addr;
	char *scratch; /* mremap: where the old pages went */
	int shm[2];
	void *brk_end;
};

struct scenario {
	const char *name;
	int (*setup)(struct region *r);
	/* Put new, zeroed memory at r->addr; 1 = could not (skip). */
	int (*change)(struct region *r);
	void (*teardown)(struct region *r);
};

static const char *stuck_in;

static void on_alarm(int sig)
{
	char msg[160];
	int n = snprintf(msg, sizeof(msg),
			 "N\t%s\tscenario %s hung for 30 s (a fault on the "
			 "range was never resolved); run aborted\n",
			 cmp_label, stuck_in ? stuck_in : "?");

	(void)sig;
	if (write(1, msg, (size_t)n) < 0)
		_exit(3);
	_exit(3);
}

static int anon_setup(struct region *r)
{
	r->addr = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return r->addr == MAP_FAILED ? -errno : 0;
}

static void anon_teardown(struct region *r)
{
	munmap(r->addr, LEN);
	if (r->scratch)
		munmap(r->scratch, LEN);
}

static int change_munmap_mmap(struct region *r)
{
	void *p;

	munmap(r->addr, LEN);
	p = mmap(r->addr, LEN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (p == r->addr)
		return 0;
	if (p != MAP_FAILED)
		munmap(p, LEN);
	/* Keep teardown's munmap harmless. */
	r->addr = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return 1;
}

static int change_map_fixed(struct region *r)
{
	return mmap(r->addr, LEN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) ==
	       r->addr ? 0 : -errno;
}

static int change_dontneed(struct region *r)
{
	return madvise(r->addr, LEN, MADV_DONTNEED) ? -errno : 0;
}

static int change_mremap(struct region *r)
{
	void *p;

	r->scratch = mmap(NULL, LEN, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r->scratch == MAP_FAILED) {
		r->scratch = NULL;
		return -errno;
	}
	p = mremap(r->addr, LEN, LEN, MREMAP_MAYMOVE | MREMAP_FIXED,
		   r->scratch);
	if (p != r->scratch)
		return -errno;
	return mmap(r->addr, LEN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1,
		    0) == r->addr ? 0 : 1;
}

/* The heap top, page-aligned, grown by LEN. malloc also moves the break, so
 * every later step checks that nobody else did. */
static int brk_setup(struct region *r)
{
	uintptr_t cur = (uintptr_t)sbrk(0);
	uintptr_t pad = (PAGE - cur % PAGE) % PAGE;

	if (sbrk((intptr_t)(pad + LEN)) == (void *)-1)
		return -ENOMEM;
	r->addr = (char *)(cur + pad);
	r->brk_end = r->addr + LEN;
	return 0;
}

static int brk_change(struct region *r)
{
	if (sbrk(0) != r->brk_end)
		return 1;
	if (sbrk(-LEN) == (void *)-1)
		return -ENOMEM;
	if (sbrk(LEN) != r->addr)
		return 1;
	return 0;
}

static void brk_teardown(struct region *r)
{
	if (sbrk(0) == r->brk_end)
		sbrk(-LEN);
}

static int shm_setup(struct region *r)
{
	r->shm[0] = shmget(IPC_PRIVATE, LEN, IPC_CREAT | 0600);
	r->shm[1] = shmget(IPC_PRIVATE, LEN, IPC_CREAT | 0600);
	if (r->shm[0] < 0 || r->shm[1] < 0)
		return -errno;
	r->addr = shmat(r->shm[0], NULL, 0);
	return r->addr == (void *)-1 ? -errno : 0;
}

static int shm_change(struct region *r)
{
	return shmat(r->shm[1], r->addr, SHM_REMAP) == r->addr ? 0 : -errno;
}

static void shm_teardown(struct region *r)
{
	if (r->addr && r->addr != (void *)-1)
		shmdt(r->addr);
	if (r->shm[0] >= 0)
		shmctl(r->shm[0], IPC_RMID, NULL);
	if (r->shm[1] >= 0)
		shmctl(r->shm[1], IPC_RMID, NULL);
}

/* What applications really do: free() a large buffer (glibc gives it back
 * with munmap) and malloc() one of the same size, which often lands at the
 * same address. */
#define BIG (1024 * 1024)

static int malloc_setup(struct region *r)
{
	/* A fixed threshold keeps glibc serving BIG with mmap every time
	 * (the dynamic one would move it to the heap after the first free). */
	mallopt(M_MMAP_THRESHOLD, 128 * 1024);
	r->addr = malloc(BIG);
	return r->addr ? 0 : -ENOMEM;
}

static int malloc_change(struct region *r)
{
	/* Kept only as a number: is the new block where the old was? */
	uintptr_t old = (uintptr_t)r->addr;

	free(r->addr);
	r->addr = malloc(BIG);
	if (!r->addr)
		return -ENOMEM;
	return (uintptr_t)r->addr == old ? 0 : 1;
}

static void malloc_teardown(struct region *r)
{
	free(r->addr);
}

static const struct scenario scenarios[] = {
	{ "munmap+mmap", anon_setup, change_munmap_mmap, anon_teardown },
	{ "mmap(MAP_FIXED)", anon_setup, change_map_fixed, anon_teardown },
	{ "madvise(DONTNEED)", anon_setup, change_dontneed, anon_teardown },
	{ "mremap+mmap", anon_setup, change_mremap, anon_teardown },
	{ "brk shrink+grow", brk_setup, brk_change, brk_teardown },
	{ "shmat(SHM_REMAP)", shm_setup, shm_change, shm_teardown },
	{ "free+malloc", malloc_setup, malloc_change, malloc_teardown },
};

static enum outcome run_one(struct cmp_sys *s, struct cmp_peer *peer,
			    const struct scenario *sc, char *src,
			    uint32_t src_rkey, uint32_t seed, char *detail,
			    size_t dlen)
{
	struct region r = { .shm = { -1, -1 } };
	struct cmp_reg a, b;
	enum outcome res;
	size_t i;
	int ret;

	ret = sc->setup(&r);
	if (ret) {
		snprintf(detail, dlen, "setup: %s", strerror(-ret));
		return ERR;
	}
	memset(r.addr, 0x11, LEN);
	ret = s->reg(s, r.addr, LEN, 0, &a);
	if (ret) {
		snprintf(detail, dlen, "first registration: %d", ret);
		res = ERR;
		goto out;
	}
	s->dereg(s, &a);
	ret = sc->change(&r);
	if (ret) {
		snprintf(detail, dlen, ret > 0 ? "address not reusable" :
			 "change: %s", strerror(-ret));
		res = ret > 0 ? SKIP : ERR;
		goto out;
	}
	/* The old contents still there means the memory was not replaced
	 * (e.g. an allocator that keeps freed blocks mapped): nothing for
	 * a cache to notice, so the run proves nothing either way. */
	if (r.addr[0] == 0x11 && r.addr[LEN / 2] == 0x11 &&
	    r.addr[LEN - 1] == 0x11) {
		snprintf(detail, dlen, "old pages still mapped after the "
			 "change (allocator kept them)");
		res = SKIP;
		goto out;
	}
	/* New pages, faulted in before the second registration. */
	memset(r.addr, 0, LEN);
	ret = s->reg(s, r.addr, LEN, 0, &b);
	if (ret) {
		snprintf(detail, dlen, "second registration: %d", ret);
		res = ERR;
		goto out;
	}
	for (i = 0; i < LEN; i++)
		src[i] = (char)(seed + i * 131 + (i >> 8));
	if (!peer) {
		/* Compared as values only: a.h was released above. */
		res = (uintptr_t)b.h == (uintptr_t)a.h && b.rkey == a.rkey ?
		      STALE : OK;
		snprintf(detail, dlen, "inferred from handle and key reuse");
		s->dereg(s, &b);
		goto out;
	}
	ret = cmp_peer_read(peer, r.addr, b.lkey, LEN, (uintptr_t)src,
			    src_rkey);
	if (ret) {
		snprintf(detail, dlen, "RDMA read completion status %d", ret);
		cmp_peer_reset(peer);
		res = ERR;
	} else {
		res = memcmp(r.addr, src, LEN) ? STALE : OK;
	}
	s->dereg(s, &b);
out:
	sc->teardown(&r);
	return res;
}

static void rkey_after_dereg(struct cmp_sys *s, struct cmp_peer *peer,
			     const struct cmp_opts *o, char *src,
			     uint32_t src_lkey)
{
	int n[4] = { 0 };
	char detail[128] = "";
	unsigned int run;
	char *buf;

	cmp_progress("rkey after dereg, %u runs", o->stale_runs);
	buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (buf == MAP_FAILED)
		return;
	for (run = 0; run < o->stale_runs; run++) {
		struct cmp_reg a;
		size_t i;
		int ret;

		memset(buf, 0, LEN);
		if (s->reg(s, buf, LEN, 1, &a)) {
			n[ERR]++;
			snprintf(detail, sizeof(detail), "registration failed");
			continue;
		}
		s->dereg(s, &a);
		for (i = 0; i < LEN; i++)
			src[i] = (char)(run + 7 + i * 13);
		ret = cmp_peer_write(peer, src, src_lkey, LEN, (uintptr_t)buf,
				     a.rkey);
		if (ret > 0) {
			/* Refused by the device: access ended. */
			cmp_peer_reset(peer);
			n[OK]++;
		} else if (ret < 0) {
			n[ERR]++;
			snprintf(detail, sizeof(detail), "post: %s",
				 strerror(-ret));
		} else {
			n[memcmp(buf, src, LEN) ? ERR : STALE]++;
		}
	}
	cmp_stale("rkey after dereg", n[STALE], n[OK], n[ERR], n[SKIP],
		  n[STALE] ? "the peer still wrote through a released rkey" :
		  detail);
	munmap(buf, LEN);
}

void cmp_stale_scenarios(struct cmp_sys *s, struct cmp_peer *peer,
			 const struct cmp_opts *o)
{
	struct sigaction sa = { .sa_handler = on_alarm };
	struct ibv_mr *smr = NULL;
	size_t k;
	char *src;

	/* untimed: one turn, so the systems take the scenarios in turn */
	cmp_turn(CMP_M_STALE, 0, 0);
	src = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED)
		return;
	memset(src, 0, LEN);
	/* The source is registered outside the system under test, so its
	 * own cache never sees it. */
	if (peer)
		smr = ibv_reg_mr(s->pd, src, LEN, IBV_ACCESS_LOCAL_WRITE |
				 IBV_ACCESS_REMOTE_READ);
	if (peer && !smr) {
		cmp_note("stale: cannot register the source buffer");
		munmap(src, LEN);
		return;
	}
	sigaction(SIGALRM, &sa, NULL);
	for (k = 0; k < sizeof(scenarios) / sizeof(scenarios[0]); k++) {
		int n[4] = { 0 };
		char detail[128] = "", first_err[128] = "";
		unsigned int run;

		cmp_progress("stale-hit scenario %s, %u runs",
			     scenarios[k].name, o->stale_runs);
		stuck_in = scenarios[k].name;
		for (run = 0; run < o->stale_runs; run++) {
			enum outcome res;

			alarm(30);
			res = run_one(s, peer, &scenarios[k], src,
				      smr ? smr->rkey : 0, run + 1, detail,
				      sizeof(detail));
			alarm(0);
			n[res]++;
			if ((res == ERR || res == SKIP || !peer) &&
			    !*first_err)
				snprintf(first_err, sizeof(first_err), "%s",
					 detail);
		}
		cmp_stale(scenarios[k].name, n[STALE], n[OK], n[ERR], n[SKIP],
			  first_err);
	}
	if (peer) {
		rkey_after_dereg(s, peer, o, src, smr->lkey);
		ibv_dereg_mr(smr);
	}
	munmap(src, LEN);
}
