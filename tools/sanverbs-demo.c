/* SPDX-License-Identifier: MIT */
/* sanverbs-demo: the README's main job. Two processes - in two network
 * namespaces with one rxe device each when the rig provides them
 * (SANVERBS_NS_A/B, SANVERBS_IP_A/B, SANVERBS_RXE_A/B), else both on one
 * device (SANVERBS_RXE_IP) - connect over librdmacm, exchange messages,
 * RDMA-write and RDMA-read a multi-MiB payload through cached registrations,
 * free and reallocate the payload to show the cache callback firing,
 * allocate a low-memory buffer when /dev/sanverbs is loaded, and print a
 * short report. Exit status 0 only when every checksum matched. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>


#include "sanverbs.h"

/* The region of @mr, as the posts take it (valid in the enclosing block). */
#define REG(mr)                                                               \
	(&(struct sanverbs_region){ sanverbs_mr_addr(mr),                     \
				    sanverbs_mr_length(mr),                   \
				    sanverbs_mr_lkey(mr),                     \
				    sanverbs_mr_access(mr) })

#define PAYLOAD (8u << 20)
#define ROUNDS 4
#define TMO 60000

enum { CMD_SUM = 1, CMD_QUIT = 2 };

struct msg {
	uint32_t cmd;
	uint32_t pad;
	uint64_t len;
	uint64_t sum;
	char text[40];
};

struct side {
	const char *ns, *ip, *dev;
};

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static uint64_t fnv(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static void fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)((i * 2654435761u + seed) >> 7);
}

static int die(const char *who, const char *what, int err)
{
	fprintf(stderr, "sanverbs-demo [%s]: %s: %s\n", who, what,
		sanverbs_strerror(err));
	return 1;
}

static int enter(const struct side *s)
{
	char path[256];
	int fd;

	if (!s->ns)
		return 0;
	snprintf(path, sizeof(path), "/var/run/netns/%s", s->ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET))
		return -errno;
	close(fd);
	return 0;
}

static int open_ctx(const struct side *s, struct sanverbs_ctx **ctx)
{
	struct sanverbs_ctx_attr attr;
	int ret = sanverbs_ctx_attr_init(&attr);

	if (ret)
		return ret;
	attr.device = s->dev;
	return sanverbs_ctx_open(&attr, ctx);
}

/* One completion of @opcode (others must succeed on the way). */
static int wait_op(struct sanverbs_ep *ep, uint32_t opcode, uint32_t *len)
{
	for (;;) {
		struct sanverbs_wc wc;
		int n = sanverbs_ep_wait(ep, &wc, 1, TMO);

		if (n < 0)
			return n;
		if (wc.status)
			return wc.status;
		if (wc.opcode == opcode) {
			if (len)
				*len = wc.byte_len;
			return 0;
		}
	}
}

/* Sends @m and waits for the peer's answer into @r. */
static int call(struct sanverbs_ep *ep, struct sanverbs_mr *mr,
		struct msg *m, struct msg *r)
{
	int ret = sanverbs_ep_post_recv(ep, REG(mr), r, sizeof(*r), 2);

	if (!ret)
		ret = sanverbs_ep_post_send(ep, REG(mr), m, sizeof(*m), 1, 0);
	if (!ret)
		ret = wait_op(ep, SANVERBS_WC_SEND, NULL);
	if (!ret && m->cmd != CMD_QUIT)
		ret = wait_op(ep, SANVERBS_WC_RECV, NULL);
	return ret;
}

/* ---- side B: owns the target region ----------------------------------- */

