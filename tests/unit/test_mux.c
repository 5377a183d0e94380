/*
 * Unit tests for mux: the sans-I/O yamux engine.
 *
 * The harness plays the transport and the application: emit() appends the
 * engine's bytes to an output buffer that the tests split back into frames
 * (wire/yamux_frame), the callbacks log events and collect stream data, and
 * the tests feed hand-built frames as the remote peer. Input is always
 * passed in an exact-size heap copy so ASan catches any read past it and the
 * tests can check that stream_data points into it (zero copy).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "mux/mux.h"
#include "wire/yamux_frame.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define MAXREC 64
#define MAXEV 8192

enum ev_kind {
	EV_OPEN = 1,
	EV_ESTABLISHED,
	EV_DATA,
	EV_FIN,
	EV_RESET,
	EV_WRITABLE,
	EV_CLOSED,
	EV_PONG,
	EV_GOAWAY,
};

struct harness;

/* What the application knows about one stream. */
struct srec {
	struct harness *h;
	struct mux_stream *s; /* NULL once released */
	uint32_t id;
	uint8_t *data;
	size_t len, cap;
	size_t pending; /* delivered, not yet reported consumed */
	int fins, resets, reset_err, established, writable;
	/* back-to-back test bookkeeping */
	size_t sent;
	int idx;
};

struct ev {
	int kind;
	uint32_t id;
	int err;
	size_t n;
};

struct harness {
	struct mux *m;
	struct mux_config cfg;
	uint64_t now;
	/* everything emitted, in order; out_pos = frames already inspected */
	uint8_t *out;
	size_t out_len, out_cap, out_pos;
	int emits;
	struct iovec last_iov[8 * (MUX_MAX_IOV + 2)];
	int last_iovcnt;
	/* the input buffer being fed (stream_data must point into it) */
	const uint8_t *in_lo, *in_hi;
	struct ev ev[MAXEV];
	int nev;
	struct srec rec[MAXREC];
	int nrec;
	bool auto_accept, auto_consume;
	int closed_calls, closed_err;
	uint32_t pong_rtt;
	/* runs at the end of every callback (r is NULL for session events) */
	void (*hook)(struct harness *h, int kind, struct srec *r);
	int hook_state;
};

/* ---- harness ---- */

static void add_ev(struct harness *h, int kind, uint32_t id, int err, size_t n)
{
	assert_true(h->nev < MAXEV);
	h->ev[h->nev++] = (struct ev){kind, id, err, n};
}

static struct srec *new_rec(struct harness *h, struct mux_stream *s)
{
	assert_true(h->nrec < MAXREC);
	struct srec *r = &h->rec[h->nrec];
	memset(r, 0, sizeof(*r));
	r->h = h;
	r->s = s;
	r->id = mux_stream_id(s);
	r->idx = h->nrec++;
	mux_stream_set_udata(s, r);
	return r;
}

static struct srec *rec_of(struct mux_stream *s)
{
	struct srec *r = mux_stream_udata(s);
	assert_non_null(r);
	assert_ptr_equal(r->s, s);
	return r;
}

static void run_hook(struct harness *h, int kind, struct srec *r)
{
	if (h->hook)
		h->hook(h, kind, r);
}

static void cb_emit(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct harness *h = ctx;
	assert_true(iovcnt >= 1);
	assert_int_equal(iov[0].iov_len, YAMUX_HDR_LEN);
	h->emits++;
	h->last_iovcnt = iovcnt;
	for (int i = 0; i < iovcnt; i++) {
		if (i < (int)(sizeof(h->last_iov) / sizeof(h->last_iov[0])))
			h->last_iov[i] = iov[i];
		if (h->out_len + iov[i].iov_len > h->out_cap) {
			size_t nc = h->out_cap ? h->out_cap : 4096;
			while (nc < h->out_len + iov[i].iov_len)
				nc *= 2;
			h->out = realloc(h->out, nc);
			assert_non_null(h->out);
			h->out_cap = nc;
		}
		memcpy(h->out + h->out_len, iov[i].iov_base, iov[i].iov_len);
		h->out_len += iov[i].iov_len;
	}
}

static void cb_stream_open(void *ctx, struct mux_stream *s)
{
	struct harness *h = ctx;
	assert_false(mux_is_closed(h->m));
	struct srec *r = new_rec(h, s);
	add_ev(h, EV_OPEN, r->id, 0, 0);
	if (h->auto_accept)
		assert_int_equal(mux_stream_accept(s), 0);
	run_hook(h, EV_OPEN, r);
}

static void cb_established(void *ctx, struct mux_stream *s)
{
	struct harness *h = ctx;
	struct srec *r = rec_of(s);
	r->established++;
	add_ev(h, EV_ESTABLISHED, r->id, 0, 0);
	run_hook(h, EV_ESTABLISHED, r);
}

static void cb_data(void *ctx, struct mux_stream *s, const uint8_t *p, size_t n)
{
	struct harness *h = ctx;
	struct srec *r = rec_of(s);
	assert_true(n > 0);
	/* by reference into the buffer given to mux_input() */
	assert_true(p >= h->in_lo && p + n <= h->in_hi);
	assert_int_equal(r->fins, 0);
	assert_int_equal(r->resets, 0);
	if (r->len + n > r->cap) {
		size_t nc = r->cap ? r->cap : 256;
		while (nc < r->len + n)
			nc *= 2;
		r->data = realloc(r->data, nc);
		assert_non_null(r->data);
		r->cap = nc;
	}
	memcpy(r->data + r->len, p, n);
	r->len += n;
	r->pending += n;
	add_ev(h, EV_DATA, r->id, 0, n);
	if (h->auto_consume) {
		r->pending -= n;
		mux_stream_consumed(s, n);
	}
	run_hook(h, EV_DATA, r);
}

static void cb_fin(void *ctx, struct mux_stream *s)
{
	struct harness *h = ctx;
	struct srec *r = rec_of(s);
	assert_int_equal(r->fins, 0);
	assert_int_equal(r->resets, 0);
	r->fins++;
	add_ev(h, EV_FIN, r->id, 0, 0);
	run_hook(h, EV_FIN, r);
}

static void cb_reset(void *ctx, struct mux_stream *s, int err)
{
	struct harness *h = ctx;
	struct srec *r = rec_of(s);
	assert_int_equal(r->resets, 0);
	r->resets++;
	r->reset_err = err;
	add_ev(h, EV_RESET, r->id, err, 0);
	run_hook(h, EV_RESET, r);
}

static void cb_writable(void *ctx, struct mux_stream *s)
{
	struct harness *h = ctx;
	struct srec *r = rec_of(s);
	r->writable++;
	add_ev(h, EV_WRITABLE, r->id, 0, 0);
	run_hook(h, EV_WRITABLE, r);
}

static void cb_closed(void *ctx, int err)
{
	struct harness *h = ctx;
	assert_int_equal(h->closed_calls, 0);
	assert_true(mux_is_closed(h->m));
	h->closed_calls++;
	h->closed_err = err;
	add_ev(h, EV_CLOSED, 0, err, 0);
	run_hook(h, EV_CLOSED, NULL);
}

static void cb_pong(void *ctx, uint32_t rtt)
{
	struct harness *h = ctx;
	h->pong_rtt = rtt;
	add_ev(h, EV_PONG, 0, 0, rtt);
	run_hook(h, EV_PONG, NULL);
}

static void cb_goaway(void *ctx)
{
	struct harness *h = ctx;
	add_ev(h, EV_GOAWAY, 0, 0, 0);
	run_hook(h, EV_GOAWAY, NULL);
}

static const struct mux_ops ops = {
	.emit = cb_emit,
	.stream_open = cb_stream_open,
	.stream_established = cb_established,
	.stream_data = cb_data,
	.stream_fin = cb_fin,
	.stream_reset = cb_reset,
	.stream_writable = cb_writable,
	.session_closed = cb_closed,
	.pong = cb_pong,
	.remote_go_away = cb_goaway,
};

/* Defaults with the yamux initial window and no timers, so that the bytes
 * are those of a pinned-yamux peer. */
static struct mux_config cfg_base(bool client)
{
	struct mux_config c;
	mux_config_default(&c);
	c.client = client;
	c.recv_window = MUX_INITIAL_WINDOW;
	c.keepalive_ms = 0;
	return c;
}

static struct harness *h_new(const struct mux_config *c)
{
	struct harness *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	h->cfg = *c;
	h->m = mux_new(c, &ops, h, 0);
	assert_non_null(h->m);
	return h;
}

static void h_free(struct harness *h)
{
	mux_free(h->m);
	for (int i = 0; i < h->nrec; i++)
		free(h->rec[i].data);
	free(h->out);
	free(h);
}

static int feed(struct harness *h, const void *p, size_t n)
{
	uint8_t *copy = malloc(n ? n : 1);
	assert_non_null(copy);
	if (n)
		memcpy(copy, p, n);
	h->in_lo = copy;
	h->in_hi = copy + n;
	int rc = mux_input(h->m, copy, n, h->now);
	h->in_lo = h->in_hi = NULL;
	free(copy);
	return rc;
}

/* One frame from the peer; for Data, `len` payload bytes follow (taken from
 * payload, or a pattern when payload is NULL). */
static int feed_frame(struct harness *h, uint8_t type, uint16_t flags, uint32_t id, uint32_t len,
		      const void *payload)
{
	size_t plen = type == YAMUX_DATA ? len : 0;
	uint8_t *b = malloc(YAMUX_HDR_LEN + plen);
	assert_non_null(b);
	yamux_hdr_encode(b, type, flags, id, len);
	for (size_t i = 0; i < plen; i++)
		b[YAMUX_HDR_LEN + i] = payload ? ((const uint8_t *)payload)[i] : (uint8_t)(i * 7 + id);
	int rc = feed(h, b, YAMUX_HDR_LEN + plen);
	free(b);
	return rc;
}

/* Only the 12 header bytes (the payload, if any, is fed separately). */
static int feed_hdr(struct harness *h, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
	uint8_t b[YAMUX_HDR_LEN];
	yamux_hdr_encode(b, type, flags, id, len);
	return feed(h, b, sizeof(b));
}

static bool next_frame(struct harness *h, struct yamux_hdr *hd, const uint8_t **payload)
{
	if (h->out_len - h->out_pos < YAMUX_HDR_LEN)
		return false;
	assert_int_equal(yamux_hdr_decode(h->out + h->out_pos, h->out_len - h->out_pos, hd),
			 YAMUX_DECODE_OK);
	size_t plen = hd->type == YAMUX_DATA ? hd->length : 0;
	assert_true(h->out_len - h->out_pos >= YAMUX_HDR_LEN + plen);
	if (payload)
		*payload = h->out + h->out_pos + YAMUX_HDR_LEN;
	h->out_pos += YAMUX_HDR_LEN + plen;
	return true;
}

static const uint8_t *expect_frame_at(struct harness *h, uint8_t type, uint16_t flags, uint32_t id,
				      uint32_t len, int line)
{
	struct yamux_hdr hd;
	const uint8_t *payload = NULL;
	if (!next_frame(h, &hd, &payload))
		fail_msg("line %d: expected %s id %u len %u, got nothing", line, yamux_type_name(type), id,
			 len);
	if (hd.type != type || hd.flags != flags || hd.stream_id != id || hd.length != len) {
		char f1[32], f2[32];
		fail_msg("line %d: expected %s %s id %u len %u, got %s %s id %u len %u", line,
			 yamux_type_name(type), yamux_flags_str(flags, f1, sizeof(f1)), id, len,
			 yamux_type_name(hd.type), yamux_flags_str(hd.flags, f2, sizeof(f2)), hd.stream_id,
			 hd.length);
	}
	return payload;
}
#define EXPECT(h, t, f, id, len) expect_frame_at((h), (t), (f), (id), (len), __LINE__)
#define EXPECT_NONE(h)                                                                             \
	do {                                                                                       \
		if ((h)->out_pos != (h)->out_len) {                                                \
			struct yamux_hdr hd_;                                                      \
			char f_[32];                                                               \
			assert_true(next_frame((h), &hd_, NULL));                                  \
			fail_msg("line %d: unexpected %s %s id %u len %u", __LINE__,               \
				 yamux_type_name(hd_.type), yamux_flags_str(hd_.flags, f_, sizeof(f_)), \
				 hd_.stream_id, hd_.length);                                       \
		}                                                                                  \
	} while (0)

static void drain(struct harness *h)
{
	h->out_pos = h->out_len;
}

/* Event queries. */
static int count_ev(const struct harness *h, int kind, uint32_t id)
{
	int c = 0;
	for (int i = 0; i < h->nev; i++)
		if (h->ev[i].kind == kind && (kind == EV_CLOSED || kind == EV_PONG || kind == EV_GOAWAY ||
					      h->ev[i].id == id))
			c++;
	return c;
}

