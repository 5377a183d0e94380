/*
 * client_main: `threshold client -c FILE` (and the legacy
 * `threshold -mode client -configFile FILE`) — load the config, set up the
 * loop and signals, run the client until SIGINT/SIGTERM.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/loop.h"
#include "base/sock.h"
#include "client/client.h"
#include "tunnel/config.h"
#include "tunnel/mconn.h"

/* SIGINT / SIGTERM: graceful stop (GoAway, close), then leave the loop. */
static void on_stop_signal(struct loop *l, int signo, void *udata)
{
	struct client *c = udata;
	log_info("signal %d: shutting down", signo);
	client_stop(c);
	loop_stop(l);
}

/* One log record per line of a multi-line text. */
static void log_lines(const char *text)
{
	const char *p = text;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		log_info("%.*s", (int)n, p);
		p += n;
		if (*p == '\n')
			p++;
	}
}

int client_main(const char *config_path)
{
	char err[CONFIG_ERRLEN];
	struct config_client *cfg = config_client_load(config_path, err);
	if (cfg == NULL) {
		fprintf(stderr, "threshold client: %s\n", err);
		return 1;
	}
	if (cfg->debug_log)
		log_set_level(LOG_LEVEL_DEBUG);
	char *desc = config_client_describe(cfg);
	/* (sic) the original's spelling. */
	log_info("theshold client is starting up using config:");
	log_lines(desc ? desc : "(unavailable)");
	free(desc);

	signal(SIGPIPE, SIG_IGN);
	char serr[SOCK_ERRLEN];
	if (sock_raise_fd_limit(serr) < 0)
		log_warnx("%s", serr);

	int rc = 1;
	struct mconn_env env;
	struct client *c = NULL;
	struct loop *l = loop_new();
	if (l == NULL || mconn_env_init(&env, l) != 0) {
		fprintf(stderr, "threshold client: out of memory\n");
		loop_free(l);
		config_client_free(cfg);
		return 1;
	}
	c = client_new(l, &env, cfg);
	if (c == NULL) {
		fprintf(stderr, "threshold client: cannot start (see the log above)\n");
		goto out;
	}
	if (loop_signal(l, SIGINT, on_stop_signal, c) != 0 ||
	    loop_signal(l, SIGTERM, on_stop_signal, c) != 0) {
		fprintf(stderr, "threshold client: cannot handle SIGINT/SIGTERM\n");
		goto out;
	}
	if (client_start(c) != 0) {
		fprintf(stderr, "threshold client: cannot start\n");
		goto out;
	}
	int lr = loop_run(l);
	if (lr < 0)
		log_errorx("event loop failed: %s", strerror(-lr));
	rc = lr == 0 ? 0 : 1;
	/* Let the closes queued by client_stop run. */
	for (int i = 0; i < 3; i++)
		loop_run_once(l, 0);
out:
	/* A second SIGTERM (timeout(1) and service managers signal the
	 * process and its group) must not kill the teardown once loop_free
	 * gives the signals back. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	client_free(c);
	loop_free(l); /* reaps what is still deferred */
	mconn_env_free(&env);
	config_client_free(cfg);
	return rc;
}
