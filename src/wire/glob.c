#include "wire/glob.h"

#include <stdint.h>
#include <string.h>

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

bool glob_match_n(const char *pattern, size_t plen, const char *host, size_t hlen)
{
	const unsigned char *p = (const unsigned char *)pattern;
	const unsigned char *h = (const unsigned char *)host;
	size_t pi = 0, hi = 0;
	size_t star = SIZE_MAX; /* pattern index just after the last '*' seen */
	size_t mark = 0;	/* host index that '*' was last tried to end at */

	if (plen == 0) /* the empty glob is "*" */
		return true;
	while (hi < hlen) {
		if (pi < plen && p[pi] == '*') {
			star = ++pi;
			mark = hi;
		} else if (pi < plen && lower(p[pi]) == lower(h[hi])) {
			pi++;
			hi++;
		} else if (star != SIZE_MAX) {
			/* Let the last '*' swallow one more byte and retry from there. */
			pi = star;
			hi = ++mark;
		} else {
			return false;
		}
	}
	while (pi < plen && p[pi] == '*')
		pi++;
	return pi == plen;
}

bool glob_match(const char *pattern, const char *host)
{
	if (pattern == NULL)
		return true;
	return glob_match_n(pattern, strlen(pattern), host != NULL ? host : "",
			    host != NULL ? strlen(host) : 0);
}

bool glob_is_wildcard(const char *glob)
{
	if (glob == NULL)
		return true;
	while (*glob == '*')
		glob++;
	return *glob == '\0';
}

struct glob_specificity glob_specificity(const char *glob)
{
	struct glob_specificity s = { 0, 0 };
	if (glob == NULL || glob[0] == '\0') {
		s.stars = 1;
		return s;
	}
	size_t label_len = 0;
	bool label_star = false;
	for (const char *c = glob;; c++) {
		if (*c == '.' || *c == '\0') {
			if (label_len > 0 && !label_star)
				s.literal_labels++;
			label_len = 0;
			label_star = false;
			if (*c == '\0')
				break;
			continue;
		}
		if (*c == '*') {
			if (c == glob || c[-1] != '*')
				s.stars++;
			label_star = true;
		}
		label_len++;
	}
	return s;
}

int glob_specificity_cmp(struct glob_specificity a, struct glob_specificity b)
{
	if (a.literal_labels != b.literal_labels)
		return a.literal_labels > b.literal_labels ? 1 : -1;
	if (a.stars != b.stars)
		return a.stars < b.stars ? 1 : -1;
	return 0;
}

ssize_t glob_pick(const char *const *globs, size_t n, const char *host)
{
	ssize_t best = -1;
	struct glob_specificity best_s = { 0, 0 };
	for (size_t i = 0; i < n; i++) {
		if (!glob_match(globs[i], host))
			continue;
		struct glob_specificity s = glob_specificity(globs[i]);
		if (best < 0 || glob_specificity_cmp(s, best_s) > 0) {
			best = (ssize_t)i;
			best_s = s;
		}
	}
	return best;
}
