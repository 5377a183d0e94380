/*
 * Unit tests for mux: the sans-I/O yamux engine.
 *
 * The shared harness (tests/common/mux_harness) plays the transport and the
 * application: emit() appends the engine's bytes to an output buffer that
 * the tests split back into frames (MH_EXPECT), the callbacks log events and
 * collect stream data, and the tests feed hand-built frames as the remote
 * peer. Input is always passed in an exact-size heap copy so ASan catches
 * any read past it and the harness checks that stream_data points into it
 * (zero copy). What stays here: the cases, their hooks, the test config.
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
#include "mux_harness.h"
#include "wire/yamux_frame.h"

#define KiB 1024u
#define MiB (1024u * 1024u)
#define MAXREC 64

/* A failed harness check fails the test case (fail_msg does not return). */
static void fail_test(struct mh *h, const char *msg)
{
	(void)h;
	fail_msg("%s", msg);
}

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

/* A harness that keeps everything: the output, the data, the events. */
static struct mh *h_new(const struct mux_config *c)
{
	struct mh *h = mh_new(c, MAXREC, 0);
	h->on_fail = fail_test;
	h->capture = true;
	h->collect = true;
	h->log_events = true;
	return h;
}

/* An inbound stream: SYN from the peer (and ACK from us if accept). */
static struct mh_stream *peer_opens(struct mh *h, uint32_t id, bool accept)
{
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, id, 0, NULL), 0);
	struct mh_stream *r = mh_rec_by_id(h, id);
	assert_non_null(r->s);
	if (accept) {
		assert_int_equal(mux_stream_accept(r->s), 0);
		MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, id, mux_stream_recv_max(r->s) - MUX_INITIAL_WINDOW);
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
	struct mh *h = h_new(NULL);
	struct mh_stream *r = mh_open(h, NULL);
	assert_int_equal(r->id, 2);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 2, c.recv_window - MUX_INITIAL_WINDOW);
	assert_int_equal(mux_next_timeout(h->m, 0), 30000);
	mh_free(h);
}

static void test_open_emits_wu_syn(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.recv_window = 1 * MiB;
	struct mh *h = h_new(&c);
	struct mh_stream *a = mh_open(h, NULL), *b = mh_open(h, NULL);
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
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 1 * MiB - 256 * KiB);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, 1 * MiB - 256 * KiB);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_stream_recv_max(a->s), 1 * MiB);
	assert_int_equal(mux_stream_send_window(a->s), MUX_INITIAL_WINDOW);
	assert_int_equal(mux_num_streams(h->m), 2);
	assert_ptr_equal(mux_stream_session(a->s), h->m);
	assert_false(mux_stream_local_closed(a->s));
	assert_false(mux_stream_remote_closed(a->s));
	mh_free(h);

	/* server: even ids; a window of 256 KiB opens with delta 0 */
	c = cfg_base(false);
	h = h_new(&c);
	a = mh_open(h, NULL);
	b = mh_open(h, NULL);
	assert_int_equal(a->id, 2);
	assert_int_equal(b->id, 4);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 2, 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 4, 0);
	MH_EXPECT_NONE(h);
	mh_free(h);
}

static void test_accept_emits_wu_ack(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	c.recv_window = 1 * MiB;
	struct mh *h = h_new(&c);
	/* the peer opens with a delta: our send window grows by it */
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 1000, NULL), 0);
	assert_int_equal(mh_count_ev(h, MH_EV_OPEN, 1), 1);
	MH_EXPECT_NONE(h); /* nothing until the application accepts */
	struct mh_stream *r = mh_rec_by_id(h, 1);
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
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB);
	assert_int_equal(mux_stream_recv_max(r->s), 1 * MiB);
	assert_int_equal(mux_stream_accept(r->s), 0); /* twice: no-op */
	MH_EXPECT_NONE(h);
	mh_free(h);
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
	struct mh *h = h_new(&c);
	h->auto_accept = true;
	h->auto_consume = true;

	/* control stream: SYN and handshake arrive together */
	assert_int_equal(mh_feed(h, trace_c1, sizeof(trace_c1)), 0);
	struct mh_stream *ctl = mh_rec_by_id(h, 1);
	assert_int_equal(ctl->len, 16);
	assert_memory_equal(ctl->data, handshake, 16);
	assert_int_equal(mh_write(ctl, control_ok, 9), 9);
	assert_int_equal(mh_write(ctl, control_msg, 36), 36);

	/* tunneled connection */
	assert_int_equal(mh_feed(h, trace_c2, sizeof(trace_c2)), 0);
	struct mh_stream *t = mh_rec_by_id(h, 3);
	assert_int_equal(mh_write(t, proxy_line, strlen(proxy_line)), (ssize_t)strlen(proxy_line));
	assert_int_equal(mh_write(t, peeked, strlen(peeked)), (ssize_t)strlen(peeked));
	assert_int_equal(mh_feed(h, trace_c3, sizeof(trace_c3)), 0);
	assert_int_equal(mh_count_ev(h, MH_EV_FIN, 3), 1);
	assert_int_equal(mux_stream_close(t->s), 0);
	mh_release(t);
	assert_int_equal(mux_num_streams(h->m), 1);
	/* keepalive ping from the client */
	assert_int_equal(mh_feed(h, trace_c4, sizeof(trace_c4)), 0);

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
	mh_free(h);
}

static void test_trace_client_side(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	struct mh *h = h_new(&c);
	h->auto_consume = true;
	struct mh_stream *ctl = mh_open(h, NULL);
	assert_int_equal(mh_write(ctl, handshake, 16), 16);
	assert_int_equal(h->out_len, sizeof(trace_c1));
	assert_memory_equal(h->out, trace_c1, sizeof(trace_c1));
	mh_drain(h);

	/* S->C: ACK, controlOk, control message in one read */
	uint8_t in[256];
	size_t n = 0;
	n += put_frame(in + n, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, NULL, 0);
	n += put_frame(in + n, YAMUX_DATA, 0, 1, control_ok, 0);
	n += put_frame(in + n, YAMUX_DATA, 0, 1, control_msg, 0);
	assert_int_equal(mh_feed(h, in, n), 0);
	assert_int_equal(ctl->established, 1);
	assert_int_equal(ctl->len, 9 + 36);
	assert_memory_equal(ctl->data, "controlOk{\"action\"", 18);

	struct mh_stream *t = mh_open(h, NULL);
	assert_int_equal(h->out_len - h->out_pos, sizeof(trace_c2));
	assert_memory_equal(h->out + h->out_pos, trace_c2, sizeof(trace_c2));
	mh_drain(h);
	n = 0;
	n += put_frame(in + n, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 3, NULL, 0);
	n += put_frame(in + n, YAMUX_DATA, 0, 3, proxy_line, 0);
	assert_int_equal(mh_feed(h, in, n), 0);
	assert_int_equal(t->len, 43);
	assert_int_equal(mux_stream_close(t->s), 0);
	assert_int_equal(h->out_len - h->out_pos, sizeof(trace_c3));
	assert_memory_equal(h->out + h->out_pos, trace_c3, sizeof(trace_c3));
	mh_drain(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 3, 0, NULL), 0);
	mh_release(t);
	assert_int_equal(mux_num_streams(h->m), 1);
	MH_EXPECT_NONE(h);

	/* ping / pong: the value is echoed and matched */
	h->now = 10;
	assert_int_equal(mux_ping(h->m, 10), 0);
	struct yamux_hdr hd;
	assert_true(mh_next_frame(h, &hd, NULL));
	assert_int_equal(hd.type, YAMUX_PING);
	assert_int_equal(hd.flags, YAMUX_SYN);
	assert_int_equal(hd.stream_id, 0);
	h->now = 17;
	assert_int_equal(mh_feed_frame(h, YAMUX_PING, YAMUX_ACK, 0, hd.length, NULL), 0);
	assert_int_equal(mh_count_ev(h, MH_EV_PONG, 0), 1);
	assert_int_equal(h->pong_rtt, 7);
	mh_free(h);
}

/* ---- SYN / ACK / FIN on Data frames ---- */

