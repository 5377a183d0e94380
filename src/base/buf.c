/*
 * buf: see buf.h. A ring over one lazily allocated array; released when
 * empty. Invariants: data == NULL <=> size == 0 <=> (len == 0 and no
 * storage); head < size whenever data != NULL; len <= size.
 */
#include "base/buf.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/budget.h"
#include "base/util.h"

void buf_init(struct buf *b, size_t cap)
{
	b->data = NULL;
	b->size = 0;
	b->head = 0;
	b->len = 0;
	b->cap = cap;
	b->acct = NULL;
}

static void release(struct buf *b)
{
	if (b->data != NULL)
		budget_release(b->acct, b->size);
	free(b->data);
	b->data = NULL;
	b->size = 0;
	b->head = 0;
	b->len = 0;
}

void buf_reset(struct buf *b)
{
	if (b != NULL)
		release(b);
}

struct buf *buf_new(size_t cap)
{
	struct buf *b = malloc(sizeof(*b));
	if (b != NULL)
		buf_init(b, cap);
	return b;
}

void buf_free(struct buf *b)
{
	if (b == NULL)
		return;
	release(b);
	free(b);
}

int buf_set_acct(struct buf *b, struct budget_acct *a)
{
	if (b->data != NULL)
		return -EBUSY;
	b->acct = a;
	return 0;
}

int buf_set_cap(struct buf *b, size_t cap)
{
	if (cap < b->len)
		return -EINVAL;
	b->cap = cap;
	return 0;
}

/* Offset one past the last readable byte, modulo size (size > 0). */
static size_t tail_off(const struct buf *b)
{
	size_t t = b->head + b->len;
	return t >= b->size ? t - b->size : t;
}

/* Move the readable bytes to the start of a new array of nsize bytes. */
static int relocate(struct buf *b, size_t nsize)
{
	/* The budget is charged for the growth only: the old storage is freed
	 * right after the copy. */
	size_t grow = nsize > b->size ? nsize - b->size : 0;
	if (budget_charge(b->acct, grow) < 0)
		return -ENOBUFS;
	char *n = malloc(nsize);
	if (n == NULL) {
		budget_release(b->acct, grow);
		return -ENOMEM;
	}
	if (b->data != NULL) {
		struct iovec iov[2];
		int cnt = buf_peekv(b, iov);
		size_t off = 0;
		for (int i = 0; i < cnt; i++) {
			memcpy(n + off, iov[i].iov_base, iov[i].iov_len);
			off += iov[i].iov_len;
		}
		free(b->data);
		if (b->size > nsize)
			budget_release(b->acct, b->size - nsize);
	}
	b->data = n;
	b->size = nsize;
	b->head = 0;
	return 0;
}

/*
 * Make at least `want` bytes free (want <= cap - len), growing by doubling.
 * Returns 0, -ENOBUFS (the budget refused) or -ENOMEM (the buffer is
 * unchanged then).
 */
static int ensure_free(struct buf *b, size_t want)
{
	size_t need = b->len + want;
	if (b->data != NULL && b->size >= need)
		return 0;
	size_t nsize = b->size != 0 ? b->size : BUF_MIN_ALLOC;
	while (nsize < need) {
		if (nsize > SIZE_MAX / 2) {
			nsize = need;
			break;
		}
		nsize *= 2;
	}
	if (nsize > b->cap)
		nsize = MAX(b->cap, need);
	return relocate(b, nsize);
}

int buf_append(struct buf *b, const void *data, size_t n)
{
	if (n == 0)
		return 0;
	if (n > buf_space(b))
		return -ENOBUFS;
	int rc = ensure_free(b, n);
	if (rc < 0)
		return rc;
	size_t t = tail_off(b);
	size_t first = MIN(n, b->size - t);
	memcpy(b->data + t, data, first);
	memcpy(b->data, (const char *)data + first, n - first);
	b->len += n;
	return 0;
}

const char *buf_peek(const struct buf *b, size_t *len)
{
	if (b->len == 0) {
		*len = 0;
		return NULL;
	}
	*len = MIN(b->len, b->size - b->head);
	return b->data + b->head;
}

