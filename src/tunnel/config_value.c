/*
 * config_value: converting and checking one key's JSON value
 * (config_value.h). Messages go through config_json_fail with the value's
 * path, so they carry its line and column.
 */
#include "tunnel/config_value.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "base/sock.h"

/* Short local names for the message helpers of config_json.h. */
#define fail config_json_fail
#define show config_json_show
#define AT_NONE CONFIG_JSON_AT_NONE
#define AT_VALUE CONFIG_JSON_AT_VALUE
#define AT_KEY CONFIG_JSON_AT_KEY
#define SHOW_BUF CONFIG_JSON_SHOW_BUF

void config_val_free(struct config_val *v)
{
	free(v->s);
	v->s = NULL;
	for (size_t i = 0; i < v->nsvc; i++) {
		free(v->svc[i].name);
		free(v->svc[i].host);
	}
	free(v->svc);
	v->svc = NULL;
	v->nsvc = 0;
	for (size_t i = 0; i < v->nids; i++)
		free(v->ids[i]);
	free(v->ids);
	v->ids = NULL;
	v->nids = 0;
}

static bool has_ctl(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7F)
			return true;
	return false;
}

static bool is_ipv4(const char *s)
{
	struct in_addr a;
	return inet_pton(AF_INET, s, &a) == 1;
}

/* IPv6 literal, optionally with a %zone when zone_ok. */
static bool is_ipv6(const char *s, size_t n, bool zone_ok)
{
	char buf[INET6_ADDRSTRLEN + 1];
	const char *pct = memchr(s, '%', n);
	size_t alen = pct ? (size_t)(pct - s) : n;
	if (alen == 0 || alen >= sizeof(buf))
		return false;
	if (pct != NULL) {
		if (!zone_ok || pct + 1 == s + n)
			return false;
		for (const char *z = pct + 1; z < s + n; z++)
			if (!((*z >= 'a' && *z <= 'z') || (*z >= 'A' && *z <= 'Z') ||
			      (*z >= '0' && *z <= '9') || *z == '.' || *z == '_' || *z == '-'))
				return false;
	}
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	struct in6_addr a;
	return inet_pton(AF_INET6, buf, &a) == 1;
}

/* Host name (letters, digits, '.', '-', '_') or IPv4 literal. */
static bool is_hostname(const char *s, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '-' || c == '_'))
			return false;
	}
	return true;
}

/* Why text that failed sock_split_hostport, or that it split but our
 * stricter rules refuse, is not host:port; NULL when "is not host:port"
 * says it all. The reasons come in this order: brackets and colons, an
 * empty host, a bad host, a bad port (1-65535, at most 5 digits). */
static const char *hostport_why(const char *s)
{
	const char *rb = NULL, *he, *ps;
	if (s[0] == '[') {
		rb = strchr(s, ']');
		if (rb == NULL)
			return "missing ']'";
		if (rb[1] != ':')
			return NULL;
		he = rb;
		ps = rb + 2;
	} else {
		he = strrchr(s, ':');
		if (he == NULL)
			return NULL;
		if (memchr(s, ':', (size_t)(he - s)) != NULL)
			return "IPv6 addresses need brackets, as in [::1]:9001";
		ps = he + 1;
	}
	const char *h = rb != NULL ? s + 1 : s;
	size_t hl = (size_t)(he - h);
	if (hl == 0)
		return "empty host";
	if (rb != NULL ? !is_ipv6(h, hl, true) : !is_hostname(h, hl))
		return rb != NULL ? "not an IPv6 address between the brackets" : "bad host name";
	size_t pl = strlen(ps);
	unsigned long pv = 0;
	bool digits = pl > 0 && pl <= 5;
	for (size_t i = 0; digits && i < pl; i++) {
		digits = ps[i] >= '0' && ps[i] <= '9';
		pv = pv * 10 + (unsigned long)(ps[i] - '0');
	}
	if (!digits || pv < 1 || pv > 65535)
		return "port must be 1-65535";
	return NULL;
}

