/*
 * Unit tests for client/proto: the pure handshake helpers (the CONNECT
 * request bytes, X-Threshold-Features parsing, the server-open preamble,
 * the ClientState names).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "client/client.h"
#include "wire/control_msg.h"

#ifndef THRESHOLD_VERSION
#define THRESHOLD_VERSION "0.0.0"
#endif

/* ---- CONNECT request ---- */

static void test_connect_request_bytes(void **state)
{
	(void)state;
	char buf[1024];
	ssize_t n = client_connect_request(buf, sizeof(buf), "gw.example.com", 9056, "TestClient1",
					   CLIENT_FEATURES_REQUESTED);
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
	n = client_connect_request(buf, sizeof(buf), "::1", 443, "a b", 0);
	assert_true(n > 0);
	assert_string_equal(buf, "CONNECT /_controlPath/ HTTP/1.1\r\n"
				 "Host: [::1]:443\r\n"
				 "User-Agent: threshold/" THRESHOLD_VERSION "\r\n"
				 "X-Threshold-Identifier: a b\r\n"
				 "X-Threshold-ClientId: a b\r\n"
				 "\r\n");
	/* All four features, in the documented order. */
	n = client_connect_request(buf, sizeof(buf), "h", 1, "c",
				   CLIENT_FEAT_DEFERRED_ACK | CLIENT_FEAT_PROXY_V2 | CLIENT_FEAT_HALF_CLOSE |
					   CLIENT_FEAT_SERVER_OPEN);
	assert_true(n > 0);
	assert_non_null(
		strstr(buf, "\r\nX-Threshold-Features: server-open, half-close, proxy-v2, deferred-ack\r\n\r\n"));

	/* No header injection, no empty values. */
	assert_int_equal(client_connect_request(buf, sizeof(buf), "h", 1, "evil\r\nX-A: b", 0), -1);
	assert_int_equal(client_connect_request(buf, sizeof(buf), "h", 1, "evil\n", 0), -1);
	assert_int_equal(client_connect_request(buf, sizeof(buf), "h", 1, "del\x7f", 0), -1);
	assert_int_equal(client_connect_request(buf, sizeof(buf), "h", 1, "", 0), -1);
	assert_int_equal(client_connect_request(buf, sizeof(buf), "h", 1, " lead", 0), -1);
	assert_int_equal(client_connect_request(buf, sizeof(buf), "", 1, "c", 0), -1);
	assert_int_equal(client_connect_request(buf, sizeof(buf), "h h", 1, "c", 0), -1);
	assert_int_equal(client_connect_request(buf, sizeof(buf), "h\r\n", 1, "c", 0), -1);
	/* Too small a buffer: -1, never a cut request. */
	ssize_t full = client_connect_request(buf, sizeof(buf), "h", 1, "c", CLIENT_FEATURES_REQUESTED);
	assert_true(full > 0);
	assert_int_equal(client_connect_request(buf, (size_t)full, "h", 1, "c", CLIENT_FEATURES_REQUESTED), -1);
	assert_int_equal(client_connect_request(buf, (size_t)full + 1, "h", 1, "c", CLIENT_FEATURES_REQUESTED),
			 full);
}

/* ---- feature list ---- */

static unsigned feats(const char *s)
{
	return client_features_parse(s, strlen(s));
}

static void test_features_parse(void **state)
{
	(void)state;
	const unsigned SO = CLIENT_FEAT_SERVER_OPEN, HC = CLIENT_FEAT_HALF_CLOSE, P2 = CLIENT_FEAT_PROXY_V2;
	assert_int_equal(feats("server-open, half-close"), SO | HC);
	assert_int_equal(feats("server-open, half-close, Deferred-ACK"), SO | HC | CLIENT_FEAT_DEFERRED_ACK);
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
	assert_int_equal(client_features_parse(NULL, 0), 0);
	/* Length-bounded: no NUL needed, nothing read past n. */
	assert_int_equal(client_features_parse("half-close, server-open", 10), HC);
}

/* ---- preamble ---- */

static int pre(const char *s, struct control_msg *m, size_t *used)
{
	return client_preamble_parse(s, strlen(s), m, used);
}

