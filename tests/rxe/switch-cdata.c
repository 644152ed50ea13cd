/* SPDX-License-Identifier: MIT */
/* The test switch's connection-data phase (test-switch.c runs it): caller
 * data through WSPConnect into WSPAccept's condition function, callee data
 * back, at the largest sizes the provider gives room for; CF_REJECT with
 * callee data (WSAECONNREFUSED, the data in lpCalleeData); CF_DEFER
 * (WSATRY_AGAIN, FD_ACCEPT while the request waits, and the next WSPAccept
 * presents the same request); too much caller data refused before the wire
 * (WSAEINVAL) and callee data larger than lpCalleeData's room refused, not
 * cut (WSAEMSGSIZE with the size needed). Accepted connections then carry
 * checked bytes. */
#include "switch.h"

/* The provider's limits (sanverbs.h's SANVERBS_EP_*_DATA_MAX): the switch
 * only knows them as what the provider offers and refuses. */
#define CALLER_MAX 52
#define ACCEPT_MAX 192
#define REJECT_MAX 144
#define MSGLEN 4096

enum { SEED_C1 = 21, SEED_E1, SEED_C2, SEED_E2, SEED_C3, SEED_E3, SEED_M1,
       SEED_M2, SEED_M3 };

/* What side B's condition function sees and answers, per step. */
struct cond {
	uint32_t caller_seed, caller_len;  /* the data expected */
	uint32_t callee_seed, callee_len;  /* the data to answer with */
	int verdict, calls, bad;
	uint32_t room;                     /* lpCalleeData->len offered */
};

static void cond_set(struct cond *c, uint32_t cseed, uint32_t clen,
		     uint32_t eseed, uint32_t elen, int verdict)
{
	memset(c, 0, sizeof(*c));
	c->caller_seed = cseed;
	c->caller_len = clen;
	c->callee_seed = eseed;
	c->callee_len = elen;
	c->verdict = verdict;
}

static int cond_fn(LPWSABUF caller, LPWSABUF cdata, LPQOS sq, LPQOS gq,
		   LPWSABUF callee, LPWSABUF edata, GROUP *g, DWORD_PTR arg)
{
	struct cond *c = (struct cond *)arg;

	c->calls++;
	if (c->caller_len ? !cdata || cdata->len != c->caller_len ||
				    !pattern_ok((unsigned char *)cdata->buf,
						cdata->len, c->caller_seed)
			  : cdata != NULL)
		c->bad++;
	if (!edata || !edata->buf) {
		c->bad++;
		return CF_REJECT;
	}
	c->room = edata->len;
	if (c->callee_len <= edata->len)
		pattern((unsigned char *)edata->buf, c->callee_len,
			c->callee_seed);
	edata->len = c->callee_len;
	return c->verdict;
}

static SOCKET b_accept(SOCKET ls, struct cond *c, int *err)
{
	*err = 0;
	return P.lpWSPAccept(ls, NULL, NULL, cond_fn, (DWORD_PTR)c, err);
}

/* On an accepted socket: @len bytes of @seed from the peer, a verdict back. */
static void b_check_msg(SOCKET s, size_t len, uint32_t seed)
{
	unsigned char *buf = malloc(len);
	char ok;

	REQUIRE(buf && !recv_all(s, buf, len), "receive %zu bytes", len);
	ok = (char)pattern_ok(buf, len, seed);
	CHECK(ok, "the connector's %zu bytes differ", len);
	REQUIRE(!send_all(s, &ok, 1), "send verdict");
	free(buf);
}

