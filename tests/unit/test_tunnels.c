/*
 * PUT /tunnels validation (src/server/tunnel_spec.c: tunnel_spec_parse): every
 * problem reported with its index and field, the right status, nothing
 * half-parsed. Then routing over a built table (src/server/tunnels.c:
 * tunnel_routes_pick): every tunnel of a listener counts, 1 or 10,000.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/tunnel_spec.h"
#include "server/tunnels.h"
#include "wire/glob.h"

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

/* ---- routing over a table ---- */

/* Tunnel i of ts on 127.0.0.1:port with the given glob, client "c<i>". */
static void put_tunnel(struct tunnel_set *ts, size_t i, uint16_t port, const char *glob)
{
	struct tunnel *t = &ts->v[i];
	char c[32];
	snprintf(c, sizeof(c), "c%zu", i);
	t->addr = strdup("127.0.0.1");
	t->glob = strdup(glob);
	t->service = strdup("");
	t->client = strdup(c);
	t->port = port;
	t->proxy_version = 1;
	snprintf(t->key, sizeof(t->key), "127.0.0.1:%u", port);
	assert_non_null(t->addr);
	assert_non_null(t->glob);
	assert_non_null(t->service);
	assert_non_null(t->client);
}

static struct tunnel_table *table_of(const char *const *globs, size_t n)
{
	struct tunnel_set ts = {.v = calloc(n, sizeof(struct tunnel)), .n = n};
	assert_non_null(ts.v);
	for (size_t i = 0; i < n; i++)
		put_tunnel(&ts, i, 8080, globs[i]);
	struct tunnel_table *tt = tunnel_table_new(&ts);
	assert_non_null(tt);
	return tt;
}

/* The client of the tunnel host routes to on 127.0.0.1:8080, "-" for none. */
static const char *route(const struct tunnel_table *tt, const char *host)
{
	const struct tunnel *t = tunnel_routes_pick(tunnel_table_routes(tt, "127.0.0.1:8080"), host);
	return t ? t->client : "-";
}

/* The original 70-tunnel failure: the catch-all first, then h0..h68 (so
 * h64.example.com is the 66th route, past the old cap of 64). */
static void test_route_past_64(void **state)
{
	(void)state;
	enum { N = 70 };
	static char names[N][32];
	const char *globs[N];
	globs[0] = "*.example.com";
	for (size_t i = 1; i < N; i++) {
		snprintf(names[i], sizeof(names[i]), "h%zu.example.com", i - 1);
		globs[i] = names[i];
	}
	struct tunnel_table *tt = table_of(globs, N);
	assert_string_equal(route(tt, "h0.example.com"), "c1");
	assert_string_equal(route(tt, "h64.example.com"), "c65");
	assert_string_equal(route(tt, "H68.Example.COM"), "c69");
	assert_string_equal(route(tt, "zzz.example.com"), "c0");
	assert_string_equal(route(tt, "example.com"), "-");
	assert_string_equal(route(tt, NULL), "-");
	assert_null(tunnel_routes_pick(NULL, "h1.example.com"));
	tunnel_table_unref(tt);
}

/* The specificity rule does not depend on body order or on how many globs
 * there are: the vectors of wire/glob.h, in both orders, against
 * glob_pick over the same list. */
static void test_route_specificity(void **state)
{
	(void)state;
	static const char *const fwd[] = {"*", "*.*.com", "a*.example.com", "api.*.com", "*.example.com",
					  "*.api.example.com", "api.example.com", ""};
	enum { N = sizeof(fwd) / sizeof(fwd[0]) };
	const char *rev[N];
	for (size_t i = 0; i < N; i++)
		rev[i] = fwd[N - 1 - i];
	static const char *const hosts[] = {"api.example.com", "www.example.com", "x.api.example.com",
					    "api.other.com", "ab.example.com", "a.b.com", "other", "", NULL};
	for (int o = 0; o < 2; o++) {
		const char *const *g = o == 0 ? fwd : rev;
		struct tunnel_table *tt = table_of(g, N);
		for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++) {
			ssize_t k = glob_pick(g, N, hosts[h]);
			char want[32];
			snprintf(want, sizeof(want), "c%zd", k);
			assert_string_equal(route(tt, hosts[h]), k < 0 ? "-" : want);
		}
		tunnel_table_unref(tt);
	}
}

/* 10,000 globs on one listener (built by hand: a PUT body holds at most
 * TUNNEL_SPEC_MAX): literal names, one-star globs per zone, a few two-star
 * globs and a catch-all, interleaved so that no order in the list helps.
 * Each host reaches the glob glob_pick chooses over the whole list. */
static void test_route_10000(void **state)
{
	(void)state;
	enum { N = 10000 };
	char(*names)[48] = calloc(N, sizeof(*names));
	const char **globs = calloc(N, sizeof(*globs));
	assert_non_null(names);
	assert_non_null(globs);
	for (size_t i = 0; i < N; i++) {
		if (i == 5000)
			snprintf(names[i], sizeof(names[i]), "*");
		else if (i % 10 == 3)
			snprintf(names[i], sizeof(names[i]), "*.z%zu.example.com", i % 100);
		else if (i % 1000 == 7)
			snprintf(names[i], sizeof(names[i]), "*.*.com");
		else
			snprintf(names[i], sizeof(names[i]), "h%zu.z%zu.example.com", i, i % 100);
		globs[i] = names[i];
	}
	struct tunnel_table *tt = table_of(globs, N);
	const struct tunnel_routes *r = tunnel_table_routes(tt, "127.0.0.1:8080");
	assert_non_null(r);
	assert_int_equal(r->n, N);
	static const char *const hosts[] = {"h9999.z99.example.com", "h64.z64.example.com", "h0.z0.example.com",
					    "h1.z1.example.com", "zzz.z13.example.com", "h13.z13.example.com",
					    "q.example.com", "nothing", "", NULL};
	for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++) {
		ssize_t k = glob_pick(globs, N, hosts[h]);
		char want[32];
		snprintf(want, sizeof(want), "c%zd", k);
		assert_true(k >= 0);
		assert_string_equal(route(tt, hosts[h]), want);
	}
	assert_string_equal(route(tt, "h9999.z99.example.com"), "c9999");
	assert_string_equal(route(tt, "zzz.z13.example.com"), "c13");
	assert_string_equal(route(tt, "q.example.com"), "c7");
	assert_string_equal(route(tt, "nothing"), "c5000");
	tunnel_table_unref(tt);
	free(globs);
	free(names);
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
		cmocka_unit_test(test_route_past_64),
		cmocka_unit_test(test_route_specificity),
		cmocka_unit_test(test_route_10000),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
