/* SPDX-License-Identifier: MIT */
/**
 * @file ws2san.h
 * @brief The Windows Sockets Direct (SAN service provider) interface on
 * Linux, over sanverbs: the types, constants and WSP* entry points a ported
 * SAN provider or its switch calls, with the Windows signatures.
 *
 * Every function reports failure the Windows way: it returns SOCKET_ERROR
 * (or INVALID_SOCKET / NULL for handle-returning calls) and stores a WSA
 * error code in *lpErrno.
 *
 * A switch loads the provider with dlopen(), calls WSPStartupEx() for the
 * procedure table and WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER) for the
 * SAN extensions (WSAID_*), exactly as on Windows. The WSP* symbols are
 * also exported for programs that link the provider directly.
 *
 * Overlapped I/O: with a WSAOVERLAPPED, WSPSend, WSPRecv, WSPRdmaWrite and
 * WSPRdmaRead return SOCKET_ERROR / WSA_IO_PENDING (WSPRecv may complete at
 * once with data already there: 0, and the completion is still indicated).
 * Completion is indicated by one engine thread per device context, woken by
 * completion events, in the order the operations complete on the
 * connection (RC order), through:
 *  - the completion routine, queued with the switch's WPUQueueApc to the
 *    thread in lpThreadId: the switch runs it in its alertable-wait
 *    analogue (whatever its WPUQueueApc queues to); without an upcall table
 *    it runs on the engine thread;
 *  - otherwise WPUCompleteOverlappedRequest (event / completion port), with
 *    OffsetHigh = WSA error and Offset = flags set first, as the SAN
 *    WSAOVERLAPPED page prescribes;
 *  - or, when the low bit of hEvent is set (the switch will poll), or
 *    without an upcall table, no upcall: Internal/InternalHigh are written
 *    by the provider and WSPGetOverlappedResult() reports the result.
 * WSPCloseSocket() cancels what is pending: each operation completes with
 * WSA_OPERATION_ABORTED through its chosen mechanism before it returns.
 */
#ifndef SANVERBS_WS2SAN_H
#define SANVERBS_WS2SAN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct sockaddr;

typedef uintptr_t SOCKET;
typedef void *HANDLE;
typedef void *PVOID;
typedef void *LPVOID;
typedef uint32_t DWORD;
typedef DWORD *LPDWORD;
typedef int *LPINT;
typedef size_t SIZE_T;

typedef unsigned int GROUP;
typedef uint16_t WORD;
typedef int BOOL;
typedef uint16_t WCHAR;
typedef uintptr_t DWORD_PTR;
typedef DWORD_PTR *PDWORD_PTR;
typedef HANDLE WSAEVENT;

#define TRUE 1
#define FALSE 0

/** A GUID, as the extension-function identifiers are spelled. */
typedef struct _GUID {
	uint32_t Data1;
	uint16_t Data2;
	uint16_t Data3;
	uint8_t Data4[8];
} GUID, *LPGUID;

/** WORD of a version: low byte major, high byte minor. */
#define MAKEWORD(lo, hi) ((WORD)(((uint8_t)(lo)) | ((WORD)(uint8_t)(hi) << 8)))
/** The SPI version this provider speaks (2.2). */
#define WSP_SPI_VERSION MAKEWORD(2, 2)

#define INVALID_SOCKET (~(SOCKET)0)
#define SOCKET_ERROR (-1)

/** Access of a registration (WSPRegisterMemory, WSPRegisterRdmaMemory). */
#define MEM_READ 1
#define MEM_WRITE 2
#define MEM_READWRITE 3

/** WSA error codes used by this layer (values as in winsock2.h). */
#define WSA_INVALID_HANDLE 6
#define WSA_OPERATION_ABORTED 995
#define WSA_IO_INCOMPLETE 996
#define WSA_IO_PENDING 997
#define WSAEINTR 10004
#define WSAEACCES 10013
#define WSAEFAULT 10014
#define WSAEINVAL 10022
#define WSAEMFILE 10024
#define WSAEWOULDBLOCK 10035
#define WSAEALREADY 10037
#define WSAENOTSOCK 10038
#define WSAEMSGSIZE 10040
#define WSAEPROTOTYPE 10041
#define WSAEOPNOTSUPP 10045
#define WSAEAFNOSUPPORT 10047
#define WSAEADDRINUSE 10048
#define WSAEADDRNOTAVAIL 10049
#define WSAENETDOWN 10050
#define WSAENETUNREACH 10051
#define WSAECONNABORTED 10053
#define WSAECONNRESET 10054
#define WSAENOBUFS 10055
#define WSAEISCONN 10056
#define WSAENOTCONN 10057
#define WSAESHUTDOWN 10058
#define WSAETIMEDOUT 10060
#define WSAECONNREFUSED 10061
#define WSAEHOSTUNREACH 10065
#define WSASYSNOTREADY 10091
#define WSAVERNOTSUPPORTED 10092
#define WSANOTINITIALISED 10093
#define WSAEPROTONOSUPPORT 10043
#define WSAENOPROTOOPT 10042
#define WSATRY_AGAIN 11002

