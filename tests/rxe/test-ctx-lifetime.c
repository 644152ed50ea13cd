/* SPDX-License-Identifier: MIT */
/* Description: a context and its handles over their lifetime, on rxe.
 * In a child of fork() every call through the parent's context or handles
 * is -ECHILD and changes nothing: afterwards the parent's registration
 * still takes an RDMA WRITE and deregisters. A second deregistration (or
 * unsecure) is -EINVAL and never puts a handle on the spare list twice:
 * two later registrations get two handles and each takes its own bytes.
 * sanverbs_ctx_close() is -EBUSY while a registration, a pinned MDL or a
 * pool made through the context is held (they stay usable), also when
 * registrations are taken on one thread and released on another, when
 * a held registration's memory went away or it was never cached, and
 * once it is closed every call through the context or its old handles is
 * -EINVAL, never a use-after-free. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sv-test.h"

#define LEN (64u << 10)

static uint8_t *map(void)
{
	void *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

/* RDMA-writes pattern @seed from @src into @dst through @mr's rkey and
 * checks every byte landed. */
static void write_lands(struct sv_qp_pair *qp, uint8_t *src,
			struct sanverbs_mr *src_mr, uint8_t *dst,
			struct sanverbs_mr *mr, uint32_t seed)
{
	memset(dst, 0, LEN);
	sv_fill_pattern(src, LEN, seed);
	ck_assert_int_eq(sv_rdma_write(qp, src, sanverbs_mr_lkey(src_mr), LEN,
				       (uintptr_t)dst, sanverbs_mr_rkey(mr)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(dst, LEN, seed), -1);
}

/* Child side; the exit status is the failing step. */
static int child(struct sanverbs_ctx *ctx, struct sanverbs_mr *mr,
		 uint8_t *buf)
{
	struct sanverbs_secure *sec;
	struct sanverbs_pool *pool;
	struct sanverbs_mdl *mdl;
	struct sanverbs_mr *other;

	if (sanverbs_mr_dereg(mr) != -ECHILD)
		return 2;
	if (sanverbs_mr_reg(ctx, buf, LEN, SANVERBS_ACCESS_LOCAL_WRITE,
			    &other) != -ECHILD || other)
		return 3;
	if (sanverbs_cache_invalidate(ctx, buf, LEN) != -ECHILD ||
	    sanverbs_cache_flush(ctx) != -ECHILD)
		return 4;
	if (sanverbs_secure_memory(ctx, buf, LEN, &sec) != -ECHILD)
		return 5;
	if (sanverbs_pool_create(ctx, LEN, 0, &pool) != -ECHILD ||
	    sanverbs_mdl_create(ctx, buf, LEN, &mdl) != -ECHILD)
		return 6;
	if (sanverbs_mr_lkey(mr) != 0 || sanverbs_ctx_pd(ctx) != NULL)
		return 7;
	if (sanverbs_ctx_close(ctx) != -ECHILD)
		return 8;
	return 0;
}

START_TEST(fork_child_changes_nothing)
{
	struct sanverbs_ctx *ctx = sv_test_ctx_open();
	struct sanverbs_mr *mr, *src_mr;
	uint8_t *buf = map(), *src = map();
	struct sanverbs_cache_stats s0, s1;
	struct sv_qp_pair qp;
	pid_t pid;
	int st;

	ck_assert_int_eq(sv_qp_pair_create(ctx, &qp), 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, src, LEN,
					 SANVERBS_ACCESS_LOCAL_WRITE, &src_mr), 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, buf, LEN,
					 SANVERBS_ACCESS_REMOTE_WRITE, &mr), 0);
	ck_assert_int_eq(sanverbs_cache_stats(ctx, &s0), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(child(ctx, mr, buf));
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		      "child failed at step %d (status %#x)", WEXITSTATUS(st),
		      st);
	/* the parent's registration and cache are as they were */
	ck_assert_int_eq(sanverbs_cache_stats(ctx, &s1), 0);
	ck_assert_uint_eq(s1.entries, s0.entries);
	write_lands(&qp, src, src_mr, buf, mr, 11);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(src_mr), 0);
	sv_qp_pair_destroy(&qp);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
	munmap(buf, LEN);
	munmap(src, LEN);
}
END_TEST

