/* SPDX-License-Identifier: MIT */
/* The reference model test-cache-model runs the cache core against: the
 * fake system it drives (cache-fakes.h), the model's view of what the cache
 * may hold, the checks made after every operation (cache-model.c) and the
 * operations themselves (cache-model-ops.c). One model, M, per process. */
#ifndef SV_CACHE_MODEL_H
#define SV_CACHE_MODEL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sv-test.h"
#include "cache-fakes.h"
#include "ctx.h"
#include "mr.h"

/* Check's own asserts log every passing check through a pipe (a write(2)
 * each): far too slow for a million operations; these call it on failure
 * only. */
#define REQUIRE(c, ...)                                                      \
	do {                                                                 \
		if (!(c))                                                    \
			ck_abort_msg(__VA_ARGS__);                           \
	} while (0)
#define REQUIRE_OP(a, op, b, t, fmt)                                         \
	do {                                                                 \
		t a_ = (t)(a), b_ = (t)(b);                                  \
		if (!(a_ op b_))                                             \
			ck_abort_msg("%s %s %s: " fmt " vs " fmt, #a, #op,   \
				     #b, a_, b_);                            \
	} while (0)
#define REQ_UEQ(a, b) REQUIRE_OP(a, ==, b, uintmax_t, "%ju")
#define REQ_ULE(a, b) REQUIRE_OP(a, <=, b, uintmax_t, "%ju")
#define REQ_UGE(a, b) REQUIRE_OP(a, >=, b, uintmax_t, "%ju")
#define REQ_UGT(a, b) REQUIRE_OP(a, >, b, uintmax_t, "%ju")
#define REQ_IEQ(a, b) REQUIRE_OP(a, ==, b, intmax_t, "%jd")
#define REQ_ILT(a, b) REQUIRE_OP(a, <, b, intmax_t, "%jd")

#define PAGE 4096ul
#define NPAGES 32
#define MAXH 48
#define MAXE 512
#define MAXS 8
#define MAXCB 1024

struct ment {
	bool used;
	uint32_t lkey;
	uint64_t seq;
	uintptr_t addr, len, hs, he;
	unsigned int access; /* the entry's, normalized, with MW_BIND */
	bool cached, stale, called;
	bool merge; /* the current miss replaces it */
	unsigned int refs;
};

struct mh {
	struct sanverbs_mr *h;
	uintptr_t addr;
	size_t len;
	unsigned int access;
	struct ment *e;
	bool win;
};

struct msec {
	struct sanverbs_secure *h;
	uintptr_t addr;
	size_t len;
	bool live, called;
};

struct cbrec {
	uintptr_t addr;
	size_t len;
};

struct model {
	/* configuration */
	enum fake_mon_mode mode;
	bool windows, merge;
	size_t max_entries, max_bytes;
	/* the system */
	struct fake_reg f;
	struct fake_mon fm;
	struct sv_cache *c;
	struct sanverbs_ctx ctx;
	uintptr_t base;
	/* the model */
	struct ment e[MAXE];
	struct mh h[MAXH];
	int nh;
	struct mh recent[8]; /* requests to repeat */
	struct msec s[MAXS];
	uint64_t inval[NPAGES]; /* registrations up to this seq are stale */
	uint64_t hits, misses, evictions, invalidations, merged;
	/* callbacks from the worker */
	pthread_mutex_t cb_lock;
	struct cbrec cb[MAXCB];
	int ncb;
	/* a race armed for the next registration */
	bool race, race_in_merge;
	uintptr_t race_s;
	size_t race_len;
	/* what was covered */
	uint64_t n_hit, n_miss, n_uncached, n_enomem, n_evict, n_event,
		n_cb, n_race, n_merge;
	unsigned int op_evicted; /* by the current registration */
	unsigned int pin_ops;    /* operations left under a memlock limit */
};

extern struct model M;
extern uint64_t rng;

/* cache-model.c: the model's bookkeeping and its checks */
unsigned int rn(unsigned int n);
void cb(void *arg, void *addr, size_t len);
void mark_inval(uintptr_t s, uintptr_t e, uint64_t seq);
bool is_stale(const struct ment *x);
bool overlaps(const struct ment *x, uintptr_t s, uintptr_t e);
struct ment *ent_by_lkey(uint32_t lkey);
bool any_entry(bool (*pred)(const struct sv_cache_entry *x, uint32_t arg),
	       uint32_t arg);
bool in_tree(uint32_t lkey);
void take_callbacks(void);
void check_state(void);
struct ment *ent_new(void);
bool lru_evictable(struct sv_cache *c);
void count_evicted(void);

/* cache-model-ops.c: the operations, each checked against the model */
void race_hook(void *arg, uintptr_t addr, size_t len);
void op_reg(void);
void op_dereg(void);
void event(uintptr_t s, size_t len, uint64_t seq);
void deliver(void);
void drop_range(uintptr_t s, uintptr_t e, bool flush);
void op_secure(void);

#endif
