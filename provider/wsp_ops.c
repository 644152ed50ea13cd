/* SPDX-License-Identifier: MIT */
/* Overlapped operations: their table per socket, what each completion of
 * the endpoint does to them, and how their end is indicated to the switch
 * ("Completing Data Transfer Requests" and the SAN WSAOVERLAPPED page). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wsp_priv.h"

#define WR_OP_MASK 0xffffull

struct wsp_op *wsp_op_alloc(struct wsp_sock *so, int kind,
			    LPWSAOVERLAPPED ov,
			    LPWSAOVERLAPPED_COMPLETION_ROUTINE routine,
			    LPWSATHREADID tid)
{
	struct wsp_op *op;
	uint16_t gen;

	if (so->free_op < 0)
		return NULL;
	op = &so->ops[so->free_op];
	so->free_op = op->next_free;
	gen = (uint16_t)(op->gen + 1);
	memset(op, 0, sizeof(*op));
	op->gen = gen;
	op->kind = (uint8_t)kind;
	op->ov = ov;
	op->routine = routine;
	if (tid) {
		op->tid = *tid;
		op->has_tid = 1;
	}
	op->next_free = -1;
	return op;
}

void wsp_op_free(struct wsp_sock *so, struct wsp_op *op)
{
	free(op->rbufs);
	op->rbufs = NULL;
	op->kind = 0;
	op->next_free = so->free_op;
	so->free_op = (int)(op - so->ops);
}

uint64_t wsp_op_wr_id(struct wsp_sock *so, struct wsp_op *op)
{
	return (uint64_t)(op - so->ops) | ((uint64_t)op->gen << 16);
}

void wsp_ov_start(LPWSAOVERLAPPED ov)
{
	ov->Offset = 0;
	ov->OffsetHigh = 0;
	ov->InternalHigh = 0;
	__atomic_store_n(&ov->Internal, (uintptr_t)WSS_OPERATION_IN_PROGRESS,
			 __ATOMIC_RELEASE);
}

int wsp_wc_error(struct wsp_sock *so, int status)
{
	switch (status) {
	case 0:
		return 0;
	case -ECANCELED:
		/* flushed: by our close, or because the connection went */
		return so->closing ? WSA_OPERATION_ABORTED : WSAECONNRESET;
	case -ETIMEDOUT:
		return WSAETIMEDOUT;
	default:
		return sanverbs_wsa_error(status);
	}
}

void wsp_op_finish(struct wsp_sock *so, struct wsp_op *op,
		   struct wsp_done_list *dl)
{
	if (op->slots) {
		so->send_free |= op->slots;
		op->slots = 0;
	}
	so->sq_used -= op->nwr;
	op->nwr = 0;
	if (!op->ov) {
		/* A blocking caller waits for it and frees it. */
		op->done = 1;
		pthread_cond_broadcast(&so->cond);
		return;
	}
	if (dl->n == dl->cap) {
		int cap = dl->cap ? 2 * dl->cap : 32;
		struct wsp_done *nd = realloc(dl->d, sizeof(*nd) * (size_t)cap);

		if (nd) {
			dl->d = nd;
			dl->cap = cap;
		}
	}
	if (dl->n < dl->cap) {
		struct wsp_done *d = &dl->d[dl->n++];

		d->ov = op->ov;
		d->routine = op->routine;
		d->tid = op->tid;
		d->has_tid = op->has_tid;
		d->sw = so->sw;
		d->err = (DWORD)op->err;
		d->bytes = (DWORD)op->bytes;
		d->flags = 0;
	}
	wsp_op_free(so, op);
	/* a send slot or queue room came free: sends may go on */
	pthread_cond_broadcast(&so->cond);
}

