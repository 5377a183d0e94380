/*
 * mux_peer: the C half of the yamux interop test.
 *
 * One scenario over one TCP connection on the loopback against
 * tests/interop/yamux_peer.go (the reference hashicorp/yamux), driven the
 * way threshold drives the engine: a single-threaded loop (base/loop.h), a
 * nonblocking socket, an output backlog behind emit() flushed with writev,
 * reading paused while the backlog is high, stream data taken by reference
 * in the stream_data callback and credited back with mux_stream_consumed()
 * once disposed of, mux_tick() from a loop timer armed with
 * mux_next_timeout().
 *
 * The per-stream protocol (32-byte header, then a splitmix64 payload checked
 * by SHA-256) is described at the top of yamux_peer.go; both files must
 * agree on it. Exit status 0 when every check passed; otherwise a "FAIL:"
 * line, a dump of the streams and the last frames on the wire, status 1.
 *
 * The engine runs inside the shared test harness (tests/common/mux_harness):
 * it owns the mux_ops, checks every emitted frame and every event against
 * mux.h's contract, and keeps one record per stream (its app pointer is the
 * tstream). This file keeps the transport, the scenarios and the payload
 * protocol.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/loop.h"
#include "base/sock.h"
#include "mux/mux.h"
#include "mux_harness.h"
#include "wire/yamux_frame.h"

#define HDR_LEN 32
#define SIDE_C 0
#define SIDE_GO 1
#define CHUNK (64u * 1024)
#define INBUF_LEN (256u * 1024)
#define OUT_CAP (64u * 1024 * 1024) /* emit() must take everything */
#define OUT_HIGH (1u * 1024 * 1024) /* stop reading and writing above */
#define OUT_LOW (256u * 1024)	    /* resume reading below */
#define HOLD_THRESHOLD (2u * 1024 * 1024)
#define STALL_MS 15000
#define TRACE_RING 256
/* mux.h: "one emit() per frame". Set to 0 if that contract is relaxed to
 * "whole frames per call"; the wire is fine either way. */
#ifndef EMIT_ONE_FRAME_PER_CALL
#define EMIT_ONE_FRAME_PER_CALL 0
#endif

enum scenario { SC_BULK, SC_HALFCLOSE_C, SC_HALFCLOSE_GO, SC_PING, SC_GOAWAY, SC_WINDOW, SC_LINGER };
static const char *const sc_names[] = {"bulk", "halfclose-c", "halfclose-go", "ping", "goaway", "window", "linger"};

struct prng {
	uint64_t s;
	uint8_t left[8];
	unsigned nleft;
};

struct tstream {
	struct peer *p;
	struct mh_stream *rec; /* the harness's record (rec->app is this) */
	struct mux_stream *s;
	size_t slot;
	uint32_t id;
	int opener;
	bool mine; /* opened by this side */
	uint32_t index;
	bool index_known;
	bool recv_first; /* halfclose-go: answer only after the peer's EOF */
	bool established; /* stream_established seen (our opens) */

	/* sending */
	uint8_t hdr_out[HDR_LEN];
	size_t hdr_out_off;
	uint64_t send_len, generated, sent;
	struct prng sgen;
	uint8_t *chunk;
	size_t chunk_len, chunk_off;
	bool fin_sent;
	bool blocked;	   /* a write stopped at an empty send window */
	bool writable_seen; /* stream_writable since then */

	/* receiving */
	uint8_t hdr_in[HDR_LEN];
	size_t hdr_in_have;
	uint64_t recv_len, received, delivered;
	struct prng rgen;
	EVP_MD_CTX *rx, *ex;
	uint64_t mismatch_at; /* first byte differing from the expected, or UINT64_MAX */
	bool fin_rcvd, recv_done;
	size_t credit; /* processed, not yet returned with mux_stream_consumed */

	/* window scenario: data held back, not consumed */
	uint8_t *hold;
	size_t hold_len, hold_cap, max_hold;
	uint64_t buffered_at_max;
	uint32_t recv_max;
};

/* Follows frame boundaries in a byte stream (passively: the engine parses
 * for real). */
struct fwalk {
	uint8_t hdr[YAMUX_HDR_LEN];
	size_t have;
	uint64_t skip;
	uint64_t payload; /* Data payload bytes seen */
	char dir;
};

struct trace_ent {
	uint64_t t;
	char dir;
	struct yamux_hdr h;
};

struct peer {
	struct loop *loop;
	/* options */
	bool client;
	const char *listen_addr, *connect_addr, *portfile;
	enum scenario sc;
	unsigned nstreams;
	uint64_t nbytes, seed;
	unsigned npings;
	uint64_t timeout_ms;
	uint32_t window;
	bool verbose, trace;

	int lfd, fd;
	struct mh *h; /* the engine in the shared harness */
	struct buf out;
	uint8_t *inbuf;
	uint8_t *scratch;
	bool reading_paused, eof, session_done;

	struct tstream **streams; /* 2 * nstreams slots; NULL once released */
	size_t nslots, opened, accepted, completed;
	size_t rr;

	struct loop_timer mux_timer, deadline_timer, watchdog_timer;
	uint64_t start_ms;
	uint64_t last_progress, last_progress_ms;
	uint64_t bytes_in, bytes_out;

	/* ping */
	unsigned pongs, pongs_in_flow;
	bool ping_outstanding;
	uint64_t rtt_sum;

	/* goaway */
	bool goaway_sender, goaway_sent, goaway_checked, saw_payload, remote_goaway_cb;
	bool multi_frame_emit;
	bool sized_writes; /* writes sized to the send window + want_writable */

	/* statistics */
	unsigned read_pauses, writable_cbs, blocked_writes;
	size_t max_backlog;

	/* deferred failures: checks that fail but let the scenario go on */
	unsigned soft_failures;
	char first_soft[512];

	/* frame trace */
	struct trace_ent ring[TRACE_RING];
	size_t ring_n;
	struct fwalk in_walk;
	uint64_t out_payload; /* Data payload bytes emitted */
	size_t emit_frames;   /* frames in the emit() call being checked */
};

static double elapsed(const struct peer *p)
{
	return (double)(loop_update_time(p->loop) - p->start_ms) / 1000.0;
}

