/*
 * Fuzz target for tunnel/config_json: any bytes go to config_json_load.
 * Invariants beyond "no crash, no leak":
 *   - a failure leaves one non-empty line in err (no control characters);
 *   - when the text loads, every value of the tree (up to MAX_VISIT, down
 *     to MAX_DEPTH) is found by config_json_locate, at a 1-based line and
 *     column, inside the text, and its span parsed alone is equal to the
 *     value: the locator and jansson agree on what is where;
 *   - config_json_fail on each such path writes one line.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/config_json.h"

#define ERRLEN 512
#define MAX_DEPTH 8
#define MAX_VISIT 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_line(const char *err)
{
	size_t n = strnlen(err, ERRLEN);
	if (n == 0 || n >= ERRLEN)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7F)
			abort();
}

struct walk {
	const struct config_json_doc *d;
	struct config_path path[MAX_DEPTH];
	size_t visits;
};

static void check_at(struct walk *w, size_t depth, const json_t *v)
{
	struct config_pos pos;
	const struct config_json_doc *d = w->d;
	if (config_json_locate(d->text, d->len, w->path, depth, false, &pos) != 0)
		abort();
	if (pos.off > d->len || pos.len == 0 || pos.len > d->len - pos.off || pos.line < 1 ||
	    pos.col < 1)
		abort();
	json_error_t je;
	json_t *alone = json_loadb(d->text + pos.off, pos.len, JSON_DECODE_ANY, &je);
	if (alone == NULL || !json_equal(alone, v))
		abort();
	json_decref(alone);
	if (depth > 0 && w->path[depth - 1].key != NULL &&
	    config_json_locate(d->text, d->len, w->path, depth, true, &pos) != 0)
		abort();
	char err[ERRLEN];
	struct config_json_doc e = *d;
	e.err = err;
	config_json_fail(&e, w->path, depth, CONFIG_JSON_AT_VALUE, true, "x");
	check_line(err);
}

static void walk(struct walk *w, size_t depth, const json_t *v)
{
	if (w->visits++ >= MAX_VISIT)
		return;
	check_at(w, depth, v);
	if (depth == MAX_DEPTH)
		return;
	if (json_is_object(v)) {
		const char *k;
		json_t *m;
		json_object_foreach((json_t *)v, k, m) {
			w->path[depth] = (struct config_path){ k, 0 };
			walk(w, depth + 1, m);
		}
	} else if (json_is_array(v)) {
		for (size_t i = 0; i < json_array_size(v); i++) {
			w->path[depth] = (struct config_path){ NULL, i };
			walk(w, depth + 1, json_array_get(v, i));
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so reading past the end is caught. */
	char *text = malloc(size ? size : 1);
	if (text == NULL)
		return 0;
	if (size)
		memcpy(text, data, size);
	char err[ERRLEN];
	struct config_json_doc d = { "fuzz.json", "", 0, err, sizeof(err) };
	json_t *root = config_json_load(&d, text, size, 64 * 1024);
	if (root == NULL) {
		check_line(err);
	} else {
		struct walk w = { &d, { { NULL, 0 } }, 0 };
		walk(&w, 0, root);
		json_decref(root);
	}
	free(text);
	return 0;
}
