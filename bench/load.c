/*
 * load: the traffic generator and the backends of `make bench`.
 * Single-threaded, one epoll loop per run, loopback addresses only.
 *
 *   load echo-server PORT [LIFETIME_S]    echo every byte back
 *   load sink-server PORT [LIFETIME_S]    discard; when the peer half-closes,
 *                                         answer "<bytes received>\n" and close
 *   load bulk    HOST PORT SECONDS NCONN [MAX_BYTES]
 *                                         send as fast as possible to a sink
 *                                         (MAX_BYTES per connection at most:
 *                                         a light probe of a path)
 *   load rate    HOST PORT SECONDS CONC   connect, send 64 B, read the 64 B
 *                                         echo, close; CONC in flight
 *   load latency HOST PORT COUNT          64 B ping-pong on one connection
 *   load hold    HOST PORT N SECONDS      N idle connections, each proven
 *                                         through with a 1-byte echo, held
 *                                         until SECONDS pass or SIGTERM,
 *                                         SIGINT or SIGUSR1 arrives
 *   load free-port                        print a loopback port free right
 *                                         now (for configs written ahead)
 *
 * Output: `key=value` lines on stdout, one per figure, flushed as they are
 * known (a script waits for `established=` of `hold` before sampling the
 * gateway's memory). Diagnostics go to stderr. Exit status 0 when the run
 * met its own definition of success (every connection established, no
 * error), 1 when it ran but saw errors, 2 on bad usage or set-up failure.
 *
 * Servers listen on 127.0.0.1 (PORT 0 picks a free port; the chosen one is
 * printed as `port=`, then `ready=1`), and stop on SIGTERM/SIGINT or after
 * LIFETIME_S (default 3600). HOST must be a numeric loopback address
 * (127.0.0.0/8, ::1, ::ffff:127.x.y.z); anything else is refused, so the
 * tool cannot be pointed at someone else's machine.
 *
 * Every loop is bounded: each run by its SECONDS/COUNT plus fixed grace
 * periods (connect 10 s, drain 20 s, per-operation 5 s, hold set-up 120 s
 * in all and 60 s per connection), each inner read or
 * write loop by an iteration cap.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/sock.h"
#include "base/util.h"

#define MSG_LEN 64               /* rate and latency message size */
#define IOBUF_LEN (256 * 1024)   /* one read or write in bulk paths */
#define MAX_EVENTS 256
#define IO_BURST 32              /* reads/writes per event before yielding */
#define ACCEPT_BURST 256
#define MAX_CONNS 200000         /* hard cap for hold and servers */
#define MAX_SECONDS 3600.0
#define CONNECT_GRACE_S 10.0
#define DRAIN_GRACE_S 20.0
#define OP_TIMEOUT_S 5.0
#define HOLD_SETUP_S 120.0
#define HOLD_CONNECT_S 60.0     /* one held connection's connect + echo */
/* Below the 128-entry accept backlog some gateways use (sshd's forwarded
 * listeners), so a burst of SYNs is not dropped and retried seconds later. */
#define HOLD_CONNECTS_IN_FLIGHT 100
#define LAT_WARMUP 100
#define LAT_MAX_S 60.0

static uint8_t iobuf[IOBUF_LEN];

/* ---------------------------------------------------------------- common */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

_Noreturn static void die_usage(void)
{
	fputs("usage: load echo-server PORT [LIFETIME_S]\n"
	      "       load sink-server PORT [LIFETIME_S]\n"
	      "       load bulk HOST PORT SECONDS NCONN [MAX_BYTES]\n"
	      "       load rate HOST PORT SECONDS CONCURRENCY\n"
	      "       load latency HOST PORT COUNT\n"
	      "       load hold HOST PORT N SECONDS\n"
	      "       load free-port\n"
	      "HOST: numeric loopback address only\n", stderr);
	exit(2);
}

static long parse_long(const char *s, const char *what, long lo, long hi)
{
	char *end;
	errno = 0;
	long v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "load: %s must be an integer in %ld..%ld, not '%s'\n",
			what, lo, hi, s);
		exit(2);
	}
	return v;
}

static double parse_seconds(const char *s, const char *what)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (errno != 0 || end == s || *end != '\0' || !(v > 0.0) || v > MAX_SECONDS) {
		fprintf(stderr, "load: %s must be seconds in (0, %.0f], not '%s'\n",
			what, MAX_SECONDS, s);
		exit(2);
	}
	return v;
}

static bool addr_is_loopback(const struct sock_addr *a)
{
	if (a->ss.ss_family == AF_INET) {
		const struct sockaddr_in *sin = (const void *)&a->ss;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (a->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const void *)&a->ss;
		if (IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			return true;
		return IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr) &&
		       s6->sin6_addr.s6_addr[12] == 127;
	}
	return false;
}

