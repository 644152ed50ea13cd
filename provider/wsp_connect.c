/* SPDX-License-Identifier: MIT */
/* WSPConnect and WSPAccept: connection establishment with caller and callee
 * data. The caller's data rides with the connection request; the listener's
 * condition function sees it and may answer with callee data, which rides
 * back with the accept (or the rejection). CF_DEFER leaves the request
 * pending in the listener's queue, where the next WSPAccept finds it, unless
 * its caller gave up meanwhile: then it is dropped and that WSPAccept serves
 * the next request (or times out), never presenting a withdrawn one. */
#include <errno.h>
#include <string.h>

#include "wsp_priv.h"

/* The application's caller data, copied through the fault-safe path (an
 * invalid buffer is WSAEFAULT, as the switch's own probe would say). */
static int caller_data(LPWSABUF cd, unsigned char *tmp, size_t *n)
{
	*n = 0;
	if (!cd || !cd->len)
		return 0;
	if (cd->len > SANVERBS_EP_REQ_DATA_MAX)
		return WSAEINVAL;
	if (!cd->buf || sanverbs_safe_read(tmp, cd->buf, cd->len))
		return WSAEFAULT;
	*n = cd->len;
	return 0;
}

WSP_EXPORT int WSPConnect(SOCKET s, const struct sockaddr *name, int namelen,
			  LPWSABUF lpCallerData, LPWSABUF lpCalleeData,
			  LPQOS lpSQOS, LPQOS lpGQOS, LPINT lpErrno)
{
	unsigned char cdata[SANVERBS_EP_REQ_DATA_MAX];
	unsigned char edata[SANVERBS_EP_ACCEPT_DATA_MAX];
	struct sockaddr_storage ss;
	struct wsp_sock *so;
	char ip[INET6_ADDRSTRLEN];
	size_t clen, elen;
	uint16_t port;
	int err, ret, wsa;

	so = wsp_get(s, &err);
	if (!so)
		return wsp_fail(lpErrno, err);
	if (so->ep)
		return wsp_fail(lpErrno, WSAEISCONN);
	if (so->lis || lpSQOS || lpGQOS)
		return wsp_fail(lpErrno, WSAEINVAL);
	err = caller_data(lpCallerData, cdata, &clen);
	if (!err)
		err = wsp_addr_of(name, namelen, &ss, ip, sizeof(ip), &port);
	if (err)
		return wsp_fail(lpErrno, err);
	if (!so->ctx) {
		ret = wsp_ctx_get(ip, SANVERBS_ADDR_REMOTE, &so->ctx, &so->eng);
		if (ret)
			return wsp_fail(lpErrno, sanverbs_wsa_error(ret));
	}
	/* Received into our own buffer, so that the callee data is complete
	 * before any of it reaches the application's; the room is the
	 * application's, so that a reply too large is turned down on the
	 * wire, not cut. Without lpCalleeData the reply is not wanted. */
	elen = sizeof(edata);
	if (lpCalleeData && lpCalleeData->len < elen)
		elen = lpCalleeData->len;
	ret = sanverbs_ep_connect_data(so->ctx, ip, port, &wsp_ep_attr, cdata,
				       clen, lpCalleeData ? edata : NULL,
				       lpCalleeData ? &elen : NULL, &so->ep);
	/* the caller data was checked above: this is the reply's size */
	wsa = ret == -EMSGSIZE ? WSAEMSGSIZE : sanverbs_wsa_error(ret);
	if (lpCalleeData) {
		/* the accept's data, or the rejection's (WSAECONNREFUSED);
		 * for WSAEMSGSIZE the size it needed */
		if (ret && ret != -ECONNREFUSED && ret != -EMSGSIZE)
			elen = 0;
		if ((!ret || ret == -ECONNREFUSED) && elen &&
		    sanverbs_safe_write(lpCalleeData->buf, edata, elen))
			wsa = WSAEFAULT;
		else
			lpCalleeData->len = (uint32_t)elen;
	}
	if (!wsa) {
		so->peer = ss;
		wsa = sanverbs_wsa_error(wsp_sock_connected(so));
	}
	if (wsa) {
		if (so->ep)
			sanverbs_ep_close(so->ep);
		so->ep = NULL;
		wsp_event_raise(s, FD_CONNECT, wsa);
		return wsp_fail(lpErrno, wsa);
	}
	wsp_event_raise(s, FD_CONNECT | FD_WRITE, 0);
	return 0;
}

/*
 * Asks the switch's condition function about @req: its caller's address and
 * data, the listener's address as the callee's, and room for the callee
 * data (@edata: on return the bytes it wrote). Returns its verdict.
 */
static int condition(LPCONDITIONPROC fn, DWORD_PTR arg,
		     struct sanverbs_ep_req *req,
		     const struct sockaddr_storage *peer,
		     const struct sockaddr_storage *local, LPWSABUF edata)
{
	unsigned char cbuf[SANVERBS_EP_REQ_DATA_MAX];
	size_t clen = sizeof(cbuf);
	struct sockaddr_storage p = *peer, l = *local;
	WSABUF caller = { (uint32_t)wsp_sa_len(&p), (char *)&p };
	WSABUF callee = { (uint32_t)wsp_sa_len(&l), (char *)&l };
	WSABUF cdata;
	GROUP g = 0;

	if (sanverbs_ep_req_data(req, cbuf, &clen))
		clen = 0;
	cdata = (WSABUF){ (uint32_t)clen, (char *)cbuf };
	/* no caller data: NULL, as Windows passes it */
	return fn(&caller, clen ? &cdata : NULL, NULL, NULL, &callee, edata,
		  &g, arg);
}

