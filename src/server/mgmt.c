/*
 * mgmt: the management API (go-original.md §5 paths, fields and states;
 * protocol.md §2 for where we differ).
 *
 *   GET /clients    {"<id>":{"CurrentState":"...","LastState":"..."},...}
 *                   plus, for a session over TLS, "Tls":{"Version":"TLSv1.3",
 *                   "KtlsSend":false,"KtlsRecv":false}
 *   PUT /tunnels    replace the tunnel table, all or nothing; echoes it
 *   GET /tunnels    the live tunnel table
 *   GET /ping       "pong"
 *
 * Errors are JSON, {"error":"...","field":"..."} (PUT adds "errors": every
 * problem with its index and field), or Go-style text ("<status> <text>\n")
 * when the request's Accept header asks for text/plain and not JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/mgmt.h"

#include <strings.h>

#include "base/log.h"
#include "server/tunnel_spec.h"
#include "wire/handshake.h"

struct reply {
	struct mgmt_reply *o;
	bool text;
};

static void set_json(struct reply *r, int status, json_t *j)
{
	r->o->status = status;
	r->o->ctype = "application/json";
	r->o->body = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	r->o->len = r->o->body ? strlen(r->o->body) : 0;
	json_decref(j);
}

static void set_error(struct reply *r, int status, const char *field, const char *msg, json_t *errors)
{
	if (r->text) {
		r->o->status = status;
		r->o->ctype = "text/plain; charset=utf-8";
		size_t cap = strlen(msg) + 64;
		r->o->body = malloc(cap);
		if (r->o->body)
			r->o->len = (size_t)snprintf(r->o->body, cap, "%d %s\n", status, msg);
		json_decref(errors);
		return;
	}
	json_t *j = json_object();
	json_object_set_new(j, "error", json_string(msg));
	if (field)
		json_object_set_new(j, "field", json_string(field));
	if (errors)
		json_object_set_new(j, "errors", errors);
	set_json(r, status, j);
}

static bool wants_text(const struct http_request *req)
{
	const struct http_span *a = http_header_get(req->headers, req->n_headers, "Accept");
	if (a == NULL)
		return false;
	bool text = false, json = false;
	for (size_t i = 0; i + 10 <= a->len; i++) {
		if (strncasecmp(a->p + i, "text/plain", 10) == 0)
			text = true;
	}
	for (size_t i = 0; i + 16 <= a->len; i++) {
		if (strncasecmp(a->p + i, "application/json", 16) == 0)
			json = true;
	}
	return text && !json;
}

static void get_clients(struct sessions *ss, struct reply *r)
{
	json_t *j = json_object();
	struct list *p;
	list_for_each(p, &ss->clients)
	{
		const struct client_entry *c = list_entry(p, struct client_entry, node);
		json_t *o = json_object();
		json_object_set_new(o, "CurrentState", json_string(handshake_client_state_name((int)c->cur)));
		json_object_set_new(o, "LastState", json_string(handshake_client_state_name((int)c->last)));
		/* Only for a session over TLS: the original's two fields stay
		 * as they were; "Tls" is extra. */
		const struct session_tls *st = session_tls_of(c->ctl);
		if (st != NULL) {
			json_t *t = json_object();
			json_object_set_new(t, "Version", json_string(st->version));
			json_object_set_new(t, "KtlsSend", json_boolean(st->ktls_send));
			json_object_set_new(t, "KtlsRecv", json_boolean(st->ktls_recv));
			json_object_set_new(o, "Tls", t);
		}
		json_object_set_new(j, c->id, o);
	}
	r->o->status = 200;
	r->o->ctype = "application/json";
	r->o->body = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
	r->o->len = r->o->body ? strlen(r->o->body) : 0;
	json_decref(j);
}

/* "[3].ListenPort" for the first problem. */
static void first_problem(json_t *errors, char *field, size_t flen, const char **msg)
{
	json_t *e0 = json_array_get(errors, 0);
	json_t *idx = e0 ? json_object_get(e0, "index") : NULL;
	json_t *f = e0 ? json_object_get(e0, "field") : NULL;
	json_t *m = e0 ? json_object_get(e0, "error") : NULL;
	*msg = m ? json_string_value(m) : "invalid tunnels";
	if (idx && f)
		snprintf(field, flen, "[%lld].%s", (long long)json_integer_value(idx), json_string_value(f));
	else if (idx)
		snprintf(field, flen, "[%lld]", (long long)json_integer_value(idx));
	else if (f)
		snprintf(field, flen, "%s", json_string_value(f));
	else
		field[0] = '\0';
}

