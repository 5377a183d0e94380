/*
 * Unit tests for tunnel/config: both generations of the Go original's
 * files, our additions, every error message literally (file, line:column,
 * path), the JSON locator, describe round trips and file loading.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tunnel/config.h"

#define SNAME "server-config.json"
#define CNAME "client-config.json"

/* go-original.md §9: usage-example/server-config.json at 4b75a35. */
static const char server_4b75a35[] =
	"{\n"
	"  \"DebugLog\": false,\n"
	"  \"TunnelControlPort\": 9056,\n"
	"  \"ManagementPort\": 9057,\n"
	"  \"UseTls\": true,\n"
	"  \"CaCertificateFile\": \"InternalCA+chain.crt\",\n"
	"  \"ServerTlsKeyFile\": \"localhost.key\",\n"
	"  \"ServerTlsCertificateFile\": \"localhost+chain.crt\"\n"
	"}\n";

/* usage-example/client-config.json at 4b75a35. */
static const char client_4b75a35[] =
	"{\n"
	"  \"DebugLog\": false,\n"
	"  \"ClientIdentifier\": \"TestClient1\",\n"
	"  \"ServerHost\": \"localhost\",\n"
	"  \"ServerTunnelControlPort\": 9056,\n"
	"  \"ServerManagementPort\": 9057,\n"
	"  \"UseTls\": true,\n"
	"  \"ServiceToLocalAddrMap\": {\n"
	"    \"fooService\": \"127.0.0.1:9001\"\n"
	"  },\n"
	"  \"CaCertificateFile\": \"InternalCA+chain.crt\",\n"
	"  \"ClientTlsKeyFile\": \"TestClient1@example.com.key\",\n"
	"  \"ClientTlsCertificateFile\": \"TestClient1@example.com+chain.crt\"\n"
	"}\n";

/* go-original.md §1.5: the example at 2628f29 (one line, as quoted). */
static const char server_2628f29[] =
	"{\"DebugLog\":false,\"Domain\":\"example.com\",\"ListenPort\":9056,\"UseTls\":true,"
	"\"CaCertificateFilesGlob\":\"InternalCA+chain.crt\",\"ServerTlsKeyFile\":\"localhost.key\","
	"\"ServerTlsCertificateFile\":\"localhost+chain.crt\"}";

static const char client_2628f29[] =
	"{\"ClientIdentifier\":\"TestClient1\",\"ServerAddr\":\"localhost:9056\",\"UseTls\":true,"
	"\"ServiceToLocalAddrMap\":{\"fooService\":\"127.0.0.1:9001\"},"
	"\"CaCertificateFilesGlob\":\"InternalCA+chain.crt\","
	"\"ClientTlsKeyFile\":\"TestClient1@example.com.key\","
	"\"ClientTlsCertificateFile\":\"TestClient1@example.com+chain.crt\"}";

/* The Dockerfile's baked-in config (go-original.md §1.2). */
static const char server_docker[] =
	"{\"DebugLog\":false,\"TunnelControlPort\":9056,\"ManagementPort\":9057}";

static struct config_server *srv(const char *text, char err[CONFIG_ERRLEN])
{
	return config_server_parse(SNAME, text, strlen(text), err);
}

static struct config_client *cli(const char *text, char err[CONFIG_ERRLEN])
{
	return config_client_parse(CNAME, text, strlen(text), err);
}

static void server_err(const char *text, const char *want)
{
	char err[CONFIG_ERRLEN];
	struct config_server *c = srv(text, err);
	if (c != NULL)
		fail_msg("loaded, expected: %s", want);
	assert_string_equal(err, want);
}

static void client_err(const char *text, const char *want)
{
	char err[CONFIG_ERRLEN];
	struct config_client *c = cli(text, err);
	if (c != NULL)
		fail_msg("loaded, expected: %s", want);
	assert_string_equal(err, want);
}

static struct config_server *server_ok(const char *text)
{
	char err[CONFIG_ERRLEN];
	struct config_server *c = srv(text, err);
	if (c == NULL)
		fail_msg("%s", err);
	return c;
}

static struct config_client *client_ok(const char *text)
{
	char err[CONFIG_ERRLEN];
	struct config_client *c = cli(text, err);
	if (c == NULL)
		fail_msg("%s", err);
	return c;
}

/* ---- the example files ---- */

static void test_server_4b75a35(void **state)
{
	(void)state;
	struct config_server *c = server_ok(server_4b75a35);
	assert_false(c->debug_log);
	assert_int_equal(c->control_port, 9056);
	assert_int_equal(c->mgmt_port, 9057);
	assert_false(c->single_port);
	assert_true(c->use_tls);
	assert_string_equal(c->ca_file, "InternalCA+chain.crt");
	assert_null(c->ca_glob);
	assert_string_equal(c->tls_key_file, "localhost.key");
	assert_string_equal(c->tls_cert_file, "localhost+chain.crt");
	assert_null(c->domain);
	assert_null(c->listen_address);
	assert_null(c->mgmt_address);
	assert_null(c->mgmt_client_ids);
	assert_int_equal(c->n_mgmt_client_ids, 0);
	assert_null(c->tunnels_file);
	config_server_free(c);
}

static void test_server_2628f29(void **state)
{
	(void)state;
	struct config_server *c = server_ok(server_2628f29);
	assert_int_equal(c->control_port, 9056);
	assert_int_equal(c->mgmt_port, 9056);
	assert_true(c->single_port);
	assert_true(c->use_tls);
	assert_null(c->ca_file);
	assert_string_equal(c->ca_glob, "InternalCA+chain.crt");
	assert_string_equal(c->domain, "example.com");
	assert_string_equal(c->tls_key_file, "localhost.key");
	assert_string_equal(c->tls_cert_file, "localhost+chain.crt");
	config_server_free(c);
}

static void test_server_dockerfile(void **state)
{
	(void)state;
	struct config_server *c = server_ok(server_docker);
	assert_int_equal(c->control_port, 9056);
	assert_int_equal(c->mgmt_port, 9057);
	assert_false(c->single_port);
	assert_false(c->use_tls);
	assert_null(c->tls_key_file);
	config_server_free(c);
}

static void test_client_4b75a35(void **state)
{
	(void)state;
	struct config_client *c = client_ok(client_4b75a35);
	assert_false(c->debug_log);
	assert_string_equal(c->client_id, "TestClient1");
	assert_string_equal(c->server_host, "localhost");
	assert_int_equal(c->server_port, 9056);
	assert_true(c->use_tls);
	assert_string_equal(c->ca_file, "InternalCA+chain.crt");
	assert_null(c->ca_glob);
	assert_string_equal(c->tls_key_file, "TestClient1@example.com.key");
	assert_string_equal(c->tls_cert_file, "TestClient1@example.com+chain.crt");
	assert_null(c->admin_socket);
	assert_int_equal(c->n_services, 1);
	const struct config_service *s = config_client_service(c, "fooService");
	assert_non_null(s);
	assert_string_equal(s->name, "fooService");
	assert_string_equal(s->host, "127.0.0.1");
	assert_int_equal(s->port, 9001);
	assert_null(config_client_service(c, "fooservice"));
	assert_null(config_client_service(c, "barService"));
	config_client_free(c);
}

