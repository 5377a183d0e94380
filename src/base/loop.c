/*
 * loop: see loop.h.
 *
 * Watchers: slots[] indexed by fd, grown on demand. epoll_event.data.u64
 * holds (generation << 32 | fd); loop_unwatch bumps the slot's generation
 * so stale events in the current batch are recognised and skipped.
 *
 * Timers: a binary min-heap of pointers ordered by (when_ms, seq); each
 * timer stores its index + 1, so stop and restart are O(log n).
 *
 * Signals: one signalfd for all handled signals, watched like any fd.
 */
#include "base/loop.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "base/util.h"

#define LOOP_MAX_EVENTS 256
#define LOOP_IO_MASK (LOOP_READ | LOOP_WRITE)

struct fd_slot {
	loop_io_fn cb;
	void *udata;
	uint32_t mask; /* interest; registered in epoll iff in_epoll */
	uint32_t gen;
	bool active;
	bool in_epoll;
};

struct hook {
	loop_hook_fn fn; /* NULL: removed while the hooks ran */
	void *udata;
};

struct sig_handler {
	loop_signal_fn cb;
	void *udata;
};

struct loop {
	int epfd;
	bool stop;
	bool in_hooks;
	bool hooks_dirty;

	struct fd_slot *slots;
	size_t nslots;
	size_t nactive;	   /* slots with active watchers */
	size_t scanned_at; /* nactive when the shrink scan last found nothing to do */

	struct loop_timer **heap;
	size_t heap_len, heap_cap;
	uint64_t timer_seq;

	uint64_t now_ms;
	loop_clock_fn clock;
	void *clock_udata;

	struct loop_deferred *defer_head, *defer_tail;

	struct hook *hooks;
	size_t nhooks, hooks_cap;

	int sigfd;
	sigset_t sigs;	    /* handled */
	sigset_t sigs_ours; /* blocked by us, unblocked when released */
	struct sig_handler sig[NSIG];

	uint64_t ncalls; /* user callbacks run, for loop_run_once's result */
	struct epoll_event events[LOOP_MAX_EVENTS];
};

/* ---- clock ---- */

static uint64_t monotonic_ms(void *udata)
{
	struct timespec ts;
	(void)udata;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

uint64_t loop_now_ms(const struct loop *l)
{
	return l->now_ms;
}

uint64_t loop_update_time(struct loop *l)
{
	l->now_ms = l->clock(l->clock_udata);
	return l->now_ms;
}

void loop_set_clock(struct loop *l, loop_clock_fn fn, void *udata)
{
	l->clock = fn != NULL ? fn : monotonic_ms;
	l->clock_udata = fn != NULL ? udata : NULL;
	loop_update_time(l);
}

/* ---- life cycle ---- */

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (l->epfd < 0) {
		int e = errno;
		free(l);
		errno = e;
		return NULL;
	}
	l->sigfd = -1;
	sigemptyset(&l->sigs);
	sigemptyset(&l->sigs_ours);
	l->clock = monotonic_ms;
	loop_update_time(l);
	return l;
}

static void reap(struct loop *l)
{
	while (l->defer_head != NULL) {
		struct loop_deferred *d = l->defer_head;
		l->defer_head = d->next;
		if (l->defer_head == NULL)
			l->defer_tail = NULL;
		d->next = NULL;
		d->queued = false;
		d->fn(d->arg);
	}
}

/* Read and discard what the signalfd holds. */
static void drain_sigfd(int fd)
{
	struct signalfd_siginfo si[8];
	for (int i = 0; i < 64; i++) {
		ssize_t n = read(fd, si, sizeof(si));
		if (n <= 0 && !(n < 0 && errno == EINTR))
			break;
	}
}

void loop_free(struct loop *l)
{
	if (l == NULL)
		return;
	reap(l);
	if (l->sigfd >= 0) {
		drain_sigfd(l->sigfd);
		close(l->sigfd);
	}
	sigprocmask(SIG_UNBLOCK, &l->sigs_ours, NULL);
	close(l->epfd);
	free(l->slots);
	free(l->heap);
	free(l->hooks);
	free(l);
}

void loop_stop(struct loop *l)
{
	l->stop = true;
}

