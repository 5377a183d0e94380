#include "wire/http.h"

#include <stdio.h>
#include <string.h>

/* RFC 9110 5.6.2 tchar. */
static bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Bytes allowed in a field value, reason phrase: HTAB, SP, VCHAR, obs-text. */
static bool is_field_byte(unsigned char c)
{
	return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static bool is_ows(unsigned char c)
{
	return c == ' ' || c == '\t';
}

static bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static int hex_val(unsigned char c)
{
	if (is_digit(c))
		return c - '0';
	return (c | 0x20) - 'a' + 10;
}

static unsigned char lower(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') ? (unsigned char)(c | 0x20) : c;
}

static bool mem_caseeq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return false;
	return true;
}

static bool span_caseeq_n(const char *p, size_t len, const char *s)
{
	size_t n = strlen(s);
	return len == n && mem_caseeq(p, s, n);
}

/*
 * Finds the line starting at pos in buf[0..lim): *eol is the index of its
 * terminator (the CR of a CRLF, or the LF), *next the index after the LF.
 * Returns false if no LF lies in [pos, lim).
 */
static bool find_line(const char *buf, size_t lim, size_t pos, size_t *eol, size_t *next)
{
	if (pos >= lim)
		return false;
	const char *nl = memchr(buf + pos, '\n', lim - pos);
	if (nl == NULL)
		return false;
	size_t e = (size_t)(nl - buf);
	*next = e + 1;
	if (e > pos && buf[e - 1] == '\r')
		e--;
	*eol = e;
	return true;
}

/* No terminator within the scanned bytes: wait, unless the cap is reached. */
static int incomplete(size_t len, size_t max_head, const char **error)
{
	if (len >= max_head) {
		*error = "header block too large";
		return HTTP_E_TOO_LARGE;
	}
	return HTTP_NEED_MORE;
}

static int bad(const char **error, const char *why)
{
	*error = why;
	return HTTP_E_BAD_REQUEST;
}

/* "HTTP/1.0" or "HTTP/1.1" -> minor; other "HTTP/d.d" -> HTTP_E_VERSION. */
static int parse_version(const char *v, size_t n, int *minor, const char **error)
{
	if (n == 8 && memcmp(v, "HTTP/", 5) == 0 && is_digit((unsigned char)v[5]) && v[6] == '.' &&
	    is_digit((unsigned char)v[7])) {
		if (v[5] == '1' && (v[7] == '0' || v[7] == '1')) {
			*minor = v[7] - '0';
			return HTTP_OK;
		}
		*error = "unsupported HTTP version";
		return HTTP_E_VERSION;
	}
	return bad(error, "malformed HTTP version");
}

/* Content-Length value: 1*DIGIT fitting int64. */
static bool parse_content_length(const struct http_span *v, int64_t *out)
{
	if (v->len == 0)
		return false;
	uint64_t acc = 0;
	for (size_t i = 0; i < v->len; i++) {
		unsigned char c = (unsigned char)v->p[i];
		if (!is_digit(c))
			return false;
		if (acc > ((uint64_t)INT64_MAX - (uint64_t)(c - '0')) / 10)
			return false;
		acc = acc * 10 + (uint64_t)(c - '0');
	}
	*out = (int64_t)acc;
	return true;
}

/* Whether the last comma-separated coding of a Transfer-Encoding value is chunked. */
static bool te_is_chunked(const struct http_span *v)
{
	size_t end = v->len;
	while (end > 0 && is_ows((unsigned char)v->p[end - 1]))
		end--;
	size_t start = end;
	while (start > 0 && v->p[start - 1] != ',')
		start--;
	while (start < end && is_ows((unsigned char)v->p[start]))
		start++;
	return span_caseeq_n(v->p + start, end - start, "chunked");
}

/* What the field lines of either kind of message accumulate. */
struct fields {
	bool request; /* Host rules apply to requests only */
	struct http_header *hdrs;
	size_t n;
	int64_t content_length;
	bool te;
	bool chunked;
	int hosts;
	bool expect_continue;
	const char *error;
};

