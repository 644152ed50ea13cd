/* SPDX-License-Identifier: MIT */
/* sanverbs-demo's two sides. B listens and owns the target region; A
 * connects, moves the payload through cached registrations, frees and
 * reallocates it to show the cache noticing, tries low memory when the
 * module is loaded, and fills the report. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"

/* ---- side B: owns the target region ----------------------------------- */

int demo_server(struct demo_side *b, uint16_t port, size_t len)
{
	struct {
		struct demo_hello hin, hout;
		struct demo_msg in, out;
		unsigned char desc[SANVERBS_DESC_SIZE];
	} *c;
	struct sanverbs_ep *lis, *ep;
	struct sanverbs_mr *rmr, *cmr;
	struct sanverbs_ctx *ctx;
	struct sanverbs_desc d;
	struct demo_hello peer;
	unsigned char *region;
	size_t dl = SANVERBS_DESC_SIZE;
	uint32_t got;
	int ret;

	alarm(600);
	ret = demo_enter(b);
	if (!ret)
		ret = demo_open(b, &ctx);
	if (ret)
		return demo_die("B", "open device", ret);
	ret = sanverbs_ep_listen(ctx, b->ip, port, 4, NULL, &lis);
	if (ret)
		return demo_die("B", "listen", ret);
	printf("[B %s] listening on port %u (%s)\n", b->ip, port,
	       sanverbs_ctx_device_name(ctx));
	fflush(stdout);
	ret = sanverbs_ep_accept(lis, 2 * DEMO_TMO, &ep);
	if (ret)
		return demo_die("B", "accept", ret);
	region = calloc(1, len);
	c = calloc(1, sizeof(*c));
	if (!region || !c)
		return demo_die("B", "allocate", -ENOMEM);
	ret = sanverbs_mr_reg(ctx, region, len,
			      SANVERBS_ACCESS_LOCAL_WRITE |
				      SANVERBS_ACCESS_REMOTE_WRITE |
				      SANVERBS_ACCESS_REMOTE_READ, &rmr);
	if (!ret)
		ret = sanverbs_mr_reg(ctx, c, sizeof(*c),
				      SANVERBS_ACCESS_LOCAL_WRITE, &cmr);
	if (!ret)
		ret = sanverbs_desc_from_mr(rmr, &d);
	if (!ret)
		ret = sanverbs_desc_encode(&d, c->desc, &dl);
	if (ret)
		return demo_die("B", "register region", ret);
	/* A's hello, then ours (what A's report says about this side) and
	 * the descriptor */
	ret = sanverbs_ep_post_recv(ep, REG(cmr), &c->hin, sizeof(c->hin), 1);
	if (!ret)
		ret = demo_wait(ep, SANVERBS_WC_RECV, &got);
	if (!ret)
		ret = demo_hello_parse(&c->hin, got, &peer);
	if (ret)
		return demo_die("B", ret == -EPROTO ? "side A's hello (another "
				"version of sanverbs-demo?)" : "receive hello",
				ret);
	printf("[B %s] got \"%s\" (%s, kernel %s)\n", b->ip, peer.text,
	       peer.device, peer.kernel);
	fflush(stdout); /* the child leaves through _exit() */
	demo_hello_fill(&c->hout, ctx, b->ip);
	ret = sanverbs_ep_post_send(ep, REG(cmr), &c->hout, sizeof(c->hout),
				    2, 0);
	if (!ret)
		ret = sanverbs_ep_post_send(ep, REG(cmr), c->desc, dl, 3, 0);
	if (!ret)
		ret = demo_wait(ep, SANVERBS_WC_SEND, NULL);
	if (!ret)
		ret = demo_wait(ep, SANVERBS_WC_SEND, NULL);
	if (ret)
		return demo_die("B", "send hello and descriptor", ret);
	for (;;) {
		ret = sanverbs_ep_post_recv(ep, REG(cmr), &c->in, sizeof(c->in), 1);
		if (!ret)
			ret = demo_wait(ep, SANVERBS_WC_RECV, NULL);
		if (ret)
			return demo_die("B", "receive command", ret);
		if (c->in.cmd == CMD_QUIT)
			break;
		c->out.sum = demo_fnv(region, c->in.len <= len ? c->in.len : 0);
		ret = sanverbs_ep_post_send(ep, REG(cmr), &c->out,
					    sizeof(c->out), 2, 0);
		if (!ret)
			ret = demo_wait(ep, SANVERBS_WC_SEND, NULL);
		if (ret)
			return demo_die("B", "answer", ret);
	}
	printf("[B %s] done: side A said goodbye\n", b->ip);
	fflush(stdout);
	sanverbs_ep_close(ep);
	sanverbs_mr_dereg(rmr);
	sanverbs_mr_dereg(cmr);
	sanverbs_ep_close(lis);
	sanverbs_ctx_close(ctx);
	free(region);
	free(c);
	return 0;
}

