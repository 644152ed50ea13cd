/* SPDX-License-Identifier: MIT */
/* Description: the sanverbs CLI's argument handling and output shapes,
 * and the benchmark runner's. Bad usage exits 2 with nothing on stdout and
 * the offending option or operand named on stderr; --help (of the tool and
 * of each command) prints on stdout and exits 0; --version and the JSON
 * carry the one project version; `info --json` and `stat --json` print one
 * valid JSON document with the documented keys, and info lists every
 * SANVERBS_* setting with value, default, source and meaning (the
 * environment reflected in both). sanverbs-bench turns the records of a
 * compare program into valid JSON and a ratio table whose numbers follow
 * from the records (a scripted compare program stands in for the
 * device-bound one: this is the aggregation logic only;
 * bench/run-compare.sh runs the real one on rxe), and without a device
 * says so in one line before measuring anything. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "cli-run.h"
#include "sv-test.h"

/* Exit 2, nothing on stdout, @named (when given) on stderr. */
static void expect_usage(const char *prog, const char *const *args,
			 const char *named)
{
	struct cli_result r;

	ck_assert_int_eq(prog_run(&r, prog, args, NULL, 30), 0);
	ck_assert_msg(r.status == 2, "%s: exit %d, want 2", args[0] ? args[0] :
		      "(none)", r.status);
	ck_assert_uint_eq(r.len, 0);
	if (named)
		ck_assert_msg(strstr(r.err, named), "stderr does not name %s: %s",
			      named, r.err);
	cli_result_free(&r);
}

START_TEST(usage_errors)
{
	const char *cli = cli_path(), *bench = bench_path();

	expect_usage(cli, (const char *const[]){ NULL }, "no command");
	expect_usage(cli, (const char *const[]){ "frobnicate", NULL },
		     "'frobnicate'");
	expect_usage(cli, (const char *const[]){ "--frob", NULL }, "--frob");
	expect_usage(cli, (const char *const[]){ "info", "--bogus", NULL },
		     "'--bogus'");
	expect_usage(cli, (const char *const[]){ "info", "extra", NULL },
		     "'extra'");
	expect_usage(cli, (const char *const[]){ "stat", "-q", NULL }, "'q'");
	expect_usage(cli, (const char *const[]){ "stat", "abc", NULL },
		     "'abc'");
	expect_usage(cli, (const char *const[]){ "stat", "0", NULL }, "'0'");
	expect_usage(cli, (const char *const[]){ "stat", "--", "-5", NULL },
		     "'-5'");
	/* the benchmark runner is checked before it looks for a device */
	expect_usage(bench, (const char *const[]){ "--trials", "2", NULL },
		     "--trials");
	expect_usage(bench, (const char *const[]){ "--trials", NULL },
		     "--trials");
	expect_usage(bench, (const char *const[]){ "--trials", "9x", NULL },
		     "'9x'");
	expect_usage(bench, (const char *const[]){ "--max-entries", "10",
						  NULL }, "--max-entries");
	expect_usage(bench, (const char *const[]){ "--bogus", NULL },
		     "--bogus");
	expect_usage(bench, (const char *const[]){ "--systems", "nope",
						  "--compare", "/bin/true",
						  NULL }, "--systems");
}
END_TEST

/* Exit 0, @want on stdout, nothing on stderr. */
static void expect_help(const char *prog, const char *const *args,
			const char *want)
{
	struct cli_result r;

	ck_assert_int_eq(prog_run(&r, prog, args, NULL, 30), 0);
	ck_assert_msg(r.status == 0, "%s: exit %d", args[0], r.status);
	ck_assert_msg(strstr(r.out, want), "no '%s' in %s", want, r.out);
	ck_assert_str_eq(r.err, "");
	cli_result_free(&r);
}