static void test_client_2628f29(void **state)
{
	(void)state;
	struct config_client *c = client_ok(client_2628f29);
	assert_string_equal(c->client_id, "TestClient1");
	assert_string_equal(c->server_host, "localhost");
	assert_int_equal(c->server_port, 9056);
	assert_true(c->use_tls);
	assert_null(c->ca_file);
	assert_string_equal(c->ca_glob, "InternalCA+chain.crt");
	assert_non_null(config_client_service(c, "fooService"));
	config_client_free(c);
}

static void test_later_client_keys(void **state)
{
	(void)state;
	struct config_client *c = client_ok(
		"{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"gw.example.com:443\","
		"\"AdminUnixSocket\":\"/run/threshold.sock\"}");
	assert_string_equal(c->admin_socket, "/run/threshold.sock");
	assert_string_equal(c->server_host, "gw.example.com");
	assert_int_equal(c->server_port, 443);
	assert_int_equal(c->n_services, 0);
	assert_null(c->services);
	assert_null(config_client_service(c, "x"));
	config_client_free(c);
}

/* ---- keys ---- */

static void test_case_insensitive_keys(void **state)
{
	(void)state;
	struct config_server *s = server_ok(
		"{\"usetls\":true,\"LISTENPORT\":9056,\"cacertificatefilesglob\":\"ca/*.crt\","
		"\"SERVERTLSKEYFILE\":\"k\",\"servertlscertificatefile\":\"c\",\"debuglog\":true}");
	assert_true(s->use_tls);
	assert_true(s->debug_log);
	assert_int_equal(s->control_port, 9056);
	assert_string_equal(s->ca_glob, "ca/*.crt");
	config_server_free(s);

	struct config_client *c = client_ok(
		"{\"clientidentifier\":\"x\",\"SERVERADDR\":\"h:1\",\"USETLS\":false,"
		"\"servicetolocaladdrmap\":{\"Svc\":\"h:2\",\"svc\":\"h:3\"}}");
	assert_false(c->use_tls);
	assert_string_equal(c->client_id, "x");
	/* Service names are map keys: case-sensitive, sorted bytewise. */
	assert_int_equal(c->n_services, 2);
	assert_string_equal(c->services[0].name, "Svc");
	assert_string_equal(c->services[1].name, "svc");
	assert_int_equal(config_client_service(c, "svc")->port, 3);
	assert_int_equal(config_client_service(c, "Svc")->port, 2);
	config_client_free(c);
}

static void test_duplicate_keys(void **state)
{
	(void)state;
	server_err("{\"ListenPort\":1,\n \"usetls\":false,\n \"UseTls\":true}",
		   SNAME ":3:2: \"usetls\" and \"UseTls\" are the same key (keys ignore case)");
	server_err("{\"ListenPort\":1,\n \"UseTls\":false,\n \"UseTls\":true}",
		   SNAME ":3:2: duplicate key \"UseTls\"");
	client_err("{\"ServiceToLocalAddrMap\":{\"a\":\"h:1\",\"a\":\"h:2\"}}",
		   CNAME ":1:37: duplicate key \"a\"");
	client_err("{\"ServiceToLocalAddrMap\":{\"q\\\"\\\\\":\"h:1\",\n  \"q\\\"\\\\\":\"h:2\"}}",
		   CNAME ":2:3: duplicate key \"q\\\"\\\\\"");
}

static void test_unknown_keys(void **state)
{
	(void)state;
	server_err("{\n  \"ListenPrt\": 9056\n}",
		   SNAME ":2:3: unknown key \"ListenPrt\" (did you mean \"ListenPort\"?)");
	server_err("{\"ListenPort\":9056, \"UseTsl\": true}",
		   SNAME ":1:21: unknown key \"UseTsl\" (did you mean \"UseTls\"?)");
	server_err("{\"ListenPort\":9056, \"Frobnicate\": 1}",
		   SNAME ":1:21: unknown key \"Frobnicate\"");
	server_err("{\"ListenPort\":9056, \"ServerAddr\": \"x:1\"}",
		   SNAME ":1:21: unknown key \"ServerAddr\" (it belongs in a client config)");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\",\"listenport\":1}",
		   CNAME ":1:44: unknown key \"listenport\" (it belongs in a server config)");
	client_err("{\"MaximumConnectionRetrySecs\":5}",
		   CNAME ":1:2: unknown key \"MaximumConnectionRetrySecs\" "
			 "(did you mean \"MaximumConnectionRetrySeconds\"?)");
	/* Keys that are not plain text are quoted with escapes. */
	client_err("{\"a\\nb\\u0001\\\"\":1}", CNAME ":1:2: unknown key \"a\\nb\\u0001\\\"\"");
	/* Appendix A branches' keys are not a generation we load. */
	client_err("{\"ClientId\":\"a\"}", CNAME ":1:2: unknown key \"ClientId\"");
}

/* ---- server rules ---- */

static void test_server_ports(void **state)
{
	(void)state;
	struct config_server *c = server_ok("{\"TunnelControlPort\":9056,\"ManagementPort\":9056}");
	assert_true(c->single_port);
	assert_int_equal(c->control_port, 9056);
	assert_int_equal(c->mgmt_port, 9056);
	config_server_free(c);

	c = server_ok("{\"TunnelControlPort\":9056}");
	assert_true(c->single_port);
	assert_int_equal(c->mgmt_port, 9056);
	config_server_free(c);

	c = server_ok("{\"ListenPort\":65535}");
	assert_int_equal(c->control_port, 65535);
	config_server_free(c);

	/* null is absent (Go's zero value), so this is not a conflict. */
	c = server_ok("{\"ListenPort\":1,\"TunnelControlPort\":null,\"ManagementPort\":null}");
	assert_true(c->single_port);
	assert_int_equal(c->control_port, 1);
	config_server_free(c);

	server_err("{\n  \"DebugLog\": false,\n  \"ListenPort\": 70000\n}",
		   SNAME ":3:17: ListenPort: 70000 is not a port (1-65535)");
	server_err("{\"ListenPort\": 0}", SNAME ":1:16: ListenPort: 0 is not a port (1-65535)");
	server_err("{\"ListenPort\": -1}", SNAME ":1:16: ListenPort: -1 is not a port (1-65535)");
	server_err("{\"ListenPort\": 9056.0}",
		   SNAME ":1:16: ListenPort: expected an integer, got 9056.0");
	server_err("{\"ListenPort\": 9.056e3}",
		   SNAME ":1:16: ListenPort: expected an integer, got 9.056e3");
	server_err("{\"ListenPort\": \"9056\"}",
		   SNAME ":1:16: ListenPort: expected an integer, got \"9056\"");
	server_err("{\"ListenPort\": [9056]}",
		   SNAME ":1:16: ListenPort: expected an integer, got an array");
	server_err("{\"ListenPort\": 99999999999999999999}",
		   SNAME ":1:35: too big integer near '99999999999999999999'");
	server_err("{\"tunnelcontrolport\": 9056, \"ManagementPort\": 65536}",
		   SNAME ":1:47: ManagementPort: 65536 is not a port (1-65535)");
	server_err("{\n  \"TunnelControlPort\": 9056,\n  \"ListenPort\": 9056\n}",
		   SNAME ":3:3: ListenPort: cannot be combined with TunnelControlPort "
			 "(ListenPort replaced TunnelControlPort and ManagementPort)");
	server_err("{\"managementport\": 9057, \"ListenPort\": 9056}",
		   SNAME ":1:26: ListenPort: cannot be combined with managementport "
			 "(ListenPort replaced TunnelControlPort and ManagementPort)");
	server_err("{\"ManagementPort\": 9057}",
		   SNAME ":1:2: ManagementPort: needs TunnelControlPort");
	server_err("{\"DebugLog\": true}",
		   SNAME ": missing ListenPort (or TunnelControlPort and ManagementPort)");
	server_err("{\"ListenPort\": null}",
		   SNAME ": missing ListenPort (or TunnelControlPort and ManagementPort)");
	server_err("{}", SNAME ": missing ListenPort (or TunnelControlPort and ManagementPort)");
}