/* ---- side A: drives the transfers -------------------------------------- */

/* A's registered messages: commands and answers, the two hellos, and room
 * for a descriptor longer than this version's, so that it fails to parse
 * rather than to arrive. */
struct abuf {
	struct demo_msg m[2];
	struct demo_hello hout, hin;
	unsigned char desc[SANVERBS_DESC_SIZE + 64];
};

/* RDMA-writes @buf (registered afresh: a cache hit after the first time)
 * and has B checksum what arrived. */
static int write_round(struct sanverbs_ctx *ctx, struct sanverbs_ep *ep,
		       struct sanverbs_mr *cmr, struct abuf *c,
		       const struct sanverbs_desc *d, unsigned char *buf,
		       size_t len, struct demo_report *rep)
{
	struct sanverbs_mr *mr;
	double t0;
	int ret;

	t0 = demo_now();
	ret = sanverbs_mr_reg(ctx, buf, len, 0, &mr);
	if (ret)
		return ret;
	ret = sanverbs_ep_post_write(ep, REG(mr), buf, len, d, 0, 7, 0);
	if (!ret)
		ret = demo_wait(ep, SANVERBS_WC_WRITE, NULL);
	rep->wsec += demo_now() - t0;
	sanverbs_mr_dereg(mr);
	if (ret)
		return ret;
	c->m[0] = (struct demo_msg){ .cmd = CMD_SUM, .len = len };
	ret = demo_call(ep, cmr, &c->m[0], &c->m[1]);
	if (ret)
		return ret;
	rep->sums_total++;
	rep->sums_ok += c->m[1].sum == demo_fnv(buf, len);
	return 0;
}

/* Hellos both ways, then B's descriptor. */
static int exchange(struct sanverbs_ctx *ctx, struct sanverbs_ep *ep,
		    struct sanverbs_mr *cmr, struct abuf *c, const char *ip,
		    struct demo_report *rep, struct sanverbs_desc *d)
{
	uint32_t hlen, dlen;
	int ret;

	demo_hello_fill(&c->hout, ctx, ip);
	ret = sanverbs_ep_post_recv(ep, REG(cmr), &c->hin, sizeof(c->hin), 2);
	if (!ret)
		ret = sanverbs_ep_post_recv(ep, REG(cmr), c->desc,
					    sizeof(c->desc), 3);
	if (!ret)
		ret = sanverbs_ep_post_send(ep, REG(cmr), &c->hout,
					    sizeof(c->hout), 1, 0);
	if (!ret)
		ret = demo_wait(ep, SANVERBS_WC_RECV, &hlen);
	if (!ret)
		ret = demo_wait(ep, SANVERBS_WC_RECV, &dlen);
	if (ret)
		return demo_die("A", "exchange hello and descriptor", ret);
	if (demo_hello_parse(&c->hout, sizeof(c->hout), &rep->a) ||
	    demo_hello_parse(&c->hin, hlen, &rep->b))
		return demo_die("A", "side B's hello (another version of "
				"sanverbs-demo?)", -EPROTO);
	ret = sanverbs_desc_parse(c->desc, dlen, d);
	if (ret)
		return demo_die("A", "side B's descriptor", ret);
	printf("[A %s] got \"%s\" (%s, kernel %s) and a %u-byte descriptor "
	       "for %llu bytes\n", ip, rep->b.text, rep->b.device,
	       rep->b.kernel, dlen, (unsigned long long)d->len);
	return 0;
}