static void test_syn_ack_on_data(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct mh *h = h_new(&c);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_SYN, 1, 2, "hi"), 0);
	assert_int_equal(h->nev, 2);
	assert_int_equal(h->ev[0].kind, MH_EV_OPEN);
	assert_int_equal(h->ev[1].kind, MH_EV_DATA);
	struct mh_stream *r = mh_rec_by_id(h, 1);
	assert_memory_equal(r->data, "hi", 2);
	/* SYN, payload and FIN in one frame: open, data, fin, in that order */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_SYN | YAMUX_FIN, 3, 3, "abc"), 0);
	assert_int_equal(h->ev[2].kind, MH_EV_OPEN);
	assert_int_equal(h->ev[3].kind, MH_EV_DATA);
	assert_int_equal(h->ev[4].kind, MH_EV_FIN);
	assert_int_equal(h->ev[4].id, 3);
	/* WU|SYN|FIN */
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN | YAMUX_FIN, 5, 0, NULL), 0);
	assert_int_equal(h->ev[5].kind, MH_EV_OPEN);
	assert_int_equal(h->ev[6].kind, MH_EV_FIN);
	/* closing an unaccepted stream carries the ACK (ACK|FIN, like yamux) */
	assert_int_equal(mux_stream_close(mh_rec_by_id(h, 5)->s), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK | YAMUX_FIN, 5, 0);
	/* writing to an unaccepted stream accepts it first */
	assert_int_equal(mh_write(r, "yo", 2), 2);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 0);
	MH_EXPECT(h, YAMUX_DATA, 0, 1, 2);
	MH_EXPECT_NONE(h);
	mh_check(h);
	mh_free(h);

	/* client: the ACK arrives on a Data frame, then ACK|FIN on a WU */
	c = cfg_base(true);
	c.max_syn_inflight = 1;
	h = h_new(&c);
	struct mh_stream *a = mh_open(h, NULL);
	int err = 0;
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_SYN_BACKLOG);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_ACK, 1, 2, "ok"), 0);
	assert_int_equal(h->ev[0].kind, MH_EV_ESTABLISHED);
	assert_int_equal(h->ev[1].kind, MH_EV_DATA);
	assert_memory_equal(a->data, "ok", 2);
	struct mh_stream *b = mh_open(h, NULL); /* the ACK freed the SYN slot */
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK | YAMUX_FIN, 3, 0, NULL), 0);
	assert_int_equal(b->established, 1);
	assert_int_equal(b->fins, 1);
	/* ACK|FIN on a Data frame with payload: established, data, fin */
	h->nev = 0;
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 3, 0, NULL), 0); /* stray ACK: ignored */
	assert_int_equal(h->nev, 0);
	struct mh_stream *d = mh_open(h, NULL);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_ACK | YAMUX_FIN, 5, 1, "z"), 0);
	assert_int_equal(h->ev[0].kind, MH_EV_ESTABLISHED);
	assert_int_equal(h->ev[1].kind, MH_EV_DATA);
	assert_int_equal(h->ev[2].kind, MH_EV_FIN);
	assert_int_equal(d->len, 1);
	mh_free(h);
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
		struct mh *h = h_new(&c);
		assert_int_equal(mh_feed(h, in, k), 0);
		assert_int_equal(mh_feed(h, in + k, n - k), 0);
		struct mh_stream *r = mh_rec_by_id(h, 1);
		assert_int_equal(r->len, 350);
		assert_memory_equal(r->data, pay, 350);
		assert_int_equal(r->fins, 1);
		assert_int_equal(h->ev[h->nev - 1].kind, MH_EV_FIN); /* after all data */
		/* a split inside a payload delivers it in two pieces */
		int datas = mh_count_ev(h, MH_EV_DATA, 1);
		bool in_p1 = k > 24 && k < 324, in_p2 = k > 336 && k < 386;
		assert_int_equal(datas, 2 + (in_p1 || in_p2));
		MH_EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 77);
		MH_EXPECT_NONE(h);
		assert_int_equal(mux_buffered_bytes(h->m), 350);
		mh_check(h);
		mh_free(h);
	}
	/* one byte at a time */
	struct mh *h = h_new(&c);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(mh_feed(h, in + i, 1), 0);
	struct mh_stream *r = mh_rec_by_id(h, 1);
	assert_int_equal(r->len, 350);
	assert_memory_equal(r->data, pay, 350);
	assert_int_equal(mh_count_ev(h, MH_EV_DATA, 1), 350);
	assert_int_equal(r->fins, 1);
	MH_EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 77);
	/* empty input is fine */
	assert_int_equal(mh_feed(h, in, 0), 0);
	mh_free(h);
	free(pay);
}

/* ---- protocol errors ---- */

static void expect_closed(struct mh *h, int err)
{
	assert_true(mux_is_closed(h->m));
	assert_int_equal(mux_error(h->m), err);
	assert_int_equal(h->closed_calls, 1);
	assert_int_equal(h->closed_err, err);
	assert_int_equal(h->ev[h->nev - 1].kind, MH_EV_CLOSED); /* session_closed comes last */
	/* a dead session refuses everything */
	assert_int_equal(mh_feed_frame(h, YAMUX_PING, YAMUX_SYN, 0, 1, NULL), -err);
	assert_int_equal(mh_tick(h, h->now + 1), -err);
	assert_int_equal(mux_next_timeout(h->m, h->now), -1);
	int e = 0;
	assert_null(mux_stream_open(h->m, &e));
	assert_int_equal(e, -MUX_E_SHUTDOWN);
	assert_int_equal(mux_go_away(h->m, 0), -MUX_E_SHUTDOWN);
	assert_int_equal(mux_ping(h->m, h->now), -MUX_E_SHUTDOWN);
	assert_int_equal(h->closed_calls, 1);
}

static void release_all(struct mh *h)
{
	for (int i = 0; i < h->nrec; i++)
		if (h->rec[i].s)
			mh_release(&h->rec[i]);
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
	struct mh *h = h_new(&c);
	struct mh_stream *r = peer_opens(h, 1, false);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 200 * KiB, NULL), 0);
	assert_int_equal(r->len, 200 * KiB);
	/* 56 KiB left; 56 KiB + 1 with a few payload bytes in the same read */
	uint8_t b[YAMUX_HDR_LEN + 5] = {0};
	yamux_hdr_encode(b, YAMUX_DATA, 0, 1, 56 * KiB + 1);
	assert_int_equal(mh_feed(h, b, sizeof(b)), -MUX_E_RECV_WINDOW);
	assert_int_equal(r->len, 200 * KiB); /* nothing of it delivered */
	assert_int_equal(h->out_len - h->out_pos, YAMUX_HDR_LEN);
	assert_memory_equal(h->out + h->out_pos, goaway1, YAMUX_HDR_LEN);
	mh_drain(h);
	assert_int_equal(r->resets, 1);
	assert_int_equal(r->reset_err, MUX_E_RECV_WINDOW);
	expect_closed(h, MUX_E_RECV_WINDOW);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_write(r, "x", 1), -MUX_E_SHUTDOWN);
	assert_int_equal(mux_stream_send_window(r->s), 0);
	assert_int_equal(mux_stream_accept(r->s), -MUX_E_RESET);
	assert_int_equal(mux_stream_close(r->s), 0);
	assert_int_equal(mux_stream_reset(r->s), 0);
	MH_EXPECT_NONE(h);
	mh_release(r);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	mh_free(h);

	/* a single frame above 256 KiB on a fresh stream (SYN on the same frame) */
	h = h_new(&c);
	assert_int_equal(mh_feed_hdr(h, YAMUX_DATA, YAMUX_SYN, 1, 256 * KiB + 1), -MUX_E_RECV_WINDOW);
	MH_EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	expect_closed(h, MUX_E_RECV_WINDOW);
	release_all(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	mh_free(h);

	/* exactly the window is fine, one more byte is not */
	h = h_new(&c);
	peer_opens(h, 1, true);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 256 * KiB, NULL), 0);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 1, NULL), -MUX_E_RECV_WINDOW);
	MH_EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	mh_free(h);
}

static void test_bad_version_and_type(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	for (int which = 0; which < 4; which++) {
		struct mh *h = h_new(&c);
		struct mh_stream *r = peer_opens(h, 1, true);
		struct mh_stream *q = peer_opens(h, 3, false);
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
		assert_int_equal(mh_feed(h, b, 5), 0);
		assert_int_equal(mh_feed(h, b + 5, 7), -err);
		MH_EXPECT_NONE(h); /* no GoAway, no pong */
		assert_int_equal(r->reset_err, err);
		assert_int_equal(q->reset_err, err);
		expect_closed(h, err);
		release_all(h);
		assert_int_equal(mux_num_streams(h->m), 0);
		MH_EXPECT_NONE(h);
		mh_free(h);
	}
}

static void test_duplicate_syn(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct mh *h = h_new(&c);
	struct mh_stream *r = peer_opens(h, 1, true);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 0, NULL), -MUX_E_DUP_STREAM);
	MH_EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	MH_EXPECT_NONE(h);
	assert_int_equal(r->reset_err, MUX_E_DUP_STREAM);
	assert_int_equal(mh_count_ev(h, MH_EV_OPEN, 1), 1);
	expect_closed(h, MUX_E_DUP_STREAM);
	mh_free(h);

	/* the peer SYNs an id we opened (parity is not checked, liveness is) */
	h = h_new(&c);
	struct mh_stream *mine = mh_open(h, NULL);
	mh_drain(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_SYN, mine->id, 4, "abcd"), -MUX_E_DUP_STREAM);
	MH_EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	assert_int_equal(mine->len, 0);
	expect_closed(h, MUX_E_DUP_STREAM);
	mh_free(h);
}

