/*
 * Unit tests for base/utf8: RFC 3629 validity byte by byte (boundaries of
 * each length, overlongs, surrogates, beyond U+10FFFF, truncation, stray
 * continuation bytes), the encoder and the boundary finder.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "base/utf8.h"

#define U(s) ((const unsigned char *)(s))
#define LEN(s) utf8_len(U(s), sizeof(s) - 1)

static void test_valid_boundaries(void **state)
{
	(void)state;
	assert_int_equal(LEN("\x00"), 1);		/* U+0000 */
	assert_int_equal(LEN("\x7F"), 1);		/* U+007F, last 1-byte */
	assert_int_equal(LEN("\xC2\x80"), 2);		/* U+0080, first 2-byte */
	assert_int_equal(LEN("\xDF\xBF"), 2);		/* U+07FF, last 2-byte */
	assert_int_equal(LEN("\xE0\xA0\x80"), 3);	/* U+0800, first 3-byte */
	assert_int_equal(LEN("\xED\x9F\xBF"), 3);	/* U+D7FF, below the surrogates */
	assert_int_equal(LEN("\xEE\x80\x80"), 3);	/* U+E000, above them */
	assert_int_equal(LEN("\xEF\xBF\xBF"), 3);	/* U+FFFF, last 3-byte */
	assert_int_equal(LEN("\xF0\x90\x80\x80"), 4);	/* U+10000, first 4-byte */
	assert_int_equal(LEN("\xF4\x8F\xBF\xBF"), 4);	/* U+10FFFF, the last one */
	/* Only the first character counts. */
	assert_int_equal(LEN("\xC3\xA9" "abc"), 2);	/* é then ASCII */
}

static void test_overlongs(void **state)
{
	(void)state;
	assert_int_equal(LEN("\xC0\x80"), 0);		/* U+0000 in 2 bytes */
	assert_int_equal(LEN("\xC1\xBF"), 0);		/* U+007F in 2 bytes */
	assert_int_equal(LEN("\xE0\x80\x80"), 0);	/* U+0000 in 3 bytes */
	assert_int_equal(LEN("\xE0\x9F\xBF"), 0);	/* U+07FF in 3 bytes */
	assert_int_equal(LEN("\xF0\x80\x80\x80"), 0);	/* U+0000 in 4 bytes */
	assert_int_equal(LEN("\xF0\x8F\xBF\xBF"), 0);	/* U+FFFF in 4 bytes */
}

static void test_surrogates(void **state)
{
	(void)state;
	assert_int_equal(LEN("\xED\xA0\x80"), 0);	/* U+D800, first high surrogate */
	assert_int_equal(LEN("\xED\xAF\xBF"), 0);	/* U+DBFF */
	assert_int_equal(LEN("\xED\xB0\x80"), 0);	/* U+DC00, first low surrogate */
	assert_int_equal(LEN("\xED\xBF\xBF"), 0);	/* U+DFFF */
	/* A CESU-8 pair (U+1F600 as two surrogates) is two invalid ones. */
	assert_false(utf8_valid(U("\xED\xA0\xBD\xED\xB8\x80"), 6));
}

static void test_beyond_max(void **state)
{
	(void)state;
	assert_int_equal(LEN("\xF4\x90\x80\x80"), 0);	/* U+110000 */
	assert_int_equal(LEN("\xF5\x80\x80\x80"), 0);	/* lead byte F5: above U+13FFFF */
	assert_int_equal(LEN("\xF7\xBF\xBF\xBF"), 0);
	assert_int_equal(LEN("\xF8\x88\x80\x80\x80"), 0);	/* old 5-byte form */
	assert_int_equal(LEN("\xFC\x84\x80\x80\x80\x80"), 0);	/* old 6-byte form */
	assert_int_equal(LEN("\xFE"), 0);
	assert_int_equal(LEN("\xFF"), 0);
}

