/* SPDX-License-Identifier: MIT */
/* Endpoint data path: posting sends, receives, RDMA writes and reads, and
 * reaping their completions with a bounded wait. */
#include <errno.h>
#include <poll.h>
#include <time.h>

#include "ep.h"
#include "util.h"

/* Largest message rxe (and the IB spec) carries in one work request. */
#define EP_MAX_MSG (1ull << 31)
/* Empty polls between looks at the CM channel: a syscall each, which under
 * emulation costs more than a small message round trip. */
#define EP_CM_CHECK_EVERY 65536
/* Busy-poll budget before sleeping on the completion channel. */
#define EP_SPIN_NS 20000

static long long now_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* [buf, buf+len) inside the registration? */
static int span_in_reg(const struct sanverbs_region *reg, const void *buf,
		       size_t len)
{
	uintptr_t a = (uintptr_t)reg->addr;
	uintptr_t b = (uintptr_t)buf;

	if (!sv_range_ok(buf, len))
		return 0;
	return b >= a && b - a <= reg->len && len <= reg->len - (b - a);
}

static int ep_ready(struct sanverbs_ep *ep)
{
	if (ep->listening)
		return -EINVAL;
	if (!sv_ep_is_connected(ep))
		return -ENOTCONN;
	return 0;
}

/* ibv_post_* return a positive errno; a full queue is -ENOBUFS to us. */
static int post_errno(int ret)
{
	if (!ret)
		return 0;
	return ret == ENOMEM ? -ENOBUFS : -ret;
}

/* Signalling and inlining for a send-queue work request. */
static unsigned int send_flags(const struct sanverbs_ep *ep, size_t len,
			       unsigned int flags, int is_read)
{
	unsigned int f = 0;

	if (!(flags & SANVERBS_POST_UNSIGNALED))
		f |= IBV_SEND_SIGNALED;
	if (!is_read && len && len <= ep->max_inline)
		f |= IBV_SEND_INLINE;
	return f;
}

static int post(struct sanverbs_ep *ep, struct ibv_send_wr *wr)
{
	struct ibv_send_wr *bad;

	return post_errno(ibv_post_send(ep->qp, wr, &bad));
}

static struct ibv_sge sge_of(const struct sanverbs_region *reg,
			     const void *buf, size_t len)
{
	return (struct ibv_sge){ .addr = (uintptr_t)buf,
				 .length = (uint32_t)len,
				 .lkey = reg ? reg->lkey : 0 };
}

SV_EXPORT int sanverbs_ep_post_send(struct sanverbs_ep *ep,
				    const struct sanverbs_region *reg,
				    const void *buf, size_t len,
				    uint64_t wr_id, unsigned int flags)
{
	struct ibv_send_wr wr = { 0 };
	struct ibv_sge sge;
	int ret;

	if (!ep || (flags & ~SANVERBS_POST_UNSIGNALED) ||
	    (len && (!reg || !span_in_reg(reg, buf, len))))
		return -EINVAL;
	if (len > EP_MAX_MSG)
		return -EMSGSIZE;
	ret = ep_ready(ep);
	if (ret)
		return ret;
	wr.wr_id = wr_id;
	wr.opcode = IBV_WR_SEND;
	wr.send_flags = send_flags(ep, len, flags, 0);
	if (len) {
		sge = sge_of(reg, buf, len);
		wr.sg_list = &sge;
		wr.num_sge = 1;
	}
	return post(ep, &wr);
}

SV_EXPORT int sanverbs_ep_post_recv(struct sanverbs_ep *ep,
				    const struct sanverbs_region *reg,
				    void *buf, size_t len, uint64_t wr_id)
{
	struct ibv_recv_wr wr = { 0 }, *bad;
	struct ibv_sge sge;
	int ret;

	if (!ep || !reg || !span_in_reg(reg, buf, len))
		return -EINVAL;
	if (len > EP_MAX_MSG)
		return -EMSGSIZE;
	if (!(reg->access & SANVERBS_ACCESS_LOCAL_WRITE))
		return -EACCES;
	ret = ep_ready(ep);
	if (ret)
		return ret;
	sge = sge_of(reg, buf, len);
	wr.wr_id = wr_id;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	return post_errno(ibv_post_recv(ep->qp, &wr, &bad));
}

