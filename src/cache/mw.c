/* SPDX-License-Identifier: MIT */
/* Memory windows for remote-access registrations (see mw.h and
 * docs/cache.md "Remote access"). Why type 1: it is bound by ibv_bind_mw on
 * any QP of the PD and stays valid for every QP of the PD, so one internal
 * QP serves every endpoint; a type-2 window is tied to the QP that bound
 * it. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctx.h"
#include "lib/env.h"
#include "lib/err.h"
#include "mw.h"
#include "util.h"

/* Windows kept unbound for the next registration; more are deallocated. */
#define SV_MW_POOL_MAX 32
/* A bind is a local work request: the device completes it without any
 * network round trip, so seconds mean a broken device, not load. */
#define SV_MW_WAIT_S 10
#define SV_MW_PSN 0x5a5a

enum { SV_MW_UNKNOWN, SV_MW_READY, SV_MW_OFF };

struct sv_mw_pool {
	struct sanverbs_ctx *ctx;
	pthread_mutex_t lock; /* serializes binds; guards everything below */
	int state;            /* written under lock, read without */
	bool broken;          /* the QP left RTS: reset before the next post */
	struct ibv_cq *cq;
	struct ibv_qp *qp;
	int gid_index; /* -1: no GRH (InfiniBand link layer) */
	uint16_t lid;
	uint64_t wr_id;
	struct sv_list bound; /* the windows handed out */
	struct sv_win *free;
	unsigned int nfree;
};

/* SANVERBS_CACHE_MW: 0/no/off/false turn windows off; default on. */
static bool env_mw_on(void)
{
	return sv_env_on("SANVERBS_CACHE_MW", "memory windows stay on");
}

void sv_mw_pool_create(struct sanverbs_ctx *ctx, struct sv_mw_pool **out)
{
	struct ibv_device_attr da;
	struct sv_mw_pool *p;

	*out = NULL;
	if (!env_mw_on() || ibv_query_device(ctx->verbs, &da) ||
	    da.max_mw <= 0 || !(da.device_cap_flags & IBV_DEVICE_MEM_WINDOW))
		return;
	p = calloc(1, sizeof(*p));
	if (!p)
		return;
	p->ctx = ctx;
	pthread_mutex_init(&p->lock, NULL);
	sv_list_init(&p->bound);
	*out = p;
}

/* The GID to address ourselves with: the IPv4-mapped RoCEv2 one if any (it
 * is what rxe routes), else index 0. Traffic never leaves the QP (binds
 * only), but RTR needs a valid address vector. */
static int pick_gid(struct ibv_context *v, uint8_t port, int tbl_len)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0,
					      0, 0, 0, 0, 0xff, 0xff };
	struct ibv_gid_entry e;
	int i;

	for (i = 0; i < tbl_len; i++)
		if (!ibv_query_gid_ex(v, port, (uint32_t)i, &e, 0) &&
		    e.gid_type == IBV_GID_TYPE_ROCE_V2 &&
		    !memcmp(e.gid.raw, v4mapped, sizeof(v4mapped)))
			return i;
	return 0;
}

/* RESET -> INIT -> RTR -> RTS, connected to itself. */
static int qp_connect(struct sv_mw_pool *p)
{
	struct sanverbs_ctx *ctx = p->ctx;
	struct ibv_qp_attr a;
	union ibv_gid gid;
	int ret;

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = ctx->port;
	ret = sv_neg_errno(ibv_modify_qp(p->qp, &a, IBV_QP_STATE |
							    IBV_QP_PKEY_INDEX |
							    IBV_QP_PORT |
							    IBV_QP_ACCESS_FLAGS));
	if (ret)
		return ret;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_1024;
	a.dest_qp_num = p->qp->qp_num;
	a.rq_psn = SV_MW_PSN;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.port_num = ctx->port;
	if (p->gid_index >= 0) {
		if (ibv_query_gid(ctx->verbs, ctx->port, p->gid_index, &gid))
			return sv_errno_or(EIO);
		a.ah_attr.is_global = 1;
		a.ah_attr.grh.dgid = gid;
		a.ah_attr.grh.sgid_index = (uint8_t)p->gid_index;
		a.ah_attr.grh.hop_limit = 1;
	} else {
		a.ah_attr.dlid = p->lid;
	}
	ret = sv_neg_errno(ibv_modify_qp(p->qp, &a, IBV_QP_STATE | IBV_QP_AV |
					       IBV_QP_PATH_MTU | IBV_QP_DEST_QPN |
					       IBV_QP_RQ_PSN |
					       IBV_QP_MAX_DEST_RD_ATOMIC |
					       IBV_QP_MIN_RNR_TIMER));
	if (ret)
		return ret;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = SV_MW_PSN;
	a.max_rd_atomic = 1;
	return sv_neg_errno(ibv_modify_qp(p->qp, &a, IBV_QP_STATE |
							     IBV_QP_TIMEOUT |
							     IBV_QP_RETRY_CNT |
							     IBV_QP_RNR_RETRY |
							     IBV_QP_SQ_PSN |
							     IBV_QP_MAX_QP_RD_ATOMIC));
}

