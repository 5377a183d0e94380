#include "base/file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void set_err(char *err, const char *path, const char *what, int e)
{
	if (err == NULL)
		return;
	if (e)
		snprintf(err, FILE_ERRLEN, "%.400s: %s: %s", path, what, strerror(e));
	else
		snprintf(err, FILE_ERRLEN, "%.400s: %s", path, what);
}

char *file_read_capped(const char *path, size_t cap, size_t *len, int *err_no, char *err)
{
	char *buf = NULL;
	int e = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		set_err(err, path, "cannot open", e);
		goto out;
	}
	struct stat st;
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		e = EISDIR;
		set_err(err, path, "is a directory", 0);
		goto fail;
	}
	/* Grow from 64 KiB (or the file's size when it is known and smaller
	 * than the cap) up to cap + 1, the byte that proves "too large". */
	size_t want = 64 * 1024;
	if (S_ISREG(st.st_mode) && st.st_size >= 0 && (size_t)st.st_size < cap)
		want = (size_t)st.st_size + 1;
	size_t size = (want < cap + 1 ? want : cap + 1) + 1, n = 0;
	buf = malloc(size);
	if (buf == NULL)
		goto oom;
	for (;;) {
		if (n == size - 1) {
			if (n > cap) {
				e = EFBIG;
				if (err)
					snprintf(err, FILE_ERRLEN, "%.400s: larger than %zu bytes", path, cap);
				goto fail;
			}
			size_t nsize = (size - 1) * 2 > cap + 1 ? cap + 2 : (size - 1) * 2 + 1;
			char *nb = realloc(buf, nsize);
			if (nb == NULL)
				goto oom;
			buf = nb;
			size = nsize;
		}
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			e = errno;
			set_err(err, path, "cannot read", e);
			goto fail;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	buf[n] = '\0';
	*len = n;
	if (err_no)
		*err_no = 0;
	return buf;
oom:
	e = ENOMEM;
	set_err(err, path, "out of memory", 0);
fail:
	free(buf);
	buf = NULL;
	close(fd);
out:
	if (err_no)
		*err_no = e;
	return NULL;
}

/* The directory part of `path` ("." when it has none). */
static void dir_of(const char *path, char *out, size_t outlen)
{
	const char *slash = strrchr(path, '/');
	if (slash == NULL)
		snprintf(out, outlen, ".");
	else if (slash == path)
		snprintf(out, outlen, "/");
	else
		snprintf(out, outlen, "%.*s", (int)(slash - path), path);
}

int file_write_atomic_fn(const char *path, mode_t mode, int (*fill)(FILE *f, void *arg), void *arg,
			 char *err)
{
	char dir[PATH_MAX], tmp[PATH_MAX];
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	dir_of(path, dir, sizeof(dir));
	if (*base == '\0' || strlen(path) >= sizeof(dir) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.XXXXXX", dir, base) >= (int)sizeof(tmp)) {
		set_err(err, path, "path too long or not a file name", 0);
		return -1;
	}
	int fd = mkstemp(tmp);
	if (fd < 0) {
		set_err(err, path, "cannot create a temporary file", errno);
		return -1;
	}
	FILE *f = fdopen(fd, "w");
	if (f == NULL) {
		set_err(err, path, "cannot write", errno);
		close(fd);
		unlink(tmp);
		return -1;
	}
	const char *what = "cannot write";
	int rc = 0, saved = 0;
	errno = 0;
	if (fchmod(fd, mode) != 0) {
		rc = -1;
		what = "cannot set the mode";
	} else if (fill(f, arg) != 0) {
		rc = -1;
	} else if (fflush(f) != 0 || fsync(fd) != 0) {
		rc = -1;
	}
	saved = errno;
	if (fclose(f) != 0 && rc == 0) {
		rc = -1;
		saved = errno;
	}
	if (rc == 0 && rename(tmp, path) != 0) {
		rc = -1;
		saved = errno;
		what = "cannot rename into place";
	}
	if (rc != 0) {
		unlink(tmp);
		set_err(err, path, what, saved);
		return -1;
	}
	/* The rename is durable only once the directory is. */
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		if (fsync(dfd) != 0 && errno != EINVAL) {
			set_err(err, dir, "cannot sync the directory", errno);
			rc = -1;
		}
		close(dfd);
	}
	return rc;
}

struct bytes {
	const void *data;
	size_t len;
};

static int fill_bytes(FILE *f, void *arg)
{
	const struct bytes *b = arg;
	return b->len == 0 || fwrite(b->data, 1, b->len, f) == b->len ? 0 : -1;
}

int file_write_atomic(const char *path, mode_t mode, const void *data, size_t len, char *err)
{
	struct bytes b = { data, len };
	return file_write_atomic_fn(path, mode, fill_bytes, &b, err);
}
