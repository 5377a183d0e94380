#include "wire/proxy.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

/* Longest address texts a v1 line may carry (haproxy spec: 15 and 39; we
 * accept what inet_pton accepts, e.g. "::ffff:255.255.255.255" is 22). */
#define V4_TEXT_MAX 15
#define V6_TEXT_MAX 45

int proxy_detect(const uint8_t *buf, size_t len)
{
	const char *sig;
	size_t sig_len;
	int kind;

	if (len == 0)
		return PROXY_DETECT_NEED_MORE;
	if (buf[0] == 'P') {
		sig = "PROXY ";
		sig_len = 6;
		kind = PROXY_DETECT_V1;
	} else if (buf[0] == '\r') {
		sig = PROXY_V2_SIG;
		sig_len = PROXY_V2_SIG_LEN;
		kind = PROXY_DETECT_V2;
	} else {
		return PROXY_DETECT_NONE;
	}
	size_t n = len < sig_len ? len : sig_len;
	if (memcmp(buf, sig, n) != 0)
		return PROXY_DETECT_NONE;
	return n < sig_len ? PROXY_DETECT_NEED_MORE : kind;
}

/* ---- writer ---- */

static void put_hex16(char *out, size_t *w, unsigned v)
{
	static const char hex[] = "0123456789abcdef";
	bool started = false;
	for (int shift = 12; shift >= 0; shift -= 4) {
		unsigned d = (v >> shift) & 0xf;
		if (d != 0 || started || shift == 0) {
			out[(*w)++] = hex[d];
			started = true;
		}
	}
}

ssize_t proxy_ip6_format(const uint8_t p[16], char *out, size_t cap)
{
	char tmp[48];
	size_t w = 0;
	static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

	if (memcmp(p, mapped, 12) == 0) {
		int n = snprintf(tmp, sizeof(tmp), "%u.%u.%u.%u", p[12], p[13], p[14], p[15]);
		w = (size_t)n;
	} else {
		/* Longest run of zero groups, first on a tie, at least two groups. */
		int e0 = -1, e1 = -1;
		for (int i = 0; i < 16; i += 2) {
			int j = i;
			while (j < 16 && p[j] == 0 && p[j + 1] == 0)
				j += 2;
			if (j > i && j - i > e1 - e0) {
				e0 = i;
				e1 = j;
				i = j;
			}
		}
		if (e1 - e0 <= 2)
			e0 = e1 = -1;
		for (int i = 0; i < 16; i += 2) {
			if (i == e0) {
				tmp[w++] = ':';
				tmp[w++] = ':';
				i = e1;
				if (i >= 16)
					break;
			} else if (i > 0) {
				tmp[w++] = ':';
			}
			put_hex16(tmp, &w, (unsigned)p[i] << 8 | p[i + 1]);
		}
	}
	if (w + 1 > cap)
		return -1;
	memcpy(out, tmp, w);
	out[w] = '\0';
	return (ssize_t)w;
}

/* An endpoint reduced to Go's view: family after unmapping, 4 or 16 bytes, port. */
struct endpoint {
	int family;
	uint8_t addr[16];
	unsigned port;
};

static int endpoint_from(const struct sockaddr_storage *ss, struct endpoint *ep)
{
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ss;
		ep->family = AF_INET;
		memcpy(ep->addr, &sin->sin_addr, 4);
		ep->port = ntohs(sin->sin_port);
		return 0;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)(const void *)ss;
		ep->port = ntohs(sin6->sin6_port);
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
			ep->family = AF_INET;
			memcpy(ep->addr, sin6->sin6_addr.s6_addr + 12, 4);
		} else {
			ep->family = AF_INET6;
			memcpy(ep->addr, sin6->sin6_addr.s6_addr, 16);
		}
		return 0;
	}
	return -1;
}

static void endpoint_text(const struct endpoint *ep, char *out, size_t cap)
{
	if (ep->family == AF_INET)
		snprintf(out, cap, "%u.%u.%u.%u", ep->addr[0], ep->addr[1], ep->addr[2], ep->addr[3]);
	else
		proxy_ip6_format(ep->addr, out, cap);
}