static void dump(struct peer *p);
static void note(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A failed check that does not stop the scenario: reported at the end. */
static void soft_fail(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void soft_fail(struct peer *p, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (p->soft_failures++ == 0)
		snprintf(p->first_soft, sizeof(p->first_soft), "%s", msg);
	note(p, "CHECK FAILED (going on): %s", msg);
}

static void finish(struct peer *p);

static void fail(struct peer *p, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));
static void fail(struct peer *p, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_errorx("c[%7.3fs] FAIL: %s", elapsed(p), msg);
	dump(p);
	exit(1);
}

static void note(struct peer *p, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("c[%7.3fs] %s", elapsed(p), msg);
}

/* ---- payload generator (identical to yamux_peer.go) ---- */

static void prng_init(struct prng *g, uint64_t seed, uint32_t index, int opener, int dir)
{
	uint64_t k = (uint64_t)index * 4 + (uint64_t)opener * 2 + (uint64_t)dir;
	g->s = seed ^ (k * 0xD1B54A32D192ED03ull);
	g->nleft = 0;
}

static uint64_t prng_next(struct prng *g)
{
	uint64_t z = (g->s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

static void put_le64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
}

static void prng_fill(struct prng *g, uint8_t *b, size_t n)
{
	while (n > 0 && g->nleft > 0) {
		*b++ = g->left[8 - g->nleft--];
		n--;
	}
	for (; n >= 8; b += 8, n -= 8)
		put_le64(b, prng_next(g));
	if (n > 0) {
		put_le64(g->left, prng_next(g));
		g->nleft = 8;
		while (n > 0) {
			*b++ = g->left[8 - g->nleft--];
			n--;
		}
	}
}

/* ---- stream header ---- */

static void put_be32(uint8_t *b, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		b[i] = (uint8_t)(v >> (24 - 8 * i));
}

static void put_be64(uint8_t *b, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (56 - 8 * i));
}

static uint32_t get_be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static uint64_t get_be64(const uint8_t *b)
{
	return (uint64_t)get_be32(b) << 32 | get_be32(b + 4);
}

static void encode_header(uint8_t *b, int dir, int opener, uint32_t index, uint64_t seed, uint64_t len)
{
	memset(b, 0, HDR_LEN);
	memcpy(b, "TIOP", 4);
	b[4] = (uint8_t)dir;
	b[5] = (uint8_t)opener;
	put_be32(b + 8, index);
	put_be64(b + 16, seed);
	put_be64(b + 24, len);
}

/* ---- frame trace ---- */

static void trace_add(struct peer *p, char dir, const struct yamux_hdr *h)
{
	struct trace_ent *e = &p->ring[p->ring_n++ % TRACE_RING];
	e->t = loop_now_ms(p->loop) - p->start_ms;
	e->dir = dir;
	e->h = *h;
	if (p->trace) {
		char fl[32];
		log_info("c[%7.3fs] %s %s flags=%s id=%" PRIu32 " len=%" PRIu32, elapsed(p),
			 dir == '>' ? "send" : "recv", yamux_type_name(h->type),
			 yamux_flags_str(h->flags, fl, sizeof(fl)), h->stream_id, h->length);
	}
}

static void fwalk_feed(struct peer *p, struct fwalk *w, const uint8_t *b, size_t n)
{
	while (n > 0) {
		if (w->skip > 0) {
			size_t k = w->skip < n ? (size_t)w->skip : n;
			w->skip -= k;
			w->payload += k;
			b += k;
			n -= k;
			continue;
		}
		size_t k = YAMUX_HDR_LEN - w->have;
		if (k > n)
			k = n;
		memcpy(w->hdr + w->have, b, k);
		w->have += k;
		b += k;
		n -= k;
		if (w->have == YAMUX_HDR_LEN) {
			struct yamux_hdr h;
			int r = yamux_hdr_decode(w->hdr, YAMUX_HDR_LEN, &h);
			trace_add(p, w->dir, &h);
			if (r != YAMUX_DECODE_OK)
				fail(p, "%s a malformed frame header (decode %d)", w->dir == '>' ? "emitted" : "received", r);
			w->have = 0;
			if (h.type == YAMUX_DATA)
				w->skip = h.length;
		}
	}
}

/*
 * The input is fed to the engine in segments that each start where a frame
 * header starts (or continue a split one) and end where the next header
 * starts: the header is traced just before the engine sees it, so the trace
 * interleaves received and emitted frames in their true order, while each
 * frame's header and payload still reach mux_input() together.
 */
static size_t fwalk_segment(struct peer *p, struct fwalk *w, const uint8_t *b, size_t n)
{
	if (w->skip > 0) {
		/* The rest of a payload, alone. */
		size_t k = w->skip < n ? (size_t)w->skip : n;
		w->skip -= k;
		w->payload += k;
		return k;
	}
	/* A header (or its rest), then as much of its payload as is here. */
	size_t used = YAMUX_HDR_LEN - w->have;
	if (used > n)
		used = n;
	fwalk_feed(p, w, b, used);
	size_t k = w->skip < n - used ? (size_t)w->skip : n - used;
	w->skip -= k;
	w->payload += k;
	return used + k;
}

static void dump(struct peer *p)
{
	if (p == NULL)
		return;
	size_t shown = 0, open = 0;
	for (size_t i = 0; p->streams && i < p->nslots; i++) {
		struct tstream *t = p->streams[i];
		if (t == NULL)
			continue;
		open++;
		if (shown++ >= 40)
			continue;
		log_info("  stream %s#%" PRIu32 "%s id=%" PRIu32 " hdr_out=%zu sent=%" PRIu64 "/%" PRIu64
			 " fin_sent=%d hdr_in=%zu received=%" PRIu64 "/%" PRIu64 " fin_rcvd=%d credit=%zu hold=%zu"
			 " send_window=%zu recv_max=%" PRIu32 " remote_closed=%d local_closed=%d",
			 t->opener == SIDE_C ? "c" : "go", t->index, t->index_known ? "" : "?", t->id,
			 t->hdr_out_off, t->sent, t->send_len, t->fin_sent, t->hdr_in_have, t->received, t->recv_len,
			 t->fin_rcvd, t->credit, t->hold_len, t->s ? mux_stream_send_window(t->s) : 0,
			 t->s ? mux_stream_recv_max(t->s) : 0, t->s ? mux_stream_remote_closed(t->s) : 0,
			 t->s ? mux_stream_local_closed(t->s) : 0);
	}
	log_info("  %zu streams held (opened %zu, accepted %zu, completed %zu of %zu)", open, p->opened, p->accepted,
		 p->completed, p->nslots);
	if (p->h)
		log_info("  engine: closed=%d err=%s num_streams=%zu buffered=%" PRIu64 " remote_goaway=%d",
			 mux_is_closed(p->h->m), mux_strerror(mux_error(p->h->m)), mux_num_streams(p->h->m),
			 mux_buffered_bytes(p->h->m), mux_remote_go_away(p->h->m));
	if (p->soft_failures)
		log_info("  %u earlier check(s) failed; the first: %s", p->soft_failures, p->first_soft);
	log_info("  transport: out backlog=%zu reading_paused=%d eof=%d bytes in=%" PRIu64 " out=%" PRIu64,
		 buf_len(&p->out), p->reading_paused, p->eof, p->bytes_in, p->bytes_out);
	size_t n = p->ring_n < 64 ? p->ring_n : 64;
	log_info("  last %zu of %zu frames (> sent, < received):", n, p->ring_n);
	for (size_t i = p->ring_n - n; i < p->ring_n; i++) {
		const struct trace_ent *e = &p->ring[i % TRACE_RING];
		char fl[32];
		log_info("    %7.3fs %c %-12s flags=%-8s id=%-6" PRIu32 " len=%" PRIu32, (double)e->t / 1000.0,
			 e->dir, yamux_type_name(e->h.type), yamux_flags_str(e->h.flags, fl, sizeof(fl)),
			 e->h.stream_id, e->h.length);
	}
}

/* ---- transport ---- */

static void update_interest(struct peer *p)
{
	uint32_t mask = 0;
	if (!p->reading_paused && !p->eof)
		mask |= LOOP_READ;
	if (!buf_empty(&p->out))
		mask |= LOOP_WRITE;
	int r = loop_watch_set(p->loop, p->fd, mask);
	if (r < 0)
		fail(p, "loop_watch_set: %s", strerror(-r));
}

static void transport_error(struct peer *p, const char *what, int err)
{
	fail(p, "%s: %s", what, strerror(err));
}

static void flush_out(struct peer *p)
{
	if (buf_empty(&p->out))
		return;
	ssize_t n = buf_write_fd(&p->out, p->fd);
	if (n < 0 && n != -EAGAIN)
		transport_error(p, "write", (int)-n);
	if (n > 0)
		p->bytes_out += (uint64_t)n;
	if (p->reading_paused && buf_len(&p->out) <= OUT_LOW)
		p->reading_paused = false;
}

/* Every frame of an emit() call, checked by the harness: traced here. */
static void on_frame(struct mh *h, const struct yamux_hdr *hd, const struct iovec *payload, int n)
{
	struct peer *p = h->app;
	trace_add(p, '>', hd);
	for (int i = 0; i < n; i++)
		p->out_payload += payload[i].iov_len;
	p->emit_frames++;
}

static void on_emit(struct mh *h, const struct iovec *iov, int iovcnt)
{
	struct peer *p = h->app;
	/* The harness checked that the call holds whole frames (several
	 * whole frames would do just as well for the wire). */
	if (EMIT_ONE_FRAME_PER_CALL && p->emit_frames > 1 && !p->multi_frame_emit) {
		p->multi_frame_emit = true;
		soft_fail(p, "emit() got %zu frames in one call; mux.h says one frame per call",
			  p->emit_frames);
	}
	p->emit_frames = 0;

	size_t done = 0;
	if (buf_empty(&p->out)) {
		ssize_t n = buf_writev_fd(p->fd, iov, iovcnt);
		if (n < 0 && n != -EAGAIN)
			transport_error(p, "writev", (int)-n);
		if (n > 0) {
			done = (size_t)n;
			p->bytes_out += (uint64_t)n;
		}
	}
	/* Keep what the socket did not take, in order. */
	size_t skip = done;
	for (int i = 0; i < iovcnt; i++) {
		if (skip >= iov[i].iov_len) {
			skip -= iov[i].iov_len;
			continue;
		}
		int r = buf_append(&p->out, (const uint8_t *)iov[i].iov_base + skip, iov[i].iov_len - skip);
		if (r < 0)
			fail(p, "output backlog over %u bytes: %s", OUT_CAP, strerror(-r));
		skip = 0;
	}
	if (buf_len(&p->out) > p->max_backlog)
		p->max_backlog = buf_len(&p->out);
	if (buf_len(&p->out) >= OUT_HIGH && !p->reading_paused) {
		p->reading_paused = true;
		p->read_pauses++;
	}
}

/* ---- streams: receiving ---- */

static struct tstream *tstream_new(struct peer *p, struct mh_stream *r)
{
	struct mux_stream *s = r->s;
	bool mine = r->mine;
	if (p->opened + p->accepted >= p->nslots)
		fail(p, "more streams than the scenario has");
	struct tstream *t = calloc(1, sizeof(*t));
	if (t == NULL || (t->chunk = malloc(CHUNK)) == NULL)
		fail(p, "out of memory");
	t->p = p;
	t->rec = r;
	t->s = s;
	t->id = mux_stream_id(s);
	t->mine = mine;
	t->opener = mine ? SIDE_C : SIDE_GO;
	t->mismatch_at = UINT64_MAX;
	t->rx = EVP_MD_CTX_new();
	t->ex = EVP_MD_CTX_new();
	if (t->rx == NULL || t->ex == NULL || !EVP_DigestInit_ex(t->rx, EVP_sha256(), NULL) ||
	    !EVP_DigestInit_ex(t->ex, EVP_sha256(), NULL))
		fail(p, "EVP digest init failed");
	/* yamux: the client opens odd ids, the server even ones. */
	if ((t->id % 2 == 1) != (mine == p->client) || t->id == 0)
		fail(p, "stream id %" PRIu32 " has the wrong parity for a %s stream of a %s", t->id,
		     mine ? "locally opened" : "peer-opened", p->client ? "client" : "server");
	t->slot = (size_t)r->idx; /* records are handed out in order: opened + accepted */
	p->streams[t->slot] = t;
	if (mine)
		t->index = (uint32_t)p->opened++;
	else
		p->accepted++;
	t->index_known = mine;
	t->recv_first = p->sc == SC_HALFCLOSE_GO;
	/* halfclose-go: the answer is one initial window exactly, header
	 * included; the Go side never reads it (it cannot after Close). */
	t->send_len = p->sc == SC_HALFCLOSE_GO ? MUX_INITIAL_WINDOW - HDR_LEN : p->nbytes;
	t->recv_len = p->nbytes;
	if (mine) {
		encode_header(t->hdr_out, 0, SIDE_C, t->index, p->seed, t->send_len);
		prng_init(&t->sgen, p->seed, t->index, SIDE_C, 0);
		prng_init(&t->rgen, p->seed, t->index, SIDE_C, 1);
	}
	r->app = t;
	return t;
}

static void tstream_free(struct tstream *t)
{
	EVP_MD_CTX_free(t->rx);
	EVP_MD_CTX_free(t->ex);
	free(t->chunk);
	free(t->hold);
	free(t);
}

static const char *tname(const struct tstream *t, char *buf, size_t len)
{
	snprintf(buf, len, "%s#%" PRIu32 "%s(id %" PRIu32 ")", t->opener == SIDE_C ? "c" : "go", t->index,
		 t->index_known ? "" : "?", t->id);
	return buf;
}

static void check_peer_header(struct tstream *t)
{
	struct peer *p = t->p;
	const uint8_t *b = t->hdr_in;
	char nm[64];
	int dir = t->mine ? 1 : 0;
	if (memcmp(b, "TIOP", 4) != 0 || b[4] != dir || b[5] != t->opener || b[6] || b[7] || get_be32(b + 12) ||
	    get_be64(b + 16) != p->seed || get_be64(b + 24) != t->recv_len)
		fail(p, "stream %s: unexpected header dir=%u opener=%u index=%" PRIu32 " seed=%" PRIu64
			" len=%" PRIu64 " (want dir=%d opener=%d seed=%" PRIu64 " len=%" PRIu64 ")",
		     tname(t, nm, sizeof(nm)), b[4], b[5], get_be32(b + 8), get_be64(b + 16), get_be64(b + 24), dir,
		     t->opener, p->seed, t->recv_len);
	uint32_t index = get_be32(b + 8);
	if (t->mine) {
		if (index != t->index)
			fail(p, "stream %s: answer header carries index %" PRIu32, tname(t, nm, sizeof(nm)), index);
		return;
	}
	if (index >= p->nstreams)
		fail(p, "stream %s: index %" PRIu32 " out of range", tname(t, nm, sizeof(nm)), index);
	for (size_t i = 0; i < p->nslots; i++) {
		const struct tstream *o = p->streams[i];
		if (o && o != t && !o->mine && o->index_known && o->index == index)
			fail(p, "stream id %" PRIu32 ": index %" PRIu32 " already used by id %" PRIu32, t->id, index,
			     o->id);
	}
	t->index = index;
	t->index_known = true;
	encode_header(t->hdr_out, 1, SIDE_GO, index, p->seed, t->send_len);
	prng_init(&t->rgen, p->seed, index, SIDE_GO, 0);
	prng_init(&t->sgen, p->seed, index, SIDE_GO, 1);
}

/* Disposes of bytes of the peer's direction: header, then payload checked
 * against the generator and hashed. */
static void process_bytes(struct tstream *t, const uint8_t *b, size_t n)
{
	struct peer *p = t->p;
	char nm[64];
	if (t->hdr_in_have < HDR_LEN) {
		size_t k = HDR_LEN - t->hdr_in_have;
		if (k > n)
			k = n;
		memcpy(t->hdr_in + t->hdr_in_have, b, k);
		t->hdr_in_have += k;
		b += k;
		n -= k;
		if (t->hdr_in_have == HDR_LEN)
			check_peer_header(t);
	}
	if (n == 0)
		return;
	if (t->received == 0 && p->sc == SC_GOAWAY)
		p->saw_payload = true;
	if (n > t->recv_len - t->received)
		fail(p, "stream %s: %zu bytes beyond the announced %" PRIu64, tname(t, nm, sizeof(nm)),
		     n - (size_t)(t->recv_len - t->received), t->recv_len);
	EVP_DigestUpdate(t->rx, b, n);
	for (size_t off = 0; off < n;) {
		size_t k = n - off < CHUNK ? n - off : CHUNK;
		prng_fill(&t->rgen, p->scratch, k);
		EVP_DigestUpdate(t->ex, p->scratch, k);
		if (t->mismatch_at == UINT64_MAX && memcmp(p->scratch, b + off, k) != 0) {
			size_t j = 0;
			while (p->scratch[j] == b[off + j])
				j++;
			t->mismatch_at = t->received + off + j;
			log_errorx("stream %s: payload byte %" PRIu64 " is %02x, expected %02x",
				   tname(t, nm, sizeof(nm)), t->mismatch_at, b[off + j], p->scratch[j]);
		}
		off += k;
	}
	t->received += n;
}

/* The harness checked that we hold the stream and that no FIN came yet. */
static void on_data(struct peer *p, struct tstream *t, const uint8_t *b, size_t n)
{
	t->delivered += n;
	if (p->sc == SC_WINDOW) {
		/* Hold on to the data without crediting it back. */
		if (t->hold_len + n > t->hold_cap) {
			size_t cap = t->hold_cap ? t->hold_cap : 1u << 20;
			while (cap < t->hold_len + n)
				cap *= 2;
			uint8_t *nb = realloc(t->hold, cap);
			if (nb == NULL)
				fail(p, "out of memory");
			t->hold = nb;
			t->hold_cap = cap;
		}
		memcpy(t->hold + t->hold_len, b, n);
		t->hold_len += n;
			return;
	}
	process_bytes(t, b, n);
	t->credit += n;
}

/* The harness checked: held, first FIN, mux_stream_remote_closed(). */
static void on_fin(struct peer *p, struct tstream *t)
{
	char nm[64];
	t->fin_rcvd = true;
	if (p->verbose)
		note(p, "stream %s: FIN after %" PRIu64 " bytes", tname(t, nm, sizeof(nm)), t->delivered);
}

/* The peer's direction is complete (all bytes processed and its FIN seen):
 * compare the digests. */
static void finish_recv(struct tstream *t)
{
	struct peer *p = t->p;
	char nm[64];
	if (t->recv_done || !t->fin_rcvd || t->hold_len > 0)
		return;
	if (t->hdr_in_have < HDR_LEN || t->received != t->recv_len)
		fail(p, "stream %s: FIN after %zu header and %" PRIu64 " of %" PRIu64 " payload bytes",
		     tname(t, nm, sizeof(nm)), t->hdr_in_have, t->received, t->recv_len);
	uint8_t d1[EVP_MAX_MD_SIZE], d2[EVP_MAX_MD_SIZE];
	unsigned l1 = 0, l2 = 0;
	EVP_DigestFinal_ex(t->rx, d1, &l1);
	EVP_DigestFinal_ex(t->ex, d2, &l2);
	if (l1 != l2 || memcmp(d1, d2, l1) != 0 || t->mismatch_at != UINT64_MAX)
		fail(p, "stream %s: SHA-256 of the %" PRIu64 " payload bytes differs from the expected one "
			"(first bad byte at %" PRIu64 ")",
		     tname(t, nm, sizeof(nm)), t->received, t->mismatch_at);
	if (p->sc == SC_WINDOW && t->recv_len > HOLD_THRESHOLD + MUX_INITIAL_WINDOW && t->max_hold <= HOLD_THRESHOLD)
		fail(p, "stream %s: never held more than %zu bytes", tname(t, nm, sizeof(nm)), t->max_hold);
	t->recv_done = true;
	if (p->verbose)
		note(p, "stream %s: received and verified %" PRIu64 " bytes", tname(t, nm, sizeof(nm)), t->received);
}

/* ---- engine callbacks ---- */

static void check_recv_max(struct tstream *t)
{
	struct peer *p = t->p;
	t->recv_max = mux_stream_recv_max(t->s);
	if (p->sc == SC_WINDOW && t->recv_max != p->window)
		fail(p, "stream id %" PRIu32 ": mux_stream_recv_max() = %" PRIu32 ", want %" PRIu32, t->id,
		     t->recv_max, p->window);
}

static void on_stream_open(struct peer *p, struct mh_stream *r)
{
	struct mux_stream *s = r->s;
	if (p->goaway_sent)
		fail(p, "stream_open for id %" PRIu32 " after we sent GoAway(0): the engine should refuse it",
		     mux_stream_id(s));
	if (p->accepted >= p->nstreams)
		fail(p, "unexpected inbound stream id %" PRIu32 " (already accepted %zu)", mux_stream_id(s),
		     p->accepted);
	struct tstream *t = tstream_new(p, r);
	int rc = mux_stream_accept(s);
	if (rc < 0)
		fail(p, "mux_stream_accept(%" PRIu32 "): %s", t->id, mux_strerror(rc));
	check_recv_max(t);
	if (p->verbose)
		note(p, "accepted stream id %" PRIu32 ", recv_max %" PRIu32, t->id, t->recv_max);
}

static void on_stream_reset(struct peer *p, struct tstream *t, int err)
{
	char nm[64] = "?";
	if (t)
		tname(t, nm, sizeof(nm));
	fail(p, "stream %s was reset: %s", nm, mux_strerror(err));
}

static void on_session_closed(struct peer *p, int err)
{
	/* mux.h does not say which sign session_closed's err has: take both. */
	if (!p->eof || (err != MUX_E_EOF && err != -MUX_E_EOF))
		fail(p, "session closed: %s (%d)", mux_strerror(err), err);
	p->session_done = true;
}

static void on_pong(struct peer *p, uint64_t rtt_ms)
{
	p->pongs++;
	p->rtt_sum += rtt_ms;
	p->ping_outstanding = false;
	if (p->completed < p->nslots)
		p->pongs_in_flow++;
}

/* Every engine event, after the harness's checks (held stream, ours and
 * once for established, an open window for writable, session_closed once). */
static void on_event(struct mh *h, const struct mh_event *ev, struct mh_stream *r)
{
	struct peer *p = h->app;
	struct tstream *t = r ? r->app : NULL;
	switch (ev->kind) {
	case MH_EV_OPEN:
		on_stream_open(p, r);
		break;
	case MH_EV_ESTABLISHED:
		t->established = true;
		break;
	case MH_EV_DATA:
		on_data(p, t, ev->data, ev->n);
		break;
	case MH_EV_FIN:
		on_fin(p, t);
		break;
	case MH_EV_RESET:
		on_stream_reset(p, t, ev->err);
		break;
	case MH_EV_WRITABLE:
		p->writable_cbs++;
		/* The before-sleep pump does the writing. */
		t->writable_seen = true;
		break;
	case MH_EV_CLOSED:
		on_session_closed(p, ev->err);
		break;
	case MH_EV_PONG:
		on_pong(p, ev->n);
		break;
	case MH_EV_GOAWAY:
		p->remote_goaway_cb = true;
		note(p, "remote_go_away callback");
		break;
	default:
		break;
	}
}

static void on_fail(struct mh *h, const char *msg)
{
	fail(h->app, "%s", msg);
}

/* ---- top-level work, once per loop iteration ---- */

static bool all_streams_open(const struct peer *p)
{
	return p->opened == p->nstreams && p->accepted == p->nstreams;
}

static bool header_allowed(const struct tstream *t)
{
	if (t->mine)
		return true;
	return t->index_known && (!t->recv_first || t->recv_done);
}

static bool payload_allowed(const struct tstream *t)
{
	const struct peer *p = t->p;
	if (t->recv_first && !t->recv_done)
		return false;
	if (p->sc == SC_GOAWAY && p->goaway_sender && !p->goaway_sent)
		return false;
	return true;
}

/* Writes what the stream may send now, up to one chunk. Returns bytes
 * taken by the engine. */
static size_t write_some(struct tstream *t)
{
	struct peer *p = t->p;
	struct iovec iov[2];
	int n = 0;
	char nm[64];
	if (t->fin_sent || !header_allowed(t))
		return 0;
	if (t->blocked) {
		if (mux_stream_send_window(t->s) == 0)
			return 0;
		/* The window reopened (a WindowUpdate went through mux_input
		 * since): the engine must have said so. */
		if (!t->writable_seen)
			soft_fail(p, "stream %s: send window reopened to %zu without stream_writable",
				  tname(t, nm, sizeof(nm)), mux_stream_send_window(t->s));
		t->blocked = false;
	}
	if (t->hdr_out_off < HDR_LEN)
		iov[n++] = (struct iovec){t->hdr_out + t->hdr_out_off, HDR_LEN - t->hdr_out_off};
	if (payload_allowed(t) && t->sent < t->send_len) {
		if (t->chunk_off == t->chunk_len) {
			uint64_t left = t->send_len - t->generated;
			t->chunk_len = left < CHUNK ? (size_t)left : CHUNK;
			t->chunk_off = 0;
			prng_fill(&t->sgen, t->chunk, t->chunk_len);
			t->generated += t->chunk_len;
		}
		iov[n++] = (struct iovec){t->chunk + t->chunk_off, t->chunk_len - t->chunk_off};
	}
	if (n == 0)
		return 0;
	if (p->sized_writes) {
		/* Offer no more than the window, as the relay does. */
		size_t room = mux_stream_send_window(t->s);
		if (room == 0)
			return 0;
		for (int i = 0; i < n; i++) {
			if (iov[i].iov_len > room)
				iov[i].iov_len = room;
			room -= iov[i].iov_len;
			if (iov[i].iov_len == 0)
				n = i;
		}
	}
	ssize_t r = mux_stream_write(t->s, iov, n);
	if (r < 0)
		fail(p, "mux_stream_write(%s): %s", tname(t, nm, sizeof(nm)), mux_strerror((int)r));
	size_t taken = (size_t)r, left = taken, offered = 0;
	for (int i = 0; i < n; i++)
		offered += iov[i].iov_len;
	if (t->hdr_out_off < HDR_LEN) {
		size_t k = HDR_LEN - t->hdr_out_off;
		if (k > left)
			k = left;
		t->hdr_out_off += k;
		left -= k;
	}
	t->chunk_off += left;
	t->sent += left;
	bool more = t->hdr_out_off < HDR_LEN || t->sent < t->send_len;
	if (p->sized_writes) {
		if (taken != offered)
			fail(p, "stream %s: mux_stream_write took %zu of the %zu bytes the window allowed",
			     tname(t, nm, sizeof(nm)), taken, offered);
		if (more && mux_stream_send_window(t->s) == 0) {
			/* We filled the window exactly: nothing asks for its
			 * reopening but us. */
			mux_stream_want_writable(t->s);
			t->blocked = true;
			t->writable_seen = false;
			p->blocked_writes++;
		}
	} else if (taken < offered) {
		if (mux_stream_send_window(t->s) != 0)
			fail(p, "stream %s: mux_stream_write took %zu of %zu bytes but the send window is %zu",
			     tname(t, nm, sizeof(nm)), taken, offered, mux_stream_send_window(t->s));
		t->blocked = true; /* the engine asks for stream_writable itself */
		t->writable_seen = false;
		p->blocked_writes++;
	}
	return taken;
}

static void maybe_fin(struct tstream *t)
{
	struct peer *p = t->p;
	char nm[64];
	if (t->fin_sent || t->hdr_out_off < HDR_LEN || t->sent < t->send_len)
		return;
	/* ping: keep every stream (and so the whole run) open until enough
	 * pings were answered, so they all cross bulk data. */
	if (p->sc == SC_PING && p->pongs < p->npings)
		return;
	if (p->sc == SC_HALFCLOSE_GO && mux_stream_send_window(t->s) != 0)
		fail(p, "stream %s: after sending exactly one initial window the send window is %zu, want 0",
		     tname(t, nm, sizeof(nm)), mux_stream_send_window(t->s));
	int r = mux_stream_close(t->s);
	if (r < 0)
		fail(p, "mux_stream_close(%s): %s", tname(t, nm, sizeof(nm)), mux_strerror(r));
	if (!mux_stream_local_closed(t->s))
		fail(p, "stream %s: closed but mux_stream_local_closed() is false", tname(t, nm, sizeof(nm)));
	if (mux_stream_write(t->s, &(struct iovec){t->hdr_out, 1}, 1) != -MUX_E_STREAM_CLOSED)
		fail(p, "stream %s: write after close did not fail with MUX_E_STREAM_CLOSED", tname(t, nm, sizeof(nm)));
	t->fin_sent = true;
}

static void process_holds(struct peer *p)
{
	for (size_t i = 0; i < p->nslots; i++) {
		struct tstream *t = p->streams[i];
		if (t == NULL || t->hold_len == 0)
			continue;
		bool complete = t->delivered == HDR_LEN + t->recv_len;
		if (t->hold_len <= HOLD_THRESHOLD && !complete)
			continue;
		if (t->hold_len > t->max_hold) {
			t->max_hold = t->hold_len;
			t->buffered_at_max = mux_buffered_bytes(p->h->m);
			if (t->buffered_at_max < t->hold_len) {
				char nm[64];
				fail(p, "stream %s: holding %zu bytes but mux_buffered_bytes() = %" PRIu64,
				     tname(t, nm, sizeof(nm)), t->hold_len, t->buffered_at_max);
			}
		}
		size_t n = t->hold_len;
		t->hold_len = 0;
		process_bytes(t, t->hold, n);
		mh_consume(t->rec, n);
	}
}

static void complete_stream(struct tstream *t)
{
	struct peer *p = t->p;
	char nm[64];
	if (p->verbose)
		note(p, "stream %s done", tname(t, nm, sizeof(nm)));
	/* The peer answered on it, so its ACK came first. */
	if (t->mine && t->recv_done && !t->established)
		fail(p, "stream %s: complete without stream_established", tname(t, nm, sizeof(nm)));
	p->streams[t->slot] = NULL;
	p->completed++;
	/* No callback may come for it any more; the harness fails a stray one. */
	mh_release(t->rec);
	tstream_free(t);
}

static void goaway_actions(struct peer *p)
{
	int err = 0;
	if (p->goaway_sender && !p->goaway_sent && all_streams_open(p)) {
		int r = mux_go_away(p->h->m, MUX_GOAWAY_NORMAL);
		if (r < 0)
			fail(p, "mux_go_away(0): %s", mux_strerror(r));
		p->goaway_sent = true;
		note(p, "sent GoAway(0) with %zu streams open", mux_num_streams(p->h->m));
		struct mux_stream *s = mux_stream_open(p->h->m, &err);
		if (s != NULL) {
			/* Undo it on the wire: the peer would otherwise hold an
			 * extra stream it never accepts. */
			soft_fail(p, "mux_stream_open after our own GoAway(0) succeeded (id %" PRIu32
				     "); mux.h documents -MUX_E_LOCAL_GOAWAY",
				  mux_stream_id(s));
			mux_stream_reset(s);
			mux_stream_release(s);
		} else if (err != -MUX_E_LOCAL_GOAWAY) {
			soft_fail(p, "mux_stream_open after our GoAway: %s (%d), want -MUX_E_LOCAL_GOAWAY",
				  mux_strerror(err), err);
		}
		if (mux_is_closed(p->h->m))
			fail(p, "GoAway(0) closed the session");
	}
	if (!p->goaway_sender && p->saw_payload && !p->goaway_checked) {
		/* The peer sends payload only after its GoAway(0). */
		if (!mux_remote_go_away(p->h->m) || !p->remote_goaway_cb)
			fail(p, "payload arrived but mux_remote_go_away() = %d, callback seen = %d",
			     mux_remote_go_away(p->h->m), p->remote_goaway_cb);
		if (mux_stream_open(p->h->m, &err) != NULL || err != -MUX_E_REMOTE_GOAWAY)
			fail(p, "mux_stream_open after the peer's GoAway: err %d (%s), want -MUX_E_REMOTE_GOAWAY", err,
			     mux_strerror(err));
		note(p, "mux_stream_open refused after the peer's GoAway: %s", mux_strerror(err));
		p->goaway_checked = true;
	}
}

static void arm_mux_timer(struct peer *p)
{
	int64_t t = mux_next_timeout(p->h->m, loop_now_ms(p->loop));
	if (t < 0)
		loop_timer_stop(p->loop, &p->mux_timer);
	else if (loop_timer_start(p->loop, &p->mux_timer, (uint64_t)t) < 0)
		fail(p, "loop_timer_start failed");
}

static void before_sleep(struct loop *l, void *udata)
{
	struct peer *p = udata;
	if (p->h == NULL || p->session_done)
		return;
	if (p->sc == SC_WINDOW)
		process_holds(p);
	for (size_t i = 0; i < p->nslots; i++) {
		struct tstream *t = p->streams[i];
		if (t && t->credit > 0) {
			mh_consume(t->rec, t->credit);
			t->credit = 0;
		}
		if (t)
			finish_recv(t);
	}
	if (p->sc == SC_GOAWAY)
		goaway_actions(p);
	if (p->sc == SC_PING && !p->ping_outstanding && (p->pongs < p->npings || p->completed < p->nslots) &&
	    !p->eof) {
		int r = mux_ping(p->h->m, loop_now_ms(l));
		if (r < 0)
			fail(p, "mux_ping: %s", mux_strerror(r));
		p->ping_outstanding = true;
	}
	/* Round-robin, one chunk per stream per pass, while the backlog is low. */
	bool moved = true;
	while (moved && buf_len(&p->out) < OUT_HIGH) {
		moved = false;
		for (size_t k = 0; k < p->nslots && buf_len(&p->out) < OUT_HIGH; k++) {
			struct tstream *t = p->streams[(p->rr + k) % p->nslots];
			if (t && write_some(t) > 0)
				moved = true;
		}
		p->rr = (p->rr + 1) % p->nslots;
	}
	for (size_t i = 0; i < p->nslots; i++) {
		struct tstream *t = p->streams[i];
		if (t == NULL)
			continue;
		maybe_fin(t);
		/* linger: let go right after our FIN; the engine must discard
		 * and credit the peer's answer and forget the stream at its
		 * FIN. */
		if (t->fin_sent && (t->recv_done || p->sc == SC_LINGER))
			complete_stream(t);
	}
	if (p->eof) {
		finish(p);
		return;
	}
	flush_out(p);
	update_interest(p);
	arm_mux_timer(p);
}

/* ---- end of the session ---- */

static void finish(struct peer *p)
{
	if (p->completed != p->nslots)
		fail(p, "EOF with %zu of %zu streams complete", p->completed, p->nslots);
	if (mux_num_streams(p->h->m) != 0)
		fail(p, "EOF with mux_num_streams() = %zu, want 0", mux_num_streams(p->h->m));
	if (mux_buffered_bytes(p->h->m) != 0)
		fail(p, "EOF with mux_buffered_bytes() = %" PRIu64 ", want 0", mux_buffered_bytes(p->h->m));
	if (p->sc == SC_PING && p->pongs < p->npings)
		fail(p, "only %u pongs", p->pongs);
	if (p->sc == SC_GOAWAY && !(p->goaway_sender ? p->goaway_sent : p->goaway_checked))
		fail(p, "goaway: refusal never checked");
	if (p->soft_failures)
		fail(p, "%u check(s) failed along the way; the first: %s", p->soft_failures, p->first_soft);
	mux_input_eof(p->h->m);
	if (!p->session_done)
		fail(p, "mux_input_eof did not call session_closed");
	if (!mux_is_closed(p->h->m) || mux_num_streams(p->h->m) != 0)
		fail(p, "after EOF: closed=%d num_streams=%zu", mux_is_closed(p->h->m), mux_num_streams(p->h->m));
	if (p->sc == SC_PING)
		note(p, "ping: %u pongs (%u while streams were open), mean rtt %.1f ms", p->pongs, p->pongs_in_flow,
		     p->pongs ? (double)p->rtt_sum / p->pongs : 0.0);
	loop_unwatch(p->loop, p->fd);
	close(p->fd);
	p->fd = -1;
	loop_stop(p->loop);
}

static void on_socket(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct peer *p = udata;
	if (events & LOOP_WRITE)
		flush_out(p);
	if (!(events & LOOP_READ))
		return;
	for (int i = 0; i < 16 && !p->reading_paused && !p->eof; i++) {
		ssize_t n = read(fd, p->inbuf, INBUF_LEN);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN)
				break;
			transport_error(p, "read", errno);
		}
		if (n == 0) {
			/* Checked in before_sleep, once the frames read just
			 * before it have been dealt with. */
			p->eof = true;
			note(p, "EOF from the peer after %" PRIu64 " bytes in, %" PRIu64 " out", p->bytes_in,
			     p->bytes_out);
			return;
		}
		p->bytes_in += (uint64_t)n;
		for (size_t off = 0; off < (size_t)n;) {
			size_t seg = fwalk_segment(p, &p->in_walk, p->inbuf + off, (size_t)n - off);
			p->h->now = loop_now_ms(l);
			int r = mh_input(p->h, p->inbuf + off, seg);
			if (r < 0)
				fail(p, "mux_input: %s", mux_strerror(r));
			off += seg;
		}
	}
}

