/*
 * proxy: the HAProxy PROXY protocol header, pure codec.
 *
 * Version 1 (text), as the Go original writes it on each tunneled stream
 * when HaProxyProxyProtocol is set (go-original.md section 4):
 *
 *   "PROXY" SP ("TCP4" | "TCP6") SP src-ip SP dst-ip SP src-port SP dst-port CRLF
 *   "PROXY" SP "UNKNOWN" [SP anything] CRLF          (parsed, never written)
 *
 * at most PROXY_V1_MAX_LEN (107) bytes including the CRLF. src is the
 * visitor, dst the local address and port the visitor actually reached.
 *
 * Version 2 (binary, haproxy spec 2.2), written on streams of sessions that
 * negotiated `proxy-v2` and parsed from a trusted load balancer in front of
 * the gateway:
 *
 *   sig[12]     PROXY_V2_SIG  0d 0a 0d 0a 00 0d 0a 51 55 49 54 0a
 *   ver_cmd     0x20 LOCAL | 0x21 PROXY (high nibble: version 2)
 *   fam         0x00 UNSPEC, 0x11 TCP/IPv4, 0x21 TCP/IPv6 (also 0x12, 0x22,
 *               0x31, 0x32 on input)
 *   len[2]      big-endian byte count of what follows: addresses + TLVs
 *   addresses   IPv4: src[4] dst[4] sport[2] dport[2] (12 bytes);
 *               IPv6: src[16] dst[16] sport[2] dport[2] (36 bytes);
 *               UNIX: src[108] dst[108] (216 bytes); UNSPEC: none
 *   TLVs        type[1] len[2] value[len], up to the end of the header:
 *               PP2_TYPE_AUTHORITY (the SNI host name), PP2_TYPE_UNIQUE_ID
 *               (<= 128 bytes, a per-connection id), PP2_TYPE_CRC32C, ...
 *
 * proxy_parse() reads either version from a trusted peer and reports the
 * exact header length, so the caller consumes exactly that many bytes.
 */
#ifndef THRESHOLD_WIRE_PROXY_H
#define THRESHOLD_WIRE_PROXY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

/* Longest v1 line, CRLF included (haproxy spec 2.1). */
#define PROXY_V1_MAX_LEN 107
/* Buffer that always holds a v1 line we write, plus its NUL. */
#define PROXY_V1_BUF_LEN (PROXY_V1_MAX_LEN + 1)

#define PROXY_V2_SIG "\r\n\r\n\0\r\nQUIT\n"
#define PROXY_V2_SIG_LEN 12

enum proxy_result {
	PROXY_OK = 0,	      /* header parsed / written */
	PROXY_NEED_MORE = -1, /* a valid prefix so far (v1: no CRLF yet) */
	PROXY_E_INVALID = -2, /* not a valid header of the version parsed (or not one at all) */
	PROXY_E_FAMILY = -3,  /* write: unsupported address family or mixed families */
	PROXY_E_BUF = -4,     /* write: output buffer too small */
	PROXY_E_ARG = -5,     /* v2 write: a TLV value too long (see proxy_v2_write) */
};

enum proxy_detect_result {
	PROXY_DETECT_NONE = 0,	     /* the bytes start with neither signature */
	PROXY_DETECT_V1 = 1,	     /* "PROXY " */
	PROXY_DETECT_V2 = 2,	     /* PROXY_V2_SIG */
	PROXY_DETECT_NEED_MORE = -1, /* too few bytes to tell */
};

/* PROXY v2 fixed header: signature, ver_cmd, fam, len. */
#define PROXY_V2_HDR_LEN 16
/* Longest v2 header proxy_v2_parse accepts (16 + len); longer ones are invalid. */
#define PROXY_V2_MAX_LEN 4096

/* v2 TLV types (haproxy spec 2.2). */
#define PP2_TYPE_ALPN 0x01
#define PP2_TYPE_AUTHORITY 0x02
#define PP2_TYPE_CRC32C 0x03
#define PP2_TYPE_NOOP 0x04
#define PP2_TYPE_UNIQUE_ID 0x05
#define PP2_TYPE_SSL 0x20
#define PP2_TYPE_NETNS 0x30