static struct srec *rec_by_id(struct harness *h, uint32_t id)
{
	for (int i = h->nrec - 1; i >= 0; i--)
		if (h->rec[i].id == id)
			return &h->rec[i];
	fail_msg("no stream %u", id);
	abort(); /* not reached: fail_msg() does not return */
}

static struct srec *h_open(struct harness *h)
{
	int err = 12345;
	struct mux_stream *s = mux_stream_open(h->m, &err);
	assert_non_null(s);
	assert_int_equal(err, 0);
	return new_rec(h, s);
}

static void h_release(struct srec *r)
{
	assert_non_null(r->s);
	mux_stream_release(r->s);
	r->s = NULL;
}

static void h_consume(struct srec *r, size_t n)
{
	assert_true(n <= r->pending);
	r->pending -= n;
	mux_stream_consumed(r->s, n);
}

static ssize_t h_write(struct srec *r, const void *p, size_t n)
{
	struct iovec iov = {(void *)(uintptr_t)p, n};
	return mux_stream_write(r->s, &iov, 1);
}

static int h_tick(struct harness *h, uint64_t now)
{
	h->now = now;
	return mux_tick(h->m, now);
}

/* Sum of what the application holds, which the engine must agree with. */
static void check_buffered(struct harness *h)
{
	uint64_t sum = 0;
	for (int i = 0; i < h->nrec; i++)
		if (h->rec[i].s)
			sum += h->rec[i].pending;
	assert_int_equal(mux_buffered_bytes(h->m), sum);
}

/* An inbound stream: SYN from the peer (and ACK from us if accept). */
static struct srec *peer_opens(struct harness *h, uint32_t id, bool accept)
{
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, id, 0, NULL), 0);
	struct srec *r = rec_by_id(h, id);
	assert_non_null(r->s);
	if (accept) {
		assert_int_equal(mux_stream_accept(r->s), 0);
		EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, id, mux_stream_recv_max(r->s) - MUX_INITIAL_WINDOW);
	}
	return r;
}

static uint8_t *pattern(size_t n, uint32_t seed)
{
	uint8_t *p = malloc(n ? n : 1);
	assert_non_null(p);
	uint32_t x = seed * 2654435761u + 1;
	for (size_t i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 17;
		x ^= x << 5;
		p[i] = (uint8_t)x;
	}
	return p;
}

/* ---- basics ---- */

static void test_config_and_strerror(void **state)
{
	(void)state;
	struct mux_config c;
	mux_config_default(&c);
	assert_false(c.client);
	assert_true(c.recv_window >= MUX_INITIAL_WINDOW);
	assert_int_equal(c.accept_backlog, 256);
	assert_int_equal(c.max_syn_inflight, 256);
	assert_int_equal(c.keepalive_ms, 30000);
	assert_int_equal(c.ping_timeout_ms, 10000);
	assert_string_equal(mux_strerror(MUX_E_RECV_WINDOW), "recv window exceeded");
	assert_string_equal(mux_strerror(-MUX_E_KEEPALIVE), "keepalive timeout");
	assert_string_equal(mux_strerror(-MUX_E_REMOTE_GOAWAY), "remote end is not accepting connections");
	assert_string_equal(mux_strerror(MUX_E__COUNT), "unknown error");
	assert_string_equal(mux_strerror(-1000), "unknown error");
	for (int e = 0; e < MUX_E__COUNT; e++)
		assert_string_not_equal(mux_strerror(e), "unknown error");
	mux_free(NULL);
	mux_stream_release(NULL);
	assert_true(mux_stream_alloc_size() > 0);

	/* a NULL config means the defaults (server role) */
	struct harness *h = calloc(1, sizeof(*h));
	assert_non_null(h);
	h->m = mux_new(NULL, &ops, h, 0);
	assert_non_null(h->m);
	struct srec *r = h_open(h);
	assert_int_equal(r->id, 2);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 2, c.recv_window - MUX_INITIAL_WINDOW);
	assert_int_equal(mux_next_timeout(h->m, 0), 30000);
	h_free(h);
}

static void test_open_emits_wu_syn(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.recv_window = 1 * MiB;
	struct harness *h = h_new(&c);
	struct srec *a = h_open(h), *b = h_open(h);
	assert_int_equal(a->id, 1);
	assert_int_equal(b->id, 3);
	/* exact bytes of the first open */
	static const uint8_t syn1[YAMUX_HDR_LEN] = {
		0x00,			/* version 0 */
		0x01,			/* type WindowUpdate */
		0x00, 0x01,		/* flags SYN */
		0x00, 0x00, 0x00, 0x01, /* stream 1 */
		0x00, 0x0c, 0x00, 0x00, /* delta 786432 = 1 MiB - 256 KiB */
	};
	assert_memory_equal(h->out, syn1, sizeof(syn1));
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 1 * MiB - 256 * KiB);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, 1 * MiB - 256 * KiB);
	EXPECT_NONE(h);
	assert_int_equal(mux_stream_recv_max(a->s), 1 * MiB);
	assert_int_equal(mux_stream_send_window(a->s), MUX_INITIAL_WINDOW);
	assert_int_equal(mux_num_streams(h->m), 2);
	assert_ptr_equal(mux_stream_session(a->s), h->m);
	assert_false(mux_stream_local_closed(a->s));
	assert_false(mux_stream_remote_closed(a->s));
	h_free(h);

	/* server: even ids; a window of 256 KiB opens with delta 0 */
	c = cfg_base(false);
	h = h_new(&c);
	a = h_open(h);
	b = h_open(h);
	assert_int_equal(a->id, 2);
	assert_int_equal(b->id, 4);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 2, 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 4, 0);
	EXPECT_NONE(h);
	h_free(h);
}

static void test_accept_emits_wu_ack(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	c.recv_window = 1 * MiB;
	struct harness *h = h_new(&c);
	/* the peer opens with a delta: our send window grows by it */
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 1000, NULL), 0);
	assert_int_equal(count_ev(h, EV_OPEN, 1), 1);
	EXPECT_NONE(h); /* nothing until the application accepts */
	struct srec *r = rec_by_id(h, 1);
	assert_int_equal(mux_stream_send_window(r->s), MUX_INITIAL_WINDOW + 1000);
	assert_int_equal(mux_stream_recv_max(r->s), MUX_INITIAL_WINDOW);
	assert_int_equal(mux_stream_accept(r->s), 0);
	static const uint8_t ack1[YAMUX_HDR_LEN] = {
		0x00,			/* version 0 */
		0x01,			/* type WindowUpdate */
		0x00, 0x02,		/* flags ACK */
		0x00, 0x00, 0x00, 0x01, /* stream 1 */
		0x00, 0x0c, 0x00, 0x00, /* delta 786432 */
	};
	assert_memory_equal(h->out, ack1, sizeof(ack1));
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB);
	assert_int_equal(mux_stream_recv_max(r->s), 1 * MiB);
	assert_int_equal(mux_stream_accept(r->s), 0); /* twice: no-op */
	EXPECT_NONE(h);
	h_free(h);
}

/* ---- the §3.5 trace, byte for byte ---- */

static const char handshake[] = "controlHandshake";
static const char control_ok[] = "controlOk";
static const char control_msg[] = "{\"action\":1,\"service\":\"fooService\"}\n";
static const char proxy_line[] = "PROXY TCP4 127.0.0.1 127.0.0.1 59382 9000\r\n";
static const char peeked[] = "GET / HTTP/1.1\r\nHost: a\r\n\r\n";

/* C->S: WU|SYN id1 + Data id1 "controlHandshake" */
static const uint8_t trace_c1[] = {
	0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, /* WU SYN id1 */
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x10, /* Data id1 16 */
	'c', 'o', 'n', 't', 'r', 'o', 'l', 'H', 'a', 'n', 'd', 's', 'h', 'a', 'k', 'e',
};
/* C->S: WU|SYN id3 */
static const uint8_t trace_c2[] = {
	0x00, 0x01, 0x00, 0x01, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, /* WU SYN id3 */
};
/* C->S: WU|FIN id3 */
static const uint8_t trace_c3[] = {
	0x00, 0x01, 0x00, 0x04, 0x00, 0x00, 0x00, 0x03, 0x00, 0x00, 0x00, 0x00, /* WU FIN id3 */
};
/* C->S: Ping|SYN value 0 */
static const uint8_t trace_c4[] = {
	0x00, 0x02, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* Ping SYN 0 */
};

/* Appends a frame to an expected-bytes buffer. */
static size_t put_frame(uint8_t *dst, uint8_t type, uint16_t flags, uint32_t id, const char *payload,
			uint32_t len)
{
	yamux_hdr_encode(dst, type, flags, id, payload ? (uint32_t)strlen(payload) : len);
	if (payload)
		memcpy(dst + YAMUX_HDR_LEN, payload, strlen(payload));
	return YAMUX_HDR_LEN + (payload ? strlen(payload) : 0);
}

static void test_trace_server_side(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct harness *h = h_new(&c);
	h->auto_accept = true;
	h->auto_consume = true;

	/* control stream: SYN and handshake arrive together */
	assert_int_equal(feed(h, trace_c1, sizeof(trace_c1)), 0);
	struct srec *ctl = rec_by_id(h, 1);
	assert_int_equal(ctl->len, 16);
	assert_memory_equal(ctl->data, handshake, 16);
	assert_int_equal(h_write(ctl, control_ok, 9), 9);
	assert_int_equal(h_write(ctl, control_msg, 36), 36);

	/* tunneled connection */
	assert_int_equal(feed(h, trace_c2, sizeof(trace_c2)), 0);
	struct srec *t = rec_by_id(h, 3);
	assert_int_equal(h_write(t, proxy_line, strlen(proxy_line)), (ssize_t)strlen(proxy_line));
	assert_int_equal(h_write(t, peeked, strlen(peeked)), (ssize_t)strlen(peeked));
	assert_int_equal(feed(h, trace_c3, sizeof(trace_c3)), 0);
	assert_int_equal(count_ev(h, EV_FIN, 3), 1);
	assert_int_equal(mux_stream_close(t->s), 0);
	h_release(t);
	assert_int_equal(mux_num_streams(h->m), 1);
	/* keepalive ping from the client */
	assert_int_equal(feed(h, trace_c4, sizeof(trace_c4)), 0);

	uint8_t want[512];
	size_t n = 0;
	static const uint8_t ack1[] = {
		0x00,			/* version 0 */
		0x01,			/* WindowUpdate */
		0x00, 0x02,		/* ACK */
		0x00, 0x00, 0x00, 0x01, /* stream 1 */
		0x00, 0x00, 0x00, 0x00, /* delta 0 */
	};
	memcpy(want + n, ack1, sizeof(ack1));
	n += sizeof(ack1);
	static const uint8_t ok_hdr[] = {
		0x00,			/* version 0 */
		0x00,			/* Data */
		0x00, 0x00,		/* no flags */
		0x00, 0x00, 0x00, 0x01, /* stream 1 */
		0x00, 0x00, 0x00, 0x09, /* 9 bytes */
	};
	memcpy(want + n, ok_hdr, sizeof(ok_hdr));
	n += sizeof(ok_hdr);
	memcpy(want + n, control_ok, 9);
	n += 9;
	static const uint8_t msg_hdr[] = {
		0x00,			/* version 0 */
		0x00,			/* Data */
		0x00, 0x00,		/* no flags */
		0x00, 0x00, 0x00, 0x01, /* stream 1 */
		0x00, 0x00, 0x00, 0x24, /* 36 bytes */
	};
	memcpy(want + n, msg_hdr, sizeof(msg_hdr));
	n += sizeof(msg_hdr);
	memcpy(want + n, control_msg, 36);
	n += 36;
	static const uint8_t ack3[] = {
		0x00,			/* version 0 */
		0x01,			/* WindowUpdate */
		0x00, 0x02,		/* ACK */
		0x00, 0x00, 0x00, 0x03, /* stream 3 */
		0x00, 0x00, 0x00, 0x00, /* delta 0 */
	};
	memcpy(want + n, ack3, sizeof(ack3));
	n += sizeof(ack3);
	static const uint8_t proxy_hdr[] = {
		0x00,			/* version 0 */
		0x00,			/* Data */
		0x00, 0x00,		/* no flags */
		0x00, 0x00, 0x00, 0x03, /* stream 3 */
		0x00, 0x00, 0x00, 0x2b, /* 43 bytes */
	};
	memcpy(want + n, proxy_hdr, sizeof(proxy_hdr));
	n += sizeof(proxy_hdr);
	memcpy(want + n, proxy_line, 43);
	n += 43;
	n += put_frame(want + n, YAMUX_DATA, 0, 3, peeked, 0); /* 2nd Data frame: peeked bytes */
	static const uint8_t fin3[] = {
		0x00,			/* version 0 */
		0x01,			/* WindowUpdate */
		0x00, 0x04,		/* FIN */
		0x00, 0x00, 0x00, 0x03, /* stream 3 */
		0x00, 0x00, 0x00, 0x00, /* delta 0 */
	};
	memcpy(want + n, fin3, sizeof(fin3));
	n += sizeof(fin3);
	static const uint8_t pong0[] = {
		0x00,			/* version 0 */
		0x02,			/* Ping */
		0x00, 0x02,		/* ACK */
		0x00, 0x00, 0x00, 0x00, /* session */
		0x00, 0x00, 0x00, 0x00, /* value 0, echoed */
	};
	memcpy(want + n, pong0, sizeof(pong0));
	n += sizeof(pong0);

	assert_int_equal(h->out_len, n);
	assert_memory_equal(h->out, want, n);
	h_free(h);
}