static int server(const struct side *b, int port_fd)
{
	struct { struct msg in, out; unsigned char desc[SANVERBS_DESC_SIZE]; } *c;
	struct sanverbs_ep *lis, *ep;
	struct sanverbs_mr *rmr, *cmr;
	struct sanverbs_ctx *ctx;
	struct sanverbs_desc d;
	unsigned char *region;
	size_t dl = SANVERBS_DESC_SIZE;
	uint16_t port;
	int ret;

	alarm(600);
	ret = enter(b);
	if (!ret)
		ret = open_ctx(b, &ctx);
	if (!ret)
		ret = sanverbs_ep_listen(ctx, b->ip, 0, 4, NULL, &lis);
	if (ret)
		return die("B", "listen", ret);
	port = sanverbs_ep_local_port(lis);
	if (write(port_fd, &port, sizeof(port)) != sizeof(port))
		return 1;
	close(port_fd);
	ret = sanverbs_ep_accept(lis, TMO, &ep);
	if (ret)
		return die("B", "accept", ret);
	region = calloc(1, PAYLOAD);
	c = calloc(1, sizeof(*c));
	if (!region || !c)
		return die("B", "allocate", -ENOMEM);
	ret = sanverbs_mr_reg(sanverbs_ep_ctx(ep), region, PAYLOAD,
				 SANVERBS_ACCESS_REMOTE_WRITE |
					 SANVERBS_ACCESS_REMOTE_READ,
				 &rmr);
	if (!ret)
		ret = sanverbs_mr_reg(sanverbs_ep_ctx(ep), c, sizeof(*c),
					 SANVERBS_ACCESS_LOCAL_WRITE, &cmr);
	if (!ret)
		ret = sanverbs_desc_from_mr(rmr, &d);
	if (!ret)
		ret = sanverbs_desc_encode(&d, c->desc, &dl);
	if (ret)
		return die("B", "register region", ret);
	/* hello, then the descriptor */
	ret = sanverbs_ep_post_recv(ep, REG(cmr), &c->in, sizeof(c->in), 1);
	if (!ret)
		ret = wait_op(ep, SANVERBS_WC_RECV, NULL);
	if (ret)
		return die("B", "receive hello", ret);
	printf("[B %s] got \"%s\"\n", b->ip, c->in.text);
	fflush(stdout); /* the child leaves through _exit() */
	snprintf(c->out.text, sizeof(c->out.text), "hello from %s", b->ip);
	ret = sanverbs_ep_post_send(ep, REG(cmr), &c->out, sizeof(c->out), 2, 0);
	if (!ret)
		ret = sanverbs_ep_post_send(ep, REG(cmr), c->desc, dl, 3, 0);
	if (!ret)
		ret = wait_op(ep, SANVERBS_WC_SEND, NULL);
	if (!ret)
		ret = wait_op(ep, SANVERBS_WC_SEND, NULL);
	if (ret)
		return die("B", "send descriptor", ret);
	for (;;) {
		ret = sanverbs_ep_post_recv(ep, REG(cmr), &c->in, sizeof(c->in), 1);
		if (!ret)
			ret = wait_op(ep, SANVERBS_WC_RECV, NULL);
		if (ret)
			return die("B", "receive command", ret);
		if (c->in.cmd == CMD_QUIT)
			break;
		c->out.sum = fnv(region, c->in.len <= PAYLOAD ? c->in.len : 0);
		ret = sanverbs_ep_post_send(ep, REG(cmr), &c->out, sizeof(c->out), 2, 0);
		if (!ret)
			ret = wait_op(ep, SANVERBS_WC_SEND, NULL);
		if (ret)
			return die("B", "answer", ret);
	}
	sanverbs_ep_close(ep);
	sanverbs_mr_dereg(rmr);
	sanverbs_mr_dereg(cmr);
	sanverbs_ep_close(lis);
	sanverbs_ctx_close(ctx);
	free(region);
	free(c);
	return 0;
}

/* ---- side A: drives the transfers and reports -------------------------- */

static atomic_int callbacks;

static void on_change(void *arg, void *addr, size_t len)
{
	atomic_fetch_add(&callbacks, 1);
}

struct report {
	uint64_t bytes_written, bytes_read;
	double wsec, rsec;
	int sums_ok, sums_total;
};

/* RDMA-writes @buf (registered afresh: a cache hit after the first time)
 * and has B checksum what arrived. */
static int write_round(struct sanverbs_ctx *ctx, struct sanverbs_ep *ep,
		       struct sanverbs_mr *cmr, struct msg *m,
		       const struct sanverbs_desc *d, unsigned char *buf,
		       size_t len, struct report *rep)
{
	struct sanverbs_mr *mr;
	double t0;
	int ret;

	t0 = now();
	ret = sanverbs_mr_reg(ctx, buf, len, 0, &mr);
	if (ret)
		return ret;
	ret = sanverbs_ep_post_write(ep, REG(mr), buf, len, d, 0, 7, 0);
	if (!ret)
		ret = wait_op(ep, SANVERBS_WC_WRITE, NULL);
	rep->wsec += now() - t0;
	sanverbs_mr_dereg(mr);
	if (ret)
		return ret;
	rep->bytes_written += len;
	m[0] = (struct msg){ .cmd = CMD_SUM, .len = len };
	ret = call(ep, cmr, &m[0], &m[1]);
	if (ret)
		return ret;
	rep->sums_total++;
	rep->sums_ok += m[1].sum == fnv(buf, len);
	return 0;
}

