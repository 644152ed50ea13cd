/* SPDX-License-Identifier: MIT */
/* WSPRdmaWrite / WSPRdmaRead: bulk transfers against the peer's descriptor,
 * which arrives from the network and is parsed as untrusted input. */
#include <errno.h>

#include "wsp_priv.h"

int wsp_desc_from_user(const void *ubuf, DWORD len, struct sanverbs_desc *d)
{
	unsigned char tmp[SANVERBS_DESC_SIZE];
	size_t n = len < sizeof(tmp) ? len : sizeof(tmp);

	/* The parser never reads past SANVERBS_DESC_SIZE bytes, so a local
	 * copy of at most that much stands for the caller's buffer. */
	if (!n || sanverbs_safe_read(tmp, ubuf, n))
		return n ? WSAEFAULT : WSAEINVAL;
	return sanverbs_desc_parse(tmp, len, d) ? WSAEINVAL : 0;
}

static int rdma(SOCKET s, LPWSABUFEX bufs, DWORD count, LPVOID desc_buf,
		DWORD desc_len, DWORD offset, LPDWORD done, LPINT lpErrno,
		int is_read)
{
	struct sanverbs_desc d;
	struct wsp_sock *so;
	uint64_t off = offset, total = 0;
	DWORD i;
	int wsa, ret;

	so = wsp_connected(s, &wsa);
	if (!so)
		return wsp_fail(lpErrno, wsa);
	if (!bufs || !count || count > 32 || !desc_buf)
		return wsp_fail(lpErrno, WSAEINVAL);
	wsa = wsp_desc_from_user(desc_buf, desc_len, &d);
	if (wsa)
		return wsp_fail(lpErrno, wsa);
	/* Judge every buffer and the whole target span before posting any. */
	for (i = 0; i < count; i++) {
		struct wsp_reg *r = wsp_reg_find(so, bufs[i].handle);
		uintptr_t a, b = (uintptr_t)bufs[i].buf;

		if (!r || r->rdma)
			return wsp_fail(lpErrno, WSAEINVAL);
		a = (uintptr_t)sanverbs_mr_addr(r->mr);
		if (!bufs[i].len || b < a ||
		    b - a + bufs[i].len > sanverbs_mr_length(r->mr))
			return wsp_fail(lpErrno, WSAEFAULT);
		if (is_read && !(sanverbs_mr_access(r->mr) &
				 SANVERBS_ACCESS_LOCAL_WRITE))
			return wsp_fail(lpErrno, WSAEINVAL);
		total += bufs[i].len;
	}
	ret = sanverbs_desc_check(&d, off, total,
				  is_read ? SANVERBS_ACCESS_REMOTE_READ :
					    SANVERBS_ACCESS_REMOTE_WRITE);
	if (ret)
		return wsp_fail(lpErrno, sanverbs_wsa_error(ret));
	for (i = 0; i < count; i++) {
		struct wsp_reg *r = wsp_reg_find(so, bufs[i].handle);

		ret = is_read ? sanverbs_ep_post_read(so->ep, r->mr,
						      bufs[i].buf, bufs[i].len,
						      &d, off, 0x200 + i) :
				sanverbs_ep_post_write(so->ep, r->mr,
						       bufs[i].buf, bufs[i].len,
						       &d, off, 0x200 + i);
		if (ret)
			break;
		off += bufs[i].len;
	}
	/* Reap what was posted; RC completes in order. */
	{
		DWORD posted = i, j;
		int first = ret;

		for (j = 0; j < posted; j++) {
			ret = wsp_wait_wr(so, 0x200 + j);
			if (ret && !first)
				first = ret;
		}
		ret = first;
	}
	if (ret)
		return wsp_fail(lpErrno, sanverbs_wsa_error(ret));
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
		    lpdwNumberOfBytesWritten, lpErrno, 0);
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
		    lpdwNumberOfBytesRead, lpErrno, 1);
}
