/* SPDX-License-Identifier: GPL-2.0 */
/* Stack records to frames: code objects to function/file/line, addresses to symbols. */
#ifndef PYMEM_SYMBOLIZE_H
#define PYMEM_SYMBOLIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "profile.h"
#include "pymem.h"
#include "pytarget.h"

struct symbolizer;

struct symbolizer_ops {
	/* the allocator entry point behind a stack record, and its DSO */
	const char *(*site_name)(enum pymem_site site);
	const char *(*site_dso)(void *arg, enum pymem_site site);
	/* is gen still the incarnation of the code object at code? */
	bool (*code_current)(void *arg, uint64_t code, uint32_t gen);
};

struct symbolizer *symbolizer_new(const struct pytarget *t, const struct symbolizer_ops *ops,
				  void *arg);
void symbolizer_free(struct symbolizer *s);

/*
 * Frames for r, root first, in a new array whose strings belong to the
 * symbolizer.  Returns the number of frames, or -ENOMEM.
 */
int symbolizer_stack(struct symbolizer *s, const struct stack_rec *r, struct pm_frame **out);

/* A code object as the BPF side took it when a walk first met it, then its line table. */
void symbolizer_code_news(struct symbolizer *s, const struct news_code *r);
void symbolizer_table_news(struct symbolizer *s, const struct news_table *t);

/* Python frames whose code object could not be read or had been replaced. */
uint64_t symbolizer_unknown_frames(const struct symbolizer *s);

#endif
