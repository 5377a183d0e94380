/*
 * bench_mux: the yamux engine alone, in memory. Two engines are joined back
 * to back through two byte queues (the "wire"); every byte crosses one
 * memcpy into the queue, as it would cross one write() into a socket, and
 * one more out of it on the receiving side (the relay's write()).
 *
 *   bench_mux [seconds-per-case]     (default 2; each case is also bounded
 *                                     in bytes/frames)
 *
 * Cases: MB/s through 1 stream and through 64 streams (receiver consumes
 * at once, as a relay writing straight to its socket would), Data frames per
 * second with 64-byte payloads, and heap bytes per idle open stream (both
 * engines together, from mallinfo2).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mux/mux.h"

struct wire {
	uint8_t *buf;
	size_t len, cap;
};

struct end {
	struct mux *m;
	struct wire *out;
	uint64_t received;
	struct mux_stream **accepted;
	size_t naccepted, cap_accepted;
};

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void wire_push(struct wire *w, const void *p, size_t n)
{
	if (w->len + n > w->cap) {
		size_t ncap = w->cap ? w->cap : 1 << 20;
		while (ncap < w->len + n)
			ncap *= 2;
		w->buf = realloc(w->buf, ncap);
		if (w->buf == NULL) {
			perror("realloc");
			exit(1);
		}
		w->cap = ncap;
	}
	memcpy(w->buf + w->len, p, n);
	w->len += n;
}

static void on_emit(void *ctx, const struct iovec *iov, int iovcnt)
{
	struct end *e = ctx;
	for (int i = 0; i < iovcnt; i++)
		wire_push(e->out, iov[i].iov_base, iov[i].iov_len);
}

static void on_open(void *ctx, struct mux_stream *s)
{
	struct end *e = ctx;
	mux_stream_accept(s);
	if (e->naccepted == e->cap_accepted) {
		e->cap_accepted = e->cap_accepted ? e->cap_accepted * 2 : 64;
		e->accepted = realloc(e->accepted, e->cap_accepted * sizeof(*e->accepted));
		if (e->accepted == NULL)
			exit(1);
	}
	e->accepted[e->naccepted++] = s;
}

static void on_data(void *ctx, struct mux_stream *s, const uint8_t *p, size_t n)
{
	/* The relay writes payload straight to its socket: the kernel copies
	 * it once more. Stand in for that copy. */
	static uint8_t sink[256 * 1024];
	struct end *e = ctx;
	for (size_t off = 0; off < n; off += sizeof(sink)) {
		size_t k = n - off < sizeof(sink) ? n - off : sizeof(sink);
		memcpy(sink, p + off, k);
	}
	__asm__ volatile("" : : "r"(sink) : "memory");
	e->received += n;
	mux_stream_consumed(s, n);
}

static void on_reset(void *ctx, struct mux_stream *s, int err)
{
	(void)ctx;
	(void)s;
	(void)err;
}

static const struct mux_ops ops = {
	.emit = on_emit,
	.stream_open = on_open,
	.stream_data = on_data,
	.stream_reset = on_reset,
};

struct pair {
	struct wire ab, ba;
	struct end a, b;
};

static void pair_init(struct pair *p)
{
	memset(p, 0, sizeof(*p));
	struct mux_config ca, cb;
	mux_config_default(&ca);
	mux_config_default(&cb);
	ca.client = true;
	ca.keepalive_ms = cb.keepalive_ms = 0;
	ca.max_streams = cb.max_streams = 1u << 20;
	ca.accept_backlog = cb.accept_backlog = 1u << 20;
	ca.max_syn_inflight = 1u << 20;
	p->a.out = &p->ab;
	p->b.out = &p->ba;
	p->a.m = mux_new(&ca, &ops, &p->a, 0);
	p->b.m = mux_new(&cb, &ops, &p->b, 0);
}

static void pair_pump(struct pair *p)
{
	while (p->ab.len || p->ba.len) {
		if (p->ab.len) {
			size_t n = p->ab.len;
			p->ab.len = 0;
			mux_input(p->b.m, p->ab.buf, n, 0);
		}
		if (p->ba.len) {
			size_t n = p->ba.len;
			p->ba.len = 0;
			mux_input(p->a.m, p->ba.buf, n, 0);
		}
	}
}