/** WSAOVERLAPPED.Internal while an operation is in flight (STATUS_PENDING). */
#define WSS_OPERATION_IN_PROGRESS 0x00000103u

/** A buffer with its WSPRegisterMemory() handle. */
typedef struct _WSABUFEX {
	uint32_t len; /* u_long on Windows: 32 bits */
	char *buf;
	HANDLE handle;
} WSABUFEX, *LPWSABUFEX;

/** A plain buffer (WSPSend / WSPRecv). */
typedef struct _WSABUF {
	uint32_t len; /* u_long on Windows: 32 bits */
	char *buf;
} WSABUF, *LPWSABUF;

/** Overlapped structure. Internal / InternalHigh belong to the switch's
 *  WPUCompleteOverlappedRequest (or to the provider when the switch polls),
 *  Offset (flags) and OffsetHigh (WSA error) to the provider. */
typedef struct _WSAOVERLAPPED {
	uintptr_t Internal;
	uintptr_t InternalHigh;
	DWORD Offset;
	DWORD OffsetHigh;
	HANDLE hEvent;
} WSAOVERLAPPED, *LPWSAOVERLAPPED;

typedef void (*LPWSAOVERLAPPED_COMPLETION_ROUTINE)(DWORD dwError,
						   DWORD cbTransferred,
						   LPWSAOVERLAPPED lpOverlapped,
						   DWORD dwFlags);

typedef struct _WSATHREADID {
	HANDLE ThreadHandle;
	uintptr_t Reserved;
} WSATHREADID, *LPWSATHREADID;

/** Address family and socket type accepted by WSPSocket(). */
#define SANVERBS_AF_INET 2
#define SANVERBS_AF_INET6 10
#define SANVERBS_SOCK_STREAM 1

typedef struct _WSAPROTOCOLCHAIN {
	int ChainLen;
	DWORD ChainEntries[7];
} WSAPROTOCOLCHAIN;

/** The protocol description the switch passes to WSPStartupEx/WSPSocket
 *  (the TCP/IP entry; dwCatalogEntryId names it in upcalls). */
typedef struct _WSAPROTOCOL_INFOW {
	DWORD dwServiceFlags1;
	DWORD dwServiceFlags2;
	DWORD dwServiceFlags3;
	DWORD dwServiceFlags4;
	DWORD dwProviderFlags;
	GUID ProviderId;
	DWORD dwCatalogEntryId;
	WSAPROTOCOLCHAIN ProtocolChain;
	int iVersion;
	int iAddressFamily;
	int iMaxSockAddr;
	int iMinSockAddr;
	int iSocketType;
	int iProtocol;
	int iProtocolMaxOffset;
	int iNetworkByteOrder;
	int iSecurityScheme;
	DWORD dwMessageSize;
	DWORD dwProviderReserved;
	WCHAR szProtocol[256];
} WSAPROTOCOL_INFOW, *LPWSAPROTOCOL_INFOW;

/** What WSPStartupEx() reports about the provider. */
typedef struct _WSPDATA {
	WORD wVersion;
	WORD wHighVersion;
	WCHAR szDescription[256];
} WSPDATA, *LPWSPDATA;

/** Quality of service: never used by SAN sockets (must be NULL). */
typedef struct _QualityOfService QOS, *LPQOS;

/** Network events (WSPEventSelect / WSPEnumNetworkEvents). */
#define FD_READ_BIT 0
#define FD_READ (1 << FD_READ_BIT)
#define FD_WRITE_BIT 1
#define FD_WRITE (1 << FD_WRITE_BIT)
#define FD_OOB_BIT 2
#define FD_OOB (1 << FD_OOB_BIT)
#define FD_ACCEPT_BIT 3
#define FD_ACCEPT (1 << FD_ACCEPT_BIT)
#define FD_CONNECT_BIT 4
#define FD_CONNECT (1 << FD_CONNECT_BIT)
#define FD_CLOSE_BIT 5
#define FD_CLOSE (1 << FD_CLOSE_BIT)
#define FD_MAX_EVENTS 10

typedef struct _WSANETWORKEVENTS {
	long lNetworkEvents;
	int iErrorCode[FD_MAX_EVENTS];
} WSANETWORKEVENTS, *LPWSANETWORKEVENTS;

/** WSPShutdown() directions. */
#define SD_RECEIVE 0
#define SD_SEND 1
#define SD_BOTH 2