ssize_t proxy_v1_write(char *out, size_t cap, const struct sockaddr_storage *src,
		       const struct sockaddr_storage *dst)
{
	struct endpoint s, d;
	char st[48], dt[48];

	if (endpoint_from(src, &s) != 0 || endpoint_from(dst, &d) != 0 || s.family != d.family)
		return PROXY_E_FAMILY;
	endpoint_text(&s, st, sizeof(st));
	endpoint_text(&d, dt, sizeof(dt));
	int n = snprintf(out, cap, "PROXY %s %s %s %u %u\r\n", d.family == AF_INET6 ? "TCP6" : "TCP4",
			 st, dt, s.port, d.port);
	if (n < 0 || (size_t)n >= cap)
		return PROXY_E_BUF;
	return n;
}

/* ---- v1 parser ---- */

/*
 * Cursor over the line between "PROXY " and the CRLF. `complete` says whether
 * the CRLF has been seen: if not, the field running into `end` may still grow.
 */
struct cursor {
	const char *l;
	size_t pos, end;
	bool complete;
};

/*
 * Takes the next field. Returns 1 if it is terminated (by SP, consumed, or
 * by the end of a complete line; *last says which), 0 if it runs into the end
 * of an incomplete line (a prefix), -1 if it is empty.
 */
static int next_field(struct cursor *c, const char **f, size_t *n, bool *last)
{
	size_t s = c->pos, e = s;
	while (e < c->end && c->l[e] != ' ')
		e++;
	*f = c->l + s;
	*n = e - s;
	if (e < c->end) { /* SP */
		if (e == s)
			return -1;
		c->pos = e + 1;
		*last = false;
		return 1;
	}
	c->pos = e;
	if (!c->complete)
		return 0;
	if (e == s)
		return -1;
	*last = true;
	return 1;
}

static bool all_in(const char *s, size_t n, const char *set)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] == '\0' || strchr(set, s[i]) == NULL)
			return false;
	return true;
}

/* Address field: full parse when terminated, charset and length when a prefix. */
static int take_addr(const char *f, size_t n, int terminated, int family, void *addr)
{
	size_t max = family == AF_INET ? V4_TEXT_MAX : V6_TEXT_MAX;
	const char *set = family == AF_INET ? "0123456789." : "0123456789abcdefABCDEF:.";
	char tmp[V6_TEXT_MAX + 1];

	if (n > max || !all_in(f, n, set))
		return PROXY_E_INVALID;
	if (!terminated)
		return PROXY_NEED_MORE;
	memcpy(tmp, f, n);
	tmp[n] = '\0';
	return inet_pton(family, tmp, addr) == 1 ? PROXY_OK : PROXY_E_INVALID;
}

/* Port field: 0-65535, no leading zeros. Prefixes are rejected as soon as no digit can fix them. */
static int take_port(const char *f, size_t n, int terminated, unsigned *port)
{
	unsigned v = 0;
	if (n > 5 || !all_in(f, n, "0123456789") || (n > 1 && f[0] == '0'))
		return PROXY_E_INVALID;
	for (size_t i = 0; i < n; i++)
		v = v * 10 + (unsigned)(f[i] - '0');
	if (v > 65535)
		return PROXY_E_INVALID;
	if (!terminated)
		return PROXY_NEED_MORE;
	*port = v;
	return PROXY_OK;
}

static void set_sockaddr(struct sockaddr_storage *ss, int family, const void *addr, unsigned port)
{
	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)(void *)ss;
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, addr, 4);
		sin->sin_port = htons((uint16_t)port);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)ss;
		sin6->sin6_family = AF_INET6;
		memcpy(&sin6->sin6_addr, addr, 16);
		sin6->sin6_port = htons((uint16_t)port);
	}
}

