/* SPDX-License-Identifier: MIT */
/* WSPSend / WSPRecv: byte-stream messages through the socket's registered
 * bounce buffers, the way SAN providers carry small messages (bulk data
 * goes through WSPRdmaWrite / WSPRdmaRead). Overlapped or blocking. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wsp_priv.h"

static int free_slots(uint32_t mask)
{
	return __builtin_popcount(mask);
}

/* Copies @n bytes of the buffers from (*bi, *boff) into @dst. */
static int gather(LPWSABUF bufs, DWORD count, DWORD *bi, size_t *boff,
		  unsigned char *dst, size_t n)
{
	while (n) {
		size_t left = bufs[*bi].len - *boff, k = left < n ? left : n;

		if (k && (!bufs[*bi].buf ||
			  sanverbs_safe_read(dst, bufs[*bi].buf + *boff, k)))
			return WSAEFAULT;
		dst += k;
		n -= k;
		*boff += k;
		if (*boff == bufs[*bi].len) {
			(*bi)++;
			*boff = 0;
		}
	}
	return 0;
}

/* Posts @total bytes as one operation using free send slots (so->lock
 * held); the slots and work requests are counted on @op. */
static int post_chunks(struct wsp_sock *so, struct wsp_op *op, LPWSABUF bufs,
		       DWORD count, DWORD *bi, size_t *boff, uint64_t total)
{
	uint64_t done = 0;
	int ret;

	while (done < total) {
		uint32_t n = total - done < WSP_CHUNK ? (uint32_t)(total - done) :
							WSP_CHUNK;
		int slot = __builtin_ctz(so->send_free);
		unsigned char *p = so->bounce + (size_t)slot * WSP_CHUNK;

		ret = gather(bufs, count, bi, boff, p, n);
		if (ret)
			return ret;
		so->send_free &= ~(1u << slot);
		op->slots |= 1u << slot;
		ret = sanverbs_ep_post_send(so->ep, &so->bounce_reg, p, n,
					    wsp_op_wr_id(so, op), 0);
		if (ret)
			return wsp_wc_error(so, ret);
		op->nwr++;
		so->sq_used++;
		op->bytes += n;
		done += n;
	}
	return 0;
}

