/*
 * session: one connect attempt and, once it succeeds, the yamux session it
 * carries (src/client/ only; the sequence is in client.h).
 *
 *   sess_new -> sess_connect: resolve ServerHost, TCP connect to each
 *   address in turn, TLS (UseTls), CONNECT, read the answer (a refusal's
 *   first body line is logged), start the mconn, controlHandshake ->
 *   controlOk, then serve control messages and server-opened streams
 *   (handed to pending.h) until the session dies.
 *
 * Every phase has its deadline (ConnectTimeoutSeconds). The attempt ends
 * exactly once, through ctx->ended (also when it ends inside sess_connect
 * or sess_stop); ctx->connected reports controlOk. The struct is freed by
 * the loop after it ended, so the caller must drop its pointer in `ended`.
 */
#ifndef THRESHOLD_CLIENT_SESSION_H
#define THRESHOLD_CLIENT_SESSION_H

#include "client/internal.h"

/* A new attempt numbered `id` (for the log), not started; NULL when out of
 * memory. `ctx` is borrowed and outlives the attempt. */
struct csess *sess_new(const struct client_ctx *ctx, unsigned id);

/* Resolves the server and starts connecting; may end the attempt (through
 * ctx->ended) before it returns. */
void sess_connect(struct csess *ss);

/* The client stops: GoAway(0) and close, or abandon the attempt; `ended`
 * follows with "client stopped" (now or from the loop). */
void sess_stop(struct csess *ss);

/* Features in force (HANDSHAKE_FEAT_* bits) while connected, else 0. */
unsigned sess_features(const struct csess *ss);

#endif
