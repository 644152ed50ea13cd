/* SPDX-License-Identifier: MIT */
/* Description: a test switch, the way the Windows Sockets switch drives a
 * SAN provider: it loads libsanverbs-provider with dlopen() and reaches it
 * only through WSPStartupEx (procedure table, upcall table of its own) and
 * WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER). Between two hosts it runs
 * many overlapped RDMA writes and reads at once, completed by upcall + event,
 * by polling (hEvent low bit) and by completion routine (APC queue drained
 * in an alertable wait), checks every byte on both sides, cancels work in
 * flight by closing the socket (WSA_OPERATION_ABORTED), and sees the peer
 * vanish mid-transfer (a clear error and FD_CLOSE, no hang). The data
 * exchange runs over IPv4 and again over IPv6 (RoCEv2 GIDs of the rig's
 * IPv6 addresses), where the addresses the switch sees are sockaddr_in6.
 * Caller data goes to the condition function and callee data comes back,
 * CF_REJECT and CF_DEFER are honoured (switch-cdata.c).
 * At the end no socket handle, descriptor or pinned page is left.
 *
 *   test-switch [--side=both|a|b]    (TWOHOST.md; port $SANVERBS_SWITCH_PORT)
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <sys/wait.h>

#include "switch.h"

/* ---- side B: serves three connections ---------------------------------- */

static struct sockaddr_storage caller_seen;

static int accept_cond(LPWSABUF caller, LPWSABUF cdata, LPQOS sq, LPQOS gq,
		       LPWSABUF callee, LPWSABUF edata, GROUP *g, DWORD_PTR arg)
{
	if (caller && caller->len <= sizeof(caller_seen))
		memcpy(&caller_seen, caller->buf, caller->len);
	return *(int *)arg;
}

/* Registers @len bytes for the peer and sends it the descriptor. */
static unsigned char *expose(SOCKET s, size_t len, DWORD flags,
			     unsigned char *desc)
{
	unsigned char *buf = calloc(1, len);
	DWORD dl = 0;
	int err = 0;

	/* the switch asks for the size first */
	CHECK(RegisterRdmaMemory(s, buf, (DWORD)len, flags, desc, &dl, &err) ==
			      SOCKET_ERROR &&
		      err == WSAEFAULT && dl == DLEN,
	      "descriptor size negotiation: %d, %u", err, dl);
	REQUIRE(buf && !RegisterRdmaMemory(s, buf, (DWORD)len, flags, desc,
					   &dl, &err),
		"WSPRegisterRdmaMemory: %d", err);
	return buf;
}

static SOCKET accept_one(SOCKET ls, const char *a_ip)
{
	struct sockaddr_storage peer;
	int err = 0, len = sizeof(peer), verdict = CF_ACCEPT;
	int want = strchr(a_ip, ':') ? AF_INET6 : AF_INET;
	SOCKET s = P.lpWSPAccept(ls, (struct sockaddr *)&peer, &len,
				 accept_cond, (DWORD_PTR)&verdict, &err);
	char ip[INET6_ADDRSTRLEN];

	REQUIRE(s != INVALID_SOCKET, "WSPAccept: %d", err);
	TRACE("B: accepted");
	addr_str(&peer, ip, sizeof(ip));
	CHECK(peer.ss_family == want &&
		      len == (want == AF_INET6 ? (int)sizeof(struct sockaddr_in6) :
						 (int)sizeof(struct sockaddr_in)) &&
		      !strcmp(ip, a_ip),
	      "peer address %s (family %d, %d bytes), expected %s", ip,
	      peer.ss_family, len, a_ip);
	CHECK(!memcmp(&caller_seen, &peer, (size_t)len),
	      "condition function saw another caller");
	return s;
}

