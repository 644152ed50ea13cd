/* SPDX-License-Identifier: MIT */
/* Provider internals: the socket table, overlapped operations, the
 * completion engine and the helpers the WSP* files share. Built only on the
 * public sanverbs API.
 *
 * Locks, outermost first: wsp_lock (socket and context tables), an engine's
 * lock (held while it drives one of its sockets, and by close to take a
 * socket away from it), a socket's lock (its operations, slots and queues).
 * Upcalls into the switch run with none of them held. */
#ifndef WSP_PRIV_H
#define WSP_PRIV_H

#include <netinet/in.h>
#include <pthread.h>

#include "sanverbs.h"
#include "sanverbs/ws2san.h"
#include "wsp_check.h"

#define WSP_EXPORT __attribute__((visibility("default")))

#define WSP_MAX_SOCKETS 256
#define WSP_MAX_CTX 8
#define WSP_CHUNK (64u * 1024) /* bounce buffer per message */
#define WSP_NRECV 8            /* receive slots kept posted */
#define WSP_NSEND 16           /* send slots (overlapped sends in flight) */
#define WSP_MAX_OPS 256        /* overlapped operations per socket */
#define WSP_SQ_DEPTH 512       /* work requests in flight per socket */
#define WSP_MAX_BUFS 32        /* buffers of one RDMA request */
#define WSP_WR_RECV (1ull << 63) /* wr_id tag of receive slots */

/* One WSPRegisterMemory / WSPRegisterRdmaMemory registration. */
struct wsp_reg {
	struct wsp_reg *next;
	struct sanverbs_mr *mr;
	struct sanverbs_region region;
	int rdma; /* made by WSPRegisterRdmaMemory */
};

enum wsp_op_kind { WSP_OP_RDMA = 1, WSP_OP_SEND, WSP_OP_RECV };

/* One operation in flight. An overlapped one is indicated and freed by the
 * engine; a blocking one (ov NULL) is freed by the caller waiting on it. */
struct wsp_op {
	uint16_t gen;
	uint8_t kind;
	uint8_t done;
	int next_free;
	LPWSAOVERLAPPED ov;
	LPWSAOVERLAPPED_COMPLETION_ROUTINE routine;
	WSATHREADID tid;
	int has_tid;
	uint32_t nwr;   /* work requests posted */
	uint32_t ncqe;  /* of them completed */
	uint32_t slots; /* send slots held (bit mask) */
	int err;        /* first WSA error */
	uint64_t bytes;
	/* receives: the captured buffer array */
	WSABUF *rbufs;
	DWORD rcount;
};

/* A completion to indicate once every lock is dropped. */
struct wsp_done {
	LPWSAOVERLAPPED ov;
	LPWSAOVERLAPPED_COMPLETION_ROUTINE routine;
	WSATHREADID tid;
	int has_tid;
	SOCKET sw;
	DWORD err, bytes, flags;
};

/* Grows as needed; zero-initialize, and wsp_indicate() empties it. */
struct wsp_done_list {
	int n, cap;
	struct wsp_done *d;
	long events; /* FD_* to record and signal */
};

struct wsp_engine;

struct wsp_sock {
	int used;
	uint16_t gen;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* an operation of a blocking caller completed */
	struct sanverbs_ctx *ctx;
	struct wsp_engine *eng;
	struct sanverbs_ep *ep;  /* connected */
	struct sanverbs_ep *lis; /* listening */
	struct sockaddr_storage local, peer;
	int bound;
	int peer_closed;
	int closing;
	int shut_send, shut_recv;
	SOCKET sw; /* the switch's handle (WPUCreateSocketHandle), or 0 */
	/* bounce buffers: [send slot 0..NSEND-1][recv slot 0..NRECV-1] */
	unsigned char *bounce;
	struct sanverbs_mr *bounce_mr;
	struct sanverbs_region bounce_reg;
	uint32_t send_free; /* bit mask of free send slots */
	int ready[WSP_NRECV]; /* slots with data, in arrival order */
	uint32_t ready_len[WSP_NRECV];
	int nready;
	size_t consumed; /* bytes of ready[0] already handed out */
	struct wsp_reg *regs;
	struct wsp_op *ops;
	int free_op;
	uint32_t sq_used;
	int rq[WSP_MAX_OPS]; /* pending receive operations, FIFO */
	int rq_head, rq_n;
	/* WSPEventSelect */
	WSAEVENT ev_obj;
	long ev_mask, ev_pending;
	int ev_err[FD_MAX_EVENTS];
	int so_error;
	/* The switch polls this socket (WSPGetOverlappedResult, fWait
	 * FALSE): the engine leaves its completion events off meanwhile. */
	unsigned int polls, polls_seen;
	int deferred;
};