static void test_preamble_parse(void **state)
{
	(void)state;
	struct control_msg m;
	size_t used;

	/* The line, then the visitor's bytes. */
	const char *ok = "{\"action\":1,\"service\":\"fooService\"}\nGET / HTTP/1.1\r\n";
	assert_int_equal(pre(ok, &m, &used), CLIENT_PREAMBLE_OK);
	assert_int_equal(used, 36);
	assert_string_equal(m.service, "fooService");
	assert_int_equal(m.action, 1);

	/* Split anywhere before the newline: need more; nothing consumed. */
	for (size_t cut = 0; cut < 36; cut++) {
		used = 99;
		assert_int_equal(client_preamble_parse(ok, cut, &m, &used), CLIENT_PREAMBLE_NEED_MORE);
		assert_int_equal(used, 0);
	}
	assert_int_equal(client_preamble_parse(ok, 36, &m, &used), CLIENT_PREAMBLE_OK);
	assert_int_equal(used, 36);

	/* Go's escapes, unknown fields, case-insensitive keys, CRLF. */
	assert_int_equal(pre("{\"action\":1,\"service\":\"a\\u003cb\\u0026\"}\n", &m, &used), CLIENT_PREAMBLE_OK);
	assert_string_equal(m.service, "a<b&");
	assert_int_equal(pre("{\"Service\":\"x\",\"extra\":[1,2],\"ACTION\":1}\n", &m, &used), CLIENT_PREAMBLE_OK);
	assert_string_equal(m.service, "x");
	assert_int_equal(pre("{\"action\":1,\"service\":\"x\"}\r\nrest", &m, &used), CLIENT_PREAMBLE_OK);
	assert_int_equal(used, 28);

	/* Bad: blank line first, wrong or missing action, not one object,
	 * service not a string, an empty line alone. */
	assert_int_equal(pre("\n{\"action\":1,\"service\":\"x\"}\n", &m, &used), CLIENT_PREAMBLE_E_BAD);
	assert_int_equal(pre("{\"action\":3,\"service\":\"x\"}\n", &m, &used), CLIENT_PREAMBLE_E_BAD);
	assert_int_equal(pre("{\"service\":\"x\"}\n", &m, &used), CLIENT_PREAMBLE_E_BAD);
	assert_int_equal(pre("{\"action\":1.5,\"service\":\"x\"}\n", &m, &used), CLIENT_PREAMBLE_E_BAD);
	assert_int_equal(pre("[1]\n", &m, &used), CLIENT_PREAMBLE_E_BAD);
	assert_int_equal(pre("{\"action\":1,\"service\":\"x\"} {}\n", &m, &used), CLIENT_PREAMBLE_E_BAD);
	assert_int_equal(pre("{\"action\":1,\"service\":7}\n", &m, &used), CLIENT_PREAMBLE_E_BAD);
	assert_int_equal(pre("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", &m, &used), CLIENT_PREAMBLE_E_BAD);
	assert_int_equal(pre("\n", &m, &used), CLIENT_PREAMBLE_E_BAD);
	assert_int_equal(used, 0);

	/* The cap: 4096 bytes including the newline is fine, one more is not. */
	char *big = malloc(CLIENT_PREAMBLE_MAX + 64);
	assert_non_null(big);
	const char *head = "{\"action\":1,\"service\":\"svc\",\"pad\":\"";
	size_t hl = strlen(head);
	memcpy(big, head, hl);
	size_t pad = CLIENT_PREAMBLE_MAX - hl - 3; /* + "\"}\n" = 4096 */
	memset(big + hl, 'p', pad);
	memcpy(big + hl + pad, "\"}\nX", 4);
	assert_int_equal(client_preamble_parse(big, CLIENT_PREAMBLE_MAX + 1, &m, &used), CLIENT_PREAMBLE_OK);
	assert_int_equal(used, CLIENT_PREAMBLE_MAX);
	assert_string_equal(m.service, "svc");
	memset(big + hl, 'p', pad + 1);
	memcpy(big + hl + pad + 1, "\"}\n", 3);
	assert_int_equal(client_preamble_parse(big, CLIENT_PREAMBLE_MAX + 1, &m, &used), CLIENT_PREAMBLE_E_TOO_LONG);
	/* 4096 bytes without a newline: too long, whatever follows. */
	memset(big, 'x', CLIENT_PREAMBLE_MAX);
	assert_int_equal(client_preamble_parse(big, CLIENT_PREAMBLE_MAX, &m, &used), CLIENT_PREAMBLE_E_TOO_LONG);
	assert_int_equal(client_preamble_parse(big, CLIENT_PREAMBLE_MAX - 1, &m, &used), CLIENT_PREAMBLE_NEED_MORE);
	free(big);
}

static void test_state_names(void **state)
{
	(void)state;
	assert_string_equal(client_conn_state_name(CLIENT_ST_UNKNOWN), "ClientUnknown");
	assert_string_equal(client_conn_state_name(CLIENT_ST_STARTED), "ClientStarted");
	assert_string_equal(client_conn_state_name(CLIENT_ST_CONNECTING), "ClientConnecting");
	assert_string_equal(client_conn_state_name(CLIENT_ST_CONNECTED), "ClientConnected");
	assert_string_equal(client_conn_state_name(CLIENT_ST_DISCONNECTED), "ClientDisconnected");
	assert_string_equal(client_conn_state_name(CLIENT_ST_CLOSED), "ClientClosed");
	assert_int_equal(CLIENT_ST_CONNECTED, 3); /* the original's numbers */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connect_request_bytes),
		cmocka_unit_test(test_features_parse),
		cmocka_unit_test(test_preamble_parse),
		cmocka_unit_test(test_state_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
