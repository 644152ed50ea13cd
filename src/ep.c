/* SPDX-License-Identifier: MIT */
/* Endpoint life cycle over librdmacm: the endpoint, its QP and CM waits,
 * listen and disconnect (connection establishment is ep_cm.c's).
 *
 * The QP lives on the sanverbs context's own device context and PD (so
 * registrations made through sanverbs_mr_reg() work on it); librdmacm only
 * carries the handshake. The cm_id therefore has no QP, and the QP state
 * transitions are ours, with attributes from rdma_init_qp_attr(). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ep.h"
#include "util.h"

#define EP_DEFAULT_WR 64
#define EP_DEFAULT_TIMEOUT_MS 10000
#define EP_DISCONNECT_WAIT_MS 2000
/* Local ACK timeout exponent: 4.096 us * 2^14 = 67 ms. */
#define EP_ACK_TIMEOUT 14

long long sv_ep_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

/* An IPv4 or IPv6 literal (RoCEv2 carries both; the GID follows the
 * address). NULL is the IPv4 wildcard. */
int sv_ep_parse_ip(const char *ip, uint16_t port, struct sockaddr_storage *ss)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	if (!ip || inet_pton(AF_INET, ip, &sin->sin_addr) == 1)
		return 0;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	return inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1 ? 0 : -EINVAL;
}

int sv_ep_attr_fill(const struct sanverbs_ep_attr *in,
		    struct sanverbs_ep_attr *out)
{
	struct sanverbs_ep_attr a = { 0 };

	if (in)
		a = *in;
	if (a.flags || a.reserved || a.rnr_retry > 7 || a.retry_count > 7 ||
	    a.max_send_wr > 16384 || a.max_recv_wr > 16384)
		return -EINVAL;
	if (!a.max_send_wr)
		a.max_send_wr = EP_DEFAULT_WR;
	if (!a.max_recv_wr)
		a.max_recv_wr = EP_DEFAULT_WR;
	if (!a.timeout_ms)
		a.timeout_ms = EP_DEFAULT_TIMEOUT_MS;
	if (!in || !in->rnr_retry)
		a.rnr_retry = 7;
	if (!a.retry_count)
		a.retry_count = 7;
	if (!a.rd_atomic)
		a.rd_atomic = 4;
	*out = a;
	return 0;
}

struct sanverbs_ep *sv_ep_alloc(struct sanverbs_ctx *ctx,
				const struct sanverbs_ep_attr *attr, int *err)
{
	struct sanverbs_ep *ep = calloc(1, sizeof(*ep));

	if (!ep) {
		*err = -ENOMEM;
		return NULL;
	}
	ep->ctx = ctx;
	ep->attr = *attr;
	ep->efd = -1;
	ep->pend_fd = -1;
	pthread_mutex_init(&ep->cm_lock, NULL);
	ep->ch = rdma_create_event_channel();
	if (!ep->ch) {
		*err = errno ? -errno : -ENODEV;
		goto err;
	}
	*err = set_nonblock(ep->ch->fd);
	if (*err)
		goto err;
	return ep;
err:
	if (ep->ch)
		rdma_destroy_event_channel(ep->ch);
	pthread_mutex_destroy(&ep->cm_lock);
	free(ep);
	return NULL;
}

void sv_ep_free(struct sanverbs_ep *ep)
{
	/* A listener's deferred requests die with it: their peers are told. */
	while (ep->deferred) {
		struct sanverbs_ep_req *r = ep->deferred;

		ep->deferred = r->next;
		rdma_reject(r->ep->id, NULL, 0);
		sv_ep_free(r->ep);
		free(r);
	}
	if (ep->pend_fd >= 0)
		close(ep->pend_fd);
	if (ep->efd >= 0)
		close(ep->efd);
	if (ep->qp)
		ibv_destroy_qp(ep->qp);
	if (ep->cq)
		ibv_destroy_cq(ep->cq);
	if (ep->cc)
		ibv_destroy_comp_channel(ep->cc);
	if (ep->id)
		rdma_destroy_id(ep->id);
	if (ep->ch)
		rdma_destroy_event_channel(ep->ch);
	pthread_mutex_destroy(&ep->cm_lock);
	free(ep);
}

