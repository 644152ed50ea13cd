/* SPDX-License-Identifier: MIT */
/* test-ep's two sides: the peer process's roles (an echo, and a target that
 * exposes a region through its descriptor and answers commands about it)
 * and the test process's client of that target. */
#ifndef SV_EP_TARGET_H
#define SV_EP_TARGET_H

#include <stdint.h>

#include "sv-peer.h"
#include "sv-test.h"

#define BIG (16u << 20)

enum { CMD_QUIT, CMD_VERIFY, CMD_FILL, CMD_GO, CMD_ZERO };

struct msg {
	uint32_t cmd;
	uint32_t seed;
	uint64_t off;
	uint64_t len;
	int32_t status;
	uint32_t pad;
};

struct target_arg {
	unsigned int access;   /* what the exposed region grants */
	int vanish_after_go;   /* exit abruptly after CMD_GO */
};

#define ECHO_MAX (1u << 20)

struct client {
	struct sanverbs_ctx *ctx;
	struct sanverbs_ep *ep;
	struct sanverbs_mr *cmr;
	struct {
		unsigned char desc[64];
		struct msg cmd, reply;
	} c;
	struct sanverbs_desc d;
	struct sv_peer peer;
};

/* the peer process's side (run in the child; return its exit status) */
int role_echo(struct sanverbs_ep *ep, int index, void *arg);
int role_target(struct sanverbs_ep *ep, int index, void *arg);

/* the test process's side */
void client_connect(struct client *cl, int nconn, sv_peer_fn fn,
		    struct target_arg *ta);
void client_get_desc(struct client *cl);
struct sanverbs_wc wait_for(struct sanverbs_ep *ep, uint32_t opcode);
int32_t client_cmd(struct client *cl, uint32_t cmd, uint32_t seed,
		   uint64_t off, uint64_t len);
void client_finish(struct client *cl);

#endif
