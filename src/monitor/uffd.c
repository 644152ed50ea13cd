/* SPDX-License-Identifier: MIT */
/* userfaultfd invalidation monitor (see monitor.h and docs/cache.md).
 *
 * Ranges are registered in write-protect mode without ever write-protecting
 * a page: the UNMAP/REMOVE/REMAP events are delivered for every registered
 * VMA whatever its mode, while WP mode never raises a fault on a missing
 * page. That removes the SIGBUS/EFAULT hazard of MISSING mode for kernel
 * accesses (pinning, read() into the buffer) when the fd is
 * UFFD_USER_MODE_ONLY. MISSING mode is used only where WP registration is
 * refused and the fd is privileged, so every fault is a message we answer. */
#define _GNU_SOURCE /* pthread_setname_np() */
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "lib/itree.h"
#include "lib/thread.h"
#include "monitor.h"
#include "uffd_hooks.h"
#include "util.h"
#include "vma_kind.h"

#ifndef USERFAULTFD_IOC_NEW
#define USERFAULTFD_IOC_NEW _IO(0xAA, 0x00)
#endif
#ifndef UFFD_USER_MODE_ONLY
#define UFFD_USER_MODE_ONLY 1
#endif

#define SV_UFFD_FEATURES                                                     \
	(UFFD_FEATURE_EVENT_UNMAP | UFFD_FEATURE_EVENT_REMOVE |              \
	 UFFD_FEATURE_EVENT_REMAP)

/* watch->token: which mode the range was registered with. */
#define TOKEN_WP 1
#define TOKEN_MISSING 2

/* A range this fd registered and no event has touched since. */
struct known {
	struct sv_itree_node node;
	uint64_t token;
	struct known *next; /* on ->dead, or a local list */
};

/* Ranges known to be registered spare a miss the UFFDIO_REGISTER (a
 * syscall and the mmap write lock) when an evicted or invalidated range is
 * registered again. The known set, ->dead and ->gen are guarded by the
 * cache lock (m.lock; klock only when no cache set one), so the cache can
 * ask known() inside the critical section it already holds for the miss.
 * Why a skipped register is still race-free:
 *  - the cache puts its pending entry in the tree before watch() (or
 *    in the same critical section as known()), and the monitor thread
 *    forgets a range (forget()) in the same critical section of the cache
 *    lock in which it reads the range's event and invalidates the tree;
 *  - so when watch() finds a range here, either its registration is still
 *    in place, or the change that removed it is an event not read yet,
 *    whose sink call will find the pending entry and kill it;
 *  - a registration is only recorded if no event was handled during its
 *    UFFDIO_REGISTER (->gen), so a registration an event undid at once is
 *    never recorded. Forgetting drops whole overlapping ranges: the set
 *    only ever under-states what the kernel has registered. */
struct uffd_monitor {
	struct sv_monitor m;
	int fd;
	int stop_fd;
	pthread_t thread;
	uintptr_t page_mask;
	pthread_mutex_t klock; /* known, dead, gen: if m.lock is not set */
	struct sv_itree known;
	struct known *dead; /* forgotten by the monitor thread, freed by watch */
	uint64_t gen;
	/* Bounds of what was ever known since the set last emptied, read
	 * without a lock by the munmap() hook to pass over unrelated unmaps
	 * (a stale read only makes it leave an unmap to its event). */
	uintptr_t lo, hi;
	struct sv_uffd_hook hook;
};

static struct uffd_monitor *to_uffd(struct sv_monitor *m)
{
	return container_of(m, struct uffd_monitor, m);
}

static void known_lock(struct uffd_monitor *u)
{
	if (u->m.lock)
		u->m.lock(u->m.sink_arg);
	else
		pthread_mutex_lock(&u->klock);
}

/* known_lock() if it is free now (the munmap() hook's thread may hold it
 * or be a signal handler that interrupted its holder). */
static bool known_trylock(struct uffd_monitor *u)
{
	if (u->m.trylock)
		return u->m.trylock(u->m.sink_arg);
	return !pthread_mutex_trylock(&u->klock);
}

static void known_unlock(struct uffd_monitor *u)
{
	if (u->m.unlock)
		u->m.unlock(u->m.sink_arg);
	else
		pthread_mutex_unlock(&u->klock);
}

