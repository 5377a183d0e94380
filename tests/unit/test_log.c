/* Unit tests for base/log: sink capture, level filter, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"

struct capture {
	int count;
	enum log_level level;
	char line[LOG_LINE_MAX + 8];
	char msg[LOG_LINE_MAX + 8];
};

static void sink(void *udata, enum log_level level, const char *line,
		 const char *msg)
{
	struct capture *c = udata;
	c->count++;
	c->level = level;
	snprintf(c->line, sizeof(c->line), "%s", line);
	snprintf(c->msg, sizeof(c->msg), "%s", msg);
}

static int setup(void **state)
{
	static struct capture c;
	memset(&c, 0, sizeof(c));
	log_set_sink(sink, &c);
	log_set_level(LOG_LEVEL_DEBUG);
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	log_set_sink(NULL, NULL);
	log_set_level(LOG_LEVEL_INFO);
	return 0;
}

static void test_line_format(void **state)
{
	struct capture *c = *state;
	log_info("hello %s %d", "world", 42);
	assert_int_equal(c->count, 1);
	assert_int_equal(c->level, LOG_LEVEL_INFO);
	assert_string_equal(c->msg, "hello world 42");
	/* 2024-05-01T12:34:56.789Z INFO  hello world 42 */
	const char *l = c->line;
	assert_true(strlen(l) > 31);
	for (int i = 0; i < 24; i++) {
		switch (i) {
		case 4: case 7: assert_int_equal(l[i], '-'); break;
		case 10: assert_int_equal(l[i], 'T'); break;
		case 13: case 16: assert_int_equal(l[i], ':'); break;
		case 19: assert_int_equal(l[i], '.'); break;
		case 23: assert_int_equal(l[i], 'Z'); break;
		default: assert_true(l[i] >= '0' && l[i] <= '9');
		}
	}
	assert_memory_equal(l + 24, " INFO  hello world 42", 21);
	assert_ptr_not_equal(strstr(l, c->msg), NULL);
}

static void test_level_tags(void **state)
{
	struct capture *c = *state;
	log_debug("d");
	assert_memory_equal(c->line + 24, " DEBUG d", 8);
	log_warnx("w");
	assert_memory_equal(c->line + 24, " WARN  w", 8);
	assert_int_equal(c->level, LOG_LEVEL_WARN);
	log_errorx("e");
	assert_memory_equal(c->line + 24, " ERROR e", 8);
	assert_int_equal(c->level, LOG_LEVEL_ERROR);
	log_msg(LOG_LEVEL_INFO, "m%d", 1);
	assert_string_equal(c->msg, "m1");
	assert_int_equal(c->count, 4);
}

static void test_level_filter(void **state)
{
	struct capture *c = *state;
	log_set_level(LOG_LEVEL_WARN);
	assert_false(log_enabled(LOG_LEVEL_INFO));
	assert_true(log_enabled(LOG_LEVEL_ERROR));
	log_debug("no");
	log_info("no");
	assert_int_equal(c->count, 0);
	log_warnx("yes");
	log_errorx("yes too");
	assert_int_equal(c->count, 2);
	assert_string_equal(c->msg, "yes too");
	log_set_level(LOG_LEVEL_ERROR);
	log_warnx("no");
	assert_int_equal(c->count, 2);
	assert_int_equal(log_get_level(), LOG_LEVEL_ERROR);
}

static void test_warn_appends_errno(void **state)
{
	struct capture *c = *state;
	char want[256];

	errno = ENOENT;
	log_warn("open %s", "x.json");
	snprintf(want, sizeof(want), "open x.json: %s", strerror(ENOENT));
	assert_string_equal(c->msg, want);
	assert_int_equal(errno, ENOENT); /* preserved */

	errno = ECONNRESET;
	log_warnx("plain");
	assert_string_equal(c->msg, "plain");
	assert_int_equal(errno, ECONNRESET);

	errno = EPIPE;
	log_error("write");
	snprintf(want, sizeof(want), "write: %s", strerror(EPIPE));
	assert_string_equal(c->msg, want);
}

static void test_truncation(void **state)
{
	struct capture *c = *state;
	static char big[LOG_LINE_MAX * 2];
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	log_info("%s", big);
	size_t n = strlen(c->line);
	assert_int_equal(n, LOG_LINE_MAX);
	assert_memory_equal(c->line + n - 3, "...", 3);
	assert_int_equal(c->line[n - 4], 'a');
}

static void test_level_parse(void **state)
{
	(void)state;
	enum log_level lv;
	assert_int_equal(log_level_parse("debug", &lv), 0);
	assert_int_equal(lv, LOG_LEVEL_DEBUG);
	assert_int_equal(log_level_parse("INFO", &lv), 0);
	assert_int_equal(lv, LOG_LEVEL_INFO);
	assert_int_equal(log_level_parse("warning", &lv), 0);
	assert_int_equal(lv, LOG_LEVEL_WARN);
	assert_int_equal(log_level_parse("Error", &lv), 0);
	assert_int_equal(lv, LOG_LEVEL_ERROR);
	assert_int_equal(log_level_parse("verbose", &lv), -EINVAL);
	assert_int_equal(log_level_parse("", &lv), -EINVAL);
	assert_int_equal(log_level_parse(NULL, &lv), -EINVAL);
	assert_string_equal(log_level_name(LOG_LEVEL_WARN), "warn");
}

