/*
 * Unit tests for wire/proxy: PROXY protocol v1 writer and parser.
 *
 * Writer vectors are the lines the Go original emits (go-original.md §4):
 *   "PROXY" SP TCP4|TCP6 SP src-ip SP dst-ip SP src-port SP dst-port CRLF
 * for IPv4, IPv6 and IPv4-mapped peers on a dual-stack listener, with Go's
 * IPv6 text form. Parser vectors follow the haproxy spec (2.1) strictly.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cmocka.h>

#include "wire/proxy.h"

#define LIT(s) (const uint8_t *)(s), (sizeof(s) - 1)

/* A sockaddr_storage from text ("1.2.3.4" or "::1", optional scope id). */
static struct sockaddr_storage sa(const char *ip, unsigned port)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':') == NULL) {
		struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET, ip, &sin->sin_addr), 1);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&ss;
		char tmp[64];
		snprintf(tmp, sizeof(tmp), "%s", ip);
		char *pct = strchr(tmp, '%');
		if (pct != NULL) {
			*pct = '\0';
			sin6->sin6_scope_id = (uint32_t)atoi(pct + 1);
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		assert_int_equal(inet_pton(AF_INET6, tmp, &sin6->sin6_addr), 1);
	}
	return ss;
}

static void write_expect(const char *src, unsigned sport, const char *dst, unsigned dport,
			 const char *want)
{
	struct sockaddr_storage s = sa(src, sport), d = sa(dst, dport);
	char out[PROXY_V1_BUF_LEN];
	ssize_t n = proxy_v1_write(out, sizeof(out), &s, &d);
	if (n < 0 || strcmp(out, want) != 0)
		fail_msg("%s -> %s: got %zd \"%s\" want \"%s\"", src, dst, n, n < 0 ? "" : out, want);
	assert_int_equal(n, strlen(want));

	/* And it parses back to the same endpoints (unmapped). */
	struct proxy_hdr h;
	size_t consumed;
	assert_int_equal(proxy_v1_parse((const uint8_t *)out, (size_t)n, &h, &consumed), PROXY_OK);
	assert_int_equal(consumed, (size_t)n);
	char back[PROXY_V1_BUF_LEN];
	assert_int_equal(proxy_v1_write(back, sizeof(back), &h.src, &h.dst), n);
	assert_string_equal(back, out);
}

/* ------------------------------------------------------------------ */
/* Writer                                                             */

/* go-original.md §9: the usage example's line (sender's ephemeral port 59382). */
static void test_write_usage_example(void **state)
{
	(void)state;
	static const char want[] = "PROXY"	/* signature */
				   " TCP4"	/* local address is IPv4 */
				   " 127.0.0.1" /* src: the sender */
				   " 127.0.0.1" /* dst: address the sender reached */
				   " 59382"	/* src port */
				   " 9000"	/* dst port: the tunnel's ListenPort */
				   "\r\n";
	write_expect("127.0.0.1", 59382, "127.0.0.1", 9000, want);
	assert_int_equal(sizeof(want) - 1, 43);
}

static void test_write_ipv6(void **state)
{
	(void)state;
	write_expect("2001:db8::1", 51000, "::1", 9000, "PROXY TCP6 2001:db8::1 ::1 51000 9000\r\n");
	write_expect("2001:0DB8:0000:0000:0000:0000:0000:0001", 1, "2001:db8:0:0:1:0:0:1", 2,
		     "PROXY TCP6 2001:db8::1 2001:db8::1:0:0:1 1 2\r\n");
	write_expect("fe80::1%2", 0, "fe80::2%2", 65535, /* scope ids are not written */
		     "PROXY TCP6 fe80::1 fe80::2 0 65535\r\n");
}

/* A dual-stack (::) listener sees IPv4 peers as ::ffff:a.b.c.d; Go writes them as IPv4. */
static void test_write_v4_mapped(void **state)
{
	(void)state;
	write_expect("::ffff:192.0.2.7", 40000, "::ffff:127.0.0.1", 9000,
		     "PROXY TCP4 192.0.2.7 127.0.0.1 40000 9000\r\n");
	write_expect("192.0.2.7", 40000, "::ffff:10.0.0.1", 443,
		     "PROXY TCP4 192.0.2.7 10.0.0.1 40000 443\r\n");
	write_expect("::ffff:192.0.2.7", 40000, "10.0.0.1", 443,
		     "PROXY TCP4 192.0.2.7 10.0.0.1 40000 443\r\n");
}

