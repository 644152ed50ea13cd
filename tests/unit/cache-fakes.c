/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache-fakes.h"

static struct fake_reg *to_fake(struct sv_reg_backend *b)
{
	return container_of(b, struct fake_reg, b);
}

static struct fake_mr *fake_find_locked(struct fake_reg *f, uint32_t lkey)
{
	struct sv_list *l;

	for (l = f->live.next; l != &f->live; l = l->next) {
		struct fake_mr *m = container_of(l, struct fake_mr, link);

		if (m->mr.lkey == lkey)
			return m;
	}
	return NULL;
}

static size_t pages(size_t len)
{
	return (len + 4095) & ~(size_t)4095;
}

static int fr_reg(struct sv_reg_backend *b, uintptr_t addr, size_t len,
		  int flags, struct ibv_mr **out)
{
	struct fake_reg *f = to_fake(b);
	struct fake_mr *m;
	if (f->reg_hook)
		f->reg_hook(f->hook_arg, addr, len);
	pthread_mutex_lock(&f->lock);
	f->nreg++;
	if (f->fail_always || f->fail_next ||
	    (f->pin_limit && f->pinned + pages(len) > f->pin_limit)) {
		if (f->fail_next)
			f->fail_next--;
		f->nfail++;
		pthread_mutex_unlock(&f->lock);
		return -ENOMEM;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		pthread_mutex_unlock(&f->lock);
		return -ENOMEM;
	}
	m->seq = ++f->seq;
	m->flags = flags;
	m->live = true;
	m->mr.addr = (void *)addr;
	m->mr.length = len;
	m->mr.lkey = (uint32_t)m->seq;
	m->mr.rkey = (uint32_t)m->seq | 0x80000000u;
	sv_list_add_tail(&f->live, &m->link);
	f->nlive++;
	f->pinned += pages(len);
	pthread_mutex_unlock(&f->lock);
	*out = &m->mr;
	return 0;
}

static int fr_dereg(struct sv_reg_backend *b, struct ibv_mr *mr)
{
	struct fake_reg *f = to_fake(b);
	struct fake_mr *m = container_of(mr, struct fake_mr, mr);

	pthread_mutex_lock(&f->lock);
	if (!m->live || fake_find_locked(f, mr->lkey) != m)
		abort(); /* a double deregistration */
	m->live = false;
	sv_list_del(&m->link);
	f->nlive--;
	f->ndereg++;
	f->pinned -= pages(mr->length);
	free(m);
	pthread_mutex_unlock(&f->lock);
	return 0;
}

static bool fr_remote_ready(struct sv_reg_backend *b)
{
	return to_fake(b)->windows;
}

static bool fr_remote_on(const struct sv_reg_backend *b)
{
	return container_of(b, const struct fake_reg, b)->windows;
}

static int fr_bind(struct sv_reg_backend *b, struct ibv_mr *mr,
		   uintptr_t addr, size_t len, int ibv_remote,
		   struct sv_win **out, uint32_t *rkey)
{
	struct fake_reg *f = to_fake(b);
	struct fake_mr *m = container_of(mr, struct fake_mr, mr);
	struct sv_win *w;

	/* What rxe checks: the window lies inside a live MR that allows
	 * binding. */
	if (fake_reg_find(f, mr->lkey) != m ||
	    !(m->flags & IBV_ACCESS_MW_BIND) ||
	    addr < (uintptr_t)mr->addr ||
	    addr + len > (uintptr_t)mr->addr + mr->length || !ibv_remote)
		return -EINVAL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->mw = calloc(1, sizeof(*w->mw));
	if (!w->mw) {
		free(w);
		return -ENOMEM;
	}
	pthread_mutex_lock(&f->lock);
	w->mw->rkey = (uint32_t)++f->win_seq | 0x40000000u;
	f->nbound++;
	pthread_mutex_unlock(&f->lock);
	*out = w;
	*rkey = w->mw->rkey;
	return 0;
}

static int fr_unbind(struct sv_reg_backend *b, struct sv_win *w,
		     struct ibv_mr *mr)
{
	struct fake_reg *f = to_fake(b);

	if (fake_reg_find(f, mr->lkey) != container_of(mr, struct fake_mr, mr))
		abort(); /* the MR went while a window was bound on it */
	pthread_mutex_lock(&f->lock);
	f->nbound--;
	pthread_mutex_unlock(&f->lock);
	free(w->mw);
	free(w);
	return 0;
}

static void fr_destroy(struct sv_reg_backend *b)
{
	(void)b; /* the test owns the fake and checks it afterwards */
}

