/* SPDX-License-Identifier: MIT */
/* The baseline: ibv_reg_mr/ibv_dereg_mr on every call, no cache at all. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sys.h"

#define CMP_REMOTE (IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ)

const char *cmp_device(void)
{
	const char *d = getenv("SANVERBS_RXE_DEV");

	if (!d || !*d)
		d = getenv("SANVERBS_DEVICE");
	return d && *d ? d : NULL;
}

static uint8_t first_active_port(struct ibv_context *v)
{
	struct ibv_device_attr da;
	struct ibv_port_attr pa;
	uint8_t p;

	if (ibv_query_device(v, &da))
		return 0;
	for (p = 1; p <= da.phys_port_cnt; p++)
		if (!ibv_query_port(v, p, &pa) && pa.state == IBV_PORT_ACTIVE)
			return p;
	return 0;
}

static int raw_open(struct cmp_sys *s, char *why, size_t whylen)
{
	const char *want = cmp_device();
	struct ibv_device **list;
	int n, i;

	list = ibv_get_device_list(&n);
	if (!list) {
		snprintf(why, whylen, "no RDMA stack (ibv_get_device_list: %s)",
			 strerror(errno));
		return -ENODEV;
	}
	for (i = 0; i < n && !s->verbs; i++) {
		if (want && strcmp(ibv_get_device_name(list[i]), want))
			continue;
		s->verbs = ibv_open_device(list[i]);
	}
	ibv_free_device_list(list);
	if (!s->verbs) {
		snprintf(why, whylen, "no RDMA device %s", want ? want : "");
		return -ENODEV;
	}
	s->port = first_active_port(s->verbs);
	s->pd = ibv_alloc_pd(s->verbs);
	if (!s->port || !s->pd) {
		snprintf(why, whylen, "no active port or no PD on %s",
			 ibv_get_device_name(s->verbs->device));
		if (s->pd)
			ibv_dealloc_pd(s->pd);
		ibv_close_device(s->verbs);
		s->verbs = NULL;
		return -ENODEV;
	}
	return 0;
}

static int raw_reg(struct cmp_sys *s, void *addr, size_t len, int remote,
		   struct cmp_reg *r)
{
	struct ibv_mr *mr = ibv_reg_mr(s->pd, addr, len,
				       IBV_ACCESS_LOCAL_WRITE |
				       (remote ? CMP_REMOTE : 0));

	if (!mr)
		return errno ? -errno : -ENOMEM;
	r->h = mr;
	r->lkey = mr->lkey;
	r->rkey = mr->rkey;
	return 0;
}

static int raw_dereg(struct cmp_sys *s, struct cmp_reg *r)
{
	int ret = ibv_dereg_mr(r->h);

	return ret > 0 ? -ret : ret;
}

static void raw_close(struct cmp_sys *s)
{
	ibv_dealloc_pd(s->pd);
	ibv_close_device(s->verbs);
	s->pd = NULL;
	s->verbs = NULL;
}

struct cmp_sys cmp_sys_raw = {
	.name = "raw",
	.open = raw_open,
	.reg = raw_reg,
	.dereg = raw_dereg,
	.close = raw_close,
};
