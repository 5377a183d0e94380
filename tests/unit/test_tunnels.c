/*
 * PUT /tunnels validation (src/server/tunnel_spec.c: tunnel_spec_parse): every
 * problem reported with its index and field, the right status, nothing
 * half-parsed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "server/tunnel_spec.h"

/* The server's own ports as a 2020-layout server without TLS has them:
 * control on every address, management on 127.0.0.1. */
static struct tunnel_spec_ctx ctx;

static int setup(void **state)
{
	(void)state;
	ctx = (struct tunnel_spec_ctx){
		.control_addr = NULL,
		.control_port = 9056,
		.has_mgmt_port = true,
		.mgmt_addr = "127.0.0.1",
		.mgmt_port = 9057,
	};
	return 0;
}

/* The HTTP status the management API answers for a result (mgmt.c). */
static int status_of(enum tunnel_spec_rc rc)
{
	switch (rc) {
	case TUNNEL_SPEC_OK: return 200;
	case TUNNEL_SPEC_E_SHAPE: return 422;
	case TUNNEL_SPEC_E_VALUE: return 400;
	case TUNNEL_SPEC_E_CONFLICT: return 409;
	case TUNNEL_SPEC_E_NOMEM: return 500;
	}
	return -1;
}

/* Parses body; returns the status; *errors keeps the problems. */
static int parse(const char *body, json_t **errors, struct tunnel_set *ts)
{
	*errors = json_array();
	return status_of(tunnel_spec_parse(body, strlen(body), &ctx, ts, *errors));
}

static bool has_problem(json_t *errors, long index, const char *field)
{
	size_t i;
	json_t *e;
	json_array_foreach(errors, i, e) {
		json_t *ix = json_object_get(e, "index");
		json_t *f = json_object_get(e, "field");
		if ((index < 0 ? ix == NULL : (ix && json_integer_value(ix) == index)) &&
		    (field == NULL ? f == NULL : (f && strcmp(json_string_value(f), field) == 0)))
			return true;
	}
	return false;
}

static void test_usage_example(void **state)
{
	(void)state;
	json_t *errors;
	struct tunnel_set ts;
	int st = parse("[{\"ClientIdentifier\":\"TestClient1\",\"ListenPort\":9000,\"ListenAddress\":\"127.0.0.1\","
		       "\"ListenHostnameGlob\":\"*\",\"BackEndService\":\"fooService\",\"HaProxyProxyProtocol\":true}]",
		       &errors, &ts);
	assert_int_equal(st, 200);
	assert_int_equal(json_array_size(errors), 0);
	assert_int_equal(ts.n, 1);
	assert_true(ts.v[0].proxy);
	assert_string_equal(ts.v[0].addr, "127.0.0.1");
	assert_string_equal(ts.v[0].glob, "*");
	assert_int_equal(ts.v[0].port, 9000);
	assert_string_equal(ts.v[0].service, "fooService");
	assert_string_equal(ts.v[0].client, "TestClient1");
	assert_string_equal(ts.v[0].key, "127.0.0.1:9000");
	/* Echo in Go's field order. */
	json_t *j = tunnel_spec_to_json(&ts);
	char *s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "[{\"HaProxyProxyProtocol\":true,\"ListenAddress\":\"127.0.0.1\",\"ListenHostnameGlob\":\"*\","
			       "\"ListenPort\":9000,\"BackEndService\":\"fooService\",\"ClientIdentifier\":\"TestClient1\"}]");
	free(s);
	json_decref(j);
	tunnel_set_clear(&ts);
	json_decref(errors);
}

static void test_defaults_and_case(void **state)
{
	(void)state;
	json_t *errors;
	struct tunnel_set ts;
	/* Keys in any case; optional fields absent or null. */
	int st = parse("[{\"clientidentifier\":\"a\",\"LISTENPORT\":80,\"listenAddress\":\"::\",\"BackEndService\":null}]",
		       &errors, &ts);
	assert_int_equal(st, 200);
	assert_false(ts.v[0].proxy);
	assert_string_equal(ts.v[0].glob, "");
	assert_string_equal(ts.v[0].service, "");
	assert_string_equal(ts.v[0].key, "[::]:80");
	tunnel_set_clear(&ts);
	json_decref(errors);
}

static void test_null_and_empty(void **state)
{
	(void)state;
	json_t *errors;
	struct tunnel_set ts;
	assert_int_equal(parse("null", &errors, &ts), 200);
	assert_true(ts.null_body);
	json_t *j = tunnel_spec_to_json(&ts);
	assert_true(json_is_null(j));
	json_decref(j);
	tunnel_set_clear(&ts);
	json_decref(errors);
	assert_int_equal(parse(" [ ] ", &errors, &ts), 200);
	assert_int_equal(ts.n, 0);
	tunnel_set_clear(&ts);
	json_decref(errors);
}

static void test_not_json_and_shapes(void **state)
{
	(void)state;
	static const char *const bodies[] = {"", "{", "[1,", "{\"a\":1}", "\"x\"", "[[]]", "[1]"};
	for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
		json_t *errors;
		struct tunnel_set ts;
		assert_int_equal(parse(bodies[i], &errors, &ts), 422);
		assert_true(json_array_size(errors) >= 1);
		tunnel_set_clear(&ts);
		json_decref(errors);
	}
}

static void test_deep_nesting(void **state)
{
	(void)state;
	size_t n = 100000;
	char *body = malloc(2 * n + 1);
	memset(body, '[', n);
	memset(body + n, ']', n);
	body[2 * n] = '\0';
	json_t *errors;
	struct tunnel_set ts;
	assert_int_equal(parse(body, &errors, &ts), 422);
	tunnel_set_clear(&ts);
	json_decref(errors);
	free(body);
}

