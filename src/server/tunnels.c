/*
 * tunnels: the tunnel table behind PUT/GET /tunnels and the public
 * listening sockets it implies.
 *
 * PUT is all or nothing: the body is parsed and validated as a whole (every
 * problem reported with its index and field), then every listening socket
 * the new table needs and does not have yet is bound; only when all of that
 * succeeded are the sockets no longer needed closed and the table swapped.
 * If anything fails, the new sockets are closed again and nothing changed,
 * so the live listeners always equal what GET /tunnels shows.
 *
 * Established visitor connections never depend on their listener: closing a
 * listener leaves its relays running.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sock.h"
#include "server/internal.h"

#define TUNNELS_MAX 4096

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

static void add_error(json_t *errors, long index, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void add_error(json_t *errors, long index, const char *field, const char *fmt, ...)
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

static const char *const field_names[] = {
	"HaProxyProxyProtocol", "ListenAddress",  "ListenHostnameGlob",	  "ListenPort",
	"BackEndService",	"ClientIdentifier", "ProxyProtocolVersion", "AcceptProxyProtocolFrom",
};
enum { F_PROXY, F_ADDR, F_GLOB, F_PORT, F_SERVICE, F_CLIENT, F_PPV, F_ACCEPT, F_COUNT };
#define ACCEPT_FROM_MAX 64

static int field_index(const char *key)
{
	for (int i = 0; i < F_COUNT; i++)
		if (strcasecmp(key, field_names[i]) == 0)
			return i;
	return -1;
}

/* A value that must be a string; NULL (with an error) otherwise. */
static const char *want_string(json_t *v, json_t *errors, long i, const char *field, int *type_err)
{
	if (!json_is_string(v)) {
		add_error(errors, i, field, "%s must be a string", field);
		*type_err = 1;
		return NULL;
	}
	const char *s = json_string_value(v);
	if (strlen(s) != json_string_length(v)) {
		add_error(errors, i, field, "%s contains a NUL byte", field);
		return NULL;
	}
	return s;
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

static bool is_ip_literal(const char *s)
{
	struct in_addr a4;
	struct in6_addr a6;
	return inet_pton(AF_INET, s, &a4) == 1 || inet_pton(AF_INET6, s, &a6) == 1;
}

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

int tunnels_parse(struct server *srv, const char *body, size_t len, struct tunnel_set *out,
		  json_t *errors)
{
	memset(out, 0, sizeof(*out));
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
	if (root == NULL) {
		add_error(errors, -1, NULL, "body is not JSON: %s (line %d, column %d)", jerr.text, jerr.line,
			  jerr.column);
		return 422;
	}
	if (json_is_null(root)) {
		json_decref(root);
		out->null_body = true;
		return 200;
	}
	if (!json_is_array(root)) {
		add_error(errors, -1, NULL, "body must be a JSON array of tunnel objects");
		json_decref(root);
		return 422;
	}
	size_t n = json_array_size(root);
	if (n > TUNNELS_MAX) {
		add_error(errors, -1, NULL, "too many tunnels: %zu (at most %d)", n, TUNNELS_MAX);
		json_decref(root);
		return 400;
	}
	out->v = n ? calloc(n, sizeof(*out->v)) : NULL;
	if (n && out->v == NULL) {
		add_error(errors, -1, NULL, "out of memory");
		json_decref(root);
		return 500;
	}
	out->n = n;
	int type_err = 0, value_err = 0, conflict = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(root, i);
		struct tunnel *t = &out->v[i];
		long li = (long)i;
		if (!json_is_object(o)) {
			add_error(errors, li, NULL, "tunnel %zu must be a JSON object", i);
			type_err = 1;
			continue;
		}
		json_t *vals[F_COUNT] = {0};
		const char *key;
		json_t *v;
		json_object_foreach(o, key, v) {
			int f = field_index(key);
			if (f < 0) {
				add_error(errors, li, key, "unknown field \"%s\"", key);
				value_err = 1;
				continue;
			}
			if (vals[f] != NULL) {
				add_error(errors, li, field_names[f], "%s given twice", field_names[f]);
				value_err = 1;
			}
			vals[f] = v;
		}
		/* HaProxyProxyProtocol: optional bool (null = false, as Go). */
		if (vals[F_PROXY] && !json_is_null(vals[F_PROXY])) {
			if (!json_is_boolean(vals[F_PROXY])) {
				add_error(errors, li, "HaProxyProxyProtocol", "HaProxyProxyProtocol must be true or false");
				type_err = 1;
			} else {
				t->proxy = json_is_true(vals[F_PROXY]);
			}
		}
		/* ListenAddress: IP literal. */
		if (!vals[F_ADDR] || json_is_null(vals[F_ADDR])) {
			add_error(errors, li, "ListenAddress", "ListenAddress is required (an IP address)");
			value_err = 1;
		} else {
			const char *s = want_string(vals[F_ADDR], errors, li, "ListenAddress", &type_err);
			if (s && !is_ip_literal(s)) {
				add_error(errors, li, "ListenAddress", "\"%s\" is not an IP address", s);
				value_err = 1;
			} else if (s) {
				t->addr = strdup(s);
			}
		}
		/* ListenPort: 1-65535. */
		if (!vals[F_PORT] || json_is_null(vals[F_PORT])) {
			add_error(errors, li, "ListenPort", "ListenPort is required (1-65535)");
			value_err = 1;
		} else if (!json_is_integer(vals[F_PORT])) {
			add_error(errors, li, "ListenPort", "ListenPort must be an integer");
			type_err = 1;
		} else {
			json_int_t p = json_integer_value(vals[F_PORT]);
			if (p < 1 || p > 65535) {
				add_error(errors, li, "ListenPort", "%lld is not a port (1-65535)", (long long)p);
				value_err = 1;
			} else {
				t->port = (uint16_t)p;
			}
		}
		/* ListenHostnameGlob, BackEndService: optional strings. */
		const char *glob = "", *svc = "";
		if (vals[F_GLOB] && !json_is_null(vals[F_GLOB]))
			glob = want_string(vals[F_GLOB], errors, li, "ListenHostnameGlob", &type_err);
		if (vals[F_SERVICE] && !json_is_null(vals[F_SERVICE]))
			svc = want_string(vals[F_SERVICE], errors, li, "BackEndService", &type_err);
		if (svc && strlen(svc) > 255) {
			add_error(errors, li, "BackEndService", "BackEndService is longer than 255 bytes");
			value_err = 1;
			svc = NULL;
		}
		if (glob && strlen(glob) > 253) {
			add_error(errors, li, "ListenHostnameGlob", "ListenHostnameGlob is longer than 253 bytes");
			value_err = 1;
			glob = NULL;
		}
		for (const char *g = glob; g && *g; g++) {
			/* What a host name may hold, plus the `*` wildcard. */
			unsigned char ch = (unsigned char)*g;
			if (!(ch == '*' || ch == '.' || ch == '-' || ch == '_' || (ch >= '0' && ch <= '9') ||
			      (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z'))) {
				add_error(errors, li, "ListenHostnameGlob",
					  "\"%s\" is not a hostname glob (letters, digits, '-', '_', '.' and '*')", glob);
				value_err = 1;
				glob = NULL;
				break;
			}
		}
		t->glob = strdup(glob ? glob : "");
		t->service = strdup(svc ? svc : "");
		/* ClientIdentifier: non-empty string. */
		if (!vals[F_CLIENT] || json_is_null(vals[F_CLIENT])) {
			add_error(errors, li, "ClientIdentifier", "ClientIdentifier is required");
			value_err = 1;
		} else {
			const char *s = want_string(vals[F_CLIENT], errors, li, "ClientIdentifier", &type_err);
			if (s && *s == '\0') {
				add_error(errors, li, "ClientIdentifier", "ClientIdentifier must not be empty");
				value_err = 1;
			} else if (s && strlen(s) > 255) {
				add_error(errors, li, "ClientIdentifier", "ClientIdentifier is longer than 255 bytes");
				value_err = 1;
			} else if (s) {
				t->client = strdup(s);
			}
		}
		/* ProxyProtocolVersion: 1 or 2, with HaProxyProxyProtocol. */
		t->proxy_version = 1;
		if (vals[F_PPV] && !json_is_null(vals[F_PPV])) {
			if (!json_is_integer(vals[F_PPV])) {
				add_error(errors, li, "ProxyProtocolVersion", "ProxyProtocolVersion must be 1 or 2");
				type_err = 1;
			} else if (json_integer_value(vals[F_PPV]) != 1 && json_integer_value(vals[F_PPV]) != 2) {
				add_error(errors, li, "ProxyProtocolVersion", "ProxyProtocolVersion must be 1 or 2, not %lld",
					  (long long)json_integer_value(vals[F_PPV]));
				value_err = 1;
			} else if (!t->proxy) {
				add_error(errors, li, "ProxyProtocolVersion",
					  "ProxyProtocolVersion needs \"HaProxyProxyProtocol\": true");
				value_err = 1;
			} else {
				t->proxy_version = (int)json_integer_value(vals[F_PPV]);
				t->proxy_version_given = true;
			}
		}
		/* AcceptProxyProtocolFrom: CIDRs of trusted load balancers. */
		json_t *af = vals[F_ACCEPT];
		if (af && !json_is_null(af)) {
			if (!json_is_array(af)) {
				add_error(errors, li, "AcceptProxyProtocolFrom",
					  "AcceptProxyProtocolFrom must be a list of addresses or CIDR ranges");
				type_err = 1;
			} else if (json_array_size(af) > ACCEPT_FROM_MAX) {
				add_error(errors, li, "AcceptProxyProtocolFrom", "AcceptProxyProtocolFrom has more than %d entries",
					  ACCEPT_FROM_MAX);
				value_err = 1;
			} else {
				t->accept_from_given = true;
				t->n_accept_from = json_array_size(af);
				t->accept_from = t->n_accept_from ? calloc(t->n_accept_from, sizeof(*t->accept_from)) : NULL;
				for (size_t k = 0; k < t->n_accept_from; k++) {
					json_t *e = json_array_get(af, k);
					if (!json_is_string(e)) {
						add_error(errors, li, "AcceptProxyProtocolFrom",
							  "AcceptProxyProtocolFrom[%zu] must be a string", k);
						type_err = 1;
					} else if (t->accept_from == NULL ||
						   cidr_parse(json_string_value(e), &t->accept_from[k]) != 0) {
						add_error(errors, li, "AcceptProxyProtocolFrom",
							  "AcceptProxyProtocolFrom[%zu]: \"%s\" is not an address or CIDR range", k,
							  json_string_value(e));
						value_err = 1;
					}
				}
			}
		}
		if (t->addr && t->port && canonical_key(t->addr, t->port, t->key, sizeof(t->key)) != 0) {
			add_error(errors, li, "ListenAddress", "\"%s\" is not a usable address", t->addr);
			value_err = 1;
		}
	}
	json_decref(root);

	/* Cross-entry checks, only on entries that are complete. */
	for (size_t i = 0; i < n; i++) {
		struct tunnel *t = &out->v[i];
		if (!t->addr || !t->port || !t->client || !t->key[0])
			continue;
		const struct config_server *cfg = srv->cfg;
		if (overlaps(t->addr, t->port, cfg->listen_address, cfg->control_port)) {
			add_error(errors, (long)i, "ListenPort", "port %u is the server's control port", t->port);
			conflict = 1;
		} else if (!cfg->single_port && overlaps(t->addr, t->port, cfg->mgmt_address ? cfg->mgmt_address
										: (cfg->use_tls ? NULL : "127.0.0.1"),
						      cfg->mgmt_port)) {
			add_error(errors, (long)i, "ListenPort", "port %u is the server's management port", t->port);
			conflict = 1;
		}
		const char *gi = t->glob[0] ? t->glob : "*";
		for (size_t j = 0; j < i; j++) {
			struct tunnel *u = &out->v[j];
			if (!u->key[0] || strcmp(u->key, t->key) != 0)
				continue;
			const char *gj = u->glob[0] ? u->glob : "*";
			if (strcasecmp(gi, gj) == 0) {
				add_error(errors, (long)i, "ListenHostnameGlob",
					  "duplicate of tunnel %zu: same address, port and hostname glob (%s %s)", j,
					  t->key, gi);
				value_err = 1;
			}
		}
		/* One socket, one policy: tunnels sharing a listener must agree
		 * on AcceptProxyProtocolFrom. */
		for (size_t j = 0; j < i; j++) {
			struct tunnel *u = &out->v[j];
			if (!u->key[0] || strcmp(u->key, t->key) != 0)
				continue;
			bool same = u->n_accept_from == t->n_accept_from;
			for (size_t k = 0; same && k < t->n_accept_from; k++)
				same = memcmp(&u->accept_from[k], &t->accept_from[k], sizeof(struct cidr)) == 0;
			if (!same) {
				add_error(errors, (long)i, "AcceptProxyProtocolFrom",
					  "tunnel %zu on the same address and port (%s) has a different AcceptProxyProtocolFrom",
					  j, t->key);
				value_err = 1;
			}
			break;
		}
		/* Wildcard and specific address on one port cannot both bind. */
		for (size_t j = 0; j < i; j++) {
			struct tunnel *u = &out->v[j];
			if (!u->key[0] || u->port != t->port || strcmp(u->key, t->key) == 0)
				continue;
			if (addr_is_wildcard(u->addr) || addr_is_wildcard(t->addr)) {
				add_error(errors, (long)i, "ListenAddress",
					  "%s overlaps tunnel %zu (%s): a wildcard address and another address cannot share port %u",
					  t->key, j, u->key, t->port);
				conflict = 1;
				break;
			}
		}
	}
	for (size_t i = 0; i < n && !type_err && !value_err; i++)
		if (!out->v[i].glob || !out->v[i].service || (out->v[i].addr == NULL) || !out->v[i].client)
			value_err = 1; /* allocation failure */
	if (type_err)
		return 422;
	if (value_err)
		return 400;
	if (conflict)
		return 409;
	return 200;
}

json_t *tunnels_to_json(const struct tunnel_set *ts)
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

/* ---- listeners ---- */

static struct listener *listener_find(struct server *srv, const char *key)
{
	for (struct listener *ls = srv->listeners; ls; ls = ls->next)
		if (strcmp(ls->key, key) == 0)
			return ls;
	return NULL;
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *udata);

static void on_pause_end(struct loop *l, struct loop_timer *t, void *udata)
{
	struct listener *ls = udata;
	(void)t;
	loop_watch_set(l, ls->fd, LOOP_READ);
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct listener *ls = udata;
	(void)events;
	for (int i = 0; i < 64; i++) {
		struct sock_addr peer;
		char err[SOCK_ERRLEN];
		int cfd = sock_accept(fd, &peer, err);
		if (cfd == -EAGAIN)
			return;
		if (cfd == -EMFILE || cfd == -ENFILE || cfd == -ENOBUFS || cfd == -ENOMEM) {
			/* Out of descriptors or memory: stop accepting for a
			 * moment instead of spinning on a level-triggered fd. */
			log_warnx("listener %s: %s; pausing accepts for 100 ms", ls->key, err);
			loop_watch_set(l, fd, 0);
			loop_timer_start(l, &ls->pause, 100);
			return;
		}
		if (cfd < 0) {
			log_debug("listener %s: %s", ls->key, err);
			continue; /* ECONNABORTED and friends: the next one may be fine */
		}
		if (ls->nvisitors >= ls->srv->cfg->max_visitors_per_listener) {
			log_warnx("listener %s: %zu visitors, at the limit; refusing one", ls->key, ls->nvisitors);
			close(cfd);
			continue;
		}
		ls->nvisitors++;
		ls->refs++;
		server_visitor_accepted(ls, cfd, &peer);
	}
}

void listener_unref(struct listener *ls)
{
	if (ls == NULL || --ls->refs > 0)
		return;
	free(ls->routes);
	free(ls);
}

/* Closes the socket and drops the table's reference; visitors still
 * holding one keep the struct alive. */
static void listener_free(struct server *srv, struct listener *ls)
{
	loop_timer_stop(srv->loop, &ls->pause);
	if (ls->fd >= 0) {
		loop_unwatch(srv->loop, ls->fd);
		close(ls->fd);
		ls->fd = -1;
	}
	free(ls->routes);
	ls->routes = NULL;
	ls->nroutes = 0;
	ls->accept_from = NULL;
	ls->n_accept_from = 0;
	listener_unref(ls);
}

/* Routes of each listener point into srv->tunnels: rebuild them. */
static int rebuild_routes(struct server *srv)
{
	for (struct listener *ls = srv->listeners; ls; ls = ls->next) {
		size_t k = 0;
		for (size_t i = 0; i < srv->tunnels.n; i++)
			if (strcmp(srv->tunnels.v[i].key, ls->key) == 0)
				k++;
		const struct tunnel **r = k ? calloc(k, sizeof(*r)) : NULL;
		if (k && r == NULL)
			return -ENOMEM;
		k = 0;
		for (size_t i = 0; i < srv->tunnels.n; i++)
			if (strcmp(srv->tunnels.v[i].key, ls->key) == 0)
				r[k++] = &srv->tunnels.v[i];
		free(ls->routes);
		ls->routes = r;
		ls->nroutes = k;
		ls->accept_from = k ? r[0]->accept_from : NULL;
		ls->n_accept_from = k ? r[0]->n_accept_from : 0;
	}
	return 0;
}

int tunnels_apply(struct server *srv, struct tunnel_set *ts, json_t *errors)
{
	struct listener *fresh = NULL;
	int status = 200;
	/* 1. Bind what is new. */
	for (size_t i = 0; i < ts->n; i++) {
		struct tunnel *t = &ts->v[i];
		if (listener_find(srv, t->key))
			continue;
		bool dup = false;
		for (struct listener *f = fresh; f; f = f->next)
			dup |= strcmp(f->key, t->key) == 0;
		if (dup)
			continue;
		char err[SOCK_ERRLEN];
		int fd = sock_listen(t->addr, t->port, 1024, SOCK_LISTEN_NODELAY, err);
		if (fd < 0) {
			if (fd == -EADDRINUSE) {
				add_error(errors, (long)i, "ListenPort", "Port Conflict: port %u on %s is already in use",
					  t->port, t->addr);
				if (status != 500)
					status = 409;
			} else {
				add_error(errors, (long)i, "ListenAddress", "cannot listen on %s: %s", t->key, err);
				status = 500;
			}
			continue;
		}
		struct listener *ls = calloc(1, sizeof(*ls));
		if (ls == NULL) {
			close(fd);
			add_error(errors, (long)i, NULL, "out of memory");
			status = 500;
			continue;
		}
		ls->srv = srv;
		ls->fd = fd;
		ls->refs = 1;
		ls->port = t->port;
		snprintf(ls->key, sizeof(ls->key), "%s", t->key);
		loop_timer_init(&ls->pause, on_pause_end, ls);
		ls->next = fresh;
		fresh = ls;
	}
	if (status != 200) {
		while (fresh) {
			struct listener *ls = fresh;
			fresh = ls->next;
			listener_free(srv, ls);
		}
		return status;
	}
	/* 2. Commit: close what the new table does not need, adopt the rest. */
	struct listener **pp = &srv->listeners;
	while (*pp) {
		struct listener *ls = *pp;
		bool keep = false;
		for (size_t i = 0; i < ts->n && !keep; i++)
			keep = strcmp(ts->v[i].key, ls->key) == 0;
		if (keep) {
			pp = &ls->next;
			continue;
		}
		log_info("no longer listening on %s", ls->key);
		*pp = ls->next;
		listener_free(srv, ls);
	}
	while (fresh) {
		struct listener *ls = fresh;
		fresh = ls->next;
		if (loop_watch(srv->loop, ls->fd, LOOP_READ, on_accept, ls) != 0) {
			/* Cannot happen for a fresh socket short of ENOMEM. */
			log_errorx("listener %s: cannot watch the socket", ls->key);
		}
		log_info("now listening on %s", ls->key);
		ls->next = srv->listeners;
		srv->listeners = ls;
	}
	tunnel_set_clear(&srv->tunnels);
	srv->tunnels = *ts;
	memset(ts, 0, sizeof(*ts));
	if (rebuild_routes(srv) != 0)
		log_errorx("tunnels: out of memory rebuilding routes");
	return 200;
}

void tunnels_close_listeners(struct server *srv)
{
	while (srv->listeners) {
		struct listener *ls = srv->listeners;
		srv->listeners = ls->next;
		listener_free(srv, ls);
	}
}

void tunnels_close_all(struct server *srv)
{
	tunnels_close_listeners(srv);
	tunnel_set_clear(&srv->tunnels);
}

/* ---- persistence ---- */

int tunnels_save(struct server *srv, char *err, size_t errlen)
{
	const char *path = srv->cfg->tunnels_file;
	if (path == NULL)
		return 0;
	json_t *j = tunnels_to_json(&srv->tunnels);
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	if (text == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	char tmp[4096];
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		goto out;
	}
	size_t len = strlen(text), off = 0;
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
			close(fd);
			unlink(tmp);
			goto out;
		}
		off += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) != 0) {
		snprintf(err, errlen, "%s: %s", tmp, strerror(errno));
		close(fd);
		unlink(tmp);
		goto out;
	}
	close(fd);
	if (rename(tmp, path) != 0) {
		snprintf(err, errlen, "rename %s: %s", path, strerror(errno));
		unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	free(text);
	return rc;
}

