/* SPDX-License-Identifier: MIT */
/* The SAN memory contract: local and RDMA registrations on a socket, remote
 * descriptors, and the registration-cache callback. */
#include <errno.h>
#include <stdlib.h>

#include "wsp_priv.h"

struct wsp_reg *wsp_reg_find(struct wsp_sock *so, HANDLE h)
{
	struct wsp_reg *r;

	/* Compare before dereferencing: a handle is untrusted. */
	for (r = so->regs; r; r = r->next)
		if ((HANDLE)r == h)
			return r;
	return NULL;
}

static int reg(struct wsp_sock *so, PVOID buf, DWORD len, unsigned int access,
	       int rdma, struct wsp_reg **out)
{
	struct wsp_reg *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	ret = sanverbs_mr_reg(so->ctx, buf, len, access, &r->mr);
	if (!ret)
		ret = sanverbs_mr_region(r->mr, &r->region);
	if (ret) {
		if (r->mr)
			sanverbs_mr_dereg(r->mr);
		free(r);
		return ret;
	}
	r->rdma = rdma;
	pthread_mutex_lock(&so->lock);
	r->next = so->regs;
	so->regs = r;
	pthread_mutex_unlock(&so->lock);
	*out = r;
	return 0;
}

/* Dereg, and unpin too, not just drop our handle: the registration is the
 * connection's (other holders keep theirs; the cache only stops handing
 * the entry out). */
static void drop(struct wsp_sock *so, struct wsp_reg *r)
{
	void *addr = sanverbs_mr_addr(r->mr);
	size_t len = sanverbs_mr_length(r->mr);

	sanverbs_mr_dereg(r->mr);
	sanverbs_cache_invalidate(so->ctx, addr, len);
	free(r);
}

void wsp_regs_release(struct wsp_sock *so)
{
	struct wsp_reg *r, *next;

	pthread_mutex_lock(&so->lock);
	r = so->regs;
	so->regs = NULL;
	pthread_mutex_unlock(&so->lock);
	for (; r; r = next) {
		next = r->next;
		drop(so, r);
	}
}

static int unreg(struct wsp_sock *so, struct wsp_reg *r)
{
	struct wsp_reg **pp;

	pthread_mutex_lock(&so->lock);
	for (pp = &so->regs; *pp; pp = &(*pp)->next) {
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	}
	pthread_mutex_unlock(&so->lock);
	/* Remembered so that the cache callback for this memory can say
	 * "already released" when the cache did not keep the registration
	 * (a range registered once: docs/cache.md, "Admission"). */
	wsp_ctx_released(so->ctx, sanverbs_mr_addr(r->mr),
			 sanverbs_mr_length(r->mr));
	sanverbs_mr_dereg(r->mr);
	free(r);
	return 0;
}

WSP_EXPORT HANDLE WSPRegisterMemory(SOCKET s, PVOID lpBuffer,
				    DWORD dwBufferLength, DWORD dwFlags,
				    LPINT lpErrno)
{
	struct wsp_sock *so;
	struct wsp_reg *r;
	int wsa, ret;

	so = wsp_connected(s, &wsa);
	if (!so) {
		wsp_fail(lpErrno, wsa);
		return NULL;
	}
	if (dwFlags < MEM_READ || dwFlags > MEM_READWRITE || !dwBufferLength) {
		wsp_fail(lpErrno, WSAEINVAL);
		return NULL;
	}
	if (!lpBuffer) {
		wsp_fail(lpErrno, WSAEFAULT);
		return NULL;
	}
	/* MEM_WRITE: the local device writes into it (receives, reads). */
	ret = reg(so, lpBuffer, dwBufferLength,
		  (dwFlags & MEM_WRITE) ? SANVERBS_ACCESS_LOCAL_WRITE : 0, 0,
		  &r);
	if (ret) {
		wsp_fail(lpErrno, sanverbs_wsa_error(ret));
		return NULL;
	}
	return (HANDLE)r;
}

WSP_EXPORT int WSPDeregisterMemory(SOCKET s, HANDLE handle, LPINT lpErrno)
{
	struct wsp_sock *so;
	struct wsp_reg *r;
	int wsa;

	so = wsp_connected(s, &wsa);
	if (!so)
		return wsp_fail(lpErrno, wsa);
	pthread_mutex_lock(&so->lock);
	r = wsp_reg_find(so, handle);
	pthread_mutex_unlock(&so->lock);
	if (!r || r->rdma)
		return wsp_fail(lpErrno, WSAEINVAL);
	return unreg(so, r);
}

