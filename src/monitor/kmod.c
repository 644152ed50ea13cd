/* SPDX-License-Identifier: MIT */
/* The kmod invalidation monitor: /dev/sanverbs watches each range with an
 * mmu_interval_notifier. The module bumps the range's generation counter in
 * a status array mapped read-only here before the unmapping call returns,
 * so still_valid() is one load and no syscall; a thread reads the event
 * queue and feeds the cache's sink so that stale entries are also purged
 * without waiting for a lookup. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <unistd.h>

#include "kmod_client.h"
#include "lib/thread.h"
#include "monitor.h"
#include "util.h"

/* Watches per context: an entry holds one, so this caps what the cache can
 * keep watched with this monitor (more are registered uncached). 2^18 is
 * 16x the default entry limit and covers the 100k-entry benchmark; it
 * costs 2 MiB of vmalloc'd status in the module and 2 MiB of owner table
 * here (touched only as slots are used). The module allows 2^20. */
#define KMON_SLOTS (1u << 18)
/* Kernel watches kept after their entry went, for the next miss on the
 * same range: a re-registered range then costs no WATCH and no UNWATCH
 * ioctl (each took the module's lock and an mmu_interval_notifier
 * insert/remove; measured, a miss cost 15 % more than a raw ibv_reg_mr). */
#define KMON_PARKED 64

/* A parked watch is live while owner[w.token] == &w; the event path
 * releases it like any other watch (the sink then finds nothing). */
struct parked {
	struct sv_watch w;
	uint64_t age;
};

struct kmon {
	struct sv_monitor m;
	struct sv_kmod *k;
	int fd;
	const volatile uint64_t *status;
	size_t status_len;
	int stop_pipe[2];
	pthread_t thread;
	/* slot -> the sv_watch that holds it, so a late unwatch() of a slot
	 * the event path already released cannot remove its next owner. */
	pthread_mutex_t lock;
	struct sv_watch **owner;
	struct parked parked[KMON_PARKED]; /* under lock */
	uint64_t clock;
};

static struct kmon *to_kmon(struct sv_monitor *m)
{
	return container_of(m, struct kmon, m);
}

static void kernel_unwatch(struct kmon *km, uint32_t slot)
{
	struct sanverbs_watch wa = { .slot = slot };

	ioctl(km->fd, SANVERBS_IOC_UNWATCH, &wa);
	km->owner[slot] = NULL;
}

static bool is_parked(const struct kmon *km, const struct sv_watch *w)
{
	return (const char *)w >= (const char *)km->parked &&
	       (const char *)w < (const char *)(km->parked + KMON_PARKED);
}

static bool parked_live(const struct kmon *km, const struct parked *p)
{
	return p->w.token < KMON_SLOTS && km->owner[p->w.token] == &p->w;
}

/* The slot has not moved since @gen was read, so the notifier has seen no
 * change of the range since (one atomic load: no lock needed). */
static bool unchanged(const struct kmon *km, uint32_t slot, uint64_t gen)
{
	return __atomic_load_n(&km->status[slot], __ATOMIC_ACQUIRE) == gen;
}

/* With km->lock held: hands @w a parked watch of exactly its range if one
 * saw no change since it was parked and was made for an entry that needed
 * every right @w's does. A module before the rights fix (docs/kmod.md)
 * reports the loss only of the rights the range had at WATCH, and an
 * mprotect() that adds rights to unpopulated memory raises no event at
 * all: a watch parked by a read-only entry may not report the next
 * downgrade from writable, so a writable entry never takes it over. */
static bool unpark(struct kmon *km, struct sv_watch *w)
{
	struct parked *p;

	for (p = km->parked; p < km->parked + KMON_PARKED; p++) {
		if (!parked_live(km, p) || p->w.start != w->start ||
		    p->w.len != w->len || (w->prot & ~p->w.prot))
			continue;
		if (!unchanged(km, (uint32_t)p->w.token, p->w.gen)) {
			kernel_unwatch(km, (uint32_t)p->w.token);
			continue;
		}
		w->token = p->w.token;
		w->gen = p->w.gen;
		/* still watched for those rights when parked again */
		w->prot = p->w.prot;
		km->owner[w->token] = w;
		return true;
	}
	return false;
}