static SOCKET listen_on(const char *ip, uint16_t p)
{
	struct sockaddr_storage ss;
	int err = 0, len = addr_of(ip, &ss);
	SOCKET ls = P.lpWSPSocket(ss.ss_family == AF_INET6 ? SANVERBS_AF_INET6 :
							     SANVERBS_AF_INET,
				  SANVERBS_SOCK_STREAM, 0, NULL, 0, 0, &err);

	REQUIRE(ls != INVALID_SOCKET, "socket: %d", err);
	((struct sockaddr_in *)&ss)->sin_port = htons(p); /* both families */
	REQUIRE(!P.lpWSPBind(ls, (struct sockaddr *)&ss, len, &err) &&
			!P.lpWSPListen(ls, 4, &err),
		"bind/listen %s:%u: %d", ip, p, err);
	TRACE("B: listening on %s:%u", ip, p);
	return ls;
}

/* The data connection: exposes a region, checks what the peer says it
 * wrote until it is done. */
static void serve_data(SOCKET ls, const char *a_ip)
{
	unsigned char desc[DLEN], *rb;
	struct cmd c;
	SOCKET s = accept_one(ls, a_ip);
	int err = 0;

	rb = expose(s, 2 * HALF, MEM_READWRITE, desc);
	pattern(rb + HALF, HALF, 99);
	REQUIRE(!send_all(s, desc, sizeof(desc)), "send descriptor");
	while (!recv_all(s, &c, sizeof(c)) && c.op == CMD_VERIFY) {
		char ok = c.off <= 2 * HALF && c.len <= 2 * HALF - c.off &&
			  pattern_ok(rb + c.off, c.len, c.seed);

		REQUIRE(!send_all(s, &ok, 1), "send verdict");
	}
	CHECK(!P.lpWSPCloseSocket(s, &err), "close data %s: %d", a_ip, err);
	free(rb);
}

static int side_b(const struct host *a, const struct host *b)
{
	unsigned char desc[DLEN], *rb;
	struct cmd c;
	SOCKET ls, ls6, s;
	int err = 0;

	TRACE("B: loading");
	load();
	TRACE("B: loaded");
	REQUIRE(a->ip6 && b->ip6, "no IPv6 addresses from the rig "
				  "(SANVERBS_IP6_A/B, SANVERBS_LINK_IP6_A/B)");
	ls = listen_on(b->ip, port());
	load_extensions(ls);
	ls6 = listen_on(b->ip6, (uint16_t)(port() + 1));

	/* 1: the data connection, over IPv4 then over IPv6 */
	serve_data(ls, a->ip);
	serve_data(ls6, a->ip6);
	CHECK(!P.lpWSPCloseSocket(ls6, &err), "close IPv6 listener: %d", err);

	/* caller and callee data, CF_REJECT, CF_DEFER */
	cdata_serve(ls);

	/* 2: cancellation: the peer closes with writes in flight */
	s = accept_one(ls, a->ip);
	rb = expose(s, 2 * HALF, MEM_WRITE, desc);
	REQUIRE(!send_all(s, desc, sizeof(desc)), "send descriptor 2");
	CHECK(recv_all(s, &c, sizeof(c)) != 0, "data after the peer's close");
	CHECK(!P.lpWSPCloseSocket(s, &err), "close 2: %d", err);
	free(rb);

	/* 3: this side vanishes mid-transfer, closing nothing */
	s = accept_one(ls, a->ip);
	rb = expose(s, 2 * HALF, MEM_WRITE, desc);
	REQUIRE(!send_all(s, desc, sizeof(desc)), "send descriptor 3");
	REQUIRE(!recv_all(s, &c, sizeof(c)) && c.op == CMD_GO, "go");
	usleep(200000); /* let writes be in flight */
	fflush(NULL);
	_exit(failures ? 1 : 0);
}

/* ---- side A: the client ------------------------------------------------- */

static SOCKET connect_b(const char *ip, uint16_t p, unsigned char *desc)
{
	struct sockaddr_storage ss;
	int err = 0, len = addr_of(ip, &ss);
	long long deadline = now_ms() + 60000;
	SOCKET s;

	((struct sockaddr_in *)&ss)->sin_port = htons(p); /* both families */
	for (;;) {
		s = P.lpWSPSocket(ss.ss_family == AF_INET6 ? SANVERBS_AF_INET6 :
							     SANVERBS_AF_INET,
				  SANVERBS_SOCK_STREAM, 0, NULL, 0, 0, &err);
		REQUIRE(s != INVALID_SOCKET, "socket: %d", err);
		if (!P.lpWSPConnect(s, (struct sockaddr *)&ss, len, NULL, NULL,
				    NULL, NULL, &err))
			break;
		P.lpWSPCloseSocket(s, NULL);
		REQUIRE(now_ms() < deadline, "connect %s: %d", ip, err);
		usleep(200000);
	}
	REQUIRE(!recv_all(s, desc, DLEN), "descriptor");
	return s;
}

