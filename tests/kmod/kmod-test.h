/* SPDX-License-Identifier: MIT */
/* Helpers for the kmod suite: skip without the module, read the module's
 * counters, physical addresses from /proc/self/pagemap, module parameters. */
#ifndef SV_KMOD_TEST_H
#define SV_KMOD_TEST_H

#include <stdint.h>
#include <sys/types.h>

#include "kmod/sanverbs_ioctl.h"

#define KT_PARAM_DIR "/sys/module/sanverbs/parameters/"

/* Exits 77 with the reason unless /dev/sanverbs is there and root runs us
 * (pagemap, module parameters and reloading need root). */
void kt_require_kmod(void);
/* Opens /dev/sanverbs read/write; aborts the test on failure. */
int kt_open(void);
void kt_stats(struct sanverbs_stats *s);
/* Asserts that no buffer, pin or watch is left in the module (bounded wait:
 * a killed process's files close asynchronously). */
void kt_assert_all_freed(void);
/* Physical address of the page under @va (root), 0 if not present. */
uint64_t kt_phys(const void *va);
/* Module parameter as text / set (asserts on failure). */
unsigned long kt_param(const char *name);
void kt_set_param(const char *name, const char *value);
/* The .ko for rmmod/insmod tests, or NULL (the test then says why). */
const char *kt_ko_path(void);

/* An unprivileged user for the kmod suite (nobody), and a second one. */
#define KT_UID 65534u
#define KT_UID2 65533u
/* In a forked child running as root: become @uid (no supplementary groups,
 * gid = uid, every capability gone) and stay readable in /proc; _exit(99)
 * on failure. */
void kt_become(unsigned int uid);
/* Waits for @pid and asserts that it exited with status 0; a non-zero
 * status is the number of the step that failed, named in the message. */
void kt_wait_ok(pid_t pid, const char *what);
/* bytes of "VmPin:" / "VmLck:" in /proc/self/status */
unsigned long kt_vm_kb(const char *field);

#endif