static void test_server_addresses(void **state)
{
	(void)state;
	struct config_server *c = server_ok(
		"{\"TunnelControlPort\":1,\"ManagementPort\":2,\"ListenAddress\":\"::\","
		"\"ManagementAddress\":\"127.0.0.1\"}");
	assert_string_equal(c->listen_address, "::");
	assert_string_equal(c->mgmt_address, "127.0.0.1");
	config_server_free(c);
	c = server_ok("{\"ListenPort\":1,\"ListenAddress\":\"\"}");
	assert_null(c->listen_address);
	config_server_free(c);

	server_err("{\"ListenPort\":1,\"ListenAddress\":\"localhost\"}",
		   SNAME ":1:33: ListenAddress: \"localhost\" is not an IP address");
	server_err("{\"ListenPort\":1,\"ListenAddress\":\"[::1]\"}",
		   SNAME ":1:33: ListenAddress: \"[::1]\" is not an IP address");
	server_err("{\"ListenPort\":1,\"ListenAddress\":\"0.0.0.0:9056\"}",
		   SNAME ":1:33: ListenAddress: \"0.0.0.0:9056\" is not an IP address");
	server_err("{\"ListenPort\":1,\"ManagementAddress\":\"127.0.0.1\"}",
		   SNAME ":1:17: ManagementAddress: needs a ManagementPort apart from the control port");
}

static void test_server_tls_requirements(void **state)
{
	(void)state;
	server_err("{\"ListenPort\":1,\n\"UseTls\": true,\"ServerTlsCertificateFile\":\"c\","
		   "\"CaCertificateFile\":\"ca\"}",
		   SNAME ":2:11: UseTls: true requires ServerTlsKeyFile");
	server_err("{\"ListenPort\":1,\"usetls\":true,\"ServerTlsKeyFile\":\"k\","
		   "\"CaCertificateFile\":\"ca\"}",
		   SNAME ":1:26: usetls: true requires ServerTlsCertificateFile");
	server_err("{\"ListenPort\":1,\"UseTls\":true,\"ServerTlsKeyFile\":\"k\","
		   "\"ServerTlsCertificateFile\":\"c\"}",
		   SNAME ":1:26: UseTls: true requires CaCertificateFile or CaCertificateFilesGlob");
	/* An empty string is as good as absent. */
	server_err("{\"ListenPort\":1,\"UseTls\":true,\"ServerTlsKeyFile\":\"\","
		   "\"ServerTlsCertificateFile\":\"c\",\"CaCertificateFile\":\"ca\"}",
		   SNAME ":1:26: UseTls: true requires ServerTlsKeyFile");
	server_err("{\"ListenPort\":1,\"UseTls\":\"yes\"}",
		   SNAME ":1:26: UseTls: expected true or false, got \"yes\"");
	server_err("{\"ListenPort\":1,\"UseTls\":1}",
		   SNAME ":1:26: UseTls: expected true or false, got 1");
	server_err("{\"ListenPort\":1,\"CaCertificateFile\":5}",
		   SNAME ":1:37: CaCertificateFile: expected a string, got 5");
	/* Both CA keys together are fine: both feed the pool. */
	struct config_server *c = server_ok(
		"{\"ListenPort\":1,\"UseTls\":true,\"ServerTlsKeyFile\":\"k\","
		"\"ServerTlsCertificateFile\":\"c\",\"CaCertificateFile\":\"a\","
		"\"CaCertificateFilesGlob\":\"b*\"}");
	assert_string_equal(c->ca_file, "a");
	assert_string_equal(c->ca_glob, "b*");
	config_server_free(c);
	/* Without TLS nothing is required (the TLS keys are then unused). */
	c = server_ok("{\"ListenPort\":1,\"UseTls\":false,\"ServerTlsKeyFile\":\"k\"}");
	assert_false(c->use_tls);
	config_server_free(c);
}

static void test_server_mgmt_ids(void **state)
{
	(void)state;
	struct config_server *c = server_ok(
		"{\"ListenPort\":1,\"ManagementClientIds\":[\"admin\",\"ops\"]}");
	assert_int_equal(c->n_mgmt_client_ids, 2);
	assert_string_equal(c->mgmt_client_ids[0], "admin");
	assert_string_equal(c->mgmt_client_ids[1], "ops");
	assert_null(c->mgmt_client_ids[2]);
	config_server_free(c);

	c = server_ok("{\"ListenPort\":1,\"ManagementClientIds\":[]}");
	assert_non_null(c->mgmt_client_ids);
	assert_null(c->mgmt_client_ids[0]);
	assert_int_equal(c->n_mgmt_client_ids, 0);
	config_server_free(c);

	server_err("{\"ListenPort\":1,\"ManagementClientIds\":\"admin\"}",
		   SNAME ":1:39: ManagementClientIds: expected a list of strings, got \"admin\"");
	server_err("{\"ListenPort\":1,\"ManagementClientIds\":[\"a\",\n  7]}",
		   SNAME ":2:3: ManagementClientIds[1]: expected a string, got 7");
	server_err("{\"ListenPort\":1,\"ManagementClientIds\":[\"a\", \"\"]}",
		   SNAME ":1:45: ManagementClientIds[1]: must not be empty");
	server_err("{\"ListenPort\":1,\"ManagementClientIds\":[null]}",
		   SNAME ":1:40: ManagementClientIds[0]: expected a string, got null");
}

static void test_server_defaults(void **state)
{
	(void)state;
	struct config_server *c = server_ok("{\"ListenPort\":9056}");
	assert_false(c->debug_log);
	assert_false(c->use_tls);
	assert_int_equal(c->visitor_grace_ms, 0);
	assert_int_equal(c->keepalive_ms, 30000);
	assert_int_equal(c->dead_peer_ms, 30000);
	assert_int_equal(c->handshake_timeout_ms, 10000);
	assert_int_equal(c->stream_open_timeout_ms, 10000);
	assert_int_equal(c->recv_window, 8u * 1024 * 1024);
	assert_int_equal(c->max_visitors_per_listener, 10000);
	config_server_free(c);

	/* null leaves the default, as Go's decoder did. */
	c = server_ok("{\"ListenPort\":9056,\"KeepAliveSeconds\":null,\"UseTls\":null}");
	assert_int_equal(c->keepalive_ms, 30000);
	assert_false(c->use_tls);
	config_server_free(c);
}

