/* SPDX-License-Identifier: MIT */
/* sanverbs_mr_reg/dereg with the context's defaults and SANVERBS_* env. */
#include <errno.h>
#include <stdio.h>

#include "sanverbs.h"
#include "sys.h"

#define CMP_SV_REMOTE (SANVERBS_ACCESS_REMOTE_WRITE | \
		       SANVERBS_ACCESS_REMOTE_READ)

static int sv_open(struct cmp_sys *s, char *why, size_t whylen)
{
	struct sanverbs_ctx_attr attr;
	struct sanverbs_ctx *ctx;
	int ret;

	ret = sanverbs_ctx_attr_init(&attr);
	if (ret) {
		snprintf(why, whylen, "bad SANVERBS_* environment");
		return ret;
	}
	if (!attr.device)
		attr.device = cmp_device();
	ret = sanverbs_ctx_open(&attr, &ctx);
	if (ret) {
		snprintf(why, whylen, "sanverbs_ctx_open: %s",
			 sanverbs_strerror(ret));
		return ret;
	}
	s->priv = ctx;
	s->verbs = sanverbs_ctx_verbs(ctx);
	s->pd = sanverbs_ctx_pd(ctx);
	s->port = sanverbs_ctx_port(ctx);
	return 0;
}

static int sv_reg(struct cmp_sys *s, void *addr, size_t len, int remote,
		  struct cmp_reg *r)
{
	struct sanverbs_mr *mr;
	int ret = sanverbs_mr_reg(s->priv, addr, len,
				  SANVERBS_ACCESS_LOCAL_WRITE |
				  (remote ? CMP_SV_REMOTE : 0), &mr);

	if (ret)
		return ret;
	r->h = mr;
	r->lkey = sanverbs_mr_lkey(mr);
	r->rkey = sanverbs_mr_rkey(mr);
	return 0;
}

static int sv_dereg(struct cmp_sys *s, struct cmp_reg *r)
{
	return sanverbs_mr_dereg(r->h);
}

static void sv_close(struct cmp_sys *s)
{
	sanverbs_ctx_close(s->priv);
	s->priv = NULL;
}

struct cmp_sys cmp_sys_sanverbs = {
	.name = "sanverbs",
	.open = sv_open,
	.reg = sv_reg,
	.dereg = sv_dereg,
	.close = sv_close,
};
