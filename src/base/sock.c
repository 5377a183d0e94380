/*
 * sock: see sock.h. Error text is built where errno is fresh; callers log.
 */
#include "base/sock.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/util.h"

static void set_err(char *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_err(char *err, const char *fmt, ...)
{
	if (err == NULL)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, SOCK_ERRLEN, fmt, ap);
	va_end(ap);
}

static struct sockaddr *sa_mut(struct sock_addr *a)
{
	return (struct sockaddr *)(void *)&a->ss;
}

static bool is_wildcard_host(const char *host)
{
	return host == NULL || host[0] == '\0' || strcmp(host, "*") == 0;
}

int sock_addr_parse(struct sock_addr *out, const char *host, uint16_t port,
		    char *err)
{
	char tmp[SOCK_HOSTLEN];
	memset(out, 0, sizeof(*out));

	if (is_wildcard_host(host))
		host = "::";
	size_t n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n >= sizeof(tmp)) {
		set_err(err, "address too long");
		return -EINVAL;
	}
	memcpy(tmp, host, n);
	tmp[n] = '\0';

	struct sockaddr_in *sin = (struct sockaddr_in *)(void *)&out->ss;
	if (inet_pton(AF_INET, tmp, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		out->len = sizeof(*sin);
		return 0;
	}

	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)(void *)&out->ss;
	char *zone = strchr(tmp, '%');
	if (zone != NULL)
		*zone++ = '\0';
	if (inet_pton(AF_INET6, tmp, &sin6->sin6_addr) != 1) {
		memset(out, 0, sizeof(*out));
		set_err(err, "'%s' is not a numeric IP address", host);
		return -EINVAL;
	}
	if (zone != NULL) {
		char *end;
		unsigned long idx = 0;
		if (zone[0] >= '0' && zone[0] <= '9') {
			errno = 0;
			idx = strtoul(zone, &end, 10);
			if (*end != '\0' || errno != 0 || idx > UINT32_MAX)
				idx = 0;
		} else if (zone[0] != '\0') {
			idx = if_nametoindex(zone);
		}
		if (idx == 0) {
			memset(out, 0, sizeof(*out));
			set_err(err, "'%s': unknown IPv6 zone", host);
			return -EINVAL;
		}
		sin6->sin6_scope_id = (uint32_t)idx;
	}
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	out->len = sizeof(*sin6);
	return 0;
}

/*
 * socket + options + bind + listen for one address. Returns fd or -errno;
 * `what` is the address text used in error messages.
 */
static int listen_on(const struct sock_addr *a, int backlog, unsigned flags,
		     bool dual_stack, char *err)
{
	char what[SOCK_ADDRSTRLEN];
	int fd, one = 1, zero = 0, rc;

	sock_addr_str(a, what, sizeof(what));
	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    IPPROTO_TCP);
	if (fd < 0) {
		rc = -errno;
		set_err(err, "listen %s: socket: %s", what, strerror(-rc));
		return rc;
	}
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0)
		goto fail_opt;
	if ((flags & SOCK_LISTEN_REUSEPORT) &&
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) < 0)
		goto fail_opt;
	if ((flags & SOCK_LISTEN_NODELAY) &&
	    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0)
		goto fail_opt;
	if (a->ss.ss_family == AF_INET6 && dual_stack &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero)) < 0)
		goto fail_opt;
	if (bind(fd, sock_addr_sa(a), a->len) < 0) {
		rc = -errno;
		set_err(err, "listen %s: bind: %s", what, strerror(-rc));
		goto fail;
	}
	if (listen(fd, backlog > 0 ? backlog : SOMAXCONN) < 0) {
		rc = -errno;
		set_err(err, "listen %s: %s", what, strerror(-rc));
		goto fail;
	}
	return fd;

fail_opt:
	rc = -errno;
	set_err(err, "listen %s: setsockopt: %s", what, strerror(-rc));
fail:
	close(fd);
	return rc;
}

int sock_listen_addr(const struct sock_addr *a, int backlog, unsigned flags,
		     char *err)
{
	return listen_on(a, backlog, flags, false, err);
}

