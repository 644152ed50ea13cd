/* SPDX-License-Identifier: MIT */
/* wsp-filecopy: a sockets-style echo + file transfer written only against
 * the WSP* layer (sanverbs/ws2san.h), structured the way a switch drives a
 * SAN provider: the procedure table comes from WSPStartupEx, the SAN
 * functions from WSPIoctl(SIO_GET_EXTENSION_FUNCTION_POINTER); messages go
 * through WSPSend/WSPRecv, the file body by RDMA-writing into a buffer the
 * receiver registered with WSPRegisterRdmaMemory and described to the
 * sender.
 *
 *   wsp-filecopy server IP OUTFILE      (prints the port; receives one file)
 *   wsp-filecopy client IP PORT INFILE
 */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sanverbs/ws2san.h>

/* What the switch holds: the procedure table and the SAN extensions. */
static WSPPROC_TABLE P;
static struct {
	LPFN_WSPREGISTERMEMORY RegisterMemory;
	LPFN_WSPDEREGISTERMEMORY DeregisterMemory;
	LPFN_WSPREGISTERRDMAMEMORY RegisterRdmaMemory;
	LPFN_WSPDEREGISTERRDMAMEMORY DeregisterRdmaMemory;
	LPFN_WSPRDMAWRITE RdmaWrite;
} san;

/* No upcalls: every call here is blocking, so nothing is indicated. */
static WSPUPCALLTABLEEX upcalls;

static int startup(void)
{
	WSPDATA data;

	return WSPStartupEx(WSP_SPI_VERSION, &data, NULL, &upcalls, &P);
}

static int extension(SOCKET s, GUID id, void *fn)
{
	DWORD got;
	int err = 0;

	return P.lpWSPIoctl(s, SIO_GET_EXTENSION_FUNCTION_POINTER, &id,
			    sizeof(id), fn, sizeof(void *), &got, NULL, NULL,
			    NULL, &err) ? err : 0;
}

/* The SAN functions, asked of the provider through one of its sockets. */
static int load_san(SOCKET s)
{
	int err = extension(s, (GUID)WSAID_REGISTERMEMORY, &san.RegisterMemory);

	if (!err)
		err = extension(s, (GUID)WSAID_DEREGISTERMEMORY,
				&san.DeregisterMemory);
	if (!err)
		err = extension(s, (GUID)WSAID_REGISTERRDMAMEMORY,
				&san.RegisterRdmaMemory);
	if (!err)
		err = extension(s, (GUID)WSAID_DEREGISTERRDMAMEMORY,
				&san.DeregisterRdmaMemory);
	if (!err)
		err = extension(s, (GUID)WSAID_RDMAWRITE, &san.RdmaWrite);
	return err;
}

static int fail(const char *what, int err)
{
	fprintf(stderr, "wsp-filecopy: %s failed, WSA error %d\n", what, err);
	return 1;
}

static int send_all(SOCKET s, const void *p, DWORD len, int *err)
{
	WSABUF b = { len, (char *)p };
	DWORD n;

	return P.lpWSPSend(s, &b, 1, &n, 0, NULL, NULL, NULL, err);
}

static int recv_all(SOCKET s, void *p, DWORD len, int *err)
{
	DWORD got = 0;

	while (got < len) {
		WSABUF b = { len - got, (char *)p + got };
		DWORD n = 0, fl = 0;

		if (P.lpWSPRecv(s, &b, 1, &n, &fl, NULL, NULL, NULL, err))
			return SOCKET_ERROR;
		if (!n) {
			*err = WSAECONNRESET;
			return SOCKET_ERROR;
		}
		got += n;
	}
	return 0;
}

static uint32_t sum32(const unsigned char *p, size_t n)
{
	uint32_t a = 1, b = 0;

	while (n--) { /* Adler-32 */
		a = (a + *p++) % 65521;
		b = (b + a) % 65521;
	}
	return (b << 16) | a;
}

