/* SPDX-License-Identifier: MIT */
/* sanverbs bench: runs sanverbs-compare once per system (libfabric reads
 * its cache settings once per process), all of them at once but paced
 * trial by trial in round robin (see bench/compare/out.h), then
 * ib_write_bw on the same device, and prints medians, spreads and ratios
 * from that one run. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

#define MAX_REC 512
#define MAX_SYS 8

struct bsys {
	const char *label;
	const char *system;
	const char *desc;
	const char *env[5];
};

/* The limits are raised for every cache alike so that the 100k-entry sweep
 * measures lookups, not evictions. */
static const struct bsys all_systems[] = {
	{ "raw", "raw", "ibv_reg_mr + ibv_dereg_mr on every call", { NULL } },
	{ "sanverbs", "sanverbs",
	  "sanverbs_mr_reg/dereg, cache on, userfaultfd monitor",
	  { "SANVERBS_MONITOR=uffd", "SANVERBS_CACHE_MAX_ENTRIES=200000",
	    "SANVERBS_CACHE_MAX_BYTES=4G", NULL } },
	{ "sv-kmod", "sanverbs",
	  "sanverbs_mr_reg/dereg, cache on, kernel module's monitor",
	  { "SANVERBS_MONITOR=kmod", "SANVERBS_CACHE_MAX_ENTRIES=200000",
	    "SANVERBS_CACHE_MAX_BYTES=4G", NULL } },
	{ "lf-uffd", "libfabric",
	  "libfabric fi_mr_reg, verbs, MR cache + userfaultfd monitor",
	  { "FI_MR_CACHE_MONITOR=userfaultfd", "FI_MR_CACHE_MAX_COUNT=200000",
	    "FI_MR_CACHE_MAX_SIZE=4294967296", NULL } },
	{ "lf-memhooks", "libfabric",
	  "libfabric fi_mr_reg, verbs, MR cache + memhooks monitor",
	  { "FI_MR_CACHE_MONITOR=memhooks", "FI_MR_CACHE_MAX_COUNT=200000",
	    "FI_MR_CACHE_MAX_SIZE=4294967296", NULL } },
	{ "lf-nocache", "libfabric",
	  "libfabric fi_mr_reg, verbs, cache off (FI_MR_CACHE_MAX_COUNT=0)",
	  { "FI_MR_CACHE_MAX_COUNT=0", NULL } },
	{ "ucx", "ucx",
	  "UCX 1.13 uct_md_mem_reg, ib memory domain, rcache + UCM hooks",
	  { NULL } },
};

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
	/* ib_write_bw on the same device */
	double ibw_med, ibw_min, ibw_max;
	int ibw_n;
	char ibw_why[200];
	const char *baseline;
	char device[64];
};

struct bopts {
	int json, quick;
	unsigned long trials, max_entries, stale_runs, threads;
	const char *only, *systems, *compare, *data, *baseline, *json_out;
	int ib_write_bw;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sanverbs bench [--json] [--quick] [--trials N] "
		"[--max-entries N]\n"
		"                      [--stale-runs N] [--threads N] "
		"[--systems LIST]\n"
		"                      [--only hit,miss,entries,threads,bw,"
		"stale]\n"
		"                      [--baseline LABEL] [--data DIR] "
		"[--json-out FILE]\n"
		"                      [--no-ib-write-bw] [--compare PATH]\n"
		"systems: raw,sanverbs,sv-kmod,lf-uffd,lf-memhooks,lf-nocache,ucx "
		"(default: all)\n");
}

/* The compare program: --compare, $SANVERBS_COMPARE, next to this binary
 * in a build tree (../bench/), or the installed libexec copy. */
static const char *find_compare(const char *given, char *buf, size_t len)
{
	char self[PATH_MAX];
	const char *env = getenv("SANVERBS_COMPARE");
	ssize_t n;
	char *slash;

	if (given)
		return given;
	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		slash = strrchr(self, '/');
		if (slash) {
			*slash = 0;
			int m = snprintf(buf, len,
					 "%s/../bench/sanverbs-compare", self);

			if (m > 0 && (size_t)m < len && !access(buf, X_OK))
				return buf;
		}
	}
	snprintf(buf, len, "%s/sanverbs/sanverbs-compare", SV_LIBEXECDIR);
	return buf;
}

