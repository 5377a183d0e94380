/*
 * Unit tests for wire/handshake: the exact bytes each builder writes (copied
 * from today's client.c and server.c and from test_client.c), every
 * truncation of a valid request / answer / preamble / handshake string giving
 * "need more", mutations giving a documented error, the Go server's LF-only
 * answer, both identity header names, feature lists with odd spacing and
 * case, and the ClientState names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "wire/control_msg.h"
#include "wire/handshake.h"
#include "wire/http.h"

#define SO ((unsigned)HANDSHAKE_FEAT_SERVER_OPEN)
#define HC ((unsigned)HANDSHAKE_FEAT_HALF_CLOSE)
#define P2 ((unsigned)HANDSHAKE_FEAT_PROXY_V2)
#define DA ((unsigned)HANDSHAKE_FEAT_DEFERRED_ACK)

static bool documented(int rc)
{
	return rc <= HANDSHAKE_OK && rc >= HANDSHAKE_E_PREAMBLE;
}

/* ---- features ---- */

static unsigned feats(const char *s)
{
	return handshake_features_parse(s, strlen(s));
}

/* The vectors of test_client.c's test_features_parse, on the codec. */
static void test_features_parse(void **state)
{
	(void)state;
	assert_int_equal(feats("server-open, half-close"), SO | HC);
	assert_int_equal(feats("server-open, half-close, Deferred-ACK"), SO | HC | DA);
	assert_int_equal(feats("deferred-ack-x, deferred"), 0);
	assert_int_equal(feats("server-open,half-close"), SO | HC);
	assert_int_equal(feats("  half-close\t,\tserver-open  "), SO | HC);
	assert_int_equal(feats("Server-Open, HALF-CLOSE"), SO | HC); /* case-insensitive */
	assert_int_equal(feats("half-close"), HC);
	assert_int_equal(feats("proxy-v2"), P2);
	assert_int_equal(feats("foo, server-open, bar"), SO);	     /* unknown ignored */
	assert_int_equal(feats(",,server-open,,"), SO);		     /* empty tokens ignored */
	assert_int_equal(feats("server-openx, xhalf-close"), 0);      /* whole tokens only */
	assert_int_equal(feats("server open"), 0);
	assert_int_equal(feats("server-open;q=1"), 0);
	assert_int_equal(feats(""), 0);
	assert_int_equal(feats(" , "), 0);
	assert_int_equal(handshake_features_parse(NULL, 0), 0);
	/* Length-bounded: no NUL needed, nothing read past n. */
	assert_int_equal(handshake_features_parse("half-close, server-open", 10), HC);

	/* More odd spacing and case. */
	assert_int_equal(feats("\tSERVER-OPEN\t"), SO);
	assert_int_equal(feats("server-open , , half-close ,deferred-ack"), SO | HC | DA);
	assert_int_equal(feats("hAlF-cLoSe,PROXY-V2,dEfErReD-aCk"), HC | P2 | DA);
	assert_int_equal(feats("server-open,server-open"), SO);    /* repeats: once */
	assert_int_equal(feats("server\t-open"), 0);		   /* OWS only around tokens */
	assert_int_equal(feats("server-open\r"), 0);		   /* CR is not OWS */
	assert_int_equal(feats("\"server-open\""), 0);		   /* no quoted strings */
	assert_int_equal(feats("server-ope\xce\xbd"), 0);	   /* no folding beyond ASCII */
	static const char nul[] = {'s', 'e', 'r', 'v', 'e', 'r', '-', 'o', 'p', 'e', 'n', '\0', ',', 'h', 'a', 'l',
				   'f', '-', 'c', 'l', 'o', 's', 'e'};
	assert_int_equal(handshake_features_parse(nul, sizeof(nul)), HC); /* a NUL is a byte */
}

/* Today's server.c features_has, kept here as the reference the codec must match. */
static bool ref_features_has(const char *p, size_t len, const char *tok)
{
	size_t tl = strlen(tok), i = 0;
	while (i < len) {
		while (i < len && (p[i] == ' ' || p[i] == '\t' || p[i] == ','))
			i++;
		size_t st = i;
		while (i < len && p[i] != ',')
			i++;
		size_t en = i;
		while (en > st && (p[en - 1] == ' ' || p[en - 1] == '\t'))
			en--;
		if (en - st == tl && strncasecmp(p + st, tok, tl) == 0)
			return true;
	}
	return false;
}

static void test_features_parse_matches_server(void **state)
{
	(void)state;
	static const char *const lists[] = {
		"", ",", " , ,", "server-open", "SERVER-OPEN", " server-open ", "server-open,half-close",
		"half-close ,\tserver-open", ",,deferred-ack,,", "x,server-openx,half-close", "server-open;x",
		"deferred-ack, server-open", "\t,\t", "server- open", "half-close,", ",half-close",
		"proxy-v2, Deferred-Ack", "a,b,c,d,e,f,half-close",
	};
	static const char *const toks[] = {"server-open", "half-close", "deferred-ack", "proxy-v2"};
	static const unsigned bits[] = {SO, HC, DA, P2};
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		unsigned f = feats(lists[i]);
		for (size_t k = 0; k < 4; k++)
			assert_int_equal((f & bits[k]) != 0, ref_features_has(lists[i], strlen(lists[i]), toks[k]));
	}
}