static int cm_event_errno(const struct rdma_cm_event *ev)
{
	switch (ev->event) {
	case RDMA_CM_EVENT_REJECTED:
		return -ECONNREFUSED;
	case RDMA_CM_EVENT_ADDR_ERROR:
		return ev->status < 0 ? ev->status : -EADDRNOTAVAIL;
	case RDMA_CM_EVENT_ROUTE_ERROR:
		return ev->status < 0 ? ev->status : -EHOSTUNREACH;
	case RDMA_CM_EVENT_UNREACHABLE:
		return -ETIMEDOUT;
	case RDMA_CM_EVENT_CONNECT_ERROR:
		return -ECONNABORTED;
	case RDMA_CM_EVENT_DISCONNECTED:
		return -ECONNRESET;
	case RDMA_CM_EVENT_DEVICE_REMOVAL:
		return -ENODEV;
	default:
		return -EPROTO;
	}
}

/* The consumer-defined reject reason (IBTA REJ reason 28): the peer's
 * application refused, as opposed to the stack (no listener, timeout). Only
 * such a rejection carries data the peer meant to send. */
#define CM_REJ_CONSUMER_DEFINED 28

static void pdata_copy(const struct rdma_cm_event *ev, struct sv_cm_pdata *pd)
{
	size_t n = ev->param.conn.private_data_len;

	pd->len = 0;
	if (!ev->param.conn.private_data)
		return;
	if (n > sizeof(pd->buf))
		n = sizeof(pd->buf);
	memcpy(pd->buf, ev->param.conn.private_data, n);
	pd->len = n;
}

/*
 * Waits (bounded) for event @want on @ch. On success the event is acked and
 * for CONNECT_REQUEST the new id is returned in @new_id. Unrelated benign
 * events are skipped; an error event ends the wait with its errno. With @pd,
 * the private data of the wanted event, or of a rejection by the peer's
 * consumer, is copied there (pd->len 0 when there is none).
 */
int sv_ep_cm_wait(struct rdma_event_channel *ch, enum rdma_cm_event_type want,
		  int timeout_ms, struct rdma_cm_id **new_id,
		  struct sv_cm_pdata *pd)
{
	long long deadline = sv_ep_now_ms() + timeout_ms;

	if (pd) {
		pd->len = 0;
		pd->by_consumer = 0;
	}
	for (;;) {
		struct rdma_cm_event *ev;
		struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };
		int left, ret;

		if (!rdma_get_cm_event(ch, &ev)) {
			enum rdma_cm_event_type type = ev->event;

			if (type == want) {
				if (new_id)
					*new_id = ev->id;
				if (pd)
					pdata_copy(ev, pd);
				rdma_ack_cm_event(ev);
				return 0;
			}
			if (pd && type == RDMA_CM_EVENT_REJECTED &&
			    ev->status == CM_REJ_CONSUMER_DEFINED) {
				pdata_copy(ev, pd);
				pd->by_consumer = 1;
			}
			ret = cm_event_errno(ev);
			rdma_ack_cm_event(ev);
			if (type == RDMA_CM_EVENT_TIMEWAIT_EXIT ||
			    type == RDMA_CM_EVENT_ADDR_CHANGE)
				continue;
			return ret;
		}
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if (timeout_ms < 0) {
			left = -1;
		} else {
			long long rem = deadline - sv_ep_now_ms();

			if (rem <= 0)
				return -ETIMEDOUT;
			left = (int)rem;
		}
		ret = poll(&pfd, 1, left);
		if (ret < 0 && errno != EINTR)
			return -errno;
	}
}

int sv_ep_same_device(struct sanverbs_ctx *ctx, struct ibv_context *verbs)
{
	if (!verbs)
		return 0;
	return !strcmp(ibv_get_device_name(verbs->device),
		       sanverbs_ctx_device_name(ctx));
}

