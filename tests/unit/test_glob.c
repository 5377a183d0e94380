/*
 * Unit tests for wire/glob: host name globs and the most-specific choice.
 *
 * Semantics vectors follow ryanuber/go-glob as the original used it
 * (go-original.md §6), plus ASCII case-insensitivity (§8 item 12). The
 * picking vectors are §6's example port: [*, *.example.com,
 * api.example.com], in both orders (the original's pointer bug sent
 * everything to the last entry).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "wire/glob.h"

static void test_semantics(void **state)
{
	(void)state;
	static const struct {
		const char *pattern, *host;
		int match;
	} v[] = {
		/* "*" and "" match everything, the empty host included. */
		{ "*", "", 1 },
		{ "*", "www.example.com", 1 },
		{ "", "", 1 },
		{ "", "www.example.com", 1 },
		{ "**", "", 1 },
		{ "***", "a.b", 1 },
		/* No '*': plain equality. */
		{ "www.example.com", "www.example.com", 1 },
		{ "www.example.com", "www.example.co", 0 },
		{ "www.example.com", "www.example.comm", 0 },
		{ "www.example.com", "", 0 },
		{ "www.example.com", "xwww.example.com", 0 },
		{ "a", "a", 1 },
		{ "a", "b", 0 },
		/* '*' spans any run, dots included, the empty run too. */
		{ "*.example.com", "www.example.com", 1 },
		{ "*.example.com", "a.b.example.com", 1 },
		{ "*.example.com", ".example.com", 1 },
		{ "*.example.com", "example.com", 0 },
		{ "*.example.com", "wwwexample.com", 0 },
		{ "*.example.com", "www.example.com.evil", 0 },
		{ "*.example.com", "", 0 },
		{ "www.*", "www.example.com", 1 },
		{ "www.*", "www.", 1 },
		{ "www.*", "www", 0 },
		{ "api.*.com", "api.example.com", 1 },
		{ "api.*.com", "api.a.b.com", 1 },
		{ "api.*.com", "api..com", 1 },
		{ "api.*.com", "api.com", 0 },
		{ "*api*", "myapi.example.com", 1 },
		{ "*api*", "api", 1 },
		{ "*api*", "ap", 0 },
		{ "a*b*c", "abc", 1 },
		{ "a*b*c", "aXbYc", 1 },
		{ "a*b*c", "acb", 0 },
		{ "a*b*c", "abcbc", 1 },
		{ "a*b*c", "abcb", 0 },
		{ "*.*", "", 0 },
		{ "*.*", ".", 1 },
		{ "*c", "abcabc", 1 },
		{ "*abc", "ababc", 1 }, /* needs backtracking past a partial match */
		{ "*aab", "aaab", 1 },
		{ "a*", "a", 1 },
		{ "a*", "", 0 },
		/* Only '*' is special. */
		{ "?", "a", 0 },
		{ "?", "?", 1 },
		{ "[a]", "a", 0 },
		{ "a\\*", "a\\b", 1 },
		{ "a\\*", "a*", 0 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (glob_match(v[i].pattern, v[i].host) != v[i].match)
			fail_msg("\"%s\" vs \"%s\": want %d", v[i].pattern, v[i].host, v[i].match);
}

static void test_null(void **state)
{
	(void)state;
	assert_true(glob_match(NULL, NULL));
	assert_true(glob_match(NULL, "x"));
	assert_true(glob_match("*", NULL));
	assert_true(glob_match("", NULL));
	assert_false(glob_match("*.example.com", NULL));
	assert_false(glob_match("x", NULL));
}

static void test_case(void **state)
{
	(void)state;
	assert_true(glob_match("WWW.Example.COM", "www.example.com"));
	assert_true(glob_match("www.example.com", "WWW.EXAMPLE.COM"));
	assert_true(glob_match("*.EXAMPLE.com", "Api.Example.Com"));
	assert_true(glob_match("A*Z", "a-middle-z"));
	/* ASCII only: bytes >= 0x80 compare exactly; '@' / '[' are not letters. */
	assert_false(glob_match("\xc3\x84", "\xc3\xa4"));
	assert_true(glob_match("\xc3\x84", "\xc3\x84"));
	assert_false(glob_match("@", "`"));
	assert_false(glob_match("[", "{"));
}

