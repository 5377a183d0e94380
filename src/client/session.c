/*
 * session: one connect attempt and its session (see session.h).
 *
 * struct csess goes through the phases CONNECT .. CONNECTED, then DEAD.
 * Failures inside the yamux session (bad controlOk, control protocol error,
 * handshake timeout) go through mconn_close(); the session's `closed`
 * callback is then the one place where it ends. Failures before the
 * session exists end the attempt directly (sess_end). Either way sess_end
 * runs once and calls ctx->ended.
 */
#include "client/session.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sock.h"
#include "base/tls.h"
#include "base/transport.h"
#include "base/util.h"
#include "client/client.h"
#include "client/pending.h"
#include "wire/handshake.h"
#include "wire/http.h"

/* Addresses tried for the server. */
#define CLIENT_SERVER_ADDRS 8
/* CONNECT answer read buffer: the head (at most HTTP_HEAD_MAX_DEFAULT,
 * handshake_answer_parse's cap) plus early session bytes. */
#define CLIENT_RESP_BUF (2 * HTTP_HEAD_MAX_DEFAULT)
/* Body bytes of a refusal we wait for to log its first line. */
#define CLIENT_BODY_SNIPPET 512

enum phase {
	PH_CONNECT,   /* TCP connect to addrs[addr_idx] in progress */
	PH_TLS,	      /* UseTls: TLS handshake in progress */
	PH_REQUEST,   /* writing the CONNECT request */
	PH_RESPONSE,  /* reading the answer's head */
	PH_BODY,      /* refused: reading the first line of the body to log it */
	PH_HANDSHAKE, /* session up, waiting for controlOk */
	PH_CONNECTED,
	PH_DEAD,
};

struct csess {
	const struct client_ctx *ctx;
	enum phase phase;
	unsigned id;	     /* attempt number, for the log */
	int fd;		     /* the socket (owned by t once t exists) */
	struct transport *t; /* TCP or TLS after the connect; the mconn takes it */
	struct sock_addr addrs[CLIENT_SERVER_ADDRS];
	int naddrs, addr_idx;
	char addr_str[SOCK_ADDRSTRLEN];
	struct loop_timer timer; /* deadline of the current phase */
	char *io;		 /* request, then answer bytes */
	size_t io_len, io_off;
	int status;	 /* refusal: status code */
	char reason[80]; /* refusal: reason text (sanitised) */
	size_t head_len;
	int64_t clen;
	struct mconn *mc;
	struct mstream_handler ctl_h;
	struct mux_stream *ctl;
	struct handshake_match hs; /* controlOk, in PH_HANDSHAKE */
	char ctl_buf[CONTROL_MSG_LINE_MAX];
	size_t ctl_len;
	unsigned features;	 /* in force */
	struct pending pd;	 /* streams waiting for their local dial */
	char err[CLIENT_ERRLEN]; /* why it ended, when we ended it */
	struct loop_deferred reap;
};

static void attempt_next_addr(struct csess *ss);
static void fail_refused(struct csess *ss);
static void sess_on_io(struct loop *l, int fd, uint32_t events, void *udata);

/* The server name as configured (what the certificate must name). */
static const char *cl_host(const struct csess *ss)
{
	return ss->ctx->cfg->server_host;
}

static const char *cl_id(const struct csess *ss)
{
	return ss->ctx->cfg->client_id;
}

/* ---- teardown ---- */

static void sess_reap(void *arg)
{
	struct csess *ss = arg;
	pending_fini(&ss->pd);
	free(ss->io);
	free(ss);
}

/* The attempt or session is over: release what is left and tell the
 * client. Called once: from the session's closed callback, or directly for
 * failures before the session exists. */
static void sess_end(struct csess *ss, const char *reason)
{
	if (ss->phase == PH_DEAD)
		return;
	const struct client_ctx *ctx = ss->ctx;
	struct loop *l = ctx->loop;
	bool was_connected = ss->phase == PH_CONNECTED;
	ss->phase = PH_DEAD;
	if (reason != ss->err)
		snprintf(ss->err, sizeof(ss->err), "%s", reason ? reason : "closed");
	loop_timer_stop(l, &ss->timer);
	if (ss->fd >= 0) {
		loop_unwatch(l, ss->fd);
		if (ss->t == NULL)
			close(ss->fd);
		ss->fd = -1;
	}
	transport_free(ss->t); /* closes the fd */
	ss->t = NULL;
	pending_stop(&ss->pd);
	if (ss->ctl) {
		mux_stream_set_udata(ss->ctl, NULL);
		mux_stream_release(ss->ctl);
		ss->ctl = NULL;
	}
	ss->mc = NULL;
	free(ss->io);
	ss->io = NULL;
	loop_defer(l, &ss->reap, sess_reap, ss);
	ctx->ended(ctx->up, ss, ss->err, was_connected);
}

