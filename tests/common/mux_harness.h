/*
 * mux_harness: one mux engine wrapped as a test application, shared by the
 * unit tests (tests/unit/test_mux.c), the fuzz target (fuzz/fuzz_mux.c) and
 * the interop peer (tests/interop/mux_peer.c). Names are prefixed mh_.
 *
 * The harness owns the engine's mux_ops and plays the application side of
 * mux.h's contract, checking it as it goes:
 *  - emit(): every call holds whole, well-formed frames (a 12-byte header
 *    iovec, then exactly `length` payload bytes for Data; version 0, a known
 *    type, Data within max_frame and without flags, WindowUpdate delta within
 *    the receive window, Ping and GoAway on stream 0). Each frame goes to
 *    on_frame; with `capture` the bytes are appended to out[] (read back
 *    with mh_next_frame / MH_EXPECT); then the whole call goes to on_emit.
 *  - every other callback: finds the stream's record (udata), checks that
 *    no event comes for a released stream, none after a reset, no data
 *    after FIN, stream data points into the buffer being fed (zero copy),
 *    established only for our opens and once, writable with an open window,
 *    session_closed once and after every held stream was told. Then it
 *    records the event (counters, pending bytes, the data with `collect`,
 *    the event log with `log_events`), applies auto_accept / auto_consume,
 *    and calls on_event last.
 * A failed check calls on_fail, which must not return (cmocka's fail_msg,
 * the peer's dump-and-exit); without one the message goes to stderr and the
 * process aborts (the fuzzer).
 *
 * Records: a fixed table of rec_cap stream records, allocated once, so a
 * record pointer stays valid for the harness's life. MH_SLOTS_APPEND: each
 * stream gets the next record and keeps it after release (a full table is a
 * failure). MH_SLOTS_REUSE: the first free record; a stream that finds the
 * table full is released at once, without an event.
 *
 * Input: mh_feed() passes an exact-size heap copy to mux_input(), so ASan
 * catches a read past it; mh_input() passes the caller's buffer as is. The
 * clock is h->now, given to the engine by mh_feed/mh_input/mh_tick; a test
 * moves it by hand, the interop peer sets it from its loop.
 *
 * Ownership: mh_new() / mh_free() (NULL-safe); mh_free() frees the engine
 * and every held stream without callbacks, and the records' data.
 */
#ifndef THRESHOLD_TESTS_MUX_HARNESS_H
#define THRESHOLD_TESTS_MUX_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "mux/mux.h"
#include "wire/yamux_frame.h"

enum mh_ev_kind {
	MH_EV_OPEN = 1,
	MH_EV_ESTABLISHED,
	MH_EV_DATA,
	MH_EV_FIN,
	MH_EV_RESET,
	MH_EV_WRITABLE,
	MH_EV_CLOSED,
	MH_EV_PONG,
	MH_EV_GOAWAY,
};

struct mh;

struct mh_event {
	int kind;
	uint32_t id;	     /* stream id, 0 for session events */
	int err;	     /* RESET, CLOSED */
	size_t n;	     /* DATA: bytes; PONG: rtt in ms */
	const uint8_t *data; /* DATA: the payload, during on_event only (NULL in the log) */
};

/* What the application knows about one stream. */
struct mh_stream {
	struct mh *h;
	struct mux_stream *s; /* NULL once released */
	uint32_t id;
	int idx;	  /* index in h->rec */
	bool mine;	  /* opened by mh_open(), not by the peer */
	size_t pending;	  /* delivered, not yet consumed */
	int fins, resets, reset_err, established, writable;
	bool self_reset;  /* mh_reset() called */
	uint8_t *data;	  /* with h->collect: every byte delivered */
	size_t len, cap;
	void *app;	  /* the program's own state for the stream */
	bool est_seen;	  /* the harness's own "established once" check */
};

enum mh_slots { MH_SLOTS_APPEND, MH_SLOTS_REUSE };

struct mh {
	struct mux *m;
	struct mux_config cfg; /* as given to mh_new (the defaults for NULL) */
	uint32_t recv_window, max_frame; /* cfg's, as the engine normalises them */
	uint64_t now;	       /* the clock given to the engine */

