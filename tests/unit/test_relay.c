/*
 * Unit tests for tunnel/relay: a relay joins a TCP socket (a loopback pair:
 * the test holds one end, `x`) to a stream of an mconn on a real loop. The
 * mconn's transport is one end of a socketpair; at the other end sits an
 * in-memory yamux peer (a bare mux engine the test pumps by hand, so it can
 * stop reading, hold credit, FIN or RST whenever a test needs it).
 *
 * Every wait is "step until a condition holds" with a bounded number of
 * steps: the tests check behaviour, never timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/loop.h"
#include "base/transport.h"
#include "mux/mux.h"
#include "tunnel/mconn.h"
#include "tunnel/relay.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define MAX_STEPS 20000

/* ---- the in-memory peer ---- */

struct peer {
	struct mux *m;
	int fd;
	uint8_t *out; /* emitted, not yet written to fd */
	size_t out_len, out_cap;
	bool paused;  /* stop reading fd */
	bool hold;    /* keep received data unconsumed (no credit back) */
	size_t held;
	struct mux_stream *s;
	uint8_t *got;
	size_t got_len, got_cap;
	int fins, resets, reset_err;
};

static void grow_append(uint8_t **p, size_t *len, size_t *cap, const void *src, size_t n)
{
	if (*len + n > *cap) {
		size_t c = *cap ? *cap : 4096;
		while (c < *len + n)
			c *= 2;
		*p = realloc(*p, c);
		assert_non_null(*p);
		*cap = c;
	}
	memcpy(*p + *len, src, n);
	*len += n;
}

static void p_emit(void *ctx, const struct iovec *iov, int n)
{
	struct peer *p = ctx;
	for (int i = 0; i < n; i++)
		grow_append(&p->out, &p->out_len, &p->out_cap, iov[i].iov_base, iov[i].iov_len);
}

static void p_open(void *ctx, struct mux_stream *s)
{
	struct peer *p = ctx;
	assert_null(p->s);
	p->s = s;
	assert_int_equal(mux_stream_accept(s), 0);
}

static void p_data(void *ctx, struct mux_stream *s, const uint8_t *d, size_t n)
{
	struct peer *p = ctx;
	grow_append(&p->got, &p->got_len, &p->got_cap, d, n);
	if (p->hold)
		p->held += n;
	else
		mux_stream_consumed(s, n);
}

static void p_fin(void *ctx, struct mux_stream *s)
{
	struct peer *p = ctx;
	(void)s;
	p->fins++;
}

static void p_reset(void *ctx, struct mux_stream *s, int err)
{
	struct peer *p = ctx;
	p->resets++;
	p->reset_err = err;
	mux_stream_release(s);
	p->s = NULL;
}

static const struct mux_ops peer_ops = {
	.emit = p_emit,
	.stream_open = p_open,
	.stream_data = p_data,
	.stream_fin = p_fin,
	.stream_reset = p_reset,
};

