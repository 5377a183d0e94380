/*
 * session: client registry and control sessions (see session.h).
 */
#include "server/session.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/sock.h"

/* ---- registry ---- */

struct client_entry *session_client_find(struct sessions *ss, const char *id)
{
	struct list *p;
	list_for_each(p, &ss->clients)
	{
		struct client_entry *c = list_entry(p, struct client_entry, node);
		if (strcmp(c->id, id) == 0)
			return c;
	}
	return NULL;
}

static void client_entry_free(struct client_entry *c)
{
	list_del(&c->node);
	free(c->id);
	free(c);
}

/* Forgets the oldest entry that holds nothing; false when there is none. */
static bool registry_evict(struct sessions *ss)
{
	struct client_entry *victim = NULL;
	struct list *p;
	list_for_each(p, &ss->clients)
	{
		struct client_entry *c = list_entry(p, struct client_entry, node);
		if (c->ctl == NULL && list_empty(&c->waiting))
			victim = c;
	}
	if (victim == NULL)
		return false;
	client_entry_free(victim);
	ss->nclients--;
	return true;
}

struct client_entry *session_client_get(struct sessions *ss, const char *id)
{
	struct client_entry *c = session_client_find(ss, id);
	if (c)
		return c;
	if (ss->nclients >= ss->cfg->max_client_entries && !registry_evict(ss))
		return NULL;
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->id = strdup(id)) == NULL) {
		free(c);
		return NULL;
	}
	list_init(&c->waiting);
	list_add_head(&ss->clients, &c->node);
	ss->nclients++;
	return c;
}

static void client_set_state(struct client_entry *c, enum handshake_client_state st, const char *err)
{
	c->last = c->cur;
	c->cur = st;
	log_info("client %s: %s -> %s%s%s%s", c->id, handshake_client_state_name((int)c->last),
		 handshake_client_state_name((int)c->cur), err ? " (" : "", err ? err : "", err ? ")" : "");
}

/* ---- control sessions ---- */

enum ctl_state { CTL_NEW,
		 CTL_WAIT_STREAM,
		 CTL_WAIT_HANDSHAKE,
		 CTL_READY,
		 CTL_DEAD };

struct ctl {
	struct mstream_handler h; /* the control stream's handler */
	struct sessions *ss;
	struct list node; /* ss->ctls */
	char *id;
	char peer[SOCK_ADDRSTRLEN];
	struct mconn *mc;
	struct mux_stream *control;
	enum ctl_state state;
	struct handshake_match hs; /* "controlHandshake" on the control stream */
	bool f_server_open, f_half_close, f_deferred_ack;
	struct session_tls tls; /* tls.on: the session runs over TLS */
	struct loop_timer timer;
	struct list queue; /* visitors waiting for the client's streams */
	size_t q_len;
	struct loop_deferred reap;
};

bool session_ready(const struct ctl *ctl)
{
	return ctl->state == CTL_READY;
}
const char *session_id(const struct ctl *ctl)
{
	return ctl->id;
}
bool session_server_open(const struct ctl *ctl)
{
	return ctl->f_server_open;
}
bool session_half_close(const struct ctl *ctl)
{
	return ctl->f_half_close;
}
struct mconn *session_mconn(const struct ctl *ctl)
{
	return ctl->mc;
}
size_t session_queue_len(const struct ctl *ctl)
{
	return ctl->q_len;
}

const struct session_tls *session_tls_of(const struct ctl *ctl)
{
	return ctl != NULL && ctl->tls.on ? &ctl->tls : NULL;
}

static void ctl_reap(void *arg)
{
	struct ctl *ctl = arg;
	free(ctl->id);
	free(ctl);
}

static void ctl_fail(struct ctl *ctl, const char *why)
{
	if (ctl->state == CTL_DEAD)
		return;
	log_warnx("control session %s from %s: %s", ctl->id, ctl->peer, why);
	mconn_close(ctl->mc, MUX_GOAWAY_NORMAL, MUX_E_LOCAL);
}

static void log_connected(const struct ctl *ctl)
{
	if (ctl->tls.on)
		log_info("client %s connected from %s (features:%s%s%s; %s, kTLS send: %s, receive: %s)", ctl->id,
			 ctl->peer, ctl->f_server_open ? " server-open" : "", ctl->f_half_close ? " half-close" : "",
			 ctl->f_deferred_ack ? " deferred-ack" : "", ctl->tls.version, ctl->tls.ktls_send ? "yes" : "no",
			 ctl->tls.ktls_recv ? "yes" : "no");
	else
		log_info("client %s connected from %s (features:%s%s%s)", ctl->id, ctl->peer,
			 ctl->f_server_open ? " server-open" : "", ctl->f_half_close ? " half-close" : "",
			 ctl->f_deferred_ack ? " deferred-ack" : "");
}

