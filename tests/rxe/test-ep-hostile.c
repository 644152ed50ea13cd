/* SPDX-License-Identifier: MIT */
/* Description: hostile sanverbs headers in CM private data, sent by a raw
 * librdmacm peer (plain rdma_connect / rdma_accept / rdma_reject with bytes
 * it crafts) over rxe between this process (side A) and one on side B.
 * Requests to a sanverbs listener with a wrong version, a length beyond what
 * a request carries (53: RoCE pads request data to 56 bytes, so every
 * length up to 52 arrives whole), a length of 255 with 4 bytes sent, and
 * garbage that starts with our magic are rejected on the wire by the
 * library (no data of ours in the REJ) and never reach the application;
 * requests with no private data, a wrong magic, or garbage without our
 * magic are a foreign peer's: they reach the application with no data
 * (never the peer's bytes), which rejects them with its own data. Answers
 * from a raw listener to sanverbs_ep_connect_data(): an accept or rejection
 * with a malformed header fails the call with -EBADMSG or -EPROTONOSUPPORT
 * and no reply bytes (the room untouched); a rejection without our magic is
 * -ECONNREFUSED with no data. Afterwards a well-formed connect with the
 * largest data both ways is accepted and moves checked bytes. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <rdma/rdma_cma.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ep-swap.h"
#include "sv-peer.h"
#include "sv-test.h"

#define MSG 4096
#define CM_REJ_CONSUMER_DEFINED 28

/* ---- raw librdmacm (no sanverbs on that side of the wire) ---------------- */

static struct rdma_cm_event *raw_wait(struct rdma_event_channel *ch,
				      int timeout_ms)
{
	struct pollfd pfd = { .fd = ch->fd, .events = POLLIN };
	struct rdma_cm_event *ev;

	if (poll(&pfd, 1, timeout_ms) != 1 || rdma_get_cm_event(ch, &ev))
		return NULL;
	return ev;
}

/* How the request was turned down. */
enum { BY_LIBRARY = 1, BY_APP_F = 2 };

/* One raw request carrying @n bytes of @pd; which rejection came, or a
 * negative step on any other outcome. */
static int raw_request(const char *ip, uint16_t port, const void *pd,
		       uint8_t n)
{
	struct rdma_event_channel *ch = rdma_create_event_channel();
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	struct rdma_conn_param p = { .private_data = pd,
				     .private_data_len = n,
				     .qp_num = 0x111, /* no QP: never used */
				     .retry_count = 7,
				     .rnr_retry_count = 7 };
	const unsigned char *rej;
	struct rdma_cm_event *ev;
	struct rdma_cm_id *id;
	int ret = -1;

	inet_pton(AF_INET, ip, &sin.sin_addr);
	if (!ch || rdma_create_id(ch, &id, NULL, RDMA_PS_TCP))
		return -1;
	if (rdma_resolve_addr(id, NULL, (struct sockaddr *)&sin, 5000) ||
	    !(ev = raw_wait(ch, 10000)) ||
	    ev->event != RDMA_CM_EVENT_ADDR_RESOLVED)
		goto out;
	rdma_ack_cm_event(ev);
	ret = -2;
	if (rdma_resolve_route(id, 5000) || !(ev = raw_wait(ch, 10000)) ||
	    ev->event != RDMA_CM_EVENT_ROUTE_RESOLVED)
		goto out;
	rdma_ack_cm_event(ev);
	ret = -3;
	if (rdma_connect(id, &p) || !(ev = raw_wait(ch, 60000)))
		goto out;
	ret = -4;
	rej = ev->param.conn.private_data;
	if (ev->event == RDMA_CM_EVENT_REJECTED &&
	    ev->status == CM_REJ_CONSUMER_DEFINED && rej &&
	    ev->param.conn.private_data_len >= 5) {
		if (!rej[0] && !rej[1] && !rej[2] && !rej[3])
			ret = BY_LIBRARY; /* no data of ours: refused below */
		else if (!memcmp(rej, "SV\1\1F", 5))
			ret = BY_APP_F;
	}
	rdma_ack_cm_event(ev);
out:
	rdma_destroy_id(id);
	rdma_destroy_event_channel(ch);
	return ret;
}

/* ---- side B processes (exit codes say which step failed) ---------------- */

