/* SPDX-License-Identifier: MIT */
/* Description: connection data between two processes over rxe. The
 * connecting side's request data reaches the listener's request object
 * byte for byte and the listener's accept data comes back, both at their
 * largest (52 and 192 bytes); one byte more is refused before anything is
 * sent (-EMSGSIZE) and the request stays the listener's; a reply larger
 * than the connector's room fails the connect (the size needed is
 * reported) and the listener's accept sees the refusal; a rejection
 * carries its 144 bytes back with -ECONNREFUSED; a deferred request makes
 * the listener's descriptor readable and comes back, data intact, from the
 * next sanverbs_ep_get_req(), and once accepted moves bytes: an RDMA write
 * into the listener's region and sends both ways, every byte checked. */
#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sv-peer.h"
#include "sv-test.h"

#define RLEN (64u * 1024)
#define MSG 4096

/* The seeds of each step's data, known to both sides. */
enum {
	SEED_REQ = 11,    /* request data, step 1 */
	SEED_ACC = 12,    /* accept data, step 1 */
	SEED_WRITE = 13,  /* the RDMA write, step 1 */
	SEED_REJ_REQ = 14,
	SEED_REJ = 15,    /* rejection data, step 3 */
	SEED_DEF_REQ = 16,
	SEED_DEF_ACC = 17,
	SEED_B_SEND = 18, /* what side B sends after the deferred accept */
	SEED_A_SEND = 19,
};

/* ---- side B: one process that answers every step ----------------------- */

/* Waits (bounded) for one completion of @opcode; 0 when it came clean. */
static int b_wait(struct sanverbs_ep *ep, uint32_t opcode, uint32_t *len)
{
	struct sanverbs_wc wc;

	for (;;) {
		if (sanverbs_ep_wait(ep, &wc, 1, 60000) != 1 || wc.status)
			return -1;
		if (wc.opcode == opcode) {
			if (len)
				*len = wc.byte_len;
			return 0;
		}
	}
}

/* Waits (bounded) for one send and one receive completion, in either
 * order; 0 when both came clean. */
static int b_wait_both(struct sanverbs_ep *ep, uint32_t *len)
{
	struct sanverbs_wc wc;
	int sent = 0, got = 0;

	while (!sent || !got) {
		if (sanverbs_ep_wait(ep, &wc, 1, 60000) != 1 || wc.status)
			return -1;
		if (wc.opcode == SANVERBS_WC_SEND) {
			sent = 1;
		} else if (wc.opcode == SANVERBS_WC_RECV) {
			*len = wc.byte_len;
			got = 1;
		}
	}
	return 0;
}

/* Checks @req's data against @seed (@n bytes), and its peer address. */
static int b_check_req(struct sanverbs_ep_req *req, size_t n, uint32_t seed,
		       const char *a_ip)
{
	unsigned char buf[SANVERBS_EP_REQ_DATA_MAX];
	struct sockaddr_storage ss;
	char ip[INET6_ADDRSTRLEN] = "";
	size_t len = 0, al = sizeof(ss);

	/* no room: the size needed, nothing copied */
	if (n && (sanverbs_ep_req_data(req, NULL, &len) != -ENOSPC || len != n))
		return -1;
	len = sizeof(buf);
	if (sanverbs_ep_req_data(req, buf, &len) || len != n ||
	    (n && sv_check_pattern(buf, n, seed) != -1))
		return -1;
	if (sanverbs_ep_req_peer_addr(req, (struct sockaddr *)&ss, &al) ||
	    ss.ss_family != AF_INET ||
	    !inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, ip,
		       sizeof(ip)) ||
	    strcmp(ip, a_ip))
		return -1;
	return 0;
}

/* Step 1 on the accepted endpoint: exposes a region, lets side A write
 * into it, checks it and says so. */
