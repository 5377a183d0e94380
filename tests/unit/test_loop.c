/*
 * Unit tests for base/loop: fd watchers (incl. removal inside callbacks and
 * stale events), the timer heap (fake clock), signals through signalfd,
 * deferred close and before-sleep hooks.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/loop.h"
#include "base/util.h"

/* ---- helpers ---- */

struct fake_clock {
	uint64_t now;
};

static uint64_t fake_now(void *udata)
{
	return ((struct fake_clock *)udata)->now;
}

static void mkpipe(int fds[2])
{
	assert_int_equal(pipe2(fds, O_NONBLOCK | O_CLOEXEC), 0);
}

static void mksocketpair(int sv[2])
{
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
}

struct io_rec {
	int calls;
	int fd;
	uint32_t events;
	/* optional action */
	int unwatch_fd;  /* fd to unwatch from the callback, -1 none */
	bool unwatch_self;
	bool drain;
};

static void io_cb(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct io_rec *r = udata;
	r->calls++;
	r->fd = fd;
	r->events = events;
	if (r->drain) {
		char b[256];
		while (read(fd, b, sizeof(b)) > 0) {
		}
	}
	if (r->unwatch_fd >= 0)
		loop_unwatch(l, r->unwatch_fd);
	if (r->unwatch_self)
		loop_unwatch(l, fd);
}

static struct io_rec rec(void)
{
	struct io_rec r;
	memset(&r, 0, sizeof(r));
	r.unwatch_fd = -1;
	r.fd = -1;
	return r;
}

/* ---- fd watchers ---- */

static void test_watch_read(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int p[2];
	struct io_rec r = rec();
	r.drain = true;
	assert_non_null(l);
	mkpipe(p);

	assert_int_equal(loop_watch(l, p[0], LOOP_READ, io_cb, &r), 0);
	assert_true(loop_watching(l, p[0]));
	assert_int_equal(loop_watch_mask(l, p[0]), LOOP_READ);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(r.calls, 0);

	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(loop_run_once(l, -1), 1);
	assert_int_equal(r.calls, 1);
	assert_int_equal(r.fd, p[0]);
	assert_int_equal(r.events, LOOP_READ);

	/* Level-triggered: drained, so quiet now. */
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(r.calls, 1);

	/* Paused interest: data waits, no callback. */
	assert_int_equal(loop_watch_set(l, p[0], 0), 0);
	assert_true(loop_watching(l, p[0]));
	assert_int_equal(write(p[1], "y", 1), 1);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(r.calls, 1);
	assert_int_equal(loop_watch_enable(l, p[0], LOOP_READ), 0);
	assert_int_equal(loop_run_once(l, -1), 1);
	assert_int_equal(r.calls, 2);

	/* Writer gone: READ with HUP, read() gives EOF. */
	close(p[1]);
	r.drain = false;
	assert_int_equal(loop_run_once(l, -1), 1);
	assert_int_equal(r.events, LOOP_READ | LOOP_HUP);
	char b;
	assert_int_equal(read(p[0], &b, 1), 0);

	loop_unwatch(l, p[0]);
	assert_false(loop_watching(l, p[0]));
	assert_int_equal(loop_watch_mask(l, p[0]), 0);
	loop_unwatch(l, p[0]); /* no-op */
	assert_int_equal(loop_run_once(l, 0), 0);
	close(p[0]);
	loop_free(l);
	loop_free(NULL);
}

