/* SPDX-License-Identifier: MIT */
/* What sanverbs-bench leaves behind besides its table: the JSON record of
 * the run and gnuplot's input files. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli.h"
#include "runner.h"

void print_json(const struct run *r, const struct bopts *o, FILE *f)
{
	struct jw w;
	int s, i;

	jw_init(&w, f);
	jw_obj_begin(&w, NULL);
	jw_int(&w, "version", 2);
	jw_str(&w, "device", r->device[0] ? r->device : NULL);
	jw_uint(&w, "trials", o->trials);
	jw_bool(&w, "quick", o->quick);
	/* version 2: systems run trial by trial; "trials" below holds every
	 * trial, the unit ratios are taken from */
	jw_bool(&w, "interleaved", 1);
	jw_num(&w, "seconds", r->seconds);
	jw_str(&w, "baseline", r->baseline);
	jw_arr_begin(&w, "systems");
	for (s = 0; s < r->nsys; s++) {
		jw_obj_begin(&w, NULL);
		jw_str(&w, "label", r->sys[s]->label);
		jw_str(&w, "description", r->sys[s]->desc);
		jw_arr_begin(&w, "env");
		for (i = 0; r->sys[s]->env[i]; i++)
			jw_str(&w, NULL, r->sys[s]->env[i]);
		jw_arr_end(&w);
		jw_bool(&w, "control", r->sys[s]->control);
		jw_int(&w, "exit_status", r->status[s]);
		if (r->cached[s] < 0)
			jw_null(&w, "cached");
		else
			jw_bool(&w, "cached", r->cached[s]);
		jw_str(&w, "info", r->info[s][0] ? r->info[s] : NULL);
		jw_arr_begin(&w, "notes");
		for (i = 0; i < r->nnotes[s]; i++)
			jw_str(&w, NULL, r->notes[s][i]);
		jw_arr_end(&w);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_arr_begin(&w, "results");
	for (i = 0; i < r->nrec; i++) {
		const struct rec *x = &r->rec[i];

		if (x->kind != 'R')
			continue;
		jw_obj_begin(&w, NULL);
		jw_str(&w, "system", r->sys[x->sys]->label);
		jw_str(&w, "metric", x->metric);
		jw_int(&w, "param", x->param);
		jw_num(&w, "median", x->med);
		jw_num(&w, "min", x->min);
		jw_num(&w, "max", x->max);
		jw_str(&w, "unit", x->unit);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_arr_begin(&w, "trial_values");
	for (i = 0; i < r->nval; i++) {
		const struct val *v = &r->val[i];

		jw_obj_begin(&w, NULL);
		jw_str(&w, "system", r->sys[v->sys]->label);
		jw_str(&w, "metric", v->metric);
		jw_int(&w, "param", v->param);
		jw_int(&w, "trial", v->trial);
		jw_num(&w, "value", v->v);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_arr_begin(&w, "stale");
	for (i = 0; i < r->nrec; i++) {
		const struct rec *x = &r->rec[i];

		if (x->kind != 'S')
			continue;
		jw_obj_begin(&w, NULL);
		jw_str(&w, "system", r->sys[x->sys]->label);
		jw_str(&w, "scenario", x->metric);
		jw_int(&w, "stale", x->n[0]);
		jw_int(&w, "ok", x->n[1]);
		jw_int(&w, "error", x->n[2]);
		jw_int(&w, "skipped", x->n[3]);
		jw_str(&w, "detail", strcmp(x->detail, "-") ? x->detail :
			   NULL);
		jw_obj_end(&w);
	}
	jw_arr_end(&w);
	jw_obj_begin(&w, "ib_write_bw");
	if (r->ibw_n) {
		jw_num(&w, "median", r->ibw_med);
		jw_num(&w, "min", r->ibw_min);
		jw_num(&w, "max", r->ibw_max);
		jw_int(&w, "runs", r->ibw_n);
		jw_str(&w, "unit", "MiB/s");
	} else {
		jw_null(&w, "median");
		jw_str(&w, "why", r->ibw_why[0] ? r->ibw_why : "not run");
	}
	jw_obj_end(&w);
	jw_obj_end(&w);
	jw_finish(&w);
}

/* Gnuplot input: one file per system with "entries median min max", and
 * the uncached systems' plain hit cost as a flat reference. */
int write_data(const struct run *r, const char *dir)
{
	char path[PATH_MAX];
	int s, i;
	FILE *f;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	for (s = 0; s < r->nsys; s++) {
		const struct rec *h = find(r, s, "hit", -1);
		int any = 0;

		if (r->sys[s]->control)
			continue;
		snprintf(path, sizeof(path), "%s/hit_entries-%s.dat", dir,
			 r->sys[s]->label);
		f = fopen(path, "w");
		if (!f)
			return -errno;
		fprintf(f, "# %s: entries median_ns min_ns max_ns\n",
			r->sys[s]->label);
		for (i = 0; i < r->nrec; i++) {
			const struct rec *x = &r->rec[i];

			if (x->sys == s && x->kind == 'R' &&
			    !strcmp(x->metric, "hit_entries")) {
				fprintf(f, "%ld %g %g %g\n", x->param, x->med,
					x->min, x->max);
				any = 1;
			}
		}
		/* No cache: every "hit" is a registration; draw it flat. */
		if (!any && h)
			fprintf(f, "1000 %g %g %g\n100000 %g %g %g\n", h->med,
				h->min, h->max, h->med, h->min, h->max);
		fclose(f);
	}
	return 0;
}
