/* SPDX-License-Identifier: MIT */
/* A real second endpoint for the endpoint and WSP tests: a forked process
 * (in network namespace B on its own rxe device when the rig provides two
 * hosts, else on the same device) that listens, accepts and runs a role. */
#ifndef SV_PEER_H
#define SV_PEER_H

#include <stdint.h>
#include <sys/types.h>

#include "sanverbs.h"

struct sv_side {
	const char *ns;  /* network namespace name, NULL = stay */
	const char *ip;  /* IPv4 address on this side's rxe netdev */
	const char *dev; /* rxe device name */
};

/* Side A (the test process) and side B (the peer) from the rig's env. */
void sv_sides(struct sv_side *a, struct sv_side *b);
/* Enters network namespace @ns (NULL: stay); exits 2 if it cannot. */
void sv_enter_ns(const char *ns);
/* Enters @side's namespace (if any) and opens a context on its device. */
struct sanverbs_ctx *sv_side_open(const struct sv_side *side);

/* The peer's role for connection @index (0-based); returns 0 when it went as
 * planned. The child exits with the last connection's result. */
typedef int (*sv_peer_fn)(struct sanverbs_ep *ep, int index, void *arg);

struct sv_peer {
	pid_t pid;
	uint16_t port;
	const char *ip; /* where to connect */
};

/* Forks the peer: it listens on side B, reports its port, then accepts
 * @nconn connections (each bounded by 60 s) and serves them one after the
 * other with @fn. With @upfront all are accepted before the first is served
 * (for clients that open several at once); otherwise each is accepted when
 * the previous one is done. */
void sv_peer_start(struct sv_peer *p, int nconn, int upfront, sv_peer_fn fn,
		   void *arg);
/* Waits (bounded, @timeout_s) for the peer and returns its exit status; kills
 * it and fails the test on timeout. */
int sv_peer_wait(struct sv_peer *p, int timeout_s);

/* Bounded wait for exactly one completion; fails the test on timeout. */
struct sanverbs_wc sv_wait1(struct sanverbs_ep *ep, int timeout_ms);
/* The region of @mr as a post takes it (valid in the enclosing block). */
#define SV_REG(mr)                                                            \
	(&(struct sanverbs_region){ sanverbs_mr_addr(mr),                     \
				    sanverbs_mr_length(mr),                   \
				    sanverbs_mr_lkey(mr),                     \
				    sanverbs_mr_access(mr) })
/* Sends @len bytes of @buf (inside @mr) and waits for the send completion. */
void sv_send_sync(struct sanverbs_ep *ep, struct sanverbs_mr *mr,
		  const void *buf, size_t len);
/* Posts @buf, waits for one message, returns its length. */
size_t sv_recv_sync(struct sanverbs_ep *ep, struct sanverbs_mr *mr, void *buf,
		    size_t len);
/* Kilobytes of pinned memory of this process (VmPin), or -1. */
long sv_vm_pinned_kb(void);

#endif