static void test_watch_errors_and_mask(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int sv[2];
	struct io_rec r = rec();
	mksocketpair(sv);

	assert_int_equal(loop_watch(l, -1, LOOP_READ, io_cb, &r), -EBADF);
	assert_int_equal(loop_watch(l, sv[0], LOOP_READ, NULL, &r), -EINVAL);
	assert_int_equal(loop_watch_set(l, sv[0], LOOP_READ), -ENOENT);
	assert_int_equal(loop_watch_enable(l, sv[0], LOOP_READ), -ENOENT);
	assert_int_equal(loop_watch_disable(l, sv[0], LOOP_READ), -ENOENT);

	/* Watching with mask 0, then enabling WRITE. */
	assert_int_equal(loop_watch(l, sv[0], 0, io_cb, &r), 0);
	assert_int_equal(loop_watch(l, sv[0], LOOP_READ, io_cb, &r), -EEXIST);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(loop_watch_enable(l, sv[0], LOOP_WRITE), 0);
	assert_int_equal(loop_run_once(l, -1), 1);
	assert_int_equal(r.events, LOOP_WRITE);

	/* Both ready: one callback with both events. */
	assert_int_equal(write(sv[1], "z", 1), 1);
	assert_int_equal(loop_watch_enable(l, sv[0], LOOP_READ), 0);
	assert_int_equal(loop_watch_mask(l, sv[0]), LOOP_READ | LOOP_WRITE);
	assert_int_equal(loop_run_once(l, -1), 1);
	assert_int_equal(r.events, LOOP_READ | LOOP_WRITE);
	assert_int_equal(loop_watch_disable(l, sv[0], LOOP_WRITE), 0);
	assert_int_equal(loop_run_once(l, -1), 1);
	assert_int_equal(r.events, LOOP_READ);

	/* Regular files cannot be polled. */
	int f = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
	assert_true(f >= 0);
	assert_int_equal(loop_watch(l, f, LOOP_READ, io_cb, &r), -EPERM);
	assert_false(loop_watching(l, f));
	close(f);

	/* A high fd number grows the table. */
	int hi = fcntl(sv[1], F_DUPFD_CLOEXEC, 1000);
	assert_true(hi >= 1000);
	struct io_rec r2 = rec();
	assert_int_equal(loop_watch(l, hi, LOOP_WRITE, io_cb, &r2), 0);
	loop_unwatch(l, sv[0]);
	assert_int_equal(loop_run_once(l, -1), 1);
	assert_int_equal(r2.fd, hi);
	loop_unwatch(l, hi);
	close(hi);
	close(sv[0]);
	close(sv[1]);
	loop_free(l);
}

static void test_unwatch_self_in_callback(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int sv[2];
	struct io_rec r = rec();
	r.unwatch_self = true;
	mksocketpair(sv);
	assert_int_equal(write(sv[1], "a", 1), 1);

	/* Readable and writable: one call, then it is gone. */
	assert_int_equal(loop_watch(l, sv[0], LOOP_READ | LOOP_WRITE, io_cb, &r), 0);
	assert_int_equal(loop_run_once(l, -1), 1);
	assert_int_equal(r.calls, 1);
	assert_false(loop_watching(l, sv[0]));
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(r.calls, 1);

	/* Re-watch after removal works (new generation). */
	r.unwatch_self = false;
	assert_int_equal(loop_watch(l, sv[0], LOOP_READ, io_cb, &r), 0);
	assert_int_equal(loop_run_once(l, -1), 1);
	assert_int_equal(r.calls, 2);
	loop_unwatch(l, sv[0]);
	close(sv[0]);
	close(sv[1]);
	loop_free(l);
}

/*
 * Two readable pipes in one epoll batch; whichever callback runs first
 * removes the other. The other's event is already in the batch and must be
 * skipped.
 */
struct pair_ctx {
	int fd[2];
	int calls[2];
	int new_calls;
	bool replace;     /* also close the victim and watch a new file on its number */
	int replaced_fd;  /* number reused */
	int spare[2];     /* the new pipe */
};

static void new_cb(struct loop *l, int fd, uint32_t events, void *udata)
{
	(void)l;
	(void)fd;
	(void)events;
	struct pair_ctx *c = udata;
	c->new_calls++;
}

static void pair_cb(struct loop *l, int fd, uint32_t events, void *udata)
{
	(void)events;
	struct pair_ctx *c = udata;
	int me = fd == c->fd[0] ? 0 : 1;
	int other = c->fd[1 - me];
	c->calls[me]++;
	if (c->calls[0] + c->calls[1] > 1)
		return;
	loop_unwatch(l, other);
	if (c->replace) {
		/* Same fd number, new (empty, never readable) pipe. */
		assert_true(dup3(c->spare[0], other, O_CLOEXEC) == other);
		c->replaced_fd = other;
		assert_int_equal(loop_watch(l, other, LOOP_READ, new_cb, c), 0);
	}
}