/* ---- fd watchers ---- */

static struct fd_slot *slot_get(const struct loop *l, int fd)
{
	if (fd < 0 || (size_t)fd >= l->nslots || !l->slots[fd].active)
		return NULL;
	return &l->slots[fd];
}

static int slots_grow(struct loop *l, int fd)
{
	size_t n = l->nslots != 0 ? l->nslots : 64;
	while (n <= (size_t)fd)
		n *= 2;
	struct fd_slot *s = realloc(l->slots, n * sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	memset(s + l->nslots, 0, (n - l->nslots) * sizeof(*s));
	l->slots = s;
	l->nslots = n;
	return 0;
}

/* Bring epoll in line with `mask` for slot fd. 0 or -errno. */
static int epoll_apply(struct loop *l, int fd, struct fd_slot *s,
		       uint32_t mask)
{
	struct epoll_event ev;
	int op;

	if (mask == 0) {
		if (s->in_epoll) {
			/* Errors (e.g. fd already closed) leave nothing to undo. */
			epoll_ctl(l->epfd, EPOLL_CTL_DEL, fd, NULL);
			s->in_epoll = false;
		}
		s->mask = 0;
		return 0;
	}
	memset(&ev, 0, sizeof(ev));
	ev.events = ((mask & LOOP_READ) ? EPOLLIN : 0u) |
		    ((mask & LOOP_WRITE) ? EPOLLOUT : 0u);
	ev.data.u64 = (uint64_t)s->gen << 32 | (uint32_t)fd;
	op = s->in_epoll ? EPOLL_CTL_MOD : EPOLL_CTL_ADD;
	if (epoll_ctl(l->epfd, op, fd, &ev) < 0)
		return -errno;
	s->in_epoll = true;
	s->mask = mask;
	return 0;
}

int loop_watch(struct loop *l, int fd, uint32_t mask, loop_io_fn cb,
	       void *udata)
{
	if (fd < 0)
		return -EBADF;
	if (cb == NULL)
		return -EINVAL;
	if ((size_t)fd >= l->nslots && slots_grow(l, fd) < 0)
		return -ENOMEM;
	struct fd_slot *s = &l->slots[fd];
	if (s->active)
		return -EEXIST;
	s->cb = cb;
	s->udata = udata;
	s->mask = 0;
	s->in_epoll = false;
	int rc = epoll_apply(l, fd, s, mask & LOOP_IO_MASK);
	if (rc < 0)
		return rc;
	s->active = true;
	l->nactive++;
	return 0;
}

int loop_watch_set(struct loop *l, int fd, uint32_t mask)
{
	struct fd_slot *s = slot_get(l, fd);
	if (s == NULL)
		return -ENOENT;
	mask &= LOOP_IO_MASK;
	if (mask == s->mask)
		return 0;
	return epoll_apply(l, fd, s, mask);
}

int loop_watch_enable(struct loop *l, int fd, uint32_t bits)
{
	struct fd_slot *s = slot_get(l, fd);
	if (s == NULL)
		return -ENOENT;
	return loop_watch_set(l, fd, s->mask | bits);
}

int loop_watch_disable(struct loop *l, int fd, uint32_t bits)
{
	struct fd_slot *s = slot_get(l, fd);
	if (s == NULL)
		return -ENOENT;
	return loop_watch_set(l, fd, s->mask & ~bits);
}

uint32_t loop_watch_mask(const struct loop *l, int fd)
{
	const struct fd_slot *s = slot_get(l, fd);
	return s != NULL ? s->mask : 0;
}

bool loop_watching(const struct loop *l, int fd)
{
	return slot_get(l, fd) != NULL;
}

void loop_unwatch(struct loop *l, int fd)
{
	struct fd_slot *s = slot_get(l, fd);
	if (s == NULL)
		return;
	epoll_apply(l, fd, s, 0);
	s->active = false;
	s->cb = NULL;
	s->udata = NULL;
	s->gen++;
	l->nactive--;
}

void loop_unwatch_close(struct loop *l, int fd)
{
	struct fd_slot *s = slot_get(l, fd);
	if (s != NULL) {
		s->in_epoll = false; /* close() takes it out of the epoll set */
		loop_unwatch(l, fd);
	}
	if (fd >= 0)
		close(fd);
}

/*
 * After a burst of connections the slot table (one slot per fd number, up
 * to the highest fd seen) would keep its size forever. Before sleeping,
 * when few slots are active, the table is cut down to what the highest
 * active fd needs. Only between batches: dropping a slot loses its
 * generation, which is safe when no fetched event can refer to it.
 */
static void slots_maybe_shrink(struct loop *l)
{
	if (l->nslots <= 1024 || l->nactive * 8 >= l->nslots)
		return;
	if (l->scanned_at != 0 && l->nactive * 2 > l->scanned_at)
		return; /* nothing to gain since the last scan */
	size_t top = l->nslots;
	while (top > 0 && !l->slots[top - 1].active)
		top--;
	size_t n = 1024;
	while (n < 2 * top)
		n *= 2;
	if (n * 2 > l->nslots) {
		l->scanned_at = l->nactive ? l->nactive : 1;
		return;
	}
	struct fd_slot *ns = realloc(l->slots, n * sizeof(*ns));
	if (ns == NULL)
		return;
	l->slots = ns;
	l->nslots = n;
	l->scanned_at = 0;
}

static void dispatch(struct loop *l, const struct epoll_event *e)
{
	int fd = (int)(uint32_t)e->data.u64;
	uint32_t gen = (uint32_t)(e->data.u64 >> 32);
	struct fd_slot *s = slot_get(l, fd);

	/* Removed (or removed and re-added) since the batch was fetched. */
	if (s == NULL || s->gen != gen || s->mask == 0)
		return;
	uint32_t ev = 0;
	if (e->events & EPOLLIN)
		ev |= LOOP_READ;
	if (e->events & EPOLLOUT)
		ev |= LOOP_WRITE;
	if (e->events & EPOLLERR)
		ev |= LOOP_ERROR | s->mask;
	if (e->events & (EPOLLHUP | EPOLLRDHUP))
		ev |= LOOP_HUP | s->mask;
	/* Interest may have shrunk since the batch was fetched. */
	ev &= s->mask | LOOP_ERROR | LOOP_HUP;
	if (ev == 0)
		return;
	l->ncalls++;
	s->cb(l, fd, ev, s->udata);
}

/* ---- timers ---- */

static bool timer_before(const struct loop_timer *a, const struct loop_timer *b)
{
	return a->when_ms < b->when_ms ||
	       (a->when_ms == b->when_ms && a->seq < b->seq);
}

/* Invariant: heap[i]->heap_idx == i + 1 for every i < heap_len, and an
 * active timer's heap_idx points back at its own slot. */
static void heap_set(struct loop *l, size_t i, struct loop_timer *t)
{
	assert(i < l->heap_len);
	l->heap[i] = t;
	t->heap_idx = i + 1;
}

static void sift_up(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];
	while (i > 0) {
		size_t p = (i - 1) / 2;
		if (!timer_before(t, l->heap[p]))
			break;
		heap_set(l, i, l->heap[p]);
		i = p;
	}
	heap_set(l, i, t);
}

