/*
 * Unit tests for wire/proxy: PROXY protocol v1 and v2 writers and parsers.
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

/* ------------------------------------------------------------------ */
/* Version 2                                                          */
/*
 * Interop, checked once with haproxy 2.6.12 (Debian 12) on loopback:
 *   - haproxy as sender (`server ... send-proxy-v2`, and with
 *     `proxy-v2-options authority,unique-id,crc32c` behind a TLS frontend)
 *     wrote the headers hap_* below, captured by a Python listener; our
 *     parser reads each, CRC included;
 *   - haproxy as receiver (`bind ... accept-proxy`, log-format with %ci %cp
 *     %fi %fp %[fc_pp_authority] %[fc_pp_unique_id]) accepted every header
 *     ours_* below and logged the endpoints and TLVs we wrote (the LOCAL one
 *     with the real endpoints), and refused ours_v4_tlvs with one byte
 *     flipped ("Received an invalid PROXY protocol header": the CRC).
 * haproxy 2.6 has no `set-proxy-v2-tlv-fmt` (2.9+); authority and unique id
 * came from proxy-v2-options.
 */

#define V2_SIG 0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a

/* haproxy send-proxy-v2: a TCP/IPv4 client 127.0.0.1:35862 reached 127.0.0.1:19001. */
static const uint8_t hap_v4[] = {
	V2_SIG,			/* signature "\r\n\r\n\0\r\nQUIT\n" */
	0x21,			/* version 2, command PROXY */
	0x11,			/* AF_INET, STREAM */
	0x00, 0x0c,		/* length 12: the address block only */
	0x7f, 0x00, 0x00, 0x01, /* src 127.0.0.1 */
	0x7f, 0x00, 0x00, 0x01, /* dst 127.0.0.1 */
	0x8c, 0x16,		/* src port 35862 */
	0x4a, 0x39,		/* dst port 19001 */
};

/* haproxy send-proxy-v2 on a [::1] bind: ::1 port 45552 reached ::1 port 19002. */
static const uint8_t hap_v6[] = {
	V2_SIG,
	0x21,	    /* version 2, PROXY */
	0x21,	    /* AF_INET6, STREAM */
	0x00, 0x24, /* length 36 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* src ::1 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* dst ::1 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0xb1, 0xf0, /* src port 45552 */
	0x4a, 0x3a, /* dst port 19002 */
};

/*
 * haproxy behind `bind ... ssl`, `proxy-v2-options authority,unique-id,crc32c`,
 * `unique-id-format "tls-%ci-%cp"`; the client sent SNI www.example.com.
 */
static const uint8_t hap_tls_tlvs[] = {
	V2_SIG,
	0x21,			/* version 2, PROXY */
	0x11,			/* AF_INET, STREAM */
	0x00, 0x3b,		/* length 59 = 12 + 7 + 18 + 22 */
	0x7f, 0x00, 0x00, 0x01, /* src 127.0.0.1 */
	0x7f, 0x00, 0x00, 0x01, /* dst 127.0.0.1 */
	0x99, 0xa2,		/* src port 39330 */
	0x4a, 0x3b,		/* dst port 19003 */
	0x03, 0x00, 0x04,	/* TLV CRC32C, length 4 */
	0xeb, 0xd0, 0xfb, 0x47, /*   checksum */
	0x02, 0x00, 0x0f,	/* TLV AUTHORITY, length 15: the SNI */
	'w', 'w', 'w', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
	0x05, 0x00, 0x13,	/* TLV UNIQUE_ID, length 19 */
	't', 'l', 's', '-', '1', '2', '7', '.', '0', '.', '0', '.', '1', '-', '3', '9', '3', '3', '0',
};

/*
 * What we write for a visitor 192.0.2.7:40000 that reached 198.51.100.1:443
 * with SNI www.example.com, connection id "conn-42", with a CRC32C.
 * haproxy accepted it (logged ci=192.0.2.7 cp=40000 fi=198.51.100.1 fp=443
 * auth=www.example.com uid=conn-42).
 */
