/* SPDX-License-Identifier: MIT */
#ifndef SV_MR_H
#define SV_MR_H

#include <stdint.h>

#include <infiniband/verbs.h>

#include "sanverbs.h"

struct sv_cache_entry;

struct sanverbs_mr {
	struct sanverbs_ctx *ctx;
	void *addr;
	size_t len;
	unsigned int access;
	struct ibv_mr *ibmr; /* the cache entry's MR, shared by its holders */
	struct sv_cache_entry *entry;
	uintptr_t eaddr; /* the entry's start: finds its hit-index slot */
};

/* IBV_ACCESS_* flags for a validated sanverbs access mask. */
int sv_access_to_ibv(unsigned int access);
/* The access a registration really grants (REMOTE_WRITE adds LOCAL_WRITE). */
unsigned int sv_access_normalize(unsigned int access);

#endif
