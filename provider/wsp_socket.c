/* SPDX-License-Identifier: MIT */
/* The socket-shaped calls a SAN provider port needs to get a connected
 * SOCKET, over sanverbs endpoints. Byte-stream sends and receives go through
 * registered bounce buffers, the way SAN providers carry small messages; bulk
 * data goes through WSPRdmaWrite/WSPRdmaRead. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wsp_priv.h"

pthread_mutex_t wsp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wsp_sock socks[WSP_MAX_SOCKETS];

static struct {
	char name[64];
	struct sanverbs_ctx *ctx;
	int refs;
} ctxs[8];

struct wsp_sock *wsp_get(SOCKET s, int *err)
{
	size_t idx = (size_t)(s & 0xffff) - 1;

	if (s == INVALID_SOCKET || idx >= WSP_MAX_SOCKETS ||
	    !socks[idx].used || socks[idx].gen != (uint16_t)(s >> 16)) {
		*err = WSAENOTSOCK;
		return NULL;
	}
	return &socks[idx];
}

struct wsp_sock *wsp_connected(SOCKET s, int *err)
{
	struct wsp_sock *so = wsp_get(s, err);

	if (so && !so->ep) {
		*err = WSAENOTCONN;
		return NULL;
	}
	return so;
}

static SOCKET sock_id(struct wsp_sock *so)
{
	return ((SOCKET)so->gen << 16) | (SOCKET)(so - socks + 1);
}

static struct wsp_sock *sock_alloc(void)
{
	int i;

	pthread_mutex_lock(&wsp_lock);
	for (i = 0; i < WSP_MAX_SOCKETS; i++) {
		if (!socks[i].used) {
			uint16_t gen = (uint16_t)(socks[i].gen + 1);

			memset(&socks[i], 0, sizeof(socks[i]));
			socks[i].gen = gen ? gen : 1;
			socks[i].used = 1;
			pthread_mutex_unlock(&wsp_lock);
			return &socks[i];
		}
	}
	pthread_mutex_unlock(&wsp_lock);
	return NULL;
}

int wsp_ctx_get(const char *ip, unsigned int flags, struct sanverbs_ctx **out)
{
	struct sanverbs_ctx_attr attr;
	char name[64];
	int i, ret, slot = -1;

	ret = sanverbs_addr_device(ip, flags, name, sizeof(name));
	if (ret)
		return ret;
	pthread_mutex_lock(&wsp_lock);
	for (i = 0; i < 8; i++) {
		if (ctxs[i].refs && !strcmp(ctxs[i].name, name)) {
			ctxs[i].refs++;
			*out = ctxs[i].ctx;
			pthread_mutex_unlock(&wsp_lock);
			return 0;
		}
		if (!ctxs[i].refs && slot < 0)
			slot = i;
	}
	ret = -ENOBUFS;
	if (slot >= 0) {
		ret = sanverbs_ctx_attr_init(&attr);
		attr.device = name;
		if (!ret)
			ret = sanverbs_ctx_open(&attr, &ctxs[slot].ctx);
		if (!ret) {
			strcpy(ctxs[slot].name, name);
			ctxs[slot].refs = 1;
			*out = ctxs[slot].ctx;
		}
	}
	pthread_mutex_unlock(&wsp_lock);
	return ret;
}

void wsp_ctx_ref(struct sanverbs_ctx *ctx)
{
	int i;

	pthread_mutex_lock(&wsp_lock);
	for (i = 0; i < 8; i++)
		if (ctxs[i].refs && ctxs[i].ctx == ctx)
			ctxs[i].refs++;
	pthread_mutex_unlock(&wsp_lock);
}

void wsp_ctx_put(struct sanverbs_ctx *ctx)
{
	int i;

	pthread_mutex_lock(&wsp_lock);
	for (i = 0; i < 8; i++) {
		if (ctxs[i].refs && ctxs[i].ctx == ctx && !--ctxs[i].refs)
			sanverbs_ctx_close(ctx);
	}
	pthread_mutex_unlock(&wsp_lock);
}

int wsp_all_ctx(struct sanverbs_ctx **out, int max)
{
	int i, n = 0;

	pthread_mutex_lock(&wsp_lock);
	for (i = 0; i < 8 && n < max; i++)
		if (ctxs[i].refs)
			out[n++] = ctxs[i].ctx;
	pthread_mutex_unlock(&wsp_lock);
	return n;
}

static unsigned char *slot_buf(struct wsp_sock *so, int slot)
{
	return so->bounce + WSP_CHUNK * (size_t)(slot + 1);
}

static int post_slot(struct wsp_sock *so, int slot)
{
	return sanverbs_ep_post_recv(so->ep, so->bounce_mr, slot_buf(so, slot),
				     WSP_CHUNK, WSP_WR_RECV | (uint64_t)slot);
}

/* Bounce buffers and posted receives for a freshly connected socket. */
static int sock_connected(struct wsp_sock *so)
{
	size_t len = WSP_CHUNK * (WSP_NRECV + 1);
	int i, ret;

	so->bounce = malloc(len);
	if (!so->bounce)
		return -ENOMEM;
	/* Registered through the endpoint: released with the connection. */
	ret = sanverbs_ep_mr_reg(so->ep, so->bounce, len,
				 SANVERBS_ACCESS_LOCAL_WRITE, &so->bounce_mr);
	for (i = 0; !ret && i < WSP_NRECV; i++)
		ret = post_slot(so, i);
	return ret;
}

