/*
 * pending: streams waiting for a preamble or a local dial (see pending.h).
 *
 *  struct pend      one waiting stream: from pend_new to the hand-over to a
 *                   relay (pend_connected) or its end (pend_abandon /
 *                   pend_destroy); freed by the loop after pend_destroy.
 *  struct open_req  one control message waiting for a SYN slot.
 */
#include "client/pending.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/sock.h"
#include "tunnel/relay.h"
#include "wire/handshake.h"

/* Streams waiting for a preamble or a local dial, per session. */
#define CLIENT_MAX_PENDING 1024
/* Control messages waiting for a stream (yamux SYN backlog), per session. */
#define CLIENT_MAX_OPEN_QUEUE 4096
/* Retry period of queued opens while the SYN backlog is full. */
#define CLIENT_OPEN_RETRY_MS 20

struct open_req {
	struct list node; /* on pending.queue */
	char service[];
};

struct pend {
	struct mstream_handler h; /* first: the stream's handler */
	struct pending *pd;
	struct list node; /* on pending.streams */
	struct mux_stream *s;
	bool inbound; /* server-open stream: failures RST */
	bool preamble_done;
	bool dialing;
	int fd;
	const struct config_service *cs;
	const struct svc_rt *rt;
	int addr_idx;
	struct buf line; /* preamble bytes (inbound, until parsed) */
	struct buf held; /* visitor bytes that arrived before the relay */
	struct loop_timer timer;
	struct loop_deferred reap;
	char service[CONTROL_MSG_SERVICE_MAX + 1];
	char addr_str[SOCK_ADDRSTRLEN];
	char err[SOCK_ERRLEN];
};

static void open_queue_drain(struct pending *pd);

/* ---- one waiting stream ---- */

static void pend_reap(void *arg)
{
	struct pend *p = arg;
	buf_reset(&p->held);
	buf_reset(&p->line);
	free(p);
}

/* Drops the pending stream: fd closed, timer stopped, stream released
 * (the caller has sent FIN or RST as it sees fit), memory reaped later. */
static void pend_destroy(struct pend *p)
{
	struct loop *l = p->pd->ctx->loop;
	loop_timer_stop(l, &p->timer);
	if (p->fd >= 0) {
		loop_unwatch(l, p->fd);
		close(p->fd);
		p->fd = -1;
	}
	if (p->s) {
		mux_stream_set_udata(p->s, NULL);
		mux_stream_release(p->s);
		p->s = NULL;
	}
	list_del(&p->node);
	p->pd->n--;
	loop_defer(l, &p->reap, pend_reap, p);
}

/* Gives up on the stream (the caller has logged why): RST for server-open
 * streams, FIN for streams we opened (as the original closes them). */
static void pend_abandon(struct pend *p)
{
	struct pending *pd = p->pd;
	if (p->s) {
		if (p->inbound)
			mux_stream_reset(p->s);
		else
			mux_stream_close(p->s);
	}
	pend_destroy(p);
	if (pd->mc)
		mconn_kick(pd->mc);
}

