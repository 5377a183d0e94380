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
	char name[160];		/* relative to the directory */
	mode_t mode;
	/* exactly one of: */
	EVP_PKEY *key;
	X509 *cert, *chain_ca;	/* cert, then chain_ca (if any) */
	char *text;
};

static int write_payload(FILE *f, const struct out_file *of)
{
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

/* Writes dir/name through a temporary file (created 0600, then given its
 * mode) renamed into place. */
static int write_file(const char *dir, const struct out_file *of, char *err)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s/%s", dir, of->name) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, of->name) >= (int)sizeof(tmp)) {
		snprintf(err, CERTS_ERRLEN, "%.300s/%s: path too long", dir, of->name);
		return -1;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		snprintf(err, CERTS_ERRLEN, "%.400s: %s", path, strerror(errno));
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		snprintf(err, CERTS_ERRLEN, "%.400s: %s", path, strerror(errno));
		close(fd);
		unlink(tmp);
		return -1;
	}
	int rc = fchmod(fd, of->mode) == 0 ? write_payload(f, of) : -1;
	if (rc == 0 && (fflush(f) != 0 || fsync(fd) != 0))
		rc = -1;
	int saved = errno;
	if (fclose(f) != 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = -1;
		saved = errno;
	}
	if (rc != 0) {
		unlink(tmp);
		if (ERR_peek_last_error())
			set_err(err, "%.400s: cannot write", path);
		else
			snprintf(err, CERTS_ERRLEN, "%.400s: %s", path, strerror(saved));
	}
	return rc;
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

