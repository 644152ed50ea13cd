/* SPDX-License-Identifier: MIT */
/* Drives the compare processes, one per system (libfabric reads its cache
 * settings once per process; UCX's hooks must not be loaded elsewhere).
 * They all run with --stepped and park before each timed trial, and the
 * driver lets them go trial by trial: trial k of every system runs back to
 * back, and only one process runs at any time. A ratio between two
 * systems is then taken between trials a few seconds apart, not between
 * runs minutes apart on a host whose load changes. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "runner.h"

struct child {
	pid_t pid;
	FILE *to, *from;
	int parked;
	/* where it is parked: the next trial it will time */
	char metric[24];
	long param;
	unsigned int trial;
};

int list_has(const char *list, const char *item)
{
	size_t n = strlen(item);
	const char *p = list;

	while ((p = strstr(p, item))) {
		if ((p == list || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return 1;
		p += n;
	}
	return 0;
}

void add_note(struct run *r, int s, const char *text)
{
	if (r->nnotes[s] < 6)
		snprintf(r->notes[s][r->nnotes[s]++], sizeof(r->notes[0][0]),
			 "%.199s", text);
}

/* Splits a tab-separated line in place; returns the field count. */
static int split(char *line, char **f, int max)
{
	int n = 0;

	line[strcspn(line, "\n")] = 0;
	while (n < max) {
		f[n++] = line;
		line = strchr(line, '\t');
		if (!line)
			break;
		*line++ = 0;
	}
	return n;
}

static void parse_line(struct run *r, int s, char *line)
{
	char *f[10];
	int n = split(line, f, 10);
	struct rec *x;

	if (n >= 3 && !strcmp(f[0], "N")) {
		add_note(r, s, f[2]);
		return;
	}
	if (n >= 4 && !strcmp(f[0], "I")) {
		if (!strcmp(f[2], "cached"))
			r->cached[s] = atoi(f[3]);
		else if (!strcmp(f[2], "version"))
			snprintf(r->info[s], sizeof(r->info[s]), "%s", f[3]);
		else if (!strcmp(f[2], "device"))
			snprintf(r->device, sizeof(r->device), "%s", f[3]);
		return;
	}
	if (n >= 7 && !strcmp(f[0], "V")) {
		struct val *v = &r->val[r->nval];

		if (r->nval >= MAX_VAL)
			return;
		v->sys = s;
		snprintf(v->metric, sizeof(v->metric), "%s", f[2]);
		v->param = atol(f[3]);
		v->trial = (unsigned int)atoi(f[4]);
		v->v = atof(f[5]);
		v->higher_better = !strcmp(f[6], "ops/s") ||
				   !strcmp(f[6], "MiB/s");
		r->nval++;
		return;
	}
	if (r->nrec >= MAX_REC)
		return;
	x = &r->rec[r->nrec];
	memset(x, 0, sizeof(*x));
	x->sys = s;
	if (n >= 9 && !strcmp(f[0], "R")) {
		x->kind = 'R';
		snprintf(x->metric, sizeof(x->metric), "%s", f[2]);
		x->param = atol(f[3]);
		x->med = atof(f[4]);
		x->min = atof(f[5]);
		x->max = atof(f[6]);
		snprintf(x->unit, sizeof(x->unit), "%s", f[7]);
		r->nrec++;
	} else if (n >= 8 && !strcmp(f[0], "S")) {
		x->kind = 'S';
		snprintf(x->metric, sizeof(x->metric), "%s", f[2]);
		x->n[0] = atoi(f[3]);
		x->n[1] = atoi(f[4]);
		x->n[2] = atoi(f[5]);
		x->n[3] = atoi(f[6]);
		snprintf(x->detail, sizeof(x->detail), "%s", f[7]);
		r->nrec++;
	}
}

/* The order every compare process times its trials in (measure.c); a
 * process that skips a measure is simply not parked there. */
static int metric_rank(const char *m)
{
	static const char *const order[] = { "hit", "hit_remote", "miss",
					     "hit_entries", "mt_hit",
					     "write_bw" };
	int i;

	for (i = 0; i < (int)(sizeof(order) / sizeof(order[0])); i++)
		if (!strcmp(order[i], m))
			return i;
	return i;
}

static int before(const struct child *a, const struct child *b)
{
	int x = metric_rank(a->metric), y = metric_rank(b->metric);

	if (x != y)
		return x < y;
	if (a->param != b->param)
		return a->param < b->param;
	return a->trial < b->trial;
}

static int same_point(const struct child *a, const struct child *b)
{
	return !strcmp(a->metric, b->metric) && a->param == b->param &&
	       a->trial == b->trial;
}

static void reap(struct run *r, int s, struct child *c)
{
	char line[200];
	int st;

	if (c->to)
		fclose(c->to);
	if (c->from)
		fclose(c->from);
	c->to = c->from = NULL;
	c->parked = 0;
	if (c->pid <= 0)
		return;
	waitpid(c->pid, &st, 0);
	c->pid = 0;
	r->status[s] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (WIFSIGNALED(st)) {
		snprintf(line, sizeof(line), "the compare process died of "
			 "signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
		add_note(r, s, line);
	}
}

/* Reads the child's records until it parks before its next trial or
 * exits. Everything it does in between (set-up, fills, the stale-hit
 * scenarios) runs while every other process is parked. */
static void pump(struct run *r, int s, struct child *c)
{
	char line[1024], *f[5];

	c->parked = 0;
	while (c->from && fgets(line, sizeof(line), c->from)) {
		if (line[0] == 'W' && line[1] == '\t' &&
		    split(line, f, 5) == 5) {
			snprintf(c->metric, sizeof(c->metric), "%s", f[2]);
			c->param = atol(f[3]);
			c->trial = (unsigned int)atoi(f[4]);
			c->parked = 1;
			return;
		}
		parse_line(r, s, line);
	}
	reap(r, s, c);
}

static void start(struct run *r, int s, struct child *c, const char *compare,
		  const struct bopts *o)
{
	const struct bsys *b = r->sys[s];
	char trials[16], ents[16], runs[16], thr[16], own_path[PATH_MAX];
	const char *argv[24];
	int in[2], out[2], a = 0, i;

	snprintf(trials, sizeof(trials), "%lu", o->trials);
	snprintf(ents, sizeof(ents), "%lu", o->max_entries);
	snprintf(runs, sizeof(runs), "%lu", o->stale_runs);
	snprintf(thr, sizeof(thr), "%lu", o->threads);
	/* UCX and sanverbs run from binaries of their own: only those load
	 * libucm and libsanverbs (see bench/meson.build). */
	if (!strcmp(b->system, "ucx") || !strcmp(b->system, "sanverbs")) {
		int m = snprintf(own_path, sizeof(own_path), "%s-%s", compare,
				 !strcmp(b->system, "ucx") ? "ucx" : "sv");

		if (m > 0 && (size_t)m < sizeof(own_path) &&
		    !access(own_path, X_OK))
			compare = own_path;
	}
	argv[a++] = compare;
	argv[a++] = "--stepped";
	argv[a++] = "--system";
	argv[a++] = b->system;
	argv[a++] = "--label";
	argv[a++] = b->label;
	argv[a++] = "--trials";
	argv[a++] = trials;
	argv[a++] = "--max-entries";
	argv[a++] = ents;
	argv[a++] = "--stale-runs";
	argv[a++] = runs;
	argv[a++] = "--threads";
	argv[a++] = thr;
	if (o->only) {
		argv[a++] = "--only";
		argv[a++] = o->only;
	}
	if (o->quick)
		argv[a++] = "--quick";
	argv[a] = NULL;

	memset(c, 0, sizeof(*c));
	r->cached[s] = -1;
	/* O_CLOEXEC: a later child must not hold this one's pipes open. */
	if (pipe2(in, O_CLOEXEC)) {
		add_note(r, s, "pipe failed");
		r->status[s] = -1;
		return;
	}
	if (pipe2(out, O_CLOEXEC)) {
		close(in[0]);
		close(in[1]);
		add_note(r, s, "pipe failed");
		r->status[s] = -1;
		return;
	}
	fflush(NULL);
	c->pid = fork();
	if (c->pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		for (i = 0; b->env[i]; i++)
			putenv((char *)b->env[i]);
		execv(compare, (char *const *)argv);
		printf("N\t%s\tcannot run %s: %s\n", b->label, compare,
		       strerror(errno));
		fflush(stdout);
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	if (c->pid < 0) {
		close(in[1]);
		close(out[0]);
		add_note(r, s, "fork failed");
		r->status[s] = -1;
		return;
	}
	c->to = fdopen(in[1], "w");
	c->from = fdopen(out[0], "r");
	pump(r, s, c);
}

int drive_systems(struct run *r, const char *compare, const struct bopts *o)
{
	struct child c[MAX_SYS];
	double t0 = (double)time(NULL);
	int s, k, failed = 0;

	/* The driver writes to a child that may just have exited. */
	signal(SIGPIPE, SIG_IGN);
	for (s = 0; s < r->nsys; s++) {
		fprintf(stderr, "[bench %.0f s] start %s: %s\n",
			(double)time(NULL) - t0, r->sys[s]->label,
			r->sys[s]->desc);
		start(r, s, &c[s], compare, o);
	}
	for (;;) {
		struct child at;
		int best = -1, first;

		for (s = 0; s < r->nsys; s++)
			if (c[s].parked && (best < 0 || before(&c[s], &c[best])))
				best = s;
		if (best < 0)
			break;
		at = c[best];
		fprintf(stderr, "[bench %.0f s] %s %ld, trial %u/%lu\n",
			(double)time(NULL) - t0, at.metric, at.param,
			at.trial + 1, o->trials);
		/* Who goes first rotates with the trial, so no system always
		 * runs right after the same other one. */
		first = (int)(at.trial % (unsigned int)r->nsys);
		for (k = 0; k < r->nsys; k++) {
			s = (first + k) % r->nsys;
			if (!c[s].parked || !same_point(&c[s], &at))
				continue;
			if (fputs("go\n", c[s].to) < 0 || fflush(c[s].to)) {
				reap(r, s, &c[s]);
				continue;
			}
			pump(r, s, &c[s]);
		}
	}
	for (s = 0; s < r->nsys; s++)
		if (r->status[s])
			failed++;
	r->seconds = (double)time(NULL) - t0;
	return failed;
}

/* ib_write_bw (perftest) on the same device and message size, server and
 * client in this machine: the verbs-level ceiling for the write column. */
static double one_ib_write_bw(const char *dev, const char *gid,
			      const char *ip, char *why, size_t wlen)
{
	char cmd[512], line[512];
	double bw = -1;
	pid_t srv;
	FILE *p;
	int st, tries;

	fflush(NULL);
	srv = fork();
	if (srv == 0) {
		int null = open("/dev/null", 1);

		dup2(null, 1);
		dup2(null, 2);
		execlp("timeout", "timeout", "60", "ib_write_bw", "-d", dev,
		       "-x", gid, "-s", "65536", "-n", "512", "-F", NULL);
		_exit(127);
	}
	if (srv < 0) {
		snprintf(why, wlen, "fork failed");
		return -1;
	}
	for (tries = 0; tries < 5 && bw < 0; tries++) {
		/* The server needs a moment to listen under TCG. */
		sleep(tries ? 2 : 1);
		snprintf(cmd, sizeof(cmd), "timeout 60 ib_write_bw -d %s -x %s "
			 "-s 65536 -n 512 -F %s 2>&1", dev, gid, ip);
		p = popen(cmd, "r");
		if (!p)
			break;
		while (fgets(line, sizeof(line), p)) {
			double size, iters, peak, avg;

			if (sscanf(line, " %lf %lf %lf %lf", &size, &iters,
				   &peak, &avg) == 4 && size == 65536 &&
			    avg > 0)
				bw = avg;
		}
		st = pclose(p);
		if (bw < 0 && WIFEXITED(st) && WEXITSTATUS(st) == 127) {
			snprintf(why, wlen, "ib_write_bw not installed "
				 "(Debian package perftest)");
			break;
		}
		if (bw < 0)
			snprintf(why, wlen, "ib_write_bw client failed "
				 "(exit %d)", WIFEXITED(st) ?
				 WEXITSTATUS(st) : -1);
	}
	kill(srv, SIGTERM);
	waitpid(srv, &st, 0);
	return bw;
}

static int cmp_dbl(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

void run_ib_write_bw(struct run *r, const struct bopts *o)
{
	const char *gid = getenv("SANVERBS_RXE_GID_INDEX");
	const char *ip = getenv("SANVERBS_RXE_IP");
	double v[16];
	unsigned int t, n = o->trials < 3 ? (unsigned int)o->trials : 3;

	if (!r->device[0]) {
		snprintf(r->ibw_why, sizeof(r->ibw_why),
			 "no device was used by the compare runs");
		return;
	}
	for (t = 0; t < n; t++) {
		fprintf(stderr, "[bench] ib_write_bw on %s, run %u/%u\n",
			r->device, t + 1, n);
		v[r->ibw_n] = one_ib_write_bw(r->device, gid && *gid ? gid :
					      "1", ip && *ip ? ip :
					      "127.0.0.1", r->ibw_why,
					      sizeof(r->ibw_why));
		if (v[r->ibw_n] < 0)
			return;
		r->ibw_n++;
	}
	qsort(v, r->ibw_n, sizeof(v[0]), cmp_dbl);
	r->ibw_med = r->ibw_n % 2 ? v[r->ibw_n / 2] :
		     (v[r->ibw_n / 2 - 1] + v[r->ibw_n / 2]) / 2;
	r->ibw_min = v[0];
	r->ibw_max = v[r->ibw_n - 1];
	r->ibw_why[0] = 0;
}
