/*
 * mux: yamux session engine, sans-I/O. See mux.h for the contract.
 *
 * Layout of the state:
 *  - streams live in an open-addressing hash table keyed by id (linear
 *    probing, backward-shift deletion, load <= 1/2); the table is also the
 *    ownership registry: mux_free() frees whatever is in it;
 *  - the input parser is a small state machine: it gathers a 12-byte header
 *    (possibly across calls), then hands Data payload to the application as
 *    it arrives, by reference into the caller's buffer;
 *  - streams released by the application while their FIN is unanswered sit
 *    on a linger list (FIFO, all with the same delay, so the head is the
 *    earliest deadline); accepted streams whose ACK waits (ack_delay_ms)
 *    sit on an ack list the same way, through the same links (a stream's
 *    ACK is out before its FIN, so it is never on both);
 *  - streams are never freed while the engine is inside a call that may
 *    still touch them (m->depth > 0): they go to a dead list reaped when the
 *    outermost call returns.
 */
#include "mux/mux.h"

#include <assert.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "base/list.h"
#include "wire/yamux_frame.h"

/* Stream flags. */
enum {
	SF_SYN_SENT = 1u << 0,	   /* we opened it; ACK not yet received */
	SF_UNACCEPTED = 1u << 1,   /* inbound; we have not sent ACK yet */
	SF_LOCAL_FIN = 1u << 2,	   /* we sent FIN */
	SF_REMOTE_FIN = 1u << 3,   /* peer sent FIN */
	SF_RESET = 1u << 4,	   /* RST sent or received, or session closed */
	SF_RELEASED = 1u << 5,	   /* the application dropped its handle */
	SF_DEAD = 1u << 6,	   /* out of the table, waiting to be freed */
	SF_WANT_WRITABLE = 1u << 7,/* a write found the window empty */
	SF_CLOSE_SEEN = 1u << 8,   /* handled by session_fail */
	SF_ACK_DEFERRED = 1u << 9, /* accepted; the ACK waits on the ack list */
};

struct mux_stream {
	struct mux *m;
	void *udata;
	struct list lnode;		  /* on the linger, ack or dead list */
	uint64_t deadline;		  /* when lingering or a deferred ACK ends */
	uint32_t id;
	uint32_t send_window;
	uint32_t recv_window;  /* credit the peer still has */
	uint32_t recv_max;     /* window granted in total */
	uint32_t recv_pending; /* delivered, not yet consumed */
	uint16_t flags;
};

struct mux {
	struct mux_config cfg;
	struct mux_ops ops;
	void *ctx;

	struct mux_stream **slots;
	uint32_t cap;	/* power of two */
	uint32_t count;

	uint32_t next_id;
	uint32_t syn_inflight;
	uint32_t unaccepted;
	uint64_t extra_reserved; /* window beyond the initial one, all streams */
	uint64_t buffered;	 /* delivered, not consumed, all streams */

	bool closed, local_goaway, remote_goaway;
	int err;
	int depth;

	/* input parser */
	uint8_t hdr_buf[YAMUX_HDR_LEN];
	uint8_t hdr_have;
	bool in_payload;
	uint32_t payload_left;
	uint32_t payload_id;	/* stream the payload belongs to */
	bool payload_stream;	/* payload_id is valid (0 is a legal id) */
	bool payload_discard;	/* credit the payload back instead of delivering */
	bool payload_fin;	/* deliver stream_fin after the payload */

	/* keepalive */
	uint64_t now;
	uint64_t next_ping_at;
	uint64_t ping_sent_at;
	uint64_t last_rx;
	uint32_t ping_id;
	bool ping_outstanding;

	struct list linger; /* released, waiting for the peer's FIN; by deadline */
	struct list ack;    /* accepted, the ACK waiting; by deadline */
	struct list dead;   /* out of the table, freed when the outermost call returns */
};

