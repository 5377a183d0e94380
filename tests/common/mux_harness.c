/*
 * mux_harness: see mux_harness.h. The checks are those every driver of the
 * engine made on its own before (unit tests, fuzz target, interop peer).
 */
#include "mux_harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(h, cond, ...)                                                                        \
	do {                                                                                       \
		if (!(cond))                                                                       \
			mh_failf((h), __VA_ARGS__);                                                \
	} while (0)

void mh_failf(struct mh *h, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (h != NULL && h->on_fail != NULL)
		h->on_fail(h, msg);
	fprintf(stderr, "mux_harness: %s\n", msg);
	abort();
}

static void *xrealloc(struct mh *h, void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);
	CHECK(h, q != NULL, "out of memory (%zu bytes)", n);
	return q;
}

/* Grows *buf (capacity *cap) to hold need bytes. */
static void reserve(struct mh *h, uint8_t **buf, size_t *cap, size_t need, size_t first)
{
	if (need <= *cap)
		return;
	size_t nc = *cap ? *cap : first;
	while (nc < need)
		nc *= 2;
	*buf = xrealloc(h, *buf, nc);
	*cap = nc;
}

/* ---- records and events ---- */

static struct mh_stream *adopt(struct mh *h, struct mux_stream *s, bool mine)
{
	int i = h->nrec;
	if (h->slots == MH_SLOTS_REUSE)
		for (i = 0; i < h->rec_cap && h->rec[i].s != NULL; i++)
			;
	if (i >= h->rec_cap) {
		CHECK(h, h->slots == MH_SLOTS_REUSE, "more than %d streams", h->rec_cap);
		return NULL;
	}
	struct mh_stream *r = &h->rec[i];
	free(r->data);
	*r = (struct mh_stream){.h = h, .s = s, .id = mux_stream_id(s), .idx = i, .mine = mine};
	if (i >= h->nrec)
		h->nrec = i + 1;
	mux_stream_set_udata(s, r);
	return r;
}

/* The record of a stream the engine reports on: it must be held. */
static struct mh_stream *rec_of(struct mh *h, struct mux_stream *s, const char *what)
{
	struct mh_stream *r = mux_stream_udata(s);
	CHECK(h, r != NULL && r >= h->rec && r < h->rec + h->rec_cap, "%s for stream %u we never held",
	      what, mux_stream_id(s));
	CHECK(h, r->s == s, "%s for stream %u after its release", what, r->id);
	return r;
}

static void event(struct mh *h, struct mh_stream *r, struct mh_event ev)
{
	if (h->log_events) {
		if (h->nev == h->ev_cap) {
			h->ev_cap = h->ev_cap ? 2 * h->ev_cap : 256;
			h->ev = xrealloc(h, h->ev, (size_t)h->ev_cap * sizeof(*h->ev));
		}
		h->ev[h->nev] = ev;
		h->ev[h->nev++].data = NULL;
	}
	if (ev.kind == MH_EV_OPEN && h->auto_accept)
		CHECK(h, mux_stream_accept(r->s) == 0, "auto-accept of stream %u failed", r->id);
	if (ev.kind == MH_EV_DATA && h->auto_consume) {
		r->pending -= ev.n;
		mux_stream_consumed(r->s, ev.n);
	}
	if (h->on_event)
		h->on_event(h, &ev, r);
}

/* ---- engine callbacks ---- */

