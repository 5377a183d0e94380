/*
 * server/tunnel_spec: result codes and the exact problem list, vector by
 * vector (each body annotated with what it exercises and what must come
 * back). test_tunnels.c holds the original PUT /tunnels assertions.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "server/tunnel_spec.h"

/* 2020 layout without TLS: control on every address, management on
 * 127.0.0.1. */
static const struct tunnel_spec_ctx two_ports = {NULL, 9056, true, "127.0.0.1", 9057};
/* Single-port layout, control bound on one address only. */
static const struct tunnel_spec_ctx one_port = {"10.0.0.1", 443, false, NULL, 0};

struct vector {
	const char *what;
	const struct tunnel_spec_ctx *ctx;
	const char *body;
	enum tunnel_spec_rc rc;
	/* the problems, in order, as "index/field/error" ("-" for absent) */
	const char *const problems[4];
};

static const struct vector vectors[] = {
	{"null body: an empty table echoed as null", &two_ports, "null", TUNNEL_SPEC_OK, {NULL}},
	{"top level not an array", &two_ports, "{}", TUNNEL_SPEC_E_SHAPE,
	 {"-/-/body must be a JSON array of tunnel objects"}},
	{"an entry that is no object", &two_ports, "[7]", TUNNEL_SPEC_E_SHAPE, {"0/-/tunnel 0 must be a JSON object"}},
	{"the three required fields missing, in table order", &two_ports, "[{}]", TUNNEL_SPEC_E_VALUE,
	 {"0/ListenAddress/ListenAddress is required (an IP address)", "0/ListenPort/ListenPort is required (1-65535)",
	  "0/ClientIdentifier/ClientIdentifier is required"}},
	{"a key given twice (case-insensitively) and an unknown key", &two_ports,
	 "[{\"ClientIdentifier\":\"a\",\"clientidentifier\":\"b\",\"ListenPort\":80,\"ListenAddress\":\"127.0.0.1\","
	 "\"X\":1}]",
	 TUNNEL_SPEC_E_VALUE, {"0/ClientIdentifier/ClientIdentifier given twice", "0/X/unknown field \"X\""}},
	{"ProxyProtocolVersion without HaProxyProxyProtocol", &two_ports,
	 "[{\"ClientIdentifier\":\"a\",\"ListenPort\":80,\"ListenAddress\":\"127.0.0.1\",\"ProxyProtocolVersion\":2}]",
	 TUNNEL_SPEC_E_VALUE, {"0/ProxyProtocolVersion/ProxyProtocolVersion needs \"HaProxyProxyProtocol\": true"}},
	{"a type error wins over a value error in another entry", &two_ports,
	 "[{\"ClientIdentifier\":\"a\",\"ListenPort\":0,\"ListenAddress\":\"127.0.0.1\"},"
	 "{\"ClientIdentifier\":\"a\",\"ListenPort\":81,\"ListenAddress\":\"127.0.0.1\",\"HaProxyProxyProtocol\":1}]",
	 TUNNEL_SPEC_E_SHAPE,
	 {"0/ListenPort/0 is not a port (1-65535)", "1/HaProxyProxyProtocol/HaProxyProxyProtocol must be true or false"}},
	{"the management port on its own address is taken", &two_ports,
	 "[{\"ClientIdentifier\":\"a\",\"ListenPort\":9057,\"ListenAddress\":\"127.0.0.1\"}]", TUNNEL_SPEC_E_CONFLICT,
	 {"0/ListenPort/port 9057 is the server's management port"}},
	{"the management port on another address is free", &two_ports,
	 "[{\"ClientIdentifier\":\"a\",\"ListenPort\":9057,\"ListenAddress\":\"127.0.0.2\"}]", TUNNEL_SPEC_OK, {NULL}},
	{"single port: the control address only collides with itself or a wildcard", &one_port,
	 "[{\"ClientIdentifier\":\"a\",\"ListenPort\":443,\"ListenAddress\":\"10.0.0.2\"},"
	 "{\"ClientIdentifier\":\"a\",\"ListenPort\":443,\"ListenAddress\":\"::ffff:10.0.0.1\"}]",
	 TUNNEL_SPEC_E_CONFLICT, {"1/ListenPort/port 443 is the server's control port"}},
	{"single port: there is no management port to collide with", &one_port,
	 "[{\"ClientIdentifier\":\"a\",\"ListenPort\":9057,\"ListenAddress\":\"127.0.0.1\"}]", TUNNEL_SPEC_OK, {NULL}},
};

