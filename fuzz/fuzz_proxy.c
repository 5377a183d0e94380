/*
 * Fuzz target for wire/proxy.
 *
 *   1. The input as received bytes: proxy_v1_parse must agree with
 *      proxy_detect, consume a CRLF-terminated line of at most 107 bytes,
 *      ask for more on every strict prefix of an accepted header, and what it
 *      returns must be written back and parsed again to the same endpoints.
 *   2. The input as two endpoints (family, 16 address bytes, port, scope):
 *      proxy_v1_write must produce a line the parser accepts with the same
 *      (unmapped) endpoints, and proxy_ip6_format text must read back through
 *      inet_pton.
 *   3. The input as received bytes for proxy_parse (v1 or v2): the result
 *      agrees with proxy_detect; a v2 header is consumed to exactly 16 + its
 *      length field, within PROXY_V2_MAX_LEN, its spans inside it; prefixes
 *      ask for more, or give the same error; a v2 header read alone gives
 *      the same answer; the endpoints and TLVs it carries, written again by
 *      proxy_v2_write (with a CRC32C), parse back the same.
 *   4. The endpoints of 2., with an authority and unique id cut from the
 *      rest of the input: proxy_v2_write's header parses back to them.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/proxy.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

/* Family, address (4 or 16 bytes) and port of an endpoint after unmapping. */
static int unmapped(const struct sockaddr_storage *ss, uint8_t addr[16], uint16_t *port)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ss;
		memcpy(addr, &sin->sin_addr, 4);
		*port = ntohs(sin->sin_port);
		return AF_INET;
	}
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)ss;
	*port = ntohs(sin6->sin6_port);
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		memcpy(addr, sin6->sin6_addr.s6_addr + 12, 4);
		return AF_INET;
	}
	memcpy(addr, sin6->sin6_addr.s6_addr, 16);
	return AF_INET6;
}

static bool same_endpoint(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	uint8_t aa[16], ba[16];
	uint16_t ap, bp;
	int af = unmapped(a, aa, &ap), bf = unmapped(b, ba, &bp);
	return af == bf && ap == bp && memcmp(aa, ba, af == AF_INET ? 4 : 16) == 0;
}

/* Writes src/dst, parses the line back, and checks the endpoints survive. */
static void write_and_reparse(const struct sockaddr_storage *src, const struct sockaddr_storage *dst)
{
	char line[PROXY_V1_BUF_LEN];
	ssize_t n = proxy_v1_write(line, sizeof(line), src, dst);
	if (n == PROXY_E_FAMILY)
		return;
	CHECK(n > 0 && n <= PROXY_V1_MAX_LEN && line[n] == '\0');
	struct proxy_hdr h;
	size_t consumed;
	CHECK(proxy_v1_parse((const uint8_t *)line, (size_t)n, &h, &consumed) == PROXY_OK);
	CHECK(consumed == (size_t)n);
	CHECK(same_endpoint(&h.src, src) && same_endpoint(&h.dst, dst));
	/* Writing is a fixed point: the same line again. */
	char again[PROXY_V1_BUF_LEN];
	CHECK(proxy_v1_write(again, sizeof(again), &h.src, &h.dst) == n);
	CHECK(memcmp(again, line, (size_t)n) == 0);
}

static void fuzz_parse(const uint8_t *data, size_t size)
{
	struct proxy_hdr h;
	size_t consumed = 0;
	int rc = proxy_v1_parse(data, size, &h, &consumed);
	int det = proxy_detect(data, size);

	if (rc == PROXY_NEED_MORE) {
		CHECK(size < PROXY_V1_MAX_LEN && consumed == 0);
		CHECK(det == PROXY_DETECT_V1 || det == PROXY_DETECT_NEED_MORE);
		return;
	}
	if (rc != PROXY_OK) {
		CHECK(rc == PROXY_E_INVALID && consumed == 0);
		return;
	}
	CHECK(det == PROXY_DETECT_V1);
	CHECK(consumed >= 15 && consumed <= PROXY_V1_MAX_LEN && consumed <= size);
	CHECK(data[consumed - 2] == '\r' && data[consumed - 1] == '\n');
	CHECK(memchr(data, '\n', consumed - 1) == NULL);
	CHECK(h.version == 1);
	for (size_t k = 0; k < consumed; k++) {
		struct proxy_hdr h2;
		size_t c2;
		CHECK(proxy_v1_parse(data, k, &h2, &c2) == PROXY_NEED_MORE);
	}
	if (h.family == AF_UNSPEC)
		return;
	CHECK(h.family == AF_INET || h.family == AF_INET6);
	CHECK(h.src.ss_family == h.family && h.dst.ss_family == h.family);
	/* TCP6 lines with one mapped and one plain address cannot be written as one family. */
	uint8_t a[16];
	uint16_t p;
	if (unmapped(&h.src, a, &p) == unmapped(&h.dst, a, &p))
		write_and_reparse(&h.src, &h.dst);
}

