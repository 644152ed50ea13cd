/* SPDX-License-Identifier: MIT */
/* sanverbs' header in the connection manager's private data: magic "SV",
 * version, the length of the application's data that follows. RoCE and
 * InfiniBand pad private data to a fixed size, so the length must travel;
 * the magic tells a sanverbs peer from one that sends no data of ours.
 * Pure byte handling (no verbs), so it is unit-tested on its own. */
#ifndef SV_EP_PDATA_H
#define SV_EP_PDATA_H

#include <stddef.h>
#include <stdint.h>

#define SV_CM_HDR 4
#define SV_CM_MAGIC0 'S'
#define SV_CM_MAGIC1 'V'
#define SV_CM_VERSION 1

/* Private data copied out of a CM event (RDMA_MAX_PRIVATE_DATA bytes at
 * most); untrusted until parsed. */
struct sv_cm_pdata {
	uint8_t buf[256];
	size_t len;
	/* a rejection came from the peer's application, not its stack */
	int by_consumer;
};

/* Writes the header and @len bytes of @data (@len <= 255) to @out; returns
 * the total length. */
uint8_t sv_pdata_pack(uint8_t *out, const void *data, size_t len);

/*
 * The application's bytes in received private data, at most @max: 0 with
 * @data and @len set (@len 0 when the peer sent no header of ours: no
 * data, or a peer that is not sanverbs); -EBADMSG when our header claims
 * more than arrived or than @max; -EPROTONOSUPPORT for another version.
 * @data then points into @pd.
 */
int sv_pdata_parse(const struct sv_cm_pdata *pd, size_t max,
		   const uint8_t **data, size_t *len);

#endif