/** Socket options (WSPGetSockOpt / WSPSetSockOpt), Windows values. Spelled
 *  with WS_ (as Wine does) where <sys/socket.h> has the Linux ones. */
#define WS_SOL_SOCKET 0xffff
#define WS_SO_DEBUG 0x0001
#define WS_SO_ACCEPTCONN 0x0002
#define WS_SO_REUSEADDR 0x0004
#define WS_SO_KEEPALIVE 0x0008
#define WS_SO_LINGER 0x0080
#define WS_SO_SNDBUF 0x1001
#define WS_SO_RCVBUF 0x1002
#define WS_SO_ERROR 0x1007
#define WS_SO_TYPE 0x1008
/** SAN options: largest RDMA transfer, and the size above which the switch
 *  should use RDMA rather than sends. */
#define SO_MAX_RDMA_SIZE 0x700D
#define SO_RDMA_THRESHOLD_SIZE 0x700E
#define WS_IPPROTO_TCP 6
#define WS_TCP_NODELAY 0x0001

/** WSPAccept() condition function answers. */
#define CF_ACCEPT 0x0000
#define CF_REJECT 0x0001
#define CF_DEFER 0x0002

/** Decides whether to accept a connection: lpCallerId holds the caller's
 *  sockaddr; lpCallerData what it sent with WSPConnect() (NULL if
 *  nothing); lpCalleeData the room for the answer's data (set its len to
 *  the bytes written). Returns CF_ACCEPT, CF_REJECT or CF_DEFER. */
typedef int (*LPCONDITIONPROC)(LPWSABUF lpCallerId, LPWSABUF lpCallerData,
			       LPQOS lpSQOS, LPQOS lpGQOS,
			       LPWSABUF lpCalleeId, LPWSABUF lpCalleeData,
			       GROUP *g, DWORD_PTR dwCallbackData);

/** The one WSPIoctl() code a SAN provider must answer. */
#define SIO_GET_EXTENSION_FUNCTION_POINTER 0xC8000006u

/** Extension-function identifiers (values as in ws2san.h / mswsock.h). */
#define WSAID_REGISTERMEMORY                                                 \
	{ 0xC0B422F5, 0xF58C, 0x11d1, { 0xAD, 0x6C, 0x00, 0xC0, 0x4F, 0xA3, 0x4A, 0x2D } }
#define WSAID_DEREGISTERMEMORY                                               \
	{ 0xC0B422F6, 0xF58C, 0x11d1, { 0xAD, 0x6C, 0x00, 0xC0, 0x4F, 0xA3, 0x4A, 0x2D } }
#define WSAID_REGISTERRDMAMEMORY                                             \
	{ 0xC0B422F7, 0xF58C, 0x11d1, { 0xAD, 0x6C, 0x00, 0xC0, 0x4F, 0xA3, 0x4A, 0x2D } }
#define WSAID_DEREGISTERRDMAMEMORY                                           \
	{ 0xC0B422F8, 0xF58C, 0x11d1, { 0xAD, 0x6C, 0x00, 0xC0, 0x4F, 0xA3, 0x4A, 0x2D } }
#define WSAID_RDMAWRITE                                                      \
	{ 0xC0B422F9, 0xF58C, 0x11d1, { 0xAD, 0x6C, 0x00, 0xC0, 0x4F, 0xA3, 0x4A, 0x2D } }
#define WSAID_RDMAREAD                                                       \
	{ 0xC0B422FA, 0xF58C, 0x11d1, { 0xAD, 0x6C, 0x00, 0xC0, 0x4F, 0xA3, 0x4A, 0x2D } }
#define WSAID_MEMORYREGISTRATIONCACHECALLBACK                                \
	{ 0xE5DA4AF8, 0xD824, 0x48CD, { 0xA7, 0x99, 0x63, 0x37, 0xA9, 0x8E, 0xD2, 0xAF } }

/* ---- socket-shaped calls: enough to get a connected SOCKET -------------- */

/** Create a SAN socket (AF_INET or AF_INET6, SOCK_STREAM; protocol 0 or
 *  6). No device is chosen yet: bind or connect picks the RDMA device of
 *  the address. */
SOCKET WSPSocket(int af, int type, int protocol,
		 LPWSAPROTOCOL_INFOW lpProtocolInfo, GROUP g, DWORD dwFlags,
		 LPINT lpErrno);
/** Bind to a local address (struct sockaddr_in or sockaddr_in6). */
int WSPBind(SOCKET s, const struct sockaddr *name, int namelen, LPINT lpErrno);
/** Listen on the bound address. */
int WSPListen(SOCKET s, int backlog, LPINT lpErrno);
/** The bound address; after WSPListen() on port 0, the port picked. */
int WSPGetSockName(SOCKET s, struct sockaddr *name, LPINT namelen,
		   LPINT lpErrno);
