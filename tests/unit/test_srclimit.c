/* Unit tests for base/srclimit: per-source and total connection limits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "base/srclimit.h"

static struct sockaddr_storage v4(uint32_t host_order)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)&ss;
	in->sin_family = AF_INET;
	in->sin_addr.s_addr = htonl(host_order);
	in->sin_port = htons(1234);
	return ss;
}

static struct sockaddr_storage v6(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	in6->sin6_family = AF_INET6;
	assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
	return ss;
}

#define SA(x) ((const struct sockaddr *)&(x))

static void test_per_source_limit(void **state)
{
	(void)state;
	struct srclimit s;
	srclimit_init(&s, 3, 0);
	struct sockaddr_storage a = v4(0x7f000001), b = v4(0x7f000002);
	for (int i = 0; i < 3; i++)
		assert_int_equal(srclimit_take(&s, SA(a)), 0);
	assert_int_equal(srclimit_take(&s, SA(a)), SRCLIMIT_E_SOURCE);
	assert_int_equal(s.refused_source, 1);
	assert_int_equal(srclimit_take(&s, SA(b)), 0); /* another source is not held back */
	assert_int_equal(srclimit_count(&s, SA(a)), 3);
	srclimit_put(&s, SA(a));
	assert_int_equal(srclimit_take(&s, SA(a)), 0); /* a slot came back */
	assert_int_equal(s.total, 4);
	assert_int_equal(s.nsources, 2);
	srclimit_fini(&s);
}

static void test_total_limit(void **state)
{
	(void)state;
	struct srclimit s;
	srclimit_init(&s, 0, 5);
	for (uint32_t i = 0; i < 5; i++) {
		struct sockaddr_storage a = v4(0x0a000000 + i);
		assert_int_equal(srclimit_take(&s, SA(a)), 0);
	}
	struct sockaddr_storage x = v4(0x0b000000);
	assert_int_equal(srclimit_take(&s, SA(x)), SRCLIMIT_E_TOTAL);
	assert_int_equal(s.refused_total, 1);
	struct sockaddr_storage first = v4(0x0a000000);
	srclimit_put(&s, SA(first));
	assert_int_equal(srclimit_take(&s, SA(x)), 0);
	srclimit_fini(&s);
}

static void test_ipv6_by_prefix_and_mapped(void **state)
{
	(void)state;
	struct srclimit s;
	srclimit_init(&s, 2, 0);
	/* The low 64 bits do not make a new source. */
	struct sockaddr_storage p1 = v6("2001:db8:1:2::1"), p2 = v6("2001:db8:1:2:ffff:1:2:3"),
				p3 = v6("2001:db8:1:2:abcd::9"), other = v6("2001:db8:1:3::1");
	assert_int_equal(srclimit_take(&s, SA(p1)), 0);
	assert_int_equal(srclimit_take(&s, SA(p2)), 0);
	assert_int_equal(srclimit_take(&s, SA(p3)), SRCLIMIT_E_SOURCE);
	assert_int_equal(srclimit_take(&s, SA(other)), 0);
	/* 127.0.0.9 and ::ffff:127.0.0.9 are the same source; ::1 is not. */
	struct sockaddr_storage m = v6("::ffff:127.0.0.9"), four = v4(0x7f000009), lo6 = v6("::1");
	assert_int_equal(srclimit_take(&s, SA(m)), 0);
	assert_int_equal(srclimit_take(&s, SA(four)), 0);
	assert_int_equal(srclimit_take(&s, SA(four)), SRCLIMIT_E_SOURCE);
	assert_int_equal(srclimit_take(&s, SA(lo6)), 0);
	assert_int_equal(srclimit_count(&s, SA(m)), 2);
	srclimit_fini(&s);
}

static void test_put_unknown_is_harmless(void **state)
{
	(void)state;
	struct srclimit s;
	srclimit_init(&s, 1, 1);
	struct sockaddr_storage a = v4(1), b = v4(2);
	srclimit_put(&s, SA(a)); /* empty table */
	assert_int_equal(srclimit_take(&s, SA(a)), 0);
	srclimit_put(&s, SA(b)); /* not held */
	assert_int_equal(s.total, 1);
	srclimit_put(&s, SA(a));
	assert_int_equal(s.total, 0);
	assert_null(s.slots); /* memory given back */
	srclimit_fini(&s);
}

/* Many sources and a random walk of takes and puts against a plain model:
 * the table (growth, shrink, backward-shift deletion) must agree. */
static void test_random_against_model(void **state)
{
	(void)state;
	enum { N = 3000 };
	static unsigned model[N];
	memset(model, 0, sizeof(model));
	struct srclimit s;
	srclimit_init(&s, 4, 0);
	uint64_t x = 88172645463325252ULL;
	size_t total = 0;
	for (int step = 0; step < 200000; step++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		uint32_t i = (uint32_t)(x % N);
		struct sockaddr_storage a = v4(0x64000000 + i * 7919);
		if ((x >> 40) & 1) {
			int rc = srclimit_take(&s, SA(a));
			if (model[i] < 4) {
				assert_int_equal(rc, 0);
				model[i]++;
				total++;
			} else {
				assert_int_equal(rc, SRCLIMIT_E_SOURCE);
			}
		} else {
			srclimit_put(&s, SA(a));
			if (model[i] > 0) {
				model[i]--;
				total--;
			}
		}
		if (step % 9973 == 0) {
			for (uint32_t k = 0; k < N; k++) {
				struct sockaddr_storage b = v4(0x64000000 + k * 7919);
				assert_int_equal(srclimit_count(&s, SA(b)), model[k]);
			}
		}
	}
	assert_int_equal(s.total, total);
	for (uint32_t k = 0; k < N; k++) {
		struct sockaddr_storage b = v4(0x64000000 + k * 7919);
		while (model[k]--)
			srclimit_put(&s, SA(b));
	}
	assert_int_equal(s.total, 0);
	assert_int_equal(s.nsources, 0);
	assert_null(s.slots);
	srclimit_fini(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_per_source_limit),
		cmocka_unit_test(test_total_limit),
		cmocka_unit_test(test_ipv6_by_prefix_and_mapped),
		cmocka_unit_test(test_put_unknown_is_harmless),
		cmocka_unit_test(test_random_against_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
