/* SPDX-License-Identifier: MIT */
/* sanverbs stat: read the cache counters a process exports on its
 * "sanverbs.<pid>" abstract unix socket (SANVERBS_STATS=1). */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "cli.h"
#include "src/stats_export.h"

#define MAX_PIDS 256
#define MAX_CTX 64

static const char *const counters[] = { "hits", "misses", "evictions",
					"invalidations", "uncached",
					"entries", "bytes_pinned", "flags" };
#define NCOUNTERS (sizeof(counters) / sizeof(counters[0]))

struct sctx {
	int index;
	char device[64];
	char monitor[64];
	unsigned long long v[NCOUNTERS];
	int error;
};

struct sproc {
	long pid;
	int nctx;
	struct sctx ctx[MAX_CTX];
	int complete; /* saw "end" */
};

/* Reads the whole snapshot of @pid into @buf: 0 or -errno. */
static int fetch(long pid, char *buf, size_t len)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = 3 };
	size_t off = 0;
	socklen_t alen;
	int fd, n;

	n = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s%ld",
		     SV_STATS_SOCK_PREFIX, pid);
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* A process that stopped answering must not hang the tool. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, alen)) {
		int err = -errno;

		close(fd);
		return err;
	}
	while (off + 1 < len) {
		ssize_t r = read(fd, buf + off, len - 1 - off);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r < 0) {
				int err = -errno;

				close(fd);
				return err;
			}
			break;
		}
		off += (size_t)r;
	}
	buf[off] = 0;
	close(fd);
	return 0;
}

static int parse(char *text, struct sproc *p)
{
	char *save = NULL, *line;
	struct sctx *c = NULL;
	size_t i;

	line = strtok_r(text, "\n", &save);
	if (!line || strcmp(line, SV_STATS_PROTO))
		return -EPROTO;
	while ((line = strtok_r(NULL, "\n", &save))) {
		char key[32], val[64];
		int idx;

		if (!strcmp(line, "end")) {
			p->complete = 1;
			break;
		}
		if (sscanf(line, "ctx %d %63s", &idx, val) == 2) {
			if (p->nctx == MAX_CTX)
				return -E2BIG;
			c = &p->ctx[p->nctx++];
			memset(c, 0, sizeof(*c));
			c->index = idx;
			snprintf(c->device, sizeof(c->device), "%s", val);
			continue;
		}
		if (!c || sscanf(line, "%31s %63s", key, val) != 2)
			continue;
		if (!strcmp(key, "monitor"))
			snprintf(c->monitor, sizeof(c->monitor), "%s", val);
		else if (!strcmp(key, "error"))
			c->error = 1;
		for (i = 0; i < NCOUNTERS; i++)
			if (!strcmp(key, counters[i]))
				c->v[i] = strtoull(val, NULL, 10);
	}
	return p->complete ? 0 : -EPROTO;
}

/* PIDs with a "@sanverbs.<pid>" socket, from /proc/net/unix. */
static int discover(long *pids, int max)
{
	char line[512];
	int n = 0, i;
	FILE *f = fopen("/proc/net/unix", "r");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f) && n < max) {
		char *at = strstr(line, "@" SV_STATS_SOCK_PREFIX);
		char *end;
		long pid;

		if (!at)
			continue;
		pid = strtol(at + 1 + strlen(SV_STATS_SOCK_PREFIX), &end, 10);
		if (pid <= 0 || (*end != '\n' && *end != 0 && *end != ' '))
			continue;
		for (i = 0; i < n && pids[i] != pid; i++)
			;
		if (i == n)
			pids[n++] = pid;
	}
	fclose(f);
	return n;
}

static void print_proc(const struct sproc *p)
{
	int i;

	for (i = 0; i < p->nctx; i++) {
		const struct sctx *c = &p->ctx[i];
		unsigned long long lookups = c->v[0] + c->v[1];

		if (c->error) {
			printf("%-8ld %-4d %-8s stats unavailable\n", p->pid,
			       c->index, c->device);
			continue;
		}
		printf("%-8ld %-4d %-8s %-7s %10llu %10llu %6.1f%% %9llu "
		       "%9llu %9llu %9llu %12llu\n",
		       p->pid, c->index, c->device, c->monitor, c->v[0],
		       c->v[1], lookups ? 100.0 * c->v[0] / lookups : 0.0,
		       c->v[2], c->v[3], c->v[4], c->v[5], c->v[6]);
	}
	if (!p->nctx)
		printf("%-8ld (no open context)\n", p->pid);
}