static char *problem_str(json_t *e)
{
	json_t *idx = json_object_get(e, "index");
	json_t *f = json_object_get(e, "field");
	json_t *m = json_object_get(e, "error");
	char *s = NULL;
	char ix[32] = "-";
	if (idx)
		snprintf(ix, sizeof(ix), "%lld", (long long)json_integer_value(idx));
	if (asprintf(&s, "%s/%s/%s", ix, f ? json_string_value(f) : "-", json_string_value(m)) < 0)
		return NULL;
	return s;
}

static void test_vectors(void **state)
{
	(void)state;
	for (size_t v = 0; v < sizeof(vectors) / sizeof(vectors[0]); v++) {
		const struct vector *vec = &vectors[v];
		json_t *errors = json_array();
		struct tunnel_set ts;
		enum tunnel_spec_rc rc = tunnel_spec_parse(vec->body, strlen(vec->body), vec->ctx, &ts, errors);
		print_message("%s\n", vec->what);
		assert_int_equal(rc, vec->rc);
		size_t n = 0;
		while (n < 4 && vec->problems[n])
			n++;
		assert_int_equal(json_array_size(errors), n);
		for (size_t i = 0; i < n; i++) {
			char *s = problem_str(json_array_get(errors, i));
			assert_non_null(s);
			assert_string_equal(s, vec->problems[i]);
			free(s);
		}
		tunnel_set_clear(&ts);
		json_decref(errors);
	}
}

/* Defaults of an accepted entry and its echo: our additions only when given. */
static void test_defaults_and_echo(void **state)
{
	(void)state;
	static const char body[] =
		"[{\"ClientIdentifier\":\"a\",\"ListenPort\":80,\"ListenAddress\":\"::ffff:127.0.0.1\"},"
		"{\"ClientIdentifier\":\"b\",\"ListenPort\":81,\"ListenAddress\":\"127.0.0.1\",\"HaProxyProxyProtocol\":true,"
		"\"ProxyProtocolVersion\":2,\"AcceptProxyProtocolFrom\":[\"10.0.0.0/8\"]}]";
	json_t *errors = json_array();
	struct tunnel_set ts;
	assert_int_equal(tunnel_spec_parse(body, sizeof(body) - 1, &two_ports, &ts, errors), TUNNEL_SPEC_OK);
	assert_int_equal(ts.n, 2);
	assert_string_equal(ts.v[0].key, "127.0.0.1:80"); /* v4-mapped shown as IPv4 */
	assert_int_equal(ts.v[0].proxy_version, 1);
	assert_false(ts.v[0].proxy_version_given);
	assert_int_equal(ts.v[1].n_accept_from, 1);
	json_t *j = tunnel_spec_to_json(&ts);
	char *s = json_dumps(j, JSON_COMPACT);
	assert_string_equal(s, "[{\"HaProxyProxyProtocol\":false,\"ListenAddress\":\"::ffff:127.0.0.1\","
			       "\"ListenHostnameGlob\":\"\",\"ListenPort\":80,\"BackEndService\":\"\",\"ClientIdentifier\":\"a\"},"
			       "{\"HaProxyProxyProtocol\":true,\"ListenAddress\":\"127.0.0.1\",\"ListenHostnameGlob\":\"\","
			       "\"ListenPort\":81,\"BackEndService\":\"\",\"ClientIdentifier\":\"b\",\"ProxyProtocolVersion\":2,"
			       "\"AcceptProxyProtocolFrom\":[\"10.0.0.0/8\"]}]");
	free(s);
	json_decref(j);
	tunnel_set_clear(&ts);
	json_decref(errors);
}

/* More than TUNNEL_SPEC_MAX entries: one problem, no per-entry work. */
static void test_too_many(void **state)
{
	(void)state;
	size_t n = TUNNEL_SPEC_MAX + 1;
	char *body = malloc(3 * n + 2);
	size_t off = 0;
	body[off++] = '[';
	for (size_t i = 0; i < n; i++) {
		memcpy(body + off, i ? ",{}" : "{}", i ? 3 : 2);
		off += i ? 3 : 2;
	}
	body[off++] = ']';
	json_t *errors = json_array();
	struct tunnel_set ts;
	assert_int_equal(tunnel_spec_parse(body, off, &two_ports, &ts, errors), TUNNEL_SPEC_E_VALUE);
	assert_int_equal(json_array_size(errors), 1);
	tunnel_set_clear(&ts);
	json_decref(errors);
	free(body);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_defaults_and_echo),
		cmocka_unit_test(test_too_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