WSP_EXPORT int WSPSend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
		       LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
		       LPWSAOVERLAPPED lpOverlapped,
		       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
		       LPWSATHREADID lpThreadId, LPINT lpErrno)
{
	struct wsp_done_list dl = { 0 };
	uint64_t total = 0, sent = 0;
	struct wsp_sock *so;
	struct wsp_op *op;
	size_t boff = 0;
	DWORD i, bi = 0;
	int err = 0;

	so = wsp_connected(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	if (!lpBuffers || !dwBufferCount || dwFlags)
		return wsp_fail(lpErrno, WSAEINVAL);
	for (i = 0; i < dwBufferCount; i++)
		total += lpBuffers[i].len;
	if (total > UINT32_MAX)
		return wsp_fail(lpErrno, WSAEMSGSIZE);
	pthread_mutex_lock(&so->lock);
	if (so->shut_send || so->closing) {
		pthread_mutex_unlock(&so->lock);
		return wsp_fail(lpErrno, WSAESHUTDOWN);
	}
	if (lpOverlapped) {
		/* One operation: all of it must fit the free slots now. */
		if ((total + WSP_CHUNK - 1) / WSP_CHUNK >
			    (uint64_t)free_slots(so->send_free) ||
		    so->sq_used + WSP_NSEND > WSP_SQ_DEPTH ||
		    !(op = wsp_op_alloc(so, WSP_OP_SEND, lpOverlapped,
					lpCompletionRoutine, lpThreadId))) {
			pthread_mutex_unlock(&so->lock);
			return wsp_fail(lpErrno, WSAENOBUFS);
		}
		wsp_ov_start(lpOverlapped);
		if (!total) {
			op->nwr = 1; /* a zero-byte message is a message too */
			err = sanverbs_ep_post_send(so->ep, NULL, NULL, 0,
						    wsp_op_wr_id(so, op), 0);
			err = err ? wsp_wc_error(so, err) : 0;
			if (!err)
				so->sq_used++;
		} else {
			err = post_chunks(so, op, lpBuffers, dwBufferCount, &bi,
					  &boff, total);
		}
		if (err && !op->nwr) {
			so->send_free |= op->slots;
			wsp_op_free(so, op);
			pthread_mutex_unlock(&so->lock);
			return wsp_fail(lpErrno, err);
		}
		if (err) {
			/* part went out: the operation ends with the error
			 * once those complete */
			op->err = err;
			op->bytes = 0;
		}
		pthread_mutex_unlock(&so->lock);
		return wsp_fail(lpErrno, WSA_IO_PENDING);
	}
	/* Blocking: one slot's worth at a time, each waited for. */
	while (!err && (sent < total || !total)) {
		uint64_t n = total - sent < WSP_CHUNK ? total - sent : WSP_CHUNK;

		while (!so->send_free || so->sq_used >= WSP_SQ_DEPTH ||
		       so->free_op < 0)
			pthread_cond_wait(&so->cond, &so->lock);
		op = wsp_op_alloc(so, WSP_OP_SEND, NULL, NULL, NULL);
		if (total) {
			err = post_chunks(so, op, lpBuffers, dwBufferCount, &bi,
					  &boff, n);
		} else {
			err = sanverbs_ep_post_send(so->ep, NULL, NULL, 0,
						    wsp_op_wr_id(so, op), 0);
			err = err ? wsp_wc_error(so, err) : 0;
			if (!err) {
				op->nwr = 1;
				so->sq_used++;
			}
		}
		if (op->nwr) {
			int e = wsp_op_wait(so, op);

			err = err ? err : e;
		} else {
			so->send_free |= op->slots;
			wsp_op_free(so, op);
		}
		sent += n;
		if (!total)
			break;
	}
	pthread_mutex_unlock(&so->lock);
	wsp_done_list_free(&dl);
	if (err)
		return wsp_fail(lpErrno, err);
	if (lpNumberOfBytesSent)
		*lpNumberOfBytesSent = (DWORD)total;
	return 0;
}

WSP_EXPORT int WSPRecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
		       LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
		       LPWSAOVERLAPPED lpOverlapped,
		       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
		       LPWSATHREADID lpThreadId, LPINT lpErrno)
{
	struct wsp_done_list dl = { 0 };
	struct wsp_sock *so;
	struct wsp_op *op;
	int i, err = 0, immediate;
	uint64_t bytes;

	so = wsp_connected(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	if (!lpBuffers || !dwBufferCount ||
	    (!lpOverlapped && !lpNumberOfBytesRecvd))
		return wsp_fail(lpErrno, WSAEINVAL);
	pthread_mutex_lock(&so->lock);
	if (so->closing || so->shut_recv) {
		pthread_mutex_unlock(&so->lock);
		return wsp_fail(lpErrno, WSAESHUTDOWN);
	}
	op = wsp_op_alloc(so, WSP_OP_RECV, lpOverlapped, lpCompletionRoutine,
			  lpThreadId);
	if (op) {
		/* The array may live on the caller's stack: capture it. */
		op->rbufs = malloc(sizeof(WSABUF) * dwBufferCount);
		if (op->rbufs) {
			memcpy(op->rbufs, lpBuffers,
			       sizeof(WSABUF) * dwBufferCount);
			op->rcount = dwBufferCount;
		} else {
			wsp_op_free(so, op);
			op = NULL;
		}
	}
	if (!op) {
		pthread_mutex_unlock(&so->lock);
		return wsp_fail(lpErrno, WSAENOBUFS);
	}
	if (lpOverlapped)
		wsp_ov_start(lpOverlapped);
	so->rq[(so->rq_head + so->rq_n) % WSP_MAX_OPS] = (int)(op - so->ops);
	so->rq_n++;
	/* served now if data is there, else by the engine */
	wsp_serve_recvs(so, &dl);
	if (!lpOverlapped) {
		err = wsp_op_wait_bytes(so, op, &bytes);
		pthread_mutex_unlock(&so->lock);
		wsp_indicate(&dl);
		wsp_event_signal(s, &dl);
		wsp_done_list_free(&dl);
		if (err)
			return wsp_fail(lpErrno, err);
		*lpNumberOfBytesRecvd = (DWORD)bytes;
		if (lpFlags)
			*lpFlags = 0;
		return 0;
	}
	pthread_mutex_unlock(&so->lock);
	immediate = 0;
	bytes = 0;
	for (i = 0; i < dl.n; i++) {
		if (dl.d[i].ov == lpOverlapped) {
			immediate = 1;
			bytes = dl.d[i].bytes;
			err = (int)dl.d[i].err;
		}
	}
	wsp_indicate(&dl);
	wsp_event_signal(s, &dl);
	wsp_done_list_free(&dl);
	if (!immediate)
		return wsp_fail(lpErrno, WSA_IO_PENDING);
	/* Completed at once: 0 and the count, and the completion is still
	 * indicated (as Windows does). */
	if (err)
		return wsp_fail(lpErrno, err);
	if (lpNumberOfBytesRecvd)
		*lpNumberOfBytesRecvd = (DWORD)bytes;
	if (lpFlags)
		*lpFlags = 0;
	return 0;
}
