/*
 * Unit tests for tunnel/mconn: a yamux session on a transport, on a real
 * loop. The mconn's transport is one end of a socketpair; at the other end
 * sits a bare mux engine the test pumps by hand (the approach of
 * test_relay.c, here with several streams), so the test decides when the
 * peer reads, consumes, opens, resets or hangs up.
 *
 * Every wait is "step until a condition holds" with a bounded number of
 * steps: the tests check behaviour, never timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/transport.h"
#include "mux/mux.h"
#include "tunnel/mconn.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define MAX_STEPS 20000
#define PEER_STREAMS 8

/* ---- the in-memory peer: a bare engine, pumped by step() ---- */

struct pstream {
	struct mux_stream *s;
	size_t got;
	int fins, resets;
};

struct peer {
	struct mux *m;
	int fd;
	uint8_t *out; /* emitted, not yet written to fd */
	size_t out_len, out_cap;
	bool paused;  /* stop reading fd */
	struct pstream st[PEER_STREAMS];
	int nst;
	int closed, closed_err;
};

static void p_emit(void *ctx, const struct iovec *iov, int n)
{
	struct peer *p = ctx;
	for (int i = 0; i < n; i++) {
		if (p->out_len + iov[i].iov_len > p->out_cap) {
			size_t c = p->out_cap ? p->out_cap : 4096;
			while (c < p->out_len + iov[i].iov_len)
				c *= 2;
			p->out = realloc(p->out, c);
			assert_non_null(p->out);
			p->out_cap = c;
		}
		memcpy(p->out + p->out_len, iov[i].iov_base, iov[i].iov_len);
		p->out_len += iov[i].iov_len;
	}
}

static struct pstream *p_rec(struct peer *p, const struct mux_stream *s)
{
	for (int i = 0; i < p->nst; i++)
		if (p->st[i].s == s)
			return &p->st[i];
	fail_msg("peer: unknown stream");
	abort(); /* fail_msg does not return */
}

static void p_open(void *ctx, struct mux_stream *s)
{
	struct peer *p = ctx;
	assert_true(p->nst < PEER_STREAMS);
	p->st[p->nst++].s = s;
	assert_int_equal(mux_stream_accept(s), 0);
}

static void p_data(void *ctx, struct mux_stream *s, const uint8_t *d, size_t n)
{
	(void)d;
	p_rec(ctx, s)->got += n;
	mux_stream_consumed(s, n);
}

static void p_fin(void *ctx, struct mux_stream *s)
{
	p_rec(ctx, s)->fins++;
}

static void p_reset(void *ctx, struct mux_stream *s, int err)
{
	(void)err;
	p_rec(ctx, s)->resets++;
}

static void p_closed(void *ctx, int err)
{
	struct peer *p = ctx;
	p->closed++;
	p->closed_err = err;
}

static const struct mux_ops peer_ops = {
	.emit = p_emit,
	.stream_open = p_open,
	.stream_data = p_data,
	.stream_fin = p_fin,
	.stream_reset = p_reset,
	.session_closed = p_closed,
};

