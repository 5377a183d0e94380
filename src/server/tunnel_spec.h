/*
 * tunnel_spec: the body of PUT /tunnels (and of the TunnelsFile) as a set of
 * tunnels, pure parser and validator.
 *
 * Input: the body bytes (no NUL needed) and a tunnel_spec_ctx naming the
 * server's own ports a tunnel may not take. No I/O, no logging, no server
 * state: whether a port can actually be bound is the listeners' business
 * (listeners_apply).
 *
 * The body is `null` (an empty table, echoed back as null) or a JSON array of
 * at most TUNNEL_SPEC_MAX objects. Keys are matched case-insensitively; a
 * field given as null counts as absent. Per object, in this order:
 *
 *   HaProxyProxyProtocol     optional bool (default false)
 *   ListenAddress            required IP literal (v4 or v6, no host names)
 *   ListenPort               required integer 1-65535
 *   ListenHostnameGlob       optional string, <= 253 bytes of
 *                            [A-Za-z0-9-_.*] ("" and "*" match anything)
 *   BackEndService           optional string, <= 255 bytes ("" means the
 *                            port as a string)
 *   ClientIdentifier         required string, 1..255 bytes
 *   ProxyProtocolVersion     optional 1 or 2, only with HaProxyProxyProtocol
 *   AcceptProxyProtocolFrom  optional list of <= 64 addresses / CIDR ranges
 *
 * Unknown and repeated keys are errors. Then, over the complete entries:
 * a tunnel on the control or management port is a conflict; two tunnels on
 * one address:port with the same glob ("" equals "*", case-insensitive) are
 * a duplicate; tunnels sharing an address:port must agree on
 * AcceptProxyProtocolFrom; a wildcard address and another address on one
 * port are a conflict (they cannot both bind).
 *
 * Every problem is appended to `errors` (a JSON array the caller owns) as
 * {"index":i,"field":"ListenPort","error":"..."} ("index" and "field" left
 * out where they do not apply), in the order above, row by row, then the
 * cross-entry checks.
 */
#ifndef THRESHOLD_SERVER_TUNNEL_SPEC_H
#define THRESHOLD_SERVER_TUNNEL_SPEC_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/sock.h"
#include "wire/cidr.h"

#define TUNNEL_SPEC_MAX 4096

/* One entry of PUT /tunnels, as given. */
struct tunnel {
	bool proxy;	   /* HaProxyProxyProtocol */
	char *addr;	   /* ListenAddress (IP literal) */
	char *glob;	   /* ListenHostnameGlob ("" allowed) */
	uint16_t port;	   /* ListenPort */
	char *service;	   /* BackEndService ("" means the port as a string) */
	char *client;	   /* ClientIdentifier */
	int proxy_version; /* ProxyProtocolVersion: 1 or 2 (1 when not given) */
	bool proxy_version_given;
	struct cidr *accept_from; /* AcceptProxyProtocolFrom: trusted load balancers */
	size_t n_accept_from;
	bool accept_from_given;
	char key[SOCK_ADDRSTRLEN]; /* canonical "ip:port" of the listener */
};

struct tunnel_set {
	struct tunnel *v;
	size_t n;
	bool null_body; /* the body was `null` (echoed back as null) */
};

/* Frees what the set holds and empties it; the struct itself stays. */
void tunnel_set_clear(struct tunnel_set *ts);

/* The server's own ports. An address NULL means "bound on all addresses". */
struct tunnel_spec_ctx {
	const char *control_addr;
	uint16_t control_port;
	bool has_mgmt_port; /* false in the single-port layout */
	const char *mgmt_addr;
	uint16_t mgmt_port;
};

enum tunnel_spec_rc {
	TUNNEL_SPEC_OK = 0,
	TUNNEL_SPEC_E_SHAPE,	/* not JSON, or a value of the wrong JSON type */
	TUNNEL_SPEC_E_VALUE,	/* right types, bad values (or duplicates) */
	TUNNEL_SPEC_E_CONFLICT, /* valid, but collides with the server's ports or another tunnel */
	TUNNEL_SPEC_E_NOMEM,
};

/*
 * Parses and validates body[0, len). Always fills *out (the caller clears
 * it with tunnel_set_clear, whatever the result); only on TUNNEL_SPEC_OK is
 * it complete. When several classes of problem occur, the result is the
 * first of SHAPE, VALUE, CONFLICT.
 */
enum tunnel_spec_rc tunnel_spec_parse(const char *body, size_t len, const struct tunnel_spec_ctx *ctx,
				      struct tunnel_set *out, json_t *errors);

/* The set as the API shows it (Go's field order); new reference. */
json_t *tunnel_spec_to_json(const struct tunnel_set *ts);

/* Appends {"index":index,"field":field,"error":fmt...} to errors; index < 0
 * and field NULL are left out. */
void tunnel_spec_error(json_t *errors, long index, const char *field, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#endif
