/* SPDX-License-Identifier: MIT */
/* Description: the sanverbs CLI's argument handling and output shapes.
 * Bad usage exits 2 with nothing on stdout, --help/--version exit 0;
 * `info --json` and `stat --json` print one valid JSON document with the
 * documented keys (SANVERBS_* environment reflected in the cache defaults);
 * `bench` turns the records of a compare program into valid JSON and a
 * ratio table whose numbers follow from the records (a scripted compare
 * program stands in for the device-bound one: this is the aggregation
 * logic only; bench/run-compare.sh runs the real one on rxe). */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli-run.h"
#include "sv-test.h"

static void expect_usage(const char *const *args)
{
	struct cli_result r;

	ck_assert_int_eq(cli_run(&r, args, NULL, 30), 0);
	ck_assert_msg(r.status == 2, "%s: exit %d, want 2", args[0] ? args[0] :
		      "(none)", r.status);
	ck_assert_uint_eq(r.len, 0);
	free(r.out);
}

START_TEST(usage_errors)
{
	expect_usage((const char *const[]){ NULL });
	expect_usage((const char *const[]){ "frobnicate", NULL });
	expect_usage((const char *const[]){ "info", "--bogus", NULL });
	expect_usage((const char *const[]){ "stat", "abc", NULL });
	expect_usage((const char *const[]){ "stat", "0", NULL });
	expect_usage((const char *const[]){ "stat", "-5", NULL });
	expect_usage((const char *const[]){ "bench", "--trials", "0", NULL });
	expect_usage((const char *const[]){ "bench", "--trials", NULL });
	expect_usage((const char *const[]){ "bench", "--trials", "9x",
					    NULL });
	expect_usage((const char *const[]){ "bench", "--max-entries", "10",
					    NULL });
	expect_usage((const char *const[]){ "bench", "--systems", "nope",
					    NULL });
}
END_TEST

START_TEST(help_and_version)
{
	struct cli_result r;

	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "--help", NULL },
				 NULL, 30), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "usage: sanverbs"));
	ck_assert_ptr_nonnull(strstr(r.out, "bench"));
	free(r.out);
	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "--version",
						      NULL }, NULL, 30), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "sanverbs 0."));
	free(r.out);
}
END_TEST

START_TEST(info_json_shape)
{
	static const char *const keys[] = {
		"\"devices\":[", "\"kmod\":{", "\"loaded\":", "\"abi\":",
		"\"abi_expected\":", "\"userfaultfd\":{", "\"mode\":",
		"\"memlock\":{", "\"soft\":", "\"hard\":",
		"\"cache_defaults\":{",
	};
	const char *env[] = { "SANVERBS_CACHE_MAX_ENTRIES=1234",
			      "SANVERBS_MONITOR=none", NULL };
	struct cli_result r;
	size_t i;

	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "info", "--json",
						      NULL }, env, 60), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(json_valid(r.out) == 0, "not JSON: %s", r.out);
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		ck_assert_msg(strstr(r.out, keys[i]), "no %s in %s", keys[i],
			      r.out);
	ck_assert(strstr(r.out, "\"mode\":\"dev\"") ||
		  strstr(r.out, "\"mode\":\"syscall\"") ||
		  strstr(r.out, "\"mode\":\"user-mode-only\"") ||
		  strstr(r.out, "\"mode\":\"none\""));
	ck_assert_int_eq(json_num_after(r.out, "cache_defaults",
					"max_entries"), 1234);
	ck_assert_ptr_nonnull(strstr(r.out, "\"monitor\":\"none\""));
	free(r.out);

	/* The human form carries the same facts. */
	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "info", NULL },
				 env, 60), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "userfaultfd:"));
	ck_assert_ptr_nonnull(strstr(r.out, "1234"));
	free(r.out);
}
END_TEST

START_TEST(stat_without_exporter)
{
	char pid[16];
	struct cli_result r;

	/* This test process opened no context: nothing to read. */
	snprintf(pid, sizeof(pid), "%d", getpid());
	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "stat", pid,
						      NULL }, NULL, 30), 0);
	ck_assert_int_eq(r.status, 1);
	free(r.out);
	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "stat", "--json",
						      pid, NULL }, NULL, 30),
			 0);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(json_valid(r.out) == 0, "not JSON: %s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "\"processes\":[]"));
	free(r.out);
}
END_TEST

