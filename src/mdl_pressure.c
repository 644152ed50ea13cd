/* SPDX-License-Identifier: MIT */
/* "Low on resources" made concrete for MM_PAGE_PRIORITY. Windows speaks of
 * system PTEs; here the scarce thing a second mapping adds to is resident,
 * locked memory, so the test is MemAvailable against MemTotal. */
#include <stdio.h>
#include <string.h>

#include "mdl.h"

static int read_meminfo(const char *path, unsigned long long *total,
			unsigned long long *avail)
{
	char line[256];
	FILE *f = fopen(path, "re");
	int got = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "MemTotal: %llu", total) == 1)
			got |= 1;
		else if (sscanf(line, "MemAvailable: %llu", avail) == 1)
			got |= 2;
	}
	fclose(f);
	return got == 3 ? 0 : -1;
}

int sv_mdl_pressure_allows(unsigned int priority, const char *meminfo_path)
{
	unsigned long long total, avail;
	unsigned int prio = priority & ~(SANVERBS_MAPPING_NO_WRITE |
					 SANVERBS_MAPPING_NO_EXECUTE);

	if (prio >= SANVERBS_PAGE_PRIORITY_HIGH)
		return 1;
	if (read_meminfo(meminfo_path ? meminfo_path : "/proc/meminfo", &total,
			 &avail))
		return 1;
	if (prio >= SANVERBS_PAGE_PRIORITY_NORMAL)
		return avail >= total / 32;
	return avail >= total / 8;
}