static void test_features_format_and_names(void **state)
{
	(void)state;
	char b[HANDSHAKE_FEATURES_BUF];
	assert_int_equal(handshake_features_format(b, sizeof(b), 0), 0);
	assert_string_equal(b, "");
	assert_int_equal(handshake_features_format(b, sizeof(b), 0xf0u), 0); /* unknown bits */
	assert_string_equal(b, "");
	assert_true(handshake_features_format(b, sizeof(b), DA | SO) > 0);
	assert_string_equal(b, "server-open, deferred-ack"); /* wire order, not bit order */
	ssize_t n = handshake_features_format(b, sizeof(b), HANDSHAKE_FEATURES_KNOWN);
	assert_string_equal(b, "server-open, half-close, proxy-v2, deferred-ack");
	assert_int_equal(n, (ssize_t)strlen(b));
	assert_int_equal(handshake_features_format(b, (size_t)n, HANDSHAKE_FEATURES_KNOWN), -1);
	assert_int_equal(handshake_features_format(b, (size_t)n + 1, HANDSHAKE_FEATURES_KNOWN), n);
	assert_int_equal(handshake_features_format(b, 0, 0), -1);
	/* Every subset parses back to itself. */
	for (unsigned f = 0; f <= HANDSHAKE_FEATURES_KNOWN; f++) {
		n = handshake_features_format(b, sizeof(b), f);
		assert_true(n >= 0);
		assert_int_equal(handshake_features_parse(b, (size_t)n), f);
	}

	assert_string_equal(handshake_feature_name(SO), "server-open");
	assert_string_equal(handshake_feature_name(HC), "half-close");
	assert_string_equal(handshake_feature_name(P2), "proxy-v2");
	assert_string_equal(handshake_feature_name(DA), "deferred-ack");
	assert_null(handshake_feature_name(0));
	assert_null(handshake_feature_name(SO | HC));
	assert_null(handshake_feature_name(0x10u));
	/* The client's historical values (client_features() returns them). */
	assert_int_equal(SO, 0x1);
	assert_int_equal(HC, 0x2);
	assert_int_equal(P2, 0x4);
	assert_int_equal(DA, 0x8);
	assert_int_equal(HANDSHAKE_FEATURES_OURS, SO | HC | DA);
}

static void test_features_grant(void **state)
{
	(void)state;
	const unsigned ours = HANDSHAKE_FEATURES_OURS;
	assert_int_equal(handshake_features_grant(0, ours), 0);
	assert_int_equal(handshake_features_grant(SO | HC | DA, ours), SO | HC | DA);
	assert_int_equal(handshake_features_grant(HC | DA, ours), HC); /* deferred-ack needs server-open */
	assert_int_equal(handshake_features_grant(DA, ours), 0);
	assert_int_equal(handshake_features_grant(SO | DA, ours), SO | DA);
	assert_int_equal(handshake_features_grant(P2 | SO, ours), SO); /* proxy-v2: not ours */
	assert_int_equal(handshake_features_grant(SO | DA, HC | DA), 0);
	assert_int_equal(handshake_features_grant(0xffu, 0xffu), HANDSHAKE_FEATURES_KNOWN);
}

/* ---- CONNECT request ---- */

/* test_client.c's test_connect_request_bytes, on the codec. */
static void test_request_bytes(void **state)
{
	(void)state;
	char buf[1024];
	ssize_t n = handshake_request_build(buf, sizeof(buf), "gw.example.com", 9056, "TestClient1",
					    HANDSHAKE_FEATURES_OURS);
	const char *want =
		"CONNECT /_controlPath/ HTTP/1.1\r\n"		/* request line, as Go writes it */
		"Host: gw.example.com:9056\r\n"			/* the address as dialled */
		"User-Agent: threshold/" THRESHOLD_VERSION "\r\n"
		"X-Threshold-Identifier: TestClient1\r\n"	/* 4b75a35 servers */
		"X-Threshold-ClientId: TestClient1\r\n"		/* later servers */
		"X-Threshold-Features: server-open, half-close, deferred-ack\r\n" /* ours only */
		"\r\n";
	assert_int_equal(n, (ssize_t)strlen(want));
	assert_string_equal(buf, want);

	/* IPv6 literal: brackets in Host. No features: no header. */
	n = handshake_request_build(buf, sizeof(buf), "::1", 443, "a b", 0);
	assert_true(n > 0);
	assert_string_equal(buf, "CONNECT /_controlPath/ HTTP/1.1\r\n"
				 "Host: [::1]:443\r\n"
				 "User-Agent: threshold/" THRESHOLD_VERSION "\r\n"
				 "X-Threshold-Identifier: a b\r\n"
				 "X-Threshold-ClientId: a b\r\n"
				 "\r\n");
	/* Unknown bits only: no header either. */
	assert_true(handshake_request_build(buf, sizeof(buf), "::1", 443, "a b", 0x100u) == n);
	assert_null(strstr(buf, "Features"));
	/* All four features, in the documented order. */
	n = handshake_request_build(buf, sizeof(buf), "h", 1, "c", DA | P2 | HC | SO);
	assert_true(n > 0);
	assert_non_null(
		strstr(buf, "\r\nX-Threshold-Features: server-open, half-close, proxy-v2, deferred-ack\r\n\r\n"));

	/* No header injection, no empty values. */
	assert_int_equal(handshake_request_build(buf, sizeof(buf), "h", 1, "evil\r\nX-A: b", 0), -1);
	assert_int_equal(handshake_request_build(buf, sizeof(buf), "h", 1, "evil\n", 0), -1);
	assert_int_equal(handshake_request_build(buf, sizeof(buf), "h", 1, "del\x7f", 0), -1);
	assert_int_equal(handshake_request_build(buf, sizeof(buf), "h", 1, "", 0), -1);
	assert_int_equal(handshake_request_build(buf, sizeof(buf), "h", 1, " lead", 0), -1);
	assert_int_equal(handshake_request_build(buf, sizeof(buf), "h", 1, "trail ", 0), -1);
	assert_int_equal(handshake_request_build(buf, sizeof(buf), "", 1, "c", 0), -1);
	assert_int_equal(handshake_request_build(buf, sizeof(buf), "h h", 1, "c", 0), -1);
	assert_int_equal(handshake_request_build(buf, sizeof(buf), "h\r\n", 1, "c", 0), -1);
	assert_int_equal(handshake_request_build(buf, sizeof(buf), NULL, 1, "c", 0), -1);
	assert_int_equal(handshake_request_build(buf, sizeof(buf), "h", 1, NULL, 0), -1);
	/* Too small a buffer: -1, never a cut request. */
	ssize_t full = handshake_request_build(buf, sizeof(buf), "h", 1, "c", HANDSHAKE_FEATURES_OURS);
	assert_true(full > 0);
	assert_int_equal(handshake_request_build(buf, (size_t)full, "h", 1, "c", HANDSHAKE_FEATURES_OURS), -1);
	assert_int_equal(handshake_request_build(buf, (size_t)full + 1, "h", 1, "c", HANDSHAKE_FEATURES_OURS),
			 full);
}

static int req_parse(const char *s, size_t len, struct http_request *req, struct handshake_request *out)
{
	const struct http_limits lim = {HTTP_HEAD_MAX_DEFAULT, 1u << 20};
	size_t used = 0;
	int rc = http_request_parse(s, len, &lim, req, &used);
	if (rc != HTTP_OK)
		return 100 + rc; /* not a head the server would route here */
	return handshake_request_parse(req, out);
}