static void page_range(const struct uffd_monitor *u, uintptr_t start,
		       size_t len, struct uffdio_range *r)
{
	uintptr_t s = start & ~u->page_mask;
	uintptr_t e = (start + len + u->page_mask) & ~u->page_mask;

	r->start = s;
	r->len = e - s;
}

static void free_known(struct known *k)
{
	struct known *nx;

	for (; k; k = nx) {
		nx = k->next;
		free(k);
	}
}

static int collect_known(struct sv_itree_node *n, void *arg)
{
	struct known *k = container_of(n, struct known, node), **head = arg;

	k->next = *head;
	*head = k;
	return 0;
}

/* Monitor thread, known_lock() held: [start, start + len) may no longer
 * be registered. Never frees (see cache/priv.h): watch() does that. */
static void forget(struct uffd_monitor *u, uintptr_t start, size_t len)
{
	struct known *list = NULL, *k, *nx;
	uintptr_t end = start + len < start ? UINTPTR_MAX : start + len;

	u->gen++;
	sv_itree_overlap(&u->known, start, end, collect_known, &list);
	for (k = list; k; k = nx) {
		nx = k->next;
		sv_itree_remove(&u->known, &k->node);
		k->next = u->dead;
		u->dead = k;
	}
	if (list && !u->known.count) {
		__atomic_store_n(&u->lo, UINTPTR_MAX, __ATOMIC_RELAXED);
		__atomic_store_n(&u->hi, 0, __ATOMIC_RELAXED);
	}
}

/* Records a registration made while @gen was current. */
static void remember(struct uffd_monitor *u, const struct uffdio_range *r,
		     uint64_t token, uint64_t gen)
{
	struct known *k = malloc(sizeof(*k));

	if (!k)
		return; /* the next watch just registers again */
	k->node.start = r->start;
	k->node.end = r->start + r->len;
	k->token = token;
	known_lock(u);
	if (u->gen == gen) {
		sv_itree_insert(&u->known, &k->node);
		if (k->node.start < u->lo)
			__atomic_store_n(&u->lo, k->node.start,
					 __ATOMIC_RELAXED);
		if (k->node.end > u->hi)
			__atomic_store_n(&u->hi, k->node.end, __ATOMIC_RELAXED);
		k = NULL;
	}
	known_unlock(u);
	free(k);
}

/* known_lock() held: true if all of @r is registered already (w->token
 * then says how). */
static bool known_covers(struct uffd_monitor *u, const struct uffdio_range *r,
			 struct sv_watch *w)
{
	struct sv_itree_node *n = sv_itree_find_cover(
		&u->known, r->start, r->start + r->len, NULL, NULL);

	if (n)
		w->token = container_of(n, struct known, node)->token;
	return n != NULL;
}

/* Cache lock held: the whole page range of @w is registered already. */
static bool uffd_known(struct sv_monitor *m, struct sv_watch *w)
{
	struct uffd_monitor *u = to_uffd(m);
	struct uffdio_range r;

	page_range(u, w->start, w->len, &r);
	return known_covers(u, &r, w);
}

static int uffd_watch(struct sv_monitor *m, struct sv_watch *w)
{
	struct uffd_monitor *u = to_uffd(m);
	struct uffdio_register reg;
	struct known *dead;
	uint64_t gen;
	bool have;

	memset(&reg, 0, sizeof(reg));
	page_range(u, w->start, w->len, &reg.range);
	known_lock(u);
	dead = u->dead;
	u->dead = NULL;
	gen = u->gen;
	have = known_covers(u, &reg.range, w);
	known_unlock(u);
	free_known(dead);
	if (have)
		return 0;

	/* A file mapping (memfd, tmpfs, hugetlbfs, SysV shm) loses its pages
	 * to truncate()/fallocate(PUNCH_HOLE) with no userfaultfd event, and
	 * 6.1 accepts WP registration on shmem: only anonymous memory (also
	 * shared anonymous and anonymous huge pages) may be watched; the rest
	 * is registered uncached. Paid once per newly watched range. */
	switch (sv_range_anonymous(reg.range.start, reg.range.len)) {
	case 1:
		break;
	case -EFAULT:
		return -EFAULT;
	default: /* a file mapping, or maps unreadable: do not cache */
		return -EOPNOTSUPP;
	}
	reg.mode = UFFDIO_REGISTER_MODE_WP;
	if (!ioctl(u->fd, UFFDIO_REGISTER, &reg)) {
		w->token = TOKEN_WP;
		remember(u, &reg.range, TOKEN_WP, gen);
		return 0;
	}
	if (errno == EINVAL && !(m->flags & SV_MONITOR_F_USER_MODE_ONLY)) {
		reg.mode = UFFDIO_REGISTER_MODE_MISSING;
		if (!ioctl(u->fd, UFFDIO_REGISTER, &reg)) {
			w->token = TOKEN_MISSING;
			remember(u, &reg.range, TOKEN_MISSING, gen);
			return 0;
		}
	}
	/* The kernel says EINVAL both for a hole and for a VMA it cannot
	 * watch; msync() tells them apart (ENOMEM: not all mapped). */
	if (errno == EINVAL &&
	    msync((void *)(uintptr_t)reg.range.start, reg.range.len, MS_ASYNC) &&
	    errno == ENOMEM)
		return -EFAULT;
	switch (errno) {
	case ENOMEM: /* no VMA over part of the range */
		return -EFAULT;
	case EINVAL: /* file-backed, SysV shm, ...: uffd cannot watch it */
		return -EOPNOTSUPP;
	default:
		return -errno;
	}
}

