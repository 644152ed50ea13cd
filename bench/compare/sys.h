/* SPDX-License-Identifier: MIT */
/* One registration "system" under comparison (raw verbs, sanverbs, libfabric
 * fi_mr_reg). Every measure and scenario drives a system only through this
 * table, so all of them run the very same code on the very same buffers. */
#ifndef CMP_SYS_H
#define CMP_SYS_H

#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

struct cmp_reg {
	void *h;
	uint32_t lkey;
	uint32_t rkey;
};

struct cmp_sys {
	const char *name;
	/* Whether a cache sits behind reg(): observed by main.c. */
	int cached;
	/* 0, or a negative errno with a one-line reason in @why. */
	int (*open)(struct cmp_sys *s, char *why, size_t whylen);
	/* @remote: also grant the peer RDMA read/write (an rkey); without
	 * it the registration is for local use (lkey) only. */
	int (*reg)(struct cmp_sys *s, void *addr, size_t len, int remote,
		   struct cmp_reg *r);
	int (*dereg)(struct cmp_sys *s, struct cmp_reg *r);
	void (*close)(struct cmp_sys *s);
	/* Device and PD the registrations live in: the peer QPs are created
	 * there so an rkey from reg() is valid for them. */
	struct ibv_context *verbs;
	struct ibv_pd *pd;
	uint8_t port;
	void *priv;
};

extern struct cmp_sys cmp_sys_raw;
#ifdef CMP_HAVE_SANVERBS
extern struct cmp_sys cmp_sys_sanverbs;
#endif
extern struct cmp_sys cmp_sys_libfabric;
#ifdef CMP_HAVE_UCX
extern struct cmp_sys cmp_sys_ucx;
#endif

/* Device the run uses: $SANVERBS_RXE_DEV, $SANVERBS_DEVICE, or NULL (the
 * first one). */
const char *cmp_device(void);

#endif
