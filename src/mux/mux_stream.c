/*
 * mux_stream: the stream operations of mux.h (open, accept, write, consume,
 * close, reset, release, getters), the receive credit they return, and the
 * session's end, which ends every stream (mux_fail_session). Called by the
 * application, by mux_input.c and by mux.c; it calls only mux_table.c and
 * the application's callbacks. See mux_internal.h for the layering.
 */
#include <assert.h>
#include <stdlib.h>

#include "mux/mux_internal.h"

/* Frames one mux_stream_write() emit() call may carry. */
enum { WRITE_FRAMES = 8 };

/* ---- the session's end ---- */

/* Contract in mux_internal.h. */
void mux_fail_session(struct mux *m, int err)
{
	if (m->closed)
		return;
	m->closed = true;
	m->err = err;
	m->in_payload = false;
	m->hdr_have = 0;
	/* Callbacks may release streams, which reshapes the table; each stream
	 * is marked once and scans repeat until one finds nothing new. */
	bool again = true;
	while (again) {
		again = false;
		for (uint32_t i = 0; i < m->cap; i++) {
			struct mux_stream *s = m->slots[i];
			if (s == NULL || (s->flags & SF_CLOSE_SEEN))
				continue;
			s->flags |= SF_CLOSE_SEEN;
			again = true;
			if (s->flags & SF_RELEASED) {
				mux_destroy_stream(m, s);
			} else if (!(s->flags & SF_RESET)) {
				s->flags |= SF_RESET;
				if (m->ops.stream_reset)
					m->ops.stream_reset(m->ctx, s, err);
			}
		}
	}
	if (m->ops.session_closed)
		m->ops.session_closed(m->ctx, err);
}

/* Reserves the extra window for a new stream from the session's budget. */
static uint32_t reserve_window(struct mux *m)
{
	uint64_t want = m->cfg.recv_window > MUX_INITIAL_WINDOW ? m->cfg.recv_window - MUX_INITIAL_WINDOW : 0;
	uint64_t left = m->cfg.session_recv_cap > m->extra_reserved ? m->cfg.session_recv_cap - m->extra_reserved : 0;
	uint64_t extra = want < left ? want : left;
	m->extra_reserved += extra;
	return MUX_INITIAL_WINDOW + (uint32_t)extra;
}

/* ---- credit and stream ends ---- */

void mux_finish_stream(struct mux *m, struct mux_stream *s)
{
	if ((s->flags & SF_RELEASED) && (s->flags & SF_LOCAL_FIN) && (s->flags & SF_REMOTE_FIN))
		mux_destroy_stream(m, s);
}

void mux_send_window_update(struct mux *m, struct mux_stream *s, uint16_t flags)
{
	/* A waiting ACK carries the window (and the first credit) itself. */
	if ((s->flags & SF_ACK_DEFERRED) && !(flags & YAMUX_ACK))
		return;
	/* Bytes of the frame being received count as not yet returned. */
	uint32_t inflight = (m->in_payload && m->payload_stream && m->payload_id == s->id) ? m->payload_left : 0;
	int64_t d = (int64_t)s->recv_max - s->recv_pending - s->recv_window - inflight;
	/* recv_max = credit the peer has + bytes held + bytes of the frame
	 * under way + credit not yet returned: the last is never negative. */
	assert(d >= 0);
	uint32_t delta = d > 0 ? (uint32_t)d : 0;
	if (delta < s->recv_max / 2 && flags == 0)
		return;
	if (s->flags & (SF_REMOTE_FIN | SF_RESET)) {
		if (flags == 0)
			return;
		delta = 0;
	}
	s->recv_window += delta;
	assert(s->recv_window <= s->recv_max); /* never grant beyond the window */
	mux_emit_frame(m, YAMUX_WINDOW_UPDATE, flags, s->id, delta);
}

