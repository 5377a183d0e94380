/*
 * visitors: peek, route, dispatch and relay start (see visitors.h).
 */
#include "server/visitors.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "tunnel/relay.h"
#include "wire/cidr.h"
#include "wire/control_msg.h"
#include "wire/handshake.h"
#include "wire/proxy.h"
#include "wire/tls_sni.h"

#define PEEK_CAP (SNI_SPAN_MAX + PROXY_V2_MAX_LEN)

enum visitor_state { V_NEW,
		     V_PEEK,
		     V_GRACE,
		     V_QUEUED,
		     V_ABANDONED };

struct visitor {
	struct visitors *vs;
	struct listener *ls; /* reference, until the relay takes it */
	struct list node;    /* vs->peeking, a client's waiting list, or a session's FIFO */
	int fd;
	struct buf peek;	 /* bytes read to route by; sent on unchanged (lazy) */
	bool peeked;		 /* went through the peek (it read what there was) */
	char host[SNI_NAME_BUF]; /* SNI host name, "" without */
	bool want_proxy;	 /* first bytes still to check for a PROXY header */
	bool trusted;		 /* from an AcceptProxyProtocolFrom address */
	bool sni;		 /* the port routes by SNI */
	int proxy_version;	 /* header to send the backend: 0 none, 1, 2 */
	enum visitor_state state;
	struct sock_addr peer, local;
	char *client, *service;
	bool proxy;
	struct loop_timer timer;
	char id[40];
	char peer_str[SOCK_ADDRSTRLEN];
};

static void visitor_route(struct visitor *v);

static void visitor_free(struct visitor *v)
{
	loop_timer_stop(v->vs->loop, &v->timer);
	list_del(&v->node);
	if (v->state == V_PEEK && v->fd >= 0)
		loop_unwatch(v->vs->loop, v->fd);
	if (v->fd >= 0) {
		close(v->fd);
		listener_visitor_done(v->ls);
	}
	buf_reset(&v->peek);
	free(v->client);
	free(v->service);
	free(v);
}

static void relay_done(void *udata, struct relay *r)
{
	(void)r;
	listener_visitor_done(udata);
}

/* ---- relay start ---- */

/* Appends the PROXY header for the backend to prefix[*off, cap). */
static int write_proxy(struct visitor *v, char *prefix, size_t cap, size_t *off)
{
	/* The address the visitor reached, unless a PROXY header that came
	 * in already said it. */
	if (v->local.len == 0) {
		if (sock_local_addr(v->fd, &v->local, NULL) != 0)
			return -1;
		sock_addr_unmap(&v->local);
	}
	ssize_t n;
	if (v->proxy_version == 2) {
		struct proxy_v2_tlvs tlvs = {
			.authority = v->host[0] ? v->host : NULL,
			.unique_id = (const uint8_t *)v->id,
			.unique_id_len = strlen(v->id),
		};
		n = proxy_v2_write((uint8_t *)prefix + *off, cap - *off, &v->peer.ss, &v->local.ss, &tlvs);
	} else {
		n = proxy_v1_write(prefix + *off, cap - *off, &v->peer.ss, &v->local.ss);
	}
	if (n < 0) {
		log_warnx("visitor %s: cannot write a PROXY header for %s", v->id, v->peer_str);
		return -1;
	}
	*off += (size_t)n;
	return 0;
}

/* Preamble (server-open), PROXY header, then the peeked bytes; NULL on
 * failure. Caller frees. */
static char *build_prefix(struct visitor *v, const char *preamble, size_t plen, size_t *len)
{
	size_t peek_len = 0;
	const char *peek = buf_peek(&v->peek, &peek_len); /* contiguous: see visitor_peek_io */
	size_t cap = plen + PROXY_V2_BUF_LEN + peek_len;
	char *prefix = malloc(cap);
	size_t off = 0;
	if (prefix == NULL)
		return NULL;
	if (preamble) {
		memcpy(prefix, preamble, plen);
		off = plen;
	}
	if (v->proxy && write_proxy(v, prefix, cap, &off) != 0) {
		free(prefix);
		return NULL;
	}
	if (peek_len) {
		memcpy(prefix + off, peek, peek_len);
		off += peek_len;
	}
	*len = off;
	return prefix;
}