/* One frame of an emit() call, from iov[*i]: checked, handed to on_frame. */
static void emit_frame(struct mh *h, const struct iovec *iov, int iovcnt, int *i)
{
	struct yamux_hdr hd;
	CHECK(h, iov[*i].iov_len == YAMUX_HDR_LEN, "emit: iov[%d] is not a frame header (%zu bytes)", *i,
	      iov[*i].iov_len);
	CHECK(h, yamux_hdr_decode(iov[*i].iov_base, YAMUX_HDR_LEN, &hd) == YAMUX_DECODE_OK,
	      "emit: a malformed frame header");
	int first = ++*i;
	char fl[32];
#define FL yamux_flags_str(hd.flags, fl, sizeof(fl)) /* formatted only when a check fails */
	switch (hd.type) {
	case YAMUX_DATA: {
		CHECK(h, hd.flags == 0, "emit: Data with flags %s", FL);
		CHECK(h, hd.length > 0 && hd.length <= h->max_frame, "emit: Data of %u bytes (max_frame %u)",
		      hd.length, h->max_frame);
		size_t got = 0;
		while (got < hd.length) {
			CHECK(h, *i < iovcnt, "emit: Data of %u bytes ends after %zu", hd.length, got);
			CHECK(h, iov[*i].iov_len > 0, "emit: an empty payload iovec");
			got += iov[(*i)++].iov_len;
		}
		CHECK(h, got == hd.length, "emit: Data of %u bytes carries %zu", hd.length, got);
		break;
	}
	case YAMUX_WINDOW_UPDATE:
		CHECK(h, (hd.flags & ~(YAMUX_SYN | YAMUX_ACK | YAMUX_FIN | YAMUX_RST)) == 0,
		      "emit: WindowUpdate with flags %s", FL);
		CHECK(h, hd.length <= h->recv_window, "emit: WindowUpdate delta %u over the window %u",
		      hd.length, h->recv_window);
		break;
	case YAMUX_PING:
		CHECK(h, hd.flags == YAMUX_SYN || hd.flags == YAMUX_ACK, "emit: Ping with flags %s", FL);
		CHECK(h, hd.stream_id == 0, "emit: Ping on stream %u", hd.stream_id);
		break;
	case YAMUX_GO_AWAY:
		CHECK(h, hd.flags == 0 && hd.stream_id == 0, "emit: GoAway flags %s stream %u", FL,
		      hd.stream_id);
		CHECK(h, hd.length <= 2 || hd.length == 0xffffffffu, "emit: GoAway code %u", hd.length);
		break;
	default:
		mh_failf(h, "emit: frame type %u", hd.type);
	}
#undef FL
	if (h->on_frame)
		h->on_frame(h, &hd, iov + first, *i - first);
}

static void cb_emit(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct mh *h = ctx;
	CHECK(h, iovcnt >= 1, "emit: %d iovecs", iovcnt);
	h->emits++;
	for (int i = 0; i < iovcnt;)
		emit_frame(h, iov, iovcnt, &i);
	if (h->capture) {
		h->last_iovcnt = iovcnt;
		for (int i = 0; i < iovcnt; i++) {
			if (i < (int)(sizeof(h->last_iov) / sizeof(h->last_iov[0])))
				h->last_iov[i] = iov[i];
			reserve(h, &h->out, &h->out_cap, h->out_len + iov[i].iov_len, 4096);
			memcpy(h->out + h->out_len, iov[i].iov_base, iov[i].iov_len);
			h->out_len += iov[i].iov_len;
		}
	}
	if (h->on_emit)
		h->on_emit(h, iov, iovcnt);
}

static void cb_stream_open(void *ctx, struct mux_stream *s)
{
	struct mh *h = ctx;
	CHECK(h, !mux_is_closed(h->m), "stream_open on a closed session");
	CHECK(h, !mux_stream_local_closed(s), "stream_open for a stream we closed");
	struct mh_stream *r = adopt(h, s, false);
	if (r == NULL) {
		mux_stream_release(s);
		return;
	}
	event(h, r, (struct mh_event){.kind = MH_EV_OPEN, .id = r->id});
}

static void cb_established(void *ctx, struct mux_stream *s)
{
	struct mh *h = ctx;
	struct mh_stream *r = rec_of(h, s, "stream_established");
	CHECK(h, r->mine && !r->est_seen, "stream_established for stream %u: ours %d, seen before %d",
	      r->id, r->mine, r->est_seen);
	CHECK(h, r->resets == 0, "stream_established for stream %u after its reset", r->id);
	r->est_seen = true;
	r->established++;
	event(h, r, (struct mh_event){.kind = MH_EV_ESTABLISHED, .id = r->id});
}

static void cb_data(void *ctx, struct mux_stream *s, const uint8_t *p, size_t n)
{
	struct mh *h = ctx;
	struct mh_stream *r = rec_of(h, s, "stream_data");
	CHECK(h, n > 0, "stream_data of 0 bytes for stream %u", r->id);
	/* by reference into the buffer given to mux_input() */
	CHECK(h, p >= h->in_lo && p + n <= h->in_hi, "stream_data for stream %u outside the input",
	      r->id);
	CHECK(h, r->fins == 0 && r->resets == 0, "stream_data for stream %u after its %s", r->id,
	      r->fins ? "FIN" : "reset");
	if (h->collect) {
		reserve(h, &r->data, &r->cap, r->len + n, 256);
		memcpy(r->data + r->len, p, n);
		r->len += n;
	}
	r->pending += n;
	CHECK(h, r->pending <= mux_stream_recv_max(s), "stream %u holds %zu bytes over its window %u",
	      r->id, r->pending, mux_stream_recv_max(s));
	event(h, r, (struct mh_event){.kind = MH_EV_DATA, .id = r->id, .n = n, .data = p});
}