/* One pollable descriptor for both channels of a connected endpoint. */
static int efd_create(struct sanverbs_ep *ep)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ep->efd = epoll_create1(EPOLL_CLOEXEC);
	if (ep->efd < 0)
		return -errno;
	if (epoll_ctl(ep->efd, EPOLL_CTL_ADD, ep->cc->fd, &ev) ||
	    epoll_ctl(ep->efd, EPOLL_CTL_ADD, ep->ch->fd, &ev))
		return -errno;
	return 0;
}

/* A listener's descriptor: readable while a request waits on the CM
 * channel or a deferred one waits in the queue (pend_fd, an eventfd that
 * holds a count while the queue is not empty). */
static int listener_fds(struct sanverbs_ep *ep)
{
	struct epoll_event ev = { .events = EPOLLIN };

	ep->pend_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (ep->pend_fd < 0)
		return -errno;
	ep->efd = epoll_create1(EPOLL_CLOEXEC);
	if (ep->efd < 0)
		return -errno;
	if (epoll_ctl(ep->efd, EPOLL_CTL_ADD, ep->ch->fd, &ev) ||
	    epoll_ctl(ep->efd, EPOLL_CTL_ADD, ep->pend_fd, &ev))
		return -errno;
	return 0;
}

/* Small sends and writes go inline: no DMA read of the buffer, and the
 * buffer is free again when the post returns. */
#define EP_INLINE 64

int sv_ep_qp_create(struct sanverbs_ep *ep)
{
	struct ibv_context *verbs = sanverbs_ctx_verbs(ep->ctx);
	struct ibv_qp_init_attr qa = { 0 };
	int ret;

	ep->cc = ibv_create_comp_channel(verbs);
	if (!ep->cc)
		return errno ? -errno : -ENOMEM;
	if (set_nonblock(ep->cc->fd))
		return -errno;
	ep->cq = ibv_create_cq(verbs, ep->attr.max_send_wr + ep->attr.max_recv_wr,
			       NULL, ep->cc, 0);
	if (!ep->cq)
		return errno ? -errno : -ENOMEM;
	qa.send_cq = ep->cq;
	qa.recv_cq = ep->cq;
	qa.qp_type = IBV_QPT_RC;
	qa.cap.max_send_wr = ep->attr.max_send_wr;
	qa.cap.max_recv_wr = ep->attr.max_recv_wr;
	qa.cap.max_send_sge = 1;
	qa.cap.max_recv_sge = 1;
	qa.cap.max_inline_data = EP_INLINE;
	ep->qp = ibv_create_qp(sanverbs_ctx_pd(ep->ctx), &qa);
	if (!ep->qp) {
		/* a device without inline support: plain posts then */
		qa.cap.max_inline_data = 0;
		ep->qp = ibv_create_qp(sanverbs_ctx_pd(ep->ctx), &qa);
	}
	if (!ep->qp)
		return errno ? -errno : -ENOMEM;
	ep->max_inline = qa.cap.max_inline_data;
	ret = efd_create(ep);
	return ret;
}

int sv_ep_qp_to(struct sanverbs_ep *ep, enum ibv_qp_state state)
{
	struct ibv_qp_attr qa = { 0 };
	int mask = 0, ret;

	qa.qp_state = state;
	if (rdma_init_qp_attr(ep->id, &qa, &mask))
		return -errno;
	if (state == IBV_QPS_INIT) {
		/* The MR, not the QP, is where access is enforced. */
		qa.qp_access_flags = IBV_ACCESS_LOCAL_WRITE |
				     IBV_ACCESS_REMOTE_WRITE |
				     IBV_ACCESS_REMOTE_READ;
		mask |= IBV_QP_ACCESS_FLAGS;
	}
	if (state == IBV_QPS_RTS && (mask & IBV_QP_TIMEOUT) &&
	    qa.timeout > EP_ACK_TIMEOUT) {
		/* rdma_cm derives ~1 s from RoCE's packet lifetime; rxe under
		 * load drops read responses, and each drop then stalls a
		 * transfer for a second. perftest uses 14 (67 ms) too. */
		qa.timeout = EP_ACK_TIMEOUT;
	}
	ret = ibv_modify_qp(ep->qp, &qa, mask);
	return ret > 0 ? -ret : ret;
}

