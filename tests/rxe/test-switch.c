/* Description: a test switch, the way the Windows Sockets switch drives a
 * SAN provider: it loads libsanverbs-provider with dlopen() and reaches it
 * only through WSPStartupEx (procedure table, upcall table of its own) and
 * WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER). Between two hosts it runs
 * many overlapped RDMA writes and reads at once, completed by upcall + event,
 * by polling (hEvent low bit) and by completion routine (APC queue drained
 * in an alertable wait), checks every byte on both sides, cancels work in
 * flight by closing the socket (WSA_OPERATION_ABORTED), and sees the peer
 * vanish mid-transfer (a clear error and FD_CLOSE, no hang). At the end no
 * socket handle, descriptor or pinned page is left.
 *
 *   test-switch [--side=both|a|b]    (TWOHOST.md; port $SANVERBS_SWITCH_PORT)
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sanverbs/ws2san.h"

#define CHUNK (64u * 1024)
#define NOPS 64                    /* overlapped operations in flight */
#define HALF ((size_t)NOPS * CHUNK) /* 4 MiB */
#define NCANCEL 200
#define TMO_MS 60000
/* The descriptor size this provider reports (checked by negotiation). */
#define DLEN 32

static int failures, checks;

/* Each evaluates @cond once. */
#define CHECK(cond, ...) (void)check_(!!(cond), __LINE__, __VA_ARGS__)
#define REQUIRE(cond, ...)                                                   \
	do {                                                                 \
		if (!check_(!!(cond), __LINE__, __VA_ARGS__))                \
			exit(1);                                             \
	} while (0)

__attribute__((format(printf, 3, 4))) static int check_(int ok, int line,
							  const char *fmt,
							  ...)
{
	va_list ap;

	checks++;
	if (ok)
		return 1;
	failures++;
	fprintf(stderr, "FAIL test-switch.c:%d: ", line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 0;
}

/* $SW_TRACE=1: say where each side is. */
#define TRACE(...)                                                           \
	do {                                                                 \
		if (getenv("SW_TRACE")) {                                    \
			fprintf(stderr, "[%d] ", (int)getpid());             \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
		}                                                            \
	} while (0)

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static void pattern(unsigned char *p, size_t len, uint32_t seed)
{
	uint32_t x = seed * 2654435761u + 1;
	size_t i;

	for (i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (unsigned char)x;
	}
}

static int pattern_ok(const unsigned char *p, size_t len, uint32_t seed)
{
	unsigned char *q = malloc(len);
	int ok;

	pattern(q, len, seed);
	ok = !memcmp(p, q, len);
	free(q);
	return ok;
}

/* ---- the switch's side of the upcall table ------------------------------ */

struct sw_event {
	pthread_mutex_t m;
	pthread_cond_t c;
	int set;
};

static WSAEVENT ev_new(void)
{
	struct sw_event *e = calloc(1, sizeof(*e));

	pthread_mutex_init(&e->m, NULL);
	pthread_cond_init(&e->c, NULL);
	return e;
}

static BOOL up_set_event(WSAEVENT h, LPINT err)
{
	struct sw_event *e = h;

	pthread_mutex_lock(&e->m);
	e->set = 1;
	pthread_cond_broadcast(&e->c);
	pthread_mutex_unlock(&e->m);
	return TRUE;
}

static BOOL up_reset_event(WSAEVENT h, LPINT err)
{
	struct sw_event *e = h;

	pthread_mutex_lock(&e->m);
	e->set = 0;
	pthread_mutex_unlock(&e->m);
	return TRUE;
}

/* 1 when the event is (or becomes) set within @ms. */
static int ev_wait(WSAEVENT h, int ms)
{
	struct sw_event *e = h;
	struct timespec dl;
	int set;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	pthread_mutex_lock(&e->m);
	while (!e->set && pthread_cond_timedwait(&e->c, &e->m, &dl) == 0)
		;
	set = e->set;
	pthread_mutex_unlock(&e->m);
	return set;
}

static int n_complete_calls, n_bad_upcalls, n_handles;

static int up_complete(SOCKET s, LPWSAOVERLAPPED ov, DWORD err, DWORD bytes,
		       LPINT lpErrno)
{
	__atomic_add_fetch(&n_complete_calls, 1, __ATOMIC_RELAXED);
	if ((uintptr_t)ov->hEvent & 1) /* the switch said it would poll */
		__atomic_add_fetch(&n_bad_upcalls, 1, __ATOMIC_RELAXED);
	if (!(s & 0x50000000u))
		__atomic_add_fetch(&n_bad_upcalls, 1, __ATOMIC_RELAXED);
	ov->InternalHigh = bytes;
	__atomic_store_n(&ov->Internal, 0, __ATOMIC_RELEASE);
	if (ov->hEvent)
		up_set_event(ov->hEvent, lpErrno);
	return 0;
}

static SOCKET up_create_handle(DWORD cat, DWORD_PTR ctx, LPINT err)
{
	__atomic_add_fetch(&n_handles, 1, __ATOMIC_RELAXED);
	return 0x50000000u | (SOCKET)(ctx & 0xffffff);
}

static int up_close_handle(SOCKET s, LPINT err)
{
	__atomic_sub_fetch(&n_handles, 1, __ATOMIC_RELAXED);
	return 0;
}

/* The APC queue of the one thread that asks for completion routines, run
 * only when that thread waits alertably (alertable_wait). */
static struct {
	pthread_mutex_t m;
	pthread_cond_t c;
	int n;
	LPWSAUSERAPC fn[4 * NOPS];
	DWORD_PTR ctx[4 * NOPS];
} apcq = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, { 0 },
	    { 0 } };
