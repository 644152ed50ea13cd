/* SPDX-License-Identifier: MIT */
/* The test switch's own side of the SPI: its event objects, the APC queue
 * drained by its alertable wait, the upcall table it hands the provider,
 * the provider reached only through dlopen + WSPStartupEx + WSPIoctl, the
 * wire helpers and the two hosts. */
#ifndef SV_SWITCH_H
#define SV_SWITCH_H

#include <arpa/inet.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "sanverbs/ws2san.h"

#define CHUNK (64u * 1024)
#define NOPS 64                    /* overlapped operations in flight */
#define HALF ((size_t)NOPS * CHUNK) /* 4 MiB */
#define NCANCEL 200
#define TMO_MS 60000
/* The descriptor size this provider reports (checked by negotiation). */
#define DLEN 32

extern int failures, checks;

/* Each evaluates @cond once, before the message's arguments: those often
 * read an error code that @cond's call writes. */
#define CHECK(cond, ...)                                                     \
	__extension__({                                                      \
		int ok_ = !!(cond);                                          \
		(void)check_(ok_, __FILE__, __LINE__, __VA_ARGS__);          \
	})
#define REQUIRE(cond, ...)                                                   \
	do {                                                                 \
		int ok_ = !!(cond);                                          \
		if (!check_(ok_, __FILE__, __LINE__, __VA_ARGS__))           \
			exit(1);                                             \
	} while (0)

/* Counts a check; prints and counts a failure. Returns @ok. */
__attribute__((format(printf, 4, 5))) int check_(int ok, const char *file,
						   int line, const char *fmt,
						   ...);

/* $SW_TRACE=1: say where each side is. */
#define TRACE(...)                                                           \
	do {                                                                 \
		if (getenv("SW_TRACE")) {                                    \
			fprintf(stderr, "[%d] ", (int)getpid());             \
			fprintf(stderr, __VA_ARGS__);                        \
			fputc('\n', stderr);                                 \
		}                                                            \
	} while (0)


struct sw_event {
	pthread_mutex_t m;
	pthread_cond_t c;
	int set;
};

enum { CMD_VERIFY = 1, CMD_DONE, CMD_GO };

struct cmd {
	uint32_t op, seed;
	uint64_t off, len;
};

struct host {
	const char *ns, *ip, *ip6;
};

/* Monotonic milliseconds. */
long long now_ms(void);
void pattern(unsigned char *p, size_t len, uint32_t seed);
int pattern_ok(const unsigned char *p, size_t len, uint32_t seed);
/* The switch's event objects (set by WPUSetEvent). */
WSAEVENT ev_new(void);
int ev_wait(WSAEVENT h, int ms);
extern int n_complete_calls, n_bad_upcalls, n_handles;
/* The thread id the test passes for completion routines. */
extern WSATHREADID me;
extern int n_apc_wrong_thread;
/* SleepEx(ms, TRUE): runs this thread's queued APCs; returns how many. */
int alertable_wait(int ms);
/* What WSPStartupEx and WSPIoctl gave. */
extern WSPPROC_TABLE P;
extern LPFN_WSPREGISTERMEMORY RegisterMemory;
extern LPFN_WSPDEREGISTERMEMORY DeregisterMemory;
extern LPFN_WSPREGISTERRDMAMEMORY RegisterRdmaMemory;
extern LPFN_WSPDEREGISTERRDMAMEMORY DeregisterRdmaMemory;
extern LPFN_WSPRDMAWRITE RdmaWrite;
extern LPFN_WSPRDMAREAD RdmaRead;
extern LPFN_WSPMEMORYREGISTRATIONCACHECALLBACK CacheCallback;
/* dlopen + version negotiation + WSPStartupEx. */
void load(void);
void load_extensions(SOCKET s);
int send_all(SOCKET s, const void *p, size_t len);
int recv_all(SOCKET s, void *p, size_t len);
void hosts(struct host *a, struct host *b);
void enter_ns(const char *ns);
uint16_t port(void);
/* @ip (IPv4 or IPv6) with the test's port, in @ss; returns its length. */
int addr_of(const char *ip, struct sockaddr_storage *ss);
/* The address in @sa as text (inet_ntop by family), "?" if none. */
const char *addr_str(const void *sa, char *buf, size_t len);

/* The connection-data phase (switch-cdata.c): side B answers on listener
 * @ls what side A's cdata_client() does against @ip:@p. */
void cdata_serve(SOCKET ls);
void cdata_client(const char *ip, uint16_t p);

#endif
