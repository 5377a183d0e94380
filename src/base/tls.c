#include "base/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "base/loop.h"
#include "base/tls_bio.h"

/* Read buffer size: see base_ctx(). Record and batch sizes: tls_bio.h. */
#define TLS_READ_BUFFER (128u * 1024)

/*
 * A context is shared by every transport made from it: each holds a
 * reference, so the context (and the BIO method their write BIOs use)
 * stays until the last transport is freed, even when the owner frees it
 * first (a shutdown or reload while sessions are still being reaped).
 */
struct tls_ctx {
	SSL_CTX *ctx;
	BIO_METHOD *out_method; /* the record-batching write BIO (tls_bio.h) */
	size_t ca_count;
	atomic_uint refs;
};

struct tls_transport {
	struct transport t;
	SSL *ssl;
	uint32_t want;
	/* A write SSL_write could not finish (WANT_*) must be retried with
	 * the same bytes: keep them in `pend` until it completes (only when
	 * kTLS writes to the socket itself; see tls_bio.h). */
	unsigned char *pend;
	size_t pend_len;
	/* Records sealed and not yet taken by the socket (the output BIO's). */
	struct tls_bio_buf out;
	struct tls_ctx *ctx; /* a reference */
	/* An error met after a read had returned bytes, for the next read. */
	int read_err;
	/* Why the last read or write failed (SSL_ERROR_SSL), for the log. */
	char last_err[160];
};

static void set_err(char *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* err = the formatted text plus OpenSSL's last error, if any. */
static void set_err(char *err, const char *fmt, ...)
{
	if (err == NULL) {
		ERR_clear_error();
		return;
	}
	unsigned long e = ERR_peek_last_error();
	char ossl[256] = "";
	if (e)
		ERR_error_string_n(e, ossl, sizeof(ossl));
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, TLS_ERRLEN, fmt, ap);
	va_end(ap);
	if (ossl[0]) {
		size_t n = strlen(err);
		snprintf(err + n, TLS_ERRLEN - n, " (%s)", ossl);
	}
	ERR_clear_error();
}

/* Adds every certificate of one PEM file to the store. */
static int load_ca_file(X509_STORE *store, const char *path, size_t *count, char *err)
{
	FILE *f = fopen(path, "r");
	if (f == NULL) {
		if (err)
			snprintf(err, TLS_ERRLEN, "CA file %s: %s", path, strerror(errno));
		return -1;
	}
	size_t n = 0;
	X509 *x;
	while ((x = PEM_read_X509(f, NULL, NULL, NULL)) != NULL) {
		if (X509_STORE_add_cert(store, x) != 1) {
			unsigned long e = ERR_peek_last_error();
			/* The same certificate twice (a chain file repeating the
			 * root) is fine. */
			if (ERR_GET_REASON(e) != X509_R_CERT_ALREADY_IN_HASH_TABLE) {
				X509_free(x);
				fclose(f);
				set_err(err, "CA file %s: cannot add a certificate", path);
				return -1;
			}
		}
		X509_free(x);
		n++;
	}
	fclose(f);
	ERR_clear_error(); /* the PEM reader ends with "no start line" */
	if (n == 0) {
		if (err)
			snprintf(err, TLS_ERRLEN, "CA file %s: no PEM certificate in it", path);
		return -1;
	}
	*count += n;
	return 0;
}

static int load_trust(SSL_CTX *ctx, const char *ca_file, const char *ca_glob, size_t *count, char *err)
{
	X509_STORE *store = SSL_CTX_get_cert_store(ctx);
	if (ca_file && *ca_file && load_ca_file(store, ca_file, count, err) != 0)
		return -1;
	if (ca_glob && *ca_glob) {
		glob_t g;
		int rc = glob(ca_glob, GLOB_ERR, NULL, &g);
		if (rc == GLOB_NOMATCH) {
			if (err)
				snprintf(err, TLS_ERRLEN, "CaCertificateFilesGlob \"%s\" matches no file", ca_glob);
			return -1;
		}
		if (rc != 0) {
			if (err)
				snprintf(err, TLS_ERRLEN, "CaCertificateFilesGlob \"%s\": cannot read the directory",
					 ca_glob);
			return -1;
		}
		for (size_t i = 0; i < g.gl_pathc; i++) {
			if (load_ca_file(store, g.gl_pathv[i], count, err) != 0) {
				globfree(&g);
				return -1;
			}
		}
		globfree(&g);
	}
	if (*count == 0) {
		if (err)
			snprintf(err, TLS_ERRLEN, "no CA certificate given (CaCertificateFile or CaCertificateFilesGlob)");
		return -1;
	}
	return 0;
}