static const uint8_t ours_v4_tlvs[] = {
	V2_SIG,
	0x21,			/* version 2, PROXY */
	0x11,			/* AF_INET, STREAM */
	0x00, 0x2f,		/* length 47 = 12 + 18 + 7 + 10 */
	0xc0, 0x00, 0x02, 0x07, /* src 192.0.2.7 */
	0xc6, 0x33, 0x64, 0x01, /* dst 198.51.100.1 */
	0x9c, 0x40,		/* src port 40000 */
	0x01, 0xbb,		/* dst port 443 */
	0x02, 0x00, 0x0f,	/* TLV AUTHORITY, length 15 */
	'w', 'w', 'w', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
	0x03, 0x00, 0x04,	/* TLV CRC32C, length 4 */
	0x40, 0x0a, 0x30, 0x98, /*   over the whole header with these 4 bytes zero */
	0x05, 0x00, 0x07,	/* TLV UNIQUE_ID, length 7 */
	'c', 'o', 'n', 'n', '-', '4', '2',
};

/* Ours, IPv6 with an authority: haproxy logged ci=2001:db8::1 cp=51000 ... auth=api.example.com. */
static const uint8_t ours_v6_auth[] = {
	V2_SIG,
	0x21,	    /* version 2, PROXY */
	0x21,	    /* AF_INET6, STREAM */
	0x00, 0x36, /* length 54 = 36 + 18 */
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* src 2001:db8::1 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0x00, 0x00, 0x00, 0x00, /* dst 2001:db8::2 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02,
	0xc7, 0x38,	  /* src port 51000 */
	0x01, 0xbb,	  /* dst port 443 */
	0x02, 0x00, 0x0f, /* TLV AUTHORITY, length 15 */
	'a', 'p', 'i', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
};

/* Ours, a visitor on a dual-stack listener: ::ffff:192.0.2.9 -> ::ffff:127.0.0.1 (IPv4 block). */
static const uint8_t ours_mapped[] = {
	V2_SIG,
	0x21,			/* version 2, PROXY */
	0x11,			/* AF_INET, STREAM: unmapped as in v1 */
	0x00, 0x0c,		/* length 12 */
	0xc0, 0x00, 0x02, 0x09, /* src 192.0.2.9 */
	0x7f, 0x00, 0x00, 0x01, /* dst 127.0.0.1 */
	0x04, 0xd2,		/* src port 1234 */
	0x23, 0x28,		/* dst port 9000 */
};

/* Ours, LOCAL: haproxy logged the real endpoints of the connection. */
static const uint8_t ours_local[] = {
	V2_SIG,
	0x20,	    /* version 2, command LOCAL */
	0x00,	    /* AF_UNSPEC, UNSPEC */
	0x00, 0x00, /* length 0 */
};

static void assert_span_eq(const struct proxy_span *sp, const char *want)
{
	if (want == NULL) {
		assert_null(sp->p);
		assert_int_equal(sp->len, 0);
		return;
	}
	assert_non_null(sp->p);
	assert_int_equal(sp->len, strlen(want));
	assert_memory_equal(sp->p, want, sp->len);
}

static void assert_endpoint(const struct sockaddr_storage *ss, const char *ip, unsigned port)
{
	struct sockaddr_storage want = sa(ip, port);
	assert_int_equal(ss->ss_family, want.ss_family);
	if (want.ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)(const void *)ss;
		const struct sockaddr_in *b = (const struct sockaddr_in *)(const void *)&want;
		assert_int_equal(a->sin_addr.s_addr, b->sin_addr.s_addr);
		assert_int_equal(a->sin_port, b->sin_port);
	} else {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)(const void *)ss;
		const struct sockaddr_in6 *b = (const struct sockaddr_in6 *)(const void *)&want;
		assert_memory_equal(&a->sin6_addr, &b->sin6_addr, 16);
		assert_int_equal(a->sin6_port, b->sin6_port);
		assert_int_equal(a->sin6_scope_id, 0);
	}
}

/* Parses an exact-size heap copy (so ASan sees over-reads), via proxy_v2_parse or proxy_parse. */
static int parse2(const uint8_t *buf, size_t len, struct proxy_hdr *h, size_t *consumed, int any)
{
	uint8_t *copy = malloc(len ? len : 1);
	if (len)
		memcpy(copy, buf, len);
	int rc = any ? proxy_parse(copy, len, h, consumed) : proxy_v2_parse(copy, len, h, consumed);
	/* Spans must point into the buffer; rebase them onto the caller's. */
	if (rc == PROXY_OK) {
		if (h->authority.p)
			h->authority.p = buf + (h->authority.p - copy);
		if (h->unique_id.p)
			h->unique_id.p = buf + (h->unique_id.p - copy);
	}
	free(copy);
	return rc;
}