static int req(const char *s, struct handshake_request *out)
{
	static struct http_request r;
	return req_parse(s, strlen(s), &r, out);
}

static void assert_id(const struct handshake_request *r, const char *id)
{
	assert_int_equal(r->id.len, strlen(id));
	assert_memory_equal(r->id.p, id, r->id.len);
}

#define CONNECT_LINE "CONNECT /_controlPath/ HTTP/1.1\r\nHost: gw:9056\r\n"

static void test_request_parse(void **state)
{
	(void)state;
	struct handshake_request r;

	/* Our client's own request round-trips. */
	char buf[1024];
	ssize_t n = handshake_request_build(buf, sizeof(buf), "gw.example.com", 9056, "TestClient1",
					    HANDSHAKE_FEATURES_OURS);
	assert_int_equal(req(buf, &r), HANDSHAKE_OK);
	assert_id(&r, "TestClient1");
	assert_int_equal(r.features, SO | HC | DA);
	/* Every truncation is an incomplete head (need more from http). */
	for (ssize_t cut = 0; cut < n; cut++) {
		static struct http_request hr;
		assert_int_equal(req_parse(buf, (size_t)cut, &hr, &r), 100 + HTTP_NEED_MORE);
	}

	/* A Go client at 4b75a35: X-Threshold-Identifier only, no features. */
	assert_int_equal(req(CONNECT_LINE "X-Threshold-Identifier: c1\r\n\r\n", &r), HANDSHAKE_OK);
	assert_id(&r, "c1");
	assert_int_equal(r.features, 0);
	/* A later Go client: X-Threshold-ClientId only; header names are case-insensitive. */
	assert_int_equal(req(CONNECT_LINE "x-threshold-clientid: c2\r\n\r\n", &r), HANDSHAKE_OK);
	assert_id(&r, "c2");
	/* Both, equal; LF-only lines; value trimmed by the HTTP parser. */
	assert_int_equal(req("CONNECT /_controlPath/ HTTP/1.1\nX-Threshold-ClientId:  c3 \n"
			     "X-Threshold-Identifier:\tc3\n\n",
			     &r),
			 HANDSHAKE_OK);
	assert_id(&r, "c3");
	/* Both, different (ClientId is not preferred silently). */
	assert_int_equal(req(CONNECT_LINE "X-Threshold-ClientId: a\r\nX-Threshold-Identifier: b\r\n\r\n", &r),
			 HANDSHAKE_E_ID_DIFFER);
	assert_int_equal(r.id.len, 0);
	assert_int_equal(req(CONNECT_LINE "X-Threshold-ClientId: a\r\nX-Threshold-Identifier: A\r\n\r\n", &r),
			 HANDSHAKE_E_ID_DIFFER); /* byte compare */
	assert_int_equal(req(CONNECT_LINE "X-Threshold-ClientId: a\r\nX-Threshold-Identifier:\r\n\r\n", &r),
			 HANDSHAKE_E_ID_DIFFER); /* an empty one differs too */
	/* Missing or invalid. */
	assert_int_equal(req(CONNECT_LINE "\r\n", &r), HANDSHAKE_E_ID);
	assert_int_equal(req(CONNECT_LINE "X-Threshold-ClientId:\r\n\r\n", &r), HANDSHAKE_E_ID);
	assert_int_equal(req(CONNECT_LINE "X-Threshold-ClientId: a b\r\n\r\n", &r), HANDSHAKE_E_ID);
	assert_int_equal(req(CONNECT_LINE "X-Threshold-ClientId: a\tb\r\n\r\n", &r), HANDSHAKE_E_ID);
	assert_int_equal(req(CONNECT_LINE "X-Threshold-Identifier: a b\r\n\r\n", &r), HANDSHAKE_E_ID);
	assert_int_equal(req(CONNECT_LINE "X-Threshold-ClientId: \xc3\xa9t\xc3\xa9\r\n\r\n", &r), HANDSHAKE_OK);
	assert_id(&r, "\xc3\xa9t\xc3\xa9"); /* UTF-8 is fine */
	/* Length: 255 bytes pass, 256 do not. */
	char big[600];
	int bl = snprintf(big, sizeof(big), CONNECT_LINE "X-Threshold-ClientId: %0255d\r\n\r\n", 7);
	assert_true(bl > 0);
	assert_int_equal(req(big, &r), HANDSHAKE_OK);
	assert_int_equal(r.id.len, HANDSHAKE_ID_MAX);
	snprintf(big, sizeof(big), CONNECT_LINE "X-Threshold-ClientId: %0256d\r\n\r\n", 7);
	assert_int_equal(req(big, &r), HANDSHAKE_E_ID);
	/* Method first: a GET with a good id is still refused as a method. */
	assert_int_equal(req("GET /_controlPath/ HTTP/1.1\r\nHost: h\r\nX-Threshold-ClientId: c\r\n\r\n", &r),
			 HANDSHAKE_E_METHOD);
	assert_int_equal(req("connect /_controlPath/ HTTP/1.1\r\nHost: h\r\nX-Threshold-ClientId: c\r\n\r\n", &r),
			 HANDSHAKE_E_METHOD); /* methods are case-sensitive */
	assert_int_equal(req("CONNECT /_controlPath/ HTTP/1.1\r\nX-Threshold-ClientId: a\r\n"
			     "X-Threshold-Identifier: b\r\nX-Threshold-Identifier: a\r\n\r\n",
			     &r),
			 HANDSHAKE_E_ID_DIFFER); /* the first field of each name counts */

	/* Features asked for, odd spacing and case; unknown ignored; first field only. */
	assert_int_equal(req(CONNECT_LINE "X-Threshold-ClientId: c\r\n"
					  "x-threshold-features: \tHALF-CLOSE ,, Server-Open,foo\r\n\r\n",
			     &r),
			 HANDSHAKE_OK);
	assert_int_equal(r.features, SO | HC);
	assert_int_equal(req(CONNECT_LINE "X-Threshold-ClientId: c\r\nX-Threshold-Features:\r\n\r\n", &r),
			 HANDSHAKE_OK);
	assert_int_equal(r.features, 0);
	assert_int_equal(req(CONNECT_LINE "X-Threshold-ClientId: c\r\nX-Threshold-Features: half-close\r\n"
					  "X-Threshold-Features: server-open\r\n\r\n",
			     &r),
			 HANDSHAKE_OK);
	assert_int_equal(r.features, HC);
	assert_int_equal(req(CONNECT_LINE "X-Threshold-ClientId: c\r\nX-Threshold-Features: deferred-ack\r\n\r\n",
			     &r),
			 HANDSHAKE_OK);
	assert_int_equal(r.features, DA); /* asked; handshake_features_grant drops it */
}