/* ---- timers ---- */

static void on_mux_timer(struct loop *l, struct loop_timer *t, void *udata)
{
	(void)t;
	struct peer *p = udata;
	int r = mh_tick(p->h, loop_now_ms(l));
	if (r < 0)
		fail(p, "mux_tick: %s", mux_strerror(r));
}

static void on_deadline(struct loop *l, struct loop_timer *t, void *udata)
{
	(void)l;
	(void)t;
	struct peer *p = udata;
	fail(p, "timeout after %" PRIu64 " ms", p->timeout_ms);
}

static void on_watchdog(struct loop *l, struct loop_timer *t, void *udata)
{
	struct peer *p = udata;
	uint64_t now = loop_now_ms(l);
	/* Payload on the wire either way; pings and window updates do not
	 * count (keepalive alone would hide a stall). */
	uint64_t progress = p->in_walk.payload + p->out_payload;
	if (progress != p->last_progress) {
		p->last_progress = progress;
		p->last_progress_ms = now;
	} else if (now - p->last_progress_ms >= STALL_MS) {
		if (p->sc == SC_WINDOW)
			fail(p, "no progress for %d ms: with a receive window of %" PRIu32
				" and nothing consumed below %u held bytes, the peer stopped sending",
			     STALL_MS, p->window, HOLD_THRESHOLD);
		fail(p, "no progress for %d ms", STALL_MS);
	}
	loop_timer_start(l, t, 1000);
}