/* Outstanding RDMA reads both ways, bounded by what the device allows. */
static uint8_t rd_depth(struct sanverbs_ep *ep)
{
	struct ibv_device_attr da;
	int d = ep->attr.rd_atomic;

	if (!ibv_query_device(sanverbs_ctx_verbs(ep->ctx), &da)) {
		if (da.max_qp_rd_atom < d)
			d = da.max_qp_rd_atom;
		if (da.max_qp_init_rd_atom < d)
			d = da.max_qp_init_rd_atom;
	}
	return d > 0 ? (uint8_t)d : 1;
}

void sv_ep_conn_param(struct sanverbs_ep *ep, struct rdma_conn_param *p)
{
	memset(p, 0, sizeof(*p));
	p->responder_resources = rd_depth(ep);
	p->initiator_depth = p->responder_resources;
	p->retry_count = ep->attr.retry_count;
	p->rnr_retry_count = ep->attr.rnr_retry;
	p->qp_num = ep->qp->qp_num;
}

int sv_ep_bad_ctx(struct sanverbs_ctx *ctx)
{
	return !ctx || !sanverbs_ctx_verbs(ctx) || !sanverbs_ctx_pd(ctx);
}

SV_EXPORT int sanverbs_addr_device(const char *ip, unsigned int flags,
				   char *name, size_t size)
{
	struct rdma_event_channel *ch;
	struct rdma_cm_id *id = NULL;
	struct sockaddr_storage sin;
	const char *dev;
	int ret;

	if (!ip || !name || !size || (flags & ~SANVERBS_ADDR_REMOTE) ||
	    sv_ep_parse_ip(ip, 0, &sin))
		return -EINVAL;
	ch = rdma_create_event_channel();
	if (!ch)
		return errno ? -errno : -ENODEV;
	ret = set_nonblock(ch->fd);
	if (!ret && rdma_create_id(ch, &id, NULL, RDMA_PS_TCP))
		ret = -errno;
	if (ret)
		goto out;
	if (flags & SANVERBS_ADDR_REMOTE) {
		if (rdma_resolve_addr(id, NULL, (struct sockaddr *)&sin, 2000))
			ret = -errno;
		else
			ret = sv_ep_cm_wait(ch, RDMA_CM_EVENT_ADDR_RESOLVED,
					    4000, NULL, NULL);
	} else if (rdma_bind_addr(id, (struct sockaddr *)&sin)) {
		ret = -errno;
	}
	if (ret)
		goto out;
	if (!id->verbs) {
		ret = -ENODEV;
		goto out;
	}
	dev = ibv_get_device_name(id->verbs->device);
	if (strlen(dev) >= size)
		ret = -ENAMETOOLONG;
	else
		strcpy(name, dev);
out:
	if (id)
		rdma_destroy_id(id);
	rdma_destroy_event_channel(ch);
	return ret;
}

SV_EXPORT int sanverbs_ep_listen(struct sanverbs_ctx *ctx, const char *ip,
				 uint16_t port, int backlog,
				 const struct sanverbs_ep_attr *attr,
				 struct sanverbs_ep **out)
{
	struct sanverbs_ep_attr a;
	struct sanverbs_ep *ep;
	struct sockaddr_storage sin;
	int ret;