	/* The program's side; set after mh_new, before the first input. */
	void *app;
	int hook_state; /* free for the hooks */
	void (*on_fail)(struct mh *h, const char *msg); /* must not return */
	void (*on_event)(struct mh *h, const struct mh_event *ev, struct mh_stream *r);
	void (*on_frame)(struct mh *h, const struct yamux_hdr *hd, const struct iovec *payload,
			 int npayload);
	void (*on_emit)(struct mh *h, const struct iovec *iov, int iovcnt);
	bool auto_accept, auto_consume; /* accept inbound streams / consume data at once */
	bool capture;			/* append emitted bytes to out[] */
	bool collect;			/* append delivered data to the record */
	bool log_events;		/* keep every event in ev[] */
	enum mh_slots slots;

	/* Emitted: everything with `capture`, in order; out_pos = frames read. */
	uint8_t *out;
	size_t out_len, out_cap, out_pos;
	int emits;
	struct iovec last_iov[8 * (MUX_MAX_IOV + 2)]; /* the last emit() call */
	int last_iovcnt;

	/* The input buffer being fed (stream data must point into it). */
	const uint8_t *in_lo, *in_hi;

	struct mh_event *ev;
	int nev, ev_cap;
	struct mh_stream *rec;
	int nrec, rec_cap; /* nrec: records used so far (the high-water mark) */
	int closed_calls, closed_err;
	uint32_t pong_rtt;
};

/* A harness with room for rec_cap stream records and its engine, created at
 * now_ms. cfg NULL: the engine gets NULL (its defaults), h->cfg the same
 * defaults. Fails (on_fail is not set yet: abort) only without memory. */
struct mh *mh_new(const struct mux_config *cfg, int rec_cap, uint64_t now_ms);
void mh_free(struct mh *h);

/* Reports a failed check through on_fail; does not return. */
void mh_failf(struct mh *h, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

/* Feeds n bytes from an exact-size copy / from p itself, at h->now.
 * Returns mux_input()'s answer (0 or a negative mux_err). */
int mh_feed(struct mh *h, const void *p, size_t n);
int mh_input(struct mh *h, const uint8_t *p, size_t n);
/* One frame from the peer: the header, then plen payload bytes (payload, or a
 * pattern when payload is NULL). mh_feed_frame: plen is len for Data, else 0;
 * mh_feed_hdr: the header alone. */
int mh_feed_frame_n(struct mh *h, uint8_t type, uint16_t flags, uint32_t id, uint32_t len,
		    const void *payload, size_t plen);
int mh_feed_frame(struct mh *h, uint8_t type, uint16_t flags, uint32_t id, uint32_t len,
		  const void *payload);
int mh_feed_hdr(struct mh *h, uint8_t type, uint16_t flags, uint32_t id, uint32_t len);
/* Sets h->now and runs the engine's timers; after it nothing is overdue. */
int mh_tick(struct mh *h, uint64_t now_ms);

/* Opens a stream and gives it a record. err NULL: the open must succeed.
 * Otherwise NULL with *err < 0 when the engine refuses, or NULL with
 * *err == 0 when a MH_SLOTS_REUSE table is full (the stream is released). */
struct mh_stream *mh_open(struct mh *h, int *err);
/* Drops the handle (mux_stream_release); the record stays, with s NULL. */
void mh_release(struct mh_stream *r);
/* Reports n of the pending bytes consumed (n must not exceed pending). */
void mh_consume(struct mh_stream *r, size_t n);
/* mux_stream_write() of one buffer. */
ssize_t mh_write(struct mh_stream *r, const void *p, size_t n);
/* mux_stream_reset(), remembered so session_closed does not expect an event. */
int mh_reset(struct mh_stream *r);

/* The latest record of stream id (fails if there is none). */
struct mh_stream *mh_rec_by_id(struct mh *h, uint32_t id);
/* Logged events of a kind (for stream events: of stream id). */
int mh_count_ev(const struct mh *h, int kind, uint32_t id);
/* The engine agrees with the records: buffered bytes, windows, closed state. */
void mh_check(struct mh *h);

/* Captured output: the next frame not yet read (false when none is whole). */
bool mh_next_frame(struct mh *h, struct yamux_hdr *hd, const uint8_t **payload);
/* The next frame must be this one; returns its payload. */
const uint8_t *mh_expect_frame_at(struct mh *h, uint8_t type, uint16_t flags, uint32_t id,
				  uint32_t len, int line);
/* No unread frame may be left. */
void mh_expect_none_at(struct mh *h, int line);
/* Marks everything captured so far as read. */
void mh_drain(struct mh *h);
#define MH_EXPECT(h, t, f, id, len) mh_expect_frame_at((h), (t), (f), (id), (len), __LINE__)
#define MH_EXPECT_NONE(h) mh_expect_none_at((h), __LINE__)

#endif