/* ---- the 200 answer ---- */

#define GO_ANSWER "HTTP/1.1 200 Connected to Tunnel\n\n"

/* Today's server.c hconn_control answer, kept as the reference. */
static size_t ref_server_answer(char *answer, size_t cap, const char *fs)
{
	bool f_open = fs && ref_features_has(fs, strlen(fs), "server-open");
	bool f_half = fs && ref_features_has(fs, strlen(fs), "half-close");
	bool f_dack = f_open && ref_features_has(fs, strlen(fs), "deferred-ack");
	if (fs == NULL || (!f_open && !f_half))
		return (size_t)snprintf(answer, cap, "%s", HTTP_CONTROL_OK_RESPONSE);
	return (size_t)snprintf(answer, cap,
				"HTTP/1.1 200 Connected to Tunnel\r\nX-Threshold-Features: %s%s%s%s\r\n\r\n",
				f_open ? "server-open" : "", f_open && f_half ? ", " : "", f_half ? "half-close" : "",
				f_dack ? ", deferred-ack" : "");
}

static void test_answer_bytes(void **state)
{
	(void)state;
	char b[HANDSHAKE_ANSWER_BUF];
	/* Go-compatible: exactly the Go server's 34 bytes, LF only, no header. */
	assert_int_equal(handshake_answer_build(b, sizeof(b), 0), 34);
	assert_memory_equal(b, GO_ANSWER, 35);
	assert_int_equal(handshake_answer_build(b, sizeof(b), 0x10u), 34); /* unknown bits: none */
	/* Ours: CRLF, the granted subset. */
	assert_int_equal(handshake_answer_build(b, sizeof(b), SO | HC | DA),
			 (ssize_t)strlen("HTTP/1.1 200 Connected to Tunnel\r\n"
					 "X-Threshold-Features: server-open, half-close, deferred-ack\r\n"
					 "\r\n"));
	assert_string_equal(b, "HTTP/1.1 200 Connected to Tunnel\r\n"			     /* status */
			       "X-Threshold-Features: server-open, half-close, deferred-ack\r\n" /* granted */
			       "\r\n");
	handshake_answer_build(b, sizeof(b), HC);
	assert_string_equal(b, "HTTP/1.1 200 Connected to Tunnel\r\nX-Threshold-Features: half-close\r\n\r\n");
	handshake_answer_build(b, sizeof(b), SO | DA);
	assert_string_equal(b, "HTTP/1.1 200 Connected to Tunnel\r\n"
			       "X-Threshold-Features: server-open, deferred-ack\r\n\r\n");
	/* Buffer too small: -1. */
	assert_int_equal(handshake_answer_build(b, 34, 0), -1);
	assert_int_equal(handshake_answer_build(b, 35, 0), 34);
	ssize_t full = handshake_answer_build(b, sizeof(b), HANDSHAKE_FEATURES_KNOWN);
	assert_true(full > 0 && (size_t)full < sizeof(b));
	assert_int_equal(handshake_answer_build(b, (size_t)full, HANDSHAKE_FEATURES_KNOWN), -1);

	/* The server's whole path (parse request, grant, build) gives today's bytes. */
	static const char *const asked[] = {
		NULL, "", "foo", "server-open", "half-close", "deferred-ack", "server-open, deferred-ack",
		"half-close, deferred-ack", "server-open, half-close", "server-open, half-close, deferred-ack",
		"DEFERRED-ACK,HALF-CLOSE,SERVER-OPEN", "proxy-v2", "proxy-v2, half-close", " ,server-open,, ",
	};
	for (size_t i = 0; i < sizeof(asked) / sizeof(asked[0]); i++) {
		char rq[512];
		if (asked[i])
			snprintf(rq, sizeof(rq), CONNECT_LINE "X-Threshold-ClientId: c\r\nX-Threshold-Features: %s\r\n\r\n",
				 asked[i]);
		else
			snprintf(rq, sizeof(rq), CONNECT_LINE "X-Threshold-ClientId: c\r\n\r\n");
		struct handshake_request r;
		assert_int_equal(req(rq, &r), HANDSHAKE_OK);
		char want[256];
		size_t wl = ref_server_answer(want, sizeof(want), asked[i]);
		ssize_t got = handshake_answer_build(b, sizeof(b), handshake_features_grant(r.features, HANDSHAKE_FEATURES_OURS));
		assert_int_equal(got, (ssize_t)wl);
		assert_string_equal(b, want);
	}
}

static void assert_span_is(const struct http_span *sp, const char *s)
{
	assert_int_equal(sp->len, strlen(s));
	if (sp->len)
		assert_memory_equal(sp->p, s, sp->len);
}

/* Every proper prefix of a complete head is "need more", with nothing consumed. */
static void assert_answer_prefixes(const char *s, size_t head)
{
	for (size_t cut = 0; cut < head; cut++) {
		char *copy = malloc(cut ? cut : 1); /* exact size: overreads are caught by ASan */
		assert_non_null(copy);
		memcpy(copy, s, cut);
		struct handshake_answer a;
		size_t used = 99;
		assert_int_equal(handshake_answer_parse(copy, cut, &a, &used), HANDSHAKE_NEED_MORE);
		assert_int_equal(used, 0);
		assert_int_equal(a.features, 0);
		free(copy);
	}
}

