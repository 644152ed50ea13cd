/* SPDX-License-Identifier: MIT */
/* Description: sanverbs_ctx_attach() on a protection domain the test made
 * itself with plain verbs (ibv_open_device, ibv_alloc_pd, its own CQ and
 * RC QP pair): registrations through the cache carry keys of that PD, and
 * the test's own QPs RDMA-write into and read from them, byte for byte,
 * including a cache hit and a remote key from a memory window; two
 * contexts attach to the same PD; closing them leaves the PD and device to
 * the test (ibv_reg_mr still works on the PD, ibv_dealloc_pd succeeds, so
 * nothing sanverbs made is left on it); bad arguments are refused. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "sv-test.h"

#define LEN (64u << 10)
#define PSN 0x4242

struct plain {
	struct ibv_context *verbs;
	struct ibv_pd *pd;
	struct ibv_cq *cq;
	struct ibv_qp *a, *b;
	uint8_t port;
	int gid;
};

static struct plain P;

/* The first device with an active port (SANVERBS_RXE_DEV names one). */
static void open_plain(void)
{
	const char *want = getenv("SANVERBS_RXE_DEV");
	struct ibv_device **list;
	struct ibv_port_attr pa;
	int n, i;

	list = ibv_get_device_list(&n);
	ck_assert_ptr_nonnull(list);
	for (i = 0; i < n && !P.verbs; i++) {
		if (want && *want && strcmp(ibv_get_device_name(list[i]), want))
			continue;
		P.verbs = ibv_open_device(list[i]);
		if (P.verbs && (ibv_query_port(P.verbs, 1, &pa) ||
				pa.state != IBV_PORT_ACTIVE)) {
			ibv_close_device(P.verbs);
			P.verbs = NULL;
		}
	}
	ibv_free_device_list(list);
	ck_assert_msg(P.verbs, "no device with an active port 1");
	P.port = 1;
}

/* The IPv4-mapped RoCEv2 GID rxe routes. */
static int pick_gid(void)
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0,
					      0, 0, 0, 0, 0xff, 0xff };
	struct ibv_port_attr pa;
	struct ibv_gid_entry e;
	int i;

	ck_assert_int_eq(ibv_query_port(P.verbs, P.port, &pa), 0);
	for (i = 0; i < pa.gid_tbl_len; i++)
		if (!ibv_query_gid_ex(P.verbs, P.port, (uint32_t)i, &e, 0) &&
		    e.gid_type == IBV_GID_TYPE_ROCE_V2 &&
		    !memcmp(e.gid.raw, v4mapped, sizeof(v4mapped)))
			return i;
	return 0;
}

static void qp_connect(struct ibv_qp *qp, uint32_t dest, const union ibv_gid *g)
{
	struct ibv_qp_attr a;

	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_INIT;
	a.port_num = P.port;
	a.qp_access_flags = IBV_ACCESS_REMOTE_WRITE | IBV_ACCESS_REMOTE_READ |
			    IBV_ACCESS_LOCAL_WRITE;
	ck_assert_int_eq(ibv_modify_qp(qp, &a, IBV_QP_STATE |
					       IBV_QP_PKEY_INDEX | IBV_QP_PORT |
					       IBV_QP_ACCESS_FLAGS), 0);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTR;
	a.path_mtu = IBV_MTU_1024;
	a.dest_qp_num = dest;
	a.rq_psn = PSN;
	a.max_dest_rd_atomic = 1;
	a.min_rnr_timer = 12;
	a.ah_attr.is_global = 1;
	a.ah_attr.port_num = P.port;
	a.ah_attr.grh.dgid = *g;
	a.ah_attr.grh.sgid_index = (uint8_t)P.gid;
	a.ah_attr.grh.hop_limit = 1;
	ck_assert_int_eq(ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_AV |
					       IBV_QP_PATH_MTU |
					       IBV_QP_DEST_QPN | IBV_QP_RQ_PSN |
					       IBV_QP_MAX_DEST_RD_ATOMIC |
					       IBV_QP_MIN_RNR_TIMER), 0);
	memset(&a, 0, sizeof(a));
	a.qp_state = IBV_QPS_RTS;
	a.timeout = 18; /* ~1 s per try: a busy TCG guest is slow */
	a.retry_cnt = 7;
	a.rnr_retry = 7;
	a.sq_psn = PSN;
	a.max_rd_atomic = 1;
	ck_assert_int_eq(ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_TIMEOUT |
					       IBV_QP_RETRY_CNT |
					       IBV_QP_RNR_RETRY |
					       IBV_QP_SQ_PSN |
					       IBV_QP_MAX_QP_RD_ATOMIC), 0);
}