/* Frees the payload, which the monitor reports, and has the cache miss on
 * the new one once before it hits again. */
static int reallocate(struct sanverbs_ctx *ctx, struct sanverbs_ep *ep,
		      struct sanverbs_mr *cmr, struct abuf *c,
		      const struct sanverbs_desc *d, unsigned char **payload,
		      struct demo_report *rep)
{
	int i, ret = 0;

	demo_watch_name(DEMO_BUF_OLD, "the freed payload", *payload, rep->len,
			1);
	free(*payload);
	demo_watch_wait(DEMO_BUF_OLD, 2000);
	*payload = malloc(rep->len);
	if (!*payload)
		return -ENOMEM;
	demo_watch_name(DEMO_BUF_NEW, "the new payload", *payload, rep->len,
			0);
	demo_fill(*payload, rep->len, 2);
	for (i = 0; i < 2 && !ret; i++)
		ret = write_round(ctx, ep, cmr, c, d, *payload, rep->len, rep);
	return ret;
}

/* Low memory, when the module is there: 0, or 1 when what it gave is not
 * what a 32-bit DMA device needs. */
static int lowmem(struct sanverbs_ctx *ctx, struct sanverbs_ep *ep,
		  struct sanverbs_mr *cmr, struct abuf *c,
		  const struct sanverbs_desc *d, struct demo_report *rep)
{
	struct sanverbs_lowmem *lm;
	uint64_t phys = 0;
	int ret, have_phys;

	if (sanverbs_kmod_version() <= 0) {
		snprintf(rep->lowmem, sizeof(rep->lowmem), "not tried: the "
			 "sanverbs kernel module is not loaded");
		return 0;
	}
	ret = sanverbs_lowmem_alloc(1u << 20, SANVERBS_DMA_MASK_32, 0, &lm);
	if (ret) {
		snprintf(rep->lowmem, sizeof(rep->lowmem),
			 "allocation failed: %s", sanverbs_strerror(ret));
		return 1;
	}
	have_phys = !sanverbs_lowmem_phys(lm, &phys);
	demo_watch_name(DEMO_BUF_LOW, "the released low-memory buffer",
			sanverbs_lowmem_addr(lm), 1u << 20, 1);
	demo_fill(sanverbs_lowmem_addr(lm), 1u << 20, 3);
	ret = write_round(ctx, ep, cmr, c, d, sanverbs_lowmem_addr(lm),
			  1u << 20, rep);
	if (have_phys)
		snprintf(rep->lowmem, sizeof(rep->lowmem),
			 "1 MiB of physically contiguous memory at 0x%llx (%s 4 GiB, what a 32-bit DMA device needs), RDMA-written: %s",
			 (unsigned long long)phys,
			 phys < (1ull << 32) ? "below" : "NOT below",
			 ret ? sanverbs_strerror(ret) : "ok");
	else
		snprintf(rep->lowmem, sizeof(rep->lowmem),
			 "1 MiB below 4 GiB (physical address shown to root only), RDMA-written: %s",
			 ret ? sanverbs_strerror(ret) : "ok");
	sanverbs_lowmem_free(lm);
	return ret || (have_phys && phys >= (1ull << 32));
}

