/* SPDX-License-Identifier: MIT */
/* The sanverbs command-line tool: shared output helpers and the
 * subcommands (one file each). Every subcommand prints a human table by
 * default and one JSON document with --json; exit 0 = done, 1 = failed,
 * 2 = bad usage. */
#ifndef SV_CLI_H
#define SV_CLI_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2

/* A streaming JSON writer: keys are ignored inside arrays, commas and
 * nesting are tracked here so callers cannot produce invalid JSON. */
struct jw {
	FILE *f;
	int depth;
	int first[32];
	int in_array[32];
};

void jw_init(struct jw *w, FILE *f);
void jw_obj_begin(struct jw *w, const char *key);
void jw_obj_end(struct jw *w);
void jw_arr_begin(struct jw *w, const char *key);
void jw_arr_end(struct jw *w);
void jw_str(struct jw *w, const char *key, const char *v);
void jw_int(struct jw *w, const char *key, long long v);
void jw_uint(struct jw *w, const char *key, unsigned long long v);
void jw_num(struct jw *w, const char *key, double v);
void jw_bool(struct jw *w, const char *key, int v);
void jw_null(struct jw *w, const char *key);
/* Ends the document with a newline. */
void jw_finish(struct jw *w);

/* Parses the options of a subcommand (argv[0] is its name) that takes only
 * --json and --help: -1 to go on (operands from optind), or the exit
 * status to return now (help printed from @usage on stdout, or the bad
 * option named on stderr). */
int cli_std_opts(int argc, char **argv, const char *usage, int *json);

/* Parses a decimal in [lo, hi]; 0 or -1. */
int cli_parse_uint(const char *s, unsigned long lo, unsigned long hi,
		   unsigned long *out);

/* One SANVERBS_* environment variable a library reads. */
struct cli_setting {
	const char *name;
	const char *component; /* the library that reads it */
	const char *def;       /* default, as a user would write it */
	const char *meaning;
};

const struct cli_setting *cli_settings(size_t *n);

int cli_info(int argc, char **argv);
int cli_stat(int argc, char **argv);

#endif