static int routines_done, routine_errors;

static void routine(DWORD err, DWORD bytes, LPWSAOVERLAPPED ov, DWORD flags)
{
	if (err || bytes != CHUNK)
		routine_errors++;
	routines_done++;
}

enum { BY_EVENT, BY_POLL, BY_ROUTINE };

/* NOPS overlapped transfers of CHUNK, all in flight at once, each indicated
 * the way (i % 3) says; waits for all and checks each result. */
static void burst(SOCKET s, int is_read, unsigned char *local, HANDLE h,
		  unsigned char *desc, uint32_t target_off)
{
	static WSAOVERLAPPED ov[NOPS];
	WSAEVENT ev[NOPS];
	int i, err, n_routine = 0, calls0 = n_complete_calls;

	routines_done = routine_errors = 0;
	for (i = 0; i < NOPS; i++) {
		WSABUFEX parts[4];
		DWORD nb = 1, j;
		int how = i % 3, ret;

		memset(&ov[i], 0, sizeof(ov[i]));
		ev[i] = ev_new();
		ov[i].hEvent = how == BY_POLL ? (HANDLE)((uintptr_t)ev[i] | 1) :
						ev[i];
		/* the first request in four buffers: four work requests */
		parts[0] = (WSABUFEX){ CHUNK, (char *)local + i * CHUNK, h };
		if (i == 0) {
			nb = 4;
			for (j = 0; j < 4; j++)
				parts[j] = (WSABUFEX){
					CHUNK / 4,
					(char *)local + j * (CHUNK / 4), h
				};
		}
		err = 0;
		ret = (is_read ? RdmaRead : RdmaWrite)(
			s, parts, nb, desc, DLEN,
			target_off + i * CHUNK, NULL, 0, &ov[i],
			how == BY_ROUTINE ? routine : NULL,
			how == BY_ROUTINE ? &me : NULL, &err);
		CHECK(ret == SOCKET_ERROR && err == WSA_IO_PENDING,
		      "op %d: %d/%d, not pending", i, ret, err);
		n_routine += how == BY_ROUTINE;
	}
	for (i = 0; i < NOPS; i++) {
		long long deadline = now_ms() + TMO_MS;
		DWORD bytes = 0, fl = 0;
		BOOL ok;

		if (i % 3 == BY_ROUTINE)
			continue;
		if (i % 3 == BY_EVENT) {
			CHECK(ev_wait(ev[i], TMO_MS), "op %d: no event", i);
			ok = P.lpWSPGetOverlappedResult(s, &ov[i], &bytes, FALSE,
							&fl, &err);
		} else {
			while (!(ok = P.lpWSPGetOverlappedResult(
					 s, &ov[i], &bytes, FALSE, &fl, &err)) &&
			       err == WSA_IO_INCOMPLETE && now_ms() < deadline)
				sched_yield();
		}
		CHECK(ok && bytes == CHUNK, "op %d: ok %d bytes %u err %d", i, ok,
		      bytes, err);
	}
	{
		long long deadline = now_ms() + TMO_MS;

		while (routines_done < n_routine && now_ms() < deadline)
			alertable_wait(1000);
	}
	CHECK(routines_done == n_routine && !routine_errors,
	      "completion routines: %d of %d ran, %d failed", routines_done,
	      n_routine, routine_errors);
	CHECK(n_complete_calls - calls0 == NOPS - n_routine - NOPS / 3,
	      "WPUCompleteOverlappedRequest called %d times",
	      n_complete_calls - calls0);
	for (i = 0; i < NOPS; i++)
		free(ev[i]);
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	while (d && readdir(d))
		n++;
	if (d)
		closedir(d);
	return n;
}

