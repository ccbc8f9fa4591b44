// SPDX-License-Identifier: GPL-2.0
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>
#include "output_file.h"

struct fx {
	char dir[64];
	char path[128];
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -1;
	strcpy(fx->dir, "/tmp/test_output_file.XXXXXX");
	if (!mkdtemp(fx->dir))
		return -1;
	snprintf(fx->path, sizeof(fx->path), "%s/out.json", fx->dir);
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	struct dirent *de;
	char p[512];
	DIR *d = opendir(fx->dir);

	/* Best effort: tests leave at most a file or an empty directory. */
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' && (!de->d_name[1] || !strcmp(de->d_name, "..")))
			continue;
		snprintf(p, sizeof(p), "%s/%s", fx->dir, de->d_name);
		if (unlink(p))
			rmdir(p);
	}
	if (d)
		closedir(d);
	rmdir(fx->dir);
	free(fx);
	return 0;
}

/* Number of entries in @dir other than . and ..; the first name goes to @name. */
static int dir_entries(const char *dir, char *name, size_t len)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	assert_non_null(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (!n && name)
			snprintf(name, len, "%s", de->d_name);
		n++;
	}
	closedir(d);
	return n;
}

static void assert_file_is(const char *path, const char *want)
{
	char buf[256] = { 0 };
	FILE *f = fopen(path, "r");
	size_t n;

	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	assert_int_equal(n, strlen(want));
	assert_string_equal(buf, want);
}