static int b_rdma(struct sanverbs_ep *ep)
{
	unsigned char *region = calloc(1, RLEN);
	struct {
		unsigned char desc[SANVERBS_DESC_SIZE];
		char go, verdict;
	} *c = calloc(1, sizeof(*c));
	struct sanverbs_mr *rmr = NULL, *cmr = NULL;
	struct sanverbs_desc d;
	size_t dl = SANVERBS_DESC_SIZE;
	int st = 0;

	if (!region || !c ||
	    sanverbs_mr_reg(sanverbs_ep_ctx(ep), region, RLEN,
			    SANVERBS_ACCESS_REMOTE_WRITE, &rmr) ||
	    sanverbs_mr_reg(sanverbs_ep_ctx(ep), c, sizeof(*c),
			    SANVERBS_ACCESS_LOCAL_WRITE, &cmr) ||
	    sanverbs_desc_from_mr(rmr, &d) ||
	    sanverbs_desc_encode(&d, c->desc, &dl))
		return 20;
	if (sanverbs_ep_post_recv(ep, SV_REG(cmr), &c->go, 1, 1) ||
	    sanverbs_ep_post_send(ep, SV_REG(cmr), c->desc, dl, 2, 0) ||
	    b_wait(ep, SANVERBS_WC_RECV, NULL))
		st = 21;
	/* the write landed before side A's message that says so */
	c->verdict = (char)(sv_check_pattern(region, RLEN, SEED_WRITE) == -1);
	if (!st && (sanverbs_ep_post_send(ep, SV_REG(cmr), &c->verdict, 1, 3,
					  0) ||
		    b_wait(ep, SANVERBS_WC_SEND, NULL)))
		st = 22;
	sanverbs_mr_dereg(cmr);
	sanverbs_mr_dereg(rmr);
	free(c);
	free(region);
	return st;
}

/* After the deferred accept: a message each way, checked on both sides,
 * then side B's verdict; it leaves only once its last send is acked, so
 * nothing it sent is flushed by its close. */
static int b_sends(struct sanverbs_ep *ep)
{
	unsigned char *buf = malloc(2 * MSG + 1);
	struct sanverbs_mr *mr;
	uint32_t got = 0;
	int st = 0;

	if (!buf || sanverbs_mr_reg(sanverbs_ep_ctx(ep), buf, 2 * MSG + 1,
				    SANVERBS_ACCESS_LOCAL_WRITE, &mr))
		return 40;
	sv_fill_pattern(buf, MSG, SEED_B_SEND);
	if (sanverbs_ep_post_recv(ep, SV_REG(mr), buf + MSG, MSG, 1) ||
	    sanverbs_ep_post_send(ep, SV_REG(mr), buf, MSG, 2, 0) ||
	    b_wait_both(ep, &got))
		st = 41;
	buf[2 * MSG] = (unsigned char)(!st && got == MSG &&
				       sv_check_pattern(buf + MSG, MSG,
							SEED_A_SEND) == -1);
	if (!st && !buf[2 * MSG])
		st = 42;
	if (sanverbs_ep_post_send(ep, SV_REG(mr), buf + 2 * MSG, 1, 3, 0) ||
	    b_wait(ep, SANVERBS_WC_SEND, NULL))
		st = st ? st : 44;
	sanverbs_mr_dereg(mr);
	free(buf);
	return st;
}