/* Splits "host:port" or "[v6]:port" with sock_split_hostport (Go's
 * net.SplitHostPort), then applies the config's stricter rules: a
 * non-empty host name or IPv4 literal, or an IPv6 literal in brackets;
 * port 1-65535 in at most 5 digits. On error returns -1 and sets *why to
 * a reason, or NULL when "is not host:port" says it all. */
static int split_hostport(const char *s, char **host, uint16_t *port, const char **why)
{
	char h[SOCK_HOSTLEN];
	*why = NULL;
	/* sock_split_hostport succeeding means the brackets and colons are
	 * right; hostport_why then has only the stricter rules left. */
	if (sock_split_hostport(s, h, sizeof(h), port, NULL) != 0 || hostport_why(s) != NULL) {
		*why = hostport_why(s);
		return -1;
	}
	*host = strdup(h);
	if (*host == NULL) {
		*why = "out of memory";
		return -1;
	}
	return 0;
}

static int want_string(const struct config_json_doc *p, const struct config_path *path,
		       size_t depth, const json_t *v, const char *what)
{
	if (json_is_string(v))
		return 0;
	char g[SHOW_BUF];
	return fail(p, path, depth, AT_VALUE, true, "expected %s, got %s", what,
		    show(p, path, depth, v, g));
}

/* Client ids: ClientIdentifier and ManagementClientIds entries. They go
 * into an HTTP header and a certificate name comparison. */
static int check_id(const struct config_json_doc *p, const struct config_path *path, size_t depth,
		    const json_t *v)
{
	if (want_string(p, path, depth, v, "a string"))
		return -1;
	const char *s = json_string_value(v);
	size_t n = strlen(s);
	char g[SHOW_BUF];
	if (n == 0)
		return fail(p, path, depth, AT_VALUE, true, "must not be empty");
	if (has_ctl(s))
		return fail(p, path, depth, AT_VALUE, true, "%s contains a control character",
			    show(p, path, depth, v, g));
	if (s[0] == ' ' || s[n - 1] == ' ')
		return fail(p, path, depth, AT_VALUE, true, "%s has leading or trailing spaces",
			    show(p, path, depth, v, g));
	return 0;
}

static int convert_hostport(const struct config_json_doc *p, const struct config_path *path,
			    size_t depth, const json_t *v, char **host, uint16_t *port)
{
	if (want_string(p, path, depth, v, "a string \"host:port\""))
		return -1;
	const char *why;
	char g[SHOW_BUF];
	if (split_hostport(json_string_value(v), host, port, &why) == 0)
		return 0;
	if (why != NULL)
		return fail(p, path, depth, AT_VALUE, true, "%s is not host:port (%s)",
			    show(p, path, depth, v, g), why);
	return fail(p, path, depth, AT_VALUE, true, "%s is not host:port",
		    show(p, path, depth, v, g));
}

int config_service_cmp(const void *a, const void *b)
{
	return strcmp(((const struct config_service *)a)->name,
		      ((const struct config_service *)b)->name);
}

static int convert_services(const struct config_json_doc *p, const char *key, const json_t *v,
			    struct config_val *out)
{
	struct config_path path[2] = { { key, 0 }, { NULL, 0 } };
	char g[SHOW_BUF];
	if (!json_is_object(v))
		return fail(p, path, 1, AT_VALUE, true, "expected an object, got %s",
			    show(p, path, 1, v, g));
	size_t n = json_object_size(v);
	out->svc = calloc(n ? n : 1, sizeof(*out->svc));
	if (out->svc == NULL)
		return fail(p, path, 1, AT_NONE, true, "out of memory");
	const char *name;
	json_t *addr;
	json_object_foreach((json_t *)v, name, addr)
	{
		path[1].key = name;
		if (name[0] == '\0')
			return fail(p, path, 2, AT_KEY, true, "empty service name");
		if (has_ctl(name))
			return fail(p, path, 2, AT_KEY, true, "service name contains a control character");
		struct config_service *s = &out->svc[out->nsvc];
		if (convert_hostport(p, path, 2, addr, &s->host, &s->port))
			return -1;
		s->name = strdup(name);
		out->nsvc++; /* owns host now, even if strdup failed */
		if (s->name == NULL)
			return fail(p, path, 2, AT_NONE, true, "out of memory");
	}
	qsort(out->svc, out->nsvc, sizeof(*out->svc), config_service_cmp);
	return 0;
}

