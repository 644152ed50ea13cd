/* SPDX-License-Identifier: MIT */
#ifndef SV_LIB_ENV_H
#define SV_LIB_ENV_H

#include <stdbool.h>

/* An on/off setting from the environment: unset or empty is on; 0, no,
 * off, false (any case) is off; anything else but 1, yes, on, true is
 * named on stderr, as "@what stay(s) on", and counts as on. */
bool sv_env_on(const char *name, const char *what);

#endif
