/*
 * config_value: one key's value, converted from JSON by its kind
 * (config_keys.h) and checked: types, ranges, host names and IP literals,
 * "host:port" (split by sock_split_hostport, then the config's stricter
 * rules), client ids, the service map, the id list.
 *
 * Every error is written through config_json_fail, pointing at the value
 * (or, for service names, the key) in the file; the texts are what the
 * unit tests and docs/config.md show.
 */
#ifndef THRESHOLD_CONFIG_VALUE_H
#define THRESHOLD_CONFIG_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "tunnel/config.h"
#include "tunnel/config_json.h"
#include "tunnel/config_keys.h"

/* One key's value while a file is taken in; the strings and arrays are
 * owned (config_val_free) until moved into the config. */
struct config_val {
	const char *key; /* as spelled in the file; NULL when not there */
	bool present;	 /* there and not null */
	bool b;
	uint32_t u;
	char *s; /* strings; the host of CONFIG_K_HOST and CONFIG_K_HOSTPORT */
	uint16_t port;
	struct config_service *svc;
	size_t nsvc;
	char **ids;
	size_t nids;
};

/* Frees what v owns and clears it (not key, which is borrowed). */
void config_val_free(struct config_val *v);

/* Converts v, the value of top-level key `key` (as spelled in the file),
 * by d->kind into out. 0, or -1 with p->err set; out may hold partial
 * results either way (config_val_free them). A CONFIG_K_STR or CONFIG_K_IP
 * "" clears out->present (Go's zero value: not set). */
int config_value_convert(const struct config_json_doc *p, const struct config_keydef *d,
			 const char *key, const json_t *v, struct config_val *out);

/* Orders services by name (strcmp), for qsort and bsearch. */
int config_service_cmp(const void *a, const void *b);

#endif
