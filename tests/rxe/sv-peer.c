/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sv-peer.h"
#include "sv-test.h"

void sv_sides(struct sv_side *a, struct sv_side *b)
{
	const char *nsa = getenv("SANVERBS_NS_A"), *nsb = getenv("SANVERBS_NS_B");

	if (nsa && nsb && *nsa && *nsb && getenv("SANVERBS_IP_A") &&
	    getenv("SANVERBS_IP_B") && getenv("SANVERBS_RXE_A") &&
	    getenv("SANVERBS_RXE_B")) {
		a->ns = nsa;
		b->ns = nsb;
		a->ip = getenv("SANVERBS_IP_A");
		b->ip = getenv("SANVERBS_IP_B");
		a->dev = getenv("SANVERBS_RXE_A");
		b->dev = getenv("SANVERBS_RXE_B");
		return;
	}
	/* One device: the peer is still a separate process and connection,
	 * looped through rxe0. */
	a->ns = b->ns = NULL;
	a->ip = b->ip = getenv("SANVERBS_RXE_IP");
	a->dev = b->dev = getenv("SANVERBS_RXE_DEV");
	if (!a->ip) {
		printf("SKIP: SANVERBS_RXE_IP not set (run under tests/vm/run.sh)\n");
		exit(SV_TEST_SKIP);
	}
}

void sv_enter_ns(const char *ns)
{
	char path[256];
	int fd;

	if (!ns)
		return;
	snprintf(path, sizeof(path), "/var/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || setns(fd, CLONE_NEWNET)) {
		fprintf(stderr, "cannot enter netns %s: %s\n", ns, strerror(errno));
		exit(2);
	}
	close(fd);
}

struct sanverbs_ctx *sv_side_open(const struct sv_side *side)
{
	struct sanverbs_ctx_attr attr;
	struct sanverbs_ctx *ctx;
	int ret;

	sv_enter_ns(side->ns);
	ck_assert_int_eq(sanverbs_ctx_attr_init(&attr), 0);
	attr.device = side->dev;
	ret = sanverbs_ctx_open(&attr, &ctx);
	if (ret)
		ck_abort_msg("open %s: %s", side->dev ? side->dev : "(any)",
			     sanverbs_strerror(ret));
	return ctx;
}

void sv_peer_start(struct sv_peer *p, int nconn, int upfront, sv_peer_fn fn,
		   void *arg)
{
	struct sv_side a, b;
	int fds[2];

	sv_sides(&a, &b);
	p->ip = b.ip;
	ck_assert_int_eq(pipe(fds), 0);
	fflush(NULL);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		struct sanverbs_ep *lis, *eps[16];
		struct sanverbs_ctx *ctx;
		uint16_t port;
		int i, ret, st;

		close(fds[0]);
		alarm(300); /* a stuck peer must never outlive the test */
		ctx = sv_side_open(&b);
		ret = sanverbs_ep_listen(ctx, b.ip, 0, 16, NULL, &lis);
		if (ret) {
			fprintf(stderr, "peer listen: %s\n", sanverbs_strerror(ret));
			_exit(3);
		}
		port = sanverbs_ep_local_port(lis);
		if (write(fds[1], &port, sizeof(port)) != sizeof(port))
			_exit(3);
		close(fds[1]);
		st = 0;
		for (i = 0; i < nconn && i < 16; i++) {
			int j, last = upfront ? nconn : i + 1;

			for (j = upfront ? (i ? nconn : 0) : i; j < last; j++) {
				ret = sanverbs_ep_accept(lis, 60000, &eps[j]);
				if (ret) {
					fprintf(stderr, "peer accept: %s\n",
						sanverbs_strerror(ret));
					_exit(4);
				}
			}
			st = fn(eps[i], i, arg);
			sanverbs_ep_close(eps[i]);
		}
		sanverbs_ep_close(lis);
		sanverbs_ctx_close(ctx);
		_exit(st);
	}
	close(fds[1]);
	if (read(fds[0], &p->port, sizeof(p->port)) != sizeof(p->port)) {
		close(fds[0]);
		sv_peer_wait(p, 10);
		ck_abort_msg("peer did not start listening");
	}
	close(fds[0]);
}

int sv_peer_wait(struct sv_peer *p, int timeout_s)
{
	int st, i;

	for (i = 0; i < timeout_s * 20; i++) {
		pid_t r = waitpid(p->pid, &st, WNOHANG);

		if (r == p->pid) {
			if (WIFEXITED(st))
				return WEXITSTATUS(st);
			return 128 + WTERMSIG(st);
		}
		usleep(50000);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	ck_abort_msg("peer did not finish within %d s", timeout_s);
	return -1;
}

struct sanverbs_wc sv_wait1(struct sanverbs_ep *ep, int timeout_ms)
{
	struct sanverbs_wc wc;
	int n = sanverbs_ep_wait(ep, &wc, 1, timeout_ms);

	if (n != 1)
		ck_abort_msg("no completion: %s", sanverbs_strerror(n));
	return wc;
}

void sv_send_sync(struct sanverbs_ep *ep, struct sanverbs_mr *mr,
		  const void *buf, size_t len)
{
	struct sanverbs_wc wc;

	ck_assert_int_eq(sanverbs_ep_post_send(ep, SV_REG(mr), buf, len, 0x5e, 0), 0);
	wc = sv_wait1(ep, 30000);
	ck_assert_int_eq(wc.status, 0);
	ck_assert_uint_eq(wc.opcode, SANVERBS_WC_SEND);
}

size_t sv_recv_sync(struct sanverbs_ep *ep, struct sanverbs_mr *mr, void *buf,
		    size_t len)
{
	struct sanverbs_wc wc;

	ck_assert_int_eq(sanverbs_ep_post_recv(ep, SV_REG(mr), buf, len, 0xec), 0);
	wc = sv_wait1(ep, 30000);
	ck_assert_int_eq(wc.status, 0);
	ck_assert_uint_eq(wc.opcode, SANVERBS_WC_RECV);
	return wc.byte_len;
}

long sv_vm_pinned_kb(void)
{
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	long kb = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "VmPin: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb;
}
