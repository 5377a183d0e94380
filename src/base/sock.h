/*
 * sock: socket helpers (redis anet style).
 *
 * Every function that can fail returns a negative errno value (or -1 style
 * codes documented below) and, when `err` is not NULL, writes a one-line
 * reason into err[SOCK_ERRLEN] while errno is still fresh, e.g.
 * "listen [::]:8080: Address already in use". Sockets are created
 * nonblocking and close-on-exec. Nothing here blocks except sock_resolve().
 *
 * Addresses are numeric literals (IPv4 dotted quad, IPv6 with optional
 * brackets and %zone). Names are resolved once, at start-up or reconnect,
 * with sock_resolve(); never inside a data callback.
 */
#ifndef THRESHOLD_BASE_SOCK_H
#define THRESHOLD_BASE_SOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SOCK_ERRLEN 256
/* Enough for "[ipv6%zone]:port" and a NUL. */
#define SOCK_ADDRSTRLEN 96
/* Longest host accepted by sock_split_hostport, NUL included. */
#define SOCK_HOSTLEN 256

/* A socket address with its length; public, plain data. */
struct sock_addr {
	socklen_t len;
	struct sockaddr_storage ss;
};

static inline const struct sockaddr *sock_addr_sa(const struct sock_addr *a)
{
	return (const struct sockaddr *)(const void *)&a->ss;
}

/* Flags for sock_listen. */
#define SOCK_LISTEN_REUSEPORT 0x1u /* also set SO_REUSEPORT */
/* TCP_NODELAY on the listener: Linux copies it to every accepted socket,
 * which saves a setsockopt per connection. */
#define SOCK_LISTEN_NODELAY 0x2u

/*
 * Build an address from a numeric host (IPv4, IPv6 with or without
 * brackets, optional %zone) and a port. A NULL, empty, "*" host is the
 * wildcard "::". Returns 0 or -EINVAL.
 */
int sock_addr_parse(struct sock_addr *out, const char *host, uint16_t port,
		    char *err);

/*
 * Nonblocking listening TCP socket on host:port (numeric host, see
 * sock_addr_parse; port 0 picks a free port, see sock_local_addr).
 * SO_REUSEADDR is set. A wildcard host (NULL, "", "*", "0.0.0.0", "::")
 * listens dual-stack on [::] with IPV6_V6ONLY off, like Go's net.Listen
 * ("tcp", ":port"); it falls back to 0.0.0.0 when the host has no IPv6.
 * backlog <= 0 means SOMAXCONN. Returns the fd or -errno.
 */
int sock_listen(const char *host, uint16_t port, int backlog, unsigned flags,
		char *err);
/* Same on an already built address (no wildcard rewriting). */
int sock_listen_addr(const struct sock_addr *a, int backlog, unsigned flags,
		     char *err);

/*
 * Start a nonblocking TCP connect to a numeric host:port. Returns the fd
 * with the connect in progress (or done), or -errno. Wait for LOOP_WRITE,
 * then check sock_get_error(fd).
 */
int sock_connect(const char *host, uint16_t port, char *err);
int sock_connect_addr(const struct sock_addr *a, char *err);

/*
 * Pending error of a socket (SO_ERROR), e.g. the result of a nonblocking
 * connect: 0 or -errno.
 */
int sock_get_error(int fd, char *err);
/*
 * Whether a TCP socket is established: a nonblocking connect to a local
 * address has usually completed by the time connect() returns EINPROGRESS
 * (the handshake runs inside the call), and then there is no need to wait
 * for LOOP_WRITE. False when still connecting, failed, or unknown.
 */
bool sock_established(int fd);

/*
 * Accept one connection as a nonblocking, close-on-exec socket; its peer
 * address goes to *peer when not NULL. Returns the fd, or
 *   -EAGAIN  nothing pending (stop accepting until the next LOOP_READ);
 *   -EMFILE  out of descriptors (EMFILE or ENFILE): pause accepting;
 *   -ENOBUFS / -ENOMEM  out of kernel memory: pause accepting;
 *   other -errno: the listener itself is broken (e.g. -EBADF, -EINVAL).
 * Per-connection failures (ECONNABORTED, the network errors accept(2)
 * passes on) and EINTR are retried internally.
 */