static void peer_pump(struct peer *p)
{
	size_t off = 0;
	while (off < p->out_len) {
		ssize_t w = write(p->fd, p->out + off, p->out_len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off > 0) {
		memmove(p->out, p->out + off, p->out_len - off);
		p->out_len -= off;
	}
	while (!p->paused) {
		uint8_t b[64 * 1024];
		ssize_t r = read(p->fd, b, sizeof(b));
		if (r <= 0)
			break;
		mux_input(p->m, b, (size_t)r, 0);
	}
}

/* Gives back the credit held so far. */
static void peer_release_credit(struct peer *p)
{
	p->hold = false;
	if (p->s && p->held)
		mux_stream_consumed(p->s, p->held);
	p->held = 0;
}

static ssize_t peer_write(struct peer *p, const void *d, size_t n)
{
	struct iovec iov = {(void *)d, n};
	return mux_stream_write(p->s, &iov, 1);
}

/* ---- log capture ---- */

struct summary {
	int count;
	char msg[LOG_LINE_MAX + 8];
};
static struct summary summary;

static void sink(void *udata, enum log_level level, const char *line, const char *msg)
{
	(void)udata;
	(void)level;
	(void)line;
	if (strncmp(msg, "conn ", 5) == 0 && strstr(msg, " reason=") != NULL) {
		summary.count++;
		snprintf(summary.msg, sizeof(summary.msg), "%s", msg);
	}
}

/* ---- fixture ---- */

struct fx {
	struct loop *l;
	struct worker env;
	struct mconn *c;
	struct mux_stream *s; /* the relay's stream (owned by the relay) */
	struct peer p;
	int x, rfd;
	struct relay *r;
	int done_calls;
	bool ended;
	bool mconn_closed;
	uint8_t *xgot;	/* read from x */
	size_t xgot_len, xgot_cap;
	bool x_eof;
	int x_err;
};

static void o_stream_open(void *owner, struct mconn *c, struct mux_stream *s)
{
	(void)owner;
	(void)c;
	mux_stream_reset(s);
	mux_stream_release(s);
}

static void o_closed(void *owner, struct mconn *c, int err)
{
	struct fx *f = owner;
	(void)c;
	(void)err;
	f->mconn_closed = true;
}

static const struct mconn_owner_ops owner_ops = {
	.stream_open = o_stream_open,
	.closed = o_closed,
};

static void on_done(void *udata, struct relay *r)
{
	struct fx *f = udata;
	assert_ptr_equal(r, f->r);
	f->done_calls++;
	f->ended = true;
}

static void nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);
	assert_int_equal(fcntl(fd, F_SETFL, fl | O_NONBLOCK), 0);
}

/* A connected loopback TCP pair. */
static void tcp_pair(int *a, int *b)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(ls >= 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t sl = sizeof(sa);
	assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(listen(ls, 1), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&sa, &sl), 0);
	*a = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(*a >= 0);
	assert_int_equal(connect(*a, (struct sockaddr *)&sa, sizeof(sa)), 0);
	*b = accept(ls, NULL, NULL);
	assert_true(*b >= 0);
	close(ls);
	nonblock(*a);
	nonblock(*b);
}

static void step(struct fx *f)
{
	assert_true(loop_run_once(f->l, 0) >= 0);
	peer_pump(&f->p);
}

/* Reads what x has (no wait). */
static void x_drain(struct fx *f)
{
	while (!f->x_eof && f->x_err == 0) {
		uint8_t b[64 * 1024];
		ssize_t r = read(f->x, b, sizeof(b));
		if (r > 0) {
			grow_append(&f->xgot, &f->xgot_len, &f->xgot_cap, b, (size_t)r);
		} else if (r == 0) {
			f->x_eof = true;
		} else {
			if (errno != EAGAIN)
				f->x_err = errno;
			break;
		}
	}
}

#define RUN_UNTIL(f, cond)                                          \
	do {                                                        \
		for (int i_ = 0; i_ < MAX_STEPS && !(cond); i_++)   \
			step(f);                                    \
		assert_true(cond);                                  \
	} while (0)

/* Sets up the loop, the mconn and the peer, opens a stream and starts a
 * relay on it; returns once the peer has accepted the stream and its ACK
 * (with the peer's window) reached us. */