WSP_EXPORT int WSPRegisterRdmaMemory(SOCKET s, PVOID lpBuffer,
				     DWORD dwBufferLength, DWORD dwFlags,
				     LPVOID lpRdmaBufferDescriptor,
				     LPDWORD lpdwDescriptorLength,
				     LPINT lpErrno)
{
	unsigned char out[SANVERBS_DESC_SIZE];
	struct sanverbs_desc d;
	unsigned int access = 0;
	struct wsp_sock *so;
	struct wsp_reg *r;
	size_t size;
	int wsa, ret;

	so = wsp_connected(s, &wsa);
	if (!so)
		return wsp_fail(lpErrno, wsa);
	if (!lpdwDescriptorLength)
		return wsp_fail(lpErrno, WSAEFAULT);
	/* Length negotiation first: nothing is registered for a caller that
	 * cannot take the descriptor. */
	if (*lpdwDescriptorLength < SANVERBS_DESC_SIZE ||
	    !lpRdmaBufferDescriptor) {
		*lpdwDescriptorLength = SANVERBS_DESC_SIZE;
		return wsp_fail(lpErrno, WSAEFAULT);
	}
	if (dwFlags < MEM_READ || dwFlags > MEM_READWRITE || !dwBufferLength)
		return wsp_fail(lpErrno, WSAEINVAL);
	if (!lpBuffer)
		return wsp_fail(lpErrno, WSAEFAULT);
	/* MEM_READ: the peer may read only; MEM_WRITE: write only. */
	if (dwFlags & MEM_READ)
		access |= SANVERBS_ACCESS_REMOTE_READ;
	if (dwFlags & MEM_WRITE)
		access |= SANVERBS_ACCESS_REMOTE_WRITE;
	ret = reg(so, lpBuffer, dwBufferLength, access, 1, &r);
	if (ret)
		return wsp_fail(lpErrno, sanverbs_wsa_error(ret));
	/* Encode locally, then store through the fault-safe copy: a bad
	 * descriptor pointer is WSAEFAULT, never a crash. */
	size = sizeof(out);
	ret = sanverbs_desc_from_mr(r->mr, &d);
	if (!ret)
		ret = sanverbs_desc_encode(&d, out, &size);
	if (!ret)
		ret = sanverbs_safe_write(lpRdmaBufferDescriptor, out, size);
	if (ret) {
		unreg(so, r);
		return wsp_fail(lpErrno, sanverbs_wsa_error(ret));
	}
	*lpdwDescriptorLength = (DWORD)size;
	return 0;
}

WSP_EXPORT int WSPDeregisterRdmaMemory(SOCKET s, LPVOID lpRdmaBufferDescriptor,
				       DWORD dwDescriptorLength, LPINT lpErrno)
{
	struct sanverbs_desc d, mine;
	struct wsp_sock *so;
	struct wsp_reg *r;
	int wsa;

	so = wsp_connected(s, &wsa);
	if (!so)
		return wsp_fail(lpErrno, wsa);
	if (!lpRdmaBufferDescriptor)
		return wsp_fail(lpErrno, WSAEFAULT);
	wsa = wsp_desc_from_user(lpRdmaBufferDescriptor, dwDescriptorLength,
				 &d);
	if (wsa)
		return wsp_fail(lpErrno, wsa);
	pthread_mutex_lock(&so->lock);
	for (r = so->regs; r; r = r->next) {
		if (!r->rdma || sanverbs_desc_from_mr(r->mr, &mine))
			continue;
		if (mine.rkey == d.rkey && mine.addr == d.addr &&
		    mine.len == d.len)
			break;
	}
	pthread_mutex_unlock(&so->lock);
	return r ? unreg(so, r) : wsp_fail(lpErrno, WSAEINVAL);
}

WSP_EXPORT int WSPMemoryRegistrationCacheCallback(PVOID lpvAddress,
						  SIZE_T Size, LPINT lpErrno)
{
	struct sanverbs_ctx *ctx[WSP_MAX_CTX];
	int i, n, dropped = 0, released = 0;

	if (!lpvAddress || !Size || (uintptr_t)lpvAddress + Size <
					    (uintptr_t)lpvAddress)
		return wsp_fail(lpErrno, WSAEINVAL);
	n = wsp_all_ctx(ctx, WSP_MAX_CTX);
	for (i = 0; i < n; i++) {
		if (!sanverbs_cache_invalidate(ctx[i], lpvAddress, Size))
			dropped = 1;
		else if (wsp_ctx_was_released(ctx[i], lpvAddress, Size))
			released = 1;
	}
	if (lpErrno)
		*lpErrno = dropped ? 0 : WSAEALREADY;
	if (dropped || released)
		return 0;
	/* The SPI: WSAEINVAL when nothing was registered in the range. */
	return wsp_fail(lpErrno, WSAEINVAL);
}
