/*
 * Unit tests for client/client (with session and pending underneath): the
 * backoff with an injected random source and, on the loop against a
 * scripted fake server on the loopback, the connect sequence: LF-only answer with yamux bytes
 * glued to it, controlOk split across frames, stream per control message,
 * refusals and timeouts logged with their reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/loop.h"
#include "base/sock.h"
#include "client/client.h"
#include "tunnel/config.h"
#include "tunnel/mconn.h"
#include "wire/handshake.h"
#include "wire/yamux_frame.h"

/* ---- backoff ---- */

/* Injected random source: a fixed list, then an LCG. */
struct rsrc {
	const double *fixed;
	size_t nfixed, i;
	uint64_t lcg;
};

static double rsrc_next(struct rsrc *r)
{
	if (r->i < r->nfixed)
		return r->fixed[r->i++];
	r->lcg = r->lcg * 6364136223846793005ull + 1442695040888963407ull;
	return (double)(r->lcg >> 11) / 9007199254740992.0;
}

/* The interval sequence of cenkalti v2.1.0 with the original's settings,
 * in whole ms: x1.5 per attempt, 60 s once the interval reaches 40 s. */
static const uint32_t base_ms[] = {500,  750,   1125,  1687,  2530,  3795,  5692,
				   8538, 12807, 19210, 28815, 43222, 60000, 60000};

static void test_backoff_bounds_per_attempt(void **state)
{
	(void)state;
	struct client_backoff b;
	/* u = 0: the low end, 0.5 x interval. */
	client_backoff_init(&b, CLIENT_BACKOFF_INITIAL_MS, 60000);
	for (size_t k = 0; k < sizeof(base_ms) / sizeof(base_ms[0]); k++) {
		assert_int_equal(b.cur_ms, base_ms[k]);
		assert_int_equal(client_backoff_next(&b, 0.0), base_ms[k] / 2);
	}
	/* u -> 1: the high end, 1.5 x interval (+1, Go's formula). */
	client_backoff_init(&b, CLIENT_BACKOFF_INITIAL_MS, 60000);
	for (size_t k = 0; k < sizeof(base_ms) / sizeof(base_ms[0]); k++) {
		uint32_t d = client_backoff_next(&b, 0.9999999999);
		uint32_t hi = base_ms[k] + base_ms[k] / 2;
		assert_true(d >= hi && d <= hi + 1);
	}
	/* u = 0.5: the interval itself (the midpoint of [0.5x, 1.5x + 1]). */
	client_backoff_init(&b, CLIENT_BACKOFF_INITIAL_MS, 60000);
	assert_int_equal(client_backoff_next(&b, 0.5), 500);
	assert_int_equal(client_backoff_next(&b, 0.5), 750);
	/* Out-of-range u is treated as 0 (never a huge delay). */
	client_backoff_init(&b, CLIENT_BACKOFF_INITIAL_MS, 60000);
	assert_int_equal(client_backoff_next(&b, 1.0), 250);
	assert_int_equal(client_backoff_next(&b, -0.5), 375);
}

