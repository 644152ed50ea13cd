/* SPDX-License-Identifier: MIT */
/* Description: randomized multi-threaded stress of the registration cache
 * on rxe, with every kind of mapping change a process can make. Four
 * threads, each with its own loopback QP pair, share 32 adjacent slots of
 * one region and two 4 MiB transparent-huge-page ranges. At random they
 * register a sub-range (sometimes across two slots, or a whole THP range)
 * and have the HCA write a fresh pattern into it through that registration
 * (every byte checked), or change a slot: private or shared anonymous
 * memory or a memfd mapped over it with MAP_FIXED, the memfd truncated or
 * hole-punched, MADV_DONTNEED / MADV_REMOVE, other memory moved onto it
 * with mremap, SysV shm attached over it with SHM_REMAP and detached,
 * made read-only (a writable registration must then be refused, a
 * read-only one must send exactly the page's bytes), fork(), an explicit
 * invalidation, or a THP block zapped, split or replaced. The cache
 * callback munmaps, frees and deregisters what it was told to when the
 * mappings it is tied to change. A stale hit shows as bytes that did not
 * land; the test requires none, no failure, no leaked entry, and hits and
 * invalidations > 0. Operations: $SV_STRESS_OPS (default 30000, over all
 * threads), bounded by $SV_STRESS_SECONDS (default 1700); $SV_STRESS_ONLY
 * restricts the mix to the operations it names (op_names), for bisecting;
 * $SV_STRESS_SEED varies the sequence; $SV_STRESS_PROGRESS=N prints the
 * operation count every N seconds, so a soak's rate shows while it runs. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "cache-stress.h"
#include "test-cache-common.h"

/* Well below Check's 2^31 us limit of a test's duration. */
#ifndef SOAK_EXIT_S
#define SOAK_EXIT_S 1800
#endif

/* The slots and each thread's scratch range are what the test unmaps and
 * maps again: a hole opens there for a moment (shmdt() before the slot is
 * mapped again; a failed MREMAP_FIXED has unmapped its target already).
 * Any other thread's mmap(NULL) could take it: the rxe provider's queue
 * rings at a QP reset, ASan's per-thread blocks in the library's threads.
 * The MAP_FIXED that follows would replace that mapping under its owner,
 * who then reads zeros or later unmaps part of a slot (seen as "left a
 * hole", then SIGSEGV in memset(scratch); under ASan as a SIGSEGV in
 * __tls_get_addr on the monitor thread, which blocks every signal). So
 * they live in a range of the test's own far below the mmap area: the
 * kernel hands out the highest free gap that fits, always above them.
 * Victims and spares come from mmap(NULL), away from it. */
#define OWN_BASE 0x3e0000000000ul

static long target_ops;
static double deadline_s;
static atomic_long ops_done, kinds_done[32];
static unsigned int only = ~0u;

static const char *const op_names[O_NR] = {
	"land", "land-slot", "land-two", "land-thp", "private", "shared",
	"memfd", "truncate", "punch", "dontneed", "remove", "mremap-onto",
	"mremap-away", "shmat-remap", "shmdt", "protect", "fork",
	"invalidate", "thp-zap", "thp-split", "thp-new", "cb-victim",
};

static struct worker workers[THREADS];

/* Weights out of 1000. */
static enum op_name pick(struct worker *w)
{
	static const struct { enum op_name op; unsigned int w; } mix[] = {
		{ O_LAND, 360 }, { O_LAND_SLOT, 160 }, { O_LAND_TWO, 60 },
		{ O_LAND_THP, 12 }, { O_PRIVATE, 30 }, { O_SHARED, 30 },
		{ O_MEMFD, 30 }, { O_TRUNCATE, 25 }, { O_PUNCH, 25 },
		{ O_DONTNEED, 30 }, { O_REMOVE, 15 }, { O_MREMAP_ONTO, 30 },
		{ O_MREMAP_AWAY, 25 }, { O_SHMAT, 30 }, { O_SHMDT, 20 },
		{ O_PROTECT, 25 }, { O_FORK, 5 }, { O_INVALIDATE, 20 },
		{ O_THP_ZAP, 8 }, { O_THP_SPLIT, 8 }, { O_THP_NEW, 6 },
		{ O_VICTIM, 45 },
	};
	unsigned int x, i;

	for (;;) {
		x = rnd(w) % 1000;
		for (i = 0; i < sizeof(mix) / sizeof(mix[0]); i++) {
			if (x < mix[i].w)
				break;
			x -= mix[i].w;
		}
		if (i < sizeof(mix) / sizeof(mix[0]) && (only & (1u << mix[i].op)))
			return mix[i].op;
	}
}

