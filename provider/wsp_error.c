/* SPDX-License-Identifier: MIT */
/* sanverbs errno values to Windows Sockets error codes. */
#include <errno.h>
#include <stdlib.h>

#include "wsp_priv.h"

WSP_EXPORT int sanverbs_wsa_error(int err)
{
	switch (err) {
	case 0:
		return 0;
	case -EINVAL:
	case -ENOENT:
	case -EBADMSG:
	case -EPROTONOSUPPORT:
	case -EMSGSIZE:
		return WSAEINVAL;
	case -EFAULT:
	case -ERANGE:
	case -ENOSPC:
		return WSAEFAULT;
	case -ENOMEM:
	case -ENOBUFS:
		return WSAENOBUFS;
	case -EACCES:
	case -EPERM:
		return WSAEACCES;
	case -ENOTCONN:
		return WSAENOTCONN;
	case -ECONNRESET:
		return WSAECONNRESET;
	case -ECANCELED:
	case -ECONNABORTED:
		return WSAECONNABORTED;
	case -ETIMEDOUT:
		return WSAETIMEDOUT;
	case -ECONNREFUSED:
		return WSAECONNREFUSED;
	case -EADDRINUSE:
		return WSAEADDRINUSE;
	case -EADDRNOTAVAIL:
	case -ENODEV:
	case -EXDEV:
		return WSAEADDRNOTAVAIL;
	case -ENETUNREACH:
		return WSAENETUNREACH;
	case -EHOSTUNREACH:
		return WSAEHOSTUNREACH;
	case -ENOSYS:
	case -EOPNOTSUPP:
		return WSAEOPNOTSUPP;
	default:
		return WSAENETDOWN;
	}
}

int wsp_fail(LPINT lpErrno, int wsa)
{
	if (lpErrno)
		*lpErrno = wsa;
	return SOCKET_ERROR;
}

int wsp_timeout_ms(void)
{
	const char *s = getenv("SANVERBS_WSP_TIMEOUT_MS");
	long v = s ? strtol(s, NULL, 10) : 0;

	return v > 0 && v < 3600000 ? (int)v : 30000;
}