/* Every proper prefix of a valid header asks for more and consumes nothing. */
static void v2_prefixes(const uint8_t *b, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		struct proxy_hdr h;
		size_t c = 99;
		int rc = parse2(b, k, &h, &c, 0);
		if (rc != PROXY_NEED_MORE || c != 0)
			fail_msg("prefix %zu of %zu: rc %d", k, n, rc);
		rc = parse2(b, k, &h, &c, 1);
		if (rc != PROXY_NEED_MORE || c != 0)
			fail_msg("proxy_parse prefix %zu of %zu: rc %d", k, n, rc);
	}
}

static void v2_write_expect(const char *src, unsigned sport, const char *dst, unsigned dport,
			    const struct proxy_v2_tlvs *t, const uint8_t *want, size_t want_len)
{
	struct sockaddr_storage s = sa(src, sport), d = sa(dst, dport);
	uint8_t out[PROXY_V2_BUF_LEN];
	ssize_t n = proxy_v2_write(out, sizeof(out), &s, &d, t);
	assert_int_equal(n, want_len);
	assert_memory_equal(out, want, want_len);
	/* Every shorter buffer is refused. */
	for (size_t cap = 0; cap < want_len; cap++)
		assert_int_equal(proxy_v2_write(out, cap, &s, &d, t), PROXY_E_BUF);
}

static void test_v2_write(void **state)
{
	(void)state;
	static const uint8_t plain_v4[] = {
		V2_SIG, 0x21, 0x11, 0x00, 0x0c, /* PROXY, TCP/IPv4, length 12 */
		0xc0, 0x00, 0x02, 0x07,		/* src 192.0.2.7 */
		0x7f, 0x00, 0x00, 0x01,		/* dst 127.0.0.1 */
		0x9c, 0x40, 0x23, 0x28,		/* ports 40000, 9000 */
	};
	v2_write_expect("192.0.2.7", 40000, "127.0.0.1", 9000, NULL, plain_v4, sizeof(plain_v4));
	struct proxy_v2_tlvs none = { 0 };
	v2_write_expect("192.0.2.7", 40000, "127.0.0.1", 9000, &none, plain_v4, sizeof(plain_v4));
	struct proxy_v2_tlvs empty = { .authority = "", .unique_id = (const uint8_t *)"x" };
	v2_write_expect("192.0.2.7", 40000, "127.0.0.1", 9000, &empty, plain_v4, sizeof(plain_v4));

	struct proxy_v2_tlvs t = { .authority = "www.example.com",
				   .unique_id = (const uint8_t *)"conn-42",
				   .unique_id_len = 7,
				   .crc32c = true };
	v2_write_expect("192.0.2.7", 40000, "198.51.100.1", 443, &t, ours_v4_tlvs,
			sizeof(ours_v4_tlvs));
	struct proxy_v2_tlvs a6 = { .authority = "api.example.com" };
	v2_write_expect("2001:db8::1", 51000, "2001:db8::2", 443, &a6, ours_v6_auth,
			sizeof(ours_v6_auth));
	/* Scope ids are not on the wire. */
	v2_write_expect("2001:db8::1%3", 51000, "2001:db8::2%3", 443, &a6, ours_v6_auth,
			sizeof(ours_v6_auth));
	v2_write_expect("::ffff:192.0.2.9", 1234, "::ffff:127.0.0.1", 9000, NULL, ours_mapped,
			sizeof(ours_mapped));
	v2_write_expect("192.0.2.9", 1234, "::ffff:127.0.0.1", 9000, NULL, ours_mapped,
			sizeof(ours_mapped));

	uint8_t out[PROXY_V2_HDR_LEN];
	assert_int_equal(proxy_v2_write_local(out, sizeof(out)), PROXY_V2_HDR_LEN);
	assert_memory_equal(out, ours_local, sizeof(ours_local));
	for (size_t cap = 0; cap < PROXY_V2_HDR_LEN; cap++)
		assert_int_equal(proxy_v2_write_local(out, cap), PROXY_E_BUF);
}

