/*
 * loop: a single-threaded epoll event loop (after redis ae.c).
 *
 * One iteration (loop_run_once) does, in order:
 *   1. reap deferred entries (FIFO; entries queued while reaping are reaped
 *      in the same pass);
 *   2. call the before-sleep hooks, in registration order;
 *   3. reap again what the hooks deferred;
 *   4. epoll_wait until the nearest timer (0 when loop_stop() was called or
 *      work was deferred; capped by max_wait_ms);
 *   5. refresh the cached clock;
 *   6. dispatch fd events (one callback per fd with all its ready events;
 *      signals arrive here through a signalfd);
 *   7. run the timers that are due.
 *
 * fd watchers: the loop owns one watcher record per fd number (a table
 * indexed by fd, as in ae.c); the caller holds nothing but the fd. Watching
 * is level-triggered. Changing interest calls epoll_ctl only when the mask
 * actually changes; a mask of 0 takes the fd out of epoll (so an fd in error
 * cannot spin the loop while paused) but keeps the watcher. Each epoll event
 * carries the fd and the watcher's generation, which loop_unwatch() bumps:
 * an event already fetched in the current batch for a watcher that was
 * removed (or removed and re-added, possibly for a new file on the same fd
 * number) is skipped. Hence loop_unwatch() is safe from any callback,
 * including the fd's own, and a callback only sees the events that are in
 * its current interest mask. Call loop_unwatch() before close(fd).
 *
 * Callbacks run on the loop's thread only; every function here may be
 * called from any callback unless stated otherwise. Not thread-safe.
 */
#ifndef THRESHOLD_BASE_LOOP_H
#define THRESHOLD_BASE_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct loop;
struct loop_timer;

/* Interest flags (loop_watch) and delivered events. */
#define LOOP_READ 0x1u
#define LOOP_WRITE 0x2u
/*
 * Delivered only: EPOLLERR / EPOLLHUP (or RDHUP) happened. They come
 * together with LOOP_READ and/or LOOP_WRITE as far as those are in the
 * interest mask, so a handler that just reads or writes meets the condition
 * as an error or EOF from the syscall.
 */
#define LOOP_ERROR 0x4u
#define LOOP_HUP 0x8u

typedef void (*loop_io_fn)(struct loop *l, int fd, uint32_t events,
			   void *udata);
typedef void (*loop_timer_fn)(struct loop *l, struct loop_timer *t,
			      void *udata);
typedef void (*loop_signal_fn)(struct loop *l, int signo, void *udata);
typedef void (*loop_hook_fn)(struct loop *l, void *udata);
typedef void (*loop_deferred_fn)(void *arg);
/* Milliseconds on a monotonic scale. */
typedef uint64_t (*loop_clock_fn)(void *udata);

/*
 * A timer, embedded by its owner. Fields are private. Zero-initialised or
 * loop_timer_init()ed it is inactive. Its memory must stay valid while it
 * is active: stop it before freeing its owner.
 */
struct loop_timer {
	uint64_t when_ms; /* private: deadline, loop clock */
	uint64_t seq;	  /* private: start order, breaks deadline ties */
	size_t heap_idx;  /* private: index + 1 in the heap, 0 if inactive */
	loop_timer_fn cb;
	void *udata;
};

/*
 * A deferred-close entry, embedded in the object to reap. Zero-initialise
 * it (or memset) once; it must stay valid while queued.
 */
struct loop_deferred {
	struct loop_deferred *next; /* private */
	loop_deferred_fn fn;	    /* private */
	void *arg;		    /* private */
	bool queued;		    /* private */
};

/* Returns NULL with errno set on failure. */
struct loop *loop_new(void);
/*
 * NULL-safe. Reaps deferred entries still queued (their fns run), gives
 * back the signals the loop blocked (pending ones are discarded first) and
 * closes the epoll and signal fds. Watched fds are not closed; timers are
 * not touched (they may already be freed): do not use them afterwards.
 * Not from a callback.
 */
void loop_free(struct loop *l);

/*
 * Iterate until loop_stop(). Returns 0 after a stop, or -errno if
 * epoll_wait fails. Not re-entrant (not from a callback).
 */
int loop_run(struct loop *l);
/*
 * One iteration (see above), sleeping at most max_wait_ms (-1: no limit
 * but the timers; 0: do not sleep). Returns the number of user callbacks
 * run (fd, timer and signal callbacks) or -errno. Not re-entrant.
 */
