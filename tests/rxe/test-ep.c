/* SPDX-License-Identifier: MIT */
/* Description: endpoints between two processes over rxe (two namespaces with
 * one rxe device each when the rig provides them). Connect/accept and
 * send/recv of many sizes; RDMA write and read from 1 byte to 16 MiB against
 * the peer's descriptor, every byte checked on both sides; the peer's device
 * refuses a write into a read-only region and a read of a write-only one
 * (-EACCES) and the region stays untouched; forged descriptors (wrong rkey,
 * out-of-bounds span) are refused; the peer vanishing mid-transfer gives a
 * clear error within a bound and the registrations, dropped, release their
 * pins; several connections share one registered buffer. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ep-target.h"

static struct target_arg rw_target = {
	.access = SANVERBS_ACCESS_REMOTE_WRITE | SANVERBS_ACCESS_REMOTE_READ,
};

START_TEST(send_recv_sizes)
{
	static const size_t sizes[] = { 1, 2, 63, 64, 4095, 4096, 4097,
					 65536 + 5, ECHO_MAX };
	unsigned char *out = malloc(ECHO_MAX), *in = malloc(ECHO_MAX);
	struct sanverbs_mr *omr, *imr;
	struct client cl;
	size_t i, n;

	ck_assert_ptr_nonnull(out);
	ck_assert_ptr_nonnull(in);
	client_connect(&cl, 1, role_echo, NULL);
	ck_assert_uint_eq(sanverbs_ep_local_port(cl.ep) != 0, 1);
	ck_assert_ptr_eq(sanverbs_ep_ctx(cl.ep), cl.ctx);
	ck_assert_int_eq(sanverbs_mr_reg(sanverbs_ep_ctx(cl.ep), out, ECHO_MAX, 0, &omr), 0);
	ck_assert_int_eq(sanverbs_mr_reg(sanverbs_ep_ctx(cl.ep), in, ECHO_MAX,
					    SANVERBS_ACCESS_LOCAL_WRITE, &imr),
			 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		sv_fill_pattern(out, sizes[i], (uint32_t)(i + 1) * 7919);
		if (sizes[i] >= 4)
			memset(out, 0x11, 4); /* never the quit word */
		memset(in, 0, sizes[i]);
		ck_assert_int_eq(sanverbs_ep_post_recv(cl.ep, SV_REG(imr), in,
						       ECHO_MAX, 3),
				 0);
		n = sv_send_recv_sync(cl.ep, omr, out, sizes[i]);
		ck_assert_uint_eq(n, sizes[i]);
		ck_assert_int_eq(memcmp(in, out, n), 0);
	}
	/* a receive buffer without LOCAL_WRITE is refused up front */
	ck_assert_int_eq(sanverbs_ep_post_recv(cl.ep, SV_REG(omr), out, 8, 4), -EACCES);
	/* spans outside the registration never reach the device */
	ck_assert_int_eq(sanverbs_ep_post_send(cl.ep, SV_REG(omr), out + 1, ECHO_MAX, 5, 0),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_ep_post_send(cl.ep, SV_REG(omr), out - 1, 2, 5, 0),
			 -EINVAL);
	*(uint32_t *)out = 0xdeadbeefu;
	ck_assert_int_eq(sanverbs_ep_post_recv(cl.ep, SV_REG(imr), in, ECHO_MAX, 3), 0);
	ck_assert_uint_eq(sv_send_recv_sync(cl.ep, omr, out, 4), 4);
	ck_assert_int_eq(sanverbs_ep_close(cl.ep), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(omr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(imr), 0);
	ck_assert_int_eq(sv_peer_wait(&cl.peer, 60), 0);
	ck_assert_int_eq(sanverbs_ctx_close(cl.ctx), 0);
	free(out);
	free(in);
}
END_TEST

