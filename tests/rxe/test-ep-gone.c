/* SPDX-License-Identifier: MIT */
/* Description: connection requests whose peer gives up while the listener
 * holds them, over rxe between this process (the listener, side A) and
 * connecting processes on side B. A deferred request whose peer's connect
 * timed out, or whose peer was killed (SIGKILL), is never handed out again:
 * the next sanverbs_ep_get_req() returns the next live request, or
 * -ETIMEDOUT in bounded time with the listener's descriptor quiet; a held
 * request whose peer went is refused by sanverbs_ep_req_accept() with
 * -ECONNABORTED and ends quietly with sanverbs_ep_req_reject(). Through the
 * provider, a request deferred by WSPAccept()'s condition function (CF_DEFER)
 * whose caller gave up is dropped without the condition function seeing it
 * again (WSPAccept times out: WSAETIMEDOUT), and one whose caller went while
 * the condition function decided fails with WSAECONNRESET. Each time the
 * listener's descriptors are back to their count (the requests were freed)
 * and it then accepts a new connection that moves checked bytes. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "ep-swap.h"
#include "sanverbs/ws2san.h"
#include "sv-peer.h"
#include "sv-test.h"

#define MSG 4096
#define DLEN 10   /* request data of every connector */
#define ALEN 8    /* accept data of every accept */
/* Long enough for the peer's REJ to reach the listener, even under TCG. */
#define SETTLE_US 1500000

/* What a connecting process does (its seed makes its data its own). */
enum kid_mode {
	KID_GIVEUP, /* connect_data with a 3 s bound: must end in -ETIMEDOUT */
	KID_HANG,   /* connect_data with a 60 s bound: killed meanwhile */
	KID_GOOD,   /* connect_data, then one message each way */
	KID_WSP,    /* WSPConnect with caller data, then one message each way */
};

struct kid {
	struct sv_peer p;
	int go; /* the port, 2 bytes in host order, starts it */
};

/* Start pipes still open here: not the listener's descriptors. */
static int go_open;

/* ---- side B: the connecting processes (exit codes say what failed) ----- */

static int wsp_io(SOCKET s, void *buf, size_t len, int send)
{
	size_t done = 0;

	while (done < len) {
		WSABUF b = { (uint32_t)(len - done), (char *)buf + done };
		DWORD n = 0, fl = 0;
		int err = 0;

		if ((send ? WSPSend(s, &b, 1, &n, 0, NULL, NULL, NULL, &err) :
			    WSPRecv(s, &b, 1, &n, &fl, NULL, NULL, NULL,
				    &err)) || !n)
			return -1;
		done += n;
	}
	return 0;
}

static int kid_wsp(const struct sv_side *a, uint16_t port, uint32_t seed)
{
	unsigned char d[DLEN], e[ALEN], *buf = malloc(MSG);
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	WSABUF cd = { DLEN, (char *)d }, ed = { ALEN, (char *)e };
	int err = 0;
	SOCKET s;

	inet_pton(AF_INET, a->ip, &sin.sin_addr);
	sv_fill_pattern(d, DLEN, seed);
	s = WSPSocket(SANVERBS_AF_INET, SANVERBS_SOCK_STREAM, 0, NULL, 0, 0,
		      &err);
	if (!buf || s == INVALID_SOCKET ||
	    WSPConnect(s, (struct sockaddr *)&sin, sizeof(sin), &cd, &ed,
		       NULL, NULL, &err))
		return 40;
	if (ed.len != ALEN || sv_check_pattern(e, ALEN, seed + 1) != -1)
		return 41;
	sv_fill_pattern(buf, MSG, seed + 2);
	if (wsp_io(s, buf, MSG, 1) || wsp_io(s, buf, MSG, 0))
		return 42;
	if (sv_check_pattern(buf, MSG, seed + 3) != -1)
		return 43;
	/* the listener closes first: its last receive is done */
	wsp_io(s, buf, 1, 0);
	WSPCloseSocket(s, &err);
	return 0;
}

