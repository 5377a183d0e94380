/*
 * tls: OpenSSL 3 contexts and a TLS transport behind the transport ops.
 *
 * Contexts are built once per role at start (rebuilt only on reload),
 * each with the write BIO method its transports use (no global state):
 * TLS 1.2 minimum (1.3 preferred by OpenSSL's negotiation),
 * SSL_MODE_RELEASE_BUFFERS so idle sessions hold no record buffers,
 * SSL_OP_ENABLE_KTLS so the kernel takes the record layer where it can.
 *
 * Trust: a CA file (PEM bundle) or a shell glob of files, every match
 * loaded; a glob that matches nothing, a file that cannot be read or a file
 * holding no certificate is an error at start, never a silently empty pool.
 *
 * The transport is nonblocking: tls_handshake() is called when the fd is
 * ready until it returns 0; -EAGAIN means "wait for transport_want()".
 * Errors carry a one-line reason (the verification error, e.g. "certificate
 * has expired", "unable to get local issuer certificate", "peer did not
 * return a certificate").
 */
#ifndef THRESHOLD_BASE_TLS_H
#define THRESHOLD_BASE_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/transport.h"

#define TLS_ERRLEN 512

struct tls_ctx;

/* Server context: certificate chain file (leaf first), key file, and the
 * CA file or glob that client certificates must chain to (client
 * certificates are required). */
struct tls_ctx *tls_ctx_server(const char *cert_file, const char *key_file, const char *ca_file,
			       const char *ca_glob, char err[TLS_ERRLEN]);
/* Client context: trust roots for the server (file or glob) and our
 * certificate chain and key. */
struct tls_ctx *tls_ctx_client(const char *ca_file, const char *ca_glob, const char *cert_file,
			       const char *key_file, char err[TLS_ERRLEN]);
/* Drops the caller's reference (NULL-safe). Each transport made from c
 * holds one too, so c (its SSL_CTX and the write BIO method made with it)
 * goes when the last of them does. */
void tls_ctx_free(struct tls_ctx *c);
/* Number of CA certificates loaded into the trust store. */
size_t tls_ctx_ca_count(const struct tls_ctx *c);

/*
 * A TLS transport over fd (taken over; closed on free or failure).
 * Client side: `verify_name` is the server name to check (DNS name or IP
 * literal, also sent as SNI when it is a name). The transport holds a
 * reference to ctx. NULL on failure.
 */
struct transport *tls_transport_new(struct tls_ctx *ctx, int fd, bool server, const char *verify_name);
/* Drives the handshake: 0 done, -EAGAIN (wait for transport_want()), or
 * another negative value with the reason in err. */
int tls_handshake(struct transport *t, char err[TLS_ERRLEN]);
/* Why the last read or write on t failed with a TLS error (e.g. the
 * server's alert "tlsv13 alert certificate required", which with TLS 1.3
 * reaches a client after its handshake completed); "" if none or not TLS. */
const char *tls_last_error(const struct transport *t);
/* Whether t is a TLS transport. */
bool tls_is(const struct transport *t);
/* Common name of the verified peer certificate ("" if none). */
int tls_peer_cn(const struct transport *t, char *buf, size_t len);
/* Whether the kernel took the send / receive path (kTLS). */
bool tls_ktls_send(const struct transport *t);
bool tls_ktls_recv(const struct transport *t);
/* Negotiated protocol version, e.g. "TLSv1.3". */
const char *tls_version(const struct transport *t);

#endif