static void cb_fin(void *ctx, struct mux_stream *s)
{
	struct mh *h = ctx;
	struct mh_stream *r = rec_of(h, s, "stream_fin");
	CHECK(h, r->fins == 0 && r->resets == 0, "stream_fin for stream %u after its %s", r->id,
	      r->fins ? "FIN" : "reset");
	CHECK(h, mux_stream_remote_closed(s), "stream_fin for stream %u, not remote_closed", r->id);
	r->fins++;
	event(h, r, (struct mh_event){.kind = MH_EV_FIN, .id = r->id});
}

static void cb_reset(void *ctx, struct mux_stream *s, int err)
{
	struct mh *h = ctx;
	struct mh_stream *r = rec_of(h, s, "stream_reset");
	CHECK(h, r->resets == 0, "second stream_reset for stream %u", r->id);
	CHECK(h, err > 0 && err < MUX_E__COUNT, "stream_reset for stream %u with err %d", r->id, err);
	r->resets++;
	r->reset_err = err;
	event(h, r, (struct mh_event){.kind = MH_EV_RESET, .id = r->id, .err = err});
}

static void cb_writable(void *ctx, struct mux_stream *s)
{
	struct mh *h = ctx;
	struct mh_stream *r = rec_of(h, s, "stream_writable");
	CHECK(h, r->resets == 0, "stream_writable for stream %u after its reset", r->id);
	CHECK(h, mux_stream_send_window(s) > 0, "stream_writable for stream %u with an empty window",
	      r->id);
	r->writable++;
	event(h, r, (struct mh_event){.kind = MH_EV_WRITABLE, .id = r->id});
}

static void cb_closed(void *ctx, int err)
{
	struct mh *h = ctx;
	CHECK(h, h->closed_calls == 0, "second session_closed");
	CHECK(h, mux_is_closed(h->m), "session_closed but the session is open");
	CHECK(h, err > 0 && err < MUX_E__COUNT, "session_closed with err %d", err);
	/* every held stream has been told */
	for (int i = 0; i < h->nrec; i++)
		if (h->rec[i].s)
			CHECK(h, h->rec[i].resets || h->rec[i].self_reset,
			      "session_closed before stream_reset for stream %u", h->rec[i].id);
	h->closed_calls++;
	h->closed_err = err;
	event(h, NULL, (struct mh_event){.kind = MH_EV_CLOSED, .err = err});
}

static void cb_pong(void *ctx, uint32_t rtt)
{
	struct mh *h = ctx;
	h->pong_rtt = rtt;
	event(h, NULL, (struct mh_event){.kind = MH_EV_PONG, .n = rtt});
}

static void cb_goaway(void *ctx)
{
	struct mh *h = ctx;
	CHECK(h, mux_remote_go_away(h->m), "remote_go_away but mux_remote_go_away() is false");
	event(h, NULL, (struct mh_event){.kind = MH_EV_GOAWAY});
}

