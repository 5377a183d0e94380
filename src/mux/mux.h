/*
 * mux: a yamux session engine, sans-I/O.
 *
 * The engine never touches a socket or a clock. The owner feeds it the bytes
 * read from the transport (mux_input), the current time (mux_tick), and calls
 * stream operations; the engine hands bytes for the wire to the owner's emit
 * callback, in order, and reports stream events through callbacks.
 *
 * Wire compatibility: hashicorp/yamux as pinned by the Go original
 * (../shared/spec/go-original.md §3): 12-byte header, per-stream windows of
 * 256 KiB initially, SYN/ACK on WindowUpdate or Data, FIN half-close, RST,
 * pings, GoAway 0/1/2. Receive windows larger than 256 KiB are granted through
 * the WindowUpdate delta sent with SYN (open) and ACK (accept).
 *
 * Zero-copy contract (the relay's hot path):
 *  - Sending: mux_stream_write() takes the caller's payload as an iovec. The
 *    engine only computes the credit and writes the 12-byte header; emit()
 *    receives [header, payload...] in one call, so the owner can writev()
 *    header and payload together straight from its socket read buffer.
 *  - Receiving: the stream_data callback points into the buffer the owner
 *    passed to mux_input(). Payload of a frame is delivered as it arrives
 *    (a frame may be delivered in several pieces). The owner writes it to its
 *    socket directly and copies only what the socket did not take. Receive
 *    credit is returned to the peer when the owner calls
 *    mux_stream_consumed(), i.e. when the bytes have left its memory.
 *
 * Re-entrancy: callbacks run inside mux_input(), mux_tick() and the stream
 * calls. A callback may call any mux_stream_* function and mux_go_away(), but
 * must not call mux_free() or mux_input(). emit() must not call back into the
 * engine at all.
 *
 * Stream ownership: a stream handle is owned by the application from the
 * moment it is returned by mux_stream_open() or handed to the stream_open
 * callback, until the application calls mux_stream_release(). The engine
 * never frees a held stream; after a reset or session close it just stops
 * delivering data. After release, the engine finishes the protocol side on
 * its own (see mux_stream_release) and frees the stream.
 */
#ifndef THRESHOLD_MUX_H
#define THRESHOLD_MUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct mux;
struct mux_stream;

/* yamux's fixed initial window; a peer may always send this much. */
#define MUX_INITIAL_WINDOW (256u * 1024u)
/* Most payload iovecs mux_stream_write() accepts in one call. */
#define MUX_MAX_IOV 16

/* GoAway codes (the frame's Length field). */
enum mux_goaway_code {
	MUX_GOAWAY_NORMAL = 0,
	MUX_GOAWAY_PROTO_ERR = 1,
	MUX_GOAWAY_INTERNAL_ERR = 2,
};

/* Error codes: returned negated (e.g. -MUX_E_WINDOW) and reported by
 * session_closed. mux_strerror() gives the text. */
enum mux_err {
	MUX_OK = 0,
	MUX_E_VERSION,	       /* frame version != 0 (session killed, no GoAway) */
	MUX_E_TYPE,	       /* frame type > 3 (session killed, no GoAway) */
	MUX_E_DUP_STREAM,      /* SYN for a live stream id (GoAway 1) */
	MUX_E_RECV_WINDOW,     /* data beyond the receive window (GoAway 1) */
	MUX_E_UNEXPECTED_FLAG, /* FIN in a state that cannot take it (GoAway 1) */
	MUX_E_REMOTE_PROTO,    /* peer sent GoAway 1 */
	MUX_E_REMOTE_INTERNAL, /* peer sent GoAway 2 */
	MUX_E_REMOTE_UNKNOWN,  /* peer sent GoAway with an unknown code */
	MUX_E_KEEPALIVE,       /* no ping answer and no bytes within the deadline */
	MUX_E_EOF,	       /* the transport ended (mux_input_eof) */
	MUX_E_LOCAL,	       /* closed by the owner (mux_go_away 1/2, mux_close) */
	MUX_E_SHUTDOWN,	       /* operation on a closed session */
	MUX_E_REMOTE_GOAWAY,   /* open refused: peer sent GoAway 0 */
	MUX_E_LOCAL_GOAWAY,    /* open refused: we sent GoAway */
	MUX_E_EXHAUSTED,       /* stream ids exhausted */
	MUX_E_TOO_MANY,	       /* max open streams reached */
	MUX_E_SYN_BACKLOG,     /* too many opens without ACK; retry after an ACK */
	MUX_E_STREAM_CLOSED,   /* write after local FIN, or on a released stream */
	MUX_E_RESET,	       /* stream was reset (by either side) */
	MUX_E_NOMEM,
	MUX_E_INVAL,
	MUX_E__COUNT
};
const char *mux_strerror(int err);