int proxy_v1_parse(const uint8_t *buf, size_t len, struct proxy_hdr *hdr, size_t *consumed)
{
	size_t n = len < PROXY_V1_MAX_LEN ? len : PROXY_V1_MAX_LEN;
	struct cursor c = { (const char *)buf, 6, 0, false };
	const char *f;
	size_t fl;
	bool last = false;
	int t, rc;

	*consumed = 0;
	if (memcmp(buf, "PROXY ", n < 6 ? n : 6) != 0)
		return PROXY_E_INVALID;
	if (n < 6)
		return PROXY_NEED_MORE;

	const uint8_t *nl = memchr(buf, '\n', n);
	if (nl != NULL) {
		size_t i = (size_t)(nl - buf);
		if (buf[i - 1] != '\r')
			return PROXY_E_INVALID;
		c.end = i - 1;
		c.complete = true;
	} else {
		if (len >= PROXY_V1_MAX_LEN)
			return PROXY_E_INVALID;
		c.end = n;
		if (buf[n - 1] == '\r') /* maybe the CR of the CRLF */
			c.end--;
	}

	t = next_field(&c, &f, &fl, &last);
	if (t < 0)
		return PROXY_E_INVALID;
	if (t == 0) {
		if ((fl <= 4 && (memcmp(f, "TCP4", fl) == 0 || memcmp(f, "TCP6", fl) == 0)) ||
		    (fl <= 7 && memcmp(f, "UNKNOWN", fl) == 0))
			return PROXY_NEED_MORE;
		return PROXY_E_INVALID;
	}
	if (fl == 7 && memcmp(f, "UNKNOWN", 7) == 0) {
		/* The receiver must ignore anything up to the CRLF. */
		if (!c.complete)
			return PROXY_NEED_MORE;
		memset(hdr, 0, sizeof(*hdr));
		hdr->version = 1;
		hdr->family = AF_UNSPEC;
		*consumed = c.end + 2;
		return PROXY_OK;
	}
	int family;
	if (fl == 4 && memcmp(f, "TCP4", 4) == 0)
		family = AF_INET;
	else if (fl == 4 && memcmp(f, "TCP6", 4) == 0)
		family = AF_INET6;
	else
		return PROXY_E_INVALID;
	if (last)
		return PROXY_E_INVALID;

	uint8_t sa[16], da[16];
	unsigned sp = 0, dp = 0;
	/* src, dst, sport: each must be followed by SP; dport must end the line. */
	for (int field = 0; field < 4; field++) {
		t = next_field(&c, &f, &fl, &last);
		if (t < 0)
			return PROXY_E_INVALID;
		if (t == 1 && last != (field == 3))
			return PROXY_E_INVALID;
		if (field < 2)
			rc = take_addr(f, fl, t, family, field == 0 ? sa : da);
		else
			rc = take_port(f, fl, t, field == 2 ? &sp : &dp);
		if (rc != PROXY_OK)
			return rc;
	}
	memset(hdr, 0, sizeof(*hdr));
	hdr->version = 1;
	hdr->family = family;
	set_sockaddr(&hdr->src, family, sa, sp);
	set_sockaddr(&hdr->dst, family, da, dp);
	*consumed = c.end + 2;
	return PROXY_OK;
}

/* ---- v2 ---- */

#define V2_CMD_LOCAL 0x0
#define V2_CMD_PROXY 0x1
#define V2_FAM_TCP4 0x11
#define V2_FAM_TCP6 0x21

