/* SPDX-License-Identifier: MIT */
/* Description: the kernel log is clean. Runs after every other test of the
 * device suites (meson priority) and fails on any line of the kernel log
 * since boot that reports a kernel bug: BUG, WARNING, Oops, general
 * protection fault, KASAN, UBSAN, a lockdep report, a hung task or a soft
 * lockup, printing each such line. */
#define _GNU_SOURCE
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>

#include "kmod-test.h"
#include "sv-test.h"

#define SYSLOG_ACTION_READ_ALL 3
#define SYSLOG_ACTION_SIZE_BUFFER 10

static const char *const bad[] = {
	"BUG:",
	"WARNING:",
	"Oops",
	"general protection",
	"KASAN",
	"UBSAN",
	"possible circular locking",
	"possible recursive locking",
	"blocked for more than",
	"soft lockup",
	"hard LOCKUP",
	"kernel BUG",
	"Call Trace:",
};

START_TEST(kernel_log_is_clean)
{
	int size = klogctl(SYSLOG_ACTION_SIZE_BUFFER, NULL, 0);
	unsigned int i, found = 0, lines = 0;
	char *buf, *line, *save;
	int n;

	ck_assert_int_gt(size, 0);
	buf = calloc(1, (size_t)size + 1);
	ck_assert_ptr_nonnull(buf);
	n = klogctl(SYSLOG_ACTION_READ_ALL, buf, size);
	ck_assert_int_gt(n, 0);
	buf[n] = 0;
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		lines++;
		for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			if (strstr(line, bad[i])) {
				fprintf(stderr, "kernel: %s\n", line);
				found++;
				break;
			}
		}
	}
	printf("%u kernel log lines read\n", lines);
	free(buf);
	ck_assert_msg(!found, "%u kernel log lines report a kernel bug (above)",
		      found);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod-dmesg");
	TCase *tc = tcase_create("kmod");

	kt_require_kmod();
	tcase_add_test(tc, kernel_log_is_clean);
	suite_add_tcase(s, tc);
	return sv_test_run(s);
}
