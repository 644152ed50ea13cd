/* SPDX-License-Identifier: MIT */
/* Description: libFuzzer target for the remote-descriptor parser, the one
 * parser in the library fed bytes straight from the network. Whatever the
 * bytes: sanverbs_desc_parse never reads past @size, and what it accepts is
 * a region sanverbs_desc_check can judge without overflow and that encodes
 * back to the same bytes (the encoder and the parser agree). */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sanverbs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char out[SANVERBS_DESC_SIZE];
	struct sanverbs_desc d;
	size_t n = sizeof(out);
	unsigned char *copy;

	/* An exact-size heap copy: ASan sees any read past the end. */
	copy = malloc(size ? size : 1);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	if (sanverbs_desc_parse(copy, size, &d) == 0) {
		if (d.len == 0 || d.addr + d.len < d.addr || d.access == 0 ||
		    (d.access & ~(unsigned int)(SANVERBS_ACCESS_REMOTE_READ |
						SANVERBS_ACCESS_REMOTE_WRITE)))
			abort();
		if (sanverbs_desc_check(&d, 0, d.len, d.access) != 0 ||
		    sanverbs_desc_check(&d, d.len, 1, d.access) != -ERANGE ||
		    sanverbs_desc_check(&d, UINT64_MAX, UINT64_MAX, d.access) !=
			    -ERANGE)
			abort();
		if (sanverbs_desc_encode(&d, out, &n) != 0 ||
		    n != SANVERBS_DESC_SIZE || memcmp(out, copy, n))
			abort();
	}
	free(copy);
	return 0;
}
