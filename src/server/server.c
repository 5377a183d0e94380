/*
 * server: control port, HTTP front door, control sessions, client registry
 * and visitors. The tunnel table and public listeners live in tunnels.c,
 * the management API handlers in mgmt.c.
 *
 * Life of a client connection (struct hconn, then struct ctl):
 *   accept -> read the HTTP head (deadline: HandshakeTimeoutSeconds) ->
 *   CONNECT /_controlPath/ with an identity -> "200 Connected to Tunnel" ->
 *   yamux (mconn) -> stream 1 + "controlHandshake" (same deadline) ->
 *   "controlOk" -> registered: the client entry points at this ctl; an older
 *   session of the same id is told GoAway and closed (replaced, never
 *   kicked-and-failed as in the original).
 *
 * Life of a visitor: accepted by a public listener (tunnels.c) -> routed
 * to a tunnel -> its client's session:
 *   - server-open in force: a stream is opened at once with the preamble
 *     and PROXY header as its first bytes -> relay;
 *   - Go client: a control message on stream 1 and a place in the FIFO
 *     queue; the client's next stream is this visitor's. A visitor that
 *     times out keeps its place (abandoned), so the late stream is reset
 *     instead of reaching the next visitor.
 *   - client not connected: closed at once, or held VisitorGraceSeconds.
 */
#include "server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/sock.h"
#include "base/tls.h"
#include "server/internal.h"
#include "tunnel/relay.h"
#include "wire/control_msg.h"
#include "wire/glob.h"
#include "wire/tls_sni.h"
#include "wire/http.h"
#include "wire/proxy.h"

#define HCONN_HEAD_MAX HTTP_HEAD_MAX_DEFAULT
#define HCONN_BODY_MAX (1024u * 1024)
#define HCONN_BODY_TIMEOUT_MS 30000
#define HCONN_MAX 1024
#define CLIENTS_MAX 10000
#define CTL_QUEUE_MAX 4096
#define CLIENT_ID_MAX 255

static const char CONTROL_HANDSHAKE[] = "controlHandshake";
static const char CONTROL_OK[] = "controlOk";

const char *client_state_name(enum client_state s)
{
	switch (s) {
	case CLIENT_UNKNOWN: return "ClientUnknown";
	case CLIENT_STARTED: return "ClientStarted";
	case CLIENT_CONNECTING: return "ClientConnecting";
	case CLIENT_CONNECTED: return "ClientConnected";
	case CLIENT_DISCONNECTED: return "ClientDisconnected";
	case CLIENT_CLOSED: return "ClientClosed";
	case CLIENT_ERROR: return "ClientError";
	}
	return "ClientUnknown";
}

/* ------------------------------------------------------------------ */
/* registry                                                            */

struct client_entry *server_client_find(struct server *srv, const char *id)
{
	for (struct client_entry *c = srv->clients; c; c = c->next)
		if (strcmp(c->id, id) == 0)
			return c;
	return NULL;
}

static void client_entry_free(struct client_entry *c)
{
	free(c->id);
	free(c);
}

static struct client_entry *client_entry_get(struct server *srv, const char *id)
{
	struct client_entry *c = server_client_find(srv, id);
	if (c)
		return c;
	if (srv->nclients >= CLIENTS_MAX) {
		/* Forget the oldest entry that holds nothing. */
		struct client_entry **pp = &srv->clients, **victim = NULL;
		for (; *pp; pp = &(*pp)->next)
			if ((*pp)->ctl == NULL && (*pp)->waiting == NULL)
				victim = pp;
		if (victim == NULL)
			return NULL;
		struct client_entry *v = *victim;
		*victim = v->next;
		client_entry_free(v);
		srv->nclients--;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->id = strdup(id)) == NULL) {
		free(c);
		return NULL;
	}
	c->next = srv->clients;
	srv->clients = c;
	srv->nclients++;
	return c;
}

static void client_set_state(struct client_entry *c, enum client_state st, const char *err)
{
	c->last = c->cur;
	c->cur = st;
	log_info("client %s: %s -> %s%s%s%s", c->id, client_state_name(c->last), client_state_name(c->cur),
		 err ? " (" : "", err ? err : "", err ? ")" : "");
}

/* ------------------------------------------------------------------ */
/* visitors                                                            */

enum visitor_state { V_NEW, V_PEEK, V_GRACE, V_QUEUED, V_ABANDONED };

struct visitor {
	struct server *srv;
	struct listener *ls;
	struct visitor *next;	/* grace list, or the ctl's FIFO */
	struct visitor *pnext, *pprev; /* the server's list of peeking visitors */
	int fd;
	uint8_t *peek;		/* bytes read to find the SNI; sent on unchanged */
	size_t peek_len;
	char host[SNI_NAME_BUF]; /* SNI host name, "" without */
	bool want_proxy;	/* first bytes still to check for a PROXY header */
	bool trusted;		/* from an AcceptProxyProtocolFrom address */
	bool sni;		/* the port routes by SNI */
	int proxy_version;	/* header to send the backend: 0 none, 1, 2 */
	enum visitor_state state;
	struct sock_addr peer, local;
	const struct tunnel *route; /* valid only until dispatch (table may change) */
	char *client, *service;
	bool proxy;
	struct loop_timer timer;
	char id[40];
	char peer_str[SOCK_ADDRSTRLEN];
};

struct ctl;
static void visitor_dispatch(struct server *srv, struct visitor *v, struct ctl *ctl);

static void peek_unlink(struct visitor *v)
{
	struct server *srv = v->srv;
	if (v->state != V_PEEK)
		return;
	if (v->pprev)
		v->pprev->pnext = v->pnext;
	else if (srv->peeking == v)
		srv->peeking = v->pnext;
	if (v->pnext)
		v->pnext->pprev = v->pprev;
	v->pnext = v->pprev = NULL;
	if (v->fd >= 0)
		loop_unwatch(srv->loop, v->fd);
}

static void visitor_free(struct visitor *v)
{
	loop_timer_stop(v->srv->loop, &v->timer);
	peek_unlink(v);
	if (v->fd >= 0) {
		close(v->fd);
		server_visitor_done(v->ls);
	}
	free(v->peek);
	free(v->client);
	free(v->service);
	free(v);
}

static void relay_done(void *udata, struct relay *r)
{
	(void)r;
	server_visitor_done(udata);
}

/* ------------------------------------------------------------------ */
/* control sessions                                                    */

enum ctl_state { CTL_WAIT_STREAM, CTL_WAIT_HANDSHAKE, CTL_READY, CTL_DEAD };

struct ctl {
	struct mstream_handler h; /* the control stream's handler */
	struct server *srv;
	struct ctl *next, *prev;
	char *id;
	char peer[SOCK_ADDRSTRLEN];
	struct mconn *mc;
	struct mux_stream *control;
	enum ctl_state state;
	char hs[16];
	size_t hs_len;
	bool f_server_open, f_half_close, f_deferred_ack;
	struct session_tls tls;	/* tls.on: the session runs over TLS */
	struct loop_timer timer;
	struct visitor *q_head, *q_tail;
	size_t q_len;
	struct loop_deferred reap;
};

static void ctl_unlink(struct ctl *ctl)
{
	struct server *srv = ctl->srv;
	if (ctl->prev)
		ctl->prev->next = ctl->next;
	else if (srv->ctls == ctl)
		srv->ctls = ctl->next;
	if (ctl->next)
		ctl->next->prev = ctl->prev;
	ctl->next = ctl->prev = NULL;
}

