/*
 * Server internals shared by server.c (control port, sessions, visitors),
 * tunnels.c (tunnel table, public listeners) and mgmt.c (management API).
 * Not a public header.
 */
#ifndef THRESHOLD_SERVER_INTERNAL_H
#define THRESHOLD_SERVER_INTERNAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/loop.h"
#include "base/sock.h"
#include "server/server.h"
#include "tunnel/config.h"
#include "tunnel/mconn.h"
#include "wire/cidr.h"

/* Client states, names as the original's (go-original.md §5.3). */
enum client_state {
	CLIENT_UNKNOWN = 0,
	CLIENT_STARTED,
	CLIENT_CONNECTING,
	CLIENT_CONNECTED,
	CLIENT_DISCONNECTED,
	CLIENT_CLOSED,
	CLIENT_ERROR, /* shown by the management API only (ClientClosed with an error) */
};
const char *client_state_name(enum client_state s);

/* One entry of PUT /tunnels, as given. */
struct tunnel {
	bool proxy;	    /* HaProxyProxyProtocol */
	char *addr;	    /* ListenAddress (IP literal) */
	char *glob;	    /* ListenHostnameGlob ("" allowed) */
	uint16_t port;	    /* ListenPort */
	char *service;	    /* BackEndService ("" means the port as a string) */
	char *client;	    /* ClientIdentifier */
	int proxy_version;  /* ProxyProtocolVersion: 1 or 2 (1 when not given) */
	bool proxy_version_given;
	struct cidr *accept_from; /* AcceptProxyProtocolFrom: trusted load balancers */
	size_t n_accept_from;
	bool accept_from_given;
	char key[SOCK_ADDRSTRLEN]; /* canonical "ip:port" of the listener */
};

struct tunnel_set {
	struct tunnel *v;
	size_t n;
	bool null_body; /* the body was `null` (echoed back as null) */
};
void tunnel_set_clear(struct tunnel_set *ts);

/* A public listening socket (one per canonical address:port). */
struct listener {
	struct server *srv;
	struct listener *next;
	int fd;
	char key[SOCK_ADDRSTRLEN];
	uint16_t port;
	const struct tunnel **routes; /* into srv->tunnels, in body order */
	size_t nroutes;
	size_t nvisitors;	/* visitors accepted and not yet ended */
	size_t refs;		/* the table (while listed) + one per visitor */
	const struct cidr *accept_from; /* from its tunnels (all agree); NULL = none */
	size_t n_accept_from;
	struct loop_timer pause; /* accept paused after EMFILE/ENFILE */
};

struct visitor;
struct ctl;

/* TLS facts of a control session, taken when it started. */
struct session_tls {
	bool on;
	char version[16];	/* "TLSv1.3" */
	bool ktls_send, ktls_recv; /* the kernel took the send / receive path */
};

/* A known client id and its state. */
struct client_entry {
	struct client_entry *next;
	char *id;
	enum client_state cur, last;
	struct ctl *ctl;		/* connected session, or NULL */
	struct visitor *waiting;	/* visitors held for VisitorGraceSeconds */
};

struct server {
	struct loop *loop;
	struct mconn_env *env;
	const struct config_server *cfg;
	int control_fd, mgmt_fd; /* mgmt_fd == -1 in the single-port layout */
	struct client_entry *clients;
	size_t nclients;
	struct tunnel_set tunnels;
	struct listener *listeners;
	struct ctl *ctls;	/* every control session, also those in handshake */
	struct visitor *peeking; /* visitors whose SNI is being read */
	uint64_t next_conn_id;
	uint32_t boot_id;
	size_t nhttp;		/* open HTTP connections on control/mgmt ports */
	struct tls_ctx *tls;	/* UseTls: one server context for both ports */
	struct loop_timer accept_pause; /* control/management accepts paused (EMFILE) */
	bool stopping;
};

/* server.c */
struct client_entry *server_client_find(struct server *srv, const char *id);
/* The session's TLS facts; NULL when it is not over TLS. */
const struct session_tls *server_ctl_tls(const struct ctl *ctl);
void server_visitor_accepted(struct listener *ls, int fd, const struct sock_addr *peer);
void server_visitor_done(struct listener *ls);

/* tunnels.c: PUT body -> set, with every problem in `errors`
 * ([{"index":i,"field":"ListenPort","error":"..."}]). Returns the HTTP
 * status: 200, 400 (bad values), 409 (conflicts), 422 (not JSON / types). */
int tunnels_parse(struct server *srv, const char *body, size_t len, struct tunnel_set *out,
		  json_t *errors);
/* Binds what is new, then swaps in `ts` (taken over on success); on failure
 * nothing changes and `errors` says why. Returns 200, 409 or 500. */
int tunnels_apply(struct server *srv, struct tunnel_set *ts, json_t *errors);
/* The set as the API shows it (Go's field order). */
json_t *tunnels_to_json(const struct tunnel_set *ts);
void tunnels_close_all(struct server *srv);
/* Closes every public socket (the table stays recorded). */
void tunnels_close_listeners(struct server *srv);
/* Drops a visitor's reference. */
void listener_unref(struct listener *ls);
/* Writes the table to TunnelsFile atomically (no-op without one). */
int tunnels_save(struct server *srv, char *err, size_t errlen);
/* Restores TunnelsFile at start; logs and returns 0 if there is none. */
int tunnels_restore(struct server *srv, char *err, size_t errlen);

/* mgmt.c: a complete management request. Writes status, content type and
 * body (caller frees *body). */
struct http_request;
void mgmt_handle(struct server *srv, const struct http_request *req, const char *path,
		 const char *body, size_t body_len, int *status, const char **ctype, char **out,
		 size_t *out_len, const char **extra_headers);

#endif
