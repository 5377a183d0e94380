/* Unit tests for base/budget and its use by base/buf. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/budget.h"
#include "base/buf.h"

static void test_charge_release_marks(void **state)
{
	(void)state;
	struct budget b;
	budget_init(&b, 1000);
	struct budget_acct *http = budget_acct(&b, BUDGET_HTTP), *peek = budget_acct(&b, BUDGET_PEEK);
	assert_true(budget_admits(&b));
	assert_int_equal(budget_charge(http, 800), 0);
	assert_true(budget_admits(&b)); /* 800 < 850 */
	assert_int_equal(budget_charge(peek, 50), 0);
	assert_false(budget_admits(&b)); /* 850: the admit mark */
	assert_false(budget_must_shed(&b));
	assert_int_equal(budget_charge(peek, 100), 0);
	assert_true(budget_must_shed(&b)); /* 950: the shed mark */
	assert_int_equal(budget_charge(http, 51), -ENOBUFS);
	assert_int_equal(http->refused, 1);
	assert_int_equal(budget_charge(http, 50), 0); /* exactly the limit */
	assert_int_equal(b.used, 1000);
	assert_int_equal(budget_charge(http, SIZE_MAX), -ENOBUFS); /* no overflow */
	budget_release(http, 850);
	budget_release(peek, 150);
	assert_int_equal(b.used, 0);
	assert_int_equal(b.peak, 1000);
	assert_int_equal(http->peak, 850);
	assert_true(budget_admits(&b));
	/* A release larger than the charge never goes below zero. */
	budget_release(peek, 10);
	assert_int_equal(peek->used, 0);
	assert_int_equal(b.used, 0);
}

static void test_unlimited_and_null(void **state)
{
	(void)state;
	struct budget b;
	budget_init(&b, 0);
	assert_int_equal(budget_charge(budget_acct(&b, BUDGET_CONN), (size_t)1 << 40), 0);
	assert_true(budget_admits(&b));
	assert_false(budget_must_shed(&b));
	assert_int_equal(budget_charge(NULL, 5), 0);
	budget_release(NULL, 5);
	budget_refuse(&b, BUDGET_HTTP);
	assert_int_equal(b.refused_work[BUDGET_HTTP], 1);
	assert_string_equal(budget_class_name(BUDGET_SESSION_OUT), "session-out");
	assert_string_equal(budget_class_name(BUDGET_NCLASSES), "?");
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static void test_default_limit(void **state)
{
	(void)state;
	char mi[] = "/tmp/threshold-meminfo-XXXXXX", cg[] = "/tmp/threshold-cgmax-XXXXXX";
	close(mkstemp(mi));
	close(mkstemp(cg));
	write_text(mi, "MemFree:  100 kB\nMemTotal:        1048576 kB\nSwapTotal: 0 kB\n");
	write_text(cg, "max\n");
	assert_int_equal(budget_default_limit(mi, cg), (size_t)512 << 20); /* half of 1 GiB */
	write_text(cg, "268435456\n"); /* a 256 MiB cgroup wins over MemTotal */
	assert_int_equal(budget_default_limit(mi, cg), (size_t)128 << 20);
	write_text(mi, "MemTotal: 32768 kB\n"); /* 32 MiB machine: the floor */
	write_text(cg, "max\n");
	assert_int_equal(budget_default_limit(mi, cg), (size_t)32 << 20);
	unlink(mi);
	unlink(cg);
	/* Nothing readable: the floor. */
	assert_int_equal(budget_default_limit("/nonexistent/a", "/nonexistent/b"), (size_t)32 << 20);
	/* This machine: something sane. */
	assert_true(budget_default_limit(NULL, NULL) >= ((size_t)32 << 20));
}

static void test_buf_charges_storage(void **state)
{
	(void)state;
	struct budget b;
	budget_init(&b, 10000);
	struct budget_acct *a = budget_acct(&b, BUDGET_STREAM_RX);
	struct buf x;
	char data[3000];
	memset(data, 'x', sizeof(data));
	buf_init(&x, 64 * 1024);
	assert_int_equal(buf_set_acct(&x, a), 0);
	assert_int_equal(buf_append(&x, data, 3000), 0);
	assert_int_equal(a->used, BUF_MIN_ALLOC); /* storage, not bytes */
	assert_int_equal(buf_set_acct(&x, NULL), -EBUSY); /* not while holding storage */
	assert_int_equal(buf_append(&x, data, 3000), 0); /* grows to 8 KiB */
	assert_int_equal(a->used, 8192);
	/* 16 KiB would pass the 10,000-byte limit: refused like a full buffer,
	 * the buffer unchanged. */
	assert_int_equal(buf_append(&x, data, 3000), -ENOBUFS);
	assert_int_equal(buf_len(&x), 6000);
	assert_int_equal(a->refused, 1);
	size_t avail = 0;
	assert_null(buf_reserve(&x, 4000, &avail));
	assert_int_equal(errno, ENOBUFS);
	buf_consume(&x, 6000); /* empty: storage and charge given back */
	assert_int_equal(a->used, 0);
	assert_int_equal(b.used, 0);
	assert_int_equal(buf_append(&x, data, 100), 0);
	buf_reset(&x);
	assert_int_equal(b.used, 0);
}

static void test_buf_read_fd_refused(void **state)
{
	(void)state;
	struct budget b;
	budget_init(&b, 1000); /* smaller than one allocation */
	struct buf x;
	int p[2];
	assert_int_equal(pipe(p), 0);
	assert_int_equal(write(p[1], "hello", 5), 5);
	buf_init(&x, 4096);
	buf_set_acct(&x, budget_acct(&b, BUDGET_PEEK));
	assert_int_equal(buf_read_fd(&x, p[0], 0), -ENOBUFS);
	assert_int_equal(buf_len(&x), 0);
	budget_set_limit(&b, 1 << 20);
	assert_int_equal(buf_read_fd(&x, p[0], 0), 5);
	assert_int_equal(b.used, 4096);
	buf_reset(&x);
	assert_int_equal(b.used, 0);
	close(p[0]);
	close(p[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_charge_release_marks),
		cmocka_unit_test(test_unlimited_and_null),
		cmocka_unit_test(test_default_limit),
		cmocka_unit_test(test_buf_charges_storage),
		cmocka_unit_test(test_buf_read_fd_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