static void test_backoff_random_source_and_cap(void **state)
{
	(void)state;
	static const double fixed[] = {0.0, 0.25, 0.75, 0.999};
	struct rsrc r = {fixed, 4, 0, 42};
	struct client_backoff b;
	client_backoff_init(&b, CLIENT_BACKOFF_INITIAL_MS, 60000);
	/* The fixed draws, attempt by attempt: lo + u * (hi - lo + 1). */
	assert_int_equal(client_backoff_next(&b, rsrc_next(&r)), 250);	/* 250 + 0 */
	assert_int_equal(client_backoff_next(&b, rsrc_next(&r)), 562);	/* 375 + .25*751 */
	assert_int_equal(client_backoff_next(&b, rsrc_next(&r)), 1407); /* 562.5 + .75*1126 */
	/* Then 1000 LCG draws: every delay within [0.5, 1.5] x its interval,
	 * never above 90 s + 1, and the interval stays at the 60 s cap. */
	for (int k = 0; k < 1000; k++) {
		uint32_t cur = b.cur_ms;
		uint32_t d = client_backoff_next(&b, rsrc_next(&r));
		assert_true(d >= cur / 2);
		assert_true(d <= cur + cur / 2 + 1);
		assert_true(d <= 90001);
		assert_true(b.cur_ms <= 60000);
	}
	assert_int_equal(b.cur_ms, 60000);
	/* Reset after a good handshake: the first retry is 0.25-0.75 s. */
	client_backoff_reset(&b);
	assert_int_equal(b.cur_ms, 500);
	for (int k = 0; k < 100; k++) {
		client_backoff_reset(&b);
		uint32_t d = client_backoff_next(&b, rsrc_next(&r));
		assert_true(d >= 250 && d <= 751);
	}
}

static void test_backoff_custom_cap(void **state)
{
	(void)state;
	struct client_backoff b;
	/* MaximumConnectionRetrySeconds 5: 500, 750, 1125, 1687, 2530, 3795
	 * (>= 5000 / 1.5) -> 5000. */
	client_backoff_init(&b, CLIENT_BACKOFF_INITIAL_MS, 5000);
	static const uint32_t want[] = {500, 750, 1125, 1687, 2530, 3795, 5000, 5000};
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		assert_int_equal(b.cur_ms, want[k]);
		client_backoff_next(&b, 0.3);
	}
	/* A cap below the initial interval caps the first one too. */
	client_backoff_init(&b, CLIENT_BACKOFF_INITIAL_MS, 200);
	assert_int_equal(b.cur_ms, 200);
	assert_int_equal(client_backoff_next(&b, 0.0), 100);
	assert_int_equal(b.cur_ms, 200);
}

/* ---- state numbers ---- */

/* client_get_state's values are the codec's (and the original's) numbers,
 * so handshake_client_state_name names them (test_handshake.c checks the
 * names themselves). */
static void test_state_values(void **state)
{
	(void)state;
	assert_int_equal(CLIENT_ST_UNKNOWN, HANDSHAKE_CLIENT_UNKNOWN);
	assert_int_equal(CLIENT_ST_STARTED, HANDSHAKE_CLIENT_STARTED);
	assert_int_equal(CLIENT_ST_CONNECTING, HANDSHAKE_CLIENT_CONNECTING);
	assert_int_equal(CLIENT_ST_CONNECTED, HANDSHAKE_CLIENT_CONNECTED);
	assert_int_equal(CLIENT_ST_DISCONNECTED, HANDSHAKE_CLIENT_DISCONNECTED);
	assert_int_equal(CLIENT_ST_CLOSED, HANDSHAKE_CLIENT_CLOSED);
	assert_int_equal(CLIENT_ST_CONNECTED, 3); /* the original's numbers */
	assert_string_equal(handshake_client_state_name((int)CLIENT_ST_DISCONNECTED), "ClientDisconnected");
}

/* ---- on the loop, against a scripted server ---- */

#define LOGBUF 65536

struct fixture {
	struct loop *l;
	struct worker env;
	struct config_client cfg;
	struct config_service svc[1];
	struct client *c;
	int lfd, sfd;
	uint16_t port;
	char logs[LOGBUF];
	size_t loglen;
	enum client_conn_state states[64];
	size_t nstates;
	uint8_t in[65536]; /* what the client sent, not yet parsed */
	size_t inlen;
};

static void log_capture(void *udata, enum log_level level, const char *line, const char *msg)
{
	struct fixture *f = udata;
	(void)level;
	(void)line;
	size_t n = strlen(msg);
	if (f->loglen + n + 2 < LOGBUF) {
		memcpy(f->logs + f->loglen, msg, n);
		f->loglen += n;
		f->logs[f->loglen++] = '\n';
		f->logs[f->loglen] = '\0';
	}
}

