/* SPDX-License-Identifier: MIT */
/* Description: /dev/sanverbs as an interface. The ABI handshake matches the
 * shared header; the module unloads and reloads with a parameter; every
 * malformed request (unknown command, zero, unaligned, wrapping or
 * oversized lengths, unknown flags, bad DMA masks, bad user pointers, wrong
 * mmap offsets, sizes, private or executable mappings, a second mapping of
 * the same object) fails with -EINVAL/-EFAULT/-EACCES/-ENOMEM/-ENOTTY and
 * leaves nothing allocated. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmod-test.h"
#include "sv-test.h"

static int fd;
static size_t page;

static void setup(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	fd = kt_open();
}

static void teardown(void)
{
	close(fd);
	kt_assert_all_freed();
}

#define ck_ioctl_err(req, arg, err)                                          \
	do {                                                                 \
		errno = 0;                                                   \
		ck_assert_int_eq(ioctl(fd, req, arg), -1);                   \
		ck_assert_msg(errno == (err), "%s: errno %d (%s), want %d", \
			      #req, errno, strerror(errno), err);            \
	} while (0)

START_TEST(handshake)
{
	struct sanverbs_version v;

	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_VERSION, &v), 0);
	ck_assert_uint_eq(v.abi, SANVERBS_ABI_VERSION);
	ck_assert_uint_eq(v.page_size, page);
	ck_assert_int_eq(sanverbs_kmod_version(), SANVERBS_ABI_VERSION);
}
END_TEST

START_TEST(bad_alloc)
{
	struct sanverbs_alloc a;

	ck_ioctl_err(_IO(SANVERBS_IOC_MAGIC, 99), NULL, ENOTTY);
	ck_ioctl_err(SANVERBS_IOC_ALLOC, NULL, EFAULT);
	ck_ioctl_err(SANVERBS_IOC_ALLOC, (void *)16, EFAULT);
	a = (struct sanverbs_alloc){ .len = 0, .dma_mask = UINT64_MAX };
	ck_ioctl_err(SANVERBS_IOC_ALLOC, &a, EINVAL);
	a.len = page + 1;
	ck_ioctl_err(SANVERBS_IOC_ALLOC, &a, EINVAL);
	a.len = UINT64_MAX - page + 1; /* page-aligned, absurdly large */
	ck_ioctl_err(SANVERBS_IOC_ALLOC, &a, ENOMEM);
	a.len = page;
	a.flags = 0x80;
	ck_ioctl_err(SANVERBS_IOC_ALLOC, &a, EINVAL);
	a.flags = 0;
	a.dma_mask = 0xffffff; /* 24-bit: not supported */
	ck_ioctl_err(SANVERBS_IOC_ALLOC, &a, EINVAL);
	a.dma_mask = 0x1ffffffffULL - 2; /* not 2^n - 1 */
	ck_ioctl_err(SANVERBS_IOC_ALLOC, &a, EINVAL);
	a.dma_mask = 0;
	ck_ioctl_err(SANVERBS_IOC_ALLOC, &a, EINVAL);
}
END_TEST

START_TEST(bad_pin_and_free)
{
	struct sanverbs_pin p = { 0 };
	uint64_t off;
	char *buf = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert_ptr_ne(buf, MAP_FAILED);
	p.addr = (uintptr_t)buf + 1;
	p.len = page;
	ck_ioctl_err(SANVERBS_IOC_PIN, &p, EINVAL); /* unaligned */
	p.addr = (uintptr_t)buf;
	p.len = 0;
	ck_ioctl_err(SANVERBS_IOC_PIN, &p, EINVAL);
	p.len = page + 3;
	ck_ioctl_err(SANVERBS_IOC_PIN, &p, EINVAL);
	p.addr = UINT64_MAX & ~(uint64_t)(page - 1);
	p.len = 2 * page; /* wraps */
	ck_ioctl_err(SANVERBS_IOC_PIN, &p, EINVAL);
	p.addr = 0xffff800000000000ULL; /* kernel half */
	p.len = page;
	ck_ioctl_err(SANVERBS_IOC_PIN, &p, EFAULT);
	p.addr = (uintptr_t)buf;
	p.flags = 0x10;
	ck_ioctl_err(SANVERBS_IOC_PIN, &p, EINVAL);
	p.flags = 0;
	p.reserved = 1;
	ck_ioctl_err(SANVERBS_IOC_PIN, &p, EINVAL);
	p.reserved = 0;
	/* unmapped memory cannot be pinned */
	ck_assert_int_eq(munmap(buf + 2 * page, 2 * page), 0);
	p.len = 4 * page;
	ck_ioctl_err(SANVERBS_IOC_PIN, &p, EFAULT);
	/* a read-only mapping cannot be pinned for writing */
	ck_assert_int_eq(mprotect(buf, 2 * page, PROT_READ), 0);
	p.len = 2 * page;
	ck_ioctl_err(SANVERBS_IOC_PIN, &p, EFAULT);
	p.flags = SANVERBS_PIN_NOWRITE;
	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_PIN, &p), 0);
	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_FREE, &p.offset), 0);
	ck_ioctl_err(SANVERBS_IOC_FREE, &p.offset, EINVAL); /* twice */
	off = 0;
	ck_ioctl_err(SANVERBS_IOC_FREE, &off, EINVAL);
	off = 12345;
	ck_ioctl_err(SANVERBS_IOC_FREE, &off, EINVAL);
	ck_ioctl_err(SANVERBS_IOC_FREE, NULL, EFAULT);
	munmap(buf, 2 * page);
}
END_TEST