static void ctl_reap(void *arg)
{
	struct ctl *ctl = arg;
	free(ctl->id);
	free(ctl);
}

const struct session_tls *server_ctl_tls(const struct ctl *ctl)
{
	return ctl != NULL && ctl->tls.on ? &ctl->tls : NULL;
}

static void ctl_fail(struct ctl *ctl, const char *why)
{
	if (ctl->state == CTL_DEAD)
		return;
	log_warnx("control session %s from %s: %s", ctl->id, ctl->peer, why);
	mconn_close(ctl->mc, MUX_GOAWAY_NORMAL, MUX_E_LOCAL);
}

/* The control stream. */
static void cs_data(struct mstream_handler *h, struct mux_stream *s, const uint8_t *p, size_t n)
{
	struct ctl *ctl = (struct ctl *)h;
	mux_stream_consumed(s, n);
	if (ctl->state != CTL_WAIT_HANDSHAKE)
		return; /* the Go client sends nothing more; ours neither (yet) */
	size_t want = sizeof(ctl->hs) - ctl->hs_len;
	size_t take = n < want ? n : want;
	memcpy(ctl->hs + ctl->hs_len, p, take);
	ctl->hs_len += take;
	if (memcmp(ctl->hs, CONTROL_HANDSHAKE, ctl->hs_len) != 0) {
		ctl_fail(ctl, "handshake aborted: the client did not send controlHandshake");
		return;
	}
	if (ctl->hs_len < sizeof(ctl->hs))
		return;
	struct iovec iov = {(void *)CONTROL_OK, sizeof(CONTROL_OK) - 1};
	if (mux_stream_write(s, &iov, 1) != (ssize_t)iov.iov_len) {
		ctl_fail(ctl, "cannot write controlOk");
		return;
	}
	loop_timer_stop(ctl->srv->loop, &ctl->timer);
	struct server *srv = ctl->srv;
	struct client_entry *ce = client_entry_get(srv, ctl->id);
	if (ce == NULL) {
		ctl_fail(ctl, "client registry full");
		return;
	}
	ctl->state = CTL_READY;
	struct ctl *old = ce->ctl;
	ce->ctl = ctl;
	if (old != NULL) {
		log_info("client %s: new session from %s replaces the one from %s", ctl->id, ctl->peer, old->peer);
		mconn_close(old->mc, MUX_GOAWAY_NORMAL, MUX_E_LOCAL);
	}
	if (ce->cur != CLIENT_CONNECTED || old == NULL)
		client_set_state(ce, CLIENT_CONNECTED, NULL);
	if (ctl->tls.on)
		log_info("client %s connected from %s (features:%s%s%s; %s, kTLS send: %s, receive: %s)", ctl->id,
			 ctl->peer, ctl->f_server_open ? " server-open" : "", ctl->f_half_close ? " half-close" : "",
			 ctl->f_deferred_ack ? " deferred-ack" : "", ctl->tls.version, ctl->tls.ktls_send ? "yes" : "no",
			 ctl->tls.ktls_recv ? "yes" : "no");
	else
		log_info("client %s connected from %s (features:%s%s%s)", ctl->id, ctl->peer,
			 ctl->f_server_open ? " server-open" : "", ctl->f_half_close ? " half-close" : "",
			 ctl->f_deferred_ack ? " deferred-ack" : "");
	/* Visitors held while the client was away. */
	struct visitor *w = ce->waiting;
	ce->waiting = NULL;
	while (w) {
		struct visitor *v = w;
		w = v->next;
		v->next = NULL;
		loop_timer_stop(srv->loop, &v->timer);
		if (ce->ctl == ctl && ctl->state == CTL_READY)
			visitor_dispatch(srv, v, ctl);
		else
			visitor_free(v);
	}
}

static void cs_fin(struct mstream_handler *h, struct mux_stream *s)
{
	struct ctl *ctl = (struct ctl *)h;
	(void)s;
	ctl_fail(ctl, "the client closed its control stream");
}

static void cs_reset(struct mstream_handler *h, struct mux_stream *s, int err)
{
	struct ctl *ctl = (struct ctl *)h;
	mux_stream_set_udata(s, NULL);
	mux_stream_release(s);
	ctl->control = NULL;
	if (ctl->state != CTL_DEAD && err == MUX_E_RESET)
		ctl_fail(ctl, "the client reset its control stream");
}

static const struct mstream_ops control_stream_ops = {
	.data = cs_data,
	.fin = cs_fin,
	.reset = cs_reset,
};

static void start_relay(struct server *srv, struct ctl *ctl, struct visitor *v, struct mux_stream *s,
			const char *preamble, size_t plen)
{
	/* Preamble (server-open), PROXY header, then the peeked bytes. */
	size_t cap = plen + PROXY_V2_BUF_LEN + v->peek_len;
	char *prefix = malloc(cap);
	size_t off = 0;
	if (prefix == NULL)
		goto fail;
	if (preamble) {
		memcpy(prefix, preamble, plen);
		off = plen;
	}
	if (v->proxy) {
		/* The address the visitor reached, unless a PROXY header that
		 * came in already said it. */
		if (v->local.len == 0) {
			if (sock_local_addr(v->fd, &v->local, NULL) != 0)
				goto fail;
			sock_addr_unmap(&v->local);
		}
		ssize_t n;
		if (v->proxy_version == 2) {
			struct proxy_v2_tlvs tlvs = {
				.authority = v->host[0] ? v->host : NULL,
				.unique_id = (const uint8_t *)v->id,
				.unique_id_len = strlen(v->id),
			};
			n = proxy_v2_write((uint8_t *)prefix + off, cap - off, &v->peer.ss, &v->local.ss, &tlvs);
		} else {
			n = proxy_v1_write(prefix + off, cap - off, &v->peer.ss, &v->local.ss);
		}
		if (n < 0) {
			log_warnx("visitor %s: cannot write a PROXY header for %s", v->id, v->peer_str);
			goto fail;
		}
		off += (size_t)n;
	}
	if (v->peek_len) {
		memcpy(prefix + off, v->peek, v->peek_len);
		off += v->peek_len;
	}
	struct relay_info info = {
		.client = ctl->id,
		.service = v->service,
		.peer = v->peer_str,
		.half_close = ctl->f_half_close,
		.id = v->id,
	};
	int fd = v->fd;
	struct listener *ls = v->ls;
	bool peeked = v->peek != NULL; /* the peek read what there was */
	/* The relay takes the fd and the listener reference (info is copied). */
	struct relay *r = relay_new(ctl->mc, s, fd, &info, relay_done, ls);
	v->fd = -1;
	visitor_free(v);
	if (r == NULL) {
		server_visitor_done(ls);
		return;
	}
	if (off > 0 && relay_send_prefix(r, prefix, off) != 0)
		relay_abort(r, "cannot send the stream prefix");
	else if (!peeked)
		relay_read_now(r); /* what the visitor sent already joins the stream's first frames */
	free(prefix);
	(void)srv;
	return;
fail:
	free(prefix);
	mux_stream_reset(s);
	mux_stream_release(s);
	visitor_free(v);
}