static const struct sv_reg_backend_ops fake_reg_ops = {
	.name = "fake",
	.reg = fr_reg,
	.dereg = fr_dereg,
	.remote_ready = fr_remote_ready,
	.remote_on = fr_remote_on,
	.bind = fr_bind,
	.unbind = fr_unbind,
	.destroy = fr_destroy,
};

void fake_reg_init(struct fake_reg *f, bool windows)
{
	memset(f, 0, sizeof(*f));
	f->b.ops = &fake_reg_ops;
	f->windows = windows;
	sv_list_init(&f->live);
	pthread_mutex_init(&f->lock, NULL);
}

struct fake_mr *fake_reg_find(struct fake_reg *f, uint32_t lkey)
{
	struct fake_mr *m;

	pthread_mutex_lock(&f->lock);
	m = fake_find_locked(f, lkey);
	pthread_mutex_unlock(&f->lock);
	return m;
}

void fake_reg_fini(struct fake_reg *f)
{
	struct sv_list *l;

	while ((l = sv_list_first(&f->live))) {
		sv_list_del(l);
		free(container_of(l, struct fake_mr, link));
	}
	pthread_mutex_destroy(&f->lock);
}

/* The monitor. */

static struct fake_mon *to_mon(struct sv_monitor *m)
{
	return container_of(m, struct fake_mon, m);
}

static void *grow(void *p, size_t *cap, size_t n, size_t size)
{
	if (n < *cap)
		return p;
	*cap = *cap ? *cap * 2 : 16;
	p = realloc(p, *cap * size);
	if (!p)
		abort();
	return p;
}

static bool fm_known(struct sv_monitor *m, struct sv_watch *w)
{
	struct fake_mon *fm = to_mon(m);
	size_t i;
	bool ret = false;

	pthread_mutex_lock(&fm->lock);
	for (i = 0; i < fm->nknown && !ret; i++)
		ret = fm->known[i].s <= w->start &&
		      fm->known[i].e >= w->start + w->len;
	pthread_mutex_unlock(&fm->lock);
	return ret;
}

static bool page_registered(struct fake_mon *fm, uintptr_t p)
{
	size_t i;

	for (i = 0; i < fm->nregpages; i++)
		if (fm->regpages[i] == p)
			return true;
	return false;
}

