/*
 * server_main: `threshold server -c FILE` — load the config, set up the
 * loop and signals, run the server until SIGINT/SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "base/loop.h"
#include "base/sock.h"
#include "server/server.h"
#include "tunnel/config.h"
#include "tunnel/mconn.h"

static void on_stop_signal(struct loop *l, int signo, void *udata)
{
	struct server *srv = udata;
	log_info("signal %d: shutting down", signo);
	server_stop(srv);
	loop_stop(l);
}

int server_main(const char *config_path)
{
	char err[CONFIG_ERRLEN];
	struct config_server *cfg = config_server_load(config_path, err);
	if (cfg == NULL) {
		fprintf(stderr, "threshold server: %s\n", err);
		return 1;
	}
	if (cfg->debug_log)
		log_set_level(LOG_LEVEL_DEBUG);
	char *desc = config_server_describe(cfg);
	log_info("threshold server is starting up using config:\n%s", desc ? desc : "(unavailable)");
	free(desc);
	signal(SIGPIPE, SIG_IGN);
	char serr[SOCK_ERRLEN];
	if (sock_raise_fd_limit(serr) < 0)
		log_warnx("%s", serr);
	int rc = 1;
	struct mconn_env env;
	struct server *srv = NULL;
	struct loop *l = loop_new();
	if (l == NULL || mconn_env_init(&env, l) != 0) {
		fprintf(stderr, "threshold server: out of memory\n");
		loop_free(l);
		config_server_free(cfg);
		return 1;
	}
	srv = server_new(l, &env, cfg);
	char e[512];
	if (srv == NULL || server_start(srv, e, sizeof(e)) != 0) {
		fprintf(stderr, "threshold server: %s\n", srv ? e : "out of memory");
		goto out;
	}
	loop_signal(l, SIGINT, on_stop_signal, srv);
	loop_signal(l, SIGTERM, on_stop_signal, srv);
	rc = loop_run(l) == 0 ? 0 : 1;
	/* Let the closes queued by server_stop run. */
	for (int i = 0; i < 3; i++)
		loop_run_once(l, 0);
out:
	/* A second SIGTERM (a service manager signalling the whole group)
	 * must not kill us half way through the teardown. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	if (srv)
		server_stop(srv);
	loop_free(l); /* reaps what is still deferred */
	server_free(srv);
	mconn_env_free(&env);
	config_server_free(cfg);
	return rc;
}
