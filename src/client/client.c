/*
 * client: see client.h for the behaviour. Layout of the state:
 *
 *  struct client   the long-lived object: config, state, backoff, resolved
 *                  local services, the retry timer, the current session.
 *  struct csess    one connect attempt and, once it succeeds, the session
 *                  it carries (phases CONNECT .. CONNECTED, then DEAD). At
 *                  most one is current; a dead one is freed by the loop.
 *  struct pend     one stream waiting for its preamble (server-open) or its
 *                  local dial; handed to a relay when the dial succeeds.
 *
 * Failures inside the yamux session (bad controlOk, control protocol error,
 * handshake timeout) go through mconn_close(); the session's `closed`
 * callback is the one place where an attempt or a session ends, and the
 * only place that schedules the next attempt. Failures before the session
 * exists end the attempt directly (sess_end).
 */
#include "client/client.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/sock.h"
#include "base/tls.h"
#include "base/transport.h"
#include "base/util.h"
#include "tunnel/relay.h"
#include "wire/http.h"

#ifndef THRESHOLD_VERSION
#define THRESHOLD_VERSION "0.0.0"
#endif

/* Streams waiting for a preamble or a local dial, per session. */
#define CLIENT_MAX_PENDING 1024
/* Control messages waiting for a stream (yamux SYN backlog), per session. */
#define CLIENT_MAX_OPEN_QUEUE 4096
/* Retry period of queued opens while the SYN backlog is full. */
#define CLIENT_OPEN_RETRY_MS 20
/* Addresses tried for the server and per local service. */
#define CLIENT_SERVER_ADDRS 8
#define CLIENT_SVC_ADDRS 4
/* CONNECT answer: head cap, read buffer (head + early session bytes). */
#define CLIENT_HEAD_MAX HTTP_HEAD_MAX_DEFAULT
#define CLIENT_RESP_BUF (2 * HTTP_HEAD_MAX_DEFAULT)
/* Body bytes of a refusal we wait for to log its first line. */
#define CLIENT_BODY_SNIPPET 512
/* Unknown service names remembered for "log once". */
#define CLIENT_UNKNOWN_MAX 128
/* Longest error text kept for a state change. */
#define CLIENT_ERRLEN 512

static const char HANDSHAKE[] = "controlHandshake";
static const char HANDSHAKE_OK[] = "controlOk";
#define HANDSHAKE_OK_LEN (sizeof(HANDSHAKE_OK) - 1)

/* ---- pure helpers ---- */

const char *client_conn_state_name(enum client_conn_state s)
{
	switch (s) {
	case CLIENT_ST_STARTED:
		return "ClientStarted";
	case CLIENT_ST_CONNECTING:
		return "ClientConnecting";
	case CLIENT_ST_CONNECTED:
		return "ClientConnected";
	case CLIENT_ST_DISCONNECTED:
		return "ClientDisconnected";
	case CLIENT_ST_CLOSED:
		return "ClientClosed";
	case CLIENT_ST_UNKNOWN:
	default:
		return "ClientUnknown";
	}
}

void client_backoff_init(struct client_backoff *b, uint32_t initial_ms, uint32_t max_ms)
{
	b->initial_ms = initial_ms ? initial_ms : 1;
	b->max_ms = max_ms ? max_ms : 1;
	client_backoff_reset(b);
}

void client_backoff_reset(struct client_backoff *b)
{
	b->cur_ms = b->initial_ms < b->max_ms ? b->initial_ms : b->max_ms;
}

uint32_t client_backoff_next(struct client_backoff *b, double u)
{
	if (!(u >= 0.0) || u >= 1.0)
		u = 0.0;
	double cur = (double)b->cur_ms;
	double lo = cur - 0.5 * cur, hi = cur + 0.5 * cur;
	double d = lo + u * (hi - lo + 1.0);
	/* Go grows the interval after computing the delay. */
	if (cur >= (double)b->max_ms / 1.5)
		b->cur_ms = b->max_ms;
	else
		b->cur_ms = (uint32_t)(cur * 1.5);
	if (d > (double)UINT32_MAX)
		d = (double)UINT32_MAX;
	return (uint32_t)d;
}

static bool is_ows(char c)
{
	return c == ' ' || c == '\t';
}

static bool token_is(const char *p, size_t n, const char *tok)
{
	size_t tl = strlen(tok);
	if (n != tl)
		return false;
	for (size_t i = 0; i < n; i++) {
		char a = p[i], b = tok[i];
		if (a >= 'A' && a <= 'Z')
			a = (char)(a - 'A' + 'a');
		if (a != b)
			return false;
	}
	return true;
}

unsigned client_features_parse(const char *p, size_t n)
{
	unsigned f = 0;
	size_t i = 0;
	if (p == NULL)
		return 0;
	while (i <= n) {
		size_t start = i;
		while (i < n && p[i] != ',')
			i++;
		size_t a = start, e = i;
		while (a < e && is_ows(p[a]))
			a++;
		while (e > a && is_ows(p[e - 1]))
			e--;
		if (token_is(p + a, e - a, "server-open"))
			f |= CLIENT_FEAT_SERVER_OPEN;
		else if (token_is(p + a, e - a, "half-close"))
			f |= CLIENT_FEAT_HALF_CLOSE;
		else if (token_is(p + a, e - a, "proxy-v2"))
			f |= CLIENT_FEAT_PROXY_V2;
		else if (token_is(p + a, e - a, "deferred-ack"))
			f |= CLIENT_FEAT_DEFERRED_ACK;
		i++; /* past the comma (or past the end) */
	}
	return f;
}

/* Header value safety: no control bytes, no DEL, not empty, no space at
 * either end (a server would trim it). */
static bool header_value_ok(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || s[0] == ' ' || s[n - 1] == ' ')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			return false;
	}
	return true;
}

ssize_t client_connect_request(char *buf, size_t cap, const char *host, uint16_t port,
			       const char *client_id, unsigned features)
{
	char hostport[SOCK_HOSTLEN + 16];
	if (host == NULL || client_id == NULL || !header_value_ok(client_id))
		return -1;
	for (const char *h = host; *h; h++)
		if ((unsigned char)*h <= 0x20 || (unsigned char)*h >= 0x7f)
			return -1;
	if (host[0] == '\0')
		return -1;
	int hl = sock_join_hostport(host, port, hostport, sizeof(hostport));
	if (hl < 0 || (size_t)hl >= sizeof(hostport))
		return -1;

	char feat[64] = "";
	size_t fl = 0;
	static const struct {
		unsigned bit;
		const char *name;
	} names[] = {
		{CLIENT_FEAT_SERVER_OPEN, "server-open"},
		{CLIENT_FEAT_HALF_CLOSE, "half-close"},
		{CLIENT_FEAT_PROXY_V2, "proxy-v2"},
		{CLIENT_FEAT_DEFERRED_ACK, "deferred-ack"},
	};
	for (size_t i = 0; i < ARRAY_SIZE(names); i++) {
		if (!(features & names[i].bit))
			continue;
		int w = snprintf(feat + fl, sizeof(feat) - fl, "%s%s", fl ? ", " : "", names[i].name);
		if (w < 0 || (size_t)w >= sizeof(feat) - fl)
			return -1;
		fl += (size_t)w;
	}

	int n;
	if (fl > 0)
		n = snprintf(buf, cap,
			     "CONNECT /_controlPath/ HTTP/1.1\r\n"
			     "Host: %s\r\n"
			     "User-Agent: threshold/%s\r\n"
			     "X-Threshold-Identifier: %s\r\n"
			     "X-Threshold-ClientId: %s\r\n"
			     "X-Threshold-Features: %s\r\n"
			     "\r\n",
			     hostport, THRESHOLD_VERSION, client_id, client_id, feat);
	else
		n = snprintf(buf, cap,
			     "CONNECT /_controlPath/ HTTP/1.1\r\n"
			     "Host: %s\r\n"
			     "User-Agent: threshold/%s\r\n"
			     "X-Threshold-Identifier: %s\r\n"
			     "X-Threshold-ClientId: %s\r\n"
			     "\r\n",
			     hostport, THRESHOLD_VERSION, client_id, client_id);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	return n;
}