static int peer_main(int report_fd, void *arg)
{
	unsigned char big[SANVERBS_EP_ACCEPT_DATA_MAX + 1];
	struct sanverbs_ep *lis, *ep;
	struct sanverbs_ep_req *req, *again;
	struct sanverbs_ctx_attr attr;
	struct sanverbs_ctx *ctx;
	struct sv_side a, b;
	struct pollfd pfd;
	uint16_t port;
	int st;

	/* no ck_assert on side B: exit codes say which step failed */
	sv_sides(&a, &b);
	sv_enter_ns(b.ns);
	if (sanverbs_ctx_attr_init(&attr))
		return 3;
	attr.device = b.dev;
	if (sanverbs_ctx_open(&attr, &ctx) ||
	    sanverbs_ep_listen(ctx, b.ip, 0, 4, NULL, &lis))
		return 3;
	port = sanverbs_ep_local_port(lis);
	if (write(report_fd, &port, sizeof(port)) != sizeof(port))
		return 3;
	close(report_fd);

	/* 1: the largest data both ways, then an RDMA write */
	if (sanverbs_ep_get_req(lis, 60000, &req) ||
	    b_check_req(req, SANVERBS_EP_REQ_DATA_MAX, SEED_REQ, a.ip))
		return 10;
	sv_fill_pattern(big, sizeof(big), SEED_ACC);
	if (sanverbs_ep_req_accept(req, big, SANVERBS_EP_ACCEPT_DATA_MAX, &ep))
		return 11;
	st = b_rdma(ep);
	sanverbs_ep_close(ep);
	if (st)
		return st;

	/* 2: one byte too many is refused here and the request stays ours;
	 * side A's room is short, so it turns the accept down */
	if (sanverbs_ep_get_req(lis, 60000, &req) ||
	    b_check_req(req, 0, 0, a.ip))
		return 30;
	if (sanverbs_ep_req_accept(req, big, sizeof(big), &ep) != -EMSGSIZE ||
	    ep || sanverbs_ep_req_reject(req, big,
					  SANVERBS_EP_REJECT_DATA_MAX + 1) !=
			  -EMSGSIZE)
		return 31;
	/* refused by the connector's library, not its stack */
	if (sanverbs_ep_req_accept(req, big, SANVERBS_EP_ACCEPT_DATA_MAX,
				   &ep) != -ECONNREFUSED || ep)
		return 32;

	/* 3: a rejection with the largest data */
	if (sanverbs_ep_get_req(lis, 60000, &req) ||
	    b_check_req(req, SANVERBS_EP_REQ_DATA_MAX, SEED_REJ_REQ, a.ip))
		return 33;
	sv_fill_pattern(big, SANVERBS_EP_REJECT_DATA_MAX, SEED_REJ);
	if (sanverbs_ep_req_reject(req, big, SANVERBS_EP_REJECT_DATA_MAX))
		return 34;

	/* 4: deferred, readable, the same request again, then accepted */
	if (sanverbs_ep_get_req(lis, 60000, &req) ||
	    b_check_req(req, 10, SEED_DEF_REQ, a.ip))
		return 35;
	pfd = (struct pollfd){ .fd = sanverbs_ep_fd(lis), .events = POLLIN };
	if (poll(&pfd, 1, 0) != 0)
		return 36; /* nothing waits now */
	if (sanverbs_ep_req_defer(req) || poll(&pfd, 1, 0) != 1)
		return 37;
	if (sanverbs_ep_get_req(lis, 0, &again) || again != req ||
	    b_check_req(again, 10, SEED_DEF_REQ, a.ip))
		return 38;
	if (poll(&pfd, 1, 0) != 0)
		return 39; /* taken: not readable any more */
	sv_fill_pattern(big, 1, SEED_DEF_ACC);
	if (sanverbs_ep_req_accept(again, big, 1, &ep))
		return 43;
	st = b_sends(ep);
	sanverbs_ep_close(ep);
	sanverbs_ep_close(lis);
	sanverbs_ctx_close(ctx);
	return st;
}

/* ---- side A -------------------------------------------------------------- */

/* Connects with @n bytes of @seed's data and @room for the reply. */
static int a_connect(struct sanverbs_ctx *ctx, const struct sv_peer *p,
		     size_t n, uint32_t seed, unsigned char *reply,
		     size_t *room, struct sanverbs_ep **ep)
{
	unsigned char data[SANVERBS_EP_REQ_DATA_MAX + 1];

	sv_fill_pattern(data, sizeof(data), seed);
	return sanverbs_ep_connect_data(ctx, p->ip, p->port, NULL, data, n,
					reply, room, ep);
}

