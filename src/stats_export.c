/* SPDX-License-Identifier: MIT */
/* The SANVERBS_STATS socket (see stats_export.h). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "ctx.h"
#include "lib/thread.h"
#include "stats_export.h"
#include "util.h"

#define SV_STATS_MAX_CTX 64
#define SV_STATS_BUF 8192

/* life_lock orders starting and stopping the server; reg_lock guards the
 * list, and is all a snapshot takes, so stopping (which joins the thread)
 * never waits on a lock the thread needs. */
static pthread_mutex_t life_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sanverbs_ctx *listed[SV_STATS_MAX_CTX];
static int nlisted;
static pthread_t server;
static int server_on;
static pid_t server_pid;
static int listen_fd = -1;
static int stop_pipe[2] = { -1, -1 };

static int enabled(void)
{
	const char *s = getenv("SANVERBS_STATS");

	return s && !strcmp(s, "1");
}

static const char *monitor_name(enum sanverbs_monitor m)
{
	switch (m) {
	case SANVERBS_MONITOR_UFFD: return "uffd";
	case SANVERBS_MONITOR_KMOD: return "kmod";
	case SANVERBS_MONITOR_NONE: return "none";
	default: return "auto";
	}
}

/* Caller holds reg_lock, so no listed context can be closed meanwhile. */
static size_t snapshot_locked(char *buf, size_t len)
{
	size_t off = 0;
	int i;

#define PUT(...)                                                             \
	do {                                                                 \
		int n_ = snprintf(buf + off, len - off, __VA_ARGS__);        \
		if (n_ < 0 || (size_t)n_ >= len - off)                       \
			goto full;                                           \
		off += (size_t)n_;                                           \
	} while (0)

	if (!len)
		return 0;
	buf[0] = 0;
	PUT("%s\npid %ld\n", SV_STATS_PROTO, (long)getpid());
	for (i = 0; i < nlisted; i++) {
		struct sanverbs_cache_stats st;

		PUT("ctx %d %s\n", i, sanverbs_ctx_device_name(listed[i]));
		if (sanverbs_cache_stats(listed[i], &st)) {
			PUT("error stats-unavailable\n");
			continue;
		}
		PUT("hits %llu\nmisses %llu\nevictions %llu\n"
		    "invalidations %llu\nuncached %llu\nentries %llu\n"
		    "bytes_pinned %llu\nmonitor %s\nflags %u\n",
		    (unsigned long long)st.hits,
		    (unsigned long long)st.misses,
		    (unsigned long long)st.evictions,
		    (unsigned long long)st.invalidations,
		    (unsigned long long)st.uncached,
		    (unsigned long long)st.entries,
		    (unsigned long long)st.bytes_pinned,
		    monitor_name(st.monitor), st.flags);
	}
	PUT("end\n");
	return off;
full:
	/* A cut snapshot has no "end" line: the client sees it is partial. */
	return off;
#undef PUT
}

size_t sv_stats_export_snapshot(char *buf, size_t len)
{
	size_t n;

	pthread_mutex_lock(&reg_lock);
	n = snapshot_locked(buf, len);
	pthread_mutex_unlock(&reg_lock);
	return n;
}

static int peer_allowed(int fd)
{
	struct ucred cr;
	socklen_t l = sizeof(cr);

	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &l))
		return 0;
	return cr.uid == 0 || cr.uid == getuid();
}

static void *serve(void *arg)
{
	char *buf = malloc(SV_STATS_BUF);

	(void)arg;
	for (;;) {
		struct pollfd p[2] = {
			{ .fd = listen_fd, .events = POLLIN },
			{ .fd = stop_pipe[0], .events = POLLIN },
		};
		size_t n, off = 0;
		int c;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		c = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		if (buf && peer_allowed(c)) {
			n = sv_stats_export_snapshot(buf, SV_STATS_BUF);
			/* A client that stops reading must not hold us. */
			while (off < n) {
				ssize_t w = send(c, buf + off, n - off,
						 MSG_NOSIGNAL | MSG_DONTWAIT);

				if (w <= 0)
					break;
				off += (size_t)w;
			}
		}
		close(c);
	}
	free(buf);
	return NULL;
}

/* Caller holds reg_lock. */
static int start_server(void)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	socklen_t alen;
	int n, ret;

	/* Abstract name: no file to clean up, gone with the process. */
	n = snprintf(a.sun_path + 1, sizeof(a.sun_path) - 1, "%s%ld",
		     SV_STATS_SOCK_PREFIX, (long)getpid());
	alen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + n);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (listen_fd < 0)
		return -errno;
	if (bind(listen_fd, (struct sockaddr *)&a, alen) ||
	    listen(listen_fd, 8) || pipe2(stop_pipe, O_CLOEXEC)) {
		int err = -errno;

		close(listen_fd);
		listen_fd = -1;
		return err;
	}
	/* The application's signal handlers must never run on our thread. */
	ret = sv_thread_start(&server, serve, NULL);
	if (ret) {
		close(listen_fd);
		close(stop_pipe[0]);
		close(stop_pipe[1]);
		listen_fd = stop_pipe[0] = stop_pipe[1] = -1;
		return -EAGAIN;
	}
	server_on = 1;
	server_pid = getpid();
	return 0;
}

void sv_stats_export_add(struct sanverbs_ctx *ctx)
{
	static int warned;
	int ret = 0;

	if (!enabled())
		return;
	pthread_mutex_lock(&life_lock);
	pthread_mutex_lock(&reg_lock);
	/* A forked child inherits our list but not the thread. */
	if (server_on && server_pid != getpid()) {
		server_on = 0;
		nlisted = 0;
		listen_fd = stop_pipe[0] = stop_pipe[1] = -1;
	}
	if (nlisted == SV_STATS_MAX_CTX)
		ret = -ENOSPC;
	else if (!server_on)
		ret = start_server();
	if (!ret)
		listed[nlisted++] = ctx;
	pthread_mutex_unlock(&reg_lock);
	pthread_mutex_unlock(&life_lock);
	if (ret && !warned) {
		warned = 1;
		fprintf(stderr, "sanverbs: SANVERBS_STATS: cannot export "
			"counters: %s\n", strerror(-ret));
	}
}

void sv_stats_export_remove(struct sanverbs_ctx *ctx)
{
	int i, stop = 0;
	pthread_t t;

	pthread_mutex_lock(&life_lock);
	pthread_mutex_lock(&reg_lock);
	for (i = 0; i < nlisted; i++) {
		if (listed[i] != ctx)
			continue;
		listed[i] = listed[--nlisted];
		break;
	}
	if (!nlisted && server_on && server_pid == getpid()) {
		stop = 1;
		server_on = 0;
		t = server;
	}
	pthread_mutex_unlock(&reg_lock);
	if (stop) {
		/* Joined outside reg_lock: the thread may be taking a
		 * snapshot. A one-byte write to an empty pipe cannot fail. */
		ssize_t w = write(stop_pipe[1], "x", 1);

		(void)w;
		pthread_join(t, NULL);
		close(listen_fd);
		close(stop_pipe[0]);
		close(stop_pipe[1]);
		listen_fd = stop_pipe[0] = stop_pipe[1] = -1;
	}
	pthread_mutex_unlock(&life_lock);
}
