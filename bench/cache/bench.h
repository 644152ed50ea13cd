/* SPDX-License-Identifier: MIT */
/* sanverbs-cache-bench (main.c says what it measures): what its parts
 * share. util.c holds the timed primitives, cost.c the hit/miss/remote
 * comparisons against raw verbs, scale.c the entry-count sweep, threads
 * and invalidation. */
#ifndef CACHE_BENCH_H
#define CACHE_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <infiniband/verbs.h>

#include "sanverbs.h"

#define ROUNDS 9
/* The scale test uses more, shorter rounds: its three sizes then run
 * within a few milliseconds of each other, inside one neighbour's burst
 * rather than across two. */
#define SCALE_ROUNDS 45

/* The monitor in use: some targets differ (issue text: kmod is held to
 * less overhead than userfaultfd). */
extern int mon_kmod;

struct spread {
	double med, lo, hi;
};

struct pop {
	struct sanverbs_ctx *c;
	uint8_t *base;
	size_t n;
	long pg;
	uint64_t fill_misses; /* misses once filled */
};

/* util.c */
double now(void);
void die(const char *what, int err) __attribute__((noreturn));
void *map(size_t len);
struct sanverbs_ctx *open_ctx(size_t max_entries);
int cmp_double(const void *a, const void *b);
struct spread spread_of(const double *v, int n);
void paired(const char *what, const double *raw, const double *miss, int n);
void raw_one_split(struct ibv_pd *pd, void *p, size_t len, double *reg);
void raw_one(struct ibv_pd *pd, void *p, size_t len);
void reg_dereg(struct sanverbs_ctx *c, void *p, size_t len);
void miss_one_split(struct sanverbs_ctx *c, void *p, size_t len, double *reg);
void miss_one(struct sanverbs_ctx *c, void *p, size_t len);
int reg_drop(struct sanverbs_ctx *c, void *p, size_t len);
double hit_block(struct sanverbs_ctx *c, void *p, size_t len, int iters);

/* cost.c */
void hit_miss(struct sanverbs_ctx *c, size_t len, int it, int it_hit);
void hit_remote(struct sanverbs_ctx *c, struct sanverbs_ctx *nowin,
		size_t len, int iters);
void fresh_miss(struct sanverbs_ctx *c, size_t len, int it, int new_addr);
void fresh_twice(struct sanverbs_ctx *c, size_t len, int it);
void uffd_parts(struct sanverbs_ctx *c, int it);

/* scale.c */
void pop_fill(struct pop *p, size_t n);
void pop_free(struct pop *p);
void pop_hits(struct pop *p, int iters, uint64_t seed);
void scale(size_t max_n, int iters);
void multi_thread(struct sanverbs_ctx *c, int iters);
void invalidation(struct sanverbs_ctx *c, int iters);

#endif
