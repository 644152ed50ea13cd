/* SPDX-License-Identifier: MIT */
/* sanverbs-ep-wsp-bench: RDMA write bandwidth through the SAN provider's
 * overlapped WSPRdmaWrite (every request signaled: each is one overlapped
 * operation with its own completion), DEPTH requests in flight, completions
 * reaped by polling WSPGetOverlappedResult as a polling switch does. For
 * bench/ep-vs-perftest.sh, next to ib_write_bw with the same size, depth and
 * signalling.
 *
 *   sanverbs-ep-wsp-bench server IP              (prints the port)
 *   sanverbs-ep-wsp-bench client IP PORT SIZE ITERS DEPTH
 * Prints "bw_MiBps <avg>" (MiB = 2^20 bytes, as perftest). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sanverbs/ws2san.h"

#define MAXSZ (1u << 20)
#define MAXDEPTH 256
#define DLEN 32

static double now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int die(const char *what, int err)
{
	fprintf(stderr, "sanverbs-ep-wsp-bench: %s: WSA error %d\n", what, err);
	return 1;
}

static int xfer(SOCKET s, void *p, DWORD len, int out)
{
	DWORD got = 0;
	int err = 0;

	while (got < len) {
		WSABUF b = { len - got, (char *)p + got };
		DWORD n = 0, fl = 0;

		if (out ? WSPSend(s, &b, 1, &n, 0, NULL, NULL, NULL, &err) :
			  WSPRecv(s, &b, 1, &n, &fl, NULL, NULL, NULL, &err)) {
			/* a blocking receive gives up after
			 * SANVERBS_WSP_TIMEOUT_MS (30 s); the server's wait
			 * for the end of a slow run is longer than that */
			if (err == WSAETIMEDOUT && !out)
				continue;
			return err;
		}
		if (!n)
			return WSAECONNRESET;
		got += n;
	}
	return 0;
}

/* The client closes first, once its last send has completed: a close
 * here as soon as that byte arrived would race the acknowledgement of the
 * byte to the client, and a disconnect that reaches the client before the
 * acknowledgement flushes its send (WSAECONNRESET) although the byte was
 * delivered. So the server only ever sees the end, never causes it. */
static int wait_close(SOCKET s)
{
	char c;

	for (;;) {
		WSABUF b = { 1, &c };
		DWORD n = 0, fl = 0;
		int err = 0;

		if (!WSPRecv(s, &b, 1, &n, &fl, NULL, NULL, NULL, &err)) {
			if (!n)
				return 0; /* the client closed */
			return WSAEINVAL; /* nothing more is ever sent */
		}
		if (err == WSAECONNRESET)
			return 0; /* closed, seen as a flush */
		if (err != WSAETIMEDOUT)
			return err;
	}
}

static int server(const char *ip)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	unsigned char desc[DLEN], *buf = calloc(1, MAXSZ);
	int err = 0, nl = sizeof(sin);
	DWORD dl = DLEN;
	SOCKET ls, s;
	char done;

	inet_pton(AF_INET, ip, &sin.sin_addr);
	ls = WSPSocket(SANVERBS_AF_INET, SANVERBS_SOCK_STREAM, 0, NULL, 0, 0,
		       &err);
	if (ls == INVALID_SOCKET ||
	    WSPBind(ls, (struct sockaddr *)&sin, sizeof(sin), &err) ||
	    WSPListen(ls, 1, &err) ||
	    WSPGetSockName(ls, (struct sockaddr *)&sin, &nl, &err))
		return die("listen", err);
	printf("%u\n", ntohs(sin.sin_port));
	fflush(stdout);
	s = WSPAccept(ls, NULL, NULL, NULL, 0, &err);
	if (s == INVALID_SOCKET ||
	    WSPRegisterRdmaMemory(s, buf, MAXSZ, MEM_WRITE, desc, &dl, &err))
		return die("accept", err);
	err = xfer(s, desc, DLEN, 1);
	if (!err)
		err = xfer(s, &done, 1, 0);
	if (!err)
		err = wait_close(s);
	WSPCloseSocket(s, NULL);
	WSPCloseSocket(ls, NULL);
	return err ? die("serve", err) : 0;
}

static int client(const char *ip, int port, DWORD size, int iters, int depth)
{
	static WSAOVERLAPPED ov[MAXDEPTH];
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	unsigned char desc[DLEN], *buf = calloc(1, MAXSZ);
	int err = 0, posted = 0, done = 0;
	double t0, t1;
	HANDLE h;
	SOCKET s;

	if (!buf || !size || size > MAXSZ || iters <= 0 || depth <= 0 ||
	    depth > MAXDEPTH)
		return die("arguments", WSAEINVAL);
	inet_pton(AF_INET, ip, &sin.sin_addr);
	s = WSPSocket(SANVERBS_AF_INET, SANVERBS_SOCK_STREAM, 0, NULL, 0, 0,
		      &err);
	if (s == INVALID_SOCKET ||
	    WSPConnect(s, (struct sockaddr *)&sin, sizeof(sin), NULL, NULL,
		       NULL, NULL, &err))
		return die("connect", err);
	err = xfer(s, desc, DLEN, 0);
	h = err ? NULL : WSPRegisterMemory(s, buf, MAXSZ, MEM_READ, &err);
	if (!h)
		return die("register", err);
	t0 = now();
	while (done < iters) {
		/* keep DEPTH requests in flight; the oldest completes first */
		while (posted < iters && posted - done < depth) {
			WSABUFEX bx = { size, (char *)buf, h };
			WSAOVERLAPPED *o = &ov[posted % depth];

			memset(o, 0, sizeof(*o));
			if (WSPRdmaWrite(s, &bx, 1, desc, DLEN, 0, NULL, 0, o,
					 NULL, NULL, &err) != SOCKET_ERROR ||
			    err != WSA_IO_PENDING)
				return die("write", err);
			posted++;
		}
		for (;;) {
			DWORD n, fl;

			if (WSPGetOverlappedResult(s, &ov[done % depth], &n,
						   FALSE, &fl, &err))
				break;
			if (err != WSA_IO_INCOMPLETE)
				return die("completion", err);
		}
		done++;
	}
	t1 = now();
	printf("bw_MiBps %.2f\n",
	       (double)size * iters / (t1 - t0) / (1024.0 * 1024.0));
	err = xfer(s, &err, 1, 1);
	WSPCloseSocket(s, NULL);
	return err ? die("stop", err) : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "server"))
		return server(argv[2]);
	if (argc == 7 && !strcmp(argv[1], "client"))
		return client(argv[2], atoi(argv[3]),
			      (DWORD)strtoul(argv[4], NULL, 0), atoi(argv[5]),
			      atoi(argv[6]));
	fprintf(stderr, "usage: %s server IP | client IP PORT SIZE ITERS DEPTH\n",
		argv[0]);
	return 2;
}
