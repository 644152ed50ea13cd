// SPDX-License-Identifier: GPL-2.0
/*
 * Everything a caller makes the module hold is charged to that caller:
 *
 *  - pages it keeps unswappable (ALLOC, PIN) to its mm->pinned_vm against
 *    RLIMIT_MEMLOCK, exactly as ib_umem_get() charges ibv_reg_mr(), so the
 *    module never gives more than the RDMA stack would (CAP_IPC_LOCK
 *    exempt, as there);
 *  - the kernel memory behind them (pages, page arrays, the monitor's status
 *    array, ring and watches) to its memory cgroup, through __GFP_ACCOUNT at
 *    each allocation site;
 *  - bytes to three budgets: the open file's (max_file_bytes), the user's
 *    (max_user_bytes, summed over every file and process of the real uid)
 *    and the module's (max_total_bytes). The per-user budget is what keeps
 *    one greedy user from starving another of the module-wide budget.
 *
 * A charge remembers the user and the mm it was taken from, so it is given
 * back to them whoever drops the last reference (munmap in another process,
 * close after the fd was passed on, exit).
 */
#include <linux/capability.h>
#include <linux/cred.h>
#include <linux/mutex.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/uidgid.h>
#include <linux/xarray.h>

#include "sanverbs_priv.h"

struct sv_user {
	unsigned long key;		/* uid in the initial namespace */
	unsigned long refs;		/* under sv_users_lock */
	atomic64_t bytes;
};

static DEFINE_MUTEX(sv_users_lock);
static DEFINE_XARRAY(sv_users);		/* global uid -> sv_user */

static struct sv_user *sv_user_get(void)
{
	unsigned long key = from_kuid(&init_user_ns, current_uid());
	struct sv_user *u;
	int ret;

	mutex_lock(&sv_users_lock);
	u = xa_load(&sv_users, key);
	if (u) {
		u->refs++;
		goto out;
	}
	u = kzalloc(sizeof(*u), GFP_KERNEL_ACCOUNT);
	if (!u)
		goto out;
	u->key = key;
	u->refs = 1;
	atomic64_set(&u->bytes, 0);
	ret = xa_err(xa_store(&sv_users, key, u, GFP_KERNEL_ACCOUNT));
	if (ret) {
		kfree(u);
		u = NULL;
	}
out:
	mutex_unlock(&sv_users_lock);
	return u;
}

static void sv_user_put(struct sv_user *u)
{
	mutex_lock(&sv_users_lock);
	if (--u->refs) {
		mutex_unlock(&sv_users_lock);
		return;
	}
	WARN_ON(atomic64_read(&u->bytes));
	xa_erase(&sv_users, u->key);
	mutex_unlock(&sv_users_lock);
	kfree(u);
}

/* Bytes against the file's, the user's and the module's budgets. */
static int sv_budget_add(struct sv_file *f, struct sv_user *u, u64 bytes)
{
	if (atomic64_add_return(bytes, &f->charged) > max_file_bytes)
		goto undo_file;
	if (atomic64_add_return(bytes, &u->bytes) > max_user_bytes)
		goto undo_user;
	if (atomic64_add_return(bytes, &sv_counters.total_bytes) >
	    max_total_bytes)
		goto undo_total;
	return 0;

undo_total:
	atomic64_sub(bytes, &sv_counters.total_bytes);
undo_user:
	atomic64_sub(bytes, &u->bytes);
undo_file:
	atomic64_sub(bytes, &f->charged);
	return -ENOMEM;
}

static void sv_budget_sub(struct sv_file *f, struct sv_user *u, u64 bytes)
{
	atomic64_sub(bytes, &sv_counters.total_bytes);
	atomic64_sub(bytes, &u->bytes);
	atomic64_sub(bytes, &f->charged);
}

/* ib_umem_get()'s check, word for word in effect. */
static int sv_pin_account(struct sv_charge *c, unsigned long npages)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	struct mm_struct *mm = current->mm;

	if (!mm)
		return -EINVAL;
	if (atomic64_add_return(npages, &mm->pinned_vm) > limit &&
	    !capable(CAP_IPC_LOCK)) {
		atomic64_sub(npages, &mm->pinned_vm);
		return -ENOMEM;
	}
	mmgrab(mm);
	c->mm = mm;
	c->pinned = npages;
	return 0;
}

/**
 * sv_charge() - charge @bytes to the caller
 * @f: the file whose budget is charged
 * @c: zeroed; filled with what to give back
 * @bytes: bytes to charge
 * @pin: the bytes are unswappable pages: also charge them to RLIMIT_MEMLOCK
 *
 * Return: 0, or -ENOMEM when a budget or the memlock limit is exceeded.
 */
int sv_charge(struct sv_file *f, struct sv_charge *c, u64 bytes, bool pin)
{
	int ret;

	c->user = sv_user_get();
	if (!c->user)
		return -ENOMEM;
	if (pin) {
		ret = sv_pin_account(c, bytes >> PAGE_SHIFT);
		if (ret)
			goto err_user;
	}
	ret = sv_budget_add(f, c->user, bytes);
	if (ret)
		goto err_pin;
	c->bytes = bytes;
	return 0;

err_pin:
	if (c->mm) {
		atomic64_sub(c->pinned, &c->mm->pinned_vm);
		mmdrop(c->mm);
		c->mm = NULL;
	}
err_user:
	sv_user_put(c->user);
	c->user = NULL;
	return ret;
}

/* More bytes on an existing charge (a monitor's watches), same budgets. */
int sv_charge_add(struct sv_file *f, struct sv_charge *c, u64 bytes)
{
	int ret = sv_budget_add(f, c->user, bytes);

	if (!ret)
		c->bytes += bytes;
	return ret;
}

void sv_charge_sub(struct sv_file *f, struct sv_charge *c, u64 bytes)
{
	sv_budget_sub(f, c->user, bytes);
	c->bytes -= bytes;
}

void sv_uncharge(struct sv_file *f, struct sv_charge *c)
{
	if (!c->user)
		return;
	sv_budget_sub(f, c->user, c->bytes);
	if (c->mm) {
		atomic64_sub(c->pinned, &c->mm->pinned_vm);
		mmdrop(c->mm);
	}
	sv_user_put(c->user);
	memset(c, 0, sizeof(*c));
}