static void fx_start(struct fx *f, bool half_close, uint32_t peer_window)
{
	memset(f, 0, sizeof(*f));
	memset(&summary, 0, sizeof(summary));
	log_set_sink(sink, NULL);
	f->l = loop_new();
	assert_non_null(f->l);
	assert_int_equal(worker_init(&f->env, f->l), 0);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct mux_config mc;
	mux_config_default(&mc);
	mc.keepalive_ms = 0;
	f->c = mconn_new(&f->env, transport_tcp_new(sv[0]), &mc, &owner_ops, f, "test", NULL, 0);
	assert_non_null(f->c);
	struct mux_config pc;
	mux_config_default(&pc);
	pc.client = true;
	pc.keepalive_ms = 0;
	pc.recv_window = peer_window;
	f->p.fd = sv[1];
	f->p.m = mux_new(&pc, &peer_ops, &f->p, 0);
	assert_non_null(f->p.m);

	int err = 0;
	f->s = mconn_open_stream(f->c, NULL, &err);
	assert_non_null(f->s);
	tcp_pair(&f->x, &f->rfd);
	struct relay_info info = {
		.client = "c1", .service = "web", .peer = "127.0.0.1:1", .half_close = half_close, .id = "v1"};
	f->r = relay_new(f->c, f->s, f->rfd, &info, on_done, f);
	assert_non_null(f->r);
	RUN_UNTIL(f, f->p.s != NULL && mux_stream_send_window(f->s) >= peer_window);
}

static void fx_stop(struct fx *f)
{
	if (!f->ended)
		relay_abort(f->r, "test over");
	if (!f->mconn_closed)
		mconn_close(f->c, -1, 0);
	for (int i = 0; i < 4; i++)
		step(f);
	assert_true(f->mconn_closed);
	assert_int_equal(f->done_calls, 1);
	worker_fini(&f->env);
	loop_free(f->l);
	mux_free(f->p.m);
	close(f->p.fd);
	close(f->x);
	free(f->p.out);
	free(f->p.got);
	free(f->xgot);
	log_set_sink(NULL, NULL);
}

static void pattern(uint8_t *p, size_t n, uint8_t seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 31u + seed + (i >> 12));
}

/* Writes buf[*off..n) into x as far as it takes it. */
static void x_write_some(struct fx *f, const uint8_t *buf, size_t n, size_t *off)
{
	while (*off < n) {
		ssize_t w = write(f->x, buf + *off, n - *off);
		if (w <= 0)
			break;
		*off += (size_t)w;
	}
}

static bool relay_reading(struct fx *f)
{
	return (loop_watch_mask(f->l, f->rfd) & LOOP_READ) != 0;
}

static bool relay_writing(struct fx *f)
{
	return (loop_watch_mask(f->l, f->rfd) & LOOP_WRITE) != 0;
}

/* ---- tests ---- */

/* Bytes both ways arrive intact and in order, in sizes that take many
 * frames and many socket reads. */
static void test_bytes_both_ways(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, true, 256 * KiB);
	size_t n = 3 * MiB + 123;
	uint8_t *up = malloc(n), *down = malloc(n);
	assert_non_null(up);
	assert_non_null(down);
	pattern(up, n, 1);
	pattern(down, n, 7);
	size_t uoff = 0, doff = 0;
	for (int i = 0; i < MAX_STEPS && (f.p.got_len < n || f.xgot_len < n); i++) {
		x_write_some(&f, up, n, &uoff);
		if (doff < n) {
			ssize_t w = peer_write(&f.p, down + doff, n - doff);
			assert_true(w >= 0);
			doff += (size_t)w;
		}
		step(&f);
		x_drain(&f);
	}
	assert_int_equal(f.p.got_len, n);
	assert_int_equal(f.xgot_len, n);
	assert_memory_equal(f.p.got, up, n);
	assert_memory_equal(f.xgot, down, n);
	assert_int_equal(relay_bytes_up(f.r), n);
	assert_int_equal(relay_bytes_down(f.r), n);
	assert_int_equal(summary.count, 0); /* still running */
	free(up);
	free(down);
	fx_stop(&f);
	assert_int_equal(summary.count, 1);
	assert_non_null(strstr(summary.msg, "reason=test over"));
}

/* The stream's send window bounds what the relay reads from the socket:
 * with the peer holding its credit, reading stops after one window and
 * resumes when the credit comes back. */
