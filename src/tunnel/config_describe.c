/*
 * config_describe: the effective config as pretty JSON for the start-up
 * log (config_server_describe and config_client_describe in config.h).
 * The output uses the later generation's keys, shows every default and is
 * loadable again as it is (the fuzz target checks the round trip); key
 * file paths are shown, never key material.
 */
#include "tunnel/config.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/sock.h"

/* Adds key: value, tracking allocation failure in *ok. */
static void put(json_t *o, const char *k, json_t *v, bool *ok)
{
	if (v == NULL || json_object_set_new(o, k, v) != 0)
		*ok = false;
}

static json_t *str_or_null(const char *s)
{
	return s != NULL ? json_string(s) : json_null();
}

static json_t *secs(uint32_t ms)
{
	if (ms % 1000 == 0)
		return json_integer(ms / 1000);
	return json_real(ms / 1000.0);
}

/* "host:port" as a JSON string, brackets around IPv6 literals. */
static json_t *hostport(const char *host, uint16_t port)
{
	int n = sock_join_hostport(host, port, NULL, 0);
	if (n < 0)
		return NULL;
	char *s = malloc((size_t)n + 1);
	if (s == NULL)
		return NULL;
	sock_join_hostport(host, port, s, (size_t)n + 1);
	json_t *j = json_string(s);
	free(s);
	return j;
}

static char *dump(json_t *o, bool ok)
{
	char *s = ok ? json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(15))
		     : NULL;
	json_decref(o);
	return s;
}

/* A new document that starts with "DebugLog", as both roles' do. */
static json_t *doc_start(bool debug_log, bool *ok)
{
	json_t *o = json_object();
	*ok = o != NULL;
	if (o)
		put(o, "DebugLog", json_boolean(debug_log), ok);
	return o;
}

char *config_server_describe(const struct config_server *c)
{
	bool ok;
	json_t *o = c ? doc_start(c->debug_log, &ok) : NULL;
	if (o == NULL)
		return NULL;
	if (c->single_port) {
		put(o, "ListenPort", json_integer(c->control_port), &ok);
	} else {
		put(o, "TunnelControlPort", json_integer(c->control_port), &ok);
		put(o, "ManagementPort", json_integer(c->mgmt_port), &ok);
	}
	put(o, "ListenAddress", str_or_null(c->listen_address), &ok);
	put(o, "ManagementAddress", str_or_null(c->mgmt_address), &ok);
	put(o, "UseTls", json_boolean(c->use_tls), &ok);
	put(o, "CaCertificateFile", str_or_null(c->ca_file), &ok);
	put(o, "CaCertificateFilesGlob", str_or_null(c->ca_glob), &ok);
	put(o, "ServerTlsKeyFile", str_or_null(c->tls_key_file), &ok);
	put(o, "ServerTlsCertificateFile", str_or_null(c->tls_cert_file), &ok);
	put(o, "Domain", str_or_null(c->domain), &ok);
	if (c->mgmt_client_ids != NULL) {
		json_t *a = json_array();
		for (size_t i = 0; a != NULL && i < c->n_mgmt_client_ids; i++)
			if (json_array_append_new(a, json_string(c->mgmt_client_ids[i])) != 0)
				ok = false;
		put(o, "ManagementClientIds", a, &ok);
	} else {
		put(o, "ManagementClientIds", json_null(), &ok);
	}
	put(o, "TunnelsFile", str_or_null(c->tunnels_file), &ok);
	put(o, "VisitorGraceSeconds", secs(c->visitor_grace_ms), &ok);
	put(o, "KeepAliveSeconds", secs(c->keepalive_ms), &ok);
	put(o, "DeadPeerSeconds", secs(c->dead_peer_ms), &ok);
	put(o, "HandshakeTimeoutSeconds", secs(c->handshake_timeout_ms), &ok);
	put(o, "StreamOpenTimeoutSeconds", secs(c->stream_open_timeout_ms), &ok);
	put(o, "SniPeekTimeoutSeconds", secs(c->sni_peek_timeout_ms), &ok);
	put(o, "StreamWindowBytes", json_integer(c->recv_window), &ok);
	put(o, "MaxVisitorsPerListener", json_integer(c->max_visitors_per_listener), &ok);
	put(o, "MemoryLimitMiB", json_integer(c->memory_limit_mib), &ok);
	put(o, "MaxPreAuthConnections", json_integer(c->max_preauth), &ok);
	put(o, "MaxPreAuthPerSource", json_integer(c->max_preauth_per_source), &ok);
	put(o, "MaxManagementConnections", json_integer(c->max_mgmt_conns), &ok);
	put(o, "MaxClientEntries", json_integer(c->max_client_entries), &ok);
	return dump(o, ok);
}

char *config_client_describe(const struct config_client *c)
{
	bool ok;
	json_t *o = c ? doc_start(c->debug_log, &ok) : NULL;
	if (o == NULL)
		return NULL;
	put(o, "ClientIdentifier", str_or_null(c->client_id), &ok);
	put(o, "ServerAddr", hostport(c->server_host, c->server_port), &ok);
	put(o, "UseTls", json_boolean(c->use_tls), &ok);
	put(o, "CaCertificateFile", str_or_null(c->ca_file), &ok);
	put(o, "CaCertificateFilesGlob", str_or_null(c->ca_glob), &ok);
	put(o, "ClientTlsKeyFile", str_or_null(c->tls_key_file), &ok);
	put(o, "ClientTlsCertificateFile", str_or_null(c->tls_cert_file), &ok);
	put(o, "AdminUnixSocket", str_or_null(c->admin_socket), &ok);
	json_t *m = json_object();
	for (size_t i = 0; m != NULL && i < c->n_services; i++)
		put(m, c->services[i].name, hostport(c->services[i].host, c->services[i].port), &ok);
	put(o, "ServiceToLocalAddrMap", m, &ok);
	put(o, "MaximumConnectionRetrySeconds", secs(c->retry_cap_ms), &ok);
	put(o, "KeepAliveSeconds", secs(c->keepalive_ms), &ok);
	put(o, "DeadPeerSeconds", secs(c->dead_peer_ms), &ok);
	put(o, "ConnectTimeoutSeconds", secs(c->connect_timeout_ms), &ok);
	put(o, "DialTimeoutSeconds", secs(c->dial_timeout_ms), &ok);
	put(o, "StreamWindowBytes", json_integer(c->recv_window), &ok);
	put(o, "MemoryLimitMiB", json_integer(c->memory_limit_mib), &ok);
	return dump(o, ok);
}
