/* SPDX-License-Identifier: MIT */
/* Opening an RDMA device (device and port choice, protection domain), or
 * attaching to a protection domain the application already has. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache/cache.h"
#include "ctx.h"
#include "stats_export.h"
#include "util.h"

static struct sv_handle_type ctx_type =
	SV_HANDLE_TYPE(struct sanverbs_ctx, SV_CTX_MAGIC);

/* First active port of @verbs at or after @want (0 = any); 0 if none. */
static uint8_t active_port(struct ibv_context *verbs, uint8_t want)
{
	struct ibv_device_attr dattr;
	struct ibv_port_attr pattr;
	uint8_t p;

	if (ibv_query_device(verbs, &dattr))
		return 0;
	for (p = 1; p <= dattr.phys_port_cnt; p++) {
		if (want && p != want)
			continue;
		if (!ibv_query_port(verbs, p, &pattr) &&
		    pattr.state == IBV_PORT_ACTIVE)
			return p;
	}
	return 0;
}

static int open_device(const char *name, uint8_t want_port,
		       struct ibv_context **verbs_out, uint8_t *port_out)
{
	struct ibv_device **list;
	int n, i, ret = -ENODEV;

	list = ibv_get_device_list(&n);
	/* ENOSYS means the kernel has no RDMA stack at all: no device. */
	if (!list)
		return (errno && errno != ENOSYS) ? -errno : -ENODEV;
	for (i = 0; i < n; i++) {
		struct ibv_context *verbs;
		uint8_t port;

		if (name && strcmp(ibv_get_device_name(list[i]), name))
			continue;
		verbs = ibv_open_device(list[i]);
		if (!verbs) {
			ret = errno ? -errno : -ENODEV;
			continue;
		}
		port = active_port(verbs, want_port);
		if (port) {
			*verbs_out = verbs;
			*port_out = port;
			ret = 0;
			break;
		}
		ibv_close_device(verbs);
		ret = -ENODEV;
	}
	ibv_free_device_list(list);
	return ret;
}

static int attr_valid(const struct sanverbs_ctx_attr *attr)
{
	if (attr->flags)
		return 0;
	if ((unsigned int)attr->monitor > SANVERBS_MONITOR_NONE)
		return 0;
	return 1;
}

/* A context handle with @attr (NULL: the defaults) checked and copied,
 * its device name cleared: the caller's string may not outlive the call,
 * and the device is chosen by the caller of this. 0, -EINVAL or -ENOMEM. */
static int ctx_new(const struct sanverbs_ctx_attr *attr,
		   struct sanverbs_ctx **out)
{
	struct sanverbs_ctx *ctx = sv_handle_new(&ctx_type);
	int ret = 0;

	if (!ctx)
		return -ENOMEM;
	if (attr)
		ctx->attr = *attr;
	else
		ret = sanverbs_ctx_attr_init(&ctx->attr);
	if (!ret && !attr_valid(&ctx->attr))
		ret = -EINVAL;
	if (ret) {
		sv_handle_retire(&ctx_type, ctx);
		return ret;
	}
	ctx->attr.device = NULL;
	*out = ctx;
	return 0;
}

SV_EXPORT int sanverbs_ctx_open(const struct sanverbs_ctx_attr *attr,
				struct sanverbs_ctx **out)
{
	struct sanverbs_ctx *ctx;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	ret = ctx_new(attr, &ctx);
	if (ret)
		return ret;
	ret = open_device(attr ? attr->device : getenv("SANVERBS_DEVICE"),
			  ctx->attr.port, &ctx->verbs, &ctx->port);
	if (ret)
		goto err_free;
	ctx->attr.port = ctx->port;
	ctx->pd = ibv_alloc_pd(ctx->verbs);
	if (!ctx->pd) {
		ret = errno ? -errno : -ENOMEM;
		goto err_close;
	}
	ctx->owns_pd = true;
	ret = sv_cache_create(ctx, &ctx->cache);
	if (ret)
		goto err_pd;
	sv_stats_export_add(ctx);
	*out = ctx;
	return 0;

err_pd:
	ibv_dealloc_pd(ctx->pd);
err_close:
	ibv_close_device(ctx->verbs);
err_free:
	sv_handle_retire(&ctx_type, ctx);
	return ret;
}

SV_EXPORT int sanverbs_ctx_attach(struct ibv_pd *pd,
				  const struct sanverbs_ctx_attr *attr,
				  struct sanverbs_ctx **out)
{
	struct sanverbs_ctx *ctx;
	int ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	if (!pd || !pd->context)
		return -EINVAL;
	ret = ctx_new(attr, &ctx);
	if (ret)
		return ret;
	/* The PD names the device ($SANVERBS_DEVICE does not); one named in
	 * @attr must be the PD's. */
	ret = -EINVAL;
	if (attr && attr->device &&
	    strcmp(attr->device, ibv_get_device_name(pd->context->device)))
		goto err_free;
	ctx->verbs = pd->context;
	ctx->pd = pd;
	ctx->port = active_port(ctx->verbs, ctx->attr.port);
	if (!ctx->port) {
		ret = -ENODEV;
		goto err_free;
	}
	ctx->attr.port = ctx->port;
	ret = sv_cache_create(ctx, &ctx->cache);
	if (ret)
		goto err_free;
	sv_stats_export_add(ctx);
	*out = ctx;
	return 0;

err_free:
	sv_handle_retire(&ctx_type, ctx);
	return ret;
}

static long ctx_users(const struct sanverbs_ctx *ctx)
{
	long sum = 0;
	unsigned int i;

	for (i = 0; i < SV_CTX_USER_SHARDS; i++)
		sum += __atomic_load_n(&ctx->users[i].n, __ATOMIC_RELAXED);
	return sum;
}

SV_EXPORT int sanverbs_ctx_close(struct sanverbs_ctx *ctx)
{
	uint32_t live = SV_CTX_MAGIC;
	int ret = sv_ctx_check(ctx);

	if (ret)
		return ret;
	if (ctx_users(ctx) || sv_cache_held(ctx->cache))
		return -EBUSY;
	/* Dead first: a racing second close, or a call through a handle of
	 * this context from now on, is refused. */
	if (!__atomic_compare_exchange_n(&ctx->hdr.magic, &live, 0, false,
					 __ATOMIC_ACQ_REL, __ATOMIC_RELAXED))
		return -EINVAL;
	sv_stats_export_remove(ctx);
	sv_cache_destroy(ctx->cache);
	if (ctx->owns_pd) {
		ibv_dealloc_pd(ctx->pd);
		ibv_close_device(ctx->verbs);
	}
	sv_handle_retire(&ctx_type, ctx);
	return 0;
}

SV_EXPORT struct ibv_context *sanverbs_ctx_verbs(const struct sanverbs_ctx *ctx)
{
	return sv_ctx_check(ctx) ? NULL : ctx->verbs;
}

SV_EXPORT struct ibv_pd *sanverbs_ctx_pd(const struct sanverbs_ctx *ctx)
{
	return sv_ctx_check(ctx) ? NULL : ctx->pd;
}

SV_EXPORT const char *sanverbs_ctx_device_name(const struct sanverbs_ctx *ctx)
{
	return sv_ctx_check(ctx) ? NULL : ibv_get_device_name(ctx->verbs->device);
}

SV_EXPORT uint8_t sanverbs_ctx_port(const struct sanverbs_ctx *ctx)
{
	return sv_ctx_check(ctx) ? 0 : ctx->port;
}
