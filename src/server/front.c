/*
 * front: the HTTP front door (see front.h).
 */
#include "server/front.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/sock.h"
#include "base/transport.h"
#include "server/connect.h"
#include "wire/http.h"

#define HCONN_HEAD_MAX HTTP_HEAD_MAX_DEFAULT
#define HCONN_BODY_MAX (1024u * 1024)
#define HCONN_BODY_TIMEOUT_MS 30000
#define ACCEPT_BURST 64
#define ACCEPT_PAUSE_MS 100

/* After an answer, unread request bytes are drained (at most this much, for
 * at most this long) so the peer reads the answer instead of a reset. */
#define HCONN_LINGER_MS 2000
#define HCONN_LINGER_BYTES (4u * 1024 * 1024)

enum hconn_state { H_TLS,
		   H_HEAD,
		   H_BODY,
		   H_WRITE,
		   H_LINGER };

struct hconn {
	struct front *f;
	int fd;
	struct transport *t; /* TCP or TLS; handed to the control session */
	char cert_cn[256];   /* CommonName of the client certificate (TLS) */
	char cert_id[256];   /* the client id it stands for */
	bool has_cert;	     /* cert_id is valid */
	bool tls_failed;     /* handshake failed: drain the raw socket */
	bool mgmt_port;	     /* accepted on the management port */
	bool control_port;   /* accepted on the control port */
	struct sock_addr peer;
	char peer_str[SOCK_ADDRSTRLEN];
	enum hconn_state state;
	struct buf in;		 /* head (and the start of the body); one span, never consumed */
	struct http_request req; /* spans into `in` */
	size_t head_len;
	struct buf body; /* the rest of the body; one span, never consumed */
	size_t body_need;
	size_t drained;
	struct buf out;
	struct loop_timer timer;
	struct loop_deferred reap;
	bool dead;
};

static void hconn_io(struct loop *l, int fd, uint32_t events, void *udata);

static void hconn_reap(void *arg)
{
	struct hconn *hc = arg;
	buf_reset(&hc->in);
	buf_reset(&hc->body);
	buf_reset(&hc->out);
	free(hc);
}

/* keep_fd: the fd was handed over (to a control session). */
static void hconn_close(struct hconn *hc, bool keep_fd)
{
	if (hc->dead)
		return;
	hc->dead = true;
	loop_timer_stop(hc->f->loop, &hc->timer);
	loop_unwatch(hc->f->loop, hc->fd);
	if (!keep_fd)
		transport_free(hc->t);
	hc->t = NULL;
	hc->f->nhttp--;
	if (hc->control_port) {
		hc->f->n_control--;
		srclimit_put(&hc->f->control_src, sock_addr_sa(&hc->peer));
	} else {
		hc->f->n_mgmt--;
	}
	loop_defer(hc->f->loop, &hc->reap, hconn_reap, hc);
}

static void hconn_flush(struct hconn *hc)
{
	if (transport_write_buf(hc->t, &hc->out) < 0) {
		hconn_close(hc, false);
		return;
	}
	if (buf_empty(&hc->out) && transport_flush(hc->t) == 0) {
		/* Answer sent; no keep-alive. Half-close and drain what the
		 * peer still sends (lingering close), so it reads our answer
		 * rather than a reset. */
		transport_shutdown_wr(hc->t);
		hc->state = H_LINGER;
		loop_watch_set(hc->f->loop, hc->fd, LOOP_READ);
		loop_timer_start(hc->f->loop, &hc->timer, HCONN_LINGER_MS);
		return;
	}
	loop_watch_set(hc->f->loop, hc->fd, LOOP_WRITE | transport_want(hc->t));
}

static void hconn_respond(struct hconn *hc, int status, const char *ctype, const char *body, size_t blen,
			  const char *extra)
{
	char head[1024];
	ssize_t n = http_write_response_head(head, sizeof(head), status, NULL, ctype, (int64_t)blen,
					     extra ? extra : "Connection: close\r\n");
	if (n < 0) {
		hconn_close(hc, false);
		return;
	}
	hc->state = H_WRITE;
	loop_timer_start(hc->f->loop, &hc->timer, HCONN_BODY_TIMEOUT_MS);
	if (buf_append(&hc->out, head, (size_t)n) != 0 || (blen && buf_append(&hc->out, body, blen) != 0)) {
		hconn_close(hc, false);
		return;
	}
	hconn_flush(hc);
}

