#include "tunnel/relay.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"

/* Bytes waiting for the socket are bounded by the stream's receive window;
 * this is only a safety cap. */
#define RELAY_TO_SOCKET_CAP (64u * 1024 * 1024)

/*
 * One state per direction. Up is socket -> stream, down is stream ->
 * socket. Every change goes through up_to() / down_to(), which assert the
 * transition; relay_end() moves both to their END state.
 *
 *   up:   OPEN --(socket EOF: FIN sent)--> EOF
 *         OPEN --(FIN sent without the socket's EOF: full close, end)--> FIN
 *   down: OPEN --(peer FIN)--> FIN_PENDING --(buffer flushed: SHUT_WR)--> SHUT
 *   both: any --(relay_end)--> END
 */
enum relay_up {
	UP_OPEN, /* reading the socket into the stream */
	UP_FIN,	 /* our FIN is sent; the socket's read side was not at EOF */
	UP_EOF,	 /* the socket's EOF was seen and our FIN sent */
	UP_END,	 /* the relay has ended */
};
enum relay_down {
	DOWN_OPEN,	  /* stream payload goes to the socket */
	DOWN_FIN_PENDING, /* the peer's FIN came; shutdown once the buffer is out */
	DOWN_SHUT,	  /* the socket's write side is done (or given up: full close) */
	DOWN_END,	  /* the relay has ended */
};

struct relay {
	struct mstream_handler h;
	struct mconn *c;
	struct loop *loop;
	struct mux_stream *s;
	int fd;
	uint32_t mask;
	struct buf to_sock;
	struct mconn_waiter drain;
	struct loop_deferred reap;
	relay_done_fn done;
	void *udata;
	uint64_t up, down;
	uint64_t start_ms;
	const char *reason;
	char *client, *service, *peer, *id;
	bool half_close;
	enum relay_up up_st;
	enum relay_down down_st;
};

static void up_to(struct relay *r, enum relay_up st)
{
	/* From OPEN to FIN or EOF once; to END once, from anywhere. */
	assert(r->up_st != UP_END);
	assert(st == UP_END || r->up_st == UP_OPEN);
	r->up_st = st;
}

static void down_to(struct relay *r, enum relay_down st)
{
	/* Forward one step at a time, or to END once, from anywhere. */
	assert(r->down_st != DOWN_END);
	assert(st == DOWN_END || st == r->down_st + 1);
	r->down_st = st;
}

static bool ended(const struct relay *r)
{
	return r->up_st == UP_END;
}

/* Our FIN is on the stream (whether or not the socket reached EOF). */
static bool fin_sent(const struct relay *r)
{
	return r->up_st == UP_FIN || r->up_st == UP_EOF;
}

static void relay_end(struct relay *r, const char *reason, bool abortive);

static void set_mask(struct relay *r, uint32_t mask)
{
	if (ended(r) || r->mask == mask)
		return;
	r->mask = mask;
	loop_watch_set(r->loop, r->fd, mask);
}

/* Desired interest from the state. */
static void update_interest(struct relay *r)
{
	uint32_t mask = 0;
	bool win = mux_stream_send_window(r->s) > 0;
	if (r->up_st == UP_OPEN && win) {
		/* A congested session wakes us through the drain waiter. */
		if (!mconn_congested(r->c))
			mask |= LOOP_READ;
		else
			mconn_wait_drain(r->c, &r->drain);
	}
	/* Reads are sized to the window, so a write that used it up was not
	 * short and did not ask for stream_writable by itself. */
	if (r->up_st == UP_OPEN && !win)
		mux_stream_want_writable(r->s);
	/* Also when a peer FIN is still to be acted on (it came before the
	 * relay existed): the write event runs finish_down. */
	if (!buf_empty(&r->to_sock) || r->down_st == DOWN_FIN_PENDING)
		mask |= LOOP_WRITE;
	set_mask(r, mask);
}

/* Half-close: both directions are done. Full close: our FIN is out, the
 * peer's came, and the socket has what was before it. */
static void check_done(struct relay *r)
{
	if (ended(r))
		return;
	bool done = r->half_close ? fin_sent(r) && r->down_st == DOWN_SHUT
				  : fin_sent(r) && r->down_st != DOWN_OPEN && buf_empty(&r->to_sock);
	if (done)
		relay_end(r, r->reason ? r->reason : "closed", false);
}

/* FIN on the stream, once; `st` says whether the socket reached EOF. */
static void send_fin(struct relay *r, enum relay_up st)
{
	if (r->up_st != UP_OPEN)
		return;
	up_to(r, st);
	mux_stream_close(r->s);
}

