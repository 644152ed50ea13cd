/* SPDX-License-Identifier: MIT */
/* sanverbs-ep-bench: RDMA write bandwidth and send latency through sanverbs
 * endpoints, measured the way perftest's ib_write_bw / ib_send_lat measure
 * them (same message size, iteration count, queue depth and signalling:
 * one signaled write every CQMOD, busy polling; sends of up to the inline
 * limit go inline and one send in LAT_SIGNAL is signaled, as perftest's
 * are), so bench/ep-vs-perftest.sh can print ratios from one run.
 *
 *   sanverbs-ep-bench server IP DEV            (prints the port, serves once)
 *   sanverbs-ep-bench client IP PORT DEV bw SIZE ITERS DEPTH CQMOD
 *   sanverbs-ep-bench client IP PORT DEV lat SIZE ITERS
 * Prints one line: "bw_MiBps <avg>" (MiB = 2^20 bytes, as perftest) or
 * "lat_usec <typical> <avg>". */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sanverbs.h"

#define MAXDEPTH 512
#define MAXSZ (1u << 20)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int die(const char *what, int err)
{
	fprintf(stderr, "sanverbs-ep-bench: %s: %s\n", what,
		sanverbs_strerror(err));
	return 1;
}

static int open_ctx(const char *dev, struct sanverbs_ctx **ctx)
{
	struct sanverbs_ctx_attr attr;
	int ret = sanverbs_ctx_attr_init(&attr);

	attr.device = dev;
	return ret ? ret : sanverbs_ctx_open(&attr, ctx);
}