/* The handshake is done: the client entry points at this session now. */
static void ctl_register(struct ctl *ctl)
{
	struct sessions *ss = ctl->ss;
	loop_timer_stop(ss->loop, &ctl->timer);
	struct client_entry *ce = session_client_get(ss, ctl->id);
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
	if (ce->cur != HANDSHAKE_CLIENT_CONNECTED || old == NULL)
		client_set_state(ce, HANDSHAKE_CLIENT_CONNECTED, NULL);
	log_connected(ctl);
	/* Visitors held while the client was away. */
	ss->hooks->ready(ss->up, ce, ctl);
}

/* The control stream. */
static void cs_data(struct mstream_handler *h, struct mux_stream *s, const uint8_t *p, size_t n)
{
	struct ctl *ctl = (struct ctl *)h;
	mux_stream_consumed(s, n);
	if (ctl->state != CTL_WAIT_HANDSHAKE)
		return; /* the Go client sends nothing more; ours neither (yet) */
	size_t used = 0;
	/* Bytes after "controlHandshake" are ignored, as the Go server does. */
	int rc = handshake_match_feed(&ctl->hs, p, n, &used);
	if (rc == HANDSHAKE_E_MISMATCH) {
		ctl_fail(ctl, "handshake aborted: the client did not send controlHandshake");
		return;
	}
	if (rc == HANDSHAKE_NEED_MORE)
		return;
	struct iovec iov = { (void *)HANDSHAKE_HELLO_OK, HANDSHAKE_HELLO_OK_LEN };
	if (mux_stream_write(s, &iov, 1) != (ssize_t)iov.iov_len) {
		ctl_fail(ctl, "cannot write controlOk");
		return;
	}
	ctl_register(ctl);
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

static void ctl_stream_open(void *owner, struct mconn *c, struct mux_stream *s)
{
	struct ctl *ctl = owner;
	(void)c;
	if (ctl->state == CTL_WAIT_STREAM) {
		ctl->control = s;
		mconn_stream_bind(s, &ctl->h);
		mux_stream_accept(s);
		ctl->state = CTL_WAIT_HANDSHAKE;
		return;
	}
	struct list *first = list_first(&ctl->queue);
	if (ctl->state != CTL_READY || ctl->f_server_open || first == NULL) {
		log_warnx("client %s: unexpected stream %u, reset", ctl->id, mux_stream_id(s));
		mux_stream_reset(s);
		mux_stream_release(s);
		return;
	}
	list_del(first);
	ctl->q_len--;
	ctl->ss->hooks->stream(ctl->ss->up, ctl, first, s);
}

static void ctl_closed(void *owner, struct mconn *c, int err)
{
	struct ctl *ctl = owner;
	struct sessions *ss = ctl->ss;
	(void)c;
	enum ctl_state was = ctl->state;
	ctl->state = CTL_DEAD;
	loop_timer_stop(ss->loop, &ctl->timer);
	struct list *p;
	while ((p = list_first(&ctl->queue)) != NULL) {
		list_del(p);
		ss->hooks->drop(ss->up, p);
	}
	ctl->q_len = 0;
	struct client_entry *ce = ctl->id ? session_client_find(ss, ctl->id) : NULL;
	if (ce && ce->ctl == ctl) {
		ce->ctl = NULL;
		bool clean = err == MUX_E_EOF || err == MUX_E_LOCAL || err == MUX_E_REMOTE_GOAWAY;
		client_set_state(ce, clean ? HANDSHAKE_CLIENT_CLOSED : HANDSHAKE_CLIENT_ERROR,
				 clean ? NULL : mux_strerror(err));
	} else if (was != CTL_READY) {
		log_info("control session %s from %s ended before its handshake: %s", ctl->id ? ctl->id : "-",
			 ctl->peer, mux_strerror(err));
	}
	list_del(&ctl->node);
	loop_defer(ss->loop, &ctl->reap, ctl_reap, ctl);
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

int session_enqueue(struct ctl *ctl, struct list *node, const void *msg, size_t len)
{
	if (ctl->q_len >= SESSION_QUEUE_MAX || ctl->control == NULL)
		return -ENOBUFS;
	struct iovec iov = { (void *)msg, len };
	if (mux_stream_write(ctl->control, &iov, 1) != (ssize_t)len)
		return -EIO;
	list_add_tail(&ctl->queue, node);
	ctl->q_len++;
	return 0;
}

struct ctl *session_new(struct sessions *ss, const struct session_params *p)
{
	struct ctl *ctl = calloc(1, sizeof(*ctl));
	if (ctl == NULL || (ctl->id = strndup(p->id, p->id_len)) == NULL) {
		free(ctl);
		return NULL;
	}
	ctl->h.ops = &control_stream_ops;
	ctl->ss = ss;
	ctl->f_server_open = (p->features & HANDSHAKE_FEAT_SERVER_OPEN) != 0;
	ctl->f_half_close = (p->features & HANDSHAKE_FEAT_HALF_CLOSE) != 0;
	ctl->f_deferred_ack = (p->features & HANDSHAKE_FEAT_DEFERRED_ACK) != 0;
	handshake_match_init(&ctl->hs, false);
	snprintf(ctl->peer, sizeof(ctl->peer), "%s", p->peer);
	if (p->tls)
		ctl->tls = *p->tls;
	list_init(&ctl->queue);
	loop_timer_init(&ctl->timer, ctl_on_timer, ctl);
	return ctl;
}

void session_discard(struct ctl *ctl)
{
	if (ctl == NULL)
		return;
	free(ctl->id);
	free(ctl);
}

void session_start(struct ctl *ctl, struct transport *t, int fd, const uint8_t *pre, size_t prelen)
{
	struct sessions *ss = ctl->ss;
	const struct config_server *cfg = ss->cfg;
	struct mux_config mc;
	mux_config_default(&mc);
	mc.client = false;
	mc.recv_window = cfg->recv_window;
	/* A dead client is noticed within DeadPeerSeconds (see the client). */
	mc.keepalive_ms = cfg->keepalive_ms < cfg->dead_peer_ms / 2 ? cfg->keepalive_ms : cfg->dead_peer_ms / 2;
	mc.ping_timeout_ms = cfg->dead_peer_ms - mc.keepalive_ms;
	mc.max_syn_inflight = 65536; /* server-open: every visitor is a SYN */
	sock_set_nodelay(fd, true, NULL);
	sock_set_keepalive(fd, 15, 5, 3, NULL);
	sock_set_user_timeout(fd, cfg->dead_peer_ms, NULL);
	char name[SOCK_ADDRSTRLEN + 300];
	snprintf(name, sizeof(name), "client %s (%s)", ctl->id, ctl->peer);
	ctl->mc = mconn_new(ss->env, t, &mc, &ctl_owner_ops, ctl, name, pre, prelen);
	if (ctl->mc == NULL) {
		log_warnx("control connection from %s: out of memory", ctl->peer);
		session_discard(ctl);
		return;
	}
	ctl->state = CTL_WAIT_STREAM;
	list_add_head(&ss->ctls, &ctl->node);
	loop_timer_start(ss->loop, &ctl->timer, cfg->handshake_timeout_ms);
	log_debug("control connection from %s for %s: CONNECT accepted", ctl->peer, ctl->id);
}

void sessions_init(struct sessions *ss, struct loop *l, struct worker *env, const struct config_server *cfg)
{
	memset(ss, 0, sizeof(*ss));
	ss->loop = l;
	ss->env = env;
	ss->cfg = cfg;
	list_init(&ss->clients);
	list_init(&ss->ctls);
}

void session_set_hooks(struct sessions *ss, const struct session_hooks *h, void *up)
{
	ss->hooks = h;
	ss->up = up;
}

void sessions_close_all(struct sessions *ss)
{
	struct list *p;
	while ((p = list_first(&ss->ctls)) != NULL) {
		struct ctl *ctl = list_entry(p, struct ctl, node);
		mconn_close(ctl->mc, MUX_GOAWAY_NORMAL, MUX_E_LOCAL); /* unlinks it */
		list_del(p);					      /* in case it did not (cannot happen) */
	}
}

void sessions_fini(struct sessions *ss)
{
	struct list *p;
	while ((p = list_first(&ss->clients)) != NULL)
		client_entry_free(list_entry(p, struct client_entry, node));
	ss->nclients = 0;
}
