/*
 * handshake: the control-connection handshake, pure codec for both ends
 * (docs/protocol.md §1, §2 and §4 "server-open"; spec protocol.md §1, §3).
 *
 *   client                                         server
 *   CONNECT /_controlPath/ HTTP/1.1\r\n     ->     handshake_request_parse
 *     Host, User-Agent, X-Threshold-Identifier,      (on a head parsed by
 *     X-Threshold-ClientId, [X-Threshold-Features]    http_request_parse)
 *     (handshake_request_build)
 *   handshake_answer_parse                  <-     HTTP/1.1 200 Connected to Tunnel
 *                                                    [X-Threshold-Features: granted]
 *                                                    (handshake_answer_build)
 *   -- yamux; stream 1 --
 *   "controlHandshake" (16 bytes)           ->     handshake_match (HELLO)
 *   handshake_match (OK)                    <-     "controlOk" (9 bytes)
 *   -- server-open streams --
 *   handshake_preamble_parse                <-     {"action":1,"service":"x"}\n
 *                                                    (handshake_preamble_encode)
 *
 * Every function is pure: no I/O, no logging, no allocation (the preamble
 * decoder allocates inside jansson and frees before returning, see
 * control_msg.h). Nothing is kept between calls except the caller-owned
 * struct handshake_match. Spans handed back point into the caller's bytes.
 *
 * Builders return the length written (a NUL follows it) or -1, and never
 * write a cut message. Parsers return an enum handshake_result.
 */
#ifndef THRESHOLD_WIRE_HANDSHAKE_H
#define THRESHOLD_WIRE_HANDSHAKE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wire/control_msg.h"
#include "wire/http.h"

enum handshake_result {
	HANDSHAKE_OK = 0,	    /* done; *consumed where the function has one */
	HANDSHAKE_NEED_MORE = -1,   /* a valid prefix so far; call again with more bytes */
	HANDSHAKE_E_METHOD = -2,    /* request: method is not CONNECT (answer 405) */
	HANDSHAKE_E_ID_DIFFER = -3, /* request: both identity headers, different values (400) */
	HANDSHAKE_E_ID = -4,	    /* request: no identity header, or an invalid one (400) */
	HANDSHAKE_E_HEAD = -5,	    /* answer: not a valid HTTP response head; ->error says why */
	HANDSHAKE_E_REFUSED = -6,   /* answer: complete head, not "200 Connected to Tunnel" */
	HANDSHAKE_E_MISMATCH = -7,  /* controlHandshake / controlOk: a wrong byte */
	HANDSHAKE_E_TOO_LONG = -8,  /* preamble: no '\n' within HANDSHAKE_PREAMBLE_MAX bytes */
	HANDSHAKE_E_PREAMBLE = -9,  /* preamble: not one control message line with action 1 */
};

/* A static English name for an enum handshake_result ("ok", "need more", ...), for logs. */
const char *handshake_result_str(int rc);

/* ---- features (X-Threshold-Features) ---- */

/*
 * The negotiated extensions, one bit each (docs/protocol.md §4). A feature
 * set is an `unsigned` holding these bits. The values are the client's
 * historical CLIENT_FEAT_* values (client_features() returns them).
 */
enum handshake_feature {
	HANDSHAKE_FEAT_SERVER_OPEN = 0x1u,  /* "server-open" */
	HANDSHAKE_FEAT_HALF_CLOSE = 0x2u,   /* "half-close" */
	HANDSHAKE_FEAT_PROXY_V2 = 0x4u,	    /* "proxy-v2": named, implemented by neither end */
	HANDSHAKE_FEAT_DEFERRED_ACK = 0x8u, /* "deferred-ack": only together with server-open */
};
/* Every bit above. */
#define HANDSHAKE_FEATURES_KNOWN 0xfu
/* What both our ends implement: the client asks for it, the server grants from it. */
#define HANDSHAKE_FEATURES_OURS \
	(HANDSHAKE_FEAT_SERVER_OPEN | HANDSHAKE_FEAT_HALF_CLOSE | HANDSHAKE_FEAT_DEFERRED_ACK)
/* Buffer that holds any encoded list (all four names, separators, NUL). */
#define HANDSHAKE_FEATURES_BUF 64

/* The token of one feature bit ("server-open", ...), or NULL if f is not exactly one known bit. */
const char *handshake_feature_name(unsigned f);

/*
 * Feature list of one X-Threshold-Features value p[0..n) (p may be NULL
 * when n is 0): comma-separated tokens, optional SP/HTAB around each,
 * compared ASCII case-insensitively; unknown and empty tokens are ignored,
 * a token must match a name whole ("server-openx", "server-open;q=1" are
 * unknown). Returns the bits named. Reads nothing past n.
 */
