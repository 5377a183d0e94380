#include "tunnel/mconn.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"

/* Output backlog thresholds (see mconn.h). */
#define MCONN_HIGH_WATER (512u * 1024)
#define MCONN_LOW_WATER (128u * 1024)
/* Hard cap of the output buffer: only reached if producers ignore
 * backpressure; the session is closed then. */
#define MCONN_OUT_CAP (64u * 1024 * 1024)
/*
 * Input hold: output queued beyond this is the peer not reading what its
 * own frames make us answer (pings, window updates, SYN answers; relays
 * stop producing at MCONN_HIGH_WATER, and one relay read adds at most a
 * scratch buffer). Reading stops until the output drains to half of it;
 * a session held for its dead-peer time is closed. mux.h guarantees each
 * input byte makes bounded output, so this bounds the session's memory.
 */
#define MCONN_IN_HOLD (2u * 1024 * 1024)
/* Transport reads per readable event, for fairness between sessions. */
#define MCONN_READS_PER_EVENT 8
/* Emits of at least this many bytes are written at once (zero copy);
 * smaller ones wait for the before-sleep flush. */
#define MCONN_DIRECT_MIN (8u * 1024)

struct mconn {
	struct worker *env;
	struct transport *t;
	struct mux *mux;
	const struct mconn_owner_ops *ops;
	void *owner;
	char *name;
	struct buf out;
	struct loop_timer timer;
	struct loop_deferred reap;
	struct list waiters; /* struct mconn_waiter.node, newest first */
	uint32_t mask;	     /* current interest */
	bool closing;	     /* mconn_close ran: no more I/O */
	bool read_paused;    /* a write failed: no more reading */
	bool in_held;	     /* input not read: output over hold_bytes */
	size_t hold_bytes;   /* output that stops reading (MCONN_IN_HOLD) */
	uint32_t hold_ms;    /* held this long: closed (the dead-peer time) */
	uint64_t held_since_ms;
	uint32_t read_want; /* what the last read's -EAGAIN waits for */
	int write_err;	    /* transport write failed inside emit */
	int close_err;
	uint8_t *pre; /* session bytes read before the mconn existed */
	size_t prelen;
	struct list dnode; /* on env->dirty while small writes wait */
};

static void flush_dirty(struct loop *l, void *udata);

static void set_mask(struct mconn *c, uint32_t mask)
{
	if (c->mask == mask || c->closing)
		return;
	c->mask = mask;
	loop_watch_set(c->env->loop, c->t->fd, mask);
}

static void update_interest(struct mconn *c)
{
	uint32_t mask = 0;
	if (!c->read_paused && !c->in_held)
		mask |= LOOP_READ;
	if (!buf_empty(&c->out))
		mask |= LOOP_WRITE;
	/* A TLS read may need the socket writable (and a write readable). */
	mask |= c->read_want | transport_want(c->t);
	set_mask(c, mask);
}

static void arm_timer(struct mconn *c)
{
	if (c->closing)
		return;
	struct loop *l = c->env->loop;
	uint64_t now = loop_now_ms(l);
	int64_t in = mux_next_timeout(c->mux, now);
	if (c->in_held) {
		/* The hold's deadline counts too. */
		uint64_t end = c->held_since_ms + c->hold_ms;
		int64_t h = end > now ? (int64_t)(end - now) : 0;
		if (in < 0 || h < in)
			in = h;
	}
	if (in < 0)
		return;
	uint64_t when = loop_now_ms(l) + (uint64_t)in;
	/* Lazy: only move the timer earlier; a late fire recomputes. */
	if (!loop_timer_active(&c->timer) || when < loop_timer_when(&c->timer))
		loop_timer_start(l, &c->timer, (uint64_t)in);
}

static void fail_later(struct mconn *c, int err);

/* The peer does not read: stop reading it (see MCONN_IN_HOLD). */
static void hold_input(struct mconn *c)
{
	struct worker *w = c->env;
	c->in_held = true;
	c->held_since_ms = loop_now_ms(w->loop);
	w->sessions_held++;
	log_limited(&w->hold_log, LOG_LEVEL_WARN,
		    "%s: peer does not read (%zu bytes of output waiting): input held, closed in %u ms "
		    "unless it drains",
		    c->name, buf_len(&c->out), c->hold_ms);
	if (!loop_timer_active(&c->timer) || loop_timer_when(&c->timer) > c->held_since_ms + c->hold_ms)
		loop_timer_start(w->loop, &c->timer, c->hold_ms);
}