START_TEST(help_everywhere)
{
	const char *cli = cli_path(), *bench = bench_path();

	expect_help(cli, (const char *const[]){ "--help", NULL },
		    "usage: sanverbs");
	expect_help(cli, (const char *const[]){ "-h", NULL }, "usage: sanverbs");
	expect_help(cli, (const char *const[]){ "help", NULL },
		    "usage: sanverbs");
	expect_help(cli, (const char *const[]){ "info", "--help", NULL },
		    "usage: sanverbs info");
	expect_help(cli, (const char *const[]){ "stat", "--help", NULL },
		    "usage: sanverbs stat");
	expect_help(cli, (const char *const[]){ "stat", "-h", NULL },
		    "usage: sanverbs stat");
	expect_help(bench, (const char *const[]){ "--help", NULL },
		    "usage: sanverbs-bench");
}
END_TEST

START_TEST(one_version)
{
	struct cli_result r;
	char want[64];

	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "--version",
						      NULL }, NULL, 30), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_str_eq(r.out, "sanverbs " SV_PROJECT_VERSION "\n");
	cli_result_free(&r);
	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "info", "--json",
						      NULL }, NULL, 60), 0);
	snprintf(want, sizeof(want), "\"version\":\"%s\"",
		 SV_PROJECT_VERSION);
	ck_assert_msg(strstr(r.out, want), "no %s in %s", want, r.out);
	cli_result_free(&r);
}
END_TEST

/* Every setting appears once with all four facts; a set variable shows
 * its value and "environment", an unset one its default. */
START_TEST(info_settings)
{
	static const char *const names[] = {
		"SANVERBS_DEVICE", "SANVERBS_MONITOR",
		"SANVERBS_CACHE_MAX_ENTRIES", "SANVERBS_CACHE_MAX_BYTES",
		"SANVERBS_CACHE_MW", "SANVERBS_UFFD_USER_MODE_ONLY",
		"SANVERBS_KMOD_DEV", "SANVERBS_STATS", "SANVERBS_WSP_TIMEOUT_MS",
	};
	const char *env[] = { "SANVERBS_WSP_TIMEOUT_MS=4321", NULL };
	struct cli_result r;
	char want[256];
	size_t i;

	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "info", "--json",
						      NULL }, env, 60), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(json_valid(r.out) == 0, "not JSON: %s", r.out);
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		const char *at;

		snprintf(want, sizeof(want), "{\"name\":\"%s\",\"value\":",
			 names[i]);
		at = strstr(r.out, want);
		ck_assert_msg(at, "no setting %s in %s", names[i], r.out);
		ck_assert_ptr_null(strstr(at + 1, want));
		ck_assert_msg(strstr(at, "\"default\":") &&
			      strstr(at, "\"source\":") &&
			      strstr(at, "\"meaning\":"), "%s incomplete",
			      names[i]);
	}
	ck_assert_ptr_nonnull(strstr(r.out,
		"{\"name\":\"SANVERBS_WSP_TIMEOUT_MS\",\"value\":\"4321\","
		"\"default\":\"30000\",\"source\":\"environment\""));
	ck_assert_ptr_nonnull(strstr(r.out,
		"{\"name\":\"SANVERBS_CACHE_MW\",\"value\":\"1\","
		"\"default\":\"1\",\"source\":\"default\""));
	cli_result_free(&r);

	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "info", NULL },
				 env, 60), 0);
	ck_assert_msg(strstr(r.out, "SANVERBS_WSP_TIMEOUT_MS      4321 "
			     "(environment)"), "%s", r.out);
	cli_result_free(&r);
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
	cli_result_free(&r);

	/* The human form carries the same facts. */
	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "info", NULL },
				 env, 60), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_ptr_nonnull(strstr(r.out, "userfaultfd:"));
	ck_assert_ptr_nonnull(strstr(r.out, "1234"));
	cli_result_free(&r);
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
	cli_result_free(&r);
	ck_assert_int_eq(cli_run(&r, (const char *const[]){ "stat", "--json",
						      pid, NULL }, NULL, 30),
			 0);
	ck_assert_int_eq(r.status, 1);
	ck_assert_msg(json_valid(r.out) == 0, "not JSON: %s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "\"processes\":[]"));
	cli_result_free(&r);
}
END_TEST