static WSATHREADID me = { (HANDLE)0x7e1d, 0 };
static int n_apc_wrong_thread;

static int up_queue_apc(LPWSATHREADID tid, LPWSAUSERAPC fn, DWORD_PTR ctx,
			LPINT err)
{
	if (!tid || tid->ThreadHandle != me.ThreadHandle)
		__atomic_add_fetch(&n_apc_wrong_thread, 1, __ATOMIC_RELAXED);
	pthread_mutex_lock(&apcq.m);
	if (apcq.n == 4 * NOPS) {
		pthread_mutex_unlock(&apcq.m);
		*err = WSAENOBUFS;
		return SOCKET_ERROR;
	}
	apcq.fn[apcq.n] = fn;
	apcq.ctx[apcq.n++] = ctx;
	pthread_cond_broadcast(&apcq.c);
	pthread_mutex_unlock(&apcq.m);
	return 0;
}

/* SleepEx(ms, TRUE): runs the queued APCs of this thread. */
static int alertable_wait(int ms)
{
	LPWSAUSERAPC fn[4 * NOPS];
	DWORD_PTR ctx[4 * NOPS];
	struct timespec dl;
	int i, n;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000;
	if (dl.tv_nsec >= 1000000000) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&apcq.m);
	while (!apcq.n && pthread_cond_timedwait(&apcq.c, &apcq.m, &dl) == 0)
		;
	n = apcq.n;
	memcpy(fn, apcq.fn, sizeof(fn[0]) * (size_t)n);
	memcpy(ctx, apcq.ctx, sizeof(ctx[0]) * (size_t)n);
	apcq.n = 0;
	pthread_mutex_unlock(&apcq.m);
	for (i = 0; i < n; i++)
		fn[i](ctx[i]);
	return n;
}

static const WSPUPCALLTABLEEX upcalls = {
	.lpWPUCloseSocketHandle = up_close_handle,
	.lpWPUCreateSocketHandle = up_create_handle,
	.lpWPUQueueApc = up_queue_apc,
	.lpWPUResetEvent = up_reset_event,
	.lpWPUSetEvent = up_set_event,
	.lpWPUCompleteOverlappedRequest = up_complete,
};

/* ---- the provider, reached only through startup and ioctl --------------- */

