/* SPDX-License-Identifier: MIT */
/* Description: low-memory buffers from /dev/sanverbs. Contiguous and
 * page-by-page buffers lie below 4 GiB page for page (read as root from
 * /proc/self/pagemap), come zeroed, and a peer QP RDMA-writes into them
 * through rxe with every byte checked. The AllocateCommonBuffer rule holds
 * under the nolowmem parameter (32-bit mask: -ENOMEM; 64-bit mask: memory
 * from anywhere, RDMA still works); contiguous requests beyond the largest
 * block fail with -EINVAL; the per-file limit is enforced; fork, exit and
 * SIGKILL of the owner leave nothing allocated in the module; an
 * unprivileged caller never sees a physical address. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kmod-test.h"
#include "sv-test.h"

#define MiB (1024UL * 1024)
#define FOUR_GIB (1ULL << 32)

static size_t page;

static void setup(void)
{
	page = (size_t)sysconf(_SC_PAGESIZE);
	kt_set_param("nolowmem", "N");
	kt_set_param("max_file_bytes", "1073741824");
	kt_assert_all_freed();
}

static void teardown(void)
{
	kt_set_param("nolowmem", "N");
	kt_set_param("max_file_bytes", "1073741824");
}

/* A peer QP RDMA-writes a pattern over all of @buf; every byte checked. */
static void rdma_write_all(void *buf, size_t len, uint32_t seed)
{
	struct sanverbs_ctx *ctx = sv_test_ctx_open();
	struct sanverbs_mr *src_mr, *dst_mr;
	struct sv_qp_pair pair;
	void *src = malloc(len);

	ck_assert_ptr_nonnull(src);
	ck_assert_int_eq(sv_qp_pair_create(ctx, &pair), 0);
	sv_fill_pattern(src, len, seed);
	memset(buf, 0xee, len);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, src, len,
					 SANVERBS_ACCESS_LOCAL_WRITE, &src_mr),
			 0);
	ck_assert_int_eq(sanverbs_mr_reg(ctx, buf, len,
					 SANVERBS_ACCESS_REMOTE_WRITE, &dst_mr),
			 0);
	ck_assert_int_eq(sv_rdma_write(&pair, src, sanverbs_mr_lkey(src_mr),
				       len, (uintptr_t)buf,
				       sanverbs_mr_rkey(dst_mr)),
			 IBV_WC_SUCCESS);
	ck_assert_int_eq(sv_check_pattern(buf, len, seed), -1);
	ck_assert_int_eq(sanverbs_mr_dereg(dst_mr), 0);
	ck_assert_int_eq(sanverbs_mr_dereg(src_mr), 0);
	sv_qp_pair_destroy(&pair);
	ck_assert_int_eq(sanverbs_ctx_close(ctx), 0);
	free(src);
}

static void assert_zero(const uint8_t *p, size_t len)
{
	size_t i = 0;

	/* One assertion, not one per byte: check records each passed
	 * assertion in its log, which took minutes per MiB under TCG. */
	while (i < len && !p[i])
		i++;
	ck_assert_msg(i == len, "byte %zu is %#x, not zeroed", i, p[i]);
}

/* Every page below 4 GiB; with @contig also physically consecutive. */
static void assert_low(const uint8_t *p, size_t len, int contig)
{
	uint64_t first = kt_phys(p), phys;
	size_t off;

	for (off = 0; off < len; off += page) {
		phys = kt_phys(p + off);
		ck_assert_msg(phys != 0, "page at +%zu not present", off);
		ck_assert_msg(phys + page <= FOUR_GIB,
			      "page at +%zu is at %#llx, above 4 GiB", off,
			      (unsigned long long)phys);
		if (contig)
			ck_assert_msg(phys == first + off,
				      "page at +%zu at %#llx breaks contiguity",
				      off, (unsigned long long)phys);
	}
}

START_TEST(contiguous_below_4g)
{
	struct sanverbs_lowmem *b;
	uint64_t phys;
	size_t len = 2 * MiB;
	uint8_t *p;

	ck_assert_int_eq(sanverbs_lowmem_alloc(len - 100, SANVERBS_DMA_MASK_32,
					       SANVERBS_LOWMEM_CONTIGUOUS, &b),
			 0);
	p = sanverbs_lowmem_addr(b);
	ck_assert_uint_eq(sanverbs_lowmem_length(b), len);
	ck_assert_int_eq(sanverbs_lowmem_source(b), SANVERBS_LOWMEM_KMOD_DMA32);
	assert_zero(p, len);
	assert_low(p, len, 1);
	ck_assert_int_eq(sanverbs_lowmem_phys(b, &phys), 0);
	ck_assert_uint_eq(phys, kt_phys(p));
	rdma_write_all(p, len, 11);
	ck_assert_int_eq(sanverbs_lowmem_free(b), 0);
	kt_assert_all_freed();
}
END_TEST

