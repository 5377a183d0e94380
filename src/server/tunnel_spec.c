/*
 * tunnel_spec: PUT /tunnels body -> tunnel set (see tunnel_spec.h).
 *
 * One table row per field (name, the message when a required field is
 * missing, the function that checks and takes the value), walked in the
 * table's order for every object; then the checks across entries.
 */
#include "server/tunnel_spec.h"

#include <arpa/inet.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define ACCEPT_FROM_MAX 64
#define NAME_MAX_LEN 255 /* ClientIdentifier, BackEndService */
#define GLOB_MAX_LEN 253

void tunnel_set_clear(struct tunnel_set *ts)
{
	for (size_t i = 0; i < ts->n; i++) {
		free(ts->v[i].addr);
		free(ts->v[i].glob);
		free(ts->v[i].service);
		free(ts->v[i].client);
		free(ts->v[i].accept_from);
	}
	free(ts->v);
	ts->v = NULL;
	ts->n = 0;
	ts->null_body = false;
}

void tunnel_spec_error(json_t *errors, long index, const char *field, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *e = json_object();
	if (e == NULL)
		return;
	if (index >= 0)
		json_object_set_new(e, "index", json_integer(index));
	if (field)
		json_object_set_new(e, "field", json_string(field));
	json_object_set_new(e, "error", json_string(msg));
	json_array_append_new(errors, e);
}

/* ---- one object ---- */

struct row {
	struct tunnel *t;
	json_t *errors;
	long index;
	bool type_err, value_err;
};

#define row_error(r, field, ...) tunnel_spec_error((r)->errors, (r)->index, field, __VA_ARGS__)

/* A value that must be a string; NULL (with an error) otherwise. A NUL
 * inside is reported without marking the row (as it always was: the field
 * then counts as not given). */
static const char *want_string(struct row *r, json_t *v, const char *field)
{
	if (!json_is_string(v)) {
		row_error(r, field, "%s must be a string", field);
		r->type_err = true;
		return NULL;
	}
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v)) {
		row_error(r, field, "%s contains a NUL byte", field);
		return NULL;
	}
	return s;
}