static const struct mux_ops mh_ops = {
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

/* ---- life ---- */

struct mh *mh_new(const struct mux_config *cfg, int rec_cap, uint64_t now_ms)
{
	struct mh *h = calloc(1, sizeof(*h));
	if (h == NULL)
		mh_failf(NULL, "out of memory");
	h->rec_cap = rec_cap;
	h->rec = calloc((size_t)(rec_cap > 0 ? rec_cap : 1), sizeof(*h->rec));
	if (h->rec == NULL)
		mh_failf(NULL, "out of memory");
	if (cfg)
		h->cfg = *cfg;
	else
		mux_config_default(&h->cfg);
	h->recv_window = h->cfg.recv_window > MUX_INITIAL_WINDOW ? h->cfg.recv_window : MUX_INITIAL_WINDOW;
	h->max_frame = h->cfg.max_frame ? h->cfg.max_frame : 128u * 1024;
	h->now = now_ms;
	h->m = mux_new(cfg, &mh_ops, h, now_ms);
	if (h->m == NULL)
		mh_failf(NULL, "mux_new failed");
	return h;
}

void mh_free(struct mh *h)
{
	if (h == NULL)
		return;
	mux_free(h->m);
	for (int i = 0; i < h->rec_cap; i++)
		free(h->rec[i].data);
	free(h->rec);
	free(h->ev);
	free(h->out);
	free(h);
}

/* ---- driving ---- */

int mh_input(struct mh *h, const uint8_t *p, size_t n)
{
	h->in_lo = p;
	h->in_hi = p + n;
	int rc = mux_input(h->m, p, n, h->now);
	h->in_lo = h->in_hi = NULL;
	CHECK(h, rc <= 0, "mux_input returned %d", rc);
	CHECK(h, (rc < 0) == mux_is_closed(h->m), "mux_input returned %d, closed %d", rc,
	      mux_is_closed(h->m));
	return rc;
}

int mh_feed(struct mh *h, const void *p, size_t n)
{
	uint8_t *copy = xrealloc(h, NULL, n);
	if (n)
		memcpy(copy, p, n);
	int rc = mh_input(h, copy, n);
	free(copy);
	return rc;
}

int mh_feed_frame_n(struct mh *h, uint8_t type, uint16_t flags, uint32_t id, uint32_t len,
		    const void *payload, size_t plen)
{
	/* built in place in an exact-size buffer, fed without a second copy */
	uint8_t *b = xrealloc(h, NULL, YAMUX_HDR_LEN + plen);
	yamux_hdr_encode(b, type, flags, id, len);
	for (size_t i = 0; i < plen; i++)
		b[YAMUX_HDR_LEN + i] = payload ? ((const uint8_t *)payload)[i] : (uint8_t)(i * 7 + id);
	int rc = mh_input(h, b, YAMUX_HDR_LEN + plen);
	free(b);
	return rc;
}

int mh_feed_frame(struct mh *h, uint8_t type, uint16_t flags, uint32_t id, uint32_t len,
		  const void *payload)
{
	return mh_feed_frame_n(h, type, flags, id, len, payload, type == YAMUX_DATA ? len : 0);
}

int mh_feed_hdr(struct mh *h, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
	return mh_feed_frame_n(h, type, flags, id, len, NULL, 0);
}

int mh_tick(struct mh *h, uint64_t now_ms)
{
	h->now = now_ms;
	int rc = mux_tick(h->m, now_ms);
	CHECK(h, rc <= 0, "mux_tick returned %d", rc);
	CHECK(h, mux_next_timeout(h->m, now_ms) != 0, "a timer is overdue right after mux_tick");
	return rc;
}

struct mh_stream *mh_open(struct mh *h, int *err)
{
	int e = 12345;
	struct mux_stream *s = mux_stream_open(h->m, &e);
	if (err)
		*err = e;
	if (s == NULL) {
		CHECK(h, err != NULL, "mux_stream_open: %s", mux_strerror(e));
		CHECK(h, e < 0, "mux_stream_open failed with err %d", e);
		return NULL;
	}
	CHECK(h, e == 0, "mux_stream_open succeeded with err %d", e);
	CHECK(h, !mux_is_closed(h->m), "mux_stream_open succeeded on a closed session");
	struct mh_stream *r = adopt(h, s, true);
	if (r == NULL)
		mux_stream_release(s);
	return r;
}

void mh_release(struct mh_stream *r)
{
	CHECK(r->h, r->s != NULL, "stream %u released twice", r->id);
	struct mux_stream *s = r->s;
	r->s = NULL;
	r->pending = 0;
	mux_stream_release(s);
}

void mh_consume(struct mh_stream *r, size_t n)
{
	CHECK(r->h, n <= r->pending, "stream %u: consuming %zu of %zu pending bytes", r->id, n,
	      r->pending);
	r->pending -= n;
	mux_stream_consumed(r->s, n);
}

ssize_t mh_write(struct mh_stream *r, const void *p, size_t n)
{
	struct iovec iov = {(void *)(uintptr_t)p, n};
	return mux_stream_write(r->s, &iov, 1);
}

int mh_reset(struct mh_stream *r)
{
	r->self_reset = true;
	return mux_stream_reset(r->s);
}

/* ---- queries ---- */

struct mh_stream *mh_rec_by_id(struct mh *h, uint32_t id)
{
	for (int i = h->nrec - 1; i >= 0; i--)
		if (h->rec[i].id == id)
			return &h->rec[i];
	mh_failf(h, "no stream %u", id);
}

int mh_count_ev(const struct mh *h, int kind, uint32_t id)
{
	int c = 0;
	for (int i = 0; i < h->nev; i++)
		if (h->ev[i].kind == kind && (kind == MH_EV_CLOSED || kind == MH_EV_PONG ||
					      kind == MH_EV_GOAWAY || h->ev[i].id == id))
			c++;
	return c;
}

void mh_check(struct mh *h)
{
	uint64_t pend = 0, win = 0;
	size_t held = 0;
	for (int i = 0; i < h->nrec; i++) {
		struct mh_stream *r = &h->rec[i];
		if (r->s == NULL)
			continue;
		uint32_t max = mux_stream_recv_max(r->s);
		held++;
		pend += r->pending;
		win += max;
		CHECK(h, mux_stream_udata(r->s) == r, "stream %u: udata is not its record", r->id);
		CHECK(h, r->pending <= max, "stream %u holds %zu over its window %u", r->id, r->pending, max);
		CHECK(h, max >= MUX_INITIAL_WINDOW && max <= h->recv_window,
		      "stream %u: recv_max %u outside [256 KiB, %u]", r->id, max, h->recv_window);
		if (r->resets || mux_is_closed(h->m))
			CHECK(h, mux_stream_send_window(r->s) == 0, "stream %u: dead with a send window",
			      r->id);
	}
	uint64_t buffered = mux_buffered_bytes(h->m);
	CHECK(h, buffered == pend, "mux_buffered_bytes() %llu, the application holds %llu",
	      (unsigned long long)buffered, (unsigned long long)pend);
	CHECK(h, buffered <= win, "mux_buffered_bytes() over the windows");
	CHECK(h, mux_num_streams(h->m) >= held, "mux_num_streams() %zu below the %zu held",
	      mux_num_streams(h->m), held);
	if (mux_is_closed(h->m)) {
		CHECK(h, h->closed_calls == 1, "closed with %d session_closed calls", h->closed_calls);
		CHECK(h, mux_error(h->m) == h->closed_err, "mux_error() %d, session_closed said %d",
		      mux_error(h->m), h->closed_err);
		CHECK(h, mux_next_timeout(h->m, h->now) == -1, "a closed session with a timer");
	} else {
		CHECK(h, h->closed_calls == 0, "open after session_closed");
		CHECK(h, mux_error(h->m) == 0, "open with mux_error() %d", mux_error(h->m));
	}
}

/* ---- captured output ---- */

bool mh_next_frame(struct mh *h, struct yamux_hdr *hd, const uint8_t **payload)
{
	if (h->out_len - h->out_pos < YAMUX_HDR_LEN)
		return false;
	CHECK(h, yamux_hdr_decode(h->out + h->out_pos, h->out_len - h->out_pos, hd) == YAMUX_DECODE_OK,
	      "captured output: a malformed header");
	size_t plen = hd->type == YAMUX_DATA ? hd->length : 0;
	CHECK(h, h->out_len - h->out_pos >= YAMUX_HDR_LEN + plen, "captured output: a cut frame");
	if (payload)
		*payload = h->out + h->out_pos + YAMUX_HDR_LEN;
	h->out_pos += YAMUX_HDR_LEN + plen;
	return true;
}

const uint8_t *mh_expect_frame_at(struct mh *h, uint8_t type, uint16_t flags, uint32_t id,
				  uint32_t len, int line)
{
	struct yamux_hdr hd;
	const uint8_t *payload = NULL;
	if (!mh_next_frame(h, &hd, &payload))
		mh_failf(h, "line %d: expected %s id %u len %u, got nothing", line, yamux_type_name(type),
			 id, len);
	if (hd.type != type || hd.flags != flags || hd.stream_id != id || hd.length != len) {
		char f1[32], f2[32];
		mh_failf(h, "line %d: expected %s %s id %u len %u, got %s %s id %u len %u", line,
			 yamux_type_name(type), yamux_flags_str(flags, f1, sizeof(f1)), id, len,
			 yamux_type_name(hd.type), yamux_flags_str(hd.flags, f2, sizeof(f2)), hd.stream_id,
			 hd.length);
	}
	return payload;
}

void mh_expect_none_at(struct mh *h, int line)
{
	struct yamux_hdr hd;
	char f[32];
	if (h->out_pos == h->out_len)
		return;
	CHECK(h, mh_next_frame(h, &hd, NULL), "line %d: %zu unread bytes, not a frame", line,
	      h->out_len - h->out_pos);
	mh_failf(h, "line %d: unexpected %s %s id %u len %u", line, yamux_type_name(hd.type),
		 yamux_flags_str(hd.flags, f, sizeof(f)), hd.stream_id, hd.length);
}

void mh_drain(struct mh *h)
{
	h->out_pos = h->out_len;
}
