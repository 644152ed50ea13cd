/* SPDX-License-Identifier: MIT */
/* test-ep's peer roles and the client of its target (ep-target.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ep-target.h"

/* ---- peer roles (run in the child; return its exit status) -------------- */

/* One region per peer process, registered anew on each connection, so a
 * later connection can check what an earlier one did (or did not) do. */
static unsigned char *region;

static int target_serve(struct sanverbs_ep *ep, const struct target_arg *ta)
{
	struct sanverbs_mr *rmr, *cmr;

	if (!region)
		region = calloc(1, BIG);
	struct sanverbs_desc d;
	struct {
		unsigned char desc[SANVERBS_DESC_SIZE];
		struct msg in, out;
	} *c = calloc(1, sizeof(*c));
	size_t dl = SANVERBS_DESC_SIZE;
	int sends_out = 0;

	if (!region || !c)
		return 10;
	if (sanverbs_mr_reg(sanverbs_ep_ctx(ep), region, BIG, ta->access, &rmr) ||
	    sanverbs_mr_reg(sanverbs_ep_ctx(ep), c, sizeof(*c), SANVERBS_ACCESS_LOCAL_WRITE,
			       &cmr))
		return 11;
	if (sanverbs_desc_from_mr(rmr, &d) ||
	    sanverbs_desc_encode(&d, c->desc, &dl))
		return 12;
	for (;;) {
		struct sanverbs_wc wc;
		int got_recv = 0;

		if (sanverbs_ep_post_recv(ep, SV_REG(cmr), &c->in, sizeof(c->in), 1))
			return 13;
		/* first round sends the descriptor; later ones the reply */
		if (sanverbs_ep_post_send(ep, SV_REG(cmr), c->desc, dl, 2, 0))
			return 14;
		sends_out++;
		while (!got_recv) {
			if (sanverbs_ep_wait(ep, &wc, 1, 60000) != 1 ||
			    wc.status)
				return 15;
			if (wc.opcode == SANVERBS_WC_SEND)
				sends_out--;
			else
				got_recv = 1;
		}
		memset(&c->out, 0, sizeof(c->out));
		switch (c->in.cmd) {
		case CMD_QUIT:
			/* the last reply must leave before we close */
			while (sends_out--)
				if (sanverbs_ep_wait(ep, &wc, 1, 60000) != 1)
					return 16;
			free(c);
			return 0;
		case CMD_VERIFY:
			if (c->in.off > BIG || c->in.len > BIG - c->in.off)
				c->out.status = -ERANGE;
			else
				c->out.status = (int32_t)sv_check_pattern(
					region + c->in.off, c->in.len,
					c->in.seed);
			break;
		case CMD_ZERO: {
			uint64_t i;

			c->out.status = -1;
			for (i = 0; i < BIG; i++)
				if (region[i]) {
					c->out.status = (int32_t)i;
					break;
				}
			break;
		}
		case CMD_FILL:
			sv_fill_pattern(region + c->in.off, c->in.len,
					c->in.seed);
			c->out.status = -1;
			break;
		case CMD_GO:
			if (ta->vanish_after_go) {
				usleep(200000);
				_exit(0);
			}
			break;
		}
		/* the reply travels in the descriptor slot's place */
		memcpy(c->desc, &c->out, sizeof(c->out));
		dl = sizeof(c->out);
	}
}

/* Echoes every message back until the quit word arrives. */
int role_echo(struct sanverbs_ep *ep, int index, void *arg)
{
	unsigned char *buf = malloc(ECHO_MAX);
	struct sanverbs_mr *mr;

	if (!buf || sanverbs_mr_reg(sanverbs_ep_ctx(ep), buf, ECHO_MAX,
				       SANVERBS_ACCESS_LOCAL_WRITE, &mr))
		return 20;
	for (;;) {
		struct sanverbs_wc wc;
		uint32_t len;

		if (sanverbs_ep_post_recv(ep, SV_REG(mr), buf, ECHO_MAX, 1) ||
		    sanverbs_ep_wait(ep, &wc, 1, 60000) != 1 || wc.status ||
		    wc.opcode != SANVERBS_WC_RECV)
			return 21;
		len = wc.byte_len;
		if (sanverbs_ep_post_send(ep, SV_REG(mr), buf, len, 2, 0) ||
		    sanverbs_ep_wait(ep, &wc, 1, 60000) != 1 || wc.status)
			return 22;
		if (len == 4 && *(uint32_t *)buf == 0xdeadbeefu)
			break;
	}
	free(buf);
	return 0;
}

