/*
 * http: HTTP/1.x message heads, pure codec.
 *
 * Used by the server's control port (the client's `CONNECT /_controlPath/`)
 * and management API, and by the client to read the server's answer to its
 * CONNECT. Only heads are parsed here; bodies are the caller's business
 * (Content-Length only, no chunked coding).
 *
 * Parsers are pure functions over one contiguous byte span: no I/O, no
 * allocation, nothing kept between calls. They are restartable: call again
 * with the same bytes plus whatever has arrived since. Every span they return
 * points into the caller's buffer, so results are valid only while those
 * bytes stay where they are (linearise a ring buffer before parsing).
 *
 * Accepted syntax (RFC 9112, strict where it costs nothing):
 *   - lines end in CRLF or a bare LF; a CR anywhere else is an error;
 *   - leading empty lines before a request line are skipped (RFC 9112 2.2)
 *     and count towards the head size and the consumed length;
 *   - request line = method SP request-target SP HTTP-version, single spaces;
 *     method is a token; the target is visible ASCII (0x21-0x7e);
 *   - versions HTTP/1.0 and HTTP/1.1 only: any other `HTTP/d.d` is
 *     HTTP_E_VERSION (answer 505), anything else HTTP_E_BAD_REQUEST;
 *   - field-name is a token followed directly by ':' (no whitespace before
 *     it); the value is trimmed of SP/HTAB and may hold VCHAR, SP, HTAB and
 *     obs-text (0x80-0xff); NUL, other control bytes and DEL are errors;
 *     obs-fold (a line starting with SP/HTAB) is an error;
 *   - at most HTTP_MAX_HEADERS fields (more: HTTP_E_TOO_LARGE);
 *   - Content-Length: 1*DIGIT only, no sign, no list; repeated fields must
 *     agree; overflow of int64 is an error;
 *   - the whole head, from its first byte up to and including the empty
 *     line, must fit in the caller's `max_head` (HTTP_E_TOO_LARGE otherwise).
 *
 * Errors are reported as soon as a complete line shows them, so a bad peer is
 * answered without waiting for the rest of its head.
 *
 * Cost: one pass over at most max_head bytes per call. A caller fed one byte
 * at a time may skip calls until the new bytes contain '\n' or the buffer has
 * reached max_head; the answer cannot change in between.
 */
#ifndef THRESHOLD_WIRE_HTTP_H
#define THRESHOLD_WIRE_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Most header fields one head may carry. */
#define HTTP_MAX_HEADERS 64
/* Head size cap the server uses on the control port and management API. */
#define HTTP_HEAD_MAX_DEFAULT 8192

/*
 * The exact 34-byte answer the Go server writes after a successful CONNECT
 * (LF only, no headers). Go clients compare the status text exactly.
 */
#define HTTP_CONTROL_OK_RESPONSE "HTTP/1.1 200 Connected to Tunnel\n\n"
#define HTTP_CONTROL_OK_STATUS_TEXT "Connected to Tunnel"

/* Results of the parsers. */
enum http_result {
	HTTP_OK = 0,		    /* head complete; *consumed = head length */
	HTTP_NEED_MORE = -1,	    /* no complete head yet, no error so far */
	HTTP_E_TOO_LARGE = -2,	    /* head exceeds max_head, or too many fields (431) */
	HTTP_E_BAD_REQUEST = -3,    /* malformed; ->error says why (400) */
	HTTP_E_VERSION = -4,	    /* HTTP/d.d other than 1.0 and 1.1 (505) */
	HTTP_E_UNSUPPORTED = -5,    /* request has Transfer-Encoding (chunked: 411, else 501) */
	HTTP_E_BODY_TOO_LARGE = -6, /* Content-Length above max_body (413) */
};

/* A byte range inside the caller's buffer. Not NUL-terminated. */
struct http_span {
	const char *p; /* NULL only when len == 0 and the part is absent */
	size_t len;
};

struct http_header {
	struct http_span name;	/* as sent; compare case-insensitively */
	struct http_span value; /* leading and trailing SP/HTAB removed */
};

/* Form of the request-target (RFC 9112 3.2). */
enum http_target_form {
	HTTP_TARGET_ORIGIN = 0,	   /* "/path?query" */
	HTTP_TARGET_ABSOLUTE = 1,  /* "http://authority/path?query" (http, https) */
	HTTP_TARGET_AUTHORITY = 2, /* "host:port", CONNECT only; path is empty */
	HTTP_TARGET_ASTERISK = 3,  /* "*"; path is "*" */
};

/* Limits the request parser enforces; the caller owns them. */
struct http_limits {
	size_t max_head;   /* bytes of head incl. the empty line (8192 in use) */
	uint64_t max_body; /* largest Content-Length accepted */
};

struct http_request {
	struct http_span method; /* case-sensitive token, e.g. "CONNECT" */
	struct http_span target; /* the whole request-target */
	enum http_target_form form;
	struct http_span authority; /* absolute- and authority-form only */
	struct http_span path;	    /* raw (still percent-encoded); see http_route_path */
	struct http_span query;	    /* after '?', without it; empty if none */
	bool has_query;		    /* target contained '?' */
	int version_minor;	    /* 0 or 1 (HTTP/1.0, HTTP/1.1) */
	size_t n_headers;
	struct http_header headers[HTTP_MAX_HEADERS];
	int64_t content_length; /* -1 when absent */
	bool chunked;		/* Transfer-Encoding ends in "chunked" */
	bool expect_continue;	/* Expect: 100-continue (curl sends it for big PUTs) */
	const char *error;	/* static reason when the result is not HTTP_OK */
};

