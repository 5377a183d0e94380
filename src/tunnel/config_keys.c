/*
 * config_keys: the key tables and unknown-key messages (config_keys.h).
 */
#include "tunnel/config_keys.h"

#include <string.h>

#define WINDOW_MIN (256u * 1024u) /* yamux's initial window */
#define WINDOW_MAX (256u * 1024u * 1024u)
#define WINDOW_DEFAULT (8u * 1024u * 1024u)
#define MEMLIMIT_MAX (1024u * 1024u) /* MiB: 1 TiB; 0 = derived from the machine */

static const struct config_keydef server_keys[CONFIG_S_NKEYS] = {
	[CONFIG_S_DEBUG] = { "DebugLog", CONFIG_K_BOOL, 0, 0, 0 },
	[CONFIG_S_CTRLPORT] = { "TunnelControlPort", CONFIG_K_PORT, 0, 0, 0 },
	[CONFIG_S_MGMTPORT] = { "ManagementPort", CONFIG_K_PORT, 0, 0, 0 },
	[CONFIG_S_LISTENPORT] = { "ListenPort", CONFIG_K_PORT, 0, 0, 0 },
	[CONFIG_S_LISTENADDR] = { "ListenAddress", CONFIG_K_IP, 0, 0, 0 },
	[CONFIG_S_MGMTADDR] = { "ManagementAddress", CONFIG_K_IP, 0, 0, 0 },
	[CONFIG_S_USETLS] = { "UseTls", CONFIG_K_BOOL, 0, 0, 0 },
	[CONFIG_S_CAFILE] = { "CaCertificateFile", CONFIG_K_STR, 0, 0, 0 },
	[CONFIG_S_CAGLOB] = { "CaCertificateFilesGlob", CONFIG_K_STR, 0, 0, 0 },
	[CONFIG_S_KEY] = { "ServerTlsKeyFile", CONFIG_K_STR, 0, 0, 0 },
	[CONFIG_S_CERT] = { "ServerTlsCertificateFile", CONFIG_K_STR, 0, 0, 0 },
	[CONFIG_S_DOMAIN] = { "Domain", CONFIG_K_STR, 0, 0, 0 },
	[CONFIG_S_MGMTIDS] = { "ManagementClientIds", CONFIG_K_IDLIST, 0, 0, 0 },
	[CONFIG_S_TUNNELSFILE] = { "TunnelsFile", CONFIG_K_STR, 0, 0, 0 },
	[CONFIG_S_GRACE] = { "VisitorGraceSeconds", CONFIG_K_SECS0, 0, 0, 0 },
	[CONFIG_S_KEEPALIVE] = { "KeepAliveSeconds", CONFIG_K_SECS, 30000, 0, 0 },
	[CONFIG_S_DEADPEER] = { "DeadPeerSeconds", CONFIG_K_SECS, 30000, 0, 0 },
	[CONFIG_S_HANDSHAKE] = { "HandshakeTimeoutSeconds", CONFIG_K_SECS, 10000, 0, 0 },
	[CONFIG_S_OPEN] = { "StreamOpenTimeoutSeconds", CONFIG_K_SECS, 10000, 0, 0 },
	[CONFIG_S_WINDOW] = { "StreamWindowBytes", CONFIG_K_COUNT, WINDOW_DEFAULT, WINDOW_MIN, WINDOW_MAX },
	[CONFIG_S_MAXVIS] = { "MaxVisitorsPerListener", CONFIG_K_COUNT, 10000, 1, 1000000 },
	[CONFIG_S_SNIPEEK] = { "SniPeekTimeoutSeconds", CONFIG_K_SECS, 5000, 0, 0 },
	[CONFIG_S_MEMLIMIT] = { "MemoryLimitMiB", CONFIG_K_COUNT, 0, 0, MEMLIMIT_MAX },
	[CONFIG_S_PREAUTH] = { "MaxPreAuthConnections", CONFIG_K_COUNT, 1024, 1, 1000000 },
	[CONFIG_S_PREAUTHSRC] = { "MaxPreAuthPerSource", CONFIG_K_COUNT, 32, 1, 1000000 },
	[CONFIG_S_MGMTCONNS] = { "MaxManagementConnections", CONFIG_K_COUNT, 64, 1, 100000 },
	[CONFIG_S_MAXCLIENTS] = { "MaxClientEntries", CONFIG_K_COUNT, 10000, 1, 1000000 },
};