int wsp_wait_wr(struct wsp_sock *so, uint64_t wr_id)
{
	for (;;) {
		struct sanverbs_wc wc;
		int n = sanverbs_ep_wait(so->ep, &wc, 1, wsp_timeout_ms());

		if (n < 0)
			return n;
		if (wc.wr_id & WSP_WR_RECV) {
			if (wc.status)
				continue; /* flushed: the connection is gone */
			so->ready[so->nready] = (int)(wc.wr_id & 0xff);
			so->ready_len[so->nready++] = wc.byte_len;
			if (wr_id == WSP_WR_RECV)
				return 0;
			continue;
		}
		if (wc.wr_id == wr_id)
			return wc.status;
	}
}

static int sin_of(const struct sockaddr *name, int namelen,
		  struct sockaddr_in *sin)
{
	if (!name || namelen < (int)sizeof(*sin))
		return WSAEFAULT;
	memcpy(sin, name, sizeof(*sin));
	if (sin->sin_family != AF_INET)
		return WSAEAFNOSUPPORT;
	return 0;
}

WSP_EXPORT SOCKET WSPSocket(int af, int type, int protocol,
			    void *lpProtocolInfo, GROUP g, DWORD dwFlags,
			    LPINT lpErrno)
{
	struct wsp_sock *so;

	if (af != SANVERBS_AF_INET) {
		wsp_fail(lpErrno, WSAEAFNOSUPPORT);
		return INVALID_SOCKET;
	}
	if (type != SANVERBS_SOCK_STREAM || protocol) {
		wsp_fail(lpErrno, WSAEPROTOTYPE);
		return INVALID_SOCKET;
	}
	so = sock_alloc();
	if (!so) {
		wsp_fail(lpErrno, WSAEMFILE);
		return INVALID_SOCKET;
	}
	return sock_id(so);
}