void cdata_serve(SOCKET ls)
{
	WSAEVENT ev = ev_new();
	WSANETWORKEVENTS ne;
	struct cond c;
	SOCKET s;
	int err;

	/* 1: 52 bytes in, 192 back, then a message */
	cond_set(&c, SEED_C1, CALLER_MAX, SEED_E1, ACCEPT_MAX, CF_ACCEPT);
	s = b_accept(ls, &c, &err);
	REQUIRE(s != INVALID_SOCKET, "accept with data: %d", err);
	CHECK(c.calls == 1 && !c.bad && c.room == ACCEPT_MAX,
	      "condition: %d calls, %d bad, room %u", c.calls, c.bad, c.room);
	b_check_msg(s, MSGLEN, SEED_M1);
	CHECK(!P.lpWSPCloseSocket(s, &err), "close 1: %d", err);

	/* 2: CF_REJECT with the largest rejection data */
	cond_set(&c, SEED_C2, 10, SEED_E2, REJECT_MAX, CF_REJECT);
	s = b_accept(ls, &c, &err);
	CHECK(s == INVALID_SOCKET && err == WSAECONNREFUSED,
	      "CF_REJECT: socket %#lx, error %d", (unsigned long)s, err);
	CHECK(c.calls == 1 && !c.bad, "condition: %d calls, %d bad", c.calls,
	      c.bad);

	/* 3: CF_DEFER, then the same request once more, accepted; while it
	 * is deferred, a connection still waits: FD_ACCEPT */
	CHECK(!P.lpWSPEventSelect(ls, ev, FD_ACCEPT, &err),
	      "WSPEventSelect(FD_ACCEPT): %d", err);
	cond_set(&c, SEED_C3, 1, 0, 0, CF_DEFER);
	s = b_accept(ls, &c, &err);
	CHECK(s == INVALID_SOCKET && err == WSATRY_AGAIN,
	      "CF_DEFER: socket %#lx, error %d", (unsigned long)s, err);
	memset(&ne, 0, sizeof(ne));
	CHECK(!P.lpWSPEnumNetworkEvents(ls, ev, &ne, &err) &&
		      (ne.lNetworkEvents & FD_ACCEPT),
	      "deferred request: events %#lx, error %d", ne.lNetworkEvents,
	      err);
	CHECK(!P.lpWSPEventSelect(ls, NULL, 0, &err), "deselect: %d", err);
	c.verdict = CF_ACCEPT;
	c.callee_seed = SEED_E3;
	c.callee_len = 7;
	s = b_accept(ls, &c, &err);
	REQUIRE(s != INVALID_SOCKET, "accept after CF_DEFER: %d", err);
	CHECK(c.calls == 2 && !c.bad,
	      "deferred request: %d calls, %d bad (same data twice)", c.calls,
	      c.bad);
	b_check_msg(s, 64, SEED_M2);
	CHECK(!P.lpWSPCloseSocket(s, &err), "close 3: %d", err);

	/* 4: 192 bytes for a connector with room for 8: it turns them down */
	cond_set(&c, 0, 0, SEED_E1, ACCEPT_MAX, CF_ACCEPT);
	s = b_accept(ls, &c, &err);
	CHECK(s == INVALID_SOCKET && err, "accept the connector refused: %#lx",
	      (unsigned long)s);
	if (s != INVALID_SOCKET)
		P.lpWSPCloseSocket(s, NULL);

	/* 5: plain again: nothing is left over from the steps above */
	cond_set(&c, 0, 0, 0, 0, CF_ACCEPT);
	s = b_accept(ls, &c, &err);
	REQUIRE(s != INVALID_SOCKET, "accept without data: %d", err);
	CHECK(c.calls == 1 && !c.bad, "condition: %d calls, %d bad", c.calls,
	      c.bad);
	b_check_msg(s, MSGLEN, SEED_M3);
	CHECK(!P.lpWSPCloseSocket(s, &err), "close 5: %d", err);
	free(ev);
}

static SOCKET a_socket(const char *ip, uint16_t p, struct sockaddr_storage *ss,
		       int *len)
{
	int err = 0;
	SOCKET s;

	*len = addr_of(ip, ss);
	((struct sockaddr_in *)ss)->sin_port = htons(p); /* both families */
	s = P.lpWSPSocket(ss->ss_family == AF_INET6 ? SANVERBS_AF_INET6 :
						      SANVERBS_AF_INET,
			  SANVERBS_SOCK_STREAM, 0, NULL, 0, 0, &err);
	REQUIRE(s != INVALID_SOCKET, "socket: %d", err);
	return s;
}

