/*
 * listeners: public listening sockets and the table in force (see
 * listeners.h).
 */
#include "server/listeners.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"

#define ACCEPT_BURST 64
#define ACCEPT_PAUSE_MS 100
#define TUNNELS_FILE_MAX (1024u * 1024)

static void listener_unref(struct listener *ls)
{
	if (ls == NULL || --ls->refs > 0)
		return;
	free(ls);
}

void listener_visitor_done(struct listener *ls)
{
	if (ls == NULL)
		return;
	if (ls->nvisitors > 0)
		ls->nvisitors--;
	listener_unref(ls);
}

static void on_pause_end(struct loop *l, struct loop_timer *t, void *udata)
{
	struct listener *ls = udata;
	(void)t;
	loop_watch_set(l, ls->fd, LOOP_READ);
}

static void on_accept(struct loop *l, int fd, uint32_t events, void *udata)
{
	struct listener *ls = udata;
	struct listeners *lss = ls->owner;
	(void)events;
	for (int i = 0; i < ACCEPT_BURST; i++) {
		struct sock_addr peer;
		char err[SOCK_ERRLEN];
		int cfd = sock_accept(fd, &peer, err);
		if (cfd == -EAGAIN)
			return;
		if (cfd == -EMFILE || cfd == -ENFILE || cfd == -ENOBUFS || cfd == -ENOMEM) {
			/* Out of descriptors or memory: stop accepting for a
			 * moment instead of spinning on a level-triggered fd. */
			log_warnx("listener %s: %s; pausing accepts for 100 ms", ls->key, err);
			loop_watch_set(l, fd, 0);
			loop_timer_start(l, &ls->pause, ACCEPT_PAUSE_MS);
			return;
		}
		if (cfd < 0) {
			log_debug("listener %s: %s", ls->key, err);
			continue; /* ECONNABORTED and friends: the next one may be fine */
		}
		if (ls->nvisitors >= lss->cfg->max_visitors_per_listener) {
			log_warnx("listener %s: %zu visitors, at the limit; refusing one", ls->key, ls->nvisitors);
			close(cfd);
			continue;
		}
		ls->nvisitors++;
		ls->refs++;
		lss->accepted(lss->up, ls, cfd, &peer);
	}
}

/* Closes the socket, lets go of the table and drops the owner's reference;
 * visitors still holding one keep the struct alive. */
static void listener_close(struct listeners *lss, struct listener *ls)
{
	list_del(&ls->node);
	loop_timer_stop(lss->loop, &ls->pause);
	if (ls->fd >= 0) {
		loop_unwatch(lss->loop, ls->fd);
		close(ls->fd);
		ls->fd = -1;
	}
	ls->routes = NULL;
	tunnel_table_unref(ls->table);
	ls->table = NULL;
	listener_unref(ls);
}

static struct listener *listener_find(struct list *head, const char *key)
{
	struct list *p;
	list_for_each(p, head)
	{
		struct listener *ls = list_entry(p, struct listener, node);
		if (strcmp(ls->key, key) == 0)
			return ls;
	}
	return NULL;
}

int listeners_init(struct listeners *lss, struct loop *l, const struct config_server *cfg)
{
	memset(lss, 0, sizeof(*lss));
	lss->loop = l;
	lss->cfg = cfg;
	list_init(&lss->all);
	struct tunnel_set empty = { 0 };
	lss->table = tunnel_table_new(&empty);
	return lss->table ? 0 : -1;
}

void listeners_set_accept(struct listeners *lss, listeners_accept_fn fn, void *up)
{
	lss->accepted = fn;
	lss->up = up;
}

void listeners_close(struct listeners *lss)
{
	struct list *p, *tmp;
	list_for_each_safe(p, tmp, &lss->all)
		listener_close(lss, list_entry(p, struct listener, node));
}

void listeners_fini(struct listeners *lss)
{
	listeners_close(lss);
	tunnel_table_unref(lss->table);
	lss->table = NULL;
}

void listeners_spec_ctx(const struct listeners *lss, struct tunnel_spec_ctx *ctx)
{
	const struct config_server *cfg = lss->cfg;
	ctx->control_addr = cfg->listen_address;
	ctx->control_port = cfg->control_port;
	ctx->has_mgmt_port = !cfg->single_port;
	ctx->mgmt_addr = cfg->mgmt_address ? cfg->mgmt_address : (cfg->use_tls ? NULL : "127.0.0.1");
	ctx->mgmt_port = cfg->mgmt_port;
}

const struct tunnel_table *listeners_table(const struct listeners *lss)
{
	return lss->table;
}

/* Binds tunnel i's address:port into a fresh listener on `fresh`. */
static enum listeners_rc bind_one(struct listeners *lss, const struct tunnel *t, long i, struct list *fresh,
				  json_t *errors)
{
	char err[SOCK_ERRLEN];
	int fd = sock_listen(t->addr, t->port, 1024, SOCK_LISTEN_NODELAY, err);
	if (fd == -EADDRINUSE) {
		tunnel_spec_error(errors, i, "ListenPort", "Port Conflict: port %u on %s is already in use", t->port,
				  t->addr);
		return LISTENERS_E_IN_USE;
	}
	if (fd < 0) {
		tunnel_spec_error(errors, i, "ListenAddress", "cannot listen on %s: %s", t->key, err);
		return LISTENERS_E_FAIL;
	}
	struct listener *ls = calloc(1, sizeof(*ls));
	if (ls == NULL) {
		close(fd);
		tunnel_spec_error(errors, i, NULL, "out of memory");
		return LISTENERS_E_FAIL;
	}
	ls->owner = lss;
	ls->fd = fd;
	ls->refs = 1;
	ls->port = t->port;
	snprintf(ls->key, sizeof(ls->key), "%s", t->key);
	loop_timer_init(&ls->pause, on_pause_end, ls);
	list_add_tail(fresh, &ls->node);
	return LISTENERS_OK;
}