static int convert_idlist(const struct config_json_doc *p, const char *key, const json_t *v,
			  struct config_val *out)
{
	struct config_path path[2] = { { key, 0 }, { NULL, 0 } };
	char g[SHOW_BUF];
	if (!json_is_array(v))
		return fail(p, path, 1, AT_VALUE, true, "expected a list of strings, got %s",
			    show(p, path, 1, v, g));
	size_t n = json_array_size(v);
	out->ids = calloc(n + 1, sizeof(*out->ids));
	if (out->ids == NULL)
		return fail(p, path, 1, AT_NONE, true, "out of memory");
	for (size_t i = 0; i < n; i++) {
		path[1].index = i;
		if (check_id(p, path, 2, json_array_get(v, i)))
			return -1;
		out->ids[i] = strdup(json_string_value(json_array_get(v, i)));
		if (out->ids[i] == NULL)
			return fail(p, path, 2, AT_NONE, true, "out of memory");
		out->nids = i + 1;
	}
	return 0;
}

static int convert_bool(const struct config_json_doc *p, const struct config_path *path,
			const json_t *v, struct config_val *out)
{
	char g[SHOW_BUF];
	if (!json_is_boolean(v))
		return fail(p, path, 1, AT_VALUE, true, "expected true or false, got %s",
			    show(p, path, 1, v, g));
	out->b = json_is_true(v);
	return 0;
}

/* CONFIG_K_PORT, CONFIG_K_PORT0 and CONFIG_K_COUNT: integers in a range. */
static int convert_int(const struct config_json_doc *p, const struct config_keydef *d,
		       const struct config_path *path, const json_t *v, struct config_val *out)
{
	char g[SHOW_BUF];
	if (!json_is_integer(v))
		return fail(p, path, 1, AT_VALUE, true, "expected an integer, got %s",
			    show(p, path, 1, v, g));
	json_int_t n = json_integer_value(v);
	if (d->kind == CONFIG_K_COUNT) {
		if (n < (json_int_t)d->min || n > (json_int_t)d->max)
			return fail(p, path, 1, AT_VALUE, true, "%s is out of range (%u-%u)",
				    show(p, path, 1, v, g), (unsigned)d->min, (unsigned)d->max);
	} else {
		json_int_t lo = d->kind == CONFIG_K_PORT ? 1 : 0;
		if (n < lo || n > 65535)
			return fail(p, path, 1, AT_VALUE, true, "%s is not a port (%d-65535)",
				    show(p, path, 1, v, g), (int)lo);
	}
	out->u = (uint32_t)n;
	return 0;
}

static int convert_secs(const struct config_json_doc *p, const struct config_keydef *d,
			const struct config_path *path, const json_t *v, struct config_val *out)
{
	char g[SHOW_BUF];
	if (!json_is_number(v))
		return fail(p, path, 1, AT_VALUE, true,
			    "expected a number of seconds, got %s", show(p, path, 1, v, g));
	double s = json_number_value(v);
	uint32_t ms = 0;
	if (s >= 0 && s <= CONFIG_SECS_MAX) /* false for NaN too */
		ms = (uint32_t)(s * 1000.0 + 0.5);
	if (!(s >= 0 && s <= CONFIG_SECS_MAX) || (d->kind == CONFIG_K_SECS && ms == 0))
		return fail(p, path, 1, AT_VALUE, true, "%s is out of range (%s-%u seconds)",
			    show(p, path, 1, v, g), d->kind == CONFIG_K_SECS ? "0.001" : "0",
			    CONFIG_SECS_MAX);
	out->u = ms;
	return 0;
}

