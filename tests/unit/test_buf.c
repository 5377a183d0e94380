/* Unit tests for base/buf: lazy storage, cap, ring wrap, fd I/O. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/buf.h"

#define MIN_T(a, b) ((a) < (b) ? (a) : (b))

/* Byte i of the test stream. */
static char pat(size_t i)
{
	return (char)(i * 7 + (i >> 8) + 1);
}

static void fill_pat(char *p, size_t off, size_t n)
{
	for (size_t i = 0; i < n; i++)
		p[i] = pat(off + i);
}

static void test_lazy_alloc_and_release(void **state)
{
	(void)state;
	struct buf b;
	buf_init(&b, 1000);
	assert_false(buf_allocated(&b));
	assert_true(buf_empty(&b));
	assert_int_equal(buf_space(&b), 1000);

	assert_int_equal(buf_append(&b, "hello", 5), 0);
	assert_true(buf_allocated(&b));
	assert_int_equal(buf_len(&b), 5);
	assert_int_equal(buf_space(&b), 995);

	size_t n;
	const char *p = buf_peek(&b, &n);
	assert_int_equal(n, 5);
	assert_memory_equal(p, "hello", 5);

	buf_consume(&b, 2);
	p = buf_peek(&b, &n);
	assert_int_equal(n, 3);
	assert_memory_equal(p, "llo", 3);
	assert_true(buf_allocated(&b));

	buf_consume(&b, 3);
	assert_false(buf_allocated(&b)); /* released when empty */
	assert_null(buf_peek(&b, &n));
	assert_int_equal(n, 0);

	/* Zero-length append allocates nothing. */
	assert_int_equal(buf_append(&b, "", 0), 0);
	assert_false(buf_allocated(&b));
	buf_reset(&b);
	buf_reset(NULL);
}

static void test_cap(void **state)
{
	(void)state;
	struct buf *b = buf_new(10);
	assert_non_null(b);
	assert_int_equal(buf_append(b, "0123456", 7), 0);
	/* All or nothing. */
	assert_int_equal(buf_append(b, "abcd", 4), -ENOBUFS);
	assert_int_equal(buf_len(b), 7);
	assert_int_equal(buf_append(b, "abc", 3), 0);
	assert_true(buf_full(b));
	assert_int_equal(buf_space(b), 0);
	assert_int_equal(buf_append(b, "x", 1), -ENOBUFS);

	size_t avail = 99;
	assert_null(buf_reserve(b, 1, &avail));
	assert_int_equal(avail, 0);

	int fds[2];
	assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
	assert_int_equal(write(fds[1], "zz", 2), 2);
	assert_int_equal(buf_read_fd(b, fds[0], 0), -ENOBUFS);

	size_t n;
	const char *p = buf_peek(b, &n);
	assert_int_equal(n, 10);
	assert_memory_equal(p, "0123456abc", 10);

	assert_int_equal(buf_set_cap(b, 5), -EINVAL); /* below length */
	assert_int_equal(buf_set_cap(b, 12), 0);
	assert_int_equal(buf_read_fd(b, fds[0], 0), 2);
	assert_int_equal(buf_len(b), 12);

	close(fds[0]);
	close(fds[1]);
	buf_free(b);
	buf_free(NULL);
}

static void test_wrap_and_peekv(void **state)
{
	(void)state;
	struct buf b;
	char tmp[4096];
	struct iovec iov[2];

	buf_init(&b, BUF_MIN_ALLOC);
	fill_pat(tmp, 0, 3000);
	assert_int_equal(buf_append(&b, tmp, 3000), 0);
	buf_consume(&b, 2500); /* head at 2500, 500 left */
	fill_pat(tmp, 3000, 3000);
	assert_int_equal(buf_append(&b, tmp, 3000), 0); /* wraps */
	assert_int_equal(buf_len(&b), 3500);

	assert_int_equal(buf_peekv(&b, iov), 2);
	assert_int_equal(iov[0].iov_len + iov[1].iov_len, 3500);
	size_t n;
	const char *p = buf_peek(&b, &n);
	assert_ptr_equal(p, iov[0].iov_base);
	assert_int_equal(n, iov[0].iov_len);
	assert_true(n < 3500);

	size_t off = 2500;
	for (int i = 0; i < 2; i++) {
		const char *q = iov[i].iov_base;
		for (size_t k = 0; k < iov[i].iov_len; k++)
			assert_int_equal(q[k], pat(off + k));
		off += iov[i].iov_len;
	}

	/* Grow while wrapped: order is kept. */
	buf_set_cap(&b, 64 * 1024);
	fill_pat(tmp, 6000, 4000);
	assert_int_equal(buf_append(&b, tmp, 4000), 0);
	assert_int_equal(buf_len(&b), 7500);
	off = 2500;
	while (!buf_empty(&b)) {
		p = buf_peek(&b, &n);
		for (size_t k = 0; k < n; k++)
			assert_int_equal(p[k], pat(off + k));
		off += n;
		buf_consume(&b, n);
	}
	assert_int_equal(off, 10000);
	assert_false(buf_allocated(&b));
}