/* $SV_STRESS_ONLY: a comma-separated subset of op_names to run. */
static unsigned int parse_only(const char *v)
{
	unsigned int m = 0;
	int i;

	if (!v || !*v)
		return ~0u;
	for (i = 0; i < O_NR; i++) {
		const char *p = strstr(v, op_names[i]);
		size_t n = strlen(op_names[i]);

		while (p && ((p != v && p[-1] != ',') ||
			     (p[n] && p[n] != ',')))
			p = strstr(p + 1, op_names[i]);
		if (p)
			m |= 1u << i;
	}
	return m ? m : ~0u;
}

/* Which operation each thread is in, for the SIGSEGV report. */
static __thread int cur_op = -1;
static __thread uint8_t *cur_p;

static void segv(int sig, siginfo_t *si, void *uc)
{
	char buf[256];
	int fd, n;

	(void)uc;
	n = snprintf(buf, sizeof(buf),
		     "stress: signal %d at %p in op %s on %p; maps:\n", sig,
		     si->si_addr, cur_op >= 0 ? op_names[cur_op] : "-",
		     (void *)cur_p);
	if (write(2, buf, (size_t)n) < 0)
		_exit(3);
	fd = open("/proc/self/maps", O_RDONLY);
	while (fd >= 0 && (n = (int)read(fd, buf, sizeof(buf))) > 0)
		if (write(2, buf, (size_t)n) < 0)
			break;
	_exit(3);
}

static void *run(void *arg)
{
	struct worker *w = arg;

	while (atomic_load(&ops_done) < target_ops && now_s() < deadline_s) {
		unsigned int i = rnd(w) % SLOTS;
		enum op_name op = pick(w);
		uint8_t *p = region + (size_t)i * SLOT;

		cur_op = (int)op;
		cur_p = p;
		if (op == O_LAND || op == O_LAND_SLOT) {
			size_t off = op == O_LAND ? rnd(w) % SLOT : 0;
			size_t len = op == O_LAND ? 1 + rnd(w) % (SLOT - off) :
						    SLOT;

			pthread_mutex_lock(&slots[i].lock);
			if (!slots[i].ro)
				do_land(w, p + off, len);
			pthread_mutex_unlock(&slots[i].lock);
		} else if (op == O_LAND_TWO) {
			size_t off = rnd(w) % SLOT;

			i = i % (SLOTS - 1);
			p = region + (size_t)i * SLOT;
			pthread_mutex_lock(&slots[i].lock);
			pthread_mutex_lock(&slots[i + 1].lock);
			if (!slots[i].ro && !slots[i + 1].ro)
				do_land(w, p + off, SLOT);
			pthread_mutex_unlock(&slots[i + 1].lock);
			pthread_mutex_unlock(&slots[i].lock);
		} else if (op == O_LAND_THP || op >= O_THP_ZAP) {
			if (op == O_VICTIM)
				victim(w);
			else
				thp_op(w, op);
		} else {
			pthread_mutex_lock(&slots[i].lock);
			change(w, i, op);
			if (!mapped(p, SLOT) || !mapped(w->scratch, SLOT))
				fprintf(stderr, "stress: %s left a hole\n",
					op_names[op]),
					note_failure("hole", 0);
			pthread_mutex_unlock(&slots[i].lock);
		}
		atomic_fetch_add(&kinds_done[op], 1);
		atomic_fetch_add(&ops_done, 1);
	}
	return NULL;
}

/* @len bytes of the test's own range (OWN_BASE), never taken before. */
static uint8_t *map_own(size_t len)
{
	static uintptr_t next = OWN_BASE;
	uint8_t *p = mmap((void *)next, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			  -1, 0);

	ck_assert_ptr_eq(p, (void *)next);
	next += (len + 2 * HPAGE) & ~(uintptr_t)(HPAGE - 1);
	return p;
}

