/*
 * Unit tests for base/tls: contexts, handshakes over a socketpair with the
 * reasons of each failure, peer CN, and byte-stream integrity of writes
 * that OpenSSL could not finish (WANT_WRITE, then retried with the same
 * bytes as mconn does). Certificates come from tunnel/certs in a temp dir.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>

#include "base/loop.h"
#include "base/tls.h"
#include "tunnel/certs.h"

static char dir1[64], dir2[64];

static void make_set(char *dir, const char *const *clients, size_t nclients)
{
	static const char *const names[] = {"localhost"};
	static const char *const ips[] = {"127.0.0.1"};
	struct certs_opts o = {
		.dir = dir,
		.server_names = names,
		.n_server_names = 1,
		.server_ips = ips,
		.n_server_ips = 1,
		.clients = clients,
		.n_clients = nclients,
		.admin = NULL,
	};
	char err[CERTS_ERRLEN];
	if (certs_make(&o, NULL, NULL, err) != 0)
		fail_msg("certs_make: %s", err);
}

static int setup(void **state)
{
	(void)state;
	static const char *const c1[] = {"c1"};
	snprintf(dir1, sizeof(dir1), "/tmp/threshold-test-tls1.XXXXXX");
	snprintf(dir2, sizeof(dir2), "/tmp/threshold-test-tls2.XXXXXX");
	if (mkdtemp(dir1) == NULL || mkdtemp(dir2) == NULL)
		return -1;
	make_set(dir1, c1, 1);
	make_set(dir2, c1, 1); /* another CA, same names */
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[200];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s' '%s'", dir1, dir2);
	return system(cmd) == 0 ? 0 : -1;
}

static void path(char *out, size_t n, const char *dir, const char *name)
{
	snprintf(out, n, "%s/%s", dir, name);
}

static struct tls_ctx *server_ctx(const char *dir, const char *ca_dir)
{
	char crt[128], key[128], ca[128], err[TLS_ERRLEN];
	path(crt, sizeof(crt), dir, "server+chain.crt");
	path(key, sizeof(key), dir, "server.key");
	path(ca, sizeof(ca), ca_dir, "ca.crt");
	struct tls_ctx *c = tls_ctx_server(crt, key, ca, NULL, err);
	if (c == NULL)
		fail_msg("tls_ctx_server: %s", err);
	return c;
}

/* Client context; with_cert false: no certificate of ours. */
static struct tls_ctx *client_ctx(const char *dir, const char *ca_dir, bool with_cert)
{
	char crt[128], key[128], ca[128], err[TLS_ERRLEN];
	path(crt, sizeof(crt), dir, "c1@example.com+chain.crt");
	path(key, sizeof(key), dir, "c1@example.com.key");
	path(ca, sizeof(ca), ca_dir, "ca.crt");
	struct tls_ctx *c = tls_ctx_client(NULL, ca, with_cert ? crt : NULL, with_cert ? key : NULL, err);
	if (c == NULL)
		fail_msg("tls_ctx_client: %s", err);
	return c;
}

struct pair {
	struct transport *s, *c;
	int src, crc;	/* handshake results */
	char serr[TLS_ERRLEN], cerr[TLS_ERRLEN];
};

/* Runs both handshakes over a socketpair until each side finished or
 * failed (bounded). */
static void handshake(struct pair *p, struct tls_ctx *sctx, struct tls_ctx *cctx, const char *name)
{
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	p->s = tls_transport_new(sctx, sv[0], true, NULL);
	p->c = tls_transport_new(cctx, sv[1], false, name);
	assert_non_null(p->s);
	assert_non_null(p->c);
	p->src = p->crc = -EAGAIN;
	p->serr[0] = p->cerr[0] = '\0';
	for (int i = 0; i < 100 && (p->src == -EAGAIN || p->crc == -EAGAIN); i++) {
		if (p->crc == -EAGAIN)
			p->crc = tls_handshake(p->c, p->cerr);
		if (p->src == -EAGAIN)
			p->src = tls_handshake(p->s, p->serr);
	}
	assert_true(p->src != -EAGAIN && p->crc != -EAGAIN);
}

/* A handshake that must succeed both ways. */
static void handshake_ok(struct pair *p, struct tls_ctx *sctx, struct tls_ctx *cctx)
{
	handshake(p, sctx, cctx, "localhost");
	assert_int_equal(p->crc, 0);
	assert_int_equal(p->src, 0);
}

