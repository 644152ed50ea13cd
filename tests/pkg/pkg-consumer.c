/* SPDX-License-Identifier: MIT */
/* Description: a user's program against the INSTALLED packages, built only
 * with `pkg-config --cflags --libs sanverbs-provider` (which pulls sanverbs
 * in): on the rxe device it RDMA-writes a buffer registered through the
 * registration cache into a second context's registration and checks the
 * bytes, with the invalidation monitor forced to the kernel module that
 * DKMS built, so a missing /dev/sanverbs fails instead of falling back to
 * userfaultfd. Then it maps fresh pages over the source and writes again:
 * the cache must have dropped the old pages (a miss, an invalidation) and
 * the new bytes must arrive. Run by tests/pkg/guest-check.sh.
 *
 * usage: pkg-consumer DEVICE IP            (e.g. rxe0 198.18.231.1)
 * Prints one "ok"/"FAIL" line per check and exits 1 if any failed. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <sanverbs.h>
#include <sanverbs/ws2san.h>

#define LEN (64 * 1024)
#define TMO_MS 60000

static int failures;

static void check(int ok, const char *what, int err)
{
	if (ok)
		printf("ok   %s\n", what);
	else
		printf("FAIL %s%s%s\n", what, err ? ": " : "",
		       err ? sanverbs_strerror(err) : "");
	failures += !ok;
}

static int open_ctx(const char *dev, struct sanverbs_ctx **ctx)
{
	struct sanverbs_ctx_attr attr;
	int ret = sanverbs_ctx_attr_init(&attr);

	if (ret)
		return ret;
	attr.device = dev;
	attr.monitor = SANVERBS_MONITOR_KMOD;
	return sanverbs_ctx_open(&attr, ctx);
}

struct conn {
	struct sanverbs_ctx *ctx;
	const char *ip;
	uint16_t port;
	struct sanverbs_ep *ep;
	int ret;
};

/* The connecting side runs beside the accept: connect returns only once
 * the listener has accepted. */
static void *connector(void *arg)
{
	struct conn *c = arg;

	c->ret = sanverbs_ep_connect(c->ctx, c->ip, c->port, NULL, &c->ep);
	return NULL;
}

/* Registers @src afresh (as an application does per I/O), RDMA-writes it
 * into @d and waits for the completion. */
static int write_once(struct sanverbs_ctx *ctx, struct sanverbs_ep *ep,
		      void *src, const struct sanverbs_desc *d)
{
	struct sanverbs_region reg;
	struct sanverbs_wc wc;
	struct sanverbs_mr *mr;
	int ret = sanverbs_mr_reg(ctx, src, LEN, 0, &mr);

	if (ret)
		return ret;
	ret = sanverbs_mr_region(mr, &reg);
	if (!ret)
		ret = sanverbs_ep_post_write(ep, &reg, src, LEN, d, 0, 1, 0);
	if (!ret) {
		ret = sanverbs_ep_wait(ep, &wc, 1, TMO_MS);
		if (ret == 1)
			ret = wc.status ? wc.status :
			      wc.opcode == SANVERBS_WC_WRITE ? 0 : -EPROTO;
	}
	sanverbs_mr_dereg(mr);
	return ret;
}

static struct sanverbs_cache_stats stats(struct sanverbs_ctx *ctx)
{
	struct sanverbs_cache_stats st = { 0 };

	sanverbs_cache_stats(ctx, &st);
	return st;
}

int main(int argc, char **argv)
{
	struct sanverbs_ctx *ca = NULL, *cb = NULL;
	struct sanverbs_ep *lis = NULL, *eb = NULL;
	struct sanverbs_cache_stats s0, s1;
	struct sanverbs_mr *tmr = NULL;
	struct sanverbs_desc d;
	struct conn c = { 0 };
	unsigned char *src, *dst;
	pthread_t th;
	int ret, v;

	if (argc != 3) {
		fprintf(stderr, "usage: %s DEVICE IP\n", argv[0]);
		return 2;
	}
	/* the provider library is linked and answers */
	check(sanverbs_wsa_error(-ENOMEM) == WSAENOBUFS,
	      "libsanverbs-provider: sanverbs_wsa_error(-ENOMEM) is WSAENOBUFS", 0);
	v = sanverbs_kmod_version();
	printf("     /dev/sanverbs ABI version %d\n", v);
	check(v > 0, "the kernel module answers on /dev/sanverbs", v < 0 ? v : 0);

	ret = open_ctx(argv[1], &ca);
	if (!ret)
		ret = open_ctx(argv[1], &cb);
	check(!ret, "two contexts on the device, monitor forced to kmod", ret);
	if (ret)
		return 1;
	check(stats(ca).monitor == SANVERBS_MONITOR_KMOD,
	      "the cache reports the kmod monitor", 0);

	src = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	dst = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (src == MAP_FAILED || dst == MAP_FAILED)
		return perror("mmap"), 1;
	memset(src, 0xa5, LEN);

	ret = sanverbs_ep_listen(cb, argv[2], 0, 1, NULL, &lis);
	if (!ret) {
		c = (struct conn){ .ctx = ca, .ip = argv[2],
				   .port = sanverbs_ep_local_port(lis) };
		ret = -pthread_create(&th, NULL, connector, &c);
	}
	if (!ret) {
		ret = sanverbs_ep_accept(lis, TMO_MS, &eb);
		pthread_join(th, NULL);
		if (!ret)
			ret = c.ret;
	}
	check(!ret, "RC connection over rdma_cm", ret);
	if (ret)
		return 1;

	ret = sanverbs_mr_reg(cb, dst, LEN, SANVERBS_ACCESS_LOCAL_WRITE |
			      SANVERBS_ACCESS_REMOTE_WRITE, &tmr);
	if (!ret)
		ret = sanverbs_desc_from_mr(tmr, &d);
	check(!ret, "target registered for remote write", ret);
	if (ret)
		return 1;

	ret = write_once(ca, c.ep, src, &d);
	check(!ret && dst[0] == 0xa5 && !memcmp(dst, src, LEN),
	      "64 KiB RDMA write arrived", ret);
	s0 = stats(ca);
	ret = write_once(ca, c.ep, src, &d);
	s1 = stats(ca);
	check(!ret && s1.hits == s0.hits + 1,
	      "registering the same buffer again is a cache hit", ret);

	/* Fresh pages at the same address: the notifier must have dropped
	 * the entry, or the write would send the old pages' 0xa5. */
	if (mmap(src, LEN, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != src)
		return perror("mmap MAP_FIXED"), 1;
	memset(src, 0x3c, LEN);
	s0 = s1;
	ret = write_once(ca, c.ep, src, &d);
	s1 = stats(ca);
	check(s1.invalidations > s0.invalidations && s1.misses == s0.misses + 1,
	      "MAP_FIXED over the source invalidated its cache entry", 0);
	check(!ret && dst[0] == 0x3c && !memcmp(dst, src, LEN),
	      "the new pages' bytes arrived, not the old ones", ret);
	printf("     cache: %llu hits, %llu misses, %llu invalidations\n",
	       (unsigned long long)s1.hits, (unsigned long long)s1.misses,
	       (unsigned long long)s1.invalidations);

	sanverbs_mr_dereg(tmr);
	sanverbs_ep_close(c.ep);
	sanverbs_ep_close(eb);
	sanverbs_ep_close(lis);
	sanverbs_ctx_close(ca);
	sanverbs_ctx_close(cb);
	printf("pkg-consumer: %d failed\n", failures);
	return failures ? 1 : 0;
}
