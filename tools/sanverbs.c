/* SPDX-License-Identifier: MIT */
/* sanverbs: look at the devices, the module, the userfaultfd mode and the
 * settings a process would get (info), and at the cache counters of
 * running processes (stat). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: sanverbs [--version] [--help] COMMAND [ARGS]\n"
		"\n"
		"commands:\n"
		"  info  [--json]              devices, ports, GIDs, kernel module,\n"
		"                              userfaultfd mode, memlock limits and\n"
		"                              every SANVERBS_* setting\n"
		"  stat  [--json] [PID...]     cache counters of running processes\n"
		"                              that set SANVERBS_STATS=1 (all of\n"
		"                              them when no PID is given)\n"
		"\n"
		"'sanverbs COMMAND --help' describes a command; see sanverbs(1).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd;
	int c;

	/* '+': stop at the command; its options are its own. */
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			usage(stdout);
			return CLI_EXIT_OK;
		case 'V':
			printf("sanverbs %s\n", SV_VERSION);
			return CLI_EXIT_OK;
		default:
			fprintf(stderr, "Try 'sanverbs --help'.\n");
			return CLI_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fprintf(stderr, "sanverbs: no command given\n");
		usage(stderr);
		return CLI_EXIT_USAGE;
	}
	cmd = argv[optind];
	argc -= optind;
	argv += optind;
	optind = 0; /* glibc: start afresh on the command's argv */
	if (!strcmp(cmd, "help")) {
		usage(stdout);
		return CLI_EXIT_OK;
	}
	if (!strcmp(cmd, "info"))
		return cli_info(argc, argv);
	if (!strcmp(cmd, "stat"))
		return cli_stat(argc, argv);
	fprintf(stderr, "sanverbs: unknown command '%s'\n"
		"Try 'sanverbs --help'.\n", cmd);
	return CLI_EXIT_USAGE;
}