/* Connects with @clen bytes of @cseed and @room for callee data. */
static int a_connect(SOCKET s, struct sockaddr_storage *ss, int len,
		     uint32_t cseed, uint32_t clen, unsigned char *ebuf,
		     uint32_t *room)
{
	unsigned char cbuf[CALLER_MAX + 1];
	WSABUF cd = { clen, (char *)cbuf }, ed = { *room, (char *)ebuf };
	int err = 0;

	pattern(cbuf, sizeof(cbuf), cseed);
	if (!P.lpWSPConnect(s, (struct sockaddr *)ss, len, clen ? &cd : NULL,
			    &ed, NULL, NULL, &err))
		err = 0;
	*room = ed.len;
	return err;
}

/* On a connected socket: @len bytes of @seed to the peer, its verdict. */
static void a_send_msg(SOCKET s, size_t len, uint32_t seed)
{
	unsigned char *buf = malloc(len);
	char ok = 0;

	REQUIRE(buf, "malloc");
	pattern(buf, len, seed);
	REQUIRE(!send_all(s, buf, len) && !recv_all(s, &ok, 1),
		"message of %zu bytes", len);
	CHECK(ok == 1, "the listener got other bytes than the %zu sent", len);
	free(buf);
}

void cdata_client(const char *ip, uint16_t p)
{
	unsigned char ebuf[ACCEPT_MAX + 16];
	struct sockaddr_storage ss;
	uint32_t room;
	int len, err;
	SOCKET s;

	/* 1 */
	s = a_socket(ip, p, &ss, &len);
	room = sizeof(ebuf);
	err = a_connect(s, &ss, len, SEED_C1, CALLER_MAX, ebuf, &room);
	REQUIRE(!err, "WSPConnect with caller data: %d", err);
	CHECK(room == ACCEPT_MAX && pattern_ok(ebuf, room, SEED_E1),
	      "callee data: %u bytes", room);
	a_send_msg(s, MSGLEN, SEED_M1);
	CHECK(!P.lpWSPCloseSocket(s, &err), "close 1: %d", err);

	/* one byte too many: refused here, the listener sees nothing */
	s = a_socket(ip, p, &ss, &len);
	room = sizeof(ebuf);
	err = a_connect(s, &ss, len, SEED_C1, CALLER_MAX + 1, ebuf, &room);
	CHECK(err == WSAEINVAL, "%d bytes of caller data: error %d",
	      CALLER_MAX + 1, err);
	P.lpWSPCloseSocket(s, NULL);

	/* 2 */
	s = a_socket(ip, p, &ss, &len);
	room = sizeof(ebuf);
	memset(ebuf, 0, sizeof(ebuf));
	err = a_connect(s, &ss, len, SEED_C2, 10, ebuf, &room);
	CHECK(err == WSAECONNREFUSED && room == REJECT_MAX &&
		      pattern_ok(ebuf, room, SEED_E2),
	      "CF_REJECT seen as error %d with %u bytes", err, room);
	P.lpWSPCloseSocket(s, NULL);

	/* 3 */
	s = a_socket(ip, p, &ss, &len);
	room = sizeof(ebuf);
	err = a_connect(s, &ss, len, SEED_C3, 1, ebuf, &room);
	REQUIRE(!err, "WSPConnect to a deferring listener: %d", err);
	CHECK(room == 7 && pattern_ok(ebuf, room, SEED_E3),
	      "callee data after CF_DEFER: %u bytes", room);
	a_send_msg(s, 64, SEED_M2);
	CHECK(!P.lpWSPCloseSocket(s, &err), "close 3: %d", err);

	/* 4 */
	s = a_socket(ip, p, &ss, &len);
	room = 8;
	err = a_connect(s, &ss, len, 0, 0, ebuf, &room);
	CHECK(err == WSAEMSGSIZE && room == ACCEPT_MAX,
	      "callee data past the room: error %d, %u bytes", err, room);
	P.lpWSPCloseSocket(s, NULL);

	/* 5 */
	s = a_socket(ip, p, &ss, &len);
	room = sizeof(ebuf);
	err = a_connect(s, &ss, len, 0, 0, ebuf, &room);
	REQUIRE(!err, "WSPConnect without data: %d", err);
	CHECK(room == 0, "callee data from a listener that sent none: %u",
	      room);
	a_send_msg(s, MSGLEN, SEED_M3);
	CHECK(!P.lpWSPCloseSocket(s, &err), "close 5: %d", err);
}
