/*
 * daemon: what `threshold server` and `threshold client` both do around
 * their event loop: process setup, the start-up log of the effective
 * config, running the loop, and a teardown a second signal cannot cut.
 */
#ifndef THRESHOLD_DAEMON_H
#define THRESHOLD_DAEMON_H

#include "base/loop.h"
#include "tunnel/mconn.h"

/* Stops the service: the server's or client's stop, called once. */
typedef void (*daemon_stop_fn)(void *udata);

struct daemon {
	struct loop *loop;
	struct worker env;
	bool env_ok;
	daemon_stop_fn stop; /* set by daemon_on_stop */
	void *stop_udata;
};

/*
 * Ignores SIGPIPE, raises the fd limit, logs `title` and then the config
 * text one record per line, creates the loop and the shared buffers.
 * Returns 0, or -1 after printing why to stderr (prog names the command).
 */
int daemon_init(struct daemon *d, const char *prog, const char *title, const char *config_text);
/*
 * The one place signals are handled: SIGINT and SIGTERM log
 * "signal N: shutting down", call stop(udata) and stop the loop. Returns 0,
 * or -1 after printing why to stderr.
 */
int daemon_on_stop(struct daemon *d, const char *prog, daemon_stop_fn stop, void *udata);
/* Runs the loop until loop_stop(), then lets the closes it queued run.
 * Returns the process exit status. */
int daemon_run(struct daemon *d);
/* Ignores further SIGINT/SIGTERM (service managers signal the whole group)
 * and frees the loop and buffers. NULL-safe parts; call once. */
void daemon_fini(struct daemon *d);

#endif