static SSL_CTX *base_ctx(bool server, char *err)
{
	SSL_CTX *ctx = SSL_CTX_new(server ? TLS_server_method() : TLS_client_method());
	if (ctx == NULL) {
		set_err(err, "cannot create a TLS context");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE |
				      SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	SSL_CTX_set_options(ctx, SSL_OP_ENABLE_KTLS | SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION |
					 SSL_OP_CIPHER_SERVER_PREFERENCE);
	/* AES-128-GCM first: as safe for this use, and a third cheaper per
	 * byte than AES-256 on the bulk path (the kernel can take either for
	 * kTLS). */
	SSL_CTX_set_ciphersuites(ctx, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256");
	/* Read whole socket buffers, not record header then body: half the
	 * read syscalls. Buffered records are reported by tls_pending(). */
	SSL_CTX_set_read_ahead(ctx, 1);
	/* ... and many records per read: a 16 KiB buffer (the default) means
	 * one read syscall per record; 128 KiB takes eight. The buffer exists
	 * only while records are in it (SSL_MODE_RELEASE_BUFFERS). */
	SSL_CTX_set_default_read_buffer_len(ctx, TLS_READ_BUFFER);
	return ctx;
}

static int load_identity(SSL_CTX *ctx, const char *cert_file, const char *key_file, char *err)
{
	if (SSL_CTX_use_certificate_chain_file(ctx, cert_file) != 1) {
		set_err(err, "certificate file %s: cannot load the certificate chain", cert_file);
		return -1;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, key_file, SSL_FILETYPE_PEM) != 1) {
		set_err(err, "key file %s: cannot load the private key", key_file);
		return -1;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		set_err(err, "key file %s does not match the certificate in %s", key_file, cert_file);
		return -1;
	}
	return 0;
}

/* A context with its SSL_CTX and write BIO method, one reference. */
static struct tls_ctx *ctx_new(bool server, char *err)
{
	struct tls_ctx *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return NULL;
	atomic_init(&c->refs, 1);
	c->ctx = base_ctx(server, err);
	if (c->ctx == NULL)
		goto fail;
	c->out_method = tls_bio_method_new();
	if (c->out_method == NULL) {
		set_err(err, "cannot create the TLS write BIO method");
		goto fail;
	}
	return c;
fail:
	tls_ctx_free(c);
	return NULL;
}

struct tls_ctx *tls_ctx_server(const char *cert_file, const char *key_file, const char *ca_file,
			       const char *ca_glob, char err[TLS_ERRLEN])
{
	struct tls_ctx *c = ctx_new(true, err);
	if (c == NULL || load_identity(c->ctx, cert_file, key_file, err) != 0 ||
	    load_trust(c->ctx, ca_file, ca_glob, &c->ca_count, err) != 0) {
		tls_ctx_free(c);
		return NULL;
	}
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
	/* Tickets would let a resumed session skip the client certificate
	 * check's freshness; sessions are long-lived anyway. */
	SSL_CTX_set_options(c->ctx, SSL_OP_NO_TICKET);
	SSL_CTX_set_session_cache_mode(c->ctx, SSL_SESS_CACHE_OFF);
	return c;
}

struct tls_ctx *tls_ctx_client(const char *ca_file, const char *ca_glob, const char *cert_file,
			       const char *key_file, char err[TLS_ERRLEN])
{
	struct tls_ctx *c = ctx_new(false, err);
	if (c == NULL || load_trust(c->ctx, ca_file, ca_glob, &c->ca_count, err) != 0 ||
	    (cert_file && *cert_file && load_identity(c->ctx, cert_file, key_file, err) != 0)) {
		tls_ctx_free(c);
		return NULL;
	}
	SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
	return c;
}

/* Drops one reference; the last one frees. */
void tls_ctx_free(struct tls_ctx *c)
{
	if (c == NULL || atomic_fetch_sub(&c->refs, 1) != 1)
		return;
	SSL_CTX_free(c->ctx);
	BIO_meth_free(c->out_method);
	free(c);
}

size_t tls_ctx_ca_count(const struct tls_ctx *c)
{
	return c->ca_count;
}

/* ---- transport ---- */

static const struct transport_ops tls_ops;

/* One-line reason for a failed handshake, read or write (e = the
 * SSL_get_error value): the certificate verification error if there is
 * one, else the TLS alert or OpenSSL reason. Clears OpenSSL's error queue. */
static void describe(struct tls_transport *tt, int e, char *out, size_t len)
{
	long vr = SSL_get_verify_result(tt->ssl);
	unsigned long oe = ERR_peek_last_error();
	if (vr != X509_V_OK) {
		snprintf(out, len, "%s", X509_verify_cert_error_string(vr));
	} else if (oe) {
		int reason = ERR_GET_REASON(oe);
		const char *rs = ERR_reason_error_string(oe);
		if (reason == SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE)
			snprintf(out, len, "peer did not return a certificate");
		else if (reason == SSL_R_WRONG_VERSION_NUMBER || reason == SSL_R_HTTP_REQUEST ||
			 reason == SSL_R_HTTPS_PROXY_REQUEST || reason == SSL_R_UNKNOWN_PROTOCOL)
			snprintf(out, len, "not TLS (plaintext on a TLS port?)");
		else if (rs != NULL)
			snprintf(out, len, "%s", rs); /* e.g. "tlsv13 alert certificate required" */
		else
			ERR_error_string_n(oe, out, len);
	} else if (e == SSL_ERROR_SYSCALL) {
		snprintf(out, len, "%s", errno ? strerror(errno) : "connection closed during the handshake");
	} else if (e == SSL_ERROR_ZERO_RETURN) {
		snprintf(out, len, "connection closed during the handshake");
	} else {
		snprintf(out, len, "handshake failed");
	}
	ERR_clear_error();
}

static int map_error(struct tls_transport *tt, int rc)
{
	int e = SSL_get_error(tt->ssl, rc);
	switch (e) {
	case SSL_ERROR_WANT_READ:
		tt->want = LOOP_READ;
		return -EAGAIN;
	case SSL_ERROR_WANT_WRITE:
		tt->want = LOOP_WRITE;
		return -EAGAIN;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		return errno ? -errno : -ECONNRESET;
	default:
		/* With TLS 1.3 the server judges our certificate after our
		 * handshake completed: its alert arrives here. */
		describe(tt, e, tt->last_err, sizeof(tt->last_err));
		return -EPROTO;
	}
}

/* ---- transport ops ---- */

/*
 * Reads as many records as fit in n (one SSL_read returns one record's
 * plaintext, at most 16 KiB): the caller gets one large piece per event,
 * as from a TCP read. An error after some bytes is kept for the next call.
 */
static ssize_t tls_read(struct transport *t, void *buf, size_t n)
{
	struct tls_transport *tt = (struct tls_transport *)t;
	if (tt->read_err != 0) {
		int e = tt->read_err;
		tt->read_err = 0;
		return e;
	}
	size_t total = 0;
	ssize_t ret = 0;
	while (total < n) {
		size_t got = 0;
		errno = 0;
		int rc = SSL_read_ex(tt->ssl, (unsigned char *)buf + total, n - total, &got);
		if (rc == 1) {
			total += got;
			/* A short record with nothing behind it in the read-ahead
			 * buffer: the socket is most likely drained, and asking
			 * would cost an EAGAIN read per message. Full records
			 * (bulk) go on. */
			if (got < TLS_RECORD && !SSL_has_pending(tt->ssl))
				break;
			continue;
		}
		ret = map_error(tt, rc);
		/* After some bytes: end of file (0) shows again by itself,
		 * errors are kept for the next call. */
		if (total > 0 && ret != -EAGAIN && ret != 0)
			tt->read_err = (int)ret;
		break;
	}
	if (total > 0) {
		tt->want = 0;
		ret = (ssize_t)total;
	}
	/* Reading may have produced records (an alert, a KeyUpdate answer);
	 * what the socket does not take waits for LOOP_WRITE (tls_want). */
	if (tls_bio_held(&tt->out) > 0)
		tls_bio_flush(&tt->out, false);
	return ret;
}

static ssize_t tls_write_some(struct tls_transport *tt, const void *p, size_t n)
{
	size_t done = 0;
	errno = 0;
	int rc = SSL_write_ex(tt->ssl, p, n, &done);
	if (rc == 1) {
		tt->want = 0;
		return (ssize_t)done;
	}
	int m = map_error(tt, rc);
	return m == 0 ? -EPIPE : m;
}

/* Small pieces (frame headers, small frames) are gathered into one record's
 * worth of bytes (on the stack of tls_writev: scratch for one call, so no
 * global); large ones go to SSL_write straight from the caller's memory. */
#define TLS_DIRECT_MAX (256u * 1024)

/* Where tls_writev is in the caller's iovecs: iov[k], off bytes in. */
struct wpos {
	const struct iovec *iov;
	int cnt;
	int k;
	size_t off;
};

/* Moves the position n bytes on (a gathered write may end inside a later
 * piece: carry over). */
static void wpos_advance(struct wpos *w, size_t n)
{
	w->off += n;
	while (w->k < w->cnt && w->off >= w->iov[w->k].iov_len) {
		w->off -= w->iov[w->k].iov_len;
		w->k++;
	}
}

/* The next bytes to seal at the position (not at the end): a large piece
 * straight from the caller's memory, at most TLS_DIRECT_MAX, or small
 * pieces gathered into gather[TLS_RECORD] up to one record. *p points at
 * them; returns their length. The position does not move. */
static size_t next_chunk(const struct wpos *w, unsigned char *gather, const unsigned char **p)
{
	const struct iovec *iov = w->iov;
	size_t here = iov[w->k].iov_len - w->off;
	if (here >= TLS_RECORD) {
		*p = (const unsigned char *)iov[w->k].iov_base + w->off;
		return here < TLS_DIRECT_MAX ? here : TLS_DIRECT_MAX;
	}
	size_t g = 0;
	int kk = w->k;
	size_t oo = w->off;
	while (kk < w->cnt && g < TLS_RECORD) {
		size_t avail = iov[kk].iov_len - oo;
		size_t take = avail < TLS_RECORD - g ? avail : TLS_RECORD - g;
		memcpy(gather + g, (const unsigned char *)iov[kk].iov_base + oo, take);
		g += take;
		oo += take;
		if (oo >= iov[kk].iov_len) {
			kk++;
			oo = 0;
		}
	}
	*p = gather;
	return g;
}

/* Finishes the write a previous call left in `pend` (kTLS). Returns the
 * bytes OpenSSL took (with partial writes maybe fewer than pend_len: the
 * caller passes the rest again) or a negative error (pend kept). */
static ssize_t write_pend(struct tls_transport *tt)
{
	ssize_t w = tls_write_some(tt, tt->pend, tt->pend_len);
	if (w < 0)
		return w;
	free(tt->pend);
	tt->pend = NULL;
	tt->pend_len = 0;
	return w;
}

/* A write stopped (WANT_*) with kTLS: OpenSSL wants the same n bytes
 * again, so keep a copy. Returns what tls_writev reports. */
static ssize_t keep_pend(struct tls_transport *tt, const unsigned char *p, size_t n, size_t done)
{
	tt->pend = malloc(n);
	if (tt->pend == NULL)
		return done > 0 ? (ssize_t)done : -ENOMEM;
	memcpy(tt->pend, p, n);
	tt->pend_len = n;
	return done > 0 ? (ssize_t)done : -EAGAIN;
}

/*
 * writev over TLS: seals the caller's bytes into records (collected by the
 * output BIO and sent TLS_BATCH at a time) until all are taken or the
 * socket is full; sealed bytes count as written, and what the socket did
 * not take goes out before anything else (-EAGAIN until it has).
 *
 * With kTLS the socket BIO is written directly, and OpenSSL needs a
 * retried SSL_write to carry the same bytes; so when a write stops
 * (WANT_*), the bytes it was given are kept in `pend` and the next call
 * first finishes them; they are the first bytes the caller passes again
 * (it passes what was not reported written, in order), and are reported
 * as written then.
 */
static ssize_t tls_writev(struct transport *t, const struct iovec *iov, int cnt)
{
	struct tls_transport *tt = (struct tls_transport *)t;
	unsigned char tls_gather[TLS_RECORD];
	int f = tls_bio_flush(&tt->out, true);
	if (f == -EAGAIN) {
		tt->want = LOOP_WRITE;
		return -EAGAIN;
	}
	if (f < 0)
		return f;
	size_t total = 0;
	for (int i = 0; i < cnt; i++)
		total += iov[i].iov_len;
	if (total == 0)
		return 0;
	size_t done = 0;
	if (tt->pend != NULL) {
		ssize_t w = write_pend(tt);
		if (w < 0 || (size_t)w < total)
			return w;
		done = (size_t)w;
	}
	struct wpos pos = { .iov = iov, .cnt = cnt };
	wpos_advance(&pos, done);
	while (done < total) {
		const unsigned char *p;
		size_t n = next_chunk(&pos, tls_gather, &p);
		ssize_t w = tls_write_some(tt, p, n);
		if (w == -EAGAIN)
			return keep_pend(tt, p, n, done);
		if (w < 0)
			return done > 0 ? (ssize_t)done : w;
		done += (size_t)w;
		wpos_advance(&pos, (size_t)w);
		if (tls_bio_held(&tt->out) >= TLS_BATCH) {
			f = tls_bio_flush(&tt->out, true);
			if (f == -EAGAIN)
				break; /* sealed bytes wait in the output BIO */
			if (f < 0)
				return (ssize_t)done; /* the error comes back on the next call */
		}
	}
	/* The buffer stays while writes come in full batches (bulk); the
	 * first smaller one gives it back. Records the socket did not take
	 * make tls_want() ask for LOOP_WRITE. */
	tls_bio_flush(&tt->out, total >= TLS_BATCH);
	return (ssize_t)done;
}

static ssize_t tls_flush(struct transport *t)
{
	struct tls_transport *tt = (struct tls_transport *)t;
	int f = tls_bio_flush(&tt->out, true);
	if (f == -EAGAIN) {
		tt->want = LOOP_WRITE;
		return (ssize_t)tls_bio_held(&tt->out);
	}
	return f;
}

static int tls_shutdown_wr(struct transport *t)
{
	struct tls_transport *tt = (struct tls_transport *)t;
	SSL_shutdown(tt->ssl); /* close_notify, best effort */
	ERR_clear_error();
	int f = tls_bio_flush(&tt->out, false);
	if (f < 0)
		return f; /* the records before the FIN are not out yet */
	return shutdown(t->fd, SHUT_WR) == 0 ? 0 : -errno;
}

static uint32_t tls_want(const struct transport *t)
{
	const struct tls_transport *tt = (const struct tls_transport *)t;
	return tt->want | (tls_bio_held(&tt->out) > 0 ? LOOP_WRITE : 0);
}

static size_t tls_pending(const struct transport *t)
{
	const struct tls_transport *tt = (const struct tls_transport *)t;
	if (tt->read_err != 0)
		return 1; /* the kept error is news for the reader */
	/* Decrypted bytes, or (read-ahead) records read but not processed:
	 * either way the fd will not signal them again. */
	int n = SSL_pending(tt->ssl);
	if (n > 0)
		return (size_t)n;
	return SSL_has_pending(tt->ssl) ? 1 : 0;
}

static void tls_free(struct transport *t)
{
	struct tls_transport *tt = (struct tls_transport *)t;
	if (tt->ssl) {
		SSL_set_quiet_shutdown(tt->ssl, 1);
		SSL_free(tt->ssl);
	}
	ERR_clear_error();
	free(tt->pend);
	tls_bio_buf_free(&tt->out);
	if (t->fd >= 0)
		close(t->fd);
	tls_ctx_free(tt->ctx); /* after SSL_free: its BIOs used the method */
	free(tt);
}

static const struct transport_ops tls_ops = {
	.name = "tls",
	.read = tls_read,
	.writev = tls_writev,
	.shutdown_wr = tls_shutdown_wr,
	.want = tls_want,
	.pending = tls_pending,
	.flush = tls_flush,
	.free = tls_free,
};

struct transport *tls_transport_new(struct tls_ctx *ctx, int fd, bool server, const char *verify_name)
{
	struct tls_transport *tt = calloc(1, sizeof(*tt));
	if (tt == NULL) {
		close(fd);
		return NULL;
	}
	tt->t.ops = &tls_ops;
	tt->t.fd = fd;
	tt->out.fd = fd;
	atomic_fetch_add(&ctx->refs, 1);
	tt->ctx = ctx;
	tt->ssl = SSL_new(ctx->ctx);
	if (tt->ssl == NULL)
		goto fail;
	/* Reads straight from the socket BIO; writes through the batching
	 * filter in front of the same socket BIO (two references to it). */
	BIO *sock = BIO_new_socket(fd, BIO_NOCLOSE);
	BIO *filter = tls_bio_new(ctx->out_method, &tt->out);
	if (sock == NULL || filter == NULL) {
		BIO_free(sock);
		BIO_free(filter);
		goto fail;
	}
	BIO_push(filter, sock);
	BIO_up_ref(sock);
	SSL_set_bio(tt->ssl, sock, filter);
	if (server) {
		SSL_set_accept_state(tt->ssl);
	} else {
		SSL_set_connect_state(tt->ssl);
		if (verify_name && *verify_name) {
			unsigned char tmp[16];
			bool ip = inet_pton(AF_INET, verify_name, tmp) == 1 || inet_pton(AF_INET6, verify_name, tmp) == 1;
			if (ip) {
				X509_VERIFY_PARAM *vp = SSL_get0_param(tt->ssl);
				if (X509_VERIFY_PARAM_set1_ip_asc(vp, verify_name) != 1)
					goto fail;
			} else {
				if (SSL_set1_host(tt->ssl, verify_name) != 1)
					goto fail;
				SSL_set_tlsext_host_name(tt->ssl, verify_name);
			}
		}
	}
	tt->want = LOOP_READ | (server ? 0 : LOOP_WRITE);
	return &tt->t;
fail:
	ERR_clear_error();
	tls_free(&tt->t);
	return NULL;
}

int tls_handshake(struct transport *t, char err[TLS_ERRLEN])
{
	struct tls_transport *tt = (struct tls_transport *)t;
	errno = 0;
	int rc = SSL_do_handshake(tt->ssl);
	if (rc == 1) {
		tt->want = 0;
		return 0;
	}
	int e = SSL_get_error(tt->ssl, rc);
	if (e == SSL_ERROR_WANT_READ) {
		tt->want = LOOP_READ;
		return -EAGAIN;
	}
	if (e == SSL_ERROR_WANT_WRITE) {
		tt->want = LOOP_WRITE;
		return -EAGAIN;
	}
	char why[200];
	describe(tt, e, why, sizeof(why));
	if (err)
		snprintf(err, TLS_ERRLEN, "TLS handshake failed: %s", why);
	return -EPROTO;
}

const char *tls_last_error(const struct transport *t)
{
	if (!tls_is(t))
		return "";
	return ((const struct tls_transport *)t)->last_err;
}

bool tls_is(const struct transport *t)
{
	return t != NULL && t->ops == &tls_ops;
}

int tls_peer_cn(const struct transport *t, char *buf, size_t len)
{
	const struct tls_transport *tt = (const struct tls_transport *)t;
	if (len)
		buf[0] = '\0';
	X509 *x = SSL_get1_peer_certificate(tt->ssl);
	if (x == NULL)
		return -1;
	X509_NAME *name = X509_get_subject_name(x);
	int n = X509_NAME_get_text_by_NID(name, NID_commonName, buf, (int)len);
	X509_free(x);
	if (n < 0 || (size_t)n != strlen(buf)) {
		/* absent, or an embedded NUL: not a usable identity */
		if (len)
			buf[0] = '\0';
		return -1;
	}
	return n;
}

bool tls_ktls_send(const struct transport *t)
{
	const struct tls_transport *tt = (const struct tls_transport *)t;
	return BIO_get_ktls_send(SSL_get_wbio(tt->ssl)) == 1;
}

bool tls_ktls_recv(const struct transport *t)
{
	const struct tls_transport *tt = (const struct tls_transport *)t;
	return BIO_get_ktls_recv(SSL_get_rbio(tt->ssl)) == 1;
}

const char *tls_version(const struct transport *t)
{
	const struct tls_transport *tt = (const struct tls_transport *)t;
	return SSL_get_version(tt->ssl);
}