/* Output drained below half the hold: read again. */
static void release_input(struct mconn *c)
{
	if (c->in_held && buf_len(&c->out) <= c->hold_bytes / 2) {
		c->in_held = false;
		update_interest(c);
	}
}
static void flush_out(struct mconn *c);

/* ---- small-write batching ---- */

static void dirty_add(struct mconn *c)
{
	if (!list_linked(&c->dnode))
		list_add_head(&c->env->dirty, &c->dnode);
}

/* Before the loop sleeps: write what small emits collected. A flush may
 * close other sessions (which unlink themselves): take one at a time. */
static void flush_dirty(struct loop *l, void *udata)
{
	struct worker *env = udata;
	(void)l;
	struct mconn *c;
	while ((c = list_first_entry(&env->dirty, struct mconn, dnode)) != NULL) {
		list_del(&c->dnode);
		if (!c->closing && !c->write_err)
			flush_out(c);
	}
}

/* ---- engine callbacks ---- */

static void on_emit(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct mconn *c = ctx;
	if (c->closing || c->write_err)
		return;
	size_t total = 0;
	for (int i = 0; i < iovcnt; i++)
		total += iov[i].iov_len;
	size_t skip = 0;
	if (total >= MCONN_DIRECT_MIN && !(c->mask & LOOP_WRITE)) {
		/* Bulk: one writev of what is buffered, then these frames. */
		struct iovec v[2 + 8 * (MUX_MAX_IOV + 2)];
		int nb = buf_peekv(&c->out, v);
		int n = nb;
		for (int i = 0; i < iovcnt && n < (int)(sizeof(v) / sizeof(v[0])); i++)
			v[n++] = iov[i];
		size_t buffered = buf_len(&c->out);
		ssize_t w = transport_writev(c->t, v, n);
		if (w < 0 && w != -EAGAIN) {
			c->write_err = (int)-w;
			fail_later(c, MUX_E_EOF);
			return;
		}
		size_t wrote = w > 0 ? (size_t)w : 0;
		size_t from_buf = wrote < buffered ? wrote : buffered;
		buf_consume(&c->out, from_buf);
		skip = wrote - from_buf;
	}
	for (int i = 0; i < iovcnt; i++) {
		size_t len = iov[i].iov_len;
		if (skip >= len) {
			skip -= len;
			continue;
		}
		if (buf_append(&c->out, (const uint8_t *)iov[i].iov_base + skip, len - skip) != 0) {
			if (buf_len(&c->out) + len - skip <= MCONN_OUT_CAP)
				log_warnx("%s: memory budget refuses the session's output (%zu bytes queued), closing",
					  c->name, buf_len(&c->out));
			else
				log_warnx("%s: output buffer over %u bytes, closing", c->name, MCONN_OUT_CAP);
			c->write_err = ENOBUFS;
			fail_later(c, MUX_E_LOCAL);
			return;
		}
		skip = 0;
	}
	if (!c->in_held && buf_len(&c->out) > c->hold_bytes)
		hold_input(c);
	if (!buf_empty(&c->out)) {
		if (total >= MCONN_DIRECT_MIN || c->in_held)
			update_interest(c); /* the socket is full: wait for it */
		else if (!(c->mask & LOOP_WRITE))
			dirty_add(c); /* small: written before the loop sleeps */
	}
}

static struct mstream_handler *handler_of(struct mux_stream *s)
{
	return mux_stream_udata(s);
}

static void on_stream_open(void *ctx, struct mux_stream *s)
{
	struct mconn *c = ctx;
	if (c->closing) {
		mux_stream_reset(s);
		mux_stream_release(s);
		return;
	}
	c->ops->stream_open(c->owner, c, s);
}

static void on_established(void *ctx, struct mux_stream *s)
{
	struct mstream_handler *h = handler_of(s);
	(void)ctx;
	if (h && h->ops->established)
		h->ops->established(h, s);
}

