/* SPDX-License-Identifier: MIT */
/* Description: what an unprivileged user (uid 65534) can make the module
 * hold is charged to that user. RLIMIT_MEMLOCK bounds PIN and ALLOC through
 * mm->pinned_vm (VmPin) as it bounds ibv_reg_mr(), and CAP_IPC_LOCK is
 * exempt; the monitor's status array, its watches and the buffers are
 * charged to the caller's memory cgroup, so a child cgroup's memory.max refuses them with
 * -ENOMEM (no OOM kill); max_user_bytes bounds each user over all of its
 * files and processes, so a greedy user leaves another user its share; and
 * everything, charges included, is given back at close and at SIGKILL. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmod-test.h"
#include "sv-test.h"

#define KiB 1024UL
#define MiB (1024UL * 1024)

static size_t page;
static char saved_user[32], saved_total[32];

/* A module without the parameter leaves "" (the test using it fails). */
static void save_param(const char *name, char *buf)
{
	char path[256];

	buf[0] = 0;
	snprintf(path, sizeof(path), KT_PARAM_DIR "%s", name);
	if (access(path, R_OK) == 0)
		snprintf(buf, 32, "%lu", kt_param(name));
}

static void setup(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	save_param("max_user_bytes", saved_user);
	save_param("max_total_bytes", saved_total);
}

static void teardown(void)
{
	if (saved_user[0])
		kt_set_param("max_user_bytes", saved_user);
	kt_set_param("max_total_bytes", saved_total);
	kt_assert_all_freed();
}

static void set_memlock(rlim_t bytes)
{
	struct rlimit r = { bytes, bytes };

	if (setrlimit(RLIMIT_MEMLOCK, &r))
		_exit(98);
}

/* 0 or errno */
static int do_alloc(int fd, size_t len, uint64_t *offset)
{
	struct sanverbs_alloc a = { .len = len,
				    .dma_mask = SANVERBS_DMA_MASK_64 };

	if (ioctl(fd, SANVERBS_IOC_ALLOC, &a))
		return errno;
	if (offset)
		*offset = a.offset;
	return 0;
}

static int do_pin(int fd, void *addr, size_t len, uint64_t *offset)
{
	struct sanverbs_pin p = { .addr = (uintptr_t)addr, .len = len };

	if (ioctl(fd, SANVERBS_IOC_PIN, &p))
		return errno;
	if (offset)
		*offset = p.offset;
	return 0;
}

static char *anon(size_t len)
{
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED)
		_exit(97);
	memset(p, 1, len);
	return p;
}

/* The unprivileged side of memlock_bounds_pin_and_alloc. */
static int memlock_child(void)
{
	char *mem = anon(MiB);
	uint64_t off = 0, pin_off = 0;
	void *map;
	int fd;

	set_memlock(64 * KiB);
	kt_become(KT_UID);
	fd = open("/dev/sanverbs", O_RDWR);
	if (fd < 0)
		return 1;
	/* Over the limit: refused, as ibv_reg_mr() would be. */
	if (do_pin(fd, mem, MiB, NULL) != ENOMEM)
		return 2;
	if (do_alloc(fd, MiB, NULL) != ENOMEM)
		return 3;
	if (kt_vm_kb("VmPin") != 0)
		return 4;
	/* Up to the limit, counted where the kernel counts ib_umem pins. */
	if (do_pin(fd, mem, 32 * KiB, &pin_off))
		return 5;
	if (kt_vm_kb("VmPin") != 32)
		return 6;
	if (do_alloc(fd, 32 * KiB, &off))
		return 7;
	if (kt_vm_kb("VmPin") != 64)
		return 8;
	if (do_pin(fd, mem + 64 * KiB, page, NULL) != ENOMEM)
		return 9;
	/* Given back by FREE, and by munmap once the mapping owns it. */
	if (ioctl(fd, SANVERBS_IOC_FREE, &pin_off))
		return 10;
	if (kt_vm_kb("VmPin") != 32)
		return 11;
	map = mmap(NULL, 32 * KiB, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		   (off_t)off);
	if (map == MAP_FAILED)
		return 12;
	close(fd);
	if (kt_vm_kb("VmPin") != 32)
		return 13;
	munmap(map, 32 * KiB);
	if (kt_vm_kb("VmPin") != 0)
		return 14;
	return 0;
}

