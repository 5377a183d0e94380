/*
 * visitors: a public visitor from accept to relay.
 *
 * Accepted by a listener (the listeners' `accepted` seam lands in
 * visitors_accepted) -> peeked, when its port needs it (a PROXY header from
 * a trusted load balancer, the SNI host name when the port routes by it;
 * deadline SniPeekTimeout; the bytes read are sent on unchanged) -> routed
 * to a tunnel by the listener's routes in force at that moment -> its
 * client's session:
 *   - server-open in force: a stream is opened at once with the preamble
 *     and PROXY header as its first bytes -> relay;
 *   - Go client: a control message on stream 1 and a place in the
 *     session's FIFO; the client's next stream is this visitor's. A visitor
 *     that times out keeps its place (abandoned), so the late stream is
 *     reset instead of reaching the next visitor;
 *   - client not connected: closed at once, or held VisitorGraceSeconds on
 *     its client entry's waiting list.
 *
 * visitors_init sets the sessions' hooks (ready / stream / drop) to this
 * module. A visitor holds a reference on its listener until it ends (the
 * relay takes it over); the tunnel data it needs is copied when routed.
 */
#ifndef THRESHOLD_SERVER_VISITORS_H
#define THRESHOLD_SERVER_VISITORS_H

#include <stdint.h>

#include "base/list.h"
#include "base/loop.h"
#include "server/listeners.h"
#include "server/session.h"
#include "tunnel/config.h"

struct visitors {
	struct loop *loop;
	const struct config_server *cfg;
	struct sessions *ss;
	struct list peeking; /* visitors whose first bytes are being read */
	uint32_t boot_id;    /* connection ids are "<boot>-<n>" */
	uint64_t next_conn_id;
};

void visitors_init(struct visitors *vs, struct loop *l, const struct config_server *cfg, struct sessions *ss);
/* listeners_accept_fn: takes over fd and the listener reference. */
void visitors_accepted(void *up, struct listener *ls, int fd, const struct sock_addr *peer);
/* Frees every visitor being peeked or held for an absent client. */
void visitors_stop(struct visitors *vs);

#endif