static void peer_pump(struct peer *p)
{
	size_t off = 0;
	while (p->fd >= 0 && off < p->out_len) {
		ssize_t w = write(p->fd, p->out + off, p->out_len - off);
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	if (off > 0) {
		memmove(p->out, p->out + off, p->out_len - off);
		p->out_len -= off;
	}
	while (p->fd >= 0 && !p->paused) {
		uint8_t b[64 * 1024];
		ssize_t r = read(p->fd, b, sizeof(b));
		if (r <= 0)
			break;
		mux_input(p->m, b, (size_t)r, 0);
	}
}

/* Bytes waiting on the peer's socket, not yet read. */
static size_t peer_unread(const struct peer *p)
{
	uint8_t b[1];
	ssize_t r = recv(p->fd, b, sizeof(b), MSG_PEEK | MSG_DONTWAIT);
	return r > 0 ? (size_t)r : 0;
}

/* ---- stream handlers on the mconn side ---- */

struct th {
	struct mstream_handler h; /* first: the mconn hands us &h */
	struct mux_stream *s;
	size_t got;
	int data, fins, resets, writables, established;
	int reset_err;
};

static void h_data(struct mstream_handler *h, struct mux_stream *s, const uint8_t *p, size_t n)
{
	struct th *t = (struct th *)h;
	(void)p;
	assert_ptr_equal(s, t->s);
	t->data++;
	t->got += n;
	mux_stream_consumed(s, n);
}

static void h_fin(struct mstream_handler *h, struct mux_stream *s)
{
	struct th *t = (struct th *)h;
	assert_ptr_equal(s, t->s);
	t->fins++;
}

static void h_reset(struct mstream_handler *h, struct mux_stream *s, int err)
{
	struct th *t = (struct th *)h;
	assert_ptr_equal(s, t->s);
	t->resets++;
	t->reset_err = err;
	mux_stream_release(s);
	t->s = NULL;
}

static void h_writable(struct mstream_handler *h, struct mux_stream *s)
{
	struct th *t = (struct th *)h;
	assert_ptr_equal(s, t->s);
	t->writables++;
}

static void h_established(struct mstream_handler *h, struct mux_stream *s)
{
	struct th *t = (struct th *)h;
	assert_ptr_equal(s, t->s);
	t->established++;
}

static const struct mstream_ops th_ops = {
	.data = h_data,
	.fin = h_fin,
	.reset = h_reset,
	.writable = h_writable,
	.established = h_established,
};

/* ---- fixture ---- */

struct fx {
	struct loop *l;
	struct worker env;
	struct mconn *c;
	struct peer p;
	struct th inbound;	/* the handler the owner binds to an inbound SYN */
	int opens;
	int closed_calls, closed_err;
	bool close_again;	/* the owner calls mconn_close from `closed` */
	struct mconn_waiter *wait_on_close;
};

static void o_stream_open(void *owner, struct mconn *c, struct mux_stream *s)
{
	struct fx *f = owner;
	assert_ptr_equal(c, f->c);
	f->opens++;
	f->inbound.h.ops = &th_ops;
	f->inbound.s = s;
	mconn_stream_bind(s, &f->inbound.h);
	assert_int_equal(mux_stream_accept(s), 0);
}

static void o_closed(void *owner, struct mconn *c, int err)
{
	struct fx *f = owner;
	assert_ptr_equal(c, f->c);
	f->closed_calls++;
	f->closed_err = err;
	if (f->close_again)
		mconn_close(c, 0, MUX_E_LOCAL); /* idempotent */
}

static const struct mconn_owner_ops owner_ops = {
	.stream_open = o_stream_open,
	.closed = o_closed,
};

static void step(struct fx *f)
{
	assert_true(loop_run_once(f->l, 0) >= 0);
	peer_pump(&f->p);
}

#define RUN_UNTIL(f, cond)                                          \
	do {                                                        \
		for (int i_ = 0; i_ < MAX_STEPS && !(cond); i_++)   \
			step(f);                                    \
		assert_true(cond);                                  \
	} while (0)

/* The loop, the env, an mconn on one end of a socketpair (pre: bytes
 * handed to mconn_new) and the peer on the other. */
static void fx_start_pre(struct fx *f, uint32_t peer_window, const uint8_t *pre, size_t prelen)
{
	memset(f, 0, sizeof(*f));
	f->l = loop_new();
	assert_non_null(f->l);
	assert_int_equal(worker_init(&f->env, f->l), 0);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct mux_config mc;
	mux_config_default(&mc);
	mc.keepalive_ms = 0;
	f->c = mconn_new(&f->env, transport_tcp_new(sv[0]), &mc, &owner_ops, f, "test", pre, prelen);
	assert_non_null(f->c);
	struct mux_config pc;
	mux_config_default(&pc);
	pc.client = true;
	pc.keepalive_ms = 0;
	pc.recv_window = peer_window;
	f->p.fd = sv[1];
	f->p.m = mux_new(&pc, &peer_ops, &f->p, 0);
	assert_non_null(f->p.m);
}

static void fx_start(struct fx *f, uint32_t peer_window)
{
	fx_start_pre(f, peer_window, NULL, 0);
}

/* Opens a stream from the mconn bound to t; returns once the peer's ACK
 * (and with it the peer's window) arrived. */
static void fx_open(struct fx *f, struct th *t)
{
	memset(t, 0, sizeof(*t));
	t->h.ops = &th_ops;
	int err = 1;
	t->s = mconn_open_stream(f->c, &t->h, &err);
	assert_non_null(t->s);
	assert_int_equal(err, 0);
	RUN_UNTIL(f, t->established == 1);
}

static void fx_stop(struct fx *f)
{
	if (f->closed_calls == 0)
		mconn_close(f->c, -1, 0);
	for (int i = 0; i < 4; i++)
		step(f);
	assert_int_equal(f->closed_calls, 1);
	worker_fini(&f->env);
	loop_free(f->l);
	mux_free(f->p.m);
	if (f->p.fd >= 0)
		close(f->p.fd);
	free(f->p.out);
}

static uint8_t payload[512 * 1024];

static ssize_t write_n(struct mux_stream *s, size_t n)
{
	struct iovec iov = {payload, n};
	return mux_stream_write(s, &iov, 1);
}

/* ---- tests ---- */

/* Frames both ways: data from the mconn's stream reaches the peer and data
 * and FIN from the peer reach the stream's handler, in full. */
static void test_frames_both_ways(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, 8 * MiB);
	struct th a;
	fx_open(&f, &a);
	assert_int_equal(f.p.nst, 1);
	struct mux_stream *ps = f.p.st[0].s;
	assert_int_equal(mux_stream_id(ps), mux_stream_id(a.s));

	size_t up = 0, down = 0, n = 2 * MiB;
	for (int i = 0; i < MAX_STEPS && (f.p.st[0].got < n || a.got < n); i++) {
		if (up < n) {
			ssize_t w = write_n(a.s, n - up < sizeof(payload) ? n - up : sizeof(payload));
			assert_true(w >= 0);
			up += (size_t)w;
		}
		if (down < n) {
			ssize_t w = write_n(ps, n - down < sizeof(payload) ? n - down : sizeof(payload));
			assert_true(w >= 0);
			down += (size_t)w;
		}
		step(&f);
	}
	assert_int_equal(f.p.st[0].got, n);
	assert_int_equal(a.got, n);
	assert_int_equal(mux_buffered_bytes(mconn_mux(f.c)), 0);

	assert_int_equal(mux_stream_close(ps), 0);
	RUN_UNTIL(&f, a.fins == 1);
	assert_int_equal(mux_stream_close(a.s), 0);
	RUN_UNTIL(&f, f.p.st[0].fins == 1);
	assert_int_equal(a.resets, 0);
	mux_stream_release(a.s);
	fx_stop(&f);
}

