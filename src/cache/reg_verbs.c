/* SPDX-License-Identifier: MIT */
/* The verbs registration backend: ibv_reg_mr/ibv_dereg_mr on the context's
 * PD, remote access through the type-1 window pool of mw.c. */
#include <errno.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "backend.h"
#include "ctx.h"
#include "lib/err.h"
#include "mw.h"
#include "util.h"
#include "vma_kind.h"

struct sv_reg_verbs {
	struct sv_reg_backend b;
	struct sanverbs_ctx *ctx;
	struct ibv_pd *pd;
	struct sv_mw_pool *mw; /* NULL: windows off */
};

static struct sv_reg_verbs *to_verbs(struct sv_reg_backend *b)
{
	return container_of(b, struct sv_reg_verbs, b);
}

static int verbs_reg(struct sv_reg_backend *b, uintptr_t addr, size_t len,
		     int flags, struct ibv_mr **out)
{
	*out = ibv_reg_mr(to_verbs(b)->pd, (void *)addr, len, flags);
	return *out ? 0 : sv_errno_or(ENOMEM);
}

static int verbs_dereg(struct sv_reg_backend *b, struct ibv_mr *mr)
{
	(void)b;
	return sv_neg_errno(ibv_dereg_mr(mr));
}

static bool verbs_remote_ready(struct sv_reg_backend *b)
{
	return sv_mw_pool_ready(to_verbs(b)->mw);
}

static bool verbs_remote_on(const struct sv_reg_backend *b)
{
	return sv_mw_pool_on(container_of(b, const struct sv_reg_verbs, b)->mw);
}

static int verbs_bind(struct sv_reg_backend *b, struct ibv_mr *mr,
		      uintptr_t addr, size_t len, int ibv_remote,
		      struct sv_win **out, uint32_t *rkey)
{
	int ret = sv_mw_bind(to_verbs(b)->mw, mr, addr, len, ibv_remote, out);

	if (!ret)
		*rkey = (*out)->mw->rkey;
	return ret;
}

static int verbs_unbind(struct sv_reg_backend *b, struct sv_win *w,
			struct ibv_mr *mr)
{
	return sv_mw_unbind(to_verbs(b)->mw, w, mr);
}

static void verbs_unbind_all(struct sv_reg_backend *b)
{
	struct sv_reg_verbs *v = to_verbs(b);

	/* Windows still bound hold their MRs: gone before the MRs go. */
	sv_mw_pool_destroy(v->mw);
	v->mw = NULL;
}

static void verbs_destroy(struct sv_reg_backend *b)
{
	struct sv_reg_verbs *v = to_verbs(b);

	sv_mw_pool_destroy(v->mw);
	free(v);
}

static int verbs_rights(struct sv_reg_backend *b, uintptr_t addr, size_t len,
			unsigned int *prot)
{
	unsigned int info;
	int ret = sv_range_info(addr, len, &info);

	if (ret)
		return ret;
	*prot = (info & SV_RANGE_READ ? PROT_READ : 0) |
		(info & SV_RANGE_WRITE ? PROT_WRITE : 0);
	return 0;
}

static const struct sv_reg_backend_ops verbs_ops = {
	.name = "verbs",
	.reg = verbs_reg,
	.dereg = verbs_dereg,
	.rights = verbs_rights,
	.remote_ready = verbs_remote_ready,
	.remote_on = verbs_remote_on,
	.bind = verbs_bind,
	.unbind = verbs_unbind,
	.unbind_all = verbs_unbind_all,
	.destroy = verbs_destroy,
};

int sv_reg_verbs_create(struct sanverbs_ctx *ctx, struct sv_reg_backend **out)
{
	struct sv_reg_verbs *v = calloc(1, sizeof(*v));

	if (!v)
		return -ENOMEM;
	v->b.ops = &verbs_ops;
	v->ctx = ctx;
	v->pd = ctx->pd;
	*out = &v->b;
	return 0;
}

void sv_reg_verbs_enable_windows(struct sv_reg_backend *b)
{
	struct sv_reg_verbs *v = to_verbs(b);

	if (!v->mw)
		sv_mw_pool_create(v->ctx, &v->mw);
}
