/* SPDX-License-Identifier: MIT */
/* memfd-backed, pinned, pre-registered buffer pools. Allocation is
 * page-granular first fit over a per-page run-length array: buffers for
 * messaging and RDMA are few and large, and page alignment keeps each one
 * on pages no other buffer shares (an MDL over one never locks another). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "ctx.h"
#include "mr.h"
#include "pool.h"
#include "util.h"

#define SV_POOL_MAGIC 0x5356504cu /* "SVPL" */

struct sanverbs_pool {
	struct sv_hdr hdr;	/* handle.h: first */
	struct sanverbs_pool *next; /* registry */
	struct sanverbs_ctx *ctx; /* NULL when created without one */
	int memfd;
	char *base;
	size_t size, npages, ps;
	struct ibv_mr *mr;	 /* NULL when created without a ctx */
	int mlocked;
	unsigned int access;
	size_t *run;		 /* run[i]: pages of the buffer starting at i */
	unsigned char *used;	 /* used[i]: page i belongs to a buffer */
	size_t nbufs;
	unsigned long refs;	 /* aliases and MDL lookups outstanding */
	pthread_mutex_t lock;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sanverbs_pool *registry;
static struct sv_handle_type pool_type =
	SV_HANDLE_TYPE(struct sanverbs_pool, SV_POOL_MAGIC);

/* 0, -EINVAL (NULL or destroyed), -ECHILD (created before a fork: the
 * pages are shared with the parent, the bookkeeping is not). */
static int pool_check(const struct sanverbs_pool *pool)
{
	return sv_handle_check(pool, SV_POOL_MAGIC);
}

/* Value in kB of the "@key:" line of a /proc file, 0 if absent. */
static unsigned long long proc_kb(const char *path, const char *key)
{
	unsigned long long v = 0;
	size_t klen = strlen(key);
	char line[128];
	FILE *f = fopen(path, "re");

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, key, klen) && line[klen] == ':') {
			v = strtoull(line + klen + 1, NULL, 10);
			break;
		}
	fclose(f);
	return v;
}

static int have_cap_ipc_lock(void)
{
	struct __user_cap_header_struct h = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct d[_LINUX_CAPABILITY_U32S_3];

	if (syscall(SYS_capget, &h, d))
		return 0;
	return !!(d[CAP_IPC_LOCK / 32].effective &
		  (1u << (CAP_IPC_LOCK % 32)));
}

/* -ENOMEM when @size bytes could not be pinned now, checked before any
 * page is populated: populating a pool that can never be pinned made the
 * OOM killer choose a victim. The limit is RLIMIT_MEMLOCK against what is
 * already locked (mlock) or pinned (ibv_reg_mr), the kernel's two separate
 * accounts, unless CAP_IPC_LOCK lifts it; and, for everyone, the memory
 * available, since pinned pages cannot be reclaimed. */
static int pin_budget_ok(size_t size, int registered)
{
	unsigned long long avail;
	struct rlimit rl;

	if (!getrlimit(RLIMIT_MEMLOCK, &rl) && rl.rlim_cur != RLIM_INFINITY &&
	    !have_cap_ipc_lock()) {
		unsigned long long held =
			proc_kb("/proc/self/status",
				registered ? "VmPin" : "VmLck") * 1024;

		if (held > rl.rlim_cur || size > rl.rlim_cur - held)
			return 0;
	}
	avail = proc_kb("/proc/meminfo", "MemAvailable") * 1024;
	if (!avail)
		avail = (unsigned long long)sysconf(_SC_AVPHYS_PAGES) *
			(unsigned long long)sysconf(_SC_PAGESIZE);
	return size <= avail;
}

SV_EXPORT int sanverbs_pool_create(struct sanverbs_ctx *ctx, size_t size,
				   unsigned int access,
				   struct sanverbs_pool **out)
{
	struct sanverbs_pool *p;
	int err;

	if (out)
		*out = NULL;
	size_t ps = sv_page_size();