static void test_write_longest(void **state)
{
	(void)state;
	static const char ff[] = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
	char want[PROXY_V1_BUF_LEN];
	int n = snprintf(want, sizeof(want), "PROXY TCP6 %s %s 65535 65535\r\n", ff, ff);
	assert_int_equal(n, 104);
	write_expect(ff, 65535, ff, 65535, want);

	/* Every buffer shorter than line + NUL is refused without overflow. */
	struct sockaddr_storage s = sa(ff, 65535);
	for (size_t cap = 0; cap <= (size_t)n; cap++) {
		char *out = malloc(cap ? cap : 1);
		assert_int_equal(proxy_v1_write(out, cap, &s, &s), PROXY_E_BUF);
		free(out);
	}
}

static void test_write_family_errors(void **state)
{
	(void)state;
	char out[PROXY_V1_BUF_LEN];
	struct sockaddr_storage v4 = sa("1.2.3.4", 1), v6 = sa("::1", 2);
	assert_int_equal(proxy_v1_write(out, sizeof(out), &v6, &v4), PROXY_E_FAMILY);
	assert_int_equal(proxy_v1_write(out, sizeof(out), &v4, &v6), PROXY_E_FAMILY);
	struct sockaddr_storage un;
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	assert_int_equal(proxy_v1_write(out, sizeof(out), &un, &un), PROXY_E_FAMILY);
	assert_int_equal(proxy_v1_write(out, sizeof(out), &v4, &un), PROXY_E_FAMILY);
}

/* Go's net.IP.String: RFC 5952, and ::a.b.c.d is not special (glibc disagrees). */
static void test_ip6_format(void **state)
{
	(void)state;
	static const struct {
		const char *in, *go;
		int glibc_same;
	} v[] = {
		{ "::", "::", 1 },
		{ "::1", "::1", 1 },
		{ "1::", "1::", 1 },
		{ "2001:db8::ff00:42:8329", "2001:db8::ff00:42:8329", 1 },
		{ "2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", 1 },	/* first of equal runs */
		{ "1:0:0:2:0:0:0:3", "1:0:0:2::3", 1 },		/* longest run */
		{ "2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1", 1 },	/* one zero group stays */
		{ "0:1:2:3:4:5:6:0", "0:1:2:3:4:5:6:0", 1 },
		{ "0:0:1:2:3:4:5:6", "::1:2:3:4:5:6", 1 },
		{ "1:2:3:4:5:6:0:0", "1:2:3:4:5:6::", 1 },
		{ "ABCD:EF01::0A", "abcd:ef01::a", 1 },
		{ "::ffff:1.2.3.4", "1.2.3.4", 0 },			/* v4-mapped: dotted */
		{ "::1.2.3.4", "::102:304", 0 },			/* v4-compatible: hex */
		{ "::ffff:0:1.2.3.4", "::ffff:0:102:304", 1 },
		{ "64:ff9b::192.0.2.33", "64:ff9b::c000:221", 1 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t a[16];
		char out[46], ref[INET6_ADDRSTRLEN];
		assert_int_equal(inet_pton(AF_INET6, v[i].in, a), 1);
		ssize_t n = proxy_ip6_format(a, out, sizeof(out));
		if (n < 0 || strcmp(out, v[i].go) != 0)
			fail_msg("%s: got %s want %s", v[i].in, out, v[i].go);
		assert_int_equal(n, strlen(v[i].go));
		inet_ntop(AF_INET6, a, ref, sizeof(ref));
		assert_int_equal(strcmp(ref, out) == 0, v[i].glibc_same);
		/* Exact-size buffer works, one less does not. */
		assert_int_equal(proxy_ip6_format(a, out, (size_t)n + 1), n);
		assert_int_equal(proxy_ip6_format(a, out, (size_t)n), -1);
	}
}

/* ------------------------------------------------------------------ */
/* Parser                                                             */

static void test_parse_usage_example(void **state)
{
	(void)state;
	/* What the test backend (listener.go) receives: the line, then the sender's 16 bytes. */
	static const char wire[] = "PROXY TCP4 127.0.0.1 127.0.0.1 59382 9000\r\n"
				   "Hello ! Hello! \n";
	struct proxy_hdr h;
	size_t consumed;
	assert_int_equal(proxy_v1_parse(LIT(wire), &h, &consumed), PROXY_OK);
	assert_int_equal(consumed, 43);
	assert_string_equal(wire + consumed, "Hello ! Hello! \n");
	assert_int_equal(h.version, 1);
	assert_int_equal(h.family, AF_INET);
	const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)&h.src;
	const struct sockaddr_in *d = (const struct sockaddr_in *)(const void *)&h.dst;
	assert_int_equal(s->sin_family, AF_INET);
	assert_int_equal(ntohs(s->sin_port), 59382);
	assert_int_equal(ntohl(s->sin_addr.s_addr), 0x7f000001);
	assert_int_equal(ntohs(d->sin_port), 9000);
	assert_int_equal(ntohl(d->sin_addr.s_addr), 0x7f000001);

	for (size_t k = 0; k < consumed; k++) {
		size_t c = 99;
		int rc = proxy_v1_parse((const uint8_t *)wire, k, &h, &c);
		if (rc != PROXY_NEED_MORE)
			fail_msg("prefix %zu: rc %d", k, rc);
		assert_int_equal(c, 0);
	}
}