int sock_accept(int lfd, struct sock_addr *peer, char *err);

int sock_set_nonblock(int fd, bool on, char *err);
int sock_set_nodelay(int fd, bool on, char *err);
/*
 * idle_s <= 0 turns SO_KEEPALIVE off. Otherwise it is turned on with
 * TCP_KEEPIDLE = idle_s; intvl_s and cnt are set when > 0 (kernel
 * defaults otherwise).
 */
int sock_set_keepalive(int fd, int idle_s, int intvl_s, int cnt, char *err);
/* TCP_USER_TIMEOUT in milliseconds; 0 restores the kernel default. */
int sock_set_user_timeout(int fd, unsigned ms, char *err);

/* getsockname / getpeername into *out. Returns 0 or -errno. */
int sock_local_addr(int fd, struct sock_addr *out, char *err);
int sock_peer_addr(int fd, struct sock_addr *out, char *err);

/*
 * If `a` is an IPv4-mapped IPv6 address (::ffff:a.b.c.d), rewrite it in
 * place as the plain IPv4 address with the same port. Returns whether it
 * did.
 */
bool sock_addr_unmap(struct sock_addr *a);

/* Port in host order (0 for a non-IP family). */
uint16_t sock_addr_port(const struct sock_addr *a);

/*
 * Text forms, Go style: IPv4-mapped IPv6 shown as plain IPv4; IPv6 in the
 * canonical compressed form of RFC 5952 (lowercase, longest zero run
 * compressed, no "::" for a single zero group), with "%zone" when scoped.
 *   sock_addr_host_str: "1.2.3.4", "::1", "fe80::1%eth0"
 *   sock_addr_str:      "1.2.3.4:80", "[::1]:80"
 * They write a NUL-terminated string (truncated if buflen is too small,
 * SOCK_ADDRSTRLEN always suffices) and return its untruncated length, or
 * -EAFNOSUPPORT for a non-IP family (buf then holds "?").
 */
int sock_addr_host_str(const struct sock_addr *a, char *buf, size_t buflen);
int sock_addr_str(const struct sock_addr *a, char *buf, size_t buflen);
/* Same for a raw sockaddr. */
int sock_sa_str(const struct sockaddr *sa, socklen_t len, char *buf,
		size_t buflen);

/* "host:port" of the local / remote end of fd ("?" on failure). */
int sock_local_str(int fd, char *buf, size_t buflen);
int sock_peer_str(int fd, char *buf, size_t buflen);

/* Join a host and port: "[host]:port" when host contains ':'. */
int sock_join_hostport(const char *host, uint16_t port, char *buf,
		       size_t buflen);

/*
 * Split "host:port" like Go's net.SplitHostPort: "1.2.3.4:80", "name:80",
 * "[::1]:80", "[fe80::1%eth0]:80", ":80" (empty host). The host goes to
 * host[hostlen] without brackets. The port must be decimal 0..65535.
 * Rejected with -EINVAL: missing port, too many colons (IPv6 without
 * brackets), unbalanced or misplaced brackets, empty or non-numeric port,
 * port out of range; -ENAMETOOLONG when the host does not fit.
 */
int sock_split_hostport(const char *s, char *host, size_t hostlen,
			uint16_t *port, char *err);

/*
 * Blocking name resolution (getaddrinfo, TCP) for start-up and reconnect
 * only. Fills up to `max` addresses in the resolver's preference order and
 * returns how many (>= 1), or a negative value: -ENOENT when the name has
 * no address, -EAGAIN for a temporary failure, -EINVAL otherwise.
 */
int sock_resolve(const char *host, uint16_t port, struct sock_addr *out,
		 size_t max, char *err);

/*
 * Raise the soft RLIMIT_NOFILE to the hard limit (capped by
 * /proc/sys/fs/nr_open when the hard limit is unlimited). Returns the new
 * soft limit or -errno.
 */
long sock_raise_fd_limit(char *err);

#endif