/** Accept one connection (blocking, bounded by $SANVERBS_WSP_TIMEOUT_MS,
 *  default 30000 ms). @p addr / @p addrlen may be NULL; otherwise they
 *  receive the peer's address. @p lpfnCondition, when given, decides
 *  before the request is answered: it sees the caller's data
 *  (lpCallerData, NULL when none) and may write up to 192 bytes of callee
 *  data into lpCalleeData (len in: the room, out: the bytes written),
 *  which go back to the caller. CF_REJECT refuses the request
 *  (WSAECONNREFUSED; callee data up to 144 bytes travels with the
 *  rejection, more is WSAEMSGSIZE), CF_DEFER leaves it pending
 *  (WSATRY_AGAIN): the next WSPAccept presents the same request again. */
SOCKET WSPAccept(SOCKET s, struct sockaddr *addr, LPINT addrlen,
		 LPCONDITIONPROC lpfnCondition, DWORD_PTR dwCallbackData,
		 LPINT lpErrno);
/** Connect to a peer (struct sockaddr_in or sockaddr_in6), sending up to
 *  52 bytes of @p lpCallerData with the request (more: WSAEINVAL). The
 *  listener's callee data lands in @p lpCalleeData, its len set to the
 *  bytes that arrived (0 if none), also with WSAECONNREFUSED; callee data
 *  longer than its len fails the connect with WSAEMSGSIZE (len: the size
 *  needed), never truncated. The QoS arguments must be NULL. */
int WSPConnect(SOCKET s, const struct sockaddr *name, int namelen,
	       LPWSABUF lpCallerData, LPWSABUF lpCalleeData, LPQOS lpSQOS,
	       LPQOS lpGQOS, LPINT lpErrno);
/** Send all bytes of the buffers (copied through the socket's registered
 *  bounce buffers; stream semantics). Overlapped: at most 1 MiB pending
 *  per socket (WSAENOBUFS beyond), completion as described above. */
int WSPSend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
	    LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
	    LPWSAOVERLAPPED lpOverlapped,
	    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
	    LPWSATHREADID lpThreadId, LPINT lpErrno);
/** Receive what has arrived (at least one byte, waiting up to the timeout);
 *  0 bytes means the peer closed. Overlapped receives are served in the
 *  order they were posted; the WSABUF array is captured by the call. */
int WSPRecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
	    LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
	    LPWSAOVERLAPPED lpOverlapped,
	    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
	    LPWSATHREADID lpThreadId, LPINT lpErrno);
/** Close: cancel pending operations (WSA_OPERATION_ABORTED), release every
 *  registration made on the socket (the SAN rule: registrations die with
 *  the connection), disconnect. */
int WSPCloseSocket(SOCKET s, LPINT lpErrno);
/** The result of an overlapped operation of @p s. fWait TRUE waits for it;
 *  FALSE gives WSA_IO_INCOMPLETE while it is pending. Returns TRUE when the
 *  operation succeeded, FALSE with *lpErrno its WSA error otherwise. */
BOOL WSPGetOverlappedResult(SOCKET s, LPWSAOVERLAPPED lpOverlapped,
			    LPDWORD lpcbTransfer, BOOL fWait,
			    LPDWORD lpdwFlags, LPINT lpErrno);
/** SIO_GET_EXTENSION_FUNCTION_POINTER: @p lpvInBuffer holds a WSAID_* GUID,
 *  @p lpvOutBuffer receives the function pointer (LPFN_WSP*). Any other
 *  code or GUID: WSAEINVAL. Completes at once (overlapped or not). */
int WSPIoctl(SOCKET s, DWORD dwIoControlCode, LPVOID lpvInBuffer,
	     DWORD cbInBuffer, LPVOID lpvOutBuffer, DWORD cbOutBuffer,
	     LPDWORD lpcbBytesReturned, LPWSAOVERLAPPED lpOverlapped,
	     LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
	     LPWSATHREADID lpThreadId, LPINT lpErrno);
/** The peer's address of a connected socket. */
int WSPGetPeerName(SOCKET s, struct sockaddr *name, LPINT namelen,
		   LPINT lpErrno);
/** Associate network events with an event object of the switch (set
 *  through WPUSetEvent); @p lNetworkEvents 0 cancels. */
int WSPEventSelect(SOCKET s, WSAEVENT hEventObject, long lNetworkEvents,
		   LPINT lpErrno);
/** Report and clear the socket's recorded network events; resets
 *  @p hEventObject (WPUResetEvent) when given. */
int WSPEnumNetworkEvents(SOCKET s, WSAEVENT hEventObject,
			 LPWSANETWORKEVENTS lpNetworkEvents, LPINT lpErrno);