static void test_backpressure_window(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, true, 256 * KiB);
	f.p.hold = true;
	size_t n = 2 * MiB;
	uint8_t *up = malloc(n);
	assert_non_null(up);
	pattern(up, n, 3);
	size_t off = 0;
	for (int i = 0; i < MAX_STEPS && !(f.p.got_len == 256 * KiB && !relay_reading(&f)); i++) {
		x_write_some(&f, up, n, &off);
		step(&f);
	}
	assert_int_equal(f.p.got_len, 256 * KiB);
	assert_int_equal(mux_stream_send_window(f.s), 0);
	assert_false(relay_reading(&f));
	/* More steps change nothing: the relay waits for credit. */
	for (int i = 0; i < 20; i++)
		step(&f);
	assert_int_equal(f.p.got_len, 256 * KiB);
	peer_release_credit(&f.p);
	for (int i = 0; i < MAX_STEPS && f.p.got_len < n; i++) {
		x_write_some(&f, up, n, &off);
		step(&f);
	}
	assert_int_equal(f.p.got_len, n);
	assert_memory_equal(f.p.got, up, n);
	free(up);
	fx_stop(&f);
}

/* A session whose output backs up (the peer stops reading) makes the
 * relay stop reading its socket; it resumes when the output drains. */
static void test_backpressure_congestion(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, true, 32 * MiB);
	f.p.paused = true;
	size_t n = 8 * MiB;
	uint8_t *up = malloc(n);
	assert_non_null(up);
	pattern(up, n, 5);
	size_t off = 0;
	for (int i = 0; i < MAX_STEPS && !(mconn_congested(f.c) && !relay_reading(&f)); i++) {
		x_write_some(&f, up, n, &off);
		step(&f);
	}
	assert_true(mconn_congested(f.c));
	assert_false(relay_reading(&f));
	assert_true(mux_stream_send_window(f.s) > 0); /* not the window: the session */
	uint64_t up_before = relay_bytes_up(f.r);
	for (int i = 0; i < 20; i++)
		step(&f);
	assert_int_equal(relay_bytes_up(f.r), up_before);
	f.p.paused = false;
	for (int i = 0; i < MAX_STEPS && f.p.got_len < n; i++) {
		x_write_some(&f, up, n, &off);
		step(&f);
	}
	assert_int_equal(f.p.got_len, n);
	assert_memory_equal(f.p.got, up, n);
	assert_false(mconn_congested(f.c));
	free(up);
	fx_stop(&f);
}

/* Stream -> socket: what the socket does not take waits in the relay,
 * bounded by the stream's receive window; the peer's window runs out and
 * comes back as the test reads the socket. */
static void test_backpressure_to_socket(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, true, 256 * KiB);
	size_t n = 32 * MiB;
	uint8_t *down = malloc(n);
	assert_non_null(down);
	pattern(down, n, 9);
	size_t doff = 0;
	for (int i = 0; i < MAX_STEPS && !(mux_stream_send_window(f.p.s) == 0 && relay_writing(&f)); i++) {
		ssize_t w = peer_write(&f.p, down + doff, n - doff);
		assert_true(w >= 0);
		doff += (size_t)w;
		step(&f);
	}
	assert_int_equal(mux_stream_send_window(f.p.s), 0);
	assert_true(doff < n);
	assert_true(relay_writing(&f)); /* bytes wait for the socket */
	for (int i = 0; i < MAX_STEPS && f.xgot_len < n; i++) {
		if (doff < n) {
			ssize_t w = peer_write(&f.p, down + doff, n - doff);
			assert_true(w >= 0);
			doff += (size_t)w;
		}
		step(&f);
		x_drain(&f);
	}
	assert_int_equal(f.xgot_len, n);
	assert_memory_equal(f.xgot, down, n);
	free(down);
	fx_stop(&f);
}

/* Half-close, socket first: the socket's EOF becomes the stream's FIN, the
 * other direction goes on; the peer's FIN then ends the relay. */