static void test_v2_write_limits(void **state)
{
	(void)state;
	struct sockaddr_storage v4 = sa("1.2.3.4", 1), v6 = sa("ffff::1", 2);
	uint8_t out[PROXY_V2_BUF_LEN + 1];
	char auth[PROXY_V2_AUTHORITY_MAX + 2];
	uint8_t uid[PROXY_V2_UNIQUE_ID_MAX + 1];
	memset(auth, 'a', sizeof(auth) - 1);
	auth[PROXY_V2_AUTHORITY_MAX] = '\0';
	memset(uid, 0xee, sizeof(uid));

	/* The largest header fills PROXY_V2_BUF_LEN exactly. */
	struct proxy_v2_tlvs t = { auth, uid, PROXY_V2_UNIQUE_ID_MAX, true };
	ssize_t n = proxy_v2_write(out, sizeof(out), &v6, &v6, &t);
	assert_int_equal(n, PROXY_V2_BUF_LEN);
	struct proxy_hdr h;
	size_t c;
	assert_int_equal(parse2(out, (size_t)n, &h, &c, 0), PROXY_OK);
	assert_int_equal(c, (size_t)n);
	assert_int_equal(h.authority.len, PROXY_V2_AUTHORITY_MAX);
	assert_int_equal(h.unique_id.len, PROXY_V2_UNIQUE_ID_MAX);

	/* One byte too many in either value. */
	auth[PROXY_V2_AUTHORITY_MAX] = 'a';
	auth[PROXY_V2_AUTHORITY_MAX + 1] = '\0';
	assert_int_equal(proxy_v2_write(out, sizeof(out), &v4, &v4, &t), PROXY_E_ARG);
	auth[PROXY_V2_AUTHORITY_MAX] = '\0';
	t.unique_id_len = PROXY_V2_UNIQUE_ID_MAX + 1;
	assert_int_equal(proxy_v2_write(out, sizeof(out), &v4, &v4, &t), PROXY_E_ARG);
	struct proxy_v2_tlvs nul = { NULL, NULL, 4, false };
	assert_int_equal(proxy_v2_write(out, sizeof(out), &v4, &v4, &nul), PROXY_E_ARG);

	/* Families, as v1. */
	assert_int_equal(proxy_v2_write(out, sizeof(out), &v4, &v6, NULL), PROXY_E_FAMILY);
	assert_int_equal(proxy_v2_write(out, sizeof(out), &v6, &v4, NULL), PROXY_E_FAMILY);
	struct sockaddr_storage un;
	memset(&un, 0, sizeof(un));
	un.ss_family = AF_UNIX;
	assert_int_equal(proxy_v2_write(out, sizeof(out), &un, &un, NULL), PROXY_E_FAMILY);
}

static void test_v2_parse_vectors(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		const uint8_t *b;
		size_t n;
		int family;
		const char *src, *dst;
		unsigned sport, dport;
		const char *authority, *unique_id;
	} v[] = {
#define V(arr, fam, s, sp, d, dp, a, u) { #arr, arr, sizeof(arr), fam, s, d, sp, dp, a, u }
		V(hap_v4, AF_INET, "127.0.0.1", 35862, "127.0.0.1", 19001, NULL, NULL),
		V(hap_v6, AF_INET6, "::1", 45552, "::1", 19002, NULL, NULL),
		V(hap_tls_tlvs, AF_INET, "127.0.0.1", 39330, "127.0.0.1", 19003, "www.example.com",
		  "tls-127.0.0.1-39330"),
		V(ours_v4_tlvs, AF_INET, "192.0.2.7", 40000, "198.51.100.1", 443, "www.example.com",
		  "conn-42"),
		V(ours_v6_auth, AF_INET6, "2001:db8::1", 51000, "2001:db8::2", 443, "api.example.com",
		  NULL),
		V(ours_mapped, AF_INET, "192.0.2.9", 1234, "127.0.0.1", 9000, NULL, NULL),
		V(ours_local, AF_UNSPEC, NULL, 0, NULL, 0, NULL, NULL),
#undef V
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		/* Followed by the application's first bytes, which are not consumed. */
		uint8_t buf[256];
		memcpy(buf, v[i].b, v[i].n);
		memcpy(buf + v[i].n, "\x16\x03\x01\x00\x05", 5);
		for (int any = 0; any < 2; any++) {
			struct proxy_hdr h;
			size_t c = 0;
			int rc = parse2(buf, v[i].n + 5, &h, &c, any);
			if (rc != PROXY_OK)
				fail_msg("%s: rc %d", v[i].what, rc);
			assert_int_equal(c, v[i].n);
			assert_int_equal(h.version, 2);
			assert_int_equal(h.family, v[i].family);
			assert_int_equal(h.local, v[i].b[12] == 0x20);
			if (v[i].family != AF_UNSPEC) {
				assert_endpoint(&h.src, v[i].src, v[i].sport);
				assert_endpoint(&h.dst, v[i].dst, v[i].dport);
			}
			assert_span_eq(&h.authority, v[i].authority);
			assert_span_eq(&h.unique_id, v[i].unique_id);
		}
		v2_prefixes(v[i].b, v[i].n);
	}
}

