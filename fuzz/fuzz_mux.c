/*
 * Fuzz target for mux: the yamux engine driven by a hostile peer and an
 * erratic application at once.
 *
 * Input layout:
 *   byte 0   config: bit0 client, bits1-2 recv_window (256K/300K/1M/8M),
 *            bit3 small session cap, bit4 accept backlog 2, bit5 max 4
 *            streams, bit6 max 2 SYNs in flight, bit7 max_frame 100
 *   byte 1   bits0-1 keepalive (off/1000/30000/10 ms), bit2 ping timeout
 *            50 ms, bit3 linger 100 ms, bit4 callbacks act ("chaos"),
 *            bit5 teardown closes the session before releasing the streams,
 *            bit6 deferred ACKs (ack_delay_ms 20)
 *   then     operations, one opcode byte each (low 4 bits), with operands
 *            from the following bytes: raw yamux input, structured frames,
 *            open/accept/write/consume/close/release/reset on held streams,
 *            want_writable, clock ticks, GoAway, ping, EOF, filler bytes for
 *            big payloads (zeros, led by a Data header for an unknown stream
 *            in case the parser is between frames).
 * With chaos on, callbacks pull further bytes to act from inside the engine
 * (release, reset, close, write, consume, open, GoAway, mux_close).
 *
 * Checked after every operation: the engine's buffered byte count equals what
 * the application was given and has not consumed; no stream holds more than
 * its window; no event for a released stream or after a reset; no stream
 * data outside the input buffer; every emitted frame well formed (version 0,
 * known type, Data within max_frame, WindowUpdate delta within the window);
 * after a tick nothing is overdue. At the end, after releasing everything
 * and closing, no stream is left; ASan/LSan catch the rest.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mux/mux.h"
#include "mux_harness.h"
#include "wire/yamux_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXH 24
#define WBUF (64 * 1024)

static void check(int cond)
{
	if (!cond)
		abort();
}

/* The harness (tests/common/mux_harness) holds the engine, its stream
 * records (MAXH slots, reused) and the contract checks; this is the input
 * decoding and the erratic application. */
struct app {
	struct mh *h;
	const uint8_t *in, *end;
	bool chaos;
	int depth;
	uint8_t *wbuf;
};

static int take(struct app *a)
{
	if (a->in >= a->end)
		return -1;
	return *a->in++;
}

static int take0(struct app *a)
{
	int b = take(a);
	return b < 0 ? 0 : b;
}

static uint32_t take32(struct app *a)
{
	uint32_t v = 0;
	for (int i = 0; i < 4; i++)
		v = v << 8 | (uint32_t)take0(a);
	return v;
}

static struct mh_stream *pick(struct app *a)
{
	int b = take(a);
	if (b < 0)
		return NULL;
	for (int i = 0; i < MAXH; i++) {
		struct mh_stream *r = &a->h->rec[(b + i) % MAXH];
		if (r->s)
			return r;
	}
	return NULL;
}

static void do_write(struct app *a, struct mh_stream *r)
{
	size_t n = (size_t)take0(a) * 257;
	int parts = 1 + take0(a) % 3;
	struct iovec iov[3];
	size_t off = 0;
	for (int i = 0; i < parts; i++) {
		size_t len = i == parts - 1 ? n - off : (n - off) / 2;
		iov[i].iov_base = a->wbuf + off;
		iov[i].iov_len = len;
		off += len;
	}
	size_t room = mux_stream_send_window(r->s);
	ssize_t w = mux_stream_write(r->s, iov, parts);
	if (w >= 0) {
		check((size_t)w <= n);
		check((size_t)w == (n < room ? n : room));
	}
}

static void do_consume(struct app *a, struct mh_stream *r)
{
	int b = take0(a);
	size_t n = b >= 128 ? r->pending : (size_t)b * 1024;
	if (n > r->pending)
		n = r->pending;
	if (b >= 0xf0) {
		/* misuse: more than was delivered (the engine clamps) */
		r->pending = 0;
		mux_stream_consumed(r->s, n + 1000);
		return;
	}
	mh_consume(r, n);
}

static void do_open(struct app *a)
{
	int err = 1;
	mh_open(a->h, &err);
}

