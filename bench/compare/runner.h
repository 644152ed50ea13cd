/* SPDX-License-Identifier: MIT */
/* sanverbs-bench, the driver: what it knows about a run, shared by the
 * part that drives the compare processes (drive.c), the one that prints
 * tables and ratios (report.c) and the one that writes files (export.c). */
#ifndef CMP_RUNNER_H
#define CMP_RUNNER_H

#include <stdio.h>

#define MAX_REC 512
#define MAX_VAL 16384
#define MAX_SYS 10
#define MAX_TRIALS 64

struct bsys {
	const char *label;
	const char *system;
	const char *desc;
	const char *env[5];
	/* A second copy of another system, run only to show how far two
	 * identical columns drift apart: kept out of the main tables. */
	int control;
};

/* A summary from one compare process (R) or a stale-hit count (S). */
struct rec {
	int sys;
	char kind;         /* R, S */
	char metric[32];   /* R: metric, S: scenario */
	long param;
	double med, min, max;
	char unit[12];
	int n[4];          /* S: stale, ok, err, skipped */
	char detail[128];
};

/* One timed trial (V): the unit of every ratio. */
struct val {
	int sys;
	char metric[24];
	long param;
	unsigned int trial;
	double v;
	int higher_better;
};

struct run {
	const struct bsys *sys[MAX_SYS];
	int nsys;
	int status[MAX_SYS];      /* compare's exit status */
	int cached[MAX_SYS];      /* -1 unknown */
	char info[MAX_SYS][128];  /* version etc. */
	char notes[MAX_SYS][6][200];
	int nnotes[MAX_SYS];
	struct rec rec[MAX_REC];
	int nrec;
	struct val val[MAX_VAL];
	int nval;
	/* ib_write_bw on the same device */
	double ibw_med, ibw_min, ibw_max;
	int ibw_n;
	char ibw_why[200];
	const char *baseline;
	char device[64];
	double seconds;
};

struct bopts {
	int json, quick;
	unsigned long trials, max_entries, stale_runs, threads;
	const char *only, *systems, *compare, *data, *baseline, *json_out;
	int ib_write_bw;
};

/* drive.c */
/* Starts one compare process per system and runs trial k of every system
 * back to back, for every k and every measure. Returns how many systems
 * failed. */
int drive_systems(struct run *r, const char *compare, const struct bopts *o);
void run_ib_write_bw(struct run *r, const struct bopts *o);
void add_note(struct run *r, int s, const char *text);
int list_has(const char *list, const char *item);

/* report.c */
int sys_index(const struct run *r, const char *label);
const struct rec *find(const struct run *r, int s, const char *metric,
		       long param);
/* Median, min and max over trials of
 * cost(@sb, @mb) / cost(@sa, @ma) trial by trial (for throughput the
 * inverse), so >1 means a does better than b. Returns the trial count. */
int trial_ratio(const struct run *r, int sa, const char *ma, int sb,
		const char *mb, long param, double *med, double *lo,
		double *hi);
void print_tables(const struct run *r, const struct bopts *o);

/* export.c */
void print_json(const struct run *r, const struct bopts *o, FILE *f);
int write_data(const struct run *r, const char *dir);

#endif