static void on_state(void *udata, enum client_conn_state prev, enum client_conn_state cur, const char *err)
{
	struct fixture *f = udata;
	(void)prev;
	(void)err;
	if (f->nstates < 64)
		f->states[f->nstates++] = cur;
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct fixture *fx_new_svc(uint32_t connect_timeout_ms, uint16_t svc_port);

static struct fixture *fx_new(uint32_t connect_timeout_ms)
{
	return fx_new_svc(connect_timeout_ms, 0);
}

/* svc_port != 0: one service "svc" at 127.0.0.1:svc_port. */
static struct fixture *fx_new_svc(uint32_t connect_timeout_ms, uint16_t svc_port)
{
	struct fixture *f = calloc(1, sizeof(*f));
	assert_non_null(f);
	char err[SOCK_ERRLEN];
	f->lfd = sock_listen("127.0.0.1", 0, 16, 0, err);
	assert_true(f->lfd >= 0);
	struct sock_addr a;
	assert_int_equal(sock_local_addr(f->lfd, &a, err), 0);
	f->port = sock_addr_port(&a);
	f->sfd = -1;
	f->l = loop_new();
	assert_non_null(f->l);
	assert_int_equal(worker_init(&f->env, f->l), 0);
	f->cfg.client_id = (char *)"c1";
	f->cfg.server_host = (char *)"127.0.0.1";
	f->cfg.server_port = f->port;
	f->cfg.retry_cap_ms = 60000;
	f->cfg.keepalive_ms = 30000;
	f->cfg.dead_peer_ms = 30000;
	f->cfg.connect_timeout_ms = connect_timeout_ms;
	f->cfg.dial_timeout_ms = 1000;
	f->cfg.recv_window = 1024 * 1024;
	if (svc_port) {
		f->svc[0].name = (char *)"svc";
		f->svc[0].host = (char *)"127.0.0.1";
		f->svc[0].port = svc_port;
		f->cfg.services = f->svc;
		f->cfg.n_services = 1;
	}
	log_set_sink(log_capture, f);
	f->c = client_new(f->l, &f->env, &f->cfg);
	assert_non_null(f->c);
	client_set_state_cb(f->c, on_state, f);
	assert_int_equal(client_start(f->c), 0);
	return f;
}

static void fx_free(struct fixture *f)
{
	client_stop(f->c);
	for (int i = 0; i < 3; i++)
		loop_run_once(f->l, 0);
	client_free(f->c);
	worker_fini(&f->env); /* before the loop: it removes its hook */
	loop_free(f->l);
	log_set_sink(NULL, NULL);
	if (f->sfd >= 0)
		close(f->sfd);
	close(f->lfd);
	free(f);
}

/* Runs the loop until cond(f) or 5 s. */
static bool run_until(struct fixture *f, bool (*cond)(struct fixture *))
{
	uint64_t end = now_ms() + 5000;
	while (!cond(f)) {
		if (now_ms() > end)
			return false;
		loop_run_once(f->l, 10);
		if (f->sfd < 0) {
			int fd = sock_accept(f->lfd, NULL, NULL);
			if (fd >= 0)
				f->sfd = fd;
		}
		if (f->sfd >= 0 && f->inlen < sizeof(f->in)) {
			ssize_t r = recv(f->sfd, f->in + f->inlen, sizeof(f->in) - f->inlen, MSG_DONTWAIT);
			if (r > 0)
				f->inlen += (size_t)r;
		}
	}
	return true;
}

static bool have_request(struct fixture *f)
{
	return f->inlen >= 4 && memmem(f->in, f->inlen, "\r\n\r\n", 4) != NULL;
}

static void srv_send(struct fixture *f, const void *p, size_t n)
{
	assert_int_equal(send(f->sfd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

static size_t frame(uint8_t *out, uint8_t type, uint16_t flags, uint32_t id, const char *payload,
		    uint32_t len)
{
	yamux_hdr_encode(out, type, flags, id, payload ? (uint32_t)strlen(payload) : len);
	if (payload)
		memcpy(out + YAMUX_HDR_LEN, payload, strlen(payload));
	return YAMUX_HDR_LEN + (payload ? strlen(payload) : 0);
}

/* Pops the next frame the client sent, if complete. */
static bool next_frame(struct fixture *f, struct yamux_hdr *h, char *payload, size_t cap)
{
	if (yamux_hdr_decode(f->in, f->inlen, h) != YAMUX_DECODE_OK)
		return false;
	size_t plen = h->type == YAMUX_DATA ? h->length : 0;
	if (f->inlen < YAMUX_HDR_LEN + plen)
		return false;
	assert_true(plen < cap);
	memcpy(payload, f->in + YAMUX_HDR_LEN, plen);
	payload[plen] = '\0';
	memmove(f->in, f->in + YAMUX_HDR_LEN + plen, f->inlen - YAMUX_HDR_LEN - plen);
	f->inlen -= YAMUX_HDR_LEN + plen;
	return true;
}

static bool have_frame(struct fixture *f)
{
	struct yamux_hdr h;
	if (yamux_hdr_decode(f->in, f->inlen, &h) != YAMUX_DECODE_OK)
		return false;
	return f->inlen >= YAMUX_HDR_LEN + (h.type == YAMUX_DATA ? h.length : 0);
}

static void expect_frame(struct fixture *f, uint8_t type, uint16_t flags, uint32_t id, const char *payload)
{
	assert_true(run_until(f, have_frame));
	struct yamux_hdr h;
	char p[4096];
	assert_true(next_frame(f, &h, p, sizeof(p)));
	assert_int_equal(h.type, type);
	assert_int_equal(h.flags, flags);
	assert_int_equal(h.stream_id, id);
	if (payload)
		assert_string_equal(p, payload);
}

static bool is_connected(struct fixture *f)
{
	return client_get_state(f->c) == CLIENT_ST_CONNECTED;
}

/* Accepts the CONNECT and checks its bytes. */
static void take_request(struct fixture *f)
{
	assert_true(run_until(f, have_request));
	char want[512];
	ssize_t n = handshake_request_build(want, sizeof(want), "127.0.0.1", f->port, "c1",
					    HANDSHAKE_FEATURES_OURS);
	assert_true(n > 0);
	assert_true(f->inlen >= (size_t)n);
	assert_memory_equal(f->in, want, (size_t)n);
	memmove(f->in, f->in + n, f->inlen - (size_t)n);
	f->inlen -= (size_t)n;
}

static void test_loop_connect_go_server(void **state)
{
	(void)state;
	struct fixture *f = fx_new(5000);
	take_request(f);
	/* The Go server's 34-byte LF-only answer with, in the same segment, the
	 * ACK of stream 1 and the first 5 bytes of controlOk: they belong to
	 * yamux and must not be lost with the head. */
	uint8_t out[256];
	size_t n = 0;
	memcpy(out, "HTTP/1.1 200 Connected to Tunnel\n\n", 34);
	n = 34;
	/* Our SYN for stream 1 comes first; the ACK may only follow it, but
	 * the bytes are already on the wire when the session starts. */
	n += frame(out + n, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, NULL, 0);
	n += frame(out + n, YAMUX_DATA, 0, 1, "contr", 0);
	srv_send(f, out, n);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, NULL);
	expect_frame(f, YAMUX_DATA, 0, 1, "controlHandshake");
	assert_false(is_connected(f));
	n = frame(out, YAMUX_DATA, 0, 1, "olOk", 0);
	srv_send(f, out, n);
	assert_true(run_until(f, is_connected));
	assert_non_null(strstr(f->logs, "clientStateChange: [c1] ClientConnecting->ClientConnected"));
	assert_non_null(strstr(f->logs, "features in force: none"));
	assert_int_equal(client_features(f->c), 0);

	/* Two control messages in one frame, the second split: one stream
	 * each, in order; unknown services are opened, then closed (FIN). */
	n = frame(out, YAMUX_DATA, 0, 1, "{\"action\":1,\"service\":\"nope\"}\n{\"action\":1,\"ser", 0);
	srv_send(f, out, n);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, NULL);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 3, NULL);
	n = frame(out, YAMUX_DATA, 0, 1, "vice\":\"nope\"}\n", 0);
	srv_send(f, out, n);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 5, NULL);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 5, NULL);
	/* Logged once per service name. */
	const char *first = strstr(f->logs, "service \"nope\" is not in ServiceToLocalAddrMap");
	assert_non_null(first);
	assert_null(strstr(first + 1, "service \"nope\" is not in ServiceToLocalAddrMap"));

	/* A server-open stream without the feature in force: RST. */
	n = frame(out, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 2, NULL, 0);
	srv_send(f, out, n);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_RST, 2, NULL);

	/* Garbage on the control stream: the session ends, GoAway, and the
	 * client goes Disconnected -> Connecting with the reason. */
	n = frame(out, YAMUX_DATA, 0, 1, "not json\n", 0);
	srv_send(f, out, n);
	expect_frame(f, YAMUX_GO_AWAY, 0, 0, NULL);
	assert_non_null(strstr(f->logs, "ClientConnected->ClientDisconnected (bad control message"));
	assert_non_null(strstr(f->logs, "ClientDisconnected->ClientConnecting (bad control message"));
	assert_non_null(strstr(f->logs, "reconnecting in 0."));
	fx_free(f);
}