/* Parses one non-empty field line l[0..n) into f. */
static int parse_field(const char *l, size_t n, struct fields *f)
{
	if (is_ows((unsigned char)l[0]))
		return bad(&f->error, "obsolete line folding");
	size_t i = 0;
	while (i < n && is_tchar((unsigned char)l[i]))
		i++;
	if (i == n || l[i] != ':') {
		if (i < n && is_ows((unsigned char)l[i]))
			return bad(&f->error, "whitespace before colon");
		return bad(&f->error, "invalid header field name");
	}
	if (i == 0)
		return bad(&f->error, "empty header field name");
	for (size_t k = i + 1; k < n; k++)
		if (!is_field_byte((unsigned char)l[k]))
			return bad(&f->error, "invalid byte in header field value");
	size_t vs = i + 1, ve = n;
	while (vs < ve && is_ows((unsigned char)l[vs]))
		vs++;
	while (ve > vs && is_ows((unsigned char)l[ve - 1]))
		ve--;
	if (f->n == HTTP_MAX_HEADERS) {
		f->error = "too many header fields";
		return HTTP_E_TOO_LARGE;
	}
	struct http_header *h = &f->hdrs[f->n++];
	h->name.p = l;
	h->name.len = i;
	h->value.p = l + vs;
	h->value.len = ve - vs;

	if (span_caseeq_n(l, i, "content-length")) {
		int64_t v;
		if (!parse_content_length(&h->value, &v))
			return bad(&f->error, "invalid Content-Length");
		if (f->content_length >= 0 && f->content_length != v)
			return bad(&f->error, "conflicting Content-Length fields");
		f->content_length = v;
	} else if (span_caseeq_n(l, i, "transfer-encoding")) {
		f->te = true;
		f->chunked = te_is_chunked(&h->value);
	} else if (f->request && span_caseeq_n(l, i, "host")) {
		if (++f->hosts > 1)
			return bad(&f->error, "multiple Host fields");
	} else if (span_caseeq_n(l, i, "expect")) {
		f->expect_continue = span_caseeq_n(h->value.p, h->value.len, "100-continue");
	}
	return HTTP_OK;
}

/*
 * Parses field lines from pos until the empty line, within buf[0..scan).
 * On HTTP_OK *end is the index after the empty line.
 */
static int parse_fields(const char *buf, size_t len, size_t scan, size_t max_head, size_t pos,
			struct fields *f, size_t *end)
{
	for (;;) {
		size_t eol, next;
		if (!find_line(buf, scan, pos, &eol, &next))
			return incomplete(len, max_head, &f->error);
		if (eol == pos) {
			*end = next;
			return HTTP_OK;
		}
		int rc = parse_field(buf + pos, eol - pos, f);
		if (rc != HTTP_OK)
			return rc;
		pos = next;
	}
}

static void fields_init(struct fields *f, struct http_header *hdrs, bool request)
{
	memset(f, 0, sizeof(*f));
	f->request = request;
	f->hdrs = hdrs;
	f->content_length = -1;
}

/* Splits the request-target into form, authority, path and query. */
static int parse_target(struct http_request *req, const char **error)
{
	const char *t = req->target.p;
	size_t n = req->target.len;
	size_t ps; /* start of path */

	for (size_t i = 0; i < n; i++)
		if ((unsigned char)t[i] <= 0x20 || (unsigned char)t[i] >= 0x7f)
			return bad(error, "invalid byte in request target");

	if (t[0] == '/') {
		req->form = HTTP_TARGET_ORIGIN;
		ps = 0;
	} else if (n == 1 && t[0] == '*') {
		req->form = HTTP_TARGET_ASTERISK;
		req->path = req->target;
		return HTTP_OK;
	} else if ((n > 7 && mem_caseeq(t, "http://", 7)) || (n > 8 && mem_caseeq(t, "https://", 8))) {
		size_t as = (t[4] == ':') ? 7 : 8, ae = as;
		while (ae < n && t[ae] != '/' && t[ae] != '?' && t[ae] != '#')
			ae++;
		if (ae == as)
			return bad(error, "empty authority in request target");
		req->form = HTTP_TARGET_ABSOLUTE;
		req->authority.p = t + as;
		req->authority.len = ae - as;
		ps = ae;
	} else if (req->method.len == 7 && memcmp(req->method.p, "CONNECT", 7) == 0) {
		for (size_t i = 0; i < n; i++)
			if (strchr("/?#@", t[i]) != NULL)
				return bad(error, "invalid CONNECT authority");
		req->form = HTTP_TARGET_AUTHORITY;
		req->authority = req->target;
		req->path.p = t + n;
		req->path.len = 0;
		return HTTP_OK;
	} else {
		return bad(error, "invalid request target");
	}

	const char *q = memchr(t + ps, '?', n - ps);
	size_t pe = q ? (size_t)(q - t) : n;
	req->path.p = t + ps;
	req->path.len = pe - ps;
	if (q != NULL) {
		req->has_query = true;
		req->query.p = q + 1;
		req->query.len = n - pe - 1;
	}
	for (size_t i = 0; i < req->path.len; i++) {
		if (req->path.p[i] != '%')
			continue;
		if (i + 2 >= req->path.len || !is_hex((unsigned char)req->path.p[i + 1]) ||
		    !is_hex((unsigned char)req->path.p[i + 2]))
			return bad(error, "invalid percent-encoding in path");
		i += 2;
	}
	return HTTP_OK;
}

