/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "sanverbs.h"
#include "util.h"

/* The kernel's errno range (MAX_ERRNO in include/linux/err.h): a sanverbs
 * error is -1 .. -4095. Anything below is not one, and -INT_MIN would
 * overflow. */
#define SV_MAX_ERRNO 4095

SV_EXPORT const char *sanverbs_strerror(int err)
{
	if (err == 0)
		return "Success";
	if (err > 0 || err < -SV_MAX_ERRNO)
		return "Not a sanverbs error code (expected 0 or a negative errno)";
	/* strerror() of glibc returns a static string for known codes and a
	 * thread-local buffer otherwise; both outlive this call. */
	return strerror(-err);
}