static void test_reserve_commit(void **state)
{
	(void)state;
	struct buf b;
	size_t avail;
	char tmp[BUF_MIN_ALLOC];

	buf_init(&b, BUF_MIN_ALLOC);
	char *w = buf_reserve(&b, 100, &avail);
	assert_non_null(w);
	assert_true(avail >= 100);
	buf_commit(&b, 0); /* nothing produced: storage given back */
	assert_false(buf_allocated(&b));

	/* Wrapped free space: reserve re-lays it out to be contiguous. */
	fill_pat(tmp, 0, BUF_MIN_ALLOC);
	assert_int_equal(buf_append(&b, tmp, BUF_MIN_ALLOC - 100), 0);
	buf_consume(&b, 1000);
	w = buf_reserve(&b, 600, &avail);
	assert_non_null(w);
	assert_true(avail >= 600);
	fill_pat(w, BUF_MIN_ALLOC - 100, 600);
	buf_commit(&b, 600);
	assert_int_equal(buf_len(&b), BUF_MIN_ALLOC - 100 - 1000 + 600);
	size_t off = 1000, n;
	while (!buf_empty(&b)) {
		const char *p = buf_peek(&b, &n);
		for (size_t k = 0; k < n; k++)
			assert_int_equal(p[k], pat(off + k));
		off += n;
		buf_consume(&b, n);
	}
	assert_int_equal(off, BUF_MIN_ALLOC + 500);
}

static void test_read_fd(void **state)
{
	(void)state;
	struct buf b;
	int fds[2];
	buf_init(&b, 1 << 20);
	assert_int_equal(pipe2(fds, O_NONBLOCK), 0);

	/* Nothing ready: -EAGAIN and no storage kept. */
	assert_int_equal(buf_read_fd(&b, fds[0], 0), -EAGAIN);
	assert_false(buf_allocated(&b));

	assert_int_equal(write(fds[1], "abcdef", 6), 6);
	assert_int_equal(buf_read_fd(&b, fds[0], 4), 4); /* max honoured */
	assert_int_equal(buf_read_fd(&b, fds[0], 0), 2);
	size_t n;
	const char *p = buf_peek(&b, &n);
	assert_int_equal(n, 6);
	assert_memory_equal(p, "abcdef", 6);
	assert_int_equal(buf_read_fd(&b, fds[0], 0), -EAGAIN);
	assert_int_equal(buf_len(&b), 6); /* kept: not empty */

	/* End of file: 0, storage released once drained. */
	close(fds[1]);
	buf_consume(&b, 6);
	assert_int_equal(buf_read_fd(&b, fds[0], 0), 0);
	assert_false(buf_allocated(&b));

	assert_true(buf_read_fd(&b, -1, 0) == -EBADF);
	assert_false(buf_allocated(&b));
	close(fds[0]);
}

/*
 * Partial writes: a socketpair with a small send buffer takes only part of
 * a large buffer; what was written is consumed, the rest stays in order.
 */
static void test_partial_writes(void **state)
{
	(void)state;
	enum { TOTAL = 256 * 1024 };
	int sv[2];
	int sndbuf = 4096;
	struct buf out;
	static char src[TOTAL], dst[TOTAL];
	size_t got = 0;
	int partial = 0;

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &sndbuf,
				    sizeof(sndbuf)), 0);
	fill_pat(src, 0, TOTAL);
	buf_init(&out, TOTAL);
	assert_int_equal(buf_append(&out, src, TOTAL), 0);

	for (int round = 0; round < 100000 && got < TOTAL; round++) {
		size_t before = buf_len(&out);
		ssize_t w = buf_write_fd(&out, sv[0]);
		if (before == 0) {
			assert_int_equal(w, 0);
		} else if (w == -EAGAIN) {
			assert_int_equal(buf_len(&out), before);
		} else {
			assert_true(w > 0);
			assert_int_equal(buf_len(&out), before - (size_t)w);
			if ((size_t)w < before)
				partial++;
		}
		ssize_t r = read(sv[1], dst + got, TOTAL - got);
		if (r > 0)
			got += (size_t)r;
		else
			assert_true(r < 0 && errno == EAGAIN);
	}
	assert_int_equal(got, TOTAL);
	assert_memory_equal(src, dst, TOTAL);
	assert_true(partial > 0);
	assert_true(buf_empty(&out));
	assert_false(buf_allocated(&out));
	close(sv[0]);
	close(sv[1]);
}

