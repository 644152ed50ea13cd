/* SPDX-License-Identifier: MIT */
/**
 * @file ws2san.h
 * @brief The Windows Sockets Direct (SAN service provider) interface on
 * Linux, over sanverbs: the types, constants and WSP* entry points a ported
 * SAN provider or its switch calls, with the Windows signatures.
 *
 * Every function reports failure the Windows way: it returns SOCKET_ERROR
 * (or INVALID_SOCKET / NULL for handle-returning calls) and stores a WSA
 * error code in *lpErrno. Overlapped I/O is accepted but completes
 * synchronously (the call returns 0 with the transfer done).
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

#define INVALID_SOCKET (~(SOCKET)0)
#define SOCKET_ERROR (-1)

/** Access of a registration (WSPRegisterMemory, WSPRegisterRdmaMemory). */
#define MEM_READ 1
#define MEM_WRITE 2
#define MEM_READWRITE 3

/** WSA error codes used by this layer (values as in winsock2.h). */
#define WSA_OPERATION_ABORTED 995
#define WSA_IO_PENDING 997
#define WSAEINTR 10004
#define WSAEACCES 10013
#define WSAEFAULT 10014
#define WSAEINVAL 10022
#define WSAEMFILE 10024
#define WSAEWOULDBLOCK 10035
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

/** Overlapped structure; accepted, but every call completes at once. */
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
#define SANVERBS_SOCK_STREAM 1

/* ---- socket-shaped calls: enough to get a connected SOCKET -------------- */

/** Create a SAN socket (AF_INET, SOCK_STREAM; protocol 0). No device is
 *  chosen yet: bind or connect picks the RDMA device of the address. */
SOCKET WSPSocket(int af, int type, int protocol, void *lpProtocolInfo,
		 GROUP g, DWORD dwFlags, LPINT lpErrno);
/** Bind to a local IPv4 address (struct sockaddr_in). */
int WSPBind(SOCKET s, const struct sockaddr *name, int namelen, LPINT lpErrno);
/** Listen on the bound address. */
int WSPListen(SOCKET s, int backlog, LPINT lpErrno);
/** The bound address; after WSPListen() on port 0, the port picked. */
int WSPGetSockName(SOCKET s, struct sockaddr *name, LPINT namelen,
		   LPINT lpErrno);
/** Accept one connection (blocking, bounded by $SANVERBS_WSP_TIMEOUT_MS,
 *  default 30000 ms). @p addr / @p addrlen may be NULL. */
SOCKET WSPAccept(SOCKET s, struct sockaddr *addr, LPINT addrlen,
		 void *lpfnCondition, uintptr_t dwCallbackData, LPINT lpErrno);
/** Connect to an IPv4 peer (struct sockaddr_in). The QoS and caller/callee
 *  data arguments must be NULL. */
int WSPConnect(SOCKET s, const struct sockaddr *name, int namelen,
	       LPWSABUF lpCallerData, LPWSABUF lpCalleeData, void *lpSQOS,
	       void *lpGQOS, LPINT lpErrno);
/** Send all bytes of the buffers (copied through the socket's registered
 *  bounce buffers; stream semantics). */
int WSPSend(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
	    LPDWORD lpNumberOfBytesSent, DWORD dwFlags,
	    LPWSAOVERLAPPED lpOverlapped,
	    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
	    LPWSATHREADID lpThreadId, LPINT lpErrno);
/** Receive what has arrived (at least one byte, waiting up to the timeout);
 *  0 bytes means the peer closed. */
int WSPRecv(SOCKET s, LPWSABUF lpBuffers, DWORD dwBufferCount,
	    LPDWORD lpNumberOfBytesRecvd, LPDWORD lpFlags,
	    LPWSAOVERLAPPED lpOverlapped,
	    LPWSAOVERLAPPED_COMPLETION_ROUTINE lpCompletionRoutine,
	    LPWSATHREADID lpThreadId, LPINT lpErrno);
/** Close: release every registration made on the socket, disconnect. */
int WSPCloseSocket(SOCKET s, LPINT lpErrno);

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
/** Drop every cached registration in the range (on every socket's device);
 *  WSAEINVAL if nothing was cached there. */
int WSPMemoryRegistrationCacheCallback(PVOID lpvAddress, SIZE_T Size,
				       LPINT lpErrno);
/** RDMA-write the registered local buffers to @p dwTargetOffset of the
 *  peer's descriptor. */
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

/** The WSA error code for a sanverbs negative errno (0 for 0). */
int sanverbs_wsa_error(int err);

#ifdef __cplusplus
}
#endif

#endif /* SANVERBS_WS2SAN_H */
