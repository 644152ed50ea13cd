/* SPDX-License-Identifier: MIT */
/* sanverbs-compare: runs the registration measures and stale-hit scenarios
 * against ONE system in this process and prints records (out.h). The
 * benchmark runner (sanverbs-bench) runs one process per system, because
 * libfabric reads its cache settings once per process, and builds the ratio
 * table from all of them. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rdma/fabric.h>

#include "compare.h"
#include "out.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sanverbs-compare --system raw|sanverbs|libfabric|ucx "
		"[--label NAME]\n"
		"       [--trials N] [--max-entries N] [--threads N] "
		"[--stale-runs N]\n"
		"       [--only hit,miss,entries,threads,bw,stale] [--quick]\n"
		"       [--stepped]   (wait for a line on stdin before each "
		"timed trial)\n");
}

static int parse_uint(const char *s, unsigned int lo, unsigned int hi,
		      unsigned int *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || *s == '-' || v < lo || v > hi)
		return -EINVAL;
	*out = (unsigned int)v;
	return 0;
}

/* A cache hands back the same memory key for a range it has seen: decide
 * from behaviour, not from what the system's configuration claims. The
 * second and third registrations are compared, so a cache that keeps a
 * range only once it sees it again (sanverbs under userfaultfd) counts. */
static int probe_cached(struct cmp_sys *s)
{
	static char page[4096] __attribute__((aligned(4096)));
	struct cmp_reg a, b;
	int cached, i;

	for (i = 0; i < 2; i++) {
		if (s->reg(s, page, sizeof(page), 0, &a))
			return 0;
		s->dereg(s, &a);
	}
	if (s->reg(s, page, sizeof(page), 0, &b))
		return 0;
	cached = a.lkey == b.lkey;
	s->dereg(s, &b);
	return cached;
}

static int want(const char *only, const char *what)
{
	size_t n = strlen(what);
	const char *p = only;

	if (!only)
		return 1;
	while ((p = strstr(p, what))) {
		if ((p == only || p[-1] == ',') && (p[n] == ',' || !p[n]))
			return 1;
		p += n;
	}
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "system", required_argument, NULL, 's' },
		{ "label", required_argument, NULL, 'l' },
		{ "trials", required_argument, NULL, 't' },
		{ "max-entries", required_argument, NULL, 'e' },
		{ "threads", required_argument, NULL, 'T' },
		{ "stale-runs", required_argument, NULL, 'r' },
		{ "only", required_argument, NULL, 'o' },
		{ "quick", no_argument, NULL, 'q' },
		{ "stepped", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cmp_opts o = { .trials = 5, .max_entries = 100000,
			      .threads_max = 4, .stale_runs = 20 };
	struct cmp_sys *s = NULL;
	const char *only = NULL;
	struct cmp_peer peer;
	char why[256] = "";
	int c, ret;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 's':
			if (!strcmp(optarg, "raw"))
				s = &cmp_sys_raw;
			else if (!strcmp(optarg, "sanverbs"))
#ifdef CMP_HAVE_SANVERBS
				s = &cmp_sys_sanverbs;
#else
			{
				cmp_label = "sanverbs";
				cmp_note("cannot run: this sanverbs-compare "
					 "does not load libsanverbs "
					 "(sanverbs-compare-sv does)");
				return 2;
			}
#endif
			else if (!strcmp(optarg, "libfabric"))
				s = &cmp_sys_libfabric;
			else if (!strcmp(optarg, "ucx"))
#ifdef CMP_HAVE_UCX
				s = &cmp_sys_ucx;
#else
			{
				cmp_label = "ucx";
				cmp_note("cannot run: sanverbs-compare was "
					 "built without UCX (Debian "
					 "libucx-dev)");
				return 2;
			}
#endif
			else
				goto bad;
			break;
		case 'l':
			cmp_label = optarg;
			break;
		case 't':
			if (parse_uint(optarg, 1, 64, &o.trials))
				goto bad;
			break;
		case 'e':
			if (parse_uint(optarg, 1000, 200000, &o.max_entries))
				goto bad;
			break;
		case 'T':
			if (parse_uint(optarg, 1, 64, &o.threads_max))
				goto bad;
			break;
		case 'r':
			if (parse_uint(optarg, 1, 10000, &o.stale_runs))
				goto bad;
			break;
		case 'o':
			only = optarg;
			break;
		case 'q':
			o.quick = 1;
			break;
		case 'S':
			cmp_stepped = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			goto bad;
		}
	}
	if (!s || optind != argc)
		goto bad;
	if (!strcmp(cmp_label, "?"))
		cmp_label = s->name;

	ret = s->open(s, why, sizeof(why));
	if (ret) {
		cmp_note("cannot run: %s", why);
		return 2;
	}
	s->cached = probe_cached(s);
	cmp_info("cached", "%d", s->cached);
	if (s == &cmp_sys_libfabric)
		cmp_info("version", "libfabric %u.%u", FI_MAJOR(fi_version()),
			 FI_MINOR(fi_version()));
	cmp_info("device", "%s", s->verbs ?
		 ibv_get_device_name(s->verbs->device) :
		 cmp_device() ? cmp_device() : "?");

	if (want(only, "hit"))
		cmp_measure_hit(s, &o);
	if (want(only, "miss"))
		cmp_measure_miss_unmap(s, &o);
	if (want(only, "entries"))
		cmp_measure_entries(s, &o);
	if (want(only, "threads"))
		cmp_measure_threads(s, &o);
	if ((want(only, "bw") || want(only, "stale")) && !s->pd) {
		cmp_note("%s keeps its protection domain private, so no peer "
			 "QP can use its keys: no write bandwidth, and stale "
			 "hits are inferred from handle+key reuse instead of "
			 "proven by RDMA", s->name);
		if (want(only, "stale"))
			cmp_stale_scenarios(s, NULL, &o);
	} else if (want(only, "bw") || want(only, "stale")) {
		ret = cmp_peer_create(&peer, s->verbs, s->pd, s->port);
		if (ret) {
			cmp_note("cannot build the RDMA peer QPs: %s",
				 strerror(-ret));
		} else {
			if (want(only, "bw"))
				cmp_measure_write_bw(s, &peer, &o);
			if (want(only, "stale"))
				cmp_stale_scenarios(s, &peer, &o);
			cmp_peer_destroy(&peer);
		}
	}
	s->close(s);
	return 0;
bad:
	usage(stderr);
	return 1;
}
