/*
 * config: loading and validating threshold's JSON config files (config.h).
 *
 * Flow: the text is size-capped, checked for NUL bytes and parsed by jansson
 * (duplicates rejected, depth capped by jansson at JSON_PARSER_MAX_DEPTH).
 * The top object's members are then taken in document order: each key is
 * matched case-insensitively against the file's key table and its value
 * converted into a `struct val`; so the first error in the file is the one
 * reported. Cross-key rules (generations, required keys, TLS files) run last.
 * Positions for messages come from config_json_locate(), which rescans the
 * text; that happens only on the error path.
 */
#include "tunnel/config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SECS_MAX	86400u			/* one day */
#define WINDOW_MIN	(256u * 1024u)		/* yamux's initial window */
#define WINDOW_MAX	(256u * 1024u * 1024u)
#define WINDOW_DEFAULT	(8u * 1024u * 1024u)
#define SHOW_MAX	48			/* bytes of a value quoted in a message */
#define SHOW_BUF	(SHOW_MAX * 6 + 8)	/* room for escapes */

/* ------------------------------------------------------------------ */
/* Message building: a bounded string builder over the caller's buffer. */

struct sb {
	char *buf;
	size_t cap, len;	/* len < cap whenever cap > 0 */
};

static void sb_putn(struct sb *sb, const char *s, size_t n)
{
	if (sb->cap == 0)
		return;
	size_t room = sb->cap - 1 - sb->len;
	if (n > room)
		n = room;
	memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

static void sb_puts(struct sb *sb, const char *s)
{
	sb_putn(sb, s, strlen(s));
}

__attribute__((format(printf, 2, 0)))
static void sb_vprintf(struct sb *sb, const char *fmt, va_list ap)
{
	if (sb->cap == 0)
		return;
	size_t room = sb->cap - sb->len;
	int n = vsnprintf(sb->buf + sb->len, room, fmt, ap);
	if (n < 0)
		return;
	sb->len += (size_t)n < room ? (size_t)n : room - 1;
}

__attribute__((format(printf, 2, 3)))
static void sb_printf(struct sb *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(sb, fmt, ap);
	va_end(ap);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, nothing above U+10FFFF), or 0 if it is not one. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	if (n == 0)
		return 0;
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		else if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		else if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if ((s[i] & 0xC0) != 0x80)
			return 0;
	return len;
}

/* Appends s[0..n) so that it prints on one line: control characters become
 * JSON escapes, bytes that are not UTF-8 become \xNN, and with `quote` '"'
 * and '\\' are escaped too (the output is then a JSON string body). */
static void sb_putesc(struct sb *sb, const char *s, size_t n, bool quote)
{
	const unsigned char *u = (const unsigned char *)s;
	for (size_t i = 0; i < n;) {
		unsigned c = u[i];
		if (c >= 0x80) {
			size_t l = utf8_len(u + i, n - i);
			if (l == 0) {
				sb_printf(sb, "\\x%02X", c);
				i++;
			} else {
				sb_putn(sb, s + i, l);
				i += l;
			}
			continue;
		}
		if (c == '\n')
			sb_puts(sb, "\\n");
		else if (c == '\t')
			sb_puts(sb, "\\t");
		else if (c == '\r')
			sb_puts(sb, "\\r");
		else if (c < 0x20 || c == 0x7F)
			sb_printf(sb, "\\u%04x", c);
		else if (quote && (c == '"' || c == '\\')) {
			char e[2] = { '\\', (char)c };
			sb_putn(sb, e, 2);
		} else
			sb_putn(sb, s + i, 1);
		i++;
	}
}

/* Like sb_putesc, but at most SHOW_MAX input bytes, cut at a character
 * boundary and marked with "...". */
static void sb_putshort(struct sb *sb, const char *s, size_t n, bool quote)
{
	if (n <= SHOW_MAX) {
		sb_putesc(sb, s, n, quote);
		return;
	}
	size_t cut = SHOW_MAX - 3;
	while (cut > 0 && ((unsigned char)s[cut] & 0xC0) == 0x80)
		cut--;
	sb_putesc(sb, s, cut, quote);
	sb_puts(sb, "...");
}

/* A truncated message must not end inside a UTF-8 sequence. */
static void sb_trim_utf8(struct sb *sb)
{
	if (sb->cap == 0 || sb->len + 1 < sb->cap)
		return;
	size_t i = sb->len;
	while (i > 0 && ((unsigned char)sb->buf[i - 1] & 0xC0) == 0x80)
		i--;
	if (i > 0 && (unsigned char)sb->buf[i - 1] >= 0xC0 &&
	    utf8_len((const unsigned char *)sb->buf + i - 1, sb->len - (i - 1)) == 0)
		sb->len = i - 1;
	sb->buf[sb->len] = '\0';
}

static bool plain_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

/* Path as shown in messages: Key.sub[3]["odd key"]. */
static void sb_putpath(struct sb *sb, const struct config_path *path, size_t depth)
{
	for (size_t d = 0; d < depth; d++) {
		const char *k = path[d].key;
		if (k == NULL) {
			sb_printf(sb, "[%zu]", path[d].index);
		} else if (plain_name(k)) {
			if (d > 0)
				sb_puts(sb, ".");
			sb_puts(sb, k);
		} else {
			sb_puts(sb, d > 0 ? "[\"" : "\"");
			sb_putshort(sb, k, strlen(k), true);
			sb_puts(sb, d > 0 ? "\"]" : "\"");
		}
	}
}

/* ------------------------------------------------------------------ */
/* Locating values in JSON text. */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static size_t skip_ws(const char *t, size_t n, size_t i)
{
	while (i < n && is_ws(t[i]))
		i++;
	return i;
}

/* t[i] is '"'; returns the index after the closing quote, or SIZE_MAX. */
static size_t skip_string(const char *t, size_t n, size_t i)
{
	for (i++; i < n; i++) {
		if (t[i] == '\\')
			i++;
		else if (t[i] == '"')
			return i + 1;
	}
	return SIZE_MAX;
}

/* Skips one value starting at t[i]; iterative, so any depth is fine.
 * Returns the index after it, or SIZE_MAX. Brackets are counted, not
 * matched: on text that is not JSON the answer is bounded, not right. */
