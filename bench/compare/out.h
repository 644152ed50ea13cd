/* SPDX-License-Identifier: MIT */
/* The line protocol between a compare process and its driver (the sanverbs
 * CLI). Tab-separated, one record per line on stdout; progress goes to
 * stderr. Records:
 *   R <label> <metric> <param> <median> <min> <max> <unit> <trials>
 *   S <label> <scenario> <stale> <ok> <error> <skipped> <detail>
 *   N <label> <text>                 (a note: why something did not run)
 *   I <label> <key> <value>          (facts: cached, versions, device)
 *   T <label> <measure> <param> <trial>   (with --turns: about to time
 *                                    this trial; waits for a line on stdin)
 * The driver runs every system's process at once and resumes them one at a
 * time, lowest (measure, param, trial) first, so trial t of a measure runs
 * on every system before trial t+1 on any: a cross-system ratio never
 * spans more than one round of the systems.
 */
#ifndef CMP_OUT_H
#define CMP_OUT_H

#include <stddef.h>

extern const char *cmp_label;

void cmp_result(const char *metric, long param, double *vals, size_t n,
		const char *unit);
void cmp_stale(const char *scenario, int stale, int ok, int err, int skipped,
	       const char *detail);
void cmp_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cmp_info(const char *key, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cmp_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double cmp_now(void);

/* Measures, in the order every system runs them (the T records' key). */
enum cmp_measure {
	CMP_M_HIT = 1,
	CMP_M_HIT_REMOTE,
	CMP_M_MISS,
	CMP_M_ENTRIES,
	CMP_M_THREADS,
	CMP_M_BW,
	CMP_M_STALE,
};

/* Nonzero: cmp_turn() waits for the driver (--turns). */
extern int cmp_turns;
/* Announces the next timed trial and, with --turns, waits until the driver
 * says go (a line on stdin; end of file means run on unpaced). */
void cmp_turn(enum cmp_measure m, long param, unsigned int trial);

#endif
