/* SPDX-License-Identifier: MIT */
/* Description: sanverbs.h compiles alone as ISO C11 with -pedantic -Werror
 * (meson builds this file with exactly those flags); the run checks that the
 * constants a port relies on keep their documented values. */
#include "sanverbs.h"
#include "sanverbs.h" /* include guard */

int main(void)
{
	struct sanverbs_ctx_attr attr = { 0 };

	(void)attr;
	return (SANVERBS_ACCESS_ALL == 7 && SANVERBS_MONITOR_NONE == 3) ? 0 : 1;
}
