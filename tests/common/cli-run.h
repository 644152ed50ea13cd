/* SPDX-License-Identifier: MIT */
/* Running the sanverbs CLI (or the benchmark runner) from a test: finds the
 * binary of the same build tree and captures its stdout, stderr and exit
 * status; plus a strict JSON syntax
 * check, so --json output is proven parseable, not just similar. */
#ifndef SV_CLI_RUN_H
#define SV_CLI_RUN_H

#include <stddef.h>

struct cli_result {
	int status;   /* exit status, or 128 + signal */
	char *out;    /* stdout, NUL-terminated */
	size_t len;
	char *err;    /* stderr, NUL-terminated */
};

/* Path of build/tools/sanverbs next to this test (build/tests/...), or
 * $SANVERBS_CLI. */
const char *cli_path(void);

/* Path of build/bench/sanverbs-bench, or $SANVERBS_BENCH. */
const char *bench_path(void);

/* Runs the CLI with @args (NULL-terminated, without argv[0]); @env is a
 * NULL-terminated list of NAME=value added to the environment, or NULL.
 * Waits at most @timeout_s seconds (then kills it: status 128+9). */
int cli_run(struct cli_result *r, const char *const *args,
	    const char *const *env, int timeout_s);
/* The same for the program @prog. */
int prog_run(struct cli_result *r, const char *prog, const char *const *args,
	     const char *const *env, int timeout_s);
/* Frees what a run captured. */
void cli_result_free(struct cli_result *r);

/* 0 when @s is exactly one valid JSON value (plus whitespace). */
int json_valid(const char *s);

/* The number after "key": in @s (first occurrence at or after @from), or
 * -1 when absent. */
long long json_num_after(const char *s, const char *from, const char *key);

#endif