int tunnels_restore(struct server *srv, char *err, size_t errlen)
{
	const char *path = srv->cfg->tunnels_file;
	if (path == NULL)
		return 0;
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		if (errno == ENOENT) {
			log_info("tunnels: %s does not exist yet; starting with no tunnels", path);
			return 0;
		}
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *text = malloc(1024 * 1024 + 1);
	size_t len = text ? fread(text, 1, 1024 * 1024 + 1, f) : 0;
	fclose(f);
	if (text == NULL || len > 1024 * 1024) {
		free(text);
		snprintf(err, errlen, "%s: larger than 1 MiB", path);
		return -1;
	}
	json_t *errors = json_array();
	struct tunnel_set ts;
	int status = tunnels_parse(srv, text, len, &ts, errors);
	free(text);
	if (status == 200)
		status = tunnels_apply(srv, &ts, errors);
	tunnel_set_clear(&ts);
	if (status != 200) {
		json_t *e0 = json_array_get(errors, 0);
		json_t *msg = e0 ? json_object_get(e0, "error") : NULL;
		json_t *idx = e0 ? json_object_get(e0, "index") : NULL;
		snprintf(err, errlen, "%s: tunnel %lld: %s", path, idx ? (long long)json_integer_value(idx) : -1LL,
			 msg ? json_string_value(msg) : "invalid");
		json_decref(errors);
		return -1;
	}
	json_decref(errors);
	log_info("tunnels: restored %zu tunnels from %s", srv->tunnels.n, path);
	return 0;
}
