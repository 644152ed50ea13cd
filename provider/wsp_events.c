/* SPDX-License-Identifier: MIT */
/* Network events (WSPEventSelect / WSPEnumNetworkEvents), socket options
 * and WSPShutdown. */
#include <errno.h>
#include <poll.h>
#include <string.h>

#include "wsp_priv.h"

void wsp_event_raise(SOCKET s, long ev, int err)
{
	struct wsp_done_list dl = { 0 };
	struct wsp_sock *so = wsp_get(s, &err);

	if (!so)
		return;
	pthread_mutex_lock(&so->lock);
	wsp_event_note(so, ev, err, &dl);
	pthread_mutex_unlock(&so->lock);
	wsp_event_signal(s, &dl);
}

WSP_EXPORT int WSPEventSelect(SOCKET s, WSAEVENT hEventObject,
			      long lNetworkEvents, LPINT lpErrno)
{
	struct wsp_done_list dl = { 0 };
	struct wsp_sock *so;
	int err;

	so = wsp_get(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	if (lNetworkEvents & ~(long)(FD_READ | FD_WRITE | FD_OOB | FD_ACCEPT |
				     FD_CONNECT | FD_CLOSE))
		return wsp_fail(lpErrno, WSAEINVAL);
	if (lNetworkEvents && !hEventObject)
		return wsp_fail(lpErrno, WSA_INVALID_HANDLE);
	pthread_mutex_lock(&so->lock);
	so->ev_obj = lNetworkEvents ? hEventObject : NULL;
	so->ev_mask = lNetworkEvents;
	/* Events already true are signaled now (as on Windows). */
	if (so->ep && !so->shut_send)
		wsp_event_note(so, FD_WRITE, 0, &dl);
	if (so->nready)
		wsp_event_note(so, FD_READ, 0, &dl);
	dl.events |= so->ev_pending & so->ev_mask;
	pthread_mutex_unlock(&so->lock);
	if (so->lis && (lNetworkEvents & FD_ACCEPT))
		wsp_engine_watch_listener(so);
	wsp_event_signal(s, &dl);
	return 0;
}

WSP_EXPORT int WSPEnumNetworkEvents(SOCKET s, WSAEVENT hEventObject,
				    LPWSANETWORKEVENTS lpNetworkEvents,
				    LPINT lpErrno)
{
	struct wsp_sock *so;
	int err, bit;

	so = wsp_get(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	if (!lpNetworkEvents)
		return wsp_fail(lpErrno, WSAEFAULT);
	/* A listener's pending connection is FD_ACCEPT. */
	if (so->lis) {
		struct pollfd p = { .fd = sanverbs_ep_fd(so->lis),
				    .events = POLLIN };

		if (p.fd >= 0 && poll(&p, 1, 0) > 0)
			wsp_event_raise(s, FD_ACCEPT, 0);
	}
	pthread_mutex_lock(&so->lock);
	memset(lpNetworkEvents, 0, sizeof(*lpNetworkEvents));
	lpNetworkEvents->lNetworkEvents = so->ev_pending & so->ev_mask;
	for (bit = 0; bit < FD_MAX_EVENTS; bit++)
		if (lpNetworkEvents->lNetworkEvents & (1L << bit))
			lpNetworkEvents->iErrorCode[bit] = so->ev_err[bit];
	so->ev_pending &= ~so->ev_mask;
	pthread_mutex_unlock(&so->lock);
	if (hEventObject && wsp_have_up && wsp_up.lpWPUResetEvent)
		wsp_up.lpWPUResetEvent(hEventObject, &err);
	return 0;
}

static int put_int(char *optval, LPINT optlen, int v)
{
	if (!optval || !optlen || *optlen < (int)sizeof(int))
		return WSAEFAULT;
	memcpy(optval, &v, sizeof(v));
	*optlen = sizeof(int);
	return 0;
}

WSP_EXPORT int WSPGetSockOpt(SOCKET s, int level, int optname, char *optval,
			     LPINT optlen, LPINT lpErrno)
{
	struct wsp_sock *so;
	int err, v;

	so = wsp_get(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	if (level != WS_SOL_SOCKET)
		return wsp_fail(lpErrno, WSAENOPROTOOPT);
	switch (optname) {
	case WS_SO_ERROR:
		pthread_mutex_lock(&so->lock);
		v = so->so_error;
		so->so_error = 0;
		pthread_mutex_unlock(&so->lock);
		break;
	case WS_SO_TYPE:
		v = SANVERBS_SOCK_STREAM;
		break;
	case WS_SO_ACCEPTCONN:
		v = so->lis != NULL;
		break;
	case WS_SO_SNDBUF:
		v = (int)(WSP_CHUNK * WSP_NSEND);
		break;
	case WS_SO_RCVBUF:
		v = (int)(WSP_CHUNK * WSP_NRECV);
		break;
	case SO_MAX_RDMA_SIZE:
		/* one request's byte count is a DWORD */
		v = INT32_MAX;
		break;
	case SO_RDMA_THRESHOLD_SIZE:
		/* above one bounce buffer, RDMA is the better path */
		v = (int)WSP_CHUNK;
		break;
	default:
		return wsp_fail(lpErrno, WSAENOPROTOOPT);
	}
	err = put_int(optval, optlen, v);
	return err ? wsp_fail(lpErrno, err) : 0;
}

WSP_EXPORT int WSPSetSockOpt(SOCKET s, int level, int optname,
			     const char *optval, int optlen, LPINT lpErrno)
{
	int err;

	if (!wsp_get(s, &err))
		return wsp_fail(lpErrno, err);
	if (!optval || optlen < (int)sizeof(int))
		return wsp_fail(lpErrno, WSAEFAULT);
	if (level == WS_IPPROTO_TCP && optname == WS_TCP_NODELAY)
		return 0; /* every message goes out when posted */
	if (level != WS_SOL_SOCKET)
		return wsp_fail(lpErrno, WSAENOPROTOOPT);
	switch (optname) {
	case WS_SO_SNDBUF:
	case WS_SO_RCVBUF:
	case WS_SO_KEEPALIVE:
	case WS_SO_REUSEADDR:
	case WS_SO_LINGER:
		/* accepted: the RDMA connection has fixed buffers, its own
		 * liveness (transport retries) and ports of its own */
		return 0;
	default:
		return wsp_fail(lpErrno, WSAENOPROTOOPT);
	}
}

WSP_EXPORT int WSPShutdown(SOCKET s, int how, LPINT lpErrno)
{
	struct wsp_sock *so;
	int err;

	so = wsp_connected(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	if (how < SD_RECEIVE || how > SD_BOTH)
		return wsp_fail(lpErrno, WSAEINVAL);
	pthread_mutex_lock(&so->lock);
	if (how != SD_SEND)
		so->shut_recv = 1;
	if (how != SD_RECEIVE)
		so->shut_send = 1;
	pthread_mutex_unlock(&so->lock);
	return 0;
}