START_TEST(bad_mmap)
{
	struct sanverbs_alloc a = { .len = 2 * page,
				    .dma_mask = SANVERBS_DMA_MASK_32 };
	void *p, *q;

	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_ALLOC, &a), 0);
	/* unknown offset, wrong size, private, executable */
	ck_assert_ptr_eq(mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fd,
			      a.offset + 64 * page),
			 MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_eq(mmap(NULL, page, PROT_READ, MAP_SHARED, fd, a.offset),
			 MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_eq(mmap(NULL, 2 * page, PROT_READ, MAP_PRIVATE, fd,
			      a.offset),
			 MAP_FAILED);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_ptr_eq(mmap(NULL, 2 * page, PROT_READ | PROT_EXEC,
			      MAP_SHARED, fd, a.offset),
			 MAP_FAILED);
	ck_assert_int_eq(errno, EACCES);
	/* the status array needs a monitor first */
	ck_assert_ptr_eq(mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0),
			 MAP_FAILED);
	/* the object survived all that and maps once */
	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 a.offset);
	ck_assert_ptr_ne(p, MAP_FAILED);
	memset(p, 7, 2 * page);
	ck_assert_int_eq(mprotect(p, page, PROT_READ | PROT_EXEC), -1);
	q = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fd, a.offset);
	ck_assert_ptr_eq(q, MAP_FAILED);
	/* growing it is refused */
	ck_assert_ptr_eq(mremap(p, 2 * page, 4 * page, 0), MAP_FAILED);
	/* partial unmap keeps the rest */
	ck_assert_int_eq(munmap(p, page), 0);
	ck_assert_int_eq(((char *)p)[page], 7);
	ck_assert_int_eq(munmap((char *)p + page, page), 0);
}
END_TEST

START_TEST(bad_monitor)
{
	struct sanverbs_mon_init mi = { .slots = 0 };
	struct sanverbs_watch w = { 0 };
	char buf[64];

	ck_ioctl_err(SANVERBS_IOC_WATCH, &w, EINVAL); /* no monitor yet */
	ck_assert_int_eq(read(fd, buf, sizeof(buf)), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_ioctl_err(SANVERBS_IOC_MON_INIT, &mi, EINVAL);
	mi.slots = SANVERBS_MON_MAX_SLOTS + 1;
	ck_ioctl_err(SANVERBS_IOC_MON_INIT, &mi, EINVAL);
	mi.slots = 4;
	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_MON_INIT, &mi), 0);
	ck_ioctl_err(SANVERBS_IOC_MON_INIT, &mi, EBUSY);
	w.addr = (uintptr_t)buf;
	w.len = 0;
	ck_ioctl_err(SANVERBS_IOC_WATCH, &w, EINVAL);
	w.len = UINT64_MAX;
	ck_ioctl_err(SANVERBS_IOC_WATCH, &w, EINVAL);
	w.slot = 4;
	ck_ioctl_err(SANVERBS_IOC_UNWATCH, &w, EINVAL);
	w.slot = 1;
	ck_ioctl_err(SANVERBS_IOC_UNWATCH, &w, EINVAL); /* not in use */
	/* status array: read-only */
	ck_assert_ptr_eq(mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED,
			      fd, 0),
			 MAP_FAILED);
	ck_assert_int_eq(errno, EACCES);
	ck_assert_ptr_eq(mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fd, 0),
			 MAP_FAILED);
	/* short read buffer */
	ck_assert_int_eq(read(fd, buf, 8), -1);
	ck_assert_int_eq(errno, EINVAL);
}
END_TEST

static int run(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

START_TEST(unload_reload_with_parameter)
{
	const char *ko = kt_ko_path();
	char cmd[1200];

	if (!ko) {
		/* Without the .ko the module cannot come back: say so. */
		ck_abort_msg("sanverbs.ko not found: set SANVERBS_KMOD_KO or run kmod/build.sh");
	}
	close(fd);
	ck_assert_int_eq(run("rmmod sanverbs"), 0);
	ck_assert_int_ne(access("/dev/sanverbs", F_OK), 0);
	ck_assert_int_eq(sanverbs_kmod_version(), -ENODEV);
	snprintf(cmd, sizeof(cmd), "insmod '%s' nolowmem=1 max_file_bytes=65536",
		 ko);
	ck_assert_int_eq(run(cmd), 0);
	ck_assert_uint_eq(kt_param("nolowmem"), 1);
	ck_assert_uint_eq(kt_param("max_file_bytes"), 65536);
	ck_assert_int_eq(run("rmmod sanverbs"), 0);
	snprintf(cmd, sizeof(cmd), "insmod '%s'", ko);
	ck_assert_int_eq(run(cmd), 0);
	ck_assert_uint_eq(kt_param("nolowmem"), 0);
	fd = kt_open();
	ck_assert_int_eq(sanverbs_kmod_version(), SANVERBS_ABI_VERSION);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod-ioctl");
	TCase *tc = tcase_create("kmod");

	kt_require_kmod();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, handshake);
	tcase_add_test(tc, bad_alloc);
	tcase_add_test(tc, bad_pin_and_free);
	tcase_add_test(tc, bad_mmap);
	tcase_add_test(tc, bad_monitor);
	tcase_add_test(tc, unload_reload_with_parameter);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
