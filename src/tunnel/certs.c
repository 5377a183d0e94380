/*
 * certs: see certs.h. OpenSSL 3 APIs only; every object is freed on every
 * path (goto unwinding).
 */
#include "tunnel/certs.h"

#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "base/file.h"
#include "base/sock.h"

static void set_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* err = the text plus OpenSSL's last error, if any. */
static void set_err(char *err, const char *fmt, ...)
{
	unsigned long e = ERR_peek_last_error();
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, CERTS_ERRLEN, fmt, ap);
	va_end(ap);
	if (e) {
		char ossl[200];
		ERR_error_string_n(e, ossl, sizeof(ossl));
		size_t n = strlen(err);
		snprintf(err + n, CERTS_ERRLEN - n, " (%s)", ossl);
	}
	ERR_clear_error();
}

/* ---- names ---- */

bool certs_id_ok(const char *id)
{
	size_t n = strlen(id);
	if (n == 0 || n > CERTS_CN_MAX || id[0] == '.' || id[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)id[i];
		if (c <= 0x20 || c >= 0x7f || strchr("/\\@\"'*?[]{},", c) != NULL)
			return false;
	}
	return true;
}

bool certs_dns_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 253 || name[0] == '.' || name[n - 1] == '.' || strstr(name, "..") != NULL)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = name[i];
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			  c == '.' || (c == '*' && i == 0 && name[1] == '.');
		if (!ok)
			return false;
	}
	return true;
}

static bool ip_ok(const char *ip)
{
	unsigned char tmp[16];
	return inet_pton(AF_INET, ip, tmp) == 1 || inet_pton(AF_INET6, ip, tmp) == 1;
}

/* ---- certificates ---- */

EVP_PKEY *certs_key_new(void)
{
	return EVP_EC_gen("P-256");
}

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	X509_EXTENSION *ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (ext == NULL)
		return -1;
	int rc = X509_add_ext(x, ext, -1) == 1 ? 0 : -1;
	X509_EXTENSION_free(ext);
	return rc;
}

/* Version 3, a random positive 159-bit serial, validity from an hour ago
 * (clock skew) to `days` from now, subject CN (and O for the CA), key. */
static X509 *cert_base(EVP_PKEY *key, const char *cn, const char *org, unsigned days, char *err)
{
	X509 *x = X509_new();
	BIGNUM *bn = BN_new();
	if (x == NULL || bn == NULL)
		goto fail;
	if (X509_set_version(x, X509_VERSION_3) != 1 || BN_rand(bn, 159, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) == NULL)
		goto fail;
	if (X509_gmtime_adj(X509_getm_notBefore(x), -3600) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(x), (int)days, 0, NULL) == NULL)
		goto fail;
	X509_NAME *name = X509_get_subject_name(x);
	if (org && X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, (const unsigned char *)org, -1, -1, 0) != 1)
		goto fail;
	if (X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1, -1, 0) != 1) {
		set_err(err, "CommonName \"%s\" cannot be used", cn);
		BN_free(bn);
		X509_free(x);
		return NULL;
	}
	if (X509_set_pubkey(x, key) != 1)
		goto fail;
	BN_free(bn);
	return x;
fail:
	set_err(err, "cannot build the certificate for \"%s\"", cn);
	BN_free(bn);
	X509_free(x);
	return NULL;
}

X509 *certs_ca_new(EVP_PKEY *key, const char *cn, unsigned days, char err[CERTS_ERRLEN])
{
	X509 *x = cert_base(key, cn, "threshold", days, err);
	if (x == NULL)
		return NULL;
	if (X509_set_issuer_name(x, X509_get_subject_name(x)) != 1 ||
	    add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") != 0 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") != 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") != 0 ||
	    X509_sign(x, key, EVP_sha256()) <= 0) {
		set_err(err, "cannot make the CA certificate");
		X509_free(x);
		return NULL;
	}
	return x;
}