/* The stream direction has ended and everything is flushed to the socket. */
static void finish_down(struct relay *r)
{
	if (r->down_st != DOWN_FIN_PENDING)
		return;
	down_to(r, DOWN_SHUT);
	if (r->half_close) {
		/* When the socket's read side has ended too, check_done closes
		 * it now, and close() sends the FIN: no shutdown() first. */
		if (r->up_st != UP_EOF)
			shutdown(r->fd, SHUT_WR);
	} else {
		/* Go peers: the first end closes both directions. */
		if (!r->reason)
			r->reason = "peer closed";
		send_fin(r, UP_FIN);
	}
	check_done(r);
}

static void flush_to_sock(struct relay *r)
{
	while (!buf_empty(&r->to_sock)) {
		struct iovec iov[2];
		int n = buf_peekv(&r->to_sock, iov);
		ssize_t w = buf_writev_fd(r->fd, iov, n);
		if (w == -EAGAIN)
			break;
		if (w < 0) {
			relay_end(r, strerror((int)-w), true);
			return;
		}
		buf_consume(&r->to_sock, (size_t)w);
		mux_stream_consumed(r->s, (size_t)w);
	}
	if (buf_empty(&r->to_sock) && r->down_st == DOWN_FIN_PENDING)
		finish_down(r);
	if (!ended(r))
		update_interest(r);
}

static void on_drain(struct mconn_waiter *w)
{
	struct relay *r = (struct relay *)((char *)w - offsetof(struct relay, drain));
	update_interest(r);
}

static void read_sock(struct relay *r)
{
	struct worker *env = worker(r->c);
	size_t win = mux_stream_send_window(r->s);
	if (win == 0 || r->up_st != UP_OPEN) {
		update_interest(r);
		return;
	}
	if (mconn_congested(r->c)) {
		mconn_wait_drain(r->c, &r->drain);
		update_interest(r);
		return;
	}
	size_t n = win < env->tx_len ? win : env->tx_len;
	ssize_t got;
	do
		got = read(r->fd, env->tx, n);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		relay_end(r, strerror(errno), true);
		return;
	}
	if (got == 0) {
		if (!r->half_close && !r->reason)
			r->reason = "visitor closed";
		send_fin(r, UP_EOF);
		update_interest(r);
		check_done(r);
		return;
	}
	struct iovec iov = { env->tx, (size_t)got };
	ssize_t w = mux_stream_write(r->s, &iov, 1);
	if (w != got) {
		/* Cannot happen while got <= window; treat as a dead stream. */
		relay_end(r, w < 0 ? mux_strerror((int)w) : "short stream write", true);
		return;
	}
	r->up += (uint64_t)got;
	if (mconn_congested(r->c))
		mconn_wait_drain(r->c, &r->drain);
	update_interest(r);
}

static void on_sock(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct relay *r = udata;
	(void)l;
	(void)fd;
	if (ended(r))
		return;
	if (events & LOOP_WRITE) {
		flush_to_sock(r);
		if (ended(r))
			return;
	}
	if (events & LOOP_READ)
		read_sock(r);
}

/* ---- stream events ---- */

static void st_data(struct mstream_handler *h, struct mux_stream *s, const uint8_t *p, size_t n)
{
	struct relay *r = (struct relay *)h;
	if (r->down_st == DOWN_SHUT || r->down_st == DOWN_END) {
		mux_stream_consumed(s, n);
		return;
	}
	r->down += n;
	size_t off = 0;
	if (buf_empty(&r->to_sock)) {
		struct iovec iov = { (void *)p, n };
		ssize_t w = buf_writev_fd(r->fd, &iov, 1);
		if (w < 0 && w != -EAGAIN) {
			mux_stream_consumed(s, n);
			relay_end(r, strerror((int)-w), true);
			return;
		}
		if (w > 0) {
			off = (size_t)w;
			mux_stream_consumed(s, off);
		}
	}
	if (off < n) {
		if (buf_append(&r->to_sock, p + off, n - off) != 0) {
			mux_stream_consumed(s, n - off);
			relay_end(r, "socket buffer full", true);
			return;
		}
		update_interest(r);
	}
}

static void st_fin(struct mstream_handler *h, struct mux_stream *s)
{
	struct relay *r = (struct relay *)h;
	(void)s;
	if (ended(r))
		return;
	if (r->down_st == DOWN_OPEN)
		down_to(r, DOWN_FIN_PENDING);
	if (buf_empty(&r->to_sock))
		finish_down(r);
}

static void st_reset(struct mstream_handler *h, struct mux_stream *s, int err)
{
	struct relay *r = (struct relay *)h;
	(void)s;
	if (ended(r))
		return;
	relay_end(r, err == MUX_E_RESET ? "stream reset by peer" : mux_strerror(err), true);
}

static void st_writable(struct mstream_handler *h, struct mux_stream *s)
{
	struct relay *r = (struct relay *)h;
	(void)s;
	if (!ended(r))
		update_interest(r);
}

