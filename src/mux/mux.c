/*
 * mux: yamux session engine, sans-I/O. See mux.h for the contract and
 * mux_internal.h for the state and how the pieces divide the work.
 *
 * This file is the session: error texts, configuration, creation and
 * teardown, the getters, mux_close / mux_go_away / mux_ping, and the timers
 * mux_tick drives (keepalive pings and their deadline, lingering streams,
 * deferred ACKs). Input is parsed in mux_input.c, streams are operated in
 * mux_stream.c and registered in mux_table.c.
 */
#include "mux/mux.h"

#include <stdlib.h>
#include <string.h>

#include "mux/mux_internal.h"

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
	mux_reap_dead(m);
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
	mux_enter(m);
	mux_fail_session(m, err ? err : MUX_E_LOCAL);
	mux_leave(m);
}

void mux_input_eof(struct mux *m)
{
	mux_close(m, MUX_E_EOF);
}

int mux_go_away(struct mux *m, uint32_t code)
{
	if (m->closed)
		return -MUX_E_SHUTDOWN;
	mux_enter(m);
	mux_emit_frame(m, YAMUX_GO_AWAY, 0, 0, code);
	if (code == MUX_GOAWAY_NORMAL)
		m->local_goaway = true;
	else
		mux_fail_session(m, MUX_E_LOCAL);
	mux_leave(m);
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
	mux_emit_frame(m, YAMUX_PING, YAMUX_SYN, 0, m->ping_id);
	return 0;
}

int mux_tick(struct mux *m, uint64_t now_ms)
{
	if (m->closed)
		return -m->err;
	mux_enter(m);
	m->now = now_ms;
	if (m->ping_outstanding) {
		uint64_t since = m->ping_sent_at > m->last_rx ? m->ping_sent_at : m->last_rx;
		if (now_ms >= since + m->cfg.ping_timeout_ms) {
			mux_fail_session(m, MUX_E_KEEPALIVE);
			mux_leave(m);
			return -MUX_E_KEEPALIVE;
		}
	}
	if (m->cfg.keepalive_ms && now_ms >= m->next_ping_at) {
		if (!m->ping_outstanding)
			mux_ping(m, now_ms);
		m->next_ping_at = now_ms + m->cfg.keepalive_ms;
	}
	struct mux_stream *s;
	while ((s = mux_timed_first(&m->linger)) != NULL && s->deadline <= now_ms) {
		mux_emit_frame(m, YAMUX_WINDOW_UPDATE, YAMUX_RST, s->id, 0);
		mux_destroy_stream(m, s);
	}
	while ((s = mux_timed_first(&m->ack)) != NULL && s->deadline <= now_ms)
		mux_ack_now(m, s);
	mux_leave(m);
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
	const struct mux_stream *first = mux_timed_first(&m->linger);
	if (first != NULL && first->deadline < at)
		at = first->deadline;
	first = mux_timed_first(&m->ack);
	if (first != NULL && first->deadline < at)
		at = first->deadline;
	if (at == UINT64_MAX)
		return -1;
	return at <= now_ms ? 0 : (int64_t)(at - now_ms);
}