static void test_server_tunables(void **state)
{
	(void)state;
	struct config_server *c = server_ok(
		"{\"ListenPort\":9056,\"VisitorGraceSeconds\":2.5,\"KeepAliveSeconds\":15,"
		"\"DeadPeerSeconds\":0.001,\"HandshakeTimeoutSeconds\":86400,"
		"\"StreamOpenTimeoutSeconds\":1e1,\"StreamWindowBytes\":262144,"
		"\"MaxVisitorsPerListener\":1,\"TunnelsFile\":\"/var/lib/threshold/tunnels.json\"}");
	assert_int_equal(c->visitor_grace_ms, 2500);
	assert_int_equal(c->keepalive_ms, 15000);
	assert_int_equal(c->dead_peer_ms, 1);
	assert_int_equal(c->handshake_timeout_ms, 86400000);
	assert_int_equal(c->stream_open_timeout_ms, 10000);
	assert_int_equal(c->recv_window, 262144);
	assert_int_equal(c->max_visitors_per_listener, 1);
	assert_string_equal(c->tunnels_file, "/var/lib/threshold/tunnels.json");
	config_server_free(c);

	server_err("{\"ListenPort\":1,\"KeepAliveSeconds\":-1}",
		   SNAME ":1:36: KeepAliveSeconds: -1 is out of range (0.001-86400 seconds)");
	server_err("{\"ListenPort\":1,\"KeepAliveSeconds\":0}",
		   SNAME ":1:36: KeepAliveSeconds: 0 is out of range (0.001-86400 seconds)");
	server_err("{\"ListenPort\":1,\"KeepAliveSeconds\":1e-9}",
		   SNAME ":1:36: KeepAliveSeconds: 1e-9 is out of range (0.001-86400 seconds)");
	server_err("{\"ListenPort\":1,\"DeadPeerSeconds\":86400.5}",
		   SNAME ":1:35: DeadPeerSeconds: 86400.5 is out of range (0.001-86400 seconds)");
	server_err("{\"ListenPort\":1,\"VisitorGraceSeconds\":-0.5}",
		   SNAME ":1:39: VisitorGraceSeconds: -0.5 is out of range (0-86400 seconds)");
	server_err("{\"ListenPort\":1,\"HandshakeTimeoutSeconds\":\"10s\"}",
		   SNAME ":1:43: HandshakeTimeoutSeconds: expected a number of seconds, got \"10s\"");
	server_err("{\"ListenPort\":1,\"StreamOpenTimeoutSeconds\":1e400}",
		   SNAME ":1:48: real number overflow near '1e400'");
	server_err("{\"ListenPort\":1,\"StreamWindowBytes\":100}",
		   SNAME ":1:37: StreamWindowBytes: 100 is out of range (262144-268435456)");
	server_err("{\"ListenPort\":1,\"StreamWindowBytes\":8.5e6}",
		   SNAME ":1:37: StreamWindowBytes: expected an integer, got 8.5e6");
	server_err("{\"ListenPort\":1,\"MaxVisitorsPerListener\":0}",
		   SNAME ":1:42: MaxVisitorsPerListener: 0 is out of range (1-1000000)");
	server_err("{\"ListenPort\":1,\"MaxPreAuthPerSource\":0}",
		   SNAME ":1:39: MaxPreAuthPerSource: 0 is out of range (1-1000000)");
	server_err("{\"ListenPort\":1,\"MemoryLimitMiB\":1048577}",
		   SNAME ":1:34: MemoryLimitMiB: 1048577 is out of range (0-1048576)");
	/* VisitorGraceSeconds may be 0. */
	c = server_ok("{\"ListenPort\":9056,\"VisitorGraceSeconds\":0}");
	assert_int_equal(c->visitor_grace_ms, 0);
	config_server_free(c);
}

/* ---- client rules ---- */

static void test_client_addresses(void **state)
{
	(void)state;
	struct config_client *c = client_ok(
		"{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"[::1]:9056\","
		"\"ServiceToLocalAddrMap\":{\"v6\":\"[::1]:9001\",\"ll\":\"[fe80::1%eth0]:80\","
		"\"name\":\"backend.internal:8080\"}}");
	assert_string_equal(c->server_host, "::1");
	assert_int_equal(c->server_port, 9056);
	assert_string_equal(config_client_service(c, "v6")->host, "::1");
	assert_int_equal(config_client_service(c, "v6")->port, 9001);
	assert_string_equal(config_client_service(c, "ll")->host, "fe80::1%eth0");
	assert_string_equal(config_client_service(c, "name")->host, "backend.internal");
	config_client_free(c);

	/* 4b75a35: Go concatenated ServerHost ":" port, so brackets were needed. */
	c = client_ok("{\"ClientIdentifier\":\"a\",\"ServerHost\":\"[::1]\","
		      "\"ServerTunnelControlPort\":9056}");
	assert_string_equal(c->server_host, "::1");
	config_client_free(c);
	c = client_ok("{\"ClientIdentifier\":\"a\",\"ServerHost\":\"2001:db8::1\","
		      "\"ServerTunnelControlPort\":9056}");
	assert_string_equal(c->server_host, "2001:db8::1");
	config_client_free(c);

	client_err("{\n  \"ClientIdentifier\": \"a\",\n  \"ServerAddr\": \"h:1\",\n"
		   "  \"ServiceToLocalAddrMap\": {\n    \"fooService\": \"127.0.0.1\"\n  }\n}",
		   CNAME ":5:19: ServiceToLocalAddrMap.fooService: \"127.0.0.1\" is not host:port");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"::1:9001\"}",
		   CNAME ":1:38: ServerAddr: \"::1:9001\" is not host:port "
			 "(IPv6 addresses need brackets, as in [::1]:9001)");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"[::1]\"}",
		   CNAME ":1:38: ServerAddr: \"[::1]\" is not host:port");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"[::1:9001\"}",
		   CNAME ":1:38: ServerAddr: \"[::1:9001\" is not host:port (missing ']')");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"[nothex]:1\"}",
		   CNAME ":1:38: ServerAddr: \"[nothex]:1\" is not host:port "
			 "(not an IPv6 address between the brackets)");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\":9056\"}",
		   CNAME ":1:38: ServerAddr: \":9056\" is not host:port (empty host)");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:0\"}",
		   CNAME ":1:38: ServerAddr: \"h:0\" is not host:port (port must be 1-65535)");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:65536\"}",
		   CNAME ":1:38: ServerAddr: \"h:65536\" is not host:port (port must be 1-65535)");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:http\"}",
		   CNAME ":1:38: ServerAddr: \"h:http\" is not host:port (port must be 1-65535)");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:\"}",
		   CNAME ":1:38: ServerAddr: \"h:\" is not host:port (port must be 1-65535)");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"my host:1\"}",
		   CNAME ":1:38: ServerAddr: \"my host:1\" is not host:port (bad host name)");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":9056}",
		   CNAME ":1:38: ServerAddr: expected a string \"host:port\", got 9056");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerHost\":\"a b\",\"ServerTunnelControlPort\":1}",
		   CNAME ":1:38: ServerHost: \"a b\" is not a host name or IP address");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerHost\":\"\",\"ServerTunnelControlPort\":1}",
		   CNAME ":1:38: ServerHost: must not be empty");
}