START_TEST(paged_below_4g)
{
	struct sanverbs_lowmem *b;
	size_t len = 3 * MiB + 5 * 4096;
	uint8_t *p;

	ck_assert_int_eq(sanverbs_lowmem_alloc(len, SANVERBS_DMA_MASK_32, 0, &b),
			 0);
	p = sanverbs_lowmem_addr(b);
	ck_assert_int_eq(sanverbs_lowmem_source(b), SANVERBS_LOWMEM_KMOD_DMA32);
	assert_zero(p, len);
	assert_low(p, len, 0);
	rdma_write_all(p, len, 12);
	/* the module's counters see exactly this buffer */
	{
		struct sanverbs_stats s;

		kt_stats(&s);
		ck_assert_uint_eq(s.buf_objects, 1);
		ck_assert_uint_eq(s.buf_pages, len / page);
	}
	ck_assert_int_eq(sanverbs_lowmem_free(b), 0);
	kt_assert_all_freed();
}
END_TEST

START_TEST(mask64_prefers_low_memory)
{
	struct sanverbs_lowmem *b;

	ck_assert_int_eq(sanverbs_lowmem_alloc(MiB, SANVERBS_DMA_MASK_64, 0, &b),
			 0);
	ck_assert_int_eq(sanverbs_lowmem_source(b), SANVERBS_LOWMEM_KMOD_DMA32);
	assert_low(sanverbs_lowmem_addr(b), MiB, 0);
	rdma_write_all(sanverbs_lowmem_addr(b), MiB, 13);
	ck_assert_int_eq(sanverbs_lowmem_free(b), 0);
}
END_TEST

START_TEST(nolowmem_system)
{
	struct sanverbs_lowmem *b = (void *)1;

	kt_set_param("nolowmem", "Y");
	ck_assert_uint_eq(kt_param("nolowmem"), 1);
	/* A 32-bit device cannot be served at all. */
	ck_assert_int_eq(sanverbs_lowmem_alloc(MiB, SANVERBS_DMA_MASK_32, 0, &b),
			 -ENOMEM);
	ck_assert_ptr_null(b);
	ck_assert_int_eq(sanverbs_lowmem_alloc(MiB, SANVERBS_DMA_MASK_32,
					       SANVERBS_LOWMEM_CONTIGUOUS, &b),
			 -ENOMEM);
	/* A 64-bit one gets memory from anywhere, and it works for RDMA. */
	ck_assert_int_eq(sanverbs_lowmem_alloc(MiB, SANVERBS_DMA_MASK_64, 0, &b),
			 0);
	ck_assert_int_eq(sanverbs_lowmem_source(b), SANVERBS_LOWMEM_KMOD_ANY);
	assert_zero(sanverbs_lowmem_addr(b), MiB);
	rdma_write_all(sanverbs_lowmem_addr(b), MiB, 14);
	ck_assert_int_eq(sanverbs_lowmem_free(b), 0);
	ck_assert_int_eq(sanverbs_lowmem_alloc(MiB, SANVERBS_DMA_MASK_64,
					       SANVERBS_LOWMEM_CONTIGUOUS, &b),
			 0);
	ck_assert_int_eq(sanverbs_lowmem_source(b), SANVERBS_LOWMEM_KMOD_ANY);
	ck_assert_int_eq(sanverbs_lowmem_free(b), 0);
	kt_set_param("nolowmem", "N");
	kt_assert_all_freed();
}
END_TEST

START_TEST(contiguous_limit)
{
	struct sanverbs_version v;
	struct sanverbs_lowmem *b;
	int fd = kt_open();

	ck_assert_int_eq(ioctl(fd, SANVERBS_IOC_VERSION, &v), 0);
	close(fd);
	ck_assert_uint_ge(v.max_contig, MiB);
	ck_assert_int_eq(sanverbs_lowmem_alloc(v.max_contig + page,
					       SANVERBS_DMA_MASK_64,
					       SANVERBS_LOWMEM_CONTIGUOUS, &b),
			 -EINVAL);
	ck_assert_int_eq(sanverbs_lowmem_alloc(v.max_contig, SANVERBS_DMA_MASK_64,
					       SANVERBS_LOWMEM_CONTIGUOUS, &b),
			 0);
	assert_low(sanverbs_lowmem_addr(b), v.max_contig, 1);
	ck_assert_int_eq(sanverbs_lowmem_free(b), 0);
	kt_assert_all_freed();
}
END_TEST

START_TEST(per_file_limit)
{
	struct sanverbs_lowmem *a, *b;

	kt_set_param("max_file_bytes", "1048576");
	ck_assert_int_eq(sanverbs_lowmem_alloc(MiB, SANVERBS_DMA_MASK_32, 0, &a),
			 0);
	ck_assert_int_eq(sanverbs_lowmem_alloc(page, SANVERBS_DMA_MASK_32, 0, &b),
			 -ENOMEM);
	ck_assert_int_eq(sanverbs_lowmem_alloc(2 * MiB, SANVERBS_DMA_MASK_64, 0,
					       &b),
			 -ENOMEM);
	ck_assert_int_eq(sanverbs_lowmem_free(a), 0);
	/* freeing gives the quota back */
	ck_assert_int_eq(sanverbs_lowmem_alloc(MiB, SANVERBS_DMA_MASK_32, 0, &a),
			 0);
	ck_assert_int_eq(sanverbs_lowmem_free(a), 0);
	kt_assert_all_freed();
}
END_TEST