static void ctl_stream_open(void *owner, struct mconn *c, struct mux_stream *s)
{
	struct ctl *ctl = owner;
	struct server *srv = ctl->srv;
	(void)c;
	if (ctl->state == CTL_WAIT_STREAM) {
		ctl->control = s;
		mconn_stream_bind(s, &ctl->h);
		mux_stream_accept(s);
		ctl->state = CTL_WAIT_HANDSHAKE;
		return;
	}
	if (ctl->state != CTL_READY || ctl->f_server_open || ctl->q_head == NULL) {
		log_warnx("client %s: unexpected stream %u, reset", ctl->id, mux_stream_id(s));
		mux_stream_reset(s);
		mux_stream_release(s);
		return;
	}
	struct visitor *v = ctl->q_head;
	ctl->q_head = v->next;
	if (ctl->q_head == NULL)
		ctl->q_tail = NULL;
	ctl->q_len--;
	v->next = NULL;
	if (v->state == V_ABANDONED) {
		log_info("client %s: stream %u arrived for visitor %s that gave up; reset", ctl->id,
			 mux_stream_id(s), v->id);
		mux_stream_reset(s);
		mux_stream_release(s);
		visitor_free(v);
		return;
	}
	loop_timer_stop(srv->loop, &v->timer);
	mux_stream_accept(s);
	start_relay(srv, ctl, v, s, NULL, 0);
}

static void ctl_closed(void *owner, struct mconn *c, int err)
{
	struct ctl *ctl = owner;
	struct server *srv = ctl->srv;
	(void)c;
	enum ctl_state was = ctl->state;
	ctl->state = CTL_DEAD;
	loop_timer_stop(srv->loop, &ctl->timer);
	while (ctl->q_head) {
		struct visitor *v = ctl->q_head;
		ctl->q_head = v->next;
		visitor_free(v);
	}
	ctl->q_tail = NULL;
	ctl->q_len = 0;
	struct client_entry *ce = ctl->id ? server_client_find(srv, ctl->id) : NULL;
	if (ce && ce->ctl == ctl) {
		ce->ctl = NULL;
		bool clean = err == MUX_E_EOF || err == MUX_E_LOCAL || err == MUX_E_REMOTE_GOAWAY;
		client_set_state(ce, clean ? CLIENT_CLOSED : CLIENT_ERROR, clean ? NULL : mux_strerror(err));
	} else if (was != CTL_READY) {
		log_info("control session %s from %s ended before its handshake: %s", ctl->id ? ctl->id : "-",
			 ctl->peer, mux_strerror(err));
	}
	ctl_unlink(ctl);
	loop_defer(srv->loop, &ctl->reap, ctl_reap, ctl);
}

static const struct mconn_owner_ops ctl_owner_ops = {
	.stream_open = ctl_stream_open,
	.closed = ctl_closed,
};

static void ctl_on_timer(struct loop *l, struct loop_timer *t, void *udata)
{
	struct ctl *ctl = udata;
	(void)l;
	(void)t;
	if (ctl->state == CTL_WAIT_STREAM || ctl->state == CTL_WAIT_HANDSHAKE)
		ctl_fail(ctl, "timed out waiting for controlHandshake");
}

/* ------------------------------------------------------------------ */
/* visitor dispatch                                                    */

static void visitor_queue_timeout(struct loop *l, struct loop_timer *t, void *udata)
{
	struct visitor *v = udata;
	(void)l;
	(void)t;
	log_warnx("visitor %s from %s: client %s opened no stream within %u ms; closed", v->id, v->peer_str,
		  v->client, v->srv->cfg->stream_open_timeout_ms);
	/* Keep the slot: the client's late stream is reset, not misrouted. */
	v->state = V_ABANDONED;
	close(v->fd);
	v->fd = -1;
	server_visitor_done(v->ls);
}

static void visitor_dispatch(struct server *srv, struct visitor *v, struct ctl *ctl)
{
	if (ctl->f_server_open) {
		int err = 0;
		struct mux_stream *s = mconn_open_stream(ctl->mc, NULL, &err);
		if (s == NULL) {
			log_warnx("visitor %s from %s: cannot open a stream to client %s: %s", v->id, v->peer_str,
				  ctl->id, mux_strerror(err));
			visitor_free(v);
			return;
		}
		char pre[CONTROL_MSG_ENCODED_MAX];
		ssize_t n = control_msg_encode(pre, sizeof(pre), CONTROL_ACTION_REQUEST_CLIENT_SESSION, v->service,
					       strlen(v->service));
		if (n < 0) {
			mux_stream_reset(s);
			mux_stream_release(s);
			visitor_free(v);
			return;
		}
		start_relay(srv, ctl, v, s, pre, (size_t)n);
		mconn_kick(ctl->mc);
		return;
	}
	/* Go client: control message + FIFO slot. */
	if (ctl->q_len >= CTL_QUEUE_MAX || ctl->control == NULL) {
		log_warnx("visitor %s from %s: client %s has %zu visitors waiting for streams; closed", v->id,
			  v->peer_str, ctl->id, ctl->q_len);
		visitor_free(v);
		return;
	}
	char msg[CONTROL_MSG_ENCODED_MAX];
	ssize_t n = control_msg_encode(msg, sizeof(msg), CONTROL_ACTION_REQUEST_CLIENT_SESSION, v->service,
				       strlen(v->service));
	struct iovec iov = {msg, n > 0 ? (size_t)n : 0};
	if (n < 0 || mux_stream_write(ctl->control, &iov, 1) != n) {
		log_warnx("visitor %s: cannot write the control message to client %s (window full?)", v->id,
			  ctl->id);
		visitor_free(v);
		return;
	}
	/* Queued in the same step that wrote the message: strict FIFO. */
	v->state = V_QUEUED;
	v->next = NULL;
	if (ctl->q_tail)
		ctl->q_tail->next = v;
	else
		ctl->q_head = v;
	ctl->q_tail = v;
	ctl->q_len++;
	loop_timer_init(&v->timer, visitor_queue_timeout, v);
	loop_timer_start(srv->loop, &v->timer, srv->cfg->stream_open_timeout_ms);
}

static void visitor_grace_timeout(struct loop *l, struct loop_timer *t, void *udata)
{
	struct visitor *v = udata;
	(void)l;
	(void)t;
	struct client_entry *ce = server_client_find(v->srv, v->client);
	if (ce) {
		struct visitor **pp = &ce->waiting;
		while (*pp && *pp != v)
			pp = &(*pp)->next;
		if (*pp)
			*pp = v->next;
	}
	log_info("visitor %s from %s: client %s did not come back within the grace time; closed", v->id,
		 v->peer_str, v->client);
	visitor_free(v);
}

/* The tunnel for a visitor: the most specific glob matching its SNI host
 * ("" without), ties to the earliest (wire/glob.h). */
static const struct tunnel *route_visitor(const struct listener *ls, const char *host)
{
	enum { MAXR = 64 };
	const char *globs[MAXR];
	size_t n = ls->nroutes < MAXR ? ls->nroutes : MAXR;
	for (size_t i = 0; i < n; i++)
		globs[i] = ls->routes[i]->glob;
	ssize_t k = glob_pick(globs, n, host);
	return k < 0 ? NULL : ls->routes[k];
}

/* Whether visitors of ls must be peeked for an SNI host name: only when
 * some tunnel on the port has a glob other than `*` (so server-speaks-first
 * protocols work on plain ports). */
static bool needs_peek(const struct listener *ls)
{
	for (size_t i = 0; i < ls->nroutes; i++) {
		const char *g = ls->routes[i]->glob;
		if (g[0] != '\0' && strcmp(g, "*") != 0)
			return true;
	}
	return false;
}

static void visitor_route(struct visitor *v);

/* The peek is over (host known, or not TLS, or timed out): stop watching. */
static void peek_done(struct visitor *v)
{
	loop_timer_stop(v->srv->loop, &v->timer);
	peek_unlink(v);
	v->state = V_NEW;
	visitor_route(v);
}