static long pinned_kb(void)
{
	char line[256];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f && fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmPin:", 6))
			kb = atol(line + 6);
	if (f)
		fclose(f);
	return kb;
}

static void data_phase(const char *ip, uint16_t p)
{
	struct sockaddr_storage peer;
	char pip[INET6_ADDRSTRLEN];
	int plen = sizeof(peer);
	unsigned char desc[DLEN];
	unsigned char *src = malloc(HALF), *dst = calloc(1, HALF);
	struct cmd c = { CMD_VERIFY, 7, 0, HALF };
	HANDLE hs, hd;
	WSABUFEX bad;
	char ok = 0;
	SOCKET s;
	int err = 0;

	s = connect_b(ip, p, desc);
	/* the switch sees the peer in its own family */
	CHECK(!P.lpWSPGetPeerName(s, (struct sockaddr *)&peer, &plen, &err) &&
		      !strcmp(addr_str(&peer, pip, sizeof(pip)), ip) &&
		      plen == (peer.ss_family == AF_INET6 ?
				       (int)sizeof(struct sockaddr_in6) :
				       (int)sizeof(struct sockaddr_in)) &&
		      ((struct sockaddr_in *)&peer)->sin_port == htons(p),
	      "WSPGetPeerName: %s (%d bytes), expected %s:%u", pip, plen, ip,
	      p);
	pattern(src, HALF, 7);
	hs = RegisterMemory(s, src, HALF, MEM_READ, &err);
	hd = RegisterMemory(s, dst, HALF, MEM_WRITE, &err);
	REQUIRE(hs && hd, "WSPRegisterMemory: %d", err);

	burst(s, 0, src, hs, desc, 0);
	REQUIRE(!send_all(s, &c, sizeof(c)) && !recv_all(s, &ok, 1), "verify");
	CHECK(ok == 1, "the peer's region does not hold what was written");
	burst(s, 1, dst, hd, desc, HALF);
	CHECK(pattern_ok(dst, HALF, 99), "what was read differs from the peer's");

	/* refused before the wire: a target past the region, a local span
	 * past its registration, an unknown handle */
	bad = (WSABUFEX){ CHUNK, (char *)src, hs };
	CHECK(RdmaWrite(s, &bad, 1, desc, DLEN, 2 * HALF, NULL, 0,
			NULL, NULL, NULL, &err) == SOCKET_ERROR &&
		      err == WSAEFAULT,
	      "target past the region: %d", err);
	bad = (WSABUFEX){ CHUNK, (char *)src + HALF - 1, hs };
	CHECK(RdmaWrite(s, &bad, 1, desc, DLEN, 0, NULL, 0, NULL,
			NULL, NULL, &err) == SOCKET_ERROR &&
		      err == WSAEFAULT,
	      "local span past its registration: %d", err);
	bad = (WSABUFEX){ CHUNK, (char *)src, (HANDLE)&bad };
	CHECK(RdmaWrite(s, &bad, 1, desc, DLEN, 0, NULL, 0, NULL,
			NULL, NULL, &err) == SOCKET_ERROR &&
		      err == WSAEINVAL,
	      "unknown handle: %d", err);
	c.op = CMD_DONE;
	CHECK(!send_all(s, &c, sizeof(c)), "done");
	CHECK(!DeregisterMemory(s, hs, &err) && !DeregisterMemory(s, hd, &err),
	      "deregister: %d", err);
	/* the cache callback, as the switch calls it when memory is freed:
	 * the buffer's registration was released (kept in the cache: dropped
	 * now; not kept: already released), then nothing is left; memory
	 * never registered is a wrong range */
	CHECK(!CacheCallback(src, HALF, &err) &&
		      (err == 0 || err == WSAEALREADY),
	      "cache callback: %d", err);
	CHECK(!CacheCallback(src, HALF, &err) && err == WSAEALREADY,
	      "cache callback again: %d", err);
	CHECK(CacheCallback(&c, sizeof(c), &err) == SOCKET_ERROR &&
		      err == WSAEINVAL,
	      "cache callback on memory never registered: %d", err);
	CHECK(!P.lpWSPCloseSocket(s, &err), "close: %d", err);
	free(src);
	free(dst);
}

