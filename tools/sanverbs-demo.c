/* SPDX-License-Identifier: MIT */
/* sanverbs-demo: the README's main job, and a first program to run between
 * two machines with RDMA NICs. Side B listens and owns a target region;
 * side A connects over librdmacm, exchanges messages, RDMA-writes and
 * RDMA-reads a multi-MiB payload through cached registrations, frees and
 * reallocates the payload to show the cache noticing it, allocates a
 * low-memory buffer when /dev/sanverbs is loaded, and prints a report that
 * names the monitor and explains every number. --side=a|b runs one side
 * per machine (everything the sides agree on travels over the connection);
 * --side=both (default) runs B in a child process, as the test rig does.
 * Exit status 0 only when every checksum matched. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
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


/* Built outside meson (e.g. against the installed package) it still has
 * the API version to show. */
#ifndef SV_VERSION
#define SV_STR_(x) #x
#define SV_STR(x) SV_STR_(x)
#define SV_VERSION SV_STR(SANVERBS_VERSION_MAJOR) "." SV_STR(SANVERBS_VERSION_MINOR)
#endif

#define ROUNDS 4
#define TMO 60000
#define DEFAULT_PORT 18600
#define DEFAULT_MIB 8

static size_t payload_len = (size_t)DEFAULT_MIB << 20;

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
	char devbuf[64];
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

/* The rig names a network namespace per side; where it does not exist (one
 * side per machine) the process already is where it should be. */
