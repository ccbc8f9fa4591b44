// SPDX-License-Identifier: GPL-2.0
/* Views of a profile: filter, group, floor and invert its stacks. */
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli_args.h"
#include "view.h"

enum {
	OPT_GROUP_BY = 0x200,
	OPT_INCLUDE,
	OPT_EXCLUDE,
	OPT_MIN_SIZE,
	OPT_INVERTED,
};

static const char *const group_names[] = {
	[GROUP_TRACEBACK]	= "traceback",
	[GROUP_FUNCTION]	= "function",
	[GROUP_FILE]		= "file",
	[GROUP_LINE]		= "line",
};

#define NGROUPS (sizeof(group_names) / sizeof(group_names[0]))

static const struct argp_option view_options[] = {
	{ "group-by", OPT_GROUP_BY, "KEY", 0,
	  "traceback (default), or function, file or line of the leaf Python frame", 0 },
	{ "include", OPT_INCLUDE, "GLOB", 0,
	  "Keep only stacks with a frame whose file, function or file:line matches GLOB "
	  "(repeatable)", 0 },
	{ "exclude", OPT_EXCLUDE, "GLOB", 0, "Drop stacks with a frame matching GLOB (repeatable)",
	  0 },
	{ "min-size", OPT_MIN_SIZE, "N", 0,
	  "Drop rows below N in the view, after grouping (suffixes K, M, G: powers of 1024)", 0 },
	{ "inverted", OPT_INVERTED, NULL, 0, "Stacks leaf first (inverted flame graph)", 0 },
	{},
};