/* Bytes at the start of a visitor from a trusted load balancer: its PROXY
 * header, consumed to its exact length; the address it carries becomes the
 * visitor's. From anyone else on such a port, a PROXY header is refused.
 * Returns 1 when done, 0 to wait for more, -1 when the visitor was freed. */
static int visitor_proxy_in(struct visitor *v)
{
	if (!v->trusted) {
		int d = proxy_detect(v->peek, v->peek_len);
		if (d == PROXY_DETECT_NEED_MORE)
			return 0;
		if (d != PROXY_DETECT_NONE) {
			log_warnx("visitor %s from %s: sent a PROXY header but is not in AcceptProxyProtocolFrom; refused",
				  v->id, v->peer_str);
			visitor_free(v);
			return -1;
		}
		v->want_proxy = false;
		return 1;
	}
	struct proxy_hdr hdr;
	size_t used = 0;
	int rc = proxy_parse(v->peek, v->peek_len, &hdr, &used);
	if (rc == PROXY_NEED_MORE)
		return 0;
	if (rc != PROXY_OK) {
		log_warnx("visitor %s from %s (a trusted load balancer): no valid PROXY header; closed", v->id,
			  v->peer_str);
		visitor_free(v);
		return -1;
	}
	if (hdr.family != AF_UNSPEC) {
		char was[SOCK_ADDRSTRLEN];
		snprintf(was, sizeof(was), "%s", v->peer_str);
		memcpy(&v->peer.ss, &hdr.src, sizeof(hdr.src));
		v->peer.len = hdr.family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
		memcpy(&v->local.ss, &hdr.dst, sizeof(hdr.dst));
		v->local.len = v->peer.len;
		sock_addr_unmap(&v->peer);
		sock_addr_unmap(&v->local);
		sock_addr_str(&v->peer, v->peer_str, sizeof(v->peer_str));
		log_debug("visitor %s: PROXY v%d from %s: the visitor is %s", v->id, hdr.version, was, v->peer_str);
	}
	memmove(v->peek, v->peek + used, v->peek_len - used);
	v->peek_len -= used;
	v->want_proxy = false;
	return 1;
}

/* Looks at what has been read: PROXY header first (if the port takes
 * them), then the SNI (if the port routes by it). */
static void visitor_peek_step(struct visitor *v)
{
	if (v->want_proxy) {
		int rc = visitor_proxy_in(v);
		if (rc <= 0)
			return;
	}
	if (!v->sni) {
		peek_done(v);
		return;
	}
	if (v->peek_len == 0)
		return;
	struct sni_info info;
	int rc = sni_parse(v->peek, v->peek_len, &info);
	switch (rc) {
	case SNI_NEED_MORE:
		return;
	case SNI_OK:
		snprintf(v->host, sizeof(v->host), "%s", info.name);
		break;
	case SNI_NO_SNI:
	case SNI_NOT_TLS:
		break;
	default:
		log_info("visitor %s from %s: unusable ClientHello (%s); routed without a hostname", v->id,
			 v->peer_str,
			 rc == SNI_BAD_NAME ? "invalid server name"
					    : rc == SNI_TOO_LARGE ? "too large" : "malformed");
		break;
	}
	peek_done(v);
}

#define PEEK_CAP (SNI_SPAN_MAX + PROXY_V2_MAX_LEN)

static void visitor_peek_io(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct visitor *v = udata;
	(void)l;
	(void)events;
	ssize_t r;
	do
		r = read(fd, v->peek + v->peek_len, PEEK_CAP - v->peek_len);
	while (r < 0 && errno == EINTR);
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return;
	if (r <= 0) {
		log_info("visitor %s from %s: closed before it could be routed (%zu bytes)", v->id, v->peer_str,
			 v->peek_len);
		visitor_free(v);
		return;
	}
	v->peek_len += (size_t)r;
	visitor_peek_step(v);
}

static void visitor_peek_timeout(struct loop *l, struct loop_timer *t, void *udata)
{
	struct visitor *v = udata;
	(void)l;
	(void)t;
	if (v->want_proxy && v->trusted) {
		log_warnx("visitor %s from %s (a trusted load balancer): no PROXY header within %u ms; closed", v->id,
			  v->peer_str, v->srv->cfg->sni_peek_timeout_ms);
		visitor_free(v);
		return;
	}
	log_debug("visitor %s from %s: nothing to route by within %u ms (%zu bytes); routed without a hostname",
		  v->id, v->peer_str, v->srv->cfg->sni_peek_timeout_ms, v->peek_len);
	peek_done(v);
}

void server_visitor_accepted(struct listener *ls, int fd, const struct sock_addr *peer)
{
	struct server *srv = ls->srv;
	struct visitor *v = calloc(1, sizeof(*v));
	if (v == NULL) {
		close(fd);
		server_visitor_done(ls);
		return;
	}
	v->srv = srv;
	v->ls = ls;
	v->fd = fd;
	v->peer = *peer;
	sock_addr_unmap(&v->peer);
	sock_addr_str(&v->peer, v->peer_str, sizeof(v->peer_str));
	snprintf(v->id, sizeof(v->id), "%08x-%llu", srv->boot_id, (unsigned long long)++srv->next_conn_id);
	/* TCP_NODELAY comes from the listener; the local address is looked
	 * up only for a PROXY header that needs it (start_relay). */
	v->sni = needs_peek(ls);
	if (ls->n_accept_from > 0) {
		v->want_proxy = true;
		for (size_t i = 0; i < ls->n_accept_from && !v->trusted; i++)
			v->trusted = cidr_match(&ls->accept_from[i], &v->peer.ss);
	}
	if (v->sni || v->want_proxy) {
		v->state = V_PEEK;
		v->peek = malloc(PEEK_CAP);
		if (v->peek == NULL) {
			visitor_free(v);
			return;
		}
		v->pnext = srv->peeking;
		if (srv->peeking)
			srv->peeking->pprev = v;
		srv->peeking = v;
		loop_timer_init(&v->timer, visitor_peek_timeout, v);
		loop_timer_start(srv->loop, &v->timer, srv->cfg->sni_peek_timeout_ms);
		if (loop_watch(srv->loop, fd, LOOP_READ, visitor_peek_io, v) != 0) {
			visitor_free(v);
			return;
		}
		return;
	}
	visitor_route(v);
}

/* Routes a visitor (after peeking, if its port needed it) and sends it on. */
static void visitor_route(struct visitor *v)
{
	struct server *srv = v->srv;
	struct listener *ls = v->ls;
	const struct tunnel *t = route_visitor(ls, v->host);
	if (t == NULL) {
		log_info("visitor %s from %s: no tunnel on %s for hostname \"%s\"; closed", v->id, v->peer_str,
			 ls->key, v->host);
		visitor_free(v);
		return;
	}
	v->proxy = t->proxy;
	v->proxy_version = t->proxy_version;
	v->client = strdup(t->client);
	if (t->service[0]) {
		v->service = strdup(t->service);
	} else {
		char port[8];
		snprintf(port, sizeof(port), "%u", t->port);
		v->service = strdup(port);
	}
	if (v->client == NULL || v->service == NULL) {
		visitor_free(v);
		return;
	}
	struct client_entry *ce = server_client_find(srv, v->client);
	if (ce && ce->ctl && ce->ctl->state == CTL_READY) {
		visitor_dispatch(srv, v, ce->ctl);
		return;
	}
	if (srv->cfg->visitor_grace_ms == 0 || (ce == NULL && (ce = client_entry_get(srv, v->client)) == NULL)) {
		log_info("visitor %s from %s: client %s is not connected; closed", v->id, v->peer_str, v->client);
		visitor_free(v);
		return;
	}
	v->state = V_GRACE;
	v->next = ce->waiting;
	ce->waiting = v;
	loop_timer_init(&v->timer, visitor_grace_timeout, v);
	loop_timer_start(srv->loop, &v->timer, srv->cfg->visitor_grace_ms);
}

