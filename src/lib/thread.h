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

/* This thread's slot among @nslots (a power of two) for counts that
 * threads would otherwise all write on one cache line: threads take the
 * slots in turn, so two share one only when there are more threads than
 * slots. */
extern __thread unsigned int sv_tl_slot;
unsigned int sv_thread_slot_assign(void);

static inline unsigned int sv_thread_slot(unsigned int nslots)
{
	unsigned int s = sv_tl_slot;

	return (s ? s - 1 : sv_thread_slot_assign()) & (nslots - 1);
}

#endif