int demo_client(struct demo_side *a, const char *peer_ip, uint16_t port,
		int timeout_s, size_t len)
{
	struct demo_report rep = { .a_ip = a->ip, .b_ip = peer_ip, .len = len };
	struct sanverbs_mr *cmr, *bmr;
	struct sanverbs_ep *ep;
	struct sanverbs_ctx *ctx;
	struct sanverbs_desc d;
	unsigned char *payload, *back;
	struct abuf *c;
	double wsec;
	int ret, i, lowmem_bad;

	ret = demo_enter(a);
	if (!ret)
		ret = demo_open(a, &ctx);
	if (ret)
		return demo_die("A", "open device", ret);
	sanverbs_cache_set_callback(ctx, demo_watch_cb, NULL);
	ret = demo_connect(ctx, peer_ip, port, timeout_s, &ep);
	if (ret)
		return demo_die("A", "connect", ret);
	printf("[A %s] connected to %s:%u over %s\n", a->ip, peer_ip, port,
	       sanverbs_ctx_device_name(ctx));
	c = calloc(1, sizeof(*c));
	if (!c)
		return demo_die("A", "allocate", -ENOMEM);
	ret = sanverbs_mr_reg(ctx, c, sizeof(*c), SANVERBS_ACCESS_LOCAL_WRITE,
			      &cmr);
	if (ret)
		return demo_die("A", "register messages", ret);
	demo_watch_name(DEMO_BUF_MSG, "the message buffer", c, sizeof(*c), 0);
	if (exchange(ctx, ep, cmr, c, a->ip, &rep, &d))
		return 1;
	if (d.len < len) {
		fprintf(stderr, "sanverbs-demo [A]: side B offers %llu bytes, "
			"this side was asked for %zu: give both the same "
			"--size\n", (unsigned long long)d.len, len);
		return 1;
	}
	sanverbs_cache_stats(ctx, &rep.st0);

	payload = malloc(len);
	back = malloc(len);
	if (!payload || !back)
		return demo_die("A", "allocate", -ENOMEM);
	demo_watch_name(DEMO_BUF_PAYLOAD, "the payload", payload, len, 0);
	demo_watch_name(DEMO_BUF_BACK, "the read-back buffer", back, len, 0);
	demo_fill(payload, len, 1);
	for (i = 0; i < DEMO_ROUNDS && !ret; i++)
		ret = write_round(ctx, ep, cmr, c, &d, payload, len, &rep);
	if (ret)
		return demo_die("A", "RDMA write", ret);

	/* read it all back */
	ret = sanverbs_mr_reg(ctx, back, len, SANVERBS_ACCESS_LOCAL_WRITE,
			      &bmr);
	if (!ret) {
		double t0 = demo_now();

		ret = sanverbs_ep_post_read(ep, REG(bmr), back, len, &d, 0, 8,
					    0);
		if (!ret)
			ret = demo_wait(ep, SANVERBS_WC_READ, NULL);
		rep.rsec = demo_now() - t0;
		sanverbs_mr_dereg(bmr);
	}
	if (ret)
		return demo_die("A", "RDMA read", ret);
	rep.bytes_read = len;
	rep.sums_total++;
	rep.sums_ok += demo_fnv(back, len) == demo_fnv(payload, len);

	ret = reallocate(ctx, ep, cmr, c, &d, &payload, &rep);
	if (ret)
		return demo_die("A", "RDMA write after reallocation", ret);
	rep.writes = rep.sums_total - 1;
	/* the rate is the payload's: the 1 MiB low-memory write is not timed */
	wsec = rep.wsec;
	lowmem_bad = lowmem(ctx, ep, cmr, c, &d, &rep);
	rep.wsec = wsec;

	sanverbs_cache_stats(ctx, &rep.st);
	/* the callbacks run on the library's thread, after the counting */
	for (i = 0; i < 200 && demo_watch_calls() <
		    (int)(rep.st.invalidations - rep.st0.invalidations); i++)
		usleep(10000);
	demo_watch_note(&rep);
	c->m[0] = (struct demo_msg){ .cmd = CMD_QUIT };
	demo_call(ep, cmr, &c->m[0], &c->m[1]);
	sanverbs_ep_close(ep);
	sanverbs_mr_dereg(cmr);
	demo_report_print(&rep);
	sanverbs_ctx_close(ctx);
	free(payload);
	free(back);
	free(c);
	return rep.sums_ok == rep.sums_total && !lowmem_bad ? 0 : 1;
}