static const struct config_keydef client_keys[CONFIG_C_NKEYS] = {
	[CONFIG_C_DEBUG] = { "DebugLog", CONFIG_K_BOOL, 0, 0, 0 },
	[CONFIG_C_CLIENTID] = { "ClientIdentifier", CONFIG_K_ID, 0, 0, 0 },
	[CONFIG_C_SERVERHOST] = { "ServerHost", CONFIG_K_HOST, 0, 0, 0 },
	[CONFIG_C_SERVERPORT] = { "ServerTunnelControlPort", CONFIG_K_PORT, 0, 0, 0 },
	[CONFIG_C_SERVERMGMTPORT] = { "ServerManagementPort", CONFIG_K_PORT0, 0, 0, 0 },
	[CONFIG_C_SERVERADDR] = { "ServerAddr", CONFIG_K_HOSTPORT, 0, 0, 0 },
	[CONFIG_C_USETLS] = { "UseTls", CONFIG_K_BOOL, 0, 0, 0 },
	[CONFIG_C_CAFILE] = { "CaCertificateFile", CONFIG_K_STR, 0, 0, 0 },
	[CONFIG_C_CAGLOB] = { "CaCertificateFilesGlob", CONFIG_K_STR, 0, 0, 0 },
	[CONFIG_C_KEY] = { "ClientTlsKeyFile", CONFIG_K_STR, 0, 0, 0 },
	[CONFIG_C_CERT] = { "ClientTlsCertificateFile", CONFIG_K_STR, 0, 0, 0 },
	[CONFIG_C_ADMIN] = { "AdminUnixSocket", CONFIG_K_STR, 0, 0, 0 },
	[CONFIG_C_SERVICES] = { "ServiceToLocalAddrMap", CONFIG_K_SERVICES, 0, 0, 0 },
	[CONFIG_C_RETRY] = { "MaximumConnectionRetrySeconds", CONFIG_K_SECS, 60000, 0, 0 },
	[CONFIG_C_KEEPALIVE] = { "KeepAliveSeconds", CONFIG_K_SECS, 30000, 0, 0 },
	[CONFIG_C_DEADPEER] = { "DeadPeerSeconds", CONFIG_K_SECS, 30000, 0, 0 },
	[CONFIG_C_CONNECT] = { "ConnectTimeoutSeconds", CONFIG_K_SECS, 10000, 0, 0 },
	[CONFIG_C_DIAL] = { "DialTimeoutSeconds", CONFIG_K_SECS, 10000, 0, 0 },
	[CONFIG_C_WINDOW] = { "StreamWindowBytes", CONFIG_K_COUNT, WINDOW_DEFAULT, WINDOW_MIN, WINDOW_MAX },
	[CONFIG_C_MEMLIMIT] = { "MemoryLimitMiB", CONFIG_K_COUNT, 0, 0, MEMLIMIT_MAX },
};

const struct config_role config_server_role = { "server", server_keys, CONFIG_S_NKEYS };
const struct config_role config_client_role = { "client", client_keys, CONFIG_C_NKEYS };

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : c;
}

static bool ascii_caseeq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++)
		if (lower(*a) != lower(*b))
			return false;
	return *a == *b;
}

size_t config_keys_find(const struct config_role *r, const char *k)
{
	for (size_t i = 0; i < r->n; i++)
		if (ascii_caseeq(r->keys[i].name, k))
			return i;
	return SIZE_MAX;
}

/* Optimal string alignment distance, case-insensitive; both at most 64. */
static size_t edit_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b);
	size_t r0[65], r1[65], r2[65];
	size_t *pp = r0, *prev = r1, *cur = r2;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t cost = lower(a[i - 1]) != lower(b[j - 1]);
			size_t v = prev[j] + 1;
			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && lower(a[i - 1]) == lower(b[j - 2]) &&
			    lower(a[i - 2]) == lower(b[j - 1]) && pp[j - 2] + 1 < v)
				v = pp[j - 2] + 1;
			cur[j] = v;
		}
		size_t *t = pp;
		pp = prev;
		prev = cur;
		cur = t;
	}
	return prev[lb];
}

int config_keys_unknown(const struct config_json_doc *d, const char *k, const struct config_role *r,
			const struct config_role *other)
{
	struct config_path path[1] = { { k, 0 } };
	char q[CONFIG_JSON_SHOW_BUF];
	config_json_quote(k, strlen(k), q);
	if (config_keys_find(other, k) != SIZE_MAX)
		return config_json_fail(d, path, 1, CONFIG_JSON_AT_KEY, false,
					"unknown key \"%s\" (it belongs in a %s config)", q, other->name);
	const char *best = NULL;
	size_t bestd = SIZE_MAX;
	if (strlen(k) <= 64) {
		for (size_t i = 0; i < r->n; i++) {
			size_t dist = edit_distance(k, r->keys[i].name);
			if (dist < bestd) {
				bestd = dist;
				best = r->keys[i].name;
			}
		}
	}
	if (best != NULL && bestd < strlen(k) && (bestd <= 2 || bestd * 4 <= strlen(best)))
		return config_json_fail(d, path, 1, CONFIG_JSON_AT_KEY, false,
					"unknown key \"%s\" (did you mean \"%s\"?)", q, best);
	return config_json_fail(d, path, 1, CONFIG_JSON_AT_KEY, false, "unknown key \"%s\"", q);
}
