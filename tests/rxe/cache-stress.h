/* SPDX-License-Identifier: MIT */
/* What test-cache-stress's driver (test-cache-stress.c: the mix, the
 * threads, the checks) and its operations (cache-stress-ops.c: registering
 * and landing bytes, changing a slot's mapping, the THP ranges and the
 * callback victims) share: the layout of the memory they work on, the
 * workers and the counts of what went wrong. */
#ifndef SV_CACHE_STRESS_H
#define SV_CACHE_STRESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sv-test.h"

#define THREADS 4
#define SLOTS 32
#define SLOT (16u << 10)
#define THP_RANGES 2
#define THP_LEN (4u << 20)
#define HPAGE (2u << 20)
#define VICTIMS 16
#define VICTIM_LEN (8 * SLOT)

enum kind { K_PRIVATE, K_SHARED, K_MEMFD, K_SHM };

struct slot {
	pthread_mutex_t lock;
	enum kind kind;
	bool ro; /* mprotect(PROT_READ) */
	int memfd;
};

enum op_name {
	O_LAND, O_LAND_SLOT, O_LAND_TWO, O_LAND_THP, O_PRIVATE, O_SHARED,
	O_MEMFD, O_TRUNCATE, O_PUNCH, O_DONTNEED, O_REMOVE, O_MREMAP_ONTO,
	O_MREMAP_AWAY, O_SHMAT, O_SHMDT, O_PROTECT, O_FORK, O_INVALIDATE,
	O_THP_ZAP, O_THP_SPLIT, O_THP_NEW, O_VICTIM, O_NR
};

struct worker {
	int id;
	struct sanverbs_ctx *ctx; /* the fixture's */
	struct sv_qp_pair qp;
	uint8_t *peer; /* THP_LEN, the HCA reads from and writes to it */
	struct sanverbs_mr *peer_mr;
	uint8_t *scratch;
	uint64_t rng;
	pthread_t thr;
};

static inline uint32_t rnd(struct worker *w)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return (uint32_t)(w->rng >> 16);
}

/* cache-stress-ops.c */
extern uint8_t *region, *thp[THP_RANGES];
/* Kernels before 6.2 pin every MR with FOLL_WRITE (FOLL_FORCE when the MR
 * cannot write): a shared mapping the process may not write cannot be
 * registered at all there. */
extern bool old_umem;
extern struct slot slots[SLOTS];
extern pthread_mutex_t thp_lock[THP_RANGES];
extern atomic_long stale, failures, cb_calls, cb_victims;

void note_failure(const char *what, long ret);
void do_land(struct worker *w, uint8_t *p, size_t len);
void victim_cb(void *arg, void *addr, size_t len);
void victim(struct worker *w);
int victims_pending(bool release);
bool mapped(void *p, size_t len);
void change(struct worker *w, unsigned int i, enum op_name op);
void thp_op(struct worker *w, enum op_name op);

#endif
