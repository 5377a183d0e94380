/*
 * mux_internal: what the pieces of the yamux engine share (src/mux/ only).
 * mux.h is the contract; this is the layout behind it.
 *
 *   mux.c         the session: config, new/free, getters, close, GoAway,
 *     |           pings and the keepalive/linger/ACK timers (mux_tick)
 *     | mux_input()
 *   mux_input.c   the frame parser: header gathering, Ping/GoAway, SYN,
 *     |           flags, window updates, payload delivery, protocol errors
 *     | mux_fail_session(), mux_ack_now(), mux_finish_stream(), ...
 *   mux_stream.c  the stream operations of mux.h (open, accept, write,
 *     |           consume, close, reset, release, getters), receive credit
 *     |           and the session's end (every stream told, once)
 *     | mux_new_stream(), mux_destroy_stream(), mux_table_*(), ...
 *   mux_table.c   the stream registry: the hash table keyed by id, the
 *                 timed lists (linger, ack) and the dead list
 *
 * Calls go down only. The engine's upward calls are the application's
 * mux_ops callbacks; a callback may re-enter the stream operations and
 * mux_go_away() (mux.h, "Re-entrancy"), which is why streams are freed only
 * when the outermost call returns (mux_enter / mux_leave).
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
#ifndef THRESHOLD_MUX_INTERNAL_H
#define THRESHOLD_MUX_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/list.h"
#include "mux/mux.h"
#include "wire/yamux_frame.h"

/* Stream flags. */
enum {
	SF_SYN_SENT = 1u << 0,	    /* we opened it; ACK not yet received */
	SF_UNACCEPTED = 1u << 1,    /* inbound; we have not sent ACK yet */
	SF_LOCAL_FIN = 1u << 2,	    /* we sent FIN */
	SF_REMOTE_FIN = 1u << 3,    /* peer sent FIN */
	SF_RESET = 1u << 4,	    /* RST sent or received, or session closed */
	SF_RELEASED = 1u << 5,	    /* the application dropped its handle */
	SF_DEAD = 1u << 6,	    /* out of the table, waiting to be freed */
	SF_WANT_WRITABLE = 1u << 7, /* a write found the window empty */
	SF_CLOSE_SEEN = 1u << 8,    /* handled by mux_fail_session */
	SF_ACK_DEFERRED = 1u << 9,  /* accepted; the ACK waits on the ack list */
};

struct mux_stream {
	struct mux *m;
	void *udata;
	struct list lnode; /* on the linger, ack or dead list */
	uint64_t deadline; /* when lingering or a deferred ACK ends */
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
	uint32_t cap; /* power of two */
	uint32_t count;

	uint32_t next_id;
	uint32_t syn_inflight;
	uint32_t unaccepted;
	uint64_t extra_reserved; /* window beyond the initial one, all streams */
	uint64_t buffered;	 /* delivered, not consumed, all streams */

	bool closed, local_goaway, remote_goaway;
	int err;
	int depth;

	/* input parser (mux_input.c; mux_stream.c and mux_table.c read it) */
	uint8_t hdr_buf[YAMUX_HDR_LEN];
	uint8_t hdr_have;
	bool in_payload;
	uint32_t payload_left;
	uint32_t payload_id;  /* stream the payload belongs to */
	bool payload_stream;  /* payload_id is valid (0 is a legal id) */
	bool payload_discard; /* credit the payload back instead of delivering */
	bool payload_fin;     /* deliver stream_fin after the payload */

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

/* ---- mux_table.c: the stream registry ---- */

static inline uint32_t mux_slot_of(uint32_t id, uint32_t cap)
{
	return (id * 2654435761u) & (cap - 1);
}

/* The stream with this id in the table (released and lingering ones
 * included, dead ones not), or NULL. Inline: every frame looks one up. */
static inline struct mux_stream *mux_table_get(const struct mux *m, uint32_t id)
{
	for (uint32_t i = mux_slot_of(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
		struct mux_stream *s = m->slots[i];
		if (s == NULL)
			return NULL;
		if (s->id == id)
			return s;
	}
}

/* A new stream with the initial windows, in the table; NULL when memory is
 * short (nothing changed). */
struct mux_stream *mux_new_stream(struct mux *m, uint32_t id);
/* Takes s out of the session's accounting and the table; it is freed when
 * the outermost engine call returns (mux_leave). Idempotent. */
void mux_destroy_stream(struct mux *m, struct mux_stream *s);
/* Frees the dead list. */
void mux_reap_dead(struct mux *m);
/* Appends s to a timed list (linger or ack): every entry of one list has
 * the same delay, so appending keeps it sorted by deadline. */
void mux_timed_append(struct list *head, struct mux_stream *s, uint64_t deadline);
/* The stream with the earliest deadline on a timed list, or NULL. */
struct mux_stream *mux_timed_first(const struct list *head);
/* Off the linger list or the ack list, whichever it is on (never called
 * for a dead stream, which is on the dead list). */
void mux_unlist_stream(struct mux_stream *s);

/* ---- mux_stream.c: credit, stream ends, the session's end ---- */

/* Sends a WindowUpdate when the credit to return is at least half the
 * window (hashicorp/yamux's rule) or flags must go out. */
void mux_send_window_update(struct mux *m, struct mux_stream *s, uint16_t flags);
/* Sends a waiting ACK now: WindowUpdate|ACK with the extra window plus the
 * credit for what was consumed meanwhile. No-op without a waiting ACK. */
void mux_ack_now(struct mux *m, struct mux_stream *s);
/* Both directions ended and the application let go: forget the stream. */
void mux_finish_stream(struct mux *m, struct mux_stream *s);
/* The session dies: every held stream gets stream_reset, then
 * session_closed. Released streams are destroyed. Once. */
void mux_fail_session(struct mux *m, int err);

/* ---- mux_input.c: the frame parser ---- */
/* (mux_input() and its helpers; the entry point is public, in mux.h.) */

/* ---- shared inline helpers ---- */

/* One header-only frame to the owner. */
static inline void mux_emit_frame(struct mux *m, uint8_t type, uint16_t flags, uint32_t id,
				  uint32_t len)
{
	uint8_t hdr[YAMUX_HDR_LEN];
	struct iovec iov = { hdr, sizeof(hdr) };
	yamux_hdr_encode(hdr, type, flags, id, len);
	m->ops.emit(m->ctx, &iov, 1);
}

/* Brackets every public call that may run callbacks or destroy streams:
 * the outermost mux_leave() frees what died meanwhile. */
static inline void mux_enter(struct mux *m)
{
	m->depth++;
}

static inline void mux_leave(struct mux *m)
{
	if (--m->depth == 0)
		mux_reap_dead(m);
}

#endif
