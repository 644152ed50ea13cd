/* SPDX-License-Identifier: MIT */
/* Helpers shared by the registration-cache rxe tests: a context with the
 * cache on, a peer buffer the loopback QP reads from, and land(), which
 * registers a buffer and has the HCA write the peer's bytes into it through
 * that registration, so a stale cache hit shows up as wrong bytes. */
#ifndef SV_TEST_CACHE_COMMON_H
#define SV_TEST_CACHE_COMMON_H

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sv-test.h"

#define PEER_LEN (4u << 20)

static struct sanverbs_ctx *ctx;
static struct sv_qp_pair pair;
static uint8_t *peer;
static struct sanverbs_mr *peer_mr;

static inline struct sanverbs_cache_stats stats(void)
{
	struct sanverbs_cache_stats s;

	ck_assert_int_eq(sanverbs_cache_stats(ctx, &s), 0);
	return s;
}

/* Opens the test device with the cache limits and monitor given. */
static inline struct sanverbs_ctx *open_ctx_with(size_t max_entries,
						 size_t max_bytes,
						 enum sanverbs_monitor mon)
{
	struct sanverbs_ctx_attr a;
	struct sanverbs_ctx *c = NULL;

	ck_assert_int_eq(sanverbs_ctx_attr_init(&a), 0);
	if (!a.device)
		a.device = getenv("SANVERBS_RXE_DEV");
	a.cache_max_entries = max_entries;
	a.cache_max_bytes = max_bytes;
	a.monitor = mon;
	ck_assert_int_eq(sanverbs_ctx_open(&a, &c), 0);
	return c;
}

/* The monitor this run is about: $SANVERBS_MONITOR, which tests/meson.build
 * pins to uffd in the rxe suite and to kmod in the kmod suite. */
static inline enum sanverbs_monitor test_monitor(void)
{
	struct sanverbs_ctx_attr a;

	ck_assert_int_eq(sanverbs_ctx_attr_init(&a), 0);
	return a.monitor;
}

static inline bool kmod_monitor(void)
{
	return stats().monitor == SANVERBS_MONITOR_KMOD;
}

static inline double now_s(void);

/* The invalidation counter moved past @before. Under userfaultfd the
 * unmapper waited for the monitor, so it has moved when the changing call
 * returns. Under kmod only still_valid() is synchronous: the counter moves
 * at the first lookup that meets the stale entry, or when the monitor
 * thread's sink runs a moment after the change; callers check after such a
 * lookup where there is one, and the wait (at most 2 s) covers the rest. */
static inline void assert_invalidated_since(uint64_t before)
{
	double end = now_s() + 2.0;

	while (kmod_monitor() && stats().invalidations <= before &&
	       now_s() < end)
		usleep(1000);
	ck_assert_uint_gt(stats().invalidations, before);
}

static inline void peer_setup(void)
{
	ck_assert_int_eq(sv_qp_pair_create(ctx, &pair), 0);
	peer = mmap(NULL, PEER_LEN, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(peer, MAP_FAILED);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, peer, PEER_LEN,
					 SANVERBS_ACCESS_REMOTE_READ, &peer_mr),
			 0);
}

static inline void cache_setup(void)
{
	ctx = sv_test_ctx_open();
	peer_setup();
	/* Every cache test needs a real monitor; say so if there is none. */
	ck_assert_msg(stats().monitor == SANVERBS_MONITOR_UFFD ||
			      stats().monitor == SANVERBS_MONITOR_KMOD,
		      "no invalidation monitor: caching is off");
	/* and the one this run was registered for, not a fallback */
	ck_assert_msg(test_monitor() == SANVERBS_MONITOR_AUTO ||
			      stats().monitor == test_monitor(),
		      "SANVERBS_MONITOR asks for monitor %d, the cache uses %d",
		      (int)test_monitor(), (int)stats().monitor);
}

static inline void cache_teardown(void)
{
	ck_assert_int_eq(sanverbs_mr_dereg(peer_mr), 0);
	munmap(peer, PEER_LEN);
	sv_qp_pair_destroy(&pair);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
}

/* Replaces the fixture's context with one using other cache settings. */
static inline void reopen(size_t max_entries, size_t max_bytes,
			  enum sanverbs_monitor mon)
{
	cache_teardown();
	ctx = open_ctx_with(max_entries, max_bytes, mon);
	peer_setup();
}

/* Registers [p, p + len) for local writes, has the HCA RDMA-read the peer's
 * pattern @seed into it through that registration's lkey, checks every
 * byte. Returns 1 if the registration was a cache hit, 0 if not. */
static inline int land(void *p, size_t len, uint32_t seed)
{
	struct sanverbs_cache_stats a, b;
	struct sanverbs_mr *mr;
	int st;

	ck_assert_uint_le(len, PEER_LEN);
	sv_fill_pattern(peer, len, seed);
	memset(p, 0, len);
	a = stats();
	ck_assert_int_eq(sanverbs_mr_reg(ctx, p, len,
					 SANVERBS_ACCESS_LOCAL_WRITE, &mr),
			 0);
	b = stats();
	st = sv_rdma_read(&pair, p, sanverbs_mr_lkey(mr), len,
			  (uintptr_t)peer, sanverbs_mr_rkey(peer_mr));
	ck_assert_int_eq(st, IBV_WC_SUCCESS);
	ck_assert_msg(sv_check_pattern(p, len, seed) == -1,
		      "bytes did not land in the memory now at %p "
		      "(first bad offset %ld): stale registration", p,
		      sv_check_pattern(p, len, seed));
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	return (int)(b.hits - a.hits);
}

static inline double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

#endif
