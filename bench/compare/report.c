/* SPDX-License-Identifier: MIT */
/* The tables sanverbs-bench prints: per-system medians, stale-hit counts,
 * ratios taken trial by trial, the targets, and the raw-vs-raw
 * control that shows how far two identical columns drift apart. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "runner.h"

#define COL 24

int sys_index(const struct run *r, const char *label)
{
	int i;

	for (i = 0; i < r->nsys; i++)
		if (!strcmp(r->sys[i]->label, label))
			return i;
	return -1;
}

const struct rec *find(const struct run *r, int s, const char *metric,
		       long param)
{
	int i;

	for (i = 0; i < r->nrec; i++)
		if (r->rec[i].sys == s && r->rec[i].kind == 'R' &&
		    !strcmp(r->rec[i].metric, metric) &&
		    (param < 0 || r->rec[i].param == param))
			return &r->rec[i];
	return NULL;
}

static const struct rec *find_stale(const struct run *r, int s,
				    const char *scen)
{
	int i;

	for (i = 0; i < r->nrec; i++)
		if (r->rec[i].sys == s && r->rec[i].kind == 'S' &&
		    !strcmp(r->rec[i].metric, scen))
			return &r->rec[i];
	return NULL;
}

/* Distinct params of @metric in the order first seen. */
static int params_of(const struct run *r, const char *metric, long *out,
		     int max)
{
	int i, j, n = 0;

	for (i = 0; i < r->nrec; i++) {
		if (r->rec[i].kind != 'R' || strcmp(r->rec[i].metric, metric))
			continue;
		for (j = 0; j < n && out[j] != r->rec[i].param; j++)
			;
		if (j == n && n < max)
			out[n++] = r->rec[i].param;
	}
	return n;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int trial_ratio(const struct run *r, int sa, const char *ma, int sb,
		const char *mb, long param, double *med, double *lo,
		double *hi)
{
	double q[MAX_TRIALS];
	int n = 0, i, j;

	/* @ma NULL: @mb is a ratio already (measured against its own
	 * baseline in @sb's process), taken as it is */
	for (i = 0; !ma && i < r->nval && n < MAX_TRIALS; i++) {
		const struct val *b = &r->val[i];

		if (b->sys == sb && !strcmp(b->metric, mb) &&
		    (param < 0 || b->param == param) && b->v > 0)
			q[n++] = b->v;
	}
	for (i = 0; ma && i < r->nval; i++) {
		const struct val *a = &r->val[i];

		if (a->sys != sa || strcmp(a->metric, ma) ||
		    (param >= 0 && a->param != param) || a->v <= 0)
			continue;
		for (j = 0; j < r->nval && n < MAX_TRIALS; j++) {
			const struct val *b = &r->val[j];

			if (b->sys != sb || strcmp(b->metric, mb) ||
			    b->param != a->param || b->trial != a->trial ||
			    b->v <= 0)
				continue;
			q[n++] = a->higher_better ? a->v / b->v : b->v / a->v;
			break;
		}
	}
	if (!n)
		return 0;
	qsort(q, n, sizeof(q[0]), cmp_dbl);
	*med = n % 2 ? q[n / 2] : (q[n / 2 - 1] + q[n / 2]) / 2;
	*lo = q[0];
	*hi = q[n - 1];
	return n;
}

static void fmt_val(char *buf, size_t len, double v)
{
	if (v >= 1e7)
		snprintf(buf, len, "%.3g", v);
	else if (v >= 100)
		snprintf(buf, len, "%.0f", v);
	else
		snprintf(buf, len, "%.3g", v);
}

static void cell(const struct rec *x)
{
	char m[24], lo[24], hi[24], c[80];

	if (!x) {
		printf(" %-*s", COL, "-");
		return;
	}
	fmt_val(m, sizeof(m), x->med);
	fmt_val(lo, sizeof(lo), x->min);
	fmt_val(hi, sizeof(hi), x->max);
	snprintf(c, sizeof(c), "%s [%s-%s]", m, lo, hi);
	printf(" %-*s", COL, c);
}

static void header(const struct run *r, const char *first)
{
	int s;

	printf("%-20s", first);
	for (s = 0; s < r->nsys; s++)
		if (!r->sys[s]->control)
			printf(" %-*s", COL, r->sys[s]->label);
	printf("\n");
}

static void row(const struct run *r, const char *metric, long param)
{
	int s;

	for (s = 0; s < r->nsys; s++)
		if (!r->sys[s]->control)
			cell(find(r, s, metric, param));
	printf("\n");
}

static void print_costs(const struct run *r)
{
	static const char *const costs[] = { "hit", "hit_remote", "miss",
					     "second_use", "unmap_cached",
					     "unmap_plain" };
	long params[32];
	int i, n;

	printf("\nRegistration cost, ns per call on 64 KiB buffers (lower is "
	       "better)\n");
	printf("  hit = reg+dereg of a range registered before (local "
	       "access);\n  hit_remote = the same with remote read/write "
	       "(an rkey); miss = first reg of fresh memory;\n  second_use = "
	       "its next reg after the dereg (sanverbs under userfaultfd\n  "
	       "caches a range at its second sight: this is that miss);\n  "
	       "unmap_cached = munmap of a "
	       "released, cached range; unmap_plain = munmap\n  of memory "
	       "never registered\n");
	header(r, "metric");
	for (i = 0; i < (int)(sizeof(costs) / sizeof(costs[0])); i++) {
		printf("%-20s", costs[i]);
		row(r, costs[i], -1);
	}
	n = params_of(r, "hit_entries", params, 32);
	if (n) {
		printf("\nHit cost vs cached entries, ns per reg+dereg of a "
		       "random 4 KiB entry\n");
		header(r, "entries");
		for (i = 0; i < n; i++) {
			printf("%-20ld", params[i]);
			row(r, "hit_entries", params[i]);
		}
	}
	n = params_of(r, "mt_hit", params, 32);
	if (n) {
		printf("\nMulti-threaded hits, total reg+dereg per second "
		       "(higher is better)\n");
		header(r, "threads");
		for (i = 0; i < n; i++) {
			printf("%-20ld", params[i]);
			row(r, "mt_hit", params[i]);
		}
	}
	printf("\nRDMA write bandwidth, 64 KiB writes, 16 in flight, MiB/s\n");
	header(r, "");
	printf("%-20s", "write_bw");
	row(r, "write_bw", -1);
	if (r->ibw_n)
		printf("ib_write_bw (perftest, same device): %.2f [%.2f-%.2f] "
		       "MiB/s over %d run(s)\n", r->ibw_med, r->ibw_min,
		       r->ibw_max, r->ibw_n);
	else if (r->ibw_why[0])
		printf("ib_write_bw: not measured: %s\n", r->ibw_why);
}

static void stale_cell(const struct rec *y)
{
	char c[64];

	if (!y) {
		printf(" %-*s", COL, "-");
		return;
	}
	snprintf(c, sizeof(c), "%d/%d%s%s", y->n[0],
		 y->n[0] + y->n[1] + y->n[2] + y->n[3],
		 y->n[0] ? " STALE" : "",
		 !strncmp(y->detail, "inferred", 8) ? " (inferred)" : "");
	if (y->n[2])
		snprintf(c + strlen(c), sizeof(c) - strlen(c), " err %d",
			 y->n[2]);
	if (y->n[3])
		snprintf(c + strlen(c), sizeof(c) - strlen(c), " skip %d",
			 y->n[3]);
	printf(" %-*s", COL, c);
}

static void print_stale(const struct run *r)
{
	int i, j, s;

	printf("\nStale hits: stale/runs. A stale hit is a completed RDMA "
	       "transfer into the\nsecond registration whose bytes are not in "
	       "the pages now mapped at the\naddress (they went to the old "
	       "pages). \"rkey after dereg\": the peer could\nstill write "
	       "through a released rkey. err = registration or transfer "
	       "failed,\nskip = the address could not be reused. (inferred): "
	       "no RDMA possible, a stale\nhit is the same handle and key "
	       "returned after the pages changed\n");
	header(r, "scenario");
	for (i = 0; i < r->nrec; i++) {
		const struct rec *x = &r->rec[i];
		int seen = 0;

		if (x->kind != 'S')
			continue;
		for (j = 0; j < i; j++)
			if (r->rec[j].kind == 'S' &&
			    !strcmp(r->rec[j].metric, x->metric))
				seen = 1;
		if (seen)
			continue;
		printf("%-20s", x->metric);
		for (s = 0; s < r->nsys; s++)
			if (!r->sys[s]->control)
				stale_cell(find_stale(r, s, x->metric));
		printf("\n");
	}
}

static int ratio_cell(char *c, size_t len, const struct run *r, int sa,
		      const char *ma, int sb, const char *mb, long param)
{
	double med, lo, hi;

	if (sa < 0 || sb < 0 ||
	    !trial_ratio(r, sa, ma, sb, mb, param, &med, &lo, &hi)) {
		snprintf(c, len, "-");
		return 0;
	}
	snprintf(c, len, "%.3gx [%.3g-%.3g]", med, lo, hi);
	return 1;
}

static void print_ratios(const struct run *r, int b)
{
	static const struct { const char *m; long p; const char *t; } rows[] = {
		{ "hit", -1, "hit" },
		{ "hit_remote", -1, "hit_remote" },
		{ "miss", -1, "miss" },
		{ "second_use", -1, "second_use" },
		{ "unmap_cached", -1, "unmap_cached" },
		{ "unmap_plain", -1, "unmap_plain" },
		{ "hit_entries", 1000, "hit @1k entries" },
		{ "hit_entries", 10000, "hit @10k entries" },
		{ "hit_entries", 100000, "hit @100k entries" },
		{ "mt_hit", 1, "hits, 1 thread" },
		{ "mt_hit", 2, "hits, 2 threads" },
		{ "mt_hit", 4, "hits, 4 threads" },
		{ "write_bw", -1, "write_bw" },
	};
	int i, s;

	printf("\nRatios: how many times %s is better than each system (>1 "
	       "= %s wins),\nper trial (trial k of both, run back to back): "
	       "median [min-max]\n", r->baseline, r->baseline);
	header(r, "metric");
	for (i = 0; i < (int)(sizeof(rows) / sizeof(rows[0])); i++) {
		if (!find(r, b, rows[i].m, rows[i].p))
			continue;
		printf("%-20s", rows[i].t);
		for (s = 0; s < r->nsys; s++) {
			char c[64];

			if (r->sys[s]->control)
				continue;
			if (s == b)
				snprintf(c, sizeof(c), "-");
			else
				ratio_cell(c, sizeof(c), r, b, rows[i].m, s,
					   rows[i].m, rows[i].p);
			printf(" %-*s", COL, c);
		}
		printf("\n");
	}
	if (r->ibw_n && find(r, b, "write_bw", -1))
		printf("%-20s %.2fx of ib_write_bw (medians; perftest runs "
		       "after the trials)\n", "write_bw/perftest",
		       find(r, b, "write_bw", -1)->med / r->ibw_med);
}

/* The targets. The ratio is cost(b)/cost(a) per trial; "at least"
 * targets want a to be that many times cheaper than b, "at most" ones
 * bound how much dearer b may be than a. */
static const struct target {
	const char *what;
	const char *a, *ma, *b, *mb;
	long param;
	double bound;
	int at_least;
} targets[] = {
	{ "hit @1k: lf-uffd / sanverbs", "sanverbs", "hit_entries",
	  "lf-uffd", "hit_entries", 1000, 2, 1 },
	{ "hit @1k: lf-memhooks / sanverbs", "sanverbs", "hit_entries",
	  "lf-memhooks", "hit_entries", 1000, 2, 1 },
	{ "hit @1k: lf-uffd / sv-kmod", "sv-kmod", "hit_entries",
	  "lf-uffd", "hit_entries", 1000, 2, 1 },
	{ "hit @1k: lf-memhooks / sv-kmod", "sv-kmod", "hit_entries",
	  "lf-memhooks", "hit_entries", 1000, 2, 1 },
	{ "hit @100k: lf-uffd / sanverbs", "sanverbs", "hit_entries",
	  "lf-uffd", "hit_entries", 100000, 6, 1 },
	{ "hit @100k: lf-memhooks / sanverbs", "sanverbs", "hit_entries",
	  "lf-memhooks", "hit_entries", 100000, 6, 1 },
	{ "hit @100k: lf-uffd / sv-kmod", "sv-kmod", "hit_entries",
	  "lf-uffd", "hit_entries", 100000, 6, 1 },
	{ "hit @100k: lf-memhooks / sv-kmod", "sv-kmod", "hit_entries",
	  "lf-memhooks", "hit_entries", 100000, 6, 1 },
	{ "64 KiB hit: raw / sanverbs", "sanverbs", "hit", "raw", "hit", -1,
	  200, 1 },
	{ "64 KiB hit: raw / sv-kmod", "sv-kmod", "hit", "raw", "hit", -1,
	  200, 1 },
	{ "64 KiB miss: sanverbs / raw", "raw", "miss", "sanverbs", "miss",
	  -1, 1.25, 0 },
	{ "64 KiB miss: sv-kmod / raw", "raw", "miss", "sv-kmod", "miss",
	  -1, 1.10, 0 },
	/* the miss against raw ibv_reg_mr in the same process (the raw
	 * column's own pairing, which must read 1, is its control) */
	{ "64 KiB miss / raw, paired: raw", "raw", NULL, "raw",
	  "miss_paired", -1, 1.10, 0 },
	{ "64 KiB miss / raw, paired: sanverbs", "sanverbs", NULL, "sanverbs",
	  "miss_paired", -1, 1.25, 0 },
	{ "64 KiB miss / raw, paired: sv-kmod", "sv-kmod", NULL, "sv-kmod",
	  "miss_paired", -1, 1.10, 0 },
	{ "munmap: sanverbs cached / plain", "sanverbs", "unmap_plain",
	  "sanverbs", "unmap_cached", -1, 3, 0 },
	{ "munmap: sv-kmod cached / plain", "sv-kmod", "unmap_plain",
	  "sv-kmod", "unmap_cached", -1, 2, 0 },
};

static int meets(const struct target *t, double q)
{
	return t->at_least ? q >= t->bound : q <= t->bound;
}

static void print_targets(const struct run *r)
{
	int i;

	printf("\nTargets, judged on the median per-trial ratio (\"every "
	       "trial\": min and max\nmeet it too)\n");
	for (i = 0; i < (int)(sizeof(targets) / sizeof(targets[0])); i++) {
		const struct target *t = &targets[i];
		double med, lo, hi;
		int a = sys_index(r, t->a), b = sys_index(r, t->b);

		printf("  %-36s %s %-5g ", t->what, t->at_least ? ">=" : "<=",
		       t->bound);
		if (a < 0 || b < 0 ||
		    !trial_ratio(r, a, t->ma, b, t->mb, t->param, &med, &lo,
				 &hi)) {
			printf("not measured\n");
			continue;
		}
		printf("%7.3gx [%.3g-%.3g]  %s\n", med, lo, hi,
		       !meets(t, med) ? "NOT MET" :
		       meets(t, lo) && meets(t, hi) ? "met, every trial" :
		       "met (median)");
	}
}

/* Two identical raw processes, driven like the others: how far apart the
 * method puts two columns that must be equal. */
static void print_control(const struct run *r)
{
	static const struct { const char *m; long p; } rows[] = {
		{ "hit", -1 }, { "hit_remote", -1 }, { "miss", -1 },
		{ "miss_paired", -1 }, { "second_use", -1 },
		{ "unmap_cached", -1 },
		{ "unmap_plain", -1 },
		{ "mt_hit", 1 }, { "write_bw", -1 },
	};
	int a = sys_index(r, "raw"), b = sys_index(r, "raw-ctl"), i;

	if (a < 0 || b < 0)
		return;
	printf("\nControl: raw-ctl (a second, identical raw process) against "
	       "raw, per trial;\n~1.0 is the noise floor of every ratio "
	       "above\n");
	for (i = 0; i < (int)(sizeof(rows) / sizeof(rows[0])); i++) {
		char c[64], t[32];

		if (!ratio_cell(c, sizeof(c), r, a, rows[i].m, b, rows[i].m,
				rows[i].p))
			continue;
		snprintf(t, sizeof(t), rows[i].p > 0 ? "%s %ld" : "%s",
			 rows[i].m, rows[i].p);
		printf("  %-20s %s\n", t, c);
	}
}

void print_tables(const struct run *r, const struct bopts *o)
{
	int s, i, n, b = sys_index(r, r->baseline);

	printf("sanverbs-bench on %s: median [min-max] of %lu trials%s, "
	       "systems interleaved\ntrial by trial (%.0f s)\n\n",
	       r->device[0] ? r->device : "?", o->trials,
	       o->quick ? " (--quick sizes)" : "", r->seconds);
	for (s = 0; s < r->nsys; s++)
		printf("  %-12s %s%s%s%s\n", r->sys[s]->label,
		       r->sys[s]->desc, r->info[s][0] ? ", " : "", r->info[s],
		       r->cached[s] == 0 ? " [no cache observed]" :
		       r->cached[s] == 1 ? " [cache observed]" : "");
	print_costs(r);
	print_stale(r);
	if (b >= 0) {
		print_ratios(r, b);
		print_targets(r);
	}
	print_control(r);

	printf("\nNotes:\n");
	n = 0;
	for (s = 0; s < r->nsys; s++) {
		if (r->status[s])
			printf("  %s: compare exited with status %d\n",
			       r->sys[s]->label, r->status[s]), n++;
		for (i = 0; i < r->nnotes[s]; i++, n++)
			printf("  %s: %s\n", r->sys[s]->label, r->notes[s][i]);
	}
	if (!n)
		printf("  none\n");
}
