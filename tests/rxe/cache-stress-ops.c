/* SPDX-License-Identifier: MIT */
/* test-cache-stress's operations: register a range and have the HCA land a
 * fresh pattern in it (every byte checked), change a slot's mapping in one
 * of the ways a process can, work on the THP ranges, and the callback
 * victims whose cache callback releases what is tied to them. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cache-stress.h"

uint8_t *region, *thp[THP_RANGES];
bool old_umem;
struct slot slots[SLOTS];
pthread_mutex_t thp_lock[THP_RANGES];
atomic_long stale, failures;
static atomic_uint seed_ctr;

/* Callback victims: a mapping cached and then unmapped; its callback
 * deregisters a held registration, munmaps a spare mapping and frees a
 * heap block, all tied to it here. */
struct victim {
	void *addr; /* NULL: free */
	struct sanverbs_mr *held;
	void *spare;
	void *heap;
};

static pthread_mutex_t victim_lock = PTHREAD_MUTEX_INITIALIZER;
static struct victim victims[VICTIMS];
atomic_long cb_calls, cb_victims;

void note_failure(const char *what, long ret)
{
	fprintf(stderr, "stress: %s: %ld\n", what, ret);
	atomic_fetch_add(&failures, 1);
}

static const char *where(const uint8_t *p)
{
	int i;

	if (p >= region && p < region + SLOTS * SLOT)
		return "the slots";
	for (i = 0; i < THP_RANGES; i++)
		if (p >= thp[i] && p < thp[i] + THP_LEN)
			return "a THP range";
	return "a victim or spare";
}

/* Register, RDMA-read a fresh pattern into it, check every byte. */
void do_land(struct worker *w, uint8_t *p, size_t len)
{
	uint32_t seed = atomic_fetch_add(&seed_ctr, 1) + 1000;
	struct sanverbs_mr *mr;
	long bad;
	int ret;

	sv_fill_pattern(w->peer, len, seed);
	memset(p, 0, len);
	ret = sanverbs_mr_reg(w->ctx, p, len, SANVERBS_ACCESS_LOCAL_WRITE, &mr);
	if (ret) {
		fprintf(stderr, "stress: reg %p+%zu\n", (void *)p, len);
		note_failure("sanverbs_mr_reg", ret);
		return;
	}
	ret = sv_rdma_read(&w->qp, p, sanverbs_mr_lkey(mr), len,
			   (uintptr_t)w->peer, sanverbs_mr_rkey(w->peer_mr));
	if (ret != IBV_WC_SUCCESS) {
		note_failure("sv_rdma_read", ret);
		sv_qp_pair_reset(&w->qp);
	} else if ((bad = sv_check_pattern(p, len, seed)) != -1) {
		fprintf(stderr, "stress: stale at %p+%zu (offset %ld) in %s\n",
			(void *)p, len, bad, where(p));
		atomic_fetch_add(&stale, 1);
	}
	ret = sanverbs_mr_dereg(mr);
	if (ret)
		note_failure("sanverbs_mr_dereg", ret);
}

static void map_fixed(uint8_t *p, size_t len, int flags, int fd)
{
	if (mmap(p, len, PROT_READ | PROT_WRITE, flags | MAP_FIXED, fd, 0) !=
	    p)
		note_failure("mmap fixed", -errno);
}

static int slot_memfd(struct slot *s)
{
	if (s->memfd < 0) {
		s->memfd = memfd_create("sv-stress", MFD_CLOEXEC);
		if (s->memfd < 0 || ftruncate(s->memfd, SLOT))
			note_failure("memfd", -errno);
	}
	return s->memfd;
}

/* Slot read-only: a writable registration is refused; a read-only one
 * sends exactly the page's bytes (RDMA WRITE out of it to the peer). */
static void protect(struct worker *w, struct slot *s, uint8_t *p)
{
	uint32_t seed = atomic_fetch_add(&seed_ctr, 1) + 1000;
	struct sanverbs_mr *mr;
	int ret;

	sv_fill_pattern(p, SLOT, seed);
	if (mprotect(p, SLOT, PROT_READ)) {
		note_failure("mprotect", -errno);
		return;
	}
	s->ro = true;
	ret = sanverbs_mr_reg(w->ctx, p, SLOT, SANVERBS_ACCESS_LOCAL_WRITE,
			      &mr);
	if (!ret) {
		note_failure("writable registration of a read-only slot", 0);
		sanverbs_mr_dereg(mr);
	} else if (ret != -EFAULT) {
		note_failure("reg of a read-only slot", ret);
	}
	ret = sanverbs_mr_reg(w->ctx, p, SLOT, 0, &mr);
	if (ret == -EFAULT && s->kind != K_PRIVATE && old_umem)
		return; /* 6.1 pins read-only MRs for (forced) write */
	if (ret) {
		note_failure("read-only registration", ret);
		return;
	}
	memset(w->peer, 0, SLOT);
	ret = sv_rdma_write(&w->qp, p, sanverbs_mr_lkey(mr), SLOT,
			    (uintptr_t)w->peer, sanverbs_mr_rkey(w->peer_mr));
	if (ret != IBV_WC_SUCCESS) {
		note_failure("sv_rdma_write", ret);
		sv_qp_pair_reset(&w->qp);
	} else if (sv_check_pattern(w->peer, SLOT, seed) != -1) {
		atomic_fetch_add(&stale, 1);
	}
	if ((ret = sanverbs_mr_dereg(mr)))
		note_failure("sanverbs_mr_dereg", ret);
}