static void test_half_close_socket_first(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, true, 256 * KiB);
	assert_int_equal(write(f.x, "ping", 4), 4);
	assert_int_equal(shutdown(f.x, SHUT_WR), 0);
	RUN_UNTIL(&f, f.p.fins == 1);
	assert_int_equal(f.p.got_len, 4);
	assert_memory_equal(f.p.got, "ping", 4);
	assert_false(f.ended);
	assert_int_equal(peer_write(&f.p, "late", 4), 4);
	RUN_UNTIL(&f, (x_drain(&f), f.xgot_len == 4));
	assert_memory_equal(f.xgot, "late", 4);
	assert_false(f.x_eof);
	assert_int_equal(mux_stream_close(f.p.s), 0);
	RUN_UNTIL(&f, (x_drain(&f), f.x_eof));
	RUN_UNTIL(&f, f.ended);
	assert_int_equal(summary.count, 1);
	assert_non_null(strstr(summary.msg, "conn v1 client=c1 service=web peer=127.0.0.1:1 up=4 down=4 "));
	assert_non_null(strstr(summary.msg, "reason=closed"));
	assert_int_equal(f.p.resets, 0);
	fx_stop(&f);
	assert_int_equal(summary.count, 1);
}

/* Half-close, stream first: the peer's FIN becomes shutdown(SHUT_WR) on
 * the socket after the data before it; the socket can still send. */
static void test_half_close_stream_first(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, true, 256 * KiB);
	assert_int_equal(peer_write(&f.p, "bye", 3), 3);
	assert_int_equal(mux_stream_close(f.p.s), 0);
	RUN_UNTIL(&f, (x_drain(&f), f.x_eof));
	assert_int_equal(f.xgot_len, 3);
	assert_memory_equal(f.xgot, "bye", 3);
	assert_false(f.ended);
	assert_int_equal(write(f.x, "more", 4), 4);
	RUN_UNTIL(&f, f.p.got_len == 4);
	assert_memory_equal(f.p.got, "more", 4);
	assert_int_equal(f.p.fins, 0);
	assert_int_equal(shutdown(f.x, SHUT_WR), 0);
	RUN_UNTIL(&f, f.ended);
	RUN_UNTIL(&f, f.p.fins == 1);
	assert_int_equal(summary.count, 1);
	assert_non_null(strstr(summary.msg, " up=4 down=3 "));
	assert_non_null(strstr(summary.msg, "reason=closed"));
	fx_stop(&f);
}

/* Go peers (no half-close): the peer's FIN ends both directions, after the
 * bytes before it reached the socket. */
static void test_full_close_peer_fin(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, false, 256 * KiB);
	assert_int_equal(peer_write(&f.p, "data", 4), 4);
	assert_int_equal(mux_stream_close(f.p.s), 0);
	RUN_UNTIL(&f, f.ended);
	RUN_UNTIL(&f, f.p.fins == 1); /* our FIN answers it */
	RUN_UNTIL(&f, (x_drain(&f), f.x_eof));
	assert_int_equal(f.xgot_len, 4);
	assert_memory_equal(f.xgot, "data", 4);
	assert_int_equal(f.p.resets, 0);
	assert_int_equal(summary.count, 1);
	assert_non_null(strstr(summary.msg, "reason=peer closed"));
	fx_stop(&f);
}

/* Go peers, socket first: the socket's EOF sends FIN; the relay ends when
 * the peer's FIN answers. */
static void test_full_close_socket_eof(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, false, 256 * KiB);
	assert_int_equal(shutdown(f.x, SHUT_WR), 0);
	RUN_UNTIL(&f, f.p.fins == 1);
	assert_false(f.ended);
	assert_int_equal(mux_stream_close(f.p.s), 0);
	RUN_UNTIL(&f, f.ended);
	RUN_UNTIL(&f, (x_drain(&f), f.x_eof));
	assert_int_equal(summary.count, 1);
	assert_non_null(strstr(summary.msg, "reason=visitor closed"));
	fx_stop(&f);
}