static void test_fin_twice(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct mh *h = h_new(&c);
	struct mh_stream *r = peer_opens(h, 1, true);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0, NULL), 0);
	assert_int_equal(r->fins, 1);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0, NULL), -MUX_E_UNEXPECTED_FLAG);
	MH_EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	assert_int_equal(r->fins, 1);
	assert_int_equal(r->reset_err, MUX_E_UNEXPECTED_FLAG);
	expect_closed(h, MUX_E_UNEXPECTED_FLAG);
	mh_free(h);

	/* second FIN on a Data frame */
	h = h_new(&c);
	r = peer_opens(h, 1, true);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_FIN, 1, 1, "a"), 0);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_FIN, 1, 1, "b"), -MUX_E_UNEXPECTED_FLAG);
	MH_EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	assert_int_equal(r->len, 1);
	mh_free(h);
}

static void test_remote_goaway_normal(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	struct mh *h = h_new(&c);
	h->auto_consume = true;
	struct mh_stream *a = mh_open(h, NULL);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 0, NULL), 0);
	mh_drain(h);
	assert_false(mux_remote_go_away(h->m));
	assert_int_equal(mh_feed_frame(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_NORMAL, NULL), 0);
	assert_true(mux_remote_go_away(h->m));
	assert_int_equal(mh_count_ev(h, MH_EV_GOAWAY, 0), 1);
	assert_false(mux_is_closed(h->m));
	int err = 0;
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_REMOTE_GOAWAY);
	MH_EXPECT_NONE(h);
	/* the existing stream carries data both ways */
	assert_int_equal(mh_write(a, "out", 3), 3);
	MH_EXPECT(h, YAMUX_DATA, 0, 1, 3);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 2, "in"), 0);
	assert_int_equal(a->len, 2);
	/* the peer may still open streams towards us */
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 2, 0, NULL), 0);
	assert_int_equal(mh_count_ev(h, MH_EV_OPEN, 2), 1);
	/* a second GoAway 0 is not reported again */
	assert_int_equal(mh_feed_frame(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_NORMAL, NULL), 0);
	assert_int_equal(mh_count_ev(h, MH_EV_GOAWAY, 0), 1);
	assert_int_equal(mux_stream_close(a->s), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0);
	mh_free(h);
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
		struct mh *h = h_new(&c);
		struct mh_stream *a = mh_open(h, NULL), *b = mh_open(h, NULL);
		mh_drain(h);
		struct mh_stream *in = peer_opens(h, 2, true);
		mh_drain(h);
		assert_int_equal(mh_feed_frame(h, YAMUX_GO_AWAY, 0, 0, cases[i].code, NULL), -cases[i].err);
		MH_EXPECT_NONE(h); /* we send nothing back */
		assert_int_equal(a->reset_err, cases[i].err);
		assert_int_equal(b->reset_err, cases[i].err);
		assert_int_equal(in->reset_err, cases[i].err);
		assert_int_equal(mh_count_ev(h, MH_EV_RESET, 1) + mh_count_ev(h, MH_EV_RESET, 3) + mh_count_ev(h, MH_EV_RESET, 2), 3);
		expect_closed(h, cases[i].err);
		assert_int_equal(mux_num_streams(h->m), 3); /* held until released */
		release_all(h);
		assert_int_equal(mux_num_streams(h->m), 0);
		MH_EXPECT_NONE(h);
		mh_free(h);
	}
}

static void test_local_goaway_normal(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct mh *h = h_new(&c);
	h->auto_consume = true;
	struct mh_stream *r = peer_opens(h, 1, true);
	assert_int_equal(mux_go_away(h->m, MUX_GOAWAY_NORMAL), 0);
	static const uint8_t ga0[YAMUX_HDR_LEN] = {
		0x00,			/* version 0 */
		0x03,			/* GoAway */
		0x00, 0x00,		/* no flags */
		0x00, 0x00, 0x00, 0x00, /* session */
		0x00, 0x00, 0x00, 0x00, /* code 0 */
	};
	assert_memory_equal(h->out + h->out_pos, ga0, YAMUX_HDR_LEN);
	MH_EXPECT(h, YAMUX_GO_AWAY, 0, 0, 0);
	assert_false(mux_is_closed(h->m));
	/* inbound SYNs are refused with WU|RST */
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, 0, NULL), 0);
	static const uint8_t rst3[YAMUX_HDR_LEN] = {
		0x00,			/* version 0 */
		0x01,			/* WindowUpdate */
		0x00, 0x08,		/* RST */
		0x00, 0x00, 0x00, 0x03, /* stream 3 */
		0x00, 0x00, 0x00, 0x00, /* delta 0 */
	};
	assert_memory_equal(h->out + h->out_pos, rst3, YAMUX_HDR_LEN);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	assert_int_equal(mh_count_ev(h, MH_EV_OPEN, 3), 0);
	/* a refused Data|SYN's payload is skipped and the next frame parsed */
	uint8_t b[12 + 3 + 12];
	yamux_hdr_encode(b, YAMUX_DATA, YAMUX_SYN, 5, 3);
	memcpy(b + 12, "abc", 3);
	yamux_hdr_encode(b + 15, YAMUX_PING, YAMUX_SYN, 0, 5);
	assert_int_equal(mh_feed(h, b, sizeof(b)), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 5, 0);
	MH_EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 5);
	assert_int_equal(mux_num_streams(h->m), 1);
	/* the existing stream goes on */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 4, "more"), 0);
	assert_int_equal(r->len, 4);
	assert_int_equal(mh_write(r, "back", 4), 4);
	MH_EXPECT(h, YAMUX_DATA, 0, 1, 4);
	/* nor do we open any (pinned yamux would; this engine is going away) */
	int err = 0;
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_LOCAL_GOAWAY);
	MH_EXPECT_NONE(h);
	mh_free(h);
}

static void test_local_goaway_fatal(void **state)
{
	(void)state;
	for (uint32_t code = 1; code <= 2; code++) {
		struct mux_config c = cfg_base(false);
		struct mh *h = h_new(&c);
		struct mh_stream *r = peer_opens(h, 1, true);
		assert_int_equal(mux_go_away(h->m, code), 0);
		MH_EXPECT(h, YAMUX_GO_AWAY, 0, 0, code);
		MH_EXPECT_NONE(h);
		assert_int_equal(r->reset_err, MUX_E_LOCAL);
		expect_closed(h, MUX_E_LOCAL);
		mh_free(h);
	}
	/* mux_close: nothing sent; input EOF */
	struct mux_config c = cfg_base(false);
	struct mh *h = h_new(&c);
	struct mh_stream *r = peer_opens(h, 1, true);
	mux_input_eof(h->m);
	MH_EXPECT_NONE(h);
	assert_int_equal(r->reset_err, MUX_E_EOF);
	expect_closed(h, MUX_E_EOF);
	mux_close(h->m, MUX_E_LOCAL); /* idempotent */
	assert_int_equal(h->closed_calls, 1);
	mh_free(h);
	h = h_new(&c);
	mux_close(h->m, 0);
	expect_closed(h, MUX_E_LOCAL);
	mh_free(h);
}

static void test_accept_backlog_full(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	c.accept_backlog = 2;
	struct mh *h = h_new(&c);
	peer_opens(h, 1, false);
	peer_opens(h, 3, false);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 5, 0, NULL), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 5, 0);
	assert_int_equal(mh_count_ev(h, MH_EV_OPEN, 5), 0);
	assert_int_equal(mux_num_streams(h->m), 2);
	/* Data for the refused stream is dropped */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 5, 10, NULL), 0);
	MH_EXPECT_NONE(h);
	/* accepting one frees a backlog slot */
	assert_int_equal(mux_stream_accept(mh_rec_by_id(h, 1)->s), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 0);
	peer_opens(h, 7, false);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 9, 0, NULL), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 9, 0);
	/* so does releasing (RST) or closing (ACK|FIN) an unaccepted one */
	mh_release(mh_rec_by_id(h, 3));
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	peer_opens(h, 11, false);
	assert_int_equal(mux_stream_close(mh_rec_by_id(h, 11)->s), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK | YAMUX_FIN, 11, 0);
	peer_opens(h, 13, false);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 4);
	mh_free(h);
}

static void test_max_streams(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	c.max_streams = 2;
	struct mh *h = h_new(&c);
	struct mh_stream *a = peer_opens(h, 1, true);
	struct mh_stream *b = mh_open(h, NULL);
	mh_drain(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, 0, NULL), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	int err = 0;
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_TOO_MANY);
	assert_null(mux_stream_open(h->m, NULL));
	mh_release(a);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	struct mh_stream *d = mh_open(h, NULL);
	assert_int_equal(d->id, b->id + 2);
	/* a lingering stream still counts */
	assert_int_equal(mux_stream_close(d->s), 0);
	mh_release(d);
	mh_drain(h);
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_TOO_MANY);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, d->id, 0, NULL), 0);
	assert_int_equal(mux_num_streams(h->m), 1);
	mh_open(h, NULL);
	mh_free(h);
}