/* HOST PORT -> address, refusing anything that is not loopback. */
static void parse_target(struct sock_addr *out, const char *host, const char *port)
{
	char err[SOCK_ERRLEN];
	uint16_t p = (uint16_t)parse_long(port, "PORT", 1, 65535);
	if (sock_addr_parse(out, host, p, err) < 0) {
		fprintf(stderr, "load: %s (HOST must be a numeric loopback address)\n", err);
		exit(2);
	}
	if (!addr_is_loopback(out)) {
		fprintf(stderr, "load: refusing %s: only loopback addresses "
			"(127.0.0.0/8, ::1) may be loaded\n", host);
		exit(2);
	}
}

/* Raise RLIMIT_NOFILE and check that `need` descriptors fit. */
static void need_fds(long need)
{
	char err[SOCK_ERRLEN];
	long lim = sock_raise_fd_limit(err);
	if (lim < 0) {
		fprintf(stderr, "load: %s\n", err);
		exit(2);
	}
	if (lim < need) {
		fprintf(stderr, "load: needs %ld file descriptors, RLIMIT_NOFILE allows %ld "
			"(raise it with ulimit -n)\n", need, lim);
		exit(2);
	}
}

/* SIGTERM, SIGINT, SIGUSR1 as a readable fd, so the loops can watch them. */
static int signals_fd(void)
{
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);
	int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0) {
		perror("load: signalfd");
		exit(2);
	}
	return fd;
}

static int epoll_new(void)
{
	int ep = epoll_create1(EPOLL_CLOEXEC);
	if (ep < 0) {
		perror("load: epoll_create1");
		exit(2);
	}
	return ep;
}

static void ep_ctl(int ep, int op, int fd, uint32_t events, void *ptr)
{
	struct epoll_event ev = { .events = events, .data.ptr = ptr };
	if (epoll_ctl(ep, op, fd, &ev) < 0 && op != EPOLL_CTL_DEL) {
		fprintf(stderr, "load: epoll_ctl(%d, fd %d): %s\n", op, fd, strerror(errno));
		exit(2);
	}
}

