/* Unit tests for base/file: capped reads and atomic replacement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	snprintf(f->dir, sizeof(f->dir), "/tmp/threshold-test-file-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/state.json", f->dir);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	DIR *d = opendir(f->dir);
	struct dirent *e;
	char p[512];
	while (d && (e = readdir(d)) != NULL) {
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(p, sizeof(p), "%s/%s", f->dir, e->d_name);
			unlink(p);
		}
	}
	if (d)
		closedir(d);
	rmdir(f->dir);
	free(f);
	return 0;
}

/* Files in the directory, the named one included. */
static int count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;
	while (d && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
			n++;
	if (d)
		closedir(d);
	return n;
}

static void test_write_then_read(void **state)
{
	struct fx *f = *state;
	char err[FILE_ERRLEN];
	size_t len = 0;
	assert_int_equal(file_write_atomic(f->path, 0600, "[1,2]\n", 6, err), 0);
	struct stat st;
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	char *t = file_read_capped(f->path, 1024, &len, NULL, err);
	assert_non_null(t);
	assert_int_equal(len, 6);
	assert_string_equal(t, "[1,2]\n"); /* NUL-terminated */
	free(t);
	/* Replacing leaves one file, no temporary behind. */
	assert_int_equal(file_write_atomic(f->path, 0644, "x", 1, err), 0);
	assert_int_equal(count_entries(f->dir), 1);
	assert_int_equal(stat(f->path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0644);
}

static void test_read_cap_exact_and_over(void **state)
{
	struct fx *f = *state;
	char err[FILE_ERRLEN];
	size_t len = 0;
	int e = -1;
	char *big = malloc(200000);
	memset(big, 'a', 200000);
	assert_int_equal(file_write_atomic(f->path, 0600, big, 200000, err), 0);
	char *t = file_read_capped(f->path, 200000, &len, &e, err); /* exactly the cap */
	assert_non_null(t);
	assert_int_equal(len, 200000);
	assert_int_equal(e, 0);
	free(t);
	t = file_read_capped(f->path, 199999, &len, &e, err); /* one over */
	assert_null(t);
	assert_int_equal(e, EFBIG);
	assert_non_null(strstr(err, "larger than 199999 bytes"));
	free(big);
}

static void test_read_endless_source_is_capped(void **state)
{
	(void)state;
	char err[FILE_ERRLEN];
	size_t len = 0;
	int e = 0;
	/* /dev/zero never ends: the cap must stop the read. */
	char *t = file_read_capped("/dev/zero", 100000, &len, &e, err);
	assert_null(t);
	assert_int_equal(e, EFBIG);
}

static void test_read_missing_and_dir(void **state)
{
	struct fx *f = *state;
	char err[FILE_ERRLEN];
	size_t len = 0;
	int e = 0;
	assert_null(file_read_capped(f->path, 10, &len, &e, err));
	assert_int_equal(e, ENOENT);
	assert_non_null(strstr(err, "cannot open"));
	assert_null(file_read_capped(f->dir, 10, &len, &e, err));
	assert_int_equal(e, EISDIR);
	assert_non_null(strstr(err, "is a directory"));
}

static int fill_fails(FILE *fp, void *arg)
{
	(void)arg;
	fputs("partial", fp);
	return -1;
}

static void test_failed_fill_leaves_old_file(void **state)
{
	struct fx *f = *state;
	char err[FILE_ERRLEN];
	size_t len = 0;
	assert_int_equal(file_write_atomic(f->path, 0600, "old", 3, err), 0);
	assert_int_equal(file_write_atomic_fn(f->path, 0600, fill_fails, NULL, err), -1);
	char *t = file_read_capped(f->path, 100, &len, NULL, err);
	assert_non_null(t);
	assert_string_equal(t, "old");
	free(t);
	assert_int_equal(count_entries(f->dir), 1); /* the temporary is gone */
}

static void test_write_into_missing_dir(void **state)
{
	struct fx *f = *state;
	char err[FILE_ERRLEN], p[256];
	snprintf(p, sizeof(p), "%s/nope/state.json", f->dir);
	assert_int_equal(file_write_atomic(p, 0600, "x", 1, err), -1);
	assert_non_null(strstr(err, "cannot create a temporary file"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_then_read, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_cap_exact_and_over, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_endless_source_is_capped, setup, teardown),
		cmocka_unit_test_setup_teardown(test_read_missing_and_dir, setup, teardown),
		cmocka_unit_test_setup_teardown(test_failed_fill_leaves_old_file, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_into_missing_dir, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
