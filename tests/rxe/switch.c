/* SPDX-License-Identifier: MIT */
/* The test switch's side of the SPI (see switch.h). */
#define _GNU_SOURCE
#include "switch.h"

int failures, checks;

int check_(int ok, const char *file, int line, const char *fmt, ...)
{
	va_list ap;

	checks++;
	if (ok)
		return 1;
	failures++;
	fprintf(stderr, "FAIL %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return 0;
}

long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

void pattern(unsigned char *p, size_t len, uint32_t seed)
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

int pattern_ok(const unsigned char *p, size_t len, uint32_t seed)
{
	unsigned char *q = malloc(len);
	int ok;

	pattern(q, len, seed);
	ok = !memcmp(p, q, len);
	free(q);
	return ok;
}

/* ---- the switch's side of the upcall table ------------------------------ */


WSAEVENT ev_new(void)
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
int ev_wait(WSAEVENT h, int ms)
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

int n_complete_calls, n_bad_upcalls, n_handles;

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
WSATHREADID me = { (HANDLE)0x7e1d, 0 };
int n_apc_wrong_thread;

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
int alertable_wait(int ms)
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
WSPPROC_TABLE P;
LPFN_WSPREGISTERMEMORY RegisterMemory;
LPFN_WSPDEREGISTERMEMORY DeregisterMemory;
LPFN_WSPREGISTERRDMAMEMORY RegisterRdmaMemory;
LPFN_WSPDEREGISTERRDMAMEMORY DeregisterRdmaMemory;
LPFN_WSPRDMAWRITE RdmaWrite;
LPFN_WSPRDMAREAD RdmaRead;
LPFN_WSPMEMORYREGISTRATIONCACHECALLBACK CacheCallback;

void load(void)
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

void load_extensions(SOCKET s)
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



int send_all(SOCKET s, const void *p, size_t len)
{
	WSABUF b = { (uint32_t)len, (char *)p };
	DWORD n = 0;
	int err = 0;

	if (P.lpWSPSend(s, &b, 1, &n, 0, NULL, NULL, NULL, &err) || n != len)
		return err ? err : -1;
	return 0;
}

int recv_all(SOCKET s, void *p, size_t len)
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


/* The rig's IPv6 addresses next to the IPv4 ones: a pair of guests has
 * its link's (peer.py passes guest A's SANVERBS_* variables on, so the
 * one-guest ones are there too and are not the link's). */
static void hosts6(struct host *a, struct host *b)
{
	const char *mode = getenv("SANVERBS_TWOHOST_MODE");

	if (mode && !strcmp(mode, "machines")) {
		a->ip6 = getenv("SANVERBS_LINK_IP6_A");
		b->ip6 = getenv("SANVERBS_LINK_IP6_B");
	} else if (getenv("SANVERBS_IP_A") && getenv("SANVERBS_IP_B")) {
		a->ip6 = getenv("SANVERBS_IP6_A");
		b->ip6 = getenv("SANVERBS_IP6_B");
	} else {
		a->ip6 = b->ip6 = getenv("SANVERBS_RXE_IP6");
	}
}

void hosts(struct host *a, struct host *b)
{
	const char *nsa = getenv("SANVERBS_NS_A"), *nsb = getenv("SANVERBS_NS_B");

	hosts6(a, b);
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

void enter_ns(const char *ns)
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

uint16_t port(void)
{
	const char *p = getenv("SANVERBS_SWITCH_PORT");

	return (uint16_t)(p ? atoi(p) : 7471);
}

int addr_of(const char *ip, struct sockaddr_storage *ss)
{
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	struct sockaddr_in *in = (struct sockaddr_in *)ss;

	memset(ss, 0, sizeof(*ss));
	if (ip && strchr(ip, ':')) {
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port());
		inet_pton(AF_INET6, ip, &in6->sin6_addr);
		return (int)sizeof(*in6);
	}
	in->sin_family = AF_INET;
	in->sin_port = htons(port());
	if (ip)
		inet_pton(AF_INET, ip, &in->sin_addr);
	return (int)sizeof(*in);
}

const char *addr_str(const void *sa, char *buf, size_t len)
{
	const struct sockaddr *s = sa;

	if (s->sa_family == AF_INET6)
		return inet_ntop(AF_INET6,
				 &((const struct sockaddr_in6 *)sa)->sin6_addr,
				 buf, (socklen_t)len);
	if (s->sa_family == AF_INET)
		return inet_ntop(AF_INET,
				 &((const struct sockaddr_in *)sa)->sin_addr,
				 buf, (socklen_t)len);
	return "?";
}
