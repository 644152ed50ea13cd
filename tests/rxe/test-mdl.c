/* SPDX-License-Identifier: MIT */
/* Description: MDLs with real bytes on rxe. A peer QP RDMA-writes into a
 * pool buffer that an MDL locked, and every byte is read back through the
 * MDL's system address (also after the application unmapped the buffer,
 * and through a NoWrite alias); bytes written through the system address
 * are RDMA-read by the peer. An MDL tied to the ctx pins its pages: after
 * the application unmaps the buffer, the HCA still reads the locked pages
 * through the MDL's lkey. An RDMA write into an MDL-locked malloc buffer
 * lands, and its system address is -EOPNOTSUPP without /dev/sanverbs (or
 * shows the bytes when the module is there). */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sv-test.h"

#define LEN (64 * 1024 + 333) /* not page-aligned on purpose */

static struct sanverbs_ctx *ctx;
static struct sv_qp_pair pair;
static uint8_t *peer; /* the peer's own buffer */
static struct sanverbs_mr *peer_mr;
static struct sanverbs_pool *pool;
static long ps;

static void setup(void)
{
	ps = sysconf(_SC_PAGESIZE);
	ctx = sv_test_ctx_open();
	ck_assert_int_eq(sv_qp_pair_create(ctx, &pair), 0);
	peer = malloc(LEN);
	ck_assert_ptr_nonnull(peer);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, peer, LEN,
					 SANVERBS_ACCESS_REMOTE_WRITE |
						 SANVERBS_ACCESS_REMOTE_READ,
					 &peer_mr),
			 0);
	ck_assert_int_eq(sanverbs_pool_create(ctx, 4 * LEN,
					      SANVERBS_ACCESS_REMOTE_WRITE |
						      SANVERBS_ACCESS_REMOTE_READ,
					      &pool),
			 0);
	ck_assert_uint_ne(sanverbs_pool_rkey(pool), 0);
}

static void teardown(void)
{
	ck_assert_int_eq(sanverbs_pool_destroy(pool), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(peer_mr), 0);
	sv_qp_pair_destroy(&pair);
	free(peer);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
}

static struct sanverbs_mdl *lock_mdl(struct sanverbs_ctx *c, void *addr,
				     size_t len, enum sanverbs_lock_op op)
{
	struct sanverbs_mdl *m;

	ck_assert_int_eq(sanverbs_mdl_create(c, addr, len, &m), 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m, op), 0);
	return m;
}

