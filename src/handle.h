/* SPDX-License-Identifier: MIT */
/* Type-stable handle memory, so that misuse of a handle fails cleanly.
 *
 * A handle's memory is never given back to malloc: a retired handle keeps
 * its type's header with a dead magic and waits in a FIFO before it is
 * reused for a new handle of the same type. A second free, or any call
 * through a handle after its free or after its context was closed, then
 * reads valid memory that says "dead" and returns -EINVAL instead of
 * touching freed memory. The cost is memory bounded by the peak number of
 * live handles of each type, plus SV_HANDLE_QUARANTINE retired ones.
 *
 * A stale pointer names a new handle again once its memory is reused, as
 * a closed file descriptor does; the quarantine only makes that later. */
#ifndef SV_HANDLE_H
#define SV_HANDLE_H

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Retired handles of a type kept out of reuse. */
#define SV_HANDLE_QUARANTINE 16

/* First member of every handle type that uses this module. */
struct sv_hdr {
	uint32_t magic;		/* the type's magic while live, 0 after */
	uint32_t fork_gen;	/* sv_fork_gen when made (ctx-bound handles) */
	struct sv_hdr *next;	/* FIFO of retired handles */
	struct sv_hdr *all_next; /* every handle of the type, for reclaim */
};

struct sv_handle_type {
	size_t size;
	uint32_t magic;
	pthread_mutex_t lock;
	struct sv_hdr *head, *tail; /* retired, oldest first */
	size_t nretired;
	struct sv_hdr *all;
};

#define SV_HANDLE_TYPE(type, m)                                              \
	{ .size = sizeof(type), .magic = (m),                                \
	  .lock = PTHREAD_MUTEX_INITIALIZER }

/* Bumped in every child of fork() (pthread_atfork). A handle made with
 * another value belongs to another process. */
extern uint32_t sv_fork_gen;

static inline uint32_t sv_fork_gen_now(void)
{
	return __atomic_load_n(&sv_fork_gen, __ATOMIC_RELAXED);
}

/* Registers the fork handler; idempotent (sv_handle_new calls it). */
void sv_fork_watch(void);

/* A zeroed handle with its type's magic and the current fork generation,
 * or NULL (out of memory). */
void *sv_handle_new(struct sv_handle_type *t);

/* Marks @h dead and queues it for reuse. @h must be live. */
void sv_handle_retire(struct sv_handle_type *t, void *h);

/* Retires every live handle of @t for which @match(h, arg) is true, after
 * calling @match's owner's clean-up through @match itself (it returns
 * true when the handle is to be retired). Under the type's lock: @match
 * must not allocate or retire handles of @t. */
void sv_handle_reclaim(struct sv_handle_type *t,
		       bool (*match)(void *h, void *arg), void *arg);

/* True when @h is a live handle of the type with @magic. Reads only the
 * header, which stays valid memory for ever once allocated. */
static inline bool sv_handle_live(const void *h, uint32_t magic)
{
	return h && ((const struct sv_hdr *)h)->magic == magic;
}

/* 0 if live and made in this process, -EINVAL if dead, -ECHILD if made
 * by the parent before a fork. */
static inline int sv_handle_check(const void *h, uint32_t magic)
{
	if (!sv_handle_live(h, magic))
		return -EINVAL;
	if (((const struct sv_hdr *)h)->fork_gen != sv_fork_gen_now())
		return -ECHILD;
	return 0;
}

#endif
