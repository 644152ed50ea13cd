/* SPDX-License-Identifier: MIT */
/* Connection establishment with data: connect with request data, and the
 * listener's side, where each request is taken, read, then accepted or
 * rejected with data of the listener's, or deferred.
 *
 * The data rides in the CM private data behind a 4-byte header of ours
 * (ep_pdata.h): RoCE and InfiniBand pad private data to a fixed size, so
 * without the length the receiver could not tell the bytes sent from the
 * padding. Everything in a peer's private data is untrusted: the length is
 * checked against what arrived and against the limit of the message it
 * came in. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ep.h"
#include "util.h"

/* The peer's answer into the caller's buffer of @room bytes: -EMSGSIZE
 * (with the size needed) when it does not fit; dropped when the caller
 * wants none. */
static int reply_put(const struct sv_cm_pdata *pd, size_t max, void *reply,
		     size_t room, size_t *reply_len)
{
	const uint8_t *d;
	size_t n;
	int ret = sv_pdata_parse(pd, max, &d, &n);

	if (ret || !reply_len)
		return ret;
	if (n > room) {
		*reply_len = n;
		return -EMSGSIZE;
	}
	if (n)
		memcpy(reply, d, n);
	*reply_len = n;
	return 0;
}

SV_EXPORT int sanverbs_ep_connect_data(struct sanverbs_ctx *ctx,
				       const char *ip, uint16_t port,
				       const struct sanverbs_ep_attr *attr,
				       const void *data, size_t len,
				       void *reply, size_t *reply_len,
				       struct sanverbs_ep **out)
{
	uint8_t pd_out[SV_CM_HDR + SANVERBS_EP_REQ_DATA_MAX];
	struct sanverbs_ep_attr a;
	struct rdma_conn_param p;
	struct sv_cm_pdata pd;
	struct sanverbs_ep *ep;
	struct sockaddr_storage sin;
	size_t room = reply_len ? *reply_len : 0;
	int ret, tmo;

	if (out)
		*out = NULL;
	if (sv_ep_bad_ctx(ctx) || !ip || !port || !out ||
	    sv_ep_attr_fill(attr, &a) || sv_ep_parse_ip(ip, port, &sin) ||
	    (len && !data) || (room && !reply) || (reply && !reply_len))
		return -EINVAL;
	if (len > SANVERBS_EP_REQ_DATA_MAX)
		return -EMSGSIZE;
	if (reply_len)
		*reply_len = 0;
	ep = sv_ep_alloc(ctx, &a, &ret);
	if (!ep)
		return ret;
	tmo = (int)a.timeout_ms;
	if (rdma_create_id(ep->ch, &ep->id, ep, RDMA_PS_TCP) ||
	    rdma_resolve_addr(ep->id, NULL, (struct sockaddr *)&sin, tmo)) {
		ret = -errno;
		goto err;
	}
	ret = sv_ep_cm_wait(ep->ch, RDMA_CM_EVENT_ADDR_RESOLVED, tmo + 1000,
			    NULL, NULL);
	if (ret)
		goto err;
	if (!sv_ep_same_device(ctx, ep->id->verbs)) {
		ret = -EXDEV;
		goto err;
	}
	if (rdma_resolve_route(ep->id, tmo)) {
		ret = -errno;
		goto err;
	}
	ret = sv_ep_cm_wait(ep->ch, RDMA_CM_EVENT_ROUTE_RESOLVED, tmo + 1000,
			    NULL, NULL);
	if (!ret)
		ret = sv_ep_qp_create(ep);
	if (!ret)
		ret = sv_ep_qp_to(ep, IBV_QPS_INIT);
	if (ret)
		goto err;
	sv_ep_conn_param(ep, &p);
	p.private_data = pd_out;
	p.private_data_len = sv_pdata_pack(pd_out, data, len);
	if (rdma_connect(ep->id, &p)) {
		ret = -errno;
		goto err;
	}
	/* With no QP on the cm_id librdmacm reports the REP as
	 * CONNECT_RESPONSE and leaves RTR/RTS and the RTU to us. */
	ret = sv_ep_cm_wait(ep->ch, RDMA_CM_EVENT_CONNECT_RESPONSE, tmo, NULL,
			    &pd);
	if (ret == -ECONNREFUSED) {
		int r = reply_put(&pd, SANVERBS_EP_REJECT_DATA_MAX, reply,
				  room, reply_len);

		ret = r ? r : ret;
		goto err;
	}
	if (!ret) {
		ret = reply_put(&pd, SANVERBS_EP_ACCEPT_DATA_MAX, reply, room,
				reply_len);
		/* an answer we refuse: tell the listener (REJ after REP) */
		if (ret)
			rdma_reject(ep->id, NULL, 0);
	}
	if (!ret)
		ret = sv_ep_qp_to(ep, IBV_QPS_RTR);
	if (!ret)
		ret = sv_ep_qp_to(ep, IBV_QPS_RTS);
	if (!ret && rdma_establish(ep->id))
		ret = -errno;
	if (!ret && ibv_req_notify_cq(ep->cq, 0))
		ret = -errno;
	if (ret)
		goto err;
	sv_ep_set_connected(ep, 1);
	*out = ep;
	return 0;
err:
	if (ret != -EMSGSIZE && ret != -ECONNREFUSED && reply_len)
		*reply_len = 0;
	sv_ep_free(ep);
	return ret;
}

