/*
 * Fuzz target for tunnel/config: the same bytes go to the server and the
 * client parser. Invariants checked beyond "no crash, no leak":
 *   - a failure leaves one non-empty line in err (no control characters);
 *   - a config that loads describes itself as JSON that loads again and
 *     describes identically (describe is the effective config, complete),
 *     unless pretty-printing took it past CONFIG_MAX_BYTES;
 *   - config_json_locate() over the raw bytes stays inside them.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tunnel/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_err(const char *err)
{
	size_t n = strnlen(err, CONFIG_ERRLEN);
	if (n == 0 || n >= CONFIG_ERRLEN)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)err[i] < 0x20 || err[i] == 0x7F)
			abort();
}

static void check_server(const char *text, size_t len)
{
	char err[CONFIG_ERRLEN];
	struct config_server *a = config_server_parse("s.json", text, len, err);
	if (a == NULL) {
		check_err(err);
		return;
	}
	char *d1 = config_server_describe(a);
	if (d1 == NULL)
		abort();
	if (strlen(d1) > CONFIG_MAX_BYTES) {	/* pretty-printing grew it past the cap */
		free(d1);
		config_server_free(a);
		return;
	}
	struct config_server *b = config_server_parse("describe", d1, strlen(d1), err);
	if (b == NULL)
		abort();
	char *d2 = config_server_describe(b);
	if (d2 == NULL || strcmp(d1, d2) != 0)
		abort();
	free(d1);
	free(d2);
	config_server_free(a);
	config_server_free(b);
}

static void check_client(const char *text, size_t len)
{
	char err[CONFIG_ERRLEN];
	struct config_client *a = config_client_parse("c.json", text, len, err);
	if (a == NULL) {
		check_err(err);
		return;
	}
	for (size_t i = 0; i < a->n_services; i++)
		if (config_client_service(a, a->services[i].name) != &a->services[i])
			abort();
	char *d1 = config_client_describe(a);
	if (d1 == NULL)
		abort();
	if (strlen(d1) > CONFIG_MAX_BYTES) {	/* pretty-printing grew it past the cap */
		free(d1);
		config_client_free(a);
		return;
	}
	struct config_client *b = config_client_parse("describe", d1, strlen(d1), err);
	if (b == NULL)
		abort();
	char *d2 = config_client_describe(b);
	if (d2 == NULL || strcmp(d1, d2) != 0)
		abort();
	free(d1);
	free(d2);
	config_client_free(a);
	config_client_free(b);
}

static void check_locate(const char *text, size_t len)
{
	static const struct config_path paths[][2] = {
		{ { "ServiceToLocalAddrMap", 0 }, { "fooService", 0 } },
		{ { "ManagementClientIds", 0 }, { NULL, 1 } },
		{ { NULL, 0 }, { NULL, 2 } },
		{ { "a", 0 }, { "", 0 } },
	};
	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (size_t depth = 0; depth <= 2; depth++) {
			struct config_pos pos;
			if (config_json_locate(text, len, paths[i], depth, depth & 1, &pos) != 0)
				continue;
			if (pos.off > len || pos.len > len - pos.off || pos.line < 1 || pos.col < 1)
				abort();
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so reading past the end is caught. */
	char *text = malloc(size ? size : 1);
	if (text == NULL)
		return 0;
	if (size)
		memcpy(text, data, size);
	check_server(text, size);
	check_client(text, size);
	check_locate(text, size);
	free(text);
	return 0;
}