void mux_ack_now(struct mux *m, struct mux_stream *s)
{
	if (!(s->flags & SF_ACK_DEFERRED))
		return;
	mux_unlist_stream(s);
	mux_send_window_update(m, s, YAMUX_ACK);
}

/* ---- public: streams ---- */

struct mux_stream *mux_stream_open(struct mux *m, int *err)
{
	int e = 0;
	struct mux_stream *s = NULL;
	if (m->closed)
		e = MUX_E_SHUTDOWN;
	else if (m->remote_goaway)
		e = MUX_E_REMOTE_GOAWAY;
	else if (m->local_goaway)
		e = MUX_E_LOCAL_GOAWAY; /* we are going away: no new streams either way */
	else if (m->syn_inflight >= m->cfg.max_syn_inflight)
		e = MUX_E_SYN_BACKLOG;
	else if (m->count >= m->cfg.max_streams)
		e = MUX_E_TOO_MANY;
	if (e == 0) {
		/* Skip ids the peer may have taken (yamux does not check parity). */
		while (m->next_id < UINT32_MAX - 1 && mux_table_get(m, m->next_id) != NULL)
			m->next_id += 2;
		if (m->next_id >= UINT32_MAX - 1)
			e = MUX_E_EXHAUSTED;
	}
	if (e == 0) {
		s = mux_new_stream(m, m->next_id);
		if (s == NULL)
			e = MUX_E_NOMEM;
	}
	if (e != 0) {
		if (err)
			*err = -e;
		return NULL;
	}
	m->next_id += 2;
	s->flags |= SF_SYN_SENT;
	m->syn_inflight++;
	s->recv_max = reserve_window(m);
	s->recv_window = s->recv_max;
	mux_enter(m);
	mux_emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_SYN, s->id, s->recv_max - MUX_INITIAL_WINDOW);
	mux_leave(m);
	if (err)
		*err = 0;
	return s;
}

int mux_stream_accept(struct mux_stream *s)
{
	struct mux *m = s->m;
	if (!(s->flags & SF_UNACCEPTED))
		return 0;
	if (s->flags & SF_RESET)
		return -MUX_E_RESET;
	if (m->closed)
		return -MUX_E_SHUTDOWN;
	s->flags &= (uint16_t)~SF_UNACCEPTED;
	m->unaccepted--;
	/* Data may have arrived before the accept: the extra window adds to
	 * the credit the peer has left, it does not reset it. */
	uint32_t extra = reserve_window(m) - MUX_INITIAL_WINDOW;
	s->recv_max += extra;
	if (m->cfg.ack_delay_ms > 0 && !(s->flags & SF_REMOTE_FIN)) {
		/* The extra window is granted when the ACK goes (ack_now). */
		s->flags |= SF_ACK_DEFERRED;
		mux_timed_append(&m->ack, s, m->now + m->cfg.ack_delay_ms);
		return 0;
	}
	s->recv_window += extra;
	mux_enter(m);
	mux_emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_ACK, s->id, extra);
	mux_leave(m);
	return 0;
}

void mux_stream_want_writable(struct mux_stream *s)
{
	if (s->send_window == 0)
		s->flags |= SF_WANT_WRITABLE;
}

size_t mux_stream_send_window(const struct mux_stream *s)
{
	if (s->flags & (SF_RESET | SF_LOCAL_FIN | SF_RELEASED) || s->m->closed)
		return 0;
	return s->send_window;
}

/* The payload still to send: the caller's iovecs and a position in them. */
struct write_cursor {
	const struct iovec *iov;
	int iovcnt;
	int idx;    /* current iovec */
	size_t off; /* offset inside it */
};

/* Checks a write and does what must precede its data: the accept of an
 * unaccepted stream and a waiting ACK (just ahead of the data, in the same
 * write). Returns 0 or a negative mux_err. */