/* The tunnel spec's and the listeners' results as HTTP statuses. */
static int spec_status(enum tunnel_spec_rc rc)
{
	switch (rc) {
	case TUNNEL_SPEC_OK:
		return 200;
	case TUNNEL_SPEC_E_SHAPE:
		return 422;
	case TUNNEL_SPEC_E_VALUE:
		return 400;
	case TUNNEL_SPEC_E_CONFLICT:
		return 409;
	case TUNNEL_SPEC_E_NOMEM:
		return 500;
	}
	return 500;
}

static int apply_status(enum listeners_rc rc)
{
	return rc == LISTENERS_OK ? 200 : rc == LISTENERS_E_IN_USE ? 409
								   : 500;
}

static void put_refused(struct reply *r, int status, json_t *errors)
{
	char field[300];
	const char *msg;
	first_problem(errors, field, sizeof(field), &msg);
	char text[600];
	size_t n = json_array_size(errors);
	if (n > 1)
		snprintf(text, sizeof(text), "%s (and %zu more problems)", msg, n - 1);
	else
		snprintf(text, sizeof(text), "%s", msg);
	log_warnx("PUT /tunnels refused (%d): %s%s%s", status, field[0] ? field : "", field[0] ? ": " : "", text);
	set_error(r, status, field[0] ? field : NULL, text, errors);
}

static void put_tunnels(const struct mgmt *m, const struct http_request *req, const char *body, size_t len,
			struct reply *r)
{
	const struct http_span *ct = http_header_get(req->headers, req->n_headers, "Content-Type");
	if (ct && !http_media_type_is(ct, "application/json")) {
		set_error(r, 415, NULL, "Unsupported Media Type: Content-Type must be application/json", NULL);
		return;
	}
	json_t *errors = json_array();
	struct tunnel_set ts;
	struct tunnel_spec_ctx ctx;
	listeners_spec_ctx(m->lss, &ctx);
	int status = spec_status(tunnel_spec_parse(body ? body : "", len, &ctx, &ts, errors));
	if (status == 200)
		status = apply_status(listeners_apply(m->lss, &ts, errors));
	tunnel_set_clear(&ts);
	if (status != 200) {
		put_refused(r, status, errors);
		return;
	}
	json_decref(errors);
	const struct tunnel_table *tt = listeners_table(m->lss);
	log_info("PUT /tunnels: %zu tunnels in force", tunnel_table_set(tt)->n);
	char err[512];
	json_t *echo = tunnel_spec_to_json(tunnel_table_set(tt));
	if (m->cfg->tunnels_file && tunnels_save(tt, m->cfg->tunnels_file, err, sizeof(err)) != 0) {
		/* The table is live; only its persistence failed. Say so. */
		log_errorx("tunnels: cannot save: %s", err);
		r->o->extra_headers = "X-Threshold-Warning: tunnel table not saved, see the server log\r\n";
	}
	set_json(r, 200, echo);
}

void mgmt_handle(const struct mgmt *m, const struct http_request *req, const char *path, const char *body,
		 size_t body_len, struct mgmt_reply *out)
{
	out->status = 500;
	out->ctype = "application/json";
	out->body = NULL;
	out->len = 0;
	out->extra_headers = NULL;
	struct reply r = { out, wants_text(req) };
	const struct http_span *meth = &req->method;
	if (strcmp(path, "/clients") == 0) {
		if (http_span_eq(meth, "GET") || http_span_eq(meth, "HEAD")) {
			get_clients(m->ss, &r);
			return;
		}
		out->extra_headers = "Allow: GET\r\n";
		set_error(&r, 405, NULL, "Method Not Allowed", NULL);
		return;
	}
	if (strcmp(path, "/tunnels") == 0) {
		if (http_span_eq(meth, "PUT")) {
			put_tunnels(m, req, body, body_len, &r);
			return;
		}
		if (http_span_eq(meth, "GET") || http_span_eq(meth, "HEAD")) {
			set_json(&r, 200, tunnel_spec_to_json(tunnel_table_set(listeners_table(m->lss))));
			return;
		}
		out->extra_headers = "Allow: GET, PUT\r\n";
		set_error(&r, 405, NULL, "Method Not Allowed", NULL);
		return;
	}
	if (strcmp(path, "/ping") == 0) {
		if (http_span_eq(meth, "GET") || http_span_eq(meth, "HEAD")) {
			out->status = 200;
			out->ctype = "text/plain; charset=utf-8";
			out->body = strdup("pong");
			out->len = out->body ? 4 : 0;
			return;
		}
		out->extra_headers = "Allow: GET\r\n";
		set_error(&r, 405, NULL, "method not allowed", NULL);
		return;
	}
	set_error(&r, 404, NULL, "not found. Try GET /ping, GET /clients, GET /tunnels or PUT /tunnels.", NULL);
}