static size_t skip_value(const char *t, size_t n, size_t i)
{
	if (i >= n)
		return SIZE_MAX;
	if (t[i] == '"')
		return skip_string(t, n, i);
	if (t[i] == '{' || t[i] == '[') {
		size_t depth = 0;
		while (i < n) {
			char c = t[i];
			if (c == '"') {
				i = skip_string(t, n, i);
				if (i == SIZE_MAX)
					return SIZE_MAX;
				continue;
			}
			if (c == '{' || c == '[')
				depth++;
			else if ((c == '}' || c == ']') && --depth == 0)
				return i + 1;
			i++;
		}
		return SIZE_MAX;
	}
	size_t s = i;
	while (i < n && !is_ws(t[i]) && t[i] != ',' && t[i] != '}' && t[i] != ']' && t[i] != ':')
		i++;
	return i > s ? i : SIZE_MAX;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads \uXXXX at t[i] (t[i] == '\\'); returns the code unit or -1. */
static long read_u4(const char *t, size_t n, size_t i)
{
	if (i + 6 > n || t[i + 1] != 'u')
		return -1;
	long v = 0;
	for (size_t k = 2; k < 6; k++) {
		int h = hexval(t[i + k]);
		if (h < 0)
			return -1;
		v = v * 16 + h;
	}
	return v;
}

static size_t utf8_put(unsigned char *b, unsigned long cp)
{
	if (cp < 0x80) {
		b[0] = (unsigned char)cp;
		return 1;
	}
	if (cp < 0x800) {
		b[0] = (unsigned char)(0xC0 | (cp >> 6));
		b[1] = (unsigned char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		b[0] = (unsigned char)(0xE0 | (cp >> 12));
		b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
		b[2] = (unsigned char)(0x80 | (cp & 0x3F));
		return 3;
	}
	b[0] = (unsigned char)(0xF0 | (cp >> 18));
	b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
	b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
	b[3] = (unsigned char)(0x80 | (cp & 0x3F));
	return 4;
}

/* Compares the JSON string at t[i] (t[i] == '"'), decoded, with key.
 * Returns 1 if equal, 0 if not, -1 if the string is malformed; *end is the
 * index after the closing quote. */
static int key_equals(const char *t, size_t n, size_t i, const char *key, size_t *end)
{
	size_t klen = strlen(key), k = 0;
	bool eq = true;
	for (i++; i < n && t[i] != '"';) {
		unsigned char b[4];
		size_t bl = 1;
		if (t[i] != '\\') {
			b[0] = (unsigned char)t[i];
			i++;
		} else {
			if (i + 1 >= n)
				return -1;
			switch (t[i + 1]) {
			case '"': case '\\': case '/': b[0] = (unsigned char)t[i + 1]; break;
			case 'b': b[0] = '\b'; break;
			case 'f': b[0] = '\f'; break;
			case 'n': b[0] = '\n'; break;
			case 'r': b[0] = '\r'; break;
			case 't': b[0] = '\t'; break;
			case 'u': {
				long cp = read_u4(t, n, i);
				if (cp < 0)
					return -1;
				i += 6;
				if (cp >= 0xD800 && cp <= 0xDBFF) {
					long lo = read_u4(t, n, i);
					if (lo >= 0xDC00 && lo <= 0xDFFF) {
						cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
						i += 6;
					}
				}
				bl = utf8_put(b, (unsigned long)cp);
				i -= 2;	/* the common step below adds 2 */
				break;
			}
			default:
				return -1;
			}
			i += 2;
		}
		if (eq) {
			if (k + bl > klen || memcmp(key + k, b, bl) != 0)
				eq = false;
			else
				k += bl;
		}
	}
	if (i >= n)
		return -1;
	*end = i + 1;
	return eq && k == klen;
}

static void line_col(const char *t, size_t off, int *line, int *col)
{
	long l = 1, c = 1;
	for (size_t i = 0; i < off; i++) {
		unsigned char ch = (unsigned char)t[i];
		if (ch == '\n') {
			l++;
			c = 1;
		} else if ((ch & 0xC0) != 0x80) {
			c++;
		}
	}
	*line = l > 0x7fffffff ? 0x7fffffff : (int)l;
	*col = c > 0x7fffffff ? 0x7fffffff : (int)c;
}

int config_json_locate(const char *text, size_t len, const struct config_path *path,
		       size_t depth, bool at_key, struct config_pos *pos)
{
	if (text == NULL || pos == NULL || (depth > 0 && path == NULL))
		return -1;
	size_t i = skip_ws(text, len, 0);
	size_t kstart = 0, kend = 0;
	for (size_t d = 0; d < depth; d++) {
		i = skip_ws(text, len, i);
		if (path[d].key != NULL) {
			if (i >= len || text[i] != '{')
				return -1;
			i = skip_ws(text, len, i + 1);
			for (;;) {
				if (i >= len || text[i] != '"')
					return -1;
				size_t ke = 0;
				int m = key_equals(text, len, i, path[d].key, &ke);
				if (m < 0)
					return -1;
				size_t ks = i;
				i = skip_ws(text, len, ke);
				if (i >= len || text[i] != ':')
					return -1;
				i = skip_ws(text, len, i + 1);
				if (m) {
					kstart = ks;
					kend = ke;
					break;
				}
				i = skip_value(text, len, i);
				if (i == SIZE_MAX)
					return -1;
				i = skip_ws(text, len, i);
				if (i >= len || text[i] != ',')
					return -1;
				i = skip_ws(text, len, i + 1);
			}
		} else {
			if (i >= len || text[i] != '[')
				return -1;
			i = skip_ws(text, len, i + 1);
			for (size_t k = 0; k < path[d].index; k++) {
				i = skip_value(text, len, i);
				if (i == SIZE_MAX)
					return -1;
				i = skip_ws(text, len, i);
				if (i >= len || text[i] != ',')
					return -1;
				i = skip_ws(text, len, i + 1);
			}
			if (i >= len || text[i] == ']')
				return -1;
		}
	}
	size_t end = skip_value(text, len, i);
	if (end == SIZE_MAX)
		return -1;
	if (at_key && depth > 0 && path[depth - 1].key != NULL) {
		pos->off = kstart;
		pos->len = kend - kstart;
	} else {
		pos->off = i;
		pos->len = end - i;
	}
	line_col(text, pos->off, &pos->line, &pos->col);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Errors. */

struct pctx {
	const char *name;
	const char *text;	/* after a BOM */
	size_t len;
	char *err;		/* CONFIG_ERRLEN bytes */
};

enum at { AT_NONE, AT_VALUE, AT_KEY };

/* Writes "name[:line:col]: [path: ]message" into p->err; returns -1. */
__attribute__((format(printf, 6, 7)))
static int fail(const struct pctx *p, const struct config_path *path, size_t depth, enum at at,
		bool show_path, const char *fmt, ...)
{
	struct sb sb = { p->err, CONFIG_ERRLEN, 0 };
	p->err[0] = '\0';
	sb_putesc(&sb, p->name, strlen(p->name), false);
	struct config_pos pos;
	if (at != AT_NONE &&
	    config_json_locate(p->text, p->len, path, depth, at == AT_KEY, &pos) == 0)
		sb_printf(&sb, ":%d:%d", pos.line, pos.col);
	sb_puts(&sb, ": ");
	if (show_path && depth > 0) {
		sb_putpath(&sb, path, depth);
		sb_puts(&sb, ": ");
	}
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(&sb, fmt, ap);
	va_end(ap);
	sb_trim_utf8(&sb);
	return -1;
}

/* How a value is quoted in messages: as written in the file (so "got 1e3"
 * shows what the user typed), short, on one line. */
static const char *show(const struct pctx *p, const struct config_path *path, size_t depth,
			const json_t *v, char out[SHOW_BUF])
{
	struct sb sb = { out, SHOW_BUF, 0 };
	out[0] = '\0';
	if (json_is_object(v))
		return "an object";
	if (json_is_array(v))
		return "an array";
	struct config_pos pos;
	if (config_json_locate(p->text, p->len, path, depth, false, &pos) == 0) {
		sb_putshort(&sb, p->text + pos.off, pos.len, false);
		return out;
	}
	char *d = json_dumps(v, JSON_ENCODE_ANY);
	if (d != NULL) {
		sb_putshort(&sb, d, strlen(d), false);
		free(d);
	}
	return out;
}

/* ------------------------------------------------------------------ */
/* Keys. */

enum kind {
	K_BOOL,
	K_PORT,		/* integer 1-65535 */
	K_PORT0,	/* integer 0-65535 (ServerManagementPort: unused) */
	K_STR,		/* optional string; "" = absent */
	K_IP,		/* optional IP literal; "" = absent */
	K_ID,		/* client id: non-empty, printable, no outer white space */
	K_HOST,		/* host name or IP literal, IPv6 with or without brackets */
	K_HOSTPORT,	/* "host:port", "[v6]:port" */
	K_SECS,		/* seconds, > 0 (at least 1 ms), <= SECS_MAX; stored in ms */
	K_SECS0,	/* seconds, >= 0, <= SECS_MAX; stored in ms */
	K_COUNT,	/* integer in [min, max] */
	K_SERVICES,	/* object name -> "host:port" */
	K_IDLIST,	/* list of client ids */
};

struct keydef {
	const char *name;
	enum kind kind;
	uint32_t def, min, max;
};

enum {
	S_DEBUG, S_CTRLPORT, S_MGMTPORT, S_LISTENPORT, S_LISTENADDR, S_MGMTADDR, S_USETLS,
	S_CAFILE, S_CAGLOB, S_KEY, S_CERT, S_DOMAIN, S_MGMTIDS, S_TUNNELSFILE, S_GRACE,
	S_KEEPALIVE, S_DEADPEER, S_HANDSHAKE, S_OPEN, S_WINDOW, S_MAXVIS, S_SNIPEEK, S_NKEYS
};

static const struct keydef server_keys[S_NKEYS] = {
	[S_DEBUG]	= { "DebugLog", K_BOOL, 0, 0, 0 },
	[S_CTRLPORT]	= { "TunnelControlPort", K_PORT, 0, 0, 0 },
	[S_MGMTPORT]	= { "ManagementPort", K_PORT, 0, 0, 0 },
	[S_LISTENPORT]	= { "ListenPort", K_PORT, 0, 0, 0 },
	[S_LISTENADDR]	= { "ListenAddress", K_IP, 0, 0, 0 },
	[S_MGMTADDR]	= { "ManagementAddress", K_IP, 0, 0, 0 },
	[S_USETLS]	= { "UseTls", K_BOOL, 0, 0, 0 },
	[S_CAFILE]	= { "CaCertificateFile", K_STR, 0, 0, 0 },
	[S_CAGLOB]	= { "CaCertificateFilesGlob", K_STR, 0, 0, 0 },
	[S_KEY]		= { "ServerTlsKeyFile", K_STR, 0, 0, 0 },
	[S_CERT]	= { "ServerTlsCertificateFile", K_STR, 0, 0, 0 },
	[S_DOMAIN]	= { "Domain", K_STR, 0, 0, 0 },
	[S_MGMTIDS]	= { "ManagementClientIds", K_IDLIST, 0, 0, 0 },
	[S_TUNNELSFILE]	= { "TunnelsFile", K_STR, 0, 0, 0 },
	[S_GRACE]	= { "VisitorGraceSeconds", K_SECS0, 0, 0, 0 },
	[S_KEEPALIVE]	= { "KeepAliveSeconds", K_SECS, 30000, 0, 0 },
	[S_DEADPEER]	= { "DeadPeerSeconds", K_SECS, 30000, 0, 0 },
	[S_HANDSHAKE]	= { "HandshakeTimeoutSeconds", K_SECS, 10000, 0, 0 },
	[S_OPEN]	= { "StreamOpenTimeoutSeconds", K_SECS, 10000, 0, 0 },
	[S_WINDOW]	= { "StreamWindowBytes", K_COUNT, WINDOW_DEFAULT, WINDOW_MIN, WINDOW_MAX },
	[S_MAXVIS]	= { "MaxVisitorsPerListener", K_COUNT, 10000, 1, 1000000 },
	[S_SNIPEEK]	= { "SniPeekTimeoutSeconds", K_SECS, 5000, 0, 0 },
};

enum {
	C_DEBUG, C_CLIENTID, C_SERVERHOST, C_SERVERPORT, C_SERVERMGMTPORT, C_SERVERADDR,
	C_USETLS, C_CAFILE, C_CAGLOB, C_KEY, C_CERT, C_ADMIN, C_SERVICES, C_RETRY,
	C_KEEPALIVE, C_DEADPEER, C_CONNECT, C_DIAL, C_WINDOW, C_NKEYS
};

static const struct keydef client_keys[C_NKEYS] = {
	[C_DEBUG]	= { "DebugLog", K_BOOL, 0, 0, 0 },
	[C_CLIENTID]	= { "ClientIdentifier", K_ID, 0, 0, 0 },
	[C_SERVERHOST]	= { "ServerHost", K_HOST, 0, 0, 0 },
	[C_SERVERPORT]	= { "ServerTunnelControlPort", K_PORT, 0, 0, 0 },
	[C_SERVERMGMTPORT] = { "ServerManagementPort", K_PORT0, 0, 0, 0 },
	[C_SERVERADDR]	= { "ServerAddr", K_HOSTPORT, 0, 0, 0 },
	[C_USETLS]	= { "UseTls", K_BOOL, 0, 0, 0 },
	[C_CAFILE]	= { "CaCertificateFile", K_STR, 0, 0, 0 },
	[C_CAGLOB]	= { "CaCertificateFilesGlob", K_STR, 0, 0, 0 },
	[C_KEY]		= { "ClientTlsKeyFile", K_STR, 0, 0, 0 },
	[C_CERT]	= { "ClientTlsCertificateFile", K_STR, 0, 0, 0 },
	[C_ADMIN]	= { "AdminUnixSocket", K_STR, 0, 0, 0 },
	[C_SERVICES]	= { "ServiceToLocalAddrMap", K_SERVICES, 0, 0, 0 },
	[C_RETRY]	= { "MaximumConnectionRetrySeconds", K_SECS, 60000, 0, 0 },
	[C_KEEPALIVE]	= { "KeepAliveSeconds", K_SECS, 30000, 0, 0 },
	[C_DEADPEER]	= { "DeadPeerSeconds", K_SECS, 30000, 0, 0 },
	[C_CONNECT]	= { "ConnectTimeoutSeconds", K_SECS, 10000, 0, 0 },
	[C_DIAL]	= { "DialTimeoutSeconds", K_SECS, 10000, 0, 0 },
	[C_WINDOW]	= { "StreamWindowBytes", K_COUNT, WINDOW_DEFAULT, WINDOW_MIN, WINDOW_MAX },
};

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool ascii_caseeq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (lower(*a) != lower(*b))
			return false;
	return *a == *b;
}

static size_t find_key(const struct keydef *keys, size_t n, const char *k)
{
	for (size_t i = 0; i < n; i++)
		if (ascii_caseeq(keys[i].name, k))
			return i;
	return SIZE_MAX;
}

/* Optimal string alignment distance, case-insensitive; both at most 64. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t r0[65], r1[65], r2[65];
	size_t *pp = r0, *prev = r1, *cur = r2;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = lower(a[i - 1]) != lower(b[j - 1]);
			size_t v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cur[j] = v;
		}
		size_t *t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

static int unknown_key(const struct pctx *p, const char *k, const struct keydef *keys, size_t n,
		       const struct keydef *other, size_t nother, const char *other_kind)
{
	struct config_path path[1] = { { k, 0 } };
	char q[SHOW_BUF];
	struct sb sb = { q, sizeof(q), 0 };
	q[0] = '\0';
	sb_putshort(&sb, k, strlen(k), true);
	if (find_key(other, nother, k) != SIZE_MAX)
		return fail(p, path, 1, AT_KEY, false, "unknown key \"%s\" (it belongs in a %s config)",
			    q, other_kind);
	const char *best = NULL;
	size_t bestd = SIZE_MAX;
	if (strlen(k) <= 64) {
		for (size_t i = 0; i < n; i++) {
			size_t d = edit_distance(k, keys[i].name);
			if (d < bestd) {
				bestd = d;
				best = keys[i].name;
			}
		}
	}
	if (best != NULL && bestd < strlen(k) && (bestd <= 2 || bestd * 4 <= strlen(best)))
		return fail(p, path, 1, AT_KEY, false, "unknown key \"%s\" (did you mean \"%s\"?)", q,
			    best);
	return fail(p, path, 1, AT_KEY, false, "unknown key \"%s\"", q);
}

/* ------------------------------------------------------------------ */
/* Values. */

struct val {
	const char *key;	/* as spelled in the file; NULL when not there */
	bool present;		/* there and not null */
	bool b;
	uint32_t u;
	char *s;		/* strings; the host of K_HOST and K_HOSTPORT */
	uint16_t port;
	struct config_service *svc;
	size_t nsvc;
	char **ids;
	size_t nids;
};

static void val_free(struct val *v)
{
	free(v->s);
	v->s = NULL;
	for (size_t i = 0; i < v->nsvc; i++) {
		free(v->svc[i].name);
		free(v->svc[i].host);
	}
	free(v->svc);
	v->svc = NULL;
	v->nsvc = 0;
	for (size_t i = 0; i < v->nids; i++)
		free(v->ids[i]);
	free(v->ids);
	v->ids = NULL;
	v->nids = 0;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			return true;
	return false;
}

static bool is_ipv4(const char *s)
{
	struct in_addr a;
	return inet_pton(AF_INET, s, &a) == 1;
}

/* IPv6 literal, optionally with a %zone when zone_ok. */
static bool is_ipv6(const char *s, size_t n, bool zone_ok)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *pct = memchr(s, '%', n);
	size_t alen = pct ? (size_t)(pct - s) : n;
	if (alen == 0 || alen >= sizeof(buf))
		return false;
	if (pct != NULL) {
		if (!zone_ok || pct + 1 == s + n)
			return false;
		for (const char *z = pct + 1; z < s + n; z++)
			if (!((*z >= 'a' && *z <= 'z') || (*z >= 'A' && *z <= 'Z') ||
			      (*z >= '0' && *z <= '9') || *z == '.' || *z == '_' || *z == '-'))
				return false;
	}
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	struct in6_addr a;
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/* Host name (letters, digits, '.', '-', '_') or IPv4 literal. */
static bool is_hostname(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Splits "host:port" or "[v6]:port". On error returns -1 and sets *why to
 * a reason, or NULL when "is not host:port" says it all. */
static int split_hostport(const char *s, char **host, uint16_t *port, const char **why)
{
	const char *h, *he, *ps;
	bool v6 = false;
	*why = NULL;
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (rb == NULL) {
			*why = "missing ']'";
			return -1;
		}
		if (rb[1] != ':')
			return -1;
		h = s + 1;
		he = rb;
		ps = rb + 2;
		v6 = true;
	} else {
		const char *colon = strrchr(s, ':');
		if (colon == NULL)
			return -1;
		if (memchr(s, ':', (size_t)(colon - s)) != NULL) {
			*why = "IPv6 addresses need brackets, as in [::1]:9001";
			return -1;
		}
		h = s;
		he = colon;
		ps = colon + 1;
	}
	size_t hl = (size_t)(he - h);
	if (hl == 0) {
		*why = "empty host";
		return -1;
	}
	if (v6 ? !is_ipv6(h, hl, true) : !is_hostname(h, hl)) {
		*why = v6 ? "not an IPv6 address between the brackets" : "bad host name";
		return -1;
	}
	unsigned long pv = 0;
	size_t pl = strlen(ps);
	if (pl == 0 || pl > 5) {
		*why = "port must be 1-65535";
		return -1;
	}
	for (size_t i = 0; i < pl; i++) {
		if (ps[i] < '0' || ps[i] > '9') {
			*why = "port must be 1-65535";
			return -1;
		}
		pv = pv * 10 + (unsigned long)(ps[i] - '0');
	}
	if (pv < 1 || pv > 65535) {
		*why = "port must be 1-65535";
		return -1;
	}
	*host = strndup(h, hl);
	if (*host == NULL) {
		*why = "out of memory";
		return -1;
	}
	*port = (uint16_t)pv;
	return 0;
}

static int want_string(const struct pctx *p, const struct config_path *path, size_t depth,
		       const json_t *v, const char *what)
{
	if (json_is_string(v))
		return 0;
	char g[SHOW_BUF];
	return fail(p, path, depth, AT_VALUE, true, "expected %s, got %s", what,
		    show(p, path, depth, v, g));
}

/* Client ids: ClientIdentifier and ManagementClientIds entries. They go
 * into an HTTP header and a certificate name comparison. */
static int check_id(const struct pctx *p, const struct config_path *path, size_t depth,
		    const json_t *v)
{
	if (want_string(p, path, depth, v, "a string"))
		return -1;
	const char *s = json_string_value(v);
	size_t n = strlen(s);
	char g[SHOW_BUF];
	if (n == 0)
		return fail(p, path, depth, AT_VALUE, true, "must not be empty");
	if (has_ctl(s))
		return fail(p, path, depth, AT_VALUE, true, "%s contains a control character",
			    show(p, path, depth, v, g));
	if (s[0] == ' ' || s[n - 1] == ' ')
		return fail(p, path, depth, AT_VALUE, true, "%s has leading or trailing spaces",
			    show(p, path, depth, v, g));
	return 0;
}

static int convert_hostport(const struct pctx *p, const struct config_path *path, size_t depth,
			    const json_t *v, char **host, uint16_t *port)
{
	if (want_string(p, path, depth, v, "a string \"host:port\""))
		return -1;
	const char *why;
	char g[SHOW_BUF];
	if (split_hostport(json_string_value(v), host, port, &why) == 0)
		return 0;
	if (why != NULL)
		return fail(p, path, depth, AT_VALUE, true, "%s is not host:port (%s)",
			    show(p, path, depth, v, g), why);
	return fail(p, path, depth, AT_VALUE, true, "%s is not host:port",
		    show(p, path, depth, v, g));
}

static int cmp_service(const void *a, const void *b)
{
	return strcmp(((const struct config_service *)a)->name,
		      ((const struct config_service *)b)->name);
}

static int convert_services(const struct pctx *p, const char *key, const json_t *v,
			    struct val *out)
{
	struct config_path path[2] = { { key, 0 }, { NULL, 0 } };
	char g[SHOW_BUF];
	if (!json_is_object(v))
		return fail(p, path, 1, AT_VALUE, true, "expected an object, got %s",
			    show(p, path, 1, v, g));
	size_t n = json_object_size(v);
	out->svc = calloc(n ? n : 1, sizeof(*out->svc));
	if (out->svc == NULL)
		return fail(p, path, 1, AT_NONE, true, "out of memory");
	const char *name;
	json_t *addr;
	json_object_foreach((json_t *)v, name, addr) {
		path[1].key = name;
		if (name[0] == '\0')
			return fail(p, path, 2, AT_KEY, true, "empty service name");
		if (has_ctl(name))
			return fail(p, path, 2, AT_KEY, true, "service name contains a control character");
		struct config_service *s = &out->svc[out->nsvc];
		if (convert_hostport(p, path, 2, addr, &s->host, &s->port))
			return -1;
		s->name = strdup(name);
		out->nsvc++;	/* owns host now, even if strdup failed */
		if (s->name == NULL)
			return fail(p, path, 2, AT_NONE, true, "out of memory");
	}
	qsort(out->svc, out->nsvc, sizeof(*out->svc), cmp_service);
	return 0;
}

static int convert_idlist(const struct pctx *p, const char *key, const json_t *v, struct val *out)
{
	struct config_path path[2] = { { key, 0 }, { NULL, 0 } };
	char g[SHOW_BUF];
	if (!json_is_array(v))
		return fail(p, path, 1, AT_VALUE, true, "expected a list of strings, got %s",
			    show(p, path, 1, v, g));
	size_t n = json_array_size(v);
	out->ids = calloc(n + 1, sizeof(*out->ids));
	if (out->ids == NULL)
		return fail(p, path, 1, AT_NONE, true, "out of memory");
	for (size_t i = 0; i < n; i++) {
		path[1].index = i;
		if (check_id(p, path, 2, json_array_get(v, i)))
			return -1;
		out->ids[i] = strdup(json_string_value(json_array_get(v, i)));
		if (out->ids[i] == NULL)
			return fail(p, path, 2, AT_NONE, true, "out of memory");
		out->nids = i + 1;
	}
	return 0;
}

static int convert(const struct pctx *p, const struct keydef *d, const char *key, const json_t *v,
		   struct val *out)
{
	struct config_path path[1] = { { key, 0 } };
	char g[SHOW_BUF];
	switch (d->kind) {
	case K_BOOL:
		if (!json_is_boolean(v))
			return fail(p, path, 1, AT_VALUE, true, "expected true or false, got %s",
				    show(p, path, 1, v, g));
		out->b = json_is_true(v);
		return 0;
	case K_PORT:
	case K_PORT0: {
		if (!json_is_integer(v))
			return fail(p, path, 1, AT_VALUE, true, "expected an integer, got %s",
				    show(p, path, 1, v, g));
		json_int_t n = json_integer_value(v);
		json_int_t lo = d->kind == K_PORT ? 1 : 0;
		if (n < lo || n > 65535)
			return fail(p, path, 1, AT_VALUE, true, "%s is not a port (%d-65535)",
				    show(p, path, 1, v, g), (int)lo);
		out->u = (uint32_t)n;
		return 0;
	}
	case K_COUNT: {
		if (!json_is_integer(v))
			return fail(p, path, 1, AT_VALUE, true, "expected an integer, got %s",
				    show(p, path, 1, v, g));
		json_int_t n = json_integer_value(v);
		if (n < (json_int_t)d->min || n > (json_int_t)d->max)
			return fail(p, path, 1, AT_VALUE, true, "%s is out of range (%u-%u)",
				    show(p, path, 1, v, g), (unsigned)d->min, (unsigned)d->max);
		out->u = (uint32_t)n;
		return 0;
	}
	case K_SECS:
	case K_SECS0: {
		if (!json_is_number(v))
			return fail(p, path, 1, AT_VALUE, true,
				    "expected a number of seconds, got %s", show(p, path, 1, v, g));
		double s = json_number_value(v);
		uint32_t ms = 0;
		if (s >= 0 && s <= SECS_MAX)	/* false for NaN too */
			ms = (uint32_t)(s * 1000.0 + 0.5);
		if (!(s >= 0 && s <= SECS_MAX) || (d->kind == K_SECS && ms == 0))
			return fail(p, path, 1, AT_VALUE, true, "%s is out of range (%s-%u seconds)",
				    show(p, path, 1, v, g), d->kind == K_SECS ? "0.001" : "0",
				    SECS_MAX);
		out->u = ms;
		return 0;
	}
	case K_STR:
	case K_IP: {
		if (want_string(p, path, 1, v, "a string"))
			return -1;
		const char *s = json_string_value(v);
		if (s[0] == '\0') {
			out->present = false;	/* Go's zero value: not set */
			return 0;
		}
		if (d->kind == K_IP && !is_ipv4(s) && !is_ipv6(s, strlen(s), false))
			return fail(p, path, 1, AT_VALUE, true, "%s is not an IP address",
				    show(p, path, 1, v, g));
		out->s = strdup(s);
		if (out->s == NULL)
			return fail(p, path, 1, AT_NONE, true, "out of memory");
		return 0;
	}
	case K_ID:
		if (check_id(p, path, 1, v))
			return -1;
		out->s = strdup(json_string_value(v));
		if (out->s == NULL)
			return fail(p, path, 1, AT_NONE, true, "out of memory");
		return 0;
	case K_HOST: {
		if (want_string(p, path, 1, v, "a string"))
			return -1;
		const char *s = json_string_value(v);
		size_t n = strlen(s);
		if (n == 0)
			return fail(p, path, 1, AT_VALUE, true, "must not be empty");
		/* Go concatenated ServerHost ":" port, so an IPv6 literal had to
		 * be written in brackets; accept it with or without. */
		if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
			s++;
			n -= 2;
			if (!is_ipv6(s, n, true))
				return fail(p, path, 1, AT_VALUE, true,
					    "%s is not a host name or IP address",
					    show(p, path, 1, v, g));
		} else if (memchr(s, ':', n) ? !is_ipv6(s, n, true) : !is_hostname(s, n)) {
			return fail(p, path, 1, AT_VALUE, true, "%s is not a host name or IP address",
				    show(p, path, 1, v, g));
		}
		out->s = strndup(s, n);
		if (out->s == NULL)
			return fail(p, path, 1, AT_NONE, true, "out of memory");
		return 0;
	}
	case K_HOSTPORT:
		return convert_hostport(p, path, 1, v, &out->s, &out->port);
	case K_SERVICES:
		return convert_services(p, key, v, out);
	case K_IDLIST:
		return convert_idlist(p, key, v, out);
	}
	return fail(p, path, 1, AT_NONE, true, "internal error: bad key kind");
}

/* ------------------------------------------------------------------ */
/* Documents. */

/* Parses the text and takes every member of the top object into vals[]
 * (defaults preset). Returns the root (caller decrefs; vals borrow its key
 * strings) or NULL with p->err set. */
static json_t *parse_doc(struct pctx *p, const char *text, size_t len,
			 const struct keydef *keys, size_t nkeys, struct val *vals,
			 const struct keydef *other, size_t nother, const char *other_kind)
{
	for (size_t i = 0; i < nkeys; i++)
		vals[i].u = keys[i].def;
	if (text == NULL)
		len = 0;
	if (len > CONFIG_MAX_BYTES) {
		fail(p, NULL, 0, AT_NONE, false, "larger than %u bytes", CONFIG_MAX_BYTES);
		return NULL;
	}
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
		text += 3;
		len -= 3;
	}
	p->text = text != NULL ? text : "";
	p->len = len;
	if (skip_ws(p->text, len, 0) == len) {
		fail(p, NULL, 0, AT_NONE, false, "empty file, expected a JSON object");
		return NULL;
	}
	const char *nul = len ? memchr(p->text, '\0', len) : NULL;
	if (nul != NULL) {
		int line, col;
		line_col(p->text, (size_t)(nul - p->text), &line, &col);
		struct sb sb = { p->err, CONFIG_ERRLEN, 0 };
		sb_putesc(&sb, p->name, strlen(p->name), false);
		sb_printf(&sb, ":%d:%d: NUL byte in the file", line, col);
		return NULL;
	}
	json_error_t je;
	json_t *root = json_loadb(p->text, len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		struct sb sb = { p->err, CONFIG_ERRLEN, 0 };
		const char *near = strstr(je.text, " near ");
		bool dup = json_error_code(&je) == json_error_duplicate_key && near != NULL;
		int line = je.line, col = je.column > 0 ? je.column : 1;
		size_t end = je.position > 0 ? (size_t)je.position : 0;
		if (dup && end >= 2 && end <= len && p->text[end - 1] == '"') {
			/* jansson points at the key's last character; our other
			 * key errors point at its first. Inside a string an
			 * unescaped quote can only be the opening one. */
			for (size_t j = end - 1; j-- > 0;) {
				size_t bs = 0;
				while (bs < j && p->text[j - 1 - bs] == '\\')
					bs++;
				if (p->text[j] == '"' && bs % 2 == 0) {
					line_col(p->text, j, &line, &col);
					break;
				}
			}
		}
		sb_putesc(&sb, p->name, strlen(p->name), false);
		if (line > 0)
			sb_printf(&sb, ":%d:%d", line, col);
		sb_puts(&sb, ": ");
		if (dup) {
			/* "duplicate object key near '"k"'" -> duplicate key "k" */
			const char *k = near + 7;
			size_t kl = strlen(k);
			if (kl > 0 && k[kl - 1] == '\'')
				kl--;
			sb_puts(&sb, "duplicate key ");
			sb_putesc(&sb, k, kl, false);
		} else {
			sb_putesc(&sb, je.text, strnlen(je.text, sizeof(je.text)), false);
		}
		sb_trim_utf8(&sb);
		return NULL;
	}
	if (!json_is_object(root)) {
		char g[SHOW_BUF];
		fail(p, NULL, 0, AT_VALUE, false, "expected a JSON object, got %s",
		     show(p, NULL, 0, root, g));
		json_decref(root);
		return NULL;
	}
	const char *k;
	json_t *v;
	json_object_foreach(root, k, v) {
		size_t i = find_key(keys, nkeys, k);
		if (i == SIZE_MAX) {
			unknown_key(p, k, keys, nkeys, other, nother, other_kind);
			goto bad;
		}
		if (vals[i].key != NULL) {
			struct config_path path[1] = { { k, 0 } };
			fail(p, path, 1, AT_KEY, false,
			     "\"%s\" and \"%s\" are the same key (keys ignore case)", vals[i].key, k);
			goto bad;
		}
		vals[i].key = k;
		if (json_is_null(v))
			continue;	/* as in Go: null leaves the default */
		vals[i].present = true;
		if (convert(p, &keys[i], k, v, &vals[i]))
			goto bad;
	}
	return root;
bad:
	json_decref(root);
	return NULL;
}

