/*
 * srclimit: how many connections each source address holds, with a limit
 * per source and a limit in all.
 *
 * A stranger with one address must not be able to take every slot of a
 * port or of a pre-authentication phase. The owner takes a slot when it
 * accepts a connection and puts it back when the connection ends; a take
 * past either limit is refused and counted, and the owner closes the
 * connection at once (with a rate-limited log line).
 *
 * Sources: an IPv4 address (also as IPv4-mapped IPv6) counts as itself; an
 * IPv6 address counts by its /64 prefix, the unit one subscriber is given,
 * so rotating the low 64 bits buys nothing.
 *
 * Table: open addressing with linear probing and backward-shift deletion,
 * keyed with a random per-table seed (a peer cannot aim at one chain), grown
 * by doubling while more than half full. Memory is one 24-byte slot per
 * distinct source with at least one connection (at most `max_total`), given
 * back as the table empties. O(1) expected per take/put. Not thread-safe.
 */
#ifndef THRESHOLD_BASE_SRCLIMIT_H
#define THRESHOLD_BASE_SRCLIMIT_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct srclimit_slot;

struct srclimit {
	struct srclimit_slot *slots; /* private */
	size_t mask;		     /* private: capacity - 1, or 0 with no table */
	size_t nsources;	     /* distinct sources holding a slot */
	size_t total;		     /* slots held in all */
	size_t per_source;	     /* 0 = no per-source limit */
	size_t max_total;	     /* 0 = no total limit */
	uint64_t seed;		     /* private */
	uint64_t refused_source, refused_total;
};

#define SRCLIMIT_E_SOURCE (-1) /* the source holds per_source slots already */
#define SRCLIMIT_E_TOTAL (-2)  /* max_total slots are held */
#define SRCLIMIT_E_NOMEM (-3)

void srclimit_init(struct srclimit *s, size_t per_source, size_t max_total);
/* Frees the table; every slot is forgotten. */
void srclimit_fini(struct srclimit *s);
/* Limits may change at any time; slots already held stay held. */
void srclimit_set_limits(struct srclimit *s, size_t per_source, size_t max_total);

/* Takes a slot for the source of `sa` (AF_INET or AF_INET6; other families
 * share one key). Returns 0 or a SRCLIMIT_E_* code (counted). */
int srclimit_take(struct srclimit *s, const struct sockaddr *sa);
/* Gives back a slot taken for the same address. */
void srclimit_put(struct srclimit *s, const struct sockaddr *sa);
/* Slots the source of `sa` holds now. */
size_t srclimit_count(const struct srclimit *s, const struct sockaddr *sa);

#endif