static void test_truncated_and_stray(void **state)
{
	(void)state;
	assert_int_equal(utf8_len(U(""), 0), 0);		/* nothing */
	assert_int_equal(LEN("\xC3"), 0);			/* 2-byte lead alone */
	assert_int_equal(LEN("\xE2\x82"), 0);			/* € cut after 2 of 3 */
	assert_int_equal(LEN("\xF0\x9F\x98"), 0);		/* 😀 cut after 3 of 4 */
	/* The span ends the sequence even if memory goes on. */
	assert_int_equal(utf8_len(U("\xE2\x82\xAC"), 2), 0);
	assert_int_equal(utf8_len(U("\xE2\x82\xAC"), 3), 3);
	assert_int_equal(LEN("\x80"), 0);			/* stray continuation */
	assert_int_equal(LEN("\xBF"), 0);
	assert_int_equal(LEN("\xC3" "A"), 0);			/* continuation missing */
	assert_int_equal(LEN("\xE2\x82" "A"), 0);
	assert_int_equal(LEN("\xF0\x9F\x98" "A"), 0);
}

static void test_valid_span(void **state)
{
	(void)state;
	assert_true(utf8_valid(U(""), 0));
	assert_true(utf8_valid(U("plain"), 5));
	assert_true(utf8_valid(U("\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x98\x80"), 14));
	assert_false(utf8_valid(U("ok\xC3"), 3));		/* truncated at the end */
	assert_false(utf8_valid(U("ok\x80ok"), 5));		/* stray in the middle */
	/* A NUL byte is U+0000, valid UTF-8. */
	assert_true(utf8_valid(U("a\0b"), 3));
}

static void test_put(void **state)
{
	(void)state;
	unsigned char b[UTF8_MAX];
	static const struct {
		unsigned long cp;
		const char *enc;
	} v[] = {
		{ 0x41, "A" },
		{ 0x7F, "\x7F" },
		{ 0x80, "\xC2\x80" },
		{ 0xE9, "\xC3\xA9" },
		{ 0x7FF, "\xDF\xBF" },
		{ 0x800, "\xE0\xA0\x80" },
		{ 0x20AC, "\xE2\x82\xAC" },
		{ 0xFFFF, "\xEF\xBF\xBF" },
		{ 0x10000, "\xF0\x90\x80\x80" },
		{ 0x1F600, "\xF0\x9F\x98\x80" },
		{ 0x10FFFF, "\xF4\x8F\xBF\xBF" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = utf8_put(b, v[i].cp);
		assert_int_equal(n, strlen(v[i].enc));
		assert_memory_equal(b, v[i].enc, n);
		assert_int_equal(utf8_len(b, n), n);	/* round trip */
	}
	/* A lone surrogate is encoded as it is; utf8_len then refuses it. */
	assert_int_equal(utf8_put(b, 0xD800), 3);
	assert_memory_equal(b, "\xED\xA0\x80", 3);
	assert_int_equal(utf8_len(b, 3), 0);
}

static void test_boundary(void **state)
{
	(void)state;
	const unsigned char *s = U("a\xC3\xA9\xF0\x9F\x98\x80z");
	assert_int_equal(utf8_boundary(s, 0), 0);	/* 'a' */
	assert_int_equal(utf8_boundary(s, 1), 1);	/* lead of é */
	assert_int_equal(utf8_boundary(s, 2), 1);	/* inside é */
	assert_int_equal(utf8_boundary(s, 3), 3);	/* lead of 😀 */
	assert_int_equal(utf8_boundary(s, 6), 3);	/* its last byte */
	assert_int_equal(utf8_boundary(s, 7), 7);	/* 'z' */
	/* Continuation bytes at the start: stops at 0. */
	assert_int_equal(utf8_boundary(U("\x80\x80"), 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_boundaries),
		cmocka_unit_test(test_overlongs),
		cmocka_unit_test(test_surrogates),
		cmocka_unit_test(test_beyond_max),
		cmocka_unit_test(test_truncated_and_stray),
		cmocka_unit_test(test_valid_span),
		cmocka_unit_test(test_put),
		cmocka_unit_test(test_boundary),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