static int post_rdma(struct sanverbs_ep *ep, const struct sanverbs_region *reg,
		     const void *buf, size_t len,
		     const struct sanverbs_desc *desc, uint64_t offset,
		     uint64_t wr_id, unsigned int flags, int is_read)
{
	struct ibv_send_wr wr = { 0 };
	struct ibv_sge sge;
	int ret;

	if (!ep || !reg || !desc || (flags & ~SANVERBS_POST_UNSIGNALED) ||
	    !span_in_reg(reg, buf, len))
		return -EINVAL;
	if (len > EP_MAX_MSG)
		return -EMSGSIZE;
	/* The descriptor came from the network: never let a span outside
	 * what it describes reach the wire. */
	ret = sanverbs_desc_check(desc, offset, len,
				  is_read ? SANVERBS_ACCESS_REMOTE_READ :
					    SANVERBS_ACCESS_REMOTE_WRITE);
	if (ret)
		return ret;
	if (is_read && !(reg->access & SANVERBS_ACCESS_LOCAL_WRITE))
		return -EACCES;
	ret = ep_ready(ep);
	if (ret)
		return ret;
	sge = sge_of(reg, buf, len);
	wr.wr_id = wr_id;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.opcode = is_read ? IBV_WR_RDMA_READ : IBV_WR_RDMA_WRITE;
	wr.send_flags = send_flags(ep, len, flags, is_read);
	wr.wr.rdma.remote_addr = desc->addr + offset;
	wr.wr.rdma.rkey = desc->rkey;
	return post(ep, &wr);
}

SV_EXPORT int sanverbs_ep_post_write(struct sanverbs_ep *ep,
				     const struct sanverbs_region *reg,
				     const void *buf, size_t len,
				     const struct sanverbs_desc *desc,
				     uint64_t offset, uint64_t wr_id,
				     unsigned int flags)
{
	return post_rdma(ep, reg, buf, len, desc, offset, wr_id, flags, 0);
}

SV_EXPORT int sanverbs_ep_post_read(struct sanverbs_ep *ep,
				    const struct sanverbs_region *reg,
				    void *buf, size_t len,
				    const struct sanverbs_desc *desc,
				    uint64_t offset, uint64_t wr_id,
				    unsigned int flags)
{
	return post_rdma(ep, reg, buf, len, desc, offset, wr_id, flags, 1);
}

static int wc_errno(enum ibv_wc_status s)
{
	switch (s) {
	case IBV_WC_SUCCESS:
		return 0;
	case IBV_WC_REM_ACCESS_ERR:
		return -EACCES;
	case IBV_WC_LOC_PROT_ERR:
	case IBV_WC_LOC_ACCESS_ERR:
		return -EFAULT;
	case IBV_WC_LOC_LEN_ERR:
	case IBV_WC_REM_INV_REQ_ERR:
		return -EMSGSIZE;
	case IBV_WC_RETRY_EXC_ERR:
	case IBV_WC_RNR_RETRY_EXC_ERR:
		return -ETIMEDOUT;
	case IBV_WC_WR_FLUSH_ERR:
		return -ECANCELED;
	case IBV_WC_REM_OP_ERR:
		return -EREMOTEIO;
	default:
		return -EIO;
	}
}

static uint32_t wc_opcode(const struct ibv_wc *w)
{
	if (w->opcode & IBV_WC_RECV)
		return SANVERBS_WC_RECV;
	switch (w->opcode) {
	case IBV_WC_RDMA_WRITE:
		return SANVERBS_WC_WRITE;
	case IBV_WC_RDMA_READ:
		return SANVERBS_WC_READ;
	default:
		return SANVERBS_WC_SEND;
	}
}

