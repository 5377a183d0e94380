#include "wire/handshake.h"

#include <stdio.h>
#include <string.h>

#include "base/sock.h"

#ifndef THRESHOLD_VERSION
#define THRESHOLD_VERSION "0.0.0"
#endif

const char *handshake_result_str(int rc)
{
	switch (rc) {
	case HANDSHAKE_OK:
		return "ok";
	case HANDSHAKE_NEED_MORE:
		return "need more";
	case HANDSHAKE_E_METHOD:
		return "not a CONNECT request";
	case HANDSHAKE_E_ID_DIFFER:
		return "X-Threshold-ClientId and X-Threshold-Identifier differ";
	case HANDSHAKE_E_ID:
		return "missing or invalid client id header";
	case HANDSHAKE_E_HEAD:
		return "malformed answer head";
	case HANDSHAKE_E_REFUSED:
		return "not 200 Connected to Tunnel";
	case HANDSHAKE_E_MISMATCH:
		return "unexpected handshake bytes";
	case HANDSHAKE_E_TOO_LONG:
		return "preamble too long";
	case HANDSHAKE_E_PREAMBLE:
		return "bad preamble";
	}
	return "unknown result";
}

/* ---- features ---- */

/* Wire order of the list, one entry per enum handshake_feature bit. */
static const struct {
	unsigned bit;
	const char *name;
} feature_names[] = {
	{ HANDSHAKE_FEAT_SERVER_OPEN, "server-open" },
	{ HANDSHAKE_FEAT_HALF_CLOSE, "half-close" },
	{ HANDSHAKE_FEAT_PROXY_V2, "proxy-v2" },
	{ HANDSHAKE_FEAT_DEFERRED_ACK, "deferred-ack" },
};
#define N_FEATURES (sizeof(feature_names) / sizeof(feature_names[0]))

const char *handshake_feature_name(unsigned f)
{
	for (size_t i = 0; i < N_FEATURES; i++)
		if (feature_names[i].bit == f)
			return feature_names[i].name;
	return NULL;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

/* p[0..n) equals the lowercase token tok, ASCII case-insensitively. */
static bool token_is(const char *p, size_t n, const char *tok)
{
	if (n != strlen(tok))
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = p[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != tok[i])
			return false;
	}
	return true;
}

unsigned handshake_features_parse(const char *p, size_t n)
{
	unsigned f = 0;
	if (p == NULL)
		return 0;
	for (size_t i = 0; i <= n; i++) { /* i: past the comma (or past the end) */
		size_t a = i;
		while (i < n && p[i] != ',')
			i++;
		size_t e = i;
		while (a < e && is_ows(p[a]))
			a++;
		while (e > a && is_ows(p[e - 1]))
			e--;
		for (size_t k = 0; k < N_FEATURES; k++)
			if (token_is(p + a, e - a, feature_names[k].name))
				f |= feature_names[k].bit;
	}
	return f;
}

ssize_t handshake_features_format(char *buf, size_t cap, unsigned features)
{
	size_t len = 0;
	if (cap == 0)
		return -1;
	buf[0] = '\0';
	for (size_t i = 0; i < N_FEATURES; i++) {
		if (!(features & feature_names[i].bit))
			continue;
		int w = snprintf(buf + len, cap - len, "%s%s", len ? ", " : "", feature_names[i].name);
		if (w < 0 || (size_t)w >= cap - len)
			return -1;
		len += (size_t)w;
	}
	return (ssize_t)len;
}

unsigned handshake_features_grant(unsigned asked, unsigned supported)
{
	unsigned g = asked & supported & HANDSHAKE_FEATURES_KNOWN;
	if (!(g & HANDSHAKE_FEAT_SERVER_OPEN))
		g &= ~(unsigned)HANDSHAKE_FEAT_DEFERRED_ACK;
	return g;
}

/* ---- the CONNECT request ---- */

/* Header value safety: no control bytes, no DEL, not empty, no space at
 * either end (a server would trim it). */
static bool header_value_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

