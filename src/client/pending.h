/*
 * pending: the streams of one session that wait for their local
 * connection (src/client/ only; see client.h for the behaviour).
 *
 * A visitor's stream arrives two ways:
 *  - pending_request(): a Go-compatible control message names a service;
 *    we open one stream per message, in message order (queued while the
 *    yamux SYN backlog is full, retried every CLIENT_OPEN_RETRY_MS), even
 *    for an unknown service, which is then closed (FIN);
 *  - pending_accept(): the server opened the stream (server-open); its
 *    preamble line names the service (bad, late or unknown: RST).
 * Then the service's addresses are dialled in turn, all within
 * DialTimeoutSeconds; visitor bytes that arrive meanwhile are held (not
 * credited back, so the stream's receive window bounds them) and the
 * stream, the socket and those bytes are handed to a relay
 * (tunnel/relay.h). At most CLIENT_MAX_PENDING streams wait at a time.
 *
 * Waiting room memory: the preamble and the held bytes are struct bufs
 * (caps HANDSHAKE_PREAMBLE_MAX and the stream's receive window) that hold
 * storage only once bytes arrive.
 *
 * Up-call: `fail` ends the session (a control message cannot get its
 * stream); set by the session, which owns the struct.
 */
#ifndef THRESHOLD_CLIENT_PENDING_H
#define THRESHOLD_CLIENT_PENDING_H

#include <stdbool.h>
#include <stddef.h>

#include "base/list.h"
#include "base/loop.h"
#include "client/internal.h"
#include "mux/mux.h"
#include "tunnel/mconn.h"

/* Embedded in the session; the fields are private to pending.c. */
struct pending {
	const struct client_ctx *ctx;
	void (*fail)(void *up, const char *why);
	void *up;
	struct mconn *mc;    /* while live */
	unsigned features;   /* HANDSHAKE_FEAT_* bits in force */
	bool live;	     /* between pending_start and pending_stop */
	struct list streams; /* struct pend, waiting */
	size_t n;
	bool cap_warned;
	struct list queue; /* struct open_req, waiting for a SYN slot */
	size_t queue_len;
	struct loop_timer open_timer;
};

/* Empty and not live. `ctx` is borrowed; `fail(up, why)` ends the session. */
void pending_init(struct pending *pd, const struct client_ctx *ctx, void (*fail)(void *up, const char *why),
		  void *up);

/* The session is connected on `mc` with `features`: streams may come. */
void pending_start(struct pending *pd, struct mconn *mc, unsigned features);

/* A control message asks for a stream to `service` (any name). Failures
 * that doom the session go through `fail`. Only while live. */
void pending_request(struct pending *pd, const char *service);

/* The server opened `s` (server-open in force; the reference is ours):
 * accept it and wait for its preamble, or reset it when too many wait. */
void pending_accept(struct pending *pd, struct mux_stream *s);

/* The session ended: every waiting stream is dropped (fd closed, stream
 * released), the retry timer stopped; not live any more. Idempotent. */
void pending_stop(struct pending *pd);

/* Frees the queued requests. After pending_stop, from the session's reap
 * (never inside a pending_* call). */
void pending_fini(struct pending *pd);

#endif
