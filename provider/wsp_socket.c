/* SPDX-License-Identifier: MIT */
/* The socket-shaped calls a SAN provider port needs to get a connected
 * SOCKET, over sanverbs endpoints (connect and accept: wsp_connect.c).
 * Byte-stream sends and receives go through registered bounce buffers, the
 * way SAN providers carry small messages; bulk data goes through
 * WSPRdmaWrite/WSPRdmaRead. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "wsp_priv.h"

pthread_mutex_t wsp_lock = PTHREAD_MUTEX_INITIALIZER;
static struct wsp_sock socks[WSP_MAX_SOCKETS];

struct wsp_ctx_slot {
	char name[64];
	struct sanverbs_ctx *ctx;
	struct wsp_engine *eng;
	int refs;
	/* ranges released lately: dropped by the memory monitor, or
	 * deregistered by the application and not kept in the cache (the
	 * cache callback's "already released" answer) */
	pthread_mutex_t drop_lock;
	uintptr_t drop_addr[64];
	size_t drop_len[64];
	unsigned int drop_next;
};

static struct wsp_ctx_slot ctxs[WSP_MAX_CTX];

/* Queues deep enough for every operation a socket may have in flight. */
const struct sanverbs_ep_attr wsp_ep_attr = {
	.max_send_wr = WSP_SQ_DEPTH,
	.max_recv_wr = WSP_NRECV,
};

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

SOCKET wsp_sock_id(struct wsp_sock *so)
{
	return ((SOCKET)so->gen << 16) | (SOCKET)(so - socks + 1);
}

int wsp_all_socks(SOCKET *out, int max)
{
	int i, n = 0;

	pthread_mutex_lock(&wsp_lock);
	for (i = 0; i < WSP_MAX_SOCKETS && n < max; i++)
		if (socks[i].used)
			out[n++] = wsp_sock_id(&socks[i]);
	pthread_mutex_unlock(&wsp_lock);
	return n;
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
			pthread_mutex_init(&socks[i].lock, NULL);
			pthread_cond_init(&socks[i].cond, NULL);
			pthread_mutex_unlock(&wsp_lock);
			return &socks[i];
		}
	}
	pthread_mutex_unlock(&wsp_lock);
	return NULL;
}

static void note_released(struct wsp_ctx_slot *c, const void *addr,
			  size_t len)
{
	unsigned int i;

	pthread_mutex_lock(&c->drop_lock);
	i = c->drop_next++ % 64;
	c->drop_addr[i] = (uintptr_t)addr;
	c->drop_len[i] = len;
	pthread_mutex_unlock(&c->drop_lock);
}

static void monitor_dropped(void *arg, void *addr, size_t len)
{
	note_released(arg, addr, len);
}

void wsp_ctx_released(struct sanverbs_ctx *ctx, const void *addr, size_t len)
{
	int i;

	for (i = 0; i < WSP_MAX_CTX; i++)
		if (ctxs[i].ctx == ctx)
			note_released(&ctxs[i], addr, len);
}

int wsp_ctx_was_released(struct sanverbs_ctx *ctx, const void *addr,
			 size_t len)
{
	uintptr_t a = (uintptr_t)addr;
	int i, j, hit = 0;

	for (i = 0; i < WSP_MAX_CTX; i++) {
		struct wsp_ctx_slot *c = &ctxs[i];

		if (c->ctx != ctx)
			continue;
		pthread_mutex_lock(&c->drop_lock);
		for (j = 0; j < 64 && j < (int)c->drop_next; j++)
			if (c->drop_addr[j] < a + len &&
			    a < c->drop_addr[j] + c->drop_len[j])
				hit = 1;
		pthread_mutex_unlock(&c->drop_lock);
	}
	return hit;
}

int wsp_ctx_get(const char *ip, unsigned int flags, struct sanverbs_ctx **out,
		struct wsp_engine **eng)
{
	struct sanverbs_ctx_attr attr;
	char name[64];
	int i, ret, slot = -1;

