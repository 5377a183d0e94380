/*
 * Fuzz target for wire/control_msg.
 *
 * The input is used twice:
 *   1. as a control-stream byte sequence: messages are decoded one after the
 *      other, each re-encoded and decoded again to the same action and name;
 *   2. as a raw service name (up to CONTROL_MSG_SERVICE_MAX bytes): the
 *      encoding must be one line of pure, HTML-safe JSON that our decoder
 *      reads back, identical for valid UTF-8 input.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/control_msg.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

/* Independent UTF-8 validity check (RFC 3629): no overlongs, surrogates, > U+10FFFF. */
static bool utf8_valid(const uint8_t *s, size_t n)
{
	size_t i = 0;
	while (i < n) {
		uint8_t c = s[i];
		size_t len;
		uint32_t cp;
		if (c < 0x80) {
			i++;
			continue;
		} else if ((c & 0xe0) == 0xc0) {
			len = 2;
			cp = c & 0x1f;
		} else if ((c & 0xf0) == 0xe0) {
			len = 3;
			cp = c & 0x0f;
		} else if ((c & 0xf8) == 0xf0) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static void roundtrip(const struct control_msg *m)
{
	char out[CONTROL_MSG_ENCODED_MAX];
	ssize_t n = control_msg_encode(out, sizeof(out), m->action, m->service, m->service_len);
	CHECK(n > 0 && out[n - 1] == '\n' && memchr(out, '\n', (size_t)n - 1) == NULL);
	struct control_msg back;
	size_t consumed;
	CHECK(control_msg_decode(out, (size_t)n, &back, &consumed) == CONTROL_MSG_OK);
	CHECK(consumed == (size_t)n);
	CHECK(back.action == m->action && back.service_len == m->service_len);
	CHECK(memcmp(back.service, m->service, m->service_len + 1) == 0);
}

static void fuzz_stream(const char *buf, size_t size)
{
	size_t pos = 0;
	for (int i = 0; i < 64 && pos <= size; i++) {
		struct control_msg m;
		size_t consumed = 0;
		int rc = control_msg_decode(buf + pos, size - pos, &m, &consumed);
		CHECK(consumed <= size - pos);
		if (rc == CONTROL_MSG_NEED_MORE) {
			CHECK(size - pos - consumed < CONTROL_MSG_LINE_MAX);
			return;
		}
		if (rc != CONTROL_MSG_OK) {
			CHECK(rc == CONTROL_MSG_E_TOO_LONG || rc == CONTROL_MSG_E_JSON ||
			      rc == CONTROL_MSG_E_FIELD || rc == CONTROL_MSG_E_SERVICE);
			CHECK(consumed == 0);
			return;
		}
		CHECK(consumed > 0 && buf[pos + consumed - 1] == '\n');
		CHECK(m.service_len <= CONTROL_MSG_SERVICE_MAX);
		CHECK(m.service[m.service_len] == '\0');
		CHECK(memchr(m.service, '\0', m.service_len) == NULL);
		CHECK(utf8_valid((const uint8_t *)m.service, m.service_len));
		roundtrip(&m);
		/* Without its last byte ('\n') the same message is incomplete. */
		struct control_msg m2;
		size_t c2;
		CHECK(control_msg_decode(buf + pos, consumed - 1, &m2, &c2) == CONTROL_MSG_NEED_MORE);
		pos += consumed;
	}
}

static void fuzz_encode(const uint8_t *data, size_t size)
{
	if (size > CONTROL_MSG_SERVICE_MAX)
		size = CONTROL_MSG_SERVICE_MAX;
	int64_t action = size ? (int64_t)(int8_t)data[0] : 0;
	char out[CONTROL_MSG_ENCODED_MAX];
	ssize_t n = control_msg_encode(out, sizeof(out), action, (const char *)data, size);
	CHECK(n > 0 && (size_t)n < sizeof(out) && out[n] == '\0');
	for (ssize_t i = 0; i < n - 1; i++) {
		unsigned char c = (unsigned char)out[i];
		CHECK(c >= 0x20 && c != '<' && c != '>' && c != '&');
	}
	CHECK(out[n - 1] == '\n');

	/* One byte less of room fails cleanly. */
	char small[CONTROL_MSG_ENCODED_MAX];
	CHECK(control_msg_encode(small, (size_t)n, action, (const char *)data, size) ==
	      CONTROL_MSG_E_BUF);

	struct control_msg m;
	size_t consumed;
	int rc = control_msg_decode(out, (size_t)n, &m, &consumed);
	if (memchr(data, '\0', size) != NULL) {
		CHECK(rc == CONTROL_MSG_E_FIELD);
		return;
	}
	if (rc == CONTROL_MSG_E_SERVICE) { /* U+FFFD replacements grew it past the cap */
		CHECK(!utf8_valid(data, size));
		return;
	}
	CHECK(rc == CONTROL_MSG_OK && consumed == (size_t)n && m.action == action);
	CHECK(utf8_valid((const uint8_t *)m.service, m.service_len));
	if (utf8_valid(data, size))
		CHECK(m.service_len == size && memcmp(m.service, data, size) == 0);
	else
		CHECK(m.service_len > 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_stream((const char *)data, size);
	fuzz_encode(data, size);
	return 0;
}
