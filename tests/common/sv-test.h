/* SPDX-License-Identifier: MIT */
/* Shared scaffolding for the Check suites: a main() per test program and the
 * skip convention (exit 77 with the reason). loopqp.h is the peer QP. */
#ifndef SV_TEST_H
#define SV_TEST_H

#include <check.h>
#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#include "sanverbs.h"
#include "loopqp.h"

/* 1 in an AddressSanitizer build (gcc or clang): tests whose subject is
 * something ASan replaces (glibc's allocator, the SIGSEGV disposition,
 * mlock, free holes in the address space) handle it where it bites. */
#if defined(__SANITIZE_ADDRESS__)
#define SV_TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SV_TEST_ASAN 1
#endif
#endif
#ifndef SV_TEST_ASAN
#define SV_TEST_ASAN 0
#endif

/* Where a test should map @len bytes it will munmap and map again at the
 * same address: NULL (anywhere) normally. Under ASan its runtime maps
 * memory of its own (stack depot, allocator metadata) from other threads
 * into whatever hole is at the top of the mmap area, so the hole could be
 * taken before the test maps it again; the hint is then in a range of the
 * test's own (use it with MAP_FIXED_NOREPLACE). */
void *sv_test_map_hint(size_t len);
/* @len bytes of anonymous read/write memory (@flags: MAP_PRIVATE or
 * MAP_SHARED). @at NULL: new memory the test may munmap and map again in
 * place (at sv_test_map_hint() under ASan). @at set: that again, into the
 * hole the test's own munmap left there (MAP_FIXED_NOREPLACE: never over
 * someone else's mapping). Fails the test if it cannot be mapped there. */
void *sv_test_map(void *at, size_t len, int flags);

/* Exit code meson counts as a skip. */
#define SV_TEST_SKIP 77

/* Runs @suite and exits with 0 / 1. Every test program's main() ends here. */
int sv_test_run(Suite *suite);

/* For suites that need an RDMA device: checks in the parent, before Check
 * forks the tests, that one exists; otherwise prints why and exits 77. */
int sv_test_run_rxe(Suite *suite);

/* Opens the test device (SANVERBS_RXE_DEV or the first active one). If no
 * RDMA device exists, prints why and exits 77 so meson reports a skip. */
struct sanverbs_ctx *sv_test_ctx_open(void);

/* Fills @buf with a pattern derived from @seed; sv_check_pattern returns the
 * offset of the first wrong byte or -1 when all match. */
void sv_fill_pattern(void *buf, size_t len, uint32_t seed);
long sv_check_pattern(const void *buf, size_t len, uint32_t seed);

#endif