static void test_client_generations(void **state)
{
	(void)state;
	client_err("{\"ClientIdentifier\":\"a\",\n\"ServerHost\":\"h\",\n\"ServerAddr\":\"h:1\"}",
		   CNAME ":3:1: ServerAddr: cannot be combined with ServerHost "
			 "(ServerAddr replaced ServerHost and ServerTunnelControlPort)");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\",\"servertunnelcontrolport\":1}",
		   CNAME ":1:25: ServerAddr: cannot be combined with servertunnelcontrolport "
			 "(ServerAddr replaced ServerHost and ServerTunnelControlPort)");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerHost\":\"h\"}",
		   CNAME ":1:25: ServerHost: needs ServerTunnelControlPort");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerTunnelControlPort\":9056}",
		   CNAME ":1:25: ServerTunnelControlPort: needs ServerHost");
	client_err("{\"ClientIdentifier\":\"a\"}",
		   CNAME ": missing ServerAddr (or ServerHost and ServerTunnelControlPort)");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerHost\":\"h\",\"ServerTunnelControlPort\":0}",
		   CNAME ":1:68: ServerTunnelControlPort: 0 is not a port (1-65535)");
	/* ServerManagementPort was never used: any 0-65535, even beside ServerAddr. */
	struct config_client *c = client_ok(
		"{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\",\"ServerManagementPort\":0}");
	config_client_free(c);
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\",\"ServerManagementPort\":-1}",
		   CNAME ":1:67: ServerManagementPort: -1 is not a port (0-65535)");
}

static void test_client_identifier(void **state)
{
	(void)state;
	client_err("{\"ServerAddr\":\"h:1\"}", CNAME ": missing ClientIdentifier");
	client_err("{\"ServerAddr\":\"h:1\",\"ClientIdentifier\":null}", CNAME ": missing ClientIdentifier");
	client_err("{\n  \"ClientIdentifier\": \"\",\n  \"ServerAddr\": \"h:1\"\n}",
		   CNAME ":2:23: ClientIdentifier: must not be empty");
	client_err("{\"ClientIdentifier\":\"a\\r\\nX-Evil: 1\",\"ServerAddr\":\"h:1\"}",
		   CNAME ":1:21: ClientIdentifier: \"a\\r\\nX-Evil: 1\" contains a control character");
	client_err("{\"ClientIdentifier\":\" a\",\"ServerAddr\":\"h:1\"}",
		   CNAME ":1:21: ClientIdentifier: \" a\" has leading or trailing spaces");
	client_err("{\"ClientIdentifier\":[\"a\"],\"ServerAddr\":\"h:1\"}",
		   CNAME ":1:21: ClientIdentifier: expected a string, got an array");
	struct config_client *c = client_ok("{\"ClientIdentifier\":\"Zoë@α\",\"ServerAddr\":\"h:1\"}");
	assert_string_equal(c->client_id, "Zoë@α");
	config_client_free(c);
}

static void test_client_tls_requirements(void **state)
{
	(void)state;
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\",\"UseTls\":true,"
		   "\"ClientTlsCertificateFile\":\"c\",\"CaCertificateFilesGlob\":\"*.crt\"}",
		   CNAME ":1:53: UseTls: true requires ClientTlsKeyFile");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\",\"UseTls\":true,"
		   "\"ClientTlsKeyFile\":\"k\",\"CaCertificateFile\":\"ca\"}",
		   CNAME ":1:53: UseTls: true requires ClientTlsCertificateFile");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\",\"UseTls\":true,"
		   "\"ClientTlsKeyFile\":\"k\",\"ClientTlsCertificateFile\":\"c\"}",
		   CNAME ":1:53: UseTls: true requires CaCertificateFile or CaCertificateFilesGlob");
}

static void test_client_services(void **state)
{
	(void)state;
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\",\"ServiceToLocalAddrMap\":[]}",
		   CNAME ":1:68: ServiceToLocalAddrMap: expected an object, got an array");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\","
		   "\"ServiceToLocalAddrMap\":{\"fooService\":9001}}",
		   CNAME ":1:82: ServiceToLocalAddrMap.fooService: expected a string \"host:port\", got 9001");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\","
		   "\"ServiceToLocalAddrMap\":{\"web.v2\":\"h\"}}",
		   CNAME ":1:78: ServiceToLocalAddrMap[\"web.v2\"]: \"h\" is not host:port");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\","
		   "\"ServiceToLocalAddrMap\":{\"\":\"h:1\"}}",
		   CNAME ":1:69: ServiceToLocalAddrMap[\"\"]: empty service name");
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\","
		   "\"ServiceToLocalAddrMap\":{\"a\\tb\":\"h:1\"}}",
		   CNAME ":1:69: ServiceToLocalAddrMap[\"a\\tb\"]: service name contains a control character");
	/* A long value is cut in the message. */
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\",\"ServiceToLocalAddrMap\":"
		   "{\"s\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}}",
		   CNAME ":1:73: ServiceToLocalAddrMap.s: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa... "
			 "is not host:port");
	/* Empty and null maps: no services. */
	struct config_client *c = client_ok(
		"{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\",\"ServiceToLocalAddrMap\":null}");
	assert_int_equal(c->n_services, 0);
	config_client_free(c);
	c = client_ok("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\",\"ServiceToLocalAddrMap\":{}}");
	assert_int_equal(c->n_services, 0);
	config_client_free(c);
	/* Sorted, so lookups bisect. */
	c = client_ok("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\",\"ServiceToLocalAddrMap\":"
		      "{\"d\":\"h:4\",\"b\":\"h:2\",\"a\":\"h:1\",\"c\":\"h:3\",\"e\":\"h:5\"}}");
	assert_int_equal(c->n_services, 5);
	for (size_t i = 0; i < 5; i++) {
		char name[2] = { (char)('a' + i), '\0' };
		assert_string_equal(c->services[i].name, name);
		assert_int_equal(config_client_service(c, name)->port, i + 1);
	}
	assert_null(config_client_service(c, "f"));
	assert_null(config_client_service(NULL, "a"));
	assert_null(config_client_service(c, NULL));
	config_client_free(c);
}

static void test_client_defaults(void **state)
{
	(void)state;
	struct config_client *c = client_ok("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\"}");
	assert_false(c->debug_log);
	assert_false(c->use_tls);
	assert_null(c->ca_file);
	assert_null(c->admin_socket);
	assert_int_equal(c->retry_cap_ms, 60000);
	assert_int_equal(c->keepalive_ms, 30000);
	assert_int_equal(c->dead_peer_ms, 30000);
	assert_int_equal(c->connect_timeout_ms, 10000);
	assert_int_equal(c->dial_timeout_ms, 10000);
	assert_int_equal(c->recv_window, 8u * 1024 * 1024);
	config_client_free(c);

	c = client_ok("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\","
		      "\"MaximumConnectionRetrySeconds\":0.25,\"ConnectTimeoutSeconds\":3,"
		      "\"DialTimeoutSeconds\":1.5,\"StreamWindowBytes\":268435456}");
	assert_int_equal(c->retry_cap_ms, 250);
	assert_int_equal(c->connect_timeout_ms, 3000);
	assert_int_equal(c->dial_timeout_ms, 1500);
	assert_int_equal(c->recv_window, 268435456);
	config_client_free(c);
	client_err("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"h:1\",\"DialTimeoutSeconds\":true}",
		   CNAME ":1:65: DialTimeoutSeconds: expected a number of seconds, got true");
}

