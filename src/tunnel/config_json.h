/*
 * config_json: JSON text with positions, for config messages.
 *
 * jansson parses and keeps no positions; this module keeps the text next
 * to the parsed tree (a `struct config_json_doc`) and finds, on the error
 * path only, where a value is: its JSON path, line and column. It also
 * builds the one-line messages every config error uses:
 *   NAME[:LINE:COL]: [PATH: ]MESSAGE
 * e.g. `client-config.json:7:19: ServiceToLocalAddrMap.fooService: "x" is
 * not host:port`. Lines and columns are 1-based, columns count UTF-8
 * characters (as jansson does). The file name and quoted values are
 * escaped so that a message stays on one line; a message cut at the buffer
 * size never ends inside a UTF-8 sequence.
 *
 * It knows nothing of threshold's keys (config_keys) or value rules
 * (config_value). config_json_locate() is pure and bounded (no allocation,
 * no recursion, any bytes accepted); the fuzz target fuzz_config_json
 * drives it over raw bytes.
 */
#ifndef THRESHOLD_CONFIG_JSON_H
#define THRESHOLD_CONFIG_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

/* Bytes of a value quoted in a message, and room for it with escapes. */
#define CONFIG_JSON_SHOW_MAX 48
#define CONFIG_JSON_SHOW_BUF (CONFIG_JSON_SHOW_MAX * 6 + 8)

/* A path is a list of steps: an object key (decoded, as jansson gives it),
 * or when key is NULL an array index. */
struct config_path {
	const char *key;
	size_t index;
};
struct config_pos {
	size_t off, len; /* byte span of the value (or key), quotes included */
	int line, col;	 /* 1-based; col counts UTF-8 characters */
};

/* Finds the value at path[0..depth) in text[0..len) (depth 0: the top
 * value); with at_key and a last step that is a key, the key's token
 * instead. The first of duplicate keys wins. Pure and bounded: no
 * allocation, no recursion, any bytes accepted. Returns 0, or -1 when the
 * path is not there or the text is not well-formed along the way. */
int config_json_locate(const char *text, size_t len, const struct config_path *path,
		       size_t depth, bool at_key, struct config_pos *pos);

/* 1-based line and column (in UTF-8 characters) of text[off]. */
void config_json_line_col(const char *text, size_t off, int *line, int *col);

/* A document being loaded: its name in messages, its text (after a BOM,
 * borrowed) and the caller's message buffer of errlen bytes. */
struct config_json_doc {
	const char *name;
	const char *text;
	size_t len;
	char *err;
	size_t errlen;
};

/* Where a message points: nowhere (the file as a whole), at the value of
 * the path, or at its last key. */
enum config_json_at { CONFIG_JSON_AT_NONE,
		      CONFIG_JSON_AT_VALUE,
		      CONFIG_JSON_AT_KEY };

/*
 * Parses text[0..len) (text may be NULL for empty; need not be
 * NUL-terminated) into d: longer than `cap` bytes is refused, a leading
 * UTF-8 BOM skipped, an empty text, a NUL byte, a JSON syntax error, a
 * duplicate key (jansson's JSON_REJECT_DUPLICATES, pointed at the key's
 * first character) and a top value that is not an object are errors.
 * Returns the top object (caller decrefs) or NULL with d->err set;
 * d->name, d->err and d->errlen are set by the caller beforehand.
 */
json_t *config_json_load(struct config_json_doc *d, const char *text, size_t len, size_t cap);

/* Writes "name[:line:col]: [path: ]message" into d->err (the position
 * when `at` asks for one and it is found, the path when show_path and
 * depth > 0); returns -1 so that callers can `return config_json_fail(...)`. */
__attribute__((format(printf, 6, 7))) int config_json_fail(const struct config_json_doc *d, const struct config_path *path, size_t depth,
							   enum config_json_at at, bool show_path, const char *fmt, ...);

/* How value v at path is quoted in messages: as written in the file (so
 * "got 1e3" shows what the user typed), at most CONFIG_JSON_SHOW_MAX
 * bytes, on one line; "an object" / "an array" for those. Returns out or a
 * static string. */
const char *config_json_show(const struct config_json_doc *d, const struct config_path *path,
			     size_t depth, const json_t *v, char out[CONFIG_JSON_SHOW_BUF]);

/* s[0..n) escaped as a JSON string body ('"' and '\\' too), shortened like
 * config_json_show, into out[CONFIG_JSON_SHOW_BUF]; returns out. */
const char *config_json_quote(const char *s, size_t n, char out[CONFIG_JSON_SHOW_BUF]);

#endif
