/*
 * mconn: a yamux session (src/mux) carried by a transport, on the loop.
 *
 * mconn owns the transport, the engine, one output buffer and the engine's
 * timer. It reads the transport into the environment's shared receive
 * scratch and feeds the engine, so received payload reaches stream handlers
 * by reference and an idle session holds no read buffer at all.
 *
 * Output: large writes (bulk payload) go straight to the transport with
 * writev (frame header and payload together, after any buffered bytes);
 * only what the transport does not take is copied. Small frames (control
 * frames, window updates, new streams) are collected and written once per
 * loop iteration, before the loop sleeps: a burst of visitors costs one
 * write, not one per frame, and nothing waits past the current iteration.
 *
 * Backpressure: when the output buffer holds more than the high watermark,
 * mconn reports itself congested; producers (relays) stop reading their
 * sockets and register a drain waiter, called when the buffer falls below
 * the low watermark. The transport itself is always read: both ends of a
 * session pausing their reads while their output is full would deadlock.
 * What input makes the engine write by itself (pongs, window updates) is
 * bounded per input byte, and the buffer's hard cap closes a session whose
 * peer sends but never reads.
 *
 * Stream events are dispatched to the handler bound to each stream
 * (mconn_stream_bind); inbound SYNs and the session's end go to the owner.
 *
 * Teardown: mconn_close() (or a transport error / EOF / protocol error)
 * resets every stream handler (they must release their streams), tells the
 * owner through `closed`, and frees the mconn before the loop sleeps.
 */
#ifndef THRESHOLD_MCONN_H
#define THRESHOLD_MCONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/list.h"
#include "base/loop.h"
#include "base/transport.h"
#include "mux/mux.h"
#include "tunnel/worker.h"

struct mconn;

/* The per-loop context (loop, scratch buffers, flush list, budget) is
 * struct worker, tunnel/worker.h. */

/* A stream's handler: embed it first in the object that handles a stream
 * and bind it with mconn_stream_bind(). */
struct mstream_handler;
struct mstream_ops {
	void (*data)(struct mstream_handler *h, struct mux_stream *s, const uint8_t *p, size_t n);
	void (*fin)(struct mstream_handler *h, struct mux_stream *s);
	/* The stream is dead (peer RST or session end). Release it. */
	void (*reset)(struct mstream_handler *h, struct mux_stream *s, int err);
	void (*writable)(struct mstream_handler *h, struct mux_stream *s);    /* optional */
	void (*established)(struct mstream_handler *h, struct mux_stream *s); /* optional */
};
struct mstream_handler {
	const struct mstream_ops *ops;
};
static inline void mconn_stream_bind(struct mux_stream *s, struct mstream_handler *h)
{
	mux_stream_set_udata(s, h);
}

struct mconn_owner_ops {
	/* Inbound SYN: bind a handler and accept, or reset and release. */
	void (*stream_open)(void *owner, struct mconn *c, struct mux_stream *s);
	/* The session is over (err: mux_err). Called once; c is freed soon
	 * after: drop every reference to it. */
	void (*closed)(void *owner, struct mconn *c, int err);
	void (*pong)(void *owner, struct mconn *c, uint32_t rtt_ms); /* optional */
};

/* Waiter for the output buffer to drain; embed it in the producer, zeroed
 * (a zeroed waiter is not queued), and set fn. */
struct mconn_waiter {
	struct list node; /* private: on the mconn's waiters while queued */
	void (*fn)(struct mconn_waiter *w);
};

/*
 * Starts a session on transport t (ownership passes to the mconn, also on
 * failure). `pre` are bytes already read from the transport that belong to
 * the session (after an HTTP head); they are fed to the engine first.
 * `name` labels log lines (copied). Returns NULL on allocation failure.
 */
struct mconn *mconn_new(struct worker *env, struct transport *t, const struct mux_config *cfg,
			const struct mconn_owner_ops *ops, void *owner, const char *name,
			const uint8_t *pre, size_t prelen);
/*
 * Ends the session: sends GoAway(goaway_code) unless goaway_code < 0,
 * tries once to flush, then closes as described above (err is reported to
 * `closed`). Idempotent; safe from any callback.
 */
void mconn_close(struct mconn *c, int goaway_code, int err);
/* GoAway(0): no new streams from the peer; open ones go on. */
void mconn_go_away(struct mconn *c);

struct mux *mconn_mux(const struct mconn *c);
const char *mconn_name(const struct mconn *c);
struct worker *worker(const struct mconn *c);
bool mconn_closing(const struct mconn *c);
/* Output backlog above the high watermark. */
bool mconn_congested(const struct mconn *c);
/*
 * A peer that does not read: when more than `bytes` of output wait (0: the
 * default, 2 MiB), the session's input is not read until it drains to half
 * of that, and a session held for `ms` (0: keep; the default is the mux
 * config's ping timeout) is closed (MUX_E_KEEPALIVE), logged rate-limited
 * and counted in the worker. An owner gives a session that is not yet
 * authenticated a tiny allowance and raises it once the session is.
 */
void mconn_set_input_hold(struct mconn *c, size_t bytes, uint32_t ms);
size_t mconn_out_len(const struct mconn *c);
/* Call w->fn once the output drains below the low watermark. A waiter
 * already queued stays queued once; none is queued on a closing mconn
 * (its teardown unlinks every waiter without calling it). */
void mconn_wait_drain(struct mconn *c, struct mconn_waiter *w);
/* Unlinks w if it is queued. Safe from any callback, also from a waiter's
 * fn for another waiter. */
void mconn_waiter_cancel(struct mconn *c, struct mconn_waiter *w);
/* Opens a stream bound to h. NULL with *err (negative mux_err). */
struct mux_stream *mconn_open_stream(struct mconn *c, struct mstream_handler *h, int *err);
/* Re-arms the engine timer after API calls that may have changed it
 * (mux_ping, opens). Cheap. */
void mconn_kick(struct mconn *c);
/* Owner data. */
void mconn_set_owner(struct mconn *c, void *owner);

#endif