static int reap(struct sanverbs_ep *ep, struct sanverbs_wc *wc, int max)
{
	struct ibv_wc w[16];
	int n, i, got = 0;

	while (got < max) {
		int want = max - got < 16 ? max - got : 16;

		n = ibv_poll_cq(ep->cq, want, w);
		if (n < 0)
			return -EIO;
		for (i = 0; i < n; i++) {
			struct sanverbs_wc *o = &wc[got + i];

			o->wr_id = w[i].wr_id;
			o->status = wc_errno(w[i].status);
			o->vendor = w[i].status;
			/* Flushed completions carry no valid opcode. */
			o->opcode = w[i].status == IBV_WC_SUCCESS ?
					    wc_opcode(&w[i]) : 0;
			o->byte_len = o->opcode == SANVERBS_WC_RECV ?
					      w[i].byte_len : 0;
			/* A failed RC work request kills the QP: further
			 * posts would only be flushed. */
			if (w[i].status != IBV_WC_SUCCESS &&
			    w[i].status != IBV_WC_WR_FLUSH_ERR)
				sv_ep_set_connected(ep, 0);
		}
		got += n;
		if (n < want)
			break;
	}
	return got;
}

SV_EXPORT int sanverbs_ep_poll(struct sanverbs_ep *ep, struct sanverbs_wc *wc,
			       int max)
{
	int n;

	if (!ep || ep->listening || !ep->cq || !wc || max <= 0)
		return -EINVAL;
	n = reap(ep, wc, max);
	if (n == 0 && ++ep->idle_polls >= EP_CM_CHECK_EVERY) {
		ep->idle_polls = 0;
		sv_ep_cm_drain(ep);
	}
	return n;
}

/* Takes the pending completion events off the channel (acking them) and
 * asks for the next one. */
static int arm(struct sanverbs_ep *ep)
{
	struct ibv_cq *cq;
	void *cq_ctx;
	unsigned int n = 0;

	while (!ibv_get_cq_event(ep->cc, &cq, &cq_ctx))
		n++;
	if (n)
		ibv_ack_cq_events(ep->cq, n);
	return ibv_req_notify_cq(ep->cq, 0) ? -EIO : 0;
}

SV_EXPORT int sanverbs_ep_fd(const struct sanverbs_ep *ep)
{
	if (!ep)
		return -EINVAL;
	/* a listener's too: readable while a connection request waits
	 * (on the CM channel or deferred) */
	return ep->efd >= 0 ? ep->efd : -EINVAL;
}

SV_EXPORT int sanverbs_ep_arm(struct sanverbs_ep *ep)
{
	if (!ep || ep->listening || !ep->cq)
		return -EINVAL;
	sv_ep_cm_drain(ep);
	return arm(ep);
}

SV_EXPORT int sanverbs_ep_connected(const struct sanverbs_ep *ep)
{
	return ep && !ep->listening && sv_ep_is_connected(ep);
}

SV_EXPORT int sanverbs_ep_wait(struct sanverbs_ep *ep, struct sanverbs_wc *wc,
			       int max, int timeout_ms)
{
	long long start, deadline;
	int n;

	if (!ep || ep->listening || !ep->cq || !wc || max <= 0 ||
	    timeout_ms < -1)
		return -EINVAL;
	start = now_ns();
	deadline = start + (long long)timeout_ms * 1000000ll;
	do {
		n = reap(ep, wc, max);
		if (n)
			return n;
	} while (now_ns() - start < EP_SPIN_NS);

	for (;;) {
		struct pollfd pfd = { .fd = ep->efd, .events = POLLIN };
		int left = -1;

		sv_ep_cm_drain(ep);
		/* Arm, then look again: a completion between the last poll
		 * and the arm would otherwise raise no event. */
		if (arm(ep))
			return -EIO;
		n = reap(ep, wc, max);
		if (n)
			return n;
		if (__atomic_load_n(&ep->disconnected, __ATOMIC_ACQUIRE) ||
		    !sv_ep_is_connected(ep))
			return -ENOTCONN;
		if (timeout_ms >= 0) {
			long long rem = deadline - now_ns();

			if (rem <= 0)
				return -ETIMEDOUT;
			left = (int)((rem + 999999) / 1000000);
		}
		if (poll(&pfd, 1, left) < 0 && errno != EINTR)
			return -errno;
	}
}
