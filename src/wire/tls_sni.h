/*
 * tls_sni: the SNI host name at the start of a TLS stream, pure parser.
 *
 * The gateway peeks at a visitor's first bytes to route by host name
 * (go-original.md section 6; protocol.md section 2 "Nothing routes on a
 * blocking read"). The bytes are not consumed: the caller forwards all it
 * has read, unchanged, so the TLS session stays end to end.
 *
 * What is parsed: one complete ClientHello handshake message (RFC 8446 4.1.2,
 * RFC 5246 7.4.1.2), which may be fragmented over several TLS records
 * (RFC 8446 5.1) and may arrive in pieces: the caller calls again with the
 * same bytes plus whatever has arrived since (nothing is kept between calls).
 *
 *   record header   type 22 (handshake), version 0x0300-0x0304 (clients put
 *                   0x0301 in the first record and may use 0x0303; any minor
 *                   0-4 is accepted), length 1..SNI_RECORD_MAX (an empty
 *                   handshake fragment is forbidden by RFC 8446 5.1)
 *   handshake       type 1 (ClientHello), 24-bit length <= SNI_HELLO_MAX
 *   ClientHello     legacy_version (major 3), random[32], session_id<0..32>,
 *                   cipher_suites<2..2^16-2> (even), compression_methods<1..255>,
 *                   then either nothing (no extensions) or a 16-bit length
 *                   that covers exactly the rest of the message
 *   extensions      type, 16-bit length, body; each must fit; server_name (0)
 *                   at most once
 *   server_name     ServerNameList<1..2^16-1> filling the extension exactly;
 *                   entries name_type + HostName<..2^16-1>; entries of other
 *                   name types are skipped; two host_name (0) entries are
 *                   malformed (RFC 6066 3)
 *
 * The ClientHello must end exactly at the end of a record: a client sends
 * nothing after it in the same record before the server answers (OpenSSL
 * refuses such a hello too), so trailing bytes there are SNI_MALFORMED and
 * the span below is exact. Bytes after that record (early data, anything)
 * are not looked at.
 *
 * Host name rules (SNI_BAD_NAME otherwise, RFC 6066 3, RFC 1035 2.3.4):
 *   - 1..253 bytes, labels of 1..63 bytes separated by '.', no empty label
 *     (so no leading dot, no "..");
 *   - no trailing dot: RFC 6066 says HostName is written without one, and a
 *     glob can never match it; it is refused, cleanly, as a bad name
 *     ("www.example.com." gives SNI_BAD_NAME, never a crash or a truncated
 *     name as in the Go original);
 *   - bytes from [A-Za-z0-9-_] only (no NUL, no UTF-8: IDNs arrive as
 *     A-labels "xn--..."); a hyphen may stand anywhere in a label;
 *   - not an IP literal (RFC 6066 forbids them): a name whose last label is
 *     all digits ("127.0.0.1", "10", "1.2.3.0123") or "0x" plus hex digits
 *     ("0x7f.1"), i.e. any name inet_aton-style parsers could read as IPv4;
 *     IPv6 literals already fail the character rule (':').
 * The name handed back is lowercased (ASCII), NUL-terminated.
 *
 * Cost: one forward pass over at most SNI_SPAN_MAX bytes per call. A caller
 * fed in small pieces need not call again before it has out->span bytes
 * (see SNI_NEED_MORE); calling earlier is harmless.
 */
#ifndef THRESHOLD_WIRE_TLS_SNI_H
#define THRESHOLD_WIRE_TLS_SNI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Largest ClientHello body (the handshake length field). Hellos grow with
 * post-quantum key shares (X25519MLKEM768 alone is 1.2 KiB) and padding;
 * 64 KiB leaves room for what clients send while bounding the peek.
 */
#define SNI_HELLO_MAX 65536
/* Largest record length accepted (TLSCiphertext's 2^14 + 2048). */
#define SNI_RECORD_MAX (16384 + 2048)
/*
 * Most bytes the records carrying one ClientHello may take, record headers
 * included: a largest hello (65,540 bytes with its header, at least five
 * records) plus 4 KiB for record headers of a fragmented one. A peek
 * buffer of this size never gets SNI_NEED_MORE for want of space.
 */
#define SNI_SPAN_MAX 69632
/* Longest host name (RFC 1035), and a buffer holding it with its NUL. */
#define SNI_NAME_MAX 253
#define SNI_NAME_BUF (SNI_NAME_MAX + 1)

enum sni_result {
	SNI_OK = 0,	    /* complete ClientHello with a valid host name in out->name */
	SNI_NEED_MORE = -1, /* a valid prefix so far; out->span = bytes to wait for */
	SNI_NO_SNI = -2,    /* complete, valid ClientHello without a host_name */
	SNI_NOT_TLS = -3,   /* bytes 0-2 are not a TLS handshake record header */
	SNI_MALFORMED = -4, /* starts like TLS but breaks a rule above */
	SNI_TOO_LARGE = -5, /* hello length > SNI_HELLO_MAX, or records beyond SNI_SPAN_MAX */
	SNI_BAD_NAME = -6,  /* complete, valid ClientHello whose host_name breaks the name rules */
};

struct sni_info {
	/*
	 * SNI_OK, SNI_NO_SNI, SNI_BAD_NAME: bytes from the start of the buffer
	 * to the end of the record that completes the ClientHello.
	 * SNI_NEED_MORE: the buffer length at which calling again can first give
	 * another answer than SNI_NEED_MORE for a well-formed stream (the end of
	 * the record or record header being read); always > len and
	 * <= SNI_SPAN_MAX.
	 * Other results: 0.
	 */
	size_t span;
	size_t name_len;	 /* SNI_OK: strlen(name); else 0 */
	char name[SNI_NAME_BUF]; /* SNI_OK: the host name, lowercase; else "" */
};

/*
 * Parses the ClientHello at the start of buf[0..len). Returns an enum
 * sni_result and fills *out (always, see struct sni_info). Decides
 * SNI_NOT_TLS from the first byte that shows it: byte 0 != 0x16, byte 1 !=
 * 0x03, byte 2 > 0x04. Reports SNI_MALFORMED / SNI_TOO_LARGE as soon as the
 * bytes seen show it (e.g. a session id length of 33 before the rest has
 * arrived). SNI_OK, SNI_NO_SNI and SNI_BAD_NAME need the whole hello.
 * buf may be NULL when len is 0.
 */
int sni_parse(const uint8_t *buf, size_t len, struct sni_info *out);

/* Whether name[0..len) passes the host name rules above (case does not matter). */
bool sni_name_valid(const char *name, size_t len);

/* A static English name for an enum sni_result ("ok", "need more", ...), for logs. */
const char *sni_result_str(int rc);

#endif
