/* SPDX-License-Identifier: MIT */
/* The line protocol between a compare process and its driver (the sanverbs
 * CLI). Tab-separated, one record per line on stdout; progress goes to
 * stderr. Records:
 *   R <label> <metric> <param> <median> <min> <max> <unit> <trials>
 *   S <label> <scenario> <stale> <ok> <error> <skipped> <detail>
 *   N <label> <text>                 (a note: why something did not run)
 *   I <label> <key> <value>          (facts: cached, versions, device)
 *   V <label> <metric> <param> <trial> <value> <unit>   (one trial)
 *   W <label> <metric> <param> <trial>   (stepped: waiting for a line on
 *                                         stdin before timing that trial)
 */
#ifndef CMP_OUT_H
#define CMP_OUT_H

#include <stddef.h>

extern const char *cmp_label;
/* Stepped mode (--stepped): the driver runs trial k of every system back
 * to back, so that a ratio between systems only spans one short window.
 * Each timed trial starts with cmp_step(), which parks the process until
 * the driver writes a line to its stdin. */
extern int cmp_stepped;

void cmp_step(const char *metric, long param, unsigned int trial);
void cmp_trial(const char *metric, long param, unsigned int trial, double v,
	       const char *unit);

void cmp_result(const char *metric, long param, double *vals, size_t n,
		const char *unit);
void cmp_stale(const char *scenario, int stale, int ok, int err, int skipped,
	       const char *detail);
void cmp_note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cmp_info(const char *key, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void cmp_progress(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double cmp_now(void);

#endif
