/* SPDX-License-Identifier: MIT */
/* sanverbs-demo: the README's main job, and a first program to run between
 * two machines with RDMA NICs. Side B listens and owns a target region;
 * side A connects over librdmacm, exchanges messages, RDMA-writes and
 * RDMA-reads a multi-MiB payload through cached registrations, frees and
 * reallocates the payload to show the cache noticing it, allocates a
 * low-memory buffer when /dev/sanverbs is loaded, and prints a report that
 * names the monitor, both sides' kernels and how many machines took part,
 * and explains every number. --side=a|b runs one side per machine
 * (everything the sides agree on travels over the connection: demo-wire.c);
 * --side=both (default) runs B in a child process on this machine.
 * Exit status 0 only when every checksum matched. This file: the options. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "demo.h"

/* Built outside meson (e.g. against the installed package) it still has
 * the API version to show. */
#ifndef SV_VERSION
#define SV_STR_(x) #x
#define SV_STR(x) SV_STR_(x)
#define SV_VERSION SV_STR(SANVERBS_VERSION_MAJOR) "." SV_STR(SANVERBS_VERSION_MINOR)
#endif

static void usage(FILE *f)
{
	fprintf(f,
"usage: sanverbs-demo [--side=both|a|b] [--a-ip=IP] [--b-ip=IP]\n"
"                     [--a-dev=DEV] [--b-dev=DEV] [--port=N] [--size=MiB]\n"
"                     [--timeout=SEC] [--help] [--version]\n"
"\n"
"Moves data between two RDMA endpoints through sanverbs' registration\n"
"cache and reports what the cache did. Side B listens on B's address and\n"
"owns a target region; side A connects to it, RDMA-writes and reads the\n"
"payload, frees and reallocates it, and prints the report. The two sides\n"
"first send each other their kernel release, boot id, device and cache\n"
"monitor: the report names both kernels and says whether A and B ran on\n"
"two machines or on one.\n"
"\n"
"  -s, --side=SIDE   both (default: B in a child process, A here), b (run\n"
"                    on the server machine first), a (on the client machine)\n"
"      --a-ip=IP     A's address   (default $SANVERBS_IP_A, $SANVERBS_RXE_IP)\n"
"      --b-ip=IP     B's address   (default $SANVERBS_IP_B, $SANVERBS_RXE_IP)\n"
"      --a-dev=DEV   A's device    (default $SANVERBS_RXE_A, $SANVERBS_RXE_DEV,\n"
"                    else the device that owns A's address)\n"
"      --b-dev=DEV   B's device    (likewise with $SANVERBS_RXE_B)\n"
"  -p, --port=N      rdma_cm port B listens on (default %u)\n"
"      --size=MiB    payload, 1 to 1024 MiB (default %u; same on both sides)\n"
"  -t, --timeout=SEC how long A retries while B is not listening (default 60)\n"
"  -h, --help        this text\n"
"  -V, --version     the version\n"
"\n"
"Between two machines with RDMA NICs (RoCE or InfiniBand with IPoIB):\n"
"  server$ sanverbs-demo --side=b --b-ip=10.0.0.2\n"
"  client$ sanverbs-demo --side=a --a-ip=10.0.0.1 --b-ip=10.0.0.2\n"
"Exit status: 0 when every checksum matched, 1 on failure, 2 on bad usage.\n",
		DEMO_PORT, DEMO_MIB);
}

static const char *env2(const char *a, const char *b)
{
	const char *v = getenv(a);

	if (!v || !*v)
		v = getenv(b);
	return v && *v ? v : NULL;
}