static void json_proc(struct jw *w, const struct sproc *p)
{
	size_t k;
	int i;

	jw_obj_begin(w, NULL);
	jw_int(w, "pid", p->pid);
	jw_arr_begin(w, "contexts");
	for (i = 0; i < p->nctx; i++) {
		const struct sctx *c = &p->ctx[i];

		jw_obj_begin(w, NULL);
		jw_int(w, "index", c->index);
		jw_str(w, "device", c->device);
		jw_bool(w, "available", !c->error);
		if (!c->error) {
			jw_str(w, "monitor", c->monitor);
			for (k = 0; k < NCOUNTERS; k++)
				jw_uint(w, counters[k], c->v[k]);
		}
		jw_obj_end(w);
	}
	jw_arr_end(w);
	jw_obj_end(w);
}

static const char stat_usage[] =
	"usage: sanverbs stat [--json] [PID...]\n"
	"\n"
	"Cache counters of running processes that set SANVERBS_STATS=1 (all\n"
	"of them when no PID is given), one line per open context: hits,\n"
	"misses, hit ratio, evictions, invalidations, uncached registrations,\n"
	"cached entries and bytes pinned.\n"
	"\n"
	"  -j, --json   one JSON document instead of the table\n"
	"  -h, --help   this text\n";

int cli_stat(int argc, char **argv)
{
	static char buf[65536];
	long pids[MAX_PIDS];
	int npids = 0, json = 0, explicit = 0, i, failed = 0, shown = 0;
	struct sproc *p;
	struct jw w;

	i = cli_std_opts(argc, argv, stat_usage, &json);
	if (i >= 0)
		return i;
	for (i = optind; i < argc; i++) {
		unsigned long v;

		if (cli_parse_uint(argv[i], 1, 4194304, &v)) {
			fprintf(stderr, "sanverbs stat: '%s' is not a process "
				"id\nTry 'sanverbs stat --help'.\n", argv[i]);
			return CLI_EXIT_USAGE;
		}
		if (npids == MAX_PIDS) {
			fprintf(stderr, "sanverbs stat: more than %d process "
				"ids\n", MAX_PIDS);
			return CLI_EXIT_USAGE;
		}
		pids[npids++] = (long)v;
		explicit = 1;
	}
	if (!explicit)
		npids = discover(pids, MAX_PIDS);
	p = malloc(sizeof(*p));
	if (!p)
		return CLI_EXIT_FAIL;
	if (json) {
		jw_init(&w, stdout);
		jw_obj_begin(&w, NULL);
		jw_arr_begin(&w, "processes");
	}
	for (i = 0; i < npids; i++) {
		int ret = fetch(pids[i], buf, sizeof(buf));

		memset(p, 0, sizeof(*p));
		p->pid = pids[i];
		if (!ret)
			ret = parse(buf, p);
		if (ret) {
			failed++;
			fprintf(stderr, "sanverbs stat: process %ld: %s\n",
				pids[i], ret == -ECONNREFUSED ?
				"exports no stats (is it running with "
				"SANVERBS_STATS=1 and a context open?)" :
				ret == -EPROTO ? "answered something that is "
				"not a sanverbs stats snapshot" :
				strerror(-ret));
			continue;
		}
		if (!json && !shown)
			printf("%-8s %-4s %-8s %-7s %10s %10s %7s %9s %9s %9s "
			       "%9s %12s\n", "PID", "CTX", "DEVICE", "MONITOR",
			       "HITS", "MISSES", "HIT%", "EVICT", "INVAL",
			       "UNCACHED", "ENTRIES", "PINNED");
		shown++;
		if (json)
			json_proc(&w, p);
		else
			print_proc(p);
	}
	if (json) {
		jw_arr_end(&w);
		jw_obj_end(&w);
		jw_finish(&w);
	} else if (!npids) {
		printf("no process exports sanverbs stats (start it with "
		       "SANVERBS_STATS=1)\n");
	}
	free(p);
	return failed ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}