/* An error about a top-level key that is in the file. */
__attribute__((format(printf, 4, 5)))
static int fail_key(const struct pctx *p, const struct val *v, enum at at, const char *fmt, ...)
{
	struct config_path path[1] = { { v->key, 0 } };
	char msg[CONFIG_ERRLEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fail(p, path, 1, at, true, "%s", msg);
}

/* UseTls true needs a key, a certificate and a CA file or glob (both
 * roles, each with its own key names). 0, or -1 with the error set. */
static int check_tls_keys(const struct pctx *p, const struct val *v, const struct keydef *keys, int usetls,
			  int key, int cert, int cafile, int caglob)
{
	if (!v[usetls].b)
		return 0;
	const int need[] = { key, cert };
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!v[need[i]].present) {
			fail_key(p, &v[usetls], AT_VALUE, "true requires %s", keys[need[i]].name);
			return -1;
		}
	}
	if (!v[cafile].present && !v[caglob].present) {
		fail_key(p, &v[usetls], AT_VALUE, "true requires %s", "CaCertificateFile or CaCertificateFilesGlob");
		return -1;
	}
	return 0;
}

static char *take(struct val *v)
{
	char *s = v->s;
	v->s = NULL;
	return s;
}

struct config_server *config_server_parse(const char *name, const char *text, size_t len,
					  char err[CONFIG_ERRLEN])
{
	char scratch[CONFIG_ERRLEN];
	struct pctx p = { name ? name : "config", "", 0, err ? err : scratch };
	struct val v[S_NKEYS];
	struct config_server *c = NULL;
	memset(v, 0, sizeof(v));
	p.err[0] = '\0';

	json_t *root = parse_doc(&p, text, len, server_keys, S_NKEYS, v, client_keys, C_NKEYS,
				 "client");
	if (root == NULL)
		goto out;

	/* Ports: ListenPort (later) or TunnelControlPort [+ ManagementPort]
	 * (4b75a35), never both. */
	const struct val *lp = &v[S_LISTENPORT], *cp = &v[S_CTRLPORT], *mp = &v[S_MGMTPORT];
	if (lp->present && (cp->present || mp->present)) {
		fail_key(&p, lp, AT_KEY,
			 "cannot be combined with %s (ListenPort replaced TunnelControlPort and ManagementPort)",
			 cp->present ? cp->key : mp->key);
		goto out;
	}
	if (!lp->present && !cp->present) {
		if (mp->present)
			fail_key(&p, mp, AT_KEY, "needs TunnelControlPort");
		else
			fail(&p, NULL, 0, AT_NONE, false,
			     "missing ListenPort (or TunnelControlPort and ManagementPort)");
		goto out;
	}
	uint16_t ctrl = (uint16_t)(lp->present ? lp->u : cp->u);
	uint16_t mgmt = (uint16_t)(mp->present ? mp->u : ctrl);
	bool single = ctrl == mgmt;
	if (single && v[S_MGMTADDR].present) {
		fail_key(&p, &v[S_MGMTADDR], AT_KEY,
			 "needs a ManagementPort apart from the control port");
		goto out;
	}
	if (check_tls_keys(&p, v, server_keys, S_USETLS, S_KEY, S_CERT, S_CAFILE, S_CAGLOB) != 0)
		goto out;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		fail(&p, NULL, 0, AT_NONE, false, "out of memory");
		goto out;
	}
	c->debug_log = v[S_DEBUG].b;
	c->control_port = ctrl;
	c->mgmt_port = mgmt;
	c->single_port = single;
	c->listen_address = take(&v[S_LISTENADDR]);
	c->mgmt_address = take(&v[S_MGMTADDR]);
	c->use_tls = v[S_USETLS].b;
	c->ca_file = take(&v[S_CAFILE]);
	c->ca_glob = take(&v[S_CAGLOB]);
	c->tls_key_file = take(&v[S_KEY]);
	c->tls_cert_file = take(&v[S_CERT]);
	c->domain = take(&v[S_DOMAIN]);
	c->mgmt_client_ids = v[S_MGMTIDS].ids;
	c->n_mgmt_client_ids = v[S_MGMTIDS].nids;
	v[S_MGMTIDS].ids = NULL;
	v[S_MGMTIDS].nids = 0;
	c->tunnels_file = take(&v[S_TUNNELSFILE]);
	c->visitor_grace_ms = v[S_GRACE].u;
	c->keepalive_ms = v[S_KEEPALIVE].u;
	c->dead_peer_ms = v[S_DEADPEER].u;
	c->handshake_timeout_ms = v[S_HANDSHAKE].u;
	c->stream_open_timeout_ms = v[S_OPEN].u;
	c->sni_peek_timeout_ms = v[S_SNIPEEK].u;
	c->recv_window = v[S_WINDOW].u;
	c->max_visitors_per_listener = v[S_MAXVIS].u;