static int list_has(const char *list, const char *item)
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

static int sys_index(const struct run *r, const char *label)
{
	int i;

	for (i = 0; i < r->nsys; i++)
		if (!strcmp(r->sys[i]->label, label))
			return i;
	return -1;
}

static void add_note(struct run *r, int s, const char *text)
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

/* One compare process, started with --turns: it announces each timed
 * trial with a T record and waits for a line on its stdin. */
struct proc {
	pid_t pid;
	FILE *in;     /* its stdout */
	int go;       /* its stdin */
	int waiting;  /* stopped at a turn whose key is below */
	long key[3];  /* measure, param, trial */
};

static int start_system(struct run *r, int s, const char *compare,
			const struct bopts *o, struct proc *p)
{
	const struct bsys *b = r->sys[s];
	char trials[16], ents[16], runs[16], thr[16], ucx_path[PATH_MAX];
	const char *argv[21];
	int out[2], in[2], a = 0, i;
	pid_t pid;

	snprintf(trials, sizeof(trials), "%lu", o->trials);
	snprintf(ents, sizeof(ents), "%lu", o->max_entries);
	snprintf(runs, sizeof(runs), "%lu", o->stale_runs);
	snprintf(thr, sizeof(thr), "%lu", o->threads);
	/* UCX runs from its own binary (see bench/meson.build). */
	if (!strcmp(b->system, "ucx")) {
		int m = snprintf(ucx_path, sizeof(ucx_path), "%s-ucx", compare);

		if (m > 0 && (size_t)m < sizeof(ucx_path) &&
		    !access(ucx_path, X_OK))
			compare = ucx_path;
	}
	argv[a++] = compare;
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
	argv[a++] = "--turns";
	if (o->only) {
		argv[a++] = "--only";
		argv[a++] = o->only;
	}
	if (o->quick)
		argv[a++] = "--quick";
	argv[a] = NULL;

	r->cached[s] = -1;
	memset(p, 0, sizeof(*p));
	p->pid = -1;
	if (pipe2(out, O_CLOEXEC)) {
		add_note(r, s, "pipe failed");
		r->status[s] = -1;
		return -1;
	}
	if (pipe2(in, O_CLOEXEC)) {
		close(out[0]);
		close(out[1]);
		add_note(r, s, "pipe failed");
		r->status[s] = -1;
		return -1;
	}
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(in[0], 0);
		for (i = 0; b->env[i]; i++)
			putenv((char *)b->env[i]);
		execv(compare, (char *const *)argv);
		printf("N\t%s\tcannot run %s: %s\n", b->label, compare,
		       strerror(errno));
		fflush(stdout);
		_exit(127);
	}
	close(out[1]);
	close(in[0]);
	if (pid < 0) {
		close(out[0]);
		close(in[1]);
		add_note(r, s, "fork failed");
		r->status[s] = -1;
		return -1;
	}
	p->pid = pid;
	p->in = fdopen(out[0], "r");
	p->go = in[1];
	return 0;
}

/* Reads @p's records until it stops at its next turn or ends. */
static void follow(struct run *r, int s, struct proc *p)
{
	char line[1024];
	int st;

	p->waiting = 0;
	while (p->in && fgets(line, sizeof(line), p->in)) {
		if (line[0] == 'T' && line[1] == '\t') {
			char *f[6];

			if (split(line, f, 6) >= 5) {
				p->key[0] = atol(f[2]);
				p->key[1] = atol(f[3]);
				p->key[2] = atol(f[4]);
				p->waiting = 1;
				return;
			}
			continue;
		}
		parse_line(r, s, line);
	}
	if (p->in)
		fclose(p->in);
	p->in = NULL;
	close(p->go);
	waitpid(p->pid, &st, 0);
	p->pid = -1;
	r->status[s] = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	if (WIFSIGNALED(st)) {
		snprintf(line, sizeof(line), "the compare process died of "
			 "signal %d (%s)", WTERMSIG(st),
			 strsignal(WTERMSIG(st)));
		add_note(r, s, line);
	}
}

