/*
 * config_json: JSON text with positions, and config messages (config_json.h).
 *
 * The message builder is a bounded string builder over the caller's
 * buffer; the locator rescans the text each time it is asked, which happens
 * only on the error path.
 */
#include "tunnel/config_json.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/utf8.h"

#define SHOW_MAX CONFIG_JSON_SHOW_MAX
#define SHOW_BUF CONFIG_JSON_SHOW_BUF

/* ------------------------------------------------------------------ */
/* Message building: a bounded string builder over the caller's buffer. */

struct sb {
	char *buf;
	size_t cap, len; /* len < cap whenever cap > 0 */
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

__attribute__((format(printf, 2, 0))) static void sb_vprintf(struct sb *sb, const char *fmt, va_list ap)
{
	if (sb->cap == 0)
		return;
	size_t room = sb->cap - sb->len;
	int n = vsnprintf(sb->buf + sb->len, room, fmt, ap);
	if (n < 0)
		return;
	sb->len += (size_t)n < room ? (size_t)n : room - 1;
}

__attribute__((format(printf, 2, 3))) static void sb_printf(struct sb *sb, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	sb_vprintf(sb, fmt, ap);
	va_end(ap);
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
	size_t cut = utf8_boundary((const unsigned char *)s, SHOW_MAX - 3);
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
			case '"':
			case '\\':
			case '/':
				b[0] = (unsigned char)t[i + 1];
				break;
			case 'b':
				b[0] = '\b';
				break;
			case 'f':
				b[0] = '\f';
				break;
			case 'n':
				b[0] = '\n';
				break;
			case 'r':
				b[0] = '\r';
				break;
			case 't':
				b[0] = '\t';
				break;
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
				i -= 2; /* the common step below adds 2 */
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

void config_json_line_col(const char *t, size_t off, int *line, int *col)
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

/* Skips the value at text[i] and the ',' after it (a member or element
 * that is not the last); returns the index of the next one, or SIZE_MAX. */
static size_t skip_past_comma(const char *text, size_t len, size_t i)
{
	i = skip_value(text, len, i);
	if (i == SIZE_MAX)
		return SIZE_MAX;
	i = skip_ws(text, len, i);
	if (i >= len || text[i] != ',')
		return SIZE_MAX;
	return skip_ws(text, len, i + 1);
}

/* One key step: text[i] should open an object holding `key`. Returns the
 * index of the key's value and sets [*kstart, *kend) to the key's token,
 * or SIZE_MAX. */
static size_t step_key(const char *text, size_t len, size_t i, const char *key, size_t *kstart,
		       size_t *kend)
{
	if (i >= len || text[i] != '{')
		return SIZE_MAX;
	i = skip_ws(text, len, i + 1);
	for (;;) {
		if (i >= len || text[i] != '"')
			return SIZE_MAX;
		size_t ke = 0;
		int m = key_equals(text, len, i, key, &ke);
		if (m < 0)
			return SIZE_MAX;
		size_t ks = i;
		i = skip_ws(text, len, ke);
		if (i >= len || text[i] != ':')
			return SIZE_MAX;
		i = skip_ws(text, len, i + 1);
		if (m) {
			*kstart = ks;
			*kend = ke;
			return i;
		}
		i = skip_past_comma(text, len, i);
		if (i == SIZE_MAX)
			return SIZE_MAX;
	}
}

/* One index step: text[i] should open an array with an element `index`.
 * Returns the element's index in text, or SIZE_MAX. */
static size_t step_index(const char *text, size_t len, size_t i, size_t index)
{
	if (i >= len || text[i] != '[')
		return SIZE_MAX;
	i = skip_ws(text, len, i + 1);
	for (size_t k = 0; k < index && i != SIZE_MAX; k++)
		i = skip_past_comma(text, len, i);
	if (i == SIZE_MAX)
		return SIZE_MAX;
	if (i >= len || text[i] == ']')
		return SIZE_MAX;
	return i;
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
		if (path[d].key != NULL)
			i = step_key(text, len, i, path[d].key, &kstart, &kend);
		else
			i = step_index(text, len, i, path[d].index);
		if (i == SIZE_MAX)
			return -1;
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
	config_json_line_col(text, pos->off, &pos->line, &pos->col);
	return 0;
}

/* ------------------------------------------------------------------ */
/* Messages. */

int config_json_fail(const struct config_json_doc *d, const struct config_path *path, size_t depth,
		     enum config_json_at at, bool show_path, const char *fmt, ...)
{
	struct sb sb = { d->err, d->errlen, 0 };
	d->err[0] = '\0';
	sb_putesc(&sb, d->name, strlen(d->name), false);
	struct config_pos pos;
	if (at != CONFIG_JSON_AT_NONE &&
	    config_json_locate(d->text, d->len, path, depth, at == CONFIG_JSON_AT_KEY, &pos) == 0)
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

const char *config_json_show(const struct config_json_doc *d, const struct config_path *path,
			     size_t depth, const json_t *v, char out[SHOW_BUF])
{
	struct sb sb = { out, SHOW_BUF, 0 };
	out[0] = '\0';
	if (json_is_object(v))
		return "an object";
	if (json_is_array(v))
		return "an array";
	struct config_pos pos;
	if (config_json_locate(d->text, d->len, path, depth, false, &pos) == 0) {
		sb_putshort(&sb, d->text + pos.off, pos.len, false);
		return out;
	}
	char *j = json_dumps(v, JSON_ENCODE_ANY);
	if (j != NULL) {
		sb_putshort(&sb, j, strlen(j), false);
		free(j);
	}
	return out;
}

const char *config_json_quote(const char *s, size_t n, char out[SHOW_BUF])
{
	struct sb sb = { out, SHOW_BUF, 0 };
	out[0] = '\0';
	sb_putshort(&sb, s, n, true);
	return out;
}

/* ------------------------------------------------------------------ */
/* Loading. */

/* The opening quote of the key whose closing quote is text[end - 1]:
 * inside a string an unescaped quote can only be the opening one. */
static size_t key_start(const char *t, size_t end)
{
	for (size_t j = end - 1; j-- > 0;) {
		size_t bs = 0;
		while (bs < j && t[j - 1 - bs] == '\\')
			bs++;
		if (t[j] == '"' && bs % 2 == 0)
			return j;
	}
	return SIZE_MAX;
}

/* The message for a jansson error: "name:line:col: text", with a
 * duplicate key shown as `duplicate key "k"` at the key's first character
 * (jansson points at its last, our other key errors at the first). */
static void syntax_error(const struct config_json_doc *d, const json_error_t *je)
{
	struct sb sb = { d->err, d->errlen, 0 };
	const char *near = strstr(je->text, " near ");
	bool dup = json_error_code(je) == json_error_duplicate_key && near != NULL;
	int line = je->line, col = je->column > 0 ? je->column : 1;
	size_t end = je->position > 0 ? (size_t)je->position : 0;
	if (dup && end >= 2 && end <= d->len && d->text[end - 1] == '"') {
		size_t j = key_start(d->text, end);
		if (j != SIZE_MAX)
			config_json_line_col(d->text, j, &line, &col);
	}
	sb_putesc(&sb, d->name, strlen(d->name), false);
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
		sb_putesc(&sb, je->text, strnlen(je->text, sizeof(je->text)), false);
	}
	sb_trim_utf8(&sb);
}

/* Checks before jansson sees the text: size, BOM, empty, NUL. Sets d->text
 * and d->len; 0 or -1 with d->err set. */
static int precheck(struct config_json_doc *d, const char *text, size_t len, size_t cap)
{
	if (text == NULL)
		len = 0;
	if (len > cap)
		return config_json_fail(d, NULL, 0, CONFIG_JSON_AT_NONE, false, "larger than %zu bytes",
					cap);
	if (len >= 3 && memcmp(text, "\xEF\xBB\xBF", 3) == 0) {
		text += 3;
		len -= 3;
	}
	d->text = text != NULL ? text : "";
	d->len = len;
	if (skip_ws(d->text, len, 0) == len)
		return config_json_fail(d, NULL, 0, CONFIG_JSON_AT_NONE, false,
					"empty file, expected a JSON object");
	const char *nul = len ? memchr(d->text, '\0', len) : NULL;
	if (nul != NULL) {
		int line, col;
		config_json_line_col(d->text, (size_t)(nul - d->text), &line, &col);
		struct sb sb = { d->err, d->errlen, 0 };
		sb_putesc(&sb, d->name, strlen(d->name), false);
		sb_printf(&sb, ":%d:%d: NUL byte in the file", line, col);
		return -1;
	}
	return 0;
}

json_t *config_json_load(struct config_json_doc *d, const char *text, size_t len, size_t cap)
{
	d->err[0] = '\0';
	d->text = "";
	d->len = 0;
	if (precheck(d, text, len, cap) != 0)
		return NULL;
	json_error_t je;
	json_t *root = json_loadb(d->text, d->len, JSON_REJECT_DUPLICATES, &je);
	if (root == NULL) {
		syntax_error(d, &je);
		return NULL;
	}
	if (!json_is_object(root)) {
		char g[SHOW_BUF];
		config_json_fail(d, NULL, 0, CONFIG_JSON_AT_VALUE, false, "expected a JSON object, got %s",
				 config_json_show(d, NULL, 0, root, g));
		json_decref(root);
		return NULL;
	}
	return root;
}