int main(int argc, char **argv)
{
	enum { O_AIP = 256, O_BIP, O_ADEV, O_BDEV, O_SIZE };
	static const struct option opts[] = {
		{ "side", required_argument, NULL, 's' },
		{ "a-ip", required_argument, NULL, O_AIP },
		{ "b-ip", required_argument, NULL, O_BIP },
		{ "a-dev", required_argument, NULL, O_ADEV },
		{ "b-dev", required_argument, NULL, O_BDEV },
		{ "port", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, O_SIZE },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct demo_side a = { 0 }, b = { 0 };
	const char *side = "both";
	long port = DEMO_PORT, mib = DEMO_MIB, timeout_s = 60;
	int c, st, ret, bad = 0;
	char *end;
	size_t len;
	pid_t pid;

	a.ns = getenv("SANVERBS_NS_A");
	b.ns = getenv("SANVERBS_NS_B");
	a.ip = env2("SANVERBS_IP_A", "SANVERBS_RXE_IP");
	b.ip = env2("SANVERBS_IP_B", "SANVERBS_RXE_IP");
	a.dev = env2("SANVERBS_RXE_A", "SANVERBS_RXE_DEV");
	b.dev = env2("SANVERBS_RXE_B", "SANVERBS_RXE_DEV");
	/* the single-device fallback has no second namespace */
	if (!getenv("SANVERBS_IP_A") || !getenv("SANVERBS_IP_B"))
		a.ns = b.ns = NULL;
	while ((c = getopt_long(argc, argv, "s:p:t:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's': side = optarg; break;
		case O_AIP: a.ip = optarg; break;
		case O_BIP: b.ip = optarg; break;
		case O_ADEV: a.dev = optarg; break;
		case O_BDEV: b.dev = optarg; break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end || port < 1 || port > 65535) {
				fprintf(stderr, "sanverbs-demo: --port wants "
					"1 to 65535, not '%s'\n", optarg);
				bad = 1;
			}
			break;
		case O_SIZE:
			mib = strtol(optarg, &end, 10);
			if (*end || mib < 1 || mib > 1024) {
				fprintf(stderr, "sanverbs-demo: --size wants "
					"1 to 1024 (MiB), not '%s'\n", optarg);
				bad = 1;
			}
			break;
		case 't':
			timeout_s = strtol(optarg, &end, 10);
			if (*end || timeout_s < 1 || timeout_s > 3600) {
				fprintf(stderr, "sanverbs-demo: --timeout wants "
					"1 to 3600 (s), not '%s'\n", optarg);
				bad = 1;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("sanverbs-demo %s\n", SV_VERSION); return 0;
		default: bad = 1; break; /* getopt named it */
		}
	}
	if (!bad && optind < argc) {
		fprintf(stderr, "sanverbs-demo: unexpected argument '%s'\n",
			argv[optind]);
		bad = 1;
	}
	if (!bad && strcmp(side, "both") && strcmp(side, "a") &&
	    strcmp(side, "b")) {
		fprintf(stderr, "sanverbs-demo: --side is both, a or b, not "
			"'%s'\n", side);
		bad = 1;
	}
	if (!bad && (!b.ip || (strcmp(side, "b") && !a.ip))) {
		fprintf(stderr, "sanverbs-demo: no address for side %s: pass "
			"--%s-ip (or run it through scripts/run-demo.sh, which "
			"sets SANVERBS_IP_A/B)\n", !b.ip ? "B" : "A",
			!b.ip ? "b" : "a");
		bad = 1;
	}
	if (bad) {
		fprintf(stderr, "Try 'sanverbs-demo --help'.\n");
		return 2;
	}
	len = (size_t)mib << 20;

	if (!strcmp(side, "b"))
		return demo_server(&b, (uint16_t)port, len);
	if (!strcmp(side, "a"))
		return demo_client(&a, b.ip, (uint16_t)port, (int)timeout_s,
				   len);

	printf("sanverbs-demo: A=%s (%s%s%s) <-> B=%s (%s%s%s), port %ld\n",
	       a.ip, a.dev ? a.dev : "its address's device",
	       a.ns ? ", netns " : "", a.ns ? a.ns : "", b.ip,
	       b.dev ? b.dev : "its address's device", b.ns ? ", netns " : "",
	       b.ns ? b.ns : "", port);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return demo_die("demo", "fork", -errno);
	if (pid == 0)
		_exit(demo_server(&b, (uint16_t)port, len));
	ret = demo_client(&a, b.ip, (uint16_t)port, (int)timeout_s, len);
	if (ret)
		kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		ret = 1;
	printf("  result        %s\n", ret ? "FAILED" : "ok");
	return ret;
}
