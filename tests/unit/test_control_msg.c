/*
 * Unit tests for wire/control_msg: the JSON lines on the control stream.
 *
 * Encoder vectors are what Go's json.Encoder writes for
 * ControlMessage{Action, Service} (go-original.md §2.4): field order action,
 * service; HTML-safe escapes; a trailing '\n'. Each is decoded back. Decoder
 * vectors cover Go's tolerance (unknown fields, any key case, null) and what
 * we refuse (wrong types, over-long lines and names).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/control_msg.h"

#define LIT(s) s, (sizeof(s) - 1)

static int decode(const char *s, size_t len, struct control_msg *m, size_t *consumed)
{
	return control_msg_decode(s, len, m, consumed);
}

/* The usage example's message, byte by byte. */
static void test_encode_usage_example(void **state)
{
	(void)state;
	static const char want[] =
		"{"			/* object */
		"\"action\":1"		/* Action = RequestClientSession */
		","
		"\"service\":\"fooService\"" /* BackEndService from tunnels.json */
		"}"
		"\n";			/* json.Encoder terminator */
	char out[CONTROL_MSG_ENCODED_MAX];
	ssize_t n = control_msg_encode(out, sizeof(out), CONTROL_ACTION_REQUEST_CLIENT_SESSION,
				       LIT("fooService"));
	assert_int_equal(n, sizeof(want) - 1);
	assert_int_equal(n, 36);
	assert_memory_equal(out, want, sizeof(want));

	struct control_msg m;
	size_t consumed = 0;
	assert_int_equal(decode(out, (size_t)n, &m, &consumed), CONTROL_MSG_OK);
	assert_int_equal(consumed, 36);
	assert_int_equal(m.action, 1);
	assert_int_equal(m.service_len, 10);
	assert_string_equal(m.service, "fooService");
}

/* Empty service: the listen port is used instead upstream, but "" must still encode. */
static void test_encode_forward_proxy(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(control_msg_encode(out, sizeof(out), CONTROL_ACTION_REQUEST_FORWARD_PROXY,
					    "", 0),
			 26);
	assert_string_equal(out, "{\"action\":3,\"service\":\"\"}\n");
	assert_int_equal(control_msg_encode(out, sizeof(out), INT64_MIN, LIT("9000")), 49);
	assert_string_equal(out, "{\"action\":-9223372036854775808,\"service\":\"9000\"}\n");
	struct control_msg m;
	size_t c;
	assert_int_equal(decode(out, 49, &m, &c), CONTROL_MSG_OK);
	assert_true(m.action == INT64_MIN);
	assert_string_equal(m.service, "9000");
}

/*
 * Go escaping (encoding/json, escapeHTML, Go 1.14). `in` is the raw service,
 * `json` what Go writes between the quotes, `back` what decoding gives.
 */
struct esc_vec {
	const char *why;
	const char *in;
	size_t in_len;
	const char *json;
	const char *back;
};
#define E(why, in, json, back) { why, in, sizeof(in) - 1, json, back }