/* ---- the document as a whole ---- */

static void test_syntax_errors(void **state)
{
	(void)state;
	server_err("{\n  \"ListenPort\": 9056,\n}", SNAME ":3:1: string or '}' expected near '}'");
	server_err("{\"ListenPort\": 9056} x", SNAME ":1:22: end of file expected near 'x'");
	server_err("[1]", SNAME ":1:1: expected a JSON object, got an array");
	server_err("", SNAME ": empty file, expected a JSON object");
	server_err(" \n\t", SNAME ": empty file, expected a JSON object");
	server_err("{\"ListenPort\": 9056 // port\n}", SNAME ":1:21: '}' expected near '/'");
	server_err("{\"ListenPort\": \"\\u0000\"}",
		   SNAME ":1:23: \\u0000 is not allowed without JSON_ALLOW_NUL near '\"\\u0000\"'");
	server_err("{\"ListenPort\": \"\xff\"}", SNAME ":1:16: unable to decode byte 0xff near '\"'");
	server_err("{\"ListenPort\":\x01}", SNAME ":1:15: invalid token near '\\u0001'");
	/* An extra opening brace in front. */
	server_err("{{\"ListenPort\": 9056}", SNAME ":1:2: string or '}' expected near '{'");
}

static void test_nul_bytes(void **state)
{
	(void)state;
	char err[CONFIG_ERRLEN];
	static const char t1[] = "{\"ListenPort\": 9056}\0";
	assert_null(config_server_parse(SNAME, t1, sizeof(t1) - 1, err));
	assert_string_equal(err, SNAME ":1:21: NUL byte in the file");
	static const char t2[] = "{\n\"ListenPort\": \"a\0b\"}";
	assert_null(config_server_parse(SNAME, t2, sizeof(t2) - 1, err));
	assert_string_equal(err, SNAME ":2:17: NUL byte in the file");
}

static void test_bom(void **state)
{
	(void)state;
	struct config_server *c = server_ok("\xEF\xBB\xBF{\"ListenPort\": 9056}");
	assert_int_equal(c->control_port, 9056);
	config_server_free(c);
	server_err("\xEF\xBB\xBF{\"ListenPort\": 0}", SNAME ":1:16: ListenPort: 0 is not a port (1-65535)");
}

static void test_deep_nesting(void **state)
{
	(void)state;
	char err[CONFIG_ERRLEN];
	size_t n = 100000;
	char *t = malloc(2 * n + 64);
	assert_non_null(t);
	memset(t, '[', n);
	memset(t + n, ']', n);
	assert_null(config_server_parse(SNAME, t, 2 * n, err));
	assert_string_equal(err, SNAME ":1:2049: maximum parsing depth reached near '['");
	assert_null(config_client_parse(CNAME, t, n, err));
	assert_string_equal(err, CNAME ":1:2049: maximum parsing depth reached near '['");
	/* Deep but within jansson's limit, under a known key: a plain type error,
	 * and the locator skips the deep value without recursing. */
	size_t d = 2000, off = 0;
	off += (size_t)sprintf(t, "{\"ClientIdentifier\":\"a\",\"AdminUnixSocket\":");
	memset(t + off, '[', d);
	memset(t + off + d, ']', d);
	off += 2 * d;
	off += (size_t)sprintf(t + off, ",\"ServerAddr\":\"x\"}");
	assert_null(config_client_parse(CNAME, t, off, err));
	assert_string_equal(err, CNAME ":1:43: AdminUnixSocket: expected a string, got an array");
	free(t);
}

static void test_size_cap(void **state)
{
	(void)state;
	char err[CONFIG_ERRLEN];
	size_t n = CONFIG_MAX_BYTES + 1;
	char *t = malloc(n);
	assert_non_null(t);
	memset(t, ' ', n);
	t[0] = '{';
	t[n - 1] = '}';
	assert_null(config_server_parse(SNAME, t, n, err));
	assert_string_equal(err, SNAME ": larger than 1048576 bytes");
	/* Exactly the cap is parsed (and then lacks a port). */
	t[n - 2] = '}';
	assert_null(config_server_parse(SNAME, t, n - 1, err));
	assert_string_equal(err, SNAME ": missing ListenPort (or TunnelControlPort and ManagementPort)");
	free(t);
}

static void test_err_buffer(void **state)
{
	(void)state;
	/* NULL err is allowed. */
	assert_null(config_server_parse(SNAME, "{", 1, NULL));
	assert_null(config_client_parse(CNAME, "{", 1, NULL));
	/* A very long name is cut at the buffer, on a character boundary. */
	char name[2 * CONFIG_ERRLEN];
	for (size_t i = 0; i + 2 < sizeof(name); i += 2)
		memcpy(name + i, "\xC3\xA9", 2);	/* é */
	name[sizeof(name) - 1] = '\0';
	name[sizeof(name) - 2] = 'x';
	char err[CONFIG_ERRLEN];
	assert_null(config_server_parse(name, "{}", 2, err));
	size_t len = strlen(err);
	assert_true(len < CONFIG_ERRLEN);
	assert_true(len >= CONFIG_ERRLEN - 3);
	assert_int_equal(len % 2, 0);	/* whole é's only */
	/* Control characters in a name do not break the line. */
	assert_null(config_server_parse("a\nb", "{}", 2, err));
	assert_string_equal(err, "a\\nb: missing ListenPort (or TunnelControlPort and ManagementPort)");
}

/* ---- config_json_locate ---- */