/* An application action from inside a callback; r may be NULL. */
static void chaos(struct app *a, struct mh_stream *r)
{
	if (!a->chaos || a->depth > 2)
		return;
	int b = take(a);
	if (b < 0 || b < 0x90)
		return; /* mostly do nothing */
	a->depth++;
	switch (b & 0x0f) {
	case 0:
	case 1:
		if (r && r->s)
			mh_release(r);
		break;
	case 2:
		if (r && r->s)
			mh_reset(r);
		break;
	case 3:
		if (r && r->s)
			mux_stream_close(r->s);
		break;
	case 4:
	case 5:
		if (r && r->s)
			do_write(a, r);
		break;
	case 6:
	case 7:
		if (r && r->s)
			do_consume(a, r);
		break;
	case 8:
		do_open(a);
		break;
	case 9:
		mux_go_away(a->h->m, (uint32_t)take0(a) % 3);
		break;
	case 10:
		mux_close(a->h->m, MUX_E_LOCAL);
		break;
	case 11:
		if (r && r->s)
			mux_stream_accept(r->s);
		break;
	case 12: {
		struct mh_stream *o = pick(a);
		if (o && o->s)
			mh_release(o);
		break;
	}
	default:
		break;
	}
	a->depth--;
}

/* ---- hooks ---- */

static void on_event(struct mh *h, const struct mh_event *ev, struct mh_stream *r)
{
	(void)ev;
	chaos(h->app, r);
}

/* Data payload comes from the application's buffer. */
static void on_frame(struct mh *h, const struct yamux_hdr *hd, const struct iovec *payload, int n)
{
	struct app *a = h->app;
	(void)hd;
	for (int i = 0; i < n; i++)
		check((const uint8_t *)payload[i].iov_base >= a->wbuf &&
		      (const uint8_t *)payload[i].iov_base + payload[i].iov_len <= a->wbuf + WBUF);
}

/* ---- driver ---- */