/* Cache lock held, at a hit. The event that reports an unmap is queued
 * after the unmapping thread dropped the mmap lock, so another thread can
 * map new memory at the same address and look it up before the monitor
 * has read the event: the old entry would be hit for the new memory. But
 * from the moment the kernel prepares an UNMAP, REMOVE or REMAP event
 * until it has been read, the fd's mmap_changing count is raised, and
 * every UFFDIO_ZEROPAGE answers -EAGAIN: then the hit waits for the
 * monitor (a miss now). Otherwise it says whether the first page is still
 * registered with us (-ENOENT: no, the mapping was replaced) and present
 * (-EEXIST; a page found missing would be zero-filled, as it reads
 * anyway, and means the entry's pages are gone). One page, so no THP is
 * split and nothing present is touched. */
static int uffd_verify(struct sv_monitor *m, uint64_t token, uintptr_t addr)
{
	struct uffd_monitor *u = to_uffd(m);
	struct uffdio_zeropage z;

	(void)token;
	memset(&z, 0, sizeof(z));
	z.range.start = addr & ~u->page_mask;
	z.range.len = u->page_mask + 1;
	z.mode = UFFDIO_ZEROPAGE_MODE_DONTWAKE;
	if (!ioctl(u->fd, UFFDIO_ZEROPAGE, &z))
		return 0;
	switch (errno) {
	case EEXIST:
		return 1;
	case EAGAIN:
		return -EAGAIN;
	default:
		return 0;
	}
}

static void unregister_range(struct uffd_monitor *u, uintptr_t start,
			     size_t len)
{
	struct uffdio_range r;

	page_range(u, start, len, &r);
	/* Failure means the range is no longer mapped: nothing to undo. */
	(void)ioctl(u->fd, UFFDIO_UNREGISTER, &r);
}

static void handle(struct uffd_monitor *u, const struct uffd_msg *msg)
{
	sv_invalidate_fn sink = u->m.sink;
	void *arg = u->m.sink_arg;
	uintptr_t s, e;

	switch (msg->event) {
	case UFFD_EVENT_UNMAP:
	case UFFD_EVENT_REMOVE:
		forget(u, msg->arg.remove.start,
		       msg->arg.remove.end - msg->arg.remove.start);
		break;
	case UFFD_EVENT_REMAP:
		forget(u, msg->arg.remap.from, msg->arg.remap.len);
		forget(u, msg->arg.remap.to, msg->arg.remap.len);
		break;
	case UFFD_EVENT_PAGEFAULT:
		forget(u, msg->arg.pagefault.address & ~u->page_mask,
		       u->page_mask + 1);
		break;
	default:
		break;
	}
	switch (msg->event) {
	case UFFD_EVENT_UNMAP:
		s = msg->arg.remove.start;
		e = msg->arg.remove.end;
		sink(arg, s, e - s);
		break;
	case UFFD_EVENT_REMOVE:
		s = msg->arg.remove.start;
		e = msg->arg.remove.end;
		sink(arg, s, e - s);
		/* Zapped pages come back as missing: stop watching before
		 * anyone can fault on them. */
		unregister_range(u, s, e - s);
		break;
	case UFFD_EVENT_REMAP:
		sink(arg, msg->arg.remap.from, msg->arg.remap.len);
		/* The moved VMA carries our registration to its new place;
		 * nothing cached there is ours any more. */
		sink(arg, msg->arg.remap.to, msg->arg.remap.len);
		unregister_range(u, msg->arg.remap.to, msg->arg.remap.len);
		break;
	case UFFD_EVENT_PAGEFAULT: {
		/* Only MISSING-mode ranges fault: the page went away without
		 * an event we saw. Invalidate, unregister (which wakes the
		 * faulting thread) and let the fault proceed normally. */
		struct uffdio_range r;

		s = msg->arg.pagefault.address & ~u->page_mask;
		sink(arg, s, u->page_mask + 1);
		unregister_range(u, s, u->page_mask + 1);
		r.start = s;
		r.len = u->page_mask + 1;
		(void)ioctl(u->fd, UFFDIO_WAKE, &r);
		break;
	}
	default:
		break;
	}
}