int sock_listen(const char *host, uint16_t port, int backlog, unsigned flags,
		char *err)
{
	struct sock_addr a;
	bool wildcard = is_wildcard_host(host) || strcmp(host, "0.0.0.0") == 0 ||
			strcmp(host, "::") == 0 || strcmp(host, "[::]") == 0;
	int rc;

	if (wildcard) {
		rc = sock_addr_parse(&a, "::", port, err);
		if (rc < 0)
			return rc;
		rc = listen_on(&a, backlog, flags, true, err);
		if (rc != -EAFNOSUPPORT)
			return rc;
		/* No IPv6 on this host: IPv4 only, as Go does. */
		rc = sock_addr_parse(&a, "0.0.0.0", port, err);
		if (rc < 0)
			return rc;
		return listen_on(&a, backlog, flags, false, err);
	}
	rc = sock_addr_parse(&a, host, port, err);
	if (rc < 0)
		return rc;
	return listen_on(&a, backlog, flags, false, err);
}

int sock_connect_addr(const struct sock_addr *a, char *err)
{
	char what[SOCK_ADDRSTRLEN];
	int fd, rc;

	fd = socket(a->ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC,
		    IPPROTO_TCP);
	if (fd < 0) {
		rc = -errno;
		sock_addr_str(a, what, sizeof(what));
		set_err(err, "connect %s: socket: %s", what, strerror(-rc));
		return rc;
	}
	do {
		rc = connect(fd, sock_addr_sa(a), a->len);
	} while (rc < 0 && errno == EINTR);
	if (rc < 0 && errno != EINPROGRESS) {
		rc = -errno;
		sock_addr_str(a, what, sizeof(what));
		set_err(err, "connect %s: %s", what, strerror(-rc));
		close(fd);
		return rc;
	}
	return fd;
}

int sock_connect(const char *host, uint16_t port, char *err)
{
	struct sock_addr a;
	if (is_wildcard_host(host)) {
		set_err(err, "connect: empty host");
		return -EINVAL;
	}
	int rc = sock_addr_parse(&a, host, port, err);
	if (rc < 0)
		return rc;
	return sock_connect_addr(&a, err);
}

int sock_get_error(int fd, char *err)
{
	int e = 0;
	socklen_t len = sizeof(e);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len) < 0) {
		e = errno;
		set_err(err, "getsockopt SO_ERROR: %s", strerror(e));
		return -e;
	}
	if (e != 0)
		set_err(err, "%s", strerror(e));
	return -e;
}

bool sock_established(int fd)
{
	/* tcpi_state is the first byte of struct tcp_info: ask for no more. */
	uint8_t state = 0;
	socklen_t len = sizeof(state);
	return getsockopt(fd, IPPROTO_TCP, TCP_INFO, &state, &len) == 0 && len >= 1 &&
	       state == TCP_ESTABLISHED;
}

/* accept(2) errors that belong to one connection, not to the listener. */
static bool accept_retry(int e)
{
	switch (e) {
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case ENETDOWN:
	case ENOPROTOOPT:
	case EHOSTDOWN:
	case ENONET:
	case EHOSTUNREACH:
	case EOPNOTSUPP:
	case ENETUNREACH:
	case EPERM: /* firewall rules */
		return true;
	default:
		return false;
	}
}

int sock_accept(int lfd, struct sock_addr *peer, char *err)
{
	struct sock_addr tmp;
	struct sock_addr *a = peer != NULL ? peer : &tmp;

	/* Bounded: each retried error consumed one pending connection. */
	for (int tries = 0; tries < 64; tries++) {
		a->len = sizeof(a->ss);
		int fd = accept4(lfd, sa_mut(a), &a->len,
				 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0)
			return fd;
		int e = errno;
		if (accept_retry(e))
			continue;
		if (e == EAGAIN || e == EWOULDBLOCK)
			return -EAGAIN;
		set_err(err, "accept: %s", strerror(e));
		if (e == EMFILE || e == ENFILE)
			return -EMFILE;
		return -e;
	}
	return -EAGAIN;
}

int sock_set_nonblock(int fd, bool on, char *err)
{
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0) {
		int e = errno;
		set_err(err, "fcntl(F_GETFL): %s", strerror(e));
		return -e;
	}
	int nfl = on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK);
	if (nfl != fl && fcntl(fd, F_SETFL, nfl) < 0) {
		int e = errno;
		set_err(err, "fcntl(F_SETFL): %s", strerror(e));
		return -e;
	}
	return 0;
}

static int set_int_opt(int fd, int level, int opt, int val, const char *name,
		       char *err)
{
	if (setsockopt(fd, level, opt, &val, sizeof(val)) < 0) {
		int e = errno;
		set_err(err, "setsockopt %s: %s", name, strerror(e));
		return -e;
	}
	return 0;
}

int sock_set_nodelay(int fd, bool on, char *err)
{
	return set_int_opt(fd, IPPROTO_TCP, TCP_NODELAY, on ? 1 : 0,
			   "TCP_NODELAY", err);
}