static void start_relay(struct ctl *ctl, struct visitor *v, struct mux_stream *s, const char *preamble,
			size_t plen)
{
	size_t off = 0;
	char *prefix = build_prefix(v, preamble, plen, &off);
	if (prefix == NULL) {
		mux_stream_reset(s);
		mux_stream_release(s);
		visitor_free(v);
		return;
	}
	struct relay_info info = {
		.client = session_id(ctl),
		.service = v->service,
		.peer = v->peer_str,
		.half_close = session_half_close(ctl),
		.id = v->id,
	};
	int fd = v->fd;
	struct listener *ls = v->ls;
	bool peeked = v->peeked;
	/* The relay takes the fd and the listener reference (info is copied). */
	struct relay *r = relay_new(session_mconn(ctl), s, fd, &info, relay_done, ls);
	v->fd = -1;
	visitor_free(v);
	if (r == NULL) {
		listener_visitor_done(ls);
	} else if (off > 0 && relay_send_prefix(r, prefix, off) != 0) {
		relay_abort(r, "cannot send the stream prefix");
	} else if (!peeked) {
		relay_read_now(r); /* what the visitor sent already joins the stream's first frames */
	}
	free(prefix);
}

/* ---- dispatch ---- */

static void visitor_queue_timeout(struct loop *l, struct loop_timer *t, void *udata)
{
	struct visitor *v = udata;
	(void)l;
	(void)t;
	log_warnx("visitor %s from %s: client %s opened no stream within %u ms; closed", v->id, v->peer_str,
		  v->client, v->vs->cfg->stream_open_timeout_ms);
	/* Keep the slot: the client's late stream is reset, not misrouted. */
	v->state = V_ABANDONED;
	close(v->fd);
	v->fd = -1;
	listener_visitor_done(v->ls);
}

static void dispatch_open(struct visitor *v, struct ctl *ctl)
{
	int err = 0;
	struct mconn *mc = session_mconn(ctl);
	struct mux_stream *s = mconn_open_stream(mc, NULL, &err);
	if (s == NULL) {
		log_warnx("visitor %s from %s: cannot open a stream to client %s: %s", v->id, v->peer_str,
			  session_id(ctl), mux_strerror(err));
		visitor_free(v);
		return;
	}
	char pre[HANDSHAKE_PREAMBLE_BUF];
	ssize_t n = handshake_preamble_encode(pre, sizeof(pre), v->service, strlen(v->service));
	if (n < 0) {
		mux_stream_reset(s);
		mux_stream_release(s);
		visitor_free(v);
		return;
	}
	start_relay(ctl, v, s, pre, (size_t)n);
	mconn_kick(mc);
}

/* Go client: control message + FIFO slot. */
static void dispatch_queue(struct visitor *v, struct ctl *ctl)
{
	char msg[CONTROL_MSG_ENCODED_MAX];
	ssize_t n = control_msg_encode(msg, sizeof(msg), CONTROL_ACTION_REQUEST_CLIENT_SESSION, v->service,
				       strlen(v->service));
	int rc = n < 0 ? -EIO : session_enqueue(ctl, &v->node, msg, (size_t)n);
	if (rc == -ENOBUFS) {
		log_warnx("visitor %s from %s: client %s has %zu visitors waiting for streams; closed", v->id,
			  v->peer_str, session_id(ctl), session_queue_len(ctl));
		visitor_free(v);
		return;
	}
	if (rc != 0) {
		log_warnx("visitor %s: cannot write the control message to client %s (window full?)", v->id,
			  session_id(ctl));
		visitor_free(v);
		return;
	}
	v->state = V_QUEUED;
	loop_timer_init(&v->timer, visitor_queue_timeout, v);
	loop_timer_start(v->vs->loop, &v->timer, v->vs->cfg->stream_open_timeout_ms);
}

