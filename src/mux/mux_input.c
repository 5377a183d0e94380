/*
 * mux_input: the frame parser behind mux_input(). It gathers 12-byte
 * headers (possibly across calls), answers Pings, applies GoAway, opens
 * inbound streams on SYN, applies ACK/FIN/RST and window updates, and hands
 * Data payload to the application by reference into the caller's buffer,
 * as it arrives. Protocol errors end the session here: GoAway 1 for a
 * peer's mistake (duplicate SYN, data beyond the window, a second FIN), no
 * GoAway for a frame that is not yamux at all (version, type). Calls down
 * to mux_stream.c and mux_table.c; see mux_internal.h.
 */
#include <assert.h>
#include <string.h>

#include "mux/mux_internal.h"
/* A peer's protocol mistake: GoAway 1, then the session ends (err). */
static void proto_error(struct mux *m, int err)
{
	if (m->closed)
		return;
	mux_emit_frame(m, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	mux_fail_session(m, err);
}

/* Inbound SYN. Returns 0, or a negative error after which the session is
 * closed. */
static int incoming_stream(struct mux *m, uint32_t id)
{
	if (m->local_goaway) {
		mux_emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_RST, id, 0);
		return 0;
	}
	if (mux_table_get(m, id) != NULL) {
		proto_error(m, MUX_E_DUP_STREAM);
		return -MUX_E_DUP_STREAM;
	}
	if (m->unaccepted >= m->cfg.accept_backlog || m->count >= m->cfg.max_streams) {
		mux_emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_RST, id, 0);
		return 0;
	}
	struct mux_stream *s = mux_new_stream(m, id);
	if (s == NULL) {
		mux_emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_RST, id, 0);
		return 0;
	}
	s->flags |= SF_UNACCEPTED;
	m->unaccepted++;
	if (m->ops.stream_open)
		m->ops.stream_open(m->ctx, s);
	else
		mux_stream_release(s);
	return 0;
}

/* Applies ACK, FIN, RST in that order. FIN is only validated and recorded
 * here; the stream_fin event is sent by the caller (after any payload).
 * Returns 1 if a FIN event is due, 0 if not, negative on a session error. */
static int process_flags(struct mux *m, struct mux_stream *s, uint16_t flags)
{
	int fin = 0;
	if (flags & YAMUX_ACK) {
		if (s->flags & SF_SYN_SENT) {
			s->flags &= (uint16_t)~SF_SYN_SENT;
			m->syn_inflight--;
			if (!(s->flags & SF_RELEASED) && m->ops.stream_established)
				m->ops.stream_established(m->ctx, s);
			if (m->closed || (s->flags & SF_RESET))
				return 0;
		}
	}
	if (flags & YAMUX_FIN) {
		if (s->flags & SF_REMOTE_FIN) {
			proto_error(m, MUX_E_UNEXPECTED_FLAG);
			return -MUX_E_UNEXPECTED_FLAG;
		}
		s->flags |= SF_REMOTE_FIN;
		fin = 1;
	}
	if (flags & YAMUX_RST) {
		s->flags |= SF_RESET;
		if (s->flags & SF_RELEASED) {
			mux_destroy_stream(m, s);
		} else if (m->ops.stream_reset) {
			m->ops.stream_reset(m->ctx, s, MUX_E_RESET);
		}
		return 0;
	}
	return fin;
}

static void deliver_fin(struct mux *m, struct mux_stream *s)
{
	if (s->flags & (SF_RESET | SF_DEAD))
		return;
	if (s->flags & SF_RELEASED) {
		mux_finish_stream(m, s);
		return;
	}
	if (m->ops.stream_fin)
		m->ops.stream_fin(m->ctx, s);
}

/* Ping: answer a SYN; an ACK with our outstanding id is the pong. */
static int handle_ping(struct mux *m, const struct yamux_hdr *h)
{
	if (h->flags & YAMUX_SYN) {
		mux_emit_frame(m, YAMUX_PING, YAMUX_ACK, 0, h->length);
	} else if (m->ping_outstanding && h->length == m->ping_id) {
		m->ping_outstanding = false;
		if (m->ops.pong)
			m->ops.pong(m->ctx, (uint32_t)(m->now - m->ping_sent_at));
	}
	return 0;
}

/* GoAway 0 stops our opens; any other code ends the session. */
static int handle_go_away(struct mux *m, const struct yamux_hdr *h)
{
	switch (h->length) {
	case MUX_GOAWAY_NORMAL:
		if (!m->remote_goaway) {
			m->remote_goaway = true;
			if (m->ops.remote_go_away)
				m->ops.remote_go_away(m->ctx);
		}
		return 0;
	case MUX_GOAWAY_PROTO_ERR:
		mux_fail_session(m, MUX_E_REMOTE_PROTO);
		return -MUX_E_REMOTE_PROTO;
	case MUX_GOAWAY_INTERNAL_ERR:
		mux_fail_session(m, MUX_E_REMOTE_INTERNAL);
		return -MUX_E_REMOTE_INTERNAL;
	default:
		mux_fail_session(m, MUX_E_REMOTE_UNKNOWN);
		return -MUX_E_REMOTE_UNKNOWN;
	}
}

/* A WindowUpdate for a live stream, its flags applied (fin: a FIN came
 * with it): the send window grows, stream_writable if it reopened. */
static int handle_window_update(struct mux *m, struct mux_stream *s, uint32_t delta, bool fin)
{
	uint32_t before = s->send_window;
	uint64_t w = (uint64_t)s->send_window + delta;
	s->send_window = w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
	if (fin)
		deliver_fin(m, s);
	if (before == 0 && s->send_window > 0 && (s->flags & SF_WANT_WRITABLE) &&
	    !(s->flags & (SF_RESET | SF_DEAD | SF_RELEASED | SF_LOCAL_FIN)) && !m->closed) {
		s->flags &= (uint16_t)~SF_WANT_WRITABLE;
		if (m->ops.stream_writable)
			m->ops.stream_writable(m->ctx, s);
	}
	return m->closed ? -m->err : 0;
}