int sock_set_keepalive(int fd, int idle_s, int intvl_s, int cnt, char *err)
{
	int rc;
	if (idle_s <= 0)
		return set_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, 0,
				   "SO_KEEPALIVE", err);
	rc = set_int_opt(fd, SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE", err);
	if (rc == 0)
		rc = set_int_opt(fd, IPPROTO_TCP, TCP_KEEPIDLE, idle_s,
				 "TCP_KEEPIDLE", err);
	if (rc == 0 && intvl_s > 0)
		rc = set_int_opt(fd, IPPROTO_TCP, TCP_KEEPINTVL, intvl_s,
				 "TCP_KEEPINTVL", err);
	if (rc == 0 && cnt > 0)
		rc = set_int_opt(fd, IPPROTO_TCP, TCP_KEEPCNT, cnt,
				 "TCP_KEEPCNT", err);
	return rc;
}

int sock_set_user_timeout(int fd, unsigned ms, char *err)
{
	if (ms > INT_MAX) {
		set_err(err, "TCP_USER_TIMEOUT %u ms out of range", ms);
		return -EINVAL;
	}
	return set_int_opt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, (int)ms,
			   "TCP_USER_TIMEOUT", err);
}

int sock_local_addr(int fd, struct sock_addr *out, char *err)
{
	memset(out, 0, sizeof(*out));
	out->len = sizeof(out->ss);
	if (getsockname(fd, sa_mut(out), &out->len) < 0) {
		int e = errno;
		set_err(err, "getsockname: %s", strerror(e));
		return -e;
	}
	return 0;
}

int sock_peer_addr(int fd, struct sock_addr *out, char *err)
{
	memset(out, 0, sizeof(*out));
	out->len = sizeof(out->ss);
	if (getpeername(fd, sa_mut(out), &out->len) < 0) {
		int e = errno;
		set_err(err, "getpeername: %s", strerror(e));
		return -e;
	}
	return 0;
}

bool sock_addr_unmap(struct sock_addr *a)
{
	if (a->ss.ss_family != AF_INET6)
		return false;
	const struct sockaddr_in6 *s6 =
		(const struct sockaddr_in6 *)(const void *)&a->ss;
	if (!IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return false;
	struct sockaddr_in s4;
	memset(&s4, 0, sizeof(s4));
	s4.sin_family = AF_INET;
	s4.sin_port = s6->sin6_port;
	memcpy(&s4.sin_addr, &s6->sin6_addr.s6_addr[12], 4);
	memset(&a->ss, 0, sizeof(a->ss));
	memcpy(&a->ss, &s4, sizeof(s4));
	a->len = sizeof(s4);
	return true;
}

uint16_t sock_addr_port(const struct sock_addr *a)
{
	if (a->ss.ss_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)&a->ss)
				     ->sin_port);
	if (a->ss.ss_family == AF_INET6)
		return ntohs(((const struct sockaddr_in6 *)(const void *)&a->ss)
				     ->sin6_port);
	return 0;
}

/* Copy src (length n) into buf with truncation; returns n. */
static int put_str(char *buf, size_t buflen, const char *src, size_t n)
{
	if (buflen > 0) {
		size_t c = MIN(n, buflen - 1);
		memcpy(buf, src, c);
		buf[c] = '\0';
	}
	return (int)n;
}

/* RFC 5952 text of an IPv6 address into out (>= INET6_ADDRSTRLEN). */
static size_t format_ipv6(const uint8_t b[16], char *out)
{
	uint16_t w[8];
	int best = -1, best_len = 0;
	size_t n = 0;

	for (int i = 0; i < 8; i++)
		w[i] = (uint16_t)(b[2 * i] << 8 | b[2 * i + 1]);
	for (int i = 0; i < 8;) {
		if (w[i] != 0) {
			i++;
			continue;
		}
		int j = i;
		while (j < 8 && w[j] == 0)
			j++;
		if (j - i > best_len) {
			best = i;
			best_len = j - i;
		}
		i = j;
	}
	if (best_len < 2)
		best = -1;
	for (int i = 0; i < 8; i++) {
		if (i == best) {
			out[n++] = ':';
			out[n++] = ':';
			i += best_len - 1;
			continue;
		}
		if (n > 0 && out[n - 1] != ':')
			out[n++] = ':';
		n += (size_t)sprintf(out + n, "%x", (unsigned)w[i]);
	}
	out[n] = '\0';
	return n;
}

