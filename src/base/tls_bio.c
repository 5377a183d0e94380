/* tls_bio: the record-batching output BIO. See tls_bio.h. */
#include "base/tls_bio.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int tls_bio_flush(struct tls_bio_buf *o, bool keep)
{
	while (o->off < o->len) {
		ssize_t w = send(o->fd, o->buf + o->off, o->len - o->off, MSG_NOSIGNAL);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return -EAGAIN;
			return -errno;
		}
		o->off += (size_t)w;
	}
	o->off = o->len = 0;
	if (!keep) {
		free(o->buf);
		o->buf = NULL;
		o->cap = 0;
	}
	return 0;
}

void tls_bio_buf_free(struct tls_bio_buf *o)
{
	free(o->buf);
	o->buf = NULL;
	o->off = o->len = o->cap = 0;
}

/* Room for len more bytes in the buffer: one record's size for handshake
 * flights and small writes, a whole batch (plus the record that ends it)
 * once more is needed, so a batch is never copied to grow. */
#define TLS_OUT_SMALL (TLS_RECORD + 1024)
#define TLS_OUT_BATCH (TLS_BATCH + TLS_OUT_SMALL)
static int out_reserve(struct tls_bio_buf *o, size_t len)
{
	/* tls_bio_flush() resets the offsets when the buffer empties. */
	size_t held = tls_bio_held(o);
	if (o->len + len <= o->cap)
		return 0;
	if (o->off > 0) {
		memmove(o->buf, o->buf + o->off, held);
		o->len = held;
		o->off = 0;
		if (held + len <= o->cap)
			return 0;
	}
	size_t cap = held + len <= TLS_OUT_SMALL ? TLS_OUT_SMALL : TLS_OUT_BATCH;
	while (cap < held + len)
		cap *= 2;
	if (held == 0) { /* nothing to keep: no copy */
		free(o->buf);
		o->buf = NULL;
		o->cap = 0;
	}
	unsigned char *p = realloc(o->buf, cap);
	if (p == NULL)
		return -1;
	o->buf = p;
	o->cap = cap;
	return 0;
}

static int out_bio_write(BIO *b, const char *data, size_t len, size_t *written)
{
	struct tls_bio_buf *o = BIO_get_data(b);
	BIO_clear_retry_flags(b);
	if (!o->direct && tls_bio_held(o) == 0 && BIO_get_ktls_send(BIO_next(b)))
		o->direct = true;
	if (o->direct) {
		int r = BIO_write_ex(BIO_next(b), data, len, written);
		BIO_copy_next_retry(b);
		return r;
	}
	if (out_reserve(o, len) != 0)
		return 0;
	memcpy(o->buf + o->len, data, len);
	o->len += len;
	*written = len;
	return 1;
}

static long out_bio_ctrl(BIO *b, int cmd, long num, void *ptr)
{
	struct tls_bio_buf *o = BIO_get_data(b);
	BIO *next = BIO_next(b);
	switch (cmd) {
	case BIO_CTRL_FLUSH: {
		BIO_clear_retry_flags(b);
		int r = tls_bio_flush(o, false);
		if (r == -EAGAIN) {
			BIO_set_retry_write(b);
			return -1;
		}
		if (r < 0) {
			errno = -r;
			return -1;
		}
		break;
	}
	case BIO_CTRL_WPENDING:
		return (long)tls_bio_held(o) + (next ? BIO_ctrl(next, cmd, num, ptr) : 0);
	default:
		break;
	}
	return next ? BIO_ctrl(next, cmd, num, ptr) : 0;
}

static int out_bio_create(BIO *b)
{
	BIO_set_init(b, 1);
	return 1;
}

static int out_bio_destroy(BIO *b)
{
	BIO_set_data(b, NULL); /* the transport owns the buffer */
	return 1;
}

BIO_METHOD *tls_bio_method_new(void)
{
	BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_FILTER, "threshold record batch");
	if (m == NULL || BIO_meth_set_write_ex(m, out_bio_write) != 1 || BIO_meth_set_ctrl(m, out_bio_ctrl) != 1 ||
	    BIO_meth_set_create(m, out_bio_create) != 1 || BIO_meth_set_destroy(m, out_bio_destroy) != 1) {
		BIO_meth_free(m);
		return NULL;
	}
	return m;
}

BIO *tls_bio_new(BIO_METHOD *m, struct tls_bio_buf *o)
{
	BIO *b = BIO_new(m);
	if (b != NULL)
		BIO_set_data(b, o);
	return b;
}