/* Step 1 on the connected endpoint: RDMA-writes the peer's region. */
static void a_rdma(struct sanverbs_ep *ep)
{
	unsigned char *src = malloc(RLEN);
	struct {
		unsigned char desc[SANVERBS_DESC_SIZE];
		char go, verdict;
	} c = { .go = 1 };
	struct sanverbs_mr *smr, *cmr;
	struct sanverbs_desc d;
	struct sanverbs_wc wc;
	size_t n;

	ck_assert_ptr_nonnull(src);
	sv_fill_pattern(src, RLEN, SEED_WRITE);
	ck_assert_int_eq(sanverbs_mr_reg(sanverbs_ep_ctx(ep), src, RLEN,
					 SANVERBS_ACCESS_LOCAL_WRITE, &smr), 0);
	ck_assert_int_eq(sanverbs_mr_reg(sanverbs_ep_ctx(ep), &c, sizeof(c),
					 SANVERBS_ACCESS_LOCAL_WRITE, &cmr), 0);
	n = sv_recv_sync(ep, cmr, c.desc, sizeof(c.desc));
	ck_assert_int_eq(sanverbs_desc_parse(c.desc, n, &d), 0);
	ck_assert_uint_eq(d.len, RLEN);
	ck_assert_int_eq(sanverbs_ep_post_write(ep, SV_REG(smr), src, RLEN, &d,
						0, 5, 0), 0);
	wc = sv_wait1(ep, 60000);
	ck_assert_int_eq(wc.status, 0);
	ck_assert_uint_eq(wc.opcode, SANVERBS_WC_WRITE);
	ck_assert_int_eq(sanverbs_ep_post_recv(ep, SV_REG(cmr), &c.verdict, 1,
					       6), 0);
	ck_assert_uint_eq(sv_send_recv_sync(ep, cmr, &c.go, 1), 1);
	ck_assert_int_eq(c.verdict, 1);
	ck_assert_int_eq(sanverbs_mr_dereg(cmr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(smr), 0);
	free(src);
}

START_TEST(data_both_ways_reject_defer)
{
	unsigned char reply[SANVERBS_EP_ACCEPT_DATA_MAX + 8];
	unsigned char *buf = malloc(2 * MSG + 1);
	struct sanverbs_ctx *ctx;
	struct sanverbs_ep *ep;
	struct sanverbs_mr *mr;
	struct sv_side a, b;
	struct sv_peer peer;
	size_t room;
	uint32_t got;

	sv_sides(&a, &b);
	sv_proc_start(&peer, peer_main, NULL, 0);
	ctx = sv_side_open(&a);

	/* 1: 52 bytes out, 192 back, then an RDMA write over the endpoint */
	room = sizeof(reply);
	ck_assert_int_eq(a_connect(ctx, &peer, SANVERBS_EP_REQ_DATA_MAX,
				   SEED_REQ, reply, &room, &ep), 0);
	ck_assert_uint_eq(room, SANVERBS_EP_ACCEPT_DATA_MAX);
	ck_assert_int_eq(sv_check_pattern(reply, room, SEED_ACC), -1);
	a_rdma(ep);
	ck_assert_int_eq(sanverbs_ep_close(ep), 0);

	/* refused before the wire: side B never sees this one */
	room = sizeof(reply);
	ck_assert_int_eq(a_connect(ctx, &peer, SANVERBS_EP_REQ_DATA_MAX + 1,
				   SEED_REQ, reply, &room, &ep), -EMSGSIZE);
	ck_assert_ptr_null(ep);

	/* 2: the reply does not fit: no connection, the size needed */
	room = 10;
	ck_assert_int_eq(a_connect(ctx, &peer, 0, 0, reply, &room, &ep),
			 -EMSGSIZE);
	ck_assert_uint_eq(room, SANVERBS_EP_ACCEPT_DATA_MAX);
	ck_assert_ptr_null(ep);

	/* 3: rejected, with the listener's 144 bytes */
	room = sizeof(reply);
	memset(reply, 0, sizeof(reply));
	ck_assert_int_eq(a_connect(ctx, &peer, SANVERBS_EP_REQ_DATA_MAX,
				   SEED_REJ_REQ, reply, &room, &ep),
			 -ECONNREFUSED);
	ck_assert_uint_eq(room, SANVERBS_EP_REJECT_DATA_MAX);
	ck_assert_int_eq(sv_check_pattern(reply, room, SEED_REJ), -1);

	/* 4: deferred on side B, then accepted with one byte */
	room = sizeof(reply);
	ck_assert_int_eq(a_connect(ctx, &peer, 10, SEED_DEF_REQ, reply, &room,
				   &ep), 0);
	ck_assert_uint_eq(room, 1);
	ck_assert_int_eq(sv_check_pattern(reply, 1, SEED_DEF_ACC), -1);
	ck_assert_ptr_nonnull(buf);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, buf, 2 * MSG + 1,
					 SANVERBS_ACCESS_LOCAL_WRITE, &mr), 0);
	ck_assert_int_eq(sanverbs_ep_post_recv(ep, SV_REG(mr), buf + MSG, MSG,
					       1), 0);
	sv_fill_pattern(buf, MSG, SEED_A_SEND);
	got = (uint32_t)sv_send_recv_sync(ep, mr, buf, MSG);
	ck_assert_uint_eq(got, MSG);
	ck_assert_int_eq(sv_check_pattern(buf + MSG, MSG, SEED_B_SEND), -1);
	/* side B's word on what it received */
	buf[2 * MSG] = 0;
	ck_assert_uint_eq(sv_recv_sync(ep, mr, buf + 2 * MSG, 1), 1);
	ck_assert_int_eq(buf[2 * MSG], 1);

	ck_assert_int_eq(sv_peer_wait(&peer, 120), 0);
	ck_assert_int_eq(sanverbs_ep_close(ep), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
	free(buf);
}
END_TEST

