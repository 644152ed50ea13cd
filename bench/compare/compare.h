/* SPDX-License-Identifier: MIT */
/* Measures and stale-hit scenarios run against one system. */
#ifndef CMP_COMPARE_H
#define CMP_COMPARE_H

#include "peer.h"
#include "sys.h"

struct cmp_opts {
	unsigned int trials;
	unsigned int max_entries;  /* top of the hit-cost sweep */
	unsigned int threads_max;  /* multi-threaded hits: 1, 2, ... this */
	unsigned int stale_runs;   /* repetitions of each scenario */
	int quick;                 /* small sizes: for tests and smoke runs */
};

void cmp_measure_hit(struct cmp_sys *s, const struct cmp_opts *o);
void cmp_measure_miss_unmap(struct cmp_sys *s, const struct cmp_opts *o);
void cmp_measure_entries(struct cmp_sys *s, const struct cmp_opts *o);
void cmp_measure_threads(struct cmp_sys *s, const struct cmp_opts *o);
void cmp_measure_write_bw(struct cmp_sys *s, struct cmp_peer *peer,
			  const struct cmp_opts *o);
/* @peer NULL: the system's PD is out of reach; outcomes are inferred. */
void cmp_stale_scenarios(struct cmp_sys *s, struct cmp_peer *peer,
			 const struct cmp_opts *o);

#endif