int client_preamble_parse(const char *buf, size_t n, struct control_msg *msg, size_t *consumed)
{
	size_t scan = n < CLIENT_PREAMBLE_MAX ? n : CLIENT_PREAMBLE_MAX;
	const char *nl = memchr(buf, '\n', scan);
	*consumed = 0;
	if (nl == NULL)
		return n >= CLIENT_PREAMBLE_MAX ? CLIENT_PREAMBLE_E_TOO_LONG : CLIENT_PREAMBLE_NEED_MORE;
	size_t line = (size_t)(nl - buf) + 1;
	size_t used = 0;
	int rc = control_msg_decode(buf, line, msg, &used);
	/* A blank line before the message is not a preamble. */
	if (rc != CONTROL_MSG_OK || used != line)
		return CLIENT_PREAMBLE_E_BAD;
	if (msg->action != CONTROL_ACTION_REQUEST_CLIENT_SESSION)
		return CLIENT_PREAMBLE_E_BAD;
	*consumed = line;
	return CLIENT_PREAMBLE_OK;
}

/* ---- state ---- */

struct svc_rt {
	struct sock_addr addrs[CLIENT_SVC_ADDRS];
	int naddrs;			/* 0 while unresolved */
};

enum phase {
	PH_CONNECT,	/* TCP connect to addrs[addr_idx] in progress */
	PH_TLS,		/* UseTls: TLS handshake in progress */
	PH_REQUEST,	/* writing the CONNECT request */
	PH_RESPONSE,	/* reading the answer's head */
	PH_BODY,	/* refused: reading the first line of the body to log it */
	PH_HANDSHAKE,	/* session up, waiting for controlOk */
	PH_CONNECTED,
	PH_DEAD,
};

struct pend;

struct open_req {
	struct open_req *next;
	char service[];
};

struct csess {
	struct client *cl;
	enum phase phase;
	unsigned id;			/* attempt number, for the log */
	int fd;				/* the socket (owned by t once t exists) */
	struct transport *t;		/* TCP or TLS after the connect; the mconn takes it */
	struct sock_addr addrs[CLIENT_SERVER_ADDRS];
	int naddrs, addr_idx;
	char addr_str[SOCK_ADDRSTRLEN];
	struct loop_timer timer;	/* deadline of the current phase */
	char *io;			/* request, then answer bytes */
	size_t io_len, io_off;
	int status;			/* refusal: status code */
	char reason[80];		/* refusal: reason text (sanitised) */
	size_t head_len;
	int64_t clen;
	struct mconn *mc;
	struct mstream_handler ctl_h;
	struct mux_stream *ctl;
	size_t hs_got;			/* bytes of controlOk matched */
	char ctl_buf[CONTROL_MSG_LINE_MAX];
	size_t ctl_len;
	unsigned features;		/* in force */
	struct pend *pend;		/* list of pending streams */
	size_t npend;
	bool pend_cap_warned;
	struct open_req *oq_head, *oq_tail;
	size_t oq_len;
	struct loop_timer open_timer;
	char err[CLIENT_ERRLEN];	/* why it ended, when we ended it */
	struct loop_deferred reap;
};

struct pend {
	struct mstream_handler h;	/* first: the stream's handler */
	struct csess *ss;
	struct pend *next, *prev;
	struct mux_stream *s;
	bool inbound;			/* server-open stream: failures RST */
	bool preamble_done;
	bool dialing;
	int fd;
	const struct config_service *cs;
	const struct svc_rt *rt;
	int addr_idx;
	char *line;			/* preamble bytes (inbound, until parsed) */
	size_t line_len;
	struct buf held;		/* visitor bytes that arrived before the relay */
	struct loop_timer timer;
	struct loop_deferred reap;
	char service[CONTROL_MSG_SERVICE_MAX + 1];
	char addr_str[SOCK_ADDRSTRLEN];
	char err[SOCK_ERRLEN];
};

struct client {
	struct loop *loop;
	struct mconn_env *env;
	const struct config_client *cfg;
	enum client_conn_state state;
	client_state_fn state_fn;
	void *state_udata;
	struct client_backoff bo;
	uint64_t rng;
	struct loop_timer retry;
	struct csess *sess;
	unsigned attempts;
	struct svc_rt *svc;		/* parallel to cfg->services */
	char *unknown[CLIENT_UNKNOWN_MAX];
	size_t n_unknown;
	bool started, stopping;
	struct tls_ctx *tls;		/* UseTls: built once in client_new */
	char server_hostport[SOCK_HOSTLEN + 16];
	char last_err[CLIENT_ERRLEN];
};

static void change_state(struct client *cl, enum client_conn_state st, const char *err)
{
	enum client_conn_state prev = cl->state;
	cl->state = st;
	if (err && err[0])
		log_info("clientStateChange: [%s] %s->%s (%s)", cl->cfg->client_id, client_conn_state_name(prev),
			 client_conn_state_name(st), err);
	else
		log_info("clientStateChange: [%s] %s->%s", cl->cfg->client_id, client_conn_state_name(prev),
			 client_conn_state_name(st));
	if (cl->state_fn)
		cl->state_fn(cl->state_udata, prev, st, err && err[0] ? err : NULL);
}

/* xorshift64*: the backoff's jitter only, no security role. */
static double rng_next(struct client *cl)
{
	uint64_t x = cl->rng;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	cl->rng = x;
	return (double)((x * 2685821657736338717ull) >> 11) * (1.0 / 9007199254740992.0);
}

static void rng_seed(struct client *cl)
{
	uint64_t s = 0;
	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != (ssize_t)sizeof(s)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		s = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 20) ^ (uint64_t)getpid();
	}
	cl->rng = s ? s : 0x9E3779B97F4A7C15ull;
}

/* Printable copy for the log: control bytes become '?', cut at max. */
static void sanitize(char *out, size_t cap, const char *p, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)p[i];
		out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (cap > 0)
		out[o] = '\0';
}

/* ---- local services ---- */

/* Resolves the services not resolved yet (blocking: start and reconnect
 * only). Numeric hosts parse without the resolver. */