/* Milliseconds until `deadline` (seconds, monotonic), at least 0, at most cap. */
static int ms_until(double deadline, int cap)
{
	double ms = (deadline - now_s()) * 1000.0;
	if (ms <= 0)
		return 0;
	if (ms > cap)
		return cap;
	return (int)ms + 1;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of sorted v[n], in microseconds. */
static double pct_us(const uint64_t *v, size_t n, double p)
{
	if (n == 0)
		return 0.0;
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return (double)v[rank - 1] / 1000.0;
}

/* Growable sample array, capped so a long run cannot eat the machine. */
struct samples {
	uint64_t *v;
	size_t n, cap, max;
};

static void samples_add(struct samples *s, uint64_t x)
{
	if (s->n == s->cap) {
		if (s->cap >= s->max)
			return;
		size_t ncap = s->cap ? s->cap * 2 : 4096;
		if (ncap > s->max)
			ncap = s->max;
		uint64_t *nv = realloc(s->v, ncap * sizeof(*nv));
		if (nv == NULL)
			return;
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n++] = x;
}

/* Fill a message that names its connection, so a crossed echo is caught. */
static void fill_msg(uint8_t *m, size_t len, uint64_t id)
{
	for (size_t i = 0; i < len; i++)
		m[i] = (uint8_t)('A' + (id + i * 7) % 26);
}

/* --------------------------------------------------------------- servers */

enum { K_LISTEN = 1, K_SIGNAL, K_CONN };

struct sconn {
	int kind;
	int fd;
	uint64_t bytes;      /* sink: received so far */
	uint8_t *pend;       /* echo: bytes the peer could not take yet */
	size_t pend_off, pend_len;
	bool eof;            /* echo: peer done sending, close once flushed */
};

struct server {
	bool echo;
	int ep;
	struct sconn lst, sig;
	long open, accepted, peak, accept_errors;
	double paused_until;  /* accept paused after EMFILE/ENOMEM */
};

static void sconn_close(struct server *s, struct sconn *c)
{
	ep_ctl(s->ep, EPOLL_CTL_DEL, c->fd, 0, NULL);
	close(c->fd);
	free(c->pend);
	free(c);
	s->open--;
}

static void server_accept(struct server *s)
{
	char err[SOCK_ERRLEN];
	for (int i = 0; i < ACCEPT_BURST; i++) {
		int fd = sock_accept(s->lst.fd, NULL, err);
		if (fd == -EAGAIN)
			return;
		if (fd < 0) {
			if (s->accept_errors++ < 5)
				fprintf(stderr, "load: %s\n", err);
			/* Out of fds or memory: stop watching the listener 100 ms. */
			ep_ctl(s->ep, EPOLL_CTL_MOD, s->lst.fd, 0, &s->lst);
			s->paused_until = now_s() + 0.1;
			return;
		}
		struct sconn *c = calloc(1, sizeof(*c));
		if (c == NULL) {
			close(fd);
			s->accept_errors++;
			return;
		}
		c->kind = K_CONN;
		c->fd = fd;
		if (s->echo)
			sock_set_nodelay(fd, true, NULL);
		ep_ctl(s->ep, EPOLL_CTL_ADD, fd, EPOLLIN, c);
		s->open++;
		s->accepted++;
		if (s->open > s->peak)
			s->peak = s->open;
	}
}

/* Echo: write what was read; keep the rest and stop reading until it drains. */
static void echo_io(struct server *s, struct sconn *c, uint32_t ev)
{
	if (c->pend_len > 0) {
		ssize_t w = write(c->fd, c->pend + c->pend_off, c->pend_len);
		if (w < 0 && errno != EAGAIN && errno != EINTR) {
			sconn_close(s, c);
			return;
		}
		if (w > 0) {
			c->pend_off += (size_t)w;
			c->pend_len -= (size_t)w;
		}
		if (c->pend_len > 0)
			return;
		free(c->pend);
		c->pend = NULL;
		c->pend_off = 0;
		if (c->eof) {
			sconn_close(s, c);
			return;
		}
		ep_ctl(s->ep, EPOLL_CTL_MOD, c->fd, EPOLLIN, c);
		return;
	}
	if (!(ev & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	for (int i = 0; i < IO_BURST; i++) {
		ssize_t n = read(c->fd, iobuf, sizeof(iobuf));
		if (n == 0) {
			sconn_close(s, c);
			return;
		}
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			sconn_close(s, c);
			return;
		}
		ssize_t w = write(c->fd, iobuf, (size_t)n);
		if (w < 0) {
			if (errno != EAGAIN && errno != EINTR) {
				sconn_close(s, c);
				return;
			}
			w = 0;
		}
		if (w < n) {
			c->pend_len = (size_t)(n - w);
			c->pend = malloc(c->pend_len);
			if (c->pend == NULL) {
				sconn_close(s, c);
				return;
			}
			memcpy(c->pend, iobuf + w, c->pend_len);
			ep_ctl(s->ep, EPOLL_CTL_MOD, c->fd, EPOLLOUT, c);
			return;
		}
		if ((size_t)n < sizeof(iobuf))
			return;
	}
}

/* Sink: count and drop; on EOF report the count, then close. */
static void sink_io(struct server *s, struct sconn *c)
{
	for (int i = 0; i < IO_BURST; i++) {
		ssize_t n = read(c->fd, iobuf, sizeof(iobuf));
		if (n > 0) {
			c->bytes += (uint64_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == 0) {
			char line[32];
			int len = snprintf(line, sizeof(line), "%" PRIu64 "\n", c->bytes);
			/* An empty send buffer always takes these few bytes; if the
			 * peer is gone there is nobody left to tell. */
			ssize_t w = write(c->fd, line, (size_t)len);
			(void)w;
		}
		sconn_close(s, c);
		return;
	}
}

static int run_server(bool echo, int argc, char **argv)
{
	if (argc < 1 || argc > 2)
		die_usage();
	uint16_t port = (uint16_t)parse_long(argv[0], "PORT", 0, 65535);
	double lifetime = argc > 1 ? parse_seconds(argv[1], "LIFETIME_S") : MAX_SECONDS;
	char err[SOCK_ERRLEN];
	struct server s = { .echo = echo };

	need_fds(64);
	s.ep = epoll_new();
	s.sig.kind = K_SIGNAL;
	s.sig.fd = signals_fd();
	s.lst.kind = K_LISTEN;
	s.lst.fd = sock_listen("127.0.0.1", port, 65535, 0, err);
	if (s.lst.fd < 0) {
		fprintf(stderr, "load: %s\n", err);
		return 2;
	}
	struct sock_addr la;
	if (sock_local_addr(s.lst.fd, &la, err) < 0) {
		fprintf(stderr, "load: %s\n", err);
		return 2;
	}
	ep_ctl(s.ep, EPOLL_CTL_ADD, s.lst.fd, EPOLLIN, &s.lst);
	ep_ctl(s.ep, EPOLL_CTL_ADD, s.sig.fd, EPOLLIN, &s.sig);
	printf("mode=%s\nport=%u\nready=1\n", echo ? "echo-server" : "sink-server",
	       sock_addr_port(&la));
	fflush(stdout);

	double end = now_s() + lifetime;
	bool stop = false;
	struct epoll_event evs[MAX_EVENTS];
	while (!stop && now_s() < end) {
		if (s.paused_until > 0 && now_s() >= s.paused_until) {
			s.paused_until = 0;
			ep_ctl(s.ep, EPOLL_CTL_MOD, s.lst.fd, EPOLLIN, &s.lst);
		}
		int n = epoll_wait(s.ep, evs, MAX_EVENTS, ms_until(end, 100));
		if (n < 0 && errno != EINTR) {
			perror("load: epoll_wait");
			return 2;
		}
		for (int i = 0; i < n; i++) {
			struct sconn *c = evs[i].data.ptr;
			if (c->kind == K_SIGNAL) {
				stop = true;
			} else if (c->kind == K_LISTEN) {
				server_accept(&s);
			} else if (echo) {
				echo_io(&s, c, evs[i].events);
			} else {
				sink_io(&s, c);
			}
		}
	}
	/* Connections still open are closed by exit. */
	printf("accepted=%ld\npeak_open=%ld\nopen_at_exit=%ld\naccept_errors=%ld\n",
	       s.accepted, s.peak, s.open, s.accept_errors);
	return 0;
}

/* ---------------------------------------------------------------- client */

/* Finish a nonblocking connect: wait for writable (bounded) and check it. */
static int wait_connected(int fd, double deadline, char *err)
{
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	for (;;) {
		int ms = ms_until(deadline, 1000);
		int r = poll(&p, 1, ms);
		if (r > 0)
			return sock_get_error(fd, err);
		if (r < 0 && errno != EINTR) {
			snprintf(err, SOCK_ERRLEN, "poll: %s", strerror(errno));
			return -errno;
		}
		if (now_s() >= deadline) {
			snprintf(err, SOCK_ERRLEN, "connect: timed out");
			return -ETIMEDOUT;
		}
	}
}

/* ------------------------------------------------------------------ bulk */

struct bconn {
	int fd;
	int state;           /* 0 connecting, 1 sending, 4 sent MAX_BYTES,
			      * 2 draining, 3 done, -1 failed */
	uint64_t sent;
	char reply[32];
	size_t reply_len;
	uint64_t received;   /* as reported by the sink */
};

static int run_bulk(int argc, char **argv)
{
	if (argc != 4 && argc != 5)
		die_usage();
	struct sock_addr to;
	parse_target(&to, argv[0], argv[1]);
	double secs = parse_seconds(argv[2], "SECONDS");
	int nconn = (int)parse_long(argv[3], "NCONN", 1, 1024);
	uint64_t max_bytes = argc == 5 ? (uint64_t)parse_long(argv[4], "MAX_BYTES", 1, LONG_MAX)
				       : UINT64_MAX;
	char err[SOCK_ERRLEN];
	int ep = epoll_new();
	int errors = 0;

	need_fds(nconn + 16);
	signal(SIGPIPE, SIG_IGN);
	memset(iobuf, 'x', sizeof(iobuf));
	struct bconn *c = calloc((size_t)nconn, sizeof(*c));
	if (c == NULL)
		return 2;

	/* Connect every connection before the clock starts. */
	double dl = now_s() + CONNECT_GRACE_S;
	for (int i = 0; i < nconn; i++) {
		c[i].fd = sock_connect_addr(&to, err);
		if (c[i].fd < 0 || wait_connected(c[i].fd, dl, err) < 0) {
			fprintf(stderr, "load: bulk: %s\n", err);
			printf("mode=bulk\nconns=%d\nerror=connect\n", nconn);
			return 1;
		}
		c[i].state = 1;
		ep_ctl(ep, EPOLL_CTL_ADD, c[i].fd, EPOLLOUT, &c[i]);
	}

	struct epoll_event evs[MAX_EVENTS];
	double t0 = now_s(), t_stop = t0 + secs, t_done = 0;
	int sending = nconn, draining = 0;
	while (sending > 0 && now_s() < t_stop) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, ms_until(t_stop, 100));
		for (int i = 0; i < n; i++) {
			struct bconn *b = evs[i].data.ptr;
			if (b->state != 1)
				continue;
			for (int k = 0; k < IO_BURST; k++) {
				size_t len = (size_t)MIN((uint64_t)sizeof(iobuf), max_bytes - b->sent);
				if (len == 0) {
					/* This one is done; the others may still send. */
					b->state = 4;
					sending--;
					ep_ctl(ep, EPOLL_CTL_MOD, b->fd, 0, b);
					break;
				}
				ssize_t w = write(b->fd, iobuf, len);
				if (w > 0) {
					b->sent += (uint64_t)w;
					continue;
				}
				if (w < 0 && (errno == EAGAIN || errno == EINTR))
					break;
				fprintf(stderr, "load: bulk: write: %s\n",
					w < 0 ? strerror(errno) : "0");
				errors++;
				b->state = -1;
				sending--;
				ep_ctl(ep, EPOLL_CTL_DEL, b->fd, 0, NULL);
				break;
			}
		}
	}
	/* Half-close and wait for each sink's count of what arrived. */
	double t_sent = now_s();
	for (int i = 0; i < nconn; i++) {
		if (c[i].state != 1 && c[i].state != 4)
			continue;
		shutdown(c[i].fd, SHUT_WR);
		c[i].state = 2;
		draining++;
		ep_ctl(ep, EPOLL_CTL_MOD, c[i].fd, EPOLLIN, &c[i]);
	}
	double dd = now_s() + DRAIN_GRACE_S;
	while (draining > 0 && now_s() < dd) {
		int n = epoll_wait(ep, evs, MAX_EVENTS, ms_until(dd, 100));
		for (int i = 0; i < n; i++) {
			struct bconn *b = evs[i].data.ptr;
			if (b->state != 2)
				continue;
			ssize_t r = read(b->fd, b->reply + b->reply_len,
					 sizeof(b->reply) - 1 - b->reply_len);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (r > 0) {
				b->reply_len += (size_t)r;
				if (b->reply_len < sizeof(b->reply) - 1)
					continue;
			}
			/* EOF, error or a reply too long: this connection is over. */
			b->reply[b->reply_len] = '\0';
			char *end;
			unsigned long long v = strtoull(b->reply, &end, 10);
			if (b->reply_len > 0 && *end == '\n') {
				b->received = v;
				b->state = 3;
			} else {
				b->state = -1;
				errors++;
			}
			draining--;
			t_done = now_s();
			ep_ctl(ep, EPOLL_CTL_DEL, b->fd, 0, NULL);
		}
	}
	uint64_t sent = 0, received = 0;
	int reported = 0;
	for (int i = 0; i < nconn; i++) {
		sent += c[i].sent;
		received += c[i].received;
		if (c[i].state == 3)
			reported++;
		close(c[i].fd);
	}
	errors += draining;
	printf("mode=bulk\nconns=%d\nsend_s=%.3f\n", nconn, t_sent - t0);
	printf("sent_bytes=%" PRIu64 "\n", sent);
	if (reported == nconn) {
		double el = t_done - t0;
		printf("elapsed_s=%.3f\nrecv_bytes=%" PRIu64 "\ngbit_s=%.3f\n", el, received,
		       (double)received * 8 / el / 1e9);
		if (received != sent) {
			fprintf(stderr, "load: bulk: sent %" PRIu64 " bytes but the sinks "
				"counted %" PRIu64 "\n", sent, received);
			errors++;
		}
	} else {
		/* Some sink never answered: the figure comes from the sender side. */
		fprintf(stderr, "load: bulk: %d of %d sinks did not report a count "
			"within %.0f s after the half-close\n", nconn - reported, nconn,
			DRAIN_GRACE_S);
		printf("elapsed_s=%.3f\ngbit_s=%.3f\ngbit_s_basis=sent\n", t_sent - t0,
		       (double)sent * 8 / (t_sent - t0) / 1e9);
	}
	printf("errors=%d\n", errors);
	free(c);
	close(ep);
	return errors ? 1 : 0;
}

/* ------------------------------------------------------------------ rate */

struct rslot {
	int fd;              /* -1: idle, start a new connection */
	int state;           /* 0 connecting, 1 waiting for the echo */
	uint64_t id;
	uint64_t t_start;
	size_t got;
	uint8_t buf[MSG_LEN];
};

struct rate_stats {
	uint64_t ok, err_connect, err_reset, err_eof, err_mismatch, err_timeout;
	struct samples lat;
};

static void rate_end(int ep, struct rslot *s)
{
	ep_ctl(ep, EPOLL_CTL_DEL, s->fd, 0, NULL);
	close(s->fd);
	s->fd = -1;
}

static void rate_start(int ep, const struct sock_addr *to, struct rslot *s,
		       uint64_t id, struct rate_stats *st)
{
	char err[SOCK_ERRLEN];
	s->id = id;
	s->got = 0;
	s->state = 0;
	s->t_start = now_ns();
	s->fd = sock_connect_addr(to, err);
	if (s->fd < 0) {
		if (st->err_connect++ < 3)
			fprintf(stderr, "load: rate: %s\n", err);
		s->fd = -1;
		return;
	}
	ep_ctl(ep, EPOLL_CTL_ADD, s->fd, EPOLLOUT, s);
}

static void rate_io(int ep, struct rslot *s, struct rate_stats *st)
{
	char err[SOCK_ERRLEN];
	uint8_t msg[MSG_LEN];
	fill_msg(msg, sizeof(msg), s->id);
	if (s->state == 0) {
		if (sock_get_error(s->fd, err) < 0) {
			if (st->err_connect++ < 3)
				fprintf(stderr, "load: rate: %s\n", err);
			rate_end(ep, s);
			return;
		}
		sock_set_nodelay(s->fd, true, NULL);
		if (write(s->fd, msg, sizeof(msg)) != (ssize_t)sizeof(msg)) {
			st->err_reset++;
			rate_end(ep, s);
			return;
		}
		s->state = 1;
		ep_ctl(ep, EPOLL_CTL_MOD, s->fd, EPOLLIN, s);
		return;
	}
	ssize_t r = read(s->fd, s->buf + s->got, sizeof(s->buf) - s->got);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		if (r == 0)
			st->err_eof++;
		else
			st->err_reset++;
		rate_end(ep, s);
		return;
	}
	s->got += (size_t)r;
	if (s->got < sizeof(s->buf))
		return;
	if (memcmp(s->buf, msg, sizeof(msg)) != 0) {
		st->err_mismatch++;
	} else {
		st->ok++;
		samples_add(&st->lat, now_ns() - s->t_start);
	}
	rate_end(ep, s);
}