START_TEST(rdma_write_read_1b_to_16mib)
{
	static const size_t sizes[] = { 1, 2, 3, 7, 4095, 4096, 4097,
					65536 + 13, (1u << 20) + 1, BIG };
	unsigned char *src = malloc(BIG), *dst = malloc(BIG);
	struct sanverbs_mr *smr, *dmr;
	struct client cl;
	size_t i;

	ck_assert_ptr_nonnull(src);
	ck_assert_ptr_nonnull(dst);
	client_connect(&cl, 1, role_target, &rw_target);
	client_get_desc(&cl);
	ck_assert_int_eq(sanverbs_mr_reg(sanverbs_ep_ctx(cl.ep), src, BIG, 0, &smr), 0);
	ck_assert_int_eq(sanverbs_mr_reg(sanverbs_ep_ctx(cl.ep), dst, BIG,
					    SANVERBS_ACCESS_LOCAL_WRITE, &dmr),
			 0);
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		size_t len = sizes[i];
		uint64_t off = (BIG - len) / 3; /* odd offsets too */
		uint32_t seed = (uint32_t)i * 2 + 1;

		/* write: the peer checks every byte it received */
		sv_fill_pattern(src, len, seed);
		ck_assert_int_eq(sanverbs_ep_post_write(cl.ep, SV_REG(smr), src, len,
							&cl.d, off, 10 + i, 0),
				 0);
		struct sanverbs_wc wc = wait_for(cl.ep, SANVERBS_WC_WRITE);
		ck_assert_int_eq(wc.status, 0);
		ck_assert_uint_eq(wc.wr_id, 10 + i);
		ck_assert_int_eq(client_cmd(&cl, CMD_VERIFY, seed, off, len),
				 -1);
		/* read: the peer lays down a new pattern, we check ours */
		ck_assert_int_eq(client_cmd(&cl, CMD_FILL, seed + 1, off, len),
				 -1);
		memset(dst, 0xa5, len);
		ck_assert_int_eq(sanverbs_ep_post_read(cl.ep, SV_REG(dmr), dst, len,
						       &cl.d, off, 20 + i, 0),
				 0);
		ck_assert_int_eq(wait_for(cl.ep, SANVERBS_WC_READ).status, 0);
		ck_assert_int_eq(sv_check_pattern(dst, len, seed + 1), -1);
	}
	ck_assert_int_eq(sanverbs_mr_dereg(smr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(dmr), 0);
	client_finish(&cl);
	free(src);
	free(dst);
}
END_TEST

/* One connection per violation: an RC access error kills the QP. */
/* An RDMA write from, or read into, @buf at offset 0 of @d. */
static int post_rw(struct sanverbs_ep *ep, struct sanverbs_mr *mr,
		   unsigned char *buf, size_t len,
		   const struct sanverbs_desc *d, uint64_t wr_id, int do_write)
{
	return do_write ?
		       sanverbs_ep_post_write(ep, SV_REG(mr), buf, len, d, 0, wr_id, 0) :
		       sanverbs_ep_post_read(ep, SV_REG(mr), buf, len, d, 0, wr_id, 0);
}

static void violation(unsigned int grant, int do_write)
{
	unsigned char *buf = malloc(4096);
	struct target_arg ta = { .access = grant };
	struct sanverbs_desc forged;
	struct sanverbs_mr *mr;
	struct client cl;
	struct sanverbs_wc wc;

	client_connect(&cl, 2, role_target, &ta);
	client_get_desc(&cl);
	ck_assert_int_eq(sanverbs_mr_reg(sanverbs_ep_ctx(cl.ep), buf, 4096,
					    SANVERBS_ACCESS_LOCAL_WRITE, &mr),
			 0);
	sv_fill_pattern(buf, 4096, 77);
	/* the honest descriptor already says no: refused before the wire */
	ck_assert_int_eq(post_rw(cl.ep, mr, buf, 4096, &cl.d, 1, do_write),
			 -EACCES);
	/* a peer lying about access reaches the device, which refuses */
	forged = cl.d;
	forged.access |= do_write ? SANVERBS_ACCESS_REMOTE_WRITE :
				    SANVERBS_ACCESS_REMOTE_READ;
	ck_assert_int_eq(post_rw(cl.ep, mr, buf, 4096, &forged, 2, do_write),
			 0);
	wc = sv_wait1(cl.ep, 60000);
	ck_assert_int_eq(wc.status, -EACCES);
	ck_assert_uint_eq(wc.vendor, IBV_WC_REM_ACCESS_ERR);
	/* the dead connection says so instead of hanging */
	ck_assert_int_eq(sanverbs_ep_post_send(cl.ep, SV_REG(mr), buf, 1, 3, 0), -ENOTCONN);
	ck_assert_int_eq(sanverbs_ep_close(cl.ep), 0);

	/* second connection: the peer's region must still be all zeros */
	ck_assert_int_eq(sanverbs_ep_connect(cl.ctx, cl.peer.ip, cl.peer.port,
					     NULL, &cl.ep),
			 0);
	client_get_desc(&cl);
	/* a refused write left the region as it was; a refused read
	 * brought nothing into ours */
	ck_assert_int_eq(client_cmd(&cl, CMD_ZERO, 0, 0, 0), -1);
	ck_assert_int_eq(sv_check_pattern(buf, 4096, 77), -1);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	client_finish(&cl);
	free(buf);
}