/* Longest TLV values proxy_v2_write takes (the spec caps the unique id at 128). */
#define PROXY_V2_AUTHORITY_MAX 255
#define PROXY_V2_UNIQUE_ID_MAX 128
/* Buffer that always holds a v2 header proxy_v2_write writes. */
#define PROXY_V2_BUF_LEN \
	(PROXY_V2_HDR_LEN + 36 + 3 + PROXY_V2_AUTHORITY_MAX + 3 + 4 + 3 + PROXY_V2_UNIQUE_ID_MAX)

/* Bytes inside the parsed buffer; p is NULL (and len 0) when absent. */
struct proxy_span {
	const uint8_t *p;
	size_t len;
};

/*
 * A parsed header (any version). Fields after dst came with v2; they are
 * zero for v1, so code written for v1 headers reads them unchanged.
 * family is AF_UNSPEC whenever the caller must use the connection's real
 * endpoints: v1 UNKNOWN, v2 LOCAL, v2 UNSPEC, and the v2 families this
 * gateway does not use (UDP, UNIX), which the spec says to treat as UNSPEC.
 */
struct proxy_hdr {
	int version;		     /* 1 or 2 */
	int family;		     /* AF_INET, AF_INET6, or AF_UNSPEC (see above) */
	struct sockaddr_storage src; /* filled when family != AF_UNSPEC */
	struct sockaddr_storage dst;
	bool local;		     /* v2 LOCAL command (a health check by the proxy itself) */
	struct proxy_span authority; /* v2 PP2_TYPE_AUTHORITY value, as sent (not checked) */
	struct proxy_span unique_id; /* v2 PP2_TYPE_UNIQUE_ID value (<= 128 bytes) */
};

/* What proxy_v2_write puts after the addresses; NULL means none of them. */
struct proxy_v2_tlvs {
	const char *authority;	  /* SNI host name; NULL or "" for none; <= 255 bytes */
	const uint8_t *unique_id; /* per-connection id; unique_id_len 0 for none */
	size_t unique_id_len;	  /* <= PROXY_V2_UNIQUE_ID_MAX */
	bool crc32c;		  /* add a PP2_TYPE_CRC32C TLV over the whole header */
};

/*
 * Which PROXY version buf[0..len) starts with. Decides as soon as the bytes
 * seen rule out one signature: "P..." needs up to 6 bytes, "\r\n..." up to 12.
 */
int proxy_detect(const uint8_t *buf, size_t len);

/*
 * Writes the v1 line for a connection from src to dst into out[0..cap), plus
 * a NUL; returns its length (CRLF included, NUL not) or a negative
 * enum proxy_result. Rules (Go compatible):
 *   - TCP6 iff dst is IPv6 and not IPv4-mapped; otherwise TCP4;
 *   - IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are written as a.b.c.d;
 *   - IPv6 text is Go's net.IP.String / RFC 5952 form: lowercase, no leading
 *     zeros, the longest run of two or more zero groups (the first on a tie)
 *     as "::", never a dotted tail (Go writes ::1.2.3.4 as ::102:304, which
 *     glibc's inet_ntop would not);
 *   - a scope id is not written (Go wrote "fe80::1%eth0", which the spec
 *     forbids);
 *   - both ends must be of the same family after unmapping, AF_INET or
 *     AF_INET6, else PROXY_E_FAMILY.
 * PROXY_V1_BUF_LEN always suffices.
 */
ssize_t proxy_v1_write(char *out, size_t cap, const struct sockaddr_storage *src,
		       const struct sockaddr_storage *dst);

/*
 * Parses a v1 header at the start of buf[0..len), strictly (haproxy spec
 * 2.1): single spaces; TCP4 addresses in dotted-quad form (no leading zeros),
 * TCP6 addresses as inet_pton(AF_INET6) accepts them (no zone); ports 0-65535
 * in decimal without sign or leading zeros; CRLF termination (a bare LF is
 * invalid); for UNKNOWN anything up to the CRLF is ignored. On PROXY_OK *hdr
 * is filled and *consumed is the header length: the application data starts
 * right after it. Returns PROXY_NEED_MORE while the bytes are a plausible
 * prefix shorter than PROXY_V1_MAX_LEN, PROXY_E_INVALID as soon as they are
 * not (so a plain client is rejected at its first bytes).
 */
int proxy_v1_parse(const uint8_t *buf, size_t len, struct proxy_hdr *hdr, size_t *consumed);

