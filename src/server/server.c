/*
 * server: threshold's public side, its lifecycle (new / start / stop /
 * free) and the wiring of its pieces.
 *
 * Layering, each piece calling only the ones below it (an upward call goes
 * through a function pointer the upper piece set):
 *
 *   server.c     lifecycle; owns every piece below and wires the seams
 *   front.c      HTTP front door: control/management ports, CONNECT, TLS
 *                identity, management gating     -> connect, mgmt, session
 *   connect.c    the control CONNECT checked and its 200 answer
 *   mgmt.c       management API handlers          -> listeners, session
 *   visitors.c   peek, route, dispatch, relay     -> listeners, session
 *   listeners.c  public sockets, the table in force, the TunnelsFile
 *                (accepted visitors go up via listeners_set_accept)
 *                                                  -> tunnels, tunnel_spec
 *   session.c    client registry and control sessions (ready / stream /
 *                drop go up via session_set_hooks)
 *   tunnels.c    the refcounted, immutable tunnel table; its file writer
 *   tunnel_spec.c the PUT /tunnels body, pure parser and validator
 */
#include "server/server.h"

#include <stdlib.h>

#include "server/front.h"
#include "server/listeners.h"
#include "server/mgmt.h"
#include "server/session.h"
#include "server/visitors.h"

struct server {
	struct loop *loop;
	const struct config_server *cfg;
	struct sessions ss;
	struct listeners lss;
	struct visitors vs;
	struct mgmt mgmt;
	struct front front;
	bool stopping;
};

struct server *server_new(struct loop *l, struct worker *env, const struct config_server *cfg)
{
	struct server *srv = calloc(1, sizeof(*srv));
	if (srv == NULL)
		return NULL;
	srv->loop = l;
	srv->cfg = cfg;
	worker_set_memory_limit(env, cfg->memory_limit_mib);
	sessions_init(&srv->ss, l, env, cfg);
	if (listeners_init(&srv->lss, l, cfg) != 0) {
		free(srv);
		return NULL;
	}
	visitors_init(&srv->vs, l, cfg, &srv->ss);
	listeners_set_accept(&srv->lss, visitors_accepted, &srv->vs);
	srv->mgmt = (struct mgmt){ cfg, &srv->ss, &srv->lss };
	front_init(&srv->front, l, cfg, &srv->ss, &srv->mgmt);
	return srv;
}

int server_start(struct server *srv, char *err, size_t errlen)
{
	if (front_start(&srv->front, err, errlen) != 0)
		return -1;
	if (listeners_restore(&srv->lss, srv->cfg->tunnels_file, err, errlen) != 0)
		return -1;
	front_log_listening(&srv->front);
	return 0;
}

void server_stop(struct server *srv)
{
	if (srv->stopping)
		return;
	srv->stopping = true;
	front_stop(&srv->front);
	/* Listeners go; the tunnel table stays recorded (and persisted). */
	listeners_close(&srv->lss);
	visitors_stop(&srv->vs);
	sessions_close_all(&srv->ss);
}

void server_free(struct server *srv)
{
	if (srv == NULL)
		return;
	front_fini(&srv->front);
	listeners_fini(&srv->lss);
	sessions_fini(&srv->ss);
	free(srv);
}
