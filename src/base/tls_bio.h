/*
 * tls_bio: the record-batching output BIO of the TLS transport (src/base/
 * tls.c only; not a public module).
 *
 * OpenSSL hands each record to its write BIO as soon as it is sealed;
 * through a socket BIO that is one write() per 16 KiB record, and on
 * loopback the kernel's per-write cost is most of a tunnel's CPU. This
 * filter BIO sits between the SSL and the socket BIO and collects the
 * records of one tls_writev() (up to TLS_BATCH bytes) in a struct
 * tls_bio_buf, written with one send(); what the socket does not take stays
 * there and goes first next time (the transport then asks for LOOP_WRITE,
 * and the owner's transport_flush() sends it). The buffer is allocated
 * while bytes wait and freed when it empties. Handshake flights and alerts
 * reach the socket when OpenSSL calls BIO_flush(), with a retryable failure
 * when the socket is full (SSL_ERROR_WANT_WRITE).
 *
 * When kTLS takes the send path the socket BIO must see OpenSSL's writes
 * (plaintext plus record-type controls): the filter then steps aside for
 * good. OpenSSL flushes the BIO before it turns kTLS on, so nothing is
 * buffered at that point. Controls (kTLS, fd, ...) pass to the socket BIO.
 *
 * Ownership: the transport owns the tls_bio_buf (embedded) and its bytes;
 * the BIO borrows it (BIO data) and never frees it. The BIO_METHOD is made
 * once per context and freed with it, after every BIO made from it.
 */
#ifndef THRESHOLD_BASE_TLS_BIO_H
#define THRESHOLD_BASE_TLS_BIO_H

#include <stdbool.h>
#include <stddef.h>

#include <openssl/bio.h>

/* Largest TLS record payload. */
#define TLS_RECORD 16384
/* Sealed bytes collected before a send() in the middle of one writev. */
#define TLS_BATCH (256u * 1024)

/* Records OpenSSL produced and the socket has not taken yet:
 * buf[off, len), allocated while bytes wait, freed empty. */
struct tls_bio_buf {
	int fd; /* the socket, borrowed from the transport */
	unsigned char *buf;
	size_t off, len, cap;
	bool direct; /* kTLS took the send path: records go to the socket BIO as is */
};

/* Bytes waiting for the socket. */
static inline size_t tls_bio_held(const struct tls_bio_buf *o)
{
	return o->len - o->off;
}

/* Sends what o holds: 0 when all of it is out, -EAGAIN when the socket is
 * full, or -errno. An emptied buffer is freed unless `keep` (more full
 * batches are coming: reuse it rather than ask malloc again). */
int tls_bio_flush(struct tls_bio_buf *o, bool keep);
/* Frees the buffer, whatever it holds (the transport is going). */
void tls_bio_buf_free(struct tls_bio_buf *o);

/* The filter's method; NULL on allocation failure. Free with BIO_meth_free. */
BIO_METHOD *tls_bio_method_new(void);
/* A filter BIO of method m writing into o (borrowed); NULL on failure. The
 * caller pushes it in front of the socket BIO. */
BIO *tls_bio_new(BIO_METHOD *m, struct tls_bio_buf *o);

#endif
