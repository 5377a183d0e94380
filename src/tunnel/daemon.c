#include "tunnel/daemon.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "base/sock.h"

int daemon_init(struct daemon *d, const char *prog, const char *title, const char *config_text)
{
	memset(d, 0, sizeof(*d));
	log_info("%s", title);
	const char *p = config_text ? config_text : "(unavailable)";
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t n = nl ? (size_t)(nl - p) : strlen(p);
		log_info("%.*s", (int)n, p);
		p += n;
		if (*p == '\n')
			p++;
	}
	signal(SIGPIPE, SIG_IGN);
	char err[SOCK_ERRLEN];
	if (sock_raise_fd_limit(err) < 0)
		log_warnx("%s", err);
	d->loop = loop_new();
	if (d->loop == NULL || worker_init(&d->env, d->loop) != 0) {
		fprintf(stderr, "%s: out of memory\n", prog);
		loop_free(d->loop);
		d->loop = NULL;
		return -1;
	}
	d->env_ok = true;
	return 0;
}

static void on_stop_signal(struct loop *l, int signo, void *udata)
{
	struct daemon *d = udata;
	log_info("signal %d: shutting down", signo);
	if (d->stop)
		d->stop(d->stop_udata);
	loop_stop(l);
}

int daemon_on_stop(struct daemon *d, const char *prog, daemon_stop_fn stop, void *udata)
{
	d->stop = stop;
	d->stop_udata = udata;
	if (loop_signal(d->loop, SIGINT, on_stop_signal, d) != 0 ||
	    loop_signal(d->loop, SIGTERM, on_stop_signal, d) != 0) {
		fprintf(stderr, "%s: cannot handle SIGINT/SIGTERM\n", prog);
		return -1;
	}
	return 0;
}

int daemon_run(struct daemon *d)
{
	int lr = loop_run(d->loop);
	if (lr < 0)
		log_errorx("event loop failed: %s", strerror(-lr));
	for (int i = 0; i < 3; i++)
		loop_run_once(d->loop, 0);
	return lr == 0 ? 0 : 1;
}

void daemon_fini(struct daemon *d)
{
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	/* The env's flush hook goes first (it lives on the loop); the
	 * loop's last reaping needs neither the hook nor the scratch. */
	if (d->env_ok)
		worker_fini(&d->env);
	d->env_ok = false;
	loop_free(d->loop); /* reaps what is still deferred */
	d->loop = NULL;
}