static void run_pair(bool replace)
{
	struct loop *l = loop_new();
	int a[2], b[2];
	struct pair_ctx c;
	memset(&c, 0, sizeof(c));
	c.replace = replace;
	mkpipe(a);
	mkpipe(b);
	mkpipe(c.spare);
	c.fd[0] = a[0];
	c.fd[1] = b[0];
	assert_int_equal(write(a[1], "1", 1), 1);
	assert_int_equal(write(b[1], "2", 1), 1);
	assert_int_equal(loop_watch(l, a[0], LOOP_READ, pair_cb, &c), 0);
	assert_int_equal(loop_watch(l, b[0], LOOP_READ, pair_cb, &c), 0);

	/* Both are readable before the wait: one batch holds both events. */
	assert_int_equal(loop_run_once(l, -1), 1);
	assert_int_equal(c.calls[0] + c.calls[1], 1);
	assert_int_equal(c.new_calls, 0);
	assert_int_equal(loop_run_once(l, 0), 1); /* the survivor again */
	assert_int_equal(c.new_calls, 0);

	int survivor = c.calls[0] ? a[0] : b[0];
	loop_unwatch(l, survivor);
	if (replace)
		loop_unwatch(l, c.replaced_fd);
	loop_free(l);
	close(a[0]); close(a[1]); close(b[0]); close(b[1]);
	close(c.spare[0]); close(c.spare[1]);
}

static void test_stale_event_removed(void **state)
{
	(void)state;
	run_pair(false);
}

static void test_stale_event_replaced(void **state)
{
	(void)state;
	run_pair(true);
}

/*
 * loop_unwatch_close: the fd leaves epoll by being closed (no DEL). An
 * event already fetched for it is skipped, and its number can be watched
 * again at once for a new file (which epoll_ctl ADD would refuse with
 * EEXIST if the old registration had stayed).
 */
struct uc_ctx {
	int fd[2];
	int calls;
	int reused;	/* the fd number, now a new pipe's read end */
	int reused_w;
	int new_calls;
};

static void uc_new_cb(struct loop *l, int fd, uint32_t events, void *udata)
{
	(void)l;
	(void)fd;
	(void)events;
	((struct uc_ctx *)udata)->new_calls++;
}

static void uc_cb(struct loop *l, int fd, uint32_t events, void *udata)
{
	(void)events;
	struct uc_ctx *c = udata;
	c->calls++;
	if (c->calls > 1)
		return;
	int other = fd == c->fd[0] ? c->fd[1] : c->fd[0];
	loop_unwatch_close(l, other);
	int p[2];
	mkpipe(p);
	if (p[0] != other) { /* a new file on the number just closed */
		assert_int_equal(dup3(p[0], other, O_CLOEXEC), other);
		close(p[0]);
		p[0] = other;
	}
	c->reused = p[0];
	c->reused_w = p[1];
	assert_int_equal(loop_watch(l, p[0], LOOP_READ, uc_new_cb, c), 0);
}

static void test_unwatch_close(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int a[2], b[2];
	struct uc_ctx c;
	memset(&c, 0, sizeof(c));
	mkpipe(a);
	mkpipe(b);
	c.fd[0] = a[0];
	c.fd[1] = b[0];
	assert_int_equal(write(a[1], "1", 1), 1);
	assert_int_equal(write(b[1], "2", 1), 1);
	assert_int_equal(loop_watch(l, a[0], LOOP_READ, uc_cb, &c), 0);
	assert_int_equal(loop_watch(l, b[0], LOOP_READ, uc_cb, &c), 0);
	/* Both events in one batch; the first callback closes the other fd. */
	assert_int_equal(loop_run_once(l, -1), 1);
	assert_int_equal(c.calls, 1);
	assert_int_equal(c.new_calls, 0); /* the stale event did not reach the new file */
	int survivor = c.reused == a[0] ? b[0] : a[0];
	loop_unwatch(l, survivor);
	/* The new file on the old number gets its own events. */
	assert_int_equal(write(c.reused_w, "3", 1), 1);
	assert_int_equal(loop_run_once(l, 1000), 1);
	assert_int_equal(c.new_calls, 1);
	assert_false(loop_watching(l, survivor));
	loop_unwatch_close(l, c.reused);
	assert_false(loop_watching(l, c.reused));
	loop_unwatch_close(l, -1); /* no-op */
	loop_free(l);
	close(survivor);
	close(c.reused_w);
	close(a[1]);
	close(b[1]);
}