/* Data or WindowUpdate: SYN, flags, window, then the payload state for the
 * bytes that follow a Data header. */
static int handle_stream_frame(struct mux *m, const struct yamux_hdr *h)
{
	int rc;
	bool data = h->type == YAMUX_DATA;
	if (data && h->length > 0) {
		/* Arm the payload state first, so that whatever happens
		 * below, the payload bytes are skipped, not parsed. */
		m->in_payload = true;
		m->payload_left = h->length;
		m->payload_stream = false;
		m->payload_discard = false;
		m->payload_fin = false;
	}
	if (h->flags & YAMUX_SYN) {
		rc = incoming_stream(m, h->stream_id);
		if (rc < 0 || m->closed)
			return rc < 0 ? rc : -m->err;
	}
	struct mux_stream *s = mux_table_get(m, h->stream_id);
	if (s == NULL || (s->flags & SF_RESET))
		return 0; /* unknown or dead stream: payload is discarded */

	if (data && h->length > s->recv_window) {
		/* Checked before the flags' side effects so nothing is
		 * delivered for a frame that kills the session (Go checks the
		 * flags first; both end in GoAway 1). */
		proto_error(m, MUX_E_RECV_WINDOW);
		return -MUX_E_RECV_WINDOW;
	}
	bool after_fin = (s->flags & SF_REMOTE_FIN) != 0;
	rc = process_flags(m, s, h->flags);
	if (rc < 0 || m->closed)
		return rc < 0 ? rc : -m->err;
	bool fin = rc == 1;
	if (s->flags & (SF_RESET | SF_DEAD))
		return 0;

	if (!data)
		return handle_window_update(m, s, h->length, fin);
	if (h->length == 0) {
		if (fin)
			deliver_fin(m, s);
		return m->closed ? -m->err : 0;
	}
	assert(h->length <= s->recv_window); /* checked above: a protocol error */
	s->recv_window -= h->length;
	m->payload_id = s->id;
	m->payload_stream = true;
	/* yamux accepts data after the peer's FIN; the application has had its
	 * end-of-stream, so such bytes are credited back and dropped. */
	m->payload_discard = after_fin;
	m->payload_fin = fin;
	return 0;
}

/* A complete header is in m->hdr_buf. Returns 0, or a negative mux_err
 * when the session is (now) closed. */
static int handle_header(struct mux *m)
{
	struct yamux_hdr h;
	int rc = yamux_hdr_decode(m->hdr_buf, YAMUX_HDR_LEN, &h);
	if (rc == YAMUX_DECODE_BAD_VERSION) {
		mux_fail_session(m, MUX_E_VERSION);
		return -MUX_E_VERSION;
	}
	if (rc == YAMUX_DECODE_BAD_TYPE) {
		mux_fail_session(m, MUX_E_TYPE);
		return -MUX_E_TYPE;
	}
	switch (h.type) {
	case YAMUX_PING:
		return handle_ping(m, &h);
	case YAMUX_GO_AWAY:
		return handle_go_away(m, &h);
	default:
		return handle_stream_frame(m, &h);
	}
}

/* Hands payload bytes to the stream the current frame belongs to. */
static void handle_payload(struct mux *m, const uint8_t *p, uint32_t n, bool last)
{
	struct mux_stream *s = m->payload_stream ? mux_table_get(m, m->payload_id) : NULL;
	if (s != NULL && !(s->flags & (SF_RESET | SF_DEAD))) {
		s->recv_pending += n;
		m->buffered += n;
		if ((s->flags & SF_RELEASED) || m->payload_discard)
			mux_stream_consumed(s, n); /* lingering or past FIN */
		else if (m->ops.stream_data)
			m->ops.stream_data(m->ctx, s, p, n);
		/* The peer knows only its initial credit until the ACK: send it
		 * before that runs low. */
		if ((s->flags & SF_ACK_DEFERRED) && s->recv_window < MUX_INITIAL_WINDOW / 2 && !m->closed)
			mux_ack_now(m, s);
	}
	if (last && m->payload_fin && m->payload_stream && !m->closed) {
		s = mux_table_get(m, m->payload_id);
		if (s != NULL)
			deliver_fin(m, s);
	}
}

int mux_input(struct mux *m, const uint8_t *p, size_t n, uint64_t now_ms)
{
	if (m->closed)
		return -m->err;
	mux_enter(m);
	m->now = now_ms;
	if (n > 0)
		m->last_rx = now_ms;
	int rc = 0;
	while (n > 0 && !m->closed) {
		if (m->in_payload) {
			uint32_t take = m->payload_left < n ? m->payload_left : (uint32_t)n;
			m->payload_left -= take;
			bool last = m->payload_left == 0;
			if (last)
				m->in_payload = false;
			handle_payload(m, p, take, last);
			p += take;
			n -= take;
			continue;
		}
		size_t want = YAMUX_HDR_LEN - m->hdr_have;
		size_t take = want < n ? want : n;
		memcpy(m->hdr_buf + m->hdr_have, p, take);
		m->hdr_have = (uint8_t)(m->hdr_have + take);
		p += take;
		n -= take;
		if (m->hdr_have < YAMUX_HDR_LEN)
			break;
		m->hdr_have = 0;
		rc = handle_header(m);
		if (rc < 0)
			break;
	}
	if (m->closed && rc == 0)
		rc = -m->err;
	mux_leave(m);
	return rc;
}
