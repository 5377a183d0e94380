/*
 * transport: the byte pipe under a connection, behind a small ops table
 * (plain TCP today; TLS joins it with the same ops).
 *
 * All calls are nonblocking. Results: > 0 bytes moved, 0 end of file (read
 * only), -EAGAIN when the transport needs to wait (then transport_want()
 * says for which readiness: a TLS read may need the socket writable), or
 * another -errno. A transport owns its fd: transport_free() closes it.
 */
#ifndef THRESHOLD_BASE_TRANSPORT_H
#define THRESHOLD_BASE_TRANSPORT_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

struct transport;

struct transport_ops {
	const char *name;
	ssize_t (*read)(struct transport *t, void *buf, size_t n);
	ssize_t (*writev)(struct transport *t, const struct iovec *iov, int cnt);
	int (*shutdown_wr)(struct transport *t);
	/* LOOP_READ / LOOP_WRITE the last call's -EAGAIN waits for; 0 after
	 * a call that made progress. */
	uint32_t (*want)(const struct transport *t);
	/* Bytes already decrypted and readable without the fd being ready
	 * (TLS); NULL means none ever are. */
	size_t (*pending)(const struct transport *t);
	/* Sends bytes the transport took from writev but still holds (TLS
	 * records the socket had no room for). Returns the bytes still held
	 * (0: none; want() then says LOOP_WRITE while any are), or -errno.
	 * NULL means the transport never holds any. */
	ssize_t (*flush)(struct transport *t);
	void (*free)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
	int fd;
};

struct buf;
/* Sends what t still holds (transport_flush), then writes b's bytes to t
 * until b is empty or t would block, consuming what was written. Returns
 * the bytes written (0 if t took nothing), or a negative errno other than
 * -EAGAIN when t failed. */
ssize_t transport_write_buf(struct transport *t, struct buf *b);

/* A plain TCP transport over fd (takes ownership). NULL on ENOMEM (fd is
 * then closed). */
struct transport *transport_tcp_new(int fd);

static inline ssize_t transport_read(struct transport *t, void *buf, size_t n)
{
	return t->ops->read(t, buf, n);
}
static inline ssize_t transport_writev(struct transport *t, const struct iovec *iov, int cnt)
{
	return t->ops->writev(t, iov, cnt);
}
static inline int transport_shutdown_wr(struct transport *t)
{
	return t->ops->shutdown_wr(t);
}
static inline uint32_t transport_want(const struct transport *t)
{
	return t->ops->want(t);
}
static inline size_t transport_pending(const struct transport *t)
{
	return t->ops->pending ? t->ops->pending(t) : 0;
}
/* See transport_ops.flush: bytes still held after trying, or -errno. */
static inline ssize_t transport_flush(struct transport *t)
{
	return t->ops->flush ? t->ops->flush(t) : 0;
}
/* Closes the fd and frees. NULL-safe. The caller unwatches the fd first. */
static inline void transport_free(struct transport *t)
{
	if (t)
		t->ops->free(t);
}

#endif
