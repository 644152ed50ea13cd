/* SPDX-License-Identifier: MIT */
/* Fault-safe copies between library and application memory.
 *
 * process_vm_readv/writev on our own pid makes the kernel do the copy with
 * copy_from_user/copy_to_user, so an unmapped, PROT_NONE or read-only page
 * shows up as a short count or EFAULT instead of a signal. Seccomp profiles
 * (Docker's default among them) may forbid process_vm_*; then a pipe does
 * the same job: write(2) from a bad source and read(2) into a bad
 * destination fail with EFAULT too. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/uio.h>
#include <unistd.h>

#include "safe_access.h"
#include "sanverbs.h"
#include "util.h"

int sv_safe_force_pipe;

/* process_vm_* unusable (ENOSYS, EPERM from seccomp): remember it. */
static int pvm_broken;

static int pvm_copy(void *dst, const void *src, size_t len, int to_app)
{
	pid_t self = getpid();

	while (len) {
		struct iovec l = { .iov_base = to_app ? (void *)src : dst,
				   .iov_len = len };
		struct iovec r = { .iov_base = to_app ? dst : (void *)src,
				   .iov_len = len };
		ssize_t n;

		n = to_app ? process_vm_writev(self, &l, 1, &r, 1, 0)
			   : process_vm_readv(self, &l, 1, &r, 1, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOSYS || errno == EPERM)
				return -ENOSYS;
			return -EFAULT;
		}
		/* A short count means the next byte of the remote side
		 * faulted (local side is ours and valid). */
		if (n == 0)
			return -EFAULT;
		dst = (char *)dst + n;
		src = (const char *)src + n;
		len -= (size_t)n;
	}
	return 0;
}

static int pipe_copy(void *dst, const void *src, size_t len)
{
	int fds[2], ret = 0;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	while (len && !ret) {
		/* Never cross a page of either side: a pipe discards a
		 * partially faulted write, so page-sized steps keep the
		 * valid prefix, like the process_vm path. A pipe holds at
		 * least one page without blocking. */
		size_t ps = (size_t)sysconf(_SC_PAGESIZE);
		size_t chunk = ps - (uintptr_t)src % ps;
		ssize_t w, r;

		if (chunk > ps - (uintptr_t)dst % ps)
			chunk = ps - (uintptr_t)dst % ps;
		if (chunk > len)
			chunk = len;
		w = write(fds[1], src, chunk);

		if (w < 0) {
			ret = errno == EINTR ? 0 : -EFAULT;
			continue;
		}
		if (w == 0) {
			ret = -EFAULT;
			break;
		}
		r = read(fds[0], dst, (size_t)w);
		if (r != w) {
			ret = -EFAULT;
			break;
		}
		dst = (char *)dst + w;
		src = (const char *)src + w;
		len -= (size_t)w;
	}
	close(fds[0]);
	close(fds[1]);
	return ret;
}

static int safe_copy(void *dst, const void *src, size_t len, int to_app)
{
	int ret;

	if (!sv_range_ok(dst, len) || !sv_range_ok(src, len))
		return -EINVAL;
	if (!sv_safe_force_pipe &&
	    !__atomic_load_n(&pvm_broken, __ATOMIC_RELAXED)) {
		ret = pvm_copy(dst, src, len, to_app);
		if (ret != -ENOSYS)
			return ret;
		__atomic_store_n(&pvm_broken, 1, __ATOMIC_RELAXED);
	}
	return pipe_copy(dst, src, len);
}

int sv_safe_read(void *dst, const void *src, size_t len)
{
	return safe_copy(dst, src, len, 0);
}

int sv_safe_write(void *dst, const void *src, size_t len)
{
	return safe_copy(dst, src, len, 1);
}

SV_EXPORT int sanverbs_safe_read(void *dst, const void *src, size_t len)
{
	return sv_safe_read(dst, src, len);
}

SV_EXPORT int sanverbs_safe_write(void *dst, const void *src, size_t len)
{
	return sv_safe_write(dst, src, len);
}
