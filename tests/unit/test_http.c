/*
 * Unit tests for wire/http: request and response heads, path cleaning,
 * response writer.
 *
 * Vectors are written line by line with what each line is. The first group
 * is the control-port exchange with a Go peer (go-original.md §2.2-2.3): the
 * exact CONNECT request Go's client writes, under both header names, and the
 * exact 34-byte LF-only answer followed by yamux bytes, which must not be
 * swallowed. Then the management API (§5.1), limits, and malformed input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/http.h"

#define LIT(s) s, (sizeof(s) - 1)

static const struct http_limits lim8k = { .max_head = HTTP_HEAD_MAX_DEFAULT, .max_body = 1 << 20 };

static void assert_span(const struct http_span *sp, const char *want)
{
	char got[256];
	size_t n = sp->len < sizeof(got) - 1 ? sp->len : sizeof(got) - 1;
	if (n)
		memcpy(got, sp->p, n);
	got[n] = '\0';
	assert_int_equal(sp->len, strlen(want));
	assert_string_equal(got, want);
}

/* Parses a request that must be complete and valid; returns consumed. */
static size_t parse_ok(const char *buf, size_t len, struct http_request *req)
{
	size_t consumed = 99;
	int rc = http_request_parse(buf, len, &lim8k, req, &consumed);
	if (rc != HTTP_OK)
		fail_msg("rc %d (%s) for %.*s", rc, req->error ? req->error : "-", (int)len, buf);
	return consumed;
}

static int parse_rc(const char *buf, size_t len, struct http_request *req)
{
	size_t consumed;
	return http_request_parse(buf, len, &lim8k, req, &consumed);
}

/* Every strict prefix of a complete head must ask for more. */
static void assert_prefixes_need_more_req(const char *buf, size_t head_len)
{
	struct http_request req;
	for (size_t k = 0; k < head_len; k++) {
		size_t consumed = 99;
		int rc = http_request_parse(buf, k, &lim8k, &req, &consumed);
		if (rc != HTTP_NEED_MORE)
			fail_msg("prefix %zu of %zu: rc %d (%s)", k, head_len, rc,
				 req.error ? req.error : "-");
		assert_int_equal(consumed, 0);
	}
}

static void assert_prefixes_need_more_resp(const char *buf, size_t head_len)
{
	struct http_response resp;
	for (size_t k = 0; k < head_len; k++) {
		size_t consumed = 99;
		int rc = http_response_parse(buf, k, HTTP_HEAD_MAX_DEFAULT, &resp, &consumed);
		if (rc != HTTP_NEED_MORE)
			fail_msg("prefix %zu of %zu: rc %d", k, head_len, rc);
	}
}

/* ------------------------------------------------------------------ */
/* Control port: the Go client's CONNECT (go-original.md §2.2 step 2)  */

static const char go_connect_4b75a35[] =
	"CONNECT /_controlPath/ HTTP/1.1\r\n"	     /* method, origin-form target, 1.1 */
	"Host: 127.0.0.1:9056\r\n"		     /* resolved peer address */
	"User-Agent: Go-http-client/1.1\r\n"	     /* Go default */
	"X-Threshold-Identifier: TestClient1\r\n"    /* identity header at 4b75a35 */
	"\r\n";					     /* end of head, no body */

static const char go_connect_later[] =
	"CONNECT /_controlPath/ HTTP/1.1\r\n"
	"Host: 127.0.0.1:9056\r\n"
	"User-Agent: Go-http-client/1.1\r\n"
	"X-Threshold-ClientId: TestClient1\r\n"	     /* renamed at 507c628 */
	"\r\n";

static void check_go_connect(const char *buf, size_t len, const char *id_header)
{
	struct http_request req;
	char route[64];

	assert_int_equal(parse_ok(buf, len, &req), len);
	assert_span(&req.method, "CONNECT");
	assert_span(&req.target, "/_controlPath/");
	assert_int_equal(req.form, HTTP_TARGET_ORIGIN);
	assert_span(&req.path, "/_controlPath/");
	assert_false(req.has_query);
	assert_int_equal(req.version_minor, 1);
	assert_int_equal(req.n_headers, 3);
	assert_span(&req.headers[0].name, "Host");
	assert_span(&req.headers[0].value, "127.0.0.1:9056");
	assert_span(&req.headers[1].name, "User-Agent");
	assert_span(&req.headers[1].value, "Go-http-client/1.1");
	assert_span(&req.headers[2].name, id_header);
	assert_span(&req.headers[2].value, "TestClient1");
	assert_int_equal(req.content_length, -1);
	assert_false(req.chunked);
	assert_null(req.error);

	/* Lookup is case-insensitive; the server accepts either header name. */
	const struct http_span *id = http_header_get(req.headers, req.n_headers,
						     "x-threshold-identifier");
	if (id == NULL)
		id = http_header_get(req.headers, req.n_headers, "X-THRESHOLD-CLIENTID");
	assert_non_null(id);
	assert_span(id, "TestClient1");

	/* Route key as Go computes it: path.Clean(URL.Path). */
	assert_int_equal(http_route_path(&req.path, route, sizeof(route)), 13);
	assert_string_equal(route, "/_controlPath");
}

static void test_go_connect_identifier(void **state)
{
	(void)state;
	check_go_connect(LIT(go_connect_4b75a35), "X-Threshold-Identifier");
}

static void test_go_connect_clientid(void **state)
{
	(void)state;
	check_go_connect(LIT(go_connect_later), "X-Threshold-ClientId");
	struct http_request req;
	parse_ok(LIT(go_connect_later), &req);
	assert_null(http_header_get(req.headers, req.n_headers, "X-Threshold-Identifier"));
}

static void test_go_connect_every_truncation(void **state)
{
	(void)state;
	assert_prefixes_need_more_req(LIT(go_connect_4b75a35));
	assert_prefixes_need_more_req(LIT(go_connect_later));
}

/* Bytes after the head (a client that pipelines its first yamux frame) stay with the caller. */
static void test_go_connect_then_yamux(void **state)
{
	(void)state;
	char buf[256];
	size_t head = sizeof(go_connect_4b75a35) - 1;
	static const uint8_t syn[12] = { 0x00, 0x01, 0x00, 0x01, 0, 0, 0, 1, 0, 0, 0, 0 };
	memcpy(buf, go_connect_4b75a35, head);
	memcpy(buf + head, syn, sizeof(syn));
	struct http_request req;
	assert_int_equal(parse_ok(buf, head + sizeof(syn), &req), head);
}