/* Answers the CONNECT with the given feature list and completes the
 * controlHandshake: the client is then connected with those features. */
static void connect_with_features(struct fixture *f, const char *features)
{
	take_request(f);
	char ans[256];
	snprintf(ans, sizeof(ans), "HTTP/1.1 200 Connected to Tunnel\r\nX-Threshold-Features: %s\r\n\r\n", features);
	srv_send(f, ans, strlen(ans));
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, NULL);
	expect_frame(f, YAMUX_DATA, 0, 1, "controlHandshake");
	uint8_t out[64];
	size_t n = frame(out, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, NULL, 0);
	n += frame(out + n, YAMUX_DATA, 0, 1, "controlOk", 0);
	srv_send(f, out, n);
	assert_true(run_until(f, is_connected));
}

static void test_loop_features_and_server_open_reset(void **state)
{
	(void)state;
	struct fixture *f = fx_new(5000);
	connect_with_features(f, "half-close, Server-Open, x");
	assert_int_equal(client_features(f->c), HANDSHAKE_FEAT_SERVER_OPEN | HANDSHAKE_FEAT_HALF_CLOSE);
	uint8_t out[512];
	size_t n;

	/* server-open without deferred-ack: every SYN is ACKed at once.
	 * SYN + preamble for an unknown service -> ACK, then RST. */
	n = frame(out, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 2, NULL, 0);
	n += frame(out + n, YAMUX_DATA, 0, 2, "{\"action\":1,\"se", 0);
	srv_send(f, out, n);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 2, NULL);
	n = frame(out, YAMUX_DATA, 0, 2, "rvice\":\"nope\"}\nhello", 0);
	srv_send(f, out, n);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_RST, 2, NULL);
	/* A bad preamble -> RST too; the session lives on. */
	n = frame(out, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 4, NULL, 0);
	n += frame(out + n, YAMUX_DATA, 0, 4, "PROXY TCP4 1.1.1.1 2.2.2.2 1 2\r\n", 0);
	srv_send(f, out, n);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 4, NULL);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_RST, 4, NULL);
	assert_true(is_connected(f));
	assert_non_null(strstr(f->logs, "bad preamble"));
	fx_free(f);
}