static void test_trace_client_side(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	struct harness *h = h_new(&c);
	h->auto_consume = true;
	struct srec *ctl = h_open(h);
	assert_int_equal(h_write(ctl, handshake, 16), 16);
	assert_int_equal(h->out_len, sizeof(trace_c1));
	assert_memory_equal(h->out, trace_c1, sizeof(trace_c1));
	drain(h);

	/* S->C: ACK, controlOk, control message in one read */
	uint8_t in[256];
	size_t n = 0;
	n += put_frame(in + n, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, NULL, 0);
	n += put_frame(in + n, YAMUX_DATA, 0, 1, control_ok, 0);
	n += put_frame(in + n, YAMUX_DATA, 0, 1, control_msg, 0);
	assert_int_equal(feed(h, in, n), 0);
	assert_int_equal(ctl->established, 1);
	assert_int_equal(ctl->len, 9 + 36);
	assert_memory_equal(ctl->data, "controlOk{\"action\"", 18);

	struct srec *t = h_open(h);
	assert_int_equal(h->out_len - h->out_pos, sizeof(trace_c2));
	assert_memory_equal(h->out + h->out_pos, trace_c2, sizeof(trace_c2));
	drain(h);
	n = 0;
	n += put_frame(in + n, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 3, NULL, 0);
	n += put_frame(in + n, YAMUX_DATA, 0, 3, proxy_line, 0);
	assert_int_equal(feed(h, in, n), 0);
	assert_int_equal(t->len, 43);
	assert_int_equal(mux_stream_close(t->s), 0);
	assert_int_equal(h->out_len - h->out_pos, sizeof(trace_c3));
	assert_memory_equal(h->out + h->out_pos, trace_c3, sizeof(trace_c3));
	drain(h);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 3, 0, NULL), 0);
	h_release(t);
	assert_int_equal(mux_num_streams(h->m), 1);
	EXPECT_NONE(h);

	/* ping / pong: the value is echoed and matched */
	h->now = 10;
	assert_int_equal(mux_ping(h->m, 10), 0);
	struct yamux_hdr hd;
	assert_true(next_frame(h, &hd, NULL));
	assert_int_equal(hd.type, YAMUX_PING);
	assert_int_equal(hd.flags, YAMUX_SYN);
	assert_int_equal(hd.stream_id, 0);
	h->now = 17;
	assert_int_equal(feed_frame(h, YAMUX_PING, YAMUX_ACK, 0, hd.length, NULL), 0);
	assert_int_equal(count_ev(h, EV_PONG, 0), 1);
	assert_int_equal(h->pong_rtt, 7);
	h_free(h);
}

/* ---- SYN / ACK / FIN on Data frames ---- */

static void test_syn_ack_on_data(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct harness *h = h_new(&c);
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_SYN, 1, 2, "hi"), 0);
	assert_int_equal(h->nev, 2);
	assert_int_equal(h->ev[0].kind, EV_OPEN);
	assert_int_equal(h->ev[1].kind, EV_DATA);
	struct srec *r = rec_by_id(h, 1);
	assert_memory_equal(r->data, "hi", 2);
	/* SYN, payload and FIN in one frame: open, data, fin, in that order */
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_SYN | YAMUX_FIN, 3, 3, "abc"), 0);
	assert_int_equal(h->ev[2].kind, EV_OPEN);
	assert_int_equal(h->ev[3].kind, EV_DATA);
	assert_int_equal(h->ev[4].kind, EV_FIN);
	assert_int_equal(h->ev[4].id, 3);
	/* WU|SYN|FIN */
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN | YAMUX_FIN, 5, 0, NULL), 0);
	assert_int_equal(h->ev[5].kind, EV_OPEN);
	assert_int_equal(h->ev[6].kind, EV_FIN);
	/* closing an unaccepted stream carries the ACK (ACK|FIN, like yamux) */
	assert_int_equal(mux_stream_close(rec_by_id(h, 5)->s), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK | YAMUX_FIN, 5, 0);
	/* writing to an unaccepted stream accepts it first */
	assert_int_equal(h_write(r, "yo", 2), 2);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 0);
	EXPECT(h, YAMUX_DATA, 0, 1, 2);
	EXPECT_NONE(h);
	check_buffered(h);
	h_free(h);

	/* client: the ACK arrives on a Data frame, then ACK|FIN on a WU */
	c = cfg_base(true);
	c.max_syn_inflight = 1;
	h = h_new(&c);
	struct srec *a = h_open(h);
	int err = 0;
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_SYN_BACKLOG);
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_ACK, 1, 2, "ok"), 0);
	assert_int_equal(h->ev[0].kind, EV_ESTABLISHED);
	assert_int_equal(h->ev[1].kind, EV_DATA);
	assert_memory_equal(a->data, "ok", 2);
	struct srec *b = h_open(h); /* the ACK freed the SYN slot */
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK | YAMUX_FIN, 3, 0, NULL), 0);
	assert_int_equal(b->established, 1);
	assert_int_equal(b->fins, 1);
	/* ACK|FIN on a Data frame with payload: established, data, fin */
	h->nev = 0;
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 3, 0, NULL), 0); /* stray ACK: ignored */
	assert_int_equal(h->nev, 0);
	struct srec *d = h_open(h);
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_ACK | YAMUX_FIN, 5, 1, "z"), 0);
	assert_int_equal(h->ev[0].kind, EV_ESTABLISHED);
	assert_int_equal(h->ev[1].kind, EV_DATA);
	assert_int_equal(h->ev[2].kind, EV_FIN);
	assert_int_equal(d->len, 1);
	h_free(h);
}

/* ---- input split anywhere; data by reference ---- */

static void test_data_split_every_offset(void **state)
{
	(void)state;
	uint8_t *pay = pattern(350, 1);
	uint8_t in[12 + 12 + 300 + 12 + 50 + 12];
	size_t n = 0;
	yamux_hdr_encode(in + n, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 0);
	n += 12;
	yamux_hdr_encode(in + n, YAMUX_DATA, 0, 1, 300);
	n += 12;
	memcpy(in + n, pay, 300);
	n += 300;
	yamux_hdr_encode(in + n, YAMUX_DATA, YAMUX_FIN, 1, 50);
	n += 12;
	memcpy(in + n, pay + 300, 50);
	n += 50;
	yamux_hdr_encode(in + n, YAMUX_PING, YAMUX_SYN, 0, 77);
	n += 12;
	assert_int_equal(n, sizeof(in));

	struct mux_config c = cfg_base(false);
	for (size_t k = 0; k <= n; k++) {
		struct harness *h = h_new(&c);
		assert_int_equal(feed(h, in, k), 0);
		assert_int_equal(feed(h, in + k, n - k), 0);
		struct srec *r = rec_by_id(h, 1);
		assert_int_equal(r->len, 350);
		assert_memory_equal(r->data, pay, 350);
		assert_int_equal(r->fins, 1);
		assert_int_equal(h->ev[h->nev - 1].kind, EV_FIN); /* after all data */
		/* a split inside a payload delivers it in two pieces */
		int datas = count_ev(h, EV_DATA, 1);
		bool in_p1 = k > 24 && k < 324, in_p2 = k > 336 && k < 386;
		assert_int_equal(datas, 2 + (in_p1 || in_p2));
		EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 77);
		EXPECT_NONE(h);
		assert_int_equal(mux_buffered_bytes(h->m), 350);
		check_buffered(h);
		h_free(h);
	}
	/* one byte at a time */
	struct harness *h = h_new(&c);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(feed(h, in + i, 1), 0);
	struct srec *r = rec_by_id(h, 1);
	assert_int_equal(r->len, 350);
	assert_memory_equal(r->data, pay, 350);
	assert_int_equal(count_ev(h, EV_DATA, 1), 350);
	assert_int_equal(r->fins, 1);
	EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 77);
	/* empty input is fine */
	assert_int_equal(feed(h, in, 0), 0);
	h_free(h);
	free(pay);
}

/* ---- protocol errors ---- */

static void expect_closed(struct harness *h, int err)
{
	assert_true(mux_is_closed(h->m));
	assert_int_equal(mux_error(h->m), err);
	assert_int_equal(h->closed_calls, 1);
	assert_int_equal(h->closed_err, err);
	assert_int_equal(h->ev[h->nev - 1].kind, EV_CLOSED); /* session_closed comes last */
	/* a dead session refuses everything */
	assert_int_equal(feed_frame(h, YAMUX_PING, YAMUX_SYN, 0, 1, NULL), -err);
	assert_int_equal(h_tick(h, h->now + 1), -err);
	assert_int_equal(mux_next_timeout(h->m, h->now), -1);
	int e = 0;
	assert_null(mux_stream_open(h->m, &e));
	assert_int_equal(e, -MUX_E_SHUTDOWN);
	assert_int_equal(mux_go_away(h->m, 0), -MUX_E_SHUTDOWN);
	assert_int_equal(mux_ping(h->m, h->now), -MUX_E_SHUTDOWN);
	assert_int_equal(h->closed_calls, 1);
}

static void release_all(struct harness *h)
{
	for (int i = 0; i < h->nrec; i++)
		if (h->rec[i].s)
			h_release(&h->rec[i]);
}

static const uint8_t goaway1[YAMUX_HDR_LEN] = {
	0x00,			/* version 0 */
	0x03,			/* type GoAway */
	0x00, 0x00,		/* no flags */
	0x00, 0x00, 0x00, 0x00, /* session */
	0x00, 0x00, 0x00, 0x01, /* code 1: protocol error */
};

static void test_recv_window_exceeded(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct harness *h = h_new(&c);
	struct srec *r = peer_opens(h, 1, false);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 200 * KiB, NULL), 0);
	assert_int_equal(r->len, 200 * KiB);
	/* 56 KiB left; 56 KiB + 1 with a few payload bytes in the same read */
	uint8_t b[YAMUX_HDR_LEN + 5] = {0};
	yamux_hdr_encode(b, YAMUX_DATA, 0, 1, 56 * KiB + 1);
	assert_int_equal(feed(h, b, sizeof(b)), -MUX_E_RECV_WINDOW);
	assert_int_equal(r->len, 200 * KiB); /* nothing of it delivered */
	assert_int_equal(h->out_len - h->out_pos, YAMUX_HDR_LEN);
	assert_memory_equal(h->out + h->out_pos, goaway1, YAMUX_HDR_LEN);
	drain(h);
	assert_int_equal(r->resets, 1);
	assert_int_equal(r->reset_err, MUX_E_RECV_WINDOW);
	expect_closed(h, MUX_E_RECV_WINDOW);
	EXPECT_NONE(h);
	assert_int_equal(h_write(r, "x", 1), -MUX_E_SHUTDOWN);
	assert_int_equal(mux_stream_send_window(r->s), 0);
	assert_int_equal(mux_stream_accept(r->s), -MUX_E_RESET);
	assert_int_equal(mux_stream_close(r->s), 0);
	assert_int_equal(mux_stream_reset(r->s), 0);
	EXPECT_NONE(h);
	h_release(r);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	h_free(h);

	/* a single frame above 256 KiB on a fresh stream (SYN on the same frame) */
	h = h_new(&c);
	assert_int_equal(feed_hdr(h, YAMUX_DATA, YAMUX_SYN, 1, 256 * KiB + 1), -MUX_E_RECV_WINDOW);
	EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	expect_closed(h, MUX_E_RECV_WINDOW);
	release_all(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	h_free(h);

	/* exactly the window is fine, one more byte is not */
	h = h_new(&c);
	peer_opens(h, 1, true);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 256 * KiB, NULL), 0);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 1, NULL), -MUX_E_RECV_WINDOW);
	EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	h_free(h);
}