/* pend_abandon with a log line saying why. */
static void pend_fail(struct pend *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pend_fail(struct pend *p, const char *fmt, ...)
{
	char why[CLIENT_ERRLEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	char safe[SAFE_NAME_LEN];
	log_warnx("client [%s]: stream %u (service \"%s\"): %s", p->pd->ctx->cfg->client_id,
		  p->s ? mux_stream_id(p->s) : 0, client_safe_name(safe, p->service), why);
	pend_abandon(p);
}

/* The local connection is up: hand socket, stream and held bytes to a
 * relay. */
static void pend_connected(struct pend *p)
{
	struct pending *pd = p->pd;
	const struct client_ctx *ctx = pd->ctx;
	loop_unwatch(ctx->loop, p->fd);
	loop_timer_stop(ctx->loop, &p->timer);
	int fd = p->fd;
	struct mux_stream *s = p->s;
	p->fd = -1;
	p->s = NULL;
	sock_set_nodelay(fd, true, NULL);

	char idbuf[48];
	snprintf(idbuf, sizeof(idbuf), "stream=%u", mux_stream_id(s));
	struct relay_info info = {
		.client = ctx->cfg->client_id,
		.service = p->service,
		.peer = p->addr_str,
		.half_close = (pd->features & HANDSHAKE_FEAT_HALF_CLOSE) != 0,
		.id = idbuf,
	};
	/* The relay takes fd and s (and on failure closes / resets them). */
	struct relay *r = relay_new(pd->mc, s, fd, &info, NULL, NULL);
	if (r != NULL) {
		struct iovec iov[2];
		int n = buf_peekv(&p->held, iov);
		int rc = 0;
		for (int i = 0; i < n && rc == 0; i++)
			rc = relay_push_to_socket(r, iov[i].iov_base, iov[i].iov_len);
		if (rc != 0)
			relay_abort(r, "out of memory");
	} else {
		log_warnx("client [%s]: stream %u: relay: out of memory", ctx->cfg->client_id, mux_stream_id(s));
	}
	/* The held bytes are the relay's now (not credited back: the relay
	 * credits them as they reach the socket). */
	buf_reset(&p->held);
	pend_destroy(p);
}

static void pend_dial_next(struct pend *p);

static void pend_on_io(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct pend *p = udata;
	(void)events;
	int rc = sock_get_error(fd, p->err);
	if (rc == 0) {
		pend_connected(p);
		return;
	}
	loop_unwatch(l, p->fd);
	close(p->fd);
	p->fd = -1;
	p->addr_idx++;
	pend_dial_next(p);
}

/* Tries the service's addresses from addr_idx on. */
static void pend_dial_next(struct pend *p)
{
	struct loop *l = p->pd->ctx->loop;
	while (p->addr_idx < p->rt->naddrs) {
		const struct sock_addr *a = &p->rt->addrs[p->addr_idx];
		sock_addr_str(a, p->addr_str, sizeof(p->addr_str));
		int fd = sock_connect_addr(a, p->err);
		if (fd < 0) {
			p->addr_idx++;
			continue;
		}
		if (sock_established(fd)) {
			p->fd = fd; /* connected within the call (a local service) */
			pend_connected(p);
			return;
		}
		if (loop_watch(l, fd, LOOP_WRITE, pend_on_io, p) != 0) {
			close(fd);
			snprintf(p->err, sizeof(p->err), "cannot watch the socket");
			break;
		}
		p->fd = fd;
		return;
	}
	pend_fail(p, "dial %s (%s:%u) failed: %s", p->addr_str, p->cs->host, p->cs->port, p->err);
}

static void pend_on_timer(struct loop *l, struct loop_timer *t, void *udata)
{
	struct pend *p = udata;
	(void)l;
	(void)t;
	uint32_t ms = p->pd->ctx->cfg->dial_timeout_ms;
	if (!p->preamble_done)
		pend_fail(p, "no preamble within %u ms", ms);
	else
		pend_fail(p, "dial %s (%s:%u) timed out after %u ms", p->addr_str, p->cs->host, p->cs->port, ms);
}

/* The service is known (p->cs, p->rt set): start dialling it. */
static void pend_dial(struct pend *p)
{
	const struct client_ctx *ctx = p->pd->ctx;
	p->dialing = true;
	loop_timer_start(ctx->loop, &p->timer, ctx->cfg->dial_timeout_ms);
	if (p->rt->naddrs == 0) {
		pend_fail(p, "%s is not resolved", p->cs->host);
		return;
	}
	p->addr_idx = 0;
	pend_dial_next(p);
}

/* Looks the service up; false (after abandoning p) when unknown. */
static bool pend_set_service(struct pend *p, const char *name)
{
	const struct client_ctx *ctx = p->pd->ctx;
	snprintf(p->service, sizeof(p->service), "%s", name);
	const struct config_service *cs = config_client_service(ctx->cfg, name);
	if (cs == NULL) {
		ctx->unknown_service(ctx->up, name);
		pend_abandon(p);
		return false;
	}
	p->cs = cs;
	p->rt = &ctx->svc[cs - ctx->cfg->services];
	return true;
}

/* Keeps visitor bytes until the relay exists. Bounded by the stream's
 * receive window: these bytes are not credited back. */
static bool pend_hold(struct pend *p, const void *data, size_t n)
{
	if (n == 0)
		return true;
	if (buf_append(&p->held, data, n) != 0) {
		pend_fail(p, "too many bytes before the local connection is up");
		return false;
	}
	return true;
}

/* Server-open: gathers the preamble (up to its cap) and, once it parses,
 * dials the service; the bytes after the line are the visitor's. */
static void pend_preamble(struct pend *p, struct mux_stream *s, const uint8_t *data, size_t n)
{
	size_t k = buf_space(&p->line);
	if (k > n)
		k = n;
	if (buf_append(&p->line, data, k) != 0) {
		pend_fail(p, "out of memory");
		return;
	}
	if (buf_empty(&p->line))
		return;
	size_t len = 0;
	const char *line = buf_peek(&p->line, &len);
	/* Only appended to, never consumed, before it parses: one span. */
	assert(len == buf_len(&p->line));
	struct control_msg msg;
	size_t used = 0;
	int rc = handshake_preamble_parse(line, len, &msg, &used);
	if (rc == HANDSHAKE_NEED_MORE)
		return;
	if (rc != HANDSHAKE_OK) {
		pend_fail(p, "%s", rc == HANDSHAKE_E_TOO_LONG ? "preamble longer than 4096 bytes" : "bad preamble");
		return;
	}
	p->preamble_done = true;
	mux_stream_consumed(s, used);
	if (!pend_set_service(p, msg.service))
		return;
	/* Visitor bytes that came with the preamble. */
	if (!pend_hold(p, line + used, len - used))
		return;
	if (!pend_hold(p, data + k, n - k))
		return;
	buf_reset(&p->line);
	loop_timer_stop(p->pd->ctx->loop, &p->timer);
	pend_dial(p);
}

static void pend_data(struct mstream_handler *h, struct mux_stream *s, const uint8_t *data, size_t n)
{
	struct pend *p = (struct pend *)h;
	if (p->preamble_done)
		pend_hold(p, data, n);
	else
		pend_preamble(p, s, data, n);
}

static void pend_fin(struct mstream_handler *h, struct mux_stream *s)
{
	struct pend *p = (struct pend *)h;
	(void)s;
	/* The relay sees the FIN (mux_stream_remote_closed) when it starts. */
	if (!p->preamble_done)
		pend_fail(p, "stream ended before its preamble");
}

static void pend_reset(struct mstream_handler *h, struct mux_stream *s, int err)
{
	struct pend *p = (struct pend *)h;
	(void)s;
	char safe[SAFE_NAME_LEN];
	log_debug("client [%s]: stream %u (service \"%s\") reset while waiting: %s", p->pd->ctx->cfg->client_id,
		  mux_stream_id(p->s), client_safe_name(safe, p->service), mux_strerror(err));
	pend_destroy(p);
}

static void pend_writable(struct mstream_handler *h, struct mux_stream *s)
{
	(void)h;
	(void)s;
}

static void pend_established(struct mstream_handler *h, struct mux_stream *s)
{
	struct pend *p = (struct pend *)h;
	(void)s;
	/* An ACK frees a SYN slot: queued opens may go. */
	if (!list_empty(&p->pd->queue))
		open_queue_drain(p->pd);
}

static const struct mstream_ops pend_ops = {
	.data = pend_data,
	.fin = pend_fin,
	.reset = pend_reset,
	.writable = pend_writable,
	.established = pend_established,
};

/* A new waiting stream on pd (no stream yet). Storage for the preamble
 * and the held bytes comes with the first bytes. */
static struct pend *pend_new(struct pending *pd, bool inbound)
{
	struct pend *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	p->h.ops = &pend_ops;
	p->pd = pd;
	p->inbound = inbound;
	p->preamble_done = !inbound;
	p->fd = -1;
	buf_init(&p->line, HANDSHAKE_PREAMBLE_MAX);
	buf_init(&p->held, MUX_INITIAL_WINDOW);
	loop_timer_init(&p->timer, pend_on_timer, p);
	list_add_head(&pd->streams, &p->node);
	pd->n++;
	return p;
}

/* Too many streams wait: say so once per session. */
static void warn_cap(struct pending *pd)
{
	if (!pd->cap_warned)
		log_warnx("client [%s]: %d streams wait for local dials; resetting new ones", pd->ctx->cfg->client_id,
			  CLIENT_MAX_PENDING);
	pd->cap_warned = true;
}

/* ---- Go-compatible visitors: one stream per control message ---- */

/* Opens the stream for one control message. Returns 0 (handled, whatever
 * became of the visitor), or a negative mux_err from the open. */
static int open_for_service(struct pending *pd, const char *name)
{
	const struct client_ctx *ctx = pd->ctx;
	const struct config_service *cs = config_client_service(ctx->cfg, name);
	int err = 0;
	if (cs == NULL || pd->n >= CLIENT_MAX_PENDING) {
		/* Opened anyway: the server pairs streams with visitors in
		 * order. Then closed (unknown, as the original) or reset. */
		struct mux_stream *s = mconn_open_stream(pd->mc, NULL, &err);
		if (s == NULL)
			return err;
		if (cs == NULL) {
			ctx->unknown_service(ctx->up, name);
			mux_stream_close(s);
		} else {
			warn_cap(pd);
			mux_stream_reset(s);
		}
		mux_stream_release(s);
		return 0;
	}
	struct pend *p = pend_new(pd, false);
	if (p == NULL)
		return -MUX_E_NOMEM;
	struct mux_stream *s = mconn_open_stream(pd->mc, &p->h, &err);
	if (s == NULL) {
		pend_destroy(p);
		return err;
	}
	p->s = s;
	buf_set_cap(&p->held, mux_stream_recv_max(s));
	if (pend_set_service(p, name))
		pend_dial(p);
	return 0;
}

/* `fail` with a formatted reason. */
static void pending_fail(struct pending *pd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pending_fail(struct pending *pd, const char *fmt, ...)
{
	char why[CLIENT_ERRLEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	pd->fail(pd->up, why);
}

static void open_queue_drain(struct pending *pd)
{
	while (!list_empty(&pd->queue) && pd->live) {
		struct open_req *o = list_first_entry(&pd->queue, struct open_req, node);
		int rc = open_for_service(pd, o->service);
		if (rc == -MUX_E_SYN_BACKLOG)
			break;
		list_del(&o->node);
		pd->queue_len--;
		free(o);
		if (rc < 0) {
			pending_fail(pd, "cannot open a stream: %s", mux_strerror(rc));
			return;
		}
	}
	if (pd->mc)
		mconn_kick(pd->mc);
	if (!list_empty(&pd->queue) && pd->live && !loop_timer_active(&pd->open_timer))
		loop_timer_start(pd->ctx->loop, &pd->open_timer, CLIENT_OPEN_RETRY_MS);
}

static void open_timer_fn(struct loop *l, struct loop_timer *t, void *udata)
{
	(void)l;
	(void)t;
	open_queue_drain(udata);
}

/* ---- the set ---- */

void pending_init(struct pending *pd, const struct client_ctx *ctx, void (*fail)(void *up, const char *why),
		  void *up)
{
	memset(pd, 0, sizeof(*pd));
	pd->ctx = ctx;
	pd->fail = fail;
	pd->up = up;
	list_init(&pd->streams);
	list_init(&pd->queue);
	loop_timer_init(&pd->open_timer, open_timer_fn, pd);
}

void pending_start(struct pending *pd, struct mconn *mc, unsigned features)
{
	pd->mc = mc;
	pd->features = features;
	pd->live = true;
}

void pending_request(struct pending *pd, const char *service)
{
	if (list_empty(&pd->queue)) {
		int rc = open_for_service(pd, service);
		if (rc == 0) {
			mconn_kick(pd->mc);
			return;
		}
		if (rc != -MUX_E_SYN_BACKLOG) {
			pending_fail(pd, "cannot open a stream: %s", mux_strerror(rc));
			return;
		}
	}
	/* Keep the order: queue behind earlier messages. */
	if (pd->queue_len >= CLIENT_MAX_OPEN_QUEUE) {
		pending_fail(pd, "more than %d control messages waiting for a stream", CLIENT_MAX_OPEN_QUEUE);
		return;
	}
	size_t n = strlen(service);
	struct open_req *o = calloc(1, sizeof(*o) + n + 1);
	if (o == NULL) {
		pending_fail(pd, "out of memory");
		return;
	}
	memcpy(o->service, service, n + 1);
	list_add_tail(&pd->queue, &o->node);
	pd->queue_len++;
	if (!loop_timer_active(&pd->open_timer))
		loop_timer_start(pd->ctx->loop, &pd->open_timer, CLIENT_OPEN_RETRY_MS);
}

void pending_accept(struct pending *pd, struct mux_stream *s)
{
	struct pend *p = pd->n < CLIENT_MAX_PENDING ? pend_new(pd, true) : NULL;
	if (p == NULL) {
		warn_cap(pd);
		mux_stream_reset(s);
		mux_stream_release(s);
		return;
	}
	p->s = s;
	mconn_stream_bind(s, &p->h);
	if (mux_stream_accept(s) != 0) {
		pend_destroy(p);
		return;
	}
	buf_set_cap(&p->held, mux_stream_recv_max(s));
	loop_timer_start(pd->ctx->loop, &p->timer, pd->ctx->cfg->dial_timeout_ms);
}

void pending_stop(struct pending *pd)
{
	pd->live = false;
	pd->mc = NULL;
	loop_timer_stop(pd->ctx->loop, &pd->open_timer);
	/* The engine reset every held stream before the session's `closed`;
	 * whatever is left (none expected) goes now. */
	while (!list_empty(&pd->streams))
		pend_destroy(list_first_entry(&pd->streams, struct pend, node));
}

void pending_fini(struct pending *pd)
{
	struct list *pos, *tmp;
	list_for_each_safe(pos, tmp, &pd->queue)
	{
		list_del(pos);
		free(list_entry(pos, struct open_req, node));
	}
	pd->queue_len = 0;
}
