/* SPDX-License-Identifier: MIT */
/* Description: sv_range_anonymous() tells anonymous memory (private, shared
 * anonymous, heap) from file mappings (memfd shared and private, regular
 * files) and from holes, across VMA boundaries; the userfaultfd monitor
 * relies on it to never cache memory whose pages a truncate() can take
 * away without an event. The maps fd it keeps open is re-checked on every
 * call: a forked child reads its own maps, not the parent's, and a closed
 * and reused fd number is not read as maps. sv_range_info() also gives the
 * rights common to the whole range, which the cache checks before it lets
 * the kernel pin memory with FOLL_FORCE. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "sv-test.h"
#include "vma_kind.h"

#define PS 4096

static char *map(int prot, int flags, int fd, size_t len)
{
	char *p = mmap(NULL, len, prot, flags, fd, 0);

	ck_assert_ptr_ne(p, MAP_FAILED);
	return p;
}

START_TEST(anonymous_kinds)
{
	char *priv = map(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			 -1, 4 * PS);
	char *shared = map(PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
			   -1, 4 * PS);
	char *heap = malloc(100);

	ck_assert_int_eq(sv_range_anonymous((uintptr_t)priv, 4 * PS), 1);
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)priv + 10, 1), 1);
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)shared, 4 * PS), 1);
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)heap, 100), 1);
	/* two VMAs of different protection: still one anonymous range */
	ck_assert_int_eq(mprotect(priv + PS, PS, PROT_READ), 0);
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)priv, 4 * PS), 1);
	free(heap);
	munmap(priv, 4 * PS);
	munmap(shared, 4 * PS);
}
END_TEST

START_TEST(file_kinds)
{
	int fd = memfd_create("sv-vma", 0);
	char *sh, *pr;
	FILE *f = tmpfile();
	char *reg;

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, 4 * PS), 0);
	sh = map(PROT_READ | PROT_WRITE, MAP_SHARED, fd, 4 * PS);
	pr = map(PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 4 * PS);
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)sh, 4 * PS), 0);
	/* private file mappings keep unwritten pages of the file */
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)pr + PS, PS), 0);
	ck_assert_ptr_nonnull(f);
	ck_assert_int_eq(ftruncate(fileno(f), PS), 0);
	reg = map(PROT_READ, MAP_SHARED, fileno(f), PS);
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)reg, PS), 0);
	munmap(sh, 4 * PS);
	munmap(pr, 4 * PS);
	munmap(reg, PS);
	fclose(f);
	close(fd);
}
END_TEST

START_TEST(mixed_and_holes)
{
	char *p = map(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		      6 * PS);
	int fd = memfd_create("sv-vma", 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, PS), 0);
	/* anonymous | file | anonymous | hole | anonymous ... */
	ck_assert_ptr_eq(mmap(p + PS, PS, PROT_READ, MAP_SHARED | MAP_FIXED,
			      fd, 0),
			 p + PS);
	ck_assert_int_eq(munmap(p + 3 * PS, PS), 0);
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)p, PS), 1);
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)p, 3 * PS), 0);
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)p + 2 * PS, 2 * PS),
			 -EFAULT);
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)p + 3 * PS, PS),
			 -EFAULT);
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)p + 4 * PS, 2 * PS), 1);
	munmap(p, 6 * PS);
	close(fd);
}
END_TEST

/* sv_range_info(): the rights every mapping of the range grants, across
 * VMA boundaries, and holes. */
