/*
 * Fuzz target for wire/handshake.
 *
 * The input is used as:
 *   1. the server's answer as the client reads it: a documented result,
 *      spans inside the input, every proper prefix of a complete head
 *      "need more", features that survive build -> parse;
 *   2. a CONNECT request head as the server reads it (http_request_parse,
 *      then handshake_request_parse): the id obeys the rules, and a request
 *      our client builds for that id and features gives them back;
 *   3. an X-Threshold-Features value: format(parse(x)) parses to the same;
 *   4. stream-1 bytes for controlHandshake / controlOk, fed in two pieces
 *      split at the first byte's value: the same answer as one piece;
 *   5. a server-open stream's first bytes: a documented result, and an OK
 *      preamble re-encoded by the server's encoder parses to the same name.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/control_msg.h"
#include "wire/handshake.h"
#include "wire/http.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

static bool span_inside(const struct http_span *sp, const char *buf, size_t len)
{
	if (sp->len == 0)
		return true;
	return sp->p >= buf && sp->p + sp->len <= buf + len;
}

static void fuzz_answer(const char *buf, size_t len)
{
	struct handshake_answer a;
	size_t used = 0;
	int rc = handshake_answer_parse(buf, len, &a, &used);
	CHECK(rc == HANDSHAKE_OK || rc == HANDSHAKE_NEED_MORE || rc == HANDSHAKE_E_HEAD ||
	      rc == HANDSHAKE_E_REFUSED);
	CHECK(used <= len);
	if (rc == HANDSHAKE_NEED_MORE || rc == HANDSHAKE_E_HEAD) {
		CHECK(used == 0 && a.features == 0 && a.status == 0);
		CHECK((rc == HANDSHAKE_E_HEAD) == (a.error != NULL));
		return;
	}
	CHECK(used > 0 && buf[used - 1] == '\n' && a.error == NULL);
	CHECK(span_inside(&a.reason, buf, len));
	CHECK((a.features & ~(unsigned)HANDSHAKE_FEATURES_KNOWN) == 0);
	if (rc == HANDSHAKE_OK)
		CHECK(a.status == 200);
	else
		CHECK(a.features == 0);
	/* The complete head minus its last byte is incomplete, not an error. */
	struct handshake_answer b;
	size_t u2 = 0;
	CHECK(handshake_answer_parse(buf, used - 1, &b, &u2) == HANDSHAKE_NEED_MORE);
	if (rc != HANDSHAKE_OK)
		return;
	/* What the server would write for these features reads back the same. */
	char out[HANDSHAKE_ANSWER_BUF];
	ssize_t n = handshake_answer_build(out, sizeof(out), a.features);
	CHECK(n > 0);
	CHECK(handshake_answer_parse(out, (size_t)n, &b, &u2) == HANDSHAKE_OK);
	CHECK(u2 == (size_t)n && b.features == a.features);
}

static void fuzz_request(const char *buf, size_t len)
{
	static struct http_request req; /* 2 KiB of headers: not on the fuzzer's stack */
	const struct http_limits lim = {HTTP_HEAD_MAX_DEFAULT, 1u << 20};
	size_t used = 0;
	if (http_request_parse(buf, len, &lim, &req, &used) != HTTP_OK)
		return;
	struct handshake_request r;
	int rc = handshake_request_parse(&req, &r);
	CHECK(rc == HANDSHAKE_OK || rc == HANDSHAKE_E_METHOD || rc == HANDSHAKE_E_ID_DIFFER ||
	      rc == HANDSHAKE_E_ID);
	if (rc != HANDSHAKE_OK) {
		CHECK(r.id.len == 0 && r.features == 0);
		return;
	}
	CHECK(r.id.len >= 1 && r.id.len <= HANDSHAKE_ID_MAX && span_inside(&r.id, buf, len));
	char id[HANDSHAKE_ID_MAX + 1];
	for (size_t i = 0; i < r.id.len; i++) {
		unsigned char c = (unsigned char)r.id.p[i];
		CHECK(c >= 0x21 && c != 0x7f);
		id[i] = (char)c;
	}
	id[r.id.len] = '\0';
	/* Our client's request for the same id and features gives them back. */
	char out[1024];
	ssize_t n = handshake_request_build(out, sizeof(out), "gw.example", 9056, id, r.features);
	CHECK(n > 0);
	static struct http_request req2;
	size_t u2 = 0;
	CHECK(http_request_parse(out, (size_t)n, &lim, &req2, &u2) == HTTP_OK && u2 == (size_t)n);
	struct handshake_request r2;
	CHECK(handshake_request_parse(&req2, &r2) == HANDSHAKE_OK);
	CHECK(r2.id.len == r.id.len && memcmp(r2.id.p, id, r.id.len) == 0);
	CHECK(r2.features == (r.features & (unsigned)HANDSHAKE_FEATURES_KNOWN));
	/* The grant never adds a bit and keeps deferred-ack only with server-open. */
	unsigned g = handshake_features_grant(r.features, HANDSHAKE_FEATURES_OURS);
	CHECK((g & ~r.features) == 0);
	CHECK(!(g & HANDSHAKE_FEAT_DEFERRED_ACK) || (g & HANDSHAKE_FEAT_SERVER_OPEN));
}