static void test_bad_version_and_type(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	for (int which = 0; which < 4; which++) {
		struct harness *h = h_new(&c);
		struct srec *r = peer_opens(h, 1, true);
		struct srec *q = peer_opens(h, 3, false);
		uint8_t b[YAMUX_HDR_LEN] = {
			0x00,			/* version 0 */
			0x02,			/* Ping */
			0x00, 0x01,		/* SYN */
			0x00, 0x00, 0x00, 0x00, /* session */
			0x00, 0x00, 0x00, 0x09, /* value 9 */
		};
		int err = which & 1 ? MUX_E_TYPE : MUX_E_VERSION;
		if (which & 1)
			b[1] = (uint8_t)(which == 1 ? 4 : 0xff); /* type 4 or 255 */
		else
			b[0] = (uint8_t)(which == 0 ? 1 : 0x80); /* version 1 or 128 */
		/* header split over two reads */
		assert_int_equal(feed(h, b, 5), 0);
		assert_int_equal(feed(h, b + 5, 7), -err);
		EXPECT_NONE(h); /* no GoAway, no pong */
		assert_int_equal(r->reset_err, err);
		assert_int_equal(q->reset_err, err);
		expect_closed(h, err);
		release_all(h);
		assert_int_equal(mux_num_streams(h->m), 0);
		EXPECT_NONE(h);
		h_free(h);
	}
}

static void test_duplicate_syn(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct harness *h = h_new(&c);
	struct srec *r = peer_opens(h, 1, true);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 0, NULL), -MUX_E_DUP_STREAM);
	EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	EXPECT_NONE(h);
	assert_int_equal(r->reset_err, MUX_E_DUP_STREAM);
	assert_int_equal(count_ev(h, EV_OPEN, 1), 1);
	expect_closed(h, MUX_E_DUP_STREAM);
	h_free(h);

	/* the peer SYNs an id we opened (parity is not checked, liveness is) */
	h = h_new(&c);
	struct srec *mine = h_open(h);
	drain(h);
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_SYN, mine->id, 4, "abcd"), -MUX_E_DUP_STREAM);
	EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	assert_int_equal(mine->len, 0);
	expect_closed(h, MUX_E_DUP_STREAM);
	h_free(h);
}

static void test_fin_twice(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct harness *h = h_new(&c);
	struct srec *r = peer_opens(h, 1, true);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0, NULL), 0);
	assert_int_equal(r->fins, 1);
	EXPECT_NONE(h);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0, NULL), -MUX_E_UNEXPECTED_FLAG);
	EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	assert_int_equal(r->fins, 1);
	assert_int_equal(r->reset_err, MUX_E_UNEXPECTED_FLAG);
	expect_closed(h, MUX_E_UNEXPECTED_FLAG);
	h_free(h);

	/* second FIN on a Data frame */
	h = h_new(&c);
	r = peer_opens(h, 1, true);
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_FIN, 1, 1, "a"), 0);
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_FIN, 1, 1, "b"), -MUX_E_UNEXPECTED_FLAG);
	EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	assert_int_equal(r->len, 1);
	h_free(h);
}

static void test_remote_goaway_normal(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	struct harness *h = h_new(&c);
	h->auto_consume = true;
	struct srec *a = h_open(h);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 0, NULL), 0);
	drain(h);
	assert_false(mux_remote_go_away(h->m));
	assert_int_equal(feed_frame(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_NORMAL, NULL), 0);
	assert_true(mux_remote_go_away(h->m));
	assert_int_equal(count_ev(h, EV_GOAWAY, 0), 1);
	assert_false(mux_is_closed(h->m));
	int err = 0;
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_REMOTE_GOAWAY);
	EXPECT_NONE(h);
	/* the existing stream carries data both ways */
	assert_int_equal(h_write(a, "out", 3), 3);
	EXPECT(h, YAMUX_DATA, 0, 1, 3);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 2, "in"), 0);
	assert_int_equal(a->len, 2);
	/* the peer may still open streams towards us */
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 2, 0, NULL), 0);
	assert_int_equal(count_ev(h, EV_OPEN, 2), 1);
	/* a second GoAway 0 is not reported again */
	assert_int_equal(feed_frame(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_NORMAL, NULL), 0);
	assert_int_equal(count_ev(h, EV_GOAWAY, 0), 1);
	assert_int_equal(mux_stream_close(a->s), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0);
	h_free(h);
}

static void test_remote_goaway_fatal(void **state)
{
	(void)state;
	static const struct {
		uint32_t code;
		int err;
	} cases[] = {
		{1, MUX_E_REMOTE_PROTO},
		{2, MUX_E_REMOTE_INTERNAL},
		{3, MUX_E_REMOTE_UNKNOWN},
		{0xffffffffu, MUX_E_REMOTE_UNKNOWN},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct mux_config c = cfg_base(true);
		struct harness *h = h_new(&c);
		struct srec *a = h_open(h), *b = h_open(h);
		drain(h);
		struct srec *in = peer_opens(h, 2, true);
		drain(h);
		assert_int_equal(feed_frame(h, YAMUX_GO_AWAY, 0, 0, cases[i].code, NULL), -cases[i].err);
		EXPECT_NONE(h); /* we send nothing back */
		assert_int_equal(a->reset_err, cases[i].err);
		assert_int_equal(b->reset_err, cases[i].err);
		assert_int_equal(in->reset_err, cases[i].err);
		assert_int_equal(count_ev(h, EV_RESET, 1) + count_ev(h, EV_RESET, 3) + count_ev(h, EV_RESET, 2), 3);
		expect_closed(h, cases[i].err);
		assert_int_equal(mux_num_streams(h->m), 3); /* held until released */
		release_all(h);
		assert_int_equal(mux_num_streams(h->m), 0);
		EXPECT_NONE(h);
		h_free(h);
	}
}

static void test_local_goaway_normal(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct harness *h = h_new(&c);
	h->auto_consume = true;
	struct srec *r = peer_opens(h, 1, true);
	assert_int_equal(mux_go_away(h->m, MUX_GOAWAY_NORMAL), 0);
	static const uint8_t ga0[YAMUX_HDR_LEN] = {
		0x00,			/* version 0 */
		0x03,			/* GoAway */
		0x00, 0x00,		/* no flags */
		0x00, 0x00, 0x00, 0x00, /* session */
		0x00, 0x00, 0x00, 0x00, /* code 0 */
	};
	assert_memory_equal(h->out + h->out_pos, ga0, YAMUX_HDR_LEN);
	EXPECT(h, YAMUX_GO_AWAY, 0, 0, 0);
	assert_false(mux_is_closed(h->m));
	/* inbound SYNs are refused with WU|RST */
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, 0, NULL), 0);
	static const uint8_t rst3[YAMUX_HDR_LEN] = {
		0x00,			/* version 0 */
		0x01,			/* WindowUpdate */
		0x00, 0x08,		/* RST */
		0x00, 0x00, 0x00, 0x03, /* stream 3 */
		0x00, 0x00, 0x00, 0x00, /* delta 0 */
	};
	assert_memory_equal(h->out + h->out_pos, rst3, YAMUX_HDR_LEN);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	assert_int_equal(count_ev(h, EV_OPEN, 3), 0);
	/* a refused Data|SYN's payload is skipped and the next frame parsed */
	uint8_t b[12 + 3 + 12];
	yamux_hdr_encode(b, YAMUX_DATA, YAMUX_SYN, 5, 3);
	memcpy(b + 12, "abc", 3);
	yamux_hdr_encode(b + 15, YAMUX_PING, YAMUX_SYN, 0, 5);
	assert_int_equal(feed(h, b, sizeof(b)), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 5, 0);
	EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 5);
	assert_int_equal(mux_num_streams(h->m), 1);
	/* the existing stream goes on */
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 4, "more"), 0);
	assert_int_equal(r->len, 4);
	assert_int_equal(h_write(r, "back", 4), 4);
	EXPECT(h, YAMUX_DATA, 0, 1, 4);
	/* nor do we open any (pinned yamux would; this engine is going away) */
	int err = 0;
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_LOCAL_GOAWAY);
	EXPECT_NONE(h);
	h_free(h);
}

static void test_local_goaway_fatal(void **state)
{
	(void)state;
	for (uint32_t code = 1; code <= 2; code++) {
		struct mux_config c = cfg_base(false);
		struct harness *h = h_new(&c);
		struct srec *r = peer_opens(h, 1, true);
		assert_int_equal(mux_go_away(h->m, code), 0);
		EXPECT(h, YAMUX_GO_AWAY, 0, 0, code);
		EXPECT_NONE(h);
		assert_int_equal(r->reset_err, MUX_E_LOCAL);
		expect_closed(h, MUX_E_LOCAL);
		h_free(h);
	}
	/* mux_close: nothing sent; input EOF */
	struct mux_config c = cfg_base(false);
	struct harness *h = h_new(&c);
	struct srec *r = peer_opens(h, 1, true);
	mux_input_eof(h->m);
	EXPECT_NONE(h);
	assert_int_equal(r->reset_err, MUX_E_EOF);
	expect_closed(h, MUX_E_EOF);
	mux_close(h->m, MUX_E_LOCAL); /* idempotent */
	assert_int_equal(h->closed_calls, 1);
	h_free(h);
	h = h_new(&c);
	mux_close(h->m, 0);
	expect_closed(h, MUX_E_LOCAL);
	h_free(h);
}

static void test_accept_backlog_full(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	c.accept_backlog = 2;
	struct harness *h = h_new(&c);
	peer_opens(h, 1, false);
	peer_opens(h, 3, false);
	EXPECT_NONE(h);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 5, 0, NULL), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 5, 0);
	assert_int_equal(count_ev(h, EV_OPEN, 5), 0);
	assert_int_equal(mux_num_streams(h->m), 2);
	/* Data for the refused stream is dropped */
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 5, 10, NULL), 0);
	EXPECT_NONE(h);
	/* accepting one frees a backlog slot */
	assert_int_equal(mux_stream_accept(rec_by_id(h, 1)->s), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 0);
	peer_opens(h, 7, false);
	EXPECT_NONE(h);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 9, 0, NULL), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 9, 0);
	/* so does releasing (RST) or closing (ACK|FIN) an unaccepted one */
	h_release(rec_by_id(h, 3));
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	peer_opens(h, 11, false);
	assert_int_equal(mux_stream_close(rec_by_id(h, 11)->s), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK | YAMUX_FIN, 11, 0);
	peer_opens(h, 13, false);
	EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 4);
	h_free(h);
}

static void test_max_streams(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	c.max_streams = 2;
	struct harness *h = h_new(&c);
	struct srec *a = peer_opens(h, 1, true);
	struct srec *b = h_open(h);
	drain(h);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, 0, NULL), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	int err = 0;
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_TOO_MANY);
	assert_null(mux_stream_open(h->m, NULL));
	h_release(a);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	struct srec *d = h_open(h);
	assert_int_equal(d->id, b->id + 2);
	/* a lingering stream still counts */
	assert_int_equal(mux_stream_close(d->s), 0);
	h_release(d);
	drain(h);
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_TOO_MANY);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, d->id, 0, NULL), 0);
	assert_int_equal(mux_num_streams(h->m), 1);
	h_open(h);
	h_free(h);
}

static void test_stream_ids_exhausted(void **state)
{
	(void)state;
	/* The last ids a client may use are 0xfffffffb and 0xfffffffd;
	 * opening past them fails with MUX_E_EXHAUSTED, as yamux's
	 * "streams exhausted", and the session goes on. */
	struct mux_config c = cfg_base(true);
	c.first_stream_id = 0xfffffffbu;
	struct harness *h = h_new(&c);
	struct srec *a = h_open(h);
	struct srec *b = h_open(h);
	assert_int_equal(a->id, 0xfffffffbu);
	assert_int_equal(b->id, 0xfffffffdu);
	drain(h);
	int err = 0;
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_EXHAUSTED);
	assert_false(mux_is_closed(h->m));
	/* The open streams still work. */
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, a->id, 0, NULL), 0);
	assert_int_equal(mux_num_streams(h->m), 2);
	h_free(h);
}

static void test_syn_inflight_limit(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.max_syn_inflight = 2;
	struct harness *h = h_new(&c);
	struct srec *a = h_open(h);
	struct srec *b = h_open(h);
	drain(h);
	int err = 0;
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_SYN_BACKLOG);
	EXPECT_NONE(h);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, b->id, 0, NULL), 0);
	assert_int_equal(b->established, 1);
	struct srec *d = h_open(h);
	assert_int_equal(d->id, 5);
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_SYN_BACKLOG);
	/* a refused open (RST) frees its slot once released */
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, a->id, 0, NULL), 0);
	assert_int_equal(a->reset_err, MUX_E_RESET);
	assert_null(mux_stream_open(h->m, &err));
	h_release(a);
	h_open(h);
	/* releasing an un-ACKed stream (RST) frees it too */
	h_release(d);
	h_open(h);
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_SYN_BACKLOG);
	h_free(h);
}

/* ---- ping and keepalive ---- */

