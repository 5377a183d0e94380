/*
 * worker: all the state of one event loop, in one context.
 *
 * Everything a connection needs from "its" loop hangs off one struct worker:
 * the loop itself, the two scratch buffers every read and relay borrows for
 * the length of one callback, the list of sessions whose small writes wait
 * for the loop's before-sleep flush, the timer that gives freed heap back to
 * the system, and the memory budget peers are charged against. Nothing else
 * is mutable and shared, so a later step can run one worker per core without
 * touching the modules that use it.
 *
 * Ownership: the daemon (or a test) embeds the worker and calls
 * worker_init() before any connection exists and worker_fini() after the
 * last is closed, before loop_free(). Hooks registered through
 * worker_before_sleep() are removed by worker_fini().
 */
#ifndef THRESHOLD_TUNNEL_WORKER_H
#define THRESHOLD_TUNNEL_WORKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/budget.h"
#include "base/list.h"
#include "base/log.h"
#include "base/loop.h"

/* Size of each scratch buffer (page-aligned mappings). */
#define WORKER_SCRATCH (256u * 1024)

struct worker {
	struct loop *loop;
	uint8_t *rx; /* transport reads, handed to the engine */
	size_t rx_len;
	uint8_t *tx; /* relays' socket reads, handed to mux_stream_write */
	size_t tx_len;
	struct list dirty;	/* sessions with small writes to flush before sleeping (mconn) */
	loop_hook_fn flush;	/* the before-sleep hook registered on the loop, or NULL */
	struct loop_timer trim; /* gives freed heap back to the system */
	struct budget budget;	/* peer-driven memory (base/budget.h); unlimited until set */
	/* Sessions whose peer does not read (mconn's input hold). */
	struct log_limit hold_log;
	uint64_t sessions_held, sessions_closed_unread;
};

/*
 * Sets the budget's limit from MemoryLimitMiB (0: budget_default_limit(),
 * half of the machine's or cgroup's memory) and logs it once.
 */
void worker_set_memory_limit(struct worker *w, uint32_t mib);
/* Sets up `w` on loop `l`. Returns 0 or -ENOMEM (w is then finalised). */
int worker_init(struct worker *w, struct loop *l);
/* Removes the hooks and timers from the loop and unmaps the scratch
 * buffers. Call before loop_free(). Idempotent. */
void worker_fini(struct worker *w);
/*
 * Registers `fn(loop, w)` to run before the loop sleeps, once: a second call
 * with the same function is a no-op; only one hook is supported. Returns 0
 * or -ENOMEM.
 */
int worker_before_sleep(struct worker *w, loop_hook_fn fn);
/*
 * Something sizeable was freed (a connection ended): soon, if the heap
 * holds much free memory, give it back to the system (malloc_trim), so
 * RSS returns to its idle level after a load. Cheap to call often.
 */
void worker_freed(struct worker *w);

#endif