static const char *const err_text[MUX_E__COUNT] = {
	[MUX_OK] = "ok",
	[MUX_E_VERSION] = "invalid protocol version",
	[MUX_E_TYPE] = "invalid msg type",
	[MUX_E_DUP_STREAM] = "duplicate stream initiated",
	[MUX_E_RECV_WINDOW] = "recv window exceeded",
	[MUX_E_UNEXPECTED_FLAG] = "unexpected flag",
	[MUX_E_REMOTE_PROTO] = "yamux protocol error (remote GoAway 1)",
	[MUX_E_REMOTE_INTERNAL] = "remote yamux internal error (remote GoAway 2)",
	[MUX_E_REMOTE_UNKNOWN] = "unexpected go away received",
	[MUX_E_KEEPALIVE] = "keepalive timeout",
	[MUX_E_EOF] = "connection closed",
	[MUX_E_LOCAL] = "session closed locally",
	[MUX_E_SHUTDOWN] = "session shutdown",
	[MUX_E_REMOTE_GOAWAY] = "remote end is not accepting connections",
	[MUX_E_LOCAL_GOAWAY] = "local end is not accepting connections",
	[MUX_E_EXHAUSTED] = "streams exhausted",
	[MUX_E_TOO_MANY] = "too many open streams",
	[MUX_E_SYN_BACKLOG] = "too many streams waiting for ACK",
	[MUX_E_STREAM_CLOSED] = "stream closed",
	[MUX_E_RESET] = "connection reset",
	[MUX_E_NOMEM] = "out of memory",
	[MUX_E_INVAL] = "invalid argument",
};

const char *mux_strerror(int err)
{
	if (err < 0)
		err = -err;
	if (err >= MUX_E__COUNT || err_text[err] == NULL)
		return "unknown error";
	return err_text[err];
}

void mux_config_default(struct mux_config *c)
{
	memset(c, 0, sizeof(*c));
	c->client = false;
	c->recv_window = 8u * 1024 * 1024;
	c->session_recv_cap = 64ull * 1024 * 1024;
	c->accept_backlog = 256;
	c->max_streams = 16384;
	c->max_syn_inflight = 256;
	c->max_frame = 128u * 1024;
	c->keepalive_ms = 30000;
	c->ping_timeout_ms = 10000;
	c->linger_ms = 30000;
}

/* ---- stream table ---- */

static uint32_t slot_of(uint32_t id, uint32_t cap)
{
	return (id * 2654435761u) & (cap - 1);
}

