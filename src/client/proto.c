/*
 * proto: the pure helpers of the client's handshake (see client.h for
 * each contract, proto.h for the control-stream strings). No I/O, no
 * logging, no allocation.
 */
#include "client/client.h"

#include <stdio.h>
#include <string.h>

#include "base/sock.h"
#include "base/util.h"

#ifndef THRESHOLD_VERSION
#define THRESHOLD_VERSION "0.0.0"
#endif

const char *client_conn_state_name(enum client_conn_state s)
{
	switch (s) {
	case CLIENT_ST_STARTED:
		return "ClientStarted";
	case CLIENT_ST_CONNECTING:
		return "ClientConnecting";
	case CLIENT_ST_CONNECTED:
		return "ClientConnected";
	case CLIENT_ST_DISCONNECTED:
		return "ClientDisconnected";
	case CLIENT_ST_CLOSED:
		return "ClientClosed";
	case CLIENT_ST_UNKNOWN:
	default:
		return "ClientUnknown";
	}
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool token_is(const char *p, size_t n, const char *tok)
{
	size_t tl = strlen(tok);
	if (n != tl)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = p[i], b = tok[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

unsigned client_features_parse(const char *p, size_t n)
{
	unsigned f = 0;
	size_t i = 0;
	if (p == NULL)
		return 0;
	while (i <= n) {
		size_t start = i;
		while (i < n && p[i] != ',')
			i++;
		size_t a = start, e = i;
		while (a < e && is_ows(p[a]))
			a++;
		while (e > a && is_ows(p[e - 1]))
			e--;
		if (token_is(p + a, e - a, "server-open"))
			f |= CLIENT_FEAT_SERVER_OPEN;
		else if (token_is(p + a, e - a, "half-close"))
			f |= CLIENT_FEAT_HALF_CLOSE;
		else if (token_is(p + a, e - a, "proxy-v2"))
			f |= CLIENT_FEAT_PROXY_V2;
		else if (token_is(p + a, e - a, "deferred-ack"))
			f |= CLIENT_FEAT_DEFERRED_ACK;
		i++; /* past the comma (or past the end) */
	}
	return f;
}

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

ssize_t client_connect_request(char *buf, size_t cap, const char *host, uint16_t port,
			       const char *client_id, unsigned features)
{
	char hostport[SOCK_HOSTLEN + 16];
	if (host == NULL || client_id == NULL || !header_value_ok(client_id))
		return -1;
	for (const char *h = host; *h; h++)
		if ((unsigned char)*h <= 0x20 || (unsigned char)*h >= 0x7f)
			return -1;
	if (host[0] == '\0')
		return -1;
	int hl = sock_join_hostport(host, port, hostport, sizeof(hostport));
	if (hl < 0 || (size_t)hl >= sizeof(hostport))
		return -1;

	char feat[64] = "";
	size_t fl = 0;
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{CLIENT_FEAT_SERVER_OPEN, "server-open"},
		{CLIENT_FEAT_HALF_CLOSE, "half-close"},
		{CLIENT_FEAT_PROXY_V2, "proxy-v2"},
		{CLIENT_FEAT_DEFERRED_ACK, "deferred-ack"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!(features & names[i].bit))
			continue;
		int w = snprintf(feat + fl, sizeof(feat) - fl, "%s%s", fl ? ", " : "", names[i].name);
		if (w < 0 || (size_t)w >= sizeof(feat) - fl)
			return -1;
		fl += (size_t)w;
	}

	int n;
	if (fl > 0)
		n = snprintf(buf, cap,
			     "CONNECT /_controlPath/ HTTP/1.1\r\n"
			     "Host: %s\r\n"
			     "User-Agent: threshold/%s\r\n"
			     "X-Threshold-Identifier: %s\r\n"
			     "X-Threshold-ClientId: %s\r\n"
			     "X-Threshold-Features: %s\r\n"
			     "\r\n",
			     hostport, THRESHOLD_VERSION, client_id, client_id, feat);
	else
		n = snprintf(buf, cap,
			     "CONNECT /_controlPath/ HTTP/1.1\r\n"
			     "Host: %s\r\n"
			     "User-Agent: threshold/%s\r\n"
			     "X-Threshold-Identifier: %s\r\n"
			     "X-Threshold-ClientId: %s\r\n"
			     "\r\n",
			     hostport, THRESHOLD_VERSION, client_id, client_id);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

int client_preamble_parse(const char *buf, size_t n, struct control_msg *msg, size_t *consumed)
{
	size_t scan = n < CLIENT_PREAMBLE_MAX ? n : CLIENT_PREAMBLE_MAX;
	const char *nl = memchr(buf, '\n', scan);
	*consumed = 0;
	if (nl == NULL)
		return n >= CLIENT_PREAMBLE_MAX ? CLIENT_PREAMBLE_E_TOO_LONG : CLIENT_PREAMBLE_NEED_MORE;
	size_t line = (size_t)(nl - buf) + 1;
	size_t used = 0;
	int rc = control_msg_decode(buf, line, msg, &used);
	/* A blank line before the message is not a preamble. */
	if (rc != CONTROL_MSG_OK || used != line)
		return CLIENT_PREAMBLE_E_BAD;
	if (msg->action != CONTROL_ACTION_REQUEST_CLIENT_SESSION)
		return CLIENT_PREAMBLE_E_BAD;
	*consumed = line;
	return CLIENT_PREAMBLE_OK;
}
