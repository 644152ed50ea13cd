/* SPDX-License-Identifier: MIT */
/* Description: the WSP* layer between two processes over rxe, only through
 * Windows-shaped calls. A listening SOCKET accepts a connection; the peer
 * registers a MEM_WRITE and a MEM_READ region and sends their descriptors
 * with WSPSend; we RDMA-write into one and RDMA-read the other (every byte
 * checked on both sides); a too-small descriptor buffer gives WSAEFAULT and
 * the size; forged, truncated and out-of-bounds descriptors are rejected
 * before the wire; the cache callback drops a cached registration, says
 * WSAEALREADY for memory whose registrations were already released (by the
 * application, or by the memory monitor when the memory went) and
 * WSAEINVAL for memory never registered; the device refuses a write into the
 * MEM_READ region (WSAEACCES). A completion routine that the engine runs
 * (no switch) may close the last socket of its device, which stops that
 * very engine; the provider works on afterwards. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sanverbs/ws2san.h"
#include "sv-peer.h"
#include "sv-test.h"

#define RLEN (4u << 20)
#define DLEN SANVERBS_DESC_SIZE

static int recv_all(SOCKET s, void *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		WSABUF b = { .len = (uint32_t)(len - got), .buf = (char *)buf + got };
		DWORD n = 0, fl = 0;
		int err = 0;

		if (WSPRecv(s, &b, 1, &n, &fl, NULL, NULL, NULL, &err) || !n)
			return err ? err : -1;
		got += n;
	}
	return 0;
}

static int send_all(SOCKET s, const void *buf, size_t len)
{
	WSABUF b = { .len = (uint32_t)len, .buf = (char *)buf };
	DWORD n = 0;
	int err = 0;

	if (WSPSend(s, &b, 1, &n, 0, NULL, NULL, NULL, &err) || n != len)
		return err ? err : -1;
	return 0;
}

/* The peer: exposes a MEM_WRITE and a MEM_READ region, then checks. */
/* The peer side of a test: a listener on host B's address, its port
 * written to @pfd for the client. Returns 0, 1 if the listener could not
 * be made, 2 if the port could not be passed on. */
static int peer_listen(int pfd, SOCKET *ls)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int err = 0, nl = sizeof(sin);
	struct sv_side a, b;

	sv_sides(&a, &b);
	sv_enter_ns(b.ns);
	inet_pton(AF_INET, b.ip, &sin.sin_addr);
	*ls = WSPSocket(SANVERBS_AF_INET, SANVERBS_SOCK_STREAM, 0, NULL, 0, 0,
			&err);
	if (*ls == INVALID_SOCKET ||
	    WSPBind(*ls, (struct sockaddr *)&sin, sizeof(sin), &err) ||
	    WSPListen(*ls, 4, &err) ||
	    WSPGetSockName(*ls, (struct sockaddr *)&sin, &nl, &err))
		return 1;
	return write(pfd, &sin.sin_port, 2) == 2 ? 0 : 2;
}

static int peer_main(int pfd, void *arg)
{
	unsigned char *wr = calloc(1, RLEN), *rd = malloc(RLEN);
	unsigned char desc[2 * DLEN];
	int err = 0, r;
	DWORD l1 = DLEN, l2 = DLEN;
	SOCKET ls, s;
	char res;

	r = peer_listen(pfd, &ls);
	if (r)
		return 29 + r;
	s = WSPAccept(ls, NULL, NULL, NULL, 0, &err);
	if (s == INVALID_SOCKET)
		return 32;
	sv_fill_pattern(rd, RLEN, 99);
	if (WSPRegisterRdmaMemory(s, wr, RLEN, MEM_WRITE, desc, &l1, &err) ||
	    WSPRegisterRdmaMemory(s, rd, RLEN, MEM_READ, desc + DLEN, &l2,
				  &err) ||
	    l1 != DLEN || l2 != DLEN)
		return 33;
	if (send_all(s, desc, sizeof(desc)))
		return 34;
	/* the client says when its writes are done */
	if (recv_all(s, &res, 1))
		return 35;
	res = (char)(sv_check_pattern(wr, RLEN, 7) == -1 &&
		     sv_check_pattern(rd, RLEN, 99) == -1);
	if (send_all(s, &res, 1))
		return 36;
	/* wait for the client's last act (the refused write), then leave */
	recv_all(s, &res, 1);
	/* revoking works and an unknown descriptor is refused */
	if (WSPDeregisterRdmaMemory(s, desc, DLEN, &err) ||
	    !WSPDeregisterRdmaMemory(s, desc, DLEN, &err) || err != WSAEINVAL)
		return 37;
	WSPCloseSocket(s, &err);
	WSPCloseSocket(ls, &err);
	return 0;
}