int buf_peekv(const struct buf *b, struct iovec iov[2])
{
	if (b->len == 0)
		return 0;
	size_t first = MIN(b->len, b->size - b->head);
	iov[0].iov_base = b->data + b->head;
	iov[0].iov_len = first;
	if (first == b->len)
		return 1;
	iov[1].iov_base = b->data;
	iov[1].iov_len = b->len - first;
	return 2;
}

void buf_consume(struct buf *b, size_t n)
{
	if (n >= b->len) {
		release(b);
		return;
	}
	b->head += n;
	if (b->head >= b->size)
		b->head -= b->size;
	b->len -= n;
}

/* Free space as up to two spans in ring order; returns the count. */
static int free_spans(struct buf *b, struct iovec iov[2])
{
	size_t freeb = b->size - b->len;
	if (freeb == 0)
		return 0;
	size_t t = tail_off(b);
	size_t first = MIN(freeb, b->size - t);
	iov[0].iov_base = b->data + t;
	iov[0].iov_len = first;
	if (first == freeb)
		return 1;
	iov[1].iov_base = b->data;
	iov[1].iov_len = freeb - first;
	return 2;
}

char *buf_reserve(struct buf *b, size_t want, size_t *avail)
{
	*avail = 0;
	size_t space = buf_space(b);
	if (space == 0)
		return NULL;
	if (want == 0)
		want = 1;
	want = MIN(want, space);
	int rc = ensure_free(b, want);
	if (rc < 0) {
		errno = -rc;
		return NULL;
	}
	if (b->len == 0)
		b->head = 0;
	struct iovec iov[2] = { { NULL, 0 }, { NULL, 0 } };
	free_spans(b, iov);
	if (iov[0].iov_len < want) {
		/* Free space is split by the wrap: re-lay the ring linearly. */
		rc = relocate(b, b->size);
		if (rc < 0) {
			errno = -rc;
			return NULL;
		}
		free_spans(b, iov);
	}
	*avail = iov[0].iov_len;
	return iov[0].iov_base;
}

void buf_commit(struct buf *b, size_t n)
{
	b->len += n;
	if (b->len == 0)
		release(b);
}

ssize_t buf_read_fd(struct buf *b, int fd, size_t max)
{
	size_t space = buf_space(b);
	if (space == 0)
		return -ENOBUFS;
	if (max == 0 || max > space)
		max = space;
	int rc = ensure_free(b, MIN(max, (size_t)BUF_READ_CHUNK));
	if (rc < 0)
		return rc;
	if (b->len == 0)
		b->head = 0;

	struct iovec iov[2];
	int cnt = free_spans(b, iov);
	size_t left = max;
	for (int i = 0; i < cnt; i++) {
		if (iov[i].iov_len >= left) {
			iov[i].iov_len = left;
			cnt = i + 1;
			break;
		}
		left -= iov[i].iov_len;
	}
	ssize_t n;
	do {
		n = readv(fd, iov, cnt);
	} while (n < 0 && errno == EINTR);
	if (n < 0) {
		int e = errno;
		if (b->len == 0)
			release(b);
		return e == EWOULDBLOCK ? -EAGAIN : -e;
	}
	buf_commit(b, (size_t)n);
	return n;
}

ssize_t buf_write_fd(struct buf *b, int fd)
{
	struct iovec iov[2];
	int cnt = buf_peekv(b, iov);
	if (cnt == 0)
		return 0;
	ssize_t n = buf_writev_fd(fd, iov, cnt);
	if (n > 0)
		buf_consume(b, (size_t)n);
	return n;
}

ssize_t buf_writev_fd(int fd, const struct iovec *iov, int cnt)
{
	struct msghdr msg;
	ssize_t n;
	bool sock = true;

	memset(&msg, 0, sizeof(msg));
	msg.msg_iov = (struct iovec *)(uintptr_t)iov;
	msg.msg_iovlen = (size_t)cnt;
	for (;;) {
		if (sock) {
			n = sendmsg(fd, &msg, MSG_NOSIGNAL);
			if (n < 0 && errno == ENOTSOCK) {
				sock = false;
				continue;
			}
		} else {
			n = writev(fd, iov, cnt);
		}
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	}
}