START_TEST(bad_arguments)
{
	unsigned char d[SANVERBS_EP_ACCEPT_DATA_MAX + 1] = { 0 };
	struct sanverbs_ep_req *req = (void *)1;
	struct sanverbs_ep *ep = (void *)1, *lis;
	struct sanverbs_ctx *ctx;
	struct sv_side a, b;
	size_t room = 4;

	ck_assert_int_eq(sanverbs_ep_connect_data(NULL, "1.2.3.4", 1, NULL,
						  NULL, 0, NULL, NULL, &ep),
			 -EINVAL);
	ck_assert_ptr_null(ep);
	ck_assert_int_eq(sanverbs_ep_get_req(NULL, 0, &req), -EINVAL);
	ck_assert_ptr_null(req);
	ck_assert_int_eq(sanverbs_ep_req_data(NULL, d, &room), -EINVAL);
	ck_assert_int_eq(sanverbs_ep_req_accept(NULL, NULL, 0, &ep), -EINVAL);
	ck_assert_int_eq(sanverbs_ep_req_reject(NULL, NULL, 0), -EINVAL);
	ck_assert_int_eq(sanverbs_ep_req_defer(NULL), -EINVAL);

	sv_sides(&a, &b);
	ctx = sv_side_open(&a);
	/* data without a buffer, a room without a buffer, too much data:
	 * all refused before anything is resolved or sent */
	ck_assert_int_eq(sanverbs_ep_connect_data(ctx, a.ip, 9, NULL, NULL, 1,
						  NULL, NULL, &ep),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_ep_connect_data(ctx, a.ip, 9, NULL, NULL, 0,
						  NULL, &room, &ep),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_ep_connect_data(ctx, a.ip, 9, NULL, d,
						  SANVERBS_EP_REQ_DATA_MAX + 1,
						  NULL, NULL, &ep),
			 -EMSGSIZE);
	/* a connected or listening endpoint is not a request source unless
	 * it listens, and nobody connects: bounded */
	ck_assert_int_eq(sanverbs_ep_listen(ctx, a.ip, 0, 4, NULL, &lis), 0);
	ck_assert_int_eq(sanverbs_ep_get_req(lis, -2, &req), -EINVAL);
	ck_assert_int_eq(sanverbs_ep_get_req(lis, 300, &req), -ETIMEDOUT);
	ck_assert_ptr_null(req);
	ck_assert_int_eq(sanverbs_ep_close(lis), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
}
END_TEST

int main(int argc, char **argv)
{
	static const struct sv_role roles[] = { { .run = peer_main } };
	Suite *s = suite_create("ep-cdata");
	TCase *tc = tcase_create("two-process");

	tcase_set_timeout(tc, 500);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, data_both_ways_reject_defer);
	suite_add_tcase(s, tc);
	sv_peer_main(argc, argv, roles, sizeof(roles) / sizeof(roles[0]));
	return sv_test_run_rxe(s);
}