static int run_rate(int argc, char **argv)
{
	if (argc != 4)
		die_usage();
	struct sock_addr to;
	parse_target(&to, argv[0], argv[1]);
	double secs = parse_seconds(argv[2], "SECONDS");
	int conc = (int)parse_long(argv[3], "CONCURRENCY", 1, 10000);
	int ep = epoll_new();
	struct rate_stats st = { .lat.max = 5u * 1000 * 1000 };

	need_fds(conc + 16);
	signal(SIGPIPE, SIG_IGN);
	struct rslot *s = calloc((size_t)conc, sizeof(*s));
	if (s == NULL)
		return 2;
	for (int i = 0; i < conc; i++)
		s[i].fd = -1;

	struct epoll_event evs[MAX_EVENTS];
	uint64_t next_id = 1;
	double t0 = now_s(), t_stop = t0 + secs, hard = t_stop + OP_TIMEOUT_S;
	double last_scan = t0, t_last = t0;
	for (;;) {
		double now = now_s();
		bool starting = now < t_stop;
		int busy = 0;
		for (int i = 0; i < conc; i++) {
			if (s[i].fd < 0 && starting)
				rate_start(ep, &to, &s[i], next_id++, &st);
			busy += s[i].fd >= 0;
		}
		if ((!starting && busy == 0) || now >= hard)
			break;
		/* Idle slots after an immediate connect failure retry in 1 ms. */
		int ms = busy < conc && starting ? 1 : ms_until(starting ? t_stop : hard, 50);
		int n = epoll_wait(ep, evs, MAX_EVENTS, ms);
		uint64_t before = st.ok;
		for (int i = 0; i < n; i++)
			rate_io(ep, evs[i].data.ptr, &st);
		if (st.ok != before)
			t_last = now_s();
		if (now_s() - last_scan > 0.1) {
			uint64_t lim = now_ns() - (uint64_t)(OP_TIMEOUT_S * 1e9);
			last_scan = now_s();
			for (int i = 0; i < conc; i++) {
				if (s[i].fd >= 0 && s[i].t_start < lim) {
					st.err_timeout++;
					rate_end(ep, &s[i]);
				}
			}
		}
	}
	for (int i = 0; i < conc; i++) {
		if (s[i].fd >= 0) {
			st.err_timeout++;
			rate_end(ep, &s[i]);
		}
	}
	double el = (t_last > t0 ? t_last : now_s()) - t0;
	uint64_t errors = st.err_connect + st.err_reset + st.err_eof + st.err_mismatch +
			  st.err_timeout;
	qsort(st.lat.v, st.lat.n, sizeof(uint64_t), cmp_u64);
	printf("mode=rate\nconcurrency=%d\nelapsed_s=%.3f\nok=%" PRIu64 "\n", conc, el, st.ok);
	printf("conn_per_s=%.1f\n", (double)st.ok / el);
	printf("conn_p50_us=%.1f\nconn_p99_us=%.1f\n", pct_us(st.lat.v, st.lat.n, 50),
	       pct_us(st.lat.v, st.lat.n, 99));
	printf("errors=%" PRIu64 "\nerr_connect=%" PRIu64 "\nerr_reset=%" PRIu64
	       "\nerr_eof=%" PRIu64 "\nerr_mismatch=%" PRIu64 "\nerr_timeout=%" PRIu64 "\n",
	       errors, st.err_connect, st.err_reset, st.err_eof, st.err_mismatch,
	       st.err_timeout);
	free(st.lat.v);
	free(s);
	close(ep);
	return errors ? 1 : 0;
}