int loop_run_once(struct loop *l, int max_wait_ms);
/* Make loop_run return after the current iteration; the next sleep is 0. */
void loop_stop(struct loop *l);

/* The clock cached at the last refresh (ms, monotonic). */
uint64_t loop_now_ms(const struct loop *l);
/* Refresh the cached clock now; returns it. */
uint64_t loop_update_time(struct loop *l);
/*
 * Replace the clock (tests); NULL restores CLOCK_MONOTONIC. The clock must
 * not go backwards. The cache is refreshed immediately.
 */
void loop_set_clock(struct loop *l, loop_clock_fn fn, void *udata);

/*
 * Watch fd with interest `mask` (LOOP_READ | LOOP_WRITE, may be 0).
 * Returns 0, -EBADF (fd < 0), -EINVAL (cb NULL), -EEXIST (already
 * watched), -ENOMEM, or -errno from epoll_ctl (e.g. -EPERM for a regular
 * file).
 */
int loop_watch(struct loop *l, int fd, uint32_t mask, loop_io_fn cb,
	       void *udata);
/* Set the interest mask. 0, -ENOENT (not watched) or -errno from epoll. */
int loop_watch_set(struct loop *l, int fd, uint32_t mask);
/* mask | bits and mask & ~bits. */
int loop_watch_enable(struct loop *l, int fd, uint32_t bits);
int loop_watch_disable(struct loop *l, int fd, uint32_t bits);
/* Current interest mask; 0 when not watched. */
uint32_t loop_watch_mask(const struct loop *l, int fd);
bool loop_watching(const struct loop *l, int fd);
/* Stop watching fd; no-op if not watched. Does not close it. */
void loop_unwatch(struct loop *l, int fd);
/* Stop watching fd and close it, leaving epoll to drop it as the file
 * goes (no EPOLL_CTL_DEL: one syscall less per connection). Only for an
 * fd that is the file's sole reference (never dup'ed or inherited). */
void loop_unwatch_close(struct loop *l, int fd);

/* Set the callback; the timer is left inactive. */
void loop_timer_init(struct loop_timer *t, loop_timer_fn cb, void *udata);
/*
 * (Re)schedule t to fire once, delay_ms after loop_now_ms(). Restarting an
 * active timer moves it. Timers with equal deadlines fire in start order.
 * A timer started from a timer callback never fires in the same pass, even
 * with delay 0. Returns 0 or -ENOMEM (heap growth).
 */
int loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t delay_ms);
/* Cancel; idempotent. O(log n). */
void loop_timer_stop(struct loop *l, struct loop_timer *t);
static inline bool loop_timer_active(const struct loop_timer *t)
{
	return t->heap_idx != 0;
}
/* Deadline (loop clock) of an active timer. */
static inline uint64_t loop_timer_when(const struct loop_timer *t)
{
	return t->when_ms;
}

/*
 * Deliver signo through the loop: it is blocked in the process mask and
 * read from a signalfd; cb runs from the loop. A second call replaces the
 * callback; cb NULL stops handling signo and unblocks it if the loop had
 * blocked it. Only one loop per process may handle a given signal.
 * Returns 0, -EINVAL (bad signo, SIGKILL, SIGSTOP) or -errno.
 */
int loop_signal(struct loop *l, int signo, loop_signal_fn cb, void *udata);

/*
 * Queue fn(arg) to run before the loop next sleeps (the object is never
 * freed inside its own callback). No-op if d is already queued. The entry
 * is unqueued before fn runs, so fn may free the memory holding d.
 */
void loop_defer(struct loop *l, struct loop_deferred *d, loop_deferred_fn fn,
		void *arg);
static inline bool loop_deferred_queued(const struct loop_deferred *d)
{
	return d->queued;
}

/*
 * Call fn(l, udata) every iteration before sleeping (after reaping), e.g.
 * to flush output buffers. The same pair may be added more than once.
 * A hook removed while the hooks run does not run afterwards; one added
 * while they run first runs in the next iteration.
 * Returns 0 or -ENOMEM.
 */
int loop_before_sleep(struct loop *l, loop_hook_fn fn, void *udata);
/* Remove the first hook equal to (fn, udata); no-op if none. */
void loop_before_sleep_remove(struct loop *l, loop_hook_fn fn, void *udata);

#endif