static void resolve_services(struct client *cl, bool log_failures)
{
	const struct config_client *cfg = cl->cfg;
	for (size_t i = 0; i < cfg->n_services; i++) {
		struct svc_rt *rt = &cl->svc[i];
		const struct config_service *cs = &cfg->services[i];
		if (rt->naddrs > 0)
			continue;
		char err[SOCK_ERRLEN] = "";
		if (sock_addr_parse(&rt->addrs[0], cs->host, cs->port, NULL) == 0) {
			rt->naddrs = 1;
			continue;
		}
		int n = sock_resolve(cs->host, cs->port, rt->addrs, CLIENT_SVC_ADDRS, err);
		if (n > 0)
			rt->naddrs = n;
		else if (log_failures)
			log_warnx("client [%s]: service \"%s\": cannot resolve %s: %s (retried before each connect)",
				  cfg->client_id, cs->name, cs->host, err);
	}
}

/* A service name from the server, fit for one log line (it may hold any
 * character JSON can carry, newlines included). */
#define SAFE_NAME_LEN (CONTROL_MSG_SERVICE_MAX + 1)
static const char *safe_name(char out[SAFE_NAME_LEN], const char *name)
{
	sanitize(out, SAFE_NAME_LEN, name, strlen(name));
	return out;
}

/* Logs an unknown service once per name. The set of names is bounded; once
 * it is full, further names are logged at debug level only (a server could
 * send endless distinct names). */
static void log_unknown_service(struct client *cl, const char *name)
{
	char safe[SAFE_NAME_LEN];
	for (size_t i = 0; i < cl->n_unknown; i++)
		if (strcmp(cl->unknown[i], name) == 0)
			return;
	if (cl->n_unknown >= CLIENT_UNKNOWN_MAX) {
		log_debug("client [%s]: service \"%s\" is not in ServiceToLocalAddrMap", cl->cfg->client_id,
			  safe_name(safe, name));
		return;
	}
	log_warnx("client [%s]: service \"%s\" is not in ServiceToLocalAddrMap", cl->cfg->client_id,
		  safe_name(safe, name));
	char *d = strdup(name);
	if (d)
		cl->unknown[cl->n_unknown++] = d;
	if (cl->n_unknown == CLIENT_UNKNOWN_MAX)
		log_warnx("client [%s]: %d unknown service names seen; further ones are logged at debug level",
			  cl->cfg->client_id, CLIENT_UNKNOWN_MAX);
}

/* ---- session teardown ---- */

static void schedule_retry(struct client *cl, const char *reason, bool was_connected);
static void open_queue_drain(struct csess *ss);

static void sess_reap(void *arg)
{
	struct csess *ss = arg;
	struct open_req *o = ss->oq_head;
	while (o) {
		struct open_req *n = o->next;
		free(o);
		o = n;
	}
	free(ss->io);
	free(ss);
}

static void pend_destroy(struct pend *p);

/* The attempt or session is over: release what is left and tell the
 * client. Called once: from the session's closed callback, or directly for
 * failures before the session exists. */