	ret = sanverbs_addr_device(ip, flags, name, sizeof(name));
	if (ret)
		return ret;
	pthread_mutex_lock(&wsp_lock);
	for (i = 0; i < WSP_MAX_CTX; i++) {
		if (ctxs[i].refs && !strcmp(ctxs[i].name, name)) {
			ctxs[i].refs++;
			*out = ctxs[i].ctx;
			*eng = ctxs[i].eng;
			pthread_mutex_unlock(&wsp_lock);
			return 0;
		}
		if (!ctxs[i].refs && slot < 0)
			slot = i;
	}
	ret = -ENOBUFS;
	if (slot >= 0) {
		struct wsp_ctx_slot *c = &ctxs[slot];

		ret = sanverbs_ctx_attr_init(&attr);
		attr.device = name;
		if (!ret)
			ret = sanverbs_ctx_open(&attr, &c->ctx);
		if (!ret) {
			c->eng = wsp_engine_start(&ret);
			if (!c->eng)
				sanverbs_ctx_close(c->ctx);
		}
		if (!ret) {
			pthread_mutex_init(&c->drop_lock, NULL);
			c->drop_next = 0;
			sanverbs_cache_set_callback(c->ctx, monitor_dropped, c);
			strcpy(c->name, name);
			c->refs = 1;
			*out = c->ctx;
			*eng = c->eng;
		}
	}
	pthread_mutex_unlock(&wsp_lock);
	return ret;
}

void wsp_ctx_ref(struct sanverbs_ctx *ctx)
{
	int i;

	pthread_mutex_lock(&wsp_lock);
	for (i = 0; i < WSP_MAX_CTX; i++)
		if (ctxs[i].refs && ctxs[i].ctx == ctx)
			ctxs[i].refs++;
	pthread_mutex_unlock(&wsp_lock);
}

void wsp_ctx_put(struct sanverbs_ctx *ctx)
{
	struct wsp_engine *eng = NULL;
	int i;

	pthread_mutex_lock(&wsp_lock);
	for (i = 0; i < WSP_MAX_CTX; i++) {
		if (ctxs[i].refs && ctxs[i].ctx == ctx && !--ctxs[i].refs) {
			eng = ctxs[i].eng;
			ctxs[i].eng = NULL;
			ctxs[i].ctx = NULL;
			break;
		}
	}
	pthread_mutex_unlock(&wsp_lock);
	if (eng) {
		/* The engine may be waiting for wsp_lock: stop it unlocked. */
		wsp_engine_stop(eng);
		sanverbs_cache_set_callback(ctx, NULL, NULL);
		sanverbs_ctx_close(ctx);
	}
}

int wsp_all_ctx(struct sanverbs_ctx **out, int max)
{
	int i, n = 0;

	pthread_mutex_lock(&wsp_lock);
	for (i = 0; i < WSP_MAX_CTX && n < max; i++)
		if (ctxs[i].refs)
			out[n++] = ctxs[i].ctx;
	pthread_mutex_unlock(&wsp_lock);
	return n;
}

/* Bounce buffers, operations and posted receives for a freshly connected
 * socket, then the engine takes it. */
int wsp_sock_connected(struct wsp_sock *so)
{
	size_t len = WSP_CHUNK * (WSP_NSEND + WSP_NRECV);
	int i, ret;

	so->bounce = malloc(len);
	so->ops = calloc(WSP_MAX_OPS, sizeof(*so->ops));
	if (!so->bounce || !so->ops)
		return -ENOMEM;
	for (i = 0; i < WSP_MAX_OPS; i++)
		so->ops[i].next_free = i + 1 < WSP_MAX_OPS ? i + 1 : -1;
	so->free_op = 0;
	so->send_free = (1u << WSP_NSEND) - 1;
	ret = sanverbs_mr_reg(so->ctx, so->bounce, len,
			      SANVERBS_ACCESS_LOCAL_WRITE, &so->bounce_mr);
	if (!ret)
		ret = sanverbs_mr_region(so->bounce_mr, &so->bounce_reg);
	for (i = 0; !ret && i < WSP_NRECV; i++)
		ret = wsp_post_slot(so, i);
	if (!ret)
		ret = wsp_engine_add(so);
	return ret;
}

