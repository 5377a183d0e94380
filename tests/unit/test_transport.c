/*
 * Unit tests for base/transport (the ops table) and the TLS transport
 * behind the same ops: read, writev, shutdown, free (close), want
 * read/write, pending and flush, over socketpairs. TLS uses a throwaway CA
 * and certificates made by tunnel/certs in a temp dir, as test_tls does.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/loop.h"
#include "base/tls.h"
#include "base/transport.h"
#include "tunnel/certs.h"

static char dir[64];

static void pair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

/* ---- TCP ---- */

static void test_tcp_read_write(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	struct transport *a = transport_tcp_new(sv[0]);
	struct transport *b = transport_tcp_new(sv[1]);
	assert_non_null(a);
	assert_non_null(b);
	assert_string_equal(a->ops->name, "tcp");
	assert_int_equal(transport_pending(a), 0); /* no pending op: never any */
	assert_int_equal(transport_flush(a), 0);   /* no flush op: holds nothing */

	char buf[64];
	assert_int_equal(transport_read(b, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(transport_want(b), LOOP_READ);

	struct iovec iov[3] = {{(void *)"ab", 2}, {(void *)"", 0}, {(void *)"cde", 3}};
	assert_int_equal(transport_writev(a, iov, 3), 5);
	assert_int_equal(transport_want(a), 0);
	assert_int_equal(transport_read(b, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "abcde", 5);
	assert_int_equal(transport_want(b), 0); /* progress clears it */

	/* shutdown: the other side reads EOF, and can still write back. */
	assert_int_equal(transport_shutdown_wr(a), 0);
	assert_int_equal(transport_read(b, buf, sizeof(buf)), 0);
	struct iovec back = {(void *)"xy", 2};
	assert_int_equal(transport_writev(b, &back, 1), 2);
	assert_int_equal(transport_read(a, buf, sizeof(buf)), 2);
	assert_memory_equal(buf, "xy", 2);

	/* free closes the fd: the peer sees EOF, then writes fail. */
	transport_free(a);
	assert_int_equal(transport_read(b, buf, sizeof(buf)), 0);
	assert_int_equal(transport_writev(b, &back, 1), -EPIPE);
	transport_free(b);
	transport_free(NULL); /* NULL-safe */
}

/* A full socket: writev returns -EAGAIN and wants LOOP_WRITE; after the
 * peer reads, the write goes on. transport_write_buf consumes what left. */
static void test_tcp_want_write(void **state)
{
	(void)state;
	int sv[2];
	pair(sv);
	struct transport *a = transport_tcp_new(sv[0]);
	static uint8_t chunk[64 * 1024];
	memset(chunk, 'z', sizeof(chunk));
	struct iovec iov = {chunk, sizeof(chunk)};
	size_t sent = 0;
	ssize_t w;
	while ((w = transport_writev(a, &iov, 1)) > 0)
		sent += (size_t)w;
	assert_int_equal(w, -EAGAIN);
	assert_int_equal(transport_want(a), LOOP_WRITE);
	assert_true(sent > 0);

	struct buf b;
	buf_init(&b, 1u << 20);
	assert_int_equal(buf_append(&b, "tail", 4), 0);
	assert_int_equal(transport_write_buf(a, &b), 0); /* still full: nothing taken */
	assert_int_equal(buf_len(&b), 4);

	uint8_t rd[64 * 1024];
	size_t got = 0;
	ssize_t r;
	while ((r = read(sv[1], rd, sizeof(rd))) > 0)
		got += (size_t)r;
	assert_int_equal(got, sent);
	assert_int_equal(transport_write_buf(a, &b), 4);
	assert_true(buf_empty(&b));
	assert_int_equal(read(sv[1], rd, sizeof(rd)), 4);
	assert_memory_equal(rd, "tail", 4);
	buf_reset(&b);
	transport_free(a);
	close(sv[1]);
}

/* ---- TLS ---- */

static int setup(void **state)
{
	(void)state;
	static const char *const names[] = {"localhost"};
	static const char *const clients[] = {"c1"};
	snprintf(dir, sizeof(dir), "/tmp/threshold-test-transport.XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	struct certs_opts o = {
		.dir = dir, .server_names = names, .n_server_names = 1, .clients = clients, .n_clients = 1};
	char err[CERTS_ERRLEN];
	return certs_make(&o, NULL, NULL, err) == 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

struct tls_pair {
	struct tls_ctx *sctx, *cctx;
	struct transport *s, *c;
	int sfd, cfd;
};

static void tls_pair_open(struct tls_pair *p)
{
	char crt[128], key[128], ca[128], ccrt[128], ckey[128], err[TLS_ERRLEN];
	snprintf(crt, sizeof(crt), "%s/server+chain.crt", dir);
	snprintf(key, sizeof(key), "%s/server.key", dir);
	snprintf(ca, sizeof(ca), "%s/ca.crt", dir);
	snprintf(ccrt, sizeof(ccrt), "%s/c1@example.com+chain.crt", dir);
	snprintf(ckey, sizeof(ckey), "%s/c1@example.com.key", dir);
	p->sctx = tls_ctx_server(crt, key, ca, NULL, err);
	if (p->sctx == NULL)
		fail_msg("server ctx: %s", err);
	p->cctx = tls_ctx_client(ca, NULL, ccrt, ckey, err);
	if (p->cctx == NULL)
		fail_msg("client ctx: %s", err);
	int sv[2];
	pair(sv);
	p->sfd = sv[0];
	p->cfd = sv[1];
	p->s = tls_transport_new(p->sctx, sv[0], true, NULL);
	p->c = tls_transport_new(p->cctx, sv[1], false, "localhost");
	assert_non_null(p->s);
	assert_non_null(p->c);
	/* A new client transport speaks first; the server waits to read. */
	assert_int_equal(transport_want(p->c), LOOP_READ | LOOP_WRITE);
	assert_int_equal(transport_want(p->s), LOOP_READ);
	int src = -EAGAIN, crc = -EAGAIN;
	for (int i = 0; i < 100 && (src == -EAGAIN || crc == -EAGAIN); i++) {
		if (crc == -EAGAIN)
			crc = tls_handshake(p->c, err);
		if (src == -EAGAIN)
			src = tls_handshake(p->s, err);
	}
	assert_int_equal(crc, 0);
	assert_int_equal(src, 0);
}

static void tls_pair_close(struct tls_pair *p)
{
	transport_free(p->s);
	transport_free(p->c);
	tls_ctx_free(p->sctx);
	tls_ctx_free(p->cctx);
}

/* Reads from t until n bytes came (bounded), pumping nothing else: the
 * writer's records are already in the socket. */
static size_t read_all(struct transport *t, uint8_t *out, size_t n)
{
	size_t got = 0;
	for (int i = 0; i < 10000 && got < n; i++) {
		ssize_t r = transport_read(t, out + got, n - got);
		if (r == -EAGAIN)
			break;
		assert_true(r > 0);
		got += (size_t)r;
	}
	return got;
}

static void test_tls_read_write(void **state)
{
	(void)state;
	struct tls_pair p;
	tls_pair_open(&p);
	assert_string_equal(p.s->ops->name, "tls");
	assert_true(tls_is(p.s));
	assert_false(tls_is(NULL));

	uint8_t buf[256];
	assert_int_equal(transport_read(p.s, buf, sizeof(buf)), -EAGAIN);
	assert_int_equal(transport_want(p.s) & LOOP_READ, LOOP_READ);

	/* Small pieces are gathered; the byte stream arrives whole. */
	struct iovec iov[4] = {{(void *)"hdr-", 4}, {(void *)"", 0}, {(void *)"payload", 7}, {(void *)"!", 1}};
	assert_int_equal(transport_writev(p.c, iov, 4), 12);
	assert_int_equal(transport_flush(p.c), 0); /* nothing held */
	assert_int_equal(read_all(p.s, buf, 12), 12);
	assert_memory_equal(buf, "hdr-payload!", 12);
	assert_int_equal(transport_pending(p.s), 0);
	tls_pair_close(&p);
}

/* A write larger than the socket takes: records the socket did not take
 * are held (want LOOP_WRITE, flush > 0) and go out as the reader drains;
 * the bytes arrive intact and in order. */
static void test_tls_want_write_and_flush(void **state)
{
	(void)state;
	struct tls_pair p;
	tls_pair_open(&p);
	size_t n = 4u << 20;
	uint8_t *src = malloc(n), *dst = malloc(n);
	assert_non_null(src);
	assert_non_null(dst);
	for (size_t i = 0; i < n; i++)
		src[i] = (uint8_t)(i * 7u + (i >> 10));
	size_t off = 0, got = 0;
	bool saw_want_write = false;
	for (int i = 0; i < 100000 && got < n; i++) {
		if (off < n) {
			struct iovec iov = {src + off, n - off};
			ssize_t w = transport_writev(p.c, &iov, 1);
			if (w > 0)
				off += (size_t)w;
			else
				assert_int_equal(w, -EAGAIN);
		} else {
			ssize_t held = transport_flush(p.c);
			assert_true(held >= 0);
		}
		if (transport_want(p.c) & LOOP_WRITE)
			saw_want_write = true;
		ssize_t r = -EAGAIN;
		while (got < n && (r = transport_read(p.s, dst + got, n - got)) > 0)
			got += (size_t)r;
		assert_true(r > 0 || r == -EAGAIN);
	}
	assert_true(saw_want_write);
	assert_int_equal(got, n);
	assert_memory_equal(dst, src, n);
	assert_int_equal(transport_flush(p.c), 0);
	free(src);
	free(dst);
	tls_pair_close(&p);
}

/* shutdown_wr sends close_notify and a FIN: the peer reads EOF (0) and
 * can still write back. */
static void test_tls_shutdown(void **state)
{
	(void)state;
	struct tls_pair p;
	tls_pair_open(&p);
	uint8_t buf[64];
	struct iovec last = {(void *)"last", 4};
	assert_int_equal(transport_writev(p.c, &last, 1), 4);
	assert_int_equal(transport_shutdown_wr(p.c), 0);
	assert_int_equal(read_all(p.s, buf, 4), 4);
	assert_memory_equal(buf, "last", 4);
	assert_int_equal(transport_read(p.s, buf, sizeof(buf)), 0);
	struct iovec back = {(void *)"back", 4};
	assert_int_equal(transport_writev(p.s, &back, 1), 4);
	assert_int_equal(read_all(p.c, buf, 4), 4);
	assert_memory_equal(buf, "back", 4);
	tls_pair_close(&p);
}

/* The owner may free its context while transports made from it live on
 * (a shutdown while sessions are still being reaped): they keep it. */
static void test_tls_ctx_outlived(void **state)
{
	(void)state;
	struct tls_pair p;
	tls_pair_open(&p);
	tls_ctx_free(p.sctx);
	tls_ctx_free(p.cctx);
	p.sctx = p.cctx = NULL;
	struct iovec iov = {(void *)"still", 5};
	assert_int_equal(transport_writev(p.c, &iov, 1), 5);
	uint8_t buf[16];
	assert_int_equal(read_all(p.s, buf, 5), 5);
	assert_memory_equal(buf, "still", 5);
	tls_pair_close(&p); /* the last references go with the transports */
}

/* Freeing a TLS transport closes its fd: the peer sees the end. */
static void test_tls_free_closes(void **state)
{
	(void)state;
	struct tls_pair p;
	tls_pair_open(&p);
	transport_free(p.c);
	p.c = NULL;
	uint8_t buf[16];
	ssize_t r = transport_read(p.s, buf, sizeof(buf));
	assert_true(r == 0 || r == -ECONNRESET || r == -EPIPE);
	assert_int_equal(fcntl(p.cfd, F_GETFD), -1); /* the fd is gone */
	tls_pair_close(&p);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_tcp_read_write),
		cmocka_unit_test(test_tcp_want_write),
		cmocka_unit_test(test_tls_read_write),
		cmocka_unit_test(test_tls_want_write_and_flush),
		cmocka_unit_test(test_tls_shutdown),
		cmocka_unit_test(test_tls_ctx_outlived),
		cmocka_unit_test(test_tls_free_closes),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