static void test_spans(void **state)
{
	(void)state;
	/* NUL is an ordinary byte for the span form. */
	assert_true(glob_match_n("a*c", 3, "a\0c", 3));
	assert_false(glob_match_n("a\0c", 3, "abc", 3));
	assert_true(glob_match_n("abc", 0, "anything", 8)); /* empty pattern */
	assert_true(glob_match_n("*", 1, NULL, 0));
	assert_false(glob_match_n("a", 1, NULL, 0));
}

/* Patterns that make naive recursive matchers exponential. */
static void test_pathological(void **state)
{
	(void)state;
	char host[4097];
	memset(host, 'a', sizeof(host) - 1);
	host[sizeof(host) - 1] = '\0';
	assert_false(glob_match("*a*a*a*a*a*b", host));
	assert_false(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", host));
	assert_true(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*", host));
	host[sizeof(host) - 2] = 'b';
	assert_true(glob_match("*a*a*a*a*a*b", host));
	assert_true(glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", host));

	/* A long pattern of stars and letters against a long host. */
	char pat[2001];
	for (size_t i = 0; i < 2000; i++)
		pat[i] = i % 2 ? '*' : 'a';
	pat[2000] = '\0';
	assert_true(glob_match(pat, host)); /* "a*a*...a*" and "aaa...ab" */
	pat[1998] = 'c';
	assert_false(glob_match(pat, host));

	/* Hosts of the realistic worst size (253 bytes). */
	char h253[254];
	memset(h253, 'x', 253);
	h253[253] = '\0';
	assert_false(glob_match("*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*x*y", h253));
}

static void test_wildcard(void **state)
{
	(void)state;
	assert_true(glob_is_wildcard(NULL));
	assert_true(glob_is_wildcard(""));
	assert_true(glob_is_wildcard("*"));
	assert_true(glob_is_wildcard("***"));
	assert_false(glob_is_wildcard("*.*"));
	assert_false(glob_is_wildcard("*.example.com"));
	assert_false(glob_is_wildcard("a*"));
	assert_false(glob_is_wildcard("x"));
}

static void test_specificity(void **state)
{
	(void)state;
	static const struct {
		const char *glob;
		size_t literal, stars;
	} v[] = {
		{ "api.example.com", 3, 0 },
		{ "*.api.example.com", 3, 1 },
		{ "*.example.com", 2, 1 },
		{ "api.*.com", 2, 1 },
		{ "a*.example.com", 2, 1 },
		{ "**.example.com", 2, 1 }, /* a run counts once */
		{ "*.*.com", 1, 2 },
		{ "*a*", 0, 2 },
		{ "*", 0, 1 },
		{ "", 0, 1 },
		{ "localhost", 1, 0 },
		{ "a..b", 2, 0 },   /* empty labels are not literal labels */
		{ ".", 0, 0 },
		{ "example.com.", 2, 0 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct glob_specificity s = glob_specificity(v[i].glob);
		if (s.literal_labels != v[i].literal || s.stars != v[i].stars)
			fail_msg("\"%s\": %zu literal, %zu stars; want %zu, %zu", v[i].glob,
				 s.literal_labels, s.stars, v[i].literal, v[i].stars);
	}
	struct glob_specificity n = glob_specificity(NULL);
	assert_int_equal(n.literal_labels, 0);
	assert_int_equal(n.stars, 1);

	/* The documented order, most specific first; each beats the next. */
	static const char *const order[] = {
		"api.example.com", "*.api.example.com", "*.example.com", "*.*.com", "*",
	};
	for (size_t i = 0; i + 1 < sizeof(order) / sizeof(order[0]); i++) {
		assert_true(glob_specificity_cmp(glob_specificity(order[i]),
						 glob_specificity(order[i + 1])) > 0);
		assert_true(glob_specificity_cmp(glob_specificity(order[i + 1]),
						 glob_specificity(order[i])) < 0);
	}
	/* Ties (the list order decides). */
	assert_int_equal(glob_specificity_cmp(glob_specificity("*.example.com"),
					      glob_specificity("api.*.com")), 0);
	assert_int_equal(glob_specificity_cmp(glob_specificity("*"), glob_specificity("")), 0);
	/* Fewer stars wins among equal literal labels. */
	assert_true(glob_specificity_cmp(glob_specificity("a*b.example.com"),
					 glob_specificity("*a*b*.example.com")) > 0);
}

static void test_pick_example(void **state)
{
	(void)state;
	/* go-original.md §6: port 443 with c1/fallback, c2/web, c3/api. */
	static const char *const fwd[] = { "*", "*.example.com", "api.example.com" };
	static const char *const rev[] = { "api.example.com", "*.example.com", "*" };
	static const struct {
		const char *host;
		ssize_t fwd, rev;
	} v[] = {
		{ "api.example.com", 2, 0 },
		{ "API.Example.com", 2, 0 },
		{ "www.example.com", 1, 1 },
		{ "a.b.example.com", 1, 1 },
		{ "example.com", 0, 2 },
		{ "other.org", 0, 2 },
		{ "", 0, 2 },
		{ NULL, 0, 2 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		ssize_t a = glob_pick(fwd, 3, v[i].host), b = glob_pick(rev, 3, v[i].host);
		if (a != v[i].fwd || b != v[i].rev)
			fail_msg("%s: picked %zd / %zd, want %zd / %zd", v[i].host ? v[i].host : "(null)",
				 a, b, v[i].fwd, v[i].rev);
	}
}

static void test_pick_more(void **state)
{
	(void)state;
	/* Only specific globs: no SNI and non-matching names get nothing. */
	static const char *const specific[] = { "*.example.com", "api.example.com" };
	assert_int_equal(glob_pick(specific, 2, NULL), -1);
	assert_int_equal(glob_pick(specific, 2, ""), -1);
	assert_int_equal(glob_pick(specific, 2, "example.org"), -1);
	assert_int_equal(glob_pick(specific, 2, "api.example.com"), 1);
	assert_int_equal(glob_pick(specific, 0, "api.example.com"), -1);
	assert_int_equal(glob_pick(NULL, 0, "x"), -1);

	/* "" and NULL entries are "*". */
	static const char *const empties[] = { "x.example.com", "", NULL };
	assert_int_equal(glob_pick(empties, 3, NULL), 1);
	assert_int_equal(glob_pick(empties, 3, "x.example.com"), 0);
	assert_int_equal(glob_pick(empties + 2, 1, "y"), 0);

	/* Ties go to the earlier entry, in either order. */
	static const char *const tie1[] = { "*.example.com", "api.*.com" };
	static const char *const tie2[] = { "api.*.com", "*.example.com" };
	assert_int_equal(glob_pick(tie1, 2, "api.example.com"), 0);
	assert_int_equal(glob_pick(tie2, 2, "api.example.com"), 0);
	static const char *const dup[] = { "*", "*", "**" };
	assert_int_equal(glob_pick(dup, 3, "x"), 0);

	/* More literal labels beat fewer stars. */
	static const char *const deep[] = { "*.com", "*.*.example.com" };
	assert_int_equal(glob_pick(deep, 2, "a.b.example.com"), 1);
	assert_int_equal(glob_pick(deep, 2, "a.example.com"), 0);
	/* Among equal literal labels, fewer stars. */
	static const char *const stars[] = { "*.*.example.com", "www.example.*" };
	assert_int_equal(glob_pick(stars, 2, "www.example.example.com"), 1);
	assert_int_equal(glob_pick(stars, 2, "www.example.com"), 1);
	assert_int_equal(glob_pick(stars, 2, "a.b.example.com"), 0);

	/* *.api.example.com beats api.*.com for a host both match. */
	static const char *const ab[] = { "api.*.com", "*.api.example.com" };
	assert_int_equal(glob_pick(ab, 2, "api.api.example.com"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_semantics),     cmocka_unit_test(test_null),
		cmocka_unit_test(test_case),	      cmocka_unit_test(test_spans),
		cmocka_unit_test(test_pathological),  cmocka_unit_test(test_specificity),
		cmocka_unit_test(test_pick_example),  cmocka_unit_test(test_pick_more),
		cmocka_unit_test(test_wildcard),
	};
	return cmocka_run_group_tests_name("wire/glob", tests, NULL, NULL);
}