static void test_stream_ids_exhausted(void **state)
{
	(void)state;
	/* The last ids a client may use are 0xfffffffb and 0xfffffffd;
	 * opening past them fails with MUX_E_EXHAUSTED, as yamux's
	 * "streams exhausted", and the session goes on. */
	struct mux_config c = cfg_base(true);
	c.first_stream_id = 0xfffffffbu;
	struct mh *h = h_new(&c);
	struct mh_stream *a = mh_open(h, NULL);
	struct mh_stream *b = mh_open(h, NULL);
	assert_int_equal(a->id, 0xfffffffbu);
	assert_int_equal(b->id, 0xfffffffdu);
	mh_drain(h);
	int err = 0;
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_EXHAUSTED);
	assert_false(mux_is_closed(h->m));
	/* The open streams still work. */
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, a->id, 0, NULL), 0);
	assert_int_equal(mux_num_streams(h->m), 2);
	mh_free(h);
}

static void test_syn_inflight_limit(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.max_syn_inflight = 2;
	struct mh *h = h_new(&c);
	struct mh_stream *a = mh_open(h, NULL);
	struct mh_stream *b = mh_open(h, NULL);
	mh_drain(h);
	int err = 0;
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_SYN_BACKLOG);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, b->id, 0, NULL), 0);
	assert_int_equal(b->established, 1);
	struct mh_stream *d = mh_open(h, NULL);
	assert_int_equal(d->id, 5);
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_SYN_BACKLOG);
	/* a refused open (RST) frees its slot once released */
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, a->id, 0, NULL), 0);
	assert_int_equal(a->reset_err, MUX_E_RESET);
	assert_null(mux_stream_open(h->m, &err));
	mh_release(a);
	mh_open(h, NULL);
	/* releasing an un-ACKed stream (RST) frees it too */
	mh_release(d);
	mh_open(h, NULL);
	assert_null(mux_stream_open(h->m, &err));
	assert_int_equal(err, -MUX_E_SYN_BACKLOG);
	mh_free(h);
}

/* ---- ping and keepalive ---- */

static void test_ping_answered(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct mh *h = h_new(&c);
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
	assert_int_equal(mh_feed(h, ping, sizeof(ping)), 0);
	assert_int_equal(h->out_len, sizeof(pong));
	assert_memory_equal(h->out, pong, sizeof(pong));
	mh_drain(h);
	/* an ACK we never asked for is ignored */
	assert_int_equal(mh_feed_frame(h, YAMUX_PING, YAMUX_ACK, 0, 0xdeadbeefu, NULL), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_count_ev(h, MH_EV_PONG, 0), 0);
	/* pings do not count as streams */
	assert_int_equal(mux_num_streams(h->m), 0);
	mh_free(h);
}

static void test_keepalive(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	c.keepalive_ms = 1000;
	c.ping_timeout_ms = 300;
	struct mh *h = h_new(&c);
	struct mh_stream *r = peer_opens(h, 1, true);
	assert_int_equal(mux_next_timeout(h->m, 0), 1000);
	assert_int_equal(mux_next_timeout(h->m, 400), 600);
	assert_int_equal(mh_tick(h, 999), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_tick(h, 1000), 0);
	struct yamux_hdr hd;
	assert_true(mh_next_frame(h, &hd, NULL));
	assert_int_equal(hd.type, YAMUX_PING);
	assert_int_equal(hd.flags, YAMUX_SYN);
	assert_int_equal(hd.stream_id, 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 1000), 300);
	assert_int_equal(mh_tick(h, 1299), 0);
	MH_EXPECT_NONE(h); /* no second ping while one is outstanding */
	/* inbound bytes (anything: a WU for an unknown stream) postpone it */
	h->now = 1200;
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 99, 5, NULL), 0);
	assert_int_equal(mh_tick(h, 1300), 0);
	assert_int_equal(mh_tick(h, 1499), 0);
	assert_int_equal(mux_next_timeout(h->m, 1499), 1);
	assert_false(mux_is_closed(h->m));
	assert_int_equal(mh_tick(h, 1500), -MUX_E_KEEPALIVE);
	MH_EXPECT_NONE(h); /* no GoAway on keepalive death */
	assert_int_equal(r->reset_err, MUX_E_KEEPALIVE);
	expect_closed(h, MUX_E_KEEPALIVE);
	mh_free(h);
}

static void test_keepalive_pong(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.keepalive_ms = 1000;
	c.ping_timeout_ms = 300;
	struct mh *h = h_new(&c);
	assert_int_equal(mh_tick(h, 1000), 0);
	struct yamux_hdr p1;
	assert_true(mh_next_frame(h, &p1, NULL));
	assert_int_equal(p1.type, YAMUX_PING);
	h->now = 1042;
	assert_int_equal(mh_feed_frame(h, YAMUX_PING, YAMUX_ACK, 0, p1.length, NULL), 0);
	assert_int_equal(mh_count_ev(h, MH_EV_PONG, 0), 1);
	assert_int_equal(h->pong_rtt, 42);
	/* answered: no death at the old deadline, next ping at 2000 */
	assert_int_equal(mh_tick(h, 1300), 0);
	assert_int_equal(mh_tick(h, 1999), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 1999), 1);
	assert_int_equal(mh_tick(h, 2000), 0);
	struct yamux_hdr p2;
	assert_true(mh_next_frame(h, &p2, NULL));
	assert_int_equal(p2.type, YAMUX_PING);
	assert_int_not_equal(p2.length, p1.length);
	/* a stale pong does not count; the peer's own pings are answered */
	h->now = 2100;
	assert_int_equal(mh_feed_frame(h, YAMUX_PING, YAMUX_ACK, 0, p1.length, NULL), 0);
	assert_int_equal(mh_count_ev(h, MH_EV_PONG, 0), 1);
	assert_int_equal(mh_feed_frame(h, YAMUX_PING, YAMUX_SYN, 0, 3, NULL), 0);
	MH_EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 3);
	/* ... and postpone the deadline like any bytes: 2100 + 300 */
	assert_int_equal(mh_tick(h, 2399), 0);
	assert_int_equal(mh_tick(h, 2400), -MUX_E_KEEPALIVE);
	expect_closed(h, MUX_E_KEEPALIVE);
	mh_free(h);

	/* keepalive off: no timer at all, but a manual ping still times out */
	c.keepalive_ms = 0;
	h = h_new(&c);
	assert_int_equal(mux_next_timeout(h->m, 0), -1);
	assert_int_equal(mh_tick(h, 100000), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_ping(h->m, 100000), 0);
	assert_true(mh_next_frame(h, &p1, NULL));
	assert_int_equal(mux_next_timeout(h->m, 100000), 300);
	assert_int_equal(mh_tick(h, 100300), -MUX_E_KEEPALIVE);
	mh_free(h);
}

/* ---- flow control ---- */

static void test_window_update_rule(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct mh *h = h_new(&c);
	struct mh_stream *r = peer_opens(h, 1, true); /* 256 KiB window, half = 128 KiB */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 100 * KiB, NULL), 0);
	mh_check(h);
	mh_consume(r, 100 * KiB);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 28 * KiB - 1, NULL), 0);
	mh_consume(r, 28 * KiB - 1);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 1, NULL), 0);
	MH_EXPECT_NONE(h); /* delivered is not consumed */
	mh_consume(r, 1);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 128 * KiB);
	MH_EXPECT_NONE(h);
	mh_check(h);

	/* deferred consumption: only consumed bytes are credited */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 200 * KiB, NULL), 0);
	mh_consume(r, 100 * KiB);
	MH_EXPECT_NONE(h);
	mh_check(h);
	mh_consume(r, 50 * KiB);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 150 * KiB);
	mh_consume(r, 50 * KiB);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	/* the peer now has 256 - 50 KiB: exactly that much fits */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 206 * KiB, NULL), 0);
	mh_consume(r, 206 * KiB);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 256 * KiB);

	/* a frame still arriving is not credited before it is delivered */
	assert_int_equal(mh_feed_hdr(h, YAMUX_DATA, 0, 1, 200 * KiB), 0);
	uint8_t *p = pattern(200 * KiB, 3);
	assert_int_equal(mh_feed(h, p, 150 * KiB), 0);
	mh_consume(r, 150 * KiB);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 150 * KiB);
	assert_int_equal(mh_feed(h, p + 150 * KiB, 50 * KiB), 0);
	mh_consume(r, 50 * KiB);
	MH_EXPECT_NONE(h);
	free(p);
	mh_check(h);
	mh_free(h);

	/* a larger window: half of 1 MiB */
	c.recv_window = 1 * MiB;
	h = h_new(&c);
	r = peer_opens(h, 1, true);
	h->auto_consume = true;
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 511 * KiB, NULL), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 1 * KiB, NULL), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 512 * KiB);
	/* consumed inside stream_data while the frame is still arriving */
	assert_int_equal(mh_feed_hdr(h, YAMUX_DATA, 0, 1, 1 * MiB), 0);
	p = pattern(1 * MiB, 4);
	assert_int_equal(mh_feed(h, p, 100 * KiB), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_feed(h, p + 100 * KiB, 500 * KiB), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 600 * KiB);
	assert_int_equal(mh_feed(h, p + 600 * KiB, 424 * KiB), 0);
	MH_EXPECT_NONE(h);
	free(p);
	/* no credit is returned after the peer's FIN */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_FIN, 1, 100 * KiB, NULL), 0);
	MH_EXPECT_NONE(h);
	mh_free(h);
	(void)r;
}