static void test_parse_ipv6(void **state)
{
	(void)state;
	static const char line[] = "PROXY TCP6 2001:db8::1 ::ffff:10.0.0.1 0 65535\r\n";
	struct proxy_hdr h;
	size_t consumed;
	assert_int_equal(proxy_v1_parse(LIT(line), &h, &consumed), PROXY_OK);
	assert_int_equal(consumed, sizeof(line) - 1);
	assert_int_equal(h.family, AF_INET6);
	const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)&h.src;
	const struct sockaddr_in6 *d = (const struct sockaddr_in6 *)(const void *)&h.dst;
	uint8_t want[16];
	inet_pton(AF_INET6, "2001:db8::1", want);
	assert_memory_equal(s->sin6_addr.s6_addr, want, 16);
	assert_int_equal(ntohs(s->sin6_port), 0);
	assert_true(IN6_IS_ADDR_V4MAPPED(&d->sin6_addr));
	assert_int_equal(ntohs(d->sin6_port), 65535);
	for (size_t k = 0; k < consumed; k++) {
		size_t c;
		assert_int_equal(proxy_v1_parse((const uint8_t *)line, k, &h, &c), PROXY_NEED_MORE);
	}
}

static void test_parse_unknown(void **state)
{
	(void)state;
	struct proxy_hdr h;
	size_t consumed;
	assert_int_equal(proxy_v1_parse(LIT("PROXY UNKNOWN\r\nGET /"), &h, &consumed), PROXY_OK);
	assert_int_equal(consumed, 15);
	assert_int_equal(h.family, AF_UNSPEC);

	/* The spec's worst case: exactly 107 bytes; the rest of an UNKNOWN line is ignored. */
	static const char max[] = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
				  "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	assert_int_equal(sizeof(max) - 1, PROXY_V1_MAX_LEN);
	assert_int_equal(proxy_v1_parse(LIT(max), &h, &consumed), PROXY_OK);
	assert_int_equal(consumed, PROXY_V1_MAX_LEN);
	for (size_t k = 0; k < consumed; k++) {
		size_t c;
		assert_int_equal(proxy_v1_parse((const uint8_t *)max, k, &h, &c), PROXY_NEED_MORE);
	}
	/* One byte more before the CRLF: over the limit. */
	static const char over[] = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
				   "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 655355\r\n";
	assert_int_equal(proxy_v1_parse(LIT(over), &h, &consumed), PROXY_E_INVALID);
	assert_int_equal(proxy_v1_parse((const uint8_t *)over, PROXY_V1_MAX_LEN, &h, &consumed),
			 PROXY_E_INVALID);
	assert_int_equal(proxy_v1_parse((const uint8_t *)over, PROXY_V1_MAX_LEN - 1, &h, &consumed),
			 PROXY_NEED_MORE);
}

