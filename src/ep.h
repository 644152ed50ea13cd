/* SPDX-License-Identifier: MIT */
/* The endpoint as ep.c (life cycle), ep_cm.c (connection establishment) and
 * ep_io.c (data path) share it. Endpoints reach the device only through the
 * public context accessors, so they depend on no other engine module's
 * internals. */
#ifndef SV_EP_H
#define SV_EP_H

#include <pthread.h>

#include <infiniband/verbs.h>
#include <rdma/rdma_cma.h>

#include "ep_pdata.h"
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
	/* Serializes CM-channel draining between a poller and a closer; for
	 * a listener, guards the deferred queue as well. */
	pthread_mutex_t cm_lock;
	/* listener: requests left pending by sanverbs_ep_req_defer(), served
	 * first, and the eventfd that makes efd readable while there are */
	struct sanverbs_ep_req *deferred;
	int pend_fd;
};

/* A received connection request, not yet answered. Its endpoint has the
 * request's cm_id, already moved to the endpoint's own event channel (so a
 * peer that gives up is seen there), and no QP yet. */
struct sanverbs_ep_req {
	struct sanverbs_ep_req *next;
	struct sanverbs_ep *listener;
	struct sanverbs_ep *ep;
	size_t len;
	uint8_t data[SANVERBS_EP_REQ_DATA_MAX];
};

static inline int sv_ep_is_connected(const struct sanverbs_ep *ep)
{
	return __atomic_load_n(&ep->connected, __ATOMIC_ACQUIRE);
}

static inline void sv_ep_set_connected(struct sanverbs_ep *ep, int v)
{
	__atomic_store_n(&ep->connected, v, __ATOMIC_RELEASE);
}

/* Shared by ep.c and ep_cm.c (ep.c's own helpers, ep_cm.c their user). */
long long sv_ep_now_ms(void);
int sv_ep_parse_ip(const char *ip, uint16_t port, struct sockaddr_storage *ss);
int sv_ep_attr_fill(const struct sanverbs_ep_attr *in,
		    struct sanverbs_ep_attr *out);
int sv_ep_bad_ctx(struct sanverbs_ctx *ctx);
int sv_ep_same_device(struct sanverbs_ctx *ctx, struct ibv_context *verbs);
struct sanverbs_ep *sv_ep_alloc(struct sanverbs_ctx *ctx,
				const struct sanverbs_ep_attr *attr, int *err);
/* Frees everything @ep holds; a listener's deferred requests are rejected. */
void sv_ep_free(struct sanverbs_ep *ep);
int sv_ep_cm_wait(struct rdma_event_channel *ch, enum rdma_cm_event_type want,
		  int timeout_ms, struct rdma_cm_id **new_id,
		  struct sv_cm_pdata *pd);
/* The completion channel, CQ and QP of @ep, and its pollable descriptor. */
int sv_ep_qp_create(struct sanverbs_ep *ep);
int sv_ep_qp_to(struct sanverbs_ep *ep, enum ibv_qp_state state);
void sv_ep_conn_param(struct sanverbs_ep *ep, struct rdma_conn_param *p);

/* Drains the CM channel without blocking; acts on DISCONNECTED. */
void sv_ep_cm_drain(struct sanverbs_ep *ep);
/* Flushes the QP and answers / sends the disconnect request once. */
void sv_ep_mark_disconnected(struct sanverbs_ep *ep);

#endif