/* Interest dropped mid-batch: the later callback sees only what is left. */
struct shrink_ctx {
	int fd[2];
	int calls;
	uint32_t second_events;
};

static void shrink_cb(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct shrink_ctx *c = udata;
	c->calls++;
	if (c->calls == 1) {
		int other = fd == c->fd[0] ? c->fd[1] : c->fd[0];
		loop_watch_disable(l, other, LOOP_WRITE);
	} else {
		c->second_events = events;
	}
}

static void test_interest_shrinks_mid_batch(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int s1[2], s2[2];
	struct shrink_ctx c;
	memset(&c, 0, sizeof(c));
	mksocketpair(s1);
	mksocketpair(s2);
	assert_int_equal(write(s1[1], "a", 1), 1);
	assert_int_equal(write(s2[1], "b", 1), 1);
	c.fd[0] = s1[0];
	c.fd[1] = s2[0];
	assert_int_equal(loop_watch(l, s1[0], LOOP_READ | LOOP_WRITE, shrink_cb, &c), 0);
	assert_int_equal(loop_watch(l, s2[0], LOOP_READ | LOOP_WRITE, shrink_cb, &c), 0);
	assert_int_equal(loop_run_once(l, -1), 2);
	assert_int_equal(c.calls, 2);
	assert_int_equal(c.second_events, LOOP_READ);
	loop_unwatch(l, s1[0]);
	loop_unwatch(l, s2[0]);
	loop_free(l);
	close(s1[0]); close(s1[1]); close(s2[0]); close(s2[1]);
}

/* ---- timers ---- */

enum { NTIMERS = 2000 };

struct rt {
	struct loop_timer t;
	uint64_t deadline;  /* expected */
	uint64_t order;     /* start order of the last (re)start */
	int fired;
	uint64_t fired_at;
	bool cancelled;
};

struct rt_ctx {
	struct rt *ts;
	size_t nfired;
	struct rt *last;
	bool order_ok;
	struct fake_clock *clk;
	struct loop *l;
};

static void rt_cb(struct loop *l, struct loop_timer *t, void *udata)
{
	struct rt_ctx *c = udata;
	struct rt *r = container_of(t, struct rt, t);
	assert_false(loop_timer_active(t));
	r->fired++;
	r->fired_at = loop_now_ms(l);
	if (c->last != NULL) {
		/* Non-decreasing deadlines; ties in start order. */
		if (r->deadline < c->last->deadline ||
		    (r->deadline == c->last->deadline &&
		     r->order < c->last->order))
			c->order_ok = false;
	}
	c->last = r;
	c->nfired++;
}