/* Our own client may send LF-only heads in tests; the server takes them. */
static void test_connect_lf_only(void **state)
{
	(void)state;
	static const char lf[] = "CONNECT /_controlPath HTTP/1.1\n"
				 "Host: gw\n"
				 "X-Threshold-ClientId: c1\n"
				 "X-Threshold-Features: server-open, half-close\n"
				 "\n";
	struct http_request req;
	assert_int_equal(parse_ok(LIT(lf), &req), sizeof(lf) - 1);
	assert_int_equal(req.n_headers, 3);
	assert_span(http_header_get(req.headers, req.n_headers, "x-threshold-features"),
		    "server-open, half-close");
	assert_prefixes_need_more_req(LIT(lf));
}

/* ------------------------------------------------------------------ */
/* Client side: the Go server's answer (go-original.md §2.3 step 3)     */

static void test_go_control_answer_then_yamux(void **state)
{
	(void)state;
	/* "HTTP/1.1 200 Connected to Tunnel\n" + "\n" (34 bytes), then yamux frames. */
	static const uint8_t wire[] = {
		'H', 'T', 'T', 'P', '/', '1', '.', '1', ' ', /* version SP */
		'2', '0', '0', ' ',			     /* status SP */
		'C', 'o', 'n', 'n', 'e', 'c', 't', 'e', 'd', ' ', 't', 'o', ' ', 'T', 'u', 'n',
		'n', 'e', 'l',				     /* reason */
		'\n',					     /* LF only */
		'\n',					     /* empty line: end of head */
		0x00, 0x01, 0x00, 0x02, 0, 0, 0, 1, 0, 0, 0, 0, /* yamux WU|ACK stream 1 */
		0x00, 0x00, 0x00, 0x00, 0, 0, 0, 1, 0, 0, 0, 9, /* yamux Data stream 1, 9 bytes */
		'c', 'o', 'n', 't', 'r', 'o', 'l', 'O', 'k',
	};
	assert_int_equal(sizeof(HTTP_CONTROL_OK_RESPONSE) - 1, 34);
	assert_memory_equal(wire, HTTP_CONTROL_OK_RESPONSE, 34);

	struct http_response resp;
	size_t consumed = 0;
	assert_int_equal(http_response_parse((const char *)wire, sizeof(wire), HTTP_HEAD_MAX_DEFAULT,
					     &resp, &consumed),
			 HTTP_OK);
	assert_int_equal(consumed, 34);
	assert_int_equal(resp.version_minor, 1);
	assert_int_equal(resp.status, 200);
	assert_span(&resp.reason, HTTP_CONTROL_OK_STATUS_TEXT);
	assert_int_equal(resp.n_headers, 0);
	assert_int_equal(resp.content_length, -1);
	/* The first byte after the head is the yamux version byte. */
	assert_int_equal(wire[consumed], 0x00);
	assert_int_equal(wire[consumed + 1], 0x01);

	/* Exactly the head: also complete. */
	assert_int_equal(http_response_parse(HTTP_CONTROL_OK_RESPONSE, 34, HTTP_HEAD_MAX_DEFAULT,
					     &resp, &consumed),
			 HTTP_OK);
	assert_int_equal(consumed, 34);
	assert_prefixes_need_more_resp((const char *)wire, 34);
}

/* Our server's answer to our client: CRLF, feature header. */
static void test_response_crlf_headers(void **state)
{
	(void)state;
	static const char r[] = "HTTP/1.1 200 Connected to Tunnel\r\n"
				"X-Threshold-Features: server-open\r\n" /* negotiated subset */
				"\r\n"
				"\x00\x01\x00\x02";			/* yamux follows */
	size_t head = sizeof(r) - 1 - 4;
	struct http_response resp;
	size_t consumed;
	assert_int_equal(http_response_parse(r, sizeof(r) - 1, 8192, &resp, &consumed), HTTP_OK);
	assert_int_equal(consumed, head);
	assert_span(&resp.reason, "Connected to Tunnel");
	assert_int_equal(resp.n_headers, 1);
	assert_span(http_header_get(resp.headers, 1, "x-threshold-features"), "server-open");
	assert_prefixes_need_more_resp(r, head);
}

/* A Go server refusing the CONNECT (duplicate id), http.Error style. */
static void test_response_go_502(void **state)
{
	(void)state;
	static const char r[] = "HTTP/1.1 502 Bad Gateway\r\n"
				"Content-Type: text/plain; charset=utf-8\r\n"
				"X-Content-Type-Options: nosniff\r\n"
				"Date: Thu, 06 Aug 2020 00:00:00 GMT\r\n"
				"Content-Length: 42\r\n"
				"\r\n"
				"control conn for c1 already exist. \n\n";
	struct http_response resp;
	size_t consumed;
	assert_int_equal(http_response_parse(LIT(r), 8192, &resp, &consumed), HTTP_OK);
	assert_int_equal(resp.status, 502);
	assert_span(&resp.reason, "Bad Gateway");
	assert_int_equal(resp.n_headers, 4);
	assert_int_equal(resp.content_length, 42);
	assert_true(http_media_type_is(http_header_get(resp.headers, 4, "content-type"),
				       "text/plain"));
	assert_string_equal(r + consumed, "control conn for c1 already exist. \n\n");
}

static void test_response_variants(void **state)
{
	(void)state;
	struct http_response resp;
	size_t c;
	/* No reason phrase, with and without the SP (Go accepts both). */
	assert_int_equal(http_response_parse(LIT("HTTP/1.1 200\n\n"), 8192, &resp, &c), HTTP_OK);
	assert_int_equal(resp.status, 200);
	assert_int_equal(resp.reason.len, 0);
	assert_int_equal(http_response_parse(LIT("HTTP/1.0 404 \r\n\r\n"), 8192, &resp, &c), HTTP_OK);
	assert_int_equal(resp.version_minor, 0);
	assert_int_equal(resp.reason.len, 0);
	/* Reason with spaces, HTAB and obs-text. */
	assert_int_equal(http_response_parse(LIT("HTTP/1.1 599 a b\tc \xe9\n\n"), 8192, &resp, &c),
			 HTTP_OK);
	assert_int_equal(resp.status, 599);
	assert_span(&resp.reason, "a b\tc \xe9");
	/* Chunked responses are parsed (the body is not our business here). */
	assert_int_equal(http_response_parse(LIT("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"),
					     8192, &resp, &c),
			 HTTP_OK);
	assert_true(resp.chunked);
	/* Host rules are for requests only. */
	assert_int_equal(http_response_parse(LIT("HTTP/1.1 200 OK\nHost: a\nHost: b\n\n"), 8192, &resp,
					     &c),
			 HTTP_OK);
}

