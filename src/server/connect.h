/*
 * connect: the server's decision on a control CONNECT.
 *
 * The protocol is wire/handshake's (handshake_request_parse for the
 * identity and features, handshake_features_grant, handshake_answer_build
 * for the 200). What stays here is the server's own part: the TLS rule
 * that the claimed client id must be the one the certificate stands for,
 * and the status, text and log line of each refusal. front.c calls
 * connect_check, then writes handshake_answer_build(out.features).
 */
#ifndef THRESHOLD_SERVER_CONNECT_H
#define THRESHOLD_SERVER_CONNECT_H

#include <stdbool.h>
#include <stddef.h>

#include "wire/handshake.h"
#include "wire/http.h"

/* Who is asking, as the front door knows it. */
struct connect_peer {
	const char *peer_str;
	bool use_tls;
	bool has_cert;	     /* cert_id is valid */
	const char *cert_id; /* the client id the certificate stands for */
	const char *cert_cn;
	const char *domain; /* Domain, or NULL */
};

/* An accepted CONNECT. */
struct connect_req {
	struct http_span id; /* the client id, into the request's bytes */
	unsigned features;   /* granted: handshake_features_grant(asked, HANDSHAKE_FEATURES_OURS) */
};

/*
 * Checks the CONNECT (its path is already /_controlPath): 0 with *out
 * filled, or the HTTP status to refuse with (405, 400, 403) and its text
 * in msg[0..msglen) (logged here, with the peer, where the refusal says
 * something about the client). *out is zeroed on a refusal.
 */
int connect_check(const struct http_request *req, const struct connect_peer *who, struct connect_req *out,
		  char *msg, size_t msglen);

#endif
