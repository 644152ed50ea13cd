/* SPDX-License-Identifier: MIT */
/* libfabric's fi_mr_reg on the verbs provider (domain rxe0). Whether its MR
 * cache is on, and which monitor it uses, is libfabric's own environment
 * (FI_MR_CACHE_MONITOR, FI_MR_CACHE_MAX_COUNT, ...), read once per process:
 * the driver runs one process per variant. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rdma/fabric.h>
#include <rdma/fi_domain.h>
#include <rdma/fi_errno.h>

#include "sys.h"

/* The verbs provider's MR descriptor begins with the fid_mr it hands out,
 * followed by the ibv_mr (struct vrb_mem_desc in prov/verbs/src/fi_verbs.h,
 * 1.17). We need that ibv_mr only to find libfabric's PD, so the peer QP can
 * RDMA-write through the rkey libfabric returned; lf_open() checks the
 * layout against fi_mr_key() and the registered range before trusting it. */
struct lf_vrb_mem_desc {
	struct fid_mr mr_fid;
	struct ibv_mr *mr;
};

struct lf_priv {
	struct fi_info *info;
	struct fid_fabric *fabric;
	struct fid_domain *domain;
	struct fid_mr *probe_mr;
	char probe[4096] __attribute__((aligned(4096)));
};

static struct ibv_mr *lf_ibv_mr(struct fid_mr *mr, const void *addr,
				size_t len)
{
	struct ibv_mr *imr = ((struct lf_vrb_mem_desc *)mr)->mr;

	if (!imr || imr->rkey != (uint32_t)fi_mr_key(mr) ||
	    (char *)imr->addr > (const char *)addr ||
	    (char *)imr->addr + imr->length < (const char *)addr + len)
		return NULL;
	return imr;
}

static int lf_reg_raw(struct lf_priv *p, void *addr, size_t len, int remote,
		      struct fid_mr **out)
{
	return fi_mr_reg(p->domain, addr, len,
			 FI_SEND | FI_RECV | FI_READ | FI_WRITE |
				 (remote ? FI_REMOTE_READ | FI_REMOTE_WRITE :
					   0),
			 0, 0, 0, out, NULL);
}

static int lf_open(struct cmp_sys *s, char *why, size_t whylen)
{
	struct fi_info *hints = fi_allocinfo();
	struct lf_priv *p = calloc(1, sizeof(*p));
	const char *dev = cmp_device();
	struct ibv_mr *imr;
	int ret;

	if (!hints || !p) {
		ret = -ENOMEM;
		snprintf(why, whylen, "out of memory");
		goto err;
	}
	hints->ep_attr->type = FI_EP_MSG;
	hints->caps = FI_MSG | FI_RMA;
	hints->domain_attr->mr_mode = FI_MR_LOCAL | FI_MR_VIRT_ADDR |
				      FI_MR_ALLOCATED | FI_MR_PROV_KEY;
	hints->fabric_attr->prov_name = strdup("verbs");
	if (dev)
		hints->domain_attr->name = strdup(dev);
	ret = fi_getinfo(FI_VERSION(1, 10), NULL, NULL, 0, hints, &p->info);
	if (ret) {
		snprintf(why, whylen,
			 "fi_getinfo(verbs, FI_EP_MSG, domain %s): %s",
			 dev ? dev : "any", fi_strerror(-ret));
		goto err;
	}
	ret = fi_fabric(p->info->fabric_attr, &p->fabric, NULL);
	if (!ret)
		ret = fi_domain(p->fabric, p->info, &p->domain, NULL);
	if (ret) {
		snprintf(why, whylen, "fi_fabric/fi_domain: %s",
			 fi_strerror(-ret));
		goto err;
	}
	memset(p->probe, 0, sizeof(p->probe));
	ret = lf_reg_raw(p, p->probe, sizeof(p->probe), 1, &p->probe_mr);
	if (ret) {
		snprintf(why, whylen, "fi_mr_reg: %s", fi_strerror(-ret));
		goto err;
	}
	imr = lf_ibv_mr(p->probe_mr, p->probe, sizeof(p->probe));
	if (!imr) {
		ret = -ENOTSUP;
		snprintf(why, whylen,
			 "libfabric %u.%u: verbs MR descriptor layout is not "
			 "the 1.17 one; cannot reach its PD for the RDMA peer",
			 FI_MAJOR(fi_version()), FI_MINOR(fi_version()));
		goto err;
	}
	s->verbs = imr->context;
	s->pd = imr->pd;
	s->port = 1;
	s->priv = p;
	fi_freeinfo(hints);
	return 0;
err:
	if (p && p->probe_mr)
		fi_close(&p->probe_mr->fid);
	if (p && p->domain)
		fi_close(&p->domain->fid);
	if (p && p->fabric)
		fi_close(&p->fabric->fid);
	if (p && p->info)
		fi_freeinfo(p->info);
	free(p);
	fi_freeinfo(hints);
	return ret < 0 ? ret : -ret;
}

static int lf_reg(struct cmp_sys *s, void *addr, size_t len, int remote,
		  struct cmp_reg *r)
{
	struct lf_priv *p = s->priv;
	struct fid_mr *mr;
	struct ibv_mr *imr;
	int ret = lf_reg_raw(p, addr, len, remote, &mr);

	if (ret)
		return ret;
	imr = ((struct lf_vrb_mem_desc *)mr)->mr;
	r->h = mr;
	r->lkey = imr->lkey;
	r->rkey = (uint32_t)fi_mr_key(mr);
	return 0;
}

static int lf_dereg(struct cmp_sys *s, struct cmp_reg *r)
{
	return fi_close(&((struct fid_mr *)r->h)->fid);
}

static void lf_close(struct cmp_sys *s)
{
	struct lf_priv *p = s->priv;

	fi_close(&p->probe_mr->fid);
	fi_close(&p->domain->fid);
	fi_close(&p->fabric->fid);
	fi_freeinfo(p->info);
	free(p);
	s->priv = NULL;
}

struct cmp_sys cmp_sys_libfabric = {
	.name = "libfabric",
	.open = lf_open,
	.reg = lf_reg,
	.dereg = lf_dereg,
	.close = lf_close,
};