static void test_answer_parse(void **state)
{
	(void)state;
	struct handshake_answer a;
	size_t used;

	/* The Go server's LF-only answer, yamux bytes glued to it. */
	static const char go[] = GO_ANSWER "\x00\x01\x00\x02";
	assert_int_equal(handshake_answer_parse(go, sizeof(go) - 1, &a, &used), HANDSHAKE_OK);
	assert_int_equal(used, 34); /* the yamux version byte follows */
	assert_int_equal(a.status, 200);
	assert_span_is(&a.reason, "Connected to Tunnel");
	assert_int_equal(a.features, 0);
	assert_int_equal(a.content_length, -1);
	assert_null(a.error);
	assert_answer_prefixes(go, 34);

	/* Ours: CRLF, features. */
	char b[HANDSHAKE_ANSWER_BUF];
	ssize_t n = handshake_answer_build(b, sizeof(b), SO | HC | DA);
	assert_int_equal(handshake_answer_parse(b, (size_t)n, &a, &used), HANDSHAKE_OK);
	assert_int_equal(used, (size_t)n);
	assert_int_equal(a.features, SO | HC | DA);
	assert_answer_prefixes(b, (size_t)n);
	/* Every granted subset round-trips. */
	for (unsigned f = 0; f <= HANDSHAKE_FEATURES_KNOWN; f++) {
		n = handshake_answer_build(b, sizeof(b), f);
		assert_int_equal(handshake_answer_parse(b, (size_t)n, &a, &used), HANDSHAKE_OK);
		assert_int_equal(a.features, f);
		assert_int_equal(used, (size_t)n);
	}

	/* Features: every field counts, odd spacing and case, LF-only. */
	static const char multi[] = "HTTP/1.1 200 Connected to Tunnel\n"
				    "x-threshold-features:  HALF-close ,\n"
				    "Content-Length: 0\n"
				    "X-Threshold-Features: ,Server-Open\t, gzip\n"
				    "\n";
	assert_int_equal(handshake_answer_parse(multi, sizeof(multi) - 1, &a, &used), HANDSHAKE_OK);
	assert_int_equal(a.features, SO | HC);
	assert_int_equal(a.content_length, 0);
	assert_answer_prefixes(multi, sizeof(multi) - 1);
	/* HTTP/1.0 is accepted, as the HTTP parser accepts it. */
	assert_int_equal(handshake_answer_parse("HTTP/1.0 200 Connected to Tunnel\r\n\r\n", 36, &a, &used),
			 HANDSHAKE_OK);

	/* Refused: a complete head, not the exact status text (a Go client's check). */
	static const char r403[] = "HTTP/1.1 403 Forbidden\r\nContent-Length: 12\r\n\r\n403 refused\n";
	assert_int_equal(handshake_answer_parse(r403, sizeof(r403) - 1, &a, &used), HANDSHAKE_E_REFUSED);
	assert_int_equal(a.status, 403);
	assert_span_is(&a.reason, "Forbidden");
	assert_int_equal(a.content_length, 12);
	assert_int_equal(used, sizeof(r403) - 1 - 12); /* the body follows */
	assert_int_equal(a.features, 0);
	assert_answer_prefixes(r403, used);
	static const char *const refused[] = {
		"HTTP/1.1 200 OK\r\n\r\n",
		"HTTP/1.1 200 connected to tunnel\n\n", /* exact text, case too */
		"HTTP/1.1 200 Connected to Tunnel \n\n", /* a trailing space */
		"HTTP/1.1 200\n\n",
		"HTTP/1.1 201 Connected to Tunnel\n\n",
		"HTTP/1.1 200 Connected  to Tunnel\n\n",
	};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(handshake_answer_parse(refused[i], strlen(refused[i]), &a, &used), HANDSHAKE_E_REFUSED);
		assert_int_equal(used, strlen(refused[i]));
		assert_int_equal(a.features, 0);
	}
	/* A body length on the 200 is no refusal; unknown features give none. */
	static const char cl[] = "HTTP/1.1 200 Connected to Tunnel\r\nX-Threshold-Features: x\r\nContent-Length: 3\r\n\r\n";
	assert_int_equal(handshake_answer_parse(cl, sizeof(cl) - 1, &a, &used), HANDSHAKE_OK);
	assert_int_equal(a.features, 0);
	assert_int_equal(a.content_length, 3);

	/* Malformed: the HTTP parser's reason, nothing consumed. */
	static const char *const bad[] = {
		"HTTX/1.1 200 Connected to Tunnel\n\n",
		"HTTP/1.1 200 Connected to Tunnel\r\r\n\r\n", /* stray CR */
		"HTTP/1.1 2x0 Connected to Tunnel\n\n",
		"HTTP/1.1 200 Connected to Tunnel\n X-Fold: y\n\n", /* obs-fold */
		"HTTP/1.1 200 Connected to Tunnel\nNo colon\n\n",
		"\nHTTP/1.1 200 Connected to Tunnel\n\n", /* leading empty line: not skipped */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		used = 99;
		assert_int_equal(handshake_answer_parse(bad[i], strlen(bad[i]), &a, &used), HANDSHAKE_E_HEAD);
		assert_non_null(a.error);
		assert_int_equal(used, 0);
		assert_int_equal(a.status, 0);
	}
	/* Over the 8 KiB cap. */
	char *big = malloc(HTTP_HEAD_MAX_DEFAULT + 64);
	assert_non_null(big);
	int hl = snprintf(big, 64, "HTTP/1.1 200 Connected to Tunnel\nX-Pad: ");
	memset(big + hl, 'p', HTTP_HEAD_MAX_DEFAULT);
	assert_int_equal(handshake_answer_parse(big, (size_t)hl + HTTP_HEAD_MAX_DEFAULT, &a, &used), HANDSHAKE_E_HEAD);
	free(big);
}

