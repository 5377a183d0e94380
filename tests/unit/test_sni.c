/*
 * Unit tests for wire/tls_sni: the SNI host name from the first bytes of a
 * TLS stream.
 *
 * Vectors:
 *   - seven real ClientHellos captured on loopback from openssl s_client and
 *     curl (tls_hellos.h, dissected field by field), one of them
 *     browser-sized (1671 bytes: a 1024-byte ffdhe8192 key share);
 *   - a Chrome-style post-quantum ClientHello of 1820 bytes built by hand
 *     below (OpenSSL 3.0 cannot send an X25519MLKEM768 share), annotated;
 *   - small ClientHellos built field by field for single rules.
 * Every complete vector is also cut at every length (all must be
 * SNI_NEED_MORE), re-framed into several records (must parse the same), and
 * has each length field the parser reads bent by one and set to its extremes
 * (all must be SNI_MALFORMED or SNI_TOO_LARGE). Buffers handed to the parser
 * are exact-size heap copies, so the ASan build catches any over-read.
 *
 * Cross-checked once against a real TLS server (openssl s_server 3.0.19): it
 * answers with a ServerHello to each captured hello, to the PQ hello below,
 * to the hellos re-framed into 2, 3 and 1-byte records and with record
 * version 0x0303, and refuses with alert unexpected_message (10) a hello
 * whose record carries one byte more after it, which is why that is
 * SNI_MALFORMED here.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "tls_hellos.h"
#include "wire/tls_sni.h"

#define LIT(s) (const uint8_t *)(s), (sizeof(s) - 1)

/* Parses an exact-size heap copy of buf[0..len). */
static int parse(const uint8_t *buf, size_t len, struct sni_info *info)
{
	uint8_t *copy = malloc(len ? len : 1);
	assert_non_null(copy);
	if (len)
		memcpy(copy, buf, len);
	int rc = sni_parse(len ? copy : NULL, len, info);
	free(copy);
	return rc;
}

static void expect(const char *what, const uint8_t *buf, size_t len, int want, size_t span,
		   const char *name)
{
	struct sni_info info;
	int rc = parse(buf, len, &info);
	if (rc != want)
		fail_msg("%s: %s (%d), want %s (%d)", what, sni_result_str(rc), rc, sni_result_str(want),
			 want);
	if (info.span != span)
		fail_msg("%s: span %zu, want %zu", what, info.span, span);
	if (strcmp(info.name, name) != 0)
		fail_msg("%s: name \"%s\", want \"%s\"", what, info.name, name);
	assert_int_equal(info.name_len, strlen(name));
}

/* Every proper prefix of a complete stream asks for more, with a sane hint. */
static void expect_prefixes(const char *what, const uint8_t *buf, size_t len)
{
	for (size_t k = 0; k < len; k++) {
		struct sni_info info;
		int rc = parse(buf, k, &info);
		if (rc != SNI_NEED_MORE)
			fail_msg("%s: prefix %zu of %zu: %s", what, k, len, sni_result_str(rc));
		if (info.span <= k || info.span > len || info.name[0] != '\0')
			fail_msg("%s: prefix %zu: span %zu", what, k, info.span);
	}
}

/*
 * Re-frames the handshake message carried by the single-record hello h into
 * records cut at the handshake offsets cuts[0..ncut) (ascending), each with
 * record version `ver`. Returns the new length.
 */
static size_t reframe(const uint8_t *h, size_t n, const size_t *cuts, size_t ncut, uint16_t ver,
		      uint8_t *out)
{
	const uint8_t *msg = h + 5;
	size_t mlen = n - 5, w = 0, from = 0;
	for (size_t i = 0; i <= ncut; i++) {
		size_t to = i < ncut ? cuts[i] : mlen;
		out[w++] = 0x16;
		out[w++] = (uint8_t)(ver >> 8);
		out[w++] = (uint8_t)ver;
		out[w++] = (uint8_t)((to - from) >> 8);
		out[w++] = (uint8_t)(to - from);
		memcpy(out + w, msg + from, to - from);
		w += to - from;
		from = to;
	}
	return w;
}

/* ------------------------------------------------------------------ */
/* Hand-built vectors                                                 */

#define PUT(...)                                                                                   \
	do {                                                                                       \
		static const uint8_t b_[] = { __VA_ARGS__ };                                       \
		memcpy(out + w, b_, sizeof(b_));                                                   \
		w += sizeof(b_);                                                                   \
	} while (0)
/* n filler bytes (key material, random values) counting up from `from`. */
#define FILL(n, from)                                                                              \
	do {                                                                                       \
		for (size_t i_ = 0; i_ < (n); i_++)                                                \
			out[w++] = (uint8_t)((from) + i_);                                         \
	} while (0)

#define PQ_HELLO_LEN 1820

/*
 * A ClientHello shaped like Chrome's since version 131: GREASE values, the
 * X25519MLKEM768 hybrid key share (group 0x11ec: a 1184-byte ML-KEM-768
 * encapsulation key plus a 32-byte X25519 share), a GREASE ECH extension.
 * 1820 bytes in one record; SNI "pq.example.com". openssl s_server 3.0
 * answers it with a ServerHello (it ignores the groups it does not know and
 * picks the x25519 share).
 */
