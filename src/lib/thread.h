/* SPDX-License-Identifier: MIT */
/* Starting the library's own threads (cache worker, monitors, stats
 * server) in one way, and a thread's slot in per-thread-group counts. */
#ifndef SV_LIB_THREAD_H
#define SV_LIB_THREAD_H

#include <pthread.h>

/* Starts @fn(@arg) on a new thread with every signal blocked: the
 * application's signal handlers never run on a library thread (a handler
 * could unmap a watched range and wait for the very thread running it).
 * 0, or a negative errno. */
int sv_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

/* Thread-local variables of the hit path: in a shared object the default
 * (dynamic) model costs a __tls_get_addr() call per function that touches
 * one, about half of a hit's time under TCG. The initial-exec model reads
 * them at a fixed offset from the thread pointer; a libsanverbs loaded by
 * dlopen() takes these few bytes from the static TLS space glibc keeps
 * for that. */
#define SV_TLS_HOT __attribute__((tls_model("initial-exec")))

/* This thread's slot among @nslots (a power of two) for counts that
 * threads would otherwise all write on one cache line: threads take the
 * slots in turn, so two share one only when there are more threads than
 * slots. */
extern __thread unsigned int sv_tl_slot SV_TLS_HOT;
unsigned int sv_thread_slot_assign(void);

static inline unsigned int sv_thread_slot(unsigned int nslots)
{
	unsigned int s = sv_tl_slot;

	return (s ? s - 1 : sv_thread_slot_assign()) & (nslots - 1);
}

#endif