static void test_sink_reset(void **state)
{
	struct capture *c = *state;
	log_set_sink(NULL, NULL);
	log_set_level(LOG_LEVEL_ERROR);
	log_info("to stderr, filtered");
	assert_int_equal(c->count, 0);
	log_set_sink(sink, c);
	log_errorx("back");
	assert_int_equal(c->count, 1);
}

static uint64_t fake_ms;
static uint64_t fake_now(void)
{
	return fake_ms;
}

static void test_limit_burst_then_summary(void **state)
{
	struct capture *c = *state;
	struct log_limit lim = LOG_LIMIT_INIT("unexpected stream");
	fake_ms = 5000;
	log_set_clock(fake_now);
	int passed = 0;
	for (int i = 0; i < 1000; i++)
		passed += log_limited(&lim, LOG_LEVEL_WARN, "stream %d", i);
	assert_int_equal(passed, LOG_LIMIT_BURST);
	assert_int_equal(c->count, LOG_LIMIT_BURST);
	assert_string_equal(c->msg, "stream 9");
	assert_int_equal(lim.suppressed, 990);
	/* Still inside the window: nothing more is written. */
	fake_ms += LOG_LIMIT_INTERVAL_MS - 1;
	assert_false(log_limited(&lim, LOG_LEVEL_WARN, "stream x"));
	assert_int_equal(c->count, LOG_LIMIT_BURST);
	/* A new window: the summary line first, then the record. */
	fake_ms += 1;
	assert_true(log_limited(&lim, LOG_LEVEL_WARN, "stream y"));
	assert_int_equal(c->count, LOG_LIMIT_BURST + 2);
	assert_string_equal(c->msg, "stream y");
	assert_int_equal(lim.suppressed, 0);
	assert_int_equal(lim.total_suppressed, 991);
	log_set_clock(NULL);
}

static void test_limit_flush_and_level(void **state)
{
	struct capture *c = *state;
	struct log_limit lim;
	log_limit_init(&lim, "peek timeout", 1, 60000);
	fake_ms = 1;
	log_set_clock(fake_now);
	assert_true(log_limited(&lim, LOG_LEVEL_INFO, "one"));
	assert_false(log_limited(&lim, LOG_LEVEL_INFO, "two"));
	assert_false(log_limited(&lim, LOG_LEVEL_INFO, "three"));
	assert_int_equal(c->count, 1);
	log_limit_flush(&lim);
	assert_int_equal(c->count, 2);
	assert_int_equal(c->level, LOG_LEVEL_INFO);
	assert_string_equal(c->msg, "peek timeout: 2 similar lines suppressed");
	log_limit_flush(&lim); /* nothing pending: nothing written */
	assert_int_equal(c->count, 2);
	/* Below the minimum level: neither written nor counted. */
	log_set_level(LOG_LEVEL_WARN);
	assert_false(log_limited(&lim, LOG_LEVEL_INFO, "quiet"));
	assert_int_equal(lim.suppressed, 0);
	log_set_clock(NULL);
}

static void test_escape(void **state)
{
	(void)state;
	char out[64];
	/* A forged log line: CR LF, an ANSI escape, a backslash, UTF-8. */
	const char evil[] = "a\r\n2024-01-01T00:00:00.000Z ERROR x\x1b[31m\\\xc3\xa9\x7f";
	log_escape(out, sizeof(out), evil, sizeof(evil) - 1);
	assert_string_equal(out, "a\\x0d\\x0a2024-01-01T00:00:00.000Z ERROR x\\x1b[31m\\\\\\xc3\\xa9\\x7f");
	char small[40];
	log_escape(small, sizeof(small), evil, sizeof(evil) - 1);
	assert_string_equal(small, "a\\x0d\\x0a2024-01-01T00:00:00.000Z ER...");
	log_escape(out, sizeof(out), "plain id-1.ok", 13);
	assert_string_equal(out, "plain id-1.ok");
	log_escape(out, sizeof(out), "nul\0byte", 8);
	assert_string_equal(out, "nul\\x00byte");
	log_escape_str(out, sizeof(out), NULL);
	assert_string_equal(out, "(null)");
}

static void test_escape_cut_exactly(void **state)
{
	(void)state;
	char out[8];
	log_escape(out, sizeof(out), "1234567", 7); /* fits exactly: 7 + NUL */
	assert_string_equal(out, "1234567");
	log_escape(out, sizeof(out), "12345678", 8);
	assert_string_equal(out, "1234...");
	log_escape(out, sizeof(out), "123\x01", 4); /* "123\x01" needs 7 */
	assert_string_equal(out, "123\\x01");
	log_escape(out, sizeof(out), "1234\x01", 5);
	assert_string_equal(out, "1234...");
	char tiny[4];
	log_escape(tiny, sizeof(tiny), "abcdef", 6);
	assert_string_equal(tiny, "...");
	log_escape(tiny, sizeof(tiny), "abc", 3);
	assert_string_equal(tiny, "abc");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_line_format, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_tags, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_filter, setup, teardown),
		cmocka_unit_test_setup_teardown(test_warn_appends_errno, setup, teardown),
		cmocka_unit_test_setup_teardown(test_truncation, setup, teardown),
		cmocka_unit_test_setup_teardown(test_level_parse, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sink_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_burst_then_summary, setup, teardown),
		cmocka_unit_test_setup_teardown(test_limit_flush_and_level, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escape, setup, teardown),
		cmocka_unit_test_setup_teardown(test_escape_cut_exactly, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