static void test_writev_fd(void **state)
{
	(void)state;
	int fds[2], sv[2];
	char rd[16];
	struct iovec iov[3] = {
		{ (char *)"hdr:", 4 }, { (char *)"pay", 3 }, { (char *)"load", 4 },
	};

	/* A pipe is not a socket: falls back to writev. */
	assert_int_equal(pipe2(fds, O_NONBLOCK), 0);
	assert_int_equal(buf_writev_fd(fds[1], iov, 3), 11);
	assert_int_equal(read(fds[0], rd, sizeof(rd)), 11);
	assert_memory_equal(rd, "hdr:payload", 11);

	/* A socket whose peer is gone: -EPIPE, and no SIGPIPE kills us. */
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
	assert_int_equal(buf_writev_fd(sv[0], iov, 3), 11);
	close(sv[1]);
	assert_int_equal(buf_writev_fd(sv[0], iov, 3), -EPIPE);

	struct buf b;
	buf_init(&b, 100);
	assert_int_equal(buf_write_fd(&b, sv[0]), 0); /* empty: no syscall */
	buf_append(&b, "x", 1);
	assert_int_equal(buf_write_fd(&b, sv[0]), -EPIPE);
	assert_int_equal(buf_len(&b), 1);
	buf_reset(&b);
	assert_false(buf_allocated(&b));

	close(sv[0]);
	close(fds[0]);
	close(fds[1]);
}

/* Random operations against a reference byte queue. */
static void test_random_model(void **state)
{
	(void)state;
	enum { CAP = 10000, STREAM = 1 << 20 };
	struct buf b;
	static char tmp[CAP];
	size_t wr = 0, rd = 0; /* stream offsets produced / consumed */
	unsigned seed = 12345;

	buf_init(&b, CAP);
	for (int i = 0; i < 20000 && wr < STREAM; i++) {
		seed = seed * 1103515245u + 12345u;
		unsigned r = seed >> 8;
		switch (r % 4) {
		case 0: case 1: { /* append */
			size_t n = r / 4 % 3000;
			fill_pat(tmp, wr, n);
			int rc = buf_append(&b, tmp, n);
			if (n > CAP - (wr - rd)) {
				assert_int_equal(rc, -ENOBUFS);
			} else {
				assert_int_equal(rc, 0);
				wr += n;
			}
			break;
		}
		case 2: { /* reserve + commit */
			size_t want = r / 4 % 2000, avail;
			char *w = buf_reserve(&b, want, &avail);
			if (wr - rd == CAP) {
				assert_null(w);
				break;
			}
			assert_non_null(w);
			assert_true(avail >= (want ? want : 1) ||
				    avail >= CAP - (wr - rd));
			size_t n = MIN_T(avail, want);
			fill_pat(w, wr, n);
			buf_commit(&b, n);
			wr += n;
			break;
		}
		default: { /* consume part of the first span */
			size_t n;
			const char *p = buf_peek(&b, &n);
			size_t take = n ? (r / 4) % (n + 1) : 0;
			for (size_t k = 0; k < take; k++)
				assert_int_equal(p[k], pat(rd + k));
			buf_consume(&b, take);
			rd += take;
			break;
		}
		}
		assert_int_equal(buf_len(&b), wr - rd);
		assert_int_equal(buf_allocated(&b), wr != rd);
	}
	buf_reset(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lazy_alloc_and_release),
		cmocka_unit_test(test_cap),
		cmocka_unit_test(test_wrap_and_peekv),
		cmocka_unit_test(test_reserve_commit),
		cmocka_unit_test(test_read_fd),
		cmocka_unit_test(test_partial_writes),
		cmocka_unit_test(test_writev_fd),
		cmocka_unit_test(test_random_model),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
