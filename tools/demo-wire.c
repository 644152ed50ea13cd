/* SPDX-License-Identifier: MIT */
/* sanverbs-demo's wire: what goes over the connection and the helpers both
 * sides use to move it. Everything the sides agree on or report about each
 * other travels here, so that they can run on two machines. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "demo.h"

double demo_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

uint64_t demo_fnv(const void *p, size_t len)
{
	const unsigned char *b = p;
	uint64_t h = 1469598103934665603ull;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

void demo_fill(unsigned char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (unsigned char)((i * 2654435761u + seed) >> 7);
}

int demo_die(const char *who, const char *what, int err)
{
	fprintf(stderr, "sanverbs-demo [%s]: %s: %s\n", who, what,
		sanverbs_strerror(err));
	return 1;
}

/* The rig names a network namespace per side; where it does not exist (one
 * side per machine) the process already is where it should be. */
int demo_enter(const struct demo_side *s)
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
int demo_open(struct demo_side *s, struct sanverbs_ctx **ctx)
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
int demo_wait(struct sanverbs_ep *ep, uint32_t opcode, uint32_t *len)
{
	for (;;) {
		struct sanverbs_wc wc;
		int n = sanverbs_ep_wait(ep, &wc, 1, DEMO_TMO);

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
int demo_call(struct sanverbs_ep *ep, struct sanverbs_mr *mr,
	      struct demo_msg *m, struct demo_msg *r)
{
	int ret = sanverbs_ep_post_recv(ep, REG(mr), r, sizeof(*r), 2);

	if (!ret)
		ret = sanverbs_ep_post_send(ep, REG(mr), m, sizeof(*m), 1, 0);
	if (!ret)
		ret = demo_wait(ep, SANVERBS_WC_SEND, NULL);
	if (!ret && m->cmd != CMD_QUIT)
		ret = demo_wait(ep, SANVERBS_WC_RECV, NULL);
	return ret;
}

/* Connects, retrying while side B is not listening yet (bounded). */
int demo_connect(struct sanverbs_ctx *ctx, const char *ip, uint16_t port,
		 int timeout_s, struct sanverbs_ep **ep)
{
	double end = demo_now() + timeout_s;
	int ret, tries = 0;

	for (;;) {
		ret = sanverbs_ep_connect(ctx, ip, port, NULL, ep);
		tries++;
		if (!ret || demo_now() >= end ||
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

static void copy_str(char *dst, size_t size, const char *src)
{
	snprintf(dst, size, "%s", src ? src : "");
}

/* The running kernel's boot id; empty when it cannot be read, and the
 * report then does not claim how many machines there were. */
static void read_boot_id(char *buf, size_t size)
{
	FILE *f = fopen("/proc/sys/kernel/random/boot_id", "re");

	buf[0] = '\0';
	if (!f)
		return;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

void demo_hello_fill(struct demo_hello *h, struct sanverbs_ctx *ctx,
		     const char *ip)
{
	struct sanverbs_cache_stats st = { .monitor = SANVERBS_MONITOR_NONE };
	const char *vm = getenv("SANVERBS_IN_VM");
	struct utsname u;
	int kmod = sanverbs_kmod_version();

	memset(h, 0, sizeof(*h));
	memcpy(h->magic, DEMO_MAGIC, sizeof(h->magic));
	snprintf(h->text, sizeof(h->text), "hello from %s", ip);
	read_boot_id(h->boot_id, sizeof(h->boot_id));
	copy_str(h->kernel, sizeof(h->kernel), uname(&u) ? "?" : u.release);
	copy_str(h->device, sizeof(h->device), sanverbs_ctx_device_name(ctx));
	sanverbs_cache_stats(ctx, &st);
	h->monitor = htonl((uint32_t)st.monitor);
	h->flags = htonl(st.flags);
	h->kmod = (int32_t)htonl((uint32_t)(kmod > 0 ? kmod : 0));
	h->in_vm = htonl(vm && !strcmp(vm, "1"));
}

/* Checks a received hello and turns it into host order: a peer built from
 * another version of this program says so here, not with a wrong report. */
int demo_hello_parse(const void *buf, uint32_t len, struct demo_hello *h)
{
	if (len != sizeof(*h))
		return -EPROTO;
	memcpy(h, buf, sizeof(*h));
	if (memcmp(h->magic, DEMO_MAGIC, sizeof(h->magic)))
		return -EPROTO;
	h->text[sizeof(h->text) - 1] = '\0';
	h->boot_id[sizeof(h->boot_id) - 1] = '\0';
	h->kernel[sizeof(h->kernel) - 1] = '\0';
	h->device[sizeof(h->device) - 1] = '\0';
	h->monitor = ntohl(h->monitor);
	h->flags = ntohl(h->flags);
	h->kmod = (int32_t)ntohl((uint32_t)h->kmod);
	h->in_vm = ntohl(h->in_vm);
	return 0;
}
