#include "base/transport.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/loop.h"

struct tcp_transport {
	struct transport t;
	uint32_t want;
};

static ssize_t tcp_read(struct transport *t, void *buf, size_t n)
{
	struct tcp_transport *tt = (struct tcp_transport *)t;
	for (;;) {
		ssize_t r = read(t->fd, buf, n);
		if (r >= 0) {
			tt->want = 0;
			return r;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK) {
			tt->want = LOOP_READ;
			return -EAGAIN;
		}
		return -errno;
	}
}

static ssize_t tcp_writev(struct transport *t, const struct iovec *iov, int cnt)
{
	struct tcp_transport *tt = (struct tcp_transport *)t;
	ssize_t r = buf_writev_fd(t->fd, iov, cnt);
	if (r == -EAGAIN)
		tt->want = LOOP_WRITE;
	else if (r >= 0)
		tt->want = 0;
	return r;
}

static int tcp_shutdown_wr(struct transport *t)
{
	return shutdown(t->fd, SHUT_WR) == 0 ? 0 : -errno;
}

static uint32_t tcp_want(const struct transport *t)
{
	return ((const struct tcp_transport *)t)->want;
}

static void tcp_free(struct transport *t)
{
	if (t->fd >= 0)
		close(t->fd);
	free(t);
}

static const struct transport_ops tcp_ops = {
	.name = "tcp",
	.read = tcp_read,
	.writev = tcp_writev,
	.shutdown_wr = tcp_shutdown_wr,
	.want = tcp_want,
	.free = tcp_free,
};

ssize_t transport_write_buf(struct transport *t, struct buf *b)
{
	ssize_t held = transport_flush(t);
	if (held != 0)
		return held < 0 ? held : 0;
	size_t total = 0;
	while (!buf_empty(b)) {
		struct iovec iov[2];
		int n = buf_peekv(b, iov);
		ssize_t w = transport_writev(t, iov, n);
		if (w == -EAGAIN)
			break;
		if (w < 0)
			return w;
		buf_consume(b, (size_t)w);
		total += (size_t)w;
	}
	return (ssize_t)total;
}

struct transport *transport_tcp_new(int fd)
{
	struct tcp_transport *tt = calloc(1, sizeof(*tt));
	if (tt == NULL) {
		close(fd);
		return NULL;
	}
	tt->t.ops = &tcp_ops;
	tt->t.fd = fd;
	return &tt->t;
}
