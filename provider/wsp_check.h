/* SPDX-License-Identifier: MIT */
/* The checks of a WSPRdmaWrite / WSPRdmaRead request, as a pure function of
 * plain values (no socket, no device, no memory access), so that a fuzzer
 * and unit tests can drive it with anything. */
#ifndef WSP_CHECK_H
#define WSP_CHECK_H

#include <stddef.h>
#include <stdint.h>

#include "sanverbs.h"

/* A registration as the check sees it. */
struct wsp_chk_reg {
	uint64_t addr;
	uint64_t len;
	uint32_t access; /* SANVERBS_ACCESS_* */
	int rdma;        /* made by WSPRegisterRdmaMemory: not a local buffer */
};

/* One WSABUFEX with its handle already looked up (reg NULL: unknown). */
struct wsp_chk_buf {
	uint64_t buf;
	uint32_t len;
	const struct wsp_chk_reg *reg;
};

/*
 * Judges a whole request before anything is posted: the count, every local
 * buffer (a local registration of this socket, non-empty, inside it without
 * wrap-around, LOCAL_WRITE for a read), the total (fits the DWORD byte
 * count), the descriptor (@desc_len bytes at @desc, untrusted), and the
 * target span [offset, offset + total) inside what it describes with the
 * right access. Returns 0 with *d and *total filled, or the WSA error the
 * call must fail with.
 */
int wsp_check_rdma(const struct wsp_chk_buf *bufs, uint32_t count,
		   const void *desc, size_t desc_len, uint32_t offset,
		   int is_read, struct sanverbs_desc *d, uint64_t *total);

#endif