/* 1 family byte + 16 address bytes + 2 port bytes + 1 scope byte per endpoint. */
static void endpoint_from_bytes(const uint8_t *b, struct sockaddr_storage *ss)
{
	memset(ss, 0, sizeof(*ss));
	uint16_t port = (uint16_t)(b[17] << 8 | b[18]);
	switch (b[0] % 4) {
	case 0: {
		struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, b + 1, 4);
		sin->sin_port = htons(port);
		break;
	}
	case 3: /* IPv4-mapped */
	case 1: {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, b + 1, 16);
		if (b[0] % 4 == 3) {
			memset(sin6->sin6_addr.s6_addr, 0, 10);
			sin6->sin6_addr.s6_addr[10] = sin6->sin6_addr.s6_addr[11] = 0xff;
		}
		sin6->sin6_port = htons(port);
		sin6->sin6_scope_id = b[19];
		break;
	}
	default:
		ss->ss_family = AF_UNIX;
	}
}

static void fuzz_write(const uint8_t *data, size_t size)
{
	if (size < 40)
		return;
	struct sockaddr_storage src, dst;
	endpoint_from_bytes(data, &src);
	endpoint_from_bytes(data + 20, &dst);
	write_and_reparse(&src, &dst);

	char text[46];
	ssize_t n = proxy_ip6_format(data + 1, text, sizeof(text));
	CHECK(n > 0 && (size_t)n < sizeof(text) && text[n] == '\0');
	uint8_t back[16];
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	if (memcmp(data + 1, mapped, 12) == 0) {
		CHECK(inet_pton(AF_INET, text, back) == 1);
		CHECK(memcmp(back, data + 13, 4) == 0);
	} else {
		CHECK(inet_pton(AF_INET6, text, back) == 1);
		CHECK(memcmp(back, data + 1, 16) == 0);
		char ref[INET6_ADDRSTRLEN];
		/* glibc agrees except for ::a.b.c.d, which it writes dotted. */
		CHECK(inet_ntop(AF_INET6, data + 1, ref, sizeof(ref)) != NULL);
		if (strchr(ref, '.') == NULL)
			CHECK(strcmp(ref, text) == 0);
	}
}

/* ---- v2 ---- */

static bool span_in(const struct proxy_span *sp, const uint8_t *base, size_t len)
{
	if (sp->p == NULL)
		return sp->len == 0;
	return sp->p >= base + PROXY_V2_HDR_LEN && sp->p + sp->len <= base + len;
}

static bool span_eq(const struct proxy_span *a, const struct proxy_span *b)
{
	if ((a->p == NULL) != (b->p == NULL) || a->len != b->len)
		return false;
	return a->len == 0 || memcmp(a->p, b->p, a->len) == 0;
}

/*
 * Writes src/dst with the given TLVs as v2 (with a CRC32C), parses it back
 * and checks everything survives. authority may hold any bytes but NUL.
 */
static void v2_write_and_reparse(const struct sockaddr_storage *src,
				 const struct sockaddr_storage *dst, const uint8_t *auth,
				 size_t auth_len, const uint8_t *uid, size_t uid_len)
{
	char a[PROXY_V2_AUTHORITY_MAX + 1];
	if (auth_len > PROXY_V2_AUTHORITY_MAX || (auth_len > 0 && memchr(auth, '\0', auth_len) != NULL))
		return;
	if (auth_len)
		memcpy(a, auth, auth_len);
	a[auth_len] = '\0';
	struct proxy_v2_tlvs t = { a, uid, uid_len, true };
	uint8_t out[PROXY_V2_BUF_LEN];
	ssize_t n = proxy_v2_write(out, sizeof(out), src, dst, &t);
	if (n == PROXY_E_FAMILY || n == PROXY_E_ARG) {
		CHECK(n != PROXY_E_ARG || uid_len > PROXY_V2_UNIQUE_ID_MAX);
		return;
	}
	CHECK(n > PROXY_V2_HDR_LEN && (size_t)n <= sizeof(out));
	struct proxy_hdr h;
	size_t consumed;
	CHECK(proxy_parse(out, (size_t)n, &h, &consumed) == PROXY_OK);
	CHECK(consumed == (size_t)n && h.version == 2 && !h.local);
	CHECK(same_endpoint(&h.src, src) && same_endpoint(&h.dst, dst));
	CHECK(h.authority.len == auth_len && (auth_len == 0) == (h.authority.p == NULL));
	CHECK(auth_len == 0 || memcmp(h.authority.p, auth, auth_len) == 0);
	CHECK(h.unique_id.len == uid_len && (uid_len == 0) == (h.unique_id.p == NULL));
	CHECK(uid_len == 0 || memcmp(h.unique_id.p, uid, uid_len) == 0);
	/* The CRC catches any flipped byte but its own TLV's type byte. */
	size_t crc_type_at =
		PROXY_V2_HDR_LEN + (h.family == AF_INET6 ? 36u : 12u) + (auth_len ? 3 + auth_len : 0);
	CHECK(out[crc_type_at] == PP2_TYPE_CRC32C);
	size_t at = PROXY_V2_HDR_LEN + (size_t)(uid_len + auth_len) % ((size_t)n - PROXY_V2_HDR_LEN);
	out[at] ^= 0x01;
	size_t c2;
	int rc = proxy_v2_parse(out, (size_t)n, &h, &c2);
	CHECK(rc == PROXY_E_INVALID || at == crc_type_at);
}

