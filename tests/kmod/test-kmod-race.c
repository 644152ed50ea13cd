/* SPDX-License-Identifier: MIT */
/* Description: concurrent calls on one /dev/sanverbs file, from threads and
 * from a forked process sharing it, as an unprivileged user (uid 65534).
 * ALLOC and PIN whose answer cannot be copied out (the argument lies in a
 * read-only page) fail with -EFAULT and leave nothing anyone could map or
 * free, while other threads and another process mmap() and FREE the
 * predictable offsets of the objects being created and destroyed, and
 * successful ALLOCs are mapped and freed meanwhile. Bounded in time
 * (SANVERBS_RACE_SECONDS, default 3); afterwards the module holds nothing
 * and no charge is left (the dmesg check runs after the kmod suite). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kmod-test.h"
#include "sv-test.h"

/* Offsets tried by the mappers: ids are handed out from 1 upwards. */
#define IDS 32

static size_t page;
static int fd;
static volatile int stop;
static void *ro_alloc, *ro_pin;	/* ALLOC/PIN arguments in read-only pages */
static char *pin_src;

struct counts {
	unsigned long ops, bad;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double seconds(void)
{
	const char *e = getenv("SANVERBS_RACE_SECONDS");

	return e && atof(e) > 0 ? atof(e) : 3;
}

/* ALLOC and PIN that must fail: two pages, a size no good ALLOC uses. */
static void *failing_creator(void *arg)
{
	struct counts *c = arg;

	while (!stop) {
		if (ioctl(fd, SANVERBS_IOC_ALLOC, ro_alloc) != -1 ||
		    errno != EFAULT)
			c->bad++;
		if (ioctl(fd, SANVERBS_IOC_PIN, ro_pin) != -1 ||
		    errno != EFAULT)
			c->bad++;
		c->ops += 2;
	}
	return NULL;
}

/* Good one-page ALLOCs, mapped or freed, so ids are reused all the time. */
static void *good_creator(void *arg)
{
	struct counts *c = arg;
	struct sanverbs_alloc a;
	void *p;

	while (!stop) {
		memset(&a, 0, sizeof(a));
		a.len = page;
		a.dma_mask = SANVERBS_DMA_MASK_64;
		if (ioctl(fd, SANVERBS_IOC_ALLOC, &a)) {
			c->bad++;
			continue;
		}
		p = mmap(NULL, page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
			 (off_t)a.offset);
		if (p != MAP_FAILED)
			munmap(p, page);
		else
			ioctl(fd, SANVERBS_IOC_FREE, &a.offset);
		c->ops++;
	}
	return NULL;
}

/* FREE of every id: the failing objects must never be found. */
static void *freer(void *arg)
{
	struct counts *c = arg;
	uint64_t off;
	unsigned int id;

	while (!stop) {
		for (id = 1; id <= IDS; id++) {
			off = (uint64_t)id * page;
			ioctl(fd, SANVERBS_IOC_FREE, &off);
			c->ops++;
		}
	}
	return NULL;
}

/*
 * mmap() of every id with the failing objects' size: a success means an
 * object whose ALLOC or PIN failed was published. One-page mappings race
 * with the good creator's own mmap and FREE.
 */
static unsigned long map_loop(double end, unsigned long *ops)
{
	unsigned long bad = 0;
	unsigned int id;
	void *p;

	while (now() < end && !stop) {
		for (id = 1; id <= IDS; id++) {
			p = mmap(NULL, 2 * page, PROT_READ, MAP_SHARED, fd,
				 (off_t)id * page);
			if (p != MAP_FAILED) {
				bad++;
				munmap(p, 2 * page);
			}
			p = mmap(NULL, page, PROT_READ, MAP_SHARED, fd,
				 (off_t)id * page);
			if (p != MAP_FAILED)
				munmap(p, page);
			(*ops)++;
		}
	}
	return bad;
}

static void *mapper(void *arg)
{
	struct counts *c = arg;

	c->bad += map_loop(1e300, &c->ops);
	return NULL;
}

static void *ro_arg(const void *init, size_t len)
{
	void *p = mmap(NULL, page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(90);
	memcpy(p, init, len);
	if (mprotect(p, page, PROT_READ))
		_exit(91);
	return p;
}

static int race_child(void)
{
	struct counts c[4] = { { 0 } };
	void *(*fn[4])(void *) = { failing_creator, good_creator, freer,
				   mapper };
	struct sanverbs_alloc a = { .len = 0, .dma_mask = SANVERBS_DMA_MASK_64 };
	struct sanverbs_pin pn = { 0 };
	struct rlimit r = { RLIM_INFINITY, RLIM_INFINITY };
	unsigned long child_ops = 0, bad = 0, ops = 0;
	double end = now() + seconds();
	pthread_t t[4];
	int status, i;
	pid_t pid;

	setrlimit(RLIMIT_MEMLOCK, &r);
	kt_become(KT_UID);
	fd = open("/dev/sanverbs", O_RDWR);
	if (fd < 0)
		return 1;
	pin_src = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pin_src == MAP_FAILED)
		return 2;
	memset(pin_src, 1, 2 * page);
	a.len = 2 * page;
	ro_alloc = ro_arg(&a, sizeof(a));
	pn.addr = (uintptr_t)pin_src;
	pn.len = 2 * page;
	ro_pin = ro_arg(&pn, sizeof(pn));

	/* another process on the same file, as in the crash it reproduces */
	pid = fork();
	if (pid < 0)
		return 3;
	if (pid == 0) {
		unsigned long n = 0, b = map_loop(end, &n);

		printf("child process: %lu mmap rounds, %lu bad\n", n, b);
		fflush(stdout);
		_exit(b ? 10 : 0);
	}
	for (i = 0; i < 4; i++)
		if (pthread_create(&t[i], NULL, fn[i], &c[i]))
			return 4;
	while (now() < end)
		usleep(50000);
	stop = 1;
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		ops += c[i].ops;
		bad += c[i].bad;
	}
	if (waitpid(pid, &status, 0) != pid)
		return 5;
	child_ops = WIFEXITED(status) ? WEXITSTATUS(status) : 1;
	printf("threads: %lu calls (%lu failing creates, %lu good allocs, %lu frees, %lu mmap rounds), %lu bad\n",
	       ops, c[0].ops, c[1].ops, c[2].ops, c[3].ops, bad);
	fflush(stdout);
	if (bad)
		return 6;
	if (child_ops)
		return 7;
	if (!c[0].ops || !c[1].ops || !c[3].ops)
		return 8;
	close(fd);
	return 0;
}

START_TEST(failed_create_is_never_visible)
{
	pid_t pid;

	page = (size_t)sysconf(_SC_PAGESIZE);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(race_child());
	kt_wait_ok(pid, "uid 65534 racing ALLOC/PIN/FREE/mmap");
	kt_assert_all_freed();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod-race");
	TCase *tc = tcase_create("kmod");

	kt_require_kmod();
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, failed_create_is_never_visible);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