/* The hostile requests, then a well-formed sanverbs connect. */
static int b_requests(int go)
{
	static const struct {
		unsigned char hdr[4]; /* over the pattern's first bytes */
		uint8_t n;    /* bytes sent (the rest of 56 is padding) */
		int want;
	} hr[] = {
		{ "SV\2\4", 8, BY_LIBRARY },  /* another version */
		{ "SV\1\65", 56, BY_LIBRARY }, /* 53 > 52 the request carries */
		{ "SV\1\377", 4, BY_LIBRARY }, /* 255 claimed, none sent */
		{ "\0\0\0\0", 0, BY_APP_F },   /* no private data at all */
		{ "XV\1\4", 8, BY_APP_F },     /* not our magic */
		{ "SV\1\303", 56, BY_LIBRARY }, /* garbage with our magic */
		{ "G\1\2\3", 56, BY_APP_F },   /* garbage without it */
	};
	unsigned char pd[56], data[SANVERBS_EP_REQ_DATA_MAX];
	unsigned char reply[SANVERBS_EP_ACCEPT_DATA_MAX];
	struct sanverbs_ctx_attr attr;
	struct sanverbs_ctx *ctx;
	struct sanverbs_ep *ep;
	struct sv_side a, b;
	size_t i, room = sizeof(reply);
	uint16_t port;
	int st;

	if (read(go, &port, sizeof(port)) != sizeof(port))
		return 2;
	sv_sides(&a, &b);
	sv_enter_ns(b.ns);
	for (i = 0; i < sizeof(hr) / sizeof(hr[0]); i++) {
		sv_fill_pattern(pd, sizeof(pd), 500 + (uint32_t)i);
		memcpy(pd, hr[i].hdr, sizeof(hr[i].hdr));
		st = raw_request(a.ip, port, pd, hr[i].n);
		if (st != hr[i].want)
			return 10 + (int)i * 4 + (st < 0 ? -st : 0);
	}
	if (sanverbs_ctx_attr_init(&attr))
		return 3;
	attr.device = b.dev;
	if (sanverbs_ctx_open(&attr, &ctx))
		return 3;
	sv_fill_pattern(data, sizeof(data), 401);
	if (sanverbs_ep_connect_data(ctx, a.ip, port, NULL, data, sizeof(data),
				     reply, &room, &ep))
		return 50;
	if (room != sizeof(reply) ||
	    sv_check_pattern(reply, room, 402) != -1)
		return 51;
	st = sv_ep_swap_close_last(ep, MSG, 403, 404);
	st = st ? 59 + st : 0;
	sanverbs_ep_close(ep);
	sanverbs_ctx_close(ctx);
	return st;
}

/* The answers of the raw listener, one per request, in order. */
static const struct {
	int accept;
	unsigned char hdr[4];
	uint8_t n;
	int want; /* what sanverbs_ep_connect_data() returns */
} answers[] = {
	{ 1, "SV\2\1", 5, -EPROTONOSUPPORT },
	{ 1, "SV\1\301", 196, -EBADMSG }, /* 193 > 192 an accept carries */
	{ 1, "SV\1\377", 4, -EBADMSG },   /* 255 claimed, none sent */
	{ 0, "SV\1\221", 148, -EBADMSG }, /* 145 > 144 a rejection carries */
	{ 0, "SV\11\3", 7, -EPROTONOSUPPORT },
	{ 0, "G\1\2\3", 148, -ECONNREFUSED }, /* not ours: no data */
};
#define NANS (sizeof(answers) / sizeof(answers[0]))

/* A raw listener: reports its port on @report, answers each request as
 * the table says, then waits for @done to close. */
static int b_answers(int report, int done)
{
	struct rdma_event_channel *ch = rdma_create_event_channel();
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct rdma_cm_id *lis, *ids[NANS];
	unsigned char pd[196];
	struct sv_side a, b;
	struct pollfd pfd = { .fd = done, .events = POLLIN };
	uint16_t port;
	size_t i = 0;
	char c;

	sv_sides(&a, &b);
	sv_enter_ns(b.ns);
	inet_pton(AF_INET, b.ip, &sin.sin_addr);
	if (!ch || rdma_create_id(ch, &lis, NULL, RDMA_PS_TCP) ||
	    rdma_bind_addr(lis, (struct sockaddr *)&sin) || rdma_listen(lis, 4))
		return 70;
	port = ntohs(rdma_get_src_port(lis));
	if (write(report, &port, sizeof(port)) != sizeof(port))
		return 71;
	while (i < NANS) {
		struct rdma_cm_event *ev = raw_wait(ch, 60000);
		struct rdma_conn_param p = { .qp_num = 0x222,
					     .responder_resources = 1,
					     .initiator_depth = 1,
					     .private_data = pd };
		struct rdma_cm_id *id;

		if (!ev)
			return 72;
		id = ev->id;
		if (ev->event != RDMA_CM_EVENT_CONNECT_REQUEST) {
			rdma_ack_cm_event(ev); /* the caller's refusal of a REP */
			continue;
		}
		rdma_ack_cm_event(ev);
		sv_fill_pattern(pd, sizeof(pd), 600 + (uint32_t)i);
		memcpy(pd, answers[i].hdr, sizeof(answers[i].hdr));
		p.private_data_len = answers[i].n;
		if (answers[i].accept ? rdma_accept(id, &p) :
					rdma_reject(id, pd, answers[i].n))
			return 73 + (int)i;
		ids[i++] = id;
	}
	/* events of the accepted ones are drained until side A is done */
	while (poll(&pfd, 1, 100) == 0) {
		struct rdma_cm_event *ev = raw_wait(ch, 0);

		if (ev)
			rdma_ack_cm_event(ev);
	}
	(void)read(done, &c, 1);
	while (i--)
		rdma_destroy_id(ids[i]);
	rdma_destroy_id(lis);
	rdma_destroy_event_channel(ch);
	return 0;
}