static void test_parse_invalid(void **state)
{
	(void)state;
	static const struct {
		const char *why;
		const char *s;
		size_t len;
	} v[] = {
#define V(why, s) { why, s, sizeof(s) - 1 }
		V("bare LF", "PROXY TCP4 127.0.0.1 127.0.0.1 59382 9000\n"),
		V("CR without LF", "PROXY TCP4 127.0.0.1 127.0.0.1 59382 9000\rX"),
		V("double SP", "PROXY TCP4  127.0.0.1 127.0.0.1 1 2\r\n"),
		V("SP before CRLF", "PROXY TCP4 127.0.0.1 127.0.0.1 1 2 \r\n"),
		V("extra field", "PROXY TCP4 127.0.0.1 127.0.0.1 1 2 3\r\n"),
		V("missing port", "PROXY TCP4 127.0.0.1 127.0.0.1 1\r\n"),
		V("missing everything", "PROXY TCP4\r\n"),
		V("empty protocol", "PROXY \r\n"),
		V("HTAB", "PROXY TCP4\t127.0.0.1 127.0.0.1 1 2\r\n"),
		V("lower-case proto", "PROXY tcp4 127.0.0.1 127.0.0.1 1 2\r\n"),
		V("TCP5", "PROXY TCP5 127.0.0.1 127.0.0.1 1 2\r\n"),
		V("UNKNOWNX", "PROXY UNKNOWNX\r\n"),
		V("lower-case signature", "proxy TCP4 127.0.0.1 127.0.0.1 1 2\r\n"),
		V("v6 in TCP4", "PROXY TCP4 ::1 ::1 1 2\r\n"),
		V("v4 in TCP6", "PROXY TCP6 127.0.0.1 127.0.0.1 1 2\r\n"),
		V("leading zero octet", "PROXY TCP4 127.000.0.1 127.0.0.1 1 2\r\n"),
		V("octet > 255", "PROXY TCP4 256.0.0.1 127.0.0.1 1 2\r\n"),
		V("three octets", "PROXY TCP4 127.0.1 127.0.0.1 1 2\r\n"),
		V("hostname", "PROXY TCP4 localhost 127.0.0.1 1 2\r\n"),
		V("zone", "PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n"),
		V("bad v6", "PROXY TCP6 1:::2 ::1 1 2\r\n"),
		V("leading zero port", "PROXY TCP4 1.2.3.4 5.6.7.8 09000 1\r\n"),
		V("port 00", "PROXY TCP4 1.2.3.4 5.6.7.8 00 1\r\n"),
		V("port 65536", "PROXY TCP4 1.2.3.4 5.6.7.8 65536 1\r\n"),
		V("port 6 digits", "PROXY TCP4 1.2.3.4 5.6.7.8 1 100000\r\n"),
		V("port sign", "PROXY TCP4 1.2.3.4 5.6.7.8 +1 1\r\n"),
		V("port negative", "PROXY TCP4 1.2.3.4 5.6.7.8 -1 1\r\n"),
		V("port hex", "PROXY TCP4 1.2.3.4 5.6.7.8 0x1 1\r\n"),
		V("NUL", "PROXY TCP4 1.2.3.4\0 5.6.7.8 1 2\r\n"),
		V("HTTP", "GET / HTTP/1.1\r\n"),
		V("v2 signature", "\r\n\r\n\0\r\nQUIT\n\x21\x11\x00\x0c"),
		V("no SP after PROXY", "PROXYTCP4\r\n"),
	};
#undef V
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct proxy_hdr h;
		size_t consumed = 99;
		int rc = proxy_v1_parse((const uint8_t *)v[i].s, v[i].len, &h, &consumed);
		if (rc != PROXY_E_INVALID)
			fail_msg("%s: rc %d", v[i].why, rc);
		assert_int_equal(consumed, 0);
	}
	/* 107 bytes without CRLF: invalid, not "need more". */
	char junk[PROXY_V1_MAX_LEN + 1];
	memset(junk, '1', sizeof(junk));
	memcpy(junk, "PROXY UNKNOWN ", 14);
	struct proxy_hdr h;
	size_t c;
	assert_int_equal(proxy_v1_parse((const uint8_t *)junk, PROXY_V1_MAX_LEN, &h, &c),
			 PROXY_E_INVALID);
	assert_int_equal(proxy_v1_parse((const uint8_t *)junk, PROXY_V1_MAX_LEN - 1, &h, &c),
			 PROXY_NEED_MORE);
}