/* The switch's upcalls (all NULL without WSPStartupEx). */
extern WSPUPCALLTABLEEX wsp_up;
extern int wsp_have_up;
extern DWORD wsp_catalog_id;

extern pthread_mutex_t wsp_lock;

/* Socket for @s, or NULL with *err = WSAENOTSOCK. */
struct wsp_sock *wsp_get(SOCKET s, int *err);
/* The same, but NULL with *err = WSAENOTCONN unless it is connected. */
struct wsp_sock *wsp_connected(SOCKET s, int *err);
SOCKET wsp_sock_id(struct wsp_sock *so);
/* Every socket id in use, for WSPCleanup. */
int wsp_all_socks(SOCKET *out, int max);
/* A context on the RDMA device that carries @ip (shared, refcounted). */
int wsp_ctx_get(const char *ip, unsigned int flags, struct sanverbs_ctx **out,
		struct wsp_engine **eng);
void wsp_ctx_ref(struct sanverbs_ctx *ctx);
void wsp_ctx_put(struct sanverbs_ctx *ctx);
/* Every live socket's context, for the cache callback. */
int wsp_all_ctx(struct sanverbs_ctx **out, int max);
/* Remember [addr, addr+len) as released on @ctx: the application
 * deregistered it (the monitor's drops are remembered from the context's
 * cache callback). The last 64 per context are kept. */
void wsp_ctx_released(struct sanverbs_ctx *ctx, const void *addr, size_t len);
/* Whether a range meeting [addr, addr+len) was released lately on @ctx. */
int wsp_ctx_was_released(struct sanverbs_ctx *ctx, const void *addr,
			 size_t len);

/* The endpoint attributes of every socket's connection. */
extern const struct sanverbs_ep_attr wsp_ep_attr;
/* Bounce buffers, operations and posted receives for a freshly connected
 * socket, then the engine takes it. */
int wsp_sock_connected(struct wsp_sock *so);
/* The address in @name copied to @ss, as a string in @ip and its port:
 * 0 or WSAEFAULT / WSAEAFNOSUPPORT. */
int wsp_addr_of(const struct sockaddr *name, int namelen,
		struct sockaddr_storage *ss, char *ip, size_t iplen,
		uint16_t *port);
/* The size of the sockaddr in @ss. */
int wsp_sa_len(const struct sockaddr_storage *ss);
/* Copies @ss out as getsockname() would: 0 or WSAEFAULT. */
int wsp_put_addr(const struct sockaddr_storage *ss, struct sockaddr *name,
		 LPINT namelen);

/* The registration @h of @so (NULL if @h is not one of its handles). */
struct wsp_reg *wsp_reg_find(struct wsp_sock *so, HANDLE h);
/* Drop every registration of @so (the connection is going). */
void wsp_regs_release(struct wsp_sock *so);

/* ---- engine (wsp_engine.c) ---- */
struct wsp_engine *wsp_engine_start(int *err);
void wsp_engine_stop(struct wsp_engine *eng);
/* Hands the connected @so to its engine. */
int wsp_engine_add(struct wsp_sock *so);
/* Takes @so away from its engine, cancels what it has pending
 * (WSA_OPERATION_ABORTED) and indicates it. Called by close. */
