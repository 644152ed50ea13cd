/* SPDX-License-Identifier: MIT */
/* Starting the library's own threads (cache worker, monitors, stats
 * server) in one way. */
#ifndef SV_LIB_THREAD_H
#define SV_LIB_THREAD_H

#include <pthread.h>

/* Starts @fn(@arg) on a new thread with every signal blocked: the
 * application's signal handlers never run on a library thread (a handler
 * could unmap a watched range and wait for the very thread running it).
 * 0, or a negative errno. */
int sv_thread_start(pthread_t *t, void *(*fn)(void *), void *arg);

#endif