/* Host text of sa into out[SOCK_ADDRSTRLEN]; returns length or -errno. */
static int host_text(const struct sockaddr *sa, socklen_t len, char *out,
		     bool *is_v6)
{
	*is_v6 = false;
	if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *s4 = (const void *)sa;
		inet_ntop(AF_INET, &s4->sin_addr, out, SOCK_ADDRSTRLEN);
		return (int)strlen(out);
	}
	if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *s6 = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr)) {
			inet_ntop(AF_INET, &s6->sin6_addr.s6_addr[12], out,
				  SOCK_ADDRSTRLEN);
			return (int)strlen(out);
		}
		*is_v6 = true;
		size_t n = format_ipv6(s6->sin6_addr.s6_addr, out);
		if (s6->sin6_scope_id != 0) {
			char ifname[IF_NAMESIZE];
			if (if_indextoname(s6->sin6_scope_id, ifname) != NULL)
				n += (size_t)snprintf(out + n,
						      SOCK_ADDRSTRLEN - n,
						      "%%%s", ifname);
			else
				n += (size_t)snprintf(out + n,
						      SOCK_ADDRSTRLEN - n,
						      "%%%u",
						      (unsigned)s6->sin6_scope_id);
		}
		return (int)n;
	}
	return -EAFNOSUPPORT;
}

static int sa_port(const struct sockaddr *sa)
{
	if (sa->sa_family == AF_INET)
		return ntohs(((const struct sockaddr_in *)(const void *)sa)
				     ->sin_port);
	return ntohs(((const struct sockaddr_in6 *)(const void *)sa)->sin6_port);
}

int sock_sa_str(const struct sockaddr *sa, socklen_t len, char *buf,
		size_t buflen)
{
	char host[SOCK_ADDRSTRLEN], tmp[SOCK_ADDRSTRLEN + 8];
	bool v6;
	int n = host_text(sa, len, host, &v6);
	if (n < 0) {
		put_str(buf, buflen, "?", 1);
		return n;
	}
	n = snprintf(tmp, sizeof(tmp), v6 ? "[%s]:%d" : "%s:%d", host,
		     sa_port(sa));
	return put_str(buf, buflen, tmp, (size_t)n);
}

int sock_addr_str(const struct sock_addr *a, char *buf, size_t buflen)
{
	return sock_sa_str(sock_addr_sa(a), a->len, buf, buflen);
}

int sock_addr_host_str(const struct sock_addr *a, char *buf, size_t buflen)
{
	char host[SOCK_ADDRSTRLEN];
	bool v6;
	int n = host_text(sock_addr_sa(a), a->len, host, &v6);
	if (n < 0) {
		put_str(buf, buflen, "?", 1);
		return n;
	}
	return put_str(buf, buflen, host, (size_t)n);
}

int sock_local_str(int fd, char *buf, size_t buflen)
{
	struct sock_addr a;
	int rc = sock_local_addr(fd, &a, NULL);
	if (rc < 0) {
		put_str(buf, buflen, "?", 1);
		return rc;
	}
	return sock_addr_str(&a, buf, buflen);
}

int sock_peer_str(int fd, char *buf, size_t buflen)
{
	struct sock_addr a;
	int rc = sock_peer_addr(fd, &a, NULL);
	if (rc < 0) {
		put_str(buf, buflen, "?", 1);
		return rc;
	}
	return sock_addr_str(&a, buf, buflen);
}

int sock_join_hostport(const char *host, uint16_t port, char *buf,
		       size_t buflen)
{
	if (host == NULL)
		host = "";
	bool br = strchr(host, ':') != NULL;
	int n = snprintf(buf, buflen, br ? "[%s]:%u" : "%s:%u", host,
			 (unsigned)port);
	return n;
}

/* Decimal port, digits only, 0..65535. */
static bool parse_port(const char *s, uint16_t *port)
{
	unsigned long v = 0;
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return false;
	}
	*port = (uint16_t)v;
	return true;
}