/* ---- side A --------------------------------------------------------------- */

static void fork_b(struct sv_peer *p, int fd_in_child, int other,
		   int (*fn)(int, int), int arg2)
{
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (!p->pid) {
		close(other);
		_exit(fn(fd_in_child, arg2));
	}
	close(fd_in_child);
}

static int b_requests2(int go, int unused)
{
	(void)unused;
	return b_requests(go);
}

START_TEST(hostile_requests)
{
	unsigned char d[SANVERBS_EP_REQ_DATA_MAX + 1];
	unsigned char acc[SANVERBS_EP_ACCEPT_DATA_MAX];
	struct sanverbs_ep_req *req;
	struct sanverbs_ctx *ctx;
	struct sanverbs_ep *lis, *ep;
	struct sv_side a, b;
	struct sv_peer peer;
	uint16_t port;
	size_t n;
	int go[2], i;

	ck_assert_int_eq(pipe(go), 0);
	fork_b(&peer, go[0], go[1], b_requests2, 0);
	sv_sides(&a, &b);
	ctx = sv_side_open(&a);
	ck_assert_int_eq(sanverbs_ep_listen(ctx, a.ip, 0, 4, NULL, &lis), 0);
	port = sanverbs_ep_local_port(lis);
	ck_assert_int_eq(write(go[1], &port, sizeof(port)), sizeof(port));

	/* only the three foreign requests come through, with no data */
	for (i = 0; i < 3; i++) {
		ck_assert_int_eq(sanverbs_ep_get_req(lis, 90000, &req), 0);
		n = sizeof(d);
		memset(d, 0xa5, sizeof(d));
		ck_assert_int_eq(sanverbs_ep_req_data(req, d, &n), 0);
		ck_assert_uint_eq(n, 0);
		ck_assert_uint_eq(d[0], 0xa5);
		ck_assert_int_eq(sanverbs_ep_req_reject(req, "F", 1), 0);
	}
	/* the listener serves on: the largest data both ways, then bytes */
	ck_assert_int_eq(sanverbs_ep_get_req(lis, 90000, &req), 0);
	n = sizeof(d);
	ck_assert_int_eq(sanverbs_ep_req_data(req, d, &n), 0);
	ck_assert_uint_eq(n, SANVERBS_EP_REQ_DATA_MAX);
	ck_assert_int_eq(sv_check_pattern(d, n, 401), -1);
	sv_fill_pattern(acc, sizeof(acc), 402);
	ck_assert_int_eq(sanverbs_ep_req_accept(req, acc, sizeof(acc), &ep),
			 0);
	sv_ep_swap_checked(ep, MSG, 404, 403);
	ck_assert_int_eq(sanverbs_ep_close(ep), 0);
	ck_assert_int_eq(sv_peer_wait(&peer, 120), 0);
	ck_assert_int_eq(sanverbs_ep_close(lis), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
}
END_TEST

START_TEST(hostile_answers)
{
	unsigned char data[8], reply[SANVERBS_EP_ACCEPT_DATA_MAX + 8];
	struct sanverbs_ctx *ctx;
	struct sanverbs_ep *ep;
	struct sv_side a, b;
	struct sv_peer peer;
	uint16_t port;
	size_t i, k, room;
	int rep[2], done[2], ret;

	ck_assert_int_eq(pipe(rep), 0);
	ck_assert_int_eq(pipe(done), 0);
	peer.pid = fork();
	ck_assert_int_ge(peer.pid, 0);
	if (!peer.pid) {
		close(rep[0]);
		close(done[1]);
		_exit(b_answers(rep[1], done[0]));
	}
	close(rep[1]);
	close(done[0]);
	ck_assert_int_eq(read(rep[0], &port, sizeof(port)), sizeof(port));
	sv_sides(&a, &b);
	ctx = sv_side_open(&a);
	sv_fill_pattern(data, sizeof(data), 700);
	for (i = 0; i < NANS; i++) {
		memset(reply, 0xa5, sizeof(reply));
		room = sizeof(reply);
		ep = (void *)1;
		ret = sanverbs_ep_connect_data(ctx, b.ip, port, NULL, data,
					       sizeof(data), reply, &room,
					       &ep);
		ck_assert_msg(ret == answers[i].want,
			      "answer %zu: %d, not %d", i, ret,
			      answers[i].want);
		ck_assert_ptr_null(ep);
		/* never a byte of a malformed answer */
		ck_assert_uint_eq(room, 0);
		for (k = 0; k < sizeof(reply); k++)
			ck_assert_uint_eq(reply[k], 0xa5);
	}
	close(done[1]);
	ck_assert_int_eq(sv_peer_wait(&peer, 60), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
}
END_TEST

int main(int argc, char **argv)
{
	Suite *s = suite_create("ep-hostile");
	TCase *tc = tcase_create("two-process");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, hostile_requests);
	tcase_add_test(tc, hostile_answers);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