/* ---- setup ---- */

static void start_session(struct peer *p)
{
	struct mux_config cfg;
	char err[SOCK_ERRLEN];
	mux_config_default(&cfg);
	cfg.client = p->client;
	cfg.keepalive_ms = p->sc == SC_PING ? 0 : 1000;
	cfg.ping_timeout_ms = 30000;
	switch (p->sc) {
	case SC_WINDOW:
		cfg.recv_window = p->window;
		cfg.session_recv_cap = (uint64_t)p->window * p->nslots;
		break;
	case SC_HALFCLOSE_C:
	case SC_HALFCLOSE_GO:
	case SC_LINGER:
		/* The classic window, in small frames. */
		cfg.recv_window = MUX_INITIAL_WINDOW;
		cfg.max_frame = 16 * 1024;
		break;
	default:
		break; /* the engine's defaults */
	}
	sock_set_nodelay(p->fd, true, err);
	p->h = mh_new(&cfg, (int)p->nslots, loop_now_ms(p->loop));
	p->h->app = p;
	p->h->on_fail = on_fail;
	p->h->on_event = on_event;
	p->h->on_frame = on_frame;
	p->h->on_emit = on_emit;
	p->goaway_sender = p->sc == SC_GOAWAY && !p->client;
	p->sized_writes = p->sc == SC_HALFCLOSE_C || p->sc == SC_HALFCLOSE_GO || p->sc == SC_WINDOW ||
			  p->sc == SC_LINGER;
	note(p, "session up: scenario %s role %s streams %u bytes %" PRIu64 " recv_window %" PRIu32,
	     sc_names[p->sc], p->client ? "client" : "server", p->nstreams, p->nbytes, cfg.recv_window);
	int r = loop_watch(p->loop, p->fd, LOOP_READ, on_socket, p);
	if (r < 0)
		fail(p, "loop_watch: %s", strerror(-r));
	for (unsigned i = 0; i < p->nstreams; i++) {
		int e = 0;
		struct mh_stream *rec = mh_open(p->h, &e);
		if (rec == NULL)
			fail(p, "mux_stream_open #%u: %s", i, mux_strerror(e));
		struct tstream *t = tstream_new(p, rec);
		check_recv_max(t);
	}
	loop_timer_start(p->loop, &p->watchdog_timer, 1000);
	p->last_progress_ms = loop_now_ms(p->loop);
}

