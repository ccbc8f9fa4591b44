/* SPDX-License-Identifier: GPL-2.0 */
/*
 * `pymem-bpf diff BASE.json NEW.json`: what grew between two profiles, by
 * stack and by line, in the manner of tracemalloc's Snapshot.compare_to().
 */
#ifndef PYMEM_DIFF_H
#define PYMEM_DIFF_H

#include <stdint.h>
#include "profile.h"

struct diff_row {
	const struct pm_frame *frames;	/* borrowed from the base or the new profile */
	size_t nframes;
	struct pm_counts base;
	struct pm_counts new;
};

struct diff_table {
	struct diff_row *rows;
	size_t nrows;
};

/* One row per distinct stack of either profile, ordered by frames.  0 or -ENOMEM. */
int diff_by_stack(const struct pm_profile *base, const struct pm_profile *new,
		  struct diff_table *t);
/*
 * @stacks collapsed by leaf Python frame (function, file, line), or by leaf
 * native frame for stacks without one; every row has one frame.  @t
 * borrows the frames of @stacks' profiles.  0 or -ENOMEM.
 */
int diff_by_line(const struct diff_table *stacks, struct diff_table *t);
/* NEW - BASE of a view's counter. */
int64_t diff_value(const struct diff_row *r, enum pm_view view);
/* Largest |diff_value()| first; ties by frames, so the order is stable. */
void diff_sort(struct diff_table *t, enum pm_view view);
/*
 * The growth profile: every counter of every stack is NEW - BASE clamped at
 * 0, stacks that did not grow at all are left out.  Metadata and dropped
 * counters are the new profile's.  @out must be zeroed.  0 or -ENOMEM.
 */
int diff_growth(const struct diff_table *stacks, const struct pm_profile *new,
		struct pm_profile *out);
void diff_table_free(struct diff_table *t);

int diff_main(int argc, char **argv);

#endif /* PYMEM_DIFF_H */