int role_target(struct sanverbs_ep *ep, int index, void *arg)
{
	return target_serve(ep, arg);
}

/* ---- the test process side -------------------------------------------- */

void client_connect(struct client *cl, int nconn, sv_peer_fn fn,
			   struct target_arg *ta)
{
	struct sv_side a, b;
	int ret;

	memset(cl, 0, sizeof(*cl));
	sv_peer_start(&cl->peer, nconn, 0, fn, ta, ta ? sizeof(*ta) : 0);
	sv_sides(&a, &b);
	cl->ctx = sv_side_open(&a);
	ret = sanverbs_ep_connect(cl->ctx, cl->peer.ip, cl->peer.port, NULL,
				  &cl->ep);
	if (ret)
		ck_abort_msg("connect %s:%u: %s", cl->peer.ip, cl->peer.port,
			     sanverbs_strerror(ret));
}

/* Receives the target's descriptor and parses it as untrusted input. */
void client_get_desc(struct client *cl)
{
	size_t n;

	/* registrations outlive connections: the last one's goes first */
	if (cl->cmr)
		ck_assert_int_eq(sanverbs_mr_dereg(cl->cmr), 0);
	ck_assert_int_eq(sanverbs_mr_reg(sanverbs_ep_ctx(cl->ep), &cl->c, sizeof(cl->c),
					    SANVERBS_ACCESS_LOCAL_WRITE,
					    &cl->cmr),
			 0);
	n = sv_recv_sync(cl->ep, cl->cmr, cl->c.desc, sizeof(cl->c.desc));
	ck_assert_uint_eq(n, SANVERBS_DESC_SIZE);
	ck_assert_int_eq(sanverbs_desc_parse(cl->c.desc, n, &cl->d), 0);
	ck_assert_uint_eq(cl->d.len, BIG);
}

/* Waits until a completion of @opcode arrives (others must be successful). */
struct sanverbs_wc wait_for(struct sanverbs_ep *ep, uint32_t opcode)
{
	for (;;) {
		struct sanverbs_wc wc = sv_wait1(ep, 60000);

		if (wc.status || wc.opcode == opcode)
			return wc;
	}
}

int32_t client_cmd(struct client *cl, uint32_t cmd, uint32_t seed,
			  uint64_t off, uint64_t len)
{
	struct sanverbs_wc wc;
	int sent = 0, got = 0; /* got: the reply's length */

	cl->c.cmd = (struct msg){ .cmd = cmd, .seed = seed, .off = off,
				  .len = len };
	ck_assert_int_eq(sanverbs_ep_post_recv(cl->ep, SV_REG(cl->cmr), &cl->c.reply,
					       sizeof(cl->c.reply), 9),
			 0);
	ck_assert_int_eq(sanverbs_ep_post_send(cl->ep, SV_REG(cl->cmr), &cl->c.cmd,
					       sizeof(cl->c.cmd), 8, 0),
			 0);
	/* the reply may overtake our send's completion */
	for (;;) {
		wc = sv_wait1(cl->ep, 60000);
		ck_assert_int_eq(wc.status, 0);
		if (wc.opcode == SANVERBS_WC_SEND)
			sent = 1;
		else if (wc.opcode == SANVERBS_WC_RECV)
			got = (int)wc.byte_len;
		if (sent && (got || cmd == CMD_QUIT || cmd == CMD_GO))
			break;
	}
	if (cmd == CMD_QUIT || cmd == CMD_GO)
		return 0;
	ck_assert_int_eq(got, sizeof(struct msg));
	return cl->c.reply.status;
}

void client_finish(struct client *cl)
{
	client_cmd(cl, CMD_QUIT, 0, 0, 0);
	ck_assert_int_eq(sanverbs_ep_close(cl->ep), 0);
	ck_assert_int_eq(sv_peer_wait(&cl->peer, 60), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(cl->cmr), 0);
	cl->cmr = NULL;
	ck_assert_int_eq(sanverbs_ctx_close(cl->ctx), 0);
}