START_TEST(rights)
{
	char *p = map(PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1,
		      4 * PS);
	unsigned int info;

	ck_assert_int_eq(sv_range_info((uintptr_t)p, 4 * PS, &info), 0);
	ck_assert_uint_eq(info, SV_RANGE_ANON | SV_RANGE_READ | SV_RANGE_WRITE);
	ck_assert_int_eq(mprotect(p + PS, PS, PROT_READ), 0);
	ck_assert_int_eq(sv_range_info((uintptr_t)p, 4 * PS, &info), 0);
	ck_assert_uint_eq(info, SV_RANGE_ANON | SV_RANGE_READ);
	ck_assert_int_eq(sv_range_info((uintptr_t)p + 2 * PS, 10, &info), 0);
	ck_assert_uint_eq(info, SV_RANGE_ANON | SV_RANGE_READ | SV_RANGE_WRITE);
	ck_assert_int_eq(mprotect(p + 3 * PS, PS, PROT_NONE), 0);
	ck_assert_int_eq(sv_range_info((uintptr_t)p + 2 * PS, PS + 1, &info),
			 0);
	ck_assert_uint_eq(info, SV_RANGE_ANON);
	ck_assert_int_eq(munmap(p + 2 * PS, PS), 0);
	ck_assert_int_eq(sv_range_info((uintptr_t)p, 4 * PS, &info), -EFAULT);
	ck_assert_int_eq(sv_range_info((uintptr_t)p + 2 * PS, 1, &info),
			 -EFAULT);
	munmap(p, 4 * PS);
}
END_TEST

START_TEST(many_mappings)
{
	/* more maps lines than one 4 KiB read holds: the parser must carry
	 * partial lines across reads */
	enum { N = 300 };
	char *m[N];
	int i;

	for (i = 0; i < N; i++)
		m[i] = map(i & 1 ? PROT_READ : PROT_READ | PROT_WRITE,
			   MAP_PRIVATE | MAP_ANONYMOUS, -1, PS);
	for (i = 0; i < N; i++)
		ck_assert_int_eq(sv_range_anonymous((uintptr_t)m[i], PS), 1);
	for (i = 0; i < N; i++)
		munmap(m[i], PS);
}
END_TEST

/* Child exit code: 0 when every check held, else the failing check. */
static int child_checks(void)
{
	int fd = memfd_create("sv-kind-child", 0);
	char *f, *a;

	if (fd < 0 || ftruncate(fd, PS))
		return 10;
	/* mapped only here: the parent's maps cannot know either */
	f = mmap(NULL, PS, PROT_READ, MAP_SHARED, fd, 0);
	a = mmap(NULL, PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (f == MAP_FAILED || a == MAP_FAILED)
		return 11;
	if (sv_range_anonymous((uintptr_t)f, PS) != 0)
		return 12;
	if (sv_range_anonymous((uintptr_t)a, PS) != 1)
		return 13;
	return 0;
}

START_TEST(fork_reads_own_maps)
{
	char *p = map(PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, PS);
	int st;
	pid_t pid;

	/* the parent opens its maps fd first */
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)p, PS), 1);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (!pid)
		_exit(child_checks());
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
	/* and still reads its own afterwards */
	ck_assert_int_eq(sv_range_anonymous((uintptr_t)p, PS), 1);
	munmap(p, PS);
}
END_TEST

/* Child exit code: 0 when the maps fd survived a close-everything. */
static int child_closes_all(void)
{
	char *p = mmap(NULL, PS, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	int fd, i;

	if (p == MAP_FAILED)
		return 20;
	if (sv_range_anonymous((uintptr_t)p, PS) != 1)
		return 21;
	/* what a daemon does: close everything, then open something else
	 * that gets the same numbers (a child of the test, so Check's own
	 * descriptors in the test process stay open) */
	for (fd = 3; fd < 64; fd++)
		close(fd);
	for (i = 0; i < 8; i++)
		if (open("/dev/zero", O_RDONLY | O_CLOEXEC) < 0)
			return 22;
	return sv_range_anonymous((uintptr_t)p, PS) == 1 ? 0 : 23;
}

START_TEST(closed_fd_reopened)
{
	int st;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (!pid)
		_exit(child_closes_all());
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert(WIFEXITED(st));
	ck_assert_int_eq(WEXITSTATUS(st), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("vma-kind");
	TCase *tc = tcase_create("maps");

	tcase_add_test(tc, anonymous_kinds);
	tcase_add_test(tc, file_kinds);
	tcase_add_test(tc, mixed_and_holes);
	tcase_add_test(tc, many_mappings);
	tcase_add_test(tc, rights);
	tcase_add_test(tc, fork_reads_own_maps);
	tcase_add_test(tc, closed_fd_reopened);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
