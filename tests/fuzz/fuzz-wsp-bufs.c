/* SPDX-License-Identifier: MIT */
/* libFuzzer target: the WSP descriptor and buffer-list checks
 * (wsp_check_rdma in provider/wsp_check.c). The input is read as a request:
 *   u8 count, u8 is_read, u32 offset, 32 descriptor bytes,
 *   count x { u64 buf, u32 len, u8 reg (index, 0xff = unknown handle) },
 *   4 x { u64 addr, u64 len, u8 access, u8 rdma }
 * (missing bytes are zero). Whatever the bytes, an accepted request must
 * keep every local buffer inside a local registration, a read only into
 * LOCAL_WRITE memory, a total that fits a DWORD, and the target span inside
 * what the descriptor grants; anything else aborts.
 *
 * Build (the descriptor parser comes from libsanverbs):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -Iinclude -Iprovider
 *         tests/fuzz/fuzz-wsp-bufs.c provider/wsp_check.c
 *         -Lbuild/src -lsanverbs
 * Seeds: tests/fuzz/corpus/wsp-bufs/. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sanverbs/ws2san.h"
#include "wsp_check.h"

#define NREGS 4

struct reader {
	const uint8_t *p;
	size_t n;
};

static uint64_t take(struct reader *r, size_t bytes)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < bytes; i++) {
		v |= (uint64_t)(r->n ? *r->p : 0) << (8 * i);
		if (r->n) {
			r->p++;
			r->n--;
		}
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader r = { data, size };
	struct wsp_chk_reg regs[NREGS];
	struct wsp_chk_buf bufs[40];
	uint8_t desc[SANVERBS_DESC_SIZE];
	struct sanverbs_desc d;
	uint32_t count, offset, i;
	unsigned __int128 sum = 0;
	uint8_t idx[40];
	uint64_t total;
	int is_read;

	count = (uint32_t)take(&r, 1) % 40; /* past the limit of 32 too */
	is_read = (int)(take(&r, 1) & 1);
	offset = (uint32_t)take(&r, 4);
	for (i = 0; i < sizeof(desc); i++)
		desc[i] = (uint8_t)take(&r, 1);
	for (i = 0; i < count; i++) {
		bufs[i].buf = take(&r, 8);
		bufs[i].len = (uint32_t)take(&r, 4);
		idx[i] = (uint8_t)take(&r, 1);
	}
	for (i = 0; i < NREGS; i++) {
		regs[i].addr = take(&r, 8);
		regs[i].len = take(&r, 8);
		regs[i].access = (uint32_t)take(&r, 1);
		regs[i].rdma = (int)(take(&r, 1) & 1);
	}
	for (i = 0; i < count; i++)
		bufs[i].reg = idx[i] < NREGS ? &regs[idx[i]] : NULL;

	if (wsp_check_rdma(bufs, count, desc, sizeof(desc), offset, is_read,
			   &d, &total))
		return 0;
	/* accepted: every promise must hold */
	if (!count || count > 32)
		abort();
	for (i = 0; i < count; i++) {
		const struct wsp_chk_reg *g = bufs[i].reg;

		if (!g || g->rdma || !bufs[i].len || bufs[i].buf < g->addr ||
		    (unsigned __int128)bufs[i].buf + bufs[i].len >
			    (unsigned __int128)g->addr + g->len)
			abort();
		if (is_read && !(g->access & SANVERBS_ACCESS_LOCAL_WRITE))
			abort();
		sum += bufs[i].len;
	}
	if (sum != total || total > UINT32_MAX)
		abort();
	if ((unsigned __int128)offset + total > d.len)
		abort();
	if (!(d.access & (is_read ? SANVERBS_ACCESS_REMOTE_READ :
				    SANVERBS_ACCESS_REMOTE_WRITE)))
		abort();
	return 0;
}