struct http_response {
	int version_minor;	 /* 0 or 1 */
	int status;		 /* 100-999 */
	struct http_span reason; /* may be empty ("HTTP/1.1 200\n" is accepted) */
	size_t n_headers;
	struct http_header headers[HTTP_MAX_HEADERS];
	int64_t content_length; /* -1 when absent */
	bool chunked;		/* Transfer-Encoding ends in "chunked" (not an error here) */
	const char *error;	/* static reason when the result is not HTTP_OK */
};

/*
 * Parses a request head from buf[0..len).
 * Returns an enum http_result. On HTTP_OK, *consumed is the head length (the
 * body, if any, starts at buf + *consumed) and *req is filled.
 * HTTP_E_UNSUPPORTED (a Transfer-Encoding field) and HTTP_E_BODY_TOO_LARGE
 * are only returned for an otherwise valid, complete head: *req and
 * *consumed are filled as for HTTP_OK so the caller can route its answer.
 * After any other result only req->error is meaningful (NULL on NEED_MORE).
 * HTTP/1.1 requests other than CONNECT need exactly one Host field (as Go);
 * more than one Host is an error for any version.
 */
int http_request_parse(const char *buf, size_t len, const struct http_limits *lim,
		       struct http_request *req, size_t *consumed);

/*
 * Parses a response status line and header block from buf[0..len) (client
 * side of the control protocol). Same line rules as requests; LF-only heads
 * such as HTTP_CONTROL_OK_RESPONSE are accepted. On HTTP_OK, *consumed is the
 * head length: bytes after it (yamux frames) belong to the caller. Leading
 * empty lines are not skipped. Never returns HTTP_E_UNSUPPORTED or
 * HTTP_E_BODY_TOO_LARGE.
 */
int http_response_parse(const char *buf, size_t len, size_t max_head, struct http_response *resp,
			size_t *consumed);

/* Index of the first field at or after `from` named `name` (ASCII case-insensitive), or -1. */
ssize_t http_header_index(const struct http_header *hdrs, size_t n, const char *name, size_t from);
/* Value of the first field named `name`, or NULL. */
const struct http_span *http_header_get(const struct http_header *hdrs, size_t n, const char *name);

/* Whether span equals the NUL-terminated s byte for byte / ASCII case-insensitively. */
bool http_span_eq(const struct http_span *sp, const char *s);
bool http_span_caseeq(const struct http_span *sp, const char *s);
/*
 * Whether a Content-Type value names media type `type` ("application/json"):
 * type/subtype compared case-insensitively, parameters (";charset=utf-8")
 * ignored.
 */
bool http_media_type_is(const struct http_span *value, const char *type);

/*
 * Go's path.Clean over in[0..len): the shortest equivalent path, by purely
 * lexical processing: runs of '/' become one, "." elements are dropped, ".."
 * removes the element before it (or is dropped at the root of a rooted path),
 * a trailing '/' is removed except for "/" itself; an empty result is ".".
 * Writes the result and a NUL into out[0..cap) and returns its length, or -1
 * if cap is too small. cap >= len + 2 always suffices. `out` may equal `in`
 * (in-place); other overlap is not allowed.
 */
ssize_t http_path_clean(const char *in, size_t len, char *out, size_t cap);

/*
 * Percent-decodes in[0..len) into out (NUL-terminated) and returns the length,
 * or -1 if an escape is malformed, decodes to NUL, or cap is too small
 * (cap >= len + 1 suffices). `out` may equal `in`.
 */
ssize_t http_pct_decode(const char *in, size_t len, char *out, size_t cap);

/*
 * The routing key Go's handlers use: path.Clean of the percent-decoded path,
 * so "/clients", "/clients/", "//clients/." and "/clients%2F" all give
 * "/clients". An empty path (authority form) gives ".". Same return and
 * buffer rules as http_path_clean (cap >= len + 2 suffices).
 */
ssize_t http_route_path(const struct http_span *path, char *out, size_t cap);

/* Standard reason phrase for a status code, "" if unknown. */
const char *http_status_reason(int status);

/*
 * Writes a response head into buf[0..cap) and NUL-terminates it:
 *   HTTP/1.1 <status> <reason>\r\n
 *   [Content-Type: <content_type>\r\n]        when content_type != NULL
 *   [Content-Length: <content_length>\r\n]    when content_length >= 0
 *   [<extra_headers>]                         when extra_headers != NULL
 *   \r\n
 * reason NULL means http_status_reason(status). extra_headers is zero or more
 * complete "Name: value\r\n" lines. Returns the length written (without the
 * NUL), or -1 if cap is too small, status is outside 100-999, reason or
 * content_type hold a control byte, or extra_headers is not a sequence of
 * CRLF-terminated non-empty lines free of other control bytes (so no caller
 * text can split the head).
 */
ssize_t http_write_response_head(char *buf, size_t cap, int status, const char *reason,
				 const char *content_type, int64_t content_length,
				 const char *extra_headers);

#endif
