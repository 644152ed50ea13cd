/* SPDX-License-Identifier: MIT */
/* A loopback RC QP pair built on any (context, PD): the libfabric side owns
 * its PD, so tools/loopqp.h (which wants a sanverbs context) cannot serve
 * every system. */
#ifndef CMP_PEER_H
#define CMP_PEER_H

#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

struct cmp_peer {
	struct ibv_context *verbs;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *a; /* initiator */
	struct ibv_qp *b; /* target */
	uint8_t port;
	int gid_index;
	uint64_t next_id;
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