/* Small frames wait in the output buffer until the loop's before-sleep
 * hook, then go out; a bulk write goes to the socket at once. */
static void test_flush_before_sleep(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, 8 * MiB);
	struct th a;
	fx_open(&f, &a);
	RUN_UNTIL(&f, mconn_out_len(f.c) == 0 && peer_unread(&f.p) == 0);

	/* Small: held for the hook. */
	assert_int_equal(write_n(a.s, 100), 100);
	assert_int_equal(write_n(a.s, 200), 200);
	assert_int_equal(mconn_out_len(f.c), 2 * 12 + 300);
	assert_int_equal(peer_unread(&f.p), 0);
	assert_true(loop_run_once(f.l, 0) >= 0);
	assert_int_equal(mconn_out_len(f.c), 0);
	assert_true(peer_unread(&f.p) > 0);
	peer_pump(&f.p);
	assert_int_equal(f.p.st[0].got, 300);

	/* Bulk: written before the call returns, nothing buffered. */
	assert_int_equal(write_n(a.s, 32 * KiB), 32 * KiB);
	assert_int_equal(mconn_out_len(f.c), 0);
	assert_true(peer_unread(&f.p) > 0);
	RUN_UNTIL(&f, f.p.st[0].got == 300 + 32 * KiB);

	mux_stream_release(a.s);
	fx_stop(&f);
}

