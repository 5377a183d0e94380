/*
 * config: loading and validating threshold's JSON config files.
 *
 * Both generations of the Go original's files load (go-original.md §1.2-1.5):
 *   server 4b75a35: TunnelControlPort + ManagementPort, CaCertificateFile
 *   server later:   ListenPort (control and management on one port), Domain,
 *                   CaCertificateFilesGlob
 *   client 4b75a35: ServerHost + ServerTunnelControlPort (+ unused
 *                   ServerManagementPort), CaCertificateFile
 *   client later:   ServerAddr, CaCertificateFilesGlob, AdminUnixSocket
 * Keys match case-insensitively (ASCII only; Go also folded U+017F and
 * U+212A, we do not). A key no generation knows is an error naming it (and
 * the closest known key when it is a near miss). Unlike Go, a key given
 * twice in one object is an error, whether spelled the same ("a" twice, as
 * jansson's JSON_REJECT_DUPLICATES reports it) or differently ("usetls" and
 * "UseTls"): the original silently took the last one. A JSON null counts as
 * absent; an empty string counts as absent for optional strings.
 * Errors name the file, the JSON path and, where the value is in the file,
 * line and column (1-based, columns in UTF-8 characters as jansson counts):
 *   client-config.json:7:19: ServiceToLocalAddrMap.fooService: "127.0.0.1" is not host:port
 *   server-config.json:3:17: ListenPort: 70000 is not a port (1-65535)
 *   client-config.json: missing ClientIdentifier
 * docs/config.md lists every key, its type, default and generation.
 *
 * A loaded config is an immutable snapshot (config_*_free frees it).
 */
#ifndef THRESHOLD_CONFIG_H
#define THRESHOLD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* config_json_locate and its path and position types, for the tests. */
#include "tunnel/config_json.h"

#define CONFIG_ERRLEN 512
/* Larger files (and texts) are refused before parsing. */
#define CONFIG_MAX_BYTES (1024u * 1024u)

struct config_server {
	bool debug_log; /* DebugLog */
	/* Ports. Either the 2020 layout (control_port and mgmt_port set,
	 * single_port false) or the later one (ListenPort: control_port ==
	 * mgmt_port, single_port true). */
	uint16_t control_port; /* TunnelControlPort or ListenPort */
	uint16_t mgmt_port;    /* ManagementPort or ListenPort */
	bool single_port;
	char *listen_address;	/* ListenAddress: IP literal to bind control (and single) port; NULL = all */
	char *mgmt_address;	/* ManagementAddress: IP literal; NULL = loopback when !use_tls, else all */
	bool use_tls;		/* UseTls */
	char *ca_file;		/* CaCertificateFile */
	char *ca_glob;		/* CaCertificateFilesGlob */
	char *tls_key_file;	/* ServerTlsKeyFile */
	char *tls_cert_file;	/* ServerTlsCertificateFile */
	char *domain;		/* Domain (NULL when absent) */
	char **mgmt_client_ids; /* ManagementClientIds, NULL-terminated; NULL when absent,
				 * non-NULL with n == 0 for [] (nobody may manage) */
	size_t n_mgmt_client_ids;
	char *tunnels_file;		    /* TunnelsFile: where PUT /tunnels is persisted; NULL = none */
	uint32_t visitor_grace_ms;	    /* VisitorGraceSeconds: hold visitors of a disconnected client (0) */
	uint32_t keepalive_ms;		    /* KeepAliveSeconds: yamux ping interval (30) */
	uint32_t dead_peer_ms;		    /* DeadPeerSeconds: silence that kills a session (30) */
	uint32_t handshake_timeout_ms;	    /* HandshakeTimeoutSeconds: CONNECT + controlHandshake (10) */
	uint32_t stream_open_timeout_ms;    /* StreamOpenTimeoutSeconds: wait for the client's stream (10) */
	uint32_t sni_peek_timeout_ms;	    /* SniPeekTimeoutSeconds: wait for a ClientHello on ports with globs (5) */
	uint32_t recv_window;		    /* StreamWindowBytes: yamux receive window per stream (8 MiB) */
	uint32_t max_visitors_per_listener; /* MaxVisitorsPerListener (10000) */
	uint32_t memory_limit_mib;	    /* MemoryLimitMiB: the peer-driven memory budget; 0 = half of the
					     * machine's (or cgroup's) memory, at least 32 MiB */
	uint32_t max_preauth;		    /* MaxPreAuthConnections: control-port connections not yet a
					     * session, in all (1024) */
	uint32_t max_preauth_per_source;    /* MaxPreAuthPerSource: the same per source address (32) */
	uint32_t max_mgmt_conns;	    /* MaxManagementConnections: management API connections (64) */
	uint32_t max_client_entries;	    /* MaxClientEntries: registry entries kept (10000) */
};

struct config_service {
	char *name;
	char *host; /* numeric or name, resolved when dialled */
	uint16_t port;
};

struct config_client {
	bool debug_log;			 /* DebugLog */
	char *client_id;		 /* ClientIdentifier (required, non-empty) */
	char *server_host;		 /* ServerHost or host part of ServerAddr */
	uint16_t server_port;		 /* ServerTunnelControlPort or port of ServerAddr */
	bool use_tls;			 /* UseTls */
	char *ca_file;			 /* CaCertificateFile */
	char *ca_glob;			 /* CaCertificateFilesGlob */
	char *tls_key_file;		 /* ClientTlsKeyFile */
	char *tls_cert_file;		 /* ClientTlsCertificateFile */
	char *admin_socket;		 /* AdminUnixSocket (NULL when absent) */
	struct config_service *services; /* ServiceToLocalAddrMap, sorted by name */
	size_t n_services;
	uint32_t retry_cap_ms;	     /* MaximumConnectionRetrySeconds (60) */
	uint32_t keepalive_ms;	     /* KeepAliveSeconds (30) */
	uint32_t dead_peer_ms;	     /* DeadPeerSeconds (30) */
	uint32_t connect_timeout_ms; /* ConnectTimeoutSeconds: TCP/TLS connect + CONNECT answer + handshake (10) */
	uint32_t dial_timeout_ms;    /* DialTimeoutSeconds: local service dial (10) */
	uint32_t recv_window;	     /* StreamWindowBytes (8 MiB) */
	uint32_t memory_limit_mib;   /* MemoryLimitMiB (0: derived from the machine) */
};

/* Parse from memory (need not be NUL-terminated; a leading UTF-8 BOM is
 * skipped). `name` is the file name used in messages. On error, returns NULL
 * and writes one line, without a newline, into err (err may be NULL).
 * Caller frees with *_free. */
struct config_server *config_server_parse(const char *name, const char *text, size_t len,
					  char err[CONFIG_ERRLEN]);
struct config_client *config_client_parse(const char *name, const char *text, size_t len,
					  char err[CONFIG_ERRLEN]);
/* Read and parse a file; `path` is the name in messages. */
struct config_server *config_server_load(const char *path, char err[CONFIG_ERRLEN]);
struct config_client *config_client_load(const char *path, char err[CONFIG_ERRLEN]);
void config_server_free(struct config_server *c);
void config_client_free(struct config_client *c);
/* Lookup a service by name (case-sensitive); NULL if not configured. */
const struct config_service *config_client_service(const struct config_client *c, const char *name);
/* The effective config as pretty JSON for the start-up log, without
 * secrets (key file paths are shown, never key material). Caller frees. */
char *config_server_describe(const struct config_server *c);
char *config_client_describe(const struct config_client *c);

#endif
