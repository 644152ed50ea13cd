/* SPDX-License-Identifier: MIT */
/* sanverbs' header in CM private data (see ep_pdata.h). */
#include <errno.h>
#include <string.h>

#include "ep_pdata.h"

uint8_t sv_pdata_pack(uint8_t *out, const void *data, size_t len)
{
	out[0] = SV_CM_MAGIC0;
	out[1] = SV_CM_MAGIC1;
	out[2] = SV_CM_VERSION;
	out[3] = (uint8_t)len;
	if (len)
		memcpy(out + SV_CM_HDR, data, len);
	return (uint8_t)(SV_CM_HDR + len);
}

int sv_pdata_parse(const struct sv_cm_pdata *pd, size_t max,
		   const uint8_t **data, size_t *len)
{
	size_t n;

	*data = NULL;
	*len = 0;
	if (pd->len < SV_CM_HDR || pd->buf[0] != SV_CM_MAGIC0 ||
	    pd->buf[1] != SV_CM_MAGIC1)
		return 0;
	if (pd->buf[2] != SV_CM_VERSION)
		return -EPROTONOSUPPORT;
	n = pd->buf[3];
	/* the length is the peer's word: bounded by what came and by the
	 * message's limit */
	if (n > max || pd->len > sizeof(pd->buf) || n > pd->len - SV_CM_HDR)
		return -EBADMSG;
	*data = pd->buf + SV_CM_HDR;
	*len = n;
	return 0;
}
