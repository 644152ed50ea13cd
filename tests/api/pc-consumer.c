/* SPDX-License-Identifier: MIT */
/* Description: a program outside the build, compiled only with what
 * `pkg-config --cflags --libs sanverbs-provider` says: it must find both
 * libraries' headers and symbols (the provider's .pc requires sanverbs's). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <sanverbs.h>
#include <sanverbs/mm.h>
#include <sanverbs/ws2san.h>

int main(void)
{
	const char *msg = sanverbs_strerror(-ENOMEM);
	int wsa = sanverbs_wsa_error(-ENOMEM);

	printf("sanverbs %d.%d: %s -> WSA error %d\n", SANVERBS_VERSION_MAJOR,
	       SANVERBS_VERSION_MINOR, msg, wsa);
	return msg && *msg && wsa == WSAENOBUFS ? 0 : 1;
}