/* Data that arrives before the application accepts must not be forgotten
 * when accept() enlarges the window. */
static void test_accept_after_data_keeps_window(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	c.recv_window = 1 * MiB;
	struct mh *h = h_new(&c);
	struct mh_stream *r = peer_opens(h, 1, false);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 100 * KiB, NULL), 0);
	assert_int_equal(r->len, 100 * KiB);
	assert_int_equal(mux_stream_accept(r->s), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB);
	/* the peer sees 156 KiB + 768 KiB of credit */
	mh_consume(r, 50 * KiB);
	MH_EXPECT_NONE(h);
	mh_consume(r, 50 * KiB);
	MH_EXPECT_NONE(h);
	mh_check(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 924 * KiB, NULL), 0);
	assert_true(mux_buffered_bytes(h->m) <= mux_stream_recv_max(r->s));
	mh_consume(r, 924 * KiB);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 1024 * KiB);
	MH_EXPECT_NONE(h);
	/* and exactly that: 1 MiB fits, one more byte does not */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 1 * MiB, NULL), 0);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 1, NULL), -MUX_E_RECV_WINDOW);
	mh_free(h);
}

/* ---- deferred ACK (ack_delay_ms) ---- */

static struct mh *h_deferred(void)
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
	struct mh *h = h_deferred();
	struct mh_stream *r = peer_opens(h, 1, false);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 64, NULL), 0);
	assert_int_equal(mux_stream_accept(r->s), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 0), 20);
	mh_consume(r, 64);
	MH_EXPECT_NONE(h); /* no window update either: the ACK will carry it */
	assert_int_equal(mh_write(r, "pong", 4), 4);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB + 64);
	MH_EXPECT(h, YAMUX_DATA, 0, 1, 4);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 0), -1);
	assert_int_equal(mh_tick(h, 100), 0);
	MH_EXPECT_NONE(h);
	/* the peer has its full window: 1 MiB fits, one more byte does not */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 1 * MiB, NULL), 0);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 1, NULL), -MUX_E_RECV_WINDOW);
	mh_free(h);
}

/* Nothing to say on the stream: the ACK goes when the delay is up. */
static void test_deferred_ack_timer(void **state)
{
	(void)state;
	struct mh *h = h_deferred();
	assert_int_equal(mh_tick(h, 1000), 0);
	struct mh_stream *r = peer_opens(h, 1, false);
	struct mh_stream *r3 = peer_opens(h, 3, false);
	assert_int_equal(mux_stream_accept(r->s), 0);
	assert_int_equal(mh_tick(h, 1005), 0);
	assert_int_equal(mux_stream_accept(r3->s), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 1005), 15);
	assert_int_equal(mh_tick(h, 1019), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_tick(h, 1020), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 1020), 5);
	assert_int_equal(mh_tick(h, 1030), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 3, 768 * KiB);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 1030), -1);
	mh_free(h);
}

/* A peer that only sends learns of the big window before its initial
 * 256 KiB run out: the ACK goes once half of it is used. */
static void test_deferred_ack_credit_low(void **state)
{
	(void)state;
	struct mh *h = h_deferred();
	struct mh_stream *r = peer_opens(h, 1, false);
	assert_int_equal(mux_stream_accept(r->s), 0);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 100 * KiB, NULL), 0);
	mh_consume(r, 100 * KiB);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 30 * KiB, NULL), 0);
	/* 126 KiB of credit left: extra window + the 100 KiB consumed */
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB + 100 * KiB);
	MH_EXPECT_NONE(h);
	mh_consume(r, 30 * KiB);
	mh_check(h);
	/* credit now 126 + 868 KiB; 994 KiB fits, one byte more does not */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 994 * KiB, NULL), 0);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 1, NULL), -MUX_E_RECV_WINDOW);
	mh_free(h);
}

/* FIN first: the ACK goes just before it. RST, or release without a FIN
 * (which resets): no ACK at all, and none later. */
static void test_deferred_ack_close_reset_release(void **state)
{
	(void)state;
	struct mh *h = h_deferred();
	struct mh_stream *a = peer_opens(h, 1, false);
	struct mh_stream *b = peer_opens(h, 3, false);
	struct mh_stream *c = peer_opens(h, 5, false);
	assert_int_equal(mux_stream_accept(a->s), 0);
	assert_int_equal(mux_stream_accept(b->s), 0);
	assert_int_equal(mux_stream_accept(c->s), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_stream_close(a->s), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0);
	assert_int_equal(mux_stream_reset(b->s), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	mh_release(c);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 5, 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_next_timeout(h->m, 0), -1);
	assert_int_equal(mh_tick(h, 1000), 0);
	MH_EXPECT_NONE(h);
	mh_release(a);
	mh_release(b);
	assert_int_equal(mux_num_streams(h->m), 1); /* a lingers for the peer's FIN */
	mh_free(h);
}

/* A peer FIN before the accept: nothing more will come, ACK at once. */
static void test_deferred_ack_after_remote_fin(void **state)
{
	(void)state;
	struct mh *h = h_deferred();
	struct mh_stream *r = peer_opens(h, 1, false);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_FIN, 1, 10, NULL), 0);
	assert_int_equal(mux_stream_accept(r->s), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 768 * KiB);
	MH_EXPECT_NONE(h);
	mh_free(h);
}

static void test_send_window_exhaustion(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.max_frame = 64 * KiB;
	struct mh *h = h_new(&c);
	struct mh_stream *r = mh_open(h, NULL);
	mh_drain(h);
	uint8_t *p = pattern(300 * KiB, 5);
	assert_int_equal(mh_write(r, p, 300 * KiB), 256 * KiB);
	for (int i = 0; i < 4; i++) {
		const uint8_t *pl = MH_EXPECT(h, YAMUX_DATA, 0, 1, 64 * KiB);
		assert_memory_equal(pl, p + (size_t)i * 64 * KiB, 64 * KiB);
	}
	MH_EXPECT_NONE(h);
	/* zero copy: the payload iovecs point into the caller's buffer */
	assert_int_equal(h->last_iovcnt, 8);
	assert_ptr_equal(h->last_iov[1].iov_base, p);
	assert_ptr_equal(h->last_iov[7].iov_base, p + 192 * KiB);
	assert_int_equal(mux_stream_send_window(r->s), 0);
	assert_int_equal(mh_write(r, p + 256 * KiB, 44 * KiB), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 10000, NULL), 0);
	assert_int_equal(r->writable, 1);
	assert_int_equal(mux_stream_send_window(r->s), 10000);
	assert_int_equal(mh_write(r, p + 256 * KiB, 44 * KiB), 10000);
	MH_EXPECT(h, YAMUX_DATA, 0, 1, 10000);
	/* 0 -> 5 wakes the writer again; 5 -> 10 does not */
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 5, NULL), 0);
	assert_int_equal(r->writable, 2);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 5, NULL), 0);
	assert_int_equal(r->writable, 2);
	/* a write that fits asks for nothing */
	assert_int_equal(mh_write(r, p, 10), 10);
	MH_EXPECT(h, YAMUX_DATA, 0, 1, 10);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 5, NULL), 0);
	assert_int_equal(r->writable, 2);
	/* the peer's ACK delta grows the send window */
	struct mh_stream *s2 = mh_open(h, NULL);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, s2->id, 1 * MiB, NULL), 0);
	assert_int_equal(mux_stream_send_window(s2->s), MUX_INITIAL_WINDOW + 1 * MiB);
	/* the window saturates instead of wrapping */
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, 0, s2->id, 0xffffffffu, NULL), 0);
	assert_int_equal(mux_stream_send_window(s2->s), 0xffffffffu);
	/* after our FIN, no writable event */
	assert_int_equal(mh_write(r, p, 100), 5);
	assert_int_equal(mux_stream_close(r->s), 0);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 5, NULL), 0);
	assert_int_equal(r->writable, 2);
	free(p);
	mh_free(h);
}