static int write_prepare(struct mux_stream *s, int iovcnt)
{
	struct mux *m = s->m;
	if (m->closed)
		return -MUX_E_SHUTDOWN;
	if (s->flags & SF_RESET)
		return -MUX_E_RESET;
	if (s->flags & (SF_LOCAL_FIN | SF_RELEASED))
		return -MUX_E_STREAM_CLOSED;
	if (iovcnt < 0 || iovcnt > MUX_MAX_IOV)
		return -MUX_E_INVAL;
	if (s->flags & SF_UNACCEPTED) {
		int rc = mux_stream_accept(s);
		if (rc < 0)
			return rc;
	}
	if (s->flags & SF_ACK_DEFERRED) {
		mux_enter(m);
		mux_ack_now(m, s);
		mux_leave(m);
	}
	return 0;
}

/* The payload pieces of one frame of at most room bytes, taken from c into
 * out[]; returns how many, *flen their total. */
static int take_payload(struct write_cursor *c, uint32_t room, struct iovec *out, uint32_t *flen)
{
	int n = 0;
	uint32_t len = 0;
	while (len < room && c->idx < c->iovcnt) {
		size_t avail = c->iov[c->idx].iov_len - c->off;
		if (avail == 0) {
			c->idx++;
			c->off = 0;
			continue;
		}
		size_t t = avail < room - len ? avail : room - len;
		out[n].iov_base = (uint8_t *)c->iov[c->idx].iov_base + c->off;
		out[n].iov_len = t;
		n++;
		len += (uint32_t)t;
		c->off += t;
	}
	*flen = len;
	return n;
}

/* Up to WRITE_FRAMES Data frames of s from c into out[] (each a header from
 * hdrs[], then its payload pieces), within the send window, which they
 * take. Returns the iovecs used; *nframes the frames, *total grows by the
 * payload bytes. */
static int build_frames(struct mux_stream *s, struct write_cursor *c,
			uint8_t (*hdrs)[YAMUX_HDR_LEN], struct iovec *out, int *nframes,
			size_t *total)
{
	int nout = 0, nf = 0;
	while (nf < WRITE_FRAMES && s->send_window > 0) {
		while (c->idx < c->iovcnt && c->off >= c->iov[c->idx].iov_len) {
			c->idx++;
			c->off = 0;
		}
		if (c->idx >= c->iovcnt)
			break;
		uint32_t room = s->send_window < s->m->cfg.max_frame ? s->send_window : s->m->cfg.max_frame;
		uint32_t flen = 0;
		int np = take_payload(c, room, out + nout + 1, &flen);
		yamux_hdr_encode(hdrs[nf], YAMUX_DATA, 0, s->id, flen);
		out[nout].iov_base = hdrs[nf];
		out[nout].iov_len = YAMUX_HDR_LEN;
		nout += 1 + np;
		assert(flen <= s->send_window); /* never beyond the peer's window */
		s->send_window -= flen;
		*total += flen;
		nf++;
	}
	*nframes = nf;
	return nout;
}

ssize_t mux_stream_write(struct mux_stream *s, const struct iovec *iov, int iovcnt)
{
	struct mux *m = s->m;
	int rc = write_prepare(s, iovcnt);
	if (rc < 0)
		return rc;

	/* Room for several frames in one emit: each frame is a header plus
	 * at most iovcnt + 1 payload pieces (a split may add one). */
	uint8_t hdrs[WRITE_FRAMES][YAMUX_HDR_LEN];
	struct iovec out[WRITE_FRAMES * (MUX_MAX_IOV + 2)];
	struct write_cursor c = { .iov = iov, .iovcnt = iovcnt };
	size_t total = 0;

	mux_enter(m);
	for (;;) {
		int nframes = 0;
		int nout = build_frames(s, &c, hdrs, out, &nframes, &total);
		if (nout == 0)
			break;
		m->ops.emit(m->ctx, out, nout);
		if (nframes < WRITE_FRAMES)
			break;
	}
	/* Ask for stream_writable if anything is left unsent. */
	if (s->send_window == 0) {
		size_t want = 0;
		for (int i = 0; i < iovcnt; i++)
			want += iov[i].iov_len;
		if (want > total)
			s->flags |= SF_WANT_WRITABLE;
	}
	mux_leave(m);
	return (ssize_t)total;
}

