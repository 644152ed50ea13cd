/* SPDX-License-Identifier: MIT */
/* The one place that chooses an invalidation backend: the kernel module's
 * notifier first (exact, O(1) hit check), userfaultfd next. */
#include <errno.h>

#include "monitor.h"

int sv_monitor_open(enum sanverbs_monitor want, sv_invalidate_fn sink,
		    void *arg, struct sv_monitor **out,
		    enum sanverbs_monitor *kind)
{
	int ret = 0;

	*out = NULL;
	*kind = SANVERBS_MONITOR_NONE;
	if (want == SANVERBS_MONITOR_AUTO || want == SANVERBS_MONITOR_KMOD) {
		ret = sv_monitor_kmod_create(sink, arg, out);
		if (!ret) {
			*kind = SANVERBS_MONITOR_KMOD;
			return 0;
		}
		if (want == SANVERBS_MONITOR_KMOD)
			return ret;
	}
	if (want == SANVERBS_MONITOR_AUTO || want == SANVERBS_MONITOR_UFFD) {
		ret = sv_monitor_uffd_create(sink, arg, out);
		if (!ret) {
			*kind = SANVERBS_MONITOR_UFFD;
			return 0;
		}
		if (want == SANVERBS_MONITOR_UFFD)
			return ret;
	}
	/* NONE, or AUTO with neither backend: the cache does not cache. */
	*out = NULL;
	return 0;
}
