/* SPDX-License-Identifier: MIT */
/* Defaults and SANVERBS_* environment overrides for sanverbs_ctx_attr.
 * SANVERBS_CACHE_MW (memory windows for remote registrations, default on)
 * has no attribute field: the cache reads it when the context opens
 * (cache/mw.c); nor have SANVERBS_CACHE_MERGE and SANVERBS_CACHE_ADMIT
 * (cache/setup.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sanverbs.h"
#include "util.h"

#define SV_DEFAULT_CACHE_ENTRIES 16384u
#define SV_DEFAULT_CACHE_BYTES (1ull << 30)

/* Parses "123", "64K", "16M", "1G" (binary units). */
static int parse_size(const char *s, size_t *out)
{
	unsigned long long v, mul = 1;
	char *end;

	if (!*s || *s == '-')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K': mul = 1ull << 10; end++; break;
	case 'm': case 'M': mul = 1ull << 20; end++; break;
	case 'g': case 'G': mul = 1ull << 30; end++; break;
	case 't': case 'T': mul = 1ull << 40; end++; break;
	default: break;
	}
	if (*end || (v && mul > SIZE_MAX / v))
		return -EINVAL;
	*out = (size_t)(v * mul);
	return 0;
}

static int env_size(const char *name, size_t *out)
{
	const char *s = getenv(name);

	if (!s)
		return 0;
	if (parse_size(s, out)) {
		fprintf(stderr, "sanverbs: cannot parse %s=\"%s\"\n", name, s);
		return -EINVAL;
	}
	return 0;
}

static int env_monitor(enum sanverbs_monitor *out)
{
	static const struct {
		const char *name;
		enum sanverbs_monitor m;
	} names[] = {
		{ "auto", SANVERBS_MONITOR_AUTO },
		{ "uffd", SANVERBS_MONITOR_UFFD },
		{ "userfaultfd", SANVERBS_MONITOR_UFFD },
		{ "kmod", SANVERBS_MONITOR_KMOD },
		{ "none", SANVERBS_MONITOR_NONE },
	};
	const char *s = getenv("SANVERBS_MONITOR");
	size_t i;

	if (!s)
		return 0;
	for (i = 0; i < SV_ARRAY_SIZE(names); i++) {
		if (!strcasecmp(s, names[i].name)) {
			*out = names[i].m;
			return 0;
		}
	}
	fprintf(stderr,
		"sanverbs: SANVERBS_MONITOR=\"%s\" is not auto|uffd|kmod|none\n",
		s);
	return -EINVAL;
}

SV_EXPORT int sanverbs_ctx_attr_init(struct sanverbs_ctx_attr *attr)
{
	int ret;

	if (!attr)
		return -EINVAL;
	memset(attr, 0, sizeof(*attr));
	attr->device = getenv("SANVERBS_DEVICE");
	if (attr->device && !*attr->device)
		attr->device = NULL;
	attr->monitor = SANVERBS_MONITOR_AUTO;
	attr->cache_max_entries = SV_DEFAULT_CACHE_ENTRIES;
	attr->cache_max_bytes = SV_DEFAULT_CACHE_BYTES;

	ret = env_monitor(&attr->monitor);
	if (!ret)
		ret = env_size("SANVERBS_CACHE_MAX_ENTRIES",
			       &attr->cache_max_entries);
	if (!ret)
		ret = env_size("SANVERBS_CACHE_MAX_BYTES",
			       &attr->cache_max_bytes);
	return ret;
}