START_TEST(read_only_region_refuses_write)
{
	violation(SANVERBS_ACCESS_REMOTE_READ, 1);
}
END_TEST

START_TEST(write_only_region_refuses_read)
{
	violation(SANVERBS_ACCESS_REMOTE_WRITE, 0);
}
END_TEST

START_TEST(forged_descriptors)
{
	unsigned char *buf = malloc(8192);
	struct sanverbs_desc bad;
	struct sanverbs_mr *mr;
	struct client cl;
	struct sanverbs_wc wc;

	client_connect(&cl, 2, role_target, &rw_target);
	client_get_desc(&cl);
	ck_assert_int_eq(sanverbs_mr_reg(sanverbs_ep_ctx(cl.ep), buf, 8192,
					    SANVERBS_ACCESS_LOCAL_WRITE, &mr),
			 0);
	sv_fill_pattern(buf, 8192, 5);
	/* out of bounds: never posted */
	ck_assert_int_eq(sanverbs_ep_post_write(cl.ep, SV_REG(mr), buf, 2, &cl.d,
						BIG - 1, 1, 0),
			 -ERANGE);
	ck_assert_int_eq(sanverbs_ep_post_write(cl.ep, SV_REG(mr), buf, 8192, &cl.d,
						UINT64_MAX - 100, 1, 0),
			 -ERANGE);
	ck_assert_int_eq(sanverbs_ep_post_read(cl.ep, SV_REG(mr), buf, 1, &cl.d, BIG,
					       1, 0),
			 -ERANGE);
	/* nothing landed, and the connection is still healthy */
	ck_assert_int_eq(client_cmd(&cl, CMD_ZERO, 0, 0, 0), -1);
	/* a descriptor that widens the region past the real MR: device says no */
	bad = cl.d;
	bad.len = BIG * 2;
	ck_assert_int_eq(sanverbs_ep_post_write(cl.ep, SV_REG(mr), buf, 8192, &bad,
						BIG + 4096, 2, 0),
			 0);
	wc = sv_wait1(cl.ep, 60000);
	ck_assert_int_ne(wc.status, 0);
	ck_assert_int_eq(sanverbs_ep_close(cl.ep), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	/* a wrong rkey on a fresh connection */
	ck_assert_int_eq(sanverbs_ep_connect(cl.ctx, cl.peer.ip, cl.peer.port,
					     NULL, &cl.ep),
			 0);
	client_get_desc(&cl);
	ck_assert_int_eq(client_cmd(&cl, CMD_ZERO, 0, 0, 0), -1);
	ck_assert_int_eq(sanverbs_mr_reg(sanverbs_ep_ctx(cl.ep), buf, 8192,
					    SANVERBS_ACCESS_LOCAL_WRITE, &mr),
			 0);
	bad = cl.d;
	bad.rkey ^= 0x5a5a00;
	ck_assert_int_eq(sanverbs_ep_post_write(cl.ep, SV_REG(mr), buf, 8192, &bad, 0,
						3, 0),
			 0);
	wc = sv_wait1(cl.ep, 60000);
	ck_assert_int_eq(wc.status, -EACCES);
	ck_assert_int_eq(sanverbs_ep_close(cl.ep), 0);
	ck_assert_int_eq(sv_peer_wait(&cl.peer, 60) != 0, 1); /* its QP died */
	ck_assert_int_eq(sanverbs_mr_dereg(mr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(cl.cmr), 0);
	ck_assert_int_eq(sanverbs_ctx_close(cl.ctx), 0);
	free(buf);
}
END_TEST

START_TEST(peer_vanishes_mid_transfer)
{
	struct target_arg ta = { .access = SANVERBS_ACCESS_REMOTE_WRITE,
				 .vanish_after_go = 1 };
	unsigned char *src = malloc(BIG);
	struct sanverbs_mr *smr;
	struct client cl;
	long pinned0, pinned1;
	time_t t0;
	int i, err = 0, ret;

	ck_assert_ptr_nonnull(src);
	memset(src, 0x3c, BIG);
	client_connect(&cl, 1, role_target, &ta);
	pinned0 = sv_vm_pinned_kb();
	client_get_desc(&cl);
	ck_assert_int_eq(sanverbs_mr_reg(sanverbs_ep_ctx(cl.ep), src, BIG, 0, &smr), 0);
	pinned1 = sv_vm_pinned_kb();
	client_cmd(&cl, CMD_GO, 0, 0, 0);
	t0 = time(NULL);
	for (i = 0; i < 400 && !err; i++) {
		struct sanverbs_wc wc;

		ret = sanverbs_ep_post_write(cl.ep, SV_REG(smr), src, BIG, &cl.d, 0, i, 0);
		if (ret) {
			err = ret;
			break;
		}
		ret = sanverbs_ep_wait(cl.ep, &wc, 1, 90000);
		ck_assert_int_ne(ret, -ETIMEDOUT);
		err = ret < 0 ? ret : wc.status;
	}
	ck_assert_msg(err != 0, "writes kept succeeding after the peer left");
	ck_assert_msg(err == -ETIMEDOUT || err == -ECANCELED ||
			      err == -ENOTCONN || err == -EACCES,
		      "unexpected error %d (%s)", err, sanverbs_strerror(err));
	ck_assert_int_lt(time(NULL) - t0, 200);
	ck_assert_int_eq(sv_peer_wait(&cl.peer, 60), 0);
	ck_assert_int_eq(sanverbs_ep_close(cl.ep), 0);
	/* dropping (and unpinning) the registrations released the pins */
	ck_assert_int_eq(sanverbs_mr_dereg(smr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(cl.cmr), 0);
	sanverbs_cache_invalidate(cl.ctx, src, BIG);
	sanverbs_cache_invalidate(cl.ctx, &cl.c, sizeof(cl.c));
	if (pinned0 >= 0 && pinned1 > pinned0)
		ck_assert_int_le(sv_vm_pinned_kb(), pinned0);
	ck_assert_int_eq(sanverbs_ctx_close(cl.ctx), 0);
	free(src);
}
END_TEST

#define NCONN 4

START_TEST(connections_share_one_buffer)
{
	unsigned char *src = malloc(BIG);
	struct sanverbs_ep *eps[NCONN];
	struct sanverbs_mr *mrs[NCONN];
	struct client cl[NCONN] = { 0 };
	struct sv_peer peer;
	struct sv_side a, b;
	int i;

	ck_assert_ptr_nonnull(src);
	/* one peer process, NCONN connections, served one after another */
	sv_peer_start(&peer, NCONN, 1, role_target, &rw_target,
		      sizeof(rw_target));
	sv_sides(&a, &b);
	cl[0].ctx = sv_side_open(&a);
	for (i = 0; i < NCONN; i++) {
		ck_assert_int_eq(sanverbs_ep_connect(cl[0].ctx, peer.ip,
						     peer.port, NULL, &eps[i]),
				 0);
		ck_assert_int_eq(sanverbs_mr_reg(sanverbs_ep_ctx(eps[i]), src, BIG, 0,
						    &mrs[i]),
				 0);
	}
	for (i = 0; i < NCONN; i++) {
		const size_t slice = BIG / NCONN;

		cl[i].ctx = cl[0].ctx;
		cl[i].ep = eps[i];
		client_get_desc(&cl[i]);
		/* an earlier connection dropping its handle must not disturb
		 * this one's registration of the same buffer */
		if (i > 0)
			ck_assert_int_eq(sanverbs_mr_dereg(mrs[i - 1]), 0);
		sv_fill_pattern(src, slice, 4242 + i);
		ck_assert_int_eq(sanverbs_ep_post_write(eps[i], SV_REG(mrs[i]), src,
							slice, &cl[i].d,
							i * slice, i, 0),
				 0);
		ck_assert_int_eq(wait_for(eps[i], SANVERBS_WC_WRITE).status, 0);
		ck_assert_int_eq(client_cmd(&cl[i], CMD_VERIFY, 4242 + i,
					    i * slice, slice),
				 -1);
		client_cmd(&cl[i], CMD_QUIT, 0, 0, 0);
	}
	ck_assert_int_eq(sanverbs_mr_dereg(mrs[NCONN - 1]), 0);
	for (i = 0; i < NCONN; i++)
		ck_assert_int_eq(sanverbs_ep_close(eps[i]), 0);
	ck_assert_int_eq(sv_peer_wait(&peer, 60), 0);
	for (i = 0; i < NCONN; i++)
		ck_assert_int_eq(sanverbs_mr_dereg(cl[i].cmr), 0);
	ck_assert_int_eq(sanverbs_ctx_close(cl[0].ctx), 0);
	free(src);
}
END_TEST

START_TEST(bad_arguments)
{
	struct sanverbs_ep *ep = (void *)1;
	struct sanverbs_wc wc;
	char name[64];

	ck_assert_int_eq(sanverbs_ep_connect(NULL, "1.2.3.4", 1, NULL, &ep),
			 -EINVAL);
	ck_assert_ptr_eq(ep, NULL);
	ck_assert_int_eq(sanverbs_ep_listen(NULL, NULL, 0, 1, NULL, &ep),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_ep_accept(NULL, 0, &ep), -EINVAL);
	ck_assert_int_eq(sanverbs_ep_close(NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_ep_disconnect(NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_ep_poll(NULL, &wc, 1), -EINVAL);
	ck_assert_int_eq(sanverbs_ep_wait(NULL, &wc, 1, 0), -EINVAL);
	ck_assert_int_eq(sanverbs_ep_post_send(NULL, NULL, NULL, 0, 0, 0), -EINVAL);
	ck_assert_int_eq(sanverbs_ep_fd(NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_ep_arm(NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_mr_region(NULL, NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_addr_device("not-an-ip", 0, name, 64),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_addr_device("1.2.3.4", 8, name, 64), -EINVAL);
}
END_TEST

START_TEST(listen_and_device_checks)
{
	struct sanverbs_ep *lis, *ep;
	struct sanverbs_ctx *ctx;
	struct sv_side a, b;
	struct sanverbs_ep_attr attr = { .flags = 1 };
	char name[64];

	sv_sides(&a, &b);
	ctx = sv_side_open(&a);
	ck_assert_int_eq(sanverbs_addr_device(a.ip, 0, name, sizeof(name)), 0);
	ck_assert_str_eq(name, sanverbs_ctx_device_name(ctx));
	ck_assert_int_eq(sanverbs_addr_device(a.ip, 0, name, 2), -ENAMETOOLONG);
	ck_assert_int_eq(sanverbs_ep_listen(ctx, a.ip, 0, 4, &attr, &lis),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_ep_listen(ctx, a.ip, 0, 4, NULL, &lis), 0);
	ck_assert_uint_ne(sanverbs_ep_local_port(lis), 0);
	/* nobody connects: the accept is bounded */
	ck_assert_int_eq(sanverbs_ep_accept(lis, 300, &ep), -ETIMEDOUT);
	ck_assert_int_eq(sanverbs_ep_disconnect(lis), -EINVAL);
	ck_assert_int_eq(sanverbs_ep_close(lis), 0);
	/* nobody listens on this port: refused, not hung */
	ck_assert_int_lt(sanverbs_ep_connect(ctx, a.ip, 9, NULL, &ep), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
}
END_TEST

int main(int argc, char **argv)
{
	static const struct sv_role roles[] = { { .serve = role_echo },
						{ .serve = role_target } };
	Suite *s = suite_create("ep");
	TCase *tc = tcase_create("two-process");

	tcase_set_timeout(tc, 500);
	tcase_add_test(tc, bad_arguments);
	tcase_add_test(tc, listen_and_device_checks);
	tcase_add_test(tc, send_recv_sizes);
	tcase_add_test(tc, rdma_write_read_1b_to_16mib);
	tcase_add_test(tc, read_only_region_refuses_write);
	tcase_add_test(tc, write_only_region_refuses_read);
	tcase_add_test(tc, forged_descriptors);
	tcase_add_test(tc, peer_vanishes_mid_transfer);
	tcase_add_test(tc, connections_share_one_buffer);
	suite_add_tcase(s, tc);
	sv_peer_main(argc, argv, roles, sizeof(roles) / sizeof(roles[0]));
	return sv_test_run_rxe(s);
}
