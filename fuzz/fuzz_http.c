/*
 * Fuzz target for wire/http: the request and response head parsers, path
 * cleaning and the response writer, over the same input.
 *
 * Besides memory safety it checks the parsers' contracts:
 *   - every span points inside the consumed head;
 *   - a complete head is found again at the same length when parsed alone,
 *     and strict prefixes of it ask for more (so feeding bytes one read at a
 *     time gives the same answer as feeding them at once);
 *   - NEED_MORE only below the size cap;
 *   - path cleaning is idempotent and gives the same result in place;
 *   - what the writer accepts, the response parser parses back.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/http.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

static void check_span(const struct http_span *sp, const char *base, size_t len)
{
	if (sp->len == 0)
		return;
	CHECK(sp->p >= base && sp->p + sp->len <= base + len);
}

static void check_headers(const struct http_header *h, size_t n, const char *base, size_t len)
{
	CHECK(n <= HTTP_MAX_HEADERS);
	for (size_t i = 0; i < n; i++) {
		CHECK(h[i].name.len > 0);
		check_span(&h[i].name, base, len);
		check_span(&h[i].value, base, len);
		CHECK(http_header_index(h, n, "x", 0) < (ssize_t)n);
	}
}

/* A few prefix lengths below `n` chosen from the input, plus the extremes. */
static size_t pick_prefix(const uint8_t *data, size_t n, unsigned i)
{
	if (i == 0)
		return n - 1;
	if (i == 1)
		return n / 2;
	if (i == 2)
		return 0;
	return ((size_t)data[i % n] * 131u + i * 7919u) % n;
}

static void check_clean(const char *p, size_t len)
{
	char *a = malloc(len + 2), *b = malloc(len + 2);
	CHECK(a && b);
	ssize_t n = http_path_clean(p, len, a, len + 2);
	CHECK(n >= 1 && (size_t)n <= (len ? len : 1));
	CHECK(a[n] == '\0');
	memcpy(b, p, len);
	CHECK(http_path_clean(b, len, b, len + 2) == n); /* in place */
	CHECK(memcmp(a, b, (size_t)n) == 0);
	CHECK(http_path_clean(a, (size_t)n, b, len + 2) == n); /* idempotent */
	CHECK(memcmp(a, b, (size_t)n) == 0);
	if (n > 1)
		CHECK(http_path_clean(p, len, b, (size_t)n) == -1); /* exact bounds */
	free(a);
	free(b);
}

static void fuzz_request(const char *buf, size_t size, size_t max_head)
{
	struct http_limits lim = { .max_head = max_head, .max_body = 1 << 20 };
	struct http_request req;
	size_t consumed = 0;
	int rc = http_request_parse(buf, size, &lim, &req, &consumed);

	CHECK(rc <= HTTP_OK && rc >= HTTP_E_BODY_TOO_LARGE);
	if (rc == HTTP_NEED_MORE) {
		CHECK(size < max_head);
		CHECK(consumed == 0);
		return;
	}
	if (rc != HTTP_OK && rc != HTTP_E_UNSUPPORTED && rc != HTTP_E_BODY_TOO_LARGE) {
		CHECK(req.error != NULL);
		CHECK(consumed == 0);
		return;
	}
	CHECK(consumed > 0 && consumed <= size && consumed <= max_head);
	CHECK(req.method.len > 0);
	check_span(&req.method, buf, consumed);
	check_span(&req.target, buf, consumed);
	check_span(&req.path, buf, consumed);
	check_span(&req.query, buf, consumed);
	check_span(&req.authority, buf, consumed);
	check_headers(req.headers, req.n_headers, buf, consumed);
	CHECK(req.version_minor == 0 || req.version_minor == 1);
	CHECK(req.content_length >= -1);

	/* The head alone parses the same; strict prefixes need more. */
	struct http_request again;
	size_t c2;
	CHECK(http_request_parse(buf, consumed, &lim, &again, &c2) == rc && c2 == consumed);
	for (unsigned i = 0; i < 8; i++) {
		size_t k = pick_prefix((const uint8_t *)buf, consumed, i);
		CHECK(http_request_parse(buf, k, &lim, &again, &c2) == HTTP_NEED_MORE);
	}

	char *route = malloc(req.path.len + 2);
	CHECK(route);
	ssize_t rn = http_route_path(&req.path, route, req.path.len + 2);
	if (rn >= 0)
		CHECK(http_path_clean(route, (size_t)rn, route, req.path.len + 2) == rn);
	free(route);
}