/* Ends a session that has an mconn: the close comes back through
 * on_closed, which calls sess_end. */
static void sess_fail(struct csess *ss, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sess_fail(struct csess *ss, const char *fmt, ...)
{
	if (ss->phase == PH_DEAD)
		return;
	if (ss->err[0] == '\0') {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(ss->err, sizeof(ss->err), fmt, ap);
		va_end(ap);
	}
	if (ss->mc)
		mconn_close(ss->mc, MUX_GOAWAY_NORMAL, MUX_E_LOCAL);
	else
		sess_end(ss, ss->err);
}

/* pending.h's up-call: a control message cannot get its stream. */
static void sess_pending_failed(void *up, const char *why)
{
	sess_fail(up, "%s", why);
}

/* ---- control stream ---- */

static void handle_control_msg(struct csess *ss, const struct control_msg *msg)
{
	if (msg->action != CONTROL_ACTION_REQUEST_CLIENT_SESSION) {
		sess_fail(ss, "control message with unexpected action %lld", (long long)msg->action);
		return;
	}
	char safe[SAFE_NAME_LEN];
	log_debug("client [%s]: control message: service \"%s\"", cl_id(ss), client_safe_name(safe, msg->service));
	pending_request(&ss->pd, msg->service);
}

/* Control messages in ctl_buf. */
static void process_control(struct csess *ss)
{
	while (ss->phase == PH_CONNECTED) {
		struct control_msg msg;
		size_t used = 0;
		int rc = control_msg_decode(ss->ctl_buf, ss->ctl_len, &msg, &used);
		if (used > 0) {
			memmove(ss->ctl_buf, ss->ctl_buf + used, ss->ctl_len - used);
			ss->ctl_len -= used;
		}
		if (rc == CONTROL_MSG_NEED_MORE) {
			if (ss->ctl_len >= sizeof(ss->ctl_buf))
				sess_fail(ss, "control message longer than %d bytes", CONTROL_MSG_LINE_MAX);
			return;
		}
		if (rc != CONTROL_MSG_OK) {
			char show[64];
			client_sanitize(show, sizeof(show), ss->ctl_buf, ss->ctl_len);
			sess_fail(ss, "bad control message (error %d): %s", rc, show);
			return;
		}
		handle_control_msg(ss, &msg);
	}
}

static void on_connected(struct csess *ss)
{
	const struct client_ctx *ctx = ss->ctx;
	ss->phase = PH_CONNECTED;
	loop_timer_stop(ctx->loop, &ss->timer);
	pending_start(&ss->pd, ss->mc, ss->features);
	log_info("client [%s]: connected to %s (%s), features in force: %s%s%s%s", cl_id(ss), ctx->server_hostport,
		 ss->addr_str, ss->features == 0 ? "none" : "",
		 (ss->features & HANDSHAKE_FEAT_SERVER_OPEN) ? "server-open " : "",
		 (ss->features & HANDSHAKE_FEAT_HALF_CLOSE) ? "half-close " : "",
		 (ss->features & HANDSHAKE_FEAT_DEFERRED_ACK) ? "deferred-ack" : "");
	ctx->connected(ctx->up);
}

static void ctl_data(struct mstream_handler *h, struct mux_stream *s, const uint8_t *p, size_t n)
{
	struct csess *ss = container_of(h, struct csess, ctl_h);
	mux_stream_consumed(s, n);
	if (n > 0 && ss->phase == PH_HANDSHAKE) {
		size_t used = 0;
		int rc = handshake_match_feed(&ss->hs, p, n, &used);
		if (rc == HANDSHAKE_E_MISMATCH) {
			char got[32];
			size_t rest = n - used;
			client_sanitize(got, sizeof(got), (const char *)p + used, rest < 16 ? rest : 16);
			sess_fail(ss, "invalid handshake response, received: %.*s%s", (int)ss->hs.got,
				  HANDSHAKE_HELLO_OK, got);
			return;
		}
		p += used;
		n -= used;
		if (rc == HANDSHAKE_OK)
			on_connected(ss);
	}
	while (n > 0 && ss->phase == PH_CONNECTED) {
		size_t k = sizeof(ss->ctl_buf) - ss->ctl_len;
		if (k > n)
			k = n;
		memcpy(ss->ctl_buf + ss->ctl_len, p, k);
		ss->ctl_len += k;
		p += k;
		n -= k;
		process_control(ss);
	}
}

static void ctl_fin(struct mstream_handler *h, struct mux_stream *s)
{
	struct csess *ss = container_of(h, struct csess, ctl_h);
	(void)s;
	sess_fail(ss, "%s", ss->phase == PH_HANDSHAKE ? "server closed the control stream during the handshake" : "server closed the control stream (EOF)");
}

static void ctl_reset(struct mstream_handler *h, struct mux_stream *s, int err)
{
	struct csess *ss = container_of(h, struct csess, ctl_h);
	mux_stream_set_udata(s, NULL);
	mux_stream_release(s);
	ss->ctl = NULL;
	if (err == MUX_E_RESET)
		sess_fail(ss, "control stream reset by the server");
	/* Otherwise the session itself is closing: on_closed follows. */
}

static const struct mstream_ops ctl_ops = {
	.data = ctl_data,
	.fin = ctl_fin,
	.reset = ctl_reset,
};

/* ---- session callbacks ---- */

static void on_stream_open(void *owner, struct mconn *c, struct mux_stream *s)
{
	struct csess *ss = owner;
	(void)c;
	if (ss->phase != PH_CONNECTED || !(ss->features & HANDSHAKE_FEAT_SERVER_OPEN)) {
		log_debug("client [%s]: unexpected stream %u from the server: reset", cl_id(ss), mux_stream_id(s));
		mux_stream_reset(s);
		mux_stream_release(s);
		return;
	}
	pending_accept(&ss->pd, s);
}

static void on_closed(void *owner, struct mconn *c, int err)
{
	struct csess *ss = owner;
	(void)c;
	ss->mc = NULL;
	if (ss->err[0] == '\0')
		snprintf(ss->err, sizeof(ss->err), "%s", mux_strerror(err));
	sess_end(ss, ss->err);
}

static const struct mconn_owner_ops sess_owner_ops = {
	.stream_open = on_stream_open,
	.closed = on_closed,
};

/* ---- starting the session ---- */

/* The yamux settings for this session (features already negotiated). */
static void session_config(const struct csess *ss, struct mux_config *mcfg)
{
	const struct config_client *cfg = ss->ctx->cfg;
	mux_config_default(mcfg);
	mcfg->client = true;
	mcfg->recv_window = cfg->recv_window;
	/* A dead server is noticed within DeadPeerSeconds: ping at least
	 * twice per period; the session dies when a ping is unanswered and
	 * nothing at all has arrived for the rest of the period. */
	mcfg->keepalive_ms = cfg->keepalive_ms < cfg->dead_peer_ms / 2 ? cfg->keepalive_ms : cfg->dead_peer_ms / 2;
	mcfg->ping_timeout_ms = cfg->dead_peer_ms - mcfg->keepalive_ms;
	/* Streams the server opens for visitors: with deferred-ack the ACK
	 * leaves with the service's first bytes (or after 20 ms), not in a
	 * write of its own that wakes the server for nothing. Otherwise every
	 * accepted SYN is ACKed at once, as yamux peers expect. */
	const unsigned both = HANDSHAKE_FEAT_SERVER_OPEN | HANDSHAKE_FEAT_DEFERRED_ACK;
	if ((ss->features & both) == both)
		mcfg->ack_delay_ms = CLIENT_ACK_DELAY_MS;
}

/* The answer's head is complete and says 200 Connected to Tunnel, with
 * the features the server named in `offered`: start the session on this
 * connection (we keep those we asked for). */
static void start_session(struct csess *ss, unsigned offered)
{
	const struct client_ctx *ctx = ss->ctx;
	ss->features = offered & HANDSHAKE_FEATURES_OURS;

	struct mux_config mcfg;
	session_config(ss, &mcfg);
	loop_unwatch(ctx->loop, ss->fd);
	struct transport *t = ss->t; /* the mconn takes it (also on failure) */
	ss->t = NULL;
	ss->fd = -1;
	char name[SOCK_HOSTLEN + 64];
	snprintf(name, sizeof(name), "client [%s] session %s", cl_id(ss), ss->addr_str);
	const uint8_t *pre = (const uint8_t *)ss->io + ss->head_len;
	size_t prelen = ss->io_len - ss->head_len;
	ss->phase = PH_HANDSHAKE;
	handshake_match_init(&ss->hs, true);
	ss->mc = mconn_new(ctx->env, t, &mcfg, &sess_owner_ops, ss, name, pre, prelen);
	free(ss->io);
	ss->io = NULL;
	if (ss->mc == NULL) {
		sess_end(ss, "out of memory");
		return;
	}
	int err = 0;
	ss->ctl_h.ops = &ctl_ops;
	ss->ctl = mconn_open_stream(ss->mc, &ss->ctl_h, &err);
	if (ss->ctl == NULL) {
		sess_fail(ss, "cannot open the control stream: %s", mux_strerror(err));
		return;
	}
	struct iovec iov = { (void *)HANDSHAKE_HELLO, HANDSHAKE_HELLO_LEN };
	ssize_t w = mux_stream_write(ss->ctl, &iov, 1);
	if (w != (ssize_t)HANDSHAKE_HELLO_LEN) {
		sess_fail(ss, "cannot write the handshake: %s", w < 0 ? mux_strerror((int)w) : "short write");
		return;
	}
	mconn_kick(ss->mc);
	loop_timer_start(ctx->loop, &ss->timer, ctx->cfg->connect_timeout_ms);
}

/* ---- connect attempt ---- */

static void phase_timeout(struct loop *l, struct loop_timer *t, void *udata)
{
	struct csess *ss = udata;
	(void)t;
	uint32_t ms = ss->ctx->cfg->connect_timeout_ms;
	switch (ss->phase) {
	case PH_CONNECT:
		snprintf(ss->err, sizeof(ss->err), "connect %s: timed out after %u ms", ss->addr_str, ms);
		loop_unwatch(l, ss->fd);
		close(ss->fd);
		ss->fd = -1;
		ss->addr_idx++;
		attempt_next_addr(ss);
		return;
	case PH_TLS:
		sess_fail(ss, "TLS handshake with %s (%s): not complete within %u ms", cl_host(ss), ss->addr_str,
			  ms);
		return;
	case PH_REQUEST:
	case PH_RESPONSE:
		sess_fail(ss, "no answer to CONNECT from %s within %u ms", ss->addr_str, ms);
		return;
	case PH_BODY:
		fail_refused(ss); /* log what we have */
		return;
	case PH_HANDSHAKE:
		sess_fail(ss, "no controlOk from %s within %u ms", ss->addr_str, ms);
		return;
	default:
		return;
	}
}

/* Tries the server's addresses from addr_idx on; the attempt fails when
 * none is left (ss->err holds the last reason). */
static void attempt_next_addr(struct csess *ss)
{
	const struct client_ctx *ctx = ss->ctx;
	while (ss->addr_idx < ss->naddrs) {
		const struct sock_addr *a = &ss->addrs[ss->addr_idx];
		char err[SOCK_ERRLEN];
		sock_addr_str(a, ss->addr_str, sizeof(ss->addr_str));
		log_debug("client [%s]: connecting to %s (%s)", cl_id(ss), ctx->server_hostport, ss->addr_str);
		int fd = sock_connect_addr(a, err);
		if (fd < 0) {
			snprintf(ss->err, sizeof(ss->err), "%s", err);
			ss->addr_idx++;
			continue;
		}
		if (loop_watch(ctx->loop, fd, LOOP_WRITE, sess_on_io, ss) != 0) {
			close(fd);
			snprintf(ss->err, sizeof(ss->err), "cannot watch the socket");
			break;
		}
		ss->fd = fd;
		ss->phase = PH_CONNECT;
		loop_timer_start(ctx->loop, &ss->timer, ctx->cfg->connect_timeout_ms);
		return;
	}
	sess_end(ss, ss->err[0] ? ss->err : "no address to connect to");
}

static void set_control_sockopts(const struct csess *ss, int fd)
{
	char err[SOCK_ERRLEN];
	const struct config_client *cfg = ss->ctx->cfg;
	int idle = cfg->keepalive_ms ? (int)(cfg->keepalive_ms / 1000) : 30;
	int intvl = (int)(cfg->dead_peer_ms / 3000);
	if (idle < 1)
		idle = 1;
	if (intvl < 1)
		intvl = 1;
	if (sock_set_nodelay(fd, true, err) < 0 || sock_set_keepalive(fd, idle, intvl, 3, err) < 0 ||
	    sock_set_user_timeout(fd, cfg->dead_peer_ms, err) < 0)
		log_debug("client [%s]: control socket options: %s", cfg->client_id, err);
}

/* Refusal: enough of the body to log its first line? */
static bool body_complete(const struct csess *ss, bool eof)
{
	const char *body = ss->io + ss->head_len;
	size_t blen = ss->io_len - ss->head_len;
	if (eof || blen >= CLIENT_BODY_SNIPPET || memchr(body, '\n', blen) != NULL)
		return true;
	return ss->clen >= 0 && blen >= (uint64_t)ss->clen;
}

static void fail_refused(struct csess *ss)
{
	const char *body = ss->io + ss->head_len;
	size_t blen = ss->io_len - ss->head_len;
	const char *nl = memchr(body, '\n', blen);
	if (nl)
		blen = (size_t)(nl - body);
	if (ss->clen >= 0 && blen > (uint64_t)ss->clen)
		blen = (size_t)ss->clen;
	char line[160];
	client_sanitize(line, sizeof(line), body, blen);
	if (ss->status == 200)
		sess_end(ss, "tunnel server error: status=200 but the status text is not \"Connected to Tunnel\"");
	else {
		char why[CLIENT_ERRLEN];
		snprintf(why, sizeof(why), "tunnel server error: status=%d %s, body=%s", ss->status, ss->reason,
			 line);
		sess_end(ss, why);
	}
}

/* Why a write to or read from the server failed right after the TLS
 * handshake, into why[CLIENT_ERRLEN]; `plain` is the text otherwise. */
static void tls_refusal_text(const struct csess *ss, char *why, ssize_t r, bool tls_dropped, const char *plain)
{
	const char *tlserr = tls_last_error(ss->t);
	if (tlserr[0])
		/* TLS 1.3: the server refuses our certificate after our side
		 * of the handshake is done. */
		snprintf(why, CLIENT_ERRLEN, "TLS with %s (%s): the server refused the session: %s", cl_host(ss),
			 ss->addr_str, tlserr);
	else if (tls_dropped)
		snprintf(why, CLIENT_ERRLEN,
			 "TLS with %s (%s): the server dropped the session right after the handshake "
			 "(%s; did it refuse our certificate? its log says why)",
			 cl_host(ss), ss->addr_str, strerror((int)-r));
	else
		snprintf(why, CLIENT_ERRLEN, "%s %s: %s", plain, ss->addr_str, strerror((int)-r));
}

/* Reading the answer failed (r < 0) or met EOF (r == 0): end the attempt
 * (a refusal being read is logged with what we have). */
static void answer_failed(struct csess *ss, ssize_t r)
{
	char why[CLIENT_ERRLEN];
	if (ss->phase == PH_BODY) {
		fail_refused(ss);
		return;
	}
	if (r < 0)
		tls_refusal_text(ss, why, r, ss->ctx->tls && ss->io_len == 0, "reading the answer to CONNECT from");
	else
		snprintf(why, sizeof(why), "%s closed the connection %s", ss->addr_str,
			 ss->io_len ? "in the middle of its answer to CONNECT" : "without answering CONNECT");
	sess_end(ss, why);
}

/* New answer bytes are in ss->io. True to read on, false when the
 * attempt ended or the session took over. */
static bool answer_got_bytes(struct csess *ss)
{
	if (ss->phase == PH_BODY) {
		if (!body_complete(ss, false))
			return true;
		fail_refused(ss);
		return false;
	}
	struct handshake_answer ans;
	size_t used = 0;
	int rc = handshake_answer_parse(ss->io, ss->io_len, &ans, &used);
	if (rc == HANDSHAKE_NEED_MORE)
		return true;
	if (rc == HANDSHAKE_E_HEAD) {
		char why[CLIENT_ERRLEN];
		snprintf(why, sizeof(why), "bad answer to CONNECT from %s: %s", ss->addr_str, ans.error);
		sess_end(ss, why);
		return false;
	}
	ss->head_len = used;
	if (rc == HANDSHAKE_OK) {
		start_session(ss, ans.features);
		return false; /* the mconn reads from now on */
	}
	/* HANDSHAKE_E_REFUSED */
	ss->status = ans.status;
	client_sanitize(ss->reason, sizeof(ss->reason), ans.reason.p ? ans.reason.p : "", ans.reason.len);
	ss->clen = ans.content_length;
	ss->phase = PH_BODY;
	if (!body_complete(ss, false))
		return true;
	fail_refused(ss);
	return false;
}

/* Reads the answer until it is complete or the socket runs dry. */
static void read_answer(struct csess *ss)
{
	for (;;) {
		if (ss->io_len >= CLIENT_RESP_BUF) {
			if (ss->phase == PH_BODY)
				fail_refused(ss);
			else
				sess_end(ss, "answer to CONNECT too large");
			return;
		}
		ssize_t r = transport_read(ss->t, ss->io + ss->io_len, CLIENT_RESP_BUF - ss->io_len);
		if (r == -EAGAIN) {
			uint32_t want = transport_want(ss->t);
			loop_watch_set(ss->ctx->loop, ss->fd, want ? want : LOOP_READ);
			return;
		}
		if (r <= 0) {
			answer_failed(ss, r);
			return;
		}
		ss->io_len += (size_t)r;
		if (!answer_got_bytes(ss))
			return;
	}
}

/* The CONNECT request into ss->io; phase PH_REQUEST. False when the
 * attempt ended. */
static bool prepare_request(struct csess *ss)
{
	const struct config_client *cfg = ss->ctx->cfg;
	ss->io = malloc(CLIENT_RESP_BUF);
	if (ss->io == NULL) {
		sess_end(ss, "out of memory");
		return false;
	}
	ssize_t n = handshake_request_build(ss->io, CLIENT_RESP_BUF, cfg->server_host, cfg->server_port,
					    cfg->client_id, HANDSHAKE_FEATURES_OURS);
	if (n < 0) {
		sess_end(ss, "cannot build the CONNECT request (bad ClientIdentifier or host)");
		return false;
	}
	ss->io_len = (size_t)n;
	ss->io_off = 0;
	ss->phase = PH_REQUEST;
	loop_watch_set(ss->ctx->loop, ss->fd, LOOP_WRITE);
	return true;
}

/* Drives the TLS handshake; false while it runs or when the attempt
 * ended, true once the session is verified. */
static bool tls_step(struct csess *ss)
{
	const struct client_ctx *ctx = ss->ctx;
	char err[TLS_ERRLEN];
	int rc = tls_handshake(ss->t, err);
	if (rc == -EAGAIN) {
		loop_watch_set(ctx->loop, ss->fd, transport_want(ss->t));
		return false;
	}
	if (rc != 0) {
		char why[CLIENT_ERRLEN];
		snprintf(why, sizeof(why), "%.300s with %.100s (%s)", err, cl_host(ss), ss->addr_str);
		sess_end(ss, why);
		return false;
	}
	char cn[256];
	tls_peer_cn(ss->t, cn, sizeof(cn));
	log_info("client [%s]: %s with %s (%s): server certificate \"%s\" verified for \"%s\"; kTLS send: %s, "
		 "receive: %s",
		 cl_id(ss), tls_version(ss->t), ctx->server_hostport, ss->addr_str, cn, cl_host(ss),
		 tls_ktls_send(ss->t) ? "yes" : "no", tls_ktls_recv(ss->t) ? "yes" : "no");
	return true;
}

/* The TCP connect finished (PH_CONNECT): on success the transport is made
 * and the next phase set up. False when nothing more is to be done now
 * (next address tried, or the attempt ended). */
static bool tcp_connected(struct csess *ss, int fd)
{
	const struct client_ctx *ctx = ss->ctx;
	struct loop *l = ctx->loop;
	char err[SOCK_ERRLEN];
	if (sock_get_error(fd, err) != 0) {
		snprintf(ss->err, sizeof(ss->err), "connect %s: %s", ss->addr_str, err);
		loop_unwatch(l, fd);
		close(fd);
		ss->fd = -1;
		loop_timer_stop(l, &ss->timer);
		ss->addr_idx++;
		attempt_next_addr(ss);
		return false;
	}
	ss->err[0] = '\0';
	set_control_sockopts(ss, fd);
	/* The transport owns the fd from here (and closes it if it cannot
	 * be made). */
	ss->t = ctx->tls ? tls_transport_new(ctx->tls, fd, false, ctx->cfg->server_host) : transport_tcp_new(fd);
	if (ss->t == NULL) {
		loop_unwatch(l, fd);
		ss->fd = -1;
		sess_end(ss, ctx->tls ? "cannot start TLS (out of memory or bad server name)" : "out of memory");
		return false;
	}
	/* One deadline (ConnectTimeoutSeconds) per phase. */
	loop_timer_start(l, &ss->timer, ctx->cfg->connect_timeout_ms);
	if (ctx->tls) {
		ss->phase = PH_TLS;
		return true;
	}
	return prepare_request(ss);
}

/* Writes the CONNECT request (PH_REQUEST). True when it is out and answer
 * bytes may already be readable. */
static bool send_request(struct csess *ss)
{
	struct loop *l = ss->ctx->loop;
	while (ss->io_off < ss->io_len) {
		struct iovec iov = { ss->io + ss->io_off, ss->io_len - ss->io_off };
		ssize_t w = transport_writev(ss->t, &iov, 1);
		if (w == -EAGAIN) {
			uint32_t want = transport_want(ss->t);
			loop_watch_set(l, ss->fd, want ? want : LOOP_WRITE);
			return false;
		}
		if (w < 0) {
			char why[CLIENT_ERRLEN];
			tls_refusal_text(ss, why, w, ss->ctx->tls != NULL, "sending CONNECT to");
			sess_end(ss, why);
			return false;
		}
		ss->io_off += (size_t)w;
	}
	ss->io_len = ss->io_off = 0;
	ss->phase = PH_RESPONSE;
	loop_watch_set(l, ss->fd, LOOP_READ);
	return transport_pending(ss->t) != 0; /* else read when readable */
}

static void sess_on_io(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct csess *ss = udata;
	(void)events;
	if (ss->phase == PH_CONNECT && !tcp_connected(ss, fd))
		return;
	if (ss->phase == PH_TLS) {
		if (!tls_step(ss) || !prepare_request(ss))
			return;
		loop_timer_start(l, &ss->timer, ss->ctx->cfg->connect_timeout_ms);
	}
	if (ss->phase == PH_REQUEST && !send_request(ss))
		return;
	if (ss->phase == PH_RESPONSE || ss->phase == PH_BODY)
		read_answer(ss);
}

/* ---- public to the client ---- */

struct csess *sess_new(const struct client_ctx *ctx, unsigned id)
{
	struct csess *ss = calloc(1, sizeof(*ss));
	if (ss == NULL)
		return NULL;
	ss->ctx = ctx;
	ss->id = id;
	ss->fd = -1;
	ss->phase = PH_CONNECT;
	ss->clen = -1;
	loop_timer_init(&ss->timer, phase_timeout, ss);
	pending_init(&ss->pd, ctx, sess_pending_failed, ss);
	return ss;
}

void sess_connect(struct csess *ss)
{
	const struct config_client *cfg = ss->ctx->cfg;
	char err[SOCK_ERRLEN] = "";
	int n;
	if (sock_addr_parse(&ss->addrs[0], cfg->server_host, cfg->server_port, NULL) == 0)
		n = 1;
	else
		n = sock_resolve(cfg->server_host, cfg->server_port, ss->addrs, CLIENT_SERVER_ADDRS, err);
	if (n <= 0) {
		char why[CLIENT_ERRLEN];
		snprintf(why, sizeof(why), "%s", err[0] ? err : "cannot resolve the server host");
		sess_end(ss, why);
		return;
	}
	ss->naddrs = n;
	ss->addr_idx = 0;
	attempt_next_addr(ss);
}

void sess_stop(struct csess *ss)
{
	snprintf(ss->err, sizeof(ss->err), "client stopped");
	if (ss->mc)
		mconn_close(ss->mc, MUX_GOAWAY_NORMAL, MUX_E_LOCAL); /* -> on_closed -> sess_end */
	else
		sess_end(ss, ss->err);
}

unsigned sess_features(const struct csess *ss)
{
	return ss->phase == PH_CONNECTED ? ss->features : 0;
}