unsigned handshake_features_parse(const char *p, size_t n);

/*
 * The list of the known bits of `features` into buf[0..cap), NUL
 * terminated, in the order server-open, half-close, proxy-v2, deferred-ack,
 * separated by ", ": "server-open, half-close, deferred-ack". Unknown bits
 * are ignored; no bits give "". Returns the length, or -1 if cap is too
 * small (HANDSHAKE_FEATURES_BUF always suffices).
 */
ssize_t handshake_features_format(char *buf, size_t cap, unsigned features);

/*
 * What the server grants for a request that asked for `asked`, given what
 * it supports: asked & supported, without deferred-ack unless server-open
 * is granted too (deferred-ack delays the ACK of server-opened streams, it
 * means nothing without them).
 */
unsigned handshake_features_grant(unsigned asked, unsigned supported);

/* ---- the CONNECT request ---- */

/* Longest client id the server accepts, in bytes. */
#define HANDSHAKE_ID_MAX 255

/*
 * The CONNECT request into buf[0..cap), NUL terminated:
 *   CONNECT /_controlPath/ HTTP/1.1\r\n
 *   Host: <host:port, IPv6 in brackets>\r\n
 *   User-Agent: threshold/<THRESHOLD_VERSION>\r\n
 *   X-Threshold-Identifier: <id>\r\n                     (4b75a35 servers)
 *   X-Threshold-ClientId: <id>\r\n                       (later servers)
 *   X-Threshold-Features: <handshake_features_format>\r\n (known bits != 0)
 *   \r\n
 * Returns the length, or -1 when cap is too small, host is empty or holds
 * a byte outside 0x21-0x7e, or client_id is empty, starts or ends with a
 * space, or holds a control byte or DEL (no header injection; UTF-8 and
 * inner spaces are allowed, as the config allows them).
 */
ssize_t handshake_request_build(char *buf, size_t cap, const char *host, uint16_t port,
				const char *client_id, unsigned features);

/* What the server takes from a CONNECT request. */
struct handshake_request {
	struct http_span id; /* the client id, into the request's bytes; 1..HANDSHAKE_ID_MAX */
	unsigned features;   /* bits asked for (first X-Threshold-Features field); 0 if none */
};

/*
 * The control request's identity and features, from a head that
 * http_request_parse accepted (the caller has routed its path to
 * /_controlPath). Checked in this order:
 *   method != "CONNECT"                                  HANDSHAKE_E_METHOD
 *   X-Threshold-ClientId and X-Threshold-Identifier both
 *   present with different values (byte compare)         HANDSHAKE_E_ID_DIFFER
 *   neither present, or the one used (ClientId if both)
 *   empty, longer than HANDSHAKE_ID_MAX, or holding a
 *   byte < 0x21 or DEL (a space is refused here)        HANDSHAKE_E_ID
 * Only the first field of each name counts. On HANDSHAKE_OK *out is
 * filled; out->features are the bits asked for, not yet granted (see
 * handshake_features_grant). On an error *out is zeroed.
 */
int handshake_request_parse(const struct http_request *req, struct handshake_request *out);

/* ---- the 200 answer ---- */

/*
 * The server's answer into buf[0..cap), NUL terminated. granted == 0 (a Go
 * client, or nothing in common): exactly HTTP_CONTROL_OK_RESPONSE, the Go
 * server's 34 bytes, LF only. Otherwise:
 *   HTTP/1.1 200 Connected to Tunnel\r\n
 *   X-Threshold-Features: <handshake_features_format(granted)>\r\n
 *   \r\n
 * Returns the length, or -1 if cap is too small (HANDSHAKE_ANSWER_BUF
 * always suffices).
 */
#define HANDSHAKE_ANSWER_BUF 128
ssize_t handshake_answer_build(char *buf, size_t cap, unsigned granted);

/* What the client takes from the answer's head. */
struct handshake_answer {
	int status;		 /* OK, E_REFUSED: the status code; else 0 */
	struct http_span reason; /* OK, E_REFUSED: the reason text (may be empty) */
	int64_t content_length;	 /* OK, E_REFUSED: -1 when absent */
	unsigned features;	 /* OK: union of every X-Threshold-Features field; else 0 */
	const char *error;	 /* E_HEAD: static reason from the HTTP parser; else NULL */
};

