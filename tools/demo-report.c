/* SPDX-License-Identifier: MIT */
/* sanverbs-demo's report, printed by side A: every number explained, and
 * side B described by what B itself sent in its hello, never by what A
 * assumes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "demo.h"

static const char *monitor_story(uint32_t monitor, uint32_t flags)
{
	switch (monitor) {
	case SANVERBS_MONITOR_KMOD:
		return "kmod: the sanverbs kernel module's mmu interval "
		       "notifiers; the kernel invalidates a cached registration "
		       "before an unmap or remap of its memory completes";
	case SANVERBS_MONITOR_UFFD:
		return flags & SANVERBS_CACHE_F_UFFD_USER_MODE ?
		       "uffd (user-mode-only): userfaultfd reports unmaps and "
		       "remaps of cached memory to a library thread; faults "
		       "raised inside the kernel are not delivered" :
		       "uffd: userfaultfd reports every unmap and remap of "
		       "cached memory to a library thread, which drops the "
		       "registrations before they can be hit again";
	default:
		return "none: no monitor could be opened, so caching is off "
		       "(every registration calls ibv_reg_mr)";
	}
}

static const char *monitor_name(const struct demo_hello *h)
{
	switch (h->monitor) {
	case SANVERBS_MONITOR_KMOD:
		return "kmod";
	case SANVERBS_MONITOR_UFFD:
		return h->flags & SANVERBS_CACHE_F_UFFD_USER_MODE ?
		       "uffd (user-mode-only)" : "uffd";
	default:
		return "none (caching off)";
	}
}

/* How many machines took part, judged by the boot ids the two sides sent:
 * a boot id names one running kernel, so two different ones are two
 * machines (real or virtual), and equal ones are one kernel with two
 * devices. */
enum { MACHINES_UNKNOWN, MACHINES_ONE, MACHINES_TWO };

static int machines(const struct demo_report *r)
{
	if (!r->a.boot_id[0] || !r->b.boot_id[0])
		return MACHINES_UNKNOWN;
	return strcmp(r->a.boot_id, r->b.boot_id) ? MACHINES_TWO : MACHINES_ONE;
}

static void print_machines(const struct demo_report *r, int n)
{
	const char *mode = getenv("SANVERBS_TWOHOST_MODE");

	switch (n) {
	case MACHINES_TWO:
		printf("  machines      two: A runs Linux %s, B runs Linux %s "
		       "(B's kernel release and boot id came over the "
		       "connection; the boot ids differ, so every byte crossed "
		       "the network between two running kernels)\n",
		       r->a.kernel, r->b.kernel);
		break;
	case MACHINES_ONE:
		if (!strcmp(r->a.device, r->b.device)) {
			printf("  machines      one: A and B share one RDMA "
			       "device (%s) in one kernel, Linux %s (B's boot "
			       "id, sent over the connection, is A's)\n",
			       r->a.device, r->a.kernel);
			break;
		}
		printf("  machines      one: A and B are two RDMA devices (%s "
		       "and %s) in one kernel, Linux %s (B's boot id, sent "
		       "over the connection, is A's)%s\n", r->a.device,
		       r->b.device, r->a.kernel,
		       mode && !strcmp(mode, "init_net") ?
		       "; both in the initial network namespace (this "
		       "kernel's rxe is not namespace-aware), joined by a "
		       "veth pair" : "");
		break;
	default:
		printf("  machines      not known (a boot id could not be "
		       "read): A runs Linux %s, B runs Linux %s\n",
		       r->a.kernel, r->b.kernel);
	}
}