static size_t pq_hello(uint8_t *out)
{
	size_t w = 0;
	PUT(0x16, 0x03, 0x01, 0x07, 0x17); /* record: handshake, version 0x0301, length 1815 */
	PUT(0x01, 0x00, 0x07, 0x13);	   /* handshake: ClientHello, length 1811 */
	PUT(0x03, 0x03);		   /* legacy_version TLS 1.2 */
	FILL(32, 0x00);			   /* random */
	PUT(0x20);			   /* session_id length 32 (middlebox compatibility) */
	FILL(32, 0xe0);			   /* session_id */
	PUT(0x00, 0x20,			   /* cipher_suites length 32: */
	    0x0a, 0x0a,			   /*   GREASE */
	    0x13, 0x01, 0x13, 0x02, 0x13, 0x03, /* TLS 1.3 AES-128-GCM, AES-256-GCM, CHACHA20 */
	    0xc0, 0x2b, 0xc0, 0x2f, 0xc0, 0x2c, 0xc0, 0x30, /* ECDHE-{ECDSA,RSA}-AES-GCM */
	    0xcc, 0xa9, 0xcc, 0xa8,			    /* ECDHE-{ECDSA,RSA}-CHACHA20 */
	    0xc0, 0x13, 0xc0, 0x14,			    /* ECDHE-RSA-AES-CBC */
	    0x00, 0x9c, 0x00, 0x9d, 0x00, 0x2f, 0x00, 0x35); /* RSA */
	PUT(0x01, 0x00);			   /* compression_methods length 1: null */
	PUT(0x06, 0xaa);			   /* extensions length 1706 */
	PUT(0x1a, 0x1a, 0x00, 0x00);		   /* GREASE extension, empty */
	PUT(0x00, 0x00, 0x00, 0x13,		   /* server_name, length 19 */
	    0x00, 0x11,				   /*   server_name_list length 17 */
	    0x00,				   /*   name_type host_name */
	    0x00, 0x0e,				   /*   host_name length 14 */
	    'p', 'q', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm');
	PUT(0x00, 0x17, 0x00, 0x00);		   /* extended_master_secret */
	PUT(0xff, 0x01, 0x00, 0x01, 0x00);	   /* renegotiation_info, empty */
	PUT(0x00, 0x0a, 0x00, 0x0c,		   /* supported_groups, length 12 */
	    0x00, 0x0a,				   /*   list length 10: */
	    0x2a, 0x2a, 0x11, 0xec, 0x00, 0x1d,	   /*   GREASE, X25519MLKEM768, x25519, */
	    0x00, 0x17, 0x00, 0x18);		   /*   secp256r1, secp384r1 */
	PUT(0x00, 0x0b, 0x00, 0x02, 0x01, 0x00);   /* ec_point_formats: uncompressed */
	PUT(0x00, 0x23, 0x00, 0x00);		   /* session_ticket, empty */
	PUT(0x00, 0x10, 0x00, 0x0e,		   /* ALPN, length 14 */
	    0x00, 0x0c, 0x02, 'h', '2',		   /*   list length 12: "h2", */
	    0x08, 'h', 't', 't', 'p', '/', '1', '.', '1'); /* "http/1.1" */
	PUT(0x00, 0x05, 0x00, 0x05, 0x01, 0x00, 0x00, 0x00, 0x00); /* status_request: OCSP */
	PUT(0x00, 0x0d, 0x00, 0x12,		   /* signature_algorithms, length 18 */
	    0x00, 0x10, 0x04, 0x03, 0x08, 0x04, 0x04, 0x01, 0x05, 0x03, /* list length 16 */
	    0x08, 0x05, 0x05, 0x01, 0x08, 0x06, 0x06, 0x01);
	PUT(0x00, 0x12, 0x00, 0x00);		   /* signed_certificate_timestamp, empty */
	PUT(0x00, 0x33, 0x04, 0xef,		   /* key_share, length 1263 */
	    0x04, 0xed,				   /*   client_shares length 1261: */
	    0x2a, 0x2a, 0x00, 0x01, 0x00,	   /*   GREASE group, 1-byte share */
	    0x11, 0xec, 0x04, 0xc0);		   /*   X25519MLKEM768, 1216 bytes: */
	FILL(1184, 0x40);			   /*     ML-KEM-768 encapsulation key */
	FILL(32, 0x90);				   /*     X25519 public value */
	PUT(0x00, 0x1d, 0x00, 0x20);		   /*   x25519, 32 bytes: */
	FILL(32, 0xb0);				   /*     public value */
	PUT(0x00, 0x2d, 0x00, 0x02, 0x01, 0x01);   /* psk_key_exchange_modes: psk_dhe_ke */
	PUT(0x00, 0x2b, 0x00, 0x07,		   /* supported_versions, length 7 */
	    0x06, 0x3a, 0x3a, 0x03, 0x04, 0x03, 0x03); /* GREASE, TLS 1.3, TLS 1.2 */
	PUT(0x00, 0x1b, 0x00, 0x03, 0x02, 0x00, 0x02); /* compress_certificate: brotli */
	PUT(0x44, 0xcd, 0x00, 0x05,		   /* application_settings (new codepoint), length 5 */
	    0x00, 0x03, 0x02, 'h', '2');
	PUT(0xfe, 0x0d, 0x01, 0x1a,		   /* encrypted_client_hello (GREASE), length 282 */
	    0x00,				   /*   type outer */
	    0x00, 0x01, 0x00, 0x01,		   /*   HKDF-SHA256, AES-128-GCM */
	    0x5c,				   /*   config_id */
	    0x00, 0x20);			   /*   enc length 32 */
	FILL(32, 0x10);				   /*   enc */
	PUT(0x00, 0xf0);			   /*   payload length 240 */
	FILL(240, 0x00);			   /*   payload */
	PUT(0x4a, 0x4a, 0x00, 0x01, 0x00);	   /* GREASE extension, 1 byte */
	assert_int_equal(w, PQ_HELLO_LEN);
	return w;
}

/*
 * A minimal ClientHello (one record) whose extension block is ext[0..elen)
 * (NULL: no extension block at all); hs_extra bytes are added to the
 * handshake length only, rec_extra to the record length only.
 */
static size_t mini_hello_x(uint8_t *out, const uint8_t *ext, size_t elen, int hs_extra,
			   int rec_extra)
{
	size_t w = 0;
	size_t body = 2 + 32 + 1 + 4 + 2 + (ext != NULL ? 2 + elen : 0);
	size_t rec = 4 + body + (size_t)rec_extra;
	body += (size_t)hs_extra;
	PUT(0x16, 0x03, 0x01);				 /* record: handshake, 0x0301 */
	out[w++] = (uint8_t)(rec >> 8);			 /* record length */
	out[w++] = (uint8_t)rec;
	PUT(0x01);					 /* ClientHello */
	out[w++] = (uint8_t)(body >> 16);		 /* handshake length */
	out[w++] = (uint8_t)(body >> 8);
	out[w++] = (uint8_t)body;
	PUT(0x03, 0x03);				 /* legacy_version */
	FILL(32, 0x00);					 /* random */
	PUT(0x00);					 /* session_id length 0 */
	PUT(0x00, 0x02, 0x13, 0x01);			 /* cipher_suites: TLS_AES_128_GCM_SHA256 */
	PUT(0x01, 0x00);				 /* compression_methods: null */
	if (ext != NULL) {
		out[w++] = (uint8_t)(elen >> 8);	 /* extensions length */
		out[w++] = (uint8_t)elen;
		memcpy(out + w, ext, elen);
		w += elen;
	}
	return w;
}

static size_t mini_hello(uint8_t *out, const uint8_t *ext, size_t elen)
{
	return mini_hello_x(out, ext, elen, 0, 0);
}

/* A server_name extension holding one host_name entry name[0..n). */
static size_t sni_ext(uint8_t *out, const char *name, size_t n)
{
	size_t w = 0;
	PUT(0x00, 0x00);		   /* extension type server_name */
	out[w++] = (uint8_t)((n + 5) >> 8); /* extension length */
	out[w++] = (uint8_t)(n + 5);
	out[w++] = (uint8_t)((n + 3) >> 8); /* server_name_list length */
	out[w++] = (uint8_t)(n + 3);
	PUT(0x00);			   /* name_type host_name */
	out[w++] = (uint8_t)(n >> 8);	   /* host_name length */
	out[w++] = (uint8_t)n;
	memcpy(out + w, name, n);
	return w + n;
}

/* ------------------------------------------------------------------ */
/* Real hellos                                                        */

struct real {
	const char *what;
	const uint8_t *b;
	size_t n;
	int rc;
	const char *name;
};

static uint8_t pq_buf[PQ_HELLO_LEN];

static size_t reals(struct real *v)
{
	size_t i = 0;
#define R(arr, rc_, name_) v[i++] = (struct real){ #arr, arr, sizeof(arr), rc_, name_ }
	R(hello_openssl, SNI_OK, "www.example.com");
	R(hello_curl, SNI_OK, "www.example.com");
	R(hello_nosni, SNI_NO_SNI, "");
	R(hello_upper, SNI_OK, "www.example.com"); /* sent as WWW.Example.COM */
	R(hello_ip, SNI_BAD_NAME, "");		   /* 127.0.0.1 */
	R(hello_dot, SNI_BAD_NAME, "");		   /* www.example.com. */
	R(hello_big, SNI_OK, "www.example.com");
#undef R
	pq_hello(pq_buf);
	v[i++] = (struct real){ "pq_hello", pq_buf, PQ_HELLO_LEN, SNI_OK, "pq.example.com" };
	return i;
}
#define NREAL 8

static void test_real_hellos(void **state)
{
	(void)state;
	struct real v[NREAL];
	assert_int_equal(reals(v), NREAL);
	assert_true(sizeof(hello_big) > 1536);
	for (size_t i = 0; i < NREAL; i++) {
		expect(v[i].what, v[i].b, v[i].n, v[i].rc, v[i].n, v[i].name);

		/* Followed by more bytes (a TLS 1.3 client's ChangeCipherSpec and
		 * early data): same answer, the span stops at the hello. */
		static const uint8_t after[] = { 0x14, 0x03, 0x03, 0x00, 0x01, 0x01, /* CCS */
						 0x17, 0x03, 0x03, 0x00, 0x02, 0xaa, 0xbb };
		uint8_t *more = malloc(v[i].n + sizeof(after));
		memcpy(more, v[i].b, v[i].n);
		memcpy(more + v[i].n, after, sizeof(after));
		expect(v[i].what, more, v[i].n + sizeof(after), v[i].rc, v[i].n, v[i].name);
		/* ... or by anything at all, even another handshake record. */
		memcpy(more + v[i].n, "\x16\x03\x01\x00\x01\x02GET", 9);
		expect(v[i].what, more, v[i].n + 9, v[i].rc, v[i].n, v[i].name);
		free(more);
	}
}

static void test_truncations(void **state)
{
	(void)state;
	struct real v[NREAL];
	reals(v);
	for (size_t i = 0; i < NREAL; i++)
		expect_prefixes(v[i].what, v[i].b, v[i].n);

	/* The hint: the end of the record header, then of the record. */
	struct sni_info info;
	assert_int_equal(parse(hello_openssl, 0, &info), SNI_NEED_MORE);
	assert_int_equal(info.span, 5);
	assert_int_equal(parse(hello_openssl, 4, &info), SNI_NEED_MORE);
	assert_int_equal(info.span, 5);
	assert_int_equal(parse(hello_openssl, 5, &info), SNI_NEED_MORE);
	assert_int_equal(info.span, sizeof(hello_openssl));
	assert_int_equal(parse(hello_openssl, 100, &info), SNI_NEED_MORE);
	assert_int_equal(info.span, sizeof(hello_openssl));
}

/* The Go original panicked on these (go-original.md §8 item 3). */
static void test_go_crashers(void **state)
{
	(void)state;
	/* The 5-byte probe: a record header announcing 5 bytes, nothing more. */
	static const uint8_t probe[] = {
		0x16,	    /* content type handshake */
		0x03, 0x01, /* record version TLS 1.0 */
		0x00, 0x05, /* record length 5 */
	};
	expect("5-byte probe", probe, sizeof(probe), SNI_NEED_MORE, 10, "");
	/* ... and its 5 bytes: a ClientHello of length 1 cannot be. */
	static const uint8_t probe10[] = {
		0x16, 0x03, 0x01, 0x00, 0x05, /* record, length 5 */
		0x01,			      /* ClientHello */
		0x00, 0x00, 0x01,	      /* length 1 */
		0x03,			      /* half a legacy_version */
	};
	expect("10-byte probe", probe10, sizeof(probe10), SNI_MALFORMED, 0, "");
	/* Other record versions the probe might carry. */
	expect("probe 0300", LIT("\x16\x03\x00\x00\x05"), SNI_NEED_MORE, 10, "");
	expect("probe 0304", LIT("\x16\x03\x04\x00\x05"), SNI_NEED_MORE, 10, "");

	/*
	 * Compression-methods length at every value. A few values give a
	 * well-formed hello without SNI: 180 (the methods run to the end of the
	 * message: no extensions), and 142, where the methods swallow the
	 * extensions up to the inside of key_share, whose nested lengths then
	 * read as a valid extension block (length 0x0024, then "extension"
	 * 0x001d of length 0x0020: the x25519 share). Everything else is
	 * malformed; none may crash or yield a name.
	 */
	uint8_t h[sizeof(hello_openssl)];
	size_t comp_at = 5 + 4 + 2 + 32 + 1 + 32 + 2 + 62;
	assert_int_equal(hello_openssl[comp_at], 0x01);
	assert_int_equal(sizeof(h) - comp_at - 1, 180);
	for (unsigned v = 0; v < 256; v++) {
		if (v == 1)
			continue;
		memcpy(h, hello_openssl, sizeof(h));
		h[comp_at] = (uint8_t)v;
		if (v == 142 || v == 180)
			expect("compression length", h, sizeof(h), SNI_NO_SNI, sizeof(h), "");
		else
			expect(v == 2 ? "compression length 2" : "compression length", h, sizeof(h),
			       SNI_MALFORMED, 0, "");
	}
}

static void test_not_tls(void **state)
{
	(void)state;
	static const struct {
		const char *what;
		const char *s;
		size_t n;
		int rc;
	} v[] = {
#define V(what, s, rc) { what, s, sizeof(s) - 1, rc }
		V("HTTP, from its first byte", "G", SNI_NOT_TLS),
		V("HTTP request", "GET / HTTP/1.1\r\nHost: www.example.com\r\n\r\n", SNI_NOT_TLS),
		V("SSH banner", "SSH-2.0-OpenSSH_9.2\r\n", SNI_NOT_TLS),
		V("PROXY v1", "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", SNI_NOT_TLS),
		V("SSLv2-compatible hello", "\x80\x2e\x01\x03\x01", SNI_NOT_TLS),
		V("TLS alert record", "\x15\x03\x03\x00\x02\x02\x28", SNI_NOT_TLS),
		V("TLS application data", "\x17\x03\x03", SNI_NOT_TLS),
		V("TLS change cipher spec", "\x14", SNI_NOT_TLS),
		V("0x16 then not version 3", "\x16\x02", SNI_NOT_TLS),
		V("0x16 then a NUL", "\x16\x00", SNI_NOT_TLS),
		V("version 3.5", "\x16\x03\x05", SNI_NOT_TLS),
		V("version 3.255", "\x16\x03\xff\x00\x05", SNI_NOT_TLS),
		V("empty", "", SNI_NEED_MORE),
		V("0x16", "\x16", SNI_NEED_MORE),
		V("0x16 0x03", "\x16\x03", SNI_NEED_MORE),
		V("0x16 0x03 0x03 0x00", "\x16\x03\x03\x00", SNI_NEED_MORE),
		/* TLS-looking record headers with wrong contents: malformed, not "not TLS". */
		V("record length 0", "\x16\x03\x01\x00\x00", SNI_MALFORMED),
		V("record length 18433", "\x16\x03\x01\x48\x01", SNI_MALFORMED),
		V("record length 65535", "\x16\x03\x01\xff\xff", SNI_MALFORMED),
		V("ServerHello", "\x16\x03\x03\x00\x30\x02", SNI_MALFORMED),
		V("HelloRequest", "\x16\x03\x03\x00\x04\x00\x00\x00\x00", SNI_MALFORMED),
#undef V
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct sni_info info;
		int rc = parse((const uint8_t *)v[i].s, v[i].n, &info);
		if (rc != v[i].rc)
			fail_msg("%s: %s, want %s", v[i].what, sni_result_str(rc), sni_result_str(v[i].rc));
		if (rc != SNI_NEED_MORE)
			assert_int_equal(info.span, 0);
	}
	/* The largest record length accepted: 18432. */
	expect("record length 18432", LIT("\x16\x03\x01\x48\x00\x01"), SNI_NEED_MORE, 18437, "");
}

/* ------------------------------------------------------------------ */
/* Several records                                                    */

static void test_split_annotated(void **state)
{
	(void)state;
	/*
	 * hello_openssl (handshake message of 316 bytes) in two records, cut
	 * inside the host name: handshake offset 155 is after "www.exa".
	 */
	size_t cut = 4 + 2 + 32 + 1 + 32 + 2 + 62 + 1 + 1 + 2 + 4 + 2 + 1 + 2 + 7;
	assert_int_equal(cut, 155);
	assert_memory_equal(hello_openssl + 5 + cut - 7, "www.exa", 7);
	uint8_t two[sizeof(hello_openssl) + 5];
	size_t n = reframe(hello_openssl, sizeof(hello_openssl), &cut, 1, 0x0301, two);
	assert_int_equal(n, sizeof(two));
	static const uint8_t rec1[] = { 0x16, 0x03, 0x01, 0x00, 0x9b }; /* handshake, 155 bytes */
	static const uint8_t rec2[] = { 0x16, 0x03, 0x01, 0x00, 0xa1 }; /* handshake, 161 bytes */
	assert_memory_equal(two, rec1, 5);
	assert_memory_equal(two + 5, hello_openssl + 5, 155); /* 01 00 01 38 03 03 ... "www.exa" */
	assert_memory_equal(two + 160, rec2, 5);
	assert_memory_equal(two + 165, "mple.com", 8);
	expect("split in the name", two, n, SNI_OK, n, "www.example.com");
	expect_prefixes("split in the name", two, n);
	struct sni_info info;
	assert_int_equal(parse(two, 160, &info), SNI_NEED_MORE);
	assert_int_equal(info.span, 165); /* the second record's header */
	assert_int_equal(parse(two, 168, &info), SNI_NEED_MORE);
	assert_int_equal(info.span, n);

	/* The second record header broken field by field. */
	static const struct {
		size_t at;
		uint8_t v;
	} bad[] = {
		{ 0, 0x17 }, /* application data in the middle of a handshake message */
		{ 0, 0x15 }, /* alert */
		{ 1, 0x02 }, /* version major */
		{ 2, 0x05 }, /* version minor */
		{ 3, 0x48 }, /* length 0x48a1 > 18432 */
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t m[sizeof(two)];
		memcpy(m, two, sizeof(m));
		m[160 + bad[i].at] = bad[i].v;
		expect("bad second record", m, sizeof(m), SNI_MALFORMED, 0, "");
		/* Seen as soon as the header byte is there (both for the length). */
		size_t early = 161 + (bad[i].at == 3 ? 4 : bad[i].at);
		expect("bad second record, early", m, early, SNI_MALFORMED, 0, "");
	}
	uint8_t z[sizeof(two)];
	memcpy(z, two, sizeof(z));
	z[163] = z[164] = 0; /* an empty handshake fragment */
	expect("empty record", z, 165, SNI_MALFORMED, 0, "");
}

static void test_split_everywhere(void **state)
{
	(void)state;
	struct real v[NREAL];
	reals(v);
	for (size_t i = 0; i < NREAL; i++) {
		size_t mlen = v[i].n - 5;
		uint8_t *buf = malloc(v[i].n + 5 * mlen);
		/* Two records, cut at every offset. */
		for (size_t cut = 1; cut < mlen; cut++) {
			size_t n = reframe(v[i].b, v[i].n, &cut, 1, 0x0301, buf);
			expect(v[i].what, buf, n, v[i].rc, n, v[i].name);
		}
		/* Every byte in its own record. */
		size_t *cuts = calloc(mlen, sizeof(*cuts));
		for (size_t k = 0; k + 1 < mlen; k++)
			cuts[k] = k + 1;
		size_t n = reframe(v[i].b, v[i].n, cuts, mlen - 1, 0x0303, buf);
		assert_int_equal(n, 6 * mlen);
		expect(v[i].what, buf, n, v[i].rc, n, v[i].name);
		if (i < 2)
			expect_prefixes("1-byte records", buf, n);
		free(cuts);
		free(buf);
	}
	/* Record versions 0x0300-0x0304 are all accepted, in any mix. */
	for (uint16_t ver = 0x0300; ver <= 0x0304; ver++) {
		uint8_t buf[sizeof(hello_openssl) + 10];
		size_t cuts[2] = { 10, 200 };
		size_t n = reframe(hello_openssl, sizeof(hello_openssl), cuts, 2, ver, buf);
		buf[2] = 0x01;
		expect("record version", buf, n, SNI_OK, n, "www.example.com");
	}
}

/* ------------------------------------------------------------------ */
/* Every length field the parser reads, bent                          */

struct lenfield {
	const char *what;
	size_t at, width;
};

/* The length fields of a valid single-record hello, found by walking it. */
static size_t length_fields(const uint8_t *h, size_t n, struct lenfield *f)
{
	size_t k = 0, o = 5 + 4 + 2 + 32;
	f[k++] = (struct lenfield){ "record length", 3, 2 };
	f[k++] = (struct lenfield){ "handshake length", 6, 3 };
	f[k++] = (struct lenfield){ "session_id length", o, 1 };
	o += 1 + h[o];
	f[k++] = (struct lenfield){ "cipher_suites length", o, 2 };
	o += 2 + (size_t)(h[o] << 8 | h[o + 1]);
	f[k++] = (struct lenfield){ "compression_methods length", o, 1 };
	o += 1 + h[o];
	f[k++] = (struct lenfield){ "extensions length", o, 2 };
	o += 2;
	while (o < n) {
		size_t type = (size_t)(h[o] << 8 | h[o + 1]), len = (size_t)(h[o + 2] << 8 | h[o + 3]);
		f[k++] = (struct lenfield){ "an extension length", o + 2, 2 };
		if (type == 0) {
			f[k++] = (struct lenfield){ "server_name_list length", o + 4, 2 };
			f[k++] = (struct lenfield){ "host_name length", o + 7, 2 };
		}
		o += 4 + len;
	}
	assert_int_equal(o, n);
	return k;
}

static void put_len(uint8_t *p, size_t width, size_t v)
{
	for (size_t i = 0; i < width; i++)
		p[i] = (uint8_t)(v >> (8 * (width - 1 - i)));
}

static size_t get_len(const uint8_t *p, size_t width)
{
	size_t v = 0;
	for (size_t i = 0; i < width; i++)
		v = v << 8 | p[i];
	return v;
}

static void test_bad_lengths(void **state)
{
	(void)state;
	struct real v[NREAL];
	reals(v);
	size_t checked = 0;
	for (size_t i = 0; i < NREAL; i++) {
		struct lenfield f[64];
		size_t nf = length_fields(v[i].b, v[i].n, f);
		uint8_t *m = malloc(v[i].n);
		for (size_t j = 0; j < nf; j++) {
			size_t orig = get_len(v[i].b + f[j].at, f[j].width);
			size_t max = ((size_t)1 << (8 * f[j].width)) - 1;
			size_t vals[4] = { orig + 1, orig - 1, 0, max };
			for (size_t t = 0; t < 4; t++) {
				size_t val = vals[t] & max;
				if (val == orig)
					continue;
				memcpy(m, v[i].b, v[i].n);
				put_len(m + f[j].at, f[j].width, val);
				int want = SNI_MALFORMED;
				if (f[j].at == 6 && val > SNI_HELLO_MAX)
					want = SNI_TOO_LARGE;
				/* A record one byte short leaves the hello's last byte as
				 * the next record's first: malformed unless it is 0x16. */
				if (f[j].at == 3 && val == orig - 1 && v[i].b[v[i].n - 1] == 0x16)
					want = SNI_NEED_MORE;
				struct sni_info info;
				int rc = parse(m, v[i].n, &info);
				if (rc != want)
					fail_msg("%s: %s %zu -> %zu: %s", v[i].what, f[j].what, orig, val,
						 sni_result_str(rc));
				/* And the prefixes never crash nor claim success. */
				for (size_t k = 0; k < v[i].n; k += 7) {
					rc = parse(m, k, &info);
					assert_true(rc == SNI_NEED_MORE || rc == want);
				}
				checked++;
			}
		}
		free(m);
	}
	assert_true(checked > 300);
}

/* Errors that show before the hello is complete are reported at once. */
static void test_early_errors(void **state)
{
	(void)state;
	uint8_t h[sizeof(hello_openssl)];
	struct sni_info info;

	memcpy(h, hello_openssl, sizeof(h));
	h[5] = 0x02; /* ServerHello */
	assert_int_equal(parse(h, 6, &info), SNI_MALFORMED);

	memcpy(h, hello_openssl, sizeof(h));
	h[6] = 0x01, h[7] = 0x00, h[8] = 0x01; /* handshake length 65537 */
	assert_int_equal(parse(h, 9, &info), SNI_TOO_LARGE);
	h[6] = 0x01, h[7] = 0x00, h[8] = 0x00; /* 65536: allowed, needs more */
	assert_int_equal(parse(h, 9, &info), SNI_NEED_MORE);
	h[6] = 0xff;
	assert_int_equal(parse(h, 9, &info), SNI_TOO_LARGE);

	memcpy(h, hello_openssl, sizeof(h));
	h[9] = 0x02; /* legacy_version 0x0203 */
	assert_int_equal(parse(h, 11, &info), SNI_MALFORMED);

	memcpy(h, hello_openssl, sizeof(h));
	h[43] = 33; /* session_id length */
	assert_int_equal(parse(h, 44, &info), SNI_MALFORMED);

	memcpy(h, hello_openssl, sizeof(h));
	h[76] = 0x00, h[77] = 0x3d; /* odd cipher_suites length */
	assert_int_equal(parse(h, 78, &info), SNI_MALFORMED);
	h[77] = 0x00; /* no cipher suites */
	assert_int_equal(parse(h, 78, &info), SNI_MALFORMED);

	/* A record longer than the hello: the hello ends inside it. Known as
	 * soon as the hello is complete, without waiting for the record. */
	memcpy(h, hello_openssl, sizeof(h));
	h[4]++;
	assert_int_equal(parse(h, sizeof(h), &info), SNI_MALFORMED);
}

/* ------------------------------------------------------------------ */
/* Host names                                                         */

static void test_names_in_hellos(void **state)
{
	(void)state;
	uint8_t ext[400], h[600];
	static const struct {
		const char *name;
		int rc;
		const char *out;
	} v[] = {
		{ "www.example.com", SNI_OK, "www.example.com" },
		{ "WWW.EXAMPLE.COM", SNI_OK, "www.example.com" },
		{ "Api-2_x.Example.ORG", SNI_OK, "api-2_x.example.org" },
		{ "localhost", SNI_OK, "localhost" },
		{ "xn--bcher-kva.example", SNI_OK, "xn--bcher-kva.example" },
		{ "123.example.com", SNI_OK, "123.example.com" },
		{ "www.example.com.", SNI_BAD_NAME, "" },
		{ "127.0.0.1", SNI_BAD_NAME, "" },
		{ "10.1", SNI_BAD_NAME, "" },
		{ "0x7f.0x1", SNI_BAD_NAME, "" },
		{ "::1", SNI_BAD_NAME, "" },
		{ "[::1]", SNI_BAD_NAME, "" },
		{ "www..example.com", SNI_BAD_NAME, "" },
		{ ".example.com", SNI_BAD_NAME, "" },
		{ "www.exa mple.com", SNI_BAD_NAME, "" },
		{ "b\xc3\xbc" "cher.example", SNI_BAD_NAME, "" },
		{ "", SNI_BAD_NAME, "" },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t el = sni_ext(ext, v[i].name, strlen(v[i].name));
		size_t n = mini_hello(h, ext, el);
		expect(v[i].name, h, n, v[i].rc, n, v[i].out);
	}
	/* A NUL inside the name. */
	size_t el = sni_ext(ext, "www\0evil.com", 12);
	size_t n = mini_hello(h, ext, el);
	expect("NUL in name", h, n, SNI_BAD_NAME, n, "");

	/* Lengths: 253 bytes is the most (labels of 63), 254 too many, 300 too. */
	char name[301];
	memset(name, 'a', sizeof(name));
	for (size_t k = 63; k < 253; k += 64)
		name[k] = '.';
	el = sni_ext(ext, name, 253);
	n = mini_hello(h, ext, el);
	struct sni_info info;
	assert_int_equal(parse(h, n, &info), SNI_OK);
	assert_int_equal(info.name_len, 253);
	assert_memory_equal(info.name, name, 253);
	assert_int_equal(info.name[253], '\0');
	name[253] = 'b';
	el = sni_ext(ext, name, 254);
	n = mini_hello(h, ext, el);
	expect("254 bytes", h, n, SNI_BAD_NAME, n, "");
	el = sni_ext(ext, name, 300);
	n = mini_hello(h, ext, el);
	expect("300 bytes", h, n, SNI_BAD_NAME, n, "");
}

static void test_name_rules(void **state)
{
	(void)state;
	static const struct {
		const char *s;
		int ok;
	} v[] = {
		{ "a", 1 },
		{ "A", 1 },
		{ "_acme-challenge.example.com", 1 },
		{ "-a-.b", 1 }, /* hyphens anywhere: lenient, documented */
		{ "a.b.c.d.e.f", 1 },
		{ "1.2.3.4.example", 1 },
		{ "example.123a", 1 },
		{ "0xfg", 1 },  /* not hex: a name */
		{ "1.2.3.4", 0 },
		{ "1.2.3.04", 0 },
		{ "4294967295", 0 },
		{ "a.0x7F", 0 },
		{ "a.0X", 0 },
		{ "example.123", 0 },
		{ "a.", 0 },
		{ ".", 0 },
		{ "..", 0 },
		{ "a..b", 0 },
		{ "a b", 0 },
		{ "a:b", 0 },
		{ "a/b", 0 },
		{ "a*b", 0 },
		{ "a\tb", 0 },
		{ "a\x7f", 0 },
		{ "\xff", 0 },
		{ "", 0 },
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
		if (sni_name_valid(v[i].s, strlen(v[i].s)) != v[i].ok)
			fail_msg("\"%s\": want %d", v[i].s, v[i].ok);

	char l[130];
	memset(l, 'x', sizeof(l));
	assert_true(sni_name_valid(l, 63));
	assert_false(sni_name_valid(l, 64));
	l[63] = '.';
	assert_true(sni_name_valid(l, 64 + 63));
	assert_true(sni_name_valid(l, 64 + 16)); /* second label 16 bytes: fine */
	assert_false(sni_name_valid(l, 64 + 64)); /* second label 64 bytes */
}

/* ------------------------------------------------------------------ */
/* Structure                                                          */

static void test_structure(void **state)
{
	(void)state;
	uint8_t h[800];
	size_t n;

	/* No extension block at all (a TLS 1.2 client may omit it). */
	n = mini_hello(h, NULL, 0);
	assert_int_equal(n, 5 + 4 + 2 + 32 + 1 + 4 + 2);
	expect("no extensions", h, n, SNI_NO_SNI, n, "");
	/* An empty extension block. */
	n = mini_hello(h, (const uint8_t *)"", 0);
	expect("empty extensions", h, n, SNI_NO_SNI, n, "");
	expect_prefixes("empty extensions", h, n);
	/* One byte where the extensions length should be. */
	n = mini_hello_x(h, NULL, 0, 1, 1);
	h[n++] = 0x00;
	expect("1-byte extensions length", h, n, SNI_MALFORMED, 0, "");

	static const struct {
		const char *what;
		const uint8_t *ext;
		size_t n;
		int rc;
		const char *name;
	} v[] = {
#define V(what, ext, rc, name) { what, (const uint8_t *)(ext), sizeof(ext) - 1, rc, name }
		V("server_name entry of another type only",
		  "\x00\x00\x00\x08" /* server_name, length 8 */
		  "\x00\x06"	     /* list length 6 */
		  "\x01\x00\x03xyz", /* name_type 1, length 3 */
		  SNI_NO_SNI, ""),
		V("another type, then host_name",
		  "\x00\x00\x00\x0c" "\x00\x0a"
		  "\x07\x00\x01z"     /* name_type 7, length 1 */
		  "\x00\x00\x03" "a.b", /* host_name "a.b" */
		  SNI_OK, "a.b"),
		V("two host_name entries",
		  "\x00\x00\x00\x0c" "\x00\x0a"
		  "\x00\x00\x03" "a.b"
		  "\x00\x00\x01" "c",
		  SNI_MALFORMED, ""),
		V("two server_name extensions",
		  "\x00\x00\x00\x06" "\x00\x04" "\x00\x00\x01" "a"
		  "\x00\x00\x00\x06" "\x00\x04" "\x00\x00\x01" "b",
		  SNI_MALFORMED, ""),
		V("empty server_name extension (what a server sends)",
		  "\x00\x00\x00\x00", SNI_MALFORMED, ""),
		V("server_name list length 0",
		  "\x00\x00\x00\x02" "\x00\x00", SNI_MALFORMED, ""),
		V("server_name list of 2 bytes (entry header cut)",
		  "\x00\x00\x00\x04" "\x00\x02" "\x00\x00", SNI_MALFORMED, ""),
		V("server_name list shorter than the extension",
		  "\x00\x00\x00\x07" "\x00\x04" "\x00\x00\x01" "a" "\x00", SNI_MALFORMED, ""),
		V("server_name after other extensions",
		  "\x00\x17\x00\x00"		 /* extended_master_secret */
		  "\xff\x01\x00\x01\x00"	 /* renegotiation_info */
		  "\x00\x00\x00\x0b" "\x00\x09" "\x00\x00\x06" "ab.CDE",
		  SNI_OK, "ab.cde"),
		V("extension header cut short", "\x00\x17\x00", SNI_MALFORMED, ""),
		V("extension longer than the block", "\x00\x17\x00\x01", SNI_MALFORMED, ""),
		V("GREASE extensions around", "\x0a\x0a\x00\x00" "\x00\x00\x00\x06\x00\x04\x00\x00\x01x"
					      "\xfa\xfa\x00\x01\x00",
		  SNI_OK, "x"),
#undef V
	};
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = mini_hello(h, v[i].ext, v[i].n);
		expect(v[i].what, h, n, v[i].rc, v[i].rc == SNI_MALFORMED ? 0 : n, v[i].name);
		if (v[i].rc != SNI_MALFORMED)
			expect_prefixes(v[i].what, h, n);
	}

	/* A byte after the hello inside its record, and the record one byte
	 * longer than what is there: both malformed (see the top comment). */
	uint8_t ext[64];
	size_t el = sni_ext(ext, "a.b", 3);
	n = mini_hello_x(h, ext, el, 0, 1);
	h[n] = 0x00;
	expect("trailing byte in record", h, n + 1, SNI_MALFORMED, 0, "");
	expect("record longer than hello", h, n, SNI_MALFORMED, 0, "");
	/* The handshake length one more than the record: the hello continues
	 * in a record that has not arrived; its contents disagree already. */
	n = mini_hello_x(h, ext, el, 1, 0);
	expect("handshake longer than record", h, n, SNI_MALFORMED, 0, "");
	/* A session id of 32 and a full compression list are fine. */
	n = mini_hello(h, ext, el);
	expect("mini", h, n, SNI_OK, n, "a.b");
}

/* ------------------------------------------------------------------ */
/* Limits                                                             */

/* A hello padded with a padding extension to exactly `body` handshake bytes. */
static size_t padded_hello(uint8_t *out, size_t body, const char *name)
{
	uint8_t *ext = malloc(body);
	size_t el = sni_ext(ext, name, strlen(name));
	size_t fixed = 2 + 32 + 1 + 4 + 2 + 2;
	size_t pad = body - fixed - el - 4;
	ext[el] = 0x00, ext[el + 1] = 0x15; /* padding extension */
	ext[el + 2] = (uint8_t)(pad >> 8), ext[el + 3] = (uint8_t)pad;
	memset(ext + el + 4, 0, pad);
	size_t n = mini_hello(out, ext, el + 4 + pad);
	free(ext);
	assert_int_equal(n, 9 + body);
	return n;
}

/* Cuts every `step` bytes of an mlen-byte handshake message; returns the count. */
static size_t even_cuts(size_t *cuts, size_t mlen, size_t step)
{
	size_t k = 0;
	for (size_t at = step; at < mlen; at += step)
		cuts[k++] = at;
	return k;
}

static void test_limits(void **state)
{
	(void)state;
	uint8_t *h = malloc(SNI_HELLO_MAX + 100);
	uint8_t *f = malloc(8 * (SNI_HELLO_MAX + 100));
	size_t *cuts = calloc(SNI_HELLO_MAX + 100, sizeof(*cuts));

	/* The largest hello (64 KiB body) in records of 2^14: 4 full records
	 * and one of 4 bytes, 65,565 bytes in all (within SNI_SPAN_MAX). */
	size_t n = padded_hello(h, SNI_HELLO_MAX, "max.example.com");
	size_t nc = even_cuts(cuts, n - 5, 16384);
	assert_int_equal(nc, 4);
	size_t m = reframe(h, n, cuts, nc, 0x0303, f);
	assert_int_equal(m, 65540 + 5 * 5);
	expect("largest hello, 2^14 records", f, m, SNI_OK, m, "max.example.com");
	/* ... and in 1 KiB records: 65 records. */
	nc = even_cuts(cuts, n - 5, 1024);
	m = reframe(h, n, cuts, nc, 0x0301, f);
	expect("largest hello, 1 KiB records", f, m, SNI_OK, m, "max.example.com");
	/* One byte more: too large, from the handshake header on. */
	n = padded_hello(h, SNI_HELLO_MAX + 1, "max.example.com");
	nc = even_cuts(cuts, n - 5, 16384);
	m = reframe(h, n, cuts, nc, 0x0301, f);
	expect("hello over the cap", f, m, SNI_TOO_LARGE, 0, "");
	expect("hello over the cap, header only", f, 9, SNI_TOO_LARGE, 0, "");

	/*
	 * Span cap: a 12,000-byte hello in 1-byte records takes 72,000 bytes.
	 * Record k (from 0) would end at 6k + 6: the first past SNI_SPAN_MAX
	 * is refused as soon as it is clear that it cannot fit.
	 */
	n = padded_hello(h, 12000 - 4, "frag.example.com");
	size_t mlen = n - 5;
	for (size_t k = 0; k + 1 < mlen; k++)
		cuts[k] = k + 1;
	m = reframe(h, n, cuts, mlen - 1, 0x0301, f);
	assert_int_equal(m, 72000);
	size_t k_first_over = SNI_SPAN_MAX / 6; /* 6k + 6 > 69632 */
	expect("1-byte records past the span cap", f, m, SNI_TOO_LARGE, 0, "");
	/* Known once record k - 1 is complete: record k cannot fit. */
	expect("1-byte records, at the cap", f, 6 * k_first_over, SNI_TOO_LARGE, 0, "");
	struct sni_info info;
	assert_int_equal(parse(f, 6 * k_first_over - 1, &info), SNI_NEED_MORE);
	assert_int_equal(info.span, 6 * k_first_over);
	/*
	 * Records ending exactly at the cap with the hello unfinished: no record
	 * can follow (none is empty), so that is known at once, without waiting
	 * for a header that could not fit anyway. 27 bytes, then 11,600 records
	 * of 1 byte: 5 + 27 + 6 * 11600 = 69632.
	 */
	for (size_t k = 0; k < 11601; k++)
		cuts[k] = 27 + k;
	m = reframe(h, n, cuts, 11601, 0x0301, f);
	assert_int_equal(5 + 27 + 6 * 11600, SNI_SPAN_MAX);
	expect("records up to the cap", f, SNI_SPAN_MAX, SNI_TOO_LARGE, 0, "");
	expect("records up to the cap, all", f, m, SNI_TOO_LARGE, 0, "");
	assert_int_equal(parse(f, SNI_SPAN_MAX - 1, &info), SNI_NEED_MORE);
	assert_int_equal(info.span, SNI_SPAN_MAX);

	/* The same hello in 2-byte records fits: 6000 records of 7 bytes. */
	for (size_t k = 0; k < mlen / 2; k++)
		cuts[k] = 2 * (k + 1);
	m = reframe(h, n, cuts, (mlen - 1) / 2, 0x0301, f);
	assert_int_equal(m, 42000);
	expect("2-byte records", f, m, SNI_OK, m, "frag.example.com");

	free(cuts);
	free(f);
	free(h);
}

static void test_result_strings(void **state)
{
	(void)state;
	for (int rc = SNI_BAD_NAME; rc <= SNI_OK; rc++)
		assert_string_not_equal(sni_result_str(rc), "unknown");
	assert_string_equal(sni_result_str(42), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_real_hellos),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_go_crashers),
		cmocka_unit_test(test_not_tls),
		cmocka_unit_test(test_split_annotated),
		cmocka_unit_test(test_split_everywhere),
		cmocka_unit_test(test_bad_lengths),
		cmocka_unit_test(test_early_errors),
		cmocka_unit_test(test_names_in_hellos),
		cmocka_unit_test(test_name_rules),
		cmocka_unit_test(test_structure),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_result_strings),
	};
	return cmocka_run_group_tests_name("wire/tls_sni", tests, NULL, NULL);
}