static void test_ping_answered(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct harness *h = h_new(&c);
	static const uint8_t ping[YAMUX_HDR_LEN] = {
		0x00,			/* version 0 */
		0x02,			/* Ping */
		0x00, 0x01,		/* SYN */
		0x00, 0x00, 0x00, 0x00, /* session */
		0xde, 0xad, 0xbe, 0xef, /* opaque value */
	};
	static const uint8_t pong[YAMUX_HDR_LEN] = {
		0x00,			/* version 0 */
		0x02,			/* Ping */
		0x00, 0x02,		/* ACK */
		0x00, 0x00, 0x00, 0x00, /* session */
		0xde, 0xad, 0xbe, 0xef, /* same value */
	};
	assert_int_equal(feed(h, ping, sizeof(ping)), 0);
	assert_int_equal(h->out_len, sizeof(pong));
	assert_memory_equal(h->out, pong, sizeof(pong));
	drain(h);
	/* an ACK we never asked for is ignored */
	assert_int_equal(feed_frame(h, YAMUX_PING, YAMUX_ACK, 0, 0xdeadbeefu, NULL), 0);
	EXPECT_NONE(h);
	assert_int_equal(count_ev(h, EV_PONG, 0), 0);
	/* pings do not count as streams */
	assert_int_equal(mux_num_streams(h->m), 0);
	h_free(h);
}

static void test_keepalive(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	c.keepalive_ms = 1000;
	c.ping_timeout_ms = 300;
	struct harness *h = h_new(&c);
	struct srec *r = peer_opens(h, 1, true);
	assert_int_equal(mux_next_timeout(h->m, 0), 1000);
	assert_int_equal(mux_next_timeout(h->m, 400), 600);
	assert_int_equal(h_tick(h, 999), 0);
	EXPECT_NONE(h);
	assert_int_equal(h_tick(h, 1000), 0);
	struct yamux_hdr hd;
	assert_true(next_frame(h, &hd, NULL));
	assert_int_equal(hd.type, YAMUX_PING);
	assert_int_equal(hd.flags, YAMUX_SYN);
	assert_int_equal(hd.stream_id, 0);
	EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 1000), 300);
	assert_int_equal(h_tick(h, 1299), 0);
	EXPECT_NONE(h); /* no second ping while one is outstanding */
	/* inbound bytes (anything: a WU for an unknown stream) postpone it */
	h->now = 1200;
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 99, 5, NULL), 0);
	assert_int_equal(h_tick(h, 1300), 0);
	assert_int_equal(h_tick(h, 1499), 0);
	assert_int_equal(mux_next_timeout(h->m, 1499), 1);
	assert_false(mux_is_closed(h->m));
	assert_int_equal(h_tick(h, 1500), -MUX_E_KEEPALIVE);
	EXPECT_NONE(h); /* no GoAway on keepalive death */
	assert_int_equal(r->reset_err, MUX_E_KEEPALIVE);
	expect_closed(h, MUX_E_KEEPALIVE);
	h_free(h);
}

static void test_keepalive_pong(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.keepalive_ms = 1000;
	c.ping_timeout_ms = 300;
	struct harness *h = h_new(&c);
	assert_int_equal(h_tick(h, 1000), 0);
	struct yamux_hdr p1;
	assert_true(next_frame(h, &p1, NULL));
	assert_int_equal(p1.type, YAMUX_PING);
	h->now = 1042;
	assert_int_equal(feed_frame(h, YAMUX_PING, YAMUX_ACK, 0, p1.length, NULL), 0);
	assert_int_equal(count_ev(h, EV_PONG, 0), 1);
	assert_int_equal(h->pong_rtt, 42);
	/* answered: no death at the old deadline, next ping at 2000 */
	assert_int_equal(h_tick(h, 1300), 0);
	assert_int_equal(h_tick(h, 1999), 0);
	EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 1999), 1);
	assert_int_equal(h_tick(h, 2000), 0);
	struct yamux_hdr p2;
	assert_true(next_frame(h, &p2, NULL));
	assert_int_equal(p2.type, YAMUX_PING);
	assert_int_not_equal(p2.length, p1.length);
	/* a stale pong does not count; the peer's own pings are answered */
	h->now = 2100;
	assert_int_equal(feed_frame(h, YAMUX_PING, YAMUX_ACK, 0, p1.length, NULL), 0);
	assert_int_equal(count_ev(h, EV_PONG, 0), 1);
	assert_int_equal(feed_frame(h, YAMUX_PING, YAMUX_SYN, 0, 3, NULL), 0);
	EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 3);
	/* ... and postpone the deadline like any bytes: 2100 + 300 */
	assert_int_equal(h_tick(h, 2399), 0);
	assert_int_equal(h_tick(h, 2400), -MUX_E_KEEPALIVE);
	expect_closed(h, MUX_E_KEEPALIVE);
	h_free(h);

	/* keepalive off: no timer at all, but a manual ping still times out */
	c.keepalive_ms = 0;
	h = h_new(&c);
	assert_int_equal(mux_next_timeout(h->m, 0), -1);
	assert_int_equal(h_tick(h, 100000), 0);
	EXPECT_NONE(h);
	assert_int_equal(mux_ping(h->m, 100000), 0);
	assert_true(next_frame(h, &p1, NULL));
	assert_int_equal(mux_next_timeout(h->m, 100000), 300);
	assert_int_equal(h_tick(h, 100300), -MUX_E_KEEPALIVE);
	h_free(h);
}

/* ---- flow control ---- */

static void test_window_update_rule(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct harness *h = h_new(&c);
	struct srec *r = peer_opens(h, 1, true); /* 256 KiB window, half = 128 KiB */
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 100 * KiB, NULL), 0);
	check_buffered(h);
	h_consume(r, 100 * KiB);
	EXPECT_NONE(h);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 28 * KiB - 1, NULL), 0);
	h_consume(r, 28 * KiB - 1);
	EXPECT_NONE(h);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 1, NULL), 0);
	EXPECT_NONE(h); /* delivered is not consumed */
	h_consume(r, 1);
	EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 128 * KiB);
	EXPECT_NONE(h);
	check_buffered(h);

	/* deferred consumption: only consumed bytes are credited */
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 200 * KiB, NULL), 0);
	h_consume(r, 100 * KiB);
	EXPECT_NONE(h);
	check_buffered(h);
	h_consume(r, 50 * KiB);
	EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 150 * KiB);
	h_consume(r, 50 * KiB);
	EXPECT_NONE(h);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	/* the peer now has 256 - 50 KiB: exactly that much fits */
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 206 * KiB, NULL), 0);
	h_consume(r, 206 * KiB);
	EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 256 * KiB);

	/* a frame still arriving is not credited before it is delivered */
	assert_int_equal(feed_hdr(h, YAMUX_DATA, 0, 1, 200 * KiB), 0);
	uint8_t *p = pattern(200 * KiB, 3);
	assert_int_equal(feed(h, p, 150 * KiB), 0);
	h_consume(r, 150 * KiB);
	EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 150 * KiB);
	assert_int_equal(feed(h, p + 150 * KiB, 50 * KiB), 0);
	h_consume(r, 50 * KiB);
	EXPECT_NONE(h);
	free(p);
	check_buffered(h);
	h_free(h);

	/* a larger window: half of 1 MiB */
	c.recv_window = 1 * MiB;
	h = h_new(&c);
	r = peer_opens(h, 1, true);
	h->auto_consume = true;
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 511 * KiB, NULL), 0);
	EXPECT_NONE(h);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 1 * KiB, NULL), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 512 * KiB);
	/* consumed inside stream_data while the frame is still arriving */
	assert_int_equal(feed_hdr(h, YAMUX_DATA, 0, 1, 1 * MiB), 0);
	p = pattern(1 * MiB, 4);
	assert_int_equal(feed(h, p, 100 * KiB), 0);
	EXPECT_NONE(h);
	assert_int_equal(feed(h, p + 100 * KiB, 500 * KiB), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 600 * KiB);
	assert_int_equal(feed(h, p + 600 * KiB, 424 * KiB), 0);
	EXPECT_NONE(h);
	free(p);
	/* no credit is returned after the peer's FIN */
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_FIN, 1, 100 * KiB, NULL), 0);
	EXPECT_NONE(h);
	h_free(h);
	(void)r;
}

/* Data that arrives before the application accepts must not be forgotten
 * when accept() enlarges the window. */
static void test_accept_after_data_keeps_window(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	c.recv_window = 1 * MiB;
	struct harness *h = h_new(&c);
	struct srec *r = peer_opens(h, 1, false);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 100 * KiB, NULL), 0);
	assert_int_equal(r->len, 100 * KiB);
	assert_int_equal(mux_stream_accept(r->s), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB);
	/* the peer sees 156 KiB + 768 KiB of credit */
	h_consume(r, 50 * KiB);
	EXPECT_NONE(h);
	h_consume(r, 50 * KiB);
	EXPECT_NONE(h);
	check_buffered(h);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 924 * KiB, NULL), 0);
	assert_true(mux_buffered_bytes(h->m) <= mux_stream_recv_max(r->s));
	h_consume(r, 924 * KiB);
	EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 1024 * KiB);
	EXPECT_NONE(h);
	/* and exactly that: 1 MiB fits, one more byte does not */
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 1 * MiB, NULL), 0);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 1, NULL), -MUX_E_RECV_WINDOW);
	h_free(h);
}

/* ---- deferred ACK (ack_delay_ms) ---- */

static struct harness *h_deferred(void)
{
	struct mux_config c = cfg_base(false);
	c.recv_window = 1 * MiB;
	c.ack_delay_ms = 20;
	return h_new(&c);
}

/* The ACK (with the extra window and the credit for what was consumed
 * meanwhile) leaves just ahead of the stream's first data, in the same
 * emit sequence, not on its own at accept. */
static void test_deferred_ack_rides_with_data(void **state)
{
	(void)state;
	struct harness *h = h_deferred();
	struct srec *r = peer_opens(h, 1, false);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 64, NULL), 0);
	assert_int_equal(mux_stream_accept(r->s), 0);
	EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 0), 20);
	h_consume(r, 64);
	EXPECT_NONE(h); /* no window update either: the ACK will carry it */
	assert_int_equal(h_write(r, "pong", 4), 4);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB + 64);
	EXPECT(h, YAMUX_DATA, 0, 1, 4);
	EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 0), -1);
	assert_int_equal(h_tick(h, 100), 0);
	EXPECT_NONE(h);
	/* the peer has its full window: 1 MiB fits, one more byte does not */
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 1 * MiB, NULL), 0);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 1, NULL), -MUX_E_RECV_WINDOW);
	h_free(h);
}

/* Nothing to say on the stream: the ACK goes when the delay is up. */
static void test_deferred_ack_timer(void **state)
{
	(void)state;
	struct harness *h = h_deferred();
	assert_int_equal(h_tick(h, 1000), 0);
	struct srec *r = peer_opens(h, 1, false);
	struct srec *r3 = peer_opens(h, 3, false);
	assert_int_equal(mux_stream_accept(r->s), 0);
	assert_int_equal(h_tick(h, 1005), 0);
	assert_int_equal(mux_stream_accept(r3->s), 0);
	EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 1005), 15);
	assert_int_equal(h_tick(h, 1019), 0);
	EXPECT_NONE(h);
	assert_int_equal(h_tick(h, 1020), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB);
	EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 1020), 5);
	assert_int_equal(h_tick(h, 1030), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 3, 768 * KiB);
	EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 1030), -1);
	h_free(h);
}

/* A peer that only sends learns of the big window before its initial
 * 256 KiB run out: the ACK goes once half of it is used. */
static void test_deferred_ack_credit_low(void **state)
{
	(void)state;
	struct harness *h = h_deferred();
	struct srec *r = peer_opens(h, 1, false);
	assert_int_equal(mux_stream_accept(r->s), 0);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 100 * KiB, NULL), 0);
	h_consume(r, 100 * KiB);
	EXPECT_NONE(h);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 30 * KiB, NULL), 0);
	/* 126 KiB of credit left: extra window + the 100 KiB consumed */
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB + 100 * KiB);
	EXPECT_NONE(h);
	h_consume(r, 30 * KiB);
	check_buffered(h);
	/* credit now 126 + 868 KiB; 994 KiB fits, one byte more does not */
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 994 * KiB, NULL), 0);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 1, NULL), -MUX_E_RECV_WINDOW);
	h_free(h);
}

/* FIN first: the ACK goes just before it. RST, or release without a FIN
 * (which resets): no ACK at all, and none later. */
static void test_deferred_ack_close_reset_release(void **state)
{
	(void)state;
	struct harness *h = h_deferred();
	struct srec *a = peer_opens(h, 1, false);
	struct srec *b = peer_opens(h, 3, false);
	struct srec *c = peer_opens(h, 5, false);
	assert_int_equal(mux_stream_accept(a->s), 0);
	assert_int_equal(mux_stream_accept(b->s), 0);
	assert_int_equal(mux_stream_accept(c->s), 0);
	EXPECT_NONE(h);
	assert_int_equal(mux_stream_close(a->s), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0);
	assert_int_equal(mux_stream_reset(b->s), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	h_release(c);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 5, 0);
	EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 0), -1);
	assert_int_equal(h_tick(h, 1000), 0);
	EXPECT_NONE(h);
	h_release(a);
	h_release(b);
	assert_int_equal(mux_num_streams(h->m), 1); /* a lingers for the peer's FIN */
	h_free(h);
}