/** Socket options at WS_SOL_SOCKET: WS_SO_ERROR, WS_SO_TYPE,
 *  WS_SO_ACCEPTCONN, WS_SO_RCVBUF, WS_SO_SNDBUF, SO_MAX_RDMA_SIZE,
 *  SO_RDMA_THRESHOLD_SIZE (get); WS_SO_RCVBUF, WS_SO_SNDBUF,
 *  WS_SO_KEEPALIVE, WS_SO_REUSEADDR, WS_SO_LINGER and WS_TCP_NODELAY are
 *  accepted and change nothing on an RDMA connection; others
 *  WSAENOPROTOOPT. */
int WSPGetSockOpt(SOCKET s, int level, int optname, char *optval,
		  LPINT optlen, LPINT lpErrno);
int WSPSetSockOpt(SOCKET s, int level, int optname, const char *optval,
		  int optlen, LPINT lpErrno);
/** SD_SEND / SD_BOTH: no more sends (WSAESHUTDOWN); SD_RECEIVE: received
 *  data is dropped. The connection stays until WSPCloseSocket(). */
int WSPShutdown(SOCKET s, int how, LPINT lpErrno);
/** Undo one WSPStartupEx(); the last one closes every socket left. */
int WSPCleanup(LPINT lpErrno);

/* ---- the SAN memory and RDMA contract ---------------------------------- */

/** Register a local buffer on a connected socket; NULL on failure. The same
 *  buffer may be registered on several sockets (and several times). */
HANDLE WSPRegisterMemory(SOCKET s, PVOID lpBuffer, DWORD dwBufferLength,
			 DWORD dwFlags, LPINT lpErrno);
/** Drop a WSPRegisterMemory() handle of this socket (WSAEINVAL if unknown). */
int WSPDeregisterMemory(SOCKET s, HANDLE handle, LPINT lpErrno);
/** Register a buffer for the peer and write its descriptor. When
 *  *lpdwDescriptorLength is too small: WSAEFAULT, the needed size written
 *  back, nothing registered. MEM_READ: the peer may only read; MEM_WRITE:
 *  only write. */
int WSPRegisterRdmaMemory(SOCKET s, PVOID lpBuffer, DWORD dwBufferLength,
			  DWORD dwFlags, LPVOID lpRdmaBufferDescriptor,
			  LPDWORD lpdwDescriptorLength, LPINT lpErrno);
/** Revoke a descriptor made on this socket; the peer's access ends here. */
int WSPDeregisterRdmaMemory(SOCKET s, LPVOID lpRdmaBufferDescriptor,
			    DWORD dwDescriptorLength, LPINT lpErrno);
/** Drop every cached registration in the range (on every socket's device).
 *  0 with *lpErrno = 0: this call dropped something. 0 with *lpErrno =
 *  WSAEALREADY: nothing was left because the range's registrations were
 *  already released (dropped by the memory monitor when the memory
 *  changed, or deregistered and not kept by the cache, or dropped by an
 *  earlier call; nothing to do). SOCKET_ERROR with WSAEINVAL: no
 *  registration in the range is known (a wrong range). */
int WSPMemoryRegistrationCacheCallback(PVOID lpvAddress, SIZE_T Size,
				       LPINT lpErrno);
/** RDMA-write the registered local buffers to @p dwTargetOffset of the
 *  peer's descriptor. Every buffer and the whole target span are judged
 *  before anything is posted; a request over 4 GiB - 1 in total (its byte
 *  count would not fit the DWORD) is WSAEMSGSIZE. */
int WSPRdmaWrite(SOCKET s, LPWSABUFEX lpBuffers, DWORD dwBufferCount,
		 LPVOID lpTargetBufferDescriptor, DWORD dwTargetDescriptorLength,
		 DWORD dwTargetBufferOffset, LPDWORD lpdwNumberOfBytesWritten,
		 DWORD dwFlags, LPWSAOVERLAPPED lpOverlapped,
		 LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
		 LPWSATHREADID lpThreadId, LPINT lpErrno);
/** RDMA-read from @p dwTargetOffset of the peer's descriptor into the
 *  registered local buffers. */
int WSPRdmaRead(SOCKET s, LPWSABUFEX lpBuffers, DWORD dwBufferCount,
		LPVOID lpTargetBufferDescriptor, DWORD dwTargetDescriptorLength,
		DWORD dwTargetBufferOffset, LPDWORD lpdwNumberOfBytesRead,
		DWORD dwFlags, LPWSAOVERLAPPED lpOverlapped,
		LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
		LPWSATHREADID lpThreadId, LPINT lpErrno);

/* ---- what the switch and the provider exchange at startup ---------------- */