/* Each byte of a valid answer replaced: a documented result, spans inside the input. */
static void test_answer_mutations(void **state)
{
	(void)state;
	char b[HANDSHAKE_ANSWER_BUF];
	ssize_t n = handshake_answer_build(b, sizeof(b), SO | HC);
	static const char subst[] = {'\0', '\r', '\n', ' ', 'x', ':', ',', '\x7f', '\x80'};
	for (ssize_t i = 0; i < n; i++) {
		for (size_t k = 0; k < sizeof(subst); k++) {
			char m[HANDSHAKE_ANSWER_BUF];
			memcpy(m, b, (size_t)n);
			if (m[i] == subst[k])
				continue;
			m[i] = subst[k];
			struct handshake_answer a;
			size_t used = 0;
			int rc = handshake_answer_parse(m, (size_t)n, &a, &used);
			assert_true(rc == HANDSHAKE_OK || rc == HANDSHAKE_NEED_MORE || rc == HANDSHAKE_E_HEAD ||
				    rc == HANDSHAKE_E_REFUSED);
			assert_true(used <= (size_t)n);
			if (rc == HANDSHAKE_OK) {
				assert_int_equal(a.status, 200);
				assert_int_equal(a.features & ~(SO | HC), 0);
			}
			if (rc == HANDSHAKE_E_HEAD)
				assert_non_null(a.error);
		}
	}
	/* Annotated ones. */
	struct handshake_answer a;
	size_t used;
	char m[HANDSHAKE_ANSWER_BUF];
	memcpy(m, b, (size_t)n);
	m[9] = '3'; /* status 300 */
	assert_int_equal(handshake_answer_parse(m, (size_t)n, &a, &used), HANDSHAKE_E_REFUSED);
	assert_int_equal(a.status, 300);
	memcpy(m, b, (size_t)n);
	m[13] = 'c'; /* "connected": the status text is exact */
	assert_int_equal(handshake_answer_parse(m, (size_t)n, &a, &used), HANDSHAKE_E_REFUSED);
	memcpy(m, b, (size_t)n);
	m[5] = '2'; /* HTTP/2.1 */
	assert_int_equal(handshake_answer_parse(m, (size_t)n, &a, &used), HANDSHAKE_E_HEAD);
	memcpy(m, b, (size_t)n);
	m[34 + 2] = 'Y'; /* "XYThreshold-Features": another header, no features */
	assert_int_equal(handshake_answer_parse(m, (size_t)n, &a, &used), HANDSHAKE_OK);
	assert_int_equal(a.features, 0);
}

/* ---- controlHandshake / controlOk ---- */

static void test_match_strings(void **state)
{
	(void)state;
	assert_int_equal(strlen(HANDSHAKE_HELLO), HANDSHAKE_HELLO_LEN);
	assert_int_equal(strlen(HANDSHAKE_HELLO_OK), HANDSHAKE_HELLO_OK_LEN);
	assert_memory_equal(HANDSHAKE_HELLO, "controlHandshake", 16);
	assert_memory_equal(HANDSHAKE_HELLO_OK, "controlOk", 9);
}

/* s split at a and b (a <= b <= len), then trailing bytes: done once, consumed exact. */
static void match_split(bool expect_ok, const char *s, size_t len, size_t a, size_t b)
{
	uint8_t in[64];
	memcpy(in, s, len);
	memcpy(in + len, "{\"x\"", 4); /* what follows on the stream */
	struct handshake_match m;
	handshake_match_init(&m, expect_ok);
	size_t used = 99;
	int rc = handshake_match_feed(&m, in, a, &used);
	assert_int_equal(rc, a == len ? HANDSHAKE_OK : HANDSHAKE_NEED_MORE);
	assert_int_equal(used, a);
	if (a == len)
		return;
	rc = handshake_match_feed(&m, in + a, b - a, &used);
	assert_int_equal(rc, b == len ? HANDSHAKE_OK : HANDSHAKE_NEED_MORE);
	assert_int_equal(used, b - a);
	if (b == len)
		return;
	rc = handshake_match_feed(&m, in + b, len - b + 4, &used);
	assert_int_equal(rc, HANDSHAKE_OK);
	assert_int_equal(used, len - b); /* the 4 bytes after are not taken */
	assert_int_equal(m.got, len);
	/* Done stays done and reads nothing. */
	assert_int_equal(handshake_match_feed(&m, in, 4, &used), HANDSHAKE_OK);
	assert_int_equal(used, 0);
}

static void test_match_split(void **state)
{
	(void)state;
	for (int dir = 0; dir < 2; dir++) {
		bool ok = dir == 1;
		const char *s = ok ? HANDSHAKE_HELLO_OK : HANDSHAKE_HELLO;
		size_t len = strlen(s);
		for (size_t a = 0; a <= len; a++)
			for (size_t b = a; b <= len; b++)
				match_split(ok, s, len, a, b);
		/* One byte at a time. */
		struct handshake_match m;
		handshake_match_init(&m, ok);
		for (size_t i = 0; i < len; i++) {
			size_t used;
			assert_int_equal(handshake_match_feed(&m, (const uint8_t *)s + i, 1, &used),
					 i + 1 == len ? HANDSHAKE_OK : HANDSHAKE_NEED_MORE);
			assert_int_equal(used, 1);
		}
		/* Empty input. */
		handshake_match_init(&m, ok);
		size_t used = 99;
		assert_int_equal(handshake_match_feed(&m, NULL, 0, &used), HANDSHAKE_NEED_MORE);
		assert_int_equal(used, 0);
	}
}

static void test_match_mismatch(void **state)
{
	(void)state;
	for (int dir = 0; dir < 2; dir++) {
		bool ok = dir == 1;
		const char *s = ok ? HANDSHAKE_HELLO_OK : HANDSHAKE_HELLO;
		size_t len = strlen(s);
		/* A wrong byte at every position, fed after a split before it. */
		for (size_t pos = 0; pos < len; pos++) {
			for (size_t split = 0; split <= pos; split++) {
				uint8_t in[32];
				memcpy(in, s, len);
				in[pos] = (uint8_t)(in[pos] ^ 0x20); /* case flipped: still wrong */
				struct handshake_match m;
				handshake_match_init(&m, ok);
				size_t used;
				assert_int_equal(handshake_match_feed(&m, in, split, &used), HANDSHAKE_NEED_MORE);
				assert_int_equal(handshake_match_feed(&m, in + split, len - split, &used),
						 HANDSHAKE_E_MISMATCH);
				assert_int_equal(used, pos - split); /* in[split + used] is the wrong byte */
				assert_int_equal(m.got, pos);
				/* Stays failed, reads nothing. */
				assert_int_equal(handshake_match_feed(&m, (const uint8_t *)s, len, &used),
						 HANDSHAKE_E_MISMATCH);
				assert_int_equal(used, 0);
			}
		}
	}
	/* The other direction's string is a mismatch on each side. */
	struct handshake_match m;
	size_t used;
	handshake_match_init(&m, false);
	assert_int_equal(handshake_match_feed(&m, (const uint8_t *)"controlOk", 9, &used), HANDSHAKE_E_MISMATCH);
	assert_int_equal(used, 7); /* "control" matched, 'O' != 'H' */
	handshake_match_init(&m, true);
	assert_int_equal(handshake_match_feed(&m, (const uint8_t *)"controlHandshake", 16, &used),
			 HANDSHAKE_E_MISMATCH);
	assert_int_equal(used, 7);
	/* A NUL first. */
	handshake_match_init(&m, true);
	assert_int_equal(handshake_match_feed(&m, (const uint8_t *)"\0", 1, &used), HANDSHAKE_E_MISMATCH);
	assert_int_equal(used, 0);
}

