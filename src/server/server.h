/*
 * server: threshold's public side.
 *
 * Listens on the control port for clients (CONNECT /_controlPath/, then a
 * yamux session), serves the management API (its own port in the 2020
 * layout, the same port in the later one), keeps the client registry and the
 * tunnel table, and carries each public visitor to its client.
 */
#ifndef THRESHOLD_SERVER_H
#define THRESHOLD_SERVER_H

#include <stddef.h>

#include "base/loop.h"
#include "tunnel/config.h"
#include "tunnel/mconn.h"

struct server;

/* cfg must outlive the server. NULL on allocation failure. */
struct server *server_new(struct loop *l, struct worker *env, const struct config_server *cfg);
/* Binds the control and management ports and restores the tunnel table.
 * Returns 0, or -1 with a one-line reason in err. */
int server_start(struct server *srv, char *err, size_t errlen);
/* Closes listeners and sessions (GoAway 0). The loop then runs dry. */
void server_stop(struct server *srv);
/* NULL-safe. After server_stop and the loop's last deferred reap. */
void server_free(struct server *srv);

/* `threshold server -c FILE`: runs until SIGINT/SIGTERM; exit status. */
int server_main(const char *config_path);

#endif
