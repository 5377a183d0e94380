/*
 * internal: what the three pieces of the client share (src/client/ only).
 *
 *   client.c   the long-lived client: state, backoff, services, public API
 *     | sess_* (session.h)                 ^ client_ctx up-calls
 *   session.c  one connect attempt and the session it carries
 *     | pending_* (pending.h)              ^ pending.fail up-call
 *   pending.c  streams waiting for a preamble or a local dial
 *
 * Calls go down only; where a lower piece must tell the one above
 * something (a service name is unknown, the session is up, the attempt
 * ended, a pending stream must end the session), it calls a function
 * pointer the piece above has set.
 */
#ifndef THRESHOLD_CLIENT_INTERNAL_H
#define THRESHOLD_CLIENT_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "base/loop.h"
#include "base/sock.h"
#include "base/tls.h"
#include "tunnel/config.h"
#include "tunnel/mconn.h"
#include "wire/control_msg.h"

/* Longest error text kept for a state change or a log line. */
#define CLIENT_ERRLEN 512
/* Addresses tried per local service. */
#define CLIENT_SVC_ADDRS 4

/* The resolved addresses of one local service (ServiceToLocalAddrMap). */
struct svc_rt {
	struct sock_addr addrs[CLIENT_SVC_ADDRS];
	int naddrs; /* 0 while unresolved */
};

struct csess;

/*
 * What the long-lived client lends to each attempt and its pending
 * streams. Owned by the client (embedded in it), borrowed by session.c and
 * pending.c, outlives every session. The up-calls are set by client.c.
 */
struct client_ctx {
	struct loop *loop;
	struct worker *env;
	const struct config_client *cfg;
	struct tls_ctx *tls;	     /* UseTls, else NULL */
	const struct svc_rt *svc;    /* parallel to cfg->services */
	const char *server_hostport; /* "host:port" for the log */
	void *up;		     /* first argument of the up-calls */
	/* pending.c: a visitor asked for a service not in the map (logged
	 * once per name by the client). */
	void (*unknown_service)(void *up, const char *name);
	/* session.c: controlOk arrived, the session serves visitors. */
	void (*connected)(void *up);
	/* session.c, once per attempt: it ended (reason valid during the
	 * call). The client forgets `ss` (freed by the loop later) and
	 * schedules the next attempt unless it is stopping. */
	void (*ended)(void *up, struct csess *ss, const char *reason, bool was_connected);
};

/* Printable copy for the log: control bytes become '?', cut at cap - 1. */
static inline void client_sanitize(char *out, size_t cap, const char *p, size_t n)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < cap; i++) {
		unsigned char c = (unsigned char)p[i];
		out[o++] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	if (cap > 0)
		out[o] = '\0';
}

/* A service name from the server, fit for one log line (it may hold any
 * character JSON can carry, newlines included). */
#define SAFE_NAME_LEN (CONTROL_MSG_SERVICE_MAX + 1)
static inline const char *client_safe_name(char out[SAFE_NAME_LEN], const char *name)
{
	client_sanitize(out, SAFE_NAME_LEN, name, strlen(name));
	return out;
}

#endif