static void test_write_iovecs(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.max_frame = 16;
	struct mh *h = h_new(&c);
	struct mh_stream *r = mh_open(h, NULL);
	mh_drain(h);
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
	const uint8_t *pl = MH_EXPECT(h, YAMUX_DATA, 0, 1, 16);
	assert_memory_equal(pl, "aaaaaaaaaadddddd", 16);
	MH_EXPECT(h, YAMUX_DATA, 0, 1, 14);
	MH_EXPECT_NONE(h);
	/* many frames: more than one emit batch */
	uint8_t *big = pattern(1000, 9);
	struct iovec one = {big, 1000};
	assert_int_equal(mux_stream_write(r->s, &one, 1), 1000);
	for (int i = 0; i < 62; i++)
		MH_EXPECT(h, YAMUX_DATA, 0, 1, 16);
	MH_EXPECT(h, YAMUX_DATA, 0, 1, 8);
	MH_EXPECT_NONE(h);
	free(big);
	/* bad iovcnt; empty write */
	assert_int_equal(mux_stream_write(r->s, iov, MUX_MAX_IOV + 1), -MUX_E_INVAL);
	assert_int_equal(mux_stream_write(r->s, iov, -1), -MUX_E_INVAL);
	assert_int_equal(mux_stream_write(r->s, iov, 0), 0);
	MH_EXPECT_NONE(h);
	mh_free(h);
}

/* A writer that sizes its writes to the window fills it exactly: no event
 * unless it asks with mux_stream_want_writable(). */
static void test_want_writable(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	struct mh *h = h_new(&c);
	struct mh_stream *r = mh_open(h, NULL);
	uint8_t *p = pattern(256 * KiB, 6);
	mux_stream_want_writable(r->s); /* window open: no-op */
	assert_int_equal(mh_write(r, p, 256 * KiB), 256 * KiB);
	assert_int_equal(mux_stream_send_window(r->s), 0);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 100, NULL), 0);
	assert_int_equal(r->writable, 0); /* nobody asked */
	assert_int_equal(mh_write(r, p, 100), 100);
	mux_stream_want_writable(r->s);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 50, NULL), 0);
	assert_int_equal(r->writable, 1);
	/* once reported, the request is spent */
	assert_int_equal(mh_write(r, p, 50), 50);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, 0, 1, 50, NULL), 0);
	assert_int_equal(r->writable, 1);
	free(p);
	mh_free(h);
}

/* ---- close, release, reset ---- */

static void test_half_close_local_first(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	struct mh *h = h_new(&c);
	struct mh_stream *r = mh_open(h, NULL);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 0, NULL), 0);
	mh_drain(h);
	assert_int_equal(mux_stream_close(r->s), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0);
	assert_true(mux_stream_local_closed(r->s));
	assert_int_equal(mux_stream_close(r->s), 0); /* twice: nothing more */
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_write(r, "x", 1), -MUX_E_STREAM_CLOSED);
	assert_int_equal(mux_stream_send_window(r->s), 0);
	/* reading goes on */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 3, "abc"), 0);
	assert_int_equal(r->len, 3);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0, NULL), 0);
	assert_int_equal(r->fins, 1);
	assert_true(mux_stream_remote_closed(r->s));
	assert_int_equal(mux_num_streams(h->m), 1); /* held */
	mh_release(r);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	mh_free(h);
}

static void test_half_close_remote_first(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct mh *h = h_new(&c);
	struct mh_stream *r = peer_opens(h, 1, true);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_FIN, 1, 2, "ab"), 0);
	assert_int_equal(r->fins, 1);
	/* we may still write */
	assert_int_equal(mh_write(r, "xyz", 3), 3);
	MH_EXPECT(h, YAMUX_DATA, 0, 1, 3);
	assert_int_equal(mux_stream_close(r->s), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0);
	assert_int_equal(mux_num_streams(h->m), 1);
	mh_release(r);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	/* the id is free again: a new SYN for it is not a duplicate */
	peer_opens(h, 1, true);
	assert_false(mux_is_closed(h->m));
	mh_free(h);
}

static void test_release_before_fin_sends_rst(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct mh *h = h_new(&c);
	struct mh_stream *r = peer_opens(h, 1, true);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 1000, NULL), 0);
	assert_int_equal(mux_buffered_bytes(h->m), 1000);
	mh_release(r);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	/* late data for it is discarded, the next frame still parsed */
	uint8_t b[12 + 4 + 12];
	yamux_hdr_encode(b, YAMUX_DATA, 0, 1, 4);
	memcpy(b + 12, "late", 4);
	yamux_hdr_encode(b + 16, YAMUX_PING, YAMUX_SYN, 0, 1);
	assert_int_equal(mh_feed(h, b, sizeof(b)), 0);
	MH_EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 1);
	/* an unaccepted stream released: RST as well */
	r = peer_opens(h, 3, false);
	mh_release(r);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	/* an opened, un-ACKed stream too */
	struct mh_stream *o = mh_open(h, NULL);
	mh_release(o);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, o->id, 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, o->id, 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	mh_free(h);
}

static void test_release_after_fin_lingers(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.linger_ms = 5000;
	struct mh *h = h_new(&c);
	struct mh_stream *r = mh_open(h, NULL);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 0, NULL), 0);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 100, NULL), 0); /* unconsumed */
	assert_int_equal(mux_stream_close(r->s), 0);
	mh_drain(h);
	assert_int_equal(mh_tick(h, 100), 0);
	mh_release(r);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 1);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	assert_int_equal(mux_next_timeout(h->m, 100), 5000);
	/* its data is discarded and credited */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 200 * KiB, NULL), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 200 * KiB + 100);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	assert_int_equal(h->nev, 2); /* established, data(100): nothing since */
	assert_int_equal(mh_tick(h, 5099), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_tick(h, 5100), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(mux_next_timeout(h->m, 5100), -1);
	/* a late FIN for it is ignored */
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0, NULL), 0);
	MH_EXPECT_NONE(h);

	/* the peer's FIN during the linger frees it without RST */
	struct mh_stream *a = mh_open(h, NULL), *b = mh_open(h, NULL);
	assert_int_equal(mux_stream_close(a->s), 0);
	assert_int_equal(mux_stream_close(b->s), 0);
	mh_release(a);
	assert_int_equal(mh_tick(h, 6000), 0);
	mh_release(b);
	mh_drain(h);
	assert_int_equal(mux_num_streams(h->m), 2);
	assert_int_equal(mux_next_timeout(h->m, 6000), 4100); /* a's deadline first */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_ACK | YAMUX_FIN, a->id, 5, NULL), 0);
	assert_int_equal(mux_num_streams(h->m), 1);
	assert_int_equal(mux_next_timeout(h->m, 6000), 5000);
	/* ... and so does its RST */
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, b->id, 0, NULL), 0);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(mh_tick(h, 20000), 0);
	MH_EXPECT_NONE(h);
	mh_free(h);
}

static void test_remote_rst(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct mh *h = h_new(&c);
	struct mh_stream *r = peer_opens(h, 1, true);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 10, NULL), 0);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0, NULL), 0);
	assert_int_equal(r->resets, 1);
	assert_int_equal(r->reset_err, MUX_E_RESET);
	assert_int_equal(mh_write(r, "x", 1), -MUX_E_RESET);
	assert_int_equal(mux_stream_send_window(r->s), 0);
	assert_int_equal(mux_stream_close(r->s), 0);
	assert_int_equal(mux_stream_reset(r->s), 0);
	mh_consume(r, 10);
	MH_EXPECT_NONE(h);
	/* frames for it are dropped; the one after is parsed */
	uint8_t b[12 + 3 + 12];
	yamux_hdr_encode(b, YAMUX_DATA, YAMUX_FIN, 1, 3);
	memcpy(b + 12, "xyz", 3);
	yamux_hdr_encode(b + 15, YAMUX_PING, YAMUX_SYN, 0, 2);
	assert_int_equal(mh_feed(h, b, sizeof(b)), 0);
	MH_EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 2);
	assert_int_equal(r->len, 10);
	assert_int_equal(r->fins, 0);
	mh_release(r);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);

	/* RST on a Data frame: its payload is skipped */
	r = peer_opens(h, 3, true);
	yamux_hdr_encode(b, YAMUX_DATA, YAMUX_RST, 3, 3);
	assert_int_equal(mh_feed(h, b, sizeof(b)), 0);
	assert_int_equal(r->len, 0);
	assert_int_equal(r->reset_err, MUX_E_RESET);
	MH_EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 2);

	/* our own reset */
	struct mh_stream *q = peer_opens(h, 5, true);
	assert_int_equal(mux_stream_reset(q->s), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 5, 0);
	assert_int_equal(mux_stream_reset(q->s), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_write(q, "x", 1), -MUX_E_RESET);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 5, 3, NULL), 0);
	assert_int_equal(q->len, 0);
	assert_int_equal(q->resets, 0); /* no event for our own reset */
	mh_release(q);
	mh_release(r);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	mh_free(h);
}

static void test_unknown_stream_discarded(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	struct mh *h = h_new(&c);
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
		struct mh *hh = h_new(&c);
		assert_int_equal(mh_feed(hh, b, k), 0);
		assert_int_equal(mh_feed(hh, b + k, n - k), 0);
		MH_EXPECT(hh, YAMUX_PING, YAMUX_ACK, 0, 6);
		MH_EXPECT_NONE(hh);
		assert_int_equal(hh->nev, 0);
		assert_int_equal(mux_num_streams(hh->m), 0);
		mh_free(hh);
	}
	mh_free(h);
}