/*
 * The answer at the start of buf[0..len), head at most HTTP_HEAD_MAX_DEFAULT
 * bytes (CRLF or LF-only lines, http_response_parse). HANDSHAKE_OK when the
 * status is 200 and the reason is exactly "Connected to Tunnel" (the check a
 * Go client makes); *consumed is then the head length, the bytes after it
 * are yamux. HANDSHAKE_E_REFUSED for any other complete head (*consumed is
 * the head length too: a body follows). HANDSHAKE_NEED_MORE, or
 * HANDSHAKE_E_HEAD (malformed, or over the cap; *consumed 0).
 * out->features are what the server named; the client keeps those it asked for.
 */
int handshake_answer_parse(const char *buf, size_t len, struct handshake_answer *out, size_t *consumed);

/* ---- controlHandshake / controlOk ---- */

#define HANDSHAKE_HELLO "controlHandshake" /* client -> server on stream 1, 16 bytes */
#define HANDSHAKE_HELLO_LEN 16u
#define HANDSHAKE_HELLO_OK "controlOk" /* server -> client, 9 bytes */
#define HANDSHAKE_HELLO_OK_LEN 9u

/*
 * Progress through one expected string, caller-owned (embed it; start it
 * with handshake_match_init). Plain data: `got` bytes of `want` seen so far.
 */
struct handshake_match {
	const char *want;
	size_t want_len;
	size_t got;
	bool failed; /* a wrong byte was seen */
};

/* Expect HANDSHAKE_HELLO (server side) or HANDSHAKE_HELLO_OK (client side). */
void handshake_match_init(struct handshake_match *m, bool expect_ok);

/*
 * Feeds p[0..n) (either string may arrive split anywhere; no terminator):
 *   HANDSHAKE_NEED_MORE   all n bytes matched, string not complete;
 *                         *consumed = n
 *   HANDSHAKE_OK          complete; *consumed = bytes of p it took (the
 *                         rest belong to what follows)
 *   HANDSHAKE_E_MISMATCH  p[*consumed] is the first wrong byte; m->got
 *                         bytes were right in all
 * Once OK or MISMATCH, further calls return the same without reading
 * (*consumed = 0). p may be NULL when n is 0.
 */
int handshake_match_feed(struct handshake_match *m, const uint8_t *p, size_t n, size_t *consumed);

/* ---- the server-open preamble ---- */

/* Cap on the preamble line, newline included (docs/protocol.md §4). */
#define HANDSHAKE_PREAMBLE_MAX 4096
/* Buffer that always holds an encoded preamble (< HANDSHAKE_PREAMBLE_MAX). */
#define HANDSHAKE_PREAMBLE_BUF CONTROL_MSG_ENCODED_MAX

/*
 * The preamble the server writes first on a stream it opens:
 * control_msg_encode(action 1, service), i.e. `{"action":1,"service":"<name>"}\n`
 * with Go's escaping, NUL terminated. Returns the length, or -1 if the
 * name is longer than CONTROL_MSG_SERVICE_MAX or cap is too small
 * (HANDSHAKE_PREAMBLE_BUF always suffices).
 */
ssize_t handshake_preamble_encode(char *buf, size_t cap, const char *service, size_t service_len);

/*
 * The preamble at the start of buf[0..n): exactly one line
 * `{"action":1,"service":"<name>"}\n` (control_msg syntax; no blank line
 * before it). HANDSHAKE_OK: *msg is filled and *consumed is the line's
 * length including the '\n'; the bytes after it are the visitor's.
 * HANDSHAKE_NEED_MORE: no '\n' yet in fewer than HANDSHAKE_PREAMBLE_MAX
 * bytes. HANDSHAKE_E_TOO_LONG: no '\n' in the first HANDSHAKE_PREAMBLE_MAX
 * bytes. HANDSHAKE_E_PREAMBLE: the line is not one control message, or its
 * action is not 1. *consumed is 0 unless OK.
 */
int handshake_preamble_parse(const char *buf, size_t n, struct control_msg *msg, size_t *consumed);

/* ---- client states ---- */

/*
 * The original's ClientState values (tunnel-lib, go-original.md §5.3),
 * same numbers, plus ClientError, which only the server's management map
 * shows (ClientClosed with an error that is not EOF).
 */
enum handshake_client_state {
	HANDSHAKE_CLIENT_UNKNOWN = 0,
	HANDSHAKE_CLIENT_STARTED = 1,
	HANDSHAKE_CLIENT_CONNECTING = 2,
	HANDSHAKE_CLIENT_CONNECTED = 3,
	HANDSHAKE_CLIENT_DISCONNECTED = 4,
	HANDSHAKE_CLIENT_CLOSED = 5,
	HANDSHAKE_CLIENT_ERROR = 6,
};

/* "ClientUnknown", "ClientStarted", ...; any other value gives "ClientUnknown"
 * (never the original's "ClientState(<n>)"). */
const char *handshake_client_state_name(int s);

#endif