/* With km->lock held: keeps @w's kernel watch for a later miss (the
 * oldest parked one goes), or releases it if its range changed. */
static void park(struct kmon *km, struct sv_watch *w)
{
	struct parked *p, *slot = NULL;

	if (!unchanged(km, (uint32_t)w->token, w->gen)) {
		kernel_unwatch(km, (uint32_t)w->token);
		return;
	}
	for (p = km->parked; p < km->parked + KMON_PARKED; p++) {
		if (!parked_live(km, p)) {
			slot = p;
			break;
		}
		if (!slot || p->age < slot->age)
			slot = p;
	}
	if (parked_live(km, slot))
		kernel_unwatch(km, (uint32_t)slot->w.token);
	slot->w = *w;
	slot->age = ++km->clock;
	km->owner[w->token] = &slot->w;
}

#define PMD_BLOCK (2ul << 20)
#define POPULATE_BATCH 64

/*
 * mprotect() calls the notifier only for ranges whose page tables exist
 * (change_pmd_range() skips an empty pmd before it notifies): a downgrade
 * of memory never touched since it was mapped reaches no watch. A
 * registration's pages are pinned, so mapped; a secured range
 * (MmSecureVirtualMemory) is not, and its holder lost the callback when
 * nothing else had populated its 2 MiB block (seen when ASan's mapping
 * hints gave test-cache-exact secure_probe_mode a block of its own). One
 * read of a page per block, without touching the bytes, gives each block
 * a page table (a zero page for untouched anonymous memory); nothing but
 * an unmap, which is reported, frees it again. A page that cannot be read
 * is left alone: it has no right a read-only holder could lose. Only for
 * unpinned watches: the first write to a zero page replaces it, which the
 * notifier reports, so a registration about to be pinned for writing
 * would be stale at once; for a secured range that write is a spurious
 * callback, where without the read a downgrade went unreported.
 */
static void populate_tables(const struct sv_watch *w)
{
	struct iovec loc[POPULATE_BATCH], rem[POPULATE_BATCH];
	uintptr_t a = w->start, end = w->start + w->len;
	uintptr_t page_mask = (uintptr_t)sysconf(_SC_PAGESIZE) - 1;
	char scratch[POPULATE_BATCH];
	int n, i, err = errno;
	ssize_t got;

	while (a < end) {
		for (n = 0; n < POPULATE_BATCH && a < end; n++) {
			rem[n] = (struct iovec){ (void *)a, 1 };
			loc[n] = (struct iovec){ &scratch[n], 1 };
			a = (a | (PMD_BLOCK - 1)) + 1;
		}
		got = process_vm_readv(getpid(), loc, (unsigned long)n, rem,
				       (unsigned long)n, 0);
		if (got < 0 && (errno == ENOSYS || errno == EPERM)) {
			/* seccomp'd: one system call per block */
			for (i = 0; i < n; i++)
				(void)madvise((void *)((uintptr_t)rem[i].iov_base &
						       ~page_mask),
					      1, MADV_POPULATE_READ);
			continue;
		}
		/* the read stops at a page it cannot read: go on after it */
		if (got < 0)
			got = 0;
		if (got + 1 < n)
			a = (uintptr_t)rem[got + 1].iov_base;
	}
	errno = err;
}

static int kmon_watch(struct sv_monitor *m, struct sv_watch *w)
{
	struct kmon *km = to_kmon(m);
	struct sanverbs_watch wa = { 0 };

	if (!w || !sv_range_ok((void *)w->start, w->len))
		return -EINVAL;
	wa.addr = w->start;
	wa.len = w->len;
	pthread_mutex_lock(&km->lock);
	if (unpark(km, w)) {
		pthread_mutex_unlock(&km->lock);
		return 0;
	}
	if (ioctl(km->fd, SANVERBS_IOC_WATCH, &wa)) {
		int ret = errno == ENOSPC ? -ENOMEM : -errno;

		pthread_mutex_unlock(&km->lock);
		return ret;
	}
	w->token = wa.slot;
	w->gen = wa.gen;
	km->owner[wa.slot] = w;
	pthread_mutex_unlock(&km->lock);
	/* after WATCH: whatever the read changes is the watch's to see */
	if (w->unpinned && w->prot)
		populate_tables(w);
	return 0;
}