/* The address in @name as a string for the endpoint layer, and a copy. */
int wsp_addr_of(const struct sockaddr *name, int namelen,
		struct sockaddr_storage *ss, char *ip, size_t iplen,
		uint16_t *port)
{
	if (!name || namelen < (int)sizeof(struct sockaddr_in))
		return WSAEFAULT;
	memset(ss, 0, sizeof(*ss));
	if (name->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)ss;

		memcpy(in, name, sizeof(*in));
		inet_ntop(AF_INET, &in->sin_addr, ip, (socklen_t)iplen);
		*port = ntohs(in->sin_port);
		return 0;
	}
	if (name->sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;

		if (namelen < (int)sizeof(*in6))
			return WSAEFAULT;
		memcpy(in6, name, sizeof(*in6));
		inet_ntop(AF_INET6, &in6->sin6_addr, ip, (socklen_t)iplen);
		*port = ntohs(in6->sin6_port);
		return 0;
	}
	return WSAEAFNOSUPPORT;
}

int wsp_sa_len(const struct sockaddr_storage *ss)
{
	return ss->ss_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6) :
					   (int)sizeof(struct sockaddr_in);
}

int wsp_put_addr(const struct sockaddr_storage *ss, struct sockaddr *name,
		 LPINT namelen)
{
	int n = wsp_sa_len(ss);

	if (!name || !namelen || *namelen < n)
		return WSAEFAULT;
	memcpy(name, ss, (size_t)n);
	*namelen = n;
	return 0;
}

WSP_EXPORT SOCKET WSPSocket(int af, int type, int protocol,
			    LPWSAPROTOCOL_INFOW lpProtocolInfo, GROUP g,
			    DWORD dwFlags, LPINT lpErrno)
{
	struct wsp_sock *so;
	SOCKET id;
	int err;

	if (af != SANVERBS_AF_INET && af != SANVERBS_AF_INET6) {
		wsp_fail(lpErrno, WSAEAFNOSUPPORT);
		return INVALID_SOCKET;
	}
	if (type != SANVERBS_SOCK_STREAM || (protocol && protocol != 6)) {
		wsp_fail(lpErrno, WSAEPROTOTYPE);
		return INVALID_SOCKET;
	}
	so = sock_alloc();
	if (!so) {
		wsp_fail(lpErrno, WSAEMFILE);
		return INVALID_SOCKET;
	}
	so->local.ss_family = (sa_family_t)(af == SANVERBS_AF_INET6 ? AF_INET6 :
								  AF_INET);
	id = wsp_sock_id(so);
	/* The switch's own handle for this socket names it in completion
	 * upcalls. */
	if (wsp_have_up && wsp_up.lpWPUCreateSocketHandle) {
		so->sw = wsp_up.lpWPUCreateSocketHandle(
			lpProtocolInfo ? lpProtocolInfo->dwCatalogEntryId :
					 wsp_catalog_id,
			(DWORD_PTR)id, &err);
		if (so->sw == INVALID_SOCKET) {
			so->sw = 0;
			WSPCloseSocket(id, NULL);
			wsp_fail(lpErrno, err ? err : WSAENOBUFS);
			return INVALID_SOCKET;
		}
	}
	return id;
}