int sock_split_hostport(const char *s, char *host, size_t hostlen,
			uint16_t *port, char *err)
{
	const char *last = strrchr(s, ':');
	const char *hs, *he; /* host span */
	size_t j = 0, k = 0;

	if (last == NULL) {
		set_err(err, "address %s: missing port in address", s);
		return -EINVAL;
	}
	size_t i = (size_t)(last - s);
	if (s[0] == '[') {
		const char *close = strchr(s, ']');
		if (close == NULL) {
			set_err(err, "address %s: missing ']' in address", s);
			return -EINVAL;
		}
		size_t end = (size_t)(close - s);
		if (end + 1 != i) {
			if (s[end + 1] == ':')
				set_err(err, "address %s: too many colons in address", s);
			else
				set_err(err, "address %s: missing port in address", s);
			return -EINVAL;
		}
		hs = s + 1;
		he = close;
		j = 1;
		k = end + 1;
	} else {
		hs = s;
		he = last;
		if (memchr(hs, ':', (size_t)(he - hs)) != NULL) {
			set_err(err, "address %s: too many colons in address", s);
			return -EINVAL;
		}
	}
	if (strchr(s + j, '[') != NULL) {
		set_err(err, "address %s: unexpected '[' in address", s);
		return -EINVAL;
	}
	if (strchr(s + k, ']') != NULL) {
		set_err(err, "address %s: unexpected ']' in address", s);
		return -EINVAL;
	}
	if (!parse_port(last + 1, port)) {
		set_err(err, "address %s: invalid port", s);
		return -EINVAL;
	}
	size_t hl = (size_t)(he - hs);
	if (hl >= hostlen) {
		set_err(err, "address %s: host too long", s);
		return -ENAMETOOLONG;
	}
	memcpy(host, hs, hl);
	host[hl] = '\0';
	return 0;
}

int sock_resolve(const char *host, uint16_t port, struct sock_addr *out,
		 size_t max, char *err)
{
	struct addrinfo hints, *res = NULL, *ai;
	char name[SOCK_HOSTLEN], portstr[8];
	size_t n;

	if (host == NULL || host[0] == '\0' || max == 0) {
		set_err(err, "resolve: empty host");
		return -EINVAL;
	}
	n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		host++;
		n -= 2;
	}
	if (n >= sizeof(name)) {
		set_err(err, "resolve: host name too long");
		return -EINVAL;
	}
	memcpy(name, host, n);
	name[n] = '\0';
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);

	memset(&hints, 0, sizeof(hints));
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	hints.ai_flags = AI_NUMERICSERV;
	int rc = getaddrinfo(name, portstr, &hints, &res);
	if (rc != 0) {
		int e = errno;
		if (rc == EAI_SYSTEM)
			set_err(err, "resolve %s: %s", name, strerror(e));
		else
			set_err(err, "resolve %s: %s", name, gai_strerror(rc));
		switch (rc) {
		case EAI_NONAME:
#ifdef EAI_NODATA
		case EAI_NODATA:
#endif
		case EAI_ADDRFAMILY:
			return -ENOENT;
		case EAI_AGAIN:
			return -EAGAIN;
		case EAI_SYSTEM:
			return e != 0 ? -e : -EINVAL;
		default:
			return -EINVAL;
		}
	}
	n = 0;
	for (ai = res; ai != NULL && n < max; ai = ai->ai_next) {
		if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
			continue;
		if (ai->ai_addrlen > sizeof(out[n].ss))
			continue;
		memset(&out[n], 0, sizeof(out[n]));
		memcpy(&out[n].ss, ai->ai_addr, ai->ai_addrlen);
		out[n].len = ai->ai_addrlen;
		n++;
	}
	freeaddrinfo(res);
	if (n == 0) {
		set_err(err, "resolve %s: no address", name);
		return -ENOENT;
	}
	return (int)n;
}

/* fs.nr_open: the kernel's ceiling for RLIMIT_NOFILE. */
static rlim_t nr_open(void)
{
	rlim_t v = 1048576;
	FILE *f = fopen("/proc/sys/fs/nr_open", "re");
	if (f != NULL) {
		unsigned long long x;
		if (fscanf(f, "%llu", &x) == 1 && x > 0)
			v = (rlim_t)x;
		fclose(f);
	}
	return v;
}

long sock_raise_fd_limit(char *err)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0) {
		int e = errno;
		set_err(err, "getrlimit(RLIMIT_NOFILE): %s", strerror(e));
		return -e;
	}
	rlim_t target = rl.rlim_max;
	if (target == RLIM_INFINITY)
		target = nr_open();
	if (target > (rlim_t)LONG_MAX)
		target = (rlim_t)LONG_MAX;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur >= target)
		return (long)rl.rlim_cur;
	if (rl.rlim_cur == RLIM_INFINITY)
		return LONG_MAX;
	rl.rlim_cur = target;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		int e = errno;
		set_err(err, "setrlimit(RLIMIT_NOFILE, %llu): %s",
			(unsigned long long)target, strerror(e));
		return -e;
	}
	return (long)target;
}