static struct mux_stream *table_get(const struct mux *m, uint32_t id)
{
	for (uint32_t i = slot_of(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
		struct mux_stream *s = m->slots[i];
		if (s == NULL)
			return NULL;
		if (s->id == id)
			return s;
	}
}

static void table_put_slot(struct mux_stream **slots, uint32_t cap, struct mux_stream *s)
{
	uint32_t i = slot_of(s->id, cap);
	while (slots[i] != NULL)
		i = (i + 1) & (cap - 1);
	slots[i] = s;
}

static int table_resize(struct mux *m, uint32_t ncap);

static int table_insert(struct mux *m, struct mux_stream *s)
{
	if ((m->count + 1) * 2 > m->cap && table_resize(m, m->cap * 2) != 0)
		return -MUX_E_NOMEM;
	table_put_slot(m->slots, m->cap, s);
	m->count++;
	return 0;
}

/* Rehashes into ncap slots; keeps the old table if memory is short. */
static int table_resize(struct mux *m, uint32_t ncap)
{
	struct mux_stream **ns = calloc(ncap, sizeof(*ns));
	if (ns == NULL)
		return -MUX_E_NOMEM;
	for (uint32_t i = 0; i < m->cap; i++)
		if (m->slots[i] != NULL)
			table_put_slot(ns, ncap, m->slots[i]);
	free(m->slots);
	m->slots = ns;
	m->cap = ncap;
	return 0;
}

static void table_remove(struct mux *m, const struct mux_stream *s)
{
	uint32_t mask = m->cap - 1, i = slot_of(s->id, m->cap);
	while (m->slots[i] != s) {
		if (m->slots[i] == NULL)
			return;
		i = (i + 1) & mask;
	}
	m->slots[i] = NULL;
	m->count--;
	/* Backward-shift: move later entries of the cluster into the hole. */
	for (uint32_t j = (i + 1) & mask; m->slots[j] != NULL; j = (j + 1) & mask) {
		uint32_t home = slot_of(m->slots[j]->id, m->cap);
		/* Entry at j may move to i if its home is not in (i, j]. */
		bool in_range = (i < j) ? (home > i && home <= j) : (home > i || home <= j);
		if (!in_range) {
			m->slots[i] = m->slots[j];
			m->slots[j] = NULL;
			i = j;
		}
	}
	/* Give memory back after a burst: a table 8 times too big halves
	 * (growth happens at half full, so this cannot oscillate). Callers
	 * walking the table re-read slots and cap at every step. */
	if (m->cap > 64 && (uint64_t)m->count * 8 < m->cap)
		table_resize(m, m->cap / 2);
}

/* ---- output ---- */

static void emit_frame(struct mux *m, uint8_t type, uint16_t flags, uint32_t id, uint32_t len)
{
	uint8_t hdr[YAMUX_HDR_LEN];
	struct iovec iov = {hdr, sizeof(hdr)};
	yamux_hdr_encode(hdr, type, flags, id, len);
	m->ops.emit(m->ctx, &iov, 1);
}

/* ---- lifecycle helpers ---- */

/* Appends s to a timed list (linger or ack): every entry of one list has
 * the same delay, so appending keeps it sorted by deadline. */
static void timed_append(struct list *head, struct mux_stream *s, uint64_t deadline)
{
	assert(!list_linked(&s->lnode));
	s->deadline = deadline;
	list_add_tail(head, &s->lnode);
}

/* The stream with the earliest deadline on a timed list, or NULL. */
static struct mux_stream *timed_first(const struct list *head)
{
	return list_first_entry(head, struct mux_stream, lnode);
}

/* Off the linger list or the ack list, whichever it is on (never called
 * for a dead stream, which is on the dead list). */
static void stream_unlist(struct mux *m, struct mux_stream *s)
{
	(void)m;
	assert(!(s->flags & SF_DEAD));
	s->flags &= (uint16_t)~SF_ACK_DEFERRED;
	list_del(&s->lnode);
}

/* Takes s out of the session's accounting and the table; frees it now or
 * when the outermost engine call returns. */
static void stream_destroy(struct mux *m, struct mux_stream *s)
{
	if (s->flags & SF_DEAD)
		return;
	stream_unlist(m, s);
	if (s->flags & SF_SYN_SENT)
		m->syn_inflight--;
	if (s->flags & SF_UNACCEPTED)
		m->unaccepted--;
	if (s->recv_max > MUX_INITIAL_WINDOW)
		m->extra_reserved -= s->recv_max - MUX_INITIAL_WINDOW;
	m->buffered -= s->recv_pending;
	s->recv_pending = 0;
	/* The rest of a frame being received for it is discarded, even if a
	 * new stream takes the id before the frame ends. */
	if (m->payload_stream && m->payload_id == s->id)
		m->payload_stream = false;
	table_remove(m, s);
	s->flags |= SF_DEAD | SF_RESET;
	list_add_tail(&m->dead, &s->lnode);
}

static void reap_dead(struct mux *m)
{
	struct mux_stream *s;
	while ((s = list_first_entry(&m->dead, struct mux_stream, lnode)) != NULL) {
		list_del(&s->lnode);
		free(s);
	}
}

static void enter(struct mux *m)
{
	m->depth++;
}

static void leave(struct mux *m)
{
	if (--m->depth == 0)
		reap_dead(m);
}

/* The session dies: every held stream gets stream_reset, then session_closed.
 * Released streams are destroyed. */
static void session_fail(struct mux *m, int err)
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
				stream_destroy(m, s);
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

static void proto_error(struct mux *m, int err)
{
	if (m->closed)
		return;
	emit_frame(m, YAMUX_GO_AWAY, 0, 0, MUX_GOAWAY_PROTO_ERR);
	session_fail(m, err);
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

static struct mux_stream *stream_new(struct mux *m, uint32_t id)
{
	struct mux_stream *s = calloc(1, sizeof(*s));
	if (s == NULL)
		return NULL;
	s->m = m;
	s->id = id;
	s->send_window = MUX_INITIAL_WINDOW;
	s->recv_window = MUX_INITIAL_WINDOW;
	s->recv_max = MUX_INITIAL_WINDOW;
	if (table_insert(m, s) != 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* Both directions ended and the application let go: forget the stream. */
static void maybe_finish(struct mux *m, struct mux_stream *s)
{
	if ((s->flags & SF_RELEASED) && (s->flags & SF_LOCAL_FIN) && (s->flags & SF_REMOTE_FIN))
		stream_destroy(m, s);
}

/* Sends a WindowUpdate when the credit to return is at least half the
 * window (hashicorp/yamux's rule) or flags must go out. */
static void send_window_update(struct mux *m, struct mux_stream *s, uint16_t flags)
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
	emit_frame(m, YAMUX_WINDOW_UPDATE, flags, s->id, delta);
}

/* Sends a waiting ACK now: WindowUpdate|ACK with the extra window plus the
 * credit for what was consumed meanwhile. */
static void ack_now(struct mux *m, struct mux_stream *s)
{
	if (!(s->flags & SF_ACK_DEFERRED))
		return;
	stream_unlist(m, s);
	send_window_update(m, s, YAMUX_ACK);
}

/* ---- public: session ---- */

struct mux *mux_new(const struct mux_config *cfg, const struct mux_ops *ops, void *ctx, uint64_t now_ms)
{
	struct mux *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	if (cfg)
		m->cfg = *cfg;
	else
		mux_config_default(&m->cfg);
	if (m->cfg.recv_window < MUX_INITIAL_WINDOW)
		m->cfg.recv_window = MUX_INITIAL_WINDOW;
	if (m->cfg.accept_backlog == 0)
		m->cfg.accept_backlog = 256;
	if (m->cfg.max_streams == 0)
		m->cfg.max_streams = 16384;
	if (m->cfg.max_syn_inflight == 0)
		m->cfg.max_syn_inflight = 256;
	if (m->cfg.max_frame == 0)
		m->cfg.max_frame = 128u * 1024;
	if (m->cfg.ping_timeout_ms == 0)
		m->cfg.ping_timeout_ms = 10000;
	if (m->cfg.linger_ms == 0)
		m->cfg.linger_ms = 30000;
	m->ops = *ops;
	m->ctx = ctx;
	list_init(&m->linger);
	list_init(&m->ack);
	list_init(&m->dead);
	m->cap = 16;
	m->slots = calloc(m->cap, sizeof(*m->slots));
	if (m->slots == NULL) {
		free(m);
		return NULL;
	}
	m->next_id = m->cfg.client ? 1 : 2;
	if (m->cfg.first_stream_id > 2) {
		uint32_t f = m->cfg.first_stream_id;
		if ((f & 1u) != (m->cfg.client ? 1u : 0u))
			f--; /* keep the role's parity */
		m->next_id = f;
	}
	m->now = now_ms;
	m->last_rx = now_ms;
	m->next_ping_at = m->cfg.keepalive_ms ? now_ms + m->cfg.keepalive_ms : 0;
	return m;
}

void mux_free(struct mux *m)
{
	if (m == NULL)
		return;
	for (uint32_t i = 0; i < m->cap; i++)
		free(m->slots[i]);
	free(m->slots);
	reap_dead(m);
	free(m);
}

bool mux_is_closed(const struct mux *m)
{
	return m->closed;
}

int mux_error(const struct mux *m)
{
	return m->err;
}

bool mux_remote_go_away(const struct mux *m)
{
	return m->remote_goaway;
}

size_t mux_num_streams(const struct mux *m)
{
	return m->count;
}

uint64_t mux_buffered_bytes(const struct mux *m)
{
	return m->buffered;
}

void mux_close(struct mux *m, int err)
{
	enter(m);
	session_fail(m, err ? err : MUX_E_LOCAL);
	leave(m);
}

void mux_input_eof(struct mux *m)
{
	mux_close(m, MUX_E_EOF);
}

int mux_go_away(struct mux *m, uint32_t code)
{
	if (m->closed)
		return -MUX_E_SHUTDOWN;
	enter(m);
	emit_frame(m, YAMUX_GO_AWAY, 0, 0, code);
	if (code == MUX_GOAWAY_NORMAL)
		m->local_goaway = true;
	else
		session_fail(m, MUX_E_LOCAL);
	leave(m);
	return 0;
}

int mux_ping(struct mux *m, uint64_t now_ms)
{
	if (m->closed)
		return -MUX_E_SHUTDOWN;
	m->now = now_ms;
	m->ping_id++;
	m->ping_outstanding = true;
	m->ping_sent_at = now_ms;
	emit_frame(m, YAMUX_PING, YAMUX_SYN, 0, m->ping_id);
	return 0;
}

int mux_tick(struct mux *m, uint64_t now_ms)
{
	if (m->closed)
		return -m->err;
	enter(m);
	m->now = now_ms;
	if (m->ping_outstanding) {
		uint64_t since = m->ping_sent_at > m->last_rx ? m->ping_sent_at : m->last_rx;
		if (now_ms >= since + m->cfg.ping_timeout_ms) {
			session_fail(m, MUX_E_KEEPALIVE);
			leave(m);
			return -MUX_E_KEEPALIVE;
		}
	}
	if (m->cfg.keepalive_ms && now_ms >= m->next_ping_at) {
		if (!m->ping_outstanding)
			mux_ping(m, now_ms);
		m->next_ping_at = now_ms + m->cfg.keepalive_ms;
	}
	struct mux_stream *s;
	while ((s = timed_first(&m->linger)) != NULL && s->deadline <= now_ms) {
		emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_RST, s->id, 0);
		stream_destroy(m, s);
	}
	while ((s = timed_first(&m->ack)) != NULL && s->deadline <= now_ms)
		ack_now(m, s);
	leave(m);
	return 0;
}

int64_t mux_next_timeout(const struct mux *m, uint64_t now_ms)
{
	if (m->closed)
		return -1;
	uint64_t at = UINT64_MAX;
	if (m->cfg.keepalive_ms)
		at = m->next_ping_at;
	if (m->ping_outstanding) {
		uint64_t since = m->ping_sent_at > m->last_rx ? m->ping_sent_at : m->last_rx;
		uint64_t dl = since + m->cfg.ping_timeout_ms;
		if (dl < at)
			at = dl;
	}
	const struct mux_stream *first = timed_first(&m->linger);
	if (first != NULL && first->deadline < at)
		at = first->deadline;
	first = timed_first(&m->ack);
	if (first != NULL && first->deadline < at)
		at = first->deadline;
	if (at == UINT64_MAX)
		return -1;
	return at <= now_ms ? 0 : (int64_t)(at - now_ms);
}

/* ---- input ---- */

/* Inbound SYN. Returns 0, or a negative error after which the session is
 * closed. */
static int incoming_stream(struct mux *m, uint32_t id)
{
	if (m->local_goaway) {
		emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_RST, id, 0);
		return 0;
	}
	if (table_get(m, id) != NULL) {
		proto_error(m, MUX_E_DUP_STREAM);
		return -MUX_E_DUP_STREAM;
	}
	if (m->unaccepted >= m->cfg.accept_backlog || m->count >= m->cfg.max_streams) {
		emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_RST, id, 0);
		return 0;
	}
	struct mux_stream *s = stream_new(m, id);
	if (s == NULL) {
		emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_RST, id, 0);
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
			stream_destroy(m, s);
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
		maybe_finish(m, s);
		return;
	}
	if (m->ops.stream_fin)
		m->ops.stream_fin(m->ctx, s);
}

