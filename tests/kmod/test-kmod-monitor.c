/* SPDX-License-Identifier: MIT */
/* Description: the mmu_interval_notifier monitor (src/monitor/kmod.c against
 * the contract of monitor.h). munmap, madvise(DONTNEED) and mremap of a
 * watched range make still_valid() false by the time the call returns and
 * reach the sink once, and so does an mprotect() that takes a right away
 * (read-only, or no access to one page); an mprotect() that adds rights
 * and fork do not; an unwatched range reports
 * nothing; an unwatched kernel watch is parked and taken back by the next
 * watch of the same range unless the range changed meanwhile; a range with a hole cannot be watched (-EFAULT); watches are
 * released on destroy. A fork() that splits a pinned THP (the same
 * notifier event as a zap of the block) leaves the watch valid once the
 * module compared the pages; REVALIDATE refuses anything else. Under the
 * cache's lock (mon->lock) a change is reported before a lookup can
 * replace the watch, never to the watch made after it.
 * Through the registration cache (monitor KMOD) a re-mapped buffer is
 * registered afresh and a peer QP sees the new bytes, not the old pages. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kmod-test.h"
#include "monitor/monitor.h"
#include "sv-test.h"

#define NPAGES 16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static unsigned int calls;
static uintptr_t last_start;
static size_t last_len;

static struct sv_monitor *mon;
static struct sv_watch w;
static size_t page, len;
static char *buf;

/*
 * Stands in for the cache's lock (src/cache/invalidate.c): the sink takes
 * it unless the event thread already holds it for its batch (mon->lock,
 * which only late_report_spares_new_watch sets).
 */
static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static __thread bool in_batch;
static atomic_int batch_wanted, batches_done, sink_waiting, sinks_done;
static bool replaced;		/* under cache_lock */
static unsigned int late;	/* reports after the replacement */

static void batch_lock(void *arg)
{
	atomic_store(&batch_wanted, 1);
	pthread_mutex_lock(&cache_lock);
	in_batch = true;
}

static void batch_unlock(void *arg)
{
	in_batch = false;
	atomic_fetch_add(&batches_done, 1);
	pthread_mutex_unlock(&cache_lock);
}

static void sink(void *arg, uintptr_t start, size_t n)
{
	bool own = !in_batch;

	if (own) {
		atomic_store(&sink_waiting, 1);
		pthread_mutex_lock(&cache_lock);
	}
	pthread_mutex_lock(&lock);
	calls++;
	late += replaced;
	last_start = start;
	last_len = n;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	atomic_fetch_add(&sinks_done, 1);
	if (own)
		pthread_mutex_unlock(&cache_lock);
}

/* Waits up to 5 s for the sink to have been called @want times. */
static unsigned int wait_calls(unsigned int want)
{
	struct timespec ts;
	unsigned int got;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 5;
	pthread_mutex_lock(&lock);
	while (calls < want &&
	       pthread_cond_timedwait(&cond, &lock, &ts) != ETIMEDOUT)
		;
	got = calls;
	pthread_mutex_unlock(&lock);
	return got;
}

static void setup(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	len = NPAGES * page;
	calls = 0;
	late = 0;
	replaced = false;
	atomic_store(&batch_wanted, 0);
	atomic_store(&batches_done, 0);
	atomic_store(&sink_waiting, 0);
	atomic_store(&sinks_done, 0);
	ck_assert_int_eq(sv_monitor_kmod_create(sink, NULL, &mon), 0);
	ck_assert_str_eq(mon->ops->name, "kmod");
	buf = mmap(NULL, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(buf, MAP_FAILED);
	memset(buf, 1, len);
	memset(&w, 0, sizeof(w));
	w.start = (uintptr_t)buf + page;
	w.len = 4 * page + 10;
	ck_assert_int_eq(mon->ops->watch(mon, &w), 0);
	ck_assert(mon->ops->still_valid(mon, &w));
}

static void teardown(void)
{
	mon->ops->unwatch(mon, &w);
	mon->ops->destroy(mon);
	munmap(buf, len);
	kt_assert_all_freed();
}

static void assert_reported(void)
{
	ck_assert_uint_eq(wait_calls(1), 1);
	ck_assert_uint_eq(last_start, w.start);
	ck_assert_uint_eq(last_len, w.len);
	/* exactly once */
	nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
	ck_assert_uint_eq(wait_calls(1), 1);
}

START_TEST(munmap_invalidates)
{
	ck_assert_int_eq(munmap(buf + 2 * page, page), 0);
	/* no window: stale as soon as munmap returned */
	ck_assert(!mon->ops->still_valid(mon, &w));
	assert_reported();
}
END_TEST

START_TEST(madvise_dontneed_invalidates)
{
	ck_assert_int_eq(madvise(buf + 4 * page, page, MADV_DONTNEED), 0);
	ck_assert(!mon->ops->still_valid(mon, &w));
	assert_reported();
}
END_TEST

START_TEST(mremap_invalidates)
{
	/* move onto a reservation of our own so nothing else is clobbered */
	char *to = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
			0);
	char *n;

	ck_assert_ptr_ne(to, MAP_FAILED);
	n = mremap(buf, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, to);
	ck_assert_ptr_eq(n, to);
	ck_assert(!mon->ops->still_valid(mon, &w));
	assert_reported();
	ck_assert_int_eq(n[page], 1);
	buf = n;
}
END_TEST

