/*
 * control_msg: the newline-delimited JSON messages on the control stream
 * (yamux stream 1, after controlHandshake/controlOk), pure codec.
 *
 *   {"action":1,"service":"fooService"}\n
 *
 * action 1 = RequestClientSession (server -> client: "open a stream for this
 * service"); 3 = RequestForwardProxy (later Go branch, client -> server).
 * Fields are written in that order, exactly as Go's json.Encoder does it
 * (HTML-safe escaping, see control_msg_encode). The decoder ignores unknown
 * fields and matches field names case-insensitively (Go's encoding/json does).
 */
#ifndef THRESHOLD_WIRE_CONTROL_MSG_H
#define THRESHOLD_WIRE_CONTROL_MSG_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define CONTROL_ACTION_REQUEST_CLIENT_SESSION 1
#define CONTROL_ACTION_REQUEST_FORWARD_PROXY 3

/* Longest line (including its '\n') the decoder waits for. */
#define CONTROL_MSG_LINE_MAX 4096
/* Longest service name, in bytes (decoded; encoder: raw input bytes). */
#define CONTROL_MSG_SERVICE_MAX 255
/*
 * Buffer size that always holds an encoded message: `{"action":` + int64 +
 * `,"service":"` + 6 bytes per service byte + `"}` + `\n` + NUL.
 */
#define CONTROL_MSG_ENCODED_MAX (10 + 20 + 12 + 6 * CONTROL_MSG_SERVICE_MAX + 2 + 1 + 1)

enum control_msg_result {
	CONTROL_MSG_OK = 0,	     /* message decoded / encoded */
	CONTROL_MSG_NEED_MORE = -1,  /* no complete line yet */
	CONTROL_MSG_E_TOO_LONG = -2, /* no '\n' within CONTROL_MSG_LINE_MAX bytes */
	CONTROL_MSG_E_JSON = -3,     /* the line is not one JSON object */
	CONTROL_MSG_E_FIELD = -4,    /* action not an integer, service not a string, or NUL in it */
	CONTROL_MSG_E_SERVICE = -5,  /* service longer than CONTROL_MSG_SERVICE_MAX */
	CONTROL_MSG_E_BUF = -6,	     /* encode: output buffer too small */
};

struct control_msg {
	int64_t action; /* 0 when absent or null (as Go) */
	size_t service_len;
	char service[CONTROL_MSG_SERVICE_MAX + 1]; /* valid UTF-8, NUL-terminated, no NUL inside */
};

/*
 * Encodes {action, service[0..service_len)} into out[0..cap) as Go's
 * json.Encoder would, plus a NUL. String escaping (encoding/json,
 * escapeHTML on, as of Go 1.14):
 *   "  \\  ->  \"  \\\\          \n \r \t -> \\n \\r \\t
 *   other bytes < 0x20, '<', '>', '&'  ->  \u00XX (lowercase hex)
 *   U+2028, U+2029  ->  \u2028, \u2029
 *   each byte of an invalid UTF-8 sequence  ->  \ufffd
 *   everything else (DEL, valid UTF-8, a literal U+FFFD) as is.
 * Returns the length written (without the NUL), CONTROL_MSG_E_SERVICE if
 * service_len > CONTROL_MSG_SERVICE_MAX, or CONTROL_MSG_E_BUF if cap is too
 * small (CONTROL_MSG_ENCODED_MAX always suffices).
 */
ssize_t control_msg_encode(char *out, size_t cap, int64_t action, const char *service,
			   size_t service_len);

/*
 * Decodes the first message in buf[0..len).
 * Lines holding only JSON whitespace (SP, HTAB, CR) are skipped, as Go's
 * decoder skips whitespace between values. A line must hold exactly one JSON
 * object (a value spread over several lines is not accepted; Go never writes
 * one). Missing or null fields leave their zero value; a number with a
 * fraction or exponent for action is CONTROL_MSG_E_FIELD (as Go); repeated
 * fields: the last one wins.
 * *consumed is always set to the bytes the caller may drop: on CONTROL_MSG_OK
 * the message line and any blank lines before it; on CONTROL_MSG_NEED_MORE
 * the blank lines seen so far (possibly 0); on an error, 0. On error the
 * stream cannot be resynchronised: close it.
 * Allocates only inside jansson, and frees before returning.
 */
int control_msg_decode(const char *buf, size_t len, struct control_msg *msg, size_t *consumed);

#endif
