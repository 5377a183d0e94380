/*
 * file: whole-file reads with a size cap and atomic replacement of a file.
 *
 * Used by the config loader, the tunnel state file and `threshold certs`.
 * Both functions are blocking (local files, at start-up or after a
 * management request), return 0 / a pointer on success and write a
 * one-line reason into the caller's `err` (FILE_ERRLEN bytes; may be NULL)
 * while errno is fresh, as sock.h does.
 */
#ifndef THRESHOLD_BASE_FILE_H
#define THRESHOLD_BASE_FILE_H

#include <stdio.h>
#include <sys/types.h>

#define FILE_ERRLEN 512

/*
 * Reads all of `path` into a new buffer (caller frees) with a NUL after
 * the last byte, which *len does not count. A file of more than `cap`
 * bytes is refused ("PATH: larger than CAP bytes") without reading past
 * cap + 1 bytes, so a huge or endless file (a FIFO, /dev/zero) costs at
 * most cap. A directory is refused. On failure returns NULL and sets
 * *err_no (may be NULL) to the errno behind it (ENOENT for a missing file,
 * EFBIG for too large, EISDIR, ENOMEM, ...).
 */
char *file_read_capped(const char *path, size_t cap, size_t *len, int *err_no, char *err);

/*
 * Replaces `path` atomically: a temporary file in the same directory
 * (mkstemp, so never a predictable name), given `mode` with fchmod before
 * anything is written, filled by `fill(f, arg)` (returns 0 on success),
 * flushed and fsync'ed, renamed over `path`, then the directory fsync'ed so
 * the rename itself survives a crash. On any failure the temporary file is
 * removed, `path` is untouched and -1 is returned.
 */
int file_write_atomic_fn(const char *path, mode_t mode, int (*fill)(FILE *f, void *arg), void *arg,
			 char *err);

/* The same with a byte buffer as the content. */
int file_write_atomic(const char *path, mode_t mode, const void *data, size_t len, char *err);

#endif
