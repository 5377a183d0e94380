#include "wire/control_msg.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/*
 * Length of the valid UTF-8 sequence at s[0..n), or 0 if it is invalid or
 * truncated (Go's utf8.DecodeRune then reports RuneError with size 1).
 * *cp gets the code point when valid.
 */
static size_t utf8_seq(const unsigned char *s, size_t n, uint32_t *cp)
{
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80, hi = 0xbf; /* range of the second byte */

	if (c < 0x80) {
		*cp = c;
		return 1;
	} else if (c >= 0xc2 && c <= 0xdf) {
		len = 2;
		*cp = c & 0x1f;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3;
		*cp = c & 0x0f;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4;
		*cp = c & 0x07;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	*cp = *cp << 6 | (s[1] & 0x3f);
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
		*cp = *cp << 6 | (s[i] & 0x3f);
	}
	return len;
}

struct out {
	char *p;
	size_t cap, w;
	bool overflow;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n >= o->cap - o->w) { /* keep room for the NUL */
		o->overflow = true;
		return;
	}
	memcpy(o->p + o->w, s, n);
	o->w += n;
}

static void put_str(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* Go encodeState.string with escapeHTML = true. */
static void put_json_string(struct out *o, const unsigned char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	put(o, "\"", 1);
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		if (c < 0x80) {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 0xf] };
			switch (c) {
			case '"':
				put(o, "\\\"", 2);
				break;
			case '\\':
				put(o, "\\\\", 2);
				break;
			case '\n':
				put(o, "\\n", 2);
				break;
			case '\r':
				put(o, "\\r", 2);
				break;
			case '\t':
				put(o, "\\t", 2);
				break;
			default:
				if (c < 0x20 || c == '<' || c == '>' || c == '&')
					put(o, esc, 6);
				else
					put(o, (const char *)&c, 1);
			}
			i++;
			continue;
		}
		uint32_t cp;
		size_t len = utf8_seq(s + i, n - i, &cp);
		if (len == 0) {
			put_str(o, "\\ufffd");
			i++;
		} else if (cp == 0x2028 || cp == 0x2029) {
			put_str(o, cp == 0x2028 ? "\\u2028" : "\\u2029");
			i += len;
		} else {
			put(o, (const char *)s + i, len);
			i += len;
		}
	}
	put(o, "\"", 1);
}

ssize_t control_msg_encode(char *out, size_t cap, int64_t action, const char *service,
			   size_t service_len)
{
	char num[24];
	struct out o = { out, cap, 0, cap == 0 };

	if (service_len > CONTROL_MSG_SERVICE_MAX)
		return CONTROL_MSG_E_SERVICE;
	snprintf(num, sizeof(num), "%lld", (long long)action);
	put_str(&o, "{\"action\":");
	put_str(&o, num);
	put_str(&o, ",\"service\":");
	put_json_string(&o, (const unsigned char *)service, service_len);
	put_str(&o, "}\n");
	if (o.overflow)
		return CONTROL_MSG_E_BUF;
	out[o.w] = '\0';
	return (ssize_t)o.w;
}

static bool blank_line(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r')
			return false;
	return true;
}

/* Fills msg from a parsed object; Go's rules for int and string fields. */
static int take_fields(json_t *obj, struct control_msg *msg)
{
	const char *key;
	json_t *v;

	json_object_foreach(obj, key, v)
	{
		if (strcasecmp(key, "action") == 0) {
			if (json_is_null(v))
				continue;
			if (!json_is_integer(v))
				return CONTROL_MSG_E_FIELD;
			msg->action = (int64_t)json_integer_value(v);
		} else if (strcasecmp(key, "service") == 0) {
			if (json_is_null(v))
				continue;
			if (!json_is_string(v))
				return CONTROL_MSG_E_FIELD;
			size_t n = json_string_length(v);
			const char *s = json_string_value(v);
			if (memchr(s, '\0', n) != NULL)
				return CONTROL_MSG_E_FIELD;
			if (n > CONTROL_MSG_SERVICE_MAX)
				return CONTROL_MSG_E_SERVICE;
			memcpy(msg->service, s, n);
			msg->service[n] = '\0';
			msg->service_len = n;
		}
	}
	return CONTROL_MSG_OK;
}

int control_msg_decode(const char *buf, size_t len, struct control_msg *msg, size_t *consumed)
{
	size_t pos = 0;

	msg->action = 0;
	msg->service_len = 0;
	msg->service[0] = '\0';
	*consumed = 0;

	for (;;) {
		size_t avail = len - pos;
		size_t scan = avail < CONTROL_MSG_LINE_MAX ? avail : CONTROL_MSG_LINE_MAX;
		const char *nl = scan ? memchr(buf + pos, '\n', scan) : NULL;
		if (nl == NULL) {
			if (avail >= CONTROL_MSG_LINE_MAX)
				return CONTROL_MSG_E_TOO_LONG;
			*consumed = pos;
			return CONTROL_MSG_NEED_MORE;
		}
		size_t n = (size_t)(nl - (buf + pos));
		if (blank_line(buf + pos, n)) {
			pos += n + 1;
			continue;
		}

		json_error_t err;
		json_t *root = json_loadb(buf + pos, n, JSON_ALLOW_NUL, &err);
		if (root == NULL)
			return CONTROL_MSG_E_JSON;
		int rc = json_is_object(root) ? take_fields(root, msg) : CONTROL_MSG_E_JSON;
		json_decref(root);
		if (rc != CONTROL_MSG_OK) {
			msg->action = 0;
			msg->service_len = 0;
			msg->service[0] = '\0';
			return rc;
		}
		*consumed = pos + n + 1;
		return CONTROL_MSG_OK;
	}
}