static void on_data(void *ctx, struct mux_stream *s, const uint8_t *p, size_t n)
{
	struct mstream_handler *h = handler_of(s);
	(void)ctx;
	if (h)
		h->ops->data(h, s, p, n);
	else
		mux_stream_consumed(s, n);
}

static void on_fin(void *ctx, struct mux_stream *s)
{
	struct mstream_handler *h = handler_of(s);
	(void)ctx;
	if (h)
		h->ops->fin(h, s);
}

static void on_reset(void *ctx, struct mux_stream *s, int err)
{
	struct mstream_handler *h = handler_of(s);
	(void)ctx;
	if (h)
		h->ops->reset(h, s, err);
	else
		mux_stream_release(s);
}

static void on_writable(void *ctx, struct mux_stream *s)
{
	struct mstream_handler *h = handler_of(s);
	(void)ctx;
	if (h && h->ops->writable)
		h->ops->writable(h, s);
}

static void teardown(struct mconn *c, int err);

/* Unlinks every node of head (the owners are not called). */
static void unlink_all(struct list *head)
{
	struct list *pos, *tmp;
	list_for_each_safe(pos, tmp, head)
		list_del(pos);
}

static void on_session_closed(void *ctx, int err)
{
	struct mconn *c = ctx;
	teardown(c, err);
}

static void on_pong(void *ctx, uint32_t rtt)
{
	struct mconn *c = ctx;
	if (c->ops->pong)
		c->ops->pong(c->owner, c, rtt);
}

static const struct mux_ops engine_ops = {
	.emit = on_emit,
	.stream_open = on_stream_open,
	.stream_established = on_established,
	.stream_data = on_data,
	.stream_fin = on_fin,
	.stream_reset = on_reset,
	.stream_writable = on_writable,
	.session_closed = on_session_closed,
	.pong = on_pong,
};

/* ---- teardown ---- */

static void reap(void *arg)
{
	struct mconn *c = arg;
	worker_freed(c->env);
	loop_timer_stop(c->env->loop, &c->timer);
	loop_unwatch(c->env->loop, c->t->fd);
	transport_free(c->t);
	mux_free(c->mux);
	buf_reset(&c->out);
	free(c->pre);
	free(c->name);
	free(c);
}

/* The session is over (called once, from the engine's session_closed or
 * from mconn_close when the engine was already closed). */
static void teardown(struct mconn *c, int err)
{
	if (c->closing)
		return;
	c->closing = true;
	c->close_err = err;
	list_del(&c->dnode);
	loop_timer_stop(c->env->loop, &c->timer);
	loop_watch_set(c->env->loop, c->t->fd, 0);
	/* Waiters belong to relays that are being reset anyway. */
	unlink_all(&c->waiters);
	c->ops->closed(c->owner, c, err);
	loop_defer(c->env->loop, &c->reap, reap, c);
}

static void fail_later(struct mconn *c, int err)
{
	/* Called from inside the engine (emit): the engine cannot be closed
	 * re-entrantly there, so stop I/O now and close from the timer. */
	if (c->close_err == 0)
		c->close_err = err;
	c->read_paused = true;
	loop_watch_set(c->env->loop, c->t->fd, 0);
	c->mask = 0;
	loop_timer_start(c->env->loop, &c->timer, 0);
}

void mconn_close(struct mconn *c, int goaway_code, int err)
{
	if (c->closing)
		return;
	if (goaway_code >= 0 && !mux_is_closed(c->mux) && !c->write_err) {
		mux_go_away(c->mux, (uint32_t)(goaway_code ? goaway_code : MUX_GOAWAY_NORMAL));
		/* One attempt to get the GoAway (and what is queued) out. */
		transport_write_buf(c->t, &c->out);
	}
	if (mux_is_closed(c->mux))
		teardown(c, err ? err : mux_error(c->mux));
	else
		mux_close(c->mux, err ? err : MUX_E_LOCAL); /* -> on_session_closed -> teardown */
}

void mconn_go_away(struct mconn *c)
{
	if (!c->closing)
		mux_go_away(c->mux, MUX_GOAWAY_NORMAL);
}

/* ---- I/O ---- */

