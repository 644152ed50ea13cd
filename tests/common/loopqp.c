/* SPDX-License-Identifier: MIT */
/* Loopback RC QP pair (see loopqp.h). No Check dependency, so the demo and
 * the benchmarks can use it as well as the tests. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loopqp.h"

#define SV_LOOPQP_DEPTH 16
#define SV_LOOPQP_PSN 0x1234

int sv_test_gid_index(struct ibv_context *verbs, uint8_t port)
{
	struct ibv_port_attr pattr;
	const char *env = getenv("SANVERBS_RXE_GID_INDEX");
	int i;

	if (env && *env)
		return atoi(env);
	if (ibv_query_port(verbs, port, &pattr))
		return -errno;
	for (i = 0; i < pattr.gid_tbl_len; i++) {
		struct ibv_gid_entry e;
		static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0,
						      0, 0, 0, 0, 0xff, 0xff };

		if (ibv_query_gid_ex(verbs, port, i, &e, 0))
			continue;
		if (e.gid_type == IBV_GID_TYPE_ROCE_V2 &&
		    !memcmp(e.gid.raw, v4mapped, sizeof(v4mapped)))
			return i;
	}
	return -ENOENT;
}

static int to_init(struct ibv_qp *qp, uint8_t port)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_INIT,
		.port_num = port,
		.qp_access_flags = IBV_ACCESS_REMOTE_WRITE |
				   IBV_ACCESS_REMOTE_READ |
				   IBV_ACCESS_LOCAL_WRITE,
	};

	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
				     IBV_QP_PORT | IBV_QP_ACCESS_FLAGS);
}

static int to_rts(struct ibv_qp *qp, uint32_t dest_qpn, uint8_t port,
		  int gid_index, const union ibv_gid *dgid)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = IBV_MTU_1024,
		.dest_qp_num = dest_qpn,
		.rq_psn = SV_LOOPQP_PSN,
		.max_dest_rd_atomic = 1,
		.min_rnr_timer = 12,
		.ah_attr = {
			.is_global = 1,
			.port_num = port,
			.grh = { .dgid = *dgid, .sgid_index = (uint8_t)gid_index,
				 .hop_limit = 1 },
		},
	};
	int ret;

	ret = ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV | IBV_QP_PATH_MTU |
				    IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
				    IBV_QP_MAX_DEST_RD_ATOMIC |
				    IBV_QP_MIN_RNR_TIMER);
	if (ret)
		return ret;
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	/* ~1 s per try: a TCG guest on a busy host misses the 67 ms of 14 */
	a.timeout = 18;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = SV_LOOPQP_PSN;
	a.max_rd_atomic = 1;
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
				     IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
				     IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
}

static int connect_pair(struct sv_qp_pair *p, uint8_t port)
{
	union ibv_gid gid;
	int ret;

	if (ibv_query_gid(p->verbs, port, p->gid_index, &gid))
		return -errno;
	ret = to_init(p->a, port);
	if (!ret)
		ret = to_init(p->b, port);
	if (!ret)
		ret = to_rts(p->a, p->b->qp_num, port, p->gid_index, &gid);
	if (!ret)
		ret = to_rts(p->b, p->a->qp_num, port, p->gid_index, &gid);
	return ret > 0 ? -ret : ret;
}

static struct ibv_qp *make_qp(struct sv_qp_pair *p, unsigned int depth)
{
	struct ibv_qp_init_attr ia = {
		.send_cq = p->cq,
		.recv_cq = p->cq,
		.cap = { .max_send_wr = depth, .max_recv_wr = 16,
			 .max_send_sge = 1, .max_recv_sge = 1 },
		.qp_type = IBV_QPT_RC,
		.sq_sig_all = 1,
	};

	return ibv_create_qp(p->pd, &ia);
}

int sv_qp_pair_create_pd(struct ibv_context *verbs, struct ibv_pd *pd,
			 uint8_t port, unsigned int depth,
			 struct sv_qp_pair *p)
{
	int ret;

	memset(p, 0, sizeof(*p));
	if (!depth)
		depth = SV_LOOPQP_DEPTH;
	p->verbs = verbs;
	p->pd = pd;
	p->port = port;
	p->gid_index = sv_test_gid_index(verbs, port);
	if (p->gid_index < 0)
		return p->gid_index;
	/* both QPs complete on one CQ, each with up to @depth sends */
	p->cq = ibv_create_cq(verbs, (int)(2 * depth + 32), NULL, NULL, 0);
	if (!p->cq)
		return -errno;
	p->a = make_qp(p, depth);
	p->b = make_qp(p, depth);
	if (!p->a || !p->b) {
		ret = -errno;
		goto err;
	}
	ret = connect_pair(p, port);
	if (ret)
		goto err;
	return 0;
err:
	sv_qp_pair_destroy(p);
	return ret;
}

int sv_qp_pair_create(struct sanverbs_ctx *ctx, struct sv_qp_pair *p)
{
	return sv_qp_pair_create_pd(sanverbs_ctx_verbs(ctx),
				    sanverbs_ctx_pd(ctx),
				    sanverbs_ctx_port(ctx), 0, p);
}

void sv_qp_pair_destroy(struct sv_qp_pair *p)
{
	if (p->a)
		ibv_destroy_qp(p->a);
	if (p->b)
		ibv_destroy_qp(p->b);
	if (p->cq)
		ibv_destroy_cq(p->cq);
	memset(p, 0, sizeof(*p));
}

int sv_qp_pair_reset(struct sv_qp_pair *p)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };
	struct ibv_wc wc;

	if (ibv_modify_qp(p->a, &a, IBV_QP_STATE) ||
	    ibv_modify_qp(p->b, &a, IBV_QP_STATE))
		return -errno;
	while (ibv_poll_cq(p->cq, 1, &wc) > 0)
		;
	return connect_pair(p, p->port);
}

static int wait_one(struct ibv_cq *cq, uint64_t wr_id)
{
	struct timespec t0, t;
	struct ibv_wc wc;
	int n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		n = ibv_poll_cq(cq, 1, &wc);
		if (n < 0)
			return -EIO;
		if (n == 1 && wc.wr_id == wr_id)
			return (int)wc.status;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (t.tv_sec - t0.tv_sec > 10)
			return -ETIMEDOUT;
	}
}

static int post_rdma(struct sv_qp_pair *p, enum ibv_wr_opcode op, void *buf,
		     uint32_t lkey, size_t len, uint64_t raddr, uint32_t rkey)
{
	static uint64_t next_id = 1;
	struct ibv_sge sge = {
		.addr = (uintptr_t)buf,
		.length = (uint32_t)len,
		.lkey = lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = next_id++,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = op,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = { .remote_addr = raddr, .rkey = rkey },
	}, *bad;

	if (ibv_post_send(p->a, &wr, &bad))
		return -errno;
	return wait_one(p->cq, wr.wr_id);
}

int sv_rdma_write(struct sv_qp_pair *p, const void *src, uint32_t lkey,
		  size_t len, uint64_t raddr, uint32_t rkey)
{
	return post_rdma(p, IBV_WR_RDMA_WRITE, (void *)src, lkey, len, raddr,
			 rkey);
}

int sv_rdma_read(struct sv_qp_pair *p, void *dst, uint32_t lkey, size_t len,
		 uint64_t raddr, uint32_t rkey)
{
	return post_rdma(p, IBV_WR_RDMA_READ, dst, lkey, len, raddr, rkey);
}
