/* SPDX-License-Identifier: MIT */
#define _GNU_SOURCE
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <grp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "kmod-test.h"

void kt_require_kmod(void)
{
	if (access("/dev/" SANVERBS_DEVICE_NAME, R_OK | W_OK)) {
		printf("SKIP: /dev/sanverbs is not there (load kmod/sanverbs.ko: tests/vm/run.sh --kmod $(kmod/build.sh) ...)\n");
		exit(77);
	}
	if (geteuid()) {
		printf("SKIP: the kmod suite needs root (pagemap, module parameters)\n");
		exit(77);
	}
}

int kt_open(void)
{
	int fd = open("/dev/" SANVERBS_DEVICE_NAME, O_RDWR | O_CLOEXEC);

	ck_assert_msg(fd >= 0, "open /dev/sanverbs: %s", strerror(errno));
	return fd;
}

void kt_stats(struct sanverbs_stats *s)
{
	int fd = kt_open();

	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_STATS, s), 0);
	close(fd);
}

void kt_assert_all_freed(void)
{
	struct sanverbs_stats s;
	int i;

	for (i = 0; i < 100; i++) {
		kt_stats(&s);
		if (!s.buf_objects && !s.buf_pages && !s.pin_objects &&
		    !s.pin_pages && !s.watches && !s.charged_bytes)
			return;
		nanosleep(&(struct timespec){ 0, 20 * 1000 * 1000 }, NULL);
	}
	ck_abort_msg("module still holds %llu buffers (%llu pages), %llu pins (%llu pages), %llu watches, %llu bytes charged",
		     (unsigned long long)s.buf_objects,
		     (unsigned long long)s.buf_pages,
		     (unsigned long long)s.pin_objects,
		     (unsigned long long)s.pin_pages,
		     (unsigned long long)s.watches,
		     (unsigned long long)s.charged_bytes);
}

uint64_t kt_phys(const void *va)
{
	long page = sysconf(_SC_PAGESIZE);
	uint64_t ent = 0;
	int fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pread(fd, &ent, sizeof(ent),
			       (off_t)((uintptr_t)va / page * sizeof(ent))),
			 sizeof(ent));
	close(fd);
	if (!(ent & (1ULL << 63)))
		return 0;
	return (ent & ((1ULL << 55) - 1)) * page;
}

unsigned long kt_param(const char *name)
{
	char path[256], buf[64] = "";
	FILE *f;

	snprintf(path, sizeof(path), KT_PARAM_DIR "%s", name);
	f = fopen(path, "r");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_ptr_nonnull(fgets(buf, sizeof(buf), f));
	fclose(f);
	if (buf[0] == 'Y')
		return 1;
	if (buf[0] == 'N')
		return 0;
	return strtoul(buf, NULL, 0);
}

void kt_set_param(const char *name, const char *value)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), KT_PARAM_DIR "%s", name);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "%s: %s", path, strerror(errno));
	ck_assert_int_ge(fputs(value, f), 0);
	ck_assert_int_eq(fclose(f), 0);
}

const char *kt_ko_path(void)
{
	static char path[1024];
	const char *env = getenv("SANVERBS_KMOD_KO");
	struct utsname u;

	if (env && *env)
		return access(env, R_OK) ? NULL : env;
	if (uname(&u))
		return NULL;
	/* Where kmod/build.sh puts it by default. */
	snprintf(path, sizeof(path), "%s/.cache/kmod/%s/sanverbs.ko",
		 SV_SOURCE_ROOT, u.release);
	return access(path, R_OK) ? NULL : path;
}

void kt_become(unsigned int uid)
{
	if (setgroups(0, NULL) || setgid(uid) || setuid(uid))
		_exit(99);
	/* setuid() made us non-dumpable, which hides parts of /proc/self. */
	prctl(PR_SET_DUMPABLE, 1, 0, 0, 0);
}

void kt_wait_ok(pid_t pid, const char *what)
{
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "%s: %s %d", what,
		      WIFEXITED(status) ? "failed at step" : "killed by signal",
		      WIFEXITED(status) ? WEXITSTATUS(status) :
					  WTERMSIG(status));
}

unsigned long kt_vm_kb(const char *field)
{
	char line[256];
	unsigned long kb = ~0UL;
	size_t n = strlen(field);
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return kb;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, field, n) && line[n] == ':')
			kb = strtoul(line + n + 1, NULL, 10);
	fclose(f);
	return kb;
}