/* method SP request-target SP HTTP-version, l[0..n). */
static int parse_request_line(const char *l, size_t n, struct http_request *req)
{
	const char *sp1 = memchr(l, ' ', n);
	if (sp1 == NULL)
		return bad(&req->error, "malformed request line");
	size_t ml = (size_t)(sp1 - l);
	if (ml == 0)
		return bad(&req->error, "empty method");
	for (size_t i = 0; i < ml; i++)
		if (!is_tchar((unsigned char)l[i]))
			return bad(&req->error, "invalid method");
	const char *ts = sp1 + 1;
	const char *sp2 = memchr(ts, ' ', n - ml - 1);
	if (sp2 == NULL)
		return bad(&req->error, "malformed request line");
	const char *vs = sp2 + 1;
	size_t vl = n - (size_t)(vs - l);
	int rc = parse_version(vs, vl, &req->version_minor, &req->error);
	if (rc != HTTP_OK)
		return rc;
	if (sp2 == ts)
		return bad(&req->error, "empty request target");
	req->method.p = l;
	req->method.len = ml;
	req->target.p = ts;
	req->target.len = (size_t)(sp2 - ts);
	return parse_target(req, &req->error);
}

int http_request_parse(const char *buf, size_t len, const struct http_limits *lim,
		       struct http_request *req, size_t *consumed)
{
	struct fields f;
	size_t scan = len < lim->max_head ? len : lim->max_head;
	size_t pos = 0, eol, next, end;

	memset(req, 0, offsetof(struct http_request, headers));
	req->content_length = -1;
	req->chunked = false;
	req->expect_continue = false;
	req->error = NULL;
	*consumed = 0;

	for (;;) { /* skip empty lines before the request line */
		if (!find_line(buf, scan, pos, &eol, &next))
			return incomplete(len, lim->max_head, &req->error);
		if (eol != pos)
			break;
		pos = next;
	}
	for (size_t i = pos; i < eol; i++)
		if ((unsigned char)buf[i] < 0x20 || (unsigned char)buf[i] == 0x7f)
			return bad(&req->error, "control byte in request line");
	int rc = parse_request_line(buf + pos, eol - pos, req);
	if (rc != HTTP_OK)
		return rc;

	fields_init(&f, req->headers, true);
	rc = parse_fields(buf, len, scan, lim->max_head, next, &f, &end);
	req->n_headers = f.n;
	req->content_length = f.content_length;
	req->chunked = f.chunked;
	req->expect_continue = f.expect_continue;
	if (rc != HTTP_OK) {
		req->error = f.error;
		return rc;
	}
	if (req->version_minor == 1 && f.hosts == 0 &&
	    !(req->method.len == 7 && memcmp(req->method.p, "CONNECT", 7) == 0))
		return bad(&req->error, "missing Host field");
	*consumed = end;
	if (f.te) {
		req->error = f.chunked ? "chunked Transfer-Encoding not supported"
				       : "Transfer-Encoding not supported";
		return HTTP_E_UNSUPPORTED;
	}
	if (f.content_length >= 0 && (uint64_t)f.content_length > lim->max_body) {
		req->error = "body too large";
		return HTTP_E_BODY_TOO_LARGE;
	}
	return HTTP_OK;
}

