/*
 * Fuzz target for wire/glob.
 *
 * The input is split at its first '\n' into a pattern and a host (no '\n':
 * the whole input is the pattern, the host is empty); the host is further
 * cut at ',' into up to four more globs for glob_pick. Checks:
 *   - glob_match_n agrees with a plain dynamic-programming matcher (the
 *     reference semantics: '*' is any run, other bytes equal ignoring ASCII
 *     case);
 *   - "*" and "" match everything; a glob matches itself; a pattern without
 *     '*' matches exactly the case-insensitively equal hosts;
 *   - changing the case of ASCII letters in pattern or host changes nothing;
 *   - glob_pick returns a matching glob, none more specific matches, and no
 *     earlier one is as specific; specificity counts stay within the glob.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wire/glob.h"

#define CHECK(x)                                                                                   \
	do {                                                                                       \
		if (!(x))                                                                          \
			abort();                                                                   \
	} while (0)

#define DP_MAX 512

static unsigned char fold(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

/* Reference matcher: m[i][j] = pattern[i..] matches host[j..]. */
static bool ref_match(const char *p, size_t pl, const char *h, size_t hl)
{
	static bool m[DP_MAX + 1][DP_MAX + 1];
	for (size_t i = pl + 1; i-- > 0;) {
		for (size_t j = hl + 1; j-- > 0;) {
			bool r;
			if (i == pl)
				r = j == hl;
			else if (p[i] == '*')
				r = m[i + 1][j] || (j < hl && m[i][j + 1]);
			else
				r = j < hl && fold((unsigned char)p[i]) == fold((unsigned char)h[j]) &&
				    m[i + 1][j + 1];
			m[i][j] = r;
		}
	}
	return pl == 0 || m[0][0];
}

static void flip_case(char *s, size_t n, const uint8_t *seed, size_t sn)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalpha(c) && c < 0x80 && sn > 0 && (seed[i % sn] >> (i % 8)) & 1)
			s[i] = (char)(c ^ 0x20);
	}
}

static void check_pick(const char *hosts, size_t hn, const char *host, size_t hl)
{
	/* Up to 4 globs from hosts[0..hn) cut at ','; NUL-terminated copies. */
	char buf[4][64];
	const char *g[4];
	size_t n = 0, from = 0;
	for (size_t i = 0; i <= hn && n < 4; i++) {
		if (i == hn || hosts[i] == ',') {
			size_t l = i - from < 63 ? i - from : 63;
			memcpy(buf[n], hosts + from, l);
			buf[n][l] = '\0';
			if (memchr(buf[n], '\0', l) == NULL) {
				g[n] = buf[n];
				n++;
			}
			from = i + 1;
		}
	}
	char h[256];
	if (hl >= sizeof(h) || memchr(host, '\0', hl) != NULL)
		return;
	memcpy(h, host, hl);
	h[hl] = '\0';
	ssize_t w = glob_pick(g, n, h);
	CHECK(w >= -1 && w < (ssize_t)n);
	for (size_t i = 0; i < n; i++) {
		bool m = glob_match(g[i], h);
		if (w < 0) {
			CHECK(!m);
			continue;
		}
		if (!m)
			continue;
		int c = glob_specificity_cmp(glob_specificity(g[i]), glob_specificity(g[w]));
		CHECK(c <= 0);
		if ((ssize_t)i < w)
			CHECK(c < 0);
	}
	if (w >= 0)
		CHECK(glob_match(g[w], h));
}

static void check_specificity(const char *p, size_t pl)
{
	char s[DP_MAX + 1];
	if (memchr(p, '\0', pl) != NULL)
		return;
	memcpy(s, p, pl);
	s[pl] = '\0';
	struct glob_specificity sp = glob_specificity(s);
	size_t dots = 0, stars = 0;
	for (size_t i = 0; i < pl; i++) {
		dots += s[i] == '.';
		stars += s[i] == '*';
	}
	CHECK(sp.literal_labels <= dots + 1);
	CHECK(pl == 0 ? sp.stars == 1 : sp.stars <= stars);
	CHECK((sp.stars == 0) == (pl > 0 && stars == 0));
	CHECK(glob_specificity_cmp(sp, sp) == 0);
	/* A glob without '*' matches itself as a host; NUL-terminated form agrees. */
	CHECK(glob_match(s, s));
	/* A wildcard glob matches every host, the empty one included. */
	if (glob_is_wildcard(s))
		CHECK(glob_match(s, "") && glob_match(s, "any.example.com"));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	const char *nl = memchr(in, '\n', size);
	size_t pl = nl != NULL ? (size_t)(nl - in) : size;
	const char *host = nl != NULL ? nl + 1 : in + size;
	size_t hl = nl != NULL ? size - pl - 1 : 0;
	if (pl > DP_MAX || hl > DP_MAX)
		return 0;

	bool m = glob_match_n(in, pl, host, hl);
	CHECK(m == ref_match(in, pl, host, hl));
	CHECK(glob_match_n("*", 1, host, hl));
	CHECK(glob_match_n("", 0, host, hl));
	CHECK(glob_match_n(in, pl, in, pl));
	if (pl > 0 && memchr(in, '*', pl) == NULL) { /* "" is "*" */
		bool eq = pl == hl;
		for (size_t i = 0; eq && i < pl; i++)
			eq = fold((unsigned char)in[i]) == fold((unsigned char)host[i]);
		CHECK(m == eq);
	}

	char p2[DP_MAX], h2[DP_MAX];
	memcpy(p2, in, pl);
	memcpy(h2, host, hl);
	flip_case(p2, pl, data, size);
	flip_case(h2, hl, data + size / 2, size - size / 2);
	CHECK(glob_match_n(p2, pl, h2, hl) == m);

	check_specificity(in, pl);
	check_pick(host, hl, in, pl);
	return 0;
}
