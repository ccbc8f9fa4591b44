/* SPDX-License-Identifier: GPL-2.0 */
/* The JSON profile: the stable format other tools read (see output_json.c). */
#ifndef PYMEM_OUTPUT_JSON_H
#define PYMEM_OUTPUT_JSON_H

#include <stdio.h>
#include "profile.h"

/* Write @p, stacks ordered by live bytes, largest first.  0 or -errno. */
int output_json_write(const struct pm_profile *p, FILE *f);
/*
 * Load a file written by output_json_write() into @p, which is
 * overwritten (not freed first).  On error @p is left empty.  0 or -errno:
 * -EINVAL for a malformed file.
 */
int output_json_read(FILE *f, struct pm_profile *p);

#endif /* PYMEM_OUTPUT_JSON_H */
