/* SPDX-License-Identifier: MIT */
/* Description: system-address mappings (MmGetSystemAddressForMdlSafe via
 * /dev/sanverbs). A peer QP RDMA-writes into an application buffer; its
 * alias, made from pinned pages, shows every byte, still does after the
 * application unmapped its own address, and writes through a writable alias
 * reach the application's pages. A NoWrite alias refuses writes (SIGSEGV,
 * mprotect EACCES), no alias is ever executable, and unmapping the alias
 * unpins everything. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmod-test.h"
#include "kmod_client.h"
#include "sv-test.h"

#define LEN (1024 * 1024 + 300)
#define OFF 123 /* the buffer starts mid-page on purpose */

static struct sv_kmod *k;
static size_t page, maplen;
static uint8_t *map;

static void setup(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	ck_assert_int_eq(sv_kmod_open(&k), 0);
	maplen = (OFF + LEN + page - 1) / page * page;
	map = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
}

static void teardown(void)
{
	munmap(map, maplen);
	sv_kmod_close(k);
	kt_assert_all_freed();
}

START_TEST(alias_survives_app_munmap)
{
	struct sanverbs_ctx *ctx = sv_test_ctx_open();
	struct sanverbs_mr *src_mr, *dst_mr;
	struct sv_qp_pair pair;
	struct sanverbs_stats s;
	uint8_t *src = malloc(LEN), *alias;
	uint64_t h;

	ck_assert_ptr_nonnull(src);
	ck_assert_int_eq(sv_qp_pair_create(ctx, &pair), 0);
	sv_fill_pattern(src, LEN, 21);
	memset(map, 0, maplen);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, src, LEN,
					 SANVERBS_ACCESS_LOCAL_WRITE, &src_mr),
			 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, map + OFF, LEN,
					 SANVERBS_ACCESS_REMOTE_WRITE, &dst_mr),
			 0);
	ck_assert_int_eq(sv_kmod_sysaddr_map(k, map + OFF, LEN, 0,
					     (void **)&alias, &h),
			 0);
	ck_assert_ptr_ne(alias, map + OFF);
	ck_assert_uint_eq((uintptr_t)alias % page, OFF);
	kt_stats(&s);
	ck_assert_uint_eq(s.pin_objects, 1);
	ck_assert_uint_eq(s.pin_pages, maplen / page);

	ck_assert_int_eq(sv_rdma_write(&pair, src, sanverbs_mr_lkey(src_mr),
				       LEN, (uintptr_t)(map + OFF),
				       sanverbs_mr_rkey(dst_mr)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(alias, LEN, 21), -1);
	/* writes through the alias land in the application's pages */
	alias[0] ^= 0xff;
	ck_assert_int_eq(map[OFF], alias[0]);
	alias[0] ^= 0xff;

	ck_assert_int_eq(sanverbs_mr_dereg(dst_mr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(src_mr), 0);
	sv_qp_pair_destroy(&pair);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);

	/* the application lets go of its address; the alias stays */
	ck_assert_int_eq(munmap(map, maplen), 0);
	map = mmap(NULL, maplen, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	memset(map, 0x11, maplen); /* recycle the memory meanwhile */
	ck_assert_int_eq(sv_check_pattern(alias, LEN, 21), -1);

	ck_assert_int_eq(sv_kmod_sysaddr_unmap(k, alias, h), 0);
	kt_assert_all_freed();
	free(src);
}
END_TEST

START_TEST(nowrite_alias_refuses_writes)
{
	uint8_t *alias;
	uint64_t h;
	int status;
	pid_t pid;

	memset(map, 0x5c, maplen);
	ck_assert_int_eq(sv_kmod_sysaddr_map(k, map + OFF, LEN,
					     SV_KMOD_MAP_NOWRITE,
					     (void **)&alias, &h),
			 0);
	ck_assert_int_eq(alias[0], 0x5c);
	ck_assert_int_eq(alias[LEN - 1], 0x5c);
	map[OFF + 10] = 0x77; /* the alias sees later changes too */
	ck_assert_int_eq(alias[10], 0x77);
	errno = 0;
	ck_assert_int_eq(mprotect(alias - OFF, page, PROT_READ | PROT_WRITE),
			 -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(mprotect(alias - OFF, page, PROT_READ | PROT_EXEC),
			 -1);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* ASan's SIGSEGV handler would turn the fault into exit 1 */
		signal(SIGSEGV, SIG_DFL);
		/* not inherited either: fault on read, write or both */
		alias[0] = 1;
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	ck_assert_int_eq(sv_kmod_sysaddr_unmap(k, alias, h), 0);
}
END_TEST

START_TEST(writable_alias_never_executable)
{
	uint8_t *alias;
	uint64_t h;

	ck_assert_int_eq(sv_kmod_sysaddr_map(k, map, page, 0, (void **)&alias,
					     &h),
			 0);
	errno = 0;
	ck_assert_int_eq(mprotect(alias, page, PROT_READ | PROT_EXEC), -1);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_int_eq(sv_kmod_sysaddr_unmap(k, alias, h), 0);
}
END_TEST

START_TEST(bad_arguments)
{
	void *alias = NULL;
	uint64_t h;

	ck_assert_int_eq(sv_kmod_sysaddr_map(k, NULL, 10, 0, &alias, &h),
			 -EINVAL);
	ck_assert_int_eq(sv_kmod_sysaddr_map(k, map, 0, 0, &alias, &h),
			 -EINVAL);
	ck_assert_int_eq(sv_kmod_sysaddr_map(k, map, 10, 0x8, &alias, &h),
			 -EINVAL);
	ck_assert_int_eq(sv_kmod_sysaddr_map(k, (void *)(UINTPTR_MAX - 5), 10,
					     0, &alias, &h),
			 -EINVAL);
	ck_assert_int_eq(munmap(map, maplen), 0);
	ck_assert_int_eq(sv_kmod_sysaddr_map(k, map, 10, 0, &alias, &h),
			 -EFAULT);
	map = mmap(NULL, maplen, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(map, MAP_FAILED);
	ck_assert_int_eq(sv_kmod_sysaddr_map(k, map, 10, 0, &alias, &h),
			 -EFAULT);
	ck_assert_int_eq(sv_kmod_sysaddr_unmap(k, NULL, 1ULL << 32), -EINVAL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod-sysaddr");
	TCase *tc = tcase_create("kmod");

	kt_require_kmod();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, alias_survives_app_munmap);
	tcase_add_test(tc, nowrite_alias_refuses_writes);
	tcase_add_test(tc, writable_alias_never_executable);
	tcase_add_test(tc, bad_arguments);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