static void pair_free(struct pair *p)
{
	transport_free(p->s);
	transport_free(p->c);
}

static void test_handshake_ok(void **state)
{
	(void)state;
	struct tls_ctx *s = server_ctx(dir1, dir1), *c = client_ctx(dir1, dir1, true);
	assert_int_equal(tls_ctx_ca_count(s), 1);
	struct pair p;
	handshake(&p, s, c, "localhost");
	assert_int_equal(p.src, 0);
	assert_int_equal(p.crc, 0);
	char cn[256];
	assert_int_equal(tls_peer_cn(p.s, cn, sizeof(cn)), (int)strlen("c1@example.com"));
	assert_string_equal(cn, "c1@example.com");
	assert_int_equal(tls_peer_cn(p.c, cn, sizeof(cn)), (int)strlen("localhost"));
	assert_string_equal(tls_version(p.s), "TLSv1.3");
	assert_true(tls_is(p.s));
	assert_false(tls_ktls_send(p.s)); /* no kTLS on AF_UNIX */
	assert_false(tls_ktls_recv(p.s));
	assert_string_equal(tls_last_error(p.c), "");
	/* An IP literal is checked against the IP SANs. */
	pair_free(&p);
	handshake(&p, s, c, "127.0.0.1");
	assert_int_equal(p.crc, 0);
	pair_free(&p);
	tls_ctx_free(s);
	tls_ctx_free(c);
}

static void expect_client_fail(const char *name, const char *want, struct tls_ctx *s, struct tls_ctx *c)
{
	struct pair p;
	handshake(&p, s, c, name);
	assert_int_equal(p.crc, -EPROTO);
	if (strstr(p.cerr, want) == NULL)
		fail_msg("client error \"%s\" lacks \"%s\"", p.cerr, want);
	pair_free(&p);
}

static void test_client_checks_server(void **state)
{
	(void)state;
	struct tls_ctx *s = server_ctx(dir1, dir1), *c = client_ctx(dir1, dir1, true);
	expect_client_fail("otherhost", "hostname mismatch", s, c);
	expect_client_fail("127.0.0.2", "IP address mismatch", s, c);
	struct tls_ctx *c2 = client_ctx(dir2, dir2, true); /* trusts only the other CA */
	expect_client_fail("localhost", "self-signed certificate in certificate chain", s, c2);
	tls_ctx_free(c2);
	tls_ctx_free(s);
	tls_ctx_free(c);
}

/* The server refuses the client's certificate; with TLS 1.3 the client's
 * handshake has completed by then and it learns why from the alert, on its
 * next read (tls_last_error). */
static void expect_server_refusal(struct tls_ctx *s, struct tls_ctx *c, const char *server_why,
				  const char *client_why)
{
	struct pair p;
	handshake(&p, s, c, "localhost");
	assert_int_equal(p.src, -EPROTO);
	if (strstr(p.serr, server_why) == NULL)
		fail_msg("server error \"%s\" lacks \"%s\"", p.serr, server_why);
	char b[16];
	ssize_t r = p.crc == 0 ? transport_read(p.c, b, sizeof(b)) : -EPROTO;
	assert_int_equal(r, -EPROTO);
	const char *why = p.crc == 0 ? tls_last_error(p.c) : p.cerr;
	if (strstr(why, client_why) == NULL)
		fail_msg("client error \"%s\" lacks \"%s\"", why, client_why);
	pair_free(&p);
}

static void test_server_checks_client(void **state)
{
	(void)state;
	struct tls_ctx *s = server_ctx(dir1, dir1);
	struct tls_ctx *nocert = client_ctx(dir1, dir1, false);
	expect_server_refusal(s, nocert, "peer did not return a certificate", "certificate required");
	struct tls_ctx *other = client_ctx(dir2, dir1, true); /* our cert from the other CA */
	expect_server_refusal(s, other, "self-signed certificate in certificate chain", "unknown ca");
	tls_ctx_free(other);
	tls_ctx_free(nocert);
	tls_ctx_free(s);
}

