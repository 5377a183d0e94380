/*
 * mgmt: the management API handlers (paths and answers: see mgmt.c). Below
 * the front door, above the sessions (GET /clients) and the listeners
 * (GET/PUT /tunnels); it maps the tunnel spec's and the listeners' result
 * codes to HTTP statuses.
 */
#ifndef THRESHOLD_SERVER_MGMT_H
#define THRESHOLD_SERVER_MGMT_H

#include <stddef.h>

#include "server/listeners.h"
#include "server/session.h"
#include "tunnel/config.h"
#include "wire/http.h"

struct mgmt {
	const struct config_server *cfg;
	struct sessions *ss;
	struct listeners *lss;
};

/* One answer. body is the caller's to free; extra_headers is static text
 * ("Name: value\r\n"...) or NULL. */
struct mgmt_reply {
	int status;
	const char *ctype;
	char *body;
	size_t len;
	const char *extra_headers;
};

/* A complete management request (path already normalised). */
void mgmt_handle(const struct mgmt *m, const struct http_request *req, const char *path, const char *body,
		 size_t body_len, struct mgmt_reply *out);

#endif