static void sess_end(struct csess *ss, const char *reason)
{
	if (ss->phase == PH_DEAD)
		return;
	struct client *cl = ss->cl;
	struct loop *l = cl->loop;
	bool was_connected = ss->phase == PH_CONNECTED;
	ss->phase = PH_DEAD;
	if (reason != ss->err)
		snprintf(ss->err, sizeof(ss->err), "%s", reason ? reason : "closed");
	loop_timer_stop(l, &ss->timer);
	loop_timer_stop(l, &ss->open_timer);
	if (ss->fd >= 0) {
		loop_unwatch(l, ss->fd);
		if (ss->t == NULL)
			close(ss->fd);
		ss->fd = -1;
	}
	transport_free(ss->t); /* closes the fd */
	ss->t = NULL;
	/* The engine reset every held stream before `closed`; whatever is
	 * left (none expected) goes now. */
	while (ss->pend)
		pend_destroy(ss->pend);
	if (ss->ctl) {
		mux_stream_set_udata(ss->ctl, NULL);
		mux_stream_release(ss->ctl);
		ss->ctl = NULL;
	}
	ss->mc = NULL;
	free(ss->io);
	ss->io = NULL;
	if (cl->sess == ss)
		cl->sess = NULL;
	loop_defer(l, &ss->reap, sess_reap, ss);
	if (!cl->stopping)
		schedule_retry(cl, ss->err, was_connected);
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

/* ---- pending streams ---- */

static void pend_reap(void *arg)
{
	struct pend *p = arg;
	buf_reset(&p->held);
	free(p->line);
	free(p);
}

static void pend_unlink(struct pend *p)
{
	struct csess *ss = p->ss;
	if (p->prev)
		p->prev->next = p->next;
	else if (ss->pend == p)
		ss->pend = p->next;
	if (p->next)
		p->next->prev = p->prev;
	p->next = p->prev = NULL;
	ss->npend--;
}

/* Drops the pending stream: fd closed, timer stopped, stream released
 * (the caller has sent FIN or RST as it sees fit), memory reaped later. */
static void pend_destroy(struct pend *p)
{
	struct loop *l = p->ss->cl->loop;
	loop_timer_stop(l, &p->timer);
	if (p->fd >= 0) {
		loop_unwatch(l, p->fd);
		close(p->fd);
		p->fd = -1;
	}
	if (p->s) {
		mux_stream_set_udata(p->s, NULL);
		mux_stream_release(p->s);
		p->s = NULL;
	}
	pend_unlink(p);
	loop_defer(l, &p->reap, pend_reap, p);
}

/* Gives up on the stream (the caller has logged why): RST for server-open
 * streams, FIN for streams we opened (as the original closes them). */
static void pend_abandon(struct pend *p)
{
	struct csess *ss = p->ss;
	if (p->s) {
		if (p->inbound)
			mux_stream_reset(p->s);
		else
			mux_stream_close(p->s);
	}
	pend_destroy(p);
	if (ss->mc)
		mconn_kick(ss->mc);
}

/* pend_abandon with a log line saying why. */
static void pend_fail(struct pend *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void pend_fail(struct pend *p, const char *fmt, ...)
{
	char why[CLIENT_ERRLEN];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	struct csess *ss = p->ss;
	char safe[SAFE_NAME_LEN];
	log_warnx("client [%s]: stream %u (service \"%s\"): %s", ss->cl->cfg->client_id,
		  p->s ? mux_stream_id(p->s) : 0, safe_name(safe, p->service), why);
	pend_abandon(p);
}

static void pend_dial_next(struct pend *p);

static void pend_connected(struct pend *p)
{
	struct csess *ss = p->ss;
	struct client *cl = ss->cl;
	struct loop *l = cl->loop;
	loop_unwatch(l, p->fd);
	loop_timer_stop(l, &p->timer);
	int fd = p->fd;
	struct mux_stream *s = p->s;
	p->fd = -1;
	p->s = NULL;
	sock_set_nodelay(fd, true, NULL);

	char idbuf[48];
	snprintf(idbuf, sizeof(idbuf), "stream=%u", mux_stream_id(s));
	struct relay_info info = {
		.client = cl->cfg->client_id,
		.service = p->service,
		.peer = p->addr_str,
		.half_close = (ss->features & CLIENT_FEAT_HALF_CLOSE) != 0,
		.id = idbuf,
	};
	/* The relay takes fd and s (and on failure closes / resets them). */
	struct relay *r = relay_new(ss->mc, s, fd, &info, NULL, NULL);
	if (r != NULL) {
		struct iovec iov[2];
		int n = buf_peekv(&p->held, iov);
		int rc = 0;
		for (int i = 0; i < n && rc == 0; i++)
			rc = relay_push_to_socket(r, iov[i].iov_base, iov[i].iov_len);
		if (rc != 0)
			relay_abort(r, "out of memory");
	} else {
		log_warnx("client [%s]: stream %u: relay: out of memory", cl->cfg->client_id,
			  mux_stream_id(s));
	}
	/* The held bytes are the relay's now (not credited back: the relay
	 * credits them as they reach the socket). */
	buf_reset(&p->held);
	pend_destroy(p);
}

static void pend_on_io(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct pend *p = udata;
	(void)l;
	(void)events;
	int rc = sock_get_error(fd, p->err);
	if (rc == 0) {
		pend_connected(p);
		return;
	}
	loop_unwatch(p->ss->cl->loop, p->fd);
	close(p->fd);
	p->fd = -1;
	p->addr_idx++;
	pend_dial_next(p);
}

/* Tries the service's addresses from addr_idx on. */
static void pend_dial_next(struct pend *p)
{
	struct loop *l = p->ss->cl->loop;
	while (p->addr_idx < p->rt->naddrs) {
		const struct sock_addr *a = &p->rt->addrs[p->addr_idx];
		sock_addr_str(a, p->addr_str, sizeof(p->addr_str));
		int fd = sock_connect_addr(a, p->err);
		if (fd < 0) {
			p->addr_idx++;
			continue;
		}
		if (sock_established(fd)) {
			p->fd = fd; /* connected within the call (a local service) */
			pend_connected(p);
			return;
		}
		if (loop_watch(l, fd, LOOP_WRITE, pend_on_io, p) != 0) {
			close(fd);
			snprintf(p->err, sizeof(p->err), "cannot watch the socket");
			break;
		}
		p->fd = fd;
		return;
	}
	pend_fail(p, "dial %s (%s:%u) failed: %s", p->addr_str, p->cs->host, p->cs->port, p->err);
}

static void pend_on_timer(struct loop *l, struct loop_timer *t, void *udata)
{
	struct pend *p = udata;
	(void)l;
	(void)t;
	if (!p->preamble_done)
		pend_fail(p, "no preamble within %u ms", p->ss->cl->cfg->dial_timeout_ms);
	else
		pend_fail(p, "dial %s (%s:%u) timed out after %u ms", p->addr_str, p->cs->host, p->cs->port,
			  p->ss->cl->cfg->dial_timeout_ms);
}

/* The service is known (p->cs, p->rt set): start dialling it. */
static void pend_dial(struct pend *p)
{
	struct client *cl = p->ss->cl;
	p->dialing = true;
	loop_timer_start(cl->loop, &p->timer, cl->cfg->dial_timeout_ms);
	if (p->rt->naddrs == 0) {
		pend_fail(p, "%s is not resolved", p->cs->host);
		return;
	}
	p->addr_idx = 0;
	pend_dial_next(p);
}

/* Looks the service up; false (after failing p) when unknown. */
static bool pend_set_service(struct pend *p, const char *name)
{
	struct client *cl = p->ss->cl;
	snprintf(p->service, sizeof(p->service), "%s", name);
	const struct config_service *cs = config_client_service(cl->cfg, name);
	if (cs == NULL) {
		log_unknown_service(cl, name);
		pend_abandon(p);
		return false;
	}
	p->cs = cs;
	p->rt = &cl->svc[cs - cl->cfg->services];
	return true;
}

/* Keeps visitor bytes until the relay exists. Bounded by the stream's
 * receive window: these bytes are not credited back. */
static bool pend_hold(struct pend *p, const void *data, size_t n)
{
	if (n == 0)
		return true;
	if (buf_append(&p->held, data, n) != 0) {
		pend_fail(p, "too many bytes before the local connection is up");
		return false;
	}
	return true;
}

static void pend_data(struct mstream_handler *h, struct mux_stream *s, const uint8_t *data, size_t n)
{
	struct pend *p = (struct pend *)h;
	if (p->preamble_done) {
		pend_hold(p, data, n);
		return;
	}
	/* Preamble: gather up to the cap, then parse. */
	size_t k = CLIENT_PREAMBLE_MAX - p->line_len;
	if (k > n)
		k = n;
	memcpy(p->line + p->line_len, data, k);
	p->line_len += k;
	struct control_msg msg;
	size_t used = 0;
	int rc = client_preamble_parse(p->line, p->line_len, &msg, &used);
	if (rc == CLIENT_PREAMBLE_NEED_MORE)
		return;
	if (rc != CLIENT_PREAMBLE_OK) {
		pend_fail(p, "%s", rc == CLIENT_PREAMBLE_E_TOO_LONG ? "preamble longer than 4096 bytes"
								    : "bad preamble");
		return;
	}
	p->preamble_done = true;
	mux_stream_consumed(s, used);
	if (!pend_set_service(p, msg.service))
		return;
	/* Visitor bytes that came with the preamble. */
	if (!pend_hold(p, p->line + used, p->line_len - used))
		return;
	if (!pend_hold(p, data + k, n - k))
		return;
	free(p->line);
	p->line = NULL;
	p->line_len = 0;
	loop_timer_stop(p->ss->cl->loop, &p->timer);
	pend_dial(p);
}

static void pend_fin(struct mstream_handler *h, struct mux_stream *s)
{
	struct pend *p = (struct pend *)h;
	(void)s;
	/* The relay sees the FIN (mux_stream_remote_closed) when it starts. */
	if (!p->preamble_done)
		pend_fail(p, "stream ended before its preamble");
}

static void pend_reset(struct mstream_handler *h, struct mux_stream *s, int err)
{
	struct pend *p = (struct pend *)h;
	(void)s;
	char safe[SAFE_NAME_LEN];
	log_debug("client [%s]: stream %u (service \"%s\") reset while waiting: %s",
		  p->ss->cl->cfg->client_id, mux_stream_id(p->s), safe_name(safe, p->service), mux_strerror(err));
	pend_destroy(p);
}

static void pend_writable(struct mstream_handler *h, struct mux_stream *s)
{
	(void)h;
	(void)s;
}

static void pend_established(struct mstream_handler *h, struct mux_stream *s)
{
	struct pend *p = (struct pend *)h;
	(void)s;
	/* An ACK frees a SYN slot: queued opens may go. */
	if (p->ss->oq_head)
		open_queue_drain(p->ss);
}

static const struct mstream_ops pend_ops = {
	.data = pend_data,
	.fin = pend_fin,
	.reset = pend_reset,
	.writable = pend_writable,
	.established = pend_established,
};

static struct pend *pend_new(struct csess *ss, bool inbound)
{
	struct pend *p = calloc(1, sizeof(*p));
	if (p == NULL)
		return NULL;
	if (inbound) {
		p->line = malloc(CLIENT_PREAMBLE_MAX);
		if (p->line == NULL) {
			free(p);
			return NULL;
		}
	} else {
		p->preamble_done = true;
	}
	p->h.ops = &pend_ops;
	p->ss = ss;
	p->inbound = inbound;
	p->fd = -1;
	buf_init(&p->held, MUX_INITIAL_WINDOW);
	loop_timer_init(&p->timer, pend_on_timer, p);
	p->next = ss->pend;
	if (ss->pend)
		ss->pend->prev = p;
	ss->pend = p;
	ss->npend++;
	return p;
}

/* ---- Go-compatible visitors: one stream per control message ---- */

/* Opens the stream for one control message. Returns 0 (handled, whatever
 * became of the visitor), or a negative mux_err from the open. */
static int open_for_service(struct csess *ss, const char *name)
{
	struct client *cl = ss->cl;
	const struct config_service *cs = config_client_service(cl->cfg, name);
	int err = 0;
	if (cs == NULL || ss->npend >= CLIENT_MAX_PENDING) {
		/* Opened anyway: the server pairs streams with visitors in
		 * order. Then closed (unknown, as the original) or reset. */
		struct mux_stream *s = mconn_open_stream(ss->mc, NULL, &err);
		if (s == NULL)
			return err;
		if (cs == NULL) {
			log_unknown_service(cl, name);
			mux_stream_close(s);
		} else {
			if (!ss->pend_cap_warned)
				log_warnx("client [%s]: %d streams wait for local dials; resetting new ones",
					  cl->cfg->client_id, CLIENT_MAX_PENDING);
			ss->pend_cap_warned = true;
			mux_stream_reset(s);
		}
		mux_stream_release(s);
		return 0;
	}
	struct pend *p = pend_new(ss, false);
	if (p == NULL)
		return -MUX_E_NOMEM;
	struct mux_stream *s = mconn_open_stream(ss->mc, &p->h, &err);
	if (s == NULL) {
		pend_destroy(p);
		return err;
	}
	p->s = s;
	buf_set_cap(&p->held, mux_stream_recv_max(s));
	if (pend_set_service(p, name))
		pend_dial(p);
	return 0;
}

static void open_queue_drain(struct csess *ss)
{
	while (ss->oq_head && ss->phase == PH_CONNECTED) {
		struct open_req *o = ss->oq_head;
		int rc = open_for_service(ss, o->service);
		if (rc == -MUX_E_SYN_BACKLOG)
			break;
		ss->oq_head = o->next;
		if (ss->oq_head == NULL)
			ss->oq_tail = NULL;
		ss->oq_len--;
		free(o);
		if (rc < 0) {
			sess_fail(ss, "cannot open a stream: %s", mux_strerror(rc));
			return;
		}
	}
	if (ss->mc)
		mconn_kick(ss->mc);
	if (ss->oq_head && ss->phase == PH_CONNECTED && !loop_timer_active(&ss->open_timer))
		loop_timer_start(ss->cl->loop, &ss->open_timer, CLIENT_OPEN_RETRY_MS);
}

static void open_timer_fn(struct loop *l, struct loop_timer *t, void *udata)
{
	(void)l;
	(void)t;
	open_queue_drain(udata);
}

static void handle_control_msg(struct csess *ss, const struct control_msg *msg)
{
	if (msg->action != CONTROL_ACTION_REQUEST_CLIENT_SESSION) {
		sess_fail(ss, "control message with unexpected action %lld", (long long)msg->action);
		return;
	}
	char safe[SAFE_NAME_LEN];
	log_debug("client [%s]: control message: service \"%s\"", ss->cl->cfg->client_id,
		  safe_name(safe, msg->service));
	if (ss->oq_head == NULL) {
		int rc = open_for_service(ss, msg->service);
		if (rc == 0) {
			mconn_kick(ss->mc);
			return;
		}
		if (rc != -MUX_E_SYN_BACKLOG) {
			sess_fail(ss, "cannot open a stream: %s", mux_strerror(rc));
			return;
		}
	}
	/* Keep the order: queue behind earlier messages. */
	if (ss->oq_len >= CLIENT_MAX_OPEN_QUEUE) {
		sess_fail(ss, "more than %d control messages waiting for a stream", CLIENT_MAX_OPEN_QUEUE);
		return;
	}
	size_t n = strlen(msg->service);
	struct open_req *o = malloc(sizeof(*o) + n + 1);
	if (o == NULL) {
		sess_fail(ss, "out of memory");
		return;
	}
	o->next = NULL;
	memcpy(o->service, msg->service, n + 1);
	if (ss->oq_tail)
		ss->oq_tail->next = o;
	else
		ss->oq_head = o;
	ss->oq_tail = o;
	ss->oq_len++;
	if (!loop_timer_active(&ss->open_timer))
		loop_timer_start(ss->cl->loop, &ss->open_timer, CLIENT_OPEN_RETRY_MS);
}

/* ---- control stream ---- */

static void on_connected(struct csess *ss);

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
			sanitize(show, sizeof(show), ss->ctl_buf, ss->ctl_len);
			sess_fail(ss, "bad control message (error %d): %s", rc, show);
			return;
		}
		handle_control_msg(ss, &msg);
	}
}