/* A complete header is in m->hdr_buf. */
static int handle_header(struct mux *m)
{
	struct yamux_hdr h;
	int rc = yamux_hdr_decode(m->hdr_buf, YAMUX_HDR_LEN, &h);
	if (rc == YAMUX_DECODE_BAD_VERSION) {
		session_fail(m, MUX_E_VERSION);
		return -MUX_E_VERSION;
	}
	if (rc == YAMUX_DECODE_BAD_TYPE) {
		session_fail(m, MUX_E_TYPE);
		return -MUX_E_TYPE;
	}
	switch (h.type) {
	case YAMUX_PING:
		if (h.flags & YAMUX_SYN) {
			emit_frame(m, YAMUX_PING, YAMUX_ACK, 0, h.length);
		} else if (m->ping_outstanding && h.length == m->ping_id) {
			m->ping_outstanding = false;
			if (m->ops.pong)
				m->ops.pong(m->ctx, (uint32_t)(m->now - m->ping_sent_at));
		}
		return 0;
	case YAMUX_GO_AWAY:
		switch (h.length) {
		case MUX_GOAWAY_NORMAL:
			if (!m->remote_goaway) {
				m->remote_goaway = true;
				if (m->ops.remote_go_away)
					m->ops.remote_go_away(m->ctx);
			}
			return 0;
		case MUX_GOAWAY_PROTO_ERR:
			session_fail(m, MUX_E_REMOTE_PROTO);
			return -MUX_E_REMOTE_PROTO;
		case MUX_GOAWAY_INTERNAL_ERR:
			session_fail(m, MUX_E_REMOTE_INTERNAL);
			return -MUX_E_REMOTE_INTERNAL;
		default:
			session_fail(m, MUX_E_REMOTE_UNKNOWN);
			return -MUX_E_REMOTE_UNKNOWN;
		}
	default:
		break;
	}

	/* Data or WindowUpdate. */
	bool data = h.type == YAMUX_DATA;
	if (data && h.length > 0) {
		/* Arm the payload state first, so that whatever happens
		 * below, the payload bytes are skipped, not parsed. */
		m->in_payload = true;
		m->payload_left = h.length;
		m->payload_stream = false;
		m->payload_discard = false;
		m->payload_fin = false;
	}
	if (h.flags & YAMUX_SYN) {
		rc = incoming_stream(m, h.stream_id);
		if (rc < 0 || m->closed)
			return rc < 0 ? rc : -m->err;
	}
	struct mux_stream *s = table_get(m, h.stream_id);
	if (s == NULL || (s->flags & SF_RESET))
		return 0; /* unknown or dead stream: payload is discarded */

	if (data && h.length > s->recv_window) {
		/* Checked before the flags' side effects so nothing is
		 * delivered for a frame that kills the session (Go checks the
		 * flags first; both end in GoAway 1). */
		proto_error(m, MUX_E_RECV_WINDOW);
		return -MUX_E_RECV_WINDOW;
	}
	bool after_fin = (s->flags & SF_REMOTE_FIN) != 0;
	rc = process_flags(m, s, h.flags);
	if (rc < 0 || m->closed)
		return rc < 0 ? rc : -m->err;
	bool fin = rc == 1;
	if (s->flags & (SF_RESET | SF_DEAD))
		return 0;

	if (!data) {
		uint32_t before = s->send_window;
		uint64_t w = (uint64_t)s->send_window + h.length;
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
	if (h.length == 0) {
		if (fin)
			deliver_fin(m, s);
		return m->closed ? -m->err : 0;
	}
	assert(h.length <= s->recv_window); /* checked above: a protocol error */
	s->recv_window -= h.length;
	m->payload_id = s->id;
	m->payload_stream = true;
	/* yamux accepts data after the peer's FIN; the application has had its
	 * end-of-stream, so such bytes are credited back and dropped. */
	m->payload_discard = after_fin;
	m->payload_fin = fin;
	return 0;
}

/* Hands payload bytes to the stream the current frame belongs to. */
static void handle_payload(struct mux *m, const uint8_t *p, uint32_t n, bool last)
{
	struct mux_stream *s = m->payload_stream ? table_get(m, m->payload_id) : NULL;
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
			ack_now(m, s);
	}
	if (last && m->payload_fin && m->payload_stream && !m->closed) {
		s = table_get(m, m->payload_id);
		if (s != NULL)
			deliver_fin(m, s);
	}
}