static int server(const char *ip, const char *out)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	unsigned char desc[64];
	DWORD dl = sizeof(desc);
	uint64_t size;
	uint32_t sum;
	char line[64];
	int err, nl = sizeof(sin);
	SOCKET ls, s;
	char *buf;
	FILE *f;

	inet_pton(AF_INET, ip, &sin.sin_addr);
	ls = P.lpWSPSocket(SANVERBS_AF_INET, SANVERBS_SOCK_STREAM, 0, NULL, 0,
			   0, &err);
	if (ls == INVALID_SOCKET || (err = load_san(ls)) ||
	    P.lpWSPBind(ls, (struct sockaddr *)&sin, sizeof(sin), &err) ||
	    P.lpWSPListen(ls, 1, &err) ||
	    P.lpWSPGetSockName(ls, (struct sockaddr *)&sin, &nl, &err))
		return fail("listen", err);
	printf("%u\n", ntohs(sin.sin_port));
	fflush(stdout);
	s = P.lpWSPAccept(ls, NULL, NULL, NULL, 0, &err);
	if (s == INVALID_SOCKET)
		return fail("accept", err);
	/* echo the greeting, then learn the size */
	if (recv_all(s, line, sizeof(line), &err) ||
	    send_all(s, line, sizeof(line), &err) ||
	    recv_all(s, &size, sizeof(size), &err))
		return fail("greeting", err);
	buf = malloc(size ? size : 1);
	if (!buf)
		return fail("malloc", WSAENOBUFS);
	/* the peer may only write into it */
	if (san.RegisterRdmaMemory(s, buf, (DWORD)size, MEM_WRITE, desc, &dl,
				  &err) ||
	    send_all(s, desc, dl, &err) ||
	    recv_all(s, line, 1, &err)) /* "written" */
		return fail("rdma setup", err);
	sum = sum32((unsigned char *)buf, size);
	if (send_all(s, &sum, sizeof(sum), &err))
		return fail("reply", err);
	f = fopen(out, "wb");
	if (!f || fwrite(buf, 1, size, f) != size || fclose(f))
		return fail("write file", 0);
	san.DeregisterRdmaMemory(s, desc, dl, &err);
	P.lpWSPCloseSocket(s, &err);
	P.lpWSPCloseSocket(ls, &err);
	free(buf);
	return 0;
}

static int client(const char *ip, int port, const char *in)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons((uint16_t)port) };
	char line[64] = "hello over a SAN socket", echo[64];
	unsigned char desc[64];
	uint64_t size;
	uint32_t sum;
	DWORD n;
	HANDLE h;
	WSABUFEX bx;
	SOCKET s;
	char *buf;
	FILE *f;
	int err, ok;

	f = fopen(in, "rb");
	if (!f || fseek(f, 0, SEEK_END) || (long)(size = (uint64_t)ftell(f)) < 0 ||
	    fseek(f, 0, SEEK_SET))
		return fail("open file", 0);
	buf = malloc(size ? size : 1);
	if (!buf || fread(buf, 1, size, f) != size)
		return fail("read file", 0);
	fclose(f);
	inet_pton(AF_INET, ip, &sin.sin_addr);
	s = P.lpWSPSocket(SANVERBS_AF_INET, SANVERBS_SOCK_STREAM, 0, NULL, 0,
			  0, &err);
	if (s == INVALID_SOCKET || (err = load_san(s)) ||
	    P.lpWSPConnect(s, (struct sockaddr *)&sin, sizeof(sin), NULL, NULL,
			   NULL, NULL, &err))
		return fail("connect", err);
	if (send_all(s, line, sizeof(line), &err) ||
	    recv_all(s, echo, sizeof(echo), &err) ||
	    send_all(s, &size, sizeof(size), &err) ||
	    recv_all(s, desc, 32, &err))
		return fail("greeting", err);
	printf("echo: \"%s\"\n", echo);
	h = san.RegisterMemory(s, buf, (DWORD)size, MEM_READ, &err);
	if (!h)
		return fail("WSPRegisterMemory", err);
	bx = (WSABUFEX){ (uint32_t)size, buf, h };
	if (san.RdmaWrite(s, &bx, 1, desc, 32, 0, &n, 0, NULL, NULL, NULL, &err))
		return fail("WSPRdmaWrite", err);
	if (send_all(s, "w", 1, &err) || recv_all(s, &sum, sizeof(sum), &err))
		return fail("finish", err);
	ok = sum == sum32((unsigned char *)buf, size);
	printf("sent %u bytes by RDMA write; checksum %s\n", n,
	       ok ? "matches" : "DIFFERS");
	san.DeregisterMemory(s, h, &err);
	P.lpWSPCloseSocket(s, &err);
	free(buf);
	return ok ? 0 : 1;
}

int main(int argc, char **argv)
{
	int ret, err;

	if (argc == 4 && !strcmp(argv[1], "server")) {
		err = startup();
		if (err)
			return fail("WSPStartupEx", err);
		ret = server(argv[2], argv[3]);
		P.lpWSPCleanup(&err);
		return ret;
	}
	if (argc == 5 && !strcmp(argv[1], "client")) {
		err = startup();
		if (err)
			return fail("WSPStartupEx", err);
		ret = client(argv[2], atoi(argv[3]), argv[4]);
		P.lpWSPCleanup(&err);
		return ret;
	}
	fprintf(stderr, "usage: %s server IP OUTFILE | client IP PORT INFILE\n",
		argv[0]);
	return 2;
}
