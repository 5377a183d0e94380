/*
 * config: loading and validating threshold's JSON config files (config.h).
 *
 * Flow: config_json_load caps the size, checks for NUL bytes and has
 * jansson parse the text (duplicates rejected, depth capped by jansson at
 * JSON_PARSER_MAX_DEPTH). The top object's members are then taken in
 * document order: each key is matched case-insensitively against the
 * role's key table (config_keys) and its value converted into a `struct
 * config_val` (config_value); so the first error in the file is the one
 * reported. Cross-key rules (generations, required keys, TLS files) run
 * last, here. Positions for messages come from config_json_locate(), which
 * rescans the text; that happens only on the error path.
 */
#include "tunnel/config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "tunnel/config_json.h"
#include "tunnel/config_keys.h"
#include "tunnel/config_value.h"

#define fail config_json_fail
#define AT_NONE CONFIG_JSON_AT_NONE
#define AT_VALUE CONFIG_JSON_AT_VALUE
#define AT_KEY CONFIG_JSON_AT_KEY

/* Parses the text and takes every member of the top object into vals[]
 * (defaults preset). Returns the root (caller decrefs; vals borrow its key
 * strings) or NULL with p->err set. */
static json_t *parse_doc(struct config_json_doc *p, const char *text, size_t len,
			 const struct config_role *role, struct config_val *vals,
			 const struct config_role *other)
{
	for (size_t i = 0; i < role->n; i++)
		vals[i].u = role->keys[i].def;
	json_t *root = config_json_load(p, text, len, CONFIG_MAX_BYTES);
	if (root == NULL)
		return NULL;
	const char *k;
	json_t *v;
	json_object_foreach(root, k, v)
	{
		size_t i = config_keys_find(role, k);
		if (i == SIZE_MAX) {
			config_keys_unknown(p, k, role, other);
			goto bad;
		}
		if (vals[i].key != NULL) {
			struct config_path path[1] = { { k, 0 } };
			fail(p, path, 1, AT_KEY, false,
			     "\"%s\" and \"%s\" are the same key (keys ignore case)", vals[i].key, k);
			goto bad;
		}
		vals[i].key = k;
		if (json_is_null(v))
			continue; /* as in Go: null leaves the default */
		vals[i].present = true;
		if (config_value_convert(p, &role->keys[i], k, v, &vals[i]))
			goto bad;
	}
	return root;
bad:
	json_decref(root);
	return NULL;
}