/* ---- drain waiters ---- */

struct wrec {
	struct mconn_waiter w;
	struct fx *f;
	int calls;
	bool rearm;		  /* registers itself again from fn */
	struct mconn_waiter *cancel; /* cancels another waiter from fn */
};

static void w_fn(struct mconn_waiter *w)
{
	struct wrec *r = (struct wrec *)w;
	r->calls++;
	if (r->rearm)
		mconn_wait_drain(r->f->c, &r->w);
	if (r->cancel)
		mconn_waiter_cancel(r->f->c, r->cancel);
}

/* With the peer not reading, writes fill the socket and then the output
 * buffer until the mconn is congested. */
static void congest(struct fx *f, struct th *a)
{
	f->p.paused = true;
	for (int i = 0; i < MAX_STEPS && !mconn_congested(f->c); i++) {
		ssize_t w = write_n(a->s, sizeof(payload));
		assert_true(w > 0); /* the peer's 8 MiB window outlasts the buffers */
		step(f);
	}
	assert_true(mconn_congested(f->c));
}

static void drain(struct fx *f)
{
	f->p.paused = false;
	RUN_UNTIL(f, !mconn_congested(f->c) && mconn_out_len(f->c) == 0);
}

/* A waiter fires once per drain; a waiter queued twice fires once; a
 * cancelled one never; one that re-registers from its call waits for the
 * next drain; one may cancel another from its call. */
static void test_drain_waiters(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, 8 * MiB);
	struct th a;
	fx_open(&f, &a);
	struct wrec once = {.w.fn = w_fn, .f = &f}, cancelled = {.w.fn = w_fn, .f = &f},
		    again = {.w.fn = w_fn, .f = &f, .rearm = true}, victim = {.w.fn = w_fn, .f = &f},
		    killer = {.w.fn = w_fn, .f = &f, .cancel = &victim.w};

	congest(&f, &a);
	mconn_wait_drain(f.c, &once.w);
	mconn_wait_drain(f.c, &once.w); /* already queued: stays queued once */
	mconn_wait_drain(f.c, &cancelled.w);
	mconn_wait_drain(f.c, &again.w);
	mconn_wait_drain(f.c, &victim.w);
	mconn_wait_drain(f.c, &killer.w); /* newest first: called before victim */
	mconn_waiter_cancel(f.c, &cancelled.w);
	mconn_waiter_cancel(f.c, &cancelled.w); /* idempotent */
	step(&f);
	assert_int_equal(once.calls + again.calls + killer.calls, 0); /* still congested */

	drain(&f);
	assert_int_equal(once.calls, 1);
	assert_int_equal(cancelled.calls, 0);
	assert_int_equal(again.calls, 1);
	assert_int_equal(killer.calls, 1);
	assert_int_equal(victim.calls, 0);
	assert_false(list_linked(&once.w.node));
	assert_false(list_linked(&victim.w.node));
	assert_true(list_linked(&again.w.node)); /* re-registered: for the next drain */

	/* Drained and idle: nothing fires again by itself. */
	for (int i = 0; i < 8; i++)
		step(&f);
	assert_int_equal(again.calls, 1);
	assert_int_equal(once.calls, 1);

	again.rearm = false;
	congest(&f, &a);
	drain(&f);
	assert_int_equal(again.calls, 2);
	assert_int_equal(once.calls, 1);
	assert_false(list_linked(&again.w.node));

	mux_stream_release(a.s);
	fx_stop(&f);
}

/* Closing unlinks queued waiters without calling them, and a closing mconn
 * queues none. */
static void test_waiters_on_close(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, 8 * MiB);
	struct th a;
	fx_open(&f, &a);
	struct wrec w1 = {.w.fn = w_fn, .f = &f}, w2 = {.w.fn = w_fn, .f = &f};
	congest(&f, &a);
	mconn_wait_drain(f.c, &w1.w);
	mconn_close(f.c, -1, 0);
	assert_int_equal(f.closed_calls, 1);
	assert_false(list_linked(&w1.w.node));
	assert_true(mconn_closing(f.c));
	assert_true(mconn_congested(f.c));
	mconn_wait_drain(f.c, &w2.w);
	assert_false(list_linked(&w2.w.node));
	assert_int_equal(a.resets, 1);
	f.p.paused = false;
	fx_stop(&f);
	assert_int_equal(w1.calls + w2.calls, 0);
}