static void *provider;
static WSPPROC_TABLE P;
static LPFN_WSPREGISTERMEMORY RegisterMemory;
static LPFN_WSPDEREGISTERMEMORY DeregisterMemory;
static LPFN_WSPREGISTERRDMAMEMORY RegisterRdmaMemory;
static LPFN_WSPDEREGISTERRDMAMEMORY DeregisterRdmaMemory;
static LPFN_WSPRDMAWRITE RdmaWrite;
static LPFN_WSPRDMAREAD RdmaRead;
static LPFN_WSPMEMORYREGISTRATIONCACHECALLBACK CacheCallback;

static void load(void)
{
	const char *path = getenv("SANVERBS_PROVIDER");
	WSAPROTOCOL_INFOW pi = { .iAddressFamily = SANVERBS_AF_INET,
				 .dwCatalogEntryId = 1001 };
	LPWSPSTARTUPEX startup;
	WSPDATA data;

	provider = dlopen(path ? path : SV_PROVIDER_PATH, RTLD_NOW | RTLD_LOCAL);
	REQUIRE(provider, "dlopen: %s", dlerror());
	startup = (LPWSPSTARTUPEX)dlsym(provider, "WSPStartupEx");
	REQUIRE(startup, "no WSPStartupEx");
	/* version negotiation: 1.1 is refused, 2.2 agreed */
	CHECK(startup(MAKEWORD(1, 1), &data, &pi, (LPWSPUPCALLTABLEEX)&upcalls,
		      &P) == WSAVERNOTSUPPORTED,
	      "SPI 1.1 accepted");
	CHECK(startup(MAKEWORD(2, 2), NULL, &pi, (LPWSPUPCALLTABLEEX)&upcalls,
		      &P) == WSAEFAULT,
	      "NULL WSPDATA accepted");
	REQUIRE(startup(MAKEWORD(2, 2), &data, &pi,
			(LPWSPUPCALLTABLEEX)&upcalls, &P) == 0,
		"WSPStartupEx 2.2");
	CHECK(data.wVersion == MAKEWORD(2, 2), "version %#x", data.wVersion);
	REQUIRE(P.lpWSPSocket && P.lpWSPIoctl && P.lpWSPGetOverlappedResult &&
			P.lpWSPCleanup && P.lpWSPEventSelect,
		"procedure table incomplete");
}

static void *ext(SOCKET s, GUID id)
{
	void *fn = NULL;
	DWORD got = 0;
	int err = 0;

	REQUIRE(!P.lpWSPIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id,
			      sizeof(id), &fn, sizeof(fn), &got, NULL, NULL,
			      NULL, &err) &&
			fn && got == sizeof(fn),
		"extension %08x: error %d", id.Data1, err);
	return fn;
}

static void load_extensions(SOCKET s)
{
	GUID bogus = { 0x12345678, 1, 2, { 3 } };
	void *fn = NULL;
	DWORD got;
	int err = 0;

	RegisterMemory = ext(s, (GUID)WSAID_REGISTERMEMORY);
	DeregisterMemory = ext(s, (GUID)WSAID_DEREGISTERMEMORY);
	RegisterRdmaMemory = ext(s, (GUID)WSAID_REGISTERRDMAMEMORY);
	DeregisterRdmaMemory = ext(s, (GUID)WSAID_DEREGISTERRDMAMEMORY);
	RdmaWrite = ext(s, (GUID)WSAID_RDMAWRITE);
	RdmaRead = ext(s, (GUID)WSAID_RDMAREAD);
	CacheCallback = ext(s, (GUID)WSAID_MEMORYREGISTRATIONCACHECALLBACK);
	CHECK(P.lpWSPIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &bogus,
			   sizeof(bogus), &fn, sizeof(fn), &got, NULL, NULL,
			   NULL, &err) == SOCKET_ERROR &&
		      err == WSAEINVAL,
	      "unknown GUID: %d", err);
}

/* ---- the wire between the two sides ------------------------------------ */

enum { CMD_VERIFY = 1, CMD_DONE, CMD_GO };

struct cmd {
	uint32_t op, seed;
	uint64_t off, len;
};