static bool host_ok(const char *host)
{
	if (host[0] == '\0')
		return false;
	for (const char *h = host; *h; h++)
		if ((unsigned char)*h <= 0x20 || (unsigned char)*h >= 0x7f)
			return false;
	return true;
}

ssize_t handshake_request_build(char *buf, size_t cap, const char *host, uint16_t port,
				const char *client_id, unsigned features)
{
	char hostport[SOCK_HOSTLEN + 16];
	char feat[HANDSHAKE_FEATURES_BUF];
	if (host == NULL || client_id == NULL || !header_value_ok(client_id) || !host_ok(host))
		return -1;
	int hl = sock_join_hostport(host, port, hostport, sizeof(hostport));
	if (hl < 0 || (size_t)hl >= sizeof(hostport))
		return -1;
	ssize_t fl = handshake_features_format(feat, sizeof(feat), features);
	if (fl < 0)
		return -1;
	int n = snprintf(buf, cap,
			 "CONNECT /_controlPath/ HTTP/1.1\r\n"
			 "Host: %s\r\n"
			 "User-Agent: threshold/%s\r\n"
			 "X-Threshold-Identifier: %s\r\n"
			 "X-Threshold-ClientId: %s\r\n"
			 "%s%s%s"
			 "\r\n",
			 hostport, THRESHOLD_VERSION, client_id, client_id, fl ? "X-Threshold-Features: " : "",
			 feat, fl ? "\r\n" : "");
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

static bool id_ok(const struct http_span *sp)
{
	if (sp->len == 0 || sp->len > HANDSHAKE_ID_MAX)
		return false;
	for (size_t i = 0; i < sp->len; i++) {
		unsigned char ch = (unsigned char)sp->p[i];
		if (ch < 0x21 || ch == 0x7f)
			return false;
	}
	return true;
}

int handshake_request_parse(const struct http_request *req, struct handshake_request *out)
{
	memset(out, 0, sizeof(*out));
	if (!http_span_eq(&req->method, "CONNECT"))
		return HANDSHAKE_E_METHOD;
	const struct http_span *a = http_header_get(req->headers, req->n_headers, "X-Threshold-ClientId");
	const struct http_span *b = http_header_get(req->headers, req->n_headers, "X-Threshold-Identifier");
	const struct http_span *id = a ? a : b;
	if (a && b && (a->len != b->len || (a->len && memcmp(a->p, b->p, a->len) != 0)))
		return HANDSHAKE_E_ID_DIFFER;
	if (id == NULL || !id_ok(id))
		return HANDSHAKE_E_ID;
	const struct http_span *fs = http_header_get(req->headers, req->n_headers, "X-Threshold-Features");
	out->id = *id;
	out->features = fs ? handshake_features_parse(fs->p, fs->len) : 0;
	return HANDSHAKE_OK;
}

/* ---- the 200 answer ---- */

ssize_t handshake_answer_build(char *buf, size_t cap, unsigned granted)
{
	char feat[HANDSHAKE_FEATURES_BUF];
	ssize_t fl = handshake_features_format(feat, sizeof(feat), granted);
	int n;
	if (fl < 0)
		return -1;
	if (fl == 0)
		n = snprintf(buf, cap, "%s", HTTP_CONTROL_OK_RESPONSE);
	else
		n = snprintf(buf, cap, "HTTP/1.1 200 %s\r\nX-Threshold-Features: %s\r\n\r\n",
			     HTTP_CONTROL_OK_STATUS_TEXT, feat);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

int handshake_answer_parse(const char *buf, size_t len, struct handshake_answer *out, size_t *consumed)
{
	struct http_response resp;
	size_t used = 0;
	memset(out, 0, sizeof(*out));
	out->content_length = -1;
	*consumed = 0;
	int rc = http_response_parse(buf, len, HTTP_HEAD_MAX_DEFAULT, &resp, &used);
	if (rc == HTTP_NEED_MORE)
		return HANDSHAKE_NEED_MORE;
	if (rc != HTTP_OK) {
		out->error = resp.error ? resp.error : "malformed";
		return HANDSHAKE_E_HEAD;
	}
	*consumed = used;
	out->status = resp.status;
	out->reason = resp.reason;
	out->content_length = resp.content_length;
	if (resp.status != 200 || !http_span_eq(&resp.reason, HTTP_CONTROL_OK_STATUS_TEXT))
		return HANDSHAKE_E_REFUSED;
	static const char name[] = "X-Threshold-Features";
	for (ssize_t i = http_header_index(resp.headers, resp.n_headers, name, 0); i >= 0;
	     i = http_header_index(resp.headers, resp.n_headers, name, (size_t)i + 1))
		out->features |= handshake_features_parse(resp.headers[i].value.p, resp.headers[i].value.len);
	return HANDSHAKE_OK;
}

/* ---- controlHandshake / controlOk ---- */

void handshake_match_init(struct handshake_match *m, bool expect_ok)
{
	m->want = expect_ok ? HANDSHAKE_HELLO_OK : HANDSHAKE_HELLO;
	m->want_len = expect_ok ? HANDSHAKE_HELLO_OK_LEN : HANDSHAKE_HELLO_LEN;
	m->got = 0;
	m->failed = false;
}

int handshake_match_feed(struct handshake_match *m, const uint8_t *p, size_t n, size_t *consumed)
{
	size_t i = 0;
	*consumed = 0;
	if (m->failed)
		return HANDSHAKE_E_MISMATCH;
	while (m->got < m->want_len && i < n) {
		if ((char)p[i] != m->want[m->got]) {
			m->failed = true;
			*consumed = i;
			return HANDSHAKE_E_MISMATCH;
		}
		m->got++;
		i++;
	}
	*consumed = i;
	return m->got == m->want_len ? HANDSHAKE_OK : HANDSHAKE_NEED_MORE;
}

/* ---- the server-open preamble ---- */

ssize_t handshake_preamble_encode(char *buf, size_t cap, const char *service, size_t service_len)
{
	ssize_t n = control_msg_encode(buf, cap, CONTROL_ACTION_REQUEST_CLIENT_SESSION, service, service_len);
	return n < 0 ? -1 : n;
}

int handshake_preamble_parse(const char *buf, size_t n, struct control_msg *msg, size_t *consumed)
{
	size_t scan = n < HANDSHAKE_PREAMBLE_MAX ? n : HANDSHAKE_PREAMBLE_MAX;
	const char *nl = n ? memchr(buf, '\n', scan) : NULL;
	*consumed = 0;
	if (nl == NULL)
		return n >= HANDSHAKE_PREAMBLE_MAX ? HANDSHAKE_E_TOO_LONG : HANDSHAKE_NEED_MORE;
	size_t line = (size_t)(nl - buf) + 1;
	size_t used = 0;
	int rc = control_msg_decode(buf, line, msg, &used);
	/* A blank line before the message is not a preamble. */
	if (rc != CONTROL_MSG_OK || used != line || msg->action != CONTROL_ACTION_REQUEST_CLIENT_SESSION)
		return HANDSHAKE_E_PREAMBLE;
	*consumed = line;
	return HANDSHAKE_OK;
}

/* ---- client states ---- */

static const char *const state_names[] = {
	[HANDSHAKE_CLIENT_UNKNOWN] = "ClientUnknown",
	[HANDSHAKE_CLIENT_STARTED] = "ClientStarted",
	[HANDSHAKE_CLIENT_CONNECTING] = "ClientConnecting",
	[HANDSHAKE_CLIENT_CONNECTED] = "ClientConnected",
	[HANDSHAKE_CLIENT_DISCONNECTED] = "ClientDisconnected",
	[HANDSHAKE_CLIENT_CLOSED] = "ClientClosed",
	[HANDSHAKE_CLIENT_ERROR] = "ClientError",
};

const char *handshake_client_state_name(int s)
{
	if (s < 0 || (size_t)s >= sizeof(state_names) / sizeof(state_names[0]))
		return state_names[HANDSHAKE_CLIENT_UNKNOWN];
	return state_names[s];
}