/* The peer resets the stream: the socket is reset (SO_LINGER 0). */
static void test_rst_from_stream(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, true, 256 * KiB);
	assert_int_equal(mux_stream_reset(f.p.s), 0);
	mux_stream_release(f.p.s);
	f.p.s = NULL;
	RUN_UNTIL(&f, f.ended);
	RUN_UNTIL(&f, (x_drain(&f), f.x_err != 0 || f.x_eof));
	assert_int_equal(f.x_err, ECONNRESET);
	assert_int_equal(summary.count, 1);
	assert_non_null(strstr(summary.msg, "reason=stream reset by peer"));
	fx_stop(&f);
}

/* The socket is reset: the stream is reset, the reason is the errno. */
static void test_rst_from_socket(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, true, 256 * KiB);
	struct linger lg = {1, 0};
	assert_int_equal(setsockopt(f.x, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
	close(f.x);
	f.x = -1;
	RUN_UNTIL(&f, f.ended);
	RUN_UNTIL(&f, f.p.resets == 1);
	assert_int_equal(f.p.reset_err, MUX_E_RESET);
	assert_int_equal(summary.count, 1);
	char want[160];
	snprintf(want, sizeof(want), "reason=%s", strerror(ECONNRESET));
	assert_non_null(strstr(summary.msg, want));
	fx_stop(&f);
}

/* relay_abort resets both sides with the caller's reason. */
static void test_abort(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, true, 256 * KiB);
	relay_abort(f.r, "server shutdown");
	assert_true(f.ended);
	assert_string_equal(relay_reason(f.r), "server shutdown"); /* freed only by the loop */
	relay_abort(f.r, "again"); /* idempotent */
	RUN_UNTIL(&f, f.p.resets == 1);
	RUN_UNTIL(&f, (x_drain(&f), f.x_err != 0 || f.x_eof));
	assert_int_equal(f.x_err, ECONNRESET);
	assert_int_equal(summary.count, 1);
	assert_non_null(strstr(summary.msg, "reason=server shutdown"));
	fx_stop(&f);
}

/* The session dies under the relay: the stream is reset, one line. */
static void test_session_end(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, true, 256 * KiB);
	close(f.p.fd);
	f.p.fd = -1;
	RUN_UNTIL(&f, f.ended);
	assert_true(f.mconn_closed);
	assert_int_equal(summary.count, 1);
	assert_non_null(strstr(summary.msg, "reason=connection closed"));
	fx_stop(&f);
}

/* Prefix bytes go out before anything read from the socket; bytes pushed
 * to the socket come before anything from the stream and count as down. */
static void test_prefix_and_push(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, true, 256 * KiB);
	assert_int_equal(relay_send_prefix(f.r, "PROXY ", 6), 0);
	assert_int_equal(relay_push_to_socket(f.r, "held:", 5), 0);
	assert_int_equal(write(f.x, "body", 4), 4);
	relay_read_now(f.r);
	assert_int_equal(peer_write(&f.p, "reply", 5), 5);
	RUN_UNTIL(&f, f.p.got_len == 10);
	assert_memory_equal(f.p.got, "PROXY body", 10);
	RUN_UNTIL(&f, (x_drain(&f), f.xgot_len == 10));
	assert_memory_equal(f.xgot, "held:reply", 10);
	assert_int_equal(relay_bytes_up(f.r), 4);
	assert_int_equal(relay_bytes_down(f.r), 10);
	fx_stop(&f);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bytes_both_ways),
		cmocka_unit_test(test_backpressure_window),
		cmocka_unit_test(test_backpressure_congestion),
		cmocka_unit_test(test_backpressure_to_socket),
		cmocka_unit_test(test_half_close_socket_first),
		cmocka_unit_test(test_half_close_stream_first),
		cmocka_unit_test(test_full_close_peer_fin),
		cmocka_unit_test(test_full_close_socket_eof),
		cmocka_unit_test(test_rst_from_stream),
		cmocka_unit_test(test_rst_from_socket),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_session_end),
		cmocka_unit_test(test_prefix_and_push),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