static void visitor_dispatch(struct visitor *v, struct ctl *ctl)
{
	if (session_server_open(ctl))
		dispatch_open(v, ctl);
	else
		dispatch_queue(v, ctl);
}

/* session hooks */

static void on_client_ready(void *up, struct client_entry *ce, struct ctl *ctl)
{
	struct visitors *vs = up;
	struct list *p;
	while ((p = list_first(&ce->waiting)) != NULL) {
		struct visitor *v = list_entry(p, struct visitor, node);
		list_del(p);
		loop_timer_stop(vs->loop, &v->timer);
		if (ce->ctl == ctl && session_ready(ctl))
			visitor_dispatch(v, ctl);
		else
			visitor_free(v);
	}
}

static void on_stream(void *up, struct ctl *ctl, struct list *node, struct mux_stream *s)
{
	struct visitors *vs = up;
	struct visitor *v = list_entry(node, struct visitor, node);
	if (v->state == V_ABANDONED) {
		log_info("client %s: stream %u arrived for visitor %s that gave up; reset", session_id(ctl),
			 mux_stream_id(s), v->id);
		mux_stream_reset(s);
		mux_stream_release(s);
		visitor_free(v);
		return;
	}
	loop_timer_stop(vs->loop, &v->timer);
	mux_stream_accept(s);
	start_relay(ctl, v, s, NULL, 0);
}

static void on_drop(void *up, struct list *node)
{
	(void)up;
	visitor_free(list_entry(node, struct visitor, node));
}

static const struct session_hooks hooks = {
	.ready = on_client_ready,
	.stream = on_stream,
	.drop = on_drop,
};

/* ---- routing ---- */

static void visitor_grace_timeout(struct loop *l, struct loop_timer *t, void *udata)
{
	struct visitor *v = udata;
	(void)l;
	(void)t;
	log_info("visitor %s from %s: client %s did not come back within the grace time; closed", v->id,
		 v->peer_str, v->client);
	visitor_free(v); /* unlinks it from the waiting list */
}

/* Copies what the visitor needs from its tunnel (the table may change). */
static int take_route(struct visitor *v, const struct tunnel *t)
{
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
	return v->client && v->service ? 0 : -1;
}

/* Routes a visitor (after peeking, if its port needed it) and sends it on. */
static void visitor_route(struct visitor *v)
{
	struct visitors *vs = v->vs;
	const struct tunnel *t = tunnel_routes_pick(v->ls->routes, v->host);
	if (t == NULL) {
		log_info("visitor %s from %s: no tunnel on %s for hostname \"%s\"; closed", v->id, v->peer_str,
			 v->ls->key, v->host);
		visitor_free(v);
		return;
	}
	if (take_route(v, t) != 0) {
		visitor_free(v);
		return;
	}
	struct client_entry *ce = session_client_find(vs->ss, v->client);
	if (ce && ce->ctl && session_ready(ce->ctl)) {
		visitor_dispatch(v, ce->ctl);
		return;
	}
	if (vs->cfg->visitor_grace_ms == 0 || (ce == NULL && (ce = session_client_get(vs->ss, v->client)) == NULL)) {
		log_info("visitor %s from %s: client %s is not connected; closed", v->id, v->peer_str, v->client);
		visitor_free(v);
		return;
	}
	v->state = V_GRACE;
	list_add_head(&ce->waiting, &v->node);
	loop_timer_init(&v->timer, visitor_grace_timeout, v);
	loop_timer_start(vs->loop, &v->timer, vs->cfg->visitor_grace_ms);
}

/* ---- peek ---- */

/* The peek is over (host known, or not TLS, or timed out): stop watching. */
static void peek_done(struct visitor *v)
{
	loop_timer_stop(v->vs->loop, &v->timer);
	list_del(&v->node);
	loop_unwatch(v->vs->loop, v->fd);
	v->state = V_NEW;
	visitor_route(v);
}