static void pair_free(struct pair *p)
{
	mux_free(p->a.m);
	mux_free(p->b.m);
	free(p->ab.buf);
	free(p->ba.buf);
	free(p->a.accepted);
	free(p->b.accepted);
}

/* Bulk throughput through n streams; returns MB/s (1 MB = 1e6 bytes). */
static double bench_bulk(int nstreams, double seconds, uint64_t max_bytes)
{
	static uint8_t chunk[256 * 1024];
	struct pair p;
	pair_init(&p);
	struct mux_stream **ss = calloc((size_t)nstreams, sizeof(*ss));
	for (int i = 0; i < nstreams; i++)
		ss[i] = mux_stream_open(p.a.m, NULL);
	pair_pump(&p);
	struct iovec iov = {chunk, sizeof(chunk)};
	double t0 = now_s(), t;
	uint64_t sent = 0;
	do {
		for (int k = 0; k < 64; k++) {
			for (int i = 0; i < nstreams; i++) {
				ssize_t w = mux_stream_write(ss[i], &iov, 1);
				if (w > 0)
					sent += (uint64_t)w;
			}
			pair_pump(&p);
		}
		t = now_s() - t0;
	} while (t < seconds && sent < max_bytes);
	double mbs = (double)p.b.received / t / 1e6;
	if (p.b.received != sent) {
		fprintf(stderr, "bulk: sent %llu received %llu\n", (unsigned long long)sent,
			(unsigned long long)p.b.received);
		exit(1);
	}
	free(ss);
	pair_free(&p);
	return mbs;
}

/* Small Data frames per second through one stream. */
static double bench_frames(double seconds, uint64_t max_frames)
{
	static uint8_t small[64];
	struct pair p;
	pair_init(&p);
	struct mux_stream *s = mux_stream_open(p.a.m, NULL);
	pair_pump(&p);
	struct iovec iov = {small, sizeof(small)};
	uint64_t frames = 0;
	double t0 = now_s(), t;
	do {
		for (int k = 0; k < 1024; k++) {
			if (mux_stream_write(s, &iov, 1) == (ssize_t)sizeof(small))
				frames++;
		}
		pair_pump(&p);
		t = now_s() - t0;
	} while (t < seconds && frames < max_frames);
	pair_free(&p);
	return (double)frames / t;
}

/* Heap bytes per idle open stream, both engines together. */
static double bench_idle(int n)
{
	struct pair p;
	pair_init(&p);
	struct mux_stream *warm = mux_stream_open(p.a.m, NULL);
	pair_pump(&p);
	(void)warm;
	struct mallinfo2 before = mallinfo2();
	size_t wire_before = p.ab.cap + p.ba.cap;
	for (int i = 0; i < n; i++) {
		if (mux_stream_open(p.a.m, NULL) == NULL) {
			fprintf(stderr, "idle: open failed at %d\n", i);
			exit(1);
		}
		if (i % 256 == 255)
			pair_pump(&p);
	}
	pair_pump(&p);
	struct mallinfo2 after = mallinfo2();
	size_t wire_growth = p.ab.cap + p.ba.cap - wire_before;
	double per = ((double)(after.uordblks - before.uordblks) - (double)wire_growth) / n;
	if (mux_num_streams(p.a.m) != (size_t)n + 1 || mux_num_streams(p.b.m) != (size_t)n + 1) {
		fprintf(stderr, "idle: stream counts wrong\n");
		exit(1);
	}
	pair_free(&p);
	return per;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	if (secs <= 0 || secs > 60)
		secs = 2.0;
	double one = bench_bulk(1, secs, 64ull << 30);
	double many = bench_bulk(64, secs, 64ull << 30);
	double fps = bench_frames(secs, 500ull * 1000 * 1000);
	double idle = bench_idle(100000);
	printf("| case | result |\n|---|---|\n");
	printf("| bulk, 1 stream | %.0f MB/s |\n", one);
	printf("| bulk, 64 streams | %.0f MB/s |\n", many);
	printf("| Data frames (64 B payload), 1 stream | %.2f M frames/s |\n", fps / 1e6);
	printf("| heap per idle open stream (both ends, 100k streams) | %.0f bytes |\n", idle);
	printf("| engine stream struct | %zu bytes |\n", mux_stream_alloc_size());
	return 0;
}
