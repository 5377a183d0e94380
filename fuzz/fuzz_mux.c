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
#include "wire/yamux_frame.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAXH 24
#define WBUF (64 * 1024)

static void check(int cond)
{
	if (!cond)
		abort();
}

struct hold {
	struct mux_stream *s; /* NULL: free slot */
	uint64_t pending;     /* delivered, not consumed */
	bool fin, reset; /* stream_fin / stream_reset seen */
	bool self_reset;  /* we called mux_stream_reset() */
};

struct app {
	struct mux *m;
	struct mux_config cfg;
	uint32_t recv_window; /* effective, after the engine's normalisation */
	uint64_t now;
	const uint8_t *in, *end;
	struct hold h[MAXH];
	bool chaos;
	int depth;
	const uint8_t *feed_lo, *feed_hi;
	int closed_calls, closed_err;
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

static struct hold *hold_of(struct app *a, struct mux_stream *s)
{
	struct hold *h = mux_stream_udata(s);
	check(h != NULL && h >= a->h && h < a->h + MAXH);
	check(h->s == s); /* never an event for a released stream */
	return h;
}

static struct hold *pick(struct app *a)
{
	int b = take(a);
	if (b < 0)
		return NULL;
	for (int i = 0; i < MAXH; i++) {
		struct hold *h = &a->h[(b + i) % MAXH];
		if (h->s)
			return h;
	}
	return NULL;
}

static struct hold *adopt(struct app *a, struct mux_stream *s)
{
	for (int i = 0; i < MAXH; i++)
		if (a->h[i].s == NULL) {
			a->h[i] = (struct hold){.s = s};
			mux_stream_set_udata(s, &a->h[i]);
			return &a->h[i];
		}
	return NULL;
}

static void do_release(struct hold *h)
{
	struct mux_stream *s = h->s;
	h->s = NULL;
	h->pending = 0;
	mux_stream_release(s);
}

static void do_write(struct app *a, struct hold *h)
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
	size_t room = mux_stream_send_window(h->s);
	ssize_t w = mux_stream_write(h->s, iov, parts);
	if (w >= 0) {
		check((size_t)w <= n);
		check((size_t)w == (n < room ? n : room));
	}
}

static void do_consume(struct app *a, struct hold *h)
{
	int b = take0(a);
	uint64_t n = b >= 128 ? h->pending : (uint64_t)b * 1024;
	if (n > h->pending)
		n = h->pending;
	if (b >= 0xf0) {
		/* misuse: more than was delivered (the engine clamps) */
		h->pending = 0;
		mux_stream_consumed(h->s, (size_t)n + 1000);
		return;
	}
	h->pending -= n;
	mux_stream_consumed(h->s, (size_t)n);
}

static void do_open(struct app *a)
{
	int err = 1;
	struct mux_stream *s = mux_stream_open(a->m, &err);
	if (s == NULL) {
		check(err < 0);
		return;
	}
	check(err == 0);
	check(!mux_is_closed(a->m));
	if (adopt(a, s) == NULL)
		mux_stream_release(s);
}

/* An application action from inside a callback; h may be NULL. */
static void chaos(struct app *a, struct hold *h)
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
		if (h && h->s)
			do_release(h);
		break;
	case 2:
		if (h && h->s) {
			mux_stream_reset(h->s);
			h->self_reset = true;
		}
		break;
	case 3:
		if (h && h->s)
			mux_stream_close(h->s);
		break;
	case 4:
	case 5:
		if (h && h->s)
			do_write(a, h);
		break;
	case 6:
	case 7:
		if (h && h->s)
			do_consume(a, h);
		break;
	case 8:
		do_open(a);
		break;
	case 9:
		mux_go_away(a->m, (uint32_t)take0(a) % 3);
		break;
	case 10:
		mux_close(a->m, MUX_E_LOCAL);
		break;
	case 11:
		if (h && h->s)
			mux_stream_accept(h->s);
		break;
	case 12: {
		struct hold *o = pick(a);
		if (o && o->s)
			do_release(o);
		break;
	}
	default:
		break;
	}
	a->depth--;
}

/* ---- callbacks ---- */

static void cb_emit(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct app *a = ctx;
	check(iovcnt >= 1);
	int i = 0;
	while (i < iovcnt) {
		/* a frame: header, then exactly `length` payload bytes for Data */
		check(iov[i].iov_len == YAMUX_HDR_LEN);
		struct yamux_hdr hd;
		check(yamux_hdr_decode(iov[i].iov_base, YAMUX_HDR_LEN, &hd) == YAMUX_DECODE_OK);
		i++;
		switch (hd.type) {
		case YAMUX_DATA: {
			check(hd.flags == 0);
			check(hd.length > 0 && hd.length <= a->cfg.max_frame);
			size_t got = 0;
			while (got < hd.length) {
				check(i < iovcnt);
				check(iov[i].iov_len > 0);
				/* payload comes from the application's buffer */
				check((const uint8_t *)iov[i].iov_base >= a->wbuf &&
				      (const uint8_t *)iov[i].iov_base + iov[i].iov_len <= a->wbuf + WBUF);
				got += iov[i].iov_len;
				i++;
			}
			check(got == hd.length);
			break;
		}
		case YAMUX_WINDOW_UPDATE:
			check((hd.flags & ~(YAMUX_SYN | YAMUX_ACK | YAMUX_FIN | YAMUX_RST)) == 0);
			check(hd.length <= a->recv_window);
			break;
		case YAMUX_PING:
			check(hd.flags == YAMUX_SYN || hd.flags == YAMUX_ACK);
			check(hd.stream_id == 0);
			break;
		case YAMUX_GO_AWAY:
			check(hd.flags == 0 && hd.stream_id == 0);
			check(hd.length <= 2 || hd.length == 0xffffffffu);
			break;
		default:
			check(0);
		}
	}
}

