/* SPDX-License-Identifier: MIT */
/* The comparison's peer: tests/common/loopqp.h on a caller-given PD, plus a
 * pipelined write for bandwidth (see peer.h). */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "loopqp.h"
#include "peer.h"

#define PEER_DEPTH_MAX 64

int cmp_peer_create(struct cmp_peer *p, struct ibv_context *verbs,
		    struct ibv_pd *pd, uint8_t port)
{
	p->next_id = 1ull << 32; /* clear of loopqp's own wr_ids */
	return sv_qp_pair_create_pd(verbs, pd, port, PEER_DEPTH_MAX, &p->qp);
}

void cmp_peer_destroy(struct cmp_peer *p)
{
	sv_qp_pair_destroy(&p->qp);
}

int cmp_peer_reset(struct cmp_peer *p)
{
	return sv_qp_pair_reset(&p->qp);
}

int cmp_peer_write(struct cmp_peer *p, const void *src, uint32_t lkey,
		   size_t len, uint64_t raddr, uint32_t rkey)
{
	return sv_rdma_write(&p->qp, src, lkey, len, raddr, rkey);
}

int cmp_peer_read(struct cmp_peer *p, void *dst, uint32_t lkey, size_t len,
		  uint64_t raddr, uint32_t rkey)
{
	return sv_rdma_read(&p->qp, dst, lkey, len, raddr, rkey);
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
	return ibv_post_send(p->qp.a, &wr, &bad) ? -errno : 0;
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
		n = ibv_poll_cq(p->qp.cq, 16, wc);
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
