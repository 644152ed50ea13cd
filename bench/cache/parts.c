/* SPDX-License-Identifier: MIT */
/* Where a userfaultfd miss on fresh memory goes: the two system calls the
 * monitor adds to ibv_reg_mr, each timed alone on fresh 64 KiB mappings,
 * interleaved with raw ibv_reg_mr+ibv_dereg_mr in the same rounds. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "bench.h"

/* Reads this process's maps as src/vma_kind.c does (1 KiB first,
 * doubling, from a kept fd) until the line holding @addr. */
static void maps_find(int fd, uintptr_t addr)
{
	char buf[4096];
	size_t have = 0, want = 1024;
	off_t off = 0;

	for (;;) {
		size_t room = sizeof(buf) - 1 - have;
		ssize_t n = pread(fd, buf + have, want < room ? want : room,
				  off);
		char *line = buf, *nl;

		if (n <= 0)
			die("maps: range not found", n ? -errno : -ENOENT);
		off += n;
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = memchr(line, '\n', (size_t)(buf + have - line)))) {
			char *p;
			unsigned long long e;

			strtoull(line, &p, 16);
			e = strtoull(p + 1, NULL, 16);
			if (e > addr)
				return;
			line = nl + 1;
		}
		have = (size_t)(buf + have - line);
		memmove(buf, line, have);
		if (want < sizeof(buf))
			want *= 2;
	}
}

void uffd_parts(struct sanverbs_ctx *c, int it)
{
	const size_t len = 64u << 10;
	struct ibv_pd *pd = sanverbs_ctx_pd(c);
	double raw[ROUNDS], maps[ROUNDS], reg[ROUNDS], t0, t1, t2;
	struct spread s_raw, s_maps, s_reg;
	struct uffdio_api api = { .api = UFFD_API };
	void **b = calloc((size_t)it, sizeof(*b));
	int fd, ufd, r, i;

	/* features 0: no events, so the unmaps below never wait for us */
	ufd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (ufd < 0)
		ufd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK | 1);
	fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (ufd < 0 || fd < 0 || ioctl(ufd, UFFDIO_API, &api) || !b) {
		printf("uffd parts: cannot open userfaultfd or maps\n");
		return;
	}
	for (r = 0; r < ROUNDS; r++) {
		raw[r] = maps[r] = reg[r] = 0;
		for (i = 0; i < it; i++)
			b[i] = map(len);
		for (i = 0; i < it; i++) {
			struct uffdio_register ur;

			memset(&ur, 0, sizeof(ur));
			ur.range.start = (uintptr_t)b[i];
			ur.range.len = len;
			ur.mode = UFFDIO_REGISTER_MODE_WP;
			t0 = now();
			raw_one(pd, b[i], len);
			t1 = now();
			maps_find(fd, (uintptr_t)b[i]);
			t2 = now();
			if (ioctl(ufd, UFFDIO_REGISTER, &ur))
				die("UFFDIO_REGISTER", -errno);
			reg[r] += now() - t2;
			maps[r] += t2 - t1;
			raw[r] += t1 - t0;
		}
		for (i = 0; i < it; i++)
			munmap(b[i], len);
		raw[r] /= it;
		maps[r] /= it;
		reg[r] /= it;
	}
	s_raw = spread_of(raw, ROUNDS);
	s_maps = spread_of(maps, ROUNDS);
	s_reg = spread_of(reg, ROUNDS);
	printf("uffd parts, 64 KiB fresh: raw reg+dereg %.2f us [%.2f .. %.2f]"
	       " | maps read to the range %.2f us [%.2f .. %.2f] | "
	       "UFFDIO_REGISTER %.2f us [%.2f .. %.2f]\n",
	       s_raw.med * 1e6, s_raw.lo * 1e6, s_raw.hi * 1e6,
	       s_maps.med * 1e6, s_maps.lo * 1e6, s_maps.hi * 1e6,
	       s_reg.med * 1e6, s_reg.lo * 1e6, s_reg.hi * 1e6);
	close(fd);
	close(ufd);
	free(b);
}
