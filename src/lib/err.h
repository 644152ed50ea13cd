/* SPDX-License-Identifier: MIT */
/* Errno conventions at the verbs boundary: the engine returns 0 or a
 * negative errno; libibverbs returns positive errnos (ibv_dereg_mr,
 * ibv_post_send, ibv_modify_qp) or NULL with errno set. */
#ifndef SV_LIB_ERR_H
#define SV_LIB_ERR_H

#include <errno.h>

/* A verbs return (0 or a positive errno) as 0 or a negative errno; a
 * negative one passes through. */
static inline int sv_neg_errno(int ret)
{
	return ret > 0 ? -ret : ret;
}

/* errno after a failed call that returned NULL, as a negative errno,
 * @fallback if the call left errno unset. */
static inline int sv_errno_or(int fallback)
{
	return errno > 0 ? -errno : -fallback;
}

#endif