/* Busy-polls one completion, as perftest does. */
static int spin1(struct sanverbs_ep *ep, struct sanverbs_wc *wc)
{
	double t0 = now();
	unsigned int i;

	for (i = 1;; i++) {
		int n = sanverbs_ep_poll(ep, wc, 1);

		if (n < 0)
			return n;
		if (n)
			return wc->status;
		/* the clock only now and then: it is not free either */
		if (!(i & 1023) && now() - t0 > 300)
			return -ETIMEDOUT;
	}
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Latency rounds signal one send in LAT_SIGNAL, as ib_send_lat signals one
 * in its CQ moderation: a round waits for the echo, not for its own send's
 * acknowledgement (which rxe may send late). */
#define LAT_SIGNAL 64

static unsigned int lat_flags(unsigned int n)
{
	return (n + 1) % LAT_SIGNAL ? SANVERBS_POST_UNSIGNALED : 0;
}

static const struct sanverbs_ep_attr bench_attr = {
	.max_send_wr = MAXDEPTH, .max_recv_wr = MAXDEPTH,
};

static int reg_ep(struct sanverbs_ep *ep, void *buf, size_t len,
		  unsigned int access, struct sanverbs_mr **mr,
		  struct sanverbs_region *r)
{
	int ret = sanverbs_mr_reg(sanverbs_ep_ctx(ep), buf, len, access, mr);

	return ret ? ret : sanverbs_mr_region(*mr, r);
}

static int server(const char *ip, const char *dev)
{
	struct sanverbs_ep *lis, *ep;
	struct sanverbs_ctx *ctx;
	struct sanverbs_region r;
	struct sanverbs_mr *mr;
	struct sanverbs_desc d;
	struct sanverbs_wc wc;
	unsigned char *buf = calloc(1, MAXSZ + 4096);
	size_t dl = SANVERBS_DESC_SIZE;
	int ret, echoing = 0;
	unsigned int echoes = 0;

	ret = open_ctx(dev, &ctx);
	if (!ret)
		ret = sanverbs_ep_listen(ctx, ip, 0, 1, &bench_attr, &lis);
	if (ret)
		return die("listen", ret);
	printf("%u\n", sanverbs_ep_local_port(lis));
	fflush(stdout);
	ret = sanverbs_ep_accept(lis, 120000, &ep);
	if (!ret)
		ret = reg_ep(ep, buf, MAXSZ + 4096,
			     SANVERBS_ACCESS_REMOTE_WRITE, &mr, &r);
	if (ret)
		return die("accept", ret);
	sanverbs_desc_from_mr(mr, &d);
	sanverbs_desc_encode(&d, buf + MAXSZ, &dl);
	/* echo everything (latency) until a 1-byte message says stop */
	ret = sanverbs_ep_post_recv(ep, &r, buf, MAXSZ, 1);
	if (!ret)
		ret = sanverbs_ep_post_send(ep, &r, buf + MAXSZ, dl, 2, 0);
	if (!ret)
		ret = spin1(ep, &wc);
	while (!ret) {
		/* Sleep until the first message, as perftest's passive side
		 * does during a bandwidth run: a spinning target would take a
		 * CPU from rxe's own packet processing. Echo by spinning. */
		if (!echoing) {
			int n = sanverbs_ep_wait(ep, &wc, 1, 300000);

			ret = n < 0 ? n : wc.status;
			echoing = 1;
		} else {
			ret = spin1(ep, &wc);
		}
		if (ret || wc.opcode != SANVERBS_WC_RECV)
			continue;
		if (wc.byte_len == 1)
			break;
		ret = sanverbs_ep_post_recv(ep, &r, buf, MAXSZ, 1);
		if (!ret)
			ret = sanverbs_ep_post_send(ep, &r, buf, wc.byte_len, 2,
						    lat_flags(echoes++));
	}
	sanverbs_ep_close(ep);
	sanverbs_mr_dereg(mr);
	sanverbs_ep_close(lis);
	sanverbs_ctx_close(ctx);
	return ret ? die("serve", ret) : 0;
}

static int client(const char *ip, int port, const char *dev, const char *mode,
		  size_t size, int iters, int depth, int cqmod)
{
	unsigned char *buf = calloc(1, MAXSZ + 4096);
	struct sanverbs_ctx *ctx;
	struct sanverbs_region r;
	struct sanverbs_ep *ep;
	struct sanverbs_mr *mr;
	struct sanverbs_desc d;
	struct sanverbs_wc wc;
	int ret, i;

	if (!buf || size == 0 || size > MAXSZ || iters <= 0 || depth <= 0 ||
	    depth > MAXDEPTH || cqmod <= 0 || cqmod > depth)
		return die("arguments", -EINVAL);
	ret = open_ctx(dev, &ctx);
	if (!ret)
		ret = sanverbs_ep_connect(ctx, ip, (uint16_t)port, &bench_attr,
					  &ep);
	if (!ret)
		ret = reg_ep(ep, buf, MAXSZ + 4096,
			     SANVERBS_ACCESS_LOCAL_WRITE, &mr, &r);
	if (!ret)
		ret = sanverbs_ep_post_recv(ep, &r, buf + MAXSZ, 4096, 9);
	if (!ret)
		ret = spin1(ep, &wc);
	if (!ret)
		ret = sanverbs_desc_parse(buf + MAXSZ, wc.byte_len, &d);
	if (ret)
		return die("connect", ret);

	if (!strcmp(mode, "bw")) {
		int posted = 0, done = 0;
		double t0 = now(), t1;

		/* perftest's loop: keep up to DEPTH writes in flight, signal
		 * every CQMOD-th (and the last); one completion retires the
		 * CQMOD writes before it */
		while (done < iters && !ret) {
			while (posted < iters && posted - done < depth && !ret) {
				int sig = (posted + 1) % cqmod == 0 ||
					  posted + 1 == iters;

				ret = sanverbs_ep_post_write(
					ep, &r, buf, size, &d, 0,
					(uint64_t)posted,
					sig ? 0 : SANVERBS_POST_UNSIGNALED);
				posted++;
			}
			if (!ret)
				ret = spin1(ep, &wc);
			if (!ret)
				done = (int)wc.wr_id + 1;
		}
		t1 = now();
		if (ret)
			return die("write", ret);
		printf("bw_MiBps %.2f\n",
		       (double)size * iters / (t1 - t0) / (1024.0 * 1024.0));
	} else {
		double *t = calloc((size_t)iters, sizeof(*t)), sum = 0;

		for (i = 0; i < iters && !ret; i++) {
			double t0 = now();

			ret = sanverbs_ep_post_recv(ep, &r, buf + MAXSZ, 4096, 1);
			if (!ret)
				ret = sanverbs_ep_post_send(ep, &r, buf, size, 2,
							    lat_flags(i));
			/* the echo ends the round; a send completion (one in
			 * LAT_SIGNAL) is reaped on the way, as perftest does:
			 * no round waits for its own send's ACK */
			do {
				if (!ret)
					ret = spin1(ep, &wc);
			} while (!ret && wc.opcode != SANVERBS_WC_RECV);
			t[i] = (now() - t0) / 2 * 1e6; /* one way, as perftest */
			sum += t[i];
		}
		if (ret)
			return die("ping-pong", ret);
		qsort(t, (size_t)iters, sizeof(*t), cmp_d);
		printf("lat_usec %.2f %.2f\n", t[iters / 2], sum / iters);
		free(t);
	}
	/* stop the server */
	ret = sanverbs_ep_post_send(ep, &r, buf, 1, 3, 0);
	if (!ret)
		spin1(ep, &wc);
	sanverbs_ep_close(ep);
	sanverbs_mr_dereg(mr);
	sanverbs_ctx_close(ctx);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 4 && !strcmp(argv[1], "server"))
		return server(argv[2], argv[3]);
	if ((argc == 8 || argc == 10) && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]), argv[4], argv[5],
			      strtoul(argv[6], NULL, 0), atoi(argv[7]),
			      argc == 10 ? atoi(argv[8]) : 1,
			      argc == 10 ? atoi(argv[9]) : 1);
	fprintf(stderr, "usage: %s server IP DEV | client IP PORT DEV bw SIZE ITERS DEPTH CQMOD | client IP PORT DEV lat SIZE ITERS\n",
		argv[0]);
	return 2;
}