/* A plain-text error, Go's http.Error style ("<text>\n"). */
static void hconn_text(struct hconn *hc, int status, const char *text, const char *extra)
{
	char body[1200];
	int n = snprintf(body, sizeof(body), "%s\n", text);
	if (n < 0 || (size_t)n >= sizeof(body))
		n = (int)sizeof(body) - 1;
	char hdrs[256];
	snprintf(hdrs, sizeof(hdrs), "X-Content-Type-Options: nosniff\r\nConnection: close\r\n%s",
		 extra ? extra : "");
	hconn_respond(hc, status, "text/plain; charset=utf-8", body, (size_t)n, hdrs);
}

/* ---- control CONNECT ---- */

static void take_tls_facts(const struct transport *t, struct session_tls *st)
{
	/* kTLS is set up (or not) when the handshake ends. */
	st->on = true;
	snprintf(st->version, sizeof(st->version), "%s", tls_version(t));
	st->ktls_send = tls_ktls_send(t);
	st->ktls_recv = tls_ktls_recv(t);
}

static void hconn_control(struct hconn *hc)
{
	const struct config_server *cfg = hc->f->cfg;
	struct connect_peer who = { hc->peer_str, cfg->use_tls, hc->has_cert, hc->cert_id, hc->cert_cn, cfg->domain };
	struct connect_req cr;
	char msg[1024];
	int st = connect_check(&hc->req, &who, &cr, msg, sizeof(msg));
	if (st != 0) {
		hconn_text(hc, st, msg, NULL);
		return;
	}
	struct session_tls tls = { 0 };
	if (tls_is(hc->t))
		take_tls_facts(hc->t, &tls);
	struct session_params p = { cr.id.p, cr.id.len, hc->peer_str, cr.features, tls.on ? &tls : NULL };
	struct ctl *ctl = session_new(hc->f->ss, &p);
	if (ctl == NULL) {
		hconn_text(hc, 500, "500 out of memory", NULL);
		return;
	}
	char answer[HANDSHAKE_ANSWER_BUF];
	ssize_t alen = handshake_answer_build(answer, sizeof(answer), cr.features);
	assert(alen > 0); /* HANDSHAKE_ANSWER_BUF holds any answer */
	/* The socket has just delivered a request; its send buffer is empty,
	 * so this small write completes (checked anyway). */
	struct iovec iov = { answer, (size_t)alen };
	if (transport_writev(hc->t, &iov, 1) != alen) {
		log_warnx("control connection from %s: cannot write the 200 answer", hc->peer_str);
		session_discard(ctl);
		hconn_close(hc, false);
		return;
	}
	struct transport *t = hc->t;
	size_t in_len = 0;
	const char *in = buf_peek(&hc->in, &in_len);
	hconn_close(hc, true); /* transport handed over; hc->in still valid until reap */
	session_start(ctl, t, hc->fd, (const uint8_t *)in + hc->head_len, in_len - hc->head_len);
}

/* ---- management ---- */

/* Management requests without TLS: only from loopback, unless the
 * operator bound the API somewhere on purpose (ManagementAddress). */
static bool mgmt_allowed(const struct hconn *hc)
{
	const struct config_server *cfg = hc->f->cfg;
	if (cfg->use_tls) {
		/* The handshake already required a CA-signed certificate. */
		if (cfg->mgmt_client_ids == NULL)
			return true;
		for (size_t i = 0; hc->has_cert && i < cfg->n_mgmt_client_ids; i++)
			if (strcmp(cfg->mgmt_client_ids[i], hc->cert_id) == 0)
				return true;
		return false;
	}
	if (cfg->mgmt_address != NULL)
		return true;
	struct sock_addr p = hc->peer;
	sock_addr_unmap(&p);
	const struct sockaddr *sa = sock_addr_sa(&p);
	if (sa->sa_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)(const void *)sa)->sin_addr.s_addr) >> 24) == 127;
	if (sa->sa_family == AF_INET6)
		return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr);
	return false;
}