static int add_san(X509 *x, const char *const *dns, size_t ndns, const char *const *ips, size_t nips, char *err)
{
	GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
	int rc = -1;
	if (gens == NULL)
		goto out;
	for (size_t i = 0; i < ndns; i++) {
		GENERAL_NAME *g = GENERAL_NAME_new();
		ASN1_IA5STRING *s = ASN1_IA5STRING_new();
		if (g == NULL || s == NULL || ASN1_STRING_set(s, dns[i], -1) != 1) {
			GENERAL_NAME_free(g);
			ASN1_IA5STRING_free(s);
			goto out;
		}
		GENERAL_NAME_set0_value(g, GEN_DNS, s);
		if (sk_GENERAL_NAME_push(gens, g) <= 0) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	for (size_t i = 0; i < nips; i++) {
		ASN1_OCTET_STRING *o = ip_ok(ips[i]) ? a2i_IPADDRESS(ips[i]) : NULL;
		if (o == NULL) {
			ERR_clear_error();
			snprintf(err, CERTS_ERRLEN, "\"%s\" is not an IP address", ips[i]);
			rc = -2;
			goto out;
		}
		GENERAL_NAME *g = GENERAL_NAME_new();
		if (g == NULL) {
			ASN1_OCTET_STRING_free(o);
			goto out;
		}
		GENERAL_NAME_set0_value(g, GEN_IPADD, o);
		if (sk_GENERAL_NAME_push(gens, g) <= 0) {
			GENERAL_NAME_free(g);
			goto out;
		}
	}
	if (X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1)
		rc = 0;
out:
	GENERAL_NAMES_free(gens);
	if (rc == -1)
		set_err(err, "cannot add the subject alternative names");
	return rc == 0 ? 0 : -1;
}

X509 *certs_leaf_new(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, enum certs_kind kind, const char *cn,
		     const char *const *dns, size_t ndns, const char *const *ips, size_t nips, unsigned days,
		     char err[CERTS_ERRLEN])
{
	if (kind == CERTS_SERVER && ndns + nips == 0) {
		snprintf(err, CERTS_ERRLEN, "a server certificate needs at least one name or IP address");
		return NULL;
	}
	X509 *x = cert_base(key, cn, NULL, days, err);
	if (x == NULL)
		return NULL;
	if (X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1 ||
	    add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") != 0 ||
	    add_ext(x, ca, NID_key_usage, "critical,digitalSignature") != 0 ||
	    add_ext(x, ca, NID_ext_key_usage, kind == CERTS_SERVER ? "serverAuth" : "clientAuth") != 0 ||
	    add_ext(x, ca, NID_subject_key_identifier, "hash") != 0 ||
	    add_ext(x, ca, NID_authority_key_identifier, "keyid:always") != 0) {
		set_err(err, "cannot add the extensions of \"%s\"", cn);
		X509_free(x);
		return NULL;
	}
	if (ndns + nips > 0 && add_san(x, dns, ndns, ips, nips, err) != 0) {
		X509_free(x);
		return NULL;
	}
	if (X509_sign(x, ca_key, EVP_sha256()) <= 0) {
		set_err(err, "cannot sign the certificate of \"%s\"", cn);
		X509_free(x);
		return NULL;
	}
	return x;
}

/* ---- files ---- */

/* out = dir/name; -1 when it does not fit. */
static int join(char *out, size_t cap, const char *dir, const char *name)
{
	int n = snprintf(out, cap, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= cap ? -1 : 0;
}

struct out_file {
	char name[160]; /* relative to the directory */
	mode_t mode;
	/* exactly one of: */
	EVP_PKEY *key;
	X509 *cert, *chain_ca; /* cert, then chain_ca (if any) */
	char *text;
};

/* The fill function for file_write_atomic_fn: the PEM writers or the
 * text. */
static int write_payload(FILE *f, void *arg)
{
	const struct out_file *of = arg;
	if (of->key)
		return PEM_write_PrivateKey(f, of->key, NULL, NULL, 0, NULL, NULL) == 1 ? 0 : -1;
	if (of->cert) {
		if (PEM_write_X509(f, of->cert) != 1)
			return -1;
		if (of->chain_ca && PEM_write_X509(f, of->chain_ca) != 1)
			return -1;
		return 0;
	}
	return fputs(of->text, f) >= 0 ? 0 : -1;
}

/* Writes dir/name with file_write_atomic_fn (a temporary file given its
 * mode before anything is written, fsync'ed and renamed into place). An
 * OpenSSL failure is reported with OpenSSL's reason. */
static int write_file(const char *dir, const struct out_file *of, char *err)
{
	char path[PATH_MAX], ferr[FILE_ERRLEN];
	if (join(path, sizeof(path), dir, of->name) != 0) {
		snprintf(err, CERTS_ERRLEN, "%.300s/%s: path too long", dir, of->name);
		return -1;
	}
	ERR_clear_error();
	if (file_write_atomic_fn(path, of->mode, write_payload, (void *)of, ferr) == 0)
		return 0;
	if (ERR_peek_last_error())
		set_err(err, "%.400s: cannot write", path);
	else
		snprintf(err, CERTS_ERRLEN, "%s", ferr);
	return -1;
}

/* A path as a glob pattern that matches only itself. */
static char *glob_escape(const char *s)
{
	size_t n = strlen(s);
	char *o = malloc(2 * n + 1), *p = o;
	if (o == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (strchr("*?[]\\", s[i]) != NULL)
			*p++ = '\\';
		*p++ = s[i];
	}
	*p = '\0';
	return o;
}

static char *dump_json(json_t *j)
{
	char *s = j ? json_dumps(j, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
	json_decref(j);
	if (s == NULL)
		return NULL;
	size_t n = strlen(s);
	char *t = realloc(s, n + 2);
	if (t == NULL) {
		free(s);
		return NULL;
	}
	t[n] = '\n';
	t[n + 1] = '\0';
	return t;
}

static json_t *jpath(const char *dir, const char *name)
{
	char p[PATH_MAX];
	return join(p, sizeof(p), dir, name) == 0 ? json_string(p) : NULL;
}

static char *server_config(const struct certs_opts *o, const char *absdir, const char *domain, uint16_t port,
			   const char *ca_glob)
{
	json_t *j = json_object();
	json_object_set_new(j, "DebugLog", json_false());
	json_object_set_new(j, "ListenPort", json_integer(port));
	json_object_set_new(j, "Domain", json_string(domain));
	json_object_set_new(j, "UseTls", json_true());
	json_object_set_new(j, "CaCertificateFilesGlob", json_string(ca_glob));
	json_object_set_new(j, "ServerTlsKeyFile", jpath(absdir, "server.key"));
	json_object_set_new(j, "ServerTlsCertificateFile", jpath(absdir, "server+chain.crt"));
	if (o->admin) {
		json_t *a = json_array();
		json_array_append_new(a, json_string(o->admin));
		json_object_set_new(j, "ManagementClientIds", a);
	}
	return dump_json(j);
}

static char *client_config(const char *id, const char *domain, const char *absdir, const char *server_addr,
			   const char *ca_glob)
{
	char key[PATH_MAX], crt[PATH_MAX];
	snprintf(key, sizeof(key), "%s@%s.key", id, domain);
	snprintf(crt, sizeof(crt), "%s@%s+chain.crt", id, domain);
	json_t *j = json_object();
	json_object_set_new(j, "DebugLog", json_false());
	json_object_set_new(j, "ClientIdentifier", json_string(id));
	json_object_set_new(j, "ServerAddr", json_string(server_addr));
	json_object_set_new(j, "UseTls", json_true());
	json_object_set_new(j, "CaCertificateFilesGlob", json_string(ca_glob));
	json_object_set_new(j, "ClientTlsKeyFile", jpath(absdir, key));
	json_object_set_new(j, "ClientTlsCertificateFile", jpath(absdir, crt));
	json_object_set_new(j, "ServiceToLocalAddrMap", json_object());
	return dump_json(j);
}

static int check_opts(const struct certs_opts *o, const char *domain, char *err)
{
	if (o->dir == NULL || o->dir[0] == '\0') {
		snprintf(err, CERTS_ERRLEN, "no directory given");
		return -1;
	}
	if (!certs_dns_ok(domain) || strchr(domain, '*') != NULL) {
		snprintf(err, CERTS_ERRLEN, "domain \"%s\" is not a DNS name", domain);
		return -1;
	}
	for (size_t i = 0; i < o->n_server_names; i++) {
		if (!certs_dns_ok(o->server_names[i])) {
			snprintf(err, CERTS_ERRLEN, "server name \"%s\" is not a DNS name (use --server-ip for addresses)",
				 o->server_names[i]);
			return -1;
		}
	}
	for (size_t i = 0; i < o->n_server_ips; i++) {
		if (!ip_ok(o->server_ips[i])) {
			snprintf(err, CERTS_ERRLEN, "server IP \"%s\" is not an IPv4 or IPv6 address", o->server_ips[i]);
			return -1;
		}
	}
	if (o->n_server_names + o->n_server_ips == 0) {
		snprintf(err, CERTS_ERRLEN, "no server name or IP address");
		return -1;
	}
	size_t ids = o->n_clients + (o->admin ? 1 : 0);
	for (size_t i = 0; i < ids; i++) {
		const char *id = i < o->n_clients ? o->clients[i] : o->admin;
		if (!certs_id_ok(id)) {
			snprintf(err, CERTS_ERRLEN,
				 "client id \"%s\" cannot be used (1-64 printable characters, none of space / \\ @ \" ' "
				 "* ? [ ] { } , and not starting with . or -)",
				 id);
			return -1;
		}
		if (strlen(id) + 1 + strlen(domain) > CERTS_CN_MAX) {
			snprintf(err, CERTS_ERRLEN, "\"%s@%s\" is longer than a CommonName may be (%d characters)", id,
				 domain, CERTS_CN_MAX);
			return -1;
		}
		for (size_t k = 0; k < i; k++) {
			const char *other = k < o->n_clients ? o->clients[k] : o->admin;
			if (strcmp(other, id) == 0) {
				snprintf(err, CERTS_ERRLEN,
					 i >= o->n_clients ? "the admin id \"%s\" is also a --client: give the "
							     "management certificate its own id"
							   : "client id \"%s\" given twice",
					 id);
				return -1;
			}
		}
	}
	return 0;
}

/* The directory: created 0700 when missing; an existing one must be a
 * directory. Its absolute path into abs. */
static int prepare_dir(const char *dir, char abs[PATH_MAX], char *err)
{
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, CERTS_ERRLEN, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	struct stat st;
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, CERTS_ERRLEN, "%s is not a directory", dir);
		return -1;
	}
	if (realpath(dir, abs) == NULL) {
		snprintf(err, CERTS_ERRLEN, "%s: %s", dir, strerror(errno));
		return -1;
	}
	return 0;
}

/* The set being made: every file's name and mode, then its content. */
struct fileset {
	struct out_file *files;
	size_t n;
	size_t nids; /* tunnel clients + the admin */
	const char *domain;
};

/* The id of leaf i (0-based, after the server's): a tunnel client or the
 * admin. */
static const char *leaf_id(const struct certs_opts *o, size_t i)
{
	return i < o->n_clients ? o->clients[i] : o->admin;
}

/* Names and modes, in the order certs.h lists them: ca.key ca.crt
 * server.key server+chain.crt, per id a key and a chain, server-config.json,
 * a config per tunnel client. */
static void name_files(const struct certs_opts *o, struct fileset *fs)
{
	struct out_file *f = fs->files;
	size_t k = 0;
#define NAME(mode_, ...) \
	(snprintf(f[k].name, sizeof(f[k].name), __VA_ARGS__), f[k++].mode = (mode_))
	NAME(0600, "ca.key");
	NAME(0644, "ca.crt");
	NAME(0600, "server.key");
	NAME(0644, "server+chain.crt");
	for (size_t i = 0; i < fs->nids; i++) {
		NAME(0600, "%s@%s.key", leaf_id(o, i), fs->domain);
		NAME(0644, "%s@%s+chain.crt", leaf_id(o, i), fs->domain);
	}
	NAME(0644, "server-config.json");
	for (size_t i = 0; i < o->n_clients; i++)
		NAME(0644, "client-%s-config.json", o->clients[i]);
#undef NAME
}

/* Without --force, any file of the set that exists stops everything
 * before a key is made. */
static int check_existing(const char *abs, const struct fileset *fs, char *err)
{
	for (size_t i = 0; i < fs->n; i++) {
		char p[PATH_MAX];
		struct stat st;
		if (join(p, sizeof(p), abs, fs->files[i].name) != 0) {
			snprintf(err, CERTS_ERRLEN, "%.400s: path too long", abs);
			return -1;
		}
		if (lstat(p, &st) == 0) {
			snprintf(err, CERTS_ERRLEN,
				 "%.400s exists; nothing written (--force replaces the files)", p);
			return -1;
		}
	}
	return 0;
}

/* The CA key and certificate into files[0] and files[1] (which hold their
 * own references); *ca_key and *ca are the caller's. */
static int make_ca(struct fileset *fs, unsigned days, EVP_PKEY **ca_key, X509 **ca, char *err)
{
	char cn[CERTS_CN_MAX + 1];
	snprintf(cn, sizeof(cn), "threshold CA %.*s", CERTS_CN_MAX - 13, fs->domain);
	*ca_key = certs_key_new();
	if (*ca_key == NULL) {
		set_err(err, "cannot make an ECDSA P-256 key");
		return -1;
	}
	*ca = certs_ca_new(*ca_key, cn, days, err);
	if (*ca == NULL)
		return -1;
	fs->files[0].key = *ca_key;
	EVP_PKEY_up_ref(*ca_key);
	fs->files[1].cert = *ca;
	X509_up_ref(*ca);
	return 0;
}

/* Server and clients: a key and a leaf (+ the CA) each. */
static int make_leaves(const struct certs_opts *o, struct fileset *fs, unsigned days, X509 *ca,
		       EVP_PKEY *ca_key, char *err)
{
	for (size_t i = 0; i < 1 + fs->nids; i++) {
		struct out_file *kf = &fs->files[2 + 2 * i], *cf = &fs->files[3 + 2 * i];
		EVP_PKEY *key = certs_key_new();
		if (key == NULL) {
			set_err(err, "cannot make an ECDSA P-256 key");
			return -1;
		}
		kf->key = key;
		char cn[CERTS_CN_MAX + 1];
		X509 *leaf;
		if (i == 0) {
			snprintf(cn, sizeof(cn), "%s",
				 o->n_server_names ? o->server_names[0] : o->server_ips[0]);
			leaf = certs_leaf_new(key, ca, ca_key, CERTS_SERVER, cn, o->server_names,
					      o->n_server_names, o->server_ips, o->n_server_ips, days, err);
		} else {
			snprintf(cn, sizeof(cn), "%s@%s", leaf_id(o, i - 1), fs->domain);
			leaf = certs_leaf_new(key, ca, ca_key, CERTS_CLIENT, cn, NULL, 0, NULL, 0, days,
					      err);
		}
		if (leaf == NULL)
			return -1;
		cf->cert = leaf;
		cf->chain_ca = ca;
		X509_up_ref(ca);
	}
	return 0;
}

/* The server config and one config per tunnel client. */
static int make_configs(const struct certs_opts *o, struct fileset *fs, const char *abs,
			uint16_t port, char *err)
{
	char ca_path[PATH_MAX + 8];
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", abs);
	char *ca_glob = glob_escape(ca_path);
	char host[300];
	sock_join_hostport(o->n_server_names ? o->server_names[0] : o->server_ips[0], port, host,
			   sizeof(host));
	size_t k = 4 + 2 * fs->nids;
	int rc = -1;
	fs->files[k].text = ca_glob ? server_config(o, abs, fs->domain, port, ca_glob) : NULL;
	if (fs->files[k].text == NULL)
		goto out;
	for (size_t i = 0; i < o->n_clients; i++) {
		fs->files[k + 1 + i].text = client_config(o->clients[i], fs->domain, abs, host, ca_glob);
		if (fs->files[k + 1 + i].text == NULL)
			goto out;
	}
	rc = 0;
out:
	if (rc != 0)
		snprintf(err, CERTS_ERRLEN, "out of memory");
	free(ca_glob);
	return rc;
}

static int write_all(const char *abs, const struct fileset *fs,
		     void (*logf)(void *ud, const char *line), void *ud, char *err)
{
	for (size_t i = 0; i < fs->n; i++) {
		if (write_file(abs, &fs->files[i], err) != 0)
			return -1;
		if (logf) {
			char line[PATH_MAX + sizeof(fs->files[i].name) + 16];
			snprintf(line, sizeof(line), "wrote %s/%s (%04o)", abs, fs->files[i].name,
				 (unsigned)fs->files[i].mode);
			logf(ud, line);
		}
	}
	return 0;
}

int certs_make(const struct certs_opts *o, void (*logf)(void *ud, const char *line), void *ud,
	       char err[CERTS_ERRLEN])
{
	uint16_t port = o->port ? o->port : CERTS_DEFAULT_PORT;
	unsigned ca_days = o->ca_days ? o->ca_days : CERTS_CA_DAYS;
	unsigned leaf_days = o->leaf_days ? o->leaf_days : CERTS_LEAF_DAYS;
	struct fileset fs = { NULL, 0, o->n_clients + (o->admin ? 1 : 0),
			      o->domain ? o->domain : CERTS_DEFAULT_DOMAIN };
	EVP_PKEY *ca_key = NULL;
	X509 *ca = NULL;
	int rc = -1;
	char abs[PATH_MAX];

	if (check_opts(o, fs.domain, err) != 0)
		return -1;
	fs.n = 5 + 2 * fs.nids + o->n_clients;
	fs.files = calloc(fs.n, sizeof(*fs.files));
	if (fs.files == NULL) {
		snprintf(err, CERTS_ERRLEN, "out of memory");
		return -1;
	}
	/* Names first: an existing file stops everything before any work. */
	name_files(o, &fs);
	if (prepare_dir(o->dir, abs, err) != 0 || (!o->force && check_existing(abs, &fs, err) != 0) ||
	    make_ca(&fs, ca_days, &ca_key, &ca, err) != 0 ||
	    make_leaves(o, &fs, leaf_days, ca, ca_key, err) != 0 ||
	    make_configs(o, &fs, abs, port, err) != 0 || write_all(abs, &fs, logf, ud, err) != 0)
		goto out;
	rc = 0;
out:
	for (size_t i = 0; i < fs.n; i++) {
		EVP_PKEY_free(fs.files[i].key);
		X509_free(fs.files[i].cert);
		X509_free(fs.files[i].chain_ca);
		free(fs.files[i].text);
	}
	free(fs.files);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return rc;
}
