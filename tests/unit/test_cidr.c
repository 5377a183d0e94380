/*
 * Unit tests for wire/cidr: the parser (canonical form after clearing host
 * bits, every malformed shape refused) and the matcher (IPv4, IPv6, IPv4
 * ranges matching IPv4-mapped IPv6 peers, prefix edges /0 /32 /128).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "wire/cidr.h"

/* A peer address as accept() would give it. */
static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	struct sockaddr_in *in = (struct sockaddr_in *)(void *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)(void *)&ss;
	if (inet_pton(AF_INET, text, &in->sin_addr) == 1) {
		in->sin_family = AF_INET;
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &in6->sin6_addr), 1);
		in6->sin6_family = AF_INET6;
	}
	return ss;
}

static void expect_canonical(const char *in, const char *want)
{
	struct cidr c;
	char buf[64];
	if (cidr_parse(in, &c) != 0)
		fail_msg("cidr_parse(\"%s\") refused", in);
	cidr_format(&c, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("cidr_parse(\"%s\") -> \"%s\", want \"%s\"", in, buf, want);
}

static void test_parse_canonical(void **state)
{
	(void)state;
	struct {
		const char *in, *want;
	} v[] = {
		{"10.0.0.0/8", "10.0.0.0/8"},
		{"10.1.2.3/8", "10.0.0.0/8"},		/* host bits cleared */
		{"192.168.1.77/25", "192.168.1.0/25"},	/* a cut inside a byte */
		{"192.168.1.200/25", "192.168.1.128/25"},
		{"1.2.3.4", "1.2.3.4/32"},		/* a single address */
		{"1.2.3.4/32", "1.2.3.4/32"},		/* /32: nothing cleared */
		{"255.255.255.255/0", "0.0.0.0/0"},	/* /0: everything */
		{"2001:db8::/32", "2001:db8::/32"},
		{"2001:db8:ffff::1/33", "2001:db8:8000::/33"},
		{"::1", "::1/128"},
		{"fe80::1/128", "fe80::1/128"},
		{"ffff::/0", "::/0"},
		{"::ffff:10.1.2.3/104", "::ffff:10.0.0.0/104"}, /* a mapped range stays IPv6 */
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		expect_canonical(v[i].in, v[i].want);
}

static void test_parse_malformed(void **state)
{
	(void)state;
	static const char *const bad[] = {
		"",			/* empty */
		"/8",			/* no address */
		"10.0.0.0/",		/* no prefix */
		"10.0.0.0/33",		/* beyond /32 */
		"2001:db8::/129",	/* beyond /128 */
		"10.0.0.0/08",		/* leading zero */
		"10.0.0.0/-1",		/* sign */
		"10.0.0.0/+8",
		"10.0.0.0/ 8",		/* space */
		"10.0.0.0/8x",		/* junk after the prefix */
		"10.0.0.0/8/8",
		"10.0.0.0/1000",	/* four digits */
		"10.0.0/8",		/* three octets */
		"10.0.0.256",		/* octet out of range */
		"10.0.0.0 /8",		/* space before the slash */
		"example.com/8",	/* a name */
		"2001:db8:::1/64",	/* bad IPv6 */
		"1.2.3.4:80",		/* host:port */
		"0123456789012345678901234567890123456789012345678901234567890123456789/8", /* too long */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct cidr c;
		if (cidr_parse(bad[i], &c) != -1)
			fail_msg("cidr_parse(\"%s\") accepted", bad[i]);
	}
}

static bool match(const char *range, const char *peer)
{
	struct cidr c;
	assert_int_equal(cidr_parse(range, &c), 0);
	struct sockaddr_storage ss = addr(peer);
	return cidr_match(&c, &ss);
}

static void test_match_ipv4(void **state)
{
	(void)state;
	assert_true(match("10.0.0.0/8", "10.255.255.255"));	/* last of the range */
	assert_true(match("10.0.0.0/8", "10.0.0.0"));		/* first */
	assert_false(match("10.0.0.0/8", "11.0.0.0"));		/* one past */
	assert_false(match("10.0.0.0/8", "9.255.255.255"));	/* one before */
	assert_true(match("192.168.1.128/25", "192.168.1.129"));
	assert_false(match("192.168.1.128/25", "192.168.1.127")); /* the cut inside a byte */
	assert_true(match("1.2.3.4", "1.2.3.4"));		/* /32: only itself */
	assert_false(match("1.2.3.4/32", "1.2.3.5"));
	assert_true(match("0.0.0.0/0", "203.0.113.9"));	/* /0: all of IPv4 */
	assert_false(match("0.0.0.0/0", "2001:db8::1"));	/* but not IPv6 */
}

static void test_match_ipv6(void **state)
{
	(void)state;
	assert_true(match("2001:db8::/32", "2001:db8:ffff:ffff::1"));
	assert_false(match("2001:db8::/32", "2001:db9::"));
	assert_true(match("2001:db8:8000::/33", "2001:db8:8000::1"));
	assert_false(match("2001:db8:8000::/33", "2001:db8:7fff::1"));
	assert_true(match("::1/128", "::1"));			/* /128: only itself */
	assert_false(match("::1/128", "::2"));
	assert_true(match("::/0", "fe80::1"));			/* /0: all of IPv6 */
	assert_false(match("::/0", "127.0.0.1"));		/* but not IPv4 */
}

/* A dual-stack listener sees IPv4 peers as ::ffff:a.b.c.d: IPv4 ranges
 * match them; IPv6 ranges see them as the IPv6 addresses they are. */
static void test_match_mapped(void **state)
{
	(void)state;
	assert_true(match("10.0.0.0/8", "::ffff:10.1.2.3"));
	assert_false(match("10.0.0.0/8", "::ffff:11.1.2.3"));
	assert_true(match("0.0.0.0/0", "::ffff:192.0.2.1"));
	assert_true(match("1.2.3.4/32", "::ffff:1.2.3.4"));
	assert_false(match("10.0.0.0/8", "::a01:203"));		/* IPv4-compatible is not mapped */
	assert_false(match("10.0.0.0/8", "64:ff9b::a01:203"));	/* nor is NAT64 */
	assert_true(match("::ffff:0.0.0.0/96", "::ffff:10.1.2.3"));
	assert_true(match("::/0", "::ffff:10.1.2.3"));
}

static void test_match_other_family(void **state)
{
	(void)state;
	struct cidr c;
	assert_int_equal(cidr_parse("0.0.0.0/0", &c), 0);
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX; /* no address to match */
	assert_false(cidr_match(&c, &ss));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_canonical),
		cmocka_unit_test(test_parse_malformed),
		cmocka_unit_test(test_match_ipv4),
		cmocka_unit_test(test_match_ipv6),
		cmocka_unit_test(test_match_mapped),
		cmocka_unit_test(test_match_other_family),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
