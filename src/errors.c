/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <string.h>

#include "sanverbs.h"
#include "util.h"

SV_EXPORT const char *sanverbs_strerror(int err)
{
	if (err == 0)
		return "Success";
	if (err > 0)
		return "Not a sanverbs error code (expected 0 or a negative errno)";
	/* strerror() of glibc returns a static string for known codes and a
	 * thread-local buffer otherwise; both outlive this call. */
	return strerror(-err);
}
