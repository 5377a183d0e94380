/* Unit tests for base/sock: listen/connect/accept on loopback, formatting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/sock.h"

/* Readiness wait; the timeout only bounds a broken test. */
static void wait_fd(int fd, short ev)
{
	struct pollfd p = { .fd = fd, .events = ev };
	assert_int_equal(poll(&p, 1, 10000), 1);
}

static bool have_ipv6_loopback(void)
{
	char err[SOCK_ERRLEN];
	int fd = sock_listen("::1", 0, 1, 0, err);
	if (fd < 0)
		return false;
	close(fd);
	return true;
}

/* Listen on host:0, connect, accept; check both ends' addresses. */
static void roundtrip(const char *listen_host, const char *connect_host,
		      const char *want_host_text)
{
	char err[SOCK_ERRLEN] = "";
	char s1[SOCK_ADDRSTRLEN], s2[SOCK_ADDRSTRLEN], want[SOCK_ADDRSTRLEN];
	struct sock_addr la, peer;

	int lfd = sock_listen(listen_host, 0, 16, 0, err);
	if (lfd < 0)
		fail_msg("listen: %s", err);
	assert_int_equal(fcntl(lfd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	assert_int_equal(fcntl(lfd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	assert_int_equal(sock_accept(lfd, NULL, err), -EAGAIN);

	assert_int_equal(sock_local_addr(lfd, &la, err), 0);
	uint16_t port = sock_addr_port(&la);
	assert_true(port != 0);

	int cfd = sock_connect(connect_host, port, err);
	if (cfd < 0)
		fail_msg("connect: %s", err);
	assert_int_equal(fcntl(cfd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	wait_fd(cfd, POLLOUT);
	assert_int_equal(sock_get_error(cfd, err), 0);

	wait_fd(lfd, POLLIN);
	int afd = sock_accept(lfd, &peer, err);
	if (afd < 0)
		fail_msg("accept: %d %s", afd, err);
	assert_int_equal(fcntl(afd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	assert_int_equal(fcntl(afd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);

	/* The accepted peer is the client's local address. */
	sock_addr_str(&peer, s1, sizeof(s1));
	sock_local_str(cfd, s2, sizeof(s2));
	assert_string_equal(s1, s2);
	sock_peer_str(afd, s2, sizeof(s2));
	assert_string_equal(s1, s2);
	sock_addr_host_str(&peer, s2, sizeof(s2));
	assert_string_equal(s2, want_host_text);

	/* The client's peer is the listener's address and port. */
	sock_join_hostport(want_host_text, port, want, sizeof(want));
	sock_peer_str(cfd, s1, sizeof(s1));
	assert_string_equal(s1, want);

	/* Bytes flow. */
	assert_int_equal(write(cfd, "ping", 4), 4);
	wait_fd(afd, POLLIN);
	char rd[8];
	assert_int_equal(read(afd, rd, sizeof(rd)), 4);
	assert_memory_equal(rd, "ping", 4);

	assert_int_equal(sock_accept(lfd, NULL, err), -EAGAIN);
	close(afd);
	close(cfd);
	close(lfd);
}

static void test_ipv4_loopback(void **state)
{
	(void)state;
	roundtrip("127.0.0.1", "127.0.0.1", "127.0.0.1");
}

static void test_ipv6_loopback(void **state)
{
	(void)state;
	if (!have_ipv6_loopback())
		skip();
	roundtrip("::1", "::1", "::1");
	roundtrip("[::1]", "[::1]", "::1");
}

/* A wildcard listener is dual-stack; v4 peers show as plain IPv4. */
static void test_dual_stack_wildcard(void **state)
{
	(void)state;
	if (!have_ipv6_loopback())
		skip();
	roundtrip(NULL, "127.0.0.1", "127.0.0.1");
	roundtrip("", "::1", "::1");
	roundtrip("0.0.0.0", "127.0.0.1", "127.0.0.1");

	char err[SOCK_ERRLEN];
	struct sock_addr la;
	int lfd = sock_listen("::", 0, 1, 0, err);
	assert_true(lfd >= 0);
	assert_int_equal(sock_local_addr(lfd, &la, err), 0);
	assert_int_equal(la.ss.ss_family, AF_INET6);
	int v6only = -1;
	socklen_t len = sizeof(v6only);
	assert_int_equal(getsockopt(lfd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, &len), 0);
	assert_int_equal(v6only, 0);
	close(lfd);
}

static void test_listen_errors(void **state)
{
	(void)state;
	char err[SOCK_ERRLEN] = "";
	struct sock_addr la;
	char want[SOCK_ERRLEN];

	int lfd = sock_listen("127.0.0.1", 0, 0, 0, err);
	assert_true(lfd >= 0);
	sock_local_addr(lfd, &la, err);
	uint16_t port = sock_addr_port(&la);

	int rc = sock_listen("127.0.0.1", port, 0, 0, err);
	assert_int_equal(rc, -EADDRINUSE);
	snprintf(want, sizeof(want), "listen 127.0.0.1:%u: bind: %s",
		 (unsigned)port, strerror(EADDRINUSE));
	assert_string_equal(err, want);

	/* SO_REUSEPORT lets two listeners share a port when both ask. */
	int a = sock_listen("127.0.0.1", 0, 0, SOCK_LISTEN_REUSEPORT, err);
	assert_true(a >= 0);
	sock_local_addr(a, &la, err);
	int b = sock_listen("127.0.0.1", sock_addr_port(&la), 0,
			    SOCK_LISTEN_REUSEPORT, err);
	assert_true(b >= 0);
	close(a);
	close(b);

	assert_int_equal(sock_listen("not-an-ip", 80, 0, 0, err), -EINVAL);
	assert_string_equal(err, "'not-an-ip' is not a numeric IP address");
	assert_int_equal(sock_listen("1.2.3.4%lo", 80, 0, 0, err), -EINVAL);
	assert_int_equal(sock_connect("", 80, err), -EINVAL);
	assert_int_equal(sock_connect("example.com", 80, err), -EINVAL);
	close(lfd);
}

static void test_connect_refused(void **state)
{
	(void)state;
	char err[SOCK_ERRLEN];
	struct sock_addr la;

	/* A port that was just free: nothing listens there any more. */
	int lfd = sock_listen("127.0.0.1", 0, 0, 0, err);
	assert_true(lfd >= 0);
	sock_local_addr(lfd, &la, err);
	close(lfd);

	int cfd = sock_connect("127.0.0.1", sock_addr_port(&la), err);
	if (cfd == -ECONNREFUSED)
		return; /* refused at once: also correct */
	assert_true(cfd >= 0);
	wait_fd(cfd, POLLOUT);
	assert_int_equal(sock_get_error(cfd, err), -ECONNREFUSED);
	assert_string_equal(err, strerror(ECONNREFUSED));
	close(cfd);
}

/* Out of descriptors: accept reports -EMFILE, the connection waits. */
static void test_accept_emfile(void **state)
{
	(void)state;
	char err[SOCK_ERRLEN];
	struct sock_addr la;
	struct rlimit old, low;

	int lfd = sock_listen("127.0.0.1", 0, 0, 0, err);
	assert_true(lfd >= 0);
	sock_local_addr(lfd, &la, err);
	int cfd = sock_connect("127.0.0.1", sock_addr_port(&la), err);
	assert_true(cfd >= 0);
	wait_fd(lfd, POLLIN);

	int probe = dup(0);
	assert_true(probe >= 0);
	close(probe); /* lowest free descriptor number */
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	low = old;
	low.rlim_cur = (rlim_t)probe;
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &low), 0);
	int rc = sock_accept(lfd, NULL, err);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	assert_int_equal(rc, -EMFILE);

	int afd = sock_accept(lfd, NULL, err);
	assert_true(afd >= 0);
	close(afd);
	close(cfd);
	close(lfd);
}

/* A connect to a local listener has completed when connect() returns
 * (sock_established), and a listener's TCP_NODELAY is inherited by the
 * sockets it accepts (SOCK_LISTEN_NODELAY). */
static void test_established_and_nodelay_inherited(void **state)
{
	(void)state;
	char err[SOCK_ERRLEN];
	struct sock_addr la, peer;
	int lfd = sock_listen("127.0.0.1", 0, 0, SOCK_LISTEN_NODELAY, err);
	assert_true(lfd >= 0);
	assert_int_equal(sock_local_addr(lfd, &la, err), 0);
	assert_false(sock_established(lfd));
	int cfd = sock_connect("127.0.0.1", sock_addr_port(&la), err);
	assert_true(cfd >= 0);
	assert_true(sock_established(cfd));
	wait_fd(lfd, POLLIN);
	int afd = sock_accept(lfd, &peer, err);
	assert_true(afd >= 0);
	int v = 0;
	socklen_t len = sizeof(v);
	assert_int_equal(getsockopt(afd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	assert_int_equal(v, 1);
	close(afd);
	close(cfd);
	close(lfd);
	/* Without the flag: the kernel's default (Nagle on). */
	lfd = sock_listen("127.0.0.1", 0, 0, 0, err);
	assert_true(lfd >= 0);
	assert_int_equal(sock_local_addr(lfd, &la, err), 0);
	cfd = sock_connect("127.0.0.1", sock_addr_port(&la), err);
	assert_true(cfd >= 0);
	wait_fd(lfd, POLLIN);
	afd = sock_accept(lfd, &peer, err);
	assert_true(afd >= 0);
	len = sizeof(v);
	assert_int_equal(getsockopt(afd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	assert_int_equal(v, 0);
	close(afd);
	close(cfd);
	close(lfd);
	/* Not a socket, or a refused connect: not established. */
	assert_false(sock_established(-1));
	lfd = sock_listen("127.0.0.1", 0, 0, 0, err);
	assert_int_equal(sock_local_addr(lfd, &la, err), 0);
	close(lfd);
	cfd = sock_connect("127.0.0.1", sock_addr_port(&la), err);
	if (cfd >= 0) {
		assert_false(sock_established(cfd));
		close(cfd);
	}
}

static void test_options(void **state)
{
	(void)state;
	char err[SOCK_ERRLEN];
	int v;
	socklen_t len = sizeof(v);

	int fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);

	assert_int_equal(sock_set_nonblock(fd, true, err), 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, O_NONBLOCK);
	assert_int_equal(sock_set_nonblock(fd, false, err), 0);
	assert_int_equal(fcntl(fd, F_GETFL) & O_NONBLOCK, 0);

	assert_int_equal(sock_set_nodelay(fd, true, err), 0);
	getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len);
	assert_int_equal(v, 1);

	assert_int_equal(sock_set_keepalive(fd, 15, 5, 3, err), 0);
	getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len);
	assert_int_equal(v, 1);
	getsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, &len);
	assert_int_equal(v, 15);
	getsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &v, &len);
	assert_int_equal(v, 5);
	getsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, &len);
	assert_int_equal(v, 3);
	assert_int_equal(sock_set_keepalive(fd, 0, 0, 0, err), 0);
	getsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &v, &len);
	assert_int_equal(v, 0);

	assert_int_equal(sock_set_user_timeout(fd, 30000, err), 0);
	getsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &v, &len);
	assert_int_equal(v, 30000);

	assert_int_equal(sock_set_keepalive(fd, 15, -1, 0, err), 0);
	assert_int_equal(sock_set_nodelay(-1, true, err), -EBADF);
	assert_string_equal(err, "setsockopt TCP_NODELAY: Bad file descriptor");
	close(fd);
}

/* Format a parsed address; NULL expected means "parse fails". */
static void check_fmt(const char *in, uint16_t port, const char *host,
		      const char *hostport)
{
	struct sock_addr a;
	char err[SOCK_ERRLEN], buf[SOCK_ADDRSTRLEN];
	int rc = sock_addr_parse(&a, in, port, err);
	if (host == NULL) {
		assert_int_equal(rc, -EINVAL);
		return;
	}
	if (rc != 0)
		fail_msg("parse %s: %s", in, err);
	int n = sock_addr_host_str(&a, buf, sizeof(buf));
	assert_string_equal(buf, host);
	assert_int_equal(n, (int)strlen(host));
	n = sock_addr_str(&a, buf, sizeof(buf));
	assert_string_equal(buf, hostport);
	assert_int_equal(n, (int)strlen(hostport));
	assert_int_equal(sock_addr_port(&a), port);
}

static void test_format(void **state)
{
	(void)state;
	check_fmt("1.2.3.4", 80, "1.2.3.4", "1.2.3.4:80");
	check_fmt("0.0.0.0", 0, "0.0.0.0", "0.0.0.0:0");
	check_fmt("::1", 443, "::1", "[::1]:443");
	check_fmt("[::1]", 443, "::1", "[::1]:443");
	check_fmt("::", 1, "::", "[::]:1");
	check_fmt(NULL, 1, "::", "[::]:1");
	check_fmt("1::", 2, "1::", "[1::]:2");
	/* RFC 5952: lowercase, no leading zeros. */
	check_fmt("2001:0DB8:0000:0000:0000:0000:0000:0001", 65535,
		  "2001:db8::1", "[2001:db8::1]:65535");
	/* A single zero group is not compressed. */
	check_fmt("2001:db8:0:1:1:1:1:1", 9, "2001:db8:0:1:1:1:1:1",
		  "[2001:db8:0:1:1:1:1:1]:9");
	/* Longest run wins; the first of equal runs wins. */
	check_fmt("2001:0:0:1:0:0:0:1", 9, "2001:0:0:1::1", "[2001:0:0:1::1]:9");
	check_fmt("2001:db8:0:0:1:0:0:1", 9, "2001:db8::1:0:0:1",
		  "[2001:db8::1:0:0:1]:9");
	/* IPv4-mapped shown as plain IPv4 (like Go); IPv4-compatible as hex. */
	check_fmt("::ffff:10.1.2.3", 8080, "10.1.2.3", "10.1.2.3:8080");
	check_fmt("::1.2.3.4", 7, "::102:304", "[::102:304]:7");
	/* Zones. */
	char lo[IF_NAMESIZE];
	if (if_indextoname(1, lo) != NULL) {
		char in[64], host[64], hp[80];
		snprintf(in, sizeof(in), "fe80::1%%%s", lo);
		snprintf(host, sizeof(host), "fe80::1%%%s", lo);
		snprintf(hp, sizeof(hp), "[fe80::1%%%s]:22", lo);
		check_fmt(in, 22, host, hp);
		check_fmt("fe80::1%1", 22, host, hp);
	}
	check_fmt("fe80::1%", 22, NULL, NULL);
	check_fmt("fe80::1%no-such-if0", 22, NULL, NULL);
	check_fmt("1.2.3", 1, NULL, NULL);
	check_fmt("1.2.3.4.5", 1, NULL, NULL);
	check_fmt("::ffff::1", 1, NULL, NULL);
	check_fmt("localhost", 1, NULL, NULL);

	/* Truncation still NUL-terminates and reports the full length. */
	struct sock_addr a;
	char small[6];
	sock_addr_parse(&a, "10.20.30.40", 5000, NULL);
	assert_int_equal(sock_addr_str(&a, small, sizeof(small)), 16);
	assert_string_equal(small, "10.20");

	/* Unknown family. */
	struct sock_addr u;
	memset(&u, 0, sizeof(u));
	u.ss.ss_family = AF_UNIX;
	u.len = sizeof(sa_family_t);
	char buf[SOCK_ADDRSTRLEN];
	assert_int_equal(sock_addr_str(&u, buf, sizeof(buf)), -EAFNOSUPPORT);
	assert_string_equal(buf, "?");
}

static void test_unmap(void **state)
{
	(void)state;
	struct sock_addr a;
	char buf[SOCK_ADDRSTRLEN];
	sock_addr_parse(&a, "::ffff:192.0.2.1", 1234, NULL);
	assert_int_equal(a.ss.ss_family, AF_INET6);
	assert_true(sock_addr_unmap(&a));
	assert_int_equal(a.ss.ss_family, AF_INET);
	assert_int_equal(a.len, sizeof(struct sockaddr_in));
	assert_int_equal(sock_addr_port(&a), 1234);
	sock_addr_str(&a, buf, sizeof(buf));
	assert_string_equal(buf, "192.0.2.1:1234");
	assert_false(sock_addr_unmap(&a));
	sock_addr_parse(&a, "::1", 1, NULL);
	assert_false(sock_addr_unmap(&a));
}

static void check_split(const char *in, int want_rc, const char *host,
			unsigned port)
{
	char h[SOCK_HOSTLEN], err[SOCK_ERRLEN] = "";
	uint16_t p = 0;
	int rc = sock_split_hostport(in, h, sizeof(h), &p, err);
	if (rc != want_rc)
		fail_msg("split '%s': rc %d want %d (%s)", in, rc, want_rc, err);
	if (want_rc == 0) {
		assert_string_equal(h, host);
		assert_int_equal(p, port);
	} else {
		assert_true(strlen(err) > 0);
	}
}

static void test_split_hostport(void **state)
{
	(void)state;
	check_split("1.2.3.4:80", 0, "1.2.3.4", 80);
	check_split("example.com:443", 0, "example.com", 443);
	check_split(":9056", 0, "", 9056);
	check_split("[::1]:22", 0, "::1", 22);
	check_split("[::]:0", 0, "::", 0);
	check_split("[fe80::1%eth0]:65535", 0, "fe80::1%eth0", 65535);
	check_split("[1.2.3.4]:80", 0, "1.2.3.4", 80);
	check_split("host:00080", 0, "host", 80);

	check_split("1.2.3.4", -EINVAL, NULL, 0);       /* missing port */
	check_split("", -EINVAL, NULL, 0);
	check_split("host:", -EINVAL, NULL, 0);         /* empty port */
	check_split("host:http", -EINVAL, NULL, 0);     /* not numeric */
	check_split("host:65536", -EINVAL, NULL, 0);    /* range */
	check_split("host:-1", -EINVAL, NULL, 0);
	check_split("host:+80", -EINVAL, NULL, 0);
	check_split("host:99999999999999999999", -EINVAL, NULL, 0);
	check_split("::1:80", -EINVAL, NULL, 0);        /* too many colons */
	check_split("[::1]", -EINVAL, NULL, 0);         /* missing port */
	check_split("[::1]80", -EINVAL, NULL, 0);
	check_split("[::1]:80:90", -EINVAL, NULL, 0);
	check_split("[::1:80", -EINVAL, NULL, 0);       /* missing ']' */
	check_split("::1]:80", -EINVAL, NULL, 0);       /* stray ']' */
	check_split("[[::1]]:80", -EINVAL, NULL, 0);
	check_split("a[b:80", -EINVAL, NULL, 0);
	check_split("a]b:80", -EINVAL, NULL, 0);

	char small[4], err[SOCK_ERRLEN];
	uint16_t p;
	assert_int_equal(sock_split_hostport("abcd:1", small, sizeof(small), &p,
					     err), -ENAMETOOLONG);
	assert_int_equal(sock_split_hostport("abc:1", small, sizeof(small), &p,
					     err), 0);
	assert_string_equal(small, "abc");

	char out[64];
	assert_int_equal(sock_join_hostport("::1", 80, out, sizeof(out)), 8);
	assert_string_equal(out, "[::1]:80");
	sock_join_hostport("10.0.0.1", 9056, out, sizeof(out));
	assert_string_equal(out, "10.0.0.1:9056");
	sock_join_hostport("example.com", 0, out, sizeof(out));
	assert_string_equal(out, "example.com:0");
}

static void test_resolve_numeric(void **state)
{
	(void)state;
	struct sock_addr out[4];
	char err[SOCK_ERRLEN], buf[SOCK_ADDRSTRLEN];

	int n = sock_resolve("127.0.0.1", 9056, out, 4, err);
	assert_int_equal(n, 1);
	sock_addr_str(&out[0], buf, sizeof(buf));
	assert_string_equal(buf, "127.0.0.1:9056");

	n = sock_resolve("[::1]", 22, out, 4, err);
	assert_int_equal(n, 1);
	sock_addr_str(&out[0], buf, sizeof(buf));
	assert_string_equal(buf, "[::1]:22");

	assert_int_equal(sock_resolve("", 1, out, 4, err), -EINVAL);
	assert_int_equal(sock_resolve(NULL, 1, out, 4, err), -EINVAL);
	assert_int_equal(sock_resolve("127.0.0.1", 1, out, 0, err), -EINVAL);
}

static void test_raise_fd_limit(void **state)
{
	(void)state;
	struct rlimit before, after;
	char err[SOCK_ERRLEN];
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &before), 0);
	long n = sock_raise_fd_limit(err);
	assert_true(n > 0);
	assert_int_equal(getrlimit(RLIMIT_NOFILE, &after), 0);
	assert_true(after.rlim_cur >= before.rlim_cur);
	assert_true(after.rlim_cur == after.rlim_max ||
		    after.rlim_max == RLIM_INFINITY);
	assert_int_equal((long)after.rlim_cur, n);
	/* Idempotent. */
	assert_int_equal(sock_raise_fd_limit(err), n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4_loopback),
		cmocka_unit_test(test_ipv6_loopback),
		cmocka_unit_test(test_dual_stack_wildcard),
		cmocka_unit_test(test_listen_errors),
		cmocka_unit_test(test_connect_refused),
		cmocka_unit_test(test_established_and_nodelay_inherited),
		cmocka_unit_test(test_accept_emfile),
		cmocka_unit_test(test_options),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_unmap),
		cmocka_unit_test(test_split_hostport),
		cmocka_unit_test(test_resolve_numeric),
		cmocka_unit_test(test_raise_fd_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
