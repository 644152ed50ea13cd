/* SPDX-License-Identifier: MIT */
/* Provider internals: the socket table and the helpers the WSP* files share.
 * Built only on the public sanverbs API. */
#ifndef WSP_PRIV_H
#define WSP_PRIV_H

#include <netinet/in.h>
#include <pthread.h>

#include "sanverbs.h"
#include "sanverbs/ws2san.h"

#define WSP_EXPORT __attribute__((visibility("default")))

#define WSP_MAX_SOCKETS 256
#define WSP_CHUNK (64u * 1024) /* bounce buffer per message */
#define WSP_NRECV 8            /* receive slots kept posted */
#define WSP_WR_RECV 0x100000000ull /* wr_id tag of receive slots */

/* One WSPRegisterMemory / WSPRegisterRdmaMemory registration. */
struct wsp_reg {
	struct wsp_reg *next;
	struct sanverbs_mr *mr;
	int rdma; /* made by WSPRegisterRdmaMemory */
};

struct wsp_sock {
	int used;
	uint16_t gen;
	struct sanverbs_ctx *ctx;
	struct sanverbs_ep *ep;  /* connected */
	struct sanverbs_ep *lis; /* listening */
	struct sockaddr_in local;
	int bound;
	int peer_closed;
	/* bounce buffers: [send][recv slot 0..WSP_NRECV-1] */
	unsigned char *bounce;
	struct sanverbs_mr *bounce_mr;
	int ready[WSP_NRECV]; /* slots with data, in arrival order */
	uint32_t ready_len[WSP_NRECV];
	int nready;
	size_t consumed; /* bytes of ready[0] already handed out */
	struct wsp_reg *regs;
};

extern pthread_mutex_t wsp_lock;

/* Socket for @s, or NULL with *err = WSAENOTSOCK. */
struct wsp_sock *wsp_get(SOCKET s, int *err);
/* The same, but NULL with *err = WSAENOTCONN unless it is connected. */
struct wsp_sock *wsp_connected(SOCKET s, int *err);
/* A context on the RDMA device that carries @ip (shared, refcounted). */
int wsp_ctx_get(const char *ip, unsigned int flags, struct sanverbs_ctx **out);
void wsp_ctx_ref(struct sanverbs_ctx *ctx);
void wsp_ctx_put(struct sanverbs_ctx *ctx);
/* The registration @h of @so (NULL if @h is not one of its handles). */
struct wsp_reg *wsp_reg_find(struct wsp_sock *so, HANDLE h);
/* Waits for the completion of @wr_id, parking receive completions. */
int wsp_wait_wr(struct wsp_sock *so, uint64_t wr_id);
/* Sets *lpErrno and returns SOCKET_ERROR (for errno-style @err < 0). */
int wsp_fail(LPINT lpErrno, int wsa);
/* Reads a descriptor from the application's buffer through the fault-safe
 * copy (the try/except of the SAN contract) and parses it as untrusted
 * input: 0, WSAEFAULT if the buffer is not readable, WSAEINVAL if it is not
 * a valid descriptor. */
int wsp_desc_from_user(const void *ubuf, DWORD len, struct sanverbs_desc *d);
int wsp_timeout_ms(void);
/* Every live socket's context, for the cache callback. */
int wsp_all_ctx(struct sanverbs_ctx **out, int max);

#endif