/* --------------------------------------------------------------- latency */

/* Blocking I/O with SO_RCVTIMEO/SO_SNDTIMEO: all of n bytes or -1. */
static int io_full(int fd, uint8_t *p, size_t n, bool rd)
{
	size_t done = 0;
	for (int guard = 0; done < n && guard < 1000; guard++) {
		ssize_t r = rd ? read(fd, p + done, n - done) : write(fd, p + done, n - done);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		done += (size_t)r;
	}
	return done == n ? 0 : -1;
}

static int run_latency(int argc, char **argv)
{
	if (argc != 3)
		die_usage();
	struct sock_addr to;
	parse_target(&to, argv[0], argv[1]);
	long count = parse_long(argv[2], "COUNT", 1, 10000000);
	char err[SOCK_ERRLEN];

	signal(SIGPIPE, SIG_IGN);
	int fd = sock_connect_addr(&to, err);
	if (fd < 0 || wait_connected(fd, now_s() + CONNECT_GRACE_S, err) < 0) {
		fprintf(stderr, "load: latency: %s\n", err);
		printf("mode=latency\nerror=connect\n");
		return 1;
	}
	sock_set_nonblock(fd, false, NULL);
	sock_set_nodelay(fd, true, NULL);
	struct timeval tv = { .tv_sec = (time_t)OP_TIMEOUT_S };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));

	uint64_t *rtt = malloc((size_t)count * sizeof(*rtt));
	if (rtt == NULL)
		return 2;
	uint8_t msg[MSG_LEN], back[MSG_LEN];
	long done = 0, errors = 0;
	double end = now_s() + LAT_MAX_S;
	for (long i = -LAT_WARMUP; i < count && now_s() < end; i++) {
		fill_msg(msg, sizeof(msg), (uint64_t)(i + LAT_WARMUP));
		uint64_t t = now_ns();
		if (io_full(fd, msg, sizeof(msg), false) < 0 ||
		    io_full(fd, back, sizeof(back), true) < 0) {
			fprintf(stderr, "load: latency: ping %ld: %s\n", i,
				errno ? strerror(errno) : "connection closed");
			errors++;
			break;
		}
		uint64_t d = now_ns() - t;
		if (memcmp(msg, back, sizeof(msg)) != 0) {
			errors++;
			break;
		}
		if (i >= 0)
			rtt[done++] = d;
	}
	close(fd);
	qsort(rtt, (size_t)done, sizeof(*rtt), cmp_u64);
	double sum = 0;
	for (long i = 0; i < done; i++)
		sum += (double)rtt[i];
	printf("mode=latency\ncount=%ld\n", done);
	if (done > 0) {
		printf("min_us=%.1f\np50_us=%.1f\np99_us=%.1f\np999_us=%.1f\nmax_us=%.1f\n"
		       "mean_us=%.1f\n",
		       pct_us(rtt, (size_t)done, 0), pct_us(rtt, (size_t)done, 50),
		       pct_us(rtt, (size_t)done, 99), pct_us(rtt, (size_t)done, 99.9),
		       pct_us(rtt, (size_t)done, 100), sum / (double)done / 1000.0);
	}
	printf("errors=%ld\n", errors);
	free(rtt);
	return errors || done < count ? 1 : 0;
}

