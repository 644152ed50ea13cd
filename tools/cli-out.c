/* SPDX-License-Identifier: MIT */
/* JSON writer and argument helpers of the CLI. */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

void jw_init(struct jw *w, FILE *f)
{
	w->f = f;
	w->depth = 0;
	w->first[0] = 1;
	w->in_array[0] = 1; /* the top level takes one bare value */
}

static void put_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", f);
		else if (c == '\t')
			fputs("\\t", f);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void member(struct jw *w, const char *key)
{
	if (!w->first[w->depth])
		fputc(',', w->f);
	w->first[w->depth] = 0;
	if (!w->in_array[w->depth]) {
		put_str(w->f, key ? key : "");
		fputc(':', w->f);
	}
}

static void open_(struct jw *w, const char *key, char c, int array)
{
	member(w, key);
	fputc(c, w->f);
	if (w->depth < 31) {
		w->depth++;
		w->first[w->depth] = 1;
		w->in_array[w->depth] = array;
	}
}

void jw_obj_begin(struct jw *w, const char *key) { open_(w, key, '{', 0); }
void jw_arr_begin(struct jw *w, const char *key) { open_(w, key, '[', 1); }

void jw_obj_end(struct jw *w)
{
	fputc('}', w->f);
	if (w->depth)
		w->depth--;
}

void jw_arr_end(struct jw *w)
{
	fputc(']', w->f);
	if (w->depth)
		w->depth--;
}

void jw_str(struct jw *w, const char *key, const char *v)
{
	member(w, key);
	if (v)
		put_str(w->f, v);
	else
		fputs("null", w->f);
}

void jw_int(struct jw *w, const char *key, long long v)
{
	member(w, key);
	fprintf(w->f, "%lld", v);
}

void jw_uint(struct jw *w, const char *key, unsigned long long v)
{
	member(w, key);
	fprintf(w->f, "%llu", v);
}

void jw_num(struct jw *w, const char *key, double v)
{
	member(w, key);
	/* JSON has no NaN or infinity. */
	if (isfinite(v))
		fprintf(w->f, "%.6g", v);
	else
		fputs("null", w->f);
}

void jw_bool(struct jw *w, const char *key, int v)
{
	member(w, key);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jw *w, const char *key)
{
	member(w, key);
	fputs("null", w->f);
}

void jw_finish(struct jw *w)
{
	fputc('\n', w->f);
	fflush(w->f);
}

int cli_parse_uint(const char *s, unsigned long lo, unsigned long hi,
		   unsigned long *out)
{
	unsigned long v;
	char *end;

	if (!s || !*s || *s == '-' || *s == '+')
		return -1;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

int cli_std_opts(int argc, char **argv, const char *usage, int *json)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ NULL, 0, NULL, 0 },
	};
	char *name = argv[0];
	int c;

	/* getopt names the bad option after argv[0]: "sanverbs info: ..." */
	argv[0] = (char *)(strcmp(name, "info") ? "sanverbs stat" :
			   "sanverbs info");
	while ((c = getopt_long(argc, argv, "hj", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			fputs(usage, stdout);
			return CLI_EXIT_OK;
		case 'j':
			*json = 1;
			break;
		default:
			fprintf(stderr, "Try '%s --help'.\n", argv[0]);
			return CLI_EXIT_USAGE;
		}
	}
	argv[0] = name;
	return -1;
}
