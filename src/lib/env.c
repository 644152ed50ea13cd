/* SPDX-License-Identifier: MIT */
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "env.h"

bool sv_env_on(const char *name, const char *what)
{
	static const char *const off[] = { "0", "no", "off", "false" };
	static const char *const on[] = { "1", "yes", "on", "true" };
	const char *s = getenv(name);
	size_t i;

	if (!s || !*s)
		return true;
	for (i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		if (!strcasecmp(s, off[i]))
			return false;
	for (i = 0; i < sizeof(on) / sizeof(on[0]); i++)
		if (!strcasecmp(s, on[i]))
			return true;
	fprintf(stderr, "sanverbs: %s=\"%s\" is not 0|1; %s\n", name, s, what);
	return true;
}