/* deferred-ack in force: the ACK of a server-opened stream waits for the
 * stream's first frame; a stream refused at once gets its RST alone, and a
 * stream with nothing to say is ACKed at the deadline. */
static void test_loop_deferred_ack(void **state)
{
	(void)state;
	struct fixture *f = fx_new(5000);
	connect_with_features(f, "server-open, half-close, deferred-ack");
	assert_int_equal(client_features(f->c),
			 HANDSHAKE_FEAT_SERVER_OPEN | HANDSHAKE_FEAT_HALF_CLOSE | HANDSHAKE_FEAT_DEFERRED_ACK);
	uint8_t out[512];
	size_t n = frame(out, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 2, NULL, 0);
	n += frame(out + n, YAMUX_DATA, 0, 2, "{\"action\":1,\"service\":\"nope\"}\n", 0);
	srv_send(f, out, n);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_RST, 2, NULL); /* no ACK first */
	/* A preamble still incomplete: the stream is accepted and waits; its
	 * ACK goes when the 20 ms are up. */
	n = frame(out, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 4, NULL, 0);
	n += frame(out + n, YAMUX_DATA, 0, 4, "{\"action\":1,", 0);
	srv_send(f, out, n);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 4, NULL);
	assert_true(is_connected(f));
	fx_free(f);
}

