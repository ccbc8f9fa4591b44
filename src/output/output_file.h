/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Output files that appear whole or not at all: written to a temporary
 * file beside the target and renamed over it on commit.
 */
#ifndef PYMEM_OUTPUT_FILE_H
#define PYMEM_OUTPUT_FILE_H

#include <stdbool.h>
#include <stdio.h>

struct output_file {
	FILE *f;
	char *path;		/* final name */
	char *tmp;		/* temporary name; NULL for stdout, a device or a FIFO */
};

/*
 * Open a temporary file (mode 0644) in @path's directory; "-" is stdout,
 * and a device or FIFO already there is opened as it is.
 * Returns the stream to write, or NULL with errno set.
 */
FILE *output_file_open(const char *path, struct output_file *of);
/*
 * Can @path be created?  A temporary is made beside it and removed, so a
 * long session finds out before it starts.  "-" always can.  0 or -errno.
 */
int output_file_check(const char *path);
/* Flush, close and rename into place.  0 or -errno; the temp is gone either way. */
int output_file_commit(struct output_file *of);
/* Close and remove the temporary file; the target is left untouched. */
void output_file_abort(struct output_file *of);

#endif /* PYMEM_OUTPUT_FILE_H */