START_TEST(mprotect_read_only_invalidates)
{
	/* A write registration must not outlive the right to write. */
	ck_assert_int_eq(mprotect(buf, len, PROT_READ), 0);
	ck_assert(!mon->ops->still_valid(mon, &w));
	assert_reported();
}
END_TEST

START_TEST(mprotect_none_of_one_page_invalidates)
{
	ck_assert_int_eq(mprotect(buf + 3 * page, page, PROT_NONE), 0);
	ck_assert(!mon->ops->still_valid(mon, &w));
	assert_reported();
}
END_TEST

START_TEST(added_rights_and_fork_keep_pages)
{
	struct sv_watch ro_w = { 0 };
	char *ro;
	int status;
	pid_t pid;

	/* Rights added to a read-only range take nothing from it. */
	ro = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(ro, MAP_FAILED);
	memset(ro, 2, 4 * page);
	ck_assert_int_eq(mprotect(ro, 4 * page, PROT_READ), 0);
	ro_w.start = (uintptr_t)ro;
	ro_w.len = 4 * page;
	ck_assert_int_eq(mon->ops->watch(mon, &ro_w), 0);
	ck_assert_int_eq(mprotect(ro, 4 * page, PROT_READ | PROT_WRITE), 0);
	ck_assert(mon->ops->still_valid(mon, &ro_w));
	/* Nor does adding exec, or dropping and restoring outside w. */
	ck_assert_int_eq(mprotect(buf, len, PROT_READ | PROT_WRITE | PROT_EXEC),
			 0);
	ck_assert_int_eq(mprotect(buf + 12 * page, page, PROT_READ), 0);
	/* fork write-protects private pages; the parent keeps its rights */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(buf[page] == 1 ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert(mon->ops->still_valid(mon, &w));
	ck_assert(mon->ops->still_valid(mon, &ro_w));
	ck_assert_uint_eq(wait_calls(0), 0);
	/* a change outside the watched range is not reported either */
	ck_assert_int_eq(munmap(buf + 12 * page, page), 0);
	ck_assert(mon->ops->still_valid(mon, &w));
	mon->ops->unwatch(mon, &ro_w);
	munmap(ro, 4 * page);
}
END_TEST

START_TEST(unwatched_range_is_silent)
{
	struct sanverbs_stats s;

	kt_stats(&s);
	ck_assert_uint_eq(s.watches, 1);
	mon->ops->unwatch(mon, &w);
	/* the kernel watch is parked for a later miss on the same range
	 * (monitor/kmod.c), still counted by the module... */
	kt_stats(&s);
	ck_assert_uint_eq(s.watches, 1);
	ck_assert_int_eq(munmap(buf, len), 0);
	buf = mmap(buf, len, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(buf, MAP_FAILED);
	nanosleep(&(struct timespec){ 0, 100 * 1000 * 1000 }, NULL);
	/* ...until the range changes: then it goes, with no report */
	ck_assert_uint_eq(wait_calls(0), 0);
	kt_stats(&s);
	ck_assert_uint_eq(s.watches, 0);
	/* unwatch twice is harmless */
	mon->ops->unwatch(mon, &w);
}
END_TEST

/* Polls the module's watch count for up to 5 s until it is @want. */
static uint64_t wait_watches(uint64_t want)
{
	struct sanverbs_stats s;
	int i;

	for (i = 0; i < 500; i++) {
		kt_stats(&s);
		if (s.watches == want)
			break;
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
	return s.watches;
}

START_TEST(parked_watch_reused_until_change)
{
	struct sv_watch w2;
	uint64_t slot = w.token;
	struct sanverbs_stats s;

	/* unwatch parks the kernel watch; a watch of the same range takes
	 * it back: no new kernel watch */
	mon->ops->unwatch(mon, &w);
	kt_stats(&s);
	ck_assert_uint_eq(s.watches, 1); /* parked, not released */
	memset(&w2, 0, sizeof(w2));
	w2.start = w.start;
	w2.len = w.len;
	ck_assert_int_eq(mon->ops->watch(mon, &w2), 0);
	ck_assert_uint_eq(w2.token, slot);
	ck_assert_uint_eq(wait_watches(1), 1);
	ck_assert(mon->ops->still_valid(mon, &w2));
	/* parked again, then the range changes: the parked watch goes,
	 * with no report (nothing is cached on it) */
	mon->ops->unwatch(mon, &w2);
	ck_assert_int_eq(madvise(buf + page, page, MADV_DONTNEED), 0);
	ck_assert_uint_eq(wait_watches(0), 0);
	ck_assert_uint_eq(wait_calls(0), 0);
	/* so the next watch is a new kernel watch, valid and reporting */
	memset(&w2, 0, sizeof(w2));
	w2.start = w.start;
	w2.len = w.len;
	ck_assert_int_eq(mon->ops->watch(mon, &w2), 0);
	ck_assert_uint_eq(wait_watches(1), 1);
	ck_assert(mon->ops->still_valid(mon, &w2));
	ck_assert_int_eq(munmap(buf + 2 * page, page), 0);
	ck_assert(!mon->ops->still_valid(mon, &w2));
	ck_assert_uint_eq(wait_calls(1), 1);
	ck_assert_uint_eq(last_start, w2.start);
	mon->ops->unwatch(mon, &w2);
}
END_TEST

START_TEST(many_watches_are_independent)
{
	struct sv_watch ws[8];
	int i;

	/* monitor.h: every field but the backend's is the caller's to set */
	memset(ws, 0, sizeof(ws));

	for (i = 0; i < 8; i++) {
		ws[i].start = (uintptr_t)buf + (size_t)(i + 8) * page / 2;
		ws[i].len = page / 2;
		ck_assert_int_eq(mon->ops->watch(mon, &ws[i]), 0);
	}
	ck_assert_int_eq(madvise(buf + 6 * page, page, MADV_DONTNEED), 0);
	for (i = 0; i < 8; i++) {
		int hit = (size_t)(i + 8) * page / 2 >= 6 * page &&
			  (size_t)(i + 8) * page / 2 < 7 * page;

		ck_assert_int_eq(mon->ops->still_valid(mon, &ws[i]), !hit);
	}
	ck_assert_uint_eq(wait_calls(2), 2);
	for (i = 0; i < 8; i++)
		mon->ops->unwatch(mon, &ws[i]);
	ck_assert(mon->ops->still_valid(mon, &w));
}
END_TEST

START_TEST(hole_cannot_be_watched)
{
	struct sv_watch h = { 0 };
	struct sanverbs_stats s;

	ck_assert_int_eq(munmap(buf + 8 * page, page), 0);
	h.start = (uintptr_t)buf + 7 * page;
	h.len = 3 * page;
	ck_assert_int_eq(mon->ops->watch(mon, &h), -EFAULT);
	kt_stats(&s);
	ck_assert_uint_eq(s.watches, 1); /* only the fixture's */
	h.start = (uintptr_t)buf + 8 * page;
	h.len = 1;
	ck_assert_int_eq(mon->ops->watch(mon, &h), -EFAULT);
	ck_assert(mon->ops->still_valid(mon, &w));
}
END_TEST

/* A pinned THP split by fork() (copy_huge_pmd -> __split_huge_pmd: the
 * same event and range as a zap of the block) keeps the watch valid once
 * the module compared the pages; a zap of a PMD-mapped block does not. */
START_TEST(thp_split_is_not_a_change)
{
	const size_t huge = 2u << 20;
	char *raw = mmap(NULL, 4 * huge, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sanverbs_pin pin = { 0 };
	struct sv_watch w1 = { 0 }, w2 = { 0 };
	char *b1, *b2;
	int fd, status;
	pid_t pid;

	ck_assert_ptr_ne(raw, MAP_FAILED);
	b1 = (char *)(((uintptr_t)raw + huge - 1) & ~(uintptr_t)(huge - 1));
	b2 = b1 + huge;
	ck_assert_int_eq(madvise(b1, 2 * huge, MADV_HUGEPAGE), 0);
	memset(b1, 3, 2 * huge);
	/* the split only happens for pages fork cannot share: pinned */
	fd = kt_open();
	pin.addr = (uintptr_t)b1;
	pin.len = 2 * huge;
	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_PIN, &pin), 0);
	w1.start = (uintptr_t)b1 + 16 * page;
	w1.len = 32 * page;
	w2.start = (uintptr_t)b2;
	w2.len = huge;
	ck_assert_int_eq(mon->ops->watch(mon, &w1), 0);
	ck_assert_int_eq(mon->ops->watch(mon, &w2), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(mon->ops->still_valid(mon, &w1));
	ck_assert(mon->ops->still_valid(mon, &w2));
	nanosleep(&(struct timespec){ 0, 200 * 1000 * 1000 }, NULL);
	ck_assert_uint_eq(wait_calls(0), 0);

	/* b2 was split too; b1 is PTE-mapped now as well. A zap of b1's
	 * watched part is a change. */
	ck_assert_int_eq(madvise((char *)w1.start, page, MADV_DONTNEED), 0);
	ck_assert(!mon->ops->still_valid(mon, &w1));
	ck_assert_uint_eq(wait_calls(1), 1);
	ck_assert_uint_eq(last_start, w1.start);
	mon->ops->unwatch(mon, &w1);
	mon->ops->unwatch(mon, &w2);
	close(fd);
	munmap(raw, 4 * huge);
}
END_TEST

START_TEST(revalidate_refuses)
{
	struct sanverbs_mon_init mi = { .slots = 4 };
	struct sanverbs_watch wa = { 0 };
	struct sanverbs_revalidate rv = { 0 };
	int fd = kt_open();

	/* no monitor on this file yet */
	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_REVALIDATE, &rv), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_MON_INIT, &mi), 0);
	wa.addr = (uintptr_t)buf;
	wa.len = len;
	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_WATCH, &wa), 0);
	rv.slot = wa.slot;
	rv.gen = wa.gen;
	rv.reserved = 1;
	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_REVALIDATE, &rv), -1);
	ck_assert_int_eq(errno, EINVAL);
	rv.reserved = 0;
	rv.slot = 4;
	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_REVALIDATE, &rv), -1);
	ck_assert_int_eq(errno, EINVAL);
	rv.slot = wa.slot == 0 ? 1 : 0; /* not watched */
	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_REVALIDATE, &rv), -1);
	ck_assert_int_eq(errno, EINVAL);
	/* nothing happened, and a plain zap is no split */
	rv.slot = wa.slot;
	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_REVALIDATE, &rv), -1);
	ck_assert_int_eq(errno, ESTALE);
	ck_assert_int_eq(madvise(buf, page, MADV_DONTNEED), 0);
	rv.gen = wa.gen + 1;
	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_REVALIDATE, &rv), -1);
	ck_assert_int_eq(errno, ESTALE);
	close(fd);
}
END_TEST

