/* SPDX-License-Identifier: MIT */
/* Description: the sanverbs CLI against a real device. `sanverbs info`
 * lists the test device with an active port and its RoCEv2 GID.
 * `sanverbs stat PID` reads the live cache counters of a process that
 * registered memory (this test, run with SANVERBS_STATS=1): the numbers
 * equal sanverbs_cache_stats() and what the process did (one miss, then
 * hits, for ten registrations of one buffer with a working monitor), and
 * each of those registrations moved real bytes (the peer QP RDMA-reads a
 * pattern into the buffer through its lkey, every byte checked). Once the
 * context is closed the process no longer answers. The module line of
 * `info` agrees with the library (sanverbs_kmod_version()) whether or not
 * the module is loaded in this run. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cli-run.h"
#include "kmod/sanverbs_ioctl.h"
#include "sv-test.h"

#define LEN (64 * 1024)
#define ROUNDS 10

START_TEST(info_lists_device)
{
	const char *dev = getenv("SANVERBS_RXE_DEV");
	struct sanverbs_ctx *ctx = sv_test_ctx_open();
	struct cli_result r;
	char want[96];

	/* The device the suite uses, whatever its name. */
	snprintf(want, sizeof(want), "\"name\":\"%s\"",
		 dev && *dev ? dev : sanverbs_ctx_device_name(ctx));
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "info", "--json",
						      NULL }, NULL, 60), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(json_valid(r.out) == 0, "not JSON: %s", r.out);
	ck_assert_msg(strstr(r.out, want), "%s not in %s", want, r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "\"state\":\"active\""));
	ck_assert_ptr_nonnull(strstr(r.out, "\"type\":\"RoCEv2\""));
	cli_result_free(&r);

	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "info", NULL },
				 NULL, 60), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "port 1: active"));
	cli_result_free(&r);
}
END_TEST

START_TEST(info_module_line)
{
	int ver = sanverbs_kmod_version();
	int loaded = access("/sys/module/sanverbs", F_OK) == 0;
	struct cli_result r;

	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "info", "--json",
						      NULL }, NULL, 60), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, loaded ? "\"loaded\":true" :
			     "\"loaded\":false"), "%s", r.out);
	if (ver > 0) {
		ck_assert_int_eq(json_num_after(r.out, "\"kmod\"", "abi"), ver);
		ck_assert_int_eq(ver, SANVERBS_ABI_VERSION);
	} else if (ver != -EPROTO) {
		/* No module (a module of another ABI answers with its own
		 * number, which info shows and the library refuses). */
		ck_assert_ptr_nonnull(strstr(r.out, "\"abi\":null"));
	}
	cli_result_free(&r);
}
END_TEST

static long long ctx_counter(const char *json, const char *key)
{
	return json_num_after(json, "\"contexts\":[", key);
}

START_TEST(stat_reads_live_counters)
{
	struct sanverbs_cache_stats st0, st1;
	struct sanverbs_mr *src_mr, *mr;
	struct sanverbs_ctx *ctx;
	struct sv_qp_pair pair;
	struct cli_result r;
	char pid[16], *buf, *src;
	uint64_t want_hits, want_misses;
	int i;

	ck_assert_int_eq(setenv("SANVERBS_STATS", "1", 1), 0);
	ctx = sv_test_ctx_open();
	ck_assert_int_eq(sv_qp_pair_create(ctx, &pair), 0);
	buf = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	src = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert(buf != MAP_FAILED && src != MAP_FAILED);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, src, LEN,
					 SANVERBS_ACCESS_REMOTE_READ, &src_mr),
			 0);
	ck_assert_int_eq(sanverbs_cache_stats(ctx, &st0), 0);

	for (i = 0; i < ROUNDS; i++) {
		memset(buf, 0, LEN);
		sv_fill_pattern(src, LEN, (uint32_t)i + 1);
		ck_assert_int_eq(sanverbs_mr_reg(ctx, buf, LEN,
						 SANVERBS_ACCESS_LOCAL_WRITE,
						 &mr), 0);
		ck_assert_int_eq(sv_rdma_read(&pair, buf, sanverbs_mr_lkey(mr),
					      LEN, (uintptr_t)src,
					      sanverbs_mr_rkey(src_mr)),
				 IBV_WC_SUCCESS);
		ck_assert_int_eq(sv_check_pattern(buf, LEN, (uint32_t)i + 1),
				 -1);
		ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	}
	ck_assert_int_eq(sanverbs_cache_stats(ctx, &st1), 0);
	/* With a monitor the first registration misses and the rest hit;
	 * without one every registration is a miss. */
	want_hits = st1.monitor == SANVERBS_MONITOR_NONE ? 0 : ROUNDS - 1;
	want_misses = ROUNDS - want_hits;
	ck_assert_uint_eq(st1.hits - st0.hits, want_hits);
	ck_assert_uint_eq(st1.misses - st0.misses, want_misses);

	snprintf(pid, sizeof(pid), "%d", getpid());
	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "stat", "--json",
						      pid, NULL }, NULL, 30),
			 0);
	ck_assert_msg(r.status == 0, "stat exit %d: %s", r.status, r.out);
	ck_assert_msg(json_valid(r.out) == 0, "not JSON: %s", r.out);
	ck_assert_int_eq(json_num_after(r.out, NULL, "pid"), getpid());
	ck_assert_int_eq(ctx_counter(r.out, "hits"), (long long)st1.hits);
	ck_assert_int_eq(ctx_counter(r.out, "misses"), (long long)st1.misses);
	ck_assert_int_eq(ctx_counter(r.out, "entries"),
			 (long long)st1.entries);
	ck_assert_int_eq(ctx_counter(r.out, "bytes_pinned"),
			 (long long)st1.bytes_pinned);
	ck_assert_int_eq(ctx_counter(r.out, "invalidations"),
			 (long long)st1.invalidations);
	cli_result_free(&r);

	/* Discovery without a PID finds this process too. */
	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "stat", NULL },
				 NULL, 30), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, pid), "pid %s not in:\n%s", pid, r.out);
	cli_result_free(&r);

	ck_assert_int_eq(sanverbs_mr_dereg(src_mr), 0);
	sv_qp_pair_destroy(&pair);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "stat", pid,
						      NULL }, NULL, 30), 0);
	ck_assert_int_eq(r.status, 1);
	cli_result_free(&r);
	munmap(buf, LEN);
	munmap(src, LEN);
}
END_TEST

START_TEST(stat_off_by_default)
{
	struct sanverbs_ctx *ctx;
	struct cli_result r;
	char pid[16];

	unsetenv("SANVERBS_STATS");
	ctx = sv_test_ctx_open();
	snprintf(pid, sizeof(pid), "%d", getpid());
	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "stat", pid,
						      NULL }, NULL, 30), 0);
	ck_assert_int_eq(r.status, 1);
	cli_result_free(&r);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
}
END_TEST

static Suite *cli_rxe_suite(void)
{
	Suite *s = suite_create("cli-rxe");
	TCase *tc = tcase_create("cli");

	tcase_set_timeout(tc, 180);
	tcase_add_test(tc, info_lists_device);
	tcase_add_test(tc, info_module_line);
	tcase_add_test(tc, stat_reads_live_counters);
	tcase_add_test(tc, stat_off_by_default);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return sv_test_run_rxe(cli_rxe_suite());
}