static int client(const struct side *a, const char *peer_ip, uint16_t port)
{
	struct sanverbs_cache_stats st0 = { 0 }, st = { 0 };
	struct report rep = { 0 };
	struct sanverbs_mr *cmr, *bmr;
	struct sanverbs_ep *ep;
	struct sanverbs_ctx *ctx;
	struct sanverbs_desc d;
	unsigned char *payload, *back;
	struct msg *m;
	uint32_t len;
	int ret, i, lowmem_ok = -1;
	char lowmem_note[160] = "module not loaded: skipped";

	ret = enter(a);
	if (!ret)
		ret = open_ctx(a, &ctx);
	if (ret)
		return die("A", "open device", ret);
	sanverbs_cache_set_callback(ctx, on_change, NULL);
	ret = sanverbs_ep_connect(ctx, peer_ip, port, NULL, &ep);
	if (ret)
		return die("A", "connect", ret);
	printf("[A %s] connected to %s:%u over %s\n", a->ip, peer_ip, port,
	       sanverbs_ctx_device_name(ctx));
	m = calloc(3, sizeof(*m) + 64);
	ret = sanverbs_mr_reg(sanverbs_ep_ctx(ep), m, 3 * (sizeof(*m) + 64),
				 SANVERBS_ACCESS_LOCAL_WRITE, &cmr);
	if (ret)
		return die("A", "register messages", ret);
	snprintf(m[0].text, sizeof(m[0].text), "hello from %s", a->ip);
	ret = sanverbs_ep_post_recv(ep, REG(cmr), &m[1], sizeof(m[1]), 2);
	if (!ret)
		ret = sanverbs_ep_post_recv(ep, REG(cmr), &m[2], sizeof(m[2]) + 64, 3);
	if (!ret)
		ret = sanverbs_ep_post_send(ep, REG(cmr), &m[0], sizeof(m[0]), 1, 0);
	if (!ret)
		ret = wait_op(ep, SANVERBS_WC_RECV, NULL);
	if (!ret)
		ret = wait_op(ep, SANVERBS_WC_RECV, &len);
	if (!ret)
		ret = sanverbs_desc_parse(&m[2], len, &d);
	if (ret)
		return die("A", "exchange hello and descriptor", ret);
	printf("[A %s] got \"%s\" and a %u-byte descriptor for %llu bytes\n",
	       a->ip, m[1].text, len, (unsigned long long)d.len);
	sanverbs_cache_stats(ctx, &st0);

	payload = malloc(PAYLOAD);
	back = malloc(PAYLOAD);
	if (!payload || !back)
		return die("A", "allocate", -ENOMEM);
	fill(payload, PAYLOAD, 1);
	for (i = 0; i < ROUNDS && !ret; i++)
		ret = write_round(ctx, ep, cmr, m, &d, payload, PAYLOAD, &rep);
	if (ret)
		return die("A", "RDMA write", ret);

	/* read it all back */
	ret = sanverbs_mr_reg(ctx, back, PAYLOAD, SANVERBS_ACCESS_LOCAL_WRITE,
			      &bmr);
	if (!ret) {
		double t0 = now();

		ret = sanverbs_ep_post_read(ep, REG(bmr), back, PAYLOAD, &d, 0, 8, 0);
		if (!ret)
			ret = wait_op(ep, SANVERBS_WC_READ, NULL);
		rep.rsec = now() - t0;
		sanverbs_mr_dereg(bmr);
	}
	if (ret)
		return die("A", "RDMA read", ret);
	rep.bytes_read = PAYLOAD;
	rep.sums_total++;
	rep.sums_ok += fnv(back, PAYLOAD) == fnv(payload, PAYLOAD);

	/* free and reallocate: the monitor sees the unmap, the cache drops the
	 * entry and calls back; the new buffer misses once, then hits */
	free(payload);
	for (i = 0; i < 200 && !atomic_load(&callbacks); i++)
		usleep(10000);
	payload = malloc(PAYLOAD);
	if (!payload)
		return die("A", "reallocate", -ENOMEM);
	fill(payload, PAYLOAD, 2);
	for (i = 0; i < 2 && !ret; i++)
		ret = write_round(ctx, ep, cmr, m, &d, payload, PAYLOAD, &rep);
	if (ret)
		return die("A", "RDMA write after reallocation", ret);

	/* low memory, when the module is there */
	if (sanverbs_kmod_version() > 0) {
		struct sanverbs_lowmem *lm;
		uint64_t phys = 0;

		ret = sanverbs_lowmem_alloc(1u << 20, SANVERBS_DMA_MASK_32, 0,
					    &lm);
		if (ret) {
			snprintf(lowmem_note, sizeof(lowmem_note),
				 "allocation failed: %s", sanverbs_strerror(ret));
			lowmem_ok = 0;
		} else {
			int have_phys = !sanverbs_lowmem_phys(lm, &phys);

			fill(sanverbs_lowmem_addr(lm), 1u << 20, 3);
			ret = write_round(ctx, ep, cmr, m, &d,
					  sanverbs_lowmem_addr(lm), 1u << 20,
					  &rep);
			lowmem_ok = !ret && (!have_phys || phys < (1ull << 32));
			if (have_phys)
				snprintf(lowmem_note, sizeof(lowmem_note),
					 "1 MiB at physical 0x%llx (%s 4 GiB), RDMA-written: %s",
					 (unsigned long long)phys,
					 phys < (1ull << 32) ? "below" : "NOT below",
					 ret ? sanverbs_strerror(ret) : "ok");
			else
				snprintf(lowmem_note, sizeof(lowmem_note),
					 "1 MiB (physical address hidden: not root), RDMA-written: %s",
					 ret ? sanverbs_strerror(ret) : "ok");
			sanverbs_lowmem_free(lm);
			ret = 0;
		}
	}

	sanverbs_cache_stats(ctx, &st);
	m[0] = (struct msg){ .cmd = CMD_QUIT };
	call(ep, cmr, &m[0], &m[1]);
	sanverbs_ep_close(ep);
	sanverbs_mr_dereg(cmr);

	printf("\nsanverbs-demo report (%s -> %s)\n", a->ip, peer_ip);
	printf("  RDMA write : %llu bytes in %d transfers, %.1f MB/s (incl. registration)\n",
	       (unsigned long long)rep.bytes_written, rep.sums_total - 1,
	       rep.bytes_written / rep.wsec / 1e6);
	printf("  RDMA read  : %llu bytes, %.1f MB/s\n",
	       (unsigned long long)rep.bytes_read, rep.bytes_read / rep.rsec / 1e6);
	printf("  cache      : %llu hits, %llu misses, %llu invalidations, %d callback(s) after free()\n",
	       (unsigned long long)(st.hits - st0.hits),
	       (unsigned long long)(st.misses - st0.misses),
	       (unsigned long long)(st.invalidations - st0.invalidations),
	       atomic_load(&callbacks));
	printf("  low memory : %s\n", lowmem_note);
	printf("  checksums  : %d/%d match\n", rep.sums_ok, rep.sums_total);
	sanverbs_ctx_close(ctx);
	free(payload);
	free(back);
	return rep.sums_ok == rep.sums_total && lowmem_ok != 0 ? 0 : 1;
}

