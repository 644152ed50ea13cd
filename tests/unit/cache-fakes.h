/* SPDX-License-Identifier: MIT */
/* Host-only stand-ins for the cache's two seams: a registration backend
 * that "registers" by filling a struct ibv_mr (no device, no pinning) and
 * can refuse with ENOMEM, and a monitor whose events the test injects. */
#ifndef SV_CACHE_FAKES_H
#define SV_CACHE_FAKES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache/priv.h"

/* One live registration of the fake (freed when deregistered). */
struct fake_mr {
	struct ibv_mr mr; /* addr, length, lkey (= seq), rkey */
	uint64_t seq;     /* order of registration, from 1 */
	int flags;        /* IBV_ACCESS_* asked */
	bool live;
	struct sv_list link;
};

struct fake_reg {
	struct sv_reg_backend b;
	pthread_mutex_t lock; /* the worker deregisters concurrently */
	bool windows;         /* remote access through fake windows */
	size_t pin_limit;     /* 0: none; else ENOMEM past it (memlock) */
	size_t pinned;
	unsigned int fail_next; /* the next N reg() calls fail with ENOMEM */
	bool fail_always;
	uint64_t seq, win_seq;
	struct sv_list live;
	size_t nlive, nbound;
	uint64_t nreg, ndereg, nfail;
	/* Called by reg() before it registers, without any lock: lets a test
	 * inject an event while a registration is in flight. */
	void (*reg_hook)(void *arg, uintptr_t addr, size_t len);
	void *hook_arg;
};

void fake_reg_init(struct fake_reg *f, bool windows);
/* The live registration with lkey @lkey, or NULL (dead or unknown). */
struct fake_mr *fake_reg_find(struct fake_reg *f, uint32_t lkey);
void fake_reg_fini(struct fake_reg *f);

enum fake_mon_mode {
	/* userfaultfd-like: the sink runs under the cache lock before
	 * inject() returns; watch ranges are remembered (known()) and
	 * forgotten by events; no unwatch. */
	FAKE_MON_SYNC,
	/* kmod-like: a watch per entry with a generation that an event bumps
	 * at once (still_valid false); the sink runs later, unlocked, when
	 * the test calls fake_mon_deliver(). */
	FAKE_MON_GEN,
};

struct fake_range {
	uintptr_t s, e;
};

struct fake_slot {
	uintptr_t s, e;
	uint64_t gen;
	bool used;
};

struct fake_mon {
	struct sv_monitor m;
	enum fake_mon_mode mode;
	pthread_mutex_t lock;
	/* SYNC: ranges watched and untouched since (known()); pages still
	 * registered (what an event is delivered for: a registration stays
	 * on the pages an event did not touch) */
	struct fake_range *known;
	size_t nknown, cap_known;
	uintptr_t *regpages;
	size_t nregpages, cap_regpages;
	struct fake_slot *slots;  /* GEN */
	size_t nslots, cap_slots, nused;
	struct fake_range *pending; /* GEN: events not delivered yet */
	size_t npending, cap_pending;
	uint64_t gen;
	uint64_t nwatch, nunwatch;
};

/* A params.mon_open that creates the fake monitor @arg (a struct fake_mon
 * with ->mode set) and hands it to the cache. */
int fake_mon_open(void *arg, sv_invalidate_fn sink, void *sink_arg,
		  struct sv_monitor **out, enum sanverbs_monitor *kind);
/* An event over [s, s + len): SYNC reports it now; GEN makes it visible to
 * still_valid() now and queues it for fake_mon_deliver(). */
void fake_mon_inject(struct fake_mon *fm, uintptr_t s, size_t len);
/* GEN: reports every queued event to the sink (the kmod thread). */
void fake_mon_deliver(struct fake_mon *fm);
/* True when @w's range is watched: every page registered (SYNC), or the
 * watch current (GEN). */
bool fake_mon_watched(struct fake_mon *fm, const struct sv_watch *w);
/* Frees what the fake kept (after the cache destroyed it). */
void fake_mon_fini(struct fake_mon *fm);

#endif