struct mux_config {
	bool client;		   /* yamux client: odd stream ids */
	uint32_t recv_window;	   /* per-stream receive window, >= 256 KiB */
	uint64_t session_recv_cap; /* total window beyond 256 KiB granted to all streams together */
	uint32_t accept_backlog;   /* inbound streams not yet accepted (256) */
	uint32_t max_streams;	   /* open streams, both directions (0 = default) */
	uint32_t max_syn_inflight; /* our opens not yet ACKed (256) */
	uint32_t max_frame;	   /* largest Data payload we emit */
	uint32_t keepalive_ms;	   /* ping interval; 0 = no keepalive pings */
	uint32_t ping_timeout_ms;  /* silence after a ping that kills the session */
	uint32_t linger_ms;	   /* released stream waiting for the peer's FIN: RST after this */
	uint32_t ack_delay_ms;	   /* accept: the ACK may wait this long for the stream's first
				    * frame (0: sent at once, as yamux does); see mux_stream_accept */
	uint32_t first_stream_id;  /* first id we open (0 = 1 or 2 by role); a wrong
				    * parity is corrected. For tests of id exhaustion. */
};
/* Fills *c with the defaults (server role). */
void mux_config_default(struct mux_config *c);

struct mux_ops {
	/*
	 * Bytes for the wire, to be sent in order: one or more whole frames
	 * per call, each a 12-byte header iovec (engine memory, valid only
	 * during the call) followed by its payload iovecs (the memory the
	 * caller passed to mux_stream_write()). The owner must take all of it
	 * (write what it can, copy the rest).
	 */
	void (*emit)(void *ctx, const struct iovec *iov, int iovcnt);
	/* Inbound SYN. Call mux_stream_accept() (now or later) or
	 * mux_stream_reset(); the handle is the application's until released. */
	void (*stream_open)(void *ctx, struct mux_stream *s);
	/* Our SYN was ACKed. Optional. */
	void (*stream_established)(void *ctx, struct mux_stream *s);
	/* Payload, borrowed: valid only during the call. */
	void (*stream_data)(void *ctx, struct mux_stream *s, const uint8_t *p, size_t n);
	/* The peer half-closed: no more data will arrive. */
	void (*stream_fin)(void *ctx, struct mux_stream *s);
	/* The stream died: peer RST, or the session closed (err says which).
	 * No more events follow for it; the application should release it. */
	void (*stream_reset)(void *ctx, struct mux_stream *s, int err);
	/* Send window went from 0 to > 0. */
	void (*stream_writable)(void *ctx, struct mux_stream *s);
	/* The session is dead (err). Called once, after stream_reset for every
	 * held stream. Only mux_free() and getters are useful afterwards. */
	void (*session_closed)(void *ctx, int err);
	/* Answer to a ping we sent; rtt in ms. Optional. */
	void (*pong)(void *ctx, uint32_t rtt_ms);
	/* Peer sent GoAway 0: no new streams may be opened. Optional. */
	void (*remote_go_away)(void *ctx);
};

/* Creates a session. cfg may be NULL (defaults). now_ms: the owner's clock.
 * Returns NULL on allocation failure. */
struct mux *mux_new(const struct mux_config *cfg, const struct mux_ops *ops, void *ctx,
		    uint64_t now_ms);
/* Frees the session and every stream, held or not. NULL-safe. No callbacks. */
void mux_free(struct mux *m);

/*
 * Feeds bytes read from the transport. Consumes all of them. Returns 0, or a
 * negative mux_err when the session is (now) closed. Each input byte causes
 * a bounded amount of output, so an owner that stops reading while its
 * output backlog is high bounds its memory.
 */
