/* SPDX-License-Identifier: MIT */
/* Records of a compare run (format in out.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "out.h"

const char *cmp_label = "?";
int cmp_stepped;

void cmp_step(const char *metric, long param, unsigned int trial)
{
	char line[64];

	if (!cmp_stepped)
		return;
	printf("W\t%s\t%s\t%ld\t%u\n", cmp_label, metric, param, trial);
	fflush(stdout);
	/* No line: the driver is gone and nobody wants the rest. */
	if (!fgets(line, sizeof(line), stdin))
		exit(4);
}

void cmp_trial(const char *metric, long param, unsigned int trial, double v,
	       const char *unit)
{
	printf("V\t%s\t%s\t%ld\t%u\t%.6g\t%s\n", cmp_label, metric, param,
	       trial, v, unit);
	fflush(stdout);
}

double cmp_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void cmp_result(const char *metric, long param, double *vals, size_t n,
		const char *unit)
{
	double med;

	if (!n)
		return;
	qsort(vals, n, sizeof(*vals), cmp_double);
	med = n % 2 ? vals[n / 2] : (vals[n / 2 - 1] + vals[n / 2]) / 2;
	printf("R\t%s\t%s\t%ld\t%.6g\t%.6g\t%.6g\t%s\t%zu\n", cmp_label, metric,
	       param, med, vals[0], vals[n - 1], unit, n);
	fflush(stdout);
}

void cmp_stale(const char *scenario, int stale, int ok, int err, int skipped,
	       const char *detail)
{
	printf("S\t%s\t%s\t%d\t%d\t%d\t%d\t%s\n", cmp_label, scenario, stale, ok,
	       err, skipped, detail && *detail ? detail : "-");
	fflush(stdout);
}

void cmp_note(const char *fmt, ...)
{
	va_list ap;

	printf("N\t%s\t", cmp_label);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void cmp_info(const char *key, const char *fmt, ...)
{
	va_list ap;

	printf("I\t%s\t%s\t", cmp_label, key);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
	fflush(stdout);
}

void cmp_progress(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "[%s] ", cmp_label);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
}