static void test_response_errors(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int rc;
	} v[] = {
		{ "HTTP/2.0 200 OK\n\n", HTTP_E_VERSION },	   /* only 1.0 / 1.1 */
		{ "HTTP/1.2 200 OK\n\n", HTTP_E_VERSION },
		{ "HTTP/1.1 20 OK\n\n", HTTP_E_BAD_REQUEST },	   /* two-digit status */
		{ "HTTP/1.1 2000 OK\n\n", HTTP_E_BAD_REQUEST },	   /* four digits */
		{ "HTTP/1.1 099 OK\n\n", HTTP_E_BAD_REQUEST },	   /* leading 0 */
		{ "HTTP/1.1\n\n", HTTP_E_BAD_REQUEST },		   /* no status */
		{ "HTTP/1.1 2x0 OK\n\n", HTTP_E_BAD_REQUEST },
		{ "http/1.1 200 OK\n\n", HTTP_E_BAD_REQUEST },	   /* case-sensitive */
		{ "HTTP/1.1  200 OK\n\n", HTTP_E_BAD_REQUEST },	   /* double SP */
		{ "HTTP/1.1 200 OK\rX\n\n", HTTP_E_BAD_REQUEST },   /* bare CR */
		{ "HTTP/1.1 200 O\x01K\n\n", HTTP_E_BAD_REQUEST },  /* control byte */
		{ "\nHTTP/1.1 200 OK\n\n", HTTP_E_BAD_REQUEST },    /* no leading empty lines */
		{ "HTTP/1.1 200 OK\n folded\n\n", HTTP_E_BAD_REQUEST },
		{ "HTTP/1.1 200 OK\nContent-Length: 1\nContent-Length: 2\n\n", HTTP_E_BAD_REQUEST },
		{ "HTTP/1.1 200 OK\nContent-Length: -1\n\n", HTTP_E_BAD_REQUEST },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct http_response resp;
		size_t c;
		int rc = http_response_parse(v[i].s, strlen(v[i].s), 8192, &resp, &c);
		if (rc != v[i].rc)
			fail_msg("vector %zu: rc %d want %d", i, rc, v[i].rc);
		assert_non_null(resp.error);
	}
}

static void test_response_too_large(void **state)
{
	(void)state;
	static const char r[] = "HTTP/1.1 200 OK\r\nA: b\r\n\r\n"; /* 25 bytes */
	struct http_response resp;
	size_t c;
	assert_int_equal(http_response_parse(LIT(r), 25, &resp, &c), HTTP_OK);
	assert_int_equal(http_response_parse(LIT(r), 24, &resp, &c), HTTP_E_TOO_LARGE);
	/* Fewer bytes than the cap and no end: wait. */
	assert_int_equal(http_response_parse(r, 20, 24, &resp, &c), HTTP_NEED_MORE);
	assert_int_equal(http_response_parse(r, 24, 24, &resp, &c), HTTP_E_TOO_LARGE);
}

/* ------------------------------------------------------------------ */
/* Management API (go-original.md §5.1, §9)                           */

static void test_mgmt_put_tunnels(void **state)
{
	(void)state;
	/* What curl -X PUT -H "Content-Type: application/json" -d @tunnels.json sends. */
	static const char body[] =
		"[{\"ClientIdentifier\":\"TestClient1\",\"ListenPort\":9000,\"ListenAddress\":"
		"\"127.0.0.1\",\"ListenHostnameGlob\":\"*\",\"BackEndService\":\"fooService\","
		"\"HaProxyProxyProtocol\":true}]";
	char buf[1024];
	int head = snprintf(buf, sizeof(buf),
			    "PUT /tunnels HTTP/1.1\r\n"		/* method, path */
			    "Host: localhost:9057\r\n"
			    "User-Agent: curl/7.88.1\r\n"
			    "Accept: */*\r\n"
			    "Content-Type: application/json\r\n" /* byte-exact for Go */
			    "Content-Length: %zu\r\n"		/* body length */
			    "\r\n",
			    sizeof(body) - 1);
	memcpy(buf + head, body, sizeof(body) - 1);
	size_t total = (size_t)head + sizeof(body) - 1;

	struct http_request req;
	assert_int_equal(parse_ok(buf, total, &req), (size_t)head);
	assert_span(&req.method, "PUT");
	assert_span(&req.path, "/tunnels");
	assert_int_equal(req.content_length, (int64_t)(sizeof(body) - 1));
	assert_int_equal(req.n_headers, 5);
	const struct http_span *ct = http_header_get(req.headers, req.n_headers, "content-type");
	assert_non_null(ct);
	assert_true(http_span_eq(ct, "application/json"));
	assert_true(http_media_type_is(ct, "application/json"));
	assert_false(req.expect_continue);
	assert_memory_equal(buf + head, body, sizeof(body) - 1);
	assert_prefixes_need_more_req(buf, (size_t)head);
}

static void test_mgmt_get_clients(void **state)
{
	(void)state;
	static const char r[] = "GET /clients HTTP/1.1\r\n"
				"Host: localhost:9057\r\n"
				"User-Agent: curl/7.88.1\r\n"
				"Accept: */*\r\n"
				"\r\n";
	struct http_request req;
	char route[64];
	assert_int_equal(parse_ok(LIT(r), &req), sizeof(r) - 1);
	assert_span(&req.method, "GET");
	assert_int_equal(http_route_path(&req.path, route, sizeof(route)), 8);
	assert_string_equal(route, "/clients");
	assert_prefixes_need_more_req(LIT(r));
}

/* "/clients", "/clients/", "//clients/." route alike (go-original.md §5.1). */
static void test_mgmt_route_equivalents(void **state)
{
	(void)state;
	static const char *const targets[] = {
		"/clients", "/clients/", "//clients/.", "/./clients", "/x/../clients",
		"/clients%2F", "/%63lients", "/%2e%2e/clients", "/clients?verbose=1",
	};
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		char r[128], route[128];
		int n = snprintf(r, sizeof(r), "GET %s HTTP/1.1\r\nHost: h\r\n\r\n", targets[i]);
		struct http_request req;
		assert_int_equal(parse_ok(r, (size_t)n, &req), (size_t)n);
		assert_true(http_route_path(&req.path, route, sizeof(route)) > 0);
		assert_string_equal(route, "/clients");
	}
}