out:
	for (size_t i = 0; i < S_NKEYS; i++)
		val_free(&v[i]);
	json_decref(root);
	return c;
}

struct config_client *config_client_parse(const char *name, const char *text, size_t len,
					  char err[CONFIG_ERRLEN])
{
	char scratch[CONFIG_ERRLEN];
	struct pctx p = { name ? name : "config", "", 0, err ? err : scratch };
	struct val v[C_NKEYS];
	struct config_client *c = NULL;
	memset(v, 0, sizeof(v));
	p.err[0] = '\0';

	json_t *root = parse_doc(&p, text, len, client_keys, C_NKEYS, v, server_keys, S_NKEYS,
				 "server");
	if (root == NULL)
		goto out;

	if (!v[C_CLIENTID].present) {
		fail(&p, NULL, 0, AT_NONE, false, "missing ClientIdentifier");
		goto out;
	}
	/* Server address: ServerAddr (later) or ServerHost +
	 * ServerTunnelControlPort (4b75a35), never both. */
	struct val *sa = &v[C_SERVERADDR], *sh = &v[C_SERVERHOST], *sp = &v[C_SERVERPORT];
	if (sa->present && (sh->present || sp->present)) {
		fail_key(&p, sa, AT_KEY,
			 "cannot be combined with %s (ServerAddr replaced ServerHost and ServerTunnelControlPort)",
			 sh->present ? sh->key : sp->key);
		goto out;
	}
	if (!sa->present) {
		if (sh->present && !sp->present) {
			fail_key(&p, sh, AT_KEY, "needs ServerTunnelControlPort");
			goto out;
		}
		if (sp->present && !sh->present) {
			fail_key(&p, sp, AT_KEY, "needs ServerHost");
			goto out;
		}
		if (!sh->present) {
			fail(&p, NULL, 0, AT_NONE, false,
			     "missing ServerAddr (or ServerHost and ServerTunnelControlPort)");
			goto out;
		}
	}
	if (check_tls_keys(&p, v, client_keys, C_USETLS, C_KEY, C_CERT, C_CAFILE, C_CAGLOB) != 0)
		goto out;

	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		fail(&p, NULL, 0, AT_NONE, false, "out of memory");
		goto out;
	}
	c->debug_log = v[C_DEBUG].b;
	c->client_id = take(&v[C_CLIENTID]);
	if (sa->present) {
		c->server_host = take(sa);
		c->server_port = sa->port;
	} else {
		c->server_host = take(sh);
		c->server_port = (uint16_t)sp->u;
	}
	c->use_tls = v[C_USETLS].b;
	c->ca_file = take(&v[C_CAFILE]);
	c->ca_glob = take(&v[C_CAGLOB]);
	c->tls_key_file = take(&v[C_KEY]);
	c->tls_cert_file = take(&v[C_CERT]);
	c->admin_socket = take(&v[C_ADMIN]);
	c->services = v[C_SERVICES].svc;
	c->n_services = v[C_SERVICES].nsvc;
	v[C_SERVICES].svc = NULL;
	v[C_SERVICES].nsvc = 0;
	c->retry_cap_ms = v[C_RETRY].u;
	c->keepalive_ms = v[C_KEEPALIVE].u;
	c->dead_peer_ms = v[C_DEADPEER].u;
	c->connect_timeout_ms = v[C_CONNECT].u;
	c->dial_timeout_ms = v[C_DIAL].u;
	c->recv_window = v[C_WINDOW].u;
