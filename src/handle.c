/* SPDX-License-Identifier: MIT */
/* Type-stable handle memory and the fork generation (handle.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "handle.h"

uint32_t sv_fork_gen;

static void fork_child(void)
{
	__atomic_add_fetch(&sv_fork_gen, 1, __ATOMIC_RELAXED);
}

static void fork_register(void)
{
	pthread_atfork(NULL, NULL, fork_child);
}

void sv_fork_watch(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, fork_register);
}

void *sv_handle_new(struct sv_handle_type *t)
{
	struct sv_hdr *h = NULL;

	sv_fork_watch();
	pthread_mutex_lock(&t->lock);
	if (t->nretired > SV_HANDLE_QUARANTINE) {
		h = t->head;
		t->head = h->next;
		if (!t->head)
			t->tail = NULL;
		t->nretired--;
	}
	pthread_mutex_unlock(&t->lock);
	if (h) {
		/* The header's all_next may be walked by a reclaim right
		 * now: only the handle's own part is cleared. */
		h->next = NULL;
		memset(h + 1, 0, t->size - sizeof(*h));
	} else {
		h = calloc(1, t->size);
		if (!h)
			return NULL;
		pthread_mutex_lock(&t->lock);
		h->all_next = t->all;
		t->all = h;
		pthread_mutex_unlock(&t->lock);
	}
	h->fork_gen = sv_fork_gen_now();
	__atomic_store_n(&h->magic, t->magic, __ATOMIC_RELEASE);
	return h;
}

static void retire_locked(struct sv_handle_type *t, struct sv_hdr *h)
{
	__atomic_store_n(&h->magic, 0, __ATOMIC_RELEASE);
	h->next = NULL;
	if (t->tail)
		t->tail->next = h;
	else
		t->head = h;
	t->tail = h;
	t->nretired++;
}

void sv_handle_retire(struct sv_handle_type *t, void *h)
{
	pthread_mutex_lock(&t->lock);
	retire_locked(t, h);
	pthread_mutex_unlock(&t->lock);
}

void sv_handle_reclaim(struct sv_handle_type *t,
		       bool (*match)(void *h, void *arg), void *arg)
{
	struct sv_hdr *h;

	pthread_mutex_lock(&t->lock);
	for (h = t->all; h; h = h->all_next)
		if (h->magic == t->magic && match(h, arg))
			retire_locked(t, h);
	pthread_mutex_unlock(&t->lock);
}