/* ------------------------------------------------------------------ */
/* HTTP front door: control CONNECT and management API                 */

enum hconn_state { H_TLS, H_HEAD, H_BODY, H_WRITE, H_LINGER };

/* After an answer, unread request bytes are drained (at most this much, for
 * at most this long) so the peer reads the answer instead of a reset. */
#define HCONN_LINGER_MS 2000
#define HCONN_LINGER_BYTES (4u * 1024 * 1024)

struct hconn {
	struct server *srv;
	int fd;
	struct transport *t;	/* TCP or TLS; handed to the control session */
	char cert_cn[256];	/* CommonName of the client certificate (TLS) */
	char cert_id[256];	/* the client id it stands for */
	bool has_cert;		/* cert_id is valid */
	bool tls_failed;	/* handshake failed: drain the raw socket */
	bool mgmt_port;		/* accepted on the management port */
	bool control_port;	/* accepted on the control port */
	struct sock_addr peer;
	char peer_str[SOCK_ADDRSTRLEN];
	enum hconn_state state;
	char *in;		/* head (and the start of the body) */
	size_t in_len;
	struct http_request req;
	size_t head_len;
	char *body;
	size_t body_len, body_need;
	size_t drained;
	struct buf out;
	struct loop_timer timer;
	struct loop_deferred reap;
	bool dead;
};

static void hconn_io(struct loop *l, int fd, uint32_t events, void *udata);

static void hconn_reap(void *arg)
{
	struct hconn *hc = arg;
	free(hc->in);
	free(hc->body);
	buf_reset(&hc->out);
	free(hc);
}

/* keep_fd: the fd was handed over (to a control session). */
static void hconn_close(struct hconn *hc, bool keep_fd)
{
	if (hc->dead)
		return;
	hc->dead = true;
	loop_timer_stop(hc->srv->loop, &hc->timer);
	loop_unwatch(hc->srv->loop, hc->fd);
	if (!keep_fd)
		transport_free(hc->t);
	hc->t = NULL;
	hc->srv->nhttp--;
	loop_defer(hc->srv->loop, &hc->reap, hconn_reap, hc);
}

static void hconn_flush(struct hconn *hc)
{
	if (transport_write_buf(hc->t, &hc->out) < 0) {
		hconn_close(hc, false);
		return;
	}
	if (buf_empty(&hc->out) && transport_flush(hc->t) == 0) {
		/* Answer sent; no keep-alive. Half-close and drain what the
		 * peer still sends (lingering close), so it reads our answer
		 * rather than a reset. */
		transport_shutdown_wr(hc->t);
		hc->state = H_LINGER;
		loop_watch_set(hc->srv->loop, hc->fd, LOOP_READ);
		loop_timer_start(hc->srv->loop, &hc->timer, HCONN_LINGER_MS);
		return;
	}
	loop_watch_set(hc->srv->loop, hc->fd, LOOP_WRITE | transport_want(hc->t));
}

static void hconn_respond(struct hconn *hc, int status, const char *ctype, const char *body, size_t blen,
			  const char *extra)
{
	char head[1024];
	ssize_t n = http_write_response_head(head, sizeof(head), status, NULL, ctype, (int64_t)blen,
					     extra ? extra : "Connection: close\r\n");
	if (n < 0) {
		hconn_close(hc, false);
		return;
	}
	hc->state = H_WRITE;
	loop_timer_start(hc->srv->loop, &hc->timer, HCONN_BODY_TIMEOUT_MS);
	if (buf_append(&hc->out, head, (size_t)n) != 0 || (blen && buf_append(&hc->out, body, blen) != 0)) {
		hconn_close(hc, false);
		return;
	}
	hconn_flush(hc);
}

/* A plain-text error, Go's http.Error style ("<text>\n"). */
static void hconn_text(struct hconn *hc, int status, const char *text, const char *extra)
{
	char body[1200];
	int n = snprintf(body, sizeof(body), "%s\n", text);
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)sizeof(body) - 1;
	char hdrs[256];
	snprintf(hdrs, sizeof(hdrs), "X-Content-Type-Options: nosniff\r\nConnection: close\r\n%s",
		 extra ? extra : "");
	hconn_respond(hc, status, "text/plain; charset=utf-8", body, (size_t)n, hdrs);
}

static bool features_has(const struct http_span *v, const char *tok)
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

static bool id_ok(const struct http_span *sp)
{
	if (sp->len == 0 || sp->len > CLIENT_ID_MAX)
		return false;
	for (size_t i = 0; i < sp->len; i++) {
		unsigned char ch = (unsigned char)sp->p[i];
		if (ch < 0x21 || ch == 0x7f)
			return false;
	}
	return true;
}