static void on_connected(struct loop *l, int fd, uint32_t events, void *udata)
{
	(void)events;
	struct peer *p = udata;
	char err[SOCK_ERRLEN];
	int r = sock_get_error(fd, err);
	if (r < 0)
		fail(p, "connect: %s", err);
	loop_unwatch(l, fd);
	start_session(p);
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *udata)
{
	(void)events;
	struct peer *p = udata;
	char err[SOCK_ERRLEN];
	int c = sock_accept(fd, NULL, err);
	if (c == -EAGAIN)
		return;
	if (c < 0)
		fail(p, "accept: %s", err);
	loop_unwatch(l, fd);
	close(fd);
	p->lfd = -1;
	p->fd = c;
	start_session(p);
}

static bool is_loopback(const struct sock_addr *a)
{
	const struct sockaddr *sa = sock_addr_sa(a);
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return false;
}

static void parse_loopback(struct peer *p, const char *s, struct sock_addr *a)
{
	char host[SOCK_HOSTLEN], err[SOCK_ERRLEN];
	uint16_t port;
	if (sock_split_hostport(s, host, sizeof(host), &port, err) < 0 || sock_addr_parse(a, host, port, err) < 0)
		fail(p, "bad address %s: %s", s, err);
	if (!is_loopback(a))
		fail(p, "%s is not a loopback address", s);
}

