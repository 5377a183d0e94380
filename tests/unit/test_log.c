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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