START_TEST(memlock_bounds_pin_and_alloc)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(memlock_child());
	kt_wait_ok(pid, "uid 65534 with RLIMIT_MEMLOCK 64 KiB");
}
END_TEST

START_TEST(cap_ipc_lock_is_exempt)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		char *mem = anon(MiB);
		int fd;

		/* root keeps CAP_IPC_LOCK: the limit does not apply */
		set_memlock(64 * KiB);
		fd = open("/dev/sanverbs", O_RDWR);
		if (fd < 0)
			_exit(1);
		if (do_pin(fd, mem, MiB, NULL))
			_exit(2);
		if (do_alloc(fd, MiB, NULL))
			_exit(3);
		if (kt_vm_kb("VmPin") != 2 * 1024)
			_exit(4);
		close(fd);
		_exit(0);
	}
	kt_wait_ok(pid, "root with RLIMIT_MEMLOCK 64 KiB");
}
END_TEST

/* The cgroup2 hierarchy, mounted here if the system has none. */
static const char *cgroup_root(void)
{
	static char root[256];
	char dev[256], dir[256], type[64];
	FILE *m = fopen("/proc/self/mounts", "r");

	ck_assert_ptr_nonnull(m);
	while (fscanf(m, "%255s %255s %63s %*[^\n]", dev, dir, type) == 3) {
		if (!strcmp(type, "cgroup2")) {
			snprintf(root, sizeof(root), "%s", dir);
			fclose(m);
			return root;
		}
	}
	fclose(m);
	snprintf(root, sizeof(root), "/sys/fs/cgroup");
	if (access(root, F_OK)) {
		snprintf(root, sizeof(root), "/tmp/sanverbs-cgroup2");
		mkdir(root, 0755);
	}
	ck_assert_msg(mount("none", root, "cgroup2", 0, NULL) == 0,
		      "mount cgroup2 on %s: %s", root, strerror(errno));
	return root;
}

static void write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	ck_assert_msg(fd >= 0, "%s: %s", path, strerror(errno));
	n = write(fd, text, strlen(text));
	ck_assert_msg(n == (ssize_t)strlen(text), "write %s to %s: %s", text,
		      path, strerror(errno));
	close(fd);
}

static unsigned long read_ul(const char *path, const char *key)
{
	char line[256];
	unsigned long v = ~0UL;
	FILE *f = fopen(path, "r");

	if (!f)
		return v;
	while (fgets(line, sizeof(line), f)) {
		if (!key) {
			v = strtoul(line, NULL, 10);
			break;
		}
		if (!strncmp(line, key, strlen(key)) &&
		    line[strlen(key)] == ' ')
			v = strtoul(line + strlen(key) + 1, NULL, 10);
	}
	fclose(f);
	return v;
}

/* Enough watches that their allocations show in memory.current. */
#define MEMCG_WATCHES 16384

/* The unprivileged side of memcg_charges_the_caller, in cgroup @cg whose
 * memory.max is 32 MiB. */
