/*
 * Unit tests for tunnel/config_json: the locator over annotated texts
 * (nested paths, positions after multi-byte UTF-8 and escapes, duplicate
 * keys), loading (cap, BOM, empty, NUL, syntax, duplicates, top value) and
 * the message format "NAME[:LINE:COL]: [PATH: ]MESSAGE".
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "tunnel/config_json.h"

#define ERRLEN 512

static struct config_pos locate(const char *t, const struct config_path *p, size_t depth,
				bool at_key)
{
	struct config_pos pos = { 0, 0, 0, 0 };
	assert_int_equal(config_json_locate(t, strlen(t), p, depth, at_key, &pos), 0);
	return pos;
}

static void test_locate_nested(void **state)
{
	(void)state;
	static const char t[] =
		"{\"srv\": {\n"				/* line 1 */
		"  \"list\": [ {\"x\": 1}, {\"y\": [7, 8]} ],\n"	/* line 2 */
		"  \"z\": \"end\"}}";			/* line 3 */
	struct config_path p[4] = { { "srv", 0 }, { "list", 0 }, { NULL, 1 }, { "y", 0 } };
	/* srv.list[1].y: the array [7, 8] at line 2, column 29. */
	struct config_pos pos = locate(t, p, 4, false);
	assert_int_equal(pos.line, 2);
	assert_int_equal(pos.col, 29);
	assert_int_equal(pos.len, 6);
	assert_memory_equal(t + pos.off, "[7, 8]", 6);
	/* Its key "y" at column 24. */
	pos = locate(t, p, 4, true);
	assert_int_equal(pos.col, 24);
	assert_memory_equal(t + pos.off, "\"y\"", 3);
	/* srv.list[1]: {"y": ...} at column 23, srv.list[0] at 13. */
	pos = locate(t, p, 3, false);
	assert_int_equal(pos.col, 23);
	p[2].index = 0;
	pos = locate(t, p, 3, false);
	assert_int_equal(pos.col, 13);
	assert_memory_equal(t + pos.off, "{\"x\": 1}", 8);
	/* srv.z: line 3, column 8. */
	struct config_path z[2] = { { "srv", 0 }, { "z", 0 } };
	pos = locate(t, z, 2, false);
	assert_int_equal(pos.line, 3);
	assert_int_equal(pos.col, 8);
	assert_memory_equal(t + pos.off, "\"end\"", 5);
	/* Not there: a missing key, an index past the end, a key into an
	 * array, an index into an object. */
	struct config_pos none;
	struct config_path bad[3] = { { "srv", 0 }, { "nope", 0 }, { NULL, 0 } };
	assert_int_equal(config_json_locate(t, strlen(t), bad, 2, false, &none), -1);
	bad[1] = (struct config_path){ "list", 0 };
	bad[2] = (struct config_path){ NULL, 2 };
	assert_int_equal(config_json_locate(t, strlen(t), bad, 3, false, &none), -1);
	bad[2] = (struct config_path){ "x", 0 };
	assert_int_equal(config_json_locate(t, strlen(t), bad, 3, false, &none), -1);
	bad[1] = (struct config_path){ NULL, 0 };
	assert_int_equal(config_json_locate(t, strlen(t), bad, 2, false, &none), -1);
}

