/*
 * server_main: `threshold server -c FILE` — load the config, set up the
 * loop and signals, run the server until SIGINT/SIGTERM.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "server/server.h"
#include "tunnel/config.h"
#include "tunnel/daemon.h"

/* SIGINT / SIGTERM (daemon_on_stop): graceful stop, then the loop ends. */
static void stop_server(void *udata)
{
	server_stop(udata);
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
	struct daemon d;
	int rc = daemon_init(&d, "threshold server", "threshold server is starting up using config:", desc);
	free(desc);
	if (rc != 0) {
		config_server_free(cfg);
		return 1;
	}
	rc = 1;
	struct server *srv = server_new(d.loop, &d.env, cfg);
	char e[512];
	if (srv == NULL || server_start(srv, e, sizeof(e)) != 0) {
		fprintf(stderr, "threshold server: %s\n", srv ? e : "out of memory");
		goto out;
	}
	if (daemon_on_stop(&d, "threshold server", stop_server, srv) != 0)
		goto out;
	rc = daemon_run(&d);
out:
	if (srv)
		server_stop(srv);
	daemon_fini(&d);
	server_free(srv);
	config_server_free(cfg);
	return rc;
}