	if (!out || !size || (access & ~SANVERBS_ACCESS_ALL) ||
	    (!ctx && access) || size > SIZE_MAX - ps)
		return -EINVAL;
	if (ctx) {
		err = sv_ctx_check(ctx);
		if (err)
			return err;
	}
	size = (size + ps - 1) / ps * ps;
	if (!pin_budget_ok(size, !!ctx))
		return -ENOMEM;
	p = sv_handle_new(&pool_type);
	if (!p)
		return -ENOMEM;
	p->ps = ps;
	p->npages = size / ps;
	p->size = size;
	p->access = ctx ? sv_access_normalize(access) : 0;
	p->memfd = -1;
	p->base = MAP_FAILED;
	pthread_mutex_init(&p->lock, NULL);
	p->run = calloc(p->npages, sizeof(*p->run));
	p->used = calloc(p->npages, 1);
	if (!p->run || !p->used) {
		err = -ENOMEM;
		goto fail;
	}
	p->memfd = memfd_create("sanverbs-pool", MFD_CLOEXEC);
	if (p->memfd < 0 || ftruncate(p->memfd, (off_t)p->size) ||
	    fallocate(p->memfd, 0, 0, (off_t)p->size)) {
		err = errno == ENOSPC ? -ENOMEM : -errno;
		goto fail;
	}
	p->base = mmap(NULL, p->size, PROT_READ | PROT_WRITE,
		       MAP_SHARED | MAP_POPULATE, p->memfd, 0);
	if (p->base == MAP_FAILED) {
		err = -errno;
		goto fail;
	}
	if (ctx) {
		/* A long-term pin: the HCA may use the buffers at any time. */
		p->mr = ibv_reg_mr(ctx->pd, p->base, p->size,
				   sv_access_to_ibv(p->access));
		if (!p->mr) {
			err = errno ? -errno : -ENOMEM;
			goto fail;
		}
		p->ctx = ctx;
		sv_ctx_get(ctx);
	} else {
		if (sv_mlock(p->base, p->size)) {
			err = errno == EPERM ? -ENOMEM : -errno;
			goto fail;
		}
		p->mlocked = 1;
	}
	pthread_mutex_lock(&reg_lock);
	p->next = registry;
	registry = p;
	pthread_mutex_unlock(&reg_lock);
	*out = p;
	return 0;
fail:
	if (p->base != MAP_FAILED)
		munmap(p->base, p->size);
	if (p->memfd >= 0)
		close(p->memfd);
	pthread_mutex_destroy(&p->lock);
	free(p->run);
	free(p->used);
	sv_handle_retire(&pool_type, p);
	return err;
}

SV_EXPORT int sanverbs_pool_destroy(struct sanverbs_pool *pool)
{
	struct sanverbs_pool **pp;
	int busy = pool_check(pool);

	if (busy)
		return busy;
	pthread_mutex_lock(&reg_lock);
	for (pp = &registry; *pp && *pp != pool; pp = &(*pp)->next)
		;
	if (!*pp) {
		pthread_mutex_unlock(&reg_lock);
		return -EINVAL;
	}
	pthread_mutex_lock(&pool->lock);
	busy = pool->nbufs || pool->refs;
	pthread_mutex_unlock(&pool->lock);
	if (busy) {
		pthread_mutex_unlock(&reg_lock);
		return -EBUSY;
	}
	*pp = pool->next;
	pthread_mutex_unlock(&reg_lock);

	if (pool->mr) {
		ibv_dereg_mr(pool->mr);
		sv_ctx_put(pool->ctx);
	}
	munmap(pool->base, pool->size);
	close(pool->memfd);
	pthread_mutex_destroy(&pool->lock);
	free(pool->run);
	free(pool->used);
	sv_handle_retire(&pool_type, pool);
	return 0;
}