static bool saw_failure(struct fixture *f)
{
	return strstr(f->logs, "failed:") != NULL;
}

static void test_loop_refused_logged(void **state)
{
	(void)state;
	struct fixture *f = fx_new(5000);
	take_request(f);
	const char *ans = "HTTP/1.1 403 Forbidden\r\nContent-Length: 28\r\n\r\nidentity c1 is not allowed\nx";
	srv_send(f, ans, strlen(ans));
	assert_true(run_until(f, saw_failure));
	assert_non_null(strstr(f->logs, "tunnel server error: status=403 Forbidden, body=identity c1 is not allowed"));
	assert_non_null(strstr(f->logs, "ClientConnecting->ClientConnecting (tunnel server error: status=403"));
	assert_false(is_connected(f));
	fx_free(f);
}

static void test_loop_wrong_status_text(void **state)
{
	(void)state;
	struct fixture *f = fx_new(5000);
	take_request(f);
	const char *ans = "HTTP/1.1 200 OK\n\n";
	srv_send(f, ans, strlen(ans));
	assert_true(run_until(f, saw_failure));
	assert_non_null(strstr(f->logs, "status text is not \"Connected to Tunnel\""));
	fx_free(f);
}

static void test_loop_bad_handshake(void **state)
{
	(void)state;
	struct fixture *f = fx_new(5000);
	take_request(f);
	uint8_t out[256];
	size_t n = 34;
	memcpy(out, "HTTP/1.1 200 Connected to Tunnel\n\n", 34);
	n += frame(out + n, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, NULL, 0);
	n += frame(out + n, YAMUX_DATA, 0, 1, "controlNO", 0);
	srv_send(f, out, n);
	assert_true(run_until(f, saw_failure));
	assert_non_null(strstr(f->logs, "invalid handshake response, received: controlNO"));
	assert_false(is_connected(f));
	fx_free(f);
}

static void test_loop_timeouts(void **state)
{
	(void)state;
	/* Accepted, never answered: the CONNECT answer times out. */
	struct fixture *f = fx_new(150);
	take_request(f);
	assert_true(run_until(f, saw_failure));
	assert_non_null(strstr(f->logs, "no answer to CONNECT from 127.0.0.1:"));
	fx_free(f);

	/* Answered, but no controlOk. */
	f = fx_new(150);
	take_request(f);
	srv_send(f, "HTTP/1.1 200 Connected to Tunnel\n\n", 34);
	assert_true(run_until(f, saw_failure));
	assert_non_null(strstr(f->logs, "no controlOk from 127.0.0.1:"));
	fx_free(f);

	/* Nobody listening: refused, logged, retried. */
	f = fx_new(150);
	close(f->lfd);
	f->lfd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(run_until(f, saw_failure));
	assert_non_null(strstr(f->logs, "Connection refused; next attempt in 0."));
	fx_free(f);
}

