/*
 * connect: the control CONNECT a client opens with, checked, and the 200
 * that accepts it.
 *
 * Kept together (with CONTROL_HANDSHAKE / CONTROL_OK and client_state_name
 * in session.c) so that the coming wire/handshake codec replaces them in
 * one place: connect_features_has, connect_id_ok, connect_check and
 * connect_answer.
 */
#ifndef THRESHOLD_SERVER_CONNECT_H
#define THRESHOLD_SERVER_CONNECT_H

#include <stdbool.h>
#include <stddef.h>

#include "wire/http.h"

#define CONNECT_CLIENT_ID_MAX 255

/* Who is asking, as the front door knows it. */
struct connect_peer {
	const char *peer_str;
	bool use_tls;
	bool has_cert;	     /* cert_id is valid */
	const char *cert_id; /* the client id the certificate stands for */
	const char *cert_cn;
	const char *domain;  /* Domain, or NULL */
};

struct connect_req {
	const struct http_span *id; /* into the request */
	bool features_given;	    /* X-Threshold-Features was sent */
	bool server_open, half_close, deferred_ack;
};

/* Whether a comma-separated header value holds token tok (any case). */
bool connect_features_has(const struct http_span *v, const char *tok);
/* A client id: 1..CONNECT_CLIENT_ID_MAX visible ASCII bytes. */
bool connect_id_ok(const struct http_span *sp);

/* Checks the CONNECT (its path is already /_controlPath): 0 with *out
 * filled, or the HTTP status to refuse with and its text in msg (logged
 * here, with the peer). */
int connect_check(const struct http_request *req, const struct connect_peer *who, struct connect_req *out,
		  char *msg, size_t msglen);
/* The 200 answer: byte-exact for Go clients, with our features otherwise.
 * Returns its length. */
size_t connect_answer(const struct connect_req *r, char *out, size_t outlen);

#endif
