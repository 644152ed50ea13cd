/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE /* pkey_mprotect() */
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/shm.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "uffd_hooks.h"
#include "util.h"

/* Changes userfaultfd does not report: a protection change (mprotect()
 * sends no event at all) and shmat(SHM_REMAP), which replaces the VMAs
 * under the segment without an unmap event (ipc/shm.c maps with no
 * userfaultfd unmap list), taking their registration with them. The
 * library defines mprotect(), pkey_mprotect() and shmat() itself: the
 * application's calls (and those of libraries linked to libsanverbs) come
 * here first, make the system call, and report the change to every live
 * monitor before they return, as an event read would. The monitor is only
 * created where the process's default mprotect() and shmat() are these
 * (sv_uffd_hooks_work()): loaded with dlopen(RTLD_LOCAL), or behind another
 * definition, it could not see those changes, and caching would not be
 * exact. A raw syscall(2) is still not seen (docs/cache.md). */
static pthread_mutex_t hooked_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sv_uffd_hook *hooked;
static __thread bool hook_ran;

static void hooked_change(uintptr_t start, size_t len, int prot,
			  bool replaced)
{
	uintptr_t end = start + len < start ? UINTPTR_MAX : start + len;
	struct sv_uffd_hook *h;
	int err = errno;

	if (!__atomic_load_n(&hooked, __ATOMIC_ACQUIRE))
		return;
	pthread_mutex_lock(&hooked_lock);
	for (h = hooked; h; h = h->next)
		h->changed(h, start, end - start, prot, replaced);
	pthread_mutex_unlock(&hooked_lock);
	errno = err;
}

/* Unmap epochs (sv_uffd_unmap_epoch()): one counter per 2 MiB of address
 * space, aliased every 2 GiB. */
#define EPOCH_SHIFT 21
#define EPOCH_SLOTS 1024u
static uint32_t unmap_epoch[EPOCH_SLOTS];

static size_t epoch_span(uintptr_t start, uintptr_t end)
{
	uintptr_t n = ((end - 1) >> EPOCH_SHIFT) - (start >> EPOCH_SHIFT) + 1;

	return n > EPOCH_SLOTS ? EPOCH_SLOTS : (size_t)n;
}

/* The counter of the @i-th 2 MiB from the one holding @start. */
static uint32_t *epoch_at(uintptr_t start, size_t i)
{
	return &unmap_epoch[((start >> EPOCH_SHIFT) + i) % EPOCH_SLOTS];
}

uint32_t sv_uffd_unmap_epoch(uintptr_t start, uintptr_t end)
{
	size_t i, n = end > start ? epoch_span(start, end) : 1;
	uint32_t sum = 0;

	for (i = 0; i < n; i++)
		sum += __atomic_load_n(epoch_at(start, i), __ATOMIC_RELAXED);
	return sum;
}

/* Before munmap(): epochs move, then each monitor may take the range out
 * of its watch so that the unmap raises no event to wait for. */
static void hooked_unmapping(uintptr_t start, size_t len)
{
	uintptr_t end = start + len < start ? UINTPTR_MAX : start + len;
	struct sv_uffd_hook *h;
	size_t i, n;
	int err = errno;

	if (!__atomic_load_n(&hooked, __ATOMIC_ACQUIRE) || end <= start)
		return;
	n = epoch_span(start, end);
	for (i = 0; i < n; i++)
		__atomic_fetch_add(epoch_at(start, i), 1, __ATOMIC_RELAXED);
	/* Only tried, like the cache lock behind it: the work is optional
	 * (the event does it otherwise), and munmap() may be called from a
	 * signal handler that interrupted a holder. */
	if (pthread_mutex_trylock(&hooked_lock))
		return;
	for (h = hooked; h; h = h->next)
		if (h->unmapping)
			h->unmapping(h, start, end - start);
	pthread_mutex_unlock(&hooked_lock);
	errno = err;
}

static bool downgrade(int prot)
{
	return (prot & (PROT_READ | PROT_WRITE)) != (PROT_READ | PROT_WRITE);
}

SV_EXPORT int mprotect(void *addr, size_t len, int prot)
{
	int ret = (int)syscall(SYS_mprotect, addr, len, prot);

	hook_ran = true;
	/* also on failure: the kernel may have changed part of the range */
	if (downgrade(prot))
		hooked_change((uintptr_t)addr, len, prot, false);
	return ret;
}

/* Not needed for exactness: userfaultfd reports the unmap of a watched
 * range in any case (also a raw syscall's, or libc's own from free()). */
SV_EXPORT int munmap(void *addr, size_t len)
{
	hooked_unmapping((uintptr_t)addr, len);
	return (int)syscall(SYS_munmap, addr, len);
}

SV_EXPORT int pkey_mprotect(void *addr, size_t len, int prot, int pkey)
{
	int ret = (int)syscall(SYS_pkey_mprotect, addr, len, prot, pkey);

	/* a key other than the default may deny any access */
	if (downgrade(prot) || pkey > 0)
		hooked_change((uintptr_t)addr, len, pkey > 0 ? PROT_NONE : prot,
			      false);
	return ret;
}

SV_EXPORT void *shmat(int shmid, const void *shmaddr, int shmflg)
{
	void *p = (void *)syscall(SYS_shmat, shmid, shmaddr, shmflg);
	struct shmid_ds ds;
	size_t len;
	int err = errno;

	hook_ran = true;
	if (p == (void *)-1 || !(shmflg & SHM_REMAP))
		return p; /* without SHM_REMAP nothing was mapped there */
	/* the segment's size, or (unknown) everything above it */
	len = shmctl(shmid, IPC_STAT, &ds) ? UINTPTR_MAX - (uintptr_t)p :
					     ds.shm_segsz;
	hooked_change((uintptr_t)p, len, PROT_NONE, true);
	errno = err;
	return p;
}

static void hooks_atfork_child(void)
{
	/* the child has no monitor thread: its changes are nobody's */
	hooked = NULL;
	pthread_mutex_init(&hooked_lock, NULL);
}

static bool hooks_ok;

/* Calls the process's default mprotect() and shmat() the way the
 * application does and checks that they ran the definitions above. */
static void hooks_probe(void)
{
	int (*prot_fn)(void *, size_t, int);
	void *(*at_fn)(int, const void *, int);
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	void *p;

	pthread_atfork(NULL, NULL, hooks_atfork_child);
	*(void **)&prot_fn = dlsym(RTLD_DEFAULT, "mprotect");
	*(void **)&at_fn = dlsym(RTLD_DEFAULT, "shmat");
	if (!prot_fn || !at_fn)
		return;
	p = mmap(NULL, pg, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return;
	hook_ran = false;
	hooks_ok = !prot_fn(p, pg, PROT_READ | PROT_WRITE) && hook_ran;
	hook_ran = false;
	(void)at_fn(-1, NULL, 0); /* EINVAL, after the hook ran */
	hooks_ok = hooks_ok && hook_ran;
	munmap(p, pg);
}

bool sv_uffd_hooks_work(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, hooks_probe);
	return hooks_ok;
}

void sv_uffd_hook_add(struct sv_uffd_hook *h)
{
	pthread_mutex_lock(&hooked_lock);
	h->next = hooked;
	__atomic_store_n(&hooked, h, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&hooked_lock);
}

void sv_uffd_hook_del(struct sv_uffd_hook *h)
{
	struct sv_uffd_hook **pp;

	pthread_mutex_lock(&hooked_lock);
	for (pp = &hooked; *pp; pp = &(*pp)->next)
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	pthread_mutex_unlock(&hooked_lock);
}