static int send_all(SOCKET s, const void *p, size_t len)
{
	WSABUF b = { (uint32_t)len, (char *)p };
	DWORD n = 0;
	int err = 0;

	if (P.lpWSPSend(s, &b, 1, &n, 0, NULL, NULL, NULL, &err) || n != len)
		return err ? err : -1;
	return 0;
}

static int recv_all(SOCKET s, void *p, size_t len)
{
	size_t got = 0;

	while (got < len) {
		WSABUF b = { (uint32_t)(len - got), (char *)p + got };
		DWORD n = 0, fl = 0;
		int err = 0;

		if (P.lpWSPRecv(s, &b, 1, &n, &fl, NULL, NULL, NULL, &err))
			return err;
		if (!n)
			return -1; /* the peer closed */
		got += n;
	}
	return 0;
}

struct host {
	const char *ns, *ip;
};

static void hosts(struct host *a, struct host *b)
{
	const char *nsa = getenv("SANVERBS_NS_A"), *nsb = getenv("SANVERBS_NS_B");

	if (getenv("SANVERBS_IP_A") && getenv("SANVERBS_IP_B")) {
		a->ns = nsa && *nsa ? nsa : NULL;
		b->ns = nsb && *nsb ? nsb : NULL;
		a->ip = getenv("SANVERBS_IP_A");
		b->ip = getenv("SANVERBS_IP_B");
		return;
	}
	a->ns = b->ns = NULL;
	a->ip = b->ip = getenv("SANVERBS_RXE_IP");
	if (!a->ip) {
		printf("SKIP: no rxe link (run under tests/vm/run.sh)\n");
		exit(77);
	}
}

static void enter_ns(const char *ns)
{
	char path[256];
	int fd;

	if (!ns)
		return;
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "cannot enter netns %s\n", ns);
		exit(2);
	}
	close(fd);
}

static uint16_t port(void)
{
	const char *p = getenv("SANVERBS_SWITCH_PORT");

	return (uint16_t)(p ? atoi(p) : 7471);
}

static struct sockaddr_in addr_of(const char *ip)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port()) };

	inet_pton(AF_INET, ip, &sin.sin_addr);
	return sin;
}


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

static SOCKET accept_one(SOCKET ls, const struct host *a)
{
	struct sockaddr_in peer;
	int err = 0, len = sizeof(peer), verdict = CF_ACCEPT;
	SOCKET s = P.lpWSPAccept(ls, (struct sockaddr *)&peer, &len,
				 accept_cond, (DWORD_PTR)&verdict, &err);
	char ip[INET_ADDRSTRLEN];

	REQUIRE(s != INVALID_SOCKET, "WSPAccept: %d", err);
	TRACE("B: accepted");
	inet_ntop(AF_INET, &peer.sin_addr, ip, sizeof(ip));
	CHECK(len == sizeof(peer) && peer.sin_family == AF_INET &&
		      !strcmp(ip, a->ip),
	      "peer address %s, expected %s", ip, a->ip);
	CHECK(!memcmp(&caller_seen, &peer, sizeof(peer)),
	      "condition function saw another caller");
	return s;
}

