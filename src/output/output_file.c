// SPDX-License-Identifier: GPL-2.0
/*
 * Atomic output files.  The temporary lives in the target's directory so
 * that rename() stays on one filesystem and is atomic; a crash or failed
 * run leaves at most a hidden ".NAME.XXXXXX" behind, never a torn NAME.
 * A path that is there and is no regular file (/dev/null, a FIFO, a
 * terminal) is written in place: renaming over it would replace the
 * device node with a file.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "output_file.h"

/* stdout, or a device or FIFO: written in place, nothing to rename */
static bool in_place(const struct output_file *of)
{
	return of->f && !of->tmp;
}

static bool is_special(const char *path)
{
	struct stat st;

	return !stat(path, &st) && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode);
}

static void of_reset(struct output_file *of)
{
	free(of->path);
	free(of->tmp);
	memset(of, 0, sizeof(*of));
}

/* "dir/name" -> "dir/.name.XXXXXX" */
static char *tmp_name(const char *path)
{
	const char *slash = strrchr(path, '/');
	int dirlen = slash ? slash - path + 1 : 0;
	char *tmp;

	if (asprintf(&tmp, "%.*s.%s.XXXXXX", dirlen, path, path + dirlen) < 0)
		return NULL;
	return tmp;
}

FILE *output_file_open(const char *path, struct output_file *of)
{
	int fd = -1, err;

	memset(of, 0, sizeof(*of));
	if (!path || !*path) {
		errno = EINVAL;
		return NULL;
	}
	if (!strcmp(path, "-")) {
		of->f = stdout;
		return of->f;
	}
	if (is_special(path)) {
		of->f = fopen(path, "w");
		return of->f;
	}
	of->path = strdup(path);
	of->tmp = tmp_name(path);
	if (!of->path || !of->tmp) {
		err = ENOMEM;
		goto fail;
	}
	fd = mkstemp(of->tmp);
	if (fd < 0) {
		err = errno;
		goto fail;
	}
	/* mkstemp creates 0600; outputs are meant to be shared like any file. */
	if (fchmod(fd, 0644) || !(of->f = fdopen(fd, "w"))) {
		err = errno;
		close(fd);
		unlink(of->tmp);
		goto fail;
	}
	return of->f;
fail:
	of_reset(of);
	errno = err;
	return NULL;
}

int output_file_check(const char *path)
{
	struct output_file of;
	struct stat st;

	/* the temporary would be made inside it, and the rename fail at the end */
	if (path && !stat(path, &st) && S_ISDIR(st.st_mode))
		return -EISDIR;
	/* opening a FIFO would wait for its reader */
	if (path && is_special(path))
		return access(path, W_OK) ? -errno : 0;
	if (!output_file_open(path, &of))
		return -errno;
	output_file_abort(&of);
	return 0;
}

int output_file_commit(struct output_file *of)
{
	int err = 0;

	if (!of->f)
		return -EINVAL;
	if (in_place(of)) {
		if (fflush(of->f))
			err = -errno;
		else if (ferror(of->f))
			err = -EIO;
		if (of->f != stdout && fclose(of->f) && !err)
			err = -errno;
		of_reset(of);
		return err;
	}
	/* fclose() flushes; a write error seen earlier still sets ferror. */
	if (ferror(of->f))
		err = -EIO;
	if (fclose(of->f) && !err)
		err = -errno;
	of->f = NULL;
	if (!err && rename(of->tmp, of->path))
		err = -errno;
	if (err)
		unlink(of->tmp);
	of_reset(of);
	return err;
}

void output_file_abort(struct output_file *of)
{
	if (!of->f)
		return;
	if (of->f != stdout)
		fclose(of->f);
	if (of->tmp)
		unlink(of->tmp);
	of_reset(of);
}