/* Step 1 of apply: a fresh listener for every key not yet bound. */
static enum listeners_rc bind_new(struct listeners *lss, const struct tunnel_set *ts, struct list *fresh,
				  json_t *errors)
{
	enum listeners_rc rc = LISTENERS_OK;
	for (size_t i = 0; i < ts->n; i++) {
		const struct tunnel *t = &ts->v[i];
		if (listener_find(&lss->all, t->key) || listener_find(fresh, t->key))
			continue;
		enum listeners_rc r = bind_one(lss, t, (long)i, fresh, errors);
		if (r == LISTENERS_E_FAIL || (r == LISTENERS_E_IN_USE && rc == LISTENERS_OK))
			rc = r;
	}
	return rc;
}

/* Points a listener at its routes in tt (taking a reference). */
static void listener_adopt(struct listener *ls, struct tunnel_table *tt)
{
	tunnel_table_unref(ls->table);
	ls->table = tunnel_table_ref(tt);
	ls->routes = tunnel_table_routes(tt, ls->key);
}

enum listeners_rc listeners_apply(struct listeners *lss, struct tunnel_set *ts, json_t *errors)
{
	struct list fresh, *p, *tmp;
	list_init(&fresh);
	enum listeners_rc rc = bind_new(lss, ts, &fresh, errors);
	struct tunnel_table *tt = rc == LISTENERS_OK ? tunnel_table_new(ts) : NULL;
	if (rc == LISTENERS_OK && tt == NULL) {
		tunnel_spec_error(errors, -1, NULL, "out of memory");
		rc = LISTENERS_E_FAIL;
	}
	if (rc != LISTENERS_OK) {
		list_for_each_safe(p, tmp, &fresh)
			listener_close(lss, list_entry(p, struct listener, node));
		return rc;
	}
	/* Commit: close what the new table does not need, adopt the rest. */
	list_for_each_safe(p, tmp, &lss->all)
	{
		struct listener *ls = list_entry(p, struct listener, node);
		if (tunnel_table_routes(tt, ls->key) != NULL) {
			listener_adopt(ls, tt);
			continue;
		}
		log_info("no longer listening on %s", ls->key);
		listener_close(lss, ls);
	}
	list_for_each_safe(p, tmp, &fresh)
	{
		struct listener *ls = list_entry(p, struct listener, node);
		list_del(&ls->node);
		listener_adopt(ls, tt);
		if (loop_watch(lss->loop, ls->fd, LOOP_READ, on_accept, ls) != 0) {
			/* Cannot happen for a fresh socket short of ENOMEM. */
			log_errorx("listener %s: cannot watch the socket", ls->key);
		}
		log_info("now listening on %s", ls->key);
		list_add_head(&lss->all, &ls->node);
	}
	tunnel_table_unref(lss->table);
	lss->table = tt;
	return LISTENERS_OK;
}

int listeners_restore(struct listeners *lss, const char *path, char *err, size_t errlen)
{
	if (path == NULL)
		return 0;
	size_t len = 0;
	int err_no = 0;
	char ferr[FILE_ERRLEN];
	char *text = file_read_capped(path, TUNNELS_FILE_MAX, &len, &err_no, ferr);
	if (text == NULL) {
		if (err_no == ENOENT) {
			log_info("tunnels: %s does not exist yet; starting with no tunnels", path);
			return 0;
		}
		if (err_no == EFBIG)
			snprintf(err, errlen, "%s: larger than 1 MiB", path);
		else
			snprintf(err, errlen, "%s", ferr);
		return -1;
	}
	json_t *errors = json_array();
	struct tunnel_set ts;
	struct tunnel_spec_ctx ctx;
	listeners_spec_ctx(lss, &ctx);
	bool ok = tunnel_spec_parse(text, len, &ctx, &ts, errors) == TUNNEL_SPEC_OK &&
		  listeners_apply(lss, &ts, errors) == LISTENERS_OK;
	free(text);
	tunnel_set_clear(&ts);
	if (!ok) {
		json_t *e0 = json_array_get(errors, 0);
		json_t *msg = e0 ? json_object_get(e0, "error") : NULL;
		json_t *idx = e0 ? json_object_get(e0, "index") : NULL;
		snprintf(err, errlen, "%s: tunnel %lld: %s", path, idx ? (long long)json_integer_value(idx) : -1LL,
			 msg ? json_string_value(msg) : "invalid");
		json_decref(errors);
		return -1;
	}
	json_decref(errors);
	log_info("tunnels: restored %zu tunnels from %s", tunnel_table_set(lss->table)->n, path);
	return 0;
}