static struct ibv_qp *make_qp(void)
{
	struct ibv_qp_init_attr ia;
	struct ibv_qp *qp;

	memset(&ia, 0, sizeof(ia));
	ia.send_cq = P.cq;
	ia.recv_cq = P.cq;
	ia.cap.max_send_wr = 8;
	ia.cap.max_recv_wr = 8;
	ia.cap.max_send_sge = 1;
	ia.cap.max_recv_sge = 1;
	ia.qp_type = IBV_QPT_RC;
	qp = ibv_create_qp(P.pd, &ia);
	ck_assert_ptr_nonnull(qp);
	return qp;
}

/* Everything an RDMA application has before it meets sanverbs. */
static void plain_setup(void)
{
	union ibv_gid g;

	memset(&P, 0, sizeof(P));
	open_plain();
	P.pd = ibv_alloc_pd(P.verbs);
	ck_assert_ptr_nonnull(P.pd);
	P.cq = ibv_create_cq(P.verbs, 32, NULL, NULL, 0);
	ck_assert_ptr_nonnull(P.cq);
	P.a = make_qp();
	P.b = make_qp();
	P.gid = pick_gid();
	ck_assert_int_eq(ibv_query_gid(P.verbs, P.port, P.gid, &g), 0);
	qp_connect(P.a, P.b->qp_num, &g);
	qp_connect(P.b, P.a->qp_num, &g);
}

static void plain_teardown(void)
{
	ck_assert_int_eq(ibv_destroy_qp(P.a), 0);
	ck_assert_int_eq(ibv_destroy_qp(P.b), 0);
	ck_assert_int_eq(ibv_destroy_cq(P.cq), 0);
	/* EBUSY here would mean sanverbs left an MR, a window or a QP */
	ck_assert_int_eq(ibv_dealloc_pd(P.pd), 0);
	ck_assert_int_eq(ibv_close_device(P.verbs), 0);
}

/* One signaled RDMA op on the test's QP a; the completion status. */
static int rdma(enum ibv_wr_opcode op, void *buf, uint32_t lkey, size_t len,
		void *raddr, uint32_t rkey)
{
	static uint64_t id;
	struct ibv_sge sge = { (uintptr_t)buf, (uint32_t)len, lkey };
	struct ibv_send_wr wr, *bad;
	struct timespec t0, t;
	struct ibv_wc wc;
	int n;

	memset(&wr, 0, sizeof(wr));
	wr.wr_id = ++id;
	wr.sg_list = &sge;
	wr.num_sge = 1;
	wr.opcode = op;
	wr.send_flags = IBV_SEND_SIGNALED;
	wr.wr.rdma.remote_addr = (uintptr_t)raddr;
	wr.wr.rdma.rkey = rkey;
	ck_assert_int_eq(ibv_post_send(P.a, &wr, &bad), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		n = ibv_poll_cq(P.cq, 1, &wc);
		ck_assert_int_ge(n, 0);
		if (n && wc.wr_id == wr.wr_id)
			return (int)wc.status;
		clock_gettime(CLOCK_MONOTONIC, &t);
		ck_assert_msg(t.tv_sec - t0.tv_sec < 60, "no completion");
	}
}

