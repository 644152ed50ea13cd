/* SPDX-License-Identifier: MIT */
/* sanverbs-demo's parts: the wire (messages, hello, connection helpers),
 * the two sides, and the report. */
#ifndef SANVERBS_DEMO_H
#define SANVERBS_DEMO_H

#include <stddef.h>
#include <stdint.h>

#include "sanverbs.h"

/* The region of @mr, as the posts take it (valid in the enclosing block). */
#define REG(mr)                                                               \
	(&(struct sanverbs_region){ sanverbs_mr_addr(mr),                     \
				    sanverbs_mr_length(mr),                   \
				    sanverbs_mr_lkey(mr),                     \
				    sanverbs_mr_access(mr) })

#define DEMO_ROUNDS 4
#define DEMO_TMO 60000
#define DEMO_PORT 18600
#define DEMO_MIB 8

enum { CMD_SUM = 1, CMD_QUIT = 2 };

/* A command from A and B's answer (host byte order: one build, both sides
 * of a connection; the hello checks that). */
struct demo_msg {
	uint32_t cmd;
	uint32_t pad;
	uint64_t len;
	uint64_t sum;
	char text[40];
};

/* What one side says about itself before anything else, so that A's
 * report states B's facts as B saw them rather than guessing: the first
 * message each way. Strings NUL-terminated, numbers in network order. */
#define DEMO_MAGIC "SVDEMO2"
struct demo_hello {
	char magic[8];
	char text[40];          /* "hello from <address>" */
	char boot_id[40];       /* one per running kernel: two = two machines */
	char kernel[72];        /* uname -r */
	char device[64];        /* the RDMA device this side opened */
	uint32_t monitor;       /* enum sanverbs_monitor of its cache */
	uint32_t flags;         /* SANVERBS_CACHE_F_* */
	int32_t kmod;           /* sanverbs_kmod_version(): > 0 loaded */
	uint32_t in_vm;         /* 1 in the QEMU test rig ($SANVERBS_IN_VM) */
};

struct demo_side {
	const char *ns, *ip, *dev;
	char devbuf[64];
};

double demo_now(void);
uint64_t demo_fnv(const void *p, size_t len);
void demo_fill(unsigned char *p, size_t len, unsigned int seed);
int demo_die(const char *who, const char *what, int err);
int demo_enter(const struct demo_side *s);
int demo_open(struct demo_side *s, struct sanverbs_ctx **ctx);
int demo_wait(struct sanverbs_ep *ep, uint32_t opcode, uint32_t *len);
int demo_call(struct sanverbs_ep *ep, struct sanverbs_mr *mr,
	      struct demo_msg *m, struct demo_msg *r);
int demo_connect(struct sanverbs_ctx *ctx, const char *ip, uint16_t port,
		 int timeout_s, struct sanverbs_ep **ep);
void demo_hello_fill(struct demo_hello *h, struct sanverbs_ctx *ctx,
		     const char *ip);
int demo_hello_parse(const void *buf, uint32_t len, struct demo_hello *h);

int demo_server(struct demo_side *b, uint16_t port, size_t len);
int demo_client(struct demo_side *a, const char *peer_ip, uint16_t port,
		int timeout_s, size_t len);

/* What side A measured, for the report. */
struct demo_report {
	struct demo_hello a, b;     /* both sides' hellos, host order */
	const char *a_ip, *b_ip;
	struct sanverbs_cache_stats st0, st;
	size_t len;
	uint64_t bytes_read;
	double wsec, rsec;
	int sums_ok, sums_total, writes, callbacks;
	char lowmem[200];
	int cb_unfreed;         /* callbacks for memory A had not freed */
	char cbnote[240];       /* which buffer each callback was for */
};

void demo_report_print(const struct demo_report *r);

/* Side A's buffers, for the callback's report. Where malloc gives a freed
 * one's addresses to a later one, the earlier listed wins, among those
 * named before the call (the payload is named again as freed). */
enum {
	DEMO_BUF_OLD, DEMO_BUF_LOW, DEMO_BUF_NEW, DEMO_BUF_PAYLOAD,
	DEMO_BUF_BACK, DEMO_BUF_MSG, DEMO_BUF_N
};
void demo_watch_cb(void *arg, void *addr, size_t len);
int demo_watch_calls(void);
void demo_watch_name(int buf, const char *name, const void *addr,
		     size_t len, int freed);
int demo_watch_wait(int buf, int ms);
void demo_watch_note(struct demo_report *rep);

#endif