/* Takes a receive that timed out off the pending queue. */
static void rq_remove(struct wsp_sock *so, struct wsp_op *op)
{
	int i, j = 0, idx = (int)(op - so->ops);

	for (i = 0; i < so->rq_n; i++) {
		int v = so->rq[(so->rq_head + i) % WSP_MAX_OPS];

		if (v != idx)
			so->rq[(so->rq_head + j++) % WSP_MAX_OPS] = v;
	}
	so->rq_n = j;
}

int wsp_op_wait_bytes(struct wsp_sock *so, struct wsp_op *op,
		      uint64_t *bytes)
{
	struct timespec dl;
	int err;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += wsp_timeout_ms() / 1000;
	while (!op->done) {
		if (op->kind != WSP_OP_RECV) {
			/* posted work always completes: done, failed after
			 * the transport's retries, or flushed */
			pthread_cond_wait(&so->cond, &so->lock);
			continue;
		}
		if (pthread_cond_timedwait(&so->cond, &so->lock, &dl) ==
		    ETIMEDOUT && !op->done) {
			rq_remove(so, op);
			wsp_op_free(so, op);
			return WSAETIMEDOUT;
		}
	}
	err = op->err;
	*bytes = op->bytes;
	wsp_op_free(so, op);
	return err;
}

int wsp_op_wait(struct wsp_sock *so, struct wsp_op *op)
{
	uint64_t bytes;

	return wsp_op_wait_bytes(so, op, &bytes);
}

unsigned char *wsp_slot_buf(struct wsp_sock *so, int slot)
{
	return so->bounce + WSP_CHUNK * (size_t)(WSP_NSEND + slot);
}

int wsp_post_slot(struct wsp_sock *so, int slot)
{
	return sanverbs_ep_post_recv(so->ep, &so->bounce_reg,
				     wsp_slot_buf(so, slot), WSP_CHUNK,
				     WSP_WR_RECV | (uint64_t)slot);
}

/* Copies what has arrived into @op's buffers (stream semantics: across
 * messages, as much as fits). A fault consumes nothing of that buffer. */
static void fill_recv(struct wsp_sock *so, struct wsp_op *op)
{
	DWORD i = 0;
	size_t boff = 0;

	while (so->nready && i < op->rcount) {
		int slot = so->ready[0];
		size_t avail = so->ready_len[0] - so->consumed;
		size_t room = op->rbufs[i].len - boff;
		size_t n = avail < room ? avail : room;

		if (n && (!op->rbufs[i].buf ||
			  sanverbs_safe_write(op->rbufs[i].buf + boff,
					      wsp_slot_buf(so, slot) +
						      so->consumed,
					      n))) {
			if (!op->bytes)
				op->err = WSAEFAULT;
			return;
		}
		boff += n;
		so->consumed += n;
		op->bytes += n;
		if (so->consumed == so->ready_len[0]) {
			so->consumed = 0;
			memmove(so->ready, so->ready + 1,
				sizeof(so->ready[0]) * (size_t)(so->nready - 1));
			memmove(so->ready_len, so->ready_len + 1,
				sizeof(so->ready_len[0]) *
					(size_t)(so->nready - 1));
			so->nready--;
			if (!so->peer_closed && !so->closing)
				wsp_post_slot(so, slot);
		}
		if (boff == op->rbufs[i].len) {
			i++;
			boff = 0;
		}
	}
}

void wsp_serve_recvs(struct wsp_sock *so, struct wsp_done_list *dl)
{
	while (so->rq_n && (so->nready || so->peer_closed || so->closing)) {
		struct wsp_op *op = &so->ops[so->rq[so->rq_head]];

		so->rq_head = (so->rq_head + 1) % WSP_MAX_OPS;
		so->rq_n--;
		if (so->closing)
			op->err = WSA_OPERATION_ABORTED;
		else
			fill_recv(so, op); /* nothing left: 0 bytes, closed */
		wsp_op_finish(so, op, dl);
	}
	if (so->nready)
		wsp_event_note(so, FD_READ, 0, dl);
}