/* Each stream's events go to the handler bound to it: established, data,
 * FIN, writable and reset for our opens; inbound SYNs go to the owner,
 * whose handler then gets that stream's events. */
static void test_handlers_routed(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, 256 * KiB); /* the peer's window: no extra */
	struct th a, b;
	fx_open(&f, &a);
	fx_open(&f, &b);
	assert_int_equal(f.p.nst, 2);
	struct mux_stream *pa = f.p.st[0].s, *pb = f.p.st[1].s;
	assert_int_equal(mux_stream_id(pa), mux_stream_id(a.s));
	assert_int_equal(mux_stream_id(pb), mux_stream_id(b.s));

	/* Data and FIN to b only. */
	assert_int_equal(write_n(pb, 1000), 1000);
	assert_int_equal(mux_stream_close(pb), 0);
	RUN_UNTIL(&f, b.fins == 1);
	assert_int_equal(b.got, 1000);
	assert_int_equal(a.got + (size_t)a.fins, 0);

	/* writable to a only: fill a's window with the peer not reading,
	 * then let the credit come back. */
	f.p.paused = true;
	assert_int_equal(write_n(a.s, 300 * KiB), 256 * KiB); /* cut short: asks for writable */
	assert_int_equal(mux_stream_send_window(a.s), 0);
	f.p.paused = false;
	RUN_UNTIL(&f, a.writables == 1);
	assert_int_equal(b.writables, 0);

	/* An inbound SYN: the owner binds its handler; data goes there. */
	int err = 1;
	struct mux_stream *pc = mux_stream_open(f.p.m, &err);
	assert_non_null(pc);
	assert_int_equal(err, 0);
	assert_int_equal(write_n(pc, 500), 500);
	RUN_UNTIL(&f, f.inbound.got == 500);
	assert_int_equal(f.opens, 1);
	assert_int_equal(mux_stream_id(f.inbound.s), mux_stream_id(pc));
	assert_int_equal(f.inbound.established, 0); /* not our open */

	/* Reset to a only. */
	assert_int_equal(mux_stream_reset(pa), 0);
	RUN_UNTIL(&f, a.resets == 1);
	assert_int_equal(a.reset_err, MUX_E_RESET);
	assert_int_equal(b.resets + f.inbound.resets, 0);
	assert_int_equal(a.got + (size_t)a.fins + (size_t)a.data, 0);
	assert_int_equal(b.got, 1000);

	mux_stream_release(b.s);
	mux_stream_release(f.inbound.s);
	fx_stop(&f);
}

/* The peer hangs up: every handler is reset once, the owner is told once
 * (also when it calls mconn_close again from `closed`). */
static void test_session_end_once(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, 8 * MiB);
	struct th a, b;
	fx_open(&f, &a);
	fx_open(&f, &b);
	f.close_again = true;
	close(f.p.fd);
	f.p.fd = -1;
	RUN_UNTIL(&f, f.closed_calls > 0);
	for (int i = 0; i < 8; i++)
		step(&f);
	assert_int_equal(f.closed_calls, 1);
	assert_int_equal(f.closed_err, MUX_E_EOF);
	assert_int_equal(a.resets, 1);
	assert_int_equal(b.resets, 1);
	assert_int_equal(a.reset_err, MUX_E_EOF);
	fx_stop(&f);
}

/* mconn_close with a GoAway code: the peer gets the GoAway, the owner is
 * told once with the error given. */
static void test_close_sends_go_away(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, 8 * MiB);
	struct th a;
	fx_open(&f, &a);
	mconn_close(f.c, MUX_GOAWAY_PROTO_ERR, MUX_E_LOCAL);
	assert_int_equal(f.closed_calls, 1);
	assert_int_equal(f.closed_err, MUX_E_LOCAL);
	assert_int_equal(a.resets, 1);
	RUN_UNTIL(&f, f.p.closed == 1);
	assert_int_equal(f.p.closed_err, MUX_E_REMOTE_PROTO);
	assert_int_equal(f.p.st[0].resets, 1);
	fx_stop(&f);
}