SV_EXPORT int sanverbs_ep_connect(struct sanverbs_ctx *ctx, const char *ip,
				  uint16_t port,
				  const struct sanverbs_ep_attr *attr,
				  struct sanverbs_ep **out)
{
	return sanverbs_ep_connect_data(ctx, ip, port, attr, NULL, 0, NULL,
					NULL, out);
}

/* Keeps the listener's eventfd counting while the deferred queue is not
 * empty (cm_lock held). */
static void pend_update(struct sanverbs_ep *lis)
{
	uint64_t v = 1;
	ssize_t n;

	/* a write adds to the count, a read empties it (EAGAIN if empty) */
	if (lis->deferred)
		n = write(lis->pend_fd, &v, sizeof(v));
	else
		n = read(lis->pend_fd, &v, sizeof(v));
	(void)n;
}

/*
 * Whether the peer of a request not yet accepted has given up (its connect
 * timed out, it destroyed its cm_id, its process died: all send a REJ).
 * The kernel drops events of a request before its accept (ucma delivers
 * none until the cm_id has a user context), so the REJ shows only in the
 * CM state it left: the QP attributes of a request whose REJ came are
 * refused with EINVAL, while a live one answers. Any event that does come
 * on the request's own channel means the same.
 */
static int ep_gone(struct sanverbs_ep *ep)
{
	struct ibv_qp_attr qa = { .qp_state = IBV_QPS_INIT };
	struct rdma_cm_event *ev;
	int mask = 0;

	if (!rdma_get_cm_event(ep->ch, &ev)) {
		rdma_ack_cm_event(ev);
		return 1;
	}
	return rdma_init_qp_attr(ep->id, &qa, &mask) && errno == EINVAL;
}

static void req_free(struct sanverbs_ep_req *r, int reject)
{
	if (reject)
		rdma_reject(r->ep->id, NULL, 0);
	sv_ep_free(r->ep);
	free(r);
}

/* The most recently deferred request whose peer still waits, or NULL;
 * those whose peer gave up are dropped. */
static struct sanverbs_ep_req *deferred_pop(struct sanverbs_ep *lis)
{
	struct sanverbs_ep_req *r;

	pthread_mutex_lock(&lis->cm_lock);
	while ((r = lis->deferred)) {
		lis->deferred = r->next;
		r->next = NULL;
		if (!ep_gone(r->ep))
			break;
		req_free(r, 0);
	}
	pend_update(lis);
	pthread_mutex_unlock(&lis->cm_lock);
	return r;
}

/*
 * Wraps a fresh request's cm_id: its own endpoint and event channel, and
 * its data checked. Returns 0 with *out, 1 when the request was refused
 * here (malformed data: the wait goes on), or a negative errno.
 */
static int req_wrap(struct sanverbs_ep *lis, struct rdma_cm_id *id,
		    const struct sv_cm_pdata *pd, struct sanverbs_ep_req **out)
{
	struct sanverbs_ep_req *r = calloc(1, sizeof(*r));
	const uint8_t *d;
	size_t n;
	int ret;

	if (!r) {
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		return -ENOMEM;
	}
	r->listener = lis;
	r->ep = sv_ep_alloc(lis->ctx, &lis->attr, &ret);
	if (!r->ep) {
		rdma_reject(id, NULL, 0);
		rdma_destroy_id(id);
		free(r);
		return ret;
	}
	r->ep->id = id;
	id->context = r->ep;
	if (rdma_migrate_id(id, r->ep->ch)) {
		ret = -errno;
		req_free(r, 1);
		return ret;
	}
	if (!sv_ep_same_device(lis->ctx, id->verbs)) {
		req_free(r, 1);
		return -EXDEV;
	}
	if (sv_pdata_parse(pd, SANVERBS_EP_REQ_DATA_MAX, &d, &n)) {
		/* a peer's malformed request must not fail the listener */
		req_free(r, 1);
		return 1;
	}
	if (ep_gone(r->ep)) {
		/* withdrawn while it waited in the listener's queue */
		req_free(r, 0);
		return 1;
	}
	if (n) /* a request without private data has no d */
		memcpy(r->data, d, n);
	r->len = n;
	*out = r;
	return 0;
}

SV_EXPORT int sanverbs_ep_get_req(struct sanverbs_ep *listener,
				  int timeout_ms, struct sanverbs_ep_req **out)
{
	long long deadline;
	int ret;

	if (out)
		*out = NULL;
	if (!listener || !listener->listening || !out || timeout_ms < -1)
		return -EINVAL;
	*out = deferred_pop(listener);
	if (*out)
		return 0;
	deadline = sv_ep_now_ms() + timeout_ms;
	for (;;) {
		struct rdma_cm_id *id;
		struct sv_cm_pdata pd;
		int left = timeout_ms;

		if (timeout_ms >= 0) {
			long long rem = deadline - sv_ep_now_ms();

			left = rem > 0 ? (int)rem : 0;
		}
		ret = sv_ep_cm_wait(listener->ch, RDMA_CM_EVENT_CONNECT_REQUEST,
				    left, &id, &pd);
		if (ret)
			return ret;
		ret = req_wrap(listener, id, &pd, out);
		if (ret <= 0)
			return ret;
	}
}