static void hconn_mgmt(struct hconn *hc, const char *path)
{
	if (!mgmt_allowed(hc)) {
		if (hc->f->cfg->use_tls) {
			log_warnx("management request from %s refused: certificate \"%s\" is not in ManagementClientIds",
				  hc->peer_str, hc->cert_cn);
			hconn_text(hc, 403, "403 this certificate may not use the management API", NULL);
		} else {
			log_warnx("management request from %s refused: without TLS only loopback may manage",
				  hc->peer_str);
			hconn_text(hc, 403, "403 the management API only answers loopback clients without TLS", NULL);
		}
		return;
	}
	size_t body_len = 0;
	const char *body = buf_peek(&hc->body, &body_len);
	struct mgmt_reply r;
	mgmt_handle(hc->f->mgmt, &hc->req, path, body, body_len, &r);
	char hdrs[256];
	snprintf(hdrs, sizeof(hdrs), "Connection: close\r\n%s", r.extra_headers ? r.extra_headers : "");
	hconn_respond(hc, r.status, r.ctype, r.body ? r.body : "", r.len, hdrs);
	free(r.body);
}

static void hconn_dispatch(struct hconn *hc)
{
	char path[HCONN_HEAD_MAX + 2];
	if (http_route_path(&hc->req.path, path, sizeof(path)) < 0)
		snprintf(path, sizeof(path), "/");
	bool is_control = strcmp(path, "/_controlPath") == 0;
	if (hc->control_port && is_control) {
		hconn_control(hc);
		return;
	}
	if (hc->control_port && !hc->mgmt_port) {
		/* 2020 layout: the tunnel port also answers GET /ping. */
		if (strcmp(path, "/ping") == 0) {
			if (http_span_eq(&hc->req.method, "GET"))
				hconn_respond(hc, 200, "text/plain; charset=utf-8", "pong!", 5, NULL);
			else
				hconn_text(hc, 405, "405 method not allowed", "Allow: GET\r\n");
			return;
		}
		hconn_text(hc, 404, "404 not found", NULL);
		return;
	}
	hconn_mgmt(hc, path);
}

/* ---- reading the request ---- */

/* Reads into b's free span, keeping b one contiguous span; -EAGAIN, 0 at
 * EOF, bytes read, or -errno. */
static ssize_t read_into(struct transport *t, struct buf *b, size_t max)
{
	size_t avail = 0;
	char *span = buf_reserve(b, max, &avail);
	if (span == NULL)
		return -ENOMEM;
	ssize_t r = transport_read(t, span, avail < max ? avail : max);
	buf_commit(b, r > 0 ? (size_t)r : 0);
	return r;
}

static void hconn_got_head(struct hconn *hc)
{
	const struct http_request *req = &hc->req;
	if (req->content_length > 0) {
		hc->body_need = (size_t)req->content_length;
		buf_set_cap(&hc->body, hc->body_need); /* <= HCONN_BODY_MAX: the parser's limit */
		size_t in_len = 0;
		const char *in = buf_peek(&hc->in, &in_len);
		size_t have = in_len - hc->head_len;
		if (have > hc->body_need)
			have = hc->body_need;
		if (have && buf_append(&hc->body, in + hc->head_len, have) != 0) {
			hconn_text(hc, 500, "500 out of memory", NULL);
			return;
		}
		if (buf_len(&hc->body) < hc->body_need) {
			hc->state = H_BODY;
			loop_timer_start(hc->f->loop, &hc->timer, HCONN_BODY_TIMEOUT_MS);
			if (req->expect_continue) {
				static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
				struct iovec iov = { (void *)cont, sizeof(cont) - 1 };
				transport_writev(hc->t, &iov, 1);
			}
			return;
		}
	}
	hconn_dispatch(hc);
}