static int side_b(const struct host *a, const struct host *b)
{
	struct sockaddr_in sin = addr_of(b->ip);
	unsigned char desc[DLEN], *rb;
	struct cmd c;
	SOCKET ls, s;
	int err = 0;

	TRACE("B: loading");
	load();
	TRACE("B: loaded");
	ls = P.lpWSPSocket(SANVERBS_AF_INET, SANVERBS_SOCK_STREAM, 0, NULL, 0,
			   0, &err);
	REQUIRE(ls != INVALID_SOCKET, "socket: %d", err);
	load_extensions(ls);
	REQUIRE(!P.lpWSPBind(ls, (struct sockaddr *)&sin, sizeof(sin), &err) &&
			!P.lpWSPListen(ls, 4, &err),
		"bind/listen %s:%u: %d", b->ip, port(), err);
	TRACE("B: listening on %s:%u", b->ip, port());

	/* 1: the data connection */
	s = accept_one(ls, a);
	rb = expose(s, 2 * HALF, MEM_READWRITE, desc);
	pattern(rb + HALF, HALF, 99);
	REQUIRE(!send_all(s, desc, sizeof(desc)), "send descriptor");
	while (!recv_all(s, &c, sizeof(c)) && c.op == CMD_VERIFY) {
		char ok = c.off <= 2 * HALF && c.len <= 2 * HALF - c.off &&
			  pattern_ok(rb + c.off, c.len, c.seed);

		REQUIRE(!send_all(s, &ok, 1), "send verdict");
	}
	CHECK(!P.lpWSPCloseSocket(s, &err), "close 1: %d", err);
	free(rb);

	/* 2: cancellation: the peer closes with writes in flight */
	s = accept_one(ls, a);
	rb = expose(s, 2 * HALF, MEM_WRITE, desc);
	REQUIRE(!send_all(s, desc, sizeof(desc)), "send descriptor 2");
	CHECK(recv_all(s, &c, sizeof(c)) != 0, "data after the peer's close");
	CHECK(!P.lpWSPCloseSocket(s, &err), "close 2: %d", err);
	free(rb);

	/* 3: this side vanishes mid-transfer, closing nothing */
	s = accept_one(ls, a);
	rb = expose(s, 2 * HALF, MEM_WRITE, desc);
	REQUIRE(!send_all(s, desc, sizeof(desc)), "send descriptor 3");
	REQUIRE(!recv_all(s, &c, sizeof(c)) && c.op == CMD_GO, "go");
	usleep(200000); /* let writes be in flight */
	fflush(NULL);
	_exit(failures ? 1 : 0);
}

/* ---- side A: the client ------------------------------------------------- */

static SOCKET connect_b(const struct host *b, unsigned char *desc)
{
	struct sockaddr_in sin = addr_of(b->ip);
	long long deadline = now_ms() + 60000;
	SOCKET s;
	int err = 0;

	for (;;) {
		s = P.lpWSPSocket(SANVERBS_AF_INET, SANVERBS_SOCK_STREAM, 0,
				  NULL, 0, 0, &err);
		REQUIRE(s != INVALID_SOCKET, "socket: %d", err);
		if (!P.lpWSPConnect(s, (struct sockaddr *)&sin, sizeof(sin),
				    NULL, NULL, NULL, NULL, &err))
			break;
		P.lpWSPCloseSocket(s, NULL);
		REQUIRE(now_ms() < deadline, "connect %s: %d", b->ip, err);
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

static void data_phase(const struct host *b)
{
	unsigned char desc[DLEN];
	unsigned char *src = malloc(HALF), *dst = calloc(1, HALF);
	struct cmd c = { CMD_VERIFY, 7, 0, HALF };
	HANDLE hs, hd;
	WSABUFEX bad;
	char ok = 0;
	SOCKET s;
	int err = 0;

	s = connect_b(b, desc);
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
	CHECK(!P.lpWSPCloseSocket(s, &err), "close: %d", err);
	free(src);
	free(dst);
}

static void cancel_phase(const struct host *b)
{
	static WSAOVERLAPPED ov[NCANCEL];
	unsigned char desc[DLEN];
	unsigned char *src = malloc(CHUNK);
	WSAEVENT ev = ev_new();
	int i, err = 0, posted = 0, aborted = 0, other = 0;
	long long t0;
	HANDLE h;
	SOCKET s;

	s = connect_b(b, desc);
	memset(src, 0x5a, CHUNK);
	h = RegisterMemory(s, src, CHUNK, MEM_READ, &err);
	REQUIRE(h, "register: %d", err);
	for (i = 0; i < NCANCEL; i++) {
		WSABUFEX bx = { CHUNK, (char *)src, h };

		memset(&ov[i], 0, sizeof(ov[i]));
		ov[i].hEvent = ev;
		if (RdmaWrite(s, &bx, 1, desc, DLEN,
			      (uint32_t)(i % (2 * NOPS)) * CHUNK, NULL, 0,
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

	s = connect_b(b, desc);
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
	data_phase(b);
	/* What the libraries keep for the process (librdmacm's device list)
	 * is open now; from here on nothing may stay behind. */
	fds0 = count_fds();
	pin0 = pinned_kb();
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