static void fuzz_response(const char *buf, size_t size, size_t max_head)
{
	struct http_response resp;
	size_t consumed = 0;
	int rc = http_response_parse(buf, size, max_head, &resp, &consumed);

	CHECK(rc == HTTP_OK || rc == HTTP_NEED_MORE || rc == HTTP_E_TOO_LARGE ||
	      rc == HTTP_E_BAD_REQUEST || rc == HTTP_E_VERSION);
	if (rc == HTTP_NEED_MORE) {
		CHECK(size < max_head);
		return;
	}
	if (rc != HTTP_OK) {
		CHECK(resp.error != NULL);
		return;
	}
	CHECK(consumed > 0 && consumed <= size && consumed <= max_head);
	CHECK(resp.status >= 100 && resp.status <= 999);
	check_span(&resp.reason, buf, consumed);
	check_headers(resp.headers, resp.n_headers, buf, consumed);

	struct http_response again;
	size_t c2;
	CHECK(http_response_parse(buf, consumed, max_head, &again, &c2) == HTTP_OK && c2 == consumed);
	CHECK(again.status == resp.status && again.n_headers == resp.n_headers);
	for (unsigned i = 0; i < 8; i++) {
		size_t k = pick_prefix((const uint8_t *)buf, consumed, i);
		CHECK(http_response_parse(buf, k, max_head, &again, &c2) == HTTP_NEED_MORE);
	}
}

/* Writer: a reason and an extra-header block taken from the input. */
static void fuzz_writer(const uint8_t *data, size_t size)
{
	if (size < 3)
		return;
	int status = 100 + (data[0] | data[1] << 8) % 900;
	size_t split = data[2] % (size - 2);
	char *reason = malloc(split + 1), *extra = malloc(size - 3 - split + 1);
	CHECK(reason && extra);
	memcpy(reason, data + 3, split);
	reason[split] = '\0';
	memcpy(extra, data + 3 + split, size - 3 - split);
	extra[size - 3 - split] = '\0';

	char out[1024];
	ssize_t n = http_write_response_head(out, sizeof(out), status, reason, NULL,
					     (int64_t)(data[1] * 3), extra);
	if (n >= 0) {
		CHECK((size_t)n < sizeof(out) && out[n] == '\0');
		struct http_response resp;
		size_t consumed;
		int rc = http_response_parse(out, (size_t)n, sizeof(out), &resp, &consumed);
		/* The writer checks syntax only: an extra Content-Length may
		 * disagree, and many short lines may exceed HTTP_MAX_HEADERS. */
		if (rc == HTTP_E_BAD_REQUEST)
			CHECK(strcasestr(extra, "content-length") != NULL);
		else if (rc != HTTP_E_TOO_LARGE) {
			CHECK(rc == HTTP_OK);
			CHECK(consumed == (size_t)n && resp.status == status);
			if (strcasestr(extra, "content-length") == NULL)
				CHECK(resp.content_length == data[1] * 3);
		}
	}
	free(reason);
	free(extra);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	fuzz_request(buf, size, HTTP_HEAD_MAX_DEFAULT);
	fuzz_request(buf, size, 64); /* a small cap exercises the limit paths */
	fuzz_response(buf, size, HTTP_HEAD_MAX_DEFAULT);
	fuzz_response(buf, size, 64);
	if (size <= 4096)
		check_clean(buf, size);
	fuzz_writer(data, size);
	return 0;
}