/* A compare program that answers like the real one, per --label, in the
 * stepped protocol the runner drives: it parks ("W") before each trial,
 * logs to $SV_FAKE_ORDER which trial it was let go for, and reports it
 * ("V"). Per-trial hits: sanverbs 100 300 200, lf-uffd 400 600 1600, so
 * the per-trial ratios are 4, 2 and 8 while the medians' ratio is 3. */
static const char fake_compare[] =
	"#!/bin/sh\n"
	"label=?\n"
	"while [ $# -gt 0 ]; do [ \"$1\" = --label ] && label=$2; shift; done\n"
	"T=$(printf '\\t')\n"
	"case $label in\n"
	"sanverbs) h='100 300 200'; hm=200; m=5000; e=110; s=0 ;;\n"
	"lf-uffd) h='400 600 1600'; hm=600; m=6000; e=900; s=3 ;;\n"
	"*) echo \"N${T}$label${T}cannot run: scripted failure\"; exit 2 ;;\n"
	"esac\n"
	"echo \"I${T}$label${T}cached${T}1\"\n"
	"echo \"I${T}$label${T}device${T}rxe9\"\n"
	"for t in 0 1 2; do\n"
	"  echo \"W${T}$label${T}hit${T}65536${T}$t\"; read go || exit 4\n"
	"  [ -n \"$SV_FAKE_ORDER\" ] && echo \"hit $t $label\" >> \"$SV_FAKE_ORDER\"\n"
	"  v=$(echo $h | cut -d' ' -f$((t + 1)))\n"
	"  echo \"V${T}$label${T}hit${T}65536${T}$t${T}$v${T}ns\"\n"
	"done\n"
	"for t in 0 1 2; do\n"
	"  echo \"W${T}$label${T}hit_entries${T}1000${T}$t\"; read go || exit 4\n"
	"  echo \"V${T}$label${T}hit_entries${T}1000${T}$t${T}$e${T}ns\"\n"
	"done\n"
	"echo \"R${T}$label${T}hit${T}65536${T}$hm${T}90${T}1000${T}ns${T}3\"\n"
	"echo \"R${T}$label${T}miss${T}65536${T}$m${T}$m${T}$m${T}ns${T}3\"\n"
	"echo \"R${T}$label${T}hit_entries${T}1000${T}$e${T}$e${T}$e${T}ns${T}3\"\n"
	"echo \"R${T}$label${T}mt_hit${T}2${T}2000000${T}1${T}3000000${T}ops/s${T}3\"\n"
	"echo \"S${T}$label${T}munmap+mmap${T}$s${T}$((20 - s))${T}0${T}0${T}-\"\n";

