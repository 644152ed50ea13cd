// SPDX-License-Identifier: MIT
// Description: sanverbs.h compiles as C++ (extern "C", no C-only syntax) and
// its symbols have C linkage, so a C++ port links against libsanverbs.
#include "sanverbs.h"

int main()
{
	int (*open_fn)(const struct sanverbs_ctx_attr *, struct sanverbs_ctx **) =
		sanverbs_ctx_open;
	sanverbs_ctx_attr attr = {};

	(void)attr;
	return open_fn != nullptr && SANVERBS_ACCESS_ALL == 7 ? 0 : 1;
}