static void test_mgmt_expect_continue(void **state)
{
	(void)state;
	static const char r[] = "PUT /tunnels HTTP/1.1\r\nHost: h\r\n"
				"Content-Type: application/json; charset=utf-8\r\n"
				"Content-Length: 2000\r\nExpect: 100-Continue\r\n\r\n";
	struct http_request req;
	parse_ok(LIT(r), &req);
	assert_true(req.expect_continue);
	const struct http_span *ct = http_header_get(req.headers, req.n_headers, "Content-Type");
	assert_false(http_span_eq(ct, "application/json")); /* Go's byte-exact check fails */
	assert_true(http_media_type_is(ct, "application/json"));
}

static void test_query_and_forms(void **state)
{
	(void)state;
	struct http_request req;

	parse_ok(LIT("GET /clients?x=1&y HTTP/1.1\r\nHost: h\r\n\r\n"), &req);
	assert_span(&req.path, "/clients");
	assert_true(req.has_query);
	assert_span(&req.query, "x=1&y");

	parse_ok(LIT("GET /a? HTTP/1.1\r\nHost: h\r\n\r\n"), &req);
	assert_true(req.has_query);
	assert_int_equal(req.query.len, 0);

	parse_ok(LIT("GET http://gw:9057/clients?a HTTP/1.1\r\nHost: gw:9057\r\n\r\n"), &req);
	assert_int_equal(req.form, HTTP_TARGET_ABSOLUTE);
	assert_span(&req.authority, "gw:9057");
	assert_span(&req.path, "/clients");
	assert_span(&req.query, "a");

	parse_ok(LIT("GET HTTPS://gw HTTP/1.1\r\nHost: gw\r\n\r\n"), &req);
	assert_int_equal(req.form, HTTP_TARGET_ABSOLUTE);
	assert_span(&req.authority, "gw");
	assert_int_equal(req.path.len, 0);

	/* authority-form is CONNECT only; Host is not required for CONNECT (as Go). */
	parse_ok(LIT("CONNECT gw:9056 HTTP/1.1\r\n\r\n"), &req);
	assert_int_equal(req.form, HTTP_TARGET_AUTHORITY);
	assert_span(&req.authority, "gw:9056");
	assert_int_equal(req.path.len, 0);
	char route[8];
	assert_int_equal(http_route_path(&req.path, route, sizeof(route)), 1);
	assert_string_equal(route, ".");

	parse_ok(LIT("OPTIONS * HTTP/1.1\r\nHost: h\r\n\r\n"), &req);
	assert_int_equal(req.form, HTTP_TARGET_ASTERISK);
	assert_span(&req.path, "*");

	/* HTTP/1.0 needs no Host. */
	parse_ok(LIT("GET /ping HTTP/1.0\r\n\r\n"), &req);
	assert_int_equal(req.version_minor, 0);
}

static void test_header_values(void **state)
{
	(void)state;
	struct http_request req;
	parse_ok(LIT("GET / HTTP/1.1\r\n"
		     "Host:h\r\n"			  /* no OWS */
		     "A: \t padded \t \r\n"		  /* OWS trimmed both sides */
		     "B:\r\n"				  /* empty value */
		     "C: in ner\tspace\r\n"		  /* inner SP/HTAB kept */
		     "D: caf\xc3\xa9 \x80\xff\r\n"	  /* obs-text allowed */
		     "a: second\r\n"			  /* repeated, other case */
		     "\r\n"),
		 &req);
	assert_int_equal(req.n_headers, 6);
	assert_span(&req.headers[0].value, "h");
	assert_span(http_header_get(req.headers, req.n_headers, "a"), "padded");
	assert_span(http_header_get(req.headers, req.n_headers, "b"), "");
	assert_span(http_header_get(req.headers, req.n_headers, "c"), "in ner\tspace");
	assert_span(http_header_get(req.headers, req.n_headers, "d"), "caf\xc3\xa9 \x80\xff");
	assert_int_equal(http_header_index(req.headers, req.n_headers, "A", 0), 1);
	assert_int_equal(http_header_index(req.headers, req.n_headers, "A", 2), 5);
	assert_int_equal(http_header_index(req.headers, req.n_headers, "A", 6), -1);
	assert_null(http_header_get(req.headers, req.n_headers, "missing"));
	assert_null(http_header_get(req.headers, req.n_headers, "A "));
}

static void test_leading_empty_lines(void **state)
{
	(void)state;
	static const char r[] = "\r\n\n" /* left over from a previous request: skipped */
				"GET /ping HTTP/1.1\r\nHost: h\r\n\r\n";
	struct http_request req;
	assert_int_equal(parse_ok(LIT(r), &req), sizeof(r) - 1);
	assert_span(&req.path, "/ping");
	assert_prefixes_need_more_req(LIT(r));
}

/* ------------------------------------------------------------------ */
/* Content-Length and Transfer-Encoding                               */

static void test_content_length(void **state)
{
	(void)state;
	struct http_request req;
	parse_ok(LIT("PUT /t HTTP/1.1\r\nHost: h\r\nContent-Length: 0\r\n\r\n"), &req);
	assert_int_equal(req.content_length, 0);
	/* Repeated with the same value: accepted. */
	parse_ok(LIT("PUT /t HTTP/1.1\r\nHost: h\r\nContent-Length: 12\r\ncontent-length: 012\r\n\r\n"),
		 &req);
	assert_int_equal(req.content_length, 12);
	/* Exactly max_body. */
	parse_ok(LIT("PUT /t HTTP/1.1\r\nHost: h\r\nContent-Length: 1048576\r\n\r\n"), &req);
	assert_int_equal(req.content_length, 1048576);

	static const char *const bad_cl[] = {
		"",	"+5", "-1", "5 5", "5, 5", "0x10", "1e3", "5.0", " ",
		"9223372036854775808",			/* INT64_MAX + 1 */
		"99999999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad_cl) / sizeof(bad_cl[0]); i++) {
		char r[256];
		int n = snprintf(r, sizeof(r), "PUT /t HTTP/1.1\r\nHost: h\r\nContent-Length: %s\r\n\r\n",
				 bad_cl[i]);
		if (parse_rc(r, (size_t)n, &req) != HTTP_E_BAD_REQUEST)
			fail_msg("Content-Length \"%s\" accepted", bad_cl[i]);
		assert_string_equal(req.error, "invalid Content-Length");
	}
	assert_int_equal(parse_rc(LIT("PUT /t HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\n"
				      "Content-Length: 2\r\n\r\n"),
				  &req),
			 HTTP_E_BAD_REQUEST);
	assert_string_equal(req.error, "conflicting Content-Length fields");
}

