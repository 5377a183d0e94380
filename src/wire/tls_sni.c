#include "wire/tls_sni.h"

#include <string.h>

#define REC_HDR_LEN 5
#define CT_HANDSHAKE 0x16
#define HS_CLIENT_HELLO 0x01
#define EXT_SERVER_NAME 0x0000
#define NAME_TYPE_HOST 0x00

/*
 * Forward-only reader over the handshake byte stream carried by a run of
 * records. "Logical" offsets count handshake bytes (record headers skipped);
 * "physical" offsets index buf. Reading past the bytes available yields
 * SNI_NEED_MORE with `need` set; a bad continuation record header yields
 * SNI_MALFORMED, records past SNI_SPAN_MAX SNI_TOO_LARGE.
 */
struct rd {
	const uint8_t *buf;
	size_t len;
	size_t phys;	/* physical offset of the next handshake byte */
	size_t rec_end; /* physical end of the current record's body */
	size_t log;	/* logical offset of the next handshake byte */
	size_t need;	/* on SNI_NEED_MORE: buffer length to wait for */
};

/*
 * Checks the record header at r->rec_end (the current record is used up)
 * and enters that record. Bytes are judged as soon as they are there; the
 * first record's type and version give SNI_NOT_TLS, later ones SNI_MALFORMED.
 */
static int rd_next_record(struct rd *r)
{
	size_t at = r->rec_end;
	size_t have = r->len - at < REC_HDR_LEN ? r->len - at : REC_HDR_LEN;
	const uint8_t *h = r->buf + at;
	int bad = at == 0 ? SNI_NOT_TLS : SNI_MALFORMED;

	/* Records are never empty: one more cannot end within the cap. */
	if (at + REC_HDR_LEN + 1 > SNI_SPAN_MAX)
		return SNI_TOO_LARGE;
	if (have >= 1 && h[0] != CT_HANDSHAKE)
		return bad;
	if (have >= 2 && h[1] != 0x03)
		return bad;
	if (have >= 3 && h[2] > 0x04)
		return bad;
	if (have < REC_HDR_LEN) {
		r->need = at + REC_HDR_LEN;
		return SNI_NEED_MORE;
	}
	size_t rl = (size_t)h[3] << 8 | h[4];
	if (rl == 0 || rl > SNI_RECORD_MAX)
		return SNI_MALFORMED;
	if (at + REC_HDR_LEN + rl > SNI_SPAN_MAX)
		return SNI_TOO_LARGE;
	r->phys = at + REC_HDR_LEN;
	r->rec_end = r->phys + rl;
	return SNI_OK;
}

/* Makes at least one byte of the current record readable; returns how many are. */
static int rd_avail(struct rd *r, size_t *avail)
{
	if (r->phys == r->rec_end) {
		int rc = rd_next_record(r);
		if (rc != SNI_OK)
			return rc;
	}
	size_t end = r->rec_end < r->len ? r->rec_end : r->len;
	if (r->phys >= end) {
		r->need = r->rec_end;
		return SNI_NEED_MORE;
	}
	*avail = end - r->phys;
	return SNI_OK;
}

/* Reads n bytes into dst (or skips them when dst is NULL). */
static int rd_take(struct rd *r, uint8_t *dst, size_t n)
{
	while (n > 0) {
		size_t avail;
		int rc = rd_avail(r, &avail);
		if (rc != SNI_OK)
			return rc;
		size_t k = n < avail ? n : avail;
		if (dst != NULL) {
			memcpy(dst, r->buf + r->phys, k);
			dst += k;
		}
		r->phys += k;
		r->log += k;
		n -= k;
	}
	return SNI_OK;
}

/* Big-endian unsigned integer of n (1..3) bytes. */
static int rd_uint(struct rd *r, size_t n, size_t *v)
{
	uint8_t b[3];
	int rc = rd_take(r, b, n);
	if (rc != SNI_OK)
		return rc;
	*v = 0;
	for (size_t i = 0; i < n; i++)
		*v = *v << 8 | b[i];
	return SNI_OK;
}

#define TRY(x)                      \
	do {                        \
		int rc_ = (x);      \
		if (rc_ != SNI_OK)  \
			return rc_; \
	} while (0)

/* Fails unless n more bytes fit before the logical offset `end`. */
#define FITS(r, n, end)                       \
	do {                                  \
		if ((r)->log + (n) > (end))   \
			return SNI_MALFORMED; \
	} while (0)

bool sni_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > SNI_NAME_MAX)
		return false;
	size_t label = 0;      /* length of the current label so far */
	size_t last_start = 0; /* where the last label starts */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '.') {
			if (label == 0) /* leading dot, "..", or (below) trailing dot */
				return false;
			label = 0;
			last_start = i + 1;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
		if (++label > 63)
			return false;
	}
	if (label == 0) /* trailing dot */
		return false;

	/* IP literal: the last label is a number (decimal, or 0x-hex). */
	const char *l = name + last_start;
	size_t ln = len - last_start;
	size_t i = 0;
	bool hex = ln >= 2 && l[0] == '0' && (l[1] == 'x' || l[1] == 'X');
	if (hex)
		i = 2;
	for (; i < ln; i++) {
		unsigned char c = (unsigned char)l[i];
		bool digit = c >= '0' && c <= '9';
		bool xdigit = digit || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
		if (!(hex ? xdigit : digit))
			return true;
	}
	return false;
}

