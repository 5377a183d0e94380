/*
 * connect: control CONNECT checks (see connect.h).
 */
#include "server/connect.h"

#include <stdio.h>
#include <string.h>

#include "base/log.h"

/* With TLS the identity comes from the certificate: the header must agree. */
static int check_cert(const struct http_span *idsp, const struct connect_peer *who, char *msg, size_t msglen)
{
	if (who->has_cert && strlen(who->cert_id) == idsp->len && memcmp(who->cert_id, idsp->p, idsp->len) == 0)
		return 0;
	char claimed[HANDSHAKE_ID_MAX + 1];
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
	struct handshake_request hr;
	memset(out, 0, sizeof(*out));
	switch (handshake_request_parse(req, &hr)) {
	case HANDSHAKE_OK:
		break;
	case HANDSHAKE_E_METHOD:
		snprintf(msg, msglen, "405 must CONNECT\n");
		return 405;
	case HANDSHAKE_E_ID_DIFFER:
		log_warnx("control connection from %s: X-Threshold-ClientId and X-Threshold-Identifier differ",
			  who->peer_str);
		snprintf(msg, msglen, "400 X-Threshold-ClientId and X-Threshold-Identifier differ");
		return 400;
	default: /* HANDSHAKE_E_ID, the only other result */
		log_warnx("control connection from %s: missing or invalid client id header", who->peer_str);
		snprintf(msg, msglen, "400 missing or invalid X-Threshold-ClientId header");
		return 400;
	}
	if (who->use_tls) {
		int st = check_cert(&hr.id, who, msg, msglen);
		if (st != 0)
			return st;
	}
	out->id = hr.id;
	out->features = handshake_features_grant(hr.features, HANDSHAKE_FEATURES_OURS);
	return 0;
}