static int memcg_child(const char *cg)
{
	struct sanverbs_mon_init mi = { .slots = SANVERBS_MON_MAX_SLOTS };
	char cur[600], events[600], procs[600], pid[32];
	unsigned long before, after, max_before;
	struct sanverbs_watch wa;
	int fd, i, refused = 0;
	char *mem;

	snprintf(cur, sizeof(cur), "%s/memory.current", cg);
	snprintf(events, sizeof(events), "%s/memory.events", cg);
	snprintf(procs, sizeof(procs), "%s/cgroup.procs", cg);
	snprintf(pid, sizeof(pid), "%d", getpid());
	fd = open(procs, O_WRONLY);
	if (fd < 0 || write(fd, pid, strlen(pid)) < 0)
		return 1;
	close(fd);
	set_memlock(RLIM_INFINITY);
	kt_become(KT_UID);
	max_before = read_ul(events, "max");
	mem = anon(page);

	/* 8 MiB of status array: the caller's cgroup pays for it. */
	before = read_ul(cur, NULL);
	fd = open("/dev/sanverbs", O_RDWR);
	if (fd < 0 || ioctl(fd, SANVERBS_IOC_MON_INIT, &mi))
		return 2;
	after = read_ul(cur, NULL);
	if (after < before + 7 * MiB) {
		fprintf(stderr, "memory.current %lu -> %lu after MON_INIT\n",
			before, after);
		return 3;
	}
	/*
	 * Each watch is a kernel allocation of its own (a few hundred bytes):
	 * the cgroup pays for those too, half of their size at the least.
	 */
	before = after;
	for (i = 0; i < MEMCG_WATCHES; i++) {
		memset(&wa, 0, sizeof(wa));
		wa.addr = (uintptr_t)mem;
		wa.len = page;
		if (ioctl(fd, SANVERBS_IOC_WATCH, &wa))
			return 4;
	}
	after = read_ul(cur, NULL);
	if (after < before + MEMCG_WATCHES * 128UL) {
		fprintf(stderr, "memory.current %lu -> %lu after %d WATCHes\n",
			before, after, MEMCG_WATCHES);
		return 5;
	}
	/* More monitors until memory.max refuses one (not the OOM killer). */
	for (i = 0; i < 16 && !refused; i++) {
		fd = open("/dev/sanverbs", O_RDWR);
		if (fd < 0)
			return 6;
		if (ioctl(fd, SANVERBS_IOC_MON_INIT, &mi)) {
			if (errno != ENOMEM)
				return 7;
			refused = 1;
		}
	}
	if (!refused)
		return 8;
	/* Buffers too: 4 MiB at a time until the cgroup is full. */
	refused = 0;
	for (i = 0; i < 16 && !refused; i++) {
		int e = do_alloc(fd, 4 * MiB, NULL);

		if (e && e != ENOMEM)
			return 9;
		refused = e == ENOMEM;
	}
	if (!refused)
		return 10;
	if (read_ul(events, "max") == max_before)
		return 11;
	return 0;
}

START_TEST(memcg_charges_the_caller)
{
	const char *root = cgroup_root();
	char path[600], cg[400], ctl[256] = "";
	pid_t pid;
	FILE *f;

	snprintf(path, sizeof(path), "%s/cgroup.controllers", root);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_ptr_nonnull(fgets(ctl, sizeof(ctl), f));
	fclose(f);
	ck_assert_msg(strstr(ctl, "memory"), "no memory controller: %s", ctl);
	snprintf(path, sizeof(path), "%s/cgroup.subtree_control", root);
	write_file(path, "+memory");
	snprintf(cg, sizeof(cg), "%s/sanverbs-limits-%d", root, getpid());
	ck_assert_msg(mkdir(cg, 0755) == 0, "mkdir %s: %s", cg,
		      strerror(errno));
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	write_file(path, "33554432");
	snprintf(path, sizeof(path), "%s/memory.swap.max", cg);
	if (access(path, W_OK) == 0)
		write_file(path, "0");

	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(memcg_child(cg));
	kt_wait_ok(pid, "uid 65534 in a cgroup with memory.max 32 MiB");
	kt_assert_all_freed();
	ck_assert_msg(rmdir(cg) == 0, "rmdir %s: %s", cg, strerror(errno));
}
END_TEST

/* Allocates 1 MiB buffers until refused; returns how many it got. */
static int grab(int fd, int most)
{
	int n = 0;

	while (n < most && !do_alloc(fd, MiB, NULL))
		n++;
	return n;
}

START_TEST(greedy_user_leaves_others_their_share)
{
	int go[2], held[2];
	pid_t greedy, other;
	char c;

	/* the module's budget fits two users' */
	kt_set_param("max_user_bytes", "4194304");
	kt_set_param("max_total_bytes", "8388608");
	ck_assert_int_eq(pipe(go), 0);
	ck_assert_int_eq(pipe(held), 0);
	greedy = fork();
	ck_assert_int_ge(greedy, 0);
	if (greedy == 0) {
		struct sanverbs_mon_init mi = { .slots = SANVERBS_MON_MAX_SLOTS };
		int fd1, fd2, status;
		pid_t pid;

		set_memlock(RLIM_INFINITY);
		kt_become(KT_UID);
		fd1 = open("/dev/sanverbs", O_RDWR);
		fd2 = open("/dev/sanverbs", O_RDWR);
		if (fd1 < 0 || fd2 < 0)
			_exit(1);
		/* two files, one budget: 4 MiB in all */
		if (grab(fd1, 3) != 3 || grab(fd2, 8) != 1)
			_exit(2);
		/* kernel memory counts too: 8 MiB of status is over budget */
		if (!ioctl(fd2, SANVERBS_IOC_MON_INIT, &mi) || errno != ENOMEM)
			_exit(3);
		pid = fork();
		if (pid == 0)
			/* another process of the same user: same budget */
			_exit(grab(open("/dev/sanverbs", O_RDWR), 1) ? 1 : 0);
		if (waitpid(pid, &status, 0) != pid || status)
			_exit(4);
		if (write(held[1], "x", 1) != 1 || read(go[0], &c, 1) != 1)
			_exit(5);
		_exit(0);
	}
	/* Only the child writes held and reads go: one failing early ends the read. */
	close(held[1]);
	close(go[0]);
	if (read(held[0], &c, 1) != 1) {
		kt_wait_ok(greedy, "greedy uid 65534");
		ck_abort_msg("greedy uid 65534 ended without holding its share");
	}
	other = fork();
	ck_assert_int_ge(other, 0);
	if (other == 0) {
		set_memlock(RLIM_INFINITY);
		kt_become(KT_UID2);
		_exit(grab(open("/dev/sanverbs", O_RDWR), 8) == 4 ? 0 : 1);
	}
	kt_wait_ok(other, "uid 65533 next to a greedy uid 65534");
	ck_assert_int_eq(write(go[1], "x", 1), 1);
	kt_wait_ok(greedy, "greedy uid 65534");
	close(go[1]);
	close(held[0]);
}
END_TEST