static void test_session_cap(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	c.recv_window = 1 * MiB;
	c.session_recv_cap = 1536 * KiB; /* two streams' worth of extra window */
	struct mh *h = h_new(&c);
	struct mh_stream *a = mh_open(h, NULL), *b = mh_open(h, NULL), *d = mh_open(h, NULL);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 768 * KiB);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, 768 * KiB);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 5, 0); /* cap used up */
	assert_int_equal(mux_stream_recv_max(a->s), 1 * MiB);
	assert_int_equal(mux_stream_recv_max(b->s), 1 * MiB);
	assert_int_equal(mux_stream_recv_max(d->s), 256 * KiB);
	/* inbound streams draw on the same budget */
	struct mh_stream *in = peer_opens(h, 2, true);
	assert_int_equal(mux_stream_recv_max(in->s), 256 * KiB);
	/* freeing a stream gives its reservation back */
	mh_release(a);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	struct mh_stream *e = mh_open(h, NULL);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, e->id, 768 * KiB);
	/* a lingering stream keeps it until it is gone */
	assert_int_equal(mux_stream_close(b->s), 0);
	mh_release(b);
	mh_drain(h);
	struct mh_stream *f = mh_open(h, NULL);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, f->id, 0);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK | YAMUX_FIN, 3, 0, NULL), 0);
	struct mh_stream *g = mh_open(h, NULL);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, g->id, 768 * KiB);
	/* a partial remainder is granted as such */
	mh_free(h);
	c.session_recv_cap = 1 * MiB;
	h = h_new(&c);
	mh_open(h, NULL);
	struct mh_stream *p = mh_open(h, NULL);
	assert_int_equal(mux_stream_recv_max(p->s), 512 * KiB);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 768 * KiB);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, 256 * KiB);
	/* a stream reset by the session keeps its reservation until released */
	mux_close(h->m, MUX_E_EOF);
	release_all(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	mh_free(h);
}

/* ---- callbacks that re-enter the engine (run under ASan) ---- */

static void hook_release_on(struct mh *h, const struct mh_event *ev, struct mh_stream *r)
{
	if (r && ev->kind == h->hook_state && r->s) {
		mux_stream_release(r->s);
		r->s = NULL;
	}
}

static void test_release_inside_callbacks(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);

	/* release in stream_open: RST; the Data|SYN payload is skipped */
	struct mh *h = h_new(&c);
	h->on_event = hook_release_on;
	h->hook_state = MH_EV_OPEN;
	uint8_t b[12 + 100 + 12];
	yamux_hdr_encode(b, YAMUX_DATA, YAMUX_SYN, 1, 100);
	memset(b + 12, 0x11, 100);
	yamux_hdr_encode(b + 112, YAMUX_PING, YAMUX_SYN, 0, 8);
	assert_int_equal(mh_feed(h, b, sizeof(b)), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	MH_EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 8);
	assert_int_equal(mh_count_ev(h, MH_EV_DATA, 1), 0);
	assert_int_equal(mux_num_streams(h->m), 0);
	mh_free(h);

	/* release in stream_data on the first piece: the rest is dropped */
	h = h_new(&c);
	h->on_event = hook_release_on;
	h->hook_state = MH_EV_DATA;
	yamux_hdr_encode(b, YAMUX_DATA, YAMUX_SYN | YAMUX_FIN, 1, 100);
	assert_int_equal(mh_feed(h, b, 40), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	assert_int_equal(mh_feed(h, b + 40, sizeof(b) - 40), 0);
	MH_EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 8);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_count_ev(h, MH_EV_DATA, 1), 1);
	assert_int_equal(mh_count_ev(h, MH_EV_FIN, 1), 0);
	assert_int_equal(mux_num_streams(h->m), 0);
	assert_int_equal(mux_buffered_bytes(h->m), 0);
	mh_free(h);

	/* release in stream_fin after our FIN: freed at once, no RST */
	h = h_new(&c);
	h->on_event = hook_release_on;
	h->hook_state = MH_EV_FIN;
	struct mh_stream *r = peer_opens(h, 1, true);
	assert_int_equal(mux_stream_close(r->s), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_FIN, 1, 5, NULL), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	/* and before our FIN: RST */
	r = peer_opens(h, 3, true);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 3, 0, NULL), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	assert_int_equal(mux_num_streams(h->m), 0);
	mh_free(h);

	/* release in stream_established, ACK on a Data frame with payload */
	c.client = true;
	h = h_new(&c);
	h->on_event = hook_release_on;
	h->hook_state = MH_EV_ESTABLISHED;
	mh_open(h, NULL);
	mh_drain(h);
	yamux_hdr_encode(b, YAMUX_DATA, YAMUX_ACK | YAMUX_FIN, 1, 100);
	assert_int_equal(mh_feed(h, b, sizeof(b)), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	MH_EXPECT(h, YAMUX_PING, YAMUX_ACK, 0, 8);
	assert_int_equal(mh_count_ev(h, MH_EV_DATA, 1), 0);
	assert_int_equal(mux_num_streams(h->m), 0);
	mh_free(h);

	/* release in stream_writable */
	h = h_new(&c);
	h->on_event = hook_release_on;
	h->hook_state = MH_EV_WRITABLE;
	r = mh_open(h, NULL);
	uint8_t *p = pattern(256 * KiB + 1, 1);
	assert_int_equal(mh_write(r, p, 256 * KiB + 1), 256 * KiB);
	mh_drain(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK | YAMUX_FIN, 1, 7, NULL), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	assert_int_equal(mux_num_streams(h->m), 0);
	free(p);
	mh_free(h);

	/* release in stream_reset while the session dies: every stream */
	c.client = false;
	h = h_new(&c);
	h->on_event = hook_release_on;
	h->hook_state = MH_EV_RESET;
	for (uint32_t id = 1; id < 40; id += 2)
		peer_opens(h, id, id % 4 == 1);
	for (int i = 0; i < 10; i++)
		mh_open(h, NULL);
	assert_int_equal(mux_num_streams(h->m), 30);
	mh_drain(h);
	assert_int_equal(mh_feed_frame(h, YAMUX_GO_AWAY, 0, 0, 2, NULL), -MUX_E_REMOTE_INTERNAL);
	MH_EXPECT_NONE(h);
	assert_int_equal(mh_count_ev(h, MH_EV_RESET, 5), 1);
	assert_int_equal(mux_num_streams(h->m), 0);
	expect_closed(h, MUX_E_REMOTE_INTERNAL);
	mh_free(h);

	/* release in stream_reset for a peer RST */
	h = h_new(&c);
	h->on_event = hook_release_on;
	h->hook_state = MH_EV_RESET;
	peer_opens(h, 1, true);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_RST, 1, 4, NULL), 0);
	MH_EXPECT_NONE(h);
	assert_int_equal(mux_num_streams(h->m), 0);
	mh_free(h);
}

static void hook_goaway_on(struct mh *h, const struct mh_event *ev, struct mh_stream *r)
{
	(void)r;
	if (ev->kind == h->hook_state && !mux_is_closed(h->m))
		assert_int_equal(mux_go_away(h->m, MUX_GOAWAY_PROTO_ERR), 0);
}

static void hook_goaway0_on_open(struct mh *h, const struct mh_event *ev, struct mh_stream *r)
{
	(void)r;
	if (ev->kind == MH_EV_OPEN)
		assert_int_equal(mux_go_away(h->m, MUX_GOAWAY_NORMAL), 0);
}

static void hook_close_on_data(struct mh *h, const struct mh_event *ev, struct mh_stream *r)
{
	(void)r;
	if (ev->kind == MH_EV_DATA)
		mux_close(h->m, MUX_E_EOF);
}

static void hook_open_on_data(struct mh *h, const struct mh_event *ev, struct mh_stream *r)
{
	if (ev->kind == MH_EV_DATA && h->hook_state++ == 0) {
		struct mh_stream *o = mh_open(h, NULL);
		assert_int_equal(mh_write(o, "new", 3), 3);
		assert_int_equal(mh_write(r, "echo", 4), 4);
		assert_int_equal(mux_stream_close(r->s), 0);
	}
	if (ev->kind == MH_EV_RESET) {
		/* the session is dying: nothing can be opened */
		int err = 0;
		assert_null(mux_stream_open(h->m, &err));
		assert_int_equal(err, -MUX_E_SHUTDOWN);
		mux_stream_release(r->s);
		r->s = NULL;
	}
	if (ev->kind == MH_EV_CLOSED)
		assert_int_equal(mux_num_streams(h->m), 0);
}

