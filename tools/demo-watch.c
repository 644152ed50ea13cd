/* SPDX-License-Identifier: MIT */
/* sanverbs-demo: side A's cache callback. Each call is kept with its range
 * so that the report says which buffer it was for, and whether this
 * program had freed that buffer, instead of assuming every call is the
 * payload's free. */
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

#include "demo.h"

#define MAX_SEEN 16

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct { uintptr_t addr; size_t len; } seen[MAX_SEEN];
static int calls;

static struct {
	const char *name;
	uintptr_t addr;
	size_t len;
	int from;       /* calls before it was named are not its */
	int freed;      /* released by this program: one call, then none */
	int taken;      /* its one call if freed, once matched */
} bufs[DEMO_BUF_N];

void demo_watch_cb(void *arg, void *addr, size_t len)
{
	pthread_mutex_lock(&lock);
	if (calls < MAX_SEEN) {
		seen[calls].addr = (uintptr_t)addr;
		seen[calls].len = len;
	}
	calls++;
	pthread_mutex_unlock(&lock);
}

int demo_watch_calls(void)
{
	int n;

	pthread_mutex_lock(&lock);
	n = calls;
	pthread_mutex_unlock(&lock);
	return n;
}

void demo_watch_name(int buf, const char *name, const void *addr,
		     size_t len, int freed)
{
	pthread_mutex_lock(&lock);
	bufs[buf].name = name;
	bufs[buf].addr = (uintptr_t)addr;
	bufs[buf].len = len;
	bufs[buf].from = calls;
	bufs[buf].freed = freed;
	bufs[buf].taken = 0;
	pthread_mutex_unlock(&lock);
}

/* The buffer call @i was for, or -1 (with @lock held). Malloc may hand a
 * freed buffer's addresses to the next one: a freed buffer takes only its
 * first call, a buffer only calls made after it was named. */
static int owner(int i)
{
	int k;

	for (k = 0; k < DEMO_BUF_N; k++) {
		if (!bufs[k].addr || i < bufs[k].from ||
		    (bufs[k].freed && bufs[k].taken && bufs[k].taken != i + 1))
			continue;
		if (seen[i].addr < bufs[k].addr + bufs[k].len &&
		    bufs[k].addr < seen[i].addr + seen[i].len) {
			if (bufs[k].freed)
				bufs[k].taken = i + 1;
			return k;
		}
	}
	return -1;
}

int demo_watch_wait(int buf, int ms)
{
	int i, n;

	for (; ms > 0; ms -= 10) {
		pthread_mutex_lock(&lock);
		n = calls < MAX_SEEN ? calls : MAX_SEEN;
		for (i = 0; i < n; i++)
			if (owner(i) == buf)
				break;
		pthread_mutex_unlock(&lock);
		if (i < n)
			return 1;
		usleep(10000);
	}
	return 0;
}

void demo_watch_note(struct demo_report *rep)
{
	size_t off = 0, size = sizeof(rep->cbnote);
	int i, k;

	pthread_mutex_lock(&lock);
	rep->callbacks = calls;
	rep->cb_unfreed = 0;
	for (k = 0; k < DEMO_BUF_N; k++)
		bufs[k].taken = 0;
	for (i = 0; i < calls && i < MAX_SEEN && off < size; i++) {
		k = owner(i);
		if (k < 0 || !bufs[k].freed)
			rep->cb_unfreed++;
		if (k >= 0)
			off += (size_t)snprintf(rep->cbnote + off, size - off,
						"%s%s", i ? ", " : "",
						bufs[k].name);
		else
			off += (size_t)snprintf(rep->cbnote + off, size - off,
						"%s%zu bytes at 0x%llx",
						i ? ", " : "", seen[i].len,
						(unsigned long long)seen[i].addr);
	}
	pthread_mutex_unlock(&lock);
}