/* What haproxy relayed of ours: an empty UNIQUE_ID TLV (its unique-id-format gave ""). */
static void test_v2_parse_tlvs(void **state)
{
	(void)state;
	static const uint8_t hap_relay_mapped[] = {
		V2_SIG, 0x21, 0x11, 0x00, 0x19, /* PROXY, TCP/IPv4, length 25 = 12 + 7 + 3 + 3 */
		0xc0, 0x00, 0x02, 0x09,		/* src 192.0.2.9 */
		0x7f, 0x00, 0x00, 0x01,		/* dst 127.0.0.1 */
		0x04, 0xd2, 0x23, 0x28,		/* ports 1234, 9000 */
		0x03, 0x00, 0x04,		/* CRC32C */
		0x8b, 0xe9, 0xd0, 0x07,
		0x05, 0x00, 0x00,		/* UNIQUE_ID, empty */
		0x04, 0x00, 0x00,		/* NOOP, empty (added here: no CRC then) */
	};
	struct proxy_hdr h;
	size_t c;
	/* As captured (without our NOOP, length 22) the CRC holds. */
	uint8_t cap[sizeof(hap_relay_mapped) - 3];
	memcpy(cap, hap_relay_mapped, sizeof(cap));
	cap[15] = 0x16;
	assert_int_equal(parse2(cap, sizeof(cap), &h, &c, 0), PROXY_OK);
	assert_int_equal(c, sizeof(cap));
	assert_non_null(h.unique_id.p);
	assert_int_equal(h.unique_id.len, 0);
	assert_null(h.authority.p);
	/* With the NOOP the CRC no longer matches. */
	assert_int_equal(parse2(hap_relay_mapped, sizeof(hap_relay_mapped), &h, &c, 0),
			 PROXY_E_INVALID);

	/* Other TLVs are walked and skipped: ALPN, NOOP, NETNS, custom, SSL. */
	static const uint8_t many[] = {
		V2_SIG, 0x21, 0x00, 0x00, 0x2f, /* PROXY, UNSPEC, length 47 */
		0x01, 0x00, 0x02, 'h', '2',	/* ALPN "h2" */
		0x04, 0x00, 0x01, 0x00,		/* NOOP, 1 byte */
		0x30, 0x00, 0x02, 'n', 's',	/* NETNS "ns" */
		0xe0, 0x00, 0x00,		/* custom type 0xe0, empty */
		0x20, 0x00, 0x0f,		/* SSL, length 15: */
		0x01,				/*   client: PP2_CLIENT_SSL */
		0x00, 0x00, 0x00, 0x00,		/*   verify: ok */
		0x21, 0x00, 0x07,		/*   sub-TLV SSL_VERSION, length 7 */
		'T', 'L', 'S', 'v', '1', '.', '3',
		0x02, 0x00, 0x01, 'x',		/* AUTHORITY "x" */
		0x05, 0x00, 0x02, 0x00, 0xff,	/* UNIQUE_ID, 2 bytes */
		0xf8, 0x00, 0x00,		/* future type, empty */
	};
	assert_int_equal(parse2(many, sizeof(many), &h, &c, 0), PROXY_OK);
	assert_int_equal(c, sizeof(many));
	assert_int_equal(h.family, AF_UNSPEC);
	assert_false(h.local);
	assert_span_eq(&h.authority, "x");
	assert_int_equal(h.unique_id.len, 2);
	v2_prefixes(many, sizeof(many));

	/* Families this gateway does not use fall back to UNSPEC (spec 2.2). */
	uint8_t fam[16 + 216 + 4];
	static const struct {
		uint8_t fam;
		size_t alen;
	} fb[] = { { 0x12, 12 }, { 0x22, 36 }, { 0x31, 216 }, { 0x32, 216 }, { 0x00, 0 } };
	for (size_t i = 0; i < sizeof(fb) / sizeof(fb[0]); i++) {
		memset(fam, 0x5a, sizeof(fam));
		memcpy(fam, hap_v4, 13);
		fam[13] = fb[i].fam;
		fam[14] = 0;
		fam[15] = (uint8_t)(fb[i].alen + 4);
		memcpy(fam + 16 + fb[i].alen, "\x02\x00\x01y", 4); /* AUTHORITY "y" */
		assert_int_equal(parse2(fam, 16 + fb[i].alen + 4, &h, &c, 0), PROXY_OK);
		assert_int_equal(c, 16 + fb[i].alen + 4);
		assert_int_equal(h.family, AF_UNSPEC);
		assert_span_eq(&h.authority, "y");
		/* LOCAL with the same block: skipped the same way. */
		fam[12] = 0x20;
		assert_int_equal(parse2(fam, 16 + fb[i].alen + 4, &h, &c, 0), PROXY_OK);
		assert_true(h.local);
		assert_int_equal(h.family, AF_UNSPEC);
		assert_span_eq(&h.authority, "y");
	}
	/* LOCAL with a TCP/IPv4 block: addresses ignored, as the spec says. */
	memcpy(fam, hap_v4, sizeof(hap_v4));
	fam[12] = 0x20;
	assert_int_equal(parse2(fam, sizeof(hap_v4), &h, &c, 0), PROXY_OK);
	assert_true(h.local);
	assert_int_equal(h.family, AF_UNSPEC);
}