static int kid_main(int go, enum kid_mode mode, uint32_t seed)
{
	unsigned char d[DLEN], reply[ALEN];
	struct sanverbs_ep_attr ea = { .timeout_ms = 3000 };
	struct sanverbs_ctx_attr attr;
	struct sanverbs_ctx *ctx;
	struct sanverbs_ep *ep = NULL;
	struct sv_side a, b;
	size_t room = sizeof(reply);
	uint16_t port;
	int ret, st;

	if (read(go, &port, sizeof(port)) != sizeof(port))
		return 2; /* not needed this time */
	sv_sides(&a, &b);
	sv_enter_ns(b.ns);
	if (mode == KID_WSP)
		return kid_wsp(&a, port, seed);
	if (sanverbs_ctx_attr_init(&attr))
		return 3;
	attr.device = b.dev;
	if (sanverbs_ctx_open(&attr, &ctx))
		return 3;
	if (mode == KID_HANG)
		ea.timeout_ms = 60000;
	else if (mode == KID_GOOD)
		ea.timeout_ms = 30000;
	sv_fill_pattern(d, DLEN, seed);
	ret = sanverbs_ep_connect_data(ctx, a.ip, port, &ea, d, DLEN, reply,
				       &room, &ep);
	if (mode == KID_GIVEUP)
		return ret == -ETIMEDOUT && !ep ? 0 : 20;
	if (mode == KID_HANG)
		return 21; /* should have been killed */
	if (ret || room != ALEN || sv_check_pattern(reply, ALEN, seed + 1) != -1)
		return 22;
	st = sv_ep_swap_close_last(ep, MSG, seed + 2, seed + 3);
	st = st ? 29 + st : 0;
	sanverbs_ep_close(ep);
	sanverbs_ctx_close(ctx);
	return st;
}

/* Forked before this process opens any device: waits for its port. */
static void kid_start(struct kid *k, enum kid_mode mode, uint32_t seed)
{
	int fds[2];

	ck_assert_int_eq(pipe(fds), 0);
	k->p.pid = fork();
	ck_assert_int_ge(k->p.pid, 0);
	if (!k->p.pid) {
		close(fds[1]);
		_exit(kid_main(fds[0], mode, seed));
	}
	close(fds[0]);
	k->go = fds[1];
	go_open++;
}

static void kid_go(struct kid *k, uint16_t port)
{
	ck_assert_int_eq(write(k->go, &port, sizeof(port)), sizeof(port));
	close(k->go);
	go_open--;
}