static void cancel_phase(const struct host *b)
{
	static WSAOVERLAPPED ov[NCANCEL];
	unsigned char desc[DLEN];
	/* Whole halves, so that the queue holds far more than the link moves
	 * before close, on any host: some writes are in flight at close. */
	unsigned char *src = malloc(HALF);
	WSAEVENT ev = ev_new();
	int i, err = 0, posted = 0, aborted = 0, other = 0;
	long long t0;
	HANDLE h;
	SOCKET s;

	s = connect_b(b->ip, port(), desc);
	memset(src, 0x5a, HALF);
	h = RegisterMemory(s, src, HALF, MEM_READ, &err);
	REQUIRE(h, "register: %d", err);
	for (i = 0; i < NCANCEL; i++) {
		WSABUFEX bx = { HALF, (char *)src, h };

		memset(&ov[i], 0, sizeof(ov[i]));
		ov[i].hEvent = ev;
		if (RdmaWrite(s, &bx, 1, desc, DLEN,
			      (uint32_t)(i % 2) * HALF, NULL, 0,
			      &ov[i], NULL, NULL, &err) == SOCKET_ERROR &&
		    err == WSA_IO_PENDING)
			posted++;
	}
	CHECK(posted == NCANCEL, "only %d of %d writes pending", posted,
	      NCANCEL);
	t0 = now_ms();
	CHECK(!P.lpWSPCloseSocket(s, &err), "close with writes in flight: %d",
	      err);
	CHECK(now_ms() - t0 < 10000, "close took %lld ms", now_ms() - t0);
	/* every operation has been indicated by the time close returns */
	for (i = 0; i < posted; i++) {
		if (__atomic_load_n(&ov[i].Internal, __ATOMIC_ACQUIRE) ==
		    WSS_OPERATION_IN_PROGRESS)
			other++;
		else if (ov[i].OffsetHigh == WSA_OPERATION_ABORTED)
			aborted++;
		else if (ov[i].OffsetHigh)
			other++;
	}
	CHECK(!other, "%d operations neither done nor aborted", other);
	CHECK(aborted > 0, "close aborted none of %d writes", posted);
	printf("cancel: %d of %d writes aborted by close\n", aborted, posted);
	free(ev);
	free(src);
}

static void vanish_phase(const struct host *b)
{
	static WSAOVERLAPPED ov[NOPS];
	unsigned char desc[DLEN];
	unsigned char *src = malloc(CHUNK);
	struct cmd c = { CMD_GO, 0, 0, 0 };
	WSANETWORKEVENTS ne;
	WSAEVENT ev = ev_new(), sev = ev_new();
	long long t0, deadline;
	int i, err = 0, first_err = 0;
	HANDLE h;
	SOCKET s;

	s = connect_b(b->ip, port(), desc);
	memset(src, 0x33, CHUNK);
	h = RegisterMemory(s, src, CHUNK, MEM_READ, &err);
	REQUIRE(h, "register: %d", err);
	CHECK(!P.lpWSPEventSelect(s, sev, FD_READ | FD_CLOSE, &err),
	      "WSPEventSelect: %d", err);
	REQUIRE(!send_all(s, &c, sizeof(c)), "go");
	t0 = now_ms();
	deadline = t0 + 120000;
	/* keep NOPS writes in flight until one fails */
	for (i = 0; i < NOPS; i++)
		ov[i].Internal = 0;
	while (!first_err && now_ms() < deadline) {
		for (i = 0; i < NOPS && !first_err; i++) {
			WSABUFEX bx = { CHUNK, (char *)src, h };

			if (ov[i].Internal == WSS_OPERATION_IN_PROGRESS)
				continue;
			if (ov[i].OffsetHigh) {
				first_err = (int)ov[i].OffsetHigh;
				break;
			}
			memset(&ov[i], 0, sizeof(ov[i]));
			ov[i].hEvent = (HANDLE)((uintptr_t)ev | 1);
			if (RdmaWrite(s, &bx, 1, desc, DLEN,
				      (uint32_t)i * CHUNK, NULL, 0, &ov[i],
				      NULL, NULL, &err) == SOCKET_ERROR &&
			    err != WSA_IO_PENDING)
				first_err = err;
		}
		sched_yield();
	}
	CHECK(first_err == WSAECONNRESET || first_err == WSAECONNABORTED ||
		      first_err == WSAETIMEDOUT || first_err == WSAEACCES ||
		      first_err == WSAENOTCONN,
	      "peer gone: error %d", first_err);
	CHECK(now_ms() - t0 < 120000, "noticed after %lld ms", now_ms() - t0);
	/* FD_CLOSE reaches the event the switch selected */
	deadline = now_ms() + 30000;
	memset(&ne, 0, sizeof(ne));
	while (!(ne.lNetworkEvents & FD_CLOSE) && now_ms() < deadline) {
		ev_wait(sev, 1000);
		P.lpWSPEnumNetworkEvents(s, sev, &ne, &err);
	}
	CHECK(ne.lNetworkEvents & FD_CLOSE, "no FD_CLOSE (events %#lx)",
	      ne.lNetworkEvents);
	t0 = now_ms();
	CHECK(!P.lpWSPCloseSocket(s, &err), "close: %d", err);
	CHECK(now_ms() - t0 < 10000, "close took %lld ms", now_ms() - t0);
	for (i = 0; i < NOPS; i++)
		CHECK(ov[i].Internal != WSS_OPERATION_IN_PROGRESS,
		      "op %d never indicated", i);
	free(ev);
	free(sev);
	free(src);
}

