/*
 * client: the long-lived client (see client.h for the behaviour): its
 * state and state callback, the reconnect backoff, the resolved local
 * services, the retry timer and the public API.
 *
 *  struct client   config, state, backoff, resolved local services, the
 *                  retry timer, the current attempt (session.h), and the
 *                  client_ctx it lends to the attempt and its pending
 *                  streams (internal.h).
 *
 * An attempt reports back through the ctx up-calls: client_on_connected
 * (controlOk: backoff reset, ClientConnected) and client_on_ended (once
 * per attempt: forget it, schedule the next one unless stopping). The
 * handshake bytes are wire/handshake's (used by session.c and pending.c).
 */
#include "client/client.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sock.h"
#include "base/tls.h"
#include "client/internal.h"
#include "client/session.h"

/* Unknown service names remembered for "log once". */
#define CLIENT_UNKNOWN_MAX 128

struct client {
	struct client_ctx ctx; /* lent to the attempts; up == this */
	struct loop *loop;
	const struct config_client *cfg;
	enum client_conn_state state;
	client_state_fn state_fn;
	void *state_udata;
	struct client_backoff bo;
	uint64_t rng;
	struct loop_timer retry;
	struct csess *sess; /* the current attempt, if any */
	unsigned attempts;
	struct svc_rt *svc; /* parallel to cfg->services */
	char *unknown[CLIENT_UNKNOWN_MAX];
	size_t n_unknown;
	bool started, stopping;
	struct tls_ctx *tls; /* UseTls: built once in client_new */
	char server_hostport[SOCK_HOSTLEN + 16];
	char last_err[CLIENT_ERRLEN];
};

/* ---- backoff (pure) ---- */

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

/* ---- state ---- */

static void change_state(struct client *cl, enum client_conn_state st, const char *err)
{
	enum client_conn_state prev = cl->state;
	cl->state = st;
	const char *from = handshake_client_state_name((int)prev), *to = handshake_client_state_name((int)st);
	if (err && err[0])
		log_info("clientStateChange: [%s] %s->%s (%s)", cl->cfg->client_id, from, to, err);
	else
		log_info("clientStateChange: [%s] %s->%s", cl->cfg->client_id, from, to);
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

/* ctx.unknown_service: logs an unknown service once per name. The set of names is bounded; once
 * it is full, further names are logged at debug level only (a server could
 * send endless distinct names). */
static void log_unknown_service(void *up, const char *name)
{
	struct client *cl = up;
	char safe[SAFE_NAME_LEN];
	for (size_t i = 0; i < cl->n_unknown; i++)
		if (strcmp(cl->unknown[i], name) == 0)
			return;
	if (cl->n_unknown >= CLIENT_UNKNOWN_MAX) {
		log_debug("client [%s]: service \"%s\" is not in ServiceToLocalAddrMap", cl->cfg->client_id,
			  client_safe_name(safe, name));
		return;
	}
	log_warnx("client [%s]: service \"%s\" is not in ServiceToLocalAddrMap", cl->cfg->client_id,
		  client_safe_name(safe, name));
	char *d = strdup(name);
	if (d)
		cl->unknown[cl->n_unknown++] = d;
	if (cl->n_unknown == CLIENT_UNKNOWN_MAX)
		log_warnx("client [%s]: %d unknown service names seen; further ones are logged at debug level",
			  cl->cfg->client_id, CLIENT_UNKNOWN_MAX);
}

/* ---- attempts ---- */

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
		log_warnx("client [%s]: connecting to %s failed: %s; next attempt in %u.%03us", cl->cfg->client_id,
			  cl->server_hostport, cl->last_err, delay / 1000, delay % 1000);
	else
		log_info("client [%s]: reconnecting in %u.%03us", cl->cfg->client_id, delay / 1000, delay % 1000);
	change_state(cl, CLIENT_ST_CONNECTING, cl->last_err);
	loop_timer_start(cl->loop, &cl->retry, delay);
}

/* ctx.connected: controlOk arrived. */
static void client_on_connected(void *up)
{
	struct client *cl = up;
	client_backoff_reset(&cl->bo);
	cl->last_err[0] = '\0';
	change_state(cl, CLIENT_ST_CONNECTED, NULL);
}

/* ctx.ended: the attempt `ss` is over (the loop frees it). */
static void client_on_ended(void *up, struct csess *ss, const char *reason, bool was_connected)
{
	struct client *cl = up;
	if (cl->sess == ss)
		cl->sess = NULL;
	if (!cl->stopping)
		schedule_retry(cl, reason, was_connected);
}

/* One connect attempt, from the retry timer. */
static void attempt(struct client *cl)
{
	resolve_services(cl, false);
	struct csess *ss = sess_new(&cl->ctx, cl->attempts + 1);
	if (ss == NULL) {
		schedule_retry(cl, "out of memory", false);
		return;
	}
	cl->attempts++;
	cl->sess = ss;
	sess_connect(ss); /* may end it (client_on_ended) at once */
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

/* ---- public ---- */

/* Fills what the client lends to its attempts (internal.h). */
static void client_ctx_init(struct client *cl, struct worker *env)
{
	struct client_ctx *ctx = &cl->ctx;
	ctx->loop = cl->loop;
	ctx->env = env;
	worker_set_memory_limit(env, cl->cfg->memory_limit_mib);
	ctx->cfg = cl->cfg;
	ctx->tls = cl->tls;
	ctx->svc = cl->svc;
	ctx->server_hostport = cl->server_hostport;
	ctx->up = cl;
	ctx->unknown_service = log_unknown_service;
	ctx->connected = client_on_connected;
	ctx->ended = client_on_ended;
}

struct client *client_new(struct loop *l, struct worker *env, const struct config_client *cfg)
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
	client_ctx_init(cl, env);
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
	if (c->sess != NULL)
		sess_stop(c->sess); /* -> client_on_ended, now or later */
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
	return c->sess ? sess_features(c->sess) : 0;
}