static void test_plaintext_is_named(void **state)
{
	(void)state;
	struct tls_ctx *s = server_ctx(dir1, dir1);
	int sv[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	struct transport *t = tls_transport_new(s, sv[0], true, NULL);
	static const char *const reqs[] = {"GET / HTTP/1.1\r\n\r\n", "CONNECT /_controlPath/ HTTP/1.1\r\n\r\n"};
	for (size_t i = 0; i < 2; i++) {
		if (i == 1) {
			transport_free(t);
			close(sv[1]);
			assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
			t = tls_transport_new(s, sv[0], true, NULL);
		}
		assert_int_equal(write(sv[1], reqs[i], strlen(reqs[i])), (ssize_t)strlen(reqs[i]));
		char err[TLS_ERRLEN];
		assert_int_equal(tls_handshake(t, err), -EPROTO);
		assert_non_null(strstr(err, "not TLS (plaintext on a TLS port?)"));
	}
	transport_free(t);
	close(sv[1]);
	tls_ctx_free(s);
}

/* Reads what is readable from t into got (bounded by cap). */
static void drain(struct transport *t, uint8_t *got, size_t *have, size_t cap)
{
	for (;;) {
		if (*have == cap)
			return;
		ssize_t r = transport_read(t, got + *have, cap - *have);
		if (r == -EAGAIN)
			return;
		assert_true(r > 0);
		*have += (size_t)r;
	}
}

/*
 * Writes `total` bytes as mconn does: a write that returns -EAGAIN is
 * retried with the same bytes (the caller's buffer from the same offset);
 * progress is what each call returns. With small socket buffers most
 * writes stop half way. The reader must get exactly the bytes written,
 * once the writer has flushed what the transport still held.
 */
static void stream_integrity(int iovs)
{
	struct tls_ctx *s = server_ctx(dir1, dir1), *c = client_ctx(dir1, dir1, true);
	struct pair p;
	handshake_ok(&p, s, c);
	int small = 4096;
	setsockopt(p.c->fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(p.s->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	size_t total = 8u << 20;
	uint8_t *data = malloc(total), *got = malloc(total);
	assert_non_null(data);
	assert_non_null(got);
	uint32_t x = 12345;
	for (size_t i = 0; i < total; i++) {
		x = x * 1103515245u + 12345u;
		data[i] = (uint8_t)(x >> 16);
	}
	size_t off = 0, have = 0, stalls = 0;
	for (int guard = 0; off < total && guard < 10000000; guard++) {
		size_t n = total - off < 300000 ? total - off : 300000;
		struct iovec iov[2] = {{data + off, n / 3}, {data + off + n / 3, n - n / 3}};
		if (iovs == 1)
			iov[0].iov_len = n;
		ssize_t w = transport_writev(p.c, iov, iovs);
		if (w == -EAGAIN) {
			stalls++;
			drain(p.s, got, &have, total);
			continue;
		}
		assert_true(w > 0);
		assert_true((size_t)w <= n);
		off += (size_t)w;
	}
	assert_int_equal(off, total);
	/* Sealed records the socket had no room for are still held: the
	 * writer sends them when told the socket is writable. */
	for (int i = 0; i < 100000 && have < total; i++) {
		ssize_t held = transport_flush(p.c);
		assert_true(held >= 0);
		assert_true(held == 0 || (transport_want(p.c) & LOOP_WRITE));
		drain(p.s, got, &have, total);
	}
	assert_int_equal(transport_flush(p.c), 0);
	assert_true(stalls > 10); /* the case under test did happen */
	assert_int_equal(have, total);
	assert_memory_equal(got, data, total);
	free(data);
	free(got);
	pair_free(&p);
	tls_ctx_free(s);
	tls_ctx_free(c);
}

static void test_stream_integrity_one_iovec(void **state)
{
	(void)state;
	stream_integrity(1);
}

static void test_stream_integrity_two_iovecs(void **state)
{
	(void)state;
	stream_integrity(2);
}

/*
 * Many records arrive in one read: 100 KiB written (7 records) comes out
 * of one transport_read with room for all of it, as from a TCP socket,
 * rather than one 16 KiB record per call. A small message is one read.
 */
static void test_read_gathers_records(void **state)
{
	(void)state;
	struct tls_ctx *s = server_ctx(dir1, dir1), *c = client_ctx(dir1, dir1, true);
	struct pair p;
	handshake_ok(&p, s, c);
	int big = 1 << 20;
	setsockopt(p.c->fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	size_t total = 100u * 1024;
	uint8_t *data = malloc(total), *got = malloc(256 * 1024);
	assert_non_null(data);
	assert_non_null(got);
	for (size_t i = 0; i < total; i++)
		data[i] = (uint8_t)(i * 7);
	struct iovec iov = {data, total};
	assert_int_equal(transport_writev(p.c, &iov, 1), (ssize_t)total);
	assert_int_equal(transport_flush(p.c), 0); /* the socket took it all */
	assert_int_equal(transport_read(p.s, got, 256 * 1024), (ssize_t)total);
	assert_memory_equal(got, data, total);
	assert_int_equal(transport_read(p.s, got, 256 * 1024), -EAGAIN);
	assert_true(transport_want(p.s) & LOOP_READ);
	iov.iov_len = 64;
	assert_int_equal(transport_writev(p.c, &iov, 1), 64);
	assert_int_equal(transport_read(p.s, got, 256 * 1024), 64);
	assert_memory_equal(got, data, 64);
	free(data);
	free(got);
	pair_free(&p);
	tls_ctx_free(s);
	tls_ctx_free(c);
}

/* Bytes that came before a broken record are delivered; the error comes
 * with the next read, with its reason. */
static void test_read_error_after_data(void **state)
{
	(void)state;
	struct tls_ctx *s = server_ctx(dir1, dir1), *c = client_ctx(dir1, dir1, true);
	struct pair p;
	handshake_ok(&p, s, c);
	uint8_t data[40000], got[65536];
	memset(data, 'x', sizeof(data));
	struct iovec iov = {data, sizeof(data)};
	assert_int_equal(transport_writev(p.c, &iov, 1), (ssize_t)sizeof(data));
	assert_int_equal(transport_flush(p.c), 0);
	/* An application-data record whose tag cannot verify. */
	static const uint8_t bad[] = {0x17, 0x03, 0x03, 0x00, 0x20, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12,
				      13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};
	assert_int_equal(write(p.c->fd, bad, sizeof(bad)), (ssize_t)sizeof(bad));
	assert_int_equal(transport_read(p.s, got, sizeof(got)), (ssize_t)sizeof(data));
	assert_int_equal(transport_read(p.s, got, sizeof(got)), -EPROTO);
	assert_true(strlen(tls_last_error(p.s)) > 0);
	pair_free(&p);
	tls_ctx_free(s);
	tls_ctx_free(c);
}

static void test_ctx_errors(void **state)
{
	(void)state;
	char err[TLS_ERRLEN], crt[128], key[128], ca[128], glob[160];
	path(crt, sizeof(crt), dir1, "server+chain.crt");
	path(key, sizeof(key), dir1, "server.key");
	path(ca, sizeof(ca), dir1, "ca.crt");
	snprintf(glob, sizeof(glob), "%s/nothing-*.pem", dir1);
	assert_null(tls_ctx_server(crt, key, NULL, glob, err));
	assert_non_null(strstr(err, "matches no file"));
	assert_null(tls_ctx_server(crt, key, key, NULL, err)); /* a key is no CA file */
	assert_non_null(strstr(err, "no PEM certificate"));
	char other_key[128];
	path(other_key, sizeof(other_key), dir2, "server.key");
	assert_null(tls_ctx_server(crt, other_key, ca, NULL, err));
	if (strstr(err, "does not match") == NULL && strstr(err, "mismatch") == NULL)
		fail_msg("%s", err);
	assert_null(tls_ctx_client(NULL, NULL, NULL, NULL, err));
	assert_non_null(strstr(err, "no CA certificate"));
	/* Two files by glob: both CAs. */
	snprintf(glob, sizeof(glob), "/tmp/threshold-test-tls[12].*/ca.crt");
	struct tls_ctx *c = tls_ctx_server(crt, key, NULL, glob, err);
	assert_non_null(c);
	assert_true(tls_ctx_ca_count(c) >= 2);
	tls_ctx_free(c);
	ERR_clear_error();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_ok),
		cmocka_unit_test(test_client_checks_server),
		cmocka_unit_test(test_server_checks_client),
		cmocka_unit_test(test_plaintext_is_named),
		cmocka_unit_test(test_stream_integrity_one_iovec),
		cmocka_unit_test(test_stream_integrity_two_iovecs),
		cmocka_unit_test(test_read_gathers_records),
		cmocka_unit_test(test_read_error_after_data),
		cmocka_unit_test(test_ctx_errors),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