out:
	for (size_t i = 0; i < C_NKEYS; i++)
		val_free(&v[i]);
	json_decref(root);
	return c;
}

/* Reads at most CONFIG_MAX_BYTES + 1 bytes; caller frees. */
static char *read_file(const char *path, size_t *len, char *err)
{
	char *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, CONFIG_ERRLEN, "%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		snprintf(err, CONFIG_ERRLEN, "%s: is a directory", path);
		goto fail;
	}
	size_t cap = 64 * 1024, n = 0;
	buf = malloc(cap);
	if (buf == NULL)
		goto oom;
	for (;;) {
		if (n == cap) {
			if (cap > CONFIG_MAX_BYTES) {
				snprintf(err, CONFIG_ERRLEN, "%s: larger than %u bytes", path,
					 CONFIG_MAX_BYTES);
				goto fail;
			}
			size_t ncap = cap * 2 > CONFIG_MAX_BYTES + 1 ? CONFIG_MAX_BYTES + 1 : cap * 2;
			char *nb = realloc(buf, ncap);
			if (nb == NULL)
				goto oom;
			buf = nb;
			cap = ncap;
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, CONFIG_ERRLEN, "%s: cannot read: %s", path, strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	*len = n;
	return buf;
oom:
	snprintf(err, CONFIG_ERRLEN, "%s: out of memory", path);
fail:
	free(buf);
	close(fd);
	return NULL;
}

struct config_server *config_server_load(const char *path, char err[CONFIG_ERRLEN])
{
	char scratch[CONFIG_ERRLEN];
	size_t len;
	char *text = read_file(path, &len, err ? err : scratch);
	if (text == NULL)
		return NULL;
	struct config_server *c = config_server_parse(path, text, len, err);
	free(text);
	return c;
}

struct config_client *config_client_load(const char *path, char err[CONFIG_ERRLEN])
{
	char scratch[CONFIG_ERRLEN];
	size_t len;
	char *text = read_file(path, &len, err ? err : scratch);
	if (text == NULL)
		return NULL;
	struct config_client *c = config_client_parse(path, text, len, err);
	free(text);
	return c;
}

void config_server_free(struct config_server *c)
{
	if (c == NULL)
		return;
	free(c->listen_address);
	free(c->mgmt_address);
	free(c->ca_file);
	free(c->ca_glob);
	free(c->tls_key_file);
	free(c->tls_cert_file);
	free(c->domain);
	for (size_t i = 0; i < c->n_mgmt_client_ids; i++)
		free(c->mgmt_client_ids[i]);
	free(c->mgmt_client_ids);
	free(c->tunnels_file);
	free(c);
}

void config_client_free(struct config_client *c)
{
	if (c == NULL)
		return;
	free(c->client_id);
	free(c->server_host);
	free(c->ca_file);
	free(c->ca_glob);
	free(c->tls_key_file);
	free(c->tls_cert_file);
	free(c->admin_socket);
	for (size_t i = 0; i < c->n_services; i++) {
		free(c->services[i].name);
		free(c->services[i].host);
	}
	free(c->services);
	free(c);
}

const struct config_service *config_client_service(const struct config_client *c, const char *name)
{
	if (c == NULL || name == NULL || c->n_services == 0)
		return NULL;
	struct config_service key = { .name = (char *)name };
	return bsearch(&key, c->services, c->n_services, sizeof(*c->services), cmp_service);
}

/* ------------------------------------------------------------------ */
/* Describe: the effective config, loadable again as it is. */

/* Adds key: value, tracking allocation failure in *ok. */
static void put(json_t *o, const char *k, json_t *v, bool *ok)
{
	if (v == NULL || json_object_set_new(o, k, v) != 0)
		*ok = false;
}

static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *secs(uint32_t ms)
{
	if (ms % 1000 == 0)
		return json_integer(ms / 1000);
	return json_real(ms / 1000.0);
}

/* "host:port", brackets around IPv6 literals. Caller frees. */
static char *join_hostport(const char *host, uint16_t port)
{
	char *s = NULL;
	bool v6 = host != NULL && strchr(host, ':') != NULL;
	if (asprintf(&s, v6 ? "[%s]:%u" : "%s:%u", host ? host : "", (unsigned)port) < 0)
		return NULL;
	return s;
}

static json_t *hostport(const char *host, uint16_t port)
{
	char *s = join_hostport(host, port);
	if (s == NULL)
		return NULL;
	json_t *j = json_string(s);
	free(s);
	return j;
}

static char *dump(json_t *o, bool ok)
{
	char *s = ok ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))
		     : NULL;
	json_decref(o);
	return s;
}