static void test_body_too_large(void **state)
{
	(void)state;
	static const char r[] = "PUT /tunnels HTTP/1.1\r\nHost: h\r\nContent-Length: 1048577\r\n\r\n";
	struct http_request req;
	size_t consumed = 0;
	assert_int_equal(http_request_parse(LIT(r), &lim8k, &req, &consumed), HTTP_E_BODY_TOO_LARGE);
	assert_int_equal(consumed, sizeof(r) - 1); /* filled so the server can answer 413 */
	assert_span(&req.path, "/tunnels");
	assert_int_equal(req.content_length, 1048577);
	/* The largest representable value is still only "too large", not malformed. */
	assert_int_equal(parse_rc(LIT("PUT / HTTP/1.1\r\nHost: h\r\n"
				      "Content-Length: 9223372036854775807\r\n\r\n"),
				  &req),
			 HTTP_E_BODY_TOO_LARGE);
}

static void test_transfer_encoding(void **state)
{
	(void)state;
	struct http_request req;
	size_t consumed = 0;
	static const char chunked[] = "PUT /tunnels HTTP/1.1\r\nHost: h\r\n"
				      "Transfer-Encoding: chunked\r\n\r\n"
				      "5\r\nhello\r\n0\r\n\r\n";
	size_t head = sizeof(chunked) - 1 - strlen("5\r\nhello\r\n0\r\n\r\n");
	assert_int_equal(http_request_parse(LIT(chunked), &lim8k, &req, &consumed),
			 HTTP_E_UNSUPPORTED);
	assert_int_equal(consumed, head);
	assert_true(req.chunked);
	assert_span(&req.method, "PUT");
	assert_string_equal(req.error, "chunked Transfer-Encoding not supported");

	assert_int_equal(parse_rc(LIT("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip, CHUNKED\r\n\r\n"),
				  &req),
			 HTTP_E_UNSUPPORTED);
	assert_true(req.chunked);
	assert_int_equal(parse_rc(LIT("PUT / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n"),
				  &req),
			 HTTP_E_UNSUPPORTED);
	assert_false(req.chunked);
	assert_string_equal(req.error, "Transfer-Encoding not supported");
	/* With Content-Length too (a smuggling attempt): still refused. */
	assert_int_equal(parse_rc(LIT("PUT / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\n"
				      "Transfer-Encoding: chunked\r\n\r\n"),
				  &req),
			 HTTP_E_UNSUPPORTED);
}

/* ------------------------------------------------------------------ */
/* Limits                                                             */

/*
 * A valid request whose head is exactly `size` bytes: the request line, Host,
 * nfields - 2 short fields, and one "P: xxx" field padded to fit.
 */
static size_t build_sized(char *buf, size_t size, size_t nfields)
{
	size_t w = (size_t)sprintf(buf, "GET / HTTP/1.1\r\nHost: h\r\n");
	for (size_t i = 0; i + 2 < nfields; i++)
		w += (size_t)sprintf(buf + w, "F%zu: v\r\n", i);
	size_t k = size - w - 7; /* "P: " + k + "\r\n" + "\r\n" */
	memcpy(buf + w, "P: ", 3);
	memset(buf + w + 3, 'x', k);
	w += 3 + k;
	memcpy(buf + w, "\r\n\r\n", 4);
	return w + 4;
}

static void test_head_size_cap(void **state)
{
	(void)state;
	static char buf[HTTP_HEAD_MAX_DEFAULT + 64];
	struct http_request req;
	size_t consumed;

	/* Exactly 8192 bytes: accepted. */
	size_t n = build_sized(buf, HTTP_HEAD_MAX_DEFAULT, 2);
	assert_int_equal(n, HTTP_HEAD_MAX_DEFAULT);
	assert_int_equal(http_request_parse(buf, n, &lim8k, &req, &consumed), HTTP_OK);
	assert_int_equal(consumed, n);

	/* 8193 bytes: too large, whether all of it or only 8192 bytes have arrived. */
	n = build_sized(buf, HTTP_HEAD_MAX_DEFAULT + 1, 2);
	assert_int_equal(n, HTTP_HEAD_MAX_DEFAULT + 1);
	assert_int_equal(http_request_parse(buf, n, &lim8k, &req, &consumed), HTTP_E_TOO_LARGE);
	assert_int_equal(http_request_parse(buf, HTTP_HEAD_MAX_DEFAULT, &lim8k, &req, &consumed),
			 HTTP_E_TOO_LARGE);
	assert_non_null(req.error);
	/* ... but 8191 of them is just "more, please". */
	assert_int_equal(http_request_parse(buf, HTTP_HEAD_MAX_DEFAULT - 1, &lim8k, &req, &consumed),
			 HTTP_NEED_MORE);

	/* One endless line, and endless empty lines, hit the cap too. */
	memset(buf, 'A', HTTP_HEAD_MAX_DEFAULT);
	assert_int_equal(http_request_parse(buf, HTTP_HEAD_MAX_DEFAULT, &lim8k, &req, &consumed),
			 HTTP_E_TOO_LARGE);
	for (size_t i = 0; i < HTTP_HEAD_MAX_DEFAULT; i += 2)
		memcpy(buf + i, "\r\n", 2);
	assert_int_equal(http_request_parse(buf, HTTP_HEAD_MAX_DEFAULT, &lim8k, &req, &consumed),
			 HTTP_E_TOO_LARGE);

	/* A small cap given by the caller. */
	struct http_limits small = { .max_head = 32, .max_body = 0 };
	assert_int_equal(http_request_parse(LIT("GET / HTTP/1.1\r\nHost: hhhhhhh\r\n\r\n"), &small,
					    &req, &consumed),
			 HTTP_E_TOO_LARGE);
	assert_int_equal(http_request_parse(LIT("GET / HTTP/1.1\r\nHost: hhhhhh\r\n\r\n"), &small,
					    &req, &consumed),
			 HTTP_OK);
}