static void test_timer_heap_random(void **state)
{
	(void)state;
	struct fake_clock clk = { 1000 };
	struct loop *l = loop_new();
	struct rt *ts = calloc(NTIMERS, sizeof(*ts));
	struct rt_ctx c = { ts, 0, NULL, true, &clk, l };
	unsigned seed = 42;
	uint64_t order = 0;

	loop_set_clock(l, fake_now, &clk);
	assert_int_equal(loop_now_ms(l), 1000);

	for (int i = 0; i < NTIMERS; i++) {
		seed = seed * 1103515245u + 12345u;
		uint64_t d = (seed >> 8) % 500;
		loop_timer_init(&ts[i].t, rt_cb, &c);
		assert_false(loop_timer_active(&ts[i].t));
		assert_int_equal(loop_timer_start(l, &ts[i].t, d), 0);
		assert_true(loop_timer_active(&ts[i].t));
		ts[i].deadline = 1000 + d;
		ts[i].order = order++;
		assert_int_equal(loop_timer_when(&ts[i].t), ts[i].deadline);
	}
	/* Cancel a third, restart a third (some earlier, some later). */
	for (int i = 0; i < NTIMERS; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = seed >> 8;
		if (r % 3 == 0) {
			loop_timer_stop(l, &ts[i].t);
			loop_timer_stop(l, &ts[i].t); /* idempotent */
			assert_false(loop_timer_active(&ts[i].t));
			ts[i].cancelled = true;
		} else if (r % 3 == 1) {
			uint64_t d = (r / 3) % 700;
			assert_int_equal(loop_timer_start(l, &ts[i].t, d), 0);
			ts[i].deadline = 1000 + d;
			ts[i].order = order++;
		}
	}

	/* Advance time in uneven steps; nothing fires early. */
	for (int step = 0; step < 1000 && clk.now < 1800; step++) {
		seed = seed * 1103515245u + 12345u;
		clk.now += (seed >> 8) % 7;
		assert_true(loop_run_once(l, 0) >= 0);
		for (int i = 0; i < NTIMERS; i++) {
			if (ts[i].cancelled)
				continue;
			if (ts[i].deadline <= clk.now)
				assert_int_equal(ts[i].fired, 1);
			else
				assert_int_equal(ts[i].fired, 0);
		}
	}
	assert_true(clk.now >= 1800);
	assert_true(c.order_ok);
	size_t want = 0;
	for (int i = 0; i < NTIMERS; i++) {
		if (ts[i].cancelled) {
			assert_int_equal(ts[i].fired, 0);
		} else {
			want++;
			assert_int_equal(ts[i].fired, 1);
			assert_true(ts[i].fired_at >= ts[i].deadline);
			assert_false(loop_timer_active(&ts[i].t));
		}
	}
	assert_int_equal(c.nfired, want);
	free(ts);
	loop_free(l);
}

/* Timer callbacks starting and stopping timers, themselves included. */
struct tt_ctx {
	struct loop_timer self_restart, victim, stopper, late;
	int self_calls, victim_calls, stopper_calls, late_calls;
	int stop_after;
};

static void self_restart_cb(struct loop *l, struct loop_timer *t, void *udata)
{
	struct tt_ctx *c = udata;
	c->self_calls++;
	loop_timer_start(l, t, 0); /* fires again next pass, not this one */
	loop_timer_start(l, t, 0); /* restart while active: still one entry */
	if (c->self_calls == c->stop_after)
		loop_timer_stop(l, t);
}

static void victim_cb(struct loop *l, struct loop_timer *t, void *udata)
{
	(void)l;
	(void)t;
	((struct tt_ctx *)udata)->victim_calls++;
}

static void stopper_cb(struct loop *l, struct loop_timer *t, void *udata)
{
	(void)t;
	struct tt_ctx *c = udata;
	c->stopper_calls++;
	loop_timer_stop(l, &c->victim);   /* due in the same pass */
	loop_timer_start(l, &c->late, 10);
}