/* HTTP-version SP 3DIGIT [SP reason-phrase], l[0..n). */
static int parse_status_line(const char *l, size_t n, struct http_response *resp)
{
	const char *sp = memchr(l, ' ', n);
	size_t vl = sp ? (size_t)(sp - l) : n;
	int rc = parse_version(l, vl, &resp->version_minor, &resp->error);
	if (rc != HTTP_OK)
		return rc;
	if (sp == NULL)
		return bad(&resp->error, "missing status code");
	const char *s = sp + 1;
	size_t rest = n - vl - 1;
	if (rest < 3 || !is_digit((unsigned char)s[0]) || s[0] == '0' ||
	    !is_digit((unsigned char)s[1]) || !is_digit((unsigned char)s[2]))
		return bad(&resp->error, "malformed status code");
	if (rest > 3 && s[3] != ' ')
		return bad(&resp->error, "malformed status code");
	resp->status = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	resp->reason.p = s + (rest > 3 ? 4 : 3);
	resp->reason.len = rest > 3 ? rest - 4 : 0;
	for (size_t i = 0; i < resp->reason.len; i++)
		if (!is_field_byte((unsigned char)resp->reason.p[i]))
			return bad(&resp->error, "invalid byte in reason phrase");
	return HTTP_OK;
}

int http_response_parse(const char *buf, size_t len, size_t max_head, struct http_response *resp,
			size_t *consumed)
{
	struct fields f;
	size_t scan = len < max_head ? len : max_head;
	size_t eol, next, end;

	memset(resp, 0, offsetof(struct http_response, headers));
	resp->content_length = -1;
	resp->chunked = false;
	resp->error = NULL;
	*consumed = 0;

	if (!find_line(buf, scan, 0, &eol, &next))
		return incomplete(len, max_head, &resp->error);
	for (size_t i = 0; i < eol; i++)
		if ((unsigned char)buf[i] < 0x20 && buf[i] != '\t')
			return bad(&resp->error, "control byte in status line");
	int rc = parse_status_line(buf, eol, resp);
	if (rc != HTTP_OK)
		return rc;

	fields_init(&f, resp->headers, false);
	rc = parse_fields(buf, len, scan, max_head, next, &f, &end);
	resp->n_headers = f.n;
	resp->content_length = f.content_length;
	resp->chunked = f.chunked;
	if (rc != HTTP_OK) {
		resp->error = f.error;
		return rc;
	}
	*consumed = end;
	return HTTP_OK;
}

ssize_t http_header_index(const struct http_header *hdrs, size_t n, const char *name, size_t from)
{
	for (size_t i = from; i < n; i++)
		if (span_caseeq_n(hdrs[i].name.p, hdrs[i].name.len, name))
			return (ssize_t)i;
	return -1;
}

const struct http_span *http_header_get(const struct http_header *hdrs, size_t n, const char *name)
{
	ssize_t i = http_header_index(hdrs, n, name, 0);
	return i < 0 ? NULL : &hdrs[i].value;
}

bool http_span_eq(const struct http_span *sp, const char *s)
{
	size_t n = strlen(s);
	return sp->len == n && (n == 0 || memcmp(sp->p, s, n) == 0);
}

bool http_span_caseeq(const struct http_span *sp, const char *s)
{
	return span_caseeq_n(sp->p, sp->len, s);
}

bool http_media_type_is(const struct http_span *value, const char *type)
{
	size_t s = 0, e = value->len;
	while (s < e && is_ows((unsigned char)value->p[s]))
		s++;
	const char *semi = e > s ? memchr(value->p + s, ';', e - s) : NULL;
	if (semi != NULL)
		e = (size_t)(semi - value->p);
	while (e > s && is_ows((unsigned char)value->p[e - 1]))
		e--;
	return span_caseeq_n(value->p + s, e - s, type);
}

/*
 * Go's path.Clean, writing into out with bounds checks. Every write lands at
 * an index at most the current read index, so in == out is safe.
 */
ssize_t http_path_clean(const char *in, size_t n, char *out, size_t cap)
{
	size_t w = 0, r = 0, dotdot = 0;
	bool rooted = n > 0 && in[0] == '/';

#define PUT(c)                     \
	do {                       \
		if (w + 1 >= cap)  \
			return -1; \
		out[w++] = (c);    \
	} while (0)

	if (cap == 0)
		return -1;
	if (rooted) {
		PUT('/');
		r = dotdot = 1;
	}
	while (r < n) {
		if (in[r] == '/') {
			r++;
		} else if (in[r] == '.' && (r + 1 == n || in[r + 1] == '/')) {
			r++;
		} else if (in[r] == '.' && in[r + 1] == '.' && (r + 2 == n || in[r + 2] == '/')) {
			r += 2;
			if (w > dotdot) {
				w--;
				while (w > dotdot && out[w] != '/')
					w--;
			} else if (!rooted) {
				if (w > 0)
					PUT('/');
				PUT('.');
				PUT('.');
				dotdot = w;
			}
		} else {
			if ((rooted && w != 1) || (!rooted && w != 0))
				PUT('/');
			for (; r < n && in[r] != '/'; r++)
				PUT(in[r]);
		}
	}
	if (w == 0)
		PUT('.');
#undef PUT
	out[w] = '\0';
	return (ssize_t)w;
}