static void hconn_control(struct hconn *hc)
{
	struct server *srv = hc->srv;
	const struct http_request *req = &hc->req;
	if (!http_span_eq(&req->method, "CONNECT")) {
		hconn_text(hc, 405, "405 must CONNECT\n", NULL);
		return;
	}
	const struct http_span *a = http_header_get(req->headers, req->n_headers, "X-Threshold-ClientId");
	const struct http_span *b = http_header_get(req->headers, req->n_headers, "X-Threshold-Identifier");
	const struct http_span *idsp = a ? a : b;
	if (a && b && (a->len != b->len || memcmp(a->p, b->p, a->len) != 0)) {
		log_warnx("control connection from %s: X-Threshold-ClientId and X-Threshold-Identifier differ",
			  hc->peer_str);
		hconn_text(hc, 400, "400 X-Threshold-ClientId and X-Threshold-Identifier differ", NULL);
		return;
	}
	if (idsp == NULL || !id_ok(idsp)) {
		log_warnx("control connection from %s: missing or invalid client id header", hc->peer_str);
		hconn_text(hc, 400, "400 missing or invalid X-Threshold-ClientId header", NULL);
		return;
	}
	if (srv->cfg->use_tls) {
		/* Identity comes from the certificate: the header must agree. */
		if (!hc->has_cert || strlen(hc->cert_id) != idsp->len ||
		    memcmp(hc->cert_id, idsp->p, idsp->len) != 0) {
			char claimed[CLIENT_ID_MAX + 1];
			snprintf(claimed, sizeof(claimed), "%.*s", (int)idsp->len, idsp->p);
			log_warnx("control connection from %s refused: it claims client id \"%s\" but its certificate "
				  "says \"%s\"%s%s%s",
				  hc->peer_str, claimed, hc->cert_cn, srv->cfg->domain ? " (Domain " : "",
				  srv->cfg->domain ? srv->cfg->domain : "", srv->cfg->domain ? ")" : "");
			char msg[1024];
			snprintf(msg, sizeof(msg),
				 "403 client id \"%s\" does not match the TLS certificate (CommonName \"%s\")", claimed,
				 hc->cert_cn);
			hconn_text(hc, 403, msg, NULL);
			return;
		}
	}
	const struct http_span *fs = http_header_get(req->headers, req->n_headers, "X-Threshold-Features");
	bool f_open = features_has(fs, "server-open");
	bool f_half = features_has(fs, "half-close");
	/* Only meaningful with server-open (our streams); the server just
	 * accepts the ACK whenever it comes. */
	bool f_dack = f_open && features_has(fs, "deferred-ack");

	struct ctl *ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL || (ctl->id = strndup(idsp->p, idsp->len)) == NULL) {
		free(ctl);
		hconn_text(hc, 500, "500 out of memory", NULL);
		return;
	}
	ctl->h.ops = &control_stream_ops;
	ctl->srv = srv;
	ctl->f_server_open = f_open;
	ctl->f_half_close = f_half;
	ctl->f_deferred_ack = f_dack;
	snprintf(ctl->peer, sizeof(ctl->peer), "%s", hc->peer_str);
	if (tls_is(hc->t)) {
		/* kTLS is set up (or not) when the handshake ends. */
		ctl->tls.on = true;
		snprintf(ctl->tls.version, sizeof(ctl->tls.version), "%s", tls_version(hc->t));
		ctl->tls.ktls_send = tls_ktls_send(hc->t);
		ctl->tls.ktls_recv = tls_ktls_recv(hc->t);
	}
	loop_timer_init(&ctl->timer, ctl_on_timer, ctl);

	/* The 200: byte-exact for Go clients; with our features otherwise. */
	char answer[256];
	size_t alen;
	if (fs == NULL || (!f_open && !f_half)) {
		alen = strlen(HTTP_CONTROL_OK_RESPONSE);
		memcpy(answer, HTTP_CONTROL_OK_RESPONSE, alen);
	} else {
		alen = (size_t)snprintf(answer, sizeof(answer),
					"HTTP/1.1 200 Connected to Tunnel\r\nX-Threshold-Features: %s%s%s%s\r\n\r\n",
					f_open ? "server-open" : "", f_open && f_half ? ", " : "",
					f_half ? "half-close" : "", f_dack ? ", deferred-ack" : "");
	}
	/* The socket has just delivered a request; its send buffer is empty,
	 * so this small write completes (checked anyway). */
	struct iovec iov = {answer, alen};
	if (transport_writev(hc->t, &iov, 1) != (ssize_t)alen) {
		log_warnx("control connection from %s: cannot write the 200 answer", hc->peer_str);
		free(ctl->id);
		free(ctl);
		hconn_close(hc, false);
		return;
	}
	struct mux_config mc;
	mux_config_default(&mc);
	mc.client = false;
	mc.recv_window = srv->cfg->recv_window;
	/* A dead client is noticed within DeadPeerSeconds (see the client). */
	mc.keepalive_ms = srv->cfg->keepalive_ms < srv->cfg->dead_peer_ms / 2 ? srv->cfg->keepalive_ms
									      : srv->cfg->dead_peer_ms / 2;
	mc.ping_timeout_ms = srv->cfg->dead_peer_ms - mc.keepalive_ms;
	mc.max_syn_inflight = 65536; /* server-open: every visitor is a SYN */
	sock_set_nodelay(hc->fd, true, NULL);
	sock_set_keepalive(hc->fd, 15, 5, 3, NULL);
	sock_set_user_timeout(hc->fd, srv->cfg->dead_peer_ms, NULL);
	struct transport *t = hc->t;
	const uint8_t *pre = (const uint8_t *)hc->in + hc->head_len;
	size_t prelen = hc->in_len - hc->head_len;
	char name[SOCK_ADDRSTRLEN + 300];
	snprintf(name, sizeof(name), "client %s (%s)", ctl->id, hc->peer_str);
	hconn_close(hc, true); /* transport handed over; hc->in still valid until reap */
	ctl->mc = mconn_new(srv->env, t, &mc, &ctl_owner_ops, ctl, name, pre, prelen);
	if (ctl->mc == NULL) {
		log_warnx("control connection from %s: out of memory", ctl->peer);
		free(ctl->id);
		free(ctl);
		return;
	}
	ctl->state = CTL_WAIT_STREAM;
	ctl->next = srv->ctls;
	if (srv->ctls)
		srv->ctls->prev = ctl;
	srv->ctls = ctl;
	loop_timer_start(srv->loop, &ctl->timer, srv->cfg->handshake_timeout_ms);
	log_debug("control connection from %s for %s: CONNECT accepted", ctl->peer, ctl->id);
}

/* Management requests without TLS: only from loopback, unless the
 * operator bound the API somewhere on purpose (ManagementAddress). */
static bool mgmt_allowed(const struct hconn *hc)
{
	const struct config_server *cfg = hc->srv->cfg;
	if (cfg->use_tls) {
		/* The handshake already required a CA-signed certificate. */
		if (cfg->mgmt_client_ids == NULL)
			return true;
		for (size_t i = 0; hc->has_cert && i < cfg->n_mgmt_client_ids; i++)
			if (strcmp(cfg->mgmt_client_ids[i], hc->cert_id) == 0)
				return true;
		return false;
	}
	if (cfg->mgmt_address != NULL)
		return true;
	struct sock_addr p = hc->peer;
	sock_addr_unmap(&p);
	const struct sockaddr *sa = sock_addr_sa(&p);
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return false;
}

