/* SPDX-License-Identifier: MIT */
/* The peer of every system in the comparison: a loopback RC QP pair
 * (tests/common/loopqp.h) on whatever PD that system registers in, since libfabric
 * and raw verbs own their PDs. */
#ifndef CMP_PEER_H
#define CMP_PEER_H

#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#include "loopqp.h"

struct cmp_peer {
	struct sv_qp_pair qp;
	uint64_t next_id; /* wr_ids of the pipelined writes */
};

int cmp_peer_create(struct cmp_peer *p, struct ibv_context *verbs,
		    struct ibv_pd *pd, uint8_t port);
void cmp_peer_destroy(struct cmp_peer *p);
/* Brings both QPs back to RTS after an error completion. */
int cmp_peer_reset(struct cmp_peer *p);
/* One RDMA WRITE from a to [raddr, +len) under @rkey, waited for at most
 * 10 s: the completion status (0 = success) or a negative errno. */
int cmp_peer_write(struct cmp_peer *p, const void *src, uint32_t lkey,
		   size_t len, uint64_t raddr, uint32_t rkey);
/* One RDMA READ from [raddr, +len) under @rkey into @dst under @lkey:
 * the bytes land in whatever pages the MR behind @lkey pinned. */
int cmp_peer_read(struct cmp_peer *p, void *dst, uint32_t lkey, size_t len,
		  uint64_t raddr, uint32_t rkey);
/* @count writes of @len bytes, @depth in flight; bytes per second or a
 * negative errno. */
double cmp_peer_write_bw(struct cmp_peer *p, const void *src, uint32_t lkey,
			 size_t len, uint64_t raddr, uint32_t rkey,
			 unsigned int count, unsigned int depth);

#endif
