/* SPDX-License-Identifier: MIT */
/* Every SANVERBS_* environment variable the libraries read, as fi_info -e
 * and ucx_info -c list theirs. tests/api/check-settings.py fails when a
 * variable read in src/ or provider/ is missing here. */
#include <stdlib.h>

#include "cli.h"

static const struct cli_setting settings[] = {
	{ "SANVERBS_DEVICE", "libsanverbs",
	  "(first device with an active port)",
	  "RDMA device sanverbs_ctx_open() opens when the caller names none" },
	{ "SANVERBS_MONITOR", "libsanverbs", "auto",
	  "invalidation monitor of the registration cache: auto (the kernel "
	  "module, else userfaultfd, else no caching), uffd, kmod, none "
	  "(caching off)" },
	{ "SANVERBS_CACHE_MAX_ENTRIES", "libsanverbs", "16384",
	  "most registrations one context keeps cached (suffix k/M/G/T "
	  "allowed); beyond it the least recently used are evicted" },
	{ "SANVERBS_CACHE_MAX_BYTES", "libsanverbs", "1G",
	  "most bytes the cached registrations of one context pin (bytes, "
	  "suffix k/M/G/T = 2^10/2^20/2^30/2^40)" },
	{ "SANVERBS_CACHE_MW", "libsanverbs", "1",
	  "0/no/off: no memory windows for remote access, so registrations "
	  "with remote access are not cached" },
	{ "SANVERBS_CACHE_MERGE", "libsanverbs", "1",
	  "0/no/off: a registration overlapping cached ones of the same "
	  "access is not merged with them into one (overlaps pinned twice)" },
	{ "SANVERBS_CACHE_ADMIT", "libsanverbs",
	  "(second under userfaultfd, first under the module)",
	  "first: every miss is cached; second: memory the monitor does not "
	  "watch yet is registered uncached at its first miss and cached at "
	  "its second" },
	{ "SANVERBS_UFFD_USER_MODE_ONLY", "libsanverbs", "(unset)",
	  "when set, the userfaultfd monitor asks only for "
	  "UFFD_USER_MODE_ONLY (what an unprivileged process gets)" },
	{ "SANVERBS_KMOD_DEV", "libsanverbs", "/dev/sanverbs",
	  "path of the kernel module's device node" },
	{ "SANVERBS_STATS", "libsanverbs", "0",
	  "1: serve this process's cache counters to `sanverbs stat` on an "
	  "abstract unix socket" },
	{ "SANVERBS_WSP_TIMEOUT_MS", "libsanverbs-provider", "30000",
	  "milliseconds the WSP* calls wait for a connection or a completion "
	  "(1 to 3599999)" },
};

const struct cli_setting *cli_settings(size_t *n)
{
	*n = sizeof(settings) / sizeof(settings[0]);
	return settings;
}