ssize_t http_pct_decode(const char *in, size_t n, char *out, size_t cap)
{
	size_t w = 0;
	for (size_t r = 0; r < n; r++) {
		unsigned char c = (unsigned char)in[r];
		if (c == '%') {
			if (r + 2 >= n || !is_hex((unsigned char)in[r + 1]) ||
			    !is_hex((unsigned char)in[r + 2]))
				return -1;
			c = (unsigned char)(hex_val((unsigned char)in[r + 1]) << 4 |
					    hex_val((unsigned char)in[r + 2]));
			if (c == 0)
				return -1;
			r += 2;
		}
		if (w + 1 >= cap)
			return -1;
		out[w++] = (char)c;
	}
	if (cap == 0)
		return -1;
	out[w] = '\0';
	return (ssize_t)w;
}

ssize_t http_route_path(const struct http_span *path, char *out, size_t cap)
{
	ssize_t n = http_pct_decode(path->p, path->len, out, cap);
	if (n < 0)
		return -1;
	return http_path_clean(out, (size_t)n, out, cap);
}

const char *http_status_reason(int status)
{
	switch (status) {
	case 100:
		return "Continue";
	case 200:
		return "OK";
	case 201:
		return "Created";
	case 204:
		return "No Content";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 409:
		return "Conflict";
	case 411:
		return "Length Required";
	case 413:
		return "Request Entity Too Large";
	case 415:
		return "Unsupported Media Type";
	case 417:
		return "Expectation Failed";
	case 422:
		return "Unprocessable Entity";
	case 429:
		return "Too Many Requests";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	case 505:
		return "HTTP Version Not Supported";
	default:
		return "";
	}
}

/* No control bytes except HTAB (reason phrase, header values we write). */
static bool text_ok(const char *s)
{
	for (; *s; s++)
		if (!is_field_byte((unsigned char)*s))
			return false;
	return true;
}

/* Zero or more "token: text\r\n" lines. */
static bool extra_ok(const char *s)
{
	while (*s) {
		const char *l = s;
		while (is_tchar((unsigned char)*s))
			s++;
		if (s == l || *s != ':')
			return false;
		for (s++; *s && *s != '\r'; s++)
			if (!is_field_byte((unsigned char)*s))
				return false;
		if (s[0] != '\r' || s[1] != '\n')
			return false;
		s += 2;
	}
	return true;
}

ssize_t http_write_response_head(char *buf, size_t cap, int status, const char *reason,
				 const char *content_type, int64_t content_length,
				 const char *extra_headers)
{
	if (status < 100 || status > 999)
		return -1;
	if (reason == NULL)
		reason = http_status_reason(status);
	if (!text_ok(reason) || (content_type != NULL && !text_ok(content_type)) ||
	    (extra_headers != NULL && !extra_ok(extra_headers)))
		return -1;

	size_t w = 0;
	int n = snprintf(buf, cap, "HTTP/1.1 %d %s\r\n", status, reason);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	w += (size_t)n;
	if (content_type != NULL) {
		n = snprintf(buf + w, cap - w, "Content-Type: %s\r\n", content_type);
		if (n < 0 || (size_t)n >= cap - w)
			return -1;
		w += (size_t)n;
	}
	if (content_length >= 0) {
		n = snprintf(buf + w, cap - w, "Content-Length: %lld\r\n", (long long)content_length);
		if (n < 0 || (size_t)n >= cap - w)
			return -1;
		w += (size_t)n;
	}
	n = snprintf(buf + w, cap - w, "%s\r\n", extra_headers ? extra_headers : "");
	if (n < 0 || (size_t)n >= cap - w)
		return -1;
	w += (size_t)n;
	return (ssize_t)w;
}