typedef void (*LPWSAUSERAPC)(DWORD_PTR dwContext);
typedef BOOL (*LPWPUCLOSEEVENT)(WSAEVENT hEvent, LPINT lpErrno);
typedef int (*LPWPUCLOSESOCKETHANDLE)(SOCKET s, LPINT lpErrno);
typedef WSAEVENT (*LPWPUCREATEEVENT)(LPINT lpErrno);
typedef SOCKET (*LPWPUCREATESOCKETHANDLE)(DWORD dwCatalogEntryId,
					  DWORD_PTR dwContext, LPINT lpErrno);
typedef int (*LPWPUFDISSET)(SOCKET s, void *fdset);
typedef int (*LPWPUGETPROVIDERPATH)(LPGUID lpProviderId,
				    WCHAR *lpszProviderDllPath,
				    LPINT lpProviderDllPathLen, LPINT lpErrno);
typedef SOCKET (*LPWPUMODIFYIFSHANDLE)(DWORD dwCatalogEntryId,
				       SOCKET ProposedHandle, LPINT lpErrno);
typedef BOOL (*LPWPUPOSTMESSAGE)(HANDLE hWnd, unsigned int Msg,
				 uintptr_t wParam, intptr_t lParam);
typedef BOOL (*LPBLOCKINGCALLBACK)(DWORD_PTR dwContext);
typedef int (*LPWPUQUERYBLOCKINGCALLBACK)(DWORD dwCatalogEntryId,
					  LPBLOCKINGCALLBACK *lplpfnCallback,
					  PDWORD_PTR lpdwContext,
					  LPINT lpErrno);
typedef int (*LPWPUQUERYSOCKETHANDLECONTEXT)(SOCKET s, PDWORD_PTR lpContext,
					     LPINT lpErrno);
typedef int (*LPWPUQUEUEAPC)(LPWSATHREADID lpThreadId,
			     LPWSAUSERAPC lpfnUserApc, DWORD_PTR dwContext,
			     LPINT lpErrno);
typedef BOOL (*LPWPURESETEVENT)(WSAEVENT hEvent, LPINT lpErrno);
typedef BOOL (*LPWPUSETEVENT)(WSAEVENT hEvent, LPINT lpErrno);
typedef int (*LPWPUOPENCURRENTTHREAD)(LPWSATHREADID lpThreadId,
				      LPINT lpErrno);
typedef int (*LPWPUCLOSETHREAD)(LPWSATHREADID lpThreadId, LPINT lpErrno);
typedef int (*LPWPUCOMPLETEOVERLAPPEDREQUEST)(SOCKET s,
					      LPWSAOVERLAPPED lpOverlapped,
					      DWORD dwError,
					      DWORD cbTransferred,
					      LPINT lpErrno);

/** The switch's upcalls (Windows Sockets Direct's extended table). The
 *  provider uses lpWPUCreateSocketHandle / lpWPUCloseSocketHandle,
 *  lpWPUCompleteOverlappedRequest, lpWPUQueueApc, lpWPUSetEvent and
 *  lpWPUResetEvent; NULL entries are not called. */
typedef struct _WSPUPCALLTABLEEX {
	LPWPUCLOSEEVENT lpWPUCloseEvent;
	LPWPUCLOSESOCKETHANDLE lpWPUCloseSocketHandle;
	LPWPUCREATEEVENT lpWPUCreateEvent;
	LPWPUCREATESOCKETHANDLE lpWPUCreateSocketHandle;
	LPWPUFDISSET lpWPUFDIsSet;
	LPWPUGETPROVIDERPATH lpWPUGetProviderPath;
	LPWPUMODIFYIFSHANDLE lpWPUModifyIFSHandle;
	LPWPUPOSTMESSAGE lpWPUPostMessage;
	LPWPUQUERYBLOCKINGCALLBACK lpWPUQueryBlockingCallback;
	LPWPUQUERYSOCKETHANDLECONTEXT lpWPUQuerySocketHandleContext;
	LPWPUQUEUEAPC lpWPUQueueApc;
	LPWPURESETEVENT lpWPUResetEvent;
	LPWPUSETEVENT lpWPUSetEvent;
	LPWPUOPENCURRENTTHREAD lpWPUOpenCurrentThread;
	LPWPUCLOSETHREAD lpWPUCloseThread;
	LPWPUCOMPLETEOVERLAPPEDREQUEST lpWPUCompleteOverlappedRequest;
} WSPUPCALLTABLEEX, *LPWSPUPCALLTABLEEX;

typedef SOCKET (*LPWSPACCEPT)(SOCKET, struct sockaddr *, LPINT,
			      LPCONDITIONPROC, DWORD_PTR, LPINT);
typedef int (*LPWSPADDRESSTOSTRING)(struct sockaddr *, DWORD,
				    LPWSAPROTOCOL_INFOW, WCHAR *, LPDWORD,
				    LPINT);