static void test_timer_callbacks_restart_and_stop(void **state)
{
	(void)state;
	struct fake_clock clk = { 0 };
	struct loop *l = loop_new();
	struct tt_ctx c;
	memset(&c, 0, sizeof(c));
	c.stop_after = 3;
	loop_set_clock(l, fake_now, &clk);
	loop_timer_init(&c.self_restart, self_restart_cb, &c);
	loop_timer_init(&c.victim, victim_cb, &c);
	loop_timer_init(&c.stopper, stopper_cb, &c);
	loop_timer_init(&c.late, victim_cb, &c);

	assert_int_equal(loop_timer_start(l, &c.self_restart, 0), 0);
	/* stopper starts first, so it runs before victim at the same deadline. */
	assert_int_equal(loop_timer_start(l, &c.stopper, 5), 0);
	assert_int_equal(loop_timer_start(l, &c.victim, 5), 0);

	assert_int_equal(loop_run_once(l, 0), 1);
	assert_int_equal(c.self_calls, 1);
	assert_true(loop_timer_active(&c.self_restart));
	assert_int_equal(loop_run_once(l, 0), 1);
	assert_int_equal(loop_run_once(l, 0), 1);
	assert_int_equal(c.self_calls, 3);
	assert_false(loop_timer_active(&c.self_restart));
	assert_int_equal(loop_run_once(l, 0), 0);

	clk.now = 5;
	assert_int_equal(loop_run_once(l, 0), 1);
	assert_int_equal(c.stopper_calls, 1);
	assert_int_equal(c.victim_calls, 0);
	assert_false(loop_timer_active(&c.victim));
	assert_true(loop_timer_active(&c.late));
	assert_int_equal(loop_timer_when(&c.late), 15);

	clk.now = 14;
	assert_int_equal(loop_run_once(l, 0), 0);
	clk.now = 15;
	assert_int_equal(loop_run_once(l, 0), 1);
	assert_int_equal(c.victim_calls, 1); /* the late one */
	loop_free(l);
}

/* Real clock: the sleep ends when the nearest timer is due. */
static void count_cb(struct loop *l, struct loop_timer *t, void *udata)
{
	(void)l;
	(void)t;
	(*(int *)udata)++;
}

static void test_timer_real_clock(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct loop_timer t;
	int fired = 0;
	loop_timer_init(&t, count_cb, &fired);
	uint64_t start = loop_update_time(l);
	assert_int_equal(loop_timer_start(l, &t, 2), 0);
	for (int i = 0; i < 1000 && fired == 0; i++)
		assert_true(loop_run_once(l, -1) >= 0);
	assert_int_equal(fired, 1);
	assert_true(loop_now_ms(l) >= start + 2);
	loop_free(l);
}

/* ---- stop / run ---- */

static void stop_cb(struct loop *l, struct loop_timer *t, void *udata)
{
	int *n = udata;
	if (++*n == 5)
		loop_stop(l);
	else
		loop_timer_start(l, t, 0);
}

static void test_run_until_stop(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct loop_timer t;
	int n = 0;
	loop_timer_init(&t, stop_cb, &n);
	loop_timer_start(l, &t, 0);
	assert_int_equal(loop_run(l), 0);
	assert_int_equal(n, 5);
	/* Stop requested before run: one pass, then return. */
	loop_stop(l);
	assert_int_equal(loop_run(l), 0);
	loop_free(l);
}

/* ---- signals ---- */

struct sig_ctx {
	int usr1, usr2;
	int last;
};

static void sig_cb(struct loop *l, int signo, void *udata)
{
	(void)l;
	struct sig_ctx *c = udata;
	c->last = signo;
	if (signo == SIGUSR1)
		c->usr1++;
	else if (signo == SIGUSR2)
		c->usr2++;
}

static bool blocked(int signo)
{
	sigset_t cur;
	sigprocmask(SIG_BLOCK, NULL, &cur);
	return sigismember(&cur, signo);
}

static void test_signals(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	struct sig_ctx c;
	memset(&c, 0, sizeof(c));

	assert_int_equal(loop_signal(l, 0, sig_cb, &c), -EINVAL);
	assert_int_equal(loop_signal(l, SIGKILL, sig_cb, &c), -EINVAL);
	assert_int_equal(loop_signal(l, 1000, sig_cb, &c), -EINVAL);

	assert_false(blocked(SIGUSR1));
	assert_int_equal(loop_signal(l, SIGUSR1, sig_cb, &c), 0);
	assert_int_equal(loop_signal(l, SIGUSR2, sig_cb, &c), 0);
	assert_true(blocked(SIGUSR1));

	assert_int_equal(raise(SIGUSR1), 0);
	for (int i = 0; i < 100 && c.usr1 == 0; i++)
		assert_true(loop_run_once(l, -1) >= 0);
	assert_int_equal(c.usr1, 1);
	assert_int_equal(c.last, SIGUSR1);

	assert_int_equal(raise(SIGUSR2), 0);
	for (int i = 0; i < 100 && c.usr2 == 0; i++)
		assert_true(loop_run_once(l, -1) >= 0);
	assert_int_equal(c.usr2, 1);
	assert_int_equal(c.usr1, 1);

	/* Removing gives the signal back to its previous disposition. */
	assert_int_equal(loop_signal(l, SIGUSR2, NULL, NULL), 0);
	assert_false(blocked(SIGUSR2));
	assert_true(blocked(SIGUSR1));

	/* A pending, undelivered signal is discarded by loop_free. */
	assert_int_equal(raise(SIGUSR1), 0);
	loop_free(l);
	assert_false(blocked(SIGUSR1));
	assert_int_equal(c.usr1, 1);
}