static uint8_t *map_thp(void)
{
	uint8_t *p = mmap(NULL, THP_LEN + HPAGE, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	uint8_t *a;

	ck_assert_ptr_ne(p, MAP_FAILED);
	a = (uint8_t *)(((uintptr_t)p + HPAGE - 1) & ~(uintptr_t)(HPAGE - 1));
	madvise(a, THP_LEN, MADV_HUGEPAGE);
	return a;
}

static bool kernel_before(int major, int minor)
{
	struct utsname u;
	int a = 0, b = 0;

	ck_assert_int_eq(uname(&u), 0);
	sscanf(u.release, "%d.%d", &a, &b);
	return a < major || (a == major && b < minor);
}

static long env_long(const char *name, long def)
{
	const char *v = getenv(name);

	return v && *v ? strtol(v, NULL, 10) : def;
}

START_TEST(no_stale_hits)
{
	struct sanverbs_cache_stats s;
	double t0 = now_s();
	int i, pending;
	long progress = env_long("SV_STRESS_PROGRESS", 0);
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = segv;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
	target_ops = env_long("SV_STRESS_OPS", 30000);
	old_umem = kernel_before(6, 2);
	only = parse_only(getenv("SV_STRESS_ONLY"));
	deadline_s = t0 + (double)env_long("SV_STRESS_SECONDS", 1700);
	region = map_own(SLOTS * SLOT);
	for (i = 0; i < SLOTS; i++) {
		pthread_mutex_init(&slots[i].lock, NULL);
		slots[i].kind = K_PRIVATE;
		slots[i].memfd = -1;
	}
	for (i = 0; i < THP_RANGES; i++) {
		pthread_mutex_init(&thp_lock[i], NULL);
		thp[i] = map_thp();
	}
	ck_assert_int_eq(sanverbs_cache_set_callback(ctx, victim_cb, NULL),
			 0);
	for (i = 0; i < THREADS; i++) {
		struct worker *w = &workers[i];

		w->id = i;
		w->ctx = ctx;
		w->rng = 0x2545f4914f6cdd1dull * (i + 1) ^
			 (uint64_t)env_long("SV_STRESS_SEED", 0);
		ck_assert_int_eq(sv_qp_pair_create(ctx, &w->qp), 0);
		w->peer = mmap(NULL, THP_LEN, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		w->scratch = map_own(SLOT);
		ck_assert_ptr_ne(w->peer, MAP_FAILED);
		ck_assert_int_eq(sanverbs_mr_reg(ctx, w->peer, THP_LEN,
						 SANVERBS_ACCESS_LOCAL_WRITE |
							 SANVERBS_ACCESS_REMOTE_READ |
							 SANVERBS_ACCESS_REMOTE_WRITE,
						 &w->peer_mr),
				 0);
	}
	for (i = 0; i < THREADS; i++)
		ck_assert_int_eq(pthread_create(&workers[i].thr, NULL, run,
						&workers[i]),
				 0);
	while (progress > 0 && atomic_load(&ops_done) < target_ops &&
	       now_s() < deadline_s) {
		sleep((unsigned int)progress);
		fprintf(stderr, "stress: %ld operations after %.0f s\n",
			atomic_load(&ops_done), now_s() - t0);
	}
	for (i = 0; i < THREADS; i++)
		pthread_join(workers[i].thr, NULL);
	/* callbacks are asynchronous: give the last ones a moment, then
	 * release what an eviction (no callback) left behind */
	for (i = 0; i < 200 && victims_pending(false); i++)
		usleep(10000);
	pending = victims_pending(true);
	s = stats();
	printf("stress: %ld operations in %.1f s, %ld stale hits, %ld "
	       "failures; hits %llu misses %llu invalidations %llu "
	       "evictions %llu uncached %llu; callbacks %ld (victims %ld)\n",
	       atomic_load(&ops_done), now_s() - t0, atomic_load(&stale),
	       atomic_load(&failures), (unsigned long long)s.hits,
	       (unsigned long long)s.misses,
	       (unsigned long long)s.invalidations,
	       (unsigned long long)s.evictions,
	       (unsigned long long)s.uncached, atomic_load(&cb_calls),
	       atomic_load(&cb_victims));
	printf("stress: %d victims left to release (evicted before unmap)\n",
	       pending);
	printf("stress: ops by kind:");
	for (i = 0; i < O_NR; i++)
		printf(" %s %ld", op_names[i], atomic_load(&kinds_done[i]));
	printf("\n");
	fflush(stdout);
	ck_assert_int_eq(atomic_load(&stale), 0);
	ck_assert_int_eq(atomic_load(&failures), 0);
	ck_assert_int_ge(atomic_load(&ops_done), target_ops);
	ck_assert_uint_gt(s.hits, 100);
	ck_assert_uint_gt(s.invalidations, 100);
	ck_assert_int_gt(atomic_load(&cb_victims), 0);
	for (i = 0; i < THREADS; i++) {
		ck_assert_int_eq(sanverbs_mr_dereg(workers[i].peer_mr), 0);
		sv_qp_pair_destroy(&workers[i].qp);
	}
	/* nothing leaked: only the fixture's peer registration remains */
	ck_assert_int_eq(sanverbs_cache_flush(ctx), 0);
	ck_assert_uint_eq(stats().entries, 0);
	/* Check 0.15 reports a test's duration as 32-bit microseconds and
	 * turns a test that ran longer than 2^31 us (35.8 min) into an error
	 * after it passed. A soak runs longer: once every check above has
	 * passed it runs the fixture's teardown and ends its forked test
	 * itself; Check counts an exit status of 0 as a pass. */
	if (now_s() - t0 > SOAK_EXIT_S) {
		cache_teardown();
		fflush(NULL);
		exit(EXIT_SUCCESS);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("cache-stress");
	TCase *tc = tcase_create("stress");

	tcase_add_checked_fixture(tc, cache_setup, cache_teardown);
	tcase_set_timeout(tc, 0);
	tcase_add_test(tc, no_stale_hits);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