static int fm_watch(struct sv_monitor *m, struct sv_watch *w)
{
	struct fake_mon *fm = to_mon(m);
	size_t i;

	pthread_mutex_lock(&fm->lock);
	fm->nwatch++;
	if (fm->mode == FAKE_MON_SYNC) {
		fm->known = grow(fm->known, &fm->cap_known, fm->nknown,
				 sizeof(*fm->known));
		fm->known[fm->nknown].s = w->start;
		fm->known[fm->nknown].e = w->start + w->len;
		fm->nknown++;
		for (i = w->start & ~(uintptr_t)4095; i < w->start + w->len;
		     i += 4096) {
			if (page_registered(fm, i))
				continue;
			fm->regpages = grow(fm->regpages, &fm->cap_regpages,
					    fm->nregpages,
					    sizeof(*fm->regpages));
			fm->regpages[fm->nregpages++] = i;
		}
	} else {
		for (i = 0; i < fm->nslots && fm->slots[i].used; i++)
			;
		if (i == fm->nslots) {
			fm->slots = grow(fm->slots, &fm->cap_slots, fm->nslots,
					 sizeof(*fm->slots));
			fm->nslots++;
		}
		fm->slots[i].used = true;
		fm->slots[i].s = w->start;
		fm->slots[i].e = w->start + w->len;
		fm->slots[i].gen = ++fm->gen;
		fm->nused++;
		w->token = i;
		__atomic_store_n(&w->gen, fm->slots[i].gen, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&fm->lock);
	return 0;
}

static void fm_unwatch(struct sv_monitor *m, struct sv_watch *w)
{
	struct fake_mon *fm = to_mon(m);

	pthread_mutex_lock(&fm->lock);
	if (w->token >= fm->nslots || !fm->slots[w->token].used)
		abort(); /* unwatched twice, or never watched */
	fm->slots[w->token].used = false;
	fm->nused--;
	fm->nunwatch++;
	pthread_mutex_unlock(&fm->lock);
}

static bool fm_still_valid(struct sv_monitor *m, const struct sv_watch *w)
{
	struct fake_mon *fm = to_mon(m);
	bool ret;

	pthread_mutex_lock(&fm->lock);
	ret = fake_mon_watched(fm, w);
	pthread_mutex_unlock(&fm->lock);
	return ret;
}

static void fm_destroy(struct sv_monitor *m)
{
	(void)m;
}

static const struct sv_monitor_ops fake_sync_ops = {
	.name = "fake-sync",
	.known = fm_known,
	.watch = fm_watch,
	.destroy = fm_destroy,
};

static const struct sv_monitor_ops fake_gen_ops = {
	.name = "fake-gen",
	.watch = fm_watch,
	.unwatch = fm_unwatch,
	.still_valid = fm_still_valid,
	.destroy = fm_destroy,
};

int fake_mon_open(void *arg, sv_invalidate_fn sink, void *sink_arg,
		  struct sv_monitor **out, enum sanverbs_monitor *kind)
{
	struct fake_mon *fm = arg;
	enum fake_mon_mode mode = fm->mode;

	memset(fm, 0, sizeof(*fm));
	fm->mode = mode;
	pthread_mutex_init(&fm->lock, NULL);
	fm->m.ops = mode == FAKE_MON_SYNC ? &fake_sync_ops : &fake_gen_ops;
	fm->m.sink = sink;
	fm->m.sink_arg = sink_arg;
	/* SYNC stands for userfaultfd: a new watch costs system calls */
	fm->m.flags = mode == FAKE_MON_GEN ? SV_MONITOR_F_WATCH_PER_ENTRY :
					     SV_MONITOR_F_WATCH_SYSCALLS;
	*out = &fm->m;
	*kind = mode == FAKE_MON_SYNC ? SANVERBS_MONITOR_UFFD :
					SANVERBS_MONITOR_KMOD;
	return 0;
}

bool fake_mon_watched(struct fake_mon *fm, const struct sv_watch *w)
{
	uintptr_t s = w->start, e = w->start + w->len;
	size_t i;

	if (fm->mode == FAKE_MON_GEN)
		return w->token < fm->nslots && fm->slots[w->token].used &&
		       fm->slots[w->token].gen == w->gen &&
		       fm->slots[w->token].s == s && fm->slots[w->token].e == e;
	for (i = s & ~(uintptr_t)4095; i < e; i += 4096)
		if (!page_registered(fm, i))
			return false;
	return true;
}

void fake_mon_inject(struct fake_mon *fm, uintptr_t s, size_t len)
{
	uintptr_t e = s + len;
	size_t i, j;

	if (fm->mode == FAKE_MON_SYNC) {
		/* uffd: the monitor thread holds the cache lock around the
		 * read and the sink; the range is forgotten in it. */
		fm->m.lock(fm->m.sink_arg);
		pthread_mutex_lock(&fm->lock);
		for (i = j = 0; i < fm->nknown; i++)
			if (fm->known[i].e <= s || fm->known[i].s >= e)
				fm->known[j++] = fm->known[i];
		fm->nknown = j;
		/* the changed pages lose their registration (a new mapping
		 * there is not registered) */
		for (i = j = 0; i < fm->nregpages; i++)
			if (fm->regpages[i] + 4096 <= s || fm->regpages[i] >= e)
				fm->regpages[j++] = fm->regpages[i];
		fm->nregpages = j;
		pthread_mutex_unlock(&fm->lock);
		fm->m.sink(fm->m.sink_arg, s, len);
		fm->m.unlock(fm->m.sink_arg);
		return;
	}
	pthread_mutex_lock(&fm->lock);
	for (i = 0; i < fm->nslots; i++)
		if (fm->slots[i].used && fm->slots[i].s < e &&
		    fm->slots[i].e > s)
			fm->slots[i].gen = ++fm->gen;
	fm->pending = grow(fm->pending, &fm->cap_pending, fm->npending,
			   sizeof(*fm->pending));
	fm->pending[fm->npending].s = s;
	fm->pending[fm->npending].e = e;
	fm->npending++;
	pthread_mutex_unlock(&fm->lock);
}

void fake_mon_deliver(struct fake_mon *fm)
{
	struct fake_range r;

	for (;;) {
		pthread_mutex_lock(&fm->lock);
		if (!fm->npending) {
			pthread_mutex_unlock(&fm->lock);
			return;
		}
		r = fm->pending[0];
		memmove(fm->pending, fm->pending + 1,
			--fm->npending * sizeof(r));
		pthread_mutex_unlock(&fm->lock);
		fm->m.sink(fm->m.sink_arg, r.s, r.e - r.s);
	}
}

void fake_mon_fini(struct fake_mon *fm)
{
	free(fm->known);
	free(fm->regpages);
	free(fm->slots);
	free(fm->pending);
	pthread_mutex_destroy(&fm->lock);
}
