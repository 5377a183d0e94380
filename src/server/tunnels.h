/*
 * tunnels: the tunnel table in force, an immutable snapshot swapped whole.
 *
 * A tunnel_table holds one validated tunnel_set and, per listening
 * address:port, its routes (the tunnels on it, most specific glob first,
 * and the AcceptProxyProtocolFrom they share). It never changes once built: PUT
 * /tunnels and the restore at start build a new one and swap it in whole.
 * It is refcounted: the listeners module holds one reference for the table
 * in force and each listener one for the table its routes point into, so a
 * table lives until the last holder lets go (tunnel_table_unref).
 *
 * Also the TunnelsFile writer: the table as indented JSON, replaced
 * atomically, mode 0600.
 */
#ifndef THRESHOLD_SERVER_TUNNELS_H
#define THRESHOLD_SERVER_TUNNELS_H

#include <stddef.h>
#include <stdint.h>

#include "server/tunnel_spec.h"

struct tunnel_table;

/*
 * The tunnels on one listening address:port. Every tunnel of the set on
 * that key is in v, however many (no cap), sorted once when the table is
 * built: most specific glob first by wire/glob.h rules 1 and 2 (more
 * literal labels, then fewer '*'), body order on a tie (rule 3). So the
 * first glob in v that matches a host is the one glob_pick would choose
 * over the body-order list: the same rule for 1 glob or 10,000. Cost:
 * O(n log n) specificity comparisons per key at build time, no allocation
 * per lookup, and a lookup tries the globs in order and stops at the first
 * match (worst case n glob_match calls, each O(len(glob) * len(host))).
 */
struct tunnel_routes {
	char key[SOCK_ADDRSTRLEN]; /* canonical "ip:port" */
	uint16_t port;
	const struct tunnel **v; /* into the table's set, most specific first */
	size_t n;
	const struct cidr *accept_from; /* shared by all of them; NULL = none */
	size_t n_accept_from;
};

/* A table with one reference, taking over what *ts holds (*ts is left
 * empty); NULL on allocation failure (*ts untouched). */
struct tunnel_table *tunnel_table_new(struct tunnel_set *ts);
struct tunnel_table *tunnel_table_ref(struct tunnel_table *tt);
/* NULL-safe; frees the table with its last reference. */
void tunnel_table_unref(struct tunnel_table *tt);

const struct tunnel_set *tunnel_table_set(const struct tunnel_table *tt);
/* The routes of one address:port; NULL when no tunnel listens there. */
const struct tunnel_routes *tunnel_table_routes(const struct tunnel_table *tt, const char *key);

/* The tunnel for a host (the SNI host name; NULL or "" without SNI): the
 * most specific glob of r matching it, the earliest in the body on a tie
 * (wire/glob.h); NULL if none matches or r is NULL. */
const struct tunnel *tunnel_routes_pick(const struct tunnel_routes *r, const char *host);

/* Writes the table to `path` atomically (file_write_atomic, mode 0600),
 * indented JSON plus a newline. 0, or -1 with the reason in err. */
int tunnels_save(const struct tunnel_table *tt, const char *path, char *err, size_t errlen);

#endif