char *config_server_describe(const struct config_server *c)
{
	if (c == NULL)
		return NULL;
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	bool ok = true;
	put(o, "DebugLog", json_boolean(c->debug_log), &ok);
	if (c->single_port) {
		put(o, "ListenPort", json_integer(c->control_port), &ok);
	} else {
		put(o, "TunnelControlPort", json_integer(c->control_port), &ok);
		put(o, "ManagementPort", json_integer(c->mgmt_port), &ok);
	}
	put(o, "ListenAddress", str_or_null(c->listen_address), &ok);
	put(o, "ManagementAddress", str_or_null(c->mgmt_address), &ok);
	put(o, "UseTls", json_boolean(c->use_tls), &ok);
	put(o, "CaCertificateFile", str_or_null(c->ca_file), &ok);
	put(o, "CaCertificateFilesGlob", str_or_null(c->ca_glob), &ok);
	put(o, "ServerTlsKeyFile", str_or_null(c->tls_key_file), &ok);
	put(o, "ServerTlsCertificateFile", str_or_null(c->tls_cert_file), &ok);
	put(o, "Domain", str_or_null(c->domain), &ok);
	if (c->mgmt_client_ids != NULL) {
		json_t *a = json_array();
		for (size_t i = 0; a != NULL && i < c->n_mgmt_client_ids; i++)
			if (json_array_append_new(a, json_string(c->mgmt_client_ids[i])) != 0)
				ok = false;
		put(o, "ManagementClientIds", a, &ok);
	} else {
		put(o, "ManagementClientIds", json_null(), &ok);
	}
	put(o, "TunnelsFile", str_or_null(c->tunnels_file), &ok);
	put(o, "VisitorGraceSeconds", secs(c->visitor_grace_ms), &ok);
	put(o, "KeepAliveSeconds", secs(c->keepalive_ms), &ok);
	put(o, "DeadPeerSeconds", secs(c->dead_peer_ms), &ok);
	put(o, "HandshakeTimeoutSeconds", secs(c->handshake_timeout_ms), &ok);
	put(o, "StreamOpenTimeoutSeconds", secs(c->stream_open_timeout_ms), &ok);
	put(o, "SniPeekTimeoutSeconds", secs(c->sni_peek_timeout_ms), &ok);
	put(o, "StreamWindowBytes", json_integer(c->recv_window), &ok);
	put(o, "MaxVisitorsPerListener", json_integer(c->max_visitors_per_listener), &ok);
	return dump(o, ok);
}

