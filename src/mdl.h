/* SPDX-License-Identifier: MIT */
/* MDL internals shared by mdl.c (descriptor, lock) and mdl_sysaddr.c
 * (second mapping). */
#ifndef SV_MDL_H
#define SV_MDL_H

#include <stddef.h>
#include <stdint.h>

#include "sanverbs.h"

struct ibv_mr;

/* How a system address was made, so unlock/free can undo it. */
enum sv_sysaddr_kind { SV_SYSADDR_NONE, SV_SYSADDR_POOL, SV_SYSADDR_KMOD };

struct sanverbs_mdl {
	struct sanverbs_ctx *ctx;
	char *va;
	size_t byte_offset, byte_count, page_count;
	uint64_t *pfn;
	unsigned int flags; /* enum sanverbs_mdl_flag */
	int pfn_pending;    /* locked, pfn[] not read yet (mdl.c) */
	struct sanverbs_mdl *parent;
	unsigned long npartials;
	struct ibv_mr *pin;

	enum sv_sysaddr_kind sys_kind;
	void *sysaddr;
	void *sys_base;		   /* pool alias: what to munmap */
	size_t sys_len;
	uint64_t sys_handle;	   /* kmod mapping handle */
	struct sanverbs_pool *sys_pool;
};

/* Releases the system address of @mdl, if any. */
void sv_mdl_sysaddr_release(struct sanverbs_mdl *mdl);

/* 1 if a mapping of @priority may be made given /proc/meminfo-style text at
 * @meminfo_path (NULL: /proc/meminfo): LOW needs MemAvailable >= MemTotal/8,
 * NORMAL >= MemTotal/32, HIGH always passes. Unreadable file: allowed. */
int sv_mdl_pressure_allows(unsigned int priority, const char *meminfo_path);

#endif