static void print_note(const struct demo_report *r, int n)
{
	int rxe_a = !strncmp(r->a.device, "rxe", 3);
	int rxe_b = !strncmp(r->b.device, "rxe", 3);
	const char *where;

	if (r->a.in_vm || r->b.in_vm) {
		if (n != MACHINES_TWO)
			where = "this ran in a QEMU guest";
		else if (r->a.in_vm && r->b.in_vm)
			where = "both sides ran in QEMU guests";
		else
			where = r->a.in_vm ? "side A ran in a QEMU guest" :
			      "side B ran in a QEMU guest";
		printf("  note          %s under TCG emulation%s: the MiB/s "
		       "are the emulator's speed, 10 to 100 times below real "
		       "hardware; the counts and checksums are what matters\n",
		       where, rxe_a && rxe_b ? " on SoftRoCE (rxe)" : "");
	} else if (rxe_a || rxe_b) {
		printf("  note          %s SoftRoCE: the CPU moves the bytes, "
		       "so the MiB/s measure %s, not a NIC\n",
		       rxe_a && rxe_b ? "both devices are" :
		       rxe_a ? "A's device is" : "B's device is",
		       n == MACHINES_ONE ? "this machine" : "the machines");
	}
}

void demo_report_print(const struct demo_report *r)
{
	double mib = (double)(1u << 20);
	int n = machines(r);

	printf("\nsanverbs-demo report: %s, A %s (%s, Linux %s) -> B %s "
	       "(%s, Linux %s)\n",
	       n == MACHINES_TWO ? "two machines" :
	       n == MACHINES_ONE ? (strcmp(r->a.device, r->b.device) ?
				    "one machine, two devices" :
				    "one machine, one device") :
	       "machines not known",
	       r->a_ip, r->a.device, r->a.kernel, r->b_ip, r->b.device,
	       r->b.kernel);
	print_machines(r, n);
	printf("  monitor       %s\n", monitor_story(r->a.monitor, r->a.flags));
	printf("  B's monitor   %s (B's cache, which registered B's target "
	       "region; B %s the sanverbs module)\n", monitor_name(&r->b),
	       r->b.kmod > 0 ? "has" : "has not loaded");
	printf("  RDMA write    %d transfers of %.0f MiB, %.1f MiB/s: bytes "
	       "written / time from sanverbs_mr_reg to the write's completion "
	       "(MiB = 2^20 bytes; the checksum round trips are not timed)\n",
	       r->writes, r->len / mib,
	       r->wsec > 0 ? (r->len * (double)r->writes) / mib / r->wsec :
	       0.0);
	printf("  RDMA read     1 transfer of %.0f MiB back from B, %.1f MiB/s "
	       "(post to completion)\n", r->bytes_read / mib,
	       r->rsec > 0 ? r->bytes_read / mib / r->rsec : 0.0);
	printf("  cache hits    %llu: sanverbs_mr_reg calls answered from the "
	       "cache, without ibv_reg_mr\n",
	       (unsigned long long)(r->st.hits - r->st0.hits));
	printf("  cache misses  %llu: calls that registered with the device "
	       "(each buffer's first use, and its first use again after its "
	       "registration was dropped)\n",
	       (unsigned long long)(r->st.misses - r->st0.misses));
	printf("  invalidations %llu: cached registrations dropped because "
	       "the monitor reported a change to their memory\n",
	       (unsigned long long)(r->st.invalidations -
				    r->st0.invalidations));
	printf("  callbacks     %d: calls of the sanverbs_cache_set_callback "
	       "function, one per dropped registration%s%s%s\n", r->callbacks,
	       r->callbacks ? " (" : "", r->cbnote, r->callbacks ? ")" : "");
	if (r->cb_unfreed)
		printf("                %d of them for memory this program had "
		       "not freed or unmapped: the monitor reported a change "
		       "this program did not make%s; the cache drops such a "
		       "registration, and the buffer's next use misses (never "
		       "a stale hit)\n", r->cb_unfreed,
		       r->a.monitor == SANVERBS_MONITOR_KMOD ?
		       " (docs/kmod.md, Known limits, lists the events the "
		       "module reports although the pages stay)" : "");
	printf("  low memory    %s\n", r->lowmem);
	printf("  checksums     %d/%d match: FNV-1a over each transfer, B "
	       "hashing the bytes that arrived, A comparing\n", r->sums_ok,
	       r->sums_total);
	print_note(r, n);
	fflush(stdout);
}