START_TEST(double_dereg_refused)
{
	struct sanverbs_ctx *ctx = sv_test_ctx_open();
	struct sanverbs_mr *mr, *a, *b, *src_mr;
	uint8_t *p = map(), *q = map(), *src = map();
	struct sanverbs_secure *sec;
	struct sv_qp_pair qp;

	ck_assert_int_eq(sv_qp_pair_create(ctx, &qp), 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, src, LEN,
					 SANVERBS_ACCESS_LOCAL_WRITE, &src_mr), 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, p, LEN,
					 SANVERBS_ACCESS_LOCAL_WRITE, &mr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), -EINVAL);
	ck_assert_uint_eq(sanverbs_mr_lkey(mr), 0);
	ck_assert_ptr_null(sanverbs_mr_addr(mr));

	/* Two registrations now, one of them a cache hit: two handles,
	 * each with its own keys. */
	ck_assert_int_eq(sanverbs_mr_reg(ctx, p, LEN,
					 SANVERBS_ACCESS_REMOTE_WRITE, &a), 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, q, LEN,
					 SANVERBS_ACCESS_REMOTE_WRITE, &b), 0);
	ck_assert_ptr_ne(a, b);
	ck_assert_ptr_eq(sanverbs_mr_addr(a), p);
	ck_assert_ptr_eq(sanverbs_mr_addr(b), q);
	write_lands(&qp, src, src_mr, p, a, 21);
	write_lands(&qp, src, src_mr, q, b, 22);
	ck_assert_int_eq(sanverbs_mr_dereg(a), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(b), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(b), -EINVAL);

	ck_assert_int_eq(sanverbs_secure_memory(ctx, p, LEN, &sec), 0);
	ck_assert_int_eq(sanverbs_unsecure_memory(sec), 0);
	ck_assert_int_eq(sanverbs_unsecure_memory(sec), -EINVAL);

	ck_assert_int_eq(sanverbs_mr_dereg(src_mr), 0);
	sv_qp_pair_destroy(&qp);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
	munmap(p, LEN);
	munmap(q, LEN);
	munmap(src, LEN);
}
END_TEST

START_TEST(close_busy_then_refused)
{
	struct sanverbs_ctx *ctx = sv_test_ctx_open();
	struct sanverbs_mr *mr, *src_mr, *late;
	uint8_t *buf = map(), *src = map();
	struct sanverbs_secure *sec;
	struct sanverbs_pool *pool;
	struct sanverbs_mdl *mdl;
	struct sv_qp_pair qp;

	ck_assert_int_eq(sv_qp_pair_create(ctx, &qp), 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, src, LEN,
					 SANVERBS_ACCESS_LOCAL_WRITE, &src_mr), 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, buf, LEN,
					 SANVERBS_ACCESS_REMOTE_WRITE, &mr), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), -EBUSY);
	/* refused, not half done: the registration still takes bytes */
	write_lands(&qp, src, src_mr, buf, mr, 31);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(src_mr), 0);

	ck_assert_int_eq(sanverbs_secure_memory(ctx, buf, LEN, &sec), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), -EBUSY);
	ck_assert_int_eq(sanverbs_unsecure_memory(sec), 0);

	ck_assert_int_eq(sanverbs_mdl_create(ctx, buf, LEN, &mdl), 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(mdl,
						     SANVERBS_IO_WRITE_ACCESS), 0);
	ck_assert_uint_ne(sanverbs_mdl_lkey(mdl), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), -EBUSY);
	ck_assert_int_eq(sanverbs_mdl_unlock(mdl), 0);
	ck_assert_int_eq(sanverbs_mdl_free(mdl), 0);

	ck_assert_int_eq(sanverbs_pool_create(ctx, LEN, 0, &pool), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), -EBUSY);
	ck_assert_int_eq(sanverbs_pool_destroy(pool), 0);

	sv_qp_pair_destroy(&qp);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
	/* closed: every call through it, or its old handles, is refused */
	ck_assert_int_eq(sanverbs_ctx_close(ctx), -EINVAL);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, buf, LEN,
					 SANVERBS_ACCESS_LOCAL_WRITE, &late),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_cache_flush(ctx), -EINVAL);
	ck_assert_int_eq(sanverbs_unsecure_memory(sec), -EINVAL);
	ck_assert_int_eq(sanverbs_secure_memory(ctx, buf, LEN, &sec), -EINVAL);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), -EINVAL);
	ck_assert_ptr_null(sanverbs_ctx_pd(ctx));
	munmap(buf, LEN);
	munmap(src, LEN);
}
END_TEST