typedef int (*LPWSPASYNCSELECT)(SOCKET, HANDLE, unsigned int, long, LPINT);
typedef int (*LPWSPBIND)(SOCKET, const struct sockaddr *, int, LPINT);
typedef int (*LPWSPCANCELBLOCKINGCALL)(LPINT);
typedef int (*LPWSPCLEANUP)(LPINT);
typedef int (*LPWSPCLOSESOCKET)(SOCKET, LPINT);
typedef int (*LPWSPCONNECT)(SOCKET, const struct sockaddr *, int, LPWSABUF,
			    LPWSABUF, LPQOS, LPQOS, LPINT);
typedef int (*LPWSPDUPLICATESOCKET)(SOCKET, DWORD, LPWSAPROTOCOL_INFOW,
				    LPINT);
typedef int (*LPWSPENUMNETWORKEVENTS)(SOCKET, WSAEVENT, LPWSANETWORKEVENTS,
				      LPINT);
typedef int (*LPWSPEVENTSELECT)(SOCKET, WSAEVENT, long, LPINT);
typedef BOOL (*LPWSPGETOVERLAPPEDRESULT)(SOCKET, LPWSAOVERLAPPED, LPDWORD,
					 BOOL, LPDWORD, LPINT);
typedef int (*LPWSPGETPEERNAME)(SOCKET, struct sockaddr *, LPINT, LPINT);
typedef int (*LPWSPGETSOCKNAME)(SOCKET, struct sockaddr *, LPINT, LPINT);
typedef int (*LPWSPGETSOCKOPT)(SOCKET, int, int, char *, LPINT, LPINT);
typedef BOOL (*LPWSPGETQOSBYNAME)(SOCKET, LPWSABUF, LPQOS, LPINT);
typedef int (*LPWSPIOCTL)(SOCKET, DWORD, LPVOID, DWORD, LPVOID, DWORD,
			  LPDWORD, LPWSAOVERLAPPED,
			  LPWSAOVERLAPPED_COMPLETION_ROUTINE, LPWSATHREADID,
			  LPINT);
typedef SOCKET (*LPWSPJOINLEAF)(SOCKET, const struct sockaddr *, int,
				LPWSABUF, LPWSABUF, LPQOS, LPQOS, DWORD,
				LPINT);
typedef int (*LPWSPLISTEN)(SOCKET, int, LPINT);
typedef int (*LPWSPRECV)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD,
			 LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE,
			 LPWSATHREADID, LPINT);
typedef int (*LPWSPRECVDISCONNECT)(SOCKET, LPWSABUF, LPINT);
typedef int (*LPWSPRECVFROM)(SOCKET, LPWSABUF, DWORD, LPDWORD, LPDWORD,
			     struct sockaddr *, LPINT, LPWSAOVERLAPPED,
			     LPWSAOVERLAPPED_COMPLETION_ROUTINE,
			     LPWSATHREADID, LPINT);
typedef int (*LPWSPSELECT)(int, void *, void *, void *, const void *,
			   LPINT);
typedef int (*LPWSPSEND)(SOCKET, LPWSABUF, DWORD, LPDWORD, DWORD,
			 LPWSAOVERLAPPED, LPWSAOVERLAPPED_COMPLETION_ROUTINE,
			 LPWSATHREADID, LPINT);
typedef int (*LPWSPSENDDISCONNECT)(SOCKET, LPWSABUF, LPINT);
typedef int (*LPWSPSENDTO)(SOCKET, LPWSABUF, DWORD, LPDWORD, DWORD,
			   const struct sockaddr *, int, LPWSAOVERLAPPED,
			   LPWSAOVERLAPPED_COMPLETION_ROUTINE, LPWSATHREADID,
			   LPINT);
typedef int (*LPWSPSETSOCKOPT)(SOCKET, int, int, const char *, int, LPINT);
typedef int (*LPWSPSHUTDOWN)(SOCKET, int, LPINT);
typedef SOCKET (*LPWSPSOCKET)(int, int, int, LPWSAPROTOCOL_INFOW, GROUP,
			      DWORD, LPINT);
typedef int (*LPWSPSTRINGTOADDRESS)(WCHAR *, int, LPWSAPROTOCOL_INFOW,
				    struct sockaddr *, LPINT, LPINT);

/** The provider's entry points, filled by WSPStartupEx(). Entries a SAN
 *  provider does not implement (the switch never calls them for SAN
 *  sockets) are NULL: lpWSPAddressToString, lpWSPAsyncSelect,
 *  lpWSPCancelBlockingCall, lpWSPDuplicateSocket, lpWSPGetQOSByName,
 *  lpWSPJoinLeaf, lpWSPRecvDisconnect, lpWSPRecvFrom, lpWSPSelect,
 *  lpWSPSendDisconnect, lpWSPSendTo, lpWSPStringToAddress. */