static void hconn_read_body(struct hconn *hc)
{
	ssize_t r = read_into(hc->t, &hc->body, hc->body_need - buf_len(&hc->body));
	if (r == -EAGAIN)
		return;
	if (r <= 0) {
		hconn_close(hc, false);
		return;
	}
	if (buf_len(&hc->body) == hc->body_need)
		hconn_dispatch(hc);
}

/* While or after answering: drain and ignore. */
static void hconn_drain(struct hconn *hc)
{
	char sink[16384];
	ssize_t r;
	if (hc->tls_failed) {
		r = recv(hc->fd, sink, sizeof(sink), 0);
		if (r < 0)
			r = errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -errno;
	} else {
		r = transport_read(hc->t, sink, sizeof(sink));
	}
	if (r == -EAGAIN)
		return;
	if (r > 0)
		hc->drained += (size_t)r;
	if (r <= 0 || hc->drained > HCONN_LINGER_BYTES) {
		if (hc->state == H_LINGER)
			hconn_close(hc, false);
		else
			loop_watch_disable(hc->f->loop, hc->fd, LOOP_READ);
	}
}

static void hconn_head_error(struct hconn *hc, int rc)
{
	switch (rc) {
	case HTTP_E_TOO_LARGE:
		hconn_text(hc, 431, "431 request header fields too large", NULL);
		return;
	case HTTP_E_VERSION:
		hconn_text(hc, 505, "505 HTTP version not supported", NULL);
		return;
	case HTTP_E_UNSUPPORTED:
		hconn_text(hc, hc->req.chunked ? 411 : 501,
			   hc->req.chunked ? "411 length required (chunked bodies are not accepted)"
					   : "501 transfer coding not implemented",
			   NULL);
		return;
	case HTTP_E_BODY_TOO_LARGE:
		hconn_text(hc, 413, "413 request body larger than 1 MiB", NULL);
		return;
	default: {
		char msg[256];
		snprintf(msg, sizeof(msg), "400 bad request: %s", hc->req.error ? hc->req.error : "malformed");
		hconn_text(hc, 400, msg, NULL);
		return;
	}
	}
}

static void hconn_read_head(struct hconn *hc)
{
	ssize_t r = read_into(hc->t, &hc->in, HCONN_HEAD_MAX + 1 - buf_len(&hc->in));
	if (r == -EAGAIN)
		return;
	if (r <= 0) {
		hconn_close(hc, false);
		return;
	}
	size_t in_len = 0;
	const char *in = buf_peek(&hc->in, &in_len);
	struct http_limits lim = { .max_head = HCONN_HEAD_MAX, .max_body = HCONN_BODY_MAX };
	size_t consumed = 0;
	int rc = http_request_parse(in, in_len, &lim, &hc->req, &consumed);
	if (rc == HTTP_NEED_MORE) {
		if (in_len > HCONN_HEAD_MAX)
			hconn_text(hc, 431, "431 request header fields too large", NULL);
		return;
	}
	if (rc == HTTP_OK) {
		hc->head_len = consumed;
		hconn_got_head(hc);
		return;
	}
	hconn_head_error(hc, rc);
}

static void hconn_read(struct hconn *hc)
{
	if (hc->state == H_BODY)
		hconn_read_body(hc);
	else if (hc->state != H_HEAD)
		hconn_drain(hc);
	else
		hconn_read_head(hc);
}

/* ---- TLS and certificate identity ---- */

/* Derives the client id a certificate CommonName stands for: with Domain,
 * the CN must be "<id>@<Domain>" (domain compared case-insensitively);
 * without, the id is the CN's part before '@' (or the whole CN). */
static bool cert_identity(const char *cn, const char *domain, char *out, size_t len)
{
	const char *at = strrchr(cn, '@');
	size_t idlen;
	if (domain) {
		if (at == NULL || strcasecmp(at + 1, domain) != 0)
			return false;
		idlen = (size_t)(at - cn);
	} else {
		at = strchr(cn, '@');
		idlen = at ? (size_t)(at - cn) : strlen(cn);
	}
	if (idlen == 0 || idlen >= len)
		return false;
	memcpy(out, cn, idlen);
	out[idlen] = '\0';
	return true;
}