/* Takes the address a PROXY header carries as the visitor's. */
static void adopt_proxy_addrs(struct visitor *v, const struct proxy_hdr *hdr)
{
	char was[SOCK_ADDRSTRLEN];
	snprintf(was, sizeof(was), "%s", v->peer_str);
	memcpy(&v->peer.ss, &hdr->src, sizeof(hdr->src));
	v->peer.len = hdr->family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	memcpy(&v->local.ss, &hdr->dst, sizeof(hdr->dst));
	v->local.len = v->peer.len;
	sock_addr_unmap(&v->peer);
	sock_addr_unmap(&v->local);
	sock_addr_str(&v->peer, v->peer_str, sizeof(v->peer_str));
	log_debug("visitor %s: PROXY v%d from %s: the visitor is %s", v->id, hdr->version, was, v->peer_str);
}

/* Bytes at the start of a visitor from a trusted load balancer: its PROXY
 * header, consumed to its exact length; the address it carries becomes the
 * visitor's. From anyone else on such a port, a PROXY header is refused.
 * Returns 1 when done, 0 to wait for more, -1 when the visitor was freed. */
static int visitor_proxy_in(struct visitor *v, const uint8_t *p, size_t len)
{
	if (!v->trusted) {
		int d = proxy_detect(p, len);
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
	int rc = proxy_parse(p, len, &hdr, &used);
	if (rc == PROXY_NEED_MORE)
		return 0;
	if (rc != PROXY_OK) {
		log_warnx("visitor %s from %s (a trusted load balancer): no valid PROXY header; closed", v->id,
			  v->peer_str);
		visitor_free(v);
		return -1;
	}
	if (hdr.family != AF_UNSPEC)
		adopt_proxy_addrs(v, &hdr);
	buf_consume(&v->peek, used);
	v->want_proxy = false;
	return 1;
}

static void sni_step(struct visitor *v, const uint8_t *p, size_t len)
{
	struct sni_info info;
	int rc = sni_parse(p, len, &info);
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
			 rc == SNI_BAD_NAME    ? "invalid server name"
			 : rc == SNI_TOO_LARGE ? "too large"
					       : "malformed");
		break;
	}
	peek_done(v);
}

/* Looks at what has been read: PROXY header first (if the port takes
 * them), then the SNI (if the port routes by it). */
static void visitor_peek_step(struct visitor *v)
{
	size_t len = 0;
	const uint8_t *p = (const uint8_t *)buf_peek(&v->peek, &len);
	if (v->want_proxy) {
		if (visitor_proxy_in(v, p, len) <= 0)
			return;
		p = (const uint8_t *)buf_peek(&v->peek, &len);
	}
	if (!v->sni) {
		peek_done(v);
		return;
	}
	if (len > 0)
		sni_step(v, p, len);
}

static void visitor_peek_io(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct visitor *v = udata;
	(void)l;
	(void)events;
	/* buf_reserve keeps the readable bytes one contiguous span (the
	 * parsers need it); storage is taken only now that bytes arrived. */
	size_t avail = 0;
	char *span = buf_reserve(&v->peek, buf_space(&v->peek), &avail);
	ssize_t r = buf_space(&v->peek) == 0 ? 0 : -1; /* full: as a read of 0 bytes */
	if (span != NULL) {
		do
			r = read(fd, span, avail);
		while (r < 0 && errno == EINTR);
	}
	if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
		buf_commit(&v->peek, 0);
		return;
	}
	if (r <= 0) {
		buf_commit(&v->peek, 0);
		log_info("visitor %s from %s: closed before it could be routed (%zu bytes)", v->id, v->peer_str,
			 buf_len(&v->peek));
		visitor_free(v);
		return;
	}
	buf_commit(&v->peek, (size_t)r);
	visitor_peek_step(v);
}