static void test_goaway_inside_callbacks(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(false);
	static const int kinds[] = {MH_EV_OPEN, MH_EV_DATA, MH_EV_FIN};
	for (size_t i = 0; i < 3; i++) {
		struct mh *h = h_new(&c);
		struct mh_stream *other = peer_opens(h, 3, true);
		h->on_event = hook_goaway_on;
		h->hook_state = kinds[i];
		uint8_t b[12 + 50 + 12];
		yamux_hdr_encode(b, YAMUX_DATA, YAMUX_SYN | YAMUX_FIN, 1, 50);
		memset(b + 12, 0x22, 50);
		yamux_hdr_encode(b + 62, YAMUX_PING, YAMUX_SYN, 0, 9);
		/* split inside the payload: the second half lands on a dead session */
		int rc = mh_feed(h, b, 30);
		rc = rc ? rc : mh_feed(h, b + 30, sizeof(b) - 30);
		assert_int_equal(rc, -MUX_E_LOCAL);
		MH_EXPECT(h, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
		MH_EXPECT_NONE(h); /* no pong: the ping came after */
		assert_int_equal(other->reset_err, MUX_E_LOCAL);
		assert_int_equal(mh_rec_by_id(h, 1)->reset_err, MUX_E_LOCAL);
		expect_closed(h, MUX_E_LOCAL);
		release_all(h);
		assert_int_equal(mux_num_streams(h->m), 0);
		mh_free(h);
	}

	/* GoAway 0 from stream_open: this stream lives, the next is refused */
	struct mh *h = h_new(&c);
	h->on_event = hook_goaway0_on_open;
	h->auto_accept = true;
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_SYN, 1, 3, "abc"), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, 0);
	MH_EXPECT(h, YAMUX_GO_AWAY, 0, 0, 0);
	assert_int_equal(mh_rec_by_id(h, 1)->len, 3);
	assert_int_equal(mh_feed_frame(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, 0, NULL), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 3, 0);
	mh_free(h);

	/* mux_close from stream_data */
	h = h_new(&c);
	h->on_event = hook_close_on_data;
	struct mh_stream *r = peer_opens(h, 1, true);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 10, NULL), -MUX_E_EOF);
	assert_int_equal(r->reset_err, MUX_E_EOF);
	MH_EXPECT_NONE(h);
	expect_closed(h, MUX_E_EOF);
	mh_free(h);

	/* open and write from stream_data; release from stream_reset */
	h = h_new(&c);
	h->on_event = hook_open_on_data;
	r = peer_opens(h, 1, true);
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, 0, 1, 10, NULL), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 2, 0);
	MH_EXPECT(h, YAMUX_DATA, 0, 2, 3);
	MH_EXPECT(h, YAMUX_DATA, 0, 1, 4);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 1, 0);
	assert_int_equal(mh_feed_frame(h, YAMUX_GO_AWAY, 0, 0, 1, NULL), -MUX_E_REMOTE_PROTO);
	assert_int_equal(mux_num_streams(h->m), 0);
	mh_free(h);
}

/* A peer that (wrongly) opens a stream with our parity; the application
 * releases it while its frame is half delivered and opens a new stream,
 * which gets the same id. The rest of the old frame must not reach it. */
static void hook_reopen_on_data(struct mh *h, const struct mh_event *ev, struct mh_stream *r)
{
	if (ev->kind == MH_EV_DATA && h->hook_state++ == 0) {
		mux_stream_release(r->s);
		r->s = NULL;
		struct mh_stream *o = mh_open(h, NULL);
		assert_int_equal(o->id, 1);
	}
}

static void test_stream_freed_mid_payload_id_reused(void **state)
{
	(void)state;
	struct mux_config c = cfg_base(true);
	struct mh *h = h_new(&c);
	h->on_event = hook_reopen_on_data;
	peer_opens(h, 1, true);
	mh_drain(h);
	assert_int_equal(mh_feed_hdr(h, YAMUX_DATA, 0, 1, 1000), 0);
	uint8_t *p = pattern(1000, 2);
	assert_int_equal(mh_feed(h, p, 10), 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_RST, 1, 0);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, 0);
	assert_int_equal(mh_feed(h, p + 10, 990), 0);
	struct mh_stream *o = mh_rec_by_id(h, 1);
	assert_non_null(o->s);
	assert_int_equal(o->len, 0);
	mh_check(h);
	/* the new stream's window is intact */
	assert_int_equal(mh_feed_frame(h, YAMUX_DATA, YAMUX_ACK, 1, 256 * KiB, NULL), 0);
	assert_int_equal(o->len, 256 * KiB);
	mh_consume(o, 256 * KiB);
	MH_EXPECT(h, YAMUX_WINDOW_UPDATE, 0, 1, 256 * KiB);
	MH_EXPECT_NONE(h);
	free(p);
	mh_free(h);
}

/* ---- two engines back to back ---- */

enum { B2B_STREAMS = 8 };
#define B2B_A2B (512 * KiB)
#define B2B_B2A (256 * KiB + 12345)

struct b2b {
	struct mh *a, *b;
	uint8_t *src_a[B2B_STREAMS], *src_b[B2B_STREAMS];
	size_t sent_a[B2B_STREAMS], sent_b[B2B_STREAMS]; /* bytes written per stream */
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
static int b2b_index(const struct mh_stream *r)
{
	return (int)(r->id - 1) / 2;
}

static void b2b_pump_side(struct b2b *t, struct mh *h, uint8_t **src, size_t *sent, size_t total)
{
	for (int i = 0; i < h->nrec; i++) {
		struct mh_stream *r = &h->rec[i];
		if (r->s == NULL)
			continue;
		int k = b2b_index(r);
		/* write what the window allows, in odd-sized pieces */
		while (sent[k] < total && !mux_stream_local_closed(r->s)) {
			size_t want = 1 + rnd(t) % (96 * KiB);
			if (want > total - sent[k])
				want = total - sent[k];
			ssize_t n = mh_write(r, src[k] + sent[k], want);
			assert_true(n >= 0);
			sent[k] += (size_t)n;
			if ((size_t)n < want)
				break;
		}
		if (sent[k] == total && !mux_stream_local_closed(r->s))
			assert_int_equal(mux_stream_close(r->s), 0);
		/* consume part of what was delivered */
		if (r->pending) {
			size_t n = rnd(t) % 3 == 0 ? r->pending : r->pending / 2 + 1;
			if (n > r->pending)
				n = r->pending;
			mh_consume(r, n);
		}
		if (r->pending == 0 && r->fins && mux_stream_local_closed(r->s))
			mh_release(r);
	}
}

static size_t b2b_move(struct b2b *t, struct mh *from, struct mh *to)
{
	size_t avail = from->out_len - from->out_pos;
	if (avail == 0)
		return 0;
	size_t n = 1 + rnd(t) % (64 * KiB);
	if (rnd(t) % 8 == 0)
		n = 1 + rnd(t) % 20; /* tiny reads too */
	if (n > avail)
		n = avail;
	assert_int_equal(mh_feed(to, from->out + from->out_pos, n), 0);
	from->out_pos += n;
	if (from->out_pos > 1 * MiB) {
		memmove(from->out, from->out + from->out_pos, from->out_len - from->out_pos);
		from->out_len -= from->out_pos;
		from->out_pos = 0;
	}
	return n;
}

static void b2b_accept_all(struct mh *h)
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
		struct mh_stream *r = mh_open(t.a, NULL);
		assert_int_equal(b2b_index(r), k);
		r->established = 1;
	}
	int rounds = 0;
	for (;;) {
		assert_true(++rounds < 100000);
		b2b_accept_all(t.b);
		b2b_pump_side(&t, t.a, t.src_a, t.sent_a, B2B_A2B);
		b2b_pump_side(&t, t.b, t.src_b, t.sent_b, B2B_B2A);
		size_t moved = b2b_move(&t, t.a, t.b) + b2b_move(&t, t.b, t.a);
		t.a->now = t.b->now = (uint64_t)rounds;
		assert_int_equal(mux_tick(t.b->m, t.b->now), 0);
		assert_true(mux_buffered_bytes(t.a->m) <= (uint64_t)B2B_STREAMS * ca.recv_window);
		mh_check(t.a);
		mh_check(t.b);
		if (moved == 0 && mux_num_streams(t.a->m) == 0 && mux_num_streams(t.b->m) == 0)
			break;
	}
	/* integrity: every stream got exactly its bytes, then FIN */
	for (int i = 0; i < t.b->nrec; i++) {
		struct mh_stream *r = &t.b->rec[i];
		assert_int_equal(r->len, B2B_A2B);
		assert_memory_equal(r->data, t.src_a[b2b_index(r)], B2B_A2B);
		assert_int_equal(r->fins, 1);
		assert_null(r->s);
	}
	for (int i = 0; i < t.a->nrec; i++) {
		struct mh_stream *r = &t.a->rec[i];
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
	assert_true(mh_count_ev(t.b, MH_EV_PONG, 0) > 0);
	assert_false(mux_is_closed(t.a->m));
	assert_false(mux_is_closed(t.b->m));
	/* the larger windows made A's side need fewer WindowUpdates */
	for (int k = 0; k < B2B_STREAMS; k++) {
		free(t.src_a[k]);
		free(t.src_b[k]);
	}
	mh_free(t.a);
	mh_free(t.b);
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