static void wake_waiters(struct mconn *c)
{
	/* Waiters may re-register while being called: move them to a batch
	 * first, so a re-registered waiter waits for the next drain. One
	 * cancelled meanwhile leaves the batch (list_del finds it there). */
	struct list batch, *pos, *tmp;
	list_init(&batch);
	list_for_each_safe(pos, tmp, &c->waiters)
	{
		list_del(pos);
		list_add_tail(&batch, pos);
	}
	while (!c->closing && (pos = list_first(&batch)) != NULL) {
		list_del(pos);
		struct mconn_waiter *w = list_entry(pos, struct mconn_waiter, node);
		w->fn(w);
	}
	/* If closing interrupted the walk, unlink the rest. */
	unlink_all(&batch);
}

static void flush_out(struct mconn *c)
{
	ssize_t w = transport_write_buf(c->t, &c->out);
	if (w < 0) {
		c->write_err = (int)-w;
		mconn_close(c, -1, MUX_E_EOF);
		return;
	}
	release_input(c);
	if (buf_len(&c->out) < MCONN_LOW_WATER && !list_empty(&c->waiters) && !c->write_err) {
		wake_waiters(c);
		if (c->closing)
			return;
	}
	update_interest(c);
}

static void read_in(struct mconn *c)
{
	struct worker *env = c->env;
	c->read_want = 0;
	for (int i = 0; i < MCONN_READS_PER_EVENT && !c->closing && !c->read_paused && !c->in_held; i++) {
		ssize_t r = transport_read(c->t, env->rx, env->rx_len);
		if (r == -EAGAIN) {
			c->read_want = transport_want(c->t);
			if (c->read_want & LOOP_WRITE)
				update_interest(c);
			break;
		}
		if (r <= 0) {
			if (r < 0)
				log_debug("%s: read: %s", c->name, strerror((int)-r));
			mconn_close(c, -1, MUX_E_EOF);
			return;
		}
		mux_input(c->mux, env->rx, (size_t)r, loop_now_ms(env->loop));
		if (c->closing)
			return;
		if (c->write_err) {
			mconn_close(c, -1, c->close_err ? c->close_err : MUX_E_EOF);
			return;
		}
		/* A short read means the socket is drained, unless TLS holds
		 * decrypted bytes the fd will not signal again. */
		if ((size_t)r < env->rx_len && transport_pending(c->t) == 0)
			break;
	}
	if (!c->closing && !c->in_held && transport_pending(c->t) > 0)
		loop_timer_start(env->loop, &c->timer, 0); /* more to read: come back at once */
	arm_timer(c);
}

static void on_io(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct mconn *c = udata;
	(void)l;
	(void)fd;
	if (c->closing)
		return;
	if (events & LOOP_WRITE) {
		flush_out(c);
		if (c->closing)
			return;
	}
	if ((events & LOOP_READ) || (c->read_want & LOOP_WRITE))
		read_in(c);
}

static void on_timer(struct loop *l, struct loop_timer *t, void *udata)
{
	struct mconn *c = udata;
	(void)t;
	if (c->closing)
		return;
	if (c->write_err) {
		mconn_close(c, -1, c->close_err ? c->close_err : MUX_E_EOF);
		return;
	}
	if (c->pre != NULL) {
		/* Fed through rx so stream handlers see one kind of source. */
		struct worker *env = c->env;
		size_t off = 0;
		while (off < c->prelen && !c->closing) {
			size_t n = c->prelen - off < env->rx_len ? c->prelen - off : env->rx_len;
			memcpy(env->rx, c->pre + off, n);
			mux_input(c->mux, env->rx, n, loop_now_ms(l));
			off += n;
		}
		free(c->pre);
		c->pre = NULL;
		if (c->closing)
			return;
	}
	if (c->in_held && loop_now_ms(l) - c->held_since_ms >= c->hold_ms) {
		c->env->sessions_closed_unread++;
		log_limited(&c->env->hold_log, LOG_LEVEL_WARN,
			    "%s: peer read nothing for %u ms (%zu bytes of output waiting): closing",
			    c->name, c->hold_ms, buf_len(&c->out));
		mconn_close(c, -1, MUX_E_KEEPALIVE);
		return;
	}
	if (!c->in_held && transport_pending(c->t) > 0) {
		read_in(c);
		if (c->closing)
			return;
	}
	mux_tick(c->mux, loop_now_ms(l));
	if (!c->closing)
		arm_timer(c);
}

