/* SPDX-License-Identifier: GPL-2.0 */
/* Stack records to frames: code objects to function/file/line, addresses to symbols. */
#ifndef PYMEM_SYMBOLIZE_H
#define PYMEM_SYMBOLIZE_H

#include <stddef.h>
#include <stdint.h>
#include "profile.h"
#include "pymem.h"
#include "pytarget.h"

struct symbolizer;

/* site_name/site_dso name the allocator entry point behind a stack record. */
struct symbolizer *symbolizer_new(const struct pytarget *t,
				  const char *(*site_name)(enum pymem_site),
				  const char *(*site_dso)(void *arg, enum pymem_site), void *arg);
void symbolizer_free(struct symbolizer *s);

/*
 * Frames for r, root first, in a new array whose strings belong to the
 * symbolizer.  Returns the number of frames, or -ENOMEM.
 */
int symbolizer_stack(struct symbolizer *s, const struct stack_rec *r, struct pm_frame **out);

/* Python frames whose code object could not be read or had been replaced. */
uint64_t symbolizer_unknown_frames(const struct symbolizer *s);

#endif
