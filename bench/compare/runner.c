/* SPDX-License-Identifier: MIT */
/* sanverbs-bench: runs sanverbs-compare once per system (libfabric reads
 * its cache settings once per process), all at once and trial by trial
 * (drive.c), then ib_write_bw on the same device, and prints medians,
 * spreads and per-trial ratios from that one run (report.c). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "cli.h"
#include "runner.h"

#define SV_LIMITS "SANVERBS_CACHE_MAX_ENTRIES=200000", \
		  "SANVERBS_CACHE_MAX_BYTES=4G"
#define LF_LIMITS "FI_MR_CACHE_MAX_COUNT=200000", \
		  "FI_MR_CACHE_MAX_SIZE=4294967296"

/* The limits are raised for every cache alike so that the 100k-entry sweep
 * measures lookups, not evictions. Each sanverbs column names its monitor:
 * with the module loaded, "auto" would pick kmod for both. */
static const struct bsys all_systems[] = {
	{ "raw", "raw", "ibv_reg_mr + ibv_dereg_mr on every call", { NULL },
	  0 },
	{ "sanverbs", "sanverbs",
	  "sanverbs_mr_reg/dereg, cache on, userfaultfd monitor",
	  { "SANVERBS_MONITOR=uffd", SV_LIMITS, NULL }, 0 },
	{ "sv-kmod", "sanverbs",
	  "sanverbs_mr_reg/dereg, cache on, kmod monitor (/dev/sanverbs)",
	  { "SANVERBS_MONITOR=kmod", SV_LIMITS, NULL }, 0 },
	{ "lf-uffd", "libfabric",
	  "libfabric fi_mr_reg, verbs, MR cache + userfaultfd monitor",
	  { "FI_MR_CACHE_MONITOR=userfaultfd", LF_LIMITS, NULL }, 0 },
	{ "lf-memhooks", "libfabric",
	  "libfabric fi_mr_reg, verbs, MR cache + memhooks monitor",
	  { "FI_MR_CACHE_MONITOR=memhooks", LF_LIMITS, NULL }, 0 },
	{ "lf-nocache", "libfabric",
	  "libfabric fi_mr_reg, verbs, cache off (FI_MR_CACHE_MAX_COUNT=0)",
	  { "FI_MR_CACHE_MAX_COUNT=0", NULL }, 0 },
	{ "ucx", "ucx",
	  "UCX 1.13 uct_md_mem_reg, ib memory domain, rcache + UCM hooks",
	  { NULL }, 0 },
	{ "raw-ctl", "raw",
	  "a second raw process: the control for every ratio", { NULL }, 1 },
};

#define SYSTEM_NAMES "raw,sanverbs,sv-kmod,lf-uffd,lf-memhooks,lf-nocache," \
		     "ucx,raw-ctl"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sanverbs-bench [--json] [--quick] [--trials N] "
		"[--max-entries N]\n"
		"                      [--stale-runs N] [--threads N] "
		"[--systems LIST]\n"
		"                      [--only hit,miss,entries,threads,bw,"
		"stale]\n"
		"                      [--baseline LABEL] [--data DIR] "
		"[--json-out FILE]\n"
		"                      [--no-ib-write-bw] [--compare PATH]\n"
		"systems: " SYSTEM_NAMES " (default: all)\n"
		"Runs in the build tree (build/bench/); bench/run-compare.sh "
		"runs it on rxe.\n");
}

/* The compare program: --compare, $SANVERBS_COMPARE, or the one built
 * next to this binary. */
static const char *find_compare(const char *given, char *buf, size_t len)
{
	const char *env = getenv("SANVERBS_COMPARE");
	char self[PATH_MAX];
	ssize_t n;
	char *slash;

	if (given)
		return given;
	if (env && *env)
		return env;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return "sanverbs-compare";
	self[n] = 0;
	slash = strrchr(self, '/');
	if (slash)
		*slash = 0;
	if ((size_t)snprintf(buf, len, "%s/sanverbs-compare", self) >= len)
		return "sanverbs-compare";
	return buf;
}

/* Fails early, in one sentence, when there is no device to measure on. */
static int have_device(void)
{
	struct ibv_device **list;
	int n = 0;

	list = ibv_get_device_list(&n);
	if (!list) {
		fprintf(stderr, "sanverbs-bench: no RDMA device: %s\n",
			errno == ENOSYS ? "this kernel has no RDMA stack" :
			strerror(errno));
		return 0;
	}
	ibv_free_device_list(list);
	if (!n)
		fprintf(stderr, "sanverbs-bench: no RDMA device (load a driver "
			"or create one: rdma link add rxe0 type rxe netdev "
			"IFACE)\n");
	return n > 0;
}

static int parse_num(const char *opt, const char *v, unsigned long lo,
		     unsigned long hi, unsigned long *out)
{
	if (!cli_parse_uint(v, lo, hi, out))
		return 0;
	fprintf(stderr, "sanverbs-bench: %s wants a number in [%lu, %lu], "
		"not '%s'\n", opt, lo, hi, v);
	return -1;
}