/* Completes CONNECT + handshake as a Go server would. */
static void connect_go(struct fixture *f)
{
	take_request(f);
	uint8_t out[256];
	size_t n = 34;
	memcpy(out, "HTTP/1.1 200 Connected to Tunnel\n\n", 34);
	n += frame(out + n, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 1, NULL, 0);
	n += frame(out + n, YAMUX_DATA, 0, 1, "controlOk", 0);
	srv_send(f, out, n);
	assert_true(run_until(f, is_connected));
}

static bool saw_keepalive(struct fixture *f)
{
	return strstr(f->logs, "ClientConnected->ClientDisconnected (keepalive timeout)") != NULL;
}

static void test_loop_dead_peer(void **state)
{
	(void)state;
	/* Pings every 100 ms; 200 ms without an answer kills the session. */
	struct fixture *f = fx_new(5000);
	client_stop(f->c); /* before its first attempt: new timings */
	f->cfg.keepalive_ms = 100;
	f->cfg.dead_peer_ms = 200;
	assert_int_equal(client_start(f->c), 0);
	connect_go(f);
	/* (No timing assertion: when exactly it dies is for make bench.) */
	assert_true(run_until(f, saw_keepalive));
	/* The client pinged (Ping SYN, stream 0) before giving up. */
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, NULL);
	expect_frame(f, YAMUX_DATA, 0, 1, "controlHandshake");
	struct yamux_hdr h;
	char p[64];
	assert_true(run_until(f, have_frame));
	assert_true(next_frame(f, &h, p, sizeof(p)));
	assert_int_equal(h.type, YAMUX_PING);
	assert_int_equal(h.flags, YAMUX_SYN);
	fx_free(f);
}

static bool is_connecting_again(struct fixture *f)
{
	return f->nstates >= 2 && f->states[f->nstates - 1] == CLIENT_ST_CONNECTING &&
	       f->states[f->nstates - 2] == CLIENT_ST_STARTED;
}

static void test_loop_stop_and_restart(void **state)
{
	(void)state;
	struct fixture *f = fx_new(5000);
	connect_go(f);
	/* Graceful stop: GoAway(0), Connected -> Disconnected -> Closed. */
	client_stop(f->c);
	assert_int_equal(client_get_state(f->c), CLIENT_ST_CLOSED);
	assert_non_null(strstr(f->logs, "ClientConnected->ClientDisconnected (client stopped)"));
	assert_non_null(strstr(f->logs, "ClientDisconnected->ClientClosed"));
	client_stop(f->c); /* idempotent */
	f->inlen = 0;
	/* Started again: a new attempt at once, then connected again. */
	f->nstates = 0;
	assert_int_equal(client_start(f->c), 0);
	assert_int_equal(client_start(f->c), -EALREADY);
	assert_true(is_connecting_again(f));
	close(f->sfd);
	f->sfd = -1;
	connect_go(f);
	fx_free(f);
}

/* The local service: one listener, one accepted connection. */
struct local {
	int lfd, fd;
	uint16_t port;
	char got[256];
	size_t len;
	bool eof;
};

static struct local *g_local;

static void local_open(struct local *lc)
{
	char err[SOCK_ERRLEN];
	memset(lc, 0, sizeof(*lc));
	lc->lfd = sock_listen("127.0.0.1", 0, 4, 0, err);
	assert_true(lc->lfd >= 0);
	struct sock_addr a;
	assert_int_equal(sock_local_addr(lc->lfd, &a, err), 0);
	lc->port = sock_addr_port(&a);
	lc->fd = -1;
	g_local = lc;
}