/* An error about a top-level key that is in the file. */
__attribute__((format(printf, 4, 5))) static int fail_key(const struct config_json_doc *p, const struct config_val *v,
							  enum config_json_at at, const char *fmt, ...)
{
	struct config_path path[1] = { { v->key, 0 } };
	char msg[CONFIG_ERRLEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return fail(p, path, 1, at, true, "%s", msg);
}

/* UseTls true needs a key, a certificate and a CA file or glob (both
 * roles, each with its own key names). 0, or -1 with the error set. */
static int check_tls_keys(const struct config_json_doc *p, const struct config_val *v,
			  const struct config_role *role, int usetls, int key, int cert,
			  int cafile, int caglob)
{
	if (!v[usetls].b)
		return 0;
	const int need[] = { key, cert };
	for (size_t i = 0; i < sizeof(need) / sizeof(need[0]); i++) {
		if (!v[need[i]].present) {
			fail_key(p, &v[usetls], AT_VALUE, "true requires %s",
				 role->keys[need[i]].name);
			return -1;
		}
	}
	if (!v[cafile].present && !v[caglob].present) {
		fail_key(p, &v[usetls], AT_VALUE, "true requires %s",
			 "CaCertificateFile or CaCertificateFilesGlob");
		return -1;
	}
	return 0;
}

static char *take(struct config_val *v)
{
	char *s = v->s;
	v->s = NULL;
	return s;
}

/* ------------------------------------------------------------------ */
/* Server. */

/* Ports: ListenPort (later) or TunnelControlPort [+ ManagementPort]
 * (4b75a35), never both; ManagementAddress needs a port of its own.
 * 0, or -1 with the error set. */
static int server_ports(const struct config_json_doc *p, const struct config_val *v,
			uint16_t *ctrl, uint16_t *mgmt)
{
	const struct config_val *lp = &v[CONFIG_S_LISTENPORT], *cp = &v[CONFIG_S_CTRLPORT];
	const struct config_val *mp = &v[CONFIG_S_MGMTPORT];
	if (lp->present && (cp->present || mp->present))
		return fail_key(p, lp, AT_KEY,
				"cannot be combined with %s (ListenPort replaced TunnelControlPort and ManagementPort)",
				cp->present ? cp->key : mp->key);
	if (!lp->present && !cp->present) {
		if (mp->present)
			return fail_key(p, mp, AT_KEY, "needs TunnelControlPort");
		return fail(p, NULL, 0, AT_NONE, false,
			    "missing ListenPort (or TunnelControlPort and ManagementPort)");
	}
	*ctrl = (uint16_t)(lp->present ? lp->u : cp->u);
	*mgmt = (uint16_t)(mp->present ? mp->u : *ctrl);
	if (*ctrl == *mgmt && v[CONFIG_S_MGMTADDR].present)
		return fail_key(p, &v[CONFIG_S_MGMTADDR], AT_KEY,
				"needs a ManagementPort apart from the control port");
	return 0;
}

/* Moves the checked values into a new config; NULL when out of memory. */
static struct config_server *server_build(struct config_val *v, uint16_t ctrl, uint16_t mgmt)
{
	struct config_server *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	c->debug_log = v[CONFIG_S_DEBUG].b;
	c->control_port = ctrl;
	c->mgmt_port = mgmt;
	c->single_port = ctrl == mgmt;
	c->listen_address = take(&v[CONFIG_S_LISTENADDR]);
	c->mgmt_address = take(&v[CONFIG_S_MGMTADDR]);
	c->use_tls = v[CONFIG_S_USETLS].b;
	c->ca_file = take(&v[CONFIG_S_CAFILE]);
	c->ca_glob = take(&v[CONFIG_S_CAGLOB]);
	c->tls_key_file = take(&v[CONFIG_S_KEY]);
	c->tls_cert_file = take(&v[CONFIG_S_CERT]);
	c->domain = take(&v[CONFIG_S_DOMAIN]);
	c->mgmt_client_ids = v[CONFIG_S_MGMTIDS].ids;
	c->n_mgmt_client_ids = v[CONFIG_S_MGMTIDS].nids;
	v[CONFIG_S_MGMTIDS].ids = NULL;
	v[CONFIG_S_MGMTIDS].nids = 0;
	c->tunnels_file = take(&v[CONFIG_S_TUNNELSFILE]);
	c->visitor_grace_ms = v[CONFIG_S_GRACE].u;
	c->keepalive_ms = v[CONFIG_S_KEEPALIVE].u;
	c->dead_peer_ms = v[CONFIG_S_DEADPEER].u;
	c->handshake_timeout_ms = v[CONFIG_S_HANDSHAKE].u;
	c->stream_open_timeout_ms = v[CONFIG_S_OPEN].u;
	c->sni_peek_timeout_ms = v[CONFIG_S_SNIPEEK].u;
	c->recv_window = v[CONFIG_S_WINDOW].u;
	c->max_visitors_per_listener = v[CONFIG_S_MAXVIS].u;
	c->memory_limit_mib = v[CONFIG_S_MEMLIMIT].u;
	c->max_preauth = v[CONFIG_S_PREAUTH].u;
	c->max_preauth_per_source = v[CONFIG_S_PREAUTHSRC].u;
	c->max_mgmt_conns = v[CONFIG_S_MGMTCONNS].u;
	c->max_client_entries = v[CONFIG_S_MAXCLIENTS].u;
	return c;
}

struct config_server *config_server_parse(const char *name, const char *text, size_t len,
					  char err[CONFIG_ERRLEN])
{
	char scratch[CONFIG_ERRLEN];
	struct config_json_doc p = { name ? name : "config", "", 0, err ? err : scratch,
				     CONFIG_ERRLEN };
	struct config_val v[CONFIG_S_NKEYS];
	struct config_server *c = NULL;
	uint16_t ctrl = 0, mgmt = 0;
	memset(v, 0, sizeof(v));
	p.err[0] = '\0';

	json_t *root = parse_doc(&p, text, len, &config_server_role, v, &config_client_role);
	if (root == NULL || server_ports(&p, v, &ctrl, &mgmt) != 0 ||
	    check_tls_keys(&p, v, &config_server_role, CONFIG_S_USETLS, CONFIG_S_KEY,
			   CONFIG_S_CERT, CONFIG_S_CAFILE, CONFIG_S_CAGLOB) != 0)
		goto out;
	c = server_build(v, ctrl, mgmt);
	if (c == NULL)
		fail(&p, NULL, 0, AT_NONE, false, "out of memory");
out:
	for (size_t i = 0; i < CONFIG_S_NKEYS; i++)
		config_val_free(&v[i]);
	json_decref(root);
	return c;
}

/* ------------------------------------------------------------------ */
/* Client. */

/* Server address: ServerAddr (later) or ServerHost +
 * ServerTunnelControlPort (4b75a35), never both. 0, or -1 with the error
 * set. */
static int client_server_addr(const struct config_json_doc *p, const struct config_val *v)
{
	const struct config_val *sa = &v[CONFIG_C_SERVERADDR], *sh = &v[CONFIG_C_SERVERHOST];
	const struct config_val *sp = &v[CONFIG_C_SERVERPORT];
	if (sa->present && (sh->present || sp->present))
		return fail_key(p, sa, AT_KEY,
				"cannot be combined with %s (ServerAddr replaced ServerHost and ServerTunnelControlPort)",
				sh->present ? sh->key : sp->key);
	if (sa->present)
		return 0;
	if (sh->present && !sp->present)
		return fail_key(p, sh, AT_KEY, "needs ServerTunnelControlPort");
	if (sp->present && !sh->present)
		return fail_key(p, sp, AT_KEY, "needs ServerHost");
	if (!sh->present)
		return fail(p, NULL, 0, AT_NONE, false,
			    "missing ServerAddr (or ServerHost and ServerTunnelControlPort)");
	return 0;
}

/* Moves the checked values into a new config; NULL when out of memory. */
static struct config_client *client_build(struct config_val *v)
{
	struct config_client *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	struct config_val *sa = &v[CONFIG_C_SERVERADDR];
	c->debug_log = v[CONFIG_C_DEBUG].b;
	c->client_id = take(&v[CONFIG_C_CLIENTID]);
	if (sa->present) {
		c->server_host = take(sa);
		c->server_port = sa->port;
	} else {
		c->server_host = take(&v[CONFIG_C_SERVERHOST]);
		c->server_port = (uint16_t)v[CONFIG_C_SERVERPORT].u;
	}
	c->use_tls = v[CONFIG_C_USETLS].b;
	c->ca_file = take(&v[CONFIG_C_CAFILE]);
	c->ca_glob = take(&v[CONFIG_C_CAGLOB]);
	c->tls_key_file = take(&v[CONFIG_C_KEY]);
	c->tls_cert_file = take(&v[CONFIG_C_CERT]);
	c->admin_socket = take(&v[CONFIG_C_ADMIN]);
	c->services = v[CONFIG_C_SERVICES].svc;
	c->n_services = v[CONFIG_C_SERVICES].nsvc;
	v[CONFIG_C_SERVICES].svc = NULL;
	v[CONFIG_C_SERVICES].nsvc = 0;
	c->retry_cap_ms = v[CONFIG_C_RETRY].u;
	c->keepalive_ms = v[CONFIG_C_KEEPALIVE].u;
	c->dead_peer_ms = v[CONFIG_C_DEADPEER].u;
	c->connect_timeout_ms = v[CONFIG_C_CONNECT].u;
	c->dial_timeout_ms = v[CONFIG_C_DIAL].u;
	c->recv_window = v[CONFIG_C_WINDOW].u;
	c->memory_limit_mib = v[CONFIG_C_MEMLIMIT].u;
	return c;
}

struct config_client *config_client_parse(const char *name, const char *text, size_t len,
					  char err[CONFIG_ERRLEN])
{
	char scratch[CONFIG_ERRLEN];
	struct config_json_doc p = { name ? name : "config", "", 0, err ? err : scratch,
				     CONFIG_ERRLEN };
	struct config_val v[CONFIG_C_NKEYS];
	struct config_client *c = NULL;
	memset(v, 0, sizeof(v));
	p.err[0] = '\0';

	json_t *root = parse_doc(&p, text, len, &config_client_role, v, &config_server_role);
	if (root == NULL)
		goto out;
	if (!v[CONFIG_C_CLIENTID].present) {
		fail(&p, NULL, 0, AT_NONE, false, "missing ClientIdentifier");
		goto out;
	}
	if (client_server_addr(&p, v) != 0 ||
	    check_tls_keys(&p, v, &config_client_role, CONFIG_C_USETLS, CONFIG_C_KEY,
			   CONFIG_C_CERT, CONFIG_C_CAFILE, CONFIG_C_CAGLOB) != 0)
		goto out;
	c = client_build(v);
	if (c == NULL)
		fail(&p, NULL, 0, AT_NONE, false, "out of memory");
out:
	for (size_t i = 0; i < CONFIG_C_NKEYS; i++)
		config_val_free(&v[i]);
	json_decref(root);
	return c;
}

/* ------------------------------------------------------------------ */
/* Files and lifetime. */

/* Reads the file with file_read_capped (at most CONFIG_MAX_BYTES + 1
 * bytes read; its messages are ours: "PATH: cannot open: ...", "PATH: is
 * a directory", "PATH: larger than N bytes", "PATH: cannot read: ...").
 * Caller frees. */
static char *read_config(const char *path, size_t *len, char *err)
{
	char ferr[FILE_ERRLEN];
	char *text = file_read_capped(path, CONFIG_MAX_BYTES, len, NULL, ferr);
	if (text == NULL)
		snprintf(err, CONFIG_ERRLEN, "%s", ferr);
	return text;
}

struct config_server *config_server_load(const char *path, char err[CONFIG_ERRLEN])
{
	char scratch[CONFIG_ERRLEN];
	size_t len;
	char *text = read_config(path, &len, err ? err : scratch);
	if (text == NULL)
		return NULL;
	struct config_server *c = config_server_parse(path, text, len, err);
	free(text);
	return c;
}

struct config_client *config_client_load(const char *path, char err[CONFIG_ERRLEN])
{
	char scratch[CONFIG_ERRLEN];
	size_t len;
	char *text = read_config(path, &len, err ? err : scratch);
	if (text == NULL)
		return NULL;
	struct config_client *c = config_client_parse(path, text, len, err);
	free(text);
	return c;
}

void config_server_free(struct config_server *c)
{
	if (c == NULL)
		return;
	free(c->listen_address);
	free(c->mgmt_address);
	free(c->ca_file);
	free(c->ca_glob);
	free(c->tls_key_file);
	free(c->tls_cert_file);
	free(c->domain);
	for (size_t i = 0; i < c->n_mgmt_client_ids; i++)
		free(c->mgmt_client_ids[i]);
	free(c->mgmt_client_ids);
	free(c->tunnels_file);
	free(c);
}

void config_client_free(struct config_client *c)
{
	if (c == NULL)
		return;
	free(c->client_id);
	free(c->server_host);
	free(c->ca_file);
	free(c->ca_glob);
	free(c->tls_key_file);
	free(c->tls_cert_file);
	free(c->admin_socket);
	for (size_t i = 0; i < c->n_services; i++) {
		free(c->services[i].name);
		free(c->services[i].host);
	}
	free(c->services);
	free(c);
}

const struct config_service *config_client_service(const struct config_client *c, const char *name)
{
	if (c == NULL || name == NULL || c->n_services == 0)
		return NULL;
	struct config_service key = { .name = (char *)name };
	return bsearch(&key, c->services, c->n_services, sizeof(*c->services), config_service_cmp);
}