static void fuzz_parse_any(const uint8_t *data, size_t size)
{
	struct proxy_hdr h;
	size_t consumed = 99;
	int rc = proxy_parse(data, size, &h, &consumed);
	int det = proxy_detect(data, size);

	CHECK(rc == PROXY_OK || rc == PROXY_NEED_MORE || rc == PROXY_E_INVALID);
	if (det == PROXY_DETECT_NONE)
		CHECK(rc == PROXY_E_INVALID);
	if (det == PROXY_DETECT_NEED_MORE)
		CHECK(rc == PROXY_NEED_MORE);
	if (rc != PROXY_OK)
		CHECK(consumed == 0);
	/* The v2 parser alone agrees on v2 input and refuses anything else. */
	struct proxy_hdr h3;
	size_t c3 = 99;
	int r3 = proxy_v2_parse(data, size, &h3, &c3);
	if (det == PROXY_DETECT_V2)
		CHECK(r3 == rc && c3 == consumed);
	else if (det == PROXY_DETECT_NEED_MORE && (size == 0 || data[0] == '\r'))
		CHECK(r3 == PROXY_NEED_MORE && c3 == 0);
	else
		CHECK(r3 == PROXY_E_INVALID && c3 == 0);
	/* Prefixes: more is needed, or the same error. */
	for (unsigned i = 0; i < 6 && size > 0; i++) {
		size_t k = i == 0 ? size - 1 : ((size_t)data[(i * 7) % size] * 31u + i * 101u) % size;
		if (rc == PROXY_OK)
			k = k % consumed;
		struct proxy_hdr h2;
		size_t c2 = 99;
		int r = proxy_parse(data, k, &h2, &c2);
		CHECK(r == PROXY_NEED_MORE || (rc != PROXY_OK && r == rc));
		CHECK(r == PROXY_OK || c2 == 0);
	}
	if (rc != PROXY_OK)
		return;
	CHECK(consumed > 0 && consumed <= size);
	if (det == PROXY_DETECT_V1) {
		CHECK(h.version == 1 && !h.local && h.authority.p == NULL && h.unique_id.p == NULL);
		/* The same endpoints as v2. */
		if (h.family != AF_UNSPEC)
			v2_write_and_reparse(&h.src, &h.dst, data, size > 8 ? 8 : size, NULL, 0);
		return;
	}
	CHECK(det == PROXY_DETECT_V2 && h.version == 2);
	CHECK(consumed == PROXY_V2_HDR_LEN + ((size_t)data[14] << 8 | data[15]));
	CHECK(consumed <= PROXY_V2_MAX_LEN);
	CHECK(span_in(&h.authority, data, consumed) && span_in(&h.unique_id, data, consumed));
	CHECK(h.unique_id.len <= PROXY_V2_UNIQUE_ID_MAX);
	CHECK(h.family == AF_INET || h.family == AF_INET6 || h.family == AF_UNSPEC);
	CHECK(!h.local || h.family == AF_UNSPEC);
	if (h.family != AF_UNSPEC)
		CHECK(h.src.ss_family == h.family && h.dst.ss_family == h.family);

	/* Alone, the header parses the same. */
	struct proxy_hdr h2;
	size_t c2;
	CHECK(proxy_v2_parse(data, consumed, &h2, &c2) == PROXY_OK && c2 == consumed);
	CHECK(h2.family == h.family && h2.local == h.local);
	CHECK(span_eq(&h2.authority, &h.authority) && span_eq(&h2.unique_id, &h.unique_id));

	if (h.family != AF_UNSPEC && h.authority.len > 0)
		v2_write_and_reparse(&h.src, &h.dst, h.authority.p, h.authority.len, h.unique_id.p,
				     h.unique_id.len);
	else if (h.family != AF_UNSPEC)
		v2_write_and_reparse(&h.src, &h.dst, NULL, 0, h.unique_id.p, h.unique_id.len);
}

static void fuzz_write_v2(const uint8_t *data, size_t size)
{
	if (size < 40)
		return;
	struct sockaddr_storage src, dst;
	endpoint_from_bytes(data, &src);
	endpoint_from_bytes(data + 20, &dst);
	const uint8_t *rest = data + 40;
	size_t rn = size - 40, an = 0, un = 0;
	if (rn > 0) {
		an = rest[0] % 64 < rn - 1 ? rest[0] % 64 : rn - 1;
		un = rn - 1 - an < PROXY_V2_UNIQUE_ID_MAX + 1 ? rn - 1 - an : PROXY_V2_UNIQUE_ID_MAX + 1;
	}
	const uint8_t *auth = rest + (rn > 0);
	const uint8_t *uid = auth + an;
	v2_write_and_reparse(&src, &dst, auth, an, un ? uid : NULL, un);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse(data, size);
	fuzz_write(data, size);
	fuzz_parse_any(data, size);
	fuzz_write_v2(data, size);
	return 0;
}