/* Bytes read before the mconn existed are fed first, from the loop (not
 * inside mconn_new). */
static void test_pre_bytes(void **state)
{
	(void)state;
	/* A peer's SYN and data, captured instead of sent. */
	struct peer pre = {.fd = -1};
	struct mux_config pc;
	mux_config_default(&pc);
	pc.client = true;
	pc.keepalive_ms = 0;
	pre.m = mux_new(&pc, &peer_ops, &pre, 0);
	assert_non_null(pre.m);
	int err = 1;
	struct mux_stream *ps = mux_stream_open(pre.m, &err);
	assert_non_null(ps);
	assert_int_equal(write_n(ps, 700), 700);

	struct fx f;
	fx_start_pre(&f, 8 * MiB, pre.out, pre.out_len);
	assert_int_equal(f.opens, 0);
	RUN_UNTIL(&f, f.inbound.got == 700);
	assert_int_equal(f.opens, 1);
	mux_stream_release(f.inbound.s);
	fx_stop(&f);
	mux_free(pre.m);
	free(pre.out);
}

/* ---- the env's scratch buffers ---- */

static size_t resident_pages(const uint8_t *p, size_t len)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE), n = (len + pg - 1) / pg, res = 0;
	unsigned char *vec = calloc(n, 1);
	assert_non_null(vec);
	assert_int_equal(mincore((void *)(uintptr_t)p, len, vec), 0);
	for (size_t i = 0; i < n; i++)
		res += vec[i] & 1;
	free(vec);
	return res;
}

/* After a burst, once a session has ended, the env gives the scratch
 * buffers' pages back (and the heap's free memory): the buffers stay
 * mapped and usable. */
static void test_scratch_given_back(void **state)
{
	(void)state;
	struct fx f;
	fx_start(&f, 8 * MiB);
	struct th a;
	fx_open(&f, &a);
	struct mux_stream *ps = f.p.st[0].s;
	size_t down = 0, n = 4 * MiB;
	for (int i = 0; i < MAX_STEPS && a.got < n; i++) {
		if (down < n) {
			ssize_t w = write_n(ps, n - down < sizeof(payload) ? n - down : sizeof(payload));
			assert_true(w >= 0);
			down += (size_t)w;
		}
		step(&f);
	}
	assert_int_equal(a.got, n);
	memset(f.env.tx, 0x5a, f.env.tx_len); /* a relay's socket reads land here */
	assert_true(resident_pages(f.env.rx, f.env.rx_len) > 0);
	assert_true(resident_pages(f.env.tx, f.env.tx_len) > 0);
	assert_false(loop_timer_active(&f.env.trim));

	mux_stream_release(a.s);
	mconn_close(f.c, -1, 0);
	step(&f); /* the mconn is reaped: the env is told */
	assert_true(loop_timer_active(&f.env.trim));
	for (int i = 0; i < 1000 && loop_timer_active(&f.env.trim); i++)
		assert_true(loop_run_once(f.l, 50) >= 0);
	assert_false(loop_timer_active(&f.env.trim));
	assert_int_equal(resident_pages(f.env.rx, f.env.rx_len), 0);
	assert_int_equal(resident_pages(f.env.tx, f.env.tx_len), 0);
	/* Still mapped: the next use faults in zeroed pages. */
	assert_int_equal(f.env.tx[0], 0);
	f.env.rx[0] = 1;
	fx_stop(&f);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_both_ways),
		cmocka_unit_test(test_flush_before_sleep),
		cmocka_unit_test(test_drain_waiters),
		cmocka_unit_test(test_waiters_on_close),
		cmocka_unit_test(test_handlers_routed),
		cmocka_unit_test(test_session_end_once),
		cmocka_unit_test(test_close_sends_go_away),
		cmocka_unit_test(test_pre_bytes),
		cmocka_unit_test(test_scratch_given_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
