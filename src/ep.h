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
	/* epoll over cc and ch: the one descriptor sanverbs_ep_fd() gives */
	int efd;
	uint32_t max_inline;
	int listening;
	/* Written by the polling thread, read by posting threads: atomics. */
	int connected;    /* established and neither side has left */
	int disconnected; /* DISCONNECTED seen or disconnect done */
	unsigned int idle_polls;
	/* Serializes CM-channel draining between a poller and a closer. */
	pthread_mutex_t cm_lock;
};

static inline int sv_ep_is_connected(const struct sanverbs_ep *ep)
{
	return __atomic_load_n(&ep->connected, __ATOMIC_ACQUIRE);
}

static inline void sv_ep_set_connected(struct sanverbs_ep *ep, int v)
{
	__atomic_store_n(&ep->connected, v, __ATOMIC_RELEASE);
}

/* Drains the CM channel without blocking; acts on DISCONNECTED. */
void sv_ep_cm_drain(struct sanverbs_ep *ep);
/* Flushes the QP and answers / sends the disconnect request once. */
void sv_ep_mark_disconnected(struct sanverbs_ep *ep);

#endif