WSP_EXPORT int WSPBind(SOCKET s, const struct sockaddr *name, int namelen,
		       LPINT lpErrno)
{
	struct sockaddr_storage ss;
	struct wsp_sock *so;
	char ip[INET6_ADDRSTRLEN];
	uint16_t port;
	int err, ret;

	so = wsp_get(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	err = wsp_addr_of(name, namelen, &ss, ip, sizeof(ip), &port);
	if (err)
		return wsp_fail(lpErrno, err);
	if (so->bound || so->ep)
		return wsp_fail(lpErrno, WSAEINVAL);
	/* The address names the device: open (or share) its context now. */
	ret = wsp_ctx_get(ip, 0, &so->ctx, &so->eng);
	if (ret)
		return wsp_fail(lpErrno, sanverbs_wsa_error(ret));
	so->local = ss;
	so->bound = 1;
	return 0;
}

static void set_port(struct sockaddr_storage *ss, uint16_t port)
{
	if (ss->ss_family == AF_INET6)
		((struct sockaddr_in6 *)ss)->sin6_port = htons(port);
	else
		((struct sockaddr_in *)ss)->sin_port = htons(port);
}

static uint16_t get_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)ss)->sin6_port);
	return ntohs(((const struct sockaddr_in *)ss)->sin_port);
}

static void ip_of(const struct sockaddr_storage *ss, char *ip, size_t len)
{
	if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr,
			  ip, (socklen_t)len);
	else
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr,
			  ip, (socklen_t)len);
}

WSP_EXPORT int WSPListen(SOCKET s, int backlog, LPINT lpErrno)
{
	struct wsp_sock *so;
	char ip[INET6_ADDRSTRLEN];
	int err, ret;

	so = wsp_get(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	if (!so->bound || so->ep)
		return wsp_fail(lpErrno, WSAEINVAL);
	if (so->lis)
		return 0;
	ip_of(&so->local, ip, sizeof(ip));
	ret = sanverbs_ep_listen(so->ctx, ip, get_port(&so->local),
				 backlog > 0 ? backlog : 16, &wsp_ep_attr, &so->lis);
	if (ret)
		return wsp_fail(lpErrno, sanverbs_wsa_error(ret));
	/* Port 0 picked one: report it like getsockname() would. */
	set_port(&so->local, sanverbs_ep_local_port(so->lis));
	return 0;
}

WSP_EXPORT int WSPGetSockName(SOCKET s, struct sockaddr *name, LPINT namelen,
			      LPINT lpErrno)
{
	struct wsp_sock *so;
	int err;

	so = wsp_get(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	err = wsp_put_addr(&so->local, name, namelen);
	return err ? wsp_fail(lpErrno, err) : 0;
}

WSP_EXPORT int WSPGetPeerName(SOCKET s, struct sockaddr *name, LPINT namelen,
			      LPINT lpErrno)
{
	struct wsp_sock *so;
	int err;

	so = wsp_connected(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	err = wsp_put_addr(&so->peer, name, namelen);
	return err ? wsp_fail(lpErrno, err) : 0;
}

WSP_EXPORT int WSPCloseSocket(SOCKET s, LPINT lpErrno)
{
	struct wsp_sock *so;
	int err;

	so = wsp_get(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	pthread_mutex_lock(&wsp_lock);
	if (!so->used || so->closing) {
		pthread_mutex_unlock(&wsp_lock);
		return wsp_fail(lpErrno, WSAENOTSOCK);
	}
	so->closing = 1;
	pthread_mutex_unlock(&wsp_lock);
	/* Pending operations end first (WSA_OPERATION_ABORTED), then the
	 * registrations (the SAN rule: they die with the connection), then
	 * the connection. */
	wsp_engine_cancel(so);
	wsp_engine_forget(so);
	wsp_regs_release(so);
	if (so->bounce_mr)
		sanverbs_mr_dereg(so->bounce_mr);
	if (so->ep)
		sanverbs_ep_close(so->ep);
	if (so->lis)
		sanverbs_ep_close(so->lis);
	free(so->bounce);
	free(so->ops);
	if (so->ctx)
		wsp_ctx_put(so->ctx);
	if (so->sw && wsp_have_up && wsp_up.lpWPUCloseSocketHandle)
		wsp_up.lpWPUCloseSocketHandle(so->sw, &err);
	pthread_mutex_lock(&wsp_lock);
	pthread_mutex_destroy(&so->lock);
	pthread_cond_destroy(&so->cond);
	so->used = 0;
	pthread_mutex_unlock(&wsp_lock);
	return 0;
}