static int enter(const struct side *s)
{
	char path[256];
	int fd;

	if (!s->ns)
		return 0;
	snprintf(path, sizeof(path), "/var/run/netns/%s", s->ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	if (setns(fd, CLONE_NEWNET)) {
		int err = -errno;

		close(fd);
		return err;
	}
	close(fd);
	return 0;
}

/* Opens the device @s names, else the one its address belongs to. */
static int open_ctx(struct side *s, struct sanverbs_ctx **ctx)
{
	struct sanverbs_ctx_attr attr;
	int ret = sanverbs_ctx_attr_init(&attr);

	if (ret)
		return ret;
	if (!s->dev && !sanverbs_addr_device(s->ip, 0, s->devbuf,
					     sizeof(s->devbuf)))
		s->dev = s->devbuf;
	if (s->dev)
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

static int server(struct side *b, uint16_t port)
{
	struct { struct msg in, out; unsigned char desc[SANVERBS_DESC_SIZE]; } *c;
	struct sanverbs_ep *lis, *ep;
	struct sanverbs_mr *rmr, *cmr;
	struct sanverbs_ctx *ctx;
	struct sanverbs_desc d;
	unsigned char *region;
	size_t dl = SANVERBS_DESC_SIZE;
	int ret;

	alarm(600);
	ret = enter(b);
	if (!ret)
		ret = open_ctx(b, &ctx);
	if (ret)
		return die("B", "open device", ret);
	ret = sanverbs_ep_listen(ctx, b->ip, port, 4, NULL, &lis);
	if (ret)
		return die("B", "listen", ret);
	printf("[B %s] listening on port %u (%s)\n", b->ip, port,
	       sanverbs_ctx_device_name(ctx));
	fflush(stdout);
	ret = sanverbs_ep_accept(lis, 2 * TMO, &ep);
	if (ret)
		return die("B", "accept", ret);
	region = calloc(1, payload_len);
	c = calloc(1, sizeof(*c));
	if (!region || !c)
		return die("B", "allocate", -ENOMEM);
	ret = sanverbs_mr_reg(ctx, region, payload_len,
			      SANVERBS_ACCESS_LOCAL_WRITE |
				      SANVERBS_ACCESS_REMOTE_WRITE |
				      SANVERBS_ACCESS_REMOTE_READ, &rmr);
	if (!ret)
		ret = sanverbs_mr_reg(ctx, c, sizeof(*c),
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
		c->out.sum = fnv(region, c->in.len <= payload_len ?
				 c->in.len : 0);
		ret = sanverbs_ep_post_send(ep, REG(cmr), &c->out, sizeof(c->out), 2, 0);
		if (!ret)
			ret = wait_op(ep, SANVERBS_WC_SEND, NULL);
		if (ret)
			return die("B", "answer", ret);
	}
	printf("[B %s] done: side A said goodbye\n", b->ip);
	fflush(stdout);
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

/* Connects, retrying while side B is not listening yet (bounded). */
static int connect_retry(struct sanverbs_ctx *ctx, const char *ip,
			 uint16_t port, int timeout_s, struct sanverbs_ep **ep)
{
	double end = now() + timeout_s;
	int ret, tries = 0;

	for (;;) {
		ret = sanverbs_ep_connect(ctx, ip, port, NULL, ep);
		tries++;
		if (!ret || now() >= end ||
		    (ret != -ECONNREFUSED && ret != -ETIMEDOUT &&
		     ret != -ECONNRESET && ret != -ECONNABORTED &&
		     ret != -EHOSTUNREACH && ret != -ENETUNREACH))
			break;
		if (tries == 1) {
			printf("[A] side B (%s:%u) not listening yet: retrying "
			       "for up to %d s\n", ip, port, timeout_s);
			fflush(stdout);
		}
		usleep(250000);
	}
	return ret;
}

static const char *monitor_story(const struct sanverbs_cache_stats *st)
{
	switch (st->monitor) {
	case SANVERBS_MONITOR_KMOD:
		return "kmod: the sanverbs kernel module's mmu interval "
		       "notifiers; the kernel invalidates a cached registration "
		       "before an unmap or remap of its memory completes";
	case SANVERBS_MONITOR_UFFD:
		return st->flags & SANVERBS_CACHE_F_UFFD_USER_MODE ?
		       "uffd (user-mode-only): userfaultfd reports unmaps and "
		       "remaps of cached memory to a library thread; faults "
		       "raised inside the kernel are not delivered" :
		       "uffd: userfaultfd reports every unmap and remap of "
		       "cached memory to a library thread, which drops the "
		       "registrations before they can be hit again";
	default:
		return "none: no monitor could be opened, so caching is off "
		       "(every registration calls ibv_reg_mr)";
	}
}

static int client(struct side *a, const char *peer_ip, uint16_t port,
		  int timeout_s)
{
	struct sanverbs_cache_stats st0 = { 0 }, st = { 0 };
	struct report rep = { 0 };
	struct sanverbs_mr *cmr, *bmr;
	struct sanverbs_ep *ep;
	struct sanverbs_ctx *ctx;
	struct sanverbs_desc d;
	unsigned char *payload, *back;
	const char *vm = getenv("SANVERBS_IN_VM");
	double mib = (double)(1u << 20);
	struct msg *m;
	uint32_t len;
	int ret, i, lowmem_ok = -1, writes, is_rxe;
	char lowmem_note[200] = "not tried: the sanverbs kernel module is "
				"not loaded";

	ret = enter(a);
	if (!ret)
		ret = open_ctx(a, &ctx);
	if (ret)
		return die("A", "open device", ret);
	sanverbs_cache_set_callback(ctx, on_change, NULL);
	ret = connect_retry(ctx, peer_ip, port, timeout_s, &ep);
	if (ret)
		return die("A", "connect", ret);
	printf("[A %s] connected to %s:%u over %s\n", a->ip, peer_ip, port,
	       sanverbs_ctx_device_name(ctx));
	m = calloc(3, sizeof(*m) + 64);
	if (!m)
		return die("A", "allocate", -ENOMEM);
	ret = sanverbs_mr_reg(ctx, m, 3 * (sizeof(*m) + 64),
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
	if (d.len < payload_len) {
		fprintf(stderr, "sanverbs-demo [A]: side B offers %llu bytes, "
			"this side was asked for %zu: give both the same "
			"--size\n", (unsigned long long)d.len, payload_len);
		return 1;
	}
	sanverbs_cache_stats(ctx, &st0);

	payload = malloc(payload_len);
	back = malloc(payload_len);
	if (!payload || !back)
		return die("A", "allocate", -ENOMEM);
	fill(payload, payload_len, 1);
	for (i = 0; i < ROUNDS && !ret; i++)
		ret = write_round(ctx, ep, cmr, m, &d, payload, payload_len,
				  &rep);
	if (ret)
		return die("A", "RDMA write", ret);

	/* read it all back */
	ret = sanverbs_mr_reg(ctx, back, payload_len,
			      SANVERBS_ACCESS_LOCAL_WRITE, &bmr);
	if (!ret) {
		double t0 = now();

		ret = sanverbs_ep_post_read(ep, REG(bmr), back, payload_len,
					    &d, 0, 8, 0);
		if (!ret)
			ret = wait_op(ep, SANVERBS_WC_READ, NULL);
		rep.rsec = now() - t0;
		sanverbs_mr_dereg(bmr);
	}
	if (ret)
		return die("A", "RDMA read", ret);
	rep.bytes_read = payload_len;
	rep.sums_total++;
	rep.sums_ok += fnv(back, payload_len) == fnv(payload, payload_len);

	/* free and reallocate: the monitor sees the unmap, the cache drops the
	 * entry and calls back; the new buffer misses once, then hits */
	free(payload);
	for (i = 0; i < 200 && !atomic_load(&callbacks); i++)
		usleep(10000);
	payload = malloc(payload_len);
	if (!payload)
		return die("A", "reallocate", -ENOMEM);
	fill(payload, payload_len, 2);
	for (i = 0; i < 2 && !ret; i++)
		ret = write_round(ctx, ep, cmr, m, &d, payload, payload_len,
				  &rep);
	if (ret)
		return die("A", "RDMA write after reallocation", ret);
	writes = rep.sums_total - 1;

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
					 "1 MiB of physically contiguous memory at 0x%llx (%s 4 GiB, what a 32-bit DMA device needs), RDMA-written: %s",
					 (unsigned long long)phys,
					 phys < (1ull << 32) ? "below" : "NOT below",
					 ret ? sanverbs_strerror(ret) : "ok");
			else
				snprintf(lowmem_note, sizeof(lowmem_note),
					 "1 MiB below 4 GiB (physical address shown to root only), RDMA-written: %s",
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

	is_rxe = !strncmp(sanverbs_ctx_device_name(ctx), "rxe", 3);
	printf("\nsanverbs-demo report: A %s (%s) -> B %s\n", a->ip,
	       sanverbs_ctx_device_name(ctx), peer_ip);
	printf("  monitor       %s\n", monitor_story(&st));
	printf("  RDMA write    %d transfers of %.0f MiB, %.1f MiB/s: bytes "
	       "written / time from sanverbs_mr_reg to the write's completion "
	       "(MiB = 2^20 bytes; the checksum round trips are not timed)\n",
	       writes, payload_len / mib,
	       rep.wsec > 0 ? (payload_len * (double)writes) / mib / rep.wsec :
	       0.0);
	printf("  RDMA read     1 transfer of %.0f MiB back from B, %.1f MiB/s "
	       "(post to completion)\n", rep.bytes_read / mib,
	       rep.rsec > 0 ? rep.bytes_read / mib / rep.rsec : 0.0);
	printf("  cache hits    %llu: sanverbs_mr_reg calls answered from the "
	       "cache, without ibv_reg_mr\n",
	       (unsigned long long)(st.hits - st0.hits));
	printf("  cache misses  %llu: calls that registered with the device "
	       "(each buffer's first use, and the payload's again after free and malloc)\n",
	       (unsigned long long)(st.misses - st0.misses));
	printf("  invalidations %llu: cached registrations dropped because "
	       "their memory was unmapped (the free() of the payload)\n",
	       (unsigned long long)(st.invalidations - st0.invalidations));
	printf("  callbacks     %d: calls of the sanverbs_cache_set_callback "
	       "function for those ranges\n", atomic_load(&callbacks));
	printf("  low memory    %s\n", lowmem_note);
	printf("  checksums     %d/%d match: FNV-1a over each transfer, B "
	       "hashing the bytes that arrived, A comparing\n", rep.sums_ok,
	       rep.sums_total);
	if (vm && !strcmp(vm, "1"))
		printf("  note          this ran in a QEMU guest under TCG "
		       "emulation%s: the MiB/s are the emulator's speed, 10 to "
		       "100 times below real hardware; the counts and "
		       "checksums are what matters\n",
		       is_rxe ? " on SoftRoCE (rxe)" : "");
	else if (is_rxe)
		printf("  note          %s is SoftRoCE: the CPU moves the bytes, "
		       "so the MiB/s measure this machine, not a NIC\n",
		       sanverbs_ctx_device_name(ctx));
	sanverbs_ctx_close(ctx);
	free(payload);
	free(back);
	free(m);
	return rep.sums_ok == rep.sums_total && lowmem_ok != 0 ? 0 : 1;
}

static void usage(FILE *f)
{
	fprintf(f,
"usage: sanverbs-demo [--side=both|a|b] [--a-ip=IP] [--b-ip=IP]\n"
"                     [--a-dev=DEV] [--b-dev=DEV] [--port=N] [--size=MiB]\n"
"                     [--timeout=SEC] [--help] [--version]\n"
"\n"
"Moves data between two RDMA endpoints through sanverbs' registration\n"
"cache and reports what the cache did. Side B listens on B's address and\n"
"owns a target region; side A connects to it, RDMA-writes and reads the\n"
"payload, frees and reallocates it, and prints the report.\n"
"\n"
"  -s, --side=SIDE   both (default: B in a child process, A here), b (run\n"
"                    on the server machine first), a (on the client machine)\n"
"      --a-ip=IP     A's address   (default $SANVERBS_IP_A, $SANVERBS_RXE_IP)\n"
"      --b-ip=IP     B's address   (default $SANVERBS_IP_B, $SANVERBS_RXE_IP)\n"
"      --a-dev=DEV   A's device    (default $SANVERBS_RXE_A, $SANVERBS_RXE_DEV,\n"
"                    else the device that owns A's address)\n"
"      --b-dev=DEV   B's device    (likewise with $SANVERBS_RXE_B)\n"
"  -p, --port=N      rdma_cm port B listens on (default %u)\n"
"      --size=MiB    payload, 1 to 1024 MiB (default %u; same on both sides)\n"
"  -t, --timeout=SEC how long A retries while B is not listening (default 60)\n"
"  -h, --help        this text\n"
"  -V, --version     the version\n"
"\n"
"Between two machines with RDMA NICs (RoCE or InfiniBand with IPoIB):\n"
"  server$ sanverbs-demo --side=b --b-ip=10.0.0.2\n"
"  client$ sanverbs-demo --side=a --a-ip=10.0.0.1 --b-ip=10.0.0.2\n"
"Exit status: 0 when every checksum matched, 1 on failure, 2 on bad usage.\n",
		DEFAULT_PORT, DEFAULT_MIB);
}

static const char *env2(const char *a, const char *b)
{
	const char *v = getenv(a);

	if (!v || !*v)
		v = getenv(b);
	return v && *v ? v : NULL;
}

int main(int argc, char **argv)
{
	enum { O_AIP = 256, O_BIP, O_ADEV, O_BDEV, O_SIZE };
	static const struct option opts[] = {
		{ "side", required_argument, NULL, 's' },
		{ "a-ip", required_argument, NULL, O_AIP },
		{ "b-ip", required_argument, NULL, O_BIP },
		{ "a-dev", required_argument, NULL, O_ADEV },
		{ "b-dev", required_argument, NULL, O_BDEV },
		{ "port", required_argument, NULL, 'p' },
		{ "size", required_argument, NULL, O_SIZE },
		{ "timeout", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct side a = { 0 }, b = { 0 };
	const char *side = "both";
	long port = DEFAULT_PORT, mib = DEFAULT_MIB, timeout_s = 60;
	int c, st, ret, bad = 0;
	char *end;
	pid_t pid;

	a.ns = getenv("SANVERBS_NS_A");
	b.ns = getenv("SANVERBS_NS_B");
	a.ip = env2("SANVERBS_IP_A", "SANVERBS_RXE_IP");
	b.ip = env2("SANVERBS_IP_B", "SANVERBS_RXE_IP");
	a.dev = env2("SANVERBS_RXE_A", "SANVERBS_RXE_DEV");
	b.dev = env2("SANVERBS_RXE_B", "SANVERBS_RXE_DEV");
	/* the single-device fallback has no second namespace */
	if (!getenv("SANVERBS_IP_A") || !getenv("SANVERBS_IP_B"))
		a.ns = b.ns = NULL;
	while ((c = getopt_long(argc, argv, "s:p:t:hV", opts, NULL)) != -1) {
		switch (c) {
		case 's': side = optarg; break;
		case O_AIP: a.ip = optarg; break;
		case O_BIP: b.ip = optarg; break;
		case O_ADEV: a.dev = optarg; break;
		case O_BDEV: b.dev = optarg; break;
		case 'p':
			port = strtol(optarg, &end, 10);
			if (*end || port < 1 || port > 65535) {
				fprintf(stderr, "sanverbs-demo: --port wants "
					"1 to 65535, not '%s'\n", optarg);
				bad = 1;
			}
			break;
		case O_SIZE:
			mib = strtol(optarg, &end, 10);
			if (*end || mib < 1 || mib > 1024) {
				fprintf(stderr, "sanverbs-demo: --size wants "
					"1 to 1024 (MiB), not '%s'\n", optarg);
				bad = 1;
			}
			break;
		case 't':
			timeout_s = strtol(optarg, &end, 10);
			if (*end || timeout_s < 1 || timeout_s > 3600) {
				fprintf(stderr, "sanverbs-demo: --timeout wants "
					"1 to 3600 (s), not '%s'\n", optarg);
				bad = 1;
			}
			break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("sanverbs-demo %s\n", SV_VERSION); return 0;
		default: bad = 1; break; /* getopt named it */
		}
	}
	if (!bad && optind < argc) {
		fprintf(stderr, "sanverbs-demo: unexpected argument '%s'\n",
			argv[optind]);
		bad = 1;
	}
	if (!bad && strcmp(side, "both") && strcmp(side, "a") &&
	    strcmp(side, "b")) {
		fprintf(stderr, "sanverbs-demo: --side is both, a or b, not "
			"'%s'\n", side);
		bad = 1;
	}
	if (!bad && (!b.ip || (strcmp(side, "b") && !a.ip))) {
		fprintf(stderr, "sanverbs-demo: no address for side %s: pass "
			"--%s-ip (or run it through scripts/run-demo.sh, which "
			"sets SANVERBS_IP_A/B)\n", !b.ip ? "B" : "A",
			!b.ip ? "b" : "a");
		bad = 1;
	}
	if (bad) {
		fprintf(stderr, "Try 'sanverbs-demo --help'.\n");
		return 2;
	}
	payload_len = (size_t)mib << 20;

	if (!strcmp(side, "b"))
		return server(&b, (uint16_t)port);
	if (!strcmp(side, "a"))
		return client(&a, b.ip, (uint16_t)port, (int)timeout_s);

	printf("sanverbs-demo: A=%s (%s%s%s) <-> B=%s (%s%s%s), port %ld\n",
	       a.ip, a.dev ? a.dev : "its address's device",
	       a.ns ? ", netns " : "", a.ns ? a.ns : "", b.ip,
	       b.dev ? b.dev : "its address's device", b.ns ? ", netns " : "",
	       b.ns ? b.ns : "", port);
	/* Say plainly when the two "hosts" share one network namespace: the
	 * rig falls back to that on kernels whose rxe is not netns-aware. */
	if (a.ns && getenv("SANVERBS_TWOHOST_MODE") &&
	    !strcmp(getenv("SANVERBS_TWOHOST_MODE"), "init_net"))
		printf("sanverbs-demo: note: %s and %s alias the initial network "
		       "namespace (this kernel's rxe is not namespace-aware); the "
		       "two processes talk over two rxe devices on a veth pair\n",
		       a.ns, b.ns);
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return die("demo", "fork", -errno);
	if (pid == 0)
		_exit(server(&b, (uint16_t)port));
	ret = client(&a, b.ip, (uint16_t)port, (int)timeout_s);
	if (ret)
		kill(pid, SIGTERM);
	waitpid(pid, &st, 0);
	if (!WIFEXITED(st) || WEXITSTATUS(st))
		ret = 1;
	printf("  result        %s\n", ret ? "FAILED" : "ok");
	return ret;
}