static void fuzz_features(const char *buf, size_t len)
{
	unsigned f = handshake_features_parse(buf, len);
	CHECK((f & ~(unsigned)HANDSHAKE_FEATURES_KNOWN) == 0);
	char out[HANDSHAKE_FEATURES_BUF];
	ssize_t n = handshake_features_format(out, sizeof(out), f);
	CHECK(n >= 0 && (size_t)n < sizeof(out) && out[n] == '\0');
	CHECK(handshake_features_parse(out, (size_t)n) == f);
}

static void fuzz_match(const uint8_t *data, size_t size, bool expect_ok)
{
	struct handshake_match one, two;
	size_t u1 = 0, ua = 0, ub = 0;
	handshake_match_init(&one, expect_ok);
	handshake_match_init(&two, expect_ok);
	int r1 = handshake_match_feed(&one, data, size, &u1);
	CHECK(u1 <= size);
	if (r1 == HANDSHAKE_NEED_MORE)
		CHECK(u1 == size && one.got == size);
	else if (r1 == HANDSHAKE_OK)
		CHECK(u1 == one.want_len && memcmp(data, one.want, u1) == 0);
	else
		CHECK(r1 == HANDSHAKE_E_MISMATCH && u1 == one.got && data[u1] != (uint8_t)one.want[u1]);
	size_t split = size ? data[0] % (size + 1) : 0;
	int ra = handshake_match_feed(&two, data, split, &ua);
	int rb = ra == HANDSHAKE_NEED_MORE ? handshake_match_feed(&two, data + split, size - split, &ub) : ra;
	CHECK(rb == r1 && two.got == one.got);
	if (ra == HANDSHAKE_NEED_MORE)
		CHECK(ua + ub == u1);
	else
		CHECK(ua == u1);
}

static void fuzz_preamble(const char *buf, size_t len)
{
	struct control_msg m;
	size_t used = 99;
	int rc = handshake_preamble_parse(buf, len, &m, &used);
	CHECK(rc == HANDSHAKE_OK || rc == HANDSHAKE_NEED_MORE || rc == HANDSHAKE_E_TOO_LONG ||
	      rc == HANDSHAKE_E_PREAMBLE);
	if (rc == HANDSHAKE_NEED_MORE)
		CHECK(len < HANDSHAKE_PREAMBLE_MAX && memchr(buf, '\n', len) == NULL);
	if (rc != HANDSHAKE_OK) {
		CHECK(used == 0);
		return;
	}
	CHECK(used >= 1 && used <= len && used <= HANDSHAKE_PREAMBLE_MAX && buf[used - 1] == '\n');
	CHECK(memchr(buf, '\n', used - 1) == NULL && m.action == CONTROL_ACTION_REQUEST_CLIENT_SESSION);
	char out[HANDSHAKE_PREAMBLE_BUF];
	ssize_t n = handshake_preamble_encode(out, sizeof(out), m.service, m.service_len);
	CHECK(n > 0 && n < HANDSHAKE_PREAMBLE_MAX);
	struct control_msg back;
	size_t u2;
	CHECK(handshake_preamble_parse(out, (size_t)n, &back, &u2) == HANDSHAKE_OK && u2 == (size_t)n);
	CHECK(back.service_len == m.service_len && memcmp(back.service, m.service, m.service_len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	fuzz_answer(buf, size);
	fuzz_request(buf, size);
	fuzz_features(buf, size);
	fuzz_match(data, size, false);
	fuzz_match(data, size, true);
	fuzz_preamble(buf, size);
	return 0;
}
