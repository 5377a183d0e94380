/*
 * front: the HTTP front door on the control and management ports.
 *
 * Accepts (pausing 100 ms after EMFILE and friends), runs TLS when UseTls
 * (the client certificate's CommonName gives the client id, see
 * cert_identity), reads one HTTP request (head deadline
 * HandshakeTimeoutSeconds, body up to 1 MiB within 30 s; both buffers
 * allocated only when bytes arrive) and answers it:
 *   - CONNECT /_controlPath/ on the control port: checked (connect.h),
 *     answered 200, and the transport is handed to a new control session
 *     (session_start) with the bytes that followed the head;
 *   - GET /ping on the 2020-layout control port;
 *   - the management API (mgmt_handle) on the management port, or on the
 *     control port in the single-port layout, for loopback peers without
 *     TLS or for certificates in ManagementClientIds.
 * After an answer the connection half-closes and drains briefly (lingering
 * close) so the peer reads the answer rather than a reset.
 *
 * Calls down only: session (new / start / discard), mgmt, connect.
 */
#ifndef THRESHOLD_SERVER_FRONT_H
#define THRESHOLD_SERVER_FRONT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/log.h"
#include "base/loop.h"
#include "base/srclimit.h"
#include "base/tls.h"
#include "server/mgmt.h"
#include "server/session.h"
#include "tunnel/config.h"

struct front {
	struct loop *loop;
	const struct config_server *cfg;
	struct sessions *ss;
	const struct mgmt *mgmt;
	struct tls_ctx *tls;	 /* UseTls: one server context for both ports */
	int control_fd, mgmt_fd; /* mgmt_fd == -1 in the single-port layout */
	size_t nhttp;		 /* open HTTP connections, both ports */
	/* Pools (MaxPreAuthConnections, MaxPreAuthPerSource, MaxManagementConnections):
	 * the control port's connections until they become a control session
	 * (or answer a management request in the single-port layout), and the
	 * management port's, never shared. */
	size_t n_control, n_mgmt;
	struct srclimit control_src; /* control-port connections per source */
	uint64_t refused_control, refused_control_source, refused_mgmt;
	struct log_limit refuse_log;
	struct loop_timer accept_pause; /* accepts paused (EMFILE) */
	bool stopping;
};

void front_init(struct front *f, struct loop *l, const struct config_server *cfg, struct sessions *ss,
		const struct mgmt *m);
/* Creates the TLS context (UseTls) and binds and watches the control and
 * management ports. 0, or -1 with a one-line reason in err. */
int front_start(struct front *f, char *err, size_t errlen);
/* Logs where it listens (after start). */
void front_log_listening(const struct front *f);
/* Closes both ports; open HTTP connections finish on their own. */
void front_stop(struct front *f);
void front_fini(struct front *f);

#endif
