/* SPDX-License-Identifier: MIT */
/* WSPRdmaWrite / WSPRdmaRead: bulk transfers against the peer's descriptor,
 * which arrives from the network and is judged as untrusted input (by
 * wsp_check_rdma()) before anything is posted. Overlapped requests return
 * WSA_IO_PENDING and complete through the engine; many may be in flight on
 * one socket. */
#include <errno.h>

#include "wsp_priv.h"

int wsp_desc_copy(const void *ubuf, DWORD len, unsigned char *tmp, size_t *n)
{
	*n = len < SANVERBS_DESC_SIZE ? len : SANVERBS_DESC_SIZE;
	/* The parser never reads past SANVERBS_DESC_SIZE bytes, so a local
	 * copy of at most that much stands for the caller's buffer. */
	if (!*n)
		return WSAEINVAL;
	return sanverbs_safe_read(tmp, ubuf, *n) ? WSAEFAULT : 0;
}

int wsp_desc_from_user(const void *ubuf, DWORD len, struct sanverbs_desc *d)
{
	unsigned char tmp[SANVERBS_DESC_SIZE];
	size_t n;
	int wsa = wsp_desc_copy(ubuf, len, tmp, &n);

	if (wsa)
		return wsa;
	return sanverbs_desc_parse(tmp, len, d) ? WSAEINVAL : 0;
}

static int rdma(SOCKET s, LPWSABUFEX bufs, DWORD count, LPVOID desc_buf,
		DWORD desc_len, DWORD offset, LPDWORD done,
		LPWSAOVERLAPPED ov, LPWSAOVERLAPPED_COMPLETION_ROUTINE routine,
		LPWSATHREADID tid, LPINT lpErrno, int is_read)
{
	struct wsp_chk_reg regs[WSP_MAX_BUFS];
	struct wsp_chk_buf cb[WSP_MAX_BUFS];
	struct wsp_reg *r[WSP_MAX_BUFS];
	unsigned char tmp[SANVERBS_DESC_SIZE];
	struct sanverbs_desc d;
	struct wsp_sock *so;
	struct wsp_op *op;
	uint64_t off = offset, total = 0;
	size_t dn;
	DWORD i;
	int wsa;

	so = wsp_connected(s, &wsa);
	if (!so)
		return wsp_fail(lpErrno, wsa);
	if (!bufs || !count || count > WSP_MAX_BUFS || !desc_buf)
		return wsp_fail(lpErrno, WSAEINVAL);
	wsa = wsp_desc_copy(desc_buf, desc_len, tmp, &dn);
	if (wsa)
		return wsp_fail(lpErrno, wsa);
	pthread_mutex_lock(&so->lock);
	for (i = 0; i < count; i++) {
		r[i] = wsp_reg_find(so, bufs[i].handle);
		if (r[i]) {
			regs[i].addr = (uintptr_t)r[i]->region.addr;
			regs[i].len = r[i]->region.len;
			regs[i].access = r[i]->region.access;
			regs[i].rdma = r[i]->rdma;
		}
		cb[i].buf = (uintptr_t)bufs[i].buf;
		cb[i].len = bufs[i].len;
		cb[i].reg = r[i] ? &regs[i] : NULL;
	}
	/* The descriptor length as the caller gave it: a short one is
	 * refused by the parser, a long one is read up to its own size. */
	wsa = wsp_check_rdma(cb, count, tmp, desc_len < dn ? desc_len : dn,
			     offset, is_read, &d, &total);
	if (!wsa && (so->closing || so->peer_closed))
		wsa = so->closing ? WSAESHUTDOWN : WSAECONNRESET;
	if (!wsa && so->sq_used + count > WSP_SQ_DEPTH)
		wsa = WSAENOBUFS;
	op = wsa ? NULL : wsp_op_alloc(so, WSP_OP_RDMA, ov, routine, tid);
	if (!wsa && !op)
		wsa = WSAENOBUFS;
	if (wsa) {
		pthread_mutex_unlock(&so->lock);
		return wsp_fail(lpErrno, wsa);
	}
	if (ov)
		wsp_ov_start(ov);
	op->bytes = total;
	for (i = 0; i < count; i++) {
		uint64_t id = wsp_op_wr_id(so, op);
		int ret = is_read ?
			sanverbs_ep_post_read(so->ep, &r[i]->region,
					      bufs[i].buf, bufs[i].len, &d,
					      off, id, 0) :
			sanverbs_ep_post_write(so->ep, &r[i]->region,
					       bufs[i].buf, bufs[i].len, &d,
					       off, id, 0);

		if (ret) {
			wsa = wsp_wc_error(so, ret);
			break;
		}
		op->nwr++;
		so->sq_used++;
		off += bufs[i].len;
	}
	if (wsa && !op->nwr) {
		wsp_op_free(so, op);
		pthread_mutex_unlock(&so->lock);
		return wsp_fail(lpErrno, wsa);
	}
	if (wsa)
		op->err = wsa; /* what was posted completes, then this */
	if (ov) {
		pthread_mutex_unlock(&so->lock);
		return wsp_fail(lpErrno, WSA_IO_PENDING);
	}
	wsa = wsp_op_wait(so, op);
	pthread_mutex_unlock(&so->lock);
	if (wsa)
		return wsp_fail(lpErrno, wsa);
	if (done)
		*done = (DWORD)total;
	return 0;
}

WSP_EXPORT int WSPRdmaWrite(SOCKET s, LPWSABUFEX lpBuffers, DWORD dwBufferCount,
			    LPVOID lpTargetBufferDescriptor,
			    DWORD dwTargetDescriptorLength,
			    DWORD dwTargetBufferOffset,
			    LPDWORD lpdwNumberOfBytesWritten, DWORD dwFlags,
			    LPWSAOVERLAPPED lpOverlapped,
			    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
			    LPWSATHREADID lpThreadId, LPINT lpErrno)
{
	if (dwFlags)
		return wsp_fail(lpErrno, WSAEINVAL);
	return rdma(s, lpBuffers, dwBufferCount, lpTargetBufferDescriptor,
		    dwTargetDescriptorLength, dwTargetBufferOffset,
		    lpdwNumberOfBytesWritten, lpOverlapped, lpCompletionRoutine,
		    lpThreadId, lpErrno, 0);
}

WSP_EXPORT int WSPRdmaRead(SOCKET s, LPWSABUFEX lpBuffers, DWORD dwBufferCount,
			   LPVOID lpTargetBufferDescriptor,
			   DWORD dwTargetDescriptorLength,
			   DWORD dwTargetBufferOffset,
			   LPDWORD lpdwNumberOfBytesRead, DWORD dwFlags,
			   LPWSAOVERLAPPED lpOverlapped,
			   LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
			   LPWSATHREADID lpThreadId, LPINT lpErrno)
{
	if (dwFlags)
		return wsp_fail(lpErrno, WSAEINVAL);
	return rdma(s, lpBuffers, dwBufferCount, lpTargetBufferDescriptor,
		    dwTargetDescriptorLength, dwTargetBufferOffset,
		    lpdwNumberOfBytesRead, lpOverlapped, lpCompletionRoutine,
		    lpThreadId, lpErrno, 1);
}
