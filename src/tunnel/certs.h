/*
 * certs: `threshold certs`, a private CA and the certificates and config
 * files a TLS deployment needs, made in one step with OpenSSL's APIs (no
 * openssl(1) involved).
 *
 * In the directory (created 0700 if missing):
 *   ca.crt, ca.key                    the CA: ECDSA P-256, self-signed,
 *                                     CA:TRUE (critical), keyCertSign+cRLSign,
 *                                     valid CERTS_CA_DAYS
 *   server.key, server+chain.crt      server leaf (+ CA): SAN = every
 *                                     --server-name (DNS) and --server-ip (IP),
 *                                     EKU serverAuth, CN = the first name
 *   <id>@<domain>.key,                one per --client id (and the admin id):
 *   <id>@<domain>+chain.crt           CN <id>@<domain>, EKU clientAuth (+ CA)
 *   server-config.json                later-generation server config: ListenPort,
 *                                     Domain, UseTls, CaCertificateFilesGlob,
 *                                     key/cert, ManagementClientIds [admin]
 *   client-<id>-config.json           one per --client id: ServerAddr, UseTls,
 *                                     CA glob, key/cert, empty ServiceToLocalAddrMap
 * Keys are PKCS#8 PEM, mode 0600; certificates and configs 0644. Paths in
 * the configs are absolute. Leaves are valid CERTS_LEAF_DAYS. Existing
 * files are never overwritten without `force`: the whole set is checked
 * first, so a refusal writes nothing. Each file is written to a temporary
 * name and renamed into place.
 *
 * The admin id (default "admin") gets a client certificate for the
 * management API only (curl --cert), and is the one ManagementClientIds
 * entry; tunnel clients' certificates cannot manage. With no admin
 * (admin == NULL) ManagementClientIds is left out and the server warns that
 * every CA-signed certificate may manage.
 */
#ifndef THRESHOLD_CERTS_H
#define THRESHOLD_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#define CERTS_ERRLEN 512
#define CERTS_CA_DAYS 3650u   /* 10 years */
#define CERTS_LEAF_DAYS 1095u /* 3 years */
#define CERTS_DEFAULT_DOMAIN "example.com"
#define CERTS_DEFAULT_ADMIN "admin"
#define CERTS_DEFAULT_PORT 9056
/* A CommonName holds at most 64 characters (RFC 5280 ub-common-name). */
#define CERTS_CN_MAX 64

struct certs_opts {
	const char *dir;
	const char *const *server_names; /* DNS SANs */
	size_t n_server_names;
	const char *const *server_ips; /* IP SANs (IPv4 or IPv6 literals) */
	size_t n_server_ips;
	const char *const *clients; /* tunnel client ids */
	size_t n_clients;
	const char *domain;	     /* NULL: CERTS_DEFAULT_DOMAIN */
	const char *admin;	     /* management id; NULL: none */
	uint16_t port;		     /* ListenPort / ServerAddr port; 0: 9056 */
	bool force;		     /* replace existing files */
	unsigned ca_days, leaf_days; /* 0: the defaults above */
};

enum certs_kind { CERTS_SERVER,
		  CERTS_CLIENT };

/* A new ECDSA P-256 key; NULL on failure. Caller frees (EVP_PKEY_free). */
EVP_PKEY *certs_key_new(void);
/* A self-signed CA certificate for key; NULL with err on failure. */
X509 *certs_ca_new(EVP_PKEY *key, const char *cn, unsigned days, char err[CERTS_ERRLEN]);
/*
 * A leaf for key, signed by ca/ca_key: subject CN `cn`, SAN DNS names and
 * IP literals (server: at least one of them), EKU serverAuth (CERTS_SERVER)
 * or clientAuth (CERTS_CLIENT), KU digitalSignature, CA:FALSE, key ids.
 * NULL with err (e.g. an IP that does not parse).
 */
X509 *certs_leaf_new(EVP_PKEY *key, X509 *ca, EVP_PKEY *ca_key, enum certs_kind kind, const char *cn,
		     const char *const *dns, size_t ndns, const char *const *ips, size_t nips, unsigned days,
		     char err[CERTS_ERRLEN]);
/* Whether id may name a client here: 1-64 printable ASCII characters, no
 * space, '/', '\\', '@', quote or glob character, not starting with '.' or
 * '-' (it becomes part of file names and of the CN <id>@<domain>). */
bool certs_id_ok(const char *id);
/* A DNS name for Domain / --server-name: letters, digits, '-', '.', '*'
 * (leftmost label only for '*'), 1-253 characters. */
bool certs_dns_ok(const char *name);

/* Makes the whole set. 0, or -1 with a one-line reason in err. `log`, if
 * not NULL, gets one line per file written. */
int certs_make(const struct certs_opts *o, void (*log)(void *ud, const char *line), void *ud,
	       char err[CERTS_ERRLEN]);

/* `threshold certs ...` (argv after "certs"): exit status (0, 1 error,
 * 2 usage). */
int certs_main(int argc, char **argv);

#endif
