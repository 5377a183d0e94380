/*
 * glob: host name globs for SNI routing, and the choice between several.
 *
 * Semantics (the original's ryanuber/go-glob, go-original.md section 6),
 * except that letters compare ASCII case-insensitively (section 8 item 12):
 *   - only '*' is special; it matches any run of bytes, including the empty
 *     run and runs containing dots: "*.example.com" matches
 *     "a.b.example.com" but not "example.com";
 *   - the pattern "*" and the empty pattern (and NULL) match everything,
 *     including the empty host;
 *   - a pattern without '*' matches by plain (case-insensitive) equality;
 *   - a host of NULL is the empty host: the hostname of a connection
 *     without SNI, which only globs made of '*' alone (or empty) match.
 * Matching is iterative (the two-pointer star algorithm: on a mismatch,
 * resume after the last '*' one byte further in the host), so it costs at
 * most O(strlen(pattern) * strlen(host)), never exponential, whatever the
 * pattern ("*a*a*a*a*a*b" against a long host included). No allocation.
 *
 * Specificity, for choosing between several matching globs ("most specific
 * glob wins", protocol.md section 2; the original's last-entry bug is not
 * reproduced, section 8 item 10):
 *   1. more literal labels wins: the glob is split at '.', and the labels
 *      that are non-empty and contain no '*' are counted;
 *   2. then fewer '*' wins, a run of consecutive '*' counting once ("**" is
 *      the same glob as "*");
 *   3. then the earlier glob in the list wins.
 * The empty glob counts as "*". Examples, most specific first:
 *   "api.example.com"    3 literal labels, 0 stars
 *   "*.api.example.com"  3 literal labels, 1 star
 *   "*.example.com"      2 literal labels, 1 star
 *   "api.*.com"          2 literal labels, 1 star  (ties with "*.example.com":
 *                                                    list order decides)
 *   "a*.example.com"     2 literal labels, 1 star  (also a tie: "a*" is not literal)
 *   "*.*.com"            1 literal label,  2 stars
 *   "*"  and  ""         0 literal labels, 1 star
 * So for SNI "api.example.com" and globs [*, *.example.com, api.example.com],
 * in either order, "api.example.com" wins; "www.example.com" gets
 * "*.example.com"; no SNI gets "*".
 */
#ifndef THRESHOLD_WIRE_GLOB_H
#define THRESHOLD_WIRE_GLOB_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct glob_specificity {
	size_t literal_labels; /* non-empty labels without '*' */
	size_t stars;	       /* runs of '*'; the empty glob has 1 */
};

/* Whether host (NUL-terminated; NULL = "") matches pattern (NULL = "*"). */
bool glob_match(const char *pattern, const char *host);

/* Like glob_match over byte spans; the spans may hold any byte (NUL included). */
bool glob_match_n(const char *pattern, size_t plen, const char *host, size_t hlen);

/*
 * Whether the glob matches every host, the empty one included: NULL, "", or
 * '*' only. A listener whose globs are all like this need not peek at SNI.
 */
bool glob_is_wildcard(const char *glob);

/* The specificity of a glob (NULL = ""). */
struct glob_specificity glob_specificity(const char *glob);

/*
 * Compares specificities by rules 1 and 2: > 0 if a is more specific than b,
 * < 0 if less, 0 on a tie.
 */
int glob_specificity_cmp(struct glob_specificity a, struct glob_specificity b);

/*
 * Index of the most specific glob of globs[0..n) matching host (NULL or ""
 * for a connection without SNI), the earliest on a tie; -1 if none matches
 * (or n is 0). NULL entries count as "*".
 */
ssize_t glob_pick(const char *const *globs, size_t n, const char *host);

#endif