static void test_v2_parse_invalid(void **state)
{
	(void)state;
	struct proxy_hdr h;
	size_t c;
	uint8_t b[PROXY_V2_MAX_LEN + 16];

	/* A wrong signature byte is seen at once. */
	for (size_t i = 0; i < PROXY_V2_SIG_LEN; i++) {
		memcpy(b, hap_v4, sizeof(hap_v4));
		b[i] ^= 0x20;
		assert_int_equal(parse2(b, i + 1, &h, &c, 0), PROXY_E_INVALID);
		assert_int_equal(parse2(b, sizeof(hap_v4), &h, &c, 0), PROXY_E_INVALID);
		assert_int_equal(c, 0);
	}
	/* Version and command: only 0x20 and 0x21. */
	for (unsigned v = 0; v < 256; v++) {
		if (v == 0x20 || v == 0x21)
			continue;
		memcpy(b, hap_v4, sizeof(hap_v4));
		b[12] = (uint8_t)v;
		assert_int_equal(parse2(b, 13, &h, &c, 0), PROXY_E_INVALID);
		assert_int_equal(parse2(b, sizeof(hap_v4), &h, &c, 0), PROXY_E_INVALID);
	}
	/* Family and protocol: the seven defined bytes only. */
	for (unsigned v = 0; v < 256; v++) {
		if (v == 0x00 || v == 0x11 || v == 0x12 || v == 0x21 || v == 0x22 || v == 0x31 ||
		    v == 0x32)
			continue;
		memcpy(b, hap_v4, sizeof(hap_v4));
		b[13] = (uint8_t)v;
		assert_int_equal(parse2(b, 14, &h, &c, 0), PROXY_E_INVALID);
	}
	/* Length below the address block. */
	static const struct {
		uint8_t fam;
		size_t alen;
	} al[] = { { 0x11, 12 }, { 0x12, 12 }, { 0x21, 36 }, { 0x22, 36 }, { 0x31, 216 }, { 0x32, 216 } };
	for (size_t i = 0; i < sizeof(al) / sizeof(al[0]); i++) {
		memset(b, 0, sizeof(b));
		memcpy(b, hap_v4, 14);
		b[13] = al[i].fam;
		b[15] = (uint8_t)(al[i].alen - 1);
		assert_int_equal(parse2(b, 16, &h, &c, 0), PROXY_E_INVALID);
		b[12] = 0x20; /* LOCAL too: the block must still be skippable */
		assert_int_equal(parse2(b, 16, &h, &c, 0), PROXY_E_INVALID);
	}
	/* Length over the cap: refused from the fixed header on. */
	memset(b, 0, sizeof(b));
	memcpy(b, hap_v4, 14);
	b[13] = 0x00;
	b[14] = (PROXY_V2_MAX_LEN - 16 + 1) >> 8;
	b[15] = (PROXY_V2_MAX_LEN - 16 + 1) & 0xff;
	assert_int_equal(parse2(b, 16, &h, &c, 0), PROXY_E_INVALID);
	b[14] = b[15] = 0xff;
	assert_int_equal(parse2(b, 16, &h, &c, 0), PROXY_E_INVALID);
	/* Exactly at the cap: one NOOP TLV filling it. */
	size_t nl = PROXY_V2_MAX_LEN - 16;
	b[14] = (uint8_t)(nl >> 8);
	b[15] = (uint8_t)nl;
	b[16] = PP2_TYPE_NOOP;
	b[17] = (uint8_t)((nl - 3) >> 8);
	b[18] = (uint8_t)(nl - 3);
	assert_int_equal(parse2(b, 16, &h, &c, 0), PROXY_NEED_MORE);
	assert_int_equal(parse2(b, PROXY_V2_MAX_LEN, &h, &c, 0), PROXY_OK);
	assert_int_equal(c, PROXY_V2_MAX_LEN);

	/* TLV framing and content errors, each in an UNSPEC header. */
	static const struct {
		const char *why;
		const char *tlvs;
		size_t n;
	} t[] = {
#define T(why, s) { why, s, sizeof(s) - 1 }
		T("1 byte left", "\x04"),
		T("2 bytes left", "\x04\x00"),
		T("value past the end", "\x04\x00\x02" "a"),
		T("value far past the end", "\x02\xff\xff" "abc"),
		T("TLV then a stray byte", "\x04\x00\x00" "\x00"),
		T("two authorities", "\x02\x00\x01" "a" "\x02\x00\x01" "b"),
		T("two unique ids", "\x05\x00\x01" "a" "\x05\x00\x00"),
		T("unique id of 129 bytes", "\x05\x00\x81"
		  "0123456789012345678901234567890123456789012345678901234567890123"
		  "0123456789012345678901234567890123456789012345678901234567890123" "x"),
		T("CRC32C of 3 bytes", "\x03\x00\x03" "abc"),
		T("CRC32C of 5 bytes", "\x03\x00\x05" "abcde"),
		T("CRC32C wrong", "\x03\x00\x04" "\x00\x00\x00\x00"),
		T("SSL of 4 bytes", "\x20\x00\x04" "\x01\x00\x00\x00"),
		T("SSL sub-TLV cut", "\x20\x00\x07" "\x01\x00\x00\x00\x00" "\x21\x00"),
		T("SSL sub-TLV past its end", "\x20\x00\x09" "\x01\x00\x00\x00\x00" "\x21\x00\x02" "T"),
#undef T
	};
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		memcpy(b, ours_local, 16);
		b[12] = 0x21;
		b[14] = (uint8_t)(t[i].n >> 8);
		b[15] = (uint8_t)t[i].n;
		memcpy(b + 16, t[i].tlvs, t[i].n);
		int rc = parse2(b, 16 + t[i].n, &h, &c, 0);
		if (rc != PROXY_E_INVALID)
			fail_msg("%s: rc %d", t[i].why, rc);
		assert_int_equal(c, 0);
	}
	/* A unique id of exactly 128 bytes is fine. */
	memcpy(b, ours_local, 16);
	b[15] = 3 + 128;
	b[16] = PP2_TYPE_UNIQUE_ID, b[17] = 0, b[18] = 128;
	memset(b + 19, 'u', 128);
	assert_int_equal(parse2(b, 16 + 3 + 128, &h, &c, 0), PROXY_OK);
	assert_int_equal(h.unique_id.len, 128);

	/*
	 * Any single changed bit of a CRC-carrying header is caught, except in
	 * the CRC TLV's own type byte (offset 28): 0x03 turned into another type
	 * drops the checksum and leaves a valid header (0x02 excepted: a second
	 * authority).
	 */
	for (size_t i = 0; i < sizeof(hap_tls_tlvs); i++) {
		for (unsigned bit = 0; bit < 8; bit++) {
			memcpy(b, hap_tls_tlvs, sizeof(hap_tls_tlvs));
			b[i] ^= (uint8_t)(1u << bit);
			int rc = parse2(b, sizeof(hap_tls_tlvs), &h, &c, 0);
			/* A longer length field waits for bytes that are not there. */
			int ok = rc == PROXY_E_INVALID ||
				 (rc == PROXY_NEED_MORE && (i == 14 || i == 15) && b[i] > hap_tls_tlvs[i]) ||
				 (rc == PROXY_OK && i == 28 && b[i] != PP2_TYPE_AUTHORITY);
			if (!ok)
				fail_msg("byte %zu bit %u: rc %d", i, bit, rc);
		}
	}
}