static void *buf(void)
{
	void *p = mmap(NULL, LEN, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	ck_assert(p != MAP_FAILED);
	return p;
}

/* Writes @src into @dst and reads @dst back into @back, through keys of
 * registrations made by @ctx, on the test's QPs; checks every byte. */
static void move_bytes(struct sanverbs_ctx *ctx, uint8_t *src, uint8_t *dst,
		       uint8_t *back, uint32_t seed)
{
	struct sanverbs_mr *ms, *md, *mb;

	sv_fill_pattern(src, LEN, seed);
	memset(dst, 0, LEN);
	memset(back, 0, LEN);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, src, LEN, 0, &ms), 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, dst, LEN,
					 SANVERBS_ACCESS_REMOTE_WRITE |
						 SANVERBS_ACCESS_REMOTE_READ,
					 &md),
			 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, back, LEN,
					 SANVERBS_ACCESS_LOCAL_WRITE, &mb),
			 0);
	ck_assert_int_eq(rdma(IBV_WR_RDMA_WRITE, src, sanverbs_mr_lkey(ms),
			      LEN, dst, sanverbs_mr_rkey(md)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(dst, LEN, seed), -1);
	ck_assert_int_eq(rdma(IBV_WR_RDMA_READ, back, sanverbs_mr_lkey(mb),
			      LEN, dst, sanverbs_mr_rkey(md)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(back, LEN, seed), -1);
	ck_assert_int_eq(sanverbs_mr_dereg(ms), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(md), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(mb), 0);
}

START_TEST(attach_moves_bytes)
{
	struct sanverbs_cache_stats st0, st1;
	struct sanverbs_ctx *ctx;
	uint8_t *src, *dst, *back;
	struct ibv_mr *mr;

	plain_setup();
	ck_assert_int_eq(sanverbs_ctx_attach(P.pd, NULL, &ctx), 0);
	ck_assert_ptr_eq(sanverbs_ctx_pd(ctx), P.pd);
	ck_assert_ptr_eq(sanverbs_ctx_verbs(ctx), P.verbs);
	ck_assert_uint_eq(sanverbs_ctx_port(ctx), P.port);
	src = buf();
	dst = buf();
	back = buf();
	move_bytes(ctx, src, dst, back, 1);
	/* a second time: cached (under userfaultfd a range is cached at its
	 * second registration, SANVERBS_CACHE_ADMIT) */
	move_bytes(ctx, src, dst, back, 2);
	/* again: the local registrations are cache hits now */
	ck_assert_int_eq(sanverbs_cache_stats(ctx, &st0), 0);
	move_bytes(ctx, src, dst, back, 3);
	ck_assert_int_eq(sanverbs_cache_stats(ctx, &st1), 0);
	if (st0.monitor != SANVERBS_MONITOR_NONE)
		ck_assert_uint_ge(st1.hits, st0.hits + 2);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);

	/* the PD is still the test's, and whole */
	mr = ibv_reg_mr(P.pd, src, LEN, IBV_ACCESS_LOCAL_WRITE);
	ck_assert_ptr_nonnull(mr);
	ck_assert_int_eq(ibv_dereg_mr(mr), 0);
	munmap(src, LEN);
	munmap(dst, LEN);
	munmap(back, LEN);
	plain_teardown();
}
END_TEST

START_TEST(two_contexts_one_pd)
{
	struct sanverbs_ctx *c1, *c2;
	uint8_t *src, *dst, *back;

	plain_setup();
	ck_assert_int_eq(sanverbs_ctx_attach(P.pd, NULL, &c1), 0);
	ck_assert_int_eq(sanverbs_ctx_attach(P.pd, NULL, &c2), 0);
	src = buf();
	dst = buf();
	back = buf();
	move_bytes(c1, src, dst, back, 3);
	move_bytes(c2, src, dst, back, 4);
	/* closing one leaves the other, and the PD, working */
	ck_assert_int_eq(sanverbs_ctx_close(c2), 0);
	move_bytes(c1, src, dst, back, 5);
	ck_assert_int_eq(sanverbs_ctx_close(c1), 0);
	munmap(src, LEN);
	munmap(dst, LEN);
	munmap(back, LEN);
	plain_teardown();
}
END_TEST

START_TEST(attach_refuses)
{
	struct sanverbs_ctx_attr attr;
	struct sanverbs_ctx *ctx = (void *)1;

	plain_setup();
	ck_assert_int_eq(sanverbs_ctx_attach(NULL, NULL, &ctx), -EINVAL);
	ck_assert_ptr_null(ctx);
	ck_assert_int_eq(sanverbs_ctx_attach(P.pd, NULL, NULL), -EINVAL);
	ck_assert_int_eq(sanverbs_ctx_attr_init(&attr), 0);
	attr.device = "no-such-device";
	ck_assert_int_eq(sanverbs_ctx_attach(P.pd, &attr, &ctx), -EINVAL);
	attr.device = ibv_get_device_name(P.verbs->device);
	attr.flags = 1;
	ck_assert_int_eq(sanverbs_ctx_attach(P.pd, &attr, &ctx), -EINVAL);
	attr.flags = 0;
	attr.port = 200;
	ck_assert_int_eq(sanverbs_ctx_attach(P.pd, &attr, &ctx), -ENODEV);
	attr.port = 0;
	ck_assert_int_eq(sanverbs_ctx_attach(P.pd, &attr, &ctx), 0);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
	plain_teardown();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctx-attach");
	TCase *tc = tcase_create("attach");

	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, attach_moves_bytes);
	tcase_add_test(tc, two_contexts_one_pd);
	tcase_add_test(tc, attach_refuses);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
