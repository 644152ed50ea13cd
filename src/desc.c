/* SPDX-License-Identifier: MIT */
/* The remote-descriptor wire format. Descriptors cross the network, so the
 * parser treats every byte as hostile and the encoder refuses to produce
 * anything the parser would reject. */
#include <endian.h>
#include <errno.h>
#include <string.h>

#include "sanverbs.h"
#include "util.h"

#define REMOTE_BITS (SANVERBS_ACCESS_REMOTE_WRITE | SANVERBS_ACCESS_REMOTE_READ)

/* Byte offsets of the fields; memcpy keeps unaligned buffers legal. */
enum {
	OFF_MAGIC = 0,
	OFF_VERSION = 4,
	OFF_LENGTH = 6,
	OFF_ADDR = 8,
	OFF_LEN = 16,
	OFF_RKEY = 24,
	OFF_ACCESS = 28,
};

static int region_ok(const struct sanverbs_desc *d)
{
	return d->len != 0 && d->addr + d->len > d->addr &&
	       d->access != 0 && !(d->access & ~REMOTE_BITS);
}

SV_EXPORT int sanverbs_desc_from_mr(const struct sanverbs_mr *mr,
				    struct sanverbs_desc *out)
{
	unsigned int remote;

	if (!mr || !out)
		return -EINVAL;
	remote = sanverbs_mr_access(mr) & REMOTE_BITS;
	if (!remote)
		return -EACCES;
	out->addr = (uintptr_t)sanverbs_mr_addr(mr);
	out->len = sanverbs_mr_length(mr);
	out->rkey = sanverbs_mr_rkey(mr);
	out->access = remote;
	return 0;
}

static void put16(unsigned char *p, uint16_t v) { v = htobe16(v); memcpy(p, &v, 2); }
static void put32(unsigned char *p, uint32_t v) { v = htobe32(v); memcpy(p, &v, 4); }
static void put64(unsigned char *p, uint64_t v) { v = htobe64(v); memcpy(p, &v, 8); }
static uint16_t get16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return be16toh(v); }
static uint32_t get32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return be32toh(v); }
static uint64_t get64(const unsigned char *p) { uint64_t v; memcpy(&v, p, 8); return be64toh(v); }

SV_EXPORT int sanverbs_desc_encode(const struct sanverbs_desc *desc, void *buf,
				   size_t *size)
{
	unsigned char *p = buf;

	if (!desc || !size)
		return -EINVAL;
	if (!region_ok(desc))
		return -EINVAL;
	if (*size < SANVERBS_DESC_SIZE) {
		*size = SANVERBS_DESC_SIZE;
		return -ENOSPC;
	}
	if (!buf)
		return -EINVAL;
	put32(p + OFF_MAGIC, SANVERBS_DESC_MAGIC);
	put16(p + OFF_VERSION, SANVERBS_DESC_VERSION);
	put16(p + OFF_LENGTH, SANVERBS_DESC_SIZE);
	put64(p + OFF_ADDR, desc->addr);
	put64(p + OFF_LEN, desc->len);
	put32(p + OFF_RKEY, desc->rkey);
	put32(p + OFF_ACCESS, desc->access);
	*size = SANVERBS_DESC_SIZE;
	return 0;
}

SV_EXPORT int sanverbs_desc_parse(const void *buf, size_t size,
				  struct sanverbs_desc *out)
{
	const unsigned char *p = buf;
	struct sanverbs_desc d;
	uint16_t length;

	if (!buf || !out)
		return -EINVAL;
	/* Judge the header before trusting any field beyond it. */
	if (size < OFF_ADDR)
		return -EMSGSIZE;
	if (get32(p + OFF_MAGIC) != SANVERBS_DESC_MAGIC)
		return -EBADMSG;
	if (get16(p + OFF_VERSION) != SANVERBS_DESC_VERSION)
		return -EPROTONOSUPPORT;
	length = get16(p + OFF_LENGTH);
	if (size < SANVERBS_DESC_SIZE || size < length)
		return -EMSGSIZE;
	if (length != SANVERBS_DESC_SIZE)
		return -EBADMSG;
	d.addr = get64(p + OFF_ADDR);
	d.len = get64(p + OFF_LEN);
	d.rkey = get32(p + OFF_RKEY);
	d.access = get32(p + OFF_ACCESS);
	if (!region_ok(&d))
		return -EBADMSG;
	*out = d;
	return 0;
}

SV_EXPORT int sanverbs_desc_check(const struct sanverbs_desc *desc,
				  uint64_t offset, uint64_t len,
				  unsigned int access)
{
	if (!desc || !len || !access || (access & ~REMOTE_BITS))
		return -EINVAL;
	if (offset > desc->len || len > desc->len - offset)
		return -ERANGE;
	if ((desc->access & access) != access)
		return -EACCES;
	return 0;
}
