/* SPDX-License-Identifier: MIT */
/* Small helpers shared by every engine module (no dependencies of its own). */
#ifndef SV_UTIL_H
#define SV_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SV_EXPORT __attribute__((visibility("default")))

#ifndef container_of
#define container_of(ptr, type, member)                                      \
	((type *)((char *)(ptr) - offsetof(type, member)))
#endif

#define SV_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* True when [addr, addr + len) is a non-empty range that does not wrap. */
static inline int sv_range_ok(const void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr;

	return addr != NULL && len != 0 && a + len > a;
}

/* The page size, read once: several modules need it on hot paths. */
static inline size_t sv_page_size(void)
{
	static size_t ps;
	size_t v = __atomic_load_n(&ps, __ATOMIC_RELAXED);

	if (!v) {
		v = (size_t)sysconf(_SC_PAGESIZE);
		__atomic_store_n(&ps, v, __ATOMIC_RELAXED);
	}
	return v;
}

/* mlock(2)/munlock(2) straight to the kernel. AddressSanitizer replaces
 * the libc calls with no-ops (its shadow memory must never be locked), and
 * the library promises locked pages: under ASan too, it must get them. */
static inline int sv_mlock(const void *addr, size_t len)
{
	return (int)syscall(SYS_mlock, addr, len);
}

static inline int sv_munlock(const void *addr, size_t len)
{
	return (int)syscall(SYS_munlock, addr, len);
}

#endif