/* ---- public ---- */

struct mconn *mconn_new(struct worker *env, struct transport *t, const struct mux_config *cfg,
			const struct mconn_owner_ops *ops, void *owner, const char *name,
			const uint8_t *pre, size_t prelen)
{
	struct mconn *c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto fail;
	c->env = env;
	c->t = t;
	c->ops = ops;
	c->owner = owner;
	list_init(&c->waiters);
	c->name = strdup(name ? name : "session");
	if (c->name == NULL)
		goto fail;
	buf_init(&c->out, MCONN_OUT_CAP);
	buf_set_acct(&c->out, budget_acct(&env->budget, BUDGET_SESSION_OUT));
	c->hold_bytes = MCONN_IN_HOLD;
	c->hold_ms = cfg && cfg->ping_timeout_ms ? cfg->ping_timeout_ms : 30000;
	loop_timer_init(&c->timer, on_timer, c);
	/* The batched flush of small writes runs before the loop sleeps. */
	if (worker_before_sleep(env, flush_dirty) != 0)
		goto fail;
	c->mux = mux_new(cfg, &engine_ops, c, loop_now_ms(env->loop));
	if (c->mux == NULL)
		goto fail;
	c->mask = LOOP_READ;
	if (loop_watch(env->loop, t->fd, LOOP_READ, on_io, c) != 0)
		goto fail;
	if (prelen > 0) {
		/* Processed from the timer, so no callback runs inside mconn_new. */
		c->pre = malloc(prelen);
		if (c->pre == NULL) {
			loop_unwatch(env->loop, t->fd);
			goto fail;
		}
		memcpy(c->pre, pre, prelen);
		c->prelen = prelen;
		loop_timer_start(env->loop, &c->timer, 0);
	}
	/* TLS may already hold session bytes (read ahead with the HTTP head)
	 * that the fd will not signal: the timer reads them. */
	if (transport_pending(t) > 0)
		loop_timer_start(env->loop, &c->timer, 0);
	arm_timer(c);
	return c;
fail:
	if (c) {
		if (c->mux)
			mux_free(c->mux);
		free(c->name);
		free(c);
	}
	transport_free(t);
	return NULL;
}

struct mux *mconn_mux(const struct mconn *c)
{
	return c->mux;
}

const char *mconn_name(const struct mconn *c)
{
	return c->name;
}

struct worker *worker(const struct mconn *c)
{
	return c->env;
}

bool mconn_closing(const struct mconn *c)
{
	return c->closing;
}

void mconn_set_input_hold(struct mconn *c, size_t bytes, uint32_t ms)
{
	c->hold_bytes = bytes ? bytes : MCONN_IN_HOLD;
	if (ms)
		c->hold_ms = ms;
	if (!c->in_held && buf_len(&c->out) > c->hold_bytes)
		hold_input(c);
	else
		release_input(c);
}

bool mconn_congested(const struct mconn *c)
{
	return buf_len(&c->out) > MCONN_HIGH_WATER || c->closing;
}

size_t mconn_out_len(const struct mconn *c)
{
	return buf_len(&c->out);
}

void mconn_wait_drain(struct mconn *c, struct mconn_waiter *w)
{
	if (list_linked(&w->node) || c->closing)
		return;
	list_add_head(&c->waiters, &w->node);
}

void mconn_waiter_cancel(struct mconn *c, struct mconn_waiter *w)
{
	(void)c;
	list_del(&w->node);
}

struct mux_stream *mconn_open_stream(struct mconn *c, struct mstream_handler *h, int *err)
{
	if (c->closing) {
		if (err)
			*err = -MUX_E_SHUTDOWN;
		return NULL;
	}
	struct mux_stream *s = mux_stream_open(c->mux, err);
	if (s != NULL)
		mconn_stream_bind(s, h);
	return s;
}

void mconn_kick(struct mconn *c)
{
	arm_timer(c);
}

void mconn_set_owner(struct mconn *c, void *owner)
{
	c->owner = owner;
}
