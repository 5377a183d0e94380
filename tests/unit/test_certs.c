/*
 * Unit tests for tunnel/certs: the certificates' names, key usages and
 * chains (checked with X509_verify_cert for the TLS purposes and names),
 * the files certs_make writes (modes, refusal to overwrite, chains), and
 * that the configs it writes load and their TLS files make contexts.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "base/tls.h"
#include "tunnel/certs.h"
#include "tunnel/config.h"

static EVP_PKEY *ca_key;
static X509 *ca;

static int setup(void **state)
{
	(void)state;
	char err[CERTS_ERRLEN];
	ca_key = certs_key_new();
	ca = ca_key ? certs_ca_new(ca_key, "test CA", 30, err) : NULL;
	return ca ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	return 0;
}

/* X509_verify_cert of leaf against the CA for a purpose, optionally with a
 * host name or IP; returns the verification error (X509_V_OK). */
static int verify(X509 *leaf, int purpose, const char *host, const char *ip)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	assert_non_null(st);
	assert_non_null(ctx);
	assert_int_equal(X509_STORE_add_cert(st, ca), 1);
	assert_int_equal(X509_STORE_CTX_init(ctx, st, leaf, NULL), 1);
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(vp, purpose);
	if (host)
		X509_VERIFY_PARAM_set1_host(vp, host, 0);
	if (ip)
		X509_VERIFY_PARAM_set1_ip_asc(vp, ip);
	int ok = X509_verify_cert(ctx);
	int e = X509_STORE_CTX_get_error(ctx);
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	ERR_clear_error();
	return ok == 1 ? X509_V_OK : (e == X509_V_OK ? -1 : e);
}

static void cn_of(X509 *x, char *buf, int len)
{
	assert_true(X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, buf, len) > 0);
}

static void test_ca(void **state)
{
	(void)state;
	char cn[128];
	cn_of(ca, cn, sizeof(cn));
	assert_string_equal(cn, "test CA");
	assert_true(X509_check_ca(ca) >= 1);
	assert_true(X509_get_key_usage(ca) & KU_KEY_CERT_SIGN);
	assert_int_equal(X509_check_issued(ca, ca), X509_V_OK); /* self-signed */
	assert_int_equal(X509_verify(ca, ca_key), 1);
	EVP_PKEY *pk = X509_get0_pubkey(ca);
	assert_int_equal(EVP_PKEY_get_base_id(pk), EVP_PKEY_EC);
	char curve[32];
	size_t clen = 0;
	assert_int_equal(EVP_PKEY_get_utf8_string_param(pk, "group", curve, sizeof(curve), &clen), 1);
	assert_string_equal(curve, "prime256v1");
}