static void test_every_problem_listed(void **state)
{
	(void)state;
	json_t *errors;
	struct tunnel_set ts;
	int st = parse("["
		       "{\"ClientIdentifier\":\"a\",\"ListenPort\":0,\"ListenAddress\":\"127.0.0.1\"},"
		       "{\"ClientIdentifier\":\"a\",\"ListenPort\":70000,\"ListenAddress\":\"127.0.0.1\"},"
		       "{\"ClientIdentifier\":\"a\",\"ListenPort\":81,\"ListenAddress\":\"localhost\"},"
		       "{\"ClientIdentifier\":\"\",\"ListenPort\":82,\"ListenAddress\":\"127.0.0.1\"},"
		       "{\"ClientIdentifier\":\"a\",\"ListenPort\":83,\"ListenAddress\":\"127.0.0.1\",\"Bogus\":1},"
		       "{\"ListenPort\":84,\"ListenAddress\":\"127.0.0.1\"},"
		       "{\"ClientIdentifier\":\"a\",\"ListenAddress\":\"127.0.0.1\"},"
		       "{\"ClientIdentifier\":\"a\",\"ListenPort\":85,\"ListenAddress\":\"127.0.0.1\",\"ListenHostnameGlob\":\"a b.com\"}"
		       "]",
		       &errors, &ts);
	assert_int_equal(st, 400);
	assert_true(has_problem(errors, 0, "ListenPort"));
	assert_true(has_problem(errors, 1, "ListenPort"));
	assert_true(has_problem(errors, 2, "ListenAddress"));
	assert_true(has_problem(errors, 3, "ClientIdentifier"));
	assert_true(has_problem(errors, 4, "Bogus"));
	assert_true(has_problem(errors, 5, "ClientIdentifier"));
	assert_true(has_problem(errors, 6, "ListenPort"));
	assert_true(has_problem(errors, 7, "ListenHostnameGlob"));
	tunnel_set_clear(&ts);
	json_decref(errors);
}

static void test_types_are_422(void **state)
{
	(void)state;
	json_t *errors;
	struct tunnel_set ts;
	int st = parse("[{\"ClientIdentifier\":1,\"ListenPort\":\"80\",\"ListenAddress\":\"127.0.0.1\","
		       "\"HaProxyProxyProtocol\":\"yes\",\"ListenHostnameGlob\":[]}]",
		       &errors, &ts);
	assert_int_equal(st, 422);
	assert_true(has_problem(errors, 0, "ClientIdentifier"));
	assert_true(has_problem(errors, 0, "ListenPort"));
	assert_true(has_problem(errors, 0, "HaProxyProxyProtocol"));
	assert_true(has_problem(errors, 0, "ListenHostnameGlob"));
	tunnel_set_clear(&ts);
	json_decref(errors);
}

static void test_duplicates_and_overlaps(void **state)
{
	(void)state;
	json_t *errors;
	struct tunnel_set ts;
	/* Same address, port and glob ("" equals "*", case-insensitive). */
	int st = parse("["
		       "{\"ClientIdentifier\":\"a\",\"ListenPort\":80,\"ListenAddress\":\"127.0.0.1\",\"ListenHostnameGlob\":\"\"},"
		       "{\"ClientIdentifier\":\"b\",\"ListenPort\":80,\"ListenAddress\":\"127.0.0.1\",\"ListenHostnameGlob\":\"*\"},"
		       "{\"ClientIdentifier\":\"b\",\"ListenPort\":80,\"ListenAddress\":\"127.0.0.1\",\"ListenHostnameGlob\":\"A.example\"},"
		       "{\"ClientIdentifier\":\"b\",\"ListenPort\":80,\"ListenAddress\":\"127.0.0.1\",\"ListenHostnameGlob\":\"a.EXAMPLE\"}"
		       "]",
		       &errors, &ts);
	assert_int_equal(st, 400);
	assert_true(has_problem(errors, 1, "ListenHostnameGlob"));
	assert_true(has_problem(errors, 3, "ListenHostnameGlob"));
	assert_false(has_problem(errors, 2, "ListenHostnameGlob"));
	tunnel_set_clear(&ts);
	json_decref(errors);
	/* A wildcard and a specific address on one port: conflict. */
	st = parse("["
		   "{\"ClientIdentifier\":\"a\",\"ListenPort\":80,\"ListenAddress\":\"0.0.0.0\"},"
		   "{\"ClientIdentifier\":\"b\",\"ListenPort\":80,\"ListenAddress\":\"127.0.0.1\"}"
		   "]",
		   &errors, &ts);
	assert_int_equal(st, 409);
	assert_true(has_problem(errors, 1, "ListenAddress"));
	tunnel_set_clear(&ts);
	json_decref(errors);
	/* The server's own ports. */
	st = parse("[{\"ClientIdentifier\":\"a\",\"ListenPort\":9056,\"ListenAddress\":\"127.0.0.1\"}]", &errors, &ts);
	assert_int_equal(st, 409);
	assert_true(has_problem(errors, 0, "ListenPort"));
	tunnel_set_clear(&ts);
	json_decref(errors);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_usage_example, setup),
		cmocka_unit_test_setup(test_defaults_and_case, setup),
		cmocka_unit_test_setup(test_null_and_empty, setup),
		cmocka_unit_test_setup(test_not_json_and_shapes, setup),
		cmocka_unit_test_setup(test_deep_nesting, setup),
		cmocka_unit_test_setup(test_every_problem_listed, setup),
		cmocka_unit_test_setup(test_types_are_422, setup),
		cmocka_unit_test_setup(test_duplicates_and_overlaps, setup),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