static int key_cmp(const long *a, const long *b)
{
	int i;

	for (i = 0; i < 3; i++)
		if (a[i] != b[i])
			return a[i] < b[i] ? -1 : 1;
	return 0;
}

/* Runs every system's process at once and lets exactly one of them run at
 * a time: the lowest pending (measure, param, trial) first, every system at
 * that key in turn, the first of them rotating from round to round so no
 * system always follows the same one. */
static void run_interleaved(struct run *r, const char *compare,
			    const struct bopts *o)
{
	struct proc p[MAX_SYS];
	unsigned int round = 0;
	int s, k;

	for (s = 0; s < r->nsys; s++)
		if (!start_system(r, s, compare, o, &p[s]))
			follow(r, s, &p[s]);
	for (;;) {
		const long *min = NULL;

		for (s = 0; s < r->nsys; s++)
			if (p[s].pid > 0 && p[s].waiting &&
			    (!min || key_cmp(p[s].key, min) < 0))
				min = p[s].key;
		if (!min)
			break;
		{
			long key[3] = { min[0], min[1], min[2] };

			for (k = 0; k < r->nsys; k++) {
				s = (int)((k + round) % (unsigned int)r->nsys);
				if (p[s].pid <= 0 || !p[s].waiting ||
				    key_cmp(p[s].key, key))
					continue;
				/* if it is gone, follow() collects what it
				 * said and how it ended */
				(void)!write(p[s].go, "g\n", 2);
				follow(r, s, &p[s]);
			}
		}
		round++;
	}
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

static void run_ib_write_bw(struct run *r, const struct bopts *o)
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

static const struct rec *find(const struct run *r, int s, const char *metric,
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
		printf(" %-24s", "-");
		return;
	}
	fmt_val(m, sizeof(m), x->med);
	fmt_val(lo, sizeof(lo), x->min);
	fmt_val(hi, sizeof(hi), x->max);
	snprintf(c, sizeof(c), "%s [%s-%s]", m, lo, hi);
	printf(" %-24s", c);
}

static void header(const struct run *r, const char *first)
{
	int s;

	printf("%-20s", first);
	for (s = 0; s < r->nsys; s++)
		printf(" %-24s", r->sys[s]->label);
	printf("\n");
}

/* Ratio "how many times the baseline is better": cost metrics divide the
 * other system by the baseline, throughput metrics the other way round. */
static double ratio(const struct rec *base, const struct rec *other)
{
	int higher_better;

	if (!base || !other || base->med <= 0 || other->med <= 0)
		return -1;
	higher_better = !strcmp(base->unit, "ops/s") ||
			!strcmp(base->unit, "MiB/s");
	return higher_better ? base->med / other->med :
			       other->med / base->med;
}

static double quot(const struct rec *x, const struct rec *y)
{
	return x && y && x->med > 0 && y->med > 0 ? x->med / y->med : -1;
}

static void qcell(double q)
{
	char c[32] = "-";

	if (q > 0)
		snprintf(c, sizeof(c), "%.3g", q);
	printf(" %-24s", c);
}

/* Each system against raw verbs and against itself, from the same rounds:
 * what a cache adds to a first registration, what its monitor adds to an
 * munmap, and the control that says whether the rounds were fair (munmap
 * of memory nobody registered costs the same in every process: 1.0). */
