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
#include <unistd.h>

#include "ctx.h"
#include "mr.h"
#include "pool.h"
#include "util.h"

struct sanverbs_pool {
	struct sanverbs_pool *next; /* registry */
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

SV_EXPORT int sanverbs_pool_create(struct sanverbs_ctx *ctx, size_t size,
				   unsigned int access,
				   struct sanverbs_pool **out)
{
	struct sanverbs_pool *p;
	int err;

	if (out)
		*out = NULL;
	if (!out || !size || (access & ~SANVERBS_ACCESS_ALL) ||
	    (!ctx && access))
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->ps = (size_t)sysconf(_SC_PAGESIZE);
	if (size > SIZE_MAX - p->ps) {
		free(p);
		return -EINVAL;
	}
	p->npages = (size + p->ps - 1) / p->ps;
	p->size = p->npages * p->ps;
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
	} else {
		if (mlock(p->base, p->size)) {
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
	free(p);
	return err;
}

SV_EXPORT int sanverbs_pool_destroy(struct sanverbs_pool *pool)
{
	struct sanverbs_pool **pp;
	int busy;

	if (!pool)
		return -EINVAL;
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

	if (pool->mr)
		ibv_dereg_mr(pool->mr);
	munmap(pool->base, pool->size);
	close(pool->memfd);
	pthread_mutex_destroy(&pool->lock);
	free(pool->run);
	free(pool->used);
	free(pool);
	return 0;
}

SV_EXPORT int sanverbs_pool_alloc(struct sanverbs_pool *pool, size_t len,
				  void **out)
{
	size_t need, i, j;

	if (out)
		*out = NULL;
	if (!pool || !out || !len || len > pool->size)
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

	if (!pool || !buf || (char *)buf < pool->base ||
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
	return pool && pool->mr ? pool->mr->lkey : 0;
}

SV_EXPORT uint32_t sanverbs_pool_rkey(const struct sanverbs_pool *pool)
{
	return pool && pool->mr ? pool->mr->rkey : 0;
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
	if (mlock(m, end - first)) {
		int e = errno;

		munmap(m, end - first);
		errno = e;
		return NULL;
	}
	*map_base = m;
	*map_len = end - first;
	return m + (off - first);
}