void victim_cb(void *arg, void *addr, size_t len)
{
	struct victim v = { 0 };
	int i;

	(void)arg;
	(void)len;
	atomic_fetch_add(&cb_calls, 1);
	free(malloc(4096)); /* the allocator from the callback thread */
	pthread_mutex_lock(&victim_lock);
	for (i = 0; i < VICTIMS; i++)
		if (victims[i].addr == addr) {
			v = victims[i];
			victims[i].addr = NULL;
			break;
		}
	pthread_mutex_unlock(&victim_lock);
	if (!v.addr)
		return;
	atomic_fetch_add(&cb_victims, 1);
	if (sanverbs_mr_dereg(v.held))
		note_failure("dereg in callback", 0);
	if (munmap(v.spare, VICTIM_LEN))
		note_failure("munmap in callback", -errno);
	free(v.heap);
}

/* A mapping of its own, cached, tied to a held registration of a heap
 * block and to a spare mapping, then unmapped: its callback releases
 * them (and unmaps the spare, which may fire callbacks of its own). */
void victim(struct worker *w)
{
	uint8_t *v = mmap(NULL, VICTIM_LEN, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *spare = mmap(NULL, VICTIM_LEN, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	void *heap = malloc(SLOT);
	struct sanverbs_mr *held;
	int i, ret;

	if (v == MAP_FAILED || spare == MAP_FAILED || !heap) {
		note_failure("victim alloc", -ENOMEM);
		return;
	}
	/* twice: under the admission rule a range is cached at its
	 * second sight (new memory at a recycled address is a first one) */
	do_land(w, v, SLOT);
	do_land(w, v, SLOT);
	do_land(w, spare, SLOT);
	do_land(w, spare, SLOT);
	ret = sanverbs_mr_reg(w->ctx, heap, SLOT, SANVERBS_ACCESS_LOCAL_WRITE,
			      &held);
	if (ret) {
		note_failure("victim reg", ret);
		return;
	}
	pthread_mutex_lock(&victim_lock);
	for (i = 0; i < VICTIMS && victims[i].addr; i++)
		;
	if (i < VICTIMS)
		victims[i] = (struct victim){ v, held, spare, heap };
	pthread_mutex_unlock(&victim_lock);
	if (i == VICTIMS) { /* all in flight: release them here */
		sanverbs_mr_dereg(held);
		munmap(spare, VICTIM_LEN);
		free(heap);
	}
	munmap(v, VICTIM_LEN);
}

/* Victims not called back yet; with @release, released here. */
int victims_pending(bool release)
{
	int i, n = 0;

	pthread_mutex_lock(&victim_lock);
	for (i = 0; i < VICTIMS; i++) {
		if (!victims[i].addr)
			continue;
		n++;
		if (release) {
			sanverbs_mr_dereg(victims[i].held);
			munmap(victims[i].spare, VICTIM_LEN);
			free(victims[i].heap);
			victims[i].addr = NULL;
		}
	}
	pthread_mutex_unlock(&victim_lock);
	return n;
}

static void do_fork(uint8_t *p)
{
	pid_t pid = fork();
	int st;

	if (pid < 0) {
		note_failure("fork", -errno);
		return;
	}
	if (!pid) {
		/* the child's copy: readable and writable, then gone */
		p[0] ^= 1;
		_exit(0);
	}
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st))
		note_failure("fork child", st);
}

/* msync() fails with ENOMEM exactly where something is not mapped. */
bool mapped(void *p, size_t len)
{
	return !msync(p, len, MS_ASYNC) || errno != ENOMEM;
}