void mux_stream_consumed(struct mux_stream *s, size_t n)
{
	struct mux *m = s->m;
	if (n > s->recv_pending)
		n = s->recv_pending;
	s->recv_pending -= (uint32_t)n;
	assert(m->buffered >= n); /* the session total includes this stream's */
	m->buffered -= n;
	if (m->closed || (s->flags & (SF_RESET | SF_DEAD)))
		return;
	mux_enter(m);
	mux_send_window_update(m, s, 0);
	mux_leave(m);
}

int mux_stream_close(struct mux_stream *s)
{
	struct mux *m = s->m;
	if (s->flags & (SF_LOCAL_FIN | SF_RESET))
		return 0;
	if (m->closed)
		return -MUX_E_SHUTDOWN;
	mux_enter(m);
	mux_ack_now(m, s);
	uint16_t flags = YAMUX_FIN;
	if (s->flags & SF_UNACCEPTED) {
		/* Like yamux: the first frame of an unaccepted stream carries ACK. */
		s->flags &= (uint16_t)~SF_UNACCEPTED;
		m->unaccepted--;
		flags |= YAMUX_ACK;
	}
	s->flags |= SF_LOCAL_FIN;
	mux_emit_frame(m, YAMUX_WINDOW_UPDATE, flags, s->id, 0);
	mux_finish_stream(m, s);
	mux_leave(m);
	return 0;
}

int mux_stream_reset(struct mux_stream *s)
{
	struct mux *m = s->m;
	if (s->flags & SF_RESET)
		return 0;
	s->flags |= SF_RESET;
	if (m->closed)
		return 0;
	mux_enter(m);
	mux_unlist_stream(s); /* a waiting ACK is moot */
	mux_emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_RST, s->id, 0);
	if (s->flags & SF_RELEASED)
		mux_destroy_stream(m, s);
	mux_leave(m);
	return 0;
}

void mux_stream_release(struct mux_stream *s)
{
	if (s == NULL || (s->flags & SF_RELEASED))
		return;
	struct mux *m = s->m;
	mux_enter(m);
	s->flags |= SF_RELEASED;
	m->buffered -= s->recv_pending;
	uint32_t pending = s->recv_pending;
	s->recv_pending = 0;
	if (m->closed || (s->flags & SF_RESET)) {
		mux_destroy_stream(m, s);
	} else if (!(s->flags & SF_LOCAL_FIN)) {
		s->flags |= SF_RESET;
		mux_emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_RST, s->id, 0);
		mux_destroy_stream(m, s);
	} else if (s->flags & SF_REMOTE_FIN) {
		mux_destroy_stream(m, s);
	} else {
		/* Our FIN is out (and with it any waiting ACK), the peer's is
		 * not: linger, crediting data. */
		if (pending)
			mux_send_window_update(m, s, 0);
		mux_timed_append(&m->linger, s, m->now + m->cfg.linger_ms);
	}
	mux_leave(m);
}

uint32_t mux_stream_id(const struct mux_stream *s)
{
	return s->id;
}

void mux_stream_set_udata(struct mux_stream *s, void *udata)
{
	s->udata = udata;
}

void *mux_stream_udata(const struct mux_stream *s)
{
	return s->udata;
}

struct mux *mux_stream_session(const struct mux_stream *s)
{
	return s->m;
}

bool mux_stream_remote_closed(const struct mux_stream *s)
{
	return (s->flags & SF_REMOTE_FIN) != 0;
}

bool mux_stream_local_closed(const struct mux_stream *s)
{
	return (s->flags & SF_LOCAL_FIN) != 0;
}

uint32_t mux_stream_recv_max(const struct mux_stream *s)
{
	return s->recv_max;
}

size_t mux_stream_alloc_size(void)
{
	return sizeof(struct mux_stream);
}