/* A peer FIN before the accept: nothing more will come, ACK at once. */
static void test_deferred_ack_after_remote_fin(void **state)
{
	(void)state;
	struct harness *h = h_deferred();
	struct srec *r = peer_opens(h, 1, false);
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_FIN, 1, 10, NULL), 0);
	assert_int_equal(mux_stream_accept(r->s), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB);
	EXPECT_NONE(h);
	h_free(h);
}

static void test_send_window_exhaustion(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.max_frame = 64 * KiB;
	struct harness *h = h_new(&c);
	struct srec *r = h_open(h);
	drain(h);
	uint8_t *p = pattern(300 * KiB, 5);
	assert_int_equal(h_write(r, p, 300 * KiB), 256 * KiB);
	for (int i = 0; i < 4; i++) {
		const uint8_t *pl = EXPECT(h, YAMUX_DATA, 0, 1, 64 * KiB);
		assert_memory_equal(pl, p + (size_t)i * 64 * KiB, 64 * KiB);
	}
	EXPECT_NONE(h);
	/* zero copy: the payload iovecs point into the caller's buffer */
	assert_int_equal(h->last_iovcnt, 8);
	assert_ptr_equal(h->last_iov[1].iov_base, p);
	assert_ptr_equal(h->last_iov[7].iov_base, p + 192 * KiB);
	assert_int_equal(mux_stream_send_window(r->s), 0);
	assert_int_equal(h_write(r, p + 256 * KiB, 44 * KiB), 0);
	EXPECT_NONE(h);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 10000, NULL), 0);
	assert_int_equal(r->writable, 1);
	assert_int_equal(mux_stream_send_window(r->s), 10000);
	assert_int_equal(h_write(r, p + 256 * KiB, 44 * KiB), 10000);
	EXPECT(h, YAMUX_DATA, 0, 1, 10000);
	/* 0 -> 5 wakes the writer again; 5 -> 10 does not */
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 5, NULL), 0);
	assert_int_equal(r->writable, 2);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 5, NULL), 0);
	assert_int_equal(r->writable, 2);
	/* a write that fits asks for nothing */
	assert_int_equal(h_write(r, p, 10), 10);
	EXPECT(h, YAMUX_DATA, 0, 1, 10);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 5, NULL), 0);
	assert_int_equal(r->writable, 2);
	/* the peer's ACK delta grows the send window */
	struct srec *s2 = h_open(h);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, s2->id, 1 * MiB, NULL), 0);
	assert_int_equal(mux_stream_send_window(s2->s), MUX_INITIAL_WINDOW + 1 * MiB);
	/* the window saturates instead of wrapping */
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, 0, s2->id, 0xffffffffu, NULL), 0);
	assert_int_equal(mux_stream_send_window(s2->s), 0xffffffffu);
	/* after our FIN, no writable event */
	assert_int_equal(h_write(r, p, 100), 5);
	assert_int_equal(mux_stream_close(r->s), 0);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 5, NULL), 0);
	assert_int_equal(r->writable, 2);
	free(p);
	h_free(h);
}

static void test_write_iovecs(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.max_frame = 16;
	struct harness *h = h_new(&c);
	struct srec *r = h_open(h);
	drain(h);
	uint8_t a[10], b[1], d[20];
	memset(a, 'a', sizeof(a));
	memset(d, 'd', sizeof(d));
	struct iovec iov[3] = {{a, 10}, {b, 0}, {d, 20}};
	assert_int_equal(mux_stream_write(r->s, iov, 3), 30);
	assert_int_equal(h->emits, 2); /* one emit() per batch of frames */
	/* frame 1: [hdr][a 10][d 6]; frame 2: [hdr][d 14] */
	assert_int_equal(h->last_iovcnt, 5);
	assert_ptr_equal(h->last_iov[1].iov_base, a);
	assert_int_equal(h->last_iov[1].iov_len, 10);
	assert_ptr_equal(h->last_iov[2].iov_base, d);
	assert_int_equal(h->last_iov[2].iov_len, 6);
	assert_int_equal(h->last_iov[3].iov_len, YAMUX_HDR_LEN);
	assert_ptr_equal(h->last_iov[4].iov_base, d + 6);
	assert_int_equal(h->last_iov[4].iov_len, 14);
	const uint8_t *pl = EXPECT(h, YAMUX_DATA, 0, 1, 16);
	assert_memory_equal(pl, "aaaaaaaaaadddddd", 16);
	EXPECT(h, YAMUX_DATA, 0, 1, 14);
	EXPECT_NONE(h);
	/* many frames: more than one emit batch */
	uint8_t *big = pattern(1000, 9);
	struct iovec one = {big, 1000};
	assert_int_equal(mux_stream_write(r->s, &one, 1), 1000);
	for (int i = 0; i < 62; i++)
		EXPECT(h, YAMUX_DATA, 0, 1, 16);
	EXPECT(h, YAMUX_DATA, 0, 1, 8);
	EXPECT_NONE(h);
	free(big);
	/* bad iovcnt; empty write */
	assert_int_equal(mux_stream_write(r->s, iov, MUX_MAX_IOV + 1), -MUX_E_INVAL);
	assert_int_equal(mux_stream_write(r->s, iov, -1), -MUX_E_INVAL);
	assert_int_equal(mux_stream_write(r->s, iov, 0), 0);
	EXPECT_NONE(h);
	h_free(h);
}

/* A writer that sizes its writes to the window fills it exactly: no event
 * unless it asks with mux_stream_want_writable(). */
static void test_want_writable(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	struct harness *h = h_new(&c);
	struct srec *r = h_open(h);
	uint8_t *p = pattern(256 * KiB, 6);
	mux_stream_want_writable(r->s); /* window open: no-op */
	assert_int_equal(h_write(r, p, 256 * KiB), 256 * KiB);
	assert_int_equal(mux_stream_send_window(r->s), 0);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 100, NULL), 0);
	assert_int_equal(r->writable, 0); /* nobody asked */
	assert_int_equal(h_write(r, p, 100), 100);
	mux_stream_want_writable(r->s);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 50, NULL), 0);
	assert_int_equal(r->writable, 1);
	/* once reported, the request is spent */
	assert_int_equal(h_write(r, p, 50), 50);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 50, NULL), 0);
	assert_int_equal(r->writable, 1);
	free(p);
	h_free(h);
}

/* ---- close, release, reset ---- */

static void test_half_close_local_first(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	struct harness *h = h_new(&c);
	struct srec *r = h_open(h);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 0, NULL), 0);
	drain(h);
	assert_int_equal(mux_stream_close(r->s), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0);
	assert_true(mux_stream_local_closed(r->s));
	assert_int_equal(mux_stream_close(r->s), 0); /* twice: nothing more */
	EXPECT_NONE(h);
	assert_int_equal(h_write(r, "x", 1), -MUX_E_STREAM_CLOSED);
	assert_int_equal(mux_stream_send_window(r->s), 0);
	/* reading goes on */
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 3, "abc"), 0);
	assert_int_equal(r->len, 3);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0, NULL), 0);
	assert_int_equal(r->fins, 1);
	assert_true(mux_stream_remote_closed(r->s));
	assert_int_equal(mux_num_streams(h->m), 1); /* held */
	h_release(r);
	EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	h_free(h);
}

static void test_half_close_remote_first(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct harness *h = h_new(&c);
	struct srec *r = peer_opens(h, 1, true);
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_FIN, 1, 2, "ab"), 0);
	assert_int_equal(r->fins, 1);
	/* we may still write */
	assert_int_equal(h_write(r, "xyz", 3), 3);
	EXPECT(h, YAMUX_DATA, 0, 1, 3);
	assert_int_equal(mux_stream_close(r->s), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0);
	assert_int_equal(mux_num_streams(h->m), 1);
	h_release(r);
	EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	/* the id is free again: a new SYN for it is not a duplicate */
	peer_opens(h, 1, true);
	assert_false(mux_is_closed(h->m));
	h_free(h);
}

static void test_release_before_fin_sends_rst(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct harness *h = h_new(&c);
	struct srec *r = peer_opens(h, 1, true);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 1000, NULL), 0);
	assert_int_equal(mux_buffered_bytes(h->m), 1000);
	h_release(r);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	/* late data for it is discarded, the next frame still parsed */
	uint8_t b[12 + 4 + 12];
	yamux_hdr_encode(b, YAMUX_DATA, 0, 1, 4);
	memcpy(b + 12, "late", 4);
	yamux_hdr_encode(b + 16, YAMUX_PING, YAMUX_SYN, 0, 1);
	assert_int_equal(feed(h, b, sizeof(b)), 0);
	EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 1);
	/* an unaccepted stream released: RST as well */
	r = peer_opens(h, 3, false);
	h_release(r);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	/* an opened, un-ACKed stream too */
	struct srec *o = h_open(h);
	h_release(o);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, o->id, 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, o->id, 0);
	EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	h_free(h);
}

static void test_release_after_fin_lingers(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.linger_ms = 5000;
	struct harness *h = h_new(&c);
	struct srec *r = h_open(h);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 0, NULL), 0);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 100, NULL), 0); /* unconsumed */
	assert_int_equal(mux_stream_close(r->s), 0);
	drain(h);
	assert_int_equal(h_tick(h, 100), 0);
	h_release(r);
	EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 1);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	assert_int_equal(mux_next_timeout(h->m, 100), 5000);
	/* its data is discarded and credited */
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 200 * KiB, NULL), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 200 * KiB + 100);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	assert_int_equal(h->nev, 2); /* established, data(100): nothing since */
	assert_int_equal(h_tick(h, 5099), 0);
	EXPECT_NONE(h);
	assert_int_equal(h_tick(h, 5100), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(mux_next_timeout(h->m, 5100), -1);
	/* a late FIN for it is ignored */
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0, NULL), 0);
	EXPECT_NONE(h);

	/* the peer's FIN during the linger frees it without RST */
	struct srec *a = h_open(h), *b = h_open(h);
	assert_int_equal(mux_stream_close(a->s), 0);
	assert_int_equal(mux_stream_close(b->s), 0);
	h_release(a);
	assert_int_equal(h_tick(h, 6000), 0);
	h_release(b);
	drain(h);
	assert_int_equal(mux_num_streams(h->m), 2);
	assert_int_equal(mux_next_timeout(h->m, 6000), 4100); /* a's deadline first */
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_ACK | YAMUX_FIN, a->id, 5, NULL), 0);
	assert_int_equal(mux_num_streams(h->m), 1);
	assert_int_equal(mux_next_timeout(h->m, 6000), 5000);
	/* ... and so does its RST */
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, b->id, 0, NULL), 0);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(h_tick(h, 20000), 0);
	EXPECT_NONE(h);
	h_free(h);
}

static void test_remote_rst(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct harness *h = h_new(&c);
	struct srec *r = peer_opens(h, 1, true);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 10, NULL), 0);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0, NULL), 0);
	assert_int_equal(r->resets, 1);
	assert_int_equal(r->reset_err, MUX_E_RESET);
	assert_int_equal(h_write(r, "x", 1), -MUX_E_RESET);
	assert_int_equal(mux_stream_send_window(r->s), 0);
	assert_int_equal(mux_stream_close(r->s), 0);
	assert_int_equal(mux_stream_reset(r->s), 0);
	h_consume(r, 10);
	EXPECT_NONE(h);
	/* frames for it are dropped; the one after is parsed */
	uint8_t b[12 + 3 + 12];
	yamux_hdr_encode(b, YAMUX_DATA, YAMUX_FIN, 1, 3);
	memcpy(b + 12, "xyz", 3);
	yamux_hdr_encode(b + 15, YAMUX_PING, YAMUX_SYN, 0, 2);
	assert_int_equal(feed(h, b, sizeof(b)), 0);
	EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 2);
	assert_int_equal(r->len, 10);
	assert_int_equal(r->fins, 0);
	h_release(r);
	EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);

	/* RST on a Data frame: its payload is skipped */
	r = peer_opens(h, 3, true);
	yamux_hdr_encode(b, YAMUX_DATA, YAMUX_RST, 3, 3);
	assert_int_equal(feed(h, b, sizeof(b)), 0);
	assert_int_equal(r->len, 0);
	assert_int_equal(r->reset_err, MUX_E_RESET);
	EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 2);

	/* our own reset */
	struct srec *q = peer_opens(h, 5, true);
	assert_int_equal(mux_stream_reset(q->s), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 5, 0);
	assert_int_equal(mux_stream_reset(q->s), 0);
	EXPECT_NONE(h);
	assert_int_equal(h_write(q, "x", 1), -MUX_E_RESET);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 5, 3, NULL), 0);
	assert_int_equal(q->len, 0);
	assert_int_equal(q->resets, 0); /* no event for our own reset */
	h_release(q);
	h_release(r);
	EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	h_free(h);
}