static void hconn_tls(struct hconn *hc)
{
	struct front *f = hc->f;
	char err[TLS_ERRLEN];
	int rc = tls_handshake(hc->t, err);
	if (rc == -EAGAIN) {
		loop_watch_set(f->loop, hc->fd, transport_want(hc->t));
		return;
	}
	if (rc != 0) {
		log_warnx("%s connection from %s: %s", hc->control_port ? "control" : "management", hc->peer_str, err);
		/* The alert is sent. Closing with the peer's last handshake
		 * bytes unread would send a reset that can overtake it, and a
		 * TLS 1.3 client learns that its certificate was refused only
		 * from that alert: half-close and drain briefly instead. */
		hc->tls_failed = true;
		shutdown(hc->fd, SHUT_WR);
		hc->state = H_LINGER;
		loop_watch_set(f->loop, hc->fd, LOOP_READ);
		loop_timer_start(f->loop, &hc->timer, HCONN_LINGER_MS);
		return;
	}
	tls_peer_cn(hc->t, hc->cert_cn, sizeof(hc->cert_cn));
	hc->has_cert = cert_identity(hc->cert_cn, f->cfg->domain, hc->cert_id, sizeof(hc->cert_id));
	log_debug("TLS from %s: %s, certificate CN \"%s\"%s%s", hc->peer_str, tls_version(hc->t), hc->cert_cn,
		  hc->has_cert ? " = client " : " (no client id for this Domain)", hc->has_cert ? hc->cert_id : "");
	hc->state = H_HEAD;
	loop_watch_set(f->loop, hc->fd, LOOP_READ);
	if (transport_pending(hc->t) > 0)
		hconn_io(f->loop, hc->fd, LOOP_READ, hc);
}

static void hconn_io(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct hconn *hc = udata;
	(void)l;
	(void)fd;
	if (hc->dead)
		return;
	if (hc->state == H_TLS) {
		hconn_tls(hc);
		return;
	}
	if (events & LOOP_WRITE) {
		hconn_flush(hc);
		if (hc->dead)
			return;
	}
	if (events & LOOP_READ) {
		/* TLS may hold decrypted bytes the fd no longer signals. */
		int budget = 64;
		do
			hconn_read(hc);
		while (!hc->dead && budget-- > 0 && transport_pending(hc->t) > 0);
	}
}

static void hconn_timeout(struct loop *l, struct loop_timer *t, void *udata)
{
	struct hconn *hc = udata;
	(void)l;
	(void)t;
	if (hc->state == H_WRITE || hc->state == H_LINGER) {
		hconn_close(hc, false);
		return;
	}
	if (hc->state == H_TLS) {
		/* No HTTP answer fits in a TLS handshake: just close. */
		log_warnx("%s connection from %s: TLS handshake not complete within %u ms; closed",
			  hc->control_port ? "control" : "management", hc->peer_str, hc->f->cfg->handshake_timeout_ms);
		hconn_close(hc, false);
		return;
	}
	log_info("http connection from %s: request not complete in time; closed", hc->peer_str);
	hconn_text(hc, 408, "408 request timeout", NULL);
}

/* ---- accepting ---- */

