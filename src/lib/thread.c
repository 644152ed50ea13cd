/* SPDX-License-Identifier: MIT */
#include <signal.h>

#include "thread.h"

int sv_thread_start(pthread_t *t, void *(*fn)(void *), void *arg)
{
	sigset_t all, old;
	int ret;

	/* The new thread inherits the creator's mask: block everything
	 * around pthread_create, then give the creator its mask back. The
	 * synchronous faults stay deliverable: blocked, the kernel forces
	 * their default action, and a fault in a library thread would kill
	 * the process before the application's or a sanitizer's handler
	 * could say where. */
	sigfillset(&all);
	sigdelset(&all, SIGSEGV);
	sigdelset(&all, SIGBUS);
	sigdelset(&all, SIGILL);
	sigdelset(&all, SIGFPE);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	ret = pthread_create(t, NULL, fn, arg);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -ret;
}

__thread unsigned int sv_tl_slot SV_TLS_HOT;

unsigned int sv_thread_slot_assign(void)
{
	static unsigned int next;
	unsigned int s = __atomic_fetch_add(&next, 1, __ATOMIC_RELAXED);

	/* 0 means "none yet": a wrapped count starts again at slot 0 */
	sv_tl_slot = (s & 0xffffu) + 1;
	return s & 0xffffu;
}