char *config_client_describe(const struct config_client *c)
{
	if (c == NULL)
		return NULL;
	json_t *o = json_object();
	if (o == NULL)
		return NULL;
	bool ok = true;
	put(o, "DebugLog", json_boolean(c->debug_log), &ok);
	put(o, "ClientIdentifier", str_or_null(c->client_id), &ok);
	put(o, "ServerAddr", hostport(c->server_host, c->server_port), &ok);
	put(o, "UseTls", json_boolean(c->use_tls), &ok);
	put(o, "CaCertificateFile", str_or_null(c->ca_file), &ok);
	put(o, "CaCertificateFilesGlob", str_or_null(c->ca_glob), &ok);
	put(o, "ClientTlsKeyFile", str_or_null(c->tls_key_file), &ok);
	put(o, "ClientTlsCertificateFile", str_or_null(c->tls_cert_file), &ok);
	put(o, "AdminUnixSocket", str_or_null(c->admin_socket), &ok);
	json_t *m = json_object();
	for (size_t i = 0; m != NULL && i < c->n_services; i++)
		put(m, c->services[i].name, hostport(c->services[i].host, c->services[i].port), &ok);
	put(o, "ServiceToLocalAddrMap", m, &ok);
	put(o, "MaximumConnectionRetrySeconds", secs(c->retry_cap_ms), &ok);
	put(o, "KeepAliveSeconds", secs(c->keepalive_ms), &ok);
	put(o, "DeadPeerSeconds", secs(c->dead_peer_ms), &ok);
	put(o, "ConnectTimeoutSeconds", secs(c->connect_timeout_ms), &ok);
	put(o, "DialTimeoutSeconds", secs(c->dial_timeout_ms), &ok);
	put(o, "StreamWindowBytes", json_integer(c->recv_window), &ok);
	return dump(o, ok);
}