/* ---- deferred close and hooks ---- */

struct dobj {
	struct loop_deferred d;
	int id;
	int *log;
	size_t *nlog;
	struct loop *l;
	struct dobj *requeue; /* queue this one from our fn */
	bool heap;
};

static void dobj_reap(void *arg)
{
	struct dobj *o = arg;
	o->log[(*o->nlog)++] = o->id;
	if (o->requeue != NULL)
		loop_defer(o->l, &o->requeue->d, dobj_reap, o->requeue);
	if (o->heap)
		free(o);
}

struct hook_ctx {
	int calls;
	size_t reaped_at_hook;
	size_t *nlog;
	struct loop_deferred *to_defer;
	struct dobj *defer_obj;
	bool remove_self;
	bool add_other;
	int other_calls;
};

static void other_hook(struct loop *l, void *udata)
{
	(void)l;
	((struct hook_ctx *)udata)->other_calls++;
}

static void hook(struct loop *l, void *udata)
{
	struct hook_ctx *h = udata;
	h->calls++;
	h->reaped_at_hook = *h->nlog;
	if (h->defer_obj != NULL) {
		loop_defer(l, &h->defer_obj->d, dobj_reap, h->defer_obj);
		h->defer_obj = NULL;
	}
	if (h->add_other) {
		h->add_other = false;
		loop_before_sleep(l, other_hook, h);
	}
	if (h->remove_self)
		loop_before_sleep_remove(l, hook, h);
}

static void test_deferred_order_and_requeue(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int log[16];
	size_t nlog = 0;
	struct dobj o[5];
	struct hook_ctx h;
	memset(o, 0, sizeof(o));
	memset(&h, 0, sizeof(h));
	for (int i = 0; i < 5; i++) {
		o[i].id = i + 1;
		o[i].log = log;
		o[i].nlog = &nlog;
		o[i].l = l;
	}
	o[0].requeue = &o[3]; /* queued while reaping: same pass, at the end */
	o[1].requeue = &o[2]; /* still queued: no-op (idempotent) */
	h.nlog = &nlog;
	assert_int_equal(loop_before_sleep(l, hook, &h), 0);

	loop_defer(l, &o[0].d, dobj_reap, &o[0]);
	loop_defer(l, &o[1].d, dobj_reap, &o[1]);
	loop_defer(l, &o[0].d, dobj_reap, &o[0]); /* idempotent */
	loop_defer(l, &o[2].d, dobj_reap, &o[2]);
	assert_true(loop_deferred_queued(&o[0].d));

	assert_int_equal(loop_run_once(l, 0), 0);
	int want[] = { 1, 2, 3, 4 };
	assert_int_equal(nlog, 4);
	assert_memory_equal(log, want, sizeof(want));
	assert_false(loop_deferred_queued(&o[0].d));
	/* The hook ran after reaping. */
	assert_int_equal(h.calls, 1);
	assert_int_equal(h.reaped_at_hook, 4);

	/* A hook's deferral is reaped before the same sleep. */
	h.defer_obj = &o[4];
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(h.calls, 2);
	assert_int_equal(nlog, 5);
	assert_int_equal(log[4], 5);

	/* A heap object freed by its own reap fn (ASan watches). */
	struct dobj *ho = calloc(1, sizeof(*ho));
	ho->id = 9;
	ho->log = log;
	ho->nlog = &nlog;
	ho->heap = true;
	loop_defer(l, &ho->d, dobj_reap, ho);
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_int_equal(log[5], 9);

	/* Pending entries are reaped by loop_free. */
	loop_defer(l, &o[2].d, dobj_reap, &o[2]);
	loop_free(l);
	assert_int_equal(nlog, 7);
	assert_int_equal(log[6], 3);
}

