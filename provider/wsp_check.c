/* SPDX-License-Identifier: MIT */
/* The WSP descriptor and buffer-list checks (see wsp_check.h). Nothing here
 * touches memory other than its arguments: every pointer in a buffer is a
 * number to compare. */
#include <errno.h>

#include "sanverbs/ws2san.h"
#include "wsp_check.h"

#define WSP_CHK_MAX_BUFS 32

static int wsa_of(int err)
{
	switch (err) {
	case -EACCES:
		return WSAEACCES;
	case -ERANGE:
		return WSAEFAULT;
	default:
		return WSAEINVAL;
	}
}

int wsp_check_rdma(const struct wsp_chk_buf *bufs, uint32_t count,
		   const void *desc, size_t desc_len, uint32_t offset,
		   int is_read, struct sanverbs_desc *d, uint64_t *total)
{
	uint64_t sum = 0;
	uint32_t i;
	int ret;

	if (!bufs || !count || count > WSP_CHK_MAX_BUFS || !desc || !d ||
	    !total)
		return WSAEINVAL;
	if (sanverbs_desc_parse(desc, desc_len, d))
		return WSAEINVAL;
	for (i = 0; i < count; i++) {
		const struct wsp_chk_reg *r = bufs[i].reg;
		uint64_t a, b = bufs[i].buf;

		if (!r || r->rdma)
			return WSAEINVAL;
		a = r->addr;
		/* b - a is the distance into the registration; comparing
		 * it and the length separately cannot wrap. */
		if (!bufs[i].len || b < a || b - a > r->len ||
		    bufs[i].len > r->len - (b - a))
			return WSAEFAULT;
		if (is_read && !(r->access & SANVERBS_ACCESS_LOCAL_WRITE))
			return WSAEINVAL;
		sum += bufs[i].len;
	}
	/* The byte count is a DWORD: a larger request could not report
	 * what it moved. */
	if (sum > UINT32_MAX)
		return WSAEMSGSIZE;
	ret = sanverbs_desc_check(d, offset, sum,
				  is_read ? SANVERBS_ACCESS_REMOTE_READ :
					    SANVERBS_ACCESS_REMOTE_WRITE);
	if (ret)
		return wsa_of(ret);
	*total = sum;
	return 0;
}
