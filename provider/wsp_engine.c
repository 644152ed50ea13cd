/* SPDX-License-Identifier: MIT */
/* The completion engine: one thread per device context, asleep in
 * epoll_wait on every connected socket's endpoint descriptor (its
 * completion and connection events), reaping and indicating what completed.
 * Not a thread per socket: a process with many SAN sockets on one device
 * has one engine for all of them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "wsp_priv.h"

#define ENG_WAKE UINT64_MAX
#define CLOSE_DRAIN_MS 2000
/* How often the engine looks at the sockets a switch polls. */
#define POLLED_RECHECK_MS 1

struct wsp_engine {
	pthread_t thr;
	pthread_mutex_t lock;
	int epfd;
	int wake;
	int stop;
	struct wsp_done_list dl;
	/* Sockets whose completion events are off while the switch polls,
	 * under a lock of their own: the engine's look at them every
	 * POLLED_RECHECK_MS must not wait for a poller that holds the
	 * engine's lock (that wait cost a futex sleep and wakeup a tick). */
	pthread_mutex_t list_lock;
	SOCKET deferred[WSP_MAX_SOCKETS];
	int ndeferred;
	/* stopped from its own thread: frees itself on the way out */
	int self_free;
};

static long long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (long long)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Turns @so's completion events on or off in the engine's epoll set. */
static void watch(struct wsp_engine *eng, struct wsp_sock *so, int on)
{
	struct epoll_event ev = { .events = on ? EPOLLIN : 0 };
	int fd = sanverbs_ep_fd(so->ep);

	ev.data.u64 = wsp_sock_id(so);
	if (fd >= 0)
		epoll_ctl(eng->epfd, EPOLL_CTL_MOD, fd, &ev);
	so->deferred = !on;
}

/* Whether the switch polled @so since the engine last asked (engine thread
 * only: polls_seen is the engine's). */
static int polls_since(struct wsp_sock *so)
{
	unsigned int p = __atomic_load_n(&so->polls, __ATOMIC_RELAXED);
	int polled = p != so->polls_seen;

	so->polls_seen = p;
	return polled;
}

/* The engine drives socket @s under its lock and indicates after
 * unlocking. A socket the switch has polled since the engine last looked
 * is reaped without arming and its events are turned off: a switch polling
 * in a loop would otherwise have the engine woken (and the completion
 * queue re-armed, a system call on rxe) for every completion it reaps
 * itself. The engine looks at it again every POLLED_RECHECK_MS and arms
 * it once the polling stopped, so nothing waits longer than that for an
 * indication the switch does not poll for. Returns whether @s stays
 * deferred. */
static int drive(struct wsp_engine *eng, SOCKET s, struct wsp_done_list *dl)
{
	struct wsp_sock *so;
	int err, deferred = 0;

	pthread_mutex_lock(&eng->lock);
	so = wsp_get(s, &err);
	/* a closing socket is drained by its close, under this lock */
	if (so && so->eng == eng && so->ep && !so->closing) {
		int polled;

		pthread_mutex_lock(&so->lock);
		polled = polls_since(so);
		wsp_progress(so, dl, !polled);
		/* only the poll path turns events off: it also lists it */
		if (!polled && so->deferred)
			watch(eng, so, 1);
		deferred = so->deferred;
		pthread_mutex_unlock(&so->lock);
	} else if (so && so->eng == eng && so->lis) {
		/* a connection request waits (one shot: re-armed by
		 * WSPAccept) */
		pthread_mutex_lock(&so->lock);
		wsp_event_note(so, FD_ACCEPT, 0, dl);
		pthread_mutex_unlock(&so->lock);
	}
	pthread_mutex_unlock(&eng->lock);
	wsp_indicate(dl);
	wsp_event_signal(s, dl);
	return deferred;
}