START_TEST(bench_aggregates)
{
	char dir[] = "/tmp/sv-test-cli-XXXXXX", path[256], data[160];
	char order[80];
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

	args[0] = "--json";
	args[1] = "--no-ib-write-bw";
	args[2] = "--systems";
	args[3] = "sanverbs,lf-uffd,lf-nocache";
	args[4] = "--compare";
	args[5] = path;
	args[6] = "--data";
	args[7] = data;
	args[8] = NULL;
	ck_assert_int_eq(prog_run(&r, bench_path(), args, NULL, 60), 0);
	/* One peer failing is a result, not a failed run. */
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(json_valid(r.out) == 0, "not JSON: %s", r.out);
	ck_assert_ptr_nonnull(strstr(r.out, "\"device\":\"rxe9\""));
	ck_assert_ptr_nonnull(strstr(r.out, "scripted failure"));
	ck_assert_int_eq(json_num_after(r.out, "\"system\":\"lf-uffd\","
					"\"metric\":\"hit\"", "median"), 600);
	ck_assert_int_eq(json_num_after(r.out, "\"system\":\"lf-uffd\","
					"\"scenario\"", "stale"), 3);
	cli_result_free(&r);

	snprintf(path, sizeof(path), "%s/hit_entries-lf-uffd.dat", data);
	f = fopen(path, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(path, sizeof(path), f)); /* comment */
	ck_assert_ptr_nonnull(fgets(path, sizeof(path), f));
	ck_assert_str_eq(path, "1000 900 900 900\n");
	fclose(f);

	/* The table: hit ratios taken trial by trial (4, 2, 8: median 4,
	 * not the medians' 3), 900 / 110 = 8.18x at 1k entries, 3 of 20 runs
	 * stale for lf-uffd; trial k of both systems back to back, the first
	 * one rotating. */
	args[0] = "--no-ib-write-bw";
	args[1] = "--quick";
	args[2] = "--systems";
	args[3] = "sanverbs,lf-uffd";
	args[4] = "--compare";
	snprintf(path, sizeof(path), "%s/compare", dir);
	args[5] = path;
	args[6] = NULL;
	snprintf(order, sizeof(order), "SV_FAKE_ORDER=%s/order", dir);
	ck_assert_int_eq(prog_run(&r, bench_path(), args,
				  (const char *const[]){ order, NULL }, 60), 0);
	ck_assert_int_eq(r.status, 0);
	ck_assert_msg(strstr(r.out, " 4x [2-8] "), "no 4x [2-8] in:\n%s",
		      r.out);
	ck_assert_msg(strstr(r.out, "8.18x [8.18-8.18]"), "no 8.18x in:\n%s",
		      r.out);
	ck_assert_msg(strstr(r.out, "3/20 STALE"), "no stale count in:\n%s",
		      r.out);
	ck_assert_msg(strstr(r.out, "0/20"), "no clean count in:\n%s", r.out);
	cli_result_free(&r);
	f = fopen(order + strlen("SV_FAKE_ORDER="), "r");
	ck_assert_ptr_nonnull(f);
	memset(path, 0, sizeof(path));
	ck_assert_int_gt(fread(path, 1, sizeof(path) - 1, f), 0);
	fclose(f);
	ck_assert_str_eq(path, "hit 0 sanverbs\nhit 0 lf-uffd\n"
			 "hit 1 lf-uffd\nhit 1 sanverbs\n"
			 "hit 2 sanverbs\nhit 2 lf-uffd\n");

	snprintf(path, sizeof(path), "rm -rf %s", dir);
	ck_assert_int_eq(system(path), 0);
}
END_TEST

START_TEST(bench_without_compare)
{
	struct cli_result r;

	ck_assert_int_eq(prog_run(&r, bench_path(), (const char *const[]){
				  "--compare", "/nonexistent/compare", NULL },
				  NULL, 30), 0);
	ck_assert_int_eq(r.status, 1);
	ck_assert_ptr_nonnull(strstr(r.err, "/nonexistent/compare"));
	cli_result_free(&r);
}
END_TEST

/* Without a device the runner stops at once with one line on stderr
 * (before, it printed six empty tables). Where this host has a device the
 * case cannot arise and there is nothing to check. */
START_TEST(bench_without_device)
{
	struct ibv_device **list;
	struct cli_result r;
	int n = 0;

	list = ibv_get_device_list(&n);
	if (list)
		ibv_free_device_list(list);
	if (n > 0)
		return;
	ck_assert_int_eq(prog_run(&r, bench_path(), (const char *const[]){
				  "--quick", NULL }, NULL, 30), 0);
	ck_assert_int_eq(r.status, 1);
	ck_assert_uint_eq(r.len, 0);
	ck_assert_msg(strstr(r.err, "no RDMA device") &&
		      !strchr(r.err, '\n')[1], "%s", r.err);
	cli_result_free(&r);
}
END_TEST

static Suite *cli_suite(void)
{
	Suite *s = suite_create("cli");
	TCase *tc = tcase_create("args");

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, usage_errors);
	tcase_add_test(tc, help_everywhere);
	tcase_add_test(tc, one_version);
	tcase_add_test(tc, info_settings);
	tcase_add_test(tc, info_json_shape);
	tcase_add_test(tc, stat_without_exporter);
	tcase_add_test(tc, bench_aggregates);
	tcase_add_test(tc, bench_without_compare);
	tcase_add_test(tc, bench_without_device);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	return sv_test_run(cli_suite());
}
