/* SPDX-License-Identifier: MIT */
/* The library's side of /dev/sanverbs: open with an ABI handshake, the
 * process's shared file, memory objects (low-memory buffers, pinned
 * aliases) and module counters. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kmod_client.h"
#include "util.h"

struct sv_kmod {
	int fd;
	unsigned int minor;
	size_t page_size;
	uint64_t max_contig;
};

static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sv_kmod *shared;
static unsigned long shared_refs;

static const char *kmod_path(void)
{
	const char *p = getenv("SANVERBS_KMOD_DEV");

	return p && *p ? p : "/dev/" SANVERBS_DEVICE_NAME;
}

/* Minor 1 added VERSION_INFO; a minor-0 module answers VERSION only. */
static int kmod_version(int fd, struct sanverbs_version_info *vi)
{
	struct sanverbs_version v = { 0 };

	if (!ioctl(fd, SANVERBS_IOC_VERSION_INFO, vi))
		return 0;
	if (errno != ENOTTY)
		return -errno;
	if (ioctl(fd, SANVERBS_IOC_VERSION, &v))
		/* Some other device sits at that path. */
		return errno == ENOTTY ? -ENODEV : -errno;
	vi->major = v.abi;
	vi->minor = 0;
	vi->page_size = v.page_size;
	vi->max_contig = v.max_contig;
	return 0;
}

int sv_kmod_open(struct sv_kmod **out)
{
	static int warned;
	struct sanverbs_version_info v = { 0 };
	struct sv_kmod *k;
	int fd, ret;

	if (!out)
		return -EINVAL;
	*out = NULL;
	fd = open(kmod_path(), O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT || errno == ENXIO || errno == ENODEV ?
			       -ENODEV :
			       -errno;
	ret = kmod_version(fd, &v);
	if (ret)
		goto err;
	if (v.major != SANVERBS_ABI_MAJOR) {
		if (!__atomic_exchange_n(&warned, 1, __ATOMIC_RELAXED))
			fprintf(stderr,
				"sanverbs: %s speaks ABI %u.%u, this library %u.x; not using it\n",
				kmod_path(), v.major, v.minor,
				SANVERBS_ABI_MAJOR);
		ret = -EPROTO;
		goto err;
	}
	k = calloc(1, sizeof(*k));
	if (!k) {
		ret = -ENOMEM;
		goto err;
	}
	k->fd = fd;
	k->minor = v.minor;
	k->page_size = v.page_size;
	k->max_contig = v.max_contig;
	*out = k;
	return 0;

err:
	close(fd);
	return ret;
}

int sv_kmod_get(struct sv_kmod **out)
{
	int ret = 0;

	if (!out)
		return -EINVAL;
	*out = NULL;
	pthread_mutex_lock(&shared_lock);
	if (!shared)
		ret = sv_kmod_open(&shared);
	if (!ret) {
		shared_refs++;
		*out = shared;
	}
	pthread_mutex_unlock(&shared_lock);
	return ret;
}

void sv_kmod_put(struct sv_kmod *k)
{
	if (!k)
		return;
	pthread_mutex_lock(&shared_lock);
	if (k == shared && !--shared_refs) {
		sv_kmod_close(shared);
		shared = NULL;
	}
	pthread_mutex_unlock(&shared_lock);
}

unsigned int sv_kmod_minor(const struct sv_kmod *k)
{
	return k ? k->minor : 0;
}

bool sv_kmod_has(const struct sv_kmod *k, unsigned int minor)
{
	return k && k->minor >= minor;
}

void sv_kmod_close(struct sv_kmod *k)
{
	if (!k)
		return;
	close(k->fd);
	free(k);
}

int sv_kmod_fd(const struct sv_kmod *k)
{
	return k ? k->fd : -EINVAL;
}

uint64_t sv_kmod_max_contig(const struct sv_kmod *k)
{
	return k ? k->max_contig : 0;
}

/* Maps a freshly created object; on failure the object is freed, so nothing
 * stays charged to the file. */
static void *map_object(struct sv_kmod *k, uint64_t offset, size_t len,
			int prot, int *err)
{
	void *p = mmap(NULL, len, prot, MAP_SHARED, k->fd, (off_t)offset);

	if (p == MAP_FAILED) {
		*err = -errno;
		ioctl(k->fd, SANVERBS_IOC_FREE, &offset);
		return NULL;
	}
	return p;
}

int sv_kmod_alloc(struct sv_kmod *k, size_t len, uint64_t dma_mask,
		  unsigned int flags, void **addr, struct sanverbs_alloc *info)
{
	struct sanverbs_alloc a = { 0 };
	int ret = 0;

	if (!k || !addr || !len || len % k->page_size)
		return -EINVAL;
	a.len = len;
	a.dma_mask = dma_mask;
	a.flags = flags;
	if (ioctl(k->fd, SANVERBS_IOC_ALLOC, &a))
		return -errno;
	*addr = map_object(k, a.offset, len, PROT_READ | PROT_WRITE, &ret);
	if (!*addr)
		return ret;
	if (info)
		*info = a;
	return 0;
}

int sv_kmod_sysaddr_map(struct sv_kmod *k, const void *addr, size_t len,
			unsigned int flags, void **alias, uint64_t *handle)
{
	struct sanverbs_pin p = { 0 };
	uintptr_t a = (uintptr_t)addr, base, end;
	size_t npages;
	char *map;
	int ret = 0;

	if (!k || !alias || !handle || !sv_range_ok(addr, len) ||
	    (flags & ~SV_KMOD_MAP_NOWRITE))
		return -EINVAL;
	base = a & ~(uintptr_t)(k->page_size - 1);
	end = a + len;
	if (end + k->page_size - 1 < end)
		return -EINVAL;
	end = (end + k->page_size - 1) & ~(uintptr_t)(k->page_size - 1);
	npages = (end - base) / k->page_size;
	/* The handle carries the page count so unmap needs nothing else. */
	if (npages > UINT32_MAX)
		return -EINVAL;
	p.addr = base;
	p.len = end - base;
	p.flags = flags & SV_KMOD_MAP_NOWRITE ? SANVERBS_PIN_NOWRITE : 0;
	if (ioctl(k->fd, SANVERBS_IOC_PIN, &p))
		return -errno;
	map = map_object(k, p.offset, p.len,
			 PROT_READ | (flags & SV_KMOD_MAP_NOWRITE ? 0 : PROT_WRITE),
			 &ret);
	if (!map)
		return ret;
	*alias = map + (a - base);
	*handle = (uint64_t)npages << 32 | (p.offset / k->page_size);
	return 0;
}

int sv_kmod_sysaddr_unmap(struct sv_kmod *k, void *alias, uint64_t handle)
{
	uintptr_t base;
	size_t npages = handle >> 32;

	if (!k || !alias || !npages)
		return -EINVAL;
	base = (uintptr_t)alias & ~(uintptr_t)(k->page_size - 1);
	/* The mapping owns the pin: unmapping it unpins the pages. */
	return munmap((void *)base, npages * k->page_size) ? -errno : 0;
}

int sv_kmod_stats(struct sv_kmod *k, struct sanverbs_stats *s)
{
	if (!k || !s)
		return -EINVAL;
	return ioctl(k->fd, SANVERBS_IOC_STATS, s) ? -errno : 0;
}
