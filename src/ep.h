/* SPDX-License-Identifier: MIT */
/* The endpoint as ep.c (connection life cycle) and ep_io.c (data path) share
 * it. Endpoints reach the device only through the public context accessors,
 * so they depend on no other engine module's internals. */
#ifndef SV_EP_H
#define SV_EP_H

#include <pthread.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "sanverbs.h"

struct sv_ep_mr {
	struct sv_ep_mr *next;
	struct sanverbs_mr *mr;
};

struct sanverbs_ep {
	struct sanverbs_ctx *ctx;
	struct sanverbs_ep_attr attr;
	/* One event channel per endpoint, so a blocking wait on one
	 * connection never consumes another connection's events. */
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id;
	struct ibv_comp_channel *cc;
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	int listening;
	int connected;    /* established and neither side has left */
	int disconnected; /* DISCONNECTED seen or disconnect done */
	unsigned int idle_polls;
	pthread_mutex_t mr_lock;
	struct sv_ep_mr *mrs;
	size_t nmrs;
};

/* Drains the CM channel without blocking; acts on DISCONNECTED. */
void sv_ep_cm_drain(struct sanverbs_ep *ep);
/* Flushes the QP and answers / sends the disconnect request once. */
void sv_ep_mark_disconnected(struct sanverbs_ep *ep);

#endif