void change(struct worker *w, unsigned int i, enum op_name op)
{
	struct slot *s = &slots[i];
	uint8_t *p = region + (size_t)i * SLOT;
	int id, fd;
	off_t off;

	/* a read-only slot becomes writable again before anything else */
	if (s->ro && op != O_PROTECT) {
		if (mprotect(p, SLOT, PROT_READ | PROT_WRITE))
			note_failure("mprotect rw", -errno);
		s->ro = false;
	}
	switch (op) {
	case O_PRIVATE:
		map_fixed(p, SLOT, MAP_PRIVATE | MAP_ANONYMOUS, -1);
		s->kind = K_PRIVATE;
		break;
	case O_SHARED:
		map_fixed(p, SLOT, MAP_SHARED | MAP_ANONYMOUS, -1);
		s->kind = K_SHARED;
		break;
	case O_MEMFD:
		map_fixed(p, SLOT, MAP_SHARED, slot_memfd(s));
		s->kind = K_MEMFD;
		break;
	case O_TRUNCATE:
		fd = slot_memfd(s);
		if (ftruncate(fd, 0) || ftruncate(fd, SLOT))
			note_failure("ftruncate", -errno);
		break;
	case O_PUNCH:
		off = (off_t)(rnd(w) % (SLOT / 4096)) * 4096;
		if (fallocate(slot_memfd(s),
			      FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
			      4096 * (1 + rnd(w) % 2)))
			note_failure("fallocate", -errno);
		break;
	case O_DONTNEED:
		if (madvise(p, SLOT, MADV_DONTNEED))
			note_failure("madvise", -errno);
		break;
	case O_REMOVE:
		/* shared memory only; on private memory it fails */
		if (madvise(p, SLOT, MADV_REMOVE) &&
		    (s->kind == K_SHARED || s->kind == K_MEMFD))
			note_failure("MADV_REMOVE", -errno);
		break;
	case O_MREMAP_ONTO:
		/* fresh memory moved onto the (maybe cached) slot; with
		 * DONTUNMAP the source stays mapped, so no hole opens that
		 * another thread's mmap could take */
		memset(w->scratch, 0x11, SLOT);
		if (mremap(w->scratch, SLOT, SLOT,
			   MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
			   p) != p) {
			/* mremap unmaps the target before it checks the
			 * source: put memory back at both */
			note_failure("mremap onto", -errno);
			map_fixed(p, SLOT, MAP_PRIVATE | MAP_ANONYMOUS, -1);
			map_fixed(w->scratch, SLOT, MAP_PRIVATE | MAP_ANONYMOUS,
				  -1);
		}
		s->kind = K_PRIVATE;
		break;
	case O_MREMAP_AWAY:
		/* the slot's pages go to scratch, the slot stays mapped and
		 * empty; EINVAL/EFAULT: the slot is not one VMA mremap can
		 * move (registrations split VMAs), replace it then */
		if (mremap(p, SLOT, SLOT,
			   MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP,
			   w->scratch) != w->scratch) {
			if (errno != EFAULT && errno != EINVAL)
				note_failure("mremap away", -errno);
			map_fixed(p, SLOT, MAP_PRIVATE | MAP_ANONYMOUS, -1);
			s->kind = K_PRIVATE;
		}
		/* scratch is always private anonymous memory again */
		map_fixed(w->scratch, SLOT, MAP_PRIVATE | MAP_ANONYMOUS, -1);
		break;
	case O_SHMAT:
		id = shmget(IPC_PRIVATE, SLOT, IPC_CREAT | 0600);
		if (id < 0 || shmat(id, p, SHM_REMAP) != p)
			note_failure("shmat", -errno);
		else
			s->kind = K_SHM;
		if (id >= 0)
			shmctl(id, IPC_RMID, NULL);
		break;
	case O_SHMDT:
		if (s->kind == K_SHM) {
			if (shmdt(p))
				note_failure("shmdt", -errno);
			map_fixed(p, SLOT, MAP_PRIVATE | MAP_ANONYMOUS, -1);
			s->kind = K_PRIVATE;
		}
		break;
	case O_PROTECT:
		if (!s->ro)
			protect(w, s, p);
		break;
	case O_FORK:
		do_fork(p);
		break;
	default:
		sanverbs_cache_invalidate(w->ctx, p, SLOT);
		break;
	}
}

void thp_op(struct worker *w, enum op_name op)
{
	unsigned int r = rnd(w) % THP_RANGES;
	uint8_t *t = thp[r];

	pthread_mutex_lock(&thp_lock[r]);
	switch (op) {
	case O_LAND_THP:
		do_land(w, t, THP_LEN);
		break;
	case O_THP_ZAP:
		if (madvise(t + (rnd(w) % 2) * HPAGE, HPAGE, MADV_DONTNEED))
			note_failure("thp zap", -errno);
		break;
	case O_THP_SPLIT:
		if (madvise(t + (rnd(w) % (THP_LEN / 4096)) * 4096, 4096,
			    MADV_DONTNEED))
			note_failure("thp split", -errno);
		break;
	default:
		map_fixed(t, THP_LEN, MAP_PRIVATE | MAP_ANONYMOUS, -1);
		madvise(t, THP_LEN, MADV_HUGEPAGE);
		break;
	}
	pthread_mutex_unlock(&thp_lock[r]);
}