static void handle_recv(struct wsp_sock *so, const struct sanverbs_wc *wc,
			struct wsp_done_list *dl)
{
	if (wc->status) {
		/* flushed: the connection is gone */
		if (!so->peer_closed && !so->closing)
			wsp_event_note(so, FD_CLOSE, 0, dl);
		so->peer_closed = 1;
	} else if (so->shut_recv) {
		wsp_post_slot(so, (int)(wc->wr_id & 0xff));
	} else {
		so->ready[so->nready] = (int)(wc->wr_id & 0xff);
		so->ready_len[so->nready++] = wc->byte_len;
	}
	wsp_serve_recvs(so, dl);
}

void wsp_handle_wc(struct wsp_sock *so, const struct sanverbs_wc *wc,
		   struct wsp_done_list *dl)
{
	uint64_t idx = wc->wr_id & WR_OP_MASK;
	struct wsp_op *op;

	if (wc->wr_id & WSP_WR_RECV) {
		handle_recv(so, wc, dl);
		return;
	}
	if (idx >= WSP_MAX_OPS)
		return;
	op = &so->ops[idx];
	if (!op->kind || op->gen != (uint16_t)(wc->wr_id >> 16))
		return;
	if (wc->status && !op->err)
		op->err = wsp_wc_error(so, wc->status);
	if (++op->ncqe == op->nwr) {
		if (op->err)
			op->bytes = 0;
		wsp_op_finish(so, op, dl);
	}
}

void wsp_progress(struct wsp_sock *so, struct wsp_done_list *dl, int arm)
{
	struct sanverbs_wc wc[16];
	int armed = !arm;

	if (!so->ep)
		return;
	for (;;) {
		int i, n = sanverbs_ep_poll(so->ep, wc, 16);

		for (i = 0; i < n; i++)
			wsp_handle_wc(so, &wc[i], dl);
		if (n > 0)
			continue;
		if (armed)
			break;
		/* Consume the notification, then look once more: what
		 * arrived before the arm raises no new one. */
		sanverbs_ep_arm(so->ep);
		armed = 1;
	}
	if (!sanverbs_ep_connected(so->ep) && !so->peer_closed &&
	    !so->closing) {
		/* the peer left while nothing was posted to be flushed */
		so->peer_closed = 1;
		wsp_event_note(so, FD_CLOSE, 0, dl);
		wsp_serve_recvs(so, dl);
	}
}

struct apc_ctx {
	LPWSAOVERLAPPED_COMPLETION_ROUTINE routine;
	LPWSAOVERLAPPED ov;
	DWORD err, bytes, flags;
};

/* Runs in the thread the switch chose, when it waits alertably. */
static void apc_run(DWORD_PTR arg)
{
	struct apc_ctx *a = (struct apc_ctx *)arg;

	a->routine(a->err, a->bytes, a->ov, a->flags);
	free(a);
}

static pthread_mutex_t done_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cond = PTHREAD_COND_INITIALIZER;

static void indicate_one(const struct wsp_done *d)
{
	LPWSAOVERLAPPED ov = d->ov;
	int e = 0;

	ov->Offset = d->flags;
	ov->OffsetHigh = d->err;
	if (d->routine) {
		struct apc_ctx *a = malloc(sizeof(*a));

		ov->InternalHigh = d->bytes;
		__atomic_store_n(&ov->Internal, 0, __ATOMIC_RELEASE);
		if (a && wsp_have_up && wsp_up.lpWPUQueueApc && d->has_tid) {
			WSATHREADID tid = d->tid;

			*a = (struct apc_ctx){ d->routine, ov, d->err,
					       d->bytes, d->flags };
			if (!wsp_up.lpWPUQueueApc(&tid, apc_run,
						  (DWORD_PTR)a, &e))
				return;
		}
		free(a);
		/* no switch to queue to: run it here */
		d->routine(d->err, d->bytes, ov, d->flags);
		return;
	}
	if (wsp_have_up && wsp_up.lpWPUCompleteOverlappedRequest &&
	    !((uintptr_t)ov->hEvent & 1) &&
	    !wsp_up.lpWPUCompleteOverlappedRequest(d->sw, ov, d->err,
						   d->bytes, &e))
		return;
	/* The switch polls (low bit of hEvent) or there is none. */
	ov->InternalHigh = d->bytes;
	__atomic_store_n(&ov->Internal, 0, __ATOMIC_RELEASE);
}

