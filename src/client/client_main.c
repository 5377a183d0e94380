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
#include "tunnel/daemon.h"
#include "tunnel/mconn.h"

/* SIGINT / SIGTERM (daemon_on_stop): graceful stop (GoAway, close), then
 * the loop ends. */
static void stop_client(void *udata)
{
	client_stop(udata);
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
	struct daemon d;
	/* (sic) the original's spelling. */
	int rc = daemon_init(&d, "threshold client", "theshold client is starting up using config:", desc);
	free(desc);
	if (rc != 0) {
		config_client_free(cfg);
		return 1;
	}
	rc = 1;
	if (cfg->admin_socket != NULL)
		log_warnx("AdminUnixSocket \"%s\": this version does not serve the client's admin socket "
			  "(PUT /liveconfig); nothing listens there. Change tunnels with PUT /tunnels on the "
			  "server's management API, services in this file (restart to apply).",
			  cfg->admin_socket);
	struct loop *l = d.loop;
	struct client *c = NULL;
	c = client_new(l, &d.env, cfg);
	if (c == NULL) {
		fprintf(stderr, "threshold client: cannot start (see the log above)\n");
		goto out;
	}
	if (daemon_on_stop(&d, "threshold client", stop_client, c) != 0)
		goto out;
	if (client_start(c) != 0) {
		fprintf(stderr, "threshold client: cannot start\n");
		goto out;
	}
	rc = daemon_run(&d);
out:
	client_free(c);
	daemon_fini(&d);
	config_client_free(cfg);
	return rc;
}
