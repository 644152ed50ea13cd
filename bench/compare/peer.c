/* SPDX-License-Identifier: MIT */
/* Loopback RC pair on a caller-given PD (see peer.h). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "loopqp.h"
#include "peer.h"

#define PEER_PSN 0x4321
#define PEER_DEPTH_MAX 64

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

static int to_rts(struct ibv_qp *qp, uint32_t dqpn, uint8_t port, int gidx,
		  const union ibv_gid *dgid)
{
	struct ibv_qp_attr a = {
		.qp_state = IBV_QPS_RTR,
		.path_mtu = IBV_MTU_1024,
		.dest_qp_num = dqpn,
		.rq_psn = PEER_PSN,
		.max_dest_rd_atomic = 1,
		.min_rnr_timer = 12,
		.ah_attr = {
			.is_global = 1,
			.port_num = port,
			.grh = { .dgid = *dgid, .sgid_index = (uint8_t)gidx,
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
	a.timeout = 14;
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = PEER_PSN;
	a.max_rd_atomic = 1;
	return ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
				     IBV_QP_RETRY_CNT | IBV_QP_RNR_RETRY |
				     IBV_QP_SQ_PSN | IBV_QP_MAX_QP_RD_ATOMIC);
}

static int connect_pair(struct cmp_peer *p)
{
	union ibv_gid gid;
	int ret;

	if (ibv_query_gid(p->verbs, p->port, p->gid_index, &gid))
		return -errno;
	ret = to_init(p->a, p->port);
	if (!ret)
		ret = to_init(p->b, p->port);
	if (!ret)
		ret = to_rts(p->a, p->b->qp_num, p->port, p->gid_index, &gid);
	if (!ret)
		ret = to_rts(p->b, p->a->qp_num, p->port, p->gid_index, &gid);
	return ret > 0 ? -ret : ret;
}

static struct ibv_qp *make_qp(struct cmp_peer *p)
{
	struct ibv_qp_init_attr ia = {
		.send_cq = p->cq,
		.recv_cq = p->cq,
		.cap = { .max_send_wr = PEER_DEPTH_MAX, .max_recv_wr = 4,
			 .max_send_sge = 1, .max_recv_sge = 1 },
		.qp_type = IBV_QPT_RC,
		.sq_sig_all = 1,
	};

	return ibv_create_qp(p->pd, &ia);
}

int cmp_peer_create(struct cmp_peer *p, struct ibv_context *verbs,
		    struct ibv_pd *pd, uint8_t port)
{
	int ret;

	memset(p, 0, sizeof(*p));
	p->verbs = verbs;
	p->pd = pd;
	p->port = port;
	p->next_id = 1;
	p->gid_index = sv_test_gid_index(verbs, port);
	if (p->gid_index < 0)
		return p->gid_index;
	p->cq = ibv_create_cq(verbs, 2 * PEER_DEPTH_MAX, NULL, NULL, 0);
	if (!p->cq)
		return -errno;
	p->a = make_qp(p);
	p->b = make_qp(p);
	if (!p->a || !p->b) {
		ret = -errno;
		goto err;
	}
	ret = connect_pair(p);
	if (!ret)
		return 0;
err:
	cmp_peer_destroy(p);
	return ret;
}

void cmp_peer_destroy(struct cmp_peer *p)
{
	if (p->a)
		ibv_destroy_qp(p->a);
	if (p->b)
		ibv_destroy_qp(p->b);
	if (p->cq)
		ibv_destroy_cq(p->cq);
	memset(p, 0, sizeof(*p));
}

int cmp_peer_reset(struct cmp_peer *p)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_RESET };
	struct ibv_wc wc;

	if (ibv_modify_qp(p->a, &a, IBV_QP_STATE) ||
	    ibv_modify_qp(p->b, &a, IBV_QP_STATE))
		return -errno;
	while (ibv_poll_cq(p->cq, 1, &wc) > 0)
		;
	return connect_pair(p);
}

static double now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + t.tv_nsec / 1e9;
}

static int post_op(struct cmp_peer *p, enum ibv_wr_opcode op, const void *buf,
		   uint32_t lkey, size_t len, uint64_t raddr, uint32_t rkey,
		   uint64_t *id)
{
	struct ibv_sge sge = {
		.addr = (uintptr_t)buf,
		.length = (uint32_t)len,
		.lkey = lkey,
	};
	struct ibv_send_wr wr = {
		.wr_id = p->next_id++,
		.sg_list = &sge,
		.num_sge = 1,
		.opcode = op,
		.send_flags = IBV_SEND_SIGNALED,
		.wr.rdma = { .remote_addr = raddr, .rkey = rkey },
	}, *bad;

	*id = wr.wr_id;
	return ibv_post_send(p->a, &wr, &bad) ? -errno : 0;
}

static int one_op(struct cmp_peer *p, enum ibv_wr_opcode op, const void *buf,
		  uint32_t lkey, size_t len, uint64_t raddr, uint32_t rkey)
{
	double t0 = now_s();
	struct ibv_wc wc;
	uint64_t id;
	int n, ret;

	ret = post_op(p, op, buf, lkey, len, raddr, rkey, &id);
	if (ret)
		return ret;
	for (;;) {
		n = ibv_poll_cq(p->cq, 1, &wc);
		if (n < 0)
			return -EIO;
		if (n == 1 && wc.wr_id == id)
			return (int)wc.status;
		if (now_s() - t0 > 10)
			return -ETIMEDOUT;
	}
}

int cmp_peer_write(struct cmp_peer *p, const void *src, uint32_t lkey,
		   size_t len, uint64_t raddr, uint32_t rkey)
{
	return one_op(p, IBV_WR_RDMA_WRITE, src, lkey, len, raddr, rkey);
}

int cmp_peer_read(struct cmp_peer *p, void *dst, uint32_t lkey, size_t len,
		  uint64_t raddr, uint32_t rkey)
{
	return one_op(p, IBV_WR_RDMA_READ, dst, lkey, len, raddr, rkey);
}

double cmp_peer_write_bw(struct cmp_peer *p, const void *src, uint32_t lkey,
			 size_t len, uint64_t raddr, uint32_t rkey,
			 unsigned int count, unsigned int depth)
{
	unsigned int posted = 0, done = 0;
	double t0, last;
	struct ibv_wc wc[16];
	uint64_t id;
	int n, i, ret;

	if (depth > PEER_DEPTH_MAX)
		depth = PEER_DEPTH_MAX;
	t0 = last = now_s();
	while (done < count) {
		while (posted < count && posted - done < depth) {
			ret = post_op(p, IBV_WR_RDMA_WRITE, src, lkey, len,
				      raddr, rkey, &id);
			if (ret)
				return ret;
			posted++;
		}
		n = ibv_poll_cq(p->cq, 16, wc);
		if (n < 0)
			return -EIO;
		for (i = 0; i < n; i++)
			if (wc[i].status != IBV_WC_SUCCESS)
				return -EIO;
		done += (unsigned int)n;
		if (n)
			last = now_s();
		else if (now_s() - last > 10)
			return -ETIMEDOUT;
	}
	return (double)len * count / (now_s() - t0);
}