int mux_input(struct mux *m, const uint8_t *p, size_t n, uint64_t now_ms)
{
	if (m->closed)
		return -m->err;
	enter(m);
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
	leave(m);
	return rc;
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
		while (m->next_id < UINT32_MAX - 1 && table_get(m, m->next_id) != NULL)
			m->next_id += 2;
		if (m->next_id >= UINT32_MAX - 1)
			e = MUX_E_EXHAUSTED;
	}
	if (e == 0) {
		s = stream_new(m, m->next_id);
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
	enter(m);
	emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_SYN, s->id, s->recv_max - MUX_INITIAL_WINDOW);
	leave(m);
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
		timed_append(&m->ack, s, m->now + m->cfg.ack_delay_ms);
		return 0;
	}
	s->recv_window += extra;
	enter(m);
	emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_ACK, s->id, extra);
	leave(m);
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

ssize_t mux_stream_write(struct mux_stream *s, const struct iovec *iov, int iovcnt)
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
		enter(m);
		ack_now(m, s); /* just ahead of the data, in the same write */
		leave(m);
	}

	/* Room for several frames in one emit: each frame is a header plus
	 * at most iovcnt + 1 payload pieces (a split may add one). */
	enum { FRAMES = 8 };
	uint8_t hdrs[FRAMES][YAMUX_HDR_LEN];
	struct iovec out[FRAMES * (MUX_MAX_IOV + 2)];
	int idx = 0;			/* current input iovec */
	size_t off = 0;			/* offset inside it */
	size_t total = 0;

	enter(m);
	for (;;) {
		int nout = 0, nframes = 0;
		while (nframes < FRAMES && s->send_window > 0) {
			while (idx < iovcnt && off >= iov[idx].iov_len) {
				idx++;
				off = 0;
			}
			if (idx >= iovcnt)
				break;
			uint32_t room = s->send_window < m->cfg.max_frame ? s->send_window : m->cfg.max_frame;
			int hdr_at = nout++;
			uint32_t flen = 0;
			while (flen < room && idx < iovcnt) {
				size_t avail = iov[idx].iov_len - off;
				if (avail == 0) {
					idx++;
					off = 0;
					continue;
				}
				size_t t = avail < room - flen ? avail : room - flen;
				out[nout].iov_base = (uint8_t *)iov[idx].iov_base + off;
				out[nout].iov_len = t;
				nout++;
				flen += (uint32_t)t;
				off += t;
			}
			yamux_hdr_encode(hdrs[nframes], YAMUX_DATA, 0, s->id, flen);
			out[hdr_at].iov_base = hdrs[nframes];
			out[hdr_at].iov_len = YAMUX_HDR_LEN;
			assert(flen <= s->send_window); /* never beyond the peer's window */
			s->send_window -= flen;
			total += flen;
			nframes++;
		}
		if (nout == 0)
			break;
		m->ops.emit(m->ctx, out, nout);
		if (nframes < FRAMES)
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
	leave(m);
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
	enter(m);
	send_window_update(m, s, 0);
	leave(m);
}