SV_EXPORT int sanverbs_ep_req_data(const struct sanverbs_ep_req *req,
				   void *buf, size_t *len)
{
	if (!req || !len || (*len && !buf))
		return -EINVAL;
	if (*len < req->len) {
		*len = req->len;
		return -ENOSPC;
	}
	if (req->len)
		memcpy(buf, req->data, req->len);
	*len = req->len;
	return 0;
}

SV_EXPORT int sanverbs_ep_req_peer_addr(const struct sanverbs_ep_req *req,
					struct sockaddr *addr, size_t *len)
{
	if (!req)
		return -EINVAL;
	return sanverbs_ep_peer_addr(req->ep, addr, len);
}

SV_EXPORT int sanverbs_ep_req_accept(struct sanverbs_ep_req *req,
				     const void *data, size_t len,
				     struct sanverbs_ep **out)
{
	uint8_t pd_out[SV_CM_HDR + SANVERBS_EP_ACCEPT_DATA_MAX];
	struct rdma_conn_param p;
	struct sv_cm_pdata pd_in;
	struct sanverbs_ep *ep;
	int ret;

	if (out)
		*out = NULL;
	if (!req || !out || (len && !data))
		return -EINVAL;
	if (len > SANVERBS_EP_ACCEPT_DATA_MAX)
		return -EMSGSIZE;
	ep = req->ep;
	free(req);
	if (ep_gone(ep)) {
		ret = -ECONNABORTED;
		goto err_free;
	}
	ret = sv_ep_qp_create(ep);
	if (!ret)
		ret = sv_ep_qp_to(ep, IBV_QPS_INIT);
	if (!ret)
		ret = sv_ep_qp_to(ep, IBV_QPS_RTR);
	if (!ret)
		ret = sv_ep_qp_to(ep, IBV_QPS_RTS);
	if (ret)
		goto err;
	sv_ep_conn_param(ep, &p);
	p.private_data = pd_out;
	p.private_data_len = sv_pdata_pack(pd_out, data, len);
	if (rdma_accept(ep->id, &p)) {
		ret = -errno;
		goto err;
	}
	ret = sv_ep_cm_wait(ep->ch, RDMA_CM_EVENT_ESTABLISHED,
			    (int)ep->attr.timeout_ms, NULL, &pd_in);
	/* A REJ from the peer's stack, not its application, answers a REP
	 * for a connect that no longer exists: the peer gave up before it
	 * saw the accept, whether or not its own REJ reached us first. */
	if (ret == -ECONNREFUSED && !pd_in.by_consumer)
		ret = -ECONNABORTED;
	if (ret)
		goto err_free;
	if (ibv_req_notify_cq(ep->cq, 0)) {
		ret = -errno;
		goto err_free;
	}
	sv_ep_set_connected(ep, 1);
	*out = ep;
	return 0;
err:
	/* the peer gave up after the check above: the CM refuses our steps
	 * with EINVAL, which is not the caller's fault */
	if (ep_gone(ep))
		ret = -ECONNABORTED;
	rdma_reject(ep->id, NULL, 0);
err_free:
	sv_ep_free(ep);
	return ret;
}

SV_EXPORT int sanverbs_ep_req_reject(struct sanverbs_ep_req *req,
				     const void *data, size_t len)
{
	uint8_t pd_out[SV_CM_HDR + SANVERBS_EP_REJECT_DATA_MAX];

	if (!req || (len && !data))
		return -EINVAL;
	if (len > SANVERBS_EP_REJECT_DATA_MAX)
		return -EMSGSIZE;
	/* A peer that has gone makes this fail; the request ends anyway. */
	rdma_reject(req->ep->id, pd_out, sv_pdata_pack(pd_out, data, len));
	req_free(req, 0);
	return 0;
}

SV_EXPORT int sanverbs_ep_req_defer(struct sanverbs_ep_req *req)
{
	struct sanverbs_ep *lis;

	if (!req)
		return -EINVAL;
	lis = req->listener;
	pthread_mutex_lock(&lis->cm_lock);
	req->next = lis->deferred;
	lis->deferred = req;
	pend_update(lis);
	pthread_mutex_unlock(&lis->cm_lock);
	return 0;
}

SV_EXPORT int sanverbs_ep_accept(struct sanverbs_ep *listener, int timeout_ms,
				 struct sanverbs_ep **out)
{
	struct sanverbs_ep_req *req;
	int ret;

	if (out)
		*out = NULL;
	if (!out)
		return -EINVAL;
	ret = sanverbs_ep_get_req(listener, timeout_ms, &req);
	return ret ? ret : sanverbs_ep_req_accept(req, NULL, 0, out);
}