static void test_locate(void **state)
{
	(void)state;
	static const char t[] =
		"{\n"
		"  \"a\": {\"b\": [10, {\"c\": \"x\"}, [1, 2]]},\n"
		"  \"f\\u006f\\\"o\": true,\n"
		"  \"\xC3\xA9t\xC3\xA9\": \"\xC3\xA9\", \"n\": null\n"
		"}";
	size_t n = sizeof(t) - 1;
	struct config_pos pos;
	struct config_path p[4];

	assert_int_equal(config_json_locate(t, n, NULL, 0, false, &pos), 0);
	assert_int_equal(pos.off, 0);
	assert_int_equal(pos.len, n);
	assert_int_equal(pos.line, 1);
	assert_int_equal(pos.col, 1);

	p[0] = (struct config_path){ "a", 0 };
	p[1] = (struct config_path){ "b", 0 };
	p[2] = (struct config_path){ NULL, 1 };
	p[3] = (struct config_path){ "c", 0 };
	assert_int_equal(config_json_locate(t, n, p, 4, false, &pos), 0);
	assert_int_equal(pos.line, 2);
	assert_int_equal(pos.col, 25);
	assert_int_equal(pos.len, 3);
	assert_memory_equal(t + pos.off, "\"x\"", 3);
	assert_int_equal(config_json_locate(t, n, p, 4, true, &pos), 0);
	assert_int_equal(pos.col, 20);
	assert_memory_equal(t + pos.off, "\"c\"", 3);

	p[2] = (struct config_path){ NULL, 2 };
	p[3] = (struct config_path){ NULL, 1 };
	assert_int_equal(config_json_locate(t, n, p, 4, false, &pos), 0);
	assert_memory_equal(t + pos.off, "2", 1);
	/* at_key on an index step gives the value. */
	assert_int_equal(config_json_locate(t, n, p, 4, true, &pos), 0);
	assert_memory_equal(t + pos.off, "2", 1);
	p[3] = (struct config_path){ NULL, 2 };
	assert_int_equal(config_json_locate(t, n, p, 4, false, &pos), -1);
	p[2] = (struct config_path){ NULL, 3 };
	assert_int_equal(config_json_locate(t, n, p, 3, false, &pos), -1);
	p[2] = (struct config_path){ "c", 0 };	/* a key into an array */
	assert_int_equal(config_json_locate(t, n, p, 3, false, &pos), -1);

	/* Keys are compared decoded: "f\u006f\"o" is f o " o. */
	p[0] = (struct config_path){ "fo\"o", 0 };
	assert_int_equal(config_json_locate(t, n, p, 1, false, &pos), 0);
	assert_int_equal(pos.line, 3);
	assert_int_equal(pos.col, 17);
	assert_memory_equal(t + pos.off, "true", 4);
	p[0] = (struct config_path){ "fo", 0 };
	assert_int_equal(config_json_locate(t, n, p, 1, false, &pos), -1);

	/* Columns count characters, not bytes. */
	p[0] = (struct config_path){ "\xC3\xA9t\xC3\xA9", 0 };
	assert_int_equal(config_json_locate(t, n, p, 1, false, &pos), 0);
	assert_int_equal(pos.line, 4);
	assert_int_equal(pos.col, 10);
	p[0] = (struct config_path){ "n", 0 };
	assert_int_equal(config_json_locate(t, n, p, 1, false, &pos), 0);
	assert_int_equal(pos.col, 20);
	assert_int_equal(pos.len, 4);

	/* Surrogate pairs decode to one character. */
	static const char s[] = "{\"\\ud83d\\ude00\": 1}";
	p[0] = (struct config_path){ "\xF0\x9F\x98\x80", 0 };
	assert_int_equal(config_json_locate(s, sizeof(s) - 1, p, 1, false, &pos), 0);
	assert_int_equal(pos.col, 18);

	/* Broken text: a clean -1, never a crash. */
	static const char *bad[] = { "", "{", "{\"a\"", "{\"a\":", "{\"a\\", "{\"b\":1", "[", "{\"b\" 1}",
				     "{\"b\":[1,2,", "{\"b\":\"\\u12\"}", "{\"a\\x\":1}" };
	p[0] = (struct config_path){ "a", 0 };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(config_json_locate(bad[i], strlen(bad[i]), p, 1, false, &pos), -1);
	assert_int_equal(config_json_locate(NULL, 0, p, 1, false, &pos), -1);
	assert_int_equal(config_json_locate("{}", 2, NULL, 1, false, &pos), -1);
}

/* ---- describe ---- */

static void roundtrip_server(const char *text)
{
	struct config_server *a = server_ok(text);
	char *d1 = config_server_describe(a);
	assert_non_null(d1);
	json_error_t je;
	json_t *j = json_loads(d1, 0, &je);
	if (j == NULL)
		fail_msg("describe is not JSON: %s\n%s", je.text, d1);
	assert_true(json_is_object(j));
	assert_non_null(json_object_get(j, "UseTls"));
	assert_non_null(json_object_get(j, "StreamWindowBytes"));
	json_decref(j);
	assert_non_null(strstr(d1, "\n  \"DebugLog\": "));	/* 2-space indent */
	struct config_server *b = server_ok(d1);
	char *d2 = config_server_describe(b);
	assert_string_equal(d1, d2);
	assert_int_equal(a->control_port, b->control_port);
	assert_int_equal(a->mgmt_port, b->mgmt_port);
	assert_int_equal(a->single_port, b->single_port);
	assert_int_equal(a->keepalive_ms, b->keepalive_ms);
	assert_int_equal(a->visitor_grace_ms, b->visitor_grace_ms);
	free(d1);
	free(d2);
	config_server_free(a);
	config_server_free(b);
}

static void roundtrip_client(const char *text)
{
	struct config_client *a = client_ok(text);
	char *d1 = config_client_describe(a);
	assert_non_null(d1);
	json_error_t je;
	json_t *j = json_loads(d1, 0, &je);
	if (j == NULL)
		fail_msg("describe is not JSON: %s\n%s", je.text, d1);
	assert_true(json_is_object(json_object_get(j, "ServiceToLocalAddrMap")));
	json_decref(j);
	struct config_client *b = client_ok(d1);
	char *d2 = config_client_describe(b);
	assert_string_equal(d1, d2);
	assert_string_equal(a->server_host, b->server_host);
	assert_int_equal(a->server_port, b->server_port);
	assert_int_equal(a->n_services, b->n_services);
	assert_int_equal(a->retry_cap_ms, b->retry_cap_ms);
	free(d1);
	free(d2);
	config_client_free(a);
	config_client_free(b);
}

static void test_describe_server(void **state)
{
	(void)state;
	struct config_server *c = server_ok(server_4b75a35);
	char *d = config_server_describe(c);
	assert_string_equal(d,
		"{\n"
		"  \"DebugLog\": false,\n"
		"  \"TunnelControlPort\": 9056,\n"
		"  \"ManagementPort\": 9057,\n"
		"  \"ListenAddress\": null,\n"
		"  \"ManagementAddress\": null,\n"
		"  \"UseTls\": true,\n"
		"  \"CaCertificateFile\": \"InternalCA+chain.crt\",\n"
		"  \"CaCertificateFilesGlob\": null,\n"
		"  \"ServerTlsKeyFile\": \"localhost.key\",\n"
		"  \"ServerTlsCertificateFile\": \"localhost+chain.crt\",\n"
		"  \"Domain\": null,\n"
		"  \"ManagementClientIds\": null,\n"
		"  \"TunnelsFile\": null,\n"
		"  \"VisitorGraceSeconds\": 0,\n"
		"  \"KeepAliveSeconds\": 30,\n"
		"  \"DeadPeerSeconds\": 30,\n"
		"  \"HandshakeTimeoutSeconds\": 10,\n"
		"  \"StreamOpenTimeoutSeconds\": 10,\n"
		"  \"SniPeekTimeoutSeconds\": 5,\n"
		"  \"StreamWindowBytes\": 8388608,\n"
		"  \"MaxVisitorsPerListener\": 10000,\n"
		"  \"MemoryLimitMiB\": 0,\n"
		"  \"MaxPreAuthConnections\": 1024,\n"
		"  \"MaxPreAuthPerSource\": 32,\n"
		"  \"MaxManagementConnections\": 64,\n"
		"  \"MaxClientEntries\": 10000\n"
		"}");
	free(d);
	config_server_free(c);
	assert_null(config_server_describe(NULL));

	roundtrip_server(server_4b75a35);
	roundtrip_server(server_2628f29);
	roundtrip_server(server_docker);
	roundtrip_server("{\"TunnelControlPort\":7,\"ManagementPort\":7}");
	roundtrip_server("{\"TunnelControlPort\":1,\"ManagementPort\":2,\"ListenAddress\":\"::1\","
			 "\"ManagementAddress\":\"127.0.0.1\",\"ManagementClientIds\":[\"x\",\"Zoë\"],"
			 "\"VisitorGraceSeconds\":0.1,\"KeepAliveSeconds\":0.001,"
			 "\"DeadPeerSeconds\":86399.999,\"TunnelsFile\":\"t.json\"}");
	roundtrip_server("{\"ListenPort\":1,\"ManagementClientIds\":[]}");
}