WSP_EXPORT int WSPBind(SOCKET s, const struct sockaddr *name, int namelen,
		       LPINT lpErrno)
{
	struct wsp_sock *so;
	char ip[INET_ADDRSTRLEN];
	int err, ret;

	so = wsp_get(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	err = sin_of(name, namelen, &so->local);
	if (err)
		return wsp_fail(lpErrno, err);
	if (so->bound || so->ep)
		return wsp_fail(lpErrno, WSAEINVAL);
	/* The address names the device: open (or share) its context now. */
	inet_ntop(AF_INET, &so->local.sin_addr, ip, sizeof(ip));
	ret = wsp_ctx_get(ip, 0, &so->ctx);
	if (ret)
		return wsp_fail(lpErrno, sanverbs_wsa_error(ret));
	so->bound = 1;
	return 0;
}

WSP_EXPORT int WSPListen(SOCKET s, int backlog, LPINT lpErrno)
{
	struct wsp_sock *so;
	char ip[INET_ADDRSTRLEN];
	int err, ret;

	so = wsp_get(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	if (!so->bound || so->ep)
		return wsp_fail(lpErrno, WSAEINVAL);
	if (so->lis)
		return 0;
	inet_ntop(AF_INET, &so->local.sin_addr, ip, sizeof(ip));
	ret = sanverbs_ep_listen(so->ctx, ip, ntohs(so->local.sin_port),
				 backlog > 0 ? backlog : 16, NULL, &so->lis);
	if (ret)
		return wsp_fail(lpErrno, sanverbs_wsa_error(ret));
	/* Port 0 picked one: report it like getsockname() would. */
	so->local.sin_port = htons(sanverbs_ep_local_port(so->lis));
	return 0;
}

/** Not Windows: the port a listening socket got (for port-0 binds). */
WSP_EXPORT int WSPGetSockName(SOCKET s, struct sockaddr *name, LPINT namelen,
			      LPINT lpErrno)
{
	struct wsp_sock *so;
	int err;

	so = wsp_get(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	if (!name || !namelen || *namelen < (int)sizeof(so->local))
		return wsp_fail(lpErrno, WSAEFAULT);
	memcpy(name, &so->local, sizeof(so->local));
	*namelen = sizeof(so->local);
	return 0;
}

WSP_EXPORT SOCKET WSPAccept(SOCKET s, struct sockaddr *addr, LPINT addrlen,
			    void *lpfnCondition, uintptr_t dwCallbackData,
			    LPINT lpErrno)
{
	struct wsp_sock *so, *ns;
	int err, ret;

	so = wsp_get(s, &err);
	if (!so || !so->lis) {
		wsp_fail(lpErrno, so ? WSAEINVAL : err);
		return INVALID_SOCKET;
	}
	ns = sock_alloc();
	if (!ns) {
		wsp_fail(lpErrno, WSAEMFILE);
		return INVALID_SOCKET;
	}
	ret = sanverbs_ep_accept(so->lis, wsp_timeout_ms(), &ns->ep);
	if (!ret) {
		wsp_ctx_ref(so->ctx);
		ns->ctx = so->ctx;
		ret = sock_connected(ns);
	}
	if (ret) {
		int wsa = sanverbs_wsa_error(ret);

		WSPCloseSocket(sock_id(ns), NULL);
		wsp_fail(lpErrno, wsa);
		return INVALID_SOCKET;
	}
	if (addr && addrlen)
		*addrlen = 0; /* the peer's address is not tracked */
	return sock_id(ns);
}

WSP_EXPORT int WSPConnect(SOCKET s, const struct sockaddr *name, int namelen,
			  LPWSABUF lpCallerData, LPWSABUF lpCalleeData,
			  void *lpSQOS, void *lpGQOS, LPINT lpErrno)
{
	struct sockaddr_in sin;
	struct wsp_sock *so;
	char ip[INET_ADDRSTRLEN];
	int err, ret;

	so = wsp_get(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	if (so->ep)
		return wsp_fail(lpErrno, WSAEISCONN);
	if (so->lis || lpCallerData || lpCalleeData || lpSQOS || lpGQOS)
		return wsp_fail(lpErrno, WSAEINVAL);
	err = sin_of(name, namelen, &sin);
	if (err)
		return wsp_fail(lpErrno, err);
	inet_ntop(AF_INET, &sin.sin_addr, ip, sizeof(ip));
	if (!so->ctx) {
		ret = wsp_ctx_get(ip, SANVERBS_ADDR_REMOTE, &so->ctx);
		if (ret)
			return wsp_fail(lpErrno, sanverbs_wsa_error(ret));
	}
	ret = sanverbs_ep_connect(so->ctx, ip, ntohs(sin.sin_port), NULL,
				  &so->ep);
	if (!ret)
		ret = sock_connected(so);
	if (ret) {
		if (so->ep)
			sanverbs_ep_close(so->ep);
		so->ep = NULL;
		return wsp_fail(lpErrno, sanverbs_wsa_error(ret));
	}
	return 0;
}

WSP_EXPORT int WSPSend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
		       LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
		       LPWSAOVERLAPPED lpOverlapped,
		       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
		       LPWSATHREADID lpThreadId, LPINT lpErrno)
{
	struct wsp_sock *so;
	DWORD i, total = 0;
	int err, ret;

	so = wsp_connected(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	if (!lpBuffers || !dwBufferCount || dwFlags)
		return wsp_fail(lpErrno, WSAEINVAL);
	for (i = 0; i < dwBufferCount; i++) {
		const char *p = lpBuffers[i].buf;
		uint32_t left = lpBuffers[i].len;

		if (left && !p)
			return wsp_fail(lpErrno, WSAEFAULT);
		while (left) {
			uint32_t n = left < WSP_CHUNK ? left : WSP_CHUNK;

			/* A bad user pointer is WSAEFAULT, as from send(),
			 * found by the fault-safe copy; never a crash. */
			if (sanverbs_safe_read(so->bounce, p, n))
				return wsp_fail(lpErrno, WSAEFAULT);
			ret = sanverbs_ep_post_send(so->ep, so->bounce_mr,
						    so->bounce, n, 1);
			if (!ret)
				ret = wsp_wait_wr(so, 1);
			if (ret)
				return wsp_fail(lpErrno,
						sanverbs_wsa_error(ret));
			p += n;
			left -= n;
			total += n;
		}
	}
	if (lpNumberOfBytesSent)
		*lpNumberOfBytesSent = total;
	return 0;
}

WSP_EXPORT int WSPRecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
		       LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
		       LPWSAOVERLAPPED lpOverlapped,
		       LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
		       LPWSATHREADID lpThreadId, LPINT lpErrno)
{
	struct wsp_sock *so;
	DWORD i = 0, total = 0;
	size_t boff = 0;
	int err, ret;

	so = wsp_connected(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	if (!lpBuffers || !dwBufferCount || !lpNumberOfBytesRecvd)
		return wsp_fail(lpErrno, WSAEINVAL);
	if (!so->nready && !so->peer_closed) {
		ret = wsp_wait_wr(so, WSP_WR_RECV);
		if (ret == -ENOTCONN || ret == -ECONNRESET) {
			so->peer_closed = 1;
		} else if (ret) {
			return wsp_fail(lpErrno, sanverbs_wsa_error(ret));
		}
	}
	/* Stream semantics: hand out what has arrived, across messages. */
	while (so->nready && i < dwBufferCount) {
		int slot = so->ready[0];
		size_t avail = so->ready_len[0] - so->consumed;
		size_t room = lpBuffers[i].len - boff;
		size_t n = avail < room ? avail : room;

		if (n && !lpBuffers[i].buf)
			return wsp_fail(lpErrno, WSAEFAULT);
		/* A faulting buffer consumes nothing: the bytes stay queued,
		 * and what earlier buffers received is still reported. */
		if (n && sanverbs_safe_write(lpBuffers[i].buf + boff,
					     slot_buf(so, slot) + so->consumed,
					     n)) {
			if (total)
				break;
			return wsp_fail(lpErrno, WSAEFAULT);
		}
		boff += n;
		so->consumed += n;
		total += (DWORD)n;
		if (so->consumed == so->ready_len[0]) {
			so->consumed = 0;
			memmove(so->ready, so->ready + 1,
				sizeof(so->ready[0]) * (size_t)(so->nready - 1));
			memmove(so->ready_len, so->ready_len + 1,
				sizeof(so->ready_len[0]) *
					(size_t)(so->nready - 1));
			so->nready--;
			if (!so->peer_closed)
				post_slot(so, slot);
		}
		if (boff == lpBuffers[i].len) {
			i++;
			boff = 0;
		}
	}
	*lpNumberOfBytesRecvd = total;
	if (lpFlags)
		*lpFlags = 0;
	return 0;
}

WSP_EXPORT int WSPCloseSocket(SOCKET s, LPINT lpErrno)
{
	struct wsp_sock *so;
	struct wsp_reg *r, *next;
	int err;

	so = wsp_get(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	/* The SAN rule: every registration of the socket goes before the
	 * connection does. The endpoint drops the handles it holds. */
	for (r = so->regs; r; r = next) {
		next = r->next;
		free(r);
	}
	so->regs = NULL;
	if (so->ep)
		sanverbs_ep_close(so->ep);
	if (so->lis)
		sanverbs_ep_close(so->lis);
	free(so->bounce);
	if (so->ctx)
		wsp_ctx_put(so->ctx);
	pthread_mutex_lock(&wsp_lock);
	so->used = 0;
	pthread_mutex_unlock(&wsp_lock);
	return 0;
}