static void print_vs_raw(const struct run *r)
{
	int raw = sys_index(r, "raw"), s;

	printf("\nAgainst raw verbs and against itself (median / median, "
	       "same rounds; lower is better)\n");
	header(r, "ratio");
	if (raw >= 0) {
		printf("%-20s", "hit / raw hit");
		for (s = 0; s < r->nsys; s++)
			qcell(quot(find(r, s, "hit", -1),
				   find(r, raw, "hit", -1)));
		printf("\n%-20s", "miss / raw miss");
		for (s = 0; s < r->nsys; s++)
			qcell(quot(find(r, s, "miss", -1),
				   find(r, raw, "miss", -1)));
		printf("\n%-20s", "control: plain unmap");
		for (s = 0; s < r->nsys; s++)
			qcell(quot(find(r, s, "unmap_plain", -1),
				   find(r, raw, "unmap_plain", -1)));
		printf("\n");
	}
	printf("%-20s", "unmap cached/plain");
	for (s = 0; s < r->nsys; s++)
		qcell(quot(find(r, s, "unmap_cached", -1),
			   find(r, s, "unmap_plain", -1)));
	printf("\n%-20s", "2 threads / 1");
	for (s = 0; s < r->nsys; s++)
		qcell(quot(find(r, s, "mt_hit", 2), find(r, s, "mt_hit", 1)));
	printf("\n");
	if (raw >= 0)
		printf("(control: munmap of never-registered memory in each "
		       "process over raw's; 1.0 when the rounds saw the same "
		       "machine)\n");
}

static void print_tables(const struct run *r, const struct bopts *o)
{
	static const char *const costs[] = { "hit", "hit_remote", "miss",
					     "unmap_cached", "unmap_plain" };
	long params[32];
	int s, i, n, b = sys_index(r, r->baseline);

	printf("sanverbs bench on %s: median [min-max] of %lu trials, "
	       "systems interleaved trial by trial%s\n\n",
	       r->device[0] ? r->device : "?", o->trials,
	       o->quick ? " (--quick sizes)" : "");
	for (s = 0; s < r->nsys; s++)
		printf("  %-12s %s%s%s%s\n", r->sys[s]->label,
		       r->sys[s]->desc, r->info[s][0] ? ", " : "", r->info[s],
		       r->cached[s] == 0 ? " [no cache observed]" :
		       r->cached[s] == 1 ? " [cache observed]" : "");

	printf("\nRegistration cost, ns per call on 64 KiB buffers (lower is "
	       "better)\n");
	printf("  hit = reg+dereg of a range registered before (local "
	       "access);\n  hit_remote = the same with remote read/write "
	       "(an rkey); miss = first reg;\n  unmap_cached = munmap of a "
	       "released, cached range; unmap_plain = munmap\n  of memory "
	       "never registered\n");
	header(r, "metric");
	for (i = 0; i < 5; i++) {
		printf("%-20s", costs[i]);
		for (s = 0; s < r->nsys; s++)
			cell(find(r, s, costs[i], -1));
		printf("\n");
	}

	n = params_of(r, "hit_entries", params, 32);
	if (n) {
		printf("\nHit cost vs cached entries, ns per reg+dereg of a "
		       "random 4 KiB entry\n");
		header(r, "entries");
		for (i = 0; i < n; i++) {
			printf("%-20ld", params[i]);
			for (s = 0; s < r->nsys; s++)
				cell(find(r, s, "hit_entries", params[i]));
			printf("\n");
		}
	}
	n = params_of(r, "mt_hit", params, 32);
	if (n) {
		printf("\nMulti-threaded hits, total reg+dereg per second "
		       "(higher is better)\n");
		header(r, "threads");
		for (i = 0; i < n; i++) {
			printf("%-20ld", params[i]);
			for (s = 0; s < r->nsys; s++)
				cell(find(r, s, "mt_hit", params[i]));
			printf("\n");
		}
	}
	printf("\nRDMA write bandwidth, 64 KiB writes, 16 in flight, MiB/s\n");
	header(r, "");
	printf("%-20s", "write_bw");
	for (s = 0; s < r->nsys; s++)
		cell(find(r, s, "write_bw", -1));
	printf("\n");
	if (r->ibw_n)
		printf("ib_write_bw (perftest, same device): %.2f [%.2f-%.2f] "
		       "MiB/s over %d run(s)\n", r->ibw_med, r->ibw_min,
		       r->ibw_max, r->ibw_n);
	else if (r->ibw_why[0])
		printf("ib_write_bw: not measured: %s\n", r->ibw_why);

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
		int seen = 0, j;

		if (x->kind != 'S')
			continue;
		for (j = 0; j < i; j++)
			if (r->rec[j].kind == 'S' &&
			    !strcmp(r->rec[j].metric, x->metric))
				seen = 1;
		if (seen)
			continue;
		printf("%-20s", x->metric);
		for (s = 0; s < r->nsys; s++) {
			const struct rec *y = find_stale(r, s, x->metric);
			char c[64];

			if (!y) {
				printf(" %-24s", "-");
				continue;
			}
			snprintf(c, sizeof(c), "%d/%d%s%s", y->n[0],
				 y->n[0] + y->n[1] + y->n[2] + y->n[3],
				 y->n[0] ? " STALE" : "",
				 !strncmp(y->detail, "inferred", 8) ?
				 " (inferred)" : "");
			if (y->n[2])
				snprintf(c + strlen(c), sizeof(c) - strlen(c),
					 " err %d", y->n[2]);
			if (y->n[3])
				snprintf(c + strlen(c), sizeof(c) - strlen(c),
					 " skip %d", y->n[3]);
			printf(" %-24s", c);
		}
		printf("\n");
	}

	if (b >= 0) {
		static const struct { const char *m; long p; const char *t; }
		rows[] = {
			{ "hit", -1, "hit" },
			{ "hit_remote", -1, "hit_remote" },
			{ "miss", -1, "miss" },
			{ "unmap_cached", -1, "unmap_cached" },
			{ "hit_entries", 1000, "hit @1k entries" },
			{ "hit_entries", 10000, "hit @10k entries" },
			{ "hit_entries", 100000, "hit @100k entries" },
			{ "mt_hit", 1, "hits, 1 thread" },
			{ "mt_hit", 2, "hits, 2 threads" },
			{ "mt_hit", 4, "hits, 4 threads" },
			{ "write_bw", -1, "write_bw" },
		};

		printf("\nRatios: how many times %s is better than each "
		       "system (>1 = %s wins)\n", r->baseline, r->baseline);
		header(r, "metric");
		for (i = 0; i < (int)(sizeof(rows) / sizeof(rows[0])); i++) {
			const struct rec *base = find(r, b, rows[i].m,
						      rows[i].p);

			if (!base)
				continue;
			printf("%-20s", rows[i].t);
			for (s = 0; s < r->nsys; s++) {
				double q = ratio(base, find(r, s, rows[i].m,
							    rows[i].p));
				char c[32] = "-";

				if (q > 0)
					snprintf(c, sizeof(c), "%.3gx", q);
				printf(" %-24s", c);
			}
			printf("\n");
		}
		if (r->ibw_n && find(r, b, "write_bw", -1))
			printf("%-20s %.2fx of ib_write_bw\n", "write_bw/perftest",
			       find(r, b, "write_bw", -1)->med / r->ibw_med);
	}

	print_vs_raw(r);

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

