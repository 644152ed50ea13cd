/* SPDX-License-Identifier: MIT */
/* UCX's uct_md_mem_reg on the IB memory domain of the device (rxe0 under
 * UCX's "ib" component), which goes through UCX's rcache with its UCM
 * memory hooks by default (UCX_IB_REG_METHODS=rcache,...). UCX keeps its
 * protection domain inside private structures, so no peer QP of ours can
 * use its keys: this system has cost measures only, no stale column. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ucs/type/status.h>
#include <uct/api/uct.h>

#include "sys.h"

struct ucx_priv {
	uct_component_h *comps;
	unsigned int ncomps;
	uct_md_h md;
	size_t rkey_size;
};

static int open_md(struct ucx_priv *p, const char *want, char *why,
		   size_t whylen)
{
	unsigned int c, m;

	for (c = 0; c < p->ncomps; c++) {
		uct_component_attr_t ca = {
			.field_mask = UCT_COMPONENT_ATTR_FIELD_NAME |
				      UCT_COMPONENT_ATTR_FIELD_MD_RESOURCE_COUNT,
		};
		uct_md_resource_desc_t *res;

		if (uct_component_query(p->comps[c], &ca) != UCS_OK ||
		    strcmp(ca.name, "ib") || !ca.md_resource_count)
			continue;
		res = calloc(ca.md_resource_count, sizeof(*res));
		if (!res)
			return -ENOMEM;
		ca.field_mask = UCT_COMPONENT_ATTR_FIELD_MD_RESOURCES;
		ca.md_resources = res;
		if (uct_component_query(p->comps[c], &ca) != UCS_OK) {
			free(res);
			continue;
		}
		for (m = 0; m < ca.md_resource_count; m++) {
			uct_md_config_t *cfg;
			ucs_status_t st;

			if (want && strcmp(res[m].md_name, want))
				continue;
			st = uct_md_config_read(p->comps[c], NULL, NULL, &cfg);
			if (st != UCS_OK)
				continue;
			st = uct_md_open(p->comps[c], res[m].md_name, cfg,
					 &p->md);
			uct_config_release(cfg);
			if (st == UCS_OK) {
				free(res);
				return 0;
			}
			snprintf(why, whylen, "uct_md_open(%s): %s",
				 res[m].md_name, ucs_status_string(st));
		}
		free(res);
	}
	if (!*why)
		snprintf(why, whylen, "UCX lists no \"ib\" memory domain %s",
			 want ? want : "");
	return -ENODEV;
}

static int ucx_open(struct cmp_sys *s, char *why, size_t whylen)
{
	struct ucx_priv *p = calloc(1, sizeof(*p));
	uct_md_attr_t attr;
	int ret;

	if (!p)
		return -ENOMEM;
	*why = 0;
	if (uct_query_components(&p->comps, &p->ncomps) != UCS_OK) {
		snprintf(why, whylen, "uct_query_components failed");
		free(p);
		return -ENODEV;
	}
	ret = open_md(p, cmp_device(), why, whylen);
	if (ret)
		goto err;
	if (uct_md_query(p->md, &attr) != UCS_OK ||
	    !(attr.cap.flags & UCT_MD_FLAG_REG)) {
		snprintf(why, whylen, "memory domain cannot register memory");
		uct_md_close(p->md);
		ret = -ENOTSUP;
		goto err;
	}
	p->rkey_size = attr.rkey_packed_size;
	s->priv = p;
	/* No verbs objects are reachable: main.c skips peer-based checks. */
	s->verbs = NULL;
	s->pd = NULL;
	return 0;
err:
	uct_release_component_list(p->comps);
	free(p);
	return ret;
}

static int ucx_reg(struct cmp_sys *s, void *addr, size_t len, int remote,
		   struct cmp_reg *r)
{
	struct ucx_priv *p = s->priv;
	unsigned int flags = UCT_MD_MEM_ACCESS_LOCAL_READ |
			     UCT_MD_MEM_ACCESS_LOCAL_WRITE;
	uint8_t packed[64] = { 0 };
	ucs_status_t st;
	uct_mem_h memh;

	if (remote)
		flags |= UCT_MD_MEM_ACCESS_REMOTE_PUT |
			 UCT_MD_MEM_ACCESS_REMOTE_GET;
	st = uct_md_mem_reg(p->md, addr, len, flags, &memh);
	if (st != UCS_OK)
		return st == UCS_ERR_NO_MEMORY ? -ENOMEM : -EIO;
	r->h = memh;
	/* The packed rkey is public; on the IB domain its low 32 bits are
	 * the verbs rkey, which is the same on a cache hit. */
	r->rkey = 0;
	if (p->rkey_size <= sizeof(packed) &&
	    uct_md_mkey_pack(p->md, memh, packed) == UCS_OK)
		memcpy(&r->rkey, packed, sizeof(r->rkey));
	r->lkey = r->rkey;
	return 0;
}

static int ucx_dereg(struct cmp_sys *s, struct cmp_reg *r)
{
	struct ucx_priv *p = s->priv;

	return uct_md_mem_dereg(p->md, r->h) == UCS_OK ? 0 : -EIO;
}

static void ucx_close(struct cmp_sys *s)
{
	struct ucx_priv *p = s->priv;

	uct_md_close(p->md);
	uct_release_component_list(p->comps);
	free(p);
	s->priv = NULL;
}

struct cmp_sys cmp_sys_ucx = {
	.name = "ucx",
	.open = ucx_open,
	.reg = ucx_reg,
	.dereg = ucx_dereg,
	.close = ucx_close,
};
