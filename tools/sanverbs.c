/* SPDX-License-Identifier: MIT */
/* sanverbs: look at the devices, the module and the userfaultfd mode a
 * process would get (info), at the cache counters of a running process
 * (stat), and compare the registration cache with its peers (bench). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sanverbs.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sanverbs [--version] [--help] COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  info  [--json]              devices, ports, GIDs, kernel module,\n"
		"                              userfaultfd mode, memlock limits,\n"
		"                              cache defaults\n"
		"  stat  [--json] [PID...]     cache counters of running processes\n"
		"                              that set SANVERBS_STATS=1 (all of\n"
		"                              them when no PID is given)\n"
		"  bench [--json] [OPTIONS]    sanverbs vs libfabric's MR cache vs\n"
		"                              raw verbs (see sanverbs(1))\n");
}

int main(int argc, char **argv)
{
	const char *cmd;

	if (argc < 2) {
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	cmd = argv[1];
	if (!strcmp(cmd, "--help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) {
		printf("sanverbs %d.%d\n", SANVERBS_VERSION_MAJOR,
		       SANVERBS_VERSION_MINOR);
		return CLI_EXIT_OK;
	}
	/* Each subcommand parses argv[1..] as its own argv. */
	if (!strcmp(cmd, "info"))
		return cli_info(argc - 1, argv + 1);
	if (!strcmp(cmd, "stat"))
		return cli_stat(argc - 1, argv + 1);
	if (!strcmp(cmd, "bench"))
		return cli_bench(argc - 1, argv + 1);
	fprintf(stderr, "sanverbs: unknown command '%s'\n", cmd);
	usage(stderr);
	return CLI_EXIT_USAGE;
}