/* CONFIG_K_STR and CONFIG_K_IP: optional strings, "" is absent. */
static int convert_str(const struct config_json_doc *p, const struct config_keydef *d,
		       const struct config_path *path, const json_t *v, struct config_val *out)
{
	char g[SHOW_BUF];
	if (want_string(p, path, 1, v, "a string"))
		return -1;
	const char *s = json_string_value(v);
	if (s[0] == '\0') {
		out->present = false; /* Go's zero value: not set */
		return 0;
	}
	if (d->kind == CONFIG_K_IP && !is_ipv4(s) && !is_ipv6(s, strlen(s), false))
		return fail(p, path, 1, AT_VALUE, true, "%s is not an IP address",
			    show(p, path, 1, v, g));
	out->s = strdup(s);
	if (out->s == NULL)
		return fail(p, path, 1, AT_NONE, true, "out of memory");
	return 0;
}

static int convert_id(const struct config_json_doc *p, const struct config_path *path,
		      const json_t *v, struct config_val *out)
{
	if (check_id(p, path, 1, v))
		return -1;
	out->s = strdup(json_string_value(v));
	if (out->s == NULL)
		return fail(p, path, 1, AT_NONE, true, "out of memory");
	return 0;
}

static int convert_host(const struct config_json_doc *p, const struct config_path *path,
			const json_t *v, struct config_val *out)
{
	if (want_string(p, path, 1, v, "a string"))
		return -1;
	const char *s = json_string_value(v);
	size_t n = strlen(s);
	char g[SHOW_BUF];
	if (n == 0)
		return fail(p, path, 1, AT_VALUE, true, "must not be empty");
	/* Go concatenated ServerHost ":" port, so an IPv6 literal had to
	 * be written in brackets; accept it with or without. */
	bool ok;
	if (n >= 2 && s[0] == '[' && s[n - 1] == ']') {
		s++;
		n -= 2;
		ok = is_ipv6(s, n, true);
	} else {
		ok = memchr(s, ':', n) ? is_ipv6(s, n, true) : is_hostname(s, n);
	}
	if (!ok)
		return fail(p, path, 1, AT_VALUE, true, "%s is not a host name or IP address",
			    show(p, path, 1, v, g));
	out->s = strndup(s, n);
	if (out->s == NULL)
		return fail(p, path, 1, AT_NONE, true, "out of memory");
	return 0;
}

int config_value_convert(const struct config_json_doc *p, const struct config_keydef *d,
			 const char *key, const json_t *v, struct config_val *out)
{
	struct config_path path[1] = { { key, 0 } };
	switch (d->kind) {
	case CONFIG_K_BOOL:
		return convert_bool(p, path, v, out);
	case CONFIG_K_PORT:
	case CONFIG_K_PORT0:
	case CONFIG_K_COUNT:
		return convert_int(p, d, path, v, out);
	case CONFIG_K_SECS:
	case CONFIG_K_SECS0:
		return convert_secs(p, d, path, v, out);
	case CONFIG_K_STR:
	case CONFIG_K_IP:
		return convert_str(p, d, path, v, out);
	case CONFIG_K_ID:
		return convert_id(p, path, v, out);
	case CONFIG_K_HOST:
		return convert_host(p, path, v, out);
	case CONFIG_K_HOSTPORT:
		return convert_hostport(p, path, 1, v, &out->s, &out->port);
	case CONFIG_K_SERVICES:
		return convert_services(p, key, v, out);
	case CONFIG_K_IDLIST:
		return convert_idlist(p, key, v, out);
	}
	return fail(p, path, 1, AT_NONE, true, "internal error: bad key kind");
}