/* Kills a connector in the middle of its connect, and lets its REJ land. */
static void kid_kill(struct kid *k)
{
	int st;

	ck_assert_int_eq(kill(k->p.pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(k->p.pid, &st, 0), k->p.pid);
	ck_assert(WIFSIGNALED(st));
	usleep(SETTLE_US);
}

/* A connector's own end (its connect timed out), then its REJ lands. */
static void kid_done(struct kid *k, int want)
{
	ck_assert_int_eq(sv_peer_wait(&k->p, 90), want);
	usleep(SETTLE_US);
}

/* ---- side A: the listener ------------------------------------------------ */

/* This process's descriptors but the connectors' start pipes: each
 * request holds its own event channel, so a request not freed shows. */
static int fd_count(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n - go_open;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000LL + ts.tv_nsec / 1000000;
}

/* Whether @req carries the request data of seed @seed's connector. */
static int req_of(struct sanverbs_ep_req *req, uint32_t seed)
{
	unsigned char d[SANVERBS_EP_REQ_DATA_MAX];
	size_t n = sizeof(d);

	return !sanverbs_ep_req_data(req, d, &n) && n == DLEN &&
	       sv_check_pattern(d, n, seed) == -1;
}

static void check_req(struct sanverbs_ep_req *req, uint32_t seed)
{
	ck_assert_ptr_nonnull(req);
	ck_assert_msg(req_of(req, seed), "not the request of seed %u",
		      (unsigned int)seed);
}

/*
 * sanverbs_ep_get_req() once the peers of seeds @g1 and @g2 gave up. Their
 * REJs land when the guest gets to them, which a starved TCG guest may
 * not do within the settling time: a request of theirs handed out again
 * is deferred again and asked for again after a pause. It must be gone
 * within a minute, or the library never drops it.
 */
static int get_req_past(struct sanverbs_ep *lis, uint32_t g1, uint32_t g2,
			int timeout_ms, struct sanverbs_ep_req **req)
{
	long long end = now_ms() + 60000;
	int ret;

	for (;;) {
		ret = sanverbs_ep_get_req(lis, timeout_ms, req);
		if (ret || !(req_of(*req, g1) || req_of(*req, g2)))
			return ret;
		ck_assert_msg(now_ms() < end, "a request whose peer gave up "
			      "is still handed out after a minute");
		ck_assert_int_eq(sanverbs_ep_req_defer(*req), 0);
		fprintf(stderr, "a given-up peer's request came again: its REJ "
			"had not landed\n");
		usleep(250000);
	}
}

/* Accepts @req (seed @seed's connector) and moves a message each way. */
static void accept_and_move(struct sanverbs_ep_req *req, uint32_t seed)
{
	unsigned char acc[ALEN];
	struct sanverbs_ep *ep;

	check_req(req, seed);
	sv_fill_pattern(acc, ALEN, seed + 1);
	ck_assert_int_eq(sanverbs_ep_req_accept(req, acc, ALEN, &ep), 0);
	sv_ep_swap_checked(ep, MSG, seed + 3, seed + 2);
	ck_assert_int_eq(sanverbs_ep_close(ep), 0);
}

/* The listener serves on after a peer gave up: connector @k (seed @seed)
 * is accepted and moves bytes; then the listener and @ctx are closed. */
static void serve_on(struct sanverbs_ctx *ctx, struct sanverbs_ep *lis,
		     struct kid *k, uint16_t port, uint32_t seed)
{
	struct sanverbs_ep_req *req;

	kid_go(k, port);
	ck_assert_int_eq(sanverbs_ep_get_req(lis, 30000, &req), 0);
	accept_and_move(req, seed);
	ck_assert_int_eq(sv_peer_wait(&k->p, 90), 0);
	ck_assert_int_eq(sanverbs_ep_close(lis), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
}

static struct sanverbs_ep *listen_a(struct sanverbs_ctx **ctx,
				    uint16_t *port)
{
	struct sanverbs_ep *lis;
	struct sv_side a, b;

	sv_sides(&a, &b);
	*ctx = sv_side_open(&a);
	ck_assert_int_eq(sanverbs_ep_listen(*ctx, a.ip, 0, 4, NULL, &lis), 0);
	*port = sanverbs_ep_local_port(lis);
	return lis;
}

START_TEST(deferred_peer_gone)
{
	struct kid k1, k2, k3;
	struct sanverbs_ep_req *req;
	struct sanverbs_ctx *ctx;
	struct sanverbs_ep *lis;
	struct pollfd pfd;
	uint16_t port;
	long long t;
	int fds;

	kid_start(&k1, KID_GIVEUP, 101);
	kid_start(&k2, KID_HANG, 102);
	kid_start(&k3, KID_GOOD, 103);
	lis = listen_a(&ctx, &port);
	pfd = (struct pollfd){ .fd = sanverbs_ep_fd(lis), .events = POLLIN };
	fds = fd_count();

	/* deferred, then its peer's connect times out */
	kid_go(&k1, port);
	ck_assert_int_eq(sanverbs_ep_get_req(lis, 30000, &req), 0);
	check_req(req, 101);
	ck_assert_int_eq(sanverbs_ep_req_defer(req), 0);
	ck_assert_int_eq(poll(&pfd, 1, 0), 1);
	kid_done(&k1, 0);
	/* deferred, then its peer is killed; the dead one above is not
	 * what the next call returns */
	kid_go(&k2, port);
	ck_assert_int_eq(get_req_past(lis, 101, 101, 30000, &req), 0);
	check_req(req, 102);
	ck_assert_int_eq(sanverbs_ep_req_defer(req), 0);
	kid_kill(&k2);

	/* nothing live waits: bounded, quiet, and both requests freed */
	ck_assert_int_eq(get_req_past(lis, 101, 102, 0, &req), -ETIMEDOUT);
	t = now_ms();
	ck_assert_int_eq(sanverbs_ep_get_req(lis, 2000, &req), -ETIMEDOUT);
	ck_assert_ptr_null(req);
	ck_assert_int_lt(now_ms() - t, 10000);
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	ck_assert_int_eq(fd_count(), fds);

	/* the listener serves on */
	serve_on(ctx, lis, &k3, port, 103);
}
END_TEST

START_TEST(held_peer_gone)
{
	struct kid k1, k2, k3;
	struct sanverbs_ep_req *req;
	struct sanverbs_ctx *ctx;
	struct sanverbs_ep *lis, *ep = (void *)1;
	uint16_t port;
	long long t;
	int fds;

	kid_start(&k1, KID_GIVEUP, 201);
	kid_start(&k2, KID_HANG, 202);
	kid_start(&k3, KID_GOOD, 203);
	lis = listen_a(&ctx, &port);
	fds = fd_count();

	/* held while its peer's connect timed out: the accept is refused,
	 * in bounded time, with the errno of a connection given up */
	kid_go(&k1, port);
	ck_assert_int_eq(sanverbs_ep_get_req(lis, 30000, &req), 0);
	check_req(req, 201);
	kid_done(&k1, 0);
	t = now_ms();
	ck_assert_int_eq(sanverbs_ep_req_accept(req, "x", 1, &ep),
			 -ECONNABORTED);
	ck_assert_ptr_null(ep);
	ck_assert_int_lt(now_ms() - t, 15000);
	ck_assert_int_eq(fd_count(), fds);

	/* held while its peer was killed: the rejection ends it quietly */
	kid_go(&k2, port);
	ck_assert_int_eq(sanverbs_ep_get_req(lis, 30000, &req), 0);
	check_req(req, 202);
	kid_kill(&k2);
	ck_assert_int_eq(sanverbs_ep_req_reject(req, "r", 1), 0);
	ck_assert_int_eq(fd_count(), fds);

	serve_on(ctx, lis, &k3, port, 203);
}
END_TEST

/* ---- through the provider ------------------------------------------------ */

static int cond_calls;
static uint32_t cond_seed;
static struct kid *cond_victim; /* killed while the condition decides */

static int cond(LPWSABUF caller, LPWSABUF cdata, LPQOS sq, LPQOS gq,
		LPWSABUF callee, LPWSABUF edata, GROUP *g, DWORD_PTR verdict)
{
	cond_calls++;
	if (!cdata || cdata->len != DLEN ||
	    sv_check_pattern(cdata->buf, DLEN, cond_seed) != -1)
		return CF_REJECT;
	if (cond_victim)
		kid_kill(cond_victim);
	if (verdict == CF_ACCEPT) {
		sv_fill_pattern(edata->buf, ALEN, cond_seed + 1);
		edata->len = ALEN;
	}
	return (int)verdict;
}

static SOCKET wsp_accept(SOCKET ls, int verdict, uint32_t seed,
			 const char *tmo, int *err)
{
	cond_calls = 0;
	cond_seed = seed;
	setenv("SANVERBS_WSP_TIMEOUT_MS", tmo, 1);
	return WSPAccept(ls, NULL, NULL, cond, (DWORD_PTR)verdict, err);
}

START_TEST(wsp_deferred_caller_gone)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	unsigned char *buf = malloc(MSG);
	struct kid k1, k2, k3;
	struct sv_side a, b;
	int err = 0, nl = sizeof(sin), fds;
	uint16_t port;
	long long t;
	SOCKET ls, s;

	kid_start(&k1, KID_GIVEUP, 301);
	kid_start(&k2, KID_HANG, 302);
	kid_start(&k3, KID_WSP, 303);
	sv_sides(&a, &b);
	sv_enter_ns(a.ns);
	inet_pton(AF_INET, a.ip, &sin.sin_addr);
	ls = WSPSocket(SANVERBS_AF_INET, SANVERBS_SOCK_STREAM, 0, NULL, 0, 0,
		       &err);
	ck_assert(ls != INVALID_SOCKET);
	ck_assert_int_eq(WSPBind(ls, (struct sockaddr *)&sin, sizeof(sin),
				 &err), 0);
	ck_assert_int_eq(WSPListen(ls, 4, &err), 0);
	ck_assert_int_eq(WSPGetSockName(ls, (struct sockaddr *)&sin, &nl,
					&err), 0);
	port = ntohs(sin.sin_port);
	fds = fd_count();

	/* CF_DEFER, then the caller gives up: the next WSPAccept does not
	 * present it again, and times out */
	kid_go(&k1, port);
	s = wsp_accept(ls, CF_DEFER, 301, "30000", &err);
	ck_assert(s == INVALID_SOCKET);
	ck_assert_int_eq(err, WSATRY_AGAIN);
	ck_assert_int_eq(cond_calls, 1);
	kid_done(&k1, 0);
	/* presented again only while its REJ has not landed (see
	 * get_req_past()); deferred again each time */
	t = now_ms() + 60000;
	do {
		s = wsp_accept(ls, CF_DEFER, 301, "2000", &err);
		ck_assert(s == INVALID_SOCKET);
		if (cond_calls) {
			ck_assert_msg(now_ms() < t, "a request whose caller "
				      "gave up is still presented after a "
				      "minute");
			fprintf(stderr, "the caller's REJ had not landed\n");
			usleep(250000);
		}
	} while (cond_calls);
	ck_assert_int_eq(err, WSAETIMEDOUT);
	ck_assert_int_eq(fd_count(), fds);

	/* the caller goes while the condition function decides: the accept
	 * fails as Windows says for a call ended by the remote peer */
	kid_go(&k2, port);
	cond_victim = &k2;
	s = wsp_accept(ls, CF_ACCEPT, 302, "30000", &err);
	cond_victim = NULL;
	ck_assert(s == INVALID_SOCKET);
	ck_assert_int_eq(cond_calls, 1);
	ck_assert_int_eq(err, WSAECONNRESET);
	ck_assert_int_eq(fd_count(), fds);

	/* a new caller is accepted and moves bytes */
	kid_go(&k3, port);
	s = wsp_accept(ls, CF_ACCEPT, 303, "30000", &err);
	ck_assert_msg(s != INVALID_SOCKET, "WSPAccept: %d", err);
	ck_assert_int_eq(wsp_io(s, buf, MSG, 0), 0);
	ck_assert_int_eq(sv_check_pattern(buf, MSG, 305), -1);
	sv_fill_pattern(buf, MSG, 306);
	ck_assert_int_eq(wsp_io(s, buf, MSG, 1), 0);
	ck_assert_int_eq(WSPCloseSocket(s, &err), 0);
	ck_assert_int_eq(sv_peer_wait(&k3.p, 90), 0);
	ck_assert_int_eq(WSPCloseSocket(ls, &err), 0);
	free(buf);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("ep-gone");
	TCase *tc = tcase_create("two-process");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, deferred_peer_gone);
	tcase_add_test(tc, held_peer_gone);
	tcase_add_test(tc, wsp_deferred_caller_gone);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