/* ---- preamble ---- */

static int pre(const char *s, struct control_msg *m, size_t *used)
{
	return handshake_preamble_parse(s, strlen(s), m, used);
}

/* test_client.c's test_preamble_parse, on the codec. */
static void test_preamble_parse(void **state)
{
	(void)state;
	struct control_msg m;
	size_t used;

	/* The line, then the visitor's bytes. */
	const char *ok = "{\"action\":1,\"service\":\"fooService\"}\nGET / HTTP/1.1\r\n";
	assert_int_equal(pre(ok, &m, &used), HANDSHAKE_OK);
	assert_int_equal(used, 36);
	assert_string_equal(m.service, "fooService");
	assert_int_equal(m.action, 1);

	/* Split anywhere before the newline: need more; nothing consumed. */
	for (size_t cut = 0; cut < 36; cut++) {
		used = 99;
		assert_int_equal(handshake_preamble_parse(ok, cut, &m, &used), HANDSHAKE_NEED_MORE);
		assert_int_equal(used, 0);
	}
	assert_int_equal(handshake_preamble_parse(ok, 36, &m, &used), HANDSHAKE_OK);
	assert_int_equal(used, 36);

	/* Go's escapes, unknown fields, case-insensitive keys, CRLF. */
	assert_int_equal(pre("{\"action\":1,\"service\":\"a\\u003cb\\u0026\"}\n", &m, &used), HANDSHAKE_OK);
	assert_string_equal(m.service, "a<b&");
	assert_int_equal(pre("{\"Service\":\"x\",\"extra\":[1,2],\"ACTION\":1}\n", &m, &used), HANDSHAKE_OK);
	assert_string_equal(m.service, "x");
	assert_int_equal(pre("{\"action\":1,\"service\":\"x\"}\r\nrest", &m, &used), HANDSHAKE_OK);
	assert_int_equal(used, 28);

	/* Bad: blank line first, wrong or missing action, not one object,
	 * service not a string, an empty line alone. */
	assert_int_equal(pre("\n{\"action\":1,\"service\":\"x\"}\n", &m, &used), HANDSHAKE_E_PREAMBLE);
	assert_int_equal(pre("{\"action\":3,\"service\":\"x\"}\n", &m, &used), HANDSHAKE_E_PREAMBLE);
	assert_int_equal(pre("{\"service\":\"x\"}\n", &m, &used), HANDSHAKE_E_PREAMBLE);
	assert_int_equal(pre("{\"action\":1.5,\"service\":\"x\"}\n", &m, &used), HANDSHAKE_E_PREAMBLE);
	assert_int_equal(pre("[1]\n", &m, &used), HANDSHAKE_E_PREAMBLE);
	assert_int_equal(pre("{\"action\":1,\"service\":\"x\"} {}\n", &m, &used), HANDSHAKE_E_PREAMBLE);
	assert_int_equal(pre("{\"action\":1,\"service\":7}\n", &m, &used), HANDSHAKE_E_PREAMBLE);
	assert_int_equal(pre("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", &m, &used), HANDSHAKE_E_PREAMBLE);
	assert_int_equal(pre("\n", &m, &used), HANDSHAKE_E_PREAMBLE);
	assert_int_equal(used, 0);

	/* The cap: 4096 bytes including the newline is fine, one more is not. */
	char *big = malloc(HANDSHAKE_PREAMBLE_MAX + 64);
	assert_non_null(big);
	const char *head = "{\"action\":1,\"service\":\"svc\",\"pad\":\"";
	size_t hl = strlen(head);
	memcpy(big, head, hl);
	size_t pad = HANDSHAKE_PREAMBLE_MAX - hl - 3; /* + "\"}\n" = 4096 */
	memset(big + hl, 'p', pad);
	memcpy(big + hl + pad, "\"}\nX", 4);
	assert_int_equal(handshake_preamble_parse(big, HANDSHAKE_PREAMBLE_MAX + 1, &m, &used), HANDSHAKE_OK);
	assert_int_equal(used, HANDSHAKE_PREAMBLE_MAX);
	assert_string_equal(m.service, "svc");
	memset(big + hl, 'p', pad + 1);
	memcpy(big + hl + pad + 1, "\"}\n", 3);
	assert_int_equal(handshake_preamble_parse(big, HANDSHAKE_PREAMBLE_MAX + 1, &m, &used),
			 HANDSHAKE_E_TOO_LONG);
	/* 4096 bytes without a newline: too long, whatever follows. */
	memset(big, 'x', HANDSHAKE_PREAMBLE_MAX);
	assert_int_equal(handshake_preamble_parse(big, HANDSHAKE_PREAMBLE_MAX, &m, &used), HANDSHAKE_E_TOO_LONG);
	assert_int_equal(handshake_preamble_parse(big, HANDSHAKE_PREAMBLE_MAX - 1, &m, &used), HANDSHAKE_NEED_MORE);
	free(big);
	/* Nothing at all: need more. */
	assert_int_equal(handshake_preamble_parse(NULL, 0, &m, &used), HANDSHAKE_NEED_MORE);
}