static void test_commit(void **state)
{
	struct fx *fx = *state;
	struct output_file of;
	char name[256], tmp[512];
	struct stat st;
	FILE *f;

	f = output_file_open(fx->path, &of);
	assert_non_null(f);
	fputs("{\"pid\":1}\n", f);
	/* Before commit only a hidden temporary exists, already 0644. */
	assert_int_equal(access(fx->path, F_OK), -1);
	assert_int_equal(dir_entries(fx->dir, name, sizeof(name)), 1);
	assert_true(name[0] == '.');
	assert_non_null(strstr(name, "out.json"));
	snprintf(tmp, sizeof(tmp), "%s/%s", fx->dir, name);
	assert_int_equal(stat(tmp, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);

	assert_int_equal(output_file_commit(&of), 0);
	assert_int_equal(dir_entries(fx->dir, name, sizeof(name)), 1);
	assert_string_equal(name, "out.json");
	assert_int_equal(stat(fx->path, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0644);
	assert_file_is(fx->path, "{\"pid\":1}\n");
}

static void test_abort_leaves_nothing(void **state)
{
	struct fx *fx = *state;
	struct output_file of;
	FILE *f;

	f = output_file_open(fx->path, &of);
	assert_non_null(f);
	fputs("partial", f);
	output_file_abort(&of);
	assert_int_equal(dir_entries(fx->dir, NULL, 0), 0);
	output_file_abort(&of);	/* a second abort is harmless */
	assert_int_equal(output_file_commit(&of), -EINVAL);
}

static void test_replace_and_keep(void **state)
{
	struct fx *fx = *state;
	struct output_file of;
	FILE *f;

	f = fopen(fx->path, "w");
	assert_non_null(f);
	fputs("old\n", f);
	fclose(f);

	/* An aborted run leaves the previous file exactly as it was. */
	f = output_file_open(fx->path, &of);
	assert_non_null(f);
	fputs("new but broken", f);
	output_file_abort(&of);
	assert_int_equal(dir_entries(fx->dir, NULL, 0), 1);
	assert_file_is(fx->path, "old\n");

	f = output_file_open(fx->path, &of);
	assert_non_null(f);
	fputs("new\n", f);
	assert_int_equal(output_file_commit(&of), 0);
	assert_int_equal(dir_entries(fx->dir, NULL, 0), 1);
	assert_file_is(fx->path, "new\n");
}

static void test_rename_failure(void **state)
{
	struct fx *fx = *state;
	struct output_file of;
	char sub[256], inner[300], name[256];
	FILE *f;

	/* The target is a non-empty directory: rename() must fail. */
	snprintf(sub, sizeof(sub), "%s/target", fx->dir);
	assert_int_equal(mkdir(sub, 0755), 0);
	snprintf(inner, sizeof(inner), "%s/keep", sub);
	assert_int_equal(mkdir(inner, 0755), 0);

	f = output_file_open(sub, &of);
	assert_non_null(f);
	fputs("data", f);
	assert_int_equal(output_file_commit(&of), -EISDIR);
	assert_int_equal(dir_entries(fx->dir, name, sizeof(name)), 1);
	assert_string_equal(name, "target");
	assert_int_equal(rmdir(inner), 0);
}

static void test_open_failure(void **state)
{
	struct fx *fx = *state;
	struct output_file of;
	char path[256];

	snprintf(path, sizeof(path), "%s/missing/out.json", fx->dir);
	errno = 0;
	assert_null(output_file_open(path, &of));
	assert_int_equal(errno, ENOENT);
	assert_null(of.f);
	assert_null(of.tmp);
	errno = 0;
	assert_null(output_file_open("", &of));
	assert_int_equal(errno, EINVAL);
	assert_int_equal(dir_entries(fx->dir, NULL, 0), 0);
}

static void test_relative_path(void **state)
{
	struct fx *fx = *state;
	struct output_file of;
	char cwd[512], name[256];
	FILE *f;

	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_int_equal(chdir(fx->dir), 0);
	f = output_file_open("plain.txt", &of);
	assert_non_null(f);
	fputs("x", f);
	assert_int_equal(output_file_commit(&of), 0);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(dir_entries(fx->dir, name, sizeof(name)), 1);
	assert_string_equal(name, "plain.txt");
}

static void test_stdout(void **state)
{
	struct output_file of;

	assert_ptr_equal(output_file_open("-", &of), stdout);
	assert_null(of.tmp);
	assert_int_equal(output_file_commit(&of), 0);
	/* stdout is still usable afterwards: commit only flushed it. */
	assert_true(fprintf(stdout, "%s", "") >= 0);
	assert_ptr_equal(output_file_open("-", &of), stdout);
	output_file_abort(&of);
	assert_int_equal(fflush(stdout), 0);
}

/* A path that cannot be created is told before a session starts, and leaves nothing. */
static void test_check(void **state)
{
	struct fx *fx = *state;
	char path[256];
	FILE *f;

	assert_int_equal(output_file_check(fx->path), 0);
	assert_int_equal(dir_entries(fx->dir, NULL, 0), 0);
	assert_int_equal(output_file_check("-"), 0);
	snprintf(path, sizeof(path), "%s/missing/out.json", fx->dir);
	assert_int_equal(output_file_check(path), -ENOENT);
	assert_int_equal(output_file_check(fx->dir), -EISDIR);
	assert_int_equal(output_file_check(""), -EINVAL);
	/* an existing file is left as it was */
	f = fopen(fx->path, "w");
	assert_non_null(f);
	fputs("kept", f);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(output_file_check(fx->path), 0);
	assert_file_is(fx->path, "kept");
	assert_int_equal(dir_entries(fx->dir, NULL, 0), 1);
	if (geteuid()) {
		/* root writes anywhere: a read-only directory only stops others */
		assert_int_equal(chmod(fx->dir, 0500), 0);
		assert_int_equal(output_file_check(fx->path), -EACCES);
		assert_int_equal(chmod(fx->dir, 0700), 0);
	}
}

/*
 * A device or FIFO is written in place: renaming over /dev/null made it a
 * regular file for every process on the host.
 */
static void test_special_in_place(void **state)
{
	struct fx *fx = *state;
	struct output_file of;
	struct stat st;
	char buf[16] = { 0 };
	FILE *f;
	int rd;

	assert_int_equal(output_file_check("/dev/null"), 0);
	f = output_file_open("/dev/null", &of);
	assert_non_null(f);
	assert_true(fputs("gone", f) >= 0);
	assert_int_equal(output_file_commit(&of), 0);
	assert_int_equal(stat("/dev/null", &st), 0);
	assert_true(S_ISCHR(st.st_mode));

	assert_int_equal(mkfifo(fx->path, 0600), 0);
	/* checking a FIFO with no reader must not block */
	assert_int_equal(output_file_check(fx->path), 0);
	rd = open(fx->path, O_RDONLY | O_NONBLOCK);
	assert_true(rd >= 0);
	f = output_file_open(fx->path, &of);
	assert_non_null(f);
	assert_true(fputs("piped", f) >= 0);
	assert_int_equal(output_file_commit(&of), 0);
	assert_int_equal(read(rd, buf, sizeof(buf) - 1), 5);
	assert_string_equal(buf, "piped");
	close(rd);
	assert_int_equal(stat(fx->path, &st), 0);
	assert_true(S_ISFIFO(st.st_mode));
	assert_int_equal(dir_entries(fx->dir, NULL, 0), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_commit, setup, teardown),
		cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replace_and_keep, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rename_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open_failure, setup, teardown),
		cmocka_unit_test_setup_teardown(test_relative_path, setup, teardown),
		cmocka_unit_test(test_stdout),
		cmocka_unit_test_setup_teardown(test_check, setup, teardown),
		cmocka_unit_test_setup_teardown(test_special_in_place, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