/* Takes one of everything the module hands out; returns with it held. */
static int hold_everything(void)
{
	struct sanverbs_mon_init mi = { .slots = 1024 };
	struct sanverbs_watch wa;
	char *mem = anon(8 * page);
	uint64_t off = 0;
	void *p;
	int fd, i;

	fd = open("/dev/sanverbs", O_RDWR);
	if (fd < 0)
		return 1;
	if (do_alloc(fd, 4 * page, &off) || do_alloc(fd, 4 * page, NULL))
		return 2;
	p = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)off);
	if (p == MAP_FAILED)
		return 3;
	if (do_pin(fd, mem, 2 * page, &off) || do_pin(fd, mem, page, NULL))
		return 4;
	p = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_SHARED, fd,
		 (off_t)off);
	if (p == MAP_FAILED)
		return 5;
	if (ioctl(fd, SANVERBS_IOC_MON_INIT, &mi))
		return 6;
	if (mmap(NULL, page, PROT_READ, MAP_SHARED, fd, 0) == MAP_FAILED)
		return 7;
	for (i = 0; i < 4; i++) {
		memset(&wa, 0, sizeof(wa));
		wa.addr = (uintptr_t)mem + (size_t)i * page;
		wa.len = page;
		if (ioctl(fd, SANVERBS_IOC_WATCH, &wa))
			return 8;
	}
	return 0;
}

START_TEST(everything_freed_at_exit_and_kill)
{
	struct sanverbs_stats s;
	int ready[2];
	pid_t pid;
	char c;

	/* a small user budget: what is not given back shows at once */
	kt_set_param("max_user_bytes", "1048576");
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		set_memlock(RLIM_INFINITY);
		kt_become(KT_UID);
		_exit(hold_everything());
	}
	kt_wait_ok(pid, "uid 65534 exiting with everything held");
	kt_assert_all_freed();

	ck_assert_int_eq(pipe(ready), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		set_memlock(RLIM_INFINITY);
		kt_become(KT_UID);
		c = (char)hold_everything();
		if (write(ready[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	ck_assert_int_eq(read(ready[0], &c, 1), 1);
	ck_assert_int_eq(c, 0);
	kt_stats(&s);
	ck_assert_uint_gt(s.charged_bytes, 0);
	ck_assert_uint_eq(s.watches, 4);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	close(ready[0]);
	close(ready[1]);
	kt_assert_all_freed();

	/* and the user's budget is whole again */
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		set_memlock(RLIM_INFINITY);
		kt_become(KT_UID);
		_exit(grab(open("/dev/sanverbs", O_RDWR), 2) == 1 ? 0 : 1);
	}
	kt_wait_ok(pid, "uid 65534 after the kill");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod-limits");
	TCase *tc = tcase_create("kmod");

	kt_require_kmod();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, memlock_bounds_pin_and_alloc);
	tcase_add_test(tc, cap_ipc_lock_is_exempt);
	tcase_add_test(tc, memcg_charges_the_caller);
	tcase_add_test(tc, greedy_user_leaves_others_their_share);
	tcase_add_test(tc, everything_freed_at_exit_and_kill);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