static void setup_transport(struct peer *p)
{
	struct sock_addr a;
	char err[SOCK_ERRLEN];
	if (p->listen_addr) {
		parse_loopback(p, p->listen_addr, &a);
		p->lfd = sock_listen_addr(&a, 1, 0, err);
		if (p->lfd < 0)
			fail(p, "%s", err);
		struct sock_addr la;
		if (sock_local_addr(p->lfd, &la, err) < 0)
			fail(p, "%s", err);
		note(p, "listening on port %u", sock_addr_port(&la));
		if (p->portfile) {
			char tmp[4096];
			snprintf(tmp, sizeof(tmp), "%s.tmp", p->portfile);
			FILE *f = fopen(tmp, "w");
			if (f == NULL || fprintf(f, "%u\n", sock_addr_port(&la)) < 0 || fclose(f) != 0 ||
			    rename(tmp, p->portfile) != 0)
				fail(p, "portfile %s: %s", p->portfile, strerror(errno));
		}
		if (loop_watch(p->loop, p->lfd, LOOP_READ, on_accept, p) < 0)
			fail(p, "loop_watch listener");
	} else {
		parse_loopback(p, p->connect_addr, &a);
		p->fd = sock_connect_addr(&a, err);
		if (p->fd < 0)
			fail(p, "%s", err);
		if (loop_watch(p->loop, p->fd, LOOP_WRITE, on_connected, p) < 0)
			fail(p, "loop_watch connect");
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: mux_peer -role server|client (-listen ADDR [-portfile F] | -connect ADDR)\n"
			"                -scenario bulk|halfclose-c|halfclose-go|ping|goaway|window|linger\n"
			"                [-streams N] [-bytes N] [-seed N] [-pings N] [-timeout SEC[s]]\n"
			"                [-window BYTES] [-v] [-trace]\n");
	exit(2);
}

