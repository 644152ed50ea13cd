/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sv-peer.h"
#include "sv-test.h"

enum side { SIDE_BOTH, SIDE_A, SIDE_B };

static enum side my_side;
static const struct sv_role *role_tab;
static size_t role_n;
static pid_t main_pid;

/* What side A asks side B for, in network byte order on the wire. */
#define REQ_MAGIC 0x53565052u /* "SVPR" */
#define REQ_BYE 0xffffffffu   /* side A is done */
#define REQ_MAX_ARG 4096u
struct req {
	uint32_t magic, role, nconn, upfront, size;
};

/* One side-B process: an endpoint role over @nconn connections, or a
 * whole process. */
struct job {
	sv_peer_fn serve;
	sv_proc_fn run;
	int nconn, upfront;
	void *arg;
};

static const char *env_or_null(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

void sv_sides(struct sv_side *a, struct sv_side *b)
{
	if (env_or_null("SANVERBS_IP_A") && env_or_null("SANVERBS_IP_B") &&
	    env_or_null("SANVERBS_RXE_A") && env_or_null("SANVERBS_RXE_B")) {
		a->ns = env_or_null("SANVERBS_NS_A");
		b->ns = env_or_null("SANVERBS_NS_B");
		a->ip = getenv("SANVERBS_IP_A");
		b->ip = getenv("SANVERBS_IP_B");
		a->dev = getenv("SANVERBS_RXE_A");
		b->dev = getenv("SANVERBS_RXE_B");
		return;
	}
	if (my_side != SIDE_BOTH) {
		fprintf(stderr, "--side=a|b needs SANVERBS_IP_A/B and "
				"SANVERBS_RXE_A/B\n");
		exit(2);
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

/* ---- side B's processes ------------------------------------------------ */

/* Listens on side B, reports the port, accepts and serves (see
 * sv_peer_start). Runs in the side-B child; returns its exit status. */
static int serve_conns(const struct job *j, int report_fd)
{
	struct sanverbs_ep *lis, *eps[16];
	struct sanverbs_ctx_attr attr;
	struct sanverbs_ctx *ctx;
	struct sv_side a, b;
	uint16_t port;
	int i, ret, st = 0;

	/* no ck_assert here: on side B no Check test is running, and Check
	 * exits on any assertion it cannot report, even a passing one */
	sv_sides(&a, &b);
	sv_enter_ns(b.ns);
	ret = sanverbs_ctx_attr_init(&attr);
	attr.device = b.dev;
	if (!ret)
		ret = sanverbs_ctx_open(&attr, &ctx);
	if (ret) {
		fprintf(stderr, "peer: open %s: %s\n", b.dev,
			sanverbs_strerror(ret));
		return 3;
	}
	ret = sanverbs_ep_listen(ctx, b.ip, 0, 16, NULL, &lis);
	if (ret) {
		fprintf(stderr, "peer listen: %s\n", sanverbs_strerror(ret));
		return 3;
	}
	port = sanverbs_ep_local_port(lis);
	if (write(report_fd, &port, sizeof(port)) != sizeof(port))
		return 3;
	close(report_fd);
	for (i = 0; i < j->nconn && i < 16; i++) {
		int k, last = j->upfront ? j->nconn : i + 1;

		for (k = j->upfront ? (i ? j->nconn : 0) : i; k < last; k++) {
			ret = sanverbs_ep_accept(lis, 60000, &eps[k]);
			if (ret) {
				fprintf(stderr, "peer accept: %s\n",
					sanverbs_strerror(ret));
				return 4;
			}
		}
		st = j->serve(eps[i], i, j->arg);
		sanverbs_ep_close(eps[i]);
	}
	sanverbs_ep_close(lis);
	sanverbs_ctx_close(ctx);
	return st;
}

static int job_run(const struct job *j, int report_fd)
{
	alarm(300); /* a stuck peer must never outlive the test */
	return j->serve ? serve_conns(j, report_fd) : j->run(report_fd, j->arg);
}

static int status_of(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int io_all(int fd, void *buf, size_t len, int rd, int timeout_ms)
{
	size_t done = 0;

	while (done < len) {
		struct pollfd p = { .fd = fd, .events = rd ? POLLIN : POLLOUT };
		ssize_t n;

		if (poll(&p, 1, timeout_ms) <= 0)
			return -ETIMEDOUT;
		n = rd ? read(fd, (char *)buf + done, len - done) :
			 write(fd, (const char *)buf + done, len - done);
		if (n == 0)
			return -EPIPE;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		done += (size_t)n;
	}
	return 0;
}

/* ---- side A: the two sides over TCP ------------------------------------ */

static uint16_t ctl_port(void)
{
	const char *p = env_or_null("SANVERBS_PEER_PORT");

	return p ? (uint16_t)atoi(p) : 47991;
}

/* Connects to side B's request port, retrying for up to @wait_s while side
 * B is not listening yet. Returns the socket or -errno. */
static int ctl_connect(const char *ip, int wait_s)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(ctl_port()) };
	time_t end = time(NULL) + wait_s;
	int fd, err;

	if (inet_pton(AF_INET, ip, &sin.sin_addr) != 1)
		return -EINVAL;
	for (;;) {
		fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0)
			return -errno;
		if (!connect(fd, (struct sockaddr *)&sin, sizeof(sin)))
			return fd;
		err = -errno;
		close(fd);
		if (time(NULL) >= end)
			return err;
		usleep(250000);
	}
}

static uint32_t role_index(const struct job *j)
{
	size_t i;

	for (i = 0; i < role_n; i++)
		if ((j->serve && role_tab[i].serve == j->serve) ||
		    (j->run && role_tab[i].run == j->run))
			return (uint32_t)i;
	ck_abort_msg("peer role missing from the table given to sv_peer_main");
	return 0;
}

/* Asks side B to run @j; returns once it reported its port. */
static void start_remote(struct sv_peer *p, const struct job *j, size_t size)
{
	struct req r = { htonl(REQ_MAGIC), htonl(role_index(j)),
			 htonl((uint32_t)j->nconn), htonl((uint32_t)j->upfront),
			 htonl((uint32_t)size) };
	struct sv_side a, b;
	unsigned char type;
	int32_t st;
	int fd, ret;

	ck_assert_uint_le(size, REQ_MAX_ARG);
	sv_sides(&a, &b);
	fd = ctl_connect(b.ip, 60);
	if (fd < 0)
		ck_abort_msg("side B (%s:%u) does not answer: %s", b.ip,
			     ctl_port(), strerror(-fd));
	if (io_all(fd, &r, sizeof(r), 0, 10000) ||
	    (size && io_all(fd, j->arg, size, 0, 10000)))
		ck_abort_msg("cannot send the request to side B");
	/* opening the device and listening takes a while under TCG */
	ret = io_all(fd, &type, 1, 1, 120000);
	if (ret)
		ck_abort_msg("side B said nothing: %s", strerror(-ret));
	if (type != 'P') {
		ret = io_all(fd, &st, sizeof(st), 1, 10000);
		ck_abort_msg("side B's peer ended (status %d) before it listened",
			     ret ? -1 : (int)ntohl((uint32_t)st));
	}
	if (io_all(fd, &p->port, sizeof(p->port), 1, 10000))
		ck_abort_msg("side B did not send its port");
	p->pid = 0;
	p->sock = fd;
	p->ip = b.ip;
}

/* With --side=a, side B learns at exit that no request will follow. */
static void say_bye(void)
{
	struct sv_side a, b;
	struct req r = { htonl(REQ_MAGIC), htonl(REQ_BYE), 0, 0, 0 };
	int fd;

	if (getpid() != main_pid)
		return;
	sv_sides(&a, &b);
	fd = ctl_connect(b.ip, 10);
	if (fd < 0 || io_all(fd, &r, sizeof(r), 0, 10000))
		fprintf(stderr, "could not tell side B we are done\n");
	if (fd >= 0)
		close(fd);
}

/* ---- both sides -------------------------------------------------------- */

static void start(struct sv_peer *p, const struct job *j, size_t size)
{
	struct sv_side a, b;
	int fds[2];

	memset(p, 0, sizeof(*p));
	if (my_side == SIDE_A) {
		start_remote(p, j, size);
		return;
	}
	sv_sides(&a, &b);
	p->ip = b.ip;
	p->sock = -1;
	ck_assert_int_eq(pipe(fds), 0);
	fflush(NULL);
	p->pid = fork();
	ck_assert_int_ge(p->pid, 0);
	if (p->pid == 0) {
		close(fds[0]);
		_exit(job_run(j, fds[1]));
	}
	close(fds[1]);
	if (read(fds[0], &p->port, sizeof(p->port)) != sizeof(p->port)) {
		close(fds[0]);
		sv_peer_wait(p, 10);
		ck_abort_msg("peer did not start listening");
	}
	close(fds[0]);
}

void sv_peer_start(struct sv_peer *p, int nconn, int upfront, sv_peer_fn fn,
		   void *arg, size_t size)
{
	struct job j = { .serve = fn, .nconn = nconn, .upfront = upfront,
			 .arg = arg };

	start(p, &j, size);
}

void sv_proc_start(struct sv_peer *p, sv_proc_fn fn, void *arg, size_t size)
{
	struct job j = { .run = fn, .arg = arg };

	start(p, &j, size);
}

int sv_peer_wait(struct sv_peer *p, int timeout_s)
{
	int st, i;

	if (p->pid <= 0) {
		unsigned char type;
		int32_t v;

		if (io_all(p->sock, &type, 1, 1, timeout_s * 1000) ||
		    type != 'S' || io_all(p->sock, &v, sizeof(v), 1, 10000)) {
			close(p->sock);
			ck_abort_msg("side B's peer did not finish within %d s",
				     timeout_s);
		}
		close(p->sock);
		return (int)ntohl((uint32_t)v);
	}
	for (i = 0; i < timeout_s * 20; i++) {
		pid_t r = waitpid(p->pid, &st, WNOHANG);

		if (r == p->pid)
			return status_of(st);
		usleep(50000);
	}
	kill(p->pid, SIGKILL);
	waitpid(p->pid, &st, 0);
	ck_abort_msg("peer did not finish within %d s", timeout_s);
	return -1;
}

/* ---- side B: the request server ---------------------------------------- */

static int send_msg(int fd, unsigned char type, const void *v, size_t len)
{
	unsigned char buf[8];

	buf[0] = type;
	memcpy(buf + 1, v, len);
	return io_all(fd, buf, 1 + len, 0, 10000);
}

/* Runs one request on connection @cfd: forks the job, relays its port and
 * its exit status. Side A closing the connection early kills the job. */
static void serve_request(int cfd, const struct req *r, void *arg)
{
	struct job j = { .nconn = (int)r->nconn, .upfront = (int)r->upfront,
			 .arg = arg };
	int fds[2], st, killed = 0;
	uint16_t port;
	int32_t v;
	pid_t pid;

	j.serve = role_tab[r->role].serve;
	j.run = role_tab[r->role].run;
	if (pipe(fds))
		return;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return;
	if (pid == 0) {
		close(cfd);
		close(fds[0]);
		_exit(job_run(&j, fds[1]));
	}
	close(fds[1]);
	if (read(fds[0], &port, sizeof(port)) == sizeof(port))
		send_msg(cfd, 'P', &port, sizeof(port));
	close(fds[0]);
	for (;;) {
		struct pollfd p = { .fd = cfd, .events = POLLIN };

		if (waitpid(pid, &st, WNOHANG) == pid)
			break;
		/* nothing more is expected from side A: readable means gone */
		if (!killed && poll(&p, 1, 100) > 0) {
			kill(pid, SIGKILL);
			killed = 1;
		} else if (killed) {
			usleep(100000);
		}
	}
	v = (int32_t)htonl((uint32_t)status_of(st));
	send_msg(cfd, 'S', &v, sizeof(v));
}

static int serve_side_b(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(ctl_port()) };
	static unsigned char arg[REQ_MAX_ARG];
	struct sv_side a, b;
	int lfd, one = 1, served = 0;

	sv_sides(&a, &b);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || inet_pton(AF_INET, b.ip, &sin.sin_addr) != 1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) || listen(lfd, 4)) {
		fprintf(stderr, "side b: cannot listen on %s:%u: %s\n", b.ip,
			ctl_port(), strerror(errno));
		return 1;
	}
	printf("side b: waiting for side A on %s:%u (device %s)\n", b.ip,
	       ctl_port(), b.dev);
	fflush(stdout);
	for (;;) {
		struct pollfd p = { .fd = lfd, .events = POLLIN };
		struct req r;
		int cfd;

		if (poll(&p, 1, 120000) <= 0) {
			fprintf(stderr, "side b: side A silent for 120 s after "
					"%d requests\n", served);
			return 1;
		}
		cfd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
		if (cfd < 0)
			continue;
		/* every byte from the network is hostile: check it all */
		if (io_all(cfd, &r, sizeof(r), 1, 10000) ||
		    ntohl(r.magic) != REQ_MAGIC) {
			fprintf(stderr, "side b: a malformed request\n");
			close(cfd);
			return 1;
		}
		r.role = ntohl(r.role);
		r.nconn = ntohl(r.nconn);
		r.upfront = ntohl(r.upfront);
		r.size = ntohl(r.size);
		if (r.role == REQ_BYE) {
			close(cfd);
			printf("side b: served %d requests, side A is done\n",
			       served);
			return 0;
		}
		if (r.role >= role_n || r.size > REQ_MAX_ARG || r.nconn > 16 ||
		    (r.size && io_all(cfd, arg, r.size, 1, 10000))) {
			fprintf(stderr, "side b: a request out of range\n");
			close(cfd);
			return 1;
		}
		serve_request(cfd, &r, r.size ? arg : NULL);
		close(cfd);
		served++;
	}
}

