/*
 * utf8: validating and encoding UTF-8 (RFC 3629), pure functions over a
 * byte span: no allocation, no I/O.
 *
 * Valid means what RFC 3629 allows: no overlong forms, no UTF-16
 * surrogates (U+D800-U+DFFF), nothing above U+10FFFF, no truncated
 * sequence. Used by the config messages and, later, by log escaping.
 */
#ifndef THRESHOLD_BASE_UTF8_H
#define THRESHOLD_BASE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* Longest encoded character. */
#define UTF8_MAX 4

/* Length (1-4) of the valid UTF-8 sequence at s[0..n), or 0 if s does not
 * start with one (n == 0, a stray continuation byte, an overlong form, a
 * surrogate, a code point above U+10FFFF, or a sequence cut short). */
size_t utf8_len(const unsigned char *s, size_t n);

/* Whether s[0..n) is entirely valid UTF-8. */
bool utf8_valid(const unsigned char *s, size_t n);

/* Writes code point cp (at most U+10FFFF) into b[UTF8_MAX] and returns how
 * many bytes it took (1-4). Surrogates are encoded as they are (3 bytes),
 * as a JSON decoder does with a lone \uD800, so the caller decides. */
size_t utf8_put(unsigned char b[UTF8_MAX], unsigned long cp);

/* Index of the first byte of the character that contains s[i]: steps back
 * over continuation bytes (never below 0), for cutting text at a character
 * boundary. */
size_t utf8_boundary(const unsigned char *s, size_t i);

#endif