static bool is_ip_literal(const char *s)
{
	struct in_addr a4;
	struct in6_addr a6;
	return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

static void f_proxy(struct row *r, json_t *v)
{
	if (!json_is_boolean(v)) {
		row_error(r, "HaProxyProxyProtocol", "HaProxyProxyProtocol must be true or false");
		r->type_err = true;
		return;
	}
	r->t->proxy = json_is_true(v);
}

static void f_addr(struct row *r, json_t *v)
{
	const char *s = want_string(r, v, "ListenAddress");
	if (s && !is_ip_literal(s)) {
		row_error(r, "ListenAddress", "\"%s\" is not an IP address", s);
		r->value_err = true;
	} else if (s) {
		r->t->addr = strdup(s);
	}
}

static void f_port(struct row *r, json_t *v)
{
	if (!json_is_integer(v)) {
		row_error(r, "ListenPort", "ListenPort must be an integer");
		r->type_err = true;
		return;
	}
	json_int_t p = json_integer_value(v);
	if (p < 1 || p > 65535) {
		row_error(r, "ListenPort", "%lld is not a port (1-65535)", (long long)p);
		r->value_err = true;
		return;
	}
	r->t->port = (uint16_t)p;
}

static bool glob_char_ok(unsigned char ch)
{
	/* What a host name may hold, plus the `*` wildcard. */
	return ch == '*' || ch == '.' || ch == '-' || ch == '_' || (ch >= '0' && ch <= '9') ||
	       (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static void f_glob(struct row *r, json_t *v)
{
	const char *glob = want_string(r, v, "ListenHostnameGlob");
	if (glob == NULL)
		return;
	if (strlen(glob) > GLOB_MAX_LEN) {
		row_error(r, "ListenHostnameGlob", "ListenHostnameGlob is longer than 253 bytes");
		r->value_err = true;
		return;
	}
	for (const char *g = glob; *g; g++) {
		if (!glob_char_ok((unsigned char)*g)) {
			row_error(r, "ListenHostnameGlob",
				  "\"%s\" is not a hostname glob (letters, digits, '-', '_', '.' and '*')", glob);
			r->value_err = true;
			return;
		}
	}
	r->t->glob = strdup(glob);
}

static void f_service(struct row *r, json_t *v)
{
	const char *svc = want_string(r, v, "BackEndService");
	if (svc && strlen(svc) > NAME_MAX_LEN) {
		row_error(r, "BackEndService", "BackEndService is longer than 255 bytes");
		r->value_err = true;
	} else if (svc) {
		r->t->service = strdup(svc);
	}
}

static void f_client(struct row *r, json_t *v)
{
	const char *s = want_string(r, v, "ClientIdentifier");
	if (s && *s == '\0') {
		row_error(r, "ClientIdentifier", "ClientIdentifier must not be empty");
		r->value_err = true;
	} else if (s && strlen(s) > NAME_MAX_LEN) {
		row_error(r, "ClientIdentifier", "ClientIdentifier is longer than 255 bytes");
		r->value_err = true;
	} else if (s) {
		r->t->client = strdup(s);
	}
}

static void f_ppv(struct row *r, json_t *v)
{
	if (!json_is_integer(v)) {
		row_error(r, "ProxyProtocolVersion", "ProxyProtocolVersion must be 1 or 2");
		r->type_err = true;
		return;
	}
	json_int_t p = json_integer_value(v);
	if (p != 1 && p != 2) {
		row_error(r, "ProxyProtocolVersion", "ProxyProtocolVersion must be 1 or 2, not %lld", (long long)p);
		r->value_err = true;
	} else if (!r->t->proxy) {
		row_error(r, "ProxyProtocolVersion", "ProxyProtocolVersion needs \"HaProxyProxyProtocol\": true");
		r->value_err = true;
	} else {
		r->t->proxy_version = (int)p;
		r->t->proxy_version_given = true;
	}
}

static void f_accept(struct row *r, json_t *v)
{
	static const char F[] = "AcceptProxyProtocolFrom";
	struct tunnel *t = r->t;
	if (!json_is_array(v)) {
		row_error(r, F, "AcceptProxyProtocolFrom must be a list of addresses or CIDR ranges");
		r->type_err = true;
		return;
	}
	if (json_array_size(v) > ACCEPT_FROM_MAX) {
		row_error(r, F, "AcceptProxyProtocolFrom has more than %d entries", ACCEPT_FROM_MAX);
		r->value_err = true;
		return;
	}
	t->accept_from_given = true;
	t->n_accept_from = json_array_size(v);
	t->accept_from = t->n_accept_from ? calloc(t->n_accept_from, sizeof(*t->accept_from)) : NULL;
	for (size_t k = 0; k < t->n_accept_from; k++) {
		json_t *e = json_array_get(v, k);
		if (!json_is_string(e)) {
			row_error(r, F, "AcceptProxyProtocolFrom[%zu] must be a string", k);
			r->type_err = true;
		} else if (t->accept_from == NULL || cidr_parse(json_string_value(e), &t->accept_from[k]) != 0) {
			row_error(r, F, "AcceptProxyProtocolFrom[%zu]: \"%s\" is not an address or CIDR range", k,
				  json_string_value(e));
			r->value_err = true;
		}
	}
}

struct field {
	const char *name;
	const char *required;			/* the error when absent or null; NULL: optional */
	void (*take)(struct row *r, json_t *v); /* v is given and not null */
};

/* Checked in this order; an error's position in the list follows it. */
static const struct field fields[] = {
	{ "HaProxyProxyProtocol", NULL, f_proxy },
	{ "ListenAddress", "ListenAddress is required (an IP address)", f_addr },
	{ "ListenPort", "ListenPort is required (1-65535)", f_port },
	{ "ListenHostnameGlob", NULL, f_glob },
	{ "BackEndService", NULL, f_service },
	{ "ClientIdentifier", "ClientIdentifier is required", f_client },
	{ "ProxyProtocolVersion", NULL, f_ppv },
	{ "AcceptProxyProtocolFrom", NULL, f_accept },
};
#define N_FIELDS (sizeof(fields) / sizeof(fields[0]))

static int field_index(const char *key)
{
	for (size_t i = 0; i < N_FIELDS; i++)
		if (strcasecmp(key, fields[i].name) == 0)
			return (int)i;
	return -1;
}

/* Canonical "ip:port" of an IP literal (v4-mapped shown as IPv4). */
static int canonical_key(const char *addr, uint16_t port, char *out, size_t len)
{
	struct sock_addr a;
	if (sock_addr_parse(&a, addr, port, NULL) != 0)
		return -1;
	sock_addr_unmap(&a);
	return sock_addr_str(&a, out, len) < 0 ? -1 : 0;
}

/* Sorts the object's keys into vals[] by field; unknown and repeated keys
 * are value errors. */
static void row_keys(struct row *r, json_t *o, json_t *vals[N_FIELDS])
{
	const char *key;
	json_t *v;
	json_object_foreach(o, key, v)
	{
		int f = field_index(key);
		if (f < 0) {
			row_error(r, key, "unknown field \"%s\"", key);
			r->value_err = true;
			continue;
		}
		if (vals[f] != NULL) {
			row_error(r, fields[f].name, "%s given twice", fields[f].name);
			r->value_err = true;
		}
		vals[f] = v;
	}
}

static void parse_row(struct row *r, json_t *o)
{
	struct tunnel *t = r->t;
	if (!json_is_object(o)) {
		row_error(r, NULL, "tunnel %ld must be a JSON object", r->index);
		r->type_err = true;
		return;
	}
	json_t *vals[N_FIELDS] = { 0 };
	row_keys(r, o, vals);
	t->proxy_version = 1;
	for (size_t f = 0; f < N_FIELDS; f++) {
		if (vals[f] != NULL && !json_is_null(vals[f])) {
			fields[f].take(r, vals[f]);
		} else if (fields[f].required) {
			row_error(r, fields[f].name, "%s", fields[f].required);
			r->value_err = true;
		}
	}
	if (t->glob == NULL)
		t->glob = strdup("");
	if (t->service == NULL)
		t->service = strdup("");
	if (t->addr && t->port && canonical_key(t->addr, t->port, t->key, sizeof(t->key)) != 0) {
		row_error(r, "ListenAddress", "\"%s\" is not a usable address", t->addr);
		r->value_err = true;
	}
}

/* ---- across entries ---- */

static bool addr_is_wildcard(const char *ip)
{
	return strcmp(ip, "0.0.0.0") == 0 || strcmp(ip, "::") == 0 || strcmp(ip, "::0") == 0;
}

/* Whether a tunnel on (ip, port) would overlap one of the server's own
 * ports bound on bind_ip (NULL = all addresses). */
static bool overlaps(const char *ip, uint16_t port, const char *bind_ip, uint16_t own_port)
{
	if (port != own_port)
		return false;
	if (bind_ip == NULL || addr_is_wildcard(bind_ip) || addr_is_wildcard(ip))
		return true;
	char a[SOCK_ADDRSTRLEN], b[SOCK_ADDRSTRLEN];
	if (canonical_key(ip, port, a, sizeof(a)) || canonical_key(bind_ip, port, b, sizeof(b)))
		return strcmp(ip, bind_ip) == 0;
	return strcmp(a, b) == 0;
}

struct verdict {
	bool type_err, value_err, conflict;
};

static void check_own_ports(const struct tunnel_spec_ctx *ctx, const struct tunnel *t, long i, json_t *errors,
			    struct verdict *vd)
{
	if (overlaps(t->addr, t->port, ctx->control_addr, ctx->control_port)) {
		tunnel_spec_error(errors, i, "ListenPort", "port %u is the server's control port", t->port);
		vd->conflict = true;
	} else if (ctx->has_mgmt_port && overlaps(t->addr, t->port, ctx->mgmt_addr, ctx->mgmt_port)) {
		tunnel_spec_error(errors, i, "ListenPort", "port %u is the server's management port", t->port);
		vd->conflict = true;
	}
}

static bool same_accept_from(const struct tunnel *u, const struct tunnel *t)
{
	if (u->n_accept_from != t->n_accept_from)
		return false;
	for (size_t k = 0; k < t->n_accept_from; k++)
		if (memcmp(&u->accept_from[k], &t->accept_from[k], sizeof(struct cidr)) != 0)
			return false;
	return true;
}

/* Entry i against the complete entries before it. */
static void check_earlier(const struct tunnel_set *ts, size_t i, json_t *errors, struct verdict *vd)
{
	const struct tunnel *t = &ts->v[i];
	const char *gi = t->glob[0] ? t->glob : "*";
	for (size_t j = 0; j < i; j++) {
		const struct tunnel *u = &ts->v[j];
		if (!u->key[0] || strcmp(u->key, t->key) != 0)
			continue;
		const char *gj = u->glob[0] ? u->glob : "*";
		if (strcasecmp(gi, gj) == 0) {
			tunnel_spec_error(errors, (long)i, "ListenHostnameGlob",
					  "duplicate of tunnel %zu: same address, port and hostname glob (%s %s)", j,
					  t->key, gi);
			vd->value_err = true;
		}
	}
	/* One socket, one policy: tunnels sharing a listener must agree on
	 * AcceptProxyProtocolFrom (checked against the first such tunnel). */
	for (size_t j = 0; j < i; j++) {
		const struct tunnel *u = &ts->v[j];
		if (!u->key[0] || strcmp(u->key, t->key) != 0)
			continue;
		if (!same_accept_from(u, t)) {
			tunnel_spec_error(errors, (long)i, "AcceptProxyProtocolFrom",
					  "tunnel %zu on the same address and port (%s) has a different "
					  "AcceptProxyProtocolFrom",
					  j, t->key);
			vd->value_err = true;
		}
		break;
	}
	/* Wildcard and specific address on one port cannot both bind. */
	for (size_t j = 0; j < i; j++) {
		const struct tunnel *u = &ts->v[j];
		if (!u->key[0] || u->port != t->port || strcmp(u->key, t->key) == 0)
			continue;
		if (addr_is_wildcard(u->addr) || addr_is_wildcard(t->addr)) {
			tunnel_spec_error(errors, (long)i, "ListenAddress",
					  "%s overlaps tunnel %zu (%s): a wildcard address and another address cannot "
					  "share port %u",
					  t->key, j, u->key, t->port);
			vd->conflict = true;
			break;
		}
	}
}

static void check_across(const struct tunnel_spec_ctx *ctx, const struct tunnel_set *ts, json_t *errors,
			 struct verdict *vd)
{
	for (size_t i = 0; i < ts->n; i++) {
		const struct tunnel *t = &ts->v[i];
		if (!t->addr || !t->port || !t->client || !t->key[0])
			continue; /* only entries that are complete */
		check_own_ports(ctx, t, (long)i, errors, vd);
		check_earlier(ts, i, errors, vd);
	}
}

/* The top level: null, or an array of at most TUNNEL_SPEC_MAX entries.
 * Returns the array (borrowed from root), or NULL with *rc set. */
static json_t *top_level(json_t *root, struct tunnel_set *out, json_t *errors, enum tunnel_spec_rc *rc)
{
	if (json_is_null(root)) {
		out->null_body = true;
		*rc = TUNNEL_SPEC_OK;
		return NULL;
	}
	if (!json_is_array(root)) {
		tunnel_spec_error(errors, -1, NULL, "body must be a JSON array of tunnel objects");
		*rc = TUNNEL_SPEC_E_SHAPE;
		return NULL;
	}
	size_t n = json_array_size(root);
	if (n > TUNNEL_SPEC_MAX) {
		tunnel_spec_error(errors, -1, NULL, "too many tunnels: %zu (at most %d)", n, TUNNEL_SPEC_MAX);
		*rc = TUNNEL_SPEC_E_VALUE;
		return NULL;
	}
	out->v = n ? calloc(n, sizeof(*out->v)) : NULL;
	if (n && out->v == NULL) {
		tunnel_spec_error(errors, -1, NULL, "out of memory");
		*rc = TUNNEL_SPEC_E_NOMEM;
		return NULL;
	}
	out->n = n;
	return root;
}

enum tunnel_spec_rc tunnel_spec_parse(const char *body, size_t len, const struct tunnel_spec_ctx *ctx,
				      struct tunnel_set *out, json_t *errors)
{
	memset(out, 0, sizeof(*out));
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
	if (root == NULL) {
		tunnel_spec_error(errors, -1, NULL, "body is not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
				  jerr.column);
		return TUNNEL_SPEC_E_SHAPE;
	}
	enum tunnel_spec_rc rc = TUNNEL_SPEC_OK;
	json_t *arr = top_level(root, out, errors, &rc);
	if (arr == NULL) {
		json_decref(root);
		return rc;
	}
	struct verdict vd = { 0 };
	for (size_t i = 0; i < out->n; i++) {
		struct row r = { .t = &out->v[i], .errors = errors, .index = (long)i };
		parse_row(&r, json_array_get(arr, i));
		vd.type_err |= r.type_err;
		vd.value_err |= r.value_err;
	}
	json_decref(root);
	check_across(ctx, out, errors, &vd);
	for (size_t i = 0; i < out->n && !vd.type_err && !vd.value_err; i++) {
		const struct tunnel *t = &out->v[i];
		if (!t->glob || !t->service || !t->addr || !t->client)
			vd.value_err = true; /* allocation failure (or a NUL byte) */
	}
	if (vd.type_err)
		return TUNNEL_SPEC_E_SHAPE;
	if (vd.value_err)
		return TUNNEL_SPEC_E_VALUE;
	return vd.conflict ? TUNNEL_SPEC_E_CONFLICT : TUNNEL_SPEC_OK;
}

json_t *tunnel_spec_to_json(const struct tunnel_set *ts)
{
	if (ts->null_body)
		return json_null();
	json_t *a = json_array();
	for (size_t i = 0; a && i < ts->n; i++) {
		const struct tunnel *t = &ts->v[i];
		json_t *o = json_object();
		json_object_set_new(o, "HaProxyProxyProtocol", json_boolean(t->proxy));
		json_object_set_new(o, "ListenAddress", json_string(t->addr));
		json_object_set_new(o, "ListenHostnameGlob", json_string(t->glob));
		json_object_set_new(o, "ListenPort", json_integer(t->port));
		json_object_set_new(o, "BackEndService", json_string(t->service));
		json_object_set_new(o, "ClientIdentifier", json_string(t->client));
		/* Our additions appear only when given, so the original's shape
		 * is unchanged for the original's bodies. */
		if (t->proxy_version_given)
			json_object_set_new(o, "ProxyProtocolVersion", json_integer(t->proxy_version));
		if (t->accept_from_given) {
			json_t *l = json_array();
			for (size_t k = 0; k < t->n_accept_from; k++) {
				char buf[64];
				cidr_format(&t->accept_from[k], buf, sizeof(buf));
				json_array_append_new(l, json_string(buf));
			}
			json_object_set_new(o, "AcceptProxyProtocolFrom", l);
		}
		json_array_append_new(a, o);
	}
	return a;
}