static void cb_stream_open(void *ctx, struct mux_stream *s)
{
	struct app *a = ctx;
	check(!mux_is_closed(a->m));
	check(!mux_stream_local_closed(s));
	struct hold *h = adopt(a, s);
	if (h == NULL) {
		mux_stream_release(s);
		return;
	}
	chaos(a, h);
}

static void cb_established(void *ctx, struct mux_stream *s)
{
	struct app *a = ctx;
	struct hold *h = hold_of(a, s);
	check(!h->reset);
	chaos(a, h);
}

static void cb_data(void *ctx, struct mux_stream *s, const uint8_t *p, size_t n)
{
	struct app *a = ctx;
	struct hold *h = hold_of(a, s);
	check(!h->fin && !h->reset);
	check(n > 0);
	check(p >= a->feed_lo && p + n <= a->feed_hi);
	h->pending += n;
	check(h->pending <= mux_stream_recv_max(s));
	chaos(a, h);
}

static void cb_fin(void *ctx, struct mux_stream *s)
{
	struct app *a = ctx;
	struct hold *h = hold_of(a, s);
	check(!h->fin && !h->reset);
	check(mux_stream_remote_closed(s));
	h->fin = true;
	chaos(a, h);
}

static void cb_reset(void *ctx, struct mux_stream *s, int err)
{
	struct app *a = ctx;
	struct hold *h = hold_of(a, s);
	check(!h->reset);
	check(err > 0 && err < MUX_E__COUNT);
	h->reset = true;
	chaos(a, h);
}

static void cb_writable(void *ctx, struct mux_stream *s)
{
	struct app *a = ctx;
	struct hold *h = hold_of(a, s);
	check(!h->reset);
	check(mux_stream_send_window(s) > 0);
	chaos(a, h);
}

static void cb_closed(void *ctx, int err)
{
	struct app *a = ctx;
	check(a->closed_calls == 0);
	check(mux_is_closed(a->m));
	check(err > 0 && err < MUX_E__COUNT);
	a->closed_calls++;
	a->closed_err = err;
	/* every held stream has been told */
	for (int i = 0; i < MAXH; i++)
		if (a->h[i].s)
			check(a->h[i].reset || a->h[i].self_reset);
	chaos(a, NULL);
}

static void cb_pong(void *ctx, uint32_t rtt)
{
	(void)rtt;
	struct app *a = ctx;
	chaos(a, NULL);
}

