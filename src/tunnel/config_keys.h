/*
 * config_keys: the key tables, one per role. Each table holds both
 * generations of the Go original's keys (4b75a35 and later master,
 * go-original.md appendix A) and our additions; docs/config.md lists them.
 * A key's entry says how its value is converted (config_value) and its
 * default. Keys match case-insensitively, ASCII only.
 */
#ifndef THRESHOLD_CONFIG_KEYS_H
#define THRESHOLD_CONFIG_KEYS_H

#include <stddef.h>
#include <stdint.h>

#include "tunnel/config_json.h"

#define CONFIG_SECS_MAX 86400u /* one day: the longest timeout */

enum config_kind {
	CONFIG_K_BOOL,
	CONFIG_K_PORT,	   /* integer 1-65535 */
	CONFIG_K_PORT0,	   /* integer 0-65535 (ServerManagementPort: unused) */
	CONFIG_K_STR,	   /* optional string; "" = absent */
	CONFIG_K_IP,	   /* optional IP literal; "" = absent */
	CONFIG_K_ID,	   /* client id: non-empty, printable, no outer white space */
	CONFIG_K_HOST,	   /* host name or IP literal, IPv6 with or without brackets */
	CONFIG_K_HOSTPORT, /* "host:port", "[v6]:port" */
	CONFIG_K_SECS,	   /* seconds, > 0 (at least 1 ms), <= CONFIG_SECS_MAX; stored in ms */
	CONFIG_K_SECS0,	   /* seconds, >= 0, <= CONFIG_SECS_MAX; stored in ms */
	CONFIG_K_COUNT,	   /* integer in [min, max] */
	CONFIG_K_SERVICES, /* object name -> "host:port" */
	CONFIG_K_IDLIST,   /* list of client ids */
};

struct config_keydef {
	const char *name;
	enum config_kind kind;
	uint32_t def, min, max;
};

/* Indices into the tables: server keys, then client keys. */
enum {
	CONFIG_S_DEBUG,
	CONFIG_S_CTRLPORT,
	CONFIG_S_MGMTPORT,
	CONFIG_S_LISTENPORT,
	CONFIG_S_LISTENADDR,
	CONFIG_S_MGMTADDR,
	CONFIG_S_USETLS,
	CONFIG_S_CAFILE,
	CONFIG_S_CAGLOB,
	CONFIG_S_KEY,
	CONFIG_S_CERT,
	CONFIG_S_DOMAIN,
	CONFIG_S_MGMTIDS,
	CONFIG_S_TUNNELSFILE,
	CONFIG_S_GRACE,
	CONFIG_S_KEEPALIVE,
	CONFIG_S_DEADPEER,
	CONFIG_S_HANDSHAKE,
	CONFIG_S_OPEN,
	CONFIG_S_WINDOW,
	CONFIG_S_MAXVIS,
	CONFIG_S_SNIPEEK,
	CONFIG_S_MEMLIMIT,
	CONFIG_S_PREAUTH,
	CONFIG_S_PREAUTHSRC,
	CONFIG_S_MGMTCONNS,
	CONFIG_S_MAXCLIENTS,
	CONFIG_S_NKEYS
};

enum {
	CONFIG_C_DEBUG,
	CONFIG_C_CLIENTID,
	CONFIG_C_SERVERHOST,
	CONFIG_C_SERVERPORT,
	CONFIG_C_SERVERMGMTPORT,
	CONFIG_C_SERVERADDR,
	CONFIG_C_USETLS,
	CONFIG_C_CAFILE,
	CONFIG_C_CAGLOB,
	CONFIG_C_KEY,
	CONFIG_C_CERT,
	CONFIG_C_ADMIN,
	CONFIG_C_SERVICES,
	CONFIG_C_RETRY,
	CONFIG_C_KEEPALIVE,
	CONFIG_C_DEADPEER,
	CONFIG_C_CONNECT,
	CONFIG_C_DIAL,
	CONFIG_C_WINDOW,
	CONFIG_C_MEMLIMIT,
	CONFIG_C_NKEYS
};

/* A role's table; `name` is how the role is called in messages. */
struct config_role {
	const char *name;
	const struct config_keydef *keys;
	size_t n;
};

extern const struct config_role config_server_role; /* CONFIG_S_NKEYS keys */
extern const struct config_role config_client_role; /* CONFIG_C_NKEYS keys */

/* Index of key k in the role's table (case-insensitive), or SIZE_MAX. */
size_t config_keys_find(const struct config_role *r, const char *k);

/* The error for a top-level key k that `r` does not know: it names the
 * other role when k belongs there, or the closest key of r when k is a
 * near miss. Writes d->err and returns -1. */
int config_keys_unknown(const struct config_json_doc *d, const char *k, const struct config_role *r,
			const struct config_role *other);

#endif
