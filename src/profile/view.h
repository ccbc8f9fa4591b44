/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Views of a profile: filters, group-by, a size floor and inversion, in
 * the spirit of tracemalloc's Filter and Snapshot.statistics(group_by).
 */
#ifndef PYMEM_VIEW_H
#define PYMEM_VIEW_H

#include <argp.h>
#include <stdbool.h>
#include <stdint.h>
#include "profile.h"

#define VIEW_MAX_GLOBS 16

struct view_opts {
	enum {
		GROUP_TRACEBACK,	/* whole stacks (the default) */
		GROUP_FUNCTION,		/* "function (file:0)" of the leaf Python frame */
		GROUP_FILE,		/* "* (file:0)" of the leaf Python frame */
		GROUP_LINE,		/* the leaf Python frame, "function (file:line)" */
	} group_by;
	const char *include[VIEW_MAX_GLOBS];
	int ninclude;
	const char *exclude[VIEW_MAX_GLOBS];
	int nexclude;
	uint64_t min_size;
	bool inverted;
};

/*
 * argp child for --group-by, --include, --exclude, --min-size, --inverted.
 * Its input is the struct view_opts to fill, zeroed by the caller.  Wire it
 * in as a child and hand it the struct on ARGP_KEY_INIT:
 *
 *	static const struct argp_child children[] = {
 *		{ &view_argp, 0, "View options:", 0 },
 *		{},
 *	};
 *	...in the parent's parser:
 *	case ARGP_KEY_INIT:
 *		state->child_inputs[0] = &env.view_opts;
 *		break;
 *
 * Its keys are 0x200..0x204, long options only.
 */
extern const struct argp view_argp;

/* "4096", "64K", "1M", "2G" (powers of 1024, suffix case-insensitive). */
int view_parse_size(const char *s, uint64_t *out);

/* Nothing to do: view_apply() would leave the profile as it is. */
bool view_opts_empty(const struct view_opts *o);

/*
 * A glob matches a frame when fnmatch() accepts its file, its function, or
 * (Python frames, and only for a glob with ':') "file:line".
 */
bool view_frame_matches(const struct pm_frame *fr, const char *glob);

/* The leaf-most Python frame, else the leaf frame; NULL for no frames. */
const struct pm_frame *view_leaf_frame(const struct pm_frame *frames, size_t nframes);

/*
 * Rewrite @p in place, in this order:
 *  1. filters.  A glob matches a frame as view_frame_matches() says.  A stack matches
 *     when ANY of its frames does, Python or native (tracemalloc's
 *     all_frames=True).  With includes, a stack is kept only if it matches
 *     one of them; a stack matching any exclude is dropped.
 *  2. group-by: each stack becomes one frame taken from its leaf Python
 *     frame (see the enum); a stack with no Python frame keeps only its
 *     leaf native frame, whatever the grouping.  Equal groups merge.
 *  3. min-size: stacks whose value in @view is below min_size are dropped.
 *  4. inverted: frames run leaf first (for icicle / "who allocates" graphs).
 * Totals are recomputed; dropped[] and the metadata are left alone.
 * 0, or -ENOMEM with @p unchanged.
 */
int view_apply(struct pm_profile *p, const struct view_opts *o, enum pm_view view);
/*
 * view_apply() in two parts: every option but inversion, which the top
 * table (it names the leaf) and JSON (report and diff read it back root
 * first) need; then inversion, for a flame-graph format only (!json).
 */
int view_apply_root_first(struct pm_profile *p, const struct view_opts *o, enum pm_view view);
int view_invert(struct pm_profile *p, const struct view_opts *o, enum pm_view view, bool json);

#endif /* PYMEM_VIEW_H */