static void sift_down(struct loop *l, size_t i)
{
	struct loop_timer *t = l->heap[i];
	size_t n = l->heap_len;
	for (;;) {
		size_t c = 2 * i + 1;
		if (c >= n)
			break;
		if (c + 1 < n && timer_before(l->heap[c + 1], l->heap[c]))
			c++;
		if (!timer_before(l->heap[c], t))
			break;
		heap_set(l, i, l->heap[c]);
		i = c;
	}
	heap_set(l, i, t);
}

static void heap_remove(struct loop *l, size_t i)
{
	assert(i < l->heap_len);
	struct loop_timer *t = l->heap[i];
	assert(t->heap_idx == i + 1);
	struct loop_timer *last = l->heap[--l->heap_len];
	t->heap_idx = 0;
	if (i == l->heap_len)
		return;
	heap_set(l, i, last);
	if (i > 0 && timer_before(last, l->heap[(i - 1) / 2]))
		sift_up(l, i);
	else
		sift_down(l, i);
}

void loop_timer_init(struct loop_timer *t, loop_timer_fn cb, void *udata)
{
	t->when_ms = 0;
	t->seq = 0;
	t->heap_idx = 0;
	t->cb = cb;
	t->udata = udata;
}

int loop_timer_start(struct loop *l, struct loop_timer *t, uint64_t delay_ms)
{
	uint64_t when = l->now_ms + delay_ms;
	if (when < l->now_ms)
		when = UINT64_MAX;
	if (t->heap_idx != 0) {
		size_t i = t->heap_idx - 1;
		assert(i < l->heap_len && l->heap[i] == t); /* active on this loop */
		t->when_ms = when;
		t->seq = l->timer_seq++;
		/* Moved: restore heap order in whichever direction it broke. */
		if (i > 0 && timer_before(t, l->heap[(i - 1) / 2]))
			sift_up(l, i);
		else
			sift_down(l, i);
		return 0;
	}
	if (l->heap_len == l->heap_cap) {
		size_t n = l->heap_cap != 0 ? l->heap_cap * 2 : 64;
		struct loop_timer **h = realloc(l->heap, n * sizeof(*h));
		if (h == NULL)
			return -ENOMEM;
		l->heap = h;
		l->heap_cap = n;
	}
	t->when_ms = when;
	t->seq = l->timer_seq++;
	l->heap[l->heap_len] = t;
	l->heap_len++;
	sift_up(l, l->heap_len - 1);
	return 0;
}