static const struct esc_vec esc[] = {
	E("HTML-unsafe", "<a&b>", "\\u003ca\\u0026b\\u003e", "<a&b>"),
	E("quote, backslash", "a\"b\\c", "a\\\"b\\\\c", "a\"b\\c"),
	E("short escapes", "\n\r\t", "\\n\\r\\t", "\n\r\t"),
	E("other C0 as \\u00XX, lowercase hex", "\x01\x08\x0c\x1b\x1f",
	  "\\u0001\\u0008\\u000c\\u001b\\u001f", "\x01\x08\x0c\x1b\x1f"),
	E("DEL and / are not escaped", "\x7f/", "\x7f/", "\x7f/"),
	E("U+2028 U+2029", "a\xe2\x80\xa8" "b\xe2\x80\xa9", "a\\u2028b\\u2029",
	  "a\xe2\x80\xa8" "b\xe2\x80\xa9"),
	E("U+2027 is not escaped", "\xe2\x80\xa7", "\xe2\x80\xa7", "\xe2\x80\xa7"),
	E("2-, 3-, 4-byte UTF-8 as is", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
	  "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),
	E("literal U+FFFD as is", "\xef\xbf\xbd", "\xef\xbf\xbd", "\xef\xbf\xbd"),
	E("invalid byte", "a\xff" "b", "a\\ufffdb", "a\xef\xbf\xbd" "b"),
	E("lone continuation", "\x80", "\\ufffd", "\xef\xbf\xbd"),
	E("truncated 2-byte at end", "a\xc3", "a\\ufffd", "a\xef\xbf\xbd"),
	E("truncated 3-byte: one per byte", "\xe2\x82", "\\ufffd\\ufffd",
	  "\xef\xbf\xbd\xef\xbf\xbd"),
	E("overlong /", "\xc0\xaf", "\\ufffd\\ufffd", "\xef\xbf\xbd\xef\xbf\xbd"),
	E("overlong 3-byte", "\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd",
	  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
	E("surrogate U+D800", "\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd",
	  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
	E("above U+10FFFF", "\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd",
	  "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"),
	E("U+10FFFF as is", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf", "\xf4\x8f\xbf\xbf"),
	E("invalid then valid", "\xe2(\xc3\xa9", "\\ufffd(\xc3\xa9", "\xef\xbf\xbd(\xc3\xa9"),
};

static void test_encode_go_escapes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(esc) / sizeof(esc[0]); i++) {
		char want[256], out[CONTROL_MSG_ENCODED_MAX];
		int wn = snprintf(want, sizeof(want), "{\"action\":1,\"service\":\"%s\"}\n", esc[i].json);
		ssize_t n = control_msg_encode(out, sizeof(out), 1, esc[i].in, esc[i].in_len);
		if (n != wn || memcmp(out, want, (size_t)wn) != 0)
			fail_msg("%s: got %.*s want %s", esc[i].why, (int)n, out, want);

		struct control_msg m;
		size_t consumed;
		int rc = decode(out, (size_t)n, &m, &consumed);
		if (rc != CONTROL_MSG_OK || consumed != (size_t)n)
			fail_msg("%s: decode rc %d", esc[i].why, rc);
		assert_int_equal(m.action, 1);
		assert_int_equal(m.service_len, strlen(esc[i].back));
		assert_memory_equal(m.service, esc[i].back, m.service_len + 1);
	}
}

/* NUL encodes as \u0000 (as Go) but is refused when decoded: no NUL in names. */
static void test_nul_in_service(void **state)
{
	(void)state;
	char out[64];
	ssize_t n = control_msg_encode(out, sizeof(out), 1, "a\0b", 3);
	assert_int_equal(n, 34);
	assert_string_equal(out, "{\"action\":1,\"service\":\"a\\u0000b\"}\n");
	struct control_msg m;
	size_t c = 7;
	assert_int_equal(decode(out, (size_t)n, &m, &c), CONTROL_MSG_E_FIELD);
	assert_int_equal(c, 0);
}

static void test_encode_limits(void **state)
{
	(void)state;
	char name[CONTROL_MSG_SERVICE_MAX + 1];
	char out[CONTROL_MSG_ENCODED_MAX];

	/* Worst case: every byte needs a 6-byte escape, and the longest action. */
	memset(name, '<', sizeof(name));
	ssize_t n = control_msg_encode(out, sizeof(out), INT64_MIN, name, CONTROL_MSG_SERVICE_MAX);
	assert_int_equal(n, CONTROL_MSG_ENCODED_MAX - 1);
	assert_int_equal(control_msg_encode(out, sizeof(out), 1, name, CONTROL_MSG_SERVICE_MAX + 1),
			 CONTROL_MSG_E_SERVICE);

	/* Every buffer shorter than length + NUL fails, none overflows. */
	static const char want[] = "{\"action\":1,\"service\":\"\\u003cx\"}\n";
	for (size_t cap = 0; cap < sizeof(want); cap++) {
		char *small = malloc(cap ? cap : 1);
		assert_int_equal(control_msg_encode(small, cap, 1, "<x", 2), CONTROL_MSG_E_BUF);
		free(small);
	}
	assert_int_equal(control_msg_encode(out, sizeof(want), 1, "<x", 2), sizeof(want) - 1);
	assert_string_equal(out, want);

	/* The longest plain name round-trips; the decoded form is within the cap. */
	memset(name, 'a', sizeof(name));
	n = control_msg_encode(out, sizeof(out), 1, name, CONTROL_MSG_SERVICE_MAX);
	struct control_msg m;
	size_t c;
	assert_int_equal(decode(out, (size_t)n, &m, &c), CONTROL_MSG_OK);
	assert_int_equal(m.service_len, CONTROL_MSG_SERVICE_MAX);
}

/* Decoder: what Go's decoder accepts into ControlMessage. */
static void test_decode_go_tolerance(void **state)
{
	(void)state;
	static const struct {
		const char *why;
		const char *line;
		int64_t action;
		const char *service;
	} v[] = {
		{ "unknown fields ignored",
		  "{\"action\":1,\"service\":\"x\",\"requestId\":7,\"extra\":[1,{\"a\":null}]}\n", 1, "x" },
		{ "reversed order", "{\"service\":\"x\",\"action\":1}\n", 1, "x" },
		{ "key case ignored", "{\"Action\":1,\"SERVICE\":\"x\"}\n", 1, "x" },
		{ "whitespace and CRLF", " \t{ \"action\" : 1 ,\r\"service\" : \"x\" } \r\n", 1, "x" },
		{ "missing fields", "{}\n", 0, "" },
		{ "null fields", "{\"action\":null,\"service\":null}\n", 0, "" },
		{ "last duplicate wins", "{\"action\":1,\"action\":3,\"service\":\"a\",\"service\":\"b\"}\n",
		  3, "b" },
		{ "case duplicate: last wins", "{\"action\":1,\"ACTION\":3}\n", 3, "" },
		{ "escapes decoded", "{\"action\":1,\"service\":\"\\u003c\\/\\u00e9\\ud83d\\ude00\"}\n", 1,
		  "</\xc3\xa9\xf0\x9f\x98\x80" },
		{ "negative and zero action", "{\"action\":-0}\n", 0, "" },
		{ "action 2", "{\"action\":2}\n", 2, "" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct control_msg m;
		size_t consumed;
		size_t len = strlen(v[i].line);
		int rc = decode(v[i].line, len, &m, &consumed);
		if (rc != CONTROL_MSG_OK)
			fail_msg("%s: rc %d", v[i].why, rc);
		assert_int_equal(consumed, len);
		assert_int_equal(m.action, v[i].action);
		assert_string_equal(m.service, v[i].service);
		assert_int_equal(m.service_len, strlen(v[i].service));
	}
}

static void test_decode_errors(void **state)
{
	(void)state;
	static const struct {
		const char *why;
		const char *line;
		int rc;
	} v[] = {
		{ "action as string", "{\"action\":\"1\"}\n", CONTROL_MSG_E_FIELD },
		{ "action with fraction", "{\"action\":1.0}\n", CONTROL_MSG_E_FIELD },
		{ "action with exponent", "{\"action\":1e0}\n", CONTROL_MSG_E_FIELD },
		{ "action bool", "{\"action\":true}\n", CONTROL_MSG_E_FIELD },
		{ "action object", "{\"action\":{}}\n", CONTROL_MSG_E_FIELD },
		{ "service number", "{\"action\":1,\"service\":1}\n", CONTROL_MSG_E_FIELD },
		{ "service array", "{\"service\":[\"x\"]}\n", CONTROL_MSG_E_FIELD },
		{ "NUL escape in service", "{\"service\":\"a\\u0000\"}\n", CONTROL_MSG_E_FIELD },
		{ "array", "[1]\n", CONTROL_MSG_E_JSON },
		{ "string", "\"x\"\n", CONTROL_MSG_E_JSON },
		{ "null", "null\n", CONTROL_MSG_E_JSON },
		{ "number", "1\n", CONTROL_MSG_E_JSON },
		{ "unterminated", "{\"action\":1\n", CONTROL_MSG_E_JSON },
		{ "two values", "{\"action\":1}{\"action\":1}\n", CONTROL_MSG_E_JSON },
		{ "trailing comma", "{\"action\":1,}\n", CONTROL_MSG_E_JSON },
		{ "single quotes", "{'action':1}\n", CONTROL_MSG_E_JSON },
		{ "action overflow", "{\"action\":99999999999999999999}\n", CONTROL_MSG_E_JSON },
		{ "raw invalid UTF-8", "{\"service\":\"\xff\"}\n", CONTROL_MSG_E_JSON },
		{ "raw control byte", "{\"service\":\"\x01\"}\n", CONTROL_MSG_E_JSON },
		{ "garbage", "controlOk\n", CONTROL_MSG_E_JSON },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct control_msg m;
		size_t consumed = 99;
		int rc = decode(v[i].line, strlen(v[i].line), &m, &consumed);
		if (rc != v[i].rc)
			fail_msg("%s: rc %d want %d", v[i].why, rc, v[i].rc);
		assert_int_equal(consumed, 0);
		assert_int_equal(m.service_len, 0);
	}
}

static void test_decode_service_length(void **state)
{
	(void)state;
	char line[CONTROL_MSG_LINE_MAX];
	struct control_msg m;
	size_t c;

	/* 255 bytes: fine; 256: refused. */
	int n = snprintf(line, sizeof(line), "{\"action\":1,\"service\":\"%0255d\"}\n", 0);
	assert_int_equal(decode(line, (size_t)n, &m, &c), CONTROL_MSG_OK);
	assert_int_equal(m.service_len, 255);
	n = snprintf(line, sizeof(line), "{\"action\":1,\"service\":\"%0256d\"}\n", 0);
	assert_int_equal(decode(line, (size_t)n, &m, &c), CONTROL_MSG_E_SERVICE);

	/* The cap is on decoded bytes: 255 escapes of 6 bytes each still fit. */
	n = snprintf(line, sizeof(line), "{\"action\":1,\"service\":\"");
	for (int i = 0; i < 255; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "\\u0041");
	n += snprintf(line + n, sizeof(line) - (size_t)n, "\"}\n");
	assert_int_equal(decode(line, (size_t)n, &m, &c), CONTROL_MSG_OK);
	assert_int_equal(m.service_len, 255);
	assert_int_equal(m.service[254], 'A');
	/* Two-byte characters count as two. */
	n = snprintf(line, sizeof(line), "{\"service\":\"");
	for (int i = 0; i < 128; i++)
		n += snprintf(line + n, sizeof(line) - (size_t)n, "\xc3\xa9");
	n += snprintf(line + n, sizeof(line) - (size_t)n, "\"}\n");
	assert_int_equal(decode(line, (size_t)n, &m, &c), CONTROL_MSG_E_SERVICE);
}

/* Every prefix of a line, even a complete JSON object without its '\n', needs more. */
static void test_decode_every_truncation(void **state)
{
	(void)state;
	static const char line[] = "{\"action\":1,\"service\":\"\\u003cfoo\\u003e\"}\n";
	for (size_t k = 0; k < sizeof(line) - 1; k++) {
		struct control_msg m;
		size_t consumed = 99;
		int rc = decode(line, k, &m, &consumed);
		if (rc != CONTROL_MSG_NEED_MORE)
			fail_msg("prefix %zu: rc %d", k, rc);
		assert_int_equal(consumed, 0);
	}
	struct control_msg m;
	size_t consumed;
	assert_int_equal(decode(LIT(line), &m, &consumed), CONTROL_MSG_OK);
	assert_string_equal(m.service, "<foo>");
}

/* Several messages in one read (Go writes one per visitor, back to back). */
static void test_decode_stream(void **state)
{
	(void)state;
	static const char s[] = "{\"action\":1,\"service\":\"a\"}\n"
				"\n"		/* blank line: skipped (Go skips whitespace) */
				" \r\n"
				"{\"action\":1,\"service\":\"b\"}\n"
				"{\"action\":1,\"serv"; /* partial third */
	size_t pos = 0, consumed;
	struct control_msg m;

	assert_int_equal(decode(s + pos, sizeof(s) - 1 - pos, &m, &consumed), CONTROL_MSG_OK);
	assert_string_equal(m.service, "a");
	assert_int_equal(consumed, 27);
	pos += consumed;
	assert_int_equal(decode(s + pos, sizeof(s) - 1 - pos, &m, &consumed), CONTROL_MSG_OK);
	assert_string_equal(m.service, "b");
	assert_int_equal(consumed, 1 + 3 + 27);
	pos += consumed;
	assert_int_equal(decode(s + pos, sizeof(s) - 1 - pos, &m, &consumed), CONTROL_MSG_NEED_MORE);
	assert_int_equal(consumed, 0);

	/* Only blank lines: they may be dropped while waiting. */
	assert_int_equal(decode(LIT("\n\r\n \t\n"), &m, &consumed), CONTROL_MSG_NEED_MORE);
	assert_int_equal(consumed, 6);
	assert_int_equal(decode(LIT("\n\n{\"act"), &m, &consumed), CONTROL_MSG_NEED_MORE);
	assert_int_equal(consumed, 2);
	assert_int_equal(decode("", 0, &m, &consumed), CONTROL_MSG_NEED_MORE);
	assert_int_equal(consumed, 0);
}

static void test_decode_line_cap(void **state)
{
	(void)state;
	static char buf[CONTROL_MSG_LINE_MAX + 16];
	struct control_msg m;
	size_t c;

	/* A line of exactly CONTROL_MSG_LINE_MAX bytes, '\n' included, padded with spaces. */
	static const char msg[] = "{\"action\":1,\"service\":\"x\"}";
	memset(buf, ' ', sizeof(buf));
	memcpy(buf, msg, sizeof(msg) - 1);
	buf[CONTROL_MSG_LINE_MAX - 1] = '\n';
	assert_int_equal(decode(buf, CONTROL_MSG_LINE_MAX, &m, &c), CONTROL_MSG_OK);
	assert_int_equal(c, CONTROL_MSG_LINE_MAX);

	/* One byte longer: refused once LINE_MAX bytes have arrived without '\n'. */
	buf[CONTROL_MSG_LINE_MAX - 1] = ' ';
	buf[CONTROL_MSG_LINE_MAX] = '\n';
	assert_int_equal(decode(buf, CONTROL_MSG_LINE_MAX - 1, &m, &c), CONTROL_MSG_NEED_MORE);
	assert_int_equal(decode(buf, CONTROL_MSG_LINE_MAX, &m, &c), CONTROL_MSG_E_TOO_LONG);
	assert_int_equal(decode(buf, CONTROL_MSG_LINE_MAX + 1, &m, &c), CONTROL_MSG_E_TOO_LONG);

	/* The cap counts from the start of the line, after skipped blank lines. */
	memset(buf, '\n', 10);
	memset(buf + 10, ' ', CONTROL_MSG_LINE_MAX);
	memcpy(buf + 10, msg, sizeof(msg) - 1);
	buf[10 + CONTROL_MSG_LINE_MAX - 1] = '\n';
	assert_int_equal(decode(buf, 10 + CONTROL_MSG_LINE_MAX, &m, &c), CONTROL_MSG_OK);
	assert_int_equal(c, 10 + CONTROL_MSG_LINE_MAX);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_encode_usage_example),
		cmocka_unit_test(test_encode_forward_proxy),
		cmocka_unit_test(test_encode_go_escapes),
		cmocka_unit_test(test_nul_in_service),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_decode_go_tolerance),
		cmocka_unit_test(test_decode_errors),
		cmocka_unit_test(test_decode_service_length),
		cmocka_unit_test(test_decode_every_truncation),
		cmocka_unit_test(test_decode_stream),
		cmocka_unit_test(test_decode_line_cap),
	};
	return cmocka_run_group_tests_name("wire/control_msg", tests, NULL, NULL);
}
