/*
 * listeners: the public listening sockets the tunnel table implies, one per
 * canonical address:port, and the table in force.
 *
 * listeners_apply is all or nothing: every socket the new table needs and
 * does not have yet is bound first; only when all of that succeeded are the
 * sockets no longer needed closed, the new table swapped in whole and each
 * kept listener pointed at its new routes. If anything fails, the new
 * sockets are closed again and nothing changed, so the live listeners
 * always equal what GET /tunnels shows.
 *
 * Upward seam: an accepted visitor is handed to the `accepted` callback set
 * by the piece above (visitors) with listeners_set_accept. The callee owns
 * the fd and one listener reference (it gives both back through
 * listener_visitor_done, also when it fails at once).
 *
 * Established visitors never depend on their listener: closing a listener
 * leaves its relays running; the struct lives on while they hold it.
 */
#ifndef THRESHOLD_SERVER_LISTENERS_H
#define THRESHOLD_SERVER_LISTENERS_H

#include <jansson.h>
#include <stddef.h>

#include "base/list.h"
#include "base/loop.h"
#include "base/sock.h"
#include "server/tunnels.h"
#include "tunnel/config.h"

struct listener {
	struct listeners *owner;
	struct list node; /* on owner->all while open */
	int fd;
	char key[SOCK_ADDRSTRLEN];
	uint16_t port;
	struct tunnel_table *table;	    /* reference; NULL once closed */
	const struct tunnel_routes *routes; /* into table; NULL once closed */
	size_t nvisitors;		    /* visitors accepted and not yet ended */
	size_t refs;			    /* the owner (while open) + one per visitor */
	struct loop_timer pause;	    /* accept paused after EMFILE/ENFILE */
};

typedef void (*listeners_accept_fn)(void *up, struct listener *ls, int fd, const struct sock_addr *peer);

struct listeners {
	struct loop *loop;
	const struct config_server *cfg;
	struct list all;	    /* struct listener.node */
	struct tunnel_table *table; /* in force (never NULL after init) */
	listeners_accept_fn accepted;
	void *up;
};

enum listeners_rc {
	LISTENERS_OK = 0,
	LISTENERS_E_IN_USE, /* a port is held by another process */
	LISTENERS_E_FAIL,   /* another bind failure, or out of memory */
};

/* An empty table and no sockets. -1 on allocation failure. */
int listeners_init(struct listeners *lss, struct loop *l, const struct config_server *cfg);
void listeners_set_accept(struct listeners *lss, listeners_accept_fn fn, void *up);
/* Closes every public socket; the table stays recorded (GET, save). */
void listeners_close(struct listeners *lss);
/* listeners_close, then the table's reference goes. */
void listeners_fini(struct listeners *lss);

/* The server's own ports, as tunnel_spec_parse must know them. */
void listeners_spec_ctx(const struct listeners *lss, struct tunnel_spec_ctx *ctx);
/* Binds what is new, then swaps in `ts` (taken over on LISTENERS_OK); on
 * failure nothing changes and `errors` says why (tunnel_spec_error rows). */
enum listeners_rc listeners_apply(struct listeners *lss, struct tunnel_set *ts, json_t *errors);
const struct tunnel_table *listeners_table(const struct listeners *lss);
/* Restores the TunnelsFile (NULL: nothing to do) at start; a file that does
 * not exist yet is logged and is no error. 0, or -1 with the reason. */
int listeners_restore(struct listeners *lss, const char *path, char *err, size_t errlen);

/* A visitor of ls ended: its count and its reference go. NULL-safe. */
void listener_visitor_done(struct listener *ls);

#endif