static void hconn_dispatch(struct hconn *hc)
{
	struct server *srv = hc->srv;
	char path[HCONN_HEAD_MAX + 2];
	if (http_route_path(&hc->req.path, path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "/");
	bool is_control = strcmp(path, "/_controlPath") == 0;
	if (hc->control_port && is_control) {
		hconn_control(hc);
		return;
	}
	if (hc->control_port && !hc->mgmt_port) {
		/* 2020 layout: the tunnel port also answers GET /ping. */
		if (strcmp(path, "/ping") == 0) {
			if (http_span_eq(&hc->req.method, "GET"))
				hconn_respond(hc, 200, "text/plain; charset=utf-8", "pong!", 5, NULL);
			else
				hconn_text(hc, 405, "405 method not allowed", "Allow: GET\r\n");
			return;
		}
		hconn_text(hc, 404, "404 not found", NULL);
		return;
	}
	if (!mgmt_allowed(hc)) {
		if (srv->cfg->use_tls) {
			log_warnx("management request from %s refused: certificate \"%s\" is not in ManagementClientIds",
				  hc->peer_str, hc->cert_cn);
			hconn_text(hc, 403, "403 this certificate may not use the management API", NULL);
		} else {
			log_warnx("management request from %s refused: without TLS only loopback may manage",
				  hc->peer_str);
			hconn_text(hc, 403, "403 the management API only answers loopback clients without TLS", NULL);
		}
		return;
	}
	int status = 500;
	const char *ctype = "application/json";
	const char *extra = NULL;
	char *out = NULL;
	size_t out_len = 0;
	mgmt_handle(srv, &hc->req, path, hc->body, hc->body_len, &status, &ctype, &out, &out_len, &extra);
	char hdrs[256];
	snprintf(hdrs, sizeof(hdrs), "Connection: close\r\n%s", extra ? extra : "");
	hconn_respond(hc, status, ctype, out ? out : "", out_len, hdrs);
	free(out);
}

static void hconn_got_head(struct hconn *hc)
{
	const struct http_request *req = &hc->req;
	if (req->content_length > 0) {
		hc->body_need = (size_t)req->content_length;
		hc->body = malloc(hc->body_need + 1);
		if (hc->body == NULL) {
			hconn_text(hc, 500, "500 out of memory", NULL);
			return;
		}
		size_t have = hc->in_len - hc->head_len;
		if (have > hc->body_need)
			have = hc->body_need;
		memcpy(hc->body, hc->in + hc->head_len, have);
		hc->body_len = have;
		hc->body[have] = '\0';
		if (hc->body_len < hc->body_need) {
			hc->state = H_BODY;
			loop_timer_start(hc->srv->loop, &hc->timer, HCONN_BODY_TIMEOUT_MS);
			if (req->expect_continue) {
				static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
				struct iovec iov = {(void *)cont, sizeof(cont) - 1};
				transport_writev(hc->t, &iov, 1);
			}
			return;
		}
	}
	hconn_dispatch(hc);
}

static void hconn_read(struct hconn *hc)
{
	if (hc->state == H_BODY) {
		ssize_t r = transport_read(hc->t, hc->body + hc->body_len, hc->body_need - hc->body_len);
		if (r == -EAGAIN)
			return;
		if (r <= 0) {
			hconn_close(hc, false);
			return;
		}
		hc->body_len += (size_t)r;
		hc->body[hc->body_len] = '\0';
		if (hc->body_len == hc->body_need)
			hconn_dispatch(hc);
		return;
	}
	if (hc->state != H_HEAD) {
		/* While or after answering: drain and ignore. */
		char sink[16384];
		ssize_t r;
		if (hc->tls_failed) {
			r = recv(hc->fd, sink, sizeof(sink), 0);
			if (r < 0)
				r = errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
		} else {
			r = transport_read(hc->t, sink, sizeof(sink));
		}
		if (r == -EAGAIN)
			return;
		if (r > 0)
			hc->drained += (size_t)r;
		if (r <= 0 || hc->drained > HCONN_LINGER_BYTES) {
			if (hc->state == H_LINGER)
				hconn_close(hc, false);
			else
				loop_watch_disable(hc->srv->loop, hc->fd, LOOP_READ);
		}
		return;
	}
	ssize_t r = transport_read(hc->t, hc->in + hc->in_len, HCONN_HEAD_MAX + 1 - hc->in_len);
	if (r == -EAGAIN)
		return;
	if (r <= 0) {
		hconn_close(hc, false);
		return;
	}
	hc->in_len += (size_t)r;
	struct http_limits lim = {.max_head = HCONN_HEAD_MAX, .max_body = HCONN_BODY_MAX};
	size_t consumed = 0;
	int rc = http_request_parse(hc->in, hc->in_len, &lim, &hc->req, &consumed);
	switch (rc) {
	case HTTP_NEED_MORE:
		if (hc->in_len > HCONN_HEAD_MAX)
			hconn_text(hc, 431, "431 request header fields too large", NULL);
		return;
	case HTTP_OK:
		hc->head_len = consumed;
		hconn_got_head(hc);
		return;
	case HTTP_E_TOO_LARGE:
		hconn_text(hc, 431, "431 request header fields too large", NULL);
		return;
	case HTTP_E_VERSION:
		hconn_text(hc, 505, "505 HTTP version not supported", NULL);
		return;
	case HTTP_E_UNSUPPORTED:
		hconn_text(hc, hc->req.chunked ? 411 : 501,
			   hc->req.chunked ? "411 length required (chunked bodies are not accepted)"
					   : "501 transfer coding not implemented",
			   NULL);
		return;
	case HTTP_E_BODY_TOO_LARGE:
		hconn_text(hc, 413, "413 request body larger than 1 MiB", NULL);
		return;
	default: {
		char msg[256];
		snprintf(msg, sizeof(msg), "400 bad request: %s", hc->req.error ? hc->req.error : "malformed");
		hconn_text(hc, 400, msg, NULL);
		return;
	}
	}
}

/* Derives the client id a certificate CommonName stands for: with Domain,
 * the CN must be "<id>@<Domain>" (domain compared case-insensitively);
 * without, the id is the CN's part before '@' (or the whole CN). */
static bool cert_identity(const char *cn, const char *domain, char *out, size_t len)
{
	const char *at = strrchr(cn, '@');
	size_t idlen;
	if (domain) {
		if (at == NULL || strcasecmp(at + 1, domain) != 0)
			return false;
		idlen = (size_t)(at - cn);
	} else {
		at = strchr(cn, '@');
		idlen = at ? (size_t)(at - cn) : strlen(cn);
	}
	if (idlen == 0 || idlen >= len)
		return false;
	memcpy(out, cn, idlen);
	out[idlen] = '\0';
	return true;
}

static void hconn_tls(struct hconn *hc)
{
	char err[TLS_ERRLEN];
	int rc = tls_handshake(hc->t, err);
	if (rc == -EAGAIN) {
		loop_watch_set(hc->srv->loop, hc->fd, transport_want(hc->t));
		return;
	}
	if (rc != 0) {
		log_warnx("%s connection from %s: %s", hc->control_port ? "control" : "management", hc->peer_str, err);
		/* The alert is sent. Closing with the peer's last handshake
		 * bytes unread would send a reset that can overtake it, and a
		 * TLS 1.3 client learns that its certificate was refused only
		 * from that alert: half-close and drain briefly instead. */
		hc->tls_failed = true;
		shutdown(hc->fd, SHUT_WR);
		hc->state = H_LINGER;
		loop_watch_set(hc->srv->loop, hc->fd, LOOP_READ);
		loop_timer_start(hc->srv->loop, &hc->timer, HCONN_LINGER_MS);
		return;
	}
	tls_peer_cn(hc->t, hc->cert_cn, sizeof(hc->cert_cn));
	hc->has_cert = cert_identity(hc->cert_cn, hc->srv->cfg->domain, hc->cert_id, sizeof(hc->cert_id));
	log_debug("TLS from %s: %s, certificate CN \"%s\"%s%s", hc->peer_str, tls_version(hc->t), hc->cert_cn,
		  hc->has_cert ? " = client " : " (no client id for this Domain)", hc->has_cert ? hc->cert_id : "");
	hc->state = H_HEAD;
	loop_watch_set(hc->srv->loop, hc->fd, LOOP_READ);
	if (transport_pending(hc->t) > 0)
		hconn_io(hc->srv->loop, hc->fd, LOOP_READ, hc);
}

static void hconn_io(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct hconn *hc = udata;
	(void)l;
	(void)fd;
	if (hc->dead)
		return;
	if (hc->state == H_TLS) {
		hconn_tls(hc);
		return;
	}
	if (events & LOOP_WRITE) {
		hconn_flush(hc);
		if (hc->dead)
			return;
	}
	if (events & LOOP_READ) {
		/* TLS may hold decrypted bytes the fd no longer signals. */
		int budget = 64;
		do
			hconn_read(hc);
		while (!hc->dead && budget-- > 0 && transport_pending(hc->t) > 0);
	}
}

static void hconn_timeout(struct loop *l, struct loop_timer *t, void *udata)
{
	struct hconn *hc = udata;
	(void)l;
	(void)t;
	if (hc->state == H_WRITE || hc->state == H_LINGER) {
		hconn_close(hc, false);
		return;
	}
	if (hc->state == H_TLS) {
		/* No HTTP answer fits in a TLS handshake: just close. */
		log_warnx("%s connection from %s: TLS handshake not complete within %u ms; closed",
			  hc->control_port ? "control" : "management", hc->peer_str, hc->srv->cfg->handshake_timeout_ms);
		hconn_close(hc, false);
		return;
	}
	log_info("http connection from %s: request not complete in time; closed", hc->peer_str);
	hconn_text(hc, 408, "408 request timeout", NULL);
}

struct front {
	struct server *srv;
	bool mgmt, control;
};

static void front_accept(struct server *srv, int lfd, bool control, bool mgmt)
{
	for (int i = 0; i < 64; i++) {
		struct sock_addr peer;
		char err[SOCK_ERRLEN];
		int fd = sock_accept(lfd, &peer, err);
		if (fd == -EAGAIN)
			return;
		if (fd < 0) {
			if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
				/* Level-triggered: pause instead of spinning. */
				log_warnx("accept on the %s port: %s; pausing accepts for 100 ms",
					  control ? "control" : "management", err);
				loop_watch_set(srv->loop, lfd, 0);
				loop_timer_start(srv->loop, &srv->accept_pause, 100);
				return;
			}
			continue;
		}
		if (srv->nhttp >= HCONN_MAX || srv->stopping) {
			close(fd);
			continue;
		}
		struct hconn *hc = calloc(1, sizeof(*hc));
		if (hc == NULL || (hc->in = malloc(HCONN_HEAD_MAX + 2)) == NULL) {
			free(hc);
			close(fd);
			continue;
		}
		hc->srv = srv;
		hc->fd = fd;
		hc->t = srv->tls ? tls_transport_new(srv->tls, fd, true, NULL) : transport_tcp_new(fd);
		if (hc->t == NULL) {
			free(hc->in);
			free(hc);
			continue; /* fd closed by the transport constructor */
		}
		hc->state = srv->tls ? H_TLS : H_HEAD;
		hc->control_port = control;
		hc->mgmt_port = mgmt;
		hc->peer = peer;
		sock_addr_unmap(&hc->peer);
		sock_addr_str(&hc->peer, hc->peer_str, sizeof(hc->peer_str));
		buf_init(&hc->out, 2 * HCONN_BODY_MAX);
		loop_timer_init(&hc->timer, hconn_timeout, hc);
		if (loop_watch(srv->loop, fd, LOOP_READ, hconn_io, hc) != 0) {
			transport_free(hc->t);
			free(hc->in);
			free(hc);
			continue;
		}
		srv->nhttp++;
		loop_timer_start(srv->loop, &hc->timer, srv->cfg->handshake_timeout_ms);
	}
}