static void test_server_leaf(void **state)
{
	(void)state;
	static const char *const dns[] = {"localhost", "tunnel.example.com"};
	static const char *const ips[] = {"127.0.0.1", "::1"};
	char err[CERTS_ERRLEN];
	EVP_PKEY *k = certs_key_new();
	X509 *x = certs_leaf_new(k, ca, ca_key, CERTS_SERVER, "localhost", dns, 2, ips, 2, 30, err);
	assert_non_null(x);
	char cn[128];
	cn_of(x, cn, sizeof(cn));
	assert_string_equal(cn, "localhost");
	/* SANs: both names and both IPs, in order. */
	GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	assert_non_null(g);
	assert_int_equal(sk_GENERAL_NAME_num(g), 4);
	for (int i = 0; i < 2; i++) {
		GENERAL_NAME *n = sk_GENERAL_NAME_value(g, i);
		assert_int_equal(n->type, GEN_DNS);
		assert_string_equal((const char *)ASN1_STRING_get0_data(n->d.dNSName), dns[i]);
	}
	GENERAL_NAME *n4 = sk_GENERAL_NAME_value(g, 2), *n6 = sk_GENERAL_NAME_value(g, 3);
	assert_int_equal(n4->type, GEN_IPADD);
	assert_int_equal(ASN1_STRING_length(n4->d.iPAddress), 4);
	assert_memory_equal(ASN1_STRING_get0_data(n4->d.iPAddress), "\x7f\x00\x00\x01", 4);
	assert_int_equal(n6->type, GEN_IPADD);
	assert_int_equal(ASN1_STRING_length(n6->d.iPAddress), 16);
	GENERAL_NAMES_free(g);
	/* Usages: serverAuth only, not a CA. */
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_int_equal(X509_check_ca(x), 0);
	assert_true(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
	/* The chain verifies for a TLS server and each name; not for others,
	 * not as a client certificate. */
	assert_int_equal(verify(x, X509_PURPOSE_SSL_SERVER, "localhost", NULL), X509_V_OK);
	assert_int_equal(verify(x, X509_PURPOSE_SSL_SERVER, "tunnel.example.com", NULL), X509_V_OK);
	assert_int_equal(verify(x, X509_PURPOSE_SSL_SERVER, NULL, "127.0.0.1"), X509_V_OK);
	assert_int_equal(verify(x, X509_PURPOSE_SSL_SERVER, NULL, "::1"), X509_V_OK);
	assert_int_equal(verify(x, X509_PURPOSE_SSL_SERVER, "other.example.com", NULL), X509_V_ERR_HOSTNAME_MISMATCH);
	assert_int_equal(verify(x, X509_PURPOSE_SSL_SERVER, NULL, "127.0.0.2"), X509_V_ERR_IP_ADDRESS_MISMATCH);
	assert_int_equal(verify(x, X509_PURPOSE_SSL_CLIENT, NULL, NULL), X509_V_ERR_INVALID_PURPOSE);
	X509_free(x);
	/* A bad IP, and a server certificate with no name, are refused. */
	static const char *const bad[] = {"127.0.0.300"};
	assert_null(certs_leaf_new(k, ca, ca_key, CERTS_SERVER, "x", NULL, 0, bad, 1, 30, err));
	assert_non_null(strstr(err, "not an IP address"));
	assert_null(certs_leaf_new(k, ca, ca_key, CERTS_SERVER, "x", NULL, 0, NULL, 0, 30, err));
	EVP_PKEY_free(k);
}

static void test_client_leaf(void **state)
{
	(void)state;
	char err[CERTS_ERRLEN];
	EVP_PKEY *k = certs_key_new();
	X509 *x = certs_leaf_new(k, ca, ca_key, CERTS_CLIENT, "TestClient1@example.com", NULL, 0, NULL, 0, 30, err);
	assert_non_null(x);
	char cn[128];
	cn_of(x, cn, sizeof(cn));
	assert_string_equal(cn, "TestClient1@example.com");
	assert_true(X509_get_extended_key_usage(x) & XKU_SSL_CLIENT);
	assert_false(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
	assert_int_equal(verify(x, X509_PURPOSE_SSL_CLIENT, NULL, NULL), X509_V_OK);
	assert_int_equal(verify(x, X509_PURPOSE_SSL_SERVER, NULL, NULL), X509_V_ERR_INVALID_PURPOSE);
	/* Another CA does not vouch for it. */
	EVP_PKEY *k2 = certs_key_new();
	X509 *ca2 = certs_ca_new(k2, "other CA", 30, err);
	X509 *y = certs_leaf_new(k, ca2, k2, CERTS_CLIENT, "TestClient1@example.com", NULL, 0, NULL, 0, 30, err);
	assert_int_equal(verify(y, X509_PURPOSE_SSL_CLIENT, NULL, NULL), X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY);
	X509_free(y);
	X509_free(ca2);
	EVP_PKEY_free(k2);
	X509_free(x);
	EVP_PKEY_free(k);
	/* A CN longer than 64 characters cannot be made. */
	char longcn[80];
	memset(longcn, 'a', sizeof(longcn) - 1);
	longcn[sizeof(longcn) - 1] = '\0';
	k = certs_key_new();
	assert_null(certs_leaf_new(k, ca, ca_key, CERTS_CLIENT, longcn, NULL, 0, NULL, 0, 30, err));
	EVP_PKEY_free(k);
}

static void test_names(void **state)
{
	(void)state;
	assert_true(certs_id_ok("TestClient1"));
	assert_true(certs_id_ok("node_7.eu-west"));
	assert_false(certs_id_ok(""));
	assert_false(certs_id_ok("a b"));
	assert_false(certs_id_ok("a/b"));
	assert_false(certs_id_ok("..x"));
	assert_false(certs_id_ok("-x"));
	assert_false(certs_id_ok("a@b"));
	assert_false(certs_id_ok("a*"));
	assert_false(certs_id_ok("caf\xc3\xa9"));
	assert_true(certs_dns_ok("localhost"));
	assert_true(certs_dns_ok("*.example.com"));
	assert_false(certs_dns_ok("a..b"));
	assert_false(certs_dns_ok("a.*.b"));
	assert_false(certs_dns_ok("exa mple.com"));
	assert_false(certs_dns_ok("127.0.0.1:80"));
}

/* ---- certs_make ---- */

static char dir[64];

static void lines(void *ud, const char *line)
{
	(*(int *)ud)++;
	(void)line;
}

static mode_t mode_of(const char *name)
{
	char p[256];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	assert_int_equal(stat(p, &st), 0);
	return st.st_mode & 0777;
}

static X509 *read_cert(const char *name, int index)
{
	char p[256];
	snprintf(p, sizeof(p), "%s/%s", dir, name);
	FILE *f = fopen(p, "r");
	assert_non_null(f);
	X509 *x = NULL;
	for (int i = 0; i <= index; i++) {
		X509_free(x);
		x = PEM_read_X509(f, NULL, NULL, NULL);
	}
	fclose(f);
	ERR_clear_error();
	return x;
}

static void test_make(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/threshold-test-certs.XXXXXX");
	assert_non_null(mkdtemp(dir));
	assert_int_equal(rmdir(dir), 0); /* certs_make creates it */
	static const char *const names[] = {"localhost"};
	static const char *const ips[] = {"127.0.0.1"};
	static const char *const clients[] = {"TestClient1", "c2"};
	struct certs_opts o = {.dir = dir, .server_names = names, .n_server_names = 1, .server_ips = ips,
			       .n_server_ips = 1, .clients = clients, .n_clients = 2, .admin = "admin",
			       .port = 19056};
	char err[CERTS_ERRLEN];
	int n = 0;
	if (certs_make(&o, lines, &n, err) != 0)
		fail_msg("certs_make: %s", err);
	assert_int_equal(n, 13);
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
	assert_int_equal(mode_of("ca.key"), 0600);
	assert_int_equal(mode_of("server.key"), 0600);
	assert_int_equal(mode_of("TestClient1@example.com.key"), 0600);
	assert_int_equal(mode_of("admin@example.com.key"), 0600);
	assert_int_equal(mode_of("ca.crt"), 0644);
	assert_int_equal(mode_of("server-config.json"), 0644);

	/* Chains: leaf then the CA, which issued it. */
	X509 *c = read_cert("ca.crt", 0);
	X509 *leaf = read_cert("TestClient1@example.com+chain.crt", 0);
	X509 *second = read_cert("TestClient1@example.com+chain.crt", 1);
	assert_non_null(c);
	assert_non_null(leaf);
	assert_non_null(second);
	assert_int_equal(X509_cmp(c, second), 0);
	assert_int_equal(X509_check_issued(c, leaf), X509_V_OK);
	char cn[128];
	cn_of(leaf, cn, sizeof(cn));
	assert_string_equal(cn, "TestClient1@example.com");
	X509_free(c);
	X509_free(leaf);
	X509_free(second);

	/* The configs load, and their TLS files make contexts. */
	char p[256];
	snprintf(p, sizeof(p), "%s/server-config.json", dir);
	struct config_server *sc = config_server_load(p, err);
	if (sc == NULL)
		fail_msg("%s", err);
	assert_true(sc->use_tls);
	assert_true(sc->single_port);
	assert_int_equal(sc->control_port, 19056);
	assert_string_equal(sc->domain, "example.com");
	assert_int_equal(sc->n_mgmt_client_ids, 1);
	assert_string_equal(sc->mgmt_client_ids[0], "admin");
	struct tls_ctx *t = tls_ctx_server(sc->tls_cert_file, sc->tls_key_file, sc->ca_file, sc->ca_glob, err);
	if (t == NULL)
		fail_msg("%s", err);
	tls_ctx_free(t);
	config_server_free(sc);
	snprintf(p, sizeof(p), "%s/client-c2-config.json", dir);
	struct config_client *cc = config_client_load(p, err);
	if (cc == NULL)
		fail_msg("%s", err);
	assert_string_equal(cc->client_id, "c2");
	assert_string_equal(cc->server_host, "localhost");
	assert_int_equal(cc->server_port, 19056);
	t = tls_ctx_client(cc->ca_file, cc->ca_glob, cc->tls_cert_file, cc->tls_key_file, err);
	if (t == NULL)
		fail_msg("%s", err);
	tls_ctx_free(t);
	config_client_free(cc);
	/* No admin client config (it manages; it carries no tunnels). */
	snprintf(p, sizeof(p), "%s/client-admin-config.json", dir);
	assert_int_not_equal(access(p, F_OK), 0);

	/* Existing files: refused, nothing changed; --force replaces. */
	X509 *before = read_cert("ca.crt", 0);
	assert_int_equal(certs_make(&o, NULL, NULL, err), -1);
	assert_non_null(strstr(err, "exists"));
	X509 *same = read_cert("ca.crt", 0);
	assert_int_equal(X509_cmp(before, same), 0);
	o.force = true;
	assert_int_equal(certs_make(&o, NULL, NULL, err), 0);
	X509 *after = read_cert("ca.crt", 0);
	assert_int_not_equal(X509_cmp(before, after), 0);
	assert_int_equal(mode_of("ca.key"), 0600);
	X509_free(before);
	X509_free(same);
	X509_free(after);

	/* Bad input is refused before anything is written. */
	static const char *const dup[] = {"x", "x"};
	struct certs_opts bad = o;
	bad.clients = dup;
	bad.n_clients = 2;
	assert_int_equal(certs_make(&bad, NULL, NULL, err), -1);
	assert_non_null(strstr(err, "given twice"));
	bad = o;
	bad.admin = "TestClient1";
	assert_int_equal(certs_make(&bad, NULL, NULL, err), -1);
	assert_non_null(strstr(err, "also a --client"));
	bad = o;
	bad.domain = "exa mple";
	assert_int_equal(certs_make(&bad, NULL, NULL, err), -1);
	bad = o;
	static const char *const badip[] = {"1.2.3"};
	bad.server_ips = badip;
	assert_int_equal(certs_make(&bad, NULL, NULL, err), -1);
	assert_non_null(strstr(err, "not an IPv4 or IPv6 address"));

	snprintf(p, sizeof(p), "rm -rf '%s'", dir);
	assert_int_equal(system(p), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ca),
		cmocka_unit_test(test_server_leaf),
		cmocka_unit_test(test_client_leaf),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_make),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
