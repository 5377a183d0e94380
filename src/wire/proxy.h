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
 * Version 2 (binary) starts with the 12-byte PROXY_V2_SIG; proxy_detect()
 * already tells it apart. Its writer and parser (with TLVs: authority = SNI,
 * unique id) come with the PROXY v2 issue and belong in this module, next to
 * the v1 functions, sharing struct proxy_hdr.
 */
#ifndef THRESHOLD_WIRE_PROXY_H
#define THRESHOLD_WIRE_PROXY_H

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
	PROXY_OK = 0,		/* header parsed / written */
	PROXY_NEED_MORE = -1,	/* a valid prefix so far, no CRLF yet */
	PROXY_E_INVALID = -2,	/* not a valid v1 header (or not one at all) */
	PROXY_E_FAMILY = -3,	/* write: unsupported address family or mixed families */
	PROXY_E_BUF = -4,	/* write: output buffer too small */
};

enum proxy_detect_result {
	PROXY_DETECT_NONE = 0,	 /* the bytes start with neither signature */
	PROXY_DETECT_V1 = 1,	 /* "PROXY " */
	PROXY_DETECT_V2 = 2,	 /* PROXY_V2_SIG */
	PROXY_DETECT_NEED_MORE = -1, /* too few bytes to tell */
};

/* A parsed header (any version). */
struct proxy_hdr {
	int version;		     /* 1 (2 later) */
	int family;		     /* AF_INET, AF_INET6, or AF_UNSPEC for UNKNOWN */
	struct sockaddr_storage src; /* filled when family != AF_UNSPEC */
	struct sockaddr_storage dst;
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

#endif