static void on_control_accept(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct server *srv = udata;
	(void)l;
	(void)events;
	front_accept(srv, fd, true, srv->cfg->single_port);
}

static void on_mgmt_accept(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct server *srv = udata;
	(void)l;
	(void)events;
	front_accept(srv, fd, false, true);
}

/* ------------------------------------------------------------------ */
/* lifecycle                                                           */

void server_visitor_done(struct listener *ls)
{
	if (ls == NULL)
		return;
	if (ls->nvisitors > 0)
		ls->nvisitors--;
	listener_unref(ls);
}

static void on_accept_pause_end(struct loop *l, struct loop_timer *t, void *udata);

struct server *server_new(struct loop *l, struct mconn_env *env, const struct config_server *cfg)
{
	struct server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return NULL;
	srv->loop = l;
	srv->env = env;
	srv->cfg = cfg;
	srv->control_fd = -1;
	srv->mgmt_fd = -1;
	loop_timer_init(&srv->accept_pause, on_accept_pause_end, srv);
	/* Connection ids are "<boot>-<n>": unique across restarts too (they
	 * go to backends as the PROXY v2 unique id). */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	srv->boot_id = (uint32_t)((uint64_t)ts.tv_sec ^ ((uint64_t)ts.tv_nsec << 7) ^ ((uint32_t)getpid() << 16));
	return srv;
}

static void on_accept_pause_end(struct loop *l, struct loop_timer *t, void *udata)
{
	struct server *srv = udata;
	(void)t;
	if (srv->control_fd >= 0)
		loop_watch_set(l, srv->control_fd, LOOP_READ);
	if (srv->mgmt_fd >= 0)
		loop_watch_set(l, srv->mgmt_fd, LOOP_READ);
}

int server_start(struct server *srv, char *err, size_t errlen)
{
	const struct config_server *cfg = srv->cfg;
	char e[SOCK_ERRLEN];
	if (cfg->use_tls) {
		char te[TLS_ERRLEN];
		srv->tls = tls_ctx_server(cfg->tls_cert_file, cfg->tls_key_file, cfg->ca_file, cfg->ca_glob, te);
		if (srv->tls == NULL) {
			snprintf(err, errlen, "TLS: %s", te);
			return -1;
		}
		log_info("TLS: client certificates must chain to %zu CA certificate(s)%s%s", tls_ctx_ca_count(srv->tls),
			 cfg->domain ? "; client ids are <id>@" : "", cfg->domain ? cfg->domain : "");
		if (cfg->mgmt_client_ids == NULL)
			log_warnx("ManagementClientIds is not set: every certificate signed by the CA, i.e. every client, "
				  "may use the management API (as the original); list the admin ids to restrict it");
	}
	srv->control_fd = sock_listen(cfg->listen_address, cfg->control_port, 1024, 0, e);
	if (srv->control_fd < 0) {
		snprintf(err, errlen, "control port: %s", e);
		return -1;
	}
	if (!cfg->single_port) {
		const char *maddr = cfg->mgmt_address ? cfg->mgmt_address : (cfg->use_tls ? NULL : "127.0.0.1");
		srv->mgmt_fd = sock_listen(maddr, cfg->mgmt_port, 128, 0, e);
		if (srv->mgmt_fd < 0) {
			snprintf(err, errlen, "management port: %s", e);
			return -1;
		}
		loop_watch(srv->loop, srv->mgmt_fd, LOOP_READ, on_mgmt_accept, srv);
	}
	loop_watch(srv->loop, srv->control_fd, LOOP_READ, on_control_accept, srv);
	if (tunnels_restore(srv, err, errlen) != 0)
		return -1;
	char a[SOCK_ADDRSTRLEN];
	sock_local_str(srv->control_fd, a, sizeof(a));
	if (cfg->single_port) {
		log_info("listening for clients and management requests on %s%s", a,
			 cfg->use_tls ? "" : " (management: loopback clients only, no TLS)");
	} else {
		char b[SOCK_ADDRSTRLEN];
		sock_local_str(srv->mgmt_fd, b, sizeof(b));
		log_info("listening for clients on %s, management API on %s", a, b);
	}
	return 0;
}

void server_stop(struct server *srv)
{
	if (srv->stopping)
		return;
	srv->stopping = true;
	loop_timer_stop(srv->loop, &srv->accept_pause);
	if (srv->control_fd >= 0) {
		loop_unwatch(srv->loop, srv->control_fd);
		close(srv->control_fd);
		srv->control_fd = -1;
	}
	if (srv->mgmt_fd >= 0) {
		loop_unwatch(srv->loop, srv->mgmt_fd);
		close(srv->mgmt_fd);
		srv->mgmt_fd = -1;
	}
	/* Listeners go; the tunnel table stays recorded (and persisted). */
	tunnels_close_listeners(srv);
	while (srv->peeking)
		visitor_free(srv->peeking);
	for (struct client_entry *c = srv->clients; c; c = c->next) {
		while (c->waiting) {
			struct visitor *v = c->waiting;
			c->waiting = v->next;
			visitor_free(v);
		}
	}
	while (srv->ctls) {
		struct ctl *ctl = srv->ctls;
		mconn_close(ctl->mc, MUX_GOAWAY_NORMAL, MUX_E_LOCAL); /* unlinks it */
		if (srv->ctls == ctl) /* not unlinked (cannot happen) */
			ctl_unlink(ctl);
	}
}

void server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	tls_ctx_free(srv->tls);
	tunnel_set_clear(&srv->tunnels);
	while (srv->clients) {
		struct client_entry *c = srv->clients;
		srv->clients = c->next;
		client_entry_free(c);
	}
	free(srv);
}