static void *uffd_thread(void *arg)
{
	struct uffd_monitor *u = arg;
	struct uffd_msg msgs[64];
	struct pollfd p[2];
	ssize_t n, i;

	/* named for ps/top and for the test that counts its wakeups */
	(void)pthread_setname_np(pthread_self(), "sanverbs-uffd");
	for (;;) {
		p[0].fd = u->fd;
		p[0].events = POLLIN;
		p[1].fd = u->stop_fd;
		p[1].events = POLLIN;
		/* Wait without the cache lock: the unmapper blocks only until
		 * its event is read, and reading happens under the lock. */
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		known_lock(u);
		for (;;) {
			n = read(u->fd, msgs, sizeof(msgs));
			if (n <= 0)
				break;
			for (i = 0; i < n / (ssize_t)sizeof(msgs[0]); i++)
				handle(u, &msgs[i]);
			if (n < (ssize_t)sizeof(msgs))
				break;
		}
		known_unlock(u);
	}
	return NULL;
}

/* A change userfaultfd does not report (uffd_hooks.c), made by the
 * calling thread: reported like an event read, before that call returns.
 * @replaced: the VMAs were replaced, taking their registration along. */
static void uffd_hooked(struct sv_uffd_hook *h, uintptr_t start, size_t len,
			int prot, bool replaced)
{
	struct uffd_monitor *u = container_of(h, struct uffd_monitor, hook);

	known_lock(u);
	if (replaced)
		forget(u, start, len);
	if (!replaced && u->m.protect)
		u->m.protect(u->m.sink_arg, start, len, prot);
	else
		u->m.sink(u->m.sink_arg, start, len);
	known_unlock(u);
}

static int any_known(struct sv_itree_node *n, void *arg)
{
	(void)n;
	(void)arg;
	return 1;
}

/* The calling thread is about to unmap [start, start + len). Left alone,
 * the kernel would queue an UNMAP event and keep the thread in munmap()
 * until the monitor thread has read it: two wakeups, several times the
 * unmap itself. Instead, if part of the range is known to be registered,
 * the entries over it go now, as the event would have dropped them, and
 * the range is unregistered, so the unmap raises no event. Both happen in
 * one critical section with forget(), so a miss racing with this either
 * registers after it (its range then raises the event as usual) or loses
 * its pending entry here and its record to the moved ->gen. Without the
 * lock at hand (this thread holds it, or a signal handler interrupted
 * it), or if the kernel refuses the unregister, the event does the work. */
static void uffd_unmapping(struct sv_uffd_hook *h, uintptr_t start,
			   size_t len)
{
	struct uffd_monitor *u = container_of(h, struct uffd_monitor, hook);
	struct uffdio_range r;

	page_range(u, start, len, &r);
	if (r.start + r.len <= __atomic_load_n(&u->lo, __ATOMIC_RELAXED) ||
	    r.start >= __atomic_load_n(&u->hi, __ATOMIC_RELAXED))
		return;
	if (!known_trylock(u))
		return;
	if (sv_itree_overlap(&u->known, r.start, r.start + r.len, any_known,
			     NULL)) {
		forget(u, r.start, r.len);
		u->m.sink(u->m.sink_arg, r.start, r.len);
		(void)ioctl(u->fd, UFFDIO_UNREGISTER, &r);
	}
	known_unlock(u);
}

static uint32_t uffd_unmap_epoch(struct sv_monitor *m, uintptr_t start,
				 uintptr_t end)
{
	(void)m;
	return sv_uffd_unmap_epoch(start, end);
}

