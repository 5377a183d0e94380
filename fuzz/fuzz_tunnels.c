/*
 * Fuzz target for server/tunnel_spec: the PUT /tunnels body parser.
 * Invariants checked beyond "no crash, no leak":
 *   - every problem is an object with a non-empty "error" string, an
 *     "index" (when present) inside the array, a string "field";
 *   - OK means no problems, and a set whose every entry is complete (a
 *     canonical key, 1..65535, glob, service and client set);
 *   - an accepted set echoes as JSON that parses again to the same echo.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "server/tunnel_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct tunnel_spec_ctx ctx = {
	.control_addr = NULL,
	.control_port = 9056,
	.has_mgmt_port = true,
	.mgmt_addr = "127.0.0.1",
	.mgmt_port = 9057,
};

static void check_errors(json_t *errors, const struct tunnel_set *ts)
{
	size_t i;
	json_t *e;
	json_array_foreach(errors, i, e) {
		json_t *msg = json_object_get(e, "error");
		json_t *idx = json_object_get(e, "index");
		json_t *f = json_object_get(e, "field");
		if (!json_is_string(msg) || json_string_length(msg) == 0)
			abort();
		if (idx && (!json_is_integer(idx) || json_integer_value(idx) < 0 ||
			    (size_t)json_integer_value(idx) >= (ts->n ? ts->n : 1)))
			abort();
		if (f && !json_is_string(f))
			abort();
	}
}

static void check_ok(const struct tunnel_set *ts)
{
	for (size_t i = 0; i < ts->n; i++) {
		const struct tunnel *t = &ts->v[i];
		if (!t->addr || !t->glob || !t->service || !t->client || !t->key[0] || t->port == 0)
			abort();
		if (t->proxy_version != 1 && t->proxy_version != 2)
			abort();
	}
	json_t *j = tunnel_spec_to_json(ts);
	char *s1 = json_dumps(j, JSON_COMPACT | JSON_ENCODE_ANY);
	json_decref(j);
	if (s1 == NULL)
		abort();
	json_t *errors = json_array();
	struct tunnel_set again;
	if (tunnel_spec_parse(s1, strlen(s1), &ctx, &again, errors) != TUNNEL_SPEC_OK)
		abort();
	json_t *j2 = tunnel_spec_to_json(&again);
	char *s2 = json_dumps(j2, JSON_COMPACT | JSON_ENCODE_ANY);
	if (s2 == NULL || strcmp(s1, s2) != 0)
		abort();
	free(s1);
	free(s2);
	json_decref(j2);
	json_decref(errors);
	tunnel_set_clear(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so reading past the end is caught. */
	char *body = malloc(size ? size : 1);
	if (body == NULL)
		return 0;
	if (size)
		memcpy(body, data, size);
	json_t *errors = json_array();
	struct tunnel_set ts;
	enum tunnel_spec_rc rc = tunnel_spec_parse(body, size, &ctx, &ts, errors);
	check_errors(errors, &ts);
	if (rc == TUNNEL_SPEC_OK) {
		if (json_array_size(errors) != 0)
			abort();
		check_ok(&ts);
	} else if (json_array_size(errors) == 0) {
		abort();
	}
	tunnel_set_clear(&ts);
	json_decref(errors);
	free(body);
	return 0;
}
