/*
 * client: the threshold client (go-original.md §7, docs/protocol.md).
 *
 * One client keeps one control connection to the server:
 *
 *   resolve ServerHost -> nonblocking TCP connect (each address in turn)
 *     -> UseTls: TLS handshake on the loop (server chain verified against
 *        CaCertificateFile / CaCertificateFilesGlob, and the name dialled:
 *        ServerHost as a DNS or IP SAN; our certificate chain sent)
 *     -> CONNECT /_controlPath/ (both identity headers, our feature list)
 *     -> "HTTP/1.1 200 Connected to Tunnel" (+ the features in force)
 *     -> yamux client session; stream 1: controlHandshake / controlOk
 *     -> ClientConnected: serve visitors until the session dies
 *     -> ClientDisconnected -> ClientConnecting after a backoff delay -> ...
 *
 * Every wait is bounded: the TCP connect (per address), the TLS handshake,
 * the CONNECT answer and controlOk each by ConnectTimeoutSeconds; local dials by
 * DialTimeoutSeconds; a dead server by the session's keepalive (pings every
 * KeepAliveSeconds, DeadPeerSeconds of silence kills the session) plus TCP
 * keepalive and TCP_USER_TIMEOUT on the control socket.
 *
 * Visitors arrive two ways:
 *  - Go-compatible: a control message {"action":1,"service":"x"} on stream
 *    1; the client opens one stream per message, in message order, even for
 *    an unknown service (the server pairs streams with visitors FIFO), then
 *    dials the local address of the service. Unknown service or failed dial:
 *    the stream is closed (FIN).
 *  - server-open (negotiated): the server opens the stream and sends the
 *    service in a preamble line; unknown service, bad preamble or failed
 *    dial: RST.
 * Bytes that arrive while the local dial is in progress are held (not
 * credited back, so the stream's receive window bounds them) and written to
 * the local socket first. Then a relay (tunnel/relay.h) joins socket and
 * stream, with half-close semantics only when `half-close` is in force.
 *
 * Names in ServiceToLocalAddrMap are resolved at start and, for those that
 * failed, again before each reconnect attempt (blocking getaddrinfo happens
 * only there, never in a data callback).
 *
 * State changes are logged as the original prints them:
 *   clientStateChange: [<id>] <prev>-><cur>[ (<err>)]
 * and every failed attempt is logged with its reason at the default level.
 *
 * Single-threaded, on the loop. Not thread-safe.
 */
#ifndef THRESHOLD_CLIENT_H
#define THRESHOLD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base/loop.h"
#include "tunnel/config.h"
#include "tunnel/mconn.h"
#include "wire/handshake.h"

struct client;

/* The original's ClientState values (tunnel-lib), same numbers: those of
 * wire/handshake.h's enum handshake_client_state (whose ClientError only
 * the server shows). Named client_conn_* because the server's internals
 * own client_state_name; handshake_client_state_name((int)s) gives the
 * original's names. */
enum client_conn_state {
	CLIENT_ST_UNKNOWN = HANDSHAKE_CLIENT_UNKNOWN,
	CLIENT_ST_STARTED = HANDSHAKE_CLIENT_STARTED,
	CLIENT_ST_CONNECTING = HANDSHAKE_CLIENT_CONNECTING,
	CLIENT_ST_CONNECTED = HANDSHAKE_CLIENT_CONNECTED,
	CLIENT_ST_DISCONNECTED = HANDSHAKE_CLIENT_DISCONNECTED,
	CLIENT_ST_CLOSED = HANDSHAKE_CLIENT_CLOSED,
};

/* Optional observer of state changes (err may be NULL; both strings are
 * valid only during the call). Must not call client_free. */
typedef void (*client_state_fn)(void *udata, enum client_conn_state prev, enum client_conn_state cur,
				const char *err);

/*
 * Creates a stopped client. `cfg` and `env` are borrowed and must outlive
 * the client. Resolves the names of the local services (blocking; failures
 * are logged and retried before each connect attempt). With UseTls, builds
 * the TLS context once (CA file or glob, our certificate and key). Returns
 * NULL on allocation failure or when a TLS file cannot be used; the reason
 * is logged.
 */
struct client *client_new(struct loop *l, struct worker *env, const struct config_client *cfg);

void client_set_state_cb(struct client *c, client_state_fn fn, void *udata);

/* Starts connecting (first attempt right away, from the loop). 0, or
 * -EALREADY while running. A stopped client may be started again. */
int client_start(struct client *c);

/*
 * Graceful stop: the session (if any) gets GoAway(0) and is closed, an
 * attempt in progress is abandoned, no reconnect is scheduled; state
 * ClientClosed. Idempotent. Objects are reaped by the loop before it
 * sleeps (or by loop_free).
 */
void client_stop(struct client *c);

/* Stops (if needed) and frees. NULL-safe. Not from a client callback. */
void client_free(struct client *c);

enum client_conn_state client_get_state(const struct client *c);
/* Features in force on the current session (HANDSHAKE_FEAT_* bits), 0 when none. */
unsigned client_features(const struct client *c);

/*
 * `threshold client -c FILE`: loads the config (error printed, 1), logs it,
 * runs the client until SIGINT/SIGTERM (graceful stop, 0). In
 * client_main.c.
 */
int client_main(const char *config_path);

/* ---- pure helpers, public for the unit tests ---- */

/*
 * Reconnect backoff, as cenkalti/backoff v2.1.0's ExponentialBackOff with
 * the original's settings: interval starts at initial_ms (500), each delay
 * is uniform in [0.5, 1.5] x interval (randomization factor 0.5), then the
 * interval grows by 1.5, and jumps to max_ms once it reaches max_ms / 1.5.
 */
struct client_backoff {
	uint32_t initial_ms;
	uint32_t max_ms;
	uint32_t cur_ms; /* current interval */
};
#define CLIENT_BACKOFF_INITIAL_MS 500u
void client_backoff_init(struct client_backoff *b, uint32_t initial_ms, uint32_t max_ms);
void client_backoff_reset(struct client_backoff *b);
/*
 * The next delay in ms, given u uniform in [0, 1) (the random source is the
 * caller's). Go's formula: min + u * (max - min + 1), min = 0.5 x interval,
 * max = 1.5 x interval; then the interval grows.
 */
uint32_t client_backoff_next(struct client_backoff *b, double u);

/* With deferred-ack in force, the ACK of a server-opened stream may wait
 * for the stream's first frame up to this long (mux_config.ack_delay_ms).
 * The handshake itself (request, answer, features, controlOk, preamble)
 * is wire/handshake.h. */
#define CLIENT_ACK_DELAY_MS 20u

#endif