static void feed_frame(struct app *a)
{
	int t = take0(a);
	uint8_t type = (uint8_t)(t & 3);
	uint16_t flags = (uint16_t)((t >> 2) & 0xf);
	int idb = take0(a);
	uint32_t id = (uint32_t)(idb & 0x0f);
	if (idb & 0x80) {
		struct mh_stream *r = &a->h->rec[idb % MAXH];
		if (r->s)
			id = mux_stream_id(r->s);
	}
	int lb = take0(a);
	static const uint32_t table[8] = {0, 1, 128 * 1024, 256 * 1024, 256 * 1024 + 1,
					  1024 * 1024, 0x7fffffffu, 0xffffffffu};
	uint32_t len;
	switch (t >> 6) {
	case 0: len = (uint32_t)lb; break;
	case 1: len = (uint32_t)lb * 1024; break;
	case 2: len = table[lb % 8]; break;
	default: len = take32(a); break;
	}
	size_t plen = type == YAMUX_DATA && len <= 4096 ? len : 0;
	uint8_t payload[4096];
	for (size_t i = 0; i < plen; i++) {
		int c = take(a);
		payload[i] = (uint8_t)(c < 0 ? i : (size_t)c);
	}
	mh_feed_frame_n(a->h, type, flags, id, len, payload, plen);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	/* The write source: built once, never written afterwards. */
	static uint8_t wbuf[WBUF];
	static bool wbuf_ready;
	if (!wbuf_ready) {
		for (size_t i = 0; i < WBUF; i++)
			wbuf[i] = (uint8_t)(i * 31 + 7);
		wbuf_ready = true;
	}
	struct app app = {.wbuf = wbuf}, *a = &app;

	uint8_t c0 = data[0], c1 = data[1];
	struct mux_config cfg;
	mux_config_default(&cfg);
	static const uint32_t windows[4] = {256 * 1024, 300 * 1024, 1024 * 1024, 8 * 1024 * 1024};
	static const uint32_t keepalives[4] = {0, 1000, 30000, 10};
	cfg.client = c0 & 1;
	cfg.recv_window = windows[(c0 >> 1) & 3];
	if (c0 & 0x08)
		cfg.session_recv_cap = 300 * 1024;
	if (c0 & 0x10)
		cfg.accept_backlog = 2;
	cfg.max_streams = c0 & 0x20 ? 4 : 64;
	if (c0 & 0x40)
		cfg.max_syn_inflight = 2;
	if (c0 & 0x80)
		cfg.max_frame = 100;
	cfg.keepalive_ms = keepalives[c1 & 3];
	cfg.ping_timeout_ms = c1 & 0x04 ? 50 : 10000;
	cfg.linger_ms = c1 & 0x08 ? 100 : 30000;
	cfg.ack_delay_ms = c1 & 0x40 ? 20 : 0;
	a->chaos = (c1 & 0x10) != 0;
	a->in = data + 2;
	a->end = data + size;
	struct mh *h = a->h = mh_new(&cfg, MAXH, 0);
	h->app = a;
	h->slots = MH_SLOTS_REUSE;
	h->on_event = on_event;
	h->on_frame = on_frame;

	int ops_done = 0;
	while (a->in < a->end && ops_done++ < 4096) {
		int op = take0(a);
		struct mh_stream *r;
		switch (op & 0x0f) {
		case 0:
		case 1:
		case 2: { /* raw peer bytes */
			size_t n = (size_t)take0(a);
			size_t left = (size_t)(a->end - a->in);
			if (n > left)
				n = left;
			const uint8_t *p = a->in;
			a->in += n;
			mh_feed(h, p, n);
			break;
		}
		case 3:
		case 4:
			feed_frame(a);
			break;
		case 5:
			do_open(a);
			break;
		case 6:
			if ((r = pick(a)) != NULL) {
				int rc = mux_stream_accept(r->s);
				check(rc <= 0);
			}
			break;
		case 7:
			if ((r = pick(a)) != NULL)
				do_write(a, r);
			break;
		case 8:
			if ((r = pick(a)) != NULL)
				do_consume(a, r);
			break;
		case 9:
			if ((r = pick(a)) != NULL) {
				int rc = mux_stream_close(r->s);
				if (rc == 0 && !r->resets && !r->self_reset && !mux_is_closed(h->m))
					check(mux_stream_local_closed(r->s));
			}
			break;
		case 10:
			if ((r = pick(a)) != NULL)
				mh_release(r);
			break;
		case 11:
			if ((r = pick(a)) != NULL)
				mh_reset(r);
			break;
		case 12: { /* the clock moves; nothing is overdue after the tick */
			int b = take0(a);
			static const uint32_t scale[4] = {1, 10, 100, 1000};
			mh_tick(h, h->now + (uint64_t)(b & 0x3f) * scale[b >> 6]);
			break;
		}
		case 13: {
			int b = take0(a);
			mux_go_away(h->m, b == 0xff ? 0xffffffffu : (uint32_t)b % 3);
			break;
		}
		case 14:
			if (op & 0x80)
				mux_input_eof(h->m);
			else if ((op & 0x40) && (r = pick(a)) != NULL)
				mux_stream_want_writable(r->s);
			else
				mux_ping(h->m, h->now);
			break;
		case 15: { /* filler: payload for big Data frames */
			size_t n = (size_t)take0(a) << 8 | (size_t)take0(a);
			uint8_t *p = calloc(1, n ? n : 1);
			if (p == NULL)
				abort();
			/* Zeros, but if the parser is between frames, the filler
			 * is one Data frame for an unknown stream rather than
			 * thousands of empty ones (which only cost time). */
			if (n > YAMUX_HDR_LEN)
				yamux_hdr_encode(p, YAMUX_DATA, 0, 0x7fff0001u, (uint32_t)(n - YAMUX_HDR_LEN));
			mh_feed(h, p, n);
			free(p);
			break;
		}
		}
		mh_check(h);
	}

	/* Teardown: release every handle, close; nothing may remain. */
	bool close_first = (c1 & 0x20) != 0;
	if (close_first)
		mux_close(h->m, MUX_E_EOF);
	for (int i = 0; i < MAXH; i++)
		if (h->rec[i].s)
			mh_release(&h->rec[i]);
	if (!close_first) {
		check(mux_buffered_bytes(h->m) == 0);
		mux_close(h->m, MUX_E_EOF);
	}
	check(mux_num_streams(h->m) == 0);
	check(mux_buffered_bytes(h->m) == 0);
	check(mux_is_closed(h->m));
	mh_free(h);
	return 0;
}