uint32_t proxy_crc32c(const uint8_t *p, size_t n)
{
	/* Bitwise, reflected polynomial 0x82f63b78: headers are short and rare. */
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		crc ^= p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

/* CRC32c of p[0..n) with the 4 bytes at zero_at taken as zeros. */
static uint32_t crc32c_zeroed(const uint8_t *p, size_t n, size_t zero_at)
{
	uint32_t crc = 0xffffffffu;
	for (size_t i = 0; i < n; i++) {
		crc ^= i >= zero_at && i < zero_at + 4 ? 0u : p[i];
		for (int k = 0; k < 8; k++)
			crc = (crc >> 1) ^ (0x82f63b78u & (0u - (crc & 1u)));
	}
	return ~crc;
}

static void put16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t get16(const uint8_t *p)
{
	return (size_t)p[0] << 8 | p[1];
}

static size_t put_tlv(uint8_t *out, size_t w, uint8_t type, const void *value, size_t n)
{
	out[w] = type;
	put16(out + w + 1, n);
	if (n > 0)
		memcpy(out + w + 3, value, n);
	return w + 3 + n;
}

ssize_t proxy_v2_write(uint8_t *out, size_t cap, const struct sockaddr_storage *src,
		       const struct sockaddr_storage *dst, const struct proxy_v2_tlvs *tlvs)
{
	struct endpoint s, d;
	size_t auth_len = 0, uid_len = 0;
	bool crc = false;

	if (endpoint_from(src, &s) != 0 || endpoint_from(dst, &d) != 0 || s.family != d.family)
		return PROXY_E_FAMILY;
	if (tlvs != NULL) {
		auth_len = tlvs->authority != NULL ? strlen(tlvs->authority) : 0;
		uid_len = tlvs->unique_id_len;
		crc = tlvs->crc32c;
		if (auth_len > PROXY_V2_AUTHORITY_MAX || uid_len > PROXY_V2_UNIQUE_ID_MAX ||
		    (uid_len > 0 && tlvs->unique_id == NULL))
			return PROXY_E_ARG;
	}
	size_t alen = s.family == AF_INET ? 4 : 16;
	size_t total = PROXY_V2_HDR_LEN + 2 * alen + 4 + (auth_len ? 3 + auth_len : 0) +
		       (crc ? 3 + 4 : 0) + (uid_len ? 3 + uid_len : 0);
	if (total > cap)
		return PROXY_E_BUF;

	size_t w = 0;
	memcpy(out, PROXY_V2_SIG, PROXY_V2_SIG_LEN);
	w = PROXY_V2_SIG_LEN;
	out[w++] = 0x20 | V2_CMD_PROXY;
	out[w++] = s.family == AF_INET ? V2_FAM_TCP4 : V2_FAM_TCP6;
	put16(out + w, total - PROXY_V2_HDR_LEN);
	w += 2;
	memcpy(out + w, s.addr, alen);
	w += alen;
	memcpy(out + w, d.addr, alen);
	w += alen;
	put16(out + w, s.port);
	put16(out + w + 2, d.port);
	w += 4;
	if (auth_len > 0)
		w = put_tlv(out, w, PP2_TYPE_AUTHORITY, tlvs->authority, auth_len);
	size_t crc_at = 0;
	if (crc) {
		static const uint8_t zero[4];
		crc_at = w + 3;
		w = put_tlv(out, w, PP2_TYPE_CRC32C, zero, 4);
	}
	if (uid_len > 0)
		w = put_tlv(out, w, PP2_TYPE_UNIQUE_ID, tlvs->unique_id, uid_len);
	if (crc) {
		uint32_t c = proxy_crc32c(out, w);
		put16(out + crc_at, c >> 16);
		put16(out + crc_at + 2, c & 0xffff);
	}
	return (ssize_t)w;
}

ssize_t proxy_v2_write_local(uint8_t *out, size_t cap)
{
	if (cap < PROXY_V2_HDR_LEN)
		return PROXY_E_BUF;
	memcpy(out, PROXY_V2_SIG, PROXY_V2_SIG_LEN);
	out[12] = 0x20 | V2_CMD_LOCAL;
	out[13] = 0x00;
	out[14] = 0;
	out[15] = 0;
	return PROXY_V2_HDR_LEN;
}

/* Address block length for a fam byte, or -1 if the spec does not define that byte. */
static int v2_addr_len(uint8_t fam)
{
	switch (fam) {
	case 0x00:
		return 0;
	case 0x11:
	case 0x12:
		return 12;
	case 0x21:
	case 0x22:
		return 36;
	case 0x31:
	case 0x32:
		return 216;
	default:
		return -1;
	}
}

/* Sub-TLVs of a PP2_TYPE_SSL value: client[1] verify[4], then whole TLVs. */
static bool v2_ssl_ok(const uint8_t *v, size_t n)
{
	if (n < 5)
		return false;
	for (size_t off = 5; off < n;) {
		if (n - off < 3 || n - off - 3 < get16(v + off + 1))
			return false;
		off += 3 + get16(v + off + 1);
	}
	return true;
}

int proxy_v2_parse(const uint8_t *buf, size_t len, struct proxy_hdr *hdr, size_t *consumed)
{
	*consumed = 0;
	if (len == 0)
		return PROXY_NEED_MORE;
	size_t n = len < PROXY_V2_SIG_LEN ? len : PROXY_V2_SIG_LEN;
	if (memcmp(buf, PROXY_V2_SIG, n) != 0)
		return PROXY_E_INVALID;
	if (len > 12 && buf[12] != (0x20 | V2_CMD_LOCAL) && buf[12] != (0x20 | V2_CMD_PROXY))
		return PROXY_E_INVALID;
	int alen = len > 13 ? v2_addr_len(buf[13]) : 0;
	if (alen < 0)
		return PROXY_E_INVALID;
	if (len < PROXY_V2_HDR_LEN)
		return PROXY_NEED_MORE;
	size_t total = PROXY_V2_HDR_LEN + get16(buf + 14);
	if (total > PROXY_V2_MAX_LEN || total < PROXY_V2_HDR_LEN + (size_t)alen)
		return PROXY_E_INVALID;
	if (len < total)
		return PROXY_NEED_MORE;

	/* TLVs first: nothing is written to *hdr unless the whole header is valid. */
	struct proxy_span auth = { NULL, 0 }, uid = { NULL, 0 };
	size_t crc_at = 0;
	for (size_t off = PROXY_V2_HDR_LEN + (size_t)alen; off < total;) {
		if (total - off < 3)
			return PROXY_E_INVALID;
		uint8_t type = buf[off];
		size_t vlen = get16(buf + off + 1);
		const uint8_t *v = buf + off + 3;
		if (total - off - 3 < vlen)
			return PROXY_E_INVALID;
		switch (type) {
		case PP2_TYPE_AUTHORITY:
			if (auth.p != NULL)
				return PROXY_E_INVALID;
			auth.p = v;
			auth.len = vlen;
			break;
		case PP2_TYPE_UNIQUE_ID:
			if (uid.p != NULL || vlen > PROXY_V2_UNIQUE_ID_MAX)
				return PROXY_E_INVALID;
			uid.p = v;
			uid.len = vlen;
			break;
		case PP2_TYPE_CRC32C:
			if (crc_at != 0 || vlen != 4)
				return PROXY_E_INVALID;
			crc_at = off + 3;
			break;
		case PP2_TYPE_SSL:
			if (!v2_ssl_ok(v, vlen))
				return PROXY_E_INVALID;
			break;
		default:
			break;
		}
		off += 3 + vlen;
	}
	if (crc_at != 0) {
		uint32_t want = (uint32_t)get16(buf + crc_at) << 16 | (uint32_t)get16(buf + crc_at + 2);
		if (crc32c_zeroed(buf, total, crc_at) != want)
			return PROXY_E_INVALID;
	}

	memset(hdr, 0, sizeof(*hdr));
	hdr->version = 2;
	hdr->family = AF_UNSPEC;
	hdr->local = buf[12] == (0x20 | V2_CMD_LOCAL);
	hdr->authority = auth;
	hdr->unique_id = uid;
	if (!hdr->local && (buf[13] == V2_FAM_TCP4 || buf[13] == V2_FAM_TCP6)) {
		const uint8_t *a = buf + PROXY_V2_HDR_LEN;
		int family = buf[13] == V2_FAM_TCP4 ? AF_INET : AF_INET6;
		size_t al = family == AF_INET ? 4 : 16;
		hdr->family = family;
		set_sockaddr(&hdr->src, family, a, (unsigned)get16(a + 2 * al));
		set_sockaddr(&hdr->dst, family, a + al, (unsigned)get16(a + 2 * al + 2));
	}
	*consumed = total;
	return PROXY_OK;
}

int proxy_parse(const uint8_t *buf, size_t len, struct proxy_hdr *hdr, size_t *consumed)
{
	*consumed = 0;
	switch (proxy_detect(buf, len)) {
	case PROXY_DETECT_V1:
		return proxy_v1_parse(buf, len, hdr, consumed);
	case PROXY_DETECT_V2:
		return proxy_v2_parse(buf, len, hdr, consumed);
	case PROXY_DETECT_NEED_MORE:
		return PROXY_NEED_MORE;
	default:
		return PROXY_E_INVALID;
	}
}