int certs_make(const struct certs_opts *o, void (*logf)(void *ud, const char *line), void *ud,
	       char err[CERTS_ERRLEN])
{
	const char *domain = o->domain ? o->domain : CERTS_DEFAULT_DOMAIN;
	uint16_t port = o->port ? o->port : CERTS_DEFAULT_PORT;
	unsigned ca_days = o->ca_days ? o->ca_days : CERTS_CA_DAYS;
	unsigned leaf_days = o->leaf_days ? o->leaf_days : CERTS_LEAF_DAYS;
	size_t nids = o->n_clients + (o->admin ? 1 : 0);
	/* ca.key ca.crt server.key server+chain.crt server-config.json, then
	 * per id a key and a chain, and a config per tunnel client. */
	size_t nfiles = 5 + 2 * nids + o->n_clients;
	struct out_file *files = NULL;
	EVP_PKEY *ca_key = NULL;
	X509 *ca = NULL;
	char *ca_glob = NULL;
	int rc = -1;
	char abs[PATH_MAX];

	if (check_opts(o, domain, err) != 0)
		return -1;
	files = calloc(nfiles, sizeof(*files));
	if (files == NULL) {
		snprintf(err, CERTS_ERRLEN, "out of memory");
		return -1;
	}
	/* Names first: an existing file stops everything before any work. */
	size_t k = 0;
	snprintf(files[k].name, sizeof(files[k].name), "ca.key"), files[k++].mode = 0600;
	snprintf(files[k].name, sizeof(files[k].name), "ca.crt"), files[k++].mode = 0644;
	snprintf(files[k].name, sizeof(files[k].name), "server.key"), files[k++].mode = 0600;
	snprintf(files[k].name, sizeof(files[k].name), "server+chain.crt"), files[k++].mode = 0644;
	for (size_t i = 0; i < nids; i++) {
		const char *id = i < o->n_clients ? o->clients[i] : o->admin;
		snprintf(files[k].name, sizeof(files[k].name), "%s@%s.key", id, domain), files[k++].mode = 0600;
		snprintf(files[k].name, sizeof(files[k].name), "%s@%s+chain.crt", id, domain), files[k++].mode = 0644;
	}
	snprintf(files[k].name, sizeof(files[k].name), "server-config.json"), files[k++].mode = 0644;
	for (size_t i = 0; i < o->n_clients; i++)
		snprintf(files[k].name, sizeof(files[k].name), "client-%s-config.json", o->clients[i]),
			files[k++].mode = 0644;

	if (prepare_dir(o->dir, abs, err) != 0)
		goto out;
	if (!o->force) {
		for (size_t i = 0; i < nfiles; i++) {
			char p[PATH_MAX];
			struct stat st;
			if (join(p, sizeof(p), abs, files[i].name) != 0) {
				snprintf(err, CERTS_ERRLEN, "%.400s: path too long", abs);
				goto out;
			}
			if (lstat(p, &st) == 0) {
				snprintf(err, CERTS_ERRLEN, "%.400s exists; nothing written (--force replaces the files)", p);
				goto out;
			}
		}
	}

	/* The CA. */
	char ca_cn[CERTS_CN_MAX + 1];
	snprintf(ca_cn, sizeof(ca_cn), "threshold CA %.*s", CERTS_CN_MAX - 13, domain);
	ca_key = certs_key_new();
	if (ca_key == NULL) {
		set_err(err, "cannot make an ECDSA P-256 key");
		goto out;
	}
	ca = certs_ca_new(ca_key, ca_cn, ca_days, err);
	if (ca == NULL)
		goto out;
	files[0].key = ca_key;
	EVP_PKEY_up_ref(ca_key);
	files[1].cert = ca;
	X509_up_ref(ca);

	/* Server and clients: key, leaf + CA. */
	for (size_t i = 0; i < 1 + nids; i++) {
		struct out_file *kf = &files[2 + 2 * i], *cf = &files[3 + 2 * i];
		EVP_PKEY *key = certs_key_new();
		if (key == NULL) {
			set_err(err, "cannot make an ECDSA P-256 key");
			goto out;
		}
		kf->key = key;
		char cn[CERTS_CN_MAX + 1];
		X509 *leaf;
		if (i == 0) {
			snprintf(cn, sizeof(cn), "%s", o->n_server_names ? o->server_names[0] : o->server_ips[0]);
			leaf = certs_leaf_new(key, ca, ca_key, CERTS_SERVER, cn, o->server_names, o->n_server_names,
					      o->server_ips, o->n_server_ips, leaf_days, err);
		} else {
			const char *id = i - 1 < o->n_clients ? o->clients[i - 1] : o->admin;
			snprintf(cn, sizeof(cn), "%s@%s", id, domain);
			leaf = certs_leaf_new(key, ca, ca_key, CERTS_CLIENT, cn, NULL, 0, NULL, 0, leaf_days, err);
		}
		if (leaf == NULL)
			goto out;
		cf->cert = leaf;
		cf->chain_ca = ca;
		X509_up_ref(ca);
	}

	/* Configs. */
	char ca_path[PATH_MAX + 8];
	snprintf(ca_path, sizeof(ca_path), "%s/ca.crt", abs);
	ca_glob = glob_escape(ca_path);
	char host[300];
	const char *h0 = o->n_server_names ? o->server_names[0] : o->server_ips[0];
	if (strchr(h0, ':') != NULL)
		snprintf(host, sizeof(host), "[%s]:%u", h0, port);
	else
		snprintf(host, sizeof(host), "%s:%u", h0, port);
	k = 4 + 2 * nids;
	files[k].text = ca_glob ? server_config(o, abs, domain, port, ca_glob) : NULL;
	if (files[k].text == NULL) {
		snprintf(err, CERTS_ERRLEN, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < o->n_clients; i++) {
		files[k + 1 + i].text = client_config(o->clients[i], domain, abs, host, ca_glob);
		if (files[k + 1 + i].text == NULL) {
			snprintf(err, CERTS_ERRLEN, "out of memory");
			goto out;
		}
	}

	for (size_t i = 0; i < nfiles; i++) {
		if (write_file(abs, &files[i], err) != 0)
			goto out;
		if (logf) {
			char line[PATH_MAX + 64];
			snprintf(line, sizeof(line), "wrote %s/%s (%04o)", abs, files[i].name, (unsigned)files[i].mode);
			logf(ud, line);
		}
	}
	rc = 0;
out:
	if (files) {
		for (size_t i = 0; i < nfiles; i++) {
			EVP_PKEY_free(files[i].key);
			X509_free(files[i].cert);
			X509_free(files[i].chain_ca);
			free(files[i].text);
		}
	}
	free(files);
	free(ca_glob);
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return rc;
}

/* ---- command line ---- */

static void usage(FILE *out)
{
	fprintf(out,
		"usage: threshold certs --dir DIR [options]\n"
		"\n"
		"Makes a private CA, a server certificate, one client certificate per\n"
		"client id and an admin certificate for the management API, plus\n"
		"matching server and client config files, in DIR (created 0700).\n"
		"Keys are ECDSA P-256 (mode 0600); the CA is valid 10 years, the\n"
		"others 3 years. Existing files are not replaced without --force.\n"
		"\n"
		"options:\n"
		"  -d, --dir DIR          where the files go (required)\n"
		"  --server-name NAME     DNS name the clients dial (repeatable)\n"
		"  --server-ip IP         IP address the clients dial (repeatable)\n"
		"                         (none of both: localhost and 127.0.0.1)\n"
		"  --client ID            a tunnel client id (repeatable); its\n"
		"                         certificate says CN=ID@DOMAIN\n"
		"  --domain DOMAIN        the server's Domain (default %s)\n"
		"  --admin ID             id of the management certificate and the\n"
		"                         one ManagementClientIds entry (default %s)\n"
		"  --no-admin             no management certificate; the server then\n"
		"                         lets every CA-signed certificate manage\n"
		"  --port PORT            ListenPort and ServerAddr port (default %d)\n"
		"  --days N               validity of the leaves in days (default %u)\n"
		"  --ca-days N            validity of the CA in days (default %u)\n"
		"  --force                replace existing files\n"
		"  -h, --help             this text\n"
		"\n"
		"files (ID@DOMAIN for each client and the admin):\n"
		"  ca.crt ca.key                     the CA (keep ca.key offline)\n"
		"  server.key server+chain.crt       server key, certificate + CA\n"
		"  ID@DOMAIN.key ID@DOMAIN+chain.crt client key, certificate + CA\n"
		"  server-config.json                ListenPort, Domain, UseTls,\n"
		"                                    CaCertificateFilesGlob, key and\n"
		"                                    certificate, ManagementClientIds\n"
		"  client-ID-config.json             ServerAddr, UseTls, CA, key and\n"
		"                                    certificate; add your services to\n"
		"                                    its ServiceToLocalAddrMap\n"
		"\n"
		"example:\n"
		"  threshold certs --dir pki --server-name localhost --server-ip 127.0.0.1 \\\n"
		"      --client TestClient1\n"
		"  threshold server -c pki/server-config.json\n"
		"  threshold client -c pki/client-TestClient1-config.json\n"
		"  curl --cacert pki/ca.crt --cert pki/admin@example.com+chain.crt \\\n"
		"      --key pki/admin@example.com.key https://localhost:9056/clients\n",
		CERTS_DEFAULT_DOMAIN, CERTS_DEFAULT_ADMIN, CERTS_DEFAULT_PORT, CERTS_LEAF_DAYS, CERTS_CA_DAYS);
}

/* "--name VALUE" or "--name=VALUE" (also one dash). 1 on a match with
 * *val set, -1 when the value is missing, 0 otherwise. */
static int opt_value(int argc, char **argv, int *i, const char *name, const char **val)
{
	const char *a = argv[*i];
	if (a[0] != '-')
		return 0;
	a += a[1] == '-' ? 2 : 1;
	size_t n = strlen(name);
	if (strncmp(a, name, n) != 0)
		return 0;
	if (a[n] == '=') {
		*val = a + n + 1;
		return 1;
	}
	if (a[n] != '\0')
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*val = argv[++*i];
	return 1;
}

static bool opt_flag(const char *a, const char *name)
{
	if (a[0] != '-')
		return false;
	a += a[1] == '-' ? 2 : 1;
	return strcmp(a, name) == 0;
}

static bool parse_uint(const char *s, unsigned long max, unsigned long *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v == 0 || v > max)
		return false;
	*out = v;
	return true;
}

