/* SPDX-License-Identifier: MIT */
/* What a switch calls first: WSPStartupEx (version negotiation, the
 * procedure table, the upcall table), WSPIoctl for the SAN extension
 * functions, and WSPCleanup. */
#include <errno.h>
#include <string.h>

#include "wsp_priv.h"

WSPUPCALLTABLEEX wsp_up;
int wsp_have_up;
DWORD wsp_catalog_id;
static int starts;

static const WSPPROC_TABLE procs = {
	.lpWSPAccept = WSPAccept,
	.lpWSPBind = WSPBind,
	.lpWSPCleanup = WSPCleanup,
	.lpWSPCloseSocket = WSPCloseSocket,
	.lpWSPConnect = WSPConnect,
	.lpWSPEnumNetworkEvents = WSPEnumNetworkEvents,
	.lpWSPEventSelect = WSPEventSelect,
	.lpWSPGetOverlappedResult = WSPGetOverlappedResult,
	.lpWSPGetPeerName = WSPGetPeerName,
	.lpWSPGetSockName = WSPGetSockName,
	.lpWSPGetSockOpt = WSPGetSockOpt,
	.lpWSPIoctl = WSPIoctl,
	.lpWSPListen = WSPListen,
	.lpWSPRecv = WSPRecv,
	.lpWSPSend = WSPSend,
	.lpWSPSetSockOpt = WSPSetSockOpt,
	.lpWSPShutdown = WSPShutdown,
	.lpWSPSocket = WSPSocket,
};

static const struct {
	GUID id;
	void *fn;
} extensions[] = {
	{ WSAID_REGISTERMEMORY, (void *)WSPRegisterMemory },
	{ WSAID_DEREGISTERMEMORY, (void *)WSPDeregisterMemory },
	{ WSAID_REGISTERRDMAMEMORY, (void *)WSPRegisterRdmaMemory },
	{ WSAID_DEREGISTERRDMAMEMORY, (void *)WSPDeregisterRdmaMemory },
	{ WSAID_RDMAWRITE, (void *)WSPRdmaWrite },
	{ WSAID_RDMAREAD, (void *)WSPRdmaRead },
	{ WSAID_MEMORYREGISTRATIONCACHECALLBACK,
	  (void *)WSPMemoryRegistrationCacheCallback },
};

static const char description[] = "sanverbs SAN service provider";

WSP_EXPORT int WSPStartupEx(WORD wVersionRequested, LPWSPDATA lpWSPData,
			    LPWSAPROTOCOL_INFOW lpProtocolInfo,
			    LPWSPUPCALLTABLEEX lpUpcallTable,
			    LPWSPPROC_TABLE lpProcTable)
{
	unsigned int major = wVersionRequested & 0xff;
	unsigned int minor = wVersionRequested >> 8;
	size_t i;

	if (!lpWSPData || !lpUpcallTable || !lpProcTable)
		return WSAEFAULT;
	/* The switch names the highest version it speaks; we speak 2.2. */
	if (major < 2 || (major == 2 && minor < 2))
		return WSAVERNOTSUPPORTED;
	if (lpProtocolInfo && lpProtocolInfo->iAddressFamily &&
	    lpProtocolInfo->iAddressFamily != SANVERBS_AF_INET &&
	    lpProtocolInfo->iAddressFamily != SANVERBS_AF_INET6)
		return WSAEAFNOSUPPORT;
	pthread_mutex_lock(&wsp_lock);
	if (starts && memcmp(&wsp_up, lpUpcallTable, sizeof(wsp_up))) {
		/* one switch per process: a second one would take the
		 * completions of the first */
		pthread_mutex_unlock(&wsp_lock);
		return WSAEINVAL;
	}
	wsp_up = *lpUpcallTable;
	wsp_have_up = 1;
	if (lpProtocolInfo)
		wsp_catalog_id = lpProtocolInfo->dwCatalogEntryId;
	starts++;
	pthread_mutex_unlock(&wsp_lock);
	memset(lpWSPData, 0, sizeof(*lpWSPData));
	lpWSPData->wVersion = WSP_SPI_VERSION;
	lpWSPData->wHighVersion = WSP_SPI_VERSION;
	for (i = 0; i < sizeof(description) - 1; i++)
		lpWSPData->szDescription[i] = (WCHAR)description[i];
	*lpProcTable = procs;
	return 0;
}

WSP_EXPORT int WSPCleanup(LPINT lpErrno)
{
	SOCKET ids[WSP_MAX_SOCKETS];
	int i, n;

	pthread_mutex_lock(&wsp_lock);
	if (!starts) {
		pthread_mutex_unlock(&wsp_lock);
		return wsp_fail(lpErrno, WSANOTINITIALISED);
	}
	if (--starts) {
		pthread_mutex_unlock(&wsp_lock);
		return 0;
	}
	pthread_mutex_unlock(&wsp_lock);
	/* The last one: every socket left goes, pending I/O aborted. */
	n = wsp_all_socks(ids, WSP_MAX_SOCKETS);
	for (i = 0; i < n; i++)
		WSPCloseSocket(ids[i], NULL);
	pthread_mutex_lock(&wsp_lock);
	if (!starts) {
		wsp_have_up = 0;
		memset(&wsp_up, 0, sizeof(wsp_up));
	}
	pthread_mutex_unlock(&wsp_lock);
	return 0;
}

WSP_EXPORT int WSPIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer,
			DWORD cbInBuffer, LPVOID lpvOutBuffer,
			DWORD cbOutBuffer, LPDWORD lpcbBytesReturned,
			LPWSAOVERLAPPED lpOverlapped,
			LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
			LPWSATHREADID lpThreadId, LPINT lpErrno)
{
	GUID id;
	size_t i;
	int err;

	if (!wsp_get(s, &err))
		return wsp_fail(lpErrno, err);
	if (dwIoControlCode != SIO_GET_EXTENSION_FUNCTION_POINTER)
		return wsp_fail(lpErrno, WSAEINVAL);
	if (!lpvInBuffer || cbInBuffer < sizeof(GUID) || !lpvOutBuffer ||
	    !lpcbBytesReturned)
		return wsp_fail(lpErrno, WSAEFAULT);
	if (cbOutBuffer < sizeof(void *))
		return wsp_fail(lpErrno, WSAEFAULT);
	if (sanverbs_safe_read(&id, lpvInBuffer, sizeof(id)))
		return wsp_fail(lpErrno, WSAEFAULT);
	for (i = 0; i < sizeof(extensions) / sizeof(extensions[0]); i++) {
		if (memcmp(&id, &extensions[i].id, sizeof(id)))
			continue;
		if (sanverbs_safe_write(lpvOutBuffer, &extensions[i].fn,
					sizeof(void *)))
			return wsp_fail(lpErrno, WSAEFAULT);
		*lpcbBytesReturned = sizeof(void *);
		/* Done at once; an overlapped caller is told so as well. */
		if (lpOverlapped) {
			lpOverlapped->Offset = 0;
			lpOverlapped->OffsetHigh = 0;
			lpOverlapped->InternalHigh = sizeof(void *);
			lpOverlapped->Internal = 0;
		}
		return 0;
	}
	return wsp_fail(lpErrno, WSAEINVAL);
}