/*
 * The server_name extension body, logical [r->log, end). A host_name entry
 * is copied (up to SNI_NAME_MAX + 1 bytes, enough to tell it is too long)
 * into name[], its full length into *name_len, and *seen set.
 */
static int parse_server_name(struct rd *r, size_t end, char *name, size_t *name_len, bool *seen)
{
	size_t list_len;
	FITS(r, 2, end);
	TRY(rd_uint(r, 2, &list_len));
	if (list_len == 0 || r->log + list_len != end)
		return SNI_MALFORMED;
	while (r->log < end) {
		size_t type, n;
		FITS(r, 3, end);
		TRY(rd_uint(r, 1, &type));
		TRY(rd_uint(r, 2, &n));
		FITS(r, n, end);
		if (type != NAME_TYPE_HOST) {
			TRY(rd_take(r, NULL, n));
			continue;
		}
		if (*seen)
			return SNI_MALFORMED;
		*seen = true;
		*name_len = n;
		size_t keep = n < SNI_NAME_MAX + 1 ? n : SNI_NAME_MAX + 1;
		TRY(rd_take(r, (uint8_t *)name, keep));
		TRY(rd_take(r, NULL, n - keep));
	}
	return SNI_OK;
}

/* The ClientHello; on success *seen says whether a host_name was found. */
static int parse_hello(struct rd *r, char *name, size_t *name_len, bool *seen)
{
	size_t type, body, v;

	TRY(rd_uint(r, 1, &type));
	if (type != HS_CLIENT_HELLO)
		return SNI_MALFORMED;
	TRY(rd_uint(r, 3, &body));
	if (body > SNI_HELLO_MAX)
		return SNI_TOO_LARGE;
	const size_t end = r->log + body;

	FITS(r, 2 + 32 + 1, end);
	TRY(rd_uint(r, 2, &v)); /* legacy_version */
	if (v >> 8 != 0x03)
		return SNI_MALFORMED;
	TRY(rd_take(r, NULL, 32)); /* random */
	TRY(rd_uint(r, 1, &v));	   /* session id */
	if (v > 32)
		return SNI_MALFORMED;
	FITS(r, v, end);
	TRY(rd_take(r, NULL, v));

	FITS(r, 2, end);
	TRY(rd_uint(r, 2, &v)); /* cipher suites */
	if (v == 0 || v % 2 != 0)
		return SNI_MALFORMED;
	FITS(r, v, end);
	TRY(rd_take(r, NULL, v));

	FITS(r, 1, end);
	TRY(rd_uint(r, 1, &v)); /* compression methods */
	if (v == 0)
		return SNI_MALFORMED;
	FITS(r, v, end);
	TRY(rd_take(r, NULL, v));

	if (r->log == end) /* no extensions at all */
		return SNI_OK;
	FITS(r, 2, end);
	TRY(rd_uint(r, 2, &v));
	if (r->log + v != end)
		return SNI_MALFORMED;
	while (r->log < end) {
		size_t et, el;
		FITS(r, 4, end);
		TRY(rd_uint(r, 2, &et));
		TRY(rd_uint(r, 2, &el));
		FITS(r, el, end);
		if (et != EXT_SERVER_NAME) {
			TRY(rd_take(r, NULL, el));
			continue;
		}
		if (*seen) /* a second server_name extension */
			return SNI_MALFORMED;
		bool host = false;
		TRY(parse_server_name(r, r->log + el, name, name_len, &host));
		*seen = true;
		if (!host)
			*name_len = SIZE_MAX; /* extension without a host_name entry */
	}
	return SNI_OK;
}

int sni_parse(const uint8_t *buf, size_t len, struct sni_info *out)
{
	struct rd r = { buf, len, 0, 0, 0, 0 };
	char name[SNI_NAME_MAX + 1];
	size_t name_len = 0;
	bool seen = false;

	out->span = 0;
	out->name_len = 0;
	out->name[0] = '\0';

	int rc = parse_hello(&r, name, &name_len, &seen);
	if (rc == SNI_NEED_MORE) {
		out->span = r.need;
		return rc;
	}
	if (rc != SNI_OK)
		return rc;
	if (r.phys != r.rec_end) /* more handshake bytes after the hello in its record */
		return SNI_MALFORMED;
	out->span = r.rec_end;
	if (!seen || name_len == SIZE_MAX)
		return SNI_NO_SNI;
	if (!sni_name_valid(name, name_len))
		return SNI_BAD_NAME;
	for (size_t i = 0; i < name_len; i++) {
		char c = name[i];
		out->name[i] = c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
	}
	out->name[name_len] = '\0';
	out->name_len = name_len;
	return SNI_OK;
}

const char *sni_result_str(int rc)
{
	switch (rc) {
	case SNI_OK:
		return "ok";
	case SNI_NEED_MORE:
		return "need more";
	case SNI_NO_SNI:
		return "no server name";
	case SNI_NOT_TLS:
		return "not TLS";
	case SNI_MALFORMED:
		return "malformed ClientHello";
	case SNI_TOO_LARGE:
		return "ClientHello too large";
	case SNI_BAD_NAME:
		return "invalid server name";
	default:
		return "unknown";
	}
}