/* A compare program that answers like the real one, per --label. */
static const char fake_compare[] =
	"#!/bin/sh\n"
	"label=?\n"
	"while [ $# -gt 0 ]; do [ \"$1\" = --label ] && label=$2; shift; done\n"
	"T=$(printf '\\t')\n"
	"case $label in\n"
	"sanverbs) h=100; m=5000; e=110; s=0 ;;\n"
	"lf-uffd) h=400; m=6000; e=900; s=3 ;;\n"
	"*) echo \"N${T}$label${T}cannot run: scripted failure\"; exit 2 ;;\n"
	"esac\n"
	"echo \"I${T}$label${T}cached${T}1\"\n"
	"echo \"I${T}$label${T}device${T}rxe9\"\n"
	"echo \"R${T}$label${T}hit${T}65536${T}$h${T}90${T}1000${T}ns${T}5\"\n"
	"echo \"R${T}$label${T}miss${T}65536${T}$m${T}$m${T}$m${T}ns${T}5\"\n"
	"echo \"R${T}$label${T}hit_entries${T}1000${T}$e${T}$e${T}$e${T}ns${T}5\"\n"
	"echo \"R${T}$label${T}mt_hit${T}2${T}2000000${T}1${T}3000000${T}ops/s${T}5\"\n"
	"echo \"S${T}$label${T}munmap+mmap${T}$s${T}$((20 - s))${T}0${T}0${T}-\"\n";

START_TEST(bench_aggregates)
{
	char dir[] = "/tmp/sv-test-cli-XXXXXX", path[256], data[160];
	const char *args[16];
	struct cli_result r;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/compare", dir);
	f = fopen(path, "w");
	ck_assert_ptr_nonnull(f);
	fputs(fake_compare, f);
	fclose(f);
	ck_assert_int_eq(chmod(path, 0755), 0);
	snprintf(data, sizeof(data), "%s/data", dir);

	args[0] = "bench";
	args[1] = "--json";
	args[2] = "--no-ib-write-bw";
	args[3] = "--systems";
	args[4] = "sanverbs,lf-uffd,lf-nocache";
	args[5] = "--compare";
	args[6] = path;
	args[7] = "--data";
	args[8] = data;
	args[9] = NULL;
	ck_assert_int_eq(cli_run(&r, args, NULL, 60), 0);
	/* One peer failing is a result, not a failed run. */
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(json_valid(r.out) == 0, "not JSON: %s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "\"device\":\"rxe9\""));
	ck_assert_ptr_nonnull(strstr(r.out, "scripted failure"));
	ck_assert_int_eq(json_num_after(r.out, "\"system\":\"lf-uffd\","
					"\"metric\":\"hit\"", "median"), 400);
	ck_assert_int_eq(json_num_after(r.out, "\"system\":\"lf-uffd\","
					"\"scenario\"", "stale"), 3);
	free(r.out);

	snprintf(path, sizeof(path), "%s/hit_entries-lf-uffd.dat", data);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(path, sizeof(path), f)); /* comment */
	ck_assert_ptr_nonnull(fgets(path, sizeof(path), f));
	ck_assert_str_eq(path, "1000 900 900 900\n");
	fclose(f);

	/* The table: 400 / 100 = 4x for hits, 900 / 110 = 8.18x at 1k
	 * entries, 3 of 20 runs stale for lf-uffd. */
	args[1] = "--no-ib-write-bw";
	args[2] = "--quick";
	args[7] = NULL;
	args[3] = "--systems";
	args[4] = "sanverbs,lf-uffd";
	snprintf(path, sizeof(path), "%s/compare", dir);
	args[6] = path;
	ck_assert_int_eq(cli_run(&r, args, NULL, 60), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, " 4x "), "no 4x in:\n%s", r.out);
	ck_assert_msg(strstr(r.out, "8.18x"), "no 8.18x in:\n%s", r.out);
	ck_assert_msg(strstr(r.out, "3/20 STALE"), "no stale count in:\n%s",
		      r.out);
	ck_assert_msg(strstr(r.out, "0/20"), "no clean count in:\n%s", r.out);
	free(r.out);

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	ck_assert_int_eq(system(path), 0);
}
END_TEST

START_TEST(bench_without_compare)
{
	struct cli_result r;

	ck_assert_int_eq(cli_run(&r, (const char *const[]){
				 "bench", "--compare", "/nonexistent/compare",
				 NULL }, NULL, 30), 0);
	ck_assert_int_eq(r.status, 1);
	free(r.out);
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("args");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, usage_errors);
	tcase_add_test(tc, help_and_version);
	tcase_add_test(tc, info_json_shape);
	tcase_add_test(tc, stat_without_exporter);
	tcase_add_test(tc, bench_aggregates);
	tcase_add_test(tc, bench_without_compare);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return sv_test_run(cli_suite());
}