/* Input that cannot become valid is refused before its CRLF arrives. */
static void test_parse_fail_fast(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int rc;
	} v[] = {
		{ "G", PROXY_E_INVALID },
		{ "PROXX", PROXY_E_INVALID },
		{ "\x16\x03\x01", PROXY_E_INVALID },
		{ "P", PROXY_NEED_MORE },
		{ "PROXY", PROXY_NEED_MORE },
		{ "PROXY T", PROXY_NEED_MORE },
		{ "PROXY U", PROXY_NEED_MORE },
		{ "PROXY TCP9", PROXY_E_INVALID },
		{ "PROXY TCP4 ", PROXY_NEED_MORE },
		{ "PROXY TCP4 1.2.3.4x", PROXY_E_INVALID },
		{ "PROXY TCP4 1.2.3.4.5.6.7.8.9", PROXY_E_INVALID }, /* longer than any IPv4 */
		{ "PROXY TCP4 1.2.3.999 ", PROXY_E_INVALID },
		{ "PROXY TCP6 ::g", PROXY_E_INVALID },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 0", PROXY_NEED_MORE },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 01", PROXY_E_INVALID },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 65536", PROXY_E_INVALID },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 6553", PROXY_NEED_MORE },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 ", PROXY_E_INVALID },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", PROXY_NEED_MORE },
		{ "PROXY UNKNOWN whatever \x01\xff", PROXY_NEED_MORE },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct proxy_hdr h;
		size_t c;
		int rc = proxy_v1_parse((const uint8_t *)v[i].s, strlen(v[i].s), &h, &c);
		if (rc != v[i].rc)
			fail_msg("\"%s\": rc %d want %d", v[i].s, rc, v[i].rc);
	}
}

static void test_detect(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		size_t len;
		int want;
	} v[] = {
#define V(s, want) { s, sizeof(s) - 1, want }
		V("", PROXY_DETECT_NEED_MORE),
		V("P", PROXY_DETECT_NEED_MORE),
		V("PROXY", PROXY_DETECT_NEED_MORE),
		V("PROXY ", PROXY_DETECT_V1),
		V("PROXY TCP4 ", PROXY_DETECT_V1),
		V("PROXZ", PROXY_DETECT_NONE),
		V("GET /", PROXY_DETECT_NONE),
		V("\x16\x03\x01\x00\x05", PROXY_DETECT_NONE), /* TLS record */
		V("\r", PROXY_DETECT_NEED_MORE),
		V("\r\n\r\n\0\r\nQUIT", PROXY_DETECT_NEED_MORE),
		V("\r\n\r\n\0\r\nQUIT\n", PROXY_DETECT_V2),
		V("\r\n\r\n\0\r\nQUIT\n\x21\x11", PROXY_DETECT_V2),
		V("\r\n\r\nX", PROXY_DETECT_NONE),
		V("\r\nGET", PROXY_DETECT_NONE),
#undef V
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (proxy_detect((const uint8_t *)v[i].s, v[i].len) != v[i].want)
			fail_msg("vector %zu", i);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_usage_example),
		cmocka_unit_test(test_write_ipv6),
		cmocka_unit_test(test_write_v4_mapped),
		cmocka_unit_test(test_write_longest),
		cmocka_unit_test(test_write_family_errors),
		cmocka_unit_test(test_ip6_format),
		cmocka_unit_test(test_parse_usage_example),
		cmocka_unit_test(test_parse_ipv6),
		cmocka_unit_test(test_parse_unknown),
		cmocka_unit_test(test_parse_invalid),
		cmocka_unit_test(test_parse_fail_fast),
		cmocka_unit_test(test_detect),
	};
	return cmocka_run_group_tests_name("wire/proxy", tests, NULL, NULL);
}
