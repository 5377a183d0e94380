/*
 * tunnels: the refcounted tunnel table snapshot and the TunnelsFile writer
 * (see tunnels.h).
 */
#include "server/tunnels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "wire/glob.h"

struct tunnel_table {
	size_t refs;
	struct tunnel_set set;
	struct tunnel_routes *routes; /* one per distinct key, in order of first use */
	size_t nroutes;
};

static void table_free(struct tunnel_table *tt)
{
	for (size_t i = 0; i < tt->nroutes; i++)
		free(tt->routes[i].v);
	free(tt->routes);
	tunnel_set_clear(&tt->set);
	free(tt);
}

const struct tunnel_routes *tunnel_table_routes(const struct tunnel_table *tt, const char *key)
{
	for (size_t i = 0; i < tt->nroutes; i++)
		if (strcmp(tt->routes[i].key, key) == 0)
			return &tt->routes[i];
	return NULL;
}

/* qsort order of a key's routes: more specific glob first; on a tie the
 * earlier in the body, i.e. the lower address in the set's array (which
 * makes the unstable qsort give a stable, total order). */
static int route_cmp(const void *pa, const void *pb)
{
	const struct tunnel *a = *(const struct tunnel *const *)pa;
	const struct tunnel *b = *(const struct tunnel *const *)pb;
	int c = glob_specificity_cmp(glob_specificity(b->glob), glob_specificity(a->glob));
	if (c != 0)
		return c;
	return a < b ? -1 : a > b ? 1
				  : 0;
}

const struct tunnel *tunnel_routes_pick(const struct tunnel_routes *r, const char *host)
{
	for (size_t i = 0; r != NULL && i < r->n; i++)
		if (glob_match(r->v[i]->glob, host))
			return r->v[i];
	return NULL;
}

/* Fills r with every tunnel of the set on key, most specific first. */
static int routes_fill(struct tunnel_routes *r, const struct tunnel_set *ts, const struct tunnel *first)
{
	size_t k = 0;
	for (size_t i = 0; i < ts->n; i++)
		if (strcmp(ts->v[i].key, first->key) == 0)
			k++;
	r->v = calloc(k, sizeof(*r->v));
	if (r->v == NULL)
		return -1;
	for (size_t i = 0; i < ts->n; i++)
		if (strcmp(ts->v[i].key, first->key) == 0)
			r->v[r->n++] = &ts->v[i];
	qsort(r->v, r->n, sizeof(*r->v), route_cmp);
	snprintf(r->key, sizeof(r->key), "%s", first->key);
	r->port = first->port;
	r->accept_from = first->accept_from;
	r->n_accept_from = first->n_accept_from;
	return 0;
}

struct tunnel_table *tunnel_table_new(struct tunnel_set *ts)
{
	struct tunnel_table *tt = calloc(1, sizeof(*tt));
	if (tt == NULL)
		return NULL;
	tt->refs = 1;
	tt->routes = ts->n ? calloc(ts->n, sizeof(*tt->routes)) : NULL;
	if (ts->n && tt->routes == NULL) {
		free(tt);
		return NULL;
	}
	for (size_t i = 0; i < ts->n; i++) {
		if (tunnel_table_routes(tt, ts->v[i].key) != NULL)
			continue;
		if (routes_fill(&tt->routes[tt->nroutes], ts, &ts->v[i]) != 0) {
			for (size_t k = 0; k < tt->nroutes; k++)
				free(tt->routes[k].v);
			free(tt->routes);
			free(tt);
			return NULL;
		}
		tt->nroutes++;
	}
	/* The routes point into ts->v, which moves over as it is. */
	tt->set = *ts;
	memset(ts, 0, sizeof(*ts));
	return tt;
}

struct tunnel_table *tunnel_table_ref(struct tunnel_table *tt)
{
	tt->refs++;
	return tt;
}

void tunnel_table_unref(struct tunnel_table *tt)
{
	if (tt != NULL && --tt->refs == 0)
		table_free(tt);
}

const struct tunnel_set *tunnel_table_set(const struct tunnel_table *tt)
{
	return &tt->set;
}

int tunnels_save(const struct tunnel_table *tt, const char *path, char *err, size_t errlen)
{
	json_t *j = tunnel_spec_to_json(&tt->set);
	char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_ENCODE_ANY) : NULL;
	json_decref(j);
	size_t len = text ? strlen(text) : 0;
	char *data = text ? realloc(text, len + 2) : NULL;
	if (data == NULL) {
		free(text);
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	data[len++] = '\n';
	char ferr[FILE_ERRLEN];
	int rc = file_write_atomic(path, 0600, data, len, ferr);
	if (rc != 0)
		snprintf(err, errlen, "%s", ferr);
	free(data);
	return rc;
}
