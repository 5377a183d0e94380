/*
 * session: the client registry and the control sessions.
 *
 * A control session (struct ctl) starts when the front door has accepted a
 * CONNECT and written its 200: it takes over the transport, runs yamux
 * (mconn), waits for stream 1 and "controlHandshake" (deadline
 * HandshakeTimeoutSeconds), answers "controlOk" and registers: the client
 * entry points at this ctl; an older session of the same id is told GoAway
 * and closed (replaced, never kicked-and-failed as in the original).
 *
 * The registry keeps every known client id with its state (names as the
 * original's, go-original.md 5.3), at most MaxClientEntries entries (the
 * oldest entry holding nothing is forgotten to make room), and the visitors
 * held for a client that is away (client_entry.waiting, owned above).
 *
 * A Go client's visitors wait in the session's FIFO (session_enqueue): the
 * client's next stream is the first one's.
 *
 * Upward seam (session_set_hooks, set by visitors): `ready` when a session
 * has registered (dispatch the held visitors), `stream` when the client
 * opened a stream for the first queued visitor (its node, already unlinked;
 * the hook accepts or resets the stream), `drop` for each queued visitor of
 * a session that closed (unlinked; the hook frees it).
 *
 * The handshake bytes, the feature bits and the state names are
 * wire/handshake's (handshake_match, HANDSHAKE_FEAT_*,
 * handshake_client_state_name).
 */
#ifndef THRESHOLD_SERVER_SESSION_H
#define THRESHOLD_SERVER_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "base/list.h"
#include "base/loop.h"
#include "base/transport.h"
#include "mux/mux.h"
#include "tunnel/config.h"
#include "tunnel/mconn.h"
#include "wire/handshake.h"

#define SESSION_QUEUE_MAX 4096

/* TLS facts of a control session, taken when it started. */
struct session_tls {
	bool on;
	char version[16];	   /* "TLSv1.3" */
	bool ktls_send, ktls_recv; /* the kernel took the send / receive path */
};

struct ctl;

/* A known client id and its state. */
struct client_entry {
	struct list node; /* sessions.clients, newest first */
	char *id;
	enum handshake_client_state cur, last; /* names: handshake_client_state_name */
	struct ctl *ctl;		       /* registered session, or NULL */
	struct list waiting;		       /* visitors held for VisitorGraceSeconds (owned above) */
};

struct session_hooks {
	void (*ready)(void *up, struct client_entry *ce, struct ctl *ctl);
	void (*stream)(void *up, struct ctl *ctl, struct list *node, struct mux_stream *s);
	void (*drop)(void *up, struct list *node);
};

struct sessions {
	struct loop *loop;
	struct worker *env;
	const struct config_server *cfg;
	struct list clients; /* struct client_entry.node */
	size_t nclients;
	struct list ctls; /* every session, also those in handshake */
	const struct session_hooks *hooks;
	void *up;
};

/* What the CONNECT asked for. */
struct session_params {
	const char *id;
	size_t id_len;
	const char *peer;	       /* "ip:port" of the client */
	unsigned features;	       /* granted, HANDSHAKE_FEAT_* bits */
	const struct session_tls *tls; /* NULL when not over TLS */
};

void sessions_init(struct sessions *ss, struct loop *l, struct worker *env, const struct config_server *cfg);
void session_set_hooks(struct sessions *ss, const struct session_hooks *h, void *up);
/* Every session is told GoAway and closed (queued visitors dropped). */
void sessions_close_all(struct sessions *ss);
/* Forgets the registry (after close_all and the loop's last reap). */
void sessions_fini(struct sessions *ss);

struct client_entry *session_client_find(struct sessions *ss, const char *id);
/* The entry for id, made if new; NULL when the registry is full of entries
 * that hold something, or on allocation failure. */
struct client_entry *session_client_get(struct sessions *ss, const char *id);

/* A session not yet started; NULL on allocation failure. */
struct ctl *session_new(struct sessions *ss, const struct session_params *p);
/* Frees a session that session_start was not called for. */
void session_discard(struct ctl *ctl);
/* Takes over the transport t (of socket fd) and the bytes already read
 * after the CONNECT head; on failure the session is gone (logged). */
void session_start(struct ctl *ctl, struct transport *t, int fd, const uint8_t *pre, size_t prelen);

bool session_ready(const struct ctl *ctl);
const char *session_id(const struct ctl *ctl);
bool session_server_open(const struct ctl *ctl);
bool session_half_close(const struct ctl *ctl);
struct mconn *session_mconn(const struct ctl *ctl);
size_t session_queue_len(const struct ctl *ctl);
/* The session's TLS facts; NULL when it is not over TLS (or ctl is NULL). */
const struct session_tls *session_tls_of(const struct ctl *ctl);

/* Go client: writes msg on the control stream and queues node, in one step
 * (strict FIFO). 0; -ENOBUFS when the queue is full or there is no control
 * stream; -EIO when the message could not be written. */
int session_enqueue(struct ctl *ctl, struct list *node, const void *msg, size_t len);

#endif