static void test_before_sleep_hooks(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	size_t nlog = 0;
	struct hook_ctx h;
	memset(&h, 0, sizeof(h));
	h.nlog = &nlog;

	assert_int_equal(loop_before_sleep(l, NULL, NULL), -EINVAL);
	assert_int_equal(loop_before_sleep(l, hook, &h), 0);
	for (int i = 0; i < 3; i++)
		loop_run_once(l, 0);
	assert_int_equal(h.calls, 3);

	/* Added from a hook: runs from the next iteration on. */
	h.add_other = true;
	loop_run_once(l, 0);
	assert_int_equal(h.other_calls, 0);
	loop_run_once(l, 0);
	assert_int_equal(h.other_calls, 1);

	/* Removing itself from inside: no more calls, others unaffected. */
	h.remove_self = true;
	loop_run_once(l, 0);
	int calls = h.calls;
	loop_run_once(l, 0);
	assert_int_equal(h.calls, calls);
	assert_int_equal(h.other_calls, 3);

	loop_before_sleep_remove(l, other_hook, &h);
	loop_before_sleep_remove(l, other_hook, &h); /* no-op */
	loop_run_once(l, 0);
	assert_int_equal(h.other_calls, 3);
	loop_free(l);
}

/*
 * The pattern the daemon uses: an object closes on EOF inside its fd
 * callback, unwatches, and defers its free; the loop frees it before
 * sleeping, never inside the callback.
 */
struct conn {
	struct loop_deferred d;
	int fd;
	bool *freed;
};

static void conn_free(void *arg)
{
	struct conn *c = arg;
	*c->freed = true;
	close(c->fd);
	free(c);
}

static void conn_cb(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct conn *c = udata;
	char b[64];
	ssize_t n = read(fd, b, sizeof(b));
	if (n == 0 || (events & LOOP_HUP)) {
		loop_unwatch(l, fd);
		loop_defer(l, &c->d, conn_free, c);
		loop_defer(l, &c->d, conn_free, c);
		assert_false(*c->freed);
	}
}

static void test_deferred_close_pattern(void **state)
{
	(void)state;
	struct loop *l = loop_new();
	int sv[2];
	bool freed = false;
	mksocketpair(sv);
	struct conn *c = calloc(1, sizeof(*c));
	c->fd = sv[0];
	c->freed = &freed;
	assert_int_equal(loop_watch(l, sv[0], LOOP_READ, conn_cb, c), 0);
	close(sv[1]);
	assert_int_equal(loop_run_once(l, -1), 1);
	assert_false(freed);          /* not inside the callback */
	assert_int_equal(loop_run_once(l, 0), 0);
	assert_true(freed);           /* reaped before the next sleep */
	loop_free(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_watch_read),
		cmocka_unit_test(test_watch_errors_and_mask),
		cmocka_unit_test(test_unwatch_self_in_callback),
		cmocka_unit_test(test_stale_event_removed),
		cmocka_unit_test(test_stale_event_replaced),
		cmocka_unit_test(test_unwatch_close),
		cmocka_unit_test(test_interest_shrinks_mid_batch),
		cmocka_unit_test(test_timer_heap_random),
		cmocka_unit_test(test_timer_callbacks_restart_and_stop),
		cmocka_unit_test(test_timer_real_clock),
		cmocka_unit_test(test_run_until_stop),
		cmocka_unit_test(test_signals),
		cmocka_unit_test(test_deferred_order_and_requeue),
		cmocka_unit_test(test_before_sleep_hooks),
		cmocka_unit_test(test_deferred_close_pattern),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