static void visitor_peek_timeout(struct loop *l, struct loop_timer *t, void *udata)
{
	struct visitor *v = udata;
	(void)l;
	(void)t;
	if (v->want_proxy && v->trusted) {
		log_warnx("visitor %s from %s (a trusted load balancer): no PROXY header within %u ms; closed", v->id,
			  v->peer_str, v->vs->cfg->sni_peek_timeout_ms);
		visitor_free(v);
		return;
	}
	log_debug("visitor %s from %s: nothing to route by within %u ms (%zu bytes); routed without a hostname",
		  v->id, v->peer_str, v->vs->cfg->sni_peek_timeout_ms, buf_len(&v->peek));
	peek_done(v);
}

/* Whether visitors of the port must be peeked for an SNI host name: only
 * when some tunnel on it has a glob other than `*` (so server-speaks-first
 * protocols work on plain ports). */
static bool needs_peek(const struct tunnel_routes *r)
{
	for (size_t i = 0; r && i < r->n; i++) {
		const char *g = r->v[i]->glob;
		if (g[0] != '\0' && strcmp(g, "*") != 0)
			return true;
	}
	return false;
}

static void peek_start(struct visitor *v)
{
	struct visitors *vs = v->vs;
	v->state = V_PEEK;
	v->peeked = true;
	list_add_head(&vs->peeking, &v->node);
	loop_timer_init(&v->timer, visitor_peek_timeout, v);
	loop_timer_start(vs->loop, &v->timer, vs->cfg->sni_peek_timeout_ms);
	if (loop_watch(vs->loop, v->fd, LOOP_READ, visitor_peek_io, v) != 0) {
		v->state = V_NEW; /* not watched */
		visitor_free(v);
	}
}

void visitors_accepted(void *up, struct listener *ls, int fd, const struct sock_addr *peer)
{
	struct visitors *vs = up;
	struct visitor *v = calloc(1, sizeof(*v));
	if (v == NULL) {
		close(fd);
		listener_visitor_done(ls);
		return;
	}
	v->vs = vs;
	v->ls = ls;
	v->fd = fd;
	v->peer = *peer;
	buf_init(&v->peek, PEEK_CAP);
	sock_addr_unmap(&v->peer);
	sock_addr_str(&v->peer, v->peer_str, sizeof(v->peer_str));
	snprintf(v->id, sizeof(v->id), "%08x-%llu", vs->boot_id, (unsigned long long)++vs->next_conn_id);
	/* TCP_NODELAY comes from the listener; the local address is looked
	 * up only for a PROXY header that needs it (start_relay). */
	const struct tunnel_routes *r = ls->routes;
	v->sni = needs_peek(r);
	if (r && r->n_accept_from > 0) {
		v->want_proxy = true;
		for (size_t i = 0; i < r->n_accept_from && !v->trusted; i++)
			v->trusted = cidr_match(&r->accept_from[i], &v->peer.ss);
	}
	if (v->sni || v->want_proxy)
		peek_start(v);
	else
		visitor_route(v);
}

void visitors_init(struct visitors *vs, struct loop *l, const struct config_server *cfg, struct sessions *ss)
{
	memset(vs, 0, sizeof(*vs));
	vs->loop = l;
	vs->cfg = cfg;
	vs->ss = ss;
	list_init(&vs->peeking);
	/* Connection ids are "<boot>-<n>": unique across restarts too (they
	 * go to backends as the PROXY v2 unique id). */
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	vs->boot_id = (uint32_t)((uint64_t)ts.tv_sec ^ ((uint64_t)ts.tv_nsec << 7) ^ ((uint32_t)getpid() << 16));
	session_set_hooks(ss, &hooks, vs);
}

void visitors_stop(struct visitors *vs)
{
	struct list *p;
	while ((p = list_first(&vs->peeking)) != NULL)
		visitor_free(list_entry(p, struct visitor, node));
	struct list *c;
	list_for_each(c, &vs->ss->clients)
	{
		struct client_entry *ce = list_entry(c, struct client_entry, node);
		while ((p = list_first(&ce->waiting)) != NULL)
			visitor_free(list_entry(p, struct visitor, node));
	}
}