static void kmon_unwatch(struct sv_monitor *m, struct sv_watch *w)
{
	struct kmon *km = to_kmon(m);

	if (!w || w->token >= KMON_SLOTS)
		return;
	pthread_mutex_lock(&km->lock);
	if (km->owner[w->token] == w)
		park(km, w);
	pthread_mutex_unlock(&km->lock);
}

/* With km->lock held. The module says whether the change that moved the
 * slot to @gen was a huge-page split that left the same pages mapped; if
 * so, @gen becomes the watch's own and the change is no change. w->gen is
 * also read by still_valid() under the cache's lock, hence atomics. */
static bool revalidate(struct kmon *km, struct sv_watch *w, uint64_t gen)
{
	struct sanverbs_revalidate rv = { .slot = (uint32_t)w->token,
					  .gen = gen };

	if (ioctl(km->fd, SANVERBS_IOC_REVALIDATE, &rv))
		return false;
	__atomic_store_n(&w->gen, gen, __ATOMIC_RELEASE);
	return true;
}

static bool kmon_still_valid(struct sv_monitor *m, const struct sv_watch *w)
{
	struct kmon *km = to_kmon(m);
	uint64_t now;
	bool ok;

	if (w->token >= KMON_SLOTS)
		return false;
	now = __atomic_load_n(&km->status[w->token], __ATOMIC_ACQUIRE);
	if (now == __atomic_load_n(&w->gen, __ATOMIC_ACQUIRE))
		return true;
	/* Slow path, before the entry is dropped: a THP split during fork
	 * moved the counter without changing the pages. The module refuses
	 * at once anything that was not flagged as a possible split. */
	pthread_mutex_lock(&km->lock);
	ok = km->owner[w->token] == w &&
	     revalidate(km, (struct sv_watch *)w, now);
	pthread_mutex_unlock(&km->lock);
	return ok;
}

/* Releases the kernel watch of @slot if @gen is news for it; the range
 * goes to the sink afterwards, outside km->lock (the sink takes the
 * cache's lock, which is taken before km->lock) but inside the batch. */
static bool take_event(struct kmon *km, const struct sanverbs_mon_event *ev,
		       uintptr_t *start, size_t *len)
{
	struct sv_watch *w;
	bool report = false;

	pthread_mutex_lock(&km->lock);
	w = ev->slot < KMON_SLOTS ? km->owner[ev->slot] : NULL;
	if (w && ev->gen > __atomic_load_n(&w->gen, __ATOMIC_ACQUIRE) &&
	    !((ev->flags & SANVERBS_EVENT_MAYBE_SPLIT) &&
	      revalidate(km, w, ev->gen))) {
		*start = w->start;
		*len = w->len;
		/* The entry is dead: its watch has nothing more to say. A
		 * parked watch has no entry: it just goes. */
		report = !is_parked(km, w);
		kernel_unwatch(km, ev->slot);
	}
	pthread_mutex_unlock(&km->lock);
	return report;
}

static void overflow(struct kmon *km)
{
	uint32_t s;

	pthread_mutex_lock(&km->lock);
	for (s = 0; s < KMON_SLOTS; s++)
		if (km->owner[s])
			kernel_unwatch(km, s);
	pthread_mutex_unlock(&km->lock);
	km->m.sink(km->m.sink_arg, 0, SIZE_MAX);
}

static void *kmon_thread(void *arg)
{
	struct sanverbs_mon_event ev[16];
	struct kmon *km = arg;
	struct pollfd pfd[2] = {
		{ .fd = km->fd, .events = POLLIN },
		{ .fd = km->stop_pipe[0], .events = POLLIN },
	};
	uintptr_t start;
	size_t len;
	ssize_t n, i;
	bool batch;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		n = read(km->fd, ev, sizeof(ev));
		if (n < 0)
			continue; /* EAGAIN: someone else drained it */
		/* The sink reports a range, not a watch: once take_event()
		 * has let go of km->lock, a lookup that met the moved
		 * generation may drop the entry and put a fresh one, watched
		 * after the change, over the same range, and a late sink
		 * would kill that one. Under the cache's lock the decision
		 * and the drop are one step for lookups. */
		batch = km->m.lock && km->m.unlock;
		if (batch)
			km->m.lock(km->m.sink_arg);
		for (i = 0; i < n / (ssize_t)sizeof(ev[0]); i++) {
			if (ev[i].flags & SANVERBS_EVENT_OVERFLOW)
				overflow(km);
			else if (take_event(km, &ev[i], &start, &len))
				km->m.sink(km->m.sink_arg, start, len);
		}
		if (batch)
			km->m.unlock(km->m.sink_arg);
	}
	return NULL;
}