void sv_peer_main(int argc, char **argv, const struct sv_role *roles,
		  size_t nroles)
{
	const char *s = "both";
	int i;

	role_tab = roles;
	role_n = nroles;
	for (i = 1; i < argc; i++) {
		if (!strncmp(argv[i], "--side=", 7)) {
			s = argv[i] + 7;
		} else if (!strcmp(argv[i], "--side") && i + 1 < argc) {
			s = argv[++i];
		} else {
			fprintf(stderr, "usage: %s [--side=both|a|b]\n", argv[0]);
			exit(2);
		}
	}
	if (!strcmp(s, "a")) {
		my_side = SIDE_A;
	} else if (!strcmp(s, "b")) {
		my_side = SIDE_B;
	} else if (strcmp(s, "both")) {
		fprintf(stderr, "--side must be both, a or b\n");
		exit(2);
	}
	if (my_side == SIDE_B)
		exit(serve_side_b());
	if (my_side == SIDE_A) {
		main_pid = getpid();
		atexit(say_bye);
	}
}

struct sanverbs_wc sv_wait1(struct sanverbs_ep *ep, int timeout_ms)
{
	struct sanverbs_wc wc;
	int n = sanverbs_ep_wait(ep, &wc, 1, timeout_ms);

	if (n != 1)
		ck_abort_msg("no completion: %s", sanverbs_strerror(n));
	return wc;
}

size_t sv_send_recv_sync(struct sanverbs_ep *ep, struct sanverbs_mr *mr,
			 const void *buf, size_t len)
{
	struct sanverbs_wc wc;
	size_t got = 0;
	int sent = 0, have = 0;

	ck_assert_int_eq(sanverbs_ep_post_send(ep, SV_REG(mr), buf, len, 0x5e, 0), 0);
	while (!sent || !have) {
		wc = sv_wait1(ep, 60000);
		ck_assert_int_eq(wc.status, 0);
		if (wc.opcode == SANVERBS_WC_SEND) {
			sent = 1;
		} else {
			ck_assert_uint_eq(wc.opcode, SANVERBS_WC_RECV);
			got = wc.byte_len;
			have = 1;
		}
	}
	return got;
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