int view_parse_size(const char *s, uint64_t *out)
{
	unsigned long long v;
	unsigned int shift = 0;
	char *end;

	if (!s || *s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -EINVAL;
	switch (*end) {
	case 'k': case 'K':
		shift = 10;
		end++;
		break;
	case 'm': case 'M':
		shift = 20;
		end++;
		break;
	case 'g': case 'G':
		shift = 30;
		end++;
		break;
	}
	if (*end || (shift && v > UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

static int add_glob(const char **globs, int *n, const char *arg)
{
	if (*n >= VIEW_MAX_GLOBS)
		return -E2BIG;
	globs[(*n)++] = arg;
	return 0;
}

/* arg_fail() returns under ARGP_NO_EXIT, so the caller must stop there too. */
static error_t bad_arg(struct argp_state *state, const char *what, const char *arg)
{
	arg_fail(state, "%s: %s", what, arg);
	return EINVAL;
}

static error_t view_parse_opt(int key, char *arg, struct argp_state *state)
{
	struct view_opts *o = state->input;
	size_t i;

	if (key < OPT_GROUP_BY || key > OPT_INVERTED)
		return ARGP_ERR_UNKNOWN;
	if (!o)
		return bad_arg(state, "internal error: no struct view_opts for", state->name);
	switch (key) {
	case OPT_GROUP_BY:
		for (i = 0; i < NGROUPS; i++)
			if (!strcmp(arg, group_names[i]))
				break;
		if (i == NGROUPS)
			return bad_arg(state, "unknown --group-by (traceback, function, file, line)",
				       arg);
		o->group_by = i;
		break;
	case OPT_INCLUDE:
		if (add_glob(o->include, &o->ninclude, arg))
			return bad_arg(state, "too many --include (16 at most)", arg);
		break;
	case OPT_EXCLUDE:
		if (add_glob(o->exclude, &o->nexclude, arg))
			return bad_arg(state, "too many --exclude (16 at most)", arg);
		break;
	case OPT_MIN_SIZE:
		if (view_parse_size(arg, &o->min_size))
			return bad_arg(state, "invalid --min-size (e.g. 4096, 64K, 1M)", arg);
		break;
	case OPT_INVERTED:
		o->inverted = true;
		break;
	}
	return 0;
}

const struct argp view_argp = { .options = view_options, .parser = view_parse_opt };

bool view_opts_empty(const struct view_opts *o)
{
	return o->group_by == GROUP_TRACEBACK && !o->ninclude && !o->nexclude &&
	       !o->min_size && !o->inverted;
}

const struct pm_frame *view_leaf_frame(const struct pm_frame *frames, size_t nframes)
{
	size_t i;

	for (i = nframes; i > 0; i--)
		if (frames[i - 1].kind == PM_FRAME_PYTHON)
			return &frames[i - 1];
	return nframes ? &frames[nframes - 1] : NULL;
}

static const char *str_or_empty(const char *s)
{
	return s ? s : "";
}

bool view_frame_matches(const struct pm_frame *fr, const char *glob)
{
	char buf[4096];
	int n;

	if (!fnmatch(glob, str_or_empty(fr->function), 0) ||
	    !fnmatch(glob, str_or_empty(fr->file), 0))
		return true;
	/* Only a glob with ':' asks about lines: "*2" must not pick line 12. */
	if (fr->kind != PM_FRAME_PYTHON || !strchr(glob, ':'))
		return false;
	n = snprintf(buf, sizeof(buf), "%s:%d", str_or_empty(fr->file), fr->line);
	return n >= 0 && (size_t)n < sizeof(buf) && !fnmatch(glob, buf, 0);
}

static bool stack_matches(const struct pm_stack *s, const char *const *globs, int nglobs)
{
	size_t i;
	int g;

	for (i = 0; i < s->nframes; i++)
		for (g = 0; g < nglobs; g++)
			if (view_frame_matches(&s->frames[i], globs[g]))
				return true;
	return false;
}

static bool stack_kept(const struct pm_stack *s, const struct view_opts *o)
{
	if (o->ninclude && !stack_matches(s, o->include, o->ninclude))
		return false;
	return !(o->nexclude && stack_matches(s, o->exclude, o->nexclude));
}

/* Add @s to @out, collapsed to its one-frame group unless grouping by traceback. */
static int add_grouped(struct pm_profile *out, const struct pm_stack *s, int group_by)
{
	const struct pm_frame *leaf;
	struct pm_frame one;

	if (group_by == GROUP_TRACEBACK)
		return pm_profile_add_stack(out, s->frames, s->nframes, s);
	leaf = view_leaf_frame(s->frames, s->nframes);
	if (!leaf)
		return pm_profile_add_stack(out, NULL, 0, s);
	one = *leaf;
	if (leaf->kind == PM_FRAME_PYTHON && group_by != GROUP_LINE) {
		one.line = 0;
		if (group_by == GROUP_FILE)
			one.function = "*";
	}
	return pm_profile_add_stack(out, &one, 1, s);
}

static int add_reversed(struct pm_profile *out, const struct pm_stack *s,
			struct pm_frame **buf, size_t *cap)
{
	struct pm_frame *b = *buf;
	size_t i;

	if (s->nframes > *cap) {
		b = realloc(b, s->nframes * sizeof(*b));
		if (!b)
			return -ENOMEM;
		*buf = b;
		*cap = s->nframes;
	}
	for (i = 0; i < s->nframes; i++)
		b[i] = s->frames[s->nframes - 1 - i];
	return pm_profile_add_stack(out, b, s->nframes, s);
}

/* Steps 1 and 2 of view_apply(): @out gets the kept stacks, grouped. */
static int filter_group(const struct pm_profile *in, const struct view_opts *o,
			struct pm_profile *out)
{
	size_t i;
	int err;

	for (i = 0; i < in->nstacks; i++) {
		if (!stack_kept(&in->stacks[i], o))
			continue;
		err = add_grouped(out, &in->stacks[i], o->group_by);
		if (err)
			return err;
	}
	return 0;
}

/* Steps 3 and 4: the size floor, then inversion. */
static int floor_invert(const struct pm_profile *in, const struct view_opts *o,
			enum pm_view view, struct pm_profile *out)
{
	struct pm_frame *buf = NULL;
	size_t i, cap = 0;
	int err = 0;

	for (i = 0; i < in->nstacks && !err; i++) {
		const struct pm_stack *s = &in->stacks[i];

		if (pm_view_value(&s->c, view) < o->min_size)
			continue;
		if (o->inverted)
			err = add_reversed(out, s, &buf, &cap);
		else
			err = pm_profile_add_stack(out, s->frames, s->nframes, s);
	}
	free(buf);
	return err;
}

/* Give @p the stacks of @np and @np the old ones, to be freed with it. */
static void swap_stacks(struct pm_profile *p, struct pm_profile *np)
{
	struct pm_profile tmp = *p;

	p->nstacks = np->nstacks;
	p->cap = np->cap;
	p->stacks = np->stacks;
	p->index = np->index;
	np->nstacks = tmp.nstacks;
	np->cap = tmp.cap;
	np->stacks = tmp.stacks;
	np->index = tmp.index;
}

int view_apply_root_first(struct pm_profile *p, const struct view_opts *o, enum pm_view view)
{
	struct view_opts root_first = *o;

	root_first.inverted = false;
	return view_apply(p, &root_first, view);
}

int view_invert(struct pm_profile *p, const struct view_opts *o, enum pm_view view, bool json)
{
	static const struct view_opts invert = { .inverted = true };

	return o->inverted && !json ? view_apply(p, &invert, view) : 0;
}

int view_apply(struct pm_profile *p, const struct view_opts *o, enum pm_view view)
{
	struct pm_profile grouped = {}, floored = {};
	int err = 0;

	if (view_opts_empty(o))
		return 0;
	err = filter_group(p, o, &grouped);
	if (err)
		goto out;
	if (o->min_size || o->inverted) {
		err = floor_invert(&grouped, o, view, &floored);
		if (err)
			goto out;
		swap_stacks(&grouped, &floored);
	}
	swap_stacks(p, &grouped);
	pm_profile_sum(p);
out:
	pm_profile_free(&grouped);
	pm_profile_free(&floored);
	return err;
}