/* Locked. 0, or a negative errno. */
static int qp_build(struct sv_mw_pool *p)
{
	struct sanverbs_ctx *ctx = p->ctx;
	struct ibv_qp_init_attr ia;
	struct ibv_port_attr pa;

	if (ibv_query_port(ctx->verbs, ctx->port, &pa))
		return sv_errno_or(EIO);
	if (pa.link_layer == IBV_LINK_LAYER_INFINIBAND) {
		p->gid_index = -1;
		p->lid = pa.lid;
	} else {
		p->gid_index = pick_gid(ctx->verbs, ctx->port, pa.gid_tbl_len);
	}
	p->cq = ibv_create_cq(ctx->verbs, 8, NULL, NULL, 0);
	if (!p->cq)
		return sv_errno_or(ENOMEM);
	memset(&ia, 0, sizeof(ia));
	ia.send_cq = p->cq;
	ia.recv_cq = p->cq;
	ia.cap.max_send_wr = 4;
	ia.cap.max_recv_wr = 1;
	ia.cap.max_send_sge = 1;
	ia.cap.max_recv_sge = 1;
	ia.qp_type = IBV_QPT_RC;
	p->qp = ibv_create_qp(ctx->pd, &ia);
	if (!p->qp)
		return sv_errno_or(ENOMEM);
	return qp_connect(p);
}

static void qp_teardown(struct sv_mw_pool *p)
{
	if (p->qp)
		ibv_destroy_qp(p->qp);
	if (p->cq)
		ibv_destroy_cq(p->cq);
	p->qp = NULL;
	p->cq = NULL;
}

bool sv_mw_pool_on(const struct sv_mw_pool *p)
{
	return p && __atomic_load_n(&p->state, __ATOMIC_ACQUIRE) != SV_MW_OFF;
}

bool sv_mw_pool_ready(struct sv_mw_pool *p)
{
	int st, ret;

	if (!p)
		return false;
	st = __atomic_load_n(&p->state, __ATOMIC_ACQUIRE);
	if (st != SV_MW_UNKNOWN)
		return st == SV_MW_READY;
	pthread_mutex_lock(&p->lock);
	if (p->state == SV_MW_UNKNOWN) {
		ret = qp_build(p);
		if (ret) {
			qp_teardown(p);
			fprintf(stderr,
				"sanverbs: no bind QP for memory windows (%s); "
				"remote registrations are not cached\n",
				strerror(-ret));
		}
		__atomic_store_n(&p->state, ret ? SV_MW_OFF : SV_MW_READY,
				 __ATOMIC_RELEASE);
	}
	st = p->state;
	pthread_mutex_unlock(&p->lock);
	return st == SV_MW_READY;
}

/* Locked: back to RTS after an error completion or a lost one (moving to
 * RESET discards whatever was still queued). */
static int qp_recover(struct sv_mw_pool *p)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };
	struct ibv_wc wc;
	int ret;

	ret = sv_neg_errno(ibv_modify_qp(p->qp, &a, IBV_QP_STATE));
	if (ret)
		return ret;
	while (ibv_poll_cq(p->cq, 1, &wc) > 0)
		;
	ret = qp_connect(p);
	if (ret)
		return ret;
	p->broken = false;
	return 0;
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Locked: posts one signaled bind of @w and waits for its completion
 * (bounded). 0, or a negative errno; any failure leaves the QP marked
 * broken and @w's binding unknown. */
static int post_bind(struct sv_mw_pool *p, struct sv_win *w,
		     struct ibv_mr *mr, uintptr_t addr, size_t len, int access)
{
	struct ibv_mw_bind b;
	struct ibv_wc wc;
	double end = 0;
	unsigned int spin = 0;
	int ret, n;

