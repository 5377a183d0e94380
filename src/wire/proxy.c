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
