/*
 * buf: a capped byte buffer for socket I/O.
 *
 * Layout: a ring over one allocation. The readable bytes are at most two
 * contiguous spans (buf_peekv); buf_peek returns the first. Socket reads and
 * writes use readv/writev over those spans, so no byte is ever moved to make
 * room (sniproxy style).
 *
 * Memory (HAProxy style): no storage is held until the first write; storage
 * is released as soon as the buffer becomes empty (buf_consume, buf_write_fd,
 * or a read/commit that added nothing), and the ring restarts at offset 0 on
 * the next allocation. An idle connection costs only sizeof(struct buf).
 * Storage grows by doubling, from BUF_MIN_ALLOC (or the size of the first
 * write) up to the cap; it never exceeds the cap.
 *
 * Cost: append and consume are O(n) and O(1); read and write are one syscall
 * each. A grow copies the unread bytes once into the new storage (a logarithmic
 * number of times per fill to the cap). buf_reserve may also copy once to make
 * its span contiguous (it prefers the tail when it is long enough).
 *
 * Budget: a buffer given an account (buf_set_acct) charges its storage to
 * it before allocating and gives it back when it frees (base/budget.h). A
 * charge the budget refuses makes the buffer behave as full: -ENOBUFS, as at
 * the cap, which is where the owner's backpressure starts.
 *
 * struct buf is public so it can be embedded in a connection (no extra
 * allocation); its fields are private: use the functions.
 */
#ifndef THRESHOLD_BASE_BUF_H
#define THRESHOLD_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

struct budget_acct;

/* First allocation size unless the cap or the first write says otherwise. */
#define BUF_MIN_ALLOC 4096
/* Largest read buf_read_fd() grows the storage for in one step. */
#define BUF_READ_CHUNK 16384

struct buf {
	char *data;		  /* private: NULL while empty */
	size_t size;		  /* private: allocated bytes */
	size_t head;		  /* private: offset of the first readable byte */
	size_t len;		  /* private: readable bytes */
	size_t cap;		  /* private: most bytes the buffer may hold */
	struct budget_acct *acct; /* private: charged for storage, or NULL */
};

/* Initialise an embedded buffer holding at most `cap` bytes (cap > 0). */
void buf_init(struct buf *b, size_t cap);
/* Drop all data and storage; `b` stays initialised with its cap. NULL-safe. */
void buf_reset(struct buf *b);

/* Heap-allocated buffer. NULL on allocation failure. buf_free is NULL-safe. */
struct buf *buf_new(size_t cap);
void buf_free(struct buf *b);

static inline size_t buf_len(const struct buf *b)
{
	return b->len;
}
static inline size_t buf_cap(const struct buf *b)
{
	return b->cap;
}
static inline bool buf_empty(const struct buf *b)
{
	return b->len == 0;
}
/* Bytes that may still be added before the cap is reached. */
static inline size_t buf_space(const struct buf *b)
{
	return b->cap - b->len;
}
static inline bool buf_full(const struct buf *b)
{
	return b->len >= b->cap;
}
/* Whether storage is currently held (false when idle). */
static inline bool buf_allocated(const struct buf *b)
{
	return b->data != NULL;
}

/* Charge the storage to `a` from now on (NULL: to nobody). Only while the
 * buffer holds no storage (buf_allocated() is false); returns -EBUSY else. */
int buf_set_acct(struct buf *b, struct budget_acct *a);

/*
 * Change the cap. Shrinking below the current length is refused (-EINVAL);
 * storage larger than the new cap is kept until it is released.
 */
int buf_set_cap(struct buf *b, size_t cap);

/*
 * Append a copy of data[0, n). All or nothing: returns 0, -ENOBUFS when the
 * cap (or the budget) does not allow n more bytes, or -ENOMEM.
 */
int buf_append(struct buf *b, const void *data, size_t n);

/*
 * First contiguous readable span: returns a pointer to the first unread byte
 * and sets *len to the span's length, which is less than buf_len() when the
 * data wraps (NULL and 0 when empty). Valid until the next call that modifies
 * the buffer.
 */
const char *buf_peek(const struct buf *b, size_t *len);

/*
 * All readable bytes as 0, 1 or 2 spans in order, written to iov[0..1];
 * returns the count. Same validity as buf_peek.
 */
int buf_peekv(const struct buf *b, struct iovec iov[2]);

/* Drop the first n readable bytes (n <= buf_len); releases storage at 0. */
void buf_consume(struct buf *b, size_t n);

/*
 * Zero-copy producer: returns one contiguous writable span of at least
 * min(want, space) bytes right after the readable bytes (allocating, growing
 * or re-laying the ring as needed) and sets *avail to its size, which may exceed want. NULL with
 * *avail 0 when the buffer is full, or when the storage cannot be had
 * (errno ENOBUFS: the budget refused; ENOMEM: allocation failed).
 * Follow with buf_commit(b, n), n <= *avail; buf_commit(b, 0) gives storage
 * back if the buffer is still empty.
 */
char *buf_reserve(struct buf *b, size_t want, size_t *avail);
void buf_commit(struct buf *b, size_t n);

/*
 * Read from fd into the free space (readv over up to two spans), at most
 * `max` bytes (0: as many as fit; storage grows by BUF_READ_CHUNK steps).
 * Returns bytes read (> 0), 0 at end of file, -EAGAIN when nothing is ready,
 * -ENOBUFS when the buffer is full or the budget refuses its growth (nothing
 * read), or another -errno.
 * EINTR is retried. Storage is released again if nothing was read.
 */
ssize_t buf_read_fd(struct buf *b, int fd, size_t max);

/*
 * Write the readable bytes to fd and consume what was written. Returns bytes
 * written (0 when the buffer was empty), -EAGAIN when the fd took nothing,
 * or another -errno (e.g. -EPIPE; SIGPIPE is never raised on sockets).
 */
ssize_t buf_write_fd(struct buf *b, int fd);

/*
 * writev(2) that retries on EINTR and never raises SIGPIPE on a socket
 * (sendmsg with MSG_NOSIGNAL; plain writev for non-sockets). Returns bytes
 * written or -errno (-EAGAIN when nothing could be written). cnt <= IOV_MAX.
 */
ssize_t buf_writev_fd(int fd, const struct iovec *iov, int cnt);

#endif