int main(int argc, char **argv)
{
	enum { O_TRIALS = 256, O_MAXENT, O_STALE, O_THREADS, O_SYSTEMS,
	       O_ONLY, O_COMPARE, O_DATA, O_JSON_OUT, O_BASELINE, O_NOIBW };
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, 'j' },
		{ "quick", no_argument, NULL, 'q' },
		{ "no-ib-write-bw", no_argument, NULL, O_NOIBW },
		{ "trials", required_argument, NULL, O_TRIALS },
		{ "max-entries", required_argument, NULL, O_MAXENT },
		{ "stale-runs", required_argument, NULL, O_STALE },
		{ "threads", required_argument, NULL, O_THREADS },
		{ "systems", required_argument, NULL, O_SYSTEMS },
		{ "only", required_argument, NULL, O_ONLY },
		{ "compare", required_argument, NULL, O_COMPARE },
		{ "data", required_argument, NULL, O_DATA },
		{ "json-out", required_argument, NULL, O_JSON_OUT },
		{ "baseline", required_argument, NULL, O_BASELINE },
		{ NULL, 0, NULL, 0 },
	};
	struct bopts o = { .trials = 5, .max_entries = 100000,
			   .stale_runs = 20, .threads = 4, .ib_write_bw = 1,
			   .baseline = "sanverbs" };
	char cbuf[PATH_MAX];
	const char *compare;
	struct run *r;
	int i, c, bad = 0, failed;

	opterr = 1;
	while ((c = getopt_long(argc, argv, "hjq", opts, NULL)) != -1) {
		switch (c) {
		case 'h': usage(stdout); return CLI_EXIT_OK;
		case 'j': o.json = 1; break;
		case 'q': o.quick = 1; break;
		case O_NOIBW: o.ib_write_bw = 0; break;
		case O_TRIALS:
			/* A min-max spread needs three trials at least. */
			bad |= parse_num("--trials", optarg, 3, 64, &o.trials);
			break;
		case O_MAXENT:
			bad |= parse_num("--max-entries", optarg, 1000, 200000,
					 &o.max_entries);
			break;
		case O_STALE:
			bad |= parse_num("--stale-runs", optarg, 1, 10000,
					 &o.stale_runs);
			break;
		case O_THREADS:
			bad |= parse_num("--threads", optarg, 1, 64,
					 &o.threads);
			break;
		case O_SYSTEMS: o.systems = optarg; break;
		case O_ONLY: o.only = optarg; break;
		case O_COMPARE: o.compare = optarg; break;
		case O_DATA: o.data = optarg; break;
		case O_JSON_OUT: o.json_out = optarg; break;
		case O_BASELINE: o.baseline = optarg; break;
		default: bad = 1; break; /* getopt named the option */
		}
	}
	if (!bad && optind < argc) {
		fprintf(stderr, "sanverbs-bench: unexpected argument '%s'\n",
			argv[optind]);
		bad = 1;
	}
	if (bad) {
		fprintf(stderr, "Try 'sanverbs-bench --help'.\n");
		return CLI_EXIT_USAGE;
	}
	/* A given compare program may be a stand-in that needs no device. */
	if (!o.compare && !getenv("SANVERBS_COMPARE") && !have_device())
		return CLI_EXIT_FAIL;
	r = calloc(1, sizeof(*r));
	if (!r)
		return CLI_EXIT_FAIL;
	for (i = 0; i < (int)(sizeof(all_systems) / sizeof(all_systems[0]));
	     i++)
		if (!o.systems || list_has(o.systems, all_systems[i].label))
			r->sys[r->nsys++] = &all_systems[i];
	if (!r->nsys) {
		fprintf(stderr, "sanverbs-bench: --systems names none of "
			SYSTEM_NAMES "\n");
		free(r);
		return CLI_EXIT_USAGE;
	}
	r->baseline = o.baseline;
	if (sys_index(r, o.baseline) < 0 && !o.json)
		fprintf(stderr, "sanverbs-bench: baseline %s is not among the "
			"systems run; no ratio table\n", o.baseline);
	compare = find_compare(o.compare, cbuf, sizeof(cbuf));
	if (access(compare, X_OK)) {
		fprintf(stderr, "sanverbs-bench: cannot run %s: %s (build "
			"with libfabric-dev, or pass --compare)\n", compare,
			strerror(errno));
		free(r);
		return CLI_EXIT_FAIL;
	}

	failed = drive_systems(r, compare, &o);
	if (o.ib_write_bw && (!o.only || list_has(o.only, "bw")))
		run_ib_write_bw(r, &o);
	else
		snprintf(r->ibw_why, sizeof(r->ibw_why), "not asked for");
	fprintf(stderr, "[bench] trials done in %.0f s\n", r->seconds);

	if (o.data && write_data(r, o.data))
		fprintf(stderr, "sanverbs-bench: cannot write %s\n", o.data);
	if (o.json_out) {
		FILE *f = fopen(o.json_out, "w");

		if (f) {
			print_json(r, &o, f);
			fclose(f);
		} else {
			fprintf(stderr, "sanverbs-bench: cannot write %s: %s\n",
				o.json_out, strerror(errno));
		}
	}
	if (o.json)
		print_json(r, &o, stdout);
	else
		print_tables(r, &o);
	/* A peer that cannot run is a result (said in the notes), not a
	 * failure; only the run where nothing ran at all fails. */
	c = failed == r->nsys ? CLI_EXIT_FAIL : CLI_EXIT_OK;
	free(r);
	return c;
}