void wsp_drive(SOCKET s)
{
	struct wsp_done_list dl = { 0 };
	struct wsp_engine *eng;
	struct wsp_sock *so;
	int err;

	pthread_mutex_lock(&wsp_lock);
	so = wsp_get(s, &err);
	eng = so ? so->eng : NULL;
	pthread_mutex_unlock(&wsp_lock);
	/* The engine holds its lock while it reaps: then there is nothing
	 * to add, and waiting for it would only make the poller slower. */
	if (!eng || pthread_mutex_trylock(&eng->lock))
		return;
	so = wsp_get(s, &err);
	if (so && so->eng == eng && so->ep && !so->closing) {
		pthread_mutex_lock(&so->lock);
		/* only a poll that reaped counts: one that always finds the
		 * engine busy must not keep the engine away too */
		__atomic_add_fetch(&so->polls, 1, __ATOMIC_RELAXED);
		wsp_progress(so, &dl, 0);
		if (!so->deferred) {
			uint64_t one = 1;
			int first;

			/* first poll: from now on the engine stays away */
			watch(eng, so, 0);
			pthread_mutex_lock(&eng->list_lock);
			if (eng->ndeferred < WSP_MAX_SOCKETS)
				eng->deferred[eng->ndeferred++] = s;
			first = eng->ndeferred == 1;
			pthread_mutex_unlock(&eng->list_lock);
			/* an engine asleep without a timeout must start
			 * looking at it */
			if (first && write(eng->wake, &one, sizeof(one)) < 0)
				watch(eng, so, 1);
		}
		pthread_mutex_unlock(&so->lock);
	}
	pthread_mutex_unlock(&eng->lock);
	wsp_indicate(&dl);
	wsp_event_signal(s, &dl);
	wsp_done_list_free(&dl);
}

/* Whether @s is a deferred socket of @eng that the switch polled since
 * the last look: then it stays as it is, and neither the engine's lock nor
 * the socket's is taken, which a spinning poller holds most of the time.
 * Anything else (closed, reused, no longer polled) goes to drive(). */
static int still_polled(struct wsp_engine *eng, SOCKET s)
{
	struct wsp_sock *so;
	int err;

	so = wsp_get(s, &err);
	return so && so->eng == eng && so->deferred && polls_since(so);
}

/* Looks at every deferred socket: keeps those still polled. */
static void recheck(struct wsp_engine *eng)
{
	SOCKET ids[WSP_MAX_SOCKETS];
	int i, n, keep = 0;

	pthread_mutex_lock(&eng->list_lock);
	n = eng->ndeferred;
	memcpy(ids, eng->deferred, sizeof(ids[0]) * (size_t)n);
	eng->ndeferred = 0;
	pthread_mutex_unlock(&eng->list_lock);
	for (i = 0; i < n; i++)
		if (still_polled(eng, ids[i]) || drive(eng, ids[i], &eng->dl))
			ids[keep++] = ids[i];
	pthread_mutex_lock(&eng->list_lock);
	/* the poll path may have added some meanwhile */
	for (i = 0; i < keep && eng->ndeferred < WSP_MAX_SOCKETS; i++)
		eng->deferred[eng->ndeferred++] = ids[i];
	pthread_mutex_unlock(&eng->list_lock);
}

static void engine_free(struct wsp_engine *eng)
{
	close(eng->epfd);
	close(eng->wake);
	wsp_done_list_free(&eng->dl);
	pthread_mutex_destroy(&eng->list_lock);
	pthread_mutex_destroy(&eng->lock);
	free(eng);
}

static void *engine_main(void *arg)
{
	struct wsp_engine *eng = arg;
	long long last = now_ms();

	for (;;) {
		struct epoll_event ev[16];
		int i, n, tmo;

		pthread_mutex_lock(&eng->list_lock);
		tmo = eng->ndeferred ? POLLED_RECHECK_MS : -1;
		pthread_mutex_unlock(&eng->list_lock);
		n = epoll_wait(eng->epfd, ev, 16, tmo);
		if (n < 0 && errno != EINTR)
			break;
		for (i = 0; i < n; i++) {
			uint64_t v;

			if (ev[i].data.u64 == ENG_WAKE) {
				/* stop, or a socket deferred: looked at below */
				if (read(eng->wake, &v, sizeof(v)) < 0)
					v = 0;
				continue;
			}
			drive(eng, (SOCKET)ev[i].data.u64, &eng->dl);
		}
		if (tmo >= 0 && now_ms() - last >= POLLED_RECHECK_MS) {
			recheck(eng);
			last = now_ms();
		}
		if (__atomic_load_n(&eng->stop, __ATOMIC_ACQUIRE))
			break;
	}
	if (eng->self_free)
		engine_free(eng);
	return NULL;
}

struct wsp_engine *wsp_engine_start(int *err)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = ENG_WAKE };
	struct wsp_engine *eng = calloc(1, sizeof(*eng));

	if (!eng) {
		*err = -ENOMEM;
		return NULL;
	}
	pthread_mutex_init(&eng->lock, NULL);
	pthread_mutex_init(&eng->list_lock, NULL);
	eng->epfd = epoll_create1(EPOLL_CLOEXEC);
	eng->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (eng->epfd < 0 || eng->wake < 0 ||
	    epoll_ctl(eng->epfd, EPOLL_CTL_ADD, eng->wake, &ev)) {
		*err = -errno;
		goto fail;
	}
	*err = -pthread_create(&eng->thr, NULL, engine_main, eng);
	if (*err)
		goto fail;
	return eng;
