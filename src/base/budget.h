/*
 * budget: one memory budget for everything a peer can make us hold.
 *
 * A public gateway must not let the cheap side of a connection decide how
 * much memory the expensive side holds. Every buffer that a peer can make
 * grow (session output queues, stream data held for slow readers, HTTP
 * heads and bodies, SNI and PROXY peek buffers, registry entries) charges
 * its bytes to one account of the budget before it allocates and gives
 * them back when it frees. The budget has one limit (MemoryLimitMiB) and
 * three marks derived from it:
 *
 *   used < admit mark (85 %)   new work is accepted
 *   used >= admit mark         new work is refused (visitors closed at
 *                              accept, 503 for management, sessions refused)
 *                              but what is running goes on
 *   used >= shed mark (95 %)   the owner sheds its heaviest slow readers
 *   used + n > limit           the charge itself fails (-ENOBUFS): the
 *                              buffer behaves as full, which is backpressure
 *
 * Accounts (one per class) say where the memory is, for the log, metrics and
 * shedding. Charges and refusals are counted per account. Nothing here
 * allocates or logs; the owner logs (rate-limited) what it refuses.
 *
 * One budget per worker loop; not thread-safe.
 */
#ifndef THRESHOLD_BASE_BUDGET_H
#define THRESHOLD_BASE_BUDGET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum budget_class {
	BUDGET_SESSION_OUT = 0, /* yamux session output queues */
	BUDGET_STREAM_RX,	/* stream data received and not yet written out */
	BUDGET_HTTP,		/* HTTP request heads and bodies, answers */
	BUDGET_PEEK,		/* SNI / PROXY peek buffers, client preambles */
	BUDGET_REGISTRY,	/* client registry entries */
	BUDGET_CONN,		/* estimated fixed cost of a connection (TLS state) */
	BUDGET_NCLASSES
};

struct budget;

/* One class's share of a budget; buffers point at it. */
struct budget_acct {
	struct budget *b;
	size_t used;
	size_t peak;
	uint64_t charges;
	uint64_t refused; /* charges refused because the limit was reached */
};

struct budget {
	size_t limit; /* bytes; 0 = unlimited */
	size_t used;
	size_t peak;
	size_t admit_mark, shed_mark;
	uint64_t refused_work[BUDGET_NCLASSES]; /* budget_refuse() counts */
	struct budget_acct acct[BUDGET_NCLASSES];
};

/* A budget of `limit` bytes (0 = unlimited: charges never fail). */
void budget_init(struct budget *b, size_t limit);
void budget_set_limit(struct budget *b, size_t limit);

static inline struct budget_acct *budget_acct(struct budget *b, enum budget_class c)
{
	return &b->acct[c];
}

/* Takes n bytes for `a`; returns 0, or -ENOBUFS (counted in a->refused)
 * when the budget's limit would be passed. A NULL account always succeeds
 * (a buffer nobody accounts for). */
int budget_charge(struct budget_acct *a, size_t n);
/* Gives back n bytes charged earlier. NULL-safe. */
void budget_release(struct budget_acct *a, size_t n);

/* Whether new work may start (used below the admit mark). */
bool budget_admits(const struct budget *b);
/* Whether the owner should shed its heaviest slow readers now. */
bool budget_must_shed(const struct budget *b);
/* Counts a piece of new work refused for `c`'s sake (for metrics). */
void budget_refuse(struct budget *b, enum budget_class c);

/* "session-out", "stream-rx", "http", "peek", "registry", "conn". */
const char *budget_class_name(enum budget_class c);

/*
 * The default limit for this machine: half of the memory this process may
 * use (the smaller of MemTotal and the cgroup v2 memory.max, when one is
 * set), at least 32 MiB. `meminfo` and `cgroup_max` are the paths to read
 * (NULL for /proc/meminfo and /sys/fs/cgroup/memory.max), for tests.
 */
size_t budget_default_limit(const char *meminfo, const char *cgroup_max);

#endif