static void kmon_destroy(struct sv_monitor *m)
{
	struct kmon *km = to_kmon(m);
	char c = 0;

	if (write(km->stop_pipe[1], &c, 1) != 1)
		abort(); /* a pipe with room refused one byte: cannot stop */
	pthread_join(km->thread, NULL);
	/* Closing the file removes every remaining kernel watch. */
	munmap((void *)km->status, km->status_len);
	sv_kmod_close(km->k);
	close(km->stop_pipe[0]);
	close(km->stop_pipe[1]);
	pthread_mutex_destroy(&km->lock);
	free(km->owner);
	free(km);
}

static const struct sv_monitor_ops kmon_ops = {
	.name = "kmod",
	.watch = kmon_watch,
	.unwatch = kmon_unwatch,
	.still_valid = kmon_still_valid,
	.destroy = kmon_destroy,
};

int sv_monitor_kmod_create(sv_invalidate_fn sink, void *arg,
			   struct sv_monitor **out)
{
	struct sanverbs_mon_init mi = { .slots = KMON_SLOTS };
	struct kmon *km;
	void *status;
	int ret;

	if (!sink || !out)
		return -EINVAL;
	*out = NULL;
	km = calloc(1, sizeof(*km));
	if (!km)
		return -ENOMEM;
	km->owner = calloc(KMON_SLOTS, sizeof(*km->owner));
	if (!km->owner) {
		ret = -ENOMEM;
		goto err_free;
	}
	ret = sv_kmod_open(&km->k);
	if (ret)
		goto err_free;
	/* A module that misses protection downgrades would let hits
	 * outlive the right to write: not exact, so not used. */
	if (!sv_kmod_has(km->k, SANVERBS_MINOR_PROT_EVENTS)) {
		ret = -EPROTO;
		goto err_close;
	}
	km->fd = sv_kmod_fd(km->k);
	if (ioctl(km->fd, SANVERBS_IOC_MON_INIT, &mi)) {
		ret = -errno;
		goto err_close;
	}
	status = mmap(NULL, mi.status_len, PROT_READ, MAP_SHARED, km->fd,
		      SANVERBS_MMAP_STATUS);
	if (status == MAP_FAILED) {
		ret = -errno;
		goto err_close;
	}
	km->status = status;
	km->status_len = mi.status_len;
	if (pipe2(km->stop_pipe, O_CLOEXEC)) {
		ret = -errno;
		goto err_unmap;
	}
	pthread_mutex_init(&km->lock, NULL);
	km->m.ops = &kmon_ops;
	km->m.sink = sink;
	km->m.sink_arg = arg;
	/* A slot per watch: an entry the cache drops without unwatching
	 * would keep a slot whose owner pointer dangles. */
	km->m.flags = SV_MONITOR_F_WATCH_PER_ENTRY;
	/* a hit compares the status word of its watch itself */
	km->m.gen_words = km->status;
	km->m.ngen_words = mi.status_len / sizeof(uint64_t) < KMON_SLOTS ?
				   mi.status_len / sizeof(uint64_t) :
				   KMON_SLOTS;

	/* The application's signal handlers never run on this thread. */
	ret = sv_thread_start(&km->thread, kmon_thread, km);
	if (ret)
		goto err_pipe;
	*out = &km->m;
	return 0;

err_pipe:
	pthread_mutex_destroy(&km->lock);
	close(km->stop_pipe[0]);
	close(km->stop_pipe[1]);
err_unmap:
	munmap(status, mi.status_len);
err_close:
	sv_kmod_close(km->k);
err_free:
	free(km->owner);
	free(km);
	return ret;
}