/* The cache callback's three answers, on a range of its own: memory never
 * registered (WSAEINVAL); memory the monitor dropped while its
 * registrations were still held (0 with WSAEALREADY: nothing was
 * deregistered yet, so only the monitor's drop can answer that); memory
 * registered once and deregistered, which the cache may not have kept
 * (0, with WSAEALREADY when it did not). */
static void cache_callback_answers(SOCKET s)
{
	const size_t len = 65536;
	uint8_t *m = mmap(NULL, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	HANDLE h1, h2;
	int i, err = 0, ret = SOCKET_ERROR;

	ck_assert_ptr_ne(m, MAP_FAILED);
	memset(m, 1, len);
	ck_assert_int_eq(WSPMemoryRegistrationCacheCallback(m, len, &err),
			 SOCKET_ERROR);
	ck_assert_int_eq(err, WSAEINVAL);

	/* held twice (the second is cached under either admission rule),
	 * then the memory goes. Under the module's monitor the entry is
	 * dropped a moment after the unmap (docs/cache.md): a callback
	 * before that would drop it itself (0, error 0), so the monitor gets
	 * the 2 s the cache tests give it. Its callback to the provider runs
	 * on the worker thread: ask for up to 5 s more. */
	h1 = WSPRegisterMemory(s, m, len, MEM_WRITE, &err);
	ck_assert_ptr_nonnull(h1);
	h2 = WSPRegisterMemory(s, m, len, MEM_WRITE, &err);
	ck_assert_ptr_nonnull(h2);
	ck_assert_int_eq(munmap(m, len), 0);
	sleep(2);
	for (i = 0; i < 500 && ret; i++) {
		ret = WSPMemoryRegistrationCacheCallback(m, len, &err);
		if (ret)
			usleep(10000);
	}
	ck_assert_msg(ret == 0 && err == WSAEALREADY,
		      "callback after the monitor dropped the range: %d, "
		      "error %d", ret, err);
	ck_assert_int_eq(WSPDeregisterMemory(s, h1, &err), 0);
	ck_assert_int_eq(WSPDeregisterMemory(s, h2, &err), 0);

	/* registered once, deregistered: cached (dropped now) or not kept
	 * (already released); then surely nothing left */
	m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(m, MAP_FAILED);
	h1 = WSPRegisterMemory(s, m, len, MEM_WRITE, &err);
	ck_assert_ptr_nonnull(h1);
	ck_assert_int_eq(WSPDeregisterMemory(s, h1, &err), 0);
	ck_assert_int_eq(WSPMemoryRegistrationCacheCallback(m, len, &err), 0);
	ck_assert_msg(err == 0 || err == WSAEALREADY, "error %d", err);
	ck_assert_int_eq(WSPMemoryRegistrationCacheCallback(m, len, &err), 0);
	ck_assert_int_eq(err, WSAEALREADY);
	munmap(m, len);
}

START_TEST(wsp_two_process)
{
	unsigned char *src = malloc(RLEN), *dst = malloc(RLEN);
	unsigned char desc[2 * DLEN], forged[DLEN], small[4];
	char *bad;
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct sv_side a, b;
	struct sv_peer peer;
	int err = 0;
	DWORD n = 0, dl;
	HANDLE hs, hd, hc;
	WSABUFEX bx;
	SOCKET s;
	char res;

	sv_sides(&a, &b);
	sv_proc_start(&peer, peer_main, NULL, 0);
	sin.sin_port = peer.port; /* as the peer wrote it: network order */
	sv_enter_ns(a.ns);
	inet_pton(AF_INET, b.ip, &sin.sin_addr);
	s = WSPSocket(SANVERBS_AF_INET, SANVERBS_SOCK_STREAM, 0, NULL, 0, 0,
		      &err);
	ck_assert(s != INVALID_SOCKET);
	/* not connected yet: memory calls say so */
	ck_assert_ptr_null(WSPRegisterMemory(s, src, RLEN, MEM_READ, &err));
	ck_assert_int_eq(err, WSAENOTCONN);
	ck_assert_int_eq(WSPConnect(s, (struct sockaddr *)&sin, sizeof(sin),
				    NULL, NULL, NULL, NULL, &err),
			 0);
	ck_assert_int_eq(recv_all(s, desc, sizeof(desc)), 0);

	hs = WSPRegisterMemory(s, src, RLEN, MEM_READ, &err);
	hd = WSPRegisterMemory(s, dst, RLEN, MEM_WRITE, &err);
	ck_assert_ptr_nonnull(hs);
	ck_assert_ptr_nonnull(hd);
	ck_assert_ptr_null(WSPRegisterMemory(s, src, RLEN, 4, &err));
	ck_assert_int_eq(err, WSAEINVAL);

	/* descriptor length negotiation */
	dl = sizeof(small);
	ck_assert_int_eq(WSPRegisterRdmaMemory(s, dst, RLEN, MEM_WRITE, small,
					       &dl, &err),
			 SOCKET_ERROR);
	ck_assert_int_eq(err, WSAEFAULT);
	ck_assert_uint_eq(dl, DLEN);

	/* write into the MEM_WRITE region, read the MEM_READ one */
	sv_fill_pattern(src, RLEN, 7);
	bx = (WSABUFEX){ .len = RLEN, .buf = (char *)src, .handle = hs };
	ck_assert_int_eq(WSPRdmaWrite(s, &bx, 1, desc, DLEN, 0, &n, 0, NULL,
				      NULL, NULL, &err),
			 0);
	ck_assert_uint_eq(n, RLEN);
	memset(dst, 0, RLEN);
	bx = (WSABUFEX){ .len = RLEN, .buf = (char *)dst, .handle = hd };
	ck_assert_int_eq(WSPRdmaRead(s, &bx, 1, desc + DLEN, DLEN, 0, &n, 0,
				     NULL, NULL, NULL, &err),
			 0);
	ck_assert_int_eq(sv_check_pattern(dst, RLEN, 99), -1);

	/* forged, truncated and out-of-bounds descriptors never reach the
	 * wire (the peer's region is checked afterwards) */
	memcpy(forged, desc, DLEN);
	forged[0] ^= 0xff;
	bx = (WSABUFEX){ .len = 4096, .buf = (char *)src, .handle = hs };
	ck_assert_int_eq(WSPRdmaWrite(s, &bx, 1, forged, DLEN, 0, &n, 0, NULL,
				      NULL, NULL, &err),
			 SOCKET_ERROR);
	ck_assert_int_eq(err, WSAEINVAL);
	ck_assert_int_eq(WSPRdmaWrite(s, &bx, 1, desc, DLEN - 1, 0, &n, 0,
				      NULL, NULL, NULL, &err),
			 SOCKET_ERROR);
	ck_assert_int_eq(err, WSAEINVAL);
	ck_assert_int_eq(WSPRdmaWrite(s, &bx, 1, desc, DLEN, RLEN - 4095, &n,
				      0, NULL, NULL, NULL, &err),
			 SOCKET_ERROR);
	ck_assert_int_eq(err, WSAEFAULT);
	/* MEM_WRITE region cannot be read: refused from the descriptor */
	bx = (WSABUFEX){ .len = 4096, .buf = (char *)dst, .handle = hd };
	ck_assert_int_eq(WSPRdmaRead(s, &bx, 1, desc, DLEN, 0, &n, 0, NULL,
				     NULL, NULL, &err),
			 SOCKET_ERROR);
	ck_assert_int_eq(err, WSAEACCES);
	/* an unknown handle */
	bx.handle = (HANDLE)&bx;
	ck_assert_int_eq(WSPRdmaWrite(s, &bx, 1, desc, DLEN, 0, &n, 0, NULL,
				      NULL, NULL, &err),
			 SOCKET_ERROR);
	ck_assert_int_eq(err, WSAEINVAL);

	/* application memory the provider cannot touch is WSAEFAULT (the
	 * seeds' try/except), never a crash: an unreadable peer descriptor,
	 * an unwritable descriptor buffer, an unreadable send buffer */
	bad = mmap(NULL, 8192, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ck_assert_ptr_ne(bad, MAP_FAILED);
	ck_assert_int_eq(mprotect(bad + 4096, 4096, PROT_READ), 0);
	bx = (WSABUFEX){ .len = 4096, .buf = (char *)src, .handle = hs };
	ck_assert_int_eq(WSPRdmaWrite(s, &bx, 1, bad, DLEN, 0, &n, 0, NULL,
				      NULL, NULL, &err),
			 SOCKET_ERROR);
	ck_assert_int_eq(err, WSAEFAULT);
	dl = DLEN;
	ck_assert_int_eq(WSPRegisterRdmaMemory(s, dst, RLEN, MEM_WRITE,
					       bad + 4096, &dl, &err),
			 SOCKET_ERROR);
	ck_assert_int_eq(err, WSAEFAULT);
	{
		WSABUF wb = { .len = 100, .buf = bad };

		ck_assert_int_eq(WSPSend(s, &wb, 1, &n, 0, NULL, NULL, NULL,
					 &err),
				 SOCKET_ERROR);
		ck_assert_int_eq(err, WSAEFAULT);
	}
	munmap(bad, 8192);

	/* the peer checks every byte it got, and that its MEM_READ region
	 * is intact */
	res = 1;
	ck_assert_int_eq(send_all(s, &res, 1), 0);
	ck_assert_int_eq(recv_all(s, &res, 1), 0);
	ck_assert_int_eq(res, 1);

	/* cache callback: a dropped local registration is cached until the
	 * callback; then nothing is cached there. Registered twice: under
	 * userfaultfd a range is cached at its second registration
	 * (SANVERBS_CACHE_ADMIT). */
	hc = WSPRegisterMemory(s, dst, 65536, MEM_WRITE, &err);
	ck_assert_ptr_nonnull(hc);
	ck_assert_int_eq(WSPDeregisterMemory(s, hc, &err), 0);
	hc = WSPRegisterMemory(s, dst, 65536, MEM_WRITE, &err);
	ck_assert_ptr_nonnull(hc);
	ck_assert_int_eq(WSPDeregisterMemory(s, hc, &err), 0);
	ck_assert_int_eq(WSPDeregisterMemory(s, hc, &err), SOCKET_ERROR);
	ck_assert_int_eq(err, WSAEINVAL);
	/* the rig always has a monitor (userfaultfd or the module), so the
	 * dropped registration must be in the cache */
	ck_assert_int_eq(WSPMemoryRegistrationCacheCallback(dst, 65536, &err),
			 0);
	ck_assert_int_eq(err, 0);
	/* dropped now, released by the application before: nothing left */
	ck_assert_int_eq(WSPMemoryRegistrationCacheCallback(dst, 65536, &err),
			 0);
	ck_assert_int_eq(err, WSAEALREADY);
	ck_assert_int_eq(WSPMemoryRegistrationCacheCallback(NULL, 1, &err),
			 SOCKET_ERROR);
	ck_assert_int_eq(err, WSAEINVAL);
	cache_callback_answers(s);

	/* a peer lying about MEM_READ: the device refuses the write */
	memcpy(forged, desc + DLEN, DLEN);
	forged[31] |= SANVERBS_ACCESS_REMOTE_WRITE;
	bx = (WSABUFEX){ .len = 4096, .buf = (char *)src, .handle = hs };
	ck_assert_int_eq(WSPRdmaWrite(s, &bx, 1, forged, DLEN, 0, &n, 0, NULL,
				      NULL, NULL, &err),
			 SOCKET_ERROR);
	ck_assert_int_eq(err, WSAEACCES);

	ck_assert_int_eq(WSPCloseSocket(s, &err), 0);
	ck_assert_int_eq(WSPCloseSocket(s, &err), SOCKET_ERROR);
	ck_assert_int_eq(err, WSAENOTSOCK);
	ck_assert_int_eq(sv_peer_wait(&peer, 120), 0);
	free(src);
	free(dst);
}
END_TEST

/* The peer of the close test: a region to write into, then a second
 * connection that echoes one byte. */
static int peer_close(int pfd, void *arg)
{
	unsigned char desc[DLEN], *wr = calloc(1, 65536);
	int err = 0, r;
	DWORD dl = DLEN;
	SOCKET ls, s;
	char c;

	r = peer_listen(pfd, &ls);
	if (r)
		return 39 + r;
	s = WSPAccept(ls, NULL, NULL, NULL, 0, &err);
	if (s == INVALID_SOCKET ||
	    WSPRegisterRdmaMemory(s, wr, 65536, MEM_WRITE, desc, &dl, &err) ||
	    send_all(s, desc, DLEN))
		return 42;
	/* ends when the client's routine closed the connection */
	recv_all(s, &c, 1);
	WSPCloseSocket(s, &err);
	s = WSPAccept(ls, NULL, NULL, NULL, 0, &err);
	if (s == INVALID_SOCKET || recv_all(s, &c, 1) || send_all(s, &c, 1))
		return 43;
	recv_all(s, &c, 1);
	WSPCloseSocket(s, &err);
	WSPCloseSocket(ls, &err);
	return 0;
}

static SOCKET routine_sock;
static int routine_done, routine_status, routine_ret, routine_err;

static void close_routine(DWORD err, DWORD bytes, LPWSAOVERLAPPED ov,
			  DWORD flags)
{
	int e = 0;

	routine_status = (int)err;
	routine_ret = WSPCloseSocket(routine_sock, &e);
	routine_err = e;
	__atomic_store_n(&routine_done, 1, __ATOMIC_RELEASE);
}

static SOCKET connect_peer(const struct sv_side *b, uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = port };
	int err = 0;
	SOCKET s;

	inet_pton(AF_INET, b->ip, &sin.sin_addr);
	s = WSPSocket(SANVERBS_AF_INET, SANVERBS_SOCK_STREAM, 0, NULL, 0, 0,
		      &err);
	ck_assert(s != INVALID_SOCKET);
	ck_assert_int_eq(WSPConnect(s, (struct sockaddr *)&sin, sizeof(sin),
				    NULL, NULL, NULL, NULL, &err),
			 0);
	return s;
}

START_TEST(wsp_close_in_routine)
{
	unsigned char desc[DLEN], *src = calloc(1, 65536);
	struct sv_side a, b;
	struct sv_peer peer;
	WSAOVERLAPPED ov = { 0 };
	WSABUFEX bx;
	HANDLE h;
	SOCKET s;
	int err = 0, i;
	char c = 5;

	sv_sides(&a, &b);
	sv_proc_start(&peer, peer_close, NULL, 0);
	sv_enter_ns(a.ns);
	/* the process's only socket: closing it stops the device's engine */
	s = connect_peer(&b, peer.port);
	ck_assert_int_eq(recv_all(s, desc, DLEN), 0);
	h = WSPRegisterMemory(s, src, 65536, MEM_READ, &err);
	ck_assert_ptr_nonnull(h);
	routine_sock = s;
	bx = (WSABUFEX){ .len = 65536, .buf = (char *)src, .handle = h };
	ck_assert_int_eq(WSPRdmaWrite(s, &bx, 1, desc, DLEN, 0, NULL, 0, &ov,
				      close_routine, NULL, &err),
			 SOCKET_ERROR);
	ck_assert_int_eq(err, WSA_IO_PENDING);
	/* bounded only so that a hang fails here rather than at the
	 * suite's timeout */
	for (i = 0; i < 6000 && !__atomic_load_n(&routine_done,
						 __ATOMIC_ACQUIRE);
	     i++)
		usleep(10000);
	ck_assert_int_eq(routine_done, 1);
	ck_assert_int_eq(routine_status, 0);
	ck_assert_int_eq(routine_ret, 0);
	ck_assert_int_eq(routine_err, 0);
	ck_assert_int_eq(WSPCloseSocket(s, &err), SOCKET_ERROR);
	ck_assert_int_eq(err, WSAENOTSOCK);
	/* a new socket gets a new engine and moves bytes */
	s = connect_peer(&b, peer.port);
	ck_assert_int_eq(send_all(s, &c, 1), 0);
	c = 0;
	ck_assert_int_eq(recv_all(s, &c, 1), 0);
	ck_assert_int_eq(c, 5);
	ck_assert_int_eq(send_all(s, &c, 1), 0);
	ck_assert_int_eq(WSPCloseSocket(s, &err), 0);
	ck_assert_int_eq(sv_peer_wait(&peer, 120), 0);
	free(src);
}
END_TEST

int main(int argc, char **argv)
{
	static const struct sv_role roles[] = { { .run = peer_main },
						{ .run = peer_close } };
	Suite *s = suite_create("wsp");
	TCase *tc = tcase_create("two-process");

	tcase_set_timeout(tc, 500);
	tcase_add_test(tc, wsp_two_process);
	tcase_add_test(tc, wsp_close_in_routine);
	suite_add_tcase(s, tc);
	sv_peer_main(argc, argv, roles, 2);
	return sv_test_run_rxe(s);
}