int main(void)
{
	struct side a = { 0 }, b = { 0 };
	int fds[2], st, ret;
	uint16_t port;
	pid_t pid;

	if (getenv("SANVERBS_NS_A") && getenv("SANVERBS_NS_B") &&
	    getenv("SANVERBS_IP_A") && getenv("SANVERBS_IP_B")) {
		a = (struct side){ getenv("SANVERBS_NS_A"), getenv("SANVERBS_IP_A"),
				   getenv("SANVERBS_RXE_A") };
		b = (struct side){ getenv("SANVERBS_NS_B"), getenv("SANVERBS_IP_B"),
				   getenv("SANVERBS_RXE_B") };
	} else if (getenv("SANVERBS_RXE_IP")) {
		a.ip = b.ip = getenv("SANVERBS_RXE_IP");
		a.dev = b.dev = getenv("SANVERBS_RXE_DEV");
	} else {
		fprintf(stderr, "sanverbs-demo: no RDMA endpoints configured; "
				"run it through scripts/run-demo.sh (it sets "
				"SANVERBS_NS_A/B, SANVERBS_IP_A/B or SANVERBS_RXE_IP)\n");
		return 2;
	}
	printf("sanverbs-demo: A=%s (%s%s%s) <-> B=%s (%s%s%s)\n", a.ip,
	       a.dev ? a.dev : "any", a.ns ? ", netns " : "", a.ns ? a.ns : "",
	       b.ip, b.dev ? b.dev : "any", b.ns ? ", netns " : "",
	       b.ns ? b.ns : "");
	/* Say plainly when the two "hosts" share one network namespace: the
	 * rig falls back to that on kernels whose rxe is not netns-aware. */
	if (a.ns && getenv("SANVERBS_TWOHOST_MODE") &&
	    !strcmp(getenv("SANVERBS_TWOHOST_MODE"), "init_net"))
		printf("sanverbs-demo: note: %s and %s alias the initial network "
		       "namespace (this kernel's rxe is not namespace-aware); the "
		       "two processes talk over two rxe devices on a veth pair\n",
		       a.ns, b.ns);
	if (pipe(fds))
		return die("demo", "pipe", -errno);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return die("demo", "fork", -errno);
	if (pid == 0) {
		close(fds[0]);
		_exit(server(&b, fds[1]));
	}
	close(fds[1]);
	if (read(fds[0], &port, sizeof(port)) != sizeof(port)) {
		waitpid(pid, &st, 0);
		fprintf(stderr, "sanverbs-demo: side B did not start\n");
		return 1;
	}
	ret = client(&a, b.ip, port);
	if (ret)
		kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		ret = 1;
	printf("  result     : %s\n", ret ? "FAILED" : "ok");
	return ret;
}