/* Each of 3 threads registers what the next one releases. */
struct handoff {
	struct sanverbs_ctx *ctx;
	uint8_t *buf;
	struct sanverbs_mr *take, **give;
};

static void *handoff_run(void *arg)
{
	struct handoff *h = arg;
	int ret;

	ret = sanverbs_mr_reg(h->ctx, h->buf, LEN, SANVERBS_ACCESS_LOCAL_WRITE,
			      h->give);
	if (!ret && h->take)
		ret = sanverbs_mr_dereg(h->take);
	return (void *)(intptr_t)ret;
}

/* The context counts its open handles per thread: a registration dropped
 * by another thread than took it must still balance, and one still held
 * on any thread must keep the context busy. */
START_TEST(close_counts_every_thread)
{
	struct sanverbs_ctx *ctx = sv_test_ctx_open();
	struct sanverbs_mr *mr[3] = { NULL, NULL, NULL };
	struct handoff h[3];
	uint8_t *buf = map();
	pthread_t t;
	void *ret;
	int i;

	for (i = 0; i < 3; i++) {
		h[i] = (struct handoff){ ctx, buf, i ? mr[i - 1] : NULL,
					 &mr[i] };
		ck_assert_int_eq(pthread_create(&t, NULL, handoff_run, &h[i]),
				 0);
		ck_assert_int_eq(pthread_join(t, &ret), 0);
		ck_assert_int_eq((intptr_t)ret, 0);
		/* the last one taken is held */
		ck_assert_int_eq(sanverbs_ctx_close(ctx), -EBUSY);
	}
	ck_assert_int_eq(sanverbs_mr_dereg(mr[2]), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
	munmap(buf, LEN);
}
END_TEST

/* Registrations are counted by the cache, not the context: one whose
 * entry was invalidated under it (its range unmapped) and one that was
 * never cached (bigger than the cache may hold) keep the context busy
 * just as a cached one does. */
START_TEST(close_counts_invalidated_and_uncached)
{
	struct sanverbs_ctx *ctx;
	struct sanverbs_mr *gone, *big;
	uint8_t *buf = map(), *large;

	ck_assert_int_eq(setenv("SANVERBS_CACHE_MAX_BYTES", "65536", 1), 0);
	ctx = sv_test_ctx_open();
	ck_assert_int_eq(unsetenv("SANVERBS_CACHE_MAX_BYTES"), 0);
	large = mmap(NULL, 2 * LEN, PROT_READ | PROT_WRITE,
		     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(large, MAP_FAILED);
	memset(large, 1, 2 * LEN);
	memset(buf, 1, LEN);

	ck_assert_int_eq(sanverbs_mr_reg(ctx, buf, LEN,
					 SANVERBS_ACCESS_LOCAL_WRITE, &gone), 0);
	/* a second sight, so that a cache admitting at the second is
	 * holding an entry now */
	ck_assert_int_eq(sanverbs_mr_dereg(gone), 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, buf, LEN,
					 SANVERBS_ACCESS_LOCAL_WRITE, &gone), 0);
	ck_assert_int_eq(munmap(buf, LEN), 0);
	ck_assert_int_eq(sanverbs_cache_flush(ctx), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), -EBUSY);
	ck_assert_int_eq(sanverbs_mr_dereg(gone), 0);

	ck_assert_int_eq(sanverbs_mr_reg(ctx, large, 2 * LEN,
					 SANVERBS_ACCESS_LOCAL_WRITE, &big), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), -EBUSY);
	ck_assert_int_eq(sanverbs_mr_dereg(big), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
	munmap(large, 2 * LEN);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctx-lifetime");
	TCase *tc = tcase_create("rxe");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, fork_child_changes_nothing);
	tcase_add_test(tc, double_dereg_refused);
	tcase_add_test(tc, close_busy_then_refused);
	tcase_add_test(tc, close_counts_every_thread);
	tcase_add_test(tc, close_counts_invalidated_and_uncached);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
