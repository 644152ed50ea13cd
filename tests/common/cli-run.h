/* SPDX-License-Identifier: MIT */
/* Running the sanverbs CLI from a test: finds the binary of the same build
 * tree and captures its stdout and exit status; plus a strict JSON syntax
 * check, so --json output is proven parseable, not just similar. */
#ifndef SV_CLI_RUN_H
#define SV_CLI_RUN_H

#include <stddef.h>

struct cli_result {
	int status;   /* exit status, or 128 + signal */
	char *out;    /* stdout, NUL-terminated (free()) */
	size_t len;
};

/* Path of build/tools/sanverbs next to this test (build/tests/...), or
 * $SANVERBS_CLI. */
const char *cli_path(void);

/* Runs the CLI with @args (NULL-terminated, without argv[0]); @env is a
 * NULL-terminated list of NAME=value added to the environment, or NULL.
 * Waits at most @timeout_s seconds (then kills it: status 128+9). */
int cli_run(struct cli_result *r, const char *const *args,
	    const char *const *env, int timeout_s);

/* 0 when @s is exactly one valid JSON value (plus whitespace). */
int json_valid(const char *s);

/* The number after "key": in @s (first occurrence at or after @from), or
 * -1 when absent. */
long long json_num_after(const char *s, const char *from, const char *key);

#endif