/* Waits up to 5 s for *@a or *@b to be set; true if one was. */
static bool wait_either(atomic_int *a, atomic_int *b)
{
	int i;

	for (i = 0; i < 5000; i++) {
		if (atomic_load(a) || atomic_load(b))
			return true;
		usleep(1000);
	}
	return false;
}

/*
 * The sink reports a range, not a watch. If the event thread let go of
 * every lock between deciding to report a change and calling the sink, a
 * lookup could meet the moved generation meanwhile, drop the entry, and
 * put a fresh one over the same range, watched after the change; the late
 * sink then killed that one (test-cache-fork-kmod's unprivileged child
 * lost its next hit). Here the test's lock is the cache's: held, like a
 * lookup's, from the failed still_valid() to the new watch, and the event
 * thread must decide and report under it, so the report comes before the
 * replacement or not at all.
 */
START_TEST(late_report_spares_new_watch)
{
	struct sv_watch w2;

	mon->lock = batch_lock;
	mon->unlock = batch_unlock;
	pthread_mutex_lock(&cache_lock);
	ck_assert_int_eq(madvise(buf + 2 * page, page, MADV_DONTNEED), 0);
	/* the event thread is at the lock, or past its decision */
	ck_assert(wait_either(&batch_wanted, &sink_waiting));
	ck_assert(!mon->ops->still_valid(mon, &w));
	mon->ops->unwatch(mon, &w);
	w2 = w;
	ck_assert_int_eq(mon->ops->watch(mon, &w2), 0);
	replaced = true;
	pthread_mutex_unlock(&cache_lock);
	/* its batch is over, or its late report made */
	ck_assert(wait_either(&batches_done, &sinks_done));
	pthread_mutex_lock(&cache_lock);
	ck_assert_uint_eq(late, 0);
	ck_assert_uint_eq(calls, 0);
	ck_assert(mon->ops->still_valid(mon, &w2));
	pthread_mutex_unlock(&cache_lock);
	mon->ops->unwatch(mon, &w2);
}
END_TEST