void wsp_indicate(struct wsp_done_list *dl)
{
	int i;

	for (i = 0; i < dl->n; i++)
		indicate_one(&dl->d[i]);
	if (dl->n) {
		pthread_mutex_lock(&done_lock);
		pthread_cond_broadcast(&done_cond);
		pthread_mutex_unlock(&done_lock);
	}
	dl->n = 0;
}

void wsp_done_list_free(struct wsp_done_list *dl)
{
	free(dl->d);
	dl->d = NULL;
	dl->n = dl->cap = 0;
}

void wsp_event_note(struct wsp_sock *so, long ev, int err,
		    struct wsp_done_list *dl)
{
	int bit;

	for (bit = 0; bit < FD_MAX_EVENTS; bit++)
		if (ev & (1L << bit))
			so->ev_err[bit] = err;
	so->ev_pending |= ev;
	if (so->ev_mask & ev)
		dl->events |= ev;
}

void wsp_event_signal(SOCKET s, struct wsp_done_list *dl)
{
	struct wsp_sock *so;
	WSAEVENT obj = NULL;
	int err;

	if (!dl->events)
		return;
	dl->events = 0;
	pthread_mutex_lock(&wsp_lock);
	so = wsp_get(s, &err);
	if (so)
		obj = so->ev_obj;
	pthread_mutex_unlock(&wsp_lock);
	if (obj && wsp_have_up && wsp_up.lpWPUSetEvent)
		wsp_up.lpWPUSetEvent(obj, &err);
}

WSP_EXPORT BOOL WSPGetOverlappedResult(SOCKET s, LPWSAOVERLAPPED lpOverlapped,
				       LPDWORD lpcbTransfer, BOOL fWait,
				       LPDWORD lpdwFlags, LPINT lpErrno)
{
	int err;

	if (!wsp_get(s, &err)) {
		wsp_fail(lpErrno, err);
		return FALSE;
	}
	if (!lpOverlapped || !lpcbTransfer || !lpdwFlags) {
		wsp_fail(lpErrno, WSAEFAULT);
		return FALSE;
	}
	if (!fWait && __atomic_load_n(&lpOverlapped->Internal,
				      __ATOMIC_ACQUIRE) ==
			      WSS_OPERATION_IN_PROGRESS) {
		/* A polling switch drives the socket itself (one that waits
		 * leaves it to the engine). */
		wsp_drive(s);
	}
	if (__atomic_load_n(&lpOverlapped->Internal, __ATOMIC_ACQUIRE) ==
	    WSS_OPERATION_IN_PROGRESS) {
		if (!fWait) {
			wsp_fail(lpErrno, WSA_IO_INCOMPLETE);
			return FALSE;
		}
		pthread_mutex_lock(&done_lock);
		while (__atomic_load_n(&lpOverlapped->Internal,
				       __ATOMIC_ACQUIRE) ==
		       WSS_OPERATION_IN_PROGRESS)
			pthread_cond_wait(&done_cond, &done_lock);
		pthread_mutex_unlock(&done_lock);
	}
	*lpcbTransfer = (DWORD)lpOverlapped->InternalHigh;
	*lpdwFlags = lpOverlapped->Offset;
	if (lpOverlapped->OffsetHigh) {
		wsp_fail(lpErrno, (int)lpOverlapped->OffsetHigh);
		return FALSE;
	}
	return TRUE;
}