static void test_parse_dispatch(void **state)
{
	(void)state;
	struct proxy_hdr h;
	size_t c;
	static const char v1[] = "PROXY TCP4 192.0.2.7 127.0.0.1 40000 9000\r\nGET / HTTP/1.1\r\n";
	memset(&h, 0xa5, sizeof(h));
	assert_int_equal(proxy_parse(LIT(v1), &h, &c), PROXY_OK);
	assert_int_equal(c, 43);
	assert_int_equal(h.version, 1);
	/* v1 headers leave the v2 fields zero. */
	assert_false(h.local);
	assert_null(h.authority.p);
	assert_int_equal(h.authority.len, 0);
	assert_null(h.unique_id.p);
	assert_int_equal(h.unique_id.len, 0);
	memset(&h, 0xa5, sizeof(h));
	assert_int_equal(proxy_v1_parse(LIT("PROXY UNKNOWN\r\n"), &h, &c), PROXY_OK);
	assert_false(h.local);
	assert_null(h.authority.p);

	static const struct {
		const char *s;
		size_t n;
		int rc;
	} v[] = {
#define V(s, rc) { s, sizeof(s) - 1, rc }
		V("", PROXY_NEED_MORE),
		V("P", PROXY_NEED_MORE),
		V("PROXY", PROXY_NEED_MORE),
		V("PROXY TCP4 1.2.3.4", PROXY_NEED_MORE),
		V("\r", PROXY_NEED_MORE),
		V("\r\n\r\n\0\r\nQUIT", PROXY_NEED_MORE),
		V("\r\n\r\n\0\r\nQUIT\n", PROXY_NEED_MORE),
		V("\r\n\r\n\0\r\nQUIT\n\x21\x11\x00", PROXY_NEED_MORE),
		V("\r\n\r\n\0\r\nQUIT\n\x31", PROXY_E_INVALID),
		V("\r\n\r\n\0\r\nQUIT\nPROXY TCP4", PROXY_E_INVALID),
		V("\r\n\r\nGET", PROXY_E_INVALID),
		V("GET / HTTP/1.1\r\n", PROXY_E_INVALID),
		V("\x16\x03\x01\x00\x05", PROXY_E_INVALID),
		V("SSH-2.0-x\r\n", PROXY_E_INVALID),
		V("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", PROXY_E_INVALID),
#undef V
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		c = 99;
		int rc = proxy_parse((const uint8_t *)v[i].s, v[i].n, &h, &c);
		if (rc != v[i].rc)
			fail_msg("vector %zu: rc %d want %d", i, rc, v[i].rc);
		assert_int_equal(c, 0);
	}
	assert_int_equal(proxy_parse(NULL, 0, &h, &c), PROXY_NEED_MORE);
	assert_int_equal(proxy_v2_parse(NULL, 0, &h, &c), PROXY_NEED_MORE);
}

static void test_crc32c(void **state)
{
	(void)state;
	assert_int_equal(proxy_crc32c((const uint8_t *)"123456789", 9), 0xe3069283u);
	assert_int_equal(proxy_crc32c(NULL, 0), 0);
	/* RFC 3720 B.4: 32 bytes of zeros, of 0xff. */
	uint8_t z[32];
	memset(z, 0, sizeof(z));
	assert_int_equal(proxy_crc32c(z, 32), 0x8a9136aau);
	memset(z, 0xff, sizeof(z));
	assert_int_equal(proxy_crc32c(z, 32), 0x62a8ab43u);
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
		cmocka_unit_test(test_v2_write),
		cmocka_unit_test(test_v2_write_limits),
		cmocka_unit_test(test_v2_parse_vectors),
		cmocka_unit_test(test_v2_parse_tlvs),
		cmocka_unit_test(test_v2_parse_invalid),
		cmocka_unit_test(test_parse_dispatch),
		cmocka_unit_test(test_crc32c),
	};
	return cmocka_run_group_tests_name("wire/proxy", tests, NULL, NULL);
}