static void print_line(void *ud, const char *line)
{
	(void)ud;
	printf("%s\n", line);
}

int certs_main(int argc, char **argv)
{
	const char **names = calloc((size_t)argc + 1, sizeof(char *));
	const char **ips = calloc((size_t)argc + 1, sizeof(char *));
	const char **clients = calloc((size_t)argc + 1, sizeof(char *));
	struct certs_opts o = {.admin = CERTS_DEFAULT_ADMIN};
	int rc = 2;
	if (names == NULL || ips == NULL || clients == NULL) {
		fprintf(stderr, "threshold certs: out of memory\n");
		rc = 1;
		goto out;
	}
	o.server_names = names;
	o.server_ips = ips;
	o.clients = clients;
	for (int i = 0; i < argc; i++) {
		const char *v = NULL;
		int m;
		unsigned long u;
		if (opt_flag(argv[i], "h") || opt_flag(argv[i], "help")) {
			usage(stdout);
			rc = 0;
			goto out;
		}
		if (opt_flag(argv[i], "force")) {
			o.force = true;
			continue;
		}
		if (opt_flag(argv[i], "no-admin")) {
			o.admin = NULL;
			continue;
		}
#define VALUE(nm) ((m = opt_value(argc, argv, &i, nm, &v)) != 0)
		if (VALUE("d") || VALUE("dir")) {
			if (m > 0)
				o.dir = v;
		} else if (VALUE("server-name")) {
			if (m > 0)
				names[o.n_server_names++] = v;
		} else if (VALUE("server-ip")) {
			if (m > 0)
				ips[o.n_server_ips++] = v;
		} else if (VALUE("client")) {
			if (m > 0)
				clients[o.n_clients++] = v;
		} else if (VALUE("domain")) {
			if (m > 0)
				o.domain = v;
		} else if (VALUE("admin")) {
			if (m > 0)
				o.admin = v;
		} else if (VALUE("port")) {
			if (m > 0 && !parse_uint(v, 65535, &u)) {
				fprintf(stderr, "threshold certs: --port %s is not a port (1-65535)\n", v);
				goto out;
			}
			if (m > 0)
				o.port = (uint16_t)u;
		} else if (VALUE("days")) {
			if (m > 0 && !parse_uint(v, 36500, &u)) {
				fprintf(stderr, "threshold certs: --days %s is not a number of days (1-36500)\n", v);
				goto out;
			}
			if (m > 0)
				o.leaf_days = (unsigned)u;
		} else if (VALUE("ca-days")) {
			if (m > 0 && !parse_uint(v, 36500, &u)) {
				fprintf(stderr, "threshold certs: --ca-days %s is not a number of days (1-36500)\n", v);
				goto out;
			}
			if (m > 0)
				o.ca_days = (unsigned)u;
		} else if (argv[i][0] != '-' && o.dir == NULL) {
			o.dir = argv[i];
			continue;
		} else {
			fprintf(stderr, "threshold certs: unknown argument '%s' (see threshold certs --help)\n", argv[i]);
			goto out;
		}
#undef VALUE
		if (m < 0) {
			fprintf(stderr, "threshold certs: %s needs a value\n", argv[i]);
			goto out;
		}
	}
	if (o.dir == NULL) {
		fprintf(stderr, "threshold certs: missing --dir DIR (see threshold certs --help)\n");
		goto out;
	}
	if (o.n_server_names + o.n_server_ips == 0) {
		names[o.n_server_names++] = "localhost";
		ips[o.n_server_ips++] = "127.0.0.1";
	}
	char err[CERTS_ERRLEN];
	if (certs_make(&o, print_line, NULL, err) != 0) {
		fprintf(stderr, "threshold certs: %s\n", err);
		rc = 1;
		goto out;
	}
	char abs[PATH_MAX];
	if (realpath(o.dir, abs) == NULL)
		snprintf(abs, sizeof(abs), "%s", o.dir);
	const char *domain = o.domain ? o.domain : CERTS_DEFAULT_DOMAIN;
	const char *h0 = o.n_server_names ? names[0] : ips[0];
	printf("\nnext:\n  threshold server -c %s/server-config.json\n", abs);
	for (size_t i = 0; i < o.n_clients; i++)
		printf("  threshold client -c %s/client-%s-config.json   (after adding its ServiceToLocalAddrMap)\n",
		       abs, clients[i]);
	if (o.admin)
		printf("  curl --cacert %s/ca.crt --cert '%s/%s@%s+chain.crt' --key '%s/%s@%s.key' "
		       "https://%s%s%s:%u/clients\n",
		       abs, abs, o.admin, domain, abs, o.admin, domain, strchr(h0, ':') ? "[" : "", h0,
		       strchr(h0, ':') ? "]" : "", o.port ? o.port : CERTS_DEFAULT_PORT);
	rc = 0;
out:
	free(names);
	free(ips);
	free(clients);
	return rc;
}