static void test_preamble_encode(void **state)
{
	(void)state;
	char b[HANDSHAKE_PREAMBLE_BUF];
	/* The bytes server.c's visitor_dispatch writes today. */
	ssize_t n = handshake_preamble_encode(b, sizeof(b), "fooService", 10);
	assert_int_equal(n, 36);
	assert_string_equal(b, "{\"action\":1,\"service\":\"fooService\"}\n");
	n = handshake_preamble_encode(b, sizeof(b), "a<b>&\"\\\n", 8);
	assert_string_equal(b, "{\"action\":1,\"service\":\"a\\u003cb\\u003e\\u0026\\\"\\\\\\n\"}\n");
	/* Byte-identical to control_msg_encode(action 1), and parsed back. */
	static const char *const names[] = {"", "x", "web", "\xc3\xa9t\xc3\xa9", "\xff\xfe", "a b\tc", "<>&"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char want[CONTROL_MSG_ENCODED_MAX];
		ssize_t wl = control_msg_encode(want, sizeof(want), 1, names[i], strlen(names[i]));
		n = handshake_preamble_encode(b, sizeof(b), names[i], strlen(names[i]));
		assert_int_equal(n, wl);
		assert_memory_equal(b, want, (size_t)n + 1);
		struct control_msg m;
		size_t used;
		assert_int_equal(handshake_preamble_parse(b, (size_t)n, &m, &used), HANDSHAKE_OK);
		assert_int_equal(used, (size_t)n);
		for (size_t cut = 0; cut < (size_t)n; cut++)
			assert_int_equal(handshake_preamble_parse(b, cut, &m, &used), HANDSHAKE_NEED_MORE);
	}
	/* The longest name, all escaped: fits the buffer and the preamble cap. */
	char name[CONTROL_MSG_SERVICE_MAX + 1];
	memset(name, '<', sizeof(name));
	n = handshake_preamble_encode(b, sizeof(b), name, CONTROL_MSG_SERVICE_MAX);
	assert_true(n > 0 && (size_t)n < sizeof(b) && n < HANDSHAKE_PREAMBLE_MAX);
	assert_int_equal(handshake_preamble_encode(b, (size_t)n, name, CONTROL_MSG_SERVICE_MAX), -1);
	assert_int_equal(handshake_preamble_encode(b, sizeof(b), name, CONTROL_MSG_SERVICE_MAX + 1), -1);
}

/* Each byte of a valid preamble replaced: a documented result. */
static void test_preamble_mutations(void **state)
{
	(void)state;
	static const char ok[] = "{\"action\":1,\"service\":\"web\"}\n";
	const size_t n = sizeof(ok) - 1;
	static const char subst[] = {'\0', '\n', ' ', '"', '2', '}', 'x', '\x80'};
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < sizeof(subst); k++) {
			char m[sizeof(ok)];
			memcpy(m, ok, n);
			if (m[i] == subst[k])
				continue;
			m[i] = subst[k];
			struct control_msg msg;
			size_t used = 99;
			int rc = handshake_preamble_parse(m, n, &msg, &used);
			if (i == n - 1) { /* the newline itself is gone */
				assert_int_equal(rc, HANDSHAKE_NEED_MORE);
			} else {
				assert_true(rc == HANDSHAKE_OK || rc == HANDSHAKE_E_PREAMBLE);
			}
			if (rc == HANDSHAKE_OK) {
				assert_int_equal(msg.action, 1);
				assert_true(used > 0 && used <= n && m[used - 1] == '\n');
			} else {
				assert_int_equal(used, 0);
			}
		}
	}
	/* Annotated ones. */
	struct control_msg msg;
	size_t used;
	assert_int_equal(pre("{\"action\":2,\"service\":\"web\"}\n", &msg, &used), HANDSHAKE_E_PREAMBLE);
	assert_int_equal(pre("{\"action\":1,\"service\":\"w\nb\"}\n", &msg, &used), HANDSHAKE_E_PREAMBLE);
	assert_int_equal(pre("{\"action\":1,\"service\":\"web\" }\n", &msg, &used), HANDSHAKE_OK); /* JSON space */
	assert_int_equal(pre("{\"action\":1,\"servicx\":\"web\"}\n", &msg, &used), HANDSHAKE_OK);
	assert_int_equal(msg.service_len, 0); /* unknown field ignored: an empty service, refused later */
}

/* ---- client states ---- */

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(handshake_client_state_name(HANDSHAKE_CLIENT_UNKNOWN), "ClientUnknown");
	assert_string_equal(handshake_client_state_name(HANDSHAKE_CLIENT_STARTED), "ClientStarted");
	assert_string_equal(handshake_client_state_name(HANDSHAKE_CLIENT_CONNECTING), "ClientConnecting");
	assert_string_equal(handshake_client_state_name(HANDSHAKE_CLIENT_CONNECTED), "ClientConnected");
	assert_string_equal(handshake_client_state_name(HANDSHAKE_CLIENT_DISCONNECTED), "ClientDisconnected");
	assert_string_equal(handshake_client_state_name(HANDSHAKE_CLIENT_CLOSED), "ClientClosed");
	assert_string_equal(handshake_client_state_name(HANDSHAKE_CLIENT_ERROR), "ClientError");
	/* The original's numbers. */
	assert_int_equal(HANDSHAKE_CLIENT_CONNECTED, 3);
	assert_int_equal(HANDSHAKE_CLIENT_CLOSED, 5);
	/* Out of range: ClientUnknown, never ClientState(<n>). */
	assert_string_equal(handshake_client_state_name(7), "ClientUnknown");
	assert_string_equal(handshake_client_state_name(-1), "ClientUnknown");
	assert_string_equal(handshake_client_state_name(1000), "ClientUnknown");
}

static void test_result_str(void **state)
{
	(void)state;
	for (int rc = HANDSHAKE_E_PREAMBLE; rc <= HANDSHAKE_OK; rc++) {
		assert_true(documented(rc));
		assert_string_not_equal(handshake_result_str(rc), "unknown result");
	}
	assert_string_equal(handshake_result_str(HANDSHAKE_NEED_MORE), "need more");
	assert_string_equal(handshake_result_str(1), "unknown result");
	assert_false(documented(HANDSHAKE_E_PREAMBLE - 1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_features_parse),
		cmocka_unit_test(test_features_parse_matches_server),
		cmocka_unit_test(test_features_format_and_names),
		cmocka_unit_test(test_features_grant),
		cmocka_unit_test(test_request_bytes),
		cmocka_unit_test(test_request_parse),
		cmocka_unit_test(test_answer_bytes),
		cmocka_unit_test(test_answer_parse),
		cmocka_unit_test(test_answer_mutations),
		cmocka_unit_test(test_match_strings),
		cmocka_unit_test(test_match_split),
		cmocka_unit_test(test_match_mismatch),
		cmocka_unit_test(test_preamble_parse),
		cmocka_unit_test(test_preamble_encode),
		cmocka_unit_test(test_preamble_mutations),
		cmocka_unit_test(test_state_names),
		cmocka_unit_test(test_result_str),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
