/* SPDX-License-Identifier: MIT */
/* The one way the library touches application memory it was handed (the
 * try/except of the Windows SAN provider): a bad pointer gives -EFAULT,
 * never SIGSEGV/SIGBUS. Other modules (descriptors, small-send copies)
 * must go through these instead of memcpy on user pointers. */
#ifndef SV_SAFE_ACCESS_H
#define SV_SAFE_ACCESS_H

#include <stddef.h>

/* Copies @len bytes from application memory @src into library memory @dst.
 * 0, -EINVAL (NULL/zero/wrapping), or -EFAULT if any byte of @src is not
 * readable; @dst may then hold a prefix of the data. */
int sv_safe_read(void *dst, const void *src, size_t len);

/* Copies @len bytes from library memory @src into application memory @dst.
 * 0, -EINVAL, or -EFAULT if any byte of @dst is not writable (a prefix
 * may have been written, as with a faulting copy on Windows). */
int sv_safe_write(void *dst, const void *src, size_t len);

/* Test seam: when nonzero, skip process_vm_readv/writev and use the pipe
 * fallback that containers with a seccomp filter on process_vm_* need. */
extern int sv_safe_force_pipe;

#endif