static uint64_t parse_u64(const char *s)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || end == s || (*end && strcmp(end, "s") != 0))
		usage();
	return v;
}

static void parse_args(struct peer *p, int argc, char **argv)
{
	static const struct option opts[] = {
		{"role", required_argument, NULL, 'r'},	   {"listen", required_argument, NULL, 'l'},
		{"connect", required_argument, NULL, 'c'}, {"portfile", required_argument, NULL, 'P'},
		{"scenario", required_argument, NULL, 's'}, {"streams", required_argument, NULL, 'n'},
		{"bytes", required_argument, NULL, 'b'},   {"seed", required_argument, NULL, 'S'},
		{"pings", required_argument, NULL, 'p'},   {"timeout", required_argument, NULL, 't'},
		{"window", required_argument, NULL, 'w'},  {"v", no_argument, NULL, 'v'},
		{"trace", no_argument, NULL, 'T'},	   {NULL, 0, NULL, 0},
	};
	const char *role = NULL, *sc = NULL;
	int c;
	while ((c = getopt_long_only(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r': role = optarg; break;
		case 'l': p->listen_addr = optarg; break;
		case 'c': p->connect_addr = optarg; break;
		case 'P': p->portfile = optarg; break;
		case 's': sc = optarg; break;
		case 'n': p->nstreams = (unsigned)parse_u64(optarg); break;
		case 'b': p->nbytes = parse_u64(optarg); break;
		case 'S': p->seed = parse_u64(optarg); break;
		case 'p': p->npings = (unsigned)parse_u64(optarg); break;
		case 't': p->timeout_ms = parse_u64(optarg) * 1000; break;
		case 'w': p->window = (uint32_t)parse_u64(optarg); break;
		case 'v': p->verbose = true; break;
		case 'T': p->trace = true; break;
		default: usage();
		}
	}
	if (optind != argc || role == NULL || sc == NULL || (p->listen_addr == NULL) == (p->connect_addr == NULL) ||
	    p->nstreams < 1 || p->nstreams > 4096 || p->window < MUX_INITIAL_WINDOW)
		usage();
	if (strcmp(role, "client") == 0)
		p->client = true;
	else if (strcmp(role, "server") != 0)
		usage();
	size_t i;
	for (i = 0; i < sizeof(sc_names) / sizeof(sc_names[0]); i++)
		if (strcmp(sc, sc_names[i]) == 0)
			break;
	if (i == sizeof(sc_names) / sizeof(sc_names[0]))
		usage();
	p->sc = (enum scenario)i;
}

int main(int argc, char **argv)
{
	struct peer *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return 1;
	p->nstreams = 64;
	p->nbytes = 8u << 20;
	p->seed = 1;
	p->npings = 10;
	p->timeout_ms = 120000;
	p->window = 8u << 20;
	p->lfd = p->fd = -1;
	p->in_walk.dir = '<';
	parse_args(p, argc, argv);
	p->nslots = 2 * (size_t)p->nstreams;
	p->streams = calloc(p->nslots, sizeof(*p->streams));
	p->inbuf = malloc(INBUF_LEN);
	p->scratch = malloc(CHUNK);
	buf_init(&p->out, OUT_CAP);
	p->loop = loop_new();
	if (p->streams == NULL || p->inbuf == NULL || p->scratch == NULL || p->loop == NULL) {
		fprintf(stderr, "mux_peer: out of memory\n");
		return 1;
	}
	p->start_ms = loop_update_time(p->loop);
	loop_timer_init(&p->mux_timer, on_mux_timer, p);
	loop_timer_init(&p->deadline_timer, on_deadline, p);
	loop_timer_init(&p->watchdog_timer, on_watchdog, p);
	loop_timer_start(p->loop, &p->deadline_timer, p->timeout_ms);
	if (loop_before_sleep(p->loop, before_sleep, p) < 0)
		fail(p, "loop_before_sleep failed");
	setup_transport(p);

	int r = loop_run(p->loop);
	if (r < 0)
		fail(p, "loop_run: %s", strerror(-r));
	if (!p->session_done)
		fail(p, "loop ended before the session");
	note(p, "stats: %u writes stopped by the window, %u stream_writable, %u read pauses, max backlog %zu",
	     p->blocked_writes, p->writable_cbs, p->read_pauses, p->max_backlog);
	note(p, "OK scenario %s role %s: %zu streams, %" PRIu64 " bytes in, %" PRIu64 " out, %u pongs",
	     sc_names[p->sc], p->client ? "client" : "server", p->completed, p->bytes_in, p->bytes_out, p->pongs);

	loop_timer_stop(p->loop, &p->mux_timer);
	loop_timer_stop(p->loop, &p->deadline_timer);
	loop_timer_stop(p->loop, &p->watchdog_timer);
	mh_free(p->h);
	loop_free(p->loop);
	buf_reset(&p->out);
	free(p->streams);
	free(p->inbuf);
	free(p->scratch);
	free(p);
	return 0;
}