/* A new connection on fd; it is closed on failure (false). */
static bool hconn_new(struct front *f, int fd, const struct sock_addr *peer, bool control, bool mgmt)
{
	struct hconn *hc = calloc(1, sizeof(*hc));
	if (hc == NULL) {
		close(fd);
		return false;
	}
	hc->f = f;
	hc->fd = fd;
	hc->t = f->tls ? tls_transport_new(f->tls, fd, true, NULL) : transport_tcp_new(fd);
	if (hc->t == NULL) {
		free(hc);
		return false; /* fd closed by the transport constructor */
	}
	hc->state = f->tls ? H_TLS : H_HEAD;
	hc->control_port = control;
	hc->mgmt_port = mgmt;
	hc->peer = *peer;
	sock_addr_unmap(&hc->peer);
	sock_addr_str(&hc->peer, hc->peer_str, sizeof(hc->peer_str));
	buf_init(&hc->in, HCONN_HEAD_MAX + 1);
	buf_init(&hc->body, HCONN_BODY_MAX);
	buf_init(&hc->out, 2 * HCONN_BODY_MAX);
	loop_timer_init(&hc->timer, hconn_timeout, hc);
	if (loop_watch(f->loop, fd, LOOP_READ, hconn_io, hc) != 0) {
		transport_free(hc->t);
		free(hc);
		return false;
	}
	f->nhttp++;
	if (control)
		f->n_control++;
	else
		f->n_mgmt++;
	loop_timer_start(f->loop, &hc->timer, f->cfg->handshake_timeout_ms);
	return true;
}

/*
 * Whether a connection may have a slot of its port's pool: the management
 * port's (MaxManagementConnections) or the control port's
 * (MaxPreAuthConnections in all, MaxPreAuthPerSource per source). A refusal
 * is counted and logged (rate-limited); the caller closes at once.
 */
static bool front_admit(struct front *f, struct sock_addr *peer, bool control)
{
	char who[SOCK_ADDRSTRLEN];
	if (!control) {
		if (f->n_mgmt < f->cfg->max_mgmt_conns)
			return true;
		f->refused_mgmt++;
		sock_addr_unmap(peer);
		sock_addr_str(peer, who, sizeof(who));
		log_limited(&f->refuse_log, LOG_LEVEL_WARN,
			    "management connection from %s refused: %zu open (MaxManagementConnections)", who,
			    f->n_mgmt);
		return false;
	}
	int rc = f->n_control >= f->cfg->max_preauth ? SRCLIMIT_E_TOTAL
						     : srclimit_take(&f->control_src, sock_addr_sa(peer));
	if (rc == 0)
		return true;
	sock_addr_unmap(peer);
	sock_addr_str(peer, who, sizeof(who));
	if (rc == SRCLIMIT_E_SOURCE) {
		f->refused_control_source++;
		log_limited(&f->refuse_log, LOG_LEVEL_WARN,
			    "control connection from %s refused: %zu open from that source (MaxPreAuthPerSource)",
			    who, srclimit_count(&f->control_src, sock_addr_sa(peer)));
	} else {
		f->refused_control++;
		log_limited(&f->refuse_log, LOG_LEVEL_WARN,
			    "control connection from %s refused: %zu not yet authenticated (MaxPreAuthConnections)",
			    who, f->n_control);
	}
	return false;
}

static void front_accept(struct front *f, int lfd, bool control, bool mgmt)
{
	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sock_addr peer;
		char err[SOCK_ERRLEN];
		int fd = sock_accept(lfd, &peer, err);
		if (fd == -EAGAIN)
			return;
		if (fd < 0) {
			if (fd == -EMFILE || fd == -ENFILE || fd == -ENOBUFS || fd == -ENOMEM) {
				/* Level-triggered: pause instead of spinning. */
				log_warnx("accept on the %s port: %s; pausing accepts for 100 ms",
					  control ? "control" : "management", err);
				loop_watch_set(f->loop, lfd, 0);
				loop_timer_start(f->loop, &f->accept_pause, ACCEPT_PAUSE_MS);
				return;
			}
			continue;
		}
		if (f->stopping || !front_admit(f, &peer, control)) {
			close(fd);
			continue;
		}
		if (!hconn_new(f, fd, &peer, control, mgmt) && control)
			srclimit_put(&f->control_src, sock_addr_sa(&peer));
	}
}

static void on_control_accept(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct front *f = udata;
	(void)l;
	(void)events;
	front_accept(f, fd, true, f->cfg->single_port);
}

static void on_mgmt_accept(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct front *f = udata;
	(void)l;
	(void)events;
	front_accept(f, fd, false, true);
}