	if (p->broken && (ret = qp_recover(p)))
		return ret;
	memset(&b, 0, sizeof(b));
	b.wr_id = ++p->wr_id;
	b.send_flags = IBV_SEND_SIGNALED;
	b.bind_info.mr = mr;
	b.bind_info.addr = addr;
	b.bind_info.length = len;
	b.bind_info.mw_access_flags = (unsigned int)access;
	ret = sv_neg_errno(ibv_bind_mw(p->qp, w->mw, &b));
	if (ret) {
		p->broken = true;
		return ret;
	}
	for (;;) {
		n = ibv_poll_cq(p->cq, 1, &wc);
		if (n < 0) {
			p->broken = true;
			return -EIO;
		}
		if (n == 1 && wc.wr_id == b.wr_id)
			break;
		if (n == 1)
			continue; /* left over from a bind we gave up on */
		/* read the clock only now and then: a bind takes microseconds */
		if (!(++spin & 1023)) {
			if (!end)
				end = now_s() + SV_MW_WAIT_S;
			else if (now_s() > end) {
				fprintf(stderr,
					"sanverbs: memory window bind not "
					"completed in %d s\n", SV_MW_WAIT_S);
				p->broken = true;
				return -ETIMEDOUT;
			}
		}
	}
	if (wc.status != IBV_WC_SUCCESS) {
		p->broken = true;
		return wc.status == IBV_WC_MW_BIND_ERR ? -EINVAL : -EIO;
	}
	return 0;
}

static void bound_add(struct sv_mw_pool *p, struct sv_win *w)
{
	sv_list_add_head(&p->bound, &w->link);
}

static void bound_del(struct sv_win *w)
{
	sv_list_del(&w->link);
}

/* Locked: into the free list, or deallocated if the list is full. */
static void win_release(struct sv_mw_pool *p, struct sv_win *w)
{
	if (p->nfree < SV_MW_POOL_MAX) {
		w->next = p->free;
		p->free = w;
		p->nfree++;
		return;
	}
	ibv_dealloc_mw(w->mw);
	free(w);
}

int sv_mw_bind(struct sv_mw_pool *p, struct ibv_mr *mr, uintptr_t addr,
	       size_t len, int ibv_remote, struct sv_win **out)
{
	struct sv_win *w;
	int ret;

	pthread_mutex_lock(&p->lock);
	w = p->free;
	if (w) {
		p->free = w->next;
		p->nfree--;
	} else {
		w = calloc(1, sizeof(*w));
		if (w)
			w->mw = ibv_alloc_mw(p->ctx->pd, IBV_MW_TYPE_1);
		if (!w || !w->mw) {
			ret = sv_errno_or(ENOMEM);
			free(w);
			pthread_mutex_unlock(&p->lock);
			return ret;
		}
	}
	ret = post_bind(p, w, mr, addr, len, ibv_remote);
	if (ret) {
		/* Its state is unknown (bound or not): only dealloc is sure
		 * to leave no key behind and no count on the MR. */
		ibv_dealloc_mw(w->mw);
		free(w);
	} else {
		bound_add(p, w);
		*out = w;
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

int sv_mw_unbind(struct sv_mw_pool *p, struct sv_win *w, struct ibv_mr *mr)
{
	int ret;

	pthread_mutex_lock(&p->lock);
	/* A zero-length bind gives the window a new key that grants
	 * nothing: the old rkey is refused once this completes. */
	ret = post_bind(p, w, mr, (uintptr_t)mr->addr, 0, 0);
	bound_del(w);
	if (!ret) {
		win_release(p, w);
	} else {
		/* Dealloc revokes the key as surely and also releases the
		 * window's hold on the MR (rxe_dealloc_mw). */
		ret = sv_neg_errno(ibv_dealloc_mw(w->mw));
		if (ret) {
			bound_add(p, w); /* still bound: freed with the pool */
		} else {
			free(w);
		}
	}
	pthread_mutex_unlock(&p->lock);
	return ret;
}

static void win_list_free(struct sv_win *w)
{
	struct sv_win *nx;

	for (; w; w = nx) {
		nx = w->next;
		ibv_dealloc_mw(w->mw);
		free(w);
	}
}

void sv_mw_pool_destroy(struct sv_mw_pool *p)
{
	struct sv_win *w;
	struct sv_list *l;

	if (!p)
		return;
	/* Handles the application never deregistered. */
	while ((l = sv_list_first(&p->bound))) {
		w = container_of(l, struct sv_win, link);
		sv_list_del(l);
		ibv_dealloc_mw(w->mw);
		free(w);
	}
	win_list_free(p->free);
	qp_teardown(p);
	pthread_mutex_destroy(&p->lock);
	free(p);
}
