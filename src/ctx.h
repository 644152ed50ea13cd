/* SPDX-License-Identifier: MIT */
/* The device context as the engine's modules see it. Kept apart from the
 * public header so the handle stays opaque to applications. */
#ifndef SV_CTX_H
#define SV_CTX_H

#include <stdbool.h>

#include <infiniband/verbs.h>

#include "sanverbs.h"

struct sv_cache;

struct sanverbs_ctx {
	struct ibv_context *verbs;
	struct ibv_pd *pd;
	/* sanverbs_ctx_open(): the context opened the device and allocated
	 * the PD and releases both; sanverbs_ctx_attach(): they are the
	 * caller's and outlive the context. */
	bool owns_pd;
	uint8_t port;
	struct sanverbs_ctx_attr attr;
	/* Owned by cache.c; NULL until the cache is created. */
	struct sv_cache *cache;
};

#endif
