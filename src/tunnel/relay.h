/*
 * relay: joins a TCP socket and a yamux stream, both directions.
 *
 * Socket -> stream: the socket is read into the environment's shared tx
 * scratch, never more than the stream's send window, and the bytes go out
 * at once (frame header and payload in one writev when the session's output
 * is empty). Reading stops while the window is empty (resumed by the
 * stream's writable event) or the session is congested (resumed by its
 * drain waiter). So this direction holds no buffer of its own.
 *
 * Stream -> socket: payload is written to the socket straight from the
 * session's receive buffer; only what the socket does not take is copied
 * into a buffer (allocated on demand, released when empty, bounded by the
 * receive window). Receive credit goes back to the peer as bytes leave.
 *
 * Ending (one state per direction):
 *  - half-close mode (our peers): socket EOF -> FIN on the stream; stream FIN
 *    -> shutdown(SHUT_WR) on the socket once the buffer is flushed; the relay
 *    ends when both directions have ended;
 *  - full-close mode (Go peers): the first end in either direction ends
 *    both, after flushing what the socket can still take.
 * Errors: a socket error resets the stream; a stream reset resets the socket
 * (SO_LINGER 0). One log line per relay when it ends: client, service,
 * peer, bytes each way, duration, reason.
 */
#ifndef THRESHOLD_RELAY_H
#define THRESHOLD_RELAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mux/mux.h"
#include "tunnel/mconn.h"

struct relay;

struct relay_info {
	const char *client;  /* client id (copied) */
	const char *service; /* service name (copied) */
	const char *peer;    /* visitor or local address, for the log (copied) */
	bool half_close;     /* FIN means half-close (negotiated) */
	const char *id;	     /* connection id for the log, may be NULL (copied) */
};

/* Called once when the relay has ended (before it is freed, from the loop).
 * bytes_up: socket -> stream; bytes_down: stream -> socket. */
typedef void (*relay_done_fn)(void *udata, struct relay *r);

/*
 * Starts relaying between fd (taken over: the relay closes it) and stream s
 * (taken over: bound to the relay, released when it ends). The stream must
 * be accepted/opened already. Returns NULL on allocation failure, after
 * closing fd and resetting and releasing s.
 */
struct relay *relay_new(struct mconn *c, struct mux_stream *s, int fd, const struct relay_info *info,
			relay_done_fn done, void *udata);
/* Queue bytes for the stream before anything read from the socket (PROXY
 * header, peeked bytes). Must fit the send window (the first 256 KiB always
 * do). Returns 0 or a negative mux_err. */
int relay_send_prefix(struct relay *r, const void *p, size_t n);
/* Bytes for the socket before anything from the stream (bytes that
 * arrived with a stream preamble): written at once as far as the socket
 * takes them, the rest queued. Returns 0 or -ENOBUFS/-ENOMEM; a failed
 * write ends the relay (as any write error does). */
int relay_push_to_socket(struct relay *r, const void *p, size_t n);
/* Reads the socket once now rather than at its next readiness event: for
 * a socket whose peer has most likely sent already (a visitor accepted a
 * moment ago), so its first bytes leave with the stream's first frames. */
void relay_read_now(struct relay *r);
/* Abort the relay now (e.g. server shutdown): RST both sides. */
void relay_abort(struct relay *r, const char *reason);

uint64_t relay_bytes_up(const struct relay *r);
uint64_t relay_bytes_down(const struct relay *r);
const char *relay_reason(const struct relay *r);

#endif