void wsp_engine_cancel(struct wsp_sock *so);
/* Raises FD_ACCEPT when a connection request reaches listener @so (one
 * shot; call again after each accept). */
void wsp_engine_watch_listener(struct wsp_sock *so);
/* Stops watching listener @so (before it closes). */
void wsp_engine_forget(struct wsp_sock *so);
/* Reaps what @s has completed now (the poll path of a switch that polls:
 * never waits for the engine, never arms). */
void wsp_drive(SOCKET s);

/* ---- operations (wsp_ops.c), all under so->lock ---- */
struct wsp_op *wsp_op_alloc(struct wsp_sock *so, int kind,
			    LPWSAOVERLAPPED ov,
			    LPWSAOVERLAPPED_COMPLETION_ROUTINE routine,
			    LPWSATHREADID tid);
void wsp_op_free(struct wsp_sock *so, struct wsp_op *op);
uint64_t wsp_op_wr_id(struct wsp_sock *so, struct wsp_op *op);
/* The end of @op: a blocking waiter is woken, an overlapped one is queued
 * on @dl for indication and freed. */
void wsp_op_finish(struct wsp_sock *so, struct wsp_op *op,
		   struct wsp_done_list *dl);
/* Handles one completion of @so's endpoint. */
void wsp_handle_wc(struct wsp_sock *so, const struct sanverbs_wc *wc,
		   struct wsp_done_list *dl);
/* Reaps everything @so's endpoint has; with @arm, asks for the next
 * completion event and looks once more. */
void wsp_progress(struct wsp_sock *so, struct wsp_done_list *dl, int arm);
/* Serves pending receive operations from arrived data. */
void wsp_serve_recvs(struct wsp_sock *so, struct wsp_done_list *dl);
/* Waits (so->lock held) for a blocking operation; returns its WSA error. */
int wsp_op_wait(struct wsp_sock *so, struct wsp_op *op);
/* The same, with the bytes moved; a receive gives up after the timeout
 * (WSAETIMEDOUT). */
int wsp_op_wait_bytes(struct wsp_sock *so, struct wsp_op *op,
		      uint64_t *bytes);
/* Indicates the completions of @dl; no lock may be held. */
void wsp_indicate(struct wsp_done_list *dl);
void wsp_done_list_free(struct wsp_done_list *dl);
/* Records network events; the caller indicates (signals) after unlock. */
void wsp_event_note(struct wsp_sock *so, long ev, int err,
		    struct wsp_done_list *dl);
/* Notes @ev on @s and signals its event object if it selected @ev. */
void wsp_event_raise(SOCKET s, long ev, int err);
/* Signals the socket's event object for @dl->events. */
void wsp_event_signal(SOCKET s, struct wsp_done_list *dl);
/* Posts receive slot @slot again. */
int wsp_post_slot(struct wsp_sock *so, int slot);
unsigned char *wsp_slot_buf(struct wsp_sock *so, int slot);
/* Marks an overlapped structure in progress before anything is posted. */
void wsp_ov_start(LPWSAOVERLAPPED ov);
/* The WSA error for a completion status (flushes depend on why). */
int wsp_wc_error(struct wsp_sock *so, int status);

/* Sets *lpErrno and returns SOCKET_ERROR. */
int wsp_fail(LPINT lpErrno, int wsa);
/* Reads a descriptor from the application's buffer through the fault-safe
 * copy (the try/except of the SAN contract) into @tmp: 0, WSAEFAULT if the
 * buffer is not readable, WSAEINVAL if it is empty. *n gets the bytes. */
int wsp_desc_copy(const void *ubuf, DWORD len, unsigned char *tmp, size_t *n);
/* The same, parsed as untrusted input (WSAEINVAL if it is no descriptor). */
int wsp_desc_from_user(const void *ubuf, DWORD len, struct sanverbs_desc *d);
int wsp_timeout_ms(void);

#endif