int mux_input(struct mux *m, const uint8_t *p, size_t n, uint64_t now_ms);
/* The transport reached EOF or failed: the session closes (MUX_E_EOF). */
void mux_input_eof(struct mux *m);
/* Drives keepalive and linger timers. Returns 0 or a negative mux_err if the
 * session closed. */
int mux_tick(struct mux *m, uint64_t now_ms);
/* Milliseconds from now_ms until mux_tick() has work, or -1 for none. */
int64_t mux_next_timeout(const struct mux *m, uint64_t now_ms);
/* Sends a ping now (in addition to keepalive pings). */
int mux_ping(struct mux *m, uint64_t now_ms);
/*
 * GoAway. Code 0: tell the peer we accept no new streams; open streams go on.
 * Code 1 or 2: send it and close the session (session_closed(MUX_E_LOCAL)).
 */
int mux_go_away(struct mux *m, uint32_t code);
/* Closes the session without sending anything (transport is gone). */
void mux_close(struct mux *m, int err);

bool mux_is_closed(const struct mux *m);
int mux_error(const struct mux *m); /* why it closed, or 0 */
bool mux_remote_go_away(const struct mux *m);
size_t mux_num_streams(const struct mux *m);	  /* in the table, held or lingering */
uint64_t mux_buffered_bytes(const struct mux *m); /* delivered, not yet consumed */

/* Opens a stream: emits WindowUpdate|SYN with our extra window. NULL with
 * *err set (negative mux_err) on failure. */
struct mux_stream *mux_stream_open(struct mux *m, int *err);
/*
 * Accepts an inbound stream: emits WindowUpdate|ACK with our extra window.
 * With cfg.ack_delay_ms > 0 the ACK frame waits instead, so that it leaves
 * with the stream's first frame (its first data, FIN, or window update) in
 * the same write, sparing the peer a wake-up for a frame of its own: it
 * goes out with the first frame the stream sends, when the peer has used
 * half of its initial 256 KiB credit (the extra window is in the ACK), or
 * after ack_delay_ms, whichever comes first.
 */
int mux_stream_accept(struct mux_stream *s);
/*
 * Sends up to the stream's send window from the payload iovecs (at most
 * MUX_MAX_IOV) as frames of up to max_frame bytes, several frames per emit().
 * Returns bytes taken (0 when the window is empty: wait for stream_writable),
 * or a negative mux_err (stream closed/reset, session dead).
 */
ssize_t mux_stream_write(struct mux_stream *s, const struct iovec *iov, int iovcnt);
/* Bytes mux_stream_write() would take now. */
size_t mux_stream_send_window(const struct mux_stream *s);
/*
 * Ask for stream_writable when the send window reopens. A write that is cut
 * short by the window asks by itself; a writer that sizes its writes to the
 * window (the relay) fills it exactly and must ask with this. No-op while
 * the window is open.
 */
void mux_stream_want_writable(struct mux_stream *s);
/* The application has disposed of n delivered bytes: may emit a WindowUpdate. */
void mux_stream_consumed(struct mux_stream *s, size_t n);
/* Half-close: emits FIN. Further writes fail; reading goes on. */
int mux_stream_close(struct mux_stream *s);
/* Abort: emits RST. No more events. */
int mux_stream_reset(struct mux_stream *s);
/*
 * The application drops its handle; no more callbacks for s. If we have not
 * sent FIN, an RST is sent and the stream is freed. If we sent FIN and the
 * peer has not, the stream lingers (its data discarded and credited) until
 * the peer's FIN or RST, or linger_ms, then RST. Unconsumed bytes are
 * credited back. NULL-safe.
 */
void mux_stream_release(struct mux_stream *s);

uint32_t mux_stream_id(const struct mux_stream *s);
void mux_stream_set_udata(struct mux_stream *s, void *udata);
void *mux_stream_udata(const struct mux_stream *s);
struct mux *mux_stream_session(const struct mux_stream *s);
bool mux_stream_remote_closed(const struct mux_stream *s); /* peer FIN seen */
bool mux_stream_local_closed(const struct mux_stream *s);  /* our FIN sent */
/* Largest receive window currently granted to the peer for s. */
uint32_t mux_stream_recv_max(const struct mux_stream *s);

/* Size of the engine's per-stream allocation (for memory accounting). */
size_t mux_stream_alloc_size(void);

#endif
