/* SPDX-License-Identifier: MIT */
/* What the kernel says about our own mappings, for the MDL tests: the
 * independent witness that pages are locked, mapped, executable or not. */
#ifndef SV_MDL_HELPERS_H
#define SV_MDL_HELPERS_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

/* "Locked:" in kB of the VMA holding @addr in /proc/self/smaps, -1 if no
 * VMA holds it. mlock splits VMAs, so per-VMA is per-locked-run. */
static inline long smaps_locked_kb(const void *addr)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	char line[512];
	int in = 0;
	long kb = -1;

	if (!f)
		return -2;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;

		/* field lines ("AnonHugePages:") never parse as lo-hi */
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2) {
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			continue;
		}
		if (in && sscanf(line, "Locked: %ld kB", &kb) == 1)
			break;
	}
	fclose(f);
	return kb;
}

/* Permission string ("rw-s") of the VMA holding @addr, "" if none. */
static inline void maps_perms(const void *addr, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "re");
	char line[512];

	perms[0] = 0;
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char p[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, p) == 3 &&
		    (uintptr_t)addr >= lo && (uintptr_t)addr < hi) {
			memcpy(perms, p, 5);
			break;
		}
	}
	fclose(f);
}

/* 1 if the page holding @addr is mapped (mincore fails ENOMEM otherwise). */
static inline int page_mapped(const void *addr)
{
	long ps = sysconf(_SC_PAGESIZE);
	unsigned char v;

	return mincore((void *)((uintptr_t)addr & ~(uintptr_t)(ps - 1)), 1,
		       &v) == 0;
}

#endif