void loop_timer_stop(struct loop *l, struct loop_timer *t)
{
	if (t->heap_idx == 0)
		return;
	assert(t->heap_idx <= l->heap_len && l->heap[t->heap_idx - 1] == t); /* active on this loop */
	heap_remove(l, t->heap_idx - 1);
}

static void run_timers(struct loop *l)
{
	/* Timers started from here on have seq >= pass and wait a pass. */
	uint64_t pass = l->timer_seq;
	while (l->heap_len > 0) {
		struct loop_timer *t = l->heap[0];
		if (t->when_ms > l->now_ms || t->seq >= pass)
			break;
		heap_remove(l, 0);
		l->ncalls++;
		t->cb(l, t, t->udata);
	}
}

/* ---- signals ---- */

static void on_signalfd(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct signalfd_siginfo si[8];
	(void)udata;
	(void)events;
	/* Bounded: pending signals coalesce, a few reads empty the queue. */
	for (int round = 0; round < 8; round++) {
		ssize_t n = read(fd, si, sizeof(si));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return;
		for (size_t i = 0; i < (size_t)n / sizeof(si[0]); i++) {
			int signo = (int)si[i].ssi_signo;
			if (signo <= 0 || signo >= NSIG)
				continue;
			struct sig_handler *h = &l->sig[signo];
			if (h->cb == NULL)
				continue;
			l->ncalls++;
			h->cb(l, signo, h->udata);
		}
	}
}

