/* SPDX-License-Identifier: MIT */
/* MmGetSystemAddressForMdlSafe: a second, library-owned mapping of an MDL's
 * locked pages. Pool memory is mapped again from its memfd; anything else
 * needs /dev/sanverbs. kmod_client.c is built by another module and may be
 * absent, so its entry points are weak here: a missing client or module is
 * a clean -EOPNOTSUPP rather than a link failure. */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>

#include "kmod_client.h"
#include "mdl.h"
#include "pool.h"
#include "util.h"

#pragma weak sv_kmod_open
#pragma weak sv_kmod_sysaddr_map
#pragma weak sv_kmod_sysaddr_unmap

#define PRIO_FLAGS (SANVERBS_MAPPING_NO_WRITE | SANVERBS_MAPPING_NO_EXECUTE)

static pthread_mutex_t kmod_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sv_kmod *kmod;
static int kmod_state; /* 0 untried, 1 open, -1 unavailable */

static struct sv_kmod *kmod_get(void)
{
	pthread_mutex_lock(&kmod_lock);
	if (!kmod_state) {
		kmod_state = -1;
		if (sv_kmod_open && sv_kmod_sysaddr_map &&
		    sv_kmod_sysaddr_unmap && sv_kmod_open(&kmod) == 0)
			kmod_state = 1;
	}
	pthread_mutex_unlock(&kmod_lock);
	return kmod_state > 0 ? kmod : NULL;
}

void sv_mdl_sysaddr_release(struct sanverbs_mdl *mdl)
{
	switch (mdl->sys_kind) {
	case SV_SYSADDR_POOL:
		munmap(mdl->sys_base, mdl->sys_len);
		sv_pool_put(mdl->sys_pool);
		break;
	case SV_SYSADDR_KMOD:
		sv_kmod_sysaddr_unmap(kmod, mdl->sysaddr, mdl->sys_handle);
		break;
	case SV_SYSADDR_NONE:
		return;
	}
	mdl->sys_kind = SV_SYSADDR_NONE;
	mdl->sysaddr = NULL;
	mdl->sys_pool = NULL;
	mdl->flags &= ~SANVERBS_MDL_SYSTEM_VA;
}

SV_EXPORT int sanverbs_mdl_system_address(struct sanverbs_mdl *mdl,
					  unsigned int priority, void **out)
{
	unsigned int prio = priority & ~PRIO_FLAGS;
	int nowrite = !!(priority & SANVERBS_MAPPING_NO_WRITE);
	struct sanverbs_pool *pool;
	struct sv_kmod *k;
	void *a;
	int ret;

	if (out)
		*out = NULL;
	if (!mdl || !out || !(mdl->flags & SANVERBS_MDL_LOCKED) ||
	    (prio != SANVERBS_PAGE_PRIORITY_LOW &&
	     prio != SANVERBS_PAGE_PRIORITY_NORMAL &&
	     prio != SANVERBS_PAGE_PRIORITY_HIGH))
		return -EINVAL;
	if (mdl->sysaddr) {
		*out = mdl->sysaddr;
		return 0;
	}
	if (!sv_mdl_pressure_allows(prio, NULL))
		return -ENOMEM;

	pool = sv_pool_get_range(mdl->va, mdl->byte_count);
	if (pool) {
		a = sv_pool_alias(pool, mdl->va, mdl->byte_count, nowrite,
				  &mdl->sys_base, &mdl->sys_len);
		if (!a) {
			ret = errno == EAGAIN || errno == EPERM ? -ENOMEM
								: -errno;
			sv_pool_put(pool);
			return ret ? ret : -ENOMEM;
		}
		mdl->sys_kind = SV_SYSADDR_POOL;
		mdl->sys_pool = pool;
	} else {
		k = kmod_get();
		if (!k)
			return -EOPNOTSUPP;
		ret = sv_kmod_sysaddr_map(k, mdl->va, mdl->byte_count,
					  nowrite ? SV_KMOD_MAP_NOWRITE : 0, &a,
					  &mdl->sys_handle);
		if (ret)
			return ret == -ENODEV ? -EOPNOTSUPP : ret;
		mdl->sys_kind = SV_SYSADDR_KMOD;
	}
	mdl->sysaddr = a;
	mdl->flags |= SANVERBS_MDL_SYSTEM_VA;
	*out = a;
	return 0;
}