/* ------------------------------------------------------------------ hold */

struct hconn {
	int fd;
	int state;           /* 0 connecting, 1 waiting for the echo, 2 held, -1 gone */
	double t_start;
};

static int run_hold(int argc, char **argv)
{
	if (argc != 4)
		die_usage();
	struct sock_addr to;
	parse_target(&to, argv[0], argv[1]);
	long n = parse_long(argv[2], "N", 1, MAX_CONNS);
	double secs = parse_seconds(argv[3], "SECONDS");
	char err[SOCK_ERRLEN];
	int ep = epoll_new();

	need_fds(n + 16);
	int sfd = signals_fd();
	struct hconn sigc = { .fd = sfd };
	ep_ctl(ep, EPOLL_CTL_ADD, sfd, EPOLLIN, &sigc);
	struct hconn *c = calloc((size_t)n, sizeof(*c));
	if (c == NULL)
		return 2;

	long next = 0, pending = 0, established = 0, failed = 0, dropped = 0;
	long err_connect = 0, err_echo = 0, err_timeout = 0;
	bool stop = false;
	struct epoll_event evs[MAX_EVENTS];
	double t0 = now_s(), setup_end = t0 + HOLD_SETUP_S, hold_end = 0, t_held = 0;
	double last_scan = t0;

	printf("mode=hold\nconns=%ld\n", n);
	fflush(stdout);
	bool setup = true;
	for (;;) {
		double now = now_s();
		if (setup) {
			while (next < n && pending < HOLD_CONNECTS_IN_FLIGHT) {
				struct hconn *h = &c[next++];
				h->t_start = now;
				h->fd = sock_connect_addr(&to, err);
				if (h->fd < 0) {
					if (err_connect++ < 3)
						fprintf(stderr, "load: hold: %s\n", err);
					h->state = -1;
					failed++;
					continue;
				}
				pending++;
				ep_ctl(ep, EPOLL_CTL_ADD, h->fd, EPOLLOUT, h);
			}
			if (now >= setup_end) {
				for (long i = 0; i < next; i++) {
					if (c[i].state == 0 || c[i].state == 1) {
						err_timeout++;
						failed++;
						ep_ctl(ep, EPOLL_CTL_DEL, c[i].fd, 0, NULL);
						close(c[i].fd);
						c[i].state = -1;
					}
				}
				failed += n - next;
				next = n;
				pending = 0;
			}
			if (established + failed >= n) {
				setup = false;
				t_held = now_s();
				hold_end = t_held + secs;
				printf("established=%ld\nfailed=%ld\nsetup_s=%.3f\n"
				       "err_connect=%ld\nerr_echo=%ld\nerr_timeout=%ld\n",
				       established, failed, t_held - t0, err_connect,
				       err_echo, err_timeout);
				fflush(stdout);
			}
		}
		if (stop || (!setup && now_s() >= hold_end))
			break;
		int k = epoll_wait(ep, evs, MAX_EVENTS,
				   setup ? 50 : ms_until(hold_end, 1000));
		for (int i = 0; i < k; i++) {
			struct hconn *h = evs[i].data.ptr;
			if (h == &sigc) {
				stop = true;
				continue;
			}
			if (h->state == 0) {
				if (sock_get_error(h->fd, err) < 0) {
					if (err_connect++ < 3)
						fprintf(stderr, "load: hold: %s\n", err);
					goto gone;
				}
				uint8_t b = 'h';
				if (write(h->fd, &b, 1) != 1) {
					err_echo++;
					goto gone;
				}
				h->state = 1;
				ep_ctl(ep, EPOLL_CTL_MOD, h->fd, EPOLLIN | EPOLLRDHUP, h);
				continue;
			}
			uint8_t b;
			ssize_t r = read(h->fd, &b, 1);
			if (r < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (h->state == 1 && r == 1 && b == 'h') {
				h->state = 2;
				pending--;
				established++;
				continue;
			}
			if (h->state == 2) {
				/* A held connection closed or spoke: it was dropped. */
				dropped++;
				established--;
				ep_ctl(ep, EPOLL_CTL_DEL, h->fd, 0, NULL);
				close(h->fd);
				h->state = -1;
				continue;
			}
			if (err_echo++ < 3)
				fprintf(stderr, "load: hold: no echo (%s)\n",
					r < 0 ? strerror(errno) : r == 0 ? "EOF" : "wrong byte");
gone:
			ep_ctl(ep, EPOLL_CTL_DEL, h->fd, 0, NULL);
			close(h->fd);
			h->state = -1;
			pending--;
			failed++;
		}
		if (setup && now_s() - last_scan > 1.0) {
			last_scan = now_s();
			/* Individual connects that take too long count as failures. */
			for (long i = 0; i < next; i++) {
				if ((c[i].state == 0 || c[i].state == 1) &&
				    last_scan - c[i].t_start > HOLD_CONNECT_S) {
					ep_ctl(ep, EPOLL_CTL_DEL, c[i].fd, 0, NULL);
					close(c[i].fd);
					c[i].state = -1;
					pending--;
					failed++;
					err_timeout++;
				}
			}
		}
	}
	double t_close = now_s();
	long closed = 0;
	for (long i = 0; i < next; i++) {
		if (c[i].state >= 0) {
			close(c[i].fd);
			closed++;
		}
	}
	printf("held_s=%.3f\ndropped=%ld\nclosed=%ld\nclose_s=%.3f\n",
	       t_held > 0 ? t_close - t_held : 0.0, dropped, closed,
	       now_s() - t_close);
	free(c);
	close(ep);
	return failed || dropped ? 1 : 0;
}

/* Bind 127.0.0.1:0, print the port the kernel chose, release it. */
static int run_free_port(void)
{
	char err[SOCK_ERRLEN];
	struct sock_addr la;
	int fd = sock_listen("127.0.0.1", 0, 1, 0, err);
	if (fd < 0 || sock_local_addr(fd, &la, err) < 0) {
		fprintf(stderr, "load: %s\n", err);
		return 2;
	}
	printf("port=%u\n", sock_addr_port(&la));
	close(fd);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		die_usage();
	const char *cmd = argv[1];
	int rc;
	if (strcmp(cmd, "echo-server") == 0)
		rc = run_server(true, argc - 2, argv + 2);
	else if (strcmp(cmd, "sink-server") == 0)
		rc = run_server(false, argc - 2, argv + 2);
	else if (strcmp(cmd, "bulk") == 0)
		rc = run_bulk(argc - 2, argv + 2);
	else if (strcmp(cmd, "rate") == 0)
		rc = run_rate(argc - 2, argv + 2);
	else if (strcmp(cmd, "latency") == 0)
		rc = run_latency(argc - 2, argv + 2);
	else if (strcmp(cmd, "hold") == 0)
		rc = run_hold(argc - 2, argv + 2);
	else if (strcmp(cmd, "free-port") == 0 && argc == 2)
		rc = run_free_port();
	else
		die_usage();
	fflush(stdout);
	return rc;
}