int mux_stream_close(struct mux_stream *s)
{
	struct mux *m = s->m;
	if (s->flags & (SF_LOCAL_FIN | SF_RESET))
		return 0;
	if (m->closed)
		return -MUX_E_SHUTDOWN;
	enter(m);
	ack_now(m, s);
	uint16_t flags = YAMUX_FIN;
	if (s->flags & SF_UNACCEPTED) {
		/* Like yamux: the first frame of an unaccepted stream carries ACK. */
		s->flags &= (uint16_t)~SF_UNACCEPTED;
		m->unaccepted--;
		flags |= YAMUX_ACK;
	}
	s->flags |= SF_LOCAL_FIN;
	emit_frame(m, YAMUX_WINDOW_UPDATE, flags, s->id, 0);
	maybe_finish(m, s);
	leave(m);
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
	enter(m);
	stream_unlist(m, s); /* a waiting ACK is moot */
	emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_RST, s->id, 0);
	if (s->flags & SF_RELEASED)
		stream_destroy(m, s);
	leave(m);
	return 0;
}

void mux_stream_release(struct mux_stream *s)
{
	if (s == NULL || (s->flags & SF_RELEASED))
		return;
	struct mux *m = s->m;
	enter(m);
	s->flags |= SF_RELEASED;
	m->buffered -= s->recv_pending;
	uint32_t pending = s->recv_pending;
	s->recv_pending = 0;
	if (m->closed || (s->flags & SF_RESET)) {
		stream_destroy(m, s);
	} else if (!(s->flags & SF_LOCAL_FIN)) {
		s->flags |= SF_RESET;
		emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_RST, s->id, 0);
		stream_destroy(m, s);
	} else if (s->flags & SF_REMOTE_FIN) {
		stream_destroy(m, s);
	} else {
		/* Our FIN is out (and with it any waiting ACK), the peer's is
		 * not: linger, crediting data. */
		if (pending)
			send_window_update(m, s, 0);
		timed_append(&m->linger, s, m->now + m->cfg.linger_ms);
	}
	leave(m);
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