static void test_unknown_stream_discarded(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct harness *h = h_new(&c);
	uint8_t b[12 + 10 + 12 + 12 + 12];
	size_t n = 0;
	yamux_hdr_encode(b + n, YAMUX_DATA, 0, 99, 10); /* unknown stream 99 */
	n += 12;
	memset(b + n, 0x00, 10); /* payload that looks like a header */
	n += 10;
	yamux_hdr_encode(b + n, YAMUX_WINDOW_UPDATE, 0, 77, 100); /* unknown: ignored */
	n += 12;
	yamux_hdr_encode(b + n, YAMUX_WINDOW_UPDATE, YAMUX_FIN | YAMUX_RST | YAMUX_ACK, 55, 0);
	n += 12;
	yamux_hdr_encode(b + n, YAMUX_PING, YAMUX_SYN, 0, 6);
	n += 12;
	for (size_t k = 0; k <= n; k++) {
		struct harness *hh = h_new(&c);
		assert_int_equal(feed(hh, b, k), 0);
		assert_int_equal(feed(hh, b + k, n - k), 0);
		EXPECT(hh, YAMUX_PING, YAMUX_ACK, 0, 6);
		EXPECT_NONE(hh);
		assert_int_equal(hh->nev, 0);
		assert_int_equal(mux_num_streams(hh->m), 0);
		h_free(hh);
	}
	h_free(h);
}

static void test_session_cap(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.recv_window = 1 * MiB;
	c.session_recv_cap = 1536 * KiB; /* two streams' worth of extra window */
	struct harness *h = h_new(&c);
	struct srec *a = h_open(h), *b = h_open(h), *d = h_open(h);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 768 * KiB);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, 768 * KiB);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 5, 0); /* cap used up */
	assert_int_equal(mux_stream_recv_max(a->s), 1 * MiB);
	assert_int_equal(mux_stream_recv_max(b->s), 1 * MiB);
	assert_int_equal(mux_stream_recv_max(d->s), 256 * KiB);
	/* inbound streams draw on the same budget */
	struct srec *in = peer_opens(h, 2, true);
	assert_int_equal(mux_stream_recv_max(in->s), 256 * KiB);
	/* freeing a stream gives its reservation back */
	h_release(a);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	struct srec *e = h_open(h);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, e->id, 768 * KiB);
	/* a lingering stream keeps it until it is gone */
	assert_int_equal(mux_stream_close(b->s), 0);
	h_release(b);
	drain(h);
	struct srec *f = h_open(h);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, f->id, 0);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK | YAMUX_FIN, 3, 0, NULL), 0);
	struct srec *g = h_open(h);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, g->id, 768 * KiB);
	/* a partial remainder is granted as such */
	h_free(h);
	c.session_recv_cap = 1 * MiB;
	h = h_new(&c);
	h_open(h);
	struct srec *p = h_open(h);
	assert_int_equal(mux_stream_recv_max(p->s), 512 * KiB);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 768 * KiB);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, 256 * KiB);
	/* a stream reset by the session keeps its reservation until released */
	mux_close(h->m, MUX_E_EOF);
	release_all(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	h_free(h);
}

/* ---- callbacks that re-enter the engine (run under ASan) ---- */

static void hook_release_on(struct harness *h, int kind, struct srec *r)
{
	if (r && kind == h->hook_state && r->s) {
		mux_stream_release(r->s);
		r->s = NULL;
	}
}

static void test_release_inside_callbacks(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);

	/* release in stream_open: RST; the Data|SYN payload is skipped */
	struct harness *h = h_new(&c);
	h->hook = hook_release_on;
	h->hook_state = EV_OPEN;
	uint8_t b[12 + 100 + 12];
	yamux_hdr_encode(b, YAMUX_DATA, YAMUX_SYN, 1, 100);
	memset(b + 12, 0x11, 100);
	yamux_hdr_encode(b + 112, YAMUX_PING, YAMUX_SYN, 0, 8);
	assert_int_equal(feed(h, b, sizeof(b)), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 8);
	assert_int_equal(count_ev(h, EV_DATA, 1), 0);
	assert_int_equal(mux_num_streams(h->m), 0);
	h_free(h);

	/* release in stream_data on the first piece: the rest is dropped */
	h = h_new(&c);
	h->hook = hook_release_on;
	h->hook_state = EV_DATA;
	yamux_hdr_encode(b, YAMUX_DATA, YAMUX_SYN | YAMUX_FIN, 1, 100);
	assert_int_equal(feed(h, b, 40), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	assert_int_equal(feed(h, b + 40, sizeof(b) - 40), 0);
	EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 8);
	EXPECT_NONE(h);
	assert_int_equal(count_ev(h, EV_DATA, 1), 1);
	assert_int_equal(count_ev(h, EV_FIN, 1), 0);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	h_free(h);

	/* release in stream_fin after our FIN: freed at once, no RST */
	h = h_new(&c);
	h->hook = hook_release_on;
	h->hook_state = EV_FIN;
	struct srec *r = peer_opens(h, 1, true);
	assert_int_equal(mux_stream_close(r->s), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0);
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_FIN, 1, 5, NULL), 0);
	EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	/* and before our FIN: RST */
	r = peer_opens(h, 3, true);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 3, 0, NULL), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	assert_int_equal(mux_num_streams(h->m), 0);
	h_free(h);

	/* release in stream_established, ACK on a Data frame with payload */
	c.client = true;
	h = h_new(&c);
	h->hook = hook_release_on;
	h->hook_state = EV_ESTABLISHED;
	h_open(h);
	drain(h);
	yamux_hdr_encode(b, YAMUX_DATA, YAMUX_ACK | YAMUX_FIN, 1, 100);
	assert_int_equal(feed(h, b, sizeof(b)), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 8);
	assert_int_equal(count_ev(h, EV_DATA, 1), 0);
	assert_int_equal(mux_num_streams(h->m), 0);
	h_free(h);

	/* release in stream_writable */
	h = h_new(&c);
	h->hook = hook_release_on;
	h->hook_state = EV_WRITABLE;
	r = h_open(h);
	uint8_t *p = pattern(256 * KiB + 1, 1);
	assert_int_equal(h_write(r, p, 256 * KiB + 1), 256 * KiB);
	drain(h);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK | YAMUX_FIN, 1, 7, NULL), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	assert_int_equal(mux_num_streams(h->m), 0);
	free(p);
	h_free(h);

	/* release in stream_reset while the session dies: every stream */
	c.client = false;
	h = h_new(&c);
	h->hook = hook_release_on;
	h->hook_state = EV_RESET;
	for (uint32_t id = 1; id < 40; id += 2)
		peer_opens(h, id, id % 4 == 1);
	for (int i = 0; i < 10; i++)
		h_open(h);
	assert_int_equal(mux_num_streams(h->m), 30);
	drain(h);
	assert_int_equal(feed_frame(h, YAMUX_GO_AWAY, 0, 0, 2, NULL), -MUX_E_REMOTE_INTERNAL);
	EXPECT_NONE(h);
	assert_int_equal(count_ev(h, EV_RESET, 5), 1);
	assert_int_equal(mux_num_streams(h->m), 0);
	expect_closed(h, MUX_E_REMOTE_INTERNAL);
	h_free(h);

	/* release in stream_reset for a peer RST */
	h = h_new(&c);
	h->hook = hook_release_on;
	h->hook_state = EV_RESET;
	peer_opens(h, 1, true);
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_RST, 1, 4, NULL), 0);
	EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	h_free(h);
}

static void hook_goaway_on(struct harness *h, int kind, struct srec *r)
{
	(void)r;
	if (kind == h->hook_state && !mux_is_closed(h->m))
		assert_int_equal(mux_go_away(h->m, MUX_GOAWAY_PROTO_ERR), 0);
}

static void hook_goaway0_on_open(struct harness *h, int kind, struct srec *r)
{
	(void)r;
	if (kind == EV_OPEN)
		assert_int_equal(mux_go_away(h->m, MUX_GOAWAY_NORMAL), 0);
}

static void hook_close_on_data(struct harness *h, int kind, struct srec *r)
{
	(void)r;
	if (kind == EV_DATA)
		mux_close(h->m, MUX_E_EOF);
}

static void hook_open_on_data(struct harness *h, int kind, struct srec *r)
{
	if (kind == EV_DATA && h->hook_state++ == 0) {
		struct srec *o = h_open(h);
		assert_int_equal(h_write(o, "new", 3), 3);
		assert_int_equal(h_write(r, "echo", 4), 4);
		assert_int_equal(mux_stream_close(r->s), 0);
	}
	if (kind == EV_RESET) {
		/* the session is dying: nothing can be opened */
		int err = 0;
		assert_null(mux_stream_open(h->m, &err));
		assert_int_equal(err, -MUX_E_SHUTDOWN);
		mux_stream_release(r->s);
		r->s = NULL;
	}
	if (kind == EV_CLOSED)
		assert_int_equal(mux_num_streams(h->m), 0);
}

static void test_goaway_inside_callbacks(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	static const int kinds[] = {EV_OPEN, EV_DATA, EV_FIN};
	for (size_t i = 0; i < 3; i++) {
		struct harness *h = h_new(&c);
		struct srec *other = peer_opens(h, 3, true);
		h->hook = hook_goaway_on;
		h->hook_state = kinds[i];
		uint8_t b[12 + 50 + 12];
		yamux_hdr_encode(b, YAMUX_DATA, YAMUX_SYN | YAMUX_FIN, 1, 50);
		memset(b + 12, 0x22, 50);
		yamux_hdr_encode(b + 62, YAMUX_PING, YAMUX_SYN, 0, 9);
		/* split inside the payload: the second half lands on a dead session */
		int rc = feed(h, b, 30);
		rc = rc ? rc : feed(h, b + 30, sizeof(b) - 30);
		assert_int_equal(rc, -MUX_E_LOCAL);
		EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
		EXPECT_NONE(h); /* no pong: the ping came after */
		assert_int_equal(other->reset_err, MUX_E_LOCAL);
		assert_int_equal(rec_by_id(h, 1)->reset_err, MUX_E_LOCAL);
		expect_closed(h, MUX_E_LOCAL);
		release_all(h);
		assert_int_equal(mux_num_streams(h->m), 0);
		h_free(h);
	}

	/* GoAway 0 from stream_open: this stream lives, the next is refused */
	struct harness *h = h_new(&c);
	h->hook = hook_goaway0_on_open;
	h->auto_accept = true;
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_SYN, 1, 3, "abc"), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 0);
	EXPECT(h, YAMUX_GO_AWAY, 0, 0, 0);
	assert_int_equal(rec_by_id(h, 1)->len, 3);
	assert_int_equal(feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, 0, NULL), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	h_free(h);

	/* mux_close from stream_data */
	h = h_new(&c);
	h->hook = hook_close_on_data;
	struct srec *r = peer_opens(h, 1, true);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 10, NULL), -MUX_E_EOF);
	assert_int_equal(r->reset_err, MUX_E_EOF);
	EXPECT_NONE(h);
	expect_closed(h, MUX_E_EOF);
	h_free(h);

	/* open and write from stream_data; release from stream_reset */
	h = h_new(&c);
	h->hook = hook_open_on_data;
	r = peer_opens(h, 1, true);
	assert_int_equal(feed_frame(h, YAMUX_DATA, 0, 1, 10, NULL), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 2, 0);
	EXPECT(h, YAMUX_DATA, 0, 2, 3);
	EXPECT(h, YAMUX_DATA, 0, 1, 4);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0);
	assert_int_equal(feed_frame(h, YAMUX_GO_AWAY, 0, 0, 1, NULL), -MUX_E_REMOTE_PROTO);
	assert_int_equal(mux_num_streams(h->m), 0);
	h_free(h);
}

/* A peer that (wrongly) opens a stream with our parity; the application
 * releases it while its frame is half delivered and opens a new stream,
 * which gets the same id. The rest of the old frame must not reach it. */
static void hook_reopen_on_data(struct harness *h, int kind, struct srec *r)
{
	if (kind == EV_DATA && h->hook_state++ == 0) {
		mux_stream_release(r->s);
		r->s = NULL;
		struct srec *o = h_open(h);
		assert_int_equal(o->id, 1);
	}
}

