/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Which frame a table row names.  The leaf Python frame is where the bytes
 * were asked for, but when it is json's decoder or importlib's bootstrap,
 * the line to fix is the user's own code that called it: tracemalloc users
 * filter those frames by hand to find it.
 */
#ifndef PYMEM_WHERE_H
#define PYMEM_WHERE_H

#include <stddef.h>
#include "profile.h"

struct where_rule {
	enum {
		WHERE_USER,	/* the default: past the standard library and <frozen ...> */
		WHERE_LEAF,	/* the leaf Python frame only */
		WHERE_GLOB,	/* past frames matching glob (view_frame_matches()) */
	} kind;
	const char *glob;	/* WHERE_GLOB only; borrowed */
};

/* "user", "leaf" or a GLOB.  0, or -EINVAL for an empty one. */
int where_parse(const char *arg, struct where_rule *r);

/* A file of the standard library: "<frozen ...>" or under lib/python3.N/, not its site-packages. */
bool where_in_stdlib(const char *file);

/*
 * The frame named besides the leaf: the Python frame nearest the leaf that
 * the rule does not pass over, when the leaf Python frame is one it does.
 * NULL when the leaf is the answer (or no frame is outside).
 */
const struct pm_frame *where_caller(const struct pm_frame *frames, size_t nframes,
				    const struct where_rule *r);

/* The frame a row is about: where_caller(), else the leaf Python frame, else the leaf. */
const struct pm_frame *where_frame(const struct pm_frame *frames, size_t nframes,
				   const struct where_rule *r);

/*
 * One frame's label, on one line; under WHERE_USER a standard library file
 * is shown from its package ("json/decoder.py").  malloc'd; NULL without memory.
 */
char *where_label(const struct pm_frame *fr, const struct where_rule *r);

/*
 * The WHERE text of a stack: the leaf's label, or "caller -> leaf" ("caller
 * -> ... -> leaf" when frames lie between).  malloc'd; NULL without memory.
 */
char *where_text(const struct pm_frame *frames, size_t nframes, const struct where_rule *r);

#endif /* PYMEM_WHERE_H */