static bool local_got_eof(struct fixture *f)
{
	(void)f;
	struct local *lc = g_local;
	if (lc->fd < 0) {
		int fd = sock_accept(lc->lfd, NULL, NULL);
		if (fd < 0)
			return false;
		lc->fd = fd;
	}
	ssize_t r = recv(lc->fd, lc->got + lc->len, sizeof(lc->got) - 1 - lc->len, MSG_DONTWAIT);
	if (r > 0)
		lc->len += (size_t)r;
	else if (r == 0)
		lc->eof = true;
	lc->got[lc->len] = '\0';
	return lc->eof;
}

static void test_loop_server_open_relay(void **state)
{
	(void)state;
	struct local lc;
	local_open(&lc);
	struct fixture *f = fx_new_svc(5000, lc.port);
	connect_with_features(f, "server-open, half-close");
	uint8_t out[512];
	size_t n;

	/* SYN, the preamble and the visitor's first bytes in one frame, then
	 * more bytes and FIN (the visitor half-closed) before the local dial
	 * can have completed: all of it reaches the service, in order, then
	 * its EOF. */
	n = frame(out, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 2, NULL, 0);
	n += frame(out + n, YAMUX_DATA, 0, 2, "{\"action\":1,\"service\":\"svc\"}\nhello ", 0);
	n += frame(out + n, YAMUX_DATA, YAMUX_FIN, 2, "world", 0);
	srv_send(f, out, n);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_ACK, 2, NULL);
	assert_true(run_until(f, local_got_eof));
	assert_string_equal(lc.got, "hello world");
	/* Half-close: the service still answers, then closes; the answer and
	 * a FIN come back on the stream. */
	assert_int_equal(send(lc.fd, "answer", 6, MSG_NOSIGNAL), 6);
	shutdown(lc.fd, SHUT_WR);
	expect_frame(f, YAMUX_DATA, 0, 2, "answer");
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 2, NULL);
	close(lc.fd);
	close(lc.lfd);
	fx_free(f);
}

static bool saw_dial_failure(struct fixture *f)
{
	return strstr(f->logs, "dial 127.0.0.1:") != NULL;
}

static void test_loop_go_dial_failure(void **state)
{
	(void)state;
	/* A port nobody listens on. */
	struct local lc;
	local_open(&lc);
	close(lc.lfd);
	struct fixture *f = fx_new_svc(5000, lc.port);
	connect_go(f);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 1, NULL);
	expect_frame(f, YAMUX_DATA, 0, 1, "controlHandshake");
	uint8_t out[256];
	size_t n = frame(out, YAMUX_DATA, 0, 1, "{\"action\":1,\"service\":\"svc\"}\n", 0);
	srv_send(f, out, n);
	/* Opened at once, closed (FIN, as the original) when the dial fails. */
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_SYN, 3, NULL);
	expect_frame(f, YAMUX_WINDOW_UPDATE, YAMUX_FIN, 3, NULL);
	assert_true(run_until(f, saw_dial_failure));
	assert_non_null(strstr(f->logs, "Connection refused"));
	assert_true(is_connected(f));
	fx_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_backoff_bounds_per_attempt),
		cmocka_unit_test(test_backoff_random_source_and_cap),
		cmocka_unit_test(test_backoff_custom_cap),
		cmocka_unit_test(test_state_values),
		cmocka_unit_test(test_loop_connect_go_server),
		cmocka_unit_test(test_loop_features_and_server_open_reset),
		cmocka_unit_test(test_loop_deferred_ack),
		cmocka_unit_test(test_loop_refused_logged),
		cmocka_unit_test(test_loop_wrong_status_text),
		cmocka_unit_test(test_loop_bad_handshake),
		cmocka_unit_test(test_loop_timeouts),
		cmocka_unit_test(test_loop_dead_peer),
		cmocka_unit_test(test_loop_stop_and_restart),
		cmocka_unit_test(test_loop_server_open_relay),
		cmocka_unit_test(test_loop_go_dial_failure),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