static int side_a(const struct host *a, const struct host *b)
{
	int fds0, err = 0;
	long pin0;
	SOCKET s;

	load();
	s = P.lpWSPSocket(SANVERBS_AF_INET, SANVERBS_SOCK_STREAM, 0, NULL, 0, 0,
			  &err);
	REQUIRE(s != INVALID_SOCKET, "socket: %d", err);
	load_extensions(s);
	P.lpWSPCloseSocket(s, NULL);
	REQUIRE(b->ip6, "no IPv6 addresses from the rig "
			"(SANVERBS_IP6_A/B, SANVERBS_LINK_IP6_A/B)");
	data_phase(b->ip, port());
	data_phase(b->ip6, (uint16_t)(port() + 1));
	/* What the libraries keep for the process (librdmacm's device list)
	 * is open now; from here on nothing may stay behind. */
	fds0 = count_fds();
	pin0 = pinned_kb();
	cdata_client(b->ip, port());
	cancel_phase(b);
	vanish_phase(b);
	CHECK(!P.lpWSPCleanup(&err), "WSPCleanup: %d", err);
	CHECK(!n_handles, "%d socket handles never closed", n_handles);
	CHECK(!n_bad_upcalls, "%d completion upcalls the switch did not want",
	      n_bad_upcalls);
	CHECK(!n_apc_wrong_thread, "%d APCs for another thread",
	      n_apc_wrong_thread);
	CHECK(count_fds() == fds0, "descriptors: %d before, %d after", fds0,
	      count_fds());
	if (pin0 >= 0)
		CHECK(pinned_kb() <= pin0, "pinned: %ld kB before, %ld after",
		      pin0, pinned_kb());
	return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
	const char *side = "both";
	struct host a, b;
	int i, ra, st = 0;
	pid_t pid;

	for (i = 1; i < argc; i++)
		if (!strncmp(argv[i], "--side=", 7))
			side = argv[i] + 7;
	setvbuf(stdout, NULL, _IOLBF, 0);
	hosts(&a, &b);
	alarm(600); /* never hang the suite */
	if (!strcmp(side, "b")) {
		enter_ns(b.ns);
		return side_b(&a, &b);
	}
	if (!strcmp(side, "a")) {
		enter_ns(a.ns);
		ra = side_a(&a, &b);
	} else {
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			enter_ns(b.ns);
			_exit(side_b(&a, &b));
		}
		enter_ns(a.ns);
		ra = side_a(&a, &b);
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st) && !WEXITSTATUS(st), "side B: status %#x",
		      st);
		ra = ra || failures;
	}
	printf("%d passed, %d failed, 0 skipped\n", checks - failures,
	       failures);
	return ra ? 1 : 0;
}