static void test_locate_utf8_and_escapes(void **state)
{
	(void)state;
	/* Line 1: {"é€😀": 1, "a\u00e9\"": 2, "k": "\\\"x"}
	 * columns count characters: é, € and 😀 are one each (2, 3 and 4
	 * bytes), an escape counts as the characters written. */
	static const char t[] =
		"{\"\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\": 1, "	/* cols 1-10: {"é€😀": 1, */
		"\"a\\u00e9\\\"\": 2, "				/* cols 12-26 */
		"\"k\": \"\\\\\\\"x\"}";				/* cols 28-40 */
	struct config_path p[1] = { { "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 0 } };
	struct config_pos pos = locate(t, p, 1, false);
	assert_int_equal(pos.line, 1);
	assert_int_equal(pos.col, 9);		/* the 1: byte 14, character 9 */
	assert_int_equal(pos.off, 14);
	pos = locate(t, p, 1, true);
	assert_int_equal(pos.col, 2);
	assert_int_equal(pos.len, 11);		/* quotes + 9 bytes */
	/* "a\u00e9\"" decodes to a é " and is found by its decoded form. */
	p[0].key = "a\xC3\xA9\"";
	pos = locate(t, p, 1, false);
	assert_int_equal(pos.col, 25);
	assert_memory_equal(t + pos.off, "2", 1);
	pos = locate(t, p, 1, true);
	assert_int_equal(pos.col, 12);
	assert_memory_equal(t + pos.off, "\"a\\u00e9\\\"\"", 11);
	/* A string value with escaped quotes is skipped whole. */
	p[0].key = "k";
	pos = locate(t, p, 1, false);
	assert_int_equal(pos.col, 33);
	assert_memory_equal(t + pos.off, "\"\\\\\\\"x\"", 7);
	/* Lines restart the column; a CR is an ordinary character. */
	static const char l[] = "{\n\r\n  \"a\":\t1}";
	p[0].key = "a";
	pos = locate(l, p, 1, false);
	assert_int_equal(pos.line, 3);
	assert_int_equal(pos.col, 8);
}

static void test_locate_duplicates(void **state)
{
	(void)state;
	/* The first of duplicate keys wins, also when spelled with an escape. */
	static const char t[] = "{\"a\": 1, \"\\u0061\": 2, \"a\": 3}";
	struct config_path p[1] = { { "a", 0 } };
	struct config_pos pos = locate(t, p, 1, false);
	assert_memory_equal(t + pos.off, "1", 1);
	assert_int_equal(pos.col, 7);
}

static void test_locate_bounded(void **state)
{
	(void)state;
	struct config_pos pos;
	struct config_path p[1] = { { "a", 0 } };
	/* Cut texts, bad escapes and non-JSON answer -1, never read past. */
	static const char *const bad[] = { "", "{", "{\"a\"", "{\"a\":", "{\"a", "{\"\\u12\": 1}",
					   "{\"\\q\": 1}", "[1]", "{\"b\" 1}", "{\"b\": 1 \"a\": 2}" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(config_json_locate(bad[i], strlen(bad[i]), p, 1, false, &pos), -1);
	assert_int_equal(config_json_locate(NULL, 0, NULL, 0, false, &pos), -1);
	assert_int_equal(config_json_locate("1", 1, NULL, 1, false, &pos), -1);
	/* Deep nesting costs no stack: the locator is iterative. */
	static char deep[200001];
	memset(deep, '[', 100000);
	memset(deep + 100000, ']', 100000);
	assert_int_equal(config_json_locate(deep, 200000, NULL, 0, false, &pos), 0);
	assert_int_equal(pos.len, 200000);
}

/* A doc named `name` over a fresh message buffer. */
static struct config_json_doc doc(const char *name, char *err)
{
	struct config_json_doc d = { name, "", 0, err, ERRLEN };
	return d;
}

static void expect_load_error(const char *text, size_t len, size_t cap, const char *want)
{
	char err[ERRLEN];
	struct config_json_doc d = doc("f.json", err);
	assert_null(config_json_load(&d, text, len, cap));
	assert_string_equal(err, want);
}

static void test_load_errors(void **state)
{
	(void)state;
	expect_load_error("{}", 2, 1, "f.json: larger than 1 bytes");
	expect_load_error(NULL, 0, 100, "f.json: empty file, expected a JSON object");
	expect_load_error(" \n\t", 3, 100, "f.json: empty file, expected a JSON object");
	expect_load_error("\xEF\xBB\xBF", 3, 100, "f.json: empty file, expected a JSON object");
	expect_load_error("{\n \"a\":\0}", 9, 100, "f.json:2:6: NUL byte in the file");
	expect_load_error("[1, 2]", 6, 100, "f.json:1:1: expected a JSON object, got an array");
	/* jansson itself refuses a scalar at the top. */
	expect_load_error("  \"s\"", 5, 100, "f.json:1:5: '[' or '{' expected near '\"s\"'");
	/* A duplicate points at the second key's opening quote (jansson points
	 * at its last character). */
	expect_load_error("{\"a\": 1,\n  \"a\": 2}", 18, 100, "f.json:2:3: duplicate key \"a\"");
	expect_load_error("{\"a\": 1,\n  \"x\\\"a\": 2, \"x\\\"a\": 3}", 32, 100,
			  "f.json:2:14: duplicate key \"x\\\"a\"");	/* the key as written */
}

static void test_load_ok(void **state)
{
	(void)state;
	char err[ERRLEN];
	struct config_json_doc d = doc("f.json", err);
	/* A BOM is skipped; d then holds the text after it. */
	static const char t[] = "\xEF\xBB\xBF{\"a\": [1]}";
	json_t *root = config_json_load(&d, t, sizeof(t) - 1, sizeof(t) - 1);
	assert_non_null(root);
	assert_ptr_equal(d.text, t + 3);
	assert_int_equal(d.len, sizeof(t) - 4);
	assert_string_equal(err, "");
	assert_true(json_is_array(json_object_get(root, "a")));
	json_decref(root);
}

static void test_fail_format(void **state)
{
	(void)state;
	char err[ERRLEN];
	static const char t[] = "{\"Key\": {\"sub\": [0, 1, 2, {\"odd key\": 1e3}]}}";
	struct config_json_doc d = doc("f.json", err);
	json_t *root = config_json_load(&d, t, strlen(t), 1000);
	assert_non_null(root);
	struct config_path p[4] = { { "Key", 0 }, { "sub", 0 }, { NULL, 3 }, { "odd key", 0 } };
	char g[CONFIG_JSON_SHOW_BUF];
	json_t *v = json_object_get(json_array_get(json_object_get(json_object_get(root, "Key"), "sub"), 3),
				    "odd key");
	assert_int_equal(config_json_fail(&d, p, 4, CONFIG_JSON_AT_VALUE, true, "bad %s",
					  config_json_show(&d, p, 4, v, g)), -1);
	assert_string_equal(err, "f.json:1:39: Key.sub[3][\"odd key\"]: bad 1e3");
	config_json_fail(&d, p, 4, CONFIG_JSON_AT_KEY, true, "x");
	assert_string_equal(err, "f.json:1:28: Key.sub[3][\"odd key\"]: x");
	/* No position asked, no path shown. */
	config_json_fail(&d, p, 4, CONFIG_JSON_AT_NONE, false, "x");
	assert_string_equal(err, "f.json: x");
	/* A path that is not in the text: no position. */
	struct config_path q[1] = { { "Nope", 0 } };
	config_json_fail(&d, q, 1, CONFIG_JSON_AT_VALUE, true, "x");
	assert_string_equal(err, "f.json: Nope: x");
	/* A first step that is not a plain name is quoted without brackets. */
	q[0].key = "a b";
	config_json_fail(&d, q, 1, CONFIG_JSON_AT_NONE, true, "x");
	assert_string_equal(err, "f.json: \"a b\": x");
	/* Objects and arrays are named, not quoted. */
	assert_string_equal(config_json_show(&d, p, 2, json_object_get(json_object_get(root, "Key"), "sub"), g),
			    "an array");
	assert_string_equal(config_json_show(&d, p, 1, json_object_get(root, "Key"), g), "an object");
	json_decref(root);
	/* The name is escaped onto one line. */
	d = doc("a\nb\x80", err);
	config_json_fail(&d, NULL, 0, CONFIG_JSON_AT_NONE, false, "x");
	assert_string_equal(err, "a\\nb\\x80: x");
}

static void test_quote_and_cut(void **state)
{
	(void)state;
	char q[CONFIG_JSON_SHOW_BUF];
	assert_string_equal(config_json_quote("a\"b\\c\td", 7, q), "a\\\"b\\\\c\\td");
	assert_string_equal(config_json_quote("\x01\x7F", 2, q), "\\u0001\\u007f");
	assert_string_equal(config_json_quote("\xC3\xA9\xFF", 3, q), "\xC3\xA9\\xFF");
	/* Longer than CONFIG_JSON_SHOW_MAX: cut at a character boundary
	 * before byte 45, then "...". 22 é's are 44 bytes, the 23rd would
	 * straddle 45. */
	char s[64];
	for (size_t i = 0; i < 25; i++)
		memcpy(s + 2 * i, "\xC3\xA9", 2);
	config_json_quote(s, 50, q);
	assert_int_equal(strlen(q), 44 + 3);
	assert_memory_equal(q + 44, "...", 3);
	/* A message cut at the buffer never ends inside a character. */
	char err[8];
	struct config_json_doc d = { "n", "", 0, err, sizeof(err) };
	config_json_fail(&d, NULL, 0, CONFIG_JSON_AT_NONE, false, "%s", "\xE2\x82\xAC\xE2\x82\xAC");
	assert_string_equal(err, "n: \xE2\x82\xAC");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_locate_nested),
		cmocka_unit_test(test_locate_utf8_and_escapes),
		cmocka_unit_test(test_locate_duplicates),
		cmocka_unit_test(test_locate_bounded),
		cmocka_unit_test(test_load_errors),
		cmocka_unit_test(test_load_ok),
		cmocka_unit_test(test_fail_format),
		cmocka_unit_test(test_quote_and_cut),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
