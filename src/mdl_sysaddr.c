/* SPDX-License-Identifier: MIT */
/* MmGetSystemAddressForMdlSafe: a second, library-owned mapping of an MDL's
 * locked pages. Pool memory is mapped again from its memfd; anything else
 * needs /dev/sanverbs (a missing module is a clean -EOPNOTSUPP); each such
 * alias holds a reference on the process's shared file. */
#define _GNU_SOURCE
#include <errno.h>
#include <sys/mman.h>

#include "kmod_client.h"
#include "mdl.h"
#include "pool.h"
#include "util.h"

#define PRIO_FLAGS (SANVERBS_MAPPING_NO_WRITE | SANVERBS_MAPPING_NO_EXECUTE)

void sv_mdl_sysaddr_release(struct sanverbs_mdl *mdl)
{
	switch (mdl->sys_kind) {
	case SV_SYSADDR_POOL:
		munmap(mdl->sys_base, mdl->sys_len);
		sv_pool_put(mdl->sys_pool);
		break;
	case SV_SYSADDR_KMOD:
		sv_kmod_sysaddr_unmap(mdl->sys_kmod, mdl->sysaddr,
				      mdl->sys_handle);
		sv_kmod_put(mdl->sys_kmod);
		mdl->sys_kmod = NULL;
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
		ret = sv_kmod_get(&k);
		if (ret)
			return ret == -ENODEV || ret == -EPROTO ? -EOPNOTSUPP
								 : ret;
		ret = sv_kmod_sysaddr_map(k, mdl->va, mdl->byte_count,
					  nowrite ? SV_KMOD_MAP_NOWRITE : 0, &a,
					  &mdl->sys_handle);
		if (ret) {
			sv_kmod_put(k);
			return ret;
		}
		mdl->sys_kind = SV_SYSADDR_KMOD;
		mdl->sys_kmod = k;
	}
	mdl->sysaddr = a;
	mdl->flags |= SANVERBS_MDL_SYSTEM_VA;
	*out = a;
	return 0;
}