static const struct mstream_ops relay_stream_ops = {
	.data = st_data,
	.fin = st_fin,
	.reset = st_reset,
	.writable = st_writable,
};

/* ---- lifecycle ---- */

static void reap(void *arg)
{
	struct relay *r = arg;
	buf_reset(&r->to_sock);
	free(r->client);
	free(r->service);
	free(r->peer);
	free(r->id);
	free(r);
}

static void relay_end(struct relay *r, const char *reason, bool abortive)
{
	if (ended(r))
		return;
	bool fin = fin_sent(r);
	up_to(r, UP_END);
	down_to(r, DOWN_END);
	if (!r->reason || abortive)
		r->reason = reason;
	mconn_waiter_cancel(r->c, &r->drain);
	if (abortive) {
		struct linger lg = { 1, 0 };
		setsockopt(r->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		mux_stream_reset(r->s);
	} else if (!fin) {
		mux_stream_close(r->s);
	}
	loop_unwatch_close(r->loop, r->fd);
	r->fd = -1;
	mux_stream_set_udata(r->s, NULL);
	mux_stream_release(r->s);
	r->s = NULL;
	uint64_t ms = loop_now_ms(r->loop) - r->start_ms;
	log_info("conn %s%sclient=%s service=%s peer=%s up=%llu down=%llu duration=%llu.%03llus reason=%s",
		 r->id ? r->id : "", r->id ? " " : "", r->client, r->service, r->peer,
		 (unsigned long long)r->up, (unsigned long long)r->down,
		 (unsigned long long)(ms / 1000), (unsigned long long)(ms % 1000), r->reason);
	if (r->done)
		r->done(r->udata, r);
	worker_freed(worker(r->c));
	loop_defer(r->loop, &r->reap, reap, r);
}

void relay_abort(struct relay *r, const char *reason)
{
	relay_end(r, reason, true);
}

static char *dup_or(const char *s, const char *fallback)
{
	return strdup(s ? s : fallback);
}

struct relay *relay_new(struct mconn *c, struct mux_stream *s, int fd, const struct relay_info *info,
			relay_done_fn done, void *udata)
{
	struct relay *r = calloc(1, sizeof(*r));
	if (r == NULL)
		goto fail;
	r->h.ops = &relay_stream_ops;
	r->c = c;
	r->loop = worker(c)->loop;
	r->s = s;
	r->fd = fd;
	r->done = done;
	r->udata = udata;
	r->half_close = info->half_close;
	r->start_ms = loop_now_ms(r->loop);
	r->client = dup_or(info->client, "-");
	r->service = dup_or(info->service, "-");
	r->peer = dup_or(info->peer, "-");
	r->id = info->id ? strdup(info->id) : NULL;
	if (!r->client || !r->service || !r->peer || (info->id && !r->id))
		goto fail;
	buf_init(&r->to_sock, RELAY_TO_SOCKET_CAP);
	r->drain.fn = on_drain;
	r->mask = LOOP_READ;
	if (loop_watch(r->loop, fd, LOOP_READ, on_sock, r) != 0)
		goto fail;
	mconn_stream_bind(s, &r->h);
	/* The peer may have ended its direction before the relay took the
	 * stream (e.g. during the local dial): handled once the bytes given to
	 * relay_push_to_socket are written. */
	if (mux_stream_remote_closed(s))
		down_to(r, DOWN_FIN_PENDING);
	update_interest(r);
	return r;
fail:
	if (r) {
		free(r->client);
		free(r->service);
		free(r->peer);
		free(r->id);
		free(r);
	}
	close(fd);
	mux_stream_reset(s);
	mux_stream_release(s);
	return NULL;
}

int relay_send_prefix(struct relay *r, const void *p, size_t n)
{
	if (n == 0)
		return 0;
	struct iovec iov = { (void *)p, n };
	ssize_t w = mux_stream_write(r->s, &iov, 1);
	if (w < 0)
		return (int)w;
	if ((size_t)w != n)
		return -MUX_E_INVAL;
	return 0;
}

int relay_push_to_socket(struct relay *r, const void *p, size_t n)
{
	if (n == 0 || ended(r))
		return 0;
	bool was_empty = buf_empty(&r->to_sock);
	int rc = buf_append(&r->to_sock, p, n);
	if (rc != 0)
		return rc;
	r->down += n;
	if (was_empty)
		flush_to_sock(r); /* a fresh socket has room: no wait for LOOP_WRITE */
	else
		update_interest(r);
	return 0;
}

void relay_read_now(struct relay *r)
{
	if (!ended(r))
		read_sock(r);
}

uint64_t relay_bytes_up(const struct relay *r)
{
	return r->up;
}

uint64_t relay_bytes_down(const struct relay *r)
{
	return r->down;
}

const char *relay_reason(const struct relay *r)
{
	return r->reason;
}