static void test_describe_client(void **state)
{
	(void)state;
	struct config_client *c = client_ok(client_4b75a35);
	char *d = config_client_describe(c);
	assert_string_equal(d,
		"{\n"
		"  \"DebugLog\": false,\n"
		"  \"ClientIdentifier\": \"TestClient1\",\n"
		"  \"ServerAddr\": \"localhost:9056\",\n"
		"  \"UseTls\": true,\n"
		"  \"CaCertificateFile\": \"InternalCA+chain.crt\",\n"
		"  \"CaCertificateFilesGlob\": null,\n"
		"  \"ClientTlsKeyFile\": \"TestClient1@example.com.key\",\n"
		"  \"ClientTlsCertificateFile\": \"TestClient1@example.com+chain.crt\",\n"
		"  \"AdminUnixSocket\": null,\n"
		"  \"ServiceToLocalAddrMap\": {\n"
		"    \"fooService\": \"127.0.0.1:9001\"\n"
		"  },\n"
		"  \"MaximumConnectionRetrySeconds\": 60,\n"
		"  \"KeepAliveSeconds\": 30,\n"
		"  \"DeadPeerSeconds\": 30,\n"
		"  \"ConnectTimeoutSeconds\": 10,\n"
		"  \"DialTimeoutSeconds\": 10,\n"
		"  \"StreamWindowBytes\": 8388608,\n"
		"  \"MemoryLimitMiB\": 0\n"
		"}");
	free(d);
	config_client_free(c);
	assert_null(config_client_describe(NULL));

	c = client_ok("{\"ClientIdentifier\":\"a\",\"ServerHost\":\"::1\",\"ServerTunnelControlPort\":9,"
		      "\"DialTimeoutSeconds\":0.25}");
	d = config_client_describe(c);
	assert_non_null(strstr(d, "\"ServerAddr\": \"[::1]:9\""));
	assert_non_null(strstr(d, "\"DialTimeoutSeconds\": 0.25"));
	free(d);
	config_client_free(c);

	roundtrip_client(client_4b75a35);
	roundtrip_client(client_2628f29);
	roundtrip_client("{\"ClientIdentifier\":\"a\",\"ServerAddr\":\"[fe80::1%eth0]:9056\","
			 "\"ServiceToLocalAddrMap\":{\"x.y\":\"[::1]:1\",\"é\":\"h:2\"},"
			 "\"MaximumConnectionRetrySeconds\":0.5,\"AdminUnixSocket\":\"/tmp/s\"}");
}

/* ---- files ---- */

static char *write_temp(const char *data, size_t len)
{
	char *path = strdup("/tmp/test_config_XXXXXX");
	assert_non_null(path);
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	size_t off = 0;
	while (off < len) {
		ssize_t w = write(fd, data + off, len - off);
		assert_true(w > 0);
		off += (size_t)w;
	}
	close(fd);
	return path;
}

static void test_load(void **state)
{
	(void)state;
	char err[CONFIG_ERRLEN];
	char *p = write_temp(server_4b75a35, strlen(server_4b75a35));
	struct config_server *s = config_server_load(p, err);
	assert_non_null(s);
	assert_int_equal(s->mgmt_port, 9057);
	config_server_free(s);
	/* Messages carry the path given. */
	assert_null(config_client_load(p, err));
	char want[CONFIG_ERRLEN];
	snprintf(want, sizeof(want), "%s:3:3: unknown key \"TunnelControlPort\" "
		 "(it belongs in a server config)", p);
	assert_string_equal(err, want);
	unlink(p);
	free(p);

	p = write_temp(client_2628f29, strlen(client_2628f29));
	struct config_client *c = config_client_load(p, err);
	assert_non_null(c);
	config_client_free(c);
	unlink(p);
	free(p);

	assert_null(config_server_load("/nonexistent/server-config.json", err));
	assert_string_equal(err, "/nonexistent/server-config.json: cannot open: No such file or directory");
	assert_null(config_client_load("/tmp", err));
	assert_string_equal(err, "/tmp: is a directory");
	assert_null(config_client_load("/nonexistent", NULL));

	size_t n = CONFIG_MAX_BYTES + 10;
	char *big = malloc(n);
	assert_non_null(big);
	memset(big, ' ', n);
	p = write_temp(big, n);
	assert_null(config_server_load(p, err));
	snprintf(want, sizeof(want), "%s: larger than 1048576 bytes", p);
	assert_string_equal(err, want);
	unlink(p);
	free(p);
	/* Exactly the cap still loads. */
	big[0] = '{';
	memcpy(big + 1, "\"ListenPort\":1", 14);
	big[CONFIG_MAX_BYTES - 1] = '}';
	p = write_temp(big, CONFIG_MAX_BYTES);
	s = config_server_load(p, err);
	if (s == NULL)
		fail_msg("%s", err);
	config_server_free(s);
	unlink(p);
	free(p);
	free(big);
	config_server_free(NULL);
	config_client_free(NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_4b75a35),
		cmocka_unit_test(test_server_2628f29),
		cmocka_unit_test(test_server_dockerfile),
		cmocka_unit_test(test_client_4b75a35),
		cmocka_unit_test(test_client_2628f29),
		cmocka_unit_test(test_later_client_keys),
		cmocka_unit_test(test_case_insensitive_keys),
		cmocka_unit_test(test_duplicate_keys),
		cmocka_unit_test(test_unknown_keys),
		cmocka_unit_test(test_server_ports),
		cmocka_unit_test(test_server_addresses),
		cmocka_unit_test(test_server_tls_requirements),
		cmocka_unit_test(test_server_mgmt_ids),
		cmocka_unit_test(test_server_defaults),
		cmocka_unit_test(test_server_tunables),
		cmocka_unit_test(test_client_addresses),
		cmocka_unit_test(test_client_generations),
		cmocka_unit_test(test_client_identifier),
		cmocka_unit_test(test_client_tls_requirements),
		cmocka_unit_test(test_client_services),
		cmocka_unit_test(test_client_defaults),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_nul_bytes),
		cmocka_unit_test(test_bom),
		cmocka_unit_test(test_deep_nesting),
		cmocka_unit_test(test_size_cap),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_locate),
		cmocka_unit_test(test_describe_server),
		cmocka_unit_test(test_describe_client),
		cmocka_unit_test(test_load),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