static void cb_goaway(void *ctx)
{
	struct app *a = ctx;
	check(mux_remote_go_away(a->m));
	chaos(a, NULL);
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

/* ---- driver ---- */

static void feed(struct app *a, const uint8_t *p, size_t n)
{
	/* exact-size copy: overreads are caught, stream data is checked to
	 * point inside it */
	uint8_t *copy = malloc(n ? n : 1);
	if (copy == NULL)
		abort();
	if (n)
		memcpy(copy, p, n);
	a->feed_lo = copy;
	a->feed_hi = copy + n;
	int rc = mux_input(a->m, copy, n, a->now);
	check(rc <= 0);
	check((rc < 0) == mux_is_closed(a->m));
	a->feed_lo = a->feed_hi = NULL;
	free(copy);
}

static void feed_frame(struct app *a)
{
	int t = take0(a);
	uint8_t type = (uint8_t)(t & 3);
	uint16_t flags = (uint16_t)((t >> 2) & 0xf);
	int idb = take0(a);
	uint32_t id = (uint32_t)(idb & 0x0f);
	if (idb & 0x80) {
		struct hold *h = &a->h[idb % MAXH];
		if (h->s)
			id = mux_stream_id(h->s);
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
	uint8_t *b = malloc(YAMUX_HDR_LEN + plen);
	if (b == NULL)
		abort();
	yamux_hdr_encode(b, type, flags, id, len);
	for (size_t i = 0; i < plen; i++) {
		int c = take(a);
		b[YAMUX_HDR_LEN + i] = (uint8_t)(c < 0 ? i : (size_t)c);
	}
	feed(a, b, YAMUX_HDR_LEN + plen);
	free(b);
}

static void check_invariants(struct app *a)
{
	uint64_t pend = 0, win = 0;
	size_t held = 0;
	for (int i = 0; i < MAXH; i++) {
		struct hold *h = &a->h[i];
		if (h->s == NULL)
			continue;
		held++;
		pend += h->pending;
		win += mux_stream_recv_max(h->s);
		check(mux_stream_udata(h->s) == h);
		check(h->pending <= mux_stream_recv_max(h->s));
		check(mux_stream_recv_max(h->s) >= MUX_INITIAL_WINDOW);
		check(mux_stream_recv_max(h->s) <= a->recv_window);
		if (h->reset || mux_is_closed(a->m))
			check(mux_stream_send_window(h->s) == 0);
	}
	check(mux_buffered_bytes(a->m) == pend);
	check(mux_buffered_bytes(a->m) <= win);
	check(mux_num_streams(a->m) >= held);
	if (mux_is_closed(a->m)) {
		check(a->closed_calls == 1);
		check(mux_error(a->m) == a->closed_err);
		check(mux_next_timeout(a->m, a->now) == -1);
	} else {
		check(a->closed_calls == 0);
		check(mux_error(a->m) == 0);
	}
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
	struct app *a = calloc(1, sizeof(*a));
	if (a == NULL)
		return 0;
	a->wbuf = wbuf;

	uint8_t c0 = data[0], c1 = data[1];
	mux_config_default(&a->cfg);
	static const uint32_t windows[4] = {256 * 1024, 300 * 1024, 1024 * 1024, 8 * 1024 * 1024};
	static const uint32_t keepalives[4] = {0, 1000, 30000, 10};
	a->cfg.client = c0 & 1;
	a->cfg.recv_window = windows[(c0 >> 1) & 3];
	if (c0 & 0x08)
		a->cfg.session_recv_cap = 300 * 1024;
	if (c0 & 0x10)
		a->cfg.accept_backlog = 2;
	a->cfg.max_streams = c0 & 0x20 ? 4 : 64;
	if (c0 & 0x40)
		a->cfg.max_syn_inflight = 2;
	if (c0 & 0x80)
		a->cfg.max_frame = 100;
	a->cfg.keepalive_ms = keepalives[c1 & 3];
	a->cfg.ping_timeout_ms = c1 & 0x04 ? 50 : 10000;
	a->cfg.linger_ms = c1 & 0x08 ? 100 : 30000;
	a->cfg.ack_delay_ms = c1 & 0x40 ? 20 : 0;
	a->chaos = (c1 & 0x10) != 0;
	a->recv_window = a->cfg.recv_window;
	a->in = data + 2;
	a->end = data + size;
	a->m = mux_new(&a->cfg, &ops, a, 0);
	if (a->m == NULL)
		abort();

	int ops_done = 0;
	while (a->in < a->end && ops_done++ < 4096) {
		int op = take0(a);
		struct hold *h;
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
			feed(a, p, n);
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
			if ((h = pick(a)) != NULL) {
				int rc = mux_stream_accept(h->s);
				check(rc <= 0);
			}
			break;
		case 7:
			if ((h = pick(a)) != NULL)
				do_write(a, h);
			break;
		case 8:
			if ((h = pick(a)) != NULL)
				do_consume(a, h);
			break;
		case 9:
			if ((h = pick(a)) != NULL) {
				int rc = mux_stream_close(h->s);
				if (rc == 0 && !h->reset && !h->self_reset && !mux_is_closed(a->m))
					check(mux_stream_local_closed(h->s));
			}
			break;
		case 10:
			if ((h = pick(a)) != NULL)
				do_release(h);
			break;
		case 11:
			if ((h = pick(a)) != NULL) {
				mux_stream_reset(h->s);
				h->self_reset = true;
			}
			break;
		case 12: { /* the clock moves */
			int b = take0(a);
			static const uint32_t scale[4] = {1, 10, 100, 1000};
			a->now += (uint64_t)(b & 0x3f) * scale[b >> 6];
			int rc = mux_tick(a->m, a->now);
			check(rc <= 0);
			/* nothing is overdue right after a tick */
			check(mux_next_timeout(a->m, a->now) != 0);
			break;
		}
		case 13: {
			int b = take0(a);
			mux_go_away(a->m, b == 0xff ? 0xffffffffu : (uint32_t)b % 3);
			break;
		}
		case 14:
			if (op & 0x80)
				mux_input_eof(a->m);
			else if ((op & 0x40) && (h = pick(a)) != NULL)
				mux_stream_want_writable(h->s);
			else
				mux_ping(a->m, a->now);
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
			feed(a, p, n);
			free(p);
			break;
		}
		}
		check_invariants(a);
	}

	/* Teardown: release every handle, close; nothing may remain. */
	bool close_first = (c1 & 0x20) != 0;
	if (close_first)
		mux_close(a->m, MUX_E_EOF);
	for (int i = 0; i < MAXH; i++)
		if (a->h[i].s)
			do_release(&a->h[i]);
	if (!close_first) {
		check(mux_buffered_bytes(a->m) == 0);
		mux_close(a->m, MUX_E_EOF);
	}
	check(mux_num_streams(a->m) == 0);
	check(mux_buffered_bytes(a->m) == 0);
	check(mux_is_closed(a->m));
	mux_free(a->m);
	free(a);
	return 0;
}