static void on_accept_pause_end(struct loop *l, struct loop_timer *t, void *udata)
{
	struct front *f = udata;
	(void)t;
	if (f->control_fd >= 0)
		loop_watch_set(l, f->control_fd, LOOP_READ);
	if (f->mgmt_fd >= 0)
		loop_watch_set(l, f->mgmt_fd, LOOP_READ);
}

/* ---- life ---- */

void front_init(struct front *f, struct loop *l, const struct config_server *cfg, struct sessions *ss,
		const struct mgmt *m)
{
	memset(f, 0, sizeof(*f));
	f->loop = l;
	f->cfg = cfg;
	f->ss = ss;
	f->mgmt = m;
	f->control_fd = -1;
	f->mgmt_fd = -1;
	loop_timer_init(&f->accept_pause, on_accept_pause_end, f);
	srclimit_init(&f->control_src, cfg->max_preauth_per_source, 0);
	log_limit_init(&f->refuse_log, "refused front-door connections", LOG_LIMIT_BURST,
		       LOG_LIMIT_INTERVAL_MS);
}

static int front_tls(struct front *f, char *err, size_t errlen)
{
	const struct config_server *cfg = f->cfg;
	char te[TLS_ERRLEN];
	f->tls = tls_ctx_server(cfg->tls_cert_file, cfg->tls_key_file, cfg->ca_file, cfg->ca_glob, te);
	if (f->tls == NULL) {
		snprintf(err, errlen, "TLS: %s", te);
		return -1;
	}
	log_info("TLS: client certificates must chain to %zu CA certificate(s)%s%s", tls_ctx_ca_count(f->tls),
		 cfg->domain ? "; client ids are <id>@" : "", cfg->domain ? cfg->domain : "");
	if (cfg->mgmt_client_ids == NULL)
		log_warnx("ManagementClientIds is not set: every certificate signed by the CA, i.e. every client, "
			  "may use the management API (as the original); list the admin ids to restrict it");
	return 0;
}

int front_start(struct front *f, char *err, size_t errlen)
{
	const struct config_server *cfg = f->cfg;
	char e[SOCK_ERRLEN];
	if (cfg->use_tls && front_tls(f, err, errlen) != 0)
		return -1;
	f->control_fd = sock_listen(cfg->listen_address, cfg->control_port, 1024, 0, e);
	if (f->control_fd < 0) {
		snprintf(err, errlen, "control port: %s", e);
		return -1;
	}
	if (!cfg->single_port) {
		const char *maddr = cfg->mgmt_address ? cfg->mgmt_address : (cfg->use_tls ? NULL : "127.0.0.1");
		f->mgmt_fd = sock_listen(maddr, cfg->mgmt_port, 128, 0, e);
		if (f->mgmt_fd < 0) {
			snprintf(err, errlen, "management port: %s", e);
			return -1;
		}
		loop_watch(f->loop, f->mgmt_fd, LOOP_READ, on_mgmt_accept, f);
	}
	loop_watch(f->loop, f->control_fd, LOOP_READ, on_control_accept, f);
	return 0;
}

void front_log_listening(const struct front *f)
{
	const struct config_server *cfg = f->cfg;
	char a[SOCK_ADDRSTRLEN];
	sock_local_str(f->control_fd, a, sizeof(a));
	if (cfg->single_port) {
		log_info("listening for clients and management requests on %s%s", a,
			 cfg->use_tls ? "" : " (management: loopback clients only, no TLS)");
	} else {
		char b[SOCK_ADDRSTRLEN];
		sock_local_str(f->mgmt_fd, b, sizeof(b));
		log_info("listening for clients on %s, management API on %s", a, b);
	}
}

static void close_port(struct front *f, int *fd)
{
	if (*fd < 0)
		return;
	loop_unwatch(f->loop, *fd);
	close(*fd);
	*fd = -1;
}

void front_stop(struct front *f)
{
	f->stopping = true;
	loop_timer_stop(f->loop, &f->accept_pause);
	close_port(f, &f->control_fd);
	close_port(f, &f->mgmt_fd);
}

void front_fini(struct front *f)
{
	srclimit_fini(&f->control_src);
	tls_ctx_free(f->tls);
	f->tls = NULL;
}
