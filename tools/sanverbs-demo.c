/* SPDX-License-Identifier: MIT */
/* sanverbs-demo: open an RDMA device, register a buffer through sanverbs,
 * let a peer QP RDMA-write into it, check every byte and say what happened. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loopqp.h"
#include "sanverbs.h"

#define DEMO_LEN (4u << 20)

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "sanverbs-demo: %s: %s\n", what, sanverbs_strerror(err));
	return 1;
}

int main(void)
{
	struct sanverbs_mr *src_mr, *dst_mr;
	struct sanverbs_ctx *ctx;
	struct sv_qp_pair pair;
	unsigned char *src, *dst;
	size_t i, bad = 0;
	double t0, t1;
	int ret;

	ret = sanverbs_ctx_open(NULL, &ctx);
	if (ret)
		return fail("open device", ret);
	printf("device %s port %u opened\n", sanverbs_ctx_device_name(ctx),
	       sanverbs_ctx_port(ctx));

	src = malloc(DEMO_LEN);
	dst = calloc(1, DEMO_LEN);
	if (!src || !dst)
		return fail("allocate buffers", -ENOMEM);
	for (i = 0; i < DEMO_LEN; i++)
		src[i] = (unsigned char)(i * 131 + 7);

	ret = sanverbs_mr_reg(ctx, src, DEMO_LEN, SANVERBS_ACCESS_LOCAL_WRITE,
			      &src_mr);
	if (ret)
		return fail("register source", ret);
	ret = sanverbs_mr_reg(ctx, dst, DEMO_LEN, SANVERBS_ACCESS_REMOTE_WRITE,
			      &dst_mr);
	if (ret)
		return fail("register target", ret);
	printf("registered target %p, %u bytes: lkey 0x%x rkey 0x%x\n",
	       (void *)dst, DEMO_LEN, sanverbs_mr_lkey(dst_mr),
	       sanverbs_mr_rkey(dst_mr));

	ret = sv_qp_pair_create(ctx, &pair);
	if (ret)
		return fail("connect loopback QPs", ret);
	t0 = now();
	ret = sv_rdma_write(&pair, src, sanverbs_mr_lkey(src_mr), DEMO_LEN,
			    (uintptr_t)dst, sanverbs_mr_rkey(dst_mr));
	t1 = now();
	if (ret) {
		fprintf(stderr, "sanverbs-demo: RDMA write failed: %s\n",
			ret < 0 ? sanverbs_strerror(ret) :
				  ibv_wc_status_str((enum ibv_wc_status)ret));
		return 1;
	}
	for (i = 0; i < DEMO_LEN; i++)
		bad += dst[i] != src[i];
	printf("RDMA write of %u bytes from QP %u to QP %u (rkey 0x%x) on %s: "
	       "%.1f ms, %.1f MB/s, %zu bytes differ\n",
	       DEMO_LEN, pair.a->qp_num, pair.b->qp_num,
	       sanverbs_mr_rkey(dst_mr), sanverbs_ctx_device_name(ctx),
	       (t1 - t0) * 1e3, DEMO_LEN / (t1 - t0) / 1e6, bad);

	sv_qp_pair_destroy(&pair);
	sanverbs_mr_dereg(dst_mr);
	sanverbs_mr_dereg(src_mr);
	sanverbs_ctx_close(ctx);
	free(src);
	free(dst);
	return bad ? 1 : 0;
}
