/* SPDX-License-Identifier: GPL-2.0 */
/* speedscope's JSON file format (https://www.speedscope.app/file-format-schema.json). */
#ifndef PYMEM_OUTPUT_SPEEDSCOPE_H
#define PYMEM_OUTPUT_SPEEDSCOPE_H

#include <stdio.h>
#include "profile.h"

#define OUTPUT_SPEEDSCOPE_SCHEMA	"https://www.speedscope.app/file-format-schema.json"

/*
 * One "sampled" profile per view: live bytes, live objects, alloc bytes,
 * alloc objects, then peak bytes when any stack has a peak value.  Each
 * sample is a stack (frame indices, root first) weighted by the view's
 * value; stacks whose value is zero are left out of that profile.  Frames
 * are shared: Python frames are named by function with file and line,
 * native ones "symbol [dso]".  Non-zero drop counters are listed in the
 * file's name, which speedscope shows in its title.  0 or -errno.
 */
int output_speedscope_write(const struct pm_profile *p, FILE *f);

#endif