/* Accepts @req with @len bytes of callee data into a new socket of
 * listener @so; 0 with *out, or a WSAE* error (the request is refused or
 * the connection closed). */
static int accept_into_sock(struct wsp_sock *so, struct sanverbs_ep_req *req,
			    const void *data, size_t len,
			    const struct sockaddr_storage *peer, SOCKET *out)
{
	struct wsp_sock *ns;
	SOCKET id;
	int err, ret;

	/* the socket first: with none left the request is refused, not
	 * accepted and dropped */
	id = WSPSocket(so->local.ss_family == AF_INET6 ? SANVERBS_AF_INET6 :
							   SANVERBS_AF_INET,
		       SANVERBS_SOCK_STREAM, 0, NULL, 0, 0, &err);
	ns = id == INVALID_SOCKET ? NULL : wsp_get(id, &err);
	if (!ns) {
		sanverbs_ep_req_reject(req, NULL, 0);
		return err;
	}
	ret = sanverbs_ep_req_accept(req, data, len, &ns->ep);
	if (!ret) {
		wsp_ctx_ref(so->ctx);
		ns->ctx = so->ctx;
		ns->eng = so->eng;
		ns->local = so->local;
		ns->peer = *peer;
		ret = wsp_sock_connected(ns);
	}
	if (ret) {
		WSPCloseSocket(id, NULL);
		/* the caller gave up before the accept: WSAAccept's word for
		 * a call the remote peer ended before it was accepted */
		return ret == -ECONNABORTED ? WSAECONNRESET :
					      sanverbs_wsa_error(ret);
	}
	*out = id;
	return 0;
}

WSP_EXPORT SOCKET WSPAccept(SOCKET s, struct sockaddr *addr, LPINT addrlen,
			    LPCONDITIONPROC lpfnCondition,
			    DWORD_PTR dwCallbackData, LPINT lpErrno)
{
	char ebuf[SANVERBS_EP_ACCEPT_DATA_MAX];
	WSABUF edata = { sizeof(ebuf), ebuf };
	struct sockaddr_storage peer = { 0 };
	size_t pl = sizeof(peer);
	struct sanverbs_ep_req *req = NULL;
	struct wsp_sock *so;
	SOCKET id = INVALID_SOCKET;
	int err, ret, verdict = CF_ACCEPT;

	so = wsp_get(s, &err);
	if (!so || !so->lis) {
		wsp_fail(lpErrno, so ? WSAEINVAL : err);
		return INVALID_SOCKET;
	}
	ret = sanverbs_ep_get_req(so->lis, wsp_timeout_ms(), &req);
	if (!ret)
		ret = sanverbs_ep_req_peer_addr(req, (struct sockaddr *)&peer,
						&pl);
	if (ret) {
		if (req)
			sanverbs_ep_req_reject(req, NULL, 0);
		goto fail_errno;
	}
	if (lpfnCondition)
		verdict = condition(lpfnCondition, dwCallbackData, req, &peer,
				    &so->local, &edata);
	switch (verdict) {
	case CF_DEFER:
		/* the same request comes back to the next WSPAccept; FD_ACCEPT
		 * stays signaled meanwhile */
		sanverbs_ep_req_defer(req);
		err = WSATRY_AGAIN;
		goto fail;
	case CF_REJECT:
		if (edata.len > SANVERBS_EP_REJECT_DATA_MAX) {
			sanverbs_ep_req_reject(req, NULL, 0);
			err = WSAEMSGSIZE;
		} else {
			sanverbs_ep_req_reject(req, ebuf, edata.len);
			err = WSAECONNREFUSED;
		}
		goto fail;
	case CF_ACCEPT:
		/* the condition function claimed more than the room it had */
		if (edata.len > sizeof(ebuf)) {
			sanverbs_ep_req_reject(req, NULL, 0);
			err = WSAEINVAL;
			goto fail;
		}
		break;
	default:
		sanverbs_ep_req_reject(req, NULL, 0);
		err = WSAEINVAL;
		goto fail;
	}
	err = accept_into_sock(so, req, ebuf, edata.len, &peer, &id);
	if (!err && (addr || addrlen)) {
		err = wsp_put_addr(&peer, addr, addrlen);
		if (err)
			WSPCloseSocket(id, NULL);
	}
	if (err)
		goto fail;
	if (so->ev_mask & FD_ACCEPT)
		wsp_engine_watch_listener(so);
	return id;
fail_errno:
	err = sanverbs_wsa_error(ret);
fail:
	/* re-armed after the request is settled, so a deferred one raises
	 * FD_ACCEPT again */
	if (so->ev_mask & FD_ACCEPT)
		wsp_engine_watch_listener(so);
	wsp_fail(lpErrno, err);
	return INVALID_SOCKET;
}