START_TEST(cache_uses_kmod_monitor)
{
	struct sanverbs_ctx_attr attr;
	struct sanverbs_cache_stats cs;
	struct sanverbs_mr *mr, *dst_mr;
	struct sanverbs_ctx *ctx;
	struct sv_qp_pair pair;
	size_t blen = 64 * page;
	char *b, *dst;

	ck_assert_int_eq(sanverbs_ctx_attr_init(&attr), 0);
	attr.monitor = SANVERBS_MONITOR_KMOD;
	attr.device = getenv("SANVERBS_RXE_DEV");
	ck_assert_int_eq(sanverbs_ctx_open(&attr, &ctx), 0);
	ck_assert_int_eq(sv_qp_pair_create(ctx, &pair), 0);
	ck_assert_int_eq(sanverbs_cache_stats(ctx, &cs), 0);
	ck_assert_int_eq(cs.monitor, SANVERBS_MONITOR_KMOD);

	dst = malloc(blen);
	ck_assert_ptr_nonnull(dst);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, dst, blen,
					 SANVERBS_ACCESS_REMOTE_WRITE, &dst_mr),
			 0);
	/* unmapped and mapped again in place below: under ASan away from
	 * the mmap area, whose hole ASan's block for the monitor thread's
	 * first TLS access may take (sv_test_map(NULL, )) */
	b = sv_test_map(NULL, blen, MAP_PRIVATE);
	sv_fill_pattern(b, blen, 31);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, b, blen,
					 SANVERBS_ACCESS_LOCAL_WRITE, &mr),
			 0);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, b, blen,
					 SANVERBS_ACCESS_LOCAL_WRITE, &mr),
			 0);
	ck_assert_int_eq(sanverbs_cache_stats(ctx, &cs), 0);
	ck_assert_uint_eq(cs.hits, 1);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);

	/* new pages at the same address: the cached pin is stale */
	ck_assert_int_eq(munmap(b, blen), 0);
	ck_assert_ptr_eq(mmap(b, blen, PROT_READ | PROT_WRITE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0),
			 b);
	sv_fill_pattern(b, blen, 32);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, b, blen,
					 SANVERBS_ACCESS_LOCAL_WRITE, &mr),
			 0);
	ck_assert_int_eq(sanverbs_cache_stats(ctx, &cs), 0);
	ck_assert_uint_eq(cs.hits, 1);
	ck_assert_uint_ge(cs.invalidations, 1);
	memset(dst, 0, blen);
	ck_assert_int_eq(sv_rdma_write(&pair, b, sanverbs_mr_lkey(mr), blen,
				       (uintptr_t)dst,
				       sanverbs_mr_rkey(dst_mr)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(dst, blen, 32), -1);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(dst_mr), 0);
	sv_qp_pair_destroy(&pair);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
	munmap(b, blen);
	free(dst);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod-monitor");
	TCase *tc = tcase_create("kmod");

	kt_require_kmod();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, munmap_invalidates);
	tcase_add_test(tc, madvise_dontneed_invalidates);
	tcase_add_test(tc, mremap_invalidates);
	tcase_add_test(tc, mprotect_read_only_invalidates);
	tcase_add_test(tc, mprotect_none_of_one_page_invalidates);
	tcase_add_test(tc, added_rights_and_fork_keep_pages);
	tcase_add_test(tc, unwatched_range_is_silent);
	tcase_add_test(tc, parked_watch_reused_until_change);
	tcase_add_test(tc, many_watches_are_independent);
	tcase_add_test(tc, hole_cannot_be_watched);
	tcase_add_test(tc, thp_split_is_not_a_change);
	tcase_add_test(tc, revalidate_refuses);
	tcase_add_test(tc, late_report_spares_new_watch);
	tcase_add_test(tc, cache_uses_kmod_monitor);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