	if (out)
		*out = NULL;
	if (sv_ep_bad_ctx(ctx) || !out || backlog < 0 ||
	    sv_ep_attr_fill(attr, &a) || sv_ep_parse_ip(ip, port, &sin))
		return -EINVAL;
	ep = sv_ep_alloc(ctx, &a, &ret);
	if (!ep)
		return ret;
	ep->listening = 1;
	if (rdma_create_id(ep->ch, &ep->id, ep, RDMA_PS_TCP) ||
	    rdma_bind_addr(ep->id, (struct sockaddr *)&sin)) {
		ret = -errno;
		goto err;
	}
	/* A wildcard bind has no device yet; accept checks each request. */
	if (ep->id->verbs && !sv_ep_same_device(ctx, ep->id->verbs)) {
		ret = -EXDEV;
		goto err;
	}
	ret = listener_fds(ep);
	if (ret)
		goto err;
	if (rdma_listen(ep->id, backlog ? backlog : 16)) {
		ret = -errno;
		goto err;
	}
	*out = ep;
	return 0;
err:
	sv_ep_free(ep);
	return ret;
}

SV_EXPORT uint16_t sanverbs_ep_local_port(const struct sanverbs_ep *ep)
{
	if (!ep || !ep->id)
		return 0;
	return ntohs(rdma_get_src_port(ep->id));
}

SV_EXPORT int sanverbs_ep_peer_addr(const struct sanverbs_ep *ep,
				    struct sockaddr *addr, size_t *len)
{
	struct sockaddr *sa;
	size_t n;

	if (!ep || !ep->id || ep->listening || !addr || !len)
		return -EINVAL;
	sa = rdma_get_peer_addr(ep->id);
	n = sa->sa_family == AF_INET6 ? sizeof(struct sockaddr_in6) :
					sizeof(struct sockaddr_in);
	if (*len < n)
		return -ENOSPC;
	memcpy(addr, sa, n);
	*len = n;
	return 0;
}

SV_EXPORT struct sanverbs_ctx *sanverbs_ep_ctx(const struct sanverbs_ep *ep)
{
	return ep ? ep->ctx : NULL;
}

void sv_ep_mark_disconnected(struct sanverbs_ep *ep)
{
	struct ibv_qp_attr qa = { .qp_state = IBV_QPS_ERR };

	if (__atomic_exchange_n(&ep->disconnected, 1, __ATOMIC_ACQ_REL))
		return;
	sv_ep_set_connected(ep, 0);
	/* Flush what is outstanding so every waiter gets a completion. */
	if (ep->qp)
		ibv_modify_qp(ep->qp, &qa, IBV_QP_STATE);
	/* On a peer's DREQ this sends our DREP; otherwise it is our DREQ. */
	rdma_disconnect(ep->id);
}

void sv_ep_cm_drain(struct sanverbs_ep *ep)
{
	struct rdma_cm_event *ev;

	pthread_mutex_lock(&ep->cm_lock);
	while (!rdma_get_cm_event(ep->ch, &ev)) {
		enum rdma_cm_event_type type = ev->event;

		rdma_ack_cm_event(ev);
		if (type == RDMA_CM_EVENT_DISCONNECTED ||
		    type == RDMA_CM_EVENT_DEVICE_REMOVAL)
			sv_ep_mark_disconnected(ep);
	}
	pthread_mutex_unlock(&ep->cm_lock);
}

SV_EXPORT int sanverbs_ep_disconnect(struct sanverbs_ep *ep)
{
	if (!ep || ep->listening)
		return -EINVAL;
	sv_ep_cm_drain(ep);
	if (__atomic_load_n(&ep->disconnected, __ATOMIC_ACQUIRE))
		return 0;
	sv_ep_mark_disconnected(ep);
	/* Bounded: a vanished peer must not hold up the close. */
	pthread_mutex_lock(&ep->cm_lock);
	sv_ep_cm_wait(ep->ch, RDMA_CM_EVENT_DISCONNECTED, EP_DISCONNECT_WAIT_MS,
		      NULL, NULL);
	pthread_mutex_unlock(&ep->cm_lock);
	return 0;
}

SV_EXPORT int sanverbs_ep_close(struct sanverbs_ep *ep)
{
	if (!ep)
		return -EINVAL;
	if (!ep->listening)
		sanverbs_ep_disconnect(ep);
	sv_ep_free(ep);
	return 0;
}