static void test_stream_freed_mid_payload_id_reused(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	struct harness *h = h_new(&c);
	h->hook = hook_reopen_on_data;
	peer_opens(h, 1, true);
	drain(h);
	assert_int_equal(feed_hdr(h, YAMUX_DATA, 0, 1, 1000), 0);
	uint8_t *p = pattern(1000, 2);
	assert_int_equal(feed(h, p, 10), 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 0);
	assert_int_equal(feed(h, p + 10, 990), 0);
	struct srec *o = rec_by_id(h, 1);
	assert_non_null(o->s);
	assert_int_equal(o->len, 0);
	check_buffered(h);
	/* the new stream's window is intact */
	assert_int_equal(feed_frame(h, YAMUX_DATA, YAMUX_ACK, 1, 256 * KiB, NULL), 0);
	assert_int_equal(o->len, 256 * KiB);
	h_consume(o, 256 * KiB);
	EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 256 * KiB);
	EXPECT_NONE(h);
	free(p);
	h_free(h);
}

/* ---- two engines back to back ---- */

enum { B2B_STREAMS = 8 };
#define B2B_A2B (512 * KiB)
#define B2B_B2A (256 * KiB + 12345)

struct b2b {
	struct harness *a, *b;
	uint8_t *src_a[B2B_STREAMS], *src_b[B2B_STREAMS];
	uint32_t rng;
};

static uint32_t rnd(struct b2b *t)
{
	t->rng ^= t->rng << 13;
	t->rng ^= t->rng >> 17;
	t->rng ^= t->rng << 5;
	return t->rng;
}

/* Index of a stream on either side: the client opens them in order 1,3,5... */
static int b2b_index(const struct srec *r)
{
	return (int)(r->id - 1) / 2;
}

static void b2b_pump_side(struct b2b *t, struct harness *h, uint8_t **src, size_t total)
{
	for (int i = 0; i < h->nrec; i++) {
		struct srec *r = &h->rec[i];
		if (r->s == NULL)
			continue;
		int k = b2b_index(r);
		/* write what the window allows, in odd-sized pieces */
		while (r->sent < total && !mux_stream_local_closed(r->s)) {
			size_t want = 1 + rnd(t) % (96 * KiB);
			if (want > total - r->sent)
				want = total - r->sent;
			ssize_t n = h_write(r, src[k] + r->sent, want);
			assert_true(n >= 0);
			r->sent += (size_t)n;
			if ((size_t)n < want)
				break;
		}
		if (r->sent == total && !mux_stream_local_closed(r->s))
			assert_int_equal(mux_stream_close(r->s), 0);
		/* consume part of what was delivered */
		if (r->pending) {
			size_t n = rnd(t) % 3 == 0 ? r->pending : r->pending / 2 + 1;
			if (n > r->pending)
				n = r->pending;
			h_consume(r, n);
		}
		if (r->pending == 0 && r->fins && mux_stream_local_closed(r->s))
			h_release(r);
	}
}

static size_t b2b_move(struct b2b *t, struct harness *from, struct harness *to)
{
	size_t avail = from->out_len - from->out_pos;
	if (avail == 0)
		return 0;
	size_t n = 1 + rnd(t) % (64 * KiB);
	if (rnd(t) % 8 == 0)
		n = 1 + rnd(t) % 20; /* tiny reads too */
	if (n > avail)
		n = avail;
	assert_int_equal(feed(to, from->out + from->out_pos, n), 0);
	from->out_pos += n;
	if (from->out_pos > 1 * MiB) {
		memmove(from->out, from->out + from->out_pos, from->out_len - from->out_pos);
		from->out_len -= from->out_pos;
		from->out_pos = 0;
	}
	return n;
}

static void b2b_accept_all(struct harness *h)
{
	for (int i = 0; i < h->nrec; i++)
		if (h->rec[i].s && !h->rec[i].established) {
			assert_int_equal(mux_stream_accept(h->rec[i].s), 0);
			h->rec[i].established = 1;
		}
}

static void test_back_to_back(void **state)
{
	(void)state;
	struct b2b t = {.rng = 0x12345678};
	struct mux_config ca = cfg_base(true), cb = cfg_base(false);
	ca.recv_window = 1 * MiB;
	ca.session_recv_cap = 2 * MiB; /* some streams get 1 MiB, the rest 256 KiB */
	ca.max_frame = 16 * KiB;
	cb.max_frame = 40000;
	cb.keepalive_ms = 50;
	cb.ping_timeout_ms = 1000000;
	t.a = h_new(&ca);
	t.b = h_new(&cb);
	for (int k = 0; k < B2B_STREAMS; k++) {
		t.src_a[k] = pattern(B2B_A2B, 100 + (uint32_t)k);
		t.src_b[k] = pattern(B2B_B2A, 200 + (uint32_t)k);
		struct srec *r = h_open(t.a);
		assert_int_equal(b2b_index(r), k);
		r->established = 1;
	}
	int rounds = 0;
	for (;;) {
		assert_true(++rounds < 100000);
		b2b_accept_all(t.b);
		b2b_pump_side(&t, t.a, t.src_a, B2B_A2B);
		b2b_pump_side(&t, t.b, t.src_b, B2B_B2A);
		size_t moved = b2b_move(&t, t.a, t.b) + b2b_move(&t, t.b, t.a);
		t.a->now = t.b->now = (uint64_t)rounds;
		assert_int_equal(mux_tick(t.b->m, t.b->now), 0);
		assert_true(mux_buffered_bytes(t.a->m) <= (uint64_t)B2B_STREAMS * ca.recv_window);
		check_buffered(t.a);
		check_buffered(t.b);
		if (moved == 0 && mux_num_streams(t.a->m) == 0 && mux_num_streams(t.b->m) == 0)
			break;
	}
	/* integrity: every stream got exactly its bytes, then FIN */
	for (int i = 0; i < t.b->nrec; i++) {
		struct srec *r = &t.b->rec[i];
		assert_int_equal(r->len, B2B_A2B);
		assert_memory_equal(r->data, t.src_a[b2b_index(r)], B2B_A2B);
		assert_int_equal(r->fins, 1);
		assert_null(r->s);
	}
	for (int i = 0; i < t.a->nrec; i++) {
		struct srec *r = &t.a->rec[i];
		assert_int_equal(r->len, B2B_B2A);
		assert_memory_equal(r->data, t.src_b[b2b_index(r)], B2B_B2A);
		assert_int_equal(r->fins, 1);
		assert_null(r->s);
	}
	assert_int_equal(t.a->nrec, B2B_STREAMS);
	assert_int_equal(t.b->nrec, B2B_STREAMS);
	assert_int_equal(mux_num_streams(t.a->m), 0);
	assert_int_equal(mux_num_streams(t.b->m), 0);
	assert_int_equal(mux_buffered_bytes(t.a->m), 0);
	assert_int_equal(mux_buffered_bytes(t.b->m), 0);
	/* B's keepalive pings were answered by A */
	assert_true(count_ev(t.b, EV_PONG, 0) > 0);
	assert_false(mux_is_closed(t.a->m));
	assert_false(mux_is_closed(t.b->m));
	/* the larger windows made A's side need fewer WindowUpdates */
	for (int k = 0; k < B2B_STREAMS; k++) {
		free(t.src_a[k]);
		free(t.src_b[k]);
	}
	h_free(t.a);
	h_free(t.b);
}

/* Many streams: the table grows and shrinks, ids stay distinct and data
 * reaches the right handle. Uses its own small application. */
struct many {
	struct mux_stream *ss[3000];
	int n;
	size_t bytes[3000];
	size_t out;
};

static void many_emit(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct many *t = ctx;
	for (int i = 0; i < iovcnt; i++)
		t->out += iov[i].iov_len;
}

static void many_open(void *ctx, struct mux_stream *s)
{
	struct many *t = ctx;
	assert_true(t->n < 3000);
	mux_stream_set_udata(s, (void *)(uintptr_t)t->n);
	t->ss[t->n++] = s;
	assert_int_equal(mux_stream_accept(s), 0);
}

static void many_data(void *ctx, struct mux_stream *s, const uint8_t *p, size_t n)
{
	struct many *t = ctx;
	uintptr_t k = (uintptr_t)mux_stream_udata(s);
	assert_int_equal(mux_stream_id(s), 2 * k + 1);
	assert_int_equal(p[0], (uint8_t)k);
	t->bytes[k] += n;
	mux_stream_consumed(s, n);
}

static void test_many_streams(void **state)
{
	(void)state;
	static const struct mux_ops mops = {
		.emit = many_emit,
		.stream_open = many_open,
		.stream_data = many_data,
	};
	struct mux_config c = cfg_base(false);
	struct many *t = calloc(1, sizeof(*t));
	assert_non_null(t);
	struct mux *m = mux_new(&c, &mops, t, 0);
	assert_non_null(m);
	enum { N = 3000 };
	uint8_t f[YAMUX_HDR_LEN + 1];
	for (uint32_t i = 0; i < N; i++) {
		yamux_hdr_encode(f, YAMUX_DATA, YAMUX_SYN, 2 * i + 1, 1);
		f[YAMUX_HDR_LEN] = (uint8_t)i;
		assert_int_equal(mux_input(m, f, sizeof(f), 0), 0);
	}
	assert_int_equal(t->n, N);
	assert_int_equal(mux_num_streams(m), N);
	/* release every third, then data to all the others */
	for (int i = 0; i < N; i += 3) {
		mux_stream_release(t->ss[i]);
		t->ss[i] = NULL;
	}
	assert_int_equal(mux_num_streams(m), N - N / 3);
	for (uint32_t i = 0; i < N; i++) {
		yamux_hdr_encode(f, YAMUX_DATA, 0, 2 * i + 1, 1);
		f[YAMUX_HDR_LEN] = (uint8_t)i;
		assert_int_equal(mux_input(m, f, sizeof(f), 0), 0);
	}
	for (int i = 0; i < N; i++)
		assert_int_equal(t->bytes[i], i % 3 == 0 ? 1 : 2);
	/* the rest, backwards */
	for (int i = N - 1; i >= 0; i--)
		if (t->ss[i]) {
			mux_stream_release(t->ss[i]);
			t->ss[i] = NULL;
		}
	assert_int_equal(mux_num_streams(m), 0);
	/* ids are reusable after a stream is gone */
	yamux_hdr_encode(f, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 0);
	t->n = 0;
	assert_int_equal(mux_input(m, f, YAMUX_HDR_LEN, 0), 0);
	assert_int_equal(mux_num_streams(m), 1);
	mux_free(m); /* frees the held stream too */
	free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_and_strerror),
		cmocka_unit_test(test_open_emits_wu_syn),
		cmocka_unit_test(test_accept_emits_wu_ack),
		cmocka_unit_test(test_trace_server_side),
		cmocka_unit_test(test_trace_client_side),
		cmocka_unit_test(test_syn_ack_on_data),
		cmocka_unit_test(test_data_split_every_offset),
		cmocka_unit_test(test_recv_window_exceeded),
		cmocka_unit_test(test_bad_version_and_type),
		cmocka_unit_test(test_duplicate_syn),
		cmocka_unit_test(test_fin_twice),
		cmocka_unit_test(test_remote_goaway_normal),
		cmocka_unit_test(test_remote_goaway_fatal),
		cmocka_unit_test(test_local_goaway_normal),
		cmocka_unit_test(test_local_goaway_fatal),
		cmocka_unit_test(test_accept_backlog_full),
		cmocka_unit_test(test_max_streams),
		cmocka_unit_test(test_syn_inflight_limit),
		cmocka_unit_test(test_stream_ids_exhausted),
		cmocka_unit_test(test_ping_answered),
		cmocka_unit_test(test_keepalive),
		cmocka_unit_test(test_keepalive_pong),
		cmocka_unit_test(test_window_update_rule),
		cmocka_unit_test(test_accept_after_data_keeps_window),
		cmocka_unit_test(test_deferred_ack_rides_with_data),
		cmocka_unit_test(test_deferred_ack_timer),
		cmocka_unit_test(test_deferred_ack_credit_low),
		cmocka_unit_test(test_deferred_ack_close_reset_release),
		cmocka_unit_test(test_deferred_ack_after_remote_fin),
		cmocka_unit_test(test_send_window_exhaustion),
		cmocka_unit_test(test_write_iovecs),
		cmocka_unit_test(test_want_writable),
		cmocka_unit_test(test_half_close_local_first),
		cmocka_unit_test(test_half_close_remote_first),
		cmocka_unit_test(test_release_before_fin_sends_rst),
		cmocka_unit_test(test_release_after_fin_lingers),
		cmocka_unit_test(test_remote_rst),
		cmocka_unit_test(test_unknown_stream_discarded),
		cmocka_unit_test(test_session_cap),
		cmocka_unit_test(test_release_inside_callbacks),
		cmocka_unit_test(test_goaway_inside_callbacks),
		cmocka_unit_test(test_stream_freed_mid_payload_id_reused),
		cmocka_unit_test(test_back_to_back),
		cmocka_unit_test(test_many_streams),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