typedef struct _WSPPROC_TABLE {
	LPWSPACCEPT lpWSPAccept;
	LPWSPADDRESSTOSTRING lpWSPAddressToString;
	LPWSPASYNCSELECT lpWSPAsyncSelect;
	LPWSPBIND lpWSPBind;
	LPWSPCANCELBLOCKINGCALL lpWSPCancelBlockingCall;
	LPWSPCLEANUP lpWSPCleanup;
	LPWSPCLOSESOCKET lpWSPCloseSocket;
	LPWSPCONNECT lpWSPConnect;
	LPWSPDUPLICATESOCKET lpWSPDuplicateSocket;
	LPWSPENUMNETWORKEVENTS lpWSPEnumNetworkEvents;
	LPWSPEVENTSELECT lpWSPEventSelect;
	LPWSPGETOVERLAPPEDRESULT lpWSPGetOverlappedResult;
	LPWSPGETPEERNAME lpWSPGetPeerName;
	LPWSPGETSOCKNAME lpWSPGetSockName;
	LPWSPGETSOCKOPT lpWSPGetSockOpt;
	LPWSPGETQOSBYNAME lpWSPGetQOSByName;
	LPWSPIOCTL lpWSPIoctl;
	LPWSPJOINLEAF lpWSPJoinLeaf;
	LPWSPLISTEN lpWSPListen;
	LPWSPRECV lpWSPRecv;
	LPWSPRECVDISCONNECT lpWSPRecvDisconnect;
	LPWSPRECVFROM lpWSPRecvFrom;
	LPWSPSELECT lpWSPSelect;
	LPWSPSEND lpWSPSend;
	LPWSPSENDDISCONNECT lpWSPSendDisconnect;
	LPWSPSENDTO lpWSPSendTo;
	LPWSPSETSOCKOPT lpWSPSetSockOpt;
	LPWSPSHUTDOWN lpWSPShutdown;
	LPWSPSOCKET lpWSPSocket;
	LPWSPSTRINGTOADDRESS lpWSPStringToAddress;
} WSPPROC_TABLE, *LPWSPPROC_TABLE;

/**
 * Start the provider for a switch (call first; pair with WSPCleanup()).
 * @p wVersionRequested is the highest SPI version the switch speaks; 2.2 or
 * later is accepted and 2.2 is used (*lpWSPData says so). Returns 0, or a
 * WSA error: WSAVERNOTSUPPORTED (below 2.2), WSAEFAULT (NULL table
 * pointers), WSAEAFNOSUPPORT (@p lpProtocolInfo of another family),
 * WSAEINVAL (already started with another upcall table). No device is
 * opened here: a missing one shows at bind or connect.
 */
int WSPStartupEx(WORD wVersionRequested, LPWSPDATA lpWSPData,
		 LPWSAPROTOCOL_INFOW lpProtocolInfo,
		 LPWSPUPCALLTABLEEX lpUpcallTable,
		 LPWSPPROC_TABLE lpProcTable);
typedef int (*LPWSPSTARTUPEX)(WORD, LPWSPDATA, LPWSAPROTOCOL_INFOW,
			      LPWSPUPCALLTABLEEX, LPWSPPROC_TABLE);

/** The SAN extension functions, as WSPIoctl() hands them out. */
typedef HANDLE (*LPFN_WSPREGISTERMEMORY)(SOCKET, PVOID, DWORD, DWORD, LPINT);
typedef int (*LPFN_WSPDEREGISTERMEMORY)(SOCKET, HANDLE, LPINT);
typedef int (*LPFN_WSPREGISTERRDMAMEMORY)(SOCKET, PVOID, DWORD, DWORD,
					  LPVOID, LPDWORD, LPINT);
typedef int (*LPFN_WSPDEREGISTERRDMAMEMORY)(SOCKET, LPVOID, DWORD, LPINT);
typedef int (*LPFN_WSPRDMAWRITE)(SOCKET, LPWSABUFEX, DWORD, LPVOID, DWORD,
				 DWORD, LPDWORD, DWORD, LPWSAOVERLAPPED,
				 LPWSAOVERLAPPED_COMPLETION_ROUTINE,
				 LPWSATHREADID, LPINT);
typedef int (*LPFN_WSPRDMAREAD)(SOCKET, LPWSABUFEX, DWORD, LPVOID, DWORD,
				DWORD, LPDWORD, DWORD, LPWSAOVERLAPPED,
				LPWSAOVERLAPPED_COMPLETION_ROUTINE,
				LPWSATHREADID, LPINT);
typedef int (*LPFN_WSPMEMORYREGISTRATIONCACHECALLBACK)(PVOID, SIZE_T, LPINT);

/** The WSA error code for a sanverbs negative errno (0 for 0). */
int sanverbs_wsa_error(int err);

#ifdef __cplusplus
}
#endif

#endif /* SANVERBS_WS2SAN_H */