static void test_header_count_cap(void **state)
{
	(void)state;
	static char buf[4096];
	struct http_request req;
	size_t consumed;

	size_t n = build_sized(buf, 2048, HTTP_MAX_HEADERS); /* Host + 62 + P = 64 fields */
	assert_int_equal(http_request_parse(buf, n, &lim8k, &req, &consumed), HTTP_OK);
	assert_int_equal(req.n_headers, HTTP_MAX_HEADERS);

	n = build_sized(buf, 2048, HTTP_MAX_HEADERS + 1);
	assert_int_equal(http_request_parse(buf, n, &lim8k, &req, &consumed), HTTP_E_TOO_LARGE);
	assert_string_equal(req.error, "too many header fields");
}

/* ------------------------------------------------------------------ */
/* Malformed requests                                                 */

static void test_bad_requests(void **state)
{
	(void)state;
	static const struct {
		const char *why;
		const char *s;
		size_t len;
		int rc;
		const char *error;
	} v[] = {
#define V(why, s, rc, error) { why, s, sizeof(s) - 1, rc, error }
		V("obs-fold", "GET / HTTP/1.1\r\nHost: h\r\nA: b\r\n c\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "obsolete line folding"),
		V("obs-fold htab", "GET / HTTP/1.1\r\nHost: h\r\n\tc\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "obsolete line folding"),
		V("NUL in value", "GET / HTTP/1.1\r\nHost: h\r\nA: b\0c\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid byte in header field value"),
		V("NUL in target", "GET /\0 HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "control byte in request line"),
		V("NUL in name", "GET / HTTP/1.1\r\nHost: h\r\nA\0: b\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid header field name"),
		V("control in value", "GET / HTTP/1.1\r\nHost: h\r\nA: b\x01\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid byte in header field value"),
		V("ESC in value", "GET / HTTP/1.1\r\nHost: h\r\nA: \x1b[0m\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid byte in header field value"),
		V("DEL in value", "GET / HTTP/1.1\r\nHost: h\r\nA: \x7f\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid byte in header field value"),
		V("bare CR in value", "GET / HTTP/1.1\r\nHost: h\r\nA: b\rc\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid byte in header field value"),
		V("CR CR LF", "GET / HTTP/1.1\r\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "control byte in request line"),
		V("SP before colon", "GET / HTTP/1.1\r\nHost : h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "whitespace before colon"),
		V("empty name", "GET / HTTP/1.1\r\nHost: h\r\n: v\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "empty header field name"),
		V("no colon", "GET / HTTP/1.1\r\nHost: h\r\nJunk\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid header field name"),
		V("bad name char", "GET / HTTP/1.1\r\nHost: h\r\nA(b): v\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid header field name"),
		V("non-ASCII name", "GET / HTTP/1.1\r\nHost: h\r\n\xc3\xa9: v\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid header field name"),
		V("missing Host 1.1", "GET / HTTP/1.1\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "missing Host field"),
		V("two Hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "multiple Host fields"),
		V("two Hosts 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "multiple Host fields"),
		V("double SP", "GET  / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "malformed HTTP version"),
		V("HTAB separator", "GET\t/ HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "control byte in request line"),
		V("trailing SP", "GET / HTTP/1.1 \r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "malformed HTTP version"),
		V("no version (0.9)", "GET /\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "malformed request line"),
		V("lower-case version", "GET / http/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "malformed HTTP version"),
		V("version junk", "GET / HTTP/1.1x\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "malformed HTTP version"),
		V("empty method", " / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "empty method"),
		V("bad method", "G@T / HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid method"),
		V("relative target", "GET clients HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid request target"),
		V("non-ASCII target", "GET /caf\xc3\xa9 HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid byte in request target"),
		V("bad escape", "GET /%zz HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid percent-encoding in path"),
		V("short escape", "GET /a%2 HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid percent-encoding in path"),
		V("empty authority", "GET http:///x HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "empty authority in request target"),
		V("authority form on GET", "GET gw:80 HTTP/1.1\r\nHost: h\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid request target"),
		V("bad CONNECT authority", "CONNECT a@b:1 HTTP/1.1\r\n\r\n", HTTP_E_BAD_REQUEST,
		  "invalid CONNECT authority"),
		V("HTTP/2.0", "GET / HTTP/2.0\r\nHost: h\r\n\r\n", HTTP_E_VERSION,
		  "unsupported HTTP version"),
		V("HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", HTTP_E_VERSION,
		  "unsupported HTTP version"),
		V("HTTP/1.2", "GET / HTTP/1.2\r\nHost: h\r\n\r\n", HTTP_E_VERSION,
		  "unsupported HTTP version"),
		V("h2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", HTTP_E_VERSION,
		  "unsupported HTTP version"),
#undef V
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct http_request req;
		int rc = parse_rc(v[i].s, v[i].len, &req);
		if (rc != v[i].rc || req.error == NULL || strcmp(req.error, v[i].error) != 0)
			fail_msg("%s: rc %d (%s) want %d (%s)", v[i].why, rc,
				 req.error ? req.error : "-", v[i].rc, v[i].error);
	}
}

/* A bad first line is reported before the rest of the head arrives. */
static void test_fail_fast(void **state)
{
	(void)state;
	struct http_request req;
	assert_int_equal(parse_rc(LIT("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\n"), &req),
			 HTTP_E_BAD_REQUEST); /* a TLS ClientHello with an LF in it */
	assert_int_equal(parse_rc(LIT("GET / HTTP/3.0\r\n"), &req), HTTP_E_VERSION);
	assert_int_equal(parse_rc(LIT("GET / HTTP/1.1\r\nBad Name: x\r\n"), &req),
			 HTTP_E_BAD_REQUEST);
	/* An incomplete line is not judged yet. */
	assert_int_equal(parse_rc(LIT("G\x01T / HTTP/1.1"), &req), HTTP_NEED_MORE);
}

/* ------------------------------------------------------------------ */
/* Path cleaning (Go's path.Clean test table)                         */

static void test_path_clean_go_table(void **state)
{
	(void)state;
	static const struct {
		const char *in, *out;
	} v[] = {
		/* already clean */
		{ "", "." }, { "abc", "abc" }, { "abc/def", "abc/def" }, { "a/b/c", "a/b/c" },
		{ ".", "." }, { "..", ".." }, { "../..", "../.." }, { "../../abc", "../../abc" },
		{ "/abc", "/abc" }, { "/", "/" },
		/* remove trailing slash */
		{ "abc/", "abc" }, { "abc/def/", "abc/def" }, { "a/b/c/", "a/b/c" }, { "./", "." },
		{ "../", ".." }, { "../../", "../.." }, { "/abc/", "/abc" },
		/* remove doubled slash */
		{ "abc//def//ghi", "abc/def/ghi" }, { "//abc", "/abc" }, { "///abc", "/abc" },
		{ "//abc//", "/abc" }, { "abc//", "abc" },
		/* remove . elements */
		{ "abc/./def", "abc/def" }, { "/./abc/def", "/abc/def" }, { "abc/.", "abc" },
		/* remove .. elements */
		{ "abc/def/ghi/../jkl", "abc/def/jkl" }, { "abc/def/../ghi/../jkl", "abc/jkl" },
		{ "abc/def/..", "abc" }, { "abc/def/../..", "." }, { "/abc/def/../..", "/" },
		{ "abc/def/../../..", ".." }, { "/abc/def/../../..", "/" },
		{ "abc/def/../../../ghi/jkl/../../../mno", "../../mno" },
		/* combinations */
		{ "abc/./../def", "def" }, { "abc//./../def", "def" },
		{ "abc/../../././../def", "../../def" },
		/* ours: the management API and control paths */
		{ "//clients/.", "/clients" }, { "/_controlPath/", "/_controlPath" },
		{ "//_controlPath", "/_controlPath" }, { "/..", "/" }, { "/../..//a/.", "/a" },
		{ "...", "..." }, { "/.../a", "/.../a" }, { "..a/.b", "..a/.b" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		char out[128], inplace[128];
		size_t len = strlen(v[i].in);
		ssize_t n = http_path_clean(v[i].in, len, out, sizeof(out));
		if (n < 0 || strcmp(out, v[i].out) != 0)
			fail_msg("clean(\"%s\") = \"%s\", want \"%s\"", v[i].in, n < 0 ? "-1" : out,
				 v[i].out);
		assert_int_equal(n, strlen(v[i].out));
		/* in place */
		memcpy(inplace, v[i].in, len + 1);
		assert_int_equal(http_path_clean(inplace, len, inplace, sizeof(inplace)), n);
		assert_string_equal(inplace, v[i].out);
		/* idempotent */
		assert_int_equal(http_path_clean(out, (size_t)n, inplace, sizeof(inplace)), n);
		assert_string_equal(inplace, v[i].out);
		/* len + 2 always suffices */
		assert_int_equal(http_path_clean(v[i].in, len, out, len + 2), n);
	}
}

static void test_path_clean_small_buffer(void **state)
{
	(void)state;
	char out[8];
	assert_int_equal(http_path_clean(LIT("/clients"), out, 9 - 1), -1); /* 8 + NUL needs 9 */
	char big[16];
	assert_int_equal(http_path_clean(LIT("/clients"), big, 9), 8);
	assert_int_equal(http_path_clean(LIT(""), out, 1), -1);
	assert_int_equal(http_path_clean(LIT(""), out, 2), 1);
	assert_string_equal(out, ".");
	assert_int_equal(http_path_clean(LIT("/a"), out, 0), -1);
}

static void test_pct_decode(void **state)
{
	(void)state;
	char out[32];
	assert_int_equal(http_pct_decode(LIT("/a%2Fb%2fc%41"), out, sizeof(out)), 7);
	assert_string_equal(out, "/a/b/cA");
	assert_int_equal(http_pct_decode(LIT("%"), out, sizeof(out)), -1);
	assert_int_equal(http_pct_decode(LIT("%4"), out, sizeof(out)), -1);
	assert_int_equal(http_pct_decode(LIT("%g0"), out, sizeof(out)), -1);
	assert_int_equal(http_pct_decode(LIT("/a%00"), out, sizeof(out)), -1); /* NUL */
	assert_int_equal(http_pct_decode(LIT("%ff"), out, sizeof(out)), 1);
	assert_int_equal((unsigned char)out[0], 0xff);
	assert_int_equal(http_pct_decode(LIT("abc"), out, 3), -1);
	assert_int_equal(http_pct_decode(LIT("abc"), out, 4), 3);
}

/* ------------------------------------------------------------------ */
/* Response writer                                                    */

static void test_status_reasons(void **state)
{
	(void)state;
	static const struct {
		int code;
		const char *reason;
	} v[] = {
		{ 200, "OK" },
		{ 400, "Bad Request" },
		{ 401, "Unauthorized" },
		{ 403, "Forbidden" },
		{ 404, "Not Found" },
		{ 405, "Method Not Allowed" },
		{ 408, "Request Timeout" },
		{ 409, "Conflict" },
		{ 411, "Length Required" },
		{ 413, "Request Entity Too Large" },
		{ 415, "Unsupported Media Type" },
		{ 422, "Unprocessable Entity" },
		{ 431, "Request Header Fields Too Large" },
		{ 500, "Internal Server Error" },
		{ 501, "Not Implemented" },
		{ 502, "Bad Gateway" },
		{ 503, "Service Unavailable" },
		{ 505, "HTTP Version Not Supported" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		assert_string_equal(http_status_reason(v[i].code), v[i].reason);
	assert_string_equal(http_status_reason(299), "");
	assert_string_equal(http_status_reason(-1), "");
}

static void test_write_response_head(void **state)
{
	(void)state;
	char buf[512];

	/* GET /clients answer. */
	ssize_t n = http_write_response_head(buf, sizeof(buf), 200, NULL, "application/json", 2, NULL);
	static const char want1[] = "HTTP/1.1 200 OK\r\n"
				    "Content-Type: application/json\r\n"
				    "Content-Length: 2\r\n"
				    "\r\n";
	assert_int_equal(n, sizeof(want1) - 1);
	assert_string_equal(buf, want1);

	/* Go http.Error for a wrong method on /clients (with its Allow: PUT quirk). */
	n = http_write_response_head(buf, sizeof(buf), 405, NULL, "text/plain; charset=utf-8", 23,
				     "Allow: PUT\r\nX-Content-Type-Options: nosniff\r\n");
	static const char want2[] = "HTTP/1.1 405 Method Not Allowed\r\n"
				    "Content-Type: text/plain; charset=utf-8\r\n"
				    "Content-Length: 23\r\n"
				    "Allow: PUT\r\n"
				    "X-Content-Type-Options: nosniff\r\n"
				    "\r\n";
	assert_int_equal(n, sizeof(want2) - 1);
	assert_string_equal(buf, want2);

	/* The control answer to our own client: custom reason, no body fields. */
	n = http_write_response_head(buf, sizeof(buf), 200, HTTP_CONTROL_OK_STATUS_TEXT, NULL, -1,
				     "X-Threshold-Features: server-open\r\n");
	static const char want3[] = "HTTP/1.1 200 Connected to Tunnel\r\n"
				    "X-Threshold-Features: server-open\r\n"
				    "\r\n";
	assert_string_equal(buf, want3);

	/* What we write, we parse back. */
	struct http_response resp;
	size_t consumed;
	assert_int_equal(http_response_parse(buf, (size_t)n, 8192, &resp, &consumed), HTTP_OK);
	assert_int_equal(consumed, (size_t)n);
	assert_span(&resp.reason, "Connected to Tunnel");
	assert_span(http_header_get(resp.headers, resp.n_headers, "X-Threshold-Features"),
		    "server-open");

	/* Unknown status: empty reason. */
	n = http_write_response_head(buf, sizeof(buf), 299, NULL, NULL, 0, NULL);
	assert_string_equal(buf, "HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n");
}

static void test_write_response_head_limits(void **state)
{
	(void)state;
	char buf[128];
	static const char want[] = "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\n\r\n";
	/* Every cap below len + 1 fails; len + 1 succeeds. */
	for (size_t cap = 0; cap <= sizeof(want) - 1; cap++)
		assert_int_equal(http_write_response_head(buf, cap, 404, NULL, NULL, 10, NULL), -1);
	assert_int_equal(http_write_response_head(buf, sizeof(want), 404, NULL, NULL, 10, NULL),
			 sizeof(want) - 1);
	assert_string_equal(buf, want);

	/* Nothing the caller passes may split the head. */
	assert_int_equal(http_write_response_head(buf, sizeof(buf), 99, NULL, NULL, -1, NULL), -1);
	assert_int_equal(http_write_response_head(buf, sizeof(buf), 1000, NULL, NULL, -1, NULL), -1);
	assert_int_equal(http_write_response_head(buf, sizeof(buf), 200, "OK\r\nX: y", NULL, -1, NULL),
			 -1);
	assert_int_equal(http_write_response_head(buf, sizeof(buf), 200, NULL, "text/plain\n", -1, NULL),
			 -1);
	assert_int_equal(http_write_response_head(buf, sizeof(buf), 200, NULL, NULL, -1, "A: b"), -1);
	assert_int_equal(http_write_response_head(buf, sizeof(buf), 200, NULL, NULL, -1, "A: b\n"), -1);
	assert_int_equal(http_write_response_head(buf, sizeof(buf), 200, NULL, NULL, -1,
						  "A: b\r\n\r\nbody"),
			 -1);
	assert_int_equal(http_write_response_head(buf, sizeof(buf), 200, NULL, NULL, -1,
						  "A: b\r\n c\r\n"),
			 -1);
	assert_int_equal(http_write_response_head(buf, sizeof(buf), 200, NULL, NULL, -1,
						  "A: b\rc\r\n"),
			 -1);
	assert_int_equal(http_write_response_head(buf, sizeof(buf), 200, NULL, NULL, -1, ""), 19);
}

static void test_media_type(void **state)
{
	(void)state;
	static const struct {
		const char *v;
		bool want;
	} v[] = {
		{ "application/json", true },
		{ "Application/JSON", true },
		{ "application/json; charset=utf-8", true },
		{ "application/json ;charset=utf-8", true },
		{ " application/json", true },
		{ "application/jsonx", false },
		{ "application/json-patch+json", false },
		{ "text/plain", false },
		{ "", false },
		{ ";application/json", false },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct http_span sp = { v[i].v, strlen(v[i].v) };
		if (http_media_type_is(&sp, "application/json") != v[i].want)
			fail_msg("\"%s\"", v[i].v);
	}
	struct http_span sp = { "abc", 3 };
	assert_true(http_span_eq(&sp, "abc"));
	assert_false(http_span_eq(&sp, "ABC"));
	assert_true(http_span_caseeq(&sp, "ABC"));
	assert_false(http_span_caseeq(&sp, "ab"));
	struct http_span empty = { NULL, 0 };
	assert_true(http_span_eq(&empty, ""));
	assert_true(http_span_caseeq(&empty, ""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_go_connect_identifier),
		cmocka_unit_test(test_go_connect_clientid),
		cmocka_unit_test(test_go_connect_every_truncation),
		cmocka_unit_test(test_go_connect_then_yamux),
		cmocka_unit_test(test_connect_lf_only),
		cmocka_unit_test(test_go_control_answer_then_yamux),
		cmocka_unit_test(test_response_crlf_headers),
		cmocka_unit_test(test_response_go_502),
		cmocka_unit_test(test_response_variants),
		cmocka_unit_test(test_response_errors),
		cmocka_unit_test(test_response_too_large),
		cmocka_unit_test(test_mgmt_put_tunnels),
		cmocka_unit_test(test_mgmt_get_clients),
		cmocka_unit_test(test_mgmt_route_equivalents),
		cmocka_unit_test(test_mgmt_expect_continue),
		cmocka_unit_test(test_query_and_forms),
		cmocka_unit_test(test_header_values),
		cmocka_unit_test(test_leading_empty_lines),
		cmocka_unit_test(test_content_length),
		cmocka_unit_test(test_body_too_large),
		cmocka_unit_test(test_transfer_encoding),
		cmocka_unit_test(test_head_size_cap),
		cmocka_unit_test(test_header_count_cap),
		cmocka_unit_test(test_bad_requests),
		cmocka_unit_test(test_fail_fast),
		cmocka_unit_test(test_path_clean_go_table),
		cmocka_unit_test(test_path_clean_small_buffer),
		cmocka_unit_test(test_pct_decode),
		cmocka_unit_test(test_status_reasons),
		cmocka_unit_test(test_write_response_head),
		cmocka_unit_test(test_write_response_head_limits),
		cmocka_unit_test(test_media_type),
	};
	return cmocka_run_group_tests_name("wire/http", tests, NULL, NULL);
}