fail:
	if (eng->epfd >= 0)
		close(eng->epfd);
	if (eng->wake >= 0)
		close(eng->wake);
	free(eng);
	return NULL;
}

void wsp_engine_stop(struct wsp_engine *eng)
{
	uint64_t one = 1;

	if (!eng)
		return;
	__atomic_store_n(&eng->stop, 1, __ATOMIC_RELEASE);
	if (pthread_equal(pthread_self(), eng->thr)) {
		/* A completion routine run by the engine closed the last
		 * socket of its device. The engine cannot wait for itself:
		 * it ends once the routine has returned, and frees itself. */
		eng->self_free = 1;
		pthread_detach(eng->thr);
		return;
	}
	if (write(eng->wake, &one, sizeof(one)) != sizeof(one))
		return; /* cannot wake it: leave it rather than hang */
	pthread_join(eng->thr, NULL);
	engine_free(eng);
}

int wsp_engine_add(struct wsp_sock *so)
{
	struct epoll_event ev = { .events = EPOLLIN };
	int fd = sanverbs_ep_fd(so->ep);

	if (fd < 0)
		return fd;
	ev.data.u64 = wsp_sock_id(so);
	if (epoll_ctl(so->eng->epfd, EPOLL_CTL_ADD, fd, &ev))
		return -errno;
	return 0;
}

void wsp_engine_watch_listener(struct wsp_sock *so)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLONESHOT };
	int fd = sanverbs_ep_fd(so->lis);

	if (fd < 0 || !so->eng)
		return;
	ev.data.u64 = wsp_sock_id(so);
	if (epoll_ctl(so->eng->epfd, EPOLL_CTL_MOD, fd, &ev) && errno == ENOENT)
		epoll_ctl(so->eng->epfd, EPOLL_CTL_ADD, fd, &ev);
}

void wsp_engine_forget(struct wsp_sock *so)
{
	int fd = so->lis ? sanverbs_ep_fd(so->lis) : -1;

	if (fd < 0 || !so->eng)
		return;
	pthread_mutex_lock(&so->eng->lock);
	epoll_ctl(so->eng->epfd, EPOLL_CTL_DEL, fd, NULL);
	pthread_mutex_unlock(&so->eng->lock);
}

static int outstanding(struct wsp_sock *so)
{
	int i, n = 0;

	for (i = 0; i < WSP_MAX_OPS; i++)
		if (so->ops[i].kind && !so->ops[i].done)
			n++;
	return n - so->rq_n;
}

void wsp_engine_cancel(struct wsp_sock *so)
{
	struct wsp_done_list dl = { 0 };
	long long deadline;
	int i, fd;

	if (!so->eng || !so->ep || !so->ops)
		return;
	pthread_mutex_lock(&so->eng->lock);
	fd = sanverbs_ep_fd(so->ep);
	if (fd >= 0)
		epoll_ctl(so->eng->epfd, EPOLL_CTL_DEL, fd, NULL);
	pthread_mutex_lock(&so->lock);
	so->closing = 1;
	/* From here the engine and the poll path leave the socket alone
	 * (closing, seen under this lock): drain it without holding up the
	 * engine's other sockets for as long as the drain takes. */
	pthread_mutex_unlock(&so->eng->lock);
	/* Flush the queue: every work request completes (flushed). */
	sanverbs_ep_disconnect(so->ep);
	deadline = now_ms() + CLOSE_DRAIN_MS;
	while (outstanding(so) && now_ms() < deadline) {
		struct sanverbs_wc wc[16];
		int n = sanverbs_ep_poll(so->ep, wc, 16);

		for (i = 0; i < n; i++)
			wsp_handle_wc(so, &wc[i], &dl);
	}
	/* What the device never gave back is aborted all the same: the QP
	 * goes with the endpoint, nothing of it lands after this. */
	for (i = 0; i < WSP_MAX_OPS; i++) {
		struct wsp_op *op = &so->ops[i];

		if (op->kind && !op->done && op->kind != WSP_OP_RECV) {
			op->err = WSA_OPERATION_ABORTED;
			wsp_op_finish(so, op, &dl);
		}
	}
	wsp_serve_recvs(so, &dl);
	pthread_mutex_unlock(&so->lock);
	wsp_indicate(&dl);
	wsp_done_list_free(&dl);
}