static void uffd_destroy(struct sv_monitor *m)
{
	struct uffd_monitor *u = to_uffd(m);
	uint64_t one = 1;

	sv_uffd_hook_del(&u->hook);

	if (write(u->stop_fd, &one, sizeof(one)) == sizeof(one))
		pthread_join(u->thread, NULL);
	close(u->stop_fd);
	close(u->fd);
	sv_itree_overlap(&u->known, 0, UINTPTR_MAX, collect_known, &u->dead);
	free_known(u->dead);
	pthread_mutex_destroy(&u->klock);
	free(u);
}

static const struct sv_monitor_ops uffd_ops = {
	.name = "userfaultfd",
	.known = uffd_known,
	.watch = uffd_watch,
	/* No unwatch: registrations are deliberately left in place. A WP
	 * registration never faults, so a watched range nothing is cached in
	 * costs only an event on its eventual unmap, while unregistering
	 * costs a change_protection() walk and a VMA split/merge on every
	 * eviction and a new VMA split on the next miss: measured under TCG
	 * it made a cache miss cost 30x a raw ibv_reg_mr. Registering a
	 * range we already watch is a no-op in the kernel. MISSING-mode
	 * ranges stay safe: their faults come to us (handle()). */
	.unwatch = NULL,
	.still_valid = NULL,
	.verify = uffd_verify,
	.unmap_epoch = uffd_unmap_epoch,
	.destroy = uffd_destroy,
};

/* /dev/userfaultfd first (its permission, not the sysctl, decides), then
 * the syscall, then the syscall restricted to user-mode faults. */
static int open_uffd(unsigned int *flags)
{
	const int fl = O_CLOEXEC | O_NONBLOCK;
	int dev, fd, err;

	*flags = 0;
	if (!getenv("SANVERBS_UFFD_USER_MODE_ONLY")) {
		dev = open("/dev/userfaultfd", O_RDWR | O_CLOEXEC);
		if (dev >= 0) {
			fd = ioctl(dev, USERFAULTFD_IOC_NEW, fl);
			close(dev);
			if (fd >= 0)
				return fd;
		}
		fd = (int)syscall(SYS_userfaultfd, fl);
		if (fd >= 0)
			return fd;
	}
	fd = (int)syscall(SYS_userfaultfd, fl | UFFD_USER_MODE_ONLY);
	if (fd >= 0) {
		*flags = SV_MONITOR_F_USER_MODE_ONLY;
		return fd;
	}
	err = errno;
	return err == ENOSYS || err == EPERM || err == EACCES ? -err : -ENOSYS;
}

int sv_monitor_uffd_create(sv_invalidate_fn sink, void *arg,
			   struct sv_monitor **out)
{
	struct uffdio_api api;
	struct uffd_monitor *u;
	int ret;

	if (!sink || !out)
		return -EINVAL;
	if (!sv_uffd_hooks_work())
		return -ENOSYS;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->page_mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
	u->lo = UINTPTR_MAX;
	pthread_mutex_init(&u->klock, NULL);
	sv_itree_init(&u->known);
	u->m.ops = &uffd_ops;
	u->m.sink = sink;
	u->m.sink_arg = arg;
	u->fd = open_uffd(&u->m.flags);
	if (u->fd < 0) {
		ret = u->fd;
		goto err_free;
	}
	/* a new range costs the anonymity check and UFFDIO_REGISTER */
	u->m.flags |= SV_MONITOR_F_WATCH_SYSCALLS;
	memset(&api, 0, sizeof(api));
	api.api = UFFD_API;
	api.features = SV_UFFD_FEATURES;
	if (ioctl(u->fd, UFFDIO_API, &api) ||
	    (api.features & SV_UFFD_FEATURES) != SV_UFFD_FEATURES) {
		ret = -ENOSYS;
		goto err_close;
	}
	u->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (u->stop_fd < 0) {
		ret = -errno;
		goto err_close;
	}
	/* The monitor must never run a signal handler: a handler could
	 * unmap a watched range and wait for the very thread running it. */
	ret = sv_thread_start(&u->thread, uffd_thread, u);
	if (ret)
		goto err_stop;
	u->hook.changed = uffd_hooked;
	u->hook.unmapping = uffd_unmapping;
	sv_uffd_hook_add(&u->hook);
	*out = &u->m;
	return 0;

err_stop:
	close(u->stop_fd);
err_close:
	close(u->fd);
err_free:
	free(u);
	return ret;
}