START_TEST(fork_leaves_nothing)
{
	struct sanverbs_lowmem *b;
	int status;
	pid_t pid;

	ck_assert_int_eq(sanverbs_lowmem_alloc(MiB, SANVERBS_DMA_MASK_32, 0, &b),
			 0);
	memset(sanverbs_lowmem_addr(b), 0x42, MiB);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		/* ASan's SIGSEGV handler would turn the fault into exit 1 */
		signal(SIGSEGV, SIG_DFL);
		/* The child inherits the file but not the mapping (the pages
		 * stay the parent's): touching it must fault. */
		*(volatile char *)sanverbs_lowmem_addr(b) = 1;
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
		      "child touching the buffer: status %#x", status);
	ck_assert_int_eq(((uint8_t *)sanverbs_lowmem_addr(b))[MiB - 1], 0x42);
	ck_assert_int_eq(sanverbs_lowmem_free(b), 0);
	kt_assert_all_freed();
}
END_TEST

START_TEST(killed_owner_leaves_nothing)
{
	struct sanverbs_stats s;
	int pfd[2], status;
	char c;
	pid_t pid;

	ck_assert_int_eq(pipe(pfd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sanverbs_lowmem *b1, *b2;
		int fd;
		struct sanverbs_alloc a = { .len = MiB,
					    .dma_mask = SANVERBS_DMA_MASK_32 };

		if (sanverbs_lowmem_alloc(4 * MiB, SANVERBS_DMA_MASK_32, 0, &b1) ||
		    sanverbs_lowmem_alloc(MiB, SANVERBS_DMA_MASK_32,
					  SANVERBS_LOWMEM_CONTIGUOUS, &b2))
			_exit(1);
		memset(sanverbs_lowmem_addr(b1), 1, 4 * MiB);
		/* and one allocated but never mapped */
		fd = open("/dev/sanverbs", O_RDWR);
		if (fd < 0 || ioctl(fd, SANVERBS_IOC_ALLOC, &a))
			_exit(2);
		if (write(pfd[1], "r", 1) != 1)
			_exit(3);
		pause();
		_exit(4);
	}
	close(pfd[1]);
	ck_assert_int_eq(read(pfd[0], &c, 1), 1);
	kt_stats(&s);
	ck_assert_uint_eq(s.buf_objects, 3);
	ck_assert_uint_eq(s.buf_pages, 6 * MiB / page);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	close(pfd[0]);
	kt_assert_all_freed();
}
END_TEST

START_TEST(unprivileged_gets_no_phys)
{
	int status;
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct sanverbs_alloc a = { .len = 4096,
					    .dma_mask = SANVERBS_DMA_MASK_32 };
		struct sanverbs_lowmem *b;
		uint64_t phys = 1;
		int fd;

		if (setgid(65534) || setuid(65534))
			_exit(10);
		if (sanverbs_lowmem_alloc(MiB, SANVERBS_DMA_MASK_32,
					  SANVERBS_LOWMEM_CONTIGUOUS, &b))
			_exit(11);
		if (sanverbs_lowmem_source(b) != SANVERBS_LOWMEM_KMOD_DMA32)
			_exit(12);
		if (sanverbs_lowmem_phys(b, &phys) != -EPERM || phys != 1)
			_exit(13);
		fd = open("/dev/sanverbs", O_RDWR);
		if (fd < 0 || ioctl(fd, SANVERBS_IOC_ALLOC, &a))
			_exit(14);
		if (a.phys || a.max_phys || (a.out_flags & SANVERBS_ALLOC_OUT_PHYS))
			_exit(15);
		memset(sanverbs_lowmem_addr(b), 1, MiB);
		sanverbs_lowmem_free(b);
		close(fd);
		_exit(0);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "unprivileged child failed with status %#x", status);
	kt_assert_all_freed();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("kmod-lowmem");
	TCase *tc = tcase_create("kmod");

	kt_require_kmod();
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 300);
	tcase_add_test(tc, contiguous_below_4g);
	tcase_add_test(tc, paged_below_4g);
	tcase_add_test(tc, mask64_prefers_low_memory);
	tcase_add_test(tc, nolowmem_system);
	tcase_add_test(tc, contiguous_limit);
	tcase_add_test(tc, per_file_limit);
	tcase_add_test(tc, fork_leaves_nothing);
	tcase_add_test(tc, killed_owner_leaves_nothing);
	tcase_add_test(tc, unprivileged_gets_no_phys);
	suite_add_tcase(s, tc);
	return sv_test_run_rxe(s);
}
