/*
 * connect: control CONNECT checks and the 200 answer (see connect.h).
 */
#include "server/connect.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/log.h"

bool connect_features_has(const struct http_span *v, const char *tok)
{
	if (v == NULL)
		return false;
	size_t tl = strlen(tok), i = 0;
	while (i < v->len) {
		while (i < v->len && (v->p[i] == ' ' || v->p[i] == '\t' || v->p[i] == ','))
			i++;
		size_t st = i;
		while (i < v->len && v->p[i] != ',')
			i++;
		size_t en = i;
		while (en > st && (v->p[en - 1] == ' ' || v->p[en - 1] == '\t'))
			en--;
		if (en - st == tl && strncasecmp(v->p + st, tok, tl) == 0)
			return true;
	}
	return false;
}

bool connect_id_ok(const struct http_span *sp)
{
	if (sp->len == 0 || sp->len > CONNECT_CLIENT_ID_MAX)
		return false;
	for (size_t i = 0; i < sp->len; i++) {
		unsigned char ch = (unsigned char)sp->p[i];
		if (ch < 0x21 || ch == 0x7f)
			return false;
	}
	return true;
}

/* With TLS the identity comes from the certificate: the header must agree. */
static int check_cert(const struct http_span *idsp, const struct connect_peer *who, char *msg, size_t msglen)
{
	if (who->has_cert && strlen(who->cert_id) == idsp->len && memcmp(who->cert_id, idsp->p, idsp->len) == 0)
		return 0;
	char claimed[CONNECT_CLIENT_ID_MAX + 1];
	snprintf(claimed, sizeof(claimed), "%.*s", (int)idsp->len, idsp->p);
	log_warnx("control connection from %s refused: it claims client id \"%s\" but its certificate "
		  "says \"%s\"%s%s%s",
		  who->peer_str, claimed, who->cert_cn, who->domain ? " (Domain " : "", who->domain ? who->domain : "",
		  who->domain ? ")" : "");
	snprintf(msg, msglen, "403 client id \"%s\" does not match the TLS certificate (CommonName \"%s\")", claimed,
		 who->cert_cn);
	return 403;
}

int connect_check(const struct http_request *req, const struct connect_peer *who, struct connect_req *out,
		  char *msg, size_t msglen)
{
	memset(out, 0, sizeof(*out));
	if (!http_span_eq(&req->method, "CONNECT")) {
		snprintf(msg, msglen, "405 must CONNECT\n");
		return 405;
	}
	const struct http_span *a = http_header_get(req->headers, req->n_headers, "X-Threshold-ClientId");
	const struct http_span *b = http_header_get(req->headers, req->n_headers, "X-Threshold-Identifier");
	const struct http_span *idsp = a ? a : b;
	if (a && b && (a->len != b->len || memcmp(a->p, b->p, a->len) != 0)) {
		log_warnx("control connection from %s: X-Threshold-ClientId and X-Threshold-Identifier differ",
			  who->peer_str);
		snprintf(msg, msglen, "400 X-Threshold-ClientId and X-Threshold-Identifier differ");
		return 400;
	}
	if (idsp == NULL || !connect_id_ok(idsp)) {
		log_warnx("control connection from %s: missing or invalid client id header", who->peer_str);
		snprintf(msg, msglen, "400 missing or invalid X-Threshold-ClientId header");
		return 400;
	}
	if (who->use_tls) {
		int st = check_cert(idsp, who, msg, msglen);
		if (st != 0)
			return st;
	}
	const struct http_span *fs = http_header_get(req->headers, req->n_headers, "X-Threshold-Features");
	out->id = idsp;
	out->features_given = fs != NULL;
	out->server_open = connect_features_has(fs, "server-open");
	out->half_close = connect_features_has(fs, "half-close");
	/* Only meaningful with server-open (our streams); the server just
	 * accepts the ACK whenever it comes. */
	out->deferred_ack = out->server_open && connect_features_has(fs, "deferred-ack");
	return 0;
}

size_t connect_answer(const struct connect_req *r, char *out, size_t outlen)
{
	if (!r->features_given || (!r->server_open && !r->half_close))
		return (size_t)snprintf(out, outlen, "%s", HTTP_CONTROL_OK_RESPONSE);
	return (size_t)snprintf(out, outlen, "HTTP/1.1 200 Connected to Tunnel\r\nX-Threshold-Features: %s%s%s%s\r\n\r\n",
				r->server_open ? "server-open" : "", r->server_open && r->half_close ? ", " : "",
				r->half_close ? "half-close" : "", r->deferred_ack ? ", deferred-ack" : "");
}