/* Point the signalfd at l->sigs, creating and watching it if needed. */
static int sigfd_update(struct loop *l)
{
	int fd = signalfd(l->sigfd, &l->sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (l->sigfd < 0) {
		int rc = loop_watch(l, fd, LOOP_READ, on_signalfd, NULL);
		if (rc < 0) {
			close(fd);
			return rc;
		}
		l->sigfd = fd;
	}
	return 0;
}

int loop_signal(struct loop *l, int signo, loop_signal_fn cb, void *udata)
{
	sigset_t one, old;
	int rc;

	if (signo <= 0 || signo >= NSIG || signo == SIGKILL || signo == SIGSTOP)
		return -EINVAL;
	sigemptyset(&one);
	sigaddset(&one, signo);

	if (cb == NULL) {
		if (!sigismember(&l->sigs, signo))
			return 0;
		sigdelset(&l->sigs, signo);
		l->sig[signo].cb = NULL;
		l->sig[signo].udata = NULL;
		rc = sigfd_update(l);
		if (sigismember(&l->sigs_ours, signo)) {
			sigdelset(&l->sigs_ours, signo);
			sigprocmask(SIG_UNBLOCK, &one, NULL);
		}
		return rc;
	}

	if (!sigismember(&l->sigs, signo)) {
		if (sigprocmask(SIG_BLOCK, &one, &old) < 0)
			return -errno;
		sigaddset(&l->sigs, signo);
		rc = sigfd_update(l);
		if (rc < 0) {
			sigdelset(&l->sigs, signo);
			if (!sigismember(&old, signo))
				sigprocmask(SIG_UNBLOCK, &one, NULL);
			return rc;
		}
		if (!sigismember(&old, signo))
			sigaddset(&l->sigs_ours, signo);
	}
	l->sig[signo].cb = cb;
	l->sig[signo].udata = udata;
	return 0;
}

/* ---- deferred close and hooks ---- */

void loop_defer(struct loop *l, struct loop_deferred *d, loop_deferred_fn fn,
		void *arg)
{
	if (d->queued)
		return;
	d->fn = fn;
	d->arg = arg;
	d->next = NULL;
	d->queued = true;
	if (l->defer_tail != NULL)
		l->defer_tail->next = d;
	else
		l->defer_head = d;
	l->defer_tail = d;
}

int loop_before_sleep(struct loop *l, loop_hook_fn fn, void *udata)
{
	if (fn == NULL)
		return -EINVAL;
	if (l->nhooks == l->hooks_cap) {
		size_t n = l->hooks_cap != 0 ? l->hooks_cap * 2 : 8;
		struct hook *h = realloc(l->hooks, n * sizeof(*h));
		if (h == NULL)
			return -ENOMEM;
		l->hooks = h;
		l->hooks_cap = n;
	}
	l->hooks[l->nhooks].fn = fn;
	l->hooks[l->nhooks].udata = udata;
	l->nhooks++;
	return 0;
}

static void hooks_compact(struct loop *l)
{
	size_t j = 0;
	for (size_t i = 0; i < l->nhooks; i++)
		if (l->hooks[i].fn != NULL)
			l->hooks[j++] = l->hooks[i];
	l->nhooks = j;
	l->hooks_dirty = false;
}

void loop_before_sleep_remove(struct loop *l, loop_hook_fn fn, void *udata)
{
	for (size_t i = 0; i < l->nhooks; i++) {
		if (l->hooks[i].fn == fn && l->hooks[i].udata == udata) {
			l->hooks[i].fn = NULL;
			l->hooks_dirty = true;
			break;
		}
	}
	if (!l->in_hooks && l->hooks_dirty)
		hooks_compact(l);
}

static void run_hooks(struct loop *l)
{
	size_t n = l->nhooks; /* hooks added now wait for the next pass */
	l->in_hooks = true;
	for (size_t i = 0; i < n; i++) {
		struct hook h = l->hooks[i];
		if (h.fn != NULL)
			h.fn(l, h.udata);
	}
	l->in_hooks = false;
	if (l->hooks_dirty)
		hooks_compact(l);
}

/* ---- iteration ---- */

int loop_run_once(struct loop *l, int max_wait_ms)
{
	uint64_t calls = l->ncalls;
	int timeout;

	reap(l);
	run_hooks(l);
	reap(l);
	slots_maybe_shrink(l);

	loop_update_time(l);
	if (l->stop) {
		timeout = 0;
	} else if (l->heap_len > 0) {
		uint64_t when = l->heap[0]->when_ms;
		uint64_t d = when > l->now_ms ? when - l->now_ms : 0;
		timeout = d > INT_MAX ? INT_MAX : (int)d;
	} else {
		timeout = -1;
	}
	if (max_wait_ms >= 0 && (timeout < 0 || timeout > max_wait_ms))
		timeout = max_wait_ms;

	int n = epoll_wait(l->epfd, l->events, LOOP_MAX_EVENTS, timeout);
	if (n < 0) {
		if (errno != EINTR)
			return -errno;
		n = 0;
	}
	loop_update_time(l);
	for (int i = 0; i < n; i++)
		dispatch(l, &l->events[i]);
	run_timers(l);

	uint64_t d = l->ncalls - calls;
	return d > INT_MAX ? INT_MAX : (int)d;
}

int loop_run(struct loop *l)
{
	int rc = 0;
	/* A stop requested before the call still ends it (after one pass). */
	do {
		rc = loop_run_once(l, -1);
	} while (rc >= 0 && !l->stop);
	reap(l);
	l->stop = false;
	return rc < 0 ? rc : 0;
}
