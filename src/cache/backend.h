/* SPDX-License-Identifier: MIT */
/* Registration backends: what the cache asks of the device, behind one ops
 * table, so the cache's logic runs the same over verbs (reg_verbs.c) and
 * over a host-only fake in the unit tests. The registration object stays a
 * struct ibv_mr (addr, length, lkey, rkey): a fake fills one in without a
 * device.
 *
 * Calling rules (priv.h): no op is called under the cache lock, except
 * remote_on() (a flag read). reg() and dereg() may block. */
#ifndef SV_CACHE_BACKEND_H
#define SV_CACHE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct ibv_mr;
struct sv_reg_backend;
struct sv_win;

struct sv_reg_backend_ops {
	const char *name;
	/* Registers [addr, addr + len) with IBV_ACCESS_* @flags: 0 and *out,
	 * or a negative errno; -ENOMEM or -EAGAIN mean pinning was refused
	 * (RLIMIT_MEMLOCK) and the cache evicts and retries. */
	int (*reg)(struct sv_reg_backend *b, uintptr_t addr, size_t len,
		   int flags, struct ibv_mr **out);
	/* The PROT_READ / PROT_WRITE rights the process has on all of
	 * [addr, addr + len) now, in *prot: 0, -EFAULT (part unmapped), or
	 * -EAGAIN (unknown). NULL: a backend without real memory (all
	 * rights). */
	int (*rights)(struct sv_reg_backend *b, uintptr_t addr, size_t len,
		      unsigned int *prot);
	/* Deregisters @mr; 0 or a negative errno. */
	int (*dereg)(struct sv_reg_backend *b, struct ibv_mr *mr);
	/* Remote access through windows over a local MR. remote_ready():
	 * true while bind() can be used (may build its resources on the
	 * first call); remote_on(): whether windows are on, building
	 * nothing. Both NULL: remote registrations are MRs of their own. */
	bool (*remote_ready)(struct sv_reg_backend *b);
	bool (*remote_on)(const struct sv_reg_backend *b);
	/* Grants @ibv_remote (IBV_ACCESS_REMOTE_*) on exactly
	 * [addr, addr + len) of @mr: 0 with *out and *rkey, or a negative
	 * errno. */
	int (*bind)(struct sv_reg_backend *b, struct ibv_mr *mr, uintptr_t addr,
		    size_t len, int ibv_remote, struct sv_win **out,
		    uint32_t *rkey);
	/* Revokes @w's key and waits until it is refused; 0, or a negative
	 * errno with @w still bound (the caller keeps @mr registered). */
	int (*unbind)(struct sv_reg_backend *b, struct sv_win *w,
		      struct ibv_mr *mr);
	/* Revokes every key still bound (handles never deregistered), before
	 * the cache deregisters the MRs under them. NULL: nothing to do. */
	void (*unbind_all)(struct sv_reg_backend *b);
	void (*destroy)(struct sv_reg_backend *b);
};

struct sv_reg_backend {
	const struct sv_reg_backend_ops *ops;
};

struct sanverbs_ctx;

/* The verbs backend over @ctx's PD; windows are decided by
 * sv_reg_verbs_enable_windows(). 0 or -ENOMEM. */
int sv_reg_verbs_create(struct sanverbs_ctx *ctx, struct sv_reg_backend **out);
/* Remote registrations of this backend use memory windows if the device
 * and SANVERBS_CACHE_MW allow (cache/mw.h). */
void sv_reg_verbs_enable_windows(struct sv_reg_backend *b);

#endif