static void print_json(const struct run *r, const struct bopts *o, FILE *f)
{
	struct jw w;
	int s, i;

	jw_init(&w, f);
	jw_obj_begin(&w, NULL);
	jw_int(&w, "version", 1);
	jw_str(&w, "device", r->device[0] ? r->device : NULL);
	jw_uint(&w, "trials", o->trials);
	jw_bool(&w, "quick", o->quick);
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
static int write_data(const struct run *r, const char *dir)
{
	char path[PATH_MAX];
	int s, i;
	FILE *f;

	if (mkdir(dir, 0755) && errno != EEXIST)
		return -errno;
	for (s = 0; s < r->nsys; s++) {
		const struct rec *h = find(r, s, "hit", -1);
		int any = 0;

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

int cli_bench(int argc, char **argv)
{
	struct bopts o = { .trials = 5, .max_entries = 100000,
			   .stale_runs = 20, .threads = 4, .ib_write_bw = 1,
			   .baseline = "sanverbs" };
	char cbuf[PATH_MAX];
	const char *compare;
	struct run *r;
	int i, s, failed = 0;
	double t0;

	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(a, "--json")) {
			o.json = 1;
		} else if (!strcmp(a, "--quick")) {
			o.quick = 1;
		} else if (!strcmp(a, "--no-ib-write-bw")) {
			o.ib_write_bw = 0;
		} else if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
			usage(stdout);
			return CLI_EXIT_OK;
		} else if (v && !strcmp(a, "--trials")) {
			if (cli_parse_uint(v, 1, 64, &o.trials))
				goto bad;
			i++;
		} else if (v && !strcmp(a, "--max-entries")) {
			if (cli_parse_uint(v, 1000, 200000, &o.max_entries))
				goto bad;
			i++;
		} else if (v && !strcmp(a, "--stale-runs")) {
			if (cli_parse_uint(v, 1, 10000, &o.stale_runs))
				goto bad;
			i++;
		} else if (v && !strcmp(a, "--threads")) {
			if (cli_parse_uint(v, 1, 64, &o.threads))
				goto bad;
			i++;
		} else if (v && !strcmp(a, "--systems")) {
			o.systems = v;
			i++;
		} else if (v && !strcmp(a, "--only")) {
			o.only = v;
			i++;
		} else if (v && !strcmp(a, "--compare")) {
			o.compare = v;
			i++;
		} else if (v && !strcmp(a, "--data")) {
			o.data = v;
			i++;
		} else if (v && !strcmp(a, "--json-out")) {
			o.json_out = v;
			i++;
		} else if (v && !strcmp(a, "--baseline")) {
			o.baseline = v;
			i++;
		} else {
			goto bad;
		}
	}
	r = calloc(1, sizeof(*r));
	if (!r)
		return CLI_EXIT_FAIL;
	for (i = 0; i < (int)(sizeof(all_systems) / sizeof(all_systems[0]));
	     i++)
		if (!o.systems || list_has(o.systems, all_systems[i].label))
			r->sys[r->nsys++] = &all_systems[i];
	if (!r->nsys) {
		fprintf(stderr, "sanverbs bench: --systems names none of raw,"
			"sanverbs,sv-kmod,lf-uffd,lf-memhooks,lf-nocache,ucx\n");
		free(r);
		return CLI_EXIT_USAGE;
	}
	r->baseline = o.baseline;
	if (sys_index(r, o.baseline) < 0 && !o.json)
		fprintf(stderr, "sanverbs bench: baseline %s is not among the "
			"systems run; no ratio table\n", o.baseline);
	compare = find_compare(o.compare, cbuf, sizeof(cbuf));
	if (access(compare, X_OK)) {
		fprintf(stderr, "sanverbs bench: cannot run %s: %s (build "
			"with libfabric-dev, or pass --compare)\n", compare,
			strerror(errno));
		free(r);
		return CLI_EXIT_FAIL;
	}

	/* A compare process that died must not take the driver with it
	 * (its death is collected and noted instead). */
	signal(SIGPIPE, SIG_IGN);
	t0 = (double)time(NULL);
	for (s = 0; s < r->nsys; s++)
		fprintf(stderr, "[bench] %s: %s\n", r->sys[s]->label,
			r->sys[s]->desc);
	run_interleaved(r, compare, &o);
	for (s = 0; s < r->nsys; s++)
		if (r->status[s])
			failed++;
	if (o.ib_write_bw && (!o.only || list_has(o.only, "bw")))
		run_ib_write_bw(r, &o);
	else
		snprintf(r->ibw_why, sizeof(r->ibw_why), "not asked for");
	fprintf(stderr, "[bench] done in %.0f s\n", (double)time(NULL) - t0);

	if (o.data && write_data(r, o.data))
		fprintf(stderr, "sanverbs bench: cannot write %s\n", o.data);
	if (o.json_out) {
		FILE *f = fopen(o.json_out, "w");

		if (f) {
			print_json(r, &o, f);
			fclose(f);
		} else {
			fprintf(stderr, "sanverbs bench: cannot write %s: %s\n",
				o.json_out, strerror(errno));
		}
	}
	if (o.json)
		print_json(r, &o, stdout);
	else
		print_tables(r, &o);
	free(r);
	/* A peer that cannot run is a result (said in the notes), not a
	 * failure; only the run where nothing ran at all fails. */
	return failed == s ? CLI_EXIT_FAIL : CLI_EXIT_OK;
bad:
	fprintf(stderr, "sanverbs bench: bad or incomplete argument '%s'\n",
		argv[i]);
	usage(stderr);
	return CLI_EXIT_USAGE;
}