/*
 * Writes a 16-byte address as Go's net.IP.String does (see proxy_v1_write;
 * an IPv4-mapped address gives the dotted quad) into out, NUL-terminated;
 * returns its length or -1 if cap is too small (46 always suffices).
 * Exposed for tests and logging.
 */
ssize_t proxy_ip6_format(const uint8_t addr[16], char *out, size_t cap);

/*
 * Writes the v2 header for a TCP connection from src to dst into
 * out[0..cap); returns its length or a negative enum proxy_result. Addresses
 * as for v1: IPv4-mapped IPv6 addresses are written as IPv4 (fam 0x11, 12
 * address bytes), other IPv6 as fam 0x21 (36 bytes), scope ids dropped, both
 * ends of one family after unmapping or PROXY_E_FAMILY. Then, in this order,
 * the TLVs tlvs asks for (tlvs may be NULL): PP2_TYPE_AUTHORITY,
 * PP2_TYPE_CRC32C (computed last over the whole header), PP2_TYPE_UNIQUE_ID.
 * An authority longer than PROXY_V2_AUTHORITY_MAX or a unique id longer than
 * PROXY_V2_UNIQUE_ID_MAX (or unique_id NULL with a length) is PROXY_E_ARG; a
 * cap below the header length is PROXY_E_BUF (nothing useful written).
 * PROXY_V2_BUF_LEN always suffices.
 */
ssize_t proxy_v2_write(uint8_t *out, size_t cap, const struct sockaddr_storage *src,
		       const struct sockaddr_storage *dst, const struct proxy_v2_tlvs *tlvs);

/*
 * Writes the 16-byte v2 LOCAL header (ver_cmd 0x20, fam 0x00, len 0): a
 * connection made by the sender itself, e.g. a health check; the receiver
 * uses the real endpoints. Returns 16 or PROXY_E_BUF.
 */
ssize_t proxy_v2_write_local(uint8_t *out, size_t cap);

/*
 * Parses a v2 header at the start of buf[0..len), strictly:
 *   - the 12 signature bytes, then ver_cmd 0x20 (LOCAL) or 0x21 (PROXY);
 *   - fam one of the seven the spec defines (0x00, 0x11, 0x12, 0x21, 0x22,
 *     0x31, 0x32), and len at least that family's address block (0, 12, 36,
 *     216); 16 + len at most PROXY_V2_MAX_LEN;
 *   - PROXY with 0x11 / 0x21 fills src and dst (AF_INET / AF_INET6); every
 *     other case gives family AF_UNSPEC (LOCAL: the address block is skipped,
 *     as the spec says; UNSPEC, UDP, UNIX: the spec's fallback to UNSPEC);
 *   - the rest must be whole TLVs, exactly: AUTHORITY, UNIQUE_ID (<= 128
 *     bytes) and CRC32C (4 bytes) at most once each, the CRC32C checked
 *     (RFC 4960 B over the header with the value zeroed); an SSL TLV must
 *     hold client[1] verify[4] and whole sub-TLVs; other types are skipped.
 * Every error is seen as soon as the bytes that show it are there: a wrong
 * signature byte, version, command or family, or a len over the cap, is
 * PROXY_E_INVALID before the rest arrives. The addresses and TLVs are only
 * looked at once the whole header is there (spec: never parse a partial
 * address block). PROXY_NEED_MORE: a valid prefix, shorter than the header.
 * On PROXY_OK *hdr is filled (its spans point into buf) and *consumed =
 * 16 + len, the exact header length; on anything else *consumed = 0.
 */
int proxy_v2_parse(const uint8_t *buf, size_t len, struct proxy_hdr *hdr, size_t *consumed);

/*
 * Either version, as a gateway behind a trusted load balancer reads it:
 * proxy_detect() picks the parser (PROXY_NEED_MORE until it can tell,
 * PROXY_E_INVALID when the bytes start with neither signature), then
 * proxy_v1_parse() or proxy_v2_parse() with their results and *consumed.
 */
int proxy_parse(const uint8_t *buf, size_t len, struct proxy_hdr *hdr, size_t *consumed);

/* CRC32c (Castagnoli, RFC 4960 appendix B) of p[0..n); "123456789" gives 0xe3069283. */
uint32_t proxy_crc32c(const uint8_t *p, size_t n);

#endif
