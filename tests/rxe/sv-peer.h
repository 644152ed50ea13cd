/* SPDX-License-Identifier: MIT */
/* A real second endpoint for the endpoint and WSP tests: a process on side B
 * (host B's rxe device) that listens, accepts and runs a role. With
 * --side=both it is forked here; with --side=a it runs in `prog --side=b` on
 * another machine, which side A asks for it over TCP (a request naming the
 * role by its place in the program's role table, and the role's argument
 * bytes); side B's processes report back the same way (their port, then
 * their exit status). See sv_peer_main. */
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
/* A whole side-B process: writes 2 bytes (its port, in any byte order the
 * caller agrees on) to @report_fd once it listens; returns its exit status. */
typedef int (*sv_proc_fn)(int report_fd, void *arg);

/* What side B can be asked to run: one of the two per entry. */
struct sv_role {
	sv_peer_fn serve;
	sv_proc_fn run;
};

/* Parses --side=both|a|b (default both) and keeps @roles, the table both
 * sides index. With b it serves side A's requests on
 * $SANVERBS_IP_B:$SANVERBS_PEER_PORT (default 47991) one after the other and
 * exits: 0 once side A said it is done and every request was served (the
 * roles' own results go back to side A, which judges them), 1 when side A
 * did not come or went silent for 120 s. a and both return. */
void sv_peer_main(int argc, char **argv, const struct sv_role *roles,
		  size_t nroles);

struct sv_peer {
	pid_t pid;
	int sock; /* side a: the request's connection to side B */
	uint16_t port;
	const char *ip; /* where to connect */
};

/* Starts the peer: it listens on side B, reports its port, then accepts
 * @nconn connections (each bounded by 60 s) and serves them one after the
 * other with @fn. With @upfront all are accepted before the first is served
 * (for clients that open several at once); otherwise each is accepted when
 * the previous one is done. @arg is plain data of @size bytes (it is copied
 * to the other machine with --side=a). */
void sv_peer_start(struct sv_peer *p, int nconn, int upfront, sv_peer_fn fn,
		   void *arg, size_t size);
/* Starts @fn as a side-B process and waits (bounded) for its 2-byte report,
 * stored in p->port as it came. */
void sv_proc_start(struct sv_peer *p, sv_proc_fn fn, void *arg, size_t size);
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
/* Sends @len bytes of @buf and waits for the send's completion and for the
 * one receive posted before; on a real link the reply can come first.
 * Returns the receive's length. */
size_t sv_send_recv_sync(struct sanverbs_ep *ep, struct sanverbs_mr *mr,
			 const void *buf, size_t len);
/* Posts @buf, waits for one message, returns its length. */
size_t sv_recv_sync(struct sanverbs_ep *ep, struct sanverbs_mr *mr, void *buf,
		    size_t len);
/* Kilobytes of pinned memory of this process (VmPin), or -1. */
long sv_vm_pinned_kb(void);

#endif