static void ctl_data(struct mstream_handler *h, struct mux_stream *s, const uint8_t *p, size_t n)
{
	struct csess *ss = container_of(h, struct csess, ctl_h);
	mux_stream_consumed(s, n);
	while (n > 0 && ss->phase == PH_HANDSHAKE) {
		if ((char)*p != HANDSHAKE_OK[ss->hs_got]) {
			char got[32];
			size_t show = n < 16 ? n : 16;
			sanitize(got, sizeof(got), (const char *)p, show);
			sess_fail(ss, "invalid handshake response, received: %.*s%s", (int)ss->hs_got,
				  HANDSHAKE_OK, got);
			return;
		}
		p++;
		n--;
		if (++ss->hs_got == HANDSHAKE_OK_LEN)
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
	sess_fail(ss, "%s", ss->phase == PH_HANDSHAKE ? "server closed the control stream during the handshake"
						      : "server closed the control stream (EOF)");
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
	if (ss->phase != PH_CONNECTED || !(ss->features & CLIENT_FEAT_SERVER_OPEN)) {
		log_debug("client [%s]: unexpected stream %u from the server: reset", ss->cl->cfg->client_id,
			  mux_stream_id(s));
		mux_stream_reset(s);
		mux_stream_release(s);
		return;
	}
	struct pend *p = ss->npend < CLIENT_MAX_PENDING ? pend_new(ss, true) : NULL;
	if (p == NULL) {
		if (!ss->pend_cap_warned)
			log_warnx("client [%s]: %d streams wait for local dials; resetting new ones",
				  ss->cl->cfg->client_id, CLIENT_MAX_PENDING);
		ss->pend_cap_warned = true;
		mux_stream_reset(s);
		mux_stream_release(s);
		return;
	}
	p->s = s;
	mconn_stream_bind(s, &p->h);
	if (mux_stream_accept(s) != 0) {
		pend_destroy(p);
		return;
	}
	buf_set_cap(&p->held, mux_stream_recv_max(s));
	loop_timer_start(ss->cl->loop, &p->timer, ss->cl->cfg->dial_timeout_ms);
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

static void on_connected(struct csess *ss)
{
	struct client *cl = ss->cl;
	ss->phase = PH_CONNECTED;
	loop_timer_stop(cl->loop, &ss->timer);
	client_backoff_reset(&cl->bo);
	cl->last_err[0] = '\0';
	log_info("client [%s]: connected to %s (%s), features in force: %s%s%s%s", cl->cfg->client_id,
		 cl->server_hostport, ss->addr_str,
		 ss->features == 0 ? "none" : "",
		 (ss->features & CLIENT_FEAT_SERVER_OPEN) ? "server-open " : "",
		 (ss->features & CLIENT_FEAT_HALF_CLOSE) ? "half-close " : "",
		 (ss->features & CLIENT_FEAT_DEFERRED_ACK) ? "deferred-ack" : "");
	change_state(cl, CLIENT_ST_CONNECTED, NULL);
}

/* ---- connect attempt ---- */

static void attempt_next_addr(struct csess *ss);
static void fail_refused(struct csess *ss);
static void sess_on_io(struct loop *l, int fd, uint32_t events, void *udata);

/* The server name as configured (what the certificate must name). */
static const char *cl_host(const struct csess *ss)
{
	return ss->cl->cfg->server_host;
}

static void phase_timeout(struct loop *l, struct loop_timer *t, void *udata)
{
	struct csess *ss = udata;
	(void)l;
	(void)t;
	uint32_t ms = ss->cl->cfg->connect_timeout_ms;
	switch (ss->phase) {
	case PH_CONNECT:
		snprintf(ss->err, sizeof(ss->err), "connect %s: timed out after %u ms", ss->addr_str, ms);
		loop_unwatch(ss->cl->loop, ss->fd);
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
	struct client *cl = ss->cl;
	while (ss->addr_idx < ss->naddrs) {
		const struct sock_addr *a = &ss->addrs[ss->addr_idx];
		char err[SOCK_ERRLEN];
		sock_addr_str(a, ss->addr_str, sizeof(ss->addr_str));
		log_debug("client [%s]: connecting to %s (%s)", cl->cfg->client_id, cl->server_hostport,
			  ss->addr_str);
		int fd = sock_connect_addr(a, err);
		if (fd < 0) {
			snprintf(ss->err, sizeof(ss->err), "%s", err);
			ss->addr_idx++;
			continue;
		}
		if (loop_watch(cl->loop, fd, LOOP_WRITE, sess_on_io, ss) != 0) {
			close(fd);
			snprintf(ss->err, sizeof(ss->err), "cannot watch the socket");
			break;
		}
		ss->fd = fd;
		ss->phase = PH_CONNECT;
		loop_timer_start(cl->loop, &ss->timer, cl->cfg->connect_timeout_ms);
		return;
	}
	sess_end(ss, ss->err[0] ? ss->err : "no address to connect to");
}

static void set_control_sockopts(struct client *cl, int fd)
{
	char err[SOCK_ERRLEN];
	const struct config_client *cfg = cl->cfg;
	int idle = cfg->keepalive_ms ? (int)(cfg->keepalive_ms / 1000) : 30;
	int intvl = (int)(cfg->dead_peer_ms / 3000);
	if (idle < 1)
		idle = 1;
	if (intvl < 1)
		intvl = 1;
	if (sock_set_nodelay(fd, true, err) < 0 || sock_set_keepalive(fd, idle, intvl, 3, err) < 0 ||
	    sock_set_user_timeout(fd, cfg->dead_peer_ms, err) < 0)
		log_debug("client [%s]: control socket options: %s", cl->cfg->client_id, err);
}

/* The answer's head is complete and says 200 Connected to Tunnel: start
 * the session on this connection. */
static void start_session(struct csess *ss, const struct http_response *resp)
{
	struct client *cl = ss->cl;
	unsigned offered = 0;
	for (ssize_t i = http_header_index(resp->headers, resp->n_headers, "X-Threshold-Features", 0); i >= 0;
	     i = http_header_index(resp->headers, resp->n_headers, "X-Threshold-Features", (size_t)i + 1))
		offered |= client_features_parse(resp->headers[i].value.p, resp->headers[i].value.len);
	ss->features = offered & CLIENT_FEATURES_REQUESTED;

	struct mux_config mcfg;
	mux_config_default(&mcfg);
	mcfg.client = true;
	mcfg.recv_window = cl->cfg->recv_window;
	/* A dead server is noticed within DeadPeerSeconds: ping at least
	 * twice per period; the session dies when a ping is unanswered and
	 * nothing at all has arrived for the rest of the period. */
	mcfg.keepalive_ms = cl->cfg->keepalive_ms < cl->cfg->dead_peer_ms / 2 ? cl->cfg->keepalive_ms
									       : cl->cfg->dead_peer_ms / 2;
	mcfg.ping_timeout_ms = cl->cfg->dead_peer_ms - mcfg.keepalive_ms;
	/* Streams the server opens for visitors: with deferred-ack the ACK
	 * leaves with the service's first bytes (or after 20 ms), not in a
	 * write of its own that wakes the server for nothing. Otherwise every
	 * accepted SYN is ACKed at once, as yamux peers expect. */
	if ((ss->features & (CLIENT_FEAT_SERVER_OPEN | CLIENT_FEAT_DEFERRED_ACK)) ==
	    (CLIENT_FEAT_SERVER_OPEN | CLIENT_FEAT_DEFERRED_ACK))
		mcfg.ack_delay_ms = CLIENT_ACK_DELAY_MS;

	loop_unwatch(cl->loop, ss->fd);
	struct transport *t = ss->t; /* the mconn takes it (also on failure) */
	ss->t = NULL;
	ss->fd = -1;
	char name[SOCK_HOSTLEN + 64];
	snprintf(name, sizeof(name), "client [%s] session %s", cl->cfg->client_id, ss->addr_str);
	const uint8_t *pre = (const uint8_t *)ss->io + ss->head_len;
	size_t prelen = ss->io_len - ss->head_len;
	ss->phase = PH_HANDSHAKE;
	ss->mc = mconn_new(cl->env, t, &mcfg, &sess_owner_ops, ss, name, pre, prelen);
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
	struct iovec iov = {(void *)HANDSHAKE, sizeof(HANDSHAKE) - 1};
	ssize_t w = mux_stream_write(ss->ctl, &iov, 1);
	if (w != (ssize_t)(sizeof(HANDSHAKE) - 1)) {
		sess_fail(ss, "cannot write the handshake: %s", w < 0 ? mux_strerror((int)w) : "short write");
		return;
	}
	mconn_kick(ss->mc);
	loop_timer_start(cl->loop, &ss->timer, cl->cfg->connect_timeout_ms);
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
	sanitize(line, sizeof(line), body, blen);
	if (ss->status == 200)
		sess_end(ss, "tunnel server error: status=200 but the status text is not \"Connected to Tunnel\"");
	else {
		char why[CLIENT_ERRLEN];
		snprintf(why, sizeof(why), "tunnel server error: status=%d %s, body=%s", ss->status,
			 ss->reason, line);
		sess_end(ss, why);
	}
}

/* Reads the answer; returns false when the attempt ended. */
static bool read_answer(struct csess *ss)
{
	for (;;) {
		if (ss->io_len >= CLIENT_RESP_BUF) {
			if (ss->phase == PH_BODY) {
				fail_refused(ss);
				return false;
			}
			sess_end(ss, "answer to CONNECT too large");
			return false;
		}
		ssize_t r = transport_read(ss->t, ss->io + ss->io_len, CLIENT_RESP_BUF - ss->io_len);
		if (r == -EAGAIN) {
			loop_watch_set(ss->cl->loop, ss->fd, transport_want(ss->t) ? transport_want(ss->t) : LOOP_READ);
			return true;
		}
		if (r < 0) {
			char why[CLIENT_ERRLEN];
			const char *tlserr = tls_last_error(ss->t);
			if (tlserr[0])
				/* TLS 1.3: the server refuses our certificate
				 * after our side of the handshake is done. */
				snprintf(why, sizeof(why), "TLS with %s (%s): the server refused the session: %s",
					 cl_host(ss), ss->addr_str, tlserr);
			else if (ss->cl->tls && ss->io_len == 0)
				snprintf(why, sizeof(why),
					 "TLS with %s (%s): the server dropped the session right after the handshake "
					 "(%s; did it refuse our certificate? its log says why)",
					 cl_host(ss), ss->addr_str, strerror((int)-r));
			else
				snprintf(why, sizeof(why), "reading the answer to CONNECT from %s: %s", ss->addr_str,
					 strerror((int)-r));
			if (ss->phase == PH_BODY) {
				fail_refused(ss);
				return false;
			}
			sess_end(ss, why);
			return false;
		}
		if (r == 0) {
			if (ss->phase == PH_BODY) {
				fail_refused(ss);
				return false;
			}
			char why[CLIENT_ERRLEN];
			snprintf(why, sizeof(why), "%s closed the connection %s", ss->addr_str,
				 ss->io_len ? "in the middle of its answer to CONNECT" : "without answering CONNECT");
			sess_end(ss, why);
			return false;
		}
		ss->io_len += (size_t)r;
		if (ss->phase == PH_BODY) {
			if (body_complete(ss, false)) {
				fail_refused(ss);
				return false;
			}
			continue;
		}
		struct http_response resp;
		size_t used = 0;
		int rc = http_response_parse(ss->io, ss->io_len, CLIENT_HEAD_MAX, &resp, &used);
		if (rc == HTTP_NEED_MORE)
			continue;
		if (rc != HTTP_OK) {
			char why[CLIENT_ERRLEN];
			snprintf(why, sizeof(why), "bad answer to CONNECT from %s: %s", ss->addr_str,
				 resp.error ? resp.error : "malformed");
			sess_end(ss, why);
			return false;
		}
		ss->head_len = used;
		if (resp.status == 200 && http_span_eq(&resp.reason, HTTP_CONTROL_OK_STATUS_TEXT)) {
			start_session(ss, &resp);
			return false; /* the mconn reads from now on */
		}
		ss->status = resp.status;
		sanitize(ss->reason, sizeof(ss->reason), resp.reason.p ? resp.reason.p : "", resp.reason.len);
		ss->clen = resp.content_length;
		ss->phase = PH_BODY;
		if (body_complete(ss, false)) {
			fail_refused(ss);
			return false;
		}
	}
}

/* The CONNECT request into ss->io; phase PH_REQUEST. False when the
 * attempt ended. */
static bool prepare_request(struct csess *ss)
{
	struct client *cl = ss->cl;
	ss->io = malloc(CLIENT_RESP_BUF);
	if (ss->io == NULL) {
		sess_end(ss, "out of memory");
		return false;
	}
	ssize_t n = client_connect_request(ss->io, CLIENT_RESP_BUF, cl->cfg->server_host, cl->cfg->server_port,
					   cl->cfg->client_id, CLIENT_FEATURES_REQUESTED);
	if (n < 0) {
		sess_end(ss, "cannot build the CONNECT request (bad ClientIdentifier or host)");
		return false;
	}
	ss->io_len = (size_t)n;
	ss->io_off = 0;
	ss->phase = PH_REQUEST;
	loop_watch_set(cl->loop, ss->fd, LOOP_WRITE);
	return true;
}

/* Drives the TLS handshake; false while it runs or when the attempt
 * ended, true once the session is verified. */
static bool tls_step(struct csess *ss)
{
	struct client *cl = ss->cl;
	char err[TLS_ERRLEN];
	int rc = tls_handshake(ss->t, err);
	if (rc == -EAGAIN) {
		loop_watch_set(cl->loop, ss->fd, transport_want(ss->t));
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
		 cl->cfg->client_id, tls_version(ss->t), cl->server_hostport, ss->addr_str, cn, cl_host(ss),
		 tls_ktls_send(ss->t) ? "yes" : "no", tls_ktls_recv(ss->t) ? "yes" : "no");
	return true;
}

static void sess_on_io(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct csess *ss = udata;
	struct client *cl = ss->cl;
	(void)events;
	if (ss->phase == PH_CONNECT) {
		char err[SOCK_ERRLEN];
		if (sock_get_error(fd, err) != 0) {
			snprintf(ss->err, sizeof(ss->err), "connect %s: %s", ss->addr_str, err);
			loop_unwatch(l, fd);
			close(fd);
			ss->fd = -1;
			loop_timer_stop(l, &ss->timer);
			ss->addr_idx++;
			attempt_next_addr(ss);
			return;
		}
		ss->err[0] = '\0';
		set_control_sockopts(cl, fd);
		/* The transport owns the fd from here (and closes it if it
		 * cannot be made). */
		ss->t = cl->tls ? tls_transport_new(cl->tls, fd, false, cl->cfg->server_host) : transport_tcp_new(fd);
		if (ss->t == NULL) {
			loop_unwatch(l, fd);
			ss->fd = -1;
			sess_end(ss, cl->tls ? "cannot start TLS (out of memory or bad server name)" : "out of memory");
			return;
		}
		/* One deadline (ConnectTimeoutSeconds) per phase. */
		loop_timer_start(l, &ss->timer, cl->cfg->connect_timeout_ms);
		if (cl->tls) {
			ss->phase = PH_TLS;
		} else if (!prepare_request(ss)) {
			return;
		}
	}
	if (ss->phase == PH_TLS) {
		if (!tls_step(ss) || !prepare_request(ss))
			return;
		loop_timer_start(l, &ss->timer, cl->cfg->connect_timeout_ms);
	}
	if (ss->phase == PH_REQUEST) {
		while (ss->io_off < ss->io_len) {
			struct iovec iov = {ss->io + ss->io_off, ss->io_len - ss->io_off};
			ssize_t w = transport_writev(ss->t, &iov, 1);
			if (w == -EAGAIN) {
				uint32_t want = transport_want(ss->t);
				loop_watch_set(l, fd, want ? want : LOOP_WRITE);
				return;
			}
			if (w < 0) {
				char why[CLIENT_ERRLEN];
				const char *tlserr = tls_last_error(ss->t);
				if (tlserr[0])
					snprintf(why, sizeof(why),
						 "TLS with %s (%s): the server refused the session: %s", cl_host(ss),
						 ss->addr_str, tlserr);
				else if (cl->tls)
					snprintf(why, sizeof(why),
						 "TLS with %s (%s): the server dropped the session right after the "
						 "handshake (%s; did it refuse our certificate? its log says why)",
						 cl_host(ss), ss->addr_str, strerror((int)-w));
				else
					snprintf(why, sizeof(why), "sending CONNECT to %s: %s", ss->addr_str,
						 strerror((int)-w));
				sess_end(ss, why);
				return;
			}
			ss->io_off += (size_t)w;
		}
		ss->io_len = ss->io_off = 0;
		ss->phase = PH_RESPONSE;
		loop_watch_set(l, fd, LOOP_READ);
		if (transport_pending(ss->t) == 0)
			return; /* read when readable */
	}
	if (ss->phase == PH_RESPONSE || ss->phase == PH_BODY)
		read_answer(ss);
}

/* One connect attempt, from the retry timer. */
static void attempt(struct client *cl)
{
	const struct config_client *cfg = cl->cfg;
	resolve_services(cl, false);

	struct csess *ss = calloc(1, sizeof(*ss));
	if (ss == NULL) {
		schedule_retry(cl, "out of memory", false);
		return;
	}
	ss->cl = cl;
	ss->id = ++cl->attempts;
	ss->fd = -1;
	ss->phase = PH_CONNECT;
	ss->clen = -1;
	loop_timer_init(&ss->timer, phase_timeout, ss);
	loop_timer_init(&ss->open_timer, open_timer_fn, ss);
	cl->sess = ss;

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

static void retry_fn(struct loop *l, struct loop_timer *t, void *udata)
{
	struct client *cl = udata;
	(void)l;
	(void)t;
	if (cl->stopping || cl->sess != NULL)
		return;
	attempt(cl);
}

/* The attempt or session ended (reason): log, then wait for the next one
 * as the original does (Connecting with the error, then a backoff sleep). */
static void schedule_retry(struct client *cl, const char *reason, bool was_connected)
{
	snprintf(cl->last_err, sizeof(cl->last_err), "%s", reason ? reason : "closed");
	if (was_connected) {
		log_warnx("client [%s]: session with %s ended: %s", cl->cfg->client_id, cl->server_hostport,
			  cl->last_err);
		change_state(cl, CLIENT_ST_DISCONNECTED, cl->last_err);
	}
	uint32_t delay = client_backoff_next(&cl->bo, rng_next(cl));
	if (!was_connected)
		log_warnx("client [%s]: connecting to %s failed: %s; next attempt in %u.%03us",
			  cl->cfg->client_id, cl->server_hostport, cl->last_err, delay / 1000, delay % 1000);
	else
		log_info("client [%s]: reconnecting in %u.%03us", cl->cfg->client_id, delay / 1000,
			 delay % 1000);
	change_state(cl, CLIENT_ST_CONNECTING, cl->last_err);
	loop_timer_start(cl->loop, &cl->retry, delay);
}

/* ---- public ---- */

struct client *client_new(struct loop *l, struct mconn_env *env, const struct config_client *cfg)
{
	struct client *cl = calloc(1, sizeof(*cl));
	if (cl == NULL)
		goto oom;
	if (cfg->use_tls) {
		/* One context for every attempt: a bad file is a start-up
		 * error, never a retry loop. */
		char err[TLS_ERRLEN];
		cl->tls = tls_ctx_client(cfg->ca_file, cfg->ca_glob, cfg->tls_cert_file, cfg->tls_key_file, err);
		if (cl->tls == NULL) {
			log_errorx("client [%s]: TLS: %s", cfg->client_id, err);
			free(cl);
			return NULL;
		}
		log_info("client [%s]: TLS: the server's certificate must chain to %zu CA certificate(s) and name "
			 "\"%s\"; our certificate: %s",
			 cfg->client_id, tls_ctx_ca_count(cl->tls), cfg->server_host, cfg->tls_cert_file);
	}
	cl->loop = l;
	cl->env = env;
	cl->cfg = cfg;
	cl->state = CLIENT_ST_UNKNOWN;
	if (cfg->n_services > 0) {
		cl->svc = calloc(cfg->n_services, sizeof(*cl->svc));
		if (cl->svc == NULL)
			goto oom;
	}
	sock_join_hostport(cfg->server_host, cfg->server_port, cl->server_hostport, sizeof(cl->server_hostport));
	client_backoff_init(&cl->bo, CLIENT_BACKOFF_INITIAL_MS, cfg->retry_cap_ms ? cfg->retry_cap_ms : 60000);
	rng_seed(cl);
	loop_timer_init(&cl->retry, retry_fn, cl);
	resolve_services(cl, true);
	return cl;
oom:
	log_errorx("client: out of memory");
	if (cl)
		tls_ctx_free(cl->tls);
	free(cl);
	return NULL;
}

void client_set_state_cb(struct client *c, client_state_fn fn, void *udata)
{
	c->state_fn = fn;
	c->state_udata = udata;
}

int client_start(struct client *c)
{
	if (c->started)
		return -EALREADY;
	c->started = true;
	c->stopping = false;
	change_state(c, CLIENT_ST_STARTED, NULL);
	client_backoff_reset(&c->bo);
	/* Previous state Started: no backoff before the first attempt. */
	change_state(c, CLIENT_ST_CONNECTING, NULL);
	return loop_timer_start(c->loop, &c->retry, 0);
}

void client_stop(struct client *c)
{
	if (c == NULL || c->stopping || !c->started)
		return;
	c->stopping = true;
	loop_timer_stop(c->loop, &c->retry);
	struct csess *ss = c->sess;
	if (ss != NULL) {
		snprintf(ss->err, sizeof(ss->err), "client stopped");
		if (ss->mc)
			mconn_close(ss->mc, MUX_GOAWAY_NORMAL, MUX_E_LOCAL); /* -> on_closed -> sess_end */
		else
			sess_end(ss, ss->err);
	}
	c->sess = NULL;
	c->started = false;
	/* As the original's Close(): a live session is reported dropped
	 * first (Connected -> Disconnected -> Closed). */
	if (c->state == CLIENT_ST_CONNECTED)
		change_state(c, CLIENT_ST_DISCONNECTED, "client stopped");
	change_state(c, CLIENT_ST_CLOSED, NULL);
}

void client_free(struct client *c)
{
	if (c == NULL)
		return;
	client_stop(c);
	loop_timer_stop(c->loop, &c->retry);
	for (size_t i = 0; i < c->n_unknown; i++)
		free(c->unknown[i]);
	free(c->svc);
	tls_ctx_free(c->tls);
	free(c);
}

enum client_conn_state client_get_state(const struct client *c)
{
	return c->state;
}

unsigned client_features(const struct client *c)
{
	return c->sess && c->sess->phase == PH_CONNECTED ? c->sess->features : 0;
}