SV_EXPORT int sanverbs_pool_alloc(struct sanverbs_pool *pool, size_t len,
				  void **out)
{
	size_t need, i, j;

	int ret = pool_check(pool);

	if (out)
		*out = NULL;
	if (ret)
		return ret;
	if (!out || !len || len > pool->size)
		return -EINVAL;
	need = (len + pool->ps - 1) / pool->ps;
	pthread_mutex_lock(&pool->lock);
	for (i = 0; i + need <= pool->npages;) {
		for (j = 0; j < need && !pool->used[i + j]; j++)
			;
		if (j == need) {
			memset(pool->used + i, 1, need);
			pool->run[i] = need;
			pool->nbufs++;
			pthread_mutex_unlock(&pool->lock);
			*out = pool->base + i * pool->ps;
			return 0;
		}
		i += j + 1;
	}
	pthread_mutex_unlock(&pool->lock);
	return -ENOMEM;
}

SV_EXPORT int sanverbs_pool_free(struct sanverbs_pool *pool, void *buf)
{
	uintptr_t off;
	size_t i;
	int ret = pool_check(pool);

	if (ret)
		return ret;
	if (!buf || (char *)buf < pool->base ||
	    (char *)buf >= pool->base + pool->size)
		return -EINVAL;
	off = (uintptr_t)((char *)buf - pool->base);
	if (off % pool->ps)
		return -EINVAL;
	i = off / pool->ps;
	pthread_mutex_lock(&pool->lock);
	if (!pool->run[i]) {
		pthread_mutex_unlock(&pool->lock);
		return -EINVAL;
	}
	memset(pool->used + i, 0, pool->run[i]);
	pool->run[i] = 0;
	pool->nbufs--;
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

void sv_pool_span(const struct sanverbs_pool *pool, void **base,
		  uint64_t *size, uint32_t *access)
{
	*base = pool->base;
	*size = pool->size;
	*access = pool->access;
}

SV_EXPORT uint32_t sanverbs_pool_lkey(const struct sanverbs_pool *pool)
{
	return !pool_check(pool) && pool->mr ? pool->mr->lkey : 0;
}

SV_EXPORT uint32_t sanverbs_pool_rkey(const struct sanverbs_pool *pool)
{
	return !pool_check(pool) && pool->mr ? pool->mr->rkey : 0;
}

struct sanverbs_pool *sv_pool_get_range(const void *addr, size_t len)
{
	const char *a = addr;
	struct sanverbs_pool *p;

	pthread_mutex_lock(&reg_lock);
	for (p = registry; p; p = p->next) {
		if (a >= p->base && len <= p->size &&
		    (size_t)(a - p->base) <= p->size - len) {
			pthread_mutex_lock(&p->lock);
			p->refs++;
			pthread_mutex_unlock(&p->lock);
			break;
		}
	}
	pthread_mutex_unlock(&reg_lock);
	return p;
}

void sv_pool_put(struct sanverbs_pool *pool)
{
	pthread_mutex_lock(&pool->lock);
	pool->refs--;
	pthread_mutex_unlock(&pool->lock);
}

void *sv_pool_alias(struct sanverbs_pool *pool, const void *addr, size_t len,
		    int nowrite, void **map_base, size_t *map_len)
{
	size_t off = (size_t)((const char *)addr - pool->base);
	size_t first = off / pool->ps * pool->ps;
	size_t end = (off + len + pool->ps - 1) / pool->ps * pool->ps;
	int prot = PROT_READ | (nowrite ? 0 : PROT_WRITE);
	int fd = pool->memfd;
	char path[40];
	char *m;

	/* Populated and mlocked: the alias keeps the pages resident on its
	 * own once the application unmaps the primary mapping. */
	if (nowrite) {
		/* Through a read-only fd the kernel clears VM_MAYWRITE, so
		 * not even mprotect can make a NoWrite alias writable. */
		snprintf(path, sizeof(path), "/proc/self/fd/%d", pool->memfd);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return NULL;
	}
	m = mmap(NULL, end - first, prot, MAP_SHARED | MAP_POPULATE, fd,
		 (off_t)first);
	if (fd != pool->memfd) {
		int e = errno;

		close(fd);
		errno = e;
	}
	if (m == MAP_FAILED)
		return NULL;
	if (sv_mlock(m, end - first)) {
		int e = errno;

		munmap(m, end - first);
		errno = e;
		return NULL;
	}
	*map_base = m;
	*map_len = end - first;
	return m + (off - first);
}