START_TEST(rdma_write_seen_through_sysaddr)
{
	uint8_t *buf, *dst, *sys, *ro;
	struct sanverbs_mdl *m;

	ck_assert_int_eq(sanverbs_pool_alloc(pool, LEN + 64, (void **)&buf), 0);
	dst = buf + 64;
	memset(buf, 0xee, LEN + 64);
	m = lock_mdl(NULL, dst, LEN, SANVERBS_IO_WRITE_ACCESS);
	ck_assert_int_eq(sanverbs_mdl_system_address(
				 m, SANVERBS_PAGE_PRIORITY_NORMAL |
					    SANVERBS_MAPPING_NO_EXECUTE,
				 (void **)&sys),
			 0);
	ck_assert_ptr_ne(sys, dst);

	/* the peer writes into the locked buffer through the pool rkey */
	sv_fill_pattern(peer, LEN, 41);
	ck_assert_int_eq(sv_rdma_write(&pair, peer, sanverbs_mr_lkey(peer_mr),
				       LEN, (uintptr_t)dst,
				       sanverbs_pool_rkey(pool)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(sys, LEN, 41), -1);
	ck_assert_int_eq(sv_check_pattern(dst, LEN, 41), -1);
	ck_assert_int_eq(sys[-1], 0xee); /* byte before the MDL untouched */

	/* a partial MDL with a NoWrite system address sees the same bytes */
	{
		struct sanverbs_mdl *part;

		ck_assert_int_eq(sanverbs_mdl_build_partial(m, dst + 5000,
							    LEN - 5000, &part),
				 0);
		ck_assert_int_eq(sanverbs_mdl_system_address(
					 part, SANVERBS_PAGE_PRIORITY_HIGH |
						       SANVERBS_MAPPING_NO_WRITE,
					 (void **)&ro),
				 0);
		ck_assert_int_eq(memcmp(ro, sys + 5000, LEN - 5000), 0);
		ck_assert_int_eq(sanverbs_mdl_free(part), 0);
	}

	/* the application unmaps its view; the peer writes again (the pool
	 * registration pins the pages) and the alias still shows it all */
	ck_assert_int_eq(munmap(buf, ((LEN + 64 + ps - 1) / ps) * ps), 0);
	sv_fill_pattern(peer, LEN, 42);
	ck_assert_int_eq(sv_rdma_write(&pair, peer, sanverbs_mr_lkey(peer_mr),
				       LEN, (uintptr_t)dst,
				       sanverbs_pool_rkey(pool)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(sys, LEN, 42), -1);

	/* bytes written through the system address reach the peer */
	sv_fill_pattern(sys, LEN, 43);
	memset(peer, 0, LEN);
	ck_assert_int_eq(sv_rdma_read(&pair, peer, sanverbs_mr_lkey(peer_mr),
				      LEN, (uintptr_t)dst,
				      sanverbs_pool_rkey(pool)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(peer, LEN, 43), -1);

	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
	ck_assert_int_eq(sanverbs_pool_free(pool, buf), 0);
	/* keep the hole ours until the pool unmaps its range */
	ck_assert_ptr_ne(mmap(buf, ((LEN + 64 + ps - 1) / ps) * ps, PROT_NONE,
			      MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE,
			      -1, 0),
			 MAP_FAILED);
}
END_TEST

START_TEST(ctx_pin_outlives_munmap)
{
	size_t span = ((LEN + ps - 1) / ps) * ps;
	uint8_t *buf = mmap(NULL, span, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sanverbs_mdl *m;

	ck_assert_ptr_ne(buf, MAP_FAILED);
	sv_fill_pattern(buf, LEN, 51);
	m = lock_mdl(ctx, buf, LEN, SANVERBS_IO_READ_ACCESS);
	ck_assert(sanverbs_mdl_flags(m) & SANVERBS_MDL_PINNED);
	ck_assert_uint_ne(sanverbs_mdl_lkey(m), 0);
	/* the physical pages stay locked even without the virtual range
	 * (seed 002): the HCA reads them through the MDL's pin */
	ck_assert_int_eq(munmap(buf, span), 0);
	memset(peer, 0, LEN);
	ck_assert_int_eq(sv_rdma_write(&pair, buf, sanverbs_mdl_lkey(m), LEN,
				       (uintptr_t)peer,
				       sanverbs_mr_rkey(peer_mr)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(peer, LEN, 51), -1);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_uint_eq(sanverbs_mdl_lkey(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
}
END_TEST

START_TEST(ctx_pin_read_only_mapping)
{
	uint8_t *buf = mmap(NULL, 2 * ps, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	struct sanverbs_mdl *m;

	ck_assert_ptr_ne(buf, MAP_FAILED);
	sv_fill_pattern(buf, 2 * ps, 61);
	ck_assert_int_eq(mprotect(buf, 2 * ps, PROT_READ), 0);
	ck_assert_int_eq(sanverbs_mdl_create(ctx, buf, 2 * ps, &m), 0);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m,
						     SANVERBS_IO_WRITE_ACCESS),
			 -EACCES);
	ck_assert_int_eq(sanverbs_mdl_probe_and_lock(m,
						     SANVERBS_IO_READ_ACCESS),
			 0);
	memset(peer, 0, 2 * ps);
	ck_assert_int_eq(sv_rdma_write(&pair, buf, sanverbs_mdl_lkey(m),
				       2 * ps, (uintptr_t)peer,
				       sanverbs_mr_rkey(peer_mr)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(peer, 2 * ps, 61), -1);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
	munmap(buf, 2 * ps);
}
END_TEST

START_TEST(rdma_into_locked_malloc_buffer)
{
	uint8_t *buf = malloc(LEN), *sys = (uint8_t *)1;
	struct sanverbs_mdl *m;
	struct sanverbs_mr *mr;
	int ret;

	ck_assert_ptr_nonnull(buf);
	memset(buf, 0, LEN);
	m = lock_mdl(NULL, buf, LEN, SANVERBS_IO_MODIFY_ACCESS);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, buf, LEN,
					 SANVERBS_ACCESS_REMOTE_WRITE |
						 SANVERBS_ACCESS_REMOTE_READ,
					 &mr),
			 0);
	sv_fill_pattern(peer, LEN, 71);
	ck_assert_int_eq(sv_rdma_write(&pair, peer, sanverbs_mr_lkey(peer_mr),
				       LEN, (uintptr_t)buf,
				       sanverbs_mr_rkey(mr)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(buf, LEN, 71), -1);
	ret = sanverbs_mdl_system_address(m, SANVERBS_PAGE_PRIORITY_HIGH,
					  (void **)&sys);
	if (access("/dev/sanverbs", F_OK) == 0) {
		ck_assert_int_eq(ret, 0);
		ck_assert_int_eq(sv_check_pattern(sys, LEN, 71), -1);
		/* the same pages, not a copy: a store through the alias
		 * is what the peer reads from the buffer */
		sv_fill_pattern(sys, LEN, 72);
		memset(peer, 0, LEN);
		ck_assert_int_eq(sv_rdma_read(&pair, peer,
					      sanverbs_mr_lkey(peer_mr), LEN,
					      (uintptr_t)buf,
					      sanverbs_mr_rkey(mr)),
				 IBV_WC_SUCCESS);
		ck_assert_int_eq(sv_check_pattern(peer, LEN, 72), -1);
	} else {
		ck_assert_int_eq(ret, -EOPNOTSUPP);
		ck_assert_ptr_null(sys);
	}
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	ck_assert_int_eq(sanverbs_mdl_unlock(m), 0);
	ck_assert_int_eq(sanverbs_mdl_free(m), 0);
	free(buf);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("mdl-rxe");
	TCase *tc = tcase_create("rxe");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, rdma_write_seen_through_sysaddr);
	tcase_add_test(tc, ctx_pin_outlives_munmap);
	tcase_add_test(tc, ctx_pin_read_only_mapping);
	tcase_add_test(tc, rdma_into_locked_malloc_buffer);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
